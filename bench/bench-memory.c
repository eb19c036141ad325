/* bench-memory.c: heap bytes per handle.
 *
 * The difference in heap use (mallinfo2(): bytes in use in the arenas plus
 * mmap()ed blocks, which is where large tables land) across making
 * bench_options.memory_handles handles and scheduling each once, divided by
 * their number. The loop and the benchmark's own tables are allocated before
 * the first reading (BenchImpl.loop_new), so what is counted is what a
 * program pays per handle: the handle itself and whatever the loop grows to
 * track it. Scheduling is included because a g_idle_add source exists only
 * once scheduled; the others allocate nothing to become pending, or grow a
 * queue that pending handles need (sd-event's priority queue).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <malloc.h>

#include "bench-private.h"

static size_t
heap_in_use(void)
{
    struct mallinfo2 info = mallinfo2();

    return info.uordblks + info.hblkhd;
}

static void *
memory_setup(const BenchImpl *impl, unsigned unused)
{
    return (void *)impl;
}

static void
memory_sample(void *data, double *values)
{
    const BenchImpl *impl = data;
    unsigned n = bench_options.memory_handles;
    BenchLoop *loop = impl->loop_new(impl, n);
    size_t before = heap_in_use();

    impl->handles_add(loop, n);
    impl->schedule(loop, 0, n);
    values[0] = ((double)heap_in_use() - (double)before) / n;
    bench_loop_free(loop);
}

static void
memory_teardown(void *data)
{
}

static const BenchMetric memory_metrics[] = {
    {"bytes per handle", "bytes"},
};

BenchWorkload
bench_memory_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_MEMORY,
        .param = "",
        .implementations = BENCH_MEMORY,
        .n_metrics = G_N_ELEMENTS(memory_metrics),
        .metrics = memory_metrics,
        .setup = memory_setup,
        .sample = memory_sample,
        .teardown = memory_teardown,
    };
}
