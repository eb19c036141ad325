/* bench-rounds.c: the same-thread and idle-scaling workloads.
 *
 * Both time rounds on one thread: a round makes k handles pending, then
 * iterates the loop (without blocking) until their k callbacks ran, which is
 * one iteration for every loop but sd-event (one source per iteration).
 *  - same-thread: K handles, all K scheduled per round: ns per callback.
 *  - idle scaling: M + 1 handles, one scheduled per round, M registered but
 *    idle: ns per iteration, which should not depend on M.
 * A timed sample runs as many rounds as fill bench_options.sample_ns,
 * counted once at setup so that every repetition does the same work.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-private.h"

typedef struct {
    BenchLoop *loop;
    unsigned k;      /* handles scheduled per round */
    uint64_t rounds; /* per timed sample */
} RoundsState;

static void
round_run(BenchLoop *loop, unsigned k)
{
    unsigned long runs = bench_loop_runs(loop) + k;

    loop->impl->schedule(loop, 0, k);
    bench_loop_run_until(loop, runs);
}

static int64_t
rounds_time_ns(RoundsState *state, uint64_t rounds)
{
    int64_t start = bench_now_ns();

    for (uint64_t r = 0; r < rounds; r++)
        round_run(state->loop, state->k);
    return bench_now_ns() - start;
}

/* Doubles a batch until it takes a tenth of a sample (which also warms the
 * caches up), then scales it to a sample. */
static uint64_t
rounds_calibrate(RoundsState *state)
{
    int64_t target = bench_options.sample_ns, elapsed;
    uint64_t rounds = 1;

    while ((elapsed = rounds_time_ns(state, rounds)) < target / 10)
        rounds *= 2;
    return MAX(1, (uint64_t)((double)rounds * target / MAX(elapsed, 1)));
}

static void *
rounds_setup(const BenchImpl *impl, unsigned n_handles, unsigned k)
{
    RoundsState *state = g_new0(RoundsState, 1);

    state->loop = bench_loop_make(impl, n_handles);
    state->k = k;
    state->rounds = rounds_calibrate(state);
    return state;
}

static void *
same_thread_setup(const BenchImpl *impl, unsigned k)
{
    return rounds_setup(impl, k, k);
}

static void *
idle_setup(const BenchImpl *impl, unsigned m)
{
    return rounds_setup(impl, m + 1, 1);
}

static void
rounds_sample(void *data, double *values)
{
    RoundsState *state = data;

    /* The other implementations ran since: warm this one's caches again. */
    rounds_time_ns(state, state->rounds / 8 + 1);
    values[0] = (double)rounds_time_ns(state, state->rounds) / state->rounds / state->k;
}

static void
rounds_teardown(void *data)
{
    RoundsState *state = data;

    bench_loop_free(state->loop);
    g_free(state);
}

static const char *
rounds_param(const char *name, unsigned value)
{
    g_autofree char *param = g_strdup_printf("%s=%u", name, value);

    return g_intern_string(param);
}

static const BenchMetric same_thread_metrics[] = {
    {"ns per callback", "ns"},
};

BenchWorkload
bench_same_thread_workload(unsigned k)
{
    return (BenchWorkload){
        .name = BENCH_W_SAME_THREAD,
        .param = rounds_param("K", k),
        .implementations = BENCH_SAME_THREAD,
        .n_metrics = G_N_ELEMENTS(same_thread_metrics),
        .metrics = same_thread_metrics,
        .arg = k,
        .setup = same_thread_setup,
        .sample = rounds_sample,
        .teardown = rounds_teardown,
    };
}

static const BenchMetric idle_metrics[] = {
    {"ns per iteration", "ns"},
};

BenchWorkload
bench_idle_workload(unsigned m)
{
    return (BenchWorkload){
        .name = BENCH_W_IDLE,
        .param = rounds_param("M", m),
        .implementations = BENCH_IDLE,
        .n_metrics = G_N_ELEMENTS(idle_metrics),
        .metrics = idle_metrics,
        .arg = m,
        .setup = idle_setup,
        .sample = rounds_sample,
        .teardown = rounds_teardown,
    };
}
