/* fuzz-aio.c: libFuzzer harness for a whole AioContext: bottom halves (SPEC
 * B1-B14), fd handlers on pipes (F1, F2), timers (T1), and the passes that
 * run them (P1, P2, G3, G4).
 *
 * Input bytes become a sequence of API calls on one fresh AioContext (attached
 * to a fresh GMainContext, unless the header says not to): BH new, schedule,
 * schedule_idle, cancel, delete, oneshot; aio_poll (blocking or not),
 * aio_bh_poll, g_main_context_iteration, aio_bh_update_timeout, aio_notify;
 * and any action below, at the top level. Each BH slot, each pipe's read
 * and write handler and each timer slot has two predetermined actions its
 * callback performs when it runs, set by the input too: schedule / cancel /
 * delete a BH, a oneshot, a nested poll or GSource iteration, add, replace
 * or remove a handler (its own or another's), write to a pipe, read or
 * drain one, arm a timer (past or far-future deadlines only, see model.h),
 * delete or free one (itself included). The pipes, handlers and timers are
 * fuzz-io.c's.
 *
 * The reference model (model.c and its parts) simulates each operation
 * first and logs what must be observed: which callbacks run in which order,
 * what each poll and iteration returns, what aio_bh_update_timeout() gives,
 * what each pipe read gets. The real run is then checked against that log
 * event by event, as it happens; on the first difference the harness prints
 * the decoded input and both logs and aborts, so libFuzzer keeps the input
 * as a reproducer. Every input tears down to zero (BHs deleted and
 * reclaimed, handlers removed, timers freed, context and main context
 * freed, pipes closed) for LeakSanitizer; or, if the header says so, leaves
 * queued BHs, registered handlers and armed timers to the context's
 * finalize (C4).
 *
 * Input format: byte 0: bits 0-2 the number of slots - 1 (of each kind);
 * bit 3 set: do not attach a GMainContext; bit 4 set: finalize the context
 * right after the teardown's BH deletes, with deleted BHs and oneshots still
 * queued, handlers registered and timers armed (C4). Then operations: an
 * opcode byte (modulo FUZZ_OP_COUNT) and its operands; a missing operand
 * reads as 0. An action is two bytes: its kind (modulo MODEL_ACT_COUNT) and
 * its argument (model.h says how each kind reads it).
 *
 * The seeds in tests/fuzz/corpus are written by make-corpus.py, one small
 * scenario per rule. `make test-fuzz` replays them and fuzzes for 45 s;
 * `make fuzz` fuzzes for FUZZ_SECONDS.
 *
 * Environment: GAIO_FUZZ_TRACE=1 prints every input's operations and events;
 * GAIO_FUZZ_STRICT_B5=1 makes the model read B5 literally (model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-private.h"

/* Operations beyond this many are ignored: keeps every input fast. */
#define FUZZ_MAX_OPS 1024
/* Marks a oneshot's opaque; slots use slot | generation << 4. */
#define FUZZ_ONESHOT_TAG ((uintptr_t)1 << 30)

typedef enum {
    FUZZ_OP_NEW,           /* slot: aio_bh_new() if deleted */
    FUZZ_OP_SCHEDULE,      /* slot: qemu_bh_schedule(), re-created if deleted */
    FUZZ_OP_SCHEDULE_IDLE, /* slot: qemu_bh_schedule_idle(), likewise */
    FUZZ_OP_CANCEL,        /* slot: qemu_bh_cancel() if alive */
    FUZZ_OP_DELETE,        /* slot: qemu_bh_delete() if alive */
    FUZZ_OP_ONESHOT,       /* slot: a oneshot running that slot's actions */
    FUZZ_OP_SET_ACTION,    /* slot | index << 3 | owner << 4, action (2 bytes) */
    FUZZ_OP_POLL,          /* mode (ModelPollMode) */
    FUZZ_OP_ITERATE,       /* g_main_context_iteration(mc, FALSE) */
    FUZZ_OP_TIMEOUT,       /* aio_bh_update_timeout() from model_timeouts[] */
    FUZZ_OP_NOTIFY,        /* aio_notify() */
    FUZZ_OP_DO,            /* action (2 bytes), done at the top level */
    FUZZ_OP_COUNT
} FuzzOpCode;

typedef struct {
    uint8_t code; /* FuzzOpCode */
    uint8_t slot;
    uint8_t idx;
    uint8_t owner; /* ModelOwner */
    uint8_t arg;
    ModelAction action;
} FuzzOp;

typedef struct {
    const uint8_t *p, *end;
    unsigned n_slots;
    bool attached;
    bool drain; /* teardown removes everything and runs a pass before the
                 * context is finalized */
} FuzzDecoder;

FuzzHarness h;
static bool trace;
static bool strict_b5;

/* ------------------------------------------------------------ decoding */

static uint8_t
decoder_byte(FuzzDecoder *d)
{
    return d->p < d->end ? *d->p++ : 0;
}

static void
decoder_init(FuzzDecoder *d, const uint8_t *data, size_t size)
{
    uint8_t header;

    d->p = data;
    d->end = data + size;
    header = decoder_byte(d);
    d->n_slots = 1 + (header & 7u);
    d->attached = (header & 8u) == 0;
    d->drain = (header & 16u) == 0;
}

static ModelAction
decode_action(FuzzDecoder *d)
{
    uint8_t kind = (uint8_t)(decoder_byte(d) % MODEL_ACT_COUNT);

    return (ModelAction){.kind = kind, .arg = decoder_byte(d)};
}

static bool
decoder_next(FuzzDecoder *d, FuzzOp *op)
{
    uint8_t b;

    if (d->p >= d->end)
        return false;
    memset(op, 0, sizeof *op);
    op->code = (uint8_t)(decoder_byte(d) % FUZZ_OP_COUNT);
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_NEW:
    case FUZZ_OP_SCHEDULE:
    case FUZZ_OP_SCHEDULE_IDLE:
    case FUZZ_OP_CANCEL:
    case FUZZ_OP_DELETE:
    case FUZZ_OP_ONESHOT:
        op->slot = (uint8_t)(decoder_byte(d) % d->n_slots);
        break;
    case FUZZ_OP_SET_ACTION:
        b = decoder_byte(d);
        op->slot = (uint8_t)((b & 7u) % d->n_slots);
        op->idx = (uint8_t)((b >> 3) % MODEL_ACTIONS);
        op->owner = (uint8_t)((b >> 4) % MODEL_OWNERS);
        op->action = decode_action(d);
        break;
    case FUZZ_OP_POLL:
        op->arg = (uint8_t)(decoder_byte(d) % MODEL_POLL_MODES);
        break;
    case FUZZ_OP_TIMEOUT:
        op->arg = (uint8_t)(decoder_byte(d) % MODEL_N_TIMEOUTS);
        break;
    case FUZZ_OP_DO:
        op->action = decode_action(d);
        break;
    case FUZZ_OP_ITERATE:
    case FUZZ_OP_NOTIFY:
    case FUZZ_OP_COUNT:
    default:
        break;
    }
    return true;
}

/* ------------------------------------------------------------ the report */

static const char *const action_names[MODEL_ACT_COUNT] = {
    "nothing",    "schedule",  "schedule_idle", "cancel",    "delete", "oneshot",
    "poll",       "iterate",   "timeout",       "notify",    "fd_set", "fd_remove",
    "pipe_write", "pipe_read", "timer_arm",     "timer_del",
};
static const char *const poll_names[MODEL_POLL_MODES] = {
    "aio_poll(false)", "aio_poll(blocking)", "aio_bh_poll"};
static const char *const owner_names[MODEL_OWNERS] = {"bh", "read", "write", "timer"};
static const char *const level_names[MODEL_LEVELS] = {
    "0", "-1", "1ms", "now-1s", "now+1d", "now+2d", "never", "INT64_MAX"};
static const char *const end_names[2] = {"read", "write"};

static void
print_action(FILE *f, ModelAction a, unsigned n_slots)
{
    unsigned slot = (a.arg & 7u) % n_slots, bit3 = (a.arg >> 3) & 1u;

    switch ((ModelActionKind)a.kind) {
    case MODEL_ACT_POLL:
        fprintf(f, "poll %s", poll_names[a.arg % MODEL_POLL_MODES]);
        break;
    case MODEL_ACT_TIMEOUT:
        fprintf(f, "timeout %" PRIu32, model_timeouts[a.arg % MODEL_N_TIMEOUTS]);
        break;
    case MODEL_ACT_SCHEDULE:
    case MODEL_ACT_SCHEDULE_IDLE:
    case MODEL_ACT_CANCEL:
    case MODEL_ACT_DELETE:
    case MODEL_ACT_ONESHOT:
        fprintf(f, "%s s%u", action_names[a.kind], a.arg % n_slots);
        break;
    case MODEL_ACT_FD_SET:
    case MODEL_ACT_FD_REMOVE:
        fprintf(f, "%s p%u.%s", action_names[a.kind], slot, end_names[bit3]);
        break;
    case MODEL_ACT_PIPE_WRITE:
        fprintf(f, "pipe_write p%u", slot);
        break;
    case MODEL_ACT_PIPE_READ:
        fprintf(f, "pipe_%s p%u", bit3 ? "drain" : "read", slot);
        break;
    case MODEL_ACT_TIMER_ARM:
        fprintf(f, "timer_%s t%u %s", (a.arg >> 6) & 1u ? "anticipate" : "mod", slot,
                level_names[(a.arg >> 3) & 7u]);
        break;
    case MODEL_ACT_TIMER_DEL:
        fprintf(f, "timer_%s t%u", bit3 ? "free" : "del", slot);
        break;
    case MODEL_ACT_NOTHING:
    case MODEL_ACT_ITERATE:
    case MODEL_ACT_NOTIFY:
    case MODEL_ACT_COUNT:
    default:
        fprintf(f, "%s", a.kind < MODEL_ACT_COUNT ? action_names[a.kind] : "?");
        break;
    }
}

static void
print_op(FILE *f, const FuzzOp *op, unsigned n_slots)
{
    static const char *const names[FUZZ_OP_COUNT] = {
        "new",        "schedule", "schedule_idle", "cancel",  "delete", "oneshot",
        "set_action", "poll",     "iterate",       "timeout", "notify", "do",
    };

    fprintf(f, "%s", names[op->code]);
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_SET_ACTION:
        fprintf(f, " %s%u[%u] = ", owner_names[op->owner], op->slot, op->idx);
        print_action(f, op->action, n_slots);
        break;
    case FUZZ_OP_DO:
        fputc(' ', f);
        print_action(f, op->action, n_slots);
        break;
    case FUZZ_OP_POLL:
        fprintf(f, " %s", poll_names[op->arg]);
        break;
    case FUZZ_OP_TIMEOUT:
        fprintf(f, " %" PRIu32, model_timeouts[op->arg]);
        break;
    case FUZZ_OP_ITERATE:
    case FUZZ_OP_NOTIFY:
        break;
    case FUZZ_OP_NEW:
    case FUZZ_OP_SCHEDULE:
    case FUZZ_OP_SCHEDULE_IDLE:
    case FUZZ_OP_CANCEL:
    case FUZZ_OP_DELETE:
    case FUZZ_OP_ONESHOT:
    case FUZZ_OP_COUNT:
    default:
        fprintf(f, " s%u", op->slot);
        break;
    }
}

static void
format_event(char *buf, size_t size, const ModelEvent *ev)
{
    switch ((ModelEventType)ev->type) {
    case MODEL_EV_RUN:
        snprintf(buf, size, "run s%u.%" PRIu32, ev->slot, ev->value);
        break;
    case MODEL_EV_ONESHOT_RUN:
        snprintf(buf, size, "run oneshot#%" PRIu32, ev->value);
        break;
    case MODEL_EV_POLL_RET:
        snprintf(buf, size, "%s = %" PRIu32,
                 ev->slot < MODEL_POLL_MODES ? poll_names[ev->slot] : "?", ev->value);
        break;
    case MODEL_EV_TIMEOUT:
        snprintf(buf, size, "update_timeout = %" PRIu32, ev->value);
        break;
    case MODEL_EV_HANDLER_RUN:
        snprintf(buf, size, "run p%u.%s.%" PRIu32, ev->slot & 7u,
                 end_names[(ev->slot >> 3) & 1u], ev->value);
        break;
    case MODEL_EV_TIMER_RUN:
        snprintf(buf, size, "run t%u.%" PRIu32, ev->slot, ev->value);
        break;
    case MODEL_EV_PIPE_READ:
        snprintf(buf, size, "read p%u = %" PRIu32, ev->slot, ev->value);
        break;
    case MODEL_EV_READY:
        snprintf(buf, size, "ready:%s%s%s", ev->value & 1u ? " handler" : "",
                 ev->value & 2u ? " timer" : "", ev->value == 0 ? " none" : "");
        break;
    case MODEL_EV_ITERATE_RET:
        snprintf(buf, size, "iteration = %" PRIu32, ev->value);
        break;
    case MODEL_EV_TICKS:
        snprintf(buf, size, "timerfd ticks:%s%s", ev->value & 1u ? " realtime" : "",
                 ev->value & 2u ? " host" : "");
        break;
    default:
        snprintf(buf, size, "?");
        break;
    }
}

/* The whole input decoded, the slots' actions and both logs. */
static void
print_trace(FILE *f)
{
    FuzzDecoder d;
    FuzzOp op;
    unsigned i = 0;
    size_t n = MAX(h.n_seen, h.model.n_log);

    decoder_init(&d, h.data, h.size);
    fprintf(f, "--- input: %zu bytes, %u slots, %s, %s, model %s B5\n", h.size, d.n_slots,
            d.attached ? "attached to a GMainContext" : "not attached",
            d.drain ? "drained" : "not drained", strict_b5 ? "strict" : "gaio's");
    while (i < FUZZ_MAX_OPS && decoder_next(&d, &op)) {
        fprintf(f, "%s op %3u: ", i == h.op_index ? ">>" : "  ", i);
        print_op(f, &op, d.n_slots);
        fputc('\n', f);
        i++;
    }
    if (h.op_index >= i)
        fprintf(f, ">> teardown: delete every BH%s\n",
                d.drain ? ", remove every handler, free every timer, aio_poll(false), "
                          "aio_bh_poll"
                        : "");
    fprintf(f, "--- actions (at the end):\n");
    for (unsigned o = 0; o < MODEL_OWNERS; o++) {
        for (unsigned s = 0; s < h.n_slots; s++) {
            bool any = false;

            for (unsigned k = 0; k < MODEL_ACTIONS; k++)
                any |= h.actions[o][s][k].kind != MODEL_ACT_NOTHING;
            if (!any)
                continue;
            fprintf(f, "  %s%u:", owner_names[o], s);
            for (unsigned k = 0; k < MODEL_ACTIONS; k++) {
                fputc(' ', f);
                print_action(f, h.actions[o][s][k], h.n_slots);
                fputc(k + 1 < MODEL_ACTIONS ? ',' : '\n', f);
            }
        }
    }
    fprintf(f, "--- events: model | gaio\n");
    for (size_t k = 0; k < n; k++) {
        char want[64] = "", seen[64] = "";

        if (k < h.model.n_log)
            format_event(want, sizeof want, &h.model.log[k]);
        if (k < h.n_seen)
            format_event(seen, sizeof seen, &h.seen[k]);
        fprintf(f, "  %4zu  %-32s| %s\n", k, want, seen);
    }
}

void
fuzz_fail(const char *format, ...)
{
    va_list ap;

    fprintf(stderr, "\n*** gaio fuzz-aio: check failed: ");
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    print_trace(stderr);
    fflush(stderr);
    abort();
}

static void
fuzz_log_handler(const char *domain, GLogLevelFlags level, const char *message,
                 gpointer user_data)
{
    /* Criticals are programming errors (a bad call, C5, an fd epoll
     * refuses); gaio's only debug message names a BH finalize found alive
     * (C4): the harness leaked it. */
    if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) ||
        g_strcmp0(domain, "gaio") == 0)
        fuzz_fail("GLib message from %s: %s", domain ? domain : "(no domain)", message);
}

/* ------------------------------------------------------------ the real side */

void
fuzz_expect(ModelEventType type, unsigned slot, uint32_t value)
{
    size_t k = h.n_seen;
    const ModelEvent *want;

    if (h.n_seen == h.cap_seen) {
        h.cap_seen = MAX(64, 2 * h.cap_seen);
        h.seen = g_realloc_n(h.seen, h.cap_seen, sizeof *h.seen);
    }
    h.seen[h.n_seen++] =
        (ModelEvent){.type = (uint8_t)type, .slot = (uint8_t)slot, .value = value};
    if (k >= h.model.n_log)
        fuzz_fail("event %zu happened, the model expects nothing more", k);
    want = &h.model.log[k];
    if (want->type != type || want->slot != slot || want->value != value)
        fuzz_fail("event %zu differs", k);
}

static void fuzz_cb(void *opaque);

static void
slot_new(unsigned s)
{
    if (h.bh[s] != NULL)
        return;
    h.gen[s]++;
    h.bh[s] =
        aio_bh_new(h.ctx, fuzz_cb, (void *)(uintptr_t)(s | (uintptr_t)h.gen[s] << 4));
}

static void
slot_schedule(unsigned s, bool idle)
{
    slot_new(s);
    if (idle)
        qemu_bh_schedule_idle(h.bh[s]);
    else
        qemu_bh_schedule(h.bh[s]);
}

static void
slot_cancel(unsigned s)
{
    if (h.bh[s] != NULL)
        qemu_bh_cancel(h.bh[s]);
}

static void
slot_delete(unsigned s)
{
    if (h.bh[s] == NULL)
        return;
    qemu_bh_delete(h.bh[s]); /* never touched again */
    h.bh[s] = NULL;
}

static void
do_oneshot(unsigned s)
{
    uint32_t id;

    if (h.n_oneshots >= MODEL_MAX_ONESHOTS)
        return;
    id = h.n_oneshots++;
    memcpy(h.oneshot_actions[id], h.actions[MODEL_OWNER_BH][s],
           sizeof h.oneshot_actions[id]);
    aio_bh_schedule_oneshot(h.ctx, fuzz_cb, (void *)(FUZZ_ONESHOT_TAG | id));
}

static void
do_update_timeout(uint32_t timeout_ms, uint8_t why)
{
    aio_bh_update_timeout(h.ctx, &timeout_ms);
    fuzz_expect(MODEL_EV_TIMEOUT, why, timeout_ms);
}

static void
do_poll(ModelPollMode mode)
{
    uint32_t t = UINT32_MAX;
    unsigned ready;
    bool blocking;
    int ret;

    switch (mode) {
    case MODEL_POLL_BLOCKING:
        /* Block only when aio_poll() must not sleep for ever (P2): a
         * normal BH is pending (checked against the model first),
         * aio_notify() ran, a handler's fd is ready or a timer expired. */
        aio_bh_update_timeout(h.ctx, &t);
        fuzz_expect(MODEL_EV_TIMEOUT, 1, t);
        ready = fuzz_io_ready_bits();
        fuzz_expect(MODEL_EV_READY, 0, ready);
        blocking = t == 0 || h.notified || ready != 0;
        h.notified = false;
        ret = aio_poll(h.ctx, blocking);
        break;
    case MODEL_POLL_NONBLOCKING:
        h.notified = false;
        ret = aio_poll(h.ctx, false);
        break;
    case MODEL_POLL_BH_POLL:
    case MODEL_POLL_MODES:
    default:
        ret = aio_bh_poll(h.ctx);
        break;
    }
    fuzz_expect(MODEL_EV_POLL_RET, mode, (uint32_t)ret);
}

static void
do_iterate(void)
{
    gboolean ret;

    if (h.mc == NULL)
        return;
    /* A notification makes the source ready and is accepted by dispatch. */
    h.notified = false;
    ret = g_main_context_iteration(h.mc, FALSE);
    fuzz_expect(MODEL_EV_ITERATE_RET, 0, ret != FALSE);
}

static void
do_notify(void)
{
    h.notified = true;
    aio_notify(h.ctx);
}

static void
do_action(ModelAction a)
{
    unsigned target = a.arg % h.n_slots;

    switch ((ModelActionKind)a.kind) {
    case MODEL_ACT_SCHEDULE:
        slot_schedule(target, false);
        break;
    case MODEL_ACT_SCHEDULE_IDLE:
        slot_schedule(target, true);
        break;
    case MODEL_ACT_CANCEL:
        slot_cancel(target);
        break;
    case MODEL_ACT_DELETE:
        slot_delete(target);
        break;
    case MODEL_ACT_ONESHOT:
        do_oneshot(target);
        break;
    case MODEL_ACT_POLL:
        if (h.depth < MODEL_MAX_DEPTH)
            do_poll((ModelPollMode)(a.arg % MODEL_POLL_MODES));
        break;
    case MODEL_ACT_ITERATE:
        if (h.depth < MODEL_MAX_DEPTH)
            do_iterate();
        break;
    case MODEL_ACT_TIMEOUT:
        do_update_timeout(model_timeouts[a.arg % MODEL_N_TIMEOUTS], 0);
        break;
    case MODEL_ACT_NOTIFY:
        do_notify();
        break;
    case MODEL_ACT_FD_SET:
    case MODEL_ACT_FD_REMOVE:
    case MODEL_ACT_PIPE_WRITE:
    case MODEL_ACT_PIPE_READ:
    case MODEL_ACT_TIMER_ARM:
    case MODEL_ACT_TIMER_DEL:
        fuzz_io_act(a);
        break;
    case MODEL_ACT_NOTHING:
    case MODEL_ACT_COUNT:
    default:
        break;
    }
}

void
fuzz_run_actions(const ModelAction actions[MODEL_ACTIONS])
{
    ModelAction copy[MODEL_ACTIONS];

    if (h.tearing_down)
        return;
    memcpy(copy, actions, sizeof copy);
    h.depth++;
    for (unsigned i = 0; i < MODEL_ACTIONS; i++)
        do_action(copy[i]);
    h.depth--;
}

static void
fuzz_cb(void *opaque)
{
    uintptr_t v = (uintptr_t)opaque;

    if (v & FUZZ_ONESHOT_TAG) {
        uint32_t id = (uint32_t)(v & ~FUZZ_ONESHOT_TAG);

        fuzz_expect(MODEL_EV_ONESHOT_RUN, 0, id);
        fuzz_run_actions(h.oneshot_actions[id]);
    } else {
        unsigned s = (unsigned)(v & 15u);
        uint32_t gen = (uint32_t)(v >> 4);

        fuzz_expect(MODEL_EV_RUN, s, gen);
        if (h.bh[s] == NULL || h.gen[s] != gen)
            fuzz_fail("slot %u generation %" PRIu32 " ran after its delete", s, gen);
        fuzz_run_actions(h.actions[MODEL_OWNER_BH][s]);
    }
}

/* ------------------------------------------------------------ one input */

static void
model_apply(Model *m, const FuzzOp *op)
{
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_NEW:
        model_bh_new(m, op->slot);
        break;
    case FUZZ_OP_SCHEDULE:
    case FUZZ_OP_SCHEDULE_IDLE:
        model_bh_schedule(m, op->slot, op->code == FUZZ_OP_SCHEDULE_IDLE);
        break;
    case FUZZ_OP_CANCEL:
        model_bh_cancel(m, op->slot);
        break;
    case FUZZ_OP_DELETE:
        model_bh_delete(m, op->slot);
        break;
    case FUZZ_OP_ONESHOT:
        model_bh_oneshot(m, op->slot);
        break;
    case FUZZ_OP_SET_ACTION:
        model_set_action(m, (ModelOwner)op->owner, op->slot, op->idx, op->action);
        break;
    case FUZZ_OP_POLL:
        model_poll(m, (ModelPollMode)op->arg);
        break;
    case FUZZ_OP_ITERATE:
        model_iterate(m);
        break;
    case FUZZ_OP_TIMEOUT:
        model_update_timeout(m, model_timeouts[op->arg], 0);
        break;
    case FUZZ_OP_NOTIFY:
        model_notify(m);
        break;
    case FUZZ_OP_DO:
        model_act(m, op->action);
        break;
    case FUZZ_OP_COUNT:
    default:
        break;
    }
    model_settle(m);
}

static void
harness_apply(const FuzzOp *op)
{
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_NEW:
        slot_new(op->slot);
        break;
    case FUZZ_OP_SCHEDULE:
    case FUZZ_OP_SCHEDULE_IDLE:
        slot_schedule(op->slot, op->code == FUZZ_OP_SCHEDULE_IDLE);
        break;
    case FUZZ_OP_CANCEL:
        slot_cancel(op->slot);
        break;
    case FUZZ_OP_DELETE:
        slot_delete(op->slot);
        break;
    case FUZZ_OP_ONESHOT:
        do_oneshot(op->slot);
        break;
    case FUZZ_OP_SET_ACTION:
        h.actions[op->owner][op->slot][op->idx] = op->action;
        break;
    case FUZZ_OP_POLL:
        do_poll((ModelPollMode)op->arg);
        break;
    case FUZZ_OP_ITERATE:
        do_iterate();
        break;
    case FUZZ_OP_TIMEOUT:
        do_update_timeout(model_timeouts[op->arg], 0);
        break;
    case FUZZ_OP_NOTIFY:
        do_notify();
        break;
    case FUZZ_OP_DO:
        do_action(op->action);
        break;
    case FUZZ_OP_COUNT:
    default:
        break;
    }
    fuzz_io_settle();
}

/* After each operation both logs must be equally long (nothing missing). */
static void
check_caught_up(void)
{
    if (h.n_seen != h.model.n_log)
        fuzz_fail("the model expects %zu more event(s)", h.model.n_log - h.n_seen);
}

static void
harness_setup(const FuzzDecoder *d)
{
    g_autoptr(GError) error = NULL;

    h.ctx = aio_context_new(&error);
    if (h.ctx == NULL) {
        fprintf(stderr, "aio_context_new: %s\n", error->message);
        abort();
    }
    h.n_slots = d->n_slots;
    if (d->attached) {
        h.mc = g_main_context_new();
        h.source = aio_get_g_source(h.ctx);
        g_source_attach(h.source, h.mc);
        g_source_unref(h.source); /* mc holds it until g_source_destroy() */
    }
    for (unsigned s = 0; s < h.n_slots; s++)
        slot_new(s);
    fuzz_io_setup();
    model_init(&h.model, d->n_slots, d->attached, strict_b5);
}

/* Deletes every BH; when @drain, also removes every handler and frees every
 * timer, lets one pass run what is left and reclaim the deleted BHs (B10),
 * and checks a second one finds nothing. Then frees it all: finalize
 * reclaims whatever is still queued, registered or armed (C4). */
static void
harness_teardown(bool drain)
{
    model_teardown(&h.model, drain);
    if (drain) {
        model_poll(&h.model, MODEL_POLL_NONBLOCKING);
        model_poll(&h.model, MODEL_POLL_BH_POLL);
    }
    h.tearing_down = true;
    for (unsigned s = 0; s < h.n_slots; s++)
        slot_delete(s);
    fuzz_io_teardown(drain);
    if (drain) {
        do_poll(MODEL_POLL_NONBLOCKING);
        do_poll(MODEL_POLL_BH_POLL);
    }
    check_caught_up();
    if (drain && !model_nothing_pending(&h.model))
        fuzz_fail("the model still has BHs pending after teardown");
    if (trace)
        print_trace(stderr);

    if (h.mc != NULL) {
        g_source_destroy(h.source);
        g_main_context_unref(h.mc);
    }
    aio_context_unref(h.ctx);
    fuzz_io_close();
    g_free(h.seen);
    model_clear(&h.model);
    memset(&h, 0, sizeof h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    trace = g_strcmp0(g_getenv("GAIO_FUZZ_TRACE"), "1") == 0;
    strict_b5 = g_strcmp0(g_getenv("GAIO_FUZZ_STRICT_B5"), "1") == 0;
    g_log_set_default_handler(fuzz_log_handler, NULL);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzDecoder d;
    FuzzOp op;

    if (size == 0)
        return 0;
    memset(&h, 0, sizeof h);
    h.data = data;
    h.size = size;
    decoder_init(&d, data, size);
    harness_setup(&d);

    for (h.op_index = 0; h.op_index < FUZZ_MAX_OPS && decoder_next(&d, &op);
         h.op_index++) {
        model_apply(&h.model, &op);
        harness_apply(&op);
        check_caught_up();
    }
    harness_teardown(d.drain);
    return 0;
}
