/* test-timer-threads.c: timers armed and deleted from other threads (SPEC T4),
 * under aio_poll() and under g_main_context_iteration(). No timing assertion:
 * a wakeup that should happen is proved by a result the loop could not give
 * without it (or by the watchdog); a wakeup that should not happen, by the
 * first blocking iteration returning only with the earlier timer's run.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-loop.h"

#include <stdint.h>

#define US (G_GINT64_CONSTANT(1000))
#define MS (G_GINT64_CONSTANT(1000000))
#define SECOND (G_GINT64_CONSTANT(1000000000))

static gint64
now_ns(void)
{
    return aio_clock_get_ns(AIO_CLOCK_REALTIME);
}

/* A timer that counts its runs and checks it never ran early. `deadline` is
 * written before the timer is armed (by whichever thread arms it): the arming
 * orders it before the run. Atomic all the same, so that the test does not
 * depend on TSan seeing how gaio orders them. */
typedef struct {
    AioTimer timer;
    AioContext *ctx;
    atomic_llong deadline;
    atomic_uint runs;
} CountingTimer;

static void
counting_timer_cb(void *opaque)
{
    CountingTimer *c = opaque;

    g_assert_cmpint(now_ns(), >=, atomic_load(&c->deadline));
    g_assert_true(aio_context_get_current() == c->ctx);
    atomic_fetch_add(&c->runs, 1);
}

static void
counting_timer_init(CountingTimer *c, AioContext *ctx)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    atomic_init(&c->deadline, 0);
    atomic_init(&c->runs, 0);
    aio_timer_init(ctx, &c->timer, AIO_CLOCK_REALTIME, AIO_SCALE_NS, counting_timer_cb, c);
}

static void
counting_timer_arm(CountingTimer *c, gint64 deadline)
{
    atomic_store(&c->deadline, deadline);
    aio_timer_mod_ns(&c->timer, deadline);
}

/* A thread that waits until the test's thread sleeps, then arms a timer
 * `ahead` ns from its own clock reading (or deletes it, with `del`). */
typedef struct {
    CountingTimer *timer;
    pid_t sleeper;
    gint64 ahead;
    bool del;
    QEMUBH *then_schedule; /* after `then_after` ns, if not NULL */
    gint64 then_after;
    bool acted_while_asleep;
} Arming;

static gpointer
arming_thread(gpointer opaque)
{
    Arming *a = opaque;

    gaio_test_wait_until_sleeping(a->sleeper);
    if (a->del)
        aio_timer_del(&a->timer->timer);
    else
        counting_timer_arm(a->timer, now_ns() + a->ahead);
    a->acted_while_asleep = gaio_test_thread_sleeps_in_poll(a->sleeper);
    if (a->then_schedule != NULL) {
        g_usleep((gulong)(a->then_after / US));
        qemu_bh_schedule(a->then_schedule);
    }
    return NULL;
}

static GThread *
arming_start(Arming *a, CountingTimer *timer, gint64 ahead)
{
    memset(a, 0, sizeof *a);
    a->timer = timer;
    a->sleeper = gaio_test_tid();
    a->ahead = ahead;
    return g_thread_new("arming", arming_thread, a);
}

/* ------------------------------------------------------------------ T4 */

static void
test_arm_from_thread_wakes_blocked_loop(gconstpointer mode)
{
    GaioTestLoop loop;
    CountingTimer t;
    Arming arming;
    GThread *thread;
    int falses = 0;

    g_test_summary("T4: a timer armed by another thread, due at once, while the "
                   "context's thread sleeps with nothing else to wait for: the "
                   "blocking iteration returns true with the timer run. Then "
                   "armed 1 ms ahead: it runs, after at most one wakeup without "
                   "progress (P2).");

    gaio_test_loop_init(&loop, mode);
    counting_timer_init(&t, loop.ctx);
    gaio_test_loop_assert_no_progress(&loop);

    thread = arming_start(&arming, &t, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpuint(atomic_load(&t.runs), ==, 1);
    g_thread_join(thread);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    thread = arming_start(&arming, &t, 1 * MS);
    while (atomic_load(&t.runs) < 2) {
        if (!gaio_test_loop_iterate(&loop, true))
            falses++;
        g_assert_cmpint(falses, <=, 1);
    }
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&t.runs), ==, 2);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    aio_timer_deinit(&t.timer);
    gaio_test_loop_clear(&loop);
}

static void
test_earlier_deadline_from_thread_wakes_loop(gconstpointer mode)
{
    GaioTestLoop loop;
    CountingTimer later, earlier;
    Arming arming;
    GThread *thread;
    int iterations = 0;

    g_test_summary("T4: the context's thread sleeps for a timer 30 s ahead; "
                   "another thread arms one 1 ms ahead: it wakes the loop and "
                   "runs while the 30 s timer is still pending (without the "
                   "wakeup, the loop would sleep the 30 s and run both).");

    gaio_test_loop_init(&loop, mode);
    counting_timer_init(&later, loop.ctx);
    counting_timer_init(&earlier, loop.ctx);
    counting_timer_arm(&later, now_ns() + 30 * SECOND);
    gaio_test_loop_assert_no_progress(&loop);

    thread = arming_start(&arming, &earlier, 1 * MS);
    while (atomic_load(&earlier.runs) == 0) {
        gaio_test_loop_iterate(&loop, true);
        g_assert_cmpint(++iterations, <=, 3);
    }
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&later.runs), ==, 0);
    g_assert_true(aio_timer_pending(&later.timer));
    if (!arming.acted_while_asleep)
        g_test_message("the loop woke before the arming thread looked again");

    aio_timer_deinit(&later.timer);
    aio_timer_deinit(&earlier.timer);
    gaio_test_loop_clear(&loop);
}

static void
test_later_deadline_from_thread_does_not_wake(gconstpointer mode)
{
    const gint64 ahead = 200 * MS * gaio_test_slowdown();
    GaioTestLoop loop;
    CountingTimer first, later;
    Arming arming;
    GThread *thread;

    g_test_summary("T4: the context's thread sleeps for a timer 200 ms ahead; "
                   "another thread arms one an hour ahead meanwhile: the loop is "
                   "not woken early. Its first blocking iteration returns true "
                   "with the 200 ms timer run (a wakeup would have returned first "
                   "with nothing run), never before that deadline.");

    gaio_test_loop_init(&loop, mode);
    counting_timer_init(&first, loop.ctx);
    counting_timer_init(&later, loop.ctx);
    counting_timer_arm(&first, now_ns() + ahead);
    gaio_test_loop_assert_no_progress(&loop);

    thread = arming_start(&arming, &later, 3600 * SECOND);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpuint(atomic_load(&first.runs), ==, 1);
    g_assert_cmpint(now_ns(), >=, atomic_load(&first.deadline));
    g_thread_join(thread);
    if (!arming.acted_while_asleep)
        g_test_message("the later timer was armed after the loop woke: this run "
                       "did not test the no-wakeup case");
    g_assert_cmpuint(atomic_load(&later.runs), ==, 0);
    g_assert_true(aio_timer_pending(&later.timer));

    aio_timer_deinit(&first.timer);
    aio_timer_deinit(&later.timer);
    gaio_test_loop_clear(&loop);
}

static void
set_flag_cb(void *opaque)
{
    atomic_store((atomic_bool *)opaque, true);
}

static void
test_delete_from_thread_of_timer_it_sleeps_for(gconstpointer mode)
{
    GaioTestLoop loop;
    CountingTimer t;
    Arming arming;
    GThread *thread;
    atomic_bool bh_ran;
    QEMUBH *bh;
    int iterations = 0;

    g_test_summary("T4: another thread deletes the timer the context's thread "
                   "sleeps for: it never runs, and the loop keeps working (a BH "
                   "scheduled 100 ms later ends the wait).");

    gaio_test_loop_init(&loop, mode);
    counting_timer_init(&t, loop.ctx);
    atomic_init(&bh_ran, false);
    bh = aio_bh_new(loop.ctx, set_flag_cb, &bh_ran);
    /* Far enough that a slow arming thread cannot miss it; the BH, not the
     * old deadline, ends the wait. */
    counting_timer_arm(&t, now_ns() + 3600 * SECOND);
    gaio_test_loop_assert_no_progress(&loop);

    memset(&arming, 0, sizeof arming);
    arming.timer = &t;
    arming.sleeper = gaio_test_tid();
    arming.del = true;
    arming.then_schedule = bh;
    arming.then_after = 100 * MS;
    thread = g_thread_new("deleting", arming_thread, &arming);
    while (!atomic_load(&bh_ran)) {
        gaio_test_loop_iterate(&loop, true);
        g_assert_cmpint(++iterations, <=, 5);
    }
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&t.runs), ==, 0);
    g_assert_false(aio_timer_pending(&t.timer));

    qemu_bh_delete(bh);
    aio_timer_deinit(&t.timer);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------ stress */

enum { STRESS_WORKERS = 2, STRESS_TIMERS = 16 };

typedef struct {
    AioContext *ctx;
    CountingTimer timers[STRESS_TIMERS];
    guint32 seed;
    unsigned iterations;
} StressWorker;

static void
sync_bh_cb(void *opaque)
{
    atomic_store((atomic_bool *)opaque, true);
}

/* Returns once a pass that started after this call has run: no callback of a
 * timer deleted before the call is still running. */
static void
wait_for_a_pass(AioContext *ctx)
{
    atomic_bool done;

    atomic_init(&done, false);
    aio_bh_schedule_oneshot(ctx, sync_bh_cb, &done);
    while (!atomic_load(&done))
        sched_yield();
}

static gpointer
stress_worker_thread(gpointer opaque)
{
    StressWorker *w = opaque;
    unsigned before[STRESS_TIMERS];

    for (unsigned i = 0; i < w->iterations; i++) {
        CountingTimer *c = &w->timers[gaio_test_xorshift32(&w->seed) % STRESS_TIMERS];
        guint32 r = gaio_test_xorshift32(&w->seed);

        switch (r % 4) {
        case 0:
        case 1:
            aio_timer_mod_ns(&c->timer, now_ns() + (r >> 8) % (200 * US));
            break;
        case 2:
            aio_timer_del(&c->timer);
            break;
        default:
            if (!aio_timer_pending(&c->timer))
                aio_timer_mod_anticipate_ns(&c->timer, now_ns() + (r >> 8) % (50 * US));
            break;
        }
    }

    /* Quiesce, then one last arming of each, due now: each must run (T4: no
     * lost wakeup), once. */
    for (int k = 0; k < STRESS_TIMERS; k++)
        aio_timer_del(&w->timers[k].timer);
    wait_for_a_pass(w->ctx);
    for (int k = 0; k < STRESS_TIMERS; k++) {
        g_assert_false(aio_timer_pending(&w->timers[k].timer));
        before[k] = atomic_load(&w->timers[k].runs);
        aio_timer_mod_ns(&w->timers[k].timer, now_ns());
    }
    for (int k = 0; k < STRESS_TIMERS; k++)
        g_assert_true(gaio_test_wait_within(&w->timers[k].runs, before[k] + 1,
                                            10 * G_TIME_SPAN_SECOND));
    wait_for_a_pass(w->ctx);
    for (int k = 0; k < STRESS_TIMERS; k++)
        g_assert_cmpuint(atomic_load(&w->timers[k].runs), ==, before[k] + 1);
    return NULL;
}

static void
test_arm_delete_from_threads_stress(gconstpointer mode)
{
    StressWorker *workers = g_new0(StressWorker, STRESS_WORKERS);
    GThread *threads[STRESS_WORKERS];
    GaioTestOwner owner;
    GThread *owner_thread;
    GaioTestLoop loop;
    unsigned total = 0;

    g_test_summary("T4: two threads arm (mod, anticipate), delete and query 16 "
                   "timers each, at random, while the owner thread runs the "
                   "context; then each arms all its timers once more, due now: "
                   "every one runs exactly once (no lost wakeup, no stale run). "
                   "TSan checks the races.");

    gaio_test_loop_init(&loop, mode);
    for (int w = 0; w < STRESS_WORKERS; w++) {
        workers[w].ctx = loop.ctx;
        workers[w].seed = 0x1234567u + 77u * (guint32)w;
        workers[w].iterations = gaio_test_scale(20000);
        for (int k = 0; k < STRESS_TIMERS; k++) {
            counting_timer_init(&workers[w].timers[k], loop.ctx);
            /* Deadlines move under the callback's feet here: no early check. */
            atomic_store(&workers[w].timers[k].deadline, G_MININT64);
        }
    }
    owner_thread = gaio_test_owner_start(&owner, loop.ctx, loop.mc);
    for (int w = 0; w < STRESS_WORKERS; w++)
        threads[w] = g_thread_new("timer-stress", stress_worker_thread, &workers[w]);
    for (int w = 0; w < STRESS_WORKERS; w++)
        g_thread_join(threads[w]);
    gaio_test_owner_stop(&owner, owner_thread);

    for (int w = 0; w < STRESS_WORKERS; w++) {
        for (int k = 0; k < STRESS_TIMERS; k++) {
            total += atomic_load(&workers[w].timers[k].runs);
            aio_timer_deinit(&workers[w].timers[k].timer);
        }
    }
    g_test_message("%u timer runs", total);
    g_free(workers);
    gaio_test_loop_clear(&loop);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);
    /* A failed check fails its test and the run goes on to the next one, so
     * one broken rule does not hide the state of the others. */
    g_test_set_nonfatal_assertions();

    gaio_test_add_modes("/timer/T4/arm-from-thread-wakes-blocked-loop",
                        test_arm_from_thread_wakes_blocked_loop);
    gaio_test_add_modes("/timer/T4/earlier-deadline-from-thread-wakes-loop",
                        test_earlier_deadline_from_thread_wakes_loop);
    gaio_test_add_modes("/timer/T4/later-deadline-from-thread-does-not-wake",
                        test_later_deadline_from_thread_does_not_wake);
    gaio_test_add_modes("/timer/T4/delete-from-thread-of-timer-it-sleeps-for",
                        test_delete_from_thread_of_timer_it_sleeps_for);
    gaio_test_add_modes("/timer/T4/arm-delete-from-threads-stress",
                        test_arm_delete_from_threads_stress);

    return g_test_run();
}
