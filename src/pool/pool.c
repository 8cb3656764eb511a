/* src/pool/pool.c - the pool's life: making it, starting workers lazily, submitting, shutdown,
 * wait_idle, pause/resume, statistics and the default pool.
 *
 * Shutdown without lost tasks. A submit counts the task (seq_cst, sched.c) and then loads
 * `closed` (seq_cst); shutdown stores `closed` and the workers exit only once the pool is calm
 * (everything counted submitted is counted done). So a submit that saw the pool open is
 * counted before any worker can decide to exit, and its task runs (or is cancelled by a
 * cancelling shutdown); one that saw it closed counts itself done and wakes the workers.
 *
 * Memory: the user's handle and every live worker hold a reference (refs); the last one frees
 * the pool, so a worker stuck in a task after a timed-out shutdown never touches freed memory.
 *
 * Lock order: docs/design/locks.md (start_lock, then a thread start's locks).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/error.h>

#include "core/internal.h"
#include "core/opts.h"
#include "os/os.h"
#include "pool/pool_internal.h"

#define DEQUE_CAP 1024

void weft__pool_unref(weft_pool *p)
{
    /* The edge the drop makes, for TSan and valgrind in a user's program (core/annotate.h):
     * without it, memory one thread allocated and the last holder frees looks raced. */
    weft__hb_release(&p->refs);
    if (atomic_fetch_sub(&p->refs, 1) != 1) return; /* seq_cst: the last sees all */
    weft__hb_acquire(&p->refs);
    weft__pool_unregister(p);
    /* Every slot, not just nstarted: a worker whose thread failed to start keeps its deque. */
    for (int i = 0; i < p->max_workers; i++) weft__deque_destroy(&p->workers[i].dq);
    char *why = atomic_load_explicit(&p->broken_msg, memory_order_relaxed); /* after the RMW */
    if (why != weft__pool_broken_fallback) free(why);
    weft_scope_free(p->scope);
    free(p->workers);
    free(p);
}

int weft_pool_new(weft_pool **out, const weft_pool_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_pool_opts") != 0) return WEFT_EINVAL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    if (opts) o = *opts;
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    if (o.max_workers < 0 || o.max_workers > 1024)
        return weft__fail(WEFT_EINVAL, "max_workers is %d; it must be 0 .. 1024", o.max_workers);
    if (o.name_prefix && strlen(o.name_prefix) > 40)
        return weft__fail(WEFT_EINVAL, "name_prefix is %zu bytes; the limit is 40",
                          strlen(o.name_prefix));
    weft_pool *p = weft__calloc_lines(sizeof *p);
    if (p == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a pool");
    p->max_workers = o.max_workers ? o.max_workers : weft__os_cpu_count();
    p->workers = weft__calloc_lines((size_t)p->max_workers * sizeof *p->workers);
    if (p->workers == NULL || weft_scope_new(&p->scope, o.scope, NULL) != 0) {
        free(p->workers);
        free(p);
        return weft__fail(WEFT_ENOMEM, "no memory for the pool's workers");
    }
    snprintf(p->prefix, sizeof p->prefix, "%s", o.name_prefix ? o.name_prefix : "pool");
    p->init = o.init;
    p->init_arg = o.init_arg;
    p->max_queued = o.max_queued;
    p->task_scopes = o.task_scopes != 0;
    p->daemon = o.daemon != 0;
    p->outsiders_help = o.waiters_help != 0;
    p->inline_depth = o.inline_depth;
    static _Atomic uint64_t serials;
    p->serial = atomic_fetch_add_explicit(&serials, 1, memory_order_relaxed) + 1;
    atomic_init(&p->refs, 1);
    weft__pool_register(p);
    *out = p;
    return 0;
}

/* Start worker number nstarted; 0 or the error of weft_thread_start. start_lock held. */
static int start_worker(weft_pool *p)
{
    int i = atomic_load_explicit(&p->nstarted, memory_order_relaxed); /* under start_lock */
    struct weft__worker *w = &p->workers[i];
    if (atomic_load_explicit(&w->dq.buf, memory_order_relaxed) == NULL &&
        weft__deque_init(&w->dq, DEQUE_CAP) != 0)
        return weft__fail(WEFT_ENOMEM, "no memory for a worker's deque");
    w->pool = p;
    w->index = i;
    char name[WEFT_THREAD_NAME_MAX];
    snprintf(name, sizeof name, "%s-%d", p->prefix, i + 1);
    weft_thread_opts to = WEFT_THREAD_OPTS_INIT;
    to.name = name;
    to.daemon = 1;
    to.scope = p->scope;
    atomic_fetch_add(&p->refs, 1);
    atomic_fetch_add(&p->live, 1);
    /* release: the thieves' acquire load of nstarted sees the deque initialised. */
    atomic_store_explicit(&p->nstarted, i + 1, memory_order_release);
    int rc = weft_thread_start(&w->thread, weft__worker_main, w, &to);
    if (rc != 0) {
        /* Nobody can have pushed on its deque (it never ran): take the slot back. */
        atomic_store_explicit(&p->nstarted, i, memory_order_release);
        atomic_fetch_sub(&p->live, 1);
        atomic_fetch_sub(&p->refs, 1);
        return rc;
    }
    weft_thread_detach(w->thread);
    return 0;
}

/* The first worker, before the first task is queued (so that a pool that cannot start any
 * worker refuses the task instead of queueing it forever). */
int weft__pool_ensure_worker(weft_pool *p)
{
    if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) > 0) return 0; /* rechecked */
    weft__lock_acquire(&p->start_lock);
    int rc = atomic_load_explicit(&p->nstarted, memory_order_relaxed) == 0 ? start_worker(p) : 0;
    weft__lock_release(&p->start_lock);
    return rc;
}

/* Lazy start (Python starts a thread per submit that finds no idle one): one more worker, if
 * the maximum allows; failures are ignored (the running workers will do). */
void weft__pool_grow(weft_pool *p)
{
    weft__lock_acquire(&p->start_lock);
    if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) < p->max_workers)
        (void)start_worker(p);
    weft__lock_release(&p->start_lock);
}

static bool room_arm(void *ctx)
{
    weft_pool *p = ctx;
    return atomic_load(&p->queued) < (int64_t)p->max_queued || atomic_load(&p->closed);
}

static bool room_ready(void *ctx)
{
    return room_arm(ctx);
}

/* Reserve a place among max_queued (back-pressure). */
static int reserve(weft_pool *p, weft_ns timeout)
{
    weft_ns deadline = weft_deadline(timeout);
    for (;;) {
        int64_t q = atomic_load(&p->queued);
        if (q < (int64_t)p->max_queued) {
            if (atomic_compare_exchange_weak(&p->queued, &q, q + 1)) return 0; /* seq_cst */
            continue;
        }
        if (atomic_load(&p->closed)) return atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
        if (timeout == 0) return WEFT_EAGAIN;
        atomic_fetch_add(&p->room_waiters, 1); /* seq_cst: pairs with the run's decrement */
        struct weft__wsrc src = {&p->room_q, room_arm, p};
        int rc = weft__wait_help(p, &src, 1, room_ready, p, deadline, true);
        atomic_fetch_sub(&p->room_waiters, 1);
        if (rc != 0) return rc;
    }
}

static void unreserve(weft_pool *p)
{
    if (p->max_queued) atomic_fetch_sub(&p->queued, 1);
}

/* ---- pacing a submitter that runs far ahead ----
 * A thread that is not a worker can submit faster than the workers run tasks; unchecked, its
 * backlog grows to the whole burst (a million records, 190 MB, for a million empty tasks on a
 * loaded machine) and, since records are type-stable and never go back to malloc, that memory
 * stays; and every task of a deep backlog touches lines long evicted, so the cost per task grew
 * with each burst (50 to 400 ns per task over 20 rounds in one process). So every PACE_EVERY
 * submits such a thread looks at the backlog (submitted minus done, summed as calm does) and,
 * above PACE_HIGH, gives its CPU to the workers until it is below PACE_LOW. It waits only while
 * the workers make progress: if the done count stands still for PACE_STALL, the workers are
 * stuck (perhaps on something this thread will do next) and it goes on, looking again only
 * after PACE_HIGH more submits. A paused pool is never waited for.
 *
 * In a pool with opts.waiters_help a thread that is a worker of no pool runs the injection
 * stack itself instead (sched.c, weft__pool_pace_help), and does so from HELP_HIGH on, without
 * waiting when there is nothing on the stack: a batch of about a thousand records is still in
 * its cache, where one of eight thousand is not. */
#define PACE_EVERY 256
#define PACE_HIGH  8192
#define PACE_LOW   2048
#define PACE_STALL WEFT_MS(2)
#define HELP_HIGH  1024

static _Thread_local unsigned pace_count WEFT__TLS_IE;
static _Thread_local unsigned pace_quiet WEFT__TLS_IE; /* checks to skip after a stall */

static uint64_t pool_done(weft_pool *p, int n)
{
    uint64_t done = atomic_load_explicit(&p->ext_done, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        done += atomic_load_explicit(&p->workers[i].done, memory_order_relaxed);
    return done;
}

/* Tasks submitted and not done (a hint: relaxed loads, read while both sides move). */
static uint64_t backlog(weft_pool *p, uint64_t *done)
{
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire);
    uint64_t sub = atomic_load_explicit(&p->ext_submitted, memory_order_relaxed);
    for (int i = 0; i < n; i++)
        sub += atomic_load_explicit(&p->workers[i].spawned, memory_order_relaxed);
    *done = pool_done(p, n);
    return sub > *done ? sub - *done : 0;
}

static void pace(weft_pool *p)
{
    uint64_t done, last;
    if (pace_quiet > 0) {
        pace_quiet--;
        return;
    }
    uint64_t queued = backlog(p, &done);
    bool helping = p->outsiders_help && weft__tls_worker == NULL;
    if (queued <= (helping ? HELP_HIGH : PACE_HIGH)) return;
    if (queued <= PACE_HIGH) { /* helping early: only what is on the stack, no waiting */
        if (!atomic_load_explicit(&p->paused, memory_order_relaxed)) weft__pool_pace_help(p);
        return;
    }
    weft_ns since = weft_now();
    last = done;
    for (int round = 0;;) {
        if (atomic_load_explicit(&p->paused, memory_order_relaxed) ||
            atomic_load_explicit(&p->closed, memory_order_relaxed))
            return;
        /* opts.waiters_help: run what is queued here instead (sched.c), else give way. */
        bool helped = helping && weft__pool_pace_help(p);
        if (!helped && round++ < 16) {
            weft__os_yield();
        } else if (!helped) {
            struct timespec ts = {0, 20000}; /* 20 us: the workers run a few hundred tasks */
            nanosleep(&ts, NULL);
        }
        if (backlog(p, &done) < PACE_LOW) return;
        weft_ns now = weft_now();
        if (done != last) {
            last = done;
            since = now;
        } else if (now - since > PACE_STALL) {
            pace_quiet = PACE_HIGH / PACE_EVERY; /* stuck: look again PACE_HIGH submits on */
            return;
        }
    }
}

/* ---- running a task at submit (opts.inline_depth) ----
 * libgomp's cut-off: past 64 queued tasks per thread, a new task runs at once on the thread
 * that creates it, a plain call instead of a queueing and a hand-off. The point is lost if the
 * inline path costs what the queueing does, so it has no locked instruction and reads no line
 * that the workers write per task:
 * - Whether p is deep. A worker of p looks at its own deque (its bottom is its own; its top moves
 *   only when a thief steals). Any other thread would need the workers' `done` counts, lines that
 *   each task writes: so it sums them once per INLINE_EVERY submits to p (INLINE_EVERY_DEEP while
 *   it runs them) and keeps the answer for the next ones, in a thread-local that names p by its
 *   serial (a pool made later at the same address is another pool). While it runs tasks here the
 *   backlog does not grow and the workers drain it, so a later look finds it shallow again: the
 *   submitter alternates between queueing (the workers stay fed) and running (the record never
 *   leaves its cache). With hysteresis: it goes on running them until the backlog is down to 1/16
 *   of the cut-off, as a queued task costs the submitter several times an inline one.
 * - Counting. A task with a record (a future, a scope, task_scopes, or a worker of p
 *   submitting) is counted as any submit, before its run: its run's count of done then needs
 *   nothing special, and a shutdown's recheck of closed applies. A fire-and-forget task of
 *   another thread runs as a plain call (call_inline) and would pay two locked additions
 *   (ext_submitted, ext_done), more than the run of an empty task: instead it is counted on
 *   neither side while it runs, and this thread adds what it ran to both (submitted first,
 *   then a calm check) at its next look, or when it first submits to another pool. Calm
 *   compares the two sides, so such a task is never waited for: its run is part of the submit
 *   call, and wait_idle or a shutdown on another thread does not wait for that submit (pool.h
 *   says so). Its closed check is the early one, a plain load, for the same reason.
 * INLINE_NEST bounds how deep inline runs nest on one thread (a task that submits runs its
 * child inside itself): a chain of tasks that each submit the next must not grow the stack
 * without end. */
#define INLINE_EVERY      32
#define INLINE_EVERY_DEEP 128 /* while it runs them: the look is most of an inline task */
#define INLINE_NEST       8

static _Thread_local struct {
    uint64_t serial; /* the pool the rest is about */
    unsigned left;   /* submits to it before the next look */
    bool deep;
    int nest;     /* inline runs under way on this thread (any pool) */
    uint64_t ran; /* plain calls run since the last look, not yet counted in the pool */
} inl WEFT__TLS_IE;

void weft__pool_count_ran(weft_pool *p, uint64_t ran, uint64_t done)
{
    atomic_fetch_add(&p->ext_submitted, ran); /* seq_cst: submitted before done */
    atomic_fetch_add(&p->ext_done, done);     /* seq_cst: before check_calm's loads */
    /* A wait_idle that looked between the two adds found p busy and sleeps: wake it. */
    weft__pool_check_calm(p);
}

/* Count what this thread ran inline for p (the pool inl.serial names) in p's counters. */
static void inline_count(weft_pool *p)
{
    if (inl.ran == 0) return;
    weft__pool_count_ran(p, inl.ran, inl.ran);
    inl.ran = 0;
}

void weft__pool_inline_flush(weft_pool *p)
{
    if (inl.serial == p->serial && inl.nest == 0) inline_count(p);
}

static bool deep_outside(weft_pool *p)
{
    if (inl.serial != p->serial) {
        /* Inside an inline run of another pool, whose counts are pending here: no inline run
         * for this one (it would take the thread-local over). */
        if (inl.nest > 0) return false;
        /* What it ran for the pool before: counted there if that pool is still alive (its
         * address may be another's now, so it is looked up by serial). */
        if (inl.ran != 0) weft__pool_count_late(inl.serial, inl.ran, inl.ran);
        inl.serial = p->serial;
        inl.left = 0;
        inl.deep = false;
        inl.ran = 0;
    }
    if (inl.left == 0) {
        uint64_t done;
        if (inl.nest == 0) inline_count(p); /* not inside a run: its own count is not in yet */
        uint64_t cut = p->inline_depth * (uint64_t)p->max_workers;
        inl.deep = backlog(p, &done) > (inl.deep ? cut / 16 : cut);
        inl.left = inl.deep ? INLINE_EVERY_DEEP : INLINE_EVERY;
    }
    inl.left--;
    return inl.deep;
}

/* Whether this submit runs its task here: p is deep, and not paused (a paused pool starts
 * nothing). Closed and broken pools were refused before. */
WEFT__HOT bool run_here(weft_pool *p)
{
    if (p->inline_depth == 0 || inl.nest >= INLINE_NEST) return false;
    struct weft__worker *w = weft__tls_worker;
    bool deep =
        w && w->pool == p ? (uint64_t)weft__deque_size(&w->dq) > p->inline_depth : deep_outside(p);
    return deep && !atomic_load_explicit(&p->paused, memory_order_relaxed);
}

/* A fire-and-forget task of a thread that is no worker of p, without task_scopes: nobody could
 * see its record (no future, no scope to cancel, and a guest's run is seen by no shutdown's
 * naming), so it runs without one, as a plain call, and a failure is reported as the record's
 * recycling would report it (sched.c). The record's allocation, set-up, run bookkeeping and
 * recycling were most of an inline empty task. Counted later (the comment above). */
WEFT__HOT int call_inline(weft_pool *p, weft_task_fn fn, void *arg, const char *name)
{
    (void)p;
    void *res = NULL;
    inl.nest++;
    int st = fn(arg, &res);
    inl.nest--;
    if (st != 0) weft__pool_report_inline(st, name);
    weft_error_clear(); /* what the task left in the slot is not the submitter's */
    inl.ran++;
    return 0;
}

/* Run f, just made and counted submitted, here (sched.c). */
static void run_inline(weft_pool *p, weft_future *f)
{
    inl.nest++;
    weft__pool_run_inline(p, f);
    inl.nest--;
}

/* The one submit, inlined into each entry point below: on the path of every task, where the
 * calls between layers cost more than some of the layers (scope and name are constants in
 * weft_pool_submit, and fold away). */
WEFT__HOT int submit(weft_pool *p, weft_scope *scope, const char *name, weft_task_fn fn, void *arg,
                     weft_future **out, weft_ns timeout)
{
    if (p == NULL || fn == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          p == NULL    ? "p is NULL"
                          : fn == NULL ? "fn is NULL"
                                       : "timeout is negative");
    if (atomic_load_explicit(&p->closed, memory_order_relaxed)) /* early out; rechecked */
        return atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
    bool here = run_here(p);
    if (here && out == NULL && scope == NULL && !p->task_scopes) {
        struct weft__worker *cw = weft__tls_worker;
        if (!(cw && cw->pool == p)) return call_inline(p, fn, arg, name);
    }
    int rc = p->max_queued && !here ? reserve(p, timeout) : 0;
    if (rc != 0) return rc;
    weft_future *f = NULL;
    /* relaxed: a hint for the first worker's start, rechecked under start_lock. */
    if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) == 0)
        rc = weft__pool_ensure_worker(p);
    if (rc == 0 && (f = weft__rec_alloc()) == NULL)
        rc = weft__fail(WEFT_ENOMEM, "no memory for a task record");
    if (rc != 0) {
        if (!here) unreserve(p);
        return rc;
    }
    if (!here && !p->max_queued && ++pace_count % PACE_EVERY == 0) {
        struct weft__worker *sw = weft__tls_worker;
        if (!(sw && sw->pool == p)) pace(p);
    }
    weft__future_init(f, p, out ? 2 : 1);
    f->fn = fn;
    f->arg = arg;
    f->solo = out == NULL;
    f->bounded = p->max_queued != 0 && !here;
    f->claimable = out != NULL && p->outsiders_help && !p->task_scopes; /* sched.c run_claimed */
    weft__pool_count_submit(p);
    if (atomic_load(&p->closed)) rc = atomic_load(&p->broken) ? WEFT_EBROKEN : WEFT_ECLOSED;
    /* seq_cst load of closed: see the file comment. */
    if (rc == 0) { /* scope and name are written only now: a failure leaves them fresh */
        if (scope) f->scope = scope;
        if (name) {
            snprintf(f->name, sizeof f->name, "%s", name);
            f->flags |= R_NAMED;
        }
        if (here) { /* counted as any submit; the run drops the pool's reference */
            if (out) *out = f;
            run_inline(p, f);
            return 0;
        }
        if (weft__pool_push(p, f) != 0) {
            /* f stayed invisible: give the caller its scope back */
            rc = weft__fail(WEFT_ENOMEM, "no memory to queue the task");
            f->scope = NULL;
            f->name[0] = '\0';
        }
    }
    if (rc != 0) {
        weft__pool_count_done(p);
        if (!here) unreserve(p);
        weft__rec_free(f);
        weft__pool_wake_all(p); /* workers waiting for calm to exit */
        weft__pool_check_calm(p);
        return rc;
    }
    if (out) *out = f;
    return 0;
}

int weft__pool_submit_scoped(weft_pool *p, weft_scope *scope, const char *name, weft_task_fn fn,
                             void *arg, weft_future **out, weft_ns timeout)
{
    return submit(p, scope, name, fn, arg, out, timeout);
}

int weft_pool_submit(weft_pool *p, weft_task_fn fn, void *arg, weft_future **out, weft_ns timeout)
{
    return submit(p, NULL, NULL, fn, arg, out, timeout);
}

int weft_pool_submit_named(weft_pool *p, const char *name, weft_task_fn fn, void *arg,
                           weft_future **out, weft_ns timeout)
{
    return submit(p, NULL, name, fn, arg, out, timeout);
}
