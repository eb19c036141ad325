/* test-thread-pool.c: a context's thread pool (SPEC section 6, TP1-TP5).
 *
 * Most tests run the context in the test's main thread with aio_poll(), so
 * that when completions are delivered is up to the test. Functions that must
 * stay running wait on a gate the test opens; thread coordination uses C11
 * atomics and spinning with sched_yield() only (ThreadSanitizer cannot see
 * GLib 2.74's futex-based GMutex/GCond). No assertion depends on timing: a
 * lost wakeup shows as a hang that the watchdog of gaio_test_init() fails.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-iothread.h"

#include <errno.h>

#define MAX_REQS 100

/* ------------------------------------------------------------------------ */
/* Requests with a record of what happened to them                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    atomic_uint running;     /* funcs inside their body now */
    atomic_uint max_running; /* the most seen at once */
    atomic_uint entered;     /* funcs started, in all */
    atomic_int entry_order[MAX_REQS];
    atomic_uint done_count;
    atomic_int done_order[MAX_REQS];
    atomic_bool in_submit; /* set around submit by the submitting thread */
    atomic_uint pass;      /* set by the test around aio_poll() calls */
} Pool;

typedef struct {
    Pool *pool;
    int id;
    int result;      /* what func returns */
    bool gated;      /* func waits for gate */
    unsigned spins;  /* func yields this many times */
    atomic_bool gate;
    atomic_bool entered;
    atomic_bool finished;
    pthread_t func_thread;
    AioContext *func_current;
    AioThreadPoolRequest *handle;
    bool cancel_in_done;
    /* Written by done. */
    atomic_uint done_calls;
    int ret;
    pthread_t done_thread;
    AioContext *done_current;
    bool done_in_submit;
    unsigned done_pass;
} Req;

static Pool pool;

static void
pool_reset(void)
{
    memset(&pool, 0, sizeof pool);
    for (int i = 0; i < MAX_REQS; i++) {
        atomic_init(&pool.entry_order[i], -1);
        atomic_init(&pool.done_order[i], -1);
    }
}

static void
req_init(Req *r, int id, int result)
{
    memset(r, 0, sizeof *r);
    r->pool = &pool;
    r->id = id;
    r->result = result;
}

static void
note_running(Pool *p)
{
    unsigned now = atomic_fetch_add(&p->running, 1) + 1;
    unsigned max = atomic_load(&p->max_running);

    while (now > max && !atomic_compare_exchange_weak(&p->max_running, &max, now)) {
    }
}

static int
req_func(void *arg)
{
    Req *r = arg;
    Pool *p = r->pool;
    unsigned k;

    note_running(p);
    r->func_thread = pthread_self();
    r->func_current = aio_context_get_current();
    k = atomic_fetch_add(&p->entered, 1);
    if (k < MAX_REQS)
        atomic_store(&p->entry_order[k], r->id);
    atomic_store(&r->entered, true);
    if (r->gated) {
        while (!atomic_load(&r->gate))
            sched_yield();
    }
    for (unsigned i = 0; i < r->spins; i++)
        sched_yield();
    atomic_fetch_sub(&p->running, 1);
    atomic_store(&r->finished, true);
    return r->result;
}

static void
req_done(void *opaque, int ret)
{
    Req *r = opaque;
    Pool *p = r->pool;
    unsigned k;

    r->ret = ret;
    r->done_thread = pthread_self();
    r->done_current = aio_context_get_current();
    r->done_in_submit = atomic_load(&p->in_submit);
    r->done_pass = atomic_load(&p->pass);
    if (r->cancel_in_done) {
        /* TP1: the handle is valid until done returns; TP2: cancelling a
         * finished request changes nothing. */
        aio_thread_pool_cancel(r->handle);
    }
    k = atomic_fetch_add(&p->done_count, 1);
    if (k < MAX_REQS)
        atomic_store(&p->done_order[k], r->id);
    /* Publishes the fields above to a test thread waiting on done_calls. */
    atomic_fetch_add(&r->done_calls, 1);
}

static void
submit_full(AioContext *ctx, Req *r, GCancellable *cancellable, bool with_done)
{
    atomic_store(&pool.in_submit, true);
    if (cancellable != NULL)
        r->handle = aio_thread_pool_submit_cancellable(
            ctx, req_func, r, cancellable, with_done ? req_done : NULL, r);
    else
        r->handle =
            aio_thread_pool_submit(ctx, req_func, r, with_done ? req_done : NULL, r);
    atomic_store(&pool.in_submit, false);
    g_assert_nonnull(r->handle);
}

static void
submit(AioContext *ctx, Req *r)
{
    submit_full(ctx, r, NULL, true);
}

/* Runs @ctx in this thread until @r's done has run. */
static void
poll_until_done(AioContext *ctx, Req *r)
{
    while (atomic_load(&r->done_calls) == 0)
        aio_poll(ctx, true);
}

/* One aio_poll(ctx, false), counted as pass @n. */
static bool
poll_pass(AioContext *ctx, unsigned n)
{
    bool progress;

    atomic_store(&pool.pass, n);
    progress = aio_poll(ctx, false);
    atomic_store(&pool.pass, 0);
    return progress;
}

static void
drain_and_unref(AioContext *ctx)
{
    while (aio_poll(ctx, false)) {
    }
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* TP1                                                                      */
/* ------------------------------------------------------------------------ */

static void
test_func_on_worker_done_in_context(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r;

    g_test_summary("TP1: func runs on a worker thread (not the context's, no "
                   "current context there); done runs later in the context's "
                   "thread, inside its pass, never inside submit, exactly once, "
                   "with func's result.");
    pool_reset();
    req_init(&r, 0, 42);
    submit(ctx, &r);
    g_assert_cmpuint(atomic_load(&r.done_calls), ==, 0);
    gaio_test_wait_flag(&r.finished);
    poll_until_done(ctx, &r);
    g_assert_false(pthread_equal(r.func_thread, pthread_self()));
    g_assert_null(r.func_current);
    g_assert_true(pthread_equal(r.done_thread, pthread_self()));
    g_assert_true(r.done_current == ctx);
    g_assert_false(r.done_in_submit);
    g_assert_cmpint(r.ret, ==, 42);
    for (int i = 0; i < 3; i++)
        aio_poll(ctx, false);
    g_assert_cmpuint(atomic_load(&r.done_calls), ==, 1);
    drain_and_unref(ctx);
}

static void
test_done_null(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r[3];

    g_test_summary("TP1: done may be NULL: func runs on a worker, nothing is called "
                   "back, and nothing leaks (completion delivered or dropped at "
                   "finalize).");
    pool_reset();
    for (int i = 0; i < 3; i++) {
        req_init(&r[i], i, i);
        submit_full(ctx, &r[i], NULL, false);
    }
    for (int i = 0; i < 3; i++)
        gaio_test_wait_flag(&r[i].finished);
    /* One pass delivers what has been queued; the rest is dropped at
     * finalize. Either way nothing is called back. */
    aio_poll(ctx, false);
    for (int i = 0; i < 3; i++)
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 0);
    aio_context_unref(ctx);
}

typedef struct {
    AioContext *ctx;
    Req *r;
} SubmitJob;

static void
submit_job_cb(void *opaque)
{
    SubmitJob *j = opaque;

    submit(j->ctx, j->r);
    /* The func finishes while this BH still runs: the completion must wait
     * for a pass, not run inside submit or inside this BH. */
    gaio_test_wait_flag(&j->r->finished);
    g_assert_cmpuint(atomic_load(&j->r->done_calls), ==, 0);
}

static void
test_submit_inside_dispatch(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r;
    SubmitJob j = {ctx, &r};

    g_test_summary("TP1: submitted from inside a BH of the context (while it "
                   "dispatches) and finished before that BH returns, done still "
                   "runs later, in a pass, never inside submit.");
    pool_reset();
    req_init(&r, 0, 3);
    aio_bh_schedule_oneshot(ctx, submit_job_cb, &j);
    poll_until_done(ctx, &r);
    g_assert_false(r.done_in_submit);
    g_assert_cmpint(r.ret, ==, 3);
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&r.done_calls), ==, 1);
}

static void
test_done_in_iothread(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-pool");
    AioContext *ctx = aio_iothread_get_aio_context(t);
    pthread_t io_self = gaio_test_iothread_pthread(t);
    Req r[4];

    g_test_summary("TP1: requests submitted from another thread to an I/O thread's "
                   "context: func on a worker (neither thread), done in the I/O "
                   "thread with that context current, once each, with func's "
                   "result.");
    pool_reset();
    for (int i = 0; i < 4; i++) {
        req_init(&r[i], i, -i);
        submit(ctx, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        while (atomic_load(&r[i].done_calls) == 0)
            sched_yield();
    }
    aio_iothread_join(t);
    for (int i = 0; i < 4; i++) {
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 1);
        g_assert_cmpint(r[i].ret, ==, -i);
        g_assert_false(pthread_equal(r[i].func_thread, pthread_self()));
        g_assert_false(pthread_equal(r[i].func_thread, io_self));
        g_assert_true(pthread_equal(r[i].done_thread, io_self));
        g_assert_true(r[i].done_current == ctx);
    }
}

static void
test_cancel_inside_done(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r;

    g_test_summary("TP1/TP2: the handle stays valid until done returns: cancelling "
                   "it from inside done changes nothing and done runs once.");
    pool_reset();
    req_init(&r, 0, 9);
    r.cancel_in_done = true;
    submit(ctx, &r);
    poll_until_done(ctx, &r);
    g_assert_cmpint(r.ret, ==, 9);
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&r.done_calls), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* TP4                                                                      */
/* ------------------------------------------------------------------------ */

static void
test_100_requests_2_workers_start_order(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req *r = g_new0(Req, MAX_REQS);
    int first, second;

    g_test_summary("TP4: 100 requests with max_workers = 2: never more than two "
                   "funcs at once, and queued requests start in submit order (each "
                   "func holds until the test releases it; one slot frees at a "
                   "time, so exactly the oldest queued request may start).");
    pool_reset();
    aio_thread_pool_set_max_workers(ctx, 2);
    for (int i = 0; i < MAX_REQS; i++) {
        req_init(&r[i], i, i);
        r[i].gated = true;
        submit(ctx, &r[i]);
    }
    gaio_test_wait_for_at_least(&pool.entered, 2);
    while (atomic_load(&pool.entry_order[1]) < 0)
        sched_yield();
    first = atomic_load(&pool.entry_order[0]);
    second = atomic_load(&pool.entry_order[1]);
    g_assert_cmpint(MIN(first, second), ==, 0);
    g_assert_cmpint(MAX(first, second), ==, 1);
    for (int k = 2; k < MAX_REQS; k++) {
        atomic_store(&r[k - 2].gate, true);
        gaio_test_wait_for_at_least(&pool.entered, (unsigned)k + 1);
        while (atomic_load(&pool.entry_order[k]) < 0)
            sched_yield();
        g_assert_cmpint(atomic_load(&pool.entry_order[k]), ==, k);
    }
    atomic_store(&r[MAX_REQS - 2].gate, true);
    atomic_store(&r[MAX_REQS - 1].gate, true);
    while (atomic_load(&pool.done_count) < MAX_REQS)
        aio_poll(ctx, true);
    g_assert_cmpuint(atomic_load(&pool.max_running), ==, 2);
    g_assert_cmpuint(atomic_load(&pool.entered), ==, MAX_REQS);
    for (int i = 0; i < MAX_REQS; i++) {
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 1);
        g_assert_cmpint(r[i].ret, ==, i);
    }
    drain_and_unref(ctx);
    g_free(r);
}

static void
test_100_requests_2_workers_free_running(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req *r = g_new0(Req, MAX_REQS);

    g_test_summary("TP4: 100 short requests with max_workers = 2, free-running: "
                   "never more than two funcs at once; every done runs once with "
                   "its func's result.");
    pool_reset();
    aio_thread_pool_set_max_workers(ctx, 2);
    for (int i = 0; i < MAX_REQS; i++) {
        req_init(&r[i], i, i + 1000);
        r[i].spins = 20;
        submit(ctx, &r[i]);
    }
    while (atomic_load(&pool.done_count) < MAX_REQS)
        aio_poll(ctx, true);
    g_assert_cmpuint(atomic_load(&pool.max_running), <=, 2);
    g_assert_cmpuint(atomic_load(&pool.max_running), >=, 1);
    for (int i = 0; i < MAX_REQS; i++) {
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 1);
        g_assert_cmpint(r[i].ret, ==, i + 1000);
    }
    drain_and_unref(ctx);
    g_free(r);
}

typedef struct {
    AioContext *ctx;
    Req *reqs;
    int n;
} Submitter;

static gpointer
submitter_thread(gpointer data)
{
    Submitter *s = data;

    for (int i = 0; i < s->n; i++)
        s->reqs[i].handle =
            aio_thread_pool_submit(s->ctx, req_func, &s->reqs[i], req_done, &s->reqs[i]);
    return NULL;
}

static void
test_submit_from_several_threads(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-pool");
    AioContext *ctx = aio_iothread_get_aio_context(t);
    pthread_t io_self = gaio_test_iothread_pthread(t);
    Req *r = g_new0(Req, MAX_REQS);
    Submitter s[4];
    GThread *threads[4];

    g_test_summary("TP4: submit is thread-safe: four threads submit 25 requests "
                   "each to an I/O thread's context (max_workers = 3); every done "
                   "runs once, in the I/O thread, never more than three at once.");
    pool_reset();
    aio_thread_pool_set_max_workers(ctx, 3);
    for (int i = 0; i < MAX_REQS; i++) {
        req_init(&r[i], i, i);
        r[i].spins = 5;
    }
    for (int j = 0; j < 4; j++) {
        s[j] = (Submitter){ctx, r + 25 * j, 25};
        threads[j] = g_thread_new("submitter", submitter_thread, &s[j]);
    }
    for (int j = 0; j < 4; j++)
        g_thread_join(threads[j]);
    while (atomic_load(&pool.done_count) < MAX_REQS)
        sched_yield();
    aio_iothread_join(t);
    g_assert_cmpuint(atomic_load(&pool.done_count), ==, MAX_REQS);
    g_assert_cmpuint(atomic_load(&pool.max_running), <=, 3);
    for (int i = 0; i < MAX_REQS; i++) {
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 1);
        g_assert_cmpint(r[i].ret, ==, i);
        g_assert_true(pthread_equal(r[i].done_thread, io_self));
    }
    g_free(r);
}

static void
test_max_workers_zero_is_critical(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r;

    g_test_summary("TP4: max_workers <= 0 is a programming error: a critical, and "
                   "the pool keeps working.");
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*aio_thread_pool_set_max_workers*");
    aio_thread_pool_set_max_workers(ctx, 0);
    g_test_assert_expected_messages();
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*aio_thread_pool_set_max_workers*");
    aio_thread_pool_set_max_workers(ctx, -1);
    g_test_assert_expected_messages();
    pool_reset();
    req_init(&r, 0, 1);
    submit(ctx, &r);
    poll_until_done(ctx, &r);
    g_assert_cmpint(r.ret, ==, 1);
    drain_and_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* TP2                                                                      */
/* ------------------------------------------------------------------------ */

typedef enum {
    CANCEL_WITH_CALL,
    CANCEL_WITH_CALL_FROM_THREAD,
    CANCEL_WITH_CANCELLABLE,
    CANCEL_WITH_CANCELLABLE_FROM_THREAD,
} CancelHow;

typedef struct {
    CancelHow how;
    Req *r;
    GCancellable *cancellable;
} Canceller;

static void
do_cancel(Canceller *c)
{
    switch (c->how) {
    case CANCEL_WITH_CALL:
    case CANCEL_WITH_CALL_FROM_THREAD:
        aio_thread_pool_cancel(c->r->handle);
        break;
    case CANCEL_WITH_CANCELLABLE:
    case CANCEL_WITH_CANCELLABLE_FROM_THREAD:
        g_cancellable_cancel(c->cancellable);
        break;
    default:
        g_assert_not_reached();
    }
}

static gpointer
canceller_thread(gpointer data)
{
    do_cancel(data);
    return NULL;
}

/* Cancels c->r from this thread or another one, as c->how says; returns once
 * the cancel returned. */
static void
cancel_now(Canceller *c)
{
    if (c->how == CANCEL_WITH_CALL_FROM_THREAD ||
        c->how == CANCEL_WITH_CANCELLABLE_FROM_THREAD)
        g_thread_join(g_thread_new("canceller", canceller_thread, c));
    else
        do_cancel(c);
}

static bool
uses_cancellable(CancelHow how)
{
    return how == CANCEL_WITH_CANCELLABLE || how == CANCEL_WITH_CANCELLABLE_FROM_THREAD;
}

static void
test_cancel_before_start(gconstpointer data)
{
    CancelHow how = GPOINTER_TO_INT(data);
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Req a, b, c;
    Canceller canceller = {how, &b, cancellable};

    g_test_summary("TP2: with max_workers = 1 and the first request holding the "
                   "worker, the queued second one is cancelled: its func never "
                   "runs, and done gets -ECANCELED at the context's next pass while "
                   "the first still runs; the first and a third, later request "
                   "complete normally.");
    pool_reset();
    aio_thread_pool_set_max_workers(ctx, 1);
    req_init(&a, 0, 1);
    a.gated = true;
    req_init(&b, 1, 2);
    req_init(&c, 2, 3);
    submit(ctx, &a);
    gaio_test_wait_flag(&a.entered);
    submit_full(ctx, &b, uses_cancellable(how) ? cancellable : NULL, true);
    cancel_now(&canceller);
    g_assert_cmpuint(atomic_load(&b.done_calls), ==, 0);
    g_assert_true(poll_pass(ctx, 1));
    g_assert_cmpuint(atomic_load(&b.done_calls), ==, 1);
    g_assert_cmpint(b.ret, ==, -ECANCELED);
    g_assert_cmpuint(b.done_pass, ==, 1);
    g_assert_false(b.done_in_submit);
    g_assert_true(pthread_equal(b.done_thread, pthread_self()));
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 0);
    g_assert_false(atomic_load(&a.finished));
    /* c starts only after b would have (submit order). */
    submit(ctx, &c);
    atomic_store(&a.gate, true);
    poll_until_done(ctx, &a);
    poll_until_done(ctx, &c);
    g_assert_cmpint(a.ret, ==, 1);
    g_assert_cmpint(c.ret, ==, 3);
    g_assert_false(atomic_load(&b.entered));
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&b.done_calls), ==, 1);
    g_assert_cmpuint(atomic_load(&pool.entered), ==, 2);
}

static void
test_cancel_while_running(gconstpointer data)
{
    CancelHow how = GPOINTER_TO_INT(data);
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Req a;
    Canceller canceller = {how, &a, cancellable};

    g_test_summary("TP2: cancelling a request whose func already started changes "
                   "nothing: done gets func's result, once.");
    pool_reset();
    req_init(&a, 0, 7);
    a.gated = true;
    submit_full(ctx, &a, uses_cancellable(how) ? cancellable : NULL, true);
    gaio_test_wait_flag(&a.entered);
    cancel_now(&canceller);
    atomic_store(&a.gate, true);
    poll_until_done(ctx, &a);
    g_assert_cmpint(a.ret, ==, 7);
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 1);
}

static void
test_cancel_after_finish(gconstpointer data)
{
    CancelHow how = GPOINTER_TO_INT(data);
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Req a;
    Canceller canceller = {how, &a, cancellable};

    g_test_summary("TP2: cancelling a request whose func finished but whose done "
                   "has not run yet changes nothing: done gets func's result.");
    pool_reset();
    req_init(&a, 0, 11);
    submit_full(ctx, &a, uses_cancellable(how) ? cancellable : NULL, true);
    gaio_test_wait_flag(&a.finished);
    cancel_now(&canceller);
    poll_until_done(ctx, &a);
    g_assert_cmpint(a.ret, ==, 11);
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 1);
}

static void
test_cancellable_cancelled_at_submit(void)
{
    AioContext *ctx = gaio_test_context_new();
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Req a, b;

    g_test_summary("TP2: a GCancellable already cancelled at submit: func never "
                   "runs, done is not called inside submit and gets -ECANCELED at "
                   "the context's next pass.");
    pool_reset();
    g_cancellable_cancel(cancellable);
    req_init(&a, 0, 1);
    req_init(&b, 1, 2);
    submit_full(ctx, &a, cancellable, true);
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 0);
    g_assert_true(poll_pass(ctx, 1));
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 1);
    g_assert_cmpint(a.ret, ==, -ECANCELED);
    g_assert_false(a.done_in_submit);
    /* A later request runs; a's func never does. */
    aio_thread_pool_set_max_workers(ctx, 1);
    submit(ctx, &b);
    poll_until_done(ctx, &b);
    g_assert_cmpint(b.ret, ==, 2);
    g_assert_false(atomic_load(&a.entered));
    drain_and_unref(ctx);
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* TP3                                                                      */
/* ------------------------------------------------------------------------ */

static void
test_completions_batched(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req r[6];
    enum { N = 5 };

    g_test_summary("TP3: with max_workers = 1, five requests finish one by one "
                   "while the context does not run (a sixth then holds the worker, "
                   "so the five are done); one aio_poll(ctx, false) delivers all "
                   "five, in completion order.");
    pool_reset();
    aio_thread_pool_set_max_workers(ctx, 1);
    /* r[N] is submitted last, with max_workers = 1: once it runs, the five
     * before it have finished and their completions are queued. */
    for (int i = 0; i <= N; i++) {
        req_init(&r[i], i, 100 + i);
        r[i].gated = i == N;
        submit(ctx, &r[i]);
    }
    gaio_test_wait_flag(&r[N].entered);
    g_assert_true(poll_pass(ctx, 1));
    g_assert_cmpuint(atomic_load(&pool.done_count), ==, N);
    for (int i = 0; i < N; i++) {
        g_assert_cmpint(atomic_load(&pool.done_order[i]), ==, i);
        g_assert_cmpuint(r[i].done_pass, ==, 1);
        g_assert_cmpint(r[i].ret, ==, 100 + i);
    }
    atomic_store(&r[N].gate, true);
    poll_until_done(ctx, &r[N]);
    g_assert_cmpint(r[N].ret, ==, 100 + N);
    drain_and_unref(ctx);
    for (int i = 0; i <= N; i++)
        g_assert_cmpuint(atomic_load(&r[i].done_calls), ==, 1);
}

/* ------------------------------------------------------------------------ */
/* TP5                                                                      */
/* ------------------------------------------------------------------------ */

static gpointer
open_gate_later_thread(gpointer data)
{
    g_usleep(20 * 1000);
    atomic_store((atomic_bool *)data, true);
    return NULL;
}

static void
test_finalize_waits_for_running_func(void)
{
    AioContext *ctx = gaio_test_context_new();
    Req a, b;
    GThread *opener;

    g_test_summary("TP5: finalizing a context waits for its running func (it has "
                   "finished when aio_context_unref() returns); completions not "
                   "delivered are dropped: done never runs.");
    pool_reset();
    req_init(&a, 0, 1);
    a.gated = true;
    req_init(&b, 1, 2);
    submit(ctx, &b);
    gaio_test_wait_flag(&b.finished);
    submit(ctx, &a);
    gaio_test_wait_flag(&a.entered);
    opener = g_thread_new("opener", open_gate_later_thread, &a.gate);
    aio_context_unref(ctx);
    g_assert_true(atomic_load(&a.finished));
    g_assert_cmpuint(atomic_load(&a.done_calls), ==, 0);
    g_assert_cmpuint(atomic_load(&b.done_calls), ==, 0);
    g_thread_join(opener);
}

static gpointer
unref_thread(gpointer data)
{
    aio_context_unref(data);
    return NULL;
}

static void
test_finalized_in_another_thread(void)
{
    AioContext *ctx = gaio_test_context_new();
    GaioTestOwner owner;
    GThread *thread;
    Req r[3], late;

    g_test_summary("TP5: a context whose pool ran requests in one thread (done "
                   "delivered there) is finalized in another thread, with one "
                   "completion still undelivered: it is dropped, nothing leaks.");
    pool_reset();
    thread = gaio_test_owner_start(&owner, ctx, NULL);
    for (int i = 0; i < 3; i++) {
        req_init(&r[i], i, i);
        submit(ctx, &r[i]);
    }
    for (int i = 0; i < 3; i++) {
        while (atomic_load(&r[i].done_calls) == 0)
            sched_yield();
    }
    gaio_test_owner_stop(&owner, thread);
    for (int i = 0; i < 3; i++)
        g_assert_true(pthread_equal(r[i].done_thread, owner.thread_id));
    req_init(&late, 3, 3);
    submit(ctx, &late);
    gaio_test_wait_flag(&late.finished);
    g_thread_join(g_thread_new("unref", unref_thread, ctx));
    g_assert_cmpuint(atomic_load(&late.done_calls), ==, 0);
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        CancelHow how;
    } hows[] = {
        {"aio_thread_pool_cancel", CANCEL_WITH_CALL},
        {"aio_thread_pool_cancel-from-another-thread", CANCEL_WITH_CALL_FROM_THREAD},
        {"cancellable", CANCEL_WITH_CANCELLABLE},
        {"cancellable-from-another-thread", CANCEL_WITH_CANCELLABLE_FROM_THREAD},
    };

    gaio_test_init(&argc, &argv);

    g_test_add_func("/pool/TP1/func-on-worker-done-in-context-thread-not-in-submit",
                    test_func_on_worker_done_in_context);
    g_test_add_func("/pool/TP1/done-may-be-null", test_done_null);
    g_test_add_func("/pool/TP1/done-in-iothread-submitted-from-another-thread",
                    test_done_in_iothread);
    g_test_add_func("/pool/TP1/submit-inside-dispatch-done-in-a-later-pass",
                    test_submit_inside_dispatch);
    g_test_add_func("/pool/TP1/cancel-inside-done-changes-nothing",
                    test_cancel_inside_done);
    g_test_add_func("/pool/TP4/100-requests-2-workers-start-in-submit-order",
                    test_100_requests_2_workers_start_order);
    g_test_add_func("/pool/TP4/100-requests-2-workers-never-more-than-2",
                    test_100_requests_2_workers_free_running);
    g_test_add_func("/pool/TP4/submit-from-several-threads",
                    test_submit_from_several_threads);
    g_test_add_func("/pool/TP4/max-workers-zero-is-a-critical",
                    test_max_workers_zero_is_critical);
    for (size_t i = 0; i < G_N_ELEMENTS(hows); i++) {
        g_autofree char *before =
            g_strdup_printf("/pool/TP2/cancel-before-start/%s", hows[i].name);
        g_autofree char *running =
            g_strdup_printf("/pool/TP2/cancel-while-running/%s", hows[i].name);
        g_autofree char *after =
            g_strdup_printf("/pool/TP2/cancel-after-func-finished/%s", hows[i].name);

        g_test_add_data_func(before, GINT_TO_POINTER(hows[i].how), test_cancel_before_start);
        g_test_add_data_func(running, GINT_TO_POINTER(hows[i].how),
                             test_cancel_while_running);
        g_test_add_data_func(after, GINT_TO_POINTER(hows[i].how), test_cancel_after_finish);
    }
    g_test_add_func("/pool/TP2/cancellable-already-cancelled-at-submit",
                    test_cancellable_cancelled_at_submit);
    g_test_add_func("/pool/TP3/completions-batched-in-one-pass-in-order",
                    test_completions_batched);
    g_test_add_func("/pool/TP5/finalize-waits-for-running-func-drops-completions",
                    test_finalize_waits_for_running_func);
    g_test_add_func("/pool/TP5/finalized-in-another-thread-than-the-one-that-ran-it",
                    test_finalized_in_another_thread);
    return g_test_run();
}
