#!/usr/bin/env bash
# run-spin.sh: model-checks tests/model/gaio.pml with Spin; TAP output.
#
#   run-spin.sh [MODEL [GAIO_SRC_DIR]]
#
# Each line of CONFIGS below is one exhaustive Spin run (pan compiled with
# -DSAFETY -DCOLLAPSE: assertions and invalid end states, full state space):
#   pass  the model of gaio as implemented (BH words with holds and ORPHAN,
#         notify_me bits ARMED|LONG|GAP, sleeping on a gap, the GSource's
#         reclaim), over one family of races (the producers' menus
#         MENU0/MENU1, their numbers of operations NOPS0/NOPS1, the owner's
#         style and the options of gaio.pml): 0 errors, and the search must be
#         complete. The properties: no lost wakeup (normal BHs, aio_notify(),
#         a gap's link, idle BHs past the idle bound), no busy-wait on a gap,
#         no use after free by any producer step (a callback deleting its own
#         BH while producers schedule it), the pending periods, FIFO pops;
#   fail  a deliberately broken variant (-DBROKEN_x) of a pass configuration,
#         most of them earlier protocols: Spin must report an error, the
#         property it names must be the one expected, and the pass
#         configuration it derives from must pass (so the error is the
#         variant's).
# Then every "Model: tests/model/gaio.pml @tag" named in gaio/ must be a tag of
# the model (a comment "@tag" in it), so the C and the model stay in step.
#
# Environment: SPIN, CC (default spin, cc); SPIN_JOBS parallel runs (default 2);
# SPIN_MEMLIM megabytes per run (default 1800); SPIN_DEFINES added to every
# run (e.g. -DWEAK).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
model=${1:-$here/gaio.pml}
src=${2:-$here/../../gaio}
spin=${SPIN:-spin}
cc=${CC:-cc}
jobs=${SPIN_JOBS:-2}
memlim=${SPIN_MEMLIM:-1800}
extra=${SPIN_DEFINES:-}

# pass; name; spin defines
# fail; name; property that must fail (a regex); base pass configuration;
#       defines added to the base's
CONFIGS=(
  # Both producers schedule, schedule_idle and cancel BH 1 (producer 1 does
  # one operation): once with blocking aio_poll() only, once with the
  # GSource only.
  "pass;same-bh-races-aio-poll;-DMENU0=7 -DMENU1=7 -DNOPS1=1 -DAIO_POLL_ONLY"
  "pass;same-bh-races-gsource;-DMENU0=7 -DMENU1=7 -DNOPS1=1 -DGSOURCE_ONLY"
  # Producer 0 schedules BH 2, whose callback reschedules it; producer 1
  # schedules BH 3 idle and deletes it (a push that wakes a gap sleeper only).
  "pass;own-bhs-gap-delete-callback;-DMENU0=8 -DMENU1=48 -DNOPS0=1"
  # aio_notify(), cancel, and a delete of a BH that may be pending normal.
  "pass;notify-cancel-delete;-DMENU0=37 -DMENU1=41 -DNOPS0=1 -DAIO_POLL_ONLY"
  # The relaxed loads of notified / notify_me and accept's pre-check, stale.
  "pass;weak-reads;-DWEAK -DMENU0=33 -DMENU1=1 -DNOPS1=1 -DAIO_POLL_ONLY"
  # GLib skipping check and dispatch (a higher-priority source), and
  # non-blocking aio_poll() calls.
  "pass;glib-skip-nonblocking;-DGLIB_SKIP -DNONBLOCKING -DMENU0=1 -DMENU1=17 -DNOPS=1"
  # BH 1's callback deletes BH 1 while both producers schedule it, normal
  # and idle (one operation each): holds, ORPHAN, the pass and the
  # reclaim freeing it.
  "pass;callback-deletes-own-bh;-DCB_DELETE -DMENU0=3 -DMENU1=3 -DNOPS=1"
  "fail;broken-no-fc;no_lost_wakeup;notify-cancel-delete;-DBROKEN_NO_FC"
  "fail;broken-no-linking;no_lost_wakeup;own-bhs-gap-delete-callback;-DBROKEN_NO_LINKING"
  "fail;broken-no-notified;no_lost_(wakeup|notify);notify-cancel-delete;-DBROKEN_NO_NOTIFIED"
  "fail;broken-producer-order;no_lost_wakeup;notify-cancel-delete;-DBROKEN_PRODUCER_ORDER"
  "fail;broken-delete-split;no_use_after_free;own-bhs-gap-delete-callback;-DBROKEN_DELETE_SPLIT"
  "fail;broken-push-on-kind;not_queued_twice;notify-cancel-delete;-DBROKEN_PUSH_ON_KIND"
  "fail;broken-late-clear;coalesced_into_pending;notify-cancel-delete;-DBROKEN_LATE_CLEAR"
  "fail;broken-no-hold;no_use_after_free;callback-deletes-own-bh;-DBROKEN_NO_HOLD"
  # Coalescing as a no-op RMW before the hold (the first version of holds):
  # when the BH stopped being pending in between, the hold came too late.
  "fail;broken-coalesce-unheld;no_use_after_free;callback-deletes-own-bh;-DBROKEN_COALESCE_UNHELD"
  # (producer 0 may also schedule BH 2 idle: an owner sleeping with the idle
  # bound, which an idle push does not wake)
  "fail;broken-idle-no-recheck;no_lost_wakeup;same-bh-races-aio-poll;-DBROKEN_IDLE_NO_RECHECK -UMENU0 -DMENU0=23"
  "fail;broken-no-gap-wake;no_lost_wakeup;notify-cancel-delete;-DBROKEN_NO_GAP_WAKE"
  "fail;broken-spin-on-gap;no_busy_wait_on_gap;same-bh-races-aio-poll;-DBROKEN_SPIN_ON_GAP"
  "fail;broken-idle-no-wake;no_lost_idle_wakeup;same-bh-races-aio-poll;-DBROKEN_IDLE_NO_WAKE"
)

if ! command -v "$spin" > /dev/null; then
    echo "1..0 # SKIP spin not found"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify DIR OPT DEFINES...: spin -a, compile pan with OPT (-O2 for a full
# search; -O0 compiles 6 times faster, for a variant that fails early), run;
# leaves DIR/out (pan's report) and DIR/trail.txt (the error trail, if any).
verify() {
    local dir=$1 opt=$2
    shift 2
    mkdir -p "$dir"
    cp "$model" "$dir/gaio.pml"
    # shellcheck disable=SC2086
    set -- "$@" $extra
    (
        cd "$dir" || exit 1
        "$spin" "$@" -a gaio.pml > spin.log 2>&1 || { cat spin.log > out; exit 1; }
        $cc "$opt" -w -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c > cc.log 2>&1 ||
            { cat cc.log > out; exit 1; }
        ./pan -m300000 -w25 > out 2>&1
        # The error trail, readable, for the report.
        if [ -f gaio.pml.trail ]; then
            # Shared-state steps only: the owner's locals make it long.
            "$spin" "$@" -t -p gaio.pml 2>&1 | grep -E '^ *[0-9]+:' |
                grep -E 'flags\[|last|next\[|notif|efd|first =|pdone|freed\[|op = [1-9]|b = [1-9]' |
                grep -v 'no_use_after_free =' |
                sed 's/(state [0-9]*)//; s/ *gaio.pml:/ line /' > trail.txt
        fi
        rm -f pan pan.* 2> /dev/null
        true
    )
}

# summary DIR: one line of figures from pan's report.
summary() {
    local out=$1/out
    local states depth mem secs
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -1)
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -1)
    mem=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' "$out" | head -1)
    secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$out" | head -1)
    echo "states ${states:-?}, depth ${depth:-?}, memory ${mem:-?} MB, ${secs:-?} s"
}

errors_of() {
    sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$1/out" | head -1
}

# incomplete DIR: the search was cut short (memory, depth).
incomplete() {
    grep -Eq 'out of memory|max search depth too small|Search not completed' "$1/out"
}

# launch DIR DEFINES...: verify in the background, SPIN_JOBS at a time.
launch() {
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    verify "$@" &
}

declare -A defines_of
i=0
for line in "${CONFIGS[@]}"; do
    i=$((i + 1))
    IFS=';' read -r expect name a b c <<< "$line"
    if [ "$expect" = pass ]; then
        defines_of[$name]=$a
        # shellcheck disable=SC2086
        launch "$tmp/$i" -O2 $a
    else
        # shellcheck disable=SC2086
        launch "$tmp/$i" -O0 ${defines_of[$b]} $c
    fi
done
wait

declare -A result_of
echo "1..$((${#CONFIGS[@]} + 1))"
n=0
for line in "${CONFIGS[@]}"; do
    n=$((n + 1))
    IFS=';' read -r expect name a b c <<< "$line"
    dir=$tmp/$n
    errs=$(errors_of "$dir")
    if [ "$expect" = pass ]; then
        echo "# $name ($a): $(summary "$dir"), errors ${errs:-?}"
        if [ "${errs:-x}" = 0 ] && ! incomplete "$dir"; then
            result_of[$name]=ok
            echo "ok $n - model/$name: no error in the full state space"
        else
            result_of[$name]=failed
            sed 's/^/#   /' "$dir/out" | grep -E 'pan:|error|memory|depth' | head -10
            if [ -f "$dir/trail.txt" ]; then
                echo "#   trail (last steps):"
                sed 's/^/#   /' "$dir/trail.txt"
            fi
            echo "not ok $n - model/$name: Spin found an error or did not finish"
        fi
    else
        echo "# $name ($c on $b): $(summary "$dir"), errors ${errs:-?}"
        if [ "${errs:-0}" -ge 1 ] && grep -Eq "assertion violated ($a)\b" "$dir/out" &&
           [ "${result_of[$b]:-}" = ok ]; then
            echo "#   $(grep -m1 'assertion violated' "$dir/out")"
            echo "ok $n - model/$name: Spin rejects it ($a)"
        else
            sed 's/^/#   /' "$dir/out" | grep -E 'pan:|error' | head -10
            echo "not ok $n - model/$name: expected Spin to fail $a, and $b to pass"
        fi
    fi
done

# The C names model steps by tag: each must exist in the model.
n=$((n + 1))
missing=""
count=0
# shellcheck disable=SC2013
for tag in $(grep -rhoE 'Model: tests/model/gaio\.pml[^*]*' "$src" | grep -oE '@[a-z0-9_]+' | sort -u); do
    count=$((count + 1))
    grep -q -- "$tag\b" "$model" || missing="$missing $tag"
done
if [ "$count" -gt 0 ] && [ -z "$missing" ]; then
    echo "ok $n - model/tags: the $count model steps named in gaio/ exist in the model"
else
    echo "not ok $n - model/tags: ${missing:-no model tag named in $src}"
fi
