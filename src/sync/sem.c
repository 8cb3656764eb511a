/* src/sync/sem.c - Semaphore, BoundedSemaphore, Event, the countdown latch and once.
 *
 * All four are one 64-bit word: the low half is the state (permits, set count and flag, count
 * left, once state), the high half the number of threads waiting (W per thread). They wait
 * with the same pattern (core/lot.h): a fast path on the word; then, under the bucket lock,
 * one RMW that adds W and returns the state (sleep only if it still says so), park, and take
 * the W back once the wait ends. The waking side changes the state with one RMW, which also
 * tells it whether anyone waits, and then touches only the bucket (keyed by address), never
 * the object again.
 *
 * Lifetime. That single RMW is the waker's last access to the object, and it is what lets a
 * thread that sees the new state free the object at once, even while the waker is still in
 * its call (`if (weft_sem_acquire(s, WEFT_FOREVER) == 0) free(s);` racing weft_sem_release,
 * glibc's bug 12674). A separate waiter count read after the state change would be a late
 * read of freed memory, and a waker that decremented it a late write. So the waiters count
 * themselves, and the waker reads the count in the RMW that publishes.
 *
 * No lost wake-up: both sides' RMWs are on one word, so one comes first. A parker's W goes on
 * under the bucket lock, and its record is linked in the same hold: a waker whose RMW saw the
 * W takes the bucket lock after that, and finds the record. A parker whose RMW comes after the
 * waker's sees the new state and does not sleep.
 *
 * Late wake-ups. The bucket walk comes after the object may have been freed and its memory
 * reused; it can then wake waiters of whatever object lives there now. So these four park on
 * KEY(obj), the address + 1, which no lock, condition or barrier uses: a late wake-up can only
 * reach waiters of these four kinds, and each of them re-checks its state and parks again.
 *
 * Nothing is handed over: a woken semaphore waiter competes for the permit again (and parks
 * again if another thread took it first), so a wake-up is never lost to a racing timeout: a
 * record whose wait ended fails its claim and weft__lot_unpark wakes the next one instead.
 * Lock order: docs/design/locks.md; only bucket locks, inside weft__lot_*.
 */
#include <weft/error.h>
#include <weft/sync.h>

#include "core/annotate.h"
#include "core/debugrec.h"
#include "core/internal.h"
#include "core/lot.h"

#define W           ((uint64_t)1 << 32) /* one waiting thread in the high half */
#define LOW(v)      ((uint32_t)(v))
#define KEY(obj)    ((const char *)(obj) + 1)
#define WORD(field) ((_Atomic uint64_t *)(void *)&(field))

/* What a parker checks under the bucket lock: sleep_if(state) says whether to wait. */
struct park_arg {
    _Atomic uint64_t *word;
    bool (*sleep_if)(uint32_t state, const void *arg);
    const void *arg;
};

/* Under the bucket lock: count ourselves in and look at the state in one RMW; sleep if it
 * still says so, else take the count back. seq_cst: one of the two RMWs of the lost-wake-up
 * argument above (the other is the waker's); acquire for what the waker published. */
static bool count_in(void *p)
{
    struct park_arg *a = p;
    uint64_t v = atomic_fetch_add(a->word, W);
    if (a->sleep_if(LOW(v), a->arg)) return true;
    /* relaxed: taking our own count back publishes nothing. */
    atomic_fetch_sub_explicit(a->word, W, memory_order_relaxed);
    return false;
}

/* A wait on obj succeeded: tell TSan what the waker published (core/annotate.h); 0. */
static int acquired(const void *obj)
{
    weft__hb_acquire(obj);
    return 0;
}

/* Wait on obj's word until sleep_if(state) is false, woken, or out of time; 0 when woken or
 * the state changed before we slept (callers re-check and loop), else WEFT_ETIMEDOUT or
 * WEFT_ECANCELED. The caller tried its fast path. */
static int wait_once(const void *obj, _Atomic uint64_t *word,
                     bool (*sleep_if)(uint32_t, const void *), const void *arg, weft_ns deadline,
                     bool cancellable, unsigned kind)
{
    struct park_arg a = {word, sleep_if, arg};
    unsigned flags = (cancellable ? WEFT__LOT_CANCELLABLE : 0) | WEFT__LOT_KIND(kind);
    int rc = weft__lot_park(KEY(obj), NULL, count_in, &a, deadline, flags);
    if (rc == WEFT_EAGAIN) return 0; /* count_in took its count back */
    /* relaxed: our own count; the object is still ours to touch (we are inside its call). */
    atomic_fetch_sub_explicit(word, W, memory_order_relaxed);
    return rc;
}

/* After a waker's RMW that returned old: wake up to n waiters if old counted any. Touches
 * the bucket only, never the object. */
static void wake(const void *obj, uint64_t old, uint32_t n)
{
    if (old >= W) weft__lot_unpark(KEY(obj), n, NULL, NULL);
}

/* ---- Semaphore ---- */

int weft_sem_init(weft_sem *s, uint32_t value)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    *s = (weft_sem)WEFT_SEM_INIT(value);
    return 0;
}

int weft_sem_init_bounded(weft_sem *s, uint32_t value)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    if (value == UINT32_MAX) return weft__fail(WEFT_EINVAL, "value is %u: too large", value);
    *s = (weft_sem)WEFT_BOUNDED_SEM_INIT(value);
    return 0;
}

static bool try_take(_Atomic uint64_t *word)
{
    uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
    /* relaxed first guess; acquire CAS: pairs with the CAS in weft_sem_release. */
    while (LOW(v) != 0)
        if (atomic_compare_exchange_weak_explicit(word, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static bool no_permit(uint32_t value, const void *unused)
{
    (void)unused;
    return value == 0;
}

int weft_sem_acquire(weft_sem *s, weft_ns timeout)
{
    if (s == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", s == NULL ? "s is NULL" : "timeout is negative");
    _Atomic uint64_t *word = WORD(s->state);
    if (try_take(word)) return acquired(s);
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    for (;;) {
        int rc = wait_once(s, word, no_permit, NULL, deadline, true, WEFT__WAIT_SEM);
        if (try_take(word)) return acquired(s);
        if (rc) return rc;
    }
}

int weft_sem_release(weft_sem *s, uint32_t n)
{
    if (s == NULL || n == 0)
        return weft__fail(WEFT_EINVAL, "%s", s == NULL ? "s is NULL" : "n is 0");
    _Atomic uint64_t *word = WORD(s->state);
    uint32_t max = s->limit ? s->limit - 1 : UINT32_MAX; /* read before the CAS: see above */
    weft__hb_release(s);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
    do {
        if (LOW(v) > max || n > max - LOW(v)) return WEFT_EOVERFLOW;
        /* seq_cst: publishes the permits (acquire partner: try_take), and reads the waiter
         * count in the same step: our last access to s. */
    } while (!atomic_compare_exchange_weak(word, &v, v + n));
    wake(s, v, n);
    return 0;
}

uint32_t weft_sem_value(const weft_sem *s)
{
    /* relaxed: a snapshot that orders nothing (documented as possibly stale). */
    return s ? LOW(atomic_load_explicit(WORD(s->state), memory_order_relaxed)) : 0;
}

/* ---- Event ----
 * The low half is (number of sets << 1) | flag. A waiter remembers the word it saw clear and
 * returns once the set count moved on: a set() that ran, and a clear() after it, before the
 * waiter began cannot end its wait (Python: only a set() during the wait counts), even when
 * that set()'s wake-up reaches a record linked after the clear. */

int weft_event_init(weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    *e = (weft_event)WEFT_EVENT_INIT;
    return 0;
}

int weft_event_set(weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    _Atomic uint64_t *word = WORD(e->state);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint64_t v = atomic_load_explicit(word, memory_order_relaxed), n;
    weft__hb_release(e);
    /* seq_cst: publishes the flag (acquire partner: weft_event_wait) and reads the waiter
     * count in the same step: our last access to e. Setting a set flag changes nothing and
     * wakes nobody: its waiters were woken by the set that set it. */
    do {
        if (v & 1) return 0;
        n = (v - LOW(v)) | ((uint32_t)(LOW(v) + 2) | 1);
    } while (!atomic_compare_exchange_weak(word, &v, n));
    wake(e, v, UINT32_MAX);
    return 0;
}

int weft_event_clear(weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    /* relaxed: clearing publishes nothing; the set count in the word is kept. */
    atomic_fetch_and_explicit(WORD(e->state), ~(uint64_t)1, memory_order_relaxed);
    return 0;
}

int weft_event_is_set(const weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    /* acquire: pairs with the CAS in weft_event_set. */
    return (atomic_load_explicit(WORD(e->state), memory_order_acquire) & 1) != 0;
}

static bool unchanged(uint32_t state, const void *seen)
{
    return state == *(const uint32_t *)seen;
}

int weft_event_wait(weft_event *e, weft_ns timeout)
{
    if (e == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", e == NULL ? "e is NULL" : "timeout is negative");
    _Atomic uint64_t *word = WORD(e->state);
    /* acquire: pairs with the CAS in weft_event_set. */
    uint32_t seen = LOW(atomic_load_explicit(word, memory_order_acquire));
    if (seen & 1) return acquired(e);
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    for (;;) {
        int rc = wait_once(e, word, unchanged, &seen, deadline, true, WEFT__WAIT_EVENT);
        /* acquire: pairs with the CAS in weft_event_set. Any set since we began counts. */
        if ((LOW(atomic_load_explicit(word, memory_order_acquire)) >> 1) != (seen >> 1))
            return acquired(e);
        if (rc) return rc;
    }
}

/* ---- latch ---- */

int weft_latch_init(weft_latch *l, uint32_t count)
{
    if (l == NULL) return weft__fail(WEFT_EINVAL, "l is NULL");
    *l = (weft_latch)WEFT_LATCH_INIT(count);
    return 0;
}

int weft_latch_count_down(weft_latch *l, uint32_t n)
{
    if (l == NULL) return weft__fail(WEFT_EINVAL, "l is NULL");
    _Atomic uint64_t *word = WORD(l->state);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
    weft__hb_release(l);
    do {
        if (n > LOW(v)) return WEFT_EOVERFLOW;
        if (n == 0) return 0;
        /* seq_cst: release partner of the acquire load in weft_latch_wait, and reads the
         * waiter count in the same step: our last access to l. */
    } while (!atomic_compare_exchange_weak(word, &v, v - n));
    if (LOW(v) == n) wake(l, v, UINT32_MAX);
    return 0;
}

static bool not_open(uint32_t count, const void *unused)
{
    (void)unused;
    return count != 0;
}

int weft_latch_wait(weft_latch *l, weft_ns timeout)
{
    if (l == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", l == NULL ? "l is NULL" : "timeout is negative");
    _Atomic uint64_t *word = WORD(l->state);
    /* acquire: pairs with the CAS in weft_latch_count_down. */
    if (LOW(atomic_load_explicit(word, memory_order_acquire)) == 0) return acquired(l);
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    for (;;) {
        int rc = wait_once(l, word, not_open, NULL, deadline, true, WEFT__WAIT_LATCH);
        /* acquire: as above. A wake-up may be a late one for another object (see the top). */
        if (LOW(atomic_load_explicit(word, memory_order_acquire)) == 0) return acquired(l);
        if (rc) return rc;
    }
}

uint32_t weft_latch_count(const weft_latch *l)
{
    /* relaxed: a snapshot that orders nothing (documented as possibly stale). */
    return l ? LOW(atomic_load_explicit(WORD(l->state), memory_order_relaxed)) : 0;
}

/* ---- once ---- */

enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

static bool running(uint32_t state, const void *unused)
{
    (void)unused;
    return state == ONCE_RUNNING;
}

int weft_once(weft_once_flag *flag, int (*fn)(void *arg), void *arg)
{
    if (flag == NULL || fn == NULL)
        return weft__fail(WEFT_EINVAL, "%s", flag == NULL ? "flag is NULL" : "fn is NULL");
    _Atomic uint64_t *word = WORD(flag->state);
    for (;;) {
        /* acquire: pairs with the RMW that publishes ONCE_DONE below. */
        uint64_t v = atomic_load_explicit(word, memory_order_acquire);
        if (LOW(v) == ONCE_DONE) return acquired(flag); /* what fn wrote */
        /* acquire: pairs with the RMW of an earlier failed run (the next run sees its
         * effects). */
        if (LOW(v) == ONCE_NEW &&
            atomic_compare_exchange_strong_explicit(word, &v, v + ONCE_RUNNING,
                                                    memory_order_acquire, memory_order_acquire)) {
            weft__hb_acquire(flag); /* an earlier failed run's effects */
            int rc = fn(arg);
            weft__hb_release(flag); /* fn's effects, for every later caller */
            /* seq_cst: publishes fn's effects (acquire partner above) and reads the waiter
             * count in the same step: our last access to flag. A failure puts the flag back
             * to new for the next caller. */
            uint64_t old = rc == 0 ? atomic_fetch_add(word, ONCE_DONE - ONCE_RUNNING)
                                   : atomic_fetch_sub(word, ONCE_RUNNING - ONCE_NEW);
            wake(flag, old, UINT32_MAX);
            return rc;
        }
        if (LOW(v) == ONCE_RUNNING)
            (void)wait_once(flag, word, running, NULL, WEFT_FOREVER, false, WEFT__WAIT_ONCE);
    }
}
