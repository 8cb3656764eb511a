/* src/os/linux_eventfd.c - the pollable flag of weft_queue_fd and weft_future_fd: an eventfd
 * whose counter is 0 (not readable) or non-zero (readable). The caller keeps the state under
 * its own lock, so raise and lower are each called only on a change. */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/error.h>

#include "os/os.h"

int weft__os_eventfd_new(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd >= 0) return fd;
    return errno == EMFILE || errno == ENFILE ? WEFT_EAGAIN : WEFT_ENOMEM;
}

void weft__os_eventfd_raise(int fd)
{
    uint64_t one = 1;
    /* Cannot fail on a valid eventfd far below its 2^64 - 2 limit (we add 1 per lowering). */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void weft__os_eventfd_lower(int fd)
{
    uint64_t v;
    /* EAGAIN: already 0 (a caller read it, against the headers' advice); nothing to do. */
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

void weft__os_close(int fd)
{
    if (fd >= 0) close(fd);
}
