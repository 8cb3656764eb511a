/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/queue.h - blocking queues of void * items (queue.Queue, LifoQueue, PriorityQueue).
 *
 * A weft_queue moves items between threads: FIFO, LIFO or priority order, bounded (put blocks
 * while it is full) or unbounded. Ownership of an item passes with it: put takes the item only
 * when it returns 0 (on any error the caller still owns it), get hands it to the caller.
 *
 * Python's task accounting is kept: every successful put adds one unfinished task,
 * weft_queue_task_done removes one, weft_queue_join waits until none is left.
 *
 * Ending a queue (no stop flags, no sentinels):
 *   weft_queue_close     no more puts (WEFT_ECLOSED); gets drain what is left, then every
 *                        consumer, blocked or not, gets WEFT_ECLOSED;
 *   weft_queue_shutdown  close at once (Python 3.13's shutdown(immediate=True)): gets and puts
 *                        fail with WEFT_ECLOSED and the items still inside are handed back to
 *                        the caller through a callback, so nothing is lost.
 *
 * weft_queue_select waits on several queues at once and performs exactly one get or put
 * (Go's select).
 *
 * Every blocking call takes a relative timeout last (weft/time.h): WEFT_FOREVER blocks, 0 tries
 * once and returns WEFT_EAGAIN where it would wait, a negative timeout is WEFT_EINVAL. Every
 * blocking call returns WEFT_ECANCELED when the calling thread is cancelled.
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include <stddef.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

/* An opaque queue handle, made by weft_queue_new and ended by weft_queue_free. */
typedef struct weft_queue weft_queue;

/* The order in which items come out. */
enum weft_queue_order {
    WEFT_QUEUE_FIFO = 0,     /* queue.Queue: first in, first out */
    WEFT_QUEUE_LIFO = 1,     /* queue.LifoQueue: last in, first out */
    WEFT_QUEUE_PRIORITY = 2, /* queue.PriorityQueue: smallest first, equal keys in put order */
};

/* A priority comparator: < 0 if a comes out before b, 0 if they are equal (then put order
 * decides), > 0 otherwise. It runs under the queue's internal lock: it must be quick and must
 * not call any function on the same queue. */
typedef int (*weft_queue_compare_fn)(const void *a, const void *b, void *arg);

/* All-zero ({0}, calloc) is the defaults, the same as WEFT_QUEUE_OPTS_INIT and as passing NULL. */
typedef struct weft_queue_opts {
    size_t capacity;               /* most items held at once; 0: unbounded */
    int order;                     /* enum weft_queue_order */
    weft_queue_compare_fn compare; /* required for WEFT_QUEUE_PRIORITY, NULL otherwise */
    void *compare_arg;             /* passed to compare; weft never dereferences it */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_queue_opts;

/* clang-format off */
#define WEFT_QUEUE_OPTS_INIT {0, WEFT_QUEUE_FIFO, NULL, NULL, {0}}
/* clang-format on */

/* Largest capacity accepted by weft_queue_new (the bounded storage is allocated up front). */
#define WEFT_QUEUE_CAPACITY_MAX ((size_t)1 << 28)

/* weft_queue_new - make a queue.
 * out:  caller-owned, receives the handle on success (untouched on failure).
 * opts: borrowed during the call, may be NULL (unbounded FIFO).
 * Returns 0, WEFT_EINVAL (NULL out; unknown order; capacity > WEFT_QUEUE_CAPACITY_MAX;
 * PRIORITY without compare, or compare with another order), WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_new(weft_queue **out, const weft_queue_opts *opts) WEFT_NODISCARD;

/* weft_queue_free - end the queue and release its memory.
 * q: taken on success; NULL is allowed (returns 0). Items still inside are NOT looked at (weft
 * cannot know how to free them): take them out first, or use weft_queue_shutdown.
 * Returns 0 or WEFT_EBUSY (a thread is still blocked on q: nothing is freed).
 * The caller must make sure that no other thread uses q during or after the call. A thread
 * whose call on q returned because of another thread's call may free q at once, even while
 * that other call is still returning: after a get that received an item (the put is still
 * returning), a put that found room (the get), a WEFT_ECLOSED from put, get or select (the
 * close or shutdown), a join that returned 0 (the last task_done, or a shutdown's hand-back),
 * a select that fired (the put or get that made its case ready).
 * Blocks: no. Cancellation point: no. Thread safety: see above. Async-signal-safe: no. */
WEFT_API int weft_queue_free(weft_queue *q);

/* weft_queue_put - add item, waiting up to timeout while a bounded queue is full.
 * q: borrowed. item: taken on success (any value, NULL included); the caller keeps it otherwise.
 * Returns 0; WEFT_EAGAIN (timeout 0 and full); WEFT_ETIMEDOUT (still full at the deadline);
 * WEFT_ECLOSED (q is closed or shut down, also when that happens during the wait);
 * WEFT_ECANCELED (the caller was cancelled); WEFT_EINVAL (NULL q, negative timeout);
 * WEFT_ENOMEM (an unbounded queue could not grow).
 * Blocks: yes, while full. Cancellation point: yes (only when it would block).
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_put(weft_queue *q, void *item, weft_ns timeout);

/* weft_queue_get - remove the next item, waiting up to timeout while q is empty.
 * q: borrowed. item: caller-owned, receives the item (the caller now owns it); untouched on
 * failure.
 * Returns 0; WEFT_EAGAIN (timeout 0 and empty); WEFT_ETIMEDOUT; WEFT_ECLOSED (q is closed and
 * empty, or shut down); WEFT_ECANCELED; WEFT_EINVAL (NULL q or item, negative timeout).
 * Blocks: yes, while empty. Cancellation point: yes (only when it would block).
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_get(weft_queue *q, void **item, weft_ns timeout);

/* weft_queue_put_many - put items[0 .. n) in order, waiting while q is full, as if by n puts
 * that share one deadline (but taking the internal lock once per run of items that fit).
 * items: borrowed array; items[0 .. *done) are taken, the rest stay the caller's.
 * done: caller-owned, may be NULL; receives how many items were put (also on failure).
 * Returns 0 when all n were put (n == 0 included), else the error that stopped it, as for
 * weft_queue_put (WEFT_EAGAIN: timeout 0 and q filled up). WEFT_EINVAL also for NULL items
 * with n > 0.
 * Blocks: yes, while full. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_put_many(weft_queue *q, void *const *items, size_t n, size_t *done,
                                 weft_ns timeout);

/* weft_queue_get_many - wait up to timeout until q holds an item, then take up to max items
 * without waiting any further.
 * items: caller-owned array of max slots, receives the items in get order.
 * got: caller-owned, receives how many were taken (>= 1 on success, 0 on failure).
 * Returns 0 or the errors of weft_queue_get; WEFT_EINVAL also for NULL items or got, max 0.
 * Blocks: yes, while empty. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_get_many(weft_queue *q, void **items, size_t max, size_t *got,
                                 weft_ns timeout);

/* weft_queue_size - how many items q holds (qsize(): a snapshot, stale at once). 0 for NULL.
 * weft_queue_empty - 1 if q holds no item, else 0 (1 for NULL).
 * weft_queue_full - 1 if q is bounded and holds capacity items, else 0.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API size_t weft_queue_size(weft_queue *q);
WEFT_API int weft_queue_empty(weft_queue *q);
WEFT_API int weft_queue_full(weft_queue *q);

/* weft_queue_capacity - the most items q holds at once (Queue.maxsize): opts.capacity as given
 * to weft_queue_new, 0 for an unbounded queue (and for NULL). Fixed for q's life.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API size_t weft_queue_capacity(weft_queue *q);

/* weft_queue_unfinished - how many items put into q have not yet been matched by a
 * weft_queue_task_done (Queue.unfinished_tasks): weft_queue_join returns once it is 0. A
 * snapshot, stale at once while other threads put or finish tasks; 0 for NULL.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API size_t weft_queue_unfinished(weft_queue *q);

/* weft_queue_task_done - say that an item taken from q has been dealt with (task_done()).
 * Returns 0; WEFT_EOVERFLOW (more calls than items ever put: Python's ValueError; nothing
 * changes); WEFT_EINVAL (NULL q). When the count of unfinished tasks reaches zero every
 * thread in weft_queue_join is released.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_task_done(weft_queue *q);

/* weft_queue_join - wait until every item ever put has been matched by a task_done (join()).
 * Returns 0; WEFT_EAGAIN (timeout 0 and tasks remain); WEFT_ETIMEDOUT; WEFT_ECANCELED;
 * WEFT_EINVAL (NULL q, negative timeout). Close does not release joiners; shutdown counts the
 * items it hands back as done (as Python does).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_join(weft_queue *q, weft_ns timeout);

/* weft_queue_close - no more puts: from now on put returns WEFT_ECLOSED, blocked putters are
 * woken with WEFT_ECLOSED (they keep their items), gets take what is left and then return
 * WEFT_ECLOSED to every consumer, blocked or not. Closing twice is allowed.
 * Returns 0 or WEFT_EINVAL (NULL q).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_close(weft_queue *q);

/* What weft_queue_shutdown does with each item still inside: the callback owns it. */
typedef void (*weft_queue_item_fn)(void *item, void *arg);

/* weft_queue_shutdown - close q at once (Queue.shutdown(immediate=True)): every get and put,
 * blocked or not, returns WEFT_ECLOSED from now on, and each item still inside is passed to
 * fn(item, arg) in get order, from the calling thread, without any queue lock held (fn may
 * call weft functions, even on q). Blocked putters keep their items. Each handed-back item
 * counts as a task_done. fn may be NULL when the items need no clean-up (they are dropped).
 * handed: caller-owned, may be NULL; receives how many items were handed back.
 * Returns 0 or WEFT_EINVAL (NULL q). Shutting down twice is allowed (the second finds nothing).
 * Until the last close or shutdown of q in progress returns, a put, get or select that has
 * WEFT_ECLOSED to report, and a join that has 0 to report, waits for it (so that its caller
 * may free q at once, see weft_queue_free); calls on q from fn, on this thread, do not.
 * Blocks: no (fn may). Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_shutdown(weft_queue *q, weft_queue_item_fn fn, void *arg, size_t *handed);

/* weft_queue_is_closed - 1 once q was closed or shut down, else 0 (and for NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_queue_is_closed(weft_queue *q);

/* One alternative of weft_queue_select. */
enum weft_queue_op { WEFT_QUEUE_GET = 0, WEFT_QUEUE_PUT = 1 };

typedef struct weft_queue_case {
    weft_queue *queue; /* borrowed */
    int op;            /* enum weft_queue_op */
    void *item;        /* PUT: the item to put (taken only if this case fires with 0);
                          GET: receives the item if this case fires with 0 */
} weft_queue_case;

/* Most cases one weft_queue_select call takes. */
#define WEFT_QUEUE_SELECT_MAX 64

/* weft_queue_select - wait until one of the cases can proceed and perform exactly that one
 * (Go's select): a GET on a queue with an item, a PUT on a queue with room. When several are
 * ready at once the choice rotates, so that no case starves. A case on a closed queue is
 * "ready" too and fires with WEFT_ECLOSED (GET: closed and empty or shut down; PUT: closed).
 * The same queue may appear in several cases.
 * cases: borrowed array of n (1 .. WEFT_QUEUE_SELECT_MAX); only the fired case's item changes.
 * fired: caller-owned, may be NULL; receives the index of the case that fired.
 * Returns 0 (case *fired done), WEFT_ECLOSED (case *fired hit a closed queue; nothing moved),
 * WEFT_ENOMEM (case *fired was a PUT on an unbounded queue that could not grow; nothing moved),
 * WEFT_EAGAIN (timeout 0, none ready), WEFT_ETIMEDOUT, WEFT_ECANCELED, WEFT_EINVAL (NULL
 * cases, n out of range, NULL queue or unknown op in a case, negative timeout).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_select(weft_queue_case *cases, size_t n, size_t *fired, weft_ns timeout);

/* weft_queue_fd - a descriptor that an event loop (epoll, poll, libuv's uv_poll, GLib's
 * g_unix_fd_add) can watch instead of a thread blocked in get: it is readable exactly while a
 * get with timeout 0 would not return WEFT_EAGAIN - an item is in q, or q is closed (then
 * the get drains what is left and ends with WEFT_ECLOSED) or shut down - and not readable
 * otherwise. Level-triggered: watch it for POLLIN / EPOLLIN without EPOLLET, and on each
 * readiness get with timeout 0 until WEFT_EAGAIN (another thread may have taken the item
 * first: WEFT_EAGAIN then just means "poll again"). While other threads put and get it can
 * lag one operation behind; once they stop it is exact.
 * The first call makes the descriptor (an eventfd); later calls return the same one. From then
 * on every put and get of q also keeps the descriptor right (a FIFO queue's puts and gets take
 * q's internal lock, and a system call when readiness changes); queues that never ask pay
 * nothing. Cancellation does not touch it: a cancelled getter leaves q as it was, so the fd
 * stays as it was (an event loop learns of cancellation through its own means).
 * q: borrowed. fd: caller-owned, receives the descriptor. The descriptor is owned by q: do not
 * read, write or close it (reading would lower it behind weft's back); it stays valid until
 * weft_queue_free(q), which closes it (remove it from your epoll set first). It is
 * close-on-exec. After fork() the child's copy of q and the parent's q share one eventfd, so
 * the fd means nothing reliable in either once both use their copies: do not poll it then.
 * Returns 0; WEFT_EINVAL (NULL q or fd); WEFT_EAGAIN (out of file descriptors); WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_queue_fd(weft_queue *q, int *fd);

WEFT_END_DECLS

#endif
