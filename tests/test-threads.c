/* test-threads.c: bottom halves across threads (SPEC B2-B4, B10-B13, W1, C5).
 *
 * Thread coordination uses C11 atomics and spinning with sched_yield() only:
 * ThreadSanitizer cannot see GLib 2.74's futex-based GMutex/GCond, and a lost
 * wakeup must show as a hang (the watchdog of gaio_test_init() fails the test)
 * or as a timed-out wait that the test reports.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void
count_cb(void *opaque)
{
    atomic_fetch_add((atomic_uint *)opaque, 1);
}

static void
noop_cb(void *opaque)
{
    (void)opaque;
}

/* Pushes a BH onto the queue from this thread. Rescues a context stuck with
 * a pending BH it does not run (see test_schedule_racing_end_of_pass()), so
 * that a failed test can still tear down and report. */
static void
kick(AioContext *ctx)
{
    aio_bh_schedule_oneshot(ctx, noop_cb, NULL);
}

/* Waits for a BH run counted in @value; if it does not come within
 * GAIO_TEST_STUCK_PATIENCE, counts the round as stuck and kicks the context. */
static void
wait_or_kick(AioContext *ctx, atomic_uint *value, unsigned target, unsigned *stuck)
{
    if (!gaio_test_wait_within(value, target, gaio_test_stuck_patience_us)) {
        gaio_test_note_stuck(stuck);
        kick(ctx);
        gaio_test_wait_for_at_least(value, target);
    }
}

/* Owner side: blocking aio_poll() until *@value reaches @target. If it keeps
 * returning without progress for GAIO_TEST_STUCK_PATIENCE, with a BH pending that it does
 * not run, the round counts in @stuck and the context is kicked. */
static void
poll_until(AioContext *ctx, atomic_uint *value, unsigned target, unsigned *stuck)
{
    gint64 deadline = g_get_monotonic_time() + gaio_test_stuck_patience();

    while (atomic_load(value) < target) {
        if (aio_poll(ctx, true)) {
            deadline = g_get_monotonic_time() + gaio_test_stuck_patience();
        } else if (g_get_monotonic_time() > deadline) {
            gaio_test_note_stuck(stuck);
            kick(ctx);
            deadline = G_MAXINT64;
        }
    }
}

/* Runs non-blocking passes until one makes no progress, so that every BH that
 * was pending ran and deleted BHs are reclaimed. Context thread only. */
static void
drain(AioContext *ctx)
{
    while (aio_poll(ctx, false))
        ;
}

/* ------------------------------------------------------------------------ */
/* B3 / B2 / B12: no schedule lost under stress                            */
/* ------------------------------------------------------------------------ */

enum { STRESS_BHS = 64, STRESS_PRODUCERS = 3 };

typedef struct {
    GaioTestSeqBH bhs[STRESS_BHS];
    unsigned iterations; /* per producer */
    atomic_uint producers_done;
    atomic_ulong schedules;
} Stress;

typedef struct {
    Stress *stress;
    guint32 seed;
} StressProducer;

static gpointer
stress_producer(gpointer data)
{
    StressProducer *p = data;
    Stress *st = p->stress;
    guint32 x = p->seed * 2654435761u | 1;

    for (unsigned i = 0; i < st->iterations; i++)
        gaio_test_seq_schedule(&st->bhs[gaio_test_xorshift32(&x) % STRESS_BHS]);
    atomic_fetch_add(&st->schedules, st->iterations + 1);
    /* Announce the end first, then schedule once more: the run that must
     * follow that last schedule (B3) wakes the owner to see us done. */
    atomic_fetch_add(&st->producers_done, 1);
    gaio_test_seq_schedule(&st->bhs[p->seed % STRESS_BHS]);
    return NULL;
}

static void
test_stress_no_schedule_lost(gconstpointer data)
{
    bool use_gmain = GPOINTER_TO_INT(data);
    AioContext *ctx = gaio_test_context_new();
    GMainContext *mc = NULL;
    GSource *source = NULL;
    Stress *st = g_new0(Stress, 1);
    StressProducer producers[STRESS_PRODUCERS];
    GThread *threads[STRESS_PRODUCERS];
    unsigned long iterations = 0, runs = 0;
    gint64 deadline = 0;
    bool stuck = false;

    g_test_summary("B3: a schedule made at any time, from another thread too, is "
                   "followed by a run of the callback that starts after the schedule. "
                   "B2: schedules of a pending BH coalesce. B12: from any thread.");

    if (use_gmain) {
        mc = g_main_context_new();
        source = aio_get_g_source(ctx);
        g_source_attach(source, mc);
    }
    st->iterations = gaio_test_scale(100000);
    for (unsigned i = 0; i < STRESS_BHS; i++)
        st->bhs[i].bh = aio_bh_new(ctx, gaio_test_seq_cb, &st->bhs[i]);

    for (unsigned i = 0; i < STRESS_PRODUCERS; i++) {
        producers[i] = (StressProducer){.stress = st, .seed = i + 1};
        threads[i] = g_thread_new("stress-producer", stress_producer, &producers[i]);
    }
    /* Sleeping is only ever ended by a BH becoming pending (W1). */
    while (atomic_load(&st->producers_done) < STRESS_PRODUCERS || !gaio_test_seq_caught_up(st->bhs, STRESS_BHS)) {
        if (use_gmain)
            g_main_context_iteration(mc, TRUE);
        else
            aio_poll(ctx, true);
        iterations++;
        /* Awake (or it would hang here) but not running what is pending. */
        if (deadline == 0 && atomic_load(&st->producers_done) == STRESS_PRODUCERS)
            deadline = g_get_monotonic_time() + gaio_test_stuck_patience();
        if (deadline != 0 && !stuck && g_get_monotonic_time() > deadline) {
            stuck = true;
            kick(ctx);
        }
    }
    for (unsigned i = 0; i < STRESS_PRODUCERS; i++)
        g_thread_join(threads[i]);
    if (use_gmain)
        while (g_main_context_iteration(mc, FALSE))
            ;
    else
        drain(ctx);

    for (unsigned i = 0; i < STRESS_BHS; i++) {
        GaioTestSeqBH *s = &st->bhs[i];
        unsigned scheduled = atomic_load(&s->scheduled);

        /* The last run started after the last schedule. */
        g_assert_cmpuint(atomic_load(&s->seen), ==, scheduled);
        g_assert_cmpuint(atomic_load(&s->runs), <=, scheduled);
        if (scheduled > 0)
            g_assert_cmpuint(atomic_load(&s->runs), >=, 1);
        runs += atomic_load(&s->runs);
    }
    g_assert_cmpuint(runs, <=, atomic_load(&st->schedules));
    g_test_message("%lu schedules, %lu runs, %lu owner iterations",
                   (unsigned long)atomic_load(&st->schedules), runs, iterations);
    if (stuck)
        g_test_fail_printf("pending BHs did not run within %d s of the producers' end "
                           "although the owner kept iterating",
                           (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));

    for (unsigned i = 0; i < STRESS_BHS; i++)
        qemu_bh_delete(st->bhs[i].bh);
    if (use_gmain) {
        while (g_main_context_iteration(mc, FALSE))
            ;
        g_source_destroy(source);
        g_source_unref(source);
        g_main_context_unref(mc);
    } else {
        drain(ctx);
    }
    aio_context_unref(ctx);
    g_free(st);
}

/* ------------------------------------------------------------------------ */
/* B11: oneshots from many threads                                          */
/* ------------------------------------------------------------------------ */

enum { ONESHOT_THREADS = 4 };

typedef struct {
    AioContext *ctx;
    unsigned per_thread;
    atomic_uint runs;
} Oneshots;

static gpointer
oneshot_producer(gpointer data)
{
    Oneshots *o = data;

    for (unsigned i = 0; i < o->per_thread; i++)
        aio_bh_schedule_oneshot(o->ctx, count_cb, &o->runs);
    return NULL;
}

static void
test_oneshot_from_many_threads(void)
{
    Oneshots o = {.ctx = gaio_test_context_new(), .per_thread = gaio_test_scale(25000)};
    unsigned total = o.per_thread * ONESHOT_THREADS, stuck = 0;
    GThread *threads[ONESHOT_THREADS];

    g_test_summary("B11: aio_bh_schedule_oneshot() from any thread runs the callback "
                   "once and frees the BH. B3: none is lost.");

    atomic_init(&o.runs, 0);
    for (unsigned i = 0; i < ONESHOT_THREADS; i++)
        threads[i] = g_thread_new("oneshot-producer", oneshot_producer, &o);
    poll_until(o.ctx, &o.runs, total, &stuck);
    for (unsigned i = 0; i < ONESHOT_THREADS; i++)
        g_thread_join(threads[i]);
    drain(o.ctx);
    g_assert_false(aio_poll(o.ctx, false));
    g_assert_cmpuint(atomic_load(&o.runs), ==, total);
    aio_context_unref(o.ctx);
    if (stuck)
        g_test_fail_printf("B3: pending oneshots did not run for %d s although the owner "
                           "kept polling", (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

/* ------------------------------------------------------------------------ */
/* B4: FIFO across threads                                                  */
/* ------------------------------------------------------------------------ */

enum { FIFO_BATCH = 4 };

typedef struct Fifo Fifo;

typedef struct {
    Fifo *fifo;
    QEMUBH *bh;
    unsigned index;
} FifoSlot;

struct Fifo {
    AioContext *ctx;
    unsigned rounds;
    FifoSlot slots[FIFO_BATCH];
    /* Owner only: the order of this round's runs. */
    unsigned order[FIFO_BATCH];
    atomic_uint ran;
    atomic_uint rounds_done; /* owner: round checked, slots free again */
    atomic_uint first_scheduled; /* cross-thread mode: slot 0 scheduled */
};

static void
fifo_cb(void *opaque)
{
    FifoSlot *slot = opaque;
    Fifo *f = slot->fifo;

    unsigned ran = atomic_load(&f->ran);

    g_assert_cmpuint(ran, <, FIFO_BATCH);
    f->order[ran] = slot->index;
    atomic_store(&f->ran, ran + 1);
    qemu_bh_delete(slot->bh); /* B10: legal in its own callback */
}

static void
fifo_make_and_schedule(Fifo *f, unsigned index)
{
    FifoSlot *slot = &f->slots[index];

    slot->fifo = f;
    slot->index = index;
    slot->bh = aio_bh_new(f->ctx, fifo_cb, slot);
    qemu_bh_schedule(slot->bh);
}

/* Same-thread mode: schedules the whole batch, in index order. */
static gpointer
fifo_producer(gpointer data)
{
    Fifo *f = data;

    for (unsigned r = 0; r < f->rounds; r++) {
        gaio_test_wait_for_at_least(&f->rounds_done, r);
        for (unsigned i = 0; i < FIFO_BATCH; i++)
            fifo_make_and_schedule(f, i);
    }
    return NULL;
}

/* Cross-thread mode: this one schedules slot 0 then lets the other go on. */
static gpointer
fifo_first_producer(gpointer data)
{
    Fifo *f = data;

    for (unsigned r = 0; r < f->rounds; r++) {
        gaio_test_wait_for_at_least(&f->rounds_done, r);
        fifo_make_and_schedule(f, 0);
        atomic_store(&f->first_scheduled, r + 1);
    }
    return NULL;
}

static gpointer
fifo_second_producer(gpointer data)
{
    Fifo *f = data;

    for (unsigned r = 0; r < f->rounds; r++) {
        /* Ordered after the first producer's schedule of this round. */
        gaio_test_wait_for_at_least(&f->first_scheduled, r + 1);
        for (unsigned i = 1; i < FIFO_BATCH; i++)
            fifo_make_and_schedule(f, i);
    }
    return NULL;
}

static void
test_fifo_across_threads(gconstpointer data)
{
    bool two_producers = GPOINTER_TO_INT(data);
    Fifo f = {.ctx = gaio_test_context_new(), .rounds = gaio_test_scale(5000)};
    GThread *a, *b = NULL;
    unsigned stuck = 0;

    g_test_summary("B4: BHs run in the order in which they became pending; "
                   "schedule(A) before schedule(B), in one thread or ordered "
                   "across threads, means A runs first.");

    atomic_init(&f.ran, 0);
    atomic_init(&f.rounds_done, 0);
    atomic_init(&f.first_scheduled, 0);
    if (two_producers) {
        a = g_thread_new("fifo-first", fifo_first_producer, &f);
        b = g_thread_new("fifo-second", fifo_second_producer, &f);
    } else {
        a = g_thread_new("fifo-producer", fifo_producer, &f);
    }
    for (unsigned r = 0; r < f.rounds; r++) {
        poll_until(f.ctx, &f.ran, FIFO_BATCH, &stuck);
        for (unsigned i = 0; i < FIFO_BATCH; i++)
            g_assert_cmpuint(f.order[i], ==, i);
        atomic_store(&f.ran, 0);
        atomic_store(&f.rounds_done, r + 1);
    }
    g_thread_join(a);
    if (b != NULL)
        g_thread_join(b);
    drain(f.ctx);
    g_assert_cmpuint(atomic_load(&f.ran), ==, 0);
    aio_context_unref(f.ctx);
    if (stuck)
        g_test_fail_printf("B3: in %u rounds pending BHs did not run for %d s although "
                           "the owner kept polling",
                           stuck, (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

/* ------------------------------------------------------------------------ */
/* B10 / B12: delete from other threads while the owner polls               */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx;
    atomic_bool stop;
    atomic_uint polls;
    pid_t tid;
    atomic_bool started;
} Owner;

/* An owner thread: blocking aio_poll() until told to stop (stop, then
 * aio_notify()). */
static gpointer
owner_thread(gpointer data)
{
    Owner *o = data;

    o->tid = gaio_test_tid();
    atomic_store(&o->started, true);
    while (!atomic_load(&o->stop)) {
        aio_poll(o->ctx, true);
        atomic_fetch_add(&o->polls, 1);
    }
    return NULL;
}

static GThread *
owner_start(Owner *o, AioContext *ctx)
{
    GThread *thread;

    o->ctx = ctx;
    atomic_init(&o->stop, false);
    atomic_init(&o->polls, 0);
    atomic_init(&o->started, false);
    thread = g_thread_new("owner", owner_thread, o);
    while (!atomic_load(&o->started))
        sched_yield();
    return thread;
}

static void
owner_stop(Owner *o, GThread *thread)
{
    atomic_store(&o->stop, true);
    aio_notify(o->ctx);
    g_thread_join(thread);
}

static void
spin_a_little(guint32 *x)
{
    unsigned n = gaio_test_xorshift32(x) % 64;

    for (volatile unsigned i = 0; i < n; i++)
        ;
}

static void
test_delete_pending_from_other_thread(void)
{
    AioContext *ctx = gaio_test_context_new();
    Owner owner;
    GThread *thread = owner_start(&owner, ctx);
    unsigned n = gaio_test_scale(50000);
    atomic_uint runs;
    guint32 x = 12345;

    g_test_summary("B10: qemu_bh_delete() may be called from any thread, while the "
                   "BH is pending and the owner polls; the context reclaims it.");

    atomic_init(&runs, 0);
    for (unsigned i = 0; i < n; i++) {
        QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

        qemu_bh_schedule(bh);
        spin_a_little(&x);
        qemu_bh_delete(bh);
    }
    owner_stop(&owner, thread);
    drain(ctx);
    g_assert_cmpuint(atomic_load(&runs), <=, n);
    g_test_message("%u of %u deleted pending BHs ran first", atomic_load(&runs), n);
    aio_context_unref(ctx);
}

typedef struct {
    QEMUBH *bh;
    atomic_uint entered;  /* callback runs started */
    atomic_uint released; /* deleter: deleted, callback may return */
    atomic_bool reschedule_self;
} RunningDelete;

static void
running_delete_cb(void *opaque)
{
    RunningDelete *rd = opaque;
    unsigned round = atomic_load(&rd->entered) + 1;

    if (atomic_load(&rd->reschedule_self))
        qemu_bh_schedule(rd->bh);
    atomic_store(&rd->entered, round);
    /* Another thread deletes this BH while its callback runs. */
    gaio_test_wait_for_at_least(&rd->released, round);
}

static void
test_delete_running_from_other_thread(void)
{
    AioContext *ctx = gaio_test_context_new();
    Owner owner;
    GThread *thread = owner_start(&owner, ctx);
    unsigned rounds = gaio_test_scale(2000);
    RunningDelete rd;
    unsigned stuck = 0;

    g_test_summary("B10: qemu_bh_delete() from another thread while the callback "
                   "runs (and after it rescheduled itself): no crash, the BH does "
                   "not run again, its memory is reclaimed.");

    atomic_init(&rd.entered, 0);
    atomic_init(&rd.released, 0);
    atomic_init(&rd.reschedule_self, false);
    for (unsigned r = 0; r < rounds; r++) {
        atomic_store(&rd.reschedule_self, r % 2 == 1);
        rd.bh = aio_bh_new(ctx, running_delete_cb, &rd);
        qemu_bh_schedule(rd.bh);
        wait_or_kick(ctx, &rd.entered, r + 1, &stuck);
        qemu_bh_delete(rd.bh);
        atomic_store(&rd.released, r + 1);
    }
    owner_stop(&owner, thread);
    drain(ctx);
    /* Each BH ran exactly once: the self-reschedule was cancelled by delete. */
    g_assert_cmpuint(atomic_load(&rd.entered), ==, rounds);
    aio_context_unref(ctx);
    if (stuck)
        g_test_fail_printf("B3: in %u of %u rounds the BH scheduled from this thread "
                           "did not run within %d s although the owner kept polling "
                           "(see /threads/B3/schedule-racing-with-end-of-pass-runs)",
                           stuck, rounds, (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

/* The owner's pass pops the last node of the queue (pushing the queue's stub
 * behind it) while another thread pushes a BH: that BH must still run. Here
 * the last node is a BH deleted from this thread during its callback; the
 * next BH is scheduled right as the callback returns. */
typedef struct {
    atomic_uint held; /* hold_cb entered, per round */
    atomic_uint go;   /* hold_cb may return */
    atomic_uint runs;
} RacePass;

static void
race_hold_cb(void *opaque)
{
    RacePass *rp = opaque;
    unsigned round = atomic_load(&rp->held) + 1;

    atomic_store(&rp->held, round);
    gaio_test_wait_for_at_least(&rp->go, round);
}

static void
test_schedule_racing_end_of_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    Owner owner;
    GThread *thread = owner_start(&owner, ctx);
    unsigned rounds = gaio_test_scale(20000), stuck = 0;
    RacePass rp;
    guint32 x = 2024;

    g_test_summary("B3, B5: a BH scheduled from another thread while the owner's "
                   "pass takes the last BH off the queue runs (in the next pass, "
                   "without sleeping); the owner does not spin with it pending.");

    atomic_init(&rp.held, 0);
    atomic_init(&rp.go, 0);
    atomic_init(&rp.runs, 0);
    for (unsigned r = 1; r <= rounds && stuck == 0; r++) {
        QEMUBH *hold = aio_bh_new(ctx, race_hold_cb, &rp);
        QEMUBH *bh;

        qemu_bh_schedule(hold);
        wait_or_kick(ctx, &rp.held, r, &stuck);
        /* Queued again, as garbage the owner's next pass pops last. */
        qemu_bh_delete(hold);
        bh = aio_bh_new(ctx, count_cb, &rp.runs);
        atomic_store(&rp.go, r);
        /* Sweep the moment of the push across the owner's end of pass. */
        for (volatile unsigned i = 0, n = gaio_test_xorshift32(&x) % 512; i < n; i++)
            ;
        qemu_bh_schedule(bh);
        wait_or_kick(ctx, &rp.runs, r, &stuck);
        qemu_bh_delete(bh);
    }
    owner_stop(&owner, thread);
    drain(ctx);
    if (stuck == 0)
        g_assert_cmpuint(atomic_load(&rp.runs), ==, rounds);
    aio_context_unref(ctx);
    if (stuck)
        g_test_fail_printf("round %u: a BH scheduled from this thread stayed pending "
                           "for %d s while the owner kept running aio_poll() without "
                           "sleeping; it ran only after another BH was pushed",
                           atomic_load(&rp.runs),
                           (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

enum { CHURNERS = 3 };

typedef struct {
    AioContext *ctx;
    unsigned iterations;
    guint32 seed;
    atomic_uint *runs;
    atomic_uint *oneshots;
    atomic_uint *oneshot_runs;
} Churner;

static gpointer
churner_thread(gpointer data)
{
    Churner *c = data;
    guint32 x = c->seed * 2654435761u | 1;

    for (unsigned i = 0; i < c->iterations; i++) {
        QEMUBH *bh = aio_bh_new_full(c->ctx, count_cb, c->runs, "churn");

        switch (gaio_test_xorshift32(&x) % 6) {
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
            spin_a_little(&x);
            qemu_bh_schedule(bh);
            break;
        case 4:
            atomic_fetch_add(c->oneshots, 1);
            aio_bh_schedule_oneshot(c->ctx, count_cb, c->oneshot_runs);
            break;
        default:
            break;
        }
        spin_a_little(&x);
        qemu_bh_delete(bh);
    }
    return NULL;
}

static void
test_create_delete_churn(void)
{
    AioContext *ctx = gaio_test_context_new();
    Owner owner;
    GThread *thread = owner_start(&owner, ctx);
    Churner churners[CHURNERS];
    GThread *threads[CHURNERS];
    atomic_uint runs, oneshots, oneshot_runs;

    g_test_summary("B10, B12: BHs made, scheduled, cancelled and deleted by several "
                   "threads at once while the owner polls: no crash, no leak; every "
                   "oneshot runs once.");

    atomic_init(&runs, 0);
    atomic_init(&oneshots, 0);
    atomic_init(&oneshot_runs, 0);
    for (unsigned i = 0; i < CHURNERS; i++) {
        churners[i] = (Churner){.ctx = ctx,
                                .iterations = gaio_test_scale(30000),
                                .seed = i + 7,
                                .runs = &runs,
                                .oneshots = &oneshots,
                                .oneshot_runs = &oneshot_runs};
        threads[i] = g_thread_new("churner", churner_thread, &churners[i]);
    }
    for (unsigned i = 0; i < CHURNERS; i++)
        g_thread_join(threads[i]);
    owner_stop(&owner, thread);
    /* This thread runs the context from now on (C5: one at a time). */
    drain(ctx);
    g_assert_cmpuint(atomic_load(&oneshot_runs), ==, atomic_load(&oneshots));
    g_test_message("%u churned BHs ran, %u oneshots", atomic_load(&runs),
                   atomic_load(&oneshots));
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* B3: a schedule is not stranded behind other threads' non-waking pushes   */
/* ------------------------------------------------------------------------ */

/* qemu_bh_delete() and qemu_bh_schedule_idle() push a BH onto the queue
 * without waking the loop. The queue's push leaves a short gap between its
 * exchange and its link (notes in SPEC); a normal schedule that lands behind
 * such a gap must still be run without any further activity (B3, W1). */

enum { STRANDERS = 3, STRANDER_PUSHES_PER_ROUND = 2000 };

typedef struct {
    AioContext *ctx;
    bool idle;
    atomic_bool stop;
    atomic_uint round; /* the checker's round */
    atomic_ulong pushes;
} Strander;

static gpointer
strander_thread(gpointer data)
{
    Strander *s = data;
    unsigned long n = 0;

    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        unsigned round = atomic_load(&s->round);

        /* A bounded batch per round keeps the garbage the owner frees per
         * pass small, so rounds are quick and many. */
        for (unsigned i = 0; i < STRANDER_PUSHES_PER_ROUND; i++) {
            QEMUBH *bh = aio_bh_new_full(s->ctx, noop_cb, NULL, "strander");

            if (s->idle)
                qemu_bh_schedule_idle(bh); /* pushes, no wakeup */
            qemu_bh_delete(bh);            /* pushes if not queued, no wakeup */
        }
        n += STRANDER_PUSHES_PER_ROUND;
        while (atomic_load(&s->round) == round &&
               !atomic_load_explicit(&s->stop, memory_order_relaxed))
            sched_yield();
    }
    atomic_fetch_add(&s->pushes, n);
    return NULL;
}

/* True if @tid sleeps in poll at every look over @span microseconds. */
static bool
thread_keeps_sleeping(pid_t tid, gint64 span)
{
    gint64 end = g_get_monotonic_time() + span;

    while (g_get_monotonic_time() < end) {
        if (!gaio_test_thread_sleeps_in_poll(tid))
            return false;
        g_usleep(1000);
    }
    return true;
}

static void
test_not_stranded(gconstpointer data)
{
    AioContext *ctx = gaio_test_context_new();
    Owner owner;
    GThread *thread = owner_start(&owner, ctx);
    Strander s = {.ctx = ctx, .idle = GPOINTER_TO_INT(data)};
    GThread *threads[STRANDERS];
    atomic_uint runs;
    QEMUBH *bh;
    gint64 end = g_get_monotonic_time() + 3 * G_TIME_SPAN_SECOND;
    gint64 patience = G_TIME_SPAN_SECOND * gaio_test_slowdown();
    unsigned rounds = 0;
    bool stranded = false;

    g_test_summary("B3, W1: a BH scheduled from another thread runs without further "
                   "activity even while other threads push BHs without waking the "
                   "loop (qemu_bh_delete(), qemu_bh_schedule_idle()).");

    atomic_init(&runs, 0);
    atomic_init(&s.stop, false);
    atomic_init(&s.round, 0);
    atomic_init(&s.pushes, 0);
    bh = aio_bh_new(ctx, count_cb, &runs);
    for (unsigned i = 0; i < STRANDERS; i++)
        threads[i] = g_thread_new("strander", strander_thread, &s);

    while (g_get_monotonic_time() < end && !stranded) {
        gint64 deadline;

        qemu_bh_schedule(bh);
        rounds++;
        deadline = g_get_monotonic_time() + patience;
        while (atomic_load(&runs) < rounds) {
            if (g_get_monotonic_time() > deadline) {
                /* Pending for long: stranded if the owner sleeps on (no one
                 * else wakes it: the other threads wait for the next round). */
                if (thread_keeps_sleeping(owner.tid, 200 * 1000) &&
                    atomic_load(&runs) < rounds) {
                    stranded = true;
                    break;
                }
                deadline = g_get_monotonic_time() + patience;
            }
            sched_yield();
        }
        atomic_store(&s.round, rounds);
    }
    atomic_store(&s.stop, true);
    for (unsigned i = 0; i < STRANDERS; i++)
        g_thread_join(threads[i]);
    owner_stop(&owner, thread);
    drain(ctx);
    g_test_message("%u rounds, %lu non-waking pushes by other threads", rounds,
                   (unsigned long)atomic_load(&s.pushes));
    /* Failed, not aborted: the other tests of this binary still run. */
    if (stranded)
        g_test_fail_printf("round %u: a BH scheduled from another thread was still "
                           "pending after %" G_GINT64_FORMAT " ms, with the owner asleep "
                           "in aio_poll() all along; it ran only once aio_notify() woke "
                           "the owner for another reason",
                           rounds, patience / 1000 + 200);
    g_assert_cmpuint(atomic_load(&runs), ==, rounds);
    qemu_bh_delete(bh);
    drain(ctx);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* W1: cross-thread wakeups, ping-pong                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx;
    QEMUBH *bh;
    unsigned rounds;
    pid_t owner_tid;
    atomic_uint round_started; /* owner: waiting for round r */
    atomic_uint round_sent;    /* waker: round r's notify is under way */
    atomic_uint runs;
} PingPong;

static bool
ping_pong_round_uses_bh(unsigned r)
{
    return r % 2 == 0;
}

static bool
ping_pong_round_waits_for_sleep(unsigned r)
{
    return (r / 2) % 2 == 1;
}

static gpointer
ping_pong_waker(gpointer data)
{
    PingPong *pp = data;

    for (unsigned r = 1; r <= pp->rounds; r++) {
        gaio_test_wait_for_at_least(&pp->round_started, r);
        /* Half the rounds race with the owner going to sleep, half wake an
         * owner known to sleep in ppoll(). */
        if (ping_pong_round_waits_for_sleep(r))
            gaio_test_wait_until_sleeping(pp->owner_tid);
        if (ping_pong_round_uses_bh(r)) {
            qemu_bh_schedule(pp->bh);
        } else {
            /* Published before the notify: an owner woken by it sees it. */
            atomic_store(&pp->round_sent, r);
            aio_notify(pp->ctx);
        }
    }
    return NULL;
}

static void
test_cross_thread_wakeup_ping_pong(void)
{
    PingPong pp = {.ctx = gaio_test_context_new(), .rounds = gaio_test_scale(2000)};
    GThread *waker;
    unsigned spurious = 0, stuck = 0;

    g_test_summary("W1: aio_notify() from another thread wakes an owner asleep in "
                   "aio_poll(), which returns false (P2); qemu_bh_schedule() from "
                   "another thread wakes it and the BH runs (true). No wakeup is lost.");

    pp.owner_tid = gaio_test_tid();
    atomic_init(&pp.round_started, 0);
    atomic_init(&pp.round_sent, 0);
    atomic_init(&pp.runs, 0);
    pp.bh = aio_bh_new(pp.ctx, count_cb, &pp.runs);
    waker = g_thread_new("waker", ping_pong_waker, &pp);

    for (unsigned r = 1; r <= pp.rounds; r++) {
        atomic_store(&pp.round_started, r);
        if (ping_pong_round_uses_bh(r)) {
            unsigned before = atomic_load(&pp.runs);
            gint64 deadline = g_get_monotonic_time() + gaio_test_stuck_patience();

            for (;;) {
                bool progress = aio_poll(pp.ctx, true);

                if (atomic_load(&pp.runs) > before) {
                    g_assert_true(progress);
                    break;
                }
                /* A wakeup left over from an earlier round (P2). */
                g_assert_false(progress);
                spurious++;
                if (g_get_monotonic_time() > deadline) {
                    /* Awake but not running it: count, unstick, go on. */
                    gaio_test_note_stuck(&stuck);
                    kick(pp.ctx);
                    deadline = G_MAXINT64;
                }
            }
            g_assert_cmpuint(atomic_load(&pp.runs), ==, before + 1);
        } else {
            do {
                g_assert_false(aio_poll(pp.ctx, true));
            } while (atomic_load(&pp.round_sent) < r);
        }
    }
    g_thread_join(waker);
    g_assert_cmpuint(atomic_load(&pp.runs), ==, pp.rounds / 2);
    g_test_message("%u rounds, %u spurious returns", pp.rounds, spurious);
    qemu_bh_delete(pp.bh);
    drain(pp.ctx);
    aio_context_unref(pp.ctx);
    if (stuck)
        g_test_fail_printf("%u rounds: the scheduled BH stayed pending while aio_poll() "
                           "kept returning false", stuck);
}

/* ------------------------------------------------------------------------ */
/* B13: no system call unless the context's thread is asleep                */
/* ------------------------------------------------------------------------ */

enum { SYSCALL_BHS = 10000 };

typedef struct {
    AioContext *ctx;
    QEMUBH **bhs;
    atomic_uint runs;
    long long writes; /* measured by the producer */
    atomic_bool done;
} Syscalls;

static gpointer
syscalls_producer(gpointer data)
{
    Syscalls *sc = data;
    long long before = gaio_test_syscw();

    /* Normal and idle schedules alike (B7: an idle one too costs no
     * system call while the thread is awake). */
    for (unsigned i = 0; i < SYSCALL_BHS; i++)
        if (i % 2 == 0)
            qemu_bh_schedule(sc->bhs[i]);
        else
            qemu_bh_schedule_idle(sc->bhs[i]);
    sc->writes = gaio_test_syscw() - before;
    atomic_store(&sc->done, true);
    return NULL;
}

static void
syscalls_setup(Syscalls *sc)
{
    sc->ctx = gaio_test_context_new();
    sc->bhs = g_new(QEMUBH *, SYSCALL_BHS);
    atomic_init(&sc->runs, 0);
    atomic_init(&sc->done, false);
    sc->writes = -1;
    for (unsigned i = 0; i < SYSCALL_BHS; i++)
        sc->bhs[i] = aio_bh_new(sc->ctx, count_cb, &sc->runs);
}

static void
syscalls_teardown(Syscalls *sc)
{
    for (unsigned i = 0; i < SYSCALL_BHS; i++)
        qemu_bh_delete(sc->bhs[i]);
    drain(sc->ctx);
    g_free(sc->bhs);
    aio_context_unref(sc->ctx);
}

static bool
syscalls_can_count(void)
{
    (void)gaio_test_syscw(); /* fails the test if the counter is missing */
    if (gaio_test_running_on_valgrind()) {
        g_test_skip("valgrind's scheduler lock writes a pipe: syscall counts are noise");
        return false;
    }
    return true;
}

static void
test_no_syscall_while_owner_awake(gconstpointer data)
{
    bool owner_polls = GPOINTER_TO_INT(data);
    Syscalls sc;
    QEMUBH *warmup;
    atomic_uint warmup_runs;
    GThread *producer;

    g_test_summary("B13/B7: scheduling, normal or idle, makes no system call unless "
                   "the context's thread is asleep or about to sleep (W1: a notify "
                   "costs no system call when the thread is awake).");
    if (!syscalls_can_count())
        return;

    syscalls_setup(&sc);
    /* Go through a blocking aio_poll() once, so notify_me was armed and
     * disarmed: the owner is now awake, busy elsewhere. */
    atomic_init(&warmup_runs, 0);
    warmup = aio_bh_new(sc.ctx, count_cb, &warmup_runs);
    qemu_bh_schedule(warmup);
    g_assert_true(aio_poll(sc.ctx, true));
    g_assert_cmpuint(atomic_load(&warmup_runs), ==, 1);

    producer = g_thread_new("producer", syscalls_producer, &sc);
    /* Busy: spinning, or running non-blocking passes (which never sleep). */
    while (!atomic_load(&sc.done))
        if (owner_polls)
            aio_poll(sc.ctx, false);
    g_thread_join(producer);
    g_assert_cmpint(sc.writes, ==, 0);

    drain(sc.ctx);
    g_assert_cmpuint(atomic_load(&sc.runs), ==, SYSCALL_BHS);
    qemu_bh_delete(warmup);
    syscalls_teardown(&sc);
}

static void
test_few_syscalls_while_owner_asleep(void)
{
    Syscalls sc;
    Owner owner;
    GThread *thread;
    unsigned polls_before, polls_after;
    long long writes;
    unsigned stuck = 0;

    g_test_summary("B13, W1: a burst of schedules while the owner sleeps costs at most "
                   "one eventfd write per time the owner went to sleep (plus one): "
                   "each write needs `notified` false again, which only the owner's "
                   "accept (once per aio_poll()) does.");
    if (!syscalls_can_count())
        return;

    syscalls_setup(&sc);
    thread = owner_start(&owner, sc.ctx);
    gaio_test_wait_until_sleeping(owner.tid);
    polls_before = atomic_load(&owner.polls);
    writes = gaio_test_syscw();
    for (unsigned i = 0; i < SYSCALL_BHS; i++)
        qemu_bh_schedule(sc.bhs[i]);
    wait_or_kick(sc.ctx, &sc.runs, SYSCALL_BHS, &stuck);
    /* Asleep again: every aio_poll() that accepted a notify has returned. */
    gaio_test_wait_until_sleeping(owner.tid);
    writes = gaio_test_syscw() - writes;
    polls_after = atomic_load(&owner.polls);
    g_test_message("%d schedules: %lld writes, %u owner wakeups", SYSCALL_BHS, writes,
                   polls_after - polls_before);
    if (stuck) {
        owner_stop(&owner, thread);
        syscalls_teardown(&sc);
        g_test_fail_printf("B3: the burst's BHs did not all run within %d s",
                           (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
        return;
    }
    g_assert_cmpint(writes, >=, 1);
    g_assert_cmpint(writes, <=, (long long)(polls_after - polls_before) + 1);

    owner_stop(&owner, thread);
    syscalls_teardown(&sc);
}

/* ------------------------------------------------------------------------ */
/* C5: one thread at a time runs a context                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx;
    pid_t tid;
    atomic_bool started;
    atomic_uint runs;      /* of the counted BH */
    atomic_uint held;      /* hold_cb entered */
    atomic_bool release;   /* hold_cb may return */
} Exclusive;

static gpointer
exclusive_owner(gpointer data)
{
    Exclusive *e = data;

    e->tid = gaio_test_tid();
    atomic_store(&e->started, true);
    while (atomic_load(&e->runs) == 0)
        aio_poll(e->ctx, true);
    return NULL;
}

static void
hold_cb(void *opaque)
{
    Exclusive *e = opaque;

    atomic_fetch_add(&e->held, 1);
    while (!atomic_load(&e->release))
        sched_yield();
}

#define ALREADY_RUNNING "*already running in another thread*"

/* From this (second) thread, every way into the context is refused. */
static void
assert_entry_refused(AioContext *ctx)
{
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, ALREADY_RUNNING);
    g_assert_false(aio_poll(ctx, false));
    g_test_assert_expected_messages();

    /* Must not sleep either: it returns at once. */
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, ALREADY_RUNNING);
    g_assert_false(aio_poll(ctx, true));
    g_test_assert_expected_messages();

    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, ALREADY_RUNNING);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    g_test_assert_expected_messages();
}

static void
test_second_thread_refused_while_first_sleeps(void)
{
    Exclusive e = {.ctx = gaio_test_context_new()};
    QEMUBH *bh;
    GThread *thread;

    g_test_summary("C5: while one thread sleeps in aio_poll(), a second thread "
                   "entering aio_poll() gets a critical and false; nothing runs twice.");

    atomic_init(&e.started, false);
    atomic_init(&e.runs, 0);
    bh = aio_bh_new(e.ctx, count_cb, &e.runs);
    thread = g_thread_new("first", exclusive_owner, &e);
    while (!atomic_load(&e.started))
        sched_yield();
    /* Fails rather than guesses if /proc cannot tell. */
    gaio_test_wait_until_sleeping(e.tid);
    assert_entry_refused(e.ctx);
    /* Only now: the first thread leaves aio_poll() once the BH ran. */
    qemu_bh_schedule(bh);
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&e.runs), ==, 1);

    /* Now free: this thread may run it, and nothing is left to run. */
    g_assert_false(aio_poll(e.ctx, false));
    g_assert_cmpuint(atomic_load(&e.runs), ==, 1);
    qemu_bh_delete(bh);
    drain(e.ctx);
    aio_context_unref(e.ctx);
}

static void
test_second_thread_refused_during_pass(void)
{
    Exclusive e = {.ctx = gaio_test_context_new()};
    QEMUBH *hold, *bh;
    GThread *thread;

    g_test_summary("C5: while one thread runs a pass (a callback in progress), a "
                   "second thread entering the context gets a critical and false, and "
                   "runs nothing: the pending BH runs once, in the first thread.");

    atomic_init(&e.started, false);
    atomic_init(&e.runs, 0);
    atomic_init(&e.held, 0);
    atomic_init(&e.release, false);
    hold = aio_bh_new(e.ctx, hold_cb, &e);
    bh = aio_bh_new(e.ctx, count_cb, &e.runs);
    qemu_bh_schedule(hold);
    thread = g_thread_new("first", exclusive_owner, &e);
    gaio_test_wait_for_at_least(&e.held, 1);
    /* Pending while the first thread is inside hold_cb. */
    qemu_bh_schedule(bh);
    assert_entry_refused(e.ctx);
    g_assert_cmpuint(atomic_load(&e.runs), ==, 0);
    atomic_store(&e.release, true);
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&e.runs), ==, 1);
    g_assert_cmpuint(atomic_load(&e.held), ==, 1);

    g_assert_false(aio_poll(e.ctx, false));
    g_assert_cmpuint(atomic_load(&e.runs), ==, 1);
    qemu_bh_delete(hold);
    qemu_bh_delete(bh);
    drain(e.ctx);
    aio_context_unref(e.ctx);
}

int
main(int argc, char **argv)
{
    /* A test that fails with g_test_fail_printf() (a stranded BH, reported
     * after a clean teardown) must not hide the others: keep going. Failed
     * assertions still abort. */
    char **args = g_new0(char *, argc + 2);
    int nargs = argc + 1;
    int ret;

    memcpy(args, argv, sizeof(char *) * argc);
    args[argc] = (char *)"--keep-going";
    gaio_test_init(&nargs, &args);

    g_test_add_data_func("/threads/B3/no-schedule-lost-under-stress/aio_poll",
                         GINT_TO_POINTER(false), test_stress_no_schedule_lost);
    g_test_add_data_func("/threads/B3/no-schedule-lost-under-stress/gmain",
                         GINT_TO_POINTER(true), test_stress_no_schedule_lost);
    g_test_add_func("/threads/B11/oneshots-from-many-threads-run-once-each",
                    test_oneshot_from_many_threads);
    g_test_add_data_func("/threads/B4/fifo-from-one-producer-thread",
                         GINT_TO_POINTER(false), test_fifo_across_threads);
    g_test_add_data_func("/threads/B4/fifo-ordered-across-two-threads",
                         GINT_TO_POINTER(true), test_fifo_across_threads);
    g_test_add_func("/threads/B10/delete-pending-bh-from-another-thread",
                    test_delete_pending_from_other_thread);
    g_test_add_func("/threads/B10/delete-running-bh-from-another-thread",
                    test_delete_running_from_other_thread);
    g_test_add_func("/threads/B3/schedule-racing-with-end-of-pass-runs",
                    test_schedule_racing_end_of_pass);
    g_test_add_func("/threads/B10/create-delete-churn-from-several-threads",
                    test_create_delete_churn);
    g_test_add_data_func("/threads/B3/not-stranded-behind-cross-thread-delete",
                         GINT_TO_POINTER(false), test_not_stranded);
    g_test_add_data_func("/threads/B3/not-stranded-behind-cross-thread-idle-schedule",
                         GINT_TO_POINTER(true), test_not_stranded);
    g_test_add_func("/threads/W1/cross-thread-wakeups-are-never-lost",
                    test_cross_thread_wakeup_ping_pong);
    g_test_add_data_func("/threads/B13/no-syscall-while-owner-busy",
                         GINT_TO_POINTER(false), test_no_syscall_while_owner_awake);
    g_test_add_data_func("/threads/B13/no-syscall-while-owner-polls-without-blocking",
                         GINT_TO_POINTER(true), test_no_syscall_while_owner_awake);
    g_test_add_func("/threads/B13/one-write-per-sleep-for-a-burst",
                    test_few_syscalls_while_owner_asleep);
    g_test_add_func("/threads/C5/second-thread-refused-while-first-sleeps",
                    test_second_thread_refused_while_first_sleeps);
    g_test_add_func("/threads/C5/second-thread-refused-during-pass",
                    test_second_thread_refused_during_pass);

    ret = g_test_run();
    g_free(args);
    return ret;
}
