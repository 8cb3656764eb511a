/* src/os/linux_futex.c - futex wait/wake and the monotonic clock on Linux.
 *
 * Waits use FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline, so a retry after a
 * spurious wake-up passes the same deadline again instead of recomputing a relative timeout.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <limits.h>

#include "os/os.h"
#include <weft/error.h>

static int futex_wait(_Atomic uint32_t *word, uint32_t expected, weft_ns deadline, int flags)
{
    struct timespec ts, *tsp = NULL;
    if (deadline != WEFT_FOREVER) {
        if (deadline < 0) deadline = 0;
        ts.tv_sec = (time_t)(deadline / 1000000000);
        ts.tv_nsec = (long)(deadline % 1000000000);
        tsp = &ts;
    }
    int saved = errno;
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | flags, expected, tsp, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    int err = errno;
    errno = saved;
    if (r == -1 && err == ETIMEDOUT) return WEFT_ETIMEDOUT;
    return 0; /* woken, EAGAIN (value differed) or EINTR: the caller re-checks its word */
}

int weft__os_futex_wait(_Atomic uint32_t *word, uint32_t expected, weft_ns deadline)
{
    return futex_wait(word, expected, deadline, FUTEX_PRIVATE_FLAG);
}

int weft__os_futex_wait_shared(_Atomic uint32_t *word, uint32_t expected, weft_ns deadline)
{
    return futex_wait(word, expected, deadline, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n, int flags)
{
    int saved = errno;
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | flags, n, NULL, NULL, 0);
    errno = saved;
}

void weft__os_futex_wake(_Atomic uint32_t *word, int n)
{
    futex_wake(word, n, FUTEX_PRIVATE_FLAG);
}

void weft__os_futex_wake_shared(_Atomic uint32_t *word, int n)
{
    futex_wake(word, n, 0);
}

weft_ns weft__os_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (weft_ns)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
