/* test-context.c: AioContext life (SPEC C1-C4), smoke level for now. */
#include "gaio-test.h"

static void
count_cb(void *opaque)
{
    (*(int *)opaque)++;
}

static void
test_smoke(void)
{
    AioContext *ctx = gaio_test_context_new();
    int runs = 0;
    QEMUBH *bh = aio_bh_new(ctx, count_cb, &runs);

    qemu_bh_schedule(bh);
    qemu_bh_schedule(bh);
    g_assert_cmpint(runs, ==, 0);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(runs, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    qemu_bh_delete(bh);
    g_assert_false(aio_poll(ctx, false));
    aio_context_unref(ctx);
}

int
main(int argc, char **argv)
{
    gaio_test_init(&argc, &argv);
    g_test_add_func("/context/smoke", test_smoke);
    return g_test_run();
}
