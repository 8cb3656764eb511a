/* tests/stress/pool_stress.c - randomized loops over the pool: a million tasks (external and
 * nested) none lost or run twice, cancel racing completion, shutdown racing submit, nested
 * fork-join with waits. Sized by weft_test_scale (WEFT_STRESS; sanitizer runs are 10x smaller). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "figures.h"
#include "tasks.h"
#include "test.h"

static struct {
    weft_pool *pool;
    atomic_uchar *runs;
    int64_t n, ext;
} big;

static int leaf_task(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add_explicit(&big.runs[(intptr_t)arg], 1, memory_order_relaxed);
    return 0;
}

static int parent_task(void *arg, void **result)
{
    intptr_t k = (intptr_t)arg;
    leaf_task(arg, result);
    for (intptr_t c = big.ext + 2 * k; c < big.ext + 2 * k + 2 && c < big.n; c++)
        if (weft_pool_submit(big.pool, leaf_task, (void *)c, NULL, WEFT_FOREVER) != 0) return -1;
    return 0;
}

START_TEST(a_million_tasks_none_lost_or_run_twice)
{
    big.n = weft_test_scale(1000000);
    big.ext = (big.n + 2) / 3;
    big.runs = calloc((size_t)big.n, 1);
    big.pool = weft_test_pool(4);
    for (intptr_t k = 0; k < big.ext; k++)
        ck_assert_weft(weft_pool_submit(big.pool, parent_task, (void *)k, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_wait_idle(big.pool, WEFT_SEC(120)), 0);
    for (int64_t i = 0; i < big.n; i++) ck_assert_int_eq(atomic_load(&big.runs[i]), 1);
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(big.pool, &st), 0);
    ck_assert_uint_eq(st.submitted, (uint64_t)big.n);
    ck_assert_uint_eq(st.completed, (uint64_t)big.n);
    weft_test_figure("pool_tasks_run_once", (unsigned long long)big.n);
    weft_pool_free(big.pool);
    free(big.runs);
}
END_TEST

static int set_flag(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

START_TEST(cancel_racing_completion_is_one_or_the_other)
{
    long n = weft_test_scale(20000);
    unsigned long long cancelled = 0;
    weft_pool *p = weft_test_pool(2);
    for (long i = 0; i < n; i++) {
        if (i == n / 2) { /* second half: tasks in scopes of their own */
            weft_pool_free(p);
            weft_pool_opts o = WEFT_POOL_OPTS_INIT;
            o.max_workers = 2;
            o.task_scopes = 1;
            ck_assert_weft(weft_pool_new(&p, &o), 0);
        }
        atomic_int flag = 0;
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, set_flag, &flag, &f, WEFT_FOREVER), 0);
        if (i & 1) weft_sleep(0);
        int c = weft_future_cancel(f);
        int rc = weft_future_result(f, NULL, WEFT_SEC(10));
        if (c == 0) {
            ck_assert_weft(rc, WEFT_ECANCELED);
            ck_assert_int_eq(weft_future_cancelled(f), 1);
        } else {
            ck_assert_weft(rc, 0);
        }
        weft_future_unref(f);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
        ck_assert_int_eq(atomic_load(&flag), c == 0 ? 0 : 1);
        cancelled += c == 0;
    }
    weft_test_figure("pool_cancel_races_checked", (unsigned long long)n);
    weft_test_figure("pool_cancels_won", cancelled);
    weft_pool_free(p);
}
END_TEST

struct racer {
    weft_pool *pool;
    atomic_long accepted, ran;
};

static int count_ran(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add(&((struct racer *)arg)->ran, 1);
    return 0;
}

static int submitter(void *arg)
{
    struct racer *r = arg;
    for (;;) {
        int rc = weft_pool_submit(r->pool, count_ran, r, NULL, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0) return rc;
        atomic_fetch_add(&r->accepted, 1);
    }
}

START_TEST(shutdown_racing_submit_loses_no_accepted_task)
{
    long rounds = weft_test_scale(200);
    for (long i = 0; i < rounds; i++) {
        struct racer r = {.pool = weft_test_pool(2)};
        weft_thread t[2];
        for (int k = 0; k < 2; k++)
            ck_assert_weft(weft_thread_start(&t[k], submitter, &r, NULL), 0);
        weft_sleep(WEFT_US(200));
        ck_assert_weft(weft_pool_shutdown(r.pool, 1, 0, WEFT_SEC(30)), 0);
        for (int k = 0; k < 2; k++) {
            int st = -1;
            ck_assert_weft(weft_thread_join(t[k], &st, WEFT_SEC(10)), 0);
            ck_assert_weft(st, 0);
        }
        ck_assert_int_eq(atomic_load(&r.accepted), atomic_load(&r.ran));
        weft_pool_free(r.pool);
    }
}
END_TEST

struct fib {
    weft_pool *pool;
    int n;
    long result;
};

static int fib_task(void *arg, void **result)
{
    (void)result;
    struct fib *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return 0;
    }
    struct fib a = {f->pool, f->n - 1, 0}, b = {f->pool, f->n - 2, 0};
    weft_future *fa;
    int rc = weft_pool_submit(f->pool, fib_task, &a, &fa, WEFT_FOREVER);
    if (rc) return rc;
    fib_task(&b, NULL);
    rc = weft_future_wait(fa, WEFT_FOREVER);
    weft_future_unref(fa);
    f->result = a.result + b.result;
    return rc;
}

START_TEST(nested_fork_join_with_waits)
{
    int n = weft_test_sanitized() ? 16 : 22;
    long want[] = {0,   1,   1,   2,   3,   5,    8,    13,   21,   34,    55,   89,
                   144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946, 17711};
    for (int workers = 1; workers <= 3; workers++) {
        weft_pool *p = weft_test_pool(workers);
        struct fib f = {p, n, 0};
        weft_future *root;
        ck_assert_weft(weft_pool_submit(p, fib_task, &f, &root, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_result(root, NULL, WEFT_SEC(60)), 0);
        ck_assert_int_eq(f.result, want[n]);
        weft_future_unref(root);
        weft_pool_free(p);
    }
}
END_TEST

static void on_done(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(callbacks_and_as_completed_race_completion)
{
    weft_pool *p = weft_test_pool(3);
    long rounds = weft_test_scale(2000);
    enum { K = 8 };
    for (long r = 0; r < rounds; r++) {
        atomic_int flags[K] = {0}, calls = 0;
        weft_future *fs[K];
        for (int i = 0; i < K; i++)
            ck_assert_weft(weft_pool_submit(p, set_flag, &flags[i], &fs[i], WEFT_FOREVER), 0);
        weft_as_completed *it;
        ck_assert_weft(weft_as_completed_new(&it, fs, K), 0);
        for (int i = 0; i < K; i++) {
            ck_assert_weft(weft_future_add_done_callback(fs[i], on_done, &calls), 0);
            if (i % 3 == 0) weft_future_cancel(fs[i]);
        }
        int seen = 0;
        weft_future *f;
        if (r & 1) {
            while (weft_as_completed_next(it, &f, WEFT_SEC(10)) == 0) seen++;
            ck_assert_int_eq(seen, K);
        }
        weft_as_completed_free(it); /* also while futures are still completing */
        ck_assert_weft(weft_wait(fs, K, WEFT_ALL_COMPLETED, NULL, WEFT_SEC(10)), 0);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
        ck_assert_int_eq(atomic_load(&calls), K);
        for (int i = 0; i < K; i++) {
            ck_assert_int_eq(atomic_load(&flags[i]), weft_future_cancelled(fs[i]) ? 0 : 1);
            weft_future_unref(fs[i]);
        }
    }
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE("pool_stress", 120, a_million_tasks_none_lost_or_run_twice,
                callbacks_and_as_completed_race_completion,
                cancel_racing_completion_is_one_or_the_other,
                shutdown_racing_submit_loses_no_accepted_task, nested_fork_join_with_waits)
