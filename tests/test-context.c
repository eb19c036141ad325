/* test-context.c: the AioContext's life (SPEC C1, C2, C4) and which context
 * is current (SPEC I1, the part that needs no I/O thread).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <string.h>
#include <errno.h>
#include <sys/resource.h>

#include <gio/gio.h>

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

/* The flag that the watched context's GSource dispose function sets when its
 * last reference goes (one watched context at a time). */
static gboolean *disposed_flag;

static void
mark_disposed(GSource *source)
{
    *disposed_flag = TRUE;
}

static void
watch_dispose(AioContext *ctx, gboolean *disposed)
{
    GSource *source = aio_get_g_source(ctx);

    *disposed = FALSE;
    disposed_flag = disposed;
    g_source_set_dispose_function(source, mark_disposed);
    g_source_unref(source);
}

/* ------------------------------------------------------------------ C1 */

static void
test_new_returns_context_and_no_error(void)
{
    g_autoptr(GError) error = NULL;
    AioContext *ctx;
    AioContext *ctx2;

    g_test_summary("C1: aio_context_new() returns a context and sets no error "
                   "(also with a NULL error location).");

    ctx = aio_context_new(&error);
    g_assert_no_error(error);
    g_assert_nonnull(ctx);

    ctx2 = aio_context_new(NULL);
    g_assert_nonnull(ctx2);
    g_assert_true(ctx2 != ctx);

    /* Fresh contexts are empty and usable at once. */
    g_assert_false(aio_poll(ctx, false));
    g_assert_false(aio_poll(ctx2, false));
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);

    aio_context_unref(ctx2);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------ C2 */

static void
test_ref_unref_lifetime(void)
{
    AioContext *ctx = gaio_test_context_new();
    gboolean disposed;

    g_test_summary("C2: aio_context_ref()/aio_context_unref() are GSource "
                   "references; the context lives until the last one goes.");

    watch_dispose(ctx, &disposed);
    g_assert_true(aio_context_ref(ctx) == ctx);
    g_assert_true(aio_context_ref(ctx) == ctx);
    aio_context_unref(ctx);
    aio_context_unref(ctx);
    g_assert_false(disposed);
    /* Still a working context. */
    g_assert_false(aio_poll(ctx, false));
    aio_context_unref(ctx);
    g_assert_true(disposed);
}

static void
test_get_g_source_is_new_reference(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    gboolean disposed;
    GSource *source;
    GSource *source2;
    QEMUBH *bh;

    g_test_summary("C2: aio_get_g_source() returns a new reference to the "
                   "context's own GSource: it keeps the context alive after "
                   "aio_context_unref().");

    watch_dispose(ctx, &disposed);
    source = aio_get_g_source(ctx);
    source2 = aio_get_g_source(ctx);
    g_assert_nonnull(source);
    g_assert_true(source == source2);
    g_assert_true((void *)source == (void *)ctx);
    g_source_unref(source2);

    aio_context_unref(ctx);
    g_assert_false(disposed);

    /* The source (so the context) is still valid and runs BHs. */
    g_assert_cmpstr(g_source_get_name(source), ==, "AioContext");
    ctx = (AioContext *)source;
    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    qemu_bh_delete(bh);

    g_source_unref(source);
    g_assert_true(disposed);
}

static void
test_autoptr_unrefs(void)
{
    gboolean disposed = FALSE;

    g_test_summary("C2: g_autoptr(AioContext) drops the reference at scope end.");

    {
        g_autoptr(AioContext) ctx = gaio_test_context_new();

        watch_dispose(ctx, &disposed);
        g_assert_false(aio_poll(ctx, false));
        g_assert_false(disposed);
    }
    g_assert_true(disposed);
}

/* ------------------------------------------------------------------ C4 */

static void c4_unscheduled_cb(void *opaque) { count_cb(opaque); }
static void c4_scheduled_cb(void *opaque) { count_cb(opaque); }
static void c4_idle_cb(void *opaque) { count_cb(opaque); }
static void c4_cancelled_cb(void *opaque) { count_cb(opaque); }
static void c4_deleted_cb(void *opaque) { count_cb(opaque); }
static void c4_oneshot_cb(void *opaque) { count_cb(opaque); }

/* A context holding one BH in every state; finalizing it frees them all
 * without running any. */
static void
finalize_context_with_live_bhs(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    int ran_runs = 0;
    QEMUBH *ran;
    QEMUBH *cancelled;

    /* One that already ran once (so it left the queue), then is pending again. */
    ran = aio_bh_new_full(ctx, count_cb, &ran_runs, "c4-ran-once-bh");
    qemu_bh_schedule(ran);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_cmpint(ran_runs, ==, 1);
    qemu_bh_schedule(ran);

    /* Never scheduled: in no queue at all. */
    aio_bh_new(ctx, c4_unscheduled_cb, &runs);
    qemu_bh_schedule(aio_bh_new(ctx, c4_scheduled_cb, &runs));
    qemu_bh_schedule_idle(aio_bh_new(ctx, c4_idle_cb, &runs));
    cancelled = aio_bh_new(ctx, c4_cancelled_cb, &runs);
    qemu_bh_schedule(cancelled);
    qemu_bh_cancel(cancelled);
    /* Deleted, not yet reclaimed by a pass. */
    qemu_bh_delete(aio_bh_new_full(ctx, c4_deleted_cb, &runs, "c4-deleted-bh"));
    aio_bh_schedule_oneshot(ctx, c4_oneshot_cb, &runs);

    aio_context_unref(ctx);
    g_assert_cmpint(runs, ==, 0);
    g_assert_cmpint(ran_runs, ==, 1);
}

static void
test_finalize_frees_live_bhs(void)
{
    g_test_summary("C4: finalizing a context frees every BH still attached "
                   "(unscheduled, scheduled, idle, cancelled, a pending oneshot, "
                   "deleted but not reclaimed) without running any; valgrind "
                   "checks no leak.");

    finalize_context_with_live_bhs();
}

/* The test program's path, to run one of its tests in a child process. */
static const char *test_program;

/* True in the child that run_child_test() started for @path. */
static bool
is_child_test(const char *path)
{
    return g_strcmp0(g_getenv("GAIO_TEST_CHILD"), path) == 0;
}

/* Runs the test @path of this program in a child process with debug messages
 * on; asserts it passed and returns its stdout and stderr together.
 * g_spawn_sync() rather than g_test_trap_subprocess(): the latter starts
 * GLib's worker thread (for a child watch) when pidfd_open() is missing, as
 * under valgrind, which then reports the thread's stack as possibly lost. */
static char *
run_child_test(const char *path)
{
    const char *argv[] = {test_program, "-p", path, NULL};
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;

    envp = g_environ_setenv(envp, "GAIO_TEST_CHILD", path, TRUE);
    envp = g_environ_setenv(envp, "G_MESSAGES_DEBUG", "all", TRUE);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, &error))
        g_test_message("child stdout:\n%s\nchild stderr:\n%s", out, err);
    g_assert_no_error(error);
    return g_strconcat(out, err, NULL);
}

static void
assert_output_names(const char *output, const char *name, bool named)
{
    if ((strstr(output, name) != NULL) != named)
        g_test_message("child output:\n%s", output);
    g_assert_cmpint(strstr(output, name) != NULL, ==, named);
}

#define FINALIZE_NAMES_PATH "/context/C4/finalize-names-undeleted-bhs"

static void
test_finalize_names_undeleted_bhs(void)
{
    g_autofree char *output = NULL;

    g_test_summary("C4: finalizing a context logs a g_debug naming each BH that "
                   "was never deleted (aio_bh_new names it after its callback, "
                   "aio_bh_new_full after its name argument).");

    if (is_child_test(FINALIZE_NAMES_PATH)) {
        g_log_set_debug_enabled(TRUE);
        finalize_context_with_live_bhs();
        return;
    }

    output = run_child_test(FINALIZE_NAMES_PATH);
    assert_output_names(output, "never deleted", true);
    assert_output_names(output, "'c4_unscheduled_cb'", true);
    assert_output_names(output, "'c4_scheduled_cb'", true);
    assert_output_names(output, "'c4_idle_cb'", true);
    assert_output_names(output, "'c4_cancelled_cb'", true);
    assert_output_names(output, "'c4-ran-once-bh'", true);
    /* Deleted BHs and oneshots are freed silently. */
    assert_output_names(output, "c4-deleted-bh", false);
    assert_output_names(output, "c4_deleted_cb", false);
    assert_output_names(output, "c4_oneshot_cb", false);
    assert_output_names(output, "'oneshot'", false);
}

#define FINALIZE_SILENT_PATH "/context/C4/finalize-without-live-bhs-is-silent"

static void
test_finalize_empty_context_is_silent(void)
{
    g_autofree char *output = NULL;

    g_test_summary("C4: a context whose BHs were all deleted finalizes without "
                   "naming any BH.");

    if (is_child_test(FINALIZE_SILENT_PATH)) {
        AioContext *ctx = gaio_test_context_new();
        int runs = 0;
        QEMUBH *bh = aio_bh_new(ctx, c4_scheduled_cb, &runs);

        g_log_set_debug_enabled(TRUE);
        qemu_bh_schedule(bh);
        g_assert_true(aio_poll(ctx, false));
        qemu_bh_delete(bh);
        aio_context_unref(ctx);
        g_assert_cmpint(runs, ==, 1);
        /* Proves debug output reaches the parent. */
        g_debug("child-debug-output-on");
        return;
    }

    output = run_child_test(FINALIZE_SILENT_PATH);
    assert_output_names(output, "child-debug-output-on", true);
    assert_output_names(output, "never deleted", false);
    assert_output_names(output, "c4_scheduled_cb", false);
}

/* A BH that drops the last reference of its own context, while the pass goes
 * on with another BH (B5: it was pending when the pass started). */
typedef struct {
    AioContext *ctx;
    gboolean disposed;
    gboolean disposed_in_unref_bh; /* seen right after the unref */
    gboolean disposed_in_later_bh;
    AioContext *current_in_later_bh;
    int later_runs;
} LastRef;

static void
c4_unref_cb(void *opaque)
{
    LastRef *l = opaque;

    aio_context_unref(l->ctx);
    l->disposed_in_unref_bh = l->disposed;
}

static void
c4_later_cb(void *opaque)
{
    LastRef *l = opaque;

    l->later_runs++;
    l->disposed_in_later_bh = l->disposed;
    l->current_in_later_bh = aio_context_get_current();
}

#define LAST_REF_AIO_POLL_PATH "/context/C4/bh-dropping-last-reference-inside-aio-poll"
#define LAST_REF_AIO_BH_POLL_PATH "/context/C4/bh-dropping-last-reference-inside-aio-bh-poll"

/* The child's part: a pass whose first BH drops the last reference. */
static void
drop_last_reference_in_pass(bool use_aio_bh_poll)
{
    LastRef l = {0};
    int runs = 0;

    l.ctx = gaio_test_context_new();
    watch_dispose(l.ctx, &l.disposed);
    qemu_bh_schedule(aio_bh_new_full(l.ctx, c4_unref_cb, &l, "c4-unref-bh"));
    qemu_bh_schedule(aio_bh_new_full(l.ctx, c4_later_cb, &l, "c4-later-bh"));
    aio_bh_new_full(l.ctx, c4_unscheduled_cb, &runs, "c4-attached-bh");

    if (use_aio_bh_poll)
        g_assert_cmpint(aio_bh_poll(l.ctx), ==, 1);
    else
        g_assert_true(aio_poll(l.ctx, true));

    /* The call held a reference for its whole duration: the context lived
     * through the pass and was finalized as the call returned. */
    g_assert_false(l.disposed_in_unref_bh);
    g_assert_cmpint(l.later_runs, ==, 1);
    g_assert_false(l.disposed_in_later_bh);
    g_assert_true(l.current_in_later_bh == l.ctx);
    g_assert_true(l.disposed);
    g_assert_null(aio_context_get_current());
    g_assert_cmpint(runs, ==, 0);
}

static void
test_bh_dropping_last_reference(gconstpointer data)
{
    bool use_aio_bh_poll = GPOINTER_TO_INT(data);
    const char *path = use_aio_bh_poll ? LAST_REF_AIO_BH_POLL_PATH : LAST_REF_AIO_POLL_PATH;
    g_autofree char *output = NULL;

    g_test_summary("C4: aio_poll() and aio_bh_poll() hold a reference for their "
                   "whole duration: a BH may drop the last reference of its own "
                   "context; the pass goes on (the next pending BH runs, the "
                   "context still current), the context is finalized when the "
                   "call returns, and finalize frees every BH attached (its "
                   "g_debug names them). Run under ASan and valgrind: no "
                   "use-after-free, no leak.");

    if (is_child_test(path)) {
        g_log_set_debug_enabled(TRUE);
        drop_last_reference_in_pass(use_aio_bh_poll);
        return;
    }

    output = run_child_test(path);
    assert_output_names(output, "never deleted", true);
    assert_output_names(output, "'c4-unref-bh'", true);
    assert_output_names(output, "'c4-later-bh'", true);
    assert_output_names(output, "'c4-attached-bh'", true);
}

/* ------------------------------------------------------------------ I1 */

typedef struct {
    AioContext *ctx_a;
    AioContext *ctx_b;
    AioContext *seen_in_a_before;
    AioContext *seen_in_b;
    AioContext *seen_in_a_after;
    QEMUBH *bh_b;
    bool inner_progress;
} CurrentData;

static void
record_current_cb(void *opaque)
{
    *(AioContext **)opaque = aio_context_get_current();
}

static void
current_b_cb(void *opaque)
{
    CurrentData *d = opaque;

    d->seen_in_b = aio_context_get_current();
}

static void
current_a_cb(void *opaque)
{
    CurrentData *d = opaque;

    d->seen_in_a_before = aio_context_get_current();
    qemu_bh_schedule(d->bh_b);
    d->inner_progress = aio_poll(d->ctx_b, false);
    d->seen_in_a_after = aio_context_get_current();
}

static void
test_current_outside_and_inside(void)
{
    AioContext *ctx = gaio_test_context_new();
    AioContext *seen = NULL;
    QEMUBH *bh = aio_bh_new(ctx, record_current_cb, &seen);

    g_test_summary("I1: aio_context_get_current() is NULL outside any context, "
                   "and the context inside a BH callback run by aio_poll() or "
                   "aio_bh_poll().");

    g_assert_null(aio_context_get_current());

    qemu_bh_schedule(bh);
    g_assert_null(aio_context_get_current());
    g_assert_true(aio_poll(ctx, false));
    g_assert_true(seen == ctx);
    g_assert_null(aio_context_get_current());

    seen = NULL;
    qemu_bh_schedule(bh);
    g_assert_cmpint(aio_bh_poll(ctx), ==, 1);
    g_assert_true(seen == ctx);
    g_assert_null(aio_context_get_current());

    seen = NULL;
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, true));
    g_assert_true(seen == ctx);
    g_assert_null(aio_context_get_current());

    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static void
test_current_is_innermost(void)
{
    CurrentData d = {0};
    QEMUBH *bh_a;

    g_test_summary("I1: when a callback of context A runs aio_poll() on context "
                   "B, B's callbacks see B as current; A is current again after.");

    d.ctx_a = gaio_test_context_new();
    d.ctx_b = gaio_test_context_new();
    bh_a = aio_bh_new(d.ctx_a, current_a_cb, &d);
    d.bh_b = aio_bh_new(d.ctx_b, current_b_cb, &d);

    qemu_bh_schedule(bh_a);
    g_assert_true(aio_poll(d.ctx_a, false));
    g_assert_true(d.inner_progress);
    g_assert_true(d.seen_in_a_before == d.ctx_a);
    g_assert_true(d.seen_in_b == d.ctx_b);
    g_assert_true(d.seen_in_a_after == d.ctx_a);
    g_assert_null(aio_context_get_current());

    qemu_bh_delete(bh_a);
    qemu_bh_delete(d.bh_b);
    aio_context_unref(d.ctx_a);
    aio_context_unref(d.ctx_b);
}

static void
test_new_fails_with_gerror_when_out_of_fds(void)
{
    struct rlimit saved, none;
    g_autoptr(GError) error = NULL;
    AioContext *ctx;

    g_test_summary("C1: aio_context_new() returns NULL and sets a G_IO_ERROR "
                   "(here G_IO_ERROR_TOO_MANY_OPEN_FILES) when the system refuses "
                   "its wakeup fd; the process keeps working afterwards.");

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    none = saved;
    none.rlim_cur = 0; /* no new fd at all, until restored */
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &none), ==, 0);
    ctx = aio_context_new(&error);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);

    g_assert_null(ctx);
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
    g_assert_nonnull(strstr(error->message, g_strerror(EMFILE)));

    /* Nothing was left half-made: a context can be made and run now. */
    ctx = gaio_test_context_new();
    g_assert_false(aio_poll(ctx, false));
    aio_context_unref(ctx);
}

int
main(int argc, char **argv)
{
    test_program = argv[0];
    gaio_test_init(&argc, &argv);

    g_test_add_func("/context/C1/new-returns-context-and-no-error",
                    test_new_returns_context_and_no_error);
    g_test_add_func("/context/C1/new-fails-with-gerror-when-out-of-fds",
                    test_new_fails_with_gerror_when_out_of_fds);
    g_test_add_func("/context/C2/ref-unref-lifetime", test_ref_unref_lifetime);
    g_test_add_func("/context/C2/get-g-source-is-new-reference",
                    test_get_g_source_is_new_reference);
    g_test_add_func("/context/C2/autoptr-unrefs", test_autoptr_unrefs);
    g_test_add_func("/context/C4/finalize-frees-live-bhs",
                    test_finalize_frees_live_bhs);
    g_test_add_func(FINALIZE_NAMES_PATH, test_finalize_names_undeleted_bhs);
    g_test_add_func(FINALIZE_SILENT_PATH, test_finalize_empty_context_is_silent);
    g_test_add_data_func(LAST_REF_AIO_POLL_PATH, GINT_TO_POINTER(false),
                         test_bh_dropping_last_reference);
    g_test_add_data_func(LAST_REF_AIO_BH_POLL_PATH, GINT_TO_POINTER(true),
                         test_bh_dropping_last_reference);
    g_test_add_func("/context/I1/current-outside-and-inside",
                    test_current_outside_and_inside);
    g_test_add_func("/context/I1/current-is-innermost", test_current_is_innermost);

    return g_test_run();
}
