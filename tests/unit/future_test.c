/* tests/unit/future_test.c - futures: results and errors, cancel, callbacks, wait modes,
 * as_completed, unseen failures (modelled on CPython's test_concurrent_futures). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tasks.h"
#include "test.h"

static int fail_einval(void *arg, void **result)
{
    (void)result;
    return weft_error_set(WEFT_EINVAL, "bad item %d", *(int *)arg);
}

static int fail_positive(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 42;
}

START_TEST(result_returns_value_and_status)
{
    weft_pool *p = weft_test_pool(1);
    int x = 7;
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_give, &x, &f, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(10)), 0);
    ck_assert_ptr_eq(r, &x);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    ck_assert_int_eq(weft_future_running(f), 0);
    ck_assert_weft(weft_future_cancel(f), WEFT_ESTATE);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

START_TEST(failure_status_and_message_travel_to_result)
{
    weft_pool *p = weft_test_pool(1);
    int x = 3;
    weft_future *f, *g;
    ck_assert_weft(weft_pool_submit(p, fail_einval, &x, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, fail_positive, NULL, &g, WEFT_FOREVER), 0);
    weft_error_clear();
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_EINVAL);
    ck_assert_weft(weft_error_code(), WEFT_EINVAL);
    ck_assert_str_eq(weft_error_message(), "bad item 3");
    ck_assert_int_eq(weft_future_result(g, NULL, WEFT_SEC(10)), 42);
    ck_assert_str_eq(weft_error_message(), "task returned 42");
    weft_future_unref(f);
    weft_future_unref(g);
    weft_pool_free(p);
}
END_TEST

START_TEST(cancel_before_run_never_runs)
{
    weft_pool *p = weft_test_pool(1);
    weft_event gate;
    weft_event_init(&gate);
    weft_future *blocker, *f;
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &blocker, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_cancel(f), 0);
    ck_assert_weft(weft_future_cancel(f), 0); /* again: still cancelled */
    ck_assert_int_eq(weft_future_cancelled(f), 1);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_ECANCELED);
    weft_event_set(&gate);
    ck_assert_weft(weft_future_result(blocker, NULL, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    weft_future_unref(f);
    weft_future_unref(blocker);
    weft_pool_free(p);
}
END_TEST

static int sleep_short(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return weft_sleep(WEFT_MS(1));
}

START_TEST(cancel_running_task_cancels_its_scope_only)
{
    weft_pool *p = weft_test_pool(1);
    weft_event started;
    weft_event_init(&started);
    weft_future *f, *g;
    ck_assert_weft(weft_pool_submit(p, weft_test_set_event_and_sleep, &started, &f, WEFT_FOREVER),
                   0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(10)), 0);
    ck_assert_int_eq(weft_future_running(f), 1);
    ck_assert_weft(weft_future_cancel(f), WEFT_EBUSY);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_int_eq(weft_future_cancelled(f), 0); /* it ran and returned ECANCELED */
    /* The worker goes on, and its next task is not cancelled. */
    ck_assert_weft(weft_pool_submit(p, sleep_short, NULL, &g, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(g, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_future_unref(g);
    weft_pool_free(p);
}
END_TEST

static int sleep_in_thread(void *arg)
{
    weft_event_set(arg);
    return weft_sleep(WEFT_SEC(60));
}

/* Starts a thread (inside the task's scope) and joins it. */
static int start_and_join(void *arg, void **result)
{
    (void)result;
    weft_thread t;
    int rc = weft_thread_start(&t, sleep_in_thread, arg, NULL);
    if (rc) return rc;
    int st = 0;
    weft_shield_begin(); /* the join must not end before the thread does */
    rc = weft_thread_join(t, &st, WEFT_SEC(30));
    weft_shield_end();
    return rc ? rc : st;
}

static int cancel_own_scope(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_scope_cancel(weft_scope_current(), WEFT_ECANCELED, "by itself");
    return weft_checkpoint();
}

START_TEST(task_scopes_reach_threads_started_by_the_task)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .task_scopes = 1});
    weft_event started;
    weft_event_init(&started);
    weft_future *f, *g, *h;
    ck_assert_weft(weft_pool_submit(p, start_and_join, &started, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_future_cancel(f), WEFT_EBUSY);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_ECANCELED);
    /* A task that cancels its own scope does not cancel the worker. */
    ck_assert_weft(weft_pool_submit(p, cancel_own_scope, NULL, &g, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(g, NULL, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_weft(weft_pool_submit(p, sleep_short, NULL, &h, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(h, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_future_unref(g);
    weft_future_unref(h);
    weft_pool_free(p);
}
END_TEST

static void cb_count(weft_future *f, void *arg)
{
    ck_assert_int_eq(weft_future_done(f), 1);
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(callbacks_run_once_also_when_added_after_completion)
{
    weft_pool *p = weft_test_pool(1);
    weft_event gate;
    weft_event_init(&gate);
    atomic_int calls = 0;
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_add_done_callback(f, cb_count, &calls), 0);
    ck_assert_weft(weft_future_add_done_callback(f, cb_count, &calls), 0);
    ck_assert_int_eq(atomic_load(&calls), 0);
    weft_event_set(&gate);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&calls), 2);
    ck_assert_weft(weft_future_add_done_callback(f, cb_count, &calls), 0); /* runs now */
    ck_assert_int_eq(atomic_load(&calls), 3);
    /* A cancelled future runs its callbacks in cancel. */
    weft_event_clear(&gate);
    weft_future *b, *c;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &b, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &c, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_add_done_callback(c, cb_count, &calls), 0);
    ck_assert_weft(weft_future_cancel(c), 0);
    ck_assert_int_eq(atomic_load(&calls), 4);
    weft_event_set(&gate);
    weft_future_unref(b);
    weft_future_unref(c);
    weft_future_unref(f);
    weft_pool_free(p);
    ck_assert_int_eq(atomic_load(&calls), 4);
}
END_TEST

START_TEST(wait_first_completed_all_completed_first_exception)
{
    weft_pool *p = weft_test_pool(3);
    weft_event gate;
    weft_event_init(&gate);
    int x = 1;
    weft_future *fs[3];
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &fs[0], WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_give, &x, &fs[1], WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &fs[2], WEFT_FOREVER), 0);
    size_t idx = 99;
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_COMPLETED, &idx, WEFT_SEC(10)), 0);
    ck_assert_uint_eq(idx, 1);
    ck_assert_weft(weft_wait(fs, 3, WEFT_ALL_COMPLETED, &idx, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_wait(fs, 3, WEFT_ALL_COMPLETED, &idx, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_EXCEPTION, &idx, WEFT_MS(20)), WEFT_ETIMEDOUT);
    weft_future *bad;
    ck_assert_weft(weft_pool_submit(p, fail_einval, &x, &bad, WEFT_FOREVER), 0);
    weft_future *gs[4] = {fs[0], fs[1], fs[2], bad};
    ck_assert_weft(weft_wait(gs, 4, WEFT_FIRST_EXCEPTION, &idx, WEFT_SEC(10)), 0);
    ck_assert_uint_eq(idx, 3);
    weft_event_set(&gate);
    ck_assert_weft(weft_wait(fs, 3, WEFT_ALL_COMPLETED, &idx, WEFT_SEC(10)), 0);
    ck_assert_uint_eq(idx, 3);
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_EXCEPTION, &idx, 0), 0); /* all done, none failed */
    ck_assert_uint_eq(idx, 3);
    ck_assert_weft(weft_future_result(bad, NULL, 0), WEFT_EINVAL);
    for (int i = 0; i < 3; i++) weft_future_unref(fs[i]);
    weft_future_unref(bad);
    weft_pool_free(p);
}
END_TEST

static void set_on_done(weft_future *f, void *arg)
{
    (void)f;
    weft_event_set(arg);
}

START_TEST(as_completed_yields_in_completion_order)
{
    weft_pool *p = weft_test_pool(3);
    /* Completion order 2, 0, 1: task 0 waits for e0, set once future 2 is done; task 1 waits
     * for e1, set once future 0 is done (callbacks added after the iterator's run after it). */
    weft_event e0, e1, hold;
    weft_event_init(&e0);
    weft_event_init(&e1);
    weft_event_init(&hold);
    int x = 0;
    weft_future *fs[4];
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &e0, &fs[0], WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &e1, &fs[1], WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_give, &x, &fs[2], WEFT_FOREVER), 0);
    fs[3] = fs[2]; /* duplicates are yielded once */
    weft_as_completed *it;
    ck_assert_weft(weft_as_completed_new(&it, fs, 4), 0);
    ck_assert_weft(weft_future_add_done_callback(fs[2], set_on_done, &e0), 0);
    ck_assert_weft(weft_future_add_done_callback(fs[0], set_on_done, &e1), 0);
    weft_future *f;
    int order[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_weft(weft_as_completed_next(it, &f, WEFT_SEC(10)), 0);
        order[i] = f == fs[0] ? 0 : f == fs[1] ? 1 : f == fs[2] ? 2 : -1;
    }
    ck_assert_int_eq(order[0], 2);
    ck_assert_int_eq(order[1], 0);
    ck_assert_int_eq(order[2], 1);
    ck_assert_weft(weft_as_completed_next(it, &f, 0), WEFT_ECLOSED);
    ck_assert_ptr_null(f);
    weft_as_completed_free(it);
    /* An iterator over pending futures, freed early, then a timeout. */
    weft_future *g;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &hold, &g, WEFT_FOREVER), 0);
    ck_assert_weft(weft_as_completed_new(&it, &g, 1), 0);
    ck_assert_weft(weft_as_completed_next(it, &f, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_as_completed_next(it, &f, WEFT_MS(10)), WEFT_ETIMEDOUT);
    weft_as_completed_free(it);
    weft_event_set(&hold);
    for (int i = 0; i < 3; i++) weft_future_unref(fs[i]);
    weft_future_unref(g);
    weft_pool_free(p);
}
END_TEST

START_TEST(result_with_timeout_and_try_once)
{
    weft_pool *p = weft_test_pool(1);
    weft_event gate;
    weft_event_init(&gate);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_EAGAIN);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_future_result(f, NULL, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(19));
    ck_assert_weft(weft_future_wait(f, WEFT_MS(1)), WEFT_ETIMEDOUT);
    weft_event_set(&gate);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

static char reported[8][64];
static atomic_int nreported;

static void capture_hook(const char *name, int status, const char *message, void *arg)
{
    (void)arg;
    int i = atomic_fetch_add(&nreported, 1);
    if (i < 8) snprintf(reported[i], sizeof reported[i], "%s:%d:%s", name, status, message);
}

START_TEST(unseen_failure_is_reported_when_released)
{
    weft_pool_set_error_hook(capture_hook, NULL);
    weft_pool *p = weft_test_pool(1);
    int x = 5;
    weft_future *seen, *unseen;
    ck_assert_weft(weft_pool_submit_named(p, "seen", fail_einval, &x, &seen, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit_named(p, "unseen", fail_einval, &x, &unseen, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit_named(p, "forgotten", fail_positive, NULL, NULL, WEFT_FOREVER),
                   0);
    ck_assert_weft(weft_future_result(seen, NULL, WEFT_SEC(10)), WEFT_EINVAL);
    ck_assert_weft(weft_future_wait(unseen, WEFT_SEC(10)), 0);
    char name[16];
    ck_assert_weft(weft_future_name(unseen, name, sizeof name), 0);
    ck_assert_str_eq(name, "unseen");
    weft_future_unref(seen);
    weft_future_unref(unseen);
    weft_pool_free(p);
    ck_assert_int_eq(atomic_load(&nreported), 2);
    int a = strcmp(reported[0], "unseen:-22:bad item 5") == 0 ||
            strcmp(reported[1], "unseen:-22:bad item 5") == 0;
    int b = strcmp(reported[0], "forgotten:42:task returned 42") == 0 ||
            strcmp(reported[1], "forgotten:42:task returned 42") == 0;
    ck_assert_msg(a && b, "reports: '%s' '%s'", reported[0], reported[1]);
    weft_pool_set_error_hook(NULL, NULL);
}
END_TEST

struct waiter_arg {
    weft_future *f;
};

static int wait_future_thread(void *arg)
{
    struct waiter_arg *w = arg;
    return weft_future_wait(w->f, WEFT_FOREVER);
}

START_TEST(caller_cancelled_while_waiting_gets_ecanceled)
{
    /* Default opts: the waiter only waits (helping is opt-in, pool.h), so its cancellation
     * is seen at once although the task waits for the gate set after the join. */
    weft_pool *p = weft_test_pool(1);
    weft_event gate;
    weft_event_init(&gate);
    struct waiter_arg w;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &w.f, WEFT_FOREVER), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, wait_future_thread, &w, NULL), 0);
    weft_sleep(WEFT_MS(5));
    ck_assert_weft(weft_thread_stop(t), 0);
    int st = 0;
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
    ck_assert_int_eq(weft_future_done(w.f), 0);
    weft_event_set(&gate);
    ck_assert_weft(weft_future_result(w.f, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(w.f);
    weft_pool_free(p);
}
END_TEST

struct paused_wait {
    weft_future *f;
    pthread_t waiter, ran_on;
    weft_event waiting;
};

static int note_thread(void *arg, void **result)
{
    (void)result;
    struct paused_wait *w = arg;
    w->ran_on = pthread_self();
    return 0;
}

static int result_forever_thread(void *arg)
{
    struct paused_wait *w = arg;
    w->waiter = pthread_self();
    weft_event_set(&w->waiting);
    return weft_future_result(w->f, NULL, WEFT_FOREVER);
}

/* Default opts: an untimed outside wait for a queued task of a paused pool does not run the
 * task; its cancellation ends it with WEFT_ECANCELED, and a worker runs the task later. */
START_TEST(cancelled_outside_waiter_leaves_a_paused_pool_task_to_a_worker)
{
    for (int round = 0; round < 20; round++) {
        weft_pool *p = weft_test_pool(1);
        ck_assert_weft(weft_pool_pause(p), 0);
        struct paused_wait w;
        memset(&w, 0, sizeof w);
        weft_event_init(&w.waiting);
        ck_assert_weft(weft_pool_submit(p, note_thread, &w, &w.f, WEFT_FOREVER), 0);
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, result_forever_thread, &w, NULL), 0);
        ck_assert_weft(weft_event_wait(&w.waiting, WEFT_SEC(10)), 0);
        if (round % 2) weft_sleep(WEFT_MS(1)); /* also cancel it once it sleeps in the wait */
        ck_assert_weft(weft_thread_stop(t), 0);
        int st = 0;
        ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(10)), 0);
        ck_assert_weft(st, WEFT_ECANCELED);
        ck_assert_int_eq(weft_future_done(w.f), 0);
        ck_assert_weft(weft_pool_resume(p), 0);
        ck_assert_weft(weft_future_result(w.f, NULL, WEFT_SEC(10)), 0);
        ck_assert(!pthread_equal(w.ran_on, w.waiter));
        ck_assert(!pthread_equal(w.ran_on, pthread_self()));
        weft_future_unref(w.f);
        weft_pool_free(p);
    }
}
END_TEST

/* ---- a worker waiting for a task it queued itself runs it at once (sched.c) ---- */

static int fail_and_give(void *arg, void **result)
{
    *result = arg;
    return weft_error_set(WEFT_ERANGE, "child %d failed", *(int *)arg);
}

static int in_own_scope(void *arg, void **result)
{
    (void)result;
    *(weft_scope **)arg = weft_scope_current();
    return 0;
}

/* Submits children and waits for each from inside the pool (the fork-join shortcut). */
static int parent_of_awaited(void *arg, void **result)
{
    (void)result;
    weft_pool *p = arg;
    int x = 3;
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, fail_and_give, &x, &f, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(10)), WEFT_ERANGE);
    ck_assert_str_eq(weft_error_message(), "child 3 failed");
    ck_assert_ptr_eq(r, &x);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    weft_future_unref(f);
    weft_error_clear();
    /* Waited for but never looked at: still reported when released. */
    ck_assert_weft(weft_pool_submit_named(p, "awaited", fail_and_give, &x, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    /* With task scopes, the child runs in a scope of its own, a child of the parent's. */
    weft_scope *seen = NULL, *mine = weft_scope_current();
    ck_assert_weft(weft_pool_submit(p, in_own_scope, &seen, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_ne(seen, mine);
    weft_future_unref(f);
    return 0;
}

START_TEST(awaited_child_runs_in_place_with_its_outcome_and_scope)
{
    weft_pool_set_error_hook(capture_hook, NULL);
    atomic_store(&nreported, 0);
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .task_scopes = 1});
    for (int i = 0; i < 100; i++) { /* the deque's reuse of records and slots */
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, parent_of_awaited, p, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
        weft_future_unref(f);
    }
    weft_pool_free(p);
    ck_assert_int_eq(atomic_load(&nreported), 100);
    ck_assert_str_eq(reported[0], "awaited:-34:child 3 failed");
    weft_pool_set_error_hook(NULL, NULL);
}
END_TEST

/* Misuse the shortcut must survive: a thread that waits for (or cancels) the child through the
 * parent's reference, without one of its own, while the parent runs the child in place. */
struct borrow {
    weft_pool *pool; /* of one worker: no thief takes the child away */
    weft_future *child;
    int cancel;
    int rc;
};

static int borrower(void *arg)
{
    struct borrow *b = arg;
    b->rc = b->cancel ? weft_future_cancel(b->child) : weft_future_wait(b->child, WEFT_SEC(20));
    return 0;
}

static int sleep_20ms(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return weft_sleep(WEFT_MS(20));
}

static int parent_with_borrower(void *arg, void **result)
{
    (void)result;
    struct borrow *b = arg;
    ck_assert_weft(weft_pool_submit(b->pool, sleep_20ms, NULL, &b->child, WEFT_FOREVER), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, borrower, b, NULL), 0);
    /* The child's 20 ms let the borrower act while the child runs here. */
    ck_assert_weft(weft_future_wait(b->child, WEFT_SEC(20)), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(20)), 0);
    weft_future_unref(b->child);
    return 0;
}

START_TEST(waiter_or_canceller_without_a_reference_never_hangs_the_awaited_child)
{
    weft_pool *p = weft_test_pool(1);
    for (int cancel = 0; cancel < 2; cancel++) {
        for (int i = 0; i < 10; i++) {
            struct borrow b = {p, NULL, cancel, -1};
            weft_future *f;
            ck_assert_weft(weft_pool_submit(p, parent_with_borrower, &b, &f, WEFT_FOREVER), 0);
            ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
            weft_future_unref(f);
            if (cancel)
                ck_assert_msg(b.rc == 0 || b.rc == WEFT_EBUSY || b.rc == WEFT_ESTATE, "cancel: %d",
                              b.rc);
            else
                ck_assert_weft(b.rc, 0);
        }
    }
    weft_pool_free(p);
}
END_TEST

START_TEST(bad_input_gives_error_codes)
{
    ck_assert_weft(weft_future_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_future_result(NULL, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_future_cancel(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_done(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_cancelled(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_running(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_ref(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_add_done_callback(NULL, cb_count, NULL), WEFT_EINVAL);
    weft_future_unref(NULL);
    ck_assert_weft(weft_wait(NULL, 1, WEFT_ALL_COMPLETED, NULL, 0), WEFT_EINVAL);
    weft_pool *p = weft_test_pool(1);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_give, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(f, -1), WEFT_EINVAL);
    ck_assert_weft(weft_future_add_done_callback(f, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_wait(&f, 1, 0, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_wait(&f, 0, WEFT_ALL_COMPLETED, NULL, 0), WEFT_EINVAL);
    weft_future *null_entry[2] = {f, NULL};
    ck_assert_weft(weft_wait(null_entry, 2, WEFT_ALL_COMPLETED, NULL, 0), WEFT_EINVAL);
    weft_as_completed *it;
    ck_assert_weft(weft_as_completed_new(NULL, &f, 1), WEFT_EINVAL);
    ck_assert_weft(weft_as_completed_new(&it, null_entry, 2), WEFT_EINVAL);
    ck_assert_weft(weft_as_completed_next(NULL, &f, 0), WEFT_EINVAL);
    weft_as_completed_free(NULL);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE("future", 20, result_returns_value_and_status,
                failure_status_and_message_travel_to_result, cancel_before_run_never_runs,
                cancel_running_task_cancels_its_scope_only,
                task_scopes_reach_threads_started_by_the_task,
                callbacks_run_once_also_when_added_after_completion,
                wait_first_completed_all_completed_first_exception,
                as_completed_yields_in_completion_order, result_with_timeout_and_try_once,
                unseen_failure_is_reported_when_released,
                caller_cancelled_while_waiting_gets_ecanceled,
                cancelled_outside_waiter_leaves_a_paused_pool_task_to_a_worker,
                awaited_child_runs_in_place_with_its_outcome_and_scope,
                waiter_or_canceller_without_a_reference_never_hangs_the_awaited_child,
                bad_input_gives_error_codes)
