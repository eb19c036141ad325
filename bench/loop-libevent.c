/* loop-libevent.c: libevent 2.1, through user-triggered events.
 *
 * A handle is a `struct event` made once with event_new(base, -1, 0, …) (no
 * fd, no timeout: libevent's documented user-triggered event, which need not
 * be added) and reused; a schedule is event_active(), which coalesces. An
 * iteration is event_base_loop() with EVLOOP_NONBLOCK, or EVLOOP_ONCE to
 * block (EVLOOP_NO_EXIT_ON_EMPTY so that a loop with only such events waits
 * instead of returning at once). The base is event_base_new()'s, with the
 * backend libevent picks by default (epoll).
 *
 * Two variants: with evthread_use_pthreads(), the base has a lock and a
 * notification eventfd, so event_active() may be called from any thread; and
 * without, where the base is made with EVENT_BASE_FLAG_NOLOCK, exactly the
 * base a single-threaded program gets (evthread_use_pthreads() is global and
 * cannot be undone, so the flag is how both live in one process).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <event2/event.h>
#include <event2/thread.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    struct event_base *event_base;
    struct event **events;
    unsigned n_events;
} EventLoop;

static void
libevent_ran(evutil_socket_t fd, short what, void *arg)
{
    bench_loop_ran(arg);
}

static struct event_base *
libevent_base_new(bool threads)
{
    static gsize pthreads_ready;
    struct event_config *config = event_config_new();
    struct event_base *event_base;

    if (threads && g_once_init_enter(&pthreads_ready)) {
        if (evthread_use_pthreads() != 0)
            g_error("evthread_use_pthreads failed");
        g_once_init_leave(&pthreads_ready, 1);
    }
    if (!threads)
        event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
    event_base = event_base_new_with_config(config);
    event_config_free(config);
    if (event_base == NULL)
        g_error("event_base_new_with_config failed");
    return event_base;
}

static BenchLoop *
libevent_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    EventLoop *loop = g_new0(EventLoop, 1);

    loop->event_base = libevent_base_new(impl == &bench_libevent_pthreads);
    loop->events = g_new(struct event *, MAX(max_handles, 1));
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
libevent_loop_free(BenchLoop *base)
{
    EventLoop *loop = (EventLoop *)base;

    for (unsigned i = 0; i < loop->n_events; i++)
        event_free(loop->events[i]);
    event_base_free(loop->event_base);
    g_free(loop->events);
    g_free(loop);
}

static void
libevent_handles_add(BenchLoop *base, unsigned n)
{
    EventLoop *loop = (EventLoop *)base;

    for (unsigned i = 0; i < n; i++)
        loop->events[loop->n_events++] =
            event_new(loop->event_base, -1, 0, libevent_ran, loop);
}

static void
libevent_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    EventLoop *loop = (EventLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        event_active(loop->events[i], EV_READ, 0);
}

static void
libevent_iterate(BenchLoop *base, bool block)
{
    event_base_loop(((EventLoop *)base)->event_base,
                    EVLOOP_NO_EXIT_ON_EMPTY | (block ? EVLOOP_ONCE : EVLOOP_NONBLOCK));
}

const BenchImpl bench_libevent = {
    .id = "libevent",
    .name = "libevent event_active",
    .library = "libevent",
    .version = event_get_version,
    .workloads = BENCH_SAME_THREAD | BENCH_MEMORY | BENCH_IDLE,
    .loop_new = libevent_loop_new,
    .loop_free = libevent_loop_free,
    .handles_add = libevent_handles_add,
    .schedule = libevent_schedule,
    .iterate = libevent_iterate,
};

const BenchImpl bench_libevent_pthreads = {
    .id = "libevent-pthreads",
    .name = "libevent + pthreads",
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_MEMORY |
                 BENCH_IDLE,
    .loop_new = libevent_loop_new,
    .loop_free = libevent_loop_free,
    .handles_add = libevent_handles_add,
    .schedule = libevent_schedule,
    .iterate = libevent_iterate,
};
