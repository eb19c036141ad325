/* test-poll.c: aio_poll() on the owner thread (SPEC P1, P2, W1), and the BH
 * sequences of QEMU's tests/unit/test-aio.c with the exact return value of
 * every call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

static gint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

#define MS (G_GINT64_CONSTANT(1000000))

/* ------------------------------------------------------------------ P1 */

static void
test_notify_is_not_progress(void)
{
    AioContext *ctx = gaio_test_context_new();
    gint64 start, elapsed;

    g_test_summary("P1/W1: a bare aio_notify() before a blocking aio_poll() makes "
                   "it return at once, with false: a notify is not progress.");

    aio_notify(ctx);
    start = now_ns();
    g_assert_false(aio_poll(ctx, true));
    elapsed = now_ns() - start;
    /* A hang would be caught by the watchdog; this catches a long sleep. */
    g_assert_cmpint(elapsed, <, 1000 * MS);

    /* Several notifies coalesce into one wakeup, still no progress. */
    aio_notify(ctx);
    aio_notify(ctx);
    aio_notify(ctx);
    g_assert_false(aio_poll(ctx, true));

    /* A non-blocking poll after a notify: no progress either. */
    aio_notify(ctx);
    g_assert_false(aio_poll(ctx, false));

    aio_context_unref(ctx);
}

static void
test_progress_only_from_non_idle_bhs(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    int idle_runs = 0;
    int oneshot_runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *idle = aio_bh_new(ctx, count_cb, &idle_runs);
    QEMUBH *doomed = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("P1: aio_poll() returns true when a non-idle BH ran, false "
                   "when nothing ran, only idle BHs ran, or only cancelled or "
                   "deleted BHs were queued.");

    g_assert_false(aio_poll(ctx, false));

    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_schedule_idle(idle);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(idle_runs, ==, 1);

    qemu_bh_schedule_idle(idle);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2);
    g_assert_cmpint(idle_runs, ==, 2);

    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_schedule(doomed);
    qemu_bh_delete(doomed);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2);

    aio_bh_schedule_oneshot(ctx, count_cb, &oneshot_runs);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(oneshot_runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------ P2 */

static void
reschedule_idle_cb(void *opaque)
{
    QEMUBH **bh = opaque;

    qemu_bh_schedule_idle(*bh);
}

static void
test_non_blocking_never_sleeps(void)
{
    enum { N = 100 };
    AioContext *ctx = gaio_test_context_new();
    QEMUBH *idle = NULL;
    gint64 start, elapsed;

    g_test_summary("P2: aio_poll(ctx, false) never sleeps: on an empty context, "
                   "and with an idle BH pending (which would bound a blocking "
                   "sleep to 10 ms).");

    start = now_ns();
    for (int i = 0; i < N; i++)
        g_assert_false(aio_poll(ctx, false));
    elapsed = now_ns() - start;
    g_assert_cmpint(elapsed, <, 500 * MS);

    idle = aio_bh_new(ctx, reschedule_idle_cb, &idle);
    qemu_bh_schedule_idle(idle);
    start = now_ns();
    for (int i = 0; i < N; i++)
        g_assert_false(aio_poll(ctx, false));
    elapsed = now_ns() - start;
    /* N sleeps of 10 ms would take 1 s. */
    g_assert_cmpint(elapsed, <, N * 10 * MS / 2);

    qemu_bh_delete(idle);
    g_assert_false(aio_poll(ctx, false));
    aio_context_unref(ctx);
}

static void
test_blocking_with_pending_bh_does_not_sleep(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    gint64 start, elapsed;

    g_test_summary("P2: aio_poll(ctx, true) with a BH already pending does not "
                   "sleep and returns true.");

    for (int i = 1; i <= 10; i++) {
        qemu_bh_schedule(bh);
        start = now_ns();
        g_assert_true(aio_poll(ctx, true));
        elapsed = now_ns() - start;
        g_assert_cmpint(runs, ==, i);
        g_assert_cmpint(elapsed, <, 1000 * MS);
    }

    /* Pending behind a cancelled one and an idle one. */
    {
        int other_runs = 0;
        QEMUBH *cancelled = aio_bh_new(ctx, count_cb, &other_runs);
        QEMUBH *idle = aio_bh_new(ctx, count_cb, &other_runs);

        qemu_bh_schedule(cancelled);
        qemu_bh_cancel(cancelled);
        qemu_bh_schedule_idle(idle);
        qemu_bh_schedule(bh);
        start = now_ns();
        g_assert_true(aio_poll(ctx, true));
        elapsed = now_ns() - start;
        g_assert_cmpint(runs, ==, 11);
        g_assert_cmpint(other_runs, ==, 1);
        g_assert_cmpint(elapsed, <, 1000 * MS);
        qemu_bh_delete(cancelled);
        qemu_bh_delete(idle);
    }

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------ W1 */

static void
notify_from_callback_cb(void *opaque)
{
    int *runs = opaque;

    (*runs)++;
    aio_notify(aio_context_get_current());
}

static void
test_same_thread_notify_wakes_blocking_poll(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, notify_from_callback_cb, &runs);
    gint64 start, elapsed;

    g_test_summary("W1: an aio_notify() made on the context's own thread, before "
                   "aio_poll() or from a callback during a pass, is not lost: "
                   "the next blocking aio_poll() returns promptly (false).");

    for (int i = 0; i < 10; i++) {
        aio_notify(ctx);
        start = now_ns();
        g_assert_false(aio_poll(ctx, true));
        elapsed = now_ns() - start;
        g_assert_cmpint(elapsed, <, 1000 * MS);
    }

    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    /* The notify came after the pass had accepted earlier ones. */
    start = now_ns();
    g_assert_false(aio_poll(ctx, true));
    elapsed = now_ns() - start;
    g_assert_cmpint(elapsed, <, 1000 * MS);
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_notify_costs_no_syscall_when_awake(void)
{
    AioContext *ctx = gaio_test_context_new();
    gint64 overhead, before, after_first, after_pass, after_second;

    g_test_summary("W1: aio_notify() costs no system call when the context's "
                   "thread is awake (syscw of /proc/self/io unchanged over 1000 "
                   "notifies, before and after a pass accepted them).");

    overhead = gaio_test_syscw_overhead();

    /* Nothing may be printed between the readings. */
    before = gaio_test_syscw();
    for (int i = 0; i < 1000; i++)
        aio_notify(ctx);
    after_first = gaio_test_syscw();
    g_assert_false(aio_poll(ctx, false));
    after_pass = gaio_test_syscw();
    for (int i = 0; i < 1000; i++)
        aio_notify(ctx);
    after_second = gaio_test_syscw();
    g_assert_false(aio_poll(ctx, true));

    gaio_test_assert_no_writes(after_first - before, overhead);
    gaio_test_assert_no_writes(after_second - after_pass, overhead);

    aio_context_unref(ctx);
}

/* ------------------------------------------- QEMU's test-aio BH sequences */

typedef struct {
    QEMUBH *bh;
    int n;
    int max;
    /* bh_delete_cb: on its last run, also deletes this pending BH. */
    QEMUBH **victim;
} BHTestData;

static void
bh_test_cb(void *opaque)
{
    BHTestData *data = opaque;

    if (++data->n < data->max)
        qemu_bh_schedule(data->bh);
}

static void
bh_delete_cb(void *opaque)
{
    BHTestData *data = opaque;

    if (++data->n < data->max) {
        qemu_bh_schedule(data->bh);
    } else {
        qemu_bh_delete(data->bh);
        data->bh = NULL;
        if (data->victim != NULL && *data->victim != NULL) {
            qemu_bh_delete(*data->victim);
            *data->victim = NULL;
        }
    }
}

static void
test_qemu_bh_schedule(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data = {.n = 0};

    g_test_summary("P1/B1: QEMU's test_bh_schedule: a scheduled BH runs at the "
                   "next aio_poll(), which returns true; the one after returns "
                   "false.");

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);

    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    /* QEMU's own spelling uses a blocking first call. */
    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 1);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 2);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    qemu_bh_delete(data.bh);
    aio_context_unref(ctx);
}

static void
test_qemu_bh_schedule10(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data = {.n = 0, .max = 10};

    g_test_summary("P1/B5: QEMU's test_bh_schedule10: a callback rescheduling "
                   "itself until it ran 10 times; every aio_poll() returns true "
                   "and runs it exactly once, then false.");

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);

    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 2);

    for (int i = 3; i <= 10; i++) {
        g_assert_true(aio_poll(ctx, i % 2 == 0));
        g_assert_cmpint(data.n, ==, i);
    }

    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 10);

    qemu_bh_delete(data.bh);
    aio_context_unref(ctx);
}

static void
test_qemu_bh_cancel(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data = {.n = 0};

    g_test_summary("P1/B9: QEMU's test_bh_cancel: a cancelled BH does not run; "
                   "aio_poll() returns false.");

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);

    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    qemu_bh_cancel(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    qemu_bh_delete(data.bh);
    aio_context_unref(ctx);
}

static void
test_qemu_bh_delete(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data = {.n = 0};

    g_test_summary("P1/B10: QEMU's test_bh_delete: a scheduled BH deleted before "
                   "its pass does not run; aio_poll() returns false.");

    data.bh = aio_bh_new(ctx, bh_test_cb, &data);

    qemu_bh_schedule(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    qemu_bh_delete(data.bh);
    g_assert_cmpint(data.n, ==, 0);

    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    aio_context_unref(ctx);
}

static void
test_qemu_bh_delete_from_cb(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data1 = {.n = 0, .max = 1};
    BHTestData data3 = {.n = 0, .max = 3};

    g_test_summary("P1/B10: QEMU's test_bh_delete_from_cb: a BH deleting itself "
                   "from its callback on its Nth run; each aio_poll() until then "
                   "returns true, then false.");

    data1.bh = aio_bh_new(ctx, bh_delete_cb, &data1);

    qemu_bh_schedule(data1.bh);
    g_assert_cmpint(data1.n, ==, 0);

    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(data1.n, ==, data1.max);
    g_assert_null(data1.bh);

    g_assert_false(aio_poll(ctx, false));

    /* Same on the third run. */
    data3.bh = aio_bh_new(ctx, bh_delete_cb, &data3);
    qemu_bh_schedule(data3.bh);
    for (int i = 1; i <= 3; i++) {
        g_assert_true(aio_poll(ctx, i != 2));
        g_assert_cmpint(data3.n, ==, i);
    }
    g_assert_null(data3.bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data3.n, ==, 3);

    aio_context_unref(ctx);
}

static void
test_qemu_bh_delete_from_cb_many(void)
{
    AioContext *ctx = gaio_test_context_new();
    BHTestData data1 = {.n = 0, .max = 1};
    BHTestData data2 = {.n = 0, .max = 3};
    BHTestData data3 = {.n = 0, .max = 2};
    BHTestData data4 = {.n = 0, .max = 4};
    /* Not in QEMU's test: data5 deletes itself and data6 on its 2nd run,
     * while data6 (rescheduling itself for ever) is pending behind it. */
    BHTestData data5 = {.n = 0, .max = 2};
    BHTestData data6 = {.n = 0, .max = G_MAXINT};

    g_test_summary("P1/B10: QEMU's test_bh_delete_from_cb_many: several BHs "
                   "deleting themselves (and, here, another pending one) on "
                   "different runs; exact counts and return value per aio_poll.");

    data1.bh = aio_bh_new(ctx, bh_delete_cb, &data1);
    data2.bh = aio_bh_new(ctx, bh_delete_cb, &data2);
    data3.bh = aio_bh_new(ctx, bh_delete_cb, &data3);
    data4.bh = aio_bh_new(ctx, bh_delete_cb, &data4);
    data5.bh = aio_bh_new(ctx, bh_delete_cb, &data5);
    data6.bh = aio_bh_new(ctx, bh_test_cb, &data6);
    data5.victim = &data6.bh;

    qemu_bh_schedule(data1.bh);
    qemu_bh_schedule(data2.bh);
    qemu_bh_schedule(data3.bh);
    qemu_bh_schedule(data4.bh);
    qemu_bh_schedule(data5.bh);
    qemu_bh_schedule(data6.bh);
    g_assert_cmpint(data1.n, ==, 0);
    g_assert_cmpint(data2.n, ==, 0);
    g_assert_cmpint(data3.n, ==, 0);
    g_assert_cmpint(data4.n, ==, 0);
    g_assert_cmpint(data5.n, ==, 0);
    g_assert_cmpint(data6.n, ==, 0);

    /* Pass 1: all run once; data1 deletes itself. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data1.n, ==, 1);
    g_assert_cmpint(data2.n, ==, 1);
    g_assert_cmpint(data3.n, ==, 1);
    g_assert_cmpint(data4.n, ==, 1);
    g_assert_cmpint(data5.n, ==, 1);
    g_assert_cmpint(data6.n, ==, 1);
    g_assert_null(data1.bh);

    /* Pass 2: data3 and data5 delete themselves, data5 also data6, which was
     * pending behind it and does not run. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data1.n, ==, 1);
    g_assert_cmpint(data2.n, ==, 2);
    g_assert_cmpint(data3.n, ==, 2);
    g_assert_cmpint(data4.n, ==, 2);
    g_assert_cmpint(data5.n, ==, 2);
    g_assert_cmpint(data6.n, ==, 1);
    g_assert_null(data3.bh);
    g_assert_null(data5.bh);
    g_assert_null(data6.bh);

    /* Pass 3: data2 deletes itself. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data2.n, ==, 3);
    g_assert_cmpint(data3.n, ==, 2);
    g_assert_cmpint(data4.n, ==, 3);
    g_assert_null(data2.bh);

    /* Pass 4: data4 deletes itself. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data4.n, ==, 4);
    g_assert_null(data4.bh);

    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data1.n, ==, data1.max);
    g_assert_cmpint(data2.n, ==, data2.max);
    g_assert_cmpint(data3.n, ==, data3.max);
    g_assert_cmpint(data4.n, ==, data4.max);
    g_assert_cmpint(data5.n, ==, data5.max);
    g_assert_cmpint(data6.n, ==, 1);

    aio_context_unref(ctx);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/poll/P1/notify-is-not-progress", test_notify_is_not_progress);
    g_test_add_func("/poll/P1/progress-only-from-non-idle-bhs",
                    test_progress_only_from_non_idle_bhs);
    g_test_add_func("/poll/P2/non-blocking-never-sleeps", test_non_blocking_never_sleeps);
    g_test_add_func("/poll/P2/blocking-with-pending-bh-does-not-sleep",
                    test_blocking_with_pending_bh_does_not_sleep);
    g_test_add_func("/poll/W1/same-thread-notify-wakes-blocking-poll",
                    test_same_thread_notify_wakes_blocking_poll);
    g_test_add_func("/poll/W1/notify-costs-no-syscall-when-awake",
                    test_notify_costs_no_syscall_when_awake);
    g_test_add_func("/poll/P1/qemu-bh-schedule", test_qemu_bh_schedule);
    g_test_add_func("/poll/P1/qemu-bh-schedule10", test_qemu_bh_schedule10);
    g_test_add_func("/poll/P1/qemu-bh-cancel", test_qemu_bh_cancel);
    g_test_add_func("/poll/P1/qemu-bh-delete", test_qemu_bh_delete);
    g_test_add_func("/poll/P1/qemu-bh-delete-from-cb", test_qemu_bh_delete_from_cb);
    g_test_add_func("/poll/P1/qemu-bh-delete-from-cb-many",
                    test_qemu_bh_delete_from_cb_many);

    return g_test_run();
}
