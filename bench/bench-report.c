/* bench-report.c: what gaio-bench prints: one markdown table per workload,
 * the targets of issues #3, #8 and #9 with PASS/MISS, and the JSON file.
 *
 * Every cell is "median [min–max]" over the repetitions. A ratio column
 * "X ÷ row" is gaio variant X's median divided by the row's median: below 1,
 * gaio is faster (or smaller).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>

#include "bench-private.h"

/* --- tables ------------------------------------------------------------- */

typedef struct {
    const char *metric;
    const char *param;
    const char *heading;
    bool ratios; /* followed by a "gaio ÷ row" column per gaio variant */
} BenchColumn;

typedef struct {
    const char *title;
    const char *workload;
    BenchColumn columns[4];
    /* A last column: the row's last value ÷ its first (idle scaling). */
    const char *scaling_heading;
    /* What the table must also say, found out while it ran (or NULL). */
    const char *(*note)(void);
} BenchTable;

#define SAME_THREAD_TABLE(k)                                                             \
    {                                                                                    \
        .title = "Same thread, K = " #k ": schedule K distinct callbacks, run one "      \
                 "iteration",                                                            \
        .workload = BENCH_W_SAME_THREAD,                                                 \
        .columns = {{"ns per callback", "K=" #k, "ns per callback", true}},              \
    }

/* The thread-pool table's own note: its ratios read the other way. */
static const char *
pool_note(void)
{
    static char note[256];

    g_snprintf(note, sizeof note,
               "%u jobs per repetition. In the jobs/s column **above 1 means gaio is "
               "faster**; in ns per job, below 1 does.",
               bench_options.pool_jobs);
    return note;
}

static const BenchTable tables[] = {
    SAME_THREAD_TABLE(1),
    SAME_THREAD_TABLE(16),
    SAME_THREAD_TABLE(1024),
    {
        .title = "Cross-thread throughput: a producer schedules 64 handles round-robin, "
                 "back to back",
        .workload = BENCH_W_THROUGHPUT,
        .columns = {{"ns per schedule", "", "ns per schedule", true},
                    {"runs per schedule", "", "runs per schedule", false},
                    {"writes per schedule", "", "write() calls per schedule", false}},
    },
    {
        .title = "Cross-thread wake-up latency: consumer asleep, producer schedules one "
                 "handle",
        .workload = BENCH_W_LATENCY,
        .columns = {{"p50", "", "p50 (µs)", true}, {"p99", "", "p99 (µs)", true}},
    },
    {
        .title = "Memory: heap bytes per handle (made and scheduled once; mallinfo2 over "
                 "100,000)",
        .workload = BENCH_W_MEMORY,
        .columns = {{"bytes per handle", "", "bytes per handle", true}},
    },
    {
        .title = "Idle scaling: ns per iteration that runs one callback, M handles "
                 "registered but idle",
        .workload = BENCH_W_IDLE,
        .columns = {{"ns per iteration", "M=10", "M = 10", false},
                    {"ns per iteration", "M=1000", "M = 1,000", false},
                    {"ns per iteration", "M=100000", "M = 100,000", true}},
        .scaling_heading = "100,000 ÷ 10",
    },
    {
        .title = "fd scaling: ns per iteration that runs one fd callback (one fd ready), "
                 "N fds registered but idle",
        .workload = BENCH_W_FDS,
        .columns = {{"ns per iteration", "N=10", "N = 10", false},
                    {"ns per iteration", "N=1000", "N = 1,000", false},
                    {"ns per iteration", "N=100000", "N = 100,000", true}},
        .scaling_heading = "100,000 ÷ 10",
        .note = bench_fds_note,
    },
    {
        .title = "Timer lateness: one timer at a time, 100–900 µs ahead, loop idle; "
                 "callback time − deadline",
        .workload = BENCH_W_TIMER_LATENESS,
        .columns = {{"p50", "", "p50 (µs)", true},
                    {"p99", "", "p99 (µs)", true},
                    {"early", "", "fired early (share)", false}},
    },
    {
        .title = "Timer arm + delete: ns per pair (arm one more timer, delete it), N other "
                 "timers armed far ahead",
        .workload = BENCH_W_TIMER_ARM,
        .columns = {{"ns per arm+delete", "N=10", "N = 10", false},
                    {"ns per arm+delete", "N=1000", "N = 1,000", false},
                    {"ns per arm+delete", "N=100000", "N = 100,000", true}},
        .scaling_heading = "100,000 ÷ 10",
    },
    {
        .title = "Timer move: ns to re-arm one of the N armed timers, picked at random, "
                 "for a new random deadline",
        .workload = BENCH_W_TIMER_ARM,
        .columns = {{"ns per move", "N=10", "N = 10", false},
                    {"ns per move", "N=1000", "N = 1,000", false},
                    {"ns per move", "N=100000", "N = 100,000", true}},
        .scaling_heading = "100,000 ÷ 10",
    },
    {
        .title = "Thread pool: trivial jobs submitted back to back from the context's "
                 "thread, completions run in that context",
        .workload = BENCH_W_POOL,
        .columns = {{"jobs per s", "", "jobs/s", true}, {"ns per job", "", "ns per job", true}},
        .note = pool_note,
    },
    {
        .title = "Ping-pong: a token passed A → B → A between the contexts of two threads "
                 "on two CPUs; ns per round trip",
        .workload = BENCH_W_PING_PONG,
        .columns = {{"p50", "", "p50 (ns)", true}, {"p99", "", "p99 (ns)", true}},
    },
    {
        .title = "Call and wait: a thread running no context has a no-op callback run in "
                 "another thread's context and waits for it; ns per call",
        .workload = BENCH_W_CALL_WAIT,
        .columns = {{"p50", "", "p50 (ns)", true}, {"p99", "", "p99 (ns)", true}},
    },
};

static unsigned
table_n_columns(const BenchTable *table)
{
    unsigned n = 0;

    while (n < G_N_ELEMENTS(table->columns) && table->columns[n].metric != NULL)
        n++;
    return n;
}

static const BenchFigure *
column_figure(const BenchTable *table, const BenchColumn *column, const BenchImpl *impl)
{
    return bench_find(table->workload, column->metric, column->param, impl->id);
}

/* Three significant digits (all the digits of large values), never an
 * exponent: 0.0000124, 0.846, 15.2, 3252229. */
static void
format_value(GString *out, double value)
{
    int digits = value != 0 ? 2 - (int)floor(log10(fabs(value))) : 0;

    g_string_append_printf(out, "%.*f", CLAMP(digits, 0, 12), value);
}

static void
format_figure(GString *out, const BenchFigure *figure)
{
    if (figure == NULL) {
        g_string_append(out, " — |");
        return;
    }
    g_string_append_c(out, ' ');
    format_value(out, figure->median);
    g_string_append(out, " [");
    format_value(out, figure->min);
    g_string_append(out, "–");
    format_value(out, figure->max);
    g_string_append(out, "] |");
}

static void
format_ratio(GString *out, const BenchFigure *num, const BenchFigure *den, bool self)
{
    if (self || num == NULL || den == NULL || den->median == 0)
        g_string_append(out, " — |");
    else {
        g_string_append_c(out, ' ');
        format_value(out, num->median / den->median);
        g_string_append(out, " |");
    }
}

/* The gaio variants with a figure in @column: they get ratio columns. */
#define MAX_GAIO_VARIANTS 4
static unsigned
column_gaio_variants(const BenchTable *table, const BenchColumn *column,
                     const BenchImpl *const *impls, unsigned n_impls,
                     const BenchImpl **variants)
{
    unsigned n = 0;

    for (unsigned i = 0; i < n_impls && n < MAX_GAIO_VARIANTS; i++)
        if (impls[i]->gaio_column != NULL && column->ratios &&
            column_figure(table, column, impls[i]) != NULL)
            variants[n++] = impls[i];
    return n;
}

static void
print_header(const BenchTable *table, const BenchImpl *const *impls, unsigned n_impls)
{
    g_autoptr(GString) head = g_string_new("| implementation |");
    g_autoptr(GString) rule = g_string_new("|---|");
    unsigned n_columns = table_n_columns(table);

    for (unsigned c = 0; c < n_columns; c++) {
        const BenchColumn *column = &table->columns[c];
        const BenchImpl *variants[MAX_GAIO_VARIANTS];
        unsigned n = column_gaio_variants(table, column, impls, n_impls, variants);

        g_string_append_printf(head, " %s |", column->heading);
        g_string_append(rule, "---:|");
        for (unsigned v = 0; v < n; v++) {
            g_string_append_printf(head, " %s ÷ row |", variants[v]->gaio_column);
            g_string_append(rule, "---:|");
        }
    }
    if (table->scaling_heading != NULL) {
        g_string_append_printf(head, " %s |", table->scaling_heading);
        g_string_append(rule, "---:|");
    }
    printf("%s\n%s\n", head->str, rule->str);
}

static void
print_row(const BenchTable *table, const BenchImpl *row, const BenchImpl *const *impls,
          unsigned n_impls)
{
    g_autoptr(GString) line = g_string_new(NULL);
    unsigned n_columns = table_n_columns(table);
    bool any = false;

    g_string_append_printf(line, "| %s |", row->name);
    for (unsigned c = 0; c < n_columns; c++) {
        const BenchColumn *column = &table->columns[c];
        const BenchFigure *figure = column_figure(table, column, row);
        const BenchImpl *variants[MAX_GAIO_VARIANTS];
        unsigned n = column_gaio_variants(table, column, impls, n_impls, variants);

        any |= figure != NULL;
        format_figure(line, figure);
        for (unsigned v = 0; v < n; v++)
            format_ratio(line, column_figure(table, column, variants[v]), figure,
                         variants[v] == row);
    }
    if (table->scaling_heading != NULL)
        format_ratio(line, column_figure(table, &table->columns[n_columns - 1], row),
                     column_figure(table, &table->columns[0], row), false);
    if (any)
        printf("%s\n", line->str);
}

static bool
table_has_figures(const BenchTable *table, const BenchImpl *const *impls,
                  unsigned n_impls)
{
    for (unsigned i = 0; i < n_impls; i++)
        for (unsigned c = 0; c < table_n_columns(table); c++)
            if (column_figure(table, &table->columns[c], impls[i]) != NULL)
                return true;
    return false;
}

void
bench_print_tables(const BenchImpl *const *impls, unsigned n_impls)
{
    for (unsigned t = 0; t < G_N_ELEMENTS(tables); t++) {
        const BenchTable *table = &tables[t];

        if (!table_has_figures(table, impls, n_impls))
            continue; /* not run (--only) */
        printf("\n### %s\n\n", table->title);
        if (table->note != NULL && table->note() != NULL)
            printf("%s\n\n", table->note());
        print_header(table, impls, n_impls);
        for (unsigned i = 0; i < n_impls; i++)
            print_row(table, impls[i], impls, n_impls);
    }
}

/* --- targets ------------------------------------------------------------ */

/* value = the figure (workload, metric, param, impl) ÷ the figure (workload,
 * metric, versus_param or param, versus_impl), or the figure alone when
 * versus_impl is NULL; met when value ≤ limit, or ≥ limit if at_least. */
typedef struct {
    const char *label;
    const char *workload, *metric, *param, *impl;
    const char *versus_param, *versus_impl;
    bool at_least;
    double limit;
} BenchTarget;

static const BenchTarget targets[] = {
    {.label = "same-thread K=1024, aio_poll ÷ g_idle_add",
     .workload = BENCH_W_SAME_THREAD,
     .metric = "ns per callback",
     .param = "K=1024",
     .impl = "gaio-aio-poll",
     .versus_impl = "glib-idle-add",
     .limit = 0.08},
    {.label = "same-thread K=1024, aio_poll ÷ libevent event_active + pthreads",
     .workload = BENCH_W_SAME_THREAD,
     .metric = "ns per callback",
     .param = "K=1024",
     .impl = "gaio-aio-poll",
     .versus_impl = "libevent-pthreads",
     .limit = 0.8},
    {.label = "same-thread K=1024, aio_poll ÷ atomic flag + call",
     .workload = BENCH_W_SAME_THREAD,
     .metric = "ns per callback",
     .param = "K=1024",
     .impl = "gaio-aio-poll",
     .versus_impl = "ref-atomic",
     .limit = 1.6},
    {.label = "same-thread K=1, GMainContext ÷ g_idle_add",
     .workload = BENCH_W_SAME_THREAD,
     .metric = "ns per callback",
     .param = "K=1",
     .impl = "gaio-gmain",
     .versus_impl = "glib-idle-add",
     .limit = 0.7},
    {.label = "same-thread K=1024, GMainContext ÷ GSource ready_time",
     .workload = BENCH_W_SAME_THREAD,
     .metric = "ns per callback",
     .param = "K=1024",
     .impl = "gaio-gmain",
     .versus_impl = "glib-ready-time",
     .limit = 0.1},
    /* Throughput is the inverse of ns per schedule: the peer's ns ÷ gaio's. */
    {.label = "cross-thread throughput, aio_poll ÷ GSource ready_time (×)",
     .workload = BENCH_W_THROUGHPUT,
     .metric = "ns per schedule",
     .param = "",
     .impl = "glib-ready-time",
     .versus_impl = "gaio-aio-poll",
     .at_least = true,
     .limit = 4},
    {.label = "cross-thread throughput, GMainContext ÷ GSource ready_time (×)",
     .workload = BENCH_W_THROUGHPUT,
     .metric = "ns per schedule",
     .param = "",
     .impl = "glib-ready-time",
     .versus_impl = "gaio-gmain",
     .at_least = true,
     .limit = 4},
    {.label = "cross-thread write() per schedule, aio_poll",
     .workload = BENCH_W_THROUGHPUT,
     .metric = "writes per schedule",
     .param = "",
     .impl = "gaio-aio-poll",
     .limit = 0.02},
    {.label = "cross-thread write() per schedule, GMainContext",
     .workload = BENCH_W_THROUGHPUT,
     .metric = "writes per schedule",
     .param = "",
     .impl = "gaio-gmain",
     .limit = 0.02},
    {.label = "latency p50, aio_poll ÷ raw eventfd",
     .workload = BENCH_W_LATENCY,
     .metric = "p50",
     .param = "",
     .impl = "gaio-aio-poll",
     .versus_impl = "eventfd",
     .limit = 1.15},
    {.label = "latency p99, aio_poll ÷ raw eventfd",
     .workload = BENCH_W_LATENCY,
     .metric = "p99",
     .param = "",
     .impl = "gaio-aio-poll",
     .versus_impl = "eventfd",
     .limit = 1.3},
    {.label = "memory, bytes per BH",
     .workload = BENCH_W_MEMORY,
     .metric = "bytes per handle",
     .param = "",
     .impl = "gaio-aio-poll",
     .limit = 48},
    {.label = "idle scaling, aio_poll: M=100,000 ÷ M=10",
     .workload = BENCH_W_IDLE,
     .metric = "ns per iteration",
     .param = "M=100000",
     .impl = "gaio-aio-poll",
     .versus_param = "M=10",
     .versus_impl = "gaio-aio-poll",
     .limit = 1.1},
    {.label = "idle scaling, GMainContext: M=100,000 ÷ M=10",
     .workload = BENCH_W_IDLE,
     .metric = "ns per iteration",
     .param = "M=100000",
     .impl = "gaio-gmain",
     .versus_param = "M=10",
     .versus_impl = "gaio-gmain",
     .limit = 1.1},
    /* Issue #8. */
    {.label = "fd scaling, GMainContext: N=100,000 ÷ N=10",
     .workload = BENCH_W_FDS,
     .metric = "ns per iteration",
     .param = "N=100000",
     .impl = "gaio-gmain",
     .versus_param = "N=10",
     .versus_impl = "gaio-gmain",
     .limit = 1.2},
    {.label = "timer lateness p99, aio_poll ÷ bare timerfd",
     .workload = BENCH_W_TIMER_LATENESS,
     .metric = "p99",
     .param = "",
     .impl = "gaio-aio-poll",
     .versus_impl = "timerfd",
     .limit = 2},
    {.label = "timer lateness p99, GMainContext ÷ bare timerfd",
     .workload = BENCH_W_TIMER_LATENESS,
     .metric = "p99",
     .param = "",
     .impl = "gaio-gmain",
     .versus_impl = "timerfd",
     .limit = 2},
    {.label = "timer arm + delete, aio_poll: N=100,000 ÷ N=10",
     .workload = BENCH_W_TIMER_ARM,
     .metric = "ns per arm+delete",
     .param = "N=100000",
     .impl = "gaio-aio-poll",
     .versus_param = "N=10",
     .versus_impl = "gaio-aio-poll",
     .limit = 2},
    /* Issue #9. */
    {.label = "thread pool jobs/s, gaio ÷ g_task_run_in_thread (×)",
     .workload = BENCH_W_POOL,
     .metric = "jobs per s",
     .param = "",
     .impl = "gaio-pool",
     .versus_impl = "glib-task",
     .at_least = true,
     .limit = 3},
    {.label = "thread pool jobs/s, gaio ÷ libuv uv_queue_work (×)",
     .workload = BENCH_W_POOL,
     .metric = "jobs per s",
     .param = "",
     .impl = "gaio-pool",
     .versus_impl = "libuv-queue-work",
     .at_least = true,
     .limit = 1},
    {.label = "ping-pong p50, aio_bh_schedule_oneshot ÷ g_main_context_invoke pair",
     .workload = BENCH_W_PING_PONG,
     .metric = "p50",
     .param = "",
     .impl = "gaio-oneshot-pair",
     .versus_impl = "glib-invoke-pair",
     .limit = 0.5},
    {.label = "ping-pong p50, qemu_bh_schedule ÷ g_main_context_invoke pair",
     .workload = BENCH_W_PING_PONG,
     .metric = "p50",
     .param = "",
     .impl = "gaio-bh-pair",
     .versus_impl = "glib-invoke-pair",
     .limit = 0.5},
};

/* False when a figure is missing (a peer not built, a workload not run). */
static bool
target_value(const BenchTarget *target, double *value)
{
    const BenchFigure *of =
        bench_find(target->workload, target->metric, target->param, target->impl);
    const BenchFigure *versus = NULL;

    if (of == NULL)
        return false;
    if (target->versus_impl == NULL) {
        *value = of->median;
        return true;
    }
    versus = bench_find(target->workload, target->metric,
                        target->versus_param ? target->versus_param : target->param,
                        target->versus_impl);
    if (versus == NULL || versus->median == 0)
        return false;
    *value = of->median / versus->median;
    return true;
}

static bool
target_met(const BenchTarget *target, double value)
{
    return target->at_least ? value >= target->limit : value <= target->limit;
}

void
bench_print_targets(void)
{
    printf("\n### Targets (issues #3, #8 and #9)\n\n");
    printf("| target | measured | limit | result |\n|---|---:|---:|---|\n");
    for (unsigned t = 0; t < G_N_ELEMENTS(targets); t++) {
        const BenchTarget *target = &targets[t];
        double value;

        if (!target_value(target, &value)) {
            printf("| %s | — | %s %g | not measured |\n", target->label,
                   target->at_least ? "≥" : "≤", target->limit);
            continue;
        }
        printf("| %s | %.3g | %s %g | %s |\n", target->label, value,
               target->at_least ? "≥" : "≤", target->limit,
               target_met(target, value) ? "PASS" : "**MISS**");
    }
}

/* --- JSON --------------------------------------------------------------- */

static void
json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, *s);
    }
    g_string_append_c(out, '"');
}

static void
json_figures(GString *out)
{
    const GArray *figures = bench_figures();

    for (guint i = 0; figures != NULL && i < figures->len; i++) {
        const BenchFigure *f = &g_array_index(figures, BenchFigure, i);

        g_string_append(out, i ? ",\n    {" : "\n    {");
        g_string_append(out, "\"workload\": ");
        json_string(out, f->workload);
        g_string_append(out, ", \"metric\": ");
        json_string(out, f->metric);
        g_string_append(out, ", \"param\": ");
        json_string(out, f->param);
        g_string_append(out, ", \"impl\": ");
        json_string(out, f->impl->id);
        g_string_append_printf(out, ", \"median\": %.6g, \"min\": %.6g, \"max\": %.6g",
                               f->median, f->min, f->max);
        g_string_append(out, ", \"unit\": ");
        json_string(out, f->unit);
        g_string_append_c(out, '}');
    }
}

static void
json_targets(GString *out)
{
    bool first = true;

    for (unsigned t = 0; t < G_N_ELEMENTS(targets); t++) {
        double value;

        if (!target_value(&targets[t], &value))
            continue;
        g_string_append(out, first ? "\n    {" : ",\n    {");
        first = false;
        g_string_append(out, "\"target\": ");
        json_string(out, targets[t].label);
        g_string_append_printf(out,
                               ", \"value\": %.6g, \"limit\": %g, \"at_least\": %s, "
                               "\"pass\": %s}",
                               value, targets[t].limit,
                               targets[t].at_least ? "true" : "false",
                               target_met(&targets[t], value) ? "true" : "false");
    }
}

static void
json_notes(GString *out)
{
    bool first = true;

    for (unsigned t = 0; t < G_N_ELEMENTS(tables); t++) {
        const char *note = tables[t].note != NULL ? tables[t].note() : NULL;

        if (note == NULL)
            continue;
        g_string_append(out, first ? "\n    " : ",\n    ");
        first = false;
        json_string(out, note);
    }
}

gboolean
bench_write_json(const char *path, GError **error)
{
    g_autoptr(GString) out = g_string_new("{\n");

    g_string_append_printf(
        out, "  \"quick\": %s,\n  \"reps\": %u,\n  \"buildtype\": \"%s\",\n",
        bench_options.quick ? "true" : "false", bench_options.reps, BENCH_BUILDTYPE);
    g_string_append(out, "  \"figures\": [");
    json_figures(out);
    g_string_append(out, "\n  ],\n  \"notes\": [");
    json_notes(out);
    g_string_append(out, "\n  ],\n  \"targets\": [");
    json_targets(out);
    g_string_append(out, "\n  ]\n}\n");
    return g_file_set_contents(path, out->str, (gssize)out->len, error);
}
