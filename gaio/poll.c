/* poll.c: aio_poll(), running a context on its own (SPEC P1-P3).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "bh-private.h"
#include "context-private.h"
#include "notify-private.h"
#include "poll-private.h"

int64_t
aio_compute_timeout_ns(AioContext *ctx)
{
    if (aio_notify_pending(ctx))
        return 0;
    switch (bh_queue_state(ctx)) {
    case BH_QUEUE_NORMAL_PENDING:
    case BH_QUEUE_LINKING:
        return 0;
    case BH_QUEUE_IDLE_PENDING:
        return AIO_IDLE_BH_TIMEOUT_NS;
    case BH_QUEUE_EMPTY:
    case BH_QUEUE_GARBAGE:
    default:
        return -1;
    }
}

int
aio_timeout_ns_to_ms(int64_t timeout_ns)
{
    int64_t ms;

    if (timeout_ns < 0)
        return -1;
    ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return (int)MIN(ms, (int64_t)INT_MAX);
}

/* Sleeps on the wakeup fd for at most @timeout_ns (-1: until woken). */
static void
aio_sleep(AioContext *ctx, int64_t timeout_ns)
{
    struct pollfd pfd = {.fd = ctx->wakeup_fd, .events = POLLIN};
    struct timespec ts, *tsp = NULL;
    int r;

    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    r = ppoll(&pfd, 1, tsp, NULL);
    if (r > 0 && (pfd.revents & POLLIN))
        aio_wakeup_clear(ctx);
    else if (r < 0 && errno != EINTR)
        g_critical("AioContext %p: ppoll() failed: %s", (void *)ctx, g_strerror(errno));
}

bool
aio_poll(AioContext *ctx, bool blocking)
{
    AioContextEntry entry;
    int64_t timeout_ns = 0;
    bool progress;

    g_return_val_if_fail(ctx != NULL, false);

    if (!aio_context_enter_standalone(ctx, &entry))
        return false;
    if (blocking) {
        aio_notify_arm(ctx);
        timeout_ns = aio_compute_timeout_ns(ctx);
        if (timeout_ns != 0)
            aio_sleep(ctx, timeout_ns);
        aio_notify_disarm(ctx);
    }
    aio_notify_accept(ctx);
    progress = bh_pass_run(ctx) != 0;
    aio_context_leave(ctx, &entry);
    return progress;
}
