/* bh-slab.c: BH memory, in 4 KiB slabs owned by the context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>

#include "bh-slab-private.h"

_Static_assert(sizeof(BHSlab) <= BH_SLAB_SIZE, "a slab fits its 4 KiB block");
_Static_assert(sizeof(QEMUBH) == 32, "two BHs to a cache line");

static inline BHSlabs *
slabs_of(AioContext *ctx)
{
    return &ctx->bh_slabs;
}

void
bh_slabs_init(BHSlabs *slabs)
{
    pthread_mutex_init(&slabs->lock, NULL);
    slabs->all = NULL;
    slabs->partial = NULL;
    slabs->n_empty = 0;
}

static void
partial_push(BHSlabs *slabs, BHSlab *slab)
{
    slab->prev_partial = NULL;
    slab->next_partial = slabs->partial;
    if (slabs->partial != NULL)
        slabs->partial->prev_partial = slab;
    slabs->partial = slab;
    slab->in_partial = true;
}

static void
partial_remove(BHSlabs *slabs, BHSlab *slab)
{
    if (slab->prev_partial != NULL)
        slab->prev_partial->next_partial = slab->next_partial;
    else
        slabs->partial = slab->next_partial;
    if (slab->next_partial != NULL)
        slab->next_partial->prev_partial = slab->prev_partial;
    slab->in_partial = false;
}

static BHSlab *
slab_new(AioContext *ctx, BHSlabs *slabs)
{
    BHSlab *slab = aligned_alloc(BH_SLAB_SIZE, BH_SLAB_SIZE);

    if (slab == NULL)
        g_error("gaio: out of memory for a BH slab");
    memset(slab, 0, offsetof(BHSlab, slots));
    slab->ctx = ctx;
    slab->next = slabs->all;
    if (slabs->all != NULL)
        slabs->all->prev = slab;
    slabs->all = slab;
    partial_push(slabs, slab);
    slabs->n_empty++;
    return slab;
}

static void
slab_destroy(BHSlabs *slabs, BHSlab *slab)
{
    if (slab->in_partial)
        partial_remove(slabs, slab);
    if (slab->prev != NULL)
        slab->prev->next = slab->next;
    else
        slabs->all = slab->next;
    if (slab->next != NULL)
        slab->next->prev = slab->prev;
    free(slab);
}

static unsigned
slab_take_free_slot(BHSlab *slab)
{
    for (unsigned w = 0;; w++) {
        uint64_t free_bits = ~slab->used[w];

        if (free_bits != 0) {
            unsigned bit = (unsigned)__builtin_ctzll(free_bits);

            slab->used[w] |= UINT64_C(1) << bit;
            return w * 64 + bit;
        }
    }
}

QEMUBH *
bh_slab_alloc(AioContext *ctx, const char *name)
{
    BHSlabs *slabs = slabs_of(ctx);
    BHSlab *slab;
    unsigned index;

    pthread_mutex_lock(&slabs->lock);
    slab = slabs->partial != NULL ? slabs->partial : slab_new(ctx, slabs);
    if (slab->n_used++ == 0)
        slabs->n_empty--;
    index = slab_take_free_slot(slab);
    g_assert(index < BH_SLAB_SLOTS);
    if (slab->n_used == BH_SLAB_SLOTS)
        partial_remove(slabs, slab);
    slab->names[index] = name;
    pthread_mutex_unlock(&slabs->lock);
    return &slab->slots[index];
}

void
bh_slab_free(QEMUBH *bh)
{
    BHSlab *slab = bh_slab_of(bh);
    BHSlabs *slabs = slabs_of(slab->ctx);
    unsigned index = (unsigned)(bh - slab->slots);

    pthread_mutex_lock(&slabs->lock);
    slab->used[index / 64] &= ~(UINT64_C(1) << (index % 64));
    slab->names[index] = NULL;
    if (!slab->in_partial)
        partial_push(slabs, slab);
    /* Keep one empty slab, so a oneshot at a time does not map and unmap a
     * slab per run; give the others back. */
    if (--slab->n_used == 0 && slabs->n_empty++ > 0) {
        slabs->n_empty--;
        slab_destroy(slabs, slab);
    }
    pthread_mutex_unlock(&slabs->lock);
}

void
bh_slabs_clear(BHSlabs *slabs, void (*visit)(QEMUBH *bh))
{
    while (slabs->all != NULL) {
        BHSlab *slab = slabs->all;

        for (unsigned i = 0; i < BH_SLAB_SLOTS; i++)
            if (slab->used[i / 64] & (UINT64_C(1) << (i % 64)))
                visit(&slab->slots[i]);
        slab_destroy(slabs, slab);
    }
    slabs->n_empty = 0;
    pthread_mutex_destroy(&slabs->lock);
}

unsigned
bh_slabs_live(BHSlabs *slabs)
{
    unsigned live = 0;

    pthread_mutex_lock(&slabs->lock);
    for (BHSlab *slab = slabs->all; slab != NULL; slab = slab->next)
        live += slab->n_used;
    pthread_mutex_unlock(&slabs->lock);
    return live;
}
