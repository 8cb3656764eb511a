/* tests/unit/pool_paths_test.c - pool paths the main pool tests pass by: an initializer that
 * fails without a message (the broken pool's reason falls back to the code's text, or to the
 * number when it is no weft code), a queued task of a paused pool run by the thread that waits
 * for it, and a task's own cancel scope (opts.task_scopes). */
#include <pthread.h>
#include <string.h>
#include <weft.h>

#include "tasks.h"
#include "test.h"

static int fail_init(void *arg)
{
    weft_error_clear(); /* no message: the pool must say what the code means */
    return *(int *)arg;
}

static int task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* A pool whose initializer returns code; the reason a task's future gives must contain want. */
static void check_broken_reason(int code, const char *want)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){
        .max_workers = 1, .init = fail_init, .init_arg = &code, .name_prefix = "brk"});
    weft_future *f = NULL;
    int rc = weft_pool_submit(p, task, NULL, &f, WEFT_FOREVER);
    if (rc == 0) { /* else the worker broke the pool first: submit says so itself */
        weft_error_clear();
        ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EBROKEN);
        const char *m = weft_error_message();
        ck_assert_msg(strstr(m, "the initializer of worker brk-1 failed") != NULL, "%s", m);
        ck_assert_msg(strstr(m, want) != NULL, "\"%s\" lacks \"%s\"", m, want);
        ck_assert_int_eq(weft_future_cancelled(f), 0); /* failed, not cancelled */
        weft_future_unref(f);
    } else {
        ck_assert_weft(rc, WEFT_EBROKEN);
    }
    ck_assert_weft(weft_pool_submit(p, task, NULL, NULL, WEFT_FOREVER), WEFT_EBROKEN);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}

START_TEST(broken_pool_reason_without_a_message)
{
    check_broken_reason(WEFT_ENOMEM, weft_strerror(WEFT_ENOMEM));
    check_broken_reason(4242, "it returned 4242");
}
END_TEST

static int on_caller(void *arg, void **result)
{
    *result = (void *)(uintptr_t)(pthread_equal(pthread_self(), *(pthread_t *)arg) != 0);
    return 0;
}

START_TEST(waiter_runs_the_queued_task_of_a_paused_pool)
{
    /* waiters_help: pool.h says only then does a waiter run its task */
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .waiters_help = 1});
    ck_assert_weft(weft_pool_pause(p), 0);
    pthread_t me = pthread_self();
    for (int i = 0; i < 20; i++) {
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, on_caller, &me, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_wait(f, 0), WEFT_EAGAIN); /* paused: it waits */
        void *r = NULL;
        ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0); /* pool.h: runs it here */
        ck_assert_ptr_eq(r, (void *)1);
        weft_future_unref(f);
    }
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

struct scoped {
    weft_event started;
    weft_scope *seen;
};

static int wait_cancelled(void *arg, void **result)
{
    struct scoped *s = arg;
    s->seen = weft_scope_current();
    *result = NULL;
    weft_event never;
    weft_event_init(&never);
    weft_event_set(&s->started);
    return weft_event_wait(&never, WEFT_FOREVER); /* only a cancel ends it */
}

START_TEST(task_scope_is_cancelled_with_its_future)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 2, .task_scopes = 1});
    for (int i = 0; i < 5; i++) {
        struct scoped s = {.seen = NULL};
        ck_assert_weft(weft_event_init(&s.started), 0);
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, wait_cancelled, &s, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_event_wait(&s.started, WEFT_SEC(60)), 0);
        ck_assert_ptr_nonnull(s.seen);
        ck_assert_ptr_ne(s.seen, weft_scope_current());    /* its own scope, not the caller's */
        ck_assert_weft(weft_future_cancel(f), WEFT_EBUSY); /* running: cancels its scope */
        ck_assert_weft(weft_future_wait(f, WEFT_SEC(60)), 0);
        ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_ECANCELED);
        weft_future_unref(f);
    }
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

/* A 64-word accumulator (512 bytes: more than a participant keeps on its stack). */
struct big {
    int64_t w[64];
};

static void add_range(int64_t lo, int64_t hi, void *acc, void *arg)
{
    (void)arg;
    struct big *b = acc;
    for (int64_t i = lo; i < hi; i++) b->w[i % 64] += i;
}

static void add_big(void *acc, const void *other, void *arg)
{
    (void)arg;
    struct big *a = acc;
    const struct big *o = other;
    for (int k = 0; k < 64; k++) a->w[k] += o->w[k];
}

static void nothing(int64_t lo, int64_t hi, void *arg)
{
    (void)lo;
    (void)hi;
    (void)arg;
}

START_TEST(reduce_with_a_large_accumulator)
{
    weft_pool *p = weft_test_pool(2);
    struct big id = {{0}}, r, want = {{0}};
    for (int64_t i = 0; i < 100000; i++) want.w[i % 64] += i;
    for (int round = 0; round < 5; round++) {
        memset(&r, 0xff, sizeof r);
        ck_assert_weft(
            weft_parallel_reduce(p, 0, 100000, 64, add_range, add_big, sizeof r, &id, &r, NULL), 0);
        ck_assert_int_eq(memcmp(&r, &want, sizeof r), 0);
    }
    ck_einval(weft_parallel_reduce(p, 0, 1, 0, NULL, add_big, sizeof r, &id, &r, NULL),
              "body is NULL");
    ck_einval(weft_parallel_reduce(p, 0, 1, 0, add_range, NULL, sizeof r, &id, &r, NULL),
              "combine is NULL");
    ck_einval(weft_parallel_reduce(p, 0, 1, 0, add_range, add_big, sizeof r, NULL, &r, NULL),
              "identity is NULL");
    ck_einval(weft_parallel_reduce(p, 0, 1, 0, add_range, add_big, sizeof r, &id, NULL, NULL),
              "result is NULL");
    ck_einval(weft_parallel_reduce(p, 0, 1, 0, add_range, add_big, 0, &id, &r, NULL),
              "acc_size is 0");
    ck_einval(weft_parallel_reduce(p, 1, 0, 0, add_range, add_big, sizeof r, &id, &r, NULL),
              "end is below begin");
    ck_einval(weft_parallel_reduce(p, 0, 1, -1, add_range, add_big, sizeof r, &id, &r, NULL),
              "grain is negative");
    ck_einval(weft_parallel_for(p, 0, 1, 0, NULL, NULL), "body is NULL");
    ck_einval(weft_parallel_for(p, 1, 0, 0, nothing, NULL), "end is below begin");
    ck_einval(weft_parallel_for(p, 0, 1, -1, nothing, NULL), "grain is negative");
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_parallel_for(p, 0, 100, 1, nothing, NULL), WEFT_ECLOSED);
    ck_assert_weft(weft_parallel_reduce(p, 0, 100, 1, add_range, add_big, sizeof r, &id, &r, NULL),
                   WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

static int fail_at_7(void *arg, void **result)
{
    *result = arg;
    weft_error_clear(); /* no message: map gives the code's text */
    return arg == NULL ? 0 : (int)(intptr_t)arg;
}

START_TEST(map_arguments_and_failures)
{
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    void *args[16], *res[16];
    for (int i = 0; i < 16; i++) args[i] = NULL;
    args[7] = (void *)(intptr_t)WEFT_ENOMEM;
    args[12] = (void *)(intptr_t)WEFT_ETIMEDOUT;
    ck_einval(weft_pool_map(NULL, fail_at_7, args, res, 16, 1, 0), "p is NULL");
    ck_einval(weft_pool_map(p, NULL, args, res, 16, 1, 0), "fn is NULL");
    ck_einval(weft_pool_map(p, fail_at_7, args, res, 16, 1, -1), "timeout is negative");
    /* the lowest failing index wins, whatever order the chunks ran in */
    weft_error_clear();
    ck_assert_weft(weft_pool_map(p, fail_at_7, args, res, 16, 1, WEFT_FOREVER), WEFT_ENOMEM);
    /* args NULL: every task gets NULL and succeeds; results NULL is allowed */
    for (int i = 0; i < 16; i++) res[i] = &res;
    ck_assert_weft(weft_pool_map(p, fail_at_7, NULL, res, 16, 0, WEFT_FOREVER), 0);
    for (int i = 0; i < 16; i++) ck_assert_ptr_null(res[i]);
    ck_assert_weft(weft_pool_map(p, fail_at_7, NULL, NULL, 16, 3, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_map(p, fail_at_7, NULL, NULL, 16, 3, WEFT_FOREVER), WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

static int double_it(void *arg, void **result)
{
    *result = (void *)(2 * (intptr_t)arg);
    return 0;
}

/* An input of three items, then a failure (WEFT_ENOMEM). */
static int three_then_fail(void *ctx, void **arg)
{
    int *k = ctx;
    if (*k == 3) return WEFT_ENOMEM;
    *arg = (void *)(intptr_t)++ * k;
    return 1;
}

START_TEST(imap_arguments_and_a_failing_input)
{
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_imap *it = NULL;
    void *args[2] = {NULL, NULL};
    int k = 0;
    weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
    ck_einval(weft_pool_imap(NULL, p, double_it, args, 2, NULL, 0), "out is NULL");
    ck_einval(weft_pool_imap(&it, NULL, double_it, args, 2, NULL, 0), "p is NULL");
    ck_einval(weft_pool_imap(&it, p, NULL, args, 2, NULL, 0), "fn is NULL");
    ck_einval(weft_pool_imap(&it, p, double_it, args, 2, NULL, -1), "timeout is negative");
    o.input = three_then_fail;
    o.input_ctx = &k;
    o.buffersize = 2;
    ck_einval(weft_pool_imap(&it, p, double_it, args, 0, &o, WEFT_FOREVER), "args must be NULL");
    ck_einval(weft_pool_imap(&it, p, double_it, NULL, 2, &o, WEFT_FOREVER), "args must be NULL");
    o.buffersize = 0;
    ck_einval(weft_pool_imap(&it, p, double_it, NULL, 0, &o, WEFT_FOREVER), "needs a buffersize");
    o.buffersize = SIZE_MAX;
    ck_einval(weft_pool_imap(&it, p, double_it, NULL, 0, &o, WEFT_FOREVER), "needs a buffersize");
    ck_assert_ptr_null(it);
    ck_assert_int_eq(k, 0); /* the refused calls never read the input */
    o.buffersize = 2;
    ck_assert_weft(weft_pool_imap(&it, p, double_it, NULL, 0, &o, WEFT_FOREVER), 0);
    void *r;
    ck_einval(weft_imap_next(NULL, &r, 0), "it is NULL");
    ck_einval(weft_imap_next(it, &r, -1), "timeout is negative");
    for (intptr_t i = 1; i <= 3; i++) { /* the three items, in order */
        ck_assert_weft(weft_imap_next(it, &r, WEFT_FOREVER), 0);
        ck_assert_ptr_eq(r, (void *)(2 * i));
    }
    weft_error_clear();
    ck_assert_weft(weft_imap_next(it, &r, WEFT_FOREVER), WEFT_ENOMEM); /* the input's failure */
    ck_assert_msg(strstr(weft_error_message(), "the input failed") != NULL, "%s",
                  weft_error_message());
    ck_assert_weft(weft_imap_next(it, &r, WEFT_FOREVER), WEFT_ECLOSED); /* ended */
    weft_imap_free(it);
    weft_imap_free(NULL);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

/* From inside a task of its own pool, waiting for the pool to be idle or to end could never
 * return (pool.h): both are WEFT_EDEADLK. */
static int waits_on_own_pool(void *arg, void **result)
{
    weft_pool *p = arg;
    int a = weft_pool_wait_idle(p, WEFT_FOREVER), b = weft_pool_shutdown(p, 1, 0, WEFT_FOREVER);
    *result = (void *)(intptr_t)(a == WEFT_EDEADLK && b == WEFT_EDEADLK);
    return 0;
}

START_TEST(control_calls_refuse_what_could_never_return)
{
    weft_pool *p = weft_test_pool(1);
    struct weft_pool_stats st;
    ck_einval(weft_pool_wait_idle(NULL, 0), "p is NULL");
    ck_einval(weft_pool_wait_idle(p, -1), "timeout is negative");
    ck_einval(weft_pool_stats(NULL, &st), "p is NULL");
    ck_einval(weft_pool_stats(p, NULL), "out is NULL");
    ck_einval(weft_pool_pause(NULL), "p is NULL");
    ck_einval(weft_pool_resume(NULL), "p is NULL");
    ck_einval(weft_pool_shutdown(NULL, 1, 0, 0), "p is NULL");
    ck_assert_weft(weft_pool_wait_idle(p, 0), 0); /* nothing submitted: idle */
    ck_assert_weft(weft_pool_pause(p), 0);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, waits_on_own_pool, p, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_wait_idle(p, 0), WEFT_EAGAIN); /* one queued */
    ck_assert_weft(weft_pool_resume(p), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, (void *)1);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_stats(p, &st), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE("pool_paths", 60, broken_pool_reason_without_a_message,
                waiter_runs_the_queued_task_of_a_paused_pool,
                task_scope_is_cancelled_with_its_future, reduce_with_a_large_accumulator,
                map_arguments_and_failures, imap_arguments_and_a_failing_input,
                control_calls_refuse_what_could_never_return)
