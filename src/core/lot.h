/* src/core/lot.h - parking keyed by address, for the sync primitives.
 *
 * A weft__waitq is 24 bytes; a weft_lock is 4. So the sync objects hold no wait queue of their
 * own: a thread that must wait on object X parks on one of a fixed set of shared queues
 * (buckets), chosen by hashing X's address, with a waiter record whose `want` is X. Waking X
 * walks that bucket and claims only the records that want X, in FIFO order. Everything else
 * (claims, timeouts, cancellation, record lifetime) is the parking lot's protocol (park.h).
 *
 * Waiter counts. An object may keep a count of the threads parked on it (`waiters`), so that
 * a waker can skip the bucket when nobody waits. The parker raises it under the bucket lock
 * before its check and lowers it itself once its wait ends, whatever ended it: a waker never
 * writes it, so that a woken thread may free the object while its waker is still returning
 * (park.h). The count is thus at least the number of linked records, and a stale extra only
 * costs a waker a look at the bucket. A waker that may read the count after the object could
 * be freed must not keep it apart from the state (sync/sem.c keeps both in one word).
 *
 * Late wake-ups. weft__lot_unpark touches only the bucket, never the object; but a waker that
 * reaches the bucket after the object was freed (sync/sem.c) may find records of whatever
 * object now lives at that address. Keys are therefore chosen so that such a late wake-up can
 * only reach waiters that re-check their state and park again (sync/sem.c's KEY).
 */
#ifndef WEFT_INTERNAL_SYNC_LOT_H
#define WEFT_INTERNAL_SYNC_LOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weft/time.h>

#include "core/park.h"

/* Called under the bucket lock (after the waiter count was raised): true to go to sleep,
 * false if the awaited state already holds (the park is then abandoned). */
typedef bool (*weft__lot_check)(void *obj);

/* How a weft__lot_park waits (flags). */
enum {
    WEFT__LOT_CANCELLABLE = 1, /* the wait ends with WEFT_ECANCELED when the thread is cancelled */
    WEFT__LOT_NOSPIN = 2,      /* sleep at once: the caller spun on the object's own word */
};
/* The kind of wait, for the dump (enum weft__wait_kind, core/debugrec.h), or'ed into flags. The
 * dump shows the key, with its two low bits cleared, as the object (sync/sem.c parks on the
 * object's address + 1; objects are at least 4-aligned). */
#define WEFT__LOT_KIND(k) ((unsigned)(k) << 8)

/* Park on key until woken, the deadline passes or (with WEFT__LOT_CANCELLABLE) the thread is
 * cancelled. waiters (may be NULL) is raised before check and lowered again before return.
 * Returns 0 (woken), WEFT_EAGAIN (check said no), WEFT_ETIMEDOUT, WEFT_ECANCELED. */
int weft__lot_park(const void *key, _Atomic uint32_t *waiters, weft__lot_check check, void *obj,
                   weft_ns deadline, unsigned flags);

/* What a wake-up did; handed to the callback under the bucket lock. */
typedef struct weft__lot_result {
    uint32_t woken; /* records claimed (their threads will return 0) */
    bool more;      /* records for key are still linked */
} weft__lot_result;

/* Wake up to n threads parked on key (UINT32_MAX: all), oldest first, skipping records whose
 * wait already ended by timeout or cancellation. done (may be NULL) runs under the bucket lock
 * after the claims, before any woken thread can return. Returns how many were woken. */
uint32_t weft__lot_unpark(const void *key, uint32_t n,
                          void (*done)(void *obj, const weft__lot_result *r), void *obj);

/* The pieces of weft__lot_park for a caller that must do something between linking its record
 * and sleeping (a condition releases its lock there). enqueue links w (initialised on park p)
 * for key (and raises waiters); after weft__park_wait, finish unlinks it if the wait ended
 * without a wake-up, lowers waiters, and maps the park state to 0 / WEFT_ETIMEDOUT /
 * WEFT_ECANCELED. */
void weft__lot_enqueue(const void *key, _Atomic uint32_t *waiters, weft__waiter *w);
int weft__lot_finish(const void *key, _Atomic uint32_t *waiters, weft__waiter *w, uint32_t s);

/* A tag for the calling thread, never 0 (the address of a thread-local). */
uintptr_t weft__sync_self(void);

/* View a public plain field as the atomic it is (the public header has no <stdatomic.h>). */
#define WEFT__ATOMIC32(field)  ((_Atomic uint32_t *)(void *)&(field))
#define WEFT__ATOMICPTR(field) ((_Atomic uintptr_t *)(void *)&(field))

#endif
