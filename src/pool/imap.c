/* src/pool/imap.c - the streaming map (weft_pool_imap): items submitted as tasks, at most
 * buffersize ahead of the reader, results yielded in input order.
 *
 * State (touched by one thread at a time: the iterator's user): items [0, head) were yielded,
 * [head, sub) are submitted and their futures sit in the ring (slot i % cap), [sub, n) are not
 * submitted yet. cap = n without a buffersize, else buffersize + 1 (next submits one more
 * before it waits, as Python 3.14 does: buffersize + 1 futures at most, buffersize between
 * calls). ended: an error, the overall timeout or free stopped the iteration; every future in
 * the ring was cancelled then. A submit that failed for good (closed, broken, no memory)
 * leaves sub_err for item sub, surfaced when that item's turn comes; one that may work later
 * (full pool, timeout, cancelled caller) is tried again by the next call. With an input
 * function, n is SIZE_MAX until the input says it has no more (then n = sub), and an item
 * taken from it but not yet submitted is held (held, holding) until a submit takes it.
 * The futures are ordinary pool futures: no lock of its own, no protocol beyond theirs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/cancel.h>
#include <weft/error.h>
#include <weft/pool.h>

#include "core/internal.h"
#include "core/opts.h"
#include "pool/pool_internal.h"

struct weft_imap {
    weft_pool *p;
    weft_task_fn fn;
    void **args;
    size_t n, cap, head, sub, bs;
    weft_ns deadline; /* the overall one, from weft_pool_imap */
    int sub_err;      /* item sub could not be submitted, for good */
    bool ended;
    bool holding; /* held is item sub, taken from input */
    weft_imap_input_fn input;
    void *input_ctx, *held;
    weft_future **ring;
};

static weft_future **slot(weft_imap *it, size_t i)
{
    return &it->ring[i % it->cap];
}

/* Item sub's argument: 1 (in *arg), 0 (the input has no more: n is now sub), or the input's
 * failure. */
static int take(weft_imap *it, void **arg)
{
    if (it->input == NULL) {
        *arg = it->args ? it->args[it->sub] : NULL;
        return 1;
    }
    if (!it->holding) {
        int rc = it->input(it->input_ctx, &it->held);
        if (rc == 0) it->n = it->sub;
        if (rc <= 0) return rc;
        it->holding = true;
    }
    *arg = it->held;
    return 1;
}

/* Submit item sub; 0 (also when the input has no more), or the failure (kept in sub_err if it
 * is for good: not a full pool, a timeout or a cancelled caller). */
static int submit_one(weft_imap *it, weft_ns deadline)
{
    void *arg;
    int rc = take(it, &arg);
    if (rc <= 0) {
        if (rc < 0) it->sub_err = rc;
        return rc;
    }
    rc = weft_pool_submit(it->p, it->fn, arg, slot(it, it->sub), weft_remaining(deadline));
    if (rc == 0) {
        it->sub++;
        it->holding = false;
    } else if (rc != WEFT_EAGAIN && rc != WEFT_ETIMEDOUT && rc != WEFT_ECANCELED) {
        it->sub_err = rc;
    }
    return rc;
}

/* Submit while fewer than `ahead` items are submitted and not yielded. */
static int fill(weft_imap *it, size_t ahead, weft_ns deadline)
{
    while (it->sub < it->n && it->sub - it->head < ahead && it->sub_err == 0) {
        int rc = submit_one(it, deadline);
        if (rc != 0) return rc;
    }
    return 0;
}

/* End the iteration: cancel every future not yet yielded (running ones see their scope
 * cancelled). Their results are dropped unlooked at, failures included. */
static void end(weft_imap *it)
{
    if (it->ended) return;
    it->ended = true;
    for (size_t i = it->head; i < it->sub; i++) weft_future_cancel(*slot(it, i));
}

void weft_imap_free(weft_imap *it)
{
    if (it == NULL) return;
    end(it);
    weft_shield_begin(); /* the running items must finish before args may go */
    for (size_t i = it->head; i < it->sub; i++) {
        weft_future *f = *slot(it, i);
        weft_future_wait(f, WEFT_FOREVER);
        /* relaxed: read at the last release by this thread or after its acq_rel drop. */
        atomic_store_explicit(&f->observed, true, memory_order_relaxed);
        weft_future_unref(f);
    }
    weft_shield_end();
    free(it->ring);
    free(it);
}

int weft_pool_imap(weft_imap **out, weft_pool *p, weft_task_fn fn, void **args, size_t n,
                   const weft_imap_opts *opts, weft_ns timeout)
{
    if (WEFT__OPTS_CHECK(opts, "weft_imap_opts") != 0) return WEFT_EINVAL;
    if (out == NULL || p == NULL || fn == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          out == NULL  ? "out is NULL"
                          : p == NULL  ? "p is NULL"
                          : fn == NULL ? "fn is NULL"
                                       : "timeout is negative");
    weft_imap_opts o = opts ? *opts : (weft_imap_opts)WEFT_IMAP_OPTS_INIT;
    size_t bs = o.buffersize;
    if (o.input && (args != NULL || n != 0))
        return weft__fail(WEFT_EINVAL, "opts.input is set: args must be NULL and n 0");
    if (o.input && (bs == 0 || bs == SIZE_MAX))
        return weft__fail(WEFT_EINVAL, "opts.input needs a buffersize (1 to SIZE_MAX - 1)");
    weft_imap *it = weft__calloc(1, sizeof *it);
    if (it == NULL) return weft__fail(WEFT_ENOMEM, "no memory for the map");
    *it = (weft_imap){.p = p, .fn = fn, .args = args, .n = n, .bs = bs};
    it->input = o.input;
    it->input_ctx = o.input_ctx;
    if (o.input) it->n = SIZE_MAX; /* until the input has no more */
    it->cap = o.input || (bs && bs < n) ? bs + 1 : n ? n : 1;
    it->deadline = weft_deadline(timeout);
    if ((it->ring = weft__calloc(it->cap, sizeof *it->ring)) == NULL) {
        size_t cap = it->cap;
        free(it);
        return weft__fail(WEFT_ENOMEM, "no memory for %zu futures", cap);
    }
    int rc = fill(it, bs ? bs : n, it->deadline);
    if (rc == 0) rc = it->sub_err;
    if (rc != 0) {
        weft_imap_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

/* Item head's turn with no future for it: its submit failed. */
static int unsubmitted(weft_imap *it, int rc)
{
    if (it->sub_err == 0) return rc; /* for now: the next call tries again */
    end(it);
    return weft_error_set(
        it->sub_err, "item %zu was never submitted: %s%s", it->head,
        it->holding || it->input == NULL ? "" : "the input failed: ", weft_strerror(it->sub_err));
}

/* Item head is done: yield it, or end the iteration with its failure. */
static int yield(weft_imap *it, void **result)
{
    weft_future *f = *slot(it, it->head);
    int rc = weft_future_result(f, result, 0); /* done: puts a failure's message */
    it->head++;
    weft_future_unref(f);
    if (rc != 0) {
        /* end's cancels of futures that finished meanwhile leave their own message: keep
         * the failure's, which is what the caller reads. */
        char msg[WEFT_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", weft_error_message());
        end(it);
        weft_error_set(rc, "%s", msg);
    }
    return rc;
}

int weft_imap_next(weft_imap *it, void **result, weft_ns timeout)
{
    if (it == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", it == NULL ? "it is NULL" : "timeout is negative");
    if (it->ended || it->head == it->n) return WEFT_ECLOSED;
    weft_ns mine = weft_deadline(timeout);
    weft_ns d = mine < it->deadline ? mine : it->deadline;
    int rc = fill(it, it->bs ? it->bs + 1 : it->n, d);
    if (it->head == it->n) return WEFT_ECLOSED; /* the input had no more */
    if (it->head == it->sub) return unsubmitted(it, rc);
    rc = weft_future_wait(*slot(it, it->head), weft_remaining(d));
    if (rc == 0) return yield(it, result);
    if ((rc == WEFT_ETIMEDOUT || rc == WEFT_EAGAIN) && it->deadline != WEFT_FOREVER &&
        weft_remaining(it->deadline) == 0) {
        end(it);
        return weft_error_set(WEFT_ETIMEDOUT, "the map's overall timeout ran out at item %zu",
                              it->head);
    }
    return rc;
}
