/* tests/stress/sync_stress.c - race loops for the sync primitives: exact totals under
 * contention, no lost wake-up over many hand-offs, and timeouts racing wake-ups (a hand-off
 * must never be lost to a waiter that timed out at the same moment). Sized by
 * weft_test_scale (WEFT_STRESS). */
#include <stdatomic.h>

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
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(120)), 0);
    return status;
}

/* A cheap per-thread pseudo-random number (xorshift). */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ---- 8 threads x N increments under a Lock / RLock give the exact total ---- */

#define NTHREADS 8

struct counter {
    weft_lock lock;
    weft_rlock rlock;
    long n, per_thread;
};

static int lock_incr(void *arg)
{
    struct counter *c = arg;
    for (long i = 0; i < c->per_thread; i++) {
        if (weft_lock_acquire(&c->lock, WEFT_FOREVER)) return 1;
        c->n++;
        if (weft_lock_release(&c->lock)) return 2;
    }
    return 0;
}

START_TEST(lock_counter_total_is_exact)
{
    struct counter c = {WEFT_LOCK_INIT, WEFT_RLOCK_INIT, 0, weft_test_scale(1000000)};
    weft_thread t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) t[i] = spawn(lock_incr, &c);
    for (int i = 0; i < NTHREADS; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(c.n, NTHREADS * c.per_thread);
    ck_assert_int_eq(weft_lock_locked(&c.lock), 0);
}
END_TEST

static int rlock_incr(void *arg)
{
    struct counter *c = arg;
    for (long i = 0; i < c->per_thread; i++) {
        if (weft_rlock_acquire(&c->rlock, WEFT_FOREVER)) return 1;
        if (weft_rlock_acquire(&c->rlock, 0)) return 2;
        c->n++;
        if (weft_rlock_release(&c->rlock) || weft_rlock_release(&c->rlock)) return 3;
    }
    return 0;
}

START_TEST(rlock_counter_total_is_exact)
{
    struct counter c = {WEFT_LOCK_INIT, WEFT_RLOCK_INIT, 0, weft_test_scale(200000)};
    weft_thread t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn(rlock_incr, &c);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(c.n, 4 * c.per_thread);
}
END_TEST

/* ---- lock acquires with tiny timeouts racing releases ---- */

static int lock_timed_incr(void *arg)
{
    struct counter *c = arg;
    uint32_t seed = (uint32_t)(uintptr_t)&seed | 1;
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
    struct counter c = {WEFT_LOCK_INIT, WEFT_RLOCK_INIT, 0, weft_test_scale(100000)};
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
    /* One producer, one consumer, a one-item slot: every one of the 10^6 hand-offs needs a
     * notify that reaches a waiter (a second pair only adds oversubscription on small
     * machines; the racing-timeout test below covers several waiters). */
    static struct slot s;
    weft_cond_init(&s.not_full, &s.lock);
    weft_cond_init(&s.not_empty, &s.lock);
    s.per_producer = weft_test_scale(1000000);
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
    uint32_t seed = (uint32_t)(uintptr_t)&seed | 1;
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
    uint32_t seed = (uint32_t)(uintptr_t)&seed | 1;
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
    ck_assert_uint_eq(p.sem.waiters, 0);
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
                lock_timeouts_racing_releases_lose_nothing, cond_producer_consumer_loses_no_wakeup,
                cond_timeouts_racing_notify_lose_no_token,
                sem_timeouts_racing_releases_lose_no_permit, event_ping_pong, sem_ping_pong,
                barrier_many_cycles, once_races_run_each_initializer_once)
