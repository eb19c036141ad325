/* model-bh.c: the BHs of the reference model, SPEC B1-B14 (see model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "model-private.h"

static uint32_t
model_new_bh(Model *m)
{
    m->bhs = model_grow(m->bhs, &m->cap_bhs, m->n_bhs + 1, sizeof *m->bhs);
    memset(&m->bhs[m->n_bhs], 0, sizeof m->bhs[m->n_bhs]);
    return (uint32_t)m->n_bhs++;
}

static void
model_append(Model *m, uint32_t bh)
{
    if (m->head == m->tail)
        m->head = m->tail = 0;
    m->queue = model_grow(m->queue, &m->cap_queue, m->tail + 1, sizeof *m->queue);
    m->queue[m->tail++] = (ModelBhEntry){.bh = bh, .seq = m->next_seq++};
    m->bhs[bh].queued = true;
}

/* Makes @bh pending as normal or idle (B2, B7); appends it unless it already
 * has an entry (B4: a cancelled leftover keeps its place). */
static void
model_make_pending(Model *m, uint32_t bh, bool idle)
{
    ModelBh *b = &m->bhs[bh];

    if (!b->normal && !b->idle)
        b->since = m->passes;
    if (idle)
        b->idle = true;
    else
        b->normal = true;
    if (!b->queued)
        model_append(m, bh);
}

void
model_bh_new(Model *m, unsigned slot)
{
    uint32_t bh;

    if (m->slot_bh[slot] >= 0)
        return;
    bh = model_new_bh(m);
    m->bhs[bh].slot = (uint8_t)slot;
    m->bhs[bh].id = ++m->slot_gen[slot];
    m->slot_bh[slot] = (int32_t)bh;
}

void
model_bh_schedule(Model *m, unsigned slot, bool idle)
{
    model_bh_new(m, slot);
    model_make_pending(m, (uint32_t)m->slot_bh[slot], idle);
}

void
model_bh_cancel(Model *m, unsigned slot)
{
    if (m->slot_bh[slot] < 0)
        return;
    m->bhs[m->slot_bh[slot]].normal = false;
    m->bhs[m->slot_bh[slot]].idle = false;
}

void
model_bh_delete(Model *m, unsigned slot)
{
    if (m->slot_bh[slot] < 0)
        return;
    model_bh_cancel(m, slot);
    m->bhs[m->slot_bh[slot]].deleted = true;
    m->slot_bh[slot] = -1;
}

void
model_bh_oneshot(Model *m, unsigned slot)
{
    uint32_t bh;

    if (m->n_oneshots >= MODEL_MAX_ONESHOTS)
        return;
    bh = model_new_bh(m);
    m->bhs[bh].oneshot = true;
    m->bhs[bh].id = m->n_oneshots++;
    memcpy(m->bhs[bh].actions, m->actions[MODEL_OWNER_BH][slot],
           sizeof m->bhs[bh].actions);
    model_make_pending(m, bh, false);
}

/* One BH pass (B5, B14): the entries queued when it starts, in order; each
 * runs if still pending when reached. A nested pass may take some of them
 * first. */
int
model_bh_pass(Model *m)
{
    uint64_t end = m->next_seq; /* entries with seq < end are this pass's */
    uint64_t pass = ++m->passes;
    int progress = 0;

    while (m->head < m->tail && m->queue[m->head].seq < end) {
        uint32_t bh = m->queue[m->head++].bh;
        ModelBh *b = &m->bhs[bh];
        bool normal = b->normal, pending = b->normal || b->idle;
        ModelAction actions[MODEL_ACTIONS];

        b->queued = false;
        if (b->deleted || !pending)
            continue; /* B9, B10 */
        if (m->strict_b5 && b->since >= pass) {
            /* Became pending during this pass: the next one runs it. */
            model_append(m, bh);
            continue;
        }
        b->normal = b->idle = false; /* the callback starts: no longer pending */
        if (b->oneshot) {
            model_log(m, MODEL_EV_ONESHOT_RUN, 0, b->id);
            memcpy(actions, b->actions, sizeof actions);
        } else {
            model_log(m, MODEL_EV_RUN, b->slot, b->id);
            memcpy(actions, m->actions[MODEL_OWNER_BH][b->slot], sizeof actions);
        }
        progress |= normal;            /* B6: idle runs are not progress */
        model_run_actions(m, actions); /* may move m->bhs: b is stale now */
    }
    return progress;
}

void
model_bh_reclaim(Model *m)
{
    while (m->head < m->tail) {
        ModelBh *b = &m->bhs[m->queue[m->head].bh];

        if (b->normal || b->idle)
            return;
        b->queued = false;
        m->head++;
    }
}

void
model_bh_pending(const Model *m, bool *normal, bool *idle)
{
    *normal = *idle = false;
    for (size_t i = m->head; i < m->tail; i++) {
        const ModelBh *b = &m->bhs[m->queue[i].bh];

        *normal |= b->normal;
        *idle |= b->idle;
    }
}

void
model_update_timeout(Model *m, uint32_t timeout_ms, uint8_t why)
{
    bool normal, idle;

    model_bh_pending(m, &normal, &idle);
    if (normal)
        timeout_ms = 0;
    else if (idle && timeout_ms > 10)
        timeout_ms = 10;
    model_log(m, MODEL_EV_TIMEOUT, why, timeout_ms);
}

bool
model_nothing_pending(const Model *m)
{
    bool normal, idle;

    model_bh_pending(m, &normal, &idle);
    return !normal && !idle;
}
