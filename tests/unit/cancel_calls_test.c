/* tests/unit/cancel_calls_test.c - every blocking call of weft returns WEFT_ECANCELED when the
 * scope of the thread blocked in it is cancelled, and cancellation racing a hand-off never
 * loses the item. */
#include <sched.h>
#include <stdatomic.h>

#include "test.h"

/* ---- the harness: run a blocking call on a thread in its own scope, then cancel it ---- */

struct blocked_call {
    int (*call)(void *ctx);
    void *ctx;
    _Atomic int about_to_block;
    int rc;
};

static int run_call(void *arg)
{
    struct blocked_call *b = arg;
    atomic_store(&b->about_to_block, 1);
    b->rc = b->call(b->ctx);
    return 0;
}

/* Start call(ctx) on a thread, let it block, cancel the thread's parent scope; return the call's
 * result. The cancel reaches it whether it is already asleep or still spinning. */
static int cancel_while_blocked(int (*call)(void *), void *ctx)
{
    struct blocked_call b = {.call = call, .ctx = ctx};
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.scope = s;
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, run_call, &b, &o), 0);
    while (!atomic_load(&b.about_to_block)) sched_yield();
    weft_sleep(WEFT_MS(2));
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "test"), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(50)), 0);
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(50)); /* cut short, not waited out */
    weft_scope_free(s);
    return b.rc;
}

/* ---- the calls ---- */

static int call_sleep(void *ctx)
{
    (void)ctx;
    return weft_sleep(WEFT_SEC(60));
}

static int call_join(void *ctx)
{
    return weft_thread_join(*(weft_thread *)ctx, NULL, WEFT_FOREVER);
}

static int call_lock(void *ctx)
{
    return weft_lock_acquire(ctx, WEFT_FOREVER);
}

static int call_rlock(void *ctx)
{
    return weft_rlock_acquire(ctx, WEFT_FOREVER);
}

static int call_cond(void *ctx)
{
    weft_cond *c = ctx;
    if (weft_cond_acquire(c, WEFT_FOREVER) != 0) return 1;
    int rc = weft_cond_wait(c, WEFT_FOREVER);
    if (weft_cond_release(c) != 0) return 2; /* the lock is held again after a cancel */
    return rc;
}

static int call_sem(void *ctx)
{
    return weft_sem_acquire(ctx, WEFT_FOREVER);
}

static int call_event(void *ctx)
{
    return weft_event_wait(ctx, WEFT_FOREVER);
}

static int call_barrier(void *ctx)
{
    return weft_barrier_wait(ctx, WEFT_FOREVER);
}

static int call_latch(void *ctx)
{
    return weft_latch_wait(ctx, WEFT_FOREVER);
}

static int call_get(void *ctx)
{
    void *item;
    return weft_queue_get(ctx, &item, WEFT_FOREVER);
}

static int call_put(void *ctx)
{
    return weft_queue_put(ctx, ctx, WEFT_FOREVER);
}

static int call_qjoin(void *ctx)
{
    return weft_queue_join(ctx, WEFT_FOREVER);
}

static int call_select(void *ctx)
{
    weft_queue **qs = ctx;
    weft_queue_case cases[2] = {{qs[0], WEFT_QUEUE_GET, NULL}, {qs[1], WEFT_QUEUE_GET, NULL}};
    size_t fired;
    return weft_queue_select(cases, 2, &fired, WEFT_FOREVER);
}

static int wait_event(void *arg)
{
    weft_shield_begin(); /* not cancelled with the joiner */
    weft_event_wait(arg, WEFT_FOREVER);
    weft_shield_end();
    return 0;
}

START_TEST(sleep_and_join_are_cancelled)
{
    ck_assert_weft(cancel_while_blocked(call_sleep, NULL), WEFT_ECANCELED);
    weft_event e = WEFT_EVENT_INIT;
    weft_thread other;
    ck_assert_weft(weft_thread_start(&other, wait_event, &e, NULL), 0);
    ck_assert_weft(cancel_while_blocked(call_join, &other), WEFT_ECANCELED);
    ck_assert_weft(weft_event_set(&e), 0);
    ck_assert_weft(weft_thread_join(other, NULL, WEFT_SEC(10)), 0);
}
END_TEST

START_TEST(lock_and_rlock_acquire_are_cancelled)
{
    weft_lock l = WEFT_LOCK_INIT;
    weft_rlock r = WEFT_RLOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&l, 0), 0);
    ck_assert_weft(weft_rlock_acquire(&r, 0), 0);
    ck_assert_weft(cancel_while_blocked(call_lock, &l), WEFT_ECANCELED);
    ck_assert_weft(cancel_while_blocked(call_rlock, &r), WEFT_ECANCELED);
    ck_assert_weft(weft_lock_release(&l), 0); /* still ours: the cancelled waiter took nothing */
    ck_assert_weft(weft_rlock_release(&r), 0);
    ck_assert_weft(weft_lock_acquire(&l, 0), 0);
    ck_assert_weft(weft_lock_release(&l), 0);
}
END_TEST

START_TEST(condition_wait_is_cancelled_and_keeps_the_lock)
{
    weft_lock l = WEFT_LOCK_INIT;
    weft_cond c;
    ck_assert_weft(weft_cond_init(&c, &l), 0);
    ck_assert_weft(cancel_while_blocked(call_cond, &c), WEFT_ECANCELED);
    ck_assert_int_eq(weft_lock_locked(&l), 0);
}
END_TEST

START_TEST(semaphore_event_barrier_latch_are_cancelled)
{
    weft_sem s = WEFT_SEM_INIT(0);
    weft_event e = WEFT_EVENT_INIT;
    weft_barrier b;
    weft_latch l = WEFT_LATCH_INIT(1);
    ck_assert_weft(weft_barrier_init(&b, 2, NULL, NULL), 0);
    ck_assert_weft(cancel_while_blocked(call_sem, &s), WEFT_ECANCELED);
    ck_assert_weft(cancel_while_blocked(call_event, &e), WEFT_ECANCELED);
    ck_assert_weft(cancel_while_blocked(call_barrier, &b), WEFT_ECANCELED);
    ck_assert_weft(cancel_while_blocked(call_latch, &l), WEFT_ECANCELED);
    ck_assert_uint_eq(weft_sem_value(&s), 0);
}
END_TEST

START_TEST(queue_put_get_join_select_are_cancelled)
{
    weft_queue *q, *full, *other;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    ck_assert_weft(weft_queue_new(&other, NULL), 0);
    o.capacity = 1;
    ck_assert_weft(weft_queue_new(&full, &o), 0);
    ck_assert_weft(weft_queue_put(full, full, 0), 0);
    ck_assert_weft(cancel_while_blocked(call_get, q), WEFT_ECANCELED);
    ck_assert_weft(cancel_while_blocked(call_put, full), WEFT_ECANCELED);
    ck_assert_uint_eq(weft_queue_size(full), 1); /* the cancelled put kept its item */
    ck_assert_weft(cancel_while_blocked(call_qjoin, full), WEFT_ECANCELED);
    weft_queue *pair[2] = {q, other};
    ck_assert_weft(cancel_while_blocked(call_select, pair), WEFT_ECANCELED);
    void *item;
    ck_assert_weft(weft_queue_get(full, &item, 0), 0);
    ck_assert_weft(weft_queue_task_done(full), 0);
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(other), 0);
    ck_assert_weft(weft_queue_free(full), 0);
}
END_TEST

/* ---- cancellation racing a normal hand-off ---- */

/* The two threads hand each round over with semaphores, not by spinning on sched_yield: on a
 * loaded machine a yield can give the CPU away for a whole time slice, and 100,000 rounds of
 * that once took this test past its time limit. */
struct race {
    weft_queue *q;
    long rounds;
    weft_sem ready;            /* consumer -> main: scope is set, get is about to block */
    weft_sem done;             /* consumer -> main: rc and item hold this round's result */
    weft_sem next;             /* main -> consumer: main is done with scope */
    weft_scope *_Atomic scope; /* the consumer's scope for the current round */
    int rc;
    void *item;
};

static int consumer(void *arg)
{
    struct race *r = arg;
    for (long i = 1; i <= r->rounds; i++) {
        weft_scope *s;
        if (weft_scope_new(&s, NULL, NULL) != 0) return 1;
        if (weft_scope_enter(s) != 0) return 2;
        atomic_store(&r->scope, s);
        r->item = NULL;
        if (weft_sem_release(&r->ready, 1) != 0) return 3;
        r->rc = weft_queue_get(r->q, &r->item, WEFT_FOREVER);
        weft_scope_exit();
        if (weft_sem_release(&r->done, 1) != 0) return 4;
        if (weft_sem_acquire(&r->next, WEFT_SEC(30)) != 0) return 5;
        weft_scope_free(s);
    }
    return 0;
}

/* Each round: one put and one cancel race a consumer blocked in get. Either the consumer got
 * the item, or it was cancelled and the item is still in the queue: never lost, never twice. */
START_TEST(cancel_racing_put_never_loses_the_item)
{
    struct race r = {.rounds = weft_test_scale(100000)};
    ck_assert_weft(weft_queue_new(&r.q, NULL), 0);
    ck_assert_weft(weft_sem_init(&r.ready, 0), 0);
    ck_assert_weft(weft_sem_init(&r.done, 0), 0);
    ck_assert_weft(weft_sem_init(&r.next, 0), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, consumer, &r, NULL), 0);
    long got = 0, cancelled = 0;
    for (long i = 1; i <= r.rounds; i++) {
        ck_assert_weft(weft_sem_acquire(&r.ready, WEFT_SEC(30)), 0);
        weft_scope *s = atomic_load(&r.scope);
        if (i & 1) {
            ck_assert_weft(weft_queue_put(r.q, (void *)(intptr_t)i, 0), 0);
            weft_scope_cancel(s, WEFT_ECANCELED, NULL);
        } else {
            weft_scope_cancel(s, WEFT_ECANCELED, NULL);
            ck_assert_weft(weft_queue_put(r.q, (void *)(intptr_t)i, 0), 0);
        }
        ck_assert_weft(weft_sem_acquire(&r.done, WEFT_SEC(30)), 0);
        if (r.rc == 0) {
            ck_assert_int_eq((intptr_t)r.item, i);
            got++;
        } else {
            ck_assert_weft(r.rc, WEFT_ECANCELED);
            void *left = NULL;
            ck_assert_weft(weft_queue_get(r.q, &left, 0), 0);
            ck_assert_int_eq((intptr_t)left, i);
            cancelled++;
        }
        ck_assert_uint_eq(weft_queue_size(r.q), 0);
        ck_assert_weft(weft_sem_release(&r.next, 1), 0);
    }
    int st = -1;
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(30)), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_int_eq(got + cancelled, r.rounds);
    ck_assert_int_gt(got, 0); /* both outcomes happen (odd rounds put first, even cancel first) */
    ck_assert_int_gt(cancelled, 0);
    ck_assert_weft(weft_queue_free(r.q), 0);
}
END_TEST

WEFT_TEST_SUITE("cancel_calls", 120, sleep_and_join_are_cancelled,
                lock_and_rlock_acquire_are_cancelled,
                condition_wait_is_cancelled_and_keeps_the_lock,
                semaphore_event_barrier_latch_are_cancelled,
                queue_put_get_join_select_are_cancelled, cancel_racing_put_never_loses_the_item)
