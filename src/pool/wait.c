/* src/pool/wait.c - waiting for several futures: weft_wait (and weft_wait_split, which also
 * partitions the caller's array into done and not done) and the as-completed iterator.
 *
 * weft_wait(FIRST_*) parks one waiter record on every future that is not done (the parking
 * lot's multi-queue wait: the first future to finish wakes it) and re-evaluates the condition
 * after each wake-up; ALL_COMPLETED waits for the futures one after the other with one
 * deadline. The as-completed iterator registers a done-callback (an embedded node, no malloc)
 * on each future that appends it to the iterator's ready ring under the iterator's lock.
 * Iterator lifetime: refs = 1 (the user) + every callback registered and not yet run or
 * unlinked; the last reference frees it. Lock order: docs/design/locks.md; the callback
 * takes the iterator's lock after the future's lock is dropped.
 */
#include <stdlib.h>

#include <weft/error.h>

#include "core/internal.h"
#include "pool/pool_internal.h"

struct wctx {
    weft_future **fs;
    size_t n, idx;
    int mode;
};

static bool failed(weft_future *f)
{
    return weft__future_state(f) == F_FINISHED && f->status != 0; /* acquire: T2 */
}

static bool wait_ready(void *ctx)
{
    struct wctx *c = ctx;
    size_t done = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!weft__future_is_done(c->fs[i])) continue;
        done++;
        if (c->mode == WEFT_FIRST_COMPLETED ||
            (c->mode == WEFT_FIRST_EXCEPTION && failed(c->fs[i]))) {
            c->idx = i;
            return true;
        }
    }
    c->idx = c->n;
    return done == c->n;
}

static weft_pool *helping(void)
{
    return weft__tls_worker ? weft__tls_worker->pool : NULL;
}

static int wait_all(weft_future **fs, size_t n, weft_ns timeout)
{
    weft_ns deadline = weft_deadline(timeout);
    for (size_t i = 0; i < n; i++) {
        if (weft__future_is_done(fs[i])) continue;
        if (timeout == 0) return WEFT_EAGAIN;
        struct weft__wsrc src = {&fs[i]->wq, weft__future_arm, fs[i]};
        int rc = weft__wait_help(helping(), &src, 1, weft__future_ready, fs[i], deadline, true);
        if (rc != 0) return rc;
    }
    return 0;
}

int weft_wait(weft_future **fs, size_t n, int mode, size_t *index_out, weft_ns timeout)
{
    if (fs == NULL || n == 0 || timeout < 0 || mode < WEFT_FIRST_COMPLETED ||
        mode > WEFT_ALL_COMPLETED)
        return weft__fail(WEFT_EINVAL, "%s",
                          fs == NULL    ? "fs is NULL"
                          : n == 0      ? "n is 0"
                          : timeout < 0 ? "timeout is negative"
                                        : "mode is not a WEFT_*_COMPLETED");
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL) return weft__fail(WEFT_EINVAL, "fs[%zu] is NULL", i);
    struct wctx c = {fs, n, n, mode};
    int rc = 0;
    if (mode == WEFT_ALL_COMPLETED) {
        rc = wait_all(fs, n, timeout);
    } else if (!wait_ready(&c)) {
        if (timeout == 0) return WEFT_EAGAIN;
        struct weft__wsrc *src = weft__malloc(n * sizeof *src);
        if (src == NULL) return weft__fail(WEFT_ENOMEM, "no memory to wait on %zu futures", n);
        for (size_t i = 0; i < n; i++)
            src[i] = (struct weft__wsrc){&fs[i]->wq, weft__future_arm, fs[i]};
        rc = weft__wait_help(helping(), src, n, wait_ready, &c, weft_deadline(timeout), true);
        free(src);
    }
    if (rc == 0 && index_out) *index_out = mode == WEFT_ALL_COMPLETED ? n : c.idx;
    return rc;
}

/* weft_wait, then a stable partition: done first. Each future's state is read once, so a
 * future finishing during the split lands on one side only; rest holds the not-done ones. */
int weft_wait_split(weft_future **fs, size_t n, int mode, size_t *ndone, weft_ns timeout)
{
    if ((fs == NULL && n > 0) || ndone == NULL || timeout < 0 || mode < WEFT_FIRST_COMPLETED ||
        mode > WEFT_ALL_COMPLETED)
        return weft__fail(WEFT_EINVAL, "%s",
                          fs == NULL && n > 0 ? "fs is NULL"
                          : ndone == NULL     ? "ndone is NULL"
                          : timeout < 0       ? "timeout is negative"
                                              : "mode is not a WEFT_FIRST_/WEFT_ALL_ constant");
    if (n == 0) {
        *ndone = 0;
        return 0;
    }
    weft_future **rest = weft__malloc(n * sizeof *rest); /* before waiting: no ENOMEM after */
    if (rest == NULL) return weft__fail(WEFT_ENOMEM, "no memory for %zu futures", n);
    int rc = weft_wait(fs, n, mode, NULL, timeout);
    if (rc != 0 && rc != WEFT_EAGAIN && rc != WEFT_ETIMEDOUT && rc != WEFT_ECANCELED) {
        free(rest);
        return rc;
    }
    size_t k = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        weft_future *f = fs[i];
        if (weft__future_is_done(f))
            fs[k++] = f; /* k <= i: overwrites an entry already read */
        else
            rest[m++] = f;
    }
    for (size_t i = 0; i < m; i++) fs[k + i] = rest[i];
    free(rest);
    *ndone = k;
    return rc;
}

/* ---- as_completed ---- */

struct weft_as_completed {
    weft__waitq wq; /* its lock guards the ring */
    _Atomic int refs;
    size_t n, yielded; /* n: distinct futures */
    weft_future **fs;
    struct weft__cb *nodes;
    weft_future **ring;
    size_t head;
    _Atomic size_t tail; /* written under wq.lock, read without it by ready() */
};

static void it_unref(weft_as_completed *it)
{
    weft__hb_release(&it->refs);                     /* as weft__pool_unref's */
    if (atomic_fetch_sub(&it->refs, 1) != 1) return; /* seq_cst: the last sees all */
    weft__hb_acquire(&it->refs);
    for (size_t i = 0; i < it->n; i++) weft_future_unref(it->fs[i]);
    free(it->fs);
    free(it->nodes);
    free(it->ring);
    free(it);
}

static void it_push(weft_as_completed *it, weft_future *f)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&it->wq.lock);
    size_t t = atomic_load_explicit(&it->tail, memory_order_relaxed); /* under the lock */
    it->ring[t] = f;
    atomic_store_explicit(&it->tail, t + 1, memory_order_release); /* pairs: it_ready */
    weft__waitq_wake_all(&it->wq, &wl);
    weft__lock_release(&it->wq.lock);
    weft__wakelist_flush(&wl);
}

static void it_callback(weft_future *f, void *arg)
{
    weft_as_completed *it = arg;
    it_push(it, f);
    it_unref(it);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (weft_future *const *)a, y = (uintptr_t) * (weft_future *const *)b;
    return x < y ? -1 : x > y;
}

/* Copy fs without duplicates (keeping the first of each) into it->fs. */
static int distinct(weft_as_completed *it, weft_future **fs, size_t n)
{
    weft_future **sorted = weft__malloc(n * sizeof *sorted);
    if (sorted == NULL) return weft__fail(WEFT_ENOMEM, "no memory for %zu futures", n);
    for (size_t i = 0; i < n; i++) sorted[i] = fs[i];
    qsort(sorted, n, sizeof *sorted, cmp_ptr);
    bool *taken = weft__calloc(n, sizeof *taken);
    if (taken == NULL) {
        free(sorted);
        return weft__fail(WEFT_ENOMEM, "no memory for %zu futures", n);
    }
    for (size_t i = 0; i < n; i++) {
        weft_future **hit = bsearch(&fs[i], sorted, n, sizeof *sorted, cmp_ptr);
        while (hit > sorted && hit[-1] == fs[i]) hit--;
        if (taken[hit - sorted]) continue;
        taken[hit - sorted] = true;
        it->fs[it->n++] = fs[i];
    }
    free(taken);
    free(sorted);
    return 0;
}

int weft_as_completed_new(weft_as_completed **out, weft_future **fs, size_t n)
{
    if (out == NULL || (fs == NULL && n > 0))
        return weft__fail(WEFT_EINVAL, "%s", out == NULL ? "out is NULL" : "fs is NULL with n > 0");
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL) return weft__fail(WEFT_EINVAL, "fs[%zu] is NULL", i);
    weft_as_completed *it = weft__calloc(1, sizeof *it);
    size_t m = n ? n : 1;
    if (it == NULL || (it->fs = weft__calloc(m, sizeof *it->fs)) == NULL ||
        (it->nodes = weft__calloc(m, sizeof *it->nodes)) == NULL ||
        (it->ring = weft__calloc(m, sizeof *it->ring)) == NULL || distinct(it, fs, n) != 0) {
        if (it) {
            free(it->fs);
            free(it->nodes);
            free(it->ring);
        }
        free(it);
        return weft__fail(WEFT_ENOMEM, "no memory for an iterator over %zu futures", n);
    }
    atomic_init(&it->refs, 1);
    for (size_t i = 0; i < it->n; i++) weft_future_ref(it->fs[i]);
    for (size_t i = 0; i < it->n; i++) {
        struct weft__cb *node = &it->nodes[i];
        node->fn = it_callback;
        node->arg = it;
        node->embedded = true;
        atomic_fetch_add(&it->refs, 1);
        if (weft__cb_add(it->fs[i], node)) it_callback(it->fs[i], it);
    }
    *out = it;
    return 0;
}

static bool it_ready(void *ctx)
{
    weft_as_completed *it = ctx;
    return atomic_load_explicit(&it->tail, memory_order_acquire) > it->head; /* pairs: push */
}

static bool it_arm(void *ctx)
{
    return it_ready(ctx);
}

int weft_as_completed_next(weft_as_completed *it, weft_future **f, weft_ns timeout)
{
    if (it == NULL || f == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          it == NULL  ? "it is NULL"
                          : f == NULL ? "f is NULL"
                                      : "timeout is negative");
    if (it->yielded == it->n) {
        *f = NULL;
        return WEFT_ECLOSED;
    }
    if (!it_ready(it)) {
        if (timeout == 0) return WEFT_EAGAIN;
        struct weft__wsrc src = {&it->wq, it_arm, it};
        int rc = weft__wait_help(helping(), &src, 1, it_ready, it, weft_deadline(timeout), true);
        if (rc != 0) return rc;
    }
    weft__lock_acquire(&it->wq.lock);
    *f = it->ring[it->head++];
    weft__lock_release(&it->wq.lock);
    it->yielded++;
    return 0;
}

void weft_as_completed_free(weft_as_completed *it)
{
    if (it == NULL) return;
    for (size_t i = 0; i < it->n; i++)
        if (weft__cb_remove(it->fs[i], &it->nodes[i])) it_unref(it);
    it_unref(it);
}
