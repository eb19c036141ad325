/* iothread.c: I/O threads (SPEC section 6, I1).
 *
 * An I/O thread iterates a GMainContext of its own, its thread-default,
 * with its AioContext attached: BHs, handlers and timers of the context run
 * there beside any GLib source. Joining schedules a stop BH (so the BHs
 * pending before it run first: FIFO), and the thread leaves its loop once
 * that BH ran and the context's thread-pool requests are all delivered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>

#include "context-private.h"
#include "poll-private.h"
#include "thread-pool-private.h"

struct _AioIOThread {
    char *name;
    GThread *thread;
    AioContext *ctx;
    GMainContext *mc;
    /* Set by the stop BH, in the thread itself; read there only. */
    bool stopping;
    /* Start-up handshake: aio_iothread_new() returns once the thread runs. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
};

static gpointer
iothread_run(gpointer data)
{
    AioIOThread *t = data;

    g_main_context_push_thread_default(t->mc);
    aio_context_set_home(t->ctx);
    pthread_mutex_lock(&t->lock);
    t->started = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    /* The pool's completions come in through a BH of the context, which
     * wakes this loop: it ends once the last of them was delivered. */
    while (!t->stopping || thread_pool_in_flight(t->ctx) > 0)
        g_main_context_iteration(t->mc, TRUE);
    aio_context_set_home(NULL);
    g_main_context_pop_thread_default(t->mc);
    return NULL;
}

static void
iothread_stop_bh(void *opaque)
{
    AioIOThread *t = opaque;

    t->stopping = true;
}

static void
iothread_free(AioIOThread *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    g_free(t->name);
    g_free(t);
}

AioIOThread *
aio_iothread_new(const char *name, GError **error)
{
    AioIOThread *t;

    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    t = g_new0(AioIOThread, 1);
    t->name = g_strdup(name);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->ctx = aio_context_new(error);
    if (t->ctx == NULL) {
        iothread_free(t);
        return NULL;
    }
    /* It exists to run its context: spin briefly after progress, as
     * QEMU's I/O threads poll, instead of sleeping between two BHs of a
     * busy producer. */
    t->ctx->gsource_spin_ns = AIO_IOTHREAD_SPIN_NS;
    t->ctx->poll_spin_ns = AIO_IOTHREAD_SPIN_NS;
    t->mc = g_main_context_new();
    g_source_attach(&t->ctx->source, t->mc);
    t->thread = g_thread_try_new(name, iothread_run, t, error);
    if (t->thread == NULL) {
        g_source_destroy(&t->ctx->source);
        aio_context_unref(t->ctx);
        g_main_context_unref(t->mc);
        iothread_free(t);
        return NULL;
    }
    /* I1 holds from the moment this returns. */
    pthread_mutex_lock(&t->lock);
    while (!t->started)
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    return t;
}

AioContext *
aio_iothread_get_aio_context(AioIOThread *iothread)
{
    g_return_val_if_fail(iothread != NULL, NULL);

    return iothread->ctx;
}

GMainContext *
aio_iothread_get_g_main_context(AioIOThread *iothread)
{
    g_return_val_if_fail(iothread != NULL, NULL);

    return iothread->mc;
}

void
aio_iothread_join(AioIOThread *iothread)
{
    g_return_if_fail(iothread != NULL);
    g_return_if_fail(g_thread_self() != iothread->thread);

    aio_bh_schedule_oneshot(iothread->ctx, iothread_stop_bh, iothread);
    g_thread_join(iothread->thread);
    /* Detached from the thread's main context; a context the caller holds
     * a reference to stays valid, for aio_poll(). */
    g_source_destroy(&iothread->ctx->source);
    aio_context_unref(iothread->ctx);
    g_main_context_unref(iothread->mc);
    iothread_free(iothread);
}
