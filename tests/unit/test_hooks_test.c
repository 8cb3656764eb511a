/* tests/unit/test_hooks_test.c - the test-only observers of src/test_hooks.h: each counts the
 * threads parked on its object, and counts none that are busy, so the tests that wait on them
 * (fork_test, timer_test, the queue tests) wait for what they mean. */
#include <stdatomic.h>
#include <stdint.h>

#include "tasks.h"
#include "test.h"
#include "test_hooks.h"

struct started_task {
    weft_sem started;
    weft_event go;
};

static int start_then_wait(void *arg, void **result)
{
    (void)result;
    struct started_task *s = arg;
    weft_sem_release(&s->started, 1);
    return weft_event_wait(&s->go, WEFT_SEC(60));
}

START_TEST(pool_parked_counts_idle_workers_not_busy_ones)
{
    weft_pool *p = weft_test_pool(2);
    struct started_task s = {.started = WEFT_SEM_INIT(0)};
    weft_event_init(&s.go);
    weft_future *f[2];
    for (int i = 0; i < 2; i++) { /* one at a time: each submit starts a worker */
        ck_assert_weft(weft_pool_submit(p, start_then_wait, &s, &f[i], WEFT_FOREVER), 0);
        ck_assert_weft(weft_sem_acquire(&s.started, WEFT_SEC(10)), 0);
    }
    ck_assert_uint_eq(weft__test_pool_parked(p), 0); /* both run a task */
    ck_assert_ptr_null(weft__test_pool_of_caller());
    weft_event_set(&s.go);
    for (int i = 0; i < 2; i++) {
        ck_assert_weft(weft_future_result(f[i], NULL, WEFT_SEC(10)), 0);
        weft_future_unref(f[i]);
    }
    weft_test_await_pool_parked(p, 2);
    weft_pool_free(p);
}
END_TEST

static int where_am_i(void *arg, void **result)
{
    (void)arg;
    *result = weft__test_pool_of_caller();
    return 0;
}

START_TEST(pool_of_caller_names_the_workers_pool)
{
    weft_pool *p = weft_test_pool(1);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, where_am_i, NULL, &f, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(10)), 0);
    ck_assert_ptr_eq(r, p);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

struct queue_op {
    weft_queue *q;
    int which;
};

static int queue_op(void *arg)
{
    struct queue_op *o = arg;
    void *item;
    switch (o->which) {
    case WEFT__TEST_GETTERS:
        return weft_queue_get(o->q, &item, WEFT_SEC(60));
    case WEFT__TEST_PUTTERS:
        return weft_queue_put(o->q, (void *)(uintptr_t)2, WEFT_SEC(60));
    default:
        return weft_queue_join(o->q, WEFT_SEC(60));
    }
}

/* Park a thread on q's list `which`, see it counted, then let it go with `release`. */
static void park_and_release(weft_queue *q, int which, void (*release)(weft_queue *))
{
    struct queue_op o = {q, which};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, queue_op, &o, NULL), 0);
    weft_test_await_queue_parked(q, which, 1);
    ck_assert_uint_eq(weft__test_queue_parked(q, which), 1);
    release(q);
    int st = -1;
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, 0);
    ck_assert_uint_eq(weft__test_queue_parked(q, which), 0);
}

static void put_one(weft_queue *q)
{
    ck_assert_weft(weft_queue_put(q, (void *)(uintptr_t)1, WEFT_SEC(10)), 0);
}

static void get_one(weft_queue *q)
{
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, WEFT_SEC(10)), 0);
}

static void done_all(weft_queue *q)
{
    while (weft_queue_unfinished(q) > 0) ck_assert_weft(weft_queue_task_done(q), 0);
}

START_TEST(queue_parked_counts_each_list)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = 1;
    weft_queue *q = NULL;
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    ck_assert_uint_eq(weft__test_queue_parked(q, WEFT__TEST_GETTERS), 0);
    park_and_release(q, WEFT__TEST_GETTERS, put_one); /* the getter takes the item */
    put_one(q);                                       /* full now */
    park_and_release(q, WEFT__TEST_PUTTERS, get_one); /* the putter's item is in */
    park_and_release(q, WEFT__TEST_JOINERS, done_all);
    ck_assert_uint_eq(weft__test_queue_parked(q, 99), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

struct in_callback {
    weft_sem entered;
    weft_event leave;
};

static void hold_timer_thread(void *arg)
{
    struct in_callback *c = arg;
    weft_sem_release(&c->entered, 1);
    weft_event_wait(&c->leave, WEFT_SEC(60));
}

START_TEST(timer_parked_is_zero_while_a_callback_runs)
{
    struct in_callback c = {.entered = WEFT_SEM_INIT(0)};
    weft_event_init(&c.leave);
    weft_timer *t;
    ck_assert_weft(weft_timer_start(&t, WEFT_MS(1), hold_timer_thread, &c, NULL), 0);
    ck_assert_weft(weft_sem_acquire(&c.entered, WEFT_SEC(10)), 0);
    ck_assert_uint_eq(weft__test_timer_parked(), 0); /* it runs our callback */
    weft_event_set(&c.leave);
    ck_assert_weft(weft_timer_wait(t, WEFT_SEC(10)), 0);
    weft_timer_free(t);
    weft_test_await_timer_parked(); /* back from the callback, nothing scheduled */
}
END_TEST

WEFT_TEST_SUITE("test_hooks", 60, pool_parked_counts_idle_workers_not_busy_ones,
                pool_of_caller_names_the_workers_pool, queue_parked_counts_each_list,
                timer_parked_is_zero_while_a_callback_runs)
