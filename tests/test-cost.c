/* test-cost.c: O() properties, counted rather than timed (SPEC B13, G6, T3).
 *
 * The owner counts every queue node it looks at: nodes a pass pops, nodes a
 * look before sleeping walks, nodes a reclaim pops (ctx->bh_visits). A BH
 * that is not pending sits in no queue, so however many there are, an
 * iteration that runs one BH looks at the same few nodes. Passes count the
 * ready handler events they look at (handlers.visits), timer heaps the slots
 * they write (steps). Timing is left to bench/, where a noisy machine cannot
 * fail the suite.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/resource.h>

#include "gaio-test.h"

#include "context-private.h"

static void
reschedule_cb(void *opaque)
{
    qemu_bh_schedule(*(QEMUBH **)opaque);
}

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

/* @n BHs that are not pending: half never scheduled, half already run once
 * (so they have been through the queue and out of it). */
static QEMUBH **
make_idle_bhs(AioContext *ctx, unsigned n)
{
    QEMUBH **bhs = g_new(QEMUBH *, n);
    int runs = 0;

    for (unsigned i = 0; i < n; i++) {
        bhs[i] = aio_bh_new(ctx, count_cb, &runs);
        if (i % 2 == 0)
            qemu_bh_schedule(bhs[i]);
    }
    while (aio_poll(ctx, false))
        ;
    g_assert_cmpint(runs, ==, (int)((n + 1) / 2));
    return bhs;
}

static void
delete_bhs(AioContext *ctx, QEMUBH **bhs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        qemu_bh_delete(bhs[i]);
    g_free(bhs);
    g_assert_false(aio_poll(ctx, false));
}

enum { FEW = 10, MANY = 100000, ITERATIONS = 1000 };

/* Nodes looked at by ITERATIONS calls of @iterate, each running the
 * self-rescheduling BH once, with @n idle BHs beside it. */
static uint64_t
visits_per_run(unsigned n, bool (*iterate)(AioContext *ctx, GMainContext *mc))
{
    GMainContext *mc = g_main_context_new();
    AioContext *ctx = gaio_test_context_new();
    QEMUBH **idle = make_idle_bhs(ctx, n);
    QEMUBH *runner = NULL;
    uint64_t before, visits;

    g_source_attach(&ctx->source, mc);
    runner = aio_bh_new(ctx, reschedule_cb, &runner);
    qemu_bh_schedule(runner);
    iterate(ctx, mc); /* settle: the first iteration may reclaim */
    before = ctx->bh_visits;
    for (unsigned i = 0; i < ITERATIONS; i++)
        g_assert_true(iterate(ctx, mc));
    visits = ctx->bh_visits - before;

    qemu_bh_delete(runner);
    delete_bhs(ctx, idle, n);
    g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
    g_main_context_unref(mc);
    return visits;
}

static bool
iterate_aio_poll(AioContext *ctx, GMainContext *mc)
{
    (void)mc;
    return aio_poll(ctx, false);
}

static bool
iterate_main_context(AioContext *ctx, GMainContext *mc)
{
    (void)ctx;
    return g_main_context_iteration(mc, FALSE);
}

static void
test_pass_visits_only_what_it_runs(void)
{
    uint64_t few = visits_per_run(FEW, iterate_aio_poll);
    uint64_t many = visits_per_run(MANY, iterate_aio_poll);

    g_test_summary("B13: a pass costs O(BHs it runs): with 100,000 BHs that are not "
                   "pending (never scheduled, or already run), aio_poll() running "
                   "one BH looks at exactly as many queue nodes as with 10, at most "
                   "3 per call (the BH, the queue's stub, a look)");
    g_test_message("%u aio_poll() calls: %" G_GUINT64_FORMAT " nodes with %d idle BHs, "
                   "%" G_GUINT64_FORMAT " with %d",
                   ITERATIONS, few, FEW, many, MANY);
    g_assert_cmpuint(many, ==, few);
    g_assert_cmpuint(many, <=, 3 * ITERATIONS);
}

static void
test_iteration_visits_only_what_it_runs(void)
{
    uint64_t few = visits_per_run(FEW, iterate_main_context);
    uint64_t many = visits_per_run(MANY, iterate_main_context);

    g_test_summary("G6/B13: a GLib iteration running one BH (prepare, check, "
                   "dispatch) looks at as many queue nodes with 100,000 idle BHs as "
                   "with 10, at most 6 per iteration");
    g_test_message("%u iterations: %" G_GUINT64_FORMAT " nodes with %d idle BHs, "
                   "%" G_GUINT64_FORMAT " with %d",
                   ITERATIONS, few, FEW, many, MANY);
    g_assert_cmpuint(many, ==, few);
    g_assert_cmpuint(many, <=, 6 * ITERATIONS);
}

/* --- fd handlers (G6) --- */

static void
notifier_ran_cb(EventNotifier *e)
{
    (void)e; /* not cleared: level-triggered, it runs in every pass (F1) */
}

/* The most notifiers this process can open, up to @want, leaving room. */
static unsigned
reachable_fds(unsigned want)
{
    struct rlimit limit;

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &limit);
        g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t)want + 256)
        return (unsigned)limit.rlim_cur - 256;
    return want;
}

typedef struct {
    uint64_t visits; /* ready events the passes looked at */
    int glib_fds;    /* entries GLib's poll array got */
} HandlerCost;

/* The entries of @mc's poll array in one iteration (GLib's own wakeup fd
 * and those of its sources). */
static int
glib_poll_fds(GMainContext *mc)
{
    GPollFD fds[16];
    gint priority, timeout;
    int n;

    g_assert_true(g_main_context_acquire(mc));
    g_main_context_prepare(mc, &priority);
    n = g_main_context_query(mc, priority, &timeout, fds, G_N_ELEMENTS(fds));
    g_main_context_check(mc, priority, fds, MIN(n, (int)G_N_ELEMENTS(fds)));
    g_main_context_dispatch(mc);
    g_main_context_release(mc);
    return n;
}

/* ITERATIONS iterations with @n idle notifiers registered and one set. */
static HandlerCost
handler_cost(unsigned n, bool (*iterate)(AioContext *ctx, GMainContext *mc))
{
    GMainContext *mc = g_main_context_new();
    AioContext *ctx = gaio_test_context_new();
    EventNotifier *idle = g_new(EventNotifier, n);
    EventNotifier ready;
    HandlerCost cost;
    uint64_t before;

    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(event_notifier_init(&idle[i], false), ==, 0);
        aio_set_event_notifier(ctx, &idle[i], notifier_ran_cb, NULL, NULL);
    }
    g_assert_cmpint(event_notifier_init(&ready, true), ==, 0);
    aio_set_event_notifier(ctx, &ready, notifier_ran_cb, NULL, NULL);
    cost.glib_fds = -glib_poll_fds(mc); /* GLib's own */
    g_source_attach(&ctx->source, mc);
    cost.glib_fds += glib_poll_fds(mc);

    before = ctx->handlers.visits;
    for (unsigned i = 0; i < ITERATIONS; i++)
        g_assert_true(iterate(ctx, mc));
    cost.visits = ctx->handlers.visits - before;

    aio_set_event_notifier(ctx, &ready, NULL, NULL, NULL);
    event_notifier_cleanup(&ready);
    for (unsigned i = 0; i < n; i++) {
        aio_set_event_notifier(ctx, &idle[i], NULL, NULL, NULL);
        event_notifier_cleanup(&idle[i]);
    }
    g_free(idle);
    g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
    g_main_context_unref(mc);
    return cost;
}

static void
test_handlers_cost_only_when_ready(gconstpointer data)
{
    bool (*iterate)(AioContext *, GMainContext *) = data;
    unsigned many = reachable_fds(MANY);
    HandlerCost few_cost = handler_cost(FEW, iterate);
    HandlerCost many_cost = handler_cost(many, iterate);

    g_test_summary("G6: with one ready handler among 10 or among thousands of idle "
                   "ones, every iteration looks at exactly one ready event, and GLib "
                   "polls two fds (the wakeup eventfd and the epoll fd) either way");
    g_test_message("%u iterations: %" G_GUINT64_FORMAT " events with %d idle handlers, "
                   "%" G_GUINT64_FORMAT " with %u; GLib fds %d and %d",
                   ITERATIONS, few_cost.visits, FEW, many_cost.visits, many,
                   few_cost.glib_fds, many_cost.glib_fds);
    g_assert_cmpuint(few_cost.visits, ==, ITERATIONS);
    g_assert_cmpuint(many_cost.visits, ==, ITERATIONS);
    g_assert_cmpint(few_cost.glib_fds, ==, 2);
    g_assert_cmpint(many_cost.glib_fds, ==, 2);
}

/* --- timers (T3) --- */

static void
never_cb(void *opaque)
{
    g_assert_not_reached();
}

/* Heap slots written by arming and deleting one timer, @n others armed. */
static uint64_t
timer_arm_delete_steps(unsigned n)
{
    AioContext *ctx = gaio_test_context_new();
    AioTimerClock *clock = &ctx->timers.clocks[AIO_CLOCK_REALTIME];
    AioTimer **armed = g_new(AioTimer *, n);
    AioTimer *probe = aio_timer_new(ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, never_cb, NULL);
    int64_t far = aio_clock_get_ns(AIO_CLOCK_REALTIME) + 3600 * G_GINT64_CONSTANT(1000000000);
    GRand *rand = g_rand_new_with_seed(8);
    uint64_t before, worst = 0;

    for (unsigned i = 0; i < n; i++) {
        armed[i] = aio_timer_new(ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, never_cb, NULL);
        aio_timer_mod_ns(armed[i], far + g_rand_int_range(rand, 0, 1000000));
    }
    /* The worst case of each: the earliest deadline sifts to the top, then
     * its deletion moves the last slot down from there. */
    for (unsigned i = 0; i < 100; i++) {
        before = clock->steps;
        aio_timer_mod_ns(probe, far - 1 - i);
        aio_timer_del(probe);
        worst = MAX(worst, clock->steps - before);
    }
    for (unsigned i = 0; i < n; i++)
        aio_timer_free(armed[i]);
    aio_timer_free(probe);
    g_free(armed);
    g_rand_free(rand);
    aio_context_unref(ctx);
    return worst;
}

static void
test_timer_arm_delete_is_logarithmic(void)
{
    uint64_t few = timer_arm_delete_steps(FEW);
    uint64_t many = timer_arm_delete_steps(MANY);
    unsigned log2_many = g_bit_storage(MANY);

    g_test_summary("T3: arming and deleting the earliest timer writes O(log n) heap "
                   "slots: at most 2 × (log2 n + 2) with 100,000 timers armed");
    g_test_message("worst arm + delete: %" G_GUINT64_FORMAT " slots with %d timers, "
                   "%" G_GUINT64_FORMAT " with %d",
                   few, FEW, many, MANY);
    g_assert_cmpuint(many, <=, 2 * (log2_many + 2));
    g_assert_cmpuint(many, >, few); /* the counter counts */
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/cost/B13/pass-visits-only-the-bhs-it-runs",
                    test_pass_visits_only_what_it_runs);
    g_test_add_func("/cost/G6/iteration-visits-only-the-bhs-it-runs",
                    test_iteration_visits_only_what_it_runs);
    g_test_add_data_func("/cost/G6/aio-poll-looks-only-at-ready-handlers",
                         iterate_aio_poll, test_handlers_cost_only_when_ready);
    g_test_add_data_func("/cost/G6/iteration-looks-only-at-ready-handlers",
                         iterate_main_context, test_handlers_cost_only_when_ready);
    g_test_add_func("/cost/T3/arm-and-delete-write-log-n-heap-slots",
                    test_timer_arm_delete_is_logarithmic);
    return g_test_run();
}
