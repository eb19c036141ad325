/* fd-handler.c: aio_set_fd_handler(), aio_set_event_notifier() and the
 * handlers part of a pass (SPEC F1-F3, P1, G4).
 *
 * A handler is immutable once registered: changing an fd's callbacks
 * registers a new handler and removes the old one. A removed handler is
 * marked deleted (never called afterwards, F2) and freed when no pass walks
 * any more, so a pass holding a ready event for it reads valid memory.
 * Registration takes the handlers' lock, so it may come from any thread, as
 * in QEMU; passes take it only to collect and to finish.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include "context-private.h"
#include "fd-handler-private.h"
#include "test-hooks-private.h"
#include "timer-private.h"

/* How a registered handler's fd is watched. */
typedef enum {
    /* By the monitor, for the events its callbacks want. */
    HANDLER_WATCHED,
    /* Not at all: the monitor refused it as always ready (a regular file,
     * F3), so every pass runs it. */
    HANDLER_ALWAYS_READY,
    /* Not at all: no io_read nor io_write, nothing to call (io_poll waits
     * for adaptive polling). Watching would still report hang-ups and
     * errors, which nothing would consume: the loop would never sleep. */
    HANDLER_DORMANT,
} HandlerState;

struct AioHandler {
    AioWatch watch; /* first: a collect hands back &watch */
    IOHandler *io_read;
    IOHandler *io_write;
    AioPollFn *io_poll;
    IOHandler *io_poll_ready;
    void *opaque;
    /* Set by aio_set_event_notifier(): io_read gets the notifier. */
    EventNotifierHandler *notifier_read;
    /* Release store on removal, acquire load in a pass: F2. */
    atomic_bool deleted;
    HandlerState state;
    AioHandler *next; /* in always_ready or deleted */
    /* The last pass that ran it (AioHandlers.passes); context thread only. */
    uint64_t served_pass;
};

G_STATIC_ASSERT(G_STRUCT_OFFSET(AioHandler, watch) == 0);

static inline AioHandler *
handler_of_watch(AioWatch *watch)
{
    return (AioHandler *)(void *)watch; /* its first member */
}

void
aio_handlers_init(AioContext *ctx)
{
    AioHandlers *hs = &ctx->handlers;

    pthread_mutex_init(&hs->lock, NULL);
    hs->by_fd = g_hash_table_new(g_direct_hash, g_direct_equal);
    hs->always_ready = NULL;
    hs->deleted = NULL;
    hs->walkers = 0;
    hs->passes = 0;
    hs->visits = 0;
    atomic_init(&hs->n_monitored, 0);
    atomic_init(&hs->n_always_ready, 0);
}

static void
handler_list_remove(AioHandler **list, AioHandler *h)
{
    for (AioHandler **p = list; *p != NULL; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            return;
        }
    }
}

/* Lock held. Stops @h being found: out of the table, the always-ready
 * list and (with @unwatch) the monitor. */
static void
handler_detach(AioContext *ctx, AioHandler *h, bool unwatch)
{
    AioHandlers *hs = &ctx->handlers;

    g_hash_table_remove(hs->by_fd, GINT_TO_POINTER(h->watch.fd));
    switch (h->state) {
    case HANDLER_ALWAYS_READY:
        handler_list_remove(&hs->always_ready, h);
        atomic_fetch_sub_explicit(&hs->n_always_ready, 1, memory_order_relaxed);
        break;
    case HANDLER_WATCHED:
        if (unwatch)
            ctx->fdmon->remove(ctx, &h->watch);
        atomic_fetch_sub_explicit(&hs->n_monitored, 1, memory_order_relaxed);
        break;
    case HANDLER_DORMANT:
    default:
        break;
    }
}

/* Lock held, @h detached. Frees it now, or after the last walking pass. */
static void
handler_retire(AioContext *ctx, AioHandler *h)
{
    AioHandlers *hs = &ctx->handlers;

    /* Release, pairs with the acquire in handler_dispatch(): a pass that
     * still holds a ready event for @h skips it (F2). */
    atomic_store_explicit(&h->deleted, true, memory_order_release);
    if (hs->walkers == 0) {
        g_free(h);
    } else {
        h->next = hs->deleted;
        hs->deleted = h;
    }
}

/* Lock held. Files @h, whose fd is watched as h->state says. */
static void
handler_attach(AioContext *ctx, AioHandler *h)
{
    AioHandlers *hs = &ctx->handlers;

    switch (h->state) {
    case HANDLER_ALWAYS_READY:
        h->next = hs->always_ready;
        hs->always_ready = h;
        atomic_fetch_add_explicit(&hs->n_always_ready, 1, memory_order_relaxed);
        break;
    case HANDLER_WATCHED:
        atomic_fetch_add_explicit(&hs->n_monitored, 1, memory_order_relaxed);
        break;
    case HANDLER_DORMANT:
    default:
        break;
    }
    g_hash_table_insert(hs->by_fd, GINT_TO_POINTER(h->watch.fd), h);
}

static void
handler_refused(const AioHandler *h, int err)
{
    g_critical("aio_set_fd_handler: cannot watch fd %d: %s (errno %d)", h->watch.fd,
               g_strerror(err), err);
}

/* Lock held. Starts watching @h's fd (no other handler watches it) and sets
 * h->state; 0, or the errno of a bad fd (F3). */
static int
handler_watch(AioContext *ctx, AioHandler *h)
{
    int err;

    if (h->watch.events == 0) {
        /* Nothing to watch for, but a bad fd is still a bad fd (F3). */
        if (fcntl(h->watch.fd, F_GETFD) < 0)
            return errno;
        h->state = HANDLER_DORMANT;
        return 0;
    }
    err = ctx->fdmon->add(ctx, &h->watch);
    /* epoll refuses fds that are always ready (regular files,
     * directories); poll() reports them ready, and so do we (F3). */
    if (err == EPERM) {
        h->state = HANDLER_ALWAYS_READY;
        return 0;
    }
    h->state = HANDLER_WATCHED;
    return err;
}

/* Lock held. Registers @h for an fd without a handler; false (and @h not
 * registered) if the fd is bad or refused (F3). */
static bool
handler_register(AioContext *ctx, AioHandler *h)
{
    int err = handler_watch(ctx, h);

    if (err != 0) {
        handler_refused(h, err);
        return false;
    }
    handler_attach(ctx, h);
    return true;
}

/* Lock held. @h replaces @old, and a refused change leaves @old as it was.
 * When both are watched, the monitor's registration is re-pointed at @h, so
 * the fd stays watched throughout. */
static bool
handler_replace(AioContext *ctx, AioHandler *old, AioHandler *h)
{
    bool old_watched = old->state == HANDLER_WATCHED;
    int err;

    if (old_watched && h->watch.events != 0) {
        h->state = HANDLER_WATCHED;
        err = ctx->fdmon->modify(ctx, &h->watch);
        if (err == ENOENT || err == EBADF) {
            /* The fd was closed since @old was registered, which unwatched
             * it; the number may now name another file: start afresh. */
            handler_detach(ctx, old, true);
            handler_retire(ctx, old);
            return handler_register(ctx, h);
        }
    } else {
        /* @old is not in the monitor, or @h will not be: watch @h first,
         * so that a refusal keeps @old. */
        err = handler_watch(ctx, h);
    }
    if (err != 0) {
        handler_refused(h, err);
        return false;
    }
    handler_detach(ctx, old, old_watched && h->state != HANDLER_WATCHED);
    handler_retire(ctx, old);
    handler_attach(ctx, h);
    return true;
}

static AioHandler *
handler_new(int fd, IOHandler *io_read, IOHandler *io_write, AioPollFn *io_poll,
            IOHandler *io_poll_ready, void *opaque)
{
    AioHandler *h = g_new0(AioHandler, 1);

    h->watch.fd = fd;
    h->watch.kind = AIO_WATCH_HANDLER;
    h->watch.events = (io_read != NULL ? G_IO_IN : 0) | (io_write != NULL ? G_IO_OUT : 0);
    h->io_read = io_read;
    h->io_write = io_write;
    h->io_poll = io_poll;
    h->io_poll_ready = io_poll_ready;
    h->opaque = opaque;
    atomic_init(&h->deleted, false);
    return h;
}

/* Replaces the handler of @fd with @h (NULL: removes it). */
static void
handlers_set(AioContext *ctx, int fd, AioHandler *h)
{
    AioHandlers *hs = &ctx->handlers;
    AioHandler *old;
    bool woke_always_ready = false;
    bool done = true;

    pthread_mutex_lock(&hs->lock);
    old = g_hash_table_lookup(hs->by_fd, GINT_TO_POINTER(fd));
    if (h == NULL) {
        if (old != NULL) {
            handler_detach(ctx, old, true);
            handler_retire(ctx, old);
        }
    } else {
        done = old != NULL ? handler_replace(ctx, old, h) : handler_register(ctx, h);
        woke_always_ready = done && h->state == HANDLER_ALWAYS_READY;
    }
    pthread_mutex_unlock(&hs->lock);
    if (!done)
        g_free(h);
    /* A monitored fd wakes a sleeper through the monitor's fd by itself; an
     * always-ready one must end a sleep that began before it existed (a
     * registration from another thread). Not from the context's thread: a
     * notify would make its next blocking aio_poll() return at once. */
    if (woke_always_ready && !aio_context_is_owner(ctx))
        aio_notify(ctx);
}

void
aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read, IOHandler *io_write,
                   AioPollFn *io_poll, IOHandler *io_poll_ready, void *opaque)
{
    g_return_if_fail(ctx != NULL);

    if (io_read == NULL && io_write == NULL && io_poll == NULL)
        handlers_set(ctx, fd, NULL);
    else
        handlers_set(ctx, fd, handler_new(fd, io_read, io_write, io_poll, io_poll_ready, opaque));
}

void
aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier, EventNotifierHandler *io_read,
                       AioPollFn *io_poll, EventNotifierHandler *io_poll_ready)
{
    int fd;
    AioHandler *h;

    g_return_if_fail(ctx != NULL);
    g_return_if_fail(notifier != NULL);

    fd = event_notifier_get_fd(notifier);
    if (io_read == NULL && io_poll == NULL) {
        handlers_set(ctx, fd, NULL);
        return;
    }
    /* The handler keeps the notifier's own callback type: no cast of a
     * function pointer to another type, which calling through is undefined. */
    h = handler_new(fd, NULL, NULL, io_poll, NULL, notifier);
    h->notifier_read = io_read;
    h->watch.events = io_read != NULL ? G_IO_IN : 0;
    (void)io_poll_ready; /* kept by QEMU for adaptive polling; not used yet */
    handlers_set(ctx, fd, h);
}

bool
aio_handlers_always_ready(AioContext *ctx)
{
    /* Relaxed: registration from another thread notifies after it. */
    return atomic_load_explicit(&ctx->handlers.n_always_ready, memory_order_relaxed) != 0;
}

bool
aio_handlers_monitored(AioContext *ctx)
{
    return atomic_load_explicit(&ctx->handlers.n_monitored, memory_order_relaxed) != 0;
}

/* Runs @h's callbacks for @revents; true if one ran. */
static bool
handler_dispatch(AioHandler *h, unsigned revents)
{
    bool ran = false;

    /* Acquire, pairs with the release in handler_retire(). Checked again
     * between the callbacks: io_read may remove its own handler (F2). */
    if (atomic_load_explicit(&h->deleted, memory_order_acquire))
        return false;
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        if (h->notifier_read != NULL) {
            h->notifier_read(h->opaque);
            ran = true;
        } else if (h->io_read != NULL) {
            h->io_read(h->opaque);
            ran = true;
        }
    }
    if (atomic_load_explicit(&h->deleted, memory_order_acquire))
        return ran;
    if ((revents & (G_IO_OUT | G_IO_HUP | G_IO_ERR)) && h->io_write != NULL) {
        h->io_write(h->opaque);
        ran = true;
    }
    return ran;
}

/* Lock held: up to @max always-ready handlers that pass @pass has not run. */
static int
handlers_collect_always_ready(AioHandlers *hs, uint64_t pass, AioReadyEvent *ready, int max)
{
    int n = 0;

    for (AioHandler *h = hs->always_ready; h != NULL && n < max; h = h->next) {
        if (h->served_pass >= pass)
            continue;
        ready[n].watch = &h->watch;
        ready[n].revents = h->watch.events;
        n++;
    }
    return n;
}

/* Runs the @n collected events of pass @pass. Sets *@wrapped if one was a
 * handler this pass already ran: the monitor has gone round its ready list. */
static bool
handlers_run_batch(AioContext *ctx, uint64_t pass, AioReadyEvent *ready, int n, bool *wrapped)
{
    bool progress = false;

    ctx->handlers.visits += (uint64_t)n;
    for (int i = 0; i < n; i++) {
        AioHandler *h;

        if (ready[i].watch->kind == AIO_WATCH_TIMER) {
            timers_fired(ctx, ready[i].watch);
            continue;
        }
        h = handler_of_watch(ready[i].watch);
        /* Run once per pass (F1); and not again by an outer pass when a
         * nested one, which a callback ran, already used its readiness. */
        if (h->served_pass >= pass) {
            *wrapped = *wrapped || h->served_pass == pass;
            continue;
        }
        h->served_pass = pass;
        if (handler_dispatch(h, ready[i].revents))
            progress = true;
    }
    return progress;
}

static void
handlers_walk_end(AioHandlers *hs)
{
    AioHandler *dead = NULL;

    pthread_mutex_lock(&hs->lock);
    if (--hs->walkers == 0) {
        dead = hs->deleted;
        hs->deleted = NULL;
    }
    pthread_mutex_unlock(&hs->lock);
    while (dead != NULL) {
        AioHandler *next = dead->next;

        g_free(dead);
        dead = next;
    }
}

bool
aio_handlers_pass(AioContext *ctx, bool monitor_ready)
{
    AioHandlers *hs = &ctx->handlers;
    AioReadyEvent ready[AIO_READY_EVENTS_MAX];
    bool progress = false, wrapped = false;
    uint64_t pass;
    int n;

    if (!monitor_ready && !aio_handlers_always_ready(ctx))
        return false;
    /* Walking from here: no handler collected is freed before
     * handlers_walk_end(), whoever removes it meanwhile. Collecting under
     * the lock orders the registration of every handler it returns (made
     * under the lock, maybe by another thread) before the reads of its
     * fields below. */
    pthread_mutex_lock(&hs->lock);
    hs->walkers++;
    pass = ++hs->passes;
    pthread_mutex_unlock(&hs->lock);
    /* Every ready fd runs once per pass (F1), also when more are ready
     * than one collect returns: collect until a batch comes back short
     * or goes round to handlers already run. */
    while (monitor_ready && !wrapped) {
        pthread_mutex_lock(&hs->lock);
        n = ctx->fdmon->collect(ctx, ready, AIO_READY_EVENTS_MAX);
        pthread_mutex_unlock(&hs->lock);
        GAIO_TEST_PAUSE(GAIO_PAUSE_HANDLERS_COLLECTED, ctx);
        if (handlers_run_batch(ctx, pass, ready, n, &wrapped))
            progress = true;
        if (n < AIO_READY_EVENTS_MAX)
            break;
    }
    do {
        pthread_mutex_lock(&hs->lock);
        n = handlers_collect_always_ready(hs, pass, ready, AIO_READY_EVENTS_MAX);
        pthread_mutex_unlock(&hs->lock);
        if (handlers_run_batch(ctx, pass, ready, n, &wrapped))
            progress = true;
    } while (n == AIO_READY_EVENTS_MAX);
    handlers_walk_end(hs);
    return progress;
}

void
aio_handlers_finalize(AioContext *ctx)
{
    AioHandlers *hs = &ctx->handlers;
    GHashTableIter iter;
    gpointer value;

    g_assert(hs->walkers == 0);
    g_hash_table_iter_init(&iter, hs->by_fd);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_free(value);
    g_hash_table_unref(hs->by_fd);
    pthread_mutex_destroy(&hs->lock);
}
