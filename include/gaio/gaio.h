/* gaio.h: the only header users include.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define GAIO_INSIDE

#include <gaio/gaio-version.h>
#include <gaio/gaio-version-macros.h>
#include <gaio/aio-context.h>
#include <gaio/bh.h>
#include <gaio/event-notifier.h>
#include <gaio/fd-handler.h>
#include <gaio/timer.h>
#include <gaio/iothread.h>
#include <gaio/wait.h>
#include <gaio/thread-pool.h>

#undef GAIO_INSIDE
