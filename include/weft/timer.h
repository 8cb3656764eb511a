/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/timer.h - run a function after a delay, once or periodically (threading.Timer).
 *
 * Every timer of the process is served by ONE timer thread (a daemon weft thread named
 * "weft-timer", started by the first weft_timer_start) that keeps the pending timers in a
 * binary heap ordered by deadline and sleeps until the earliest one. So thousands of timers
 * cost one thread, not one each.
 *
 * Callbacks run one after the other on the timer thread, outside every lock of the timer
 * module. A callback that blocks or computes for long delays every timer due after it: keep
 * callbacks short, and hand long work to a thread or a pool from the callback. The timer thread
 * runs in a child of the root cancel scope: once the root is cancelled (Ctrl-C through
 * weft/signal.h), blocking weft calls inside callbacks return WEFT_ECANCELED, but timers still
 * fire. A callback must not call weft_timer_wait on a timer that has not finished (it would
 * wait for the very thread it runs on: WEFT_EDEADLK).
 *
 * The timer thread is a daemon: timers still pending when the process exits never fire (Python's
 * Timer, a non-daemon thread, holds up the exit instead). Wait for the timers that must run
 * with weft_timer_wait before returning from main. At exit, the timer thread ends and is
 * joined unless a callback is running.
 *
 * fork(): the child has no timer thread; every timer of the parent is cancelled there (waits on
 * it return at once, it never fires), and the first weft_timer_start in the child starts a
 * timer thread of its own.
 *
 * Deadlines are on the monotonic clock: a callback never runs before its delay has passed, and
 * timers due at the same instant run in the order they were started.
 */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_timer weft_timer;

/* All-zero ({0}, calloc) is the defaults, the same as WEFT_TIMER_OPTS_INIT and as passing NULL. */
typedef struct weft_timer_opts {
    weft_ns interval; /* 0: run once; > 0: then again every interval ns (fixed rate) */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_timer_opts;

/* clang-format off */
#define WEFT_TIMER_OPTS_INIT {0, {0}}
/* clang-format on */

/* weft_timer_start - run fn(arg) on the timer thread once delay ns have passed.
 * out:   caller-owned, receives a handle on success (untouched on failure); end it with
 *        weft_timer_free. May be NULL for a one-shot timer nobody will cancel or wait for.
 * delay: relative, >= 0; 0 runs fn as soon as the timer thread gets to it; WEFT_FOREVER never
 *        runs it (until cancelled).
 * fn:    the callback; arg is passed to it and never dereferenced by weft (the caller keeps it
 *        valid until fn has run or the timer was cancelled).
 * opts:  borrowed, may be NULL. With opts->interval > 0 the timer runs again at delay +
 *        interval, delay + 2 * interval, ... until cancelled; a run that overruns skips the
 *        ticks it missed rather than running them in a burst.
 * Returns 0, WEFT_EINVAL (NULL fn, negative delay or interval, periodic timer with NULL out:
 * it could never be stopped), WEFT_ENOMEM, WEFT_EAGAIN (the timer thread could not be started).
 * A failed start never calls fn.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_timer_start(weft_timer **out, weft_ns delay, void (*fn)(void *arg), void *arg,
                              const weft_timer_opts *opts) WEFT_NODISCARD;

/* weft_timer_cancel - stop t from running (Timer.cancel).
 * t: borrowed handle.
 * Returns 0 when fn will not start after this call: a one-shot timer that had not started yet
 * will never run; a periodic timer runs no more (a run in progress finishes: weft_timer_wait
 * waits for it). Cancelling a cancelled timer returns 0 again.
 * WEFT_ESTATE: a one-shot timer whose fn already started (it is running or has run): too late.
 * WEFT_EINVAL: NULL t.
 * So for a one-shot timer, exactly one of "cancel returned 0" and "fn ran" happens.
 * Blocks: no (briefly takes the timer lock). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_timer_cancel(weft_timer *t);

/* weft_timer_wait - wait until t is finished: its fn has returned (one-shot) or it was
 * cancelled and no run of it is in progress (Thread.join on a Timer).
 * t: borrowed handle. timeout: relative (weft/time.h).
 * Returns 0 once finished (weft_timer_fired says whether fn ran); WEFT_EAGAIN (timeout 0, not
 * finished); WEFT_ETIMEDOUT; WEFT_ECANCELED (the caller's cancel scope was cancelled; the timer
 * is not affected); WEFT_EDEADLK (called from a timer callback while t is not finished: t could
 * never finish); WEFT_EINVAL (NULL t, negative timeout). A periodic timer finishes only when
 * cancelled.
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_timer_wait(weft_timer *t, weft_ns timeout);

/* weft_timer_fired - how many runs of t's fn have returned so far (0 or 1 for a one-shot timer;
 * saturates at INT_MAX), or WEFT_EINVAL for NULL t.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_timer_fired(weft_timer *t);

/* weft_timer_free - give up the handle. It does NOT cancel: a pending timer still fires
 * (like dropping Python's Timer object), then its memory goes. Free a periodic timer only
 * after cancelling it, or it runs until the process ends. t must not be used afterwards, and
 * no other call on t may be in progress. NULL does nothing.
 * Once weft_timer_wait returned 0 in a thread, that thread may free t at once, even while
 * the timer thread is still returning from finishing it (it holds its own reference).
 * Blocks: no. Cancellation point: no. Thread safety: safe, for different handles.
 * Async-signal-safe: no. */
WEFT_API void weft_timer_free(weft_timer *t);

/* weft_timer_release: the old name of weft_timer_free (docs/design/naming.md: `_release`
 * only gives back a synchronization primitive). Kept through 0.x; WEFT_WARN_DEPRECATED makes
 * a use warn. */
WEFT_DEPRECATED("renamed weft_timer_free")
static inline void weft_timer_release(weft_timer *t)
{
    weft_timer_free(t);
}

WEFT_END_DECLS

#endif
