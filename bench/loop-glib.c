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
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-private.h"

typedef struct {
    BenchLoop base;
    GMainContext *main_context;
    GSource **sources; /* g_source_set_ready_time: one per handle */
    unsigned n_handles;
} GlibLoop;

typedef struct {
    GSource source;
    BenchLoop *loop;
} ReadyTimeSource;

static gboolean
idle_ran(gpointer data)
{
    bench_loop_ran(data);
    return G_SOURCE_REMOVE;
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

static BenchLoop *
glib_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    GlibLoop *loop = g_new0(GlibLoop, 1);

    loop->main_context = g_main_context_new();
    if (impl == &bench_glib_ready_time)
        loop->sources = g_new(GSource *, MAX(max_handles, 1));
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

        g_source_set_callback(source, idle_ran, loop, NULL);
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
