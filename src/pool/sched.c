/* src/pool/sched.c - the scheduler: where tasks are queued, how workers find them, how idle
 * workers park and are woken, and waiting with help.
 *
 * Queues. A worker's own submits go to its Chase-Lev deque (deque.h); every other submit is
 * pushed on the pool's injection stack (a Treiber stack: one CAS per push). A worker looks for
 * work in this order: its deque (LIFO), the whole injection stack at once (exchanged for NULL
 * and pushed into its deque newest first, so that it runs them oldest first and thieves take
 * the newest), then one steal from each other worker, starting at a random one.
 *
 * Sleeping without lost wake-ups. A worker that found nothing searches a little longer
 * (SEARCH_ROUNDS, without being visible as idle, so producers pay nothing), then:
 *     sleepers++ (seq_cst); lock idle_q; if there is work: unlock, retry; else push a waiter
 *     record; unlock; park (the parking lot spins, then sleeps on the futex).
 * A producer pushes (seq_cst) and then loads sleepers (seq_cst); if it is non-zero it locks
 * idle_q and wakes one record. If it woke nobody (none idle, or the count was stale) and the
 * pool may still start workers, it starts one (lazy start); a worker that starts a task with
 * others queued behind it and nobody idle does the same (grow_if_backlog). In the seq_cst
 * total order either the producer sees the increment (and then, through idle_q's lock, either
 * the record or a worker that will see the work under the lock), or the worker's check sees
 * the push. A worker woken while it still spins in the parking lot gets its wake-up as a
 * cache-line transfer, no system call.
 *
 * Counting. Every task is counted once submitted (ext_submitted, or the submitting worker's
 * `spawned`) and once finished or dropped (a worker's `done`, or ext_done). The pool is calm
 * (wait_idle, shutdown) when the sums are equal; the finished side is summed first, so an
 * equality means there was a moment when nothing was outstanding (both sides only grow and a
 * task is counted submitted before it is counted done).
 *
 * Lock order: docs/design/locks.md; a worker holds none of the pool's waitq locks while it
 * runs a task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "core/debugrec.h"
#include "core/cancel_internal.h"
#include "core/internal.h"
#include "os/os.h"
#include "pool/pool_internal.h"

#define SEARCH_ROUNDS 64

_Thread_local struct weft__worker *weft__tls_worker WEFT__TLS_IE;
_Thread_local struct weft__done_batch *weft__tls_done_batch WEFT__TLS_IE;

/* ---- counting ---- */

/* A worker's own counters are written by it alone: a relaxed load and a release store, no
 * locked instruction. Release: a thread that acquires a worker's `done` also sees the
 * `spawned` counts and pushes that worker made before (so calm never sees a child done and its
 * spawn uncounted). Ordering against `closed` is not needed for a worker's spawns: the pool
 * cannot be calm while the spawning task runs, and it is counted done only after the push. */
/* Before a worker looks at calm_waiters or decides to sleep: a seq_cst RMW on its `done`
 * puts its latest count in the total order ahead of its following seq_cst loads (the Dekker
 * pairs with wait_idle's increment of calm_waiters and with shutdown's store of closed). */
static void publish_done(struct weft__worker *w)
{
    atomic_fetch_add(&w->done, 0);
}

bool weft__pool_calm(weft_pool *p)
{
    int n = atomic_load(&p->nstarted);
    uint64_t done = atomic_load(&p->ext_done), sub;
    for (int i = 0; i < n; i++) done += atomic_load(&p->workers[i].done);
    sub = atomic_load(&p->ext_submitted);
    for (int i = 0; i < n; i++) sub += atomic_load(&p->workers[i].spawned);
    /* A worker started after n was read has spawned nothing that is not counted: it ran a
     * task first, and that task was counted before it. */
    return done == sub;
}

/* ---- waking ---- */

bool weft__pool_wake_one(weft_pool *p)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&p->idle_q.lock);
    bool woke = weft__waitq_wake_one(&p->idle_q, &wl) != NULL;
    weft__lock_release(&p->idle_q.lock);
    weft__wakelist_flush(&wl);
    return woke;
}

void weft__pool_wake_all(weft_pool *p)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&p->idle_q.lock);
    weft__waitq_wake_all(&p->idle_q, &wl);
    weft__lock_release(&p->idle_q.lock);
    weft__wakelist_flush(&wl);
}

/* wait_idle's waiters are woken by whoever sees the pool calm. */
void weft__pool_check_calm(weft_pool *p)
{
    if (atomic_load(&p->calm_waiters) == 0 || !weft__pool_calm(p)) return; /* seq_cst */
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&p->calm_q.lock);
    weft__waitq_wake_all(&p->calm_q, &wl);
    weft__lock_release(&p->calm_q.lock);
    weft__wakelist_flush(&wl);
}

/* ---- queues ---- */

/* A hint for the worker that will walk the injection stack (weft__deque_push_list): the stack
 * links each record to the one pushed before it, so the walk is a chain of cache misses, one
 * after the other. Each record a thread pushes also carries, in its `result` field (unused
 * until the task finishes; every path to FINISHED writes it), the record this thread pushed
 * WALK_HINT pushes earlier, which the walker prefetches: with one submitter that is the record
 * WALK_HINT steps further down the chain. With several, or once that record was recycled, the
 * hint points to some other record: a wasted prefetch, never a wrong one (records are never
 * freed). Internal tasks keep `result` for themselves (pfor.c) and get no hint. */
#define WALK_HINT 8

static _Thread_local struct {
    weft_future *ring[WALK_HINT];
    unsigned n;
} pushed WEFT__TLS_IE;

static void walk_hint(weft_future *t)
{
    if (t->fn == NULL) return;
    unsigned i = pushed.n++ % WALK_HINT;
    t->result = pushed.ring[i];
    pushed.ring[i] = t;
}

void weft__pool_inject(weft_pool *p, weft_future *t)
{
    walk_hint(t);
    weft_future *head = atomic_load_explicit(&p->inject, memory_order_relaxed);
    do {
        t->next = head;
        /* seq_cst: release publishes the record to the worker that exchanges the stack; and
         * the push must precede the load of sleepers in weft__pool_push (file comment). */
    } while (!atomic_compare_exchange_weak_explicit(&p->inject, &head, t, memory_order_seq_cst,
                                                    memory_order_relaxed));
}

void weft__pool_push_wake(weft_pool *p)
{
    if (weft__pool_wake_one(p)) return;
    /* Nobody to wake after all (the count was stale: the sleeper was already claimed). */
    if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) < p->max_workers)
        weft__pool_grow(p); /* relaxed: a hint, rechecked under start_lock */
}

bool weft__pool_has_work(weft_pool *p)
{
    if (atomic_load(&p->paused)) return false;
    if (atomic_load(&p->inject) != NULL) return true; /* seq_cst: file comment */
    int n = atomic_load(&p->nstarted);
    for (int i = 0; i < n; i++)
        if (weft__deque_size(&p->workers[i].dq) > 0) return true;
    return false;
}

/* Records of a big batch a worker keeps before it starts sharing (grab_inject). */
#define SHARE_AFTER 64

/* Put a list (first..last, ->next-linked) back on the injection stack, for other workers. */
static void give_back(weft_pool *p, weft_future *first, weft_future *last)
{
    weft_future *head = atomic_load_explicit(&p->inject, memory_order_relaxed);
    do {
        last->next = head;
        /* release: publishes the links written by the split (and the records' contents, which
         * this worker acquired) to the next grabber; seq_cst: before grab_inject's load of
         * sleepers, as a submitter's push (the file comment). */
    } while (!atomic_compare_exchange_weak_explicit(&p->inject, &head, first, memory_order_seq_cst,
                                                    memory_order_relaxed));
}

/* Take the whole injection stack into w's deque; returns the oldest (to run now) or NULL. The
 * stack is newest first; pushed in that order, the oldest ends at the bottom, where the owner
 * takes first, while thieves take the newest from the top.
 *
 * A big batch (a submitter ahead of its workers) is shared: past the first SHARE_AFTER records,
 * every other one goes back on the stack, where the next idle worker takes it (splitting it
 * again). Stealing them one at a time would cost both workers a transfer of the deque's top
 * line per task: two workers drained a backlog of a million tasks 4-5 times more slowly than
 * one did. Both halves span the batch, so each worker still runs its share oldest first. */
static weft_future *grab_inject(struct weft__worker *w)
{
    weft_pool *p = w->pool;
    if (atomic_load_explicit(&p->inject, memory_order_relaxed) == NULL) return NULL;
    /* acquire: pairs with the pushers' CAS (the records' contents). */
    weft_future *t = atomic_exchange_explicit(&p->inject, NULL, memory_order_acquire);
    if (t == NULL) return NULL;
    /* acquire: pairs with start_worker (a hint: a worker started later finds the stack). */
    int share = atomic_load_explicit(&p->nstarted, memory_order_acquire) > 1 ? SHARE_AFTER : 0;
    weft_future *rest, *rest_tail;
    uint64_t n = weft__deque_push_list(&w->dq, t, share, &rest, &rest_tail);
    if (rest && rest_tail) {
        give_back(p, rest, rest_tail);
    } else { /* no memory for a bigger deque: run the rest here, in list order */
        while (rest) {
            weft_future *next = rest->next;
            weft__pool_run(w, rest);
            rest = next;
        }
    }
    uint64_t high = atomic_load_explicit(&p->queued_high, memory_order_relaxed);
    if (n > high) atomic_store_explicit(&p->queued_high, n, memory_order_relaxed); /* stats */
    if (atomic_load(&p->sleepers) > 0) weft__pool_wake_one(p);                     /* share them */
    return n ? weft__deque_take(&w->dq) : NULL;
}

/* weft_pool_pause's promise: no task taken after it returns starts before the resume. The
 * looks at `paused` before a search are only a shortcut: a worker (or guest) that looked
 * before the pause and takes a task submitted after it must see `paused` now, as the take
 * acquires what the submitter published after the pause's store. So t goes back on the
 * injection stack (it stays queued and counted; resume wakes the workers), and if the pool
 * was resumed meanwhile, a worker is woken for it (a resume's wake-all may have come before
 * the push; seq_cst: both sides' store then load). Returns t, or NULL if it was put back. */
static weft_future *unless_paused(weft_pool *p, weft_future *t)
{
    if (t == NULL || !atomic_load(&p->paused)) return t;
    give_back(p, t, t);
    if (!atomic_load(&p->paused)) weft__pool_push_wake(p);
    return NULL;
}

static weft_future *find(struct weft__worker *w)
{
    weft_pool *p = w->pool;
    if (atomic_load_explicit(&p->paused, memory_order_relaxed)) return NULL;
    weft_future *t = weft__deque_take(&w->dq);
    if (t) return t;
    if ((t = grab_inject(w)) != NULL) return t;
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire); /* pairs: start_worker */
    if (n <= 1) return NULL;
    w->rng = w->rng * 1103515245u + 12345u;
    int first = (int)((w->rng >> 16) % (uint32_t)n);
    for (int k = 0; k < n; k++) {
        int i = (first + k) % n;
        if (i == w->index) continue;
        if ((t = weft__deque_steal(&p->workers[i].dq)) != NULL) return t;
    }
    return NULL;
}

weft_future *weft__pool_find(struct weft__worker *w)
{
    return unless_paused(w->pool, find(w));
}

/* ---- running ---- */

/* The failure t's function returned: its message, and whether it was the cancellation of the
 * scope t ran in (still current here: whichever scope was cancelled, t's own, the pool's, a
 * group's, an ancestor's such as the root on Ctrl-C, or one whose deadline passed), which
 * future.h says is not reported as a failure. */
static void capture_failure(weft_future *t, int status)
{
    const char *msg = weft_error_message();
    if (weft_error_code() == status && msg[0] != '\0') t->message = weft__strdup(msg);
    weft_error_clear();
    if (status == WEFT_ECANCELED && weft_scope_cancelled(weft_scope_current()) == 1)
        t->flags |= R_CANCELLED;
}

/* After a task whose cancel request interrupted this worker: clear the request, unless the
 * worker's scope (or an enclosing task being helped) is cancelled for real. */
static void clear_cancel(struct weft__worker *w)
{
    weft__parker_reset(w->parker);
    if (weft_scope_cancelled(weft_scope_current()) == 1) atomic_store(&w->parker->cancel, 1u);
}

/* The scope t runs in: its own new one (task_scopes; child of t->scope or of the worker's),
 * else t->scope, else none (the worker's). Entered BEFORE t becomes RUNNING, so that a cancel
 * request (possible only once it is RUNNING) is never undone by the entry. Returns 0, or the
 * error that kept t out of the scope it must run in (no memory; scopes nested too deep by
 * helping while waiting): t must then not run, or a group's cancel would not reach it. */
WEFT__HOT int enter_scope(weft_pool *p, weft_future *t, weft_scope **own, weft_scope **entered)
{
    *own = *entered = NULL;
    if (p->task_scopes) {
        int rc = weft_scope_new(own, t->scope, NULL);
        if (rc) return rc;
        t->own_scope = *own;
        t->flags |= R_OWN_SCOPE;
    }
    weft_scope *s = *own ? *own : t->scope;
    if (s == NULL) return 0;
    int rc = weft_scope_enter(s);
    if (rc == 0) *entered = s;
    return rc;
}

WEFT__HOT void leave_scope(weft_scope *entered, weft_scope *own)
{
    if (entered) weft_scope_exit();
    if (own) weft_scope_free(own);
}

/* Call t's function with the worker's bookkeeping around it; returns its status. solo: a
 * fire-and-forget run (run_solo), which orders its store of current before its load of
 * naming; a store that does (seq_cst, an xchg) cost fork-join 4 ns per spawn. */
WEFT__HOT int call(struct weft__worker *w, weft_future *t, void **res, bool solo)
{
    weft_future *outer = atomic_load_explicit(&w->current, memory_order_relaxed);
    atomic_store_explicit(&w->current, t, memory_order_release);     /* pairs: shutdown */
    int busy = atomic_load_explicit(&w->busy, memory_order_relaxed); /* own; stats */
    atomic_store_explicit(&w->busy, busy + 1, memory_order_relaxed);
    *res = NULL;
    int st = t->fn(t->arg, res);
    if (st != 0) capture_failure(t, st);
    atomic_store_explicit(&w->busy, busy, memory_order_relaxed);
    if (solo && w->index >= 0)            /* a guest's current is on its stack: no naming sees it */
        atomic_store(&w->current, outer); /* seq_cst: before run_solo's load of naming */
    else
        atomic_store_explicit(&w->current, outer, memory_order_release);
    return st;
}

/* Run t inside the scope it must run in, for a record no other thread can see (run_solo,
 * weft__pool_run_awaited): nothing to publish, so the scope is left right after the call. Returns
 * the task's status, or the error that kept it out of its scope (then it did not run). solo:
 * as in call(). */
WEFT__HOT int run_scoped(struct weft__worker *w, weft_future *t, void **res, bool solo)
{
    weft_scope *own, *entered;
    *res = NULL;
    int st = enter_scope(w->pool, t, &own, &entered);
    if (st == 0) st = call(w, t, res, solo);
    leave_scope(entered, own);
    return st;
}

/* A fire-and-forget task: nobody else holds its record (no future was handed out, and the
 * queue that held it gave it to this worker alone), so no state transitions are published.
 *
 * One that succeeded, with nothing on the cold line, goes back to the cache without the
 * reference drop: the worker then only ever reads the record's line, never takes it from the
 * submitter that wrote it (one thread submitting empty tasks: 74-106 became 57-80 ns per task).
 * The RMW is there for a naming shutdown holding a stale pointer (task.h, T5); it is
 * needed only if one looked at current before our store of outer (call(), seq_cst), and then
 * this load (seq_cst too) sees its count. Its decrement is a release: seeing zero after it,
 * its reads of the record happen before the recycling. */
static void run_solo(struct weft__worker *w, weft_future *t)
{
    weft_pool *p = w->pool;
    void *res;
    int st = run_scoped(w, t, &res, true);
    if (st == 0 && weft__future_plain(t) && atomic_load(&p->naming) == 0) {
        weft__rec_free(t); /* word still counts our reference: see above */
    } else {
        if (st != 0) weft__future_solo_failed(t, st);
        weft__future_unref(t); /* reports an unseen failure */
    }
    weft__pool_count_done(p);
}

/* ---- dropping queued tasks ---- */

const char weft__pool_broken_fallback[] = "pool broken: a worker initializer failed";

const char *weft__pool_broken_reason(weft_pool *p)
{
    /* The caller saw cancelling set, perhaps with a relaxed load. This seq_cst load reads a
     * store of 1 too (it is never reset) and synchronises with it: when that is the break's
     * store, the break's CAS of broken_msg before it is visible. Should a cancelling shutdown
     * and a break race, either answer is right. */
    (void)atomic_load(&p->cancelling);
    return atomic_load_explicit(&p->broken_msg, memory_order_acquire); /* pairs: break_pool */
}

/* End a queued task that will not run, the pool's reference still held: a cancelling shutdown
 * cancels its future; a broken pool fails it with WEFT_EBROKEN and the reason, as Python's
 * BrokenThreadPool, so a fire-and-forget task that nobody else would hear of is reported
 * through the pool error hook when its record is recycled. */
static void drop_unrun(weft_pool *p, weft_future *t, bool claimer)
{
    const char *why = weft__pool_broken_reason(p);
    if (why)
        weft__future_fail_pending(t, WEFT_EBROKEN, why, claimer);
    else
        weft__future_cancel_pending(t);
}

/* A worker's initializer returned rc: break the pool. The first breaker's message names the
 * worker and carries the initializer's own message (weft_error_set) or its code's text. Its
 * CAS of broken_msg comes before the stores of broken, cancelling and closed, so whoever acts on
 * those finds the reason. */
static void break_pool(struct weft__worker *w, int rc)
{
    weft_pool *p = w->pool;
    char detail[WEFT_ERROR_MESSAGE_MAX], why[WEFT_ERROR_MESSAGE_MAX + 128]; /* prefix: < 100 */
    weft__failure_message(rc, "it", detail, sizeof detail);
    snprintf(why, sizeof why, "pool broken: the initializer of worker %s-%d failed: %s", p->prefix,
             w->index + 1, detail);
    weft_error_clear(); /* the worker's slot is its tasks' */
    char *msg = weft__strdup(why), *none = NULL;
    if (msg == NULL) msg = (char *)weft__pool_broken_fallback;
    /* acq_rel: release publishes the text; acquire (on failure) makes the first one's text
     * visible to whoever synchronises with our stores below. */
    if (!atomic_compare_exchange_strong_explicit(&p->broken_msg, &none, msg, memory_order_acq_rel,
                                                 memory_order_acquire) &&
        msg != weft__pool_broken_fallback)
        free(msg);
    atomic_store(&p->broken, 1);
    atomic_store(&p->cancelling, 1);
    atomic_store(&p->closed, 1);
    weft__pool_wake_all(p);
}

void weft__pool_give_place(weft_pool *p, weft__wakelist *wl)
{
    atomic_fetch_sub(&p->queued, 1); /* seq_cst: pairs with the submitters' check */
    if (atomic_load(&p->room_waiters) == 0) return;
    weft__lock_acquire(&p->room_q.lock);
    weft__waitq_wake_one(&p->room_q, wl);
    weft__lock_release(&p->room_q.lock);
}

/* t was taken off a queue of a pool with max_queued: give its place back unless a cancel did
 * (task.h, F_UNQUEUED). A fire-and-forget record has no future: nobody can cancel it. */
static void room_made(weft_pool *p, weft_future *t)
{
    if (!t->solo && !weft__future_unqueue(t)) return;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__pool_give_place(p, &wl);
    weft__wakelist_flush(&wl);
}

/* Lazy start, the worker's half: a worker about to run a task while others wait in the queues
 * and no worker is idle starts one more (up to the maximum). Without it, a submit that saw an
 * idle worker starts none, that worker may then take a task that blocks, and the tasks queued
 * behind it would wait with workers still allowed. */
static void grow_if_backlog(struct weft__worker *w)
{
    weft_pool *p = w->pool;
    if (atomic_load(&p->sleepers) == 0 &&
        (weft__deque_size(&w->dq) > 0 ||
         atomic_load_explicit(&p->inject, memory_order_relaxed) != NULL))
        weft__pool_grow(p);
}

/* What every task taken off a queue goes through before its own run: lazy start, internal
 * tasks (run here), back-pressure, and dropping when the pool is cancelling. True if t was
 * dealt with here (and counted done). */
WEFT__HOT bool before_run(struct weft__worker *w, weft_future *t)
{
    weft_pool *p = w->pool;
    /* relaxed: a hint; ensure_worker rechecks under its lock. */
    if (atomic_load_explicit(&p->nstarted, memory_order_relaxed) < p->max_workers)
        grow_if_backlog(w);
    if (t->fn == NULL) { /* an internal task */
        weft_future *outer = atomic_load_explicit(&w->current, memory_order_relaxed);
        atomic_store_explicit(&w->current, t, memory_order_release); /* pairs: shutdown */
        t->ifn(t);
        atomic_store_explicit(&w->current, outer, memory_order_release);
        weft__future_unref(t);
        weft__pool_count_done(p);
        return true;
    }
    if (t->bounded) room_made(p, t); /* never for an inline run: it took no place */
    /* relaxed: a cancelling shutdown or the break stored it; drop_unrun synchronises. */
    if (atomic_load_explicit(&p->cancelling, memory_order_relaxed)) {
        drop_unrun(p, t, false);
        bool claimed = weft__future_claimed(t); /* its claimer counts it */
        weft__future_unref(t); /* the pool's reference (a solo failure is reported here) */
        if (!claimed) weft__pool_count_done(p);
        return true;
    }
    return false;
}

/* The end of run_awaited when its final CAS failed: a thread that uses f without a reference
 * of its own (future.h asks for one) added a listener, took a reference or cancelled f while
 * it ran. Complete f through the full protocol; if it was cancelled, its outcome is dropped
 * (the canceller was told it would not run: the one thing such misuse can cost). */
static void finish_awaited_slowly(struct weft__worker *w, weft_future *f, int st, void *res)
{
    f->own_scope = NULL; /* released: a canceller must interrupt the parker instead */
    if (!weft__future_start(f, w)) {
        weft__future_unref(f); /* cancelled: the queue's reference */
        return;
    }
    if (weft__future_finish(f, st, res)) clear_cancel(w);
}

/* The fork-join shortcut of weft_future_wait: a worker waiting for f, a task it queued itself,
 * finds it at the bottom of its own deque unless a thief took it. Taken back with exactly two
 * references (the waiter's, and the queue's, now this worker's) and no listener, f can be
 * used by no other thread (each needs a reference of its own): nobody can cancel it, wait for
 * it or take a new reference. So it runs like a fire-and-forget task, without the start CAS
 * to RUNNING, and one CAS from PENDING to FINISHED completes it and drops the queue's
 * reference. Any other task found there is run as usual. Returns false if the deque was
 * empty. */
bool weft__pool_run_awaited(struct weft__worker *w, weft_future *f)
{
    /* relaxed: as in weft__pool_find (a paused pool starts no task). */
    if (atomic_load_explicit(&w->pool->paused, memory_order_relaxed)) return false;
    weft_future *t = unless_paused(w->pool, weft__deque_take(&w->dq));
    if (t == NULL) return false;
    if (t != f || f->bounded || !weft__future_alone(f)) { /* bounded: F_UNQUEUED to set */
        weft__pool_run(w, t);
        return true;
    }
    if (before_run(w, f)) return true;
    weft_pool *p = w->pool;
    void *res;
    int st = run_scoped(w, f, &res, false);
    if (!weft__future_finish_alone(f, st, res)) finish_awaited_slowly(w, f, st, res);
    weft__pool_count_done(p);
    return true;
}

void weft__pool_run(struct weft__worker *w, weft_future *t)
{
    weft_pool *p = w->pool;
    if (before_run(w, t)) return;
    if (t->solo) {
        run_solo(w, t);
        return;
    }
    weft_scope *own, *entered;
    int refused = enter_scope(p, t, &own, &entered);
    if (weft__future_start(t, w)) {
        void *res = NULL;
        int st = refused ? refused : call(w, t, &res, false);
        /* finish drops the pool's reference: t may be recycled when it returns; a canceller
         * is done with t (and with own) once it returns. */
        bool cancel_req = weft__future_finish(t, st, res);
        leave_scope(entered, own);
        if (cancel_req && !entered) clear_cancel(w);
    } else {
        leave_scope(entered, own);
        bool claimed = weft__future_claimed(t); /* its claimer runs it and counts it */
        weft__future_unref(t);
        if (claimed) return;
    }
    weft__pool_count_done(p);
}

/* Drop a queued record without running it (a cancelling shutdown, on a non-worker thread):
 * its future ends as drop_unrun says; an internal task must still run (its waiter counts on
 * it). */
void weft__pool_drop(weft_pool *p, weft_future *t)
{
    if (t->fn == NULL) { /* an internal task */
        t->ifn(t);
    } else {
        if (p->max_queued && (t->solo || weft__future_unqueue(t)))
            atomic_fetch_sub(&p->queued, 1); /* closed: no submitter waits for room */
        drop_unrun(p, t, false);
        if (weft__future_claimed(t)) { /* its claimer counts it */
            weft__future_unref(t);
            return;
        }
    }
    weft__future_unref(t);
    weft__pool_count_done(p);
}

/* ---- a submit runs its task (opts.inline_depth) ----
 * pool.c decides, and counts; here the task, never queued, goes through the run every queued
 * task goes through (before_run, run_solo or the future's start and finish), so its future,
 * its error report and a broken pool's drop are those of a queued task. (The one exception is
 * an outside thread's fire-and-forget task without task_scopes: no record, a plain call, pool.c
 * call_inline, reported by weft__pool_report_inline as its record's recycling would.) A worker
 * of p runs it as its own (its current and counters: shutdown names it). Any other thread runs
 * it as a guest (help_as_guest), its done counted as any other thread's, and unlike a waiter's
 * help without entering p's scope: the run is part of the submit call, as an undeferred OpenMP
 * task is part of its construct, so it stays in the submitter's scope (the scope tree's lock
 * twice per task would also cost more than the queueing it saves). */
void weft__pool_run_inline(weft_pool *p, weft_future *t)
{
    struct weft__worker *w = weft__tls_worker;
    if (w && w->pool == p) {
        weft__pool_run(w, t);
    } else {
        /* Only the fields a run reads: zeroing the whole record (its padded deque) cost
         * more than the rest of an empty task's run. */
        struct weft__worker g;
        g.pool = p;
        g.index = -1;
        g.parker = weft__parker_self();
        atomic_init(&g.current, NULL);
        atomic_init(&g.busy, 0);
        atomic_init(&g.dq.top, 0); /* an empty deque: before_run's look at the backlog */
        atomic_init(&g.dq.bottom, 0);
        weft__pool_run(&g, t); /* its submit was counted (pool.c): its done counts as any */
    }
    weft_error_clear(); /* what the task left in the slot is not the submitter's */
}

void weft__pool_report_inline(int status, const char *name)
{
    /* As capture_failure and the recycler (task.c maybe_report): a task that ended with the
     * cancellation of the scope it ran in did not fail. */
    if (status == WEFT_ECANCELED && weft_scope_cancelled(weft_scope_current()) == 1) return;
    char shown[sizeof((weft_future *)0)->name], msg[WEFT_ERROR_MESSAGE_MAX];
    snprintf(shown, sizeof shown, "%s", name ? name : ""); /* cut as a record's copy is */
    weft__failure_message(status, "task", msg, sizeof msg);
    weft__pool_report(shown, status, msg);
}

/* ---- a waiter runs the task it waits for ----
 * A thread that is no worker and waits without a timeout for a future whose task has not
 * started claims it (F_CLAIMED and a reference of its own, one CAS from PENDING, task.h) and
 * runs it inline, as a guest in p's scope (help_as_guest below). It would have waited for
 * exactly that task, so this adds no dependency; the record stays in its queue, and whoever
 * takes it off only drops the queue's reference. Until the claimer counts it done the pool is
 * not calm, so no worker exits and the pool stays alive; the claimer still holds a pool
 * reference across its count and calm check (a worker may exit as soon as it counts). Pools
 * with task_scopes are left out: their workers write the record's own scope before the start
 * CAS. True if f was claimed (it is done on return). */
static void run_claimed(weft_pool *p, weft_future *f)
{
    struct weft__worker g; /* a guest: not the thread's weft__tls_worker (help_as_guest) */
    memset(&g, 0, sizeof g);
    g.pool = p;
    g.index = -1;
    g.parker = weft__parker_self();
    /* relaxed: as before_run (drop_unrun synchronises). */
    if (atomic_load_explicit(&p->cancelling, memory_order_relaxed)) {
        drop_unrun(p, f, true);
        weft__future_unref(f); /* the claim's reference */
        return;
    }
    int pool_rc = weft_scope_enter(p->scope); /* p's cancellation reaches the task, ours not */
    weft_scope *own, *entered;
    int refused = pool_rc ? pool_rc : enter_scope(p, f, &own, &entered);
    if (pool_rc) own = entered = NULL;
    if (weft__future_start_claimed(f, &g)) {
        void *res = NULL;
        int st = refused ? refused : call(&g, f, &res, false);
        bool cancel_req = weft__future_finish(f, st, res); /* drops the claim's reference */
        leave_scope(entered, own);
        if (cancel_req && !entered) clear_cancel(&g);
    } else { /* cancelled, or failed by a broken pool, since the claim */
        leave_scope(entered, own);
        weft__future_unref(f);
    }
    if (pool_rc == 0) weft_scope_exit();
    weft_error_clear(); /* what the task left in the slot is not the waiter's */
}

/* Non-zero while this thread runs a task it claimed: that task's own waits only wait, so its
 * children go to the workers (deques, the fork-join shortcut) instead of all being pulled onto
 * one outside thread (a fork-join tree waited from outside ran 2-5x slower so). */
static _Thread_local int claim_depth WEFT__TLS_IE;

bool weft__pool_run_claimed(weft_future *f)
{
    if (claim_depth > 0) return false;
    /* Room for p's scope and the task's: once claimed, the task must run or fail. */
    if (weft__scope_depth() + 2 > WEFT_SCOPE_DEPTH) return false;
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed), n;
    bool give;
    do {
        if ((s & (F_STATE | F_CLAIMED)) != F_PENDING) return false;
        give = f->bounded && !(s & F_UNQUEUED);
        n = (s + REF1) | F_CLAIMED | (give ? F_UNQUEUED : 0);
        /* acq_rel: as weft__future_start; pairs with a cancel's or a taker's RMW. */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s, n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    weft_pool *p = f->pool; /* alive: f is counted and not done */
    atomic_fetch_add(&p->refs, 1);
    if (give) {
        weft__wakelist wl = WEFT__WAKELIST_INIT;
        weft__pool_give_place(p, &wl);
        weft__wakelist_flush(&wl);
    }
    claim_depth++;
    run_claimed(p, f);
    claim_depth--;
    atomic_fetch_add(&p->ext_done, 1); /* seq_cst: before check_calm's loads */
    weft__pool_check_calm(p);
    if (atomic_load(&p->closed)) weft__pool_wake_all(p); /* workers waiting for calm to exit */
    weft__pool_unref(p);
    return true;
}

/* ---- waiting with help ---- */

/* Park on the sources (and, for a helping worker, on its pool's idle queue). A source whose
 * arm says it already fired is not linked; the condition is re-checked after arming. */
static int park_on(weft_pool *hp, struct weft__wsrc *src, size_t n, bool (*ready)(void *),
                   void *rctx, weft_ns deadline, bool cancellable)
{
    weft__waiter stack_w[4], *ws = stack_w;
    if (n + 1 > 4 && (ws = weft__malloc((n + 1) * sizeof *ws)) == NULL)
        return weft__fail(WEFT_ENOMEM, "no memory for %zu wait sources", n + 1);
    weft__park pk;
    weft__park_init(&pk, deadline);
    weft__park_what(&pk, WEFT__WAIT_FUTURE, NULL);
    pk.cancellable = cancellable;
    for (size_t i = 0; i < n; i++) {
        weft__waiter_init(&ws[i], &pk, (uint32_t)i);
        weft__lock_acquire(&src[i].q->lock);
        if (!src[i].arm(src[i].ctx)) weft__waitq_push(src[i].q, &ws[i]);
        weft__lock_release(&src[i].q->lock);
    }
    bool now = ready(rctx), idle = false;
    if (!now && hp) {
        idle = true;
        atomic_fetch_add(&hp->sleepers, 1); /* seq_cst: file comment */
        weft__waiter_init(&ws[n], &pk, (uint32_t)n);
        weft__lock_acquire(&hp->idle_q.lock);
        now = weft__pool_has_work(hp);
        if (!now) weft__waitq_push(&hp->idle_q, &ws[n]);
        weft__lock_release(&hp->idle_q.lock);
    }
    /* Ready before parking: a waker may already have claimed a linked record and will write
     * pk at its flush, so pk (on this stack) must not go before that: retract it. */
    uint32_t s = now ? weft__park_retract(&pk) : weft__park_wait(&pk);
    for (size_t i = 0; i < n; i++) weft__waiter_cancel(src[i].q, &ws[i]);
    if (idle) {
        weft__waiter_cancel(&hp->idle_q, &ws[n]);
        atomic_fetch_sub(&hp->sleepers, 1);
    }
    if (ws != stack_w) free(ws);
    if (s == WEFT__PARK_TIMEDOUT) return WEFT_ETIMEDOUT;
    if (s == WEFT__PARK_CANCELED) return WEFT_ECANCELED;
    return 0;
}

/* ---- a waiter that is no worker helps ----
 * A thread that is a worker of no pool and waits for the whole pool to be idle
 * (weft_pool_wait_idle) runs tasks of p that the workers have already taken into their deques
 * (it steals them, as an idle worker would; the injection stack is left to the workers, who
 * take it whole), until none is left or its condition holds, then parks as before, on its
 * condition alone: linked on idle_q it could take a wake-up meant for a worker and not be able
 * to act on it (the new task may be on the stack). Only there: it waits for every task anyway,
 * so running one cannot make it wait for something it would not have waited for; a waiter on
 * one future that ran some other task could block on what that task needs from the waiter's
 * own next steps (docs/design/pool.md). It runs them as a guest: a worker record on its stack
 * (so it needs no slot of the pool, and any number of waiters may help at once) that is not
 * made the thread's weft__tls_worker, so a helped task that submits submits as an outsider.
 * Each task runs inside p's scope, as on a worker: p's cancellation reaches it, the waiter's
 * does not. Between two tasks the waiter checks its own deadline and cancellation (its scope,
 * looked at directly: a cancel request for a helped task resets the parker's flag). */

static weft_future *guest_find(weft_pool *p, uint32_t *rng)
{
    if (atomic_load_explicit(&p->paused, memory_order_relaxed)) return NULL;
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire); /* pairs: start_worker */
    if (n == 0) return NULL;
    *rng = *rng * 1103515245u + 12345u;
    int first = (int)((*rng >> 16) % (uint32_t)n);
    for (int k = 0; k < n; k++) {
        weft_future *t = weft__deque_steal(&p->workers[(first + k) % n].dq);
        if (t) return unless_paused(p, t);
    }
    return NULL;
}

/* Run stolen tasks of p until none is left or ready holds: 0, or the waiter's own timeout or
 * cancellation (checked after every task). */
static int help_as_guest(weft_pool *p, bool (*ready)(void *), void *rctx, weft_ns deadline,
                         bool cancellable)
{
    if (atomic_load_explicit(&p->paused, memory_order_relaxed)) return 0;
    weft_scope *mine = weft_scope_current();
    if (weft_scope_enter(p->scope) != 0) { /* scopes nested too deep: only wait */
        weft_error_clear();
        return 0;
    }
    struct weft__worker g;
    memset(&g, 0, sizeof g);
    g.pool = p;
    g.index = -1;
    g.parker = weft__parker_self();
    g.rng = (uint32_t)(uintptr_t)&g;
    int rc = 0;
    weft_future *t;
    while (!ready(rctx) && (t = guest_find(p, &g.rng)) != NULL) {
        weft__pool_run(&g, t);
        weft_error_clear(); /* what the task left in the slot is not the waiter's */
        if (deadline != WEFT_FOREVER && weft_now() >= deadline) {
            rc = WEFT_ETIMEDOUT;
            break;
        }
        if (cancellable && weft_scope_cancelled(mine) == 1) {
            rc = WEFT_ECANCELED;
            break;
        }
    }
    weft_scope_exit();
    return rc;
}

/* ---- a paced submitter helps (opts.waiters_help) ----
 * A thread that is no worker and has run far ahead of the workers (pool.c's pacing: from
 * HELP_HIGH tasks not done) runs queued tasks itself instead of giving its CPU away, as libgomp's
 * creating thread does past its cut-off, when the pool was made with opts.waiters_help (the
 * caller agreed that its waits may run tasks; this wait is the pacing's). It takes the whole
 * injection stack, turns it around (the records were mostly just written by this thread: the
 * walk is in its own cache) and runs every one from the bottom up, as a guest in p's scope,
 * exactly as wait_idle's helping does. The stack keeps push order, newest on top, so what this
 * thread submitted starts in submission order (the workers meanwhile run what they took
 * before, which is older); the one exception is a half of a big batch that a worker shared
 * out (grab_inject, two workers or more), which goes on top of what was pushed meanwhile and
 * so runs after it, as it would on a worker. The task being submitted is not among them (it
 * is pushed only after the pacing), so a submit never runs its own task ahead of older ones.
 * Nothing is stranded: it runs all it took, but for a pause, which puts the rest back. A task
 * run here that submits to p again only yields when it is paced (pace_helping). */
static _Thread_local int pace_helping WEFT__TLS_IE;

static weft_future *reversed(weft_future *t)
{
    weft_future *r = NULL;
    while (t) {
        weft_future *next = t->next;
        void *hint = __atomic_load_n(&t->result, __ATOMIC_RELAXED); /* as push_list's walk */
        if (t->fn && hint) __builtin_prefetch(hint, 1);
        t->next = r;
        r = t;
        t = next;
    }
    return r;
}

/* Run list (oldest first) as the guest g until it ends or p is paused; returns how many ran. */
static uint64_t run_taken(weft_pool *p, struct weft__worker *g, weft_future *t)
{
    uint64_t ran = 0;
    while (t) {
        /* seq_cst, after the exchange that acquired t: unless_paused's argument. */
        if (atomic_load(&p->paused)) {
            weft_future *back = reversed(t); /* newest first again, as the stack keeps it */
            give_back(p, back, t);
            if (!atomic_load(&p->paused)) weft__pool_push_wake(p);
            break;
        }
        weft_future *next = t->next; /* t may be recycled by its run */
        weft__pool_run(g, t);
        weft_error_clear(); /* what the task left in the slot is not the submitter's */
        ran++;
        t = next;
    }
    return ran;
}

bool weft__pool_pace_help(weft_pool *p)
{
    if (pace_helping || weft__tls_worker != NULL || !p->outsiders_help) return false;
    if (atomic_load_explicit(&p->paused, memory_order_relaxed) ||
        atomic_load_explicit(&p->inject, memory_order_relaxed) == NULL)
        return false;
    if (weft_scope_enter(p->scope) != 0) { /* scopes nested too deep: only yield */
        weft_error_clear();
        return false;
    }
    /* acquire: pairs with the pushers' CAS (the records' contents). */
    weft_future *t = atomic_exchange_explicit(&p->inject, NULL, memory_order_acquire);
    struct weft__worker g; /* a guest, as in help_as_guest */
    memset(&g, 0, sizeof g);
    g.pool = p;
    g.index = -1;
    g.parker = weft__parker_self();
    struct weft__done_batch batch = {p, 0}, *outer = weft__tls_done_batch;
    weft__tls_done_batch = &batch;
    pace_helping = 1;
    uint64_t ran = run_taken(p, &g, reversed(t));
    pace_helping = 0;
    weft__tls_done_batch = outer;
    if (batch.n) atomic_fetch_add(&p->ext_done, batch.n); /* seq_cst: before check_calm's */
    weft__pool_check_calm(p);
    weft_scope_exit();
    return ran > 0;
}

static int wait_help(weft_pool *help, bool guest, struct weft__wsrc *src, size_t n,
                     bool (*ready)(void *), void *rctx, weft_ns deadline, bool cancellable)
{
    struct weft__worker *w = weft__tls_worker;
    guest = guest && w == NULL && help->outsiders_help;
    if (w && w->pool != help) w = NULL;
    for (;;) {
        if (ready(rctx)) return 0;
        if (w) {
            weft_future *t = weft__pool_find(w);
            if (t) {
                weft__pool_run(w, t);
                continue;
            }
        } else if (guest) {
            int rc = help_as_guest(help, ready, rctx, deadline, cancellable);
            if (ready(rctx)) return 0;
            if (rc != 0) return rc;
        }
        if (cancellable && weft__cancel_pending()) return WEFT_ECANCELED;
        int rc = park_on(w ? help : NULL, src, n, ready, rctx, deadline, cancellable);
        if (rc != 0) return ready(rctx) ? 0 : rc;
    }
}

int weft__wait_help(weft_pool *help, struct weft__wsrc *src, size_t n, bool (*ready)(void *),
                    void *rctx, weft_ns deadline, bool cancellable)
{
    return wait_help(help, false, src, n, ready, rctx, deadline, cancellable);
}

int weft__wait_help_all(weft_pool *p, struct weft__wsrc *src, bool (*ready)(void *), void *rctx,
                        weft_ns deadline)
{
    return wait_help(p, true, src, 1, ready, rctx, deadline, true);
}

/* ---- the worker ---- */

static bool exit_now(weft_pool *p)
{
    return atomic_load(&p->closed) && weft__pool_calm(p);
}

/* Park the idle worker on idle_q (not cancellable: a cancelled pool scope must not make it
 * spin); returns when woken. */
static void idle_park(struct weft__worker *w)
{
    weft_pool *p = w->pool;
    weft__park pk;
    weft__park_init(&pk, WEFT_FOREVER);
    weft__park_what(&pk, WEFT__WAIT_POOL, p);
    pk.cancellable = false;
    weft__waiter rec;
    weft__waiter_init(&rec, &pk, 0);
    publish_done(w);
    atomic_fetch_add(&p->sleepers, 1); /* seq_cst: file comment */
    weft__lock_acquire(&p->idle_q.lock);
    if (weft__pool_has_work(p) || exit_now(p)) {
        weft__lock_release(&p->idle_q.lock);
    } else {
        weft__waitq_push(&p->idle_q, &rec);
        weft__lock_release(&p->idle_q.lock);
        weft__park_wait(&pk);
        weft__waiter_cancel(&p->idle_q, &rec);
    }
    atomic_fetch_sub(&p->sleepers, 1);
}

static weft_future *search(struct weft__worker *w)
{
    for (int r = 0; r < SEARCH_ROUNDS; r++) {
        weft_future *t = weft__pool_find(w);
        if (t) return t;
        if (r & 7)
            weft__os_relax();
        else
            weft__os_yield();
    }
    return NULL;
}

static void worker_loop(struct weft__worker *w)
{
    weft_pool *p = w->pool;
    for (;;) {
        weft_future *t = weft__pool_find(w);
        if (t == NULL) {
            publish_done(w);
            weft__pool_check_calm(p);
            if (exit_now(p)) return;
            t = search(w);
        }
        if (t) {
            weft__pool_run(w, t);
            continue;
        }
        idle_park(w);
    }
}

int weft__worker_main(void *arg)
{
    struct weft__worker *w = arg;
    weft_pool *p = w->pool;
    weft__tls_worker = w;
    w->parker = weft__parker_self();
    weft__scope_register_self();
    w->rng = 0x9e3779b9u * (uint32_t)(w->index + 1);
    int rc = p->init ? p->init(p->init_arg) : 0;
    if (rc != 0) break_pool(w, rc);
    worker_loop(w); /* a broken pool drains its queue: every task fails with WEFT_EBROKEN */
    publish_done(w);
    weft__pool_check_calm(p);
    weft__pool_wake_all(p); /* the others may be waiting for calm to exit too */
    weft__tls_worker = NULL;
    if (atomic_fetch_sub(&p->live, 1) == 1) {
        weft__wakelist wl = WEFT__WAKELIST_INIT;
        weft__lock_acquire(&p->exit_q.lock);
        weft__waitq_wake_all(&p->exit_q, &wl);
        weft__lock_release(&p->exit_q.lock);
        weft__wakelist_flush(&wl);
    }
    weft__pool_unref(p);
    return 0;
}
