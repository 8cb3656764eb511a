/* tests/unit/zeroed_opts_test.c - every options struct in include/weft/, zeroed ({0}, calloc),
 * behaves as its WEFT_*_OPTS_INIT and as passing NULL (the DESIGN rule). One test per struct;
 * weft_signals_opts is tested in signal_test.c (it needs a child process and real signals). */
#include <stdatomic.h>
#include <string.h>

#include "test.h"

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int task_ok(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* A zeroed weft_scope_opts made a scope whose deadline had already passed. */
START_TEST(zeroed_scope_opts_is_a_scope_without_deadline)
{
    weft_scope_opts z;
    memset(&z, 0, sizeof z);
    weft_scope_opts init = WEFT_SCOPE_OPTS_INIT;
    weft_scope *s[3];
    ck_assert_weft(weft_scope_new(&s[0], NULL, &z), 0);
    ck_assert_weft(weft_scope_new(&s[1], NULL, &init), 0);
    ck_assert_weft(weft_scope_new(&s[2], NULL, NULL), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(weft_scope_cancelled(s[i]), 0);
        ck_assert_weft(weft_scope_enter(s[i]), 0);
        ck_assert_weft(weft_checkpoint(), 0);
        ck_assert_weft(weft_sleep(WEFT_MS(1)), 0); /* blocking calls work inside it */
        ck_assert_weft(weft_scope_exit(), 0);
        weft_scope_free(s[i]);
    }
}
END_TEST

START_TEST(zeroed_thread_opts_is_the_default_thread)
{
    weft_thread_opts z;
    memset(&z, 0, sizeof z);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, nothing, NULL, &z), 0);
    char name[WEFT_THREAD_NAME_MAX];
    ck_assert_weft(weft_thread_name(t, name, sizeof name), 0);
    ck_assert_int_eq(strncmp(name, "thread-", 7), 0);
    ck_assert_int_eq(weft_thread_is_daemon(t), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
}
END_TEST

START_TEST(zeroed_queue_opts_is_an_unbounded_fifo)
{
    weft_queue_opts z;
    memset(&z, 0, sizeof z);
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, &z), 0);
    static int items[3];
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_put(q, &items[i], 0), 0);
    ck_assert_int_eq(weft_queue_full(q), 0);
    for (int i = 0; i < 3; i++) {
        void *x;
        ck_assert_weft(weft_queue_get(q, &x, 0), 0);
        ck_assert_ptr_eq(x, &items[i]);
    }
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(zeroed_pool_opts_is_the_default_pool)
{
    weft_pool_opts z;
    memset(&z, 0, sizeof z);
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, &z), 0);
    weft_future *f;
    static int arg;
    void *res = NULL;
    ck_assert_weft(weft_pool_submit(p, task_ok, &arg, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, &res, WEFT_SEC(20)), 0);
    ck_assert_ptr_eq(res, &arg);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

START_TEST(zeroed_group_opts_is_the_default_group)
{
    weft_group_opts z;
    memset(&z, 0, sizeof z);
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, &z), 0);
    ck_assert_weft(weft_group_spawn(g, nothing, NULL, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(20)), 0);
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

static void count(void *arg)
{
    _Atomic int *n = arg;
    atomic_fetch_add(n, 1);
}

START_TEST(zeroed_timer_opts_is_a_one_shot_timer)
{
    weft_timer_opts z;
    memset(&z, 0, sizeof z);
    _Atomic int n = 0;
    weft_timer *t;
    ck_assert_weft(weft_timer_start(&t, 0, count, &n, &z), 0);
    ck_assert_weft(weft_timer_wait(t, WEFT_SEC(20)), 0); /* a periodic one would never finish */
    ck_assert_int_eq(weft_timer_fired(t), 1);
    ck_assert_int_eq(atomic_load(&n), 1);
    weft_timer_free(t);
}
END_TEST

WEFT_TEST_SUITE("zeroed_opts", 30, zeroed_scope_opts_is_a_scope_without_deadline,
                zeroed_thread_opts_is_the_default_thread, zeroed_queue_opts_is_an_unbounded_fifo,
                zeroed_pool_opts_is_the_default_pool, zeroed_group_opts_is_the_default_group,
                zeroed_timer_opts_is_a_one_shot_timer)
