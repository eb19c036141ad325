/* gaio-bench.c: gaio against GLib, libuv, libevent and sd-event, in one run
 * (SPEC section 7, issue #3).
 *
 * Usage: gaio-bench [--quick] [--json FILE] [--reps N] [--only PREFIX]
 *
 * Issue #3's workloads (BHs: same thread, cross-thread, memory, idle
 * scaling), issue #8's (fd scaling, timer lateness, timer arm + delete) and
 * issue #9's (thread pool, ping-pong between two contexts, call and wait).
 *
 * Results go to stdout as markdown tables, one per workload, then the
 * targets; a progress line goes to stderr. Every figure is the median of
 * interleaved repetitions (rep 1 of every implementation, then rep 2, …),
 * printed with its min–max. The exit code is 0 whatever the figures: this is
 * a measurement, not a test.
 *
 * The loops (loop-*.c) are BenchImpls; the workloads (bench-*.c) are written
 * once against them; bench-harness.c runs the repetitions and bench-report.c
 * prints. A peer whose library was not found at build time is not built in,
 * and its rows are absent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench-private.h"

/* Row order of every table: gaio first, then the peers, then the references.
 * A table shows the rows that took part in its workload. */
static const BenchImpl *const impls[] = {
    &bench_gaio_poll,
    &bench_gaio_gmain,
    &bench_glib_idle,
    &bench_glib_ready_time,
    &bench_glib_unix_fd,
    &bench_glib_timeout,
#ifdef HAVE_LIBUV
    &bench_libuv,
    &bench_libuv_poll,
    &bench_libuv_timer,
#endif
#ifdef HAVE_LIBEVENT
    &bench_libevent,
    &bench_libevent_pthreads,
    &bench_libevent_fd,
    &bench_libevent_timer,
#endif
#ifdef HAVE_SDEVENT
    &bench_sd_event,
    &bench_sd_event_io,
    &bench_sd_event_time,
#endif
    &bench_gaio_pool,
    &bench_gaio_ping_pong_oneshot,
    &bench_gaio_ping_pong_bh,
    &bench_gaio_wait_oneshot,
    &bench_glib_task,
    &bench_glib_invoke_pair,
    &bench_glib_invoke_cond,
#ifdef HAVE_LIBUV
    &bench_libuv_queue_work,
    &bench_libuv_async_pair,
#endif
    &bench_ref_call,
    &bench_ref_atomic,
    &bench_ref_eventfd,
    &bench_ref_timerfd,
};

typedef struct {
    BenchWorkloadMaker *make;
    unsigned arg;
} BenchStep;

static const BenchStep steps[] = {
    {bench_same_thread_workload, 1},    {bench_same_thread_workload, 16},
    {bench_same_thread_workload, 1024}, {bench_throughput_workload, 0},
    {bench_latency_workload, 0},        {bench_memory_workload, 0},
    {bench_idle_workload, 10},          {bench_idle_workload, 1000},
    {bench_idle_workload, 100000},      {bench_fds_workload, 10},
    {bench_fds_workload, 1000},         {bench_fds_workload, 100000},
    {bench_timer_lateness_workload, 0}, {bench_timer_arm_workload, 10},
    {bench_timer_arm_workload, 1000},   {bench_timer_arm_workload, 100000},
    {bench_pool_workload, 0},           {bench_ping_pong_workload, 0},
    {bench_call_wait_workload, 0},
};

static void
options_set_mode(bool quick, unsigned reps)
{
    bench_options.quick = quick;
    /* Full: about a minute on a 2-core machine; quick: a few seconds. */
    bench_options.reps = reps != 0 ? reps : quick ? 5 : 9;
    bench_options.sample_ns = quick ? 2 * 1000 * 1000 : 10 * 1000 * 1000;
    bench_options.throughput_ns = quick ? 10 * 1000 * 1000 : 50 * 1000 * 1000;
    bench_options.latency_samples = quick ? 200 : 2000;
    bench_options.memory_handles = 100000;
    bench_options.timer_samples = quick ? 200 : 1000;
    bench_options.pool_jobs = quick ? 20000 : 100000;
    bench_options.round_trips = quick ? 1000 : 10000;
}

static gboolean
parse_options(int argc, char **argv, char **json_path)
{
    gboolean quick = FALSE;
    gint reps = 0;
    g_autofree char *only = NULL;
    GOptionEntry entries[] = {
        {"quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
         "Fewer repetitions and shorter samples (under 20 s; used by `make demo`)", NULL},
        {"json", 'j', 0, G_OPTION_ARG_FILENAME, json_path,
         "Also write every figure to FILE", "FILE"},
        {"reps", 'r', 0, G_OPTION_ARG_INT, &reps,
         "Repetitions per figure (default 9, quick 5)", "N"},
        {"only", 'o', 0, G_OPTION_ARG_STRING, &only,
         "Run only the workloads whose label starts with PREFIX (\"same-thread\", "
         "\"idle scaling M=100000\", \"cross-thread\", \"memory\", \"fd scaling\", "
         "\"timer\", \"thread pool\", \"ping-pong\", \"call and wait\")",
         "PREFIX"},
        {NULL},
    };
    g_autoptr(GOptionContext) context =
        g_option_context_new("- gaio against GLib, libuv, libevent and sd-event");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "gaio-bench: %s\n", error->message);
        return FALSE;
    }
    if (reps < 0 || reps == 1 || reps > 1000) {
        fprintf(stderr, "gaio-bench: --reps must be between 2 and 1000\n");
        return FALSE;
    }
    options_set_mode(quick, (unsigned)reps);
    bench_options.only = g_steal_pointer(&only);
    return TRUE;
}

static char *
cpu_model(void)
{
    g_autofree char *cpuinfo = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL))
        return g_strdup("unknown CPU");
    lines = g_strsplit(cpuinfo, "\n", -1);
    for (char **line = lines; *line != NULL; line++)
        if (g_str_has_prefix(*line, "model name") && strchr(*line, ':') != NULL)
            return g_strdup(g_strstrip(strchr(*line, ':') + 1));
    return g_strdup("unknown CPU");
}

static void
print_preamble(void)
{
    g_autofree char *cpu = cpu_model();
    g_autoptr(GString) libraries = g_string_new(NULL);
    struct utsname uts;

    for (unsigned i = 0; i < G_N_ELEMENTS(impls); i++)
        if (impls[i]->library != NULL)
            g_string_append_printf(libraries, "%s%s %s", libraries->len ? ", " : "",
                                   impls[i]->library, impls[i]->version());
    uname(&uts);
    printf("## gaio-bench (%s)\n\n", bench_options.quick ? "quick" : "full");
    printf("- machine: %s, %ld CPUs, %s %s\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
           uts.sysname, uts.release);
    printf("- build: %s; libraries: %s\n", BENCH_BUILDTYPE, libraries->str);
    printf("- every cell: median [min–max] of %u interleaved repetitions; "
           "\"X ÷ row\" = gaio variant X's median ÷ the row's (below 1: gaio faster or "
           "smaller)\n",
           bench_options.reps);
    if (strcmp(BENCH_BUILDTYPE, "release") != 0 &&
        strcmp(BENCH_BUILDTYPE, "debugoptimized") != 0)
        printf("- **warning: not an optimized build; the figures mean little**\n");
    fflush(stdout);
}

/* "same-thread K=1024", "memory": what --only matches and the progress shows. */
static char *
workload_label(const BenchWorkload *workload)
{
    return g_strdup_printf("%s%s%s", workload->name, *workload->param ? " " : "",
                           workload->param);
}

static bool
step_selected(const BenchStep *step)
{
    BenchWorkload workload = step->make(step->arg);
    g_autofree char *label = workload_label(&workload);

    return bench_options.only == NULL || g_str_has_prefix(label, bench_options.only);
}

static void
run_steps(void)
{
    unsigned n_selected = 0, done = 0;

    for (unsigned s = 0; s < G_N_ELEMENTS(steps); s++)
        n_selected += step_selected(&steps[s]);
    for (unsigned s = 0; s < G_N_ELEMENTS(steps); s++) {
        BenchWorkload workload = steps[s].make(steps[s].arg);
        g_autofree char *label = workload_label(&workload);

        if (!step_selected(&steps[s]))
            continue;
        bench_progress_step(++done, n_selected, label);
        bench_run_workload(&workload, impls, G_N_ELEMENTS(impls));
    }
    bench_progress_done();
}

int
main(int argc, char **argv)
{
    g_autofree char *json_path = NULL;
    int64_t start = bench_now_ns();

    if (!parse_options(argc, argv, &json_path))
        return 2;
    print_preamble();
    run_steps();
    bench_print_tables(impls, G_N_ELEMENTS(impls));
    bench_print_targets();
    printf("\n(%.0f s)\n", (bench_now_ns() - start) / 1e9);
    if (json_path != NULL) {
        g_autoptr(GError) error = NULL;

        if (!bench_write_json(json_path, &error))
            fprintf(stderr, "gaio-bench: %s\n", error->message);
    }
    return 0;
}
