/* src/queue/fd.c - weft_queue_fd: a descriptor an event loop can poll, readable exactly while
 * a get would find an item (or the queue is closed).
 *
 * The descriptor is an eventfd raised and lowered to match the queue, never a count of items:
 * weft__queue_fd_sync looks at the queue under q->lock and raises the eventfd if an item is
 * there (or being published) or the queue is closed, lowers it otherwise, and does nothing
 * when it already matches (q->raised). Every operation that changes what a get would find
 * calls it after its change, and the calls are serialised by q->lock, so the last one sees
 * every change before it: once the queue is quiet, the descriptor is right. While threads
 * are still putting and getting it may lag by one operation (a get that took the last item
 * and has not synced yet), which is why a loop treats WEFT_EAGAIN as "poll again".
 *
 * Zero cost for queues without an fd. Locked queues sync inside try_put/try_get, already
 * under q->lock, after one test of q->evfd. Fast (FIFO) queues must not take a lock on their
 * lock-free path, and must not touch q after publishing their cell ("Lifetime", wait.c). So
 * asking for an fd counts one phantom waiter on each side (ngetters, nputters): from then on
 * every put, and every get from a ring, finds "waiters" after its position CAS and goes the
 * way it already goes when threads are parked, wake_then_publish, which takes q->lock between
 * the claim and the publish and syncs there. The claim already counts as an item (put) or as
 * gone (get), weft__ring_ready and weft__list_ready say so. A get from the unbounded list holds
 * no claim (no putter waits for room there), so it tests list.has_fd after its head CAS (on
 * the line that CAS just wrote: no cache miss) and syncs afterwards; nobody may free q because
 * of a get from an unbounded queue, so that is safe. A queue that never asks pays nothing on
 * its put/get paths but that one test in the list get.
 *
 * Enabling races with puts and gets in flight: weft_queue_fd raises the counts and has_fd
 * (seq_cst) and then looks at the queue; a put (get) moves its position (seq_cst CAS) and then
 * loads the count or has_fd (seq_cst). This is wait.c's Dekker pattern: either the operation sees the phantom and
 * syncs after us, or our look sees its position moved.
 *
 * Lock order: q->lock, then nothing (the eventfd calls are system calls, no locks).
 */
#include <weft/error.h>
#include <weft/queue.h>

#include "../core/internal.h"
#include "../os/os.h"
#include "queue_impl.h"

/* Whether a get would find an item now (or end at once with WEFT_ECLOSED); q->lock held. */
static bool readable(weft_queue *q)
{
    /* relaxed: closed is written under q->lock, which we hold. */
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return true;
    if (!q->fast) return q->st.count > 0;
    return q->ring.cap ? weft__ring_ready(&q->ring, false) : weft__list_ready(&q->list);
}

void weft__queue_fd_sync(weft_queue *q)
{
    if (q->evfd < 0) return;
    bool want = readable(q);
    if (want == q->raised) return;
    if (want)
        weft__os_eventfd_raise(q->evfd);
    else
        weft__os_eventfd_lower(q->evfd);
    q->raised = want;
}

void weft__queue_fd_sync_unlocked(weft_queue *q)
{
    weft__lock_acquire(&q->lock);
    weft__queue_fd_sync(q);
    weft__lock_release(&q->lock);
}

int weft_queue_fd(weft_queue *q, int *fd)
{
    if (q == NULL || fd == NULL)
        return weft__fail(WEFT_EINVAL, "%s", q == NULL ? "q is NULL" : "fd is NULL");
    int rc = 0;
    weft__lock_acquire(&q->lock);
    if (q->evfd < 0) {
        rc = weft__os_eventfd_new();
        if (rc < 0) rc = weft__fail(rc, "no eventfd for the %s: %s", "queue", weft_strerror(rc));
        if (rc >= 0) {
            q->evfd = rc;
            rc = 0;
            /* seq_cst: our side of the Dekker pattern above, before readable() looks. */
            atomic_fetch_add_explicit(&q->ngetters, 1, memory_order_seq_cst);
            atomic_fetch_add_explicit(&q->nputters, 1, memory_order_seq_cst);
            atomic_store_explicit(&q->list.has_fd, true, memory_order_seq_cst);
            weft__queue_fd_sync(q);
        }
    }
    if (rc == 0) *fd = q->evfd;
    weft__lock_release(&q->lock);
    return rc;
}
