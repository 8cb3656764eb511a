/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/thread.h - threads (threading.Thread, _thread.start_new_thread).
 *
 * A weft_thread is a small value (like pthread_t) that names a thread through a handle table.
 * Once the thread is joined, or detached and finished, the handle is stale: every call on it
 * returns WEFT_ESRCH instead of touching freed memory. A detached handle no longer owns the
 * thread: join and detach on it return WEFT_ESRCH at once, while the queries (name,
 * is_alive, is_daemon, native_id, stop) still work until the thread finishes, as they do on
 * the handles weft_thread_current and weft_thread_enumerate give. Copy it freely.
 *
 * Python semantics at exit: when main returns (or anything calls exit()), the process first
 * waits for every non-daemon weft thread to finish; daemon threads do not hold it up and are
 * killed with the process. The wait is an atexit handler registered when the first thread
 * starts, so handlers the program registers after that run before it (Python waits before
 * all of them), and before it ends weft's own service threads. A child made by fork() does not
 * wait for the threads it did not inherit: in the child they are finished and stale for join
 * (WEFT_ESRCH); threads started there work. A thread whose function returned a failure and
 * that nobody joins (it
 * was detached, or was still unjoined at exit) is reported through the error hook, like
 * threading.excepthook: no failure vanishes silently. A thread that returned WEFT_ECANCELED
 * after a scope it runs in was cancelled (weft_thread_stop, an ancestor such as the root scope
 * on Ctrl-C, a deadline) did what it was asked and is not reported (a joiner still gets it).
 *
 * Threads weft did not start (main, plain pthreads) may call every function here;
 * weft_thread_current() gives them a handle too (not joinable: WEFT_EINVAL).
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include <stddef.h>
#include <stdint.h>
#include <weft/cancel.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

/* A thread handle. {0} is no thread. */
typedef struct weft_thread {
    uint64_t id;
} weft_thread;

/* A thread's function: returns 0 on success or a failure status: a WEFT_E* code, or a
 * POSITIVE int of the program's own (negative values are read as WEFT_E* codes: -1 is
 * WEFT_EPERM). Before returning a failure it may call weft_error_set() to attach a message,
 * which travels to whoever joins the thread. */
typedef int (*weft_thread_fn)(void *arg);

/* Longest thread name kept, including the NUL. The kernel shows the first 15 bytes. */
#define WEFT_THREAD_NAME_MAX 64

/* Smallest stack a thread may be given, in bytes (opts.stack_size, weft_thread_set_stack_size). */
#define WEFT_THREAD_STACK_MIN (16 * 1024)

/* Options of weft_thread_start. As for every weft options struct, all-zero ({0}, calloc) is the
 * defaults, the same as WEFT_THREAD_OPTS_INIT and as passing NULL. */
typedef struct weft_thread_opts {
    const char *name;  /* borrowed during the call and copied; NULL: "thread-N" */
    int daemon;        /* non-zero: the process does not wait for this thread at exit */
    size_t stack_size; /* bytes; 0: the process-wide default (weft_thread_set_stack_size, else
                          the system's); below WEFT_THREAD_STACK_MIN is WEFT_EINVAL */
    weft_scope *scope; /* borrowed during the call: the parent of the thread's own cancel
                          scope; NULL: the creator's current scope (weft/cancel.h) */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_thread_opts;

/* clang-format off */
#define WEFT_THREAD_OPTS_INIT {NULL, 0, 0, NULL, {0}}
/* clang-format on */

/* weft_thread_start - start fn(arg) on a new thread.
 * out:  caller-owned, receives the handle on success (left untouched on failure).
 * fn:   the thread function; NULL is WEFT_EINVAL.
 * arg:  passed to fn; weft never dereferences it (the caller decides who owns it).
 * opts: borrowed, may be NULL for the defaults.
 * Returns 0, WEFT_EINVAL (NULL out or fn, name longer than WEFT_THREAD_NAME_MAX - 1, stack too
 * small), WEFT_ENOMEM, WEFT_EAGAIN (the system refused another thread).
 * The handle must eventually be given to weft_thread_join or weft_thread_detach.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_start(weft_thread *out, weft_thread_fn fn, void *arg,
                               const weft_thread_opts *opts) WEFT_NODISCARD;

/* weft_thread_join - wait until thread t has finished, then reap it (the handle goes stale).
 * status: caller-owned, may be NULL; receives fn's return value. When it is non-zero the
 *         calling thread's error slot (weft/error.h) receives the code and the message the
 *         thread set with weft_error_set (or the code's text), like an exception re-raised in
 *         the joiner.
 * timeout: see weft/time.h; 0 reaps an already finished thread or returns WEFT_EAGAIN.
 * Returns 0; WEFT_ETIMEDOUT (t still runs, the handle stays valid: join again later);
 * WEFT_EAGAIN (timeout 0 and t still runs); WEFT_EDEADLK (t is the calling thread); WEFT_ESRCH
 * (stale handle: already joined, by this or a concurrent join, or detached, also while the
 * detached thread still runs, or left unjoined at exit); WEFT_EINVAL (t was not started by
 * weft, or negative timeout); WEFT_ECANCELED (the caller was cancelled).
 * Several threads may wait to join the same thread; exactly one of them reaps it.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_join(weft_thread t, int *status, weft_ns timeout);

/* weft_thread_detach - give up the handle: the thread runs on and cleans up after itself
 * (a detached thread, _thread.start_new_thread). If it ends with a failure, the error hook
 * reports it. Returns 0, WEFT_ESRCH (stale handle: joined, or detached already, also while
 * it still runs), WEFT_EINVAL (not started by weft).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_detach(weft_thread t);

/* weft_thread_stop - ask thread t to stop: cancel its own cancel scope (weft/cancel.h), so that
 * whatever weft call it is blocked in, or blocks in next, returns WEFT_ECANCELED, and its
 * weft_checkpoint() says so. The thread decides how to wind down; join it as usual.
 * Threads it started inside its scope are stopped too. Stopping a finished thread does
 * nothing. Returns 0, WEFT_ESRCH (stale handle), WEFT_EINVAL (not started by weft).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_stop(weft_thread t);

/* weft_thread_is_alive - 1 while t's function runs, 0 once it has returned, WEFT_ESRCH for a
 * stale handle. Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_is_alive(weft_thread t);

/* weft_thread_current - the calling thread's handle (threading.current_thread). For a thread
 * weft did not start, the first call registers it; never fails except for lack of memory, when
 * it returns {0}. Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no (the first call of a foreign thread allocates). */
WEFT_API weft_thread weft_thread_current(void);

/* weft_thread_main - the main thread's handle (threading.main_thread), from any thread: the
 * same handle weft_thread_current() gives in main. The main thread is the one whose kernel id
 * is the process id; in a child made by fork() it is the thread that called fork (as in
 * Python; if weft started that thread, its own weft_thread_current() handle stays a different
 * one). Like every handle of a thread weft did not start, it is not joinable (join and
 * detach give WEFT_EINVAL) and never goes stale: weft_thread_is_alive() gives 1 until main
 * ends with pthread_exit, 0 after. Returns {0} only for lack of memory (the first call makes a
 * record for main).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API weft_thread weft_thread_main(void);

/* weft_thread_set_stack_size - set the stack size of threads started from now on without one of
 * their own (opts.stack_size 0): threading.stack_size(size). Pool workers, group threads and
 * the timer thread are weft threads and follow it; threads already running keep theirs.
 * size: bytes; 0 restores the system's default (the pthread default, from RLIMIT_STACK);
 * otherwise at least WEFT_THREAD_STACK_MIN, rounded up to a multiple of the page size.
 * Returns 0, WEFT_EINVAL (size below WEFT_THREAD_STACK_MIN and not 0, or above SIZE_MAX / 2;
 * the setting is unchanged, weft_error_message() says why). A size the system then refuses
 * makes weft_thread_start fail (WEFT_EAGAIN, WEFT_ENOMEM).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no (sysconf). */
WEFT_API int weft_thread_set_stack_size(size_t size);

/* weft_thread_get_stack_size - the size set by weft_thread_set_stack_size, after rounding; 0
 * while the system's default is in use (threading.stack_size()).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API size_t weft_thread_get_stack_size(void);

/* weft_thread_ident - the handle as a number, never 0, unique among the handles alive at any
 * time (threading.get_ident / Thread.ident). A number is reused only after its table slot was
 * recycled 2^32 times. */
static inline uint64_t weft_thread_ident(weft_thread t)
{
    return t.id;
}

/* weft_thread_equal - 1 if a and b name the same thread. */
static inline int weft_thread_equal(weft_thread a, weft_thread b)
{
    return a.id == b.id;
}

/* weft_thread_native_id - the kernel's thread id (Thread.native_id, as in top -H and gdb).
 * tid: caller-owned. Returns 0, WEFT_ESRCH, WEFT_EINVAL (NULL tid), WEFT_ESTATE (not yet
 * known: the thread has not started running; it is set before fn is called).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_native_id(weft_thread t, int32_t *tid);

/* weft_thread_name - copy t's name into buf (size bytes, NUL-terminated, cut if needed).
 * Returns 0, WEFT_ESRCH, WEFT_EINVAL (NULL buf or size 0).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_name(weft_thread t, char *buf, size_t size);

/* weft_thread_is_daemon - 1 or 0, or WEFT_ESRCH.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_is_daemon(weft_thread t);

/* weft_thread_count - how many threads are alive and known to weft: those it started whose
 * function has not returned, plus registered foreign threads (threading.active_count).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API size_t weft_thread_count(void);

/* weft_thread_enumerate - fill out[0 .. cap) with handles of the live threads counted by
 * weft_thread_count (threading.enumerate) and return how many there are in all, which may be
 * more than cap (call again with a bigger array). out may be NULL when cap is 0.
 * The handles are not references: a thread may finish and be reaped right after.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API size_t weft_thread_enumerate(weft_thread *out, size_t cap);

/* The error hook (threading.excepthook): called on the thread that ended with a failure, or at
 * exit for threads never joined. name and message are borrowed for the call. */
typedef void (*weft_thread_error_hook)(weft_thread t, const char *name, int status,
                                       const char *message, void *arg);

/* weft_thread_set_error_hook - replace the hook; NULL restores the default, which prints
 *     weft: thread 'NAME' failed: WEFT_EXXX (status N): MESSAGE
 * on stderr. arg is passed to the hook; the caller keeps it alive while the hook is set, and
 * for as long as a report that started before the replacement may still be running with it.
 * Returns 0. Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_thread_set_error_hook(weft_thread_error_hook hook, void *arg);

/* weft_thread_release: the old name of weft_thread_detach (docs/design/naming.md: `_release`
 * only gives back a synchronization primitive). Kept through 0.x; WEFT_WARN_DEPRECATED makes
 * a use warn. */
WEFT_DEPRECATED("renamed weft_thread_detach")
static inline int weft_thread_release(weft_thread t)
{
    return weft_thread_detach(t);
}

WEFT_END_DECLS

#endif
