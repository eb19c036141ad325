#!/usr/bin/env bash
# run-pool.sh: model-checks tests/model/pool.pml (the thread pool's request
# protocol) with Spin; TAP output.
#
#   run-pool.sh [MODEL [GAIO_SRC_DIR]]
#
# Each configuration is one exhaustive run (pan with -DSAFETY): "pass" ones
# must find no error; "fail" ones are deliberately broken variants, and Spin
# must report the assertion named. Then every "Model: tests/model/pool.pml
# @tag" in gaio/ must be a tag of the model.
#
# Environment: SPIN, CC (default spin, cc).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
model=${1:-$here/pool.pml}
src=${2:-$here/../../gaio}
spin=${SPIN:-spin}
cc=${CC:-cc}

# pass|fail; name; defines; (fail only) the violated assertion, a regex
CONFIGS=(
  "pass;deliver;"
  "pass;finalize;-DFINALIZE"
  "fail;finalize-without-waiting-for-cancels;-DFINALIZE -DBROKEN_NO_WAIT_CANCELS;!\\(drained\\)"
  "fail;one-reference;-DBROKEN_ONE_REF;!\\(freed\\)"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
echo "1..$((${#CONFIGS[@]} + 1))"
for config in "${CONFIGS[@]}"; do
    IFS=';' read -r kind name defines expect <<< "$config"
    n=$((n + 1))
    dir="$tmp/$n"
    mkdir -p "$dir"
    cp "$model" "$dir/pool.pml"
    # shellcheck disable=SC2086
    if ! (cd "$dir" && "$spin" $defines -a pool.pml > spin.log 2>&1 &&
          $cc -O2 -w -DSAFETY -o pan pan.c > cc.log 2>&1 &&
          ./pan -m100000 > out 2>&1); then
        :
    fi
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/out" | head -1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/out" | head -1)
    if [ -z "$errors" ]; then
        echo "not ok $n - $kind $name: spin or pan did not run"; failed=1
        sed 's/^/# /' "$dir"/spin.log "$dir"/cc.log "$dir"/out 2> /dev/null | head -20
    elif [ "$kind" = pass ] && [ "$errors" = 0 ]; then
        echo "ok $n - pass $name ($states states, 0 errors)"
    elif [ "$kind" = fail ] && [ "$errors" != 0 ] &&
         grep -qE "assertion violated +$expect" "$dir/out"; then
        echo "ok $n - fail $name: $(grep -m1 -oE 'assertion violated.*' "$dir/out")"
    else
        echo "not ok $n - $kind $name ($errors errors)"; failed=1
        sed 's/^/# /' "$dir/out" | head -20
    fi
done

# The C names only tags the model has.
n=$((n + 1))
missing=""
for tag in $(grep -rhoE 'Model: tests/model/pool\.pml[^*]*' "$src" | grep -oE '@[a-z0-9_]+' | sort -u); do
    grep -q -- "$tag\\b" "$model" || missing="$missing $tag"
done
if [ -z "$missing" ]; then
    echo "ok $n - every pool.pml tag named in gaio/ exists in the model"
else
    echo "not ok $n - tags named in gaio/ but not in the model:$missing"; failed=1
fi
exit $failed
