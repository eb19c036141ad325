/* thread-pool.h: a context's thread pool: functions run on worker threads,
 * completions delivered in the context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <glib.h>
#include <gio/gio.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>

G_BEGIN_DECLS

/**
 * AioThreadPoolFunc:
 * @arg: the argument given at submit
 *
 * The work, run on a worker thread.
 *
 * Returns: a result for the done callback (0 or a negative errno, by
 *   convention)
 */
typedef int AioThreadPoolFunc(void *arg);

/**
 * AioThreadPoolDone:
 * @opaque: the pointer given at submit
 * @ret: what the function returned, or -ECANCELED if it never ran
 *
 * A request's completion, run in the context's thread.
 */
typedef void AioThreadPoolDone(void *opaque, int ret);

/**
 * AioThreadPoolRequest:
 *
 * A submitted request; valid until its done callback has returned.
 */
typedef struct _AioThreadPoolRequest AioThreadPoolRequest;

/**
 * aio_thread_pool_submit:
 * @ctx: the context whose pool runs it and whose thread gets the completion
 * @func: the work
 * @arg: its argument
 * @done: (nullable): the completion
 * @opaque: its argument
 *
 * Queues @func(@arg) for a worker thread. @done(@opaque, ret) runs later in
 * @ctx's thread, never inside this call, exactly once (TP1). At most
 * max_workers functions run at once; queued requests start in submit order
 * (TP4). Completions finished since the context's last pass are delivered in
 * one pass, in completion order (TP3).
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the request, valid until @done has returned
 */
GAIO_AVAILABLE_IN_ALL
AioThreadPoolRequest *aio_thread_pool_submit(AioContext *ctx, AioThreadPoolFunc *func,
                                             void *arg, AioThreadPoolDone *done,
                                             void *opaque);

/**
 * aio_thread_pool_submit_cancellable:
 * @ctx: the context
 * @func: the work
 * @arg: its argument
 * @cancellable: (nullable): cancels the request if triggered before @func
 *   starts (also if it already is at submit)
 * @done: (nullable): the completion
 * @opaque: its argument
 *
 * aio_thread_pool_submit() with a #GCancellable (TP2).
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the request, valid until @done has returned
 */
GAIO_AVAILABLE_IN_ALL
AioThreadPoolRequest *aio_thread_pool_submit_cancellable(AioContext *ctx,
                                                         AioThreadPoolFunc *func, void *arg,
                                                         GCancellable *cancellable,
                                                         AioThreadPoolDone *done,
                                                         void *opaque);

/**
 * aio_thread_pool_cancel:
 * @req: a request whose done callback has not returned yet
 *
 * Cancels @req if its function has not started: it never will, and done
 * gets -ECANCELED in the context's next pass. Once the function has started
 * (or finished) this changes nothing: done gets its result (TP2).
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_thread_pool_cancel(AioThreadPoolRequest *req);

/**
 * aio_thread_pool_set_max_workers:
 * @ctx: a context
 * @n: the most functions that may run at once (> 0; default: the number of
 *   CPUs)
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_thread_pool_set_max_workers(AioContext *ctx, int n);

G_END_DECLS
