/* src/core/lot.c - address-keyed parking on a fixed table of wait-queue buckets.
 *
 * Invariants (under a bucket's lock): a record is linked in the bucket of its key (w->want);
 * for every key with a waiter count, the count is at least the number of its linked records
 * (the parkers raise it before they link and lower it after they are unlinked).
 * Lock order: docs/design/locks.md: never two buckets at once, no user lock under one; the
 * parking lot may take a parker's lock inside.
 */
#include "core/fork.h"
#include "core/internal.h"
#include "core/lot.h"

#include <weft/error.h>

#define LOT_BITS 8
#define LOT_SIZE (1u << LOT_BITS)

/* One bucket per cache line, so that unrelated objects do not share a line as well. */
static struct bucket {
    _Alignas(64) weft__waitq q;
} lot[LOT_SIZE];

static _Thread_local char self_anchor WEFT__TLS_IE;

uintptr_t weft__sync_self(void)
{
    return (uintptr_t)&self_anchor;
}

static weft__waitq *bucket_of(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key;
    h ^= h >> 29; /* objects are often 64-byte apart: mix the high bits down */
    h *= 0x9E3779B97F4A7C15ull;
    return &lot[h >> (64 - LOT_BITS)].q;
}

/* fork() (fork.c's table): every bucket lock is held across it (one at a time is the rule
 * elsewhere, so taking all in index order cannot deadlock), so that the lists are whole in the
 * child. There, every record linked belongs to a thread that is gone (the forking thread is not
 * parked): they are unlinked, so that a wake in the child touches no memory of the dead. The
 * waiter counts of the objects they waited on stay high: a waker then finds nobody, which costs
 * only a slow path. */
void weft__lot_fork_prepare(void)
{
    for (unsigned i = 0; i < LOT_SIZE; i++) weft__lock_acquire(&lot[i].q.lock);
}

void weft__lot_fork_parent(void)
{
    for (unsigned i = LOT_SIZE; i-- > 0;) weft__lock_release(&lot[i].q.lock);
}

void weft__lot_fork_child(void)
{
    for (unsigned i = 0; i < LOT_SIZE; i++) lot[i].q.head = lot[i].q.tail = NULL;
    weft__lot_fork_parent();
}

void weft__lot_enqueue(const void *key, _Atomic uint32_t *waiters, weft__waiter *w)
{
    weft__waitq *q = bucket_of(key);
    weft__fork_register(); /* the first park makes the buckets matter to a forked child */
    w->want = (uintptr_t)key;
    weft__lock_acquire(&q->lock);
    weft__waitq_push(q, w);
    /* Under the bucket lock; the Dekker partner is the waker's state change (lot.h). */
    if (waiters) atomic_fetch_add(waiters, 1);
    weft__lock_release(&q->lock);
}

int weft__lot_finish(const void *key, _Atomic uint32_t *waiters, weft__waiter *w, uint32_t s)
{
    if (s < WEFT__PARK_WOKEN) { /* our claim won: nobody unlinked the record for us */
        weft__waitq *q = bucket_of(key);
        weft__lock_acquire(&q->lock);
        weft__waitq_remove(q, w);
        weft__lock_release(&q->lock);
    }
    /* relaxed: our own count, lowered after the record is off the bucket (lot.h). */
    if (waiters) atomic_fetch_sub_explicit(waiters, 1, memory_order_relaxed);
    if (s >= WEFT__PARK_WOKEN) return 0;
    return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
}

int weft__lot_park(const void *key, _Atomic uint32_t *waiters, weft__lot_check check, void *obj,
                   weft_ns deadline, unsigned flags)
{
    weft__waitq *q = bucket_of(key);
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    p.cancellable = (flags & WEFT__LOT_CANCELLABLE) != 0;
    p.spin = (flags & WEFT__LOT_NOSPIN) == 0;
    weft__park_what(&p, flags >> 8, (const void *)((uintptr_t)key & ~(uintptr_t)3));
    weft__waiter_init(&w, &p, 0);
    w.want = (uintptr_t)key;
    weft__lock_acquire(&q->lock);
    /* seq_cst: the first half of the Dekker pair (lot.h); check() loads the state after it. */
    if (waiters) atomic_fetch_add(waiters, 1);
    if (!check(obj)) {
        /* relaxed: taking our own count back publishes nothing. */
        if (waiters) atomic_fetch_sub_explicit(waiters, 1, memory_order_relaxed);
        weft__lock_release(&q->lock);
        return WEFT_EAGAIN;
    }
    weft__waitq_push(q, &w);
    weft__lock_release(&q->lock);
    return weft__lot_finish(key, waiters, &w, weft__park_wait(&p));
}

uint32_t weft__lot_unpark(const void *key, uint32_t n,
                          void (*done)(void *obj, const weft__lot_result *r), void *obj)
{
    weft__waitq *q = bucket_of(key);
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lot_result r = {0, false};
    weft__lock_acquire(&q->lock);
    for (weft__waiter *w = q->head, *next; w; w = next) {
        next = w->next;
        if (w->want != (uintptr_t)key) continue;
        if (r.woken == n) {
            r.more = true;
            break;
        }
        weft__waitq_remove(q, w);
        /* A failed claim: that wait already ended (timeout, cancel); serve the next one. */
        r.woken += weft__waiter_claim(w, &wl);
    }
    if (done) done(obj, &r);
    weft__lock_release(&q->lock);
    weft__wakelist_flush(&wl);
    return r.woken;
}
