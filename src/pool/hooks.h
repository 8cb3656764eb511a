/* src/pool/hooks.h - what modules above the pool (task groups, src/group.c; the process pool,
 * src/procpool/) may call of its internals: a scoped submit, a done-callback with an embedded
 * node, a failure's text, waiting with help, and a cancel scope for a standalone future. Nothing here exposes the record's layout or the pool's; the task record
 * and its state machine are pool/task.h, the pool's own internals pool/pool_internal.h.
 */
#ifndef WEFT_POOL_HOOKS_H
#define WEFT_POOL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <weft/cancel.h>
#include <weft/future.h>
#include <weft/pool.h>

#include "core/park.h"

/* A done-callback node. A caller may embed one (embedded true) and link it with weft__cb_add:
 * no malloc; it must stay valid until it has run or weft__cb_remove unlinked it. */
struct weft__cb {
    struct weft__cb *next;
    weft_future_cb fn;
    void *arg;
    bool embedded; /* not malloc'ed by add_done_callback (as_completed's nodes, groups) */
};

/* Link node (fn, arg, embedded set by the caller) to run once f is done, after f's lock is
 * dropped, on the completing thread. 1: f was already done and node was not linked (the caller
 * runs it); 0: linked. (pool/task.c) */
int weft__cb_add(weft_future *f, struct weft__cb *node);
/* true: node was unlinked and will not run; false: it has run or is about to. (pool/task.c) */
bool weft__cb_remove(weft_future *f, struct weft__cb *node);

/* For a done future (e.g. in its done-callback): its failure status, 0 if it succeeded or was
 * cancelled. With a failure, *message gets its text (valid while f is referenced) and the
 * failure counts as seen (no report through the pool error hook). (pool/task.c) */
int weft__future_failure(weft_future *f, const char **message);

/* Submit a task that runs inside `scope` (NULL = the worker's own scope), optionally named,
 * with `out` as for weft_pool_submit. On success the pool TAKES the caller's reference to
 * scope (from weft_scope_new) and releases it when the record is recycled; on failure the
 * caller keeps it. Same returns as weft_pool_submit. (pool/pool.c) */
int weft__pool_submit_scoped(weft_pool *p, weft_scope *scope, const char *name, weft_task_fn fn,
                             void *arg, weft_future **out, weft_ns timeout);

/* A condition one can wait for with helping: waitq q, and arm(ctx), called under q->lock, that
 * returns true if the condition holds (then nothing waits) and otherwise makes sure the party
 * that will make it hold takes q->lock and wakes q (e.g. by setting F_LISTEN). */
struct weft__wsrc {
    weft__waitq *q;
    bool (*arm)(void *ctx);
    void *ctx;
};
/* Wait until ready(rctx), parking on the sources; a worker of `help` runs that pool's tasks
 * meanwhile. Returns 0, WEFT_EAGAIN (deadline 0 meaning "try once": pass try_once),
 * WEFT_ETIMEDOUT, WEFT_ECANCELED (unless !cancellable). (pool/sched.c) */
int weft__wait_help(weft_pool *help, struct weft__wsrc *src, size_t n, bool (*ready)(void *),
                    void *rctx, weft_ns deadline, bool cancellable);

/* For the process pool (src/procpool/): make s the cancel scope of the standalone future f
 * (weft_future_new), before weft_future_set_running. weft_future_cancel of the RUNNING f then
 * cancels s, as it cancels a pool task's own scope (task.c, interrupt_runner), and returns
 * WEFT_EBUSY. The caller keeps s alive until f is finished (a cancel only reaches s while f
 * runs: it reads s under f->wq.lock, which the setters take) and learns of the cancel through
 * a hook on s (core/cancel_internal.h). Returns 0; WEFT_EPERM (f is not standalone);
 * WEFT_ESTATE (f is not PENDING). (pool/standalone.c) */
int weft__future_set_cancel_scope(weft_future *f, weft_scope *s);
/* Mark the standalone f, before it is set to a WEFT_ECANCELED failure, as ended by a cancel
 * (R_CANCELLED, as sched.c marks a pool task): an unseen failure of it is not reported.
 * (pool/standalone.c) */
void weft__future_mark_cancelled(weft_future *f);

#endif
