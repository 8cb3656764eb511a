/* src/procpool/pool.c - the process pool's API: make, submit, map, wait, shut down, free,
 * statistics; and the registry the exit sequence walks (src/exit.c).
 *
 * A submit copies the argument into a task record, makes a standalone future (weft_future_new:
 * the future API is the thread pools'), queues the record under p->lock and wakes the manager
 * only if it sleeps. Functions get small ids (the first submit of a function looks up its
 * object and offset once), so a task on the wire names its function with 4 bytes.
 * Lock order: p->lock, registry.lock: leaves. p->wlock: alone (waiters).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <weft/error.h>

#include "core/fork.h"
#include "core/internal.h"
#include "os/os.h"
#include "core/opts.h"
#include "core/registry.h"
#include "process/process_internal.h"
#include "procpool/procpool_internal.h"

static weft__registry registry; /* of weft_procpool.reg: the open pools, for the exit */

static void stop_fired(weft__scope_hook *h)
{
    struct weft_procpool *p =
        (struct weft_procpool *)((char *)h - offsetof(struct weft_procpool, scope_hook));
    atomic_store(&p->stop_seen, 1);
    weft__pp_wake(p);
}

static int check_opts(const weft_procpool_opts *o)
{
    if (o->workers < 0 || o->workers > WEFT_PROCPOOL_WORKERS_MAX)
        return weft__fail(WEFT_EINVAL, "workers is %d (0 ... %d)", o->workers,
                          WEFT_PROCPOOL_WORKERS_MAX);
    if (o->method < 0 || o->method > WEFT_PROCESS_FORK)
        return weft__fail(WEFT_EINVAL, "method %d is unknown", o->method);
    if (o->window < 0 || o->window > WEFT_PROCPOOL_WINDOW_MAX)
        return weft__fail(WEFT_EINVAL, "window is %d (0 ... %d)", o->window,
                          WEFT_PROCPOOL_WINDOW_MAX);
    if (o->name && strlen(o->name) > 31)
        return weft__fail(WEFT_EINVAL, "name is %zu bytes; the limit is 31", strlen(o->name));
    if (o->restart_period < 0) return weft__fail(WEFT_EINVAL, "restart_period is negative");
    if (o->kill_grace < 0) return weft__fail(WEFT_EINVAL, "kill_grace is negative");
    return 0;
}

static void destroy(struct weft_procpool *p)
{
    if (p->scope) {
        weft__scope_hook_remove(&p->scope_hook);
        weft_scope_free(p->scope);
    }
    if (p->efd >= 0) close(p->efd);
    if (p->epfd >= 0) close(p->epfd);
    for (int i = 0; p->workers && i < p->nworkers; i++)
        if (p->workers[i].ring) {
            pp_ring_unmap(p->workers[i].ring);
            close(p->workers[i].ring_fd);
        }
    for (uint32_t i = 0; p->fns && i < atomic_load(&p->nfns); i++) free(p->fns[i].name);
    free(p->fns);
    free(p->deaths);
    free(p->workers);
    free(p->buf);
    free(p->inbuf);
    free(p);
}

static void end_workers(struct weft_procpool *p)
{
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        if (w->state == W_EMPTY) continue;
        (void)weft_process_kill(w->proc);
        weft_shield_begin();
        (void)weft_process_join(w->proc, NULL, WEFT_FOREVER);
        weft_shield_end();
        (void)weft_process_free(w->proc);
        close(w->fd);
        w->state = W_EMPTY;
    }
}

static int setup(struct weft_procpool *p, const weft_procpool_opts *o)
{
    int cpus = weft__os_cpu_count(); /* the CPUs usable: affinity mask, cgroup quota */
    p->nworkers = o->workers                         ? o->workers
                  : cpus < 1                         ? 1
                  : cpus > WEFT_PROCPOOL_WORKERS_MAX ? WEFT_PROCPOOL_WORKERS_MAX
                                                     : cpus;
    p->window = o->window ? o->window : 16;
    p->method = o->method;
    snprintf(p->name, sizeof p->name, "%s", o->name ? o->name : "procpool");
    p->max_tasks = o->max_tasks_per_child;
    p->max_memory = o->max_memory;
    p->memory_limit = o->memory_limit;
    p->max_restarts = o->max_restarts ? o->max_restarts : 10;
    p->restart_period = o->restart_period ? o->restart_period : WEFT_SEC(1);
    p->kill_grace = o->kill_grace ? o->kill_grace : WEFT_MS(100);
    p->kill_deadline = WEFT_FOREVER;
    p->owner = getpid();
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->fns = weft__calloc(WEFT_PROCPOOL_FNS_MAX, sizeof *p->fns);
    p->deaths =
        weft__calloc((size_t)(p->max_restarts > 0 ? p->max_restarts + 1 : 1), sizeof(weft_ns));
    p->workers = weft__calloc((size_t)p->nworkers, sizeof *p->workers);
    p->buf = weft__malloc(2 * PP_REC_MAX);
    p->inbuf = weft__malloc((size_t)PP_RECV_BATCH * PP_RESULT_REC_MAX);
    if (!p->fns || !p->deaths || !p->workers || !p->buf || !p->inbuf)
        return weft__fail(WEFT_ENOMEM, "procpool: no memory for the pool");
    if (p->efd < 0 || p->epfd < 0)
        return weft_error_set(WEFT_EAGAIN, "procpool: no descriptor for the manager");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev);
    weft_lock_init(&p->wlock);
    weft_cond_init(&p->wcond, &p->wlock);
    int rc = weft_scope_new(&p->scope, o->scope, NULL);
    if (rc != 0) return rc;
    p->scope_hook.fn = stop_fired;
    weft__scope_hook_add(p->scope, &p->scope_hook);
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].index = i + 1;
        if ((rc = weft__pp_start_worker(p, &p->workers[i])) != 0) return rc;
    }
    weft_thread_opts to = WEFT_THREAD_OPTS_INIT;
    to.name = "procpool-mgr";
    to.daemon = 1;
    return weft_thread_start(&p->manager, weft__pp_manager, p, &to);
}

int weft_procpool_new(weft_procpool **out, const weft_procpool_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_procpool_opts") != 0) return WEFT_EINVAL;
    weft_procpool_opts defaults = WEFT_PROCPOOL_OPTS_INIT;
    const weft_procpool_opts *o = opts ? opts : &defaults;
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    int rc = check_opts(o);
    if (rc != 0) return rc;
    struct weft_procpool *p = weft__calloc(1, sizeof *p);
    if (p == NULL) return weft__fail(WEFT_ENOMEM, "procpool: no memory for the pool");
    p->efd = p->epfd = -1;
    if ((rc = setup(p, o)) != 0) {
        if (p->workers) end_workers(p);
        destroy(p);
        return rc;
    }
    weft__exit_register();
    weft__registry_add(&registry, &p->reg);
    *out = p;
    return 0;
}

/* The function's id in p's table, added at its first use. */
static int fn_id(struct weft_procpool *p, weft_process_fn fn, uint32_t *id)
{
    for (int pass = 0; pass < 2; pass++) {
        weft__lock_acquire(&p->lock);
        uint32_t n = atomic_load_explicit(&p->nfns, memory_order_relaxed);
        if (p->last_fn < n && p->fns[p->last_fn].fn == fn) {
            *id = p->last_fn;
            weft__lock_release(&p->lock);
            return 0;
        }
        for (uint32_t i = 0; i < n; i++)
            if (p->fns[i].fn == fn) {
                *id = p->last_fn = i;
                weft__lock_release(&p->lock);
                return 0;
            }
        weft__lock_release(&p->lock);
        if (pass == 1) break;
        char name[PP_NAME_MAX];
        uint64_t off;
        int rc = weft__image_locate(fn, name, sizeof name, &off);
        if (rc != 0) return rc;
        char *copy = weft__strdup(name);
        if (copy == NULL) return weft__fail(WEFT_ENOMEM, "procpool: no memory for a function");
        weft__lock_acquire(&p->lock);
        n = atomic_load_explicit(&p->nfns, memory_order_relaxed);
        for (uint32_t i = 0; i < n; i++)
            if (p->fns[i].fn == fn) { /* another submitter added it meanwhile */
                free(copy);
                copy = NULL;
                break;
            }
        if (copy && n == WEFT_PROCPOOL_FNS_MAX) {
            weft__lock_release(&p->lock);
            free(copy);
            return weft__fail(WEFT_ENOSPC, "procpool: more than %d task functions",
                              WEFT_PROCPOOL_FNS_MAX);
        }
        if (copy) {
            p->fns[n] = (struct pp_fndef){fn, off, copy};
            atomic_store_explicit(&p->nfns, n + 1, memory_order_relaxed); /* read under lock */
        }
        weft__lock_release(&p->lock);
    }
    return weft__fail(WEFT_EINVAL, "procpool: function lookup failed");
}

static int closed_code(struct weft_procpool *p)
{
    if (p->broken) return weft__fail(WEFT_EBROKEN, "%s", p->reason);
    return weft__fail(WEFT_ECLOSED, "the pool %s", p->reason[0] ? p->reason : "was shut down");
}

int weft_procpool_submit(weft_procpool *p, weft_future **out, weft_process_fn fn, const void *arg,
                         size_t size, const weft_procpool_task_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_procpool_task_opts") != 0) return WEFT_EINVAL;
    weft_procpool_task_opts none = WEFT_PROCPOOL_TASK_OPTS_INIT;
    const weft_procpool_task_opts *o = opts ? opts : &none;
    if (p == NULL || fn == NULL)
        return weft__fail(WEFT_EINVAL, "%s is NULL", p == NULL ? "p" : "fn");
    if (arg == NULL && size > 0) return weft__fail(WEFT_EINVAL, "arg is NULL and size %zu", size);
    if (size > WEFT_PROCESS_ARG_MAX)
        return weft__fail(WEFT_EINVAL, "size is %zu; the limit is %d", size, WEFT_PROCESS_ARG_MAX);
    if (o->timeout < 0 || o->retries < 0)
        return weft__fail(WEFT_EINVAL, "%s is negative", o->timeout < 0 ? "timeout" : "retries");
    uint32_t id = 0;
    int rc = fn_id(p, fn, &id);
    if (rc != 0) return rc;
    struct pp_task *t = weft__malloc(sizeof *t + size);
    if (t == NULL) return weft__fail(WEFT_ENOMEM, "procpool: no memory for a task");
    t->id = atomic_fetch_add_explicit(&p->next_id, 1, memory_order_relaxed) + 1;
    char name[32];
    if (o->name == NULL) snprintf(name, sizeof name, "task %llu", (unsigned long long)t->id);
    weft_future_opts fo = {.name = o->name ? o->name : name};
    if ((rc = weft_future_new(&t->f, &fo)) != 0) {
        free(t);
        return rc;
    }
    t->fn = id;
    t->len = (uint32_t)size;
    t->timeout = o->timeout == WEFT_FOREVER ? 0 : o->timeout;
    t->retries = o->retries;
    t->started = 0;
    t->holder = NULL;
    t->next = NULL;
    if (size) memcpy(t->arg, arg, size);
    weft__lock_acquire(&p->lock);
    if (p->closed || p->broken) {
        rc = closed_code(p);
        weft__lock_release(&p->lock);
        weft_future_unref(t->f);
        free(t);
        return rc;
    }
    if (out) weft_future_ref(t->f);
    t->prev = p->qtail;
    if (p->qtail)
        p->qtail->next = t;
    else
        p->qhead = t;
    p->qtail = t;
    atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->st_submitted, 1, memory_order_relaxed);
    if (out) *out = t->f;
    weft__lock_release(&p->lock);
    if (atomic_exchange(&p->sleeping, 0)) weft__pp_wake(p); /* seq_cst: the manager's store */
    return 0;
}

static void cancel_all(weft_future **fs, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++) {
        if (weft_future_running(fs[i]) == 0) (void)weft_future_cancel(fs[i]);
        weft_future_unref(fs[i]);
    }
}

int weft_procpool_map(weft_procpool *p, weft_process_fn fn, const void *items, size_t item_size,
                      size_t n, void *results, size_t result_size,
                      const weft_procpool_task_opts *opts, weft_ns timeout)
{
    if (p == NULL || fn == NULL || (items == NULL && n > 0 && item_size > 0) ||
        (results == NULL && result_size > 0) || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          p == NULL     ? "p is NULL"
                          : fn == NULL  ? "fn is NULL"
                          : timeout < 0 ? "timeout is negative"
                                        : "items or results is NULL");
    weft_future **fs = weft__calloc(n ? n : 1, sizeof *fs);
    if (fs == NULL) return weft__fail(WEFT_ENOMEM, "procpool: no memory for %zu futures", n);
    for (size_t i = 0; i < n; i++) {
        int rc = weft_procpool_submit(p, &fs[i], fn, (const char *)items + i * item_size, item_size,
                                      opts);
        if (rc != 0) {
            cancel_all(fs, 0, i);
            free(fs);
            return rc;
        }
    }
    weft_ns deadline = weft_deadline(timeout);
    for (size_t i = 0; i < n; i++) {
        int rc = weft_future_wait(fs[i], weft_remaining(deadline));
        const void *data = NULL;
        size_t len = 0;
        if (rc == 0) rc = weft_future_bytes(fs[i], &data, &len, 0);
        if (rc == 0 && result_size) {
            char *dst = (char *)results + i * result_size;
            memcpy(dst, data, len < result_size ? len : result_size);
            if (len < result_size) memset(dst + len, 0, result_size - len);
        }
        if (rc != 0) {
            int waited = weft_future_done(fs[i]) != 1; /* the wait failed, not the item */
            char msg[WEFT_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "%s", weft_error_message());
            cancel_all(fs, i, n);
            free(fs);
            if (waited) return rc;
            return weft_error_set(rc, "item %zu: %s", i, msg);
        }
        weft_future_unref(fs[i]);
    }
    free(fs);
    return 0;
}

static int is_idle(void *arg)
{
    struct weft_procpool *p = arg;
    return atomic_load(&p->finished) ||
           (atomic_load(&p->queued) == 0 && atomic_load(&p->running) == 0);
}

static int is_finished(void *arg)
{
    return atomic_load(&((struct weft_procpool *)arg)->finished) != 0;
}

static int wait_for(struct weft_procpool *p, int (*pred)(void *), weft_ns timeout)
{
    if (pred(p)) return 0;
    if (timeout == 0) return WEFT_EAGAIN;
    weft_ns deadline = weft_deadline(timeout);
    atomic_fetch_add(&p->waiters, 1); /* seq_cst: pairs with weft__pp_notify's load */
    int rc = weft_lock_acquire(&p->wlock, timeout);
    if (rc == 0) {
        rc = weft_cond_wait_for(&p->wcond, pred, p, weft_remaining(deadline));
        weft_lock_release(&p->wlock);
    }
    atomic_fetch_sub(&p->waiters, 1);
    return rc;
}

int weft_procpool_wait_idle(weft_procpool *p, weft_ns timeout)
{
    if (p == NULL || timeout < 0)
        return weft__fail(WEFT_EINVAL, "%s", p == NULL ? "p is NULL" : "timeout is negative");
    return wait_for(p, is_idle, timeout);
}

int weft_procpool_shutdown(weft_procpool *p, int wait, int cancel_pending, weft_ns kill_after)
{
    if (p == NULL || kill_after < 0)
        return weft__fail(WEFT_EINVAL, "%s", p == NULL ? "p is NULL" : "kill_after is negative");
    weft_ns kd = kill_after == WEFT_FOREVER ? WEFT_FOREVER : weft_deadline(kill_after);
    weft__lock_acquire(&p->lock);
    p->closed = 1;
    if (kd < p->kill_deadline) p->kill_deadline = kd;
    if (cancel_pending) p->cancel_pending = 1;
    weft__lock_release(&p->lock);
    weft__pp_wake(p);
    if (!wait) return 0;
    if (weft__pp_self == p)
        return weft__fail(WEFT_EDEADLK, "shutdown with wait from the pool's manager thread");
    return wait_for(p, is_finished, WEFT_FOREVER);
}

int weft_procpool_free(weft_procpool *p)
{
    if (p == NULL) return 0;
    if (weft__pp_self == p)
        return weft__fail(WEFT_EDEADLK, "weft_procpool_free from the pool's manager thread");
    (void)weft_procpool_shutdown(p, 0, 1, 0);
    weft_shield_begin();
    (void)weft_thread_join(p->manager, NULL, WEFT_FOREVER);
    weft_shield_end();
    weft__registry_remove(&registry, &p->reg);
    destroy(p);
    return 0;
}

int weft_procpool_stats(weft_procpool *p, struct weft_procpool_stats *out)
{
    if (p == NULL || out == NULL)
        return weft__fail(WEFT_EINVAL, "%s is NULL", p == NULL ? "p" : "out");
#define PP_LD(x) atomic_load_explicit(&p->x, memory_order_relaxed)
    *out = (struct weft_procpool_stats){PP_LD(st_submitted),
                                        PP_LD(st_completed),
                                        PP_LD(st_failed),
                                        PP_LD(st_cancelled),
                                        PP_LD(st_timed_out),
                                        PP_LD(st_retried),
                                        PP_LD(st_started),
                                        PP_LD(st_died),
                                        PP_LD(st_killed),
                                        PP_LD(st_retired),
                                        PP_LD(queued),
                                        PP_LD(running),
                                        PP_LD(live),
                                        0,
                                        0,
                                        PP_LD(st_start_failed)};
#undef PP_LD
    weft__lock_acquire(&p->lock);
    out->broken = p->broken;
    out->shutdown = p->closed;
    weft__lock_release(&p->lock);
    return 0;
}

int weft_procpool_worker_pid(weft_procpool *p, int k)
{
    if (p == NULL) return weft__fail(WEFT_EINVAL, "p is NULL");
    if (k < 1 || k > p->nworkers)
        return weft__fail(WEFT_EINVAL, "k is %d (1 ... %d)", k, p->nworkers);
    int pid = atomic_load(&p->pids[k - 1]);
    return pid > 0 ? pid : WEFT_ESRCH;
}

/* Exit (src/exit.c): every pool of this process still open is shut down, waiting, with what
 * was queued run first. Shielded: a Ctrl-C cancels the root scope, which stops the pools (their
 * scope hook), and so ends the wait. A forked child's copies belong to its parent: skipped. */
void weft__procpools_at_exit(void)
{
    int me = getpid();
    weft_shield_begin();
    for (;;) {
        struct weft_procpool *p = NULL;
        weft__lock_acquire(&registry.lock);
        for (weft__reg_link *l = registry.head; l && !p; l = l->next) {
            struct weft_procpool *q = WEFT__REG_OBJ(l, struct weft_procpool, reg);
            if (q->owner == me && !q->exit_seen) p = q;
        }
        if (p) p->exit_seen = 1;
        weft__lock_release(&registry.lock);
        if (p == NULL) break;
        (void)weft_procpool_shutdown(p, 1, 0, WEFT_FOREVER);
    }
    weft_shield_end();
}
