/* model.h: a reference model of one AioContext for the fuzz harness: BHs
 * (SPEC B1-B14), fd handlers on pipes (F1, F2), timers (T1), and the passes
 * that run them (P1, P2, G3, G4).
 *
 * The model knows nothing of atomics, slabs, heaps or the MPSC queue. It
 * keeps plain lists and flags, and runs the callbacks' predetermined actions
 * itself, so it can say exactly which callbacks must run, in which order,
 * and what aio_poll(), aio_bh_poll(), g_main_context_iteration() and
 * aio_bh_update_timeout() must return. Everything observable goes into its
 * event log; the harness (fuzz-aio.c) compares the real run against it event
 * by event.
 *
 * BHs (model-bh.c):
 *  - schedule makes a BH pending and, unless it is queued already, appends
 *    it to the list; schedules of a pending BH coalesce (B1, B2, B4);
 *  - a normal schedule of a pending idle BH upgrades it, an idle schedule of
 *    a pending normal BH leaves it normal (B7);
 *  - cancel clears the pending flags (B9). The entry stays in the list until
 *    a pass reaches it, so a BH scheduled again before that keeps its earlier
 *    place (B4's allowance, design.md section 1). See model_init()'s
 *    @strict_b5 for the one case where that reads against B5;
 *  - delete cancels and marks the BH dead; it never runs again (B10);
 *  - a oneshot is a BH scheduled normally at birth, run once (B11);
 *  - a BH pass runs the entries queued when it started, in order, each one
 *    that is still pending when reached; entries queued during the pass wait
 *    for the next pass (B5). Progress iff a normal BH ran (B6, P1);
 *  - a pass nested in a callback continues with the outer pass's remaining
 *    entries; the outer pass ends once every entry it started with has been
 *    taken (B14);
 *  - aio_bh_update_timeout(): 0 with a normal BH pending, at most 10 with
 *    only idle ones, else unchanged (B8).
 *
 * Handlers (model-fd.c). Each pipe slot has a read end, whose handler has
 * io_read, and a write end, whose handler has io_write. A read end is ready
 * while its pipe holds bytes; a write end always is (a pipe never holds more
 * than MODEL_PIPE_CAP bytes). Which ready handlers a pass calls, and in
 * which order, is what epoll reports (level-triggered), so the model keeps
 * epoll's ready list as Linux does:
 *  - an item joins the tail when it becomes ready while not on the list: a
 *    write to an empty pipe, an EPOLL_CTL_ADD or _MOD of a ready fd, a
 *    timerfd tick; on the list already, it keeps its place;
 *  - epoll_wait() reports the items on the list that are ready, in list
 *    order, and keeps exactly those, in that order (the others leave it);
 *  - poll() on the epoll fd (GLib's poll, aio_poll()'s sleep) drops the
 *    items from the head up to the first ready one; it is readable iff it
 *    found one;
 *  - adding a handler is EPOLL_CTL_ADD, replacing one is EPOLL_CTL_MOD (the
 *    fd stays on the list, in its place), removing one is EPOLL_CTL_DEL.
 * A handler part collects once when it starts and calls each collected
 * handler that is still registered (F2), even if its fd stopped being ready
 * meanwhile (as QEMU does); handlers registered after the collect wait for
 * the next one.
 *
 * Timers (model-timer.c). The harness arms timers only with deadlines that
 * are already past or far in the future (a day or more), so which timers are
 * expired never depends on how fast the input runs. Deadlines are ranks
 * (ModelRank); equal ranks armed at different times compare in arming order,
 * since "now" only grows. A timer part runs, clock by clock, the expired
 * timers in (deadline, arming order) that were armed before that part began
 * (T1: one re-armed in the past by its callback runs in the next pass).
 * Each clock's timerfd is modelled too, since a tick in it makes the epoll
 * fd readable: arming from outside a pass (the harness's top level, as
 * another thread would) sets it when the timer becomes the clock's earliest
 * with a deadline before the one set (a past one fires); a look before a
 * sleep sets it to the earliest deadline (clearing a tick); a collect that
 * reports it clears it.
 *
 * Passes:
 *  - aio_poll(): accept aio_notify(); BHs; handlers, collecting if any
 *    handler is registered (or, after a sleep, if the epoll fd was
 *    readable); timers. Progress iff a normal BH, a handler or a timer ran;
 *  - aio_bh_poll(): BHs only;
 *  - g_main_context_iteration(mc, FALSE): prepare first drops the entries at
 *    the front of the BH list that are not pending (a BH scheduled again
 *    after that is appended anew: B4 allows both). It is ready when
 *    notified, a normal BH is pending or a timer expired; otherwise it sets
 *    the timerfds for the sleep. GLib polls the epoll fd. check is ready when the epoll
 * fd was readable or any BH is pending. Dispatch accepts the notification, runs BHs, then
 * handlers if the epoll fd was readable when GLib last polled it (a nested iteration
 * polls it again), then timers. It returns whether it dispatched (G3: nothing pending,
 * FALSE).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BH, pipe and timer slots (the same count of each). */
#define MODEL_MAX_SLOTS 8
/* Actions a callback performs when it runs, in order. */
#define MODEL_ACTIONS 2
/* Callbacks nested this deep do not start further nested passes. */
#define MODEL_MAX_DEPTH 4
/* Oneshots per input; further oneshot requests are skipped. */
#define MODEL_MAX_ONESHOTS 1024
/* Bytes a pipe holds at most: a write to a fuller pipe is skipped. */
#define MODEL_PIPE_CAP 64
/* The clocks of a context (AIO_CLOCK_REALTIME, AIO_CLOCK_HOST). */
#define MODEL_CLOCKS 2

/* What a callback (or the harness's top level) does. Targets are slots,
 * arg % n_slots unless said otherwise. */
typedef enum {
    MODEL_ACT_NOTHING,
    MODEL_ACT_SCHEDULE,      /* qemu_bh_schedule(target), re-created if deleted */
    MODEL_ACT_SCHEDULE_IDLE, /* qemu_bh_schedule_idle(target), likewise */
    MODEL_ACT_CANCEL,        /* qemu_bh_cancel(target) if it is alive */
    MODEL_ACT_DELETE,        /* qemu_bh_delete(target) if alive; maybe itself */
    MODEL_ACT_ONESHOT,       /* aio_bh_schedule_oneshot() running target's actions */
    MODEL_ACT_POLL,          /* nested poll, mode arg % MODEL_POLL_MODES */
    MODEL_ACT_ITERATE,       /* nested g_main_context_iteration(mc, FALSE) */
    MODEL_ACT_TIMEOUT,       /* aio_bh_update_timeout() from model_timeouts[] */
    MODEL_ACT_NOTIFY,        /* aio_notify() */
    /* pipe (arg & 7) % n_slots, end (arg >> 3) & 1 (0: read, 1: write):
     * aio_set_fd_handler() with a new callback (adds or replaces) */
    MODEL_ACT_FD_SET,
    MODEL_ACT_FD_REMOVE,  /* same operands: aio_set_fd_handler(all NULL) */
    MODEL_ACT_PIPE_WRITE, /* pipe (arg & 7) % n_slots: one byte, unless full */
    MODEL_ACT_PIPE_READ,  /* pipe (arg & 7) % n_slots; (arg >> 3) & 1: drain it */
    /* timer (arg & 7) % n_slots, deadline ModelLevel (arg >> 3) & 7,
     * (arg >> 6) & 1: aio_timer_mod_anticipate*() instead of _mod*() */
    MODEL_ACT_TIMER_ARM,
    /* timer (arg & 7) % n_slots; (arg >> 3) & 1: free it (aio_timer_free()
     * or _deinit()), else aio_timer_del() */
    MODEL_ACT_TIMER_DEL,
    MODEL_ACT_COUNT
} ModelActionKind;

typedef struct {
    uint8_t kind; /* ModelActionKind */
    uint8_t arg;
} ModelAction;

/* Whose actions: a BH slot's, the handler of a pipe's read or write end, a
 * timer slot's. */
typedef enum {
    MODEL_OWNER_BH,
    MODEL_OWNER_READ,
    MODEL_OWNER_WRITE,
    MODEL_OWNER_TIMER,
    MODEL_OWNERS
} ModelOwner;

/* The ways to run a pass. */
typedef enum {
    MODEL_POLL_NONBLOCKING, /* aio_poll(ctx, false) */
    MODEL_POLL_BLOCKING,    /* aio_poll(ctx, true) when it cannot sleep (see below) */
    MODEL_POLL_BH_POLL,     /* aio_bh_poll(ctx) */
    MODEL_POLL_MODES
} ModelPollMode;

/* Deadlines a timer is armed with (MODEL_ACT_TIMER_ARM). "now" is the
 * timer's clock rounded down to the millisecond, so that every scale states
 * every deadline exactly. */
typedef enum {
    MODEL_LEVEL_ZERO,      /* 0 */
    MODEL_LEVEL_NEGATIVE,  /* -1 in the timer's scale: counts as 0 */
    MODEL_LEVEL_1MS,       /* 1 ms after the clock's epoch */
    MODEL_LEVEL_PAST,      /* now - 1 s */
    MODEL_LEVEL_DAY,       /* now + 1 day */
    MODEL_LEVEL_2DAYS,     /* now + 2 days */
    MODEL_LEVEL_NEVER,     /* INT64_MAX rounded down to the millisecond */
    MODEL_LEVEL_INT64_MAX, /* INT64_MAX ns, through aio_timer_mod*_ns() */
    MODEL_LEVELS
} ModelLevel;

/* Deadlines as ranks, in the order of their values. MODEL_RANK_1NS is what
 * a timerfd is set to for a deadline of 0 (0 would disarm it). */
typedef enum {
    MODEL_RANK_ZERO,
    MODEL_RANK_1NS,
    MODEL_RANK_1MS,
    MODEL_RANK_PAST,
    MODEL_RANK_DAY,
    MODEL_RANK_2DAYS,
    MODEL_RANK_NEVER,
    MODEL_RANK_MAX, /* INT64_MAX; for a timerfd: not set */
} ModelRank;

#define MODEL_RANK_IS_PAST(r) ((r) <= MODEL_RANK_PAST)

extern const uint8_t model_level_rank[MODEL_LEVELS];

/* Initial values for aio_bh_update_timeout(), picked by an operand. */
#define MODEL_N_TIMEOUTS 8
extern const uint32_t model_timeouts[MODEL_N_TIMEOUTS];

/* What can be observed, in the order it happens. */
typedef enum {
    MODEL_EV_RUN,         /* a BH slot's callback ran: slot, value = its generation */
    MODEL_EV_ONESHOT_RUN, /* a oneshot ran: value = its number */
    MODEL_EV_POLL_RET,    /* a poll returned: slot = ModelPollMode, value = result */
    MODEL_EV_TIMEOUT,     /* aio_bh_update_timeout() gave value (slot: why) */
    MODEL_EV_HANDLER_RUN, /* slot = pipe | end << 3, value = handler generation */
    MODEL_EV_TIMER_RUN,   /* slot = timer, value = its generation */
    MODEL_EV_PIPE_READ,   /* slot = pipe, value = bytes read */
    /* Before a blocking aio_poll(): bit 0 a handler's fd is ready, bit 1 an
     * armed timer expired. With a normal BH pending or a notification, it
     * may block without sleeping for ever. */
    MODEL_EV_READY,
    MODEL_EV_ITERATE_RET, /* g_main_context_iteration() returned value */
    /* After a top-level operation: bit c, clock c's timerfd has a tick. */
    MODEL_EV_TICKS,
} ModelEventType;

typedef struct {
    uint8_t type; /* ModelEventType */
    uint8_t slot;
    uint32_t value;
} ModelEvent;

typedef struct {
    bool normal, idle; /* pending, as normal / as idle (normal wins) */
    bool queued;       /* has an entry in the list */
    bool deleted;
    bool oneshot;
    uint8_t slot;   /* slot BHs */
    uint32_t id;    /* generation (slot BHs) or number (oneshots) */
    uint64_t since; /* strict B5: pass count when it last became pending */
    ModelAction actions[MODEL_ACTIONS]; /* oneshots: copied at birth */
} ModelBh;

typedef struct {
    uint32_t bh; /* index in bhs */
    uint64_t seq;
} ModelBhEntry;

/* An item epoll watches: a handler's fd or a clock's timerfd. */
typedef struct {
    uint64_t linked; /* 0: not on the ready list; else its place there */
} ModelWatch;

typedef struct {
    bool registered;
    uint32_t gen; /* of the current (or last) handler: bumped by each set */
    ModelWatch watch;
    /* The handlers part that last ran it (Model.handler_passes): a pass
     * skips a handler a later, nested one already ran (F1). */
    uint64_t served_pass;
} ModelHandler;

typedef struct {
    uint32_t bytes;
    ModelHandler end[2]; /* [0] the read end's, [1] the write end's */
} ModelPipe;

typedef struct {
    bool alive; /* created (aio_timer_new()/_init()), not freed */
    bool armed;
    uint8_t rank; /* ModelRank of the deadline, when armed */
    uint32_t gen;
    uint64_t seq; /* arming order */
    /* Armed while a timers part ran: waits until it ends or a nested one
     * begins (T1). */
    bool deferred;
} ModelTimer;

typedef struct {
    uint8_t programmed; /* ModelRank the timerfd is set to; MAX: not set */
    bool tick;          /* it fired and nobody read it */
    ModelWatch watch;
} ModelClock;

/* A handler collected by a handler part. */
typedef struct {
    uint8_t pipe, end;
    uint32_t gen;
} ModelReady;

typedef struct {
    unsigned n_slots;
    bool attached; /* the context's GSource is attached to a GMainContext */
    bool strict_b5;
    bool notified;     /* aio_notify() since the last accept */
    bool tearing_down; /* callbacks do nothing */
    unsigned depth;    /* callbacks running; 0: the harness's top level */
    uint64_t passes;   /* BH passes started so far */

    ModelAction actions[MODEL_OWNERS][MODEL_MAX_SLOTS][MODEL_ACTIONS];

    /* BHs */
    int32_t slot_bh[MODEL_MAX_SLOTS]; /* index in bhs, -1: dead */
    uint32_t slot_gen[MODEL_MAX_SLOTS];
    uint32_t n_oneshots;
    ModelBh *bhs;
    size_t n_bhs, cap_bhs;
    ModelBhEntry *queue; /* the list, from queue[head] to queue[tail - 1] */
    size_t head, tail, cap_queue;
    uint64_t next_seq;

    /* Handlers and epoll */
    ModelPipe pipes[MODEL_MAX_SLOTS];
    unsigned n_registered;
    uint64_t next_link;
    uint64_t handler_passes; /* handlers parts begun, numbering them */
    unsigned timer_parts;    /* timers parts running (nesting) */
    bool glib_saw_monitor; /* GLib's last poll found the epoll fd readable */

    /* Timers */
    ModelTimer timers[MODEL_MAX_SLOTS];
    ModelClock clocks[MODEL_CLOCKS];
    uint64_t next_timer_seq;
    unsigned n_armed;

    ModelEvent *log;
    size_t n_log, cap_log;
} Model;

/* The clock of timer slot @slot: even slots the monotonic, odd the wall
 * clock. */
static inline unsigned
model_timer_clock(unsigned slot)
{
    return slot & 1u;
}

/* Every BH and timer slot starts alive (generation 1) with no actions, every
 * pipe empty without handlers. @strict_b5: a BH that was cancelled, then
 * scheduled again by a callback of a pass that its leftover entry is part
 * of, runs in the next pass (B5 read literally) rather than at its earlier
 * place in this one (what gaio does, by B4's allowance). */
void model_init(Model *m, unsigned n_slots, bool attached, bool strict_b5);
void model_clear(Model *m);

void model_set_action(Model *m, ModelOwner owner, unsigned slot, unsigned idx,
                      ModelAction action);
/* What an action does; at the top level (depth 0) as the harness does it. */
void model_act(Model *m, ModelAction action);

/* Re-creates @slot if it is dead. */
void model_bh_new(Model *m, unsigned slot);
/* Re-creates @slot if it is dead, then schedules it. */
void model_bh_schedule(Model *m, unsigned slot, bool idle);
void model_bh_cancel(Model *m, unsigned slot);
void model_bh_delete(Model *m, unsigned slot);
/* A oneshot running @slot's actions. */
void model_bh_oneshot(Model *m, unsigned slot);
/* One pass the way @mode runs it; logs MODEL_EV_POLL_RET (and, for
 * MODEL_POLL_BLOCKING, the MODEL_EV_TIMEOUT and MODEL_EV_READY that decide
 * whether it may block). */
void model_poll(Model *m, ModelPollMode mode);
/* g_main_context_iteration(mc, FALSE), when attached. */
void model_iterate(Model *m);
/* Logs MODEL_EV_TIMEOUT with the value aio_bh_update_timeout() must give. */
void model_update_timeout(Model *m, uint32_t timeout_ms, uint8_t why);
void model_notify(Model *m);
/* After a top-level operation: logs MODEL_EV_TICKS if a timerfd has one. */
void model_settle(Model *m);
/* The clocks whose timerfd has a tick (bit c). */
unsigned model_ticks(const Model *m);
/* From now on callbacks do nothing; deletes every live BH slot and, if
 * @everything, removes every handler and frees every timer too (else they
 * are left for the context's finalize, C4). */
void model_teardown(Model *m, bool everything);
bool model_nothing_pending(const Model *m);
