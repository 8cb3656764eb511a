/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/cancel.h - cancel scopes: one call stops every thread blocked anywhere in weft.
 *
 * A scope is a node in a tree (Trio's cancel scopes, Go's context). Every thread has a current
 * scope: the root for main and for threads weft did not start; for a thread started by weft, a
 * scope of its own, child of its creator's current scope (or of weft_thread_opts.scope).
 * weft_thread_stop() cancels that scope.
 *
 * Cancelling a scope cancels all its descendants and records a reason (a code and a text).
 * Every blocking weft call made by a thread whose current scope is cancelled returns
 * WEFT_ECANCELED: a thread already blocked is woken by the canceller within microseconds, no
 * polling, no hidden timeouts. A call that can complete without blocking (a free lock, a
 * non-empty queue) still completes. CPU-bound loops call weft_checkpoint().
 *
 * A scope may carry a deadline: once it passes, the scope counts as cancelled (reason
 * WEFT_ETIMEDOUT, "deadline passed"), and blocked calls in it end at the deadline.
 *
 * Cleanup that must block even though its scope is cancelled (joining workers after Ctrl-C,
 * flushing a queue) runs between weft_shield_begin() and weft_shield_end().
 *
 * fork(): the child keeps every scope with its state (one cancelled in the parent is cancelled
 * in the child, handles stay valid); the threads of the parent that were in them are gone, and
 * cancelling a scope in the child reaches the child's own threads only.
 */
#ifndef WEFT_CANCEL_H
#define WEFT_CANCEL_H

#include <stddef.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_scope weft_scope;

/* How deep weft_scope_enter may nest in one thread. */
#define WEFT_SCOPE_DEPTH 32
/* Longest reason text kept, including the NUL. */
#define WEFT_SCOPE_REASON_MAX 128

/* Options of weft_scope_new. As for every weft options struct, all-zero ({0}, calloc) is the
 * defaults, the same as WEFT_SCOPE_OPTS_INIT and as passing NULL. */
typedef struct weft_scope_opts {
    weft_ns timeout; /* relative: the scope's deadline is now + timeout. 0 or WEFT_FOREVER: no
                        deadline. Unlike a blocking call's timeout, 0 does NOT mean "already
                        expired" (a zeroed struct must be the default): for a scope that starts
                        cancelled, cancel it (weft_scope_cancel with WEFT_ETIMEDOUT), and check
                        a computed timeout such as weft_remaining(d), which reaches 0 */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_scope_opts;

/* clang-format off */
#define WEFT_SCOPE_OPTS_INIT {0, {0}}
/* clang-format on */

/* weft_scope_new - make a scope, child of parent.
 * out: caller-owned, receives a new scope handle on success; end it with weft_scope_free.
 * parent: borrowed; NULL means the calling thread's current scope. A child of a cancelled scope
 *         starts cancelled. Its deadline is the earlier of its own and its parent's.
 * opts: borrowed, may be NULL (no deadline); a zeroed struct is the same.
 * Returns 0, WEFT_EINVAL (NULL out, negative timeout), WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_scope_new(weft_scope **out, weft_scope *parent, const weft_scope_opts *opts);

/* weft_scope_free - drop the handle from weft_scope_new. The scope lives on while threads are
 * inside it or it has children. Freeing the root, or NULL, does nothing. s: taken.
 * Blocks: no. Cancellation point: no. Thread safety: safe (s is not used after the call).
 * Async-signal-safe: no (it may free the scope). */
WEFT_API void weft_scope_free(weft_scope *s);

/* weft_scope_enter - make s the calling thread's current scope until weft_scope_exit.
 * s: borrowed; weft keeps it alive while the thread is inside.
 * Returns 0, WEFT_EINVAL (NULL), WEFT_ENOSPC (nested deeper than WEFT_SCOPE_DEPTH).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_scope_enter(weft_scope *s);

/* weft_scope_exit - return to the scope that was current before the last weft_scope_enter.
 * Returns 0, WEFT_ESTATE (no weft_scope_enter to undo).
 * Blocks: no. Cancellation point: no. Thread safety: safe (acts on the calling thread).
 * Async-signal-safe: no. */
WEFT_API int weft_scope_exit(void);

/* weft_scope_cancel - cancel s and all its descendants; wake every thread blocked in weft inside
 * them. The first reason sticks: cancelling again changes nothing (and returns 0).
 * code: the reason's code (e.g. WEFT_ECANCELED); fmt: printf-style text, may be NULL.
 * Returns 0, WEFT_EINVAL (NULL s).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no (signals
 * reach weft through weft/signal.h, which calls this from a thread). */
WEFT_API int weft_scope_cancel(weft_scope *s, int code, const char *fmt, ...) WEFT_PRINTF(3, 4);

/* weft_scope_cancelled - 1 if s is cancelled (or its deadline passed), else 0; WEFT_EINVAL
 * for NULL. A passed deadline is noticed here: the scope that owns it is cancelled then.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_scope_cancelled(weft_scope *s);

/* weft_scope_reason - the reason s was cancelled: its code in *code and its text in buf (size
 * bytes, cut if needed). Either may be NULL. Returns 1 if cancelled, 0 if not (outputs
 * untouched), WEFT_EINVAL for NULL s.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_scope_reason(weft_scope *s, int *code, char *buf, size_t size);

/* weft_scope_root - the root scope (never freed). Cancelling it cancels every scope.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API weft_scope *weft_scope_root(void);

/* weft_scope_current - the calling thread's current scope, borrowed: valid while the thread
 * stays in it. A thread weft did not start is attached to the root scope by its first call.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API weft_scope *weft_scope_current(void);

/* weft_checkpoint - WEFT_ECANCELED if the calling thread's current scope is cancelled (or its
 * deadline passed) and no shield is up, else 0. For CPU-bound loops: a few nanoseconds.
 * Blocks: no. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no (the first
 * call of a thread attaches it to a scope). */
WEFT_API int weft_checkpoint(void);

/* weft_cancelled - 1 if weft_checkpoint would return WEFT_ECANCELED, else 0.
 * Blocks: no. Cancellation point: no (it reports, it does not return WEFT_ECANCELED).
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_cancelled(void);

/* weft_shield_begin - until the matching weft_shield_end, blocking calls of the calling thread
 * ignore cancellation (they still honour their own timeouts). Nests. Returns 0.
 * weft_shield_end - undo one weft_shield_begin. Returns 0, or WEFT_ESTATE if none is up.
 * Both: Blocks: no. Cancellation point: no. Thread safety: safe (a counter of the calling
 * thread's). Async-signal-safe: yes, if the handler ends the shields it begins. */
WEFT_API int weft_shield_begin(void);
WEFT_API int weft_shield_end(void);

/* weft_scope_release: the old name of weft_scope_free (docs/design/naming.md: `_release`
 * only gives back a synchronization primitive). Kept through 0.x; WEFT_WARN_DEPRECATED makes
 * a use warn. */
WEFT_DEPRECATED("renamed weft_scope_free")
static inline void weft_scope_release(weft_scope *s)
{
    weft_scope_free(s);
}

WEFT_END_DECLS

#endif
