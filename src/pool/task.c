/* src/pool/task.c - the task record's state machine out of line: completion with listeners,
 * cancellation, dropping queued records, a standalone future's setter, done-callbacks,
 * references and the report of unseen failures. The table, the word and the invariants T1-T6
 * are at the top of task.h; this file implements what is not inline there.
 * Lock order: docs/design/locks.md; f->wq.lock, inside it a parker's lock (the interrupt);
 * callbacks run after it is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/cancel.h>
#include <weft/error.h>

#include "core/internal.h"
#include "os/os.h"
#include "pool/hooks.h"
#include "pool/pool_internal.h"

/* ---- completion ---- */

void weft__future_notify(weft_future *f, uint32_t old)
{
    if (!(old & F_LISTEN)) return;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&f->wq.lock);
    struct weft__cb *cb = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    weft__waitq_wake_all(&f->wq, &wl);
    if (f->evfd1) weft__os_eventfd_raise(f->evfd1 - 1); /* weft_future_fd: done now */
    weft__lock_release(&f->wq.lock);
    weft__wakelist_flush(&wl);
    if (cb) weft__hb_acquire(f); /* what each registrant wrote before weft__cb_add */
    while (cb) {
        struct weft__cb *next = cb->next;
        bool own = !cb->embedded;
        cb->fn(f, cb->arg); /* an embedded node may be gone after its call */
        if (own) free(cb);
        cb = next;
    }
}

bool weft__future_finish_slow(weft_future *f, uint64_t s)
{
    if (s & F_CANCEL_REQ) {
        f->cancel_seen = true;
        /* T4: the canceller interrupts under this lock: once we hold it, it is done. */
        weft__lock_acquire(&f->wq.lock);
        weft__lock_release(&f->wq.lock);
    }
    weft__future_notify(f, (uint32_t)s);
    weft__future_unref(f); /* the pool's reference, kept for the listeners */
    return (s & F_CANCEL_REQ) != 0;
}

/* ---- cancellation and dropping ---- */

/* CAS a PENDING future to CANCELLED; true if this call did it. */
static bool cancel_if_pending(weft_future *f)
{
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    do {
        if ((s & F_STATE) != F_PENDING) return false;
        /* acq_rel: as finish's CAS (publishes nothing new but keeps the order). */
    } while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                    (s & ~F_LOW) | (s & F_KEEP) | F_CANCELLED,
                                                    memory_order_acq_rel, memory_order_relaxed));
    weft__future_notify(f, (uint32_t)s);
    return true;
}

void weft__future_cancel_pending(weft_future *f)
{
    cancel_if_pending(f);
}

/* The record is queued (so not RUNNING) and the caller holds the pool's reference (T2 for
 * status and message; undone if a cancel wins the CAS). */
void weft__future_fail_pending(weft_future *f, int status, const char *message, bool claimer)
{
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    if ((s & F_STATE) != F_PENDING) return;
    if ((s & F_CLAIMED) && !claimer) return; /* its claimer writes these fields */
    f->status = status;
    f->result = NULL;                                    /* it held a walk hint (sched.c) */
    f->message = message ? weft__strdup(message) : NULL; /* NULL: weft__future_message falls back */
    weft__hb_release(f);
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
                                                    (s & ~F_LOW) | (s & F_KEEP) | F_FINISHED,
                                                    memory_order_acq_rel, memory_order_relaxed));
    weft__future_notify(f, (uint32_t)s);
}

/* A cancel request reached the RUNNING f (F_CANCEL_REQ just set, f->wq.lock held): stop what
 * runs it. A pool's task: cancel its own scope (task_scopes) or interrupt its worker's parker.
 * A standalone future (weft_future_new, no runner): nobody to interrupt here; whoever drives
 * it learns of the request from the word (weft_future_cancel returned WEFT_EBUSY). The
 * runner keeps own_scope and its parker alive until it has synced on f->wq.lock (T4). */
static void interrupt_runner(weft_future *f, weft__wakelist *wl)
{
    /* runner and own_scope were written before start's release CAS that our acquire saw. */
    struct weft__worker *w = atomic_load_explicit(&f->runner, memory_order_relaxed);
    if (f->own_scope)
        weft_scope_cancel(f->own_scope, WEFT_ECANCELED, "task cancelled");
    else if (w)
        weft__parker_interrupt_batch(w->parker, wl);
}

/* cancel_if_pending for a bounded record: the CAS that cancels a record still queued (no
 * F_UNQUEUED) gives its place among max_queued back, so a paused or busy pool takes a new task
 * at once. Under f->wq.lock: the pool is alive while the record is queued, and whoever takes it
 * off the queue syncs on this lock before it may let the pool go (task.h, F_UNQUEUED). */
static bool cancel_bounded(weft_future *f)
{
    weft__lock_acquire(&f->wq.lock);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    bool give;
    do {
        if ((s & F_STATE) != F_PENDING) {
            weft__lock_release(&f->wq.lock);
            return false;
        }
        give = !(s & F_UNQUEUED);
        /* acq_rel: as cancel_if_pending; pairs with weft__future_unqueue's fetch_or. */
    } while (!atomic_compare_exchange_weak_explicit(
        &f->word, &s, (s & ~F_LOW) | (s & F_KEEP) | F_CANCELLED | (give ? F_UNQUEUED : 0),
        memory_order_acq_rel, memory_order_relaxed));
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    if (give) weft__pool_give_place(f->pool, &wl);
    weft__lock_release(&f->wq.lock); /* the last touch of the pool */
    weft__wakelist_flush(&wl);
    weft__future_notify(f, (uint32_t)s);
    return true;
}

int weft__future_cancel(weft_future *f)
{
    if (f->bounded ? cancel_bounded(f) : cancel_if_pending(f)) return 0;
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
        if ((s & F_STATE) == F_PENDING) { /* cannot happen: the CAS above saw it leave (T1) */
            rc = weft__fail(WEFT_ESTATE, "the future is pending");
            break;
        }
        if (s & F_CANCEL_REQ) {
            rc = WEFT_EBUSY;
            break;
        }
        /* acq_rel: pairs with the completing CAS (which then syncs on our lock, T4). */
        if (atomic_compare_exchange_weak_explicit(&f->word, &s, s | F_CANCEL_REQ,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            weft__wakelist wl = WEFT__WAKELIST_INIT;
            interrupt_runner(f, &wl);
            weft__lock_release(&f->wq.lock);
            weft__wakelist_flush(&wl);
            return WEFT_EBUSY;
        }
    }
    weft__lock_release(&f->wq.lock);
    return rc;
}

/* ---- a standalone future's setter ---- */

/* Setters serialise on f->wq.lock, which makes "check not done, write the outcome, CAS to
 * FINISHED" one step against another setter; a cancel of a PENDING f CASes without the lock,
 * and then this CAS fails on CANCELLED and the writes are undone (T2). */
int weft__future_settle(weft_future *f, int status, void *result, void (*result_free)(void *),
                        size_t len, char *message)
{
    weft__lock_acquire(&f->wq.lock);
    uint64_t s = atomic_load_explicit(&f->word, memory_order_relaxed);
    if ((s & F_STATE) >= F_FINISHED) {
        weft__lock_release(&f->wq.lock);
        return weft__fail(WEFT_ESTATE, "the future is already %s",
                          (s & F_STATE) == F_CANCELLED ? "cancelled" : "finished");
    }
    f->status = status;
    f->result = result;
    f->result_free = result_free;
    f->result_len = len;
    f->message = message;
    weft__hb_release(f); /* what the setter wrote, for whoever sees f done */
    /* acq_rel: release publishes the fields above (T2); acquire pairs with a listener's
     * fetch_or and a cancel's CAS. */
    while (!atomic_compare_exchange_weak_explicit(&f->word, &s,
                                                  (s & ~(uint64_t)F_STATE) | F_FINISHED,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
        if ((s & F_STATE) >= F_FINISHED) { /* a cancel won: nobody reads these */
            f->status = 0;
            f->result = NULL;
            f->result_free = NULL;
            f->result_len = 0;
            f->message = NULL;
            weft__lock_release(&f->wq.lock);
            return weft__fail(WEFT_ESTATE, "the future was cancelled");
        }
    }
    weft__lock_release(&f->wq.lock);
    weft__future_notify(f, (uint32_t)s);
    return 0;
}

/* ---- callbacks and waiting ---- */

int weft__cb_add(weft_future *f, struct weft__cb *node)
{
    weft__hb_release(f); /* for the completer that runs the callback (notify) */
    weft__lock_acquire(&f->wq.lock);
    if (weft__future_listen(f)) {
        weft__lock_release(&f->wq.lock);
        return 1;
    }
    node->next = NULL;
    *f->cbs_tail = node;
    f->cbs_tail = &node->next;
    weft__lock_release(&f->wq.lock);
    return 0;
}

/* weft_future_fd: the eventfd is made and stored under f->wq.lock together with F_LISTEN
 * (weft__future_listen), so a completer either sees F_LISTEN and raises it in notify, under
 * that lock, or completed before and we raise it here (T3's argument). */
int weft_future_fd(weft_future *f, int *fd)
{
    if (f == NULL || fd == NULL)
        return weft__fail(WEFT_EINVAL, "%s", f == NULL ? "f is NULL" : "fd is NULL");
    int rc = 0;
    weft__lock_acquire(&f->wq.lock);
    if (f->evfd1 == 0) {
        rc = weft__os_eventfd_new();
        if (rc < 0) rc = weft__fail(rc, "no eventfd for the %s: %s", "future", weft_strerror(rc));
        if (rc >= 0) {
            f->evfd1 = rc + 1;
            rc = 0;
            if (weft__future_listen(f)) weft__os_eventfd_raise(f->evfd1 - 1);
        }
    }
    if (rc == 0) *fd = f->evfd1 - 1;
    weft__lock_release(&f->wq.lock);
    return rc;
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

bool weft__future_ready(void *ctx)
{
    return weft__future_is_done(ctx);
}

bool weft__future_arm(void *ctx)
{
    return weft__future_listen(ctx);
}

/* ---- references, failures, recycling ---- */

bool weft__future_ref_live(weft_future *f)
{
    /* seq_cst, as the naming shutdown's other accesses (control.c, sched.c run_solo). */
    uint64_t r = atomic_load(&f->word);
    while (weft__refs_of(r) > 0 && !atomic_compare_exchange_weak(&f->word, &r, r + REF1)) {
    }
    return weft__refs_of(r) > 0;
}

const char *weft__future_message(weft_future *f, char *buf, size_t size)
{
    if (f->message) return f->message;
    if (strcmp(weft_errname(f->status), "WEFT_E?") != 0) return weft_strerror(f->status);
    snprintf(buf, size, "task returned %d", f->status);
    return buf;
}

int weft__future_failure(weft_future *f, const char **message)
{
    /* acquire: pairs with the completing RMW (T2). */
    if (weft__future_state(f) != F_FINISHED || f->status == 0) return 0;
    /* relaxed: read at the recycle, after the acq_rel reference drops. */
    atomic_store_explicit(&f->observed, true, memory_order_relaxed);
    *message = f->message ? f->message : weft_strerror(f->status);
    return f->status;
}

static void maybe_report(weft_future *f)
{
    if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_STATE) != F_FINISHED) return;
    if (f->status == 0 || atomic_load_explicit(&f->observed, memory_order_relaxed)) return;
    if (f->status == WEFT_ECANCELED && (f->cancel_seen || (f->flags & R_CANCELLED))) return;
    char buf[48];
    weft__pool_report(f->name, f->status, weft__future_message(f, buf, sizeof buf));
}

/* The callbacks of a future released before it finished never run (the record's next user
 * must not inherit them: T6 wants cbs NULL in a free record). Only a standalone future gets
 * here with callbacks: a pool's holds its reference until done, and completion detaches them.
 * Embedded nodes belong to a waiter that holds a reference, so none is left here. */
static void drop_callbacks(weft_future *f)
{
    struct weft__cb *cb = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    while (cb) {
        struct weft__cb *next = cb->next;
        if (!cb->embedded) free(cb);
        cb = next;
    }
}

void weft__future_recycle(weft_future *f)
{
    if (f->fn != NULL || (f->flags & R_STANDALONE)) maybe_report(f);
    if ((f->flags & R_STANDALONE) && f->result_free) { /* the result it owns (standalone.c) */
        if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_STATE) == F_FINISHED)
            f->result_free(f->result);
        f->result_free = NULL;
    }
    /* The cold line is read only where it may have been written (T6). */
    if (f->status != 0 && f->message) {
        free(f->message);
        f->message = NULL;
    }
    if (f->scope) { /* the submitter's reference, taken by weft__pool_submit_scoped */
        weft_scope_free(f->scope);
        f->scope = NULL;
    }
    if (f->flags & R_OWN_SCOPE) f->own_scope = NULL;
    if (f->flags & R_NAMED) f->name[0] = '\0';
    drop_callbacks(f);
    /* relaxed: ours alone now (the last reference went with an acq_rel RMW). */
    if ((atomic_load_explicit(&f->word, memory_order_relaxed) & F_LISTEN) && f->evfd1) {
        weft__os_close(f->evfd1 - 1); /* weft_future_fd's descriptor dies with the future */
        f->evfd1 = 0;
    }
    weft__rec_free(f);
}
