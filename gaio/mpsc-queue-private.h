/* mpsc-queue-private.h: an intrusive, wait-free multi-producer queue with one
 * consumer (after Dmitry Vyukov's non-intrusive MPSC node queue).
 *
 * Push is one exchange and one store: no loop, no lock, no allocation, so it is
 * wait-free and async-signal-safe, even from a handler that interrupted another
 * push on the same thread. Order is the order of the exchanges: FIFO.
 *
 * The price is a short gap: between a producer's exchange and its link store,
 * nodes behind it are unreachable. A pass treats them as not yet queued; an
 * owner that finds such a gap spins on it briefly, then sleeps armed so that
 * the producer's link wakes it (bh_queue_state(), poll.c, notify.c; W1).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "test-hooks-private.h"

typedef struct MpscNode MpscNode;
struct MpscNode {
    MpscNode *_Atomic next;
};

typedef struct {
    /* Producers' end: the node pushed last. Written only by exchange. */
    MpscNode *_Atomic last;
    /* Consumer's end: the next node to pop (maybe the stub). Consumer only. */
    MpscNode *first;
    /* Placeholder that keeps the queue non-empty, so producers never touch
     * `first`. It is re-pushed whenever the consumer takes the last node. */
    MpscNode stub;
} MpscQueue;

static inline void
mpsc_queue_init(MpscQueue *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->last, &q->stub);
    q->first = &q->stub;
}

/* Any thread, any time, async-signal-safe. */
static inline void
mpsc_queue_push(MpscQueue *q, MpscNode *node)
{
    MpscNode *prev;

    atomic_store_explicit(&node->next, NULL, memory_order_relaxed);
    /* seq_cst: releases node->next = NULL (and the caller's writes) to whoever
     * exchanges after us and acquires the previous node so we may link it;
     * and, being in the total order S, it is the enqueue that the owner's
     * fence before sleeping is ordered against (see notify.c). */
    /* Model: tests/model/gaio.pml @push_xchg. */
    prev = atomic_exchange_explicit(&q->last, node, memory_order_seq_cst);
    GAIO_TEST_PAUSE(GAIO_PAUSE_PUSH_LINK, node);
    /* Pairs with the acquire loads of ->next in mpsc_queue_pop()/peek: the
     * consumer that reaches `node` sees everything written before the push. */
    /* Model: tests/model/gaio.pml @push_link. */
    atomic_store_explicit(&prev->next, node, memory_order_release);
}

/* Consumer only. The node pushed last at this instant (the stub when the queue
 * holds no node). Used to bound a pass to what was queued when it started. */
static inline MpscNode *
mpsc_queue_last(MpscQueue *q)
{
    /* Pairs with the exchange in mpsc_queue_push(). */
    return atomic_load_explicit(&q->last, memory_order_acquire);
}

/* Consumer only. Removes and returns the first node, or NULL when the queue
 * is empty or its first node is still being linked. The stub is returned too
 * when it leaves the front: callers skip it, but it is a point in the queue's
 * order (a pass that started when the stub was last ends there). A popped node
 * may be pushed again at once. */
static inline MpscNode *
mpsc_queue_pop(MpscQueue *q)
{
    MpscNode *first = q->first;
    /* Pairs with the release link store in mpsc_queue_push(). */
    /* Model: tests/model/gaio.pml inline pop, @pop_next. */
    MpscNode *next = atomic_load_explicit(&first->next, memory_order_acquire);

    if (next != NULL) {
        q->first = next;
        return first;
    }
    if (first == &q->stub)
        return NULL; /* empty, or a producer still linking behind the stub */
    /* `first` looks like the last node. If a producer has exchanged past it
     * but not linked yet, leave it for later: the gap. */
    /* Model: tests/model/gaio.pml @pop_gap, @pop_last. */
    if (first != atomic_load_explicit(&q->last, memory_order_acquire))
        return NULL;
    /* Push the stub behind `first` so `first` can leave while producers keep
     * a node to exchange against. A producer may slip in before the stub; then
     * `first` waits for its link, and the stub is no longer last. */
    /* Model: tests/model/gaio.pml @pop_stub, @pop_relink. */
    mpsc_queue_push(q, &q->stub);
    next = atomic_load_explicit(&first->next, memory_order_acquire);
    if (next != NULL) {
        q->first = next;
        return first;
    }
    return NULL;
}

/* Consumer only. Puts back @node, just returned by mpsc_queue_pop(), at the
 * front. Its link still leads to the new front (a popped node has a
 * successor), and nobody pushes a node that is still counted as queued. */
static inline void
mpsc_queue_unpop(MpscQueue *q, MpscNode *node)
{
    q->first = node;
}
