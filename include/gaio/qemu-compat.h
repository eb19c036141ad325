/* qemu-compat.h: QEMU's spellings of the gaio API, so that QEMU code and
 * QEMU's unit tests compile unchanged against gaio.
 *
 * Not part of the umbrella: include it explicitly, after or instead of
 * <gaio/gaio.h>. Everything here is a macro or a static inline wrapper; it
 * adds no symbol to the library. gaio spells QEMU's generic names (timer_mod,
 * timer_new_ns, …) with an aio_ prefix because a shared library may not claim
 * them; this header gives them back to code that wants them.
 *
 * What maps where:
 *   QEMUTimer, QEMUTimerCB, QEMUClockType   AioTimer, AioTimerCB, AioClockType
 *   QEMU_CLOCK_REALTIME, QEMU_CLOCK_HOST    AIO_CLOCK_REALTIME, AIO_CLOCK_HOST
 *   SCALE_NS, SCALE_US, SCALE_MS            AIO_SCALE_NS, AIO_SCALE_US, AIO_SCALE_MS
 *   timer_new*, timer_init*                 aio_timer_new(), aio_timer_init() on
 *                                           the default context (QEMU's main loop)
 *   timer_mod*, timer_del, timer_free, …    aio_timer_mod*(), aio_timer_del(), …
 *   qemu_clock_get_ns/us/ms                 aio_clock_get_ns()
 *   IOThread, iothread_new, iothread_join,  AioIOThread, aio_iothread_new(),
 *   iothread_get_aio_context                aio_iothread_join(), …
 *                                           (QEMU's tests/unit/iothread.h)
 * aio_timer_init() and aio_timer_new() already have QEMU's names and
 * arguments. QEMU's virtual clocks (QEMU_CLOCK_VIRTUAL, QEMU_CLOCK_VIRTUAL_RT)
 * have no gaio counterpart: code using them does not compile, on purpose.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <gaio/gaio.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------ clocks */

/* QEMU's QEMUClockType: the clock a timer's deadlines are read on. */
typedef AioClockType QEMUClockType;

/* The monotonic clock (never jumps). */
#define QEMU_CLOCK_REALTIME AIO_CLOCK_REALTIME
/* The wall clock (nanoseconds since the Unix epoch; follows clock changes). */
#define QEMU_CLOCK_HOST AIO_CLOCK_HOST
/* The number of clocks, not a clock. */
#define QEMU_CLOCK_MAX AIO_CLOCK_MAX

/* The units of a timer's deadline, as multiples of a nanosecond. */
#define SCALE_NS AIO_SCALE_NS
#define SCALE_US AIO_SCALE_US
#define SCALE_MS AIO_SCALE_MS

/* The current time of @type in nanoseconds. Thread-safe; async-signal-safe. */
static inline int64_t
qemu_clock_get_ns(QEMUClockType type)
{
    return aio_clock_get_ns(type);
}

/* The current time of @type in microseconds. Thread-safe; async-signal-safe. */
static inline int64_t
qemu_clock_get_us(QEMUClockType type)
{
    return aio_clock_get_ns(type) / SCALE_US;
}

/* The current time of @type in milliseconds. Thread-safe; async-signal-safe. */
static inline int64_t
qemu_clock_get_ms(QEMUClockType type)
{
    return aio_clock_get_ns(type) / SCALE_MS;
}

/* ------------------------------------------------------------ timers */

/* QEMU's QEMUTimer: an #AioTimer, embeddable in the caller's structs. */
typedef AioTimer QEMUTimer;

/* QEMU's QEMUTimerCB: a timer's callback, run in its context's thread. */
typedef AioTimerCB QEMUTimerCB;

/* A new timer of the default context, qemu_get_aio_context(), whose deadlines
 * are in units of @scale ns. Free with timer_free(). Thread-safe. */
static inline QEMUTimer *
timer_new(QEMUClockType type, int scale, QEMUTimerCB *cb, void *opaque)
{
    return aio_timer_new(qemu_get_aio_context(), type, scale, cb, opaque);
}

/* timer_new() with deadlines in nanoseconds. Thread-safe. */
static inline QEMUTimer *
timer_new_ns(QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    return timer_new(type, SCALE_NS, cb, opaque);
}

/* timer_new() with deadlines in microseconds. Thread-safe. */
static inline QEMUTimer *
timer_new_us(QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    return timer_new(type, SCALE_US, cb, opaque);
}

/* timer_new() with deadlines in milliseconds. Thread-safe. */
static inline QEMUTimer *
timer_new_ms(QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    return timer_new(type, SCALE_MS, cb, opaque);
}

/* Sets up the caller's timer storage @ts as a timer of the default context,
 * deadlines in units of @scale ns. Undo with timer_deinit(). Thread-safe. */
static inline void
timer_init(QEMUTimer *ts, QEMUClockType type, int scale, QEMUTimerCB *cb, void *opaque)
{
    aio_timer_init(qemu_get_aio_context(), ts, type, scale, cb, opaque);
}

/* timer_init() with deadlines in nanoseconds. Thread-safe. */
static inline void
timer_init_ns(QEMUTimer *ts, QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    timer_init(ts, type, SCALE_NS, cb, opaque);
}

/* timer_init() with deadlines in microseconds. Thread-safe. */
static inline void
timer_init_us(QEMUTimer *ts, QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    timer_init(ts, type, SCALE_US, cb, opaque);
}

/* timer_init() with deadlines in milliseconds. Thread-safe. */
static inline void
timer_init_ms(QEMUTimer *ts, QEMUClockType type, QEMUTimerCB *cb, void *opaque)
{
    timer_init(ts, type, SCALE_MS, cb, opaque);
}

/* Disarms @ts and detaches it from its context (aio_timer_deinit()); its
 * storage may then go. Thread-safe. */
static inline void
timer_deinit(QEMUTimer *ts)
{
    aio_timer_deinit(ts);
}

/* Disarms and frees a timer made by timer_new*() or aio_timer_new(); NULL is
 * ignored. Thread-safe, once no other thread uses @ts. */
static inline void
timer_free(QEMUTimer *ts)
{
    aio_timer_free(ts);
}

/* Arms @ts for @expire_time in nanoseconds (negative counts as 0), or moves
 * its deadline. Thread-safe. */
static inline void
timer_mod_ns(QEMUTimer *ts, int64_t expire_time)
{
    aio_timer_mod_ns(ts, expire_time);
}

/* Arms @ts for @expire_time in its scale, or moves its deadline.
 * Thread-safe. */
static inline void
timer_mod(QEMUTimer *ts, int64_t expire_time)
{
    aio_timer_mod(ts, expire_time);
}

/* timer_mod_ns() that only ever brings the deadline forward. Thread-safe. */
static inline void
timer_mod_anticipate_ns(QEMUTimer *ts, int64_t expire_time)
{
    aio_timer_mod_anticipate_ns(ts, expire_time);
}

/* timer_mod() that only ever brings the deadline forward. Thread-safe. */
static inline void
timer_mod_anticipate(QEMUTimer *ts, int64_t expire_time)
{
    aio_timer_mod_anticipate(ts, expire_time);
}

/* Disarms @ts; an unarmed timer stays unarmed. Thread-safe. */
static inline void
timer_del(QEMUTimer *ts)
{
    aio_timer_del(ts);
}

/* Whether @ts is armed (its callback has not started yet). Thread-safe. */
static inline bool
timer_pending(const QEMUTimer *ts)
{
    return aio_timer_pending(ts);
}

/* Whether @ts's expire time (-1 when unarmed) is at or before @current_time,
 * in its scale. Thread-safe. */
static inline bool
timer_expired(const QEMUTimer *ts, int64_t current_time)
{
    return aio_timer_expired(ts, current_time);
}

/* @ts's deadline in nanoseconds, or -1 (UINT64_MAX, as QEMU's uint64_t
 * return type spells it) when unarmed. Thread-safe. */
static inline uint64_t
timer_expire_time_ns(const QEMUTimer *ts)
{
    return (uint64_t)aio_timer_expire_time_ns(ts);
}

/* ------------------------------------------------------------ contexts */

/* QEMU's meaning: the context the calling thread runs (aio_context_get_current())
 * if any, else the default context. Thread-safe. */
static inline AioContext *
qemu_get_current_aio_context(void)
{
    AioContext *ctx = aio_context_get_current();

    return ctx != NULL ? ctx : qemu_get_aio_context();
}

/* ------------------------------------------------------------ bottom halves */

/* aio_bh_new() with QEMU's reentrancy guard, which gaio ignores (it is still
 * evaluated once). QEMU's MemReentrancyGuard stops a device's BH from
 * re-entering that device's MMIO handlers; gaio has no devices and no memory
 * API, so there is nothing for it to guard. Thread-safe. */
#define aio_bh_new_guarded(ctx, cb, opaque, guard) \
    ((void)(guard), aio_bh_new_full((ctx), (cb), (opaque), G_STRINGIFY(cb)))

/* qemu_bh_new() (a BH of the default context) with QEMU's reentrancy guard,
 * ignored as by aio_bh_new_guarded(). Thread-safe. */
#define qemu_bh_new_guarded(cb, opaque, guard) \
    ((void)(guard), aio_bh_new_full(qemu_get_aio_context(), (cb), (opaque), G_STRINGIFY(cb)))

/* ------------------------------------------------------------ I/O threads */

/* QEMU's IOThread of tests/unit/iothread.h: a thread running its own context. */
typedef AioIOThread IOThread;

/* Starts an I/O thread named "iothread". As QEMU's test helper, takes no
 * arguments and aborts the program if the thread cannot be started.
 * Thread-safe. */
static inline IOThread *
iothread_new(void)
{
    GError *error = NULL;
    IOThread *iothread = aio_iothread_new("iothread", &error);

    if (iothread == NULL)
        g_error("iothread_new: %s", error->message);
    return iothread;
}

/* Runs the BHs pending in @iothread's context, stops the thread, joins it and
 * frees @iothread (aio_iothread_join()). Any thread but @iothread's own. */
static inline void
iothread_join(IOThread *iothread)
{
    aio_iothread_join(iothread);
}

/* The context @iothread runs. Thread-safe. */
static inline AioContext *
iothread_get_aio_context(IOThread *iothread)
{
    return aio_iothread_get_aio_context(iothread);
}

G_END_DECLS
