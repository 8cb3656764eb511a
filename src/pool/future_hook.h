/* src/pool/future_hook.h - what the process pool (src/procpool/) needs from the future code:
 * to learn that weft_future_cancel asked a RUNNING standalone future to stop. */
#ifndef WEFT_POOL_FUTURE_HOOK_H
#define WEFT_POOL_FUTURE_HOOK_H

#include <weft/cancel.h>
#include <weft/future.h>

/* Make s the cancel scope of the standalone future f (weft_future_new), before
 * weft_future_set_running: weft_future_cancel of the RUNNING f then cancels s, as it cancels a
 * pool task's own scope (futures.c), and returns WEFT_EBUSY. The caller keeps s alive until f
 * is finished (a cancel only reaches s while f runs: it reads s under f->wq.lock, which the
 * setters take) and learns of the cancel through a hook on s (core/cancel_internal.h).
 * Returns 0; WEFT_EPERM (f is not standalone); WEFT_ESTATE (f is not PENDING). */
int weft__future_set_cancel_scope(weft_future *f, weft_scope *s);
/* Mark the standalone f, before it is set to a WEFT_ECANCELED failure, as ended by a cancel
 * (R_CANCELLED, as sched.c marks a pool task): an unseen failure of it is not reported. */
void weft__future_mark_cancelled(weft_future *f);

#endif
