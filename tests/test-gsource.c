/* test-gsource.c: the AioContext as a GSource, run by g_main_context_iteration()
 * (SPEC G1-G6, with C3, C5, I1, B14 and QEMU's classic BH sequences as seen
 * through GLib).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gaio-test.h"

/* ------------------------------------------------------------ helpers */

/* A context attached to a GMainContext of its own. */
typedef struct {
    AioContext *ctx;
    GMainContext *gctx;
    GSource *source;
} Loop;

static void
loop_init_full(Loop *loop, gboolean set_priority, int priority)
{
    loop->ctx = gaio_test_context_new();
    loop->gctx = g_main_context_new();
    loop->source = aio_get_g_source(loop->ctx);
    if (set_priority)
        g_source_set_priority(loop->source, priority);
    g_source_attach(loop->source, loop->gctx);
    /* GLib 2.74's g_source_attach() signals the GMainContext's own wakeup fd,
     * so the first blocking iteration would return at once with nothing
     * dispatched. Absorb it: nothing is pending, so this runs nothing. */
    g_assert_false(g_main_context_iteration(loop->gctx, FALSE));
}

static void
loop_init(Loop *loop)
{
    loop_init_full(loop, FALSE, 0);
}

/* Iterates until nothing is left to do (reclaims deleted BHs), bounded. */
static void
loop_drain(Loop *loop)
{
    int n = 0;

    while (g_main_context_iteration(loop->gctx, FALSE))
        g_assert_cmpint(++n, <, 1000);
}

static void
loop_clear(Loop *loop)
{
    loop_drain(loop);
    g_source_destroy(loop->source);
    g_source_unref(loop->source);
    aio_context_unref(loop->ctx);
    g_main_context_unref(loop->gctx);
    memset(loop, 0, sizeof *loop);
}

/* A BH that counts its runs and appends its tag to a shared log. With max > 0
 * it re-schedules itself until it ran max times; with delete_at > 0 it
 * deletes itself on that run (after re-scheduling, as QEMU's bh_delete_cb). */
typedef struct {
    QEMUBH *bh;
    GString *log;
    char tag;
    int runs;
    int max;
    int delete_at;
    AioContext *current; /* aio_context_get_current() seen by the last run */
    GThread *thread;     /* the thread of the last run */
} Probe;

static void
probe_cb(void *opaque)
{
    Probe *p = opaque;

    p->runs++;
    p->current = aio_context_get_current();
    p->thread = g_thread_self();
    if (p->log != NULL)
        g_string_append_c(p->log, p->tag);
    if (p->max > 0 && p->runs < p->max)
        qemu_bh_schedule(p->bh);
    if (p->delete_at > 0) {
        qemu_bh_schedule(p->bh);
        if (p->runs == p->delete_at) {
            qemu_bh_delete(p->bh);
            p->bh = NULL;
        }
    }
}

static void
probe_init(Probe *p, AioContext *ctx, GString *log, char tag)
{
    memset(p, 0, sizeof *p);
    p->log = log;
    p->tag = tag;
    p->bh = aio_bh_new(ctx, probe_cb, p);
}

static void
probe_clear(Probe *p)
{
    if (p->bh != NULL)
        qemu_bh_delete(p->bh);
    p->bh = NULL;
}

/* GLib sources that are always ready while they exist: g_idle, a 0 ms
 * g_timeout (re-armed at "now" after each dispatch) and a custom GSource. */
typedef enum {
    KIND_IDLE,
    KIND_TIMEOUT,
    KIND_CUSTOM,
} SourceKind;

static const char *const kind_names[] = {"idle", "timeout", "custom"};

typedef struct {
    GSource source;
    gboolean ready;
} CustomSource;

static gboolean
custom_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return ((CustomSource *)source)->ready;
}

static gboolean
custom_check(GSource *source)
{
    return ((CustomSource *)source)->ready;
}

static gboolean
custom_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    (void)source;
    return callback(user_data);
}

static GSourceFuncs custom_funcs = {
    .prepare = custom_prepare,
    .check = custom_check,
    .dispatch = custom_dispatch,
};

typedef struct {
    GString *log;
    char tag;
    int runs;
    gboolean once; /* G_SOURCE_REMOVE after the first dispatch */
    AioContext *current;
} Recorder;

static gboolean
recorder_cb(gpointer data)
{
    Recorder *r = data;

    r->runs++;
    r->current = aio_context_get_current();
    if (r->log != NULL)
        g_string_append_c(r->log, r->tag);
    return r->once ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* A ready source of @kind at @priority on @gctx; the caller owns a reference. */
static GSource *
ready_source_new(SourceKind kind, int priority, GMainContext *gctx, Recorder *r)
{
    GSource *source = NULL;

    switch (kind) {
    case KIND_IDLE:
        source = g_idle_source_new();
        break;
    case KIND_TIMEOUT:
        source = g_timeout_source_new(0);
        break;
    case KIND_CUSTOM:
        source = g_source_new(&custom_funcs, sizeof(CustomSource));
        ((CustomSource *)source)->ready = TRUE;
        break;
    default:
        g_assert_not_reached();
    }
    g_source_set_priority(source, priority);
    g_source_set_callback(source, recorder_cb, r, NULL);
    g_source_attach(source, gctx);
    return source;
}

static void
source_clear(GSource **source)
{
    if (*source == NULL)
        return;
    g_source_destroy(*source);
    g_source_unref(*source);
    *source = NULL;
}

/* ------------------------------------------------------------------ G1 */

static void
test_g1_runs_bhs_from_attached_main_context(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Loop loop;
    Probe a;

    g_test_summary("G1: aio_get_g_source() gives a GSource that can be attached "
                   "to any GMainContext; g_main_context_iteration() runs its BHs.");

    loop_init(&loop);
    probe_init(&a, loop.ctx, log, 'a');
    g_assert_true(g_source_get_context(loop.source) == loop.gctx);

    qemu_bh_schedule(a.bh);
    g_assert_cmpint(a.runs, ==, 0);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(a.runs, ==, 1);
    g_assert_true(a.thread == g_thread_self());
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(a.runs, ==, 1);

    probe_clear(&a);
    loop_clear(&loop);
}

static void
test_g1_priority_default_unless_set(void)
{
    AioContext *ctx = gaio_test_context_new();
    GSource *source = aio_get_g_source(ctx);
    GSource *again;

    g_test_summary("G1: the context's GSource has priority G_PRIORITY_DEFAULT "
                   "unless set; g_source_set_priority() changes it.");

    g_assert_true((void *)source == (void *)ctx);
    g_assert_cmpint(g_source_get_priority(source), ==, G_PRIORITY_DEFAULT);
    g_source_set_priority(source, G_PRIORITY_HIGH);
    again = aio_get_g_source(ctx);
    g_assert_true(again == source);
    g_assert_cmpint(g_source_get_priority(again), ==, G_PRIORITY_HIGH);
    g_source_set_priority(source, G_PRIORITY_LOW);
    g_assert_cmpint(g_source_get_priority(again), ==, G_PRIORITY_LOW);

    g_source_unref(again);
    g_source_unref(source);
    aio_context_unref(ctx);
}

/* A higher-priority ready source dispatches alone: our pending BH waits until
 * the source is gone. */
static void
test_g1_higher_priority_source_first(gconstpointer data)
{
    SourceKind kind = GPOINTER_TO_INT(data);
    g_autoptr(GString) log = g_string_new(NULL);
    Recorder r = {.log = log, .tag = 'K'};
    GSource *k;
    Loop loop;
    Probe b;

    g_test_summary("G1: a ready source of higher priority than the context "
                   "dispatches first; the context's pending BH waits until it "
                   "is removed (GLib's priority rule).");

    loop_init(&loop);
    probe_init(&b, loop.ctx, log, 'B');
    k = ready_source_new(kind, G_PRIORITY_HIGH, loop.gctx, &r);

    qemu_bh_schedule(b.bh);
    for (int i = 1; i <= 5; i++) {
        g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
        g_assert_cmpint(r.runs, ==, i);
        g_assert_cmpint(b.runs, ==, 0);
    }
    source_clear(&k);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(b.runs, ==, 1);
    g_assert_cmpstr(log->str, ==, "KKKKKB");
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));

    probe_clear(&b);
    loop_clear(&loop);
}

static void
test_g1_same_priority_source_same_iteration(gconstpointer data)
{
    SourceKind kind = GPOINTER_TO_INT(data);
    g_autoptr(GString) log = g_string_new(NULL);
    Recorder r = {.log = log, .tag = 'K'};
    GSource *k;
    Loop loop;
    Probe b;

    g_test_summary("G1: a ready source at the context's priority dispatches in "
                   "the same iteration as the context's pending BH.");

    loop_init(&loop);
    probe_init(&b, loop.ctx, log, 'B');
    k = ready_source_new(kind, G_PRIORITY_DEFAULT, loop.gctx, &r);

    qemu_bh_schedule(b.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(b.runs, ==, 1);
    g_assert_cmpint(r.runs, ==, 1);
    g_assert_cmpint(log->len, ==, 2);
    /* The other source keeps running alone afterwards. */
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(b.runs, ==, 1);
    g_assert_cmpint(r.runs, ==, 2);

    source_clear(&k);
    probe_clear(&b);
    loop_clear(&loop);
}

/* The BH runs first; a ready source of lower priority waits for the next
 * iteration. @context_high: the context is at G_PRIORITY_HIGH and the other
 * source at G_PRIORITY_DEFAULT; else the context at the default and the other
 * at G_PRIORITY_LOW. */
static void
check_lower_priority_source_waits(SourceKind kind, gboolean context_high)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Recorder r = {.log = log, .tag = 'K'};
    GSource *k;
    Loop loop;
    Probe b;

    if (context_high)
        loop_init_full(&loop, TRUE, G_PRIORITY_HIGH);
    else
        loop_init(&loop);
    probe_init(&b, loop.ctx, log, 'B');
    k = ready_source_new(kind, context_high ? G_PRIORITY_DEFAULT : G_PRIORITY_LOW,
                         loop.gctx, &r);

    qemu_bh_schedule(b.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "B");
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "BK");
    /* Scheduled again: the BH preempts the always-ready lower source again. */
    qemu_bh_schedule(b.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "BKB");
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "BKBK");

    source_clear(&k);
    probe_clear(&b);
    loop_clear(&loop);
}

static void
test_g1_lower_priority_source_waits(gconstpointer data)
{
    g_test_summary("G1: a ready source of lower priority than the context waits "
                   "while the context has a BH pending, and dispatches in a later "
                   "iteration.");
    check_lower_priority_source_waits(GPOINTER_TO_INT(data), FALSE);
}

static void
test_g1_context_at_high_priority_runs_first(gconstpointer data)
{
    g_test_summary("G1: a context set to G_PRIORITY_HIGH runs its BH before a "
                   "ready G_PRIORITY_DEFAULT source, which waits for the next "
                   "iteration.");
    check_lower_priority_source_waits(GPOINTER_TO_INT(data), TRUE);
}

static void
test_g1_mixed_sources_by_priority(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Recorder custom = {.log = log, .tag = 'C', .once = TRUE};
    Recorder idle = {.log = log, .tag = 'I', .once = TRUE};
    Recorder timeout = {.log = log, .tag = 'T', .once = TRUE};
    GSource *sc, *si, *st;
    Loop loop;
    Probe b;

    g_test_summary("G1: mixed with one-shot custom (HIGH), idle (DEFAULT_IDLE) "
                   "and timeout (LOW) sources, the context (DEFAULT) dispatches in "
                   "priority order, one priority level per iteration.");

    loop_init(&loop);
    probe_init(&b, loop.ctx, log, 'B');
    /* Attached in the reverse of the expected order. */
    st = ready_source_new(KIND_TIMEOUT, G_PRIORITY_LOW, loop.gctx, &timeout);
    si = ready_source_new(KIND_IDLE, G_PRIORITY_DEFAULT_IDLE, loop.gctx, &idle);
    sc = ready_source_new(KIND_CUSTOM, G_PRIORITY_HIGH, loop.gctx, &custom);
    qemu_bh_schedule(b.bh);

    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "C");
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "CB");
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "CBI");
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "CBIT");
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "CBIT");

    source_clear(&sc);
    source_clear(&si);
    source_clear(&st);
    probe_clear(&b);
    loop_clear(&loop);
}

/* ------------------------------------------------------------------ C3 */

static gint default_start;

static gpointer
get_default_thread(gpointer data)
{
    (void)data;
    while (!g_atomic_int_get(&default_start))
        ;
    return qemu_get_aio_context();
}

static void
test_c3_default_context_same_from_two_threads(void)
{
    GThread *t1, *t2;
    AioContext *c1, *c2, *mine;

    g_test_summary("C3: qemu_get_aio_context() is made once (thread-safe): two "
                   "threads racing for it get the same pointer.");

    g_atomic_int_set(&default_start, 0);
    t1 = g_thread_new("default-1", get_default_thread, NULL);
    t2 = g_thread_new("default-2", get_default_thread, NULL);
    g_atomic_int_set(&default_start, 1);
    c1 = g_thread_join(t1);
    c2 = g_thread_join(t2);
    mine = qemu_get_aio_context();

    g_assert_nonnull(c1);
    g_assert_true(c1 == c2);
    g_assert_true(c1 == mine);
}

static void
test_c3_qemu_bh_new_runs_from_default_main_context(void)
{
    AioContext *ctx = qemu_get_aio_context();
    GSource *source = aio_get_g_source(ctx);
    Probe p;
    int n = 0;

    g_test_summary("C3: the default context is attached to "
                   "g_main_context_default(): qemu_bh_schedule(qemu_bh_new(cb, p)) "
                   "runs cb from g_main_context_iteration(NULL, FALSE).");

    g_assert_true(g_source_get_context(source) == g_main_context_default());
    g_assert_false(g_source_is_destroyed(source));
    g_source_unref(source);

    memset(&p, 0, sizeof p);
    qemu_bh_schedule(p.bh = qemu_bh_new(probe_cb, &p));
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_true(p.current == ctx);

    qemu_bh_delete(p.bh);
    while (g_main_context_iteration(NULL, FALSE))
        g_assert_cmpint(++n, <, 1000);
    g_assert_cmpint(p.runs, ==, 1);
}

/* ------------------------------------------------------------------ G2 */

typedef struct {
    gboolean ready;  /* g_main_context_prepare()'s answer */
    int timeout;     /* g_main_context_query()'s poll timeout */
} Prepared;

/* One hand-made iteration of @gctx: prepare and query, then poll (for at most
 * the queried timeout; 0 for "forever"), check and dispatch. */
static Prepared
iterate_by_hand(GMainContext *gctx)
{
    GPollFD fds[16];
    Prepared p;
    gint max_priority = G_MAXINT;
    int n;

    g_assert_true(g_main_context_acquire(gctx));
    p.ready = g_main_context_prepare(gctx, &max_priority);
    n = g_main_context_query(gctx, max_priority, &p.timeout, fds, G_N_ELEMENTS(fds));
    g_assert_cmpint(n, >=, 1); /* the wakeup fds: GLib's and the context's */
    g_assert_cmpint(n, <=, (int)G_N_ELEMENTS(fds));
    g_poll(fds, n, p.timeout < 0 ? 0 : p.timeout);
    if (g_main_context_check(gctx, max_priority, fds, n))
        g_main_context_dispatch(gctx);
    g_main_context_release(gctx);
    return p;
}

static void
test_g2_ready_with_zero_timeout_when_bh_pending(void)
{
    Prepared p;
    Loop loop;
    Probe a, idle;

    g_test_summary("G2: prepare is ready with timeout 0 when a normal BH is "
                   "pending (also when an idle BH is pending too, or an idle BH "
                   "was upgraded by qemu_bh_schedule()).");

    loop_init(&loop);
    probe_init(&a, loop.ctx, NULL, 'a');
    probe_init(&idle, loop.ctx, NULL, 'i');

    qemu_bh_schedule(a.bh);
    p = iterate_by_hand(loop.gctx);
    g_assert_true(p.ready);
    g_assert_cmpint(p.timeout, ==, 0);
    g_assert_cmpint(a.runs, ==, 1);

    qemu_bh_schedule_idle(idle.bh);
    qemu_bh_schedule(a.bh);
    p = iterate_by_hand(loop.gctx);
    g_assert_true(p.ready);
    g_assert_cmpint(p.timeout, ==, 0);
    g_assert_cmpint(a.runs, ==, 2);
    g_assert_cmpint(idle.runs, ==, 1);

    qemu_bh_schedule_idle(idle.bh);
    qemu_bh_schedule(idle.bh); /* B7: upgraded to normal */
    p = iterate_by_hand(loop.gctx);
    g_assert_true(p.ready);
    g_assert_cmpint(p.timeout, ==, 0);
    g_assert_cmpint(idle.runs, ==, 2);

    probe_clear(&a);
    probe_clear(&idle);
    loop_clear(&loop);
}

static void
test_g2_timeout_at_most_10ms_when_only_idle_bh_pending(void)
{
    Prepared p;
    Loop loop;
    Probe idle;

    g_test_summary("G2: prepare's timeout is at most 10 ms (and not 0) when only "
                   "idle BHs are pending; the idle BH runs in that iteration.");

    loop_init(&loop);
    probe_init(&idle, loop.ctx, NULL, 'i');

    for (int i = 1; i <= 3; i++) {
        qemu_bh_schedule_idle(idle.bh);
        p = iterate_by_hand(loop.gctx);
        g_assert_false(p.ready);
        g_assert_cmpint(p.timeout, >, 0);
        g_assert_cmpint(p.timeout, <=, 10);
        g_assert_cmpint(idle.runs, ==, i);
    }

    probe_clear(&idle);
    loop_clear(&loop);
}

static void
test_g2_timeout_infinite_when_nothing_pending(void)
{
    Prepared p;
    Loop loop;
    Probe a, never;

    g_test_summary("G2: with no BH pending (and no other source), prepare is not "
                   "ready and GLib would poll with timeout -1 (forever); also "
                   "after a pending BH ran.");

    loop_init(&loop);
    probe_init(&never, loop.ctx, NULL, 'n'); /* registered, never scheduled */

    p = iterate_by_hand(loop.gctx);
    g_assert_false(p.ready);
    g_assert_cmpint(p.timeout, ==, -1);

    probe_init(&a, loop.ctx, NULL, 'a');
    qemu_bh_schedule(a.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(a.runs, ==, 1);
    p = iterate_by_hand(loop.gctx);
    g_assert_false(p.ready);
    g_assert_cmpint(p.timeout, ==, -1);
    g_assert_cmpint(a.runs, ==, 1);
    g_assert_cmpint(never.runs, ==, 0);

    probe_clear(&a);
    probe_clear(&never);
    loop_clear(&loop);
}

/* --------------------------------------------------------------- G3/G4 */

static void
test_g3_one_iteration_runs_pending_bhs_in_fifo_order(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Probe p[5];
    Loop loop;

    g_test_summary("G3/G4: after schedules, one g_main_context_iteration(FALSE) "
                   "returns TRUE and runs exactly the pending BHs, once each, in "
                   "the order they were scheduled (B4, B5).");

    loop_init(&loop);
    for (int i = 0; i < 5; i++)
        probe_init(&p[i], loop.ctx, log, 'A' + i);

    /* Not creation order; E is never scheduled; D is scheduled twice (B2). */
    qemu_bh_schedule(p[3].bh);
    qemu_bh_schedule(p[1].bh);
    qemu_bh_schedule(p[0].bh);
    qemu_bh_schedule(p[3].bh);
    qemu_bh_schedule(p[2].bh);
    g_assert_cmpstr(log->str, ==, "");

    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "DBAC");
    g_assert_cmpint(p[4].runs, ==, 0);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "DBAC");

    for (int i = 0; i < 5; i++)
        probe_clear(&p[i]);
    loop_clear(&loop);
}

static void
test_g3_idle_bh_runs_in_blocking_iteration(void)
{
    Loop loop;
    Probe idle;

    g_test_summary("G3/B7: an idle-scheduled BH (which does not wake the loop) "
                   "runs from a blocking iteration within about 10 ms.");

    loop_init(&loop);
    probe_init(&idle, loop.ctx, NULL, 'i');

    for (int i = 1; i <= 3; i++) {
        gint64 start, elapsed;

        qemu_bh_schedule_idle(idle.bh);
        start = g_get_monotonic_time();
        g_assert_true(g_main_context_iteration(loop.gctx, TRUE));
        elapsed = g_get_monotonic_time() - start;
        g_assert_cmpint(idle.runs, ==, i);
        /* About 10 ms; a wide margin for loaded machines and valgrind. */
        g_assert_cmpint(elapsed, <, 2 * G_USEC_PER_SEC);
        g_test_message("idle BH ran after %" G_GINT64_FORMAT " us", elapsed);
    }

    probe_clear(&idle);
    loop_clear(&loop);
}

static void
test_g4_rescheduling_bh_once_per_iteration_fairly(void)
{
    Recorder idle_rec = {.tag = 'I'};
    GSource *idle;
    Loop loop;
    Probe b;

    g_test_summary("G4/B5: a BH that re-schedules itself runs exactly once per "
                   "iteration (no endless pass), so an idle source at the same "
                   "priority is dispatched in every iteration too.");

    loop_init(&loop);
    probe_init(&b, loop.ctx, NULL, 'B');
    b.max = G_MAXINT; /* re-schedules itself for ever */
    idle = ready_source_new(KIND_IDLE, G_PRIORITY_DEFAULT, loop.gctx, &idle_rec);

    qemu_bh_schedule(b.bh);
    for (int i = 1; i <= 20; i++) {
        g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
        g_assert_cmpint(b.runs, ==, i);
        g_assert_cmpint(idle_rec.runs, ==, i);
    }

    source_clear(&idle);
    probe_clear(&b);
    loop_clear(&loop);
}

/* ------------------------------------------------------------------ G5 */

typedef struct {
    AioContext *ctx;
    QEMUBH *bh;      /* scheduled by the thread, or NULL: aio_notify() */
    gulong delay_us; /* before scheduling or notifying */
} Waker;

static gpointer
waker_thread(gpointer data)
{
    Waker *w = data;

    if (w->delay_us > 0)
        g_usleep(w->delay_us);
    if (w->bh != NULL)
        qemu_bh_schedule(w->bh);
    else
        aio_notify(w->ctx);
    return NULL;
}

static void
test_g5_wakes_blocked_iteration_from_thread(void)
{
    Waker w;
    GThread *t;
    Loop loop;
    Probe a;

    g_test_summary("G5: a g_main_context_iteration(ctx, TRUE) blocked in poll "
                   "returns and dispatches when another thread schedules a BH.");

    loop_init(&loop);
    probe_init(&a, loop.ctx, NULL, 'a');

    w = (Waker){.ctx = loop.ctx, .bh = a.bh, .delay_us = 50000};
    t = g_thread_new("waker", waker_thread, &w);
    g_assert_true(g_main_context_iteration(loop.gctx, TRUE));
    g_assert_cmpint(a.runs, ==, 1);
    g_assert_true(a.thread == g_thread_self());
    g_thread_join(t);

    probe_clear(&a);
    loop_clear(&loop);
}

static void
test_g5_wakes_blocked_iteration_many_rounds(void)
{
    unsigned rounds = gaio_test_scale(200);
    unsigned spurious = 0;
    Loop loop;
    Probe a;

    g_test_summary("G5/W1: no lost wakeup: 200 rounds of a thread scheduling a "
                   "BH (after 0-200 us) while the main thread blocks in "
                   "g_main_context_iteration(TRUE); each BH runs, once.");

    loop_init(&loop);
    probe_init(&a, loop.ctx, NULL, 'a');

    for (unsigned round = 1; round <= rounds; round++) {
        Waker w = {.ctx = loop.ctx,
                   .bh = a.bh,
                   .delay_us = round % 4 == 0 ? 0 : g_random_int_range(0, 200)};
        GThread *t = g_thread_new("waker", waker_thread, &w);
        int iterations = 0;

        /* A wakeup left over from the previous round (a write the last poll
         * did not see) may end one iteration without the BH (P2). */
        while (a.runs < (int)round) {
            g_main_context_iteration(loop.gctx, TRUE);
            iterations++;
        }
        g_assert_cmpint(iterations, <=, 3);
        spurious += iterations - 1;
        g_thread_join(t);
        g_assert_cmpint(a.runs, ==, (int)round);
    }
    g_test_message("%u rounds, %u iterations without the BH", rounds, spurious);

    probe_clear(&a);
    loop_clear(&loop);
}

static void
test_g5_aio_notify_wakes_blocked_iteration(void)
{
    unsigned rounds = gaio_test_scale(200);
    unsigned true_returns = 0;
    gint64 start, elapsed;
    gboolean ret;
    Waker w;
    GThread *t;
    Loop loop;

    g_test_summary("G5/W1: aio_notify() from another thread makes a "
                   "g_main_context_iteration(TRUE) blocked in poll return "
                   "(a wakeup, not necessarily a dispatch); 200 rounds.");

    loop_init(&loop);

    w = (Waker){.ctx = loop.ctx, .delay_us = 50000};
    start = g_get_monotonic_time();
    t = g_thread_new("notifier", waker_thread, &w);
    ret = g_main_context_iteration(loop.gctx, TRUE);
    elapsed = g_get_monotonic_time() - start;
    g_thread_join(t);
    /* It really slept until the notify (a fresh context has nothing pending). */
    g_assert_cmpint(elapsed, >=, 40000);
    g_test_message("woken by aio_notify after %" G_GINT64_FORMAT " us, returned %s",
                   elapsed, ret ? "TRUE" : "FALSE");

    for (unsigned round = 0; round < rounds; round++) {
        w = (Waker){.ctx = loop.ctx,
                    .delay_us = round % 4 == 0 ? 0 : g_random_int_range(0, 200)};
        t = g_thread_new("notifier", waker_thread, &w);
        /* Hangs (and the watchdog fails the test) if the wakeup is lost. */
        true_returns += g_main_context_iteration(loop.gctx, TRUE);
        g_thread_join(t);
    }
    g_test_message("%u rounds, %u returned TRUE", rounds, true_returns);

    loop_clear(&loop);
}

/* ------------------------------------------------------------------ G6 */

/* ------------------------------------------------------------------ G3 */

static void
never_runs_cb(void *opaque)
{
    (void)opaque;
    g_assert_not_reached();
}

/* QEMU's drain idiom: iterate until nothing is dispatched, then expect the
 * next non-blocking iteration to dispatch nothing either. */
static void
assert_drained(GMainContext *gctx)
{
    while (g_main_context_iteration(gctx, FALSE))
        ;
    g_assert_false(g_main_context_iteration(gctx, FALSE));
}

static void
test_g3_deleted_bh_is_not_readiness(void)
{
    Loop loop;

    g_test_summary("G3: after aio_bh_new() and qemu_bh_delete() with nothing "
                   "pending, g_main_context_iteration(FALSE) returns FALSE (the "
                   "leftover is reclaimed, not dispatched), as under QEMU");
    loop_init(&loop);
    qemu_bh_delete(aio_bh_new(loop.ctx, never_runs_cb, NULL));
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    assert_drained(loop.gctx);
    loop_clear(&loop);
}

static void
test_g3_cancelled_bh_is_not_readiness(void)
{
    Loop loop;
    QEMUBH *bh;

    g_test_summary("G3: a BH scheduled then cancelled on the context's thread "
                   "leaves nothing ready: g_main_context_iteration(FALSE) returns "
                   "FALSE; scheduled again, it runs");
    loop_init(&loop);
    bh = aio_bh_new(loop.ctx, never_runs_cb, NULL);
    qemu_bh_schedule(bh);
    qemu_bh_cancel(bh);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    assert_drained(loop.gctx);
    qemu_bh_delete(bh);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    loop_clear(&loop);
}

static void
test_g3_leftovers_behind_pending_bh(void)
{
    Loop loop;
    Probe p;

    g_test_summary("G3: leftovers queued before a pending BH do not add a "
                   "dispatch: one iteration runs the BH, the next returns FALSE");
    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');
    for (int i = 0; i < 3; i++) {
        QEMUBH *bh = aio_bh_new(loop.ctx, never_runs_cb, NULL);

        qemu_bh_schedule(bh);
        qemu_bh_delete(bh);
    }
    qemu_bh_schedule(p.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    probe_clear(&p);
    loop_clear(&loop);
}

/* Counted, not timed, in test-cost.c: an iteration that runs one BH looks
 * at as many queue nodes with 100,000 idle BHs as with 10. */

/* -------------------------------------------------- classic sequences */

static void
test_classic_schedule(void)
{
    Loop loop;
    Probe p;

    g_test_summary("G4/B1 (QEMU test_source_schedule): scheduling does not run "
                   "the BH; one iteration returns TRUE and runs it once; the next "
                   "returns FALSE.");

    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');

    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    qemu_bh_schedule(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 1);

    /* The same through a blocking iteration: the BH is already pending. */
    qemu_bh_schedule(p.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, TRUE));
    g_assert_cmpint(p.runs, ==, 2);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));

    probe_clear(&p);
    loop_clear(&loop);
}

static void
test_classic_schedule10(void)
{
    Loop loop;
    Probe p;

    g_test_summary("G4/B5 (QEMU test_source_schedule10): a BH re-scheduling "
                   "itself until it ran 10 times runs exactly once per iteration.");

    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');
    p.max = 10;

    qemu_bh_schedule(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    for (int i = 1; i <= 10; i++) {
        g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
        g_assert_cmpint(p.runs, ==, i);
    }
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 10);

    probe_clear(&p);
    loop_clear(&loop);
}

static void
test_classic_cancel(void)
{
    gboolean first;
    Loop loop;
    Probe p;

    g_test_summary("B9 (QEMU test_source_cancel): a BH scheduled then cancelled "
                   "does not run from the GLib loop; it can be scheduled again.");

    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');

    qemu_bh_schedule(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    qemu_bh_cancel(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    /* The cancelled BH is still queued (and the schedule's notify is still
     * set), so this iteration may dispatch a pass that only reclaims it and
     * return TRUE with nothing run. Not asserted: no rule fixes it. */
    first = g_main_context_iteration(loop.gctx, FALSE);
    g_test_message("first iteration after cancel returned %s", first ? "TRUE" : "FALSE");
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 0);

    /* Still valid: scheduled again, it runs. */
    qemu_bh_schedule(p.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));

    probe_clear(&p);
    loop_clear(&loop);
}

static void
test_classic_delete(void)
{
    gboolean first;
    Loop loop;
    Probe p, q;

    g_test_summary("B10 (QEMU test_source_delete): a BH scheduled then deleted "
                   "never runs from the GLib loop; deleting a BH never scheduled "
                   "is fine too.");

    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');
    probe_init(&q, loop.ctx, NULL, 'q');

    qemu_bh_schedule(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    qemu_bh_delete(p.bh);
    p.bh = NULL;
    qemu_bh_delete(q.bh);
    q.bh = NULL;
    /* As for cancel: this iteration may reclaim the deleted BHs and return TRUE. */
    first = g_main_context_iteration(loop.gctx, FALSE);
    g_test_message("first iteration after delete returned %s", first ? "TRUE" : "FALSE");
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_cmpint(q.runs, ==, 0);

    loop_clear(&loop);
}

static void
test_classic_delete_from_callback(void)
{
    int tail = 0;
    Loop loop;
    Probe p;

    g_test_summary("B10 (QEMU test_source_bh_delete_from_cb): a BH that "
                   "re-schedules and then deletes itself on its first run runs "
                   "once.");

    loop_init(&loop);
    probe_init(&p, loop.ctx, NULL, 'p');
    p.delete_at = 1;

    qemu_bh_schedule(p.bh);
    g_assert_cmpint(p.runs, ==, 0);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_null(p.bh);
    /* Like QEMU's wait_until_inactive(): the leftover schedule may cost one
     * more (reclaiming) dispatch, which must run nothing. */
    while (g_main_context_iteration(loop.gctx, FALSE))
        g_assert_cmpint(++tail, <=, 1);
    g_assert_cmpint(p.runs, ==, 1);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));

    loop_clear(&loop);
}

static void
test_classic_delete_from_callback_many(void)
{
    static const int max[4] = {1, 3, 2, 4};
    /* runs of each BH after each iteration; -1: deleted by then */
    static const int expect[4][4] = {
        {1, 1, 1, 1},
        {1, 2, 2, 2},
        {1, 3, 2, 3},
        {1, 3, 2, 4},
    };
    int tail = 0;
    Probe p[4];
    Loop loop;

    g_test_summary("B10/B5 (QEMU test_source_bh_delete_from_cb_many): four BHs "
                   "re-scheduling themselves and self-deleting on their 1st, 3rd, "
                   "2nd and 4th runs: one run each per iteration until deleted.");

    loop_init(&loop);
    for (int i = 0; i < 4; i++) {
        probe_init(&p[i], loop.ctx, NULL, 'a' + i);
        p[i].delete_at = max[i];
    }
    for (int i = 0; i < 4; i++)
        qemu_bh_schedule(p[i].bh);

    for (int it = 0; it < 4; it++) {
        g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
        for (int i = 0; i < 4; i++) {
            g_assert_cmpint(p[i].runs, ==, expect[it][i]);
            if (p[i].runs == max[i])
                g_assert_null(p[i].bh);
            else
                g_assert_nonnull(p[i].bh);
        }
    }
    while (g_main_context_iteration(loop.gctx, FALSE))
        g_assert_cmpint(++tail, <=, 1);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(p[i].runs, ==, max[i]);
        g_assert_null(p[i].bh);
    }

    loop_clear(&loop);
}

/* ----------------------------------------------------------------- B14 */

typedef struct {
    GString *log;
    Loop *loop;
    gboolean use_aio_poll;
    gboolean nested_ret;
    QEMUBH *bh;
} Nester;

static void
nester_cb(void *opaque)
{
    Nester *n = opaque;

    g_string_append_c(n->log, '<');
    if (n->use_aio_poll)
        n->nested_ret = aio_poll(n->loop->ctx, false);
    else
        n->nested_ret = g_main_context_iteration(n->loop->gctx, FALSE);
    g_string_append_c(n->log, '>');
}

static void
check_nesting(gboolean use_aio_poll)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Nester n = {.log = log, .use_aio_poll = use_aio_poll};
    Probe before, b, c;
    Loop loop;

    loop_init(&loop);
    n.loop = &loop;
    probe_init(&before, loop.ctx, log, 'a');
    n.bh = aio_bh_new(loop.ctx, nester_cb, &n);
    probe_init(&b, loop.ctx, log, 'b');
    probe_init(&c, loop.ctx, log, 'c');

    qemu_bh_schedule(before.bh);
    qemu_bh_schedule(n.bh);
    qemu_bh_schedule(b.bh);
    qemu_bh_schedule(c.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    /* b and c ran inside the nested call, in FIFO order, once each. */
    g_assert_cmpstr(log->str, ==, "a<bc>");
    g_assert_true(n.nested_ret);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "a<bc>");

    /* Again, with nothing left for the nested call: it makes no progress. */
    qemu_bh_schedule(n.bh);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_cmpstr(log->str, ==, "a<bc><>");
    g_assert_false(n.nested_ret);
    g_assert_false(g_main_context_iteration(loop.gctx, FALSE));

    qemu_bh_delete(n.bh);
    probe_clear(&before);
    probe_clear(&b);
    probe_clear(&c);
    loop_clear(&loop);
}

static void
test_b14_bh_iterating_its_main_context(void)
{
    g_test_summary("B14: a BH dispatched by GLib that calls "
                   "g_main_context_iteration() on the same GMainContext (the "
                   "source can recurse) runs the remaining pending BHs inside, in "
                   "FIFO order, each once.");
    check_nesting(FALSE);
}

static void
test_b14_bh_calling_aio_poll_under_glib(void)
{
    g_test_summary("B14: a BH dispatched by GLib that calls aio_poll(ctx, false) on "
                   "its own context runs the remaining pending BHs inside, in FIFO "
                   "order, each once, and aio_poll returns true.");
    check_nesting(TRUE);
}

/* ------------------------------------------------------------------ I1 */

typedef struct {
    Probe *inner;
    AioContext *inner_ctx;
    AioContext *before, *after;
} Outer;

static void
outer_cb(void *opaque)
{
    Outer *o = opaque;

    o->before = aio_context_get_current();
    qemu_bh_schedule(o->inner->bh);
    g_assert_true(aio_poll(o->inner_ctx, false));
    o->after = aio_context_get_current();
}

static void
test_i1_current_context_inside_glib_dispatch(void)
{
    Recorder idle_rec = {.current = (AioContext *)&idle_rec};
    AioContext *other = gaio_test_context_new();
    GSource *idle;
    Outer o = {0};
    QEMUBH *outer;
    Probe a, inner;
    Loop loop;

    g_test_summary("I1: aio_context_get_current() inside a BH dispatched by GLib "
                   "is that context (the innermost when nested), NULL outside and "
                   "in other GSources of the same iteration.");

    loop_init(&loop);
    probe_init(&a, loop.ctx, NULL, 'a');
    probe_init(&inner, other, NULL, 'i');
    o.inner = &inner;
    o.inner_ctx = other;
    outer = aio_bh_new(loop.ctx, outer_cb, &o);
    idle_rec.once = TRUE;
    idle = ready_source_new(KIND_IDLE, G_PRIORITY_DEFAULT, loop.gctx, &idle_rec);

    g_assert_null(aio_context_get_current());
    qemu_bh_schedule(a.bh);
    qemu_bh_schedule(outer);
    g_assert_true(g_main_context_iteration(loop.gctx, FALSE));
    g_assert_null(aio_context_get_current());

    g_assert_cmpint(a.runs, ==, 1);
    g_assert_true(a.current == loop.ctx);
    g_assert_true(o.before == loop.ctx);
    g_assert_cmpint(inner.runs, ==, 1);
    g_assert_true(inner.current == other);
    g_assert_true(o.after == loop.ctx);
    g_assert_cmpint(idle_rec.runs, ==, 1);
    g_assert_null(idle_rec.current);

    source_clear(&idle);
    qemu_bh_delete(outer);
    probe_clear(&a);
    probe_clear(&inner);
    aio_poll(other, false); /* reclaims inner */
    aio_context_unref(other);
    loop_clear(&loop);
}

/* ------------------------------------------------------------------ C5 */

typedef struct {
    AioContext *ctx;
    gint tid;
    gint entering;
    gboolean result;
} Blocker;

static gpointer
blocker_thread(gpointer data)
{
    Blocker *b = data;

    g_atomic_int_set(&b->tid, (gint)gaio_test_tid());
    g_atomic_int_set(&b->entering, 1);
    b->result = aio_poll(b->ctx, true);
    return NULL;
}

static void
test_c5_aio_poll_refused_while_thread_blocks_in_aio_poll(void)
{
    Blocker b = {0};
    GThread *t;
    Loop loop;

    g_test_summary("C5: while thread T is blocked inside aio_poll(ctx, TRUE), "
                   "aio_poll(ctx, FALSE) from another thread gets a critical and "
                   "returns false; aio_notify() then ends T's poll (no progress).");

    loop_init(&loop);
    b.ctx = loop.ctx;
    t = g_thread_new("blocker", blocker_thread, &b);

    /* Wait until T sleeps: after `entering`, its only blocking call is the
     * poll inside aio_poll(). */
    while (!g_atomic_int_get(&b.entering))
        g_usleep(100);
    gaio_test_wait_until_sleeping(g_atomic_int_get(&b.tid));

    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*already running in another thread*");
    g_assert_false(aio_poll(loop.ctx, false));
    g_test_assert_expected_messages();

    aio_notify(loop.ctx);
    g_thread_join(t);
    g_assert_false(b.result);

    loop_clear(&loop);
}

/* The handshake between the two threads is C11 atomics and spinning, not
 * GMutex/GCond: GLib 2.74's GMutex uses raw futexes, which ThreadSanitizer
 * cannot see, so it would not know that the main thread's reads of
 * `later.runs` happen before the dispatcher's later writes. A lost handshake
 * hangs, and the watchdog of gaio_test_init() fails the test. */
typedef struct {
    Loop *loop;
    atomic_bool inside, go;
    Probe later;
} Dispatcher;

static void
dispatcher_block_cb(void *opaque)
{
    Dispatcher *d = opaque;

    /* Pairs with the main thread's wait for `inside`. */
    atomic_store(&d->inside, true);
    /* Pairs with the main thread's store of `go`, made after its checks. */
    while (!atomic_load(&d->go))
        sched_yield();
}

static gpointer
dispatcher_thread(gpointer data)
{
    Dispatcher *d = data;
    int n = 0;

    /* The first iteration dispatches dispatcher_block_cb; then on until the
     * BH scheduled meanwhile by the main thread ran here. */
    while (d->later.runs == 0) {
        g_main_context_iteration(d->loop->gctx, TRUE);
        g_assert_cmpint(++n, <, 100);
    }
    return NULL;
}

static void
test_c5_aio_poll_refused_while_thread_dispatches_source(void)
{
    Dispatcher d = {0};
    QEMUBH *block;
    GThread *t;
    Loop loop;

    g_test_summary("C5: while thread T runs the context as a GSource (a BH "
                   "dispatched by g_main_context_iteration() in T), aio_poll(ctx, "
                   "FALSE), aio_poll(ctx, TRUE) and aio_bh_poll(ctx) from another "
                   "thread get a critical, return at once and run nothing; T runs "
                   "the pending BH, once.");

    loop_init(&loop);
    d.loop = &loop;
    probe_init(&d.later, loop.ctx, NULL, 'l');
    block = aio_bh_new(loop.ctx, dispatcher_block_cb, &d);

    qemu_bh_schedule(block);
    t = g_thread_new("dispatcher", dispatcher_thread, &d);
    while (!atomic_load(&d.inside))
        sched_yield();

    qemu_bh_schedule(d.later.bh);
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*already running in another thread*");
    g_assert_false(aio_poll(loop.ctx, false));
    g_test_assert_expected_messages();
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*already running in another thread*");
    g_assert_false(aio_poll(loop.ctx, true));
    g_test_assert_expected_messages();
    g_test_expect_message("gaio", G_LOG_LEVEL_CRITICAL, "*already running in another thread*");
    g_assert_cmpint(aio_bh_poll(loop.ctx), ==, 0);
    g_test_assert_expected_messages();
    g_assert_cmpint(d.later.runs, ==, 0);

    atomic_store(&d.go, true);
    g_thread_join(t);
    g_assert_cmpint(d.later.runs, ==, 1);
    g_assert_true(d.later.thread == t);

    qemu_bh_delete(block);
    probe_clear(&d.later);
    loop_clear(&loop);
}

/* A thread that owns a GMainContext without iterating it, as a thread does
 * while g_main_context_invoke() runs a function inline. */
typedef struct {
    GMainContext *gctx;
    /* C11 atomics, not GMutex/GCond: TSan cannot see GLib's futexes. */
    atomic_bool owns, go, still_owner;
} Holder;

static gpointer
holder_thread(gpointer data)
{
    Holder *h = data;

    g_assert_true(g_main_context_acquire(h->gctx));
    atomic_store(&h->owns, true);
    while (!atomic_load(&h->go))
        g_usleep(100);
    atomic_store(&h->still_owner, g_main_context_is_owner(h->gctx));
    g_main_context_release(h->gctx);
    return NULL;
}

static void
test_c5_aio_poll_runs_while_thread_owns_main_context(void)
{
    Holder h = {0};
    Probe probe;
    GThread *t;
    Loop loop;

    g_test_summary("C5: while thread T owns (has acquired, but is not iterating) "
                   "the GMainContext the context is attached to, aio_poll() and "
                   "aio_bh_poll() from another thread run the context without a "
                   "critical: only a thread inside aio_poll(), aio_bh_poll() or the "
                   "GSource callbacks is refused, and finding that out never "
                   "acquires the GMainContext (an acquire would fail here).");

    loop_init(&loop);
    probe_init(&probe, loop.ctx, NULL, 'p');
    h.gctx = loop.gctx;
    t = g_thread_new("holder", holder_thread, &h);
    while (!atomic_load(&h.owns))
        g_usleep(100);

    qemu_bh_schedule(probe.bh);
    g_assert_true(aio_poll(loop.ctx, false));
    g_assert_cmpint(probe.runs, ==, 1);
    qemu_bh_schedule(probe.bh);
    g_assert_true(aio_poll(loop.ctx, true));
    g_assert_cmpint(probe.runs, ==, 2);
    qemu_bh_schedule(probe.bh);
    g_assert_cmpint(aio_bh_poll(loop.ctx), ==, 1);
    g_assert_cmpint(probe.runs, ==, 3);
    g_assert_true(probe.thread == g_thread_self());
    g_assert_false(aio_poll(loop.ctx, false));

    atomic_store(&h.go, true);
    g_thread_join(t);
    g_assert_true(atomic_load(&h.still_owner));

    probe_clear(&probe);
    loop_clear(&loop);
}

/* The reported scenario (issue 7): the main thread loops on
 * aio_poll(qemu_get_aio_context(), true) with a BH always pending, nobody
 * iterates the default GMainContext, and another thread calls
 * g_main_context_invoke(NULL, ...): with no owner, GLib acquires the default
 * context and runs the function inline. */
typedef struct {
    AioContext *ctx;
    QEMUBH *bh;
    GThread *main_thread;
    atomic_bool keep_going; /* the BH reschedules itself while set */
    atomic_uint bh_runs;
    atomic_uint polls;      /* aio_poll() calls returned in the main thread */
    atomic_uint invoked;    /* invoked functions that ran (inline) */
    atomic_uint stray;      /* ... that ran elsewhere than inline */
    atomic_bool done;       /* the invoking thread made all its calls */
    unsigned n_invokes;
    unsigned hold_polls;    /* an invoked function returns after this many polls */
} InvokeRace;

static void
invoke_race_bh(void *opaque)
{
    InvokeRace *r = opaque;

    atomic_fetch_add(&r->bh_runs, 1);
    if (atomic_load(&r->keep_going))
        qemu_bh_schedule(r->bh);
}

static gboolean
invoke_race_fn(gpointer data)
{
    InvokeRace *r = data;

    /* Inline: in the invoking thread, which owns the default context now. */
    if (g_thread_self() == r->main_thread || !g_main_context_is_owner(NULL))
        atomic_fetch_add(&r->stray, 1);
    /* Holding the default context, wait for the main thread's aio_poll(). */
    if (r->hold_polls > 0)
        g_assert_true(gaio_test_wait_within(&r->polls,
                                            atomic_load(&r->polls) + r->hold_polls,
                                            10 * G_TIME_SPAN_SECOND));
    atomic_fetch_add(&r->invoked, 1);
    return G_SOURCE_REMOVE;
}

static gpointer
invoke_race_thread(gpointer data)
{
    InvokeRace *r = data;

    for (unsigned i = 0; i < r->n_invokes; i++)
        g_main_context_invoke(NULL, invoke_race_fn, r);
    atomic_store(&r->done, true);
    return NULL;
}

/* Criticals of gaio's domain, counted instead of aborting (so a failure
 * reports how many, as the issue did). */
static atomic_uint gaio_criticals;

static gboolean
count_gaio_criticals_not_fatal(const char *domain, GLogLevelFlags level, const char *message,
                               gpointer data)
{
    return g_strcmp0(domain, "gaio") != 0;
}

static void
count_gaio_critical(const char *domain, GLogLevelFlags level, const char *message,
                    gpointer data)
{
    atomic_fetch_add(&gaio_criticals, 1);
}

/* Runs the race: the main thread polls until the invoking thread made all its
 * calls and at least @min_polls polls returned; then stops the BH and leaves
 * the default context with nothing to do. Returns the aio_poll() calls that
 * returned false. */
static unsigned
invoke_race_run(InvokeRace *r, unsigned n_invokes, unsigned hold_polls, unsigned min_polls)
{
    unsigned no_progress = 0;
    GThread *t;
    int n = 0;

    memset(r, 0, sizeof *r);
    r->ctx = qemu_get_aio_context();
    r->main_thread = g_thread_self();
    r->n_invokes = n_invokes;
    r->hold_polls = hold_polls;
    atomic_store(&r->keep_going, true);
    /* Leftovers of earlier tests, while this thread may still iterate. */
    while (g_main_context_iteration(NULL, FALSE))
        g_assert_cmpint(++n, <, 1000);
    g_assert_false(g_main_context_pending(NULL));

    r->bh = aio_bh_new(r->ctx, invoke_race_bh, r);
    qemu_bh_schedule(r->bh);
    t = g_thread_new("invoker", invoke_race_thread, r);
    while (!atomic_load(&r->done) || atomic_load(&r->polls) < min_polls) {
        if (!aio_poll(r->ctx, true))
            no_progress++;
        atomic_fetch_add(&r->polls, 1);
    }
    g_thread_join(t);

    /* The BH's last run does not reschedule it; then reclaim it. */
    atomic_store(&r->keep_going, false);
    if (!aio_poll(r->ctx, false))
        no_progress++;
    qemu_bh_delete(r->bh);
    aio_poll(r->ctx, false);
    return no_progress;
}

static void
test_c5_aio_poll_on_uniterated_default_context_never_criticals(void)
{
    InvokeRace r;
    unsigned no_progress;

    g_test_summary("C5: aio_poll() on a context whose GMainContext no thread "
                   "iterates never gets a critical, even while another thread owns "
                   "that GMainContext (here: the default one, acquired by "
                   "g_main_context_invoke() to run a function inline, which waits "
                   "for the main thread's aio_poll() calls). Each call runs the "
                   "pending BH.");

    no_progress = invoke_race_run(&r, gaio_test_scale(50), 3, 0);
    /* A critical aborts before this (G_DEBUG=fatal-warnings). */
    g_assert_cmpuint(no_progress, ==, 0);
    g_assert_cmpuint(atomic_load(&r.stray), ==, 0);
    g_assert_cmpuint(atomic_load(&r.invoked), ==, r.n_invokes);
    g_assert_cmpuint(atomic_load(&r.bh_runs), ==, atomic_load(&r.polls) + 1);
    g_assert_cmpuint(atomic_load(&r.polls), >=, 3 * r.n_invokes);
    g_assert_false(g_main_context_pending(NULL));
}

static void
test_c5_invoke_on_default_context_runs_inline_while_aio_poll_loops(void)
{
    InvokeRace r;
    unsigned no_progress, invoked_after_loop, criticals, pending;
    guint handler;

    g_test_summary("C5: gaio never acquires a GMainContext it does not own: while "
                   "the main thread loops on aio_poll(qemu_get_aio_context(), TRUE) "
                   "and nobody iterates the default GMainContext, every "
                   "g_main_context_invoke(NULL, ...) from another thread runs its "
                   "function inline (none is queued to the never-iterated default "
                   "context), every aio_poll() runs the pending BH, and no critical "
                   "is raised.");

    atomic_store(&gaio_criticals, 0);
    g_test_log_set_fatal_handler(count_gaio_criticals_not_fatal, NULL);
    handler = g_log_set_handler("gaio",
                                G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                                count_gaio_critical, NULL);

    no_progress = invoke_race_run(&r, gaio_test_scale(100000), 0, gaio_test_scale(1000));
    /* Read at once: what ran inline ran before its invoke returned. */
    invoked_after_loop = atomic_load(&r.invoked);

    g_log_remove_handler("gaio", handler);
    g_test_log_set_fatal_handler(NULL, NULL);
    criticals = atomic_load(&gaio_criticals);
    /* Nothing ready on the default context: not the AioContext (its BH is
     * gone, its notify accepted), and no invoke left queued as an idle
     * source. */
    pending = g_main_context_pending(NULL);
    g_test_message("%u invokes, %u ran inline; %u aio_poll() calls, %u ran nothing; "
                   "%u criticals; default context pending: %s",
                   r.n_invokes, invoked_after_loop, atomic_load(&r.polls), no_progress,
                   criticals, pending ? "yes" : "no");
    if (pending) {
        /* Run what was queued, so later tests start clean. */
        int n = 0;

        while (g_main_context_iteration(NULL, FALSE))
            g_assert_cmpint(++n, <, 1000000);
    }

    g_assert_cmpuint(criticals, ==, 0);
    g_assert_cmpuint(no_progress, ==, 0);
    g_assert_cmpuint(invoked_after_loop, ==, r.n_invokes);
    g_assert_cmpuint(atomic_load(&r.stray), ==, 0);
    g_assert_false(pending);
    g_assert_cmpuint(atomic_load(&r.bh_runs), ==, atomic_load(&r.polls) + 1);
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);

    g_test_add_func("/gsource/G1/runs-bhs-from-attached-main-context",
                    test_g1_runs_bhs_from_attached_main_context);
    g_test_add_func("/gsource/G1/priority-is-default-unless-set",
                    test_g1_priority_default_unless_set);
    for (int k = KIND_IDLE; k <= KIND_CUSTOM; k++) {
        g_autofree char *higher = g_strdup_printf(
            "/gsource/G1/higher-priority-ready-source-dispatches-first/%s", kind_names[k]);
        g_autofree char *same = g_strdup_printf(
            "/gsource/G1/same-priority-ready-source-dispatches-in-same-iteration/%s",
            kind_names[k]);
        g_autofree char *lower = g_strdup_printf(
            "/gsource/G1/lower-priority-ready-source-waits-for-later-iteration/%s",
            kind_names[k]);
        g_autofree char *high_ctx = g_strdup_printf(
            "/gsource/G1/context-at-high-priority-runs-before-default-source/%s",
            kind_names[k]);

        g_test_add_data_func(higher, GINT_TO_POINTER(k), test_g1_higher_priority_source_first);
        g_test_add_data_func(same, GINT_TO_POINTER(k),
                             test_g1_same_priority_source_same_iteration);
        g_test_add_data_func(lower, GINT_TO_POINTER(k), test_g1_lower_priority_source_waits);
        g_test_add_data_func(high_ctx, GINT_TO_POINTER(k),
                             test_g1_context_at_high_priority_runs_first);
    }
    g_test_add_func("/gsource/G1/mixed-sources-dispatch-by-priority",
                    test_g1_mixed_sources_by_priority);

    g_test_add_func("/gsource/C3/default-context-same-pointer-from-two-threads",
                    test_c3_default_context_same_from_two_threads);
    g_test_add_func("/gsource/C3/qemu-bh-new-runs-from-default-main-context",
                    test_c3_qemu_bh_new_runs_from_default_main_context);

    g_test_add_func("/gsource/G2/prepare-ready-with-zero-timeout-when-bh-pending",
                    test_g2_ready_with_zero_timeout_when_bh_pending);
    g_test_add_func("/gsource/G2/prepare-timeout-at-most-10ms-when-only-idle-bh-pending",
                    test_g2_timeout_at_most_10ms_when_only_idle_bh_pending);
    g_test_add_func("/gsource/G2/prepare-timeout-infinite-when-nothing-pending",
                    test_g2_timeout_infinite_when_nothing_pending);

    g_test_add_func("/gsource/G3/deleted-bh-is-not-readiness",
                    test_g3_deleted_bh_is_not_readiness);
    g_test_add_func("/gsource/G3/cancelled-bh-is-not-readiness",
                    test_g3_cancelled_bh_is_not_readiness);
    g_test_add_func("/gsource/G3/leftovers-before-pending-bh-add-no-dispatch",
                    test_g3_leftovers_behind_pending_bh);
    g_test_add_func("/gsource/G3/one-iteration-runs-pending-bhs-in-fifo-order",
                    test_g3_one_iteration_runs_pending_bhs_in_fifo_order);
    g_test_add_func("/gsource/G3/idle-bh-runs-in-blocking-iteration-within-10ms",
                    test_g3_idle_bh_runs_in_blocking_iteration);
    g_test_add_func("/gsource/G4/rescheduling-bh-runs-once-per-iteration-fairly",
                    test_g4_rescheduling_bh_once_per_iteration_fairly);

    g_test_add_func("/gsource/G5/wakes-blocked-iteration-from-thread",
                    test_g5_wakes_blocked_iteration_from_thread);
    g_test_add_func("/gsource/G5/wakes-blocked-iteration-from-thread-many-rounds",
                    test_g5_wakes_blocked_iteration_many_rounds);
    g_test_add_func("/gsource/G5/aio-notify-wakes-blocked-iteration",
                    test_g5_aio_notify_wakes_blocked_iteration);


    g_test_add_func("/gsource/G4/classic/schedule", test_classic_schedule);
    g_test_add_func("/gsource/G4/classic/schedule10", test_classic_schedule10);
    g_test_add_func("/gsource/B9/classic/cancel", test_classic_cancel);
    g_test_add_func("/gsource/B10/classic/delete", test_classic_delete);
    g_test_add_func("/gsource/B10/classic/delete-from-callback",
                    test_classic_delete_from_callback);
    g_test_add_func("/gsource/B10/classic/delete-from-callback-many",
                    test_classic_delete_from_callback_many);

    g_test_add_func("/gsource/B14/bh-iterating-its-main-context-runs-remaining-bhs",
                    test_b14_bh_iterating_its_main_context);
    g_test_add_func("/gsource/B14/bh-calling-aio-poll-under-glib-runs-remaining-bhs",
                    test_b14_bh_calling_aio_poll_under_glib);

    g_test_add_func("/gsource/I1/current-context-inside-glib-dispatch",
                    test_i1_current_context_inside_glib_dispatch);

    g_test_add_func("/gsource/C5/aio-poll-refused-while-thread-blocks-in-aio-poll",
                    test_c5_aio_poll_refused_while_thread_blocks_in_aio_poll);
    g_test_add_func("/gsource/C5/aio-poll-refused-while-thread-dispatches-source",
                    test_c5_aio_poll_refused_while_thread_dispatches_source);
    g_test_add_func("/gsource/C5/aio-poll-runs-while-another-thread-owns-main-context",
                    test_c5_aio_poll_runs_while_thread_owns_main_context);
    g_test_add_func("/gsource/C5/aio-poll-on-uniterated-default-context-never-criticals",
                    test_c5_aio_poll_on_uniterated_default_context_never_criticals);
    g_test_add_func("/gsource/C5/invoke-on-default-context-runs-inline-while-aio-poll-loops",
                    test_c5_invoke_on_default_context_runs_inline_while_aio_poll_loops);

    return g_test_run();
}
