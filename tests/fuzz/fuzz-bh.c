/* fuzz-bh.c: libFuzzer harness for bottom halves (SPEC B1-B14, P1, P2, G3, G4).
 *
 * Input bytes become a sequence of API calls on one fresh AioContext (attached
 * to a fresh GMainContext, unless the header says not to): new, schedule,
 * schedule_idle, cancel, delete, oneshot, aio_poll (blocking or not),
 * aio_bh_poll, g_main_context_iteration, aio_bh_update_timeout, aio_notify.
 * Each BH slot has two predetermined actions its callback performs when it
 * runs (schedule / cancel / delete another BH or itself, a oneshot, a nested
 * poll or GSource iteration, ...), set by the input too.
 *
 * The reference model (bh-model.c) simulates each operation first and logs
 * what must be observed: which callbacks run in which order, what each poll
 * returns and what aio_bh_update_timeout() gives. The real run is then checked
 * against that log event by event, as it happens; on the first difference the
 * harness prints the decoded input and both logs and aborts, so libFuzzer
 * keeps the input as a reproducer. Every input tears down to zero (all BHs
 * deleted and reclaimed, context and main context freed) for LeakSanitizer.
 *
 * Input format: byte 0: bits 0-2 the number of slots - 1; bit 3 set: do not
 * attach a GMainContext; bit 4 set: finalize the context right after the
 * teardown's deletes, with deleted BHs and oneshots still queued (C4). Then
 * operations: an opcode byte (modulo FUZZ_OP_COUNT) and its operands; a
 * missing operand reads as 0.
 *
 * The seeds in tests/fuzz/corpus are written by make-corpus.py, one small
 * scenario per rule. `make test-fuzz` replays them and fuzzes for 45 s;
 * `make fuzz` fuzzes for FUZZ_SECONDS.
 *
 * Environment: GAIO_FUZZ_TRACE=1 prints every input's operations and events;
 * GAIO_FUZZ_STRICT_B5=1 makes the model read B5 literally (bh-model.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gaio/gaio.h>

#include "bh-model.h"

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
    FUZZ_OP_SET_ACTION,    /* slot | index << 3, action: kind | arg << 4 */
    FUZZ_OP_POLL,          /* mode (BhPollMode) */
    FUZZ_OP_ITERATE,       /* g_main_context_iteration(mc, FALSE) */
    FUZZ_OP_TIMEOUT,       /* aio_bh_update_timeout() from bh_model_timeouts[] */
    FUZZ_OP_NOTIFY,        /* aio_notify() */
    FUZZ_OP_COUNT
} FuzzOpCode;

typedef struct {
    uint8_t code; /* FuzzOpCode */
    uint8_t slot;
    uint8_t idx;
    uint8_t arg;
    BhAction action;
} FuzzOp;

typedef struct {
    const uint8_t *p, *end;
    unsigned n_slots;
    bool attached;
    bool drain; /* teardown runs a pass before the context is finalized */
} FuzzDecoder;

/* The real side. Callbacks reach it through this global. */
typedef struct {
    AioContext *ctx;
    GMainContext *mc; /* NULL when not attached */
    GSource *source;  /* the context's, attached to mc (mc's reference) */
    unsigned n_slots;
    bool notified;
    bool tearing_down;
    unsigned depth; /* callbacks running */
    QEMUBH *bh[BH_MODEL_MAX_SLOTS];
    uint32_t gen[BH_MODEL_MAX_SLOTS];
    BhAction actions[BH_MODEL_MAX_SLOTS][BH_MODEL_ACTIONS];
    uint32_t n_oneshots;
    BhAction oneshot_actions[BH_MODEL_MAX_ONESHOTS][BH_MODEL_ACTIONS];

    BhModel model;
    BhEvent *seen; /* what happened, checked against model.log */
    size_t n_seen, cap_seen;

    /* For the report. */
    const uint8_t *data;
    size_t size;
    unsigned op_index;
} FuzzHarness;

static FuzzHarness h;
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

static BhAction
decode_action(uint8_t byte)
{
    return (BhAction){.kind = (uint8_t)((byte & 15u) % BH_ACT_COUNT),
                      .arg = (uint8_t)(byte >> 4)};
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
        op->idx = (uint8_t)((b >> 3) % BH_MODEL_ACTIONS);
        op->action = decode_action(decoder_byte(d));
        break;
    case FUZZ_OP_POLL:
        op->arg = (uint8_t)(decoder_byte(d) % BH_POLL_MODES);
        break;
    case FUZZ_OP_TIMEOUT:
        op->arg = (uint8_t)(decoder_byte(d) % BH_MODEL_N_TIMEOUTS);
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

static const char *const action_names[BH_ACT_COUNT] = {
    "nothing", "schedule", "schedule_idle", "cancel",  "delete",
    "oneshot", "poll",     "iterate",       "timeout", "notify",
};
static const char *const poll_names[BH_POLL_MODES] = {
    "aio_poll(false)", "aio_poll(blocking)", "aio_bh_poll"};

static void
print_action(FILE *f, BhAction a, unsigned n_slots)
{
    switch ((BhActionKind)a.kind) {
    case BH_ACT_POLL:
        fprintf(f, "poll %s", poll_names[a.arg % BH_POLL_MODES]);
        break;
    case BH_ACT_TIMEOUT:
        fprintf(f, "timeout %" PRIu32, bh_model_timeouts[a.arg % BH_MODEL_N_TIMEOUTS]);
        break;
    case BH_ACT_SCHEDULE:
    case BH_ACT_SCHEDULE_IDLE:
    case BH_ACT_CANCEL:
    case BH_ACT_DELETE:
    case BH_ACT_ONESHOT:
        fprintf(f, "%s s%u", action_names[a.kind], a.arg % n_slots);
        break;
    case BH_ACT_NOTHING:
    case BH_ACT_ITERATE:
    case BH_ACT_NOTIFY:
    case BH_ACT_COUNT:
    default:
        fprintf(f, "%s", a.kind < BH_ACT_COUNT ? action_names[a.kind] : "?");
        break;
    }
}

static void
print_op(FILE *f, const FuzzOp *op, unsigned n_slots)
{
    static const char *const names[FUZZ_OP_COUNT] = {
        "new",        "schedule", "schedule_idle", "cancel",  "delete", "oneshot",
        "set_action", "poll",     "iterate",       "timeout", "notify",
    };

    fprintf(f, "%s", names[op->code]);
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_SET_ACTION:
        fprintf(f, " s%u[%u] = ", op->slot, op->idx);
        print_action(f, op->action, n_slots);
        break;
    case FUZZ_OP_POLL:
        fprintf(f, " %s", poll_names[op->arg]);
        break;
    case FUZZ_OP_TIMEOUT:
        fprintf(f, " %" PRIu32, bh_model_timeouts[op->arg]);
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
format_event(char *buf, size_t size, const BhEvent *ev)
{
    switch ((BhEventType)ev->type) {
    case BH_EV_RUN:
        snprintf(buf, size, "run s%u.%" PRIu32, ev->slot, ev->value);
        break;
    case BH_EV_ONESHOT_RUN:
        snprintf(buf, size, "run oneshot#%" PRIu32, ev->value);
        break;
    case BH_EV_POLL_RET:
        snprintf(buf, size, "%s = %" PRIu32,
                 ev->slot < BH_POLL_MODES ? poll_names[ev->slot] : "?", ev->value);
        break;
    case BH_EV_TIMEOUT:
        snprintf(buf, size, "update_timeout = %" PRIu32, ev->value);
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
        fprintf(f, ">> teardown: delete every slot%s\n",
                d.drain ? ", aio_poll(false), aio_bh_poll" : "");
    fprintf(f, "--- actions (at the end):\n");
    for (unsigned s = 0; s < h.n_slots; s++) {
        fprintf(f, "  s%u:", s);
        for (unsigned k = 0; k < BH_MODEL_ACTIONS; k++) {
            fputc(' ', f);
            print_action(f, h.actions[s][k], h.n_slots);
            fputc(k + 1 < BH_MODEL_ACTIONS ? ',' : '\n', f);
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

static G_NORETURN void G_GNUC_PRINTF(1, 2) fuzz_fail(const char *format, ...)
{
    va_list ap;

    fprintf(stderr, "\n*** gaio fuzz-bh: check failed: ");
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
    /* Criticals are programming errors (a bad call, C5); gaio's only debug
     * message names a BH finalize found alive (C4): the harness leaked it. */
    if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) ||
        g_strcmp0(domain, "gaio") == 0)
        fuzz_fail("GLib message from %s: %s", domain ? domain : "(no domain)", message);
}

/* ------------------------------------------------------------ the real side */

static void
expect(BhEventType type, unsigned slot, uint32_t value)
{
    size_t k = h.n_seen;
    const BhEvent *want;

    if (h.n_seen == h.cap_seen) {
        h.cap_seen = MAX(64, 2 * h.cap_seen);
        h.seen = g_realloc_n(h.seen, h.cap_seen, sizeof *h.seen);
    }
    h.seen[h.n_seen++] =
        (BhEvent){.type = (uint8_t)type, .slot = (uint8_t)slot, .value = value};
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

    if (h.n_oneshots >= BH_MODEL_MAX_ONESHOTS)
        return;
    id = h.n_oneshots++;
    memcpy(h.oneshot_actions[id], h.actions[s], sizeof h.oneshot_actions[id]);
    aio_bh_schedule_oneshot(h.ctx, fuzz_cb, (void *)(FUZZ_ONESHOT_TAG | id));
}

static void
do_update_timeout(uint32_t timeout_ms, uint8_t why)
{
    aio_bh_update_timeout(h.ctx, &timeout_ms);
    expect(BH_EV_TIMEOUT, why, timeout_ms);
}

static void
do_poll(BhPollMode mode)
{
    uint32_t t = UINT32_MAX;
    bool blocking;
    int ret;

    switch (mode) {
    case BH_POLL_BLOCKING:
        /* Block only when aio_poll() must not sleep (P2): a normal BH is
         * pending (checked against the model first) or aio_notify() ran. */
        aio_bh_update_timeout(h.ctx, &t);
        expect(BH_EV_TIMEOUT, 1, t);
        blocking = t == 0 || h.notified;
        h.notified = false;
        ret = aio_poll(h.ctx, blocking);
        break;
    case BH_POLL_NONBLOCKING:
        h.notified = false;
        ret = aio_poll(h.ctx, false);
        break;
    case BH_POLL_BH_POLL:
    case BH_POLL_MODES:
    default:
        ret = aio_bh_poll(h.ctx);
        break;
    }
    expect(BH_EV_POLL_RET, mode, (uint32_t)ret);
}

static void
do_iterate(void)
{
    if (h.mc == NULL)
        return;
    /* A notification makes the source ready and is accepted by dispatch. */
    h.notified = false;
    g_main_context_iteration(h.mc, FALSE);
}

static void
do_notify(void)
{
    h.notified = true;
    aio_notify(h.ctx);
}

static void
do_action(BhAction a)
{
    unsigned target = a.arg % h.n_slots;

    switch ((BhActionKind)a.kind) {
    case BH_ACT_SCHEDULE:
        slot_schedule(target, false);
        break;
    case BH_ACT_SCHEDULE_IDLE:
        slot_schedule(target, true);
        break;
    case BH_ACT_CANCEL:
        slot_cancel(target);
        break;
    case BH_ACT_DELETE:
        slot_delete(target);
        break;
    case BH_ACT_ONESHOT:
        do_oneshot(target);
        break;
    case BH_ACT_POLL:
        if (h.depth < BH_MODEL_MAX_DEPTH)
            do_poll((BhPollMode)(a.arg % BH_POLL_MODES));
        break;
    case BH_ACT_ITERATE:
        if (h.depth < BH_MODEL_MAX_DEPTH)
            do_iterate();
        break;
    case BH_ACT_TIMEOUT:
        do_update_timeout(bh_model_timeouts[a.arg % BH_MODEL_N_TIMEOUTS], 0);
        break;
    case BH_ACT_NOTIFY:
        do_notify();
        break;
    case BH_ACT_NOTHING:
    case BH_ACT_COUNT:
    default:
        break;
    }
}

static void
fuzz_cb(void *opaque)
{
    uintptr_t v = (uintptr_t)opaque;
    BhAction actions[BH_MODEL_ACTIONS];

    if (v & FUZZ_ONESHOT_TAG) {
        uint32_t id = (uint32_t)(v & ~FUZZ_ONESHOT_TAG);

        expect(BH_EV_ONESHOT_RUN, 0, id);
        memcpy(actions, h.oneshot_actions[id], sizeof actions);
    } else {
        unsigned s = (unsigned)(v & 15u);
        uint32_t gen = (uint32_t)(v >> 4);

        expect(BH_EV_RUN, s, gen);
        if (h.bh[s] == NULL || h.gen[s] != gen)
            fuzz_fail("slot %u generation %" PRIu32 " ran after its delete", s, gen);
        memcpy(actions, h.actions[s], sizeof actions);
    }
    if (h.tearing_down)
        return;
    h.depth++;
    for (unsigned i = 0; i < BH_MODEL_ACTIONS; i++)
        do_action(actions[i]);
    h.depth--;
}

/* ------------------------------------------------------------ one input */

static void
model_apply(BhModel *m, const FuzzOp *op)
{
    switch ((FuzzOpCode)op->code) {
    case FUZZ_OP_NEW:
        bh_model_new(m, op->slot);
        break;
    case FUZZ_OP_SCHEDULE:
    case FUZZ_OP_SCHEDULE_IDLE:
        bh_model_schedule(m, op->slot, op->code == FUZZ_OP_SCHEDULE_IDLE);
        break;
    case FUZZ_OP_CANCEL:
        bh_model_cancel(m, op->slot);
        break;
    case FUZZ_OP_DELETE:
        bh_model_delete(m, op->slot);
        break;
    case FUZZ_OP_ONESHOT:
        bh_model_oneshot(m, op->slot);
        break;
    case FUZZ_OP_SET_ACTION:
        bh_model_set_action(m, op->slot, op->idx, op->action);
        break;
    case FUZZ_OP_POLL:
        bh_model_poll(m, (BhPollMode)op->arg);
        break;
    case FUZZ_OP_ITERATE:
        bh_model_iterate(m);
        break;
    case FUZZ_OP_TIMEOUT:
        bh_model_update_timeout(m, bh_model_timeouts[op->arg], 0);
        break;
    case FUZZ_OP_NOTIFY:
        bh_model_notify(m);
        break;
    case FUZZ_OP_COUNT:
    default:
        break;
    }
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
        h.actions[op->slot][op->idx] = op->action;
        break;
    case FUZZ_OP_POLL:
        do_poll((BhPollMode)op->arg);
        break;
    case FUZZ_OP_ITERATE:
        do_iterate();
        break;
    case FUZZ_OP_TIMEOUT:
        do_update_timeout(bh_model_timeouts[op->arg], 0);
        break;
    case FUZZ_OP_NOTIFY:
        do_notify();
        break;
    case FUZZ_OP_COUNT:
    default:
        break;
    }
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
    bh_model_init(&h.model, d->n_slots, d->attached, strict_b5);
}

/* Deletes everything; when @drain, lets one pass run what is left and
 * reclaim the deleted BHs (B10), and checks a second one finds nothing.
 * Then frees it all: finalize reclaims whatever is still queued (C4). */
static void
harness_teardown(bool drain)
{
    bh_model_teardown(&h.model);
    if (drain) {
        bh_model_poll(&h.model, BH_POLL_NONBLOCKING);
        bh_model_poll(&h.model, BH_POLL_BH_POLL);
    }
    h.tearing_down = true;
    for (unsigned s = 0; s < h.n_slots; s++)
        slot_delete(s);
    if (drain) {
        do_poll(BH_POLL_NONBLOCKING);
        do_poll(BH_POLL_BH_POLL);
    }
    check_caught_up();
    if (drain && !bh_model_nothing_pending(&h.model))
        fuzz_fail("the model still has BHs pending after teardown");
    if (trace)
        print_trace(stderr);

    if (h.mc != NULL) {
        g_source_destroy(h.source);
        g_main_context_unref(h.mc);
    }
    aio_context_unref(h.ctx);
    g_free(h.seen);
    bh_model_clear(&h.model);
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
