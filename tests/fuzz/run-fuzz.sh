#!/bin/sh
# run-fuzz.sh FUZZER SRCDIR WORKDIR SECONDS: the `fuzz` test suite.
#
# 1. Replays every seed (SRCDIR/corpus) and every kept reproducer
#    (SRCDIR/crashers) once, each as its own input.
# 2. Fuzzes for SECONDS (GAIO_FUZZ_SECONDS overrides it) from the seeds,
#    writing new inputs to WORKDIR/corpus and crashes to WORKDIR/artifacts,
#    never into the source tree. libFuzzer ends with "Done N runs in S
#    second(s)".
set -eu
# libFuzzer's default exit code for a failure is 77, which meson reads as
# "skipped": a failing input would pass unnoticed. Every failure exits 1.

fuzzer=$1
srcdir=$2
workdir=$3
seconds=${GAIO_FUZZ_SECONDS:-$4}

mkdir -p "$workdir/corpus" "$workdir/artifacts"

echo "# replaying the seed corpus and the kept crashers"
set --
for f in "$srcdir"/corpus/* "$srcdir"/crashers/*; do
    [ -f "$f" ] && set -- "$@" "$f"
done
"$fuzzer" -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$workdir/artifacts/" "$@"

echo "# fuzzing for $seconds s"
exec "$fuzzer" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=512 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -print_final_stats=1 -artifact_prefix="$workdir/artifacts/" \
    "$workdir/corpus" "$srcdir/corpus"
