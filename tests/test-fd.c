/* test-fd.c: file-descriptor handlers of an AioContext (SPEC section 5: F1-F3,
 * with P1, G6 and C4 as they apply to handlers), each test under aio_poll()
 * and under g_main_context_iteration(). Pipes, socketpairs and eventfds as
 * the watched fds; regular files and bad fds for F3.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gaio-test-loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ fd pairs */

typedef enum {
    KIND_PIPE,
    KIND_SOCKETPAIR,
    KIND_EVENTFD,
    N_KINDS
} FdKind;

static const char *const kind_names[N_KINDS] = {"pipe", "socketpair", "eventfd"};

/* Something to watch (rfd) and a way to make it readable (wfd). For an
 * eventfd both are the same fd. */
typedef struct {
    FdKind kind;
    int rfd;
    int wfd;
} FdPair;

static void
fd_pair_open(FdPair *p, FdKind kind)
{
    int fds[2];

    p->kind = kind;
    switch (kind) {
    case KIND_PIPE:
        g_assert_cmpint(pipe2(fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
        break;
    case KIND_SOCKETPAIR:
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
                        ==, 0);
        break;
    case KIND_EVENTFD:
        fds[0] = fds[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        g_assert_cmpint(fds[0], >=, 0);
        break;
    default:
        g_assert_not_reached();
    }
    p->rfd = fds[0];
    p->wfd = fds[1];
}

static void
fd_pair_make_readable(FdPair *p)
{
    if (p->kind == KIND_EVENTFD) {
        uint64_t one = 1;

        g_assert_cmpint(write(p->wfd, &one, sizeof one), ==, sizeof one);
    } else {
        g_assert_cmpint(write(p->wfd, "x", 1), ==, 1);
    }
}

/* Reads everything there is; returns the number of reads that got data. */
static int
fd_drain(int fd)
{
    char buf[4096];
    int reads = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0)
        reads++;
    g_assert_true(n == 0 || errno == EAGAIN);
    return reads;
}

static void
fd_pair_close(FdPair *p)
{
    if (p->rfd >= 0)
        close(p->rfd);
    if (p->wfd >= 0 && p->wfd != p->rfd)
        close(p->wfd);
    p->rfd = p->wfd = -1;
}

/* A handler's state: counts, an optional log, and what it does when run. */
typedef struct Handler Handler;
struct Handler {
    AioContext *ctx;
    FdPair pair;
    int reads;
    int writes;
    bool drain;        /* io_read empties rfd */
    bool remove_self;  /* io_read removes its own handler */
    Handler **victims; /* io_read removes these handlers (NULL-terminated) */
    GString *log;
    char tag;
};

static void
handler_init(Handler *h, AioContext *ctx, FdKind kind)
{
    memset(h, 0, sizeof *h);
    h->ctx = ctx;
    fd_pair_open(&h->pair, kind);
}

static void
handler_log(Handler *h, char tag)
{
    if (h->log != NULL)
        g_string_append_c(h->log, tag);
}

static void
read_cb(void *opaque)
{
    Handler *h = opaque;

    /* I1: handlers run inside a pass of their context. */
    g_assert_true(aio_context_get_current() == h->ctx);
    h->reads++;
    handler_log(h, h->tag);
    if (h->drain)
        fd_drain(h->pair.rfd);
    for (Handler **v = h->victims; v != NULL && *v != NULL; v++)
        aio_set_fd_handler(h->ctx, (*v)->pair.rfd, NULL, NULL, NULL, NULL, NULL);
    if (h->remove_self)
        aio_set_fd_handler(h->ctx, h->pair.rfd, NULL, NULL, NULL, NULL, NULL);
}

static void
write_cb(void *opaque)
{
    Handler *h = opaque;

    h->writes++;
}

/* A read handler must never run: used after it was replaced or removed. */
static void
never_cb(void *opaque)
{
    g_error("a removed or replaced handler ran (opaque %p)", opaque);
}

static void
watch_read(Handler *h)
{
    aio_set_fd_handler(h->ctx, h->pair.rfd, read_cb, NULL, NULL, NULL, h);
}

static void
unwatch(AioContext *ctx, int fd)
{
    aio_set_fd_handler(ctx, fd, NULL, NULL, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ P1 */

static void
test_set_handler_is_not_progress(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("P1: adding, changing and removing the handler of an fd that "
                   "is not ready is not progress; removing an fd that has no "
                   "handler does nothing.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);

    watch_read(&h);
    gaio_test_loop_assert_no_progress(&loop);
    aio_set_fd_handler(loop.ctx, h.pair.rfd, read_cb, NULL, NULL, NULL, &h);
    gaio_test_loop_assert_no_progress(&loop);
    unwatch(loop.ctx, h.pair.rfd);
    gaio_test_loop_assert_no_progress(&loop);
    unwatch(loop.ctx, h.pair.rfd);
    unwatch(loop.ctx, h.pair.wfd);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 0);

    /* Readable, added and removed with no pass between: never called. */
    fd_pair_make_readable(&h.pair);
    watch_read(&h);
    unwatch(loop.ctx, h.pair.rfd);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(h.reads, ==, 0);

    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ F1 */

typedef struct {
    GaioTestMode mode;
    FdKind kind;
} KindCase;

static KindCase kind_cases[GAIO_TEST_N_MODES * N_KINDS];

static void
test_read_handler_on_kind(gconstpointer data)
{
    const KindCase *c = data;
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F1: a read handler on a pipe, a socketpair or an eventfd runs "
                   "once per pass while the fd is readable (true), not otherwise "
                   "(false); a blocking iteration with it readable does not "
                   "sleep; once removed it is never called.");

    gaio_test_loop_init(&loop, &c->mode);
    handler_init(&h, loop.ctx, c->kind);
    h.drain = true;
    watch_read(&h);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(h.reads, ==, 0);

    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 1);

    /* Two writes before a pass: one run, which drains both. */
    fd_pair_make_readable(&h.pair);
    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 2);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    unwatch(loop.ctx, h.pair.rfd);
    fd_pair_make_readable(&h.pair);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 2);
    g_assert_cmpint(fd_drain(h.pair.rfd), ==, 1);

    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_level_triggered(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F1: level-triggered: io_read runs in every pass while the fd "
                   "stays readable (it does not read), exactly once per pass; "
                   "after it drains the fd the loop is quiet.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    watch_read(&h);
    fd_pair_make_readable(&h.pair);

    for (int i = 1; i <= 5; i++) {
        g_assert_true(gaio_test_loop_iterate(&loop, i % 2 == 0));
        g_assert_cmpint(h.reads, ==, i);
    }
    h.drain = true;
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 6);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 6);

    unwatch(loop.ctx, h.pair.rfd);
    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_io_write_on_pipe_write_end(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;
    int filled = 0;

    g_test_summary("F1: io_write on a pipe's write end runs in every pass while "
                   "the pipe has room, not while it is full, and again once the "
                   "reader drained it.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    aio_set_fd_handler(loop.ctx, h.pair.wfd, NULL, write_cb, NULL, NULL, &h);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.writes, ==, 1);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.writes, ==, 2);

    /* Fill the pipe. */
    {
        char buf[4096];

        memset(buf, 'x', sizeof buf);
        while (write(h.pair.wfd, buf, sizeof buf) > 0)
            filled++;
        while (write(h.pair.wfd, buf, 1) > 0)
            filled++;
        g_assert_cmpint(errno, ==, EAGAIN);
        g_assert_cmpint(filled, >, 0);
    }
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.writes, ==, 2);

    g_assert_cmpint(fd_drain(h.pair.rfd), >, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.writes, ==, 3);

    unwatch(loop.ctx, h.pair.wfd);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(h.writes, ==, 3);
    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_read_and_write_on_one_socket(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F1: one socket with io_read and io_write: io_write runs while "
                   "it is writable, io_read only once the peer wrote; changing the "
                   "handler to read-only stops io_write.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_SOCKETPAIR);
    h.drain = true;
    aio_set_fd_handler(loop.ctx, h.pair.rfd, read_cb, write_cb, NULL, NULL, &h);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.writes, ==, 1);
    g_assert_cmpint(h.reads, ==, 0);

    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.writes, ==, 2);
    g_assert_cmpint(h.reads, ==, 1);

    watch_read(&h);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(h.writes, ==, 2);
    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.reads, ==, 2);
    g_assert_cmpint(h.writes, ==, 2);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    unwatch(loop.ctx, h.pair.rfd);
    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_hang_up_runs_io_read(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F1: a hang-up (the pipe's writer closed) runs io_read, which "
                   "reads end-of-file and removes itself.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    h.drain = true;
    h.remove_self = true;
    watch_read(&h);
    gaio_test_loop_assert_no_progress(&loop);

    close(h.pair.wfd);
    h.pair.wfd = -1;
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 1);

    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_error_runs_io_read(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F1: an error on the fd (a pipe's write end whose reader "
                   "closed) runs io_read, as in QEMU; it removes itself.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    aio_set_fd_handler(loop.ctx, h.pair.wfd, read_cb, NULL, NULL, NULL, &h);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_cmpint(h.reads, ==, 0);

    close(h.pair.rfd);
    h.pair.rfd = h.pair.wfd; /* so that remove_self removes the write end */
    h.pair.wfd = -1;
    h.remove_self = true;
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_one_ready_among_many(gconstpointer mode)
{
    enum { N = 200 };
    Handler *h = g_new0(Handler, N);
    GaioTestLoop loop;

    g_test_summary("F1/G6: with 200 eventfds watched, setting one runs exactly "
                   "that handler, once.");

    gaio_test_loop_init(&loop, mode);
    for (int i = 0; i < N; i++) {
        handler_init(&h[i], loop.ctx, KIND_EVENTFD);
        h[i].drain = true;
        watch_read(&h[i]);
    }
    gaio_test_loop_assert_no_progress(&loop);

    for (int round = 0; round < 3; round++) {
        int which = (round * 97 + 13) % N;

        fd_pair_make_readable(&h[which].pair);
        g_assert_true(gaio_test_loop_iterate(&loop, true));
        g_assert_false(gaio_test_loop_iterate(&loop, false));
        for (int i = 0; i < N; i++)
            g_assert_cmpint(h[i].reads, ==, i == which ? 1 : 0);
        h[which].reads = 0;
    }

    for (int i = 0; i < N; i++) {
        unwatch(loop.ctx, h[i].pair.rfd);
        fd_pair_close(&h[i].pair);
    }
    g_free(h);
    gaio_test_loop_clear(&loop);
}

static void
test_every_readable_fd_runs_in_each_pass(gconstpointer mode)
{
    enum { N = 300 };
    Handler *h = g_new0(Handler, N);
    GaioTestLoop loop;

    g_test_summary("F1: with 300 fds readable at once (more than one epoll_wait "
                   "batch), one pass runs every handler exactly once, and so does "
                   "the next: io_read runs in every pass while its fd is readable.");

    gaio_test_loop_init(&loop, mode);
    for (int i = 0; i < N; i++) {
        handler_init(&h[i], loop.ctx, KIND_EVENTFD);
        watch_read(&h[i]);
        fd_pair_make_readable(&h[i].pair);
    }
    for (int pass = 1; pass <= 2; pass++) {
        int ran = 0;

        for (int i = 0; i < N; i++)
            h[i].writes = h[i].reads; /* the count before this pass */
        g_assert_true(gaio_test_loop_iterate(&loop, false));
        for (int i = 0; i < N; i++) {
            g_assert_cmpint(h[i].reads - h[i].writes, <=, 1);
            ran += h[i].reads - h[i].writes;
        }
        g_test_message("pass %d ran %d of the %d readable fds' handlers", pass, ran, N);
        g_assert_cmpint(ran, ==, N);
    }

    for (int i = 0; i < N; i++) {
        unwatch(loop.ctx, h[i].pair.rfd);
        fd_pair_close(&h[i].pair);
    }
    g_free(h);
    gaio_test_loop_clear(&loop);
}

/* io_read of `outer` drains its fd, then runs a nested non-blocking
 * aio_poll() on its own context. */
typedef struct {
    Handler outer;
    Handler other;
    int nested_progress;
} Nesting;

static void
nesting_read_cb(void *opaque)
{
    Nesting *t = opaque;

    t->outer.reads++;
    fd_drain(t->outer.pair.rfd);
    if (aio_poll(t->outer.ctx, false))
        t->nested_progress++;
}

/* io_read that insists on finding data: a call without it is a spurious run. */
static void
must_find_data_cb(void *opaque)
{
    Handler *h = opaque;

    h->reads++;
    g_assert_cmpint(fd_drain(h->pair.rfd), ==, 1);
}

static void
test_nested_poll_does_not_rerun_served_handler(gconstpointer mode)
{
    GaioTestLoop loop;
    Nesting t;

    g_test_summary("F1/B14: a handler runs a nested aio_poll() on its own context "
                   "while another fd is readable: that fd's handler runs once, in "
                   "the nested or in the outer pass, never again for the readiness "
                   "the nested pass consumed (QEMU's dispatch clears it), so an "
                   "io_read that asserts it finds data holds.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&t.outer, loop.ctx, KIND_PIPE);
    handler_init(&t.other, loop.ctx, KIND_EVENTFD);
    t.nested_progress = 0;
    aio_set_fd_handler(loop.ctx, t.outer.pair.rfd, nesting_read_cb, NULL, NULL, NULL, &t);
    aio_set_fd_handler(loop.ctx, t.other.pair.rfd, must_find_data_cb, NULL, NULL, NULL,
                       &t.other);
    fd_pair_make_readable(&t.outer.pair);
    fd_pair_make_readable(&t.other.pair);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(t.outer.reads, ==, 1);
    g_assert_cmpint(t.other.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_test_message("the other handler ran in the %s pass",
                   t.nested_progress ? "nested" : "outer");

    unwatch(loop.ctx, t.outer.pair.rfd);
    unwatch(loop.ctx, t.other.pair.rfd);
    fd_pair_close(&t.outer.pair);
    fd_pair_close(&t.other.pair);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ F2 */

static void
test_remove_self_from_callback(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler h;

    g_test_summary("F2: io_read removes its own handler and leaves the fd "
                   "readable: it ran once and is never called afterwards.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    h.remove_self = true;
    watch_read(&h);
    fd_pair_make_readable(&h.pair);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 1);
    for (int i = 0; i < 3; i++)
        g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(h.reads, ==, 1);

    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_remove_each_other_from_callbacks(gconstpointer mode)
{
    Handler *victims_of_a[2], *victims_of_b[2];
    GaioTestLoop loop;
    Handler a, b;

    g_test_summary("F2: two readable fds whose handlers each remove the other's: "
                   "whichever runs first, the other is never called (not later in "
                   "the same pass, not afterwards); the survivor keeps working.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&a, loop.ctx, KIND_PIPE);
    handler_init(&b, loop.ctx, KIND_SOCKETPAIR);
    a.drain = b.drain = true;
    victims_of_a[0] = &b;
    victims_of_b[0] = &a;
    victims_of_a[1] = victims_of_b[1] = NULL;
    a.victims = victims_of_a;
    b.victims = victims_of_b;
    watch_read(&a);
    watch_read(&b);
    fd_pair_make_readable(&a.pair);
    fd_pair_make_readable(&b.pair);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(a.reads + b.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(a.reads + b.reads, ==, 1);

    {
        Handler *survivor = a.reads == 1 ? &a : &b;
        Handler *removed = a.reads == 1 ? &b : &a;

        survivor->victims = NULL;
        fd_pair_make_readable(&survivor->pair);
        g_assert_true(gaio_test_loop_iterate(&loop, false));
        g_assert_cmpint(survivor->reads, ==, 2);
        g_assert_cmpint(removed->reads, ==, 0);
        /* The removed one's fd is still readable: it was never consumed. */
        g_assert_cmpint(fd_drain(removed->pair.rfd), ==, 1);
        unwatch(loop.ctx, survivor->pair.rfd);
    }

    fd_pair_close(&a.pair);
    fd_pair_close(&b.pair);
    gaio_test_loop_clear(&loop);
}

static void
test_remove_many_from_one_callback(gconstpointer mode)
{
    enum { N = 64 };
    Handler *h = g_new0(Handler, N);
    Handler **everyone = g_new0(Handler *, N + 1);
    GaioTestLoop loop;
    int total = 0;

    g_test_summary("F2: 64 readable fds whose handlers each remove all 64 "
                   "handlers (their own included): exactly one runs, once; the "
                   "removed handlers' memory outlives the walk (ASan, valgrind).");

    gaio_test_loop_init(&loop, mode);
    for (int i = 0; i < N; i++) {
        handler_init(&h[i], loop.ctx, i % 2 ? KIND_EVENTFD : KIND_PIPE);
        h[i].victims = everyone;
        everyone[i] = &h[i];
        watch_read(&h[i]);
        fd_pair_make_readable(&h[i].pair);
    }

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    for (int i = 0; i < 3; i++)
        g_assert_false(gaio_test_loop_iterate(&loop, false));
    for (int i = 0; i < N; i++)
        total += h[i].reads;
    g_assert_cmpint(total, ==, 1);

    for (int i = 0; i < N; i++)
        fd_pair_close(&h[i].pair);
    g_free(everyone);
    g_free(h);
    gaio_test_loop_clear(&loop);
}

typedef struct {
    Handler *h;
    int old_runs;
    int new_runs;
    bool replace_with_new;
} Replacer;

static void replaced_new_cb(void *opaque);

static void
replacing_old_cb(void *opaque)
{
    Replacer *r = opaque;

    g_assert_cmpint(r->new_runs, ==, 0);
    r->old_runs++;
    /* Replace itself, leave the fd readable. */
    aio_set_fd_handler(r->h->ctx, r->h->pair.rfd, replaced_new_cb, NULL, NULL, NULL, r);
}

static void
replaced_new_cb(void *opaque)
{
    Replacer *r = opaque;

    r->new_runs++;
    fd_drain(r->h->pair.rfd);
}

static void
test_replace_self_from_callback(gconstpointer mode)
{
    GaioTestLoop loop;
    Replacer r = {0};
    Handler h;

    g_test_summary("F2: io_read replaces its own handler (same fd, another "
                   "callback): the old one never runs again, the new one runs "
                   "from the next pass.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&h, loop.ctx, KIND_PIPE);
    r.h = &h;
    aio_set_fd_handler(loop.ctx, h.pair.rfd, replacing_old_cb, NULL, NULL, NULL, &r);
    fd_pair_make_readable(&h.pair);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(r.old_runs, ==, 1);
    g_assert_cmpint(r.new_runs, ==, 0);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(r.old_runs, ==, 1);
    g_assert_cmpint(r.new_runs, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(r.old_runs, ==, 1);
    g_assert_cmpint(r.new_runs, ==, 2);

    unwatch(loop.ctx, h.pair.rfd);
    fd_pair_close(&h.pair);
    gaio_test_loop_clear(&loop);
}

/* a's handler replaces b's; b's old handler is never_cb-checked by a log. */
typedef struct {
    Handler a;
    Handler b;
    GString *log;
} ReplaceOther;

static void
b_new_cb(void *opaque)
{
    ReplaceOther *t = opaque;

    g_string_append_c(t->log, 'B');
    fd_drain(t->b.pair.rfd);
}

static void
b_old_cb(void *opaque)
{
    ReplaceOther *t = opaque;

    /* Not draining: level-triggered, it would run again if not replaced. */
    g_string_append_c(t->log, 'b');
}

static void
a_replacing_cb(void *opaque)
{
    ReplaceOther *t = opaque;

    g_string_append_c(t->log, 'a');
    fd_drain(t->a.pair.rfd);
    aio_set_fd_handler(t->a.ctx, t->b.pair.rfd, b_new_cb, NULL, NULL, NULL, t);
}

static void
test_replace_other_from_callback(gconstpointer mode)
{
    GaioTestLoop loop;
    ReplaceOther t;
    const char *first_a;

    g_test_summary("F2: a handler replaces another fd's handler while both fds are "
                   "readable: the old handler is never called after the "
                   "replacement (not later in the same pass either), the new one "
                   "runs.");

    gaio_test_loop_init(&loop, mode);
    handler_init(&t.a, loop.ctx, KIND_PIPE);
    handler_init(&t.b, loop.ctx, KIND_PIPE);
    t.log = g_string_new(NULL);
    aio_set_fd_handler(loop.ctx, t.a.pair.rfd, a_replacing_cb, NULL, NULL, NULL, &t);
    aio_set_fd_handler(loop.ctx, t.b.pair.rfd, b_old_cb, NULL, NULL, NULL, &t);
    fd_pair_make_readable(&t.a.pair);
    fd_pair_make_readable(&t.b.pair);

    g_assert_cmpint(gaio_test_loop_flush_at_most(&loop, 3), >=, 1);
    first_a = strchr(t.log->str, 'a');
    g_assert_nonnull(first_a);
    /* No 'b' after the replacement; exactly one 'B'. */
    g_assert_null(strchr(first_a, 'b'));
    g_assert_nonnull(strchr(first_a, 'B'));
    g_assert_cmpint(strchr(t.log->str, 'B') - t.log->str, ==,
                    strrchr(t.log->str, 'B') - t.log->str);
    g_test_message("log: %s", t.log->str);

    unwatch(loop.ctx, t.a.pair.rfd);
    unwatch(loop.ctx, t.b.pair.rfd);
    fd_pair_close(&t.a.pair);
    fd_pair_close(&t.b.pair);
    g_string_free(t.log, TRUE);
    gaio_test_loop_clear(&loop);
}

/* io_read removes its handler, closes its fd, opens a new pipe (whose read end
 * gets the same number) and watches it with another callback. */
typedef struct {
    AioContext *ctx;
    FdPair old_pair;
    FdPair new_pair;
    int old_runs;
    int new_runs;
} Reuser;

static void
reused_new_cb(void *opaque)
{
    Reuser *r = opaque;

    r->new_runs++;
    fd_drain(r->new_pair.rfd);
}

static void
reusing_old_cb(void *opaque)
{
    Reuser *r = opaque;
    int number = r->old_pair.rfd;

    r->old_runs++;
    unwatch(r->ctx, r->old_pair.rfd);
    fd_pair_close(&r->old_pair);
    fd_pair_open(&r->new_pair, KIND_PIPE);
    /* The lowest free number: the one just closed (the write end, higher,
     * was closed too). */
    g_assert_cmpint(r->new_pair.rfd, ==, number);
    aio_set_fd_handler(r->ctx, r->new_pair.rfd, reused_new_cb, NULL, NULL, NULL, r);
}

static void
test_fd_number_reused_inside_callback(gconstpointer mode)
{
    GaioTestLoop loop;
    Reuser r = {0};

    g_test_summary("F2: a handler removes itself, closes its fd, and registers a "
                   "new fd that got the same number: the new handler runs only "
                   "when the new fd is readable, the old one never again.");

    gaio_test_loop_init(&loop, mode);
    r.ctx = loop.ctx;
    fd_pair_open(&r.old_pair, KIND_PIPE);
    aio_set_fd_handler(loop.ctx, r.old_pair.rfd, reusing_old_cb, NULL, NULL, NULL, &r);
    fd_pair_make_readable(&r.old_pair);

    g_assert_true(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(r.old_runs, ==, 1);
    g_assert_cmpint(r.new_runs, ==, 0);
    gaio_test_loop_assert_no_progress(&loop);
    g_assert_false(gaio_test_loop_iterate(&loop, false));
    g_assert_cmpint(r.new_runs, ==, 0);

    fd_pair_make_readable(&r.new_pair);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(r.new_runs, ==, 1);
    g_assert_cmpint(r.old_runs, ==, 1);
    g_assert_false(gaio_test_loop_iterate(&loop, false));

    unwatch(loop.ctx, r.new_pair.rfd);
    fd_pair_close(&r.new_pair);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ F3 */

/* The context works: a readable pipe's handler runs once per write. */
static void
assert_context_still_works(GaioTestLoop *loop)
{
    Handler h;

    handler_init(&h, loop->ctx, KIND_PIPE);
    h.drain = true;
    watch_read(&h);
    gaio_test_loop_assert_no_progress(loop);
    fd_pair_make_readable(&h.pair);
    g_assert_true(gaio_test_loop_iterate(loop, true));
    g_assert_cmpint(h.reads, ==, 1);
    g_assert_false(gaio_test_loop_iterate(loop, false));
    unwatch(loop->ctx, h.pair.rfd);
    fd_pair_close(&h.pair);
}

/* aio_set_fd_handler() on @fd gives a critical naming it; nothing is
 * registered (removing it afterwards is silent) and the context works. */
static void
check_bad_fd_refused(GaioTestLoop *loop, int fd)
{
    g_autofree char *pattern = g_strdup_printf("*%d*", fd);

    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, pattern);
    aio_set_fd_handler(loop->ctx, fd, never_cb, NULL, NULL, NULL, NULL);
    g_test_assert_expected_messages();

    /* Not registered: removing it does nothing, and says nothing (-1 is not
     * an fd at all: whether removing it is misuse is left open). */
    if (fd >= 0)
        unwatch(loop->ctx, fd);
    gaio_test_loop_assert_no_progress(loop);
    assert_context_still_works(loop);
}

static void
test_closed_fd_is_refused(gconstpointer mode)
{
    GaioTestLoop loop;
    FdPair p;
    int fd;

    g_test_summary("F3: a closed fd gets a g_critical naming it, is not "
                   "registered, and the context keeps working.");

    gaio_test_loop_init(&loop, mode);
    /* A pipe end moved to a 3-digit number, so that the pattern is specific. */
    fd_pair_open(&p, KIND_PIPE);
    fd = fcntl(p.rfd, F_DUPFD_CLOEXEC, 700);
    g_assert_cmpint(fd, >=, 700);
    fd_pair_close(&p);
    close(fd);

    check_bad_fd_refused(&loop, fd);
    gaio_test_loop_clear(&loop);
}

static void
test_invalid_fd_is_refused(gconstpointer mode)
{
    GaioTestLoop loop;

    g_test_summary("F3: an invalid fd (-1, and 1000000, beyond any open one) gets "
                   "a g_critical naming it, is not registered, and the context "
                   "keeps working.");

    gaio_test_loop_init(&loop, mode);
    g_assert_cmpint(fcntl(1000000, F_GETFD), ==, -1);
    check_bad_fd_refused(&loop, -1);
    check_bad_fd_refused(&loop, 1000000);
    check_bad_fd_refused(&loop, INT_MAX);
    gaio_test_loop_clear(&loop);
}

/* A fixed, unusual number, so that parent and subprocess agree on it and the
 * pattern cannot match by accident. */
#define BAD_FD 987

static void
test_bad_fd_critical_names_fd_and_errno(void)
{
    g_autofree char *fd_pattern = NULL;
    g_autofree char *errno_pattern = NULL;

    g_test_summary("F3: the critical for a bad fd names the fd and the errno "
                   "(EBADF's message); in the subprocess the context keeps "
                   "working after it.");

    if (g_test_subprocess()) {
        GaioTestMode mode = GAIO_TEST_AIO_POLL;
        GaioTestLoop loop;
        FdPair p;

        /* A pipe end moved to BAD_FD and closed: a closed fd. */
        g_assert_cmpint(fcntl(BAD_FD, F_GETFD), ==, -1);
        fd_pair_open(&p, KIND_PIPE);
        g_assert_cmpint(dup2(p.rfd, BAD_FD), ==, BAD_FD);
        close(BAD_FD);
        fd_pair_close(&p);

        /* Let the critical print instead of aborting (g_test_init() and
         * G_DEBUG made it fatal), so that the parent can read it. */
        g_log_set_always_fatal(G_LOG_FATAL_MASK);
        gaio_test_loop_init(&loop, &mode);
        aio_set_fd_handler(loop.ctx, BAD_FD, never_cb, NULL, NULL, NULL, NULL);
        assert_context_still_works(&loop);
        gaio_test_loop_clear(&loop);
        return;
    }

    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    fd_pattern = g_strdup_printf("*CRITICAL*%d*", BAD_FD);
    g_test_trap_assert_stderr(fd_pattern);
    errno_pattern = g_strdup_printf("*CRITICAL*%s*", g_strerror(EBADF));
    g_test_trap_assert_stderr(errno_pattern);
}

static void
check_always_ready(GaioTestLoop *loop, int fd, bool writing)
{
    Handler h = {.ctx = loop->ctx};

    h.pair.rfd = fd;
    h.pair.wfd = -1;
    if (writing)
        aio_set_fd_handler(loop->ctx, fd, NULL, write_cb, NULL, NULL, &h);
    else
        aio_set_fd_handler(loop->ctx, fd, read_cb, NULL, NULL, NULL, &h);
    for (int i = 1; i <= 3; i++) {
        g_assert_true(gaio_test_loop_iterate(loop, i == 2));
        g_assert_cmpint(writing ? h.writes : h.reads, ==, i);
    }
    unwatch(loop->ctx, fd);
    gaio_test_loop_assert_no_progress(loop);
    g_assert_false(gaio_test_loop_iterate(loop, false));
    g_assert_cmpint(writing ? h.writes : h.reads, ==, 3);
}

static void
test_regular_file_is_always_ready(gconstpointer mode)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    GaioTestLoop loop;
    int fd, devnull;

    g_test_summary("F3: an fd epoll cannot watch (a regular file, /dev/null) is "
                   "registered without a critical and is always ready, for "
                   "reading and writing, as poll() reports it: its handler runs "
                   "in every pass and a blocking iteration does not sleep.");

    gaio_test_loop_init(&loop, mode);
    fd = g_file_open_tmp("gaio-test-fd-XXXXXX", &path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "data", 4), ==, 4);

    check_always_ready(&loop, fd, false);
    check_always_ready(&loop, fd, true);

    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(devnull, >=, 0);
    check_always_ready(&loop, devnull, false);
    check_always_ready(&loop, devnull, true);
    close(devnull);

    /* Beside an epoll-watched fd, which still works. */
    assert_context_still_works(&loop);

    close(fd);
    unlink(path);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ G6 */

static void
test_glib_poll_array_does_not_grow(void)
{
    enum { N = 300 };
    GaioTestMode mode = GAIO_TEST_GSOURCE;
    Handler *h = g_new0(Handler, N);
    GaioTestLoop loop;
    int empty, full;

    g_test_summary("G6: the context gives GLib the same poll fds with 300 fd "
                   "handlers registered as with none (one epoll fd, not one "
                   "GPollFD per handler).");

    gaio_test_loop_init(&loop, &mode);
    empty = gaio_test_count_glib_poll_fds(loop.mc, NULL);
    for (int i = 0; i < N; i++) {
        handler_init(&h[i], loop.ctx, KIND_EVENTFD);
        h[i].drain = true;
        watch_read(&h[i]);
    }
    gaio_test_loop_flush_at_most(&loop, 1);
    full = gaio_test_count_glib_poll_fds(loop.mc, NULL);
    g_test_message("GPollFDs: %d with no handler, %d with %d", empty, full, N);
    g_assert_cmpint(full, ==, empty);
    /* GLib's own wakeup fd, the context's wakeup, its epoll fd and maybe a
     * timerfd: a handful. */
    g_assert_cmpint(full, <=, 4);

    /* And they still work through that one fd. */
    fd_pair_make_readable(&h[N - 1].pair);
    g_assert_true(gaio_test_loop_iterate(&loop, true));
    g_assert_cmpint(h[N - 1].reads, ==, 1);

    for (int i = 0; i < N; i++) {
        unwatch(loop.ctx, h[i].pair.rfd);
        fd_pair_close(&h[i].pair);
    }
    g_free(h);
    gaio_test_loop_clear(&loop);
}

/* ------------------------------------------------------------------ C4 */

static void
test_finalize_with_handlers_registered(gconstpointer mode)
{
    GaioTestLoop loop;
    Handler ready, idle, writer;

    g_test_summary("C4: finalizing a context with fd handlers still registered "
                   "(one readable, one not, one io_write) frees them without "
                   "calling them; no leak (valgrind, LeakSanitizer).");

    gaio_test_loop_init(&loop, mode);
    handler_init(&ready, loop.ctx, KIND_PIPE);
    handler_init(&idle, loop.ctx, KIND_SOCKETPAIR);
    handler_init(&writer, loop.ctx, KIND_PIPE);
    aio_set_fd_handler(loop.ctx, ready.pair.rfd, never_cb, NULL, NULL, NULL, &ready);
    aio_set_fd_handler(loop.ctx, idle.pair.rfd, never_cb, NULL, NULL, NULL, &idle);
    aio_set_fd_handler(loop.ctx, writer.pair.wfd, NULL, never_cb, NULL, NULL, &writer);
    fd_pair_make_readable(&ready.pair);

    gaio_test_loop_clear(&loop);

    /* The fds are the caller's: still open, still usable. */
    g_assert_cmpint(fd_drain(ready.pair.rfd), ==, 1);
    fd_pair_close(&ready.pair);
    fd_pair_close(&idle.pair);
    fd_pair_close(&writer.pair);
}

/* Removes every handler in `victims`, then drops the last reference of the
 * context (under GLib: destroys its source and drops the test's references). */
typedef struct {
    Handler self;
    GaioTestLoop *loop;
} LastRef;

static void
drop_last_reference_cb(void *opaque)
{
    LastRef *l = opaque;
    GaioTestLoop *loop = l->loop;

    l->self.reads++;
    g_string_append_c(l->self.log, 'S');
    for (Handler **v = l->self.victims; *v != NULL; v++)
        unwatch(loop->ctx, (*v)->pair.rfd);
    unwatch(loop->ctx, l->self.pair.rfd);
    if (loop->source != NULL) {
        g_source_destroy(loop->source);
        g_source_unref(loop->source);
        loop->source = NULL;
    }
    aio_context_unref(loop->ctx);
    loop->ctx = NULL;
}

static void
test_callback_drops_last_reference(gconstpointer data)
{
    enum { N = 8 };
    GaioTestLoop loop;
    Handler others[N];
    Handler *victims[N + 1];
    GString *log;
    LastRef l;

    g_test_summary("C4/F2: a handler removes the other handlers of readable fds "
                   "(whose memory must outlive the walk) and drops the last "
                   "reference of its context: none of them runs afterwards, the "
                   "context is freed when the iteration returns; no leak, no "
                   "invalid access.");

    gaio_test_loop_init(&loop, data);
    log = g_string_new(NULL);
    handler_init(&l.self, loop.ctx, KIND_PIPE);
    l.loop = &loop;
    l.self.log = log;
    /* Ready first: epoll reports in the order fds became ready, so it most
     * likely runs before the others (which may legitimately run before it
     * otherwise). */
    aio_set_fd_handler(loop.ctx, l.self.pair.rfd, drop_last_reference_cb, NULL, NULL, NULL,
                       &l);
    fd_pair_make_readable(&l.self.pair);
    for (int i = 0; i < N; i++) {
        handler_init(&others[i], loop.ctx, KIND_EVENTFD);
        others[i].log = log;
        others[i].tag = 'o';
        watch_read(&others[i]);
        fd_pair_make_readable(&others[i].pair);
        victims[i] = &others[i];
    }
    victims[N] = NULL;
    l.self.victims = victims;

    gaio_test_loop_iterate(&loop, false);
    g_assert_cmpint(l.self.reads, ==, 1);
    g_assert_null(loop.ctx);
    /* F2: none of the removed handlers ran after the removal. */
    g_test_message("log: %s", log->str);
    g_assert_null(strchr(strchr(log->str, 'S'), 'o'));
    g_string_free(log, TRUE);

    for (int i = 0; i < N; i++)
        fd_pair_close(&others[i].pair);
    fd_pair_close(&l.self.pair);
    if (loop.mc != NULL)
        g_main_context_unref(loop.mc);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);
    /* A failed check fails its test and the run goes on to the next one, so
     * one broken rule does not hide the state of the others. */
    g_test_set_nonfatal_assertions();

    gaio_test_add_modes("/fd/P1/set-handler-is-not-progress",
                        test_set_handler_is_not_progress);

    for (int m = 0; m < GAIO_TEST_N_MODES; m++) {
        for (int k = 0; k < N_KINDS; k++) {
            KindCase *c = &kind_cases[m * N_KINDS + k];
            g_autofree char *path = g_strdup_printf("/fd/F1/read-handler-on-%s/%s",
                                                    kind_names[k],
                                                    gaio_test_mode_names[m]);

            c->mode = gaio_test_modes[m];
            c->kind = k;
            g_test_add_data_func(path, c, test_read_handler_on_kind);
        }
    }
    gaio_test_add_modes("/fd/F1/level-triggered", test_level_triggered);
    gaio_test_add_modes("/fd/F1/io-write-on-pipe-write-end", test_io_write_on_pipe_write_end);
    gaio_test_add_modes("/fd/F1/read-and-write-on-one-socket",
                        test_read_and_write_on_one_socket);
    gaio_test_add_modes("/fd/F1/hang-up-runs-io-read", test_hang_up_runs_io_read);
    gaio_test_add_modes("/fd/F1/error-runs-io-read", test_error_runs_io_read);
    gaio_test_add_modes("/fd/F1/one-ready-among-many", test_one_ready_among_many);
    gaio_test_add_modes("/fd/F1/every-readable-fd-runs-in-each-pass",
                        test_every_readable_fd_runs_in_each_pass);
    gaio_test_add_modes("/fd/F1/nested-poll-does-not-rerun-served-handler",
                        test_nested_poll_does_not_rerun_served_handler);

    gaio_test_add_modes("/fd/F2/remove-self-from-callback", test_remove_self_from_callback);
    gaio_test_add_modes("/fd/F2/remove-each-other-from-callbacks",
                        test_remove_each_other_from_callbacks);
    gaio_test_add_modes("/fd/F2/remove-many-from-one-callback",
                        test_remove_many_from_one_callback);
    gaio_test_add_modes("/fd/F2/replace-self-from-callback", test_replace_self_from_callback);
    gaio_test_add_modes("/fd/F2/replace-other-from-callback",
                        test_replace_other_from_callback);
    gaio_test_add_modes("/fd/F2/fd-number-reused-inside-callback",
                        test_fd_number_reused_inside_callback);

    gaio_test_add_modes("/fd/F3/closed-fd-is-refused", test_closed_fd_is_refused);
    gaio_test_add_modes("/fd/F3/invalid-fd-is-refused", test_invalid_fd_is_refused);
    g_test_add_func("/fd/F3/critical-names-fd-and-errno", test_bad_fd_critical_names_fd_and_errno);
    gaio_test_add_modes("/fd/F3/regular-file-is-always-ready",
                        test_regular_file_is_always_ready);

    g_test_add_func("/fd/G6/glib-poll-array-does-not-grow", test_glib_poll_array_does_not_grow);

    gaio_test_add_modes("/fd/C4/finalize-with-handlers-registered",
                        test_finalize_with_handlers_registered);
    gaio_test_add_modes("/fd/C4/callback-drops-last-reference",
                        test_callback_drops_last_reference);

    return g_test_run();
}
