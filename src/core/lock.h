/* src/core/lock.h - weft's internal mutex: the short lock that guards wait queues and tables.
 *
 * One 32-bit word: 0 unlocked, 1 locked, 2 locked with sleepers (Drepper, "Futexes are
 * tricky", mutex 3). Critical sections under it are a few dozen instructions, so a contender
 * spins briefly before it sleeps on the futex. It is not a cancellation point and has no
 * timeout: it is never held across a wait. The public weft_lock (sync module) is a different
 * object built on the parking lot, with timeouts and cancellation.
 *
 * All-zero is unlocked, so a static or calloc'ed weft__lock needs no init.
 */
#ifndef WEFT_INTERNAL_LOCK_H
#define WEFT_INTERNAL_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct weft__lock {
    _Atomic uint32_t word;
} weft__lock;

/* clang-format off */
#define WEFT__LOCK_INIT {0}
/* clang-format on */

void weft__lock_slow(weft__lock *l);
void weft__unlock_slow(weft__lock *l);

static inline void weft__lock_acquire(weft__lock *l)
{
    uint32_t zero = 0;
    /* acquire: pairs with the release in weft__lock_release. */
    if (!atomic_compare_exchange_strong_explicit(&l->word, &zero, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        weft__lock_slow(l);
}

static inline int weft__lock_try(weft__lock *l)
{
    uint32_t zero = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &zero, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void weft__lock_release(weft__lock *l)
{
    /* release: pairs with the acquire in weft__lock_acquire / weft__lock_slow. */
    if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2) weft__unlock_slow(l);
}

#endif
