/* test-notifier.c: event notifiers of an AioContext (SPEC section 5: the
 * EventNotifier API, aio_set_event_notifier(), F1 and P1), each test under
 * aio_poll() and under g_main_context_iteration(). The sequences follow the
 * event-notifier tests of QEMU's tests/unit/test-aio.c, with the exact return
 * value of every call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-loop.h"

#include <errno.h>
#include <fcntl.h>

/* A notifier and what its handler saw. The handler clears the notifier,
 * counts the run and, while `active` is positive, counts it down; with
 * `auto_set` it sets the notifier again until `active` reaches 0. */
typedef struct {
    EventNotifier e;
    int n;
    int active;
    bool auto_set;
} NotifierData;

static NotifierData *
notifier_data_of(EventNotifier *e)
{
    return (NotifierData *)(void *)((char *)e - G_STRUCT_OFFSET(NotifierData, e));
}

static void
notifier_ready_cb(EventNotifier *e)
{
    NotifierData *data = notifier_data_of(e);

    /* F1: the handler runs only while the notifier is set. */
    g_assert_true(event_notifier_test_and_clear(e));
    data->n++;
    if (data->active > 0)
        data->active--;
    if (data->auto_set && data->active > 0)
        g_assert_cmpint(event_notifier_set(e), ==, 0);
}

static void
notifier_data_init(NotifierData *data, int active, bool auto_set)
{
    memset(data, 0, sizeof *data);
    data->active = active;
    data->auto_set = auto_set;
    g_assert_cmpint(event_notifier_init(&data->e, false), ==, 0);
}

static void
set_notifier(GaioTestLoop *loop, NotifierData *data, EventNotifierHandler *handler)
{
    aio_set_event_notifier(loop->ctx, &data->e, handler, NULL, NULL);
}

/* QEMU's wait_until_inactive(), with a bound: blocking iterations until the
 * handler counted `active` down to 0; each one must have made progress. */
static void
wait_until_inactive(GaioTestLoop *loop, NotifierData *data)
{
    int iterations = 0;

    while (data->active > 0) {
        g_assert_true(gaio_test_loop_iterate(loop, true));
        g_assert_cmpint(++iterations, <=, 1000);
    }
}

/* ----------------------------------------------------- the notifier itself */

static void
test_notifier_api(void)
{
    EventNotifier e, never = {0};
    int fd, flags;

    g_test_summary("Section 5: event_notifier_init/set/test_and_clear/get_fd/"
                   "cleanup: a level-triggered flag on a non-blocking, "
                   "close-on-exec eventfd; sets coalesce; cleanup is idempotent.");

    g_assert_cmpint(event_notifier_init(&e, false), ==, 0);
    fd = event_notifier_get_fd(&e);
    g_assert_cmpint(fd, >=, 0);
    flags = fcntl(fd, F_GETFL);
    g_assert_cmpint(flags, !=, -1);
    g_assert_cmpint(flags & O_NONBLOCK, ==, O_NONBLOCK);
    g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);

    g_assert_false(event_notifier_test_and_clear(&e));
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));
    event_notifier_cleanup(&e);
    g_assert_cmpint(event_notifier_get_fd(&e), ==, -1);
    event_notifier_cleanup(&e);

    g_assert_cmpint(event_notifier_init(&e, true), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));
    event_notifier_cleanup(&e);

    /* Zeroed, never initialized: no fd (in particular not fd 0), and
     * cleanup does nothing. */
    g_assert_cmpint(event_notifier_get_fd(&never), ==, -1);
    event_notifier_cleanup(&never);
    g_assert_cmpint(fcntl(0, F_GETFD), !=, -1);
}

/* ------------------------------------------------------------------ P1 */

static void
test_add_remove_is_not_progress(gconstpointer mode)
{
    NotifierData data;
    GaioTestLoop loop;

    g_test_summary("P1: adding and removing an event notifier is not progress: "
                   "aio_poll() returns false, GLib goes quiet, the handler does "
                   "not run. A set notifier added and removed before any pass "
                   "never runs its handler and stays set.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&data, 0, false);

    set_notifier(&loop, &data, notifier_ready_cb);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 0);

    set_notifier(&loop, &data, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 0);

    /* Set, then added and removed with no pass between. */
    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    set_notifier(&loop, &data, notifier_ready_cb);
    set_notifier(&loop, &data, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 0);
    g_assert_true(event_notifier_test_and_clear(&data.e));

    /* Removing a notifier that is not registered does nothing. */
    set_notifier(&loop, &data, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    event_notifier_cleanup(&data.e);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ F1 */

static void
test_wait_for_one_set(gconstpointer mode)
{
    NotifierData data;
    GaioTestLoop loop;

    g_test_summary("F1: QEMU's event/wait: a notifier set once runs its handler "
                   "in exactly one pass (true), then the loop is quiet (false); "
                   "a blocking iteration with it set does not sleep.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&data, 1, false);
    set_notifier(&loop, &data, notifier_ready_cb);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 1);

    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_cmpint(data.active, ==, 0);

    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(data.n, ==, 1);

    /* Set before a blocking iteration: no sleep (the watchdog catches one). */
    data.active = 1;
    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(data.n, ==, 2);
    g_assert_cmpint(data.active, ==, 0);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    /* Two sets before a pass: one run (the handler clears both). */
    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(data.n, ==, 3);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    set_notifier(&loop, &data, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 3);

    event_notifier_cleanup(&data.e);
    gaio_test_loop_clear(&loop);
}

static void
test_initially_active_runs_at_first_pass(gconstpointer mode)
{
    NotifierData data = {0};
    GaioTestLoop loop;

    g_test_summary("F1: a notifier initialized active (event_notifier_init(e, "
                   "true)) runs its handler at the first pass after it is added.");

    gaio_test_loop_init(&loop, mode);
    g_assert_cmpint(event_notifier_init(&data.e, true), ==, 0);
    set_notifier(&loop, &data, notifier_ready_cb);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(data.n, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    set_notifier(&loop, &data, NULL);
    event_notifier_cleanup(&data.e);
    gaio_test_loop_clear(&loop);
}

static void
test_rearmed_ten_times_from_own_callback(gconstpointer mode)
{
    NotifierData data;
    GaioTestLoop loop;

    g_test_summary("F1: QEMU's event/flush: a handler that sets its own notifier "
                   "again runs once per pass (each iteration returns true) until "
                   "it stops, ten times; then the loop is quiet. The same through "
                   "blocking iterations (wait_until_inactive).");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&data, 10, true);
    set_notifier(&loop, &data, notifier_ready_cb);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 0);
    g_assert_cmpint(data.active, ==, 10);

    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    for (int i = 1; i <= 10; i++) {
        g_assert_true(gaio_test_loop_iterate(&loop, false));
        g_assert_cmpint(data.n, ==, i);
        g_assert_cmpint(data.active, ==, 10 - i);
    }
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(data.n, ==, 10);

    /* Again, waiting with blocking iterations. */
    data.active = 10;
    g_assert_cmpint(event_notifier_set(&data.e), ==, 0);
    wait_until_inactive(&loop, &data);
    g_assert_cmpint(data.n, ==, 20);
    g_assert_cmpint(data.active, ==, 0);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    set_notifier(&loop, &data, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(data.n, ==, 20);

    event_notifier_cleanup(&data.e);
    gaio_test_loop_clear(&loop);
}

static void
test_never_set_beside_one_that_is(gconstpointer mode)
{
    NotifierData quiet, busy;
    GaioTestLoop loop;

    g_test_summary("F1: QEMU's event/wait/no-flush-cb: beside a notifier that is "
                   "never set, one that is set runs its handler once per set, "
                   "through blocking and non-blocking iterations; the quiet one "
                   "never runs.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&quiet, 1, false);
    notifier_data_init(&busy, 0, false);
    set_notifier(&loop, &quiet, notifier_ready_cb);
    set_notifier(&loop, &busy, notifier_ready_cb);
    gaio_test_loop_assert_no_progress(&loop);

    for (int i = 1; i <= 5; i++) {
        g_assert_cmpint(event_notifier_set(&busy.e), ==, 0);
        g_assert_true(gaio_test_loop_iterate(&loop, i % 2 == 0));
        g_assert_cmpint(busy.n, ==, i);
        g_assert_false(gaio_test_loop_iterate(&loop, false));
        g_assert_cmpint(busy.n, ==, i);
        g_assert_cmpint(quiet.n, ==, 0);
    }

    /* The quiet one fires once, now; the busy one does not run for it. */
    g_assert_cmpint(event_notifier_set(&quiet.e), ==, 0);
    wait_until_inactive(&loop, &quiet);
    g_assert_cmpint(quiet.n, ==, 1);
    g_assert_cmpint(busy.n, ==, 5);

    set_notifier(&loop, &quiet, NULL);
    event_notifier_cleanup(&quiet.e);
    g_assert_cmpint(event_notifier_set(&busy.e), ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(busy.n, ==, 6);

    set_notifier(&loop, &busy, NULL);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(busy.n, ==, 6);
    event_notifier_cleanup(&busy.e);
    gaio_test_loop_clear(&loop);
}

/* Removes the other notifier's handler from inside its own. */
typedef struct {
    NotifierData data;
    AioContext *ctx;
    EventNotifier *victim;
} RemovingNotifier;

static void
removing_notifier_cb(EventNotifier *e)
{
    /* data is the first member. */
    RemovingNotifier *r = (RemovingNotifier *)(void *)notifier_data_of(e);

    notifier_ready_cb(e);
    if (r->victim != NULL) {
        aio_set_event_notifier(r->ctx, r->victim, NULL, NULL, NULL);
        r->victim = NULL;
    }
}

static void
test_remove_from_handler(gconstpointer mode)
{
    RemovingNotifier a, b;
    GaioTestLoop loop;

    g_test_summary("F2: two set notifiers whose handlers each remove the other's: "
                   "exactly one handler runs, ever; the removed one is never "
                   "called afterwards although its notifier stays set.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&a.data, 0, false);
    notifier_data_init(&b.data, 0, false);
    a.ctx = b.ctx = loop.ctx;
    a.victim = &b.data.e;
    b.victim = &a.data.e;
    aio_set_event_notifier(loop.ctx, &a.data.e, removing_notifier_cb, NULL, NULL);
    aio_set_event_notifier(loop.ctx, &b.data.e, removing_notifier_cb, NULL, NULL);
    gaio_test_loop_assert_no_progress(&loop);

    g_assert_cmpint(event_notifier_set(&a.data.e), ==, 0);
    g_assert_cmpint(event_notifier_set(&b.data.e), ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(a.data.n + b.data.n, ==, 1);
    for (int i = 0; i < 3; i++)
        g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(a.data.n + b.data.n, ==, 1);

    /* The survivor still works; the removed one's notifier is still set. */
    {
        RemovingNotifier *survivor = a.data.n == 1 ? &a : &b;
        RemovingNotifier *removed = a.data.n == 1 ? &b : &a;

        g_assert_true(event_notifier_test_and_clear(&removed->data.e));
        g_assert_cmpint(event_notifier_set(&survivor->data.e), ==, 0);
        g_assert_true(gaio_test_loop_iterate(&loop, false));
        g_assert_cmpint(survivor->data.n, ==, 2);
        g_assert_cmpint(removed->data.n, ==, 0);
        aio_set_event_notifier(loop.ctx, &survivor->data.e, NULL, NULL, NULL);
    }

    event_notifier_cleanup(&a.data.e);
    event_notifier_cleanup(&b.data.e);
    gaio_test_loop_clear(&loop);
}

/* --------------------------------------------------------- across threads */

typedef struct {
    EventNotifier *e;
    pid_t sleeper;
} SetterThread;

static gpointer
set_when_asleep_thread(gpointer opaque)
{
    SetterThread *s = opaque;

    gaio_test_wait_until_sleeping(s->sleeper);
    g_assert_cmpint(event_notifier_set(s->e), ==, 0);
    return NULL;
}

static void
test_set_from_thread_wakes_blocked_loop(gconstpointer mode)
{
    NotifierData data;
    GaioTestLoop loop;
    SetterThread setter;
    GThread *thread;

    g_test_summary("F1: a notifier set by another thread while the context's "
                   "thread sleeps (in aio_poll() or in GLib's poll) wakes it; the "
                   "blocking iteration runs the handler and returns true.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&data, 1, false);
    set_notifier(&loop, &data, notifier_ready_cb);
    gaio_test_loop_assert_no_progress(&loop);

    setter.e = &data.e;
    setter.sleeper = gaio_test_tid();
    thread = g_thread_new("setter", set_when_asleep_thread, &setter);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(data.n, ==, 1);
    g_thread_join(thread);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    set_notifier(&loop, &data, NULL);
    event_notifier_cleanup(&data.e);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ C4 */

static void
test_finalize_with_notifier_registered(gconstpointer mode)
{
    NotifierData set, unset;
    GaioTestLoop loop;

    g_test_summary("C4: finalizing a context with notifiers still registered (one "
                   "set, one not) frees their handlers without running them; the "
                   "notifiers stay usable and are cleaned up afterwards.");

    gaio_test_loop_init(&loop, mode);
    notifier_data_init(&set, 0, false);
    notifier_data_init(&unset, 0, false);
    set_notifier(&loop, &set, notifier_ready_cb);
    set_notifier(&loop, &unset, notifier_ready_cb);
    g_assert_cmpint(event_notifier_set(&set.e), ==, 0);

    gaio_test_loop_clear(&loop);
    g_assert_cmpint(set.n, ==, 0);
    g_assert_cmpint(unset.n, ==, 0);
    g_assert_true(event_notifier_test_and_clear(&set.e));
    event_notifier_cleanup(&set.e);
    event_notifier_cleanup(&unset.e);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);
    /* A failed check fails its test and the run goes on to the next one, so
     * one broken rule does not hide the state of the others. */
    g_test_set_nonfatal_assertions();

    g_test_add_func("/notifier/5/init-set-test-and-clear-cleanup", test_notifier_api);
    gaio_test_add_modes("/notifier/P1/add-remove-is-not-progress",
                        test_add_remove_is_not_progress);
    gaio_test_add_modes("/notifier/F1/wait-for-one-set", test_wait_for_one_set);
    gaio_test_add_modes("/notifier/F1/initially-active-runs-at-first-pass",
                        test_initially_active_runs_at_first_pass);
    gaio_test_add_modes("/notifier/F1/rearmed-ten-times-from-own-callback",
                        test_rearmed_ten_times_from_own_callback);
    gaio_test_add_modes("/notifier/F1/never-set-beside-one-that-is",
                        test_never_set_beside_one_that_is);
    gaio_test_add_modes("/notifier/F2/handlers-removing-each-other",
                        test_remove_from_handler);
    gaio_test_add_modes("/notifier/F1/set-from-thread-wakes-blocked-loop",
                        test_set_from_thread_wakes_blocked_loop);
    gaio_test_add_modes("/notifier/C4/finalize-with-notifiers-registered",
                        test_finalize_with_notifier_registered);

    return g_test_run();
}
