/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/sync.h - synchronization primitives (threading.Lock, RLock, Condition, Semaphore,
 * BoundedSemaphore, Event, Barrier), plus once and a countdown latch.
 *
 * Every object here is a small caller-allocated struct. All-zero is a valid object (a static,
 * global or calloc'ed one needs no init call) and each has a static initializer; none needs a
 * destroy call. An object may be freed or reused once no thread uses or waits on it.
 * The fields are internal: read and write them only through these functions.
 *
 * Freeing right after a wake-up: a thread whose wait ended because of another thread's call
 * may free the object at once (when it knows nobody else will use it), even while that other
 * call is still returning: the waking call's last access to the object comes before the
 * woken thread can see its effect. Each object says which returns this covers. So the
 * pattern `if (weft_sem_acquire(s, WEFT_FOREVER) == 0) free(s);` against another thread's
 * weft_sem_release(s, 1) is correct, as POSIX allows for sem_t.
 *
 * Blocking calls take a relative timeout as their last argument (weft/time.h): WEFT_FOREVER
 * blocks, 0 tries once and returns WEFT_EAGAIN where the call would have to wait, a negative
 * timeout is WEFT_EINVAL, and a wait that runs out returns WEFT_ETIMEDOUT, never earlier than
 * asked. Every blocking call is a cancellation point: it returns WEFT_ECANCELED as soon as the
 * calling thread is cancelled while it waits. Uncontended operations make no system call.
 *
 *     static weft_lock lock = WEFT_LOCK_INIT;
 *     if (weft_lock_acquire(&lock, WEFT_FOREVER) == 0) { ...; weft_lock_release(&lock); }
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

/* ---- Lock ---------------------------------------------------------------------------------- */

/* threading.Lock: not reentrant, and any thread may release it (a hand-over lock). One word. */
typedef struct weft_lock {
    uint32_t state; /* internal: bit 0 locked, bit 1 threads may be parked, bits 3-31 the
                     * holder for weft_debug_dump; accessed atomically */
} weft_lock;

/* clang-format off */
#define WEFT_LOCK_INIT {0}
/* clang-format on */

/* weft_lock_init - make *l an unlocked lock, as WEFT_LOCK_INIT does statically.
 * l: caller-owned. Returns 0 or WEFT_EINVAL (NULL l). Not for a lock other threads use.
 * Blocks: no. Cancellation point: no. Thread safety: not on l. Async-signal-safe: yes. */
WEFT_API int weft_lock_init(weft_lock *l);

/* weft_lock_acquire - lock l (Lock.acquire), waiting at most timeout.
 * l: borrowed. Acquiring a lock the calling thread already holds waits (for another thread to
 * release it, or for the timeout): a Lock has no owner.
 * Not fair, like pthread_mutex: a thread that releases l and acquires it again at once usually
 * gets it before a waiting thread, and a waiter may wait for as long as others keep l busy.
 * A waiter spins for a while (some microseconds) before it sleeps.
 * Returns 0 (l is now locked by the caller), WEFT_EAGAIN (timeout 0 and l is locked),
 * WEFT_ETIMEDOUT, WEFT_ECANCELED (cancelled while waiting), WEFT_EINVAL (NULL l, negative
 * timeout).
 * Freeing: once this returns 0, the caller may free l (if nobody else uses it), even while
 * the weft_lock_release that let it in is still returning.
 * Blocks: yes, while l is locked. Cancellation point: yes, when it waits. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_lock_acquire(weft_lock *l, weft_ns timeout) WEFT_NODISCARD;

/* weft_lock_release - unlock l (Lock.release); any thread may release it, not only the one
 * that acquired it. Wakes one waiting thread, if any.
 * l: borrowed.
 * Returns 0, WEFT_ESTATE (l was not locked: a double release), WEFT_EINVAL (NULL l).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_lock_release(weft_lock *l);

/* weft_lock_locked - 1 if l is locked, 0 if not, WEFT_EINVAL for NULL (Lock.locked).
 * The answer may be stale by the time the caller looks at it.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_lock_locked(const weft_lock *l);

/* ---- RLock --------------------------------------------------------------------------------- */

/* threading.RLock: reentrant; only the owning thread may release it. A thread must release
 * every RLock it holds before it exits (its identity may be reused by a later thread). */
typedef struct weft_rlock {
    uintptr_t owner; /* internal: the owning thread's tag, 0 if none; accessed atomically */
    uint32_t count;  /* internal: recursion depth, written by the owner only */
    weft_lock lock;  /* internal */
} weft_rlock;

/* clang-format off */
#define WEFT_RLOCK_INIT {0, 0, WEFT_LOCK_INIT}
/* clang-format on */

/* weft_rlock_init - make *r an unowned RLock, as WEFT_RLOCK_INIT does statically.
 * r: caller-owned. Returns 0 or WEFT_EINVAL (NULL r). Not for an RLock other threads use.
 * Blocks: no. Cancellation point: no. Thread safety: not on r. Async-signal-safe: yes. */
WEFT_API int weft_rlock_init(weft_rlock *r);

/* weft_rlock_acquire - take r (RLock.acquire): at once if the caller owns it already (the
 * count goes up), else waiting at most timeout for the owner to release it fully.
 * r: borrowed.
 * Returns 0, WEFT_EAGAIN (timeout 0 and another thread owns r), WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, WEFT_EOVERFLOW (the count would pass UINT32_MAX), WEFT_EINVAL (NULL r,
 * negative timeout).
 * Blocks: yes, while another thread owns r. Cancellation point: yes, when it waits.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_rlock_acquire(weft_rlock *r, weft_ns timeout) WEFT_NODISCARD;

/* weft_rlock_release - drop one level of r (RLock.release); the last one unlocks it.
 * r: borrowed.
 * Returns 0, WEFT_EPERM (the calling thread does not own r, including when nobody does),
 * WEFT_EINVAL (NULL r).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_rlock_release(weft_rlock *r);

/* weft_rlock_is_owned - 1 if the calling thread owns r, else 0 (WEFT_EINVAL for NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_rlock_is_owned(const weft_rlock *r);

/* ---- Condition ----------------------------------------------------------------------------- */

/* threading.Condition, bound to a weft_lock or weft_rlock, or (all-zero, WEFT_COND_INIT) to an
 * RLock of its own, like Condition() with no argument. */
typedef struct weft_cond {
    void *lock;       /* internal: the bound weft_lock / weft_rlock, NULL for own */
    uint32_t kind;    /* internal: 0 own RLock, 1 weft_lock, 2 weft_rlock */
    uint32_t waiters; /* internal: threads in wait; accessed atomically */
    weft_rlock own;   /* internal: the lock when none is bound */
} weft_cond;

/* clang-format off */
#define WEFT_COND_INIT {NULL, 0, 0, WEFT_RLOCK_INIT}
#define WEFT_COND_INIT_LOCK(lockp) {(lockp), 1, 0, WEFT_RLOCK_INIT}
#define WEFT_COND_INIT_RLOCK(rlockp) {(rlockp), 2, 0, WEFT_RLOCK_INIT}
/* clang-format on */

/* weft_cond_init - bind *c to lock, or to an RLock of its own when lock is NULL.
 * c: caller-owned. lock: borrowed; must outlive c. Returns 0 or WEFT_EINVAL (NULL c).
 * Blocks: no. Cancellation point: no. Thread safety: not on c. Async-signal-safe: yes. */
WEFT_API int weft_cond_init(weft_cond *c, weft_lock *lock);

/* weft_cond_init_rlock - bind *c to rlock (NULL: an RLock of its own).
 * c: caller-owned. rlock: borrowed; must outlive c. Returns 0 or WEFT_EINVAL (NULL c).
 * Blocks: no. Cancellation point: no. Thread safety: not on c. Async-signal-safe: yes. */
WEFT_API int weft_cond_init_rlock(weft_cond *c, weft_rlock *rlock);

/* weft_cond_acquire - acquire c's lock (Condition.acquire / `with cond:`). c: borrowed.
 * Returns what weft_lock_acquire or weft_rlock_acquire returns, and WEFT_EINVAL for NULL c.
 * Blocks: yes. Cancellation point: yes, when it waits. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_cond_acquire(weft_cond *c, weft_ns timeout) WEFT_NODISCARD;

/* weft_cond_release - release c's lock (Condition.release). c: borrowed.
 * Returns what weft_lock_release / weft_rlock_release returns, and WEFT_EINVAL for NULL c.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cond_release(weft_cond *c);

/* weft_cond_wait - release c's lock (all levels of an RLock), wait until notified, then take
 * the lock back as it was (Condition.wait). The caller must hold the lock. The lock is held
 * again on every return except WEFT_EINVAL and WEFT_EPERM, whatever the result.
 * c: borrowed.
 * Returns 0 (notified), WEFT_ETIMEDOUT, WEFT_ECANCELED, WEFT_EAGAIN (timeout 0: nothing
 * waited, the lock never released), WEFT_EPERM (the caller does not hold the lock; for a
 * weft_lock: it is not locked), WEFT_EINVAL (NULL c, negative timeout).
 * There are no spurious wake-ups, but another thread may change the state between the notify
 * and the return: re-check the predicate, or use weft_cond_wait_for.
 * Freeing: once a thread that returned from this released the lock, it may free c and the
 * lock (if nobody else uses them), even while the notifier is still returning from its
 * weft_cond_notify or its lock release.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cond_wait(weft_cond *c, weft_ns timeout);

/* A predicate for weft_cond_wait_for: non-zero when the awaited state holds. Called with c's
 * lock held. */
typedef int (*weft_cond_pred)(void *arg);

/* weft_cond_wait_for - wait until pred(arg) is true (Condition.wait_for); the timeout covers
 * the whole wait, however many wake-ups it takes. The caller must hold the lock, and holds it
 * again on return.
 * c: borrowed. pred: called with the lock held, any number of times. arg: passed to pred.
 * Returns 0 (pred was true), WEFT_ETIMEDOUT (still false at the deadline), WEFT_EAGAIN
 * (timeout 0 and pred false), WEFT_ECANCELED, WEFT_EPERM (lock not held), WEFT_EINVAL (NULL c
 * or pred, negative timeout).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cond_wait_for(weft_cond *c, weft_cond_pred pred, void *arg, weft_ns timeout);

/* weft_cond_notify - wake up to n threads waiting on c, oldest first (Condition.notify(n)).
 * The caller must hold the lock. Exactly min(n, waiting) threads return 0 from their wait.
 * Returns 0, WEFT_EPERM (lock not held), WEFT_EINVAL (NULL c).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cond_notify(weft_cond *c, uint32_t n);

/* weft_cond_notify_all - wake every thread waiting on c (Condition.notify_all).
 * c: borrowed. Returns 0, WEFT_EPERM (lock not held), WEFT_EINVAL (NULL c).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cond_notify_all(weft_cond *c);

/* ---- Semaphore, BoundedSemaphore ----------------------------------------------------------- */

/* threading.Semaphore (limit 0) and BoundedSemaphore (limit = initial value + 1). */
typedef struct weft_sem {
    uint64_t state; /* internal: value | threads waiting << 32; accessed atomically */
    uint32_t limit; /* internal: 0 unbounded, else the highest value + 1 */
} weft_sem;

/* clang-format off */
#define WEFT_SEM_INIT(value) {(uint32_t)(value), 0}
#define WEFT_BOUNDED_SEM_INIT(value) {(uint32_t)(value), (uint32_t)(value) + 1}
/* clang-format on */

/* weft_sem_init - a semaphore with value permits (threading.Semaphore(value)).
 * s: caller-owned. Returns 0, WEFT_EINVAL (NULL s).
 * Blocks: no. Cancellation point: no. Thread safety: not on s. Async-signal-safe: yes. */
WEFT_API int weft_sem_init(weft_sem *s, uint32_t value);

/* weft_sem_init_bounded - a semaphore whose value may never exceed value
 * (threading.BoundedSemaphore(value)). s: caller-owned.
 * Returns 0, WEFT_EINVAL (NULL s, value UINT32_MAX).
 * Blocks: no. Cancellation point: no. Thread safety: not on s. Async-signal-safe: yes. */
WEFT_API int weft_sem_init_bounded(weft_sem *s, uint32_t value);

/* weft_sem_acquire - take one permit, waiting at most timeout for one (Semaphore.acquire).
 * s: borrowed.
 * Returns 0, WEFT_EAGAIN (timeout 0 and no permit), WEFT_ETIMEDOUT, WEFT_ECANCELED,
 * WEFT_EINVAL (NULL s, negative timeout).
 * Freeing: once this returns 0 in any thread, s may be freed (if nobody else uses it), even
 * while the weft_sem_release that gave the permit is still returning.
 * Blocks: yes, while the value is 0. Cancellation point: yes, when it waits.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_sem_acquire(weft_sem *s, weft_ns timeout) WEFT_NODISCARD;

/* weft_sem_release - add n permits and wake up to n waiters (Semaphore.release(n)).
 * s: borrowed.
 * Returns 0, WEFT_EOVERFLOW (a bounded semaphore would exceed its initial value, or the value
 * would pass UINT32_MAX; nothing is added), WEFT_EINVAL (NULL s, n == 0).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_sem_release(weft_sem *s, uint32_t n);

/* weft_sem_value - the current number of permits (may be stale at once); 0 for NULL.
 * s: borrowed. Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: yes. */
WEFT_API uint32_t weft_sem_value(const weft_sem *s);

/* ---- Event --------------------------------------------------------------------------------- */

/* threading.Event: a flag that threads wait for. One word; waiting on a set event is one load. */
typedef struct weft_event {
    uint64_t state; /* internal: (sets << 1) | flag | threads waiting << 32; atomic */
} weft_event;

/* clang-format off */
#define WEFT_EVENT_INIT {0}
/* clang-format on */

/* weft_event_init - a cleared event. Returns 0, WEFT_EINVAL (NULL e).
 * Blocks: no. Cancellation point: no. Thread safety: not on e. Async-signal-safe: yes. */
WEFT_API int weft_event_init(weft_event *e);

/* weft_event_set - set the flag and wake every waiting thread (Event.set).
 * Returns 0, WEFT_EINVAL (NULL e).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_event_set(weft_event *e);

/* weft_event_clear - clear the flag (Event.clear). Returns 0, WEFT_EINVAL (NULL e).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_event_clear(weft_event *e);

/* weft_event_is_set - 1 if the flag is set, 0 if not, WEFT_EINVAL for NULL (Event.is_set).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_event_is_set(const weft_event *e);

/* weft_event_wait - wait until the flag is set (Event.wait). A set flag returns at once with
 * no system call. A thread woken by weft_event_set returns 0 even if the flag was cleared
 * again before it ran.
 * Returns 0, WEFT_EAGAIN (timeout 0, flag clear), WEFT_ETIMEDOUT, WEFT_ECANCELED, WEFT_EINVAL
 * (NULL e, negative timeout).
 * Freeing: once this returns 0 in any thread, e may be freed (if nobody else uses it), even
 * while weft_event_set is still returning.
 * Blocks: yes, while the flag is clear. Cancellation point: yes, when it waits.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_event_wait(weft_event *e, weft_ns timeout);

/* ---- Barrier ------------------------------------------------------------------------------- */

/* Run by one thread (the last to arrive) before the others are released, with the barrier's
 * internal lock held: it must not call weft_barrier_* on the same barrier. Non-zero breaks
 * the barrier: every party then returns WEFT_EBROKEN (the action may weft_error_set a
 * message). */
typedef int (*weft_barrier_action)(void *arg);

/* threading.Barrier. */
typedef struct weft_barrier {
    weft_lock lock;             /* internal: guards the fields below */
    uint32_t waiters;           /* internal: threads parked; accessed atomically */
    uint32_t parties;           /* internal */
    uint32_t count;             /* internal: threads inside wait */
    int32_t state;              /* internal: 0 filling, 1 draining, -1 resetting, -2 broken */
    weft_barrier_action action; /* internal */
    void *arg;                  /* internal */
    weft_ns timeout;            /* internal: the default timeout; 0: none (WEFT_FOREVER) */
} weft_barrier;

/* clang-format off */
#define WEFT_BARRIER_INIT(parties, action, arg) \
    {WEFT_LOCK_INIT, 0, (parties), 0, 0, (action), (arg), 0}
/* threading.Barrier(parties, action, timeout): with a default timeout (> 0) for waits given
 * WEFT_FOREVER (see weft_barrier_set_timeout). */
#define WEFT_BARRIER_INIT_TIMEOUT(parties, action, arg, timeout) \
    {WEFT_LOCK_INIT, 0, (parties), 0, 0, (action), (arg), (timeout)}
/* clang-format on */

/* weft_barrier_init - a barrier for parties threads (threading.Barrier(parties, action)).
 * b: caller-owned. action: may be NULL; arg is passed to it and never dereferenced by weft.
 * Returns 0, WEFT_EINVAL (NULL b, parties 0). An all-zero barrier has 0 parties: its wait
 * returns WEFT_EINVAL.
 * Blocks: no. Cancellation point: no. Thread safety: not on b. Async-signal-safe: yes. */
WEFT_API int weft_barrier_init(weft_barrier *b, uint32_t parties, weft_barrier_action action,
                               void *arg);

/* weft_barrier_set_timeout - give b a default timeout, the timeout argument of Python's
 * Barrier(parties, action, timeout): a weft_barrier_wait given WEFT_FOREVER (Python's
 * wait(timeout=None)) waits at most timeout; a wait given any other timeout uses its own, as
 * in Python. Running out is the same as for an explicit timeout, as in Python: the waiter
 * that ran out gets WEFT_ETIMEDOUT and the barrier breaks (the others get WEFT_EBROKEN until
 * weft_barrier_reset).
 * b: caller-owned. timeout: > 0; WEFT_FOREVER removes the default.
 * Returns 0, WEFT_EINVAL (NULL b; timeout 0 or negative: a default of 0 would break the barrier
 * at every wait that is not the last).
 * Blocks: no. Cancellation point: no. Thread safety: not on b (set it before the barrier is
 * used, like weft_barrier_init). Async-signal-safe: yes. */
WEFT_API int weft_barrier_set_timeout(weft_barrier *b, weft_ns timeout);

/* weft_barrier_wait - arrive and wait until all parties have (Barrier.wait). The last to
 * arrive runs the action, then releases everyone; the barrier then resets itself for reuse.
 * Returns the arrival index, 0 .. parties - 1 (exactly one thread gets each), or:
 * WEFT_EBROKEN (the barrier is or became broken: abort, reset while waiting, a failed action,
 * another party's timeout or cancellation), WEFT_ETIMEDOUT (the caller's own timeout ran out:
 * this breaks the barrier for everyone else, as in Python), WEFT_ECANCELED (cancelled: also
 * breaks it), WEFT_EAGAIN (timeout 0 and the caller is not the last party: it does not count
 * as arrived and nothing breaks), WEFT_EINVAL (NULL b, 0 parties, negative timeout).
 * timeout: WEFT_FOREVER means the barrier's default timeout when it has one
 * (weft_barrier_set_timeout), else forever.
 * Freeing: once this has returned in every party, b may be freed; the last party to return
 * may free it at once, even while the others are still returning.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_barrier_wait(weft_barrier *b, weft_ns timeout);

/* weft_barrier_abort - break the barrier: current and future waits return WEFT_EBROKEN until
 * weft_barrier_reset (Barrier.abort). b: borrowed. Returns 0, WEFT_EINVAL (NULL b).
 * Blocks: briefly, on the barrier's lock. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_barrier_abort(weft_barrier *b);

/* weft_barrier_reset - return the barrier to its empty state (Barrier.reset); threads waiting
 * on it return WEFT_EBROKEN. b: borrowed. Returns 0, WEFT_EINVAL (NULL b).
 * Blocks: briefly, on the barrier's lock. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_barrier_reset(weft_barrier *b);

/* weft_barrier_n_waiting - threads currently waiting (Barrier.n_waiting); WEFT_EINVAL for NULL.
 * weft_barrier_broken - 1 if broken (Barrier.broken), else 0; WEFT_EINVAL for NULL.
 * b: borrowed. Blocks: briefly, on the barrier's lock. Cancellation point: no.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_barrier_n_waiting(weft_barrier *b);
WEFT_API int weft_barrier_broken(weft_barrier *b);

/* ---- once ---------------------------------------------------------------------------------- */

typedef struct weft_once_flag {
    uint64_t state; /* internal: 0 new, 1 running, 2 done | threads waiting << 32; atomic */
} weft_once_flag;

/* clang-format off */
#define WEFT_ONCE_INIT {0}
/* clang-format on */

/* weft_once - run fn(arg) once for flag, however many threads call this at the same time.
 * Threads that arrive while another runs fn wait for it. If fn returns non-zero the flag stays
 * new: that caller gets fn's value, and the next caller (or a waiting one) runs fn again.
 * flag, fn: borrowed; arg: passed to fn. Once fn has succeeded, further calls return 0 at once
 * with no system call.
 * Returns 0, fn's non-zero value (in the thread that ran it), WEFT_EINVAL (NULL flag or fn).
 * Freeing: once this returns 0 in any thread, flag may be freed (if nobody else uses it),
 * even while the thread that ran fn is still returning from weft_once.
 * Blocks: yes, while another thread runs fn. Cancellation point: no (fn has no timeout either:
 * an initializer must finish, as with pthread_once). Thread safety: safe.
 * Async-signal-safe: no. fn must not call weft_once on the same flag (it would wait forever). */
WEFT_API int weft_once(weft_once_flag *flag, int (*fn)(void *arg), void *arg);

/* ---- latch --------------------------------------------------------------------------------- */

/* A countdown latch (Java CountDownLatch, C++ std::latch): waits end when the count reaches 0. */
typedef struct weft_latch {
    uint64_t state; /* internal: count | threads waiting << 32; accessed atomically */
} weft_latch;

/* clang-format off */
#define WEFT_LATCH_INIT(count) {(uint32_t)(count)}
/* clang-format on */

/* weft_latch_init - a latch that opens after count count-downs (0: already open).
 * Returns 0, WEFT_EINVAL (NULL l).
 * Blocks: no. Cancellation point: no. Thread safety: not on l. Async-signal-safe: yes. */
WEFT_API int weft_latch_init(weft_latch *l, uint32_t count);

/* weft_latch_count_down - lower the count by n; reaching 0 wakes every waiter. n == 0 does
 * nothing. Returns 0, WEFT_EOVERFLOW (n is more than the count left; nothing changes),
 * WEFT_EINVAL (NULL l).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_latch_count_down(weft_latch *l, uint32_t n);

/* weft_latch_wait - wait until the count is 0.
 * Returns 0, WEFT_EAGAIN (timeout 0, count not 0), WEFT_ETIMEDOUT, WEFT_ECANCELED, WEFT_EINVAL
 * (NULL l, negative timeout).
 * Freeing: once this returns 0 in any thread, l may be freed (if nobody else uses it), even
 * while the weft_latch_count_down that opened it is still returning.
 * Blocks: yes, while the count is not 0. Cancellation point: yes, when it waits.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_latch_wait(weft_latch *l, weft_ns timeout);

/* weft_latch_count - the count left (may be stale at once); 0 for NULL.
 * l: borrowed. Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: yes. */
WEFT_API uint32_t weft_latch_count(const weft_latch *l);

WEFT_END_DECLS

#endif
