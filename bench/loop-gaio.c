/* loop-gaio.c: gaio, driven two ways.
 *
 * A handle is a BH made once with aio_bh_new() and scheduled with
 * qemu_bh_schedule(). The context runs either on its own with aio_poll(), or
 * as a GSource attached to a private GMainContext iterated with
 * g_main_context_iteration(): the way a GLib application runs it.
 *
 * An fd is watched with aio_set_fd_handler() (io_read only). The timer is an
 * AioTimer on AIO_CLOCK_REALTIME in nanoseconds (aio_timer_new(),
 * aio_timer_mod_ns(), aio_timer_del()); the deadlines the workloads give on
 * CLOCK_MONOTONIC are moved onto that clock by an offset measured once (0
 * when it is CLOCK_MONOTONIC itself, as QEMU's realtime clock is).
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
    GArray *fds;          /* of int: watched by fd_watch() */
    AioTimer *timer;      /* timer_arm()'s, made on first use */
    GPtrArray *timers;    /* of AioTimer *: timers_add()'s */
    int64_t clock_offset; /* AIO_CLOCK_REALTIME − CLOCK_MONOTONIC */
} GaioLoop;

/* The callback of BHs, fd handlers and timers alike. */
static void
gaio_ran(void *opaque)
{
    bench_loop_ran(opaque);
}

/* 0 when AIO_CLOCK_REALTIME reads CLOCK_MONOTONIC: its reading falls between
 * two readings of CLOCK_MONOTONIC. */
static int64_t
gaio_clock_offset(void)
{
    int64_t before = bench_now_ns();
    int64_t aio = aio_clock_get_ns(AIO_CLOCK_REALTIME);
    int64_t after = bench_now_ns();

    return aio >= before && aio <= after ? 0 : aio - (before + (after - before) / 2);
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
    loop->fds = g_array_new(FALSE, FALSE, sizeof(int));
    loop->timers = g_ptr_array_new_with_free_func((GDestroyNotify)aio_timer_free);
    loop->clock_offset = gaio_clock_offset();
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
    for (guint i = 0; i < loop->fds->len; i++)
        aio_set_fd_handler(loop->ctx, g_array_index(loop->fds, int, i), NULL, NULL, NULL,
                           NULL, NULL);
    g_array_unref(loop->fds);
    aio_timer_free(loop->timer);
    g_ptr_array_unref(loop->timers);
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
gaio_fd_watch(BenchLoop *base, int fd)
{
    GaioLoop *loop = (GaioLoop *)base;

    aio_set_fd_handler(loop->ctx, fd, gaio_ran, NULL, NULL, NULL, loop);
    g_array_append_val(loop->fds, fd);
}

static AioTimer *
gaio_timer_new(GaioLoop *loop)
{
    return aio_timer_new(loop->ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, gaio_ran, loop);
}

static void
gaio_timer_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    GaioLoop *loop = (GaioLoop *)base;

    if (loop->timer == NULL)
        loop->timer = gaio_timer_new(loop);
    aio_timer_mod_ns(loop->timer, deadline_ns + loop->clock_offset);
}

static void
gaio_timer_cancel(BenchLoop *base)
{
    aio_timer_del(((GaioLoop *)base)->timer);
}

static void
gaio_timers_add(BenchLoop *base, unsigned n, int64_t now_ns, const int64_t *deadlines_ns)
{
    GaioLoop *loop = (GaioLoop *)base;

    for (unsigned i = 0; i < n; i++) {
        AioTimer *timer = gaio_timer_new(loop);

        aio_timer_mod_ns(timer, deadlines_ns[i] + loop->clock_offset);
        g_ptr_array_add(loop->timers, timer);
    }
}

static void
gaio_timer_move(BenchLoop *base, unsigned i, int64_t now_ns, int64_t deadline_ns)
{
    GaioLoop *loop = (GaioLoop *)base;

    aio_timer_mod_ns(loop->timers->pdata[i], deadline_ns + loop->clock_offset);
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
                 BENCH_IDLE | BENCH_FDS | BENCH_TIMERS | BENCH_TIMER_ARM,
    .loop_new = gaio_loop_new,
    .loop_free = gaio_loop_free,
    .handles_add = gaio_handles_add,
    .schedule = gaio_schedule,
    .iterate = gaio_iterate_aio_poll,
    .fd_watch = gaio_fd_watch,
    .timer_arm = gaio_timer_arm,
    .timer_cancel = gaio_timer_cancel,
    .timers_add = gaio_timers_add,
    .timer_move = gaio_timer_move,
};

/* Memory, and arming and deleting timers, are the same code either way:
 * measured once, through aio_poll(). */
const BenchImpl bench_gaio_gmain = {
    .id = "gaio-gmain",
    .name = "gaio GMainContext",
    .gaio_column = "GMainContext",
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_IDLE |
                 BENCH_FDS | BENCH_TIMERS,
    .loop_new = gaio_loop_new,
    .loop_free = gaio_loop_free,
    .handles_add = gaio_handles_add,
    .schedule = gaio_schedule,
    .iterate = gaio_iterate_main_context,
    .fd_watch = gaio_fd_watch,
    .timer_arm = gaio_timer_arm,
};
