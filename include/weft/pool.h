/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/pool.h - a work-stealing thread pool (concurrent.futures.ThreadPoolExecutor), with
 * map, shutdown, back-pressure, pause/resume, statistics, and parallel for / reduce.
 *
 *     weft_pool *p;
 *     weft_pool_new(&p, NULL);                      one worker per usable CPU, started lazily
 *     weft_future *f;
 *     weft_pool_submit(p, work, &job, &f, WEFT_FOREVER);
 *     void *res;
 *     rc = weft_future_result(f, &res, WEFT_FOREVER);   status and message as for a join
 *     weft_future_unref(f);
 *     weft_pool_free(p);                             shutdown(wait) then free, like `with`
 *
 * Workers are daemon weft threads named PREFIX-N, each in a cancel scope that is a child of the
 * pool's scope (itself a child of the creator's scope): cancelling the creator's scope (Ctrl-C
 * through weft/signal.h) reaches every running task. Each worker has its own deque: a task
 * submitted from inside a worker goes to that worker's deque (run LIFO by it, stolen FIFO by
 * idle workers); other submits go through an injection queue. A worker that waits on a future,
 * a map or a parallel for of its own pool runs other tasks meanwhile, so nested
 * submit-and-wait never deadlocks, even on a pool of one worker.
 *
 * Cancelling a running task (weft_future_cancel) cancels the task alone: its blocking weft
 * calls return WEFT_ECANCELED and weft_checkpoint() says so, and the worker's next task runs
 * normally. By default the task runs in its worker's scope and the cancellation is delivered to
 * the worker's parker for the task's duration (no allocation per task); threads the task
 * starts are then not reached (a cancelling shutdown, which cancels the pool's scope, reaches
 * them). With opts.task_scopes every task runs in a cancel scope of its own, child of its
 * worker's, and cancelling its future cancels that scope, with everything started inside it.
 *
 * Exit (Python's executors at interpreter exit): when main returns or exit() is called, once the
 * non-daemon threads have ended, every pool that was not shut down - the default pool included -
 * runs what it has queued and is waited for (weft_pool_shutdown(p, 1, 0, WEFT_FOREVER)); a
 * submit after that gets WEFT_ECLOSED. A pool made with opts.daemon is not waited for: its
 * running and queued tasks are killed with the process, as daemon threads are. Ctrl-C during
 * the wait cancels the running tasks (through the root scope) and the wait ends with them.
 *
 * fork(): the child's copy of every pool (the default pool included) has no workers; it starts
 * over, empty: a task submitted in the child runs there. Tasks queued or running at the fork
 * belong to the parent and never run in the child; their futures stay as they were at the fork
 * there (a wait on one that was not done would wait until its timeout: do not). A pool shut
 * down, or shutting down, in the parent refuses tasks in the child (WEFT_ECLOSED). A task that
 * calls fork() goes on in the child; its pool is closed there (WEFT_ECLOSED).
 * docs/design/fork.md has the whole picture.
 */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <weft/cancel.h>
#include <weft/config.h>
#include <weft/future.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_pool weft_pool;

/* A per-worker initializer (ThreadPoolExecutor's initializer): runs once on each worker before
 * its first task. A non-zero return breaks the pool (Python's BrokenThreadPool): it shuts
 * down, and no task still queued ever runs: each one's future finishes FAILED with status
 * WEFT_EBROKEN (done, not cancelled) and the message
 *     pool broken: the initializer of worker PREFIX-N failed: MESSAGE
 * where MESSAGE is the one the initializer set with weft_error_set (else its code's text); a
 * fire-and-forget task dropped so is reported through the pool error hook with that status
 * and message; a running map returns WEFT_EBROKEN. Tasks already running on other workers
 * finish normally. Later submits, maps and parallel loops fail with WEFT_EBROKEN. */
typedef int (*weft_pool_init_fn)(void *arg);

/* All-zero ({0}, calloc) is the defaults, the same as WEFT_POOL_OPTS_INIT and as passing NULL. */
typedef struct weft_pool_opts {
    int max_workers;         /* 0: the CPUs usable (weft_pool_new, below); < 0 or > 1024 is
                                WEFT_EINVAL */
    const char *name_prefix; /* borrowed during weft_pool_new and copied; NULL: "pool" */
    weft_pool_init_fn init;  /* may be NULL */
    void *init_arg;          /* passed to init */
    size_t max_queued;       /* 0: unbounded; else submit blocks while this many tasks wait
                                 to start (back-pressure). A task cancelled while queued
                                 (weft_future_cancel) no longer counts from that call on, even
                                 while it still sits in a paused or busy pool's queue */
    weft_scope *scope;       /* borrowed during the call: parent of the pool's scope; NULL: the
                                creator's current scope */
    int task_scopes;         /* non-zero: every task runs in a cancel scope of its own (a child
                                of its worker's), so cancelling its future also reaches what it
                                started, and weft_scope_current() in it is that scope; costs
                                a scope per task (an allocation and the scope tree's lock) */
    int daemon;              /* non-zero: exit does not wait for this pool's tasks ("Exit"
                                above) */
    int waiters_help;        /* non-zero: a thread that is no worker and waits
                                (weft_pool_wait_idle, weft_future_wait/result with
                                WEFT_FOREVER on this pool's futures, and a submit paced
                                because it is far ahead of the workers) runs queued tasks
                                meanwhile (wait_idle: any of the pool's; a future wait: only
                                the awaited one, if no worker started it; a paced submit:
                                those on the injection queue, oldest first, never the task
                                being submitted): faster, but such a
                                wait sees its timeout or its cancellation only once the task
                                it runs ends (never, if that task waits for what the waiter
                                does next), and the task runs on the waiter's thread (its
                                thread-locals, weft_thread_current() and any weft_rlock it
                                holds). 0 (the default): waiters only wait, and every wait
                                returns WEFT_ETIMEDOUT at its deadline and WEFT_ECANCELED
                                promptly */
    uint64_t inline_depth;   /* the cut-off (libgomp's is 64). 0 (the default): a submit always
                                queues its task. N > 0: a submit runs its task itself, at once, on
                                the calling thread, before it returns, when p is deep: from a
                                worker of p, when that worker's own deque holds more than N tasks
                                (looked at on every submit); from any other thread, when more than
                                N x max_workers tasks of p are not done, and then until fewer than
                                1/16 of that are left (looked at once per 32 submits of the thread,
                                128 while it runs them: its decision holds until the next look).
                                Never while p is paused, shut down or broken, nor more than 8 such
                                runs deep on one thread, nor, on a thread that is no worker of p,
                                inside such a run for another pool. Such a task runs as a plain
                                call of fn would: ahead of older queued tasks (no FIFO start
                                order), on the submitter's thread (its thread-locals,
                                weft_thread_current(), any weft_rlock it holds), in its cancel
                                scope (the submitter's cancellation reaches it; a cancelling
                                shutdown of p does not, once it started, though one that lands just
                                before may cancel it as a queued task; with task_scopes in a scope
                                of its own, a child of the submitter's), and the submit returns
                                when it ends: a task that waits for what the submitter does after
                                the submit deadlocks. Its future (if asked for) is done when the
                                submit returns; a fire-and-forget failure goes to the pool error
                                hook; it takes no place among max_queued (such a submit never waits
                                for room). Such a task is counted as any submitted task, except a
                                fire-and-forget one (no future, no scope, no task_scopes) of a
                                thread that is no worker of p: that one is part of the submit call
                                (wait_idle and shutdown on other threads do not wait for a submit
                                under way), and stats count it in batches (up to 127 of the
                                thread's latest ones may be missing until that thread next submits
                                to p or another pool, or calls weft_pool_stats on p)) */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[3];
} weft_pool_opts;

/* clang-format off */
#define WEFT_POOL_OPTS_INIT {0, NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0, {0}}
/* clang-format on */

/* weft_pool_new - make a pool; no worker starts before the first submit.
 * Size: opts.max_workers, or when it is 0 the CPUs the calling thread may use, counted now: the
 * CPUs in its affinity mask (sched_getaffinity: taskset, an MPI rank bound to its cores, a
 * cpuset), capped by the cgroup v2 CPU quota of the process's cgroup and its ancestors
 * (cpu.max, quota / period rounded up; cgroup v1 quotas are not read), at least 1 - not every
 * online CPU (Python 3.13's os.process_cpu_count() with the quota added, not os.cpu_count()).
 * weft never changes a mask itself.
 * out: caller-owned, receives the pool on success (untouched on failure); end it with
 * weft_pool_free. opts: borrowed, may be NULL for the defaults.
 * Returns 0, WEFT_EINVAL (NULL out, bad max_workers, prefix longer than 40 bytes), WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_new(weft_pool **out, const weft_pool_opts *opts) WEFT_NODISCARD;

/* weft_pool_submit - queue fn(arg, &result) to run on a worker (Executor.submit).
 * p: borrowed. fn: the task, NULL is WEFT_EINVAL. arg: passed to fn, never dereferenced by
 * weft (the caller keeps it valid until the task has run or was cancelled).
 * out: caller-owned, may be NULL; on success receives a future holding one reference for the
 * caller (end it with weft_future_unref). NULL is fire-and-forget: a failure of the task is
 * then reported through the pool error hook.
 * timeout: only used when the pool has max_queued and is full (back-pressure).
 * Returns 0 (fn will run exactly once unless its future is cancelled, or the pool breaks before
 * fn starts: the future then fails with WEFT_EBROKEN, see weft_pool_init_fn), WEFT_ECLOSED (the
 * pool was shut down), WEFT_EBROKEN (a worker initializer failed), WEFT_EAGAIN (full and timeout 0,
 * or no worker could be started), WEFT_ETIMEDOUT (still full after timeout), WEFT_ECANCELED
 * (the caller was cancelled while waiting for room), WEFT_EINVAL (NULL p or fn, negative
 * timeout), WEFT_ENOMEM. On failure fn never runs and *out is untouched.
 * Blocks: only when the pool is full (max_queued), and briefly when the caller, not a worker
 * of p, is far ahead of the workers (more than 8192 tasks not done: it gives them its CPU
 * until fewer than 2048 are left, as long as they make progress, so that a burst does not
 * leave its whole backlog as memory; in a pool made with opts.waiters_help, a caller that is a
 * worker of no pool runs the tasks queued on the injection queue instead, oldest first, on
 * its own thread, from 1024 tasks not done on: then do not submit while holding what those
 * tasks wait for, such as a lock they take); in a pool made with opts.inline_depth, for as
 * long as fn runs when p is deep (fn then runs on the caller's thread before the return, see
 * weft_pool_opts). Cancellation point: only when full.
 * Thread safety: safe, also from inside tasks. Async-signal-safe: no. */
WEFT_API int weft_pool_submit(weft_pool *p, weft_task_fn fn, void *arg, weft_future **out,
                              weft_ns timeout);

/* weft_pool_submit_named - weft_pool_submit with a task name, shown by error reports and by a
 * shutdown that times out. name: borrowed during the call and copied (cut at 31 bytes); NULL
 * is no name. Returns as weft_pool_submit.
 * Blocks: as weft_pool_submit (with opts.waiters_help a caller far ahead of the workers runs
 * queued tasks; with opts.inline_depth a submit to a deep pool runs fn itself).
 * Cancellation point: only when full.
 * Thread safety: safe, also from inside tasks. Async-signal-safe: no. */
WEFT_API int weft_pool_submit_named(weft_pool *p, const char *name, weft_task_fn fn, void *arg,
                                    weft_future **out, weft_ns timeout);

/* weft_pool_map - run fn(args[i], &results[i]) for i in [0, n) on the pool and wait for all
 * (Executor.map with chunksize). Tasks take `chunk` consecutive items each (0: automatic, a
 * few chunks per worker).
 * args: borrowed, may be NULL (every task gets arg NULL). results: caller-owned array of n,
 * may be NULL; results[i] receives item i's result pointer (NULL if it set none).
 * Returns 0 if every item succeeded; else the status of the failing item with the lowest index
 * (its message in the caller's error slot, as a future's: the one the item set with
 * weft_error_set for that status, else the code's text, else "task returned N"; the rest of its
 * chunk does not run); WEFT_ETIMEDOUT or WEFT_ECANCELED (caller cancelled): chunks not
 * started never run, and map waits for the running ones to finish their current item, so no
 * task touches args/results after the return; WEFT_ECLOSED (shut down before the call); WEFT_EBROKEN (the
 * pool is broken, or broke during the map: the items of chunks not started never run; the
 * message says why, see weft_pool_init_fn); WEFT_ECANCELED also when a cancelling shutdown
 * dropped chunks not started; WEFT_EINVAL (NULL p or fn, negative timeout); WEFT_ENOMEM.
 * Blocks: yes (helps from a worker of p). Cancellation point: yes. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_pool_map(weft_pool *p, weft_task_fn fn, void **args, void **results, size_t n,
                           size_t chunk, weft_ns timeout);

/* A streaming map (Executor.map used as an iterator, with Python 3.14's buffersize): results
 * come out in input order while later items are still being computed.
 *
 *     weft_imap *it;
 *     weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
 *     o.buffersize = 8;                         at most 8 items computed ahead of the reader
 *     rc = weft_pool_imap(&it, p, fn, args, n, &o, WEFT_FOREVER);
 *     void *res;
 *     while ((rc = weft_imap_next(it, &res, WEFT_FOREVER)) == 0) use(res);
 *     weft_imap_free(it);                       rc: WEFT_ECLOSED after the last item
 *
 * Each item is one task (fn(args[i], &result)) and one future. Errors, as Python's map: an
 * item's failure surfaces when its turn comes (weft_imap_next returns its status with its
 * message), and the iteration then ends: every later item submitted is cancelled (pending ones
 * never run; running ones have their cancel scope cancelled and finish as they decide, see
 * weft_future_cancel), items not yet submitted never are, and the next call returns
 * WEFT_ECLOSED. Results of items never yielded are dropped (failures among them unreported, as
 * Python never looks at them). The same ending follows the overall timeout and an item
 * cancelled by a cancelling shutdown. */
typedef struct weft_imap weft_imap;

/* An input that yields the items one at a time (a Python iterable consumed lazily): returns
 * a positive value with the next item in *arg, 0 when there are no more, or a negative WEFT_E*
 * code if it failed (that item's turn then ends the iteration with this code). Called by
 * weft_pool_imap and weft_imap_next on the iterating thread, never after it returned 0 or
 * failed, and never concurrently with itself. An item is taken only when it is about to be
 * submitted; if that submit cannot happen yet (a full pool) it is kept for the next call, and
 * if the iteration ends first it is dropped (weft never dereferences it). */
typedef int (*weft_imap_input_fn)(void *ctx, void **arg);

typedef struct weft_imap_opts {
    size_t buffersize;        /* 0: every item is submitted in weft_pool_imap (Python without
                                 buffersize); else at most this many items are submitted and
                                 not yet yielded between calls of weft_imap_next, which submits
                                 the next item before it waits (as Python 3.14 does) */
    weft_imap_input_fn input; /* NULL: the items are args[0 .. n); else items come from
                                 input(input_ctx, &arg), taken only as they are submitted
                                 (needs a buffersize; args NULL and n 0), so an endless input
                                 works */
    void *input_ctx;          /* passed to input, never dereferenced by weft */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_imap_opts;

/* clang-format off */
#define WEFT_IMAP_OPTS_INIT {0, NULL, NULL, {0}}
/* clang-format on */

/* weft_pool_imap - start a streaming map of fn over args[0 .. n) on p.
 * out: caller-owned, receives the iterator (end it with weft_imap_free); untouched on failure.
 * p: borrowed, must outlive the iterator. args: borrowed until weft_imap_free returns (NULL:
 * every task gets arg NULL). opts: borrowed during the call, may be NULL (buffersize 0, no
 * input function).
 * timeout: the overall time, measured from this call as Python's map measures it: a
 * weft_imap_next still waiting when it runs out returns WEFT_ETIMEDOUT and ends the iteration;
 * it also bounds this call's submits when p is full (max_queued). WEFT_FOREVER: none.
 * Returns 0; a submit's failure (WEFT_ECLOSED, WEFT_EBROKEN, WEFT_EAGAIN, WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, WEFT_ENOMEM: see weft_pool_submit; the items already submitted are
 * cancelled and waited for, as by weft_imap_free); the input's own failure (for its first
 * items); WEFT_EINVAL (NULL out, p or fn, negative timeout, an input with args, with n > 0 or
 * without a buffersize).
 * Blocks: only while p is full (max_queued). Cancellation point: only then.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_imap(weft_imap **out, weft_pool *p, weft_task_fn fn, void **args, size_t n,
                            const weft_imap_opts *opts, weft_ns timeout);

/* weft_imap_next - the next item's result, in input order.
 * result: caller-owned, may be NULL; receives the item's result pointer when it finished (also
 * with a failure, as weft_future_result).
 * timeout: this call's own limit; the overall one from weft_pool_imap applies too (the sooner
 * wins).
 * Returns 0; the item's failure status (its message in the caller's error slot; the iteration
 * ends, see above); WEFT_ECLOSED when every item was yielded or the iteration had ended;
 * for an item that could never be submitted, the submit's failure (WEFT_ECLOSED: p was shut
 * down; WEFT_EBROKEN; WEFT_ENOMEM) or the input's, with a message naming the item, and the
 * iteration ends (the items before it are yielded first); WEFT_ETIMEDOUT: the overall timeout ran out (the iteration
 * ends) or this call's did (it goes on: call again); WEFT_EAGAIN (timeout 0 and the item is not
 * done, or p is full and the item could not be submitted yet: call again); WEFT_ECANCELED: the
 * caller was cancelled (the iteration goes on), or a cancelling shutdown of p cancelled the
 * item (it ends; the next call returns WEFT_ECLOSED); WEFT_EINVAL (NULL it, negative timeout).
 * Blocks: yes (helps from a worker of p). Cancellation point: yes. Thread safety: one thread at
 * a time per iterator. Async-signal-safe: no. */
WEFT_API int weft_imap_next(weft_imap *it, void **result, weft_ns timeout);

/* weft_imap_free - end the iteration (cancelling the items not yet yielded, as an error does)
 * and free the iterator once the items already running have finished, so that no task touches
 * args after it returns. it: taken. NULL does nothing.
 * Blocks: until the running items finish (they see their scope cancelled).
 * Cancellation point: no (the wait is shielded). Thread safety: not with a concurrent next.
 * Async-signal-safe: no. */
WEFT_API void weft_imap_free(weft_imap *it);

/* weft_pool_shutdown - stop accepting tasks (Executor.shutdown).
 * wait: non-zero waits (up to timeout) until every queued task has run and the workers have
 * exited (left weft: their detached threads end a few instructions later, freeing what they
 * kept in thread-local storage). cancel_pending: non-zero cancels every future still pending
 * (its task never runs), then cancels the pool's scope, so running tasks see WEFT_ECANCELED;
 * the queued ones are cancelled when the call returns, except one a worker took off a queue
 * at that moment (after a task that ended by itself), which that worker cancels a moment
 * later (Python's executor would run it).
 * Returns 0; WEFT_ETIMEDOUT (wait and tasks still run after timeout; the calling thread's
 * error slot then names them: "still running: 'a' on pool-1, ..."; call again to wait more);
 * WEFT_EAGAIN (timeout 0 and still running); WEFT_ECANCELED (caller cancelled while waiting);
 * WEFT_EDEADLK (wait from inside a task of p); WEFT_EINVAL (NULL p, negative timeout).
 * Shutting down twice is allowed (the second call only waits). Shutdown ends a pause.
 * Blocks: if wait. Cancellation point: if wait. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_shutdown(weft_pool *p, int wait, int cancel_pending, weft_ns timeout);

/* weft_pool_free - shut p down if not yet done (waiting, without cancelling: Python's `with`),
 * and free it. Workers still running a task after a timed-out shutdown finish it and free the
 * pool memory themselves. p: taken. NULL does nothing. Never free the default pool. Futures
 * that p handed out stay valid after it (their results can still be read; unref them as
 * usual), as Python's futures outlive their executor.
 * Blocks: yes, unless p was already shut down. Cancellation point: no (waits shielded).
 * Thread safety: no other call on p may run or follow. Async-signal-safe: no. */
WEFT_API void weft_pool_free(weft_pool *p);

/* weft_pool_wait_idle - wait until every task submitted so far has finished (the pool stays
 * usable). Returns 0, WEFT_EAGAIN (timeout 0), WEFT_ETIMEDOUT, WEFT_ECANCELED, WEFT_EDEADLK
 * (called from a task of p: it could never be idle), WEFT_EINVAL.
 * A caller that is a worker of no pool only waits, unless p was made with
 * opts.waiters_help: it then first runs tasks of p that its workers have queued (stolen from
 * their deques, as an idle worker would), each inside p's scope (p's cancellation reaches
 * them, the caller's does not), then sleeps; the timeout and the caller's cancellation are
 * then checked between two such tasks, so the return may come late by up to one task's length
 * (forever if that task waits for what the caller does after the wait). Such a task runs on
 * the caller's thread: its thread-locals and weft_thread_current() are the caller's. Waits on
 * a single future, a group or a map never run other tasks from outside the pool (one could
 * need what the caller does next); with opts.waiters_help an untimed weft_future_wait runs
 * only its own task, if no worker has started it.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_wait_idle(weft_pool *p, weft_ns timeout);

/* weft_pool_pause - workers start no new task until weft_pool_resume: none submitted after it
 * returns, nor any still queued when it returns (a worker that takes one while paused puts it
 * back); running ones go on, and one a worker took in the instant before the call may still
 * start. Submits are still accepted; in a pool made with opts.waiters_help, a thread that is
 * no worker and waits for a queued task with weft_future_wait(WEFT_FOREVER) still runs that
 * task itself. Returns 0, WEFT_EINVAL (NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_pool_pause(weft_pool *p);

/* weft_pool_resume - undo weft_pool_pause and wake the workers. Returns 0, WEFT_EINVAL (NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_resume(weft_pool *p);

/* Pool statistics (like struct stat and stat(), the struct and its function share a name). */
struct weft_pool_stats {
    int max_workers, workers, busy, idle; /* workers: started so far; idle = workers - busy */
    uint64_t submitted;                   /* tasks accepted so far */
    uint64_t completed;                   /* finished, failed or cancelled */
    uint64_t queued;                      /* accepted, not yet started (approximate while busy) */
    int workers_high;                     /* most workers ever started */
    uint64_t queued_high;                 /* high-water mark of a worker's deque or of one batch
                                             taken from the injection queue (approximate) */
    int paused, shutdown;
};

/* weft_pool_stats - a snapshot of p's counters into *out (caller-owned).
 * Returns 0, WEFT_EINVAL (NULL p or out).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_stats(weft_pool *p, struct weft_pool_stats *out);

/* weft_pool_default - the process-wide pool (one worker per usable CPU, counted as
 * weft_pool_new does when the pool is made, by the thread of the first use; prefix "weft"),
 * made on first use. Borrowed: never free it. NULL only if it could not be made (out of memory).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API weft_pool *weft_pool_default(void);

/* A pool error hook: reports a task failure nobody looked at. name ("" if the task had none)
 * and message are borrowed for the call. */
typedef void (*weft_pool_error_hook)(const char *name, int status, const char *message, void *arg);

/* weft_pool_set_error_hook - replace the hook for unseen task failures; NULL restores the
 * default, which prints "weft: task 'NAME' failed: WEFT_EXXX (status N): MESSAGE" on stderr.
 * arg: passed to hook; kept alive by the caller while set. Returns 0.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_pool_set_error_hook(weft_pool_error_hook hook, void *arg);

/* weft_parallel_for - call body(lo, hi, arg) over sub-ranges covering [begin, end) exactly
 * once, in parallel on p (NULL: the default pool); returns when all have run.
 * grain: the largest sub-range body gets; 0: automatic (about 32 sub-ranges per worker).
 * The calling thread and the workers of p share the range: each takes grain-sized sub-ranges
 * off a range of its own and, when that runs dry, steals half of the largest other one. The
 * caller runs sub-ranges too, whether or not it is a worker of p, so body runs on the caller's
 * thread (its thread-locals, its scope) as well as on p's workers (their scope: p's).
 * Returns 0 (also for an empty range), WEFT_EINVAL (NULL body, end < begin, grain < 0),
 * WEFT_ECLOSED (p shut down: nothing ran), WEFT_EBROKEN (p is broken: nothing ran).
 * Body must not fail; use weft_checkpoint() inside it to stop early (the remaining pieces
 * still run their body; check in each).
 * Blocks: yes (runs sub-ranges; helps from a worker). Cancellation point: no (it always
 * finishes). Thread safety: safe, nests. Async-signal-safe: no. */
WEFT_API int weft_parallel_for(weft_pool *p, int64_t begin, int64_t end, int64_t grain,
                               void (*body)(int64_t lo, int64_t hi, void *arg), void *arg);

/* weft_parallel_reduce - fold [begin, end) in parallel, shared out as weft_parallel_for does:
 * every participating thread gets an accumulator of acc_size bytes copied from identity,
 * body(lo, hi, acc, arg) folds each sub-range that thread runs into it (so body is called
 * several times on one accumulator), and combine(acc, other, arg) folds the accumulators
 * together into *result (caller-owned, acc_size bytes, overwritten). combine must be
 * associative and commutative (they are combined in the order the threads finish).
 * identity: borrowed.
 * Returns 0, WEFT_EINVAL (NULL body, combine, identity or result, acc_size 0, end < begin,
 * grain < 0), WEFT_ENOMEM, WEFT_ECLOSED, WEFT_EBROKEN.
 * Blocks: yes (runs sub-ranges; helps from a worker). Cancellation point: no (it always
 * finishes).
 * Thread safety: safe, nests. Async-signal-safe: no. */
WEFT_API int weft_parallel_reduce(weft_pool *p, int64_t begin, int64_t end, int64_t grain,
                                  void (*body)(int64_t lo, int64_t hi, void *acc, void *arg),
                                  void (*combine)(void *acc, const void *other, void *arg),
                                  size_t acc_size, const void *identity, void *result, void *arg);

WEFT_END_DECLS

#endif
