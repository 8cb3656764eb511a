/* tests/stress/sync_stress.c - race loops for the sync primitives: exact totals under
 * contention (one body for every lock kind, and a broken lock that proves the check can fail),
 * no lost wake-up over many hand-offs, and timeouts racing wake-ups (a hand-off must never be
 * lost to a waiter that timed out at the same moment). Sized by weft_test_scale (WEFT_STRESS). */
#include <stdatomic.h>
#include <stdbool.h>

#include "os/os.h"
#include "test.h"

static weft_thread spawn(int (*fn)(void *), void *arg)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, fn, arg, NULL), 0);
    return t;
}

static int join(weft_thread t)
{
    int status = -12345;
    /* The bound grows with the sizes (WEFT_STRESS=10 in the soak moves 10x the items). */
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(120) * weft_test_scale(1)), 0);
    return status;
}

/* Each thread's own seed, from the run's (WEFT_SEED replays a run): never 0, as xorshift
 * needs. */
static uint32_t thread_seed(void)
{
    static _Atomic uint32_t threads;
    uint64_t s = weft_test_seed() + atomic_fetch_add(&threads, 1);
    return weft_test_rand(&s) | 1;
}

/* A cheap per-thread pseudo-random number (xorshift). */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ---- one counter body for every lock kind: N threads x M increments, the exact total ----
 *
 * The same body runs under weft_lock, under weft_rlock (taken twice: it is re-entrant) and
 * under a lock that is broken on purpose, which proves that the exactness check can fail:
 * with that lock increments are lost, and the check must say so. The counter is read and
 * written with a relaxed load and a separate relaxed store (not one atomic increment): only
 * the lock can make that read-modify-write exclusive, and under the broken lock the lost
 * increments are not also a data race for ThreadSanitizer to report. A kind that claims to
 * order memory (a real lock) bumps a plain counter too, so that ThreadSanitizer still checks
 * the lock's happens-before edges. */

#define NTHREADS 8
#define WINDOW   8 /* busy iterations between the counter's load and its store */

struct lock_kind {
    int (*acquire)(void *lock); /* 0 or an error */
    int (*release)(void *lock);
    bool orders_memory;
    bool yield_in_window; /* give the CPU away inside the window (the broken lock only) */
};

struct counted {
    const struct lock_kind *kind;
    void *lock;
    weft_barrier start; /* all threads start together, so that they contend from the first */
    _Atomic long n;     /* relaxed load + relaxed store, made exclusive by the lock alone */
    long plain;         /* only when kind->orders_memory */
    long per_thread;
};

static int counted_incr(void *arg)
{
    struct counted *c = arg;
    if (weft_barrier_wait(&c->start, WEFT_SEC(60)) < 0) return -1;
    for (long i = 0; i < c->per_thread; i++) {
        int rc = c->kind->acquire(c->lock);
        if (rc) return rc;
        long v = atomic_load_explicit(&c->n, memory_order_relaxed);
        /* A small window (no pause instruction, no system call): a second thread inside with
         * us stores an older value over ours. The empty asm keeps the loop. */
        for (int k = 0; k < WINDOW; k++) __asm__ __volatile__("");
        if (c->kind->yield_in_window) weft__os_yield();
        atomic_store_explicit(&c->n, v + 1, memory_order_relaxed);
        if (c->kind->orders_memory) c->plain++;
        if ((rc = c->kind->release(c->lock))) return rc;
    }
    return 0;
}

/* nthreads x per_thread increments under `lock` of `kind`; the count reached. */
static long count_under(const struct lock_kind *kind, void *lock, int nthreads, long per_thread)
{
    struct counted c = {.kind = kind, .lock = lock, .per_thread = per_thread};
    weft_thread t[NTHREADS];
    ck_assert_int_le(nthreads, NTHREADS);
    ck_assert_weft(weft_barrier_init(&c.start, nthreads, NULL, NULL), 0);
    for (int i = 0; i < nthreads; i++) t[i] = spawn(counted_incr, &c);
    for (int i = 0; i < nthreads; i++) ck_assert_int_eq(join(t[i]), 0);
    long n = atomic_load(&c.n);
    ck_assert_int_le(n, nthreads * per_thread); /* increments can be lost, never made up */
    if (kind->orders_memory) ck_assert_int_eq(c.plain, n);
    return n;
}

/* The exactness check: run the body under the lock; true if no increment was lost. *lost
 * receives how many were. */
static bool total_is_exact(const struct lock_kind *kind, void *lock, int nthreads, long per_thread,
                           long *lost)
{
    *lost = nthreads * per_thread - count_under(kind, lock, nthreads, per_thread);
    return *lost == 0;
}

static int lock_acquire(void *l)
{
    return weft_lock_acquire(l, WEFT_FOREVER);
}

static int lock_release(void *l)
{
    return weft_lock_release(l);
}

static const struct lock_kind weft_lock_kind = {lock_acquire, lock_release, true, false};

START_TEST(lock_counter_total_is_exact)
{
    weft_lock l = WEFT_LOCK_INIT;
    long lost;
    ck_assert_msg(total_is_exact(&weft_lock_kind, &l, NTHREADS, weft_test_scale(1000000), &lost),
                  "weft_lock lost %ld increments", lost);
    ck_assert_int_eq(weft_lock_locked(&l), 0);
}
END_TEST

static int rlock_acquire_twice(void *r)
{
    int rc = weft_rlock_acquire(r, WEFT_FOREVER);
    return rc ? rc : weft_rlock_acquire(r, 0);
}

static int rlock_release_twice(void *r)
{
    int rc = weft_rlock_release(r);
    return rc ? rc : weft_rlock_release(r);
}

static const struct lock_kind weft_rlock_kind = {rlock_acquire_twice, rlock_release_twice, true,
                                                 false};

START_TEST(rlock_counter_total_is_exact)
{
    weft_rlock r = WEFT_RLOCK_INIT;
    long lost;
    ck_assert_msg(total_is_exact(&weft_rlock_kind, &r, 4, weft_test_scale(200000), &lost),
                  "weft_rlock lost %ld increments", lost);
}
END_TEST

/* Not a lock: the test and the set are two separate relaxed operations, so two threads can
 * both see it free and both go in. Free of data races for ThreadSanitizer (every access is
 * atomic), but it excludes no one and orders nothing. It gives the CPU away between the test
 * and the set, and its kind inside the counter's window, so that threads overlap there even
 * when they rarely run at the same time (a loaded machine, a sanitizer's slow runtime): the
 * others pass the test while one is between its test and its set, then each loads the counter
 * and yields before storing it. */
struct broken_lock {
    _Atomic int held;
};

static int broken_acquire(void *lock)
{
    struct broken_lock *b = lock;
    for (int spins = 1; atomic_load_explicit(&b->held, memory_order_relaxed); spins++) {
        if (spins % 64 == 0)
            weft__os_yield(); /* the holder may be preempted: 8 threads share 2 CPUs */
        else
            weft__os_relax();
    }
    weft__os_yield(); /* the race window: others may see the flag free too */
    atomic_store_explicit(&b->held, 1, memory_order_relaxed);
    return 0;
}

static int broken_release(void *lock)
{
    atomic_store_explicit(&((struct broken_lock *)lock)->held, 0, memory_order_relaxed);
    return 0;
}

static const struct lock_kind broken_lock_kind = {broken_acquire, broken_release, false, true};

/* The deliberately broken variant: the same body and check as lock_counter_total_is_exact
 * must find lost increments, or that test could not fail. Threads that see the flag free
 * at once all enter, and each yields between loading the counter and storing it, so one CPU
 * is enough to lose increments. The size is not scaled by weft_test_scale: a run is a few
 * thousand yields. A run that loses nothing is retried, up to ATTEMPTS runs. */
START_TEST(broken_lock_loses_increments_so_the_counter_check_can_fail)
{
    enum { PER_THREAD = 200, ATTEMPTS = 20 };
    long lost = 0;
    bool failed = false;
    for (int attempt = 0; attempt < ATTEMPTS && !failed; attempt++) {
        struct broken_lock b = {0};
        failed = !total_is_exact(&broken_lock_kind, &b, NTHREADS, PER_THREAD, &lost);
    }
    ck_assert_msg(failed,
                  "the broken lock lost no increment in %d runs of %d x %d: the check "
                  "could not fail",
                  ATTEMPTS, NTHREADS, (int)PER_THREAD);
    ck_assert_int_gt(lost, 0);
}
END_TEST

/* ---- lock acquires with tiny timeouts racing releases ---- */

struct counter {
    weft_lock lock;
    long n, per_thread;
};

static int lock_timed_incr(void *arg)
{
    struct counter *c = arg;
    uint32_t seed = thread_seed();
    long done = 0;
    while (done < c->per_thread) {
        int rc = weft_lock_acquire(&c->lock, WEFT_NS(next_rand(&seed) % 20000) + 1);
        if (rc == WEFT_ETIMEDOUT) continue;
        if (rc) return 1;
        c->n++;
        done++;
        if (weft_lock_release(&c->lock)) return 2;
    }
    return 0;
}

START_TEST(lock_timeouts_racing_releases_lose_nothing)
{
    struct counter c = {WEFT_LOCK_INIT, 0, weft_test_scale(100000)};
    weft_thread t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn(lock_timed_incr, &c);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(c.n, 4 * c.per_thread);
    ck_assert_weft(weft_lock_acquire(&c.lock, 0), 0);
}
END_TEST

/* ---- condition producer/consumer over a one-slot buffer ---- */

struct slot {
    weft_lock lock;
    weft_cond not_full, not_empty;
    int full;
    long item, total, sum, per_producer;
};

static int producer(void *arg)
{
    struct slot *s = arg;
    for (long i = 1; i <= s->per_producer; i++) {
        if (weft_lock_acquire(&s->lock, WEFT_FOREVER)) return 1;
        while (s->full)
            if (weft_cond_wait(&s->not_full, WEFT_FOREVER)) return 2;
        s->item = i;
        s->full = 1;
        weft_cond_notify(&s->not_empty, 1);
        weft_lock_release(&s->lock);
    }
    return 0;
}

static int consumer(void *arg)
{
    struct slot *s = arg;
    for (long i = 0; i < s->per_producer; i++) {
        if (weft_lock_acquire(&s->lock, WEFT_FOREVER)) return 1;
        while (!s->full)
            if (weft_cond_wait(&s->not_empty, WEFT_FOREVER)) return 2;
        s->sum += s->item;
        s->total++;
        s->full = 0;
        weft_cond_notify(&s->not_full, 1);
        weft_lock_release(&s->lock);
    }
    return 0;
}

START_TEST(cond_producer_consumer_loses_no_wakeup)
{
    /* One producer, one consumer, a one-item slot: every one of the 2 x 10^5 hand-offs needs a
     * notify that reaches a waiter (a second pair only adds oversubscription on small
     * machines; the racing-timeout test below covers several waiters). Each hand-off is two
     * context switches when the pair shares a CPU: sized to stay far below the time limit on
     * a loaded 2-CPU machine. */
    static struct slot s;
    weft_cond_init(&s.not_full, &s.lock);
    weft_cond_init(&s.not_empty, &s.lock);
    s.per_producer = weft_test_scale(200000);
    weft_thread t[2] = {spawn(producer, &s), spawn(consumer, &s)};
    for (int i = 0; i < 2; i++) ck_assert_int_eq(join(t[i]), 0);
    long n = s.per_producer;
    ck_assert_int_eq(s.total, n);
    ck_assert_int_eq(s.sum, n * (n + 1) / 2);
}
END_TEST

/* ---- condition waits with tiny timeouts racing notify(1) ---- */

struct nudge {
    weft_lock lock;
    weft_cond cond;
    long tokens, taken, rounds;
    _Atomic int stop;
};

static int token_taker(void *arg)
{
    struct nudge *n = arg;
    uint32_t seed = thread_seed();
    if (weft_lock_acquire(&n->lock, WEFT_FOREVER)) return 1;
    while (!atomic_load(&n->stop) || n->tokens > 0) {
        if (n->tokens > 0) {
            n->tokens--;
            n->taken++;
            continue;
        }
        int rc = weft_cond_wait(&n->cond, WEFT_NS(next_rand(&seed) % 50000) + 1);
        if (rc && rc != WEFT_ETIMEDOUT) return 2;
    }
    weft_lock_release(&n->lock);
    return 0;
}

START_TEST(cond_timeouts_racing_notify_lose_no_token)
{
    struct nudge n = {WEFT_LOCK_INIT, WEFT_COND_INIT, 0, 0, weft_test_scale(100000), 0};
    weft_cond_init(&n.cond, &n.lock);
    weft_thread t[3];
    for (int i = 0; i < 3; i++) t[i] = spawn(token_taker, &n);
    for (long i = 0; i < n.rounds; i++) {
        ck_assert_weft(weft_lock_acquire(&n.lock, WEFT_FOREVER), 0);
        n.tokens++;
        weft_cond_notify(&n.cond, 1);
        ck_assert_weft(weft_lock_release(&n.lock), 0);
    }
    atomic_store(&n.stop, 1);
    ck_assert_weft(weft_lock_acquire(&n.lock, WEFT_FOREVER), 0);
    weft_cond_notify_all(&n.cond);
    ck_assert_weft(weft_lock_release(&n.lock), 0);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(n.taken, n.rounds);
}
END_TEST

/* ---- semaphore permits under timeouts: none created, none lost ---- */

struct permits {
    weft_sem sem;
    _Atomic long got;
    _Atomic int stop;
};

static int permit_taker(void *arg)
{
    struct permits *p = arg;
    uint32_t seed = thread_seed();
    while (!atomic_load(&p->stop)) {
        int rc = weft_sem_acquire(&p->sem, WEFT_NS(next_rand(&seed) % 30000) + 1);
        if (rc == 0)
            atomic_fetch_add(&p->got, 1);
        else if (rc != WEFT_ETIMEDOUT)
            return 1;
    }
    return 0;
}

START_TEST(sem_timeouts_racing_releases_lose_no_permit)
{
    struct permits p = {WEFT_SEM_INIT(0), 0, 0};
    long k = weft_test_scale(200000);
    weft_thread t[3];
    for (int i = 0; i < 3; i++) t[i] = spawn(permit_taker, &p);
    for (long i = 0; i < k; i++) ck_assert_weft(weft_sem_release(&p.sem, 1 + (i & 1)), 0);
    while (atomic_load(&p.got) + (long)weft_sem_value(&p.sem) < k + k / 2) weft_sleep(WEFT_MS(1));
    atomic_store(&p.stop, 1);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(atomic_load(&p.got) + (long)weft_sem_value(&p.sem), k + k / 2);
    ck_assert_uint_eq(p.sem.state >> 32, 0); /* no waiter left counted */
}
END_TEST

/* ---- ping-pong with Event and Semaphore ---- */

struct pingpong {
    weft_event ping, pong;
    weft_sem a, b;
    long rounds;
};

static int event_ponger(void *arg)
{
    struct pingpong *p = arg;
    for (long i = 0; i < p->rounds; i++) {
        if (weft_event_wait(&p->ping, WEFT_SEC(60))) return 1;
        weft_event_clear(&p->ping);
        weft_event_set(&p->pong);
    }
    return 0;
}

START_TEST(event_ping_pong)
{
    struct pingpong p = {WEFT_EVENT_INIT, WEFT_EVENT_INIT, WEFT_SEM_INIT(0), WEFT_SEM_INIT(0),
                         weft_test_scale(20000)};
    weft_thread t = spawn(event_ponger, &p);
    for (long i = 0; i < p.rounds; i++) {
        weft_event_set(&p.ping);
        ck_assert_weft(weft_event_wait(&p.pong, WEFT_SEC(60)), 0);
        weft_event_clear(&p.pong);
    }
    ck_assert_int_eq(join(t), 0);
}
END_TEST

static int sem_ponger(void *arg)
{
    struct pingpong *p = arg;
    for (long i = 0; i < p->rounds; i++) {
        if (weft_sem_acquire(&p->a, WEFT_SEC(60))) return 1;
        if (weft_sem_release(&p->b, 1)) return 2;
    }
    return 0;
}

START_TEST(sem_ping_pong)
{
    struct pingpong p = {WEFT_EVENT_INIT, WEFT_EVENT_INIT, WEFT_SEM_INIT(0), WEFT_SEM_INIT(0),
                         weft_test_scale(20000)};
    weft_thread t = spawn(sem_ponger, &p);
    for (long i = 0; i < p.rounds; i++) {
        ck_assert_weft(weft_sem_release(&p.a, 1), 0);
        ck_assert_weft(weft_sem_acquire(&p.b, WEFT_SEC(60)), 0);
    }
    ck_assert_int_eq(join(t), 0);
}
END_TEST

/* ---- barrier cycles ---- */

struct cycles {
    weft_barrier b;
    _Atomic long actions, index_sum;
    long rounds;
};

static int cycle_action(void *arg)
{
    atomic_fetch_add(&((struct cycles *)arg)->actions, 1);
    return 0;
}

static int cycler(void *arg)
{
    struct cycles *c = arg;
    for (long i = 0; i < c->rounds; i++) {
        int idx = weft_barrier_wait(&c->b, WEFT_SEC(60));
        if (idx < 0) return idx;
        atomic_fetch_add(&c->index_sum, idx);
    }
    return 0;
}

START_TEST(barrier_many_cycles)
{
    struct cycles c = {.rounds = weft_test_scale(5000)};
    ck_assert_weft(weft_barrier_init(&c.b, 4, cycle_action, &c), 0);
    weft_thread t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn(cycler, &c);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(atomic_load(&c.actions), c.rounds);
    ck_assert_int_eq(atomic_load(&c.index_sum), c.rounds * (0 + 1 + 2 + 3));
}
END_TEST

/* ---- once raced many times ---- */

static _Atomic long once_runs;

static int count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&once_runs, 1);
    return 0;
}

struct once_round {
    weft_once_flag flags[64];
    weft_barrier start;
};

static int once_racer(void *arg)
{
    struct once_round *r = arg;
    for (int i = 0; i < 64; i++) {
        if (weft_barrier_wait(&r->start, WEFT_SEC(60)) < 0) return 1;
        if (weft_once(&r->flags[i], count_run, NULL)) return 2;
    }
    return 0;
}

START_TEST(once_races_run_each_initializer_once)
{
    long rounds = weft_test_scale(100);
    for (long k = 0; k < rounds; k++) {
        static struct once_round r;
        for (int i = 0; i < 64; i++) r.flags[i] = (weft_once_flag)WEFT_ONCE_INIT;
        weft_barrier_init(&r.start, 4, NULL, NULL);
        atomic_store(&once_runs, 0);
        weft_thread t[4];
        for (int i = 0; i < 4; i++) t[i] = spawn(once_racer, &r);
        for (int i = 0; i < 4; i++) ck_assert_int_eq(join(t[i]), 0);
        ck_assert_int_eq(atomic_load(&once_runs), 64);
    }
}
END_TEST

/* 120 s per test: these loops slow down a lot when other work shares the CPUs. */
WEFT_TEST_SUITE("sync_stress", 120, lock_counter_total_is_exact, rlock_counter_total_is_exact,
                broken_lock_loses_increments_so_the_counter_check_can_fail,
                lock_timeouts_racing_releases_lose_nothing, cond_producer_consumer_loses_no_wakeup,
                cond_timeouts_racing_notify_lose_no_token,
                sem_timeouts_racing_releases_lose_no_permit, event_ping_pong, sem_ping_pong,
                barrier_many_cycles, once_races_run_each_initializer_once)
