/* iothread.h: I/O threads, each running an AioContext of its own.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <glib.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>

G_BEGIN_DECLS

/**
 * AioIOThread:
 *
 * A thread that runs one #AioContext, attached to a #GMainContext of its own
 * which is the thread's thread-default context: GLib sources attached there
 * run in the thread too.
 */
typedef struct _AioIOThread AioIOThread;

/**
 * aio_iothread_new:
 * @name: the thread's name (for debuggers and `ps`)
 * @error: return location for a #GError, or %NULL
 *
 * Starts an I/O thread. When this returns, the thread runs its context:
 * aio_context_get_current() in it returns that context (I1).
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the thread, or %NULL with @error set
 *   (%G_THREAD_ERROR when the thread cannot be created, a %G_IO_ERROR when
 *   its context cannot)
 */
GAIO_AVAILABLE_IN_ALL
AioIOThread *aio_iothread_new(const char *name, GError **error);

/**
 * aio_iothread_get_aio_context:
 * @iothread: an I/O thread
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the context the thread runs
 */
GAIO_AVAILABLE_IN_ALL
AioContext *aio_iothread_get_aio_context(AioIOThread *iothread);

/**
 * aio_iothread_get_g_main_context:
 * @iothread: an I/O thread
 *
 * Thread-safe.
 *
 * Returns: (transfer none): the thread's #GMainContext
 */
GAIO_AVAILABLE_IN_ALL
GMainContext *aio_iothread_get_g_main_context(AioIOThread *iothread);

/**
 * aio_iothread_join:
 * @iothread: (transfer full): an I/O thread
 *
 * Stops the thread and frees @iothread. The BHs pending when this is called
 * run first, and the context's thread-pool requests finish (their done
 * callbacks run in the thread). Then the thread stops and is joined, the
 * context is detached from the thread's #GMainContext and the thread's
 * references are dropped: a context the caller still holds a reference to
 * stays valid and can be run with aio_poll().
 *
 * Any thread but @iothread's own.
 */
GAIO_AVAILABLE_IN_ALL
void aio_iothread_join(AioIOThread *iothread);

G_END_DECLS
