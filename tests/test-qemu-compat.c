/* test-qemu-compat.c: QEMU-style code compiled through <gaio/qemu-compat.h>
 * (SPEC section 0), written the way QEMU's tests/unit/test-aio.c is: one
 * static context, QEMU's spellings only (QEMUTimer, timer_mod,
 * qemu_clock_get_ns, SCALE_MS, aio_timer_init, ...), an event notifier waited
 * on with aio_poll(), a timer re-armed from its callback, and a GSource
 * variant of each on a private GMainContext; and QEMU's
 * tests/unit/test-aio-multithread.c lifecycle over iothread_new().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gaio/qemu-compat.h>

#include "gaio-test.h"

/* QEMU's container_of, which QEMU code takes from osdep.h. */
#define container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static AioContext *ctx;
static GMainContext *main_ctx;

typedef struct {
    EventNotifier e;
    int n;
    int active;
    bool auto_set;
} EventNotifierTestData;

typedef struct {
    QEMUBH *bh;
    int n;
    int max;
} BHTestData;

typedef struct {
    QEMUTimer timer;
    QEMUClockType clock_type;
    int n;
    int max;
    int64_t ns;
    int64_t expiry;     /* the deadline of the current arming */
    int64_t fired_at;   /* the clock, read as the callback starts */
    AioContext *seen;   /* qemu_get_current_aio_context() in the callback */
} TimerTestData;

/* Wait until the event notifier becomes inactive. */
static void
wait_until_inactive(EventNotifierTestData *data)
{
    while (data->active > 0) {
        aio_poll(ctx, true);
    }
}

/* The same through GLib. */
static void
source_wait_until_inactive(EventNotifierTestData *data)
{
    while (data->active > 0) {
        g_main_context_iteration(main_ctx, true);
    }
}

static void
bh_test_cb(void *opaque)
{
    BHTestData *data = opaque;

    if (++data->n < data->max) {
        qemu_bh_schedule(data->bh);
    }
}

static void
timer_test_cb(void *opaque)
{
    TimerTestData *data = opaque;

    data->fired_at = qemu_clock_get_ns(data->clock_type);
    data->seen = qemu_get_current_aio_context();
    /* Never early. */
    g_assert_cmpint(data->fired_at, >=, data->expiry);
    g_assert_false(timer_pending(&data->timer));
    if (++data->n < data->max) {
        data->expiry = qemu_clock_get_ns(data->clock_type) + data->ns;
        timer_mod(&data->timer, data->expiry);
    }
}

static void
dummy_io_handler_read(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
}

static void
event_ready_cb(EventNotifier *e)
{
    EventNotifierTestData *data = container_of(e, EventNotifierTestData, e);

    g_assert_true(event_notifier_test_and_clear(e));
    data->n++;
    if (data->active > 0) {
        data->active--;
    }
    if (data->auto_set && data->active) {
        event_notifier_set(e);
    }
}

static void
set_event_notifier(AioContext *nctx, EventNotifier *notifier, EventNotifierHandler *handler)
{
    aio_set_event_notifier(nctx, notifier, handler, NULL, NULL);
}

/* Drains what adding or removing a handler may have left: a wakeup is not
 * progress under aio_poll(), but GLib reports its dispatch. */
static void
source_flush(void)
{
    int n = 0;

    while (g_main_context_iteration(main_ctx, false)) {
        g_assert_cmpint(++n, <, 100);
    }
}

/* ------------------------------------------------------ aio_poll() */

static void
test_set_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 0 };

    g_test_summary("P1 (QEMU's /aio/event/add-remove): adding and removing an "
                   "event notifier is not progress.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    set_event_notifier(ctx, &data.e, NULL);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
    event_notifier_cleanup(&data.e);
}

static void
test_wait_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 1 };

    g_test_summary("F1 (QEMU's /aio/event/wait): a set notifier runs its handler "
                   "in one aio_poll(), which returns true; the next returns false.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 1);

    event_notifier_set(&data.e);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    set_event_notifier(ctx, &data.e, NULL);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    event_notifier_cleanup(&data.e);
}

static void
test_flush_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 10, .auto_set = true };

    g_test_summary("F1 (QEMU's /aio/event/flush): a handler that sets its own "
                   "notifier again runs once per aio_poll() until it stops.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 10);

    event_notifier_set(&data.e);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 9);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    wait_until_inactive(&data);
    g_assert_cmpint(data.n, ==, 10);
    g_assert_cmpint(data.active, ==, 0);
    g_assert_false(aio_poll(ctx, false));

    set_event_notifier(ctx, &data.e, NULL);
    g_assert_false(aio_poll(ctx, false));
    event_notifier_cleanup(&data.e);
}

static void
test_wait_event_notifier_noflush(void)
{
    EventNotifierTestData data = { .n = 0 };
    EventNotifierTestData dummy = { .n = 0, .active = 1 };

    g_test_summary("F1 (QEMU's /aio/event/wait/no-flush-cb): a notifier whose "
                   "handler runs once per set, beside one that is set only once.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 0);

    event_notifier_set(&data.e);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(data.n, ==, 1);

    event_notifier_init(&dummy.e, false);
    set_event_notifier(ctx, &dummy.e, event_ready_cb);

    event_notifier_set(&data.e);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    event_notifier_set(&dummy.e);
    wait_until_inactive(&dummy);
    g_assert_cmpint(data.n, ==, 2);
    g_assert_cmpint(dummy.n, ==, 1);
    g_assert_cmpint(dummy.active, ==, 0);

    set_event_notifier(ctx, &dummy.e, NULL);
    event_notifier_cleanup(&dummy.e);

    set_event_notifier(ctx, &data.e, NULL);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    event_notifier_cleanup(&data.e);
}

/* While the clock is still before @data's expiry, a non-blocking aio_poll()
 * runs nothing. (Past it, on a stalled machine, nothing is asserted.) */
static void
poll_before_expiry(TimerTestData *data)
{
    int n = data->n;
    bool progress = aio_poll(ctx, false);

    if (qemu_clock_get_ns(data->clock_type) < data->expiry) {
        g_assert_false(progress);
        g_assert_cmpint(data->n, ==, n);
    }
}

static void
sleep_past(TimerTestData *data)
{
    while (qemu_clock_get_ns(data->clock_type) < data->expiry) {
        g_usleep(1000);
    }
}

static void
test_timer_schedule(void)
{
    TimerTestData data = { .n = 0, .ns = SCALE_MS * 100LL, .max = 2,
                           .clock_type = QEMU_CLOCK_REALTIME };
    EventNotifier e;

    g_test_summary("T1 (QEMU's /aio/timer/schedule): a timer re-armed from its "
                   "callback with timer_mod(qemu_clock_get_ns() + ns): aio_poll() "
                   "runs nothing before the deadline (false), runs it after "
                   "(true), and a blocking aio_poll() waits for the re-armed one.");

    /* QEMU needs an fd for aio_poll() to block on timers; gaio does not, but
     * QEMU's test has one, and so does this port. */
    event_notifier_init(&e, false);
    set_event_notifier(ctx, &e, dummy_io_handler_read);
    g_assert_false(aio_poll(ctx, false));

    aio_timer_init(ctx, &data.timer, data.clock_type, SCALE_NS, timer_test_cb, &data);
    data.expiry = qemu_clock_get_ns(data.clock_type) + data.ns;
    timer_mod(&data.timer, data.expiry);
    g_assert_true(timer_pending(&data.timer));
    g_assert_cmpuint(timer_expire_time_ns(&data.timer), ==, (uint64_t)data.expiry);
    g_assert_cmpint(data.n, ==, 0);

    poll_before_expiry(&data);

    sleep_past(&data);
    if (data.n == 0) {
        g_assert_true(aio_poll(ctx, false));
    }
    g_assert_cmpint(data.n, ==, 1);
    g_assert_true(data.seen == ctx);

    /* timer_mod called by our callback */
    poll_before_expiry(&data);
    if (data.n == 1) {
        g_assert_true(aio_poll(ctx, true));
    }
    g_assert_cmpint(data.n, ==, 2);
    g_assert_cmpint(data.fired_at, >=, data.expiry);

    /* As max is now 2, the timer was not re-armed. */
    g_assert_false(timer_pending(&data.timer));
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    set_event_notifier(ctx, &e, NULL);
    event_notifier_cleanup(&e);

    timer_del(&data.timer);
    timer_deinit(&data.timer);
}

/* ------------------------------------------------- the GSource variants */

static void
test_source_set_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 0 };

    g_test_summary("P1 (QEMU's /aio-gsource/event/add-remove): through "
                   "g_main_context_iteration(), adding and removing a notifier "
                   "runs nothing and the loop goes quiet.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    source_flush();
    g_assert_cmpint(data.n, ==, 0);

    set_event_notifier(ctx, &data.e, NULL);
    source_flush();
    g_assert_cmpint(data.n, ==, 0);
    event_notifier_cleanup(&data.e);
}

static void
test_source_wait_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 1 };

    g_test_summary("F1 (QEMU's /aio-gsource/event/wait): a set notifier runs its "
                   "handler in one g_main_context_iteration().");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    source_flush();
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 1);

    event_notifier_set(&data.e);
    g_assert_true(g_main_context_iteration(main_ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    g_assert_false(g_main_context_iteration(main_ctx, false));
    g_assert_cmpint(data.n, ==, 1);

    set_event_notifier(ctx, &data.e, NULL);
    source_flush();
    g_assert_cmpint(data.n, ==, 1);

    event_notifier_cleanup(&data.e);
}

static void
test_source_flush_event_notifier(void)
{
    EventNotifierTestData data = { .n = 0, .active = 10, .auto_set = true };

    g_test_summary("F1 (QEMU's /aio-gsource/event/flush): a handler that sets its "
                   "own notifier again runs once per iteration until it stops.");

    event_notifier_init(&data.e, false);
    set_event_notifier(ctx, &data.e, event_ready_cb);
    source_flush();
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 10);

    event_notifier_set(&data.e);
    g_assert_true(g_main_context_iteration(main_ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 9);
    g_assert_true(g_main_context_iteration(main_ctx, false));
    g_assert_cmpint(data.n, ==, 2);

    source_wait_until_inactive(&data);
    g_assert_cmpint(data.n, ==, 10);
    g_assert_cmpint(data.active, ==, 0);
    g_assert_false(g_main_context_iteration(main_ctx, false));

    set_event_notifier(ctx, &data.e, NULL);
    source_flush();
    event_notifier_cleanup(&data.e);
}

static void
test_source_timer_schedule(void)
{
    TimerTestData data = { .n = 0, .ns = SCALE_MS * 100LL, .max = 2,
                           .clock_type = QEMU_CLOCK_REALTIME };
    int64_t start;

    g_test_summary("T1 (QEMU's /aio-gsource/timer/schedule): the re-armed timer "
                   "through g_main_context_iteration(): each blocking iteration "
                   "returns true with one more run, never before its deadline.");

    source_flush();
    aio_timer_init(ctx, &data.timer, data.clock_type, SCALE_NS, timer_test_cb, &data);
    start = qemu_clock_get_ns(data.clock_type);
    data.expiry = start + data.ns;
    timer_mod(&data.timer, data.expiry);
    g_assert_cmpint(data.n, ==, 0);

    g_assert_true(g_main_context_iteration(main_ctx, true));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_true(data.seen == ctx);
    g_assert_cmpint(data.fired_at, >=, start + data.ns);

    g_assert_true(g_main_context_iteration(main_ctx, true));
    g_assert_cmpint(data.n, ==, 2);
    g_assert_cmpint(qemu_clock_get_ns(data.clock_type), >=, start + 2 * data.ns);

    g_assert_false(g_main_context_iteration(main_ctx, false));
    timer_del(&data.timer);
    timer_deinit(&data.timer);
}

/* ------------------------------------------- the rest of the compat header */

static void
test_clocks(void)
{
    int64_t ns, us, ms;

    g_test_summary("Section 0: qemu_clock_get_ns/us/ms read one clock in three "
                   "units; QEMU_CLOCK_HOST is the wall clock.");

    ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    us = qemu_clock_get_us(QEMU_CLOCK_REALTIME);
    ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    g_assert_cmpint(ms, <=, us / 1000);
    g_assert_cmpint(us, <=, ns / 1000);
    g_assert_cmpint(ns / SCALE_MS - ms, <, 1000);
    g_assert_cmpint(llabs(qemu_clock_get_ms(QEMU_CLOCK_HOST) - g_get_real_time() / 1000), <,
                    1000);
    g_assert_cmpint(SCALE_NS, ==, 1);
    g_assert_cmpint(SCALE_US, ==, 1000);
    g_assert_cmpint(SCALE_MS, ==, 1000000);
}

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

static void
test_timer_new_on_default_context(void)
{
    AioContext *main_loop = qemu_get_aio_context();
    int fired[4] = {0};
    QEMUTimer *t[4];
    int64_t now_ms;

    g_test_summary("Section 0: timer_new_ns/us/ms and timer_new make timers of "
                   "the default context (QEMU's main loop); each fires there "
                   "once; timer_free frees them.");

    t[0] = timer_new_ns(QEMU_CLOCK_REALTIME, count_cb, &fired[0]);
    t[1] = timer_new_us(QEMU_CLOCK_REALTIME, count_cb, &fired[1]);
    t[2] = timer_new_ms(QEMU_CLOCK_HOST, count_cb, &fired[2]);
    t[3] = timer_new(QEMU_CLOCK_REALTIME, SCALE_MS, count_cb, &fired[3]);

    now_ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    timer_mod(t[0], qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + 1 * SCALE_MS);
    timer_mod(t[1], qemu_clock_get_us(QEMU_CLOCK_REALTIME) + 2000);
    timer_mod(t[2], qemu_clock_get_ms(QEMU_CLOCK_HOST) + 3);
    timer_mod(t[3], now_ms + 4);
    g_assert_cmpuint(timer_expire_time_ns(t[3]), ==, (uint64_t)(now_ms + 4) * SCALE_MS);

    while (fired[0] + fired[1] + fired[2] + fired[3] < 4) {
        aio_poll(main_loop, true);
    }
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(fired[i], ==, 1);
        g_assert_false(timer_pending(t[i]));
        timer_free(t[i]);
    }
    timer_free(NULL);
    g_assert_false(aio_poll(main_loop, false));
}

static void
test_timer_init_on_default_context(void)
{
    QEMUTimer ns, us, ms, any;
    int fired = 0;

    g_test_summary("Section 0: timer_init_ns/us/ms and timer_init set up "
                   "embedded timers of the default context, in their scale; "
                   "timer_deinit undoes them.");

    timer_init_ns(&ns, QEMU_CLOCK_REALTIME, count_cb, &fired);
    timer_init_us(&us, QEMU_CLOCK_REALTIME, count_cb, &fired);
    timer_init_ms(&ms, QEMU_CLOCK_REALTIME, count_cb, &fired);
    timer_init(&any, QEMU_CLOCK_REALTIME, 10, count_cb, &fired);
    timer_mod(&ns, 5);
    timer_mod(&us, 5);
    timer_mod(&ms, 5);
    timer_mod(&any, 5);
    g_assert_cmpuint(timer_expire_time_ns(&ns), ==, 5);
    g_assert_cmpuint(timer_expire_time_ns(&us), ==, 5 * SCALE_US);
    g_assert_cmpuint(timer_expire_time_ns(&ms), ==, 5 * SCALE_MS);
    g_assert_cmpuint(timer_expire_time_ns(&any), ==, 50);

    /* All four are long past due: one pass of the default context. */
    g_assert_true(aio_poll(qemu_get_aio_context(), false));
    g_assert_cmpint(fired, ==, 4);

    timer_deinit(&ns);
    timer_deinit(&us);
    timer_deinit(&ms);
    timer_deinit(&any);
}

static void
test_timer_queries(void)
{
    QEMUTimer t;
    const QEMUTimer *ct = &t;

    g_test_summary("Section 0: timer_pending, timer_expired, "
                   "timer_expire_time_ns (QEMU's uint64_t, -1 when unarmed), "
                   "timer_mod_ns, timer_mod_anticipate(_ns), timer_del, with "
                   "QEMU's meaning; the queries take a const timer.");

    aio_timer_init(ctx, &t, QEMU_CLOCK_REALTIME, SCALE_US, count_cb, NULL);
    g_assert_false(timer_pending(ct));
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, (uint64_t)-1);
    g_assert_true(timer_expired(ct, 0));

    timer_mod(&t, 1000);
    g_assert_true(timer_pending(ct));
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 1000 * SCALE_US);
    g_assert_false(timer_expired(ct, 999));
    g_assert_true(timer_expired(ct, 1000));

    timer_mod_anticipate(&t, 2000);
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 1000 * SCALE_US);
    timer_mod_anticipate(&t, 500);
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 500 * SCALE_US);
    timer_mod_anticipate_ns(&t, 600 * SCALE_US);
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 500 * SCALE_US);
    timer_mod_anticipate_ns(&t, 7);
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 7);
    timer_mod_ns(&t, 123456789);
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, 123456789);

    timer_del(&t);
    g_assert_false(timer_pending(ct));
    g_assert_cmpuint(timer_expire_time_ns(ct), ==, (uint64_t)-1);
    timer_deinit(&t);
}

static void
record_current_cb(void *opaque)
{
    *(AioContext **)opaque = qemu_get_current_aio_context();
}

static void
test_current_aio_context(void)
{
    AioContext *seen = NULL;
    QEMUBH *bh = aio_bh_new(ctx, record_current_cb, &seen);
    QEMUTimer t;

    g_test_summary("I1/section 0: qemu_get_current_aio_context() is the context "
                   "the thread runs (in a BH under aio_poll(), in a timer under "
                   "GLib), else the default context.");

    g_assert_true(qemu_get_current_aio_context() == qemu_get_aio_context());

    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_true(seen == ctx);

    seen = NULL;
    aio_timer_init(ctx, &t, QEMU_CLOCK_REALTIME, SCALE_NS, record_current_cb, &seen);
    timer_mod_ns(&t, 0);
    source_flush();
    g_assert_true(seen == ctx);
    timer_deinit(&t);

    g_assert_true(qemu_get_current_aio_context() == qemu_get_aio_context());
    qemu_bh_delete(bh);
}

/* What QEMU's device code declares; gaio only passes it through. */
typedef struct {
    bool engaged_in_io;
} MemReentrancyGuard;

static int guard_evaluations;

static MemReentrancyGuard *
guard_of(MemReentrancyGuard *guard)
{
    guard_evaluations++;
    return guard;
}

static void
test_bh_new_guarded(void)
{
    MemReentrancyGuard guard = { .engaged_in_io = false };
    BHTestData data = { .n = 0 };
    BHTestData main_data = { .n = 0 };

    g_test_summary("Section 0: aio_bh_new_guarded and qemu_bh_new_guarded make "
                   "ordinary BHs (of the given and of the default context); the "
                   "guard is evaluated once and otherwise ignored.");

    data.bh = aio_bh_new_guarded(ctx, bh_test_cb, &data, guard_of(&guard));
    g_assert_cmpint(guard_evaluations, ==, 1);
    qemu_bh_schedule(data.bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    qemu_bh_delete(data.bh);

    main_data.bh = qemu_bh_new_guarded(bh_test_cb, &main_data, guard_of(&guard));
    g_assert_cmpint(guard_evaluations, ==, 2);
    qemu_bh_schedule(main_data.bh);
    g_assert_true(aio_poll(qemu_get_aio_context(), true));
    g_assert_cmpint(main_data.n, ==, 1);
    qemu_bh_delete(main_data.bh);
    g_assert_false(guard.engaged_in_io);
}

/* QEMU's tests/unit/test-aio-multithread.c: NUM_CONTEXTS I/O threads made by
 * tests/unit/iothread.h's helpers, a function run synchronously in each, and
 * a BH that hops from context to context. QemuEvent is an atomic flag here. */
#define NUM_CONTEXTS 5

static IOThread *threads[NUM_CONTEXTS];
static AioContext *ctxs[NUM_CONTEXTS];
static __thread int id = -1;
static atomic_bool done_event;

typedef struct CtxRunData {
    QEMUBHFunc *cb;
    void *arg;
} CtxRunData;

static void
ctx_run_bh_cb(void *opaque)
{
    CtxRunData *data = opaque;

    data->cb(data->arg);
    atomic_store(&done_event, true);
}

/* Run a function synchronously on a remote iothread. */
static void
ctx_run(int i, QEMUBHFunc *cb, void *opaque)
{
    CtxRunData data = {.cb = cb, .arg = opaque};

    atomic_store(&done_event, false);
    aio_bh_schedule_oneshot(ctxs[i], ctx_run_bh_cb, &data);
    while (!atomic_load(&done_event)) {
        sched_yield();
    }
}

static void
set_id_cb(void *opaque)
{
    int *i = opaque;

    id = *i;
}

static int seen_ids[NUM_CONTEXTS];

static void
get_id_cb(void *opaque)
{
    int *i = opaque;

    seen_ids[*i] = id;
}

static void
create_aio_contexts(void)
{
    int i;

    for (i = 0; i < NUM_CONTEXTS; i++) {
        threads[i] = iothread_new();
        ctxs[i] = iothread_get_aio_context(threads[i]);
    }
    for (i = 0; i < NUM_CONTEXTS; i++) {
        ctx_run(i, set_id_cb, &i);
    }
}

static void
join_aio_contexts(void)
{
    int i;

    for (i = 0; i < NUM_CONTEXTS; i++) {
        aio_context_ref(ctxs[i]);
    }
    for (i = 0; i < NUM_CONTEXTS; i++) {
        iothread_join(threads[i]);
    }
    for (i = 0; i < NUM_CONTEXTS; i++) {
        aio_context_unref(ctxs[i]);
    }
}

static void
test_multi_lifecycle(void)
{
    g_test_summary("Section 0 (QEMU's /aio/multi/lifecycle): iothread_new(), "
                   "iothread_get_aio_context() and iothread_join() as QEMU's "
                   "tests/unit/iothread.h spells them; each thread keeps its own "
                   "thread-local state, set and read back through its context.");
    create_aio_contexts();
    for (int i = 0; i < NUM_CONTEXTS; i++) {
        g_assert_nonnull(ctxs[i]);
        ctx_run(i, get_id_cb, &i);
        g_assert_cmpint(seen_ids[i], ==, i);
    }
    /* The main thread's own copy was never set. */
    g_assert_cmpint(id, ==, -1);
    join_aio_contexts();
}

/* A BH that hops from context to context, counting in each (QEMU's
 * /aio/multi/schedule, with BHs instead of coroutines). */
static atomic_uint hops;
static atomic_uint wrong_thread;
static atomic_bool hops_done;
static QEMUBH *hop_bhs[NUM_CONTEXTS];
static int hop_max;

static void
hop_cb(void *opaque)
{
    int i = GPOINTER_TO_INT(opaque);

    if (id != i || qemu_get_current_aio_context() != ctxs[i]) {
        atomic_fetch_add(&wrong_thread, 1);
    }
    if (atomic_fetch_add(&hops, 1) + 1 >= (unsigned)hop_max) {
        atomic_store(&hops_done, true);
        return;
    }
    qemu_bh_schedule(hop_bhs[(i + 1) % NUM_CONTEXTS]);
}

static void
test_multi_schedule(void)
{
    g_test_summary("Section 0 (QEMU's /aio/multi/schedule): a BH hopping across "
                   "NUM_CONTEXTS iothreads runs in each one's own thread, and "
                   "every hop is counted.");
    hop_max = (int)gaio_test_scale(10000);
    create_aio_contexts();
    for (int i = 0; i < NUM_CONTEXTS; i++) {
        hop_bhs[i] = aio_bh_new(ctxs[i], hop_cb, GINT_TO_POINTER(i));
    }
    qemu_bh_schedule(hop_bhs[0]);
    while (!atomic_load(&hops_done)) {
        sched_yield();
    }
    g_assert_cmpuint(atomic_load(&hops), ==, (unsigned)hop_max);
    g_assert_cmpuint(atomic_load(&wrong_thread), ==, 0);
    for (int i = 0; i < NUM_CONTEXTS; i++) {
        qemu_bh_delete(hop_bhs[i]);
    }
    join_aio_contexts();
}

/* End of tests. */

int
main(int argc, char **argv)
{
    GSource *source;
    int ret;

    gaio_test_init(&argc, &argv);
    /* A failed check fails its test and the run goes on to the next one, so
     * one broken rule does not hide the state of the others. */
    g_test_set_nonfatal_assertions();

    ctx = gaio_test_context_new();
    main_ctx = g_main_context_new();
    source = aio_get_g_source(ctx);
    g_source_attach(source, main_ctx);
    while (g_main_context_iteration(main_ctx, false)) {
    }

    g_test_add_func("/qemu-compat/aio/P1/event/add-remove", test_set_event_notifier);
    g_test_add_func("/qemu-compat/aio/F1/event/wait", test_wait_event_notifier);
    g_test_add_func("/qemu-compat/aio/F1/event/wait/no-flush-cb",
                    test_wait_event_notifier_noflush);
    g_test_add_func("/qemu-compat/aio/F1/event/flush", test_flush_event_notifier);
    g_test_add_func("/qemu-compat/aio/T1/timer/schedule", test_timer_schedule);

    g_test_add_func("/qemu-compat/aio-gsource/P1/event/add-remove",
                    test_source_set_event_notifier);
    g_test_add_func("/qemu-compat/aio-gsource/F1/event/wait", test_source_wait_event_notifier);
    g_test_add_func("/qemu-compat/aio-gsource/F1/event/flush", test_source_flush_event_notifier);
    g_test_add_func("/qemu-compat/aio-gsource/T1/timer/schedule", test_source_timer_schedule);

    g_test_add_func("/qemu-compat/0/clocks", test_clocks);
    g_test_add_func("/qemu-compat/0/timer-new-on-default-context",
                    test_timer_new_on_default_context);
    g_test_add_func("/qemu-compat/0/timer-init-on-default-context",
                    test_timer_init_on_default_context);
    g_test_add_func("/qemu-compat/0/timer-queries", test_timer_queries);
    g_test_add_func("/qemu-compat/I1/current-aio-context", test_current_aio_context);
    g_test_add_func("/qemu-compat/0/bh-new-guarded", test_bh_new_guarded);
    g_test_add_func("/qemu-compat/aio/multi/lifecycle", test_multi_lifecycle);
    g_test_add_func("/qemu-compat/aio/multi/schedule", test_multi_schedule);

    ret = g_test_run();

    g_source_destroy(source);
    g_source_unref(source);
    aio_context_unref(ctx);
    g_main_context_unref(main_ctx);
    return ret;
}
