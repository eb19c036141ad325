/* gsource.c: the AioContext as a GSource: prepare, check, dispatch (SPEC G1-G6).
 *
 * prepare arms the notify handshake and tells GLib how long it may sleep; check
 * says whether anything woke up; dispatch runs one pass. GLib skips check for
 * a source whose prepare returned TRUE, so dispatch disarms too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "bh-private.h"
#include "context-private.h"
#include "fd-handler-private.h"
#include "notify-private.h"
#include "poll-private.h"
#include "test-hooks-private.h"
#include "timer-private.h"

void aio_context_finalize(GSource *source);

static gboolean
aio_source_prepare(GSource *source, gint *timeout)
{
    AioContext *ctx = (AioContext *)source;
    AioContextEntry entry;
    int64_t timeout_ns;

    *timeout = -1;
    if (!aio_context_enter(ctx, &entry))
        return FALSE;
    /* Leftovers are no reason to dispatch (G3), but their memory must not
     * wait for one: free those at the front now. */
    bh_queue_reclaim(ctx);
    /* An I/O thread that just made progress watches for more before it
     * sleeps (bounded, W1): a producer's next BH then costs no wakeup. */
    if (ctx->gsource_spin_ns > 0 && ctx->poll_made_progress) {
        ctx->poll_made_progress = false;
        if (aio_spin_for_work(ctx, ctx->gsource_spin_ns)) {
            aio_context_leave(ctx, &entry);
            return TRUE;
        }
    }
    /* Model: tests/model/gaio.pml @gs_prepare (then GLib's poll, @gs_poll_wake). */
    timeout_ns = aio_prepare_to_sleep(ctx);
    *timeout = aio_timeout_ns_to_ms(timeout_ns);
    aio_context_leave(ctx, &entry);
    if (timeout_ns != 0)
        GAIO_TEST_PAUSE(GAIO_PAUSE_BEFORE_SLEEP, ctx);
    return timeout_ns == 0;
}

static bool
aio_source_wakeup_readable(AioContext *ctx)
{
    return (g_source_query_unix_fd(&ctx->source, ctx->wakeup_tag) & G_IO_IN) != 0;
}

static bool
aio_source_monitor_readable(AioContext *ctx)
{
    return (g_source_query_unix_fd(&ctx->source, ctx->fdmon_tag) & G_IO_IN) != 0;
}

static gboolean
aio_source_check(GSource *source)
{
    AioContext *ctx = (AioContext *)source;
    AioContextEntry entry;
    MpscNode *gap;
    bool ready;

    if (!aio_context_enter(ctx, &entry))
        return FALSE;
    /* Ready for a pending BH, a ready handler, an expired timer; not for
     * leftovers (G3) nor for a gap: a gap sleeper is woken by the link (W1). */
    /* Model: tests/model/gaio.pml @gs_check, @gs_check_notified, @gs_check_queue. */
    aio_notify_disarm(ctx);
    ready = aio_source_wakeup_readable(ctx) || aio_notify_pending(ctx) ||
            aio_source_monitor_readable(ctx) || aio_handlers_always_ready(ctx) ||
            timers_timeout_ns(ctx) == 0;
    if (!ready) {
        BHQueueState state = bh_queue_state(ctx, &gap);

        ready = state == BH_QUEUE_NORMAL_PENDING || state == BH_QUEUE_IDLE_PENDING;
    }
    aio_context_leave(ctx, &entry);
    return ready;
}

static gboolean
aio_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    AioContext *ctx = (AioContext *)source;
    AioContextEntry entry;
    bool progress;

    if (!aio_context_enter(ctx, &entry))
        return G_SOURCE_CONTINUE;
    /* Model: tests/model/gaio.pml @gs_dispatch, @gs_clear, @accept_store, pass. */
    aio_notify_disarm(ctx);
    if (aio_source_wakeup_readable(ctx))
        aio_wakeup_clear(ctx);
    aio_notify_accept(ctx);
    /* One pass: BHs, then ready handlers, then expired timers (G4). */
    progress = bh_pass_run(ctx) != 0;
    if (aio_handlers_pass(ctx, aio_source_monitor_readable(ctx)))
        progress = true;
    if (timers_pass(ctx))
        progress = true;
    ctx->poll_made_progress = progress;
    aio_context_leave(ctx, &entry);
    return G_SOURCE_CONTINUE;
}

GSourceFuncs aio_context_source_funcs = {
    .prepare = aio_source_prepare,
    .check = aio_source_check,
    .dispatch = aio_source_dispatch,
    .finalize = aio_context_finalize,
};
