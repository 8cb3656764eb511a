/* src/pool/deque.h - the per-worker work-stealing deque (Chase and Lev, "Dynamic circular
 * work-stealing deque", SPAA 2005; C11 orders after Le, Pop, Cohen, Zappa Nardelli, PPoPP 2013).
 *
 * The owner pushes and takes at `bottom`, thieves steal at `top`. The one delicate point is
 * the race for the last element between take and steal. The paper closes it with a seq_cst
 * fence in each; weft has no bare fences (ThreadSanitizer does not model them), so the
 * accesses that the fences order are seq_cst operations themselves: take stores bottom and
 * then loads top, steal loads top and then bottom, all four in the single total order, so
 * either take sees the thief's top or the thief sees take's bottom. Both sides settle the last
 * element with a CAS on top.
 *
 * Invariants: top <= bottom + 1 transiently (inside take), top <= bottom otherwise; slots
 * [top, bottom) hold the queued records. A full buffer is replaced by one twice as large
 * (owner only); the old one stays readable for thieves until the deque is destroyed.
 * Slots are atomic pointers accessed relaxed: the record's contents are published by the
 * seq_cst store of bottom in push and acquired by the seq_cst load of bottom in steal.
 *
 * The owner's push and take are inline here: they are on the path of every task spawned from a
 * task and every fork-join wait, where a call each (and the checks around it that the
 * compiler cannot fold across files) cost 10-15% of a spawn. The rest is in deque.c.
 * No locks (docs/design/locks.md).
 */
#ifndef WEFT_POOL_DEQUE_H
#define WEFT_POOL_DEQUE_H

#include <stdatomic.h>
#include <stdint.h>

#include <weft/error.h>
#include <weft/future.h>

#define WEFT__DEQUE_TAKE_AHEAD 4

struct weft__dqbuf {
    int64_t mask;
    struct weft__dqbuf *prev; /* older buffers, freed with the deque */
    _Atomic(weft_future *) slot[];
};
struct weft__deque {
    _Atomic int64_t top;
    char pad0[56];
    _Atomic int64_t bottom;
    struct weft__dqbuf *_Atomic buf;
    char pad1[48];
};

int weft__deque_init(struct weft__deque *d, int64_t cap);
void weft__deque_destroy(struct weft__deque *d);
/* Owner only: copy [t, b) of a into a buffer twice as large and publish it; NULL: no memory. */
struct weft__dqbuf *weft__deque_grow(struct weft__deque *d, struct weft__dqbuf *a, int64_t t,
                                     int64_t b);
/* Owner only: push a ->next-linked list, in list order, with one store of bottom; returns how
 * many were pushed. If share > 0 and the list is longer, every other record after the first
 * `share` is linked into a list of its own (in list order, ->next rewritten) instead: *rest is
 * its first record and *rest_tail its last. If the buffer cannot grow, the push stops there and
 * *rest holds every record not pushed, with *rest_tail NULL. *rest is NULL if all were pushed. */
uint64_t weft__deque_push_list(struct weft__deque *d, weft_future *list, int64_t share,
                               weft_future **rest, weft_future **rest_tail);
weft_future *weft__deque_steal(struct weft__deque *d);
int64_t weft__deque_size(struct weft__deque *d);

/* Owner only: push t at the bottom. 0, or WEFT_ENOMEM (the buffer could not grow). */
static inline int weft__deque_push(struct weft__deque *d, weft_future *t)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed); /* owner's own */
    /* acquire: pairs with the thieves' CAS on top (their slot reads are done). */
    int64_t tp = atomic_load_explicit(&d->top, memory_order_acquire);
    struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_relaxed); /* own */
    if (b - tp > a->mask && (a = weft__deque_grow(d, a, tp, b)) == NULL) return WEFT_ENOMEM;
    atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_relaxed);
    /* seq_cst: publishes the slot and the record (release half, paired with steal's load of
     * bottom), and orders the push before the submitter's load of pool->sleepers (sched.c). */
    atomic_store(&d->bottom, b + 1);
    return 0;
}

/* Owner only: take the bottom record, or NULL if the deque is empty (or a thief won the last). */
static inline weft_future *weft__deque_take(struct weft__deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1; /* owner's own */
    struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_relaxed);
    atomic_store(&d->bottom, b); /* seq_cst: before the load of top (see the file comment) */
    int64_t t = atomic_load(&d->top);
    if (t > b) {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed); /* empty: restore */
        return NULL;
    }
    weft_future *x = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
    /* The record the owner will take TAKE_AHEAD takes from now, if no thief gets it first:
     * after a big batch from the injection stack its line is long evicted. */
    if (b - WEFT__DEQUE_TAKE_AHEAD > t)
        __builtin_prefetch(atomic_load_explicit(&a->slot[(b - WEFT__DEQUE_TAKE_AHEAD) & a->mask],
                                                memory_order_relaxed),
                           1);
    if (t == b) {
        /* The last one: race the thieves for it. seq_cst: in the total order with steal. */
        if (!atomic_compare_exchange_strong(&d->top, &t, t + 1)) x = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

#endif
