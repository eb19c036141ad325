/* loop-gaio.c: gaio, driven two ways.
 *
 * A handle is a BH made once with aio_bh_new() and scheduled with
 * qemu_bh_schedule(). The context runs either on its own with aio_poll(), or
 * as a GSource attached to a private GMainContext iterated with
 * g_main_context_iteration(): the way a GLib application runs it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gaio/gaio.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    AioContext *ctx;
    GMainContext *main_context; /* NULL: run with aio_poll() */
    GSource *source;            /* ctx's GSource when attached to main_context */
    QEMUBH **bhs;
    unsigned n_bhs;
} GaioLoop;

static void
gaio_ran(void *opaque)
{
    bench_loop_ran(opaque);
}

static BenchLoop *
gaio_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    GaioLoop *loop = g_new0(GaioLoop, 1);
    g_autoptr(GError) error = NULL;

    loop->ctx = aio_context_new(&error);
    if (loop->ctx == NULL)
        g_error("aio_context_new: %s", error->message);
    if (impl == &bench_gaio_gmain) {
        loop->main_context = g_main_context_new();
        loop->source = aio_get_g_source(loop->ctx);
        g_source_attach(loop->source, loop->main_context);
    }
    loop->bhs = g_new(QEMUBH *, MAX(max_handles, 1));
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
gaio_loop_free(BenchLoop *base)
{
    GaioLoop *loop = (GaioLoop *)base;

    /* Deleted BHs are freed by the next pass or, here, by finalize. */
    for (unsigned i = 0; i < loop->n_bhs; i++)
        qemu_bh_delete(loop->bhs[i]);
    if (loop->main_context != NULL) {
        g_source_destroy(loop->source);
        g_source_unref(loop->source);
        g_main_context_unref(loop->main_context);
    }
    aio_context_unref(loop->ctx);
    g_free(loop->bhs);
    g_free(loop);
}

static void
gaio_handles_add(BenchLoop *base, unsigned n)
{
    GaioLoop *loop = (GaioLoop *)base;

    for (unsigned i = 0; i < n; i++)
        loop->bhs[loop->n_bhs++] = aio_bh_new(loop->ctx, gaio_ran, loop);
}

static void
gaio_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    GaioLoop *loop = (GaioLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        qemu_bh_schedule(loop->bhs[i]);
}

static void
gaio_iterate_aio_poll(BenchLoop *base, bool block)
{
    aio_poll(((GaioLoop *)base)->ctx, block);
}

static void
gaio_iterate_main_context(BenchLoop *base, bool block)
{
    g_main_context_iteration(((GaioLoop *)base)->main_context, block);
}

static const char *
gaio_version(void)
{
    return GAIO_VERSION_S;
}

const BenchImpl bench_gaio_poll = {
    .id = "gaio-aio-poll",
    .name = "gaio aio_poll()",
    .library = "gaio",
    .version = gaio_version,
    .gaio_column = "aio_poll",
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_MEMORY |
                 BENCH_IDLE,
    .loop_new = gaio_loop_new,
    .loop_free = gaio_loop_free,
    .handles_add = gaio_handles_add,
    .schedule = gaio_schedule,
    .iterate = gaio_iterate_aio_poll,
};

/* Memory is the same BH either way: measured once, through aio_poll(). */
const BenchImpl bench_gaio_gmain = {
    .id = "gaio-gmain",
    .name = "gaio GMainContext",
    .gaio_column = "GMainContext",
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_IDLE,
    .loop_new = gaio_loop_new,
    .loop_free = gaio_loop_free,
    .handles_add = gaio_handles_add,
    .schedule = gaio_schedule,
    .iterate = gaio_iterate_main_context,
};
