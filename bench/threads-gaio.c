/* threads-gaio.c: gaio's I/O threads, thread pool and cross-context calls,
 * in bench-threads.c's workloads.
 *
 *  - thread pool: aio_thread_pool_submit() on a context of the bench
 *    thread, run with aio_poll() (blocking) until every done callback ran.
 *    The pool keeps its default size (the number of CPUs).
 *  - ping-pong: two I/O threads (aio_iothread_new()), each pinned from
 *    inside by a first aio_wait_bh_oneshot(); the token moves either with
 *    aio_bh_schedule_oneshot() into the other context (a BH made and freed
 *    per hop), or with qemu_bh_schedule() of a BH of the other context made
 *    once.
 *  - call and wait: one I/O thread; the bench thread calls
 *    aio_wait_bh_oneshot() of a callback that does nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gaio/gaio.h>

#include "bench-private.h"

static AioIOThread *
gaio_iothread_start(const char *name)
{
    g_autoptr(GError) error = NULL;
    AioIOThread *thread = aio_iothread_new(name, &error);

    if (thread == NULL)
        g_error("aio_iothread_new: %s", error->message);
    return thread;
}

static void
gaio_pin_first(void *unused)
{
    bench_threads_pin_self(0);
}

static void
gaio_pin_second(void *unused)
{
    bench_threads_pin_self(1);
}

/* --- thread pool -------------------------------------------------------- */

typedef struct {
    AioContext *ctx;
    unsigned completed;
} GaioPool;

static void *
gaio_pool_new(const BenchImpl *impl)
{
    GaioPool *pool = g_new0(GaioPool, 1);
    g_autoptr(GError) error = NULL;

    pool->ctx = aio_context_new(&error);
    if (pool->ctx == NULL)
        g_error("aio_context_new: %s", error->message);
    return pool;
}

static void
gaio_pool_free(void *data)
{
    GaioPool *pool = data;

    aio_context_unref(pool->ctx);
    g_free(pool);
}

static int
gaio_job(void *arg)
{
    return 0;
}

static void
gaio_job_done(void *opaque, int ret)
{
    GaioPool *pool = opaque;

    pool->completed++;
}

static void
gaio_pool_run(void *data, unsigned n)
{
    GaioPool *pool = data;

    pool->completed = 0;
    for (unsigned i = 0; i < n; i++)
        aio_thread_pool_submit(pool->ctx, gaio_job, NULL, gaio_job_done, pool);
    while (pool->completed < n)
        aio_poll(pool->ctx, true);
}

const BenchImpl bench_gaio_pool = {
    .id = "gaio-pool",
    .name = "gaio aio_thread_pool_submit",
    .gaio_column = "gaio",
    .workloads = BENCH_POOL,
    .threads_new = gaio_pool_new,
    .threads_free = gaio_pool_free,
    .pool_run = gaio_pool_run,
};

/* --- ping-pong ---------------------------------------------------------- */

typedef struct {
    AioIOThread *a, *b;
    AioContext *ctx_a, *ctx_b;
    QEMUBH *bh_a, *bh_b; /* qemu_bh_schedule()'s */
    BenchPingPong *token;
} GaioPair;

static void gaio_oneshot_at_b(void *opaque);

static void
gaio_oneshot_at_a(void *opaque)
{
    GaioPair *pair = opaque;

    if (bench_ping_pong_arrived(pair->token))
        aio_bh_schedule_oneshot(pair->ctx_b, gaio_oneshot_at_b, pair);
}

static void
gaio_oneshot_at_b(void *opaque)
{
    GaioPair *pair = opaque;

    aio_bh_schedule_oneshot(pair->ctx_a, gaio_oneshot_at_a, pair);
}

static void
gaio_bh_at_a(void *opaque)
{
    GaioPair *pair = opaque;

    if (bench_ping_pong_arrived(pair->token))
        qemu_bh_schedule(pair->bh_b);
}

static void
gaio_bh_at_b(void *opaque)
{
    GaioPair *pair = opaque;

    qemu_bh_schedule(pair->bh_a);
}

static void *
gaio_pair_new(const BenchImpl *impl)
{
    GaioPair *pair = g_new0(GaioPair, 1);

    pair->a = gaio_iothread_start("bench-gaio-a");
    pair->b = gaio_iothread_start("bench-gaio-b");
    pair->ctx_a = aio_iothread_get_aio_context(pair->a);
    pair->ctx_b = aio_iothread_get_aio_context(pair->b);
    aio_wait_bh_oneshot(pair->ctx_a, gaio_pin_first, NULL);
    aio_wait_bh_oneshot(pair->ctx_b, gaio_pin_second, NULL);
    pair->bh_a = aio_bh_new(pair->ctx_a, gaio_bh_at_a, pair);
    pair->bh_b = aio_bh_new(pair->ctx_b, gaio_bh_at_b, pair);
    return pair;
}

static void
gaio_pair_free(void *data)
{
    GaioPair *pair = data;

    qemu_bh_delete(pair->bh_a);
    qemu_bh_delete(pair->bh_b);
    aio_iothread_join(pair->a);
    aio_iothread_join(pair->b);
    g_free(pair);
}

static void
gaio_pair_ping_pong_oneshot(void *data, unsigned n, double *ns)
{
    GaioPair *pair = data;
    BenchPingPong token;

    bench_ping_pong_init(&token, n, ns);
    pair->token = &token;
    aio_bh_schedule_oneshot(pair->ctx_a, gaio_oneshot_at_a, pair);
    bench_ping_pong_wait(&token);
}

static void
gaio_pair_ping_pong_bh(void *data, unsigned n, double *ns)
{
    GaioPair *pair = data;
    BenchPingPong token;

    bench_ping_pong_init(&token, n, ns);
    pair->token = &token;
    qemu_bh_schedule(pair->bh_a);
    bench_ping_pong_wait(&token);
}

const BenchImpl bench_gaio_ping_pong_oneshot = {
    .id = "gaio-oneshot-pair",
    .name = "gaio aio_bh_schedule_oneshot pair",
    .gaio_column = "oneshot",
    .workloads = BENCH_PING_PONG,
    .threads_new = gaio_pair_new,
    .threads_free = gaio_pair_free,
    .ping_pong = gaio_pair_ping_pong_oneshot,
};

const BenchImpl bench_gaio_ping_pong_bh = {
    .id = "gaio-bh-pair",
    .name = "gaio qemu_bh_schedule pair",
    .gaio_column = "qemu_bh_schedule",
    .workloads = BENCH_PING_PONG,
    .threads_new = gaio_pair_new,
    .threads_free = gaio_pair_free,
    .ping_pong = gaio_pair_ping_pong_bh,
};

/* --- call and wait ------------------------------------------------------ */

static void
gaio_nothing(void *opaque)
{
}

static void *
gaio_call_new(const BenchImpl *impl)
{
    AioIOThread *thread = gaio_iothread_start("bench-gaio-call");

    aio_wait_bh_oneshot(aio_iothread_get_aio_context(thread), gaio_pin_second, NULL);
    return thread;
}

static void
gaio_call_free(void *data)
{
    aio_iothread_join(data);
}

static void
gaio_call_wait(void *data)
{
    aio_wait_bh_oneshot(aio_iothread_get_aio_context(data), gaio_nothing, NULL);
}

const BenchImpl bench_gaio_wait_oneshot = {
    .id = "gaio-wait-oneshot",
    .name = "gaio aio_wait_bh_oneshot",
    .gaio_column = "gaio",
    .workloads = BENCH_CALL_WAIT,
    .threads_new = gaio_call_new,
    .threads_free = gaio_call_free,
    .call_wait = gaio_call_wait,
};
