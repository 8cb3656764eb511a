/* src/ipcq/ipcq.c - put, get, close, task_done and join of the inter-process queue, and how a
 * call waits (spin while it pays, then sleep on an eventcount in the shared segment).
 *
 * The protocol (docs/design/ipcq.md has the whole of it):
 *   - a put takes the producers' lock (on a one-producer queue: checks that its thread holds
 *     the producer's role), checks closed and room, copies length and bytes into
 *     the slot at tail, and publishes the message with one store of tail + 1; a get takes the
 *     consumers' lock, copies the message at head out and frees its slot with one store of
 *     head + 1. A message is visible whole or not at all; a process that dies before its
 *     store changed nothing that the next holder of the lock needs to repair;
 *   - close sets closed under the producers' lock, so every put that returned 0 stored tail
 *     before closed was set: a get that sees closed and then reloads tail sees all of them
 *     (one-producer queues: CLOSING, wait for the put under way, CLOSED: finish_close);
 *   - waiting: a waiter counts itself in an eventcount's sleepers, marks seq odd ("someone
 *     sleeps on this value"), re-checks its condition and sleeps on seq; a waker makes the
 *     condition true, then (if sleepers > 0 and seq is odd) bumps seq to even and wakes all;
 *     an even seq it leaves alone (segment.c). A woken waiter re-checks with plain loads
 *     and marks and fences again only to sleep again. seq_cst on both sides (Dekker):
 *     either the waiter sees the condition or the waker sees its mark, and a change of seq
 *     after the mark fails the waiter's futex wait (the waker's fence is light, the
 *     waiter's heavy: ipcq_internal.h). Every sleeper is woken, so a waiter that dies or
 *     times out never swallows a wake-up another needed. A sleeper sleeps until its deadline: the liveness
 *     watcher (watch.c) wakes it when a peer ends, and it then re-checks the peers; only
 *     when the watcher cannot run does it sleep in slices and check at the end of each;
 *   - cancellation: the wait publishes a park whose shared word is the eventcount, so a
 *     canceller's claim bumps seq and wakes it (core/park.c, weft__park_enter).
 * Nothing read from the segment is trusted: positions are compared with the capacity, lengths
 * with max_msg, and every slot address comes from the handle's private geometry.
 * Lock order: the producers' and the consumers' locks are never held together.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <weft/error.h>
#include <weft/ipcq.h>

#include "core/internal.h"
#include "core/park.h"
#include "ipcq/ipcq_internal.h"
#include "os/os.h"
#include "test_hooks.h"

#define SLICE_FIRST_NS    WEFT_MS(10)
#define SLICE_MAX_NS      WEFT_MS(160)
#define UNFENCED_SLICE_NS WEFT_MS(1) /* membarrier failed: a wake-up may be missed */
#define SPIN_MIN_NS       500
#define SPIN_MAX_NS       20000
#define SPIN_INIT_NS      5000
#define SPIN_PAYS         64 /* hits out of 256 */
#define SPIN_PROBE        64
#define SPIN_PREEMPTED_NS 20000
#define SPIN_BACKOFF      256
#define CROWD_CHECK_NS    WEFT_MS(10)

enum wait_kind { FOR_GET, FOR_PUT, FOR_JOIN };

/* The calling thread's spin state: an adaptive budget as park.c's, for waits on other
 * processes. One wait in SPIN_PROBE spins the longest budget, so that a budget that shrank
 * while the peer was away finds out when it answers quickly again.
 *
 * A spinner that loses its CPU in the middle of a spin (two clock reads a whole
 * SPIN_PREEMPTED_NS apart) is on an oversubscribed machine: spinning there costs the
 * scheduler's favour for a thread that slept (it runs on the spinner's timeslice, behind the
 * others, milliseconds at worst), so the thread does not spin for its next SPIN_BACKOFF waits
 * (off). */
static _Thread_local struct {
    weft_ns budget;
    uint32_t hits, waits, off;
} spin_st WEFT__TLS_IE;

/* Puts and gets made in SYM by this thread, less IPCQ_SYM_WOKE for each that woke a sleeper. */
static _Thread_local uint32_t sym_calls WEFT__TLS_IE;

/* Signal ev after a put or get; in SYM, move back to ASYM once wake-ups have grown rare
 * (ipcq_internal.h). */
static void wake(weft_ipcq *q, struct ipcq_event *ev)
{
    bool woke = weft__ipcq_signal(ev, true);
    /* relaxed: a hint; the change itself is a seq_cst exchange. */
    uint32_t w = atomic_load_explicit(&q->seg->fence_mode, memory_order_relaxed);
    if ((w & IPCQ_FENCE_MASK) != IPCQ_FENCE_SYM) return;
    if (woke)
        sym_calls = sym_calls > IPCQ_SYM_WOKE ? sym_calls - IPCQ_SYM_WOKE : 0;
    else if (++sym_calls >= IPCQ_SYM_LEAVE) {
        atomic_compare_exchange_strong(&q->seg->fence_mode, &w,
                                       (w & ~IPCQ_FENCE_MASK) | IPCQ_FENCE_ASYM);
        sym_calls = 0;
    }
}

static int broken(const weft_ipcq *q)
{
    if (!atomic_load_explicit(&q->broken, memory_order_relaxed)) return 0;
    return weft__fail(WEFT_EBROKEN, "ipcq: the queue's shared memory was found corrupt earlier");
}

static unsigned char *slot_at(const weft_ipcq *q, uint64_t pos)
{
    return q->slots + (size_t)(pos & (q->nslots - 1)) * q->slot_size;
}

/* After taking a lock over from a dead holder: it may have published and died before its
 * wake-up, so wake every sleeper (they re-check). */
static void after_takeover(weft_ipcq *q)
{
    weft__ipcq_signal(&q->seg->not_empty, false);
    weft__ipcq_signal(&q->seg->not_full, false);
    weft__ipcq_signal(&q->seg->joined, false);
}

static int lock_side(weft_ipcq *q, struct ipcq_lock *l, weft_ns deadline, int *took_over)
{
    int r = weft__ipcq_lock(q, l, deadline);
    if (r < 0) return weft__fail(WEFT_ETIMEDOUT, "ipcq: a side lock stayed held by a live process");
    *took_over = r;
    return 0;
}

static int32_t my_tid(void)
{
    /* The cache is stale in a fork child: keyed by the fork generation (+1: 0 is unset). */
    static _Thread_local struct {
        int32_t tid;
        uint32_t gen;
    } me WEFT__TLS_IE;
    uint32_t gen = atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed) + 1;
    if (me.gen != gen) me.tid = weft__os_gettid(), me.gen = gen;
    return me.tid;
}

/* A one-process side (side 0: put, 1: get): this thread must hold its role. The fast path
 * is two loads of lines this thread alone writes. */
static int take_role(weft_ipcq *q, int side, struct ipcq_lock *l, int *took_over)
{
    static const char *const what[] = {"producer", "consumer"};
    int32_t tid = my_tid();
    /* relaxed: both were stored by this thread (or are checked again with acquire by
     * weft__ipcq_take_role). */
    if (atomic_load_explicit(&l->tid, memory_order_relaxed) == tid &&
        atomic_load_explicit(&l->owner, memory_order_relaxed) == weft__ipcq_pid(q))
        return 0;
    int r = weft__ipcq_take_role(q, l, tid);
    if (r == -2)
        return weft__fail(WEFT_EBUSY, "ipcq: the queue has one %s: thread %d of this process",
                          what[side], (int)atomic_load_explicit(&l->tid, memory_order_relaxed));
    if (r < 0)
        return weft__fail(WEFT_EBUSY, "ipcq: the queue has one %s: process %u", what[side],
                          (unsigned)atomic_load_explicit(&l->owner, memory_order_relaxed));
    atomic_store_explicit(&q->role_held[side], 1, memory_order_relaxed);
    *took_over = r;
    return 0;
}

/* Enter a side to copy one message: its lock, or its role on a one-process side (then, for
 * puts, busy is set before closed is read: close's heavy fence pairs with this light one). */
static int enter(weft_ipcq *q, int side, weft_ns deadline, int *took_over)
{
    struct ipcq_lock *l = side ? &q->seg->get.lock : &q->seg->put.lock;
    if (!(q->flags & (side ? WEFT_IPCQ_ONE_CONSUMER : WEFT_IPCQ_ONE_PRODUCER)))
        return lock_side(q, l, deadline, took_over);
    int r = take_role(q, side, l, took_over);
    if (r || side) return r;
    atomic_store_explicit(&l->busy, 1, memory_order_relaxed);
    weft__ipcq_light_fence(q->seg);
    return 0;
}

/* Leave it: the light fence orders the position's store before the loads of sleepers in
 * weft__ipcq_signal (the unlock has its own). */
static void leave(weft_ipcq *q, int side)
{
    struct ipcq_lock *l = side ? &q->seg->get.lock : &q->seg->put.lock;
    if (!(q->flags & (side ? WEFT_IPCQ_ONE_CONSUMER : WEFT_IPCQ_ONE_PRODUCER))) {
        weft__ipcq_unlock(q->seg, l);
        return;
    }
    /* release: the copy and the position's store come before busy reads 0 (close). */
    if (!side) atomic_store_explicit(&l->busy, 0, memory_order_release);
    weft__ipcq_light_fence(q->seg);
}

/* The end of a close on a one-producer queue: wait until the put under way (if any) has
 * published, then let gets end (CLOSED). Also run by a get that finds the queue CLOSING,
 * should its closer have died half-way. */
static void finish_close(weft_ipcq *q)
{
    struct ipcq_lock *l = &q->seg->put.lock;
    /* The heavy half of enter's pair: after it a put either sees CLOSING or shows busy. */
    if (!weft__ipcq_heavy_fence(q->seg, false)) {
        struct timespec ms = {0, 1000000}; /* no membarrier: let the store buffers drain */
        nanosleep(&ms, NULL);
    }
    for (unsigned i = 1; atomic_load_explicit(&l->busy, memory_order_acquire); i++) {
        uint32_t o = atomic_load_explicit(&l->owner, memory_order_relaxed);
        if (i % 64 == 0 && (o == 0 || !weft__ipcq_role_alive(o))) break;
        weft__os_yield(); /* a copy under way: no system call, no wait in it */
    }
    /* release: pairs with the acquire loads of closed in get_locked. */
    atomic_store_explicit(&q->seg->closed, IPCQ_CLOSED, memory_order_release);
    after_takeover(q); /* every sleeper re-checks and finds it closed */
}

static int put_locked(weft_ipcq *q, const void *data, size_t len)
{
    struct ipcq_seg *s = q->seg;
    /* acquire: pairs with weft_ipcq_close's store (under this lock, so relaxed would do). */
    if (atomic_load_explicit(&s->closed, memory_order_acquire) != 0)
        return weft__fail(WEFT_ECLOSED, "ipcq_put: the queue is closed");
    uint64_t t = atomic_load_explicit(&s->put.pos, memory_order_relaxed);
    uint64_t h = q->head_seen;
    if (t - h >= q->capacity) {
        /* acquire: pairs with the get's store of head (its copy out is over). */
        h = q->head_seen = atomic_load_explicit(&s->get.pos, memory_order_acquire);
        if (t - h > q->capacity) return weft__ipcq_corrupt(q, "tail - head > capacity", t - h);
        if (t - h == q->capacity) return WEFT_EAGAIN;
    }
    unsigned char *slot = slot_at(q, t);
    __atomic_store_n((uint32_t *)slot, (uint32_t)len, __ATOMIC_RELAXED);
    if (len) memcpy(slot + IPCQ_SLOT_HDR, data, len);
    /* release: publishes the slot to the get's acquire load of tail. The unlock's seq_cst
     * fence orders it before the load of sleepers in weft__ipcq_signal (Dekker with a
     * sleeping consumer). */
    atomic_store_explicit(&s->put.pos, t + 1, memory_order_release);
    return 0;
}

static int try_put(weft_ipcq *q, const void *data, size_t len, weft_ns deadline)
{
    int took_over = 0, r = enter(q, 0, deadline, &took_over);
    if (r) return r;
    r = put_locked(q, data, len);
    leave(q, 0);
    if (r == 0) wake(q, &q->seg->not_empty);
    if (took_over) after_takeover(q);
    return r;
}

static int get_locked(weft_ipcq *q, void *buf, size_t size, size_t *len)
{
    struct ipcq_seg *s = q->seg;
    uint64_t h = atomic_load_explicit(&s->get.pos, memory_order_relaxed);
    uint64_t t = q->tail_seen;
    if (t == h || t - h > q->capacity) {
        /* acquire: pairs with the put's store of tail (the slot's bytes). */
        t = q->tail_seen = atomic_load_explicit(&s->put.pos, memory_order_acquire);
        if (t == h && atomic_load_explicit(&s->closed, memory_order_acquire) == IPCQ_CLOSED) {
            /* closed was set after every successful put's store of tail: look once more. */
            t = q->tail_seen = atomic_load_explicit(&s->put.pos, memory_order_acquire);
            if (t == h) return weft__fail(WEFT_ECLOSED, "ipcq_get: the queue is closed and empty");
        }
        if (t - h > q->capacity) return weft__ipcq_corrupt(q, "tail - head > capacity", t - h);
        if (t == h) return WEFT_EAGAIN;
    }
    const unsigned char *slot = slot_at(q, h);
    uint32_t n = __atomic_load_n((const uint32_t *)slot, __ATOMIC_RELAXED);
    if (n > q->max_msg) return weft__ipcq_corrupt(q, "message length > max_msg", n);
    *len = n;
    if (n > size)
        return weft__fail(WEFT_ENOSPC, "ipcq_get: the message is %u bytes, the buffer %zu", n,
                          size);
    if (n) memcpy(buf, slot + IPCQ_SLOT_HDR, n);
    /* release: frees the slot for the put's acquire load of head; the unlock's fence orders
     * it before the load of sleepers in weft__ipcq_signal. */
    atomic_store_explicit(&s->get.pos, h + 1, memory_order_release);
    return 0;
}

static int get_once(weft_ipcq *q, void *buf, size_t size, size_t *len, weft_ns deadline)
{
    int took_over = 0, r = enter(q, 1, deadline, &took_over);
    if (r) return r;
    r = get_locked(q, buf, size, len);
    leave(q, 1);
    if (r == 0) wake(q, &q->seg->not_full);
    if (took_over) after_takeover(q);
    return r;
}

static int try_get(weft_ipcq *q, void *buf, size_t size, size_t *len, weft_ns deadline)
{
    int r = get_once(q, buf, size, len, deadline);
    /* relaxed: finish_close re-reads what it needs after its fence. */
    if (r != WEFT_EAGAIN ||
        atomic_load_explicit(&q->seg->closed, memory_order_relaxed) != IPCQ_CLOSING)
        return r;
    finish_close(q); /* its closer may have died half-way */
    return get_once(q, buf, size, len, deadline);
}

int weft__ipcq_try_put(weft_ipcq *q, const void *data, size_t len)
{
    int r = broken(q);
    return r ? r : try_put(q, data, len, weft__os_now());
}

int weft__ipcq_try_get(weft_ipcq *q, void *buf, size_t size, size_t *len)
{
    int r = broken(q);
    return r ? r : try_get(q, buf, size, len, weft__os_now());
}

/* ---- waiting ---- */

/* Whether the call a waiter of kind k waits for may now succeed (or fail for good). Only
 * loads: a corrupt segment reads as "ready", and the call's next try reports it. */
static bool ready(const weft_ipcq *q, enum wait_kind k)
{
    struct ipcq_seg *s = q->seg;
    /* seq_cst loads: the sleeper's half of the Dekker pairs (see the top of the file). */
    uint64_t t = atomic_load(&s->put.pos);
    uint32_t c;
    switch (k) {
    case FOR_GET: /* another value of closed is corrupt: wait as if open */
        c = atomic_load(&s->closed);
        return t != atomic_load(&s->get.pos) || c == IPCQ_CLOSING || c == IPCQ_CLOSED;
    case FOR_PUT:
        return t - atomic_load(&s->get.pos) < q->capacity || atomic_load(&s->closed);
    default:
        return atomic_load(&s->done) >= t;
    }
}

static struct ipcq_event *event_of(weft_ipcq *q, enum wait_kind k)
{
    return k == FOR_GET ? &q->seg->not_empty : k == FOR_PUT ? &q->seg->not_full : &q->seg->joined;
}

static _Atomic bool force_crowded; /* weft__test_ipcq_force_crowded */

void weft__test_ipcq_force_crowded(bool yes)
{
    atomic_store_explicit(&force_crowded, yes, memory_order_relaxed);
}

/* Whether more threads are runnable than there are CPUs, from the kernel's count in
 * /proc/loadavg ("1.00 0.50 0.20 RUNNABLE/TOTAL LASTPID"), read at most every CROWD_CHECK_NS
 * per thread. A peer that waits for a CPU cannot answer a spinner, and the spinner's CPU is
 * the one it may be waiting for: on a crowded machine every wait sleeps at once. Without
 * /proc: never crowded (the other rules still apply). */
static bool crowded(int ncpu)
{
    static _Thread_local struct {
        weft_ns at;
        bool yes;
    } c WEFT__TLS_IE;
    /* relaxed: set by a test before the waits it is for. */
    if (atomic_load_explicit(&force_crowded, memory_order_relaxed)) return true;
    weft_ns now = weft__os_now();
    if (c.at && now - c.at < CROWD_CHECK_NS) return c.yes;
    c.at = now;
    c.yes = false;
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char b[128];
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return false;
    b[n] = 0;
    const char *p = b;
    for (int field = 0; field < 3 && p; field++) p = strchr(p, ' '), p = p ? p + 1 : NULL;
    if (!p) return false;
    long running = strtol(p, NULL, 10);
    /* The spinner itself is one of them: crowded once another thread would lack a CPU. */
    c.yes = running > ncpu;
    return c.yes;
}

static int cpus(void)
{
    static _Atomic int ncpu;
    /* relaxed: every thread computes and stores the same value. */
    int n = atomic_load_explicit(&ncpu, memory_order_relaxed);
    if (n == 0) atomic_store_explicit(&ncpu, n = weft__os_cpu_count(), memory_order_relaxed);
    return n;
}

/* Spin while spinning pays (park.c's rule, per thread): true if k became ready. */
static bool spin(const weft_ipcq *q, enum wait_kind k, weft_ns deadline)
{
    int n = cpus();
    if (n < 2) return false;
    if (crowded(n)) return false; /* the peer may be waiting for this very CPU */
    weft_ns b = spin_st.budget ? spin_st.budget : SPIN_INIT_NS;
    if (spin_st.off) {
        spin_st.off--;
        return false; /* preempted while spinning not long ago (see spin_st) */
    }
    if (++spin_st.waits % SPIN_PROBE == 0) b = SPIN_MAX_NS;
    weft_ns start = weft__os_now(), now = start;
    bool ok = false;
    while (!ok && now - start < b && now < deadline) {
        for (int i = 0; i < 32 && !(ok = ready(q, k)); i++) weft__os_relax();
        weft_ns prev = now;
        now = weft__os_now();
        if (now - prev >= SPIN_PREEMPTED_NS) {
            spin_st.off = SPIN_BACKOFF;
            break;
        }
    }
    weft_ns nb = spin_st.budget ? spin_st.budget : SPIN_INIT_NS;
    spin_st.hits = spin_st.hits - spin_st.hits / 8 + (ok ? 32 : 0);
    if (ok && nb < 4 * (now - start)) nb = 4 * (now - start);
    if (!ok && spin_st.hits < SPIN_PAYS) nb /= 2;
    spin_st.budget = nb < SPIN_MIN_NS ? SPIN_MIN_NS : nb > SPIN_MAX_NS ? SPIN_MAX_NS : nb;
    return ok;
}

/* After a get's sleep that a put ended: follow the waker to its CPU once FOLLOW_MISSES of
 * this thread's sleeps in a row, on a crowded machine and with the two sides taking turns, were
 * ended by a put on another CPU that found this thread asleep alone, on a queue two processes
 * share (docs/design/ipcq.md). Two processes that take turns, each on a CPU of its own beside
 * other busy threads, pay for every hand-over with a preemption of those threads; on one CPU,
 * the sleeper is woken by the thread that then sleeps, and runs in its place. A producer that
 * streams, or feeds several consumers, goes on running after its wake-ups: its CPU is no
 * place to crowd onto. Not with WEFT_IPCQ_STAY. */
#define FOLLOW_MISSES 4
static _Thread_local uint32_t follow_misses WEFT__TLS_IE;
static _Atomic size_t follow_moves; /* this process's moves, for the tests */

/* Processes in q's table, up to 3 (relaxed: a hint; a wrong count only decides a move). */
static int attached(const weft_ipcq *q)
{
    int n = 0;
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX && n < 3; i++)
        n += atomic_load_explicit(&q->seg->peers[i], memory_order_relaxed) > 0;
    return n;
}

void weft__ipcq_follow(const weft_ipcq *q, const struct ipcq_event *ev, bool turn)
{
    /* Most woken sleeps stop here, before the clock read of crowded() and sched_getcpu. */
    if (!turn || (q->flags & WEFT_IPCQ_STAY) || !crowded(cpus())) {
        follow_misses = 0;
        return;
    }
    /* relaxed: a hint. Anything read from the segment is range-checked: a wrong value moves
     * this thread to another CPU at worst. 0: no put left its CPU for a lone sleeper. */
    uint32_t w = atomic_load_explicit(&ev->waker_cpu, memory_order_relaxed);
    int here = sched_getcpu();
    if (w == 0 || w > (uint32_t)CPU_SETSIZE || here < 0 || w - 1 == (uint32_t)here) {
        follow_misses = 0;
        return;
    }
    if (++follow_misses < FOLLOW_MISSES) return;
    follow_misses = 0;
    if (attached(q) <= 2 && weft__os_move_to_cpu((int)(w - 1)) == 0)
        atomic_fetch_add_explicit(&follow_moves, 1, memory_order_relaxed);
}

size_t weft__test_ipcq_moves(void)
{
    return atomic_load_explicit(&follow_moves, memory_order_relaxed);
}

static int died(enum wait_kind k)
{
    static const char *const what[] = {"put a message", "take a message", "finish a task"};
    return weft__fail(WEFT_EDIED,
                      "ipcq: every other process attached to the queue died; none "
                      "is left to %s",
                      what[k]);
}

/* After a get's sleep that ended with a message: whether the two sides take turns (a request
 * and its reply), found from what the sleeper woke to, a single message. A consumer of a
 * stream wakes to many, however often it sleeps. After IPCQ_SYM_TURNS such sleeps in a row
 * the next one moves the fence mode to SYM (ipcq_internal.h). */
static void count_turn(weft_ipcq *q)
{
    /* relaxed: a hint; a corrupt or racing value only picks the slower mode. */
    uint64_t t = atomic_load_explicit(&q->seg->put.pos, memory_order_relaxed);
    uint64_t avail = t - atomic_load_explicit(&q->seg->get.pos, memory_order_relaxed);
    uint32_t n = atomic_load_explicit(&q->turns, memory_order_relaxed);
    n = avail <= 1 ? (n < IPCQ_SYM_TURNS ? n + 1 : n) : 0;
    atomic_store_explicit(&q->turns, n, memory_order_relaxed);
}

/* Sleep on k's eventcount until ready, the deadline, cancellation or the peers' deaths. */
static int sleep_on(weft_ipcq *q, enum wait_kind k, weft_ns deadline)
{
    struct ipcq_event *ev = event_of(q, k);
    weft__park p;
    weft__park_init(&p, deadline);
    p.shared = &ev->seq;
    weft__park_enter(&p);
    weft_ns slice = SLICE_FIRST_NS;
    bool expired = false, got = false, woken = false;
    int rc = 0;
    atomic_fetch_add(&ev->sleepers, 1); /* seq_cst: before the re-checks (Dekker) */
    /* relaxed: a hint (see count_turn). */
    bool to_sym = atomic_load_explicit(&q->turns, memory_order_relaxed) >= IPCQ_SYM_TURNS;
    for (;;) {
        /* seq_cst: seq is read and marked before the re-checks below; a waker's (or a
         * canceller's) change of it after them makes the futex wait return at once. The
         * mark (odd: someone sleeps on this value) comes first because a waker that finds
         * seq even writes nothing, relying on this re-check (weft__ipcq_signal). */
        bool watched = weft__ipcq_watch(q) == 0; /* again: the peers may have changed */
        uint32_t seq = atomic_load(&ev->seq);
        if (!(seq & 1) && !atomic_compare_exchange_strong(&ev->seq, &seq, seq | 1)) continue;
        seq |= 1;
        /* The heavy half of the Dekker pairs: a waker's light fence ordered its store before
         * its load of sleepers only as far as this fence makes it. */
        bool fenced = weft__ipcq_heavy_fence(q->seg, to_sym);
        if ((got = ready(q, k)) || atomic_load(&p.state) != WEFT__PARK_WAITING) break;
        if (watched && weft__ipcq_peers_dead(q)) {
            rc = died(k);
            break;
        }
        weft_ns now = weft__os_now();
        if (now >= p.deadline) {
            expired = true;
            break;
        }
        /* Watched: no slice, the watcher wakes this sleeper when a peer ends. */
        weft_ns cap = !fenced ? UNFENCED_SLICE_NS : watched ? p.deadline - now : slice;
        weft_ns until = now + cap < p.deadline ? now + cap : p.deadline;
        int r = weft__os_futex_wait_shared(&ev->seq, seq, until);
        woken = r == 0; /* not a slice's end: a change of seq (or a signal) */
        /* Woken, most often by the very change awaited: a plain re-check finds it, without
         * the mark and the heavy fence (a membarrier: an IPI to every CPU running a
         * registered process) that only a sleep needs. */
        if ((got = ready(q, k))) break;
        if (!watched && r == WEFT_ETIMEDOUT && until < p.deadline) {
            if (weft__ipcq_peers_alive(q) == 0) {
                rc = died(k);
                break;
            }
            slice = slice * 2 > SLICE_MAX_NS ? SLICE_MAX_NS : slice * 2;
        }
    }
    atomic_fetch_sub(&ev->sleepers, 1);
    if (got && k == FOR_GET) count_turn(q);
    /* relaxed: a hint (see count_turn). */
    bool turn =
        k == FOR_GET && atomic_load_explicit(&q->turns, memory_order_relaxed) >= IPCQ_SYM_TURNS;
    if (got && woken) weft__ipcq_follow(q, ev, turn);
    uint32_t s = weft__park_leave(&p, expired);
    if (s == WEFT__PARK_CANCELED) return weft__fail(WEFT_ECANCELED, "ipcq: the wait was cancelled");
    if (rc) return rc;
    if (s == WEFT__PARK_TIMEDOUT) return weft__fail(WEFT_ETIMEDOUT, "ipcq: timed out");
    return 0;
}

int weft__ipcq_wait(weft_ipcq *q, bool for_put, weft_ns deadline)
{
    enum wait_kind k = for_put ? FOR_PUT : FOR_GET;
    if (ready(q, k) || spin(q, k, deadline)) return 0;
    return sleep_on(q, k, deadline);
}

/* ---- the API ---- */

int weft_ipcq_put(weft_ipcq *q, const void *data, size_t len, weft_ns timeout)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_put: q is NULL");
    if (!data && len) return weft__fail(WEFT_EINVAL, "ipcq_put: data is NULL, len %zu", len);
    if (len > q->max_msg)
        return weft__fail(WEFT_EINVAL, "ipcq_put: the message is %zu bytes; max_msg is %u", len,
                          q->max_msg);
    weft_ns deadline;
    int r = weft__deadline_of(timeout, &deadline);
    if (r || (r = broken(q))) return r;
    for (;;) {
        r = try_put(q, data, len, deadline);
        if (r == WEFT_ETIMEDOUT && timeout == 0)
            return weft__fail(WEFT_EAGAIN, "ipcq_put: another process holds the producers' lock");
        if (r != WEFT_EAGAIN) return r;
        if (timeout == 0) return weft__fail(WEFT_EAGAIN, "ipcq_put: the queue is full");
        if ((r = weft__ipcq_wait(q, true, deadline))) return r;
    }
}

int weft_ipcq_get(weft_ipcq *q, void *buf, size_t size, size_t *len, weft_ns timeout)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_get: q is NULL");
    if (!len) return weft__fail(WEFT_EINVAL, "ipcq_get: len is NULL");
    if (!buf && size) return weft__fail(WEFT_EINVAL, "ipcq_get: buf is NULL, size %zu", size);
    weft_ns deadline;
    int r = weft__deadline_of(timeout, &deadline);
    if (r || (r = broken(q))) return r;
    for (;;) {
        r = try_get(q, buf, size, len, deadline);
        if (r == WEFT_ETIMEDOUT && timeout == 0)
            return weft__fail(WEFT_EAGAIN, "ipcq_get: another process holds the consumers' lock");
        if (r != WEFT_EAGAIN) return r;
        if (timeout == 0) return weft__fail(WEFT_EAGAIN, "ipcq_get: the queue is empty");
        if ((r = weft__ipcq_wait(q, false, deadline))) return r;
    }
}

int weft_ipcq_close(weft_ipcq *q)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_close: q is NULL");
    int took_over, r = broken(q);
    if (r) return r;
    if (q->flags & WEFT_IPCQ_ONE_PRODUCER) {
        /* No lock to exclude the producer: puts stop at CLOSING, gets end once the put
         * under way (if any) has published (finish_close). */
        uint32_t c = 0;
        atomic_compare_exchange_strong(&q->seg->closed, &c, IPCQ_CLOSING);
        finish_close(q);
        return 0;
    }
    if ((r = lock_side(q, &q->seg->put.lock, WEFT_FOREVER, &took_over))) return r;
    /* release: pairs with the acquire loads of closed (get_locked, put_locked). Under the
     * lock, every put that returned 0 has stored tail already. */
    atomic_store_explicit(&q->seg->closed, IPCQ_CLOSED, memory_order_release);
    weft__ipcq_unlock(q->seg, &q->seg->put.lock);
    after_takeover(q); /* every sleeper re-checks and finds it closed */
    return 0;
}

int weft_ipcq_is_closed(const weft_ipcq *q)
{
    /* relaxed: a snapshot. */
    return q && atomic_load_explicit(&q->seg->closed, memory_order_relaxed) != 0;
}

int weft_ipcq_task_done(weft_ipcq *q)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_task_done: q is NULL");
    int r = broken(q);
    if (r) return r;
    struct ipcq_seg *s = q->seg;
    uint64_t d = atomic_load(&s->done);
    do {
        if (d >= atomic_load(&s->put.pos))
            return weft__fail(WEFT_EOVERFLOW, "ipcq_task_done: called more times than messages "
                                              "were put");
    } while (!atomic_compare_exchange_weak(&s->done, &d, d + 1));
    weft__ipcq_signal(&s->joined, false); /* seq_cst CAS before the load of sleepers (Dekker) */
    return 0;
}

int weft_ipcq_join(weft_ipcq *q, weft_ns timeout)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_join: q is NULL");
    weft_ns deadline;
    int r = weft__deadline_of(timeout, &deadline);
    if (r || (r = broken(q))) return r;
    if (ready(q, FOR_JOIN)) return 0;
    if (timeout == 0) return weft__fail(WEFT_EAGAIN, "ipcq_join: tasks remain");
    return sleep_on(q, FOR_JOIN, deadline);
}

size_t weft_ipcq_size(const weft_ipcq *q)
{
    if (!q) return 0;
    /* relaxed: a snapshot; head first, so that a racing get cannot make it negative. */
    uint64_t h = atomic_load_explicit(&q->seg->get.pos, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&q->seg->put.pos, memory_order_relaxed) - h;
    return n > q->capacity ? q->capacity : (size_t)n;
}

size_t weft_ipcq_unfinished(const weft_ipcq *q)
{
    if (!q) return 0;
    uint64_t d = atomic_load_explicit(&q->seg->done, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&q->seg->put.pos, memory_order_relaxed) - d;
    return n > ((uint64_t)1 << 62) ? 0 : (size_t)n;
}
