/* test-bad-input.c: programming errors are criticals, not crashes (SPEC 0).
 *
 * Each case runs in a subprocess (g_test_trap_subprocess()). There the critical
 * is expected with g_test_expect_message(), so it is not fatal even under
 * G_DEBUG=fatal-warnings; the child then checks the documented safe return
 * value and that the library still works.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <string.h>

#include <gio/gio.h>

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

/* Expects one g_return_if_fail() critical of @func about @expr. */
static void
expect_failed_assertion(const char *func, const char *expr)
{
    g_autofree char *pattern = g_strdup_printf("*%s*assertion*%s*failed*", func, expr);

    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, pattern);
}

/* The context still works: a fresh BH runs once and only when scheduled. */
static void
assert_context_works(AioContext *ctx)
{
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    g_assert_false(aio_poll(ctx, false));
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    qemu_bh_delete(bh);
    while (aio_poll(ctx, false))
        ;
    g_assert_cmpint(runs, ==, 1);
}

/* A new context works too: nothing global was damaged. */
static void
assert_library_works(void)
{
    AioContext *ctx = gaio_test_context_new();

    assert_context_works(ctx);
    aio_context_unref(ctx);
}

/* ---- AioContext ------------------------------------------------------- */

static void
case_context_new_error_set(void)
{
    GError *error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "earlier error");
    AioContext *ctx;

    expect_failed_assertion("aio_context_new", "error == NULL ||");
    ctx = aio_context_new(&error);
    g_test_assert_expected_messages();
    g_assert_null(ctx);
    /* The caller's error is left alone. */
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
    g_assert_cmpstr(error->message, ==, "earlier error");
    g_error_free(error);
    assert_library_works();
}

static void
case_context_ref_null(void)
{
    expect_failed_assertion("aio_context_ref", "ctx != NULL");
    g_assert_null(aio_context_ref(NULL));
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_context_unref_null(void)
{
    expect_failed_assertion("aio_context_unref", "ctx != NULL");
    aio_context_unref(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_get_g_source_null(void)
{
    expect_failed_assertion("aio_get_g_source", "ctx != NULL");
    g_assert_null(aio_get_g_source(NULL));
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_notify_null(void)
{
    expect_failed_assertion("aio_notify", "ctx != NULL");
    aio_notify(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_poll_null_nonblocking(void)
{
    expect_failed_assertion("aio_poll", "ctx != NULL");
    g_assert_false(aio_poll(NULL, false));
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_poll_null_blocking(void)
{
    /* Returns at once: it cannot sleep on nothing (the watchdog would fire). */
    expect_failed_assertion("aio_poll", "ctx != NULL");
    g_assert_false(aio_poll(NULL, true));
    g_test_assert_expected_messages();
    assert_library_works();
}

/* ---- making BHs -------------------------------------------------------- */

static void
case_bh_new_null_context(void)
{
    int runs = 0;

    /* The macro, as users write it, then the exported function itself. */
    expect_failed_assertion("aio_bh_new_full", "ctx != NULL");
    g_assert_null(aio_bh_new(NULL, count_cb, &runs));
    g_test_assert_expected_messages();
    expect_failed_assertion("aio_bh_new_full", "ctx != NULL");
    g_assert_null((aio_bh_new)(NULL, count_cb, &runs));
    g_test_assert_expected_messages();
    g_assert_cmpint(runs, ==, 0);
    assert_library_works();
}

static void
case_bh_new_null_callback(void)
{
    AioContext *ctx = gaio_test_context_new();

    expect_failed_assertion("aio_bh_new_full", "cb != NULL");
    g_assert_null(aio_bh_new(ctx, NULL, NULL));
    g_test_assert_expected_messages();
    expect_failed_assertion("aio_bh_new_full", "cb != NULL");
    g_assert_null((aio_bh_new)(ctx, NULL, NULL));
    g_test_assert_expected_messages();
    /* Nothing was made or queued. */
    g_assert_false(aio_poll(ctx, false));
    assert_context_works(ctx);
    aio_context_unref(ctx);
}

static void
case_bh_new_full_null_context(void)
{
    int runs = 0;

    expect_failed_assertion("aio_bh_new_full", "ctx != NULL");
    g_assert_null(aio_bh_new_full(NULL, count_cb, &runs, "name"));
    g_test_assert_expected_messages();
    g_assert_cmpint(runs, ==, 0);
    assert_library_works();
}

static void
case_bh_new_full_null_callback(void)
{
    AioContext *ctx = gaio_test_context_new();

    expect_failed_assertion("aio_bh_new_full", "cb != NULL");
    g_assert_null(aio_bh_new_full(ctx, NULL, NULL, "name"));
    g_test_assert_expected_messages();
    g_assert_false(aio_poll(ctx, false));
    assert_context_works(ctx);
    aio_context_unref(ctx);
}

static void
case_qemu_bh_new_null_callback(void)
{
    /* Made on the default context, which must keep working. */
    expect_failed_assertion("aio_bh_new_full", "cb != NULL");
    g_assert_null(qemu_bh_new(NULL, NULL));
    g_test_assert_expected_messages();
    expect_failed_assertion("aio_bh_new_full", "cb != NULL");
    g_assert_null((qemu_bh_new)(NULL, NULL));
    g_test_assert_expected_messages();
    assert_context_works(qemu_get_aio_context());
}

/* ---- using BHs ------------------------------------------------------------ */

static void
case_bh_schedule_null(void)
{
    expect_failed_assertion("qemu_bh_schedule", "bh != NULL");
    qemu_bh_schedule(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_bh_schedule_idle_null(void)
{
    expect_failed_assertion("qemu_bh_schedule_idle", "bh != NULL");
    qemu_bh_schedule_idle(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_bh_cancel_null(void)
{
    expect_failed_assertion("qemu_bh_cancel", "bh != NULL");
    qemu_bh_cancel(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_bh_delete_null(void)
{
    expect_failed_assertion("qemu_bh_delete", "bh != NULL");
    qemu_bh_delete(NULL);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_oneshot_null_context(void)
{
    int runs = 0;

    expect_failed_assertion("aio_bh_schedule_oneshot", "ctx != NULL");
    aio_bh_schedule_oneshot(NULL, count_cb, &runs);
    g_test_assert_expected_messages();
    g_assert_cmpint(runs, ==, 0);
    assert_library_works();
}

static void
case_oneshot_null_callback(void)
{
    AioContext *ctx = gaio_test_context_new();

    expect_failed_assertion("aio_bh_schedule_oneshot", "cb != NULL");
    aio_bh_schedule_oneshot(ctx, NULL, NULL);
    g_test_assert_expected_messages();
    /* Nothing was scheduled: no progress, no crash on a NULL callback. */
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(aio_bh_poll(ctx), ==, 0);
    assert_context_works(ctx);
    aio_context_unref(ctx);
}

static void
case_bh_poll_null(void)
{
    expect_failed_assertion("aio_bh_poll", "ctx != NULL");
    g_assert_cmpint(aio_bh_poll(NULL), ==, 0);
    g_test_assert_expected_messages();
    assert_library_works();
}

static void
case_update_timeout_null_context(void)
{
    uint32_t timeout = 1234;

    expect_failed_assertion("aio_bh_update_timeout", "ctx != NULL");
    aio_bh_update_timeout(NULL, &timeout);
    g_test_assert_expected_messages();
    g_assert_cmpuint(timeout, ==, 1234);
    assert_library_works();
}

static void
case_update_timeout_null_timeout(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    /* With a BH pending, so that a write through the pointer would happen. */
    qemu_bh_schedule(bh);
    expect_failed_assertion("aio_bh_update_timeout", "timeout_ms != NULL");
    aio_bh_update_timeout(ctx, NULL);
    g_test_assert_expected_messages();
    /* The pending BH is still pending, and runs once. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    qemu_bh_delete(bh);
    assert_context_works(ctx);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    void (*func)(void);
} BadInputCase;

static void
run_in_subprocess(gconstpointer data)
{
    const BadInputCase *c = data;

    if (g_test_subprocess()) {
        c->func();
        return;
    }
    /* Under valgrind, run the case in this (checked) process: children are not
     * run under valgrind, and g_test_trap_subprocess() starts GLib's worker
     * thread, whose TLS valgrind reports as "possibly lost" at exit. */
    if (gaio_test_running_on_valgrind()) {
        c->func();
        return;
    }
    g_test_summary("SPEC 0: programming errors (a NULL context, BH or callback) are "
                   "g_return_if_fail() criticals: no crash, nothing changed, the "
                   "documented safe value (NULL, false, 0) returned.");
    g_test_trap_subprocess(NULL, 0, (GTestSubprocessFlags)0);
    g_test_trap_assert_passed();
    /* Expected criticals are swallowed; anything else would show here. */
    g_test_trap_assert_stderr_unmatched("*CRITICAL*");
    g_test_trap_assert_stderr_unmatched("*WARNING*");
}

static const BadInputCase cases[] = {
    {"/bad-input/aio_context_new/error-already-set", case_context_new_error_set},
    {"/bad-input/aio_context_ref/null-context", case_context_ref_null},
    {"/bad-input/aio_context_unref/null-context", case_context_unref_null},
    {"/bad-input/aio_get_g_source/null-context", case_get_g_source_null},
    {"/bad-input/aio_notify/null-context", case_notify_null},
    {"/bad-input/aio_poll/null-context-nonblocking", case_poll_null_nonblocking},
    {"/bad-input/aio_poll/null-context-blocking", case_poll_null_blocking},
    {"/bad-input/aio_bh_new/null-context", case_bh_new_null_context},
    {"/bad-input/aio_bh_new/null-callback", case_bh_new_null_callback},
    {"/bad-input/aio_bh_new_full/null-context", case_bh_new_full_null_context},
    {"/bad-input/aio_bh_new_full/null-callback", case_bh_new_full_null_callback},
    {"/bad-input/qemu_bh_new/null-callback", case_qemu_bh_new_null_callback},
    {"/bad-input/qemu_bh_schedule/null-bh", case_bh_schedule_null},
    {"/bad-input/qemu_bh_schedule_idle/null-bh", case_bh_schedule_idle_null},
    {"/bad-input/qemu_bh_cancel/null-bh", case_bh_cancel_null},
    {"/bad-input/qemu_bh_delete/null-bh", case_bh_delete_null},
    {"/bad-input/aio_bh_schedule_oneshot/null-context", case_oneshot_null_context},
    {"/bad-input/aio_bh_schedule_oneshot/null-callback", case_oneshot_null_callback},
    {"/bad-input/aio_bh_poll/null-context", case_bh_poll_null},
    {"/bad-input/aio_bh_update_timeout/null-context", case_update_timeout_null_context},
    {"/bad-input/aio_bh_update_timeout/null-timeout", case_update_timeout_null_timeout},
};

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_test_add_data_func(cases[i].path, &cases[i], run_in_subprocess);
    return g_test_run();
}
