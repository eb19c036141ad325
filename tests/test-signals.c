/* test-signals.c: bottom halves scheduled from signal handlers (SPEC B3, B12,
 * W1, G5).
 *
 * The handler calls only qemu_bh_schedule(), qemu_bh_schedule_idle(),
 * aio_notify() and lock-free C11 atomics. It does not save errno itself: the
 * library's signal path must leave it alone (and ThreadSanitizer reports a
 * handler that "spoils errno").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TEST_SIGNAL SIGUSR1

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* The signal handler and what it touches                                   */
/* ------------------------------------------------------------------------ */

/* What the handler schedules (NULL: nothing). */
static QEMUBH *_Atomic sig_bh;
static QEMUBH *_Atomic sig_idle_bh;
static AioContext *_Atomic sig_ctx;
/* Signals handled: bumped before the schedule, so a run that reads n started
 * after the schedule of the n-th signal. */
static atomic_uint sig_count;
/* Signals that arrived while busy_cb() was running (the middle of a pass). */
static atomic_uint sig_in_pass;
static atomic_bool in_busy_cb;

/* sig_bh's callback. */
static atomic_uint seen_count;
static atomic_uint sig_bh_runs;

static void
on_signal(int signo)
{
    QEMUBH *bh = atomic_load(&sig_bh);
    QEMUBH *idle = atomic_load(&sig_idle_bh);
    AioContext *ctx = atomic_load(&sig_ctx);

    (void)signo;
    if (atomic_load(&in_busy_cb))
        atomic_fetch_add(&sig_in_pass, 1);
    if (idle != NULL)
        qemu_bh_schedule_idle(idle);
    atomic_fetch_add(&sig_count, 1);
    if (bh != NULL)
        qemu_bh_schedule(bh);
    if (ctx != NULL)
        aio_notify(ctx);
}

static void
sig_bh_cb(void *opaque)
{
    (void)opaque;
    /* B3: this run started after the schedule of every signal it counts. */
    atomic_store(&seen_count, atomic_load(&sig_count));
    atomic_fetch_add(&sig_bh_runs, 1);
}

static void
sig_state_reset(void)
{
    atomic_store(&sig_bh, NULL);
    atomic_store(&sig_idle_bh, NULL);
    atomic_store(&sig_ctx, NULL);
    atomic_store(&sig_count, 0);
    atomic_store(&sig_in_pass, 0);
    atomic_store(&in_busy_cb, false);
    atomic_store(&seen_count, 0);
    atomic_store(&sig_bh_runs, 0);
}

typedef struct {
    struct sigaction old;
} SigGuard;

static void
sig_guard_install(SigGuard *g)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupted polls return EINTR */
    g_assert_cmpint(sigaction(TEST_SIGNAL, &sa, &g->old), ==, 0);
}

static void
sig_guard_restore(SigGuard *g)
{
    struct sigaction ign;

    /* Ignoring discards a signal still pending, so restoring the default
     * action (terminate) cannot kill the test. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    g_assert_cmpint(sigaction(TEST_SIGNAL, &ign, NULL), ==, 0);
    g_assert_cmpint(sigaction(TEST_SIGNAL, &g->old, NULL), ==, 0);
}

static void
block_test_signal(bool block)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, TEST_SIGNAL);
    g_assert_cmpint(pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL), ==, 0);
}

/* A POSIX timer that sends TEST_SIGNAL to the process. */
static timer_t
signal_timer_new(void)
{
    struct sigevent sev;
    timer_t timer;

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = TEST_SIGNAL;
    g_assert_cmpint(timer_create(CLOCK_MONOTONIC, &sev, &timer), ==, 0);
    return timer;
}

static void
signal_timer_arm(timer_t timer, long first_ns, long interval_ns)
{
    struct itimerspec its;

    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = first_ns / 1000000000;
    its.it_value.tv_nsec = first_ns % 1000000000;
    its.it_interval.tv_sec = interval_ns / 1000000000;
    its.it_interval.tv_nsec = interval_ns % 1000000000;
    g_assert_cmpint(timer_settime(timer, 0, &its, NULL), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* The loop the owner runs: aio_poll() or a GMainContext                    */
/* ------------------------------------------------------------------------ */

typedef enum {
    LOOP_AIO_POLL,
    LOOP_GMAIN,
} LoopKind;

typedef struct {
    LoopKind kind;
    AioContext *ctx;
    GMainContext *mc;
    GSource *source;
} Loop;

static void
loop_init(Loop *l, LoopKind kind)
{
    l->kind = kind;
    l->ctx = gaio_test_context_new();
    l->mc = NULL;
    l->source = NULL;
    if (kind == LOOP_GMAIN) {
        l->mc = g_main_context_new();
        l->source = aio_get_g_source(l->ctx);
        g_source_attach(l->source, l->mc);
    }
}

/* One blocking iteration: aio_poll(ctx, true) or g_main_context_iteration(mc, TRUE). */
static void
loop_iterate(Loop *l)
{
    if (l->kind == LOOP_GMAIN)
        g_main_context_iteration(l->mc, TRUE);
    else
        aio_poll(l->ctx, true);
}

static void
noop_cb(void *opaque)
{
    (void)opaque;
}

/* Iterates until *@value reaches @target. If *@value does not move for
 * GAIO_TEST_STUCK_PATIENCE while the loop keeps returning (awake, but not running what
 * is pending), counts it in @stuck and pushes another BH to unstick it, so the
 * test can report and tear down. A lost wakeup hangs instead (watchdog). */
static void
loop_run_until(Loop *l, atomic_uint *value, unsigned target, unsigned *stuck)
{
    unsigned last = atomic_load(value);
    gint64 deadline = g_get_monotonic_time() + gaio_test_stuck_patience();

    while (atomic_load(value) < target) {
        loop_iterate(l);
        if (atomic_load(value) != last) {
            last = atomic_load(value);
            deadline = g_get_monotonic_time() + gaio_test_stuck_patience();
        } else if (g_get_monotonic_time() > deadline) {
            gaio_test_note_stuck(stuck);
            aio_bh_schedule_oneshot(l->ctx, noop_cb, NULL);
            deadline = G_MAXINT64;
        }
    }
}

static void
report_stuck(unsigned stuck)
{
    if (stuck)
        g_test_fail_printf("B3: %u time(s) a BH scheduled from a signal handler stayed "
                           "pending for %d s while the loop kept iterating without "
                           "running it; it ran only after another BH was pushed",
                           stuck, (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

static void
loop_drain(Loop *l)
{
    if (l->kind == LOOP_GMAIN)
        while (g_main_context_iteration(l->mc, FALSE))
            ;
    else
        while (aio_poll(l->ctx, false))
            ;
}

static void
loop_clear(Loop *l)
{
    loop_drain(l);
    if (l->kind == LOOP_GMAIN) {
        g_source_destroy(l->source);
        g_source_unref(l->source);
        g_main_context_unref(l->mc);
    }
    aio_context_unref(l->ctx);
}

/* ------------------------------------------------------------------------ */
/* A signal wakes a sleeping owner                                          */
/* ------------------------------------------------------------------------ */

typedef enum {
    DELIVER_TIMER_TO_OWNER,  /* POSIX timer, the owner is the only taker */
    DELIVER_TIMER_TO_HELPER, /* POSIX timer, the owner blocks the signal */
    DELIVER_KILL_OWNER,      /* pthread_kill() of the owner by another thread */
    DELIVER_RAISE_ON_HELPER, /* raise() in another thread */
} Delivery;

typedef struct {
    Delivery delivery;
    LoopKind loop;
} WakeCase;

typedef struct {
    Delivery delivery;
    unsigned rounds;
    pthread_t owner;
    pid_t owner_tid;
    atomic_uint round; /* the owner waits for round r */
    atomic_bool stop;
} Waker;

static gpointer
waker_thread(gpointer data)
{
    Waker *w = data;

    if (w->delivery == DELIVER_TIMER_TO_HELPER) {
        /* Takes the process-directed timer signals: sleeps until stopped. */
        block_test_signal(false);
        while (!atomic_load(&w->stop))
            g_usleep(1000);
        block_test_signal(true);
        return NULL;
    }
    for (unsigned r = 1; r <= w->rounds; r++) {
        gaio_test_wait_for_at_least(&w->round, r);
        gaio_test_wait_until_sleeping(w->owner_tid);
        if (w->delivery == DELIVER_KILL_OWNER)
            g_assert_cmpint(pthread_kill(w->owner, TEST_SIGNAL), ==, 0);
        else
            g_assert_cmpint(raise(TEST_SIGNAL), ==, 0);
        /* Handled before the next round: signals do not merge. */
        gaio_test_wait_for_at_least(&sig_count, r);
    }
    return NULL;
}

/* ThreadSanitizer's runtime defers asynchronous signals and, under heavy CPU
 * load, now and then loses a POSIX timer's signal altogether: the handler
 * never runs (reproduced with a 50-line program that does not use gaio, with
 * GCC's and clang's TSan; never without TSan). A round then hangs. Under TSan
 * the timer cases run fewer rounds; every other setup runs them all. */
#if defined(__SANITIZE_THREAD__)
#define TIMER_ROUNDS_UNDER_TSAN 10
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TIMER_ROUNDS_UNDER_TSAN 10
#endif
#endif

static unsigned
wake_rounds(bool uses_timer)
{
#ifdef TIMER_ROUNDS_UNDER_TSAN
    if (uses_timer)
        return TIMER_ROUNDS_UNDER_TSAN;
#endif
    (void)uses_timer;
    return gaio_test_scale(100);
}

static void
test_signal_wakes_owner(gconstpointer data)
{
    const WakeCase *wc = data;
    Loop loop;
    SigGuard guard;
    bool uses_timer =
        wc->delivery == DELIVER_TIMER_TO_OWNER || wc->delivery == DELIVER_TIMER_TO_HELPER;
    Waker w = {.delivery = wc->delivery, .rounds = wake_rounds(uses_timer)};
    GThread *thread = NULL;
    timer_t timer = 0;
    QEMUBH *bh;
    unsigned stuck = 0;

    g_test_summary(wc->loop == LOOP_GMAIN
                       ? "G5, B12: a BH scheduled from a signal handler wakes "
                         "g_main_context_iteration(mc, TRUE) blocked in poll, with no "
                         "other activity, and runs."
                       : "B12, W1: a BH scheduled from a signal handler (on the owner's "
                         "thread or another one) wakes aio_poll(ctx, true) and runs.");

    sig_state_reset();
    loop_init(&loop, wc->loop);
    bh = aio_bh_new(loop.ctx, sig_bh_cb, NULL);
    atomic_store(&sig_bh, bh);
    sig_guard_install(&guard);
    w.owner = pthread_self();
    w.owner_tid = gaio_test_tid();
    atomic_init(&w.round, 0);
    atomic_init(&w.stop, false);
    if (wc->delivery == DELIVER_TIMER_TO_HELPER)
        block_test_signal(true); /* inherited by the helper, which unblocks */
    if (wc->delivery != DELIVER_TIMER_TO_OWNER)
        thread = g_thread_new("waker", waker_thread, &w);
    if (uses_timer)
        timer = signal_timer_new();

    for (unsigned r = 1; r <= w.rounds; r++) {
        atomic_store(&w.round, r);
        if (uses_timer)
            signal_timer_arm(timer, 1000 * 1000, 0); /* once, in 1 ms */
        loop_run_until(&loop, &sig_bh_runs, r, &stuck);
        g_assert_cmpuint(atomic_load(&sig_count), ==, r);
        g_assert_cmpuint(atomic_load(&seen_count), ==, r);
        g_assert_cmpuint(atomic_load(&sig_bh_runs), ==, r);
    }

    if (uses_timer)
        g_assert_cmpint(timer_delete(timer), ==, 0);
    atomic_store(&w.stop, true);
    if (thread != NULL)
        g_thread_join(thread);
    sig_guard_restore(&guard);
    if (wc->delivery == DELIVER_TIMER_TO_HELPER)
        block_test_signal(false);
    atomic_store(&sig_bh, NULL);
    qemu_bh_delete(bh);
    loop_clear(&loop);
    report_stuck(stuck);
}

/* ------------------------------------------------------------------------ */
/* Storms                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    bool to_owner; /* pthread_kill() the owner, else raise() on the helper */
    LoopKind loop;
} StormCase;

typedef struct {
    bool to_owner;
    unsigned signals;
    pthread_t owner;
} Storm;

static gpointer
storm_thread(gpointer data)
{
    Storm *s = data;

    for (unsigned i = 0; i < s->signals; i++) {
        if (s->to_owner) {
            g_assert_cmpint(pthread_kill(s->owner, TEST_SIGNAL), ==, 0);
            /* One at a time: a standard signal pending twice is delivered once. */
            gaio_test_wait_for_at_least(&sig_count, i + 1);
        } else {
            /* Delivered, and the handler done, before raise() returns. */
            g_assert_cmpint(raise(TEST_SIGNAL), ==, 0);
        }
    }
    return NULL;
}

static void
test_signal_storm(gconstpointer data)
{
    const StormCase *sc = data;
    Loop loop;
    SigGuard guard;
    Storm s = {.to_owner = sc->to_owner, .signals = gaio_test_scale(5000)};
    GThread *thread;
    QEMUBH *bh;
    unsigned stuck = 0;

    g_test_summary("B3, B12: of thousands of signals whose handler schedules one BH, "
                   "none is lost: the BH runs after the last one, with no other "
                   "activity to wake the owner.");

    sig_state_reset();
    loop_init(&loop, sc->loop);
    bh = aio_bh_new(loop.ctx, sig_bh_cb, NULL);
    atomic_store(&sig_bh, bh);
    sig_guard_install(&guard);
    s.owner = pthread_self();
    thread = g_thread_new("storm", storm_thread, &s);

    /* Ends only with a run that started after the last signal's schedule. */
    loop_run_until(&loop, &seen_count, s.signals, &stuck);
    g_thread_join(thread);
    g_assert_cmpuint(atomic_load(&sig_count), ==, s.signals);
    g_assert_cmpuint(atomic_load(&seen_count), ==, s.signals);
    g_assert_cmpuint(atomic_load(&sig_bh_runs), <=, s.signals);
    g_test_message("%u signals, %u runs", s.signals, atomic_load(&sig_bh_runs));

    sig_guard_restore(&guard);
    atomic_store(&sig_bh, NULL);
    qemu_bh_delete(bh);
    loop_clear(&loop);
    report_stuck(stuck);
}

/* Signals in the middle of a pass (and of the owner's own schedules). */

enum { AUX_BHS = 8 };

typedef struct {
    QEMUBH *self;
    QEMUBH *aux[AUX_BHS];
    atomic_bool stop;
    gint64 spin_us;
    unsigned passes;
} Busy;

static void
aux_cb(void *opaque)
{
    (void)opaque;
}

static void
busy_cb(void *opaque)
{
    Busy *b = opaque;
    gint64 end = g_get_monotonic_time() + b->spin_us;
    unsigned i = 0;

    atomic_store(&in_busy_cb, true);
    /* Spin while the timer fires, scheduling on this thread too, so signals
     * land in the middle of a pass and of other schedules. */
    while (g_get_monotonic_time() < end) {
        qemu_bh_schedule(b->aux[i % AUX_BHS]);
        if (i % 3 == 0)
            qemu_bh_schedule_idle(b->aux[(i + 1) % AUX_BHS]);
        i++;
    }
    atomic_store(&in_busy_cb, false);
    b->passes++;
    if (!atomic_load(&b->stop))
        qemu_bh_schedule(b->self); /* B5: once per pass */
}

static void
test_signals_during_pass(gconstpointer data)
{
    LoopKind kind = (LoopKind)GPOINTER_TO_INT(data);
    Loop loop;
    SigGuard guard;
    Busy busy = {.spin_us = 1000};
    QEMUBH *bh, *idle;
    timer_t timer;
    unsigned target = gaio_test_scale(3000), final, stuck = 0;
    gint64 end = g_get_monotonic_time() + 2 * G_TIME_SPAN_SECOND;

    g_test_summary("B12, B3: a timer signal whose handler calls qemu_bh_schedule(), "
                   "qemu_bh_schedule_idle() and aio_notify() may land on the owner's "
                   "thread in the middle of a pass or of another schedule; the BH "
                   "still runs after the last signal.");

    sig_state_reset();
    loop_init(&loop, kind);
    bh = aio_bh_new(loop.ctx, sig_bh_cb, NULL);
    idle = aio_bh_new(loop.ctx, aux_cb, NULL);
    busy.self = aio_bh_new(loop.ctx, busy_cb, &busy);
    for (unsigned i = 0; i < AUX_BHS; i++)
        busy.aux[i] = aio_bh_new(loop.ctx, aux_cb, NULL);
    atomic_init(&busy.stop, false);
    atomic_store(&sig_bh, bh);
    atomic_store(&sig_idle_bh, idle);
    atomic_store(&sig_ctx, loop.ctx);
    sig_guard_install(&guard);
    /* This thread is the only one: the process-directed signals are ours. */
    timer = signal_timer_new();
    signal_timer_arm(timer, 100 * 1000, 100 * 1000 * (long)gaio_test_slowdown());

    qemu_bh_schedule(busy.self);
    while (atomic_load(&sig_count) < target && g_get_monotonic_time() < end)
        loop_iterate(&loop);
    atomic_store(&busy.stop, true);
    g_assert_cmpint(timer_delete(timer), ==, 0);
    /* A signal the sanitizers deferred is delivered at a system call. */
    g_usleep(1000);
    final = atomic_load(&sig_count);
    loop_run_until(&loop, &seen_count, final, &stuck);
    loop_drain(&loop);
    g_assert_cmpuint(atomic_load(&seen_count), ==, atomic_load(&sig_count));
    g_assert_cmpuint(atomic_load(&sig_count), >=, 1);
    g_test_message("%u signals, %u during a callback, %u busy passes, %u runs",
                   atomic_load(&sig_count), atomic_load(&sig_in_pass), busy.passes,
                   atomic_load(&sig_bh_runs));

    sig_guard_restore(&guard);
    atomic_store(&sig_bh, NULL);
    atomic_store(&sig_idle_bh, NULL);
    atomic_store(&sig_ctx, NULL);
    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    qemu_bh_delete(busy.self);
    for (unsigned i = 0; i < AUX_BHS; i++)
        qemu_bh_delete(busy.aux[i]);
    loop_clear(&loop);
    report_stuck(stuck);
}

/* ------------------------------------------------------------------------ */
/* errno                                                                    */
/* ------------------------------------------------------------------------ */

#define ERRNO_SENTINEL 4242

typedef struct {
    AioContext *ctx;
    pid_t tid;
    atomic_bool started;
    atomic_bool stop;
} ErrnoOwner;

static gpointer
errno_owner_thread(gpointer data)
{
    ErrnoOwner *o = data;

    o->tid = gaio_test_tid();
    atomic_store(&o->started, true);
    while (!atomic_load(&o->stop))
        aio_poll(o->ctx, true);
    return NULL;
}

/* Raises the signal on this thread with errno set to a sentinel; the handler
 * (qemu_bh_schedule(), qemu_bh_schedule_idle(), aio_notify()) must leave it. */
static void
raise_and_check_errno(bool use_pthread_kill)
{
    int saved;

    errno = ERRNO_SENTINEL;
    if (use_pthread_kill)
        pthread_kill(pthread_self(), TEST_SIGNAL);
    else
        raise(TEST_SIGNAL);
    saved = errno;
    g_assert_cmpint(saved, ==, ERRNO_SENTINEL);
}

static void
test_handler_preserves_errno(void)
{
    AioContext *ctx = gaio_test_context_new();
    ErrnoOwner o = {.ctx = ctx};
    SigGuard guard;
    GThread *thread;
    QEMUBH *bh, *idle;
    unsigned rounds = gaio_test_scale(200), stuck = 0;

    g_test_summary("B12: the signal-safe calls keep errno: a handler that only calls "
                   "qemu_bh_schedule(), qemu_bh_schedule_idle() and aio_notify() leaves "
                   "the interrupted code's errno as it was, whether or not they wrote "
                   "the wakeup eventfd.");

    sig_state_reset();
    bh = aio_bh_new(ctx, sig_bh_cb, NULL);
    idle = aio_bh_new(ctx, aux_cb, NULL);
    atomic_store(&sig_bh, bh);
    atomic_store(&sig_idle_bh, idle);
    atomic_store(&sig_ctx, ctx);
    sig_guard_install(&guard);

    /* The owner awake (this thread, not polling): no eventfd write. */
    raise_and_check_errno(false);
    raise_and_check_errno(true);
    while (aio_poll(ctx, false))
        ;
    g_assert_cmpuint(atomic_load(&seen_count), ==, 2);

    /* The owner asleep in another thread: the handler writes the eventfd. */
    atomic_init(&o.started, false);
    atomic_init(&o.stop, false);
    thread = g_thread_new("owner", errno_owner_thread, &o);
    while (!atomic_load(&o.started))
        sched_yield();
    for (unsigned r = 1; r <= rounds; r++) {
        gaio_test_wait_until_sleeping(o.tid);
        raise_and_check_errno(r % 2 == 0);
        if (!gaio_test_wait_within(&seen_count, r + 2, gaio_test_stuck_patience_us)) {
            gaio_test_note_stuck(&stuck);
            aio_bh_schedule_oneshot(ctx, noop_cb, NULL);
            gaio_test_wait_for_at_least(&seen_count, r + 2);
        }
    }
    atomic_store(&o.stop, true);
    aio_notify(ctx);
    g_thread_join(thread);

    sig_guard_restore(&guard);
    atomic_store(&sig_bh, NULL);
    atomic_store(&sig_idle_bh, NULL);
    atomic_store(&sig_ctx, NULL);
    qemu_bh_delete(bh);
    qemu_bh_delete(idle);
    while (aio_poll(ctx, false))
        ;
    aio_context_unref(ctx);
    report_stuck(stuck);
}

/* ------------------------------------------------------------------------ */

static const struct {
    const char *path;
    WakeCase wc;
} wake_cases[] = {
    {"/signals/B12/timer-signal-on-owner-wakes-aio_poll",
     {DELIVER_TIMER_TO_OWNER, LOOP_AIO_POLL}},
    {"/signals/B12/timer-signal-on-other-thread-wakes-aio_poll",
     {DELIVER_TIMER_TO_HELPER, LOOP_AIO_POLL}},
    {"/signals/B12/pthread_kill-of-owner-wakes-aio_poll",
     {DELIVER_KILL_OWNER, LOOP_AIO_POLL}},
    {"/signals/B12/raise-on-other-thread-wakes-aio_poll",
     {DELIVER_RAISE_ON_HELPER, LOOP_AIO_POLL}},
    {"/signals/G5/timer-signal-on-owner-wakes-g_main_context_iteration",
     {DELIVER_TIMER_TO_OWNER, LOOP_GMAIN}},
    {"/signals/G5/timer-signal-on-other-thread-wakes-g_main_context_iteration",
     {DELIVER_TIMER_TO_HELPER, LOOP_GMAIN}},
    {"/signals/G5/pthread_kill-of-owner-wakes-g_main_context_iteration",
     {DELIVER_KILL_OWNER, LOOP_GMAIN}},
    {"/signals/G5/raise-on-other-thread-wakes-g_main_context_iteration",
     {DELIVER_RAISE_ON_HELPER, LOOP_GMAIN}},
};

static const struct {
    const char *path;
    StormCase sc;
} storm_cases[] = {
    {"/signals/B3/storm-on-other-thread-none-lost/aio_poll", {false, LOOP_AIO_POLL}},
    {"/signals/B3/storm-on-owner-thread-none-lost/aio_poll", {true, LOOP_AIO_POLL}},
    {"/signals/B3/storm-on-other-thread-none-lost/gmain", {false, LOOP_GMAIN}},
    {"/signals/B3/storm-on-owner-thread-none-lost/gmain", {true, LOOP_GMAIN}},
};

int
main(int argc, char **argv)
{
    /* A test failed with g_test_fail_printf() (after a clean teardown) must
     * not hide the others: keep going. Failed assertions still abort. */
    char **args = g_new0(char *, argc + 2);
    int nargs = argc + 1;
    int ret;

    memcpy(args, argv, sizeof(char *) * argc);
    args[argc] = (char *)"--keep-going";
    gaio_test_init(&nargs, &args);

    for (size_t i = 0; i < G_N_ELEMENTS(wake_cases); i++)
        g_test_add_data_func(wake_cases[i].path, &wake_cases[i].wc,
                             test_signal_wakes_owner);
    for (size_t i = 0; i < G_N_ELEMENTS(storm_cases); i++)
        g_test_add_data_func(storm_cases[i].path, &storm_cases[i].sc, test_signal_storm);
    g_test_add_data_func("/signals/B12/timer-storm-during-passes/aio_poll",
                         GINT_TO_POINTER(LOOP_AIO_POLL), test_signals_during_pass);
    g_test_add_data_func("/signals/B12/timer-storm-during-passes/gmain",
                         GINT_TO_POINTER(LOOP_GMAIN), test_signals_during_pass);
    g_test_add_func("/signals/B12/handler-path-preserves-errno",
                    test_handler_preserves_errno);

    ret = g_test_run();
    g_free(args);
    return ret;
}
