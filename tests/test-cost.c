/* test-cost.c: O() properties, counted rather than timed (SPEC B13, G6).
 *
 * The owner counts every queue node it looks at: nodes a pass pops, nodes a
 * look before sleeping walks, nodes a reclaim pops (ctx->bh_visits). A BH
 * that is not pending sits in no queue, so however many there are, an
 * iteration that runs one BH looks at the same few nodes. Timing is left to
 * bench/gaio-bench, where a noisy machine cannot fail the suite.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

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

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/cost/B13/pass-visits-only-the-bhs-it-runs",
                    test_pass_visits_only_what_it_runs);
    g_test_add_func("/cost/G6/iteration-visits-only-the-bhs-it-runs",
                    test_iteration_visits_only_what_it_runs);
    return g_test_run();
}
