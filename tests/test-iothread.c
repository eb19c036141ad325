/* test-iothread.c: I/O threads (SPEC section 6, I1, and aio_iothread_join()).
 *
 * Thread coordination uses C11 atomics and spinning with sched_yield() only,
 * as in test-threads.c: ThreadSanitizer cannot see GLib 2.74's futex-based
 * GMutex/GCond. A lost wakeup shows as a hang that the watchdog of
 * gaio_test_init() turns into a failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-iothread.h"

#include <errno.h>

#define N_THREADS 5

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* What a callback saw of the thread it ran in. */
typedef struct {
    AioContext *current;
    GMainContext *thread_default;
    pthread_t self;
    atomic_bool done;
} Seen;

static void
record_seen(Seen *seen)
{
    seen->current = aio_context_get_current();
    seen->thread_default = g_main_context_get_thread_default();
    seen->self = pthread_self();
    /* Publishes the fields above to the waiting test thread. */
    atomic_store(&seen->done, true);
}

static void
record_seen_cb(void *opaque)
{
    record_seen(opaque);
}

static gboolean
record_seen_idle(gpointer data)
{
    record_seen(data);
    return G_SOURCE_REMOVE;
}

/* The pthread of @t, read in a BH it runs. */
static pthread_t
iothread_self(AioIOThread *t)
{
    Seen seen = {0};

    aio_bh_schedule_oneshot(aio_iothread_get_aio_context(t), record_seen_cb, &seen);
    gaio_test_wait_flag(&seen.done);
    return seen.self;
}

/* A gate a callback spins on until the test opens it. */
static void
gate_wait(atomic_bool *gate)
{
    while (!atomic_load(gate))
        sched_yield();
}

/* Opens a gate from another thread a little later, so that the test thread
 * is (most likely) inside the call under test by then. The outcome checked
 * does not depend on when this happens. */
static gpointer
open_gate_later_thread(gpointer data)
{
    g_usleep(20 * 1000);
    atomic_store((atomic_bool *)data, true);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

static void
test_five_threads_created_and_joined_100_times(void)
{
    unsigned rounds = gaio_test_scale(100);

    g_test_summary("Section 6: aio_iothread_new() starts a thread running its own "
                   "context on its own GMainContext; aio_iothread_join() stops and "
                   "frees it. Five at a time, a hundred times, nothing leaks; a BH "
                   "scheduled just before the join has run.");
    for (unsigned r = 0; r < rounds; r++) {
        AioIOThread *t[N_THREADS];
        atomic_uint ran = 0;

        for (int i = 0; i < N_THREADS; i++) {
            t[i] = gaio_test_iothread_new("test-iothread");
            g_assert_nonnull(aio_iothread_get_aio_context(t[i]));
            g_assert_nonnull(aio_iothread_get_g_main_context(t[i]));
            for (int j = 0; j < i; j++) {
                g_assert_true(aio_iothread_get_aio_context(t[i]) !=
                              aio_iothread_get_aio_context(t[j]));
                g_assert_true(aio_iothread_get_g_main_context(t[i]) !=
                              aio_iothread_get_g_main_context(t[j]));
            }
            g_assert_true(aio_iothread_get_g_main_context(t[i]) !=
                          g_main_context_default());
        }
        for (int i = 0; i < N_THREADS; i++)
            aio_bh_schedule_oneshot(aio_iothread_get_aio_context(t[i]), gaio_test_count_cb, &ran);
        for (int i = 0; i < N_THREADS; i++)
            aio_iothread_join(t[i]);
        g_assert_cmpuint(atomic_load(&ran), ==, N_THREADS);
    }
}

/* ------------------------------------------------------------------------ */
/* I1 and the thread-default GMainContext                                   */
/* ------------------------------------------------------------------------ */

static void
test_current_in_bh(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    Seen seen = {0};

    g_test_summary("I1: in a BH of an I/O thread, aio_context_get_current() is the "
                   "thread's context; the BH runs in the I/O thread.");
    aio_bh_schedule_oneshot(aio_iothread_get_aio_context(t), record_seen_cb, &seen);
    gaio_test_wait_flag(&seen.done);
    g_assert_true(seen.current == aio_iothread_get_aio_context(t));
    g_assert_false(pthread_equal(seen.self, pthread_self()));
    aio_iothread_join(t);
}

static void
test_thread_default_in_bh(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    Seen seen = {0};

    g_test_summary("Section 6: the I/O thread's GMainContext is pushed as its "
                   "thread-default: g_main_context_get_thread_default() inside a BH "
                   "is aio_iothread_get_g_main_context().");
    aio_bh_schedule_oneshot(aio_iothread_get_aio_context(t), record_seen_cb, &seen);
    gaio_test_wait_flag(&seen.done);
    g_assert_true(seen.thread_default == aio_iothread_get_g_main_context(t));
    aio_iothread_join(t);
}

static void
test_current_outside_dispatch(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    GSource *idle = g_idle_source_new();
    Seen seen = {0};
    pthread_t self = iothread_self(t);

    g_test_summary("I1: in an I/O thread, aio_context_get_current() is its context "
                   "outside any dispatch of the context too: in a plain GLib idle "
                   "source attached to the thread's GMainContext, which runs in "
                   "that thread with that GMainContext as thread-default.");
    g_source_set_callback(idle, record_seen_idle, &seen, NULL);
    g_source_attach(idle, aio_iothread_get_g_main_context(t));
    gaio_test_wait_flag(&seen.done);
    g_assert_true(pthread_equal(seen.self, self));
    g_assert_true(seen.current == aio_iothread_get_aio_context(t));
    g_assert_true(seen.thread_default == aio_iothread_get_g_main_context(t));
    g_source_unref(idle);
    aio_iothread_join(t);
}

static gpointer
plain_thread_current(gpointer data)
{
    (void)data;
    return aio_context_get_current();
}

static void
test_current_null_in_plain_thread(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    GThread *plain;

    g_test_summary("I1: a thread that is no I/O thread and is inside no aio_poll() "
                   "or dispatch gets NULL from aio_context_get_current(), also "
                   "while I/O threads run.");
    g_assert_null(aio_context_get_current());
    plain = g_thread_new("plain", plain_thread_current, NULL);
    g_assert_null(g_thread_join(plain));
    aio_iothread_join(t);
    g_assert_null(aio_context_get_current());
}

/* ------------------------------------------------------------------------ */
/* A BH token passed round-robin                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx[N_THREADS];
    QEMUBH *bh[N_THREADS];
    unsigned target;
    atomic_uint hops;
    atomic_uint wrong_context;
    atomic_bool done;
} Token;

typedef struct {
    Token *token;
    int index;
} TokenHolder;

static void
token_cb(void *opaque)
{
    TokenHolder *h = opaque;
    Token *tok = h->token;

    if (aio_context_get_current() != tok->ctx[h->index])
        atomic_fetch_add(&tok->wrong_context, 1);
    if (atomic_fetch_add_explicit(&tok->hops, 1, memory_order_relaxed) + 1 >= tok->target) {
        atomic_store(&tok->done, true);
        return;
    }
    qemu_bh_schedule(tok->bh[(h->index + 1) % N_THREADS]);
}

static void
test_token_round_robin(void)
{
    AioIOThread *t[N_THREADS];
    TokenHolder holders[N_THREADS];
    Token tok = {.target = gaio_test_scale(100000)};

    g_test_summary("Section 6: a BH token passed round-robin across five I/O "
                   "threads, each hop a BH of the next thread's context scheduled "
                   "from the previous one: every hop runs, in the right context, "
                   "and the count is exact.");
    for (int i = 0; i < N_THREADS; i++) {
        t[i] = gaio_test_iothread_new("token");
        tok.ctx[i] = aio_iothread_get_aio_context(t[i]);
        holders[i] = (TokenHolder){&tok, i};
        tok.bh[i] = aio_bh_new(tok.ctx[i], token_cb, &holders[i]);
    }
    qemu_bh_schedule(tok.bh[0]);
    gaio_test_wait_flag(&tok.done);
    g_assert_cmpuint(atomic_load(&tok.hops), ==, tok.target);
    g_assert_cmpuint(atomic_load(&tok.wrong_context), ==, 0);
    for (int i = 0; i < N_THREADS; i++)
        qemu_bh_delete(tok.bh[i]);
    for (int i = 0; i < N_THREADS; i++)
        aio_iothread_join(t[i]);
    /* No hop after the last one. */
    g_assert_cmpuint(atomic_load(&tok.hops), ==, tok.target);
}

/* ------------------------------------------------------------------------ */
/* aio_iothread_join()                                                      */
/* ------------------------------------------------------------------------ */

static void
gate_cb(void *opaque)
{
    gate_wait(opaque);
}

static void
test_join_runs_pending_bhs(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    AioContext *ctx = aio_iothread_get_aio_context(t);
    atomic_bool gate = false;
    atomic_uint ran = 0;
    QEMUBH *bh = aio_bh_new(ctx, gaio_test_count_cb, &ran);
    GThread *opener;
    unsigned n = 10;

    g_test_summary("Section 6: aio_iothread_join() runs the BHs pending when it is "
                   "called before the thread stops: the thread is held in a BH, "
                   "more are scheduled (oneshots and a BH of the caller's), and all "
                   "have run when the join returns.");
    aio_bh_schedule_oneshot(ctx, gate_cb, &gate);
    for (unsigned i = 0; i < n; i++)
        aio_bh_schedule_oneshot(ctx, gaio_test_count_cb, &ran);
    qemu_bh_schedule(bh);
    opener = g_thread_new("opener", open_gate_later_thread, &gate);
    aio_context_ref(ctx);
    aio_iothread_join(t);
    g_assert_cmpuint(atomic_load(&ran), ==, n + 1);
    g_thread_join(opener);
    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

typedef struct {
    atomic_bool *gate;
    atomic_uint *started;
    atomic_uint *done_calls;
    atomic_uint *done_wrong_thread;
    pthread_t iothread;
} JoinReq;

static int
gated_func(void *arg)
{
    JoinReq *r = arg;

    atomic_fetch_add(r->started, 1);
    gate_wait(r->gate);
    return 5;
}

static void
join_done(void *opaque, int ret)
{
    JoinReq *r = opaque;

    if (!pthread_equal(pthread_self(), r->iothread) || ret != 5)
        atomic_fetch_add(r->done_wrong_thread, 1);
    atomic_fetch_add(r->done_calls, 1);
}

static void
test_join_with_pool_requests_in_flight(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    AioContext *ctx = aio_iothread_get_aio_context(t);
    atomic_bool gate = false;
    atomic_uint started = 0, done_calls = 0, wrong = 0;
    JoinReq r = {&gate, &started, &done_calls, &wrong, iothread_self(t)};
    GThread *opener;
    enum { N = 4 };

    g_test_summary("Section 6/TP1: aio_iothread_join() with thread-pool requests in "
                   "flight (running and queued, with and without done callbacks) "
                   "returns after their functions finished and their done "
                   "callbacks ran, in the I/O thread.");
    aio_thread_pool_set_max_workers(ctx, 2);
    for (int i = 0; i < N; i++)
        aio_thread_pool_submit(ctx, gated_func, &r, join_done, &r);
    aio_thread_pool_submit(ctx, gated_func, &r, NULL, NULL);
    gaio_test_wait_for_at_least(&started, 2);
    opener = g_thread_new("opener", open_gate_later_thread, &gate);
    aio_iothread_join(t);
    g_assert_cmpuint(atomic_load(&done_calls), ==, N);
    g_assert_cmpuint(atomic_load(&started), ==, N + 1);
    g_assert_cmpuint(atomic_load(&wrong), ==, 0);
    g_thread_join(opener);
}

static void
test_context_outlives_join(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    AioContext *ctx = aio_context_ref(aio_iothread_get_aio_context(t));
    atomic_uint ran = 0;
    QEMUBH *bh;

    g_test_summary("Section 6: a context whose I/O thread was joined stays valid for "
                   "the caller who holds a reference; it runs with aio_poll() in "
                   "the caller's thread and is finalized there, not in the thread "
                   "that ran it.");
    aio_iothread_join(t);
    bh = aio_bh_new(ctx, gaio_test_count_cb, &ran);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpuint(atomic_load(&ran), ==, 1);
    g_assert_false(aio_poll(ctx, false));
    qemu_bh_delete(bh);
    aio_context_unref(ctx);
}

static gpointer
unref_thread(gpointer data)
{
    aio_context_unref(data);
    return NULL;
}

static void
test_context_finalized_in_plain_thread(void)
{
    AioIOThread *t = gaio_test_iothread_new("test-iothread");
    AioContext *ctx = aio_context_ref(aio_iothread_get_aio_context(t));
    atomic_uint ran = 0;

    g_test_summary("Section 6: a context run by an I/O thread, then joined, is "
                   "finalized in a third thread (neither the one that ran it nor "
                   "the one that made it).");
    aio_bh_schedule_oneshot(ctx, gaio_test_count_cb, &ran);
    aio_iothread_join(t);
    g_assert_cmpuint(atomic_load(&ran), ==, 1);
    g_thread_join(g_thread_new("unref", unref_thread, ctx));
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/iothread/lifecycle/five-threads-created-and-joined-100-times",
                    test_five_threads_created_and_joined_100_times);
    g_test_add_func("/iothread/I1/current-context-in-bh", test_current_in_bh);
    g_test_add_func("/iothread/I1/current-context-outside-dispatch-in-glib-idle",
                    test_current_outside_dispatch);
    g_test_add_func("/iothread/I1/null-in-plain-thread", test_current_null_in_plain_thread);
    g_test_add_func("/iothread/gmain/own-g-main-context-is-thread-default-in-bh",
                    test_thread_default_in_bh);
    g_test_add_func("/iothread/bh/token-round-robin-across-five-threads-exact-count",
                    test_token_round_robin);
    g_test_add_func("/iothread/join/runs-pending-bhs", test_join_runs_pending_bhs);
    g_test_add_func("/iothread/join/TP1/waits-for-pool-requests-in-flight",
                    test_join_with_pool_requests_in_flight);
    g_test_add_func("/iothread/join/context-outlives-join-and-runs-with-aio_poll",
                    test_context_outlives_join);
    g_test_add_func("/iothread/join/context-finalized-in-another-thread",
                    test_context_finalized_in_plain_thread);
    return g_test_run();
}
