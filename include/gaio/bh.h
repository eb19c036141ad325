/* bh.h: bottom halves, the cheap deferred callbacks of an AioContext.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdint.h>
#include <glib.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>

G_BEGIN_DECLS

/**
 * QEMUBH:
 *
 * A bottom half: a preallocated callback of one #AioContext. Scheduling it is
 * wait-free and async-signal-safe; schedules of a pending BH coalesce into one
 * run; pending BHs run in the order in which they became pending.
 */
typedef struct QEMUBH QEMUBH;

/**
 * QEMUBHFunc:
 * @opaque: the pointer given when the BH was made
 *
 * The callback of a bottom half. It runs in the context's thread.
 */
typedef void QEMUBHFunc(void *opaque);

/**
 * aio_bh_new_full:
 * @ctx: the context to run in
 * @cb: the callback
 * @opaque: its argument
 * @name: (nullable): a name for debug output; kept, not copied, so it must
 *   outlive the BH (a string literal, as QEMU's callers pass)
 *
 * Makes a bottom half of @ctx. It does not run until scheduled. Free it with
 * qemu_bh_delete(); the context frees those still alive when it is finalized.
 *
 * Thread-safe.
 *
 * Returns: (transfer full): the new BH
 */
GAIO_AVAILABLE_IN_ALL
QEMUBH *aio_bh_new_full(AioContext *ctx, QEMUBHFunc *cb, void *opaque, const char *name);

/**
 * aio_bh_new:
 * @ctx: the context to run in
 * @cb: the callback
 * @opaque: its argument
 *
 * aio_bh_new_full() without a name. Used through the macro of the same name,
 * the BH is named after @cb, as in QEMU.
 *
 * Thread-safe.
 *
 * Returns: (transfer full): the new BH
 */
GAIO_AVAILABLE_IN_ALL
QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque);
#define aio_bh_new(ctx, cb, opaque) aio_bh_new_full((ctx), (cb), (opaque), G_STRINGIFY(cb))

/**
 * qemu_bh_new:
 * @cb: the callback
 * @opaque: its argument
 *
 * A bottom half of the default context, qemu_get_aio_context().
 *
 * Thread-safe.
 *
 * Returns: (transfer full): the new BH
 */
GAIO_AVAILABLE_IN_ALL
QEMUBH *qemu_bh_new(QEMUBHFunc *cb, void *opaque);
#define qemu_bh_new(cb, opaque) \
    aio_bh_new_full(qemu_get_aio_context(), (cb), (opaque), G_STRINGIFY(cb))

/**
 * qemu_bh_schedule:
 * @bh: a bottom half
 *
 * Makes @bh pending: its callback runs in the context's next pass, never
 * inside this call. Schedules of a pending BH coalesce. Wakes the context if
 * it sleeps; costs no system call when it is awake. A pending idle BH becomes
 * a normal one.
 *
 * Called from another thread or a signal handler, it must have returned
 * before the last reference of the BH's context goes (aio_context_unref()):
 * finalizing the context frees its BHs. A callback may drop the last
 * reference of its own context.
 *
 * Thread-safe; async-signal-safe; wait-free.
 */
GAIO_AVAILABLE_IN_ALL
void qemu_bh_schedule(QEMUBH *bh);

/**
 * qemu_bh_schedule_idle:
 * @bh: a bottom half
 *
 * Makes @bh pending without waking the context: it runs at the next pass, and
 * while it is pending the loop sleeps at most 10 ms at a time. Its run is not
 * progress for aio_poll(). A pending normal BH stays normal.
 *
 * The same duty as for qemu_bh_schedule(): called from another thread or a
 * signal handler, it must have returned before the context's last reference
 * goes.
 *
 * Thread-safe; async-signal-safe; wait-free.
 */
GAIO_AVAILABLE_IN_ALL
void qemu_bh_schedule_idle(QEMUBH *bh);

/**
 * qemu_bh_cancel:
 * @bh: a bottom half
 *
 * A pending BH whose callback has not started will not run. @bh stays valid
 * and can be scheduled again.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void qemu_bh_cancel(QEMUBH *bh);

/**
 * qemu_bh_delete:
 * @bh: (transfer full): a bottom half
 *
 * Cancels and frees @bh. Legal inside any callback, @bh's own included, and
 * from any thread; the memory is reclaimed by the context once no pass can
 * touch it. Called on the context's thread, the callback never starts after
 * this returns.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void qemu_bh_delete(QEMUBH *bh);

/**
 * aio_bh_schedule_oneshot:
 * @ctx: the context to run in
 * @cb: the callback
 * @opaque: its argument
 *
 * Runs @cb(@opaque) once in @ctx, as a BH that frees itself. It allocates, so
 * unlike qemu_bh_schedule() it is not async-signal-safe.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque);

/**
 * aio_bh_poll:
 * @ctx: a context
 *
 * Runs one pass: the BHs that were pending when it started, each once, in the
 * order in which they became pending. BHs that become pending meanwhile run in
 * the next pass.
 *
 * Holds a reference on @ctx for the whole pass, so a callback may drop the
 * last reference of its own context; @ctx is then freed as this returns.
 *
 * Context thread only: refused with a critical, as aio_poll() is, while
 * another thread runs @ctx.
 *
 * Returns: 1 if at least one non-idle BH ran, else 0
 */
GAIO_AVAILABLE_IN_ALL
int aio_bh_poll(AioContext *ctx);

/**
 * aio_bh_update_timeout:
 * @ctx: a context
 * @timeout_ms: (inout): a poll timeout in milliseconds, lowered if needed
 *
 * Lowers *@timeout_ms to 0 if a normal BH is pending, to at most 10 if only idle
 * BHs are; otherwise leaves it unchanged. (UINT32_MAX stands for "forever".)
 *
 * Context thread only.
 */
GAIO_AVAILABLE_IN_ALL
void aio_bh_update_timeout(AioContext *ctx, uint32_t *timeout_ms);

G_END_DECLS
