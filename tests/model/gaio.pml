/* gaio.pml: a Spin model of gaio's BH schedule / notify / prepare / poll /
 * check / pass protocol, as implemented in gaio/bh.c, mpsc-queue-private.h,
 * notify.c, notify-private.h, poll.c and gsource.c (docs/design.md 1-5).
 *
 *   spin -a -DMENU0=7 -DMENU1=7 gaio.pml && cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c
 *   ./pan -m300000
 * tests/model/run-spin.sh runs the configurations and the broken variants.
 *
 * WHAT IS MODELLED. Two producer threads, each doing NOPS operations chosen
 * from a menu (MENU0, MENU1): qemu_bh_schedule, qemu_bh_schedule_idle,
 * qemu_bh_cancel, and aio_notify (producer 0) or qemu_bh_delete (producer 1).
 * The owner loops for ever; each iteration is, at its choice, a blocking
 * aio_poll() (with aio_spin_for_work() after progress), a non-blocking one
 * (-DNONBLOCKING), or one GLib iteration of the context's GSource: prepare,
 * GLib's poll (timeout 0 when prepare said ready), check (only when prepare
 * did not), dispatch when ready; with -DGLIB_SKIP, GLib may also skip check
 * and dispatch (a higher-priority source was ready). -DAIO_POLL_ONLY and
 * -DGSOURCE_ONLY restrict the owner to one style. Each C atomic operation is
 * one step here, with the C's non-atomic gaps: the push is an exchange of
 * `last` then the link store; the flags word changes by the CAS fast path or
 * the two test-and-sets of the slow path, cancel's fetch_and, delete's CAS
 * (its failed rounds change nothing, so it is one step) and conditional push,
 * the pass's exchange; the pass is bounded by the `last` it read first, and
 * pops the stub as a point in the order (the late stub); the owner's look at
 * the queue walks up to the `last` it read (LINKING: do not sleep);
 * aio_notify_wake() is its pre-check, exchange of `notified`, load of
 * notify_me and eventfd write; the eventfd is a flag (readable or not), read
 * only when poll saw it readable; sleeping blocks until it is readable, or
 * times out at any moment when an idle BH set a timeout.
 *
 * PROPERTIES. Spin explores every interleaving and checks, each through a
 * hidden flag named after it (so its report names the property):
 *   no_lost_wakeup      when the producers are done and the owner sleeps with
 *                       no timeout and an empty eventfd (@sleep_forever: it
 *                       would sleep for ever), no normal BH is pending;
 *   no_lost_notify      ... and every aio_notify() was accepted since;
 *   run_has_period      a callback starts only when a schedule made the BH
 *                       pending since its last run, cancel or delete (ghost
 *                       gpend[]): no callback runs twice for one pending period;
 *   coalesced_into_pending  a schedule that found the BH pending (coalesced)
 *                       found a period whose run has not started (B2, B3);
 *   one_period_at_a_time, no_period_dropped  gpend[] agrees with the flags;
 *   once_per_pass       a pass runs a BH at most once (B5);
 *   no_use_after_free   no access to a BH's flags or link, by a producer or
 *                       by the owner (look, pop, pass), after the pass freed
 *                       it (ghost freed[]);
 *   not_queued_twice    a node is never pushed while it is queued (ghost inq[]).
 * The owner's sleep is the only blocking statement and not an end state, so a
 * deadlock anywhere is an error too ("invalid end state").
 *
 * MEMORY MODEL. Promela is sequentially consistent: this checks the protocol's
 * logic under SC. What makes SC the right model for the variables involved
 * is the C code's seq_cst operations and fences, argued in notify.c and
 * docs/design.md 5, not checked here: every enqueue is a seq_cst RMW (the
 * push's exchange of `last`, the flags' CAS / fetch_or); the producer's loads
 * of notify_me are seq_cst; the owner stores notify_me seq_cst then fences
 * (F_C) before it loads `notified` (seq_cst), `last` and the flags; `notified`
 * is exchanged seq_cst; accept fences (F_A) after clearing `notified`. Where
 * the C is weaker than seq_cst:
 *   - aio_notify_wake()'s relaxed pre-check of `notified` only skips work.
 *     With -DWEAK it may also read a stale `true` when the owner accepted
 *     (F_A) after this producer's last enqueue step (ghosts win[],
 *     acc_since[]), the case notify.c argues is harmless (the pass after F_A
 *     sees the BH);
 *   - aio_notify_disarm() is a relaxed store: with -DWEAK a producer may still
 *     read the old `true` (ghost nm_stale) and write the eventfd needlessly;
 *   - aio_notify_accept()'s relaxed pre-check: with -DWEAK it may read a stale
 *     `false` and skip the accept (@accept_skip);
 *   - aio_spin_for_work()'s relaxed loads are a hint: it says "work" or "no
 *     work" at will (@spin_hint), and only "work" skips the sleep;
 *   - bh_make_pending()'s relaxed first load only picks the path: here the CAS
 *     succeeds (only possible on a word neither queued, pending nor deleted)
 *     or the slow path runs, at will (a stale load, or a word that changed);
 *   - cancel (release fetch_and) and delete's CAS (acq_rel) only take pending
 *     work away; delete's push is a seq_cst exchange like any push;
 *   - the owner's acquire loads of `last`, ->next and the flags follow F_C (or
 *     are the pass's, on the owner's own thread), and pair with the push's
 *     release link store and the flags' RMWs.
 *
 * ABSTRACTED. Three BHs: BH 1 is shared by both producers; BH 2 is producer
 * 0's, and its callback may reschedule it once (a schedule on the owner's
 * thread, during the pass); BH 3 is producer 1's, which may delete it and then
 * leaves it alone (touching a deleted BH is the user's bug). Not modelled:
 * oneshots (the CAS fast path plus a flag, on a BH nobody else can reach),
 * nested passes (B14), fd handlers, timers, signal handlers (one more producer
 * whose steps interleave the same way), slab reuse, the eventfd's count, time.
 *
 * KEEPING IN STEP. Each modelled step carries a tag @name in a comment here;
 * the C names the tags of its steps in comments "Model: tests/model/gaio.pml
 * @name", and run-spin.sh fails if a tag named in gaio/ is missing here.
 *
 * BROKEN VARIANTS (-DBROKEN_x), each one check or barrier removed; run-spin.sh
 * requires Spin to reject each:
 *   BROKEN_NO_FC        the owner's notify_me = true becomes visible only after
 *                       its look at `notified` and the queue (store buffering:
 *                       what F_C forbids);
 *   BROKEN_NO_LINKING   bh_queue_state() takes a node still linking for the end
 *                       of the queue;
 *   BROKEN_NO_NOTIFIED  aio_compute_timeout_ns() does not look at `notified`;
 *   BROKEN_PRODUCER_ORDER  the producer loads notify_me before its enqueue
 *                       (what a non-seq_cst enqueue would allow);
 *   BROKEN_DELETE_SPLIT qemu_bh_delete() in two steps (DELETED, then QUEUED
 *                       and the push): the pass frees the BH in between;
 *   BROKEN_PUSH_ON_KIND the slow path pushes when it set the kind bit, without
 *                       the QUEUED test-and-set;
 *   BROKEN_LATE_CLEAR   the pass clears QUEUED when it pops but the pending bits
 *                       only after the callback.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* IDLE_PUSH_RECHECK: 1 if qemu_bh_schedule_idle(), after pushing the BH,
 * re-reads its flags (seq_cst) and calls aio_notify_enqueued() when NORMAL is
 * set, as bh.c does. 0 is how bh.c was until Spin found a lost wakeup (kept
 * as a broken variant that must fail): an idle
 * schedule between its CAS (QUEUED|IDLE) and its push's exchange, a normal
 * schedule of the same BH from another thread (or a signal handler) sets
 * NORMAL, finds QUEUED set and does not push; the owner, looking before the
 * push, sees an empty queue and sleeps with no timeout; the idle push then
 * wakes nobody. */
#ifndef IDLE_PUSH_RECHECK
#define IDLE_PUSH_RECHECK 1
#endif

#define NPROD   2
#define NB      3           /* BHs 1..NB; node 0 is the queue's stub */
#define NN      4
#define STUB    0
#define NIL     255

#ifndef NOPS
#define NOPS    2           /* operations per producer */
#endif
/* Which operations each producer may choose from (bits): 1 schedule(BH 1),
 * 2 schedule_idle(BH 1), 4 cancel(BH 1), 8 schedule(own BH), 16
 * schedule_idle(own BH), 32 aio_notify() (producer 0) / delete(BH 3)
 * (producer 1). */
#ifndef MENU0
#define MENU0   63
#endif
#ifndef MENU1
#define MENU1   63
#endif

/* BH flags, as in bh.c */
#define F_NORMAL   1
#define F_IDLE     2
#define F_QUEUED   4
#define F_DELETED  8
#define F_PENDING  3

/* aio_compute_timeout_ns() results */
#define T_ZERO  0
#define T_IDLE  1           /* AIO_IDLE_BH_TIMEOUT_NS */
#define T_INF   2           /* -1 */

/* BHQueueState */
#define QS_EMPTY    0
#define QS_GARBAGE  1
#define QS_IDLE     2
#define QS_NORMAL   3
#define QS_LINKING  4

/* --- shared state --- */
byte flags[NN];             /* QEMUBH.flags (flags[STUB] unused) */
byte next[NN];              /* MpscNode.next */
byte last = STUB;           /* MpscQueue.last */
byte first = STUB;          /* MpscQueue.first: owner only */
bool notify_me;
bool notified;
bool efd;                   /* the wakeup eventfd is readable */

/* --- ghosts --- */
bool freed[NN];             /* the pass freed this BH */
bool gpend[NN];             /* a pending period whose run has not started */
bool inq[NN];               /* pushed (exchanged into `last`) and not popped */
bool ranthis[NN];           /* ran in the current pass */
bool acc_since[3];          /* the owner accepted (F_A) since this thread's
                               enqueue, while in win[] */
bool win[3];                /* between a producer's enqueue and its pre-check
                               of `notified` (or the end of its call) */
#ifdef WEAK
#define ENQ     acc_since[me] = 0; win[me] = 1
#define ENDWIN  acc_since[me] = 0; win[me] = 0
#define NM_TRUE (notify_me || nm_stale)
#define NM_FRESH nm_stale = 0
#else
#define ENQ     skip
#define ENDWIN  skip
#define NM_TRUE notify_me
#define NM_FRESH skip
#endif
bool nm_stale;              /* a relaxed disarm: producers may read old true */
bool deleted3;              /* producer 1 deleted BH 3 */
bool gnote;                 /* an aio_notify() the owner has not accepted */
byte pdone;                 /* producers finished */

/* Each property is asserted through a hidden (stateless) flag named after
 * it, so that Spin's report names the property that failed. */
hidden byte no_use_after_free, not_queued_twice, one_period_at_a_time,
            coalesced_into_pending, no_period_dropped, run_has_period,
            once_per_pass, no_lost_wakeup, no_lost_notify;
#define CHECK(v, e) v = (e); assert(v)
#define alive(n)    CHECK(no_use_after_free, (n) == STUB || !freed[n])

/* ------------------------------------------------------------------ */
/* mpsc_queue_push(): exchange, then link (the gap lies between).      */
inline push(n, prev)
{
    atomic {                                    /* @push_xchg */
        alive(n);
        CHECK(not_queued_twice, !inq[n]);
        next[n] = NIL;
        prev = last;
        last = n;
        inq[n] = 1;
        ENQ
    };
    atomic {                                    /* @push_link */
        alive(prev);
        next[prev] = n;
        prev = 0
    }
}

/* ------------------------------------------------------------------ */
/* aio_notify_wake(): relaxed pre-check, exchange, notify_me check.    */
inline notify_wake()
{
    if                                          /* @wake_precheck */
    :: atomic { notified -> ENDWIN }            /* set: return */
#ifdef WEAK
    :: atomic { acc_since[me] && !notified -> ENDWIN }  /* a stale true */
#endif
    :: atomic { !notified -> ENDWIN };
        if                                      /* @wake_xchg */
        :: atomic { notified -> skip }          /* lost the exchange */
        :: atomic { !notified -> notified = 1 };
            if                                  /* @wake_load */
            :: atomic { notify_me -> skip };
                efd = 1                         /* @wake_write */
#ifdef WEAK
            :: atomic { !notify_me && nm_stale -> skip };
                efd = 1
#endif
            :: atomic { !notify_me -> skip }
            fi
        fi
    fi
}

/* aio_notify_enqueued(): seq_cst load of notify_me, maybe stale true. */
inline notify_enqueued()
{
    if                                          /* @enq_load */
    :: atomic { NM_TRUE -> skip }; notify_wake()
    :: atomic { !notify_me -> skip }
    fi
}

/* ------------------------------------------------------------------ */
/* bh_make_pending(b, kind): r = made pending as kind.                 */
inline make_pending(b, kind, r)
{
    /* The relaxed load (@sched_load) and the CAS are one choice here: the
     * CAS succeeds (only possible when the word is neither queued, pending
     * nor deleted), or the slow path runs (always possible: the load may have
     * seen another value, or the word changed before the CAS). */
    pushed = 0;
    if
    :: atomic { !(flags[b] & (F_QUEUED | F_PENDING | F_DELETED)) ->
        alive(b);                               /* @sched_cas */
        flags[b] = flags[b] | F_QUEUED | kind;
        CHECK(one_period_at_a_time, !gpend[b]);
        gpend[b] = 1;
        ENQ;
        r = 1 };
        push(b, prev);
        pushed = 1
    :: atomic { true ->
        /* CAS not tried or failed: two bts, never retried */
            alive(b);                           /* @sched_bts_kind */
            ENQ;
            if
            :: flags[b] & kind ->
                CHECK(coalesced_into_pending, gpend[b]);
                r = 0
            :: else ->
                if
                :: !(flags[b] & F_PENDING) ->
                    CHECK(one_period_at_a_time, !gpend[b]);
                    gpend[b] = 1
                :: else -> CHECK(coalesced_into_pending, gpend[b])
                fi;
                flags[b] = flags[b] | kind;
                r = 1
            fi };
        if
        :: r ->
#ifdef BROKEN_PUSH_ON_KIND
            push(b, prev);
            pushed = 1
#else
            atomic {                            /* @sched_bts_queued */
                alive(b);
                ENQ;
                old = flags[b];
                flags[b] = flags[b] | F_QUEUED };
            if
            :: !(old & F_QUEUED) -> old = 0; push(b, prev); pushed = 1
            :: else -> old = 0
            fi
#endif
        :: else
        fi
    fi
}

/* qemu_bh_schedule(): make pending, then notify if it became normal. */
inline schedule(b)
{
#ifdef BROKEN_PRODUCER_ORDER
    early = NM_TRUE;
#endif
    make_pending(b, F_NORMAL, r);
    if
    :: r ->
#ifdef BROKEN_PRODUCER_ORDER
        if :: early -> notify_wake() :: else fi
#else
        notify_enqueued()
#endif
    :: else
    fi
}

/* qemu_bh_cancel(): one fetch_and clearing the pending bits. */
inline cancel(b)
{
    atomic {                                    /* @cancel */
        alive(b);
        flags[b] = flags[b] & ~F_PENDING;
        gpend[b] = 0 }
}

/* qemu_bh_delete(): CAS loop to "deleted and queued", push if not queued. */
inline delete(b)
{
#ifndef BROKEN_DELETE_SPLIT
    /* The CAS loop's failed rounds change nothing: the successful CAS is one
     * atomic read-modify-write. */
    atomic {                                    /* @del_cas */
        alive(b);
        old = flags[b];
        flags[b] = (old & ~F_PENDING) | F_DELETED | F_QUEUED;
        gpend[b] = 0 };
#else
    atomic {
        alive(b);
        flags[b] = (flags[b] & ~F_PENDING) | F_DELETED;
        gpend[b] = 0 };
    atomic {
        alive(b);
        old = flags[b];
        flags[b] = flags[b] | F_QUEUED };
#endif
    if
    :: !(old & F_QUEUED) -> old = 0; push(b, prev)   /* @del_push */
    :: else -> old = 0
    fi
}

/* aio_notify(): F_P, then the wake. gnote: an aio_notify() the owner has
 * not accepted since (checked by no_lost_notify). */
inline bare_notify()
{
    atomic { ENQ; gnote = 1 };                  /* @notify_fence (F_P) */
    notify_wake()
}

/* qemu_bh_schedule_idle(): make pending as idle; no wakeup. */
inline schedule_idle(b)
{
    make_pending(b, F_IDLE, r);
#if IDLE_PUSH_RECHECK
    /* An idle schedule that pushed re-reads the flags: a normal schedule that
     * found QUEUED already set while this push was not yet exchanged relies
     * on this push, and cannot wake the owner itself (see IDLE_PUSH_RECHECK
     * at the top). */
    if
    :: pushed ->
        atomic { alive(b); r = flags[b] & F_NORMAL };   /* @idle_recheck */
        if
        :: r -> notify_enqueued()
        :: else
        fi
    :: else
    fi
#endif
}

/* ------------------------------------------------------------------ */
/* The owner's side.                                                   */

/* bh_queue_state(): walk from first up to the `last` read now. */
inline queue_state(st)
{
    atomic { lst = last; node = first; st = QS_EMPTY };    /* @qs_last */
    do
    :: atomic {
        if
        :: node != STUB ->
            alive(node);
            f = flags[node];                    /* @qs_flags */
            if
            :: f & F_NORMAL -> st = QS_NORMAL
            :: (f & F_PENDING) == F_IDLE -> st = QS_IDLE
            :: (f & F_PENDING) == 0 && st == QS_EMPTY -> st = QS_GARBAGE
            :: else
            fi;
            f = 0
        :: else
        fi;
        if
        :: st == QS_NORMAL -> break
        :: st != QS_NORMAL && node == lst -> break
        :: else
        fi };
       atomic {
        alive(node);
        node = next[node];                      /* @qs_next */
        if
#ifdef BROKEN_NO_LINKING
        :: node == NIL -> break
#else
        :: node == NIL -> st = QS_LINKING; break   /* @qs_linking */
#endif
        :: else
        fi }
    od
}

/* aio_compute_timeout_ns() */
inline compute_timeout(t)
{
#ifndef BROKEN_NO_NOTIFIED
    if
    :: atomic { notified -> t = T_ZERO }        /* @ct_notified */
    :: atomic { !notified -> skip };
#endif
        queue_state(st);
        atomic {
            if
            :: st == QS_NORMAL || st == QS_LINKING -> t = T_ZERO
            :: st == QS_IDLE -> t = T_IDLE
            :: else -> t = T_INF
            fi;
            st = 0; lst = 0; node = 0 };
#ifndef BROKEN_NO_NOTIFIED
    fi
#endif
}

/* aio_notify_disarm(): relaxed store; producers may still read true. */
inline disarm()
{
    atomic {                                    /* @disarm */
#ifdef WEAK
        if :: notify_me -> nm_stale = 1 :: else fi;
#endif
        notify_me = 0 }
}

/* aio_prepare_to_sleep(): look; arm (store + F_C); look again. */
inline prepare_to_sleep(t)
{
    compute_timeout(t);                         /* @prep_first_look */
    if
    :: t != T_ZERO ->
#ifndef BROKEN_NO_FC
        atomic { notify_me = 1; NM_FRESH }; /* @arm: store, F_C */
        compute_timeout(t);                     /* @prep_look */
#else
        compute_timeout(t);
        atomic { notify_me = 1; NM_FRESH };
#endif
        if
        :: t == T_ZERO -> disarm()              /* @prep_disarm */
        :: else
        fi
    :: else
    fi
}

/* aio_notify_accept(): relaxed pre-check; store false; F_A. */
inline accept()
{
    if
    :: atomic { notified ->                     /* @accept_store */
        notified = 0;
#ifdef WEAK
        acc_since[0] = acc_since[0] || win[0];
        acc_since[1] = acc_since[1] || win[1];
#endif
        gnote = 0 }
#ifdef WEAK
    :: skip                                     /* @accept_skip */
#else
    :: else
#endif
    fi
}

/* The owner asleep with no timeout, eventfd empty, producers done: it sleeps
 * for ever. Legitimate only if no normal BH is pending and no aio_notify()
 * is unaccepted. */
#define FOREVER(t)  (!efd && t == T_INF && pdone == NPROD)
inline sleep_forever()
{
    CHECK(no_lost_wakeup, !(flags[1] & F_NORMAL) && !(flags[2] & F_NORMAL) &&
                          !(flags[3] & F_NORMAL));
    CHECK(no_lost_notify, !gnote)
}

/* mpsc_queue_pop(): res = a node (maybe the stub) or NIL. */
inline pop(res)
{
    atomic {                                    /* @pop_next */
        alive(first);
        res = NIL;
        nx = next[first];
        if
        :: nx != NIL -> res = first; inq[first] = 0; first = nx
        :: else
        fi;
        nx = 0 };
    if
    :: res == NIL && first != STUB ->
        if
        :: atomic { first != last -> skip }     /* @pop_gap */
        :: atomic { first == last -> skip };    /* @pop_last */
            push(STUB, prev);                   /* @pop_stub */
            atomic {                            /* @pop_relink */
                alive(first);
                nx = next[first];
                if
                :: nx != NIL -> res = first; inq[first] = 0; first = nx
                :: else
                fi;
                nx = 0 }
        fi
    :: else
    fi
}

/* bh_run(): exchange the flags with 0 and act on the old word. */
inline bh_run(b)
{
    torun = 0;
#ifndef BROKEN_LATE_CLEAR
    atomic {                                    /* @run_xchg */
        alive(b);
        old = flags[b];
        flags[b] = 0;
#else
    atomic {
        alive(b);
        old = flags[b];
        flags[b] = flags[b] & ~F_QUEUED;
        if :: old & F_DELETED -> flags[b] = 0 :: else fi;
#endif
        if
        :: old & F_DELETED ->                   /* @run_free */
            CHECK(no_period_dropped, !gpend[b]);
            freed[b] = 1
        :: !(old & F_DELETED) && !(old & F_PENDING) ->
            CHECK(no_period_dropped, !gpend[b])  /* cancelled */
        :: !(old & F_DELETED) && (old & F_PENDING) ->
            CHECK(run_has_period, gpend[b]);
            gpend[b] = 0;
            CHECK(once_per_pass, !ranthis[b]);
            ranthis[b] = 1;
            torun = 1;
            if :: old & F_NORMAL -> progress = 1 :: else fi
        fi;
        old = 0 };
    if                                          /* @callback */
    :: torun && b == 2 && !resched -> resched = 1; schedule(2)
    :: true
    fi;
#ifdef BROKEN_LATE_CLEAR
    if :: torun -> atomic { flags[b] = flags[b] & ~F_PENDING } :: else fi
#endif
    torun = 0
}

/* bh_pass_run(): pop up to the `last` read at the start. */
inline pass()
{
    atomic {                                    /* @pass_end */
        progress = 0;
        pend = last };
    if
    :: pend == STUB && first == STUB            /* @pass_empty */
    :: else ->
        do
        :: pop(node);
            if
            :: node == NIL -> break             /* @pass_gap */
            :: else ->
                if
                :: node != STUB -> bh_run(node)
                :: else
                fi;
                if
                :: node == pend -> break        /* @pass_done */
                :: else
                fi
            fi
        od
    fi;
    atomic { node = 0; pend = 0; ranthis[1] = 0; ranthis[2] = 0; ranthis[3] = 0; ENDWIN }
}


proctype producer(byte me; byte menu)
{
    byte i, b, op, prev, old;
    bool r, early, pushed;

    do
    :: atomic { i < NOPS ->
        i++;
        b = 0; op = 0; r = 0; early = 0; pushed = 0; ENDWIN;
        if
        :: (menu & 1) -> b = 1; op = 0
        :: (menu & 2) -> b = 1; op = 1
        :: (menu & 4) -> b = 1; op = 2
        :: (menu & 8) && !(me == 1 && deleted3) -> b = me + 2; op = 0
        :: (menu & 16) && !(me == 1 && deleted3) -> b = me + 2; op = 1
        :: (menu & 32) && me == 0 -> op = 4
        :: (menu & 32) && me == 1 && !deleted3 -> b = 3; op = 3; deleted3 = 1
        :: else -> op = 5                       /* nothing left to do */
        fi };
        if
        :: op == 0 -> schedule(b)               /* qemu_bh_schedule */
        :: op == 1 -> schedule_idle(b)
        :: op == 2 -> cancel(b)
        :: op == 3 -> delete(b)
        :: op == 4 -> bare_notify()
        :: op == 5
        fi
    :: atomic { i == NOPS -> b = 0; op = 0; r = 0; early = 0; pushed = 0; ENDWIN; pdone++ };
        break
    od
}

proctype consumer()
{
    byte me = 2;
    byte node, nx, prev, old, pend, lst, f, st, t;
    bool r, early, pushed, progress, made_progress, readable, torun, resched;

loop:
    t = 0; readable = 0;
    if
#ifndef GSOURCE_ONLY
    :: goto aio_poll_blocking
#ifdef NONBLOCKING
    :: goto aio_poll_nonblocking
#endif
#endif
#ifndef AIO_POLL_ONLY
    :: goto gsource
#endif
    fi;

aio_poll_blocking:
    if
    :: made_progress -> goto poll_pass          /* @spin_hint: work seen */
    :: true
    fi;
    prepare_to_sleep(t);
    if
    :: t != T_ZERO ->
        if                                      /* aio_sleep() */
        :: atomic { efd -> skip };              /* @sleep_wake */
            atomic { efd = 0 }                  /* @sleep_clear */
        :: t == T_IDLE                          /* @sleep_timeout */
        :: atomic { FOREVER(t) -> sleep_forever() };   /* @sleep_forever */
            goto finished
        fi;
        disarm()
    :: else
    fi;
aio_poll_nonblocking:
poll_pass:
    accept();                                   /* @poll_accept */
    pass();
    made_progress = progress;
    t = 0; progress = 0; r = 0; pushed = 0; early = 0;
    goto loop;

gsource:
    prepare_to_sleep(t);                        /* @gs_prepare */
    if
    :: t == T_ZERO ->                           /* prepare returned TRUE */
        atomic { readable = efd };              /* @gs_poll0 */
#ifdef GLIB_SKIP
        if
        :: goto gs_dispatch
        :: goto loop        /* a higher-priority source was ready */
        fi
#else
        goto gs_dispatch
#endif
    :: else
    fi;
    if                                          /* GLib's poll */
    :: atomic { efd -> readable = 1 }           /* @gs_poll_wake */
    :: t == T_IDLE -> readable = 0              /* @gs_poll_timeout */
    :: atomic { FOREVER(t) -> sleep_forever() };       /* @sleep_forever */
        goto finished
#ifdef GLIB_SKIP
    :: atomic { readable = efd };               /* @gs_skip_check */
        goto loop           /* a higher-priority source: no check */
#endif
    fi;
    disarm();                                   /* @gs_check */
    if
    :: readable -> goto gs_dispatch
    :: else
    fi;
    if
    :: atomic { notified -> skip };             /* @gs_check_notified */
        goto gs_dispatch
    :: atomic { !notified -> skip }
    fi;
    queue_state(st);                            /* @gs_check_queue */
    if
    :: st != QS_EMPTY -> goto gs_dispatch
    :: else -> goto loop
    fi;
gs_dispatch:
    disarm();                                   /* @gs_dispatch */
    if
    :: readable -> efd = 0                      /* @gs_clear */
    :: else
    fi;
    accept();
    pass();
    t = 0; readable = 0; progress = 0; r = 0; pushed = 0; early = 0;
    goto loop;

finished:
    skip
}

init {
    atomic {
        next[0] = NIL; next[1] = NIL; next[2] = NIL; next[3] = NIL;
        inq[STUB] = 1;
        run producer(0, MENU0);
        run producer(1, MENU1);
        run consumer()
    }
}
