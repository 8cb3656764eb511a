/* src/pool/standalone.c - futures that no pool made (weft_future_new): the program sets their
 * outcome from any thread, and every other future call works on them unchanged.
 *
 * A standalone future is an ordinary task record (pool_internal.h) with pool NULL, fn NULL and
 * R_STANDALONE in flags: it uses the same state word, waiters, callbacks, references and
 * recycling as a pool's future, so nothing on the pool's paths tests for it. Only recycling
 * (futures.c) looks at R_STANDALONE, on the slow path a record with flags already takes: it
 * reports an unseen failure and frees a result the future owns.
 *
 * Protocol: setters serialise on f->wq.lock, which makes "check not done, write status /
 * result / message / result_free / result_len, then CAS the state to FINISHED" one step
 * against another setter (exactly one wins; the rest see FINISHED and get WEFT_ESTATE). A
 * cancel of a PENDING future CASes without that lock (futures.c): the setter's CAS then fails
 * on CANCELLED, and it undoes its writes, which nobody reads for a cancelled future. The
 * fields are written before the release half of the CAS and read after an acquire that sees
 * FINISHED, as a task's (futures.c). set_running is the pool's start with no runner, so a
 * cancel of the RUNNING future interrupts nobody and returns WEFT_EBUSY.
 * Lock order: docs/design/locks.md; f->wq.lock alone, callbacks run after it is dropped (weft__future_notify).
 */
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/future.h>

#include "core/internal.h"
#include "pool/future_hook.h"
#include "pool/pool_internal.h"

int weft_future_new(weft_future **out, const weft_future_opts *opts)
{
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    weft_future *f = weft__rec_alloc();
    if (f == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a future");
    weft__future_init(f, NULL, 1);
    f->flags = R_STANDALONE;
    f->result_free = NULL;
    f->result_len = 0;
    if (opts && opts->name && opts->name[0]) {
        size_t len = strnlen(opts->name, WEFT__TASK_NAME_MAX - 1);
        memcpy(f->name, opts->name, len);
        f->name[len] = '\0';
        f->flags |= R_NAMED;
    }
    *out = f;
    return 0;
}

static int check(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    /* pool is written before the future is handed out and never changes. */
    if (f->pool != NULL || !(f->flags & R_STANDALONE)) return WEFT_EPERM;
    return 0;
}

int weft_future_set_running(weft_future *f)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if (weft__future_start(f, NULL)) return 1; /* no runner: a cancel interrupts nobody */
    /* acquire: pairs with the RMW that moved f on; states never go back. */
    uint64_t s = atomic_load_explicit(&f->word, memory_order_acquire);
    return (s & F_STATE) == F_CANCELLED ? 0 : WEFT_ESTATE;
}

/* Finish f with status, result (owned by f if result_free), message (malloc'ed, taken on
 * success) and len; WEFT_ESTATE if f was already done (nothing taken). */
static int settle(weft_future *f, int status, void *result, void (*result_free)(void *), size_t len,
                  char *message)
{
    weft__lock_acquire(&f->wq.lock);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    if ((s & F_STATE) >= F_FINISHED) {
        weft__lock_release(&f->wq.lock);
        return weft__fail(WEFT_ESTATE, "the future is already %s",
                          (s & F_STATE) == F_CANCELLED ? "cancelled" : "finished");
    }
    f->status = status;
    f->result = result;
    f->result_free = result_free;
    f->result_len = len;
    f->message = message;
    /* acq_rel: release publishes the fields above to readers that acquire FINISHED (as
     * finish's CAS); acquire pairs with a listener's fetch_or and a cancel's CAS. */
    while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                  (s & ~(uint64_t)F_STATE) | F_FINISHED,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
        if ((s & F_STATE) >= F_FINISHED) { /* a cancel won: nobody reads these */
            f->status = 0;
            f->result = NULL;
            f->result_free = NULL;
            f->result_len = 0;
            f->message = NULL;
            weft__lock_release(&f->wq.lock);
            return weft__fail(WEFT_ESTATE, "the future was cancelled");
        }
    }
    weft__lock_release(&f->wq.lock);
    weft__future_notify(f, (uint32_t)s);
    return 0;
}

int weft_future_set_result(weft_future *f, void *result, void (*free_result)(void *))
{
    int rc = check(f);
    if (rc != 0) return rc;
    return settle(f, 0, result, free_result, 0, NULL);
}

int weft_future_set_bytes(weft_future *f, const void *data, size_t len)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if (data == NULL && len > 0) return weft__fail(WEFT_EINVAL, "data is NULL and len is %zu", len);
    void *copy = weft__malloc(len ? len : 1);
    if (copy == NULL) return weft__fail(WEFT_ENOMEM, "no memory for %zu result bytes", len);
    if (len) memcpy(copy, data, len);
    rc = settle(f, 0, copy, free, len, NULL);
    if (rc != 0) free(copy);
    return rc;
}

int weft_future_set_failure(weft_future *f, int status, const char *message)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if (status == 0) return weft__fail(WEFT_EINVAL, "status is 0 (a failure needs a code)");
    char *copy = NULL;
    if (message && (copy = strdup(message)) == NULL)
        return weft__fail(WEFT_ENOMEM, "no memory for the message");
    rc = settle(f, status, NULL, NULL, 0, copy);
    if (rc != 0) free(copy);
    return rc;
}

int weft_future_bytes(weft_future *f, const void **data, size_t *len, weft_ns timeout)
{
    int rc = weft_future_wait(f, timeout);
    if (rc != 0) return rc;
    void *r = NULL;
    rc = weft_future_result(f, &r, 0);                                 /* done: does not wait */
    uint64_t s = atomic_load_explicit(&f->word, memory_order_acquire); /* pairs: settle */
    if ((s & F_STATE) != F_FINISHED) return rc;                        /* cancelled */
    if (data) *data = r;
    if (len) *len = (f->flags & R_STANDALONE) ? f->result_len : 0;
    return rc;
}

/* The process pool's cancel hook (future_hook.h). own_scope is written before set_running's
 * release CAS, which the canceller's acquire load sees before it reads own_scope; recycling
 * clears it (R_OWN_SCOPE) without releasing it: the scope is the caller's. */
int weft__future_set_cancel_scope(weft_future *f, weft_scope *s)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_STATE) != F_PENDING)
        return WEFT_ESTATE;
    f->own_scope = s;
    f->flags |= R_OWN_SCOPE;
    return 0;
}

void weft__future_mark_cancelled(weft_future *f)
{
    if (check(f) == 0) f->flags |= R_CANCELLED;
}
