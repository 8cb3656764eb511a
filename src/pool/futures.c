/* src/pool/futures.c - the future side of a task record: states, completion, waiting,
 * cancellation, done-callbacks, references and the report of unseen failures.
 *
 * Protocol (state word in pool_internal.h):
 *   - completion is one exchange of the state word; only if the old word had F_LISTEN does the
 *     completer take f->wq.lock, wake the waiters and detach the callbacks, which it runs after
 *     dropping the lock. A waiter or a callback registers by setting F_LISTEN with a fetch_or
 *     under f->wq.lock and re-checks the state it returns, so no completion is missed.
 *   - status, result, message are written before the release half of that exchange and read
 *     after an acquire load that sees FINISHED.
 *   - cancelling a RUNNING future sets F_CANCEL_REQ by CAS and interrupts the runner's parker,
 *     both under f->wq.lock; the runner, seeing F_CANCEL_REQ in the word its exchange replaced,
 *     takes f->wq.lock once (so the interrupt is over) and clears its parker before it runs the
 *     next task (sched.c).
 *   - a queued task its broken pool will not run completes like a failed one: PENDING ->
 *     FINISHED by CAS (which loses to a cancel), status WEFT_EBROKEN and a copy of the pool's
 *     reason written before it; so done but not cancelled, and reported if nobody looks.
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

static const char *message_of(weft_future *f, char *buf, size_t size)
{
    if (f->message) return f->message;
    if (strcmp(weft_errname(f->status), "WEFT_E?") != 0) return weft_strerror(f->status);
    snprintf(buf, size, "task returned %d", f->status);
    return buf;
}

/* After the state left PENDING/RUNNING for good (old: the word it replaced): wake the
 * waiters and run the callbacks if anyone listened. */
static void after_done(weft_future *f, uint32_t old)
{
    if (!(old & F_LISTEN)) return;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&f->wq.lock);
    struct weft__cb *cb = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    weft__waitq_wake_all(&f->wq, &wl);
    weft__lock_release(&f->wq.lock);
    weft__wakelist_flush(&wl);
    while (cb) {
        struct weft__cb *next = cb->next;
        bool own = !cb->embedded;
        cb->fn(f, cb->arg); /* an embedded node may be gone after its call */
        if (own) free(cb);
        cb = next;
    }
}

void weft__future_notify(weft_future *f, uint32_t old)
{
    after_done(f, old);
}

int weft__future_start(weft_future *f, struct weft__worker *w)
{
    /* relaxed: published by the release half of the CAS below (read by cancel after an
     * acquire load that sees RUNNING). */
    atomic_store_explicit(&f->runner, w, memory_order_relaxed);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if ((s & F_STATE) != F_PENDING) return 0;
        /* acq_rel: release publishes runner to cancel; acquire pairs with a cancel that
         * lost. */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~(uint64_t)F_STATE) | F_RUNNING,
                                                    memory_order_acq_rel, memory_order_relaxed));
    return 1;
}

bool weft__future_finish(weft_future *f, int status, void *result, struct weft__worker *w)
{
    (void)w;
    f->status = status;
    f->result = result;
    /* One CAS: RUNNING -> FINISHED and, when nobody listens and no cancel is in flight, the
     * pool's reference dropped with it. With listeners the reference is kept until they are
     * served (a woken waiter may release the last user reference at once). acq_rel: release
     * publishes status/result/message to readers that acquire FINISHED; acquire pairs with
     * the CAS that set F_CANCEL_REQ and with other holders' reference drops. */
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed), n;
    bool keep;
    do {
        keep = (s & (F_LISTEN | F_CANCEL_REQ)) != 0;
        n = ((s & ~(uint64_t)F_STATE) | F_FINISHED) - (keep ? 0 : REF1);
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s, n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (!keep) {
        if (weft__refs_of(s) == 1) weft__future_recycle(f);
        return false;
    }
    if (s & F_CANCEL_REQ) {
        f->cancel_seen = true;
        /* The canceller interrupts under this lock: once we hold it, it is done. */
        weft__lock_acquire(&f->wq.lock);
        weft__lock_release(&f->wq.lock);
    }
    after_done(f, (uint32_t)s);
    weft__future_unref(f);
    return (s & F_CANCEL_REQ) != 0;
}

/* CAS a PENDING future to CANCELLED; true if this call did it. */
static bool cancel_if_pending(weft_future *f)
{
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if ((s & F_STATE) != F_PENDING) return false;
        /* acq_rel: as finish's CAS (publishes nothing new but keeps the order). */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~(uint64_t)0xffffffffu) | F_CANCELLED,
                                                    memory_order_acq_rel, memory_order_relaxed));
    after_done(f, (uint32_t)s);
    return true;
}

void weft__future_cancel_pending(weft_future *f)
{
    cancel_if_pending(f);
}

/* The record is queued (so not RUNNING) and the caller holds the pool's reference. status and
 * message are written before the release half of the CAS and read only after an acquire that
 * sees FINISHED; if a cancel wins the CAS nobody reads them, and they are undone. */
void weft__future_fail_pending(weft_future *f, int status, const char *message)
{
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    if ((s & F_STATE) != F_PENDING) return;
    f->status = status;
    f->result = NULL;                              /* it held a walk hint (sched.c) */
    f->message = message ? strdup(message) : NULL; /* NULL: message_of falls back */
    do {
        if ((s & F_STATE) != F_PENDING) {
            free(f->message);
            f->message = NULL;
            f->status = 0;
            return;
        }
        /* acq_rel: release publishes status/message, as finish's CAS; acquire pairs with a
         * listener's fetch_or. */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~(uint64_t)0xffffffffu) | F_FINISHED,
                                                    memory_order_acq_rel, memory_order_relaxed));
    after_done(f, (uint32_t)s);
}

int weft_future_cancel(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    if (cancel_if_pending(f)) return 0;
    weft__lock_acquire(&f->wq.lock);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_acquire); /* pairs: start's CAS */
    int rc;
    for (;;) {
        if ((s & F_STATE) == F_CANCELLED) {
            rc = 0;
            break;
        }
        if ((s & F_STATE) == F_FINISHED) {
            rc = weft__fail(WEFT_ESTATE, "the future has already finished");
            break;
        }
        if ((s & F_STATE) == F_PENDING) { /* cannot happen: the CAS above saw it leave */
            rc = weft__fail(WEFT_ESTATE, "the future is pending");
            break;
        }
        if (s & F_CANCEL_REQ) {
            rc = WEFT_EBUSY;
            break;
        }
        /* acq_rel: pairs with the exchange in finish (which then syncs on our lock). */
        if (atomic_compare_exchange_weak_explicit(&f->word, &s, s | F_CANCEL_REQ,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            /* own_scope and runner were written before start's release CAS that our acquire
             * saw; the runner keeps both alive until it has synced on our lock (finish). */
            struct weft__worker *w = atomic_load_explicit(&f->runner, memory_order_relaxed);
            weft__wakelist wl = WEFT__WAKELIST_INIT;
            if (f->own_scope)
                weft_scope_cancel(f->own_scope, WEFT_ECANCELED, "task cancelled");
            else if (w)
                weft__parker_interrupt_batch(w->parker, &wl);
            weft__lock_release(&f->wq.lock);
            weft__wakelist_flush(&wl);
            return WEFT_EBUSY;
        }
    }
    weft__lock_release(&f->wq.lock);
    return rc;
}

int weft_future_done(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return weft__future_is_done(f);
}

int weft_future_cancelled(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return (atomic_load_explicit(&f->word, memory_order_acquire) & F_STATE) == F_CANCELLED;
}

int weft_future_running(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    return (atomic_load_explicit(&f->word, memory_order_acquire) & F_STATE) == F_RUNNING;
}

int weft__cb_add(weft_future *f, struct weft__cb *node)
{
    weft__lock_acquire(&f->wq.lock);
    /* acq_rel: pairs with the exchange in finish (either it sees F_LISTEN, or we see done). */
    uint64_t s = atomic_fetch_or_explicit(&f->word, F_LISTEN, memory_order_acq_rel);
    if ((s & F_STATE) >= F_FINISHED) {
        weft__lock_release(&f->wq.lock);
        return 1;
    }
    node->next = NULL;
    *f->cbs_tail = node;
    f->cbs_tail = &node->next;
    weft__lock_release(&f->wq.lock);
    return 0;
}

bool weft__cb_remove(weft_future *f, struct weft__cb *node)
{
    bool found = false;
    weft__lock_acquire(&f->wq.lock);
    for (struct weft__cb **pp = &f->cbs; *pp; pp = &(*pp)->next) {
        if (*pp != node) continue;
        *pp = node->next;
        if (f->cbs_tail == &node->next) f->cbs_tail = pp;
        found = true;
        break;
    }
    weft__lock_release(&f->wq.lock);
    return found;
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

int weft_future_ref(weft_future *f)
{
    if (f == NULL) return weft__fail(WEFT_EINVAL, "f is NULL");
    atomic_fetch_add_explicit(&f->word, REF1, memory_order_relaxed); /* the caller has one */
    return 0;
}

static void maybe_report(weft_future *f)
{
    if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_STATE) != F_FINISHED) return;
    if (f->status == 0 || atomic_load_explicit(&f->observed, memory_order_relaxed)) return;
    if (f->status == WEFT_ECANCELED && (f->cancel_seen || (f->flags & R_CANCELLED))) return;
    char buf[48];
    weft__pool_report(f->name, f->status, message_of(f, buf, sizeof buf));
}

void weft__future_recycle(weft_future *f)
{
    if (f->fn != NULL || (f->flags & R_STANDALONE)) maybe_report(f);
    if ((f->flags & R_STANDALONE) && f->result_free) { /* the result it owns (standalone.c) */
        if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_STATE) == F_FINISHED)
            f->result_free(f->result);
        f->result_free = NULL;
    }
    /* The cold line is read only where it may have been written (pool_internal.h). */
    if (f->status != 0 && f->message) {
        free(f->message);
        f->message = NULL;
    }
    if (f->scope) { /* the submitter's reference, taken by weft__pool_submit_scoped */
        weft_scope_release(f->scope);
        f->scope = NULL;
    }
    if (f->flags & R_OWN_SCOPE) f->own_scope = NULL;
    if (f->flags & R_NAMED) f->name[0] = '\0';
    weft__rec_free(f);
}

void weft_future_release(weft_future *f)
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

bool weft__future_ready(void *ctx)
{
    return weft__future_is_done(ctx);
}

bool weft__future_arm(void *ctx)
{
    weft_future *f = ctx;
    /* acq_rel: pairs with the exchange in finish, see weft__cb_add. */
    uint64_t s = atomic_fetch_or_explicit(&f->word, F_LISTEN, memory_order_acq_rel);
    return (s & F_STATE) >= F_FINISHED;
}

int weft_future_wait(weft_future *f, weft_ns timeout)
{
    if (f == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", f == NULL ? "f is NULL" : "timeout is negative");
    if (weft__future_is_done(f)) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    struct weft__worker *w = weft__tls_worker;
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
    uint64_t s = atomic_load_explicit(&f->word, memory_order_acquire); /* pairs: finish */
    if ((s & F_STATE) == F_CANCELLED) return WEFT_ECANCELED;
    if (result) *result = f->result;
    if (f->status != 0) {
        char buf[48];
        atomic_store_explicit(&f->observed, true, memory_order_relaxed); /* read at unref */
        weft__error_put(f->status, message_of(f, buf, sizeof buf));
    }
    return f->status;
}
