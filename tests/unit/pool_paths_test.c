/* tests/unit/pool_paths_test.c - pool paths the main pool tests pass by: an initializer that
 * fails without a message (the broken pool's reason falls back to the code's text, or to the
 * number when it is no weft code), a queued task of a paused pool run by the thread that waits
 * for it, and a task's own cancel scope (opts.task_scopes). */
#include <pthread.h>
#include <string.h>
#include <weft.h>

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
    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.init = fail_init;
    o.init_arg = &code;
    o.outsiders_only_wait = 1; /* the waiter must not run the task itself */
    o.name_prefix = "brk";
    ck_assert_weft(weft_pool_new(&p, &o), 0);
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
    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
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
    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 2;
    o.task_scopes = 1;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
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

WEFT_TEST_SUITE("pool_paths", 60, broken_pool_reason_without_a_message,
                waiter_runs_the_queued_task_of_a_paused_pool,
                task_scope_is_cancelled_with_its_future)
