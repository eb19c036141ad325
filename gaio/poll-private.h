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
#define AIO_IDLE_BH_TIMEOUT_NS (10 * G_TIME_SPAN_MILLISECOND * 1000)

/* Context thread only: 0 when the thread must not sleep, -1 for "until
 * woken", else nanoseconds. Final only after aio_notify_arm(). */
int64_t aio_compute_timeout_ns(AioContext *ctx);

/* Context thread only: how long the owner may sleep now. When that is not 0,
 * notify_me is armed (the caller disarms after its sleep). A first look
 * without arming spares the fences when work is already pending. */
int64_t aio_prepare_to_sleep(AioContext *ctx);

/* For GLib's poll: -1 stays -1; anything else rounds up, never early. */
int aio_timeout_ns_to_ms(int64_t timeout_ns);
