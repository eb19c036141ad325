/* bh.c: the BH queue: schedule, pass, cancel, delete.
 *
 * A BH's life is carried by one atomic word of flags:
 *   PENDING  it will run (SPEC: from schedule until its callback starts);
 *   NORMAL   pending as a normal (waking, progress-making) BH, not an idle one;
 *   QUEUED   it sits in ctx->bh_queue: whoever sets it pushes, the pass clears it;
 *   DELETED  qemu_bh_delete() ran: the pass that pops it frees it;
 *   ONESHOT  aio_bh_schedule_oneshot()'s: freed after its run.
 *
 * Scheduling is one fetch_or, at most one wait-free push and, on the transition
 * to normal-pending only, one load of notify_me. A BH is queued at most once,
 * so a pass touches only what it runs (plus cancelled leftovers, once).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "bh-private.h"
#include "notify-private.h"

enum {
    BH_PENDING = 1u << 0,
    BH_NORMAL = 1u << 1,
    BH_QUEUED = 1u << 2,
    BH_DELETED = 1u << 3,
    BH_ONESHOT = 1u << 4,
};

struct QEMUBH {
    MpscNode node; /* first: a queue node is a BH */
    atomic_uint flags;
    AioContext *ctx;
    QEMUBHFunc *cb;
    void *opaque;
    const char *name;
    /* The context's registry of live BHs, under ctx->bh_registry_lock. */
    QEMUBH *registry_prev;
    QEMUBH *registry_next;
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
    pthread_mutex_init(&ctx->bh_registry_lock, NULL);
    ctx->bh_registry = NULL;
}

static void
bh_registry_add(AioContext *ctx, QEMUBH *bh)
{
    pthread_mutex_lock(&ctx->bh_registry_lock);
    bh->registry_prev = NULL;
    bh->registry_next = ctx->bh_registry;
    if (ctx->bh_registry != NULL)
        ctx->bh_registry->registry_prev = bh;
    ctx->bh_registry = bh;
    pthread_mutex_unlock(&ctx->bh_registry_lock);
}

static void
bh_registry_remove(AioContext *ctx, QEMUBH *bh)
{
    pthread_mutex_lock(&ctx->bh_registry_lock);
    if (bh->registry_prev != NULL)
        bh->registry_prev->registry_next = bh->registry_next;
    else
        ctx->bh_registry = bh->registry_next;
    if (bh->registry_next != NULL)
        bh->registry_next->registry_prev = bh->registry_prev;
    pthread_mutex_unlock(&ctx->bh_registry_lock);
}

static QEMUBH *
bh_alloc(AioContext *ctx, QEMUBHFunc *cb, void *opaque, const char *name, unsigned flags)
{
    QEMUBH *bh = g_new(QEMUBH, 1);

    atomic_init(&bh->node.next, NULL);
    atomic_init(&bh->flags, flags);
    bh->ctx = ctx;
    bh->cb = cb;
    bh->opaque = opaque;
    bh->name = name;
    bh_registry_add(ctx, bh);
    return bh;
}

static void
bh_free(AioContext *ctx, QEMUBH *bh)
{
    bh_registry_remove(ctx, bh);
    g_free(bh);
}

void
bh_context_finalize(AioContext *ctx)
{
    QEMUBH *bh = ctx->bh_registry;

    while (bh != NULL) {
        QEMUBH *next = bh->registry_next;
        unsigned flags = atomic_load_explicit(&bh->flags, memory_order_relaxed);

        if (!(flags & (BH_DELETED | BH_ONESHOT)))
            g_debug("AioContext %p finalized with BH '%s' (%p) never deleted",
                    (void *)ctx, bh->name ? bh->name : "(unnamed)", (void *)bh);
        g_free(bh);
        bh = next;
    }
    ctx->bh_registry = NULL;
    pthread_mutex_destroy(&ctx->bh_registry_lock);
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

/* The whole of scheduling: wait-free and async-signal-safe (B12, B13): one
 * fetch_or, at most one push, and for a BH that just became normal-pending a
 * load of notify_me (a system call only if the owner may sleep). */
static inline void
bh_make_pending(QEMUBH *bh, unsigned set)
{
    AioContext *ctx = bh->ctx;
    /* seq_cst: the fetch_or is the enqueue of a BH that is already queued
     * (aio_notify_enqueued() explains the pairing with the owner's F_C). It
     * also pairs with the fetch_and in bh_run(): exactly one of a schedule
     * and a pass sees QUEUED clear, so the BH is pushed once, and the pass
     * that clears PENDING sees everything written before this schedule. */
    unsigned old = atomic_fetch_or_explicit(&bh->flags, set, memory_order_seq_cst);

    /* The push's seq_cst exchange is the enqueue otherwise. An idle BH is
     * pushed but wakes nobody: the owner never sleeps on a queue it cannot
     * see to the end, and sleeps at most 10 ms while an idle BH is pending. */
    if (!(old & BH_QUEUED))
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
    /* Only a BH that just became normal-pending may wake the loop; coalesced
     * schedules cost the fetch_or alone. */
    if ((set & BH_NORMAL) && !(old & BH_NORMAL))
        aio_notify_enqueued(ctx);
}

void
qemu_bh_schedule(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);

    bh_make_pending(bh, BH_PENDING | BH_NORMAL | BH_QUEUED);
}

void
qemu_bh_schedule_idle(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);

    bh_make_pending(bh, BH_PENDING | BH_QUEUED);
}

void
qemu_bh_cancel(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);

    /* The BH stays queued; the pass that pops it sees PENDING clear and skips
     * it. Release: pairs with the fetch_and in bh_run(). */
    atomic_fetch_and_explicit(&bh->flags, ~(unsigned)(BH_PENDING | BH_NORMAL),
                              memory_order_release);
}

void
qemu_bh_delete(QEMUBH *bh)
{
    AioContext *ctx;
    unsigned old, new;

    g_return_if_fail(bh != NULL);

    ctx = bh->ctx;
    old = atomic_load_explicit(&bh->flags, memory_order_relaxed);
    /* One atomic step from "maybe pending" to "deleted and queued": a pass that
     * pops the BH after it frees it and never runs it. Not wait-free (a CAS
     * loop racing schedules), which B12 allows for delete. */
    do {
        new = (old & ~(unsigned)(BH_PENDING | BH_NORMAL)) | BH_DELETED | BH_QUEUED;
    } while (!atomic_compare_exchange_weak_explicit(&bh->flags, &old, new,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    /* Not queued: queue it, so the context's next pass frees it once no pass
     * can touch it any more. No wakeup: reclaiming is not urgent. From here
     * on @bh may be freed at any moment. */
    if (!(old & BH_QUEUED))
        mpsc_queue_push(&ctx->bh_queue, &bh->node);
}

void
aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL);
    g_return_if_fail(cb != NULL);

    bh_make_pending(bh_alloc(ctx, cb, opaque, "oneshot", BH_ONESHOT),
                    BH_PENDING | BH_NORMAL | BH_QUEUED);
}

/* Runs a popped BH if it is still pending. After its callback returns, @bh is
 * not touched (it may have been deleted and freed meanwhile), except a oneshot,
 * which nobody else can reach. */
static int
bh_run(AioContext *ctx, QEMUBH *bh)
{
    /* acq_rel, pairs with the fetch_or in bh_make_pending(): clearing QUEUED
     * here lets the next schedule push again; clearing PENDING is the moment
     * the callback "starts", so any later schedule gives another run (B3). */
    unsigned old = atomic_fetch_and_explicit(
        &bh->flags, ~(unsigned)(BH_QUEUED | BH_PENDING | BH_NORMAL), memory_order_acq_rel);

    if (old & BH_DELETED) {
        bh_free(ctx, bh);
        return 0;
    }
    if (!(old & BH_PENDING))
        return 0; /* cancelled */

    bh->cb(bh->opaque);

    if (old & BH_ONESHOT)
        bh_free(ctx, bh);
    return (old & BH_NORMAL) ? 1 : 0;
}

/* A popped node ends every pass in progress whose last node it is. */
static void
bh_pass_note_popped(AioContext *ctx, MpscNode *node)
{
    for (BHPass *pass = ctx->bh_passes; pass != NULL; pass = pass->outer)
        if (pass->end == node)
            pass->done = true;
}

int
bh_pass_run(AioContext *ctx)
{
    MpscQueue *queue = &ctx->bh_queue;
    /* The pass ends at the node last in the queue now. That may be the stub
     * with BHs still ahead of it (a producer slipped in while the stub was
     * being re-pushed), so the stub alone at the front is the only "empty". */
    BHPass pass = {.end = mpsc_queue_last(queue)};
    int progress = 0;

    if (pass.end == &queue->stub && queue->first == &queue->stub)
        return 0;

    pass.outer = ctx->bh_passes;
    ctx->bh_passes = &pass;
    while (!pass.done) {
        MpscNode *node = mpsc_queue_pop(queue);

        if (node == NULL)
            break; /* empty, or a producer still linking: next pass */
        bh_pass_note_popped(ctx, node);
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
    MpscNode *last = mpsc_queue_last(queue);
    BHQueueState state = BH_QUEUE_EMPTY;

    for (MpscNode *node = queue->first;; ) {
        if (node != &queue->stub) {
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

    if (!aio_context_enter_standalone(ctx, &entry))
        return 0;
    progress = bh_pass_run(ctx);
    aio_context_leave(ctx, &entry);
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
