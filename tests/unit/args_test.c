/* tests/unit/args_test.c - every argument check of the queue, sync and future calls, one bad
 * argument at a time: the call returns WEFT_EINVAL, changes nothing, and leaves a message that
 * names the argument that was wrong (weft/error.h: "a message naming what was wrong"). */
#include <string.h>
#include <weft.h>

#include "test.h"

/* rc is WEFT_EINVAL and the thread's message contains `what`. */
#define ck_einval(expr, what)                                                                  \
    do {                                                                                       \
        weft_error_clear();                                                                    \
        ck_assert_weft((expr), WEFT_EINVAL);                                                   \
        ck_assert_msg(strstr(weft_error_message(), (what)) != NULL,                            \
                      "%s: message \"%s\" lacks \"%s\"", #expr, weft_error_message(), (what)); \
    } while (0)

static int less(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (a > b) - (a < b);
}

static void drop(void *item, void *arg)
{
    (void)item;
    (void)arg;
}

START_TEST(queue_new_names_the_bad_option)
{
    weft_queue *q = NULL;
    ck_einval(weft_queue_new(NULL, NULL), "out is NULL");
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.order = 77;
    ck_einval(weft_queue_new(&q, &o), "order is 77");
    o = (weft_queue_opts)WEFT_QUEUE_OPTS_INIT;
    o.order = WEFT_QUEUE_PRIORITY;
    ck_einval(weft_queue_new(&q, &o), "needs compare");
    o = (weft_queue_opts)WEFT_QUEUE_OPTS_INIT;
    o.compare = less;
    ck_einval(weft_queue_new(&q, &o), "compare is set");
    o = (weft_queue_opts)WEFT_QUEUE_OPTS_INIT;
    o.capacity = (size_t)WEFT_QUEUE_CAPACITY_MAX + 1;
    ck_einval(weft_queue_new(&q, &o), "capacity");
    ck_assert_ptr_null(q);
}
END_TEST

START_TEST(queue_calls_name_each_bad_argument)
{
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    void *item = &item, *items[2] = {&item, &item};
    size_t n = 99;
    int fd;
    ck_einval(weft_queue_put(NULL, item, 0), "q is NULL");
    ck_einval(weft_queue_put(q, item, -1), "timeout is negative");
    ck_einval(weft_queue_get(NULL, &item, 0), "q is NULL");
    ck_einval(weft_queue_get(q, NULL, 0), "item is NULL");
    ck_einval(weft_queue_get(q, &item, -1), "timeout is negative");
    ck_einval(weft_queue_put_many(NULL, items, 2, &n, 0), "q is NULL");
    ck_assert_uint_eq(n, 0); /* done is written even on a refused call */
    ck_einval(weft_queue_put_many(q, NULL, 2, NULL, 0), "items is NULL");
    ck_einval(weft_queue_put_many(q, items, 2, NULL, -5), "timeout is negative");
    n = 99;
    ck_einval(weft_queue_get_many(NULL, items, 2, &n, 0), "q is NULL");
    ck_assert_uint_eq(n, 0);
    ck_einval(weft_queue_get_many(q, NULL, 2, &n, 0), "items is NULL");
    ck_einval(weft_queue_get_many(q, items, 2, NULL, 0), "got is NULL");
    ck_einval(weft_queue_get_many(q, items, 0, &n, 0), "max is 0");
    ck_einval(weft_queue_get_many(q, items, 2, &n, -1), "timeout is negative");
    ck_einval(weft_queue_task_done(NULL), "q is NULL");
    ck_einval(weft_queue_join(NULL, 0), "q is NULL");
    ck_einval(weft_queue_join(q, -1), "timeout is negative");
    ck_einval(weft_queue_close(NULL), "q is NULL");
    ck_einval(weft_queue_shutdown(NULL, drop, NULL, &n), "q is NULL");
    ck_einval(weft_queue_fd(NULL, &fd), "q is NULL");
    ck_einval(weft_queue_fd(q, NULL), "fd is NULL");
    /* nothing was put by the refused calls */
    ck_assert_uint_eq(weft_queue_size(q), 0);
    ck_assert_uint_eq(weft_queue_size(NULL), 0);
    ck_assert_uint_eq(weft_queue_unfinished(NULL), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(select_names_the_bad_case)
{
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    void *item = NULL;
    size_t fired;
    weft_queue_case cases[2] = {{.queue = q, .op = WEFT_QUEUE_GET, .item = &item},
                                {.queue = NULL, .op = WEFT_QUEUE_GET, .item = &item}};
    ck_einval(weft_queue_select(NULL, 1, &fired, 0), "cases is NULL");
    ck_einval(weft_queue_select(cases, 0, &fired, 0), "n is 0");
    ck_einval(weft_queue_select(cases, WEFT_QUEUE_SELECT_MAX + 1, &fired, 0), "n is");
    ck_einval(weft_queue_select(cases, 2, &fired, 0), "cases[1].queue is NULL");
    cases[1].queue = q;
    cases[1].op = 9;
    ck_einval(weft_queue_select(cases, 2, &fired, 0), "cases[1].op is 9");
    ck_einval(weft_queue_select(cases, 1, &fired, -1), "timeout is negative");
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

START_TEST(sync_calls_name_each_bad_argument)
{
    weft_sem s;
    weft_event e;
    weft_latch l;
    ck_assert_weft(weft_sem_init(&s, 1), 0);
    ck_assert_weft(weft_event_init(&e), 0);
    ck_assert_weft(weft_latch_init(&l, 2), 0);
    ck_einval(weft_sem_init(NULL, 0), "s is NULL");
    ck_einval(weft_sem_init_bounded(NULL, 0), "s is NULL");
    ck_einval(weft_sem_init_bounded(&s, UINT32_MAX), "too large");
    ck_assert_weft(weft_sem_init(&s, 1), 0);
    ck_einval(weft_sem_acquire(NULL, 0), "s is NULL");
    ck_einval(weft_sem_acquire(&s, -1), "timeout is negative");
    ck_einval(weft_sem_release(NULL, 1), "s is NULL");
    ck_einval(weft_sem_release(&s, 0), "n is 0");
    ck_assert_uint_eq(weft_sem_value(&s), 1); /* the refused calls took and gave nothing */
    ck_einval(weft_event_init(NULL), "e is NULL");
    ck_einval(weft_event_set(NULL), "e is NULL");
    ck_einval(weft_event_clear(NULL), "e is NULL");
    ck_einval(weft_event_wait(NULL, 0), "e is NULL");
    ck_einval(weft_event_wait(&e, -1), "timeout is negative");
    ck_assert_int_eq(weft_event_is_set(&e), 0);
    ck_einval(weft_latch_init(NULL, 1), "l is NULL");
    ck_einval(weft_latch_count_down(NULL, 1), "l is NULL");
    ck_einval(weft_latch_wait(NULL, 0), "l is NULL");
    ck_einval(weft_latch_wait(&l, -1), "timeout is negative");
    ck_assert_uint_eq(weft_latch_count(&l), 2);
    weft_once_flag flag = WEFT_ONCE_INIT;
    ck_einval(weft_once(NULL, noop, NULL), "flag is NULL");
    ck_einval(weft_once(&flag, NULL, NULL), "fn is NULL");
    ck_assert_weft(weft_once(&flag, never, NULL), 0); /* the refused calls did not use it up */
}
END_TEST

static int yes(void *arg)
{
    (void)arg;
    return 1;
}

START_TEST(cond_and_barrier_name_each_bad_argument)
{
    weft_lock lk;
    weft_cond c;
    weft_barrier b;
    ck_assert_weft(weft_lock_init(&lk), 0);
    ck_assert_weft(weft_cond_init(&c, &lk), 0);
    ck_einval(weft_cond_wait(NULL, 0), "c is NULL");
    ck_einval(weft_cond_wait_for(&c, NULL, NULL, 0), "pred is NULL");
    ck_einval(weft_cond_wait_for(NULL, yes, NULL, 0), "c is NULL");
    ck_einval(weft_cond_notify(NULL, 1), "c is NULL");
    ck_einval(weft_cond_notify_all(NULL), "c is NULL");
    ck_einval(weft_barrier_init(NULL, 1, NULL, NULL), "b is NULL");
    ck_einval(weft_barrier_init(&b, 0, NULL, NULL), "parties is 0");
    ck_assert_weft(weft_barrier_init(&b, 2, NULL, NULL), 0);
    ck_einval(weft_barrier_set_timeout(NULL, 1), "b is NULL");
    ck_einval(weft_barrier_set_timeout(&b, 0), "a default must be > 0");
    ck_einval(weft_barrier_wait(NULL, 0), "b is NULL");
    ck_einval(weft_barrier_abort(NULL), "b is NULL");
    ck_einval(weft_barrier_reset(NULL), "b is NULL");
    ck_einval(weft_barrier_n_waiting(NULL), "b is NULL");
    ck_einval(weft_barrier_broken(NULL), "b is NULL");
    ck_assert_int_eq(weft_barrier_broken(&b), 0);
    ck_assert_int_eq(weft_barrier_n_waiting(&b), 0);
}
END_TEST

static void cb(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
}

START_TEST(future_calls_name_each_bad_argument)
{
    weft_future *f;
    weft_queue *bounded, *q;
    weft_queue_opts qo = WEFT_QUEUE_OPTS_INIT;
    qo.capacity = 4;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_queue_new(&bounded, &qo), 0);
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    char buf[8];
    int fd;
    void *r;
    ck_einval(weft_future_cancel(NULL), "f is NULL");
    ck_einval(weft_future_done(NULL), "f is NULL");
    ck_einval(weft_future_cancelled(NULL), "f is NULL");
    ck_einval(weft_future_running(NULL), "f is NULL");
    ck_einval(weft_future_add_done_callback(NULL, cb, NULL), "f is NULL");
    ck_einval(weft_future_add_done_callback(f, NULL, NULL), "cb is NULL");
    ck_einval(weft_future_route(NULL, q), "f is NULL");
    ck_einval(weft_future_route(f, NULL), "q is NULL");
    ck_einval(weft_future_route(f, bounded), "q is bounded");
    ck_einval(weft_future_ref(NULL), "f is NULL");
    ck_einval(weft_future_name(NULL, buf, sizeof buf), "f is NULL");
    ck_einval(weft_future_name(f, NULL, sizeof buf), "buf is NULL");
    ck_einval(weft_future_name(f, buf, 0), "size is 0");
    ck_einval(weft_future_fd(NULL, &fd), "f is NULL");
    ck_einval(weft_future_fd(f, NULL), "fd is NULL");
    ck_einval(weft_future_wait(NULL, 0), "f is NULL");
    ck_einval(weft_future_wait(f, -1), "timeout is negative");
    ck_einval(weft_future_result(NULL, &r, 0), "f is NULL");
    /* the refused route left nothing behind: completing f routes nowhere */
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert_uint_eq(weft_queue_size(bounded), 0);
    ck_assert_uint_eq(weft_queue_size(q), 0);
    weft_future_unref(NULL); /* documented: does nothing */
    weft_future_unref(f);
    ck_assert_weft(weft_queue_free(bounded), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

WEFT_TEST_SUITE("args", 10, queue_new_names_the_bad_option, queue_calls_name_each_bad_argument,
                select_names_the_bad_case, sync_calls_name_each_bad_argument,
                cond_and_barrier_name_each_bad_argument, future_calls_name_each_bad_argument)
