/* src/pool/pfor.c - parallel for / reduce and map, on internal tasks.
 *
 * Parallel for shares [begin, end) out among the caller and one internal task per worker, each
 * owning a range it takes chunks from and stealing halves of the others' ranges when its own
 * runs dry (the section below). Map cuts its items into chunks, one task per chunk.
 *
 * Completion: a latch on the caller's stack counts the participants (parallel for) or chunks
 * (map) not finished; `pending` is decremented under its waitq lock, so the waiter, once it has
 * seen 0, takes that lock once and then knows nothing touches the latch any more and may
 * return (its stack frame goes away). Internal tasks are never cancelled: a cancelling
 * shutdown or a broken pool runs them (sched.c); a map chunk then runs none of its items and
 * fails the first with the reason.
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
#include "os/os.h"
#include "pool/pool_internal.h"

/* The automatic grain: about this many chunks per worker, so that a range stolen late still
 * splits (on a shared VM a worker's vCPU may stop for milliseconds). */
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

/* ---- parallel for / reduce ----
 *
 * Ranges are shared out by stealing halves of ranges, not by splitting them into tasks (the
 * lazy splitting of Cilk's THE protocol applied to a range): each participant owns a slot with
 * a range [lo, hi) and takes grain-sized chunks off its low end with a store to its own lo and
 * a load of hi (no lock, no line shared unless someone steals); a participant whose slot is
 * empty takes the upper half of the fullest other slot under that slot's lock (a store to hi,
 * then a load of lo), and then owns it. The owner's store-then-load and the thief's
 * store-then-load are seq_cst, so at least one sees the other's: an owner whose chunk crosses
 * the new hi, or a thief who finds the owner past its mid, settles under the lock (the thief
 * puts hi back). A chunk of one index costs its owner about one local atomic exchange; the
 * recursive split this replaced paid a task record, a push and a shared counter per piece.
 *
 * Participants: the caller (slot 0, first holding the whole range) and up to one internal task
 * per other thread the pool may run (slots 1..), pushed at the start, each running chunks until
 * no slot has more than a chunk left and then counting the latch down. The caller waits for all
 * of them, even those that start after the range is done (they only look): they use its stack.
 */

#define SMALL_SLOTS 8

struct pfor_slot {                   /* one participant's range */
    _Alignas(64) _Atomic int64_t lo; /* the next index its owner runs: written by the owner */
    _Atomic int64_t hi;              /* its end: lowered by thieves, under lock */
    weft__lock lock;                 /* thieves, and the owner when they meet */
};

struct pfor {
    struct latch latch;
    weft_pool *pool;
    int64_t grain; /* the user's, or the automatic one: the chunk an owner takes */
    struct pfor_slot *slots;
    int nslots;
    void (*body)(int64_t, int64_t, void *);
    void (*rbody)(int64_t, int64_t, void *, void *);
    void (*combine)(void *, const void *, void *);
    size_t acc_size;
    const void *identity;
    void *result;
    void *arg;
    weft__lock acc_lock;
};

static void run_chunk(struct pfor *c, int64_t lo, int64_t hi, void *acc)
{
    if (c->body) {
        c->body(lo, hi, c->arg);
    } else if (acc) {
        c->rbody(lo, hi, acc, c->arg);
    } else { /* no memory for a private accumulator: fold under the lock */
        weft__lock_acquire(&c->acc_lock);
        c->rbody(lo, hi, c->result, c->arg);
        weft__lock_release(&c->acc_lock);
    }
}

/* The owner's next chunk of its slot, [*lo, *hi); false when the slot is empty. */
static bool slot_take(struct pfor_slot *s, int64_t grain, int64_t *lo_out, int64_t *hi_out)
{
    int64_t lo = atomic_load_explicit(&s->lo, memory_order_relaxed); /* written by us only */
    int64_t next = lo > INT64_MAX - grain ? INT64_MAX : lo + grain;
    atomic_store(&s->lo, next); /* seq_cst: before the load of hi (section comment) */
    int64_t hi = atomic_load(&s->hi);
    if (next > hi) { /* the end, or a thief took what we crossed into: settle under the lock */
        weft__lock_acquire(&s->lock);
        hi = atomic_load_explicit(&s->hi, memory_order_relaxed);
        next = hi > lo ? hi : lo; /* a thief leaves hi >= our committed lo */
        if (next - lo > grain) next = lo + grain;
        atomic_store_explicit(&s->lo, next, memory_order_relaxed);
        weft__lock_release(&s->lock);
    }
    *lo_out = lo;
    *hi_out = next;
    return next > lo;
}

/* Move the upper half of the fullest other slot into mine (empty). 1: done; 0: no slot has
 * more than a chunk left; -1: lost a race, look again. */
static int slot_steal(struct pfor *c, int me)
{
    int best = -1;
    int64_t most = c->grain; /* only a slot with more than a chunk left is worth splitting */
    for (int i = 0; i < c->nslots; i++) {
        if (i == me) continue;
        struct pfor_slot *v = &c->slots[i];
        /* relaxed: a guess, checked under the victim's lock */
        int64_t lo = atomic_load_explicit(&v->lo, memory_order_relaxed);
        int64_t hi = atomic_load_explicit(&v->hi, memory_order_relaxed);
        if (hi > lo && (uint64_t)hi - (uint64_t)lo > (uint64_t)most) {
            most = hi - lo;
            best = i;
        }
    }
    if (best < 0) return 0;
    struct pfor_slot *v = &c->slots[best], *mine = &c->slots[me];
    weft__lock_acquire(&v->lock);
    int64_t lo = atomic_load(&v->lo), hi = atomic_load_explicit(&v->hi, memory_order_relaxed);
    if (hi <= lo || (uint64_t)hi - (uint64_t)lo <= (uint64_t)c->grain) {
        weft__lock_release(&v->lock);
        return -1;
    }
    int64_t mid = lo + (int64_t)(((uint64_t)hi - (uint64_t)lo) / 2);
    atomic_store(&v->hi, mid);       /* seq_cst: before the load of lo (section comment) */
    if (atomic_load(&v->lo) > mid) { /* the owner is past mid: give it back */
        atomic_store(&v->hi, hi);
        weft__lock_release(&v->lock);
        return -1;
    }
    weft__lock_release(&v->lock);
    weft__lock_acquire(&mine->lock); /* other thieves read my slot under this lock */
    atomic_store(&mine->lo, mid);
    atomic_store(&mine->hi, hi);
    weft__lock_release(&mine->lock);
    return 1;
}

/* Run chunks of slot me, stealing when it is empty, until nothing is left to steal. A reduce
 * folds all of them into one private accumulator, combined into the result at the end. */
static void participate(struct pfor *c, int me)
{
    alignas(max_align_t) unsigned char small[256];
    void *acc = NULL;
    bool ran = false;
    if (c->rbody) {
        acc = c->acc_size <= sizeof small ? small : weft__malloc(c->acc_size);
        if (acc) memcpy(acc, c->identity, c->acc_size);
    }
    for (;;) {
        int64_t lo, hi;
        while (slot_take(&c->slots[me], c->grain, &lo, &hi)) {
            run_chunk(c, lo, hi, acc);
            ran = true;
        }
        int r;
        while ((r = slot_steal(c, me)) < 0) weft__os_relax();
        if (r == 0) break;
    }
    if (acc && ran) {
        weft__lock_acquire(&c->acc_lock);
        c->combine(c->result, acc, c->arg);
        weft__lock_release(&c->acc_lock);
    }
    if (acc != small) free(acc);
}

static void pfor_task(weft_future *t)
{
    struct pfor *c = t->arg;
    participate(c, (int)t->lo);
    latch_down(&c->latch);
}

static int pfor_run(weft_pool *p, int64_t begin, int64_t end, int64_t grain, struct pfor *c)
{
    if (p == NULL && (p = weft_pool_default()) == NULL)
        return weft__fail(WEFT_ENOMEM, "the default pool could not be made");
    if (atomic_load(&p->closed)) return atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
    if (end == begin) return 0;
    uint64_t n = (uint64_t)end - (uint64_t)begin;
    if (grain == 0) {
        uint64_t pieces = (uint64_t)p->max_workers * LEAVES_PER_WORKER;
        grain = (int64_t)(n / pieces + (n % pieces != 0));
    }
    /* The caller, and one task per worker (a worker caller is one of them). */
    struct weft__worker *w = weft__tls_worker;
    uint64_t k = (uint64_t)p->max_workers + !(w && w->pool == p);
    uint64_t chunks = n / (uint64_t)grain + 1;
    if (k > chunks) k = chunks;
    struct pfor_slot small[SMALL_SLOTS];
    /* Under valgrind the slots go to the heap, which weft__calloc_lines marks untracked: their
     * owner takes chunks with atomics helgrind/DRD cannot see (core/annotate.h). */
    c->slots =
        k <= SMALL_SLOTS && !WEFT__VG_ON() ? small : weft__calloc_lines(k * sizeof *c->slots);
    if (c->slots == NULL) { /* no memory for the slots: the caller alone */
        c->slots = small;
        k = 1;
    }
    memset(c->slots, 0, k * sizeof *c->slots);
    atomic_store_explicit(&c->slots[0].lo, begin, memory_order_relaxed); /* published by */
    atomic_store_explicit(&c->slots[0].hi, end, memory_order_relaxed);   /* the pushes */
    c->nslots = (int)k;
    c->pool = p;
    c->grain = grain;
    atomic_init(&c->latch.pending, 1); /* the caller's own */
    for (int i = 1; i < (int)k; i++)
        if (spawn(p, pfor_task, c, i, 0, &c->latch) == NULL) break; /* its slot stays empty */
    participate(c, 0);
    latch_down(&c->latch);
    latch_wait(p, &c->latch);
    if (c->slots != small) free(c->slots);
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
    weft__hb_release(&m->refs);                     /* as weft__pool_unref's */
    if (atomic_fetch_sub(&m->refs, 1) != 1) return; /* seq_cst: the last sees all */
    weft__hb_acquire(&m->refs);
    free(m);
}

static void map_fail(struct map *m, size_t i, int st)
{
    weft__lock_acquire(&m->fail_lock);
    if (i < m->fail_index) {
        m->fail_index = i;
        m->fail_status = st;
        weft__failure_message(st, "task", m->message, sizeof m->message); /* as a future's */
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
