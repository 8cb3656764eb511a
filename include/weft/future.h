/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/future.h - futures: the result of a task run by a pool (concurrent.futures.Future).
 *
 * A future is made by weft_pool_submit (weft/pool.h), or by weft_future_new for one that the
 * program completes itself (below), and is reference-counted: the submitter receives one
 * reference, the pool holds another until the task has finished. Every reference
 * is ended with weft_future_unref; weft_future_ref takes another one. Every thread that uses
 * a future holds a reference of its own: to hand a future to another thread, take one for it
 * (weft_future_ref) and let that thread release it. weft relies on this when the worker that
 * queued a task waits for it and nobody else holds it (fork-join): it runs the task in place
 * and completes it with one CAS, without the running state in between. A thread that uses a
 * future through another's reference costs no hang or crash there, but a cancel it makes may
 * then come too late to keep the task from running.
 *
 * States, as in Python: pending (queued) -> running -> finished, or pending -> cancelled; and
 * pending -> finished with status WEFT_EBROKEN when the pool broke before the task ran (Python's
 * BrokenThreadPool: done, failed, not cancelled; see weft_pool_init_fn in weft/pool.h). A
 * finished future holds the task's status (0 = success, else a WEFT_E* code or a positive
 * status of the program's own), its result pointer, and the message the task set with
 * weft_error_set before returning a failure. weft_future_result puts that status and message
 * into the caller's error slot (weft/error.h), like an exception re-raised by Future.result().
 *
 * Cancelling a pending future means its task never runs. Cancelling a running one cancels the
 * cancel scope the task runs in (weft/cancel.h): any blocking weft call the task makes returns
 * WEFT_ECANCELED and weft_checkpoint() says so; the task decides how to end.
 *
 * No failure vanishes: a future whose task failed and whose result nobody looked at (with
 * weft_future_result) is reported when its last reference is released, through the pool error
 * hook (weft_pool_set_error_hook), which by default prints
 *     weft: task 'NAME' failed: WEFT_EXXX (status N): MESSAGE
 * on stderr. Tasks that ended with WEFT_ECANCELED after being cancelled are not reported,
 * whichever scope was cancelled: the future's (weft_future_cancel), the pool's (a cancelling
 * shutdown), a group's, any ancestor's (the root scope on Ctrl-C, weft/signal.h), or one whose
 * deadline passed. One that returns WEFT_ECANCELED with nothing cancelled is a failure.
 *
 * fork(): a future of a task that was queued or running at the fork stays, in the child, as it
 * was at the fork (its task runs in the parent only): do not wait for it or cancel it there.
 * One that was done can be read as usual (weft/pool.h says what the child's pools do).
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stddef.h>
#include <weft/config.h>
#include <weft/queue.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_future weft_future;

/* A task: returns 0 on success or a failure status (a WEFT_E* code, or a positive status of
 * the program's own); may store a result pointer in *result (weft never dereferences it; it
 * is NULL unless the task sets it). Before returning a failure it may call weft_error_set() to
 * attach a message, which travels to whoever calls weft_future_result. */
typedef int (*weft_task_fn)(void *arg, void **result);

/* A done-callback: called once when the future finishes or is cancelled. f is borrowed for
 * the call (take a reference with weft_future_ref to keep it). */
typedef void (*weft_future_cb)(weft_future *f, void *arg);

/* weft_future_wait - wait until f is finished or cancelled (without looking at the result).
 * f: borrowed.
 * Returns 0 (done), WEFT_EAGAIN (timeout 0 and not done), WEFT_ETIMEDOUT, WEFT_ECANCELED (the
 * caller's cancel scope was cancelled), WEFT_EINVAL (NULL f, negative timeout).
 * Called from a worker of f's pool, it runs other tasks of the pool while it waits, so nested
 * waits never deadlock the pool. From a thread that is no worker it only waits, unless f's
 * pool was made with opts.waiters_help: then, called with WEFT_FOREVER, it runs f's own task
 * itself if no worker has started it yet (never another task, nor one that runs already): the
 * task then runs on the caller's thread (its thread-locals and weft_thread_current() are the
 * caller's; a weft_rlock the caller holds is held by the task too), inside the pool's scope
 * (the pool's cancellation reaches it, the caller's does not; weft_future_cancel does), even
 * while the pool is paused; the call returns 0 once it ends, and a cancellation of the caller
 * is seen by its next cancellation point. Timed waits, waits made by a task so run, and pools
 * with task_scopes only wait.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_wait(weft_future *f, weft_ns timeout);

/* weft_future_result - wait for f, then give its outcome (Future.result()).
 * f: borrowed. result: caller-owned, may be NULL; receives the task's result pointer when f
 * finished (even with a failure), untouched otherwise.
 * Returns 0 (the task succeeded); the task's failure status, with its code and message put in
 * the calling thread's error slot (the future's failure then counts as seen and is not
 * reported) - WEFT_EBROKEN, with the pool's reason, for a task its broken pool never ran;
 * WEFT_ECANCELED if f was cancelled before it ran OR the caller's cancel scope was
 * cancelled (weft_future_cancelled tells which); WEFT_EAGAIN (timeout 0, not done);
 * WEFT_ETIMEDOUT; WEFT_EINVAL (NULL f, negative timeout).
 * Blocks: yes (helps the pool from a worker, or with opts.waiters_help runs f's queued task
 * from outside, like weft_future_wait). Cancellation point: yes.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_result(weft_future *f, void **result, weft_ns timeout);

/* weft_future_cancel - cancel f (Future.cancel()).
 * f: borrowed.
 * Returns 0 if f is now cancelled (it was pending: its task will never run; or it was already
 * cancelled); WEFT_EBUSY if the task was running: its cancel scope was cancelled and the future
 * finishes with whatever the task returns; WEFT_ESTATE if f had already finished;
 * WEFT_EINVAL (NULL f). Done-callbacks of a future cancelled here run in this call.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_cancel(weft_future *f);

/* weft_future_done - 1 if f finished or was cancelled, 0 if not, WEFT_EINVAL for NULL.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_done(weft_future *f);

/* weft_future_cancelled - 1 if f was cancelled before it ran, 0 if not (also for a task its
 * broken pool never ran: that future failed with WEFT_EBROKEN), WEFT_EINVAL for NULL.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_cancelled(weft_future *f);

/* weft_future_running - 1 while f's task runs, 0 otherwise, WEFT_EINVAL for NULL.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_running(weft_future *f);

/* weft_future_add_done_callback - call cb(f, arg) once f is done (Future.add_done_callback).
 * If f is already done, cb runs now, in this call; otherwise it runs on the thread that
 * finishes or cancels f, after the result is visible and waiters are woken. Callbacks run in
 * the order they were added. f: borrowed. arg: passed to cb, never dereferenced by weft.
 * Returns 0 (cb will run, or ran, exactly once), WEFT_EINVAL (NULL f or cb), WEFT_ENOMEM (cb
 * will never run).
 * Blocks: no (cb may). Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_add_done_callback(weft_future *f, weft_future_cb cb, void *arg);

/* weft_future_fd - a descriptor an event loop can watch (epoll, poll, uv_poll): readable
 * exactly from the moment f is done (finished, failed or cancelled: when weft_future_wait
 * would return 0) and for ever after; not readable before. The first call makes it (an
 * eventfd), later calls return the same one; futures that never ask pay nothing.
 * f: borrowed. fd: caller-owned, receives the descriptor. The descriptor is owned by f: do not
 * read, write or close it; it stays valid while you hold a reference to f and is closed when
 * the last reference goes (weft_future_unref: remove it from your epoll set first).
 * Close-on-exec.
 * Returns 0; WEFT_EINVAL (NULL f or fd); WEFT_EAGAIN (out of file descriptors); WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_fd(weft_future *f, int *fd);

/* weft_future_route - when f is done, put f into q: a completion queue for an event loop
 * (poll weft_queue_fd(q), then get the finished futures with timeout 0), or for a thread that
 * waits for many futures with weft_queue_get or weft_queue_select. One queue may collect the
 * futures of several pools. The item is a reference to f taken for it: whoever gets it from q
 * owns that reference and ends it with weft_future_unref (so does weft_queue_shutdown's fn).
 * If f is already done it is put now, in this call. If the put fails, now or when f completes
 * (q was closed, or a put into an unbounded queue found no memory), the reference is dropped
 * and nothing is put; this call still returns 0 and nobody is told.
 * f: borrowed. q: borrowed; must be unbounded (capacity 0), so that the put in the completing
 * thread never waits, and must outlive f's completion (close q first, then free it only once
 * every routed future is done).
 * Returns 0; WEFT_EINVAL (NULL f or q, bounded q); WEFT_ENOMEM (nothing will be put).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_route(weft_future *f, weft_queue *q);

/* weft_future_ref - take another reference to f (end it with weft_future_unref).
 * Returns 0, WEFT_EINVAL (NULL f).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_ref(weft_future *f);

/* weft_future_unref - end one reference to f. The last one recycles f (reporting an unseen
 * failure, see above). Unref of NULL does nothing. Using f after dropping one's last
 * reference is undefined (f may already serve another task).
 * Once weft_future_wait (or _result) returned in a thread, that thread may release its last
 * reference at once, even while the worker or canceller that finished f is still returning
 * (they hold their own reference until they are done with f).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API void weft_future_unref(weft_future *f);

/* weft_future_name - the task's name given to weft_pool_submit_named ("" if none), copied into
 * buf (size bytes, NUL-terminated, cut if needed). Returns 0, WEFT_EINVAL (NULL f or buf, size 0).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_name(weft_future *f, char *buf, size_t size);

/* ---- futures that no pool made (concurrent.futures.Future used directly) ----
 *
 * weft_future_new makes a PENDING future that the program completes itself, from any thread:
 * weft_future_set_result, weft_future_set_bytes or weft_future_set_failure finish it once
 * (Python's set_result / set_exception); weft_future_set_running is Python's
 * set_running_or_notify_cancel. Every other call of this header works on it as on a pool's
 * future: wait, result, cancel (a PENDING one only: 0; a RUNNING one gives WEFT_EBUSY, nothing
 * to interrupt, as Python's cancel returns False), done / cancelled / running, callbacks (run by
 * the thread that sets or cancels it), weft_wait, weft_wait_split, as_completed, ref / unref.
 * A failure set and never looked at is reported through the pool error hook, as a task's.
 * Result ownership: set_result either lends the pointer (weft never touches it) or, with a
 * free function, gives it to the future, which frees it when its last reference is released;
 * set_bytes copies a buffer into the future (the form results take when they arrive from
 * another process), read with weft_future_bytes. */

typedef struct weft_future_opts {
    const char *name; /* borrowed during weft_future_new and copied (cut at 31 bytes); the
                         name error reports and weft_future_name give; NULL: none */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_future_opts;

/* clang-format off */
#define WEFT_FUTURE_OPTS_INIT {NULL, {0}}
/* clang-format on */

/* weft_future_new - a PENDING future that no pool made (concurrent.futures.Future()).
 * out: caller-owned, receives the future holding one reference (end it with
 * weft_future_unref); untouched on failure. opts: borrowed, may be NULL (no name).
 * Returns 0, WEFT_EINVAL (NULL out), WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_new(weft_future **out, const weft_future_opts *opts);

/* weft_future_set_running - Future.set_running_or_notify_cancel: PENDING -> RUNNING.
 * f: borrowed. Returns 1 (f is now RUNNING: go on and compute it), 0 (f was cancelled: do not
 * compute it), WEFT_ESTATE (f was already running or finished: Python's RuntimeError),
 * WEFT_EPERM (f was made by a pool: only its task completes it), WEFT_EINVAL (NULL f).
 * Setting the result does not need it first (Python allows set_result on a pending future).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_set_running(weft_future *f);

/* weft_future_set_result - finish f with success and result (Future.set_result).
 * f: borrowed. result: if free_result is NULL, lent: weft never dereferences it and the caller
 * keeps it valid while anyone may read it; else taken on success: f calls free_result(result)
 * once its last reference is released (readers borrow it while they hold one). On failure the
 * caller keeps result. Waiters wake and done-callbacks run in this call.
 * Returns 0; WEFT_ESTATE if f was already finished or cancelled (Python's InvalidStateError;
 * f is unchanged); WEFT_EPERM (f was made by a pool); WEFT_EINVAL (NULL f).
 * Blocks: no (callbacks may). Cancellation point: no. Thread safety: safe (of several
 * concurrent setters exactly one gets 0). Async-signal-safe: no. */
WEFT_API int weft_future_set_result(weft_future *f, void *result, void (*free_result)(void *));

/* weft_future_set_bytes - finish f with success and a copy of data[0 .. len) that f owns
 * (freed when its last reference is released). data: borrowed during the call (may be NULL
 * when len is 0). weft_future_bytes gives the copy and its length; weft_future_result's
 * result pointer is the copy too.
 * Returns 0; WEFT_ESTATE (already finished or cancelled: nothing copied); WEFT_EPERM (made by
 * a pool); WEFT_EINVAL (NULL f, NULL data with len > 0); WEFT_ENOMEM (f unchanged).
 * Blocks: no (callbacks may). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_future_set_bytes(weft_future *f, const void *data, size_t len);

/* weft_future_set_failure - finish f with a failure (Future.set_exception), as a pool task's
 * failure: status (a WEFT_E* code or a positive status of the program's own; 0 is
 * WEFT_EINVAL) and message (borrowed during the call and copied; NULL: the code's text). The
 * result pointer is NULL. weft_future_result then returns status with the message in the
 * caller's error slot; if nobody does, the pool error hook reports it at the last release.
 * Returns 0; WEFT_ESTATE (already finished or cancelled: Python's InvalidStateError);
 * WEFT_EPERM (made by a pool); WEFT_EINVAL (NULL f, status 0); WEFT_ENOMEM (f unchanged).
 * Blocks: no (callbacks may). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_future_set_failure(weft_future *f, int status, const char *message);

/* weft_future_bytes - weft_future_result that also gives the length of a result set with
 * weft_future_set_bytes. data, len: caller-owned, may be NULL; receive the future's copy
 * (borrowed: valid while the caller holds a reference to f) and its length, or the result
 * pointer and 0 for a future finished any other way; untouched unless f finished.
 * Returns as weft_future_result.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_bytes(weft_future *f, const void **data, size_t *len, weft_ns timeout);

/* Modes of weft_wait (concurrent.futures.wait's return_when). */
enum weft_wait_mode {
    WEFT_FIRST_COMPLETED = 1, /* return when any future is done */
    WEFT_FIRST_EXCEPTION = 2, /* when any finishes with a failure, or all are done */
    WEFT_ALL_COMPLETED = 3    /* when all are done */
};

/* weft_wait - wait for the futures fs[0 .. n) (concurrent.futures.wait).
 * fs: borrowed, an array of n futures (entries may not be NULL). index_out: caller-owned, may be
 * NULL; receives the index of the first done future in array order (FIRST_COMPLETED), of the
 * first failed one (FIRST_EXCEPTION; n if all are done and none failed), or n
 * (ALL_COMPLETED).
 * Returns 0 when the condition holds (weft_wait_split, below, also gives the split into done
 * and not done); WEFT_EAGAIN (timeout 0, not yet); WEFT_ETIMEDOUT; WEFT_ECANCELED (the caller was
 * cancelled); WEFT_EINVAL (NULL fs, NULL entry, n = 0, bad mode, negative timeout);
 * WEFT_ENOMEM. Waiting looks at no result: failures stay unseen until weft_future_result.
 * Blocks: yes (helps its pool from a worker). Cancellation point: yes. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_wait(weft_future **fs, size_t n, int mode, size_t *index_out, weft_ns timeout);

/* weft_wait_split - weft_wait that gives the whole split, as concurrent.futures.wait returns
 * (done, not_done): it waits as weft_wait(fs, n, mode, NULL, timeout), then reorders fs in
 * place so that fs[0 .. *ndone) are the futures done at that moment and fs[*ndone .. n) the
 * others, each part in its original order; the loop `fs += ndone; n -= ndone;` waits for the
 * rest. Unlike weft_wait, n = 0 is allowed (nothing to wait for: returns 0, *ndone = 0).
 * fs: borrowed, reordered (entries may not be NULL; a future listed twice stays twice).
 * ndone: caller-owned, receives the count of done futures.
 * Returns 0 when the condition holds; WEFT_EAGAIN (timeout 0, not yet), WEFT_ETIMEDOUT,
 * WEFT_ECANCELED (the caller was cancelled) - on these three the split is made as well (Python
 * returns the split on a timeout); WEFT_EINVAL (NULL fs with n > 0, NULL ndone, NULL entry,
 * bad mode, negative timeout) and WEFT_ENOMEM leave fs and *ndone untouched.
 * Blocks: yes (helps its pool from a worker). Cancellation point: yes. Thread safety: safe
 * (fs is written: not shared with another call at the same time). Async-signal-safe: no. */
WEFT_API int weft_wait_split(weft_future **fs, size_t n, int mode, size_t *ndone, weft_ns timeout);

typedef struct weft_as_completed weft_as_completed;

/* weft_as_completed_new - an iterator that yields the futures fs[0 .. n) in the order they
 * complete (concurrent.futures.as_completed); those already done come first, in array order.
 * out: caller-owned, receives the iterator on success; end it with weft_as_completed_free.
 * fs: borrowed during the call; the iterator takes its own reference to each future (a future
 * listed twice is yielded once).
 * Returns 0, WEFT_EINVAL (NULL out or fs, NULL entry), WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_as_completed_new(weft_as_completed **out, weft_future **fs, size_t n);

/* weft_as_completed_next - the next future to complete.
 * f: caller-owned, receives a borrowed future (valid until weft_as_completed_free; take a
 * reference to keep it longer).
 * Returns 0; WEFT_ECLOSED when every future was yielded (*f set to NULL); WEFT_EAGAIN (timeout 0,
 * none ready); WEFT_ETIMEDOUT; WEFT_ECANCELED (the caller was cancelled); WEFT_EINVAL (NULL it
 * or f, negative timeout).
 * Blocks: yes (helps a pool from its worker). Cancellation point: yes. Thread safety: one thread
 * at a time per iterator. Async-signal-safe: no. */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **f, weft_ns timeout);

/* weft_as_completed_free - end the iterator and its references to the futures. NULL does
 * nothing. Blocks: no. Cancellation point: no. Thread safety: not with a concurrent next.
 * Async-signal-safe: no. */
WEFT_API void weft_as_completed_free(weft_as_completed *it);

/* weft_future_release: the old name of weft_future_unref (docs/design/naming.md: `_release`
 * only gives back a synchronization primitive). Kept through 0.x; WEFT_WARN_DEPRECATED makes
 * a use warn. */
WEFT_DEPRECATED("renamed weft_future_unref")
static inline void weft_future_release(weft_future *f)
{
    weft_future_unref(f);
}

WEFT_END_DECLS

#endif
