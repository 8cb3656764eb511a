/* src/pool/pfor.c - parallel for / reduce and map, on internal tasks.
 *
 * Parallel for splits [begin, end) recursively: a piece larger than the grain pushes its upper
 * half as a new task (on the worker's own deque, where idle workers steal it, or on the
 * injection stack for a caller that is not a worker) and keeps splitting the lower half, then
 * runs its leaf. With an automatic grain the range is cut into about LEAVES_PER_WORKER pieces
 * per worker; the halves that are stolen early are the big ones, so the load spreads in
 * log2(pieces) steps. A caller that is not a worker of the pool only waits. Map cuts its items
 * into chunks the same way, one task per chunk.
 *
 * Completion (a latch on the caller's stack): `pending` counts the pieces not finished; it is
 * decremented under the latch's waitq lock, so the waiter, once it has seen 0, takes that lock
 * once and then knows no piece touches the latch any more and may return (its stack frame
 * goes away). Internal tasks are never cancelled: a cancelling shutdown or a broken pool runs
 * them (sched.c); a map chunk then runs none of its items and fails the first with the reason.
 * Lock order: docs/design/locks.md. User code (body, combine, fn) runs under none of these
 * locks but acc_lock, which runs combine.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "core/internal.h"
#include "pool/pool_internal.h"

/* 32, not 8: on a shared VM a worker's vCPU may stop for milliseconds, and whoever holds one of
 * the last big pieces then delays the end; with 4x finer pieces a 1e9-element reduce ran
 * 11-21% faster in A/B runs (both orders), for about 64 tasks more per call. */
#define LEAVES_PER_WORKER 32

struct latch {
    weft__waitq wq;
    _Atomic int64_t pending;
};

static void latch_down(struct latch *l)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&l->wq.lock);
    /* relaxed would do under the lock; seq_cst keeps the unlocked read in ready() simple. */
    if (atomic_fetch_sub(&l->pending, 1) == 1) weft__waitq_wake_all(&l->wq, &wl);
    weft__lock_release(&l->wq.lock);
    weft__wakelist_flush(&wl);
}

static bool latch_ready(void *ctx)
{
    struct latch *l = ctx;
    return atomic_load(&l->pending) == 0;
}

/* Wait for the latch (shielded: the pieces touch the caller's data until they are done). */
static void latch_wait(weft_pool *p, struct latch *l)
{
    struct weft__wsrc src = {&l->wq, latch_ready, l};
    weft__wait_help(p, &src, 1, latch_ready, l, WEFT_FOREVER, false);
    weft__lock_acquire(&l->wq.lock); /* the last latch_down is over */
    weft__lock_release(&l->wq.lock);
}

/* Push an internal task on p running ifn over [lo, hi) with ctx; NULL if it could not be
 * queued (closed pool, no memory): the caller then runs that range itself. */
static weft_future *spawn(weft_pool *p, void (*ifn)(weft_future *), void *ctx, int64_t lo,
                          int64_t hi, struct latch *l)
{
    if (weft__pool_ensure_worker(p) != 0) return NULL;
    weft_future *t = weft__rec_alloc();
    if (t == NULL) return NULL;
    weft__future_init(t, p, 1);
    t->ifn = ifn;
    t->arg = ctx;
    t->lo = lo;
    t->hi = hi;
    t->result = weft__tls_worker; /* the spawner (see pfor_task) */
    atomic_fetch_add(&l->pending, 1);
    weft__pool_count_submit(p);
    if (atomic_load(&p->closed) || weft__pool_push(p, t) != 0) { /* seq_cst: pool.c */
        atomic_fetch_sub(&l->pending, 1);
        weft__pool_count_done(p);
        weft__rec_free(t);
        weft__pool_wake_all(p);
        return NULL;
    }
    return t; /* compare with NULL only: it may already be recycled */
}

/* ---- parallel for / reduce ---- */

struct pfor {
    struct latch latch;
    weft_pool *pool;
    int64_t grain;     /* the user's, or the automatic one */
    int64_t min_grain; /* automatic: how far a stolen piece may split (else = grain) */
    void (*body)(int64_t, int64_t, void *);
    void (*rbody)(int64_t, int64_t, void *, void *);
    void (*combine)(void *, const void *, void *);
    size_t acc_size;
    const void *identity;
    void *result;
    void *arg;
    weft__lock acc_lock;
};

static void leaf(struct pfor *c, int64_t lo, int64_t hi)
{
    if (c->body) {
        c->body(lo, hi, c->arg);
        return;
    }
    alignas(max_align_t) unsigned char small[256];
    void *acc = c->acc_size <= sizeof small ? small : weft__malloc(c->acc_size);
    if (acc == NULL) { /* no memory for a private accumulator: fold under the lock */
        weft__lock_acquire(&c->acc_lock);
        c->rbody(lo, hi, c->result, c->arg);
        weft__lock_release(&c->acc_lock);
        return;
    }
    memcpy(acc, c->identity, c->acc_size);
    c->rbody(lo, hi, acc, c->arg);
    weft__lock_acquire(&c->acc_lock);
    c->combine(c->result, acc, c->arg);
    weft__lock_release(&c->acc_lock);
    if (acc != small) free(acc);
}

static void pfor_task(weft_future *t);

/* Split [lo, hi) down to grain, pushing upper halves (tagged with the spawning worker, in the
 * record's unused result field), then run the leaf. */
static void pfor_range(struct pfor *c, int64_t lo, int64_t hi, int64_t grain)
{
    while (hi - lo > grain) {
        int64_t mid = lo + (hi - lo) / 2;
        weft_future *t = spawn(c->pool, pfor_task, c, mid, hi, &c->latch);
        if (t == NULL) break;
        hi = mid;
    }
    leaf(c, lo, hi);
    latch_down(&c->latch);
}

/* A piece that was stolen (runs on another worker than the one that split it off) says some
 * worker ran dry: with the automatic grain it may split finer, so the load keeps spreading
 * (TBB's auto partitioner does the same). */
static void pfor_task(weft_future *t)
{
    struct pfor *c = t->arg;
    int64_t grain = c->grain;
    if (t->result && t->result != (void *)weft__tls_worker && grain / 4 >= c->min_grain) grain /= 4;
    pfor_range(c, t->lo, t->hi, grain);
}

static int pfor_run(weft_pool *p, int64_t begin, int64_t end, int64_t grain, struct pfor *c)
{
    if (p == NULL && (p = weft_pool_default()) == NULL)
        return weft__fail(WEFT_ENOMEM, "the default pool could not be made");
    if (atomic_load(&p->closed)) return atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
    if (end == begin) return 0;
    int64_t n = end - begin;
    c->min_grain = grain;
    if (grain == 0) {
        int64_t pieces = (int64_t)p->max_workers * LEAVES_PER_WORKER;
        grain = (n + pieces - 1) / pieces;
        c->min_grain = (n + pieces * 16 - 1) / (pieces * 16);
    }
    c->pool = p;
    c->grain = grain;
    /* A worker of p splits and runs pieces itself; any other caller hands the whole range to
     * the workers and sleeps (running pieces too would put one thread more than there are
     * workers on the CPUs, and a piece held by a preempted thread delays the end). */
    struct weft__worker *w = weft__tls_worker;
    atomic_init(&c->latch.pending, 0);
    if (!(w && w->pool == p) && spawn(p, pfor_task, c, begin, end, &c->latch) != NULL) {
        latch_wait(p, &c->latch);
        return 0;
    }
    atomic_store(&c->latch.pending, 1);
    pfor_range(c, begin, end, grain);
    latch_wait(p, &c->latch);
    return 0;
}

int weft_parallel_for(weft_pool *p, int64_t begin, int64_t end, int64_t grain,
                      void (*body)(int64_t lo, int64_t hi, void *arg), void *arg)
{
    if (body == NULL || end < begin || grain < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          body == NULL  ? "body is NULL"
                          : end < begin ? "end is below begin"
                                        : "grain is negative");
    struct pfor c = {.body = body, .arg = arg};
    return pfor_run(p, begin, end, grain, &c);
}

int weft_parallel_reduce(weft_pool *p, int64_t begin, int64_t end, int64_t grain,
                         void (*body)(int64_t lo, int64_t hi, void *acc, void *arg),
                         void (*combine)(void *acc, const void *other, void *arg), size_t acc_size,
                         const void *identity, void *result, void *arg)
{
    if (body == NULL || combine == NULL || identity == NULL || result == NULL || acc_size == 0 ||
        end < begin || grain < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          body == NULL       ? "body is NULL"
                          : combine == NULL  ? "combine is NULL"
                          : identity == NULL ? "identity is NULL"
                          : result == NULL   ? "result is NULL"
                          : acc_size == 0    ? "acc_size is 0"
                          : end < begin      ? "end is below begin"
                                             : "grain is negative");
    memmove(result, identity, acc_size);
    struct pfor c = {.rbody = body,
                     .combine = combine,
                     .acc_size = acc_size,
                     .identity = identity,
                     .result = result,
                     .arg = arg};
    return pfor_run(p, begin, end, grain, &c);
}

/* ---- map ----
 * The map context is on the heap with a reference per queued chunk, so that map can return on
 * a timeout while chunks that never started are still queued: they find `stop` set and only
 * drop their reference. Chunks that did start are counted in `running` (under the latch's
 * lock) and map waits for them before returning, so no task touches args/results after it. */

struct map {
    struct latch latch; /* pending: chunks not finished; its lock guards stop and running */
    _Atomic int refs;
    _Atomic int stop;
    _Atomic int running;
    weft_pool *pool;
    weft_task_fn fn;
    void **args, **results;
    weft__lock fail_lock;
    size_t fail_index; /* SIZE_MAX: none */
    int fail_status;
    char message[WEFT_ERROR_MESSAGE_MAX];
};

static void map_unref(struct map *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1) free(m); /* seq_cst: the last sees all */
}

static void map_fail(struct map *m, size_t i, int st)
{
    weft__lock_acquire(&m->fail_lock);
    if (i < m->fail_index) {
        m->fail_index = i;
        m->fail_status = st;
        const char *msg = weft_error_message();
        if (weft_error_code() == st && msg[0])
            snprintf(m->message, sizeof m->message, "%s", msg);
        else
            snprintf(m->message, sizeof m->message, "%s", weft_strerror(st));
    }
    weft__lock_release(&m->fail_lock);
    weft_error_clear();
}

/* A chunk its pool dropped unrun (a cancelling shutdown, or the pool broke): its first item
 * fails with the reason, so that map never reports items that did not run as done. The
 * caller's error slot is not touched (this may run on a thread in weft_pool_shutdown). */
static void map_dropped(struct map *m, size_t i)
{
    const char *why = weft__pool_broken_reason(m->pool);
    int st = why ? WEFT_EBROKEN : WEFT_ECANCELED;
    weft__lock_acquire(&m->fail_lock);
    if (i < m->fail_index) {
        m->fail_index = i;
        m->fail_status = st;
        snprintf(m->message, sizeof m->message, "%s",
                 why ? why : "pool shut down: the item never ran");
    }
    weft__lock_release(&m->fail_lock);
}

/* Count a chunk in or out of `running`, and down the latch when it ends. *dropped: the pool
 * drops it (not map's own stop). */
static bool chunk_begin(struct map *m, bool *dropped)
{
    weft__lock_acquire(&m->latch.wq.lock);
    bool stopped = atomic_load(&m->stop);
    *dropped = !stopped && atomic_load(&m->pool->cancelling);
    bool go = !stopped && !*dropped;
    if (go) atomic_fetch_add(&m->running, 1);
    weft__lock_release(&m->latch.wq.lock);
    return go;
}

static void chunk_end(struct map *m, bool counted)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&m->latch.wq.lock);
    int r = counted ? atomic_fetch_sub(&m->running, 1) - 1 : atomic_load(&m->running);
    if (atomic_fetch_sub(&m->latch.pending, 1) == 1 || (r == 0 && atomic_load(&m->stop)))
        weft__waitq_wake_all(&m->latch.wq, &wl);
    weft__lock_release(&m->latch.wq.lock);
    weft__wakelist_flush(&wl);
}

static void map_chunk(struct map *m, int64_t lo, int64_t hi)
{
    bool dropped, go = chunk_begin(m, &dropped);
    if (dropped) map_dropped(m, (size_t)lo);
    for (int64_t i = lo; go && i < hi; i++) {
        if (atomic_load_explicit(&m->stop, memory_order_relaxed)) break; /* a hint only */
        void *r = NULL;
        int st = m->fn(m->args ? m->args[i] : NULL, &r);
        if (m->results) m->results[i] = r;
        if (st != 0) {
            map_fail(m, (size_t)i, st);
            break;
        }
    }
    chunk_end(m, go);
    map_unref(m);
}

static void map_task(weft_future *t)
{
    map_chunk(t->arg, t->lo, t->hi);
}

static bool map_quiet(void *ctx)
{
    struct map *m = ctx;
    return atomic_load(&m->running) == 0;
}

/* After a timeout or cancellation: stop the chunks and wait for those running. */
static void map_stop(struct map *m)
{
    weft__lock_acquire(&m->latch.wq.lock);
    atomic_store(&m->stop, 1);
    weft__lock_release(&m->latch.wq.lock);
    struct weft__wsrc src = {&m->latch.wq, map_quiet, m};
    weft__wait_help(m->pool, &src, 1, map_quiet, m, WEFT_FOREVER, false);
    weft__lock_acquire(&m->latch.wq.lock); /* the last chunk_end is over */
    weft__lock_release(&m->latch.wq.lock);
}

int weft_pool_map(weft_pool *p, weft_task_fn fn, void **args, void **results, size_t n,
                  size_t chunk, weft_ns timeout)
{
    if (p == NULL || fn == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          p == NULL    ? "p is NULL"
                          : fn == NULL ? "fn is NULL"
                                       : "timeout is negative");
    if (atomic_load(&p->closed)) return atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
    if (results)
        for (size_t i = 0; i < n; i++) results[i] = NULL;
    if (n == 0) return 0;
    if (chunk == 0) chunk = (n + (size_t)p->max_workers * 4 - 1) / ((size_t)p->max_workers * 4);
    struct map *m = weft__calloc(1, sizeof *m);
    if (m == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a map");
    *m =
        (struct map){.pool = p, .fn = fn, .args = args, .results = results, .fail_index = SIZE_MAX};
    atomic_init(&m->latch.pending, 1);
    atomic_init(&m->refs, 1);
    for (size_t lo = 0; lo < n; lo += chunk) {
        size_t hi = lo + chunk < n ? lo + chunk : n;
        atomic_fetch_add(&m->refs, 1);
        if (spawn(p, map_task, m, (int64_t)lo, (int64_t)hi, &m->latch) == NULL) {
            atomic_fetch_add(&m->latch.pending, 1);
            map_chunk(m, (int64_t)lo, (int64_t)hi); /* run it here */
        }
    }
    latch_down(&m->latch); /* the submitter's own count */
    struct weft__wsrc src = {&m->latch.wq, latch_ready, &m->latch};
    int rc = weft__wait_help(p, &src, 1, latch_ready, &m->latch, weft_deadline(timeout), true);
    if (rc != 0) {
        map_stop(m);
        map_unref(m);
        return rc == WEFT_EAGAIN ? WEFT_ETIMEDOUT : rc;
    }
    weft__lock_acquire(&m->latch.wq.lock);
    weft__lock_release(&m->latch.wq.lock);
    rc = m->fail_index == SIZE_MAX ? 0 : m->fail_status;
    if (rc) weft__error_put(m->fail_status, m->message);
    map_unref(m);
    return rc;
}
