/* aio-context.h: the AioContext, a GSource that runs bottom halves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdbool.h>
#include <glib.h>
#include <glib-object.h>

#include <gaio/gaio-version-macros.h>

G_BEGIN_DECLS

/**
 * AioContext:
 *
 * An event loop core: bottom halves (and, later, fd handlers and timers) that run
 * either from aio_poll() or, as a #GSource, from any #GMainContext.
 *
 * An AioContext *is* a #GSource: its GSource reference count is its reference
 * count. One thread at a time runs it (SPEC C5).
 */
typedef struct _AioContext AioContext;

#define AIO_TYPE_CONTEXT (aio_context_get_type())

GAIO_AVAILABLE_IN_ALL
GType aio_context_get_type(void) G_GNUC_CONST;

/**
 * aio_context_new:
 * @error: return location for a #GError, or %NULL
 *
 * Creates a context, not attached to any #GMainContext. It needs one file
 * descriptor (its wakeup eventfd).
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): a new context, or %NULL with @error set
 *   (a %G_IO_ERROR) when the system refuses the resources.
 */
GAIO_AVAILABLE_IN_ALL
AioContext *aio_context_new(GError **error);

/**
 * aio_context_ref:
 * @ctx: a context
 *
 * Takes a reference (a reference on its #GSource).
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @ctx
 */
GAIO_AVAILABLE_IN_ALL
AioContext *aio_context_ref(AioContext *ctx);

/**
 * aio_context_unref:
 * @ctx: (transfer full): a context
 *
 * Drops a reference. The last one frees every bottom half still attached to
 * the context (a g_debug() names each one that was never deleted). A context
 * attached to a #GMainContext is referenced by it until g_source_destroy().
 *
 * A callback of @ctx may drop the last reference of its own context:
 * aio_poll(), aio_bh_poll() and the #GSource dispatch hold one until they
 * return, and the context is freed then.
 *
 * The caller's duty: every qemu_bh_schedule() or qemu_bh_schedule_idle() on
 * the context's bottom halves made by other threads (or signal handlers) has
 * returned before the last reference goes. Finalizing frees the bottom
 * halves, and a schedule still in progress would write freed memory.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_context_unref(AioContext *ctx);

/**
 * aio_get_g_source:
 * @ctx: a context
 *
 * Returns the context's #GSource, to attach with g_source_attach(). Its priority
 * is %G_PRIORITY_DEFAULT unless changed with g_source_set_priority().
 *
 * Thread-safe.
 *
 * Returns: (transfer full): a new reference to the #GSource
 */
GAIO_AVAILABLE_IN_ALL
GSource *aio_get_g_source(AioContext *ctx);

/**
 * qemu_get_aio_context:
 *
 * The process-wide default context, made on first use and attached to
 * g_main_context_default(). It lives until the process exits.
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the default context
 */
GAIO_AVAILABLE_IN_ALL
AioContext *qemu_get_aio_context(void);

/**
 * aio_notify:
 * @ctx: a context
 *
 * Wakes the thread running @ctx if it sleeps in aio_poll() or in the poll of
 * the #GMainContext @ctx is attached to. A notify racing with going to sleep
 * still wakes it; when the thread is awake, no system call is made, and its
 * next blocking aio_poll() returns without sleeping.
 *
 * Thread-safe; async-signal-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_notify(AioContext *ctx);

/**
 * aio_poll:
 * @ctx: a context
 * @blocking: whether to sleep until progress is possible
 *
 * Runs one pass of bottom halves (then ready handlers and expired timers, as
 * they arrive). With @blocking, first sleeps until a bottom half is pending or
 * aio_notify() is called; a pending bottom half means no sleep at all, a
 * pending idle one bounds the sleep to 10 ms.
 *
 * May be called from a callback of @ctx itself (nesting): the nested pass goes
 * on with the outer pass's remaining bottom halves.
 *
 * Holds a reference on @ctx for the whole call, so a callback may drop the
 * last reference of its own context (see aio_context_unref() for the
 * caller's duty towards other threads); @ctx is then freed as this returns.
 *
 * Context thread only: a second thread calling it while another thread is
 * inside aio_poll(), aio_bh_poll() or the #GSource callbacks of @ctx gets a
 * critical and %false, and nothing runs. It never acquires the #GMainContext
 * @ctx is attached to, so it does not disturb GLib; it gets no critical when
 * no thread iterates that #GMainContext.
 *
 * Returns: %true if progress was made: a non-idle bottom half ran. A bare
 *   aio_notify() is not progress.
 */
GAIO_AVAILABLE_IN_ALL
bool aio_poll(AioContext *ctx, bool blocking);

/**
 * aio_context_get_current:
 *
 * The context whose aio_poll() or #GSource dispatch the calling thread is
 * inside of (the innermost one when nested).
 *
 * Thread-safe.
 *
 * Returns: (transfer none) (nullable): the running context, or %NULL
 */
GAIO_AVAILABLE_IN_ALL
AioContext *aio_context_get_current(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AioContext, aio_context_unref)

G_END_DECLS
