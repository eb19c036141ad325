/* threads-libuv.c: libuv's ways of moving work between threads, the peers
 * of bench-threads.c's workloads.
 *
 *  - thread pool: uv_queue_work() on a private uv_loop_t run by the bench
 *    thread with uv_run(UV_RUN_DEFAULT), which returns once every
 *    after_work callback ran; the work callback does nothing. The uv_work_t
 *    requests are the caller's: one array per run, as a program that knows
 *    its batch would allocate them. libuv's pool is process-wide, 4 threads
 *    unless UV_THREADPOOL_SIZE says otherwise.
 *  - ping-pong: two threads, each running uv_run(UV_RUN_DEFAULT) on a loop
 *    of its own with one uv_async_t; the token moves with uv_async_send()
 *    of the other thread's handle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <uv.h>

#include "bench-private.h"

/* --- thread pool: uv_queue_work() --------------------------------------- */

typedef struct {
    uv_loop_t uv;
    unsigned completed;
} UvPool;

static void *
libuv_pool_new(const BenchImpl *impl)
{
    UvPool *pool = g_new0(UvPool, 1);
    int r = uv_loop_init(&pool->uv);

    if (r != 0)
        g_error("uv_loop_init: %s", uv_strerror(r));
    return pool;
}

static void
libuv_pool_free(void *data)
{
    UvPool *pool = data;

    if (uv_loop_close(&pool->uv) != 0)
        g_error("uv_loop_close: requests left");
    g_free(pool);
}

static void
libuv_work(uv_work_t *req)
{
}

static void
libuv_after_work(uv_work_t *req, int status)
{
    UvPool *pool = req->data;

    pool->completed++;
}

static void
libuv_pool_run(void *data, unsigned n)
{
    UvPool *pool = data;
    g_autofree uv_work_t *reqs = g_new(uv_work_t, n);

    pool->completed = 0;
    for (unsigned i = 0; i < n; i++) {
        int r;

        reqs[i].data = pool;
        r = uv_queue_work(&pool->uv, &reqs[i], libuv_work, libuv_after_work);
        if (r != 0)
            g_error("uv_queue_work: %s", uv_strerror(r));
    }
    uv_run(&pool->uv, UV_RUN_DEFAULT);
    if (pool->completed != n)
        g_error("uv_queue_work: %u of %u completions", pool->completed, n);
}

const BenchImpl bench_libuv_queue_work = {
    .id = "libuv-queue-work",
    .name = "libuv uv_queue_work",
    .workloads = BENCH_POOL,
    .threads_new = libuv_pool_new,
    .threads_free = libuv_pool_free,
    .pool_run = libuv_pool_run,
};

/* --- ping-pong: uv_async_send() ----------------------------------------- */

typedef struct UvPair UvPair;

typedef struct {
    uv_loop_t uv;
    uv_async_t async;
    GThread *thread;
    unsigned cpu;
    UvPair *pair;
} UvThread;

struct UvPair {
    UvThread a, b;
    BenchPingPong *token;
    atomic_bool stop;
};

static gpointer
libuv_thread_main(gpointer data)
{
    UvThread *thread = data;

    bench_threads_pin_self(thread->cpu);
    uv_run(&thread->uv, UV_RUN_DEFAULT); /* until the handle is closed */
    return NULL;
}

static void
libuv_pair_at_a(uv_async_t *async)
{
    UvPair *pair = async->data;

    if (atomic_load(&pair->stop))
        uv_close((uv_handle_t *)async, NULL);
    else if (bench_ping_pong_arrived(pair->token))
        uv_async_send(&pair->b.async);
}

static void
libuv_pair_at_b(uv_async_t *async)
{
    UvPair *pair = async->data;

    if (atomic_load(&pair->stop))
        uv_close((uv_handle_t *)async, NULL);
    else
        uv_async_send(&pair->a.async);
}

static void
libuv_thread_start(UvThread *thread, UvPair *pair, unsigned cpu, uv_async_cb cb,
                   const char *name)
{
    int r = uv_loop_init(&thread->uv);

    if (r == 0)
        r = uv_async_init(&thread->uv, &thread->async, cb);
    if (r != 0)
        g_error("libuv: %s", uv_strerror(r));
    thread->async.data = pair;
    thread->cpu = cpu;
    thread->pair = pair;
    thread->thread = g_thread_new(name, libuv_thread_main, thread);
}

static void
libuv_thread_stop(UvThread *thread)
{
    uv_async_send(&thread->async);
    g_thread_join(thread->thread);
    if (uv_loop_close(&thread->uv) != 0)
        g_error("uv_loop_close: handles left open");
}

static void *
libuv_pair_new(const BenchImpl *impl)
{
    UvPair *pair = g_new0(UvPair, 1);

    atomic_init(&pair->stop, false);
    libuv_thread_start(&pair->a, pair, 0, libuv_pair_at_a, "bench-uv-a");
    libuv_thread_start(&pair->b, pair, 1, libuv_pair_at_b, "bench-uv-b");
    return pair;
}

static void
libuv_pair_free(void *data)
{
    UvPair *pair = data;

    atomic_store(&pair->stop, true);
    libuv_thread_stop(&pair->a);
    libuv_thread_stop(&pair->b);
    g_free(pair);
}

static void
libuv_pair_ping_pong(void *data, unsigned n, double *ns)
{
    UvPair *pair = data;
    BenchPingPong token;

    bench_ping_pong_init(&token, n, ns);
    pair->token = &token;
    uv_async_send(&pair->a.async);
    bench_ping_pong_wait(&token);
}

const BenchImpl bench_libuv_async_pair = {
    .id = "libuv-async-pair",
    .name = "libuv uv_async_send pair",
    .workloads = BENCH_PING_PONG,
    .threads_new = libuv_pair_new,
    .threads_free = libuv_pair_free,
    .ping_pong = libuv_pair_ping_pong,
};
