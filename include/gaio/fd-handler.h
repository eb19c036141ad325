/* fd-handler.h: file-descriptor handlers and event notifiers of an AioContext.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdbool.h>
#include <glib.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>
#include <gaio/event-notifier.h>

G_BEGIN_DECLS

/**
 * IOHandler:
 * @opaque: the pointer given to aio_set_fd_handler()
 *
 * Called in the context's thread when the fd is readable (io_read) or
 * writable (io_write), or has an error or hang-up (both).
 */
typedef void IOHandler(void *opaque);

/**
 * AioPollFn:
 * @opaque: the handler's pointer
 *
 * A busy-polling callback: says whether work is ready without a system call.
 * Registered for QEMU compatibility; gaio does not poll adaptively yet, so it
 * is not called.
 *
 * Returns: %true if work is ready
 */
typedef bool AioPollFn(void *opaque);

/**
 * EventNotifierHandler:
 * @e: the notifier that is set
 *
 * Called in the context's thread while @e is set.
 */
typedef void EventNotifierHandler(EventNotifier *e);

/**
 * aio_set_fd_handler:
 * @ctx: a context
 * @fd: the file descriptor to watch
 * @io_read: (nullable): called while @fd is readable
 * @io_write: (nullable): called while @fd is writable
 * @io_poll: (nullable): busy-polling callback (kept, not called yet)
 * @io_poll_ready: (nullable): its companion (kept, not called yet)
 * @opaque: the callbacks' argument
 *
 * Adds, replaces or removes the handler of @fd. With @io_read, @io_write and
 * @io_poll all %NULL it removes it; removing a handler that does not exist
 * does nothing. Handlers are level-triggered: io_read runs in every pass
 * while @fd is readable (F1). A callback may remove or replace its own
 * handler or any other; a removed handler is never called afterwards (F2).
 * Registering is never progress for aio_poll() (P1).
 *
 * The context watches fds with epoll: a context's #GSource gives GLib one fd
 * for all its handlers, so an iteration costs O(ready fds) (G6). A bad @fd
 * (closed, invalid) is a critical naming @fd and the errno, and nothing is
 * registered; an fd epoll cannot watch (a regular file) is always ready, as
 * poll() reports it (F3).
 *
 * Remove the handler before closing @fd. (Closing first is harmless unless
 * another descriptor still refers to the same open file, a dup() or a
 * fork(): epoll then keeps watching it, and the removal cannot reach it.)
 *
 * Thread-safe. A removal from another thread does not wait for the
 * context's thread: a callback it is about to run may still run once.
 */
GAIO_AVAILABLE_IN_ALL
void aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read, IOHandler *io_write,
                        AioPollFn *io_poll, IOHandler *io_poll_ready, void *opaque);

/**
 * aio_set_event_notifier:
 * @ctx: a context
 * @notifier: an initialized notifier
 * @io_read: (nullable): called while @notifier is set; %NULL (with @io_poll
 *   %NULL) removes the handler
 * @io_poll: (nullable): busy-polling callback, called with @notifier (kept,
 *   not called yet)
 * @io_poll_ready: (nullable): its companion (kept, not called yet)
 *
 * aio_set_fd_handler() for an #EventNotifier: @io_read gets @notifier. It
 * must clear it (event_notifier_test_and_clear()) or it runs again in the
 * next pass (F1).
 *
 * Thread-safe, as aio_set_fd_handler().
 */
GAIO_AVAILABLE_IN_ALL
void aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier,
                            EventNotifierHandler *io_read, AioPollFn *io_poll,
                            EventNotifierHandler *io_poll_ready);

G_END_DECLS
