/* loop-glib.c: plain GLib, the two ways a GLib program defers a callback.
 *
 * Both run on a private GMainContext iterated with g_main_context_iteration().
 *
 *  - g_idle_add: a schedule is what g_idle_add() does (g_idle_source_new(),
 *    g_source_set_callback(), g_source_attach(), g_source_unref()), aimed at
 *    the private context instead of the global default one; the callback
 *    returns G_SOURCE_REMOVE. A "handle" is only a slot: the idle source is
 *    made by the schedule, so it has no idle state (no idle scaling).
 *  - g_source_set_ready_time: one custom GSource per handle, made and
 *    attached once, never-ready (ready time -1) until a schedule sets its
 *    ready time to 0; its dispatch sets it back to -1 before the callback, so
 *    that a schedule made meanwhile gives another dispatch. This is the
 *    reusable deferred callback GLib's own documentation suggests
 *    (g_source_set_ready_time() is thread-safe and wakes the context).
 *
 * Two more, for fds and timers:
 *  - g_unix_fd_add: an fd is watched by a GUnixFDSource for G_IO_IN, made
 *    the way g_unix_fd_add() makes it (g_unix_fd_source_new(),
 *    g_source_set_callback(), g_source_attach()), aimed at the private
 *    context; its callback returns G_SOURCE_CONTINUE. One GSource per fd, as
 *    a GLib program has.
 *  - g_timeout_add: a timer is what g_timeout_add() makes, aimed at the
 *    private context: g_timeout_source_new(ms) with the interval rounded up
 *    to whole milliseconds (GLib's API has no finer unit); a timer armed
 *    again replaces its source, a deleted one is destroyed (as
 *    g_source_remove() does).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib-unix.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    GMainContext *main_context;
    GSource **sources; /* g_source_set_ready_time: one per handle */
    unsigned n_handles;
    GPtrArray *watches; /* fd sources; timers_add()'s timeout sources */
    GSource *timeout;   /* timer_arm()'s, or NULL */
} GlibLoop;

typedef struct {
    GSource source;
    BenchLoop *loop;
} ReadyTimeSource;

static gboolean
ran_once(gpointer data)
{
    bench_loop_ran(data);
    return G_SOURCE_REMOVE;
}

static gboolean
fd_ran(gint fd, GIOCondition condition, gpointer data)
{
    bench_loop_ran(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
ready_time_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    g_source_set_ready_time(source, -1);
    bench_loop_ran(((ReadyTimeSource *)source)->loop);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs ready_time_funcs = {
    .dispatch = ready_time_dispatch,
};

/* What g_source_remove() does to a source we hold a reference to. */
static void
glib_source_remove(GSource *source)
{
    g_source_destroy(source);
    g_source_unref(source);
}

/* Attaches @source with @callback to the private context; keeps the
 * reference. */
static GSource *
glib_source_add(GlibLoop *loop, GSource *source, GSourceFunc callback)
{
    g_source_set_callback(source, callback, loop, NULL);
    g_source_attach(source, loop->main_context);
    return source;
}

static BenchLoop *
glib_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    GlibLoop *loop = g_new0(GlibLoop, 1);

    loop->main_context = g_main_context_new();
    if (impl == &bench_glib_ready_time)
        loop->sources = g_new(GSource *, MAX(max_handles, 1));
    loop->watches = g_ptr_array_new();
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
glib_loop_free(BenchLoop *base)
{
    GlibLoop *loop = (GlibLoop *)base;

    for (unsigned i = 0; loop->sources != NULL && i < loop->n_handles; i++) {
        g_source_destroy(loop->sources[i]);
        g_source_unref(loop->sources[i]);
    }
    for (guint i = 0; i < loop->watches->len; i++)
        glib_source_remove(loop->watches->pdata[i]);
    g_ptr_array_unref(loop->watches);
    if (loop->timeout != NULL)
        glib_source_remove(loop->timeout);
    /* Destroys idle sources not yet run. */
    g_main_context_unref(loop->main_context);
    g_free(loop->sources);
    g_free(loop);
}

static void
glib_handles_add(BenchLoop *base, unsigned n)
{
    GlibLoop *loop = (GlibLoop *)base;

    for (unsigned i = 0; i < n; i++, loop->n_handles++) {
        GSource *source;

        if (loop->sources == NULL)
            continue; /* g_idle_add: nothing exists until scheduled */
        source = g_source_new(&ready_time_funcs, sizeof(ReadyTimeSource));
        ((ReadyTimeSource *)source)->loop = base; /* ready time: -1 */
        g_source_attach(source, loop->main_context);
        loop->sources[loop->n_handles] = source;
    }
}

static void
glib_idle_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    GlibLoop *loop = (GlibLoop *)base;

    for (unsigned i = 0; i < n; i++) {
        GSource *source = g_idle_source_new();

        g_source_set_callback(source, ran_once, loop, NULL);
        g_source_attach(source, loop->main_context);
        g_source_unref(source);
    }
}

static void
glib_ready_time_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    GlibLoop *loop = (GlibLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        g_source_set_ready_time(loop->sources[i], 0);
}

static void
glib_fd_watch(BenchLoop *base, int fd)
{
    GlibLoop *loop = (GlibLoop *)base;

    g_ptr_array_add(loop->watches, glib_source_add(loop, g_unix_fd_source_new(fd, G_IO_IN),
                                                   (GSourceFunc)(void (*)(void))fd_ran));
}

static void
glib_timer_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    GlibLoop *loop = (GlibLoop *)base;

    if (loop->timeout != NULL)
        glib_source_remove(loop->timeout);
    loop->timeout = glib_source_add(
        loop, g_timeout_source_new(bench_ms_until(now_ns, deadline_ns)), ran_once);
}

static void
glib_timer_cancel(BenchLoop *base)
{
    GlibLoop *loop = (GlibLoop *)base;

    glib_source_remove(loop->timeout);
    loop->timeout = NULL;
}

static void
glib_timers_add(BenchLoop *base, unsigned n, int64_t now_ns, const int64_t *deadlines_ns)
{
    GlibLoop *loop = (GlibLoop *)base;

    for (unsigned i = 0; i < n; i++)
        g_ptr_array_add(loop->watches,
                        glib_source_add(loop,
                                        g_timeout_source_new(
                                            bench_ms_until(now_ns, deadlines_ns[i])),
                                        ran_once));
}

/* GLib has no way to move a timeout source: a new one replaces it. */
static void
glib_timer_move(BenchLoop *base, unsigned i, int64_t now_ns, int64_t deadline_ns)
{
    GlibLoop *loop = (GlibLoop *)base;

    glib_source_remove(loop->watches->pdata[i]);
    loop->watches->pdata[i] = glib_source_add(
        loop, g_timeout_source_new(bench_ms_until(now_ns, deadline_ns)), ran_once);
}

static void
glib_iterate(BenchLoop *base, bool block)
{
    g_main_context_iteration(((GlibLoop *)base)->main_context, block);
}

static const char *
glib_version(void)
{
    static char version[32];

    g_snprintf(version, sizeof version, "%u.%u.%u", glib_major_version,
               glib_minor_version, glib_micro_version);
    return version;
}

const BenchImpl bench_glib_idle = {
    .id = "glib-idle-add",
    .name = "GLib g_idle_add",
    .library = "GLib",
    .version = glib_version,
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_MEMORY,
    .loop_new = glib_loop_new,
    .loop_free = glib_loop_free,
    .handles_add = glib_handles_add,
    .schedule = glib_idle_schedule,
    .iterate = glib_iterate,
};

const BenchImpl bench_glib_ready_time = {
    .id = "glib-ready-time",
    .name = "GLib GSource ready_time",
    .workloads = BENCH_SAME_THREAD | BENCH_CROSS_THREAD | BENCH_LATENCY | BENCH_MEMORY |
                 BENCH_IDLE,
    .loop_new = glib_loop_new,
    .loop_free = glib_loop_free,
    .handles_add = glib_handles_add,
    .schedule = glib_ready_time_schedule,
    .iterate = glib_iterate,
};

const BenchImpl bench_glib_unix_fd = {
    .id = "glib-unix-fd",
    .name = "GLib g_unix_fd_add",
    .workloads = BENCH_FDS,
    .loop_new = glib_loop_new,
    .loop_free = glib_loop_free,
    .iterate = glib_iterate,
    .fd_watch = glib_fd_watch,
};

const BenchImpl bench_glib_timeout = {
    .id = "glib-timeout",
    .name = "GLib g_timeout_add (ms)",
    .workloads = BENCH_TIMERS | BENCH_TIMER_ARM,
    .loop_new = glib_loop_new,
    .loop_free = glib_loop_free,
    .iterate = glib_iterate,
    .timer_arm = glib_timer_arm,
    .timer_cancel = glib_timer_cancel,
    .timers_add = glib_timers_add,
    .timer_move = glib_timer_move,
};
