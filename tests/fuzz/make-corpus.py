#!/usr/bin/env python3
"""make-corpus.py: writes the seed corpus of fuzz-bh (tests/fuzz/corpus/).

Each seed is a small scenario in the input format fuzz-bh.c decodes; the
numbers below must match FuzzOpCode, BhActionKind and BhPollMode there and in
bh-model.h. Run it from anywhere: python3 tests/fuzz/make-corpus.py
"""
import os

NEW, SCHED, IDLE, CANCEL, DELETE, ONESHOT, SET, POLL, ITER, TIMEOUT, NOTIFY = range(11)
A_NOTHING, A_SCHED, A_IDLE, A_CANCEL, A_DELETE, A_ONESHOT, A_POLL, A_ITER, A_TIMEOUT, A_NOTIFY = range(10)
NONBLOCKING, BLOCKING, BH_POLL = range(3)
T_0, T_1, T_9, T_10, T_11, T_1000, T_MAXM1, T_MAX = range(8)


def header(slots, attached=True, drain=True):
    return [(slots - 1) | (0 if attached else 8) | (0 if drain else 16)]


def act(slot, idx, kind, arg=0):
    """Slot's action number idx: kind with target/mode arg."""
    return [SET, slot | idx << 3, kind | arg << 4]


def ops(*items):
    out = []
    for it in items:
        out += it if isinstance(it, list) else [it]
    return out


def sched(*slots):
    return ops(*[[SCHED, s] for s in slots])


def poll(mode=NONBLOCKING, times=1):
    return [POLL, mode] * times


SEEDS = {
    # B4, B6: FIFO order, aio_poll's return value.
    "fifo": header(3) + sched(2, 0, 1) + poll() + poll(),
    # B2: repeated schedules coalesce, idle on pending normal stays normal.
    "coalesce": header(2) + sched(0, 0, 1, 0) + [IDLE, 0] + poll(BH_POLL) + poll(BH_POLL),
    # B7, B8: idle BHs run, are not progress; timeout at most 10.
    "idle": header(2) + [IDLE, 0, TIMEOUT, T_1000, TIMEOUT, T_9] + poll() + [TIMEOUT, T_MAX],
    # B7: a normal schedule upgrades a pending idle BH in place.
    "upgrade": header(3) + [IDLE, 0] + sched(1, 0) + [TIMEOUT, T_1000] + poll(),
    # B9: cancelled BHs do not run and can be scheduled again.
    "cancel": header(2) + sched(0, 1) + [CANCEL, 0] + poll() + sched(0) + poll(),
    # B4: cancelled then scheduled again before its pass.
    "cancel-reschedule": header(3) + sched(0, 1) + [CANCEL, 0] + sched(2, 0) + poll(),
    # B10: a deleted pending BH never runs; the slot is made anew.
    "delete-pending": header(2) + sched(0, 1) + [DELETE, 0] + poll() + sched(0) + poll(),
    # B3, B5: a BH rescheduling itself runs once per pass.
    "self-reschedule": header(1) + act(0, 0, A_SCHED, 0) + sched(0) + poll(times=3),
    # B5: a chain advances one link per pass.
    "chain": header(4) + act(0, 0, A_SCHED, 1) + act(1, 0, A_SCHED, 2)
    + act(2, 0, A_IDLE, 3) + sched(0) + poll(times=4),
    # B10: delete itself from its callback, then schedule itself (a new BH).
    "delete-self": header(2) + act(0, 0, A_DELETE, 0) + act(0, 1, A_SCHED, 0)
    + sched(0, 1) + poll(times=3),
    # B10: delete and cancel a later pending BH from a callback.
    "delete-other": header(3) + act(0, 0, A_DELETE, 1) + act(0, 1, A_CANCEL, 2)
    + sched(0, 1, 2) + poll() + sched(2) + poll(),
    # B11: oneshots, one spawning the next from its callback.
    "oneshot": header(2) + act(0, 0, A_ONESHOT, 1) + [ONESHOT, 0, ONESHOT, 1] + sched(1)
    + poll(times=3),
    # B14: a nested aio_poll continues the outer pass.
    "nested-poll": header(4) + act(0, 0, A_POLL, NONBLOCKING) + act(1, 0, A_SCHED, 3)
    + sched(0, 1, 2) + poll() + poll(),
    # B14: doubly nested, with aio_bh_poll and a blocking aio_poll.
    "doubly-nested": header(4) + act(0, 0, A_POLL, BH_POLL) + act(1, 0, A_POLL, BLOCKING)
    + act(2, 0, A_SCHED, 0) + sched(0, 1, 2, 3) + poll(BLOCKING) + poll(),
    # B14: delete inside a nested pass the BH that called it.
    "nested-delete": header(3) + act(0, 0, A_POLL, NONBLOCKING) + act(1, 0, A_DELETE, 0)
    + act(1, 1, A_DELETE, 2) + sched(0, 1, 2) + poll() + poll(),
    # B14: delete itself, then poll nested.
    "delete-self-nested": header(2) + act(0, 0, A_DELETE, 0) + act(0, 1, A_POLL, NONBLOCKING)
    + sched(0, 1) + poll(),
    # B14: a oneshot nesting a pass that runs another oneshot.
    "oneshot-nested": header(2) + act(0, 0, A_ONESHOT, 1) + act(0, 1, A_POLL, NONBLOCKING)
    + [ONESHOT, 0] + sched(1) + poll() + poll(),
    # G3, G4: the GSource runs passes, normal and idle.
    "gsource": header(3) + sched(0) + [ITER] + [IDLE, 1, ITER, ITER] + sched(2, 1) + [ITER],
    # G4 nested: a callback iterates the main context it runs in.
    "gsource-nested": header(3) + act(0, 0, A_ITER) + act(1, 0, A_SCHED, 1)
    + sched(0, 1, 2) + [ITER, ITER] + poll(),
    # P2: aio_notify() makes a blocking aio_poll return at once.
    "notify": header(2) + [NOTIFY] + poll(BLOCKING) + act(0, 0, A_NOTIFY) + sched(0)
    + poll() + poll(BLOCKING) + [NOTIFY, ITER],
    # B8 from inside callbacks.
    "timeouts": header(3) + act(0, 0, A_TIMEOUT, T_1000) + act(0, 1, A_TIMEOUT, T_0)
    + [IDLE, 1] + sched(0) + [IDLE, 2, TIMEOUT, T_11] + poll() + [TIMEOUT, T_MAXM1],
    # Not attached to a GMainContext: iterate does nothing.
    "unattached": header(2, attached=False) + sched(0, 1) + [ITER] + poll(BH_POLL),
    # B4/B5 edge: a cancelled leftover rescheduled by an earlier callback of
    # the pass it sits in (gaio runs it in that pass; see bh-model.h).
    "revive-leftover": header(2) + act(0, 0, A_SCHED, 1) + sched(0, 1) + [CANCEL, 1]
    + poll() + poll(),
    # C4: finalize with oneshots, cancelled and deleted BHs still queued.
    "finalize-queued": header(3, drain=False) + [ONESHOT, 0, ONESHOT, 1] + sched(0, 1, 2)
    + [CANCEL, 1, DELETE, 2, IDLE, 0],
    # Everything at once, eight slots.
    "mixed": header(8) + act(0, 0, A_SCHED, 5) + act(1, 0, A_POLL, BH_POLL)
    + act(2, 0, A_DELETE, 3) + act(3, 1, A_IDLE, 4) + act(4, 0, A_ONESHOT, 0)
    + act(5, 0, A_ITER) + act(6, 0, A_CANCEL, 7) + act(7, 1, A_NOTIFY)
    + sched(7, 6, 5, 4, 3, 2, 1, 0) + poll() + [ITER] + poll(BLOCKING) + poll(times=2),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        assert all(0 <= b < 256 for b in data), name
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(data))


if __name__ == "__main__":
    main()
