/* tests/unit/pool_test.c - the pool: map, shutdown (waiting, cancelling, timing out), nested
 * waits on one worker, parallel for/reduce, wait_idle, pause, back-pressure, stats, names,
 * initializers and the pool they break (BrokenThreadPool), the default pool, bad input (modelled
 * on CPython's test_concurrent_futures). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "pool/hooks.h"
#include "pool/pool_internal.h"
#include "tasks.h"
#include "test.h"

static int square(void *arg, void **result)
{
    intptr_t x = (intptr_t)arg;
    *result = (void *)(x * x);
    return 0;
}

static int square_fails_on_13(void *arg, void **result)
{
    intptr_t x = (intptr_t)arg;
    if (x == 13 || x == 40) return weft_error_set(WEFT_ERANGE, "no %d", (int)x);
    return square(arg, result);
}

START_TEST(map_gives_results_in_order)
{
    weft_pool *p = weft_test_pool(3);
    enum { N = 1000 };
    void *args[N], *res[N];
    for (intptr_t i = 0; i < N; i++) args[i] = (void *)i;
    size_t chunks[] = {0, 1, 7, N};
    for (size_t c = 0; c < 4; c++) {
        ck_assert_weft(weft_pool_map(p, square, args, res, N, chunks[c], WEFT_SEC(10)), 0);
        for (intptr_t i = 0; i < N; i++) ck_assert_int_eq((intptr_t)res[i], i * i);
    }
    /* The failure with the lowest index is the one reported. */
    weft_error_clear();
    ck_assert_weft(weft_pool_map(p, square_fails_on_13, args, res, N, 5, WEFT_SEC(10)),
                   WEFT_ERANGE);
    ck_assert_str_eq(weft_error_message(), "no 13");
    ck_assert_weft(weft_pool_map(p, square, args, res, 0, 0, WEFT_SEC(10)), 0);
    weft_pool_free(p);
}
END_TEST

START_TEST(map_timeout_stops_and_waits_for_running_chunks)
{
    weft_pool *p = weft_test_pool(1);
    weft_event gate;
    weft_event_init(&gate);
    weft_future *blocker;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &blocker, WEFT_FOREVER), 0);
    void *args[4] = {0};
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_map(p, weft_test_count_run, args, NULL, 4, 1, WEFT_MS(20)),
                   WEFT_ETIMEDOUT);
    weft_event_set(&gate); /* map returned only after releasing its chunks: none may run now */
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    weft_future_unref(blocker);
    weft_pool_free(p);
}
END_TEST

START_TEST(shutdown_wait_runs_every_queued_task)
{
    weft_pool *p = weft_test_pool(2);
    atomic_store(&weft_test_runs, 0);
    for (int i = 0; i < 500; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 500);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER),
                   WEFT_ECLOSED);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0); /* twice is fine */
    weft_pool_free(p);
}
END_TEST

static int sleep_then_count(void *arg, void **result)
{
    (void)result;
    weft_event_set(arg);
    int rc = weft_sleep(WEFT_SEC(60));
    atomic_fetch_add(&weft_test_runs, 1);
    return rc;
}

START_TEST(shutdown_cancel_pending_cancels_queued_and_running)
{
    weft_pool *p = weft_test_pool(1);
    weft_event started;
    weft_event_init(&started);
    weft_future *running, *queued[10];
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_submit(p, sleep_then_count, &started, &running, WEFT_FOREVER), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &queued[i], WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(30)), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_pool_shutdown(p, 0, 1, WEFT_FOREVER), 0); /* no wait: returns at once */
    for (int i = 0; i < 10; i++) ck_assert_int_eq(weft_future_cancelled(queued[i]), 1);
    ck_assert_weft(weft_future_result(running, NULL, WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* cut short, not slept out */
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 1); /* only the running one, cut short */
    for (int i = 0; i < 10; i++) weft_future_unref(queued[i]);
    weft_future_unref(running);
    weft_pool_free(p);
}
END_TEST

static int stubborn(void *arg, void **result)
{
    (void)result;
    weft_shield_begin(); /* ignores cancellation: shutdown must still end in bounded time */
    weft_event_set(((weft_event **)arg)[0]);
    weft_event_wait(((weft_event **)arg)[1], WEFT_SEC(30));
    weft_shield_end();
    return 0;
}

/* Start a task called name on p that ignores cancellation until ev[1] is set; returns once it
 * runs. ev and the events must outlive the task. */
static void start_stubborn(weft_pool *p, const char *name, weft_event *ev[2])
{
    weft_event_init(ev[0]);
    weft_event_init(ev[1]);
    ck_assert_weft(weft_pool_submit_named(p, name, stubborn, ev, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(ev[0], WEFT_SEC(10)), 0);
}

START_TEST(shutdown_timeout_names_running_tasks)
{
    weft_pool *p = weft_test_pool(1);
    weft_event started, release;
    weft_event *ev[2] = {&started, &release};
    start_stubborn(p, "stubborn", ev);
    ck_assert_weft(weft_pool_shutdown(p, 1, 1, WEFT_MS(30)), WEFT_ETIMEDOUT);
    ck_assert_msg(strstr(weft_error_message(), "'stubborn' on pool-1") != NULL, "message: %s",
                  weft_error_message());
    ck_assert_weft(weft_pool_shutdown(p, 1, 1, 0), WEFT_EAGAIN);
    weft_event_set(&release);
    ck_assert_weft(weft_pool_shutdown(p, 1, 1, WEFT_SEC(10)), 0);
    weft_pool_free(p);
}
END_TEST

static _Atomic long short_runs;

static int short_task(void *arg, void **result)
{
    (void)result;
    for (volatile int i = 0; i < 1000; i++) {
    }
    atomic_fetch_add(&short_runs, 1);
    /* A fire-and-forget submit to another pool: it takes from this worker's cache the record
     * just let go, so a record a naming may still hold is written again at once. */
    return weft_pool_submit_named(arg, "echo", weft_test_count_run, NULL, NULL, WEFT_FOREVER);
}

/* A shutdown that times out names the running tasks by reading records that workers recycle
 * under it: a worker lets a fire-and-forget record go without an RMW unless it sees a naming
 * (sched.c run_solo). Name over and over while one worker runs thousands of short tasks, named
 * and not, each reusing its record at once, and another is held by a named blocker: every
 * task runs once, and the sanitizer builds see no race on the records. */
START_TEST(shutdown_naming_races_recycled_fire_and_forget_records)
{
    weft_pool *p = weft_test_pool(2), *other = weft_test_pool(1);
    weft_event started, release;
    weft_event *ev[2] = {&started, &release};
    start_stubborn(p, "blocker", ev);
    long n = weft_test_scale(20000);
    atomic_store(&short_runs, 0);
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_pause(p), 0); /* all queued before the first naming (which resumes) */
    for (long i = 0; i < n; i++) {
        int rc = i % 2 ? weft_pool_submit(p, short_task, other, NULL, WEFT_FOREVER)
                       : weft_pool_submit_named(p, "short", short_task, other, NULL, WEFT_FOREVER);
        ck_assert_weft(rc, 0);
    }
    int namings = 0;
    weft_ns t0 = weft_now();
    while (atomic_load(&short_runs) < n && weft_now() - t0 < WEFT_SEC(20)) {
        ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_US(20)), WEFT_ETIMEDOUT);
        ck_assert_msg(strstr(weft_error_message(), "'blocker' on pool-") != NULL, "message: %s",
                      weft_error_message());
        namings++;
    }
    ck_assert_int_eq(atomic_load(&short_runs), n);
    ck_assert_int_ge(namings, 1);
    weft_event_set(&release);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&short_runs), n); /* none ran twice */
    weft_pool_free(p);
    ck_assert_weft(weft_pool_shutdown(other, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), n);
    weft_pool_free(other);
}
END_TEST

struct nest {
    weft_pool *pool;
    int depth;
};

static int nested(void *arg, void **result)
{
    struct nest *n = arg;
    if (n->depth == 0) {
        *result = (void *)1;
        return 0;
    }
    struct nest child = {n->pool, n->depth - 1};
    weft_future *a, *b;
    int rc = weft_pool_submit(n->pool, nested, &child, &a, WEFT_FOREVER);
    if (rc) return rc;
    rc = weft_pool_submit(n->pool, nested, &child, &b, WEFT_FOREVER);
    if (rc) return rc;
    void *ra = NULL, *rb = NULL;
    rc = weft_future_result(b, &rb, WEFT_FOREVER);
    if (rc == 0) rc = weft_future_result(a, &ra, WEFT_FOREVER);
    weft_future_unref(a);
    weft_future_unref(b);
    *result = (void *)((intptr_t)ra + (intptr_t)rb);
    return rc;
}

START_TEST(nested_submit_and_wait_on_one_worker_completes)
{
    for (int workers = 1; workers <= 2; workers++) {
        weft_pool *p = weft_test_pool(workers);
        struct nest root = {p, 10};
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, nested, &root, &f, WEFT_FOREVER), 0);
        void *r;
        ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(20)), 0);
        ck_assert_int_eq((intptr_t)r, 1024);
        weft_future_unref(f);
        weft_pool_free(p);
    }
}
END_TEST

static void sum_body(int64_t lo, int64_t hi, void *acc, void *arg)
{
    (void)arg;
    int64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += i;
    *(int64_t *)acc += s;
}

static void sum_combine(void *acc, const void *other, void *arg)
{
    (void)arg;
    *(int64_t *)acc += *(const int64_t *)other;
}

static void mark_body(int64_t lo, int64_t hi, void *arg)
{
    atomic_int *marks = arg;
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&marks[i], 1);
}

START_TEST(parallel_reduce_gives_the_exact_sum)
{
    weft_pool *p = weft_test_pool(3);
    int64_t n = weft_test_scale(10000000), zero = 0, sum = -1;
    int64_t grains[] = {0, 1000, 777777};
    for (int g = 0; g < 3; g++) {
        ck_assert_weft(weft_parallel_reduce(p, 0, n, grains[g], sum_body, sum_combine, sizeof sum,
                                            &zero, &sum, NULL),
                       0);
        ck_assert_int_eq(sum, n * (n - 1) / 2);
    }
    ck_assert_weft(weft_parallel_reduce(p, 5, 5, 0, sum_body, sum_combine, 8, &zero, &sum, NULL),
                   0);
    ck_assert_int_eq(sum, 0);
    /* parallel for covers every index exactly once, whatever the grain; default pool too. */
    enum { M = 100003 };
    atomic_int *marks = calloc(M, sizeof *marks);
    ck_assert_weft(weft_parallel_for(p, 0, M, 0, mark_body, marks), 0);
    ck_assert_weft(weft_parallel_for(p, 0, M, 1, mark_body, marks), 0);
    ck_assert_weft(weft_parallel_for(NULL, 0, M, 0, mark_body, marks), 0);
    for (int i = 0; i < M; i++) ck_assert_int_eq(atomic_load(&marks[i]), 3);
    free(marks);
    weft_pool_free(p);
}
END_TEST

static int inner_reduce(void *arg, void **result)
{
    weft_pool *p = arg;
    int64_t zero = 0, sum = 0;
    int rc = weft_parallel_reduce(p, 0, 100000, 100, sum_body, sum_combine, 8, &zero, &sum, NULL);
    *result = (void *)(intptr_t)sum;
    return rc;
}

/* Every kind of wait, from inside the only worker of a pool: each must run the tasks it waits
 * for itself (help-while-waiting), or it would wait forever. */
static int waits_inside(void *arg, void **result)
{
    (void)result;
    weft_pool *p = arg;
    void *args[50], *res[50];
    for (intptr_t i = 0; i < 50; i++) args[i] = (void *)i;
    int rc = weft_pool_map(p, square, args, res, 50, 3, WEFT_SEC(20));
    if (rc || (intptr_t)res[49] != 49 * 49) return rc ? rc : -1;
    weft_future *fs[3];
    for (intptr_t i = 0; i < 3; i++)
        if ((rc = weft_pool_submit(p, square, (void *)i, &fs[i], WEFT_FOREVER))) return rc;
    size_t idx;
    rc = weft_wait(fs, 3, WEFT_FIRST_COMPLETED, &idx, WEFT_SEC(20));
    if (rc == 0) rc = weft_wait(fs, 3, WEFT_ALL_COMPLETED, &idx, WEFT_SEC(20));
    weft_as_completed *it;
    if (rc == 0) rc = weft_as_completed_new(&it, fs, 3);
    if (rc == 0) {
        weft_future *f;
        int n = 0;
        while (weft_as_completed_next(it, &f, WEFT_SEC(20)) == 0) n++;
        weft_as_completed_free(it);
        if (n != 3) rc = -2;
    }
    for (int i = 0; i < 3; i++) weft_future_unref(fs[i]);
    return rc;
}

START_TEST(every_wait_helps_inside_a_one_worker_pool)
{
    weft_pool *p = weft_test_pool(1);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, waits_inside, p, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(30)), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

START_TEST(parallel_reduce_nests_inside_tasks)
{
    weft_pool *p = weft_test_pool(1);
    weft_future *f[4];
    for (int i = 0; i < 4; i++)
        ck_assert_weft(weft_pool_submit(p, inner_reduce, p, &f[i], WEFT_FOREVER), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        ck_assert_weft(weft_future_result(f[i], &r, WEFT_SEC(20)), 0);
        ck_assert_int_eq((intptr_t)r, (int64_t)100000 * 99999 / 2);
        weft_future_unref(f[i]);
    }
    weft_pool_free(p);
}
END_TEST

/* Marks offset by base, so that ranges anywhere in int64_t can be checked. */
struct marks {
    atomic_int *m;
    int64_t base;
};

static void mark_based(int64_t lo, int64_t hi, void *arg)
{
    struct marks *k = arg;
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&k->m[i - k->base], 1);
}

static void check_cover(weft_pool *p, int64_t begin, int64_t n, int64_t grain, atomic_int *m)
{
    struct marks k = {m, begin};
    for (int64_t i = 0; i < n; i++) atomic_store(&m[i], 0);
    ck_assert_weft(weft_parallel_for(p, begin, begin + n, grain, mark_based, &k), 0);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&m[i]) != 1)
            ck_abort_msg("index %lld of [%lld, +%lld) at grain %lld ran %d times",
                         (long long)(begin + i), (long long)begin, (long long)n, (long long)grain,
                         atomic_load(&m[i]));
}

/* A caller whose scope is cancelled: parallel_for is no cancellation point (pool.h), so it
 * still covers the range and returns 0; body sees the cancel through weft_checkpoint only on
 * the caller's own thread (the workers run in p's scope). */
struct cancelled_pfor {
    weft_pool *p;
    atomic_int m[4096];
    atomic_int seen_on_caller, seen_on_worker, pieces_on_caller;
    pthread_t caller;
};

static void pfor_checkpoint(int64_t lo, int64_t hi, void *arg)
{
    struct cancelled_pfor *c = arg;
    int cancelled = weft_checkpoint() == WEFT_ECANCELED;
    if (pthread_equal(pthread_self(), c->caller)) {
        atomic_fetch_add(&c->seen_on_caller, cancelled);
        atomic_fetch_add(&c->pieces_on_caller, 1);
    } else {
        atomic_fetch_add(&c->seen_on_worker, cancelled);
    }
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&c->m[i], 1);
}

static int cancelled_pfor_caller(void *arg)
{
    struct cancelled_pfor *c = arg;
    c->caller = pthread_self();
    weft_scope *s;
    if (weft_scope_new(&s, NULL, NULL) != 0 || weft_scope_enter(s) != 0) return 10;
    (void)weft_scope_cancel(s, WEFT_ECANCELED, "caller cancelled");
    int rc = weft_parallel_for(c->p, 0, 4096, 1, pfor_checkpoint, c);
    weft_scope_exit();
    weft_scope_free(s);
    return rc;
}

START_TEST(parallel_for_from_a_cancelled_caller_still_covers_the_range)
{
    struct cancelled_pfor *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->p = weft_test_pool(2);
    weft_thread th;
    ck_assert_weft(weft_thread_start(&th, cancelled_pfor_caller, c, NULL), 0);
    int status = -1;
    ck_assert_weft(weft_thread_join(th, &status, WEFT_SEC(30)), 0);
    ck_assert_weft(status, 0);
    for (int i = 0; i < 4096; i++) ck_assert_int_eq(atomic_load(&c->m[i]), 1);
    ck_assert_int_eq(atomic_load(&c->seen_on_caller), atomic_load(&c->pieces_on_caller));
    ck_assert_int_eq(atomic_load(&c->seen_on_worker), 0);
    weft_pool_free(c->p);
    free(c);
}
END_TEST

START_TEST(parallel_for_covers_every_index_once_at_every_grain_and_size)
{
    enum { MAX = 1 << 12 };
    atomic_int *m = calloc(MAX, sizeof *m);
    int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, MAX - 1, MAX};
    int64_t grains[] = {0, 1, 2, 3, 7, 64, 1000, MAX * 4, INT64_MAX};
    int64_t bases[] = {0, -5000, INT64_MAX - MAX, INT64_MIN};
    for (int workers = 1; workers <= 3; workers += 2) {
        weft_pool *p = weft_test_pool(workers);
        for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
                for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                    check_cover(p, bases[b], sizes[s], grains[g], m);
        weft_pool_free(p);
    }
    free(m);
    /* a big range at grain 1, where chunks are stolen from every participant over and over */
    weft_pool *p = weft_test_pool(2);
    int64_t n = weft_test_scale(1 << 20);
    atomic_int *big = calloc((size_t)n, sizeof *big);
    for (int r = 0; r < 3; r++) check_cover(p, 0, n, 1, big);
    free(big);
    weft_pool_free(p);
}
END_TEST

struct pnest {
    weft_pool *p;
    _Atomic int64_t total;
};

static void nest_inner(int64_t lo, int64_t hi, void *arg)
{
    struct pnest *k = arg;
    atomic_fetch_add(&k->total, hi - lo);
}

static void nest_outer(int64_t lo, int64_t hi, void *arg)
{
    struct pnest *k = arg;
    for (int64_t i = lo; i < hi; i++)
        ck_assert_int_eq(weft_parallel_for(k->p, 0, 100, i % 3, nest_inner, k), 0);
}

static int nest_task(void *arg, void **result)
{
    (void)result;
    struct pnest *k = arg;
    return weft_parallel_for(k->p, 0, 50, 1, nest_outer, k);
}

START_TEST(parallel_for_nests_in_bodies_and_tasks)
{
    for (int workers = 1; workers <= 2; workers++) {
        weft_pool *p = weft_test_pool(workers);
        struct pnest k = {p, 0};
        ck_assert_weft(weft_parallel_for(p, 0, 50, 1, nest_outer, &k), 0); /* from outside */
        ck_assert_int_eq(atomic_load(&k.total), 50 * 100);
        weft_future *f[4];
        for (int i = 0; i < 4; i++)
            ck_assert_weft(weft_pool_submit(p, nest_task, &k, &f[i], WEFT_FOREVER), 0);
        for (int i = 0; i < 4; i++) {
            ck_assert_weft(weft_future_wait(f[i], WEFT_SEC(30)), 0);
            ck_assert_weft(weft_future_result(f[i], NULL, 0), 0);
            weft_future_unref(f[i]);
        }
        ck_assert_int_eq(atomic_load(&k.total), 5 * 50 * 100);
        weft_pool_free(p);
    }
}
END_TEST

START_TEST(parallel_reduce_is_exact_at_fine_grains)
{
    weft_pool *p = weft_test_pool(3);
    int64_t n = weft_test_scale(200000), zero = 0, sum = -1;
    int64_t grains[] = {1, 2, 3, 5, 64};
    for (int g = 0; g < 5; g++) {
        ck_assert_weft(weft_parallel_reduce(p, 0, n, grains[g], sum_body, sum_combine, sizeof sum,
                                            &zero, &sum, NULL),
                       0);
        ck_assert_int_eq(sum, n * (n - 1) / 2);
    }
    weft_pool_free(p);
}
END_TEST

/* ---- a waiter that is no worker helps ----
 * One worker is held in a task that has queued children on its own deque; the test thread (or
 * a thread of its own) then waits, and only it can run them. */

struct help {
    weft_pool *p;
    weft_event spawned, release, kid_running, waiter_cancelled;
    weft_future *kids[4];
    int nkids;
    weft_task_fn kid_fn;
    pthread_t waiter;
    atomic_int on_waiter, kid_saw_cancel, kid_wait_rc;
    weft_future *holder;
    weft_scope *scope;
};

static int kid_mark(void *arg, void **result)
{
    (void)result;
    struct help *h = arg;
    if (pthread_equal(pthread_self(), h->waiter)) atomic_fetch_add(&h->on_waiter, 1);
    return 0;
}

static int holder(void *arg, void **result)
{
    (void)result;
    struct help *h = arg;
    for (int i = 0; i < h->nkids; i++)
        ck_assert_int_eq(weft_pool_submit(h->p, h->kid_fn, h, &h->kids[i], WEFT_FOREVER), 0);
    weft_event_set(&h->spawned);
    return weft_event_wait(&h->release, WEFT_SEC(60));
}

/* A pool whose outside waiters help (opts.waiters_help): the tests below are about helping. */
static weft_pool *helping_pool(int workers)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = workers, .waiters_help = 1});
    return p;
}

static void help_start(struct help *h, int nkids, weft_task_fn kid)
{
    memset(h, 0, sizeof *h);
    h->p = helping_pool(1);
    weft_event_init(&h->spawned);
    weft_event_init(&h->release);
    weft_event_init(&h->kid_running);
    weft_event_init(&h->waiter_cancelled);
    h->nkids = nkids;
    h->kid_fn = kid;
    h->waiter = pthread_self();
    ck_assert_weft(weft_pool_submit(h->p, holder, h, &h->holder, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&h->spawned, WEFT_SEC(30)), 0);
}

static void help_end(struct help *h)
{
    weft_event_set(&h->release);
    ck_assert_weft(weft_pool_wait_idle(h->p, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_future_result(h->holder, NULL, 0), 0);
    weft_future_unref(h->holder);
    for (int i = 0; i < h->nkids; i++) weft_future_unref(h->kids[i]);
    weft_pool_free(h->p);
}

START_TEST(wait_idle_from_outside_runs_queued_tasks)
{
    for (int round = 0; round < 20; round++) {
        struct help h;
        help_start(&h, 4, kid_mark);
        /* The only worker is held: the kids can run only on this thread. wait_idle runs them
         * all, then times out (the holder is still held). */
        ck_assert_weft(weft_pool_wait_idle(h.p, WEFT_MS(10)), WEFT_ETIMEDOUT);
        for (int i = 0; i < 4; i++) ck_assert_int_eq(weft_future_done(h.kids[i]), 1);
        ck_assert_int_eq(atomic_load(&h.on_waiter), 4);
        ck_assert_int_eq(weft_future_done(h.holder), 0);
        help_end(&h);
    }
}
END_TEST

/* A waiter on one future must not run other tasks: one of them could need what the waiter
 * does after its wait (as a streaming map's gated item did). */
START_TEST(a_future_wait_from_outside_runs_no_other_task)
{
    struct help h;
    help_start(&h, 2, kid_mark);
    ck_assert_weft(weft_future_wait(h.kids[0], WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_future_wait(h.holder, WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&h.on_waiter), 0);
    ck_assert_int_eq(weft_future_done(h.kids[0]), 0);
    help_end(&h);
}
END_TEST

/* Helping is opt-in: with the default opts an outside waiter runs no task. */
START_TEST(by_default_outside_waiters_run_no_task)
{
    struct help h;
    memset(&h, 0, sizeof h);
    h.p = weft_test_pool(1);
    weft_event_init(&h.spawned);
    weft_event_init(&h.release);
    h.nkids = 2;
    h.kid_fn = kid_mark;
    h.waiter = pthread_self();
    ck_assert_weft(weft_pool_submit(h.p, holder, &h, &h.holder, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&h.spawned, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_pool_wait_idle(h.p, WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&h.on_waiter), 0);
    ck_assert_int_eq(weft_future_done(h.kids[0]), 0);
    help_end(&h);
}
END_TEST

static int wait_idle_50ms(void *arg)
{
    return weft_pool_wait_idle(arg, WEFT_MS(50));
}

/* The headers' promise with the default opts: wait_idle returns at its deadline even when the
 * queued tasks wait for what the caller does after it (a helping caller would run one and
 * hang). The wait runs on a thread joined with a timeout, so a regression fails, not hangs. */
START_TEST(wait_idle_times_out_while_tasks_wait_for_the_caller)
{
    for (int round = 0; round < 10; round++) {
        weft_pool *p = weft_test_pool(1);
        weft_event gate;
        weft_event_init(&gate);
        weft_future *f[2];
        for (int i = 0; i < 2; i++)
            ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &gate, &f[i], 0), 0);
        weft_thread th;
        ck_assert_weft(weft_thread_start(&th, wait_idle_50ms, p, NULL), 0);
        int status = -1;
        int rc = weft_thread_join(th, &status, WEFT_SEC(20));
        weft_event_set(&gate);
        if (rc == WEFT_ETIMEDOUT) ck_assert_weft(weft_thread_join(th, NULL, WEFT_FOREVER), 0);
        ck_assert_weft(rc, 0);
        ck_assert_weft(status, WEFT_ETIMEDOUT);
        for (int i = 0; i < 2; i++) {
            ck_assert_weft(weft_future_result(f[i], NULL, WEFT_SEC(30)), 0);
            weft_future_unref(f[i]);
        }
        weft_pool_free(p);
    }
}
END_TEST

static int kid_nap(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return weft_sleep(WEFT_MS(2));
}

START_TEST(a_helping_waiter_still_times_out)
{
    struct help h;
    help_start(&h, 4, kid_nap);
    /* The holder never finishes while we wait: the wait must end with its timeout, whether
     * it was helping or parked when the deadline passed. */
    ck_assert_weft(weft_pool_wait_idle(h.p, WEFT_MS(3)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_pool_wait_idle(h.p, WEFT_MS(50)), WEFT_ETIMEDOUT);
    ck_assert_int_eq(weft_future_done(h.holder), 0);
    help_end(&h);
}
END_TEST

/* A helped task that waits until the waiter's scope is cancelled, then reports what it sees. */
static int kid_probe(void *arg, void **result)
{
    (void)result;
    struct help *h = arg;
    if (!pthread_equal(pthread_self(), h->waiter)) return 0;
    weft_event_set(&h->kid_running);
    atomic_store(&h->kid_wait_rc, weft_event_wait(&h->waiter_cancelled, WEFT_SEC(30)));
    atomic_store(&h->kid_saw_cancel, weft_cancelled());
    return 0;
}

static int help_waiter(void *arg)
{
    struct help *h = arg;
    h->waiter = pthread_self();
    ck_assert_int_eq(weft_scope_enter(h->scope), 0);
    int rc = weft_pool_wait_idle(h->p, WEFT_SEC(60));
    weft_scope_exit();
    return rc == WEFT_ECANCELED ? 0 : 1;
}

START_TEST(a_helping_waiter_is_cancelled_and_its_task_is_not)
{
    struct help h;
    memset(&h, 0, sizeof h);
    h.p = helping_pool(1);
    weft_event_init(&h.spawned);
    weft_event_init(&h.release);
    weft_event_init(&h.kid_running);
    weft_event_init(&h.waiter_cancelled);
    h.nkids = 1;
    h.kid_fn = kid_probe;
    ck_assert_weft(weft_scope_new(&h.scope, NULL, NULL), 0);
    ck_assert_weft(weft_pool_submit(h.p, holder, &h, &h.holder, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&h.spawned, WEFT_SEC(30)), 0);
    weft_thread th;
    ck_assert_weft(weft_thread_start(&th, help_waiter, &h, NULL), 0);
    ck_assert_weft(weft_event_wait(&h.kid_running, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_scope_cancel(h.scope, WEFT_ECANCELED, "stop waiting"), 0);
    weft_event_set(&h.waiter_cancelled);
    int status = -1;
    ck_assert_weft(weft_thread_join(th, &status, WEFT_SEC(30)), 0);
    ck_assert_int_eq(status, 0);                         /* the waiter saw its cancellation */
    ck_assert_int_eq(atomic_load(&h.kid_wait_rc), 0);    /* the task's own wait did not */
    ck_assert_int_eq(atomic_load(&h.kid_saw_cancel), 0); /* nor did its checkpoint */
    ck_assert_int_eq(weft_future_done(h.kids[0]), 1);
    help_end(&h);
    weft_scope_free(h.scope);
}
END_TEST

/* A submitter far ahead of workers that are stuck (here on an event it sets only after its
 * submits) must not wait for them: pacing gives up when they make no progress. */
START_TEST(a_paced_submitter_goes_on_when_the_workers_are_stuck)
{
    weft_pool *p = weft_test_pool(1);
    weft_event ev;
    weft_event_init(&ev);
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &ev, NULL, WEFT_FOREVER), 0);
    enum { N = 30000 };
    for (int i = 0; i < N; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    weft_event_set(&ev);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(60)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), N);
    weft_pool_free(p);
}
END_TEST

/* A paced submitter of a waiters_help pool runs the queued tasks itself, oldest first; with the
 * default opts it runs none. The only worker is held on an event the test sets after its
 * submits, so every task that runs before then runs on the submitting thread. */
struct paced {
    pthread_t submitter;
    atomic_int submitting; /* 1 until the last submit returned (wait_idle helps its own way) */
    atomic_int on_submitter, out_of_order;
    atomic_long last; /* the sequence number of the last task started on the submitter */
};

struct paced_task {
    struct paced *pc;
    long seq;
};

static int paced_run(void *arg, void **result)
{
    (void)result;
    struct paced_task *t = arg;
    if (pthread_equal(pthread_self(), t->pc->submitter) && atomic_load(&t->pc->submitting)) {
        atomic_fetch_add(&t->pc->on_submitter, 1);
        if (atomic_exchange(&t->pc->last, t->seq) >= t->seq)
            atomic_fetch_add(&t->pc->out_of_order, 1);
    }
    atomic_fetch_add(&weft_test_runs, 1);
    return 0;
}

static int paced_submits(int help)
{
    enum { N = 30000 };
    weft_pool *p = help ? helping_pool(1) : weft_test_pool(1);
    struct paced pc = {.submitter = pthread_self(), .submitting = 1, .last = -1};
    struct paced_task *ts = malloc(N * sizeof *ts);
    ck_assert_ptr_nonnull(ts);
    weft_event ev;
    weft_event_init(&ev);
    atomic_store(&weft_test_runs, 0);
    weft_future *held;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &ev, &held, WEFT_FOREVER), 0);
    while (weft_future_running(held) == 0) sched_yield(); /* the worker holds it */
    for (long i = 0; i < N; i++) {
        ts[i] = (struct paced_task){&pc, i};
        ck_assert_weft(weft_pool_submit(p, paced_run, &ts[i], NULL, WEFT_FOREVER), 0);
    }
    atomic_store(&pc.submitting, 0);
    weft_event_set(&ev);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(60)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), N);
    ck_assert_int_eq(atomic_load(&pc.out_of_order), 0);
    weft_future_unref(held);
    weft_pool_free(p);
    free(ts);
    return atomic_load(&pc.on_submitter);
}

START_TEST(a_paced_submitter_runs_queued_tasks_oldest_first_only_with_waiters_help)
{
    int ran = paced_submits(1);
    /* All but the last PACE_LOW or so: it ran every batch it took, oldest first. */
    ck_assert_int_gt(ran, 20000);
    ck_assert_int_eq(paced_submits(0), 0);
}
END_TEST

/* A paced submitter does not help a paused pool: nothing starts before the resume. */
START_TEST(a_paced_submitter_does_not_run_tasks_of_a_paused_pool)
{
    weft_pool *p = helping_pool(1);
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_pause(p), 0);
    for (int i = 0; i < 20000; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(60)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 20000);
    weft_pool_free(p);
}
END_TEST

/* A pool shut down while its paced submitter runs a batch: the workers wait for calm to
 * exit, and it is the submitter's batch that makes the pool calm; the submit that paced then
 * finds the pool closed, fails and wakes them. Every task accepted before the close runs, the
 * shutdown ends. The only worker is parked (released from its held task after the close)
 * when the batch ends. */
struct closing {
    weft_pool *p;
    weft_event gate_running, closed, release;
    atomic_int accepted;
};

static int closing_gate(void *arg, void **result)
{
    (void)result;
    struct closing *c = arg;
    weft_event_set(&c->gate_running);
    return weft_event_wait(&c->closed, WEFT_SEC(60));
}

static void *closing_submitter(void *arg)
{
    struct closing *c = arg;
    ck_assert_weft(weft_pool_submit(c->p, closing_gate, c, NULL, WEFT_FOREVER), 0);
    for (int i = 0; i < 20000; i++) {
        if (weft_pool_submit(c->p, weft_test_count_run, NULL, NULL, WEFT_FOREVER) != 0) break;
        atomic_fetch_add(&c->accepted, 1);
    }
    return NULL;
}

START_TEST(a_shutdown_during_a_paced_submitters_batch_ends)
{
    struct closing c = {.p = helping_pool(1)};
    weft_event_init(&c.gate_running);
    weft_event_init(&c.closed);
    weft_event_init(&c.release);
    atomic_store(&weft_test_runs, 0);
    weft_future *held;
    ck_assert_weft(weft_pool_submit(c.p, weft_test_wait_event, &c.release, &held, WEFT_FOREVER), 0);
    while (weft_future_running(held) == 0) sched_yield();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, closing_submitter, &c), 0);
    ck_assert_weft(weft_event_wait(&c.gate_running, WEFT_SEC(60)), 0); /* it helps now */
    ck_assert_weft(weft_pool_shutdown(c.p, 0, 0, 0), 0);
    weft_event_set(&c.release);
    while (atomic_load(&c.p->sleepers) == 0) sched_yield(); /* the worker waits for calm */
    weft_event_set(&c.closed);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_weft(weft_pool_shutdown(c.p, 1, 0, WEFT_SEC(20)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), atomic_load(&c.accepted));
    weft_future_unref(held);
    weft_pool_free(c.p);
}
END_TEST

/* weft_pool_pause: a worker still searching when it returns (it looked at the flag before)
 * must not start a task submitted after it: it puts the task back. Looped: the window is
 * between a worker's look at the flag and its take. */
START_TEST(pause_stops_workers_that_are_already_searching)
{
    weft_pool *p = weft_test_pool(2);
    for (int round = 0; round < 300; round++) {
        atomic_store(&weft_test_runs, 0);
        for (int i = 0; i < 2; i++)
            ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
        while (atomic_load(&weft_test_runs) < 2) sched_yield(); /* workers now search */
        ck_assert_weft(weft_pool_pause(p), 0);
        for (int i = 0; i < 4; i++)
            ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
        for (int k = 0; k < 50; k++) sched_yield(); /* a chance to (wrongly) start them */
        ck_assert_int_eq(atomic_load(&weft_test_runs), 2);
        ck_assert_weft(weft_pool_resume(p), 0);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
        ck_assert_int_eq(atomic_load(&weft_test_runs), 6);
    }
    weft_pool_free(p);
}
END_TEST

START_TEST(wait_idle_pause_and_resume)
{
    weft_pool *p = weft_test_pool(2);
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_wait_idle(p, 0), 0);
    ck_assert_weft(weft_pool_pause(p), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(p, &st), 0);
    ck_assert_int_eq(st.paused, 1);
    ck_assert_uint_eq(st.submitted, 100);
    ck_assert_uint_eq(st.queued, 100);
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 100);
    ck_assert_weft(weft_pool_stats(p, &st), 0);
    ck_assert_uint_eq(st.completed, 100);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_int_ge(st.workers, 1);
    ck_assert_int_le(st.workers, 2);
    ck_assert_int_eq(st.max_workers, 2);
    ck_assert_uint_ge(st.queued_high, 1);
    /* Shutdown ends a pause: the queued tasks run. */
    ck_assert_weft(weft_pool_pause(p), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 110);
    weft_pool_free(p);
}
END_TEST

START_TEST(bounded_queue_gives_back_pressure)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .max_queued = 2});
    weft_event gate, started;
    weft_event_init(&gate);
    weft_event_init(&started);
    weft_event *ev[2] = {&started, &gate};
    ck_assert_weft(weft_pool_submit(p, stubborn, ev, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(10)), 0); /* it left the queue */
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_MS(20)),
                   WEFT_ETIMEDOUT);
    weft_event_set(&gate);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_SEC(10)), 0);
    weft_pool_free(p);
}
END_TEST

/* A task cancelled while queued gives its place among max_queued back at once: with the pool
 * paused nobody would take it off the queue, yet submits with no timeout succeed. */
START_TEST(cancelled_queued_tasks_do_not_count_against_max_queued)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .max_queued = 3});
    ck_assert_weft(weft_pool_pause(p), 0);
    atomic_store(&weft_test_runs, 0);
    weft_future *f[3];
    for (int i = 0; i < 3; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &f[i], 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_future_cancel(f[0]), 0);
    ck_assert_weft(weft_future_cancel(f[2]), 0);
    ck_assert_weft(weft_future_cancel(f[2]), 0); /* a second cancel gives nothing back again */
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 3);
    ck_assert_int_eq(weft_future_cancelled(f[0]), 1);
    ck_assert_int_eq(weft_future_cancelled(f[1]), 0);
    /* The places came back exactly once: a paused pool takes max_queued again, no more. */
    ck_assert_weft(weft_pool_pause(p), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), WEFT_EAGAIN);
    for (int i = 0; i < 3; i++) weft_future_unref(f[i]);
    weft_pool_free(p);
}
END_TEST

struct cancel_race {
    weft_future *f[8];
    weft_event go;
};

static int cancel_all(void *arg)
{
    struct cancel_race *r = arg;
    if (weft_event_wait(&r->go, WEFT_SEC(30)) != 0) return 1;
    for (int i = 7; i >= 0; i--) {
        int rc = weft_future_cancel(r->f[i]);
        if (rc != 0 && rc != WEFT_EBUSY && rc != WEFT_ESTATE) return 2;
    }
    return 0;
}

/* Cancels race the workers' (or a cancelling shutdown's) taking the same records off the
 * queue, and the pool's end: each place comes back once, and the pool is not touched once
 * freed (ASan). Afterwards a paused pool holds exactly max_queued tasks again. */
START_TEST(cancels_racing_workers_give_each_place_back_once)
{
    for (int round = 0; round < 200; round++) {
        weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 2, .max_queued = 8});
        struct cancel_race r;
        weft_event_init(&r.go);
        if (round % 2) ck_assert_weft(weft_pool_pause(p), 0);
        for (int i = 0; i < 8; i++)
            ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &r.f[i], WEFT_SEC(30)),
                           0);
        weft_thread th;
        ck_assert_weft(weft_thread_start(&th, cancel_all, &r, NULL), 0);
        weft_event_set(&r.go);
        int status = -1;
        if (round % 4 == 1) { /* a cancelling shutdown drops what the canceller has not */
            ck_assert_weft(weft_pool_shutdown(p, 1, 1, WEFT_SEC(30)), 0);
            weft_pool_free(p);
            ck_assert_weft(weft_thread_join(th, &status, WEFT_SEC(30)), 0);
        } else {
            if (round % 2) ck_assert_weft(weft_pool_resume(p), 0);
            ck_assert_weft(weft_thread_join(th, &status, WEFT_SEC(30)), 0);
            ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
            /* Both workers busy (not a pause: a worker already searching when pause returns
             * may still take a task), so nothing leaves the queue while we count. */
            weft_event gate, started[2];
            weft_event_init(&gate);
            weft_event *ev[2][2] = {{&started[0], &gate}, {&started[1], &gate}};
            for (int i = 0; i < 2; i++) {
                weft_event_init(&started[i]);
                ck_assert_weft(weft_pool_submit(p, stubborn, ev[i], NULL, WEFT_SEC(30)), 0);
            }
            for (int i = 0; i < 2; i++)
                ck_assert_weft(weft_event_wait(&started[i], WEFT_SEC(30)), 0);
            for (int i = 0; i < 8; i++)
                ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0);
            ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), WEFT_EAGAIN);
            weft_event_set(&gate);
            weft_pool_free(p);
        }
        ck_assert_int_eq(status, 0);
        for (int i = 0; i < 8; i++) weft_future_unref(r.f[i]);
    }
}
END_TEST

/* ---- a waiter runs the task it waits for ---- */

struct claim {
    pthread_t ran_on;
    atomic_int runs, wait_rc, saw_cancel;
    weft_event started, gate, waiter_cancelled, reported;
    weft_scope *scope;
    weft_pool *p;
    weft_future *f;
};

static int claim_probe(void *arg, void **result)
{
    struct claim *c = arg;
    c->ran_on = pthread_self();
    atomic_fetch_add(&c->runs, 1);
    *result = c;
    return 0;
}

/* The pool is paused, so no worker could have run it: the waiter did, and it counts for
 * wait_idle and gives its place among max_queued back. */
START_TEST(a_waiter_runs_its_queued_task_itself)
{
    weft_pool *p =
        weft_test_pool_with((weft_pool_opts){.max_workers = 1, .max_queued = 1, .waiters_help = 1});
    ck_assert_weft(weft_pool_pause(p), 0);
    struct claim c;
    memset(&c, 0, sizeof c);
    weft_future *f;
    void *res = NULL;
    ck_assert_weft(weft_pool_submit(p, claim_probe, &c, &f, 0), 0);
    ck_assert_weft(weft_future_wait(f, 0), WEFT_EAGAIN);             /* timeout 0: no claim */
    ck_assert_weft(weft_future_wait(f, WEFT_MS(1)), WEFT_ETIMEDOUT); /* timed: no claim */
    ck_assert_weft(weft_future_result(f, &res, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(res, &c);
    ck_assert_int_eq(atomic_load(&c.runs), 1);
    ck_assert(pthread_equal(c.ran_on, pthread_self()));
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, 0), 0); /* its place */
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&c.runs), 1); /* the worker found it claimed: not run again */
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

/* Runs on its waiter, blocks until the waiter's scope is cancelled, and reports whether that
 * cancellation reached it (it must not: it runs in the pool's scope). */
static int claim_blocker(void *arg, void **result)
{
    (void)result;
    struct claim *c = arg;
    c->ran_on = pthread_self();
    atomic_fetch_add(&c->runs, 1);
    weft_event_set(&c->started);
    atomic_store(&c->wait_rc, weft_event_wait(&c->waiter_cancelled, WEFT_SEC(30)));
    atomic_store(&c->saw_cancel, weft_cancelled());
    weft_event_set(&c->reported);
    /* Then it waits for the gate, which only a cancel of its future interrupts. */
    return weft_event_wait(&c->gate, WEFT_SEC(30));
}

static int claim_waiter(void *arg)
{
    struct claim *c = arg;
    if (weft_scope_enter(c->scope) != 0) return 10;
    int rc = weft_future_wait(c->f, WEFT_FOREVER);
    int after = weft_checkpoint(); /* the waiter's own cancellation is still there */
    weft_scope_exit();
    if (!pthread_equal(c->ran_on, pthread_self())) return 11;
    return rc == 0 && after == WEFT_ECANCELED ? 0 : 12;
}

START_TEST(a_waiter_running_its_task_is_cancelled_and_the_task_is_not)
{
    struct claim c;
    memset(&c, 0, sizeof c);
    weft_event_init(&c.started);
    weft_event_init(&c.gate);
    weft_event_init(&c.waiter_cancelled);
    weft_event_init(&c.reported);
    c.p = helping_pool(1);
    ck_assert_weft(weft_pool_pause(c.p), 0);
    ck_assert_weft(weft_scope_new(&c.scope, NULL, NULL), 0);
    ck_assert_weft(weft_pool_submit(c.p, claim_blocker, &c, &c.f, WEFT_FOREVER), 0);
    weft_thread th;
    ck_assert_weft(weft_thread_start(&th, claim_waiter, &c, NULL), 0);
    ck_assert_weft(weft_event_wait(&c.started, WEFT_SEC(30)), 0);
    ck_assert_weft(weft_scope_cancel(c.scope, WEFT_ECANCELED, "stop waiting"), 0);
    weft_event_set(&c.waiter_cancelled);
    ck_assert_weft(weft_event_wait(&c.reported, WEFT_SEC(30)), 0);
    /* A cancel of the future reaches the task on its waiter. */
    ck_assert_weft(weft_future_cancel(c.f), WEFT_EBUSY);
    int status = -1;
    ck_assert_weft(weft_thread_join(th, &status, WEFT_SEC(30)), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(atomic_load(&c.wait_rc), 0); /* the waiter's cancel did not reach it */
    ck_assert_int_eq(atomic_load(&c.saw_cancel), 0);
    ck_assert_weft(weft_future_result(c.f, NULL, 0), WEFT_ECANCELED); /* the future's did */
    ck_assert_weft(weft_pool_resume(c.p), 0);
    ck_assert_weft(weft_pool_wait_idle(c.p, WEFT_SEC(30)), 0);
    ck_assert_int_eq(atomic_load(&c.runs), 1);
    weft_future_unref(c.f);
    weft_scope_free(c.scope);
    weft_pool_free(c.p);
}
END_TEST

static int claim_gated(void *arg, void **result)
{
    (void)result;
    struct claim *c = arg;
    c->ran_on = pthread_self();
    atomic_fetch_add(&c->runs, 1);
    weft_event_set(&c->started);
    return weft_event_wait(&c->gate, WEFT_SEC(30));
}

static int open_gate(void *arg)
{
    weft_event_set(arg);
    return 0;
}

/* A task a worker already runs is left to it: the waiter only waits. */
START_TEST(a_waiter_does_not_take_a_running_task)
{
    for (int round = 0; round < 50; round++) {
        struct claim c;
        memset(&c, 0, sizeof c);
        weft_event_init(&c.started);
        weft_event_init(&c.gate);
        weft_pool *p = helping_pool(1);
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, claim_gated, &c, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_event_wait(&c.started, WEFT_SEC(30)), 0);
        weft_thread th;
        ck_assert_weft(weft_thread_start(&th, open_gate, &c.gate, NULL), 0);
        ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_thread_join(th, NULL, WEFT_SEC(30)), 0);
        ck_assert_int_eq(atomic_load(&c.runs), 1);
        ck_assert(!pthread_equal(c.ran_on, pthread_self()));
        weft_future_unref(f);
        weft_pool_free(p);
    }
}
END_TEST

/* Waiters race the workers for the same queued tasks: each runs once, wherever it ran. */
START_TEST(waiters_and_workers_race_for_queued_tasks)
{
    weft_pool *p = helping_pool(2);
    for (int round = 0; round < 100; round++) {
        struct claim c[16];
        weft_future *f[16];
        memset(c, 0, sizeof c);
        for (int i = 0; i < 16; i++)
            ck_assert_weft(weft_pool_submit(p, claim_probe, &c[i], &f[i], WEFT_FOREVER), 0);
        for (int i = 15; i >= 0; i--) {
            if (i % 5 == 0) (void)weft_future_cancel(f[i]);
            int rc = weft_future_wait(f[i], WEFT_FOREVER);
            ck_assert_weft(rc, 0);
        }
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(30)), 0);
        for (int i = 0; i < 16; i++) {
            ck_assert_int_eq(atomic_load(&c[i].runs), weft_future_cancelled(f[i]) ? 0 : 1);
            weft_future_unref(f[i]);
        }
    }
    weft_pool_free(p);
}
END_TEST

static atomic_int inits;

static int init_ok(void *arg)
{
    ck_assert_ptr_eq(arg, &inits);
    atomic_fetch_add(&inits, 1);
    return 0;
}

static int init_fails(void *arg)
{
    (void)arg;
    return WEFT_EINVAL;
}

static int get_name(void *arg, void **result)
{
    (void)result;
    return weft_thread_name(weft_thread_current(), arg, 32);
}

START_TEST(workers_are_named_and_initialised)
{
    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.name_prefix = "crawler";
    o.init = init_ok;
    o.init_arg = &inits;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    char name[32] = "";
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, get_name, name, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
    ck_assert_str_eq(name, "crawler-1");
    ck_assert_int_eq(atomic_load(&inits), 1);
    weft_future_unref(f);
    weft_pool_free(p);
    /* A failing initializer breaks the pool. */
    o.init = init_fails;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    /* The first submit starts the worker: it may see the pool broken already, or its future
     * fails with WEFT_EBROKEN. Either way the task never runs, and later submits see
     * WEFT_EBROKEN. The initializer set no message: the reason gives its code's text. */
    atomic_store(&weft_test_runs, 0);
    int rc = weft_pool_submit(p, weft_test_count_run, NULL, &f, WEFT_FOREVER);
    if (rc == 0) {
        ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_EBROKEN);
        ck_assert_str_eq(weft_error_message(),
                         "pool broken: the initializer of worker crawler-1 failed: "
                         "invalid argument");
        ck_assert_int_eq(weft_future_cancelled(f), 0);
        weft_future_unref(f);
    } else {
        ck_assert_weft(rc, WEFT_EBROKEN);
    }
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER),
                   WEFT_EBROKEN);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    weft_pool_free(p);
}
END_TEST

/* ---- a pool whose initializer fails: Python's BrokenThreadPool ---- */

/* The initializer of the "fragile" pools: the first `ok` calls succeed; the others wait for
 * `gate` (so the test can queue tasks first), then fail with a message of their own. */
static struct {
    weft_event gate;
    atomic_int calls;
    int ok;
} breaker;

static int init_breaks(void *arg)
{
    (void)arg;
    if (atomic_fetch_add(&breaker.calls, 1) < breaker.ok) return 0;
    if (weft_event_wait(&breaker.gate, WEFT_SEC(30)) != 0) return WEFT_ETIMEDOUT;
    return weft_error_set(WEFT_ENOSPC, "no room for the cache in %s", "/var/cache");
}

static weft_pool *fragile_pool(int workers, int ok)
{
    weft_event_init(&breaker.gate);
    atomic_store(&breaker.calls, 0);
    breaker.ok = ok;
    weft_pool *p = weft_test_pool_with(
        (weft_pool_opts){.max_workers = workers, .name_prefix = "fragile", .init = init_breaks});
    return p;
}

/* The reason every dropped task carries: which worker's initializer failed, and its message. */
static void assert_broken_reason(const char *msg)
{
    const char *head = "pool broken: the initializer of worker fragile-";
    const char *tail = " failed: no room for the cache in /var/cache";
    ck_assert_msg(strncmp(msg, head, strlen(head)) == 0 && strlen(msg) > strlen(tail) &&
                      strcmp(msg + strlen(msg) - strlen(tail), tail) == 0,
                  "message: '%s'", msg);
}

static char broken_reports[8][WEFT_ERROR_MESSAGE_MAX + 64];
static atomic_int nbroken_reports;

static void broken_hook(const char *name, int status, const char *message, void *arg)
{
    (void)arg;
    int i = atomic_fetch_add(&nbroken_reports, 1);
    if (i < 8)
        snprintf(broken_reports[i], sizeof broken_reports[i], "%s|%s|%s", name,
                 weft_errname(status), message);
}

/* ThreadPoolExecutor: when an initializer fails, every pending work item's future gets
 * BrokenThreadPool. Here: FAILED with WEFT_EBROKEN and the reason, done but not cancelled; a
 * fire-and-forget task is reported through the pool error hook instead of vanishing. */
START_TEST(broken_pool_fails_pending_futures_with_ebroken)
{
    atomic_store(&nbroken_reports, 0);
    ck_assert_weft(weft_pool_set_error_hook(broken_hook, NULL), 0);
    weft_pool *p = fragile_pool(1, 0);
    atomic_store(&weft_test_runs, 0);
    enum { N = 20, SOLO = 3 };
    weft_future *fs[N];
    /* The first submit starts the worker, whose initializer waits at the gate: all queue. */
    for (int i = 0; i < N; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &fs[i], WEFT_FOREVER), 0);
    for (int i = 0; i < SOLO; i++) {
        char name[16];
        snprintf(name, sizeof name, "forgotten-%d", i);
        ck_assert_weft(
            weft_pool_submit_named(p, name, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    }
    ck_assert_int_eq(weft_future_done(fs[0]), 0);
    weft_event_set(&breaker.gate);
    size_t idx = N;
    ck_assert_weft(weft_wait(fs, N, WEFT_FIRST_EXCEPTION, &idx, WEFT_SEC(10)), 0);
    ck_assert_uint_lt(idx, N);
    for (int i = 0; i < N; i++) {
        void *res = (void *)&res;
        weft_error_clear();
        ck_assert_weft(weft_future_result(fs[i], &res, WEFT_SEC(10)), WEFT_EBROKEN);
        ck_assert_weft(weft_error_code(), WEFT_EBROKEN);
        assert_broken_reason(weft_error_message());
        ck_assert_ptr_null(res); /* finished: the result pointer is given, and none was set */
        ck_assert_int_eq(weft_future_done(fs[i]), 1);
        ck_assert_int_eq(weft_future_cancelled(fs[i]), 0);
        ck_assert_int_eq(weft_future_running(fs[i]), 0);
        ck_assert_weft(weft_future_cancel(fs[i]), WEFT_ESTATE); /* finished, not pending */
        weft_future_unref(fs[i]);
    }
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &fs[0], WEFT_FOREVER),
                   WEFT_EBROKEN);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0); /* the reports are made */
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    /* The futures' failures were seen (result); the fire-and-forget ones were reported. */
    ck_assert_int_eq(atomic_load(&nbroken_reports), SOLO);
    for (int i = 0; i < SOLO; i++) {
        char want[32];
        snprintf(want, sizeof want, "forgotten-%d|WEFT_EBROKEN|", i);
        int found = 0;
        for (int j = 0; j < SOLO; j++) {
            if (strncmp(broken_reports[j], want, strlen(want)) != 0) continue;
            assert_broken_reason(broken_reports[j] + strlen(want));
            found = 1;
        }
        ck_assert_msg(found, "no report for %s", want);
    }
    weft_pool_free(p);
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
}
END_TEST

struct held_task {
    weft_pool *pool;
    weft_event started, release;
    atomic_int inner_rc; /* a submit from inside the task, after the break */
};

static int held(void *arg, void **result)
{
    (void)result;
    struct held_task *h = arg;
    atomic_fetch_add(&weft_test_runs, 1);
    weft_event_set(&h->started);
    int rc = weft_event_wait(&h->release, WEFT_SEC(30));
    atomic_store(&h->inner_rc,
                 weft_pool_submit(h->pool, weft_test_count_run, NULL, NULL, WEFT_FOREVER));
    return rc;
}

/* One worker's initializer succeeds and it runs a task; the other's fails. The queued tasks
 * never run, on either worker; the running task finishes normally (Python lets it too); a
 * submit after the break, from outside or from inside that task, is WEFT_EBROKEN. */
START_TEST(broken_pool_runs_no_task_after_the_break)
{
    weft_pool *p = fragile_pool(2, 1);
    atomic_store(&weft_test_runs, 0);
    struct held_task h = {.pool = p};
    atomic_init(&h.inner_rc, 1);
    weft_event_init(&h.started);
    weft_event_init(&h.release);
    weft_future *running, *fs[10];
    ck_assert_weft(weft_pool_submit(p, held, &h, &running, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&h.started, WEFT_SEC(10)), 0); /* on the healthy worker */
    for (int i = 0; i < 10; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &fs[i], WEFT_FOREVER), 0);
    weft_event_set(&breaker.gate); /* the other worker's initializer fails now */
    for (int i = 0; i < 10; i++) {
        ck_assert_weft(weft_future_result(fs[i], NULL, WEFT_SEC(10)), WEFT_EBROKEN);
        assert_broken_reason(weft_error_message());
        weft_future_unref(fs[i]);
    }
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER),
                   WEFT_EBROKEN);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &fs[0], 0), WEFT_EBROKEN);
    ck_assert_int_eq(weft_future_running(running), 1);
    weft_event_set(&h.release);
    ck_assert_weft(weft_future_result(running, NULL, WEFT_SEC(10)), 0);
    ck_assert_weft(atomic_load(&h.inner_rc), WEFT_EBROKEN);
    weft_future_unref(running);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs),
                     1); /* only the task that started before the break */
    ck_assert_int_eq(atomic_load(&breaker.calls), 2);
    weft_pool_free(p);
}
END_TEST

struct map_call {
    weft_pool *pool;
    char message[WEFT_ERROR_MESSAGE_MAX];
};

static int map_on(void *arg)
{
    struct map_call *m = arg;
    int rc = weft_pool_map(m->pool, weft_test_count_run, NULL, NULL, 8, 1, WEFT_SEC(20));
    snprintf(m->message, sizeof m->message, "%s", weft_error_message());
    return rc;
}

/* Executor.map on a pool that breaks: the items never run and map fails with the reason
 * (before, it returned 0 for items that had not run). */
START_TEST(broken_pool_fails_a_running_map)
{
    weft_pool *p = fragile_pool(1, 0);
    atomic_store(&weft_test_runs, 0);
    struct map_call m = {p, ""};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, map_on, &m, NULL), 0);
    /* Wait until map has queued its 8 chunks (the initializer holds the only worker). */
    struct weft_pool_stats st = {0};
    for (int i = 0; i < 10000 && st.submitted < 8; i++) {
        ck_assert_weft(weft_pool_stats(p, &st), 0);
        if (st.submitted < 8) weft_sleep(WEFT_MS(1));
    }
    ck_assert_uint_eq(st.submitted, 8);
    weft_event_set(&breaker.gate);
    int status = 0;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(20)), 0);
    ck_assert_weft(status, WEFT_EBROKEN);
    assert_broken_reason(m.message);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 0);
    ck_assert_weft(weft_pool_map(p, weft_test_count_run, NULL, NULL, 8, 1, WEFT_SEC(1)),
                   WEFT_EBROKEN);
    ck_assert_weft(weft_parallel_for(p, 0, 10, 0, mark_body, NULL), WEFT_EBROKEN);
    weft_pool_free(p);
}
END_TEST

/* Executor.map when shutdown(cancel_futures=True) comes while it runs: the item running
 * finishes, the chunks still queued never run, and map reports WEFT_ECANCELED for them (not
 * 0, as if they had run). The running item shields its wait, so that only the dropped chunks
 * can make map fail. */
static weft_event map_item_running, map_item_gate;

static int gated_item(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add(&weft_test_runs, 1);
    if ((intptr_t)arg == 0) {
        weft_event_set(&map_item_running);
        (void)weft_shield_begin();
        int rc = weft_event_wait(&map_item_gate, WEFT_SEC(20));
        (void)weft_shield_end();
        return rc;
    }
    return 0;
}

struct gated_map {
    weft_pool *p;
    void *args[8];
};

static int gated_map_on(void *arg)
{
    struct gated_map *g = arg;
    return weft_pool_map(g->p, gated_item, g->args, NULL, 8, 1, WEFT_SEC(20));
}

START_TEST(map_interrupted_by_a_cancelling_shutdown_fails_with_ecanceled)
{
    weft_pool *p = weft_test_pool(1);
    atomic_store(&weft_test_runs, 0);
    struct gated_map g = {p, {0}};
    for (intptr_t i = 0; i < 8; i++) g.args[i] = (void *)i;
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, gated_map_on, &g, NULL), 0);
    ck_assert_weft(weft_event_wait(&map_item_running, WEFT_SEC(20)), 0);
    ck_assert_weft(weft_pool_shutdown(p, 0, 1, 0), 0);
    weft_event_set(&map_item_gate);
    int status = 0;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(20)), 0);
    ck_assert_weft(status, WEFT_ECANCELED);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 1);
    weft_pool_free(p);
}
END_TEST

/* A Python future outlives its executor. Here too: after the pool is shut down and freed, its
 * futures still give their results, and releasing them (including one stopped by the
 * cancelling shutdown and never looked at, with task scopes on) reads nothing of the freed
 * pool (AddressSanitizer checks that) and reports nothing: a task stopped by the shutdown has
 * not failed. */
static weft_event outlive_started;

static int wait_for_cancel(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_event_set(&outlive_started);
    return weft_sleep(WEFT_SEC(20)); /* WEFT_ECANCELED when the shutdown cancels the pool */
}

START_TEST(futures_outlive_their_pool)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .task_scopes = 1});
    atomic_store(&nbroken_reports, 0);
    ck_assert_weft(weft_pool_set_error_hook(broken_hook, NULL), 0);
    weft_future *done, *stopped, *pending;
    ck_assert_weft(weft_pool_submit(p, square, (void *)7, &done, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(done, WEFT_SEC(20)), 0);
    ck_assert_weft(weft_pool_submit(p, wait_for_cancel, NULL, &stopped, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, square, (void *)3, &pending, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_wait(&outlive_started, WEFT_SEC(20)), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 1, WEFT_SEC(20)), 0);
    weft_pool_free(p);
    void *r = NULL;
    ck_assert_weft(weft_future_result(done, &r, 0), 0);
    ck_assert_int_eq((intptr_t)r, 49);
    ck_assert_int_eq(weft_future_cancelled(pending), 1);
    ck_assert_int_eq(weft_future_done(stopped), 1);
    weft_future_unref(done);
    weft_future_unref(pending);
    weft_future_unref(stopped); /* ECANCELED, never looked at: not a failure to report */
    ck_assert_int_eq(atomic_load(&nbroken_reports), 0);
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
}
END_TEST

static int shutdown_self(void *arg, void **result)
{
    (void)result;
    return weft_pool_wait_idle(arg, WEFT_FOREVER);
}

START_TEST(default_pool_and_bad_input)
{
    weft_pool *d = weft_pool_default();
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_eq(weft_pool_default(), d);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(d, square, (void *)3, &f, WEFT_FOREVER), 0);
    void *r;
    ck_assert_weft(weft_future_result(f, &r, WEFT_SEC(10)), 0);
    ck_assert_int_eq((intptr_t)r, 9);
    weft_future_unref(f);
    weft_pool_free(d); /* ignored */
    ck_assert_weft(weft_pool_submit(d, shutdown_self, d, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_EDEADLK);
    weft_future_unref(f);

    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    ck_assert_weft(weft_pool_new(NULL, NULL), WEFT_EINVAL);
    o.max_workers = -1;
    ck_assert_weft(weft_pool_new(&p, &o), WEFT_EINVAL);
    o.max_workers = 1;
    o.name_prefix = "a-name-prefix-that-is-far-too-long-to-be-useful";
    ck_assert_weft(weft_pool_new(&p, &o), WEFT_EINVAL);
    ck_assert_weft(weft_pool_submit(NULL, square, NULL, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_submit(d, NULL, NULL, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_submit(d, square, NULL, NULL, -1), WEFT_EINVAL);
    ck_assert_weft(weft_pool_map(NULL, square, NULL, NULL, 1, 0, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_shutdown(NULL, 1, 0, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_wait_idle(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_pause(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_pool_resume(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_pool_stats(NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_parallel_for(d, 0, 10, 0, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_parallel_for(d, 10, 0, 0, mark_body, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_parallel_for(d, 0, 10, -1, mark_body, NULL), WEFT_EINVAL);
    int64_t z = 0;
    ck_assert_weft(weft_parallel_reduce(d, 0, 1, 0, sum_body, NULL, 8, &z, &z, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_parallel_reduce(d, 0, 1, 0, sum_body, sum_combine, 0, &z, &z, NULL),
                   WEFT_EINVAL);
    weft_pool_free(NULL);
    /* After shutdown: ECLOSED everywhere. */
    p = weft_test_pool(1);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_pool_submit(p, square, NULL, NULL, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_pool_map(p, square, NULL, NULL, 1, 0, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_parallel_for(p, 0, 10, 0, mark_body, NULL), WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

START_TEST(tasks_submitted_into_a_scope_are_cancelled_with_it)
{
    /* The hook task groups use (pool/hooks.h). */
    weft_pool *p = weft_test_pool(2);
    weft_scope *s, *child; /* the pool takes the child's reference */
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_new(&child, s, NULL), 0);
    weft_event started;
    weft_event_init(&started);
    weft_future *f, *other;
    ck_assert_weft(weft__pool_submit_scoped(p, child, "in-scope", weft_test_set_event_and_sleep,
                                            &started, &f, WEFT_FOREVER),
                   0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(10)), 0);
    weft_event_clear(&started);
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &started, &other, WEFT_FOREVER), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "group failed"), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_ECANCELED);
    ck_assert_int_eq(weft_future_done(other), 0); /* the other task is not in the scope */
    weft_event_set(&started);
    ck_assert_weft(weft_future_result(other, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_future_unref(other);
    weft_scope_free(s);
    weft_pool_free(p);
}
END_TEST

/* future.h: a task that ended with WEFT_ECANCELED after being cancelled is not reported,
 * whichever scope was cancelled: an ancestor of the pool's scope (Ctrl-C cancels the root),
 * or a deadline of one. A task that returns WEFT_ECANCELED with nothing cancelled is. */
static int wait_cancelled(void *arg, void **result)
{
    (void)result;
    weft_sem_release(arg, 1);
    return weft_sleep(WEFT_SEC(60));
}

static int ecanceled_for_no_reason(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return WEFT_ECANCELED;
}

START_TEST(tasks_cancelled_through_an_ancestor_scope_are_not_reported)
{
    atomic_store(&nbroken_reports, 0);
    ck_assert_weft(weft_pool_set_error_hook(broken_hook, NULL), 0);
    for (int deadline = 0; deadline < 2; deadline++) {
        weft_scope *top, *mid;
        weft_scope_opts so = WEFT_SCOPE_OPTS_INIT;
        so.timeout = WEFT_MS(20);
        ck_assert_weft(weft_scope_new(&top, NULL, deadline ? &so : NULL), 0);
        ck_assert_weft(weft_scope_new(&mid, top, NULL), 0);
        weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 4, .scope = mid});
        weft_sem started = WEFT_SEM_INIT(0);
        weft_future *f;
        ck_assert_weft(
            weft_pool_submit_named(p, "solo", wait_cancelled, &started, NULL, WEFT_FOREVER), 0);
        ck_assert_weft(
            weft_pool_submit_named(p, "held", wait_cancelled, &started, &f, WEFT_FOREVER), 0);
        for (int i = 0; i < 2; i++) ck_assert_weft(weft_sem_acquire(&started, WEFT_SEC(10)), 0);
        if (!deadline) ck_assert_weft(weft_scope_cancel(top, WEFT_ECANCELED, "Ctrl-C"), 0);
        ck_assert_weft(weft_future_wait(f, WEFT_SEC(10)), 0);
        weft_future_unref(f); /* its failure was never looked at */
        ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
        weft_pool_free(p);
        weft_scope_free(mid);
        weft_scope_free(top);
    }
    ck_assert_int_eq(atomic_load(&nbroken_reports), 0);
    weft_pool *p = weft_test_pool(1);
    ck_assert_weft(
        weft_pool_submit_named(p, "liar", ecanceled_for_no_reason, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    weft_pool_free(p);
    ck_assert_int_eq(atomic_load(&nbroken_reports), 1);
    ck_assert_str_eq(broken_reports[0], "liar|WEFT_ECANCELED|canceled: the calling thread's "
                                        "cancel scope was cancelled");
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
}
END_TEST

START_TEST(allocation_and_thread_failures_are_error_codes)
{
    weft_pool *p;
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_pool_new(&p, NULL), WEFT_ENOMEM);
    p = weft_test_pool(2);
    weft__fault_arm(WEFT__FAULT_THREAD_CREATE, 1);
    atomic_store(&weft_test_runs, 0);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, NULL, WEFT_FOREVER), 0);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_count_run, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(10)), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_future_add_done_callback(f, NULL, NULL), WEFT_EINVAL);
    weft_as_completed *it;
    ck_assert_weft(weft_as_completed_new(&it, &f, 1), WEFT_ENOMEM);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
    ck_assert_int_eq(atomic_load(&weft_test_runs), 2);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

static _Atomic int64_t arg_sum;

static int add_arg(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add(&arg_sum, (int64_t)(intptr_t)arg);
    return 0;
}

/* Records recycled while no magazine can be had are linked on the depot's loose list
 * (records.c) and come back from there: none lost, none handed out twice. Fire-and-forget
 * tasks are freed by the workers and allocated by this thread, so records cross the depot. */
START_TEST(records_recycle_when_no_magazine_can_be_had)
{
    weft_pool *p = weft_test_pool(2);
    enum { N = 3000 };
    atomic_store(&arg_sum, 0);
    int64_t want = 0;
    for (int round = 0; round < 20; round++) {
        weft__fault_arm(WEFT__FAULT_MAGAZINE, 1 + round % 3);
        for (intptr_t i = 1; i <= N; i++) {
            ck_assert_weft(weft_pool_submit(p, add_arg, (void *)i, NULL, WEFT_FOREVER), 0);
            want += i;
        }
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
        ck_assert_int_eq(atomic_load(&arg_sum), want);
        /* Every armed failure was met: the loose path ran. */
        ck_assert_int_eq(atomic_load(&weft__fault_armed[WEFT__FAULT_MAGAZINE]), 0);
    }
    weft_pool_free(p);
}
END_TEST

/* A batch from the injection stack that the grabbing worker's deque cannot hold (no memory to
 * grow it): what was not pushed runs on that worker at once; every task runs exactly once.
 * With one worker the whole batch is pushed; with two, half of it past the first records goes
 * back on the stack (sched.c grab_inject), and the grow fails in either case. */
START_TEST(a_batch_the_deque_cannot_hold_runs_on_its_worker)
{
    for (int workers = 1; workers <= 2; workers++) {
        weft_pool *p = weft_test_pool(workers);
        enum { N = 8000 }; /* several times the deque's first buffer */
        atomic_store(&arg_sum, 0);
        int64_t want = 0;
        ck_assert_weft(weft_pool_pause(p), 0);
        for (intptr_t i = 1; i <= N; i++) {
            ck_assert_weft(weft_pool_submit(p, add_arg, (void *)i, NULL, WEFT_FOREVER), 0);
            want += i;
        }
        weft__fault_arm(WEFT__FAULT_ALLOC, 1); /* the deque's growth is the next allocation */
        ck_assert_weft(weft_pool_resume(p), 0);
        ck_assert_weft(weft_pool_wait_idle(p, WEFT_SEC(10)), 0);
        ck_assert_int_eq(atomic_load(&weft__fault_armed[WEFT__FAULT_ALLOC]), 0);
        ck_assert_int_eq(atomic_load(&arg_sum), want);
        weft_pool_free(p);
    }
}
END_TEST

static _Atomic int scoped_runs;

static int count_scoped_run(void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&scoped_runs, 1);
    return 0;
}

/* A task that must run in a scope of its own never runs outside it: when the scope cannot be
 * made, the task fails with the reason instead of running where a cancel would miss it. */
START_TEST(task_that_cannot_get_its_scope_does_not_run)
{
    weft_pool *p = weft_test_pool_with((weft_pool_opts){.max_workers = 1, .task_scopes = 1});
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, count_scoped_run, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0); /* the worker exists */
    weft_future_unref(f);
    ck_assert_weft(weft_pool_pause(p), 0);
    ck_assert_weft(weft_pool_submit(p, count_scoped_run, NULL, &f, WEFT_FOREVER), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1); /* the task's scope is the next allocation */
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), WEFT_ENOMEM);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    ck_assert_int_eq(atomic_load(&scoped_runs), 1);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_SEC(10)), 0);
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE(
    "pool", 30, allocation_and_thread_failures_are_error_codes,
    tasks_cancelled_through_an_ancestor_scope_are_not_reported,
    task_that_cannot_get_its_scope_does_not_run, tasks_submitted_into_a_scope_are_cancelled_with_it,
    map_gives_results_in_order, map_timeout_stops_and_waits_for_running_chunks,
    shutdown_wait_runs_every_queued_task, shutdown_cancel_pending_cancels_queued_and_running,
    shutdown_timeout_names_running_tasks, shutdown_naming_races_recycled_fire_and_forget_records,
    nested_submit_and_wait_on_one_worker_completes, every_wait_helps_inside_a_one_worker_pool,
    parallel_reduce_gives_the_exact_sum, parallel_reduce_nests_inside_tasks,
    parallel_for_covers_every_index_once_at_every_grain_and_size,
    parallel_for_from_a_cancelled_caller_still_covers_the_range,
    parallel_for_nests_in_bodies_and_tasks, parallel_reduce_is_exact_at_fine_grains,
    wait_idle_from_outside_runs_queued_tasks, a_future_wait_from_outside_runs_no_other_task,
    a_paced_submitter_goes_on_when_the_workers_are_stuck, by_default_outside_waiters_run_no_task,
    a_paced_submitter_runs_queued_tasks_oldest_first_only_with_waiters_help,
    a_paced_submitter_does_not_run_tasks_of_a_paused_pool,
    a_shutdown_during_a_paced_submitters_batch_ends, a_helping_waiter_still_times_out,
    wait_idle_times_out_while_tasks_wait_for_the_caller,
    a_helping_waiter_is_cancelled_and_its_task_is_not, wait_idle_pause_and_resume,
    pause_stops_workers_that_are_already_searching, bounded_queue_gives_back_pressure,
    cancelled_queued_tasks_do_not_count_against_max_queued,
    cancels_racing_workers_give_each_place_back_once, a_waiter_runs_its_queued_task_itself,
    a_waiter_running_its_task_is_cancelled_and_the_task_is_not,
    a_waiter_does_not_take_a_running_task, waiters_and_workers_race_for_queued_tasks,
    workers_are_named_and_initialised, broken_pool_fails_pending_futures_with_ebroken,
    broken_pool_runs_no_task_after_the_break, broken_pool_fails_a_running_map,
    map_interrupted_by_a_cancelling_shutdown_fails_with_ecanceled, futures_outlive_their_pool,
    records_recycle_when_no_magazine_can_be_had, a_batch_the_deque_cannot_hold_runs_on_its_worker,
    default_pool_and_bad_input)
