/* test-wait.c: cross-context calls and waiting (SPEC section 6: I2, I3,
 * aio_wait_bh_oneshot(), AIO_WAIT_WHILE() and aio_wait_kick()).
 *
 * Thread coordination uses C11 atomics and spinning with sched_yield() only
 * (ThreadSanitizer cannot see GLib 2.74's futex-based GMutex/GCond). A
 * deadlock shows as a hang: the I3 tests fail with g_error() after a
 * generous patience, anything else is ended by the watchdog of
 * gaio_test_init().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-iothread.h"

/* How long a round of the I3 tests may take before it counts as a deadlock. */
#define DEADLOCK_PATIENCE (20 * G_TIME_SPAN_SECOND)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Runs of BHs scheduled just before an inline call. Global: such a BH runs
 * after the call's frame is gone (at the next pass). */
static atomic_uint other_runs;

/* A call made through aio_wait_bh_oneshot(), and what its callback saw. */
typedef struct {
    atomic_bool in_call;  /* set by the caller around the call */
    atomic_bool ran;      /* set by the callback */
    atomic_bool ran_in_call;
    pthread_t self;       /* the callback's thread */
    AioContext *current;  /* aio_context_get_current() in the callback */
    unsigned other_base;  /* other_runs before the call */
    unsigned other_at_cb; /* other_runs - other_base when the callback ran */
    unsigned sleep_us;    /* the callback sleeps this long first */
} Call;

static void
call_cb(void *opaque)
{
    Call *c = opaque;

    if (c->sleep_us)
        g_usleep(c->sleep_us);
    c->self = pthread_self();
    c->current = aio_context_get_current();
    c->other_at_cb = atomic_load(&other_runs) - c->other_base;
    atomic_store(&c->ran_in_call, atomic_load(&c->in_call));
    atomic_store(&c->ran, true);
}

/* Calls aio_wait_bh_oneshot(@ctx) after scheduling another BH in @ctx, and
 * checks that the call ran inline (I2): the callback has run when it
 * returns, in this thread, during the call, before the BH already pending. */
static void
call_and_assert_inline(AioContext *ctx)
{
    Call c = {.other_base = atomic_load(&other_runs)};

    aio_bh_schedule_oneshot(ctx, gaio_test_count_cb, &other_runs);
    atomic_store(&c.in_call, true);
    aio_wait_bh_oneshot(ctx, call_cb, &c);
    atomic_store(&c.in_call, false);
    g_assert_true(atomic_load(&c.ran));
    g_assert_true(atomic_load(&c.ran_in_call));
    g_assert_true(pthread_equal(c.self, pthread_self()));
    /* aio_context_get_current() in the callback is not checked: I1 makes it
     * ctx inside aio_poll()/dispatch and in an I/O thread, but says nothing of
     * an inline call by the GMainContext's owner outside dispatch. */
    /* Inline, not a pass of ctx: the BH scheduled first has not run yet. */
    g_assert_cmpuint(c.other_at_cb, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* I2: inline in the context's own thread                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx;
    atomic_bool done;
} InlineJob;

static void
inline_job_cb(void *opaque)
{
    InlineJob *j = opaque;

    call_and_assert_inline(j->ctx);
    atomic_store(&j->done, true);
}

static void
test_inline_in_iothread(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-wait");
    InlineJob j = {aio_iothread_get_aio_context(t), false};

    g_test_summary("I2: aio_wait_bh_oneshot() called in a BH of an I/O thread on "
                   "that thread's context runs the callback inline: done when it "
                   "returns, in the same thread, before a BH already pending.");
    /* Assertions in another thread abort the program (non-fatal mode is off):
     * the failure still shows. */
    aio_bh_schedule_oneshot(j.ctx, inline_job_cb, &j);
    gaio_test_wait_flag(&j.done);
    aio_iothread_join(t);
}

static gboolean
inline_idle(gpointer data)
{
    inline_job_cb(data);
    return G_SOURCE_REMOVE;
}

static void
test_inline_in_iothread_outside_dispatch(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-wait");
    InlineJob j = {aio_iothread_get_aio_context(t), false};
    GSource *idle = g_idle_source_new();

    g_test_summary("I2: in an I/O thread outside any dispatch of its context (a "
                   "GLib idle source on the thread's GMainContext), "
                   "aio_wait_bh_oneshot() on that context runs the callback inline.");
    g_source_set_callback(idle, inline_idle, &j, NULL);
    g_source_attach(idle, aio_iothread_get_g_main_context(t));
    gaio_test_wait_flag(&j.done);
    g_source_unref(idle);
    aio_iothread_join(t);
}

static void
test_inline_inside_aio_poll(void)
{
    AioContext *ctx = gaio_test_context_new();
    InlineJob j = {ctx, false};

    g_test_summary("I2: in a BH run by aio_poll() in the calling thread, "
                   "aio_wait_bh_oneshot() on that context runs the callback inline.");
    aio_bh_schedule_oneshot(ctx, inline_job_cb, &j);
    while (!atomic_load(&j.done))
        aio_poll(ctx, true);
    while (aio_poll(ctx, false)) {
    }
    aio_context_unref(ctx);
}

static void
test_inline_inside_gsource_dispatch(void)
{
    AioContext *ctx = gaio_test_context_new();
    GMainContext *mc = g_main_context_new();
    GSource *source = aio_get_g_source(ctx);
    InlineJob j = {ctx, false};

    g_test_summary("I2: in a BH dispatched by the context's GSource, "
                   "aio_wait_bh_oneshot() on that context runs the callback inline.");
    g_source_attach(source, mc);
    aio_bh_schedule_oneshot(ctx, inline_job_cb, &j);
    while (!atomic_load(&j.done))
        g_main_context_iteration(mc, TRUE);
    while (g_main_context_iteration(mc, FALSE)) {
    }
    g_source_destroy(source);
    g_source_unref(source);
    g_main_context_unref(mc);
    aio_context_unref(ctx);
}

static void
test_inline_for_owner_of_g_main_context(void)
{
    AioContext *ctx = gaio_test_context_new();
    GMainContext *mc = g_main_context_new();
    GSource *source = aio_get_g_source(ctx);

    g_test_summary("I2: the thread that owns (has acquired) the GMainContext the "
                   "context is attached to is the context's own thread: "
                   "aio_wait_bh_oneshot() there runs the callback inline, outside "
                   "any dispatch.");
    g_source_attach(source, mc);
    g_assert_true(g_main_context_acquire(mc));
    call_and_assert_inline(ctx);
    g_main_context_release(mc);
    while (g_main_context_iteration(mc, FALSE)) {
    }
    g_source_destroy(source);
    g_source_unref(source);
    g_main_context_unref(mc);
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* From a thread that runs no context: blocks until done                    */
/* ------------------------------------------------------------------------ */

static void
call_from_plain_thread(AioContext *ctx, pthread_t ctx_thread)
{
    Call c = {.sleep_us = 10 * 1000};

    g_assert_null(aio_context_get_current());
    atomic_store(&c.in_call, true);
    aio_wait_bh_oneshot(ctx, call_cb, &c);
    atomic_store(&c.in_call, false);
    g_assert_true(atomic_load(&c.ran));
    g_assert_true(atomic_load(&c.ran_in_call));
    g_assert_true(pthread_equal(c.self, ctx_thread));
    g_assert_true(c.current == ctx);
}

typedef struct {
    AioContext *ctx;
    pthread_t ctx_thread;
} PlainCall;

static gpointer
plain_call_thread(gpointer data)
{
    PlainCall *p = data;

    call_from_plain_thread(p->ctx, p->ctx_thread);
    return NULL;
}

static void
test_plain_thread_blocks_until_done(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-wait");
    PlainCall p = {aio_iothread_get_aio_context(t), gaio_test_iothread_pthread(t)};

    g_test_summary("Section 6: aio_wait_bh_oneshot() from a thread that runs no "
                   "context (the test's main thread, then a plain GThread) runs "
                   "the callback in the I/O thread and returns only after it "
                   "finished (the callback sleeps first).");
    call_from_plain_thread(p.ctx, p.ctx_thread);
    g_thread_join(g_thread_new("plain", plain_call_thread, &p));
    aio_iothread_join(t);
}

/* ------------------------------------------------------------------------ */
/* I3: two threads calling into each other's contexts at once               */
/* ------------------------------------------------------------------------ */

typedef struct Peer Peer;

typedef struct {
    atomic_uint arrived;
    atomic_uint finished;
    atomic_uint wrong;
} Meeting;

struct Peer {
    AioContext *ctx;
    Peer *other;
    Meeting *m;
    unsigned round;
};

static void
mutual_target_cb(void *opaque)
{
    Peer *p = opaque; /* the peer whose context runs this */

    if (aio_context_get_current() != p->ctx)
        atomic_fetch_add(&p->m->wrong, 1);
}

static void
mutual_caller_cb(void *opaque)
{
    Peer *p = opaque;

    /* Both callers are in their BHs before either calls: the calls overlap. */
    atomic_fetch_add(&p->m->arrived, 1);
    while (atomic_load(&p->m->arrived) < 2 * p->round)
        sched_yield();
    aio_wait_bh_oneshot(p->other->ctx, mutual_target_cb, p->other);
    atomic_fetch_add(&p->m->finished, 1);
}

static void
run_mutual_rounds(AioContext *a, AioContext *b)
{
    Meeting m = {0};
    Peer pa = {a, NULL, &m, 0}, pb = {b, &pa, &m, 0};
    unsigned rounds = gaio_test_scale(1000);

    pa.other = &pb;
    for (unsigned r = 1; r <= rounds; r++) {
        pa.round = pb.round = r;
        aio_bh_schedule_oneshot(a, mutual_caller_cb, &pa);
        aio_bh_schedule_oneshot(b, mutual_caller_cb, &pb);
        if (!gaio_test_wait_within(&m.finished, 2 * r, DEADLOCK_PATIENCE))
            g_error("I3: round %u of two threads calling aio_wait_bh_oneshot() into "
                    "each other did not finish: deadlock (finished %u of %u)",
                    r, atomic_load(&m.finished), 2 * r);
    }
    g_assert_cmpuint(atomic_load(&m.wrong), ==, 0);
}

static void
test_mutual_iothreads(void)
{
    AioIOThread *a = gaio_test_iothread_new("test-wait-a");
    AioIOThread *b = gaio_test_iothread_new("test-wait-b");

    g_test_summary("I3: two I/O threads call aio_wait_bh_oneshot() into each "
                   "other's context at the same moment; each keeps running its own "
                   "context while it waits, so both finish (a thousand rounds, "
                   "with a deadlock watchdog).");
    run_mutual_rounds(aio_iothread_get_aio_context(a), aio_iothread_get_aio_context(b));
    aio_iothread_join(a);
    aio_iothread_join(b);
}

static void
test_mutual_aio_poll_threads(void)
{
    AioContext *a = gaio_test_context_new();
    AioContext *b = gaio_test_context_new();
    GaioTestOwner oa, ob;
    GThread *ta = gaio_test_owner_start(&oa, a, NULL);
    GThread *tb = gaio_test_owner_start(&ob, b, NULL);

    g_test_summary("I3: the same with two plain threads each inside aio_poll() of "
                   "its own context.");
    run_mutual_rounds(a, b);
    gaio_test_owner_stop(&oa, ta);
    gaio_test_owner_stop(&ob, tb);
    while (aio_poll(a, false)) {
    }
    while (aio_poll(b, false)) {
    }
    aio_context_unref(a);
    aio_context_unref(b);
}

/* ------------------------------------------------------------------------ */
/* AIO_WAIT_WHILE() and aio_wait_kick()                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *wait_ctx; /* the AIO_WAIT_WHILE() argument */
    AioContext *own_ctx;  /* the context the waiter's thread runs, or NULL */
    unsigned rounds;
    atomic_bool busy;
    atomic_uint evals;
    atomic_uint round;        /* armed by the waiter */
    atomic_uint kicked_round; /* done by the worker */
    atomic_uint own_ran;      /* BHs of own_ctx run while the waiter waited */
    atomic_uint not_waited;
    atomic_bool done;
} Kick;

/* The condition: reads busy, then counts the evaluation, so a worker that
 * sees evals >= 1 knows the first evaluation read true. */
static bool
kick_cond(Kick *k)
{
    bool busy = atomic_load(&k->busy);

    atomic_fetch_add(&k->evals, 1);
    return busy;
}

static void
kick_waiter(Kick *k)
{
    for (unsigned r = 1; r <= k->rounds; r++) {
        atomic_store(&k->evals, 0);
        atomic_store(&k->busy, true);
        atomic_store(&k->round, r);
        if (!AIO_WAIT_WHILE(k->wait_ctx, kick_cond(k)))
            atomic_fetch_add(&k->not_waited, 1);
        while (atomic_load(&k->kicked_round) < r)
            sched_yield();
    }
    atomic_store(&k->done, true);
}

static void
kick_waiter_cb(void *opaque)
{
    kick_waiter(opaque);
}

static gpointer
kick_worker_thread(gpointer data)
{
    Kick *k = data;

    g_assert_null(aio_context_get_current());
    for (unsigned r = 1; r <= k->rounds; r++) {
        while (atomic_load(&k->round) < r)
            sched_yield();
        while (atomic_load(&k->evals) < 1)
            sched_yield();
        if (k->own_ctx != NULL) {
            /* I3: the waiter runs its own context while it waits. */
            unsigned before = atomic_load(&k->own_ran);

            aio_bh_schedule_oneshot(k->own_ctx, gaio_test_count_cb, &k->own_ran);
            while (atomic_load(&k->own_ran) == before)
                sched_yield();
        }
        atomic_store(&k->busy, false);
        aio_wait_kick();
        atomic_store(&k->kicked_round, r);
    }
    return NULL;
}

static void
assert_kick_rounds(Kick *k)
{
    g_assert_cmpuint(atomic_load(&k->not_waited), ==, 0);
    g_assert_false(atomic_load(&k->busy));
    if (k->own_ctx != NULL)
        g_assert_cmpuint(atomic_load(&k->own_ran), ==, k->rounds);
}

static void
test_wait_while_plain_thread(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-wait");
    Kick k = {.wait_ctx = aio_iothread_get_aio_context(t), .rounds = gaio_test_scale(1000)};
    GThread *worker;

    g_test_summary("Section 6: AIO_WAIT_WHILE() in a thread that runs no context "
                   "sleeps until a worker thread makes the condition false and "
                   "calls aio_wait_kick(); a kick racing with the start of the wait "
                   "is not lost (a thousand rounds).");
    worker = g_thread_new("kicker", kick_worker_thread, &k);
    kick_waiter(&k);
    g_thread_join(worker);
    assert_kick_rounds(&k);
    /* A false condition: no wait at all. */
    g_assert_false(AIO_WAIT_WHILE(k.wait_ctx, false));
    aio_iothread_join(t);
}

static void
run_wait_while_in_iothread(bool wait_on_own)
{
    AioIOThread *t = gaio_test_iothread_new("test-wait");
    AioIOThread *other = gaio_test_iothread_new("test-wait-other");
    AioContext *own = aio_iothread_get_aio_context(t);
    Kick k = {.wait_ctx = wait_on_own ? own : aio_iothread_get_aio_context(other),
              .own_ctx = own,
              .rounds = gaio_test_scale(500)};
    GThread *worker = g_thread_new("kicker", kick_worker_thread, &k);

    aio_bh_schedule_oneshot(own, kick_waiter_cb, &k);
    gaio_test_wait_flag(&k.done);
    g_thread_join(worker);
    assert_kick_rounds(&k);
    aio_iothread_join(t);
    aio_iothread_join(other);
}

static void
test_wait_while_in_iothread_own_context(void)
{
    g_test_summary("Section 6: AIO_WAIT_WHILE() on its own context in a BH of an I/O "
                   "thread runs that context (BHs scheduled meanwhile run) and is "
                   "woken by aio_wait_kick() from a worker thread.");
    run_wait_while_in_iothread(true);
}

static void
test_wait_while_in_iothread_other_context(void)
{
    g_test_summary("I3: AIO_WAIT_WHILE() on another I/O thread's context in a BH of "
                   "an I/O thread keeps running the waiter's own context (BHs "
                   "scheduled there meanwhile run) and is woken by aio_wait_kick() "
                   "from a worker thread.");
    run_wait_while_in_iothread(false);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/wait/I2/inline-in-iothread-own-bh", test_inline_in_iothread);
    g_test_add_func("/wait/I2/inline-in-iothread-outside-dispatch",
                    test_inline_in_iothread_outside_dispatch);
    g_test_add_func("/wait/I2/inline-inside-aio_poll", test_inline_inside_aio_poll);
    g_test_add_func("/wait/I2/inline-inside-gsource-dispatch",
                    test_inline_inside_gsource_dispatch);
    g_test_add_func("/wait/I2/inline-for-owner-of-g-main-context",
                    test_inline_for_owner_of_g_main_context);
    g_test_add_func("/wait/I2/plain-thread-blocks-until-done",
                    test_plain_thread_blocks_until_done);
    g_test_add_func("/wait/I3/two-iothreads-call-into-each-other-at-once",
                    test_mutual_iothreads);
    g_test_add_func("/wait/I3/two-aio_poll-threads-call-into-each-other-at-once",
                    test_mutual_aio_poll_threads);
    g_test_add_func("/wait/AIO_WAIT_WHILE/kicked-by-worker/plain-thread",
                    test_wait_while_plain_thread);
    g_test_add_func("/wait/AIO_WAIT_WHILE/kicked-by-worker/iothread-waits-on-own-context",
                    test_wait_while_in_iothread_own_context);
    g_test_add_func("/wait/I3/AIO_WAIT_WHILE/kicked-by-worker/iothread-waits-on-other-context",
                    test_wait_while_in_iothread_other_context);
    return g_test_run();
}
