/* src/queue/queue_impl.h - what the files of the queue module share (not part of the API).
 *
 * queue.c   the queue object: put/get, batches, task accounting, close and shutdown; the
 *           locked queues (LIFO, priority) with their hand-off protocol. The public timeout
 *           becomes a deadline here, once (weft__queue_deadline); everything below takes that.
 * wait.c    the waiting protocol of FIFO queues over their lock-free store (link, re-check,
 *           park; wake with RETRY between a claim and its publish; polling before parking).
 * ring.c    the lock-free ring of bounded FIFO queues: claim a cell, publish it.
 * list.c    the lock-free linked blocks of unbounded FIFO queues: claim a slot, publish it.
 * store.c   the storage of locked queues: a ring (bounded), linked segments (unbounded) or a
 *           binary heap (priority); no locking, no waiting.
 * select.c  weft_queue_select over several queues.
 * Calls go down this list (select.c calls into queue.c and wait.c); ring.c and list.c call
 * nothing of the module but weft__queue_backoff.
 */
#ifndef WEFT_QUEUE_IMPL_H
#define WEFT_QUEUE_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <weft/queue.h>

#include "../core/lock.h"
#include "../core/park.h"
#include "../core/registry.h"

/* Items per segment of an unbounded FIFO/LIFO: a segment is two links and 254 slots, 2 KiB,
 * so a queued item costs 8 bytes plus 16/254 of the links. */
#define WEFT__SEG_N 254

struct weft__seg {
    struct weft__seg *prev, *next;
    void *slot[WEFT__SEG_N];
};

struct weft__hent {
    void *item;
    uint64_t seq; /* put order: the tie-break that makes the priority order stable */
};

typedef struct weft__store {
    int order;
    size_t cap;   /* 0: unbounded */
    size_t count; /* items held */
    /* ring (bounded FIFO/LIFO): items are ring[head], ring[head + 1], ... modulo cap */
    void **ring;
    size_t head;
    /* segments (unbounded FIFO/LIFO): items from hseg->slot[hidx] to tseg->slot[tidx - 1];
     * when count > 0, hidx < WEFT__SEG_N and tidx > 0; one emptied segment is kept as spare
     * so that a queue hovering around a segment boundary does not malloc per item. */
    struct weft__seg *hseg, *tseg, *spare;
    uint32_t hidx, tidx;
    /* heap (priority): a min-heap of heap_cap entries, the first count in use */
    struct weft__hent *heap;
    size_t heap_cap;
    uint64_t seq;
    weft_queue_compare_fn cmp;
    void *cmp_arg;
} weft__store;

int weft__store_init(weft__store *s, const weft_queue_opts *o);
void weft__store_fini(weft__store *s);
/* Add an item; the caller checked that a bounded store has room. 0 or WEFT_ENOMEM. */
int weft__store_push(weft__store *s, void *item);
/* Remove the next item in the store's order; the caller checked count > 0. */
void *weft__store_pop(weft__store *s);

/* The lock-free ring of a bounded FIFO queue (ring.c): a bounded MPMC array queue with a
 * sequence number ("stamp") per cell. head and tail are lap + index; tail also carries the
 * close mark. Each sits on its own cache line so that producers and consumers do not share one. */
struct weft__cell {
    _Atomic uint64_t stamp;
    void *item;
};

typedef struct weft__ring {
    struct weft__cell *cell;
    uint64_t cap, mark, one_lap; /* mark: the smallest power of two > cap; one_lap: 2 * mark */
    char pad0[64 - 4 * sizeof(uint64_t)];
    _Atomic uint64_t head;
    char pad1[64 - sizeof(uint64_t)];
    _Atomic uint64_t tail;
    char pad2[64 - sizeof(uint64_t)];
} weft__ring;

/* Wait for a cell (slot) that another thread is mid-way through updating (ring.c; list.c too):
 * spin, then yield, then sleep 20 us at a time. spins: the caller's counter, starting at 0. */
void weft__queue_backoff(unsigned *spins);

/* A claimed cell of the ring: the position is moved and the item written (put) or read (get),
 * and the cell is not yet published. Publishing it makes the item (the room) visible, and is
 * the operation's last access to the queue: a thread that takes the item (room) may free the
 * queue at once (wait.c wakes a waiter before it). */
typedef struct weft__ring_claim {
    _Atomic uint64_t *stamp;
    uint64_t value;
} weft__ring_claim;

static inline void weft__ring_publish(const weft__ring_claim *c)
{
    /* release: pairs with the acquire stamp loads of weft__ring_send/recv. */
    atomic_store_explicit(c->stamp, c->value, memory_order_release);
}

int weft__ring_init(weft__ring *r, size_t cap);
void weft__ring_fini(weft__ring *r);
/* Put (get) one item: 0, WEFT_EAGAIN (full / empty), WEFT_ECLOSED (marked; recv: and empty).
 * On 0, if *waiters (the other side's count, loaded after the position CAS) was not zero the
 * cell is left claimed, c->stamp not NULL: the caller must weft__ring_publish(c); else it is
 * published and c->stamp is NULL (waiters NULL: never held). Lock-free; they wait
 * (weft__queue_backoff) only for a cell another thread claimed and has not published. */
int weft__ring_send(weft__ring *r, void *item, _Atomic size_t *waiters, weft__ring_claim *c);
int weft__ring_recv(weft__ring *r, void **item, _Atomic size_t *waiters, weft__ring_claim *c);
void weft__ring_close(weft__ring *r);
size_t weft__ring_len(weft__ring *r);
/* How many puts have claimed a position so far (seq_cst: read after the tail CAS of each). */
uint64_t weft__ring_puts(weft__ring *r);
/* Whether the k (1 <= k <= cap) cells from tail on look free: a hint for polling putters. */
bool weft__ring_has_room(weft__ring *r, uint64_t k);
/* Whether a put (put) or get may find what it needs without waiting: room (an item) is there
 * or claimed and about to be published, or the ring is closed. Only looks (seq_cst). */
bool weft__ring_ready(weft__ring *r, bool put);

/* The lock-free store of an unbounded FIFO queue (list.c): linked blocks of 63 slots. */
#define WEFT__BLOCK_N 63

/* A block: the link and the items (8 cache lines), then the producers' written flags, then the
 * readers' READ flags, each flag a byte that one thread writes once with a plain store, so
 * that neither the publish nor the read needs a locked instruction; about 10 bytes a slot.
 * Blocks start on a cache line (list.c), so the flags that producers write and those that
 * consumers write sit on two lines of their own. */
struct weft__lblock {
    struct weft__lblock *_Atomic next;
    void *item[WEFT__BLOCK_N];
    _Alignas(64) _Atomic uint8_t written[WEFT__BLOCK_N]; /* 0, then 1: the item is there */
    _Alignas(64) _Atomic uint8_t read[WEFT__BLOCK_N];    /* 0, then 1: read (list.c's retire) */
};
_Static_assert(sizeof(struct weft__lblock) == 10 * 64, "a block is 10 cache lines");

/* Emptied blocks kept for the next ones a put needs (list.c). */
#define WEFT__LIST_SPARES 4

typedef struct weft__list {
    _Atomic uint64_t hindex;
    struct weft__lblock *_Atomic hblock;
    _Atomic uint64_t tseen; /* a tail the consumers saw: below it, no need to look at tail */
    /* The queue has an fd (queue/fd.c): read by every get right after its hindex CAS, so it
     * sits on that line, which the get has just written (no miss); written once. */
    _Atomic bool has_fd;
    char pad0[64 - 3 * sizeof(uint64_t) - sizeof(bool)];
    _Atomic uint64_t tindex;
    struct weft__lblock *_Atomic tblock;
    char pad1[64 - 2 * sizeof(uint64_t)];
    struct weft__lblock *_Atomic spare[WEFT__LIST_SPARES];
    struct weft__lblock *_Atomic retired; /* read to its last slot, maybe not by all (list.c) */
    char pad2[64 - (WEFT__LIST_SPARES + 1) * sizeof(void *)];
} weft__list;

void weft__list_init(weft__list *l);
void weft__list_fini(weft__list *l);
/* A claimed slot of the list, its item written and not yet published (as for the ring). */
typedef struct weft__list_claim {
    _Atomic uint8_t *state; /* the slot's written flag */
} weft__list_claim;

static inline void weft__list_publish(const weft__list_claim *c)
{
    /* release: pairs with the acquire loads of the flag in list.c (wait_write, claim_head).
     * Only the slot's producer writes it, so a plain store does. */
    atomic_store_explicit(c->state, 1, memory_order_release);
}

/* Lock-free. send: 0, WEFT_ECLOSED, WEFT_ENOMEM; on 0 the slot is published (c->state NULL)
 * unless *waiters was not zero after the tail CAS: then the caller must weft__list_publish(c).
 * recv (no putter of an unbounded queue waits for room, so nothing to hold): 0, WEFT_EAGAIN,
 * WEFT_ECLOSED; it waits (weft__queue_backoff) for a slot claimed and not yet published. */
int weft__list_send(weft__list *l, void *item, _Atomic size_t *waiters, weft__list_claim *c);
int weft__list_recv(weft__list *l, void **item);
/* Whether a get may find an item without waiting (one is there or claimed), or the list is
 * closed. Only looks (seq_cst). */
bool weft__list_ready(weft__list *l);
void weft__list_close(weft__list *l);
size_t weft__list_len(weft__list *l);
/* How many puts have claimed a slot so far (seq_cst: read after the tail CAS of each). */
uint64_t weft__list_puts(weft__list *l);

/* The queue. Lock order: docs/design/locks.md (select holds several queue locks, in address
 * order: select.c). */
struct weft_queue {
    /* Fast queues: the ring's head and tail sit on cache lines of their own (see weft__ring);
     * the task counters (below) on a third. Then the read-mostly fields, then the
     * lock and what it guards, so that parking and waking never touch the hot lines. */
    _Alignas(64) weft__ring ring; /* fast bounded FIFO queues only (weft__calloc_lines) */
    weft__list list;              /* fast unbounded FIFO queues only */
    /* Task accounting (task_done/join). A locked queue counts the items put and not yet done
     * in unfinished. A fast queue counts only the items done (task_done, or handed back by
     * shutdown) in done: its puts are counted by the tail position of its ring or list, so a
     * put writes no shared counter besides the tail it must move anyway. */
    _Atomic size_t unfinished;
    _Atomic size_t done;
    char pad0[64 - 2 * sizeof(size_t)];
    bool fast;           /* FIFO: items live in ring or list, not st, never handed over */
    _Atomic bool closed; /* sticky: no more puts */
    _Atomic bool shut;   /* sticky: no more gets either (implies closed) */
    /* Fast queues: how many records getters/putters hold, for wakers that do not take the lock
     * to look (changed under lock, read without it: see wait.c for the pairing). */
    _Atomic size_t ngetters, nputters;
    /* Fast queues: getters/putters woken by a put/get that have not run yet (wait.c). */
    _Atomic uint32_t coming_getters, coming_putters;
    char pad1[64 - 2 * sizeof(size_t) - 2 * sizeof(uint32_t) - 3 * sizeof(bool)];
    weft__lock lock; /* guards the lists, st, and the writes of closed/shut */
    /* Waiter lists. Their own weft__waitq locks are unused: `lock` guards all three. */
    weft__waitq getters; /* threads waiting for an item */
    weft__waitq putters; /* threads waiting for room */
    weft__waitq joiners; /* threads in weft_queue_join; non-empty only while unfinished > 0 */
    weft__waitq enders;  /* threads that saw WEFT_ECLOSED while a close/shutdown still runs */
    size_t ending;       /* closes and shutdowns still running (queue.c, "Lifetime") */
    /* weft_queue_fd (fd.c): the eventfd, -1 until asked for; raised: whether it is readable.
     * Both are guarded by lock (evfd is also read without it by weft_queue_free only). */
    int evfd;
    bool raised;
    weft__store st;     /* locked queues only */
    weft__reg_link reg; /* the list of live queues (registry.c, under its lock) */
};

/* Waiter result meaning "woken to look again" (fast queues hand nothing over); _COUNTED: and
 * counted in coming_getters/coming_putters by the put/get that woke it (wait.c). */
#define WEFT__QUEUE_RETRY         1
#define WEFT__QUEUE_RETRY_COUNTED 2

/* The deadline every internal call takes: an absolute time on the monotonic clock
 * (WEFT_FOREVER: none), made once from the caller's timeout (>= 0, already checked).
 * WEFT__QUEUE_TRY, a deadline always past, is a call that must not wait: it fails with
 * WEFT_EAGAIN where a call whose deadline passed fails with WEFT_ETIMEDOUT. Only a finite,
 * non-zero timeout reads the clock. */
#define WEFT__QUEUE_TRY ((weft_ns)0)
_Static_assert(WEFT__QUEUE_TRY == 0, "weft__queue_deadline maps timeout 0 to WEFT__QUEUE_TRY");
static inline weft_ns weft__queue_deadline(weft_ns timeout)
{
    if (timeout == 0 || timeout == WEFT_FOREVER) return timeout; /* no clock read */
    return weft_deadline(timeout);
}

/* Fast-queue put/get (wait.c): 0, WEFT_EAGAIN (deadline WEFT__QUEUE_TRY), WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, WEFT_ECLOSED, WEFT_ENOMEM (put). */
int weft__fast_put(weft_queue *q, void *item, weft_ns deadline);
int weft__fast_get(weft_queue *q, void **item, weft_ns deadline);
/* One attempt without waiting, for select (q->lock not held). */
int weft__fast_try(weft_queue *q, int op, void **item);
/* Under q->lock, after linking a record: whether op may succeed (or fail for good) without a
 * wake-up: an item (room) is there or being published, or the queue is closed. Then do not
 * park; drop the lock and try again (the cell may be waiting for our very lock). */
bool weft__fast_ready(weft_queue *q, int op);
/* A waiter w of list woke up (claimed WOKEN): if a put/get counted it as coming, uncount it
 * and leave WEFT__QUEUE_RETRY in w->result. */
void weft__queue_arrived(weft_queue *q, weft__waitq *list, weft__waiter *w);
/* Wake one waiter of list with RETRY (takes q->lock). */
void weft__fast_notify(weft_queue *q, weft__waitq *list);
/* Before a put/get reports WEFT_ECLOSED: wait until no close or shutdown of q is still running,
 * so that the caller may free q at once (queue.c, "Lifetime"). */
void weft__queue_closed_wait(weft_queue *q);
/* Link / unlink a record on a list, keeping the fast counters right; q->lock held. */
void weft__queue_link(weft_queue *q, weft__waitq *list, weft__waiter *w);
void weft__queue_unlink(weft_queue *q, weft__waitq *list, weft__waiter *w);
/* Count n items as done (a failed hand-off of a locked queue, items handed back by shutdown)
 * without going beyond the items put; wakes the joiners when nothing is left unfinished
 * (locked: the caller holds q->lock and flushes wl). */
void weft__queue_undo(weft_queue *q, size_t n, bool locked, weft__wakelist *wl);

/* weft_queue_fd (fd.c): make the eventfd match the queue - readable when an item is there
 * or being published, or the queue is closed - if it has one; q->lock held. Fast queues call
 * it from wait.c while their cell is claimed (the ring's put or get: the fd counts as one
 * waiter of each side, so every operation takes that path) or after the get (the list). */
void weft__queue_fd_sync(weft_queue *q);
/* The same for a get from the list, which holds no claim: takes q->lock. */
void weft__queue_fd_sync_unlocked(weft_queue *q);

/* The try-once operations, caller holds q->lock. They hand items to parked waiters directly
 * (claims go to wl, to be flushed after the lock is dropped).
 * try_put: 0 (taken), WEFT_EAGAIN (full), WEFT_ECLOSED, WEFT_ENOMEM.
 * try_get: 0 (*item set), WEFT_EAGAIN (empty), WEFT_ECLOSED. */
int weft__queue_try_put(weft_queue *q, void *item, weft__wakelist *wl);
int weft__queue_try_get(weft_queue *q, void **item, weft__wakelist *wl);

/* The list of live queues that the dump reads (registry.c): q joins it once made and leaves it
 * before it is freed. */
void weft__queue_register(weft_queue *q);
void weft__queue_unregister(weft_queue *q);

#endif
