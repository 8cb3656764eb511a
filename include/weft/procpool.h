/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/procpool.h - a pool of worker processes (concurrent.futures.ProcessPoolExecutor) that
 * survives its workers' crashes.
 *
 * weft_procpool_new starts N worker processes through the process module (weft/process.h: the
 * fork server by default, so it is safe in a threaded program). weft_procpool_submit runs
 * fn(copy of arg, size) in one of them and returns a weft_future (weft/future.h) that finishes
 * with the bytes fn handed back with weft_process_set_result (weft_future_bytes gives them),
 * or fails with fn's status and the message fn set with weft_error_set. Task functions are
 * weft_process_fn, the shape weft_process_start takes: one function runs in a process of its
 * own or in the pool, unchanged. The same rules apply to fn (code of the program or of a
 * library linked with it) and to arg (bytes, at most WEFT_PROCESS_ARG_MAX; no pointers into
 * the parent's memory); a result is at most WEFT_PROCESS_RESULT_MAX bytes.
 *
 * When things go wrong (the point of this module; docs/design/procpool.md has the details):
 *   - A worker that dies (a signal, exit(), abort()) fails only the task it was running, with
 *     WEFT_EDIED and a message that names the worker, its pid, the signal by name or the exit
 *     status, and the task: "worker 2 (pid 4711) was killed by SIGSEGV (Segmentation fault)
 *     while running task 17". A SIGKILL the pool did not send adds "(out of memory? the
 *     kernel's OOM killer sends SIGKILL)". The pool starts a replacement; the other tasks stay
 *     queued and run; nothing else fails. Tasks are numbered from 1 in the order they were
 *     submitted to the pool; a future's name (weft_future_name) is "task N" unless the submit
 *     gave one. The task that killed its worker is not run again unless its submit asked for
 *     retries (opts.retries): then it is queued again, up to that many times, and fails as
 *     above only after its last try.
 *   - A task's timeout (opts.timeout, counted from the moment its worker starts it) and
 *     weft_future_cancel of a running task end the worker: SIGTERM through its pidfd, SIGKILL
 *     kill_grace later. The future fails with WEFT_ETIMEDOUT ("task 4 timed out after 200 ms;
 *     worker 1 (pid 4711) was killed by SIGTERM (Terminated)") or WEFT_ECANCELED; the worker is
 *     replaced. weft_future_cancel returns WEFT_EBUSY for a task that runs, as for every
 *     running future (weft/future.h); one still queued is cancelled at once and never runs.
 *     If the task finished just as the kill came, its result stands, and the task its worker
 *     had started next is queued again (it may run twice: the only case where a task runs
 *     more than once without retries).
 *   - opts.max_tasks_per_child retires a worker after that many tasks; opts.max_memory retires
 *     one whose resident memory (read by the worker from /proc/self/statm after each task)
 *     is above it; opts.memory_limit is a hard cap per worker (RLIMIT_AS: an allocation beyond
 *     it fails inside the task, which fails as it decides). A retired worker finishes what it
 *     holds and exits; a new one takes its place.
 *   - Restart intensity, as Erlang's supervisors: when more than max_restarts workers died
 *     unexpectedly (a crash, not a retirement nor a kill the pool made) within restart_period,
 *     the pool breaks: every pending task fails with WEFT_EBROKEN ("the pool is broken: 11
 *     workers died within 1.00 s; the last: ...") and later submits return WEFT_EBROKEN. So a
 *     poison input cannot loop for ever. Defaults: 10 in 1 s.
 *   - A worker is trusted with nothing: a malformed or out-of-order answer ends that worker and
 *     fails its task with WEFT_EDIED ("... sent a malformed answer: ..."), never the parent.
 *
 * Ctrl-C: the pool lives in a cancel scope, a child of opts.scope (NULL: the creator's current
 * scope). When it is cancelled (Ctrl-C through weft_signals_catch cancels the root scope, so
 * every pool), the pool stops: queued tasks are cancelled (weft_future_cancelled gives 1),
 * running tasks' workers are terminated and their futures fail with WEFT_ECANCELED, and later
 * submits return WEFT_ECLOSED. A stopped pool must still be freed.
 *
 * Exit: a pool still open when the program exits (returns from main, calls exit()) is shut
 * down by weft's exit sequence after the thread pools, waiting: what was queued runs first,
 * as concurrent.futures does (a Ctrl-C during that wait stops it, as above).
 *
 * fork(): a pool belongs to the process that made it; a forked child must not use the
 * parent's pools (they have no manager there), and its exit leaves them alone.
 */
#ifndef WEFT_PROCPOOL_H
#define WEFT_PROCPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <weft/cancel.h>
#include <weft/config.h>
#include <weft/future.h>
#include <weft/process.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_procpool weft_procpool;

/* Most workers a pool may have. */
#define WEFT_PROCPOOL_WORKERS_MAX 256
/* Most tasks sent ahead to one worker (opts.window). */
#define WEFT_PROCPOOL_WINDOW_MAX 64
/* Most distinct task functions one pool may run. */
#define WEFT_PROCPOOL_FNS_MAX 1024

/* Options of weft_procpool_new. All-zero ({0}, calloc) is the default of every field. */
typedef struct weft_procpool_opts {
    int workers;       /* worker processes: 1 ... WEFT_PROCPOOL_WORKERS_MAX; 0: the CPUs usable
                          (as weft_pool_new counts them: affinity mask, cgroup quota) */
    int method;        /* enum weft_process_method; 0: the fork server */
    const char *name;  /* borrowed during the call, copied (at most 31 bytes): workers are named
                         NAME-K (K from 1); NULL: "procpool" */
    weft_scope *scope; /* borrowed during the call: the parent of the pool's scope; NULL: the
                          creator's current scope */
    int window;        /* tasks sent ahead to a worker, 1 ... WEFT_PROCPOOL_WINDOW_MAX; 0: 16.
                          More hides the round trip for short tasks; 1 keeps a long task from
                          holding others behind it */
    uint32_t max_tasks_per_child; /* retire a worker after this many tasks; 0: never */
    size_t max_memory;   /* retire a worker whose RSS after a task is above this (bytes); 0: no */
    size_t memory_limit; /* RLIMIT_AS of each worker (bytes); 0: none */
    int max_restarts;    /* more unexpected deaths than this within restart_period break the
                            pool; 0: 10; negative: never break */
    weft_ns restart_period; /* 0: 1 s */
    weft_ns kill_grace;     /* SIGTERM to SIGKILL when the pool ends a worker; 0: 100 ms */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_procpool_opts;

/* clang-format off */
#define WEFT_PROCPOOL_OPTS_INIT {0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, {0}}
/* clang-format on */

/* Options of one submit. All-zero is the default. */
typedef struct weft_procpool_task_opts {
    weft_ns timeout;  /* the task's time once its worker starts it; 0 or WEFT_FOREVER: none */
    int retries;      /* times the task is queued again after it killed its worker; 0: none */
    const char *name; /* borrowed during the call, copied (cut at 31 bytes): the future's name;
                         NULL: "task N" */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_procpool_task_opts;

/* clang-format off */
#define WEFT_PROCPOOL_TASK_OPTS_INIT {0, 0, NULL, {0}}
/* clang-format on */

/* What weft_procpool_stats reports; counters since the pool was made. */
struct weft_procpool_stats {
    uint64_t submitted;       /* tasks accepted by submit */
    uint64_t completed;       /* tasks that finished with status 0 */
    uint64_t failed;          /* tasks that finished with a failure (their own or a death) */
    uint64_t cancelled;       /* tasks cancelled (queued or running) */
    uint64_t timed_out;       /* tasks whose timeout ended their worker */
    uint64_t retried;         /* times a task was queued again after its worker died */
    uint64_t workers_started; /* worker processes started, the first N included */
    uint64_t workers_died;    /* workers that died unexpectedly (crashes) */
    uint64_t workers_killed;  /* workers the pool ended (timeout, cancel, shutdown) */
    uint64_t workers_retired; /* workers retired (max_tasks_per_child, max_memory) */
    uint64_t queued;          /* tasks waiting for a worker now */
    uint64_t running;         /* tasks held by workers now */
    int workers;              /* live workers now */
    int broken;               /* 1 once the pool broke */
    int shutdown;             /* 1 once shut down or stopped */
    uint64_t start_failures;  /* replacement starts that failed: each counts toward
                                 max_restarts as a death, and is tried again after a backoff
                                 (1 ms, doubling, at most restart_period / (2 (max_restarts +
                                 1)), or 1 s with max_restarts negative) */
};

/* weft_procpool_new - start a pool of worker processes (ProcessPoolExecutor()).
 * out: caller-owned, receives the pool on success (untouched on failure). opts: borrowed, may
 * be NULL for the defaults. The workers have started (their fork server answered) when it
 * returns.
 * Returns 0; WEFT_EINVAL (NULL out, a field out of range: the message names it); WEFT_ESTATE
 * (the program is exiting); WEFT_EAGAIN (the system refused a process, thread or
 * descriptor); WEFT_EPERM (an exec-based method in a secure-execution program); WEFT_ENOMEM.
 * The pool must be given to weft_procpool_free.
 * Blocks: briefly (starting the workers). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_procpool_new(weft_procpool **out, const weft_procpool_opts *opts) WEFT_NODISCARD;

/* weft_procpool_submit - run fn(copy of arg, size) in a worker (Executor.submit).
 * p: borrowed. out: caller-owned, receives the future holding one reference (end it with
 * weft_future_unref); may be NULL for fire-and-forget (a failure nobody sees is reported
 * through the pool error hook, weft/pool.h). fn: a weft_process_fn (see the top of this file).
 * arg: borrowed during the call, size bytes copied (NULL when size is 0). opts: borrowed, may
 * be NULL.
 * Returns 0; WEFT_EINVAL (NULL p or fn, NULL arg with size > 0, size > WEFT_PROCESS_ARG_MAX,
 * negative timeout or retries, fn not code of the program); WEFT_ECLOSED (shut down, or stopped
 * by its scope); WEFT_EBROKEN (the pool broke: the message says why); WEFT_ENOSPC (more than
 * WEFT_PROCPOOL_FNS_MAX distinct functions); WEFT_ENOMEM.
 * Blocks: no (the queue is unbounded). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_procpool_submit(weft_procpool *p, weft_future **out, weft_process_fn fn,
                                  const void *arg, size_t size,
                                  const weft_procpool_task_opts *opts) WEFT_NODISCARD;

/* weft_procpool_map - run fn on n items and collect the results in order (Executor.map, all
 * at once): item i is items + i * item_size (item_size bytes), its result is copied to
 * results + i * result_size (cut at result_size; zero-filled when shorter). items, results:
 * borrowed during the call (results caller-owned, n * result_size bytes; NULL when
 * result_size is 0). opts: borrowed, may be NULL (applies to every item).
 * Returns 0 when every item succeeded. Else the first failure in item order: the item's
 * status with the message "item I: ..." in the caller's error slot, after the items not yet
 * started were cancelled (running ones finish); WEFT_ETIMEDOUT (timeout passed; the items not
 * started are cancelled); WEFT_ECANCELED (the caller's scope was cancelled; the same);
 * submit's errors (nothing queued stays behind).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_procpool_map(weft_procpool *p, weft_process_fn fn, const void *items,
                               size_t item_size, size_t n, void *results, size_t result_size,
                               const weft_procpool_task_opts *opts, weft_ns timeout);

/* weft_procpool_wait_idle - wait until no task is queued or running.
 * p: borrowed. Returns 0; WEFT_EAGAIN (timeout 0 and busy); WEFT_ETIMEDOUT; WEFT_ECANCELED
 * (the caller's scope was cancelled); WEFT_EINVAL (NULL p, negative timeout).
 * A task leaves the running count just after its future is settled (so a 0 here means every
 * result is in): for a moment after a result arrives, a try with timeout 0 may still give
 * WEFT_EAGAIN; a wait with a timeout does not miss the moment.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_procpool_wait_idle(weft_procpool *p, weft_ns timeout);

/* weft_procpool_shutdown - stop taking tasks and end the workers (Executor.shutdown).
 * p: borrowed. cancel_pending: non-zero cancels every queued task (its future is cancelled:
 * it never runs). Running tasks go on for kill_after (>= 0 or WEFT_FOREVER); then their
 * workers are terminated (SIGTERM, SIGKILL kill_grace later) and their futures fail with
 * WEFT_ECANCELED ("the pool was shut down"). Without cancel_pending, queued tasks run too,
 * within the same kill_after. Idle workers are told to exit. wait: non-zero waits until
 * every worker has exited, which kill_after + kill_grace (+ a reap) bounds; zero returns at
 * once. A later call only adds to an earlier one (cancelling the queue, an earlier kill) and
 * may wait again.
 * Returns 0; WEFT_ECANCELED (wait, and the caller's scope was cancelled: the shutdown goes
 * on); WEFT_EDEADLK (wait, called from a task's done-callback run by the pool's manager
 * thread); WEFT_EINVAL (NULL p, negative kill_after).
 * Blocks: if wait. Cancellation point: yes (if wait). Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_procpool_shutdown(weft_procpool *p, int wait, int cancel_pending,
                                    weft_ns kill_after);

/* weft_procpool_free - end the pool: shut it down if it was not (cancel_pending, kill_after
 * 0: running workers are terminated at once), wait for its workers and manager, free it.
 * Futures it made stay valid (each holds its own reference).
 * p: taken (NULL does nothing). Returns 0; WEFT_EDEADLK (called from the pool's manager
 * thread: nothing done).
 * Blocks: yes (bounded by kill_grace). Cancellation point: no. Thread safety: not with other
 * calls on p. Async-signal-safe: no. */
WEFT_API int weft_procpool_free(weft_procpool *p);

/* weft_procpool_stats - a snapshot of p's counters (struct weft_procpool_stats above).
 * p: borrowed. out: caller-owned. Returns 0; WEFT_EINVAL (NULL p or out).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_procpool_stats(weft_procpool *p, struct weft_procpool_stats *out);

/* weft_procpool_worker_pid - the pid of worker k (1 ... workers), for tools and tests: it
 * names that worker only until the worker is replaced.
 * p: borrowed. Returns the pid; WEFT_ESRCH (no live worker in that place now); WEFT_EINVAL
 * (NULL p, k out of range).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_procpool_worker_pid(weft_procpool *p, int k);

WEFT_END_DECLS

#endif
