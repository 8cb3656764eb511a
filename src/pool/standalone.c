/* src/pool/standalone.c - futures that no pool made (weft_future_new): the program sets their
 * outcome from any thread, and every other future call works on them unchanged.
 *
 * A standalone future is an ordinary task record (pool/task.h) with pool NULL, fn NULL and
 * R_STANDALONE in flags: it uses the same state word, waiters, callbacks, references and
 * recycling as a pool's future, so nothing on the pool's paths tests for it. Only recycling
 * (task.c) looks at R_STANDALONE, on the slow path a record with flags already takes: it
 * reports an unseen failure and frees a result the future owns.
 *
 * Its transitions are task.h's table: set_running is the pool's start with no runner (so a
 * cancel of the RUNNING future interrupts nobody and returns WEFT_EBUSY), and the setters go
 * through weft__future_settle (serialised on f->wq.lock; exactly one wins, the rest and a
 * setter that lost to a cancel get WEFT_ESTATE).
 * Lock order: docs/design/locks.md; f->wq.lock alone, callbacks run after it is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/future.h>

#include "core/internal.h"
#include "core/opts.h"
#include "pool/hooks.h"
#include "pool/pool_internal.h"

int weft_future_new(weft_future **out, const weft_future_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_future_opts") != 0) return WEFT_EINVAL;
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
    /* acquire: pairs with the RMW that moved f on; states never go back (T1). */
    return weft__future_state(f) == F_CANCELLED ? 0 : WEFT_ESTATE;
}

int weft_future_set_result(weft_future *f, void *result, void (*free_result)(void *))
{
    int rc = check(f);
    if (rc != 0) return rc;
    return weft__future_settle(f, 0, result, free_result, 0, NULL);
}

int weft_future_set_bytes(weft_future *f, const void *data, size_t len)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if (data == NULL && len > 0) return weft__fail(WEFT_EINVAL, "data is NULL and len is %zu", len);
    void *copy = weft__malloc(len ? len : 1);
    if (copy == NULL) return weft__fail(WEFT_ENOMEM, "no memory for %zu result bytes", len);
    if (len) memcpy(copy, data, len);
    rc = weft__future_settle(f, 0, copy, free, len, NULL);
    if (rc != 0) free(copy);
    return rc;
}

int weft_future_set_failure(weft_future *f, int status, const char *message)
{
    int rc = check(f);
    if (rc != 0) return rc;
    if (status == 0) return weft__fail(WEFT_EINVAL, "status is 0 (a failure needs a code)");
    char *copy = NULL;
    if (message && (copy = weft__strdup(message)) == NULL)
        return weft__fail(WEFT_ENOMEM, "no memory for the message");
    rc = weft__future_settle(f, status, NULL, NULL, 0, copy);
    if (rc != 0) free(copy);
    return rc;
}

int weft_future_bytes(weft_future *f, const void **data, size_t *len, weft_ns timeout)
{
    int rc = weft_future_wait(f, timeout);
    if (rc != 0) return rc;
    void *r = NULL;
    rc = weft_future_result(f, &r, 0);                  /* done: does not wait */
    if (weft__future_state(f) != F_FINISHED) return rc; /* cancelled (acquire: T2) */
    if (data) *data = r;
    if (len) *len = (f->flags & R_STANDALONE) ? f->result_len : 0;
    return rc;
}

/* The process pool's cancel hook (pool/hooks.h). own_scope is written before set_running's
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
