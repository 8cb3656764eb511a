/* src/queue/list.c - the lock-free store of unbounded FIFO queues: linked blocks of slots.
 *
 * The scheme of crossbeam-channel's "list" flavour, written anew in C11. Positions count slots
 * in laps of LAP = 64; offsets 0 .. BLOCK_N - 1 (63 of them) are slots of one block, offset 63
 * of a lap is a pause while the thread that filled the block's last slot links the next one.
 * Positions are stored shifted left by one; the low bit is MARK: on tail it means closed, on
 * head it means "the head block has a successor" (so a consumer need not look at tail).
 *
 * Producer: CAS tail forward (seq_cst), write the slot, load the getters' count (seq_cst),
 * and store the slot's written flag (release): the publish, the put's last access to the
 * queue. The flag is a byte of its own, written only by the slot's producer, so the publish
 * is a plain store, not a locked instruction.
 * When getters wait, the slot is left claimed and unpublished for wait.c to wake one first
 * (as for the ring, see ring.c). Nothing else comes between the CAS and the publish: a
 * consumer that already claimed the slot spins on its flag, so every instruction there
 * costs the consumers too (a spare block that a put took for a last slot it then lost is given
 * back before its next CAS, not after it). The one that takes a block's last slot links the
 * next block (allocated before the CAS, so that a failed allocation fails the put cleanly with
 * nothing claimed) and steps tail over the pause.
 * Consumer: if head's MARK is clear and head is not below tseen (a tail value a consumer saw
 * before, kept on the consumers' line), load tail (seq_cst) to see whether the queue is empty:
 * a consumer that is behind reads the producers' line once per batch, not once per item;
 * CAS head forward; wait for the slot's flag (acquire); read; store the slot's READ flag
 * (release, a plain store: a get has one locked instruction, its CAS). The consumer of a
 * block's last slot retires it, and gives up the block retired before it once every READ flag
 * of that one is set (see retire(); crossbeam instead has each reader set READ with a
 * fetch_or and pass the freeing on to a late reader, a second locked instruction per get).
 *
 * Memory: a block is one link, 63 items and a written and a READ byte for each, 640 bytes on
 * 10 cache lines (the two kinds of flag on a line each), about 10.2 bytes per queued item,
 * given up as soon as its last item is read (one block more waits in l->retired). A given-up
 * block goes to one of WEFT__LIST_SPARES spare slots, link and flags zeroed, if one is empty
 * (else back to malloc), and a
 * put that needs a block takes a spare first: producers allocate and consumers free, each on
 * their own threads, and through malloc that cost an arena lock round trip (and often a futex
 * call) per block; through the spares it is one exchange each way. A spare slot is an atomic
 * pointer that only exchange and CAS from NULL touch, so a block has one owner at a time.
 * Contention: a thread that loses its position CAS (tail or head) yields the CPU before it
 * tries again (lost_cas()). A lost CAS means a thread of the same side ran at that moment, and
 * when threads outnumber CPUs two producers (consumers) that run together pull the position's
 * line and the block's lines back and forth for every item; the yield lets a thread of the
 * other side run instead (a bounded ring gets that pairing for free: a side that runs ahead
 * finds it full or empty and waits).
 * The emptiness test is the writer's and waiter's side of wait.c's Dekker pattern: tail CAS and
 * tail load are seq_cst. No locks here (docs/design/locks.md).
 */
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

#define SHIFT 1
#define MARK  1u
#define LAP   64
#define STEP  ((uint64_t)1 << SHIFT)
_Static_assert(WEFT__BLOCK_N == LAP - 1, "a lap is a block's slots and one pause");

static struct weft__lblock *block_new(weft__list *l)
{
    for (int i = 0; i < WEFT__LIST_SPARES; i++) {
        /* relaxed first look; acquire: pairs with the release CAS in block_give_up. */
        if (atomic_load_explicit(&l->spare[i], memory_order_relaxed) == NULL) continue;
        struct weft__lblock *b = atomic_exchange_explicit(&l->spare[i], NULL, memory_order_acquire);
        if (b) return b;
    }
    return weft__calloc_lines(sizeof(struct weft__lblock));
}

/* The last reader of b is done with it: keep it as a spare, its link and flags zeroed, or
 * free it. The items stay: a slot's item is read only after its written flag is set, and
 * zeroing them would pull the block's eight item lines into this thread's cache, from where
 * the producer that takes the spare must fetch them back. */
static void block_give_up(weft__list *l, struct weft__lblock *b)
{
    atomic_store_explicit(&b->next, NULL, memory_order_relaxed);
    memset(b->written, 0, sizeof b->written);
    memset(b->read, 0, sizeof b->read);
    for (int i = 0; i < WEFT__LIST_SPARES; i++) {
        struct weft__lblock *none = NULL;
        /* release: publishes the zeroed block to block_new's acquire exchange. */
        if (atomic_compare_exchange_strong_explicit(&l->spare[i], &none, b, memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
    free(b);
}

/* Our position CAS failed: another thread of our side moved the position just now. Hand the
 * CPU over rather than spin on the line (see the top): nothing is claimed yet. On a machine
 * with a CPU for every thread the yield returns at once, a short backoff. */
static void lost_cas(void)
{
    weft__os_yield();
}

/* The slot's item is written: wait for it (a producer between its CAS and its store). */
static void wait_write(struct weft__lblock *b, unsigned off)
{
    unsigned spins = 0;
    /* acquire: pairs with the release store in weft__list_publish. */
    while (!atomic_load_explicit(&b->written[off], memory_order_acquire))
        weft__queue_backoff(&spins);
}

static struct weft__lblock *wait_next(struct weft__lblock *b)
{
    unsigned spins = 0;
    struct weft__lblock *n;
    /* acquire: pairs with the release store of next in install(). */
    while ((n = atomic_load_explicit(&b->next, memory_order_acquire)) == NULL)
        weft__queue_backoff(&spins);
    return n;
}

/* The reader of b's last slot is done with b, but readers of earlier slots may still be busy
 * with it. Rather than have every reader tell (a locked instruction per get), b waits in
 * l->retired until the next block's last slot is read, 63 items later, and the previous one
 * is given up then: its readers have long stored READ (the wait below is for a reader
 * preempted between its claim and its read). */
static void retire(weft__list *l, struct weft__lblock *b)
{
    /* acq_rel: takes the previous block from the reader that retired it, hands b on. */
    struct weft__lblock *old = atomic_exchange_explicit(&l->retired, b, memory_order_acq_rel);
    if (old == NULL) return;
    for (unsigned i = 0; i + 1 < WEFT__BLOCK_N; i++) {
        unsigned spins = 0;
        /* acquire: pairs with the release store of READ after the reader's load of the item. */
        while (!atomic_load_explicit(&old->read[i], memory_order_acquire))
            weft__queue_backoff(&spins);
    }
    block_give_up(l, old);
}

void weft__list_init(weft__list *l)
{
    atomic_init(&l->hindex, 0);
    atomic_init(&l->hblock, NULL);
    atomic_init(&l->has_fd, false); /* queue/fd.c sets it */
    atomic_init(&l->tseen, 0);
    atomic_init(&l->retired, NULL);
    atomic_init(&l->tindex, 0);
    atomic_init(&l->tblock, NULL);
    for (int i = 0; i < WEFT__LIST_SPARES; i++) atomic_init(&l->spare[i], NULL);
}

void weft__list_fini(weft__list *l)
{
    struct weft__lblock *b = atomic_load_explicit(&l->hblock, memory_order_relaxed), *n;
    for (; b; b = n) {
        n = atomic_load_explicit(&b->next, memory_order_relaxed);
        free(b);
    }
    /* relaxed: the queue is no longer shared. */
    free(atomic_load_explicit(&l->retired, memory_order_relaxed));
    for (int i = 0; i < WEFT__LIST_SPARES; i++)
        free(atomic_load_explicit(&l->spare[i], memory_order_relaxed));
}

/* The very first put makes the first block; a loser of that race keeps its block as a spare. */
static struct weft__lblock *first_block(weft__list *l, struct weft__lblock **spare)
{
    struct weft__lblock *b = *spare ? *spare : block_new(l), *expected = NULL;
    if (b == NULL) return NULL;
    *spare = NULL;
    /* release: publishes the zeroed block to consumers' acquire loads of hblock/tblock. */
    if (atomic_compare_exchange_strong_explicit(&l->tblock, &expected, b, memory_order_release,
                                                memory_order_acquire)) {
        atomic_store_explicit(&l->hblock, b, memory_order_release);
        return b;
    }
    *spare = b;
    return expected;
}

/* We took the last slot of b: link next after it and step tail over the pause. */
static void install(weft__list *l, struct weft__lblock *b, struct weft__lblock *next)
{
    /* release: pairs with the acquire loads of tblock / next by producers and consumers. */
    atomic_store_explicit(&l->tblock, next, memory_order_release);
    atomic_fetch_add_explicit(&l->tindex, STEP, memory_order_release); /* keeps a close MARK */
    atomic_store_explicit(&b->next, next, memory_order_release);
}

int weft__list_send(weft__list *l, void *item, _Atomic size_t *waiters, weft__list_claim *claim)
{
    unsigned spins = 0;
    struct weft__lblock *spare = NULL;
    /* acquire: pairs with install()'s release stores. */
    uint64_t tail = atomic_load_explicit(&l->tindex, memory_order_acquire);
    struct weft__lblock *b = atomic_load_explicit(&l->tblock, memory_order_acquire);
    int rc = 0;
    for (;;) {
        unsigned off = (unsigned)((tail >> SHIFT) % LAP);
        if (tail & MARK) {
            rc = WEFT_ECLOSED;
            break;
        }
        if (off == WEFT__BLOCK_N) { /* the next block is being linked */
            weft__queue_backoff(&spins);
        } else if (spare && off + 1 != WEFT__BLOCK_N && b != NULL) {
            block_give_up(l, spare); /* lost the last slot: not needed for this one */
            spare = NULL;
        } else if (off + 1 == WEFT__BLOCK_N && spare == NULL && (spare = block_new(l)) == NULL) {
            rc = weft__fail(WEFT_ENOMEM, "no memory to grow the queue");
            break;
        } else if (b == NULL && (b = first_block(l, &spare)) == NULL) {
            rc = weft__fail(WEFT_ENOMEM, "no memory to grow the queue");
            break;
        } else if (atomic_compare_exchange_weak_explicit(&l->tindex, &tail, tail + STEP,
                                                         memory_order_seq_cst,
                                                         memory_order_acquire)) {
            if (off + 1 == WEFT__BLOCK_N) {
                install(l, b, spare);
                spare = NULL;
            }
            b->item[off] = item;
            claim->state = &b->written[off];
            /* seq_cst: the writer's side of wait.c's Dekker pattern, after the tail CAS. */
            if (atomic_load_explicit(waiters, memory_order_seq_cst) != 0) return 0; /* held */
            weft__list_publish(claim);
            claim->state = NULL;
            return 0;
        } else {
            lost_cas();
        }
        tail = atomic_load_explicit(&l->tindex, memory_order_acquire);
        b = atomic_load_explicit(&l->tblock, memory_order_acquire);
    }
    if (spare) block_give_up(l, spare);
    return rc;
}

/* Claim the slot at head; returns 0 (with *bp and *offp set), WEFT_EAGAIN or WEFT_ECLOSED. */
static int claim_head(weft__list *l, struct weft__lblock **bp, unsigned *offp)
{
    unsigned spins = 0;
    /* acquire: pairs with the release stores of a consumer that moved head to a new block. */
    uint64_t head = atomic_load_explicit(&l->hindex, memory_order_acquire);
    struct weft__lblock *b = atomic_load_explicit(&l->hblock, memory_order_acquire);
    for (;;) {
        unsigned off = (unsigned)((head >> SHIFT) % LAP);
        uint64_t next = head + STEP;
        if (off == WEFT__BLOCK_N) goto again; /* the next block is being linked */
        /* relaxed: tseen is a value tail had, and tail only grows, so head below it means
         * "not empty" without a look at tail, the producers' line. */
        if (!(next & MARK) &&
            head >> SHIFT >= atomic_load_explicit(&l->tseen, memory_order_relaxed) >> SHIFT) {
            /* seq_cst: the waiter's side of wait.c's Dekker pattern. */
            uint64_t tail = atomic_load_explicit(&l->tindex, memory_order_seq_cst);
            atomic_store_explicit(&l->tseen, tail, memory_order_relaxed);
            if (head >> SHIFT == tail >> SHIFT) return tail & MARK ? WEFT_ECLOSED : WEFT_EAGAIN;
            if ((head >> SHIFT) / LAP != (tail >> SHIFT) / LAP) next |= MARK;
        }
        if (b == NULL) goto again; /* the first block is being made */
        if (atomic_compare_exchange_weak_explicit(&l->hindex, &head, next, memory_order_seq_cst,
                                                  memory_order_acquire)) {
            if (off + 1 == WEFT__BLOCK_N) {
                struct weft__lblock *n = wait_next(b);
                uint64_t ni = (next & ~(uint64_t)MARK) + STEP;
                if (atomic_load_explicit(&n->next, memory_order_relaxed)) ni |= MARK;
                /* release: pairs with the acquire loads at the top of this function. */
                atomic_store_explicit(&l->hblock, n, memory_order_release);
                atomic_store_explicit(&l->hindex, ni, memory_order_release);
            }
            *bp = b;
            *offp = off;
            return 0;
        }
        lost_cas();
        b = atomic_load_explicit(&l->hblock, memory_order_acquire);
        continue;
    again:
        weft__queue_backoff(&spins);
        head = atomic_load_explicit(&l->hindex, memory_order_acquire);
        b = atomic_load_explicit(&l->hblock, memory_order_acquire);
    }
}

int weft__list_recv(weft__list *l, void **item)
{
    struct weft__lblock *b;
    unsigned off;
    int rc = claim_head(l, &b, &off);
    if (rc) return rc;
    wait_write(b, off);
    *item = b->item[off];
    if (off + 1 == WEFT__BLOCK_N)
        retire(l, b);
    else /* release: our load of the item comes before retire() gives the block up. */
        atomic_store_explicit(&b->read[off], 1, memory_order_release);
    return 0;
}

void weft__list_close(weft__list *l)
{
    atomic_fetch_or_explicit(&l->tindex, MARK, memory_order_seq_cst);
}

bool weft__list_ready(weft__list *l)
{
    /* seq_cst: the waiter's side of wait.c's Dekker pattern (after its count increment). */
    uint64_t tail = atomic_load_explicit(&l->tindex, memory_order_seq_cst);
    uint64_t head = atomic_load_explicit(&l->hindex, memory_order_seq_cst);
    return (tail & MARK) || tail >> SHIFT != head >> SHIFT;
}

uint64_t weft__list_puts(weft__list *l)
{
    /* seq_cst: ordered after the loads of done in queue.c (see unfinished_count there). */
    uint64_t pos = atomic_load_explicit(&l->tindex, memory_order_seq_cst) >> SHIFT;
    return pos - pos / LAP; /* a lap is BLOCK_N slots and one pause (which counts the lap full) */
}

size_t weft__list_len(weft__list *l)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&l->tindex, memory_order_seq_cst);
        uint64_t head = atomic_load_explicit(&l->hindex, memory_order_seq_cst);
        if (atomic_load_explicit(&l->tindex, memory_order_seq_cst) != tail) continue;
        tail >>= SHIFT;
        head >>= SHIFT;
        /* A position on a lap's pause counts as the start of the next lap. */
        if (tail % LAP == LAP - 1) tail++;
        if (head % LAP == LAP - 1) head++;
        uint64_t base = head / LAP * LAP;
        tail -= base;
        head -= base;
        return (size_t)(tail - head - tail / LAP);
    }
}
