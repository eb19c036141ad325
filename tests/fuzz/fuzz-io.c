/* fuzz-io.c: the harness's fd handlers on pipes and its timers (SPEC F1, F2,
 * T1), the real side of model-fd.c and model-timer.c.
 *
 * Each pipe slot has a read end, whose handler has io_read, and a write end,
 * whose handler has io_write; the pipes are non-blocking and never hold more
 * than MODEL_PIPE_CAP bytes. Each timer slot has a fixed clock (even slots
 * AIO_CLOCK_REALTIME, odd AIO_CLOCK_HOST), a fixed scale (NS, US, MS by slot
 * modulo 3), and is embedded (aio_timer_init()) when bit 1 of the slot is
 * set, else made by aio_timer_new().
 *
 * Timers are armed only with deadlines already past or a day or more ahead
 * (ModelLevel), so that which timers are expired never depends on how fast
 * the input runs: see model.h. The one thing that does take time is a
 * timerfd set to a past deadline (by arming from outside a pass): its tick
 * arrives a few microseconds later, from the kernel's timer interrupt. After
 * each top-level operation the harness waits for the ticks the model
 * expects, then logs which timerfds have one: that is the one place the
 * harness looks inside the context (context-private.h), since a tick makes
 * the epoll fd readable and so decides what a GSource dispatch collects.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "context-private.h"
#include "fuzz-private.h"

/* How long a tick the model expects may take to arrive: far more than the
 * microseconds it takes, far less than libFuzzer's -timeout. */
#define FUZZ_TICK_PATIENCE_MS 2000

#define FUZZ_DAY_NS (INT64_C(86400) * 1000000000)

static const int fuzz_scales[3] = {AIO_SCALE_NS, AIO_SCALE_US, AIO_SCALE_MS};

static int
slot_scale(unsigned s)
{
    return fuzz_scales[s % 3];
}

static bool
slot_embedded(unsigned s)
{
    return (s & 2u) != 0;
}

/* ------------------------------------------------------------ handlers */

static void
fd_cb(void *opaque)
{
    uintptr_t v = (uintptr_t)opaque;
    unsigned pipe = (unsigned)(v & 7u), end = (unsigned)((v >> 3) & 1u);
    uint32_t gen = (uint32_t)(v >> 4);

    fuzz_expect(MODEL_EV_HANDLER_RUN, pipe | end << 3, gen);
    if (!h.registered[pipe][end] || h.handler_gen[pipe][end] != gen)
        fuzz_fail("F2: the %s handler of pipe %u (generation %" PRIu32 ") ran after "
                  "its removal or replacement",
                  end == 0 ? "read" : "write", pipe, gen);
    fuzz_run_actions(h.actions[end == 0 ? MODEL_OWNER_READ : MODEL_OWNER_WRITE][pipe]);
}

static int
pipe_bytes(unsigned pipe)
{
    int n = 0;

    if (ioctl(h.pipe_fd[pipe][0], FIONREAD, &n) < 0)
        fuzz_fail("FIONREAD on pipe %u: %s", pipe, g_strerror(errno));
    return n;
}

static void
fd_set_handler(unsigned pipe, unsigned end)
{
    void *opaque;

    h.handler_gen[pipe][end]++;
    opaque =
        (void *)(uintptr_t)(pipe | end << 3 | (uintptr_t)h.handler_gen[pipe][end] << 4);
    aio_set_fd_handler(h.ctx, h.pipe_fd[pipe][end], end == 0 ? fd_cb : NULL,
                       end == 1 ? fd_cb : NULL, NULL, NULL, opaque);
    h.registered[pipe][end] = true;
}

static void
fd_remove_handler(unsigned pipe, unsigned end)
{
    /* Also when there is none: removing nothing changes nothing. */
    aio_set_fd_handler(h.ctx, h.pipe_fd[pipe][end], NULL, NULL, NULL, NULL, NULL);
    h.registered[pipe][end] = false;
}

static void
pipe_write(unsigned pipe)
{
    const char byte = 'x';

    if (pipe_bytes(pipe) >= MODEL_PIPE_CAP)
        return;
    if (write(h.pipe_fd[pipe][1], &byte, 1) != 1)
        fuzz_fail("write to pipe %u: %s", pipe, g_strerror(errno));
}

static void
pipe_read(unsigned pipe, bool drain)
{
    char buf[MODEL_PIPE_CAP];
    ssize_t n = read(h.pipe_fd[pipe][0], buf, drain ? sizeof buf : 1);

    if (n < 0 && errno != EAGAIN)
        fuzz_fail("read from pipe %u: %s", pipe, g_strerror(errno));
    fuzz_expect(MODEL_EV_PIPE_READ, pipe, n < 0 ? 0 : (uint32_t)n);
}

/* ------------------------------------------------------------ timers */

static void
timer_cb(void *opaque)
{
    uintptr_t v = (uintptr_t)opaque;
    unsigned s = (unsigned)(v & 7u);
    uint32_t gen = (uint32_t)(v >> 3);

    fuzz_expect(MODEL_EV_TIMER_RUN, s, gen);
    if (h.timer[s] == NULL || h.timer_gen[s] != gen)
        fuzz_fail("timer %u generation %" PRIu32 " ran after it was freed", s, gen);
    if (aio_timer_pending(h.timer[s]))
        fuzz_fail("T1: timer %u is still armed in its own callback", s);
    fuzz_run_actions(h.actions[MODEL_OWNER_TIMER][s]);
}

/* Timer @s, made anew if it was freed. */
static AioTimer *
timer_get(unsigned s)
{
    AioClockType type = (AioClockType)model_timer_clock(s);
    void *opaque;

    if (h.timer[s] != NULL)
        return h.timer[s];
    h.timer_gen[s]++;
    opaque = (void *)(uintptr_t)(s | (uintptr_t)h.timer_gen[s] << 3);
    if (slot_embedded(s)) {
        aio_timer_init(h.ctx, &h.timer_storage[s], type, slot_scale(s), timer_cb, opaque);
        h.timer[s] = &h.timer_storage[s];
    } else {
        h.timer[s] = aio_timer_new(h.ctx, type, slot_scale(s), timer_cb, opaque);
    }
    return h.timer[s];
}

static int64_t
floor_ms(int64_t ns)
{
    return ns - ns % 1000000;
}

static void
timer_arm(unsigned s, ModelLevel level, bool anticipate)
{
    AioTimer *t = timer_get(s);
    int64_t scale = slot_scale(s);
    int64_t now = floor_ms(aio_clock_get_ns((AioClockType)model_timer_clock(s)));
    int64_t ns;

    switch (level) {
    case MODEL_LEVEL_ZERO:
        ns = 0;
        break;
    case MODEL_LEVEL_NEGATIVE:
        ns = -scale;
        break;
    case MODEL_LEVEL_1MS:
        ns = 1000000;
        break;
    case MODEL_LEVEL_PAST:
        ns = now - 1000000000;
        break;
    case MODEL_LEVEL_DAY:
        ns = now + FUZZ_DAY_NS;
        break;
    case MODEL_LEVEL_2DAYS:
        ns = now + 2 * FUZZ_DAY_NS;
        break;
    case MODEL_LEVEL_NEVER:
        ns = floor_ms(INT64_MAX);
        break;
    case MODEL_LEVEL_INT64_MAX:
    case MODEL_LEVELS:
    default:
        /* Not a multiple of every scale: in nanoseconds. */
        if (anticipate)
            aio_timer_mod_anticipate_ns(t, INT64_MAX);
        else
            aio_timer_mod_ns(t, INT64_MAX);
        return;
    }
    if (anticipate)
        aio_timer_mod_anticipate(t, ns / scale);
    else
        aio_timer_mod(t, ns / scale);
}

static void
timer_del(unsigned s, bool free_it)
{
    AioTimer *t = h.timer[s];

    if (t == NULL)
        return;
    if (!free_it) {
        aio_timer_del(t);
        return;
    }
    if (slot_embedded(s))
        aio_timer_deinit(t);
    else
        aio_timer_free(t);
    h.timer[s] = NULL;
}

/* ------------------------------------------------------------ the harness's side */

void
fuzz_io_setup(void)
{
    for (unsigned s = 0; s < h.n_slots; s++) {
        if (pipe2(h.pipe_fd[s], O_NONBLOCK | O_CLOEXEC) < 0)
            fuzz_fail("pipe2: %s", g_strerror(errno));
        timer_get(s);
    }
}

void
fuzz_io_teardown(bool everything)
{
    if (!everything)
        return; /* left to the context's finalize (C4) */
    for (unsigned s = 0; s < h.n_slots; s++) {
        fd_remove_handler(s, 0);
        fd_remove_handler(s, 1);
        timer_del(s, true);
    }
}

void
fuzz_io_close(void)
{
    for (unsigned s = 0; s < h.n_slots; s++) {
        close(h.pipe_fd[s][0]);
        close(h.pipe_fd[s][1]);
        /* Finalize freed those aio_timer_new() made and detached the
         * embedded ones: nothing to do with either. */
        h.timer[s] = NULL;
    }
}

void
fuzz_io_act(ModelAction a)
{
    unsigned slot = (a.arg & 7u) % h.n_slots, bit3 = (a.arg >> 3) & 1u;

    switch ((ModelActionKind)a.kind) {
    case MODEL_ACT_FD_SET:
        fd_set_handler(slot, bit3);
        break;
    case MODEL_ACT_FD_REMOVE:
        fd_remove_handler(slot, bit3);
        break;
    case MODEL_ACT_PIPE_WRITE:
        pipe_write(slot);
        break;
    case MODEL_ACT_PIPE_READ:
        pipe_read(slot, bit3);
        break;
    case MODEL_ACT_TIMER_ARM:
        timer_arm(slot, (ModelLevel)((a.arg >> 3) & 7u), (a.arg >> 6) & 1u);
        break;
    case MODEL_ACT_TIMER_DEL:
        timer_del(slot, bit3);
        break;
    default:
        break;
    }
}

unsigned
fuzz_io_ready_bits(void)
{
    unsigned bits = 0;

    for (unsigned s = 0; s < h.n_slots; s++) {
        AioTimer *t = h.timer[s];

        if ((h.registered[s][0] && pipe_bytes(s) > 0) || h.registered[s][1])
            bits |= 1u;
        if (t != NULL && aio_timer_pending(t) &&
            aio_timer_expired(t, aio_clock_get_ns((AioClockType)model_timer_clock(s)) /
                                     slot_scale(s)))
            bits |= 2u;
    }
    return bits;
}

void
fuzz_io_settle(void)
{
    unsigned want = model_ticks(&h.model), seen = 0;

    for (unsigned c = 0; c < MODEL_CLOCKS; c++) {
        struct pollfd pfd = {.fd = h.ctx->timers.clocks[c].watch.fd, .events = POLLIN};
        int r;

        do
            r = poll(&pfd, 1, (want & 1u << c) ? FUZZ_TICK_PATIENCE_MS : 0);
        while (r < 0 && errno == EINTR);
        if (r > 0 && (pfd.revents & POLLIN))
            seen |= 1u << c;
    }
    if (seen != 0)
        fuzz_expect(MODEL_EV_TICKS, 0, seen);
}
