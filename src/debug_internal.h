/* src/debug_internal.h - the lock-order checker's hooks, called by sync/lock.c.
 *
 * weft__lock_order is the mode (WEFT_LOCK_ORDER_OFF / REPORT / ABORT of weft/debug.h). When it
 * is off, a lock's paths pay one relaxed load and one predictable branch; when on, they tell
 * debug.c each acquisition and release of a weft_lock by the calling thread.
 */
#ifndef WEFT_DEBUG_INTERNAL_H
#define WEFT_DEBUG_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

extern _Atomic int weft__lock_order;

static inline bool weft__lock_order_on(void)
{
    /* relaxed: a switch, read on every lock operation; no data hangs on it. */
    return __builtin_expect(atomic_load_explicit(&weft__lock_order, memory_order_relaxed), 0);
}

/* The calling thread took lock (checked: may report an inversion) / tried and took it (a try
 * cannot deadlock: pushed, not checked) / released it. */
void weft__lock_order_acquired(const void *lock, bool tried);
void weft__lock_order_released(const void *lock);

#endif
