/* src/sync/sync.h - what the sync files share (not part of the API). */
#ifndef WEFT_INTERNAL_SYNC_SYNC_H
#define WEFT_INTERNAL_SYNC_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <weft/sync.h>

/* How weft__lock_wait waits (flags). */
enum {
    WEFT__LOCK_CANCELLABLE = 1, /* the wait ends with WEFT_ECANCELED when the thread is cancelled */
    WEFT__LOCK_SOON = 2,        /* the holder is about to release (a condition's notifier, a
                                 * barrier's short section): probe densely from the start */
};

/* The slow path of weft_lock_acquire with an absolute deadline; without
 * WEFT__LOCK_CANCELLABLE the wait is immune to cancellation (a condition taking its lock back).
 * Returns 0, WEFT_ETIMEDOUT, WEFT_ECANCELED. */
int weft__lock_wait(weft_lock *l, weft_ns deadline, unsigned flags);

/* Record the caller as r's owner with count levels (r->lock just acquired). Returns 0. */
int weft__rlock_take(weft_rlock *r, uint32_t count);
/* Release r fully whatever its count (the caller owns it); returns the count it had. */
uint32_t weft__rlock_drop(weft_rlock *r);

#endif
