/* bh-private.h: bottom halves inside the library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdatomic.h>

#include "context-private.h"

/* Where the BH queue stands, as seen by the context's thread. */
typedef enum {
    /* Nothing queued, or only leftovers (cancelled or deleted BHs): neither
     * is a reason to stay awake (G3). */
    BH_QUEUE_NOTHING_PENDING,
    BH_QUEUE_IDLE_PENDING,   /* idle BHs pending, no normal one */
    BH_QUEUE_NORMAL_PENDING, /* a normal BH is pending */
} BHQueueState;

void bh_context_init(AioContext *ctx);
/* Frees every BH of @ctx; a g_debug names those never deleted (C4). */
void bh_context_finalize(AioContext *ctx);

/* Context thread only. O(1) when the first queued BH is normal-pending;
 * otherwise it looks at the whole queue, up to its last node or to a gap: a
 * node whose successor a producer has exchanged but not linked yet. *@gap is
 * that node, or NULL; the state is that of the nodes before it. */
BHQueueState bh_queue_state(AioContext *ctx, MpscNode **gap);

/* Context thread only: pops and frees the leftovers (cancelled or deleted
 * BHs) at the front of the queue, up to the first pending BH, without
 * running anything (G3: reclaiming is not readiness). */
void bh_queue_reclaim(AioContext *ctx);

/* Context thread only, @ctx entered: one pass (B5). 1 if a normal BH ran. */
int bh_pass_run(AioContext *ctx);
