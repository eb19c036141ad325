/* gaio-test.h: helpers shared by the tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
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

/* The GAIO_TEST_SLOWDOWN factor (set by the valgrind setup), at least 1. */
static inline unsigned
gaio_test_slowdown(void)
{
    const char *env = g_getenv("GAIO_TEST_SLOWDOWN");
    unsigned div = env ? (unsigned)g_ascii_strtoull(env, NULL, 10) : 1;

    return MAX(div, 1u);
}

/* True under valgrind (its preload library is in the environment). */
static inline bool
gaio_test_running_on_valgrind(void)
{
    const char *preload = g_getenv("LD_PRELOAD");

    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

/* The process's write-type system calls so far (syscw of /proc/self/io, all
 * threads). Uses read() only, so reading it adds no write. Fails the test if
 * the counter cannot be read: every Linux gaio runs on has it. */
static inline gint64
gaio_test_syscw(void)
{
    char buf[1024];
    const char *p;
    ssize_t n;
    int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    p = strstr(buf, "syscw:");
    g_assert_nonnull(p);
    return g_ascii_strtoll(p + strlen("syscw:"), NULL, 10);
}

/* The write-type system calls that reading the counter costs by itself: 0
 * natively (asserted); under valgrind its scheduler lock adds a few, so the
 * largest of several samples. Fails the test if the counter does not count
 * writes. */
static inline gint64
gaio_test_syscw_overhead(void)
{
    gint64 overhead = 0, before, prev = gaio_test_syscw();
    int fd;

    for (int i = 0; i < 4; i++) {
        gint64 now = gaio_test_syscw();

        overhead = MAX(overhead, now - prev);
        prev = now;
    }
    if (!gaio_test_running_on_valgrind())
        g_assert_cmpint(overhead, ==, 0);
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    before = gaio_test_syscw();
    g_assert_cmpint(write(fd, "x", 1), ==, 1);
    g_assert_cmpint(gaio_test_syscw() - before, >, 0);
    close(fd);
    return overhead;
}

/* Asserts that @writes (counted around a stretch of code) are only the
 * counter's own @overhead. Natively the overhead is 0 and the check is exact;
 * under valgrind (overhead > 0) its scheduler also writes its lock pipe at
 * some timeslice ends, so a few more are tolerated: a system call per
 * operation would still show as hundreds. */
#define gaio_test_assert_no_writes(writes, overhead)                                       \
    do {                                                                                   \
        if ((overhead) == 0)                                                               \
            g_assert_cmpint((writes), ==, 0);                                              \
        else                                                                               \
            g_assert_cmpint((writes) - (overhead), <=, 10);                                \
    } while (0)

/* The calling thread's kernel id, for gaio_test_wait_until_sleeping(). */
static inline pid_t
gaio_test_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* True if thread @tid of this process is blocked in a poll-family system call
 * (as aio_poll() and GLib's iteration are when asleep). Reads /proc only: no
 * allocation, no write. Fails the test if /proc cannot tell. */
static inline bool
gaio_test_thread_sleeps_in_poll(pid_t tid)
{
    char path[64], buf[256];
    ssize_t n;
    long nr;
    int fd;

    g_snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    if (strncmp(buf, "running", strlen("running")) == 0)
        return false;
    nr = strtol(buf, NULL, 10);
#ifdef SYS_epoll_pwait2
    /* Nanosecond sleeps (P3) may use epoll_pwait2(). */
    if (nr == SYS_epoll_pwait2)
        return true;
#endif
    return nr == SYS_poll || nr == SYS_ppoll || nr == SYS_epoll_wait ||
           nr == SYS_epoll_pwait;
}

/* Waits until thread @tid sleeps in poll; fails the test after 10 s (times
 * the slowdown). */
static inline void
gaio_test_wait_until_sleeping(pid_t tid)
{
    gint64 deadline =
        g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND * gaio_test_slowdown();

    while (!gaio_test_thread_sleeps_in_poll(tid)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(100);
    }
}

/* A tiny deterministic PRNG for stress tests (seeded, reproducible). */
static inline guint32
gaio_test_xorshift32(guint32 *state)
{
    guint32 x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Yields until *@value reaches @target (the watchdog ends a hang). */
static inline void
gaio_test_wait_for_at_least(atomic_uint *value, unsigned target)
{
    while (atomic_load(value) < target)
        sched_yield();
}

/* Yields until *@value reaches @target; false if it did not within @patience
 * microseconds (times the slowdown). */
static inline bool
gaio_test_wait_within(atomic_uint *value, unsigned target, gint64 patience)
{
    gint64 deadline = g_get_monotonic_time() + patience * gaio_test_slowdown();

    while (atomic_load(value) < target) {
        if (g_get_monotonic_time() > deadline)
            return false;
        sched_yield();
    }
    return true;
}

/* A BH that proves B3 under stress: each schedule bumps `scheduled` just
 * before scheduling, and each run records the value it reads at its start in
 * `seen`. Once everything is drained, seen == scheduled means a run started
 * after the last schedule: none was lost. 64-bit, for long soaks. */
typedef struct {
    QEMUBH *bh;
    atomic_ulong scheduled;
    atomic_ulong seen;
    atomic_ulong runs;
} GaioTestSeqBH;

/* The body of a GaioTestSeqBH's callback. */
static inline void
gaio_test_seq_record_run(GaioTestSeqBH *s)
{
    atomic_store(&s->seen, atomic_load(&s->scheduled));
    atomic_fetch_add_explicit(&s->runs, 1, memory_order_relaxed);
}

/* A QEMUBHFunc for a GaioTestSeqBH (its own address as opaque). */
static inline void
gaio_test_seq_cb(void *opaque)
{
    gaio_test_seq_record_run(opaque);
}

/* Thread-safe; async-signal-safe. */
static inline void
gaio_test_seq_schedule(GaioTestSeqBH *s)
{
    atomic_fetch_add(&s->scheduled, 1);
    qemu_bh_schedule(s->bh);
}

/* True when every BH of @s[0..@n) ran after its last schedule. */
static inline bool
gaio_test_seq_caught_up(GaioTestSeqBH *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (atomic_load(&s[i].seen) != atomic_load(&s[i].scheduled))
            return false;
    return true;
}

/* How long a pending BH may go unrun while the owner keeps iterating before
 * a stress round counts as stuck (a BH the loop does not reach, as opposed
 * to a lost wakeup, which hangs until the watchdog). Once one round was
 * stuck the test fails anyway: later rounds are judged quicker, to keep the
 * run short. */
#define GAIO_TEST_STUCK_PATIENCE (2 * G_TIME_SPAN_SECOND)
static gint64 gaio_test_stuck_patience_us = GAIO_TEST_STUCK_PATIENCE;

static inline gint64
gaio_test_stuck_patience(void)
{
    return gaio_test_stuck_patience_us * gaio_test_slowdown();
}

static inline void
gaio_test_note_stuck(unsigned *stuck)
{
    (*stuck)++;
    gaio_test_stuck_patience_us = 100 * 1000;
}

/* Iteration counts for stress loops: divided by GAIO_TEST_SLOWDOWN (set by the
 * valgrind setup), never below 1. */
static inline unsigned
gaio_test_scale(unsigned n)
{
    return MAX(n / gaio_test_slowdown(), 1u);
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

/* A thread that runs a context until told to stop: blocking aio_poll()
 * calls, or blocking iterations of @mc when it is not NULL. */
typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL: the owner runs aio_poll() */
    pthread_t thread_id;
    pid_t tid; /* for gaio_test_wait_until_sleeping() */
    atomic_bool started;
    atomic_bool stop;
    atomic_uint iterations;
} GaioTestOwner;

static inline gpointer
gaio_test_owner_thread(gpointer data)
{
    GaioTestOwner *o = data;

    o->thread_id = pthread_self();
    o->tid = gaio_test_tid();
    atomic_store(&o->started, true);
    while (!atomic_load(&o->stop)) {
        if (o->mc != NULL)
            g_main_context_iteration(o->mc, TRUE);
        else
            aio_poll(o->ctx, true);
        atomic_fetch_add(&o->iterations, 1);
    }
    return NULL;
}

/* Starts the owner thread; returns once it runs (tid and thread_id set). */
static inline GThread *
gaio_test_owner_start(GaioTestOwner *o, AioContext *ctx, GMainContext *mc)
{
    GThread *thread;

    o->ctx = ctx;
    o->mc = mc;
    atomic_init(&o->started, false);
    atomic_init(&o->stop, false);
    atomic_init(&o->iterations, 0);
    thread = g_thread_new("owner", gaio_test_owner_thread, o);
    while (!atomic_load(&o->started))
        sched_yield();
    return thread;
}

static inline void
gaio_test_owner_stop(GaioTestOwner *o, GThread *thread)
{
    atomic_store(&o->stop, true);
    aio_notify(o->ctx);
    g_thread_join(thread);
}
