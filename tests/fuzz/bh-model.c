/* bh-model.c: the reference model of SPEC B1-B14 (see bh-model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bh-model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint32_t bh_model_timeouts[BH_MODEL_N_TIMEOUTS] = {
    0, 1, 9, 10, 11, 1000, UINT32_MAX - 1, UINT32_MAX,
};

static void *
grow(void *array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return array;
    *cap = need < 16 ? 16 : need * 2;
    array = realloc(array, *cap * elem);
    if (array == NULL)
        abort();
    return array;
}

static void
model_log(BhModel *m, BhEventType type, unsigned slot, uint32_t value)
{
    m->log = grow(m->log, &m->cap_log, m->n_log + 1, sizeof *m->log);
    m->log[m->n_log++] = (BhEvent){.type = type, .slot = (uint8_t)slot, .value = value};
}

static uint32_t
model_new_bh(BhModel *m)
{
    m->bhs = grow(m->bhs, &m->cap_bhs, m->n_bhs + 1, sizeof *m->bhs);
    memset(&m->bhs[m->n_bhs], 0, sizeof m->bhs[m->n_bhs]);
    return (uint32_t)m->n_bhs++;
}

static void
model_append(BhModel *m, uint32_t bh)
{
    if (m->head == m->tail)
        m->head = m->tail = 0;
    m->queue = grow(m->queue, &m->cap_queue, m->tail + 1, sizeof *m->queue);
    m->queue[m->tail++] = (BhModelEntry){.bh = bh, .seq = m->next_seq++};
    m->bhs[bh].queued = true;
}

/* Makes @bh pending as normal or idle (B2, B7); appends it unless it already
 * has an entry (B4: a cancelled leftover keeps its place). */
static void
model_make_pending(BhModel *m, uint32_t bh, bool idle)
{
    BhModelBh *b = &m->bhs[bh];

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
bh_model_init(BhModel *m, unsigned n_slots, bool attached, bool strict_b5)
{
    memset(m, 0, sizeof *m);
    m->n_slots = n_slots;
    m->attached = attached;
    m->strict_b5 = strict_b5;
    for (unsigned s = 0; s < BH_MODEL_MAX_SLOTS; s++)
        m->slot_bh[s] = -1;
    for (unsigned s = 0; s < n_slots; s++)
        bh_model_new(m, s);
}

void
bh_model_clear(BhModel *m)
{
    free(m->bhs);
    free(m->queue);
    free(m->log);
    memset(m, 0, sizeof *m);
}

void
bh_model_set_action(BhModel *m, unsigned slot, unsigned idx, BhAction action)
{
    m->actions[slot][idx] = action;
}

void
bh_model_new(BhModel *m, unsigned slot)
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
bh_model_schedule(BhModel *m, unsigned slot, bool idle)
{
    bh_model_new(m, slot);
    model_make_pending(m, (uint32_t)m->slot_bh[slot], idle);
}

void
bh_model_cancel(BhModel *m, unsigned slot)
{
    if (m->slot_bh[slot] < 0)
        return;
    m->bhs[m->slot_bh[slot]].normal = false;
    m->bhs[m->slot_bh[slot]].idle = false;
}

void
bh_model_delete(BhModel *m, unsigned slot)
{
    if (m->slot_bh[slot] < 0)
        return;
    bh_model_cancel(m, slot);
    m->bhs[m->slot_bh[slot]].deleted = true;
    m->slot_bh[slot] = -1;
}

void
bh_model_oneshot(BhModel *m, unsigned slot)
{
    uint32_t bh;

    if (m->n_oneshots >= BH_MODEL_MAX_ONESHOTS)
        return;
    bh = model_new_bh(m);
    m->bhs[bh].oneshot = true;
    m->bhs[bh].id = m->n_oneshots++;
    memcpy(m->bhs[bh].actions, m->actions[slot], sizeof m->bhs[bh].actions);
    model_make_pending(m, bh, false);
}

static void model_act(BhModel *m, BhAction action);

/* One pass (B5, B14): the entries queued when it starts, in order; each runs
 * if still pending when reached. A nested pass may take some of them first. */
static int
model_pass(BhModel *m)
{
    uint64_t end = m->next_seq; /* entries with seq < end are this pass's */
    uint64_t pass = ++m->passes;
    int progress = 0;

    while (m->head < m->tail && m->queue[m->head].seq < end) {
        uint32_t bh = m->queue[m->head++].bh;
        BhModelBh *b = &m->bhs[bh];
        bool normal = b->normal, pending = b->normal || b->idle;
        BhAction actions[BH_MODEL_ACTIONS];

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
            model_log(m, BH_EV_ONESHOT_RUN, 0, b->id);
            memcpy(actions, b->actions, sizeof actions);
        } else {
            model_log(m, BH_EV_RUN, b->slot, b->id);
            memcpy(actions, m->actions[b->slot], sizeof actions);
        }
        progress |= normal; /* B6: idle runs are not progress */
        if (m->tearing_down)
            continue;
        m->depth++;
        for (unsigned i = 0; i < BH_MODEL_ACTIONS; i++)
            model_act(m, actions[i]); /* may move m->bhs: b is stale now */
        m->depth--;
    }
    return progress;
}

void
bh_model_poll(BhModel *m, BhPollMode mode)
{
    int progress;

    switch (mode) {
    case BH_POLL_BLOCKING:
        /* The harness blocks only when this says 0 or after aio_notify(), when
         * aio_poll() must not sleep (P2); the pass is the same either way. */
        bh_model_update_timeout(m, UINT32_MAX, 1);
        m->notified = false;
        progress = model_pass(m);
        break;
    case BH_POLL_NONBLOCKING:
        m->notified = false; /* aio_poll() accepts the notification */
        progress = model_pass(m);
        break;
    case BH_POLL_BH_POLL:
    case BH_POLL_MODES:
    default:
        progress = model_pass(m);
        break;
    }
    model_log(m, BH_EV_POLL_RET, mode, (uint32_t)progress);
}

void
bh_model_iterate(BhModel *m)
{
    if (!m->attached)
        return;
    /* Ready (G3) when anything is queued or notified: one pass. Otherwise no
     * dispatch, which runs the same nothing as an empty pass. */
    m->notified = false;
    model_pass(m);
}

void
bh_model_update_timeout(BhModel *m, uint32_t timeout_ms, uint8_t why)
{
    bool normal = false, idle = false;

    for (size_t i = m->head; i < m->tail; i++) {
        const BhModelBh *b = &m->bhs[m->queue[i].bh];

        normal |= b->normal;
        idle |= b->idle;
    }
    if (normal)
        timeout_ms = 0;
    else if (idle && timeout_ms > 10)
        timeout_ms = 10;
    model_log(m, BH_EV_TIMEOUT, why, timeout_ms);
}

void
bh_model_notify(BhModel *m)
{
    m->notified = true;
}

void
bh_model_teardown(BhModel *m)
{
    m->tearing_down = true;
    for (unsigned s = 0; s < m->n_slots; s++)
        bh_model_delete(m, s);
}

bool
bh_model_nothing_pending(const BhModel *m)
{
    for (size_t i = m->head; i < m->tail; i++) {
        const BhModelBh *b = &m->bhs[m->queue[i].bh];

        if (b->normal || b->idle)
            return false;
    }
    return true;
}

static void
model_act(BhModel *m, BhAction action)
{
    unsigned target = action.arg % m->n_slots;

    switch ((BhActionKind)action.kind) {
    case BH_ACT_SCHEDULE:
        bh_model_schedule(m, target, false);
        break;
    case BH_ACT_SCHEDULE_IDLE:
        bh_model_schedule(m, target, true);
        break;
    case BH_ACT_CANCEL:
        bh_model_cancel(m, target);
        break;
    case BH_ACT_DELETE:
        bh_model_delete(m, target);
        break;
    case BH_ACT_ONESHOT:
        bh_model_oneshot(m, target);
        break;
    case BH_ACT_POLL:
        if (m->depth < BH_MODEL_MAX_DEPTH)
            bh_model_poll(m, (BhPollMode)(action.arg % BH_POLL_MODES));
        break;
    case BH_ACT_ITERATE:
        if (m->depth < BH_MODEL_MAX_DEPTH)
            bh_model_iterate(m);
        break;
    case BH_ACT_TIMEOUT:
        bh_model_update_timeout(m, bh_model_timeouts[action.arg % BH_MODEL_N_TIMEOUTS],
                                0);
        break;
    case BH_ACT_NOTIFY:
        bh_model_notify(m);
        break;
    case BH_ACT_NOTHING:
    case BH_ACT_COUNT:
    default:
        break;
    }
}
