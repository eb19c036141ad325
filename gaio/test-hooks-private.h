/* test-hooks-private.h: pause points for deterministic race tests.
 *
 * A pause point marks an instruction boundary where another thread may act on
 * the object a concurrent operation is working on ("what if this thread stops
 * here for a second?"). In the library that is installed the points compile
 * to nothing. The test-hooks static library (built with GAIO_TEST_HOOKS, see
 * gaio/meson.build) calls gaio_test_pause_hook there, so a test can hold one
 * thread at the point while another runs, deletes and frees.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

typedef enum {
    /* mpsc_queue_push(): after the exchange, before the link store. The node
     * and those pushed after it are unreachable: the gap (W1). */
    GAIO_PAUSE_PUSH_LINK,
    /* qemu_bh_schedule*(): the BH may have become runnable (visible in the
     * queue and pending), and the schedule has not returned yet (B10). */
    GAIO_PAUSE_SCHEDULE_VISIBLE,
    /* qemu_bh_schedule*(): the pending bit is set on a BH that already was
     * queued, before the schedule checks the queued bit (B10). */
    GAIO_PAUSE_SCHEDULE_KIND_SET,
    /* A pass has collected ready handler events (object: the context), and
     * calls none yet: another thread may remove or replace them (F2). */
    GAIO_PAUSE_HANDLERS_COLLECTED,
    /* The context's thread is set to sleep (object: the context): the
     * timeout is computed and the timerfds set, in aio_poll() before its
     * ppoll() and at the end of the GSource's prepare (T4). */
    GAIO_PAUSE_BEFORE_SLEEP,
    /* A timer pass has disarmed an expired timer (object: the timer) and
     * not called it yet: another thread may free it. */
    GAIO_PAUSE_TIMER_POPPED,
    /* A pool worker took a request off the queue (object: the request)
     * and has not claimed it yet: a cancel may win (TP2). */
    GAIO_PAUSE_POOL_BEFORE_CLAIM,
    /* aio_thread_pool_cancel() won the claim (object: the request) and has
     * not listed the completion yet: finalize must wait for it (TP5). */
    GAIO_PAUSE_POOL_CANCEL_WON,
} GaioPausePoint;

#ifdef GAIO_TEST_HOOKS
#include <stdatomic.h>

typedef void (*GaioPauseHook)(GaioPausePoint point, const void *object);
/* Set by a test; called at every pause point, from any thread and from
 * signal handlers, with the object the operation works on. */
extern GaioPauseHook _Atomic gaio_test_pause_hook;

#define GAIO_TEST_PAUSE(point, object)                                                     \
    do {                                                                                   \
        GaioPauseHook hook_ =                                                              \
            atomic_load_explicit(&gaio_test_pause_hook, memory_order_acquire);             \
        if (hook_ != NULL)                                                                 \
            hook_((point), (object));                                                      \
    } while (0)
#else
#define GAIO_TEST_PAUSE(point, object) ((void)0)
#endif

/* Fault points: a system call the test makes fail, once, with an errno. */
typedef enum {
    /* epoll_ctl() adding or changing a watch (fdmon-epoll.c, F3). */
    GAIO_FAULT_EPOLL_CTL,
    GAIO_FAULT_N_POINTS,
} GaioFaultPoint;

#ifdef GAIO_TEST_HOOKS
/* The errno the next call at each point fails with; 0: none. */
extern atomic_int gaio_test_fault_errno[GAIO_FAULT_N_POINTS];

/* 0, or the errno to fail with (taken: the next call succeeds again). */
#define GAIO_TEST_FAULT(point) atomic_exchange(&gaio_test_fault_errno[(point)], 0)
#else
#define GAIO_TEST_FAULT(point) 0
#endif
