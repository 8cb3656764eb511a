/* src/pool/pool_internal.h - the task/future record, the per-worker deque, the pool, and the
 * hooks other modules (task groups, timers) use to run work on a pool.
 *
 * One record is both the queued task and its future (struct weft_future): submitting costs one
 * record from a per-thread cache (records.c), no malloc in the steady state. Records are
 * type-stable: once made they are only ever recycled through the caches, never given back to
 * malloc, so a stale pointer read from a worker's `current` slot is always a record (control.c
 * uses that to name running tasks at shutdown without locking per task: it takes a reference
 * only while the word still counts some, so the last reference must be dropped by an RMW that
 * leaves a free record's word at zero references; the one exception, a fire-and-forget run
 * that no naming can see, is sched.c's run_solo).
 *
 * Future word (futures.c): references in the high half; in the low half two bits of state and
 * flags above them:
 *   PENDING -> RUNNING (the worker that pops it, CAS) -> FINISHED (exchange by that worker);
 *   PENDING -> CANCELLED (weft_future_cancel or a cancelling shutdown, CAS);
 *   PENDING -> FINISHED with status WEFT_EBROKEN (the pool broke before the task ran, CAS).
 *   A standalone future (weft_future_new, standalone.c; pool NULL, R_STANDALONE): PENDING ->
 *   RUNNING (weft_future_set_running, no runner), and PENDING/RUNNING -> FINISHED by a setter's
 *   CAS under f->wq.lock; cancel as above.
 *   F_LISTEN: someone waits or a callback is registered: the completer must take f->wq.lock.
 *   F_CANCEL_REQ: a canceller interrupted the running worker, under f->wq.lock.
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
#include "pool/deque.h"
#include "pool/records.h"
#include "core/park.h"

enum {
    F_PENDING = 0,
    F_RUNNING = 1,
    F_FINISHED = 2,
    F_CANCELLED = 3,
    F_STATE = 3,
    F_LISTEN = 4,
    F_CANCEL_REQ = 8,
};
/* One reference in the future's word: state and references share one atomic, so that the
 * runner's completion and its reference drop are one CAS (futures.c). */
#define REF1 ((uint64_t)1 << 32)
static inline uint32_t weft__refs_of(uint64_t w)
{
    return (uint32_t)(w >> 32);
}

#define WEFT__TASK_NAME_MAX 32

struct weft__cb {
    struct weft__cb *next;
    weft_future_cb fn;
    void *arg;
    bool embedded; /* not malloc'ed by add_done_callback (as_completed's nodes) */
};

struct weft__worker;

/* The first cache line holds what every task touches: submit writes only that line, and the
 * run of a fire-and-forget task reads only that line, writing it only if the task failed (with
 * a backlog of queued tasks every line a task touches is a cache miss, so this is what a task
 * costs). The rest is touched only by waiters, callbacks, names, failures, task scopes and
 * internal tasks, and is kept in its "fresh" state while the record is free: wq empty, cbs
 * NULL with cbs_tail = &cbs, message NULL (it is set only together with a non-zero status),
 * own_scope NULL, name "" (records.c and weft__future_recycle restore it); scope, on the hot
 * line, is NULL too. */
/* weft_future.flags, each written by whoever owns the record then (the submitter before the
 * push, the worker while it runs the task) and read after the last reference is dropped, so
 * recycling never has to look at the cold line or at the pool (which may be gone: a future
 * may outlive its pool). */
enum {
    R_NAMED = 1,      /* name[] was written */
    R_OWN_SCOPE = 2,  /* own_scope was set (task_scopes) */
    R_CANCELLED = 4,  /* ended with WEFT_ECANCELED while its scope was cancelled (sched.c) */
    R_STANDALONE = 8, /* made by weft_future_new, not by a pool (standalone.c) */
};

struct weft_future {
    _Alignas(64) struct weft_future *next; /* injection stack / free list link */
    weft_task_fn fn;
    void *arg;
    weft_pool *pool;
    void *result;
    weft_scope *scope;     /* a reference (see submit_scoped), or NULL */
    _Atomic uint64_t word; /* low 32 bits: state and flags; high 32: references (REF1) */
    int status;
    _Atomic bool observed; /* the failure was given to someone (result) */
    bool cancel_seen;      /* a cancel request reached the running task */
    bool solo;             /* fire-and-forget: no future handed out (sched.c run_solo) */
    uint8_t flags;         /* R_* below: what of the cold line is in use, and why it ended */
    /* ---- cold ---- */
    _Alignas(64) union {
        struct {
            int64_t lo, hi; /* internal tasks' range */
        };
        struct { /* a standalone future's result (standalone.c), set with its state */
            void (*result_free)(void *); /* owns result: called at recycle, or NULL */
            size_t result_len;           /* bytes at result (weft_future_set_bytes), or 0 */
        };
    };
    /* Internal tasks (parallel for, map chunks) have fn NULL and run ifn(self) instead; they
     * have no future semantics: nobody waits on the record, it is recycled as soon as ifn
     * returns. (ifn is cold: internal tasks are few, and every task tests fn anyway.) */
    void (*ifn)(struct weft_future *self);
    weft_scope *own_scope;               /* the task's own (task_scopes), while it runs */
    char *message;                       /* malloc'ed failure text, or NULL */
    struct weft__worker *_Atomic runner; /* set before RUNNING */
    weft__waitq wq;                      /* waiters; its lock also guards cbs */
    struct weft__cb *cbs, **cbs_tail;
    char name[WEFT__TASK_NAME_MAX];
};

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
    bool daemon;                    /* not shut down at exit (registry.c) */
    bool exit_seen;                 /* the exit rule took it (registry.c, under its lock) */
    weft_pool *reg_next, *reg_prev; /* registry.c's list of live pools */
    char prefix[48];
    struct weft__worker *workers; /* max_workers of them */
};

/* The worker the calling thread is, or NULL (sched.c). */
extern _Thread_local struct weft__worker *weft__tls_worker WEFT__TLS_IE;

/* records.h: weft__rec_alloc and weft__rec_free, the per-thread record caches. */

/* futures.c; the few calls on every task's path are inline below. */
/* Complete a RUNNING future and drop the pool's reference (f may be gone on return); true if
 * a cancel request interrupted the runner (which must then clear its parker). */
bool weft__future_finish(weft_future *f, int status, void *result, struct weft__worker *w);
int weft__future_start(weft_future *f, struct weft__worker *w); /* 1: run it; 0: cancelled */
void weft__future_cancel_pending(weft_future *f); /* a queued record dropped at shutdown */
/* A queued record dropped because its pool broke: PENDING -> FINISHED with status and a copy
 * of message (done, failed, not cancelled); loses to a concurrent cancel. */
void weft__future_fail_pending(weft_future *f, int status, const char *message);
/* After the state left PENDING/RUNNING for good (old: the word the completing RMW replaced):
 * wake the waiters and run the callbacks if anyone listened. */
void weft__future_notify(weft_future *f, uint32_t old);
bool weft__future_arm(void *f);   /* a weft__wsrc arm for a future (sets F_LISTEN) */
bool weft__future_ready(void *f); /* weft__future_is_done for a void * */
/* The last reference went: report an unseen failure, make the cold line fresh, free it. */
void weft__future_recycle(weft_future *f);
bool weft__cb_remove(weft_future *f, struct weft__cb *node); /* true: unlinked, will not run */
int weft__cb_add(weft_future *f, struct weft__cb *node);     /* 1: f was done, not linked */

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
int weft__worker_main(void *arg);
void weft__pool_drop(weft_pool *p, weft_future *t);
/* Why queued tasks of p are dropped: the broken pool's message, or NULL for a cancelling
 * shutdown. Only for a caller that saw p->cancelling set (sched.c). */
const char *weft__pool_broken_reason(weft_pool *p);
extern const char weft__pool_broken_fallback[]; /* broken_msg when no memory for the real one */
void weft__pool_unref(weft_pool *p);            /* pool.c: the last ref frees the pool */
void weft__pool_register(weft_pool *p);         /* registry.c: from new ... */
void weft__pool_unregister(weft_pool *p);       /* ... to the last unref */

/* A condition one can wait for with helping: waitq q, and arm(ctx), called under q->lock, that
 * returns true if the condition holds (then nothing waits) and otherwise makes sure the party
 * that will make it hold takes q->lock and wakes q (e.g. by setting F_LISTEN). */
struct weft__wsrc {
    weft__waitq *q;
    bool (*arm)(void *ctx);
    void *ctx;
};
/* Wait until ready(rctx), parking on the sources; a worker of `help` runs that pool's tasks
 * meanwhile. Returns 0, WEFT_EAGAIN (deadline 0 meaning "try once": pass try_once),
 * WEFT_ETIMEDOUT, WEFT_ECANCELED (unless !cancellable). */
int weft__wait_help(weft_pool *help, struct weft__wsrc *src, size_t n, bool (*ready)(void *),
                    void *rctx, weft_ns deadline, bool cancellable);

/* ---- inline: what every task does ---- */

/* A record from weft__rec_alloc made a PENDING task of p with refs references. Only the hot
 * line is written: the cold one is fresh. */
static inline void weft__future_init(weft_future *f, weft_pool *p, uint32_t refs)
{
    f->next = NULL;
    f->fn = NULL; /* an internal task keeps it NULL */
    f->pool = p;
    f->result = NULL;
    /* relaxed: published by the push. */
    atomic_store_explicit(&f->word, (uint64_t)refs * REF1 | F_PENDING, memory_order_relaxed);
    f->status = 0;
    atomic_store_explicit(&f->observed, false, memory_order_relaxed);
    f->cancel_seen = false;
    f->solo = false;
    f->flags = 0;
}

static inline bool weft__future_is_done(weft_future *f)
{
    /* acquire: pairs with the completing RMW (futures.c, sched.c). */
    return (atomic_load_explicit(&f->word, memory_order_acquire) & F_STATE) >= F_FINISHED;
}

/* Nothing to report and the cold line never touched: once unreferenced, f goes straight back
 * to the record cache (else weft__future_recycle). */
static inline bool weft__future_plain(const weft_future *f)
{
    return f->status == 0 && f->scope == NULL && f->flags == 0;
}

/* Drop one reference; the last one recycles f. */
static inline void weft__future_unref(weft_future *f)
{
    /* acq_rel: the last release sees every other holder's writes before recycling. An RMW
     * even for the last reference: see the file comment (control.c's naming). */
    if (weft__refs_of(atomic_fetch_sub_explicit(&f->word, REF1, memory_order_acq_rel)) != 1) return;
    if (weft__future_plain(f))
        weft__rec_free(f);
    else
        weft__future_recycle(f);
}

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
    if (w && w->pool == p)
        weft__pool_bump(&w->done);
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

/* Hooks for task groups and timers: submit a task that runs inside `scope` (NULL = the
 * worker's own scope), optionally named, with `out` as for weft_pool_submit. On success the
 * pool TAKES the caller's reference to scope (from weft_scope_new) and releases it when the
 * record is recycled; on failure the caller keeps it. Same returns as weft_pool_submit. A
 * group adds its done-callback with weft__cb_add and an embedded node (no malloc). */
int weft__pool_submit_scoped(weft_pool *p, weft_scope *scope, const char *name, weft_task_fn fn,
                             void *arg, weft_future **out, weft_ns timeout);

/* The pool error hook (futures.c). */
void weft__pool_report(const char *name, int status, const char *message);

#endif
