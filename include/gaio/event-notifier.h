/* event-notifier.h: EventNotifier, an eventfd that one side sets and the
 * other tests and clears (QEMU's spelling and semantics).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <stdbool.h>
#include <glib.h>

#include <gaio/gaio-version-macros.h>

G_BEGIN_DECLS

/**
 * EventNotifier:
 *
 * A level-triggered flag with a file descriptor: event_notifier_set() makes
 * the fd readable until event_notifier_test_and_clear(). A plain struct, so
 * callers embed it in their own structs, as QEMU code does. Its fields are
 * private.
 */
typedef struct _EventNotifier {
    /*< private >*/
    int rfd;
    int wfd;
    bool initialized;
} EventNotifier;

/**
 * event_notifier_init:
 * @e: the notifier to set up
 * @active: whether it starts set
 *
 * Opens the notifier's eventfd (non-blocking, close-on-exec).
 *
 * Thread-safe.
 *
 * Returns: 0, or a negative errno (-EMFILE when out of file descriptors)
 */
GAIO_AVAILABLE_IN_ALL
int event_notifier_init(EventNotifier *e, int active);

/**
 * event_notifier_cleanup:
 * @e: a notifier
 *
 * Closes the notifier's fd. Remove it from every context first
 * (aio_set_event_notifier() with %NULL callbacks). Cleaning up a notifier that
 * was never initialized, or twice, does nothing.
 *
 * Thread-safe.
 */
GAIO_AVAILABLE_IN_ALL
void event_notifier_cleanup(EventNotifier *e);

/**
 * event_notifier_set:
 * @e: a notifier
 *
 * Sets the notifier: its fd becomes readable. Setting a set notifier keeps
 * it set.
 *
 * Thread-safe; async-signal-safe.
 *
 * Returns: 0, or a negative errno
 */
GAIO_AVAILABLE_IN_ALL
int event_notifier_set(EventNotifier *e);

/**
 * event_notifier_test_and_clear:
 * @e: a notifier
 *
 * Clears the notifier and says whether it was set. Never blocks.
 *
 * Thread-safe.
 *
 * Returns: nonzero if the notifier was set
 */
GAIO_AVAILABLE_IN_ALL
int event_notifier_test_and_clear(EventNotifier *e);

/**
 * event_notifier_get_fd:
 * @e: a notifier
 *
 * Thread-safe; async-signal-safe.
 *
 * Returns: the fd to poll for readability, or -1 if @e is not initialized
 */
GAIO_AVAILABLE_IN_ALL
int event_notifier_get_fd(const EventNotifier *e);

G_END_DECLS
