/* loop-libuv.c: libuv, through uv_async_t, uv_poll_t and uv_timer_t.
 *
 * A handle is a uv_async_t the user allocates (so memory counts it), set up
 * once with uv_async_init() on a private uv_loop_t and reused; a schedule is
 * uv_async_send() (thread-safe, coalescing). An iteration is uv_run() with
 * UV_RUN_NOWAIT, or UV_RUN_ONCE to block. libuv 1.44 writes the loop's eventfd
 * on every send that finds its handle not pending, and its dispatch scans
 * every async handle of the loop: both are libuv's documented design.
 *
 * An fd is watched by a uv_poll_t (uv_poll_init(), uv_poll_start() with
 * UV_READABLE). The timer is a uv_timer_t: uv_timer_start() takes a timeout
 * in whole milliseconds from the loop's cached time, so the bench first
 * calls uv_update_time() (the loop is idle between timers, its time stale)
 * and rounds the interval up; uv_timer_stop() deletes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <uv.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    uv_loop_t uv;
    uv_async_t **handles;
    unsigned n_handles;
    GPtrArray *watches; /* uv_poll_t and uv_timer_t handles */
    uv_timer_t *timer;  /* timer_arm()'s, made on first use */
} UvLoop;

static void
libuv_ran(uv_async_t *handle)
{
    bench_loop_ran(handle->data);
}

static void
libuv_poll_ran(uv_poll_t *handle, int status, int events)
{
    bench_loop_ran(handle->data);
}

static void
libuv_timer_ran(uv_timer_t *handle)
{
    bench_loop_ran(handle->data);
}

static BenchLoop *
libuv_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    UvLoop *loop = g_new0(UvLoop, 1);
    int r = uv_loop_init(&loop->uv);

    if (r != 0)
        g_error("uv_loop_init: %s", uv_strerror(r));
    loop->handles = g_new(uv_async_t *, MAX(max_handles, 1));
    loop->watches = g_ptr_array_new();
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
libuv_handle_freed(uv_handle_t *handle)
{
    g_free(handle);
}

static void
libuv_loop_free(BenchLoop *base)
{
    UvLoop *loop = (UvLoop *)base;

    for (unsigned i = 0; i < loop->n_handles; i++)
        uv_close((uv_handle_t *)loop->handles[i], libuv_handle_freed);
    for (guint i = 0; i < loop->watches->len; i++)
        uv_close(loop->watches->pdata[i], libuv_handle_freed);
    if (loop->timer != NULL)
        uv_close((uv_handle_t *)loop->timer, libuv_handle_freed);
    uv_run(&loop->uv, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&loop->uv) != 0)
        g_error("uv_loop_close: handles left open");
    g_free(loop->handles);
    g_ptr_array_unref(loop->watches);
    g_free(loop);
}

static void
libuv_handles_add(BenchLoop *base, unsigned n)
{
    UvLoop *loop = (UvLoop *)base;

    for (unsigned i = 0; i < n; i++) {
        uv_async_t *handle = g_new(uv_async_t, 1);

        uv_async_init(&loop->uv, handle, libuv_ran);
        handle->data = loop;
        loop->handles[loop->n_handles++] = handle;
    }
}

static void
libuv_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    UvLoop *loop = (UvLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        uv_async_send(loop->handles[i]);
}

static void
libuv_fd_watch(BenchLoop *base, int fd)
{
    UvLoop *loop = (UvLoop *)base;
    uv_poll_t *handle = g_new(uv_poll_t, 1);
    int r = uv_poll_init(&loop->uv, handle, fd);

    if (r == 0)
        r = uv_poll_start(handle, UV_READABLE, libuv_poll_ran);
    if (r != 0)
        g_error("uv_poll_init/start(%d): %s", fd, uv_strerror(r));
    handle->data = loop;
    g_ptr_array_add(loop->watches, handle);
}

static uv_timer_t *
libuv_timer_new(UvLoop *loop)
{
    uv_timer_t *timer = g_new(uv_timer_t, 1);

    uv_timer_init(&loop->uv, timer);
    timer->data = loop;
    return timer;
}

static void
libuv_timer_start(UvLoop *loop, uv_timer_t *timer, int64_t now_ns, int64_t deadline_ns)
{
    uv_timer_start(timer, libuv_timer_ran, bench_ms_until(now_ns, deadline_ns), 0);
}

static void
libuv_timer_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    UvLoop *loop = (UvLoop *)base;

    if (loop->timer == NULL)
        loop->timer = libuv_timer_new(loop);
    uv_update_time(&loop->uv);
    libuv_timer_start(loop, loop->timer, now_ns, deadline_ns);
}

static void
libuv_timer_cancel(BenchLoop *base)
{
    uv_timer_stop(((UvLoop *)base)->timer);
}

static void
libuv_timers_add(BenchLoop *base, unsigned n, int64_t now_ns, const int64_t *deadlines_ns)
{
    UvLoop *loop = (UvLoop *)base;

    uv_update_time(&loop->uv);
    for (unsigned i = 0; i < n; i++) {
        uv_timer_t *timer = libuv_timer_new(loop);

        libuv_timer_start(loop, timer, now_ns, deadlines_ns[i]);
        g_ptr_array_add(loop->watches, timer);
    }
}

/* uv_timer_start() on an active timer stops and restarts it. */
static void
libuv_timer_move(BenchLoop *base, unsigned i, int64_t now_ns, int64_t deadline_ns)
{
    UvLoop *loop = (UvLoop *)base;

    uv_update_time(&loop->uv);
    libuv_timer_start(loop, loop->watches->pdata[i], now_ns, deadline_ns);
}

static void
libuv_iterate(BenchLoop *base, bool block)
{
    uv_run(&((UvLoop *)base)->uv, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
}

const BenchImpl bench_libuv = {
    .id = "libuv",
    .name = "libuv uv_async_send",
    .library = "libuv",
    .version = uv_version_string,
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_MEMORY |
                 BENCH_IDLE,
    .loop_new = libuv_loop_new,
    .loop_free = libuv_loop_free,
    .handles_add = libuv_handles_add,
    .schedule = libuv_schedule,
    .iterate = libuv_iterate,
};

const BenchImpl bench_libuv_poll = {
    .id = "libuv-poll",
    .name = "libuv uv_poll",
    .workloads = BENCH_FDS,
    .loop_new = libuv_loop_new,
    .loop_free = libuv_loop_free,
    .iterate = libuv_iterate,
    .fd_watch = libuv_fd_watch,
};

const BenchImpl bench_libuv_timer = {
    .id = "libuv-timer",
    .name = "libuv uv_timer (ms)",
    .workloads = BENCH_TIMERS | BENCH_TIMER_ARM,
    .loop_new = libuv_loop_new,
    .loop_free = libuv_loop_free,
    .iterate = libuv_iterate,
    .timer_arm = libuv_timer_arm,
    .timer_cancel = libuv_timer_cancel,
    .timers_add = libuv_timers_add,
    .timer_move = libuv_timer_move,
};
