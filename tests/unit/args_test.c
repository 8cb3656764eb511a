/* tests/unit/args_test.c - every argument check of the queue, sync and future calls, one bad
 * argument at a time: the call returns WEFT_EINVAL, changes nothing, and leaves a message that
 * names the argument that was wrong (weft/error.h: "a message naming what was wrong"). */
#include <signal.h>
#include <string.h>
#include <weft.h>

#include "test.h"

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
    ck_assert_weft(weft_once(&flag, noop, NULL), 0); /* the refused calls did not use it up */
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

static int task(void *arg, void **result)
{
    (void)arg;
    *result = NULL;
    return 0;
}

START_TEST(pool_and_wait_name_each_bad_argument)
{
    weft_pool *p = NULL;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    ck_einval(weft_pool_new(NULL, NULL), "out is NULL");
    po.max_workers = -1;
    ck_einval(weft_pool_new(&p, &po), "max_workers is -1");
    po.max_workers = 1025;
    ck_einval(weft_pool_new(&p, &po), "max_workers is 1025");
    po.max_workers = 1;
    po.name_prefix = "a name prefix that is longer than forty bytes in all";
    ck_einval(weft_pool_new(&p, &po), "name_prefix");
    ck_assert_ptr_null(p);
    po.name_prefix = NULL;
    ck_assert_weft(weft_pool_new(&p, &po), 0);
    weft_future *f = NULL, *none = NULL, *fs[2];
    ck_einval(weft_pool_submit(NULL, task, NULL, &f, 0), "p is NULL");
    ck_einval(weft_pool_submit(p, NULL, NULL, &f, 0), "fn is NULL");
    ck_einval(weft_pool_submit(p, task, NULL, &f, -1), "timeout is negative");
    ck_assert_ptr_null(f);
    ck_assert_weft(weft_pool_submit(p, task, NULL, &f, WEFT_FOREVER), 0);
    fs[0] = f;
    fs[1] = NULL;
    size_t idx, nd;
    ck_einval(weft_wait(NULL, 1, WEFT_ALL_COMPLETED, &idx, 0), "fs is NULL");
    ck_einval(weft_wait(fs, 0, WEFT_ALL_COMPLETED, &idx, 0), "n is 0");
    ck_einval(weft_wait(fs, 1, WEFT_ALL_COMPLETED, &idx, -1), "timeout is negative");
    ck_einval(weft_wait(fs, 1, 99, &idx, 0), "mode");
    ck_einval(weft_wait(fs, 1, -99, &idx, 0), "mode");
    ck_einval(weft_wait(fs, 2, WEFT_ALL_COMPLETED, &idx, 0), "fs[1] is NULL");
    ck_einval(weft_wait_split(NULL, 1, WEFT_ALL_COMPLETED, &nd, 0), "fs is NULL");
    ck_einval(weft_wait_split(fs, 1, WEFT_ALL_COMPLETED, NULL, 0), "ndone is NULL");
    ck_einval(weft_wait_split(fs, 1, WEFT_ALL_COMPLETED, &nd, -1), "timeout is negative");
    ck_einval(weft_wait_split(fs, 1, 99, &nd, 0), "mode");
    ck_einval(weft_wait_split(fs, 1, -99, &nd, 0), "mode");
    weft_as_completed *it = NULL;
    ck_einval(weft_as_completed_new(NULL, fs, 1), "out is NULL");
    ck_einval(weft_as_completed_new(&it, NULL, 1), "fs is NULL");
    ck_einval(weft_as_completed_new(&it, fs, 2), "fs[1] is NULL");
    ck_assert_weft(weft_as_completed_new(&it, fs, 1), 0);
    ck_einval(weft_as_completed_next(NULL, &none, 0), "it is NULL");
    ck_einval(weft_as_completed_next(it, NULL, 0), "f is NULL");
    ck_einval(weft_as_completed_next(it, &none, -1), "timeout is negative");
    /* the refused calls did not use up the iterator: it still yields f, then ends */
    ck_assert_weft(weft_as_completed_next(it, &none, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(none, f);
    ck_assert_weft(weft_as_completed_next(it, &none, WEFT_FOREVER), WEFT_ECLOSED);
    weft_as_completed_free(it);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

static int job(void *arg)
{
    (void)arg;
    return 0;
}

START_TEST(group_names_each_bad_argument)
{
    weft_group *g = NULL;
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_group_opts go = WEFT_GROUP_OPTS_INIT;
    go.pool = p;
    go.threads = 1;
    ck_einval(weft_group_new(NULL, NULL), "out is NULL");
    ck_einval(weft_group_new(&g, &go), "both pool and threads");
    ck_assert_ptr_null(g);
    ck_assert_weft(weft_group_new(&g, NULL), 0);
    char longname[WEFT_THREAD_NAME_MAX + 4];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_einval(weft_group_spawn(NULL, job, NULL, NULL), "g is NULL");
    ck_einval(weft_group_spawn(g, NULL, NULL, NULL), "fn is NULL");
    ck_einval(weft_group_spawn(g, job, NULL, longname), "name is");
    ck_einval(weft_group_wait(NULL, 0), "g is NULL");
    ck_einval(weft_group_cancel(NULL), "g is NULL");
    ck_einval(weft_group_free(NULL), "g is NULL");
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0); /* nothing was spawned */
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

START_TEST(ipcq_names_each_bad_argument)
{
    weft_ipcq *q = NULL;
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    ck_einval(weft_ipcq_new(NULL, NULL), "out is NULL");
    o.capacity = (size_t)WEFT_IPCQ_CAPACITY_MAX + 1;
    ck_einval(weft_ipcq_new(&q, &o), "capacity");
    o = (weft_ipcq_opts)WEFT_IPCQ_OPTS_INIT;
    o.max_msg = (size_t)WEFT_IPCQ_MSG_MAX + 1;
    ck_einval(weft_ipcq_new(&q, &o), "max_msg");
    o = (weft_ipcq_opts)WEFT_IPCQ_OPTS_INIT;
    o.flags = 0x100;
    ck_einval(weft_ipcq_new(&q, &o), "unknown flags");
    o = (weft_ipcq_opts)WEFT_IPCQ_OPTS_INIT;
    o.capacity = WEFT_IPCQ_CAPACITY_MAX;
    o.max_msg = WEFT_IPCQ_MSG_MAX;
    ck_einval(weft_ipcq_new(&q, &o), "exceed");
    ck_assert_ptr_null(q);
    ck_einval(weft_ipcq_attach(NULL, 0), "out is NULL");
    ck_einval(weft_ipcq_attach(&q, -1), "-1 is not an open descriptor");
    o = (weft_ipcq_opts)WEFT_IPCQ_OPTS_INIT;
    o.capacity = 2;
    o.max_msg = 8;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    char buf[8];
    size_t len;
    ck_einval(weft_ipcq_fd(NULL), "q is NULL");
    ck_einval(weft_ipcq_put(NULL, "x", 1, 0), "q is NULL");
    ck_einval(weft_ipcq_put(q, NULL, 1, 0), "data is NULL");
    ck_einval(weft_ipcq_put(q, "123456789", 9, 0), "max_msg is 8");
    ck_einval(weft_ipcq_get(NULL, buf, sizeof buf, &len, 0), "q is NULL");
    ck_einval(weft_ipcq_get(q, buf, sizeof buf, NULL, 0), "len is NULL");
    ck_einval(weft_ipcq_get(q, NULL, sizeof buf, &len, 0), "buf is NULL");
    ck_einval(weft_ipcq_close(NULL), "q is NULL");
    ck_einval(weft_ipcq_task_done(NULL), "q is NULL");
    ck_einval(weft_ipcq_join(NULL, 0), "q is NULL");
    ck_assert_uint_eq(weft_ipcq_size(q), 0); /* nothing went in */
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

static int child(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

START_TEST(procpool_names_each_bad_argument)
{
    weft_procpool *p = NULL;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    ck_einval(weft_procpool_new(NULL, NULL), "out is NULL");
    o.workers = -1;
    ck_einval(weft_procpool_new(&p, &o), "workers is -1");
    o.workers = WEFT_PROCPOOL_WORKERS_MAX + 1;
    ck_einval(weft_procpool_new(&p, &o), "workers is");
    o.workers = 1;
    o.method = 99;
    ck_einval(weft_procpool_new(&p, &o), "method 99");
    o.method = -1;
    ck_einval(weft_procpool_new(&p, &o), "method -1");
    o.method = 0;
    o.window = -1;
    ck_einval(weft_procpool_new(&p, &o), "window is -1");
    o.window = WEFT_PROCPOOL_WINDOW_MAX + 1;
    ck_einval(weft_procpool_new(&p, &o), "window is");
    o.window = 0;
    o.name = "a worker name of more than thirty-one bytes";
    ck_einval(weft_procpool_new(&p, &o), "name is");
    o.name = NULL;
    o.restart_period = -1;
    ck_einval(weft_procpool_new(&p, &o), "restart_period");
    o.restart_period = 0;
    o.kill_grace = -1;
    ck_einval(weft_procpool_new(&p, &o), "kill_grace");
    ck_assert_ptr_null(p);
    o.kill_grace = 0;
    ck_assert_weft(weft_procpool_new(&p, &o), 0);
    weft_future *f = NULL;
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    char item = 1, res[4];
    struct weft_procpool_stats st;
    ck_einval(weft_procpool_submit(NULL, &f, child, NULL, 0, NULL), "p is NULL");
    ck_einval(weft_procpool_submit(p, &f, NULL, NULL, 0, NULL), "fn is NULL");
    ck_einval(weft_procpool_submit(p, &f, child, NULL, 1, NULL), "arg is NULL");
    ck_einval(weft_procpool_submit(p, &f, child, &item, (size_t)WEFT_PROCESS_ARG_MAX + 1, NULL),
              "the limit is");
    to.timeout = -1;
    ck_einval(weft_procpool_submit(p, &f, child, NULL, 0, &to), "timeout is negative");
    to.timeout = 0;
    to.retries = -1;
    ck_einval(weft_procpool_submit(p, &f, child, NULL, 0, &to), "retries is negative");
    ck_assert_ptr_null(f);
    ck_einval(weft_procpool_map(NULL, child, &item, 1, 1, res, 1, NULL, 0), "p is NULL");
    ck_einval(weft_procpool_map(p, NULL, &item, 1, 1, res, 1, NULL, 0), "fn is NULL");
    ck_einval(weft_procpool_map(p, child, &item, 1, 1, res, 1, NULL, -1), "timeout is negative");
    ck_einval(weft_procpool_map(p, child, NULL, 1, 1, res, 1, NULL, 0), "items or results");
    ck_einval(weft_procpool_map(p, child, &item, 1, 1, NULL, 1, NULL, 0), "items or results");
    ck_einval(weft_procpool_wait_idle(NULL, 0), "p is NULL");
    ck_einval(weft_procpool_wait_idle(p, -1), "timeout is negative");
    ck_einval(weft_procpool_stats(NULL, &st), "p is NULL");
    ck_einval(weft_procpool_stats(p, NULL), "out is NULL");
    ck_einval(weft_procpool_worker_pid(NULL, 1), "p is NULL");
    ck_einval(weft_procpool_worker_pid(p, 0), "k is 0");
    ck_einval(weft_procpool_worker_pid(p, 2), "k is 2");
    ck_einval(weft_procpool_shutdown(NULL, 1, 0, 0), "p is NULL");
    ck_einval(weft_procpool_shutdown(p, 1, 0, -1), "kill_after is negative");
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.submitted, 0); /* none of the refused calls queued a task */
    ck_assert_weft(weft_procpool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(sync_limits_and_zeroed_objects)
{
    weft_cond c;
    weft_rlock rl;
    weft_barrier b = {0};
    weft_sem s;
    weft_latch l;
    ck_einval(weft_cond_init(NULL, NULL), "c is NULL");
    ck_einval(weft_cond_init_rlock(NULL, NULL), "c is NULL");
    ck_assert_weft(weft_rlock_init(&rl), 0);
    ck_assert_weft(weft_cond_init_rlock(&c, &rl), 0);
    ck_assert_weft(weft_cond_acquire(&c, 0), 0);
    ck_assert_int_eq(weft_rlock_is_owned(&rl), 1); /* bound to rl */
    ck_assert_weft(weft_cond_notify(&c, 1), 0);
    ck_assert_weft(weft_cond_release(&c), 0);
    ck_assert_weft(weft_cond_init_rlock(&c, NULL), 0); /* NULL: an RLock of its own */
    ck_assert_weft(weft_cond_acquire(&c, 0), 0);
    ck_assert_weft(weft_cond_acquire(&c, 0), 0);        /* reentrant */
    ck_assert_weft(weft_cond_wait(&c, 0), WEFT_EAGAIN); /* timeout 0: a try */
    ck_assert_weft(weft_cond_release(&c), 0);
    ck_assert_weft(weft_cond_release(&c), 0);
    /* an all-zero barrier has 0 parties: its wait is WEFT_EINVAL (sync.h) */
    ck_einval(weft_barrier_wait(&b, 0), "not initialised");
    ck_einval(weft_barrier_init(&b, (uint32_t)INT32_MAX + 1, NULL, NULL), "parties is");
    /* a bounded semaphore never exceeds its initial value; a latch never goes below 0 */
    ck_assert_weft(weft_sem_init_bounded(&s, 1), 0);
    ck_assert_weft(weft_sem_release(&s, 1), WEFT_EOVERFLOW);
    ck_assert_weft(weft_sem_acquire(&s, 0), 0);
    ck_assert_weft(weft_sem_release(&s, 2), WEFT_EOVERFLOW);
    ck_assert_uint_eq(weft_sem_value(&s), 0); /* nothing changed */
    ck_assert_weft(weft_sem_release(&s, 1), 0);
    ck_assert_weft(weft_sem_init(&s, UINT32_MAX - 1), 0);
    ck_assert_weft(weft_sem_release(&s, 2), WEFT_EOVERFLOW);
    ck_assert_weft(weft_latch_init(&l, 2), 0);
    ck_assert_weft(weft_latch_count_down(&l, 3), WEFT_EOVERFLOW);
    ck_assert_uint_eq(weft_latch_count(&l), 2);
    ck_assert_weft(weft_latch_count_down(&l, 0), 0);
    ck_assert_weft(weft_latch_count_down(&l, 2), 0);
    ck_assert_weft(weft_latch_wait(&l, 0), 0);
}
END_TEST

START_TEST(signals_refuse_what_weft_cannot_catch)
{
    weft_queue *q, *bounded;
    weft_queue_opts bo = WEFT_QUEUE_OPTS_INIT;
    bo.capacity = 8;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    ck_assert_weft(weft_queue_new(&bounded, &bo), 0);
    const int bad[] = {0, -1, NSIG, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int list[2] = {SIGUSR1, bad[i]};
        weft_signals_opts o = WEFT_SIGNALS_OPTS_INIT;
        o.signals = list;
        o.count = 2;
        ck_einval(weft_signals_catch(&o), "signals[1]");
        ck_einval(weft_signals_notify(q, list, 2), "signals[1]");
    }
    int usr1 = SIGUSR1;
    weft_signals_opts o = WEFT_SIGNALS_OPTS_INIT;
    o.signals = &usr1;
    o.count = 0;
    ck_einval(weft_signals_catch(&o), "count is 0");
    ck_einval(weft_signals_notify(NULL, &usr1, 1), "q is NULL");
    ck_einval(weft_signals_notify(q, NULL, 1), "signals");
    ck_einval(weft_signals_notify(q, &usr1, 0), "count");
    ck_einval(weft_signals_notify(bounded, &usr1, 1), "q is bounded");
    ck_einval(weft_signals_stop(NULL), "q is NULL");
    ck_assert_weft(weft_signals_stop(q), 0); /* never registered: nothing to do */
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(bounded), 0);
}
END_TEST

WEFT_TEST_SUITE("args", 10, queue_new_names_the_bad_option, queue_calls_name_each_bad_argument,
                select_names_the_bad_case, sync_calls_name_each_bad_argument,
                cond_and_barrier_name_each_bad_argument, future_calls_name_each_bad_argument,
                pool_and_wait_name_each_bad_argument, group_names_each_bad_argument,
                ipcq_names_each_bad_argument, procpool_names_each_bad_argument,
                sync_limits_and_zeroed_objects, signals_refuse_what_weft_cannot_catch)
