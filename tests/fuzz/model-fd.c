/* model-fd.c: fd handlers on pipes and epoll's ready list, in the reference
 * model (SPEC F1, F2; see model.h for how Linux orders the list).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include "model-private.h"

/* The items epoll watches: every handler's fd (registered or not: those not
 * registered are never on the list) and the clocks' timerfds. */
#define MODEL_WATCHES (2 * MODEL_MAX_SLOTS + MODEL_CLOCKS)

typedef struct {
    ModelWatch *watch;
    int pipe, end; /* pipe -1: clock end */
} ModelItem;

static bool
model_handler_ready(const Model *m, unsigned pipe, unsigned end)
{
    const ModelPipe *p = &m->pipes[pipe];

    if (!p->end[end].registered)
        return false;
    /* A read end while the pipe holds bytes; a write end always (it never
     * holds more than MODEL_PIPE_CAP, far below a pipe's capacity). */
    return end == 1 || p->bytes > 0;
}

static bool
model_item_ready(const Model *m, const ModelItem *it)
{
    if (it->pipe < 0)
        return m->clocks[it->end].tick;
    return model_handler_ready(m, (unsigned)it->pipe, (unsigned)it->end);
}

static int
model_item_cmp(const void *a, const void *b)
{
    uint64_t x = ((const ModelItem *)a)->watch->linked;
    uint64_t y = ((const ModelItem *)b)->watch->linked;

    return x < y ? -1 : x > y;
}

/* The ready list, head first. */
static unsigned
model_ready_list(Model *m, ModelItem list[MODEL_WATCHES])
{
    unsigned n = 0;

    for (unsigned p = 0; p < m->n_slots; p++) {
        for (unsigned e = 0; e < 2; e++) {
            if (m->pipes[p].end[e].watch.linked != 0)
                list[n++] = (ModelItem){&m->pipes[p].end[e].watch, (int)p, (int)e};
        }
    }
    for (unsigned c = 0; c < MODEL_CLOCKS; c++) {
        if (m->clocks[c].watch.linked != 0)
            list[n++] = (ModelItem){&m->clocks[c].watch, -1, (int)c};
    }
    qsort(list, n, sizeof *list, model_item_cmp);
    return n;
}

void
model_watch_link(Model *m, ModelWatch *w)
{
    if (w->linked == 0)
        w->linked = ++m->next_link;
}

bool
model_handlers_ready(const Model *m)
{
    for (unsigned p = 0; p < m->n_slots; p++) {
        if (model_handler_ready(m, p, 0) || model_handler_ready(m, p, 1))
            return true;
    }
    return false;
}

void
model_fd_set(Model *m, unsigned pipe, unsigned end)
{
    ModelHandler *h = &m->pipes[pipe].end[end];

    h->gen++;
    h->served_pass = 0; /* a new handler, which no pass ran */
    if (!h->registered) {
        /* EPOLL_CTL_ADD: a new item, on the list if ready. */
        h->registered = true;
        m->n_registered++;
        h->watch.linked = 0;
    }
    /* Replacing is EPOLL_CTL_MOD: the item keeps its place, or joins the
     * tail if ready and not on the list. */
    if (model_handler_ready(m, pipe, end))
        model_watch_link(m, &h->watch);
}

void
model_fd_remove(Model *m, unsigned pipe, unsigned end)
{
    ModelHandler *h = &m->pipes[pipe].end[end];

    if (!h->registered)
        return;
    h->registered = false;
    m->n_registered--;
    h->watch.linked = 0; /* EPOLL_CTL_DEL */
}

void
model_pipe_write(Model *m, unsigned pipe)
{
    ModelPipe *p = &m->pipes[pipe];

    if (p->bytes >= MODEL_PIPE_CAP)
        return;
    p->bytes++;
    /* The write wakes the read end's item (not the write end's). */
    if (p->end[0].registered)
        model_watch_link(m, &p->end[0].watch);
}

void
model_pipe_read(Model *m, unsigned pipe, bool drain)
{
    ModelPipe *p = &m->pipes[pipe];
    uint32_t n = drain ? p->bytes : (p->bytes > 0 ? 1 : 0);

    /* Reading wakes nobody epoll watches for (the pipe is never full). */
    p->bytes -= n;
    model_log(m, MODEL_EV_PIPE_READ, pipe, n);
}

bool
model_epoll_poll(Model *m)
{
    ModelItem list[MODEL_WATCHES];
    unsigned n = model_ready_list(m, list);

    for (unsigned i = 0; i < n; i++) {
        if (model_item_ready(m, &list[i]))
            return true;
        list[i].watch->linked = 0;
    }
    return false;
}

/* epoll_wait(): the ready items in list order; they stay, the rest leave. */
static unsigned
model_collect(Model *m, ModelItem out[MODEL_WATCHES], uint32_t gens[MODEL_WATCHES])
{
    ModelItem list[MODEL_WATCHES];
    unsigned n = model_ready_list(m, list), k = 0;

    for (unsigned i = 0; i < n; i++) {
        list[i].watch->linked = 0;
        if (!model_item_ready(m, &list[i]))
            continue;
        model_watch_link(m, list[i].watch);
        out[k] = list[i];
        gens[k] = list[i].pipe < 0 ? 0 : m->pipes[list[i].pipe].end[list[i].end].gen;
        k++;
    }
    return k;
}

bool
model_handlers_part(Model *m, bool monitor_ready)
{
    ModelItem ready[MODEL_WATCHES];
    uint32_t gens[MODEL_WATCHES];
    unsigned n;
    bool progress = false;

    uint64_t pass = ++m->handler_passes;

    if (!monitor_ready)
        return false;
    n = model_collect(m, ready, gens);
    for (unsigned i = 0; i < n; i++) {
        const ModelHandler *h;
        unsigned pipe = (unsigned)ready[i].pipe, end = (unsigned)ready[i].end;
        ModelAction actions[MODEL_ACTIONS];

        if (ready[i].pipe < 0) {
            model_clock_fired(m, end);
            continue;
        }
        h = &m->pipes[pipe].end[end];
        /* F2: removed or replaced since the collect: never called. */
        if (!h->registered || h->gen != gens[i])
            continue;
        /* F1: once per pass; and a nested pass that ran it used up the
         * readiness this pass collected. */
        if (m->pipes[pipe].end[end].served_pass >= pass)
            continue;
        m->pipes[pipe].end[end].served_pass = pass;
        model_log(m, MODEL_EV_HANDLER_RUN, pipe | end << 3, gens[i]);
        progress = true;
        for (unsigned k = 0; k < MODEL_ACTIONS; k++)
            actions[k] =
                m->actions[end == 0 ? MODEL_OWNER_READ : MODEL_OWNER_WRITE][pipe][k];
        model_run_actions(m, actions);
    }
    return progress;
}
