/* poll.c: aio_poll(), running a context on its own (SPEC P1-P3), and the
 * look before any sleep, shared with the GSource.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "bh-private.h"
#include "context-private.h"
#include "fd-handler-private.h"
#include "notify-private.h"
#include "poll-private.h"
#include "test-hooks-private.h"
#include "timer-private.h"

/* What the owner's look at its context says about sleeping. */
typedef struct {
    int64_t timeout_ns; /* 0: must not sleep; -1: until woken */
    MpscNode *gap;      /* a node whose successor is not linked yet, or NULL */
} AioLook;

static AioLook
aio_look(AioContext *ctx)
{
    AioLook look = {.timeout_ns = 0, .gap = NULL};

    int64_t timer_ns;

    /* Model: tests/model/gaio.pml inline compute_timeout, @ct_notified. */
    if (aio_notify_pending(ctx) || aio_handlers_always_ready(ctx))
        return look;
    switch (bh_queue_state(ctx, &look.gap)) {
    case BH_QUEUE_NORMAL_PENDING:
        look.timeout_ns = 0;
        break;
    case BH_QUEUE_IDLE_PENDING:
        look.timeout_ns = AIO_IDLE_BH_TIMEOUT_NS;
        break;
    case BH_QUEUE_NOTHING_PENDING:
    default:
        look.timeout_ns = -1;
        break;
    }
    /* Handlers' fds and the timerfds need no bits: they end the sleep
     * through the monitor's fd, which every sleep polls. */
    timer_ns = timers_timeout_ns(ctx);
    if (timer_ns >= 0 && (look.timeout_ns < 0 || timer_ns < look.timeout_ns))
        look.timeout_ns = timer_ns;
    return look;
}

/* The notify_me bits for sleeping as @look says. */
static unsigned
aio_look_notify_bits(const AioLook *look)
{
    unsigned bits = AIO_NOTIFY_ME_ARMED;

    if (look->timeout_ns < 0 || look->timeout_ns > AIO_IDLE_BH_TIMEOUT_NS)
        bits |= AIO_NOTIFY_ME_LONG;
    if (look->gap != NULL)
        bits |= AIO_NOTIFY_ME_GAP;
    return bits;
}

static inline void
aio_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Calls @done(@data) between pauses until it returns true or @budget_ns
 * passed (the clock is read every 64 rounds). Bounded: the one busy-wait of
 * the owner (W1). */
static bool
aio_spin(bool (*done)(AioContext *ctx, const void *data), AioContext *ctx,
         const void *data, int64_t budget_ns)
{
    gint64 deadline = 0;

    for (unsigned i = 1;; i++) {
        aio_cpu_relax();
        if (done(ctx, data))
            return true;
        if (i % 64 == 0) {
            gint64 now = g_get_monotonic_time();

            if (deadline == 0)
                deadline = now + budget_ns / 1000;
            else if (now >= deadline)
                return false;
        }
    }
}

static bool
aio_gap_closed(AioContext *ctx, const void *gap)
{
    /* Relaxed: a hint only; the caller looks properly afterwards. */
    return atomic_load_explicit(&((MpscNode *)gap)->next, memory_order_relaxed) != NULL ||
           atomic_load_explicit(&ctx->notified, memory_order_relaxed);
}

int64_t
aio_prepare_to_sleep(AioContext *ctx)
{
    /* Model: tests/model/gaio.pml @prep_first_look, @arm, @prep_look, @prep_disarm. */
    AioLook look = aio_look(ctx);
    unsigned armed = 0;

    if (look.timeout_ns == 0)
        return 0;
    /* A producer is between its exchange and its link: usually for a few
     * instructions, so spin on a gap not seen before; one that stays open
     * was preempted or stopped, and the owner sleeps on it (W1). */
    /* Model: tests/model/gaio.pml @gap_spin. */
    if (look.gap != NULL && look.gap != ctx->gap_seen) {
        aio_spin(aio_gap_closed, ctx, look.gap, AIO_GAP_SPIN_NS);
        look = aio_look(ctx);
        if (look.timeout_ns == 0)
            return 0;
    }
    /* Arm for what the look asks, look again; if that look asks for more
     * (a later deadline, a gap), arm for that too. The bits only grow, so
     * this ends within three rounds. */
    for (;;) {
        unsigned bits = aio_look_notify_bits(&look) | armed;

        if (bits == armed)
            break;
        armed = bits;
        aio_notify_arm(ctx, armed);
        look = aio_look(ctx);
        if (look.timeout_ns == 0) {
            aio_notify_disarm(ctx); /* will not sleep: spare producers the write */
            return 0;
        }
    }
    ctx->gap_seen = look.gap;
    timers_program_for_sleep(ctx);
    if (look.gap != NULL && (look.timeout_ns < 0 || look.timeout_ns > AIO_GAP_SLEEP_NS))
        return AIO_GAP_SLEEP_NS;
    return look.timeout_ns;
}

int
aio_timeout_ns_to_ms(int64_t timeout_ns)
{
    int64_t ms;

    if (timeout_ns < 0)
        return -1;
    ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return (int)MIN(ms, (int64_t)INT_MAX);
}

/* Sleeps on the wakeup fd and the monitor's for at most @timeout_ns (-1:
 * until woken). True if the monitor's fd is readable: a handler's fd is
 * ready or a timerfd fired. The ppoll() timeout is only a backstop for
 * timers (it pays the thread's timer slack); their timerfd wakes it in time. */
static bool
aio_sleep(AioContext *ctx, int64_t timeout_ns)
{
    struct pollfd pfds[2] = {
        {.fd = ctx->wakeup_fd, .events = POLLIN},
        {.fd = ctx->fdmon_fd, .events = POLLIN},
    };
    struct timespec ts, *tsp = NULL;
    int r;

    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    /* Model: tests/model/gaio.pml @sleep_wake, @sleep_clear, @sleep_timeout. */
    r = ppoll(pfds, G_N_ELEMENTS(pfds), tsp, NULL);
    if (r < 0) {
        if (errno != EINTR)
            g_critical("AioContext %p: ppoll() failed: %s", (void *)ctx, g_strerror(errno));
        return false;
    }
    if (pfds[0].revents & POLLIN)
        aio_wakeup_clear(ctx);
    return (pfds[1].revents & POLLIN) != 0;
}

static bool
aio_work_arrived(AioContext *ctx, const void *last)
{
    /* Relaxed: a hint only; the caller still looks properly. */
    return atomic_load_explicit(&ctx->bh_queue.last, memory_order_relaxed) != last ||
           atomic_load_explicit(&ctx->notified, memory_order_relaxed);
}

/* After a call that made progress, a busy producer is likely to schedule
 * again within nanoseconds: watch the queue for up to AIO_POLL_SPIN_NS before
 * arming notify_me and sleeping, so back-to-back producers rarely pay an
 * eventfd write and the owner rarely pays a wakeup (QEMU polls likewise,
 * adaptively, in its I/O threads). True if work arrived. */
bool
aio_spin_for_work(AioContext *ctx, int64_t budget_ns)
{
    /* Model: tests/model/gaio.pml @spin_hint: true or false, at will. */
    MpscNode *last = mpsc_queue_last(&ctx->bh_queue);

    if (aio_look(ctx).timeout_ns == 0)
        return true;
    return aio_spin(aio_work_arrived, ctx, last, budget_ns);
}

bool
aio_poll(AioContext *ctx, bool blocking)
{
    AioContextEntry entry;
    int64_t timeout_ns = 0;
    bool slept = false, monitor_ready = false;
    bool progress;

    g_return_val_if_fail(ctx != NULL, false);

    if (!aio_context_enter(ctx, &entry))
        return false;
    /* Held for the whole call, as GLib holds one around a dispatch (C4): a
     * callback may drop the last reference of its own context. */
    aio_context_ref(ctx);
    if (blocking && !(ctx->poll_made_progress && aio_spin_for_work(ctx, ctx->poll_spin_ns))) {
        timeout_ns = aio_prepare_to_sleep(ctx);
        if (timeout_ns != 0) {
            GAIO_TEST_PAUSE(GAIO_PAUSE_BEFORE_SLEEP, ctx);
            monitor_ready = aio_sleep(ctx, timeout_ns);
            slept = true;
            aio_notify_disarm(ctx);
        }
    }
    /* Model: tests/model/gaio.pml @poll_accept, then inline pass. */
    aio_notify_accept(ctx);
    /* One pass: BHs, then ready handlers, then expired timers (P1). */
    progress = bh_pass_run(ctx) != 0;
    /* Without a sleep nobody polled the monitor: ask it, if it watches any
     * handler (the timers part reads the clocks itself). */
    if (!slept)
        monitor_ready = aio_handlers_monitored(ctx);
    if (aio_handlers_pass(ctx, monitor_ready))
        progress = true;
    if (timers_pass(ctx))
        progress = true;
    ctx->poll_made_progress = progress;
    aio_context_leave(ctx, &entry);
    /* May finalize @ctx: nothing touches it after this. */
    aio_context_unref(ctx);
    return progress;
}
