/* bench-threads.c: work moved between threads: a context's thread pool, a
 * token passed back and forth between two contexts, and a call run in
 * another thread's context and waited for (SPEC section 6, issue #9).
 *
 *  - thread pool: bench_options.pool_jobs jobs (100,000; fewer with
 *    --quick) whose function returns 0 at once, all submitted back to back
 *    from the bench thread, whose own context gets the completions; that
 *    context then runs until all of them ran there. Jobs per second from the
 *    first submit to the last completion, and ns per job. Every pool keeps
 *    its library's default size (gaio: the number of CPUs; GTask: 10
 *    threads at most; libuv: 4) and its threads are not pinned.
 *  - ping-pong: two threads, pinned to two CPUs, each running a context of
 *    its own; a token goes A → B → A bench_options.round_trips times. A's
 *    callback stamps each arrival; one round trip = the time between two
 *    arrivals. p50 and p99 of each repetition, in ns. The bench thread only
 *    starts the token and waits for the last arrival.
 *  - call and wait: one thread (pinned to the second CPU) runs a context;
 *    the bench thread (pinned to the first, running no context) has a
 *    callback that does nothing run there and waits until it finished,
 *    bench_options.round_trips times, one at a time. ns per call: p50, p99.
 *
 * The threads and contexts of an implementation are made once per workload
 * (threads_new()), and a warm-up run precedes the timed ones.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pthread.h>

#include "bench-private.h"

#define WARMUP_ROUND_TRIPS 1000
#define WARMUP_JOBS 1000

/* --- affinity ----------------------------------------------------------- */

static cpu_set_t allowed;           /* the process's CPUs, read once */
static cpu_set_t bench_affinity;    /* the bench thread's, while it is pinned */
static bool allowed_read;

static void
allowed_read_once(void)
{
    if (allowed_read)
        return;
    /* The bench thread, before anything pins it: called from setup(). */
    if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0)
        CPU_ZERO(&allowed);
    allowed_read = true;
}

void
bench_threads_pin_self(unsigned i)
{
    cpu_set_t set;

    g_assert(allowed_read);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed) || i-- > 0)
            continue;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        return;
    }
    /* Fewer CPUs than threads: left where the scheduler puts it. */
}

void
bench_threads_pin_save(void)
{
    allowed_read_once();
    pthread_getaffinity_np(pthread_self(), sizeof bench_affinity, &bench_affinity);
    bench_threads_pin_self(0);
}

void
bench_threads_pin_restore(void)
{
    pthread_setaffinity_np(pthread_self(), sizeof bench_affinity, &bench_affinity);
}

/* --- the token of ping-pong -------------------------------------------- */

void
bench_ping_pong_init(BenchPingPong *pp, unsigned n, double *ns)
{
    pp->n = n;
    pp->arrivals = 0;
    pp->last_ns = 0;
    pp->ns = ns;
    g_mutex_init(&pp->lock);
    g_cond_init(&pp->cond);
    pp->done = false;
}

bool
bench_ping_pong_arrived(BenchPingPong *pp)
{
    int64_t now = bench_now_ns();

    if (pp->arrivals > 0)
        pp->ns[pp->arrivals - 1] = (double)(now - pp->last_ns);
    pp->last_ns = now;
    if (pp->arrivals++ < pp->n)
        return true;
    g_mutex_lock(&pp->lock);
    pp->done = true;
    g_cond_signal(&pp->cond);
    g_mutex_unlock(&pp->lock);
    return false;
}

void
bench_ping_pong_wait(BenchPingPong *pp)
{
    g_mutex_lock(&pp->lock);
    while (!pp->done)
        g_cond_wait(&pp->cond, &pp->lock);
    g_mutex_unlock(&pp->lock);
    g_mutex_clear(&pp->lock);
    g_cond_clear(&pp->cond);
}

/* --- common ------------------------------------------------------------- */

/* The state of a workload: the implementation and its threads. */
typedef struct {
    const BenchImpl *impl;
    void *threads;
} ThreadsState;

static void *
state_new(const BenchImpl *impl)
{
    ThreadsState *state = g_new0(ThreadsState, 1);

    state->impl = impl;
    allowed_read_once(); /* before any thread pins itself */
    state->threads = impl->threads_new(impl);
    return state;
}

static void
threads_teardown(void *data)
{
    ThreadsState *state = data;

    state->impl->threads_free(state->threads);
    g_free(state);
}

/* --- thread pool -------------------------------------------------------- */

static void *
pool_setup(const BenchImpl *impl, unsigned unused)
{
    ThreadsState *state = state_new(impl);

    impl->pool_run(state->threads, WARMUP_JOBS);
    return state;
}

static void
pool_sample(void *data, double *values)
{
    ThreadsState *state = data;
    unsigned n = bench_options.pool_jobs;
    int64_t start = bench_now_ns(), elapsed;

    state->impl->pool_run(state->threads, n);
    elapsed = MAX(bench_now_ns() - start, 1);
    values[0] = n * 1e9 / elapsed;
    values[1] = (double)elapsed / n;
}

static const BenchMetric pool_metrics[] = {
    {"jobs per s", "jobs/s"},
    {"ns per job", "ns"},
};

BenchWorkload
bench_pool_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_POOL,
        .param = "",
        .implementations = BENCH_POOL,
        .n_metrics = G_N_ELEMENTS(pool_metrics),
        .metrics = pool_metrics,
        .setup = pool_setup,
        .sample = pool_sample,
        .teardown = threads_teardown,
    };
}

/* --- ping-pong ---------------------------------------------------------- */

static void *
ping_pong_setup(const BenchImpl *impl, unsigned unused)
{
    ThreadsState *state = state_new(impl);
    g_autofree double *ns = g_new(double, WARMUP_ROUND_TRIPS);

    impl->ping_pong(state->threads, WARMUP_ROUND_TRIPS, ns);
    return state;
}

static void
ping_pong_sample(void *data, double *values)
{
    ThreadsState *state = data;
    unsigned n = bench_options.round_trips;
    g_autofree double *ns = g_new(double, n);

    state->impl->ping_pong(state->threads, n, ns);
    bench_sort(ns, n);
    values[0] = bench_percentile(ns, n, 0.50);
    values[1] = bench_percentile(ns, n, 0.99);
}

static const BenchMetric latency_metrics[] = {
    {"p50", "ns"},
    {"p99", "ns"},
};

BenchWorkload
bench_ping_pong_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_PING_PONG,
        .param = "",
        .implementations = BENCH_PING_PONG,
        .n_metrics = G_N_ELEMENTS(latency_metrics),
        .metrics = latency_metrics,
        .setup = ping_pong_setup,
        .sample = ping_pong_sample,
        .teardown = threads_teardown,
    };
}

/* --- call and wait ------------------------------------------------------ */

static void *
call_wait_setup(const BenchImpl *impl, unsigned unused)
{
    ThreadsState *state = state_new(impl);

    bench_threads_pin_save();
    for (unsigned i = 0; i < WARMUP_ROUND_TRIPS; i++)
        impl->call_wait(state->threads);
    bench_threads_pin_restore();
    return state;
}

static void
call_wait_sample(void *data, double *values)
{
    ThreadsState *state = data;
    unsigned n = bench_options.round_trips;
    g_autofree double *ns = g_new(double, n);

    bench_threads_pin_save();
    for (unsigned i = 0; i < n; i++) {
        int64_t start = bench_now_ns();

        state->impl->call_wait(state->threads);
        ns[i] = (double)(bench_now_ns() - start);
    }
    bench_threads_pin_restore();
    bench_sort(ns, n);
    values[0] = bench_percentile(ns, n, 0.50);
    values[1] = bench_percentile(ns, n, 0.99);
}

BenchWorkload
bench_call_wait_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_CALL_WAIT,
        .param = "",
        .implementations = BENCH_CALL_WAIT,
        .n_metrics = G_N_ELEMENTS(latency_metrics),
        .metrics = latency_metrics,
        .setup = call_wait_setup,
        .sample = call_wait_sample,
        .teardown = threads_teardown,
    };
}
