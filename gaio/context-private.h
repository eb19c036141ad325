/* context-private.h: the AioContext structure, shared by the files of gaio/.
 *
 * Who touches what:
 *  - producers (any thread, signal handlers): bh_queue.last, notified, notify_me
 *    (read), the BH flags;
 *  - any thread, under their locks: the handlers and the timers;
 *  - the context's thread (the owner): everything else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <gaio/gaio.h>

#include "fd-handler-private.h"
#include "fdmon-private.h"
#include "mpsc-queue-private.h"
#include "timer-private.h"

/* Where a context's BHs live (bh-slab.c). */
typedef struct BHSlab BHSlab;
typedef struct {
    pthread_mutex_t lock;
    BHSlab *all;
    BHSlab *partial;
    unsigned n_empty; /* slabs with no BH, kept: at most one */
} BHSlabs;

#define GAIO_CACHELINE 64

typedef struct BHPass BHPass;

struct _AioContext {
    GSource source;

    /* --- the BH queue (bh.c) --- */
    /* Producers exchange bh_queue.last; the consumer owns bh_queue.first. */
    MpscQueue bh_queue;
    /* Passes in progress on this context, innermost first (nesting, B14). */
    BHPass *bh_passes;
    /* Queue nodes the owner looked at (passes, looks before sleeping,
     * reclaims): what the structural cost tests count (B13, G6). */
    uint64_t bh_visits;
    /* The gap the owner last spun on: it sleeps on that one at once. */
    MpscNode *gap_seen;
    /* Where the BHs live, so finalize finds those in no queue (C4). */
    BHSlabs bh_slabs;

    /* --- waking (notify.c) --- kept off the producers' queue line. */
    char pad_notify[GAIO_CACHELINE];
    /* Nonzero while the owner may be about to sleep: AIO_NOTIFY_ME_* bits
     * saying which producers must write the eventfd (notify-private.h).
     * Written by the owner only. */
    atomic_uint notify_me;
    /* True once aio_notify() ran since the owner last accepted: the owner must
     * not sleep, and later notifiers need not write the eventfd again. */
    atomic_bool notified;
    int wakeup_fd;
    gpointer wakeup_tag;

    /* --- fd handlers (fd-handler.c) and the monitor (fdmon-*.c) --- */
    const FdMonOps *fdmon;
    /* Readable while a watch is ready: what aio_poll() and GLib sleep on. */
    int fdmon_fd;
    gpointer fdmon_tag;
    AioHandlers handlers;

    /* --- timers (timer.c) --- */
    AioTimers timers;

    /* --- the thread pool (thread-pool.c), made on first submit --- */
    struct AioThreadPool *_Atomic pool;

    /* --- who runs the context (context.c, C5) --- */
    char pad_owner[GAIO_CACHELINE];
    void *_Atomic owner;
    unsigned owner_depth;
    /* The last aio_poll() or dispatch made progress: the next sleep is
     * preceded by a spin of poll_spin_ns (poll.c; 0 under GLib, except in
     * I/O threads). */
    bool poll_made_progress;
    int64_t poll_spin_ns;        /* for aio_poll() */
    int64_t gsource_spin_ns;     /* for the GSource's prepare */
};

/* The frame of one entry into a context by its running thread. */
typedef struct {
    AioContext *prev_current;
} AioContextEntry;

/* Claims @ctx for the calling thread (nesting is fine); a critical and false
 * when another thread is inside aio_poll(), aio_bh_poll() or the GSource
 * callbacks of @ctx. Sets aio_context_get_current(). Never looks at the
 * GMainContext @ctx is attached to: acquiring one that this thread does not
 * own, even briefly, would disturb GLib (C5). */
bool aio_context_enter(AioContext *ctx, AioContextEntry *entry);
void aio_context_leave(AioContext *ctx, AioContextEntry *entry);

/* True if the calling thread is inside aio_poll(), aio_bh_poll() or a
 * GSource callback of @ctx. */
bool aio_context_is_owner(AioContext *ctx);

/* An I/O thread's: @ctx is this thread's context from now on (I1). */
void aio_context_set_home(AioContext *ctx);

/* True if the calling thread runs @ctx: it is inside it, is its I/O thread,
 * or owns the GMainContext it is attached to (I2). */
bool aio_context_runs_here(AioContext *ctx);

/* Set by aio_context_new(); the GSource's prepare, check, dispatch, finalize. */
extern GSourceFuncs aio_context_source_funcs;
