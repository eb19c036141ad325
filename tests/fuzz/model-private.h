/* model-private.h: what the parts of the reference model share (model.c,
 * model-bh.c, model-fd.c, model-timer.c). See model.h for the rules.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "model.h"

/* model.c */
void *model_grow(void *array, size_t *cap, size_t need, size_t elem);
void model_log(Model *m, ModelEventType type, unsigned slot, uint32_t value);
/* A callback's actions, one level deeper; nothing while tearing down. */
void model_run_actions(Model *m, const ModelAction actions[MODEL_ACTIONS]);

/* model-bh.c */
/* The BHs part of a pass; 1 if a normal BH ran (B6). */
int model_bh_pass(Model *m);
/* GSource prepare: the entries at the front that are not pending leave the
 * list (a BH scheduled again later is appended anew: B4's "may keep"). */
void model_bh_reclaim(Model *m);
/* Which kinds of BH are pending. */
void model_bh_pending(const Model *m, bool *normal, bool *idle);

/* model-fd.c */
void model_fd_set(Model *m, unsigned pipe, unsigned end);
void model_fd_remove(Model *m, unsigned pipe, unsigned end);
void model_pipe_write(Model *m, unsigned pipe);
void model_pipe_read(Model *m, unsigned pipe, bool drain);
/* A registered handler's fd is ready. */
bool model_handlers_ready(const Model *m);
/* Appends @w to epoll's ready list unless it is on it. */
void model_watch_link(Model *m, ModelWatch *w);
/* poll() on the epoll fd: true if readable (see model.h). */
bool model_epoll_poll(Model *m);
/* The handlers part of a pass; true if a handler ran. */
bool model_handlers_part(Model *m, bool monitor_ready);

/* model-timer.c */
void model_timer_arm(Model *m, unsigned slot, unsigned level, bool anticipate);
void model_timer_del(Model *m, unsigned slot, bool free_it);
/* An armed timer's deadline has passed. */
bool model_timers_expired(const Model *m);
/* A look before a sleep: each timerfd set to its clock's earliest deadline. */
void model_timers_program_for_sleep(Model *m);
/* A collect reported clock @c's timerfd: the pass reads its tick. */
void model_clock_fired(Model *m, unsigned c);
/* The timers part of a pass; true if a timer ran. */
bool model_timers_part(Model *m);
