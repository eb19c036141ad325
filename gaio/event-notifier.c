/* event-notifier.c: EventNotifier on an eventfd (SPEC section 5).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gaio/gaio.h>

int
event_notifier_init(EventNotifier *e, int active)
{
    int fd;

    g_return_val_if_fail(e != NULL, -EINVAL);

    fd = eventfd(active ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        e->rfd = e->wfd = -1;
        e->initialized = false;
        return -errno;
    }
    /* One eventfd is both ends, as in QEMU. */
    e->rfd = e->wfd = fd;
    e->initialized = true;
    return 0;
}

void
event_notifier_cleanup(EventNotifier *e)
{
    g_return_if_fail(e != NULL);

    if (!e->initialized)
        return;
    close(e->rfd);
    e->rfd = e->wfd = -1;
    e->initialized = false;
}

int
event_notifier_set(EventNotifier *e)
{
    static const uint64_t one = 1;
    int saved_errno = errno; /* a signal handler must not change it */
    int ret = 0;

    g_return_val_if_fail(e != NULL, -EINVAL);
    g_return_val_if_fail(e->initialized, -EBADF);

    while (write(e->wfd, &one, sizeof(one)) != sizeof(one)) {
        /* EAGAIN: the counter is saturated, so the notifier is set already. */
        if (errno == EAGAIN)
            break;
        if (errno != EINTR) {
            ret = -errno;
            break;
        }
    }
    errno = saved_errno;
    return ret;
}

int
event_notifier_test_and_clear(EventNotifier *e)
{
    uint64_t value;
    ssize_t r;

    g_return_val_if_fail(e != NULL, 0);
    g_return_val_if_fail(e->initialized, 0);

    do
        r = read(e->rfd, &value, sizeof(value));
    while (r < 0 && errno == EINTR);
    return r == sizeof(value) && value != 0;
}

int
event_notifier_get_fd(const EventNotifier *e)
{
    g_return_val_if_fail(e != NULL, -1);

    return e->initialized ? e->rfd : -1;
}
