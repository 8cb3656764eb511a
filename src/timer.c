/* src/timer.c - timers: one daemon timer thread serving a binary min-heap of deadlines.
 *
 * weft_timer_start puts a timer in the heap (ordered by deadline, then by a sequence number so
 * that equal deadlines run in start order) and, if it became the earliest, wakes the timer
 * thread. The timer thread parks on svc.q until the earliest deadline (the parking lot's own
 * deadline: no timerfd, no polling), pops every due timer and runs its callback with the lock
 * dropped. The thread is started by the first weft_timer_start; it is a daemon (pending timers
 * do not hold up exit), and exit.c ends it at exit when no callback runs (weft__timer_at_exit),
 * so that tools such as valgrind see no thread left over.
 *
 * Invariants (all under svc.q.lock, the one lock of this module):
 *   - a timer is in the heap iff its state is PENDING, and heap[t->slot] == t;
 *   - state moves PENDING -> RUNNING -> PENDING (periodic, not stopped) | FIRED | CANCELLED,
 *     or PENDING -> CANCELLED; FIRED and CANCELLED are final;
 *   - refs counts the handle (when the caller took one) plus one while the timer is not final;
 *     the timer is freed when refs reaches 0;
 *   - t->waiters (its lock field unused: svc.q.lock guards it) holds the weft_timer_wait
 *     records; they are all woken when the timer reaches a final state;
 *   - svc.q holds at most the timer thread's own record, linked only while it parks.
 * fn, arg, interval and seq are written before the timer is published in the heap and never
 * change for a given run, so the timer thread reads them without the lock.
 * Lock order: docs/design/locks.md. Here: the timer thread is started under svc.q.lock, once;
 * callbacks run with no weft lock held.
 * After fork() the child has no timer thread: its copy of every timer is cancelled, and the
 * next start makes a new thread (fork.c's table holds svc.q.lock across the fork).
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <weft/error.h>
#include <weft/thread.h>
#include <weft/timer.h>

#include "core/fork.h"
#include "core/internal.h"
#include "core/park.h"
#include "core/opts.h"
#include "test_hooks.h"

enum { PENDING, RUNNING, FIRED, CANCELLED };

struct weft_timer {
    void (*fn)(void *arg);
    void *arg;
    weft_ns deadline, interval;
    uint64_t seq;        /* tie-break for equal deadlines: start (or re-arm) order */
    size_t slot;         /* index in the heap while PENDING */
    int state;           /* see the enum */
    int refs;            /* see the invariants */
    int runs;            /* completed runs of fn, saturating */
    bool stop;           /* periodic: cancelled while running, do not re-arm */
    weft__waitq waiters; /* weft_timer_wait records */
};

static struct {
    weft__waitq q; /* q.lock guards everything here and in every timer */
    weft_timer **heap;
    size_t n, cap;
    uint64_t seq;
    weft_timer *current; /* the timer whose fn runs now, NULL if none */
    bool started;
    uintptr_t gen;      /* the timer thread returns when this is not the value it started with */
    weft_thread thread; /* while started */
} svc;

static _Thread_local bool tls_timer_thread WEFT__TLS_IE;

/* ---- the heap (svc.q.lock held) ---- */

static bool earlier(const weft_timer *a, const weft_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void put_at(size_t i, weft_timer *t)
{
    svc.heap[i] = t;
    t->slot = i;
}

static void sift_up(size_t i)
{
    weft_timer *t = svc.heap[i];
    while (i > 0 && earlier(t, svc.heap[(i - 1) / 2])) {
        put_at(i, svc.heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    put_at(i, t);
}

static void sift_down(size_t i)
{
    weft_timer *t = svc.heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= svc.n) break;
        if (c + 1 < svc.n && earlier(svc.heap[c + 1], svc.heap[c])) c++;
        if (!earlier(svc.heap[c], t)) break;
        put_at(i, svc.heap[c]);
        i = c;
    }
    put_at(i, t);
}

/* Room for one more timer, keeping one slot spare for the timer that may be running (its
 * re-arm must not fail): whenever a timer runs, n <= cap - 1. WEFT_ENOMEM if it cannot grow. */
static int heap_reserve(void)
{
    if (svc.n + 1 < svc.cap) return 0;
    size_t cap = svc.cap ? svc.cap * 2 : 64;
    weft_timer **h = weft__fault(WEFT__FAULT_ALLOC) ? NULL : realloc(svc.heap, cap * sizeof *h);
    if (h == NULL) return weft__fail(WEFT_ENOMEM, "no memory to grow the timer heap to %zu", cap);
    svc.heap = h;
    svc.cap = cap;
    return 0;
}

/* Insert t (room reserved); returns true if it became the earliest. */
static bool heap_push(weft_timer *t)
{
    t->seq = svc.seq++;
    t->state = PENDING;
    put_at(svc.n++, t);
    sift_up(svc.n - 1);
    return t->slot == 0;
}

static void heap_remove(weft_timer *t)
{
    size_t i = t->slot;
    weft_timer *last = svc.heap[--svc.n];
    if (i == svc.n) return;
    put_at(i, last);
    sift_down(i);
    sift_up(last->slot);
}

/* ---- timer life (svc.q.lock held) ---- */

static void unref(weft_timer *t)
{
    if (--t->refs == 0) free(t);
}

/* Move t to a final state, wake its waiters, drop the scheduled ref. */
static void finish(weft_timer *t, int state, weft__wakelist *wl)
{
    t->state = state;
    weft__waitq_wake_all(&t->waiters, wl);
    unref(t);
}

/* The deadline of the next run of periodic t after a run that ended at now: one interval on,
 * skipping the ticks that already passed; saturates at WEFT_FOREVER. */
static weft_ns next_tick(const weft_timer *t, weft_ns now)
{
    weft_ns d = t->deadline, iv = t->interval;
    if (d > WEFT_FOREVER - iv) return WEFT_FOREVER;
    d += iv;
    if (d > now) return d;
    weft_ns missed = (now - d) / iv + 1;
    if (missed > (WEFT_FOREVER - d) / iv) return WEFT_FOREVER;
    return d + missed * iv;
}

/* ---- the timer thread ---- */

/* Park until deadline or until a start makes an earlier timer the first; the lock is held on
 * entry and on return. Not cancellable: the timer thread serves every scope. */
static void park_until(weft_ns deadline)
{
    weft__waitq_sleep_locked(&svc.q, deadline);
}

/* Run due timer t (just popped) with the lock dropped, then re-arm or finish it. */
static void run(weft_timer *t)
{
    t->state = RUNNING;
    svc.current = t;
    weft__lock_release(&svc.q.lock);
    t->fn(t->arg);
    weft__lock_acquire(&svc.q.lock);
    svc.current = NULL;
    if (t->runs < INT_MAX) t->runs++;
    if (t->interval > 0 && !t->stop) {
        t->deadline = next_tick(t, weft_now());
        heap_push(t); /* room: the spare slot kept by heap_reserve */
        return;
    }
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    finish(t, t->stop ? CANCELLED : FIRED, &wl);
    /* Under the lock: correct, only a little slower for the woken waiters. */
    weft__wakelist_flush(&wl);
}

static int timer_main(void *gen)
{
    tls_timer_thread = true;
    weft__lock_acquire(&svc.q.lock);
    while (svc.gen == (uintptr_t)gen) {
        weft_timer *t = svc.n ? svc.heap[0] : NULL;
        if (t == NULL || t->deadline > weft_now()) {
            park_until(t ? t->deadline : WEFT_FOREVER);
            continue;
        }
        heap_remove(t);
        run(t);
    }
    weft__lock_release(&svc.q.lock);
    return 0;
}

/* fork(): the child has no timer thread. The prepare handler takes the lock so that the heap
 * is consistent at the fork; in the child every timer of the parent is cancelled (its waiters
 * were threads of the parent, gone too), and the next start makes a new timer thread. */
void weft__timer_fork_prepare(void)
{
    weft__lock_acquire(&svc.q.lock);
}

void weft__timer_fork_parent(void)
{
    weft__lock_release(&svc.q.lock);
}

static void drop_in_child(weft_timer *t)
{
    t->waiters.head = t->waiters.tail = NULL;
    t->state = CANCELLED;
    unref(t);
}

void weft__timer_fork_child(void)
{
    svc.q.head = svc.q.tail = NULL;
    if (svc.current) drop_in_child(svc.current);
    while (svc.n > 0) drop_in_child(svc.heap[--svc.n]);
    svc.current = NULL;
    svc.started = false;
    svc.thread = (weft_thread){0};
    weft__timer_fork_parent();
}

/* Exit: end the timer thread and join it, unless a callback runs (the thread is a daemon: a
 * callback does not hold up exit) or the caller is that thread. Pending timers never fire; a
 * start from a later exit handler makes a new thread. */
void weft__timer_at_exit(void)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&svc.q.lock);
    bool join = svc.started && svc.current == NULL && !tls_timer_thread;
    weft_thread th = svc.thread;
    if (join) {
        svc.gen++;
        weft__waitq_wake_all(&svc.q, &wl);
        svc.started = false;
    }
    weft__lock_release(&svc.q.lock);
    weft__wakelist_flush(&wl);
    if (!join) return;
    weft_shield_begin(); /* a cancelled root scope (Ctrl-C) must not cut the join short */
    (void)weft_thread_join(th, NULL, WEFT_FOREVER);
    weft_shield_end();
}

/* Start the timer thread if it is not running (svc.q.lock held). */
static int ensure_thread(void)
{
    if (svc.started) return 0;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = "weft-timer";
    o.daemon = 1;
    o.scope = weft_scope_root(); /* not a child of whichever scope asked first */
    weft__fork_register();
    weft__exit_register();
    int rc = weft_thread_start(&svc.thread, timer_main, (void *)svc.gen, &o);
    if (rc) return rc == WEFT_EINVAL ? WEFT_EAGAIN : rc;
    svc.started = true; /* joined at exit (weft__timer_at_exit) */
    return 0;
}

/* ---- public API ---- */

static int check_start(weft_timer **out, weft_ns delay, void (*fn)(void *),
                       const weft_timer_opts *o)
{
    if (fn == NULL) return weft__fail(WEFT_EINVAL, "fn is NULL");
    if (delay < 0) return weft__fail(WEFT_EINVAL, "delay is negative (%lld)", (long long)delay);
    if (o && o->interval < 0)
        return weft__fail(WEFT_EINVAL, "interval is negative (%lld)", (long long)o->interval);
    if (o && o->interval > 0 && out == NULL)
        return weft__fail(WEFT_EINVAL, "a periodic timer needs out (it could never be stopped)");
    return 0;
}

int weft_timer_start(weft_timer **out, weft_ns delay, void (*fn)(void *arg), void *arg,
                     const weft_timer_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_timer_opts") != 0) return WEFT_EINVAL;
    int rc = check_start(out, delay, fn, opts);
    if (rc) return rc;
    weft_timer *t = weft__calloc(1, sizeof *t);
    if (t == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a timer");
    t->fn = fn;
    t->arg = arg;
    t->interval = opts ? opts->interval : 0;
    t->deadline = weft_deadline(delay);
    t->refs = out ? 2 : 1;

    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&svc.q.lock);
    rc = heap_reserve();
    if (rc == 0) rc = ensure_thread();
    if (rc == 0 && heap_push(t)) weft__waitq_wake_one(&svc.q, &wl);
    weft__lock_release(&svc.q.lock);
    weft__wakelist_flush(&wl);
    if (rc) {
        free(t);
        return rc;
    }
    if (out) *out = t;
    return 0;
}

int weft_timer_cancel(weft_timer *t)
{
    if (t == NULL) return weft__fail(WEFT_EINVAL, "t is NULL");
    int rc = 0;
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&svc.q.lock);
    switch (t->state) {
    case PENDING:
        heap_remove(t);
        finish(t, CANCELLED, &wl); /* the handle's ref keeps t */
        break;
    case RUNNING:
        if (t->interval > 0)
            t->stop = true;
        else
            rc = weft__fail(WEFT_ESTATE, "the timer's function is running");
        break;
    case FIRED:
        rc = weft__fail(WEFT_ESTATE, "the timer has already run");
        break;
    default: /* CANCELLED */
        break;
    }
    weft__lock_release(&svc.q.lock);
    weft__wakelist_flush(&wl);
    return rc;
}

/* Park until t is final; the lock is held on entry and released on return. */
static int wait_final(weft_timer *t, weft_ns deadline)
{
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    p.spin = false; /* a timer's end is not a hand-off due within microseconds */
    weft__waiter_init(&w, &p, 0);
    weft__waitq_push(&t->waiters, &w);
    weft__lock_release(&svc.q.lock);
    uint32_t s = weft__park_wait(&p);
    if (s >= WEFT__PARK_WOKEN) return 0;
    weft__lock_acquire(&svc.q.lock);
    weft__waitq_remove(&t->waiters, &w);
    weft__lock_release(&svc.q.lock);
    return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
}

int weft_timer_wait(weft_timer *t, weft_ns timeout)
{
    weft_ns deadline;
    if (t == NULL) return weft__fail(WEFT_EINVAL, "t is NULL");
    int rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    weft__lock_acquire(&svc.q.lock);
    if (t->state == FIRED || t->state == CANCELLED)
        rc = 0;
    else if (tls_timer_thread)
        rc = WEFT_EDEADLK;
    else if (timeout == 0)
        rc = WEFT_EAGAIN;
    else
        return wait_final(t, deadline);
    weft__lock_release(&svc.q.lock);
    return rc;
}

int weft_timer_fired(weft_timer *t)
{
    if (t == NULL) return weft__fail(WEFT_EINVAL, "t is NULL");
    weft__lock_acquire(&svc.q.lock);
    int n = t->runs;
    weft__lock_release(&svc.q.lock);
    return n;
}

void weft_timer_free(weft_timer *t)
{
    if (t == NULL) return;
    weft__lock_acquire(&svc.q.lock);
    unref(t);
    weft__lock_release(&svc.q.lock);
}

/* svc.q holds the timer thread's own record only while it parks (see the invariants above). */
size_t weft__test_timer_parked(void)
{
    weft__lock_acquire(&svc.q.lock);
    size_t n = weft__waitq_count(&svc.q);
    weft__lock_release(&svc.q.lock);
    return n;
}
