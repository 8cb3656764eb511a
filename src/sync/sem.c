/* src/sync/sem.c - Semaphore, BoundedSemaphore, Event, the countdown latch and once.
 *
 * All four are a state word plus a waiter count, and wait with the same pattern (sync/lot.h):
 * a fast path on the word; then, under the bucket lock, raise the count (seq_cst), re-check the
 * word (seq_cst) and park. The waking side changes the word with a seq_cst RMW, then reads the
 * count (seq_cst) and takes the bucket only when someone waits. That Dekker pair is why these
 * particular accesses are seq_cst; the fast-path loads are acquire, paired with the RMWs.
 *
 * Nothing is handed over: a woken semaphore waiter competes for the permit again (and parks
 * again if another thread took it first), so a wake-up is never lost to a racing timeout: a
 * record whose wait ended fails its claim and weft__lot_unpark wakes the next one instead.
 * Lock order: only bucket locks, inside weft__lot_*.
 */
#include <weft/error.h>
#include <weft/sync.h>

#include "internal.h"
#include "sync/lot.h"

/* Wait on key until check(obj) is false, up to deadline. The caller tried its fast path. */
static int wait_until(void *key, _Atomic uint32_t *waiters, weft__lot_check sleep_if,
                      weft_ns deadline, bool cancellable)
{
    unsigned flags = cancellable ? WEFT__LOT_CANCELLABLE : 0;
    int rc = weft__lot_park(key, waiters, sleep_if, key, deadline, flags);
    return rc == WEFT_EAGAIN ? 0 : rc; /* EAGAIN: the state changed before we slept */
}

static void wake_all(void *key, _Atomic uint32_t *waiters)
{
    if (atomic_load(waiters) != 0) weft__lot_unpark(key, waiters, UINT32_MAX, NULL, NULL);
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

static bool try_take(_Atomic uint32_t *value)
{
    uint32_t v = atomic_load_explicit(value, memory_order_relaxed);
    /* relaxed first guess; acquire CAS: pairs with the CAS in weft_sem_release. */
    while (v != 0)
        if (atomic_compare_exchange_weak_explicit(value, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static bool sem_empty(void *s)
{
    return atomic_load(WEFT__ATOMIC32(((weft_sem *)s)->value)) == 0;
}

int weft_sem_acquire(weft_sem *s, weft_ns timeout)
{
    if (s == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", s == NULL ? "s is NULL" : "timeout is negative");
    _Atomic uint32_t *value = WEFT__ATOMIC32(s->value);
    if (try_take(value)) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    for (;;) {
        int rc = wait_until(s, WEFT__ATOMIC32(s->waiters), sem_empty, deadline, true);
        if (try_take(value)) return 0;
        if (rc) return rc;
    }
}

int weft_sem_release(weft_sem *s, uint32_t n)
{
    if (s == NULL || n == 0)
        return weft__fail(WEFT_EINVAL, "%s", s == NULL ? "s is NULL" : "n is 0");
    _Atomic uint32_t *value = WEFT__ATOMIC32(s->value);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint32_t v = atomic_load_explicit(value, memory_order_relaxed);
    do {
        uint32_t max = s->limit ? s->limit - 1 : UINT32_MAX;
        if (v > max || n > max - v) return WEFT_EOVERFLOW;
        /* seq_cst: publishes the permits (acquire partner: try_take) and is the waker's half
         * of the Dekker pair with the waiter count. */
    } while (!atomic_compare_exchange_weak(value, &v, v + n));
    if (atomic_load(WEFT__ATOMIC32(s->waiters)) != 0)
        weft__lot_unpark(s, WEFT__ATOMIC32(s->waiters), n, NULL, NULL);
    return 0;
}

uint32_t weft_sem_value(const weft_sem *s)
{
    /* relaxed: a snapshot that orders nothing (documented as possibly stale). */
    return s ? atomic_load_explicit(WEFT__ATOMIC32(s->value), memory_order_relaxed) : 0;
}

/* ---- Event ----
 * The word is (number of sets << 1) | flag. A waiter remembers the word it saw clear and
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
    _Atomic uint32_t *word = WEFT__ATOMIC32(e->flag);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint32_t v = atomic_load_explicit(word, memory_order_relaxed);
    /* seq_cst: publishes the flag (acquire partner: weft_event_wait) and is the waker's half
     * of the Dekker pair. Setting a set flag changes nothing and wakes nobody: its waiters
     * were woken by the set that set it. */
    do {
        if (v & 1) return 0;
    } while (!atomic_compare_exchange_weak(word, &v, (v + 2) | 1));
    wake_all(e, WEFT__ATOMIC32(e->waiters));
    return 0;
}

int weft_event_clear(weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    /* relaxed: clearing publishes nothing; the set count in the word is kept. */
    atomic_fetch_and_explicit(WEFT__ATOMIC32(e->flag), ~1u, memory_order_relaxed);
    return 0;
}

int weft_event_is_set(const weft_event *e)
{
    if (e == NULL) return weft__fail(WEFT_EINVAL, "e is NULL");
    /* acquire: pairs with the CAS in weft_event_set. */
    return (atomic_load_explicit(WEFT__ATOMIC32(e->flag), memory_order_acquire) & 1) != 0;
}

struct event_wait {
    weft_event *e;
    uint32_t seen; /* the clear word the waiter started from */
};

static bool event_unchanged(void *arg)
{
    struct event_wait *w = arg;
    return atomic_load(WEFT__ATOMIC32(w->e->flag)) == w->seen;
}

int weft_event_wait(weft_event *e, weft_ns timeout)
{
    if (e == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", e == NULL ? "e is NULL" : "timeout is negative");
    _Atomic uint32_t *word = WEFT__ATOMIC32(e->flag);
    /* acquire: pairs with the CAS in weft_event_set. */
    uint32_t v = atomic_load_explicit(word, memory_order_acquire);
    if (v & 1) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    struct event_wait w = {e, v};
    for (;;) {
        int rc = weft__lot_park(e, WEFT__ATOMIC32(e->waiters), event_unchanged, &w, deadline,
                                WEFT__LOT_CANCELLABLE);
        /* acquire: pairs with the CAS in weft_event_set. Any set since we began counts. */
        if ((atomic_load_explicit(word, memory_order_acquire) >> 1) != (v >> 1)) return 0;
        if (rc == WEFT_ETIMEDOUT || rc == WEFT_ECANCELED) return rc;
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
    _Atomic uint32_t *count = WEFT__ATOMIC32(l->count);
    /* relaxed: a first guess; the CAS below re-checks it. */
    uint32_t c = atomic_load_explicit(count, memory_order_relaxed);
    do {
        if (n > c) return WEFT_EOVERFLOW;
        if (n == 0) return 0;
        /* seq_cst: release partner of the acquire load in weft_latch_wait, and the waker's
         * half of the Dekker pair. */
    } while (!atomic_compare_exchange_weak(count, &c, c - n));
    if (c == n) wake_all(l, WEFT__ATOMIC32(l->waiters));
    return 0;
}

static bool latch_closed(void *l)
{
    return atomic_load(WEFT__ATOMIC32(((weft_latch *)l)->count)) != 0;
}

int weft_latch_wait(weft_latch *l, weft_ns timeout)
{
    if (l == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", l == NULL ? "l is NULL" : "timeout is negative");
    /* acquire: pairs with the CAS in weft_latch_count_down. */
    if (atomic_load_explicit(WEFT__ATOMIC32(l->count), memory_order_acquire) == 0) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    return wait_until(l, WEFT__ATOMIC32(l->waiters), latch_closed, weft_deadline(timeout), true);
}

uint32_t weft_latch_count(const weft_latch *l)
{
    /* relaxed: a snapshot that orders nothing (documented as possibly stale). */
    return l ? atomic_load_explicit(WEFT__ATOMIC32(l->count), memory_order_relaxed) : 0;
}

/* ---- once ---- */

enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

static bool once_running(void *f)
{
    return atomic_load(WEFT__ATOMIC32(((weft_once_flag *)f)->state)) == ONCE_RUNNING;
}

int weft_once(weft_once_flag *flag, int (*fn)(void *arg), void *arg)
{
    if (flag == NULL || fn == NULL)
        return weft__fail(WEFT_EINVAL, "%s", flag == NULL ? "flag is NULL" : "fn is NULL");
    _Atomic uint32_t *state = WEFT__ATOMIC32(flag->state);
    for (;;) {
        /* acquire: pairs with the exchange that publishes ONCE_DONE below. */
        uint32_t s = atomic_load_explicit(state, memory_order_acquire);
        if (s == ONCE_DONE) return 0;
        /* acquire: pairs with the exchange of an earlier failed run (the next run sees its
         * effects). */
        if (s == ONCE_NEW &&
            atomic_compare_exchange_strong_explicit(state, &s, ONCE_RUNNING, memory_order_acquire,
                                                    memory_order_acquire)) {
            int rc = fn(arg);
            /* seq_cst: publishes fn's effects (acquire partner above) and is the waker's half
             * of the Dekker pair. A failure puts the flag back to new for the next caller. */
            atomic_exchange(state, rc == 0 ? ONCE_DONE : ONCE_NEW);
            wake_all(flag, WEFT__ATOMIC32(flag->waiters));
            return rc;
        }
        if (s == ONCE_RUNNING)
            wait_until(flag, WEFT__ATOMIC32(flag->waiters), once_running, WEFT_FOREVER, false);
    }
}
