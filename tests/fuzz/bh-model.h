/* bh-model.h: a reference model of SPEC B1-B14 for the fuzz harness.
 *
 * The model knows nothing of atomics, slabs or the MPSC queue. It keeps a
 * list of queued BHs in FIFO order with normal/idle flags, and runs the
 * callbacks' predetermined actions itself, so it can say exactly which
 * callbacks must run, in which order, and what aio_poll(), aio_bh_poll() and
 * aio_bh_update_timeout() must return. Everything observable goes into its
 * event log; the harness (fuzz-bh.c) compares the real run against it event
 * by event.
 *
 * The rules it encodes:
 *  - schedule makes a BH pending and, unless it is queued already, appends
 *    it to the list; schedules of a pending BH coalesce (B1, B2, B4);
 *  - a normal schedule of a pending idle BH upgrades it, an idle schedule of
 *    a pending normal BH leaves it normal (B7);
 *  - cancel clears the pending flags (B9). The entry stays in the list until
 *    a pass reaches it, so a BH scheduled again before that keeps its earlier
 *    place (B4's allowance, design.md section 1). See bh_model_init()'s
 *    @strict_b5 for the one case where that reads against B5;
 *  - delete cancels and marks the BH dead; it never runs again (B10);
 *  - a oneshot is a BH scheduled normally at birth, run once (B11);
 *  - a pass runs the entries queued when it started, in order, each one that
 *    is still pending when reached; entries queued during the pass wait for
 *    the next pass (B5). It returns 1 iff a normal BH ran (B6, P1);
 *  - a pass nested in a callback (aio_poll(), aio_bh_poll() or a GSource
 *    iteration) continues with the outer pass's remaining entries; the outer
 *    pass ends once every entry it started with has been taken (B14);
 *  - aio_bh_update_timeout(): 0 with a normal BH pending, at most 10 with
 *    only idle ones, else unchanged (B8);
 *  - a GSource iteration dispatches one pass when anything is queued or
 *    aio_notify() was called (G3, G4); its return value is not modelled.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BH_MODEL_MAX_SLOTS 8
/* Actions a callback performs when it runs, in order. */
#define BH_MODEL_ACTIONS 2
/* Callbacks nested this deep do not start further nested passes. */
#define BH_MODEL_MAX_DEPTH 4
/* Oneshots per input; further oneshot requests are skipped. */
#define BH_MODEL_MAX_ONESHOTS 1024

/* What a callback does. The action's target slot is arg % n_slots. */
typedef enum {
    BH_ACT_NOTHING,
    BH_ACT_SCHEDULE,      /* qemu_bh_schedule(target), re-created if deleted */
    BH_ACT_SCHEDULE_IDLE, /* qemu_bh_schedule_idle(target), likewise */
    BH_ACT_CANCEL,        /* qemu_bh_cancel(target) if it is alive */
    BH_ACT_DELETE,        /* qemu_bh_delete(target) if alive; maybe itself */
    BH_ACT_ONESHOT,       /* aio_bh_schedule_oneshot() running target's actions */
    BH_ACT_POLL,          /* nested poll, mode arg % BH_POLL_MODES */
    BH_ACT_ITERATE,       /* nested g_main_context_iteration(mc, FALSE) */
    BH_ACT_TIMEOUT,       /* aio_bh_update_timeout() from bh_model_timeouts[] */
    BH_ACT_NOTIFY,        /* aio_notify() */
    BH_ACT_COUNT
} BhActionKind;

typedef struct {
    uint8_t kind; /* BhActionKind */
    uint8_t arg;
} BhAction;

/* The ways to run a pass. */
typedef enum {
    BH_POLL_NONBLOCKING, /* aio_poll(ctx, false) */
    BH_POLL_BLOCKING,    /* aio_poll(ctx, true) when it cannot sleep (see below) */
    BH_POLL_BH_POLL,     /* aio_bh_poll(ctx) */
    BH_POLL_MODES
} BhPollMode;

/* Initial values for aio_bh_update_timeout(), picked by an operand. */
#define BH_MODEL_N_TIMEOUTS 8
extern const uint32_t bh_model_timeouts[BH_MODEL_N_TIMEOUTS];

/* What can be observed, in the order it happens. */
typedef enum {
    BH_EV_RUN,         /* slot's callback ran: slot, value = its generation */
    BH_EV_ONESHOT_RUN, /* a oneshot ran: value = its number */
    BH_EV_POLL_RET,    /* a poll returned: slot = BhPollMode, value = result */
    BH_EV_TIMEOUT,     /* aio_bh_update_timeout() gave value (slot: why) */
} BhEventType;

typedef struct {
    uint8_t type; /* BhEventType */
    uint8_t slot;
    uint32_t value;
} BhEvent;

typedef struct {
    bool normal, idle; /* pending, as normal / as idle (normal wins) */
    bool queued;       /* has an entry in the list */
    bool deleted;
    bool oneshot;
    uint8_t slot;   /* slot BHs */
    uint32_t id;    /* generation (slot BHs) or number (oneshots) */
    uint64_t since; /* strict B5: pass count when it last became pending */
    BhAction actions[BH_MODEL_ACTIONS]; /* oneshots: copied at birth */
} BhModelBh;

typedef struct {
    uint32_t bh; /* index in bhs */
    uint64_t seq;
} BhModelEntry;

typedef struct {
    unsigned n_slots;
    bool attached; /* the context's GSource is attached to a GMainContext */
    bool strict_b5;
    bool notified;     /* aio_notify() since the last accept */
    bool tearing_down; /* callbacks do nothing */
    unsigned depth;    /* callbacks running */
    uint64_t passes;   /* passes started so far */

    BhAction actions[BH_MODEL_MAX_SLOTS][BH_MODEL_ACTIONS];
    int32_t slot_bh[BH_MODEL_MAX_SLOTS]; /* index in bhs, -1: dead */
    uint32_t slot_gen[BH_MODEL_MAX_SLOTS];
    uint32_t n_oneshots;

    BhModelBh *bhs;
    size_t n_bhs, cap_bhs;

    BhModelEntry *queue; /* the list, from queue[head] to queue[tail - 1] */
    size_t head, tail, cap_queue;
    uint64_t next_seq;

    BhEvent *log;
    size_t n_log, cap_log;
} BhModel;

/* Every slot starts alive (generation 1) with no actions. @strict_b5: a BH
 * that was cancelled, then scheduled again by a callback of a pass that its
 * leftover entry is part of, runs in the next pass (B5 read literally) rather
 * than at its earlier place in this one (what gaio does, by B4's allowance). */
void bh_model_init(BhModel *m, unsigned n_slots, bool attached, bool strict_b5);
void bh_model_clear(BhModel *m);

void bh_model_set_action(BhModel *m, unsigned slot, unsigned idx, BhAction action);
/* Re-creates @slot if it is dead. */
void bh_model_new(BhModel *m, unsigned slot);
/* Re-creates @slot if it is dead, then schedules it. */
void bh_model_schedule(BhModel *m, unsigned slot, bool idle);
void bh_model_cancel(BhModel *m, unsigned slot);
void bh_model_delete(BhModel *m, unsigned slot);
/* A oneshot running @slot's actions. */
void bh_model_oneshot(BhModel *m, unsigned slot);
/* One pass the way @mode runs it; logs BH_EV_POLL_RET (and, for
 * BH_POLL_BLOCKING, the BH_EV_TIMEOUT that decides whether it may block). */
void bh_model_poll(BhModel *m, BhPollMode mode);
/* g_main_context_iteration(mc, FALSE), when attached. */
void bh_model_iterate(BhModel *m);
/* Logs BH_EV_TIMEOUT with the value aio_bh_update_timeout() must give. */
void bh_model_update_timeout(BhModel *m, uint32_t timeout_ms, uint8_t why);
void bh_model_notify(BhModel *m);
/* From now on callbacks do nothing; deletes every live slot. */
void bh_model_teardown(BhModel *m);
bool bh_model_nothing_pending(const BhModel *m);
