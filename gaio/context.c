/* context.c: the AioContext's life: new, references, the default context,
 * finalize, and which thread runs it (SPEC C1-C5, I1).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "bh-private.h"
#include "context-private.h"
#include "i18n-private.h"
#include "notify-private.h"
#include "poll-private.h"
#include "thread-pool-private.h"

G_DEFINE_BOXED_TYPE(AioContext, aio_context, aio_context_ref, aio_context_unref)

/* The innermost context this thread runs (aio_context_get_current()). */
static _Thread_local AioContext *current_context;
/* The context of the I/O thread this is, if it is one (I1). */
static _Thread_local AioContext *home_context;
/* Its address identifies the thread for C5; cheaper than g_thread_self(). */
static _Thread_local char thread_identity;

AioContext *
aio_context_new(GError **error)
{
    GSource *source;
    AioContext *ctx;

    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    gaio_i18n_init();
    source = g_source_new(&aio_context_source_funcs, sizeof(AioContext));
    ctx = (AioContext *)source;
    ctx->wakeup_fd = -1;
    ctx->fdmon = &fdmon_epoll_ops;
    ctx->fdmon_fd = -1;
    bh_context_init(ctx);
    aio_handlers_init(ctx);
    timers_init(ctx);
    atomic_init(&ctx->owner, NULL);
    ctx->owner_depth = 0;
    ctx->poll_spin_ns = AIO_POLL_SPIN_NS;
    /* Under GLib, a spin would burn CPU beside every other source of a GUI
     * or server loop: only I/O threads, which exist to run their context,
     * spin there. */
    ctx->gsource_spin_ns = 0;
    /* Finalize undoes whatever part of this succeeded. */
    if (!aio_wakeup_init(ctx, error) || !ctx->fdmon->init(ctx, error) ||
        !timers_open(ctx, error)) {
        g_source_unref(source);
        return NULL;
    }
    /* GLib polls two fds per context, whatever the number of handlers and
     * timers (G6): the wakeup eventfd and the monitor's. */
    ctx->wakeup_tag = g_source_add_unix_fd(source, ctx->wakeup_fd, G_IO_IN);
    ctx->fdmon_tag = g_source_add_unix_fd(source, ctx->fdmon_fd, G_IO_IN);
    g_source_set_name(source, "AioContext");
    /* A source that cannot recurse has its fds removed from the poll set and
     * added back around every dispatch, two wakeups of GLib's own each time;
     * and a BH may legitimately iterate the main context it runs in. */
    g_source_set_can_recurse(source, TRUE);
    return ctx;
}

/* GSourceFuncs.finalize, called by GLib when the last reference goes. */
void aio_context_finalize(GSource *source);
void
aio_context_finalize(GSource *source)
{
    AioContext *ctx = (AioContext *)source;

    /* First: running functions finish, and their completions would
     * schedule the pool's BH (TP5). */
    thread_pool_finalize(ctx);
    bh_context_finalize(ctx);
    aio_handlers_finalize(ctx);
    timers_finalize(ctx);
    ctx->fdmon->cleanup(ctx);
    aio_wakeup_cleanup(ctx);
}

AioContext *
aio_context_ref(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, NULL);

    g_source_ref(&ctx->source);
    return ctx;
}

void
aio_context_unref(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);

    g_source_unref(&ctx->source);
}

GSource *
aio_get_g_source(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, NULL);

    return g_source_ref(&ctx->source);
}

AioContext *
qemu_get_aio_context(void)
{
    static gsize default_context;

    if (g_once_init_enter(&default_context)) {
        g_autoptr(GError) error = NULL;
        AioContext *ctx = aio_context_new(&error);

        if (ctx == NULL)
            g_error("gaio: cannot create the default AioContext: %s", error->message);
        /* The default main context holds the only reference, for ever. */
        g_source_attach(&ctx->source, g_main_context_default());
        g_source_unref(&ctx->source);
        g_once_init_leave(&default_context, (gsize)ctx);
    }
    return (AioContext *)default_context;
}

bool
aio_context_enter(AioContext *ctx, AioContextEntry *entry)
{
    void *self = &thread_identity;
    void *owner = NULL;

    /* acquire on success, pairs with the release in aio_context_leave(): the
     * previous owner's writes to the context's thread-only state are seen. */
    if (!atomic_compare_exchange_strong_explicit(&ctx->owner, &owner, self,
                                                 memory_order_acquire,
                                                 memory_order_relaxed) &&
        owner != self) {
        g_critical("AioContext %p is already running in another thread; "
                   "one thread at a time may run a context",
                   (void *)ctx);
        return false;
    }
    ctx->owner_depth++;
    entry->prev_current = current_context;
    current_context = ctx;
    return true;
}

void
aio_context_leave(AioContext *ctx, AioContextEntry *entry)
{
    current_context = entry->prev_current;
    if (--ctx->owner_depth == 0)
        /* Pairs with the acquire in aio_context_enter(). */
        atomic_store_explicit(&ctx->owner, NULL, memory_order_release);
}

bool
aio_context_is_owner(AioContext *ctx)
{
    /* Relaxed: only this thread stores its own identity there. */
    return atomic_load_explicit(&ctx->owner, memory_order_relaxed) == &thread_identity;
}

AioContext *
aio_context_get_current(void)
{
    return current_context != NULL ? current_context : home_context;
}

void
aio_context_set_home(AioContext *ctx)
{
    home_context = ctx;
}

bool
aio_context_runs_here(AioContext *ctx)
{
    GMainContext *mc;

    if (aio_context_is_owner(ctx) || home_context == ctx)
        return true;
    /* The owner of the GMainContext it is attached to runs it too (I2).
     * g_main_context_is_owner() only looks under GLib's lock: it never
     * acquires the context. */
    mc = g_source_get_context(&ctx->source);
    return mc != NULL && g_main_context_is_owner(mc);
}
