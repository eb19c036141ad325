/* gaio.pml: a Spin model of gaio's BH schedule / notify / prepare / poll /
 * check / pass protocol, as implemented in gaio/bh.c, mpsc-queue-private.h,
 * notify.c, notify-private.h, poll.c and gsource.c (docs/design.md 1-5).
 *
 *   spin -a -DMENU0=7 -DMENU1=7 -DNOPS1=1 gaio.pml &&
 *   cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m300000
 * tests/model/run-spin.sh runs the configurations and the broken variants.
 *
 * WHAT IS MODELLED. Two producer threads, doing NOPS0 and NOPS1 operations
 * (NOPS each by default) chosen from a menu (MENU0, MENU1): qemu_bh_schedule,
 * qemu_bh_schedule_idle, qemu_bh_cancel, and aio_notify (producer 0) or
 * qemu_bh_delete (producer 1). The owner loops for ever; each iteration is, at
 * its choice, a blocking aio_poll() (with aio_spin_for_work() after
 * progress), a non-blocking one (-DNONBLOCKING), or one GLib iteration of the
 * context's GSource: prepare (bh_queue_reclaim(), then aio_prepare_to_sleep()),
 * GLib's poll (timeout 0 when prepare said ready), check (only when prepare
 * did not), dispatch when ready; with -DGLIB_SKIP, GLib may also skip check
 * and dispatch (a higher-priority source was ready). -DAIO_POLL_ONLY and
 * -DGSOURCE_ONLY restrict the owner to one style.
 *
 * Each C atomic operation is one step here, with the C's non-atomic gaps:
 *   - the BH word: NORMAL, IDLE, QUEUED, DELETED, ORPHAN and a HOLD count.
 *     bh_make_pending(kind): the CAS from "not queued, pending nor deleted"
 *     to QUEUED|kind (+ a hold if idle) and the push (@sched_cas); a normal
 *     schedule is then done, an idle one drops its hold (@sched_release) and
 *     wakes for what the word it got back says. Or coalescing: a CAS that
 *     writes the word back unchanged, possible only while the BH shows
 *     pending as kind or normal (@sched_coalesce; a failed CAS writes nothing
 *     and leads to the slow path). Or the slow path: the hold (@sched_hold),
 *     the call's first write; if the word it returns shows the BH pending
 *     as kind or normal, coalesced; else, if not deleted, bts
 *     kind (@sched_bts_kind: a clear bit owes a wake for kind), bts QUEUED
 *     (@sched_bts_queued: a clear bit means push); then the release; the
 *     last holder of an ORPHAN pushes it again (@orphan_push) and wakes a gap
 *     sleeper only. The relaxed first load only picks the path: it is folded
 *     into the path's first read-modify-write (the hold is always possible:
 *     the load may be stale);
 *   - cancel's fetch_and; delete's CAS (its failed rounds change nothing, so
 *     one step) to DELETED|QUEUED, pending cleared, holds and ORPHAN kept, then
 *     a push if it was not queued, and a wake for a gap sleeper only;
 *   - the pass's claim (@run_claim), a CAS loop on the owner (one step): a
 *     deleted BH is freed if no schedule holds it (@run_free), else left to
 *     its holders (ORPHAN); any other BH keeps only its holds, and runs if it
 *     was pending. The GSource's prepare first reclaims the leftovers at the
 *     front (@reclaim: pop, claim unless pending; a pending BH is put back);
 *   - the push is an exchange of `last` then the link store: a producer may
 *     stop between the two as long as it likes (the gap);
 *   - notify_me is a mask: ARMED, LONG (sleeping without a timeout or past
 *     the idle bound), GAP (the look found a node whose successor is
 *     exchanged but not linked); aio_notify_enqueued(m) wakes iff
 *     notify_me & m (normal: any bit; idle: LONG|GAP; a push of a deleted or
 *     cancelled BH: GAP only). aio_notify_wake() is its pre-check, exchange
 *     of `notified`, load of notify_me and eventfd write;
 *   - the owner's prepare: look (`notified`, then the queue walked up to the
 *     `last` it read or to a gap); on a gap, the bounded spin (@gap_spin) and
 *     a look again; then arm with the look's bits (@arm: store and F_C), look
 *     again, re-arm while the bits grow; sleep: on a gap, armed with GAP and
 *     with no timeout here (the C bounds it by AIO_GAP_SLEEP_NS, a guard for
 *     weak memory; under SC the link's wakeup must suffice); with an idle BH
 *     visible, the idle bound (it may time out at any moment); else until
 *     woken. The eventfd is a flag (readable or not), read only when poll saw
 *     it readable;
 *   - the GSource's check: ready for a readable eventfd, `notified`, or a
 *     normal or idle BH pending: not for leftovers, not for a gap.
 *
 * PROPERTIES. Spin explores every interleaving and checks, each through a
 * hidden flag named after it (so its report names the property):
 *   no_lost_wakeup      when the producers are done and nothing will wake the
 *                       owner (eventfd empty): asleep with no timeout, it is
 *                       not on a gap (each gap was linked since: the link
 *                       must have woken it) and no normal BH is pending;
 *                       asleep with the idle bound, no normal BH is pending
 *                       (only the timeout would run it);
 *   no_lost_notify      ... and every aio_notify() was accepted since;
 *   no_lost_idle_wakeup (B7) asleep with no timeout and nothing to wake it,
 *                       no idle BH is pending either: an idle schedule wakes
 *                       an owner that sleeps past the idle bound (LONG);
 *   no_busy_wait_on_gap (W1) the owner's looks that find only a gap to wait
 *                       for, without a sleep between, are at most
 *                       GAP_LOOKS_MAX (the first, the spin's, one per arm):
 *                       then it sleeps armed with GAP;
 *   run_has_period      a callback starts only when a schedule made the BH
 *                       pending since its last run, cancel or delete (ghost
 *                       gpend[]): no callback runs twice for one pending period;
 *   coalesced_into_pending  a schedule that found the BH pending (coalesced)
 *                       found a period whose run has not started (B2, B3);
 *   one_period_at_a_time, no_period_dropped  gpend[] agrees with the flags;
 *   once_per_pass       a pass runs a BH at most once (B5);
 *   no_use_after_free   no access to a BH's word or link, by a producer (the
 *                       CAS, the coalescing RMW, the hold, both bts, the
 *                       release, the push, cancel, delete) or by the owner
 *                       (look, pop, claim), after the pass freed it (ghost
 *                       freed[]);
 *   not_queued_twice    a node is never pushed while it is queued (ghost inq[]).
 * The owner's sleep is the only blocking statement and not an end state, so a
 * deadlock anywhere is an error too ("invalid end state").
 *
 * DELETE FROM A CALLBACK (-DCB_DELETE): the run of BH 1 may delete BH 1 from
 * its callback, while both producers schedule it (normal and idle) and the
 * pass frees it. A schedule or cancel whose first access to the BH comes
 * after that run has begun is the caller's bug (B10: the callback could not
 * know of it) and is not made (ghost gdead[]); every other producer step
 * must find the BH alive.
 *
 * MEMORY MODEL. Promela is sequentially consistent: this checks the protocol's
 * logic under SC. What makes SC the right model for the variables involved
 * is the C code's seq_cst operations and fences, argued in notify.c and
 * docs/design.md 5, not checked here: every enqueue is a seq_cst RMW (the
 * push's exchange of `last`, the word's CAS / fetch_add / bts); the producer's
 * loads of notify_me are seq_cst; the owner stores notify_me seq_cst then
 * fences (F_C) before it loads `notified` (seq_cst), `last` and the flags;
 * `notified` is exchanged seq_cst; accept fences (F_A) after clearing
 * `notified`. The link store is a release store, not seq_cst: under weak
 * memory the linker's load of notify_me may miss the GAP bit, which the C
 * covers with the bounded gap sleep; the model proves that under SC the
 * link's wake alone suffices. Where the C is weaker than seq_cst:
 *   - aio_notify_wake()'s relaxed pre-check of `notified` only skips work.
 *     With -DWEAK it may also read a stale `true` when the owner accepted
 *     (F_A) after this producer's last enqueue step (ghosts win[],
 *     acc_since[]), the case notify.c argues is harmless (the pass after F_A
 *     sees the BH);
 *   - aio_notify_disarm() is a relaxed store: with -DWEAK a producer may still
 *     read the old bits (ghost nm_stale) and write the eventfd needlessly;
 *   - aio_notify_accept()'s relaxed pre-check: with -DWEAK it may read a stale
 *     `false` and skip the accept (@accept_skip);
 *   - aio_spin_for_work()'s relaxed loads are a hint: it says "work" or "no
 *     work" at will (@spin_hint), and only "work" skips the sleep;
 *   - bh_make_pending()'s relaxed first load only picks the path (above);
 *   - cancel (release fetch_and), delete's CAS (acq_rel) and the claim's CAS
 *     (acq_rel) only take pending work away; delete's push is a seq_cst
 *     exchange like any push;
 *   - the owner's acquire loads of `last`, ->next and the flags follow F_C (or
 *     are the pass's, on the owner's own thread), and pair with the push's
 *     release link store and the flags' RMWs.
 *
 * ABSTRACTED. Three BHs: BH 1 is shared by both producers (with -DCB_DELETE
 * its callback may delete it); BH 2 is producer 0's, and its callback may
 * reschedule it once (a schedule on the owner's thread, during the pass);
 * BH 3 is producer 1's, which may delete it and then leaves it alone
 * (touching a BH after its delete returned is the user's bug). Not
 * modelled: oneshots (the CAS fast path plus a flag, on a BH nobody else can
 * reach; freed after its run), nested passes (B14), fd handlers, timers,
 * signal handlers (one more producer whose steps interleave the same way),
 * slab reuse, the eventfd's count, time. aio_prepare_to_sleep()'s memory of
 * the gap it spun on (gap_seen) is not kept: the spin is a look, at a later
 * moment, that the path without it covers.
 *
 * KEEPING IN STEP. Each modelled step carries a tag @name in a comment here;
 * the C names the tags of its steps in comments "Model: tests/model/gaio.pml
 * @name", and run-spin.sh fails if a tag named in gaio/ is missing here.
 *
 * BROKEN VARIANTS (-DBROKEN_x), each one check or barrier removed or an older
 * protocol put back; run-spin.sh requires Spin to reject each:
 *   BROKEN_NO_FC        the owner's notify_me store becomes visible only after
 *                       its look at `notified` and the queue (store buffering:
 *                       what F_C forbids);
 *   BROKEN_NO_LINKING   bh_queue_state() takes a node still linking for the end
 *                       of the queue (no gap, no GAP bit);
 *   BROKEN_NO_NOTIFIED  aio_look() does not look at `notified`;
 *   BROKEN_PRODUCER_ORDER  the producer loads notify_me before its enqueue
 *                       (what a non-seq_cst enqueue would allow);
 *   BROKEN_DELETE_SPLIT qemu_bh_delete() in two steps (DELETED, then QUEUED
 *                       and the push): the pass frees the BH in between;
 *   BROKEN_PUSH_ON_KIND the slow path pushes when it set the kind bit, without
 *                       the QUEUED test-and-set;
 *   BROKEN_LATE_CLEAR   the claim clears QUEUED but the pending bits only
 *                       after the callback;
 *   BROKEN_NO_HOLD      the protocol before holds: the slow path is bts kind
 *                       then bts QUEUED, and the idle fast path re-reads the
 *                       word after its push, all without a hold: a callback
 *                       that deletes its BH lets the pass free it under them;
 *   BROKEN_IDLE_NO_RECHECK  the idle fast path takes no hold and wakes for
 *                       idle after its push, without looking at the word
 *                       again: a normal schedule that found it QUEUED (and
 *                       could not push) is left unannounced to an owner
 *                       sleeping with the idle bound;
 *   BROKEN_NO_GAP_WAKE  no wake mask has GAP: the linker does not wake an
 *                       owner asleep on its gap;
 *   BROKEN_SPIN_ON_GAP  the protocol before: a gap means timeout 0, the owner
 *                       never sleeps on it (a producer stopped at the gap
 *                       makes it busy-wait);
 *   BROKEN_IDLE_NO_WAKE an idle schedule never wakes an owner sleeping past
 *                       the idle bound (only a gap sleeper).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define NPROD   2
#define NB      3           /* BHs 1..NB; node 0 is the queue's stub */
#define NN      4
#define STUB    0
#define NIL     255

#ifndef NOPS
#define NOPS    2           /* operations per producer */
#endif
#ifndef NOPS0
#define NOPS0   NOPS        /* ... for producer 0 */
#endif
#ifndef NOPS1
#define NOPS1   NOPS        /* ... for producer 1 */
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

/* The BH word, as in bh.c (ONESHOT is not modelled): two bits of hold
 * count are enough for two producers. */
#define F_NORMAL   1
#define F_IDLE     2
#define F_QUEUED   4
#define F_DELETED  8
#define F_ORPHAN   16
#define F_HOLD1    32
#define F_HOLDS    96
#define F_PENDING  3

/* notify_me bits and the wake masks, as in notify-private.h */
#define NM_ARMED   1
#define NM_LONG    2
#define NM_GAP     4
#ifdef BROKEN_NO_GAP_WAKE
#define W_NORMAL   (NM_ARMED | NM_LONG)
#define W_IDLE     NM_LONG
#define W_LINK     0
#else
#define W_NORMAL   (NM_ARMED | NM_LONG | NM_GAP)
#ifdef BROKEN_IDLE_NO_WAKE
#define W_IDLE     NM_GAP
#else
#define W_IDLE     (NM_LONG | NM_GAP)
#endif
#define W_LINK     NM_GAP
#endif
/* bh_wake_for(): what a push (or a pending state) must wake the owner for */
#define WAKE_FOR(o) ((o) & F_DELETED -> W_LINK : ((o) & F_NORMAL -> W_NORMAL : \
                     ((o) & F_IDLE -> W_IDLE : W_LINK)))

/* How long the owner may sleep */
#define T_ZERO  0
#define T_IDLE  1           /* AIO_IDLE_BH_TIMEOUT_NS: may time out */
#define T_INF   2           /* -1: until woken */
#define T_GAP   3           /* AIO_GAP_SLEEP_NS on a gap: modelled as until
                               woken, so the link's wakeup must suffice */
/* aio_look_notify_bits() */
#define BITS(t, g)  (NM_ARMED | (t == T_INF -> NM_LONG : 0) | (g != NIL -> NM_GAP : 0))

/* BHQueueState */
#define QS_EMPTY    0
#define QS_GARBAGE  1
#define QS_IDLE     2
#define QS_NORMAL   3

/* Looks at a gap with nothing to do, without sleeping: the first look, the
 * one after the spin, and one after each of at most two arms that follow. */
#define GAP_LOOKS_MAX 4

/* --- shared state --- */
byte flags[NN];             /* QEMUBH.flags (flags[STUB] unused) */
byte next[NN];              /* MpscNode.next */
byte last = STUB;           /* MpscQueue.last */
byte first = STUB;          /* MpscQueue.first: owner only */
byte notify_me;             /* NM_* bits */
bool notified;
bool efd;                   /* the wakeup eventfd is readable */

/* --- ghosts --- */
bool freed[NN];             /* the pass freed this BH */
bool gpend[NN];             /* a pending period whose run has not started */
bool inq[NN];               /* pushed (exchanged into `last`) and not popped */
bool ranthis[NN];           /* ran in the current pass */
bool gdead[NN];             /* the run whose callback deletes it has begun:
                               a schedule or cancel that has not touched the
                               BH yet is a caller's bug, and is not made */
bool acc_since[3];          /* the owner accepted (F_A) since this thread's
                               enqueue, while in win[] */
bool win[3];                /* between a producer's enqueue and its pre-check
                               of `notified` (or the end of its call) */
#ifdef WEAK
#define ENQ     acc_since[me] = 0; win[me] = 1
#define ENDWIN  acc_since[me] = 0; win[me] = 0
#define NM_BITS (notify_me | nm_stale)
#define NM_FRESH nm_stale = 0
#define ACC_SYNC acc_since[me] = 0
#else
#define ACC_SYNC skip
#define ENQ     skip
#define ENDWIN  skip
#define NM_BITS notify_me
#define NM_FRESH skip
#endif
byte nm_stale;              /* a relaxed disarm: producers may read old bits */
bool deleted3;              /* producer 1 deleted BH 3 */
bool gnote;                 /* an aio_notify() the owner has not accepted */
byte pdone;                 /* producers finished */

/* Each property is asserted through a hidden (stateless) flag named after
 * it, so that Spin's report names the property that failed. */
hidden byte no_use_after_free, not_queued_twice, one_period_at_a_time,
            coalesced_into_pending, no_period_dropped, run_has_period,
            once_per_pass, no_lost_wakeup, no_lost_notify, no_lost_idle_wakeup,
            no_busy_wait_on_gap;
#define CHECK(v, e) v = (e); assert(v)
#define alive(n)    CHECK(no_use_after_free, (n) == STUB || !freed[n])
#define NPEND(b)    ((flags[b] & F_NORMAL) && !(flags[b] & F_DELETED))
#define IPEND(b)    ((flags[b] & F_PENDING) && !(flags[b] & F_DELETED))

/* ------------------------------------------------------------------ */
/* mpsc_queue_push(): exchange, then link (the gap lies between; a     */
/* producer may stay there as long as it likes).                      */
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
            :: atomic { notify_me != 0 -> skip };
                efd = 1                         /* @wake_write */
#ifdef WEAK
            :: atomic { notify_me == 0 && nm_stale != 0 -> skip };
                efd = 1
#endif
            :: atomic { notify_me == 0 -> skip }
            fi
        fi
    fi
}

/* aio_notify_enqueued(ctx, m): wake iff notify_me & m (maybe stale bits).
 * Bits read fresh were armed after the owner's last accept (it accepts only
 * disarmed): the load synchronizes with that arm, so the pre-check of
 * `notified` that follows cannot read a `true` older than the accept. */
inline notify_enqueued(m)
{
    if                                          /* @enq_load */
    :: atomic { (notify_me & (m)) != 0 -> ACC_SYNC }; notify_wake()
#ifdef WEAK
    :: atomic { (notify_me & (m)) == 0 && (nm_stale & (m)) != 0 -> skip };
        notify_wake()
#endif
    :: atomic { (notify_me & (m)) == 0 -> skip }
    fi
}

/* ------------------------------------------------------------------ */
/* bh_release(): drop a hold; the word it returns says what to wake   */
/* for; the last holder of an ORPHAN pushes it again.                  */
inline release(b)
{
    atomic {                                    /* @sched_release */
        alive(b);
        old = flags[b];
        flags[b] = flags[b] - F_HOLD1 };
    if
    :: (old & F_ORPHAN) && (old & F_HOLDS) == F_HOLD1 ->
        old = 0;
        push(b, prev);                          /* @orphan_push */
        wake = wake | W_LINK
    :: else ->
        if
        :: pushed -> wake = wake | WAKE_FOR(old)
        :: else
        fi;
        old = 0
    fi
}

/* The hold (@sched_hold): old = the word before. */
#define HOLD(b) alive(b); ENQ; old = flags[b]; flags[b] = flags[b] + F_HOLD1
/* The hold found the BH pending as kind, or normal: coalesced. */
#define COALESCED(kind) ((old & (kind | F_NORMAL)) && !(old & F_DELETED))

/* The test-and-set of the kind bit (@sched_bts_kind): r = it was clear. */
#define BTS_KIND(b, kind) \
        alive(b); ENQ; old = flags[b]; r = !(old & kind); \
        if \
        :: old & F_DELETED -> skip \
        :: !(old & F_DELETED) && (old & kind) -> \
            CHECK(coalesced_into_pending, gpend[b]) \
        :: !(old & F_DELETED) && !(old & kind) && (old & F_PENDING) -> \
            CHECK(coalesced_into_pending, gpend[b]) \
        :: !(old & F_DELETED) && !(old & F_PENDING) -> \
            CHECK(one_period_at_a_time, !gpend[b]); gpend[b] = 1 \
        fi; \
        flags[b] = flags[b] | kind; old = 0

/* Without CB_DELETE no BH is deleted while a schedule holds it: the hold
 * alone then changes nothing anyone acts on before the release, and it is
 * one step with the bts of the kind (fewer states; path 4). With CB_DELETE,
 * two steps (path 1). */
#ifdef CB_DELETE
#define HOLD_KIND(b, kind) \
        if \
        :: COALESCED(kind) -> CHECK(coalesced_into_pending, gpend[b]); path = 5 \
        :: else -> path = 1 \
        fi
#else
#define HOLD_KIND(b, kind) \
        if \
        :: COALESCED(kind) -> CHECK(coalesced_into_pending, gpend[b]); path = 5 \
        :: else -> \
            path = 1; \
            if \
            :: !(old & F_DELETED) -> BTS_KIND(b, kind); path = 4 \
            :: else \
            fi \
        fi
#endif

/* bh_make_pending(b, kind): wake = what to wake the owner for. The relaxed
 * load (@sched_load) picks the path and is folded into the path's first
 * read-modify-write: the CAS (only possible on a word neither queued, pending
 * nor deleted), the coalescing no-op RMW or the hold (both always possible:
 * the load may be stale). That first step is where the call touches the BH
 * first: a call whose first step would come after the deleting run began
 * (gdead) is a caller's bug and is not made. */
inline make_pending(b, kind)
{
    wake = 0; pushed = 0; r = 0; path = 0;
    if
    :: atomic { gdead[b] -> path = 0 }
    :: atomic { !gdead[b] && !(flags[b] & (F_QUEUED | F_PENDING | F_DELETED)) ->
        alive(b);                               /* @sched_cas */
        flags[b] = flags[b] | F_QUEUED | kind;
#if !defined(BROKEN_NO_HOLD) && !defined(BROKEN_IDLE_NO_RECHECK)
        if :: kind == F_IDLE -> flags[b] = flags[b] + F_HOLD1 :: else fi;
#endif
        CHECK(one_period_at_a_time, !gpend[b]);
        gpend[b] = 1;
        ENQ };
        push(b, prev);
        if
        :: kind == F_NORMAL -> wake = W_NORMAL  /* done: it may run and be freed */
        :: else ->
#if defined(BROKEN_NO_HOLD)
            /* the old idle recheck: re-read the word, without a hold */
            atomic { alive(b); old = flags[b] };
            wake = (old & F_NORMAL -> W_NORMAL : W_IDLE); old = 0
#elif defined(BROKEN_IDLE_NO_RECHECK)
            wake = W_IDLE
#else
            pushed = 1;
            release(b)
#endif
        fi
    /* Coalesced: the CAS that writes the word back unchanged succeeds only
     * while the BH shows pending as kind (or normal); a failed one writes
     * nothing and is the same as not taking this branch (the hold below). */
    :: atomic { !gdead[b] && (flags[b] & (kind | F_NORMAL)) && !(flags[b] & F_DELETED) ->
        alive(b);                               /* @sched_coalesce */
        ENQ;
        CHECK(coalesced_into_pending, gpend[b]) }
#ifdef BROKEN_COALESCE_UNHELD
    /* The protocol before: coalescing as one no-op RMW without a hold, and,
     * if the BH was not pending any more (the relaxed load before may be
     * stale), the hold only afterwards: in between, the BH may run, be
     * deleted and freed. */
    :: atomic { !gdead[b] ->
        alive(b);
        ENQ;
        old = flags[b];
        if
        :: COALESCED(kind) -> CHECK(coalesced_into_pending, gpend[b])
        :: else -> path = 2                     /* not any more: hold */
        fi;
        old = 0 };
        if
        :: path == 2 -> atomic { HOLD(b); HOLD_KIND(b, kind) }
        :: else
        fi
#endif
#ifndef BROKEN_NO_HOLD
    /* The hold, the call's first write, also decides coalescing. */
    :: atomic { !gdead[b] -> HOLD(b); HOLD_KIND(b, kind) }    /* @sched_hold */
#else
    :: atomic { !gdead[b] -> BTS_KIND(b, kind); path = 3 }
#endif
    fi;
#ifndef BROKEN_NO_HOLD
    if
    :: path == 1 || path == 4 ->
        /* held: old is the word before the hold (path 1) */
        if
        :: path == 4 || !(old & F_DELETED) ->
            if
            :: path == 1 -> atomic { BTS_KIND(b, kind) }   /* @sched_bts_kind */
            :: else
            fi;
            if
            :: r -> wake = (kind == F_NORMAL -> W_NORMAL : W_IDLE)
            :: else
            fi;
#ifdef BROKEN_PUSH_ON_KIND
            if :: r -> push(b, prev); pushed = 1 :: else fi
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
        :: else -> old = 0
        fi;
        release(b)
    :: path == 5 -> old = 0; release(b)         /* coalesced: drop the hold */
    :: else
    fi;
#else
    /* the old slow path: bts kind, then (if it set it) bts QUEUED */
    if
    :: path == 2 -> atomic { BTS_KIND(b, kind) }; path = 3
    :: else
    fi;
    if
    :: path == 3 && r ->
        wake = (kind == F_NORMAL -> W_NORMAL : W_IDLE);
        atomic { alive(b); ENQ; old = flags[b]; flags[b] = flags[b] | F_QUEUED };
        if
        :: !(old & F_QUEUED) -> old = 0; push(b, prev); wake = wake | W_LINK
        :: else -> old = 0
        fi
    :: else
    fi;
#endif
    path = 0; r = 0; pushed = 0
}

/* qemu_bh_schedule(): make pending, then aio_notify_enqueued(wake). */
inline schedule(b)
{
#ifdef BROKEN_PRODUCER_ORDER
    early = NM_BITS;
#endif
    make_pending(b, F_NORMAL);
#ifdef BROKEN_PRODUCER_ORDER
    if :: (early & wake) -> notify_wake() :: else fi;
    early = 0;
#else
    notify_enqueued(wake);
#endif
    wake = 0
}

/* qemu_bh_schedule_idle(): the same, as idle. */
inline schedule_idle(b)
{
    make_pending(b, F_IDLE);
    notify_enqueued(wake);
    wake = 0
}

/* qemu_bh_cancel(): one fetch_and clearing the pending bits. */
inline cancel(b)
{
    if
    :: atomic { gdead[b] -> skip }
    :: atomic { !gdead[b] ->                    /* @cancel */
        alive(b);
        flags[b] = flags[b] & ~F_PENDING;
        gpend[b] = 0 }
    fi
}

/* qemu_bh_delete(): CAS loop to "deleted and queued" (holds and ORPHAN
 * kept), push if it was not queued, and wake a gap sleeper only. */
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
    :: !(old & F_QUEUED) -> old = 0; push(b, prev);   /* @del_push */
        notify_enqueued(W_LINK)
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

/* ------------------------------------------------------------------ */
/* The owner's side.                                                   */

/* bh_queue_state(): walk from first up to the `last` read now, or to a
 * gap (g: the node whose successor is exchanged but not linked). */
inline queue_state(st, g)
{
    atomic { lst = last; node = first; st = QS_EMPTY; g = NIL };    /* @qs_last */
    do
    :: atomic {
        if
        :: node != STUB ->
            alive(node);
            f = flags[node];                    /* @qs_flags */
            if
            :: (f & F_NORMAL) && !(f & F_DELETED) -> st = QS_NORMAL
            :: (f & F_IDLE) && !(f & F_NORMAL) && !(f & F_DELETED) -> st = QS_IDLE
            :: !(f & F_PENDING) || (f & F_DELETED) ->
                if :: st == QS_EMPTY -> st = QS_GARBAGE :: else fi
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
        nx = next[node];                        /* @qs_next */
        if
#ifdef BROKEN_NO_LINKING
        :: nx == NIL -> break
#else
        :: nx == NIL -> g = node; break         /* @qs_linking: a gap */
#endif
        :: else -> node = nx
        fi;
        nx = 0 }
    od;
    node = 0; lst = 0
}

/* aio_look(): t and the gap g. gap_looks counts the looks, since the owner
 * last slept or found work, that found only a gap to wait for. */
inline look(t, g)
{
    g = NIL;
#ifndef BROKEN_NO_NOTIFIED
    if
    :: atomic { notified -> t = T_ZERO; gap_looks = 0 }  /* @ct_notified */
    :: atomic { !notified -> skip };
#endif
        queue_state(st, g);
        atomic {
            if
            :: st == QS_NORMAL -> t = T_ZERO; g = NIL
#ifdef BROKEN_SPIN_ON_GAP
            /* the old protocol: a gap means timeout 0 */
            :: st != QS_NORMAL && g != NIL -> t = T_ZERO
            :: st == QS_IDLE && g == NIL -> t = T_IDLE
            :: st != QS_NORMAL && st != QS_IDLE && g == NIL -> t = T_INF
#else
            :: st == QS_IDLE -> t = T_IDLE
            :: st != QS_NORMAL && st != QS_IDLE -> t = T_INF
#endif
            fi;
            if
            :: g != NIL ->
                gap_looks++;
                CHECK(no_busy_wait_on_gap, gap_looks <= GAP_LOOKS_MAX)
            :: else -> gap_looks = 0
            fi;
            st = 0 };
#ifndef BROKEN_NO_NOTIFIED
    fi
#endif
}

/* aio_notify_disarm(): relaxed store; producers may still read the bits. */
inline disarm()
{
    atomic {                                    /* @disarm */
#ifdef WEAK
        if :: notify_me != 0 -> nm_stale = notify_me :: else fi;
#endif
        notify_me = 0 }
}

/* aio_prepare_to_sleep(): look; on a gap (a new one, or not: at will),
 * spin and look again; arm with the bits the look asks for, look again,
 * re-arm while the bits grow; a gap left: sleep on it (T_GAP). */
inline prepare_to_sleep(t)
{
    look(t, g);                                 /* @prep_first_look */
    /* @gap_spin: on a gap not seen before, the C spins a bounded time and
     * looks again. A look after a spin is a look at a later moment, which
     * the path without the spin covers (the first look only reads), so the
     * spin is one more look at a gap to wait for, counted, not repeated. */
    if
    :: atomic { t != T_ZERO && g != NIL -> gap_looks++ }
    :: else
    fi;
    armed = 0;
    do
    :: t == T_ZERO ->
        if
        :: armed -> disarm()                    /* @prep_disarm */
        :: else
        fi;
        break
    :: t != T_ZERO && (BITS(t, g) | armed) == armed -> break
    :: t != T_ZERO && (BITS(t, g) | armed) != armed ->
        armed = armed | BITS(t, g);
#ifndef BROKEN_NO_FC
        atomic { notify_me = armed; NM_FRESH }; /* @arm: store, F_C */
        look(t, g)                              /* @prep_look */
#else
        look(t, g);
        atomic { notify_me = armed; NM_FRESH }
#endif
    od;
    if
    :: t == T_INF && g != NIL -> t = T_GAP
    :: else
    fi;
    armed = 0; g = NIL
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

/* The owner asleep, eventfd empty, producers done: nothing will wake it.
 * With no timeout (T_INF, T_GAP) it sleeps for ever: legitimate only when
 * not on a gap (all are linked by now: the link did not wake it), no BH is
 * pending, normal (no_lost_wakeup) or idle (no_lost_idle_wakeup, B7), and
 * no aio_notify() is unaccepted. With the idle timeout it wakes only by the
 * timeout: legitimate only with no normal BH and no notify waiting. */
#define STUCK       (!efd && pdone == NPROD)
#define FOREVER(t)  (STUCK && (t == T_INF || t == T_GAP))
inline sleep_forever(t)
{
    CHECK(no_lost_wakeup, t != T_GAP && !NPEND(1) && !NPEND(2) && !NPEND(3));
    CHECK(no_lost_notify, !gnote);
    CHECK(no_lost_idle_wakeup, !IPEND(1) && !IPEND(2) && !IPEND(3))
}
inline sleep_timeout()
{
    if
    :: STUCK ->
        CHECK(no_lost_wakeup, !NPEND(1) && !NPEND(2) && !NPEND(3));
        CHECK(no_lost_notify, !gnote)
    :: else
    fi;
    gap_looks = 0
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

/* bh_claim(b, keep) then bh_free_if_deleted(): one CAS (its failed rounds
 * change nothing). old = the word before, 0 if keep and pending (nothing
 * changed). A deleted BH is freed, or handed to its holders (ORPHAN); else
 * everything but the holds is cleared, and a pending BH runs (torun). */
inline claim(b, keep)
{
    atomic {                                    /* @run_claim */
        alive(b);
        old = flags[b];
        if
        :: old & F_DELETED ->
            CHECK(no_period_dropped, !gpend[b]);
            if
            :: old & F_HOLDS -> flags[b] = old | F_ORPHAN
            :: else -> flags[b] = 0; freed[b] = 1   /* @run_free */
            fi
        :: !(old & F_DELETED) && keep && (old & F_PENDING) -> old = 0
        :: !(old & F_DELETED) && !(keep && (old & F_PENDING)) ->
#ifndef BROKEN_LATE_CLEAR
            flags[b] = old & F_HOLDS;
#else
            flags[b] = old & (F_HOLDS | F_PENDING);
#endif
            if
            :: !(old & F_PENDING) -> CHECK(no_period_dropped, !gpend[b])
            :: old & F_PENDING ->
                CHECK(run_has_period, gpend[b]);
                gpend[b] = 0;
                CHECK(once_per_pass, !ranthis[b]);
                ranthis[b] = 1;
                torun = 1;
                if :: old & F_NORMAL -> progress = 1 :: else fi;
#ifdef CB_DELETE
                /* BH 1's callback may delete it: from here on, a schedule
                 * that has not touched it yet is the caller's bug. */
                if :: b == 1 -> gdead[1] = 1; cbdel = 1 :: b == 1 :: else fi
#endif
            fi
        fi };
}

/* bh_run() */
inline bh_run(b)
{
    torun = 0; cbdel = 0;
    claim(b, 0);
    old = 0;
    if                                          /* @callback */
    :: torun && b == 2 && !resched -> resched = 1; schedule(2)
    :: cbdel -> delete(1)
    :: true
    fi;
#ifdef BROKEN_LATE_CLEAR
    if :: torun -> atomic { flags[b] = flags[b] & ~F_PENDING } :: else fi;
#endif
    torun = 0; cbdel = 0
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

/* bh_queue_reclaim(): pop the leftovers at the front; a pending BH is put
 * back (unpop) and ends it. */
inline reclaim()
{
    do
    :: pop(node);
        if
        :: node == NIL -> break                 /* @reclaim */
        :: node == STUB
        :: node != NIL && node != STUB ->
            claim(node, 1);
            if
            :: old == 0 -> atomic { first = node; inq[node] = 1 }; break
            :: else -> old = 0
            fi
        fi
    od;
    node = 0; old = 0
}


proctype producer(byte me; byte menu; byte nops)
{
    byte i, b, op, prev, old, wake, early, path;
    bool r, pushed;

    do
    :: atomic { i < nops ->
        i++;
        b = 0; op = 0; ENDWIN;
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
    :: atomic { i == nops -> b = 0; op = 0; ENDWIN; pdone++ };
        break
    od
}

proctype consumer()
{
    byte me = 2;
    byte node, nx, prev, old, pend, lst, f, st, t, g, armed, gap_looks;
    byte wake, early, path;
    bool r, pushed, progress, made_progress, readable, torun, resched, cbdel;

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
        :: atomic { efd -> gap_looks = 0 };     /* @sleep_wake */
            atomic { efd = 0 }                  /* @sleep_clear */
        :: atomic { t == T_IDLE -> sleep_timeout() }   /* @sleep_timeout */
        :: atomic { FOREVER(t) -> sleep_forever(t) };  /* @sleep_forever */
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
    t = 0; progress = 0;
    goto loop;

gsource:
    reclaim();                                  /* @gs_prepare: reclaim, */
    prepare_to_sleep(t);                        /* then prepare_to_sleep */
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
    :: atomic { efd -> readable = 1; gap_looks = 0 }   /* @gs_poll_wake */
    :: atomic { t == T_IDLE -> readable = 0; sleep_timeout() } /* @gs_poll_timeout */
    :: atomic { FOREVER(t) -> sleep_forever(t) };      /* @sleep_forever */
        goto finished
#ifdef GLIB_SKIP
    :: atomic { readable = efd; gap_looks = 0 };       /* @gs_skip_check */
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
    queue_state(st, g);                         /* @gs_check_queue: */
    if                                          /* not for leftovers */
    :: st == QS_NORMAL || st == QS_IDLE -> st = 0; g = NIL; goto gs_dispatch
    :: else -> st = 0; g = NIL; goto loop       /* nor for a gap */
    fi;
gs_dispatch:
    disarm();                                   /* @gs_dispatch */
    if
    :: readable -> efd = 0                      /* @gs_clear */
    :: else
    fi;
    accept();
    pass();
    t = 0; readable = 0; progress = 0;
    goto loop;

finished:
    skip
}

init {
    atomic {
        next[0] = NIL; next[1] = NIL; next[2] = NIL; next[3] = NIL;
        inq[STUB] = 1;
        run producer(0, MENU0, NOPS0);
        run producer(1, MENU1, NOPS1);
        run consumer()
    }
}
