/* src/sync/lock.c - threading.Lock and threading.RLock.
 *
 * weft_lock is one word: LOCKED (bit 0), PARKED (bit 1, "threads may be parked on this
 * lock"), WAKING (bit 2, "a woken thread has not run yet") and, in bits 3-31, the holder's
 * record id for the dump (core/debugrec.h: weft__dbg_owner, 0 if unknown), written by the
 * CAS that takes the lock and cleared by every release, so it costs the fast paths nothing.
 * Acquire is a load and a CAS that sets LOCKED|holder whenever LOCKED is clear (PARKED and
 * WAKING may be set: they do not send either fast path to the slow one); release a CAS that
 * clears LOCKED and the holder (whoever holds it: any thread may release). Neither enters the
 * kernel unless a parked thread must be woken. A contender spins (see "Waiting" below), then
 * sets PARKED and parks on the lock's address (core/lot.h) after re-checking, under the bucket
 * lock, that the word still has LOCKED|PARKED. A release that sees PARKED wakes one parked
 * thread under the bucket lock and leaves PARKED set only if more remain, unless WAKING says
 * that a thread it woke earlier has not run yet: that one will retry, so waking another would
 * only add a futile wake-up per release under heavy contention (Go's sync.Mutex has the same
 * "woken" bit).
 *
 * The lock is not handed over: the woken thread competes again (a thread that arrives at the
 * right moment may take the lock first, which keeps throughput high under contention; the
 * woken thread parks again at the back). So a wake-up can never be lost to a racing timeout:
 * a record whose wait already ended fails its claim and the release wakes the next one.
 *
 * Invariants: PARKED is set whenever a record for the lock is linked (parkers set it before
 * they link, releasers clear it only under the bucket lock when no record remains); only a
 * releaser clears LOCKED; WAKING is set by the one releaser that wakes (before its claim) and
 * cleared by the thread it woke, or by the releaser itself if every claim failed. So when a
 * release skips the wake-up because of WAKING, a woken thread is still to try the lock.
 * Lock order: docs/design/locks.md. Here: a bucket lock is taken only inside weft__lot_*; it
 * is never held while a weft_lock is acquired.
 *
 * weft_rlock = owner tag + count + weft_lock. Only the owner writes count; owner is atomic
 * because other threads read it to compare with their own tag (never equal to theirs).
 */
#include <weft/error.h>
#include <weft/sync.h>

#include "core/annotate.h"
#include "core/debugrec.h"
#include "core/internal.h"
#include "os/os.h"
#include "core/lot.h"
#include "debug_internal.h"
#include "sync/sync.h"

enum { LOCKED = 1, PARKED = 2, WAKING = 4, HOLDER_SHIFT = 3 };

/* Waiting. A contender that found the lock taken probes the word three more times, after
 * LOCK_BACKOFF_MIN pauses and then at gaps doubling up to LOCK_BACKOFF_MAX (LOCK_SPIN_PAUSES
 * in all; a pause is 10-40 ns: 0.7-2.5 us to the second probe, 5-18 us in all). Then it yields
 * the CPU between probes LOCK_YIELDS times, and only then sets PARKED and sleeps
 * (weft__lot_park without the parking lot's own spin: the release it waits for shows in the
 * word, where it spun; a parked spinner would only make every release pay for a futile
 * wake-up). A woken thread that loses the lock again starts over. A deadline or a
 * cancellation ends the spinning early (the park then returns at once).
 *
 * Why the gaps are that wide: under saturation (the holder takes the lock again a few
 * nanoseconds after each release) the lock is free a good part of the time, so nearly every
 * probe that comes soon wins it, and every such win moves the lock, the data it guards and
 * the next spinner's probes between CPUs (several hundred nanoseconds of stalls each). Probes
 * nanoseconds apart made a hand-over every ~15 critical sections; a microsecond apart, every
 * ~150. Why yield, and soon: with more threads than CPUs (or other work on them) the holder
 * may be waiting for the CPU that a spinner occupies; a longer pause budget (1024) measured
 * worse there and no better elsewhere. A waiter told that the holder is about to release
 * (WEFT__LOCK_SOON: a condition taking its lock back from the notifier, a barrier's short
 * section) probes densely from the start (1, 2, 4 ... pauses), as it would otherwise lose
 * most of a gap. */
#define LOCK_BACKOFF_MIN 64
#define LOCK_BACKOFF_MAX 256
#define LOCK_SPIN_PAUSES (64 + 128 + 256)
#define LOCK_YIELDS      16

static bool still_locked_and_parked(void *word)
{
    uint32_t v = atomic_load((_Atomic uint32_t *)word);
    weft__parker_self()->holder = v >> HOLDER_SHIFT; /* for the dump, if we go to sleep */
    return (v & (LOCKED | PARKED)) == (LOCKED | PARKED);
}

/* PARKED|WAKING as this thread last found them in a lock word it took: the fast paths' guess
 * of the flags (while threads are parked on a busy lock they stay set for many acquisitions,
 * and a wrong guess costs a failed CAS). Any guess is safe: the CAS checks it. */
static _Thread_local uint32_t guess_flags WEFT__TLS_IE;

/* One attempt without waiting, given a guess v of the word: takes the lock if LOCKED is clear
 * (PARKED and WAKING may be set). */
static inline bool try_lock_from(_Atomic uint32_t *s, uint32_t v)
{
    /* acquire: pairs with the release CAS in weft_lock_release / after_wake. */
    while (!(v & LOCKED))
        if (atomic_compare_exchange_weak_explicit(s, &v, v | LOCKED | weft__dbg_owner,
                                                  memory_order_acquire, memory_order_relaxed)) {
            if (v != guess_flags) guess_flags = v & (PARKED | WAKING);
            return true;
        }
    return false;
}

/* The same after a look at the word (a waiter's probe: a load does not take the cache line
 * away from the holder as a failing CAS would). */
static inline bool try_lock(_Atomic uint32_t *s)
{
    /* relaxed: a first guess; the CAS re-checks it. */
    return try_lock_from(s, atomic_load_explicit(s, memory_order_relaxed));
}

/* Whether a waiter should stop spinning and go to park now: its deadline passed or it was
 * cancelled (the park then returns at once with the verdict). */
static bool spin_over(weft_ns deadline, bool cancellable)
{
    if (cancellable && weft__cancel_pending()) return true;
    return deadline != WEFT_FOREVER && weft__os_now() >= deadline;
}

static int lock_wait(weft_lock *l, weft_ns deadline, unsigned how)
{
    _Atomic uint32_t *s = WEFT__ATOMIC32(l->state);
    bool cancellable = how & WEFT__LOCK_CANCELLABLE;
    unsigned flags = (cancellable ? WEFT__LOT_CANCELLABLE : 0) | WEFT__LOT_NOSPIN |
                     WEFT__LOT_KIND(WEFT__WAIT_LOCK);
    int first = how & WEFT__LOCK_SOON ? 1 : LOCK_BACKOFF_MIN;
    for (int paused = 0, backoff = first, yields = 0;;) {
        if (try_lock(s)) return 0;
        /* relaxed: only steers spinning; every decision is re-checked by a CAS or under the
         * bucket lock (still_locked_and_parked). */
        uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
        /* Spin only while nobody is parked: otherwise queue up behind the sleepers. */
        bool spin = !(v & PARKED) && yields < LOCK_YIELDS;
        if (spin && !spin_over(deadline, cancellable)) {
            if (paused < LOCK_SPIN_PAUSES) {
                for (int i = 0; i < backoff; i++) weft__os_relax();
                paused += backoff;
                if (backoff < LOCK_BACKOFF_MAX) backoff *= 2;
            } else {
                weft__os_yield();
                yields++;
            }
            continue;
        }
        /* relaxed: the bucket-lock re-check in still_locked_and_parked orders the park. */
        if (!(v & PARKED) && !atomic_compare_exchange_weak_explicit(
                                 s, &v, v | PARKED, memory_order_relaxed, memory_order_relaxed))
            continue;
        int rc = weft__lot_park(l, NULL, still_locked_and_parked, s, deadline, flags);
        if (rc == WEFT_ETIMEDOUT || rc == WEFT_ECANCELED) return rc;
        if (rc != 0) continue; /* WEFT_EAGAIN: the lock was released before we slept */
        /* Woken: we were the pending wake-up; from now on a release may wake another.
         * relaxed: WAKING guards no data; after_wake's CAS loop preserves the cleared bit. */
        atomic_fetch_and_explicit(s, ~(uint32_t)WAKING, memory_order_relaxed);
        paused = 0, backoff = first, yields = 0; /* running again: spin again */
    }
}

int weft__lock_wait(weft_lock *l, weft_ns deadline, unsigned flags)
{
    int rc = lock_wait(l, deadline, flags);
    if (rc != 0) return rc;
    if (weft__lock_hooked()) weft__lock_hook_acquired(l, false);
    return 0;
}

int weft_lock_init(weft_lock *l)
{
    if (l == NULL) return weft__fail(WEFT_EINVAL, "l is NULL");
    /* relaxed: init, before the lock is shared (publishing it is the caller's business). */
    atomic_store_explicit(WEFT__ATOMIC32(l->state), 0, memory_order_relaxed);
    return 0;
}

int weft_lock_acquire(weft_lock *l, weft_ns timeout)
{
    if (l == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", l == NULL ? "l is NULL" : "timeout is negative");
    /* Guess the word is free with the flags last seen; a wrong guess costs one more CAS. */
    if (try_lock_from(WEFT__ATOMIC32(l->state), guess_flags)) {
        if (weft__lock_hooked()) weft__lock_hook_acquired(l, timeout == 0);
        return 0;
    }
    if (timeout == 0) return WEFT_EAGAIN;
    return weft__lock_wait(l, weft_deadline(timeout), WEFT__LOCK_CANCELLABLE);
}

/* Under the bucket lock, after the claim: unlock, keep PARKED only if records remain, and
 * drop WAKING if nobody was woken. A CAS loop, because the woken thread may already be
 * clearing WAKING (it must not be set again behind its back). */
static void after_wake(void *word, const weft__lot_result *r)
{
    _Atomic uint32_t *s = word;
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint32_t v = atomic_load_explicit(s, memory_order_relaxed), n;
    do {
        n = (v & WAKING) | (r->more ? PARKED : 0);
        if (r->woken == 0) n = r->more ? PARKED : 0;
        /* release: pairs with the acquire CAS of the next holder. */
    } while (!atomic_compare_exchange_weak_explicit(s, &v, n, memory_order_release,
                                                    memory_order_relaxed));
}

/* A release that must wake a parked thread (v: the word, LOCKED|PARKED without WAKING). */
static int release_wake(weft_lock *l, uint32_t v)
{
    _Atomic uint32_t *s = WEFT__ATOMIC32(l->state);
    /* Become the one pending wake-up before claiming anyone (the woken thread clears it).
     * relaxed: LOCKED is still ours; after_wake publishes the unlock. */
    while (!atomic_compare_exchange_weak_explicit(s, &v, v | WAKING, memory_order_relaxed,
                                                  memory_order_relaxed))
        if ((v & (LOCKED | PARKED | WAKING)) != (LOCKED | PARKED)) return -1; /* decide again */
    weft__lot_unpark(l, 1, after_wake, s);
    return 0;
}

int weft_lock_release(weft_lock *l)
{
    if (l == NULL) return weft__fail(WEFT_EINVAL, "l is NULL");
    if (weft__lock_hooked()) weft__lock_hook_released(l);
    _Atomic uint32_t *s = WEFT__ATOMIC32(l->state);
    uint32_t v = LOCKED | weft__dbg_owner | guess_flags; /* the usual word: our own hold */
    for (;;) {
        if (!(v & LOCKED))
            return weft__fail(WEFT_ESTATE, "the lock is not locked (a double release)");
        if ((v & (PARKED | WAKING)) == PARKED) {
            if (release_wake(l, v) == 0) return 0;
            /* relaxed: a fresh guess; the CAS below re-checks it. */
            v = atomic_load_explicit(s, memory_order_relaxed);
            continue;
        }
        /* Nobody parked, or a woken thread is on its way and will retry: just unlock (another
         * thread's release finds a different holder here, which is fine: any thread may).
         * release: pairs with the acquire CAS of the next holder (try_lock). */
        if (atomic_compare_exchange_weak_explicit(s, &v, v & (PARKED | WAKING),
                                                  memory_order_release, memory_order_relaxed))
            return 0;
    }
}

int weft_lock_locked(const weft_lock *l)
{
    if (l == NULL) return weft__fail(WEFT_EINVAL, "l is NULL");
    /* relaxed: a snapshot that orders nothing (documented as possibly stale). */
    return (atomic_load_explicit(WEFT__ATOMIC32(l->state), memory_order_relaxed) & LOCKED) != 0;
}

/* ---- RLock ---- */

int weft_rlock_init(weft_rlock *r)
{
    if (r == NULL) return weft__fail(WEFT_EINVAL, "r is NULL");
    /* relaxed: init, before the RLock is shared. */
    atomic_store_explicit(WEFT__ATOMICPTR(r->owner), 0, memory_order_relaxed);
    r->count = 0;
    return weft_lock_init(&r->lock);
}

static bool owned_by_me(const weft_rlock *r)
{
    /* Read by every taker, written by the holder: an atomic that helgrind and DRD would take
     * for a race in the user's memory the RLock lives in (core/annotate.h). */
    weft__vg_untracked((void *)&r->owner, sizeof r->owner);
    /* relaxed: only this thread ever stores its own tag, so equality needs no ordering. */
    return atomic_load_explicit(WEFT__ATOMICPTR(r->owner), memory_order_relaxed) ==
           weft__sync_self();
}

int weft__rlock_take(weft_rlock *r, uint32_t count)
{
    /* relaxed: owner is only compared for equality with the reader's own tag (owned_by_me);
     * count is ordered by r->lock, which we hold. */
    atomic_store_explicit(WEFT__ATOMICPTR(r->owner), weft__sync_self(), memory_order_relaxed);
    r->count = count;
    return 0;
}

int weft_rlock_acquire(weft_rlock *r, weft_ns timeout)
{
    if (r == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", r == NULL ? "r is NULL" : "timeout is negative");
    if (owned_by_me(r)) {
        if (r->count == UINT32_MAX) return WEFT_EOVERFLOW;
        r->count++;
        return 0;
    }
    int rc = weft_lock_acquire(&r->lock, timeout);
    return rc ? rc : weft__rlock_take(r, 1);
}

uint32_t weft__rlock_drop(weft_rlock *r)
{
    uint32_t n = r->count;
    r->count = 0;
    /* relaxed: as in weft__rlock_take; the lock release below publishes the rest. */
    atomic_store_explicit(WEFT__ATOMICPTR(r->owner), 0, memory_order_relaxed);
    weft_lock_release(&r->lock);
    return n;
}

int weft_rlock_release(weft_rlock *r)
{
    if (r == NULL) return weft__fail(WEFT_EINVAL, "r is NULL");
    if (!owned_by_me(r)) return WEFT_EPERM;
    if (--r->count == 0) {
        r->count = 1;
        weft__rlock_drop(r);
    }
    return 0;
}

int weft_rlock_is_owned(const weft_rlock *r)
{
    if (r == NULL) return weft__fail(WEFT_EINVAL, "r is NULL");
    return owned_by_me(r);
}
