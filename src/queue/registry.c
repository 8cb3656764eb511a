/* src/queue/registry.c - every live queue, for weft_debug_dump (debug.c): its counts, capacity,
 * parked getters and putters, closed or shut down.
 *
 * It costs only a queue's creation and free (a global lock, taken alone, for a link or an
 * unlink); put and get never touch it. The dump reads the list through weft__queues_view with
 * a try of qreg.lock that gives up rather than wait (the thread holding it may be the stuck
 * one), and, while holding it, no queue can be freed, so each one it reads is alive. The list
 * itself is core/registry.h's.
 *
 * Lock order: docs/design/locks.md. qreg.lock is taken alone by new and free, held across
 * fork() (core/fork.c), and the dump tries a queue's q->lock under it.
 */
#include "core/fork.h"
#include "../core/internal.h"
#include "../core/registry.h"
#include "../os/os.h"
#include "debug_internal.h"
#include "queue_impl.h"

static weft__registry qreg; /* of weft_queue.reg */

void weft__queue_register(weft_queue *q)
{
    weft__fork_register();
    weft__registry_add(&qreg, &q->reg);
}

void weft__queue_unregister(weft_queue *q)
{
    weft__registry_remove(&qreg, &q->reg);
}

/* Tries of a locked queue's lock before its items are given up as unknown: it is held for a
 * store operation or a wake-up, never across a wait. */
#define COUNT_TRIES 64

/* The items of a LIFO or priority queue (its store is under q->lock); false if it stayed busy. */
static bool locked_items(weft_queue *q, size_t *items)
{
    for (int i = 0; i < COUNT_TRIES; i++) {
        if (weft__lock_try(&q->lock)) {
            *items = q->st.count;
            weft__lock_release(&q->lock);
            return true;
        }
        weft__os_relax();
    }
    return false;
}

static void view(weft__reg_link *l, void *dst)
{
    weft_queue *q = WEFT__REG_OBJ(l, weft_queue, reg);
    struct weft__queue_view *v = dst;
    v->queue = q;
    v->capacity = q->fast ? (size_t)q->ring.cap : q->st.cap; /* fixed at weft_queue_new */
    v->counted = true;
    if (!q->fast)
        v->counted = locked_items(q, &v->items);
    else
        v->items = q->ring.cap ? weft__ring_len(&q->ring) : weft__list_len(&q->list);
    /* relaxed: a snapshot for a person to read; nothing else hangs on these. */
    v->getters = atomic_load_explicit(&q->ngetters, memory_order_relaxed);
    v->putters = atomic_load_explicit(&q->nputters, memory_order_relaxed);
    v->closed = atomic_load_explicit(&q->closed, memory_order_relaxed);
    v->shutdown = atomic_load_explicit(&q->shut, memory_order_relaxed);
}

long weft__queues_view(struct weft__queue_view *out, size_t max)
{
    return weft__registry_view(&qreg, out, sizeof *out, max, view);
}

/* fork(): the child keeps the parent's queues (their memory came along), so it keeps the list;
 * holding the lock across fork() keeps the list whole. */
void weft__queues_fork_prepare(void)
{
    weft__lock_acquire(&qreg.lock);
}

void weft__queues_fork_parent(void)
{
    weft__lock_release(&qreg.lock);
}

void weft__queues_fork_child(void)
{
    weft__lock_release(&qreg.lock);
}
