/* src/sync/cond.c - threading.Condition and threading.Barrier.
 *
 * A condition waiter links its record (keyed by &c->waiters, see core/lot.h) BEFORE it
 * releases the user lock. notify runs with the user lock held, so it either ran before the
 * waiter took the lock (the waiter was not waiting yet: Python's semantics) or it finds the
 * record: no notification is lost, and no sequence counter is needed. notify(n) claims up to n
 * records; a record whose wait already timed out fails its claim and the next one is taken, so
 * exactly min(n, waiting) threads return 0. The waiter takes the user lock back with a wait
 * that neither times out nor is cancelled (it must return holding it, as Python does).
 *
 * The barrier is Python's algorithm (Lib/threading.py) on its own weft_lock plus the same
 * key wait: states 0 filling, 1 draining, -1 resetting, -2 broken.
 *
 * Lock order: docs/design/locks.md (the user or barrier lock, then a bucket lock).
 * The waiter count of a condition is raised by a waiter under the bucket lock (before it
 * releases the user lock) and lowered by that waiter once its wait ended, never by notify
 * (core/lot.h); notify reads it under the user lock, which orders it after every increment of
 * a thread that waits. A stale extra only costs notify a look at the bucket.
 */
#include <weft/error.h>
#include <weft/sync.h>

#include "core/debugrec.h"
#include "core/internal.h"
#include "core/lot.h"
#include "sync/sync.h"

enum { OWN = 0, LOCK = 1, RLOCK = 2 };
enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };

/* Release the lock (l, or r fully), wait on key until woken or the deadline, take the lock
 * back as it was. Returns 0, WEFT_ETIMEDOUT or WEFT_ECANCELED; the lock is held in all cases. */
static int wait_on(_Atomic uint32_t *key, weft_lock *l, weft_rlock *r, weft_ns deadline,
                   unsigned kind, const void *obj)
{
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    weft__park_what(&p, kind, obj);
    weft__waiter_init(&w, &p, 0);
    weft__lot_enqueue(key, key, &w);
    uint32_t saved = 1;
    if (r)
        saved = weft__rlock_drop(r);
    else
        weft_lock_release(l);
    int rc = weft__lot_finish(key, key, &w, weft__park_wait(&p));
    weft__lock_wait(r ? &r->lock : l, WEFT_FOREVER, WEFT__LOCK_SOON);
    if (r) weft__rlock_take(r, saved);
    return rc;
}

static int wake(_Atomic uint32_t *key, uint32_t n)
{
    /* relaxed: read under the user lock, which orders it after the waiters' increments. */
    if (atomic_load_explicit(key, memory_order_relaxed) != 0) weft__lot_unpark(key, n, NULL, NULL);
    return 0;
}

/* ---- Condition ---- */

int weft_cond_init(weft_cond *c, weft_lock *lock)
{
    if (c == NULL) return weft__fail(WEFT_EINVAL, "c is NULL");
    *c = (weft_cond)WEFT_COND_INIT;
    if (lock) {
        c->lock = lock;
        c->kind = LOCK;
    }
    return 0;
}

int weft_cond_init_rlock(weft_cond *c, weft_rlock *rlock)
{
    if (c == NULL) return weft__fail(WEFT_EINVAL, "c is NULL");
    *c = (weft_cond)WEFT_COND_INIT;
    if (rlock) {
        c->lock = rlock;
        c->kind = RLOCK;
    }
    return 0;
}

/* The condition's lock as (l, r): exactly one is non-NULL; WEFT_EINVAL for a bad c. */
static int lock_of(weft_cond *c, weft_lock **l, weft_rlock **r)
{
    *l = NULL;
    *r = NULL;
    if (c == NULL) return weft__fail(WEFT_EINVAL, "c is NULL");
    if (c->kind == OWN)
        *r = &c->own;
    else if (c->kind == LOCK && c->lock)
        *l = c->lock;
    else if (c->kind == RLOCK && c->lock)
        *r = c->lock;
    else
        return weft__fail(WEFT_EINVAL, "the condition has no lock (not initialised?)");
    return 0;
}

/* As lock_of, and WEFT_EPERM unless the caller holds it (for a Lock: unless it is locked,
 * the most a Lock without owner can tell, as in CPython's Condition._is_owned). */
static int held_lock_of(weft_cond *c, weft_lock **l, weft_rlock **r)
{
    int rc = lock_of(c, l, r);
    if (rc) return rc;
    if (*r) return weft_rlock_is_owned(*r) == 1 ? 0 : WEFT_EPERM;
    return weft_lock_locked(*l) == 1 ? 0 : WEFT_EPERM;
}

int weft_cond_acquire(weft_cond *c, weft_ns timeout)
{
    weft_lock *l;
    weft_rlock *r;
    int rc = lock_of(c, &l, &r);
    if (rc) return rc;
    return r ? weft_rlock_acquire(r, timeout) : weft_lock_acquire(l, timeout);
}

int weft_cond_release(weft_cond *c)
{
    weft_lock *l;
    weft_rlock *r;
    int rc = lock_of(c, &l, &r);
    if (rc) return rc;
    return r ? weft_rlock_release(r) : weft_lock_release(l);
}

int weft_cond_wait(weft_cond *c, weft_ns timeout)
{
    weft_lock *l;
    weft_rlock *r;
    weft_ns deadline;
    int rc = held_lock_of(c, &l, &r);
    if (rc == 0) rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    if (timeout == 0) return WEFT_EAGAIN;
    return wait_on(WEFT__ATOMIC32(c->waiters), l, r, deadline, WEFT__WAIT_COND, c);
}

int weft_cond_wait_for(weft_cond *c, weft_cond_pred pred, void *arg, weft_ns timeout)
{
    weft_lock *l = NULL; /* set by held_lock_of on success; NULL quiets the compiler */
    weft_rlock *r = NULL;
    weft_ns deadline;
    int rc = pred ? held_lock_of(c, &l, &r) : weft__fail(WEFT_EINVAL, "pred is NULL");
    if (rc == 0) rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    while (!pred(arg)) {
        if (timeout == 0) return WEFT_EAGAIN;
        rc = wait_on(WEFT__ATOMIC32(c->waiters), l, r, deadline, WEFT__WAIT_COND, c);
        /* At the deadline the predicate gets a last look, as in Python. */
        if (rc == WEFT_ETIMEDOUT) return pred(arg) ? 0 : WEFT_ETIMEDOUT;
        if (rc) return rc;
    }
    return 0;
}

int weft_cond_notify(weft_cond *c, uint32_t n)
{
    weft_lock *l;
    weft_rlock *r;
    int rc = held_lock_of(c, &l, &r);
    if (rc) return rc;
    return n ? wake(WEFT__ATOMIC32(c->waiters), n) : 0;
}

int weft_cond_notify_all(weft_cond *c)
{
    return weft_cond_notify(c, UINT32_MAX);
}

/* ---- Barrier (b->lock held in the helpers) ---- */

int weft_barrier_init(weft_barrier *b, uint32_t parties, weft_barrier_action action, void *arg)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    if (parties == 0 || parties > INT32_MAX)
        return weft__fail(WEFT_EINVAL, "parties is %u; it must be 1 .. %d", parties, INT32_MAX);
    *b = (weft_barrier)WEFT_BARRIER_INIT(parties, action, arg);
    return 0;
}

int weft_barrier_set_timeout(weft_barrier *b, weft_ns timeout)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    if (timeout <= 0)
        return weft__fail(WEFT_EINVAL, "timeout is %lld; a default must be > 0",
                          (long long)timeout);
    b->timeout = timeout == WEFT_FOREVER ? 0 : timeout;
    return 0;
}

static void lock_barrier(weft_barrier *b)
{
    /* A short critical section: taken without timeout or cancellation. */
    weft__lock_wait(&b->lock, WEFT_FOREVER, WEFT__LOCK_SOON);
}

static void set_state(weft_barrier *b, int32_t state)
{
    b->state = state;
    wake(WEFT__ATOMIC32(b->waiters), UINT32_MAX);
}

/* Wait while the barrier drains or resets (Python's _enter). */
static int enter(weft_barrier *b, weft_ns deadline, bool try_only)
{
    while (b->state == DRAINING || b->state == RESETTING) {
        if (try_only) return WEFT_EAGAIN;
        int rc =
            wait_on(WEFT__ATOMIC32(b->waiters), &b->lock, NULL, deadline, WEFT__WAIT_BARRIER, b);
        if (rc) return rc;
    }
    return b->state == BROKEN ? WEFT_EBROKEN : 0;
}

/* The last party: run the action, then let everyone go (Python's _release). */
static int release_all(weft_barrier *b)
{
    if (b->action && b->action(b->arg) != 0) {
        set_state(b, BROKEN);
        return WEFT_EBROKEN;
    }
    set_state(b, DRAINING);
    return 0;
}

/* Wait for the last party; a timeout or cancellation breaks the barrier (Python's _wait). */
static int await_release(weft_barrier *b, weft_ns deadline)
{
    while (b->state == FILLING) {
        int rc =
            wait_on(WEFT__ATOMIC32(b->waiters), &b->lock, NULL, deadline, WEFT__WAIT_BARRIER, b);
        if (rc && b->state == FILLING) {
            set_state(b, BROKEN);
            return rc;
        }
    }
    return b->state == BROKEN || b->state == RESETTING ? WEFT_EBROKEN : 0;
}

/* The last one out ends draining or resetting (Python's _exit). */
static void leave(weft_barrier *b)
{
    if (--b->count == 0 && (b->state == DRAINING || b->state == RESETTING)) set_state(b, FILLING);
}

int weft_barrier_wait(weft_barrier *b, weft_ns timeout)
{
    weft_ns deadline;
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    if (b->parties == 0 || b->parties > INT32_MAX)
        return weft__fail(WEFT_EINVAL, "the barrier has %u parties (not initialised?)", b->parties);
    /* Python's wait(timeout=None) takes the barrier's default: set before use, read plainly */
    if (timeout == WEFT_FOREVER && b->timeout > 0) timeout = b->timeout;
    int rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    lock_barrier(b);
    rc = enter(b, deadline, timeout == 0);
    if (rc == 0 && timeout == 0 && b->count + 1 < b->parties) rc = WEFT_EAGAIN;
    if (rc) {
        weft_lock_release(&b->lock);
        return rc;
    }
    uint32_t index = b->count++;
    rc = index + 1 == b->parties ? release_all(b) : await_release(b, deadline);
    leave(b);
    weft_lock_release(&b->lock);
    return rc ? rc : (int)index;
}

int weft_barrier_abort(weft_barrier *b)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    lock_barrier(b);
    set_state(b, BROKEN);
    weft_lock_release(&b->lock);
    return 0;
}

int weft_barrier_reset(weft_barrier *b)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    lock_barrier(b);
    if (b->count == 0)
        set_state(b, FILLING);
    else if (b->state == FILLING || b->state == BROKEN)
        set_state(b, RESETTING);
    else
        set_state(b, b->state);
    weft_lock_release(&b->lock);
    return 0;
}

int weft_barrier_n_waiting(weft_barrier *b)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    lock_barrier(b);
    /* Python counts the threads that arrived in this cycle, not those draining out. */
    int n = b->state == FILLING ? (int)b->count : 0;
    weft_lock_release(&b->lock);
    return n;
}

int weft_barrier_broken(weft_barrier *b)
{
    if (b == NULL) return weft__fail(WEFT_EINVAL, "b is NULL");
    lock_barrier(b);
    int broken = b->state == BROKEN;
    weft_lock_release(&b->lock);
    return broken;
}
