/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/signal.h - Ctrl-C for the whole program: signals become cancellation of the root scope.
 *
 * Python delivers KeyboardInterrupt to the main thread only, and workers blocked in get() never
 * hear of it. weft_signals_catch() blocks the chosen signals (SIGINT and SIGTERM by default) in
 * the calling thread and every thread weft starts afterwards, and receives them on one
 * dedicated thread (sigwaitinfo), so no work ever runs inside a signal handler. The first
 * signal runs the optional callback, then cancels the root scope (weft/cancel.h): every thread
 * blocked anywhere in weft returns WEFT_ECANCELED, main included, and the program winds down
 * through its normal return paths. A second signal while it does ends the process at once with
 * the shell's conventional status 128 + signo (130 for SIGINT).
 *
 * Call it at the top of main, before starting threads: a thread started earlier by other means
 * still has the signals unblocked, and the kernel may hand it one (with the default action).
 *
 * The signal thread ends at exit, once weft's exit waits (weft/thread.h, weft/pool.h) are over,
 * so a signal during them still cancels the root scope. A child made by fork() gets a signal
 * thread of its own: the same signals cancel the child's root scope (if that thread cannot be
 * started, the child unblocks them and their default actions apply).
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include <stddef.h>
#include <stdint.h>
#include <weft/config.h>
#include <weft/queue.h>

WEFT_BEGIN_DECLS

/* Options of weft_signals_catch. As for every weft options struct, all-zero ({0}, calloc) is
 * the defaults, the same as WEFT_SIGNALS_OPTS_INIT and as passing NULL. */
typedef struct weft_signals_opts {
    const int *signals; /* borrowed during the call; NULL: SIGINT and SIGTERM */
    size_t count;       /* entries in signals */
    /* Runs on the signal thread when the first signal arrives, before the cancellation. */
    void (*on_signal)(int signo, void *arg);
    void *arg;         /* passed to on_signal; must outlive the process's use of it */
    int ignore_second; /* 0 (the default): a second signal calls _exit(128 + signo);
                          non-zero: later signals are received and dropped, the process
                          goes on winding down (the cancellation has already been made) */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_signals_opts;

/* clang-format off */
#define WEFT_SIGNALS_OPTS_INIT {NULL, 0, NULL, NULL, 0, {0}}
/* clang-format on */

/* weft_signals_catch - turn the chosen signals into cancellation of the root scope.
 * opts: borrowed, may be NULL for the defaults (a zeroed struct is the same).
 * Returns 0; WEFT_EINVAL (a signal that cannot be caught this way: SIGKILL, SIGSTOP, SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, or out of range; count 0 with a non-NULL array); WEFT_EBUSY (already
 * catching); WEFT_EAGAIN (the signal thread could not be started).
 * Blocks: no. Cancellation point: no. Thread safety: safe (one call wins).
 * Async-signal-safe: no. */
WEFT_API int weft_signals_catch(const weft_signals_opts *opts);

/* weft_signals_received - the number of the first signal caught, 0 if none yet.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_signals_received(void);

/* ---- signals as a stream (Go's signal.Notify) ----
 *
 * A daemon that reloads on SIGHUP or reports on SIGUSR1 wants those signals as events, not as
 * the end: weft_signals_notify delivers each chosen signal as an item on a weft queue, which
 * the program reads with weft_queue_get, weft_queue_select next to its other queues, or an
 * event loop through weft_queue_fd. The same signal thread receives them (no handler, no work
 * in signal context), so it works alongside weft_signals_catch: SIGHUP becomes an item while
 * SIGINT still cancels the root scope. A signal both caught and notified does both (the item
 * is put first).
 *
 * Items. Each item is the signal number and a count packed into the pointer (never NULL; see
 * WEFT_SIGNAL_SIGNO / WEFT_SIGNAL_COUNT); nothing to free. Every signal the thread receives
 * becomes one item with count 1 in each queue registered for it; if a put cannot allocate,
 * the occurrence is owed and added to the count of that queue's next item for that signal,
 * so the counts of the items add up to the signals received. Coalescing by the kernel: a
 * standard signal (1 .. 31) sent while one of the same number is still pending (not yet
 * received by the thread) is merged into it by the kernel (POSIX), and nobody can count
 * those; a real-time signal (SIGRTMIN .. SIGRTMAX, sent with sigqueue or kill) is queued by
 * the kernel and each one becomes an item. Use a real-time signal where every occurrence
 * must count. */
#define WEFT_SIGNAL_ITEM(signo, count) ((void *)(((uintptr_t)(count) << 8) | (uintptr_t)(signo)))
#define WEFT_SIGNAL_SIGNO(item)        ((int)((uintptr_t)(item)&0xff))
#define WEFT_SIGNAL_COUNT(item)        ((unsigned)((uintptr_t)(item) >> 8))

/* weft_signals_notify - deliver the given signals as items on q (see above); calling it again
 * for the same q adds signals. The signals are blocked in the calling thread and every thread
 * weft starts afterwards (as for weft_signals_catch: call it before starting other threads, or
 * a thread that still has a signal unblocked may get it with its default action).
 * q: borrowed, must be unbounded (capacity 0: the signal thread never waits) and stay valid
 * until weft_signals_stop(q) returns. While q is closed, its items are dropped.
 * signals: borrowed array of count numbers (catchable as for weft_signals_catch).
 * Returns 0; WEFT_EINVAL (NULL q or signals, count 0, bounded q, a signal that cannot be
 * caught); WEFT_ENOMEM; WEFT_EAGAIN (the signal thread could not be started); WEFT_EDEADLK
 * (called from an on_signal callback with a signal not yet received by weft).
 * Blocks: briefly (restarts the signal thread when the set grows). Cancellation point: no.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_signals_notify(weft_queue *q, const int *signals, size_t count);

/* weft_signals_stop - stop delivering signals to q (signal.Stop). When it returns no more
 * items are put into q, so q may be freed. The signals stay blocked and received by weft: one
 * that no queue wants any more (and that is not caught) is dropped, not given its default
 * action. Stopping a queue that was never registered does nothing.
 * q: borrowed. Returns 0 or WEFT_EINVAL (NULL q).
 * Blocks: briefly (waits for a delivery in progress). Cancellation point: no.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_signals_stop(weft_queue *q);

WEFT_END_DECLS

#endif
