/* src/queue/ring.c - the lock-free fast path of FIFO queues: the bounded ring, and the
 * waiting protocol shared with the unbounded list of list.c.
 *
 * The ring. A bounded multi-producer multi-consumer array queue with one stamp per cell (the
 * scheme of Vyukov's bounded MPMC queue, with laps so that any capacity works). head and tail
 * are positions lap + index, where index < cap < mark and a lap is 2 * mark. Cell i is free for
 * the producer at position tail when its stamp equals tail, and full for the consumer at
 * position head when its stamp equals head + 1. A producer claims a position by a CAS on tail,
 * writes the item, then publishes it by storing stamp = tail + 1 (release); the consumer claims
 * by a CAS on head, reads, then frees the cell for the next lap by storing head + one lap.
 * close sets the mark bit in tail, so that a put either claimed its position before the close
 * (and its item will be drained) or fails: no item slips in after a close.
 *
 * Waiting. Nobody is handed anything: a thread that finds the ring empty (full) takes the
 * queue lock, links a waiter record, bumps ngetters (nputters), and looks at the ring AGAIN
 * before it parks. A producer (consumer) that claimed its position reads ngetters (nputters)
 * and, only when it is not zero, takes the lock and claims one waiter with RETRY, which loops
 * back to the ring. This is the store-buffering (Dekker) pattern, and every access in it is
 * seq_cst:
 *     waiter:  ngetters += 1;   then load tail (ring empty?)
 *     putter:  CAS tail;        then load ngetters
 * In the single total order of seq_cst operations one of the two loads sees the other side's
 * write: either the putter sees a waiter and wakes it, or the waiter sees the item. So a put
 * with nobody waiting costs the position CAS, one release store and one load: no lock, no
 * system call, no clock read, and no shared counter of its own (task accounting counts the
 * puts by the tail position, see weft__ring_puts and queue.c).
 *
 * Lifetime. The waiter that takes an item (room) may free the queue at once, so publishing the
 * cell (the stamp store) must be a put's (get's) last access to the queue: the wake-up of the
 * other side comes between the position CAS and the publish (weft__queue_handoff), and the
 * claimed waiter stays held until the wakelist is flushed after the publish (park.h). As that
 * thread holds q->lock for the wake-up while its cell is claimed and not yet published, no
 * thread may wait for an unpublished cell while holding q->lock: the re-check after the link
 * only looks at head and tail (weft__fast_ready) and, if anything is there or in flight,
 * unlinks and retries without the lock.
 * A woken waiter may find its item taken by a thread that came in meanwhile (barging); it
 * parks again, which is harmless: the item was delivered once, to someone.
 *
 * Convoys. A woken thread takes a while to run: tens of microseconds on a VM whose idle vCPU
 * must be woken by the host. A consumer that woke a parked producer drains a full ring in
 * less, and if it then parked too, each side would always be waiting for the other's wake-up
 * (throughput fell 2-3x in such runs, which then stayed in that mode). So a put/get that
 * wakes a waiter counts it in coming_getters/coming_putters until it runs, and a thread that
 * finds the ring empty (full) while a thread of the other side is coming keeps polling, for
 * up to COMING_POLL_NS, instead of parking: that thread is about to act.
 *
 * Invariants: ngetters/nputters equal the number of records on getters/putters (changed only
 * under q->lock, with the link). A put is counted for task_done/join by the tail CAS itself,
 * which comes BEFORE the item is published, so a task_done for it can never come first; a put
 * that fails never moved tail, so it has nothing to take back.
 * Lock order: docs/design/locks.md; the ring itself takes no lock.
 */
#include <sched.h>
#include <stdlib.h>

#include <weft/error.h>

#include "core/debugrec.h"
#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

/* ---- the ring ---------------------------------------------------------------------------- */

int weft__ring_init(weft__ring *r, size_t cap)
{
    uint64_t mark = 1;
    while (mark <= cap) mark <<= 1;
    r->cap = cap;
    r->mark = mark;
    r->one_lap = 2 * mark;
    r->cell = weft__calloc_lines(cap * sizeof *r->cell); /* 4 whole cells a line */
    if (r->cell == NULL) return weft__fail(WEFT_ENOMEM, "no memory for the queue's slots");
    for (size_t i = 0; i < cap; i++) atomic_init(&r->cell[i].stamp, i);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void weft__ring_fini(weft__ring *r)
{
    free(r->cell);
    r->cell = NULL;
}

/* A cell is mid-update by a thread that already won its CAS: spin briefly, then yield, and
 * if that thread still has not finished (preempted on an oversubscribed machine, where a yield
 * need not let it run), sleep 20 us at a time so that it surely gets a CPU. */
void weft__queue_backoff(unsigned *spins)
{
    static _Atomic uint32_t nobody; /* a futex word nobody wakes: a plain timed sleep */
    if (++*spins < 64)
        weft__os_relax();
    else if (*spins < 128)
        weft__os_yield();
    else
        weft__os_futex_wait(&nobody, 0, weft__os_now() + 20000);
}

/* The position after pos (same lap, or index 0 of the next lap). */
static uint64_t next_pos(const weft__ring *r, uint64_t pos)
{
    uint64_t index = pos & (r->mark - 1), lap = pos & ~(r->one_lap - 1);
    return index + 1 < r->cap ? pos + 1 : lap + r->one_lap;
}

int weft__ring_send(weft__ring *r, void *item, const weft__handoff *h)
{
    unsigned spins = 0;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        if (tail & r->mark) return WEFT_ECLOSED;
        struct weft__cell *c = &r->cell[tail & (r->mark - 1)];
        /* acquire: pairs with the release store of a consumer that freed the cell. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        if (stamp == tail) {
            /* seq_cst: one side of the Dekker pattern in the header comment. */
            if (atomic_compare_exchange_weak_explicit(&r->tail, &tail, next_pos(r, tail),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                c->item = item;
                weft__queue_handoff(h); /* before the item is visible: see queue_impl.h */
                /* release: pairs with the acquire stamp load in weft__ring_recv. */
                atomic_store_explicit(&c->stamp, tail + 1, memory_order_release);
                return 0;
            }
            continue; /* the failed CAS reloaded tail */
        }
        if (stamp + r->one_lap == tail + 1 &&
            atomic_load_explicit(&r->head, memory_order_seq_cst) + r->one_lap == tail)
            return WEFT_EAGAIN; /* full: the cell still holds last lap's item */
        weft__queue_backoff(&spins);
        tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    }
}

int weft__ring_recv(weft__ring *r, void **item, const weft__handoff *h)
{
    unsigned spins = 0;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        struct weft__cell *c = &r->cell[head & (r->mark - 1)];
        /* acquire: pairs with the release store of the producer that published the item. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        if (stamp == head + 1) {
            if (atomic_compare_exchange_weak_explicit(&r->head, &head, next_pos(r, head),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                *item = c->item;
                weft__queue_handoff(h); /* before the room is visible: see queue_impl.h */
                /* release: pairs with the acquire stamp load in weft__ring_send. */
                atomic_store_explicit(&c->stamp, head + r->one_lap, memory_order_release);
                return 0;
            }
            continue;
        }
        if (stamp == head) {
            /* seq_cst: the waiter's side of the Dekker pattern (see the header comment). */
            uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
            if ((tail & ~r->mark) == head) return tail & r->mark ? WEFT_ECLOSED : WEFT_EAGAIN;
        }
        weft__queue_backoff(&spins); /* a producer claimed the cell and is writing it */
        head = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
}

void weft__ring_close(weft__ring *r)
{
    atomic_fetch_or_explicit(&r->tail, r->mark, memory_order_seq_cst);
}

bool weft__ring_has_room(weft__ring *r, uint64_t k)
{
    /* relaxed: a hint; weft__ring_send's CAS and stamp check decide. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed) & ~r->mark;
    uint64_t index = tail & (r->mark - 1), lap = tail & ~(r->one_lap - 1), j = index + k - 1;
    uint64_t pos = j < r->cap ? lap + j : lap + r->one_lap + (j - r->cap); /* k - 1 ahead */
    return atomic_load_explicit(&r->cell[pos & (r->mark - 1)].stamp, memory_order_relaxed) == pos;
}

uint64_t weft__ring_puts(weft__ring *r)
{
    /* seq_cst: ordered after the loads of done in queue.c (see unfinished_count there). */
    uint64_t pos = atomic_load_explicit(&r->tail, memory_order_seq_cst) & ~r->mark;
    return pos / r->one_lap * r->cap + (pos & (r->mark - 1)); /* laps of cap, then the index */
}

size_t weft__ring_len(weft__ring *r)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
        uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
        if (atomic_load_explicit(&r->tail, memory_order_seq_cst) != tail) continue;
        tail &= ~r->mark;
        uint64_t hix = head & (r->mark - 1), tix = tail & (r->mark - 1);
        if (hix < tix) return tix - hix;
        if (hix > tix) return r->cap - hix + tix;
        return tail == head ? 0 : r->cap;
    }
}

/* ---- waiting ------------------------------------------------------------------------------ */

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

void weft__queue_handoff_slow(const weft__handoff *h)
{
    weft__lock_acquire(&h->q->lock);
    wake_one_locked(h->q, h->list, h->wl);
    weft__lock_release(&h->q->lock);
}

/* One lock-free attempt on the queue's ring (bounded) or list (unbounded, list.c). A success
 * claims one waiter of the other side into wl, if any is linked (see "Lifetime"). */
static int ring_op(weft_queue *q, int op, void **item, weft__wakelist *wl)
{
    if (op == WEFT_QUEUE_PUT) {
        weft__handoff h = {q, &q->getters, &q->ngetters, wl};
        return q->ring.cap ? weft__ring_send(&q->ring, *item, &h)
                           : weft__list_send(&q->list, *item, &h);
    }
    /* acquire: pairs with the store in weft_queue_shutdown (a sticky flag, no data). */
    if (atomic_load_explicit(&q->shut, memory_order_acquire)) return WEFT_ECLOSED;
    if (!q->ring.cap) return weft__list_recv(&q->list, item); /* unbounded: no putter waits */
    weft__handoff h = {q, &q->putters, &q->nputters, wl};
    return weft__ring_recv(&q->ring, item, &h);
}

bool weft__fast_ready(weft_queue *q, int op)
{
    /* relaxed: closed is written under q->lock, which we hold. Closed (the ring's mark may be
     * a moment behind): look at the ring again rather than park, as nobody would wake us. */
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return true;
    if (!q->ring.cap) {
        uint64_t tail = atomic_load_explicit(&q->list.tindex, memory_order_seq_cst);
        uint64_t head = atomic_load_explicit(&q->list.hindex, memory_order_seq_cst);
        return op == WEFT_QUEUE_PUT || (tail & 1) || tail >> 1 != head >> 1; /* list.c's MARK */
    }
    weft__ring *r = &q->ring;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
    if (tail & r->mark) return true;
    return op == WEFT_QUEUE_GET ? tail != head : head + r->one_lap != tail;
}

/* Before linking a record, poll the ring a little: the other side is often a few hundred
 * nanoseconds away, and a thread that never links lets that side skip the lock entirely. */
#define POLLS 128

/* A putter that found the ring full polls for a batch of free cells, not for the next one:
 * the next free cell is the one a consumer is reading, and producers that poll it and take
 * each cell the moment it is freed pull that line back and forth with the consumer for every
 * item (a run that fell into that "full ring" mode moved a third of the items per second).
 * The batch's last cell is ahead of the consumers, so polling it disturbs nobody. */
static int poll_once(weft_queue *q, int op, void **item, weft__wakelist *wl)
{
    if (op == WEFT_QUEUE_PUT && q->ring.cap) {
        uint64_t batch = q->ring.cap / 8;
        if (!weft__ring_has_room(&q->ring, batch < 1 ? 1 : batch > 32 ? 32 : batch))
            return WEFT_EAGAIN;
    }
    return ring_op(q, op, item, wl);
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
 * 1P1C pinned to one CPU went from 9 to 30-45 Mitems/s (2P2C pinned: from 4 to 27-46), and
 * nothing got slower on two CPUs. Yielding helps only when the thread that runs
 * instead is the other side, not a thread waiting for the same thing as we: whether yielding
 * ended the wait is tracked per thread like spinning (hits out of 256, weight 1/8, tried again
 * one wait in YIELD_PROBE when it stopped paying). */
#define YIELD_POLLS 2
#define YIELD_PAYS  64
#define YIELD_PROBE 8

static _Thread_local struct {
    uint32_t hits, waits;
} yielding WEFT__TLS_IE;

/* One step of polling: pause or yield, then try. */
static int poll_step(weft_queue *q, int op, void **item, bool spin, weft__wakelist *wl)
{
    if (spin)
        weft__os_relax();
    else
        weft__os_yield();
    return poll_once(q, op, item, wl);
}

/* Poll before parking: spinning, yielding (see above), or not at all. */
static int poll_first(weft_queue *q, int op, void **item, weft__wakelist *wl)
{
    int rc = WEFT_EAGAIN;
    if (weft__park_spin_pays()) {
        for (int i = 0; i < POLLS && rc == WEFT_EAGAIN; i++) rc = poll_step(q, op, item, true, wl);
        return rc;
    }
    if (yielding.hits < YIELD_PAYS && ++yielding.waits % YIELD_PROBE != 0) return rc;
    for (int i = 0; i < YIELD_POLLS && rc == WEFT_EAGAIN; i++)
        rc = poll_step(q, op, item, false, wl);
    yielding.hits = yielding.hits - yielding.hits / 8 + (rc != WEFT_EAGAIN ? 32 : 0);
    return rc;
}

static int poll_op(weft_queue *q, int op, void **item, weft_ns deadline, weft__wakelist *wl)
{
    int rc = poll_first(q, op, item, wl);
    _Atomic uint32_t *coming = op == WEFT_QUEUE_PUT ? &q->coming_getters : &q->coming_putters;
    weft_ns until = 0;
    /* relaxed: a hint (see "Convoys"); the ring itself says whether the item/room is there. */
    for (unsigned n = 1;
         rc == WEFT_EAGAIN && atomic_load_explicit(coming, memory_order_relaxed) != 0; n++) {
        weft_ns now = weft__os_now();
        if (until == 0) until = deadline - now < COMING_POLL_NS ? deadline : now + COMING_POLL_NS;
        if (now >= until || weft__cancel_pending()) break;
        if (n % 8 == 0) weft__os_yield(); /* the woken thread may be queued behind us */
        for (int i = 0; i < 32 && rc == WEFT_EAGAIN; i++) rc = poll_step(q, op, item, true, wl);
    }
    return rc;
}

/* Try, and park until woken or out of time while the ring says EAGAIN. The deadline is
 * computed once, when the first try failed (a call that need not wait never reads the clock),
 * and covers the polling too. The re-check after the link only looks (weft__fast_ready): a
 * thread between its position CAS and its publish may be waiting for q->lock to hand off to
 * us, so spinning on its cell under that lock could wait forever. */
static int wait_op(weft_queue *q, int op, void **item, weft_ns timeout, weft__wakelist *wl)
{
    weft__waitq *list = op == WEFT_QUEUE_PUT ? &q->putters : &q->getters;
    weft_ns deadline = 0;
    int rc = ring_op(q, op, item, wl);
    if (rc != WEFT_EAGAIN || timeout == 0) return rc;
    (void)weft__deadline_of(timeout, &deadline); /* timeout >= 0 was checked by the caller */
    if ((rc = poll_op(q, op, item, deadline, wl)) != WEFT_EAGAIN) return rc;
    for (;;) {
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
            if ((rc = ring_op(q, op, item, wl)) != WEFT_EAGAIN) return rc;
            if (weft_remaining(deadline) == 0) return WEFT_ETIMEDOUT;
            weft__os_yield(); /* taken by another thread, or a closer about to mark the ring */
            continue;
        }
        uint32_t s = weft__park_wait(&p);
        if (s >= WEFT__PARK_WOKEN) { /* RETRY: look again */
            weft__queue_arrived(q, list, &w);
            if ((rc = ring_op(q, op, item, wl)) != WEFT_EAGAIN) return rc;
            continue;
        }
        weft__lock_acquire(&q->lock);
        weft__queue_unlink(q, list, &w);
        weft__lock_release(&q->lock);
        return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
    }
}

int weft__fast_put(weft_queue *q, void *item, weft_ns timeout)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    int rc = wait_op(q, WEFT_QUEUE_PUT, &item, timeout, &wl);
    weft__wakelist_flush(&wl); /* after the publish: our last touch of q is behind us */
    return rc;
}

int weft__fast_get(weft_queue *q, void **item, weft_ns timeout)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    int rc = wait_op(q, WEFT_QUEUE_GET, item, timeout, &wl);
    weft__wakelist_flush(&wl);
    return rc;
}

int weft__fast_try(weft_queue *q, int op, void **item, weft__wakelist *wl)
{
    return ring_op(q, op, item, wl);
}
