/* src/core/lock.h - weft's internal mutex: the short lock that guards wait queues and tables.
 *
 * One 32-bit word: 0 unlocked, 1 locked, 2 locked with sleepers (Drepper, "Futexes are
 * tricky", mutex 3). Critical sections under it are a few dozen instructions, so a contender
 * spins briefly before it sleeps on the futex. It is not a cancellation point and has no
 * timeout: it is never held across a wait. The public weft_lock (sync module) is a different
 * object built on the parking lot, with timeouts and cancellation.
 *
 * All-zero is unlocked, so a static or calloc'ed weft__lock needs no init.
 *
 * Under valgrind each acquisition and release is announced to helgrind and DRD as a lock's
 * (core/annotate.h); elsewhere that costs a load and a predictable branch.
 *
 * Debug builds (WEFT_DEBUG, core/assert.h) also record the holder, so that a function that
 * must run under a lock can say so: WEFT__ASSERT(weft__lock_held(&q->lock)). Release builds
 * keep the one word and never evaluate the assertion.
 */
#ifndef WEFT_INTERNAL_LOCK_H
#define WEFT_INTERNAL_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/annotate.h"
#include "core/assert.h"

typedef struct weft__lock {
    _Atomic uint32_t word;
#ifdef WEFT_DEBUG
    _Atomic uintptr_t owner; /* the holder's weft__lock_self(), 0 when free (debug builds) */
#endif
} weft__lock;

/* clang-format off */
#define WEFT__LOCK_INIT {0}
/* clang-format on */

void weft__lock_slow(weft__lock *l);
void weft__unlock_slow(weft__lock *l);

#ifdef WEFT_DEBUG
/* A tag unique to the calling thread among live threads (the address of a thread-local). */
uintptr_t weft__lock_self(void);
/* relaxed: only the holder writes owner, and only the holder's own reads must see its own
 * writes; another thread's read may see any value but its own tag. */
#define WEFT__LOCK_OWN(l, who) atomic_store_explicit(&(l)->owner, (who), memory_order_relaxed)
/* Whether the calling thread holds l. */
static inline int weft__lock_held(weft__lock *l)
{
    return atomic_load_explicit(&l->owner, memory_order_relaxed) == weft__lock_self();
}
#else
#define WEFT__LOCK_OWN(l, who) ((void)0)
/* Release builds know only that someone holds l (used inside WEFT__ASSERT: never evaluated). */
static inline int weft__lock_held(weft__lock *l)
{
    return atomic_load_explicit(&l->word, memory_order_relaxed) != 0;
}
#endif

static inline void weft__lock_acquire(weft__lock *l)
{
    uint32_t zero = 0;
    /* acquire: pairs with the release in weft__lock_release. */
    if (!atomic_compare_exchange_strong_explicit(&l->word, &zero, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        weft__lock_slow(l);
    WEFT__LOCK_OWN(l, weft__lock_self());
    if (WEFT__VG_ON()) weft__vg_locked(l); /* a lock to helgrind and DRD (core/annotate.h) */
}

static inline int weft__lock_try(weft__lock *l)
{
    uint32_t zero = 0;
    int got = atomic_compare_exchange_strong_explicit(&l->word, &zero, 1, memory_order_acquire,
                                                      memory_order_relaxed);
    if (got) WEFT__LOCK_OWN(l, weft__lock_self());
    if (got && WEFT__VG_ON()) weft__vg_locked(l);
    return got;
}

static inline void weft__lock_release(weft__lock *l)
{
    if (WEFT__VG_ON()) weft__vg_unlocked(l);
    WEFT__LOCK_OWN(l, 0);
    /* release: pairs with the acquire in weft__lock_acquire / weft__lock_slow. */
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2) weft__unlock_slow(l);
}

#endif
