/* wait.c: aio_wait_bh_oneshot(), AIO_WAIT_WHILE() and aio_wait_kick()
 * (SPEC I2, I3).
 *
 * A waiter either runs a context while it waits (the context it waits on,
 * when its thread runs that one; else the innermost context its thread
 * runs, I3), or, in a thread that runs none, sleeps on a condition
 * variable. aio_wait_kick() wakes both kinds: it notifies every context a
 * waiter runs (registered here while it waits) and bumps a sequence number
 * the sleepers wait on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>

#include "context-private.h"

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond = PTHREAD_COND_INITIALIZER;
/* Under wait_lock: bumped by each kick that found waiters. */
static uint64_t kick_seq;
/* Under wait_lock: the contexts waiters run (one entry per waiter), each
 * holding a reference. */
static GPtrArray *polled_contexts;
/* Waiters in progress: a kick with none costs one load. */
static atomic_uint num_waiters;

void
aio_wait_frame_begin(AioWaitFrame *frame, AioContext *ctx)
{
    g_return_if_fail(frame != NULL);
    g_return_if_fail(ctx != NULL);

    frame->poll_ctx = aio_context_runs_here(ctx) ? ctx : aio_context_get_current();
    atomic_fetch_add_explicit(&num_waiters, 1, memory_order_seq_cst);
    /* Pairs with the fence in aio_wait_kick(): either the kicker sees this
     * waiter, or the waiter's first look at its condition sees what the
     * kicker changed before kicking. */
    atomic_thread_fence(memory_order_seq_cst);
    pthread_mutex_lock(&wait_lock);
    frame->seq = kick_seq;
    if (frame->poll_ctx != NULL) {
        if (polled_contexts == NULL)
            polled_contexts = g_ptr_array_new();
        g_ptr_array_add(polled_contexts, aio_context_ref(frame->poll_ctx));
    }
    pthread_mutex_unlock(&wait_lock);
}

void
aio_wait_frame_wait(AioWaitFrame *frame)
{
    g_return_if_fail(frame != NULL);

    if (frame->poll_ctx != NULL) {
        /* A kick notifies it: the call returns, maybe without progress. */
        aio_poll(frame->poll_ctx, true);
        return;
    }
    /* The sequence number was read before the condition: a kick after
     * that changes it, so it is never slept through. */
    pthread_mutex_lock(&wait_lock);
    while (kick_seq == frame->seq)
        pthread_cond_wait(&wait_cond, &wait_lock);
    frame->seq = kick_seq;
    pthread_mutex_unlock(&wait_lock);
}

void
aio_wait_frame_end(AioWaitFrame *frame)
{
    g_return_if_fail(frame != NULL);

    if (frame->poll_ctx != NULL) {
        pthread_mutex_lock(&wait_lock);
        g_ptr_array_remove_fast(polled_contexts, frame->poll_ctx);
        if (polled_contexts->len == 0)
            g_clear_pointer(&polled_contexts, g_ptr_array_unref);
        pthread_mutex_unlock(&wait_lock);
        aio_context_unref(frame->poll_ctx);
    }
    atomic_fetch_sub_explicit(&num_waiters, 1, memory_order_relaxed);
}

void
aio_wait_kick(void)
{
    /* Pairs with the fence in aio_wait_frame_begin(). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&num_waiters, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&wait_lock);
    kick_seq++;
    for (guint i = 0; polled_contexts != NULL && i < polled_contexts->len; i++)
        aio_notify(g_ptr_array_index(polled_contexts, i));
    pthread_cond_broadcast(&wait_cond);
    pthread_mutex_unlock(&wait_lock);
}

typedef struct {
    QEMUBHFunc *cb;
    void *opaque;
    atomic_bool done;
} WaitOneshot;

static void
wait_oneshot_bh(void *opaque)
{
    WaitOneshot *w = opaque;

    w->cb(w->opaque);
    /* Release, pairs with the waiter's acquire: it sees what cb did. After
     * this store the waiter may return and @w is gone: not touched again. */
    atomic_store_explicit(&w->done, true, memory_order_release);
    aio_wait_kick();
}

void
aio_wait_bh_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    WaitOneshot w = {.cb = cb, .opaque = opaque};

    g_return_if_fail(ctx != NULL);
    g_return_if_fail(cb != NULL);

    if (aio_context_runs_here(ctx)) {
        cb(opaque); /* I2 */
        return;
    }
    atomic_init(&w.done, false);
    aio_bh_schedule_oneshot(ctx, wait_oneshot_bh, &w);
    AIO_WAIT_WHILE(ctx, !atomic_load_explicit(&w.done, memory_order_acquire));
}
