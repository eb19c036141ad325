#!/usr/bin/env python3
"""make-corpus.py: writes the seed corpus of fuzz-aio (tests/fuzz/corpus/).

Each seed is a small scenario in the input format fuzz-aio.c decodes; the
numbers below must match FuzzOpCode there and ModelActionKind, ModelOwner,
ModelPollMode and ModelLevel in model.h. Run it from anywhere:
python3 tests/fuzz/make-corpus.py (it rewrites every seed it names and leaves
other files in corpus/ alone).
"""
import os

NEW, SCHED, IDLE, CANCEL, DELETE, ONESHOT, SET, POLL, ITER, TIMEOUT, NOTIFY, DO = range(12)
(A_NOTHING, A_SCHED, A_IDLE, A_CANCEL, A_DELETE, A_ONESHOT, A_POLL, A_ITER, A_TIMEOUT,
 A_NOTIFY, A_FD_SET, A_FD_REMOVE, A_WRITE, A_READ, A_ARM, A_TDEL) = range(16)
BH, READ, WRITE, TIMER = range(4)
NONBLOCKING, BLOCKING, BH_POLL = range(3)
T_0, T_1, T_9, T_10, T_11, T_1000, T_MAXM1, T_MAX = range(8)
L_ZERO, L_NEG, L_1MS, L_PAST, L_DAY, L_2DAYS, L_NEVER, L_INT64_MAX = range(8)


def header(slots, attached=True, drain=True):
    return [(slots - 1) | (0 if attached else 8) | (0 if drain else 16)]


def act(slot, idx, kind, arg=0, owner=BH):
    """The action number idx of owner's slot: kind with its argument."""
    return [SET, slot | idx << 3 | owner << 4, kind, arg]


def do(kind, arg=0):
    """An action at the top level."""
    return [DO, kind, arg]


def ops(*items):
    out = []
    for it in items:
        out += it if isinstance(it, list) else [it]
    return out


def sched(*slots):
    return ops(*[[SCHED, s] for s in slots])


def poll(mode=NONBLOCKING, times=1):
    return [POLL, mode] * times


def end(pipe, write_end=False):
    """The argument naming a pipe's read or write end."""
    return pipe | (8 if write_end else 0)


def drain(pipe):
    return pipe | 8


def level(timer, lvl, anticipate=False):
    """The argument of A_ARM: timer, deadline, mod or anticipate."""
    return timer | lvl << 3 | (64 if anticipate else 0)


def free(timer):
    return timer | 8


def fd_set(*pipes):
    return ops(*[do(A_FD_SET, p) for p in pipes])


def write(*pipes):
    return ops(*[do(A_WRITE, p) for p in pipes])


def arm(timer, lvl, anticipate=False):
    return do(A_ARM, level(timer, lvl, anticipate))


SEEDS = {
    # --- bottom halves (B1-B14) ---
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
    # --- fd handlers on pipes (F1, F2) ---
    # F1: level-triggered: io_read runs in every pass while the pipe holds a
    # byte; once its callback drains the pipe it stops; adding and removing
    # are not progress (P1).
    "fd-level-triggered": header(1) + fd_set(end(0)) + poll() + write(0) + poll(times=2)
    + act(0, 0, A_READ, drain(0), owner=READ) + poll(times=2) + do(A_FD_REMOVE, end(0))
    + poll(),
    # F1: a write end is always writable: io_write runs in every pass, until
    # it removes itself.
    "fd-write-end": header(2) + fd_set(end(1, True)) + poll(times=2)
    + act(1, 0, A_FD_REMOVE, end(1, True), owner=WRITE) + poll(times=2),
    # F1 under GLib (G3, G4): an iteration dispatches while the fd is ready
    # and returns FALSE once it is drained.
    "fd-gsource": header(2) + fd_set(end(0), end(1)) + act(0, 0, A_READ, 0, owner=READ)
    + write(1, 0, 0) + [ITER, ITER, ITER, ITER],
    # P2: a blocking aio_poll() with a ready fd returns at once.
    "fd-blocking": header(1) + fd_set(end(0)) + write(0)
    + act(0, 0, A_READ, drain(0), owner=READ) + poll(BLOCKING) + poll(BLOCKING),
    # Handlers run in the order epoll reports them: the order they became
    # ready; one drained and refilled goes to the back.
    "fd-order": header(3) + fd_set(end(2), end(0), end(1)) + write(1, 2, 0)
    + act(1, 0, A_READ, drain(1), owner=READ) + act(0, 0, A_READ, drain(0), owner=READ)
    + act(2, 0, A_READ, drain(2), owner=READ) + poll() + write(0, 2, 1) + poll(),
    # F2: a handler removes itself, its fd still readable: never again.
    "fd-remove-self": header(1) + fd_set(end(0)) + act(0, 0, A_FD_REMOVE, end(0), owner=READ)
    + write(0) + poll(times=2) + [ITER],
    # F2: a handler removes another one collected in the same pass: the
    # other is not called, in this pass or later.
    "fd-remove-other": header(2) + fd_set(end(0), end(1)) + write(0, 1)
    + act(0, 0, A_FD_REMOVE, end(1), owner=READ) + act(0, 1, A_READ, drain(0), owner=READ)
    + poll(times=2),
    # F2: replacing another handler in the same pass: the old one is not
    # called; the new one (EPOLL_CTL_MOD, same place) runs from the next pass.
    "fd-replace-other": header(2) + fd_set(end(0), end(1)) + write(0, 1)
    + act(0, 0, A_FD_SET, end(1), owner=READ) + act(0, 1, A_READ, drain(0), owner=READ)
    + act(1, 0, A_READ, drain(1), owner=READ) + poll(times=3),
    # F2: a handler replaces itself; the new one runs in the next pass.
    "fd-replace-self": header(1) + fd_set(end(0)) + act(0, 0, A_FD_SET, end(0), owner=READ)
    + write(0) + poll(times=2) + act(0, 1, A_READ, drain(0), owner=READ) + poll(times=2),
    # F2 nested: a handler's nested aio_poll() runs another that removes the
    # first; the outer pass still calls what it collected and is registered.
    "fd-remove-nested": header(2) + fd_set(end(0), end(1)) + write(0, 1)
    + act(0, 0, A_READ, drain(0), owner=READ) + act(0, 1, A_POLL, NONBLOCKING, owner=READ)
    + act(1, 0, A_FD_REMOVE, end(0), owner=READ) + act(1, 1, A_READ, drain(1), owner=READ)
    + poll() + write(0) + poll(),
    # G4 vs P1: a BH fills a pipe. aio_poll(false) collects in the same pass;
    # a GSource dispatch collects only if GLib's poll saw the epoll fd
    # readable, so the handler runs at the next iteration.
    "fd-filled-by-bh": header(2) + fd_set(end(0)) + act(0, 0, A_WRITE, 0)
    + act(0, 0, A_READ, drain(0), owner=READ) + sched(0) + poll() + sched(0) + [ITER, ITER],
    # --- timers (T1) ---
    # T1: deadline order per clock, equal deadlines in arming order; clock
    # by clock (realtime timers 0 and 2, then wall-clock 1 and 3).
    "timer-order": header(4) + arm(2, L_PAST) + arm(3, L_PAST) + arm(0, L_1MS) + arm(1, L_ZERO)
    + poll() + arm(2, L_ZERO) + arm(0, L_NEG) + arm(1, L_PAST) + arm(3, L_PAST) + poll()
    + poll(),
    # T1: far deadlines never run; aio_poll() and an iteration make no
    # progress; deleting makes no difference.
    "timer-far": header(3) + arm(0, L_DAY) + arm(1, L_2DAYS) + arm(2, L_NEVER)
    + arm(1, L_INT64_MAX) + poll() + [ITER] + poll(BLOCKING) + do(A_TDEL, 0) + poll(),
    # T1: re-armed from its own callback in the past: once per pass.
    "timer-rearm-self": header(1) + act(0, 0, A_ARM, level(0, L_PAST), owner=TIMER)
    + arm(0, L_ZERO) + poll(times=3) + [ITER, ITER] + poll(BLOCKING),
    # T1 and nesting: a timer re-arms itself and polls nested, which runs it.
    "timer-rearm-nested": header(1) + act(0, 0, A_ARM, level(0, L_ZERO), owner=TIMER)
    + act(0, 1, A_POLL, NONBLOCKING, owner=TIMER) + arm(0, L_PAST) + poll() + poll(),
    # T1: a callback deletes and frees timers due in the same pass.
    "timer-del-other": header(4) + act(0, 0, A_TDEL, 2, owner=TIMER)
    + act(0, 1, A_TDEL, free(1), owner=TIMER) + arm(0, L_ZERO) + arm(2, L_PAST)
    + arm(1, L_ZERO) + poll() + poll() + arm(1, L_ZERO) + poll(),
    # A timer frees itself from its callback; arming the slot again makes a
    # new one (an embedded timer in slot 2).
    "timer-free-self": header(3) + act(0, 0, A_TDEL, free(0), owner=TIMER)
    + act(2, 0, A_TDEL, free(2), owner=TIMER) + arm(0, L_ZERO) + arm(2, L_ZERO) + poll()
    + arm(0, L_PAST) + arm(2, L_1MS) + poll() + poll(),
    # aio_timer_mod_anticipate(): only ever earlier.
    "timer-anticipate": header(1) + arm(0, L_DAY) + arm(0, L_2DAYS, True) + poll()
    + arm(0, L_PAST, True) + arm(0, L_DAY, True) + poll() + poll(),
    # T1: armed by a BH with a past deadline: runs in the same pass (the
    # timers part starts after the BHs part).
    "timer-armed-by-bh": header(2) + act(0, 0, A_ARM, level(1, L_PAST)) + sched(0) + poll()
    + sched(0) + [ITER] + sched(0) + poll(BH_POLL) + poll(),
    # T1 under GLib: iterations run expired timers, then return FALSE.
    "timer-gsource": header(2) + act(1, 0, A_ARM, level(0, L_1MS), owner=TIMER)
    + arm(1, L_ZERO) + [ITER, ITER, ITER, ITER],
    # Arming from outside a pass sets the timerfd (T4): a past deadline
    # fires it. The tick makes the epoll fd readable: an iteration
    # dispatches; a pass that collects reads it.
    "timer-timerfd-tick": header(2) + arm(0, L_PAST) + [ITER] + arm(1, L_ZERO) + poll()
    + fd_set(end(0, True)) + arm(0, L_ZERO) + poll() + do(A_FD_REMOVE, end(0, True)) + [ITER],
    # --- all together ---
    # P1, G4: a pass runs BHs, then handlers, then timers; each callback
    # feeds the next kind.
    "pass-order": header(2) + act(0, 0, A_WRITE, 0) + act(0, 0, A_ARM, level(0, L_ZERO), owner=READ)
    + act(0, 1, A_READ, drain(0), owner=READ) + act(0, 0, A_SCHED, 1, owner=TIMER)
    + fd_set(end(0)) + sched(0) + poll() + poll() + sched(0) + poll(BLOCKING) + [ITER, ITER],
    # C4: finalized with handlers registered (one ready), timers armed (past
    # and far, made and embedded) and BHs queued.
    "finalize-io": header(4, drain=False) + fd_set(end(0), end(1, True), end(2)) + write(0, 2)
    + arm(0, L_PAST) + arm(1, L_DAY) + arm(2, L_ZERO) + arm(3, L_2DAYS) + sched(1) + [ONESHOT, 0],
    # Everything at once, eight slots of each.
    "mixed-io": header(8) + act(0, 0, A_WRITE, 3) + act(3, 0, A_FD_SET, end(5), owner=READ)
    + act(3, 1, A_READ, drain(3), owner=READ) + act(5, 0, A_ARM, level(4, L_PAST), owner=READ)
    + act(5, 1, A_READ, 5, owner=READ) + act(4, 0, A_SCHED, 7, owner=TIMER)
    + act(4, 1, A_ITER, owner=TIMER) + act(7, 0, A_WRITE, 5) + act(7, 1, A_FD_REMOVE, end(3))
    + act(6, 0, A_TDEL, free(4), owner=WRITE) + act(6, 1, A_FD_REMOVE, end(6, True), owner=WRITE)
    + fd_set(end(3), end(6, True)) + write(5) + sched(0) + poll() + [ITER] + poll(BLOCKING)
    + poll(times=3) + [ITER, ITER],
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
