/* gaio-test-loop.h: one test body, two ways of running the context.
 *
 * SPEC section 5 holds both under aio_poll() and as a GSource. A test takes a
 * GaioTestMode, sets up a GaioTestLoop for it and iterates with
 * gaio_test_loop_iterate(): aio_poll() in one mode, g_main_context_iteration()
 * on a private GMainContext with the context's GSource attached in the other.
 * gaio_test_add_modes() registers a test once per mode, the mode's name last in
 * the path (/fd/F1/pipe/aio-poll, /fd/F1/pipe/gsource).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gaio-test.h"

typedef enum {
    GAIO_TEST_AIO_POLL,
    GAIO_TEST_GSOURCE,
    GAIO_TEST_N_MODES
} GaioTestMode;

static const GaioTestMode gaio_test_modes[GAIO_TEST_N_MODES] = {
    GAIO_TEST_AIO_POLL,
    GAIO_TEST_GSOURCE,
};

static const char *const gaio_test_mode_names[GAIO_TEST_N_MODES] = {
    "aio-poll",
    "gsource",
};

typedef struct {
    GaioTestMode mode;
    AioContext *ctx;
    GMainContext *mc; /* GAIO_TEST_GSOURCE only */
    GSource *source;  /* GAIO_TEST_GSOURCE only */
} GaioTestLoop;

/* Registers @func under @path/<mode> for each mode; @func gets a
 * `const GaioTestMode *`. */
static inline void
gaio_test_add_modes(const char *path, GTestDataFunc func)
{
    for (int i = 0; i < GAIO_TEST_N_MODES; i++) {
        g_autofree char *full = g_strdup_printf("%s/%s", path, gaio_test_mode_names[i]);

        g_test_add_data_func(full, &gaio_test_modes[i], func);
    }
}

/* A new context, run as @mode says. @data: the test's `const GaioTestMode *`. */
static inline void
gaio_test_loop_init(GaioTestLoop *loop, gconstpointer data)
{
    memset(loop, 0, sizeof *loop);
    loop->mode = *(const GaioTestMode *)data;
    loop->ctx = gaio_test_context_new();
    if (loop->mode == GAIO_TEST_GSOURCE) {
        loop->mc = g_main_context_new();
        loop->source = aio_get_g_source(loop->ctx);
        g_source_attach(loop->source, loop->mc);
        /* GLib 2.74's g_source_attach() signals the GMainContext's own wakeup
         * fd: absorb it, so that the first blocking iteration sleeps. Nothing is
         * pending, so this dispatches nothing. */
        g_assert_false(g_main_context_iteration(loop->mc, FALSE));
    }
}

static inline bool
gaio_test_loop_is_gsource(const GaioTestLoop *loop)
{
    return loop->mode == GAIO_TEST_GSOURCE;
}

/* One aio_poll(), or one g_main_context_iteration(). Under aio_poll() the
 * result is progress (P1); under GLib it is "a source was dispatched", which
 * a wakeup that brought nothing may also cause (G3). */
static inline bool
gaio_test_loop_iterate(GaioTestLoop *loop, bool blocking)
{
    if (loop->mode == GAIO_TEST_GSOURCE)
        return g_main_context_iteration(loop->mc, blocking);
    return aio_poll(loop->ctx, blocking);
}

/* Non-blocking iterations until one reports nothing; fails the test if that
 * takes more than @max. Returns how many reported something. */
static inline int
gaio_test_loop_flush_at_most(GaioTestLoop *loop, int max)
{
    int n = 0;

    while (gaio_test_loop_iterate(loop, false))
        g_assert_cmpint(++n, <=, max);
    return n;
}

/* P1 as each mode can see it, after a registration or a timer change that must
 * not be progress: under aio_poll() the next non-blocking call returns false;
 * under GLib, the change may have woken the context (registering "may wake the
 * loop"), which GLib reports as one dispatch, and then the loop goes quiet. The
 * caller checks that no callback ran. */
static inline void
gaio_test_loop_assert_no_progress(GaioTestLoop *loop)
{
    if (loop->mode == GAIO_TEST_GSOURCE)
        gaio_test_loop_flush_at_most(loop, 1);
    else
        g_assert_false(aio_poll(loop->ctx, false));
}

/* Tears down to zero: the context is finalized here (with whatever handlers and
 * timers it still has, C4), the GMainContext too. */
static inline void
gaio_test_loop_clear(GaioTestLoop *loop)
{
    if (loop->mode == GAIO_TEST_GSOURCE) {
        g_source_destroy(loop->source);
        g_source_unref(loop->source);
    }
    aio_context_unref(loop->ctx);
    if (loop->mc != NULL)
        g_main_context_unref(loop->mc);
    memset(loop, 0, sizeof *loop);
}

/* The GPollFDs GLib would poll for @mc this iteration (the context's GSource
 * and GLib's own wakeup fd), counted with the documented prepare / query /
 * check / dispatch steps; the iteration is completed (without polling) so
 * that @mc is left as a normal iteration would leave it. *@timeout_out (if not
 * NULL) gets the poll timeout, in ms, that the sources asked for (-1: none). */
static inline int
gaio_test_count_glib_poll_fds(GMainContext *mc, int *timeout_out)
{
    GPollFD fds[64];
    gint max_priority = G_MAXINT, timeout = -1, n;

    g_assert_true(g_main_context_acquire(mc));
    g_main_context_prepare(mc, &max_priority);
    n = g_main_context_query(mc, max_priority, &timeout, fds, G_N_ELEMENTS(fds));
    g_assert_cmpint(n, <=, (int)G_N_ELEMENTS(fds));
    for (int i = 0; i < n; i++)
        fds[i].revents = 0;
    if (g_main_context_check(mc, max_priority, fds, n))
        g_main_context_dispatch(mc);
    g_main_context_release(mc);
    if (timeout_out != NULL)
        *timeout_out = timeout;
    return n;
}
