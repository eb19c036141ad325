/* notify.c: waking a context's thread, without losing a wakeup and without a
 * system call when the thread is awake (SPEC W1, B13).
 *
 * Why no wakeup is lost. The owner, before it sleeps: notify_me = ARMED plus
 * what it sleeps through (LONG: longer than an idle BH may wait; GAP: a push
 * not linked yet) (seq_cst); F_C; look at `notified` (seq_cst) and at the BH
 * queue up to its last node or a gap, refusing to sleep if a normal BH is
 * pending.
 *
 * A BH schedule enqueues with a seq_cst read-modify-write (the exchange of the
 * queue's last node, or a read-modify-write of an already queued BH's flags),
 * then reads notify_me (seq_cst) and wakes the owner if it has a bit that
 * concerns what was enqueued. If the owner's look missed that write, F_C comes
 * before it in the single total order S of seq_cst operations, so the
 * producer's read of notify_me, later in S than the owner's store, sees the
 * bits. A look that saw the exchange but not the link found a gap: the
 * producer reads notify_me after its link and wakes an owner armed with GAP
 * (that store and load are not fenced, so the gap sleeper also looks again
 * within AIO_GAP_SLEEP_NS).
 * It then exchanges `notified` to true; the winner writes the eventfd. A loser
 * found `notified` set by some P' since the owner's last accept (F_A makes
 * older values invisible to it, else the owner's next look sees its BH): P'
 * either saw notify_me true and wrote (a write the owner has not read yet,
 * since reading comes before accepting) or saw it false, and then (all
 * seq_cst) the owner's look at `notified` sees P''s true and it does not
 * sleep.
 *
 * A bare aio_notify() has no enqueue to order, so it starts with a full fence
 * (F_P) and always sets `notified`: a notify while the owner is awake makes
 * its next blocking aio_poll() return without sleeping.
 *
 * Leftovers are harmless: an eventfd write the owner did not need makes its
 * next sleep return at once with no progress (SPEC P2).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gio/gio.h>

#include "i18n-private.h"
#include "notify-private.h"

bool
aio_wakeup_init(AioContext *ctx, GError **error)
{
    atomic_init(&ctx->notify_me, 0);
    atomic_init(&ctx->notified, false);
    ctx->wakeup_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->wakeup_fd < 0) {
        int saved_errno = errno;

        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved_errno),
                    _("Could not create the wakeup event of an AioContext: %s"),
                    g_strerror(saved_errno));
        return false;
    }
    return true;
}

void
aio_wakeup_cleanup(AioContext *ctx)
{
    if (ctx->wakeup_fd >= 0)
        close(ctx->wakeup_fd);
    ctx->wakeup_fd = -1;
}

/* Async-signal-safe and loop-free: one write(2), and errno is the
 * interrupted code's. The eventfd is non-blocking, so the write cannot be
 * interrupted (no EINTR); EAGAIN means the counter is saturated, so the fd is
 * readable already. */
static void
aio_wakeup_signal(AioContext *ctx)
{
    const uint64_t one = 1;
    int saved_errno = errno;

    if (write(ctx->wakeup_fd, &one, sizeof one) < 0)
        g_assert(errno == EAGAIN);
    errno = saved_errno;
}

void
aio_wakeup_clear(AioContext *ctx)
{
    uint64_t value;
    ssize_t r;

    do {
        r = read(ctx->wakeup_fd, &value, sizeof value);
    } while (r < 0 && errno == EINTR);
}

/* The slow path of a wakeup, once notify_me was seen true or for a bare
 * notify: only the first notifier since the owner's last accept writes. */
void
aio_notify_wake(AioContext *ctx)
{
    /* Cheap read first: under load `notified` stays set and producers only
     * read this line instead of fighting over it. */
    /* Model: tests/model/gaio.pml inline notify_wake, @wake_precheck. */
    if (atomic_load_explicit(&ctx->notified, memory_order_relaxed))
        return;
    /* seq_cst, pairs with aio_notify_pending(): if we then read notify_me ==
     * false, the owner's later look at `notified` sees this `true`. */
    /* Model: tests/model/gaio.pml @wake_xchg. */
    if (atomic_exchange_explicit(&ctx->notified, true, memory_order_seq_cst))
        return; /* another notifier got there first and does the rest */
    /* seq_cst, pairs with the seq_cst store in aio_notify_arm(). */
    /* Model: tests/model/gaio.pml @wake_load, @wake_write. */
    if (atomic_load_explicit(&ctx->notify_me, memory_order_seq_cst))
        aio_wakeup_signal(ctx);
}

void
aio_notify(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);

    /* F_P, pairs with F_C in aio_notify_arm() and F_A in aio_notify_accept():
     * the caller's writes (a condition the owner re-checks) are ordered
     * before the reads of `notified` and notify_me. */
    /* Model: tests/model/gaio.pml inline bare_notify, @notify_fence. */
    atomic_thread_fence(memory_order_seq_cst);
    aio_notify_wake(ctx);
}
