/* fd-handler-private.h: the fd handlers of a context (fd-handler.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>

#include <glib.h>

#include "fdmon-private.h"

typedef struct AioHandler AioHandler;

/* A context's handlers. `lock` guards the table, the lists and `walkers`;
 * a handler's callbacks never change once it is registered (replacing one
 * makes a new handler), so a pass reads them without the lock. */
typedef struct {
    pthread_mutex_t lock; /* not a GMutex: ThreadSanitizer sees this one */
    GHashTable *by_fd;       /* fd -> AioHandler */
    AioHandler *always_ready; /* fds the monitor refused (regular files, F3) */
    AioHandler *deleted;      /* removed while a pass walked: freed after it */
    unsigned walkers;         /* passes in progress (nesting, several threads) */
    uint64_t passes;          /* passes begun, numbering them (F1) */
    atomic_uint n_monitored;  /* handlers the monitor watches */
    atomic_uint n_always_ready;
    /* Ready events the passes looked at: what the structural cost tests
     * count (G6). Context thread only. */
    uint64_t visits;
} AioHandlers;

void aio_handlers_init(AioContext *ctx);
/* Frees every handler (C4); the monitor is closed by the caller. */
void aio_handlers_finalize(AioContext *ctx);

/* Context thread only. True if some handler is ready without polling
 * (always-ready fds): the context must not sleep. */
bool aio_handlers_always_ready(AioContext *ctx);

/* Context thread only. True if the monitor watches user handlers, so a pass
 * that did not sleep must still ask it what is ready. */
bool aio_handlers_monitored(AioContext *ctx);

/* Context thread only: the handlers part of a pass. @monitor_ready: the
 * monitor's fd was seen readable (or was not polled: then collect anyway if
 * handlers are monitored). Runs ready handlers' callbacks; timer watches are
 * handed to timers_fired(). True if a handler's callback ran (P1). */
bool aio_handlers_pass(AioContext *ctx, bool monitor_ready);
