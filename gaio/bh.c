/* bh.c: the BH queue: schedule, pass, cancel, delete.
 *
 * A BH's life is carried by one atomic word:
 *   NORMAL   pending as a normal (waking, progress-making) BH;
 *   IDLE     pending as an idle BH (NORMAL, if also set, wins);
 *   QUEUED   it sits in ctx->bh_queue: whoever sets it pushes, the pass that
 *            pops it clears it;
 *   DELETED  qemu_bh_delete() ran: the pass that pops it frees it;
 *   ONESHOT  aio_bh_schedule_oneshot()'s: freed after its run;
 *   ORPHAN   deleted, popped while a schedule held it: the last holder
 *            pushes it again, so that a later pass frees it;
 *   HOLD     (the high 16 bits) how many schedules are inside their slow
 *            path: while it is not 0, no pass frees the BH.
 * A BH is pending (SPEC: from schedule until its callback starts) while NORMAL
 * or IDLE is set.
 *
 * The rule every schedule keeps (B10): from its first write to the BH's word
 * on, a schedule touches the BH's memory only while it holds it, or as the
 * push that is its last access. The common case needs no hold: a
 * compare-and-swap from "not queued, not pending" claims the BH and the push
 * is the last access. Coalescing into a pending BH is one compare-and-swap
 * that writes the word back unchanged, its only write. Everything else (a
 * queued leftover, an idle BH upgraded, a race) first adds a hold, sets its
 * bits one at a time, pushes if it set QUEUED, and drops the hold; the word
 * that drop returns tells what to wake for. (A delete whose write comes before a
 * schedule's first write is ordered before that schedule: scheduling after a
 * delete is the caller's bug, which nothing could make safe, since the
 * schedule's first access may come after the free.) An idle schedule
 * always drops a hold after its push, to learn whether the BH became normal
 * meanwhile (a normal schedule in between cannot push and may notify too
 * early; the Spin model found that race, @idle_recheck).
 *
 * Every step is one instruction that cannot fail or retry (B13): lock cmpxchg
 * once, lock xadd, lock bts; see bh_test_and_set() for why the bit-set is
 * written in assembly on x86. The pass and delete may loop: they run on the
 * owner, or are allowed to (B12).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "bh-private.h"
#include "bh-slab-private.h"
#include "notify-private.h"
#include "poll-private.h"
#include "test-hooks-private.h"

enum {
    BH_NORMAL_BIT = 0,
    BH_IDLE_BIT = 1,
    BH_QUEUED_BIT = 2,
    BH_NORMAL = 1u << BH_NORMAL_BIT,
    BH_IDLE = 1u << BH_IDLE_BIT,
    BH_QUEUED = 1u << BH_QUEUED_BIT,
    BH_DELETED = 1u << 3,
    BH_ONESHOT = 1u << 4,
    BH_ORPHAN = 1u << 5,
    BH_PENDING = BH_NORMAL | BH_IDLE,
    /* Up to 65,535 schedules of one BH inside their slow path at once
     * (threads plus nested signal handlers). */
    BH_HOLD_ONE = 1u << 16,
};
#define BH_HOLD_MASK (~(BH_HOLD_ONE - 1))

/* x86's lock bts sets one bit and returns its old value; it cannot fail.
 * GCC compiles "fetch_or(bit) & bit" to it, clang 14 to a lock cmpxchg retry
 * loop, which is not wait-free (B13). So, on x86, the instruction itself.
 * Sanitizer builds keep the C11 atomic, which ASan and TSan instrument. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__SANITIZE_ADDRESS__) &&          \
    !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if !__has_feature(address_sanitizer) && !__has_feature(thread_sanitizer)
#define BH_X86_BTS 1
#endif
#else
#define BH_X86_BTS 1
#endif
#endif

/* One pass in progress. Passes nest (a callback calling aio_poll()); each ends
 * once the node that was last in the queue when it started has been popped, by
 * itself or by a nested pass (B14). */
struct BHPass {
    MpscNode *end;
    bool done;
    BHPass *outer;
};

static inline QEMUBH *
bh_from_node(MpscNode *node)
{
    return (QEMUBH *)node;
}

void
bh_context_init(AioContext *ctx)
{
    mpsc_queue_init(&ctx->bh_queue);
    ctx->bh_passes = NULL;
    ctx->bh_visits = 0;
    ctx->gap_seen = NULL;
    bh_slabs_init(&ctx->bh_slabs);
}

static QEMUBH *
bh_alloc(AioContext *ctx, QEMUBHFunc *cb, void *opaque, const char *name, unsigned flags)
{
    QEMUBH *bh = bh_slab_alloc(ctx, name);

    atomic_init(&bh->node.next, NULL);
    atomic_init(&bh->flags, flags);
    bh->cb = cb;
    bh->opaque = opaque;
    return bh;
}

static void
bh_report_leftover(QEMUBH *bh)
{
    unsigned flags = atomic_load_explicit(&bh->flags, memory_order_relaxed);

    if (!(flags & (BH_DELETED | BH_ONESHOT)))
        g_debug("AioContext %p finalized with BH '%s' (%p) never deleted",
                (void *)bh_context(bh), bh_name(bh) ? bh_name(bh) : "(unnamed)",
                (void *)bh);
}

void
bh_context_finalize(AioContext *ctx)
{
    bh_slabs_clear(&ctx->bh_slabs, bh_report_leftover);
}

QEMUBH *
aio_bh_new_full(AioContext *ctx, QEMUBHFunc *cb, void *opaque, const char *name)
{
    g_return_val_if_fail(ctx != NULL, NULL);
    g_return_val_if_fail(cb != NULL, NULL);

    return bh_alloc(ctx, cb, opaque, name, 0);
}

QEMUBH *(aio_bh_new)(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    return aio_bh_new_full(ctx, cb, opaque, NULL);
}

QEMUBH *(qemu_bh_new)(QEMUBHFunc *cb, void *opaque)
{
    return aio_bh_new_full(qemu_get_aio_context(), cb, opaque, NULL);
}

/* Sets bit @bit and tells whether it was set already: one lock bts, which
 * cannot fail or retry. seq_cst: it is an enqueue as notify.c means it, and
 * pairs with the claim in bh_claim() so the pass that clears the bit sees
 * everything written before this schedule. */
static inline bool
bh_test_and_set(QEMUBH *bh, unsigned bit)
{
#ifdef BH_X86_BTS
    bool was_set;

    /* The asm is a full barrier, as the seq_cst fetch_or it replaces. */
    __asm__ __volatile__("lock btsl %2, %0"
                         : "+m"(*(unsigned *)&bh->flags), "=@ccc"(was_set)
                         : "Ir"(bit)
                         : "memory");
    return was_set;
#else
    return (atomic_fetch_or_explicit(&bh->flags, 1u << bit, memory_order_seq_cst) >> bit) & 1;
#endif
}

/* True if a schedule as @kind finding the word @flags coalesces: the BH is
 * pending as @kind already, or as normal (which wins over an idle schedule),
 * and its run is still to start. */
static inline bool
bh_coalesces(unsigned flags, unsigned kind)
{
    return (flags & (kind | BH_NORMAL)) && !(flags & BH_DELETED);
}

/* What a push or a new pending state must wake the owner for (a mask of
 * notify_me bits, notify-private.h), given the BH's word. */
static inline unsigned
bh_wake_for(unsigned flags)
{
    if (flags & BH_DELETED)
        return AIO_WAKE_FOR_LINK;
    if (flags & BH_NORMAL)
        return AIO_WAKE_FOR_NORMAL;
    if (flags & BH_IDLE)
        return AIO_WAKE_FOR_IDLE;
    return AIO_WAKE_FOR_LINK; /* cancelled meanwhile: only a gap sleeper */
}

/* Drops one hold. The returned word is the BH as this schedule leaves it: if
 * @pushed, the wake it owes for its push. A deleted BH that a pass popped
 * meanwhile (ORPHAN) goes back into the queue from its last holder, so that a
 * later pass frees it; nobody else can reach it by then. */
static G_NO_INLINE unsigned
bh_release(AioContext *ctx, QEMUBH *bh, bool pushed)
{
    /* seq_cst, pairs with the CAS in bh_claim(): a claim before this saw our
     * hold and left a deleted BH to us (ORPHAN, seen here); a claim after it
     * may free the BH, which this call no longer touches. */
    /* Model: tests/model/gaio.pml @sched_release. */
    unsigned old = atomic_fetch_sub_explicit(&bh->flags, BH_HOLD_ONE, memory_order_seq_cst);

    if (G_UNLIKELY((old & BH_ORPHAN) && (old & BH_HOLD_MASK) == BH_HOLD_ONE)) {
        /* Model: tests/model/gaio.pml @orphan_push. */
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
        return AIO_WAKE_FOR_LINK;
    }
    return pushed ? bh_wake_for(old) : 0;
}

/* bh_make_pending() when the BH is not free to claim: already pending (a
 * coalesced schedule), a queued leftover, an idle BH upgraded, a race. Hold
 * the BH first, in the call's first write to it, so no pass frees it while
 * this call still works on it: whatever it finds, it touches the BH again
 * (the release) after the BH may have run. Then each bit in one step, never
 * retried. Whoever sets QUEUED pushes; a pass that pops the BH between the
 * two steps sees @kind and runs it. */
static G_NO_INLINE unsigned
bh_make_pending_held(AioContext *ctx, QEMUBH *bh, unsigned kind)
{
    unsigned kind_bit = kind == BH_NORMAL ? BH_NORMAL_BIT : BH_IDLE_BIT;
    unsigned old, wake = 0;
    bool pushed = false;

    /* seq_cst: an enqueue as notify.c means it (a coalesced schedule's run,
     * which clears the bit later in the word's order, sees what the caller
     * wrote before, B3), and pairs with bh_claim() for the hold. */
    /* Model: tests/model/gaio.pml @sched_hold. */
    old = atomic_fetch_add_explicit(&bh->flags, BH_HOLD_ONE, memory_order_seq_cst);
    if (!bh_coalesces(old, kind) && !(old & BH_DELETED)) {
        /* Model: tests/model/gaio.pml @sched_bts_kind. */
        if (!bh_test_and_set(bh, kind_bit))
            wake = kind == BH_NORMAL ? AIO_WAKE_FOR_NORMAL : AIO_WAKE_FOR_IDLE;
        GAIO_TEST_PAUSE(GAIO_PAUSE_SCHEDULE_KIND_SET, bh);
        /* Model: tests/model/gaio.pml @sched_bts_queued. */
        if (!bh_test_and_set(bh, BH_QUEUED_BIT)) {
            mpsc_queue_push(&ctx->bh_queue, &bh->node);
            pushed = true;
        }
    }
    GAIO_TEST_PAUSE(GAIO_PAUSE_SCHEDULE_VISIBLE, bh);
    return wake | bh_release(ctx, bh, pushed);
}

/* Makes @bh pending as @kind (BH_NORMAL or BH_IDLE), pushing it if this call
 * queued it. Returns what the owner must be woken for (0: nothing). Inlined:
 * the common cases are a few instructions. */
static G_ALWAYS_INLINE inline unsigned
bh_make_pending(AioContext *ctx, QEMUBH *bh, unsigned kind)
{
    /* Model: tests/model/gaio.pml @sched_load (folded into @sched_cas there). */
    unsigned cur = atomic_load_explicit(&bh->flags, memory_order_relaxed);

    /* 1. The common case, one step: from neither queued nor pending (maybe a
     * oneshot) to queued and pending. An idle schedule takes a hold with it,
     * to look at the BH once more after its push. seq_cst as in
     * bh_test_and_set(). */
    if (!(cur & (BH_QUEUED | BH_PENDING | BH_DELETED)) &&
        atomic_compare_exchange_strong_explicit(
            &bh->flags, &cur, cur | BH_QUEUED | kind | (kind == BH_IDLE ? BH_HOLD_ONE : 0),
            memory_order_seq_cst, memory_order_relaxed)) {
        /* Model: tests/model/gaio.pml @sched_cas, then @push_xchg. */
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
        /* A normal schedule is done with the BH: it may run and be freed. */
        if (kind == BH_NORMAL)
            return AIO_WAKE_FOR_NORMAL;
        GAIO_TEST_PAUSE(GAIO_PAUSE_SCHEDULE_VISIBLE, bh);
        return bh_release(ctx, bh, true);
    }

    /* 2. Coalesced: pending as @kind already, or normal (which wins over an
     * idle schedule). One compare-and-swap that writes the word back as it
     * was: it succeeds only if the BH is still pending, and then it is the
     * call's one write, before the run that clears the bit (B3: that run
     * sees what the caller wrote before). A failed one writes nothing. */
    /* Model: tests/model/gaio.pml @sched_coalesce. */
    if (bh_coalesces(cur, kind) &&
        atomic_compare_exchange_strong_explicit(&bh->flags, &cur, cur, memory_order_seq_cst,
                                                memory_order_relaxed))
        return 0;

    /* 3. Everything else: under a hold. */
    return bh_make_pending_held(ctx, bh, kind);
}

/* The whole of scheduling (B12, B13): async-signal-safe and wait-free; a
 * system call only when the owner may sleep. The flag update or the push's
 * exchange is the seq_cst enqueue aio_notify_enqueued() pairs with. */
void
qemu_bh_schedule(QEMUBH *bh)
{
    AioContext *ctx;

    g_return_if_fail(bh != NULL);

    /* Read before the BH may run and be freed (B10); the context outlives
     * every schedule (C4: the caller's duty). */
    ctx = bh_context(bh);
    /* Model: tests/model/gaio.pml inline schedule, @enq_load. */
    aio_notify_enqueued(ctx, bh_make_pending(ctx, bh, BH_NORMAL));
}

void
qemu_bh_schedule_idle(QEMUBH *bh)
{
    AioContext *ctx;

    g_return_if_fail(bh != NULL);

    /* Wakes the owner only if it sleeps for longer than an idle BH may wait
     * (B7), or on a gap this push closes (W1); a pending normal BH keeps
     * NORMAL, which wins. */
    /* Model: tests/model/gaio.pml inline schedule_idle. */
    ctx = bh_context(bh);
    aio_notify_enqueued(ctx, bh_make_pending(ctx, bh, BH_IDLE));
}

void
qemu_bh_cancel(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);

    /* The BH stays queued; the pass that pops it sees it not pending and
     * skips it. The old value is not needed, so this is one lock and. Release:
     * pairs with the claim in bh_claim(). */
    /* Model: tests/model/gaio.pml @cancel. */
    atomic_fetch_and_explicit(&bh->flags, ~(unsigned)BH_PENDING, memory_order_release);
}

void
qemu_bh_delete(QEMUBH *bh)
{
    AioContext *ctx;
    unsigned old, new;

    g_return_if_fail(bh != NULL);

    ctx = bh_context(bh);
    old = atomic_load_explicit(&bh->flags, memory_order_relaxed);
    /* One atomic step from "maybe pending" to "deleted and queued": a pass that
     * pops the BH after it frees it and never runs it. Not wait-free (a CAS
     * loop racing schedules), which B12 allows for delete. Holds and ORPHAN
     * are kept. */
    /* Model: tests/model/gaio.pml @del_cas (the successful CAS). */
    do {
        new = (old & ~(unsigned)BH_PENDING) | BH_DELETED | BH_QUEUED;
    } while (!atomic_compare_exchange_weak_explicit(&bh->flags, &old, new,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    /* Not queued: queue it, so the context's next pass frees it once no pass
     * and no schedule can touch it. No wakeup (reclaiming is not urgent) but
     * for an owner asleep on this push's gap (W1). From the push on, @bh may
     * be freed at any moment. */
    /* Model: tests/model/gaio.pml @del_push. */
    if (!(old & BH_QUEUED)) {
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
        aio_notify_enqueued(ctx, AIO_WAKE_FOR_LINK);
    }
}

void
aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL);
    g_return_if_fail(cb != NULL);

    aio_notify_enqueued(ctx, bh_make_pending(ctx, bh_alloc(ctx, cb, opaque, "oneshot",
                                                           BH_ONESHOT),
                                             BH_NORMAL));
}

/* The owner takes a popped BH's word: clears QUEUED and the pending bits in
 * one step, which is the moment its callback "starts" (B3): any schedule
 * after it pushes the BH again. Returns the old word, or 0 with nothing
 * changed if @keep_pending and the BH is pending (a reclaim must not run it).
 * A deleted BH keeps QUEUED (no schedule pushes it again); if a schedule holds
 * it, it is handed to that schedule (ORPHAN) instead of being freed. A CAS
 * loop: only the owner runs it, and it retries only when another thread
 * changed the word. */
static unsigned
bh_claim(QEMUBH *bh, bool keep_pending)
{
    unsigned old = atomic_load_explicit(&bh->flags, memory_order_relaxed);
    unsigned new;

    do {
        if (old & BH_DELETED)
            new = (old & BH_HOLD_MASK) ? old | BH_ORPHAN : 0;
        else if (keep_pending && (old & BH_PENDING))
            return 0;
        else
            new = old & BH_HOLD_MASK;
        /* acq_rel, pairs with the read-modify-writes of schedule, cancel and
         * delete: the callback sees what was written before its schedule. */
        /* Model: tests/model/gaio.pml @run_claim. */
    } while (!atomic_compare_exchange_weak_explicit(&bh->flags, &old, new,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    return old;
}

/* Frees a claimed BH that was deleted, unless a schedule still holds it:
 * then that schedule's release pushes it again (ORPHAN). True if @old was
 * deleted. */
static bool
bh_free_if_deleted(QEMUBH *bh, unsigned old)
{
    if (!(old & BH_DELETED))
        return false;
    /* Model: tests/model/gaio.pml @run_free. */
    if (!(old & BH_HOLD_MASK))
        bh_slab_free(bh);
    return true;
}

/* Runs a popped BH if it is still pending. After its callback returns, @bh is
 * not touched (it may have been deleted and freed meanwhile), except a oneshot,
 * which nobody else can reach. */
static int
bh_run(AioContext *ctx, QEMUBH *bh)
{
    unsigned old = bh_claim(bh, false);

    if (bh_free_if_deleted(bh, old))
        return 0;
    if (!(old & BH_PENDING))
        return 0; /* cancelled */

    /* Model: tests/model/gaio.pml @callback. */
    bh->cb(bh->opaque);

    if (old & BH_ONESHOT)
        bh_slab_free(bh);
    return (old & BH_NORMAL) ? 1 : 0;
}

/* A popped node ends every pass in progress whose last node it is: @pass and
 * the passes it is nested in. */
static inline void
bh_pass_note_popped(BHPass *pass, MpscNode *node)
{
    if (pass->end == node)
        pass->done = true;
    /* Rare: only a pass nested in a callback has outer passes. */
    for (BHPass *outer = pass->outer; G_UNLIKELY(outer != NULL); outer = outer->outer)
        if (outer->end == node)
            outer->done = true;
}

int
bh_pass_run(AioContext *ctx)
{
    MpscQueue *queue = &ctx->bh_queue;
    /* The pass ends at the node last in the queue now. That may be the stub
     * with BHs still ahead of it (a producer slipped in while the stub was
     * being re-pushed), so the stub alone at the front is the only "empty". */
    /* Model: tests/model/gaio.pml @pass_end. */
    BHPass pass = {.end = mpsc_queue_last(queue)};
    int progress = 0;

    /* Model: tests/model/gaio.pml @pass_empty. */
    if (pass.end == &queue->stub && queue->first == &queue->stub)
        return 0;

    pass.outer = ctx->bh_passes;
    ctx->bh_passes = &pass;
    while (!pass.done) {
        MpscNode *node = mpsc_queue_pop(queue);

        /* Model: tests/model/gaio.pml inline pop, @pass_gap, @pass_done. */
        if (node == NULL)
            break; /* empty, or a producer still linking: next pass */
        ctx->bh_visits++;
        bh_pass_note_popped(&pass, node);
        if (node != &queue->stub)
            progress |= bh_run(ctx, bh_from_node(node));
    }
    ctx->bh_passes = pass.outer;
    return progress;
}

/* True if the first BH in the queue (past the stub) is pending: a pass will
 * take it, and a reclaim stops there. Reads only: popping would make the
 * owner exchange `last` for the stub and fight the producers for its line. */
static bool
bh_queue_front_pending(MpscQueue *queue)
{
    MpscNode *front = queue->first;
    unsigned flags;

    if (front == &queue->stub) {
        /* Pairs with the release link store in mpsc_queue_push(). */
        front = atomic_load_explicit(&front->next, memory_order_acquire);
        if (front == NULL)
            return true; /* empty (or a gap): nothing to reclaim now */
    }
    flags = atomic_load_explicit(&bh_from_node(front)->flags, memory_order_relaxed);
    return (flags & BH_PENDING) && !(flags & BH_DELETED);
}

void
bh_queue_reclaim(AioContext *ctx)
{
    MpscQueue *queue = &ctx->bh_queue;

    for (;;) {
        MpscNode *node;

        if (bh_queue_front_pending(queue))
            return;
        node = mpsc_queue_pop(queue);

        /* Model: tests/model/gaio.pml @reclaim. */
        if (node == NULL)
            return;
        ctx->bh_visits++;
        if (node != &queue->stub) {
            QEMUBH *bh = bh_from_node(node);
            unsigned old = bh_claim(bh, true);

            if (old == 0) {
                /* Pending after all (scheduled since it was looked at): it
                 * keeps its place for the next pass. */
                mpsc_queue_unpop(queue, node);
                return;
            }
            bh_free_if_deleted(bh, old);
        }
        /* Rare: a nested GLib iteration inside a BH's callback. */
        if (G_UNLIKELY(ctx->bh_passes != NULL))
            bh_pass_note_popped(ctx->bh_passes, node);
    }
}

BHQueueState
bh_queue_state(AioContext *ctx, MpscNode **gap)
{
    MpscQueue *queue = &ctx->bh_queue;
    /* Read after the caller's F_C (when it is about to sleep): every push
     * exchanged before this is looked at, or reported as a gap. */
    /* Model: tests/model/gaio.pml inline queue_state, @qs_last. */
    MpscNode *last = mpsc_queue_last(queue);
    BHQueueState state = BH_QUEUE_NOTHING_PENDING;

    *gap = NULL;
    for (MpscNode *node = queue->first;; ) {
        MpscNode *next;

        ctx->bh_visits++;
        if (node != &queue->stub) {
            /* Model: tests/model/gaio.pml @qs_flags. */
            /* Acquire pairs with the read-modify-writes of bh_make_pending(). */
            unsigned flags =
                atomic_load_explicit(&bh_from_node(node)->flags, memory_order_acquire);

            if ((flags & BH_NORMAL) && !(flags & BH_DELETED))
                return BH_QUEUE_NORMAL_PENDING;
            if ((flags & BH_PENDING) && !(flags & BH_DELETED))
                state = BH_QUEUE_IDLE_PENDING;
        }
        if (node == last)
            return state;
        /* Pairs with the release link store in mpsc_queue_push(). */
        /* Model: tests/model/gaio.pml @qs_next, @qs_linking. */
        next = atomic_load_explicit(&node->next, memory_order_acquire);
        if (next == NULL) {
            *gap = node; /* a producer between its exchange and its link */
            return state;
        }
        node = next;
    }
}

int
aio_bh_poll(AioContext *ctx)
{
    AioContextEntry entry;
    int progress;

    g_return_val_if_fail(ctx != NULL, 0);

    if (!aio_context_enter(ctx, &entry))
        return 0;
    /* Held for the whole pass (C4): a callback may drop the last reference. */
    aio_context_ref(ctx);
    progress = bh_pass_run(ctx);
    aio_context_leave(ctx, &entry);
    /* May finalize @ctx: nothing touches it after this. */
    aio_context_unref(ctx);
    return progress;
}

void
aio_bh_update_timeout(AioContext *ctx, uint32_t *timeout_ms)
{
    MpscNode *gap;

    g_return_if_fail(ctx != NULL);
    g_return_if_fail(timeout_ms != NULL);

    switch (bh_queue_state(ctx, &gap)) {
    case BH_QUEUE_NORMAL_PENDING:
        *timeout_ms = 0;
        return;
    case BH_QUEUE_IDLE_PENDING:
        *timeout_ms = MIN(*timeout_ms, AIO_IDLE_BH_TIMEOUT_MS);
        return;
    case BH_QUEUE_NOTHING_PENDING:
    default:
        /* What lies behind a producer still linking is unknown: look again
         * within the idle bound rather than spin on it (W1). */
        if (gap != NULL)
            *timeout_ms = MIN(*timeout_ms, AIO_IDLE_BH_TIMEOUT_MS);
        return;
    }
}
