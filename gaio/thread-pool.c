/* thread-pool.c: a context's thread pool (SPEC TP1-TP5).
 *
 * Requests wait in the pool's own FIFO queue (a mutex and a list). Workers
 * are "drainers": tasks of a GLib GThreadPool that pop requests in submit
 * order until the queue is empty; at most max_workers drainers exist at
 * once, so at most that many functions run (TP4). A burst of submits thus
 * costs one GThreadPool push per drainer started, not one per request: a
 * push wakes a thread, which costs far more than a trivial function, and
 * the mutex handoff is also one that ThreadSanitizer sees (GLib's own
 * queue lock is not). A request's state
 * is one atomic word: QUEUED until a worker claims it (RUNNING) or a cancel
 * does (CANCELLED), with one compare-and-swap each, so exactly one of them
 * wins (TP2). Whoever wins also completes it: the request joins the
 * completed queue (the wait-free queue BHs use: a completion costs no
 * lock) in completion order and the pool's one BH is scheduled,
 * so any number of completions reach the context in one pass (TP3).
 *
 * A request has two references: the worker queue's (dropped once a worker
 * has looked at it, claimed or not) and the completion's (dropped after
 * done returned). So neither a late worker nor a late cancel touches freed
 * memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "context-private.h"
#include "mpsc-queue-private.h"
#include "test-hooks-private.h"
#include "thread-pool-private.h"

typedef enum {
    REQ_QUEUED,
    REQ_RUNNING,
    REQ_FINISHED,
    REQ_CANCELLED,
} RequestState;

typedef struct AioThreadPool AioThreadPool;

struct _AioThreadPoolRequest {
    AioThreadPool *pool;
    AioThreadPoolFunc *func;
    void *arg;
    AioThreadPoolDone *done;
    void *opaque;
    GCancellable *cancellable;
    gulong cancel_id; /* under the pool's cancel_lock */
    atomic_int state;
    atomic_int refs;
    int ret;                    /* written by the completer, before the list */
    MpscNode completed_node;    /* in the completed queue */
    AioThreadPoolRequest *queue_next; /* in the submit queue */
};

struct AioThreadPool {
    AioContext *ctx;
    GThreadPool *workers; /* runs the drainers */
    pthread_mutex_t queue_lock;
    AioThreadPoolRequest *queue_head, *queue_tail; /* submit order */
    int max_workers; /* under queue_lock */
    int drainers;    /* started and not finished, under queue_lock */
    QEMUBH *completion_bh;
    /* Completions in completion order: any worker or canceller pushes,
     * the context's thread pops. */
    MpscQueue completed;
    /* Guards the cancellable handler ids: connecting may run the handler
     * at once, which takes `lock`, so this is another one. */
    pthread_mutex_t cancel_lock;
    atomic_uint in_flight; /* submitted, done not returned yet */
    atomic_bool finalizing;
    /* aio_thread_pool_cancel() calls in progress: finalize waits for them,
     * or a cancel that won its claim could complete after the drain. */
    atomic_uint cancels_running;
    /* Set (release) once the pool is set up: a drainer, handed the pool
     * through GLib's queue (whose lock ThreadSanitizer cannot see), reads
     * it first (acquire), so its accesses are ordered after the set-up. */
    atomic_bool ready;
};

static inline AioThreadPoolRequest *
request_of_node(MpscNode *node)
{
    return (AioThreadPoolRequest *)(void *)((char *)node -
                                            G_STRUCT_OFFSET(AioThreadPoolRequest, completed_node));
}

static void
request_unref(AioThreadPoolRequest *req)
{
    /* acq_rel: the last one sees every write the other holder made. */
    if (atomic_fetch_sub_explicit(&req->refs, 1, memory_order_acq_rel) == 1)
        g_free(req);
}

/* Stops @req's cancellable from reaching it; waits for a handler running
 * in another thread (which only fails to cancel). */
static void
request_forget_cancellable(AioThreadPool *pool, AioThreadPoolRequest *req)
{
    gulong cancel_id;

    if (req->cancellable == NULL)
        return;
    pthread_mutex_lock(&pool->cancel_lock);
    cancel_id = req->cancel_id;
    req->cancel_id = 0;
    pthread_mutex_unlock(&pool->cancel_lock);
    g_cancellable_disconnect(req->cancellable, cancel_id);
    g_clear_object(&req->cancellable);
}

/* Any thread: hands @req, which this thread moved to FINISHED or
 * CANCELLED, to the context. */
static void
pool_complete(AioThreadPool *pool, AioThreadPoolRequest *req)
{
    atomic_init(&req->completed_node.next, NULL);
    mpsc_queue_push(&pool->completed, &req->completed_node);
    /* Wait-free; coalesces while the BH is pending (TP3). */
    qemu_bh_schedule(pool->completion_bh);
}

/* A worker with @req popped off the queue: runs it unless cancelled. */
static void
pool_run_request(AioThreadPool *pool, AioThreadPoolRequest *req)
{
    int queued = REQ_QUEUED;

    GAIO_TEST_PAUSE(GAIO_PAUSE_POOL_BEFORE_CLAIM, req);
    /* acq_rel on success: the claim orders after a cancel that lost. */
    if (atomic_compare_exchange_strong_explicit(&req->state, &queued, REQ_RUNNING,
                                                memory_order_acq_rel, memory_order_acquire)) {
        if (atomic_load_explicit(&pool->finalizing, memory_order_acquire)) {
            /* TP5: the context goes; what has not started never will, and
             * nobody is left to deliver to: drop the completion's
             * reference too. */
            /* Model: tests/model/pool.pml @pool_finalizing. */
            atomic_store_explicit(&req->state, REQ_CANCELLED, memory_order_release);
            request_forget_cancellable(pool, req);
            request_unref(req);
        } else {
            req->ret = req->func(req->arg);
            atomic_store_explicit(&req->state, REQ_FINISHED, memory_order_release);
            pool_complete(pool, req);
        }
    }
    request_unref(req); /* the queue's */
}

/* The next request in submit order, or NULL: then this drainer is done
 * (decided under the lock submit takes, so no request is left behind). */
static AioThreadPoolRequest *
pool_pop_or_retire(AioThreadPool *pool)
{
    AioThreadPoolRequest *req = NULL;

    pthread_mutex_lock(&pool->queue_lock);
    /* Fewer workers asked for: the extra drainers leave between requests. */
    if (pool->queue_head != NULL && pool->drainers <= pool->max_workers) {
        req = pool->queue_head;
        pool->queue_head = req->queue_next;
        if (pool->queue_head == NULL)
            pool->queue_tail = NULL;
    } else {
        pool->drainers--;
    }
    pthread_mutex_unlock(&pool->queue_lock);
    return req;
}

/* A GThreadPool task: runs queued requests until the queue is empty. */
static void
pool_drainer(gpointer data, gpointer user_data)
{
    AioThreadPool *pool = user_data;
    AioThreadPoolRequest *req;

    (void)data;
    /* Pairs with the release store at the end of pool_new(). */
    if (!atomic_load_explicit(&pool->ready, memory_order_acquire))
        g_assert_not_reached();
    while ((req = pool_pop_or_retire(pool)) != NULL)
        pool_run_request(pool, req);
}

/* The context's thread: delivers every completion since the last pass. */
static void
pool_completion_bh(void *opaque)
{
    AioThreadPool *pool = opaque;
    /* Completions listed from now on wait for the next pass: workers that
     * complete faster than done callbacks run cannot make this one endless. */
    MpscNode *last = mpsc_queue_last(&pool->completed);
    MpscNode *node;

    /* NULL before @last: a completer between its exchange and its link;
     * its qemu_bh_schedule(), after the link, brings the rest. */
    while ((node = mpsc_queue_pop(&pool->completed)) != NULL) {
        AioThreadPoolRequest *req;

        if (node == &pool->completed.stub) { /* a point in the order only */
            if (node == last)
                break;
            continue;
        }
        req = request_of_node(node);
        request_forget_cancellable(pool, req);
        if (req->done != NULL)
            req->done(req->opaque, req->ret);
        atomic_fetch_sub_explicit(&pool->in_flight, 1, memory_order_release);
        request_unref(req); /* the completion's */
        if (node == last)
            break;
    }
}

static AioThreadPool *
pool_new(AioContext *ctx)
{
    AioThreadPool *pool = g_new0(AioThreadPool, 1);

    pool->ctx = ctx;
    mpsc_queue_init(&pool->completed);
    pthread_mutex_init(&pool->cancel_lock, NULL);
    pthread_mutex_init(&pool->queue_lock, NULL);
    pool->max_workers = (int)g_get_num_processors();
    atomic_init(&pool->in_flight, 0);
    atomic_init(&pool->finalizing, false);
    atomic_init(&pool->cancels_running, 0);
    pool->completion_bh = aio_bh_new_full(ctx, pool_completion_bh, pool, "thread-pool");
    /* Not exclusive: threads come from GLib's shared ones. No cap here:
     * the number of drainers is the cap (TP4). */
    pool->workers = g_thread_pool_new(pool_drainer, pool, -1, FALSE, NULL);
    atomic_store_explicit(&pool->ready, true, memory_order_release);
    return pool;
}

static void
pool_free(AioThreadPool *pool)
{
    pthread_mutex_destroy(&pool->cancel_lock);
    pthread_mutex_destroy(&pool->queue_lock);
    g_free(pool);
}

/* The pool of @ctx, made on first use by whichever thread gets there. */
static AioThreadPool *
context_pool(AioContext *ctx)
{
    AioThreadPool *pool = atomic_load_explicit(&ctx->pool, memory_order_acquire);
    AioThreadPool *expected = NULL;

    if (pool != NULL)
        return pool;
    pool = pool_new(ctx);
    /* acq_rel: publishes the pool's fields; on failure sees the winner's. */
    if (atomic_compare_exchange_strong_explicit(&ctx->pool, &expected, pool,
                                                memory_order_acq_rel, memory_order_acquire))
        return pool;
    /* Another thread won: nothing was submitted to ours. */
    g_thread_pool_free(pool->workers, TRUE, TRUE);
    qemu_bh_delete(pool->completion_bh);
    pool_free(pool);
    return expected;
}

/* Appends @req to the queue, and starts a drainer if fewer than
 * max_workers run: a running one takes it otherwise. */
static void
pool_enqueue(AioThreadPool *pool, AioThreadPoolRequest *req)
{
    bool start_drainer;

    pthread_mutex_lock(&pool->queue_lock);
    req->queue_next = NULL;
    if (pool->queue_tail != NULL)
        pool->queue_tail->queue_next = req;
    else
        pool->queue_head = req;
    pool->queue_tail = req;
    start_drainer = pool->drainers < pool->max_workers;
    if (start_drainer)
        pool->drainers++;
    pthread_mutex_unlock(&pool->queue_lock);
    if (start_drainer)
        g_thread_pool_push(pool->workers, pool, NULL);
}

static void
request_cancelled_cb(GCancellable *cancellable, gpointer data)
{
    aio_thread_pool_cancel(data);
}

AioThreadPoolRequest *
aio_thread_pool_submit_cancellable(AioContext *ctx, AioThreadPoolFunc *func, void *arg,
                                   GCancellable *cancellable, AioThreadPoolDone *done,
                                   void *opaque)
{
    AioThreadPool *pool;
    AioThreadPoolRequest *req;

    g_return_val_if_fail(ctx != NULL, NULL);
    g_return_val_if_fail(func != NULL, NULL);
    g_return_val_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable), NULL);

    pool = context_pool(ctx);
    req = g_new0(AioThreadPoolRequest, 1);
    req->pool = pool;
    req->func = func;
    req->arg = arg;
    req->done = done;
    req->opaque = opaque;
    atomic_init(&req->state, REQ_QUEUED);
    atomic_init(&req->refs, 2);
    atomic_fetch_add_explicit(&pool->in_flight, 1, memory_order_relaxed);
    if (cancellable != NULL) {
        req->cancellable = g_object_ref(cancellable);
        /* Runs the handler at once if already cancelled (TP2); done still
         * waits for the context's next pass. */
        pthread_mutex_lock(&pool->cancel_lock);
        req->cancel_id =
            g_cancellable_connect(cancellable, G_CALLBACK(request_cancelled_cb), req, NULL);
        pthread_mutex_unlock(&pool->cancel_lock);
    }
    pool_enqueue(pool, req);
    return req;
}

AioThreadPoolRequest *
aio_thread_pool_submit(AioContext *ctx, AioThreadPoolFunc *func, void *arg,
                       AioThreadPoolDone *done, void *opaque)
{
    return aio_thread_pool_submit_cancellable(ctx, func, arg, NULL, done, opaque);
}

void
aio_thread_pool_cancel(AioThreadPoolRequest *req)
{
    AioThreadPool *pool;
    int queued = REQ_QUEUED;

    g_return_if_fail(req != NULL);

    pool = req->pool;
    /* seq_cst, before the claim below: a worker that then loses its claim
     * to this cancel ends after this increment, so finalize, which joins
     * the workers first, sees it. */
    atomic_fetch_add_explicit(&pool->cancels_running, 1, memory_order_seq_cst);
    /* acq_rel, pairs with the worker's claim: exactly one wins. */
    if (atomic_compare_exchange_strong_explicit(&req->state, &queued, REQ_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        req->ret = -ECANCELED;
        GAIO_TEST_PAUSE(GAIO_PAUSE_POOL_CANCEL_WON, req);
        pool_complete(pool, req);
    }
    /* Otherwise started or finished: done gets func's result (TP2). */
    /* Release, pairs with finalize's acquire: the completion is listed. */
    atomic_fetch_sub_explicit(&pool->cancels_running, 1, memory_order_release);
}

void
aio_thread_pool_set_max_workers(AioContext *ctx, int n)
{
    AioThreadPool *pool;
    int more = 0;

    g_return_if_fail(ctx != NULL);
    g_return_if_fail(n > 0);

    pool = context_pool(ctx);
    pthread_mutex_lock(&pool->queue_lock);
    pool->max_workers = n;
    /* More workers allowed: start drainers for requests already queued. */
    for (AioThreadPoolRequest *r = pool->queue_head; r != NULL && pool->drainers < n;
         r = r->queue_next) {
        pool->drainers++;
        more++;
    }
    pthread_mutex_unlock(&pool->queue_lock);
    while (more-- > 0)
        g_thread_pool_push(pool->workers, pool, NULL);
}

unsigned
thread_pool_in_flight(AioContext *ctx)
{
    AioThreadPool *pool = atomic_load_explicit(&ctx->pool, memory_order_acquire);

    return pool != NULL ? atomic_load_explicit(&pool->in_flight, memory_order_acquire) : 0;
}

void
thread_pool_finalize(AioContext *ctx)
{
    AioThreadPool *pool = atomic_load_explicit(&ctx->pool, memory_order_acquire);
    MpscNode *node;
    unsigned dropped = 0;

    if (pool == NULL)
        return;
    /* Workers skip what has not started (release, pairs with their
     * acquire); g_thread_pool_free() lets them drain the queue and waits
     * for the functions that run (TP5). */
    atomic_store_explicit(&pool->finalizing, true, memory_order_release);
    g_thread_pool_free(pool->workers, FALSE, TRUE);
    /* Every drainer retired under queue_lock: taking it orders all their
     * work before what follows (GLib's own wait above does too, but
     * through locks ThreadSanitizer cannot see). */
    pthread_mutex_lock(&pool->queue_lock);
    g_assert(pool->drainers == 0 && pool->queue_head == NULL);
    pthread_mutex_unlock(&pool->queue_lock);
    /* A cancel that won a claim before the workers were joined may still
     * be listing its completion: wait for it (a few instructions; bounded
     * unless the canceller is preempted, and then it must run on). */
    /* Model: tests/model/pool.pml @pool_wait_cancels. */
    while (atomic_load_explicit(&pool->cancels_running, memory_order_acquire) != 0)
        g_thread_yield();
    /* Model: tests/model/pool.pml @pool_drain. */
    /* Every completer has finished: no gap is left in the queue. */
    while ((node = mpsc_queue_pop(&pool->completed)) != NULL) {
        AioThreadPoolRequest *req;

        if (node == &pool->completed.stub)
            continue;
        req = request_of_node(node);
        request_forget_cancellable(pool, req);
        request_unref(req);
        dropped++;
    }
    if (dropped > 0)
        g_debug("AioContext %p finalized with %u thread-pool completion(s) not delivered",
                (void *)ctx, dropped);
    qemu_bh_delete(pool->completion_bh);
    pool_free(pool);
    ctx->pool = NULL;
}
