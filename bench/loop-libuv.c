/* loop-libuv.c: libuv, through uv_async_t.
 *
 * A handle is a uv_async_t the user allocates (so memory counts it), set up
 * once with uv_async_init() on a private uv_loop_t and reused; a schedule is
 * uv_async_send() (thread-safe, coalescing). An iteration is uv_run() with
 * UV_RUN_NOWAIT, or UV_RUN_ONCE to block. libuv 1.44 writes the loop's eventfd
 * on every send that finds its handle not pending, and its dispatch scans
 * every async handle of the loop: both are libuv's documented design.
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
} UvLoop;

static void
libuv_ran(uv_async_t *handle)
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
    uv_run(&loop->uv, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&loop->uv) != 0)
        g_error("uv_loop_close: handles left open");
    g_free(loop->handles);
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
