/* src/pool/pool_internal.h - the per-worker deque, the pool, and the inline steps of every
 * submit (counting, pushing). The task record and its state machine are task.h; what modules
 * above the pool may call is hooks.h.
 */
#ifndef WEFT_POOL_INTERNAL_H
#define WEFT_POOL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <weft/pool.h>
#include <weft/thread.h>

#include "core/internal.h"
#include "core/lock.h"
#include "core/park.h"
#include "core/registry.h"
#include "pool/deque.h"
#include "pool/hooks.h"
#include "pool/records.h"
#include "pool/task.h"

struct weft__worker { /* in an array from weft__calloc_lines */
    _Alignas(64) struct weft__deque dq;
    weft_pool *pool;
    int index;
    weft__parker *parker;
    weft_thread thread;
    weft_future *_Atomic current; /* the task it runs (for shutdown's report) */
    _Atomic uint64_t spawned;     /* tasks submitted from this worker (seq_cst: see pool.c) */
    _Atomic uint64_t done;        /* tasks it finished or dropped (seq_cst) */
    _Atomic int busy;
    uint32_t rng;
    char pad[64];
};

struct weft_pool {
    /* Hot, written by producers. (The pool comes from weft__calloc_lines.) */
    _Alignas(64) weft_future *_Atomic inject; /* Treiber stack of external submits, LIFO */
    char pad0[56];
    _Atomic uint64_t ext_submitted; /* tasks submitted from non-workers */
    char pad1[56];
    _Atomic int sleepers; /* waiter records on idle_q */
    _Atomic int closed, paused, broken, cancelling;
    _Atomic int nstarted; /* workers started (index of the next) */
    _Atomic int naming;   /* shutdowns naming the running tasks (control.c, sched.c run_solo) */
    char pad2[36];
    _Atomic uint64_t ext_done; /* tasks dropped by non-workers */
    _Atomic int64_t queued;    /* only with max_queued: accepted, not started */
    _Atomic uint64_t queued_high;
    weft__waitq idle_q; /* idle workers (and helpers) park here */
    weft__waitq exit_q; /* shutdown waits for the workers to exit */
    weft__waitq calm_q; /* wait_idle waits here */
    weft__waitq room_q; /* back-pressured submitters */
    _Atomic int calm_waiters, room_waiters;
    _Atomic int live; /* workers started and not exited */
    _Atomic int refs; /* the user's + one per live worker */
    weft__lock start_lock;
    int max_workers;
    size_t max_queued;
    weft_pool_init_fn init;
    void *init_arg;
    /* Set once (CAS from NULL) by the worker whose initializer broke the pool, before it stores
     * broken and cancelling: the message queued tasks then fail with (sched.c). malloc'ed, or
     * weft__pool_broken_fallback; freed with the pool. */
    char *_Atomic broken_msg;
    weft_scope *scope;
    bool is_default;
    bool task_scopes;
    bool daemon;           /* not shut down at exit (registry.c) */
    bool outsiders_help;   /* waiters that are no workers run tasks (sched.c) */
    bool exit_seen;        /* the exit rule took it (registry.c, under its lock) */
    uint64_t inline_depth; /* opts.inline_depth: the cut-off past which submits run inline */
    uint64_t serial;       /* unique per pool made: names it in a thread's inline decision */
    weft__reg_link reg;    /* registry.c's list of live pools */
    char prefix[48];
    struct weft__worker *workers; /* max_workers of them */
};

/* The worker the calling thread is, or NULL (sched.c). */
extern _Thread_local struct weft__worker *weft__tls_worker WEFT__TLS_IE;

/* A thread that is no worker and runs a batch of p's tasks (sched.c, the paced submitter's
 * help) counts them done here and adds the sum to ext_done once, at the end: one locked
 * instruction per batch instead of one per task. Counting done late only makes the pool calm
 * later, never early. */
struct weft__done_batch {
    weft_pool *pool;
    uint64_t n;
};
extern _Thread_local struct weft__done_batch *weft__tls_done_batch WEFT__TLS_IE;

/* sched.c */
void weft__pool_inject(weft_pool *p, weft_future *t); /* a non-worker's push (one CAS) */
void weft__pool_push_wake(weft_pool *p);              /* weft__pool_push saw a sleeper */
bool weft__pool_wake_one(weft_pool *p);               /* true if it claimed a parked worker */
void weft__pool_wake_all(weft_pool *p);
bool weft__pool_has_work(weft_pool *p);
bool weft__pool_calm(weft_pool *p);
void weft__pool_check_calm(weft_pool *p);
int weft__pool_ensure_worker(weft_pool *p); /* the first worker (pool.c) */
void weft__pool_grow(weft_pool *p);         /* one more worker if allowed (pool.c) */
weft_future *weft__pool_find(struct weft__worker *w);
void weft__pool_run(struct weft__worker *w, weft_future *t);
/* weft_future_wait's shortcut for a worker waiting on f of its own pool: take the bottom of its
 * deque and run it (f itself completed by one CAS if nobody else can see it). False: the deque
 * was empty or the pool is paused. */
bool weft__pool_run_awaited(struct weft__worker *w, weft_future *f);
/* weft_future_wait's shortcut for a waiter that is no worker: claim f's task if it has not
 * started and run it here (sched.c). True if it did (f is done then). */
bool weft__pool_run_claimed(weft_future *f);
int weft__worker_main(void *arg);
/* weft__wait_help (hooks.h) for a wait on every task of p (wait_idle): a waiter that is a
 * worker of no pool also runs tasks of p it can steal, before it parks (cancellable). */
int weft__wait_help_all(weft_pool *p, struct weft__wsrc *src, bool (*ready)(void *), void *rctx,
                        weft_ns deadline);
/* Pacing's help (opts.waiters_help, a caller that is a worker of no pool): take the injection
 * stack and run it here, oldest first. False if it ran nothing (then the caller yields). */
bool weft__pool_pace_help(weft_pool *p);
void weft__pool_drop(weft_pool *p, weft_future *t);
/* opts.inline_depth: run t, just made a task of p, here and now, on the calling thread (a
 * worker of p runs it as its own, counted as usual; any other thread as a guest, in its own
 * scope, counting nothing: it returns how many it counted done, for pool.c to count later). */
void weft__pool_run_inline(weft_pool *p, weft_future *t);
/* A fire-and-forget task run at submit without a record failed with status: report it as
 * the record's recycling would (not a cancellation of the scope it ran in). */
void weft__pool_report_inline(int status, const char *name);
/* pool.c: count in p what this thread ran inline for it and has not counted yet (stats). */
void weft__pool_inline_flush(weft_pool *p);
/* Add ran tasks submitted and done of them to p's outside counts, then check calm (pool.c);
 * the same for the live pool made with this serial, if any (registry.c). */
void weft__pool_count_ran(weft_pool *p, uint64_t ran, uint64_t done);
void weft__pool_count_late(uint64_t serial, uint64_t ran, uint64_t done);
/* A place among max_queued was given back: count it and wake one blocked submitter (into wl;
 * the caller flushes it). */
void weft__pool_give_place(weft_pool *p, weft__wakelist *wl);
/* Why queued tasks of p are dropped: the broken pool's message, or NULL for a cancelling
 * shutdown. Only for a caller that saw p->cancelling set (sched.c). */
const char *weft__pool_broken_reason(weft_pool *p);
extern const char weft__pool_broken_fallback[]; /* broken_msg when no memory for the real one */
void weft__pool_unref(weft_pool *p);            /* pool.c: the last ref frees the pool */
void weft__pool_register(weft_pool *p);         /* registry.c: from new ... */
void weft__pool_unregister(weft_pool *p);       /* ... to the last unref */

/* ---- inline: what every submit does ---- */

/* A worker's own counter: only it writes, others read (release: pairs with calm's loads). */
static inline void weft__pool_bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* Count a task submitted to p: per worker when the caller is one of p's, else shared. */
static inline void weft__pool_count_submit(weft_pool *p)
{
    struct weft__worker *w = weft__tls_worker;
    if (w && w->pool == p)
        weft__pool_bump(&w->spawned);
    else
        atomic_fetch_add(&p->ext_submitted, 1); /* seq_cst: before the load of closed */
}

/* Count a task of p done (finished, failed, cancelled or dropped). */
static inline void weft__pool_count_done(weft_pool *p)
{
    struct weft__worker *w = weft__tls_worker;
    struct weft__done_batch *b;
    if (w && w->pool == p)
        weft__pool_bump(&w->done);
    else if ((b = weft__tls_done_batch) != NULL && b->pool == p)
        b->n++; /* added to ext_done when the batch ends */
    else
        atomic_fetch_add(&p->ext_done, 1); /* seq_cst: before check_calm's loads */
}

/* Queue t on p: a worker of p pushes on its own deque, any other thread on the injection stack;
 * then wake an idle worker if there is one, else start one if allowed. 0, or WEFT_ENOMEM
 * (t was not queued). */
static inline int weft__pool_push(weft_pool *p, weft_future *t)
{
    struct weft__worker *w = weft__tls_worker;
    if (w && w->pool == p) {
        if (weft__deque_push(&w->dq, t) != 0)
            return weft__fail(WEFT_ENOMEM, "no memory to grow a work deque");
    } else {
        weft__pool_inject(p, t);
    }
    /* seq_cst load of sleepers, after the seq_cst push: sched.c's file comment. */
    if (atomic_load(&p->sleepers) > 0)
        weft__pool_push_wake(p);
    else if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) < p->max_workers)
        weft__pool_grow(p); /* relaxed: a hint, rechecked under start_lock */
    return 0;
}

/* The pool error hook (futures.c). */
void weft__pool_report(const char *name, int status, const char *message);

#endif
