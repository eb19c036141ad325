/* fdmon-private.h: the fd monitor, what tells a context which of its fds are
 * ready, behind a small interface so that another monitor (io_uring) can sit
 * beside epoll later.
 *
 * A monitor watches "watches": an fd and the events wanted. Handlers embed
 * one (fd-handler.c), so do the timer clocks (timer.c). The monitor exposes
 * one fd that is readable while any watch is ready: aio_poll() sleeps on it
 * and the GSource gives it to GLib, so GLib's poll array holds one entry
 * whatever the number of handlers (G6).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

typedef struct _AioContext AioContext;

typedef enum {
    AIO_WATCH_HANDLER, /* an AioHandler (fd-handler.c) */
    AIO_WATCH_TIMER,   /* a clock's timerfd (timer.c) */
} AioWatchKind;

typedef struct {
    int fd;
    unsigned events; /* G_IO_IN | G_IO_OUT; errors and hang-ups always count */
    AioWatchKind kind;
} AioWatch;

/* One ready watch from a collect: @revents in G_IO_* bits. */
typedef struct {
    AioWatch *watch;
    unsigned revents;
} AioReadyEvent;

/* At most this many ready watches per collect; the rest stay ready (level
 * triggered) for the next pass. */
#define AIO_READY_EVENTS_MAX 128

typedef struct {
    const char *name;
    /* Sets up ctx->fdmon_fd; false with @error set (a G_IO_ERROR). */
    bool (*init)(AioContext *ctx, GError **error);
    void (*cleanup)(AioContext *ctx);
    /* Start watching, change the events of, stop watching @watch. 0 or an
     * errno (EPERM: the fd cannot be watched, e.g. a regular file). */
    int (*add)(AioContext *ctx, AioWatch *watch);
    int (*modify)(AioContext *ctx, AioWatch *watch);
    void (*remove)(AioContext *ctx, AioWatch *watch);
    /* Without blocking: fills @ready with up to @max ready watches. */
    int (*collect)(AioContext *ctx, AioReadyEvent *ready, int max);
} FdMonOps;

extern const FdMonOps fdmon_epoll_ops;
