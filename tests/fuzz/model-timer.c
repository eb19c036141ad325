/* model-timer.c: timers and the clocks' timerfds in the reference model
 * (SPEC T1; see model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "model-private.h"

const uint8_t model_level_rank[MODEL_LEVELS] = {
    [MODEL_LEVEL_ZERO] = MODEL_RANK_ZERO,   [MODEL_LEVEL_NEGATIVE] = MODEL_RANK_ZERO,
    [MODEL_LEVEL_1MS] = MODEL_RANK_1MS,     [MODEL_LEVEL_PAST] = MODEL_RANK_PAST,
    [MODEL_LEVEL_DAY] = MODEL_RANK_DAY,     [MODEL_LEVEL_2DAYS] = MODEL_RANK_2DAYS,
    [MODEL_LEVEL_NEVER] = MODEL_RANK_NEVER, [MODEL_LEVEL_INT64_MAX] = MODEL_RANK_MAX,
};

/* @a runs before @b: (deadline, arming order). Equal ranks armed at
 * different times have deadlines in arming order: "now" only grows. */
static bool
model_timer_before(const ModelTimer *a, const ModelTimer *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->seq < b->seq);
}

/* The armed timer of clock @c that runs first, or -1; with @deferred, also
 * among those waiting for the running timers part to end. */
static int
model_clock_top(const Model *m, unsigned c, bool deferred)
{
    int top = -1;

    for (unsigned s = 0; s < m->n_slots; s++) {
        const ModelTimer *t = &m->timers[s];

        if (!t->alive || !t->armed || model_timer_clock(s) != c || (t->deferred && !deferred))
            continue;
        if (top < 0 || model_timer_before(t, &m->timers[top]))
            top = (int)s;
    }
    return top;
}

/* timerfd_settime() to @rank: clears a tick; a past deadline fires at once
 * (the harness waits for that), which puts the timerfd on epoll's list. */
static void
model_clock_program(Model *m, unsigned c, uint8_t rank)
{
    ModelClock *clock = &m->clocks[c];

    if (rank == MODEL_RANK_ZERO)
        rank = MODEL_RANK_1NS; /* 0 would disarm it */
    clock->programmed = rank;
    clock->tick = MODEL_RANK_IS_PAST(rank);
    if (clock->tick)
        model_watch_link(m, &clock->watch);
}

static void
model_timer_disarm(Model *m, ModelTimer *t)
{
    if (!t->armed)
        return;
    t->armed = false;
    t->deferred = false;
    m->n_armed--;
}

void
model_timer_arm(Model *m, unsigned slot, unsigned level, bool anticipate)
{
    ModelTimer *t = &m->timers[slot];
    unsigned c = model_timer_clock(slot);
    uint8_t rank = model_level_rank[level];

    if (!t->alive) {
        t->alive = true;
        t->gen++;
    }
    /* Anticipating to an equal rank is never earlier: "now" only grows. */
    if (anticipate && t->armed && rank >= t->rank)
        return;
    model_timer_disarm(m, t);
    t->armed = true;
    t->rank = rank;
    t->seq = m->next_timer_seq++;
    t->deferred = m->timer_parts > 0;
    m->n_armed++;
    /* Outside a pass the harness is not the context's thread: a new
     * earliest deadline before the one the timerfd is set to sets it, for
     * a sleep that may be under way (T4). Equal ranks are never before. */
    if (m->depth == 0 && !t->deferred && model_clock_top(m, c, false) == (int)slot &&
        rank < m->clocks[c].programmed)
        model_clock_program(m, c, rank);
}

void
model_timer_del(Model *m, unsigned slot, bool free_it)
{
    ModelTimer *t = &m->timers[slot];

    if (!t->alive)
        return;
    model_timer_disarm(m, t);
    if (free_it)
        t->alive = false;
}

bool
model_timers_expired(const Model *m)
{
    for (unsigned s = 0; s < m->n_slots; s++) {
        const ModelTimer *t = &m->timers[s];

        if (t->alive && t->armed && MODEL_RANK_IS_PAST(t->rank))
            return true;
    }
    return false;
}

void
model_timers_program_for_sleep(Model *m)
{
    for (unsigned c = 0; c < MODEL_CLOCKS; c++) {
        int top = model_clock_top(m, c, true);
        uint8_t rank = top >= 0 ? m->timers[top].rank : MODEL_RANK_MAX;

        /* Called only when no deadline has passed: a tick (whose deadline
         * is past) is always cleared here. */
        if (rank != m->clocks[c].programmed)
            model_clock_program(m, c, rank);
    }
}

void
model_clock_fired(Model *m, unsigned c)
{
    m->clocks[c].tick = false;
    m->clocks[c].programmed = MODEL_RANK_MAX;
}

unsigned
model_ticks(const Model *m)
{
    unsigned ticks = 0;

    for (unsigned c = 0; c < MODEL_CLOCKS; c++) {
        if (m->clocks[c].tick)
            ticks |= 1u << c;
    }
    return ticks;
}

/* The timers armed during timers parts join the others. */
static void
model_timers_merge_deferred(Model *m)
{
    for (unsigned s = 0; s < m->n_slots; s++)
        m->timers[s].deferred = false;
}

bool
model_timers_part(Model *m)
{
    bool progress = false;

    if (m->n_armed == 0)
        return false;
    /* Timers armed before this part (even during an enclosing one) may
     * run in it; those armed from now on wait until it ends. */
    model_timers_merge_deferred(m);
    m->timer_parts++;
    for (unsigned c = 0; c < MODEL_CLOCKS; c++) {
        int top;

        while ((top = model_clock_top(m, c, false)) >= 0 &&
               MODEL_RANK_IS_PAST(m->timers[top].rank)) {
            ModelTimer *t = &m->timers[top];
            ModelAction actions[MODEL_ACTIONS];

            model_timer_disarm(m, t);
            model_log(m, MODEL_EV_TIMER_RUN, (unsigned)top, t->gen);
            progress = true;
            for (unsigned k = 0; k < MODEL_ACTIONS; k++)
                actions[k] = m->actions[MODEL_OWNER_TIMER][top][k];
            model_run_actions(m, actions);
        }
    }
    if (--m->timer_parts == 0)
        model_timers_merge_deferred(m);
    return progress;
}
