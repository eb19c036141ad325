/* timer.c: nanosecond timers (SPEC T1-T4, P3, G2).
 *
 * Each clock of a context keeps its armed timers in a binary min-heap on
 * (deadline, arming order): arming, re-arming and deleting are O(log n) (T3),
 * the earliest is at the top, equal deadlines run in arming order (T1).
 *
 * Each clock also has a timerfd that the fd monitor watches. Before it
 * sleeps, the context's thread sets it to the earliest deadline; a sleep
 * then ends when that timerfd fires, as precisely as a bare timerfd sleep,
 * under aio_poll() and under GLib alike (whose own timeouts are in
 * milliseconds, T2). Another thread arming an earlier deadline sets the
 * timerfd itself, which wakes the sleeper exactly when needed (T4); the
 * context's thread leaves that to its next sleep, so re-arming from a
 * callback costs no system call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "context-private.h"
#include "i18n-private.h"
#include "test-hooks-private.h"
#include "timer-private.h"

#define TIMER_NOT_IN_HEAP UINT32_MAX

struct AioTimerPrivate {
    AioContext *ctx; /* NULL once deinitialized or detached by finalize */
    AioTimerCB *cb;
    void *opaque;
    AioTimerPrivate *prev, *next; /* in AioTimers.all */
    /* -1: not armed. Written under the lock; read without it by
     * aio_timer_pending() and friends, hence the atomic builtins (a plain
     * int64_t keeps the public struct's layout the same on every ABI). */
    int64_t expire_time;
    uint64_t seq;
    uint32_t heap_index;
    int32_t scale;
    uint8_t type;
    bool allocated; /* by aio_timer_new(): finalize frees it */
    bool deferred;  /* in its clock's deferred heap, not the armed one */
};

G_STATIC_ASSERT(sizeof(AioTimerPrivate) <= sizeof(AioTimer));
G_STATIC_ASSERT(G_ALIGNOF(AioTimerPrivate) <= G_ALIGNOF(AioTimer));

static inline AioTimerPrivate *
timer_private(AioTimer *ts)
{
    return (AioTimerPrivate *)(void *)ts;
}

static inline const AioTimerPrivate *
timer_private_const(const AioTimer *ts)
{
    return (const AioTimerPrivate *)(const void *)ts;
}

static inline int64_t
timer_load_expire(const AioTimerPrivate *t)
{
    return __atomic_load_n(&t->expire_time, __ATOMIC_ACQUIRE);
}

static inline void
timer_store_expire(AioTimerPrivate *t, int64_t expire)
{
    __atomic_store_n(&t->expire_time, expire, __ATOMIC_RELEASE);
}

static clockid_t
clock_id(AioClockType type)
{
    return type == AIO_CLOCK_HOST ? CLOCK_REALTIME : CLOCK_MONOTONIC;
}

int64_t
aio_clock_get_ns(AioClockType type)
{
    struct timespec ts;

    g_return_val_if_fail(type < AIO_CLOCK_MAX, 0);

    clock_gettime(clock_id(type), &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the heaps: lock held throughout --- */

static bool
timer_before(const AioTimerPrivate *a, const AioTimerPrivate *b)
{
    return a->expire_time < b->expire_time ||
           (a->expire_time == b->expire_time && a->seq < b->seq);
}

static void
heap_place(AioTimerClock *clock, TimerHeap *heap, unsigned i, AioTimerPrivate *t)
{
    clock->steps++;
    heap->slots[i] = t;
    t->heap_index = i;
}

static void
heap_sift_up(AioTimerClock *clock, TimerHeap *heap, unsigned i)
{
    AioTimerPrivate *t = heap->slots[i];

    while (i > 0) {
        unsigned parent = (i - 1) / 2;

        if (!timer_before(t, heap->slots[parent]))
            break;
        heap_place(clock, heap, i, heap->slots[parent]);
        i = parent;
    }
    heap_place(clock, heap, i, t);
}

static void
heap_sift_down(AioTimerClock *clock, TimerHeap *heap, unsigned i)
{
    AioTimerPrivate *t = heap->slots[i];

    for (;;) {
        unsigned child = 2 * i + 1;

        if (child >= heap->len)
            break;
        if (child + 1 < heap->len && timer_before(heap->slots[child + 1], heap->slots[child]))
            child++;
        if (!timer_before(heap->slots[child], t))
            break;
        heap_place(clock, heap, i, heap->slots[child]);
        i = child;
    }
    heap_place(clock, heap, i, t);
}

static void
heap_insert(AioTimerClock *clock, TimerHeap *heap, AioTimerPrivate *t)
{
    if (heap->len == heap->size) {
        heap->size = MAX(16u, heap->size * 2);
        heap->slots = g_renew(AioTimerPrivate *, heap->slots, heap->size);
    }
    heap_place(clock, heap, heap->len++, t);
    heap_sift_up(clock, heap, heap->len - 1);
}

static void
heap_remove(AioTimerClock *clock, TimerHeap *heap, AioTimerPrivate *t)
{
    unsigned i = t->heap_index;
    AioTimerPrivate *last = heap->slots[--heap->len];

    t->heap_index = TIMER_NOT_IN_HEAP;
    if (i == heap->len)
        return;
    heap_place(clock, heap, i, last);
    if (i > 0 && timer_before(last, heap->slots[(i - 1) / 2]))
        heap_sift_up(clock, heap, i);
    else
        heap_sift_down(clock, heap, i);
}

static AioTimerPrivate *
heap_top(const TimerHeap *heap)
{
    return heap->len > 0 ? heap->slots[0] : NULL;
}

/* The earliest deadline of @clock's timers, INT64_MAX with none. */
static int64_t
clock_earliest(const AioTimerClock *clock)
{
    const AioTimerPrivate *armed = heap_top(&clock->armed);
    const AioTimerPrivate *deferred = heap_top(&clock->deferred);
    int64_t earliest = INT64_MAX;

    if (armed != NULL)
        earliest = armed->expire_time;
    if (deferred != NULL && deferred->expire_time < earliest)
        earliest = deferred->expire_time;
    return earliest;
}

/* Moves the timers armed during passes into the armed heaps. */
static void
timers_merge_deferred(AioTimers *timers)
{
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        AioTimerClock *clock = &timers->clocks[type];
        AioTimerPrivate *t;

        while ((t = heap_top(&clock->deferred)) != NULL) {
            heap_remove(clock, &clock->deferred, t);
            t->deferred = false;
            heap_insert(clock, &clock->armed, t);
        }
    }
}

/* --- the timerfds --- */

/* Lock held. Sets @clock's timerfd to fire at @deadline (INT64_MAX: never).
 * Setting it also clears a tick it may hold. */
static void
clock_program(AioContext *ctx, AioTimerClock *clock, int64_t deadline)
{
    struct itimerspec its = {{0, 0}, {0, 0}};

    if (deadline != INT64_MAX) {
        /* An it_value of 0 disarms: a deadline at or before the epoch of
         * the clock becomes 1 ns, which has passed and fires at once. */
        deadline = MAX(deadline, 1);
        its.it_value.tv_sec = deadline / 1000000000;
        its.it_value.tv_nsec = deadline % 1000000000;
    }
    if (timerfd_settime(clock->watch.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        g_critical("AioContext %p: timerfd_settime() failed: %s", (void *)ctx,
                   g_strerror(errno));
        return;
    }
    clock->programmed = deadline;
}

void
timers_init(AioContext *ctx)
{
    AioTimers *timers = &ctx->timers;

    pthread_mutex_init(&timers->lock, NULL);
    timers->next_seq = 0;
    timers->passes = 0;
    timers->all = NULL;
    atomic_init(&timers->n_armed, 0);
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        timers->clocks[type] = (AioTimerClock){
            .watch = {.fd = -1, .events = G_IO_IN, .kind = AIO_WATCH_TIMER},
            .type = type,
            .programmed = INT64_MAX,
        };
    }
}

bool
timers_open(AioContext *ctx, GError **error)
{
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        AioTimerClock *clock = &ctx->timers.clocks[type];
        int err;

        clock->watch.fd = timerfd_create(clock_id(type), TFD_CLOEXEC | TFD_NONBLOCK);
        err = clock->watch.fd < 0 ? errno : ctx->fdmon->add(ctx, &clock->watch);
        if (err != 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                        _("Could not create a timer clock of an AioContext: %s"),
                        g_strerror(err));
            return false;
        }
    }
    return true;
}

void
timers_finalize(AioContext *ctx)
{
    AioTimers *timers = &ctx->timers;
    AioTimerPrivate *t = timers->all;

    /* No lock: the last reference is gone, no other thread may use the
     * context's timers any more (C4: the user's pointers dangle). */
    while (t != NULL) {
        AioTimerPrivate *next = t->next;

        t->ctx = NULL;
        timer_store_expire(t, -1);
        t->heap_index = TIMER_NOT_IN_HEAP;
        t->deferred = false;
        if (t->allocated)
            g_free(t);
        t = next;
    }
    timers->all = NULL;
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        AioTimerClock *clock = &timers->clocks[type];

        g_free(clock->armed.slots);
        g_free(clock->deferred.slots);
        clock->armed = clock->deferred = (TimerHeap){NULL, 0, 0};
        if (clock->watch.fd >= 0)
            close(clock->watch.fd);
        clock->watch.fd = -1;
    }
    pthread_mutex_destroy(&timers->lock);
}

int64_t
timers_timeout_ns(AioContext *ctx)
{
    AioTimers *timers = &ctx->timers;
    int64_t timeout = -1;

    /* Relaxed: a timer armed meanwhile by another thread sets the timerfd
     * itself, which ends the sleep this look prepares (T4). */
    if (atomic_load_explicit(&timers->n_armed, memory_order_relaxed) == 0)
        return -1;
    pthread_mutex_lock(&timers->lock);
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        int64_t earliest = clock_earliest(&timers->clocks[type]);
        int64_t delta;

        if (earliest == INT64_MAX)
            continue;
        delta = MAX(earliest - aio_clock_get_ns(type), 0);
        if (timeout < 0 || delta < timeout)
            timeout = delta;
    }
    pthread_mutex_unlock(&timers->lock);
    return timeout;
}

void
timers_program_for_sleep(AioContext *ctx)
{
    AioTimers *timers = &ctx->timers;

    /* Also with no timer armed: a timerfd that fired must be cleared, or
     * the sleep would end at once. */
    pthread_mutex_lock(&timers->lock);
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        AioTimerClock *clock = &timers->clocks[type];
        int64_t deadline = clock_earliest(clock);

        if (deadline != clock->programmed)
            clock_program(ctx, clock, deadline);
    }
    pthread_mutex_unlock(&timers->lock);
}

void
timers_fired(AioContext *ctx, AioWatch *watch)
{
    AioTimerClock *clock = (AioTimerClock *)(void *)watch; /* its first member */
    uint64_t ticks;

    /* Clears the tick; EAGAIN when a new setting already did. */
    (void)!read(watch->fd, &ticks, sizeof(ticks));
    pthread_mutex_lock(&ctx->timers.lock);
    clock->programmed = INT64_MAX;
    pthread_mutex_unlock(&ctx->timers.lock);
}

/* Lock held. Disarms @t if armed. */
static void
timer_disarm_locked(AioTimers *timers, AioTimerPrivate *t)
{
    AioTimerClock *clock = &timers->clocks[t->type];

    if (t->heap_index == TIMER_NOT_IN_HEAP)
        return;
    heap_remove(clock, t->deferred ? &clock->deferred : &clock->armed, t);
    t->deferred = false;
    timer_store_expire(t, -1);
    atomic_fetch_sub_explicit(&timers->n_armed, 1, memory_order_relaxed);
}

bool
timers_pass(AioContext *ctx)
{
    AioTimers *timers = &ctx->timers;
    bool progress = false;

    if (atomic_load_explicit(&timers->n_armed, memory_order_relaxed) == 0)
        return false;
    pthread_mutex_lock(&timers->lock);
    /* Timers armed before this pass (even during an enclosing one) may run
     * in it; those armed from now on wait in the deferred heaps until it
     * ends (T1): a timer that re-arms itself in the past cannot make the
     * pass endless, nor hide the older expired timers behind it. */
    timers_merge_deferred(timers);
    timers->passes++;
    for (int type = 0; type < AIO_CLOCK_MAX; type++) {
        AioTimerClock *clock = &timers->clocks[type];
        int64_t now = aio_clock_get_ns(type);
        AioTimerPrivate *top;

        while ((top = heap_top(&clock->armed)) != NULL && top->expire_time <= now) {
            AioTimerCB *cb = top->cb;
            void *opaque = top->opaque;

            timer_disarm_locked(timers, top);
            /* The callback may free, re-arm or delete any timer: @top is
             * not touched after this. */
            pthread_mutex_unlock(&timers->lock);
            GAIO_TEST_PAUSE(GAIO_PAUSE_TIMER_POPPED, top);
            cb(opaque);
            progress = true;
            pthread_mutex_lock(&timers->lock);
        }
    }
    if (--timers->passes == 0)
        timers_merge_deferred(timers);
    pthread_mutex_unlock(&timers->lock);
    return progress;
}

/* --- the public API --- */

void
aio_timer_init(AioContext *ctx, AioTimer *ts, AioClockType type, int scale, AioTimerCB *cb,
               void *opaque)
{
    AioTimerPrivate *t = timer_private(ts);
    AioTimers *timers;

    g_return_if_fail(ctx != NULL);
    g_return_if_fail(ts != NULL);
    g_return_if_fail(type < AIO_CLOCK_MAX);
    g_return_if_fail(scale > 0);
    g_return_if_fail(cb != NULL);

    memset(ts, 0, sizeof(*ts));
    t->ctx = ctx;
    t->cb = cb;
    t->opaque = opaque;
    t->expire_time = -1;
    t->heap_index = TIMER_NOT_IN_HEAP;
    t->scale = scale;
    t->type = type;
    timers = &ctx->timers;
    pthread_mutex_lock(&timers->lock);
    t->next = timers->all;
    if (t->next != NULL)
        t->next->prev = t;
    timers->all = t;
    pthread_mutex_unlock(&timers->lock);
}

AioTimer *
aio_timer_new(AioContext *ctx, AioClockType type, int scale, AioTimerCB *cb, void *opaque)
{
    AioTimer *ts;

    g_return_val_if_fail(ctx != NULL, NULL);
    g_return_val_if_fail(type < AIO_CLOCK_MAX, NULL);
    g_return_val_if_fail(scale > 0, NULL);
    g_return_val_if_fail(cb != NULL, NULL);

    ts = g_new(AioTimer, 1);
    aio_timer_init(ctx, ts, type, scale, cb, opaque);
    timer_private(ts)->allocated = true;
    return ts;
}

void
aio_timer_deinit(AioTimer *ts)
{
    AioTimerPrivate *t = timer_private(ts);
    AioTimers *timers;

    g_return_if_fail(ts != NULL);
    g_return_if_fail(t->ctx != NULL);

    timers = &t->ctx->timers;
    pthread_mutex_lock(&timers->lock);
    timer_disarm_locked(timers, t);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        timers->all = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->ctx = NULL;
    pthread_mutex_unlock(&timers->lock);
}

void
aio_timer_free(AioTimer *ts)
{
    if (ts == NULL)
        return;
    g_return_if_fail(timer_private(ts)->allocated);

    if (timer_private(ts)->ctx != NULL)
        aio_timer_deinit(ts);
    g_free(ts);
}

/* Lock held. Arms @t for @expire (ns), re-arming it if armed. */
static void
timer_arm_locked(AioContext *ctx, AioTimerPrivate *t, int64_t expire)
{
    AioTimers *timers = &ctx->timers;
    AioTimerClock *clock = &timers->clocks[t->type];

    timer_disarm_locked(timers, t);
    t->seq = timers->next_seq++;
    timer_store_expire(t, expire);
    /* During a pass, the timer waits for the next one (timers_pass()). */
    t->deferred = timers->passes > 0;
    heap_insert(clock, t->deferred ? &clock->deferred : &clock->armed, t);
    atomic_fetch_add_explicit(&timers->n_armed, 1, memory_order_relaxed);
    /* The context's thread sets the timerfd before it sleeps; any other
     * thread may be racing with a sleep already set up for a later
     * deadline, and setting the timerfd now ends that sleep in time (T4).
     * (A deferred timer's context is in a pass: awake.) */
    if (!t->deferred && heap_top(&clock->armed) == t && expire < clock->programmed &&
        !aio_context_is_owner(ctx))
        clock_program(ctx, clock, expire);
}

void
aio_timer_mod_ns(AioTimer *ts, int64_t expire_time)
{
    AioTimerPrivate *t = timer_private(ts);
    AioContext *ctx;

    g_return_if_fail(ts != NULL);
    g_return_if_fail(t->ctx != NULL);

    ctx = t->ctx;
    pthread_mutex_lock(&ctx->timers.lock);
    timer_arm_locked(ctx, t, MAX(expire_time, 0));
    pthread_mutex_unlock(&ctx->timers.lock);
}

/* @time × @scale, saturated: a deadline too far to count in nanoseconds is
 * "never", not an overflow (undefined in C, and a past deadline in
 * practice). */
static int64_t
scaled_ns(int64_t time, int32_t scale)
{
    int64_t ns;

    if (__builtin_mul_overflow(time, (int64_t)scale, &ns))
        return time < 0 ? INT64_MIN : INT64_MAX;
    return ns;
}

void
aio_timer_mod(AioTimer *ts, int64_t expire_time)
{
    g_return_if_fail(ts != NULL);

    aio_timer_mod_ns(ts, scaled_ns(expire_time, timer_private(ts)->scale));
}

void
aio_timer_mod_anticipate_ns(AioTimer *ts, int64_t expire_time)
{
    AioTimerPrivate *t = timer_private(ts);
    AioContext *ctx;

    g_return_if_fail(ts != NULL);
    g_return_if_fail(t->ctx != NULL);

    ctx = t->ctx;
    expire_time = MAX(expire_time, 0);
    pthread_mutex_lock(&ctx->timers.lock);
    if (t->heap_index == TIMER_NOT_IN_HEAP || expire_time < t->expire_time)
        timer_arm_locked(ctx, t, expire_time);
    pthread_mutex_unlock(&ctx->timers.lock);
}

void
aio_timer_mod_anticipate(AioTimer *ts, int64_t expire_time)
{
    g_return_if_fail(ts != NULL);

    aio_timer_mod_anticipate_ns(ts, scaled_ns(expire_time, timer_private(ts)->scale));
}

void
aio_timer_del(AioTimer *ts)
{
    AioTimerPrivate *t = timer_private(ts);
    AioContext *ctx;

    g_return_if_fail(ts != NULL);

    ctx = t->ctx;
    if (ctx == NULL)
        return; /* deinitialized: nothing armed */
    pthread_mutex_lock(&ctx->timers.lock);
    timer_disarm_locked(&ctx->timers, t);
    pthread_mutex_unlock(&ctx->timers.lock);
}

bool
aio_timer_pending(const AioTimer *ts)
{
    g_return_val_if_fail(ts != NULL, false);

    return timer_load_expire(timer_private_const(ts)) != -1;
}

bool
aio_timer_expired(const AioTimer *ts, int64_t current_time)
{
    const AioTimerPrivate *t = timer_private_const(ts);

    g_return_val_if_fail(ts != NULL, false);

    return timer_load_expire(t) <= scaled_ns(current_time, t->scale);
}

int64_t
aio_timer_expire_time_ns(const AioTimer *ts)
{
    g_return_val_if_fail(ts != NULL, -1);

    return timer_load_expire(timer_private_const(ts));
}
