/* tests/unit/future_api_test.c - futures that no pool made (concurrent.futures.Future used
 * directly), weft_wait_split ((done, not_done) of concurrent.futures.wait) and the streaming
 * map (Executor.map as an iterator, with buffersize and a timeout from the call). Each test
 * asserts the behaviour Python documents. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tasks.h"
#include "test.h"

static weft_future *fresh(void)
{
    weft_future *f = NULL;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    return f;
}

START_TEST(future_new_is_pending)
{
    weft_future *f = fresh();
    ck_assert_int_eq(weft_future_done(f), 0);
    ck_assert_int_eq(weft_future_running(f), 0);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    ck_assert_weft(weft_future_wait(f, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_MS(1)), WEFT_ETIMEDOUT);
    weft_future_unref(f);
}
END_TEST

struct setter {
    weft_future *f;
    void *value;
    weft_event *go;
};

static int set_later(void *arg)
{
    struct setter *s = arg;
    if (s->go) weft_event_wait(s->go, WEFT_SEC(30));
    int rc = weft_future_set_result(s->f, s->value, NULL);
    weft_future_unref(s->f); /* the reference taken for this thread */
    return rc;
}

START_TEST(set_result_from_another_thread_wakes_the_waiter)
{
    weft_future *f = fresh();
    int x = 5;
    weft_event go = WEFT_EVENT_INIT;
    struct setter s = {f, &x, &go};
    weft_future_ref(f);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, set_later, &s, NULL), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_EAGAIN);
    weft_event_set(&go);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(30)), 0);
    ck_assert_ptr_eq(r, &x);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    int st = -1;
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(30)), 0);
    ck_assert_int_eq(st, 0);
    weft_future_unref(f);
}
END_TEST

/* Python: a second set_result / set_exception raises InvalidStateError and changes nothing. */
START_TEST(setting_twice_is_invalid_state)
{
    weft_future *f = fresh();
    int x = 1, y = 2;
    ck_assert_weft(weft_future_set_result(f, &x, NULL), 0);
    ck_assert_weft(weft_future_set_result(f, &y, NULL), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_failure(f, WEFT_EINVAL, "late"), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_bytes(f, "ab", 2), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_running(f), WEFT_ESTATE);
    ck_assert_weft(weft_future_cancel(f), WEFT_ESTATE); /* Python: cancel() is False */
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, 0), 0);
    ck_assert_ptr_eq(r, &x);
    weft_future_unref(f);
}
END_TEST

START_TEST(set_failure_travels_to_result_like_a_task_failure)
{
    weft_future *f = fresh(), *g = fresh();
    ck_assert_weft(weft_future_set_failure(f, WEFT_EINVAL, "bad input 7"), 0);
    ck_assert_weft(weft_future_set_failure(g, 42, NULL), 0);
    weft_error_clear();
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_error_code(), WEFT_EINVAL);
    ck_assert_str_eq(weft_error_message(), "bad input 7");
    ck_assert_int_eq(weft_future_result(g, NULL, 0), 42);
    ck_assert_str_eq(weft_error_message(), "task returned 42");
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), WEFT_ESTATE);
    weft_future_unref(f);
    weft_future_unref(g);
}
END_TEST

/* Python: set_running_or_notify_cancel returns True (pending -> running), and a running future
 * cannot be cancelled; a second call raises RuntimeError. */
START_TEST(set_running_then_cancel_fails)
{
    weft_future *f = fresh();
    ck_assert_int_eq(weft_future_set_running(f), 1);
    ck_assert_int_eq(weft_future_running(f), 1);
    ck_assert_int_eq(weft_future_done(f), 0);
    ck_assert_weft(weft_future_cancel(f), WEFT_EBUSY);
    ck_assert_int_eq(weft_future_cancelled(f), 0);
    ck_assert_weft(weft_future_set_running(f), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert_int_eq(weft_future_running(f), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), 0);
    weft_future_unref(f);
}
END_TEST

static atomic_int calls;

static void count_cb(weft_future *f, void *arg)
{
    (void)f;
    (void)arg;
    atomic_fetch_add(&calls, 1);
}

/* Python: cancel() on a pending future is True, wakes waiters, runs callbacks; then
 * set_running_or_notify_cancel returns False and set_result raises InvalidStateError. */
START_TEST(cancel_pending_then_set_running_says_cancelled)
{
    weft_future *f = fresh();
    atomic_store(&calls, 0);
    ck_assert_weft(weft_future_add_done_callback(f, count_cb, NULL), 0);
    ck_assert_weft(weft_future_cancel(f), 0);
    ck_assert_int_eq(atomic_load(&calls), 1);
    ck_assert_weft(weft_future_cancel(f), 0);
    ck_assert_int_eq(weft_future_cancelled(f), 1);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_int_eq(weft_future_set_running(f), 0);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_failure(f, WEFT_EBUSY, NULL), WEFT_ESTATE);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_ECANCELED);
    ck_assert_int_eq(atomic_load(&calls), 1);
    weft_future_unref(f);
}
END_TEST

static char order[8];
static atomic_int norder;

static void note_cb(weft_future *f, void *arg)
{
    (void)f;
    order[atomic_fetch_add(&norder, 1)] = *(const char *)arg;
}

START_TEST(callbacks_run_once_in_order_on_the_setter)
{
    weft_future *f = fresh();
    atomic_store(&norder, 0);
    ck_assert_weft(weft_future_add_done_callback(f, note_cb, "a"), 0);
    ck_assert_weft(weft_future_add_done_callback(f, note_cb, "b"), 0);
    ck_assert_int_eq(atomic_load(&norder), 0);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert_int_eq(atomic_load(&norder), 2);
    ck_assert_weft(weft_future_add_done_callback(f, note_cb, "c"), 0); /* done: runs now */
    ck_assert_int_eq(atomic_load(&norder), 3);
    ck_assert_int_eq(memcmp(order, "abc", 3), 0);
    weft_future_unref(f);
}
END_TEST

static atomic_int freed;

static void free_counted(void *p)
{
    ck_assert_ptr_eq(p, &freed);
    atomic_fetch_add(&freed, 1);
}

START_TEST(owned_result_is_freed_by_the_last_release)
{
    weft_future *f = fresh();
    atomic_store(&freed, 0);
    ck_assert_weft(weft_future_set_result(f, &freed, free_counted), 0);
    ck_assert_weft(weft_future_ref(f), 0);
    weft_future_unref(f);
    ck_assert_int_eq(atomic_load(&freed), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, 0), 0);
    ck_assert_ptr_eq(r, &freed);
    weft_future_unref(f);
    ck_assert_int_eq(atomic_load(&freed), 1);
    /* A refused set leaves the result with the caller. */
    f = fresh();
    ck_assert_weft(weft_future_cancel(f), 0);
    ck_assert_weft(weft_future_set_result(f, &freed, free_counted), WEFT_ESTATE);
    weft_future_unref(f);
    ck_assert_int_eq(atomic_load(&freed), 1);
}
END_TEST

START_TEST(set_bytes_copies_and_bytes_gives_the_length)
{
    weft_future *f = fresh();
    char buf[6] = "hello";
    ck_assert_weft(weft_future_set_bytes(f, buf, 5), 0);
    buf[0] = 'X'; /* the future holds a copy */
    const void *data = NULL;
    size_t len = 99;
    ck_assert_weft(weft_future_bytes(f, &data, &len, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(data, "hello", 5), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, 0), 0);
    ck_assert_ptr_eq(r, data);
    weft_future_unref(f);
    /* Empty bytes, and a future set with set_result: length 0. */
    f = fresh();
    ck_assert_weft(weft_future_set_bytes(f, NULL, 0), 0);
    ck_assert_weft(weft_future_bytes(f, &data, &len, 0), 0);
    ck_assert_uint_eq(len, 0);
    weft_future_unref(f);
    f = fresh();
    int x;
    ck_assert_weft(weft_future_set_result(f, &x, NULL), 0);
    len = 99;
    ck_assert_weft(weft_future_bytes(f, &data, &len, 0), 0);
    ck_assert_ptr_eq(data, &x);
    ck_assert_uint_eq(len, 0);
    weft_future_unref(f);
}
END_TEST

static char hook_name[64];
static int hook_status;
static char hook_msg[128];
static atomic_int hook_calls;

static void capture_hook(const char *name, int status, const char *message, void *arg)
{
    (void)arg;
    snprintf(hook_name, sizeof hook_name, "%s", name);
    hook_status = status;
    snprintf(hook_msg, sizeof hook_msg, "%s", message);
    atomic_fetch_add(&hook_calls, 1);
}

START_TEST(unseen_failure_is_reported_with_the_name)
{
    weft_pool_set_error_hook(capture_hook, NULL);
    atomic_store(&hook_calls, 0);
    weft_future_opts o = WEFT_FUTURE_OPTS_INIT;
    o.name = "download";
    weft_future *f;
    ck_assert_weft(weft_future_new(&f, &o), 0);
    char buf[32];
    ck_assert_weft(weft_future_name(f, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "download");
    ck_assert_weft(weft_future_set_failure(f, WEFT_EBUSY, "disk gone"), 0);
    weft_future_unref(f);
    ck_assert_int_eq(atomic_load(&hook_calls), 1);
    ck_assert_str_eq(hook_name, "download");
    ck_assert_int_eq(hook_status, WEFT_EBUSY);
    ck_assert_str_eq(hook_msg, "disk gone");
    /* Looked at: not reported. The name does not stay on the record. */
    f = fresh();
    ck_assert_weft(weft_future_name(f, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_weft(weft_future_set_failure(f, WEFT_EBUSY, NULL), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_EBUSY);
    weft_future_unref(f);
    ck_assert_int_eq(atomic_load(&hook_calls), 1);
    weft_pool_set_error_hook(NULL, NULL);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
    ck_assert_weft(weft_future_new(NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_set_result(NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_set_running(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_set_bytes(NULL, "a", 1), WEFT_EINVAL);
    ck_assert_weft(weft_future_set_failure(NULL, WEFT_EBUSY, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_bytes(NULL, NULL, NULL, 0), WEFT_EINVAL);
    weft_future *f = fresh();
    ck_assert_weft(weft_future_set_failure(f, 0, "no"), WEFT_EINVAL);
    ck_assert_weft(weft_future_set_bytes(f, NULL, 3), WEFT_EINVAL);
    ck_assert_int_eq(weft_future_done(f), 0);
    weft_future_unref(f);
    /* A pool's future is completed by its task only. */
    weft_pool *p = weft_test_pool(1);
    ck_assert_weft(weft_pool_submit(p, weft_test_give, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), WEFT_EPERM);
    ck_assert_weft(weft_future_set_failure(f, WEFT_EBUSY, NULL), WEFT_EPERM);
    ck_assert_weft(weft_future_set_running(f), WEFT_EPERM);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

START_TEST(wait_and_as_completed_work_on_standalone_futures)
{
    weft_future *fs[3] = {fresh(), fresh(), fresh()};
    size_t idx = 99;
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_COMPLETED, &idx, 0), WEFT_EAGAIN);
    weft_as_completed *it;
    ck_assert_weft(weft_as_completed_new(&it, fs, 3), 0);
    ck_assert_weft(weft_future_set_result(fs[2], NULL, NULL), 0);
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_COMPLETED, &idx, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(idx, 2);
    weft_future *g = NULL;
    ck_assert_weft(weft_as_completed_next(it, &g, WEFT_SEC(1)), 0);
    ck_assert_ptr_eq(g, fs[2]);
    ck_assert_weft(weft_future_set_failure(fs[0], WEFT_EBUSY, NULL), 0);
    ck_assert_weft(weft_wait(fs, 3, WEFT_FIRST_EXCEPTION, &idx, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(idx, 0);
    ck_assert_weft(weft_as_completed_next(it, &g, WEFT_SEC(1)), 0);
    ck_assert_ptr_eq(g, fs[0]);
    ck_assert_weft(weft_future_cancel(fs[1]), 0);
    ck_assert_weft(weft_as_completed_next(it, &g, WEFT_SEC(1)), 0);
    ck_assert_ptr_eq(g, fs[1]);
    ck_assert_weft(weft_as_completed_next(it, &g, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_wait(fs, 3, WEFT_ALL_COMPLETED, NULL, 0), 0);
    weft_as_completed_free(it);
    ck_assert_weft(weft_future_result(fs[0], NULL, 0), WEFT_EBUSY);
    for (int i = 0; i < 3; i++) weft_future_unref(fs[i]);
}
END_TEST

/* A task that waits for a future that a task queued after it sets: on a pool of one worker,
 * the waiting worker must run the setter meanwhile (as for a pool future). */
static int set_task(void *arg, void **result)
{
    (void)result;
    return weft_future_set_result(arg, arg, NULL);
}

struct chain {
    weft_pool *p;
    weft_future *f;
};

static int wait_for_later_task(void *arg, void **result)
{
    struct chain *c = arg;
    int rc = weft_pool_submit(c->p, set_task, c->f, NULL, WEFT_FOREVER);
    if (rc != 0) return rc;
    return weft_future_result(c->f, result, WEFT_SEC(30));
}

START_TEST(worker_waiting_on_a_standalone_future_helps_its_pool)
{
    weft_pool *p = weft_test_pool(1);
    struct chain c = {p, fresh()};
    weft_future *t;
    ck_assert_weft(weft_pool_submit(p, wait_for_later_task, &c, &t, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(t, &r, WEFT_SEC(60)), 0);
    ck_assert_ptr_eq(r, c.f);
    weft_future_unref(t);
    weft_future_unref(c.f);
    weft_pool_free(p);
}
END_TEST

/* ---- races: exactly one of several setters wins; cancel against set ---- */

struct racer {
    weft_barrier *b;
    weft_future **slot;
    int kind, rounds;
    atomic_int *wins;
};

static int race_body(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        int rc = weft_barrier_wait(r->b, WEFT_SEC(30));
        if (rc < 0) return rc;
        weft_future *f = *r->slot;
        if (r->kind == 0)
            rc = weft_future_set_result(f, r, NULL);
        else if (r->kind == 1)
            rc = weft_future_set_failure(f, WEFT_EBUSY, "lost");
        else
            rc = weft_future_cancel(f);
        if (rc == 0) atomic_fetch_add(r->wins, 1);
        rc = weft_barrier_wait(r->b, WEFT_SEC(30));
        if (rc < 0) return rc;
    }
    return 0;
}

START_TEST(concurrent_setters_and_cancel_exactly_one_wins)
{
    int rounds = (int)weft_test_scale(2000);
    weft_barrier b;
    ck_assert_weft(weft_barrier_init(&b, 4, NULL, NULL), 0);
    weft_future *f = NULL;
    atomic_int wins = 0;
    struct racer rs[3];
    weft_thread ts[3];
    for (int k = 0; k < 3; k++) {
        rs[k] = (struct racer){&b, &f, k, rounds, &wins};
        ck_assert_weft(weft_thread_start(&ts[k], race_body, &rs[k], NULL), 0);
    }
    for (int i = 0; i < rounds; i++) {
        f = fresh();
        atomic_store(&wins, 0);
        ck_assert_int_ge(weft_barrier_wait(&b, WEFT_SEC(30)), 0);
        ck_assert_weft(weft_future_wait(f, WEFT_SEC(30)), 0);
        ck_assert_int_ge(weft_barrier_wait(&b, WEFT_SEC(30)), 0);
        ck_assert_int_eq(atomic_load(&wins), 1);
        void *r = NULL;
        int rc = weft_future_result(f, &r, 0);
        if (weft_future_cancelled(f)) {
            ck_assert_weft(rc, WEFT_ECANCELED);
        } else if (rc == WEFT_EBUSY) {
            ck_assert_ptr_null(r);
        } else {
            ck_assert_weft(rc, 0);
            ck_assert_ptr_eq(r, &rs[0]);
        }
        weft_future_unref(f);
    }
    for (int k = 0; k < 3; k++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(ts[k], &st, WEFT_SEC(30)), 0);
        ck_assert_int_eq(st, 0);
    }
}
END_TEST

/* ---- weft_wait_split ---- */

START_TEST(wait_split_gives_done_and_not_done_in_order)
{
    weft_future *a = fresh(), *b = fresh(), *c = fresh(), *d = fresh(), *e = fresh();
    weft_future *fs[5] = {a, b, c, d, e};
    size_t nd = 99;
    ck_assert_weft(weft_wait_split(fs, 5, WEFT_FIRST_COMPLETED, &nd, 0), WEFT_EAGAIN);
    ck_assert_uint_eq(nd, 0);
    ck_assert_weft(weft_future_set_result(d, NULL, NULL), 0);
    ck_assert_weft(weft_future_set_result(b, NULL, NULL), 0);
    ck_assert_weft(weft_wait_split(fs, 5, WEFT_FIRST_COMPLETED, &nd, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(nd, 2);
    weft_future *want[5] = {b, d, a, c, e};
    for (int i = 0; i < 5; i++) ck_assert_ptr_eq(fs[i], want[i]);
    /* Python returns the split on a timeout too. */
    ck_assert_weft(weft_wait_split(fs, 5, WEFT_ALL_COMPLETED, &nd, WEFT_MS(1)), WEFT_ETIMEDOUT);
    ck_assert_uint_eq(nd, 2);
    /* FIRST_EXCEPTION: a failure returns at once, with everything done so far. */
    ck_assert_weft(weft_future_set_failure(c, WEFT_EBUSY, NULL), 0);
    ck_assert_weft(weft_future_cancel(e), 0);
    ck_assert_weft(weft_wait_split(fs, 5, WEFT_FIRST_EXCEPTION, &nd, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(nd, 4);
    ck_assert_ptr_eq(fs[4], a);
    ck_assert_weft(weft_future_result(c, NULL, 0), WEFT_EBUSY);
    ck_assert_weft(weft_future_set_result(a, NULL, NULL), 0);
    ck_assert_weft(weft_wait_split(fs, 5, WEFT_ALL_COMPLETED, &nd, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(nd, 5);
    /* Nothing to wait for. */
    ck_assert_weft(weft_wait_split(NULL, 0, WEFT_ALL_COMPLETED, &nd, 0), 0);
    ck_assert_uint_eq(nd, 0);
    for (int i = 0; i < 5; i++) weft_future_unref(fs[i]);
}
END_TEST

/* FIRST_EXCEPTION with no failure is ALL_COMPLETED (Python). */
START_TEST(wait_split_first_exception_without_failure_waits_for_all)
{
    weft_future *fs[2] = {fresh(), fresh()};
    size_t nd = 99;
    ck_assert_weft(weft_future_set_result(fs[1], NULL, NULL), 0);
    ck_assert_weft(weft_wait_split(fs, 2, WEFT_FIRST_EXCEPTION, &nd, WEFT_MS(1)), WEFT_ETIMEDOUT);
    ck_assert_uint_eq(nd, 1);
    /* Split: the done one first, the pending one after. */
    ck_assert_weft(weft_future_set_result(fs[0], NULL, NULL), WEFT_ESTATE);
    ck_assert_weft(weft_future_set_result(fs[1], NULL, NULL), 0);
    ck_assert_weft(weft_wait_split(fs, 2, WEFT_FIRST_EXCEPTION, &nd, WEFT_SEC(1)), 0);
    ck_assert_uint_eq(nd, 2);
    for (int i = 0; i < 2; i++) weft_future_unref(fs[i]);
}
END_TEST

static int set_all_slowly(void *arg)
{
    weft_future **fs = arg;
    for (int i = 0; i < 8; i++) {
        int rc = weft_future_set_result(fs[i], NULL, NULL);
        if (rc != 0) return rc;
        weft_sleep(0);
    }
    return 0;
}

START_TEST(wait_split_loop_consumes_every_future_once)
{
    weft_future *fs[8], *orig[8];
    for (int i = 0; i < 8; i++) orig[i] = fs[i] = fresh();
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, set_all_slowly, orig, NULL), 0);
    weft_future **rest = fs;
    size_t n = 8, seen = 0;
    while (n > 0) {
        size_t nd = 0;
        ck_assert_weft(weft_wait_split(rest, n, WEFT_FIRST_COMPLETED, &nd, WEFT_SEC(30)), 0);
        ck_assert_uint_ge(nd, 1);
        for (size_t i = 0; i < nd; i++) ck_assert_int_eq(weft_future_done(rest[i]), 1);
        seen += nd;
        rest += nd;
        n -= nd;
    }
    ck_assert_uint_eq(seen, 8);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(30)), 0);
    for (int i = 0; i < 8; i++) weft_future_unref(orig[i]);
}
END_TEST

START_TEST(wait_split_bad_arguments_leave_the_array)
{
    weft_future *f = fresh(), *fs[2] = {f, NULL};
    size_t nd = 7;
    ck_assert_weft(weft_wait_split(NULL, 1, WEFT_ALL_COMPLETED, &nd, 0), WEFT_EINVAL);
    ck_assert_weft(weft_wait_split(fs, 1, WEFT_ALL_COMPLETED, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_wait_split(fs, 1, 0, &nd, 0), WEFT_EINVAL);
    ck_assert_weft(weft_wait_split(fs, 1, WEFT_ALL_COMPLETED, &nd, -1), WEFT_EINVAL);
    ck_assert_weft(weft_wait_split(fs, 2, WEFT_ALL_COMPLETED, &nd, 0), WEFT_EINVAL);
    ck_assert_uint_eq(nd, 7);
    ck_assert_ptr_eq(fs[0], f);
    weft_future_unref(f);
}
END_TEST

/* ---- the streaming map ---- */

static atomic_int ran;

static int square(void *arg, void **result)
{
    atomic_fetch_add(&ran, 1);
    intptr_t v = (intptr_t)arg;
    *result = (void *)(v * v);
    return 0;
}

START_TEST(imap_yields_results_in_input_order)
{
    weft_pool *p = weft_test_pool(2);
    enum { N = 100 };
    void *args[N];
    for (intptr_t i = 0; i < N; i++) args[i] = (void *)i;
    for (size_t bs = 0; bs < 4; bs += 3) {
        weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
        o.buffersize = bs;
        weft_imap *it;
        ck_assert_weft(weft_pool_imap(&it, p, square, args, N, &o, WEFT_FOREVER), 0);
        for (intptr_t i = 0; i < N; i++) {
            void *r = NULL;
            ck_assert_weft(weft_imap_next(it, &r, WEFT_SEC(30)), 0);
            ck_assert_int_eq((intptr_t)r, i * i);
        }
        ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
        ck_assert_weft(weft_imap_next(it, NULL, 0), WEFT_ECLOSED);
        weft_imap_free(it);
    }
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    weft_pool_free(p);
}
END_TEST

/* buffersize bounds how far ahead of the reader the map runs (Python 3.14). */
START_TEST(imap_buffersize_bounds_the_work_ahead)
{
    weft_pool *p = weft_test_pool(2);
    atomic_store(&ran, 0);
    weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
    o.buffersize = 3;
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 20, &o, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&ran), 3);
    for (int k = 1; k <= 5; k++) {
        ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), 0);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
        ck_assert_int_eq(atomic_load(&ran), 3 + k); /* one more per item yielded */
    }
    weft_imap_free(it);
    ck_assert_int_eq(atomic_load(&ran), 8); /* the rest were never submitted */
    weft_pool_free(p);
}
END_TEST

static weft_event gate;

static int gated(void *arg, void **result)
{
    intptr_t v = (intptr_t)arg;
    *result = arg;
    if (v == 5) return weft_event_wait(&gate, WEFT_SEC(60));
    return 0;
}

/* Results stream: the first items come out while a later one is still running. */
START_TEST(imap_streams_before_later_items_finish)
{
    weft_pool *p = weft_test_pool(2);
    weft_event_init(&gate);
    void *args[8];
    for (intptr_t i = 0; i < 8; i++) args[i] = (void *)i;
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, gated, args, 8, NULL, WEFT_FOREVER), 0);
    for (intptr_t i = 0; i < 5; i++) {
        void *r = NULL;
        ck_assert_weft(weft_imap_next(it, &r, WEFT_SEC(30)), 0);
        ck_assert_ptr_eq(r, args[i]);
    }
    /* A per-call timeout leaves the iteration going. */
    ck_assert_weft(weft_imap_next(it, NULL, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_MS(1)), WEFT_ETIMEDOUT);
    weft_event_set(&gate);
    for (intptr_t i = 5; i < 8; i++) {
        void *r = NULL;
        ck_assert_weft(weft_imap_next(it, &r, WEFT_SEC(30)), 0);
        ck_assert_ptr_eq(r, args[i]);
    }
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    weft_pool_free(p);
}
END_TEST

/* weft: a cancelled caller gets WEFT_ECANCELED from next, and the iteration goes on. */
START_TEST(imap_next_is_a_cancellation_point_that_keeps_the_iteration)
{
    weft_pool *p = weft_test_pool(2);
    weft_event_init(&gate);
    void *args[8];
    for (intptr_t i = 0; i < 8; i++) args[i] = (void *)i;
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, gated, args, 8, NULL, WEFT_FOREVER), 0);
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    for (intptr_t i = 0; i < 5; i++) ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "stop"), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
    weft_event_set(&gate);
    for (intptr_t i = 5; i < 8; i++) {
        void *r = NULL;
        ck_assert_weft(weft_imap_next(it, &r, WEFT_SEC(30)), 0);
        ck_assert_ptr_eq(r, args[i]);
    }
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    weft_pool_free(p);
}
END_TEST

static int fail_first(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add(&ran, 1);
    if ((intptr_t)arg == 0) return weft_error_set(WEFT_EBUSY, "item zero broke");
    return 0;
}

/* Python: the failing item raises when its turn comes; the generator is then finished and the
 * remaining futures are cancelled. */
START_TEST(imap_failure_surfaces_in_turn_and_ends_the_map)
{
    weft_pool *p = weft_test_pool(1);
    atomic_store(&ran, 0);
    void *args[10];
    for (intptr_t i = 0; i < 10; i++) args[i] = (void *)i;
    weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
    o.buffersize = 1;
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, fail_first, args, 10, &o, WEFT_FOREVER), 0);
    weft_error_clear();
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_EBUSY);
    ck_assert_str_eq(weft_error_message(), "item zero broke");
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    ck_assert_int_le(atomic_load(&ran), 2); /* item 1 at most (submitted before the wait) */
    weft_pool_free(p);
}
END_TEST

/* Python measures map's timeout from the original call: a next with no timeout of its own
 * still ends then, and the iteration is over. */
START_TEST(imap_timeout_is_measured_from_the_call)
{
    weft_pool *p = weft_test_pool(1);
    atomic_store(&ran, 0);
    ck_assert_weft(weft_pool_pause(p), 0);
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 3, NULL, WEFT_MS(20)), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_FOREVER), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_weft(weft_pool_resume(p), 0);
    weft_imap_free(it);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&ran), 0); /* all cancelled before they ran */
    weft_pool_free(p);
}
END_TEST

static atomic_int sleep_rc;

static int started_then_sleep(void *arg, void **result)
{
    (void)result;
    weft_event_set(arg);
    int rc = weft_sleep(WEFT_SEC(3600));
    atomic_store(&sleep_rc, rc);
    return rc;
}

/* free cancels the running items' scopes and waits for them (no task touches args after). */
START_TEST(imap_free_stops_running_items_and_waits)
{
    weft_pool *p = weft_test_pool(1);
    weft_event started = WEFT_EVENT_INIT;
    void *args[1] = {&started};
    atomic_store(&sleep_rc, 1);
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, started_then_sleep, args, 1, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(30)), 0);
    weft_imap_free(it); /* returns once the sleeping task saw WEFT_ECANCELED */
    ck_assert_weft(atomic_load(&sleep_rc), WEFT_ECANCELED);
    weft_pool_free(p);
}
END_TEST

struct counter {
    intptr_t next, end, fail_at; /* end < 0: endless; fail_at < 0: never */
};

static int count_up(void *ctx, void **arg)
{
    struct counter *c = ctx;
    if (c->next == c->fail_at) return weft_error_set(WEFT_EBROKEN, "source gone");
    if (c->end >= 0 && c->next == c->end) return 0;
    *arg = (void *)c->next++;
    return 1;
}

/* Python 3.14: with buffersize the input iterable is consumed lazily, so an endless one works;
 * what is taken stays within buffersize of what was yielded. */
START_TEST(imap_takes_an_endless_input_lazily)
{
    weft_pool *p = weft_test_pool(2);
    struct counter c = {0, -1, -1};
    weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
    o.buffersize = 4;
    o.input = count_up;
    o.input_ctx = &c;
    weft_imap *it;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), 0);
    ck_assert_int_eq(c.next, 4);
    for (intptr_t i = 0; i < 50; i++) {
        void *r = NULL;
        ck_assert_weft(weft_imap_next(it, &r, WEFT_SEC(30)), 0);
        ck_assert_int_eq((intptr_t)r, i * i);
        ck_assert_int_le(c.next, i + 1 + 4);
    }
    weft_imap_free(it);
    /* A finite input ends the iteration when it has no more. */
    c = (struct counter){0, 3, -1};
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), 0);
    for (intptr_t i = 0; i < 3; i++) ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    c = (struct counter){0, 0, -1};
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    /* An input failure surfaces at its item, after the items before it. */
    o.buffersize = 1;
    c = (struct counter){0, -1, 3};
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), 0);
    for (intptr_t i = 0; i < 3; i++) ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_EBROKEN);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "item 3"));
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    /* Failing within the first buffersize items: the call itself fails, as Python's map(). */
    c = (struct counter){0, -1, 0};
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), WEFT_EBROKEN);
    /* An input needs a buffersize, and no args. */
    o.buffersize = 0;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 0, &o, WEFT_FOREVER), WEFT_EINVAL);
    o.buffersize = 2;
    void *args[1] = {NULL};
    ck_assert_weft(weft_pool_imap(&it, p, square, args, 1, &o, WEFT_FOREVER), WEFT_EINVAL);
    weft_pool_free(p);
}
END_TEST

START_TEST(imap_on_a_closed_pool_and_bad_arguments)
{
    weft_pool *p = weft_test_pool(1);
    weft_imap *it = NULL;
    ck_assert_weft(weft_pool_imap(NULL, p, square, NULL, 1, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_imap(&it, NULL, square, NULL, 1, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_imap(&it, p, NULL, NULL, 1, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 1, NULL, -1), WEFT_EINVAL);
    ck_assert_weft(weft_imap_next(NULL, NULL, 0), WEFT_EINVAL);
    weft_imap_free(NULL);
    /* Shut down while items are still to be submitted: those before surface, then the error. */
    weft_imap_opts o = WEFT_IMAP_OPTS_INIT;
    o.buffersize = 1;
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 5, &o, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "item 1"));
    ck_assert_weft(weft_imap_next(it, NULL, WEFT_SEC(30)), WEFT_ECLOSED);
    weft_imap_free(it);
    ck_assert_weft(weft_pool_imap(&it, p, square, NULL, 1, NULL, 0), WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

/* Found by tests/fuzz/future_fuzz.c: a callback added to a future released before it finished
 * stayed on the recycled record, and ran (with its stale arg) when the record's next future
 * finished; its node leaked when none did. It must never run. */
static void count_call(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(callback_of_a_future_released_unfinished_never_runs)
{
    for (int round = 0; round < 50; round++) {
        atomic_int stale = 0, fresh = 0;
        weft_future *a, *b;
        ck_assert_weft(weft_future_new(&a, NULL), 0);
        ck_assert_weft(weft_future_add_done_callback(a, count_call, &stale), 0);
        weft_future_unref(a); /* never finished: its callback never runs */
        ck_assert_weft(weft_future_new(&b, NULL), 0);
        ck_assert_weft(weft_future_add_done_callback(b, count_call, &fresh), 0);
        ck_assert_weft(weft_future_set_result(b, NULL, NULL), 0);
        weft_future_unref(b);
        ck_assert_int_eq(atomic_load(&fresh), 1);
        ck_assert_int_eq(atomic_load(&stale), 0);
    }
}
END_TEST

WEFT_TEST_SUITE(
    "future_api", 60, future_new_is_pending, set_result_from_another_thread_wakes_the_waiter,
    setting_twice_is_invalid_state, set_failure_travels_to_result_like_a_task_failure,
    set_running_then_cancel_fails, cancel_pending_then_set_running_says_cancelled,
    callbacks_run_once_in_order_on_the_setter, owned_result_is_freed_by_the_last_release,
    set_bytes_copies_and_bytes_gives_the_length, unseen_failure_is_reported_with_the_name,
    bad_arguments_are_errors, wait_and_as_completed_work_on_standalone_futures,
    worker_waiting_on_a_standalone_future_helps_its_pool,
    concurrent_setters_and_cancel_exactly_one_wins, wait_split_gives_done_and_not_done_in_order,
    wait_split_first_exception_without_failure_waits_for_all,
    wait_split_loop_consumes_every_future_once, wait_split_bad_arguments_leave_the_array,
    imap_yields_results_in_input_order, imap_buffersize_bounds_the_work_ahead,
    imap_streams_before_later_items_finish, imap_failure_surfaces_in_turn_and_ends_the_map,
    imap_timeout_is_measured_from_the_call, imap_takes_an_endless_input_lazily,
    imap_next_is_a_cancellation_point_that_keeps_the_iteration,
    imap_free_stops_running_items_and_waits, imap_on_a_closed_pool_and_bad_arguments,
    callback_of_a_future_released_unfinished_never_runs)
