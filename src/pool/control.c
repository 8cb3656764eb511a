/* src/pool/control.c - shutdown, free, wait_idle, pause/resume, statistics, the default pool.
 *
 * A cancelling shutdown marks the pool `cancelling` before it closes it, empties the injection
 * stack and steals every queued record from the deques, cancelling each future, then cancels
 * the pool's scope (every worker's scope is a child: running tasks see WEFT_ECANCELED). A
 * record a worker popped in the meantime (after a task that ended by itself) sees `cancelling`
 * and is cancelled by the worker instead of run (sched.c), a moment after the shutdown may
 * have returned. A pool that broke (a worker initializer failed) is `cancelling`
 * too, and its dropped records fail with WEFT_EBROKEN instead (sched.c, drop_unrun). The
 * protocol that keeps a racing submit from being lost is in pool.c. No lock is held across
 * calls here (docs/design/locks.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <weft/error.h>

#include "core/internal.h"
#include "pool/pool_internal.h"
#include "test_hooks.h"

static void drain(weft_pool *p)
{
    /* acquire: pairs with the pushers' CAS. */
    weft_future *t = atomic_exchange_explicit(&p->inject, NULL, memory_order_acquire);
    /* The stack is newest first; cancel in submission order for callbacks' sake. */
    weft_future *rev = NULL;
    while (t) {
        weft_future *next = t->next;
        t->next = rev;
        rev = t;
        t = next;
    }
    while (rev) {
        weft_future *next = rev->next;
        weft__pool_drop(p, rev);
        rev = next;
    }
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire); /* pairs: start_worker */
    for (int i = 0; i < n; i++)
        while ((t = weft__deque_steal(&p->workers[i].dq)) != NULL) weft__pool_drop(p, t);
}

static bool exited_arm(void *ctx)
{
    weft_pool *p = ctx;
    return atomic_load(&p->live) == 0;
}

/* Name the tasks still running, into the caller's error slot. */
static void name_running(weft_pool *p)
{
    char msg[WEFT_ERROR_MESSAGE_MAX];
    size_t len = (size_t)snprintf(msg, sizeof msg, "still running:");
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire);
    int found = 0;
    /* seq_cst: before the loads of current. A worker that finished a fire-and-forget task
     * before such a load lets its record go without an RMW only if it saw no naming after
     * its store of current (sched.c run_solo); one that sees us drops it with one. */
    atomic_fetch_add(&p->naming, 1);
    for (int i = 0; i < n && len < sizeof msg; i++) {
        struct weft__worker *w = &p->workers[i];
        /* Records are type-stable (task.h): take a ref only if it is still live, then
         * check it is current. seq_cst: pairs with the worker's store of current (above). */
        weft_future *f = atomic_load(&w->current);
        if (f == NULL) continue;
        if (!weft__future_ref_live(f)) continue;
        if (atomic_load_explicit(&w->current, memory_order_acquire) == f) {
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s '%s' on %s-%d",
                                    found++ ? "," : "", f->name, p->prefix, i + 1);
        }
        weft__future_unref(f);
    }
    /* release half: a worker that reads this and recycles a record without an RMW comes after
     * our reads of its name. */
    atomic_fetch_sub(&p->naming, 1);
    if (!found) snprintf(msg + len, sizeof msg - len, " (no task: workers exiting)");
    weft_error_set(WEFT_ETIMEDOUT, "%s", msg);
}

int weft_pool_shutdown(weft_pool *p, int wait, int cancel_pending, weft_ns timeout)
{
    if (p == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", p == NULL ? "p is NULL" : "timeout is negative");
    if (cancel_pending) atomic_store(&p->cancelling, 1);
    atomic_store(&p->paused, 0); /* a paused pool could never drain */
    atomic_store(&p->closed, 1); /* seq_cst: pool.c's file comment */
    if (cancel_pending) {
        /* Queued first: a running task cut short first would free its worker to pop one of
         * them, which would then be cancelled by that worker only after this call returned. */
        drain(p);
        weft_scope_cancel(p->scope, WEFT_ECANCELED, "pool shut down");
    }
    weft__pool_wake_all(p);
    weft__pool_check_calm(p);
    /* Room waiters must see `closed`. */
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&p->room_q.lock);
    weft__waitq_wake_all(&p->room_q, &wl);
    weft__lock_release(&p->room_q.lock);
    weft__wakelist_flush(&wl);
    if (!wait) return 0;
    if (weft__tls_worker && weft__tls_worker->pool == p) return WEFT_EDEADLK;
    if (atomic_load(&p->live) == 0) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    struct weft__wsrc src = {&p->exit_q, exited_arm, p};
    int rc = weft__wait_help(NULL, &src, 1, exited_arm, p, weft_deadline(timeout), true);
    if (rc == WEFT_ETIMEDOUT) name_running(p);
    return rc;
}

void weft_pool_free(weft_pool *p)
{
    if (p == NULL || p->is_default) return;
    if (!atomic_load(&p->closed)) {
        weft_shield_begin();
        weft_pool_shutdown(p, 1, 0, WEFT_FOREVER);
        weft_shield_end();
    } else {
        weft__pool_wake_all(p);
    }
    weft__pool_unref(p);
}

static bool calm_arm(void *ctx)
{
    return weft__pool_calm(ctx);
}

int weft_pool_wait_idle(weft_pool *p, weft_ns timeout)
{
    if (p == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", p == NULL ? "p is NULL" : "timeout is negative");
    if (weft__tls_worker && weft__tls_worker->pool == p) return WEFT_EDEADLK;
    if (weft__pool_calm(p)) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    atomic_fetch_add(&p->calm_waiters, 1); /* seq_cst: pairs with weft__pool_check_calm */
    struct weft__wsrc src = {&p->calm_q, calm_arm, p};
    /* a waiter that is no worker runs p's queued tasks meanwhile (sched.c) */
    int rc = weft__wait_help_all(p, &src, calm_arm, p, weft_deadline(timeout));
    atomic_fetch_sub(&p->calm_waiters, 1);
    return rc;
}

int weft_pool_pause(weft_pool *p)
{
    if (p == NULL) return weft__fail(WEFT_EINVAL, "p is NULL");
    atomic_store(&p->paused, 1);
    return 0;
}

int weft_pool_resume(weft_pool *p)
{
    if (p == NULL) return weft__fail(WEFT_EINVAL, "p is NULL");
    atomic_store(&p->paused, 0); /* seq_cst: before the idle check under idle_q's lock */
    weft__pool_wake_all(p);
    return 0;
}

/* Idle workers link a record on idle_q under its lock before they sleep (sched.c). */
size_t weft__test_pool_parked(weft_pool *p)
{
    weft__lock_acquire(&p->idle_q.lock);
    size_t n = weft__waitq_count(&p->idle_q);
    weft__lock_release(&p->idle_q.lock);
    return n;
}

weft_pool *weft__test_pool_of_caller(void)
{
    struct weft__worker *w = weft__tls_worker;
    return w ? w->pool : NULL;
}

int weft_pool_stats(weft_pool *p, struct weft_pool_stats *out)
{
    if (p == NULL || out == NULL)
        return weft__fail(WEFT_EINVAL, "%s", p == NULL ? "p is NULL" : "out is NULL");
    memset(out, 0, sizeof *out);
    weft__pool_inline_flush(p); /* this thread's own inline runs (pool.c) */
    int n = atomic_load_explicit(&p->nstarted, memory_order_acquire);
    uint64_t done = atomic_load(&p->ext_done), sub = atomic_load(&p->ext_submitted);
    for (int i = 0; i < n; i++) {
        done += atomic_load(&p->workers[i].done);
        sub += atomic_load(&p->workers[i].spawned);
        out->busy += atomic_load_explicit(&p->workers[i].busy, memory_order_relaxed) > 0;
    }
    out->max_workers = p->max_workers;
    out->workers = out->workers_high = n;
    out->idle = n - out->busy;
    out->submitted = sub;
    out->completed = done < sub ? done : sub;
    uint64_t outstanding = sub - out->completed;
    out->queued = outstanding > (uint64_t)out->busy ? outstanding - (uint64_t)out->busy : 0;
    out->queued_high = atomic_load_explicit(&p->queued_high, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        uint64_t s = (uint64_t)weft__deque_size(&p->workers[i].dq);
        if (s > out->queued_high) out->queued_high = s;
    }
    if (out->queued > out->queued_high) out->queued_high = out->queued;
    out->paused = atomic_load(&p->paused);
    out->shutdown = atomic_load(&p->closed);
    return 0;
}

static weft_pool *default_pool;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void make_default(void)
{
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.name_prefix = "weft";
    o.scope = weft_scope_root();
    weft_pool *p;
    if (weft_pool_new(&p, &o) != 0) return;
    p->is_default = true;
    default_pool = p;
}

weft_pool *weft_pool_default(void)
{
    pthread_once(&default_once, make_default);
    return default_pool;
}
