/* bh.c: the BH queue: schedule, pass, cancel, delete.
 *
 * A BH's life is carried by one atomic word of flags:
 *   NORMAL   pending as a normal (waking, progress-making) BH;
 *   IDLE     pending as an idle BH (NORMAL, if also set, wins);
 *   QUEUED   it sits in ctx->bh_queue: whoever sets it pushes, the pass that
 *            pops it clears it;
 *   DELETED  qemu_bh_delete() ran: the pass that pops it frees it;
 *   ONESHOT  aio_bh_schedule_oneshot()'s: freed after its run.
 * A BH is pending (SPEC: from schedule until its callback starts) while NORMAL
 * or IDLE is set.
 *
 * Scheduling is wait-free: no instruction is retried. x86 has no fetch_or that
 * returns the old word, so a general fetch_or is a compare-and-swap loop;
 * instead a schedule tries one compare-and-swap from "not queued, not
 * pending" (the common case), and if another thread changed the word meanwhile
 * falls back to two single-bit test-and-sets (lock bts), each of which always
 * succeeds. Then at most one wait-free push and, on the transition to
 * normal-pending only, one load of notify_me. A BH is queued at most once, so
 * a pass touches only what it runs (plus cancelled leftovers, once).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "bh-private.h"
#include "bh-slab-private.h"
#include "notify-private.h"

enum {
    BH_NORMAL = 1u << 0,
    BH_IDLE = 1u << 1,
    BH_QUEUED = 1u << 2,
    BH_DELETED = 1u << 3,
    BH_ONESHOT = 1u << 4,
    BH_PENDING = BH_NORMAL | BH_IDLE,
};

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

/* Sets @bit and tells whether it was set already: one lock bts on x86, which
 * cannot fail or retry. seq_cst: it is an enqueue as notify.c means it, and
 * pairs with the exchange in bh_run() so the pass that clears the bit sees
 * everything written before this schedule. */
static inline bool
bh_test_and_set(QEMUBH *bh, unsigned bit)
{
    /* Model: tests/model/gaio.pml @sched_bts_kind, @sched_bts_queued. */
    return (atomic_fetch_or_explicit(&bh->flags, bit, memory_order_seq_cst) & bit) != 0;
}

/* Makes @bh pending as @kind (BH_NORMAL or BH_IDLE) and pushes it if this call
 * queued it. Returns whether the owner may have to be woken: for a normal
 * schedule, this call made the BH normal-pending; for an idle one, this call
 * pushed it and it is normal-pending by now. (A normal schedule that lands
 * between an idle schedule's claim of QUEUED and its push cannot push, and may
 * notify before the BH is visible; so the idle pusher, once its node is in the
 * queue, notifies for it. Found by the Spin model, @idle_recheck.) */
static inline bool
bh_make_pending(AioContext *ctx, QEMUBH *bh, unsigned kind)
{
    /* Model: tests/model/gaio.pml @sched_load (folded into @sched_cas there). */
    unsigned cur = atomic_load_explicit(&bh->flags, memory_order_relaxed);

    /* The common case, one step: from neither queued nor pending (maybe a
     * oneshot) to queued and pending. seq_cst as in bh_test_and_set(). */
    if (!(cur & (BH_QUEUED | BH_PENDING | BH_DELETED)) &&
        atomic_compare_exchange_strong_explicit(&bh->flags, &cur,
                                                cur | BH_QUEUED | kind,
                                                memory_order_seq_cst,
                                                memory_order_relaxed)) {
        /* Model: tests/model/gaio.pml @sched_cas, then @push_xchg. */
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
    } else if (bh_test_and_set(bh, kind)) {
        /* Otherwise (already pending, queued as a cancelled leftover, or
         * raced): two single-bit steps, never retried. Whoever sets QUEUED
         * pushes; a pass that pops the BH in between sees @kind and runs it. */
        return false; /* coalesced: already pending as @kind */
    } else if (bh_test_and_set(bh, BH_QUEUED)) {
        return kind == BH_NORMAL; /* queued already, by someone else */
    } else {
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
    }
    if (kind == BH_NORMAL)
        return true;
    /* Model: tests/model/gaio.pml @idle_recheck. seq_cst: after our push's
     * exchange, so either this sees a NORMAL set meanwhile or that schedule's
     * own notify comes after our node is visible. */
    return (atomic_load_explicit(&bh->flags, memory_order_seq_cst) & BH_NORMAL) != 0;
}

/* The whole of scheduling (B12, B13): async-signal-safe and wait-free; a
 * system call only when the owner may sleep. The flag update or the push's
 * exchange is the seq_cst enqueue aio_notify_enqueued() pairs with. */
void
qemu_bh_schedule(QEMUBH *bh)
{
    AioContext *ctx;

    g_return_if_fail(bh != NULL);

    ctx = bh_context(bh);
    /* Only a BH that just became normal-pending may wake the loop (an idle
     * one being upgraded included); coalesced schedules stop here. */
    /* Model: tests/model/gaio.pml inline schedule, @enq_load. */
    if (bh_make_pending(ctx, bh, BH_NORMAL))
        aio_notify_enqueued(ctx);
}

void
qemu_bh_schedule_idle(QEMUBH *bh)
{
    AioContext *ctx;

    g_return_if_fail(bh != NULL);

    /* Pushed but wakes nobody: the owner never sleeps on a queue it cannot
     * see to the end, and sleeps at most 10 ms while an idle BH is pending.
     * A pending normal BH keeps NORMAL, which wins; if a normal schedule
     * raced with this push, this call wakes the owner for it. */
    /* Model: tests/model/gaio.pml inline schedule_idle (IDLE_PUSH_RECHECK 1). */
    ctx = bh_context(bh);
    if (bh_make_pending(ctx, bh, BH_IDLE))
        aio_notify_enqueued(ctx);
}

void
qemu_bh_cancel(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);

    /* The BH stays queued; the pass that pops it sees it not pending and
     * skips it. The old value is not needed, so this is one lock and. Release:
     * pairs with the exchange in bh_run(). */
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
     * loop racing schedules), which B12 allows for delete. */
    /* Model: tests/model/gaio.pml @del_cas (the successful CAS). */
    do {
        new = (old & ~(unsigned)BH_PENDING) | BH_DELETED | BH_QUEUED;
    } while (!atomic_compare_exchange_weak_explicit(&bh->flags, &old, new,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    /* Not queued: queue it, so the context's next pass frees it once no pass
     * can touch it any more. No wakeup: reclaiming is not urgent. From here
     * on @bh may be freed at any moment. */
    /* Model: tests/model/gaio.pml @del_push. */
    if (!(old & BH_QUEUED))
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
}

void
aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL);
    g_return_if_fail(cb != NULL);

    if (bh_make_pending(ctx, bh_alloc(ctx, cb, opaque, "oneshot", BH_ONESHOT), BH_NORMAL))
        aio_notify_enqueued(ctx);
}

/* Runs a popped BH if it is still pending. After its callback returns, @bh is
 * not touched (it may have been deleted and freed meanwhile), except a oneshot,
 * which nobody else can reach. */
static int
bh_run(AioContext *ctx, QEMUBH *bh)
{
    /* acq_rel, pairs with the read-modify-writes in bh_make_pending():
     * clearing QUEUED lets the next schedule push again; clearing PENDING is
     * the moment the callback "starts", so any later schedule gives another
     * run (B3). The whole word is cleared (one exchange, no loop): DELETED
     * and ONESHOT matter only to this pass, which frees the BH if either is
     * set. */
    /* Model: tests/model/gaio.pml @run_xchg. */
    unsigned old = atomic_exchange_explicit(&bh->flags, 0, memory_order_acq_rel);

    if (old & BH_DELETED) {
        /* Model: tests/model/gaio.pml @run_free. */
        bh_slab_free(bh);
        return 0;
    }
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
        bh_pass_note_popped(&pass, node);
        if (node != &queue->stub)
            progress |= bh_run(ctx, bh_from_node(node));
    }
    ctx->bh_passes = pass.outer;
    return progress;
}

BHQueueState
bh_queue_state(AioContext *ctx)
{
    MpscQueue *queue = &ctx->bh_queue;
    /* Read after the caller's F_C (when it is about to sleep): every push
     * exchanged before this is looked at, or reported as still linking. */
    /* Model: tests/model/gaio.pml inline queue_state, @qs_last. */
    MpscNode *last = mpsc_queue_last(queue);
    BHQueueState state = BH_QUEUE_EMPTY;

    for (MpscNode *node = queue->first;; ) {
        if (node != &queue->stub) {
            /* Model: tests/model/gaio.pml @qs_flags. */
            /* Acquire pairs with the fetch_or in bh_make_pending(). */
            unsigned flags =
                atomic_load_explicit(&bh_from_node(node)->flags, memory_order_acquire);

            if (flags & BH_NORMAL)
                return BH_QUEUE_NORMAL_PENDING;
            if (flags & BH_PENDING)
                state = BH_QUEUE_IDLE_PENDING;
            else if (state == BH_QUEUE_EMPTY)
                state = BH_QUEUE_GARBAGE;
        }
        if (node == last)
            return state;
        /* Pairs with the release link store in mpsc_queue_push(). */
        /* Model: tests/model/gaio.pml @qs_next, @qs_linking. */
        node = atomic_load_explicit(&node->next, memory_order_acquire);
        if (node == NULL)
            return BH_QUEUE_LINKING; /* a producer between exchange and link */
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
    g_return_if_fail(ctx != NULL);
    g_return_if_fail(timeout_ms != NULL);

    switch (bh_queue_state(ctx)) {
    case BH_QUEUE_NORMAL_PENDING:
    case BH_QUEUE_LINKING:
        *timeout_ms = 0;
        break;
    case BH_QUEUE_IDLE_PENDING:
        *timeout_ms = MIN(*timeout_ms, 10);
        break;
    case BH_QUEUE_EMPTY:
    case BH_QUEUE_GARBAGE:
    default:
        break;
    }
}
