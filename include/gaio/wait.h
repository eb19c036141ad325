/* wait.h: waiting for work in another context: aio_wait_bh_oneshot(),
 * AIO_WAIT_WHILE() and aio_wait_kick().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>
#include <gaio/bh.h>

G_BEGIN_DECLS

/**
 * aio_wait_bh_oneshot:
 * @ctx: the context to run @cb in
 * @cb: the callback
 * @opaque: its argument
 *
 * Runs @cb(@opaque) in @ctx's thread and returns once it has finished. From
 * @ctx's own thread (its I/O thread, a thread inside aio_poll() or the
 * dispatch of @ctx, or the owner of the #GMainContext @ctx is attached to)
 * it runs @cb at once, inline (I2). A caller whose thread runs a context
 * goes on running that context while it waits (the innermost one when
 * nested), so two threads waiting on each other's contexts both finish
 * (I3); a thread that runs no context sleeps.
 *
 * Thread-safe; not from a signal handler.
 */
GAIO_AVAILABLE_IN_ALL
void aio_wait_bh_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque);

/**
 * aio_wait_kick:
 *
 * Wakes every AIO_WAIT_WHILE() in progress, so that it evaluates its
 * condition again. Call it after making such a condition false, from any
 * thread. Costs one atomic load when nobody waits.
 *
 * Thread-safe; not from a signal handler.
 */
GAIO_AVAILABLE_IN_ALL
void aio_wait_kick(void);

/* The state of one AIO_WAIT_WHILE(); private. */
typedef struct {
    /*< private >*/
    AioContext *poll_ctx;
    uint64_t seq;
    gpointer reserved[2];
} AioWaitFrame;

GAIO_AVAILABLE_IN_ALL
void aio_wait_frame_begin(AioWaitFrame *frame, AioContext *ctx);
GAIO_AVAILABLE_IN_ALL
void aio_wait_frame_wait(AioWaitFrame *frame);
GAIO_AVAILABLE_IN_ALL
void aio_wait_frame_end(AioWaitFrame *frame);

/**
 * AIO_WAIT_WHILE:
 * @ctx: the context whose work makes @cond false
 * @cond: an expression, evaluated again after each wakeup
 *
 * QEMU's waiting idiom: waits while @cond is true. In @ctx's own thread it
 * runs @ctx (aio_poll() blocking) until @cond is false. In another thread it
 * runs the context that thread runs, if any (I3), and otherwise sleeps; the
 * thread that makes @cond false calls aio_wait_kick() (a BH of @ctx that
 * changes @cond needs no kick when the waiter runs @ctx itself).
 *
 * Evaluates to %true if it waited at all. A GNU C statement expression, as
 * in QEMU.
 */
#define AIO_WAIT_WHILE(ctx, cond)                                                          \
    ({                                                                                     \
        bool aio_wait_waited_ = false;                                                     \
        AioWaitFrame aio_wait_frame_;                                                      \
        aio_wait_frame_begin(&aio_wait_frame_, (ctx));                                     \
        while ((cond)) {                                                                   \
            aio_wait_frame_wait(&aio_wait_frame_);                                         \
            aio_wait_waited_ = true;                                                       \
        }                                                                                  \
        aio_wait_frame_end(&aio_wait_frame_);                                              \
        aio_wait_waited_;                                                                  \
    })

G_END_DECLS
