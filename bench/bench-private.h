/* bench-private.h: the harness shared by gaio-bench's workloads and loops.
 *
 * Two interfaces meet here:
 *  - BenchImpl: one event loop driven the way its documentation intends
 *    (gaio, GLib, libuv, libevent, sd-event, the references). Each lives in
 *    its own loop-*.c and knows nothing about workloads.
 *  - BenchWorkload: one measurement (same-thread rounds, cross-thread
 *    throughput, …), written once against BenchImpl and run over every
 *    implementation that takes part, repetitions interleaved.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* --- options ------------------------------------------------------------ */

typedef struct {
    bool quick;
    unsigned reps;            /* interleaved repetitions of every figure */
    int64_t sample_ns;        /* length of one timed sample of a round workload */
    int64_t throughput_ns;    /* length of one cross-thread throughput sample */
    unsigned latency_samples; /* wake-ups per latency repetition */
    unsigned memory_handles;  /* handles per memory sample */
    unsigned timer_samples;   /* timers per lateness repetition */
    unsigned pool_jobs;       /* jobs per thread-pool repetition */
    unsigned round_trips;     /* round trips per ping-pong / call-wait repetition */
    const char *only;         /* run only the workloads whose label starts so */
} BenchOptions;

extern BenchOptions bench_options;

/* --- loops -------------------------------------------------------------- */

typedef struct BenchImpl BenchImpl;
typedef struct BenchLoop BenchLoop;

/* Which workloads an implementation takes part in. */
enum {
    BENCH_SAME_THREAD = 1u << 0,  /* schedule + run on one thread */
    BENCH_CROSS_THREAD = 1u << 1, /* schedule is thread-safe and wakes the loop */
    BENCH_LATENCY = 1u << 2,      /* cross-thread wake-up latency */
    BENCH_MEMORY = 1u << 3,       /* heap bytes per handle */
    BENCH_IDLE = 1u << 4,         /* handles can be registered but not pending */
    BENCH_FDS = 1u << 5,          /* fd_watch(): fd scaling */
    BENCH_TIMERS = 1u << 6,       /* timer_arm(): timer lateness */
    BENCH_TIMER_ARM = 1u << 7,    /* timers_add(), timer_arm(), timer_cancel() */
    BENCH_POOL = 1u << 8,         /* threads_new(), pool_run() */
    BENCH_PING_PONG = 1u << 9,    /* threads_new(), ping_pong() */
    BENCH_CALL_WAIT = 1u << 10,   /* threads_new(), call_wait() */
};

/* The common head of every implementation's loop. The callback of every
 * handle of every implementation ends in bench_loop_ran(), so all pay the
 * same per-callback work (one out-of-line call, one counter store). */
struct BenchLoop {
    const BenchImpl *impl;
    /* The counters sit on their own cache line: a producer thread polls them
     * while the loop's thread writes the implementation's fields. */
    char pad_before[64];
    /* Callbacks run so far. Written by the loop's thread only. */
    atomic_ulong runs;
    /* When the last callback ran (CLOCK_MONOTONIC ns), if @stamp. */
    atomic_llong ran_at_ns;
    bool stamp;
    char pad_after[64];
};

struct BenchImpl {
    const char *id;      /* stable key for JSON and targets: "libuv" */
    const char *name;    /* row label: "libuv uv_async_send" */
    const char *library; /* for the header: "libuv", NULL for references */
    const char *(*version)(void);
    /* A gaio variant: the tables get a "gaio ÷ row" column for each one,
     * headed by this short name. NULL for peers. */
    const char *gaio_column;
    unsigned workloads; /* BENCH_* */

    /* A loop with room for @max_handles handles, none made yet. Allocates all
     * of its own bookkeeping, so that handles_add() allocates only what a user
     * pays per handle. Ends with bench_loop_init(). */
    BenchLoop *(*loop_new)(const BenchImpl *impl, unsigned max_handles);
    void (*loop_free)(BenchLoop *loop);
    /* Makes @n more handles, registered but not pending. */
    void (*handles_add)(BenchLoop *loop, unsigned n);
    /* Makes handles @first … @first + @n - 1 pending. From any thread if the
     * implementation has BENCH_CROSS_THREAD, else from the loop's thread. */
    void (*schedule)(BenchLoop *loop, unsigned first, unsigned n);
    /* One iteration of the loop: runs what is pending; with @block, first
     * sleeps until something is. */
    void (*iterate)(BenchLoop *loop, bool block);

    /* fds and timers. An implementation that has only these leaves
     * handles_add() and schedule() NULL. Their callbacks end in
     * bench_loop_ran() too, and loop_free() undoes all of them. */

    /* BENCH_FDS: watches @fd for readability, level-triggered, until
     * loop_free(). The workload owns @fd and closes it after loop_free(). */
    void (*fd_watch)(BenchLoop *loop, int fd);
    /* BENCH_TIMERS, BENCH_TIMER_ARM: arms the loop's one timer (made on
     * first use), or moves it, to fire once at @deadline_ns on
     * CLOCK_MONOTONIC, as precisely as the API lets one say it. @now_ns is
     * the caller's reading of CLOCK_MONOTONIC just before, for APIs that take
     * a timeout relative to now. */
    void (*timer_arm)(BenchLoop *loop, int64_t now_ns, int64_t deadline_ns);
    /* BENCH_TIMER_ARM: disarms the loop's one timer. */
    void (*timer_cancel)(BenchLoop *loop);
    /* BENCH_TIMER_ARM: makes @n more timers, each armed at one of
     * @deadlines_ns (far ahead: they never fire); @now_ns as for timer_arm(). */
    void (*timers_add)(BenchLoop *loop, unsigned n, int64_t now_ns,
                       const int64_t *deadlines_ns);
    /* BENCH_TIMER_ARM: re-arms timer @i of those timers_add() made (still
     * armed) for @deadline_ns, the way the API moves an armed timer. */
    void (*timer_move)(BenchLoop *loop, unsigned i, int64_t now_ns, int64_t deadline_ns);

    /* Threads (bench-threads.c). An implementation of these has only them:
     * it makes its own threads and contexts, and no BenchLoop. */

    /* BENCH_POOL, BENCH_PING_PONG, BENCH_CALL_WAIT: makes what the workload
     * needs (a context of the calling thread and a pool; two threads running
     * a context each; one thread running a context), started and ready. */
    void *(*threads_new)(const BenchImpl *impl);
    /* Stops and joins the threads threads_new() started, frees the rest. */
    void (*threads_free)(void *threads);
    /* BENCH_POOL: submits @n jobs that return at once, from the calling
     * thread, whose context gets their completions; runs that context until
     * all @n completions ran there. */
    void (*pool_run)(void *threads, unsigned n);
    /* BENCH_PING_PONG: passes a token @n times back and forth between the
     * contexts of the two threads (A → B → A is one round trip). The
     * callback in A stamps each arrival: @ns[i] = duration of round trip i.
     * Returns when all @n are done. */
    void (*ping_pong)(void *threads, unsigned n, double *ns);
    /* BENCH_CALL_WAIT: runs a callback that does nothing in the thread's
     * context, and returns once it has finished. The calling thread runs no
     * context. */
    void (*call_wait)(void *threads);
};

void bench_loop_init(BenchLoop *loop, const BenchImpl *impl);
/* loop_new() then handles_add(@n_handles). */
BenchLoop *bench_loop_make(const BenchImpl *impl, unsigned n_handles);
void bench_loop_free(BenchLoop *loop);
/* Every handle's callback calls this. Loop thread only. */
void bench_loop_ran(BenchLoop *loop);
unsigned long bench_loop_runs(BenchLoop *loop);
/* Iterates without blocking until @runs callbacks have run in all; aborts
 * the benchmark if the loop stops making progress (a lost callback). */
void bench_loop_run_until(BenchLoop *loop, unsigned long runs);

/* A thread that iterates a loop, blocking, until stopped. While it runs, it
 * and the thread that started it (the producer) are pinned to two different
 * CPUs, if there are two: the producer spins while it waits for a callback,
 * and a consumer woken onto the spinning CPU would wait for a scheduler tick,
 * for reasons that have nothing to do with the loop under test. */
typedef struct {
    BenchLoop *loop;
    atomic_bool stop;
    GThread *thread;
    int consumer_cpu;            /* -1: not pinned */
    cpu_set_t producer_affinity; /* restored by bench_consumer_stop() */
} BenchConsumer;

void bench_consumer_start(BenchConsumer *consumer, BenchLoop *loop);
/* Stops it (waking it with a schedule of handle 0), joins it, and runs what
 * it left pending. */
void bench_consumer_stop(BenchConsumer *consumer);

/* --- measuring ---------------------------------------------------------- */

int64_t bench_now_ns(void);
/* Write-type system calls made by the whole process so far (`syscw` in
 * /proc/self/io). Any write counts, so nothing may print meanwhile. */
uint64_t bench_syscw(void);
void bench_sleep_ns(int64_t ns);
void bench_sort(double *values, unsigned n);
double bench_median(double *values, unsigned n); /* sorts @values */
double bench_percentile(const double *sorted, unsigned n, double p);
/* A millisecond timeout that does not end before @deadline_ns: the interval
 * from @now_ns, rounded up. */
unsigned bench_ms_until(int64_t now_ns, int64_t deadline_ns);

/* A timed operation: round(data, r) for r = 0, 1, 2, … does per_round units
 * of work (callbacks, iterations, arm + delete pairs). */
typedef struct {
    void (*round)(void *data, uint64_t r);
    void *data;
    unsigned per_round;
    uint64_t rounds; /* per timed sample: set by bench_rounds_calibrate() */
} BenchRounds;

/* Counts the rounds that fill bench_options.sample_ns (which also warms the
 * caches up), so that every repetition does the same work. */
void bench_rounds_calibrate(BenchRounds *rounds);
/* Warms up again (other implementations ran since), then times one sample:
 * ns per unit of work. */
double bench_rounds_sample(BenchRounds *rounds);

/* --- workloads ---------------------------------------------------------- */

/* Keys of the figures: the tables and the targets look figures up by them. */
#define BENCH_W_SAME_THREAD "same-thread"
#define BENCH_W_IDLE "idle scaling"
#define BENCH_W_THROUGHPUT "cross-thread throughput"
#define BENCH_W_LATENCY "cross-thread latency"
#define BENCH_W_MEMORY "memory"
#define BENCH_W_FDS "fd scaling"
#define BENCH_W_TIMER_LATENESS "timer lateness"
#define BENCH_W_TIMER_ARM "timer arm+delete"
#define BENCH_W_POOL "thread pool"
#define BENCH_W_PING_PONG "ping-pong"
#define BENCH_W_CALL_WAIT "call and wait"

typedef struct {
    const char *name; /* "ns per callback" */
    const char *unit; /* "ns" */
} BenchMetric;

typedef struct BenchWorkload BenchWorkload;

/* One measurement, run for every implementation that has @implementations
 * in its workloads: setup() once each, then @reps rounds of sample() over
 * all of them in turn, so slow drifts of the machine hit all alike. */
struct BenchWorkload {
    const char *name;         /* BENCH_W_* */
    const char *param;        /* "K=1024", or "" */
    unsigned implementations; /* BENCH_* */
    unsigned n_metrics;
    const BenchMetric *metrics;
    unsigned arg; /* handed to setup(): K, M, … */
    void *(*setup)(const BenchImpl *impl, unsigned arg);
    /* One repetition: fills @values[0 … n_metrics - 1]. */
    void (*sample)(void *state, double *values);
    void (*teardown)(void *state);
};

/* The workloads (bench-rounds.c, bench-cross-thread.c, bench-memory.c,
 * bench-fds.c, bench-timers.c), made for one value of their parameter: K, M,
 * N, or none (0). */
typedef BenchWorkload BenchWorkloadMaker(unsigned arg);
BenchWorkloadMaker bench_same_thread_workload;
BenchWorkloadMaker bench_idle_workload;
BenchWorkloadMaker bench_throughput_workload;
BenchWorkloadMaker bench_latency_workload;
BenchWorkloadMaker bench_memory_workload;
BenchWorkloadMaker bench_fds_workload;
BenchWorkloadMaker bench_timer_lateness_workload;
BenchWorkloadMaker bench_timer_arm_workload;
BenchWorkloadMaker bench_pool_workload;
BenchWorkloadMaker bench_ping_pong_workload;
BenchWorkloadMaker bench_call_wait_workload;

/* bench-threads.c: the affinity of the threads of a workload: thread @i of
 * it (0, 1, …) pins itself to the @i-th CPU the process may use, if there
 * is one. bench_threads_pin_save() first, from the bench thread, which it
 * also pins to the first; bench_threads_pin_restore() after. */
void bench_threads_pin_save(void);
void bench_threads_pin_self(unsigned i);
void bench_threads_pin_restore(void);

/* The token of ping_pong(), the same for every implementation. */
typedef struct {
    unsigned n, arrivals;
    int64_t last_ns;
    double *ns;
    GMutex lock;
    GCond cond;
    bool done;
} BenchPingPong;

/* Before the token starts (from A): @ns gets @n round trips. */
void bench_ping_pong_init(BenchPingPong *pp, unsigned n, double *ns);
/* In A, at each arrival of the token (the first one starts it): stamps it.
 * True while the token must go on to B; false after the last round trip,
 * having woken bench_ping_pong_wait(). */
bool bench_ping_pong_arrived(BenchPingPong *pp);
/* Sleeps until the last round trip; then @pp can be freed. */
void bench_ping_pong_wait(BenchPingPong *pp);

/* bench-fds.c: what the fd scaling tables must say about the fds they
 * really had (RLIMIT_NOFILE may cap N), or NULL when every N was reached. */
const char *bench_fds_note(void);

/* A workload's parameter: "K=1024" (interned). */
const char *bench_param(const char *name, unsigned value);

/* Runs @workload and records its figures. */
void bench_run_workload(const BenchWorkload *workload, const BenchImpl *const *impls,
                        unsigned n_impls);

/* --- progress (stderr) and results -------------------------------------- */

void bench_progress_step(unsigned step, unsigned n_steps, const char *label);
void bench_progress_sample(unsigned rep, const BenchImpl *impl);
void bench_progress_done(void);

/* One figure: the median and range of a workload's metric over the
 * repetitions, for one implementation. */
typedef struct {
    const char *workload;
    const char *metric;
    const char *param;
    const BenchImpl *impl;
    const char *unit;
    double median, min, max;
} BenchFigure;

void bench_record(const BenchWorkload *workload, unsigned metric, const BenchImpl *impl,
                  double *values, unsigned n);
const BenchFigure *bench_find(const char *workload, const char *metric, const char *param,
                              const char *impl_id);
/* Every figure recorded so far, in order (a GArray of BenchFigure). */
const GArray *bench_figures(void);

/* bench-report.c: the markdown tables, the targets, the JSON file. */
void bench_print_tables(const BenchImpl *const *impls, unsigned n_impls);
void bench_print_targets(void);
gboolean bench_write_json(const char *path, GError **error);

/* --- the implementations (loop-*.c) ------------------------------------- */

extern const BenchImpl bench_gaio_poll;
extern const BenchImpl bench_gaio_gmain;
extern const BenchImpl bench_glib_idle;
extern const BenchImpl bench_glib_ready_time;
extern const BenchImpl bench_glib_unix_fd;
extern const BenchImpl bench_glib_timeout;
#ifdef HAVE_LIBUV
extern const BenchImpl bench_libuv;
extern const BenchImpl bench_libuv_poll;
extern const BenchImpl bench_libuv_timer;
#endif
#ifdef HAVE_LIBEVENT
extern const BenchImpl bench_libevent;
extern const BenchImpl bench_libevent_pthreads;
extern const BenchImpl bench_libevent_fd;
extern const BenchImpl bench_libevent_timer;
#endif
#ifdef HAVE_SDEVENT
extern const BenchImpl bench_sd_event;
extern const BenchImpl bench_sd_event_io;
extern const BenchImpl bench_sd_event_time;
#endif
extern const BenchImpl bench_ref_call;
extern const BenchImpl bench_ref_atomic;
extern const BenchImpl bench_ref_eventfd;
extern const BenchImpl bench_ref_timerfd;
/* threads-*.c */
extern const BenchImpl bench_gaio_pool;
extern const BenchImpl bench_gaio_ping_pong_oneshot;
extern const BenchImpl bench_gaio_ping_pong_bh;
extern const BenchImpl bench_gaio_wait_oneshot;
extern const BenchImpl bench_glib_task;
extern const BenchImpl bench_glib_invoke_pair;
extern const BenchImpl bench_glib_invoke_cond;
#ifdef HAVE_LIBUV
extern const BenchImpl bench_libuv_queue_work;
extern const BenchImpl bench_libuv_async_pair;
#endif
