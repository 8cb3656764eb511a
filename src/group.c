/* src/group.c - task groups: spawn tasks, wait for all, the first failure cancels the rest.
 *
 * A group owns a cancel scope (a child of its creator's current scope or of opts.scope). Each
 * task runs inside a scope of its own, a child of the group's: on a pool (the pool enters that
 * scope around the task) or on a weft thread started with the group's scope as the parent of
 * the thread's own scope. So cancelling the group's scope (a failure, weft_group_cancel, an
 * ancestor) reaches every task and, through the scopes tasks make, every nested group.
 *
 * Invariants (under g->q.lock, which also guards g->q, the weft_group_wait records):
 *   - running counts tasks spawned and not yet finished; when it drops to 0 every waiter is
 *     woken (they re-check it, since a task may spawn a sibling first);
 *   - result/message are written once, by the first task whose failure is its own (not a
 *     WEFT_ECANCELED that follows the group's cancellation); only after writing them does that
 *     task cancel the scope, so a wait that sees running == 0 sees the result;
 *   - closed is set by a wait that saw running == 0 (and by free): no spawn after it;
 *   - refs counts the handle and each unfinished task; whoever drops the last frees the group,
 *     after its own unlock (a task may finish after weft_group_free's wait returned but before
 *     it let go of the lock).
 * pool, scope and threads are set at creation and never change.
 * Lock order: docs/design/locks.md. Here: admit takes tree_lock under g->q.lock (is the scope
 * cancelled?); scope cancellation, thread starts and pool submits run without g->q.lock.
 *
 * Every task ends exactly once (task_done): after fn returned, or, on a pool, from the future's
 * done-callback when the pool dropped the queued task without running it (a cancelling
 * shutdown: WEFT_ECANCELED; a broken pool: its WEFT_EBROKEN failure). A task thread or pool
 * task always reports 0 to weft_thread / the pool: the group reports the status, so a failure
 * never also reaches the thread or pool error hook.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/group.h>
#include <weft/thread.h>

#include "core/internal.h"
#include "core/park.h"
#include "core/opts.h"
#include "pool/hooks.h"

struct weft_group {
    weft__waitq q; /* q.lock guards the fields below up to message */
    int refs, running;
    bool closed;
    bool cancelled_seen; /* a task ended with WEFT_ECANCELED because the group was cancelled */
    int result;
    char message[WEFT_ERROR_MESSAGE_MAX];
    unsigned long spawned;
    weft_scope *scope;
    weft_pool *pool; /* NULL: a thread per task */
};

struct task {
    weft_group *g;
    int (*fn)(void *arg);
    void *arg;
    struct weft__cb done_cb; /* pool mode: the future's done-callback, embedded */
    char name[WEFT_THREAD_NAME_MAX];
};

/* The group whose task the calling thread runs (NULL outside tasks). */
static _Thread_local weft_group *tls_group WEFT__TLS_IE;

/* ---- finishing a task ---- */

static void destroy(weft_group *g)
{
    weft_scope_free(g->scope);
    free(g);
}

/* Drop one ref and, when running reaches 0, wake the waiters; dec_running: a task ends. */
static void put_ref(weft_group *g, bool dec_running)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&g->q.lock);
    if (dec_running && --g->running == 0) weft__waitq_wake_all(&g->q, &wl);
    bool last = --g->refs == 0;
    weft__lock_release(&g->q.lock);
    weft__wakelist_flush(&wl);
    if (last) destroy(g);
}

/* Record task k's status (msg: its message, "" for none); the first failure of its own
 * cancels the group. k itself is freed by the caller. */
static void task_done(struct task *k, int status, const char *msg)
{
    weft_group *g = k->g;
    bool consequence = status == WEFT_ECANCELED && weft_scope_cancelled(g->scope) == 1;
    weft__lock_acquire(&g->q.lock);
    bool first = status != 0 && !consequence && g->result == 0;
    if (first) {
        g->result = status;
        snprintf(g->message, sizeof g->message, "%s", msg);
    }
    if (consequence) g->cancelled_seen = true;
    weft__lock_release(&g->q.lock);
    /* Our ref keeps g (and its scope) alive until put_ref. */
    if (first) weft_scope_cancel(g->scope, status, "task '%s' failed: %s", k->name, msg);
    put_ref(g, true);
}

/* Run task k on the calling thread, already inside the task's scope. A task whose group was
 * cancelled before it started is not run: it counts as cancelled. */
static void run_task(struct task *k)
{
    weft_group *outer = tls_group;
    char msg[WEFT_ERROR_MESSAGE_MAX] = "";
    int status = WEFT_ECANCELED;
    tls_group = k->g;
    if (!weft_cancelled()) {
        weft_error_clear();
        status = k->fn(k->arg);
        if (status != 0) weft__failure_message(status, "task", msg, sizeof msg);
    }
    tls_group = outer;
    task_done(k, status, msg);
}

/* ---- the two ways to run a task ---- */

static int task_thread(void *arg)
{
    run_task(arg);
    free(arg);
    return 0; /* the group reports the status, not the thread error hook */
}

static int start_thread(struct task *k)
{
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = k->name;
    o.scope = k->g->scope;
    weft_thread t;
    int rc = weft_thread_start(&t, task_thread, k, &o);
    if (rc == 0) weft_thread_detach(t); /* a failure is ours to report, see task_thread */
    return rc;
}

static int pool_task(void *arg, void **result)
{
    (void)result;
    run_task(arg);
    return 0; /* the group reports the status, not the pool error hook; k goes in task_cb */
}

/* The future's done-callback: frees k, after ending it if the pool dropped it unrun. Once it
 * ran, pool_task returned 0; a failed future therefore never ran pool_task (the pool broke, or
 * the task's scope could not be entered): the group reports that failure, the pool hook not. */
static void task_cb(weft_future *f, void *arg)
{
    struct task *k = arg;
    const char *msg;
    int st;
    if (weft_future_cancelled(f) == 1)
        task_done(k, WEFT_ECANCELED, "task dropped by its pool before it ran");
    else if ((st = weft__future_failure(f, &msg)) != 0) /* marks it seen: no pool report */
        task_done(k, st, msg);
    free(k);
}

static int submit(struct task *k)
{
    weft_scope *s;
    int rc = weft_scope_new(&s, k->g->scope, NULL);
    if (rc) return rc;
    weft_future *f;
    /* On success the pool takes our reference to s and releases it with the record. */
    rc = weft__pool_submit_scoped(k->g->pool, s, k->name, pool_task, k, &f, WEFT_FOREVER);
    if (rc) {
        weft_scope_free(s);
        return rc;
    }
    k->done_cb = (struct weft__cb){.fn = task_cb, .arg = k, .embedded = true};
    if (weft__cb_add(f, &k->done_cb)) task_cb(f, k); /* already done: not linked */
    weft_future_unref(f);
    return 0;
}

/* ---- public API ---- */

/* The pool a new group runs on: opts', else the enclosing task's group's, else the default. */
static int pick_pool(const weft_group_opts *o, weft_pool **pool)
{
    if (o && o->pool && o->threads)
        return weft__fail(WEFT_EINVAL, "opts sets both pool and threads");
    if (o && (o->pool || o->threads)) {
        *pool = o->pool;
        return 0;
    }
    *pool = tls_group ? tls_group->pool : weft_pool_default();
    return tls_group || *pool ? 0 : weft__fail(WEFT_ENOMEM, "the default pool could not be made");
}

int weft_group_new(weft_group **out, const weft_group_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_group_opts") != 0) return WEFT_EINVAL;
    weft_pool *pool;
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    int rc = pick_pool(opts, &pool);
    if (rc) return rc;
    weft_group *g = weft__calloc(1, sizeof *g);
    if (g == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a group");
    rc = weft_scope_new(&g->scope, opts ? opts->scope : NULL, NULL);
    if (rc) {
        free(g);
        return rc;
    }
    g->pool = pool;
    g->refs = 1;
    *out = g;
    return 0;
}

/* Count a new task in g: WEFT_ECLOSED after the result was given, WEFT_ECANCELED once the group
 * is cancelled. Names the task if unnamed. */
static int admit(weft_group *g, struct task *k, const char *name)
{
    weft__lock_acquire(&g->q.lock);
    int rc = g->closed ? WEFT_ECLOSED : 0;
    if (rc == 0 && weft_scope_cancelled(g->scope) == 1) rc = WEFT_ECANCELED;
    if (rc == 0) {
        g->running++;
        g->refs++;
        g->spawned++;
        if (name == NULL) snprintf(k->name, sizeof k->name, "task-%lu", g->spawned);
    }
    weft__lock_release(&g->q.lock);
    return rc;
}

int weft_group_spawn(weft_group *g, int (*fn)(void *arg), void *arg, const char *name)
{
    if (g == NULL || fn == NULL)
        return weft__fail(WEFT_EINVAL, "%s", g == NULL ? "g is NULL" : "fn is NULL");
    if (name && strlen(name) >= WEFT_THREAD_NAME_MAX)
        return weft__fail(WEFT_EINVAL, "name is %zu bytes; the limit is %d", strlen(name),
                          WEFT_THREAD_NAME_MAX - 1);
    struct task *k = weft__calloc(1, sizeof *k);
    if (k == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a group task");
    k->g = g;
    k->fn = fn;
    k->arg = arg;
    if (name) snprintf(k->name, sizeof k->name, "%s", name);
    int rc = admit(g, k, name);
    if (rc == 0) {
        rc = g->pool ? submit(k) : start_thread(k);
        if (rc) put_ref(g, true); /* undo admit: the handle's ref keeps g */
    }
    if (rc) free(k);
    return rc;
}

/* For weft__wait_help: under g->q.lock (arm) and without it (ready). */
static bool idle_arm(void *ctx)
{
    return ((weft_group *)ctx)->running == 0;
}

static bool idle_ready(void *ctx)
{
    weft_group *g = ctx;
    weft__lock_acquire(&g->q.lock);
    bool idle = g->running == 0;
    weft__lock_release(&g->q.lock);
    return idle;
}

/* Wait until no task runs; a worker of g's pool runs its tasks meanwhile. Returns 0 with
 * g->q.lock HELD, or an error with it released. cancellable false: only the deadline can cut
 * the wait short (weft_group_free). */
static int wait_idle(weft_group *g, weft_ns deadline, bool try_only, bool cancellable)
{
    struct weft__wsrc src = {&g->q, idle_arm, g};
    for (;;) {
        weft__lock_acquire(&g->q.lock);
        if (g->running == 0) return 0;
        weft__lock_release(&g->q.lock);
        if (try_only) return WEFT_EAGAIN;
        int rc = weft__wait_help(g->pool, &src, 1, idle_ready, g, deadline, cancellable);
        if (rc) return rc;
    }
}

/* The result of g once idle (lock held on entry, released here), delivered to the caller. */
static int give_result(weft_group *g)
{
    char msg[WEFT_ERROR_MESSAGE_MAX];
    g->closed = true;
    int result = g->result;
    bool cancelled = g->cancelled_seen;
    memcpy(msg, g->message, sizeof msg);
    weft__lock_release(&g->q.lock);
    if (result == 0 && cancelled) {
        result = WEFT_ECANCELED;
        if (weft_scope_reason(g->scope, NULL, msg, sizeof msg) != 1)
            snprintf(msg, sizeof msg, "%s", weft_strerror(result));
    }
    if (result != 0) weft__error_put(result, msg);
    return result;
}

int weft_group_wait(weft_group *g, weft_ns timeout)
{
    weft_ns deadline;
    if (g == NULL) return weft__fail(WEFT_EINVAL, "g is NULL");
    int rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    if (tls_group == g) return WEFT_EDEADLK;
    rc = wait_idle(g, deadline, timeout == 0, true);
    if (rc == WEFT_ECANCELED) weft_group_cancel(g); /* the tasks follow their waiter */
    if (rc) return rc;
    return give_result(g);
}

int weft_group_cancel(weft_group *g)
{
    if (g == NULL) return weft__fail(WEFT_EINVAL, "g is NULL");
    return weft_scope_cancel(g->scope, WEFT_ECANCELED, "group cancelled");
}

weft_scope *weft_group_scope(weft_group *g)
{
    return g ? g->scope : NULL;
}

int weft_group_free(weft_group *g)
{
    if (g == NULL) return weft__fail(WEFT_EINVAL, "g is NULL");
    if (tls_group == g) return WEFT_EDEADLK;
    weft__lock_acquire(&g->q.lock);
    bool busy = g->running > 0;
    weft__lock_release(&g->q.lock);
    if (busy) weft_group_cancel(g);
    wait_idle(g, WEFT_FOREVER, false, false); /* cannot fail: no deadline, not cancellable */
    g->closed = true;
    bool last = --g->refs == 0;
    weft__lock_release(&g->q.lock);
    if (last) destroy(g);
    return 0;
}
