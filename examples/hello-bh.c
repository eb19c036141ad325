/* hello-bh.c: worker threads report progress to a GLib main loop through a
 * bottom half (BH), and a signal handler stops everything cleanly.
 *
 * What it shows:
 *  - qemu_bh_new() makes a BH of the default AioContext, a GSource attached to
 *    g_main_context_default(): a plain GMainLoop runs it, nothing else needed.
 *  - qemu_bh_schedule() may be called from any thread, takes no lock, and
 *    coalesces: thousands of schedules give far fewer runs of the callback,
 *    which always sees the latest progress.
 *  - qemu_bh_schedule() is async-signal-safe: the SIGINT/SIGTERM handler,
 *    installed with plain sigaction(), only schedules the "quit" BH; the real
 *    work (stopping the workers, quitting the loop) runs in the main loop.
 *
 * Usage: hello-bh [--duration SECONDS]    (Ctrl-C quits early)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <gaio/gaio.h>

#define N_WORKERS 3
#define STEPS 50           /* each worker works in this many steps... */
#define ITEMS_PER_STEP 100 /* ...of this many items, reporting every item */
#define BAR_WIDTH 10
#define PRINT_INTERVAL_US (G_USEC_PER_SEC / 2)

typedef struct {
    GThread *thread;
    unsigned id;
    gulong step_us;     /* fake work per step */
    atomic_uint items;  /* items done; written by the worker, read by the BH */
    unsigned schedules; /* the worker's qemu_bh_schedule() calls */
} Worker;

/* Global, because a signal handler gets no user data. */
static struct {
    GMainLoop *loop;
    QEMUBH *progress_bh; /* one BH shared by all workers */
    QEMUBH *quit_bh;     /* scheduled by the signal handler */
    volatile sig_atomic_t signal_caught;
    atomic_bool stop; /* tells the workers to give up */
    Worker workers[N_WORKERS];
    unsigned progress_runs;
    gint64 start_time, last_print;
} demo;

static gpointer
worker_run(gpointer data)
{
    Worker *w = data;

    for (unsigned step = 0; step < STEPS && !atomic_load(&demo.stop); step++) {
        g_usleep(w->step_us); /* "waiting for I/O" */
        for (unsigned item = 0; item < ITEMS_PER_STEP; item++) {
            atomic_fetch_add(&w->items, 1); /* "processing an item" */
            /* Report it. While the BH is pending this is a single atomic
             * operation: the schedules coalesce into one run. */
            qemu_bh_schedule(demo.progress_bh);
            w->schedules++;
        }
    }
    return NULL;
}

static void
print_progress(void)
{
    GString *line = g_string_new(NULL);

    g_string_append_printf(line, "  %4.1f s ",
                           (g_get_monotonic_time() - demo.start_time) / 1e6);
    for (unsigned i = 0; i < N_WORKERS; i++) {
        unsigned percent =
            atomic_load(&demo.workers[i].items) * 100 / (STEPS * ITEMS_PER_STEP);
        unsigned filled = percent * BAR_WIDTH / 100;

        g_string_append_printf(line, "   w%u [", demo.workers[i].id);
        for (unsigned j = 0; j < BAR_WIDTH; j++)
            g_string_append_c(line, j < filled ? '#' : '.');
        g_string_append_printf(line, "] %3u%%", percent);
    }
    g_print("%s\n", line->str);
    g_string_free(line, TRUE);
}

static void
stop(const char *reason)
{
    if (atomic_load(&demo.stop))
        return; /* already stopping (a signal and the end came together) */
    g_print("quit: %s\n", reason);
    atomic_store(&demo.stop, true);
    g_main_loop_quit(demo.loop);
}

/* Runs in the main loop's thread, after one or many schedules. */
static void
progress_cb(void *opaque)
{
    gint64 now = g_get_monotonic_time();
    bool all_done = true;

    demo.progress_runs++;
    if (atomic_load(&demo.stop))
        return; /* the workers' last reports, after the loop quit */
    for (unsigned i = 0; i < N_WORKERS; i++)
        all_done &= atomic_load(&demo.workers[i].items) == STEPS * ITEMS_PER_STEP;

    /* A GUI would update its progress bars here; we print a line now and then. */
    if (all_done || now - demo.last_print >= PRINT_INTERVAL_US) {
        print_progress();
        demo.last_print = now;
    }
    if (all_done)
        stop("all workers finished");
}

/* Also runs in the main loop's thread: here anything goes (printing, GLib). */
static void
quit_cb(void *opaque)
{
    g_autofree char *reason = NULL;

    if (atomic_load(&demo.stop))
        return; /* a second signal */
    reason = g_strdup_printf(
        "caught %s; the handler only scheduled a BH, this runs in the main loop",
        demo.signal_caught == SIGINT ? "SIGINT" : "SIGTERM");
    print_progress();
    stop(reason);
}

/* A real signal handler, on whatever thread the signal hits. Only
 * async-signal-safe calls here: qemu_bh_schedule() is one of them. */
static void
on_signal(int signo)
{
    demo.signal_caught = signo;
    qemu_bh_schedule(demo.quit_bh);
}

int
main(int argc, char **argv)
{
    double duration = 2.5;
    GOptionEntry entries[] = {
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
         "How long the slowest worker works (default 2.5)", "SECONDS"},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) options =
        g_option_context_new("- gaio's bottom halves at work");
    g_autoptr(GError) error = NULL;
    struct sigaction action = {.sa_handler = on_signal}, old_int, old_term;
    unsigned long schedules = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines show up at once, even in a pipe */
    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || !(duration > 0)) {
        g_printerr("hello-bh: %s\n",
                   error ? error->message : "--duration must be positive");
        return 2;
    }

    /* BHs of the default AioContext, which the default GMainLoop runs. */
    demo.loop = g_main_loop_new(NULL, FALSE);
    demo.progress_bh = qemu_bh_new(progress_cb, NULL);
    demo.quit_bh = qemu_bh_new(quit_cb, NULL);

    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);

    g_print("hello-bh: %d workers, %.1f s of fake work, reporting through one BH; "
            "Ctrl-C quits early\n",
            N_WORKERS, duration);
    demo.start_time = demo.last_print = g_get_monotonic_time();
    for (unsigned i = 0; i < N_WORKERS; i++) {
        Worker *w = &demo.workers[i];

        w->id = i + 1;
        /* The workers finish at 60%, 80% and 100% of the duration. */
        w->step_us = (gulong)(duration * G_USEC_PER_SEC * (3 + i) / 5 / STEPS);
        w->thread = g_thread_new("worker", worker_run, w);
    }

    g_main_loop_run(demo.loop);

    for (unsigned i = 0; i < N_WORKERS; i++) {
        g_thread_join(demo.workers[i].thread);
        schedules += demo.workers[i].schedules;
    }
    /* Reports made after the loop quit may still be pending: one pass runs
     * them, since no schedule goes without a run after it. */
    aio_poll(qemu_get_aio_context(), false);
    g_print("%lu schedules coalesced into %u run%s of the progress BH\n", schedules,
            demo.progress_runs, demo.progress_runs == 1 ? "" : "s");

    /* No signal may reach quit_bh once it is deleted: restore the handlers. */
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    qemu_bh_delete(demo.progress_bh);
    qemu_bh_delete(demo.quit_bh);
    /* A deleted BH is freed by its context's next pass: run one now, so
     * nothing is left behind at exit. */
    aio_poll(qemu_get_aio_context(), false);
    g_main_loop_unref(demo.loop);
    return 0;
}
