/* bench-timers.c: timer lateness and the cost of arming and deleting a timer
 * among many (SPEC T2, T3, section 7, issue #8).
 *
 *  - lateness: bench_options.timer_samples timers, one at a time, on an
 *    otherwise idle loop. Each is armed for a deadline 100–900 µs ahead (a
 *    whole microsecond on CLOCK_MONOTONIC, drawn from a PRNG seeded alike
 *    for every implementation, so all get the same deadlines), then the loop
 *    is iterated, blocking, until its callback ran. Lateness = the time the
 *    callback read on entry (bench_loop_ran() with loop->stamp) − the
 *    deadline. p50 and p99 of each repetition, in µs, and the share of
 *    timers that fired before their deadline (an API in milliseconds can
 *    say no better).
 *  - arm + delete: N timers armed at random deadlines 1,000–2,000 s ahead
 *    (they never fire), then rounds of: arm one more timer at a deadline
 *    drawn from the same range, delete it. ns per arm + delete, which
 *    should not depend on N (O(log n) at worst). Nothing iterates the loop.
 *    In a binary heap that is the cheap case (the new timer stays near the
 *    bottom and leaves from there), so a second figure moves one of the N,
 *    picked at random, to a new random deadline: it leaves a random place
 *    and lands in another, O(log n) steps through a heap larger than the
 *    caches.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-private.h"

#define LATENESS_AHEAD_MIN_US 100
#define LATENESS_AHEAD_MAX_US 900
/* Iterations without the callback before a lateness sample gives up: a
 * blocking iteration may end early with nothing to run (P2), but not often. */
#define LATENESS_MAX_ITERATIONS 1000
#define TIMERS_SEED 8

#define ARM_FAR_NS (G_GINT64_CONSTANT(1000) * 1000000000)
/* Deadlines a round arms its timer at, in turn. */
#define ARM_DEADLINES 1024

/* --- lateness ----------------------------------------------------------- */

typedef struct {
    BenchLoop *loop;
    GRand *rand;
} LatenessState;

static void *
lateness_setup(const BenchImpl *impl, unsigned unused)
{
    LatenessState *state = g_new0(LatenessState, 1);

    state->loop = impl->loop_new(impl, 1);
    state->loop->stamp = true;
    state->rand = g_rand_new_with_seed(TIMERS_SEED);
    return state;
}

/* Arms a timer for a deadline 100–900 µs ahead, runs the loop until its
 * callback ran, and returns how late that was, in ns. */
static double
lateness_one(LatenessState *state)
{
    BenchLoop *loop = state->loop;
    unsigned long runs = bench_loop_runs(loop);
    int64_t ahead_us =
        g_rand_int_range(state->rand, LATENESS_AHEAD_MIN_US, LATENESS_AHEAD_MAX_US + 1);
    int64_t now = bench_now_ns();
    int64_t deadline = (now / 1000 + ahead_us) * 1000;

    loop->impl->timer_arm(loop, now, deadline);
    for (unsigned i = 0; bench_loop_runs(loop) == runs; i++) {
        if (i == LATENESS_MAX_ITERATIONS)
            g_error("%s: a timer did not fire", loop->impl->name);
        loop->impl->iterate(loop, true);
    }
    return (double)(atomic_load_explicit(&loop->ran_at_ns, memory_order_relaxed) -
                    deadline);
}

static void
lateness_sample(void *data, double *values)
{
    LatenessState *state = data;
    unsigned n = bench_options.timer_samples, early = 0;
    g_autofree double *lateness = g_new(double, n);

    for (unsigned i = 0; i < n; i++) {
        lateness[i] = lateness_one(state);
        early += lateness[i] < 0;
    }
    bench_sort(lateness, n);
    values[0] = bench_percentile(lateness, n, 0.50) / 1000;
    values[1] = bench_percentile(lateness, n, 0.99) / 1000;
    values[2] = (double)early / n;
}

static void
lateness_teardown(void *data)
{
    LatenessState *state = data;

    bench_loop_free(state->loop);
    g_rand_free(state->rand);
    g_free(state);
}

static const BenchMetric lateness_metrics[] = {
    {"p50", "us"},
    {"p99", "us"},
    {"early", "share"},
};

BenchWorkload
bench_timer_lateness_workload(unsigned unused)
{
    return (BenchWorkload){
        .name = BENCH_W_TIMER_LATENESS,
        .param = "",
        .implementations = BENCH_TIMERS,
        .n_metrics = G_N_ELEMENTS(lateness_metrics),
        .metrics = lateness_metrics,
        .setup = lateness_setup,
        .sample = lateness_sample,
        .teardown = lateness_teardown,
    };
}

/* --- arm + delete ------------------------------------------------------- */

typedef struct {
    BenchRounds arm;  /* arm + delete */
    BenchRounds move; /* move one of the N */
    BenchLoop *loop;
    unsigned n;
    int64_t now; /* when the deadlines were drawn */
    int64_t deadlines[ARM_DEADLINES];
    uint64_t move_rand; /* xorshift64 state of the move rounds */
} ArmState;

static int64_t
arm_far_deadline(GRand *rand, int64_t now)
{
    return now + ARM_FAR_NS + (int64_t)(g_rand_double(rand) * ARM_FAR_NS);
}

static void
arm_round(void *data, uint64_t r)
{
    ArmState *state = data;
    BenchLoop *loop = state->loop;

    loop->impl->timer_arm(loop, state->now, state->deadlines[r % ARM_DEADLINES]);
    loop->impl->timer_cancel(loop);
}

/* Any of the N, to any deadline: a table would let a long sample touch only
 * its entries, which then stay in the caches. xorshift64: a few cycles, the
 * same for every implementation. */
static void
move_round(void *data, uint64_t unused)
{
    ArmState *state = data;
    BenchLoop *loop = state->loop;
    uint64_t x = state->move_rand;
    unsigned i;
    int64_t deadline;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state->move_rand = x;
    i = (unsigned)(((x >> 32) * state->n) >> 32);
    deadline = state->now + ARM_FAR_NS + (int64_t)(x & 0xffffffffu) * (ARM_FAR_NS >> 32);
    loop->impl->timer_move(loop, i, state->now, deadline);
}

static void *
arm_setup(const BenchImpl *impl, unsigned n)
{
    ArmState *state = g_new0(ArmState, 1);
    g_autoptr(GRand) rand = g_rand_new_with_seed(TIMERS_SEED);
    g_autofree int64_t *others = g_new(int64_t, MAX(n, 1));

    state->loop = impl->loop_new(impl, n + 1);
    state->n = n;
    state->now = bench_now_ns();
    for (unsigned i = 0; i < n; i++)
        others[i] = arm_far_deadline(rand, state->now);
    impl->timers_add(state->loop, n, state->now, others);
    for (unsigned i = 0; i < ARM_DEADLINES; i++)
        state->deadlines[i] = arm_far_deadline(rand, state->now);
    state->move_rand = TIMERS_SEED;
    state->arm = (BenchRounds){.round = arm_round, .data = state, .per_round = 1};
    bench_rounds_calibrate(&state->arm);
    state->move = (BenchRounds){.round = move_round, .data = state, .per_round = 1};
    if (n > 0)
        bench_rounds_calibrate(&state->move);
    return state;
}

static void
arm_sample(void *data, double *values)
{
    ArmState *state = data;

    values[0] = bench_rounds_sample(&state->arm);
    values[1] = state->n > 0 ? bench_rounds_sample(&state->move) : 0;
}

static void
arm_teardown(void *data)
{
    ArmState *state = data;

    bench_loop_free(state->loop);
    g_free(state);
}

static const BenchMetric arm_metrics[] = {
    {"ns per arm+delete", "ns"},
    {"ns per move", "ns"},
};

BenchWorkload
bench_timer_arm_workload(unsigned n)
{
    return (BenchWorkload){
        .name = BENCH_W_TIMER_ARM,
        .param = bench_param("N", n),
        .implementations = BENCH_TIMER_ARM,
        .n_metrics = G_N_ELEMENTS(arm_metrics),
        .metrics = arm_metrics,
        .arg = n,
        .setup = arm_setup,
        .sample = arm_sample,
        .teardown = arm_teardown,
    };
}
