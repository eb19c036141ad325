/* test-races.c: the windows of concurrent operations, hit deterministically.
 *
 * Each test holds one thread at a pause point of the test-hooks library
 * (gaio/test-hooks-private.h) — "what if this thread stops here for a
 * second?" — while the context's thread runs, deletes and frees, then lets it
 * go. No timing luck is involved: the interleaving is forced.
 *   B10  a schedule never touches a BH after it may run and be freed;
 *   W1   a producer held between its exchange and its link costs the owner a
 *        bounded spin, not a busy loop; it is woken when the link lands;
 *   B7   an idle schedule wakes an owner asleep with no deadline;
 *   G3   leftovers are reclaimed without making the GSource ready;
 *   F2   a handler removed or replaced by another thread after a pass
 *        collected its event is not called, and its memory stays valid;
 *   T4   a timer armed by another thread while the owner goes to sleep
 *        with no deadline wakes it;
 *   T1   a timer freed by another thread just after a pass disarmed it
 *        is not touched again by the pass;
 *   TP2  a cancel while a worker holds the request, not yet claimed, wins:
 *        the function never runs, done gets -ECANCELED once;
 *   TP5  a context finalized while a cancel that won is about to list its
 *        completion waits for it (no use after free under ASan).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "gaio-test.h"

#include "bh-slab-private.h"
#include "context-private.h"
#include "poll-private.h"
#include "test-hooks-private.h"

/* ------------------------------------------------------- holding a thread */

/* One pause: the first thread that reaches @point with @object stops there
 * until the test releases it. */
typedef struct {
    GaioPausePoint point;
    const void *object;
    atomic_int state; /* PAUSE_ARMED, PAUSE_HELD, PAUSE_RELEASED */
} Pause;

enum { PAUSE_ARMED, PAUSE_HELD, PAUSE_RELEASED };

static Pause *_Atomic active_pause;

/* Async-signal-safe: atomics and nanosleep() only. */
static void
pause_hook(GaioPausePoint point, const void *object)
{
    Pause *p = atomic_load(&active_pause);
    int armed = PAUSE_ARMED;
    const struct timespec tick = {.tv_nsec = 100 * 1000};

    if (p == NULL || p->point != point || p->object != object)
        return;
    if (!atomic_compare_exchange_strong(&p->state, &armed, PAUSE_HELD))
        return; /* only the first arrival is held */
    while (atomic_load(&p->state) == PAUSE_HELD)
        nanosleep(&tick, NULL);
}

static void
pause_arm(Pause *p, GaioPausePoint point, const void *object)
{
    p->point = point;
    p->object = object;
    atomic_init(&p->state, PAUSE_ARMED);
    atomic_store(&active_pause, p);
    atomic_store(&gaio_test_pause_hook, pause_hook);
}

/* Waits until a thread is held at @p (the watchdog ends a hang). */
static void
pause_wait_held(Pause *p)
{
    while (atomic_load(&p->state) != PAUSE_HELD)
        g_usleep(100);
}

static void
pause_release(Pause *p)
{
    atomic_store(&active_pause, NULL);
    atomic_store(&p->state, PAUSE_RELEASED);
}

/* ------------------------------------------------------------- fixtures */

typedef struct {
    QEMUBH *bh;
    atomic_uint runs;
    bool delete_self;
} Victim;

static void
victim_cb(void *opaque)
{
    Victim *v = opaque;

    atomic_fetch_add(&v->runs, 1);
    if (v->delete_self)
        qemu_bh_delete(v->bh);
}

/* A new context and a BH @v of it whose memory goes back to malloc as soon
 * as the BH is freed (and is poisoned under ASan, so a stray access shows as
 * a heap-use-after-free). The context keeps one empty slab for reuse, so the
 * BH must not live in that one: a first slab is filled, the BH goes into a
 * second, and the first is emptied (and kept). */
static AioContext *
context_with_victim(Victim *v)
{
    AioContext *ctx = gaio_test_context_new();
    QEMUBH *fill[BH_SLAB_SLOTS];
    static Victim unused;

    for (unsigned i = 0; i < BH_SLAB_SLOTS; i++)
        fill[i] = aio_bh_new(ctx, victim_cb, &unused);
    v->bh = aio_bh_new(ctx, victim_cb, v);
    g_assert_true(bh_slab_of(v->bh) != bh_slab_of(fill[0]));
    for (unsigned i = 0; i < BH_SLAB_SLOTS; i++)
        qemu_bh_delete(fill[i]);
    aio_poll(ctx, false);
    g_assert_cmpuint(bh_slabs_live(&ctx->bh_slabs), ==, 1);
    return ctx;
}

typedef enum { OP_SCHEDULE, OP_SCHEDULE_IDLE, OP_DELETE } Operation;

typedef struct {
    QEMUBH *bh;
    Operation op;
} Worker;

static gpointer
worker_main(gpointer data)
{
    Worker *w = data;

    switch (w->op) {
    case OP_SCHEDULE:
        qemu_bh_schedule(w->bh);
        break;
    case OP_SCHEDULE_IDLE:
        qemu_bh_schedule_idle(w->bh);
        break;
    case OP_DELETE:
    default:
        qemu_bh_delete(w->bh);
        break;
    }
    return NULL;
}

/* ------------------------------------------------------------------ B10 */

/* A worker schedules @v's BH as its last act and is held at @point, after
 * the BH may have become runnable. Meanwhile the owner runs the BH, whose
 * callback deletes it, and runs passes until nothing is left to reclaim.
 * Then the worker goes on: it must not touch the BH's memory, which the
 * owner is free to reclaim once the worker is out of the schedule. */
static void
check_schedule_held_while_callback_deletes(AioContext *ctx, Victim *v, Operation op,
                                           GaioPausePoint point)
{
    Worker w = {.bh = v->bh, .op = op};
    Pause pause;
    GThread *thread;

    v->delete_self = true;
    pause_arm(&pause, point, v->bh);
    thread = g_thread_new("scheduler", worker_main, &w);
    pause_wait_held(&pause);

    /* The BH runs and deletes itself; later passes reclaim what they can. */
    for (int i = 0; i < 4; i++)
        aio_poll(ctx, false);
    g_assert_cmpuint(atomic_load(&v->runs), ==, 1);

    pause_release(&pause);
    g_thread_join(thread);
    aio_poll(ctx, false);
    /* Ran once, and the deleted BH was reclaimed after all (B10). */
    g_assert_cmpuint(atomic_load(&v->runs), ==, 1);
    g_assert_cmpuint(bh_slabs_live(&ctx->bh_slabs), ==, 0);
    aio_context_unref(ctx);
}

static void
test_idle_schedule_held_after_push(void)
{
    Victim v = {0};
    AioContext *ctx = context_with_victim(&v);

    g_test_summary("B10: qemu_bh_schedule_idle() held right after its push, while "
                   "the callback runs, deletes the BH and passes reclaim it: the "
                   "schedule never touches the freed BH");
    check_schedule_held_while_callback_deletes(ctx, &v, OP_SCHEDULE_IDLE,
                                               GAIO_PAUSE_SCHEDULE_VISIBLE);
}

static void
test_normal_schedule_of_leftover_held(void)
{
    Victim v = {0};
    AioContext *ctx = context_with_victim(&v);

    g_test_summary("B10: qemu_bh_schedule() of a cancelled BH still queued, held "
                   "after making it pending: the callback deletes it and the "
                   "schedule never touches it again");
    qemu_bh_schedule(v.bh);
    qemu_bh_cancel(v.bh); /* a leftover: queued, not pending */
    check_schedule_held_while_callback_deletes(ctx, &v, OP_SCHEDULE,
                                               GAIO_PAUSE_SCHEDULE_KIND_SET);
}

static void
test_upgrade_of_idle_bh_held(void)
{
    Victim v = {0};
    AioContext *ctx = context_with_victim(&v);

    g_test_summary("B10: qemu_bh_schedule() upgrading a pending idle BH, held after "
                   "making it normal: the callback deletes it and the schedule "
                   "never touches it again");
    qemu_bh_schedule_idle(v.bh);
    check_schedule_held_while_callback_deletes(ctx, &v, OP_SCHEDULE,
                                               GAIO_PAUSE_SCHEDULE_KIND_SET);
}

static void
test_idle_schedule_of_leftover_held(void)
{
    Victim v = {0};
    AioContext *ctx = context_with_victim(&v);

    g_test_summary("B10: qemu_bh_schedule_idle() of a cancelled BH still queued, "
                   "held after making it pending");
    qemu_bh_schedule(v.bh);
    qemu_bh_cancel(v.bh);
    check_schedule_held_while_callback_deletes(ctx, &v, OP_SCHEDULE_IDLE,
                                               GAIO_PAUSE_SCHEDULE_KIND_SET);
}

/* ------------------------------------------------------------------- W1 */

static gint64
thread_cpu_ns(void)
{
    struct timespec ts;

    g_assert_cmpint(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), ==, 0);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define GAP_HOLD_MS 500

typedef struct {
    Pause *pause;
    QEMUBH *target;
    atomic_bool released;
    gint64 released_at;
} GapReleaser;

/* Schedules a normal BH behind the held producer's gap (its push is
 * unreachable, its notify wakes the owner), waits, and lets the producer
 * link. */
static gpointer
gap_releaser_main(gpointer data)
{
    GapReleaser *r = data;

    g_usleep(GAP_HOLD_MS / 5 * 1000);
    qemu_bh_schedule(r->target);
    g_usleep(GAP_HOLD_MS * 4 / 5 * 1000);
    r->released_at = g_get_monotonic_time();
    atomic_store(&r->released, true);
    pause_release(r->pause);
    return NULL;
}

typedef bool (*IterateFunc)(gpointer data);

static bool
iterate_aio_poll(gpointer ctx)
{
    return aio_poll(ctx, true);
}

static bool
iterate_main_context(gpointer mc)
{
    return g_main_context_iteration(mc, TRUE);
}

/* A delete of an unrelated BH from another thread is held between its
 * exchange and its link for GAP_HOLD_MS; a normal BH is scheduled behind it
 * meanwhile. The owner, iterating with @iterate, must sleep through the gap
 * (CPU time well under 5 % of the hold) and run the BH once the link lands. */
static void
check_owner_sleeps_through_gap(AioContext *ctx, IterateFunc iterate, gpointer data)
{
    Victim unrelated = {0}, target = {0};
    Worker w = {.op = OP_DELETE};
    GapReleaser r = {0};
    Pause pause;
    GThread *deleter, *releaser;
    gint64 cpu, hold_start, hold_ns;
    unsigned iterations = 0;

    unrelated.bh = aio_bh_new(ctx, victim_cb, &unrelated);
    target.bh = aio_bh_new(ctx, victim_cb, &target);
    w.bh = unrelated.bh;
    pause_arm(&pause, GAIO_PAUSE_PUSH_LINK, unrelated.bh);
    deleter = g_thread_new("deleter", worker_main, &w);
    pause_wait_held(&pause);

    r.pause = &pause;
    r.target = target.bh;
    cpu = thread_cpu_ns();
    hold_start = g_get_monotonic_time();
    releaser = g_thread_new("releaser", gap_releaser_main, &r);
    while (atomic_load(&target.runs) == 0) {
        iterate(data);
        iterations++;
    }
    cpu = thread_cpu_ns() - cpu;
    /* The hold as it happened: a releaser starved of CPU (a loaded
     * machine) holds longer than GAP_HOLD_MS, and the owner looks again
     * once per AIO_GAP_SLEEP_NS of it. */
    hold_ns = (r.released_at - hold_start) * 1000;
    g_test_message("owner: %u iterations, %.1f ms of CPU over a %.1f ms hold; the BH ran "
                   "%" G_GINT64_FORMAT " us after the link",
                   iterations, cpu / 1e6, hold_ns / 1e6,
                   g_get_monotonic_time() - r.released_at);

    /* The BH behind the gap could not run before the link (B4: FIFO). */
    g_assert_true(atomic_load(&r.released));
    g_assert_cmpuint(atomic_load(&target.runs), ==, 1);
    /* A sleeping owner, not a spinning one (W1): under 5 % of the hold in
     * CPU time (valgrind's own CPU cost allowed for), and it looked again
     * at most once per AIO_GAP_SLEEP_NS, give or take the wakeups of the BH
     * scheduled behind the gap. A spinning owner makes millions of calls. */
    g_assert_cmpint(cpu, <, hold_ns / 20 * (gaio_test_running_on_valgrind() ? 4 : 1));
    g_assert_cmpuint(iterations, <=, hold_ns / AIO_GAP_SLEEP_NS + 10);
    g_thread_join(releaser);
    g_thread_join(deleter);
    qemu_bh_delete(target.bh);
}

static void
test_gap_aio_poll(void)
{
    AioContext *ctx = gaio_test_context_new();

    g_test_summary("W1: a producer held between its exchange and its link costs a "
                   "blocking aio_poll() a bounded spin; it sleeps and is woken");
    check_owner_sleeps_through_gap(ctx, iterate_aio_poll, ctx);
    aio_poll(ctx, false);
    aio_context_unref(ctx);
}

static void
test_gap_main_context(void)
{
    GMainContext *mc = g_main_context_new();
    AioContext *ctx = gaio_test_context_new();

    g_test_summary("W1: the same gap under g_main_context_iteration(): the GSource "
                   "does not make GLib spin");
    g_source_attach(&ctx->source, mc);
    g_main_context_push_thread_default(mc);
    check_owner_sleeps_through_gap(ctx, iterate_main_context, mc);
    while (g_main_context_iteration(mc, FALSE))
        ;
    g_main_context_pop_thread_default(mc);
    g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
    g_main_context_unref(mc);
}

/* ------------------------------------------------------------------- B7 */

/* The owner sleeps with no deadline; another thread schedules an idle BH.
 * The BH must run promptly (B7 says within about 10 ms; the test allows 2 s
 * of a loaded machine, where a sleeper never woken fails). */
static void
check_idle_schedule_wakes_sleeper(AioContext *ctx, GMainContext *mc)
{
    GaioTestOwner o;
    Victim v = {0};
    GThread *owner;
    bool ran;

    v.bh = aio_bh_new(ctx, victim_cb, &v);
    owner = gaio_test_owner_start(&o, ctx, mc);
    gaio_test_wait_until_sleeping(o.tid);
    qemu_bh_schedule_idle(v.bh);
    ran = gaio_test_wait_within(&v.runs, 1, 2 * G_TIME_SPAN_SECOND);
    gaio_test_owner_stop(&o, owner);
    g_assert_true(ran);
    g_assert_cmpuint(atomic_load(&v.runs), ==, 1);
    qemu_bh_delete(v.bh);
}

static void
test_idle_wakes_aio_poll(void)
{
    AioContext *ctx = gaio_test_context_new();

    g_test_summary("B7: an idle schedule from another thread wakes an aio_poll() "
                   "asleep with no deadline");
    check_idle_schedule_wakes_sleeper(ctx, NULL);
    aio_poll(ctx, false);
    aio_context_unref(ctx);
}

static void
test_idle_wakes_main_context(void)
{
    GMainContext *mc = g_main_context_new();
    AioContext *ctx = gaio_test_context_new();

    g_test_summary("B7: an idle schedule from another thread wakes a GLib iteration "
                   "asleep with no deadline");
    g_source_attach(&ctx->source, mc);
    check_idle_schedule_wakes_sleeper(ctx, mc);
    while (g_main_context_iteration(mc, FALSE))
        ;
    g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
    g_main_context_unref(mc);
}

/* ------------------------------------------------------------------- G3 */

static void
test_leftovers_reclaimed_while_iterating(void)
{
    GMainContext *mc = g_main_context_new();
    AioContext *ctx = gaio_test_context_new();
    Victim v = {0};
    unsigned most = 0;

    g_test_summary("G3: a program that creates and deletes BHs forever while its "
                   "GMainContext iterates: no iteration reports ready, and the "
                   "deleted BHs are reclaimed (memory stays bounded)");
    g_source_attach(&ctx->source, mc);
    for (unsigned i = 0; i < 20000; i++) {
        QEMUBH *bh = aio_bh_new(ctx, victim_cb, &v);

        if (i % 3 == 1) {
            qemu_bh_schedule(bh);
            qemu_bh_cancel(bh);
        }
        qemu_bh_delete(bh);
        g_assert_false(g_main_context_iteration(mc, FALSE));
        most = MAX(most, bh_slabs_live(&ctx->bh_slabs));
    }
    g_assert_cmpuint(atomic_load(&v.runs), ==, 0);
    g_assert_cmpuint(most, <=, 2);
    g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
    g_main_context_unref(mc);
}

/* ------------------------------------------------------------ F2, T4, T1 */

typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL: aio_poll() */
    bool blocking;
    atomic_bool result;
} Iteration;

static gpointer
iteration_main(gpointer data)
{
    Iteration *it = data;

    if (it->mc != NULL) {
        g_main_context_push_thread_default(it->mc);
        atomic_store(&it->result, g_main_context_iteration(it->mc, it->blocking));
        g_main_context_pop_thread_default(it->mc);
    } else {
        atomic_store(&it->result, aio_poll(it->ctx, it->blocking));
    }
    return NULL;
}

static void
fd_read_count_cb(void *opaque)
{
    atomic_fetch_add((atomic_uint *)opaque, 1); /* does not drain: stays ready */
}

/* @replace: replace the handler instead of removing it. */
static void
check_handler_changed_after_collect(bool replace)
{
    AioContext *ctx = gaio_test_context_new();
    atomic_uint old_runs = 0, new_runs = 0;
    Iteration it = {.ctx = ctx, .blocking = false};
    Pause pause;
    GThread *owner;
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
    aio_set_fd_handler(ctx, fds[0], fd_read_count_cb, NULL, NULL, NULL, &old_runs);
    pause_arm(&pause, GAIO_PAUSE_HANDLERS_COLLECTED, ctx);
    owner = g_thread_new("owner", iteration_main, &it);
    pause_wait_held(&pause);
    /* The owner holds the old handler's event. Under ASan, freeing the
     * handler now would make the pass's next look a use-after-free. */
    if (replace)
        aio_set_fd_handler(ctx, fds[0], fd_read_count_cb, NULL, NULL, NULL, &new_runs);
    else
        aio_set_fd_handler(ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    pause_release(&pause);
    g_thread_join(owner);

    g_assert_false(atomic_load(&it.result));
    g_assert_cmpuint(atomic_load(&old_runs), ==, 0);
    g_assert_cmpuint(atomic_load(&new_runs), ==, 0);
    /* The next pass: the replacement runs, a removed handler does not. */
    g_assert_cmpint(aio_poll(ctx, false), ==, replace);
    g_assert_cmpuint(atomic_load(&old_runs), ==, 0);
    g_assert_cmpuint(atomic_load(&new_runs), ==, replace ? 1 : 0);
    aio_set_fd_handler(ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    close(fds[0]);
    close(fds[1]);
    aio_context_unref(ctx);
}

static void
test_handler_removed_after_collect(void)
{
    g_test_summary("F2: a handler removed by another thread after a pass collected "
                   "its ready event is not called, and its memory outlives the pass");
    check_handler_changed_after_collect(false);
}

static void
test_handler_replaced_after_collect(void)
{
    g_test_summary("F2: a handler replaced by another thread after a pass collected "
                   "its event: neither runs in that pass, the new one in the next");
    check_handler_changed_after_collect(true);
}

static void
timer_count_cb(void *opaque)
{
    atomic_fetch_add((atomic_uint *)opaque, 1);
}

/* The owner has computed "no deadline" and is about to sleep; another thread
 * arms a timer 1 ms ahead. The sleep must end for it (the test allows 5 s of
 * a loaded machine; an owner not woken would sleep for ever). */
static void
check_timer_armed_before_sleep(GMainContext *mc)
{
    AioContext *ctx = gaio_test_context_new();
    atomic_uint runs = 0;
    AioTimer *timer = aio_timer_new(ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, timer_count_cb, &runs);
    Iteration it = {.ctx = ctx, .mc = mc, .blocking = true};
    Pause pause;
    GThread *owner;
    bool ran;

    if (mc != NULL) {
        g_source_attach(&ctx->source, mc);
        /* Attaching signalled GLib's own wakeup: consume it, or the poll
         * under test would return at once for it. */
        while (g_main_context_iteration(mc, FALSE))
            ;
    }
    pause_arm(&pause, GAIO_PAUSE_BEFORE_SLEEP, ctx);
    owner = g_thread_new("owner", iteration_main, &it);
    pause_wait_held(&pause);
    aio_timer_mod_ns(timer, aio_clock_get_ns(AIO_CLOCK_REALTIME) + 1000000);
    pause_release(&pause);
    ran = gaio_test_wait_within(&runs, 1, 5 * G_TIME_SPAN_SECOND);
    if (!ran)
        aio_notify(ctx); /* let the owner go, to fail rather than hang */
    g_thread_join(owner);
    g_assert_true(ran);
    g_assert_true(atomic_load(&it.result));
    g_assert_cmpuint(atomic_load(&runs), ==, 1);
    aio_timer_free(timer);
    if (mc != NULL)
        g_source_destroy(&ctx->source);
    aio_context_unref(ctx);
}

static void
test_timer_armed_before_aio_poll_sleeps(void)
{
    g_test_summary("T4: a timer armed by another thread while aio_poll() is about to "
                   "sleep with no deadline ends that sleep");
    check_timer_armed_before_sleep(NULL);
}

static void
test_timer_armed_before_main_context_sleeps(void)
{
    GMainContext *mc = g_main_context_new();

    g_test_summary("T4: the same under g_main_context_iteration(): the timer armed "
                   "after prepare ends GLib's poll");
    check_timer_armed_before_sleep(mc);
    g_main_context_unref(mc);
}

static void
test_timer_freed_after_pop(void)
{
    AioContext *ctx = gaio_test_context_new();
    atomic_uint runs = 0;
    AioTimer *timer = aio_timer_new(ctx, AIO_CLOCK_REALTIME, AIO_SCALE_NS, timer_count_cb, &runs);
    Iteration it = {.ctx = ctx, .blocking = false};
    Pause pause;
    GThread *owner;

    g_test_summary("T1/T4: a timer freed by another thread after a pass disarmed it "
                   "and before its callback: the callback runs once from what the "
                   "pass copied, and the freed timer is not touched (ASan)");
    aio_timer_mod_ns(timer, 0);
    pause_arm(&pause, GAIO_PAUSE_TIMER_POPPED, timer);
    owner = g_thread_new("owner", iteration_main, &it);
    pause_wait_held(&pause);
    g_assert_false(aio_timer_pending(timer));
    aio_timer_free(timer);
    pause_release(&pause);
    g_thread_join(owner);
    g_assert_true(atomic_load(&it.result));
    g_assert_cmpuint(atomic_load(&runs), ==, 1);
    g_assert_false(aio_poll(ctx, false));
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------ TP2, TP5 */

typedef struct {
    atomic_uint func_runs;
    atomic_uint done_runs;
    atomic_int ret;
} PoolRecord;

static int
pool_func(void *arg)
{
    atomic_fetch_add(&((PoolRecord *)arg)->func_runs, 1);
    return 42;
}

static void
pool_done(void *opaque, int ret)
{
    PoolRecord *r = opaque;

    atomic_store(&r->ret, ret);
    atomic_fetch_add(&r->done_runs, 1);
}

static int
pool_gate_func(void *arg)
{
    while (!atomic_load((atomic_bool *)arg))
        g_usleep(100);
    return 0;
}

static void
test_pool_cancel_before_claim(void)
{
    AioContext *ctx = gaio_test_context_new();
    atomic_bool gate = false;
    PoolRecord r = {0};
    AioThreadPoolRequest *req;
    Pause pause;

    g_test_summary("TP2: a worker holds the request, not yet claimed; a cancel then "
                   "wins: func never runs and done gets -ECANCELED exactly once");
    /* One worker, blocked on the gate: the request waits in the queue. */
    aio_thread_pool_set_max_workers(ctx, 1);
    aio_thread_pool_submit(ctx, pool_gate_func, &gate, NULL, NULL);
    req = aio_thread_pool_submit(ctx, pool_func, &r, pool_done, &r);
    pause_arm(&pause, GAIO_PAUSE_POOL_BEFORE_CLAIM, req);
    atomic_store(&gate, true);
    pause_wait_held(&pause);
    aio_thread_pool_cancel(req);
    while (atomic_load(&r.done_runs) == 0)
        aio_poll(ctx, true);
    g_assert_cmpint(atomic_load(&r.ret), ==, -ECANCELED);
    pause_release(&pause);
    aio_context_unref(ctx); /* joins the worker, which loses its claim */
    g_assert_cmpuint(atomic_load(&r.func_runs), ==, 0);
    g_assert_cmpuint(atomic_load(&r.done_runs), ==, 1);
}

typedef struct {
    AioThreadPoolRequest *req;
    Pause *pause;
    atomic_bool released;
} Canceller;

static gpointer
canceller_main(gpointer data)
{
    aio_thread_pool_cancel(((Canceller *)data)->req);
    return NULL;
}

/* Lets the held cancel go after a while: finalize must still be waiting. */
static gpointer
late_releaser_main(gpointer data)
{
    Canceller *c = data;

    g_usleep(100 * 1000);
    atomic_store(&c->released, true);
    pause_release(c->pause);
    return NULL;
}

static void
test_pool_finalize_waits_for_cancel(void)
{
    AioContext *ctx = gaio_test_context_new();
    atomic_bool gate = false;
    PoolRecord r = {0};
    Canceller c = {0};
    Pause pause;
    GThread *canceller, *releaser;

    g_test_summary("TP5: a context finalized while a cancel that won its claim has "
                   "not listed the completion yet waits for it; the completion is "
                   "dropped, nothing is touched after free (ASan)");
    aio_thread_pool_set_max_workers(ctx, 1);
    aio_thread_pool_submit(ctx, pool_gate_func, &gate, NULL, NULL);
    c.req = aio_thread_pool_submit(ctx, pool_func, &r, pool_done, &r);
    c.pause = &pause;
    pause_arm(&pause, GAIO_PAUSE_POOL_CANCEL_WON, c.req);
    canceller = g_thread_new("canceller", canceller_main, &c);
    pause_wait_held(&pause);
    atomic_store(&gate, true);
    releaser = g_thread_new("releaser", late_releaser_main, &c);
    /* Joins the worker (which finds the request cancelled), then waits for
     * the held cancel to list its completion before dropping it. */
    aio_context_unref(ctx);
    g_assert_true(atomic_load(&c.released));
    g_thread_join(releaser);
    g_thread_join(canceller);
    g_assert_cmpuint(atomic_load(&r.func_runs), ==, 0);
    g_assert_cmpuint(atomic_load(&r.done_runs), ==, 0);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/races/B10/idle-schedule-held-after-push-while-callback-deletes",
                    test_idle_schedule_held_after_push);
    g_test_add_func("/races/B10/schedule-of-leftover-held-while-callback-deletes",
                    test_normal_schedule_of_leftover_held);
    g_test_add_func("/races/B10/upgrade-of-idle-bh-held-while-callback-deletes",
                    test_upgrade_of_idle_bh_held);
    g_test_add_func("/races/B10/idle-schedule-of-leftover-held-while-callback-deletes",
                    test_idle_schedule_of_leftover_held);
    g_test_add_func("/races/W1/aio-poll-sleeps-while-producer-held-at-gap",
                    test_gap_aio_poll);
    g_test_add_func("/races/W1/main-context-sleeps-while-producer-held-at-gap",
                    test_gap_main_context);
    g_test_add_func("/races/B7/idle-schedule-wakes-aio-poll-without-deadline",
                    test_idle_wakes_aio_poll);
    g_test_add_func("/races/B7/idle-schedule-wakes-main-context-without-deadline",
                    test_idle_wakes_main_context);
    g_test_add_func("/races/G3/leftovers-reclaimed-while-iterating",
                    test_leftovers_reclaimed_while_iterating);
    g_test_add_func("/races/F2/handler-removed-by-another-thread-after-collect",
                    test_handler_removed_after_collect);
    g_test_add_func("/races/F2/handler-replaced-by-another-thread-after-collect",
                    test_handler_replaced_after_collect);
    g_test_add_func("/races/T4/timer-armed-while-aio-poll-goes-to-sleep",
                    test_timer_armed_before_aio_poll_sleeps);
    g_test_add_func("/races/T4/timer-armed-while-main-context-goes-to-sleep",
                    test_timer_armed_before_main_context_sleeps);
    g_test_add_func("/races/T1/timer-freed-by-another-thread-before-its-callback",
                    test_timer_freed_after_pop);
    g_test_add_func("/races/TP2/cancel-wins-while-worker-holds-unclaimed-request",
                    test_pool_cancel_before_claim);
    g_test_add_func("/races/TP5/finalize-waits-for-a-cancel-listing-its-completion",
                    test_pool_finalize_waits_for_cancel);
    return g_test_run();
}
