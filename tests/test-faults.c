/* test-faults.c: fault injection (issue #4, item 4; issue #8, item 5): out of
 * file descriptors at each of the four fds aio_context_new() opens (SPEC C1,
 * §0: a G_IO_ERROR with the failing step's message, translated, and no fd
 * left open), a saturated wakeup
 * eventfd whose write fails with EAGAIN (W1, B3), and a storm of signals whose
 * handlers schedule BHs while other threads schedule too (B3, B12).
 *
 * An internal test: it reaches the context's wakeup fd through
 * context-private.h, and config.h's GETTEXT_PACKAGE and GAIO_LOCALEDIR.
 *
 * Thread coordination is C11 atomics and sched_yield() only, as in
 * test-threads.c (ThreadSanitizer cannot see GLib 2.74's futex-based locks).
 * Signal handlers call only qemu_bh_schedule(), lock-free atomics and (the
 * one that holds the owner still) sched_yield().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test.h"

#include <dirent.h>
#include <errno.h>
#include <libintl.h>
#include <locale.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gio/gio.h>

#include "config.h"
#include "context-private.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void
count_cb(void *opaque)
{
    atomic_fetch_add((atomic_uint *)opaque, 1);
}

static void
noop_cb(void *opaque)
{
    (void)opaque;
}

static void
flag_cb(void *opaque)
{
    *(bool *)opaque = true;
}

static gint
int_cmp(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

static void
drain(AioContext *ctx)
{
    while (aio_poll(ctx, false))
        ;
}

#define GAIO_TEST_STUCK_PATIENCE (2 * G_TIME_SPAN_SECOND)

/* The watchdog of gaio_test_init() covers the whole binary; each test here
 * re-arms it, so it bounds one test (a lost wakeup hangs, then fails). */
static void
rearm_watchdog(void)
{
    alarm(GAIO_TEST_WATCHDOG_SECONDS);
}

typedef struct {
    struct sigaction old;
    int signo;
} SigGuard;

static void
sig_guard_install(SigGuard *g, int signo, void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: an interrupted poll returns EINTR */
    g->signo = signo;
    g_assert_cmpint(sigaction(signo, &sa, &g->old), ==, 0);
}

static void
sig_guard_restore(SigGuard *g)
{
    struct sigaction ign;

    /* Ignoring discards a signal still pending, so restoring the default
     * action (terminate) cannot kill the test. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    g_assert_cmpint(sigaction(g->signo, &ign, NULL), ==, 0);
    g_assert_cmpint(sigaction(g->signo, &g->old, NULL), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* C1, §0: out of file descriptors, a translated G_IO_ERROR                 */
/* ------------------------------------------------------------------------ */

/* What aio_context_new() opens, in this order: with k fds left to the
 * process, opening the (k+1)-th fails. */
enum { CONTEXT_FDS = 4 };

static const char *const context_fd_names[CONTEXT_FDS] = {
    "the wakeup eventfd",
    "the epoll fd",
    "the monotonic timerfd",
    "the wall-clock timerfd",
};

#define WAKEUP_MSGID "Could not create the wakeup event of an AioContext: %s"
#define MONITOR_MSGID "Could not create the fd monitor of an AioContext: %s"
#define CLOCK_MSGID "Could not create a timer clock of an AioContext: %s"

/* The message each step fails with: index in msgids[] and prefixes[]. */
static const unsigned step_message[CONTEXT_FDS] = {0, 1, 2, 2};
static const char *const msgids[] = {WAKEUP_MSGID, MONITOR_MSGID, CLOCK_MSGID};

typedef struct {
    const char *language; /* "en": no catalogue, the msgids themselves */
    /* The msgstrs of po/<language>.po, up to their "%s", as msgids[]. */
    const char *prefixes[G_N_ELEMENTS(msgids)];
} Translation;

static const Translation translations[] = {
    {"en",
     {"Could not create the wakeup event of an AioContext: ",
      "Could not create the fd monitor of an AioContext: ",
      "Could not create a timer clock of an AioContext: "}},
    {"de",
     {"Das Weckereignis eines AioContext konnte nicht erstellt werden: ",
      "Die Dateideskriptor-\u00dcberwachung eines AioContext konnte nicht erstellt "
      "werden: ",
      "Eine Zeitgeberuhr eines AioContext konnte nicht erstellt werden: "}},
    {"fr",
     {"Impossible de cr\u00e9er l\u2019\u00e9v\u00e9nement de r\u00e9veil "
      "d\u2019un AioContext\u00a0: ",
      "Impossible de cr\u00e9er le moniteur de descripteurs de fichier "
      "d\u2019un AioContext\u00a0: ",
      "Impossible de cr\u00e9er une horloge de minuterie d\u2019un AioContext\u00a0: "}},
};

/* Where the build tree keeps <lang>/LC_MESSAGES/gaio.mo: GAIO_TEST_LOCALEDIR
 * (set by tests/meson.build), else <builddir>/po beside this test. */
static char *
build_localedir(void)
{
    const char *env = g_getenv("GAIO_TEST_LOCALEDIR");

    if (env != NULL && *env != '\0')
        return g_strdup(env);
    return g_test_build_filename(G_TEST_BUILT, "..", "po", NULL);
}

/* The locale, LANGUAGE and text-domain binding a test changes. */
typedef struct {
    char *locale;
    char *language;
} LocaleGuard;

static void
locale_guard_enter(LocaleGuard *g, const char *localedir, const char *language)
{
    g->locale = g_strdup(setlocale(LC_ALL, NULL));
    g->language = g_strdup(g_getenv("LANGUAGE"));
    /* glibc ignores LANGUAGE in the plain "C" locale only; C.UTF-8 is built
     * in since glibc 2.35 (and patched into Debian's long before). */
    g_assert_nonnull(setlocale(LC_ALL, "C.UTF-8"));
    g_assert_true(g_setenv("LANGUAGE", language, TRUE));
    /* The library bound its domain to the install localedir on its first
     * aio_context_new(); point it at the build tree instead. */
    g_assert_nonnull(bindtextdomain(GETTEXT_PACKAGE, localedir));
}

static void
locale_guard_leave(LocaleGuard *g)
{
    g_assert_nonnull(bindtextdomain(GETTEXT_PACKAGE, GAIO_LOCALEDIR));
    if (g->language != NULL)
        g_setenv("LANGUAGE", g->language, TRUE);
    else
        g_unsetenv("LANGUAGE");
    g_assert_nonnull(setlocale(LC_ALL, g->locale));
    g_free(g->language);
    g_free(g->locale);
}

/* aio_context_new() with no file descriptor left to the process. */
static AioContext *
context_new_without_fds(GError **error)
{
    struct rlimit saved, none;
    AioContext *ctx;

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    none = saved;
    none.rlim_cur = 0; /* no new fd at all, until restored */
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &none), ==, 0);
    ctx = aio_context_new(error);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    return ctx;
}

/* After a failure: contexts can be made and run, standalone and under GLib. */
static void
assert_process_keeps_working(void)
{
    AioContext *ctx = gaio_test_context_new();
    GMainContext *mc = g_main_context_new();
    GSource *source = aio_get_g_source(ctx);
    atomic_uint runs;
    QEMUBH *bh;

    atomic_init(&runs, 0);
    bh = aio_bh_new(ctx, count_cb, &runs);
    qemu_bh_schedule(bh);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpuint(atomic_load(&runs), ==, 1);

    g_source_attach(source, mc);
    qemu_bh_schedule(bh);
    g_assert_true(g_main_context_iteration(mc, TRUE));
    g_assert_cmpuint(atomic_load(&runs), ==, 2);

    qemu_bh_delete(bh);
    while (g_main_context_iteration(mc, FALSE))
        ;
    g_source_destroy(source);
    g_source_unref(source);
    g_main_context_unref(mc);
    aio_context_unref(ctx);
}

/* The process's open fds below RLIMIT_NOFILE, ascending (valgrind keeps
 * its own above the limit it shows the program). */
static GArray *
open_fds(void)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
    struct rlimit limit;
    struct dirent *entry;
    DIR *dir;

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
    dir = opendir("/proc/self/fd");
    g_assert_nonnull(dir);
    while ((entry = readdir(dir)) != NULL) {
        int fd;

        if (entry->d_name[0] == '.')
            continue;
        fd = atoi(entry->d_name);
        if (fd != dirfd(dir) && (rlim_t)fd < limit.rlim_cur)
            g_array_append_val(fds, fd);
    }
    closedir(dir);
    g_array_sort(fds, int_cmp);
    return fds;
}

static void
assert_same_fds(GArray *before, GArray *after)
{
    for (guint i = 0; i < MAX(before->len, after->len); i++) {
        int was = i < before->len ? g_array_index(before, int, i) : -1;
        int is = i < after->len ? g_array_index(after, int, i) : -1;

        if (was != is)
            g_error("fd %d %s", MAX(was, is),
                    was < is || is < 0 ? "was closed" : "leaked");
    }
}

/* The fd table filled but @free_fds numbers: RLIMIT_NOFILE lowered to a
 * little above the highest open fd, every free number below it taken by a
 * duplicate of /dev/null, and @free_fds of those closed again. */
typedef struct {
    struct rlimit saved;
    GArray *fillers;
} FdSqueeze;

static void
fd_squeeze(FdSqueeze *sq, unsigned free_fds)
{
    g_autoptr(GArray) fds = open_fds();
    int highest = fds->len > 0 ? g_array_index(fds, int, fds->len - 1) : 2;
    struct rlimit limit;
    int devnull, fd;

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &sq->saved), ==, 0);
    limit = sq->saved;
    limit.rlim_cur = (rlim_t)highest + 1 + free_fds + 8;
    g_assert_cmpuint(limit.rlim_cur, <=, sq->saved.rlim_cur);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(devnull, >=, 0);
    sq->fillers = g_array_sized_new(FALSE, FALSE, sizeof(int), 64);
    g_array_append_val(sq->fillers, devnull);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &limit), ==, 0);
    while ((fd = fcntl(devnull, F_DUPFD_CLOEXEC, 0)) >= 0)
        g_array_append_val(sq->fillers, fd);
    g_assert_cmpint(errno, ==, EMFILE);
    for (unsigned i = 0; i < free_fds; i++) {
        close(g_array_index(sq->fillers, int, sq->fillers->len - 1));
        g_array_set_size(sq->fillers, sq->fillers->len - 1);
    }
}

static void
fd_unsqueeze(FdSqueeze *sq)
{
    for (guint i = 0; i < sq->fillers->len; i++)
        close(g_array_index(sq->fillers, int, i));
    g_array_unref(sq->fillers);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &sq->saved), ==, 0);
}

static void
test_out_of_fds_at_every_step(gconstpointer data)
{
    const Translation *tr = data;
    bool english = strcmp(tr->language, "en") == 0;
    g_autofree char *localedir = build_localedir();
    g_autofree char *mo = g_build_filename(localedir, tr->language, "LC_MESSAGES",
                                           GETTEXT_PACKAGE ".mo", NULL);
    LocaleGuard guard;

    g_test_summary("C1, §0: aio_context_new() opens four fds (wakeup eventfd, epoll "
                   "fd, two timerfds). With k = 0..3 fds left to the process it "
                   "returns NULL with G_IO_ERROR_TOO_MANY_OPEN_FILES and the message "
                   "of the step that failed, translated (here from the build tree's "
                   "catalogue), with strerror(EMFILE); what it opened before is closed "
                   "again (the open fds are the same before and after). With 4 it "
                   "works. The process keeps working.");
    rearm_watchdog();

    /* Fail, not skip: the test depends on the .mo targets (tests/meson.build). */
    if (!english && !g_file_test(mo, G_FILE_TEST_IS_REGULAR)) {
        g_test_fail_printf("no catalogue at %s: po/LINGUAS lists %s, but meson did not "
                           "build it",
                           mo, tr->language);
        return;
    }
    /* The library binds its domain on its first context. */
    aio_context_unref(gaio_test_context_new());

    for (unsigned free_fds = 0; free_fds <= CONTEXT_FDS; free_fds++) {
        g_autoptr(GArray) before = open_fds();
        g_autoptr(GArray) after = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *expected = NULL;
        FdSqueeze sq;
        AioContext *ctx;
        bool ran = false;

        locale_guard_enter(&guard, localedir, tr->language);
        /* gettext opens a catalogue on its first lookup, which needs a file
         * descriptor: load it now, as an earlier message of a real program
         * would, and check that it is the one meant. */
        for (size_t m = 0; m < G_N_ELEMENTS(msgids); m++) {
            if (english)
                g_assert_cmpstr(g_dgettext(GETTEXT_PACKAGE, msgids[m]), ==, msgids[m]);
            else
                g_assert_cmpstr(g_dgettext(GETTEXT_PACKAGE, msgids[m]), !=, msgids[m]);
        }
        if (free_fds < CONTEXT_FDS)
            expected = g_strconcat(tr->prefixes[step_message[free_fds]],
                                   g_strerror(EMFILE), NULL);

        fd_squeeze(&sq, free_fds);
        ctx = aio_context_new(&error);
        if (ctx != NULL) {
            /* It runs without a new fd. */
            aio_bh_schedule_oneshot(ctx, flag_cb, &ran);
            g_assert_true(aio_poll(ctx, false));
        }
        fd_unsqueeze(&sq);
        locale_guard_leave(&guard);

        g_test_message("%u fd(s) left: %s", free_fds,
                       ctx != NULL ? "made" : error->message);
        if (free_fds < CONTEXT_FDS) {
            if (ctx != NULL)
                g_error("aio_context_new() worked with %u fd(s) left; opening %s "
                        "should have failed",
                        free_fds, context_fd_names[free_fds]);
            g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
            g_assert_cmpstr(error->message, ==, expected);
            g_assert_true(g_utf8_validate(error->message, -1, NULL));
        } else {
            g_assert_no_error(error);
            g_assert_nonnull(ctx);
            g_assert_true(ran);
            aio_context_unref(ctx);
        }
        after = open_fds();
        assert_same_fds(before, after);
    }
    assert_process_keeps_working();
}

static void
test_out_of_fds_repeatedly_keeps_working(void)
{
    unsigned rounds = gaio_test_scale(200);

    g_test_summary("C1: failing aio_context_new() many times (out of fds) leaks "
                   "nothing and leaves no half-made context; successes and failures "
                   "interleave freely.");
    rearm_watchdog();

    for (unsigned r = 0; r < rounds; r++) {
        g_autoptr(GError) error = NULL;
        AioContext *ctx = context_new_without_fds(&error);

        g_assert_null(ctx);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
        g_assert_nonnull(strstr(error->message, g_strerror(EMFILE)));
        if (r % 16 == 0)
            assert_process_keeps_working();
    }
    assert_process_keeps_working();
}

/* ------------------------------------------------------------------------ */
/* W1, B3: the wakeup eventfd saturated, its write fails with EAGAIN        */
/* ------------------------------------------------------------------------ */

/* The largest value an eventfd counter holds: writing 1 more gives EAGAIN. */
#define EVENTFD_MAX UINT64_C(0xfffffffffffffffe)
#define FREEZE_SIGNAL SIGUSR1

/* The eventfd's counter, read from /proc without consuming it. */
static guint64
eventfd_count(int fd)
{
    char path[64], buf[512];
    const char *p;
    ssize_t n;
    int pfd;

    g_snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    pfd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(pfd, >=, 0);
    n = read(pfd, buf, sizeof buf - 1);
    close(pfd);
    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    p = strstr(buf, "eventfd-count:");
    g_assert_nonnull(p);
    return g_ascii_strtoull(p + strlen("eventfd-count:"), NULL, 16);
}

static void
eventfd_saturate(AioContext *ctx)
{
    const uint64_t value = EVENTFD_MAX - eventfd_count(ctx->wakeup_fd);

    g_assert_cmpint(write(ctx->wakeup_fd, &value, sizeof value), ==, sizeof value);
    g_assert_cmphex(eventfd_count(ctx->wakeup_fd), ==, EVENTFD_MAX);
}

/* The owner, stopped in a signal handler between its sleep and its wakeup:
 * notify_me stays armed, so producers must write the eventfd, and nobody
 * reads it meanwhile. */
static atomic_uint freeze_entered;
static atomic_bool freeze_release;

static void
on_freeze_signal(int signo)
{
    (void)signo;
    atomic_fetch_add(&freeze_entered, 1);
    while (!atomic_load(&freeze_release))
        sched_yield();
}

enum { EAGAIN_BHS = 64 };

typedef struct {
    AioContext *ctx;
    GMainContext *mc;
    GSource *source;
    QEMUBH *bhs[EAGAIN_BHS];
    atomic_uint runs;
} Saturated;

static void
saturated_init(Saturated *s, bool use_gmain)
{
    s->ctx = gaio_test_context_new();
    s->mc = NULL;
    s->source = NULL;
    if (use_gmain) {
        s->mc = g_main_context_new();
        s->source = aio_get_g_source(s->ctx);
        g_source_attach(s->source, s->mc);
    }
    atomic_init(&s->runs, 0);
    for (unsigned i = 0; i < EAGAIN_BHS; i++)
        s->bhs[i] = aio_bh_new(s->ctx, count_cb, &s->runs);
}

/* Context thread only (the owner stopped). */
static void
saturated_clear(Saturated *s)
{
    for (unsigned i = 0; i < EAGAIN_BHS; i++)
        qemu_bh_delete(s->bhs[i]);
    if (s->mc != NULL) {
        while (g_main_context_iteration(s->mc, FALSE))
            ;
        g_source_destroy(s->source);
        g_source_unref(s->source);
        g_main_context_unref(s->mc);
    } else {
        drain(s->ctx);
    }
    aio_context_unref(s->ctx);
}

/* Cross-thread wakeups of an owner known to sleep: each BH runs. */
static void
assert_wakeups_work(Saturated *s, GaioTestOwner *o, unsigned rounds, unsigned *stuck)
{
    for (unsigned r = 0; r < rounds; r++) {
        unsigned before = atomic_load(&s->runs);

        gaio_test_wait_until_sleeping(o->tid);
        g_assert_cmphex(eventfd_count(s->ctx->wakeup_fd), ==, 0);
        qemu_bh_schedule(s->bhs[r % EAGAIN_BHS]);
        if (!gaio_test_wait_within(&s->runs, before + 1, GAIO_TEST_STUCK_PATIENCE)) {
            (*stuck)++;
            aio_bh_schedule_oneshot(s->ctx, noop_cb, NULL);
            gaio_test_wait_for_at_least(&s->runs, before + 1);
        }
    }
}

static void
test_eventfd_write_eagain_loses_nothing(gconstpointer data)
{
    bool use_gmain = GPOINTER_TO_INT(data);
    gint64 overhead = gaio_test_syscw_overhead();
    Saturated s;
    GaioTestOwner owner;
    SigGuard guard;
    GThread *thread;
    gint64 writes;
    unsigned stuck = 0;
    int err;

    g_test_summary("W1, B3: with the owner asleep and the wakeup eventfd saturated, a "
                   "schedule from another thread gets EAGAIN from its write(); nothing "
                   "is lost: the fd is readable, the owner wakes and runs every BH, "
                   "errno is kept, and once the owner drained the fd wakeups work "
                   "again.");
    rearm_watchdog();

    saturated_init(&s, use_gmain);
    atomic_store(&freeze_entered, 0);
    atomic_store(&freeze_release, false);
    sig_guard_install(&guard, FREEZE_SIGNAL, on_freeze_signal);
    thread = gaio_test_owner_start(&owner, s.ctx, s.mc);
    assert_wakeups_work(&s, &owner, 4, &stuck);

    /* Owner asleep (notify_me armed); stop it there, in a signal handler. */
    gaio_test_wait_until_sleeping(owner.tid);
    g_assert_cmpint(pthread_kill(owner.thread_id, FREEZE_SIGNAL), ==, 0);
    gaio_test_wait_for_at_least(&freeze_entered, 1);
    g_assert_true(atomic_load(&s.ctx->notify_me));
    eventfd_saturate(s.ctx);

    /* The first schedule writes the eventfd (EAGAIN); the rest find
     * `notified` set and make no system call. */
    writes = gaio_test_syscw();
    errno = 4242;
    for (unsigned i = 0; i < EAGAIN_BHS; i++)
        qemu_bh_schedule(s.bhs[i]);
    err = errno;
    writes = gaio_test_syscw() - writes;
    g_assert_cmpint(err, ==, 4242);
    if (overhead == 0)
        g_assert_cmpint(writes, ==, 1);
    else
        g_assert_cmpint(writes, >=, 1);
    /* The write failed: the counter did not move (it cannot), and still
     * reads as a pending wakeup. */
    g_assert_cmphex(eventfd_count(s.ctx->wakeup_fd), ==, EVENTFD_MAX);
    g_assert_cmpuint(atomic_load(&s.runs), ==, 4);

    /* Let the owner go: every BH runs. */
    atomic_store(&freeze_release, true);
    if (!gaio_test_wait_within(&s.runs, 4 + EAGAIN_BHS, GAIO_TEST_STUCK_PATIENCE)) {
        stuck++;
        aio_bh_schedule_oneshot(s.ctx, noop_cb, NULL);
        gaio_test_wait_for_at_least(&s.runs, 4 + EAGAIN_BHS);
    }
    /* The fd was readable all along: the owner drains it before it sleeps
     * again (assert_wakeups_work() checks the count is 0), and cross-thread
     * wakeups work as before. */
    assert_wakeups_work(&s, &owner, gaio_test_scale(200), &stuck);
    g_test_message("%d write(s) for %d schedules into a saturated eventfd; "
                   "%u owner iterations",
                   (int)writes, EAGAIN_BHS, atomic_load(&owner.iterations));

    gaio_test_owner_stop(&owner, thread);
    sig_guard_restore(&guard);
    g_assert_cmpuint(atomic_load(&s.runs), ==, 4 + EAGAIN_BHS + gaio_test_scale(200));
    saturated_clear(&s);
    if (stuck)
        g_test_fail_printf("B3: %u time(s) a BH scheduled from another thread did not "
                           "run within %d s",
                           stuck, (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

static void
test_saturate_while_owner_wakes(gconstpointer data)
{
    bool use_gmain = GPOINTER_TO_INT(data);
    unsigned rounds = gaio_test_scale(2000), stuck = 0;
    Saturated s;
    GaioTestOwner owner;
    GThread *thread;
    guint32 x = 99;

    g_test_summary("W1, B3: saturating the eventfd of a sleeping owner and then "
                   "scheduling races the owner's wakeup and read: the schedule's "
                   "write may fail with EAGAIN or succeed; either way the BH runs.");
    rearm_watchdog();

    saturated_init(&s, use_gmain);
    thread = gaio_test_owner_start(&owner, s.ctx, s.mc);
    for (unsigned r = 1; r <= rounds; r++) {
        const uint64_t max = EVENTFD_MAX;
        unsigned before = atomic_load(&s.runs);

        /* Wakes the owner, which reads the counter back to 0 meanwhile. A
         * late write of the last round's schedule may still sit in the
         * counter for the moment the owner needs to see it (it is then
         * asleep in name only): wait for the owner to read it, and saturate
         * then. */
        for (;;) {
            gaio_test_wait_until_sleeping(owner.tid);
            if (write(s.ctx->wakeup_fd, &max, sizeof max) == sizeof max)
                break;
            g_assert_cmpint(errno, ==, EAGAIN);
            g_usleep(100);
        }
        for (volatile unsigned i = 0, n = gaio_test_xorshift32(&x) % 2048; i < n; i++)
            ;
        qemu_bh_schedule(s.bhs[r % EAGAIN_BHS]);
        if (!gaio_test_wait_within(&s.runs, before + 1, GAIO_TEST_STUCK_PATIENCE)) {
            stuck++;
            aio_bh_schedule_oneshot(s.ctx, noop_cb, NULL);
            gaio_test_wait_for_at_least(&s.runs, before + 1);
        }
    }
    assert_wakeups_work(&s, &owner, 10, &stuck);
    gaio_test_owner_stop(&owner, thread);
    g_assert_cmpuint(atomic_load(&s.runs), ==, rounds + 10);
    saturated_clear(&s);
    if (stuck)
        g_test_fail_printf("B3: %u time(s) a BH scheduled right after saturating the "
                           "eventfd did not run within %d s",
                           stuck, (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));
}

/* ------------------------------------------------------------------------ */
/* B3, B12: a storm of >= 100,000 signals, producers scheduling too         */
/* ------------------------------------------------------------------------ */

enum {
    STORM_BHS = 16,
    STORM_PRODUCERS = 2,
    STORM_SIGNALLERS = 2,
    STORM_YIELD_EVERY = 64
};

/* Each signaller sends STORM_SLOTS signal numbers in turn (a standard one,
 * then real-time ones), each number sent again only once its previous one
 * was handled: a signal pending twice on a thread may be delivered once (so
 * standard signals, and ThreadSanitizer, which defers handlers and keeps one
 * pending flag per number). So up to STORM_SLOTS are in flight per
 * signaller, and every one sent is handled. */
enum { STORM_SLOTS = 15 };

static int
storm_signo(unsigned signaller, unsigned slot)
{
    if (slot == 0)
        return signaller == 0 ? SIGUSR1 : SIGUSR2;
    return SIGRTMIN + (int)(signaller * (STORM_SLOTS - 1) + slot - 1);
}

typedef struct {
    AioContext *ctx;
    GaioTestSeqBH bhs[STORM_BHS];
    unsigned signals; /* per signaller */
    pthread_t owner;
    pthread_t victim; /* producer 0, also signalled */
    atomic_bool victim_known;
    /* Handler calls: in all, per signal number, and on which thread. */
    atomic_uint handled;
    atomic_uint handled_by[NSIG];
    atomic_uint on_owner, on_producer, in_callback;
    atomic_uint signallers_done;
    atomic_uint producers_done;
    atomic_ulong producer_schedules;
} SignalStorm;

/* What the handler touches: set before the handlers are installed. */
static SignalStorm *_Atomic storm;

/* Which thread the handler interrupted. */
enum { ROLE_OTHER, ROLE_OWNER, ROLE_PRODUCER };
static _Thread_local int thread_role;
static _Thread_local bool in_storm_callback;

static void
on_storm_signal(int signo)
{
    SignalStorm *st = atomic_load(&storm);
    unsigned n = atomic_fetch_add(&st->handled, 1);

    if (thread_role == ROLE_OWNER)
        atomic_fetch_add(&st->on_owner, 1);
    else if (thread_role == ROLE_PRODUCER)
        atomic_fetch_add(&st->on_producer, 1);
    if (in_storm_callback)
        atomic_fetch_add(&st->in_callback, 1);
    /* Several BHs, chosen by the count: also the one being scheduled by the
     * interrupted producer, or run by the interrupted pass. */
    gaio_test_seq_schedule(&st->bhs[n % STORM_BHS]);
    /* Last: the signaller sends the next one only after this schedule. */
    atomic_fetch_add(&st->handled_by[signo], 1);
}

static void
storm_cb(void *opaque)
{
    GaioTestSeqBH *s = opaque;

    in_storm_callback = true;
    gaio_test_seq_record_run(s);
    in_storm_callback = false;
}

typedef struct {
    SignalStorm *st;
    unsigned index;
} StormThread;

static gpointer
storm_signaller(gpointer data)
{
    StormThread *t = data;
    SignalStorm *st = t->st;
    unsigned sent[STORM_SLOTS] = {0};

    while (!atomic_load(&st->victim_known))
        sched_yield();
    for (unsigned i = 0; i < st->signals; i++) {
        unsigned slot = i % STORM_SLOTS;
        int signo = storm_signo(t->index, slot);
        /* Alternately the owner (asleep in ppoll(), or in a pass) and a
         * producer (in the middle of its own schedules). */
        pthread_t target = (i / STORM_SLOTS + t->index) % 2 == 0 ? st->owner : st->victim;

        gaio_test_wait_for_at_least(&st->handled_by[signo], sent[slot]);
        g_assert_cmpint(pthread_kill(target, signo), ==, 0);
        sent[slot]++;
    }
    for (unsigned slot = 0; slot < STORM_SLOTS; slot++)
        gaio_test_wait_for_at_least(&st->handled_by[storm_signo(t->index, slot)], sent[slot]);
    atomic_fetch_add(&st->signallers_done, 1);
    return NULL;
}

static gpointer
storm_producer(gpointer data)
{
    StormThread *t = data;
    SignalStorm *st = t->st;
    guint32 x = (t->index + 1) * 2654435761u | 1;
    unsigned long n = 0;

    thread_role = ROLE_PRODUCER;
    if (t->index == 0) {
        st->victim = pthread_self();
        atomic_store(&st->victim_known, true);
    }
    /* Schedules for as long as signals fly. Yields often: with fewer CPUs
     * than threads, a signal waits for its target to get one. */
    while (atomic_load(&st->signallers_done) < STORM_SIGNALLERS) {
        gaio_test_seq_schedule(&st->bhs[gaio_test_xorshift32(&x) % STORM_BHS]);
        if (++n % STORM_YIELD_EVERY == 0)
            sched_yield();
    }
    atomic_fetch_add(&st->producer_schedules, n + 1);
    /* Announce the end first, then schedule once more: the run that must
     * follow that last schedule (B3) wakes the owner to see us done. */
    atomic_fetch_add(&st->producers_done, 1);
    gaio_test_seq_schedule(&st->bhs[t->index % STORM_BHS]);
    return NULL;
}

static void
test_signal_storm_with_producers(void)
{
    SignalStorm *st = g_new0(SignalStorm, 1);
    StormThread producer_args[STORM_PRODUCERS], signaller_args[STORM_SIGNALLERS];
    GThread *producers[STORM_PRODUCERS], *signallers[STORM_SIGNALLERS];
    SigGuard guards[STORM_SIGNALLERS][STORM_SLOTS];
    unsigned long iterations = 0, runs = 0, scheduled = 0;
    gint64 start, deadline = 0;
    bool stuck = false;

    g_test_summary("B3, B12: >= 100,000 signals, sent by two threads with pthread_kill() "
                   "to the owner (in aio_poll(ctx, true)) and to a producer thread, each "
                   "handler scheduling one of several BHs while two producer threads "
                   "schedule the same BHs: none is lost (each BH's last run starts after "
                   "its last schedule) and runs never exceed schedules.");
    rearm_watchdog();

    st->ctx = gaio_test_context_new();
    /* Not scaled down natively: 100,000 in all; under valgrind, 20,000. */
    st->signals = MAX(gaio_test_scale(100000), 20000u) / STORM_SIGNALLERS;
    st->owner = pthread_self();
    for (unsigned i = 0; i < STORM_BHS; i++)
        st->bhs[i].bh = aio_bh_new(st->ctx, storm_cb, &st->bhs[i]);
    atomic_store(&storm, st);
    g_assert_cmpint(storm_signo(STORM_SIGNALLERS - 1, STORM_SLOTS - 1), <=, SIGRTMAX);
    for (unsigned i = 0; i < STORM_SIGNALLERS; i++)
        for (unsigned j = 0; j < STORM_SLOTS; j++)
            sig_guard_install(&guards[i][j], storm_signo(i, j), on_storm_signal);
    thread_role = ROLE_OWNER;

    start = g_get_monotonic_time();
    for (unsigned i = 0; i < STORM_PRODUCERS; i++) {
        producer_args[i] = (StormThread){.st = st, .index = i};
        producers[i] = g_thread_new("storm-producer", storm_producer, &producer_args[i]);
    }
    for (unsigned i = 0; i < STORM_SIGNALLERS; i++) {
        signaller_args[i] = (StormThread){.st = st, .index = i};
        signallers[i] =
            g_thread_new("storm-signaller", storm_signaller, &signaller_args[i]);
    }
    /* Sleeping is only ever ended by a BH becoming pending (W1) or a signal. */
    while (atomic_load(&st->producers_done) < STORM_PRODUCERS || !gaio_test_seq_caught_up(st->bhs, STORM_BHS)) {
        aio_poll(st->ctx, true);
        iterations++;
        /* Awake (or it would hang here) but not running what is pending. */
        if (deadline == 0 && atomic_load(&st->producers_done) == STORM_PRODUCERS)
            deadline = g_get_monotonic_time() + GAIO_TEST_STUCK_PATIENCE * gaio_test_slowdown();
        if (deadline != 0 && !stuck && g_get_monotonic_time() > deadline) {
            stuck = true;
            aio_bh_schedule_oneshot(st->ctx, noop_cb, NULL);
        }
    }
    for (unsigned i = 0; i < STORM_SIGNALLERS; i++)
        g_thread_join(signallers[i]);
    for (unsigned i = 0; i < STORM_PRODUCERS; i++)
        g_thread_join(producers[i]);
    drain(st->ctx);
    thread_role = ROLE_OTHER;
    for (unsigned i = 0; i < STORM_SIGNALLERS; i++)
        for (unsigned j = 0; j < STORM_SLOTS; j++)
            sig_guard_restore(&guards[i][j]);

    g_assert_cmpuint(atomic_load(&st->handled), ==, STORM_SIGNALLERS * st->signals);
    if (gaio_test_slowdown() == 1)
        g_assert_cmpuint(atomic_load(&st->handled), >=, 100000);
    g_assert_cmpuint(atomic_load(&st->on_owner) + atomic_load(&st->on_producer), ==,
                     atomic_load(&st->handled));
    g_assert_cmpuint(atomic_load(&st->on_owner), >=, 1);
    g_assert_cmpuint(atomic_load(&st->on_producer), >=, 1);
    for (unsigned i = 0; i < STORM_BHS; i++) {
        GaioTestSeqBH *s = &st->bhs[i];

        /* The last run started after the last schedule. */
        g_assert_cmpuint(atomic_load(&s->seen), ==, atomic_load(&s->scheduled));
        g_assert_cmpuint(atomic_load(&s->runs), <=, atomic_load(&s->scheduled));
        g_assert_cmpuint(atomic_load(&s->runs), >=, 1);
        runs += atomic_load(&s->runs);
        scheduled += atomic_load(&s->scheduled);
    }
    g_assert_cmpuint(scheduled, ==,
                     atomic_load(&st->producer_schedules) + atomic_load(&st->handled));
    g_test_message("%u signals (%u on the owner, %u on a producer, %u during a "
                   "callback), %lu producer schedules, %lu runs, %lu owner iterations, "
                   "%.1f s",
                   atomic_load(&st->handled), atomic_load(&st->on_owner),
                   atomic_load(&st->on_producer), atomic_load(&st->in_callback),
                   (unsigned long)atomic_load(&st->producer_schedules), runs, iterations,
                   (g_get_monotonic_time() - start) / 1e6);
    if (stuck)
        g_test_fail_printf(
            "B3: pending BHs did not run within %d s of the producers' end "
            "although the owner kept polling",
            (int)(GAIO_TEST_STUCK_PATIENCE / G_TIME_SPAN_SECOND));

    atomic_store(&storm, NULL);
    for (unsigned i = 0; i < STORM_BHS; i++)
        qemu_bh_delete(st->bhs[i].bh);
    drain(st->ctx);
    aio_context_unref(st->ctx);
    g_free(st);
}

int
main(int argc, char **argv)
{
    /* A test failed with g_test_fail_printf() (after a clean teardown) must
     * not hide the others: keep going. Failed assertions still abort. */
    char **args = g_new0(char *, argc + 2);
    int nargs = argc + 1;
    int ret;

    memcpy(args, argv, sizeof(char *) * argc);
    args[argc] = (char *)"--keep-going";
    gaio_test_init(&nargs, &args);

    for (size_t i = 0; i < G_N_ELEMENTS(translations); i++) {
        g_autofree char *path = g_strdup_printf(
            "/faults/C1/out-of-fds-at-every-step-is-translated-leaks-nothing/%s",
            translations[i].language);

        g_test_add_data_func(path, &translations[i], test_out_of_fds_at_every_step);
    }
    g_test_add_func("/faults/C1/out-of-fds-repeatedly-keeps-working",
                    test_out_of_fds_repeatedly_keeps_working);
    g_test_add_data_func("/faults/W1/eventfd-write-eagain-loses-nothing/aio_poll",
                         GINT_TO_POINTER(false), test_eventfd_write_eagain_loses_nothing);
    g_test_add_data_func("/faults/W1/eventfd-write-eagain-loses-nothing/gmain",
                         GINT_TO_POINTER(true), test_eventfd_write_eagain_loses_nothing);
    g_test_add_data_func("/faults/W1/saturating-a-sleeping-owners-eventfd/aio_poll",
                         GINT_TO_POINTER(false), test_saturate_while_owner_wakes);
    g_test_add_data_func("/faults/W1/saturating-a-sleeping-owners-eventfd/gmain",
                         GINT_TO_POINTER(true), test_saturate_while_owner_wakes);
    g_test_add_func("/faults/B3/signal-storm-with-producers-none-lost",
                    test_signal_storm_with_producers);

    ret = g_test_run();
    g_free(args);
    return ret;
}
