/* loop-libevent.c: libevent 2.1, through user-triggered events, fd events
 * and timer events.
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
 * fds and timers run on the single-threaded base (EVENT_BASE_FLAG_NOLOCK).
 * An fd is watched by event_new(base, fd, EV_READ | EV_PERSIST, …) and
 * event_add(ev, NULL); an iteration adds EVLOOP_ONCE (see
 * libevent_iterate_once()). The timer is evtimer_new() armed with evtimer_add()
 * and a struct timeval in microseconds (rounded up), deleted with
 * evtimer_del(); its base also has EVENT_BASE_FLAG_PRECISE_TIMER, which a
 * program that wants sub-millisecond timers sets: without it libevent reads
 * CLOCK_MONOTONIC_COARSE (a tick, several ms) and its epoll backend sleeps in
 * whole milliseconds; with it, a precise clock and a timerfd.
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
    GPtrArray *watches;  /* fd events and timers_add()'s timers */
    struct event *timer; /* timer_arm()'s, made on first use */
} EventLoop;

static void
libevent_ran(evutil_socket_t fd, short what, void *arg)
{
    bench_loop_ran(arg);
}

static struct event_base *
libevent_base_new(bool threads, bool precise_timer)
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
    if (precise_timer)
        event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
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

    loop->event_base =
        libevent_base_new(impl == &bench_libevent_pthreads, impl == &bench_libevent_timer);
    loop->events = g_new(struct event *, MAX(max_handles, 1));
    loop->watches = g_ptr_array_new_with_free_func((GDestroyNotify)event_free);
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
libevent_loop_free(BenchLoop *base)
{
    EventLoop *loop = (EventLoop *)base;

    for (unsigned i = 0; i < loop->n_events; i++)
        event_free(loop->events[i]);
    g_ptr_array_unref(loop->watches);
    if (loop->timer != NULL)
        event_free(loop->timer);
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
libevent_fd_watch(BenchLoop *base, int fd)
{
    EventLoop *loop = (EventLoop *)base;
    struct event *event =
        event_new(loop->event_base, fd, EV_READ | EV_PERSIST, libevent_ran, loop);

    if (event == NULL || event_add(event, NULL) != 0)
        g_error("event_new/event_add(%d) failed", fd);
    g_ptr_array_add(loop->watches, event);
}

static void
libevent_timer_add(struct event *timer, int64_t now_ns, int64_t deadline_ns)
{
    int64_t us = MAX(0, (deadline_ns - now_ns + 999) / 1000);
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};

    evtimer_add(timer, &tv);
}

static void
libevent_timer_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    EventLoop *loop = (EventLoop *)base;

    if (loop->timer == NULL)
        loop->timer = evtimer_new(loop->event_base, libevent_ran, loop);
    libevent_timer_add(loop->timer, now_ns, deadline_ns);
}

static void
libevent_timer_cancel(BenchLoop *base)
{
    evtimer_del(((EventLoop *)base)->timer);
}

static void
libevent_timers_add(BenchLoop *base, unsigned n, int64_t now_ns,
                    const int64_t *deadlines_ns)
{
    EventLoop *loop = (EventLoop *)base;

    for (unsigned i = 0; i < n; i++) {
        struct event *timer = evtimer_new(loop->event_base, libevent_ran, loop);

        libevent_timer_add(timer, now_ns, deadlines_ns[i]);
        g_ptr_array_add(loop->watches, timer);
    }
}

/* evtimer_add() on a pending timer moves it. */
static void
libevent_timer_move(BenchLoop *base, unsigned i, int64_t now_ns, int64_t deadline_ns)
{
    libevent_timer_add(((EventLoop *)base)->watches->pdata[i], now_ns, deadline_ns);
}

static void
libevent_iterate(BenchLoop *base, bool block)
{
    event_base_loop(((EventLoop *)base)->event_base,
                    EVLOOP_NO_EXIT_ON_EMPTY | (block ? EVLOOP_ONCE : EVLOOP_NONBLOCK));
}

/* One batch of callbacks: EVLOOP_NONBLOCK alone goes on polling while the
 * last poll made callbacks active, so a level-triggered fd that stays ready
 * would keep it running forever; EVLOOP_ONCE stops it after one batch. */
static void
libevent_iterate_once(BenchLoop *base, bool block)
{
    event_base_loop(((EventLoop *)base)->event_base,
                    EVLOOP_NO_EXIT_ON_EMPTY | EVLOOP_ONCE | (block ? 0 : EVLOOP_NONBLOCK));
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

const BenchImpl bench_libevent_fd = {
    .id = "libevent-fd",
    .name = "libevent EV_READ",
    .workloads = BENCH_FDS,
    .loop_new = libevent_loop_new,
    .loop_free = libevent_loop_free,
    .iterate = libevent_iterate_once,
    .fd_watch = libevent_fd_watch,
};

const BenchImpl bench_libevent_timer = {
    .id = "libevent-timer",
    .name = "libevent evtimer (precise)",
    .workloads = BENCH_TIMERS | BENCH_TIMER_ARM,
    .loop_new = libevent_loop_new,
    .loop_free = libevent_loop_free,
    .iterate = libevent_iterate_once,
    .timer_arm = libevent_timer_arm,
    .timer_cancel = libevent_timer_cancel,
    .timers_add = libevent_timers_add,
    .timer_move = libevent_timer_move,
};
