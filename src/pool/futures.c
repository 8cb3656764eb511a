/* src/pool/futures.c - the public future calls (weft_future_*: state queries, cancel, waiting,
 * results, callbacks, references, names) and the pool error hook. They move the record's
 * state only through pool/task.h, where the state machine and its invariants are written.
 * Lock order: docs/design/locks.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>
#include <weft/future.h>

#include "core/fork.h"
#include "core/internal.h"
#include "pool/pool_internal.h"

static struct {
    weft__lock lock;
    weft_pool_error_hook fn;
    void *arg;
} hook;

static void default_hook(const char *name, int status, const char *message, void *arg)
{
    (void)arg;
    fprintf(stderr, "weft: task '%s' failed: %s (status %d): %s\n", name, weft_errname(status),
            status, message);
}

/* fork() (fork.c's table): the hook's lock is held across it (a leaf). */
void weft__pool_hook_fork_prepare(void)
{
    weft__lock_acquire(&hook.lock);
}

void weft__pool_hook_fork_parent(void)
{
    weft__lock_release(&hook.lock);
}

void weft__pool_hook_fork_child(void)
{
    weft__lock_release(&hook.lock);
}

int weft_pool_set_error_hook(weft_pool_error_hook fn, void *arg)
{
    weft__lock_acquire(&hook.lock);
    hook.fn = fn;
    hook.arg = fn ? arg : NULL;
    weft__lock_release(&hook.lock);
    return 0;
}

void weft__pool_report(const char *name, int status, const char *message)
{
    weft__lock_acquire(&hook.lock);
    weft_pool_error_hook fn = hook.fn ? hook.fn : default_hook;
    void *arg = hook.arg;
    weft__lock_release(&hook.lock);
    fn(name, status, message, arg);
}

int weft_future_cancel(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return weft__future_cancel(f);
}

int weft_future_done(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return weft__future_is_done(f);
}

int weft_future_cancelled(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return weft__future_state(f) == F_CANCELLED;
}

int weft_future_running(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return weft__future_state(f) == F_RUNNING;
}

int weft_future_add_done_callback(weft_future *f, weft_future_cb cb, void *arg)
{
    if (f == NULL || cb == NULL)
        return weft__fail(WEFT_EINVAL, "%s", f == NULL ? "f is NULL" : "cb is NULL");
    if (weft__future_is_done(f)) {
        cb(f, arg);
        return 0;
    }
    struct weft__cb *node = weft__malloc(sizeof *node);
    if (node == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a done callback");
    node->fn = cb;
    node->arg = arg;
    node->embedded = false;
    if (weft__cb_add(f, node)) {
        free(node);
        cb(f, arg);
    }
    return 0;
}

/* weft_future_route's callback: hand q the reference taken for it, or drop it. The put never
 * waits (q is unbounded) and f stays alive through it (the completer holds a reference). */
static void route_done(weft_future *f, void *arg)
{
    if (weft_queue_put(arg, f, 0) != 0) weft__future_unref(f);
}

int weft_future_route(weft_future *f, weft_queue *q)
{
    if (f == NULL || q == NULL)
        return weft__fail(WEFT_EINVAL, "%s", f == NULL ? "f is NULL" : "q is NULL");
    if (weft_queue_capacity(q) != 0)
        return weft__fail(WEFT_EINVAL, "q is bounded: a completing thread must never wait");
    weft__future_ref(f); /* the item's */
    int rc = weft_future_add_done_callback(f, route_done, q);
    if (rc) weft__future_unref(f);
    return rc;
}

int weft_future_ref(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    weft__future_ref(f); /* the caller has one */
    return 0;
}

void weft_future_unref(weft_future *f)
{
    if (f) weft__future_unref(f);
}

int weft_future_name(weft_future *f, char *buf, size_t size)
{
    if (f == NULL || buf == NULL || size == 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          f == NULL     ? "f is NULL"
                          : buf == NULL ? "buf is NULL"
                                        : "size is 0");
    snprintf(buf, size, "%s", f->name);
    return 0;
}

/* ---- waiting ---- */

int weft_future_wait(weft_future *f, weft_ns timeout)
{
    if (f == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", f == NULL ? "f is NULL" : "timeout is negative");
    if (weft__future_is_done(f)) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    struct weft__worker *w = weft__tls_worker;
    /* No timeout, no worker: run the awaited task here if it has not started (sched.c). */
    if (timeout == WEFT_FOREVER && w == NULL && f->claimable && weft__pool_run_claimed(f) &&
        weft__future_is_done(f))
        return 0;
    /* Fork-join: the awaited task is most often at the bottom of the waiter's own deque. */
    if (w && w->pool == f->pool && weft__pool_run_awaited(w, f) && weft__future_is_done(f))
        return 0;
    struct weft__wsrc src = {&f->wq, weft__future_arm, f};
    /* A future no pool made: a worker helps its own pool (what will set f may be queued). */
    weft_pool *help = f->pool ? f->pool : w ? w->pool : NULL;
    return weft__wait_help(help, &src, 1, weft__future_ready, f, weft_deadline(timeout), true);
}

int weft_future_result(weft_future *f, void **result, weft_ns timeout)
{
    int rc = weft_future_wait(f, timeout);
    if (rc != 0) return rc;
    if (weft__future_state(f) == F_CANCELLED) return WEFT_ECANCELED; /* acquire: T2 */
    if (result) *result = f->result;
    if (f->status != 0) {
        char buf[48];
        atomic_store_explicit(&f->observed, true, memory_order_relaxed); /* read at unref */
        weft__error_put(f->status, weft__future_message(f, buf, sizeof buf));
    }
    return f->status;
}
