/* test-hooks.c: the pause hook of the test-hooks library (test-hooks-private.h).
 * Only built into gaio-test-hooks, never into the installed library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "test-hooks-private.h"

GaioPauseHook _Atomic gaio_test_pause_hook;
atomic_int gaio_test_fault_errno[GAIO_FAULT_N_POINTS];
