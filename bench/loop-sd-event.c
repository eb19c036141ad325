/* loop-sd-event.c: systemd's sd-event, through defer sources.
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
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <systemd/sd-event.h>

#include "bench-private.h"

typedef struct {
    BenchLoop base;
    sd_event *event;
    sd_event_source **sources;
    unsigned n_sources;
} SdLoop;

static int
sd_ran(sd_event_source *source, void *userdata)
{
    bench_loop_ran(userdata);
    return 0;
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
    bench_loop_init(&loop->base, impl);
    return &loop->base;
}

static void
sd_loop_free(BenchLoop *base)
{
    SdLoop *loop = (SdLoop *)base;

    for (unsigned i = 0; i < loop->n_sources; i++)
        sd_event_source_unref(loop->sources[i]);
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
