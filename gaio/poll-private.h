/* poll-private.h: how long a context's thread may sleep, shared by aio_poll()
 * and the GSource.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>

#include "context-private.h"

/* How long a blocking aio_poll() that follows progress watches the queue
 * before it sleeps (poll.c). */
#define AIO_POLL_SPIN_NS 4000

/* Idle BHs bound every sleep to this (SPEC B7, B8, G2). */
#define AIO_IDLE_BH_TIMEOUT_MS 10
#define AIO_IDLE_BH_TIMEOUT_NS ((int64_t)AIO_IDLE_BH_TIMEOUT_MS * 1000000)

/* A gap (a producer between its exchange and its link, W1): the owner spins
 * this long on a gap it has not seen before, then sleeps, armed so that the
 * producer's link wakes it, and looks again after at most AIO_GAP_SLEEP_NS
 * anyway (the producer's link store and its load of notify_me are not
 * fenced: a fence would cost every schedule, and formally the load may be
 * satisfied before the store is seen). */
#define AIO_GAP_SPIN_NS 20000
#define AIO_GAP_SLEEP_NS AIO_IDLE_BH_TIMEOUT_NS

/* Context thread only: how long the owner may sleep now. When that is not 0,
 * notify_me is armed (the caller disarms after its sleep). A first look
 * without arming spares the fences when work is already pending. */
int64_t aio_prepare_to_sleep(AioContext *ctx);

/* Context thread only, after a pass that made progress: watches the BH
 * queue for up to @budget_ns (bounded: W1) before the caller arms and
 * sleeps. True if work arrived. */
bool aio_spin_for_work(AioContext *ctx, int64_t budget_ns);

/* How long an I/O thread's context spins so (QEMU's iothreads poll up to
 * 32 us by default): longer than a cross-thread round trip, so a ping-pong
 * between I/O threads rarely pays a wakeup. */
#define AIO_IOTHREAD_SPIN_NS 32000

/* For GLib's poll: -1 stays -1; anything else rounds up, never early. */
int aio_timeout_ns_to_ms(int64_t timeout_ns);
