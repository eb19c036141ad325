/* timer-private.h: the timers of a context (timer.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "fdmon-private.h"

typedef struct AioTimerPrivate AioTimerPrivate;

/* A binary min-heap of timers on (deadline, arming order). */
typedef struct {
    AioTimerPrivate **slots;
    unsigned len, size;
} TimerHeap;

/* The armed timers of one clock, and a timerfd on the same clock that the
 * monitor watches, so a sleep ends as precisely as a bare timerfd sleep
 * (T2). Timers armed while a pass runs wait in `deferred` until the pass
 * ends (or a nested pass begins): a pass runs only timers armed before it,
 * and none of those is hidden behind a newer one (T1). */
typedef struct {
    AioWatch watch; /* the timerfd; first, so a collect hands it back */
    AioClockType type;
    TimerHeap armed;
    TimerHeap deferred;
    /* The absolute deadline the timerfd is set for; INT64_MAX: not set. */
    int64_t programmed;
    /* Heap slots written: what the structural cost tests count (T3). */
    uint64_t steps;
} AioTimerClock;

/* `lock` guards everything here and the fields of every timer of the
 * context: timers may be armed and deleted from any thread (T4). A pthread
 * mutex rather than a GMutex: ThreadSanitizer sees its ordering. */
typedef struct {
    pthread_mutex_t lock;
    AioTimerClock clocks[AIO_CLOCK_MAX];
    uint64_t next_seq;          /* arming order, for ties (T1) */
    unsigned passes;            /* timer passes running (nesting) */
    AioTimerPrivate *all;       /* every timer, armed or not, for finalize (C4) */
    atomic_uint n_armed;        /* read without the lock by the owner's looks */
} AioTimers;

void timers_init(AioContext *ctx);
/* Opens the timerfds and gives them to the monitor. */
bool timers_open(AioContext *ctx, GError **error);
/* Frees the timers made by aio_timer_new(), detaches embedded ones, closes
 * the timerfds (C4). */
void timers_finalize(AioContext *ctx);

/* Context thread only. Nanoseconds until the earliest deadline (0 if one
 * passed), or -1 with no timer armed. */
int64_t timers_timeout_ns(AioContext *ctx);

/* Context thread only, about to sleep: sets each clock's timerfd to its
 * earliest deadline (a system call only when that changed). */
void timers_program_for_sleep(AioContext *ctx);

/* Context thread only: a clock's timerfd was seen ready. */
void timers_fired(AioContext *ctx, AioWatch *watch);

/* Context thread only: the timers part of a pass (T1). True if a callback
 * ran (P1). */
bool timers_pass(AioContext *ctx);
