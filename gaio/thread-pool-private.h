/* thread-pool-private.h: a context's thread pool (thread-pool.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdbool.h>

typedef struct _AioContext AioContext;

/* TP5: cancels what has not started, waits for what runs, drops the
 * completions not delivered (a g_debug counts them), frees the pool. */
void thread_pool_finalize(AioContext *ctx);

/* Requests submitted and not yet completed (done not returned). */
unsigned thread_pool_in_flight(AioContext *ctx);
