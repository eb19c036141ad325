/* bench-fds.c: fd scaling: the cost of one iteration with N idle fds
 * registered (SPEC G6, issue #8).
 *
 * One iteration, the same work in every loop: one registered fd is ready and
 * its callback runs once, while N other registered fds are not. The ready fd
 * is an eventfd whose counter is 1 and is never read, so it stays readable
 * (every loop here is level-triggered: it reports it again in every
 * iteration); the N idle ones are eventfds whose counter stays 0. A round is
 * one iteration without blocking (aio_poll(ctx, false),
 * g_main_context_iteration(mc, FALSE), uv_run(UV_RUN_NOWAIT),
 * event_base_loop(EVLOOP_NONBLOCK), sd_event_run(e, 0)) that ends with the
 * callback having run; the figure is ns per such iteration. So every
 * iteration asks the kernel once what is ready, learns of one fd and runs one
 * callback: what grows with N is only what the loop does for the fds that
 * are not ready. (A BH scheduled per iteration would be work only gaio has;
 * an fd that is ready is work every loop has.)
 *
 * The fds are one pool, shared by every implementation of a step (each
 * registers all of them in its own loop): N = 100,000 needs 100,000 fds, not
 * one set per loop. RLIMIT_NOFILE's soft limit is raised to its hard limit;
 * when that is still too few, N is the largest that fits beside the loops'
 * own fds, and bench_fds_note() says so for the tables.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-private.h"

/* Fds left to the loops (each opens an epoll fd, wakeup fds, timer fds) and
 * to the process, beside the pool. */
#define FDS_RESERVE 256

static struct {
    int *fds;       /* idle: counter 0 */
    unsigned n_fds; /* open in fds[] */
    int ready;      /* counter 1, never read */
    unsigned users; /* setups that hold it */
} pool = {.ready = -1};

/* For the note: the largest N asked for, and what it got. */
static unsigned fds_asked, fds_got;
static rlim_t fds_hard_limit;

static unsigned
fds_open_now(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    unsigned n = 0;

    while (dir != NULL && g_dir_read_name(dir) != NULL)
        n++;
    return n;
}

/* How many fds the pool may hold, after raising the soft limit to the hard
 * one (once; a process may always do that). */
static unsigned
fds_reachable(void)
{
    struct rlimit limit;
    unsigned open_now = fds_open_now(), room;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        g_error("getrlimit(RLIMIT_NOFILE): %s", g_strerror(errno));
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0 ||
            getrlimit(RLIMIT_NOFILE, &limit) != 0)
            g_warning("setrlimit(RLIMIT_NOFILE): %s", g_strerror(errno));
    }
    fds_hard_limit = limit.rlim_max;
    room = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > G_MAXUINT
               ? G_MAXUINT
               : (unsigned)limit.rlim_cur;
    return room > open_now + FDS_RESERVE ? room - open_now - FDS_RESERVE : 0;
}

static int
fds_eventfd(unsigned value)
{
    int fd = eventfd(value, EFD_CLOEXEC | EFD_NONBLOCK);

    if (fd < 0)
        g_error("eventfd: %s", g_strerror(errno));
    return fd;
}

/* Opens the pool with up to @n idle fds (the first setup of a step), or
 * returns how many it has. */
static unsigned
fds_pool_acquire(unsigned n)
{
    unsigned reachable;

    if (pool.users++ > 0)
        return pool.n_fds;
    reachable = fds_reachable();
    /* When capped, a round number: the tables print it. */
    if (reachable < n)
        n = reachable > 1000 ? reachable - reachable % 100 : reachable;
    pool.fds = g_new(int, MAX(n, 1));
    pool.ready = fds_eventfd(1);
    for (pool.n_fds = 0; pool.n_fds < n; pool.n_fds++)
        pool.fds[pool.n_fds] = fds_eventfd(0);
    return pool.n_fds;
}

static void
fds_pool_release(void)
{
    if (--pool.users > 0)
        return;
    for (unsigned i = 0; i < pool.n_fds; i++)
        close(pool.fds[i]);
    close(pool.ready);
    g_clear_pointer(&pool.fds, g_free);
    pool.n_fds = 0;
    pool.ready = -1;
}

typedef struct {
    BenchRounds rounds;
    BenchLoop *loop;
} FdsState;

static void
fds_round(void *data, uint64_t unused)
{
    BenchLoop *loop = data;

    bench_loop_run_until(loop, bench_loop_runs(loop) + 1);
}

static void *
fds_setup(const BenchImpl *impl, unsigned n)
{
    FdsState *state = g_new0(FdsState, 1);
    unsigned idle;

    /* Before the pool: the loop's own fds are not the pool's to count. */
    state->loop = impl->loop_new(impl, n + 1);
    idle = fds_pool_acquire(n);
    if (n > fds_asked) {
        fds_asked = n;
        fds_got = idle;
    }
    for (unsigned i = 0; i < idle; i++)
        impl->fd_watch(state->loop, pool.fds[i]);
    impl->fd_watch(state->loop, pool.ready);
    state->rounds = (BenchRounds){.round = fds_round, .data = state->loop, .per_round = 1};
    bench_rounds_calibrate(&state->rounds);
    return state;
}

static void
fds_sample(void *data, double *values)
{
    values[0] = bench_rounds_sample(&((FdsState *)data)->rounds);
}

static void
fds_teardown(void *data)
{
    FdsState *state = data;

    bench_loop_free(state->loop);
    fds_pool_release();
    g_free(state);
}

/* 19700 → "19,700" (the tables' style). */
static void
fds_thousands(GString *out, unsigned long value)
{
    if (value >= 1000) {
        fds_thousands(out, value / 1000);
        g_string_append_printf(out, ",%03lu", value % 1000);
    } else
        g_string_append_printf(out, "%lu", value);
}

const char *
bench_fds_note(void)
{
    static GString *note;

    if (fds_got >= fds_asked)
        return NULL;
    if (note == NULL)
        note = g_string_new(NULL);
    g_string_assign(note, "RLIMIT_NOFILE's hard limit here is ");
    fds_thousands(note, (unsigned long)fds_hard_limit);
    g_string_append(note, " (the soft limit was raised to it): the N = ");
    fds_thousands(note, fds_asked);
    g_string_append(note, " column was measured with N = ");
    fds_thousands(note, fds_got);
    g_string_append(note, " idle fds, the most that fit beside the loops' own.");
    return note->str;
}

static const BenchMetric fds_metrics[] = {
    {"ns per iteration", "ns"},
};

BenchWorkload
bench_fds_workload(unsigned n)
{
    return (BenchWorkload){
        .name = BENCH_W_FDS,
        .param = bench_param("N", n),
        .implementations = BENCH_FDS,
        .n_metrics = G_N_ELEMENTS(fds_metrics),
        .metrics = fds_metrics,
        .arg = n,
        .setup = fds_setup,
        .sample = fds_sample,
        .teardown = fds_teardown,
    };
}
