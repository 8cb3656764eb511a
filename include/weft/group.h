/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/group.h - task groups: structured concurrency (Trio's nursery, Java's StructuredTaskScope).
 *
 * A group runs tasks (int fn(void *arg), like a thread function) and waits for all of them:
 *     weft_group *g;
 *     weft_group_new(&g, NULL);
 *     weft_group_spawn(g, fetch, &a, "fetch-a");
 *     weft_group_spawn(g, fetch, &b, "fetch-b");
 *     rc = weft_group_wait(g, WEFT_FOREVER);   0, or the first failure (message included)
 *     weft_group_free(g);
 *
 * The first task that fails (returns non-zero) cancels the others: every task runs inside a
 * cancel scope (weft/cancel.h) that is a child of the group's scope, and the failure cancels the
 * group's scope, so siblings blocked in any weft call return WEFT_ECANCELED at once. That
 * failure, its status and the message the task set with weft_error_set, becomes the group's
 * result: weft_group_wait returns the status and puts the message in the waiter's error slot,
 * as weft_thread_join does. A task that ends with WEFT_ECANCELED after the group was cancelled
 * is not a failure of its own, only the consequence of one.
 *
 * Groups nest: the group's scope is a child of the scope of the thread that makes it (or of
 * opts->scope), so a task that opens a group of its own makes a grandchild scope, and
 * cancelling any ancestor reaches the innermost tasks. A deadline for the whole group is a
 * scope with a deadline (weft_scope_new with opts.timeout) passed as opts->scope.
 *
 * Where tasks run: on a pool (weft/pool.h) - opts->pool, else the pool of the group whose task
 * makes this group (nested groups share their pool), else weft_pool_default(). A task of a pool
 * worker that waits for a group of the same pool runs queued tasks meanwhile, so waiting for
 * nested groups never deadlocks the pool, even a pool of one worker. A pool has a fixed number of workers:
 * tasks that block for long (sleep, I/O, locks held by others) occupy them, so for such tasks
 * give the group a pool sized for them or set opts->threads, which runs every task on a weft
 * thread of its own (started by weft_group_spawn).
 */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include <weft/cancel.h>
#include <weft/config.h>
#include <weft/pool.h>
#include <weft/thread.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_group weft_group;

/* All-zero ({0}, calloc) is the defaults, the same as WEFT_GROUP_OPTS_INIT and as passing NULL. */
typedef struct weft_group_opts {
    weft_scope *scope; /* borrowed during the call: parent of the group's scope; NULL: the
                          calling thread's current scope */
    weft_pool *pool;   /* borrowed, must outlive the group: runs the tasks; NULL: see above */
    int threads;       /* non-zero: a new weft thread per task, no pool (pool must be NULL) */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_group_opts;

/* clang-format off */
#define WEFT_GROUP_OPTS_INIT {NULL, NULL, 0, {0}}
/* clang-format on */

/* weft_group_new - make an empty group.
 * out: caller-owned, receives the handle on success (untouched on failure); end it with
 *      weft_group_free.
 * opts: borrowed, may be NULL. If the parent scope is already cancelled, so is the group.
 * Returns 0, WEFT_EINVAL (NULL out, both pool and threads set), WEFT_ENOMEM (also: the default
 * pool could not be made).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_group_new(weft_group **out, const weft_group_opts *opts) WEFT_NODISCARD;

/* weft_group_spawn - start fn(arg) as a task of g, on g's pool or on a new thread.
 * g: borrowed. fn: the task; its return value is its status (0 success). arg: passed to fn,
 * never dereferenced by weft; keep it valid until weft_group_wait or weft_group_free returned.
 * name: borrowed and copied, may be NULL ("task-N"); it names the task (and its thread) and
 * the failure in the scope's cancel reason.
 * Tasks may spawn siblings into their own group.
 * Returns 0: fn will be called once, unless the group is cancelled before fn starts (a task
 * still queued on the pool, or a thread not yet running): then fn is never called and the
 * task counts as cancelled; or the pool breaks before fn starts (a worker initializer failed):
 * then the task fails with WEFT_EBROKEN and the pool's reason. Or, without calling fn:
 *   WEFT_ECANCELED  the group is cancelled (a task failed, weft_group_cancel, or a parent scope
 *                   was cancelled): a new task could only be cancelled; or the pool was full
 *                   (max_queued) and the caller was cancelled while waiting for room;
 *   WEFT_ECLOSED    a weft_group_wait already returned the group's result: it takes no more;
 *                   or the pool was shut down (WEFT_EBROKEN: it broke);
 *   WEFT_EINVAL     NULL g or fn, name of WEFT_THREAD_NAME_MAX bytes or more;
 *   WEFT_ENOMEM, WEFT_EAGAIN  no memory, no thread or worker; the group is not cancelled.
 * Blocks: only while the pool is full (max_queued back-pressure). Cancellation point: only
 * then. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_group_spawn(weft_group *g, int (*fn)(void *arg), void *arg, const char *name);

/* weft_group_wait - wait until every task of g has returned, and give the group's result.
 * g: borrowed. timeout: relative (weft/time.h).
 * Returns, once no task runs (then the group is closed: spawn gives WEFT_ECLOSED, and further
 * waits return the same result at once):
 *   0                  every task succeeded (or ended before the group was cancelled: a
 *                      group cancelled when none of its tasks was left to stop gives 0);
 *   the first failure  its status (any non-zero int a task returned); the calling thread's
 *                      error slot receives its code and message (weft_error_message);
 *   WEFT_ECANCELED     the group was cancelled (weft_group_cancel, a parent scope, a pool
 *                      shutdown that dropped queued tasks) and no task failed on its own; the
 *                      error slot receives the reason.
 * Or, while tasks still run: WEFT_EAGAIN (timeout 0), WEFT_ETIMEDOUT (the tasks go on; wait
 * again later), WEFT_ECANCELED (the caller's own scope was cancelled: the group is cancelled
 * too, and the tasks are winding down; weft_group_free waits for them).
 * WEFT_EDEADLK: called from a task of g (it would wait for itself). WEFT_EINVAL: NULL g,
 * negative timeout.
 * Blocks: yes (a worker of g's pool runs the pool's tasks meanwhile). Cancellation point: yes.
 * Thread safety: safe (several threads may wait). Async-signal-safe: no. */
WEFT_API int weft_group_wait(weft_group *g, weft_ns timeout);

/* weft_group_cancel - cancel every task of g (their blocking weft calls return
 * WEFT_ECANCELED), and make further spawns fail with WEFT_ECANCELED. Does not wait.
 * Returns 0 (also when already cancelled), WEFT_EINVAL (NULL g).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_group_cancel(weft_group *g);

/* weft_group_scope - g's cancel scope, borrowed: valid until weft_group_free. Threads started
 * with weft_thread_opts.scope set to it are cancelled with the group. NULL for NULL g.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API weft_scope *weft_group_scope(weft_group *g);

/* weft_group_free - end g. Tasks still running are cancelled first and then waited for (no
 * timeout, and the caller's own cancellation does not cut this wait short: structured
 * concurrency means no task outlives its group), so free blocks only as long as the tasks take
 * to notice cancellation. A result nobody collected with weft_group_wait is dropped.
 * g: taken: invalid after the call; no other call on g may be in progress or follow.
 * Returns 0, WEFT_EDEADLK (called from a task of g; nothing is done), WEFT_EINVAL (NULL g).
 * Once weft_group_wait returned in a thread, that thread may free g at once, even while the
 * worker that ran the last task is still finishing it (g lives until that worker lets go).
 * Blocks: yes, while tasks run. Cancellation point: no. Thread safety: not on g.
 * Async-signal-safe: no. */
WEFT_API int weft_group_free(weft_group *g);

WEFT_END_DECLS

#endif
