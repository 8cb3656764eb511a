/* src/queue/wait.c - how threads wait on a FIFO queue: the waiting protocol over the lock-free
 * ring (ring.c, bounded) and list (list.c, unbounded).
 *
 * Waiting. Nobody is handed anything: a thread that finds the store empty (full) takes the
 * queue lock, links a waiter record, bumps ngetters (nputters), and looks at the store AGAIN
 * before it parks. A producer (consumer) that claimed its position reads ngetters (nputters)
 * and, only when it is not zero, takes the lock and claims one waiter with RETRY, which loops
 * back to the store. This is the store-buffering (Dekker) pattern, and every access in it is
 * seq_cst:
 *     waiter:  ngetters += 1;   then load tail (empty?)
 *     putter:  CAS tail;        then load ngetters
 * In the single total order of seq_cst operations one of the two loads sees the other side's
 * write: either the putter sees a waiter and wakes it, or the waiter sees the item. So a put
 * with nobody waiting costs the position CAS, one release store and one load: no lock, no
 * system call, no clock read, and no shared counter of its own (task accounting counts the
 * puts by the tail position, see weft__ring_puts and queue.c).
 *
 * Lifetime. The waiter that takes an item (room) may free the queue at once, so publishing the
 * cell (the stamp store or WRITE bit) must be a put's (get's) last access to the queue. So the
 * store loads the other side's count right after its position CAS and, only if it is not
 * zero, leaves the cell claimed and unpublished: the wake-up comes between the claim and the
 * publish (wake_then_publish), and the claimed waiter stays held until the wakelist is
 * flushed after the publish (park.h). With nobody waiting the store publishes at once, so the
 * window in which other threads wait for a claimed cell is as short as it can be. As the
 * waker holds q->lock for the wake-up while its cell is claimed and not yet published, no
 * thread may wait for an unpublished cell while holding q->lock: the re-check after the link
 * only looks (weft__fast_ready) and, if anything is there or in flight, unlinks and retries
 * without the lock.
 * A woken waiter may find its item taken by a thread that came in meanwhile (barging); it
 * parks again, which is harmless: the item was delivered once, to someone.
 *
 * Convoys. A woken thread takes a while to run: tens of microseconds on a VM whose idle vCPU
 * must be woken by the host. A consumer that woke a parked producer drains a full ring in
 * less, and if it then parked too, each side would always be waiting for the other's wake-up
 * (throughput fell 2-3x in such runs, which then stayed in that mode). So a put/get that
 * wakes a waiter counts it in coming_getters/coming_putters until it runs, and a thread that
 * finds the store empty (full) while a thread of the other side is coming keeps polling, for
 * up to COMING_POLL_NS, instead of parking: that thread is about to act.
 *
 * Deadlines. Every function here takes the absolute deadline that queue.c made from the
 * caller's timeout (WEFT__QUEUE_TRY: do not wait). A put or get that succeeds at once runs
 * only store_put/store_get: no clock read, no waiter record, no lock.
 *
 * Invariants: ngetters/nputters equal the number of records on getters/putters, plus one each
 * once q has an fd (changed only under q->lock, with the link; fd.c); an operation's publish
 * is its last access to q.
 * Lock order: q->lock, then a parker's lock inside the parking lot (docs/design/locks.md).
 */
#include <weft/error.h>

#include "core/debugrec.h"
#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

static _Atomic size_t *count_of(weft_queue *q, weft__waitq *list)
{
    return list == &q->getters ? &q->ngetters : list == &q->putters ? &q->nputters : NULL;
}

void weft__queue_link(weft_queue *q, weft__waitq *list, weft__waiter *w)
{
    _Atomic size_t *n = count_of(q, list);
    weft__waitq_push(list, w);
    /* seq_cst: the waiter's side of the Dekker pattern; see the header comment. */
    if (n) atomic_fetch_add_explicit(n, 1, memory_order_seq_cst);
}

void weft__queue_unlink(weft_queue *q, weft__waitq *list, weft__waiter *w)
{
    if (w->queue != list) return; /* already popped by a waker, who counted it */
    _Atomic size_t *n = count_of(q, list);
    weft__waitq_remove(list, w);
    /* relaxed: a stale higher count only costs a waker a needless look under the lock. */
    if (n) atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
}

static _Atomic uint32_t *coming_of(weft_queue *q, weft__waitq *list)
{
    return list == &q->getters ? &q->coming_getters : &q->coming_putters;
}

/* Pop records until one claim wins; q->lock held. The winner is counted as coming before
 * the claim (after it, its record may be gone), and uncounted if every claim failed. */
static void wake_one_locked(weft_queue *q, weft__waitq *list, weft__wakelist *wl)
{
    _Atomic size_t *n = count_of(q, list);
    _Atomic uint32_t *coming = coming_of(q, list);
    weft__waiter *w;
    while ((w = weft__waitq_pop(list)) != NULL) {
        atomic_fetch_sub_explicit(n, 1, memory_order_relaxed); /* as in weft__queue_unlink */
        w->result = WEFT__QUEUE_RETRY_COUNTED;
        /* relaxed: a hint that only steers polling (see "Convoys"); no data rides on it. */
        atomic_fetch_add_explicit(coming, 1, memory_order_relaxed);
        if (weft__waiter_claim(w, wl)) return;
        atomic_fetch_sub_explicit(coming, 1, memory_order_relaxed);
    }
}

void weft__queue_arrived(weft_queue *q, weft__waitq *list, weft__waiter *w)
{
    if (w->result != WEFT__QUEUE_RETRY_COUNTED) return;
    w->result = WEFT__QUEUE_RETRY;
    /* relaxed: as in wake_one_locked. */
    atomic_fetch_sub_explicit(coming_of(q, list), 1, memory_order_relaxed);
}

void weft__fast_notify(weft_queue *q, weft__waitq *list)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    wake_one_locked(q, list, &wl);
    weft__lock_release(&q->lock);
    weft__wakelist_flush(&wl);
}

/* ---- one attempt: claim, wake the other side, publish ------------------------------------- */

/* A put (get) left its cell claimed because list had waiters: wake one, publish, then release
 * the one woken ("Lifetime"). Out of line: store_put/store_get stay small enough to inline. */
static void __attribute__((noinline))
wake_then_publish(weft_queue *q, weft__waitq *list, const weft__ring_claim *rc,
                  const weft__list_claim *lc)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&q->lock);
    wake_one_locked(q, list, &wl);
    weft__queue_fd_sync(q); /* before the publish: the claim already counts (fd.c) */
    weft__lock_release(&q->lock);
    if (rc)
        weft__ring_publish(rc); /* our last access to q */
    else
        weft__list_publish(lc); /* our last access to q */
    weft__wakelist_flush(&wl);
}

/* One lock-free put into the ring (bounded) or the list (unbounded): the store publishes at
 * once unless getters are linked. This runs on every put and every polling step, so it is
 * kept to the store call and a test. */
WEFT__HOT int store_put(weft_queue *q, void *item)
{
    int rc;
    if (q->ring.cap) {
        weft__ring_claim c;
        if ((rc = weft__ring_send(&q->ring, item, &q->ngetters, &c)) == 0 && c.stamp)
            wake_then_publish(q, &q->getters, &c, NULL);
        return rc;
    }
    weft__list_claim c;
    if ((rc = weft__list_send(&q->list, item, &q->ngetters, &c)) == 0 && c.state)
        wake_then_publish(q, &q->getters, NULL, &c);
    return rc;
}

/* One lock-free get; from the ring, with putters linked, one is woken before the publish. */
WEFT__HOT int store_get(weft_queue *q, void **item)
{
    /* acquire: pairs with the store in weft_queue_shutdown (a sticky flag, no data). */
    if (atomic_load_explicit(&q->shut, memory_order_acquire)) return WEFT_ECLOSED;
    if (!q->ring.cap) { /* unbounded: no putter waits, so no claim is held */
        int rc = weft__list_recv(&q->list, item);
        /* seq_cst: after the head CAS, against weft_queue_fd's store of has_fd (fd.c). */
        if (rc == 0 && atomic_load_explicit(&q->list.has_fd, memory_order_seq_cst))
            weft__queue_fd_sync_unlocked(q);
        return rc;
    }
    weft__ring_claim c;
    int rc = weft__ring_recv(&q->ring, item, &q->nputters, &c);
    if (rc == 0 && c.stamp) wake_then_publish(q, &q->putters, &c, NULL);
    return rc;
}

WEFT__HOT int store_op(weft_queue *q, int op, void **item)
{
    return op == WEFT_QUEUE_PUT ? store_put(q, *item) : store_get(q, item);
}

bool weft__fast_ready(weft_queue *q, int op)
{
    /* relaxed: closed is written under q->lock, which we hold. Closed (the store's mark may be
     * a moment behind): look at the store again rather than park, as nobody would wake us. */
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return true;
    if (q->ring.cap) return weft__ring_ready(&q->ring, op == WEFT_QUEUE_PUT);
    return op == WEFT_QUEUE_PUT || weft__list_ready(&q->list); /* a list always has room */
}

/* ---- polling before parking --------------------------------------------------------------- */

/* Before linking a record, poll the store a little: the other side is often a few hundred
 * nanoseconds away, and a thread that never links lets that side skip the lock entirely. */
#define POLLS 128

/* A putter that found the ring full polls for a batch of free cells, not for the next one:
 * the next free cell is the one a consumer is reading, and producers that poll it and take
 * each cell the moment it is freed pull that line back and forth with the consumer for every
 * item (a run that fell into that "full ring" mode moved a third of the items per second).
 * The batch's last cell is ahead of the consumers, so polling it disturbs nobody. */
static int poll_once(weft_queue *q, int op, void **item)
{
    if (op == WEFT_QUEUE_PUT && q->ring.cap) {
        uint64_t batch = q->ring.cap / 8;
        if (!weft__ring_has_room(&q->ring, batch < 1 ? 1 : batch > 32 ? 32 : batch))
            return WEFT_EAGAIN;
    }
    return store_op(q, op, item);
}

/* How long a thread polls instead of parking while a woken thread of the other side has not
 * run yet: more than a VM's wake-up of an idle vCPU, still short against a time slice. It
 * ends at the call's own deadline, and on a cancellation (the park that follows reports it),
 * so neither is delayed by the polling. */
#define COMING_POLL_NS 200000

/* When spinning does not pay for this thread (weft__park_spin_pays), the other side most
 * likely waits for this very CPU: more threads than CPUs, or two threads the scheduler put on
 * one CPU. The thread then polls by yielding instead, YIELD_POLLS times, which lets the other
 * side run at the cost of one system call (a park costs a futex wait and, later, the waker's
 * futex wake): a producer and a consumer on one CPU take turns, a full (empty) ring at a time.
 * Yielding helps only when the thread that runs instead is the other side, not a thread
 * waiting for the same thing as we: whether yielding ended the wait is tracked per thread like
 * spinning (hits out of 256, weight 1/8, tried again one wait in YIELD_PROBE when it stopped
 * paying). */
#define YIELD_POLLS 2
#define YIELD_PAYS  64
#define YIELD_PROBE 8

static _Thread_local struct {
    uint32_t hits, waits;
} yielding WEFT__TLS_IE;

/* One step of polling: pause or yield, then try. */
static int poll_step(weft_queue *q, int op, void **item, bool spin)
{
    if (spin)
        weft__os_relax();
    else
        weft__os_yield();
    return poll_once(q, op, item);
}

/* Poll before parking: spinning, yielding (see above), or not at all. */
static int poll_first(weft_queue *q, int op, void **item)
{
    int rc = WEFT_EAGAIN;
    if (weft__park_spin_pays()) {
        for (int i = 0; i < POLLS && rc == WEFT_EAGAIN; i++) rc = poll_step(q, op, item, true);
        return rc;
    }
    if (yielding.hits < YIELD_PAYS && ++yielding.waits % YIELD_PROBE != 0) return rc;
    for (int i = 0; i < YIELD_POLLS && rc == WEFT_EAGAIN; i++) rc = poll_step(q, op, item, false);
    yielding.hits = yielding.hits - yielding.hits / 8 + (rc != WEFT_EAGAIN ? 32 : 0);
    return rc;
}

static int poll_op(weft_queue *q, int op, void **item, weft_ns deadline)
{
    int rc = poll_first(q, op, item);
    _Atomic uint32_t *coming = op == WEFT_QUEUE_PUT ? &q->coming_getters : &q->coming_putters;
    weft_ns until = 0;
    /* relaxed: a hint (see "Convoys"); the store itself says whether the item/room is there. */
    for (unsigned n = 1;
         rc == WEFT_EAGAIN && atomic_load_explicit(coming, memory_order_relaxed) != 0; n++) {
        weft_ns now = weft__os_now();
        if (until == 0) until = deadline - now < COMING_POLL_NS ? deadline : now + COMING_POLL_NS;
        if (now >= until || weft__cancel_pending()) break;
        if (n % 8 == 0) weft__os_yield(); /* the woken thread may be queued behind us */
        for (int i = 0; i < 32 && rc == WEFT_EAGAIN; i++) rc = poll_step(q, op, item, true);
    }
    return rc;
}

/* ---- parking ------------------------------------------------------------------------------ */

/* The first try failed: poll, then park until woken or the deadline while the store says
 * EAGAIN. The re-check after the link only looks (weft__fast_ready): a thread between its
 * claim and its publish may be waiting for q->lock to wake us, so trying the store under that
 * lock could wait for that thread's cell forever. */
static int wait_op(weft_queue *q, int op, void **item, weft_ns deadline)
{
    weft__waitq *list = op == WEFT_QUEUE_PUT ? &q->putters : &q->getters;
    int rc = poll_op(q, op, item, deadline);
    while (rc == WEFT_EAGAIN) {
        weft__park p;
        weft__waiter w;
        weft__park_init(&p, deadline);
        weft__park_what(&p, op == WEFT_QUEUE_PUT ? WEFT__WAIT_QUEUE_PUT : WEFT__WAIT_QUEUE_GET, q);
        weft__waiter_init(&w, &p, 0);
        weft__lock_acquire(&q->lock);
        weft__queue_link(q, list, &w);
        bool ready = weft__fast_ready(q, op); /* the re-check after the link: see the top */
        if (ready) weft__queue_unlink(q, list, &w);
        weft__lock_release(&q->lock);
        if (ready) {
            if ((rc = store_op(q, op, item)) != WEFT_EAGAIN) return rc;
            if (weft_remaining(deadline) == 0) return WEFT_ETIMEDOUT;
            weft__os_yield(); /* taken by another thread, or a closer about to mark the store */
            continue;
        }
        uint32_t s = weft__park_wait(&p);
        if (s >= WEFT__PARK_WOKEN) { /* RETRY: look again */
            weft__queue_arrived(q, list, &w);
            rc = store_op(q, op, item);
            continue;
        }
        weft__lock_acquire(&q->lock);
        weft__queue_unlink(q, list, &w);
        weft__lock_release(&q->lock);
        return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
    }
    return rc;
}

int weft__fast_put(weft_queue *q, void *item, weft_ns deadline)
{
    int rc = store_put(q, item);
    if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) return rc;
    return wait_op(q, WEFT_QUEUE_PUT, &item, deadline);
}

int weft__fast_get(weft_queue *q, void **item, weft_ns deadline)
{
    int rc = store_get(q, item);
    if (rc != WEFT_EAGAIN || deadline == WEFT__QUEUE_TRY) return rc;
    return wait_op(q, WEFT_QUEUE_GET, item, deadline);
}

int weft__fast_try(weft_queue *q, int op, void **item)
{
    return store_op(q, op, item);
}
