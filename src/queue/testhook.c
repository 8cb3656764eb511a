/* src/queue/testhook.c - the queue's test-only observer (src/test_hooks.h): how many threads
 * are parked on one of a queue's wait lists. The lists are guarded by q->lock (queue_impl.h);
 * it is taken for the count, as any waker takes it.
 */
#include "queue/queue_impl.h"
#include "test_hooks.h"

size_t weft__test_queue_parked(weft_queue *q, int which)
{
    weft__waitq *l = which == WEFT__TEST_GETTERS   ? &q->getters
                     : which == WEFT__TEST_PUTTERS ? &q->putters
                     : which == WEFT__TEST_JOINERS ? &q->joiners
                                                   : NULL;
    if (l == NULL) return 0;
    weft__lock_acquire(&q->lock);
    size_t n = weft__waitq_count(l);
    weft__lock_release(&q->lock);
    return n;
}
