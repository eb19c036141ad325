/* timer.h: nanosecond timers of an AioContext (QEMU's QEMUTimer, aio_ spelling).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>

G_BEGIN_DECLS

/**
 * AioClockType:
 * @AIO_CLOCK_REALTIME: the monotonic clock (QEMU's QEMU_CLOCK_REALTIME):
 *   never jumps, counts from an arbitrary origin
 * @AIO_CLOCK_HOST: the wall clock (CLOCK_REALTIME, QEMU's QEMU_CLOCK_HOST):
 *   nanoseconds since the Unix epoch; follows the system's clock changes
 * @AIO_CLOCK_MAX: the number of clocks, not a clock
 *
 * The clock a timer's deadline is read on.
 */
typedef enum {
    AIO_CLOCK_REALTIME = 0,
    AIO_CLOCK_HOST = 1,
    AIO_CLOCK_MAX
} AioClockType;

/* The units of a timer's deadline, as multiples of a nanosecond. */
#define AIO_SCALE_NS 1
#define AIO_SCALE_US 1000
#define AIO_SCALE_MS 1000000

/**
 * AioTimerCB:
 * @opaque: the pointer given when the timer was made
 *
 * A timer's callback. It runs in the context's thread, inside a pass.
 */
typedef void AioTimerCB(void *opaque);

/**
 * AioTimer:
 *
 * A timer of one #AioContext. A plain struct of fixed size, so callers may
 * embed it in their own structs and set it up with aio_timer_init(), as QEMU
 * code embeds QEMUTimer; or allocate one with aio_timer_new(). Every field is
 * private.
 */
typedef struct _AioTimer {
    /*< private >*/
    gpointer dummy_pointers[6];
    gint64 dummy_int64[2];
    guint32 dummy_uint32[4];
} AioTimer;

/**
 * aio_clock_get_ns:
 * @type: a clock
 *
 * Thread-safe; async-signal-safe.
 *
 * Returns: the clock's current time in nanoseconds
 */
GAIO_AVAILABLE_IN_ALL
int64_t aio_clock_get_ns(AioClockType type);

/**
 * aio_timer_init:
 * @ctx: the context whose passes run the timer
 * @ts: the caller's timer storage
 * @type: the clock of its deadlines
 * @scale: the unit of its deadlines (%AIO_SCALE_NS, %AIO_SCALE_US,
 *   %AIO_SCALE_MS, or any positive number of nanoseconds)
 * @cb: its callback
 * @opaque: the callback's argument
 *
 * Sets up a timer in storage the caller owns; it starts unarmed. Undo with
 * aio_timer_deinit() before the storage goes. Finalizing @ctx detaches it:
 * the timer must not be used afterwards.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_init(AioContext *ctx, AioTimer *ts, AioClockType type, int scale,
                    AioTimerCB *cb, void *opaque);

/**
 * aio_timer_new:
 * @ctx: the context whose passes run the timer
 * @type: the clock of its deadlines
 * @scale: the unit of its deadlines
 * @cb: its callback
 * @opaque: the callback's argument
 *
 * aio_timer_init() on a new allocation. Free it with aio_timer_free(); the
 * context frees those still alive when it is finalized.
 *
 * Thread-safe.
 *
 * Returns: (transfer full): an unarmed timer
 */
GAIO_AVAILABLE_IN_ALL
AioTimer *aio_timer_new(AioContext *ctx, AioClockType type, int scale, AioTimerCB *cb,
                        void *opaque);

/**
 * aio_timer_deinit:
 * @ts: a timer set up with aio_timer_init()
 *
 * Disarms the timer and detaches it from its context; its storage may then be
 * freed. A callback already running finishes.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_deinit(AioTimer *ts);

/**
 * aio_timer_free:
 * @ts: (nullable) (transfer full): a timer made with aio_timer_new()
 *
 * Disarms and frees the timer.
 *
 * Thread-safe, as long as no other thread uses @ts any more.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_free(AioTimer *ts);

/**
 * aio_timer_mod_ns:
 * @ts: a timer
 * @expire_time: the deadline, in nanoseconds on the timer's clock; negative
 *   counts as 0
 *
 * Arms the timer, or moves its deadline if armed. Its callback runs once, in
 * the first pass of the context at or after the deadline, never before (T1).
 * Timers of one clock run in deadline order, equal deadlines in arming
 * order. O(log n) in the number of armed timers (T3). From another thread,
 * wakes the context if the new deadline is earlier than the one it sleeps
 * for (T4). A timer re-armed from its own callback with a deadline already
 * passed runs in the next pass, not in this one.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_mod_ns(AioTimer *ts, int64_t expire_time);

/**
 * aio_timer_mod:
 * @ts: a timer
 * @expire_time: the deadline, in the timer's scale
 *
 * aio_timer_mod_ns() with @expire_time × scale.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_mod(AioTimer *ts, int64_t expire_time);

/**
 * aio_timer_mod_anticipate_ns:
 * @ts: a timer
 * @expire_time: the deadline in nanoseconds
 *
 * Like aio_timer_mod_ns(), but only ever brings the deadline forward: a timer
 * armed for earlier keeps its deadline.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_mod_anticipate_ns(AioTimer *ts, int64_t expire_time);

/**
 * aio_timer_mod_anticipate:
 * @ts: a timer
 * @expire_time: the deadline, in the timer's scale
 *
 * aio_timer_mod_anticipate_ns() with @expire_time × scale.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_mod_anticipate(AioTimer *ts, int64_t expire_time);

/**
 * aio_timer_del:
 * @ts: a timer
 *
 * Disarms the timer; deleting an unarmed timer does nothing. A callback that
 * another thread's pass is already running finishes. O(log n).
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_timer_del(AioTimer *ts);

/**
 * aio_timer_pending:
 * @ts: a timer
 *
 * Thread-safe.
 *
 * Returns: %true if the timer is armed (its callback has not started yet)
 */
GAIO_AVAILABLE_IN_ALL
bool aio_timer_pending(const AioTimer *ts);

/**
 * aio_timer_expired:
 * @ts: a timer
 * @current_time: a time in the timer's scale
 *
 * QEMU's timer_expired(): whether the timer's expire time is at or before
 * @current_time, an unarmed timer's expire time being -1.
 *
 * Thread-safe.
 *
 * Returns: %true if expired (or unarmed and @current_time ≥ -1)
 */
GAIO_AVAILABLE_IN_ALL
bool aio_timer_expired(const AioTimer *ts, int64_t current_time);

/**
 * aio_timer_expire_time_ns:
 * @ts: a timer
 *
 * Thread-safe.
 *
 * Returns: the deadline in nanoseconds, or -1 if the timer is not armed
 */
GAIO_AVAILABLE_IN_ALL
int64_t aio_timer_expire_time_ns(const AioTimer *ts);

G_END_DECLS
