/* src/pool/deque.c - the per-worker work-stealing deque (Chase and Lev, "Dynamic circular
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
 * Lock order: no locks.
 */
#include <stdlib.h>

#include <weft/error.h>

#include "internal.h"
#include "pool/pool_internal.h"

#define TAKE_AHEAD 4

static struct weft__dqbuf *buf_new(int64_t cap)
{
    struct weft__dqbuf *b = weft__malloc(sizeof *b + (size_t)cap * sizeof b->slot[0]);
    if (b == NULL) return NULL;
    b->mask = cap - 1;
    b->prev = NULL;
    for (int64_t i = 0; i < cap; i++) atomic_init(&b->slot[i], NULL);
    return b;
}

int weft__deque_init(struct weft__deque *d, int64_t cap)
{
    struct weft__dqbuf *b = buf_new(cap);
    if (b == NULL) return WEFT_ENOMEM;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->buf, b);
    return 0;
}

void weft__deque_destroy(struct weft__deque *d)
{
    struct weft__dqbuf *b = atomic_load_explicit(&d->buf, memory_order_relaxed);
    while (b) {
        struct weft__dqbuf *prev = b->prev;
        free(b);
        b = prev;
    }
    atomic_store_explicit(&d->buf, NULL, memory_order_relaxed);
}

/* Owner only: copy [t, b) into a buffer twice as large and publish it. */
static struct weft__dqbuf *grow(struct weft__deque *d, struct weft__dqbuf *a, int64_t t, int64_t b)
{
    struct weft__dqbuf *n = buf_new(2 * (a->mask + 1));
    if (n == NULL) return NULL;
    for (int64_t i = t; i < b; i++)
        atomic_store_explicit(&n->slot[i & n->mask],
                              atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed),
                              memory_order_relaxed);
    n->prev = a;
    /* release: pairs with the acquire load of buf in steal (the copied slots are visible). */
    atomic_store_explicit(&d->buf, n, memory_order_release);
    return n;
}

int weft__deque_push(struct weft__deque *d, weft_future *t)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed); /* owner's own */
    /* acquire: pairs with the thieves' CAS on top (their slot reads are done). */
    int64_t tp = atomic_load_explicit(&d->top, memory_order_acquire);
    struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_relaxed); /* own */
    if (b - tp > a->mask && (a = grow(d, a, tp, b)) == NULL) return WEFT_ENOMEM;
    atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_relaxed);
    /* seq_cst: publishes the slot and the record (release half, paired with steal's load of
     * bottom), and orders the push before the submitter's load of pool->sleepers (sched.c). */
    atomic_store(&d->bottom, b + 1);
    return 0;
}

uint64_t weft__deque_push_list(struct weft__deque *d, weft_future *list)
{
    int64_t b0 = atomic_load_explicit(&d->bottom, memory_order_relaxed);         /* owner's own */
    int64_t tp = atomic_load_explicit(&d->top, memory_order_acquire);            /* pairs: steal */
    struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_relaxed); /* own */
    int64_t b = b0;
    for (weft_future *t = list; t; t = t->next, b++) {
        if (t->fn && t->result) __builtin_prefetch(t->result);             /* sched.c: walk_hint */
        if (b - tp > a->mask && (a = grow(d, a, tp, b)) == NULL) return 0; /* nothing public */
        atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_relaxed);
    }
    atomic_store(&d->bottom, b); /* seq_cst: as in weft__deque_push */
    return (uint64_t)(b - b0);
}

weft_future *weft__deque_take(struct weft__deque *d)
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
    if (b - TAKE_AHEAD > t)
        __builtin_prefetch(
            atomic_load_explicit(&a->slot[(b - TAKE_AHEAD) & a->mask], memory_order_relaxed), 1);
    if (t == b) {
        /* The last one: race the thieves for it. seq_cst: in the total order with steal. */
        if (!atomic_compare_exchange_strong(&d->top, &t, t + 1)) x = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

weft_future *weft__deque_steal(struct weft__deque *d)
{
    for (;;) {
        int64_t t = atomic_load(&d->top);    /* seq_cst: see the file comment */
        int64_t b = atomic_load(&d->bottom); /* seq_cst; acquire half pairs with push */
        if (t >= b) return NULL;
        /* acquire: pairs with the release store in grow. */
        struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_acquire);
        weft_future *x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
        if (atomic_compare_exchange_strong(&d->top, &t, t + 1)) return x;
        /* lost to another thief or the owner: look again */
    }
}

int64_t weft__deque_size(struct weft__deque *d)
{
    int64_t b = atomic_load(&d->bottom); /* seq_cst: the idle-check protocol in sched.c */
    int64_t t = atomic_load(&d->top);
    return b > t ? b - t : 0;
}
