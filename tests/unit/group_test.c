/* tests/unit/group_test.c - task groups: wait for all, first failure cancels the rest, nesting.
 * The behaviour tests run twice: with a thread per task and on a pool (16 workers, enough for
 * every task that blocks); then come the pool-only cases (helping, queued tasks). */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"
#include "tasks.h"
#include "test.h"
#include "test_hooks.h"

static enum { ON_THREADS, ON_POOL } mode;
static weft_pool *test_pool;

enum { TEST_WORKERS = 16 };
static weft_latch warm_running[TEST_WORKERS], warm_hold = WEFT_LATCH_INIT(1);

static int warm(void *arg, void **result)
{
    (void)result;
    weft_latch_count_down(arg, 1);
    return weft_latch_wait(&warm_hold, WEFT_SEC(30));
}

/* A pool whose TEST_WORKERS workers all run already. The pool starts a worker for a submit only
 * when none is idle, so a burst of tasks that block could otherwise wait behind the first. */
static weft_pool *make_test_pool(void)
{
    weft_pool *p = weft_test_pool(TEST_WORKERS);
    for (int i = 0; i < TEST_WORKERS; i++) {
        ck_assert_weft(weft_latch_init(&warm_running[i], 1), 0);
        ck_assert_weft(weft_pool_submit(p, warm, &warm_running[i], NULL, WEFT_FOREVER), 0);
        ck_assert_weft(weft_latch_wait(&warm_running[i], WEFT_SEC(10)), 0);
    }
    ck_assert_weft(weft_latch_count_down(&warm_hold, 1), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    return p;
}

/* A group in the current mode; nested groups made by tasks inherit it. */
static int new_group(weft_group **g, weft_scope *scope)
{
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.scope = scope;
    if (mode == ON_THREADS) {
        o.threads = 1;
    } else {
        if (test_pool == NULL) test_pool = make_test_pool();
        o.pool = test_pool;
    }
    return weft_group_new(g, &o);
}

static _Atomic int finished;

static int succeed(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
    return 0;
}

/* A sibling that blocks for a minute unless cancelled; records what its sleep returned. */
struct sleeper {
    _Atomic int rc;
    weft_latch *started;
};

static int sleep_long(void *arg)
{
    struct sleeper *s = arg;
    if (s->started) weft_latch_count_down(s->started, 1);
    int rc = weft_sleep(WEFT_SEC(60));
    atomic_store(&s->rc, rc);
    atomic_fetch_add(&finished, 1);
    return rc;
}

static int fail_soon(void *arg)
{
    weft_latch *ready = arg;
    if (ready) weft_latch_wait(ready, WEFT_SEC(10));
    return weft_error_set(-42, "disk %d is full", 7);
}

START_TEST(group_waits_for_every_task)
{
    _Atomic int n = 0;
    weft_group *g;
    ck_assert_weft(new_group(&g, NULL), 0);
    for (int i = 0; i < 8; i++) ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&n), 8);
    ck_assert_weft(weft_group_wait(g, 0), 0); /* the result stays */
    ck_assert_weft(weft_group_spawn(g, succeed, &n, "late"), WEFT_ECLOSED);
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_int_eq(atomic_load(&n), 8);
}
END_TEST

START_TEST(first_failure_cancels_siblings_and_is_the_result)
{
    enum { N = 4 };
    struct sleeper s[N];
    weft_latch started = WEFT_LATCH_INIT(N);
    weft_group *g;
    ck_assert_weft(new_group(&g, NULL), 0);
    for (int i = 0; i < N; i++) {
        s[i] = (struct sleeper){.rc = 1, .started = &started};
        ck_assert_weft(weft_group_spawn(g, sleep_long, &s[i], NULL), 0);
    }
    ck_assert_weft(weft_group_spawn(g, fail_soon, &started, "failer"), 0);
    weft_ns t0 = weft_now();
    weft_error_clear();
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(20)), -42);
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* siblings cut short, not slept out */
    ck_assert_int_eq(weft_error_code(), -42);
    ck_assert_str_eq(weft_error_message(), "disk 7 is full");
    for (int i = 0; i < N; i++) ck_assert_weft(atomic_load(&s[i].rc), WEFT_ECANCELED);
    char why[WEFT_SCOPE_REASON_MAX];
    int code = 0;
    ck_assert_int_eq(weft_scope_reason(weft_group_scope(g), &code, why, sizeof why), 1);
    ck_assert_int_eq(code, -42);
    ck_assert_str_eq(why, "task 'failer' failed: disk 7 is full");
    ck_assert_weft(weft_group_spawn(g, succeed, &finished, NULL), WEFT_ECLOSED);
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_weft(weft_checkpoint(), 0); /* the waiter itself is not cancelled */
}
END_TEST

static int fail_with_code(void *arg)
{
    return *(int *)arg; /* no message set: the code's text is used */
}

START_TEST(failure_without_message_uses_the_code_text)
{
    weft_group *g;
    int code = WEFT_EBROKEN, custom = 17;
    ck_assert_weft(new_group(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, fail_with_code, &code, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_EBROKEN);
    ck_assert_str_eq(weft_error_message(), weft_strerror(WEFT_EBROKEN));
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_weft(new_group(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, fail_with_code, &custom, NULL), 0);
    ck_assert_int_eq(weft_group_wait(g, WEFT_SEC(10)), 17);
    ck_assert_str_eq(weft_error_message(), "task returned 17");
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

/* A task that opens a group of its own: inner tasks from arg, the inner result returned. */
struct inner {
    int n_ok;
    int fail;            /* non-zero: one inner task fails with it */
    weft_latch *started; /* counted down by each inner sleeper, if set */
    struct sleeper *sleepers;
    int n_sleep;
    _Atomic int ok;
};

static int run_inner(void *arg)
{
    struct inner *in = arg;
    weft_group *g;
    int rc = weft_group_new(&g, NULL); /* on the same pool (or threads) as its parent group */
    if (rc) return rc;
    for (int i = 0; i < in->n_ok && rc == 0; i++) rc = weft_group_spawn(g, succeed, &in->ok, NULL);
    for (int i = 0; i < in->n_sleep && rc == 0; i++)
        rc = weft_group_spawn(g, sleep_long, &in->sleepers[i], NULL);
    if (rc == 0 && in->fail) rc = weft_group_spawn(g, fail_with_code, &in->fail, "inner-fail");
    if (rc == 0) rc = weft_group_wait(g, WEFT_FOREVER);
    weft_group_free(g); /* waits for the inner tasks whatever happened */
    return rc;
}

START_TEST(groups_nest)
{
    struct inner a = {.n_ok = 3}, b = {.n_ok = 2};
    weft_group *g;
    ck_assert_weft(new_group(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, run_inner, &a, "a"), 0);
    ck_assert_weft(weft_group_spawn(g, run_inner, &b, "b"), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&a.ok) + atomic_load(&b.ok), 5);
    ck_assert_weft(weft_group_free(g), 0);

    /* An inner failure fails the inner group, then the outer one, message and all. */
    struct sleeper s = {.rc = 1};
    struct inner c = {.n_ok = 1, .fail = WEFT_EDIED, .sleepers = &s, .n_sleep = 1};
    ck_assert_weft(new_group(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, run_inner, &c, "c"), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(20)), WEFT_EDIED);
    ck_assert_str_eq(weft_error_message(), weft_strerror(WEFT_EDIED));
    ck_assert_int_ne(atomic_load(&s.rc), 0); /* cancelled asleep, or never started */
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

START_TEST(cancelling_the_parent_scope_reaches_grandchildren)
{
    enum { N = 3 };
    struct sleeper s[2 * N];
    weft_latch started = WEFT_LATCH_INIT(2 * N);
    for (int i = 0; i < 2 * N; i++) s[i] = (struct sleeper){.rc = 1, .started = &started};
    struct inner a = {.sleepers = s, .n_sleep = N}, b = {.sleepers = s + N, .n_sleep = N};
    weft_scope *parent;
    ck_assert_weft(weft_scope_new(&parent, NULL, NULL), 0);
    weft_group *g;
    ck_assert_weft(new_group(&g, parent), 0);
    ck_assert_weft(weft_group_spawn(g, run_inner, &a, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, run_inner, &b, NULL), 0);
    ck_assert_weft(weft_latch_wait(&started, WEFT_SEC(10)), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_scope_cancel(parent, WEFT_ECANCELED, "shutting down"), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(20)), WEFT_ECANCELED);
    ck_assert_str_eq(weft_error_message(), "shutting down");
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* cut short, not slept out */
    for (int i = 0; i < 2 * N; i++) ck_assert_weft(atomic_load(&s[i].rc), WEFT_ECANCELED);
    ck_assert_weft(weft_group_free(g), 0);
    weft_scope_free(parent);
}
END_TEST

/* trio.move_on_after around a nursery: a scope with a deadline as the group's parent. */
START_TEST(deadline_scope_bounds_the_whole_group)
{
    struct sleeper s[2] = {{.rc = 1}, {.rc = 1}};
    weft_scope *limit;
    weft_scope_opts so = WEFT_SCOPE_OPTS_INIT;
    so.timeout = WEFT_MS(100);
    if (mode == ON_POOL && test_pool == NULL) test_pool = make_test_pool(); /* not on the clock */
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_scope_new(&limit, NULL, &so), 0);
    weft_group *g;
    ck_assert_weft(new_group(&g, limit), 0);
    /* A slow machine may reach a spawn after the deadline: the group refuses it then. */
    bool spawned[2];
    for (int i = 0; i < 2; i++) {
        int rc = weft_group_spawn(g, sleep_long, &s[i], NULL);
        ck_assert_msg(rc == 0 || (rc == WEFT_ECANCELED && weft_now() - t0 >= WEFT_MS(100)),
                      "spawn %d gave %s", i, weft_errname(rc));
        spawned[i] = rc == 0;
    }
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(20)), WEFT_ECANCELED);
    ck_assert_str_eq(weft_error_message(), "deadline passed");
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(100));
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* cut short, not slept out */
    for (int i = 0; i < 2; i++)
        if (spawned[i]) ck_assert_int_ne(atomic_load(&s[i].rc), 0);
    ck_assert_weft(weft_group_free(g), 0);
    weft_scope_free(limit);
}
END_TEST

START_TEST(group_cancel_stops_every_task)
{
    struct sleeper s[3];
    weft_latch started = WEFT_LATCH_INIT(3);
    weft_group *g;
    ck_assert_weft(new_group(&g, NULL), 0);
    for (int i = 0; i < 3; i++) {
        s[i] = (struct sleeper){.rc = 1, .started = &started};
        ck_assert_weft(weft_group_spawn(g, sleep_long, &s[i], NULL), 0);
    }
    ck_assert_weft(weft_latch_wait(&started, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_group_wait(g, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_group_wait(g, WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_group_cancel(g), 0);
    ck_assert_weft(weft_group_cancel(g), 0);
    ck_assert_weft(weft_group_spawn(g, succeed, &finished, NULL), WEFT_ECANCELED);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_str_eq(weft_error_message(), "group cancelled");
    for (int i = 0; i < 3; i++) ck_assert_weft(atomic_load(&s[i].rc), WEFT_ECANCELED);
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

static int cancel_scope_soon(void *arg)
{
    weft_shield_begin();
    weft_sleep(WEFT_MS(5));
    weft_shield_end();
    return weft_scope_cancel(arg, WEFT_ECANCELED, "waiter stopped");
}

START_TEST(cancelled_waiter_cancels_the_tasks)
{
    weft_latch started = WEFT_LATCH_INIT(1);
    struct sleeper s = {.rc = 1, .started = &started};
    weft_group *g;
    weft_scope *mine;
    weft_thread t;
    /* Not under the waiter's scope: the wait must pass the cancellation on. */
    ck_assert_weft(new_group(&g, weft_scope_root()), 0);
    ck_assert_weft(weft_group_spawn(g, sleep_long, &s, NULL), 0);
    ck_assert_weft(weft_latch_wait(&started, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_scope_new(&mine, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(mine), 0);
    ck_assert_weft(weft_thread_start(&t, cancel_scope_soon, mine, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_weft(weft_scope_exit(), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_ECANCELED); /* the group's result */
    ck_assert_weft(atomic_load(&s.rc), WEFT_ECANCELED);
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(10)), 0);
    weft_scope_free(mine);
}
END_TEST

START_TEST(free_cancels_and_waits_for_running_tasks)
{
    enum { N = 4 };
    struct sleeper s[N];
    weft_latch started = WEFT_LATCH_INIT(N);
    weft_group *g;
    atomic_store(&finished, 0);
    ck_assert_weft(new_group(&g, NULL), 0);
    for (int i = 0; i < N; i++) {
        s[i] = (struct sleeper){.rc = 1, .started = &started};
        ck_assert_weft(weft_group_spawn(g, sleep_long, &s[i], NULL), 0);
    }
    ck_assert_weft(weft_latch_wait(&started, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_int_eq(atomic_load(&finished), N);
    for (int i = 0; i < N; i++) ck_assert_weft(atomic_load(&s[i].rc), WEFT_ECANCELED);
}
END_TEST

struct self_call {
    weft_group *g;
    _Atomic int wait_rc, free_rc, spawn_rc;
    _Atomic int n;
};

static int call_own_group(void *arg)
{
    struct self_call *c = arg;
    atomic_store(&c->wait_rc, weft_group_wait(c->g, WEFT_SEC(1)));
    atomic_store(&c->free_rc, weft_group_free(c->g));
    atomic_store(&c->spawn_rc, weft_group_spawn(c->g, succeed, &c->n, "sibling"));
    return 0;
}

START_TEST(task_may_spawn_siblings_but_not_wait_for_its_group)
{
    struct self_call c = {.wait_rc = 1, .free_rc = 1, .spawn_rc = 1, .n = 0};
    ck_assert_weft(new_group(&c.g, NULL), 0);
    ck_assert_weft(weft_group_spawn(c.g, call_own_group, &c, NULL), 0);
    ck_assert_weft(weft_group_wait(c.g, WEFT_SEC(10)), 0);
    ck_assert_weft(atomic_load(&c.wait_rc), WEFT_EDEADLK);
    ck_assert_weft(atomic_load(&c.free_rc), WEFT_EDEADLK);
    ck_assert_weft(atomic_load(&c.spawn_rc), 0);
    ck_assert_int_eq(atomic_load(&c.n), 1); /* the wait covered the sibling too */
    ck_assert_weft(weft_group_free(c.g), 0);
}
END_TEST

START_TEST(bad_arguments_are_error_codes)
{
    weft_group *g = NULL;
    char long_name[WEFT_THREAD_NAME_MAX + 1];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    weft_group_opts both = WEFT_GROUP_OPTS_INIT;
    both.threads = 1;
    both.pool = weft_pool_default();
    ck_assert_weft(weft_group_new(NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_group_new(&g, &both), WEFT_EINVAL);
    ck_assert_weft(weft_group_spawn(NULL, succeed, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_group_wait(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_group_cancel(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_group_free(NULL), WEFT_EINVAL);
    ck_assert_ptr_null(weft_group_scope(NULL));
    ck_assert_weft(new_group(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_group_spawn(g, succeed, &finished, long_name), WEFT_EINVAL);
    ck_assert_weft(weft_group_wait(g, -1), WEFT_EINVAL);
    ck_assert_weft(weft_group_wait(g, 0), 0); /* empty: done at once */
    ck_assert_weft(weft_group_free(g), 0);

    /* Failed spawns call nothing and do not cancel the group. */
    _Atomic int n = 0;
    ck_assert_weft(new_group(&g, NULL), 0);
    weft__fault_arm(WEFT__FAULT_THREAD_CREATE, 1);
    ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), WEFT_EAGAIN);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), WEFT_ENOMEM);
    ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&n), 1);
    ck_assert_weft(weft_group_free(g), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(new_group(&g, NULL), WEFT_ENOMEM);
}
END_TEST

static int fail_a(void *arg)
{
    (void)arg;
    return weft_error_set(-7, "a failed");
}

static int fail_b(void *arg)
{
    (void)arg;
    weft_sleep(0);
    return weft_error_set(-8, "b failed");
}

static int succeed_or_cancelled(void *arg)
{
    (void)arg;
    return weft_checkpoint();
}

/* Two failures racing each other and a success: the result is exactly one of the failures,
 * with its own message. */
START_TEST(failure_racing_failure_and_success)
{
    long rounds = weft_test_scale(400);
    int seen_a = 0, seen_b = 0;
    for (long r = 0; r < rounds; r++) {
        weft_group *g;
        ck_assert_weft(new_group(&g, NULL), 0);
        ck_assert_weft(weft_group_spawn(g, succeed_or_cancelled, NULL, NULL), 0);
        ck_assert_weft(weft_group_spawn(g, r % 2 ? fail_a : fail_b, NULL, NULL), 0);
        int rc = weft_group_spawn(g, r % 2 ? fail_b : fail_a, NULL, NULL);
        ck_assert(rc == 0 || rc == WEFT_ECANCELED);
        rc = weft_group_wait(g, WEFT_SEC(10));
        ck_assert(rc == -7 || rc == -8);
        ck_assert_str_eq(weft_error_message(), rc == -7 ? "a failed" : "b failed");
        seen_a += rc == -7;
        seen_b += rc == -8;
        ck_assert_weft(weft_group_free(g), 0);
    }
    ck_assert_int_eq(seen_a + seen_b, rounds);
}
END_TEST

/* Each test above runs with a thread per task; here the same bodies run on a pool (Check's
 * START_TEST names a test's body NAME_fn). */
/* clang-format off */
#define ON_A_POOL(name) \
    START_TEST(name##_on_a_pool) { mode = ON_POOL; name##_fn(0); } END_TEST
/* clang-format on */
ON_A_POOL(group_waits_for_every_task)
ON_A_POOL(first_failure_cancels_siblings_and_is_the_result)
ON_A_POOL(failure_without_message_uses_the_code_text)
ON_A_POOL(groups_nest)
ON_A_POOL(cancelling_the_parent_scope_reaches_grandchildren)
ON_A_POOL(group_cancel_stops_every_task)
ON_A_POOL(deadline_scope_bounds_the_whole_group)
ON_A_POOL(cancelled_waiter_cancels_the_tasks)
ON_A_POOL(free_cancels_and_waits_for_running_tasks)
ON_A_POOL(task_may_spawn_siblings_but_not_wait_for_its_group)
ON_A_POOL(failure_racing_failure_and_success)

/* ---- pool only ---- */

static int on_default_pool(void *arg)
{
    atomic_store((_Atomic int *)arg, weft__test_pool_of_caller() == weft_pool_default());
    return 0;
}

START_TEST(tasks_run_on_the_default_pool_when_no_pool_is_given)
{
    _Atomic int on_pool = 0;
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, NULL), 0);
    ck_assert_weft(weft_group_spawn(g, on_default_pool, &on_pool, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&on_pool), 1);
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

/* A task waiting for its inner group runs the queued inner tasks itself. */
START_TEST(nested_groups_on_a_pool_of_one_worker_do_not_deadlock)
{
    struct inner in[3] = {{.n_ok = 3}, {.n_ok = 3}, {.n_ok = 3}};
    weft_pool *p = weft_test_pool(1);
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.pool = p;
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_group_spawn(g, run_inner, &in[i], NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), 0);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(atomic_load(&in[i].ok), 3);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

struct gate {
    weft_latch started, go;
    _Atomic int rc;
};

static int wait_at_gate(void *arg)
{
    struct gate *k = arg;
    weft_latch_count_down(&k->started, 1);
    atomic_store(&k->rc, weft_latch_wait(&k->go, WEFT_SEC(30)));
    return 0;
}

/* One worker, busy: the queued tasks have not started when the group is cancelled. */
START_TEST(queued_tasks_of_a_cancelled_group_never_run)
{
    struct gate k = {WEFT_LATCH_INIT(1), WEFT_LATCH_INIT(1), 1};
    _Atomic int n = 0;
    weft_pool *p = weft_test_pool(1);
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.pool = p;
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    ck_assert_weft(weft_group_spawn(g, wait_at_gate, &k, "gate"), 0);
    ck_assert_weft(weft_latch_wait(&k.started, WEFT_SEC(10)), 0);
    for (int i = 0; i < 5; i++) ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), 0);
    ck_assert_weft(weft_group_cancel(g), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_weft(atomic_load(&k.rc), WEFT_ECANCELED);
    ck_assert_int_eq(atomic_load(&n), 0);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

/* A cancelling pool shutdown drops queued tasks: the group learns it and does not hang. */
START_TEST(pool_shutdown_dropping_queued_tasks_ends_them)
{
    struct gate k = {WEFT_LATCH_INIT(1), WEFT_LATCH_INIT(1), 1};
    _Atomic int n = 0;
    weft_pool *p = weft_test_pool(1);
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.pool = p;
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    ck_assert_weft(weft_group_spawn(g, wait_at_gate, &k, "gate"), 0);
    ck_assert_weft(weft_latch_wait(&k.started, WEFT_SEC(10)), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), 0);
    ck_assert_weft(weft_pool_shutdown(p, 0, 1, 0), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_str_eq(weft_error_message(), "task dropped by its pool before it ran");
    ck_assert_weft(atomic_load(&k.rc), WEFT_ECANCELED); /* the group cancelled the gate */
    ck_assert_int_eq(atomic_load(&n), 0);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

static weft_latch init_gate = WEFT_LATCH_INIT(1);

static int init_waits_then_fails(void *arg)
{
    (void)arg;
    weft_latch_wait(&init_gate, WEFT_SEC(30));
    return weft_error_set(WEFT_ENOSPC, "no scratch space");
}

/* The pool breaks (its worker's initializer fails) while the group's tasks are queued: they
 * never run, the group learns it (it does not hang) and fails with the pool's WEFT_EBROKEN. */
START_TEST(broken_pool_fails_the_queued_tasks_of_a_group)
{
    _Atomic int n = 0;
    weft_pool *p = weft_test_pool_with((weft_pool_opts){
        .max_workers = 1, .name_prefix = "scratch", .init = init_waits_then_fails});
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.pool = p;
    weft_group *g;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), 0);
    ck_assert_weft(weft_latch_count_down(&init_gate, 1), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_EBROKEN);
    ck_assert_str_eq(weft_error_message(),
                     "pool broken: the initializer of worker scratch-1 failed: no scratch space");
    ck_assert_int_eq(atomic_load(&n), 0);
    ck_assert_weft(weft_group_spawn(g, succeed, &n, NULL), WEFT_ECLOSED);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

/* Issue "tasks cancelled through an ancestor are reported": a group's tasks, on threads or on
 * a pool, stopped through a cancelled ancestor of the group's scope, reach neither the thread
 * nor the pool error hook (the group gives WEFT_ECANCELED to its waiter). */
static atomic_int hook_reports;

static void count_pool_report(const char *name, int status, const char *message, void *arg)
{
    (void)name, (void)status, (void)message, (void)arg;
    atomic_fetch_add(&hook_reports, 1);
}

static void count_thread_report(weft_thread t, const char *name, int status, const char *message,
                                void *arg)
{
    (void)t, (void)name, (void)status, (void)message, (void)arg;
    atomic_fetch_add(&hook_reports, 1);
}

static int sleep_after_release(void *arg)
{
    weft_sem_release(arg, 1);
    return weft_sleep(WEFT_SEC(60));
}

START_TEST(tasks_stopped_through_an_ancestor_are_not_reported)
{
    ck_assert_weft(weft_pool_set_error_hook(count_pool_report, NULL), 0);
    ck_assert_weft(weft_thread_set_error_hook(count_thread_report, NULL), 0);
    for (int threads = 0; threads < 2; threads++) {
        weft_scope *top;
        ck_assert_weft(weft_scope_new(&top, NULL, NULL), 0);
        weft_group *g;
        weft_group_opts o = WEFT_GROUP_OPTS_INIT;
        o.scope = top;
        o.threads = threads;
        ck_assert_weft(weft_group_new(&g, &o), 0);
        weft_sem started = WEFT_SEM_INIT(0);
        for (int i = 0; i < 2; i++)
            ck_assert_weft(weft_group_spawn(g, sleep_after_release, &started, "sleeper"), 0);
        for (int i = 0; i < 2; i++) ck_assert_weft(weft_sem_acquire(&started, WEFT_SEC(10)), 0);
        ck_assert_weft(weft_scope_cancel(top, WEFT_ECANCELED, "Ctrl-C"), 0);
        ck_assert_weft(weft_group_wait(g, WEFT_SEC(10)), WEFT_ECANCELED);
        ck_assert_weft(weft_group_free(g), 0);
        weft_scope_free(top);
    }
    ck_assert_weft(weft_pool_shutdown(weft_pool_default(), 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&hook_reports), 0);
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
    ck_assert_weft(weft_thread_set_error_hook(NULL, NULL), 0);
}
END_TEST

WEFT_TEST_SUITE("group", 30, tasks_stopped_through_an_ancestor_are_not_reported,
                group_waits_for_every_task, first_failure_cancels_siblings_and_is_the_result,
                failure_without_message_uses_the_code_text, groups_nest,
                cancelling_the_parent_scope_reaches_grandchildren,
                deadline_scope_bounds_the_whole_group, group_cancel_stops_every_task,
                cancelled_waiter_cancels_the_tasks, free_cancels_and_waits_for_running_tasks,
                task_may_spawn_siblings_but_not_wait_for_its_group, bad_arguments_are_error_codes,
                failure_racing_failure_and_success, group_waits_for_every_task_on_a_pool,
                first_failure_cancels_siblings_and_is_the_result_on_a_pool,
                failure_without_message_uses_the_code_text_on_a_pool, groups_nest_on_a_pool,
                cancelling_the_parent_scope_reaches_grandchildren_on_a_pool,
                group_cancel_stops_every_task_on_a_pool,
                deadline_scope_bounds_the_whole_group_on_a_pool,
                cancelled_waiter_cancels_the_tasks_on_a_pool,
                free_cancels_and_waits_for_running_tasks_on_a_pool,
                task_may_spawn_siblings_but_not_wait_for_its_group_on_a_pool,
                failure_racing_failure_and_success_on_a_pool,
                tasks_run_on_the_default_pool_when_no_pool_is_given,
                nested_groups_on_a_pool_of_one_worker_do_not_deadlock,
                queued_tasks_of_a_cancelled_group_never_run,
                pool_shutdown_dropping_queued_tasks_ends_them,
                broken_pool_fails_the_queued_tasks_of_a_group)
