/* bench-cross-thread.c: a producer thread (the main thread) schedules, a
 * consumer thread runs the loop, blocking (BenchConsumer).
 *
 *  - throughput: the producer schedules 64 distinct handles round-robin,
 *    back to back, for bench_options.throughput_ns. Per schedule: the
 *    producer's time, the callbacks the consumer ran meanwhile, and the
 *    write-type system calls the whole process made (`syscw`, read before
 *    and after; nothing prints in between).
 *  - latency: the consumer is asleep in its loop; the producer takes a
 *    timestamp and schedules one handle; the callback takes a timestamp
 *    (bench_loop_ran() with loop->stamp). The producer waits for it, then
 *    sleeps LATENCY_GAP_NS so that the consumer is asleep again before the
 *    next sample. p50 and p99 of each repetition.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-private.h"

#define THROUGHPUT_HANDLES 64
/* Rounds of THROUGHPUT_HANDLES schedules between two looks at the clock. */
#define THROUGHPUT_ROUNDS_PER_CHECK 16
#define LATENCY_GAP_NS (150 * 1000)
#define LATENCY_TIMEOUT_NS (G_GINT64_CONSTANT(2) * 1000000000)

static void *
throughput_setup(const BenchImpl *impl, unsigned unused)
{
    return bench_loop_make(impl, THROUGHPUT_HANDLES);
}

static void *
latency_setup(const BenchImpl *impl, unsigned unused)
{
    return bench_loop_make(impl, 1);
}

static void
cross_thread_teardown(void *loop)
{
    bench_loop_free(loop);
}

/* Schedules back to back until @duration_ns passed; returns how many. */
static uint64_t
throughput_produce(BenchLoop *loop, int64_t start, int64_t duration_ns)
{
    uint64_t schedules = 0;

    do {
        for (unsigned r = 0; r < THROUGHPUT_ROUNDS_PER_CHECK; r++)
            loop->impl->schedule(loop, 0, THROUGHPUT_HANDLES);
        schedules += THROUGHPUT_ROUNDS_PER_CHECK * THROUGHPUT_HANDLES;
    } while (bench_now_ns() - start < duration_ns);
    return schedules;
}

static void
throughput_sample(void *data, double *values)
{
    BenchLoop *loop = data;
    BenchConsumer consumer;
    uint64_t writes, schedules;
    unsigned long runs;
    int64_t start, elapsed;

    bench_consumer_start(&consumer, loop);
    bench_sleep_ns(1000 * 1000); /* let it start and fall asleep */

    writes = bench_syscw();
    runs = bench_loop_runs(loop);
    start = bench_now_ns();
    schedules = throughput_produce(loop, start, bench_options.throughput_ns);
    elapsed = bench_now_ns() - start;
    runs = bench_loop_runs(loop) - runs;
    writes = bench_syscw() - writes;

    bench_consumer_stop(&consumer);
    values[0] = (double)elapsed / schedules;
    values[1] = (double)runs / schedules;
    values[2] = (double)writes / schedules;
}

/* Schedules handle 0 and returns the ns until its callback started. */
static double
latency_one(BenchLoop *loop)
{
    unsigned long runs = bench_loop_runs(loop);
    int64_t start = bench_now_ns();

    loop->impl->schedule(loop, 0, 1);
    /* Spin: the producer must not sleep, or its own wake-up would count. */
    for (unsigned spins = 0; bench_loop_runs(loop) == runs; spins++)
        if (spins % 4096 == 0 && bench_now_ns() - start > LATENCY_TIMEOUT_NS)
            g_error("%s: a cross-thread schedule was lost", loop->impl->name);
    return (double)(atomic_load_explicit(&loop->ran_at_ns, memory_order_relaxed) - start);
}

static void
latency_sample(void *data, double *values)
{
    BenchLoop *loop = data;
    unsigned n = bench_options.latency_samples;
    g_autofree double *latency = g_new(double, n);
    BenchConsumer consumer;

    loop->stamp = true; /* published to the consumer by its creation */
    bench_consumer_start(&consumer, loop);
    for (unsigned i = 0; i < n; i++) {
        bench_sleep_ns(LATENCY_GAP_NS);
        latency[i] = latency_one(loop);
    }
    bench_consumer_stop(&consumer);
    loop->stamp = false;

    bench_sort(latency, n);
    values[0] = bench_percentile(latency, n, 0.50) / 1000;
    values[1] = bench_percentile(latency, n, 0.99) / 1000;
}

static const BenchMetric throughput_metrics[] = {
    {"ns per schedule", "ns"},
    {"runs per schedule", "runs"},
    {"writes per schedule", "syscalls"},
};

BenchWorkload
bench_throughput_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_THROUGHPUT,
        .param = "",
        .implementations = BENCH_CROSS_THREAD,
        .n_metrics = G_N_ELEMENTS(throughput_metrics),
        .metrics = throughput_metrics,
        .setup = throughput_setup,
        .sample = throughput_sample,
        .teardown = cross_thread_teardown,
    };
}

static const BenchMetric latency_metrics[] = {
    {"p50", "us"},
    {"p99", "us"},
};

BenchWorkload
bench_latency_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_LATENCY,
        .param = "",
        .implementations = BENCH_LATENCY,
        .n_metrics = G_N_ELEMENTS(latency_metrics),
        .metrics = latency_metrics,
        .setup = latency_setup,
        .sample = latency_sample,
        .teardown = cross_thread_teardown,
    };
}
