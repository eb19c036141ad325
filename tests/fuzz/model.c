/* model.c: the reference model's passes (aio_poll(), aio_bh_poll(), a
 * GSource iteration), its actions and its log (see model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "model-private.h"

const uint32_t model_timeouts[MODEL_N_TIMEOUTS] = {
    0, 1, 9, 10, 11, 1000, UINT32_MAX - 1, UINT32_MAX,
};

void *
model_grow(void *array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return array;
    *cap = need < 16 ? 16 : need * 2;
    array = realloc(array, *cap * elem);
    if (array == NULL)
        abort();
    return array;
}

void
model_log(Model *m, ModelEventType type, unsigned slot, uint32_t value)
{
    m->log = model_grow(m->log, &m->cap_log, m->n_log + 1, sizeof *m->log);
    m->log[m->n_log++] =
        (ModelEvent){.type = type, .slot = (uint8_t)slot, .value = value};
}

void
model_init(Model *m, unsigned n_slots, bool attached, bool strict_b5)
{
    memset(m, 0, sizeof *m);
    m->n_slots = n_slots;
    m->attached = attached;
    m->strict_b5 = strict_b5;
    for (unsigned s = 0; s < MODEL_MAX_SLOTS; s++)
        m->slot_bh[s] = -1;
    for (unsigned s = 0; s < n_slots; s++) {
        model_bh_new(m, s);
        m->timers[s].alive = true;
        m->timers[s].gen = 1;
    }
    for (unsigned c = 0; c < MODEL_CLOCKS; c++)
        m->clocks[c].programmed = MODEL_RANK_MAX;
}

void
model_clear(Model *m)
{
    free(m->bhs);
    free(m->queue);
    free(m->log);
    memset(m, 0, sizeof *m);
}

void
model_set_action(Model *m, ModelOwner owner, unsigned slot, unsigned idx,
                 ModelAction action)
{
    m->actions[owner][slot][idx] = action;
}

void
model_notify(Model *m)
{
    m->notified = true;
}

void
model_run_actions(Model *m, const ModelAction actions[MODEL_ACTIONS])
{
    ModelAction copy[MODEL_ACTIONS];

    if (m->tearing_down)
        return;
    memcpy(copy, actions, sizeof copy);
    m->depth++;
    for (unsigned i = 0; i < MODEL_ACTIONS; i++)
        model_act(m, copy[i]);
    m->depth--;
}

/* The handlers and timers parts of a pass; true if a callback ran. */
static bool
model_io_parts(Model *m, bool monitor_ready)
{
    bool progress = model_handlers_part(m, monitor_ready);

    return model_timers_part(m) || progress;
}

/* What MODEL_EV_READY reports. */
static unsigned
model_ready_bits(const Model *m)
{
    return (model_handlers_ready(m) ? 1u : 0u) | (model_timers_expired(m) ? 2u : 0u);
}

void
model_poll(Model *m, ModelPollMode mode)
{
    bool normal, idle, monitor_ready = false, slept = false;
    unsigned ready;
    int progress;

    if (mode != MODEL_POLL_NONBLOCKING && mode != MODEL_POLL_BLOCKING) {
        progress = model_bh_pass(m); /* aio_bh_poll() */
        model_log(m, MODEL_EV_POLL_RET, mode, (uint32_t)progress);
        return;
    }
    if (mode == MODEL_POLL_BLOCKING) {
        /* The harness blocks only when aio_poll() cannot sleep for ever
         * (P2): this says 0 (a normal BH), after aio_notify(), or with a
         * handler ready or a timer expired (MODEL_EV_READY). */
        model_update_timeout(m, UINT32_MAX, 1);
        ready = model_ready_bits(m);
        model_log(m, MODEL_EV_READY, 0, ready);
        model_bh_pending(m, &normal, &idle);
        if (!normal && !m->notified && !model_timers_expired(m) && ready != 0) {
            /* It looks, sets the timerfds for the sleep, and ppoll()
             * returns at once: a handler's fd is ready. */
            model_timers_program_for_sleep(m);
            monitor_ready = model_epoll_poll(m);
            slept = true;
        }
    }
    m->notified = false; /* aio_poll() accepts the notification */
    progress = model_bh_pass(m);
    /* Without a sleep it collects if any handler is registered. */
    if (!slept)
        monitor_ready = m->n_registered != 0;
    if (model_io_parts(m, monitor_ready))
        progress = 1;
    model_log(m, MODEL_EV_POLL_RET, mode, (uint32_t)progress);
}

void
model_iterate(Model *m)
{
    bool normal, idle, prepared, dispatch;

    if (!m->attached)
        return;
    /* prepare: reclaims leftovers at the front (G3); ready at once (G2),
     * or set for a sleep. */
    model_bh_reclaim(m);
    model_bh_pending(m, &normal, &idle);
    prepared = m->notified || normal || model_timers_expired(m);
    if (!prepared)
        model_timers_program_for_sleep(m);
    /* GLib polls the wakeup fd (never written here: nobody sleeps while
     * the harness runs) and the epoll fd. */
    m->glib_saw_monitor = model_epoll_poll(m);
    /* check (G3): the epoll fd or a BH, normal or idle; not leftovers. */
    dispatch = prepared || m->glib_saw_monitor || idle;
    if (dispatch) {
        m->notified = false;
        model_bh_pass(m);
        /* What GLib's last poll said, maybe a nested iteration's. */
        model_io_parts(m, m->glib_saw_monitor);
    }
    model_log(m, MODEL_EV_ITERATE_RET, 0, dispatch);
}

void
model_settle(Model *m)
{
    unsigned ticks = model_ticks(m);

    if (ticks != 0)
        model_log(m, MODEL_EV_TICKS, 0, ticks);
}

void
model_teardown(Model *m, bool everything)
{
    m->tearing_down = true;
    for (unsigned s = 0; s < m->n_slots; s++)
        model_bh_delete(m, s);
    if (!everything)
        return;
    for (unsigned s = 0; s < m->n_slots; s++) {
        model_fd_remove(m, s, 0);
        model_fd_remove(m, s, 1);
        model_timer_del(m, s, true);
    }
}

void
model_act(Model *m, ModelAction action)
{
    unsigned target = action.arg % m->n_slots;
    unsigned slot = (action.arg & 7u) % m->n_slots, bit3 = (action.arg >> 3) & 1u;

    switch ((ModelActionKind)action.kind) {
    case MODEL_ACT_SCHEDULE:
        model_bh_schedule(m, target, false);
        break;
    case MODEL_ACT_SCHEDULE_IDLE:
        model_bh_schedule(m, target, true);
        break;
    case MODEL_ACT_CANCEL:
        model_bh_cancel(m, target);
        break;
    case MODEL_ACT_DELETE:
        model_bh_delete(m, target);
        break;
    case MODEL_ACT_ONESHOT:
        model_bh_oneshot(m, target);
        break;
    case MODEL_ACT_POLL:
        if (m->depth < MODEL_MAX_DEPTH)
            model_poll(m, (ModelPollMode)(action.arg % MODEL_POLL_MODES));
        break;
    case MODEL_ACT_ITERATE:
        if (m->depth < MODEL_MAX_DEPTH)
            model_iterate(m);
        break;
    case MODEL_ACT_TIMEOUT:
        model_update_timeout(m, model_timeouts[action.arg % MODEL_N_TIMEOUTS], 0);
        break;
    case MODEL_ACT_NOTIFY:
        model_notify(m);
        break;
    case MODEL_ACT_FD_SET:
        model_fd_set(m, slot, bit3);
        break;
    case MODEL_ACT_FD_REMOVE:
        model_fd_remove(m, slot, bit3);
        break;
    case MODEL_ACT_PIPE_WRITE:
        model_pipe_write(m, slot);
        break;
    case MODEL_ACT_PIPE_READ:
        model_pipe_read(m, slot, bit3);
        break;
    case MODEL_ACT_TIMER_ARM:
        model_timer_arm(m, slot, (action.arg >> 3) & 7u, (action.arg >> 6) & 1u);
        break;
    case MODEL_ACT_TIMER_DEL:
        model_timer_del(m, slot, bit3);
        break;
    case MODEL_ACT_NOTHING:
    case MODEL_ACT_COUNT:
    default:
        break;
    }
}
