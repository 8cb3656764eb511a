/* src/procpool/manager.c - the manager thread: one epoll set over the pool's eventfd, every
 * worker's socket and every worker's pidfd, and a look at every worker's answer ring (ring.h)
 * each time round the loop; a worker rings the socket only when the manager said it sleeps.
 * It sends tasks, reads answers, and handles every failure: a death (the first unanswered
 * task of the worker is the one it was running: that task fails or is retried, the others
 * go back to the front of the queue, a replacement starts), a timeout or a cancel (the
 * worker is terminated: SIGTERM, SIGKILL kill_grace later), a malformed answer (the worker
 * is killed), restart intensity (the pool breaks), shutdown and the pool's scope (stop).
 *
 * Invariants: a worker's inflight ring holds, in order, the tasks sent to it and not answered;
 * its answers come in that order (anything else is a malformed answer). A task is in exactly
 * one place: the queue (under p->lock), one worker's inflight ring, or nowhere once its future is
 * settled and the task freed. Futures are settled with no lock held (their callbacks run
 * here). Workers are reaped through their handle (weft_process_exitcode) once their pidfd is
 * readable, after their ring and socket were drained (every answer sent before death is
 * read).
 * Lock order: p->lock is a leaf; p->wlock is taken only to notify waiters, with nothing else.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <weft/cancel.h>
#include <weft/error.h>

#include "core/internal.h"
#include "pool/hooks.h"
#include "procpool/procpool_internal.h"

_Thread_local struct weft_procpool *weft__pp_self;

enum { EV_EFD = 0, EV_SOCK = 1, EV_PIDFD = 2 };

void weft__pp_wake(struct weft_procpool *p)
{
    uint64_t one = 1;
    (void)!write(p->efd, &one, sizeof one);
}

void weft__pp_notify(struct weft_procpool *p)
{
    /* seq_cst: pairs with the waiter's increment before it reads the state (pool.c). */
    if (atomic_load(&p->waiters) == 0) return;
    if (weft_lock_acquire(&p->wlock, WEFT_FOREVER) != 0) return;
    weft_cond_notify_all(&p->wcond);
    weft_lock_release(&p->wlock);
}

/* ---- cancel scopes of dispatched tasks ---- */

static void holder_fired(weft__scope_hook *h)
{
    struct pp_holder *ho = (struct pp_holder *)h;
    atomic_store(&ho->fired, 1);
    atomic_store(&ho->pool->cancel_seen, 1);
    weft__pp_wake(ho->pool);
}

static struct pp_holder *holder_get(struct weft_procpool *p)
{
    struct pp_holder *ho = p->free_holders;
    if (ho) {
        p->free_holders = ho->next;
        return ho;
    }
    ho = weft__calloc(1, sizeof *ho);
    if (ho == NULL) return NULL;
    if (weft_scope_new(&ho->scope, p->scope, NULL) != 0) {
        free(ho);
        return NULL;
    }
    ho->pool = p;
    ho->hook.fn = holder_fired;
    weft__scope_hook_add(ho->scope, &ho->hook);
    return ho;
}

static void holder_destroy(struct pp_holder *ho)
{
    weft__scope_hook_remove(&ho->hook);
    weft_scope_free(ho->scope);
    free(ho);
}

static void holder_put(struct weft_procpool *p, struct pp_holder *ho)
{
    if (atomic_load(&ho->fired) || weft_scope_cancelled(ho->scope) == 1) {
        holder_destroy(ho);
        return;
    }
    ho->next = p->free_holders;
    p->free_holders = ho;
}

void weft__pp_holders_free(struct weft_procpool *p)
{
    while (p->free_holders) {
        struct pp_holder *ho = p->free_holders;
        p->free_holders = ho->next;
        holder_destroy(ho);
    }
}

/* ---- settling tasks ---- */

static void task_free(struct weft_procpool *p, struct pp_task *t)
{
    if (t->holder) holder_put(p, t->holder);
    weft_future_unref(t->f);
    free(t);
}

static void task_ok(struct weft_procpool *p, struct pp_task *t, const void *data, size_t len)
{
    /* counted first: whoever sees the future done sees it counted */
    atomic_fetch_add_explicit(&p->st_completed, 1, memory_order_relaxed);
    if (len == 0) /* no copy to make: the result pointer is NULL, the length 0 */
        (void)weft_future_set_result(t->f, NULL, NULL);
    else if (weft_future_set_bytes(t->f, data, len) == WEFT_ENOMEM) {
        atomic_fetch_sub_explicit(&p->st_completed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->st_failed, 1, memory_order_relaxed);
        (void)weft_future_set_failure(t->f, WEFT_ENOMEM, "no memory for the task's result");
    }
    task_free(p, t);
}

static void task_fail(struct weft_procpool *p, struct pp_task *t, int status, const char *msg)
{
    if (status == WEFT_ECANCELED) {
        weft__future_mark_cancelled(t->f);
        atomic_fetch_add_explicit(&p->st_cancelled, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&p->st_failed, 1, memory_order_relaxed);
    }
    (void)weft_future_set_failure(t->f, status, msg && msg[0] ? msg : NULL);
    task_free(p, t);
}

/* A task taken off the queue by a shutdown or a break: a pending one is cancelled or failed;
 * one that ran before (queued again after its worker died) is failed. */
static void task_drop(struct weft_procpool *p, struct pp_task *t, int status, const char *msg)
{
    if (!t->started && status == WEFT_ECANCELED) {
        (void)weft_future_cancel(t->f);
        atomic_fetch_add_explicit(&p->st_cancelled, 1, memory_order_relaxed);
        task_free(p, t);
        return;
    }
    task_fail(p, t, status, msg);
}

/* ---- the queue (p->lock) ---- */

static struct pp_task *queue_pop(struct weft_procpool *p)
{
    struct pp_task *t = p->qhead;
    if (t) {
        p->qhead = t->next;
        if (p->qhead)
            p->qhead->prev = NULL;
        else
            p->qtail = NULL;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
    }
    return t;
}

static void queue_push_front(struct weft_procpool *p, struct pp_task *t)
{
    t->prev = NULL;
    t->next = p->qhead;
    if (p->qhead)
        p->qhead->prev = t;
    else
        p->qtail = t;
    p->qhead = t;
    atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
}

static struct pp_task *queue_take_all(struct weft_procpool *p)
{
    weft__lock_acquire(&p->lock);
    struct pp_task *t = p->qhead;
    p->qhead = p->qtail = NULL; /* queued drops as each one settles (drop_queue) */
    weft__lock_release(&p->lock);
    return t;
}

static void drop_queue(struct weft_procpool *p, int status, const char *msg)
{
    struct pp_task *t = queue_take_all(p);
    while (t) {
        struct pp_task *next = t->next;
        task_drop(p, t, status, msg);
        /* release: as ran() */
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_release);
        t = next;
    }
}

/* ---- workers ---- */

static struct pp_task *ring_at(struct pp_worker *w, int i)
{
    return w->inflight[(w->head + i) % WEFT_PROCPOOL_WINDOW_MAX];
}

static struct pp_task *ring_pop(struct weft_procpool *p, struct pp_worker *w)
{
    struct pp_task *t = w->inflight[w->head];
    w->head = (w->head + 1) % WEFT_PROCPOOL_WINDOW_MAX;
    w->count--;
    w->inflight_bytes -= t->len;
    (void)p;
    return t;
}

/* A task left the running count: after its future settled, so that wait_idle never returns
 * before the future is done. */
static void ran(struct weft_procpool *p)
{
    /* release: pairs with wait_idle's load (seq_cst), which then sees the future settled */
    atomic_fetch_sub_explicit(&p->running, 1, memory_order_release);
}

static void fmt_ns(weft_ns ns, char *buf, size_t size)
{
    if (ns < WEFT_SEC(1))
        snprintf(buf, size, "%" PRId64 " ms", (int64_t)(ns / 1000000));
    else
        snprintf(buf, size, "%.2f s", (double)ns / 1e9);
}

static void kill_worker(struct weft_procpool *p, struct pp_worker *w, int reason, uint64_t task)
{
    if (w->state == W_KILLING || w->state == W_EMPTY) return;
    w->state = W_KILLING;
    w->kill_reason = reason;
    w->kill_task = task;
    atomic_fetch_add_explicit(&p->st_killed, 1, memory_order_relaxed);
    if (reason == K_BAD) {
        (void)weft_process_kill(w->proc);
        w->kill_at = WEFT_FOREVER;
    } else {
        (void)weft_process_terminate(w->proc);
        w->kill_at = weft_now() + p->kill_grace;
    }
}

static void bad_answer(struct weft_procpool *p, struct pp_worker *w, const char *why)
{
    snprintf(w->bad, sizeof w->bad, "%s", why);
    kill_worker(p, w, K_BAD, w->count ? ring_at(w, 0)->id : 0);
}

static void send_quit(struct weft_procpool *p, struct pp_worker *w, char *buf)
{
    (void)p;
    size_t n = pp_rec_end(buf, pp_rec_begin(buf, PP_QUIT), 0);
    w->state = W_RETIRING;
    w->full = 1; /* nothing more to it */
    (void)pp_seqpacket.send(w->fd, buf, n, 0);
}

static void answer(struct weft_procpool *p, struct pp_worker *w, const char *buf, size_t len)
{
    struct pp_answer a;
    char msg[WEFT_ERROR_MESSAGE_MAX], why[96];
    const char *bad;
    uint64_t sid;
    if (pp_started_parse(buf, len, &sid) == 0) { /* the head's timeout runs from now */
        if (w->count == 0 || ring_at(w, 0)->id != sid || ring_at(w, 0)->announced) {
            bad_answer(p, w, "a start notice out of turn");
            return;
        }
        ring_at(w, 0)->announced = 1;
        w->head_start = weft_now();
        return;
    }
    if (pp_result_parse(buf, len, &a, msg, &bad) != 0) {
        bad_answer(p, w, bad);
        return;
    }
    if (w->count == 0) {
        bad_answer(p, w, "an answer with no task outstanding");
        return;
    }
    struct pp_task *t = ring_at(w, 0);
    if (a.id != t->id) {
        snprintf(why, sizeof why, "an answer for task %" PRIu64 " while task %" PRIu64 " ran", a.id,
                 t->id);
        bad_answer(p, w, why);
        return;
    }
    ring_pop(p, w);
    w->full = 0;
    if (t->f == NULL) /* abandoned: failed when it was cancelled */
        free(t);
    else if (a.status == 0)
        task_ok(p, t, a.data, a.len);
    else
        task_fail(p, t, a.status, a.msg);
    ran(p);
    if (p->max_memory && a.rss > p->max_memory && w->state == W_LIVE) w->state = W_RETIRING;
}

/* Take what w's answer ring holds, in order. */
static void drain_answers(struct weft_procpool *p, struct pp_worker *w)
{
    const char *why;
    if (!w->ring || w->ring_bad) return;
    for (;;) {
        long n = pp_ring_take(w->ring, &w->rhead, p->inbuf, PP_RESULT_REC_MAX, &why);
        if (n == 0) break;
        if (n < 0) { /* the ring cannot be read past this: ignore the rest */
            bad_answer(p, w, why);
            w->ring_bad = 1; /* also when w was being killed already: no look again */
            return;
        }
        if (w->state == W_KILLING && w->kill_reason == K_BAD) continue;
        answer(p, w, p->inbuf, (size_t)n);
    }
    if (pp_ring_release(w->ring, w->rhead)) { /* the worker waits for room */
        char rec[32];
        (void)pp_seqpacket.send(w->fd, rec, pp_empty_encode(rec, PP_ROOM), 0);
    }
}

/* Whether w's ring holds records the manager should take now. */
static int answers_pending(struct pp_worker *w)
{
    if (!w->ring || w->ring_bad || w->state == W_EMPTY ||
        (w->state == W_KILLING && w->kill_reason == K_BAD))
        return 0;
    return pp_ring_ready(w->ring, w->rhead);
}

/* Read every record w has sent so far, in order: the ring's, then the socket's
 * (PP_RECV_BATCH per system call): doorbells, or the answers themselves when w has no ring.
 * The ring first: a worker with one sends nothing else on the socket, and whatever it sent
 * there is blamed on the task it ran, after every answer it had published. */
static void drain(struct weft_procpool *p, struct pp_worker *w)
{
    size_t lens[PP_RECV_BATCH];
    drain_answers(p, w);
    for (;;) {
        long got = pp_seqpacket.recv_many(w->fd, p->inbuf, PP_RESULT_REC_MAX, lens, PP_RECV_BATCH);
        for (long i = 0; i < got; i++) {
            const char *rec = p->inbuf + i * PP_RESULT_REC_MAX;
            if (lens[i] == 0) { /* the worker is gone: its pidfd says so too */
                got = WEFT_ECLOSED;
                break;
            }
            if (lens[i] > PP_RESULT_REC_MAX) {
                bad_answer(p, w, "an answer longer than the limit");
                continue;
            }
            if (w->state == W_KILLING && w->kill_reason == K_BAD) continue;
            if (w->ring && pp_doorbell_parse(rec, lens[i])) continue;
            answer(p, w, rec, lens[i]);
        }
        if (got < 0) epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        if (got < PP_RECV_BATCH) break; /* all there was; epoll reports what comes later */
    }
}

int weft__pp_start_worker(struct weft_procpool *p, struct pp_worker *w)
{
    if (weft__fault(WEFT__FAULT_WORKER_START))
        return weft__fail(WEFT_EAGAIN, "the start failed (a test's fault point)");
    int fds[2];
    int rc = pp_seqpacket.pair(fds);
    if (rc != 0) return rc;
    /* the slot's ring, made at its first start (without one, answers use the socket) */
    if (!w->ring && !weft__fault(WEFT__FAULT_PROCPOOL_RING) &&
        pp_ring_make(&w->ring_fd, &w->ring) != 0)
        w->ring = NULL;
    if (w->ring) pp_ring_reset(w->ring); /* the worker it served is dead */
    w->rhead = 0;
    w->ring_bad = 0;
    struct pp_worker_cfg cfg = {PP_MAGIC, fds[1], p->max_memory ? PP_CFG_RSS : 0,
                                w->ring ? w->ring_fd : -1, p->memory_limit};
    int pass[2] = {fds[1], cfg.ring_fd};
    char name[48];
    snprintf(name, sizeof name, "%s-%d", p->name, w->index);
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.name = name;
    o.daemon = 1;
    o.method = p->method;
    o.pass_fds = pass;
    o.npass_fds = cfg.ring_fd >= 0 ? 2 : 1;
    rc = weft_process_start(&w->proc, weft__procpool_worker, &cfg, sizeof cfg, &o);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return rc;
    }
    w->fd = fds[0];
    w->pid = weft_process_pid(w->proc);
    w->pidfd = weft_process_fd(w->proc);
    w->state = W_LIVE;
    w->head = w->count = 0;
    w->inflight_bytes = 0;
    w->full = 0;
    w->known_fns = 0;
    w->assigned = 0;
    w->kill_reason = K_NONE;
    w->kill_at = WEFT_FOREVER;
    w->restart_at = 0;
    w->backoff = 0;
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = ((uint64_t)(w->index - 1) << 2) | EV_SOCK;
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, w->fd, &ev);
    ev.data.u64 = ((uint64_t)(w->index - 1) << 2) | EV_PIDFD;
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, w->pidfd, &ev);
    atomic_store(&p->pids[w->index - 1], w->pid);
    atomic_fetch_add(&p->live, 1);
    atomic_fetch_add_explicit(&p->st_started, 1, memory_order_relaxed);
    return 0;
}

/* ---- deaths ---- */

static void break_pool(struct weft_procpool *p, const char *why)
{
    weft__lock_acquire(&p->lock);
    p->broken = 1;
    /* why cut to what fits after the prefix (GCC's truncation warning, where it inlines) */
    snprintf(p->reason, sizeof p->reason, "the pool is broken: %.*s",
             (int)(sizeof p->reason - sizeof "the pool is broken: "), why);
    weft__lock_release(&p->lock);
    drop_queue(p, WEFT_EBROKEN, p->reason);
}

/* An unexpected death: true if it breaks the pool (restart intensity). */
static int count_death(struct weft_procpool *p, weft_ns now)
{
    if (p->max_restarts < 0) return 0;
    int cap = p->max_restarts + 1;
    p->deaths[p->death_at] = now;
    p->death_at = (p->death_at + 1) % cap;
    if (p->ndeaths < cap) p->ndeaths++;
    /* the oldest of the last cap deaths is at death_at once the ring is full */
    return p->ndeaths == cap && now - p->deaths[p->death_at] <= p->restart_period;
}

static void requeue_rest(struct weft_procpool *p, struct pp_worker *w)
{
    /* back to the front, in their order: the last one first */
    weft__lock_acquire(&p->lock);
    for (int i = w->count - 1; i >= 0; i--) {
        struct pp_task *t = ring_at(w, i);
        atomic_fetch_sub_explicit(&p->running, 1, memory_order_relaxed);
        if (t->f == NULL) {
            free(t); /* abandoned */
            continue;
        }
        queue_push_front(p, t);
    }
    weft__lock_release(&p->lock);
    w->count = 0;
    w->inflight_bytes = 0;
}

/* The message and code for the task a dead worker held; 0: queue it again instead. */
static int culprit_outcome(struct weft_procpool *p, struct pp_worker *w, struct pp_task *t,
                           int code, char *msg, size_t size, int *unexpected)
{
    char st[96], d[32];
    weft_process_status_text(code, st, sizeof st);
    const char *was = strncmp(st, "killed", 6) == 0 ? "was " : "";
    *unexpected = 0;
    if (w->state == W_KILLING && w->kill_reason != K_BAD && t->id != w->kill_task &&
        w->kill_reason != K_SHUTDOWN)
        return 0; /* the task the kill was for had finished: this one was hit by it */
    if (w->state == W_KILLING) {
        switch (w->kill_reason) {
        case K_TIMEOUT:
            fmt_ns(t->timeout, d, sizeof d);
            snprintf(msg, size, "task %" PRIu64 " timed out after %s; worker %d (pid %d) %s%s",
                     t->id, d, w->index, w->pid, was, st);
            atomic_fetch_add_explicit(&p->st_timed_out, 1, memory_order_relaxed);
            return WEFT_ETIMEDOUT;
        case K_CANCEL:
            snprintf(msg, size, "task %" PRIu64 " was cancelled; worker %d (pid %d) %s%s", t->id,
                     w->index, w->pid, was, st);
            return WEFT_ECANCELED;
        case K_SHUTDOWN:
            snprintf(msg, size,
                     "the pool %.100s while task %" PRIu64 " ran; worker %d (pid %d) %s%.60s",
                     p->reason[0] ? p->reason : "was shut down", t->id, w->index, w->pid, was, st);
            return WEFT_ECANCELED;
        default:
            snprintf(msg, size,
                     "worker %d (pid %d) sent a malformed answer (%s) while running task %" PRIu64,
                     w->index, w->pid, w->bad, t->id);
            return WEFT_EDIED;
        }
    }
    *unexpected = w->state != W_RETIRING || code != 0;
    snprintf(msg, size, "worker %d (pid %d) %s%s while running task %" PRIu64 "%s", w->index,
             w->pid, was, st, t->id,
             code == -SIGKILL ? " (out of memory? the kernel's OOM killer sends SIGKILL)" : "");
    if (t->retries > 0) {
        t->retries--;
        atomic_fetch_add_explicit(&p->st_retried, 1, memory_order_relaxed);
        return 0;
    }
    return WEFT_EDIED;
}

/* The tasks a dead worker held: the one it ran fails (or is queued again), the rest are
 * queued again (or cancelled by a shutdown's kill). Fills msg; returns 1 if the death was
 * unexpected (a crash, counted toward restart intensity). */
static int settle_held(struct weft_procpool *p, struct pp_worker *w, int code, char *msg,
                       size_t size)
{
    int unexpected;
    if (w->count == 0) {
        char st[96];
        weft_process_status_text(code, st, sizeof st);
        snprintf(msg, size, "worker %d (pid %d) %s while idle", w->index, w->pid, st);
        unexpected = w->state == W_LIVE || (w->state == W_RETIRING && code != 0);
        if (unexpected) atomic_fetch_add_explicit(&p->st_died, 1, memory_order_relaxed);
        return unexpected;
    }
    struct pp_task *t = ring_at(w, 0);
    int status = culprit_outcome(p, w, t, code, msg, size, &unexpected);
    if (unexpected) /* counted before the future settles: its reader sees the count */
        atomic_fetch_add_explicit(&p->st_died, 1, memory_order_relaxed);
    if (status != 0 || t->f == NULL) {
        ring_pop(p, w);
        if (t->f == NULL)
            free(t);
        else
            task_fail(p, t, status, msg);
        ran(p);
    }
    while (w->state == W_KILLING && w->kill_reason == K_SHUTDOWN && w->count > 0) {
        char m[96];
        struct pp_task *r = ring_pop(p, w);
        if (r->f == NULL) {
            free(r);
        } else {
            snprintf(m, sizeof m, "the pool was shut down before task %" PRIu64 " ran", r->id);
            task_fail(p, r, WEFT_ECANCELED, m);
        }
        ran(p);
    }
    requeue_rest(p, w);
    return unexpected;
}

/* Forget a reaped worker: its descriptors, its handle, its place (W_EMPTY). */
static void slot_free(struct weft_procpool *p, struct pp_worker *w)
{
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    (void)weft_process_free(w->proc);
    w->proc = NULL;
    w->state = W_EMPTY;
    atomic_store(&p->pids[w->index - 1], 0);
    atomic_fetch_sub(&p->live, 1);
}

/* Whether a replacement is wanted: the pool is open, or shut down with a queue still to
 * run before kill_after. */
static int wants_workers(struct weft_procpool *p, weft_ns now)
{
    weft__lock_acquire(&p->lock);
    int yes = !p->broken && (!p->closed || (p->qhead && now < p->kill_deadline));
    weft__lock_release(&p->lock);
    return yes;
}

/* Start a replacement in the empty slot w. A failure counts as a death toward restart
 * intensity (so a start that keeps failing breaks the pool, as a worker that keeps dying
 * does) and is tried again after a backoff that doubles, capped so that max_restarts + 1
 * failures fit twice in restart_period. */
static void restart(struct weft_procpool *p, struct pp_worker *w, weft_ns now)
{
    w->restart_at = 0;
    if (weft__pp_start_worker(p, w) == 0) return;
    char msg[WEFT_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "worker %d could not be started: %.200s", w->index,
             weft_error_message());
    atomic_fetch_add_explicit(&p->st_start_failed, 1, memory_order_relaxed);
    if (count_death(p, now)) {
        char why[WEFT_ERROR_MESSAGE_MAX], d[32];
        fmt_ns(p->restart_period, d, sizeof d);
        snprintf(why, sizeof why, "%d workers died or failed to start within %s; the last: %.150s",
                 p->max_restarts + 1, d, msg);
        break_pool(p, why);
        return;
    }
    weft_ns cap =
        p->max_restarts < 0 ? WEFT_SEC(1) : p->restart_period / (2 * (p->max_restarts + 1));
    if (cap < WEFT_MS(1)) cap = WEFT_MS(1);
    w->backoff = w->backoff ? 2 * w->backoff : WEFT_MS(1);
    if (w->backoff > cap) w->backoff = cap;
    w->restart_at = now + w->backoff;
}

static void died(struct weft_procpool *p, struct pp_worker *w)
{
    drain(p, w);
    int code = weft_process_exitcode(w->proc);
    weft_ns now = weft_now();
    char msg[WEFT_ERROR_MESSAGE_MAX];
    int unexpected = settle_held(p, w, code, msg, sizeof msg);
    weft__lock_acquire(&p->lock);
    int open = !p->closed && !p->broken;
    weft__lock_release(&p->lock);
    if (w->state == W_RETIRING && !unexpected && open)
        atomic_fetch_add_explicit(&p->st_retired, 1, memory_order_relaxed);
    slot_free(p, w);
    if (unexpected && count_death(p, now)) {
        char why[WEFT_ERROR_MESSAGE_MAX], d[32];
        fmt_ns(p->restart_period, d, sizeof d);
        snprintf(why, sizeof why, "%d workers died within %s; the last: %.150s",
                 p->max_restarts + 1, d, msg);
        break_pool(p, why);
    }
    /* a shut-down pool still runs its queue (until kill_after): it replaces workers for it */
    w->backoff = 0;
    if (wants_workers(p, now)) restart(p, w, now);
}

/* ---- dispatch ---- */

static int can_take(struct weft_procpool *p, struct pp_worker *w)
{
    if (w->state != W_LIVE || w->full || w->count >= p->window) return 0;
    if (p->max_tasks && w->assigned >= p->max_tasks) return 0;
    /* refilled when half empty, so that one record carries several tasks */
    if (w->count > 0 && w->count > p->window / 2) return 0;
    return w->count == 0 || ring_at(w, 0)->timeout == 0;
}

/* Send the definitions of functions [w->known_fns, upto) to w; -1 if the carrier refused. */
static int send_defs(struct weft_procpool *p, struct pp_worker *w, uint32_t upto, char *buf)
{
    while (w->known_fns < upto) {
        size_t len = pp_rec_begin(buf, PP_DEFS);
        unsigned n = 0;
        while (w->known_fns + n < upto) {
            const struct pp_fndef *d = &p->fns[w->known_fns + n];
            if (pp_rec_add_def(buf, &len, PP_REC_MAX, w->known_fns + n, d->name, d->offset)) break;
            n++;
        }
        if (pp_seqpacket.send(w->fd, buf, pp_rec_end(buf, len, n), 0) != 0) return -1;
        w->known_fns += n;
    }
    return 0;
}

/* Take up to max tasks for w off the queue, in order, under one hold of p->lock: those that
 * fit a record begun at len bytes and w's window (a task with a timeout only alone, and
 * nothing after it). Then make each RUNNING; one cancelled while queued is freed instead.
 * Returns how many are in out. */
static int take_tasks(struct weft_procpool *p, struct pp_worker *w, size_t len, int max,
                      struct pp_task **out)
{
    int n = 0;
    weft__lock_acquire(&p->lock);
    while (n < max) {
        struct pp_task *t = p->qhead;
        size_t need = PP_ALIGN(sizeof(struct pp_wtask)) + PP_ALIGN(t ? t->len : 0);
        if (!t || (t->timeout && w->count + n > 0) || len + need > PP_REC_MAX ||
            w->inflight_bytes + t->len > 2 * (size_t)PP_REC_MAX)
            break;
        /* running first: wait_idle never sees it in neither count */
        atomic_fetch_add_explicit(&p->running, 1, memory_order_relaxed);
        queue_pop(p);
        out[n++] = t;
        len += need;
        if (t->timeout) break;
    }
    weft__lock_release(&p->lock);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        struct pp_task *t = out[i];
        if (!t->started) {
            t->holder = holder_get(p);
            if (t->holder) (void)weft__future_set_cancel_scope(t->f, t->holder->scope);
            if (weft_future_set_running(t->f) != 1) {
                atomic_fetch_add_explicit(&p->st_cancelled, 1, memory_order_relaxed);
                atomic_fetch_sub_explicit(&p->running, 1, memory_order_relaxed);
                task_free(p, t); /* cancelled while queued */
                continue;
            }
            t->started = 1;
        }
        out[kept++] = t;
    }
    return kept;
}

static void fill(struct weft_procpool *p, struct pp_worker *w, int share, char *buf)
{
    struct pp_task *sent[WEFT_PROCPOOL_WINDOW_MAX];
    int n = 0, room = p->window - w->count;
    if (room > share) room = share;
    if (p->max_tasks && (uint64_t)room > p->max_tasks - w->assigned)
        room = (int)(p->max_tasks - w->assigned);
    size_t len = pp_rec_begin(buf + PP_REC_MAX, PP_TASKS);
    uint32_t need_fns = 0;
    if (room > 0) n = take_tasks(p, w, len, room, sent);
    for (int i = 0; i < n; i++) {
        struct pp_task *t = sent[i];
        t->announced = 0;
        pp_rec_add_task(buf + PP_REC_MAX, &len, PP_REC_MAX, t->id,
                        t->fn | (t->timeout ? PP_FN_ANNOUNCE : 0), t->arg, t->len);
        if (t->fn + 1 > need_fns) need_fns = t->fn + 1;
    }
    if (n == 0) return;
    int rc = need_fns > w->known_fns ? send_defs(p, w, need_fns, buf) : 0;
    if (rc == 0)
        rc = pp_seqpacket.send(w->fd, buf + PP_REC_MAX,
                               pp_rec_end(buf + PP_REC_MAX, len, (unsigned)n), 0);
    if (rc != 0) { /* full, or dying (its pidfd will tell): back to the queue */
        w->full = 1;
        weft__lock_acquire(&p->lock);
        while (n > 0) {
            queue_push_front(p, sent[--n]);
            atomic_fetch_sub_explicit(&p->running, 1, memory_order_relaxed);
        }
        weft__lock_release(&p->lock);
        return;
    }
    for (int i = 0; i < n; i++) {
        w->inflight[(w->head + w->count) % WEFT_PROCPOOL_WINDOW_MAX] = sent[i];
        w->count++;
        w->inflight_bytes += sent[i]->len;
    }
    w->assigned += (uint64_t)n;
    if (p->max_tasks && w->assigned >= p->max_tasks) w->state = W_RETIRING;
}

static void dispatch(struct weft_procpool *p, char *buf)
{
    int takers = 0;
    for (int i = 0; i < p->nworkers; i++) takers += can_take(p, &p->workers[i]);
    if (takers == 0) return;
    uint64_t q = atomic_load_explicit(&p->queued, memory_order_relaxed);
    if (q == 0) return;
    int share = (int)((q + (uint64_t)takers - 1) / (uint64_t)takers);
    if (share < 1) share = 1;
    for (int i = 0; i < p->nworkers; i++)
        if (can_take(p, &p->workers[i])) fill(p, &p->workers[i], share, buf);
}

/* ---- cancels, timers, shutdown ---- */

/* Tell w not to start the tasks in ids (sent ahead, cancelled since). If the carrier has no
 * room, the worker runs them and their answers are dropped. */
static void send_cancels(struct pp_worker *w, const uint64_t *ids, int n, char *buf)
{
    size_t len = pp_rec_begin(buf, PP_CANCEL);
    int k = 0;
    while (k < n && pp_rec_add_task(buf, &len, PP_REC_MAX, ids[k], 0, NULL, 0) == 0) k++;
    (void)pp_seqpacket.send(w->fd, buf, pp_rec_end(buf, len, (unsigned)k), 0);
    /* rung after the send (release): a worker that sees the new value finds the record */
    if (w->ring) atomic_store_explicit(&w->ring->bell, ++w->bell, memory_order_release);
}

static void cancels(struct weft_procpool *p, char *buf)
{
    char msg[128];
    if (weft_scope_cancelled(p->scope) == 1) { /* a stop, whose own hook may come later */
        atomic_store(&p->stop_seen, 1);
        return;
    }
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        uint64_t ids[WEFT_PROCPOOL_WINDOW_MAX];
        struct pp_task *gone[WEFT_PROCPOOL_WINDOW_MAX];
        int nids = 0;
        for (int k = 0; k < w->count; k++) {
            struct pp_task *t = ring_at(w, k);
            if (t->f == NULL || !t->holder || !atomic_load(&t->holder->fired)) continue;
            if (k == 0) {
                kill_worker(p, w, K_CANCEL, t->id);
                continue;
            }
            /* sent ahead, not started: failed now; the worker's answer is ignored */
            struct pp_task *husk = weft__calloc(1, sizeof *husk);
            if (husk == NULL) { /* cannot track it: end the worker instead */
                kill_worker(p, w, K_CANCEL, ring_at(w, 0)->id);
                continue;
            }
            husk->id = t->id;
            husk->len = t->len;
            w->inflight[(w->head + k) % WEFT_PROCPOOL_WINDOW_MAX] = husk;
            ids[nids] = t->id;
            gone[nids++] = t; /* the husk stands in the ring */
        }
        /* The worker looks for CANCEL records before each task sent ahead: sent before the
         * futures settle, so that whoever sees one cancelled knows its task will not start
         * (unless it had already). */
        if (nids > 0 && w->state == W_LIVE) send_cancels(w, ids, nids, buf);
        for (int k = 0; k < nids; k++) {
            snprintf(msg, sizeof msg, "task %" PRIu64 " was cancelled before it started",
                     gone[k]->id);
            task_fail(p, gone[k], WEFT_ECANCELED, msg);
        }
    }
    /* queued again after a death, with its cancel scope: failed now */
    weft__lock_acquire(&p->lock);
    struct pp_task *hit = NULL;
    for (struct pp_task *t = p->qhead, *next; t; t = next) {
        next = t->next;
        if (!t->started || !t->holder || !atomic_load(&t->holder->fired)) continue;
        if (t->prev)
            t->prev->next = t->next;
        else
            p->qhead = t->next;
        if (t->next)
            t->next->prev = t->prev;
        else
            p->qtail = t->prev;
        t->next = hit;
        hit = t;
    }
    weft__lock_release(&p->lock);
    while (hit) {
        struct pp_task *next = hit->next;
        snprintf(msg, sizeof msg, "task %" PRIu64 " was cancelled", hit->id);
        task_fail(p, hit, WEFT_ECANCELED, msg);
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_release); /* as ran() */
        hit = next;
    }
}

/* Timeouts and SIGKILLs due; returns the next moment something is due. */
static weft_ns timers(struct weft_procpool *p, weft_ns now)
{
    weft_ns next = WEFT_FOREVER;
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        if (w->state == W_EMPTY && w->restart_at) { /* a start failed: again when due */
            if (!wants_workers(p, now))
                w->restart_at = 0;
            else if (now >= w->restart_at)
                restart(p, w, now);
            if (w->restart_at && w->restart_at < next) next = w->restart_at;
            continue;
        }
        if (w->state == W_KILLING) {
            if (w->kill_at != WEFT_FOREVER && now >= w->kill_at) {
                (void)weft_process_kill(w->proc);
                w->kill_at = WEFT_FOREVER;
            } else if (w->kill_at < next) {
                next = w->kill_at;
            }
            continue;
        }
        if (w->state == W_EMPTY || w->count == 0) continue;
        struct pp_task *t = ring_at(w, 0);
        if (t->timeout == 0 || t->f == NULL || !t->announced) continue;
        weft_ns due = w->head_start + t->timeout;
        if (now >= due)
            kill_worker(p, w, K_TIMEOUT, t->id);
        else if (due < next)
            next = due;
    }
    return next;
}

/* Shutdown, stop and break; returns 1 when the manager is done. */
static int control(struct weft_procpool *p, weft_ns now, weft_ns *next, char *buf)
{
    if (atomic_exchange(&p->stop_seen, 0)) {
        char why[WEFT_SCOPE_REASON_MAX];
        int code;
        weft_scope_reason(p->scope, &code, why, sizeof why);
        weft__lock_acquire(&p->lock);
        if (!p->reason[0] || !p->broken)
            snprintf(p->reason, sizeof p->reason, "was stopped (its scope was cancelled: %s)", why);
        p->closed = 1;
        p->cancel_pending = 1;
        p->kill_deadline = now;
        weft__lock_release(&p->lock);
    }
    weft__lock_acquire(&p->lock);
    int closed = p->closed, cancel = p->cancel_pending, broken = p->broken;
    weft_ns kd = p->kill_deadline;
    weft__lock_release(&p->lock);
    if (broken && atomic_load_explicit(&p->queued, memory_order_relaxed))
        drop_queue(p, WEFT_EBROKEN, p->reason);
    if (!closed && !broken) return 0;
    int killing = closed && now >= kd;
    if (cancel || killing) drop_queue(p, WEFT_ECANCELED, "the pool was shut down");
    if (closed && !killing && kd < *next) *next = kd;
    int left = 0;
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        if (w->state == W_EMPTY) {
            left += w->restart_at != 0; /* a replacement still to start for the queue */
            continue;
        }
        left++;
        if (killing && w->count > 0) kill_worker(p, w, K_SHUTDOWN, ring_at(w, 0)->id);
        if (w->count == 0 && w->state == W_LIVE &&
            atomic_load_explicit(&p->queued, memory_order_relaxed) == 0)
            send_quit(p, w, buf);
    }
    return left == 0;
}

static int wait_ms(weft_ns next, weft_ns now)
{
    if (next == WEFT_FOREVER) return -1;
    if (next <= now) return 0;
    weft_ns ms = (next - now + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

static void retire_idle(struct weft_procpool *p, char *buf)
{
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        if (w->state == W_RETIRING && w->count == 0 && !w->full) send_quit(p, w, buf);
    }
}

static void events(struct weft_procpool *p, struct epoll_event *ev, int n)
{
    for (int pass = 0; pass < 2; pass++) /* answers first, then deaths */
        for (int i = 0; i < n; i++) {
            int kind = (int)(ev[i].data.u64 & 3);
            struct pp_worker *w = &p->workers[ev[i].data.u64 >> 2];
            if (pass == 0 && kind == EV_EFD) {
                uint64_t v;
                (void)!read(p->efd, &v, sizeof v);
            } else if (pass == 0 && kind == EV_SOCK && w->state != W_EMPTY) {
                drain(p, w);
            } else if (pass == 1 && kind == EV_PIDFD && w->state != W_EMPTY && w->pidfd >= 0 &&
                       weft_process_is_alive(w->proc) == 0) {
                died(p, w);
            }
        }
}

/* Tell the workers whether the manager sleeps (ring.h); going to sleep, 1 if answers wait
 * already (then it must not). */
static int rings_sleep(struct weft_procpool *p, int sleeping)
{
    int waiting = 0;
    for (int i = 0; i < p->nworkers; i++) {
        struct pp_worker *w = &p->workers[i];
        if (!w->ring || w->state == W_EMPTY) continue;
        atomic_store(&w->ring->sleeping, (uint32_t)sleeping); /* seq_cst: before the look */
        if (sleeping) waiting |= answers_pending(w);
    }
    return waiting;
}

int weft__pp_manager(void *arg)
{
    struct weft_procpool *p = arg;
    weft__pp_self = p;
    weft_shield_begin(); /* its waits end by its own events, never by a cancel */
    char *buf = p->buf;
    struct epoll_event ev[64];
    for (;;) {
        weft_ns now = weft_now(), next = WEFT_FOREVER;
        /* stop first: a stop cancels every task's scope too, and says why itself */
        if (control(p, now, &next, buf)) break;
        if (atomic_exchange(&p->cancel_seen, 0)) cancels(p, buf);
        dispatch(p, buf);
        retire_idle(p, buf);
        weft_ns t = timers(p, now);
        if (t < next) next = t;
        if (atomic_load_explicit(&p->queued, memory_order_relaxed) == 0 &&
            atomic_load_explicit(&p->running, memory_order_relaxed) == 0)
            weft__pp_notify(p);
        atomic_store(&p->sleeping, 1); /* seq_cst: pairs with submit's exchange */
        int busy = atomic_load(&p->queued) > 0 && atomic_load(&p->cancel_seen) == 0;
        int can = 0;
        for (int i = 0; busy && i < p->nworkers; i++) can |= can_take(p, &p->workers[i]);
        can |= rings_sleep(p, 1);
        int n = epoll_wait(p->epfd, ev, 64, can ? 0 : wait_ms(next, weft_now()));
        atomic_store(&p->sleeping, 0);
        rings_sleep(p, 0);
        if (n > 0) events(p, ev, n);
        for (int i = 0; i < p->nworkers; i++) /* answers that came without a doorbell */
            if (answers_pending(&p->workers[i])) drain_answers(p, &p->workers[i]);
    }
    drop_queue(p, WEFT_ECANCELED, "the pool was shut down"); /* none left to run them */
    weft__pp_holders_free(p);
    atomic_store(&p->finished, 1);
    weft__pp_notify(p);
    weft__pp_self = NULL;
    weft_shield_end();
    return 0;
}
