/* threads-glib.c: GLib's ways of moving work between threads, the peers of
 * bench-threads.c's workloads.
 *
 *  - thread pool: g_task_run_in_thread() of a GTask made with g_task_new()
 *    in the bench thread, whose GMainContext (pushed as its thread-default,
 *    as GTask requires) it iterates with g_main_context_iteration() until
 *    every task's GAsyncReadyCallback ran; the task function calls
 *    g_task_return_int(), the callback g_task_propagate_int().
 *  - ping-pong: two threads, each running g_main_loop_run() on a
 *    GMainContext of its own (its thread-default); the token moves with
 *    g_main_context_invoke() of the other thread's context (from a thread
 *    that does not own it, that attaches an idle source and wakes the
 *    context).
 *  - call and wait: one such thread; the caller does g_main_context_invoke()
 *    of a callback that sets a flag under a GMutex and signals a GCond, and
 *    waits on that GCond.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>

#include "bench-private.h"

/* --- a thread running a GMainContext ------------------------------------ */

typedef struct {
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    unsigned cpu; /* pinned to the cpu-th CPU */
} GlibThread;

static gpointer
glib_thread_main(gpointer data)
{
    GlibThread *thread = data;

    bench_threads_pin_self(thread->cpu);
    g_main_context_push_thread_default(thread->context);
    g_main_loop_run(thread->loop);
    g_main_context_pop_thread_default(thread->context);
    return NULL;
}

static void
glib_thread_start(GlibThread *thread, unsigned cpu, const char *name)
{
    thread->context = g_main_context_new();
    thread->loop = g_main_loop_new(thread->context, FALSE);
    thread->cpu = cpu;
    thread->thread = g_thread_new(name, glib_thread_main, thread);
}

static void
glib_thread_stop(GlibThread *thread)
{
    g_main_loop_quit(thread->loop); /* wakes the context */
    g_thread_join(thread->thread);
    g_main_loop_unref(thread->loop);
    g_main_context_unref(thread->context);
}

/* --- thread pool: GTask ------------------------------------------------- */

typedef struct {
    GMainContext *context;
    unsigned completed;
} GlibTask;

static void *
glib_task_new(const BenchImpl *impl)
{
    GlibTask *pool = g_new0(GlibTask, 1);

    pool->context = g_main_context_new();
    return pool;
}

static void
glib_task_free(void *data)
{
    GlibTask *pool = data;

    g_main_context_unref(pool->context);
    g_free(pool);
}

static void
glib_task_func(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    g_task_return_int(task, 0);
}

static void
glib_task_done(GObject *source, GAsyncResult *result, gpointer data)
{
    GlibTask *pool = data;

    g_task_propagate_int(G_TASK(result), NULL);
    pool->completed++;
}

static void
glib_task_run(void *data, unsigned n)
{
    GlibTask *pool = data;

    g_main_context_push_thread_default(pool->context);
    pool->completed = 0;
    for (unsigned i = 0; i < n; i++) {
        GTask *task = g_task_new(NULL, NULL, glib_task_done, pool);

        g_task_run_in_thread(task, glib_task_func);
        g_object_unref(task);
    }
    while (pool->completed < n)
        g_main_context_iteration(pool->context, TRUE);
    g_main_context_pop_thread_default(pool->context);
}

const BenchImpl bench_glib_task = {
    .id = "glib-task",
    .name = "GLib g_task_run_in_thread",
    .workloads = BENCH_POOL,
    .threads_new = glib_task_new,
    .threads_free = glib_task_free,
    .pool_run = glib_task_run,
};

/* --- ping-pong: g_main_context_invoke() --------------------------------- */

typedef struct {
    GlibThread a, b;
    BenchPingPong *token;
} GlibPair;

static gboolean glib_pair_at_b(gpointer data);

static gboolean
glib_pair_at_a(gpointer data)
{
    GlibPair *pair = data;

    if (bench_ping_pong_arrived(pair->token))
        g_main_context_invoke(pair->b.context, glib_pair_at_b, pair);
    return G_SOURCE_REMOVE;
}

static gboolean
glib_pair_at_b(gpointer data)
{
    GlibPair *pair = data;

    g_main_context_invoke(pair->a.context, glib_pair_at_a, pair);
    return G_SOURCE_REMOVE;
}

static void *
glib_pair_new(const BenchImpl *impl)
{
    GlibPair *pair = g_new0(GlibPair, 1);

    glib_thread_start(&pair->a, 0, "bench-glib-a");
    glib_thread_start(&pair->b, 1, "bench-glib-b");
    return pair;
}

static void
glib_pair_free(void *data)
{
    GlibPair *pair = data;

    glib_thread_stop(&pair->a);
    glib_thread_stop(&pair->b);
    g_free(pair);
}

static void
glib_pair_ping_pong(void *data, unsigned n, double *ns)
{
    GlibPair *pair = data;
    BenchPingPong token;

    bench_ping_pong_init(&token, n, ns);
    pair->token = &token;
    g_main_context_invoke(pair->a.context, glib_pair_at_a, pair);
    bench_ping_pong_wait(&token);
}

const BenchImpl bench_glib_invoke_pair = {
    .id = "glib-invoke-pair",
    .name = "GLib g_main_context_invoke pair",
    .workloads = BENCH_PING_PONG,
    .threads_new = glib_pair_new,
    .threads_free = glib_pair_free,
    .ping_pong = glib_pair_ping_pong,
};

/* --- call and wait: g_main_context_invoke() + GCond --------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    bool done;
} GlibWaiter;

static gboolean
glib_call_nothing(gpointer data)
{
    GlibWaiter *waiter = data;

    g_mutex_lock(&waiter->lock);
    waiter->done = true;
    g_cond_signal(&waiter->cond);
    g_mutex_unlock(&waiter->lock);
    return G_SOURCE_REMOVE;
}

static void *
glib_call_new(const BenchImpl *impl)
{
    GlibThread *thread = g_new0(GlibThread, 1);

    glib_thread_start(thread, 1, "bench-glib-call");
    return thread;
}

static void
glib_call_free(void *data)
{
    glib_thread_stop(data);
    g_free(data);
}

static void
glib_call_wait(void *data)
{
    GlibThread *thread = data;
    GlibWaiter waiter = {.done = false};

    g_mutex_init(&waiter.lock);
    g_cond_init(&waiter.cond);
    g_main_context_invoke(thread->context, glib_call_nothing, &waiter);
    g_mutex_lock(&waiter.lock);
    while (!waiter.done)
        g_cond_wait(&waiter.cond, &waiter.lock);
    g_mutex_unlock(&waiter.lock);
    g_mutex_clear(&waiter.lock);
    g_cond_clear(&waiter.cond);
}

const BenchImpl bench_glib_invoke_cond = {
    .id = "glib-invoke-cond",
    .name = "GLib g_main_context_invoke + GCond",
    .workloads = BENCH_CALL_WAIT,
    .threads_new = glib_call_new,
    .threads_free = glib_call_free,
    .call_wait = glib_call_wait,
};
