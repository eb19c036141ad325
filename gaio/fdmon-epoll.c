/* fdmon-epoll.c: the epoll fd monitor (SPEC F1, F3, G6).
 *
 * Level-triggered epoll: a watch stays in the ready list while its fd is
 * ready, which is F1. The context's GSource gives GLib ctx->fdmon_fd alone,
 * and a collect costs O(ready), so neither GLib's poll nor a pass grows with
 * the number of idle handlers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

#include "context-private.h"
#include "fdmon-private.h"
#include "i18n-private.h"
#include "test-hooks-private.h"

G_STATIC_ASSERT((int)EPOLLIN == (int)G_IO_IN && (int)EPOLLOUT == (int)G_IO_OUT);
G_STATIC_ASSERT((int)EPOLLERR == (int)G_IO_ERR && (int)EPOLLHUP == (int)G_IO_HUP);

static bool
fdmon_epoll_init(AioContext *ctx, GError **error)
{
    ctx->fdmon_fd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->fdmon_fd < 0) {
        int saved_errno = errno;

        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                    _("Could not create the fd monitor of an AioContext: %s"),
                    g_strerror(saved_errno));
        return false;
    }
    return true;
}

static void
fdmon_epoll_cleanup(AioContext *ctx)
{
    if (ctx->fdmon_fd >= 0)
        close(ctx->fdmon_fd);
    ctx->fdmon_fd = -1;
}

static int
fdmon_epoll_ctl(AioContext *ctx, int op, AioWatch *watch)
{
    struct epoll_event event = {
        .events = watch->events & (G_IO_IN | G_IO_OUT),
        .data.ptr = watch,
    };

    int fault = GAIO_TEST_FAULT(GAIO_FAULT_EPOLL_CTL);

    if (fault != 0)
        return fault;
    return epoll_ctl(ctx->fdmon_fd, op, watch->fd, &event) == 0 ? 0 : errno;
}

static int
fdmon_epoll_add(AioContext *ctx, AioWatch *watch)
{
    return fdmon_epoll_ctl(ctx, EPOLL_CTL_ADD, watch);
}

static int
fdmon_epoll_modify(AioContext *ctx, AioWatch *watch)
{
    return fdmon_epoll_ctl(ctx, EPOLL_CTL_MOD, watch);
}

static void
fdmon_epoll_remove(AioContext *ctx, AioWatch *watch)
{
    /* Fails only when the fd was closed first, which removed it already
     * (unless a duplicate keeps the file open: the user's bug to avoid). */
    (void)epoll_ctl(ctx->fdmon_fd, EPOLL_CTL_DEL, watch->fd, NULL);
}

static int
fdmon_epoll_collect(AioContext *ctx, AioReadyEvent *ready, int max)
{
    struct epoll_event events[AIO_READY_EVENTS_MAX];
    int n;

    do
        n = epoll_wait(ctx->fdmon_fd, events, MIN(max, AIO_READY_EVENTS_MAX), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        g_critical("AioContext %p: epoll_wait() failed: %s", (void *)ctx, g_strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        ready[i].watch = events[i].data.ptr;
        ready[i].revents = events[i].events;
    }
    return n;
}

const FdMonOps fdmon_epoll_ops = {
    .name = "epoll",
    .init = fdmon_epoll_init,
    .cleanup = fdmon_epoll_cleanup,
    .add = fdmon_epoll_add,
    .modify = fdmon_epoll_modify,
    .remove = fdmon_epoll_remove,
    .collect = fdmon_epoll_collect,
};
