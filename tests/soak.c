/* soak.c: the stress workloads of the test suite, run together for as long
 * as asked (issue #4, item 5). Not a test: run it by hand.
 *
 *   tests/soak --duration SECONDS [--threads N] [--interval SECONDS]
 *
 * Two contexts: one run by a thread in aio_poll(ctx, true), one attached to a
 * GMainContext that another thread iterates. Meanwhile:
 *  - N producer threads schedule shared BHs of both contexts (sequence
 *    counters, as tests/test-threads.c) and send cross-thread oneshots;
 *  - a signaller thread sends signals with pthread_kill() to both owners and
 *    to the producers; each handler schedules one of several BHs;
 *  - a churn thread makes, schedules, cancels and deletes BHs of both;
 *  - a probe thread schedules a time-stamped BH every millisecond or so and
 *    records how long it took to start (the wake-up latency when the owner
 *    slept, the queueing delay when it was busy).
 * Counts are printed every --interval seconds. At the end the workers stop,
 * every BH must catch up with its last schedule (B3: its last run started
 * after its last schedule), runs may not exceed schedules, and every oneshot
 * must have run once.
 *
 * Exit status: 0 if no loss was detected, 1 if one was, 2 on a usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaio-test.h"

enum {
    N_CONTEXTS = 2,      /* 0: aio_poll() owner, 1: GMainContext owner */
    SHARED_BHS = 32,     /* per context, scheduled by the producers */
    SIGNAL_BHS = 8,      /* per context, scheduled by signal handlers */
    SIGNAL_SLOTS = 8,    /* signal numbers in flight at once */
    ONESHOT_EVERY = 256, /* a producer sends a oneshot every this many schedules */
    YIELD_EVERY = 64,    /* producers yield, so signals reach their targets */
    MAX_THREADS = 64,
};

static const char *const context_names[N_CONTEXTS] = {"aio_poll", "GMainContext"};

typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL: run with aio_poll() */
    GSource *source;
    pthread_t thread_id;
    atomic_bool thread_known;
    atomic_bool stop;
    GaioTestSeqBH shared[SHARED_BHS];
    GaioTestSeqBH signalled[SIGNAL_BHS];
    QEMUBH *probe;
    atomic_llong probe_sent_ns; /* 0: no probe pending */
    atomic_llong probe_max_ns;
    atomic_ulong probes;
    atomic_ulong iterations;
} Loop;

typedef struct {
    Loop loops[N_CONTEXTS];
    unsigned n_producers;
    pthread_t producer_ids[MAX_THREADS];
    atomic_uint producers_known;
    atomic_bool stop_workers;   /* signaller, churner, probe */
    atomic_bool stop_producers; /* after the signaller: they are its targets */
    /* Counts, for the reports. */
    atomic_ulong schedules; /* producers' and handlers' */
    atomic_ulong signals_sent;
    atomic_ulong signals_handled;
    atomic_ulong handled_by[NSIG];
    atomic_ulong oneshots_sent;
    atomic_ulong oneshots_run;
    atomic_ulong churned;
} Soak;

/* What the signal handler touches. */
static Soak *_Atomic soak;

/* ------------------------------------------------------------------------ */
/* Callbacks and schedules                                                  */
/* ------------------------------------------------------------------------ */

static gint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* Thread-safe; async-signal-safe. */
static void
seq_schedule(Soak *sk, GaioTestSeqBH *s)
{
    gaio_test_seq_schedule(s);
    atomic_fetch_add_explicit(&sk->schedules, 1, memory_order_relaxed);
}

static void
oneshot_cb(void *opaque)
{
    Soak *sk = opaque;

    atomic_fetch_add_explicit(&sk->oneshots_run, 1, memory_order_relaxed);
}

static void
churn_cb(void *opaque)
{
    (void)opaque;
}

static void
probe_cb(void *opaque)
{
    Loop *l = opaque;
    gint64 latency = now_ns() - atomic_load(&l->probe_sent_ns);
    long long max = atomic_load(&l->probe_max_ns);

    /* Only this thread raises the maximum. */
    if (latency > max)
        atomic_store(&l->probe_max_ns, latency);
    atomic_fetch_add(&l->probes, 1);
    atomic_store(&l->probe_sent_ns, 0);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

static gpointer
owner_thread(gpointer data)
{
    Loop *l = data;

    l->thread_id = pthread_self();
    atomic_store(&l->thread_known, true);
    while (!atomic_load(&l->stop)) {
        if (l->mc != NULL)
            g_main_context_iteration(l->mc, TRUE);
        else
            aio_poll(l->ctx, true);
        atomic_fetch_add_explicit(&l->iterations, 1, memory_order_relaxed);
    }
    return NULL;
}

typedef struct {
    Soak *sk;
    unsigned index;
} Worker;

static gpointer
producer_thread(gpointer data)
{
    Worker *w = data;
    Soak *sk = w->sk;
    guint32 x = (w->index + 1) * 2654435761u | 1;
    unsigned long n = 0;

    sk->producer_ids[w->index] = pthread_self();
    atomic_fetch_add(&sk->producers_known, 1);
    while (!atomic_load(&sk->stop_producers)) {
        guint32 r = gaio_test_xorshift32(&x);
        Loop *l = &sk->loops[r % N_CONTEXTS];

        seq_schedule(sk, &l->shared[(r >> 8) % SHARED_BHS]);
        n++;
        if (n % ONESHOT_EVERY == 0) {
            atomic_fetch_add(&sk->oneshots_sent, 1);
            aio_bh_schedule_oneshot(l->ctx, oneshot_cb, sk);
        }
        if (n % YIELD_EVERY == 0)
            sched_yield();
    }
    return NULL;
}

/* Signals: a standard one and real-time ones, each number in flight at most
 * once (a signal pending twice on a thread may be delivered once), so every
 * one sent is handled. */
static int
slot_signo(unsigned slot)
{
    return slot == 0 ? SIGUSR1 : SIGRTMIN + (int)slot - 1;
}

static void
on_signal(int signo)
{
    Soak *sk = atomic_load(&soak);
    unsigned long n = atomic_fetch_add(&sk->signals_handled, 1);
    Loop *l = &sk->loops[n % N_CONTEXTS];

    seq_schedule(sk, &l->signalled[(n / N_CONTEXTS) % SIGNAL_BHS]);
    /* Last: the signaller reuses this number only after the schedule. */
    atomic_fetch_add(&sk->handled_by[signo], 1);
}

static gpointer
signaller_thread(gpointer data)
{
    Soak *sk = data;
    unsigned long sent[SIGNAL_SLOTS] = {0};
    unsigned n_targets = N_CONTEXTS + sk->n_producers;

    for (unsigned long i = 0; !atomic_load(&sk->stop_workers); i++) {
        unsigned slot = i % SIGNAL_SLOTS;
        unsigned target = (i / SIGNAL_SLOTS) % n_targets;
        int signo = slot_signo(slot);
        pthread_t id = target < N_CONTEXTS ? sk->loops[target].thread_id
                                           : sk->producer_ids[target - N_CONTEXTS];

        while (atomic_load(&sk->handled_by[signo]) < sent[slot]) {
            if (atomic_load(&sk->stop_workers))
                goto out;
            sched_yield();
        }
        if (pthread_kill(id, signo) != 0) {
            fprintf(stderr, "soak: pthread_kill: %s\n", g_strerror(errno));
            abort();
        }
        sent[slot]++;
        atomic_fetch_add_explicit(&sk->signals_sent, 1, memory_order_relaxed);
    }
out:
    /* Targets outlive this thread (producers stop after it): wait until
     * every signal was handled. */
    for (unsigned slot = 0; slot < SIGNAL_SLOTS; slot++)
        while (atomic_load(&sk->handled_by[slot_signo(slot)]) < sent[slot])
            sched_yield();
    return NULL;
}

static gpointer
churn_thread(gpointer data)
{
    Soak *sk = data;
    guint32 x = 77;

    while (!atomic_load(&sk->stop_workers)) {
        guint32 r = gaio_test_xorshift32(&x);
        Loop *l = &sk->loops[r % N_CONTEXTS];
        QEMUBH *bh = aio_bh_new_full(l->ctx, churn_cb, NULL, "soak-churn");

        switch ((r >> 8) % 5) {
        case 0:
            qemu_bh_schedule(bh);
            break;
        case 1:
            qemu_bh_schedule_idle(bh);
            break;
        case 2:
            qemu_bh_schedule(bh);
            qemu_bh_cancel(bh);
            break;
        case 3:
            qemu_bh_schedule(bh);
            qemu_bh_schedule(bh);
            break;
        default:
            break;
        }
        qemu_bh_delete(bh);
        atomic_fetch_add_explicit(&sk->churned, 1, memory_order_relaxed);
        if ((r >> 16) % 16 == 0)
            sched_yield();
    }
    return NULL;
}

static gpointer
probe_thread(gpointer data)
{
    Soak *sk = data;

    for (unsigned i = 0; !atomic_load(&sk->stop_workers); i++) {
        Loop *l = &sk->loops[i % N_CONTEXTS];

        g_usleep(1000);
        /* One probe pending per context at a time. */
        if (atomic_load(&l->probe_sent_ns) != 0)
            continue;
        atomic_store(&l->probe_sent_ns, now_ns());
        qemu_bh_schedule(l->probe);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Setup, reports, the final check                                          */
/* ------------------------------------------------------------------------ */

static void
loop_init(Loop *l, bool use_gmain)
{
    g_autoptr(GError) error = NULL;

    l->ctx = aio_context_new(&error);
    if (l->ctx == NULL) {
        fprintf(stderr, "soak: %s\n", error->message);
        exit(1);
    }
    l->mc = NULL;
    l->source = NULL;
    if (use_gmain) {
        l->mc = g_main_context_new();
        l->source = aio_get_g_source(l->ctx);
        g_source_attach(l->source, l->mc);
    }
    for (unsigned i = 0; i < SHARED_BHS; i++)
        l->shared[i].bh = aio_bh_new_full(l->ctx, gaio_test_seq_cb, &l->shared[i], "soak-shared");
    for (unsigned i = 0; i < SIGNAL_BHS; i++)
        l->signalled[i].bh =
            aio_bh_new_full(l->ctx, gaio_test_seq_cb, &l->signalled[i], "soak-signalled");
    l->probe = aio_bh_new_full(l->ctx, probe_cb, l, "soak-probe");
}

/* Owner stopped: this thread runs the context now (C5). */
static void
loop_clear(Loop *l)
{
    for (unsigned i = 0; i < SHARED_BHS; i++)
        qemu_bh_delete(l->shared[i].bh);
    for (unsigned i = 0; i < SIGNAL_BHS; i++)
        qemu_bh_delete(l->signalled[i].bh);
    qemu_bh_delete(l->probe);
    if (l->mc != NULL) {
        while (g_main_context_iteration(l->mc, FALSE))
            ;
        g_source_destroy(l->source);
        g_source_unref(l->source);
        g_main_context_unref(l->mc);
    } else {
        while (aio_poll(l->ctx, false))
            ;
    }
    aio_context_unref(l->ctx);
}

static unsigned long
total_runs(Soak *sk)
{
    unsigned long runs = 0;

    for (unsigned c = 0; c < N_CONTEXTS; c++) {
        for (unsigned i = 0; i < SHARED_BHS; i++)
            runs += atomic_load(&sk->loops[c].shared[i].runs);
        for (unsigned i = 0; i < SIGNAL_BHS; i++)
            runs += atomic_load(&sk->loops[c].signalled[i].runs);
    }
    return runs;
}

static bool
caught_up(Soak *sk)
{
    if (atomic_load(&sk->oneshots_run) != atomic_load(&sk->oneshots_sent))
        return false;
    for (unsigned c = 0; c < N_CONTEXTS; c++) {
        Loop *l = &sk->loops[c];

        if (atomic_load(&l->probe_sent_ns) != 0)
            return false;
        if (!gaio_test_seq_caught_up(l->shared, SHARED_BHS) ||
            !gaio_test_seq_caught_up(l->signalled, SIGNAL_BHS))
            return false;
    }
    return true;
}

/* Prints each BH behind its last schedule, or run more often than scheduled. */
static unsigned
report_losses(Soak *sk)
{
    unsigned losses = 0;

    for (unsigned c = 0; c < N_CONTEXTS; c++) {
        Loop *l = &sk->loops[c];

        for (unsigned i = 0; i < SHARED_BHS + SIGNAL_BHS; i++) {
            GaioTestSeqBH *s = i < SHARED_BHS ? &l->shared[i] : &l->signalled[i - SHARED_BHS];
            unsigned long scheduled = atomic_load(&s->scheduled);
            unsigned long seen = atomic_load(&s->seen);
            unsigned long runs = atomic_load(&s->runs);

            if (seen != scheduled || runs > scheduled) {
                fprintf(stderr,
                        "soak: LOSS: %s BH %s[%u]: %lu schedules, last run saw %lu, "
                        "%lu runs\n",
                        context_names[c], i < SHARED_BHS ? "shared" : "signalled",
                        i < SHARED_BHS ? i : i - SHARED_BHS, scheduled, seen, runs);
                losses++;
            }
        }
        if (atomic_load(&l->probe_sent_ns) != 0) {
            fprintf(stderr, "soak: LOSS: %s probe BH never ran\n", context_names[c]);
            losses++;
        }
    }
    if (atomic_load(&sk->oneshots_run) != atomic_load(&sk->oneshots_sent)) {
        fprintf(stderr, "soak: LOSS: %lu oneshots sent, %lu ran\n",
                (unsigned long)atomic_load(&sk->oneshots_sent),
                (unsigned long)atomic_load(&sk->oneshots_run));
        losses++;
    }
    return losses;
}

static void
print_header(void)
{
    printf("%8s %13s %13s %10s %10s %10s %12s %12s\n", "time", "schedules", "runs",
           "signals", "oneshots", "churned", "lat aio_poll", "lat gmain");
}

static void
print_counts(Soak *sk, double elapsed)
{
    printf("%7.1fs %13lu %13lu %10lu %10lu %10lu %10.3fms %10.3fms\n", elapsed,
           (unsigned long)atomic_load(&sk->schedules), total_runs(sk),
           (unsigned long)atomic_load(&sk->signals_handled),
           (unsigned long)atomic_load(&sk->oneshots_run),
           (unsigned long)atomic_load(&sk->churned),
           atomic_load(&sk->loops[0].probe_max_ns) / 1e6,
           atomic_load(&sk->loops[1].probe_max_ns) / 1e6);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    double duration = 0, interval = 5;
    int threads = 4;
    GOptionEntry entries[] = {
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
         "Run the workloads for SECONDS (required)", "SECONDS"},
        {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Producer threads (default 4)",
         "N"},
        {"interval", 'i', 0, G_OPTION_ARG_DOUBLE, &interval,
         "Print counts every SECONDS (default 5)", "SECONDS"},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) options =
        g_option_context_new("- run gaio's stress workloads for a while");
    g_autoptr(GError) error = NULL;
    Soak *sk;
    Worker workers[MAX_THREADS];
    GThread *owners[N_CONTEXTS], *producers[MAX_THREADS], *signaller, *churner, *prober;
    struct sigaction sa, old[SIGNAL_SLOTS];
    gint64 start, end, next_report, deadline;
    unsigned losses;
    double elapsed;

    g_option_context_add_main_entries(options, entries, NULL);
    g_option_context_set_description(
        options, "Producers, signal handlers, oneshots and create/delete churn on two "
                 "contexts (one run by aio_poll(), one by a GMainContext). Exit status: "
                 "0 if no loss was detected, 1 if one was, 2 on a usage error.");
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        fprintf(stderr, "soak: %s\n", error->message);
        return 2;
    }
    if (duration <= 0 || threads < 1 || threads > MAX_THREADS || interval <= 0) {
        fprintf(stderr,
                "soak: need --duration SECONDS > 0, 1 <= --threads <= %d and "
                "--interval > 0 (see --help)\n",
                MAX_THREADS);
        return 2;
    }
    if (SIGRTMIN + SIGNAL_SLOTS - 2 > SIGRTMAX) {
        fprintf(stderr, "soak: not enough real-time signals\n");
        return 1;
    }

    sk = g_new0(Soak, 1);
    sk->n_producers = (unsigned)threads;
    for (unsigned c = 0; c < N_CONTEXTS; c++)
        loop_init(&sk->loops[c], c == 1);
    atomic_store(&soak, sk);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupted polls return EINTR */
    for (unsigned slot = 0; slot < SIGNAL_SLOTS; slot++)
        sigaction(slot_signo(slot), &sa, &old[slot]);

    printf("soak: %.0f s, %d producer threads, 1 signaller, 1 churner, 1 probe; "
           "contexts run by aio_poll() and by a GMainContext\n",
           duration, threads);
    print_header();
    start = g_get_monotonic_time();
    end = start + (gint64)(duration * G_TIME_SPAN_SECOND);
    for (unsigned c = 0; c < N_CONTEXTS; c++) {
        owners[c] = g_thread_new("soak-owner", owner_thread, &sk->loops[c]);
        while (!atomic_load(&sk->loops[c].thread_known))
            sched_yield();
    }
    for (int i = 0; i < threads; i++) {
        workers[i] = (Worker){.sk = sk, .index = (unsigned)i};
        producers[i] = g_thread_new("soak-producer", producer_thread, &workers[i]);
    }
    while (atomic_load(&sk->producers_known) < (unsigned)threads)
        sched_yield();
    signaller = g_thread_new("soak-signaller", signaller_thread, sk);
    churner = g_thread_new("soak-churner", churn_thread, sk);
    prober = g_thread_new("soak-probe", probe_thread, sk);

    next_report = start + (gint64)(interval * G_TIME_SPAN_SECOND);
    for (;;) {
        gint64 now = g_get_monotonic_time();

        if (now >= end)
            break;
        if (now >= next_report) {
            print_counts(sk, (now - start) / 1e6);
            next_report += (gint64)(interval * G_TIME_SPAN_SECOND);
        }
        g_usleep(MIN(MIN(end, next_report) - now, 100 * 1000));
    }

    /* Stop the workers; the owners go on until everything caught up. */
    atomic_store(&sk->stop_workers, true);
    g_thread_join(signaller);
    g_thread_join(churner);
    g_thread_join(prober);
    atomic_store(&sk->stop_producers, true);
    for (int i = 0; i < threads; i++)
        g_thread_join(producers[i]);
    deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    while (!caught_up(sk) && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    elapsed = (g_get_monotonic_time() - start) / 1e6;
    losses = report_losses(sk);
    print_counts(sk, elapsed);

    for (unsigned c = 0; c < N_CONTEXTS; c++) {
        atomic_store(&sk->loops[c].stop, true);
        aio_notify(sk->loops[c].ctx);
        g_thread_join(owners[c]);
    }
    for (unsigned slot = 0; slot < SIGNAL_SLOTS; slot++)
        sigaction(slot_signo(slot), &old[slot], NULL);

    printf("soak: %.1f s: %lu schedules (%lu from signal handlers), %lu runs; "
           "%lu signals sent, %lu handled; %lu oneshots sent, %lu run; %lu BHs churned; "
           "owner iterations %lu (aio_poll) / %lu (GMainContext); max wake-up latency "
           "%.3f ms (aio_poll, %lu probes) / %.3f ms (GMainContext, %lu probes)\n",
           elapsed, (unsigned long)atomic_load(&sk->schedules),
           (unsigned long)atomic_load(&sk->signals_handled), total_runs(sk),
           (unsigned long)atomic_load(&sk->signals_sent),
           (unsigned long)atomic_load(&sk->signals_handled),
           (unsigned long)atomic_load(&sk->oneshots_sent),
           (unsigned long)atomic_load(&sk->oneshots_run),
           (unsigned long)atomic_load(&sk->churned),
           (unsigned long)atomic_load(&sk->loops[0].iterations),
           (unsigned long)atomic_load(&sk->loops[1].iterations),
           atomic_load(&sk->loops[0].probe_max_ns) / 1e6,
           (unsigned long)atomic_load(&sk->loops[0].probes),
           atomic_load(&sk->loops[1].probe_max_ns) / 1e6,
           (unsigned long)atomic_load(&sk->loops[1].probes));
    if (atomic_load(&sk->signals_sent) != atomic_load(&sk->signals_handled)) {
        fprintf(stderr, "soak: LOSS: signals sent and handled differ\n");
        losses++;
    }

    atomic_store(&soak, NULL);
    for (unsigned c = 0; c < N_CONTEXTS; c++)
        loop_clear(&sk->loops[c]);
    g_free(sk);
    if (losses) {
        printf("soak: %u loss(es) detected\n", losses);
        return 1;
    }
    printf("soak: no loss detected\n");
    return 0;
}
