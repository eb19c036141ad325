/* bh-slab-private.h: where BHs live. Each context carves its BHs out of
 * 4 KiB slabs it owns: a BH is 32 bytes (two to a cache line, never split),
 * its context and debug name sit in the slab, and finalize finds every BH,
 * scheduled or not, by walking the slabs (C4).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "context-private.h"
#include "mpsc-queue-private.h"

struct QEMUBH {
    MpscNode node; /* first: a queue node is a BH */
    atomic_uint flags;
    QEMUBHFunc *cb;
    void *opaque;
};

#define BH_SLAB_SIZE 4096
#define BH_SLAB_SLOTS 100

struct BHSlab {
    AioContext *ctx;
    BHSlab *prev, *next;                 /* every slab of the context */
    BHSlab *prev_partial, *next_partial; /* those with a free slot */
    bool in_partial;
    unsigned n_used;
    uint64_t used[(BH_SLAB_SLOTS + 63) / 64];
    const char *names[BH_SLAB_SLOTS]; /* cold: only debug output reads them */
    _Alignas(32) QEMUBH slots[BH_SLAB_SLOTS];
};

static inline BHSlab *
bh_slab_of(QEMUBH *bh)
{
    return (BHSlab *)((uintptr_t)bh & ~(uintptr_t)(BH_SLAB_SIZE - 1));
}

static inline AioContext *
bh_context(QEMUBH *bh)
{
    return bh_slab_of(bh)->ctx;
}

static inline const char *
bh_name(QEMUBH *bh)
{
    BHSlab *slab = bh_slab_of(bh);

    return slab->names[bh - slab->slots];
}

void bh_slabs_init(BHSlabs *slabs);
/* BHSlabs (in context-private.h) is taken on new and free, never on schedule.
 * Any thread. A slot with its name set; the caller fills the rest. */
QEMUBH *bh_slab_alloc(AioContext *ctx, const char *name);
/* Any thread; @bh must be unreachable by then. */
void bh_slab_free(QEMUBH *bh);
/* Finalize: calls @visit on every BH still allocated, then frees the slabs. */
void bh_slabs_clear(BHSlabs *slabs, void (*visit)(QEMUBH *bh));
/* How many BHs are allocated (not yet freed): for tests. Any thread. */
unsigned bh_slabs_live(BHSlabs *slabs);
