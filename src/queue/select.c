/* src/queue/select.c - weft_queue_select: one get or put among several queues (Go's select).
 *
 * Algorithm (the shape of Go's selectgo, on weft's parking lot):
 *   1. lock every distinct queue of the cases, in address order (the one place where two
 *      queue locks are held at once; the order makes two selects over the same queues safe);
 *   2. try the cases, starting at a rotating index so that no case starves; the first that
 *      is ready (0, or WEFT_ECLOSED/WEFT_ENOMEM) fires, and we are done;
 *   3. otherwise push one waiter record per case (index = case number) on the getters or
 *      putters of its queue, all pointing at one park, and unlock;
 *   4. park. The first waker to claim the park wins. A locked queue's waker has already done
 *      the operation for us (filled our GET record's item, or taken our PUT record's item),
 *      exactly as for a single get/put; a fast queue's waker (wait.c) only says RETRY, and we
 *      go back to step 2. Every other waker sees the park taken and leaves our records alone;
 *   5. lock all again and unlink the records that are still linked.
 * Fast queues change without their lock, so for them step 3 links first and then re-checks
 * (wait.c's Dekker pattern) by looking only (weft__fast_ready: a put or get between its
 * position CAS and its publish may wait for our locks); if one looks ready we unlink, unlock
 * and go back to step 2. Locked queues are re-checked before linking, so that a select
 * with a GET and a PUT on the same queue can never hand an item to itself. A select woken by
 * a fast queue that then fires another case passes the wake-up on to the next waiter there.
 * A case that fires with WEFT_ECLOSED waits for the close or shutdown to end before select
 * returns (queue.c, "Lifetime").
 * Because every record is pushed while all the locks are held, no waker can claim the park
 * before the last record is in place: there is no window in which a case is half-registered.
 *
 * Happens-before for a user's TSan build (core/annotate.h): as weft_queue_put and get, on
 * the queue's address: every PUT case's queue is released before the first try (its item may
 * be taken at any point after), and a GET case that fired with 0 acquires its queue.
 *
 * Invariants: cases[i].item changes only for the case that fired with 0. The waiter records
 * live in this frame and are unlinked (step 5) before it returns.
 */
#include <stdint.h>

#include <weft/error.h>
#include <weft/queue.h>

#include "core/annotate.h"
#include "core/debugrec.h"
#include "../core/internal.h"
#include "queue_impl.h"

static _Thread_local size_t rotation WEFT__TLS_IE;

/* Sort the distinct queues of the cases by address into qs; returns how many. */
static size_t distinct_sorted(const weft_queue_case *cases, size_t n, weft_queue **qs)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        weft_queue *q = cases[i].queue;
        size_t j = m;
        while (j > 0 && (uintptr_t)qs[j - 1] > (uintptr_t)q) j--;
        if (j > 0 && qs[j - 1] == q) continue;
        for (size_t k = m; k > j; k--) qs[k] = qs[k - 1];
        qs[j] = q;
        m++;
    }
    return m;
}

static void lock_all(weft_queue **qs, size_t m)
{
    for (size_t i = 0; i < m; i++) weft__lock_acquire(&qs[i]->lock);
}

static void unlock_all(weft_queue **qs, size_t m)
{
    for (size_t i = m; i > 0; i--) weft__lock_release(&qs[i - 1]->lock);
}

/* One attempt at case c, without waiting. locked: the caller holds every lock of the select
 * (then only locked queues are tried); otherwise it holds none. Claims go to wl. */
static int try_case(weft_queue_case *c, bool locked, weft__wakelist *wl)
{
    weft_queue *q = c->queue;
    void *item = c->item;
    int rc;
    if (q->fast) {
        if (locked) return WEFT_EAGAIN; /* see the top: only weft__fast_ready under the locks */
        rc = weft__fast_try(q, c->op, &item);
    } else {
        if (!locked) weft__lock_acquire(&q->lock);
        rc = c->op == WEFT_QUEUE_PUT ? weft__queue_try_put(q, item, wl)
                                     : weft__queue_try_get(q, &item, wl);
        if (!locked) weft__lock_release(&q->lock);
    }
    if (rc == 0 && c->op == WEFT_QUEUE_GET) c->item = item;
    return rc;
}

static weft__waitq *list_of(const weft_queue_case *c)
{
    return c->op == WEFT_QUEUE_PUT ? &c->queue->putters : &c->queue->getters;
}

static int check(const weft_queue_case *cases, size_t n)
{
    if (cases == NULL) return weft__fail(WEFT_EINVAL, "cases is NULL");
    if (n == 0 || n > WEFT_QUEUE_SELECT_MAX)
        return weft__fail(WEFT_EINVAL, "n is %zu; it must be 1 .. %d", n, WEFT_QUEUE_SELECT_MAX);
    for (size_t i = 0; i < n; i++) {
        if (cases[i].queue == NULL) return weft__fail(WEFT_EINVAL, "cases[%zu].queue is NULL", i);
        if (cases[i].op != WEFT_QUEUE_GET && cases[i].op != WEFT_QUEUE_PUT)
            return weft__fail(WEFT_EINVAL, "cases[%zu].op is %d: unknown", i, cases[i].op);
    }
    return 0;
}

struct sel {
    weft_queue_case *cases;
    size_t n, start, m;
    weft_queue *qs[WEFT_QUEUE_SELECT_MAX];
    weft__waiter w[WEFT_QUEUE_SELECT_MAX];
};

/* Try the cases in rotated order (under the locks: the locked queues only). Returns the first
 * result that is not WEFT_EAGAIN (case index in *fired). */
static int try_all(struct sel *s, bool locked, size_t *fired, weft__wakelist *wl)
{
    for (size_t j = 0; j < s->n; j++) {
        size_t i = (s->start + j) % s->n;
        int rc = try_case(&s->cases[i], locked, wl);
        if (!locked) weft__wakelist_flush(wl);
        if (rc != WEFT_EAGAIN) {
            *fired = i;
            return rc;
        }
    }
    return WEFT_EAGAIN;
}

/* Whether a fast case may fire without a wake-up (all locks held, records linked). */
static bool any_fast_ready(struct sel *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->cases[i].queue->fast && weft__fast_ready(s->cases[i].queue, s->cases[i].op))
            return true;
    return false;
}

static void unlink_all(struct sel *s)
{
    for (size_t i = 0; i < s->n; i++)
        weft__queue_unlink(s->cases[i].queue, list_of(&s->cases[i]), &s->w[i]);
}

/* Link one record per case (all locks held). */
static void link_all(struct sel *s, weft__park *p)
{
    for (size_t i = 0; i < s->n; i++) {
        weft__waiter_init(&s->w[i], p, (uint32_t)i);
        if (s->cases[i].op == WEFT_QUEUE_PUT) s->w[i].item = s->cases[i].item;
        weft__queue_link(s->cases[i].queue, list_of(&s->cases[i]), &s->w[i]);
    }
}

/* wait_round: a fast case looked ready under the locks; try again without them. */
#define LOOK_AGAIN 3

/* Steps 2 to 5 of the header comment, once. Returns a case's result, WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, LOOK_AGAIN, or WEFT__QUEUE_RETRY (a fast queue woke us: try again) with
 * *fired set. */
static int wait_round(struct sel *s, weft_ns deadline, size_t *fired)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__park p;
    weft__park_init(&p, deadline);
    weft__park_what(&p, WEFT__WAIT_SELECT, NULL);
    lock_all(s->qs, s->m);
    /* Locked queues: re-check before linking (nothing changes them while we hold the locks).
     * Fast queues: link first, then look (wait.c's Dekker pattern). */
    int rc = try_all(s, true, fired, &wl);
    if (rc == WEFT_EAGAIN) {
        link_all(s, &p);
        if (any_fast_ready(s)) {
            unlink_all(s);
            rc = LOOK_AGAIN;
        }
    }
    unlock_all(s->qs, s->m);
    weft__wakelist_flush(&wl);
    if (rc != WEFT_EAGAIN) return rc;

    uint32_t st = weft__park_wait(&p);
    lock_all(s->qs, s->m);
    unlink_all(s);
    unlock_all(s->qs, s->m);
    if (st < WEFT__PARK_WOKEN) return st == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
    size_t i = st - WEFT__PARK_WOKEN;
    *fired = i;
    if (s->cases[i].queue->fast)
        weft__queue_arrived(s->cases[i].queue, list_of(&s->cases[i]), &s->w[i]);
    if (s->w[i].result == 0 && s->cases[i].op == WEFT_QUEUE_GET) s->cases[i].item = s->w[i].item;
    return s->w[i].result;
}

int weft_queue_select(weft_queue_case *cases, size_t n, size_t *fired, weft_ns timeout)
{
    struct sel s;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft_ns deadline;
    size_t dummy, woke = SIZE_MAX;
    int rc = check(cases, n);
    if (rc == 0 && timeout < 0)
        rc = weft__fail(WEFT_EINVAL, "timeout is negative (%lld)", (long long)timeout);
    if (rc) return rc;
    deadline = weft__queue_deadline(timeout);
    if (fired == NULL) fired = &dummy;
    s.cases = cases;
    s.n = n;
    s.start = rotation++ % n;
    s.m = distinct_sorted(cases, n, s.qs);
    for (size_t i = 0; i < n; i++) /* what a PUT's item points to, for its getter */
        if (cases[i].op == WEFT_QUEUE_PUT) weft__hb_release(cases[i].queue);
    for (;;) {
        rc = try_all(&s, false, fired, &wl);
        if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) break;
        rc = wait_round(&s, deadline, fired);
        if (rc == LOOK_AGAIN && weft_remaining(deadline) == 0) rc = WEFT_ETIMEDOUT;
        if (rc == LOOK_AGAIN) continue;
        if (rc != WEFT__QUEUE_RETRY) break;
        woke = *fired;
    }
    /* A fast queue woke us for an item (or room) that we did not take: wake someone else. */
    if (woke != SIZE_MAX && (rc != 0 || *fired != woke))
        weft__fast_notify(cases[woke].queue, list_of(&cases[woke]));
    /* the queue's address only, as weft_queue_get (a getter may free it at once) */
    if (rc == 0 && cases[*fired].op == WEFT_QUEUE_GET) weft__hb_acquire(cases[*fired].queue);
    if (rc == WEFT_ECLOSED) weft__queue_closed_wait(cases[*fired].queue);
    return rc;
}
