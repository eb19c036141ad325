/* bench-harness.c: what every workload shares: loops and their counters, the
 * consumer thread, clocks and statistics, the interleaved repetitions, the
 * progress line and the recorded figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-private.h"

BenchOptions bench_options;

/* --- loops -------------------------------------------------------------- */

void
bench_loop_init(BenchLoop *loop, const BenchImpl *impl)
{
    loop->impl = impl;
    atomic_init(&loop->runs, 0);
    atomic_init(&loop->ran_at_ns, 0);
    loop->stamp = false;
}

BenchLoop *
bench_loop_make(const BenchImpl *impl, unsigned n_handles)
{
    BenchLoop *loop = impl->loop_new(impl, n_handles);

    impl->handles_add(loop, n_handles);
    return loop;
}

void
bench_loop_free(BenchLoop *loop)
{
    loop->impl->loop_free(loop);
}

/* Out of line on purpose: every implementation's callback pays this same
 * call, so the differences measured are the loops'. */
G_NO_INLINE void
bench_loop_ran(BenchLoop *loop)
{
    if (G_UNLIKELY(loop->stamp))
        atomic_store_explicit(&loop->ran_at_ns, bench_now_ns(), memory_order_relaxed);
    /* Only the loop's thread writes: a load and a store, no locked
     * instruction. Release pairs with the acquire in bench_loop_runs(): a
     * producer that sees the new count sees the stamp. */
    atomic_store_explicit(&loop->runs,
                          atomic_load_explicit(&loop->runs, memory_order_relaxed) + 1,
                          memory_order_release);
}

unsigned long
bench_loop_runs(BenchLoop *loop)
{
    return atomic_load_explicit(&loop->runs, memory_order_acquire);
}

void
bench_loop_run_until(BenchLoop *loop, unsigned long runs)
{
    /* sd-event runs one source per iteration, the others all pending ones:
     * allow one iteration per outstanding callback, and a few spare. */
    unsigned long budget = runs - bench_loop_runs(loop) + 16;

    while (bench_loop_runs(loop) < runs) {
        if (budget-- == 0)
            g_error("%s: scheduled callbacks did not run", loop->impl->name);
        loop->impl->iterate(loop, false);
    }
}

/* Runs what the consumer left pending (g_idle_add's backlog), so that the
 * next sample starts from an empty loop. */
static void
bench_loop_drain(BenchLoop *loop)
{
    unsigned long runs;

    do {
        runs = bench_loop_runs(loop);
        loop->impl->iterate(loop, false);
    } while (bench_loop_runs(loop) != runs);
}

static void
bench_pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The first two CPUs the producer may run on: it keeps the first, the
 * consumer gets the second. */
static bool
bench_pick_cpus(const cpu_set_t *allowed, int *producer, int *consumer)
{
    int found = 0;

    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
        if (!CPU_ISSET(cpu, allowed))
            continue;
        *(found++ == 0 ? producer : consumer) = cpu;
    }
    return found == 2;
}

static gpointer
bench_consumer_main(gpointer data)
{
    BenchConsumer *consumer = data;

    if (consumer->consumer_cpu >= 0)
        bench_pin_to(consumer->consumer_cpu);
    while (!atomic_load_explicit(&consumer->stop, memory_order_acquire))
        consumer->loop->impl->iterate(consumer->loop, true);
    return NULL;
}

void
bench_consumer_start(BenchConsumer *consumer, BenchLoop *loop)
{
    int producer_cpu = -1;

    consumer->loop = loop;
    atomic_init(&consumer->stop, false);
    consumer->consumer_cpu = -1;
    if (pthread_getaffinity_np(pthread_self(), sizeof consumer->producer_affinity,
                               &consumer->producer_affinity) == 0 &&
        bench_pick_cpus(&consumer->producer_affinity, &producer_cpu,
                        &consumer->consumer_cpu))
        bench_pin_to(producer_cpu);
    consumer->thread = g_thread_new("bench-consumer", bench_consumer_main, consumer);
}

void
bench_consumer_stop(BenchConsumer *consumer)
{
    atomic_store_explicit(&consumer->stop, true, memory_order_release);
    /* The consumer may sleep in its loop: a schedule wakes every kind. */
    consumer->loop->impl->schedule(consumer->loop, 0, 1);
    g_thread_join(consumer->thread);
    if (consumer->consumer_cpu >= 0)
        pthread_setaffinity_np(pthread_self(), sizeof consumer->producer_affinity,
                               &consumer->producer_affinity);
    bench_loop_drain(consumer->loop);
}

/* --- measuring ---------------------------------------------------------- */

int64_t
bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

void
bench_sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

uint64_t
bench_syscw(void)
{
    /* open/read/close: none of them is a write, so reading the counter does
     * not move it. */
    char buf[512];
    int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    const char *field;

    if (fd >= 0)
        close(fd);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    field = strstr(buf, "syscw:");
    return field != NULL ? g_ascii_strtoull(field + strlen("syscw:"), NULL, 10) : 0;
}

static int
bench_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

void
bench_sort(double *values, unsigned n)
{
    qsort(values, n, sizeof *values, bench_compare_doubles);
}

double
bench_median(double *values, unsigned n)
{
    bench_sort(values, n);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* Nearest rank: the smallest sample with at least @p of them at or below. */
double
bench_percentile(const double *sorted, unsigned n, double p)
{
    unsigned rank = (unsigned)(p * n + 0.999999);

    return sorted[CLAMP(rank, 1u, n) - 1];
}

unsigned
bench_ms_until(int64_t now_ns, int64_t deadline_ns)
{
    int64_t ms = (deadline_ns - now_ns + 999999) / 1000000;

    return (unsigned)CLAMP(ms, 0, G_MAXUINT);
}

/* --- timed rounds ------------------------------------------------------- */

static int64_t
bench_rounds_time_ns(BenchRounds *rounds, uint64_t n)
{
    int64_t start = bench_now_ns();

    for (uint64_t r = 0; r < n; r++)
        rounds->round(rounds->data, r);
    return bench_now_ns() - start;
}

/* Doubles a batch until it takes a tenth of a sample, then scales it to a
 * sample. */
void
bench_rounds_calibrate(BenchRounds *rounds)
{
    int64_t target = bench_options.sample_ns, elapsed;
    uint64_t n = 1;

    while ((elapsed = bench_rounds_time_ns(rounds, n)) < target / 10)
        n *= 2;
    rounds->rounds = MAX(1, (uint64_t)((double)n * target / MAX(elapsed, 1)));
}

double
bench_rounds_sample(BenchRounds *rounds)
{
    bench_rounds_time_ns(rounds, rounds->rounds / 8 + 1);
    return (double)bench_rounds_time_ns(rounds, rounds->rounds) / rounds->rounds /
           rounds->per_round;
}

/* --- interleaved repetitions -------------------------------------------- */

const char *
bench_param(const char *name, unsigned value)
{
    g_autofree char *param = g_strdup_printf("%s=%u", name, value);

    return g_intern_string(param);
}


void
bench_run_workload(const BenchWorkload *workload, const BenchImpl *const *impls,
                   unsigned n_impls)
{
    unsigned reps = bench_options.reps, n_metrics = workload->n_metrics;
    g_autofree const BenchImpl **taking_part = g_new0(const BenchImpl *, n_impls);
    g_autofree void **states = g_new0(void *, n_impls);
    /* values[(impl * n_metrics + metric) * reps + rep] */
    g_autofree double *values = g_new0(double, n_impls *n_metrics *reps);
    unsigned n = 0;

    for (unsigned i = 0; i < n_impls; i++)
        if (impls[i]->workloads & workload->implementations)
            taking_part[n++] = impls[i];
    for (unsigned i = 0; i < n; i++)
        states[i] = workload->setup(taking_part[i], workload->arg);

    /* Rep 1 of every implementation, then rep 2 of every one, … */
    for (unsigned rep = 0; rep < reps; rep++) {
        for (unsigned i = 0; i < n; i++) {
            double sample[8];

            g_assert(n_metrics <= G_N_ELEMENTS(sample));
            bench_progress_sample(rep, taking_part[i]);
            workload->sample(states[i], sample);
            for (unsigned m = 0; m < n_metrics; m++)
                values[(i * n_metrics + m) * reps + rep] = sample[m];
        }
    }

    for (unsigned i = 0; i < n; i++) {
        workload->teardown(states[i]);
        for (unsigned m = 0; m < n_metrics; m++)
            bench_record(workload, m, taking_part[i], &values[(i * n_metrics + m) * reps],
                         reps);
    }
}

/* --- progress ----------------------------------------------------------- */

static struct {
    unsigned step, n_steps;
    const char *label;
    bool tty;
} progress;

void
bench_progress_step(unsigned step, unsigned n_steps, const char *label)
{
    progress.step = step;
    progress.n_steps = n_steps;
    progress.label = label;
    progress.tty = isatty(STDERR_FILENO);
    /* Not a terminal (a log): one line per step, no carriage returns. */
    if (!progress.tty)
        fprintf(stderr, "gaio-bench: [%u/%u] %s\n", step, n_steps, label);
}

void
bench_progress_sample(unsigned rep, const BenchImpl *impl)
{
    if (!progress.tty)
        return;
    fprintf(stderr, "\r[%u/%u] %s, rep %u/%u: %-28s", progress.step, progress.n_steps,
            progress.label, rep + 1, bench_options.reps, impl->name);
    fflush(stderr);
}

void
bench_progress_done(void)
{
    if (progress.tty)
        fprintf(stderr, "\r%-90s\r", "");
}

/* --- figures ------------------------------------------------------------ */

static GArray *figures; /* of BenchFigure */

void
bench_record(const BenchWorkload *workload, unsigned metric, const BenchImpl *impl,
             double *values, unsigned n)
{
    BenchFigure figure = {
        .workload = workload->name,
        .metric = workload->metrics[metric].name,
        .param = workload->param,
        .impl = impl,
        .unit = workload->metrics[metric].unit,
    };

    figure.median = bench_median(values, n); /* sorts */
    figure.min = values[0];
    figure.max = values[n - 1];
    if (figures == NULL)
        figures = g_array_new(FALSE, FALSE, sizeof(BenchFigure));
    g_array_append_val(figures, figure);
}

const BenchFigure *
bench_find(const char *workload, const char *metric, const char *param,
           const char *impl_id)
{
    for (guint i = 0; figures != NULL && i < figures->len; i++) {
        const BenchFigure *f = &g_array_index(figures, BenchFigure, i);

        if (strcmp(f->workload, workload) == 0 && strcmp(f->metric, metric) == 0 &&
            strcmp(f->param, param) == 0 && strcmp(f->impl->id, impl_id) == 0)
            return f;
    }
    return NULL;
}

const GArray *
bench_figures(void)
{
    return figures;
}
