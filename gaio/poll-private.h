/* poll-private.h: how long a context's thread may sleep, shared by aio_poll()
 * and the GSource.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>

#include "context-private.h"

/* Idle BHs bound every sleep to this (SPEC B7, B8, G2). */
#define AIO_IDLE_BH_TIMEOUT_NS (10 * G_TIME_SPAN_MILLISECOND * 1000)

/* Context thread only, after aio_notify_arm(): 0 when the thread must not
 * sleep, -1 for "until woken", else nanoseconds. */
int64_t aio_compute_timeout_ns(AioContext *ctx);

/* For GLib's poll: -1 stays -1; anything else rounds up, never early. */
int aio_timeout_ns_to_ms(int64_t timeout_ns);
