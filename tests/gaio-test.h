/* gaio-test.h: helpers shared by the tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gaio/gaio.h>

/* Seconds after which a hung test (a lost wakeup) is killed by SIGALRM and
 * fails, well before meson's own timeout. */
#define GAIO_TEST_WATCHDOG_SECONDS 60

/* g_test_init() plus the watchdog. */
static inline void
gaio_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    alarm(GAIO_TEST_WATCHDOG_SECONDS);
}

/* Iteration counts for stress loops: divided by GAIO_TEST_SLOWDOWN (set by the
 * valgrind setup), never below 1. */
static inline unsigned
gaio_test_scale(unsigned n)
{
    const char *env = g_getenv("GAIO_TEST_SLOWDOWN");
    unsigned div = env ? (unsigned)g_ascii_strtoull(env, NULL, 10) : 1;

    return MAX(n / MAX(div, 1u), 1u);
}

/* A new context; the test fails if it cannot be made. */
static inline AioContext *
gaio_test_context_new(void)
{
    g_autoptr(GError) error = NULL;
    AioContext *ctx = aio_context_new(&error);

    g_assert_no_error(error);
    g_assert_nonnull(ctx);
    return ctx;
}
