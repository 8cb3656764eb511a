/* src/queue/queue.c - blocking queues: put/get with hand-off, batches, task accounting,
 * close and shutdown.
 *
 * Two kinds of queue share this file. FIFO queues are "fast": their items live in the
 * lock-free ring (bounded, ring.c) or list (unbounded, list.c), and the lock is taken only to
 * park or to wake a parked thread (wait.c states that protocol). LIFO and priority queues are
 * "locked", as described here. Close, shutdown, task_done and join are common to both.
 * Each public call turns its timeout into a deadline once, here (weft__queue_deadline); the
 * functions below it take only that.
 *
 * Shape (locked queues). One short internal lock (weft__lock: an uncontended acquire and
 * release are two atomic instructions, no system call) guards the store and three waiter
 * lists. A thread parks only when it must wait; a thread that makes progress for a parked one
 * hands it over directly, Go-channel style, instead of signalling it to come back and retry:
 *   - put with getters parked (the store is then empty): the item goes straight into the first
 *     getter's record (w->item) and that getter is claimed;
 *   - get from a full queue with putters parked: after taking an item, the first putter's item
 *     moves into the freed slot and that putter is claimed.
 * So a woken waiter never retries, never loses its turn to a newcomer, and a bounded queue
 * never holds more than capacity items.
 *
 * Invariants of locked queues (under q->lock):
 *   I1 getters is non-empty only while the store is empty and the queue is not shut down;
 *   I2 putters is non-empty only while a bounded store is full and the queue is not closed;
 *   I3 joiners is non-empty only while unfinished > 0;
 *   I4 closed and shut never go back to false; shut implies closed.
 * Each operation that changes the store or the flags restores them before it drops the lock:
 * a put serves getters first (I1), a get refills from putters (I2), close wakes the putters
 * and, when the store is empty, the getters (I1, I2), task_done/shutdown wake joiners at zero.
 *
 * Hand-off and lost items (the claim protocol of park.h). A waker fills the record (item,
 * result) and then claims it. For a getter, if the claim fails (the getter timed out or was
 * cancelled an instant before), the waker still holds the item and offers it to the next
 * getter or stores it. For a putter the waker reads the record's item BEFORE claiming and uses
 * it only if the claim succeeds: after a successful claim the putter may return at once and
 * its record (on its stack) is gone, so no field of a record is touched after its claim.
 *
 * Task accounting needs no lock (task_done takes it only to wake joiners at zero). A locked
 * queue keeps one atomic count, unfinished. A fast queue counts puts by its tail position and
 * keeps only done (task_done calls plus items handed back by shutdown): a fast put then writes
 * no counter besides the tail, which every producer must move anyway (a shared count raised
 * by every put was where most of a contended put's time went). unfinished = puts - done, and
 * done never exceeds puts. ngetters/nputters count the records on getters/putters for wait.c.
 *
 * Lifetime. A thread whose call returns because of another call on q may free q at once,
 * while that other call is still returning. So each waking call makes its last access to q
 * first and releases the threads it woke after (park.h's held claims):
 *   - put/get/task_done: the hand-off or wake-up happens under q->lock (a fast queue's before
 *     its cell is published, wait.c), and the flush comes after the lock release; a task_done
 *     or undo that brings the unfinished count to zero does so under q->lock, where joiners
 *     look at it;
 *   - close/shutdown count themselves in q->ending while they run (a shutdown drains and calls
 *     fn in between), and every call that would return because of them - WEFT_ECLOSED from a
 *     put, get or select, 0 from a join - first waits under q->lock until ending is back at 0
 *     (weft__queue_closed_wait, enders). The ender's last access to q is the release of q->lock
 *     that ends its count; only then are those threads woken. A shutdown's fn may call q: its
 *     own thread does not wait for itself (tls_ending).
 *
 * Lock order: docs/design/locks.md. Only weft_queue_select holds several queue locks, always
 * in address order (select.c).
 */
#include <stdlib.h>

#include <weft/error.h>
#include <weft/queue.h>

#include "core/annotate.h"
#include "core/debugrec.h"
#include "core/opts.h"
#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

/* Items shutdown takes out per lock hold, so that fn runs with no lock held. */
#define SHUTDOWN_CHUNK 64

/* The queue whose shutdown the calling thread is running (its fn may call that queue). */
static _Thread_local weft_queue *tls_ending WEFT__TLS_IE;

int weft_queue_new(weft_queue **out, const weft_queue_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_queue_opts") != 0) return WEFT_EINVAL;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    if (opts) o = *opts;
    if (o.order != WEFT_QUEUE_FIFO && o.order != WEFT_QUEUE_LIFO && o.order != WEFT_QUEUE_PRIORITY)
        return weft__fail(WEFT_EINVAL, "order is %d: unknown", o.order);
    if ((o.order == WEFT_QUEUE_PRIORITY) != (o.compare != NULL))
        return weft__fail(WEFT_EINVAL, "%s",
                          o.compare ? "compare is set but order is not PRIORITY"
                                    : "order PRIORITY needs compare");
    if (o.capacity > WEFT_QUEUE_CAPACITY_MAX)
        return weft__fail(WEFT_EINVAL, "capacity is %zu; the limit is %zu", o.capacity,
                          (size_t)WEFT_QUEUE_CAPACITY_MAX);
    weft_queue *q = weft__calloc_lines(sizeof *q);
    if (q == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a queue");
    q->fast = o.order == WEFT_QUEUE_FIFO;
    q->evfd = -1; /* no fd until weft_queue_fd (fd.c) */
    weft__list_init(&q->list);
    int rc = !q->fast     ? weft__store_init(&q->st, &o)
             : o.capacity ? weft__ring_init(&q->ring, o.capacity)
                          : 0;
    if (rc) {
        weft__store_fini(&q->st);
        free(q);
        return rc;
    }
    weft__queue_register(q);
    *out = q;
    return 0;
}

int weft_queue_free(weft_queue *q)
{
    if (q == NULL) return 0;
    weft__lock_acquire(&q->lock);
    bool busy = !weft__waitq_empty(&q->getters) || !weft__waitq_empty(&q->putters) ||
                !weft__waitq_empty(&q->joiners) || !weft__waitq_empty(&q->enders) || q->ending > 0;
    weft__lock_release(&q->lock);
    if (busy) return WEFT_EBUSY;
    weft__queue_unregister(q); /* waits for a dump that is reading q */
    weft__os_close(q->evfd);
    weft__ring_fini(&q->ring);
    weft__list_fini(&q->list);
    weft__store_fini(&q->st);
    free(q);
    return 0;
}

/* Pop the first record of list (q->lock held), keeping wait.c's counters right. */
static weft__waiter *pop(weft_queue *q, weft__waitq *list)
{
    weft__waiter *w = list->head;
    if (w) weft__queue_unlink(q, list, w);
    return w;
}

/* Claim every waiter on list with result; claims are deferred to wl. */
static void wake_all(weft_queue *q, weft__waitq *list, int result, weft__wakelist *wl)
{
    weft__waiter *w;
    while ((w = pop(q, list)) != NULL) {
        w->result = result;
        (void)weft__waiter_claim(w, wl);
    }
}

/* The items a fast queue's ring or list has taken so far. */
static size_t fast_puts(weft_queue *q)
{
    return q->ring.cap ? weft__ring_puts(&q->ring) : weft__list_puts(&q->list);
}

/* Items put and not yet done. A fast queue's done is read before its puts: since done never
 * exceeds puts and puts only grows, a 0 here means both were equal when puts was read. */
static size_t unfinished_count(weft_queue *q)
{
    /* acquire: pairs with the acq_rel CAS of the task_done (or undo) that reached zero. */
    if (!q->fast) return atomic_load_explicit(&q->unfinished, memory_order_acquire);
    size_t done = atomic_load_explicit(&q->done, memory_order_acquire);
    return fast_puts(q) - done;
}

#define UNDER_LOCK 1 /* done_fast/done_locked: this step reaches zero, redo it under q->lock */

/* Count n more items of a fast queue done, never beyond its puts (as undo clamps at zero):
 * WEFT_EOVERFLOW when nothing was unfinished. A step that would reach zero is taken only with
 * q->lock held (locked), where joiners look ("Lifetime"). *zero says whether none is left,
 * judged by reading puts again after the count moved (the argument of unfinished_count). */
static int done_fast(weft_queue *q, size_t n, bool locked, bool *zero)
{
    size_t d = atomic_load_explicit(&q->done, memory_order_relaxed), nd;
    do {
        size_t p = fast_puts(q);
        if (d == p) return WEFT_EOVERFLOW; /* done never passes puts; == also when 32-bit wraps */
        nd = p - d > n ? d + n : p;
        if (nd == p && !locked) return UNDER_LOCK; /* puts only grow: below p is never zero */
        /* acq_rel: release publishes the caller's work to a joiner's acquire load of done. */
    } while (!atomic_compare_exchange_weak_explicit(&q->done, &d, nd, memory_order_acq_rel,
                                                    memory_order_relaxed));
    *zero = nd == fast_puts(q);
    return 0;
}

/* The same for a locked queue's unfinished count (clamped at zero). */
static int done_locked(weft_queue *q, size_t n, bool locked, bool *zero)
{
    size_t v = atomic_load_explicit(&q->unfinished, memory_order_relaxed), nv;
    do {
        if (v == 0) return WEFT_EOVERFLOW;
        nv = v > n ? v - n : 0;
        if (nv == 0 && !locked) return UNDER_LOCK;
        /* acq_rel: release publishes the caller's work to a joiner's acquire load (join); the
         * acquire half keeps the CAS loop's reads ordered. */
    } while (!atomic_compare_exchange_weak_explicit(&q->unfinished, &v, nv, memory_order_acq_rel,
                                                    memory_order_relaxed));
    *zero = nv == 0;
    return 0;
}

/* Count n items done (task_done, a failed hand-off, items handed back by shutdown): 0 or
 * WEFT_EOVERFLOW (nothing was unfinished). Reaching zero claims every joiner into wl; locked:
 * the caller holds q->lock (else it is taken for that step only). */
static int count_done(weft_queue *q, size_t n, bool locked, weft__wakelist *wl)
{
    bool zero = false;
    int rc = q->fast ? done_fast(q, n, locked, &zero) : done_locked(q, n, locked, &zero);
    if (rc == UNDER_LOCK) {
        weft__lock_acquire(&q->lock);
        rc = count_done(q, n, true, wl);
        weft__lock_release(&q->lock);
        return rc;
    }
    /* A joiner links itself under q->lock after seeing unfinished > 0, and zero is reached
     * under q->lock: none is missed. */
    if (rc == 0 && zero) wake_all(q, &q->joiners, 0, wl);
    return rc;
}

void weft__queue_undo(weft_queue *q, size_t n, bool locked, weft__wakelist *wl)
{
    (void)count_done(q, n, locked, wl);
}

/* q->lock held: wait until no close or shutdown of q runs any more (not for the one the
 * calling thread runs itself). Returns with the lock held. The wait is neither timed nor
 * cancellable: it lasts as long as a shutdown's fn calls, and only the ender ends it. */
static void wait_ended_locked(weft_queue *q)
{
    while (q->ending > 0 && tls_ending != q) {
        weft__park p;
        weft__waiter w;
        weft__park_init(&p, WEFT_FOREVER);
        p.cancellable = false;
        weft__waiter_init(&w, &p, 0);
        weft__waitq_push(&q->enders, &w);
        weft__lock_release(&q->lock);
        (void)weft__park_wait(&p); /* only end_finish claims it, and unlinks it first */
        weft__lock_acquire(&q->lock);
    }
}

void weft__queue_closed_wait(weft_queue *q)
{
    weft__lock_acquire(&q->lock);
    wait_ended_locked(q);
    weft__lock_release(&q->lock);
}

/* The item was taken: one more unfinished task. relaxed: the getter takes the item under
 * q->lock or through the claim (acq_rel), either of which orders this before its task_done. */
static void count_put(weft_queue *q)
{
    atomic_fetch_add_explicit(&q->unfinished, 1, memory_order_relaxed);
}

int weft__queue_try_put(weft_queue *q, void *item, weft__wakelist *wl)
{
    /* relaxed: closed is written under q->lock, which we hold. */
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return WEFT_ECLOSED;
    weft__waiter *w;
    while ((w = pop(q, &q->getters)) != NULL) {
        w->item = item;
        w->result = 0;
        /* Count before the claim: once claimed, the getter may return and call task_done
         * (which does not take q->lock) before we would get to it. */
        count_put(q);
        if (weft__waiter_claim(w, wl)) return 0;
        /* The getter had already timed out or been cancelled: the item is still ours. */
        weft__queue_undo(q, 1, true, wl);
    }
    if (q->st.cap && q->st.count == q->st.cap) return WEFT_EAGAIN;
    int rc = weft__store_push(&q->st, item);
    if (rc == 0) count_put(q);
    if (rc == 0 && q->evfd >= 0) weft__queue_fd_sync(q);
    return rc;
}

/* A slot was just freed: move the first parked putter's item in (I2). */
static void refill(weft_queue *q, weft__wakelist *wl)
{
    weft__waiter *w;
    while ((w = pop(q, &q->putters)) != NULL) {
        void *item = w->item; /* read before the claim: the record may vanish right after */
        w->result = 0;
        if (weft__waiter_claim(w, wl)) {
            (void)weft__store_push(&q->st, item); /* bounded: room was just made, cannot fail */
            count_put(q);
            return;
        }
    }
}

int weft__queue_try_get(weft_queue *q, void **item, weft__wakelist *wl)
{
    /* relaxed: closed is written under q->lock, shut just before end() takes it; we hold it. */
    if (atomic_load_explicit(&q->shut, memory_order_relaxed)) return WEFT_ECLOSED;
    if (q->st.count == 0)
        return atomic_load_explicit(&q->closed, memory_order_relaxed) ? WEFT_ECLOSED : WEFT_EAGAIN;
    *item = weft__store_pop(&q->st);
    if (!weft__waitq_empty(&q->putters)) refill(q, wl);
    if (q->evfd >= 0) weft__queue_fd_sync(q);
    return 0;
}

/* I1-I4 (the header), checked in debug builds wherever an operation that held q->lock is
 * about to drop it or park (core/assert.h); I1-I3 concern locked queues only. */
static void check_locked(weft_queue *q)
{
#ifdef WEFT_DEBUG
    WEFT__ASSERT(weft__lock_held(&q->lock));
    bool closed = atomic_load_explicit(&q->closed, memory_order_relaxed);
    bool shut = atomic_load_explicit(&q->shut, memory_order_relaxed);
    WEFT__ASSERT(!shut || closed); /* I4 */
    if (q->fast) return;
    WEFT__ASSERT(weft__waitq_empty(&q->getters) || (q->st.count == 0 && !shut)); /* I1 */
    WEFT__ASSERT(weft__waitq_empty(&q->putters) ||
                 (q->st.cap && q->st.count == q->st.cap && !closed));        /* I2 */
    WEFT__ASSERT(weft__waitq_empty(&q->joiners) || unfinished_count(q) > 0); /* I3 */
#else
    (void)q;
#endif
}

/* Park on list (q->lock held, condition re-checked by the caller); drops the lock. Returns the
 * waker's result (0, WEFT_ECLOSED), WEFT_ETIMEDOUT or WEFT_ECANCELED. */
static int wait_locked(weft_queue *q, weft__waitq *list, weft__waiter *w, weft__wakelist *wl)
{
    weft__queue_link(q, list, w);
    check_locked(q);
    weft__lock_release(&q->lock);
    weft__wakelist_flush(wl);
    uint32_t s = weft__park_wait(w->park);
    if (s >= WEFT__PARK_WOKEN) return w->result;
    /* Timed out or cancelled: our claim won, so no waker gave us anything; unlink. */
    weft__lock_acquire(&q->lock);
    weft__queue_unlink(q, list, w);
    weft__lock_release(&q->lock);
    return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
}

/* A put or get on a locked store (LIFO, priority): try under the lock, else park on the
 * putters or getters until served, the deadline, or a cancel. For a put, *item is the item
 * (still the caller's unless 0 is returned); for a get, it receives one. */
static int locked_until(weft_queue *q, int op, void **item, weft_ns deadline)
{
    bool put = op == WEFT_QUEUE_PUT;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    int rc = put ? weft__queue_try_put(q, *item, &wl) : weft__queue_try_get(q, item, &wl);
    if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) {
        check_locked(q);
        weft__lock_release(&q->lock);
        weft__wakelist_flush(&wl);
        return rc;
    }
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    weft__park_what(&p, put ? WEFT__WAIT_QUEUE_PUT : WEFT__WAIT_QUEUE_GET, q);
    weft__waiter_init(&w, &p, 0);
    if (put) w.item = *item;
    rc = wait_locked(q, put ? &q->putters : &q->getters, &w, &wl);
    if (rc == 0 && !put) *item = w.item;
    return rc;
}

static int put_until(weft_queue *q, void *item, weft_ns deadline)
{
    if (q->fast) return weft__fast_put(q, item, deadline);
    return locked_until(q, WEFT_QUEUE_PUT, &item, deadline);
}

static int get_until(weft_queue *q, void **item, weft_ns deadline)
{
    if (q->fast) return weft__fast_get(q, item, deadline);
    return locked_until(q, WEFT_QUEUE_GET, item, deadline);
}

/* rc, once a WEFT_ECLOSED may be reported ("Lifetime"). */
static int ended(weft_queue *q, int rc)
{
    if (rc == WEFT_ECLOSED) weft__queue_closed_wait(q);
    return rc;
}

/* A call's deadline (weft__queue_deadline), or WEFT_EINVAL for a negative timeout. */
static int deadline_of(weft_ns timeout, weft_ns *deadline)
{
    if (timeout < 0)
        return weft__fail(WEFT_EINVAL, "timeout is negative (%lld)", (long long)timeout);
    *deadline = weft__queue_deadline(timeout);
    return 0;
}

int weft_queue_put(weft_queue *q, void *item, weft_ns timeout)
{
    if (q == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", q == NULL ? "q is NULL" : "timeout is negative");
    weft__hb_release(q); /* what the item points to, for a getter under TSan */
    return ended(q, put_until(q, item, weft__queue_deadline(timeout)));
}

int weft_queue_get(weft_queue *q, void **item, weft_ns timeout)
{
    if (q == NULL || item == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          q == NULL      ? "q is NULL"
                          : item == NULL ? "item is NULL"
                                         : "timeout is negative");
    int rc = get_until(q, item, weft__queue_deadline(timeout));
    /* q's address only: a getter may free q as soon as it has its item (queue.h). */
    if (rc == 0) weft__hb_acquire(q); /* what the putter published (core/annotate.h) */
    return ended(q, rc);
}

/* Put items[k ..] while they fit, under one lock hold (a fast queue: one after the other);
 * returns the new k and the stop code. */
static size_t put_run(weft_queue *q, void *const *items, size_t k, size_t n, int *rc)
{
    if (q->fast) {
        while (k < n && (*rc = weft__fast_put(q, items[k], WEFT__QUEUE_TRY)) == 0) k++;
        return k;
    }
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    while (k < n && (*rc = weft__queue_try_put(q, items[k], &wl)) == 0) k++;
    weft__lock_release(&q->lock);
    weft__wakelist_flush(&wl);
    return k;
}

int weft_queue_put_many(weft_queue *q, void *const *items, size_t n, size_t *done, weft_ns timeout)
{
    weft_ns deadline = WEFT__QUEUE_TRY;
    size_t k = 0;
    int rc =
        q == NULL || (items == NULL && n > 0)
            ? weft__fail(WEFT_EINVAL, "%s", q == NULL ? "q is NULL" : "items is NULL with n > 0")
            : deadline_of(timeout, &deadline);
    if (rc == 0) weft__hb_release(q);
    while (rc == 0 && k < n) {
        k = put_run(q, items, k, n, &rc);
        if (k == n) rc = 0;
        if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) break;
        /* Full: wait for room for the next one, then carry on with the shared deadline. */
        rc = put_until(q, items[k], deadline);
        if (rc == 0) k++;
    }
    if (done) *done = k;
    return ended(q, rc);
}

/* Take up to max - k more items without waiting. */
static size_t get_run(weft_queue *q, void **items, size_t k, size_t max, int *rc)
{
    if (q->fast) {
        while (k < max && (*rc = weft__fast_get(q, &items[k], WEFT__QUEUE_TRY)) == 0) k++;
        return k;
    }
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    while (k < max && (*rc = weft__queue_try_get(q, &items[k], &wl)) == 0) k++;
    weft__lock_release(&q->lock);
    weft__wakelist_flush(&wl);
    return k;
}

int weft_queue_get_many(weft_queue *q, void **items, size_t max, size_t *got, weft_ns timeout)
{
    weft_ns deadline = WEFT__QUEUE_TRY;
    if (got) *got = 0;
    if (q == NULL || items == NULL || got == NULL || max == 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          q == NULL       ? "q is NULL"
                          : items == NULL ? "items is NULL"
                          : got == NULL   ? "got is NULL"
                                          : "max is 0");
    int rc = deadline_of(timeout, &deadline);
    if (rc) return rc;
    size_t k = get_run(q, items, 0, max, &rc);
    if (k == 0) {
        if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) return ended(q, rc);
        rc = get_until(q, &items[0], deadline);
        if (rc) return ended(q, rc);
        k = get_run(q, items, 1, max, &rc);
    }
    *got = k;
    weft__hb_acquire(q);
    return 0;
}

size_t weft_queue_size(weft_queue *q)
{
    if (q == NULL) return 0;
    if (q->fast) return q->ring.cap ? weft__ring_len(&q->ring) : weft__list_len(&q->list);
    weft__lock_acquire(&q->lock);
    size_t n = q->st.count;
    weft__lock_release(&q->lock);
    return n;
}

int weft_queue_empty(weft_queue *q)
{
    return weft_queue_size(q) == 0;
}

int weft_queue_full(weft_queue *q)
{
    if (q == NULL) return 0;
    if (q->fast) return q->ring.cap && weft__ring_len(&q->ring) == q->ring.cap;
    weft__lock_acquire(&q->lock);
    int full = q->st.cap && q->st.count == q->st.cap;
    weft__lock_release(&q->lock);
    return full;
}

size_t weft_queue_capacity(weft_queue *q)
{
    if (q == NULL) return 0;
    return q->fast ? (size_t)q->ring.cap : q->st.cap; /* fixed at weft_queue_new */
}

size_t weft_queue_unfinished(weft_queue *q)
{
    return q ? unfinished_count(q) : 0;
}

int weft_queue_task_done(weft_queue *q)
{
    if (q == NULL) return weft__fail(WEFT_EINVAL, "q is NULL");
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    int rc = count_done(q, 1, false, &wl); /* WEFT_EOVERFLOW: Python's ValueError */
    weft__wakelist_flush(&wl);
    return rc;
}

int weft_queue_join(weft_queue *q, weft_ns timeout)
{
    weft_ns deadline = WEFT__QUEUE_TRY;
    if (q == NULL) return weft__fail(WEFT_EINVAL, "q is NULL");
    int rc = deadline_of(timeout, &deadline);
    if (rc) return rc;
    weft__lock_acquire(&q->lock);
    if (unfinished_count(q) == 0 || deadline == WEFT__QUEUE_TRY) {
        rc = unfinished_count(q) == 0 ? 0 : WEFT_EAGAIN;
        if (rc == 0) wait_ended_locked(q); /* a shutdown's drain may have counted them */
        weft__lock_release(&q->lock);
        return rc;
    }
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    weft__park_what(&p, WEFT__WAIT_QUEUE_JOIN, q);
    weft__waiter_init(&w, &p, 0);
    rc = wait_locked(q, &q->joiners, &w, &wl);
    if (rc == 0) weft__queue_closed_wait(q); /* likewise, if a drain woke us */
    return rc;
}

/* Begin a close (shut: a shutdown): count it in q->ending, mark q closed (and shut) and wake
 * every getter and putter under q->lock, then mark the ring or list, where lock-free puts and
 * gets see it. A locked queue's waiters get WEFT_ECLOSED (I1: getters are only there when the
 * store is empty); a fast queue's get RETRY and find the close mark in the ring. Either way
 * they then wait in weft__queue_closed_wait for end_finish. */
static void end_begin(weft_queue *q, bool shut)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    q->ending++;
    atomic_store_explicit(&q->closed, true, memory_order_relaxed); /* read under q->lock */
    /* release: pairs with the acquire load in wait.c's store_get (shut is a flag, no data). */
    if (shut) atomic_store_explicit(&q->shut, true, memory_order_release);
    int result = q->fast ? WEFT__QUEUE_RETRY : WEFT_ECLOSED;
    wake_all(q, &q->putters, result, &wl);
    wake_all(q, &q->getters, result, &wl);
    weft__queue_fd_sync(q); /* closed: readable from now on */
    check_locked(q);
    weft__lock_release(&q->lock);
    if (q->fast && q->ring.cap) weft__ring_close(&q->ring);
    if (q->fast && !q->ring.cap) weft__list_close(&q->list);
    weft__wakelist_flush(&wl); /* they wait for end_finish in weft__queue_closed_wait */
}

/* End it: when no other close or shutdown runs, wake the threads waiting to report the end.
 * (No getter or putter parked since end_begin: under q->lock they see closed, and a fast
 * queue's waiter treats that as ready, weft__fast_ready.) The lock release is our last
 * access to q ("Lifetime"). */
static void end_finish(weft_queue *q)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    if (--q->ending == 0) wake_all(q, &q->enders, 0, &wl);
    check_locked(q);
    weft__lock_release(&q->lock);
    weft__wakelist_flush(&wl);
}

int weft_queue_close(weft_queue *q)
{
    if (q == NULL) return weft__fail(WEFT_EINVAL, "q is NULL");
    end_begin(q, false);
    end_finish(q);
    return 0;
}

int weft_queue_is_closed(weft_queue *q)
{
    if (q == NULL) return 0;
    weft__lock_acquire(&q->lock);
    int closed = atomic_load_explicit(&q->closed, memory_order_relaxed);
    weft__lock_release(&q->lock);
    return closed;
}

/* Take one item out of a shut fast queue. No putter waits for the room (end_begin woke them
 * all and none parks on a closed queue), so the cell is published at once. */
static int drain_one(weft_queue *q, void **item)
{
    weft__ring_claim c;
    if (!q->ring.cap) return weft__list_recv(&q->list, item);
    return weft__ring_recv(&q->ring, item, NULL, &c);
}

/* Take up to SHUTDOWN_CHUNK items out of a shut queue and count them as done (as Python
 * does). Gets fail on a shut queue, so only concurrent shutdowns compete for the items. */
static size_t drain_chunk(weft_queue *q, void **buf)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    size_t n = 0;
    if (q->fast) {
        while (n < SHUTDOWN_CHUNK && drain_one(q, &buf[n]) == 0) n++;
    } else {
        weft__lock_acquire(&q->lock);
        while (n < SHUTDOWN_CHUNK && q->st.count > 0) buf[n++] = weft__store_pop(&q->st);
        weft__lock_release(&q->lock);
    }
    if (n > 0) weft__queue_undo(q, n, false, &wl);
    weft__wakelist_flush(&wl); /* joiners wait for end_finish in weft_queue_join */
    return n;
}

int weft_queue_shutdown(weft_queue *q, weft_queue_item_fn fn, void *arg, size_t *handed)
{
    void *buf[SHUTDOWN_CHUNK];
    size_t total = 0, n;
    if (handed) *handed = 0;
    if (q == NULL) return weft__fail(WEFT_EINVAL, "q is NULL");
    end_begin(q, true);
    weft_queue *outer = tls_ending;
    tls_ending = q; /* fn may call q: its WEFT_ECLOSED must not wait for us */
    /* Take the items out a chunk at a time so that fn runs without the lock (it may call q). */
    while ((n = drain_chunk(q, buf)) > 0) {
        if (fn)
            for (size_t i = 0; i < n; i++) fn(buf[i], arg);
        total += n;
    }
    tls_ending = outer;
    end_finish(q);
    if (handed) *handed = total;
    return 0;
}
