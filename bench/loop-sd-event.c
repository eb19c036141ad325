/* loop-sd-event.c: systemd's sd-event, through defer, io and time sources.
 *
 * A handle is a defer source made once with sd_event_add_defer() on a private
 * sd_event and switched off (SD_EVENT_OFF); a schedule re-arms it with
 * sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), and sd-event switches it
 * off again when it dispatches. An iteration is sd_event_run() with timeout
 * 0, or UINT64_MAX to block. sd_event_run() dispatches one source per call,
 * so K pending sources take K iterations: that is sd-event's design, and the
 * harness simply iterates until all K ran. sd-event is single-threaded, so it
 * takes no part in the cross-thread workloads.
 *
 * An fd is watched by an io source (sd_event_add_io() with EPOLLIN). The
 * timer is a time source on CLOCK_MONOTONIC with an accuracy of 1 µs
 * (sd_event_add_time(…, usec, 1, …), the deadline rounded up to whole µs),
 * re-armed with sd_event_source_set_time() and SD_EVENT_ONESHOT, deleted by
 * switching it off (SD_EVENT_OFF).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <sys/epoll.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    sd_event *event;
    sd_event_source **sources;
    unsigned n_sources;
    GPtrArray *watches;    /* io sources; timers_add()'s time sources */
    sd_event_source *timer; /* timer_arm()'s, made on first use */
} SdLoop;

static int
sd_ran(sd_event_source *source, void *userdata)
{
    bench_loop_ran(userdata);
    return 0;
}

static int
sd_io_ran(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
    bench_loop_ran(userdata);
    return 0;
}

static int
sd_time_ran(sd_event_source *source, uint64_t usec, void *userdata)
{
    bench_loop_ran(userdata);
    return 0;
}

static void
sd_source_unref(gpointer source)
{
    sd_event_source_unref(source);
}

static void
sd_check(int r, const char *what)
{
    if (r < 0)
        g_error("%s: %s", what, g_strerror(-r));
}

static BenchLoop *
sd_loop_new(const BenchImpl *impl, unsigned max_handles)
{
    SdLoop *loop = g_new0(SdLoop, 1);

    sd_check(sd_event_new(&loop->event), "sd_event_new");
    loop->sources = g_new(sd_event_source *, MAX(max_handles, 1));
    loop->watches = g_ptr_array_new_with_free_func(sd_source_unref);
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
sd_loop_free(BenchLoop *base)
{
    SdLoop *loop = (SdLoop *)base;

    for (unsigned i = 0; i < loop->n_sources; i++)
        sd_event_source_unref(loop->sources[i]);
    g_ptr_array_unref(loop->watches);
    sd_event_source_unref(loop->timer);
    sd_event_unref(loop->event);
    g_free(loop->sources);
    g_free(loop);
}

static void
sd_handles_add(BenchLoop *base, unsigned n)
{
    SdLoop *loop = (SdLoop *)base;

    for (unsigned i = 0; i < n; i++) {
        sd_event_source *source;

        sd_check(sd_event_add_defer(loop->event, &source, sd_ran, loop),
                 "sd_event_add_defer");
        sd_check(sd_event_source_set_enabled(source, SD_EVENT_OFF),
                 "sd_event_source_set_enabled");
        loop->sources[loop->n_sources++] = source;
    }
}

static void
sd_schedule(BenchLoop *base, unsigned first, unsigned n)
{
    SdLoop *loop = (SdLoop *)base;

    for (unsigned i = first; i < first + n; i++)
        sd_event_source_set_enabled(loop->sources[i], SD_EVENT_ONESHOT);
}

static void
sd_fd_watch(BenchLoop *base, int fd)
{
    SdLoop *loop = (SdLoop *)base;
    sd_event_source *source;

    sd_check(sd_event_add_io(loop->event, &source, fd, EPOLLIN, sd_io_ran, loop),
             "sd_event_add_io");
    g_ptr_array_add(loop->watches, source);
}

static uint64_t
sd_usec(int64_t deadline_ns)
{
    return (uint64_t)(deadline_ns + 999) / 1000;
}

/* An armed one-shot time source. */
static sd_event_source *
sd_time_new(SdLoop *loop, int64_t deadline_ns)
{
    sd_event_source *source;

    sd_check(sd_event_add_time(loop->event, &source, CLOCK_MONOTONIC, sd_usec(deadline_ns),
                               1, sd_time_ran, loop),
             "sd_event_add_time");
    return source;
}

static void
sd_timer_arm(BenchLoop *base, int64_t now_ns, int64_t deadline_ns)
{
    SdLoop *loop = (SdLoop *)base;

    if (loop->timer == NULL) {
        loop->timer = sd_time_new(loop, deadline_ns);
        return;
    }
    sd_check(sd_event_source_set_time(loop->timer, sd_usec(deadline_ns)),
             "sd_event_source_set_time");
    sd_check(sd_event_source_set_enabled(loop->timer, SD_EVENT_ONESHOT),
             "sd_event_source_set_enabled");
}

static void
sd_timer_cancel(BenchLoop *base)
{
    sd_event_source_set_enabled(((SdLoop *)base)->timer, SD_EVENT_OFF);
}

static void
sd_timers_add(BenchLoop *base, unsigned n, int64_t now_ns, const int64_t *deadlines_ns)
{
    SdLoop *loop = (SdLoop *)base;

    for (unsigned i = 0; i < n; i++)
        g_ptr_array_add(loop->watches, sd_time_new(loop, deadlines_ns[i]));
}

static void
sd_timer_move(BenchLoop *base, unsigned i, int64_t now_ns, int64_t deadline_ns)
{
    sd_check(sd_event_source_set_time(((SdLoop *)base)->watches->pdata[i],
                                      sd_usec(deadline_ns)),
             "sd_event_source_set_time");
}

static const char *
sd_version(void)
{
    return BENCH_LIBSYSTEMD_VERSION; /* from pkg-config: sd-event has no run-time query */
}

static void
sd_iterate(BenchLoop *base, bool block)
{
    sd_event_run(((SdLoop *)base)->event, block ? UINT64_MAX : 0);
}

const BenchImpl bench_sd_event = {
    .id = "sd-event",
    .name = "sd-event defer",
    .library = "libsystemd",
    .version = sd_version,
    .workloads = BENCH_SAME_THREAD | BENCH_MEMORY | BENCH_IDLE,
    .loop_new = sd_loop_new,
    .loop_free = sd_loop_free,
    .handles_add = sd_handles_add,
    .schedule = sd_schedule,
    .iterate = sd_iterate,
};

const BenchImpl bench_sd_event_io = {
    .id = "sd-event-io",
    .name = "sd-event io",
    .workloads = BENCH_FDS,
    .loop_new = sd_loop_new,
    .loop_free = sd_loop_free,
    .iterate = sd_iterate,
    .fd_watch = sd_fd_watch,
};

const BenchImpl bench_sd_event_time = {
    .id = "sd-event-time",
    .name = "sd-event time (1 µs accuracy)",
    .workloads = BENCH_TIMERS | BENCH_TIMER_ARM,
    .loop_new = sd_loop_new,
    .loop_free = sd_loop_free,
    .iterate = sd_iterate,
    .timer_arm = sd_timer_arm,
    .timer_cancel = sd_timer_cancel,
    .timers_add = sd_timers_add,
    .timer_move = sd_timer_move,
};
