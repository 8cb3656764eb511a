/* weft/future.h - futures: the result of a task run by a pool (concurrent.futures.Future).
 *
 * A future is made by weft_pool_submit (weft/pool.h) and is reference-counted: the submitter
 * receives one reference, the pool holds another until the task has finished. Every reference
 * is ended with weft_future_release; weft_future_ref takes another one. Every thread that uses
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
 * on stderr. Tasks that ended with WEFT_ECANCELED after being cancelled are not reported.
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stddef.h>
#include <weft/config.h>
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
 * waits never deadlock the pool.
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
 * Blocks: yes (helps the pool from a worker, like weft_future_wait). Cancellation point: yes.
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

/* weft_future_ref - take another reference to f (end it with weft_future_release).
 * Returns 0, WEFT_EINVAL (NULL f).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_ref(weft_future *f);

/* weft_future_release - end one reference to f. The last one recycles f (reporting an unseen
 * failure, see above). Releasing NULL does nothing. Using f after releasing one's last
 * reference is undefined (f may already serve another task).
 * Once weft_future_wait (or _result) returned in a thread, that thread may release its last
 * reference at once, even while the worker or canceller that finished f is still returning
 * (they hold their own reference until they are done with f).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API void weft_future_release(weft_future *f);

/* weft_future_name - the task's name given to weft_pool_submit_named ("" if none), copied into
 * buf (size bytes, NUL-terminated, cut if needed). Returns 0, WEFT_EINVAL (NULL f or buf, size 0).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_future_name(weft_future *f, char *buf, size_t size);

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
 * Returns 0 when the condition holds (check each future with weft_future_done to split done and
 * not done); WEFT_EAGAIN (timeout 0, not yet); WEFT_ETIMEDOUT; WEFT_ECANCELED (the caller was
 * cancelled); WEFT_EINVAL (NULL fs, NULL entry, n = 0, bad mode, negative timeout);
 * WEFT_ENOMEM. Waiting looks at no result: failures stay unseen until weft_future_result.
 * Blocks: yes (helps its pool from a worker). Cancellation point: yes. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_wait(weft_future **fs, size_t n, int mode, size_t *index_out, weft_ns timeout);

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

WEFT_END_DECLS

#endif
