/* tests/unit/pool_inline_test.c - opts.inline_depth, libgomp's cut-off: a submit to a deep
 * pool runs its task itself, on the calling thread, before it returns; never when the option
 * is off, the pool paused or shut down. The pool is made deep deterministically: its one
 * worker is held in a task until the test lets go, so nothing queued moves. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#include "tasks.h"
#include "test.h"

/* Held: set `started` then wait for `release` (what keeps the worker busy). */
struct hold {
    weft_event started, release;
};

static int hold_task(void *arg, void **result)
{
    struct hold *h = arg;
    (void)result;
    weft_event_set(&h->started);
    return weft_event_wait(&h->release, WEFT_SEC(60));
}

/* A probe: where and how often it ran. */
struct probe {
    pthread_t on;
    atomic_int runs;
    int status; /* what it returns (with a message when not 0) */
};

static int probe_task(void *arg, void **result)
{
    struct probe *pr = arg;
    pr->on = pthread_self();
    atomic_fetch_add(&pr->runs, 1);
    *result = pr;
    if (pr->status != 0) return weft_error_set(pr->status, "probe failed on purpose");
    return 0;
}

static pthread_t main_thread;
static atomic_int ran_on_main, ran_elsewhere;

static int where_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    if (pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&ran_on_main, 1);
    else
        atomic_fetch_add(&ran_elsewhere, 1);
    return 0;
}

/* Hold p's one worker; then queue n tasks behind it (where_task). */
static void hold_and_fill(weft_pool *p, struct hold *h, int n)
{
    main_thread = pthread_self();
    weft_event_init(&h->started);
    weft_event_init(&h->release);
    ck_assert_weft(weft_pool_submit(p, hold_task, h, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&h->started, WEFT_SEC(30)), 0);
    for (int i = 0; i < n; i++)
        ck_assert_weft(weft_pool_submit(p, where_task, NULL, NULL, WEFT_FOREVER), 0);
}

static void let_go(weft_pool *p, struct hold *h)
{
    weft_event_set(&h->release);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
}

START_TEST(off_by_default_nothing_runs_on_the_submitter)
{
    weft_pool_opts z;
    memset(&z, 0, sizeof z); /* all-zero: inline_depth 0 */
    z.max_workers = 1;
    weft_pool *p = weft_test_pool_with(z);
    struct hold h;
    hold_and_fill(p, &h, 2000);
    ck_assert_int_eq(atomic_load(&ran_on_main), 0);
    ck_assert_int_eq(atomic_load(&ran_elsewhere), 0); /* all still queued behind the hold */
    let_go(p, &h);
    ck_assert_int_eq(atomic_load(&ran_on_main), 0);
    ck_assert_int_eq(atomic_load(&ran_elsewhere), 2000);
    weft_pool_free(p);
}
END_TEST

START_TEST(deep_pool_runs_the_task_on_the_submitter_before_it_returns)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    struct hold h;
    hold_and_fill(p, &h, 64); /* past the cut-off (1 x 1 worker) by the second look */
    ck_assert_int_gt(atomic_load(&ran_on_main), 0);
    int queued = 64 - atomic_load(&ran_on_main);
    ck_assert_int_eq(atomic_load(&ran_elsewhere), 0);
    struct probe pr = {.runs = 0};
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, probe_task, &pr, &f, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_future_done(f), 1); /* ran before the submit returned */
    ck_assert_int_eq(atomic_load(&pr.runs), 1);
    ck_assert(pthread_equal(pr.on, pthread_self()));
    void *res = NULL;
    ck_assert_weft(weft_future_result(f, &res, 0), 0);
    ck_assert_ptr_eq(res, &pr);
    weft_future_unref(f);
    let_go(p, &h);
    ck_assert_int_eq(atomic_load(&ran_elsewhere), queued); /* each exactly once */
    ck_assert_int_eq(atomic_load(&ran_on_main) + atomic_load(&ran_elsewhere), 64);
    ck_assert_int_eq(atomic_load(&pr.runs), 1);
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(p, &st), 0); /* this thread's own runs are counted */
    ck_assert_uint_eq(st.submitted, 66);
    ck_assert_uint_eq(st.completed, 66);
    weft_pool_free(p);
}
END_TEST

static char hook_name[32];
static char hook_msg[128];
static int hook_status, hook_calls;
static pthread_t hook_on;

static void hook(const char *name, int status, const char *message, void *arg)
{
    (void)arg;
    snprintf(hook_name, sizeof hook_name, "%s", name);
    snprintf(hook_msg, sizeof hook_msg, "%s", message);
    hook_status = status;
    hook_on = pthread_self();
    hook_calls++;
}

START_TEST(an_inline_failure_reaches_its_future_or_the_error_hook)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    struct hold h;
    hold_and_fill(p, &h, 64);
    struct probe pr = {.status = WEFT_ERANGE};
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, probe_task, &pr, &f, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_str_eq(weft_error_message(), ""); /* the task's message is not the caller's */
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_ERANGE);
    ck_assert_str_eq(weft_error_message(), "probe failed on purpose");
    weft_future_unref(f);
    ck_assert_weft(weft_pool_set_error_hook(hook, NULL), 0);
    struct probe pr2 = {.status = WEFT_ERANGE};
    ck_assert_weft(weft_pool_submit_named(p, "inl", probe_task, &pr2, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(hook_calls, 1); /* reported before the submit returned */
    ck_assert(pthread_equal(hook_on, pthread_self()));
    ck_assert_str_eq(hook_name, "inl");
    ck_assert_int_eq(hook_status, WEFT_ERANGE);
    ck_assert_str_eq(hook_msg, "probe failed on purpose");
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
    let_go(p, &h);
    weft_pool_free(p);
}
END_TEST

static int status_task(void *arg, void **result)
{
    (void)result;
    weft_error_clear(); /* no message: the report falls back to the code's text or number */
    return (int)(intptr_t)arg;
}

START_TEST(inline_fire_and_forget_reports_as_a_queued_task_would)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    struct hold h;
    hold_and_fill(p, &h, 64);
    ck_assert_weft(weft_pool_set_error_hook(hook, NULL), 0);
    hook_calls = 0;
    ck_assert_weft(weft_pool_submit(p, status_task, (void *)(intptr_t)5, NULL, 0), 0);
    ck_assert_int_eq(hook_calls, 1);
    ck_assert_str_eq(hook_name, "");
    ck_assert_int_eq(hook_status, 5);
    ck_assert_str_eq(hook_msg, "task returned 5");
    ck_assert_weft(weft_pool_submit_named(p, "a-name-longer-than-thirty-one-bytes", status_task,
                                          (void *)(intptr_t)WEFT_ETIMEDOUT, NULL, 0),
                   0);
    ck_assert_int_eq(hook_calls, 2);
    ck_assert_str_eq(hook_name, "a-name-longer-than-thirty-one-b"); /* cut as a record's */
    ck_assert_str_eq(hook_msg, weft_strerror(WEFT_ETIMEDOUT));
    /* Cancelled in the scope it ran in (the submitter's): not a failure, not reported. */
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "stop"), 0);
    ck_assert_weft(weft_pool_submit(p, status_task, (void *)(intptr_t)WEFT_ECANCELED, NULL, 0), 0);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
    ck_assert_int_eq(hook_calls, 2);
    ck_assert_weft(weft_pool_submit(p, status_task, (void *)(intptr_t)WEFT_ECANCELED, NULL, 0), 0);
    ck_assert_int_eq(hook_calls, 3); /* no cancelled scope now: a failure */
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
    let_go(p, &h);
    weft_pool_free(p);
}
END_TEST

START_TEST(paused_or_shut_down_pools_never_run_a_task_on_the_submitter)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    struct hold h;
    hold_and_fill(p, &h, 64);
    int before = atomic_load(&ran_on_main);
    ck_assert_weft(weft_pool_pause(p), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_weft(weft_pool_submit(p, where_task, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&ran_on_main), before); /* all queued */
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_shutdown(p, 0, 0, 0), 0);
    struct probe pr = {.runs = 0};
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit(p, probe_task, &pr, &f, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(atomic_load(&pr.runs), 0);
    weft_event_set(&h.release);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&ran_on_main) + atomic_load(&ran_elsewhere), 264);
    ck_assert_int_eq(atomic_load(&pr.runs), 0);
    weft_pool_free(p);
}
END_TEST

START_TEST(an_inline_task_takes_no_place_among_max_queued)
{
    weft_pool *p = weft_test_pool_with(
        (weft_pool_opts){.max_workers = 1, .inline_depth = 1, .max_queued = 40});
    struct hold h;
    hold_and_fill(p, &h, 33);     /* 32 queued at most, then deep */
    for (int i = 0; i < 500; i++) /* full would be WEFT_EAGAIN with timeout 0 */
        ck_assert_weft(weft_pool_submit(p, where_task, NULL, NULL, 0), 0);
    ck_assert_int_ge(atomic_load(&ran_on_main), 500);
    let_go(p, &h);
    ck_assert_int_eq(atomic_load(&ran_on_main) + atomic_load(&ran_elsewhere), 533);
    weft_pool_free(p);
}
END_TEST

/* task_scopes: an inline task still gets its own scope, a child of the submitter's. */
static int scope_task(void *arg, void **result)
{
    weft_scope **seen = arg;
    *seen = weft_scope_current();
    *result = NULL;
    return 0;
}

START_TEST(with_task_scopes_an_inline_task_runs_in_its_own_scope)
{
    weft_pool *p = weft_test_pool_with(
        (weft_pool_opts){.max_workers = 1, .inline_depth = 1, .task_scopes = 1});
    struct hold h;
    hold_and_fill(p, &h, 64);
    ck_assert_int_gt(atomic_load(&ran_on_main), 0);
    weft_scope *seen = NULL, *mine = weft_scope_current();
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, scope_task, &seen, &f, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_future_done(f), 1);
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_ne(seen, mine);
    ck_assert_ptr_eq(weft_scope_current(), mine); /* left again */
    weft_future_unref(f);
    let_go(p, &h);
    weft_pool_free(p);
}
END_TEST

/* A worker whose own deque is deep runs its new children itself. */
struct parent {
    weft_pool *p;
    struct probe kids[10];
    int done_at_return[10];
};

static int parent_task(void *arg, void **result)
{
    struct parent *pa = arg;
    (void)result;
    for (int i = 0; i < 10; i++) {
        int rc = weft_pool_submit(pa->p, probe_task, &pa->kids[i], NULL, WEFT_FOREVER);
        if (rc != 0) return rc;
        pa->done_at_return[i] = atomic_load(&pa->kids[i].runs);
    }
    return 0;
}

START_TEST(a_worker_with_a_deep_deque_runs_new_tasks_itself)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 2});
    struct parent pa;
    memset(&pa, 0, sizeof pa);
    pa.p = p;
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, parent_task, &pa, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    /* Its one worker runs the parent; nobody steals: children 1-3 wait in its deque, from the
     * 4th on the deque holds more than 2 and each runs at once, on the same thread. */
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(pa.done_at_return[i], i < 3 ? 0 : 1);
        ck_assert_int_eq(atomic_load(&pa.kids[i].runs), 1);
    }
    ck_assert(pthread_equal(pa.kids[9].on, pa.kids[0].on));
    weft_pool_free(p);
}
END_TEST

/* A chain of tasks that each submit the next: inline runs nest only so deep, the rest queue. */
static weft_pool *chain_pool;
static atomic_int chain_runs;

static int chain_task(void *arg, void **result)
{
    intptr_t left = (intptr_t)arg;
    (void)result;
    atomic_fetch_add(&chain_runs, 1);
    if (left == 0) return 0;
    return weft_pool_submit(chain_pool, chain_task, (void *)(left - 1), NULL, WEFT_FOREVER);
}

START_TEST(a_chain_of_submits_does_not_nest_without_end)
{
    chain_pool = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    struct hold h;
    hold_and_fill(chain_pool, &h, 64);
    ck_assert_weft(
        weft_pool_submit(chain_pool, chain_task, (void *)(intptr_t)10000, NULL, WEFT_FOREVER), 0);
    let_go(chain_pool, &h);
    ck_assert_int_eq(atomic_load(&chain_runs), 10001);
    weft_pool_free(chain_pool);
}
END_TEST

/* pool.h: an outside thread's inline runs are counted in batches; one that goes on to submit
 * to another pool leaves them counted in the first (not lost), so its stats add up. */
START_TEST(inline_runs_stay_counted_when_the_thread_moves_to_another_pool)
{
    weft_pool *a = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1});
    weft_pool *b = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 1000});
    struct hold h;
    hold_and_fill(a, &h, 64);
    int inline_runs = atomic_load(&ran_on_main);
    ck_assert_int_gt(inline_runs, 0);
    ck_assert_weft(weft_pool_submit(b, where_task, NULL, NULL, WEFT_FOREVER), 0);
    let_go(a, &h);
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(a, &st), 0); /* from b's thread-local now: no flush of a */
    ck_assert_uint_eq(st.submitted, 65);
    ck_assert_uint_eq(st.completed, 65);
    ck_assert_weft(weft_pool_wait_idle(b, WEFT_SEC(30)), 0);
    weft_pool_free(a);
    weft_pool_free(b);
}
END_TEST

/* A task on p's one worker: queues 3 children on its own deque (past inline_depth 2), then
 * submits 5 more with futures, which run inline; all must succeed. */
static int five_inline(void *arg, void **result)
{
    weft_pool *p = arg;
    (void)result;
    weft_future *f[8];
    for (int i = 0; i < 8; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &f[i], 0), 0);
    for (int i = 3; i < 8; i++) ck_assert_int_eq(weft_future_done(f[i]), 1); /* ran inline */
    for (int i = 0; i < 8; i++) weft_future_unref(f[i]);
    return 0;
}

/* pool.h: an inline task takes no place among max_queued, so it gives none back either: after
 * inline runs the bound still holds (it grew by one per inline run with a future before). */
START_TEST(inline_runs_leave_the_max_queued_bound_as_it_was)
{
    weft_pool *p =
        weft_test_pool_with((weft_pool_opts){.max_workers = 1, .inline_depth = 2, .max_queued = 8});
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, five_inline, p, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    struct hold h;
    hold_and_fill(p, &h, 0); /* the worker held; its place is given back as it starts */
    int accepted = 0;
    for (int i = 0; i < 20; i++) /* fewer than 32: this thread does not look at the backlog */
        if (weft_pool_submit(p, where_task, NULL, NULL, 0) == 0) accepted++;
    ck_assert_int_eq(accepted, 8);
    let_go(p, &h);
    weft_pool_free(p);
}
END_TEST

/* The race: outside submitters (futures and fire-and-forget), a thread calling wait_idle and
 * stats, then a shutdown racing the submits; every accepted task runs exactly once, every
 * refused one never. */
enum { SUBMITTERS = 2 };

struct racer {
    weft_pool *p;
    int n;
    atomic_int *runs; /* one per task */
    atomic_int accepted;
};

static int mark_task(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < r->n; i++) {
        weft_future *f = NULL;
        int rc = weft_pool_submit(r->p, mark_task, &r->runs[i], (i & 3) ? NULL : &f, 0);
        if (rc == 0) {
            atomic_fetch_add(&r->accepted, 1);
            if (f) {
                ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
                weft_future_unref(f);
            }
        } else {
            ck_assert_weft(rc, WEFT_ECLOSED);
            atomic_store(&r->runs[i], -1000); /* must stay negative: never ran */
        }
    }
    return NULL;
}

START_TEST(race_inline_submits_wait_idle_stats_and_shutdown)
{
    long rounds = weft_test_scale(20);
    int n = 3000;
    static atomic_int runs[SUBMITTERS][3000];
    for (long round = 0; round < rounds; round++) {
        weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 2, .inline_depth = 1});
        struct racer rs[SUBMITTERS];
        pthread_t th[SUBMITTERS];
        for (int s = 0; s < SUBMITTERS; s++) {
            for (int i = 0; i < n; i++) atomic_init(&runs[s][i], 0);
            rs[s] = (struct racer){.p = p, .n = n, .runs = runs[s]};
            ck_assert_int_eq(pthread_create(&th[s], NULL, racer_main, &rs[s]), 0);
        }
        struct weft_pool_stats st;
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
        ck_assert_weft(weft_pool_stats(p, &st), 0);
        weft_test_stagger(round);
        if (round & 1) ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(30)), 0);
        for (int s = 0; s < SUBMITTERS; s++) ck_assert_int_eq(pthread_join(th[s], NULL), 0);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
        for (int s = 0; s < SUBMITTERS; s++)
            for (int i = 0; i < n; i++) {
                int v = atomic_load(&runs[s][i]);
                ck_assert_msg(v == 1 || v == -1000, "task %d of %d ran %d times", i, s, v);
            }
        weft_pool_free(p);
    }
}
END_TEST

WEFT_TEST_SUITE("pool_inline", 120, off_by_default_nothing_runs_on_the_submitter,
                deep_pool_runs_the_task_on_the_submitter_before_it_returns,
                an_inline_failure_reaches_its_future_or_the_error_hook,
                inline_fire_and_forget_reports_as_a_queued_task_would,
                paused_or_shut_down_pools_never_run_a_task_on_the_submitter,
                an_inline_task_takes_no_place_among_max_queued,
                with_task_scopes_an_inline_task_runs_in_its_own_scope,
                a_worker_with_a_deep_deque_runs_new_tasks_itself,
                a_chain_of_submits_does_not_nest_without_end,
                inline_runs_stay_counted_when_the_thread_moves_to_another_pool,
                inline_runs_leave_the_max_queued_bound_as_it_was,
                race_inline_submits_wait_idle_stats_and_shutdown)
