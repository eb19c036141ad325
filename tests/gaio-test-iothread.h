/* gaio-test-iothread.h: helpers shared by the tests of I/O threads, waiting
 * and the thread pool (test-iothread.c, test-wait.c, test-thread-pool.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gaio-test.h"

/* aio_iothread_new(), failing the test if it fails. */
static inline AioIOThread *
gaio_test_iothread_new(const char *name)
{
    g_autoptr(GError) error = NULL;
    AioIOThread *t = aio_iothread_new(name, &error);

    g_assert_no_error(error);
    g_assert_nonnull(t);
    return t;
}

/* Waits until *@flag is true (the test's watchdog ends a hang). */
static inline void
gaio_test_wait_flag(atomic_bool *flag)
{
    while (!atomic_load(flag))
        sched_yield();
}

typedef struct {
    pthread_t self;
    atomic_bool done;
} GaioTestThreadSelf;

static inline void
gaio_test_thread_self_cb(void *opaque)
{
    GaioTestThreadSelf *s = opaque;

    s->self = pthread_self();
    atomic_store(&s->done, true);
}

/* The pthread of I/O thread @t, read in a BH of its context. */
static inline pthread_t
gaio_test_iothread_pthread(AioIOThread *t)
{
    GaioTestThreadSelf s = {0};

    aio_bh_schedule_oneshot(aio_iothread_get_aio_context(t), gaio_test_thread_self_cb, &s);
    gaio_test_wait_flag(&s.done);
    return s.self;
}

/* A QEMUBHFunc counting its runs in the atomic_uint @opaque. */
static inline void
gaio_test_count_cb(void *opaque)
{
    atomic_fetch_add((atomic_uint *)opaque, 1);
}
