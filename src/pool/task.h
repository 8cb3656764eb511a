/* src/pool/task.h - the task record (struct weft_future) and its state machine, in one place:
 * the inline fast paths here, the rest out of line in task.c (`_slow` where an inline path
 * continues there). Every other file moves a record's state only through these calls.
 *
 * One record is both the queued task and its future: submitting costs one record from a
 * per-thread cache (records.h), no malloc in the steady state. Records are type-stable: once
 * made they are only ever recycled through the caches, never given back to malloc, so a stale
 * pointer read from a worker's `current` slot is always a record (control.c names running
 * tasks at shutdown that way: weft__future_ref_live takes a reference only while the word still
 * counts some).
 *
 * The word (f->word): references in the high 32 bits (REF1 each), in the low 32 bits two bits
 * of state and two flags.
 *
 *   from      to         by whom (function)                                   how
 *   PENDING   RUNNING    the worker that popped it (weft__future_start);       CAS acq_rel
 *                        weft_future_set_running, no runner (same call)
 *   RUNNING   FINISHED   its runner (weft__future_finish); a standalone's     CAS acq_rel
 *                        setter, under f->wq.lock (weft__future_settle)
 *   PENDING   FINISHED   a standalone's setter (weft__future_settle);         CAS acq_rel
 *                        a broken pool dropping it, status WEFT_EBROKEN
 *                        (weft__future_fail_pending); the fork-join shortcut
 *                        (weft__future_finish_alone, from exactly
 *                        2 refs|PENDING); a failed fire-and-forget task
 *                        (weft__future_solo_failed, no other holder)
 *   PENDING   CANCELLED  weft_future_cancel, a cancelling shutdown             CAS acq_rel
 *                        (weft__future_cancel, weft__future_cancel_pending)
 *   RUNNING   RUNNING    weft_future_cancel sets F_CANCEL_REQ under           CAS acq_rel
 *             +CANCEL_REQ f->wq.lock and interrupts the runner (weft__future_cancel)
 *
 *   F_LISTEN      someone waits or a callback is registered: set by fetch_or under f->wq.lock
 *                 (weft__future_listen), so the completer must take f->wq.lock.
 *   F_CANCEL_REQ  a canceller interrupted the running task, under f->wq.lock.
 *   F_UNQUEUED    a bounded record (its pool has max_queued) no longer holds a place among
 *                 max_queued. Whoever sets it first gives the place back: the thread that takes
 *                 the record off a queue (fetch_or, weft__future_unqueue), or weft_future_cancel
 *                 of the PENDING record (in its cancelling CAS, under f->wq.lock, then it
 *                 decrements the pool's count while the record, still queued, keeps the pool
 *                 alive). A taker that finds it set syncs on f->wq.lock (the canceller is then
 *                 done with the pool) and gives nothing back.
 *   F_CLAIMED     a waiter that is no worker took the PENDING record to run it itself
 *                 (weft__pool_run_claimed, with a reference of its own: REF1 in the same CAS).
 *                 No worker starts it (weft__future_start fails), and whoever takes it off the
 *                 queue only drops the queue's reference: the claimer counts it done. The
 *                 record stays PENDING until the claimer's start (or a cancel) moves it on.
 *
 * Invariants:
 *   T1 States never go back: FINISHED and CANCELLED are final, and PENDING is left once.
 *   T2 status, result and message are written before the release half of the RMW that makes the
 *      word FINISHED, and read only after an acquire load that sees FINISHED (a CAS that loses
 *      to a cancel undoes them: nobody reads a cancelled future's fields).
 *   T3 Completion is one RMW; only if the word it replaced had F_LISTEN does the completer take
 *      f->wq.lock, wake the waiters and detach the callbacks (run after dropping the lock,
 *      weft__future_notify). A listener sets F_LISTEN under that lock and re-checks the state
 *      its fetch_or returns, so no completion is missed.
 *   T4 F_CANCEL_REQ is set only on a RUNNING word, under f->wq.lock, together with the
 *      interrupt; a runner whose completing RMW replaced it takes f->wq.lock once (then the
 *      interrupt is over) before it clears its parker or leaves the task's scope.
 *   T5 References: the submitter's (if a future was handed out), the queue's (the pool's, from
 *      push to the end of the run), one per weft_future_ref. The completing CAS drops the
 *      pool's reference with the state when nobody listens and no cancel is in flight. The
 *      last reference is always dropped by an RMW that leaves the free record's word with zero
 *      references (the one exception, a fire-and-forget run no naming can see, is sched.c's
 *      run_solo), and then the record is recycled (weft__future_unref).
 *   T6 The cold line (second cache line) of a free record is fresh: wq empty, cbs NULL with
 *      cbs_tail = &cbs, message NULL, own_scope NULL, name "", evfd1 0. flags say which of it
 *      a record used, so recycling a plain record never reads it (weft__future_plain); a
 *      record with an eventfd (weft_future_fd) also has F_LISTEN, which sends its last
 *      unreference to weft__future_recycle, where the descriptor is closed.
 * Happens-before for a user's TSan build (core/annotate.h), on the record's address: the
 * submitter releases in weft__future_init and the runner acquires in weft__future_start
 * (submit -> run); every completion (finish, finish_alone, settle, fail_pending) releases
 * before its RMW, and whoever sees the future done acquires (weft__future_state,
 * weft__future_listen: result, wait, done, weft_wait, as_completed, a late callback);
 * weft__cb_add releases and notify acquires before running the callbacks it detached.
 * Records are never given back to malloc, so the address stays theirs; a recycled record
 * only adds edges (no false report, at worst a race hidden across two uses of one record).
 * Lock order: docs/design/locks.md (f->wq.lock: a parker's lock may be taken inside it).
 */
#ifndef WEFT_POOL_TASK_H
#define WEFT_POOL_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weft/future.h>
#include <weft/pool.h>

#include "core/annotate.h"
#include "core/internal.h"
#include "core/lock.h"
#include "core/park.h"
#include "pool/hooks.h"
#include "pool/records.h"

enum {
    F_PENDING = 0,
    F_RUNNING = 1,
    F_FINISHED = 2,
    F_CANCELLED = 3,
    F_STATE = 3,
    F_LISTEN = 4,
    F_CANCEL_REQ = 8,
    F_UNQUEUED = 16,                 /* a bounded record's place among max_queued was given back */
    F_CLAIMED = 32,                  /* its waiter took it to run it (weft__pool_run_claimed) */
    F_KEEP = F_UNQUEUED | F_CLAIMED, /* kept by every transition: whoever takes it reads them */
};
/* One reference in the word: state and references share one atomic, so that the runner's
 * completion and its reference drop are one CAS. */
#define REF1  ((uint64_t)1 << 32)
#define F_LOW ((uint64_t)0xffffffffu) /* state and flags */
static inline uint32_t weft__refs_of(uint64_t w)
{
    return (uint32_t)(w >> 32);
}

#define WEFT__TASK_NAME_MAX 32

struct weft__worker;

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

/* The first cache line holds what every task touches: submit writes only that line, and the
 * run of a fire-and-forget task reads only that line, writing it only if the task failed (with
 * a backlog of queued tasks every line a task touches is a cache miss, so this is what a task
 * costs). The rest is touched only by waiters, callbacks, names, failures, task scopes and
 * internal tasks, and is kept fresh while the record is free (T6); scope, on the hot line, is
 * NULL too. */
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
    /* Three bits in one byte, written only by the submit (before the push publishes them):
     * as three bools they pushed flags onto the cold line, a second miss for every task. */
    bool solo : 1;      /* fire-and-forget: no future handed out (sched.c run_solo) */
    bool bounded : 1;   /* its pool has max_queued: the place is given back once (F_UNQUEUED) */
    bool claimable : 1; /* its waiter may run it (F_CLAIMED): the pool lets outsiders help */
    uint8_t flags;      /* R_* above: what of the cold line is in use, and why it ended */
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
    int evfd1; /* weft_future_fd's eventfd + 1, or 0; set under wq.lock with F_LISTEN (T6) */
    char name[WEFT__TASK_NAME_MAX];
};

/* A fire-and-forget task is submitted, run and recycled on the hot line alone (pool.md). */
_Static_assert(offsetof(struct weft_future, flags) < 64, "the hot fields span two cache lines");

/* ---- out of line (task.c) ---- */

/* The rest of weft__future_finish: with a listener or a cancel request (s: the word its CAS
 * replaced); true if a cancel request interrupted the runner. */
bool weft__future_finish_slow(weft_future *f, uint64_t s);
/* After the state left PENDING/RUNNING for good (old: the word the completing RMW replaced):
 * wake the waiters and run the callbacks if anyone listened. */
void weft__future_notify(weft_future *f, uint32_t old);
/* A queued record dropped at shutdown: PENDING -> CANCELLED if still pending. */
void weft__future_cancel_pending(weft_future *f);
/* A queued record dropped because its pool broke: PENDING -> FINISHED with status and a copy
 * of message (done, failed, not cancelled); loses to a concurrent cancel. A claimed record is
 * left to its claimer (claimer: the caller is it). */
void weft__future_fail_pending(weft_future *f, int status, const char *message, bool claimer);
/* weft_future_cancel's work on a valid f: 0 (cancelled now or before), WEFT_EBUSY (running:
 * interrupted, or already asked), WEFT_ESTATE (finished; the error slot is set). */
int weft__future_cancel(weft_future *f);
/* A standalone future's setter: under f->wq.lock, PENDING/RUNNING -> FINISHED with status,
 * result (owned by f if result_free), len and message (malloc'ed, taken on success); then
 * notify. WEFT_ESTATE if f was already done or a cancel won (nothing taken). */
int weft__future_settle(weft_future *f, int status, void *result, void (*result_free)(void *),
                        size_t len, char *message);
/* Take a reference to a record that may be free (a stale pointer, T5): false if it was. */
bool weft__future_ref_live(weft_future *f);
/* The last reference went: report an unseen failure, make the cold line fresh, free it. */
void weft__future_recycle(weft_future *f);
/* The failure text of a FINISHED f with status != 0 (buf: room for a fallback). */
const char *weft__future_message(weft_future *f, char *buf, size_t size);
/* weft__cb_add, weft__cb_remove, weft__future_failure: hooks.h. */
bool weft__future_arm(void *f);   /* a weft__wsrc arm for a future (sets F_LISTEN) */
bool weft__future_ready(void *f); /* weft__future_is_done for a void * */

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
    f->bounded = false;
    f->claimable = false;
    f->flags = 0;
    weft__hb_release(f); /* what the submitter wrote, for the runner (start) */
}

/* The state (F_PENDING...F_CANCELLED). acquire: pairs with the RMW that set it, so after
 * FINISHED the outcome fields are visible (T2). */
static inline uint32_t weft__future_state(weft_future *f)
{
    uint32_t st = (uint32_t)(atomic_load_explicit(&f->word, memory_order_acquire) & F_STATE);
    if (st >= F_FINISHED) weft__hb_acquire(f); /* what the completer published */
    return st;
}

static inline bool weft__future_is_done(weft_future *f)
{
    return weft__future_state(f) >= F_FINISHED;
}

/* Nothing to report and the cold line never touched: once unreferenced, f goes straight back
 * to the record cache (else weft__future_recycle). */
static inline bool weft__future_plain(const weft_future *f)
{
    return f->status == 0 && f->scope == NULL && f->flags == 0;
}

/* One more reference, for a caller that holds one. relaxed: the holder's keeps f alive. */
static inline void weft__future_ref(weft_future *f)
{
    atomic_fetch_add_explicit(&f->word, REF1, memory_order_relaxed);
}

/* Drop one reference; the last one recycles f. */
static inline void weft__future_unref(weft_future *f)
{
    /* acq_rel: the last release sees every other holder's writes before recycling. An RMW
     * even for the last reference (T5). */
    uint64_t s = atomic_fetch_sub_explicit(&f->word, REF1, memory_order_acq_rel);
    if (weft__refs_of(s) != 1) return;
    if (weft__future_plain(f) && !(s & F_LISTEN)) /* F_LISTEN: maybe an eventfd (T6) */
        weft__rec_free(f);
    else
        weft__future_recycle(f);
}

/* Register interest under f->wq.lock (T3): true if f is already done (then nothing will
 * wake the caller, and it must not wait). acq_rel: pairs with the completing RMW (either it
 * sees F_LISTEN, or we see done). */
static inline bool weft__future_listen(weft_future *f)
{
    bool done = (atomic_fetch_or_explicit(&f->word, F_LISTEN, memory_order_acq_rel) & F_STATE) >=
                F_FINISHED;
    if (done) weft__hb_acquire(f); /* what the completer published */
    return done;
}

/* PENDING -> RUNNING by the worker w (NULL: weft_future_set_running). 1: run it; 0: it was
 * cancelled (or is otherwise no longer pending). */
static inline int weft__future_start(weft_future *f, struct weft__worker *w)
{
    /* relaxed: published by the release half of the CAS below (read by cancel after an
     * acquire load that sees RUNNING). */
    atomic_store_explicit(&f->runner, w, memory_order_relaxed);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if ((s & (F_STATE | F_CLAIMED)) != F_PENDING) return 0; /* claimed: the waiter runs it */
        /* acq_rel: release publishes runner to cancel; acquire pairs with a cancel that
         * lost. */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~(uint64_t)F_STATE) | F_RUNNING,
                                                    memory_order_acq_rel, memory_order_relaxed));
    weft__hb_acquire(f); /* what the submitter wrote before weft__future_init */
    return 1;
}

/* A bounded record taken off a queue (it was PENDING then, and the caller keeps its pool
 * alive): true if the caller must give its place among max_queued back; false if a cancel
 * already did (then it is done with the pool on return: F_UNQUEUED above). acq_rel: pairs with
 * the cancelling CAS. */
static inline bool weft__future_unqueue(weft_future *f)
{
    if (atomic_fetch_or_explicit(&f->word, F_UNQUEUED, memory_order_acq_rel) & F_UNQUEUED) {
        weft__lock_acquire(&f->wq.lock);
        weft__lock_release(&f->wq.lock);
        return false;
    }
    return true;
}

/* Whether a record no longer PENDING (or claimed) was claimed by its waiter: F_CLAIMED is
 * never cleared once set. relaxed: the caller's own RMW on the word saw the state it acts on. */
static inline bool weft__future_claimed(weft_future *f)
{
    return (atomic_load_explicit(&f->word, memory_order_relaxed) & F_CLAIMED) != 0;
}

/* weft__future_start for the claimer of f (F_CLAIMED set): PENDING -> RUNNING by w. */
static inline int weft__future_start_claimed(weft_future *f, struct weft__worker *w)
{
    atomic_store_explicit(&f->runner, w, memory_order_relaxed); /* as weft__future_start */
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if ((s & F_STATE) != F_PENDING) return 0; /* cancelled or failed since the claim */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~(uint64_t)F_STATE) | F_RUNNING,
                                                    memory_order_acq_rel, memory_order_relaxed));
    weft__hb_acquire(f);
    return 1;
}

/* Complete a RUNNING future and drop the pool's reference (f may be gone on return); true if
 * a cancel request interrupted the runner (which must then clear its parker, T4). */
static inline bool weft__future_finish(weft_future *f, int status, void *result)
{
    f->status = status;
    /* An atomic store (a plain one on every target): a claimed record may still be on the
     * injection stack, whose walker reads result as a prefetch hint (sched.c walk_hint). */
    __atomic_store_n(&f->result, result, __ATOMIC_RELAXED);
    weft__hb_release(f); /* what the task wrote, for whoever sees it done */
    /* One CAS: RUNNING -> FINISHED and, when nobody listens and no cancel is in flight, the
     * pool's reference dropped with it (T5). With listeners the reference is kept until they
     * are served (a woken waiter may release the last user reference at once). acq_rel:
     * release publishes status/result/message to readers that acquire FINISHED; acquire pairs
     * with the CAS that set F_CANCEL_REQ and with other holders' reference drops. */
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed), n;
    bool keep;
    do {
        keep = (s & (F_LISTEN | F_CANCEL_REQ)) != 0;
        n = ((s & ~(uint64_t)F_STATE) | F_FINISHED) - (keep ? 0 : REF1);
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s, n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (keep) return weft__future_finish_slow(f, s);
    if (weft__refs_of(s) == 1) weft__future_recycle(f);
    return false;
}

/* The word of a record that exactly a waiting worker and its own deque hold, with nobody
 * listening: weft__future_finish_alone may complete it (sched.c's fork-join shortcut). */
#define WEFT__FUTURE_ALONE (2 * REF1 | F_PENDING)

/* relaxed: a look; weft__future_finish_alone's CAS checks the word again. */
static inline bool weft__future_alone(weft_future *f)
{
    return atomic_load_explicit(&f->word, memory_order_relaxed) == WEFT__FUTURE_ALONE;
}

/* PENDING -> FINISHED with status and result, dropping one of the two references, in one CAS
 * from exactly WEFT__FUTURE_ALONE; false (nothing changed but status and result) if another
 * thread listened, took a reference or cancelled meanwhile: then complete it through
 * weft__future_start and weft__future_finish. */
static inline bool weft__future_finish_alone(weft_future *f, int status, void *result)
{
    f->status = status;
    f->result = result;
    weft__hb_release(f); /* as weft__future_finish */
    uint64_t s = WEFT__FUTURE_ALONE;
    /* acq_rel: release publishes status/result/message, as weft__future_finish. */
    return atomic_compare_exchange_strong_explicit(&f->word, &s, REF1 | F_FINISHED,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* A fire-and-forget task failed with status: nobody else holds it, so no transition is
 * published; the recycler (after its acq_rel reference drop) reports it. relaxed: as said. */
static inline void weft__future_solo_failed(weft_future *f, int status)
{
    f->status = status;
    atomic_fetch_or_explicit(&f->word, F_FINISHED, memory_order_relaxed);
}

#endif
