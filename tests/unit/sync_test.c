/* tests/unit/sync_test.c - semantics of Lock, RLock, Condition, Semaphore, Event, Barrier,
 * once and latch, modelled on CPython's test_threading / lock_tests. */
#include <stdatomic.h>
#include <string.h>

#include "core/park.h"
#include "test.h"

/* ---- helpers ---- */

typedef int (*fn_t)(void *);

static weft_thread spawn(fn_t fn, void *arg)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, fn, arg, NULL), 0);
    return t;
}

static int join(weft_thread t)
{
    int status = -12345;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(20)), 0);
    return status;
}

/* A timed call returned no earlier than asked (and not absurdly late). */
#define ck_assert_waited(t0, asked)                                                           \
    do {                                                                                      \
        weft_ns el_ = weft_now() - (t0);                                                      \
        ck_assert_msg(el_ >= (asked), "returned after %lld ns, asked %lld", (long long)el_,   \
                      (long long)(asked));                                                    \
        ck_assert_msg(el_ < (asked) + WEFT_SEC(5), "returned after %lld ns", (long long)el_); \
    } while (0)

/* Cancellation: the blocked thread publishes its parker; the test interrupts it. */
static _Atomic(weft__parker *) blocked_parker;

static void publish_parker(void)
{
    atomic_store(&blocked_parker, weft__parker_self());
}

static void interrupt_blocked(void)
{
    weft__parker *k;
    while ((k = atomic_load(&blocked_parker)) == NULL) weft_sleep(WEFT_MS(1));
    weft_sleep(WEFT_MS(20)); /* let it reach its wait; cancellation is sticky anyway */
    weft__parker_interrupt(k);
}

static void end_cancel(void)
{
    weft__parker_reset(weft__parker_self());
    atomic_store(&blocked_parker, NULL);
}

/* ---- Lock ---- */

static weft_lock global_lock = WEFT_LOCK_INIT;

START_TEST(lock_acquire_release_and_try)
{
    ck_assert_int_le(sizeof(weft_lock), 4);
    ck_assert_weft(weft_lock_locked(&global_lock), 0);
    ck_assert_weft(weft_lock_acquire(&global_lock, WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_locked(&global_lock), 1);
    ck_assert_weft(weft_lock_acquire(&global_lock, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_lock_release(&global_lock), 0);
    ck_assert_weft(weft_lock_acquire(&global_lock, 0), 0);
    ck_assert_weft(weft_lock_release(&global_lock), 0);
    weft_lock zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_weft(weft_lock_acquire(&zero, 0), 0);
    ck_assert_weft(weft_lock_release(&zero), 0);
}
END_TEST

START_TEST(lock_bad_input_is_an_error_code)
{
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_init(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_lock_acquire(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_lock_release(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_lock_locked(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_lock_acquire(&l, -1), WEFT_EINVAL);
    ck_assert_weft(weft_lock_release(&l), WEFT_ESTATE);
    ck_assert_weft(weft_lock_acquire(&l, 0), 0);
    ck_assert_weft(weft_lock_release(&l), 0);
    ck_assert_weft(weft_lock_release(&l), WEFT_ESTATE);
    ck_assert_str_ne(weft_strerror(WEFT_ESTATE), "unknown error");
}
END_TEST

static int release_lock(void *arg)
{
    return weft_lock_release(arg);
}

START_TEST(lock_released_by_another_thread)
{
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&l, WEFT_FOREVER), 0);
    ck_assert_int_eq(join(spawn(release_lock, &l)), 0);
    ck_assert_weft(weft_lock_acquire(&l, 0), 0);
    ck_assert_weft(weft_lock_release(&l), 0);
}
END_TEST

struct waiter_arg {
    weft_lock *lock;
    weft_event started;
    _Atomic int got;
};

static int acquire_forever(void *arg)
{
    struct waiter_arg *a = arg;
    weft_event_set(&a->started);
    int rc = weft_lock_acquire(a->lock, WEFT_FOREVER);
    if (rc) return rc;
    atomic_store(&a->got, 1);
    return weft_lock_release(a->lock);
}

START_TEST(lock_waiter_wakes_on_release)
{
    weft_lock l = WEFT_LOCK_INIT;
    struct waiter_arg a = {&l, WEFT_EVENT_INIT, 0};
    ck_assert_weft(weft_lock_acquire(&l, WEFT_FOREVER), 0);
    weft_thread t = spawn(acquire_forever, &a);
    ck_assert_weft(weft_event_wait(&a.started, WEFT_SEC(10)), 0);
    weft_sleep(WEFT_MS(30)); /* long enough to have parked (not needed for correctness) */
    ck_assert_int_eq(atomic_load(&a.got), 0);
    ck_assert_weft(weft_lock_release(&l), 0);
    ck_assert_int_eq(join(t), 0);
    ck_assert_int_eq(atomic_load(&a.got), 1);
}
END_TEST

START_TEST(lock_timeout_is_not_early)
{
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&l, WEFT_FOREVER), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_lock_acquire(&l, WEFT_MS(30)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(30));
    t0 = weft_now();
    ck_assert_weft(weft_lock_acquire(&l, WEFT_US(50)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_US(50));
}
END_TEST

static int acquire_cancelled(void *arg)
{
    publish_parker();
    int rc = weft_lock_acquire(arg, WEFT_FOREVER);
    end_cancel();
    return rc;
}

START_TEST(lock_acquire_is_a_cancellation_point)
{
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&l, WEFT_FOREVER), 0);
    weft_thread t = spawn(acquire_cancelled, &l);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
    ck_assert_weft(weft_lock_release(&l), 0);
    ck_assert_weft(weft_lock_acquire(&l, 0), 0); /* the cancelled waiter left nothing behind */
}
END_TEST

/* ---- RLock ---- */

static int rlock_try_from_other(void *arg)
{
    weft_rlock *r = arg;
    int rc = weft_rlock_release(r);
    if (rc != WEFT_EPERM) return 100;
    rc = weft_rlock_acquire(r, 0);
    if (rc == 0) weft_rlock_release(r);
    return rc;
}

START_TEST(rlock_ownership_and_counts)
{
    weft_rlock r = WEFT_RLOCK_INIT;
    ck_assert_weft(weft_rlock_release(&r), WEFT_EPERM);
    ck_assert_weft(weft_rlock_is_owned(&r), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_rlock_acquire(&r, 0), 0);
    ck_assert_weft(weft_rlock_is_owned(&r), 1);
    ck_assert_weft(join(spawn(rlock_try_from_other, &r)), WEFT_EAGAIN);
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(join(spawn(rlock_try_from_other, &r)), WEFT_EAGAIN);
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(weft_rlock_is_owned(&r), 0);
    ck_assert_weft(weft_rlock_release(&r), WEFT_EPERM);
    ck_assert_weft(join(spawn(rlock_try_from_other, &r)), 0);
    ck_assert_weft(weft_rlock_acquire(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_rlock_release(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_rlock_acquire(&r, -5), WEFT_EINVAL);
    ck_assert_str_ne(weft_strerror(WEFT_EPERM), "unknown error");
}
END_TEST

static int rlock_timed(void *arg)
{
    weft_ns t0 = weft_now();
    int rc = weft_rlock_acquire(arg, WEFT_MS(20));
    return rc == WEFT_ETIMEDOUT && weft_now() - t0 >= WEFT_MS(20) ? 0 : 1;
}

START_TEST(rlock_other_thread_times_out)
{
    weft_rlock r;
    ck_assert_weft(weft_rlock_init(&r), 0);
    ck_assert_weft(weft_rlock_acquire(&r, WEFT_FOREVER), 0);
    ck_assert_int_eq(join(spawn(rlock_timed, &r)), 0);
    ck_assert_weft(weft_rlock_release(&r), 0);
}
END_TEST

/* ---- Condition ---- */

struct cond_case {
    weft_lock lock;
    weft_cond cond;
    int waiting, woken, flag;
    _Atomic int rc_sum;
};

static int cond_waiter(void *arg)
{
    struct cond_case *c = arg;
    int rc = weft_cond_acquire(&c->cond, WEFT_FOREVER);
    if (rc) return rc;
    c->waiting++;
    rc = weft_cond_wait(&c->cond, WEFT_FOREVER);
    if (rc == 0) c->woken++;
    weft_cond_release(&c->cond);
    return rc;
}

static int woken_count(struct cond_case *c)
{
    ck_assert_weft(weft_cond_acquire(&c->cond, WEFT_FOREVER), 0);
    int n = c->woken;
    ck_assert_weft(weft_cond_release(&c->cond), 0);
    return n;
}

static void wait_waiting(struct cond_case *c, int n)
{
    /* A waiter counts itself under the lock, which it holds until it waits: once we hold the
     * lock with the count at n, all n are linked as waiters. */
    for (;;) {
        ck_assert_weft(weft_cond_acquire(&c->cond, WEFT_FOREVER), 0);
        if (c->waiting == n) return;
        ck_assert_weft(weft_cond_release(&c->cond), 0);
        weft_sleep(WEFT_MS(1));
    }
}

static void wait_woken(struct cond_case *c, int n)
{
    while (woken_count(c) < n) weft_sleep(WEFT_MS(1));
}

START_TEST(cond_notify_n_wakes_exactly_n)
{
    struct cond_case c = {WEFT_LOCK_INIT, WEFT_COND_INIT, 0, 0, 0, 0};
    ck_assert_weft(weft_cond_init(&c.cond, &c.lock), 0);
    weft_thread t[5];
    for (int i = 0; i < 5; i++) t[i] = spawn(cond_waiter, &c);
    wait_waiting(&c, 5);
    ck_assert_weft(weft_cond_notify(&c.cond, 2), 0);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    wait_woken(&c, 2);
    weft_sleep(WEFT_MS(50));
    ck_assert_int_eq(woken_count(&c), 2);
    ck_assert_weft(weft_cond_acquire(&c.cond, WEFT_FOREVER), 0);
    ck_assert_weft(weft_cond_notify(&c.cond, 1), 0);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    wait_woken(&c, 3);
    weft_sleep(WEFT_MS(30));
    ck_assert_int_eq(woken_count(&c), 3);
    ck_assert_weft(weft_cond_acquire(&c.cond, WEFT_FOREVER), 0);
    ck_assert_weft(weft_cond_notify_all(&c.cond), 0);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(c.woken, 5);
}
END_TEST

START_TEST(cond_needs_its_lock_held)
{
    weft_lock l = WEFT_LOCK_INIT;
    weft_cond c = WEFT_COND_INIT_LOCK(&l);
    weft_cond own = WEFT_COND_INIT;
    ck_assert_weft(weft_cond_wait(&c, WEFT_MS(1)), WEFT_EPERM);
    ck_assert_weft(weft_cond_notify(&c, 1), WEFT_EPERM);
    ck_assert_weft(weft_cond_notify_all(&own), WEFT_EPERM);
    ck_assert_weft(weft_cond_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_cond_notify(NULL, 1), WEFT_EINVAL);
    ck_assert_weft(weft_cond_init(NULL, &l), WEFT_EINVAL);
    ck_assert_weft(weft_cond_acquire(&c, 0), 0);
    ck_assert_weft(weft_cond_wait(&c, -1), WEFT_EINVAL);
    ck_assert_weft(weft_cond_wait(&c, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_cond_wait_for(&c, NULL, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_cond_notify(&c, 1), 0); /* nobody waits: no-op */
    ck_assert_weft(weft_cond_release(&c), 0);
}
END_TEST

START_TEST(cond_wait_timeout_keeps_the_rlock_levels)
{
    weft_rlock r = WEFT_RLOCK_INIT;
    weft_cond c;
    ck_assert_weft(weft_cond_init_rlock(&c, &r), 0);
    ck_assert_weft(weft_rlock_acquire(&r, 0), 0);
    ck_assert_weft(weft_rlock_acquire(&r, 0), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_cond_wait(&c, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(20));
    ck_assert_weft(weft_rlock_is_owned(&r), 1);
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(weft_rlock_release(&r), WEFT_EPERM);
}
END_TEST

/* The waiter holds its (own) RLock twice; wait must release both levels for us to get in. */
static int cond_rlock_waiter(void *arg)
{
    struct cond_case *c = arg;
    if (weft_cond_acquire(&c->cond, WEFT_FOREVER) || weft_cond_acquire(&c->cond, 0)) return 1;
    c->waiting = 1;
    while (!c->flag) {
        int rc = weft_cond_wait(&c->cond, WEFT_FOREVER);
        if (rc) return rc;
    }
    int ok = weft_cond_release(&c->cond) == 0 && weft_cond_release(&c->cond) == 0 &&
             weft_cond_release(&c->cond) == WEFT_EPERM;
    return ok ? 0 : 2;
}

START_TEST(cond_wait_releases_every_rlock_level)
{
    struct cond_case c = {WEFT_LOCK_INIT, WEFT_COND_INIT, 0, 0, 0, 0};
    weft_thread t = spawn(cond_rlock_waiter, &c);
    wait_waiting(&c, 1);
    c.flag = 1;
    ck_assert_weft(weft_cond_notify(&c.cond, 1), 0);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    ck_assert_int_eq(join(t), 0);
}
END_TEST

static int flag_is_set(void *arg)
{
    return ((struct cond_case *)arg)->flag;
}

/* Notifies without making the predicate true, every millisecond, until told to stop: if
 * wake-ups extended the wait, wait_for would never return. */
static _Atomic int nag_stop;

static int nagger(void *arg)
{
    struct cond_case *c = arg;
    while (!atomic_load(&nag_stop)) {
        if (weft_cond_acquire(&c->cond, WEFT_FOREVER)) return 1;
        weft_cond_notify_all(&c->cond);
        weft_cond_release(&c->cond);
        weft_sleep(WEFT_MS(1));
    }
    return 0;
}

START_TEST(cond_wait_for_deadline_covers_the_whole_wait)
{
    struct cond_case c = {WEFT_LOCK_INIT, WEFT_COND_INIT, 0, 0, 0, 0};
    weft_thread t = spawn(nagger, &c);
    ck_assert_weft(weft_cond_acquire(&c.cond, WEFT_FOREVER), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_cond_wait_for(&c.cond, flag_is_set, &c, WEFT_MS(40)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(40));
    ck_assert_weft(weft_cond_wait_for(&c.cond, flag_is_set, &c, 0), WEFT_EAGAIN);
    c.flag = 1;
    ck_assert_weft(weft_cond_wait_for(&c.cond, flag_is_set, &c, 0), 0);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    atomic_store(&nag_stop, 1);
    ck_assert_int_eq(join(t), 0);
}
END_TEST

static int setter(void *arg)
{
    struct cond_case *c = arg;
    weft_sleep(WEFT_MS(10));
    if (weft_cond_acquire(&c->cond, WEFT_FOREVER)) return 1;
    c->flag = 1;
    weft_cond_notify(&c->cond, 1);
    return weft_cond_release(&c->cond);
}

START_TEST(cond_wait_for_returns_when_predicate_holds)
{
    struct cond_case c = {WEFT_LOCK_INIT, WEFT_COND_INIT, 0, 0, 0, 0};
    ck_assert_weft(weft_cond_acquire(&c.cond, WEFT_FOREVER), 0);
    weft_thread t = spawn(setter, &c);
    ck_assert_weft(weft_cond_wait_for(&c.cond, flag_is_set, &c, WEFT_SEC(10)), 0);
    ck_assert_int_eq(c.flag, 1);
    ck_assert_weft(weft_cond_release(&c.cond), 0);
    ck_assert_int_eq(join(t), 0);
}
END_TEST

static int cond_wait_cancelled(void *arg)
{
    weft_cond *c = arg;
    if (weft_cond_acquire(c, WEFT_FOREVER)) return 1;
    publish_parker();
    int rc = weft_cond_wait(c, WEFT_FOREVER);
    end_cancel();
    /* The lock is held again after a cancelled wait. */
    if (weft_cond_release(c) != 0) return 2;
    return rc;
}

START_TEST(cond_wait_is_a_cancellation_point)
{
    weft_cond c = WEFT_COND_INIT;
    weft_thread t = spawn(cond_wait_cancelled, &c);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
}
END_TEST

/* ---- Semaphore ---- */

START_TEST(sem_acquire_release_and_try)
{
    weft_sem s = WEFT_SEM_INIT(2);
    ck_assert_weft(weft_sem_acquire(&s, 0), 0);
    ck_assert_weft(weft_sem_acquire(&s, 0), 0);
    ck_assert_weft(weft_sem_acquire(&s, 0), WEFT_EAGAIN);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_sem_acquire(&s, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(20));
    ck_assert_weft(weft_sem_release(&s, 3), 0);
    ck_assert_uint_eq(weft_sem_value(&s), 3);
    ck_assert_weft(weft_sem_release(&s, 0), WEFT_EINVAL);
    ck_assert_weft(weft_sem_release(NULL, 1), WEFT_EINVAL);
    ck_assert_weft(weft_sem_acquire(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_sem_acquire(&s, -1), WEFT_EINVAL);
    ck_assert_weft(weft_sem_init(NULL, 1), WEFT_EINVAL);
    ck_assert_weft(weft_sem_release(&s, UINT32_MAX), WEFT_EOVERFLOW);
    weft_sem zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_weft(weft_sem_acquire(&zero, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_sem_release(&zero, 1), 0);
    ck_assert_weft(weft_sem_acquire(&zero, 0), 0);
}
END_TEST

START_TEST(bounded_sem_over_release_is_an_error)
{
    weft_sem s;
    ck_assert_weft(weft_sem_init_bounded(&s, 2), 0);
    ck_assert_weft(weft_sem_release(&s, 1), WEFT_EOVERFLOW);
    ck_assert_weft(weft_sem_acquire(&s, 0), 0);
    ck_assert_weft(weft_sem_release(&s, 2), WEFT_EOVERFLOW);
    ck_assert_uint_eq(weft_sem_value(&s), 1);
    ck_assert_weft(weft_sem_release(&s, 1), 0);
    ck_assert_weft(weft_sem_release(&s, 1), WEFT_EOVERFLOW);
    weft_sem b0 = WEFT_BOUNDED_SEM_INIT(0);
    ck_assert_weft(weft_sem_release(&b0, 1), WEFT_EOVERFLOW);
    ck_assert_weft(weft_sem_init_bounded(&s, UINT32_MAX), WEFT_EINVAL);
    ck_assert_str_ne(weft_strerror(WEFT_EOVERFLOW), "unknown error");
}
END_TEST

struct sem_case {
    weft_sem sem;
    weft_latch started;
    _Atomic int done;
};

static int sem_taker(void *arg)
{
    struct sem_case *c = arg;
    weft_latch_count_down(&c->started, 1);
    int rc = weft_sem_acquire(&c->sem, WEFT_SEC(20));
    if (rc == 0) atomic_fetch_add(&c->done, 1);
    return rc;
}

START_TEST(sem_release_n_wakes_n_waiters)
{
    struct sem_case c = {WEFT_SEM_INIT(0), WEFT_LATCH_INIT(4), 0};
    weft_thread t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn(sem_taker, &c);
    ck_assert_weft(weft_latch_wait(&c.started, WEFT_SEC(10)), 0);
    weft_sleep(WEFT_MS(20));
    ck_assert_weft(weft_sem_release(&c.sem, 3), 0);
    while (atomic_load(&c.done) < 3) weft_sleep(WEFT_MS(1));
    weft_sleep(WEFT_MS(30));
    ck_assert_int_eq(atomic_load(&c.done), 3);
    ck_assert_weft(weft_sem_release(&c.sem, 1), 0);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_uint_eq(weft_sem_value(&c.sem), 0);
}
END_TEST

static int sem_cancelled(void *arg)
{
    publish_parker();
    int rc = weft_sem_acquire(arg, WEFT_FOREVER);
    end_cancel();
    return rc;
}

START_TEST(sem_acquire_is_a_cancellation_point)
{
    weft_sem s = WEFT_SEM_INIT(0);
    weft_thread t = spawn(sem_cancelled, &s);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
    ck_assert_uint_eq(s.state >> 32, 0); /* no waiter left counted */
}
END_TEST

/* ---- Event ---- */

START_TEST(event_wait_after_set_returns_at_once)
{
    weft_event e = WEFT_EVENT_INIT;
    ck_assert_weft(weft_event_is_set(&e), 0);
    ck_assert_weft(weft_event_wait(&e, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_event_set(&e), 0);
    ck_assert_weft(weft_event_is_set(&e), 1);
    /* "At once" without a clock: a wait with no time at all succeeds (a wait that blocked
     * would give EAGAIN), and one without a limit returns (else the test's time limit ends it). */
    for (int i = 0; i < 1000; i++) ck_assert_weft(weft_event_wait(&e, 0), 0);
    for (int i = 0; i < 1000; i++) ck_assert_weft(weft_event_wait(&e, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_clear(&e), 0);
    ck_assert_weft(weft_event_is_set(&e), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_event_wait(&e, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(20));
    ck_assert_weft(weft_event_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_event_wait(&e, -1), WEFT_EINVAL);
    ck_assert_weft(weft_event_set(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_event_clear(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_event_is_set(NULL), WEFT_EINVAL);
}
END_TEST

struct event_case {
    weft_event ev;
    weft_latch started;
};

static int event_waiter(void *arg)
{
    struct event_case *c = arg;
    weft_latch_count_down(&c->started, 1);
    return weft_event_wait(&c->ev, WEFT_SEC(20));
}

START_TEST(event_set_wakes_every_waiter_even_if_cleared)
{
    struct event_case c = {WEFT_EVENT_INIT, WEFT_LATCH_INIT(5)};
    weft_thread t[5];
    for (int i = 0; i < 5; i++) t[i] = spawn(event_waiter, &c);
    ck_assert_weft(weft_latch_wait(&c.started, WEFT_SEC(10)), 0);
    /* All five must be waiting before set+clear (one arriving after the clear would wait on). */
    while ((__atomic_load_n(&c.ev.state, __ATOMIC_SEQ_CST) >> 32) < 5) weft_sleep(WEFT_MS(1));
    ck_assert_weft(weft_event_set(&c.ev), 0);
    ck_assert_weft(weft_event_clear(&c.ev), 0);
    for (int i = 0; i < 5; i++) ck_assert_weft(join(t[i]), 0);
}
END_TEST

static int event_cancelled(void *arg)
{
    publish_parker();
    int rc = weft_event_wait(arg, WEFT_FOREVER);
    end_cancel();
    return rc;
}

START_TEST(event_wait_is_a_cancellation_point)
{
    weft_event e = WEFT_EVENT_INIT;
    weft_thread t = spawn(event_cancelled, &e);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
    ck_assert_uint_eq(e.state >> 32, 0); /* no waiter left counted */
}
END_TEST

/* ---- Barrier ---- */

#define PARTIES 4

struct barrier_case {
    weft_barrier b;
    _Atomic int actions;
    _Atomic int seen[PARTIES];
    _Atomic int results[8];
    _Atomic int nres;
    weft_ns timeout;
};

static int count_action(void *arg)
{
    atomic_fetch_add(&((struct barrier_case *)arg)->actions, 1);
    return 0;
}

static int barrier_party(void *arg)
{
    struct barrier_case *c = arg;
    for (int round = 0; round < 3; round++) {
        int idx = weft_barrier_wait(&c->b, WEFT_SEC(20));
        if (idx < 0 || idx >= PARTIES) return idx < 0 ? idx : 99;
        atomic_fetch_add(&c->seen[idx], 1);
    }
    return 0;
}

START_TEST(barrier_indices_action_and_reuse)
{
    struct barrier_case c = {.actions = 0};
    ck_assert_weft(weft_barrier_init(&c.b, PARTIES, count_action, &c), 0);
    weft_thread t[PARTIES];
    for (int i = 0; i < PARTIES; i++) t[i] = spawn(barrier_party, &c);
    for (int i = 0; i < PARTIES; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(atomic_load(&c.actions), 3);
    for (int i = 0; i < PARTIES; i++) ck_assert_int_eq(atomic_load(&c.seen[i]), 3);
    ck_assert_weft(weft_barrier_broken(&c.b), 0);
    ck_assert_weft(weft_barrier_n_waiting(&c.b), 0);
}
END_TEST

static int barrier_once(void *arg)
{
    struct barrier_case *c = arg;
    int rc = weft_barrier_wait(&c->b, c->timeout);
    atomic_store(&c->results[atomic_fetch_add(&c->nres, 1)], rc);
    return 0;
}

static void wait_n_waiting(weft_barrier *b, int n)
{
    while (weft_barrier_n_waiting(b) < n) weft_sleep(WEFT_MS(1));
}

START_TEST(barrier_abort_breaks_it_for_everyone)
{
    struct barrier_case c = {.timeout = WEFT_SEC(20)};
    ck_assert_weft(weft_barrier_init(&c.b, 3, NULL, NULL), 0);
    weft_thread t[2];
    for (int i = 0; i < 2; i++) t[i] = spawn(barrier_once, &c);
    wait_n_waiting(&c.b, 2);
    ck_assert_weft(weft_barrier_abort(&c.b), 0);
    for (int i = 0; i < 2; i++) join(t[i]);
    ck_assert_weft(atomic_load(&c.results[0]), WEFT_EBROKEN);
    ck_assert_weft(atomic_load(&c.results[1]), WEFT_EBROKEN);
    ck_assert_weft(weft_barrier_broken(&c.b), 1);
    ck_assert_weft(weft_barrier_wait(&c.b, WEFT_SEC(1)), WEFT_EBROKEN);
    /* reset makes it usable again */
    ck_assert_weft(weft_barrier_reset(&c.b), 0);
    ck_assert_weft(weft_barrier_broken(&c.b), 0);
    atomic_store(&c.nres, 0);
    for (int i = 0; i < 2; i++) t[i] = spawn(barrier_once, &c);
    int me = weft_barrier_wait(&c.b, WEFT_SEC(20));
    ck_assert_int_ge(me, 0);
    for (int i = 0; i < 2; i++) join(t[i]);
    int sum = me + atomic_load(&c.results[0]) + atomic_load(&c.results[1]);
    ck_assert_int_eq(sum, 0 + 1 + 2);
}
END_TEST

START_TEST(barrier_timeout_breaks_it_for_everyone)
{
    struct barrier_case c = {.timeout = WEFT_SEC(20)};
    ck_assert_weft(weft_barrier_init(&c.b, 3, NULL, NULL), 0);
    weft_thread t = spawn(barrier_once, &c);
    wait_n_waiting(&c.b, 1);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_barrier_wait(&c.b, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(20));
    join(t);
    ck_assert_weft(atomic_load(&c.results[0]), WEFT_EBROKEN);
    ck_assert_weft(weft_barrier_broken(&c.b), 1);
}
END_TEST

START_TEST(barrier_reset_while_waiting_breaks_the_waiters)
{
    struct barrier_case c = {.timeout = WEFT_SEC(20)};
    ck_assert_weft(weft_barrier_init(&c.b, 3, NULL, NULL), 0);
    weft_thread t[2];
    for (int i = 0; i < 2; i++) t[i] = spawn(barrier_once, &c);
    wait_n_waiting(&c.b, 2);
    ck_assert_weft(weft_barrier_reset(&c.b), 0);
    for (int i = 0; i < 2; i++) join(t[i]);
    ck_assert_weft(atomic_load(&c.results[0]), WEFT_EBROKEN);
    ck_assert_weft(atomic_load(&c.results[1]), WEFT_EBROKEN);
    ck_assert_weft(weft_barrier_broken(&c.b), 0); /* reset, not broken: usable again */
}
END_TEST

static int failing_action(void *arg)
{
    (void)arg;
    return WEFT_EINVAL;
}

START_TEST(barrier_failed_action_breaks_it)
{
    struct barrier_case c = {.timeout = WEFT_SEC(20)};
    ck_assert_weft(weft_barrier_init(&c.b, 2, failing_action, NULL), 0);
    weft_thread t = spawn(barrier_once, &c);
    wait_n_waiting(&c.b, 1);
    ck_assert_weft(weft_barrier_wait(&c.b, WEFT_SEC(20)), WEFT_EBROKEN);
    join(t);
    ck_assert_weft(atomic_load(&c.results[0]), WEFT_EBROKEN);
}
END_TEST

START_TEST(barrier_bad_input_and_try)
{
    weft_barrier b;
    ck_assert_weft(weft_barrier_init(&b, 0, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_init(NULL, 2, NULL, NULL), WEFT_EINVAL);
    memset(&b, 0, sizeof b);
    ck_assert_weft(weft_barrier_wait(&b, 0), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_abort(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_reset(NULL), WEFT_EINVAL);
    weft_barrier one = WEFT_BARRIER_INIT(1, NULL, NULL);
    ck_assert_weft(weft_barrier_wait(&one, 0), 0); /* the last party never waits */
    ck_assert_weft(weft_barrier_wait(&one, WEFT_FOREVER), 0);
    weft_barrier two = WEFT_BARRIER_INIT(2, NULL, NULL);
    ck_assert_weft(weft_barrier_wait(&two, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_barrier_broken(&two), 0);
    ck_assert_weft(weft_barrier_n_waiting(&two), 0);
    ck_assert_weft(weft_barrier_wait(&two, -1), WEFT_EINVAL);
    ck_assert_str_ne(weft_strerror(WEFT_EBROKEN), "unknown error");
}
END_TEST

static int barrier_cancelled(void *arg)
{
    publish_parker();
    int rc = weft_barrier_wait(arg, WEFT_FOREVER);
    end_cancel();
    return rc;
}

START_TEST(barrier_wait_is_a_cancellation_point)
{
    weft_barrier b = WEFT_BARRIER_INIT(2, NULL, NULL);
    weft_thread t = spawn(barrier_cancelled, &b);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
    ck_assert_weft(weft_barrier_broken(&b), 1);
}
END_TEST

/* ---- once ---- */

static weft_once_flag once_flag = WEFT_ONCE_INIT;
static _Atomic int once_runs;
static weft_latch once_go = WEFT_LATCH_INIT(1);

static int init_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&once_runs, 1);
    weft_sleep(WEFT_MS(20)); /* make the others arrive while it runs */
    return 0;
}

static int once_racer(void *arg)
{
    (void)arg;
    weft_latch_wait(&once_go, WEFT_SEC(10));
    int rc = weft_once(&once_flag, init_fn, NULL);
    return rc == 0 && atomic_load(&once_runs) == 1 ? 0 : 1;
}

START_TEST(once_runs_exactly_once_under_a_race)
{
    weft_thread t[6];
    for (int i = 0; i < 6; i++) t[i] = spawn(once_racer, NULL);
    ck_assert_weft(weft_latch_count_down(&once_go, 1), 0);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_int_eq(atomic_load(&once_runs), 1);
    ck_assert_weft(weft_once(&once_flag, init_fn, NULL), 0);
    ck_assert_int_eq(atomic_load(&once_runs), 1);
}
END_TEST

static int fail_first(void *arg)
{
    return (*(int *)arg)++ == 0 ? WEFT_ENOMEM : 0;
}

START_TEST(once_failed_initializer_is_retried)
{
    weft_once_flag f = WEFT_ONCE_INIT;
    int calls = 0;
    ck_assert_weft(weft_once(&f, fail_first, &calls), WEFT_ENOMEM);
    ck_assert_weft(weft_once(&f, fail_first, &calls), 0);
    ck_assert_weft(weft_once(&f, fail_first, &calls), 0);
    ck_assert_int_eq(calls, 2);
    ck_assert_weft(weft_once(NULL, fail_first, &calls), WEFT_EINVAL);
    ck_assert_weft(weft_once(&f, NULL, NULL), WEFT_EINVAL);
}
END_TEST

/* ---- latch ---- */

static int count_down_one(void *arg)
{
    return weft_latch_count_down(arg, 1);
}

START_TEST(latch_opens_at_zero)
{
    weft_latch l;
    ck_assert_weft(weft_latch_init(&l, 3), 0);
    ck_assert_weft(weft_latch_wait(&l, 0), WEFT_EAGAIN);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_latch_wait(&l, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_waited(t0, WEFT_MS(20));
    weft_thread t[3];
    for (int i = 0; i < 3; i++) t[i] = spawn(count_down_one, &l);
    ck_assert_weft(weft_latch_wait(&l, WEFT_SEC(20)), 0);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(join(t[i]), 0);
    ck_assert_uint_eq(weft_latch_count(&l), 0);
    ck_assert_weft(weft_latch_count_down(&l, 1), WEFT_EOVERFLOW);
    ck_assert_weft(weft_latch_count_down(&l, 0), 0);
    ck_assert_weft(weft_latch_count_down(NULL, 1), WEFT_EINVAL);
    ck_assert_weft(weft_latch_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_latch_wait(&l, -1), WEFT_EINVAL);
    weft_latch zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_weft(weft_latch_wait(&zero, 0), 0);
}
END_TEST

static int latch_cancelled(void *arg)
{
    publish_parker();
    int rc = weft_latch_wait(arg, WEFT_FOREVER);
    end_cancel();
    return rc;
}

START_TEST(latch_wait_is_a_cancellation_point)
{
    weft_latch l = WEFT_LATCH_INIT(1);
    weft_thread t = spawn(latch_cancelled, &l);
    interrupt_blocked();
    ck_assert_weft(join(t), WEFT_ECANCELED);
}
END_TEST

WEFT_TEST_SUITE("sync", 20, lock_acquire_release_and_try, lock_bad_input_is_an_error_code,
                lock_released_by_another_thread, lock_waiter_wakes_on_release,
                lock_timeout_is_not_early, lock_acquire_is_a_cancellation_point,
                rlock_ownership_and_counts, rlock_other_thread_times_out,
                cond_notify_n_wakes_exactly_n, cond_needs_its_lock_held,
                cond_wait_timeout_keeps_the_rlock_levels, cond_wait_releases_every_rlock_level,
                cond_wait_for_deadline_covers_the_whole_wait,
                cond_wait_for_returns_when_predicate_holds, cond_wait_is_a_cancellation_point,
                sem_acquire_release_and_try, bounded_sem_over_release_is_an_error,
                sem_release_n_wakes_n_waiters, sem_acquire_is_a_cancellation_point,
                event_wait_after_set_returns_at_once, event_set_wakes_every_waiter_even_if_cleared,
                event_wait_is_a_cancellation_point, barrier_indices_action_and_reuse,
                barrier_abort_breaks_it_for_everyone, barrier_timeout_breaks_it_for_everyone,
                barrier_reset_while_waiting_breaks_the_waiters, barrier_failed_action_breaks_it,
                barrier_bad_input_and_try, barrier_wait_is_a_cancellation_point,
                once_runs_exactly_once_under_a_race, once_failed_initializer_is_retried,
                latch_opens_at_zero, latch_wait_is_a_cancellation_point)
