/* bench-rounds.c: the same-thread and idle-scaling workloads.
 *
 * Both time rounds on one thread: a round makes k handles pending, then
 * iterates the loop (without blocking) until their k callbacks ran, which is
 * one iteration for every loop but sd-event (one source per iteration).
 *  - same-thread: K handles, all K scheduled per round: ns per callback.
 *  - idle scaling: M + 1 handles, one scheduled per round, M registered but
 *    idle: ns per iteration, which should not depend on M.
 * A timed sample runs as many rounds as fill bench_options.sample_ns
 * (BenchRounds, bench-harness.c), counted once at setup so that every
 * repetition does the same work.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-private.h"

typedef struct {
    BenchRounds rounds;
    BenchLoop *loop;
    unsigned k; /* handles scheduled per round */
} RoundsState;

static void
round_run(void *data, uint64_t unused)
{
    RoundsState *state = data;
    unsigned long runs = bench_loop_runs(state->loop) + state->k;

    state->loop->impl->schedule(state->loop, 0, state->k);
    bench_loop_run_until(state->loop, runs);
}

static void *
rounds_setup(const BenchImpl *impl, unsigned n_handles, unsigned k)
{
    RoundsState *state = g_new0(RoundsState, 1);

    state->loop = bench_loop_make(impl, n_handles);
    state->k = k;
    state->rounds = (BenchRounds){.round = round_run, .data = state, .per_round = k};
    bench_rounds_calibrate(&state->rounds);
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
    values[0] = bench_rounds_sample(&((RoundsState *)data)->rounds);
}

static void
rounds_teardown(void *data)
{
    RoundsState *state = data;

    bench_loop_free(state->loop);
    g_free(state);
}

static const BenchMetric same_thread_metrics[] = {
    {"ns per callback", "ns"},
};

BenchWorkload
bench_same_thread_workload(unsigned k)
{
    return (BenchWorkload){
        .name = BENCH_W_SAME_THREAD,
        .param = bench_param("K", k),
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
        .param = bench_param("M", m),
        .implementations = BENCH_IDLE,
        .n_metrics = G_N_ELEMENTS(idle_metrics),
        .metrics = idle_metrics,
        .arg = m,
        .setup = idle_setup,
        .sample = rounds_sample,
        .teardown = rounds_teardown,
    };
}
