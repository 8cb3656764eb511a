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
#include <weft/config.h>

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
 * Blocks: no. Cancellation point: no. Thread safety: safe (one call wins). Async-signal-safe: no. */
WEFT_API int weft_signals_catch(const weft_signals_opts *opts);

/* weft_signals_received - the number of the first signal caught, 0 if none yet.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_signals_received(void);

WEFT_END_DECLS

#endif
