/* src/core/lock.c - slow paths of the internal mutex (see lock.h for the protocol), and the
 * holder tag and assertion failure of debug builds (core/assert.h). */
#include <stdio.h>
#include <stdlib.h>

#include "core/lock.h"
#include "os/os.h"

/* About a microsecond of spinning: longer than a wait-queue critical section, far shorter
 * than a futex sleep and wake (tens of microseconds on a VM). */
#define LOCK_SPINS 100

void weft__lock_slow(weft__lock *l)
{
    for (int i = 0; i < LOCK_SPINS; i++) {
        uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
        /* (acquire records the owner, and tells valgrind, after us) */
        if (w == 0 && atomic_compare_exchange_strong_explicit(&l->word, &w, 1, memory_order_acquire,
                                                              memory_order_relaxed))
            return;
        if (w == 2) break; /* others already sleep: queue up behind them */
        weft__os_relax();
    }
    /* Mark "locked with sleepers" on every attempt: whoever takes the lock here cannot know
     * whether other sleepers remain, so it must wake one on release. */
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
        weft__os_futex_wait(&l->word, 2, WEFT_FOREVER);
}

void weft__unlock_slow(weft__lock *l)
{
    weft__os_futex_wake(&l->word, 1);
}

#ifdef WEFT_DEBUG
static _Thread_local char self_tag;

uintptr_t weft__lock_self(void)
{
    return (uintptr_t)&self_tag;
}

_Noreturn void weft__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "weft: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
#endif
