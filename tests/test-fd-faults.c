/* test-fd-faults.c: epoll_ctl() failures (issue #8, item 5; SPEC F3, C1, P1).
 *
 * The test-hooks library's fault point GAIO_FAULT_EPOLL_CTL makes the next
 * epoll_ctl() that adds or changes a watch fail with a chosen errno, as the
 * kernel does when it runs out of memory (ENOMEM) or of epoll watches
 * (ENOSPC, fs.epoll.max_user_watches). Checked, through aio_poll() and
 * through g_main_context_iteration():
 *   F3  adding a handler (or an event notifier) that epoll refuses gives a
 *       g_critical naming the fd and the errno; the handler is not
 *       registered: its fd becoming readable calls nothing and is no
 *       progress; other handlers, BHs and timers keep running, in the same
 *       pass too; registering again works;
 *   F3  replacing a handler that epoll refuses to change leaves the old one
 *       as it was; a change refused with ENOENT (the fd was closed and its
 *       number reused) registers the new handler afresh;
 *   C1  aio_context_new() whose timerfd epoll refuses returns NULL with a
 *       G_IO_ERROR and leaves no fd open;
 *   P2  (not a fault injected, a peer's) an fd that hangs up under a handler
 *       with only io_poll does not keep a blocking loop awake (it did once:
 *       such a handler is now not watched at all).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gio/gio.h>

#include "gaio-test.h"

#include "test-hooks-private.h"

/* ------------------------------------------------------------ the fixture */

/* A context with two pipes (a: the one epoll refuses, b: another handler),
 * a BH and an expired-on-demand timer; run by aio_poll() or, attached to a
 * GMainContext, by g_main_context_iteration(). */
typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL: run with aio_poll() */
    GSource *source;
    int a[2], b[2];
    unsigned a_runs, a2_runs, b_runs, bh_runs, timer_runs, notifier_runs;
    QEMUBH *bh;
    AioTimer *timer;
    EventNotifier notifier;
    int fault; /* errno for the fault a callback injects */
} Fixture;

static void
inject_fault(int err)
{
    atomic_store(&gaio_test_fault_errno[GAIO_FAULT_EPOLL_CTL], err);
}

static void
assert_fault_taken(void)
{
    g_assert_cmpint(atomic_load(&gaio_test_fault_errno[GAIO_FAULT_EPOLL_CTL]), ==, 0);
}

/* The g_critical F3 promises: names the fd and the errno. */
static void
expect_critical(int fd, int err)
{
    g_autofree char *pattern =
        g_strdup_printf("*fd %d: %s (errno %d)*", fd, g_strerror(err), err);

    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, pattern);
}

static int
pipe_bytes(int fd)
{
    int n = 0;

    g_assert_cmpint(ioctl(fd, FIONREAD, &n), ==, 0);
    return n;
}

static void
pipe_put(int fds[2])
{
    g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
}

static void
pipe_drain(int fd)
{
    char buf[64];

    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void
a_read(void *opaque)
{
    Fixture *f = opaque;

    f->a_runs++;
    pipe_drain(f->a[0]);
}

static void
a2_read(void *opaque)
{
    Fixture *f = opaque;

    f->a2_runs++;
    pipe_drain(f->a[0]);
}

static void
b_read(void *opaque)
{
    Fixture *f = opaque;

    f->b_runs++;
    pipe_drain(f->b[0]);
}

static void
bh_cb(void *opaque)
{
    Fixture *f = opaque;

    f->bh_runs++;
}

static void
timer_cb(void *opaque)
{
    Fixture *f = opaque;

    f->timer_runs++;
}

static void
notifier_read(EventNotifier *e)
{
    Fixture *f = (Fixture *)(void *)((char *)e - offsetof(Fixture, notifier));

    f->notifier_runs++;
    g_assert_true(event_notifier_test_and_clear(e));
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof *f);
    f->ctx = gaio_test_context_new();
    if (GPOINTER_TO_INT(data)) {
        f->mc = g_main_context_new();
        f->source = aio_get_g_source(f->ctx);
        g_source_attach(f->source, f->mc);
    }
    g_assert_cmpint(pipe2(f->a, O_NONBLOCK | O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(f->b, O_NONBLOCK | O_CLOEXEC), ==, 0);
    f->bh = aio_bh_new(f->ctx, bh_cb, f);
    f->timer = aio_timer_new(f->ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, timer_cb, f);
    g_assert_cmpint(event_notifier_init(&f->notifier, 0), ==, 0);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_fault_taken();
    aio_set_fd_handler(f->ctx, f->a[0], NULL, NULL, NULL, NULL, NULL);
    aio_set_fd_handler(f->ctx, f->b[0], NULL, NULL, NULL, NULL, NULL);
    aio_set_event_notifier(f->ctx, &f->notifier, NULL, NULL, NULL);
    event_notifier_cleanup(&f->notifier);
    aio_timer_free(f->timer);
    qemu_bh_delete(f->bh);
    if (f->mc != NULL) {
        while (g_main_context_iteration(f->mc, FALSE))
            ;
        g_source_destroy(f->source);
        g_source_unref(f->source);
        g_main_context_unref(f->mc);
    } else {
        while (aio_poll(f->ctx, false))
            ;
    }
    aio_context_unref(f->ctx);
    for (int i = 0; i < 2; i++) {
        close(f->a[i]);
        close(f->b[i]);
    }
}

/* One pass, without blocking: aio_poll(ctx, false), or one iteration of the
 * GMainContext. Whether it made progress, or dispatched. */
static bool
run_once(Fixture *f)
{
    if (f->mc != NULL)
        return g_main_context_iteration(f->mc, FALSE);
    return aio_poll(f->ctx, false);
}

/* Another handler, a BH and a timer all run in one pass. */
static void
assert_loop_keeps_working(Fixture *f)
{
    unsigned b = f->b_runs, bh = f->bh_runs, timer = f->timer_runs;

    aio_set_fd_handler(f->ctx, f->b[0], b_read, NULL, NULL, NULL, f);
    pipe_put(f->b);
    qemu_bh_schedule(f->bh);
    aio_timer_mod_ns(f->timer, 0);
    g_assert_true(run_once(f));
    g_assert_cmpuint(f->b_runs, ==, b + 1);
    g_assert_cmpuint(f->bh_runs, ==, bh + 1);
    g_assert_cmpuint(f->timer_runs, ==, timer + 1);
    g_assert_false(run_once(f));
}

/* ------------------------------------------------------------ adding */

static void
test_add_refused(Fixture *f, gconstpointer data)
{
    static const int errnos[] = {ENOMEM, ENOSPC};

    (void)data;
    g_test_summary("F3, P1: epoll_ctl(ADD) refused (ENOMEM, ENOSPC): a g_critical "
                   "names the fd and the errno, the handler is not registered (its "
                   "pipe readable calls nothing, no progress), another handler, a BH "
                   "and a timer still run, and registering again works.");

    for (size_t i = 0; i < G_N_ELEMENTS(errnos); i++) {
        unsigned runs = f->a_runs;

        inject_fault(errnos[i]);
        expect_critical(f->a[0], errnos[i]);
        aio_set_fd_handler(f->ctx, f->a[0], a_read, NULL, NULL, NULL, f);
        g_test_assert_expected_messages();
        assert_fault_taken();

        pipe_put(f->a);
        g_assert_false(run_once(f));
        g_assert_false(run_once(f));
        g_assert_cmpuint(f->a_runs, ==, runs);
        g_assert_cmpint(pipe_bytes(f->a[0]), ==, 1);
        /* Removing the handler that is not there changes nothing. */
        aio_set_fd_handler(f->ctx, f->a[0], NULL, NULL, NULL, NULL, NULL);

        assert_loop_keeps_working(f);

        /* Registering again works: the byte waiting is read. */
        aio_set_fd_handler(f->ctx, f->a[0], a_read, NULL, NULL, NULL, f);
        g_assert_true(run_once(f));
        g_assert_cmpuint(f->a_runs, ==, runs + 1);
        g_assert_false(run_once(f));
        aio_set_fd_handler(f->ctx, f->a[0], NULL, NULL, NULL, NULL, NULL);
    }
}

static void
register_a_refused_cb(void *opaque)
{
    Fixture *f = opaque;

    f->bh_runs++;
    inject_fault(f->fault);
    aio_set_fd_handler(f->ctx, f->a[0], a_read, NULL, NULL, NULL, f);
    assert_fault_taken();
}

static void
test_add_refused_inside_a_pass(Fixture *f, gconstpointer data)
{
    QEMUBH *bh = aio_bh_new(f->ctx, register_a_refused_cb, f);

    (void)data;
    g_test_summary("F3, P1, G4: a BH registers a handler that epoll refuses: the "
                   "critical comes from inside the pass, and the pass goes on: the "
                   "ready handler of another fd and an expired timer run in it; the "
                   "refused one never does.");

    f->fault = ENOSPC;
    aio_set_fd_handler(f->ctx, f->b[0], b_read, NULL, NULL, NULL, f);
    pipe_put(f->a);
    pipe_put(f->b);
    aio_timer_mod_ns(f->timer, 0);
    qemu_bh_schedule(bh);
    expect_critical(f->a[0], ENOSPC);
    g_assert_true(run_once(f));
    g_test_assert_expected_messages();
    g_assert_cmpuint(f->bh_runs, ==, 1);
    g_assert_cmpuint(f->b_runs, ==, 1);
    g_assert_cmpuint(f->timer_runs, ==, 1);
    g_assert_cmpuint(f->a_runs, ==, 0);
    g_assert_false(run_once(f));
    g_assert_cmpuint(f->a_runs, ==, 0);
    g_assert_cmpint(pipe_bytes(f->a[0]), ==, 1);
    qemu_bh_delete(bh);

    assert_loop_keeps_working(f);
}

static void
test_event_notifier_refused(Fixture *f, gconstpointer data)
{
    int fd = event_notifier_get_fd(&f->notifier);

    (void)data;
    g_test_summary("F3: aio_set_event_notifier() that epoll refuses: a critical "
                   "naming the notifier's fd and the errno; setting the notifier calls "
                   "nothing; registering again works.");

    inject_fault(ENOMEM);
    expect_critical(fd, ENOMEM);
    aio_set_event_notifier(f->ctx, &f->notifier, notifier_read, NULL, NULL);
    g_test_assert_expected_messages();
    assert_fault_taken();

    g_assert_cmpint(event_notifier_set(&f->notifier), ==, 0);
    g_assert_false(run_once(f));
    g_assert_cmpuint(f->notifier_runs, ==, 0);

    assert_loop_keeps_working(f);

    aio_set_event_notifier(f->ctx, &f->notifier, notifier_read, NULL, NULL);
    g_assert_true(run_once(f));
    g_assert_cmpuint(f->notifier_runs, ==, 1);
    g_assert_false(run_once(f));
}

/* ------------------------------------------------------------ replacing */

static void
test_modify_refused_keeps_old_handler(Fixture *f, gconstpointer data)
{
    (void)data;
    g_test_summary("F3, and what gaio adds: replacing a handler when epoll refuses "
                   "the change (EPOLL_CTL_MOD, ENOMEM) gives the critical and leaves "
                   "the old handler as it was: it still runs, the new one does not; a "
                   "later replacement works.");

    aio_set_fd_handler(f->ctx, f->a[0], a_read, NULL, NULL, NULL, f);
    pipe_put(f->a);

    inject_fault(ENOMEM);
    expect_critical(f->a[0], ENOMEM);
    aio_set_fd_handler(f->ctx, f->a[0], a2_read, NULL, NULL, NULL, f);
    g_test_assert_expected_messages();
    assert_fault_taken();

    g_assert_true(run_once(f));
    g_assert_cmpuint(f->a_runs, ==, 1);
    g_assert_cmpuint(f->a2_runs, ==, 0);
    g_assert_false(run_once(f));

    assert_loop_keeps_working(f);

    aio_set_fd_handler(f->ctx, f->a[0], a2_read, NULL, NULL, NULL, f);
    pipe_put(f->a);
    g_assert_true(run_once(f));
    g_assert_cmpuint(f->a_runs, ==, 1);
    g_assert_cmpuint(f->a2_runs, ==, 1);
    g_assert_false(run_once(f));
}

static void
test_modify_enoent_registers_afresh(Fixture *f, gconstpointer data)
{
    (void)data;
    g_test_summary("F3: a change refused with ENOENT means the fd was closed since "
                   "(and its number maybe reused): no critical, the new handler is "
                   "registered afresh and runs; the old one never again.");

    aio_set_fd_handler(f->ctx, f->a[0], a_read, NULL, NULL, NULL, f);
    inject_fault(ENOENT);
    aio_set_fd_handler(f->ctx, f->a[0], a2_read, NULL, NULL, NULL, f);
    assert_fault_taken();

    pipe_put(f->a);
    g_assert_true(run_once(f));
    g_assert_cmpuint(f->a_runs, ==, 0);
    g_assert_cmpuint(f->a2_runs, ==, 1);
    g_assert_false(run_once(f));

    assert_loop_keeps_working(f);
}

/* ------------------------------------------------------------ P2, G3 */

static bool
poll_nothing(void *opaque)
{
    (void)opaque;
    return false;
}

static void
test_hung_up_fd_with_only_io_poll_does_not_spin(Fixture *f, gconstpointer data)
{
    unsigned calls = 0;

    (void)data;
    g_test_summary("P2, G3, and what gaio adds (a handler with only io_poll has "
                   "nothing to call): a peer hanging up on such an fd (EPOLLHUP, "
                   "which epoll reports whatever the events asked for) must not keep "
                   "the loop awake: a blocking aio_poll() or GLib iteration sleeps "
                   "until the timer 20 ms ahead, give or take a spurious wakeup.");

    aio_set_fd_handler(f->ctx, f->a[0], NULL, NULL, poll_nothing, NULL, f);
    close(f->a[1]);
    f->a[1] = open("/dev/null", O_WRONLY | O_CLOEXEC); /* for the teardown */
    aio_timer_mod_ns(f->timer, aio_clock_get_ns(AIO_CLOCK_REALTIME) + 20 * 1000000);
    while (f->timer_runs == 0 && calls < 1000) {
        if (f->mc != NULL)
            g_main_context_iteration(f->mc, TRUE);
        else
            aio_poll(f->ctx, true);
        calls++;
    }
    g_test_message("%u blocking call(s) until the timer ran", calls);
    aio_set_fd_handler(f->ctx, f->a[0], NULL, NULL, NULL, NULL, NULL);
    /* A dormant handler's fd is not watched: the timer's wakeup, and at
     * most a couple of spurious ones (GLib's own), end the calls. */
    g_assert_cmpuint(calls, <=, 3);
}

/* ------------------------------------------------------------ C1 */

static void
flag_cb(void *opaque)
{
    *(bool *)opaque = true;
}

/* The process's open fds, ascending, below RLIMIT_NOFILE. */
static GArray *
open_fds(void)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
    struct dirent *entry;
    DIR *dir = opendir("/proc/self/fd");

    g_assert_nonnull(dir);
    while ((entry = readdir(dir)) != NULL) {
        int fd;

        if (entry->d_name[0] == '.')
            continue;
        fd = atoi(entry->d_name);
        /* valgrind's own fds sit at the top, above a thousand */
        if (fd != dirfd(dir) && fd < 1000)
            g_array_append_val(fds, fd);
    }
    closedir(dir);
    return fds;
}

static void
test_context_new_timer_clock_refused(void)
{
    static const int errnos[] = {ENOMEM, ENOSPC};

    g_test_summary("C1, §0: aio_context_new() whose first timerfd epoll refuses "
                   "returns NULL with a G_IO_ERROR (from the errno) and the timer "
                   "clock message; it leaves no fd open, and the process keeps "
                   "working.");

    for (size_t i = 0; i < G_N_ELEMENTS(errnos); i++) {
        const char *format = g_dgettext(
            GETTEXT_PACKAGE, "Could not create a timer clock of an AioContext: %s");
        const char *conversion = strstr(format, "%s");
        g_autoptr(GArray) before = open_fds();
        g_autoptr(GArray) after = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *prefix = NULL;
        g_autofree char *expected = NULL;
        AioContext *ctx;
        bool ran = false;
        int code;

        g_assert_nonnull(conversion);
        prefix = g_strndup(format, (gsize)(conversion - format));
        expected = g_strconcat(prefix, g_strerror(errnos[i]), conversion + 2, NULL);

        inject_fault(errnos[i]);
        ctx = aio_context_new(&error);
        assert_fault_taken();
        g_assert_null(ctx);
        code = (int)g_io_error_from_errno(errnos[i]);
        g_assert_error(error, G_IO_ERROR, code);
        g_assert_cmpstr(error->message, ==, expected);

        after = open_fds();
        g_assert_cmpuint(after->len, ==, before->len);
        g_assert_cmpmem(after->data, after->len * sizeof(int), before->data,
                        before->len * sizeof(int));

        /* Nothing half-made is left behind: the next context works. */
        ctx = gaio_test_context_new();
        aio_bh_schedule_oneshot(ctx, flag_cb, &ran);
        g_assert_true(aio_poll(ctx, false));
        g_assert_true(ran);
        aio_context_unref(ctx);
    }
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*func)(Fixture *, gconstpointer);
    } tests[] = {
        {"/fd-faults/F3/epoll-ctl-add-refused-not-registered-loop-keeps-working",
         test_add_refused},
        {"/fd-faults/F3/epoll-ctl-add-refused-inside-a-pass-the-pass-goes-on",
         test_add_refused_inside_a_pass},
        {"/fd-faults/F3/epoll-ctl-add-refused-for-an-event-notifier",
         test_event_notifier_refused},
        {"/fd-faults/F3/epoll-ctl-mod-refused-keeps-the-old-handler",
         test_modify_refused_keeps_old_handler},
        {"/fd-faults/F3/epoll-ctl-mod-enoent-registers-afresh",
         test_modify_enoent_registers_afresh},
        {"/fd-faults/P2/hung-up-fd-with-only-io-poll-does-not-spin",
         test_hung_up_fd_with_only_io_poll_does_not_spin},
    };

    gaio_test_init(&argc, &argv);
    for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
        for (int gmain = 0; gmain <= 1; gmain++) {
            g_autofree char *path =
                g_strconcat(tests[i].name, gmain ? "/gmain" : "/aio_poll", NULL);

            g_test_add(path, Fixture, GINT_TO_POINTER(gmain), fixture_setup,
                       tests[i].func, fixture_teardown);
        }
    }
    g_test_add_func("/fd-faults/C1/epoll-ctl-refuses-a-timer-clock-context-new-fails",
                    test_context_new_timer_clock_refused);
    return g_test_run();
}
