/* loop-reference.c: the physical references, no event loop at all.
 *
 *  - plain call: a dispatch is fn[i](arg[i]) for every handle, a schedule
 *    does nothing. What calling K callbacks costs, and nothing more.
 *  - atomic flag + call: the least a coalescing deferred callback can do.
 *    schedule: atomic_exchange(&flag[i], 1); dispatch: for every i,
 *    if (atomic_exchange(&flag[i], 0)) fn[i](arg[i]). One locked instruction
 *    on each side. Its dispatch scans every flag, so it has no idle scaling.
 *  - raw eventfd (latency only): the consumer blocks in poll() on an eventfd,
 *    the producer write()s it, the consumer read()s it and runs the callback.
 *    The floor of any wake-up that goes through the kernel.
 *  - bare timerfd (timer lateness only): a timerfd on CLOCK_MONOTONIC armed
 *    with timerfd_settime(TFD_TIMER_ABSTIME) for the deadline to the
 *    nanosecond; a blocking iteration is a blocking read() of it, then the
 *    callback. The floor of any timer that sleeps in the kernel.
 *
 * fn[] and arg[] are heap tables filled at run time by handles_add(), so the
 * compiler cannot know the call targets: each call is a real indirect call,
 * as in every event loop measured here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench-private.h"

typedef void RefFunc(void *arg);

typedef struct {
    BenchLoop base;
    RefFunc **fn;
    void **arg;
    atomic_uchar *flag; /* atomic flag + call */
    unsigned n_handles;
    int eventfd; /* raw eventfd */
    int timerfd; /* bare timerfd */
} RefLoop;

static G_NO_INLINE void
ref_ran(void *arg)
{
    bench_loop_ran(arg);
}

static BenchLoop *
ref_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    RefLoop *loop = g_new0(RefLoop, 1);

    max_handles = MAX(max_handles, 1);
    loop->fn = g_new(RefFunc *, max_handles);
    loop->arg = g_new(void *, max_handles);
    loop->flag = g_new0(atomic_uchar, max_handles);
    loop->eventfd = -1;
    loop->timerfd = -1;
    if (impl == &bench_ref_eventfd) {
        loop->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (loop->eventfd < 0)
            g_error("eventfd: %s", g_strerror(errno));
    }
    if (impl == &bench_ref_timerfd) {
        loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC); /* blocking */
        if (loop->timerfd < 0)
            g_error("timerfd_create: %s", g_strerror(errno));
    }
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
ref_loop_free(BenchLoop *base)
{
    RefLoop *loop = (RefLoop *)base;

    if (loop->eventfd >= 0)
        close(loop->eventfd);
    if (loop->timerfd >= 0)
        close(loop->timerfd);
    g_free(loop->fn);
    g_free(loop->arg);
    g_free(loop->flag);
    g_free(loop);
}

static void
ref_handles_add(BenchLoop *base, unsigned n)
{
    RefLoop *loop = (RefLoop *)base;

    for (unsigned i = 0; i < n; i++, loop->n_handles++) {
        loop->fn[loop->n_handles] = ref_ran;
        loop->arg[loop->n_handles] = loop;
    }
}

/* plain call */

static void
ref_call_schedule(BenchLoop *base, unsigned first, unsigned n)
{
}

static void
ref_call_iterate(BenchLoop *base, bool block)
{
    RefLoop *loop = (RefLoop *)base;

    for (unsigned i = 0; i < loop->n_handles; i++)
        loop->fn[i](loop->arg[i]);
}

/* atomic flag + call */

static void
ref_atomic_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    RefLoop *loop = (RefLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        atomic_exchange(&loop->flag[i], 1);
}

static void
ref_atomic_iterate(BenchLoop *base, bool block)
{
    RefLoop *loop = (RefLoop *)base;

    for (unsigned i = 0; i < loop->n_handles; i++)
        if (atomic_exchange(&loop->flag[i], 0))
            loop->fn[i](loop->arg[i]);
}

/* raw eventfd: one handle, whatever is asked */

static void
ref_eventfd_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    const uint64_t one = 1;

    if (write(((RefLoop *)base)->eventfd, &one, sizeof one) < 0 && errno != EAGAIN)
        g_error("write(eventfd): %s", g_strerror(errno));
}

static void
ref_eventfd_iterate(BenchLoop *base, bool block)
{
    RefLoop *loop = (RefLoop *)base;
    struct pollfd pfd = {.fd = loop->eventfd, .events = POLLIN};
    uint64_t value;

    if (poll(&pfd, 1, block ? -1 : 0) == 1 &&
        read(loop->eventfd, &value, sizeof value) > 0)
        loop->fn[0](loop->arg[0]);
}

/* bare timerfd: one timer */

static void
ref_timerfd_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    struct itimerspec spec = {
        .it_value = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000},
    };

    if (timerfd_settime(((RefLoop *)base)->timerfd, TFD_TIMER_ABSTIME, &spec, NULL) != 0)
        g_error("timerfd_settime: %s", g_strerror(errno));
}

static void
ref_timerfd_iterate(BenchLoop *base, bool block)
{
    RefLoop *loop = (RefLoop *)base;
    struct pollfd pfd = {.fd = loop->timerfd, .events = POLLIN};
    uint64_t expirations;

    if ((block || poll(&pfd, 1, 0) == 1) &&
        read(loop->timerfd, &expirations, sizeof expirations) > 0)
        ref_ran(loop);
}

const BenchImpl bench_ref_call = {
    .id = "ref-call",
    .name = "ref: plain call",
    .workloads = BENCH_SAME_THREAD,
    .loop_new = ref_loop_new,
    .loop_free = ref_loop_free,
    .handles_add = ref_handles_add,
    .schedule = ref_call_schedule,
    .iterate = ref_call_iterate,
};

const BenchImpl bench_ref_atomic = {
    .id = "ref-atomic",
    .name = "ref: atomic flag + call",
    .workloads = BENCH_SAME_THREAD,
    .loop_new = ref_loop_new,
    .loop_free = ref_loop_free,
    .handles_add = ref_handles_add,
    .schedule = ref_atomic_schedule,
    .iterate = ref_atomic_iterate,
};

const BenchImpl bench_ref_eventfd = {
    .id = "eventfd",
    .name = "ref: raw eventfd",
    .workloads = BENCH_LATENCY,
    .loop_new = ref_loop_new,
    .loop_free = ref_loop_free,
    .handles_add = ref_handles_add,
    .schedule = ref_eventfd_schedule,
    .iterate = ref_eventfd_iterate,
};

const BenchImpl bench_ref_timerfd = {
    .id = "timerfd",
    .name = "ref: bare timerfd",
    .workloads = BENCH_TIMERS,
    .loop_new = ref_loop_new,
    .loop_free = ref_loop_free,
    .iterate = ref_timerfd_iterate,
    .timer_arm = ref_timerfd_arm,
};
