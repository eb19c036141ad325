/* test-bh.c: bottom halves run by aio_poll() / aio_bh_poll() on the owner
 * thread (SPEC B1-B11, B13, B14). Threads and signals are in their own files.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ helpers */

/* One BH under test: its callback counts, logs its id, then runs the test's
 * action. */
typedef struct Item Item;
struct Item {
    QEMUBH *bh;
    AioContext *ctx;
    char id;
    int runs;
    GString *log;
    void (*action)(Item *it);
    void *data;
    int limit;
};

static void
item_cb(void *opaque)
{
    Item *it = opaque;

    it->runs++;
    if (it->log != NULL)
        g_string_append_c(it->log, it->id);
    if (it->action != NULL)
        it->action(it);
}

/* Items get ids 'A', 'B', … in array order. */
static void
items_init(Item *items, size_t n, AioContext *ctx, GString *log)
{
    for (size_t i = 0; i < n; i++) {
        memset(&items[i], 0, sizeof items[i]);
        items[i].ctx = ctx;
        items[i].id = (char)('A' + i);
        items[i].log = log;
        items[i].bh = aio_bh_new(ctx, item_cb, &items[i]);
    }
}

static void
items_delete(Item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].bh != NULL)
            qemu_bh_delete(items[i].bh);
        items[i].bh = NULL;
    }
}

/* Schedules the items named in @ids ("CAB" schedules C, then A, then B). */
static void
schedule_ids(Item *items, const char *ids)
{
    for (const char *p = ids; *p != '\0'; p++)
        qemu_bh_schedule(items[*p - 'A'].bh);
}

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

/* --------------------------------------------------------------- B1 */

static void
schedule_other_and_check(Item *it)
{
    Item *other = it->data;
    int before_self = it->runs;
    int before_other = other->runs;

    qemu_bh_schedule(it->bh);
    qemu_bh_schedule(other->bh);
    qemu_bh_schedule_idle(other->bh);
    /* Neither callback ran inside the schedules. */
    g_assert_cmpint(it->runs, ==, before_self);
    g_assert_cmpint(other->runs, ==, before_other);
    it->action = NULL;
}

static void
test_schedule_never_synchronous(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[2];
    int oneshot_runs = 0;

    g_test_summary("B1: qemu_bh_schedule(), qemu_bh_schedule_idle() and "
                   "aio_bh_schedule_oneshot() never run the callback "
                   "synchronously, also when called from a callback.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    qemu_bh_schedule(items[0].bh);
    g_assert_cmpint(items[0].runs, ==, 0);
    qemu_bh_schedule_idle(items[1].bh);
    g_assert_cmpint(items[1].runs, ==, 0);
    aio_bh_schedule_oneshot(ctx, count_cb, &oneshot_runs);
    g_assert_cmpint(oneshot_runs, ==, 0);
    g_assert_cmpstr(log->str, ==, "");

    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_cmpint(oneshot_runs, ==, 1);

    /* From inside a callback: A schedules itself and B. */
    items[0].action = schedule_other_and_check;
    items[0].data = &items[1];
    qemu_bh_schedule(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABA");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABAAB");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B2 */

static void
test_coalesces_repeated_schedules(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B2: any number of schedules of a pending BH give one run.");

    for (int i = 0; i < 1000; i++)
        qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    /* Same through aio_bh_poll(). */
    for (int i = 0; i < 10; i++)
        qemu_bh_schedule(bh);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    g_assert_cmpint(runs, ==, 2);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_coalesces_schedule_and_schedule_idle(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B2: schedules and idle schedules of a pending BH, mixed in "
                   "any order, give one run.");

    for (int i = 0; i < 100; i++)
        qemu_bh_schedule_idle(bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_schedule_idle(bh);
    qemu_bh_schedule(bh);
    qemu_bh_schedule_idle(bh);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2);
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_schedule(bh);
    qemu_bh_schedule_idle(bh);
    qemu_bh_schedule_idle(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 3);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 3);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
schedule_data_item(Item *it)
{
    qemu_bh_schedule(((Item *)it->data)->bh);
}

static void
test_coalesces_schedule_from_earlier_callback(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[2];

    g_test_summary("B2: a callback scheduling a BH that is still pending later "
                   "in the same pass coalesces: that BH runs once.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = schedule_data_item;
    items[0].data = &items[1];
    schedule_ids(items, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B3 */

static void
reschedule_self_once(Item *it)
{
    if (it->runs == 1)
        qemu_bh_schedule(it->bh);
}

static void
test_self_schedule_runs_in_next_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[1];

    g_test_summary("B3: a schedule made by the callback itself while it runs is "
                   "not lost: the BH runs again, in the next pass.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = reschedule_self_once;
    qemu_bh_schedule(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 1);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 2);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 2);

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
schedule_idle_self_once(Item *it)
{
    if (it->runs == 1)
        qemu_bh_schedule_idle(it->bh);
}

static void
test_self_schedule_idle_runs_in_next_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[1];

    g_test_summary("B3: an idle schedule made by the callback itself runs in "
                   "the next pass (which is not progress, B7).");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = schedule_idle_self_once;
    qemu_bh_schedule(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 2);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 2);

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_schedule_other_from_callback(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];

    g_test_summary("B3: a callback scheduling another BH (not pending, or one "
                   "that already ran in this pass) gets it run, in the next "
                   "pass.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    /* A schedules C, which is not pending. */
    items[0].action = schedule_data_item;
    items[0].data = &items[2];
    qemu_bh_schedule(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "A");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AC");
    g_assert_false(aio_poll(ctx, false));

    /* B schedules A, which already ran in this pass. */
    g_string_truncate(log, 0);
    items[0].action = NULL;
    items[1].action = schedule_data_item;
    items[1].data = &items[0];
    schedule_ids(items, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABA");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B4 */

static void
test_fifo_order_of_three(void)
{
    static const char *const orders[] = {"ABC", "ACB", "BAC", "BCA", "CAB", "CBA"};
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];

    g_test_summary("B4: BHs run in the order in which they were scheduled, for "
                   "every order of three BHs.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    for (size_t i = 0; i < G_N_ELEMENTS(orders); i++) {
        g_string_truncate(log, 0);
        schedule_ids(items, orders[i]);
        /* Re-scheduling pending BHs does not move them. */
        schedule_ids(items, "CBA");
        g_assert_true(aio_poll(ctx, false));
        g_assert_cmpstr(log->str, ==, orders[i]);
        g_assert_false(aio_poll(ctx, false));
    }

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

typedef struct {
    QEMUBH *bh;
    unsigned id;
    GArray *log;
} OrderItem;

static void
order_item_cb(void *opaque)
{
    OrderItem *it = opaque;

    g_array_append_val(it->log, it->id);
}

static void
test_fifo_order_of_random_permutation(void)
{
    enum { N = 1000 };
    AioContext *ctx = gaio_test_context_new();
    OrderItem *items = g_new0(OrderItem, N);
    g_autoptr(GArray) log = g_array_sized_new(FALSE, FALSE, sizeof(unsigned), N);
    unsigned *perm = g_new(unsigned, N);

    g_test_summary("B4: 1000 BHs scheduled in a random order run in that order "
                   "(one pass).");

    for (unsigned i = 0; i < N; i++) {
        items[i].id = i;
        items[i].log = log;
        items[i].bh = aio_bh_new(ctx, order_item_cb, &items[i]);
        perm[i] = i;
    }
    for (int round = 0; round < 3; round++) {
        /* Fisher-Yates with the test's reproducible random numbers (--seed). */
        for (unsigned i = N - 1; i > 0; i--) {
            unsigned j = (unsigned)g_test_rand_int_range(0, (gint32)i + 1);
            unsigned t = perm[i];

            perm[i] = perm[j];
            perm[j] = t;
        }
        g_array_set_size(log, 0);
        for (unsigned i = 0; i < N; i++)
            qemu_bh_schedule(items[perm[i]].bh);
        g_assert_true(aio_poll(ctx, false));
        g_assert_cmpmem(log->data, log->len * sizeof(unsigned), perm,
                        N * sizeof(unsigned));
        g_assert_false(aio_poll(ctx, false));
    }

    for (unsigned i = 0; i < N; i++)
        qemu_bh_delete(items[i].bh);
    g_assert_false(aio_poll(ctx, false));
    g_free(perm);
    g_free(items);
    aio_context_unref(ctx);
}

static void
test_fifo_order_mixes_idle_and_normal(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[4];

    g_test_summary("B4: idle and normal BHs share one order, the order in which "
                   "they became pending; upgrading a pending idle BH keeps its "
                   "place.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    qemu_bh_schedule_idle(items[0].bh);
    qemu_bh_schedule(items[1].bh);
    qemu_bh_schedule_idle(items[2].bh);
    qemu_bh_schedule(items[3].bh);
    qemu_bh_schedule(items[0].bh); /* upgrade: A became pending first */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABCD");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
oneshot_log_cb(void *opaque)
{
    g_string_append_c(opaque, 'o');
}

static void
test_fifo_order_includes_oneshots(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[2];

    g_test_summary("B4: oneshot BHs take their place in the same FIFO order.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    aio_bh_schedule_oneshot(ctx, oneshot_log_cb, log);
    qemu_bh_schedule(items[1].bh);
    aio_bh_schedule_oneshot(ctx, oneshot_log_cb, log);
    qemu_bh_schedule(items[0].bh);
    aio_bh_schedule_oneshot(ctx, oneshot_log_cb, log);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "oBoAo");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_fifo_order_cancelled_then_rescheduled(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];

    g_test_summary("B4: a BH cancelled and scheduled again before its pass runs "
                   "once in that pass, at its earlier place or at its new one; "
                   "one scheduled again after the pass that skipped it takes "
                   "its new place.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    schedule_ids(items, "AB");
    qemu_bh_cancel(items[0].bh);
    schedule_ids(items, "A");
    g_assert_true(aio_poll(ctx, false));
    g_assert_true(g_str_equal(log->str, "AB") || g_str_equal(log->str, "BA"));
    g_assert_cmpint(items[0].runs, ==, 1);
    g_assert_cmpint(items[1].runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));

    /* Cancelled, skipped by a pass, then scheduled after C: C runs first. */
    g_string_truncate(log, 0);
    schedule_ids(items, "AB");
    qemu_bh_cancel(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "B");
    schedule_ids(items, "CA");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "BCA");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B5 */

static void
reschedule_self_until_limit(Item *it)
{
    if (it->runs < it->limit)
        qemu_bh_schedule(it->bh);
}

static void
test_self_rescheduling_bh_runs_once_per_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[1];

    g_test_summary("B5: a BH that reschedules itself runs exactly once per pass "
                   "(aio_poll or aio_bh_poll), so no pass loops forever.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = reschedule_self_until_limit;
    items[0].limit = 1000000; /* forever, as far as this test goes */
    qemu_bh_schedule(items[0].bh);
    for (int i = 1; i <= 50; i++) {
        g_assert_true(aio_poll(ctx, false));
        g_assert_cmpint(items[0].runs, ==, i);
    }
    for (int i = 51; i <= 100; i++) {
        g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
        g_assert_cmpint(items[0].runs, ==, i);
    }
    for (int i = 101; i <= 110; i++) {
        /* Pending, so a blocking call does not sleep either. */
        g_assert_true(aio_poll(ctx, true));
        g_assert_cmpint(items[0].runs, ==, i);
    }
    qemu_bh_cancel(items[0].bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(items[0].runs, ==, 110);

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_chain_runs_one_link_per_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[4];

    g_test_summary("B5: BHs that become pending during a pass run in the next "
                   "pass: a chain A→B→C→D runs one link per aio_poll(false), "
                   "each returning true while the chain goes on.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    for (int i = 0; i < 3; i++) {
        items[i].action = schedule_data_item;
        items[i].data = &items[i + 1];
    }
    qemu_bh_schedule(items[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "A");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABC");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABCD");
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABCD");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
schedule_all_three(Item *it)
{
    Item *items = it->data;

    if (it->runs < it->limit)
        for (int i = 0; i < 3; i++)
            qemu_bh_schedule(items[i].bh);
}

static void
test_pass_runs_each_pending_bh_once(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];

    g_test_summary("B5: a pass runs the BHs pending at its start, each once, in "
                   "FIFO order, even when each callback reschedules them all; "
                   "the reschedules run in the next pass, in their new order.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    for (int i = 0; i < 3; i++) {
        items[i].action = schedule_all_three;
        items[i].data = items;
        items[i].limit = 2;
    }
    schedule_ids(items, "CAB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "CAB");
    /* Each became pending again when its own callback ran (the schedules of
     * BHs still pending in the pass coalesced): C, then A, then B. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "CABCAB");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B6 */

static void
test_aio_bh_poll_return_values(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    int idle_runs = 0;
    int oneshot_runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *idle = aio_bh_new(ctx, count_cb, &idle_runs);
    QEMUBH *doomed;

    g_test_summary("B6: aio_bh_poll() returns 1 if at least one non-idle BH "
                   "ran, else 0 (empty, only idle, only cancelled or deleted).");

    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    qemu_bh_schedule(bh);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(runs, ==, 1);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    qemu_bh_schedule_idle(idle);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    g_assert_cmpint(idle_runs, ==, 1);

    qemu_bh_schedule_idle(idle);
    qemu_bh_schedule(bh);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(runs, ==, 2);
    g_assert_cmpint(idle_runs, ==, 2);

    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    g_assert_cmpint(runs, ==, 2);

    doomed = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule(doomed);
    qemu_bh_delete(doomed);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    g_assert_cmpint(runs, ==, 2);

    aio_bh_schedule_oneshot(ctx, count_cb, &oneshot_runs);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(oneshot_runs, ==, 1);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B7 */

static void
test_idle_bh_runs_but_is_not_progress(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B7: an idle BH runs at the next pass, but its run is not "
                   "progress: aio_poll(false) returns false.");

    qemu_bh_schedule_idle(bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_schedule_upgrades_pending_idle(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    uint32_t t = 1234;

    g_test_summary("B7: qemu_bh_schedule() on a pending idle BH upgrades it to "
                   "normal: its run is progress.");

    qemu_bh_schedule_idle(bh);
    qemu_bh_schedule(bh);
    aio_bh_update_timeout(ctx, &t);
    g_assert_cmpuint(t, ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));

    /* Blocking: does not sleep, returns true. */
    qemu_bh_schedule_idle(bh);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(runs, ==, 2);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_schedule_idle_keeps_pending_normal(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    uint32_t t = 1234;

    g_test_summary("B7: qemu_bh_schedule_idle() on a pending normal BH leaves it "
                   "normal.");

    qemu_bh_schedule(bh);
    qemu_bh_schedule_idle(bh);
    aio_bh_update_timeout(ctx, &t);
    g_assert_cmpuint(t, ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_blocking_poll_with_idle_bh_sleeps_at_most_10ms(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B7: idle BHs do not wake the loop, but while one is pending "
                   "a blocking aio_poll() sleeps at most ~10 ms, runs it, and "
                   "returns false (not progress).");

    for (int i = 0; i < 3; i++) {
        gint64 start, elapsed;

        qemu_bh_schedule_idle(bh);
        start = now_ns();
        g_assert_false(aio_poll(ctx, true));
        elapsed = now_ns() - start;
        g_assert_cmpint(runs, ==, i + 1);
        /* It slept (the idle schedule did not wake it) but not for long. */
        g_assert_cmpint(elapsed, >=, 5 * 1000000);
        g_assert_cmpint(elapsed, <, 1000 * 1000000);
    }

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B8 */

static uint32_t
updated_timeout(AioContext *ctx, uint32_t t)
{
    aio_bh_update_timeout(ctx, &t);
    return t;
}

static void
test_update_timeout_unchanged_when_nothing_pending(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *doomed = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B8: aio_bh_update_timeout() leaves t unchanged when no BH "
                   "is pending (none scheduled, all run, cancelled or deleted).");

    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 1234);
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, UINT32_MAX);
    g_assert_cmpuint(updated_timeout(ctx, 0), ==, 0);
    g_assert_cmpuint(updated_timeout(ctx, 5), ==, 5);

    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 1234);

    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    qemu_bh_schedule_idle(doomed);
    qemu_bh_delete(doomed);
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 1234);
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, UINT32_MAX);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, UINT32_MAX);
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_update_timeout_zero_with_normal_pending(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *idle = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *cancelled = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B8: aio_bh_update_timeout() lowers t to 0 when a normal BH "
                   "is pending, wherever it sits in the queue.");

    qemu_bh_schedule(bh);
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 0);
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, 0);
    g_assert_cmpuint(updated_timeout(ctx, 0), ==, 0);
    g_assert_true(aio_poll(ctx, false));

    /* Behind a cancelled and an idle BH. */
    qemu_bh_schedule(cancelled);
    qemu_bh_cancel(cancelled);
    qemu_bh_schedule_idle(idle);
    qemu_bh_schedule(bh);
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 0);
    g_assert_cmpuint(updated_timeout(ctx, 5), ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 1234);

    /* A pending oneshot is a normal BH too. */
    aio_bh_schedule_oneshot(ctx, count_cb, &runs);
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 4);

    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    qemu_bh_delete(cancelled);
    aio_context_unref(ctx);
}

static void
test_update_timeout_at_most_10_with_only_idle(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *idle = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *idle2 = aio_bh_new(ctx, count_cb, &runs);

    g_test_summary("B8: with only idle BHs pending, aio_bh_update_timeout() "
                   "sets t to MIN(t, 10).");

    qemu_bh_schedule_idle(idle);
    g_assert_cmpuint(updated_timeout(ctx, 5), ==, 5);
    g_assert_cmpuint(updated_timeout(ctx, 100), ==, 10);
    g_assert_cmpuint(updated_timeout(ctx, 10), ==, 10);
    g_assert_cmpuint(updated_timeout(ctx, 11), ==, 10);
    g_assert_cmpuint(updated_timeout(ctx, 0), ==, 0);
    g_assert_cmpuint(updated_timeout(ctx, UINT32_MAX), ==, 10);
    qemu_bh_schedule_idle(idle2);
    g_assert_cmpuint(updated_timeout(ctx, 1234), ==, 10);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2);
    g_assert_cmpuint(updated_timeout(ctx, 100), ==, 100);

    qemu_bh_delete(idle);
    qemu_bh_delete(idle2);
    aio_context_unref(ctx);
}

/* --------------------------------------------------------------- B9 */

static void
test_cancelled_bh_does_not_run_and_can_be_rescheduled(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    int idle_runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);
    QEMUBH *idle = aio_bh_new(ctx, count_cb, &idle_runs);

    g_test_summary("B9: a cancelled pending BH does not run; it stays valid and "
                   "can be scheduled again. Cancelling a BH that is not pending "
                   "changes nothing.");

    qemu_bh_cancel(bh); /* not pending: no-op */
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 0);

    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    qemu_bh_schedule_idle(idle);
    qemu_bh_cancel(idle);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(idle_runs, ==, 0);
    qemu_bh_schedule_idle(idle);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(idle_runs, ==, 1);

    /* Cancel twice, schedule twice. */
    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    qemu_bh_cancel(bh);
    qemu_bh_schedule(bh);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2);
    g_assert_false(aio_poll(ctx, false));

    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    aio_context_unref(ctx);
}

static void
cancel_data_item(Item *it)
{
    qemu_bh_cancel(((Item *)it->data)->bh);
}

static void
test_cancel_from_callback_in_same_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];

    g_test_summary("B9: a callback cancelling a BH pending later in the same "
                   "pass keeps it from running; it can be scheduled again.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = cancel_data_item;
    items[0].data = &items[1];
    schedule_ids(items, "ABC");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AC");
    g_assert_false(aio_poll(ctx, false));

    items[0].action = NULL;
    schedule_ids(items, "B");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ACB");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* -------------------------------------------------------------- B10 */

static void
test_deleted_pending_bh_never_runs(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh;

    g_test_summary("B10: a pending BH (normal or idle) deleted before its pass "
                   "never runs; deleting a never-scheduled BH is fine.");

    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule(bh);
    qemu_bh_delete(bh);
    g_assert_false(aio_poll(ctx, false));

    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule_idle(bh);
    qemu_bh_delete(bh);
    g_assert_false(aio_poll(ctx, false));

    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_delete(bh);
    g_assert_false(aio_poll(ctx, false));

    /* Deleted after it ran and was rescheduled. */
    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    qemu_bh_schedule(bh);
    qemu_bh_delete(bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    aio_context_unref(ctx);
}

static void
delete_self(Item *it)
{
    /* Rescheduled first, to check delete also cancels that. */
    qemu_bh_schedule(it->bh);
    qemu_bh_delete(it->bh);
    it->bh = NULL;
}

static void
test_delete_from_own_callback(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[2];

    g_test_summary("B10: a callback may delete its own BH (even after "
                   "rescheduling it): it never runs again.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = delete_self;
    schedule_ids(items, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_null(items[0].bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AB");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
delete_data_items(Item *it)
{
    Item **victims = it->data;

    for (; *victims != NULL; victims++) {
        if ((*victims)->bh != NULL)
            qemu_bh_delete((*victims)->bh);
        (*victims)->bh = NULL;
    }
}

static void
test_delete_other_pending_bh_from_callback(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];
    Item *victims[] = {&items[1], NULL};

    g_test_summary("B10: a callback deleting another BH pending later in the "
                   "same pass: that BH does not run in this pass or any later.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = delete_data_items;
    items[0].data = victims;
    schedule_ids(items, "ABC");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AC");
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "AC");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_delete_many_from_one_callback(void)
{
    enum { N = 20 };
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[N];
    Item *victims[N];
    int k = 0;

    g_test_summary("B10: one callback deleting many BHs (pending before it, "
                   "after it, idle, not pending, already run, itself) runs "
                   "none of them afterwards.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    /* C deletes every item but H and I: itself, A, B and the rest. */
    for (int i = 0; i < N; i++)
        if (i != 7 && i != 8) /* H and I survive */
            victims[k++] = &items[i];
    victims[k] = NULL;
    items[2].action = delete_data_items; /* C */
    items[2].data = victims;

    qemu_bh_schedule(items[1].bh); /* B: runs before C */
    qemu_bh_schedule(items[2].bh); /* C */
    for (int i = 3; i < N; i++) {
        if (i % 3 == 0)
            qemu_bh_schedule(items[i].bh);
        else if (i % 3 == 1)
            qemu_bh_schedule_idle(items[i].bh);
    }
    g_assert_true(aio_poll(ctx, false));
    /* B and C ran; of the rest, only H (pending, idle) and I (not pending)
     * survive, and H runs. */
    g_assert_cmpstr(log->str, ==, "BCH");
    schedule_ids(items, "IH");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "BCHIH");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

/* -------------------------------------------------------------- B11 */

static void
test_oneshot_runs_exactly_once(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;

    g_test_summary("B11: aio_bh_schedule_oneshot() runs the callback exactly "
                   "once and frees itself (valgrind checks the freeing).");

    aio_bh_schedule_oneshot(ctx, count_cb, &runs);
    g_assert_cmpint(runs, ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);

    for (int i = 0; i < 100; i++)
        aio_bh_schedule_oneshot(ctx, count_cb, &runs);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(runs, ==, 101);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    aio_context_unref(ctx);
}

static void
oneshot_chain_cb(void *opaque)
{
    int *runs = opaque;

    if (++*runs < 5)
        aio_bh_schedule_oneshot(aio_context_get_current(), oneshot_chain_cb, runs);
}

static void
test_oneshot_from_callback_runs_in_next_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;

    g_test_summary("B11: a oneshot scheduled from a oneshot's callback runs once, "
                   "in the next pass.");

    aio_bh_schedule_oneshot(ctx, oneshot_chain_cb, &runs);
    for (int i = 1; i <= 5; i++) {
        g_assert_true(aio_poll(ctx, false));
        g_assert_cmpint(runs, ==, i);
    }
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 5);

    aio_context_unref(ctx);
}

/* -------------------------------------------------------------- B13 */

/* The pass cost itself (100,000 BHs that are not pending cost nothing) is
 * counted, not timed, in test-cost.c. */

static void
schedule_next_in_array_cb(void *opaque)
{
    QEMUBH **next = opaque;

    if (*next != NULL)
        qemu_bh_schedule(*next);
}

static void
test_schedule_makes_no_syscall_when_awake(void)
{
    enum { N = 1000 };
    AioContext *ctx = gaio_test_context_new();
    QEMUBH **bhs = g_new0(QEMUBH *, N + 1);
    int runs = 0;
    gint64 overhead, before, after_first, after_second, after_idle, after_pass;

    g_test_summary("B13/W1: scheduling makes no system call while the context's "
                   "thread is awake: 1000 schedules of distinct BHs from the "
                   "owner thread outside aio_poll(), idle schedules, and "
                   "schedules from callbacks during aio_poll(false), leave the "
                   "syscw count of /proc/self/io unchanged.");

    overhead = gaio_test_syscw_overhead();
    for (int i = 0; i < N; i++)
        bhs[i] = aio_bh_new(ctx, count_cb, &runs);

    /* Nothing may be printed between the readings. */
    before = gaio_test_syscw();
    for (int i = 0; i < N; i++)
        qemu_bh_schedule(bhs[i]);
    after_first = gaio_test_syscw();
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, N);

    /* After a pass accepted the notification, schedules must still be free. */
    after_pass = gaio_test_syscw();
    for (int i = N - 1; i >= 0; i--)
        qemu_bh_schedule(bhs[i]);
    after_second = gaio_test_syscw();
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 2 * N);

    for (int i = 0; i < N; i++)
        qemu_bh_schedule_idle(bhs[i]);
    after_idle = gaio_test_syscw();
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 3 * N);

    gaio_test_assert_no_writes(after_first - before, overhead);
    gaio_test_assert_no_writes(after_second - after_pass, overhead);
    /* (This one also covers the aio_poll(false) pass in between.) */
    gaio_test_assert_no_writes(after_idle - after_second, overhead);

    /* Schedules from callbacks inside aio_poll(false): a chain of N BHs. */
    for (int i = 0; i < N; i++)
        qemu_bh_delete(bhs[i]);
    for (int i = N - 1; i >= 0; i--)
        bhs[i] = aio_bh_new(ctx, schedule_next_in_array_cb, &bhs[i + 1]);
    qemu_bh_schedule(bhs[0]);
    before = gaio_test_syscw();
    for (int i = 0; i < N; i++)
        if (!aio_poll(ctx, false))
            break;
    after_pass = gaio_test_syscw();
    g_assert_false(aio_poll(ctx, false));
    gaio_test_assert_no_writes(after_pass - before, overhead);

    for (int i = 0; i < N; i++)
        qemu_bh_delete(bhs[i]);
    g_free(bhs);
    aio_context_unref(ctx);
}

/* -------------------------------------------------------------- B14 */

typedef struct {
    int depth;     /* how many nested aio_poll() calls to make */
    bool nested_progress[2];
    const char *log_after;
} NestData;

static void
nest_poll(Item *it)
{
    NestData *nd = it->data;

    for (int i = 0; i < nd->depth; i++)
        nd->nested_progress[i] = aio_poll(it->ctx, false);
}

static void
test_nested_poll_continues_outer_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[4];
    NestData nd = {.depth = 1};

    g_test_summary("B14: a callback calling aio_poll(ctx, false) on its own "
                   "context: the nested pass runs the outer pass's remaining BHs "
                   "in FIFO order, and the outer pass does not run them again.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = nest_poll;
    items[0].data = &nd;
    schedule_ids(items, "ABCD");
    g_assert_true(aio_poll(ctx, false));
    g_assert_true(nd.nested_progress[0]);
    g_assert_cmpstr(log->str, ==, "ABCD");
    for (int i = 0; i < 4; i++)
        g_assert_cmpint(items[i].runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));

    /* The same with the nesting BH in the middle, and aio_bh_poll outside. */
    g_string_truncate(log, 0);
    items[0].action = NULL;
    items[2].action = nest_poll;
    items[2].data = &nd;
    schedule_ids(items, "BCDA");
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpstr(log->str, ==, "BCDA");
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_doubly_nested_poll(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[5];
    NestData nd_a = {.depth = 2}, nd_b = {.depth = 1};

    g_test_summary("B14: nested passes nest again: A nests, B (run inside A's "
                   "nested pass) nests too; all BHs run once in FIFO order, and "
                   "A's second nested aio_poll finds nothing.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = nest_poll;
    items[0].data = &nd_a;
    items[1].action = nest_poll;
    items[1].data = &nd_b;
    schedule_ids(items, "ABCDE");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABCDE");
    g_assert_true(nd_a.nested_progress[0]);
    g_assert_false(nd_a.nested_progress[1]);
    g_assert_true(nd_b.nested_progress[0]);
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_delete_inside_nested_pass(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[5];
    NestData nd = {.depth = 2};
    Item *victims_of_b[] = {&items[2], NULL};

    g_test_summary("B14/B10: inside a nested pass, a callback deleting a BH "
                   "pending later in it (C) and one deleting itself (D): "
                   "neither runs again; the outer pass goes on safely.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = nest_poll;
    items[0].data = &nd;
    items[1].action = delete_data_items;
    items[1].data = victims_of_b;
    items[3].action = delete_self;
    schedule_ids(items, "ABCDE");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABDE");
    g_assert_null(items[2].bh);
    g_assert_null(items[3].bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABDE");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
delete_self_then_nest(Item *it)
{
    NestData *nd = it->data;

    qemu_bh_delete(it->bh);
    it->bh = NULL;
    /* Nested passes may reclaim our BH while its callback still runs; the
     * callback no longer touches it, and neither may the outer pass. */
    for (int i = 0; i < nd->depth; i++)
        nd->nested_progress[i] = aio_poll(it->ctx, false);
}

static void
test_delete_self_then_nested_poll(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];
    NestData nd = {.depth = 2};

    g_test_summary("B14/B10: a callback deleting its own BH and then running "
                   "nested passes: no use after free (valgrind/ASan check), the "
                   "rest of the pass runs once.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = delete_self_then_nest;
    items[0].data = &nd;
    schedule_ids(items, "ABC");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABC");
    g_assert_true(nd.nested_progress[0]);
    g_assert_false(nd.nested_progress[1]);
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
test_deleted_by_nested_pass_while_running(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[3];
    NestData nd = {.depth = 2};
    Item *victims_of_b[] = {&items[0], NULL};

    g_test_summary("B14/B10: a BH deleted by another callback in a nested pass "
                   "while its own callback (the one nesting) still runs: no use "
                   "after free, and it never runs again.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    items[0].action = nest_poll;
    items[0].data = &nd;
    items[1].action = delete_data_items;
    items[1].data = victims_of_b;
    schedule_ids(items, "ABC");
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABC");
    g_assert_null(items[0].bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "ABC");

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

static void
nest_once_in_oneshot_cb(void *opaque)
{
    AioContext *ctx = aio_context_get_current();

    *(bool *)opaque = aio_poll(ctx, false);
}

static void
test_oneshot_nesting(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GString) log = g_string_new("");
    Item items[2];
    bool nested_progress = false;

    g_test_summary("B14/B11: a oneshot whose callback runs a nested pass is "
                   "freed once, after its callback; the nested pass runs the "
                   "rest.");

    items_init(items, G_N_ELEMENTS(items), ctx, log);
    aio_bh_schedule_oneshot(ctx, nest_once_in_oneshot_cb, &nested_progress);
    schedule_ids(items, "AB");
    g_assert_true(aio_poll(ctx, false));
    g_assert_true(nested_progress);
    g_assert_cmpstr(log->str, ==, "AB");
    g_assert_false(aio_poll(ctx, false));

    items_delete(items, G_N_ELEMENTS(items));
    aio_context_unref(ctx);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/bh/B1/schedule-never-runs-synchronously",
                    test_schedule_never_synchronous);
    g_test_add_func("/bh/B2/coalesces-repeated-schedules",
                    test_coalesces_repeated_schedules);
    g_test_add_func("/bh/B2/coalesces-schedule-and-schedule-idle",
                    test_coalesces_schedule_and_schedule_idle);
    g_test_add_func("/bh/B2/coalesces-schedule-from-earlier-callback",
                    test_coalesces_schedule_from_earlier_callback);
    g_test_add_func("/bh/B3/self-schedule-runs-in-next-pass",
                    test_self_schedule_runs_in_next_pass);
    g_test_add_func("/bh/B3/self-schedule-idle-runs-in-next-pass",
                    test_self_schedule_idle_runs_in_next_pass);
    g_test_add_func("/bh/B3/schedule-other-bh-from-callback",
                    test_schedule_other_from_callback);
    g_test_add_func("/bh/B4/runs-in-schedule-order", test_fifo_order_of_three);
    g_test_add_func("/bh/B4/random-permutation-of-1000",
                    test_fifo_order_of_random_permutation);
    g_test_add_func("/bh/B4/idle-and-normal-share-one-order",
                    test_fifo_order_mixes_idle_and_normal);
    g_test_add_func("/bh/B4/oneshots-share-the-order", test_fifo_order_includes_oneshots);
    g_test_add_func("/bh/B4/cancelled-then-rescheduled",
                    test_fifo_order_cancelled_then_rescheduled);
    g_test_add_func("/bh/B5/self-rescheduling-bh-runs-once-per-pass",
                    test_self_rescheduling_bh_runs_once_per_pass);
    g_test_add_func("/bh/B5/chain-runs-one-link-per-pass",
                    test_chain_runs_one_link_per_pass);
    g_test_add_func("/bh/B5/pass-runs-each-pending-bh-once",
                    test_pass_runs_each_pending_bh_once);
    g_test_add_func("/bh/B6/aio-bh-poll-return-values", test_aio_bh_poll_return_values);
    g_test_add_func("/bh/B7/idle-bh-runs-but-is-not-progress",
                    test_idle_bh_runs_but_is_not_progress);
    g_test_add_func("/bh/B7/schedule-upgrades-pending-idle",
                    test_schedule_upgrades_pending_idle);
    g_test_add_func("/bh/B7/schedule-idle-keeps-pending-normal",
                    test_schedule_idle_keeps_pending_normal);
    g_test_add_func("/bh/B7/blocking-poll-with-idle-bh-sleeps-at-most-10ms",
                    test_blocking_poll_with_idle_bh_sleeps_at_most_10ms);
    g_test_add_func("/bh/B8/timeout-unchanged-when-nothing-pending",
                    test_update_timeout_unchanged_when_nothing_pending);
    g_test_add_func("/bh/B8/timeout-zero-with-normal-pending",
                    test_update_timeout_zero_with_normal_pending);
    g_test_add_func("/bh/B8/timeout-at-most-10-with-only-idle",
                    test_update_timeout_at_most_10_with_only_idle);
    g_test_add_func("/bh/B9/cancelled-bh-does-not-run-and-can-be-rescheduled",
                    test_cancelled_bh_does_not_run_and_can_be_rescheduled);
    g_test_add_func("/bh/B9/cancel-from-callback-in-same-pass",
                    test_cancel_from_callback_in_same_pass);
    g_test_add_func("/bh/B10/deleted-pending-bh-never-runs",
                    test_deleted_pending_bh_never_runs);
    g_test_add_func("/bh/B10/delete-from-own-callback", test_delete_from_own_callback);
    g_test_add_func("/bh/B10/delete-other-pending-bh-from-callback",
                    test_delete_other_pending_bh_from_callback);
    g_test_add_func("/bh/B10/delete-many-from-one-callback",
                    test_delete_many_from_one_callback);
    g_test_add_func("/bh/B11/oneshot-runs-exactly-once", test_oneshot_runs_exactly_once);
    g_test_add_func("/bh/B11/oneshot-from-callback-runs-in-next-pass",
                    test_oneshot_from_callback_runs_in_next_pass);
    g_test_add_func("/bh/B13/schedule-makes-no-syscall-when-awake",
                    test_schedule_makes_no_syscall_when_awake);
    g_test_add_func("/bh/B14/nested-poll-continues-outer-pass",
                    test_nested_poll_continues_outer_pass);
    g_test_add_func("/bh/B14/doubly-nested-poll", test_doubly_nested_poll);
    g_test_add_func("/bh/B14/delete-inside-nested-pass", test_delete_inside_nested_pass);
    g_test_add_func("/bh/B14/delete-self-then-nested-poll",
                    test_delete_self_then_nested_poll);
    g_test_add_func("/bh/B14/deleted-by-nested-pass-while-running",
                    test_deleted_by_nested_pass_while_running);
    g_test_add_func("/bh/B14/oneshot-runs-nested-pass", test_oneshot_nesting);

    return g_test_run();
}
