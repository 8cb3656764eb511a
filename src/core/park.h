/* src/core/park.h - the parking lot: the one place where a weft thread blocks.
 *
 * A blocking call that must wait does four things:
 *   1. weft__park_init(&p, deadline) - one park per wait, on the waiter's stack;
 *   2. for each object it waits on, a waiter record (also on its stack) pointing at p, pushed on
 *      that object's wait queue under the queue's lock, after re-checking the condition there;
 *   3. weft__park_wait(&p) - spin briefly, then sleep on p's futex word until p is claimed;
 *   4. if the result is TIMEDOUT or CANCELED, remove its records under each queue's lock.
 *
 * Claiming is the heart of it. p.state starts WAITING; the first party to move it out of
 * WAITING/SLEEPING wins: a waker through one of the records (state becomes WOKEN + that record's
 * index), the deadline (TIMEDOUT, claimed by the parked thread itself) or a canceller (CANCELED).
 * Everyone else sees it taken and backs off. So a thread with records on several queues (select)
 * is woken by exactly one of them, and a hand-off (an item or a lock given to the waiter) is
 * never lost to a racing timeout: either the waker's claim won and the waiter takes what it was
 * given, or the waiter's claim won and the waker keeps it and serves the next waiter.
 *
 * Rules that make the records' lifetime safe (they live on the waiter's stack):
 *   - a waker claims a record only while holding that record's queue lock, after unlinking it;
 *   - after a TIMEDOUT/CANCELED claim the waiter takes each queue's lock to unlink its record,
 *     so no waker can still be touching it once the waiter returns;
 *   - the only access after the claim is the futex wake-up, which goes through a wakelist and
 *     is issued after the queue lock is dropped; a futex wake on memory that was since reused is
 *     harmless (a spurious wake-up for whoever sleeps there, and every wait loop re-checks).
 *
 * Rules that make the OBJECT's lifetime safe (a woken thread may free the object it waited on
 * at once, even while the call that woke it is still returning):
 *   - a waker's claim does not release the waiter: it moves the park to HELD (HELD_SLEEPING if
 *     the owner sleeps) and links it on the waker's wakelist with the final state it will get.
 *     A held park is taken (no timeout or cancel can claim it) but its owner keeps waiting;
 *   - the waker finishes with the object (its queue lock released, its counters written) and
 *     only then flushes the wakelist: each park gets its final state by one atomic exchange,
 *     the waker's last access to that park, followed at most by a futex wake on its word;
 *   - so the waker may still read and write a held waiter's record (on the waiter's stack)
 *     until the flush, and nothing of the object after it;
 *   - a waker must not flush while it still needs the object, and must not make the awaited
 *     state visible to threads that do not park (fast paths) before its last access: that is
 *     each primitive's own part (see sync/sem.c, queue/ring.c).
 */
#ifndef WEFT_INTERNAL_PARK_H
#define WEFT_INTERNAL_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weft/time.h>

#include "core/lock.h"

enum {
    WEFT__PARK_WAITING = 0,  /* not claimed, the thread is spinning or about to sleep */
    WEFT__PARK_SLEEPING = 1, /* not claimed, the thread sleeps on the futex: a claim must wake it */
    WEFT__PARK_TIMEDOUT = 2,
    WEFT__PARK_CANCELED = 3,
    WEFT__PARK_HELD = 4,          /* claimed, the claimer still works: the owner keeps waiting */
    WEFT__PARK_HELD_SLEEPING = 5, /* the same, and the owner sleeps on the futex */
    WEFT__PARK_WOKEN = 16,        /* + the index of the record that woke it */
};

/* Whether s is a final state (the owner may return): not WAITING, SLEEPING or HELD*. */
static inline int weft__park_final(uint32_t s)
{
    return s == 2 || s == 3 || s >= 16;
}

typedef struct weft__park {
    _Atomic uint32_t state; /* the futex word; see the enum */
    uint32_t final;         /* HELD: the state the flush will give it (written by the claimer) */
    struct weft__park *held_next; /* HELD: the next park on the claimer's wakelist */
    weft_ns deadline;             /* absolute, monotonic; WEFT_FOREVER for none */
    bool cancellable;             /* false: only a waker or the deadline can end this wait */
    bool spin;                    /* false: sleep at once (spun already, or only a deadline) */
    bool scope_first;             /* the deadline is the scope's (weft__park_enter) */
    uint8_t kind;                 /* what it waits on, for the dump (core/debugrec.h); 0: other */
    const void *obj;              /* the object waited on, for the dump; NULL if none */
    /* NULL, or a futex word in memory shared with other processes that the owner sleeps on
     * instead of state (weft__park_enter): a claim bumps it and wakes its sleepers before the
     * flush gives the park its final state, while the owner still waits (so the word's
     * mapping is still there). */
    _Atomic uint32_t *shared;
} weft__park;

struct weft__waitq;

typedef struct weft__waiter {
    struct weft__waiter *next, *prev;
    struct weft__waitq *queue; /* the queue it is linked on, NULL once unlinked (under lock) */
    weft__park *park;
    uint32_t index; /* reported as WEFT__PARK_WOKEN + index when this record wins */
    /* Free for the primitive that owns the queue: what the waiter asks for, what it is given. */
    uintptr_t want;
    void *item;
    int result;
} weft__waiter;

/* A FIFO of waiter records guarded by its own lock. All-zero is an empty queue. */
typedef struct weft__waitq {
    weft__lock lock;
    weft__waiter *head, *tail;
} weft__waitq;

/* Held parks to release (give their final state and wake) once the waker is done with the
 * object: a list linked through the parks themselves, so it has no size limit. */
typedef struct weft__wakelist {
    weft__park *head;
} weft__wakelist;
/* clang-format off */
#define WEFT__WAKELIST_INIT {NULL}
/* clang-format on */

/* Per-thread parking state, in thread-local storage (works for threads weft did not start). */
typedef struct weft__parker {
    weft__lock lock;             /* held by a canceller while it claims current */
    weft__park *_Atomic current; /* the park this thread waits in, or NULL */
    _Atomic uint32_t cancel;     /* sticky cancellation request */
    uint32_t shield;             /* > 0: cancellation does not apply */
    weft_ns spin_ns;             /* adaptive spin budget before sleeping */
    uint32_t hits;               /* how often spinning ended a wait, out of 256 (park.c) */
    uint32_t waits;              /* waits that spun, for the periodic probe (park.c) */
    bool registered;             /* attached to a cancel scope (cancel.c) */
    weft_ns scope_deadline;      /* the current scope's deadline, 0 for none (cancel.c) */
    uint32_t holder;             /* the next sleep waits for this record id (a lock's holder) */
} weft__parker;

void weft__park_init(weft__park *p, weft_ns deadline);
/* Say what p waits on, for the dump (kind: enum weft__wait_kind of core/debugrec.h). */
static inline void weft__park_what(weft__park *p, unsigned kind, const void *obj)
{
    p->kind = (uint8_t)kind;
    p->obj = obj;
}
void weft__waiter_init(weft__waiter *w, weft__park *p, uint32_t index);

/* Queue operations; the caller holds q->lock. */
void weft__waitq_push(weft__waitq *q, weft__waiter *w);
void weft__waitq_remove(weft__waitq *q, weft__waiter *w); /* no-op if not linked */
weft__waiter *weft__waitq_pop(weft__waitq *q);
static inline bool weft__waitq_empty(const weft__waitq *q)
{
    return q->head == NULL;
}
/* How many records are linked on q (for the test hooks of src/test_hooks.h). */
static inline size_t weft__waitq_count(const weft__waitq *q)
{
    size_t n = 0;
    for (const weft__waiter *w = q->head; w; w = w->next) n++;
    return n;
}

/* Claim w's park for w (w already unlinked, its queue's lock held). True if w won; then the
 * park is held (its owner keeps waiting) until the wakelist is flushed, so w stays valid and
 * may still be written until then. A primitive fills w->item/result before or after. */
bool weft__waiter_claim(weft__waiter *w, weft__wakelist *wl);
/* Pop and claim waiters until one wins; return it (or NULL if the queue ran dry). The winner
 * is held until wl is flushed; after the flush compare the result with NULL only. */
weft__waiter *weft__waitq_wake_one(weft__waitq *q, weft__wakelist *wl);
/* Pop and claim every waiter; return how many won. */
size_t weft__waitq_wake_all(weft__waitq *q, weft__wakelist *wl);
/* Release the held parks of wl (their owners may return at once, and may free the object
 * they waited on): call once done with the object, after dropping its locks. */
void weft__wakelist_flush(weft__wakelist *wl);

/* Whether spinning has been paying for the calling thread: at least a quarter of its recent
 * waits that a waker ended were ended while it still spun. When it does not, the thread that
 * would end its wait is most likely waiting for this very CPU (more threads than CPUs, or two
 * threads on one CPU), and a thread that polls before it waits should give the CPU away
 * instead (ring.c). */
bool weft__park_spin_pays(void);

/* Block until p is claimed; returns p's final state (TIMEDOUT, CANCELED or WOKEN + index). */
uint32_t weft__park_wait(weft__park *p);

/* The owner of p, whose records are linked, found what it waited for without calling
 * weft__park_wait: take p itself so that no waker claims it from now on, or, if a waker
 * already holds it, wait for that waker's flush; then p may go once its records are unlinked.
 * Returns p's final state (WEFT__PARK_WOKEN when the owner took it). */
uint32_t weft__park_retract(weft__park *p);
/* Waiting on a futex word in shared memory (ipcq): the owner cannot sleep on p->state, which
 * its waker in another process cannot see. It sets p->shared to the word it sleeps on and
 * brackets its own loop with these two: weft__park_enter publishes p (a canceller can claim
 * it; p->deadline may come down to the scope's deadline); the loop ends when its condition
 * holds, when p->state is no longer WAITING (claimed: the canceller also bumped *shared, so a
 * futex wait on the value read before the check returns), or at p->deadline; then
 * weft__park_leave(p, expired) returns the final state: WEFT__PARK_WOKEN (nobody claimed it),
 * WEFT__PARK_TIMEDOUT (expired and the deadline was the call's) or WEFT__PARK_CANCELED. */
void weft__park_enter(weft__park *p);
uint32_t weft__park_leave(weft__park *p, bool expired);

/* Unlink w under its queue's lock if still linked: the clean-up after TIMEDOUT/CANCELED. */
void weft__waiter_cancel(weft__waitq *q, weft__waiter *w);

/* Wait on a single queue: push a record (the caller holds q->lock and has re-checked its
 * condition), drop the lock, park, clean up. Returns 0 if woken (w->item/result as the waker
 * left them), WEFT_ETIMEDOUT or WEFT_ECANCELED. The lock is NOT held on return. */
int weft__waitq_wait_locked(weft__waitq *q, weft__waiter *w);

/* Sleep on q (its lock held) until a waker claims the record or deadline passes, ignoring
 * cancellation and without spinning - for service threads and exit handlers, whose waits are
 * long and must not be cut short. The lock is held again on return. */
void weft__waitq_sleep_locked(weft__waitq *q, weft_ns deadline);

/* The calling thread's parker. */
weft__parker *weft__parker_self(void);

/* Cancellation hook: mark the parker cancelled and wake it from whatever park it is in. Safe
 * against the parker's thread entering or leaving a wait at the same time. The parker must
 * stay alive for the duration of the call (its owner must not have exited). */
void weft__parker_interrupt(weft__parker *k);
/* The same, with the futex wake-up deferred into wl (flush it after dropping your locks). */
void weft__parker_interrupt_batch(weft__parker *k, weft__wakelist *wl);
/* Clear a parker's cancellation request (for the owner of the parker). */
void weft__parker_reset(weft__parker *k);
/* 1 if the calling thread has a cancellation request that applies (not shielded). */
int weft__cancel_pending(void);

/* The parker's one call up into the scope layer, which stands above it (core/cancel.c
 * defines it; the parker includes nothing of that layer, so the include graph has no circle).
 *   WEFT__PARK_ATTACH: the calling thread is about to wait and is attached to no scope
 *     (parker->registered is false): attach it to the root scope, so a canceller can find it;
 *   WEFT__PARK_SCOPE_DEADLINE: its wait ended at its scope's deadline: cancel the scope that
 *     owns that deadline (waking its other members). */
enum weft__park_event { WEFT__PARK_ATTACH, WEFT__PARK_SCOPE_DEADLINE };
void weft__park_scope_event(enum weft__park_event e);

/* Turn a relative timeout into a deadline, rejecting negative timeouts (WEFT_EINVAL). */
int weft__deadline_of(weft_ns timeout, weft_ns *deadline);

#endif
