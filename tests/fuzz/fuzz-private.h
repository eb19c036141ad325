/* fuzz-private.h: the state the harness's files share (fuzz-aio.c: inputs,
 * BHs, passes, the report; fuzz-io.c: pipes, handlers, timers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gaio/gaio.h>

#include "model.h"

/* The real side. Callbacks reach it through the global `h`. */
typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL when not attached */
    GSource *source;  /* the context's, attached to mc (mc's reference) */
    unsigned n_slots;
    bool notified;
    bool tearing_down;
    unsigned depth; /* callbacks running; 0: the top level */
    QEMUBH *bh[MODEL_MAX_SLOTS];
    uint32_t gen[MODEL_MAX_SLOTS];
    ModelAction actions[MODEL_OWNERS][MODEL_MAX_SLOTS][MODEL_ACTIONS];
    uint32_t n_oneshots;
    ModelAction oneshot_actions[MODEL_MAX_ONESHOTS][MODEL_ACTIONS];

    /* Pipes: fd[0] the read end, fd[1] the write end; a handler per end. */
    int pipe_fd[MODEL_MAX_SLOTS][2];
    bool registered[MODEL_MAX_SLOTS][2];
    uint32_t handler_gen[MODEL_MAX_SLOTS][2];
    /* Timers: slots with bit 1 set are embedded (aio_timer_init()) in
     * timer_storage, the others made by aio_timer_new(). NULL: freed. */
    AioTimer *timer[MODEL_MAX_SLOTS];
    AioTimer timer_storage[MODEL_MAX_SLOTS];
    uint32_t timer_gen[MODEL_MAX_SLOTS];

    Model model;
    ModelEvent *seen; /* what happened, checked against model.log */
    size_t n_seen, cap_seen;

    /* For the report. */
    const uint8_t *data;
    size_t size;
    unsigned op_index;
} FuzzHarness;

extern FuzzHarness h;

/* fuzz-aio.c */
G_NORETURN void fuzz_fail(const char *format, ...) G_GNUC_PRINTF(1, 2);
/* Records an event and checks it against the model's log. */
void fuzz_expect(ModelEventType type, unsigned slot, uint32_t value);
/* A callback's actions, one level deeper; nothing while tearing down. */
void fuzz_run_actions(const ModelAction actions[MODEL_ACTIONS]);

/* fuzz-io.c */
void fuzz_io_setup(void);
/* Removes every handler and frees every timer (@everything), or leaves
 * them to the context's finalize (C4); then, after the context is gone,
 * fuzz_io_close() closes the pipes. */
void fuzz_io_teardown(bool everything);
void fuzz_io_close(void);
/* MODEL_ACT_FD_SET ... MODEL_ACT_TIMER_DEL. */
void fuzz_io_act(ModelAction a);
/* MODEL_EV_READY's bits, from the real pipes and timers. */
unsigned fuzz_io_ready_bits(void);
/* After a top-level operation: waits for the timerfd ticks the model
 * expects (a past deadline fires a few microseconds after it is set), then
 * logs MODEL_EV_TICKS with those that are there. */
void fuzz_io_settle(void);
