/* notify-private.h: the notify_me / notified handshake and the wakeup eventfd.
 *
 * The owner's side, in the order every sleeper (aio_poll(), the GSource) uses:
 *
 *   aio_notify_arm()       notify_me = ARMED|..., full fence     (F_C)
 *   aio_notify_pending()   notified? then do not sleep
 *   ...look at the BH queue up to its last node or a gap: a normal BH
 *      pending? then do not sleep. A gap (a node not linked yet)? spin
 *      briefly on a new one, then sleep armed with GAP...
 *   sleep on the wakeup fd
 *   aio_wakeup_clear()     if the fd was readable, read it
 *   aio_notify_disarm()    notify_me = 0: producers skip the eventfd
 *   aio_notify_accept()    notified = false, full fence          (F_A)
 *   ...pass...
 *
 * Producers: a BH schedule enqueues with seq_cst atomics (the exchange of the
 * queue's last node, or a read-modify-write of a queued BH's flags) and then
 * calls aio_notify_enqueued() with what it enqueued; a bare aio_notify()
 * starts with a full fence (F_P). See notify.c for why no wakeup can be lost.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "context-private.h"

bool aio_wakeup_init(AioContext *ctx, GError **error);
void aio_wakeup_cleanup(AioContext *ctx);
/* Empties the eventfd; only after a poll saw it readable (no wasted read). */
void aio_wakeup_clear(AioContext *ctx);

/* What the owner is about to sleep for: the bits of notify_me. */
enum {
    /* It may sleep: a normal BH must wake it. Set whenever notify_me is. */
    AIO_NOTIFY_ME_ARMED = 1u << 0,
    /* For longer than an idle BH may wait, or until woken: an idle BH must
     * wake it too (B7). */
    AIO_NOTIFY_ME_LONG = 1u << 1,
    /* Although a producer had not linked its push: whoever links must wake
     * it (W1). */
    AIO_NOTIFY_ME_GAP = 1u << 2,
};

/* What a producer's enqueue must wake the owner for: the notify_me bits that
 * concern it. */
#define AIO_WAKE_FOR_NORMAL (AIO_NOTIFY_ME_ARMED | AIO_NOTIFY_ME_LONG | AIO_NOTIFY_ME_GAP)
#define AIO_WAKE_FOR_IDLE (AIO_NOTIFY_ME_LONG | AIO_NOTIFY_ME_GAP)
#define AIO_WAKE_FOR_LINK AIO_NOTIFY_ME_GAP

/* @bits: AIO_NOTIFY_ME_ARMED and what else the owner's look asked for. */
static inline void
aio_notify_arm(AioContext *ctx, unsigned bits)
{
    /* Model: tests/model/gaio.pml @arm (the store and F_C, one step). */
    atomic_store_explicit(&ctx->notify_me, bits, memory_order_seq_cst);
    /* F_C, pairs with F_P in aio_notify(): either the owner's look at the
     * queue (and at `notified`) after this sees the producer's BH, or the
     * producer sees notify_me == true and writes the eventfd. */
    atomic_thread_fence(memory_order_seq_cst);
}

void aio_notify_wake(AioContext *ctx);

/* After an enqueue (a BH schedule's seq_cst read-modify-write, a push's
 * link): wake the owner if it may sleep through what was enqueued, @wake_for
 * (AIO_WAKE_FOR_*, 0 for nothing). No fence of its own: the enqueue's seq_cst
 * read-modify-write and this seq_cst load, against the owner's seq_cst store
 * of notify_me, F_C and its look at the queue, mean either the owner sees the
 * BH or this load sees the bit. (A link store is not seq_cst: an owner asleep
 * on a gap also looks again within AIO_GAP_SLEEP_NS.) Async-signal-safe;
 * wait-free. */
static inline void
aio_notify_enqueued(AioContext *ctx, unsigned wake_for)
{
    /* Model: tests/model/gaio.pml @enq_load. */
    if (wake_for != 0 &&
        (atomic_load_explicit(&ctx->notify_me, memory_order_seq_cst) & wake_for) != 0)
        aio_notify_wake(ctx);
}

static inline void
aio_notify_disarm(AioContext *ctx)
{
    /* Relaxed: the owner is awake; a producer still reading `true` only pays
     * one needless eventfd write. */
    /* Model: tests/model/gaio.pml @disarm. */
    atomic_store_explicit(&ctx->notify_me, 0, memory_order_relaxed);
}

/* True if aio_notify() ran since the last aio_notify_accept(). */
static inline bool
aio_notify_pending(AioContext *ctx)
{
    /* seq_cst, pairs with the seq_cst exchange of `notified` and load of
     * notify_me in aio_notify(): a notifier that found notify_me false has
     * set `notified` where this load sees it. */
    /* Model: tests/model/gaio.pml @ct_notified, @gs_check_notified. */
    return atomic_load_explicit(&ctx->notified, memory_order_seq_cst);
}

static inline void
aio_notify_accept(AioContext *ctx)
{
    /* Nothing to accept: no notifier can be holding a `true` the owner has
     * not seen, so no fence is owed either. A notifier racing with this read
     * leaves `notified` set, and the owner's next look does not sleep. */
    /* Model: tests/model/gaio.pml @accept_store (-DWEAK: @accept_skip). */
    if (!atomic_load_explicit(&ctx->notified, memory_order_relaxed))
        return;
    atomic_store_explicit(&ctx->notified, false, memory_order_relaxed);
    /* F_A, pairs with F_P in aio_notify(): a notifier that still reads the
     * old `true` and skips all work queued its BH where the pass after this
     * fence sees it. */
    atomic_thread_fence(memory_order_seq_cst);
}
