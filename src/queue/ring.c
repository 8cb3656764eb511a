/* src/queue/ring.c - the lock-free ring of bounded FIFO queues.
 *
 * A bounded multi-producer multi-consumer array queue with one stamp per cell (the scheme of
 * Vyukov's bounded MPMC queue, with laps so that any capacity works). head and tail are
 * positions lap + index, where index < cap < mark and a lap is 2 * mark. Cell i is free for
 * the producer at position tail when its stamp equals tail, and full for the consumer at
 * position head when its stamp equals head + 1. A producer claims a position by a CAS on tail
 * and writes the item; publishing it is storing stamp = tail + 1 (release). A consumer claims
 * by a CAS on head and reads; publishing the room is storing head + one lap, which frees the
 * cell for the next lap. close sets the mark bit in tail, so that a put either claimed its
 * position before the close (and its item will be drained) or fails: no item slips in after
 * a close.
 *
 * Claim and publish. The position CAS is the writer's side of wait.c's Dekker pattern, so a
 * put (get) loads the count of the other side's waiters right after it (seq_cst), and the
 * publish must be the operation's last access to the queue ("Lifetime" in wait.c). With no
 * waiter, the cell is published at once: nothing else comes between the CAS and the publish,
 * which a thread that meets the claimed cell waits for (weft__queue_backoff). With waiters,
 * the cell is left claimed (weft__ring_claim) for wait.c to wake one and then publish it.
 *
 * Invariants: a put is counted for task_done/join by the tail CAS itself, which comes BEFORE
 * the item is published, so a task_done for it can never come first; a put that fails never
 * moved tail, so it has nothing to take back (weft__ring_puts, queue.c).
 * No locks here (docs/design/locks.md).
 */
#include <stdlib.h>

#include <weft/error.h>

#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

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

/* After the position CAS: publish at once, unless the other side has waiters (waiters NULL:
 * none can have); then leave the cell held for wait.c to wake one first. */
static inline int publish_unless_waiters(_Atomic size_t *waiters, weft__ring_claim *claim)
{
    /* seq_cst: the writer's side of wait.c's Dekker pattern, after the position CAS. */
    if (waiters && atomic_load_explicit(waiters, memory_order_seq_cst) != 0) return 0;
    weft__ring_publish(claim);
    claim->stamp = NULL;
    return 0;
}

int weft__ring_send(weft__ring *r, void *item, _Atomic size_t *waiters, weft__ring_claim *claim)
{
    unsigned spins = 0;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        if (tail & r->mark) return WEFT_ECLOSED;
        struct weft__cell *c = &r->cell[tail & (r->mark - 1)];
        /* acquire: pairs with weft__ring_publish by the consumer that freed the cell. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        if (stamp == tail) {
            /* seq_cst: the writer's side of wait.c's Dekker pattern. */
            if (atomic_compare_exchange_weak_explicit(&r->tail, &tail, next_pos(r, tail),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                c->item = item;
                *claim = (weft__ring_claim){&c->stamp, tail + 1}; /* the item is there */
                return publish_unless_waiters(waiters, claim);
            }
            continue; /* the failed CAS reloaded tail */
        }
        /* seq_cst: the head load is the waiter's side of wait.c's Dekker pattern. */
        if (stamp + r->one_lap == tail + 1 &&
            atomic_load_explicit(&r->head, memory_order_seq_cst) + r->one_lap == tail)
            return WEFT_EAGAIN; /* full: the cell still holds last lap's item */
        weft__queue_backoff(&spins);
        tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    }
}

int weft__ring_recv(weft__ring *r, void **item, _Atomic size_t *waiters, weft__ring_claim *claim)
{
    unsigned spins = 0;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        struct weft__cell *c = &r->cell[head & (r->mark - 1)];
        /* acquire: pairs with weft__ring_publish by the producer of the item. */
        uint64_t stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
        if (stamp == head + 1) {
            /* seq_cst: the writer's side of wait.c's Dekker pattern (a putter waits for room). */
            if (atomic_compare_exchange_weak_explicit(&r->head, &head, next_pos(r, head),
                                                      memory_order_seq_cst, memory_order_relaxed)) {
                *item = c->item;
                *claim = (weft__ring_claim){&c->stamp, head + r->one_lap}; /* free next lap */
                return publish_unless_waiters(waiters, claim);
            }
            continue;
        }
        if (stamp == head) {
            /* seq_cst: the waiter's side of wait.c's Dekker pattern. */
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

bool weft__ring_ready(weft__ring *r, bool put)
{
    /* seq_cst: the waiter's side of wait.c's Dekker pattern (after its count increment). */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
    if (tail & r->mark) return true;
    return put ? head + r->one_lap != tail : tail != head;
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
