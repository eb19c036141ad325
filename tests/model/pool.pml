/* pool.pml: the thread pool's request protocol (gaio/thread-pool.c, SPEC
 * TP1, TP2, TP5), model-checked with Spin by run-pool.sh.
 *
 * One request, three actors, every interleaving of their steps:
 *  - a worker: claims the request (CAS QUEUED -> RUNNING), runs func, marks
 *    it FINISHED and completes it; or loses the claim; then drops the
 *    queue's reference. While the context is finalizing, a claimed request
 *    is not run (CANCELLED, the completion's reference dropped too);
 *  - the GCancellable's handler (another thread): if still connected, it
 *    cancels (CAS QUEUED -> CANCELLED) and, if it won, completes with
 *    -ECANCELED;
 *  - the context: delivers the completion (disconnecting the handler, which
 *    waits for a running one, then done, then the completion's reference);
 *    or, with -DFINALIZE, finalizes: workers drained and joined, cancels in
 *    progress waited for, then the undelivered completions dropped.
 * A reference count reaching 0 frees the request; any step that touches it
 * afterwards is an assertion failure (use after free). At the end: func ran
 * at most once, never after a winning cancel; done ran exactly once (none
 * when finalizing) with func's result or -ECANCELED accordingly; the
 * request was freed; nothing was completed twice or after the drain.
 *
 * -DBROKEN_NO_WAIT_CANCELS: finalize does not wait for cancels in
 * progress: a handler that won the claim before the workers were joined
 * completes after the drain (this model found that race in the first
 * version of thread-pool.c, whose workers waited for the handler only when
 * they lost the claim during finalize, too late).
 * -DBROKEN_ONE_REF: a single reference, dropped by whoever finishes last
 * in the success path only: a use after free.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define QUEUED    0
#define RUNNING   1
#define FINISHED  2
#define CANCELLED 3

#define RET_NONE     0
#define RET_RESULT   1
#define RET_CANCELED 2

byte state = QUEUED;
#ifdef BROKEN_ONE_REF
byte refs = 1;
#else
byte refs = 2;
#endif
bool freed = false;
byte ret = RET_NONE;
byte func_runs = 0;
byte done_runs = 0;
byte done_ret = RET_NONE;
byte completions = 0;       /* pushed on the completed list */
byte delivered = 0;         /* taken off it */
bool drained = false;       /* finalize dropped the list */
bool finalizing = false;
bool handler_connected = true;
bool handler_running = false;
bool worker_done = false;
bool handler_ended = false;
bool context_ended = false;

inline touch() { assert(!freed) }

inline unref() {
    atomic {
        touch();
        refs--;
        if
        :: refs == 0 -> freed = true
        :: else -> skip
        fi
    }
}

inline complete() {
    atomic { touch(); assert(!drained); completions++ }
}

/* g_cancellable_disconnect(): no handler starts afterwards, and it waits
 * for one that runs. */
inline forget_cancellable() {
    handler_connected = false;
    (!handler_running)
}

active proctype worker()
{
    bool claimed;

    atomic {
        touch();
        if
        :: state == QUEUED -> state = RUNNING; claimed = true
        :: else -> claimed = false
        fi
    }
    if
    :: claimed && finalizing ->
        /* @pool_finalizing */
        state = CANCELLED;
        forget_cancellable();
        unref()            /* the completion's: nobody will deliver */
    :: claimed && !finalizing ->
        touch(); func_runs++;
        touch(); ret = RET_RESULT;
        state = FINISHED;
        complete()
    :: !claimed -> skip
    fi;
    unref();               /* the queue's */
    worker_done = true
}

active proctype handler()
{
    bool won;

    atomic {
        if
        :: handler_connected -> handler_running = true
        :: else -> goto out
        fi
    }
    atomic {
        touch();
        if
        :: state == QUEUED -> state = CANCELLED; won = true
        :: else -> won = false
        fi
    }
    if
    :: won -> touch(); ret = RET_CANCELED; complete()
    :: else -> skip
    fi;
    handler_running = false;
out:
    handler_ended = true
}

active proctype context()
{
#ifdef FINALIZE
    /* thread_pool_finalize(): workers skip what has not started... */
    finalizing = true;
    /* ...g_thread_pool_free(wait) joins them, and cancels in progress
     * (the counter cancels_running) end... */
    (worker_done);
#ifndef BROKEN_NO_WAIT_CANCELS
    (!handler_running);   /* @pool_wait_cancels */
#endif
    /* ...then the undelivered completions are dropped. @pool_drain */
    if
    :: completions > delivered ->
        delivered++;
        forget_cancellable();
        unref()
    :: else -> skip
    fi;
    drained = true;
#else
    /* The completion BH: one completion arrives, exactly once. */
    (completions > delivered);
    delivered++;
    forget_cancellable();
    touch();
    done_runs++;
    done_ret = ret;
    unref();
#endif
    context_ended = true
}

/* Once the others have ended: what a user relies on. */
active proctype checker()
{
    (worker_done && handler_ended && context_ended);
    assert(freed);
    assert(func_runs <= 1);
    assert(completions == delivered);
#ifdef FINALIZE
    assert(done_runs == 0);
#else
    assert(done_runs == 1);
    assert(func_runs == 0 || done_ret == RET_RESULT);
    assert(func_runs == 1 || done_ret == RET_CANCELED)
#endif
}
