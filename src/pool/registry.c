/* src/pool/registry.c - every pool that is alive, for the two moments when weft must reach all
 * of them: the process's exit and fork().
 *
 * Exit (Python's concurrent.futures joins its executors' workers at exit, after they ran what
 * was queued): weft__pools_at_exit shuts down, waiting, every pool that was not shut down and
 * is not a daemon pool (weft_pool_opts.daemon), the default pool included. exit.c calls it.
 *
 * fork(): only the forking thread lives on in the child, so every pool has lost its workers.
 * The child's copy of each pool starts over, as if just made: no workers (the next submit
 * starts them), empty queues, zero counters; its shutdown state stays (a pool shut down in the
 * parent refuses tasks in the child with WEFT_ECLOSED). Tasks queued or running at the fork
 * belong to the parent: the child never runs them, and their futures stay as they were at the
 * fork (pool.h). The one exception is the pool of a worker that forks (fork() inside a task):
 * the child goes on with that task, so that pool keeps its state but is closed to new tasks.
 *
 * The dump (debug.c) reads the list too, through weft__pools_view, with a try of reg.lock that
 * gives up rather than wait. The list itself is core/registry.h's.
 *
 * A pool is in the list from weft_pool_new until its last reference goes (pool.c). Lock order:
 * docs/design/locks.md; reg.lock is held across fork() (fork.c) and taken alone elsewhere.
 */
#include <string.h>

#include <weft/error.h>

#include "core/fork.h"
#include "core/internal.h"
#include "core/registry.h"
#include "debug_internal.h"
#include "pool/pool_internal.h"

static weft__registry reg; /* of weft_pool.reg */

void weft__pool_register(weft_pool *p)
{
    weft__fork_register();
    weft__exit_register();
    weft__registry_add(&reg, &p->reg);
}

void weft__pool_unregister(weft_pool *p)
{
    weft__registry_remove(&reg, &p->reg);
}

/* A thread's inline runs for a pool it no longer submits to (pool.c): counted there if the
 * pool is still alive, through a reference taken under reg.lock (as next_to_end) so that the
 * calm check after the counts runs outside it. */
void weft__pool_count_late(uint64_t serial, uint64_t ran, uint64_t done)
{
    weft_pool *found = NULL;
    weft__lock_acquire(&reg.lock);
    for (weft__reg_link *l = reg.head; l && !found; l = l->next) {
        weft_pool *p = WEFT__REG_OBJ(l, weft_pool, reg);
        if (p->serial != serial) continue;
        int r = atomic_load(&p->refs);
        while (r > 0 && !atomic_compare_exchange_weak(&p->refs, &r, r + 1)) {
        }
        if (r > 0) found = p; /* else being destroyed: nothing left to count in */
        break;
    }
    weft__lock_release(&reg.lock);
    if (!found) return;
    weft__pool_count_ran(found, ran, done);
    weft__pool_unref(found);
}

/* ---- the dump ---- */

static void view(weft__reg_link *l, void *dst)
{
    weft_pool *p = WEFT__REG_OBJ(l, weft_pool, reg);
    struct weft_pool_stats st;
    (void)weft_pool_stats(p, &st); /* atomic loads only; cannot fail on a live pool */
    struct weft__pool_view *v = dst;
    v->pool = p;
    memcpy(v->prefix, p->prefix, sizeof v->prefix);
    v->workers = (int)st.workers;
    v->max_workers = p->max_workers;
    v->busy = (int)st.busy;
    v->queued = (unsigned long long)st.queued;
    v->paused = st.paused;
    v->shutdown = st.shutdown;
}

long weft__pools_view(struct weft__pool_view *out, size_t max)
{
    return weft__registry_view(&reg, out, sizeof *out, max, view);
}

/* ---- exit ---- */

/* A pool the exit rule has yet to shut down, with a reference taken; NULL when none is left. */
static weft_pool *next_to_end(void)
{
    weft_pool *found = NULL;
    weft__lock_acquire(&reg.lock);
    for (weft__reg_link *l = reg.head; l && !found; l = l->next) {
        weft_pool *p = WEFT__REG_OBJ(l, weft_pool, reg);
        if (p->daemon || p->exit_seen || atomic_load(&p->closed)) continue;
        int r = atomic_load(&p->refs);
        while (r > 0 && !atomic_compare_exchange_weak(&p->refs, &r, r + 1)) {
        }
        if (r == 0) continue; /* being destroyed: unregisters once we let go */
        p->exit_seen = true;
        found = p;
    }
    weft__lock_release(&reg.lock);
    return found;
}

void weft__pools_at_exit(void)
{
    weft_pool *p;
    /* Shielded: a Ctrl-C during the exit wait cancels the tasks (the root scope), which then
     * end; the wait itself goes on until they have (a second Ctrl-C exits at once). */
    weft_shield_begin();
    while ((p = next_to_end()) != NULL) {
        (void)weft_pool_shutdown(p, 1, 0, WEFT_FOREVER); /* WEFT_EDEADLK: exit from a task of p */
        weft__pool_unref(p);
    }
    weft_shield_end();
}

/* ---- fork ---- */

void weft__pools_fork_prepare(void)
{
    weft__lock_acquire(&reg.lock);
}

void weft__pools_fork_parent(void)
{
    weft__lock_release(&reg.lock);
}

static void waitq_reset(weft__waitq *q)
{
    atomic_init(&q->lock.word, 0); /* its holder, if any, is gone */
    q->head = q->tail = NULL;      /* records on the stacks of threads that are gone */
}

/* The child's copy of p, whose workers stayed in the parent: empty and without workers. */
static void reset_in_child(weft_pool *p)
{
    int live = atomic_load_explicit(&p->live, memory_order_relaxed);
    int n = atomic_load_explicit(&p->nstarted, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        struct weft__worker *w = &p->workers[i];
        atomic_init(&w->dq.top, 0);
        atomic_init(&w->dq.bottom, 0);
        atomic_init(&w->current, NULL);
        atomic_init(&w->spawned, 0);
        atomic_init(&w->done, 0);
        atomic_init(&w->busy, 0);
        w->parker = NULL;
    }
    atomic_init(&p->inject, NULL);
    atomic_init(&p->ext_submitted, 0);
    atomic_init(&p->ext_done, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->nstarted, 0);
    atomic_init(&p->naming, 0);
    atomic_init(&p->queued, 0);
    atomic_init(&p->calm_waiters, 0);
    atomic_init(&p->room_waiters, 0);
    atomic_init(&p->live, 0);
    /* The workers' references went with them (one that had already left live but not yet
     * dropped its reference keeps the pool from ever being freed here: a leak, not a fault). */
    atomic_init(&p->refs, atomic_load_explicit(&p->refs, memory_order_relaxed) - live);
    waitq_reset(&p->idle_q);
    waitq_reset(&p->exit_q);
    waitq_reset(&p->calm_q);
    waitq_reset(&p->room_q);
    atomic_init(&p->start_lock.word, 0);
}

void weft__pools_fork_child(void)
{
    struct weft__worker *me = weft__tls_worker;
    for (weft__reg_link *l = reg.head; l; l = l->next) {
        weft_pool *p = WEFT__REG_OBJ(l, weft_pool, reg);
        if (me && me->pool == p)
            atomic_init(&p->closed, 1); /* the forking task goes on; nothing else would run */
        else
            reset_in_child(p);
    }
    weft__pools_fork_parent();
}
