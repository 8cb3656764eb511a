/* tests/unit/sched_paths_test.c - the waits of a pool made with opts.waiters_help (weft/pool.h):
 * the awaited task run by its waiter on a paused or bounded pool, nested and deeply scoped
 * waits, wait_idle's timeout and cancellation between helped tasks, a paused pool's wait_idle
 * that helps nobody; and submits from inside a task of the pool. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <weft.h>

#include "test.h"

static weft_pool *help_pool(int paused, size_t max_queued)
{
    weft_pool *p = NULL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.max_queued = max_queued;
    o.waiters_help = 1;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    if (paused) ck_assert_weft(weft_pool_pause(p), 0);
    return p;
}

struct where {
    pthread_t thread;
    atomic_int runs;
};

static int note_thread(void *arg, void **result)
{
    struct where *w = arg;
    w->thread = pthread_self();
    atomic_fetch_add(&w->runs, 1);
    *result = arg;
    return 0;
}

static int fail_with_message(void *arg, void **result)
{
    (void)arg, (void)result;
    return weft_error_set(WEFT_EFAILED, "disk %d is gone", 3);
}

/* weft_pool_pause: a thread that is no worker and waits with WEFT_FOREVER still runs the
 * awaited task itself, on its own thread (bounded pool: its place is given back); a failure's
 * message reaches the future as from a worker. */
START_TEST(paused_pool_waiter_runs_its_own_task)
{
    weft_pool *p = help_pool(1, 2);
    struct where w = {0};
    weft_future *f = NULL, *g = NULL, *h = NULL;
    ck_assert_weft(weft_pool_submit(p, note_thread, &w, &f, 0), 0);
    ck_assert_weft(weft_pool_submit(p, fail_with_message, NULL, &g, 0), 0);
    ck_assert_weft(weft_pool_submit(p, note_thread, &w, &h, 0), WEFT_EAGAIN); /* 2 queued */
    ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&w.runs), 1);
    ck_assert(pthread_equal(w.thread, pthread_self()));
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, 0), 0);
    ck_assert_ptr_eq(r, &w);
    /* its place among max_queued is free again */
    ck_assert_weft(weft_pool_submit(p, note_thread, &w, &h, 0), 0);
    ck_assert_weft(weft_future_result(g, &r, WEFT_FOREVER), WEFT_EFAILED);
    ck_assert_str_eq(weft_error_message(), "disk 3 is gone");
    ck_assert_weft(weft_future_wait(h, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&w.runs), 2);
    weft_future_unref(f);
    weft_future_unref(g);
    weft_future_unref(h);
    weft_pool_free(p);
}
END_TEST

struct nest {
    weft_pool *p;
    struct where inner;
    int inner_rc;
};

/* Runs on the waiter (the pool is paused): resumes the pool, then waits for a task of its own. */
static int outer_task(void *arg, void **result)
{
    struct nest *n = arg;
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_resume(n->p), 0);
    ck_assert_weft(weft_pool_submit(n->p, note_thread, &n->inner, &f, WEFT_FOREVER), 0);
    n->inner_rc = weft_future_result(f, result, WEFT_FOREVER);
    weft_future_unref(f);
    return 0;
}

/* A task run by its waiter waits for another task of the pool: that one is run (once) and its
 * result arrives; the outer result is the inner one's. */
START_TEST(task_run_by_its_waiter_waits_for_another)
{
    struct nest n = {.p = help_pool(1, 0)};
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit(n.p, outer_task, &n, &f, 0), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_weft(n.inner_rc, 0);
    ck_assert_ptr_eq(r, &n.inner);
    ck_assert_int_eq(atomic_load(&n.inner.runs), 1);
    weft_future_unref(f);
    weft_pool_free(n.p);
}
END_TEST

/* A waiter nested WEFT_SCOPE_DEPTH - 1 scopes deep has no room for the pool's scope and the
 * task's: its waits still end, each task run once, by a worker (weft/cancel.h, weft/pool.h). */
START_TEST(deeply_scoped_waiter_still_gets_its_results)
{
    weft_pool *p = help_pool(0, 0);
    weft_scope *s = NULL;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    for (int i = 0; i < WEFT_SCOPE_DEPTH - 1; i++) ck_assert_weft(weft_scope_enter(s), 0);
    struct where w = {0};
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit(p, note_thread, &w, &f, 0), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
    ck_assert(!pthread_equal(w.thread, pthread_self()));
    ck_assert_weft(weft_scope_enter(s), 0); /* WEFT_SCOPE_DEPTH: not even p's scope fits */
    for (int i = 0; i < 8; i++) ck_assert_weft(weft_pool_submit(p, note_thread, &w, NULL, 0), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&w.runs), 9);
    ck_assert(!pthread_equal(w.thread, pthread_self()));
    for (int i = 0; i < WEFT_SCOPE_DEPTH; i++) ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

/* weft_pool_pause: no task starts, and wait_idle helps with none either: it times out. */
START_TEST(paused_pool_wait_idle_runs_nothing)
{
    weft_pool *p = help_pool(1, 0);
    struct where w = {0};
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_pool_submit(p, note_thread, &w, NULL, 0), 0);
    ck_assert_weft(weft_pool_wait_idle(p, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_wait_idle(p, 2000000), WEFT_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&w.runs), 0);
    ck_assert_weft(weft_pool_resume(p), 0);
    ck_assert_weft(weft_pool_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&w.runs), 3);
    weft_pool_free(p);
}
END_TEST

/* A worker's task queues children on its deque, then blocks on a gate; the waiter helps. */
struct fan {
    weft_pool *p;
    weft_event gate, queued;
    weft_scope *waiter; /* cancelled by the first child, if set */
    atomic_int children, on_waiter;
    pthread_t waiter_thread;
};

static int child(void *arg, void **result)
{
    struct fan *fa = arg;
    (void)result;
    if (pthread_equal(pthread_self(), fa->waiter_thread)) atomic_fetch_add(&fa->on_waiter, 1);
    atomic_fetch_add(&fa->children, 1);
    if (fa->waiter) ck_assert_weft(weft_scope_cancel(fa->waiter, WEFT_ECANCELED, "enough"), 0);
    weft_sleep(2000000); /* past the waiter's 1 ms */
    return 0;
}

static int parent(void *arg, void **result)
{
    struct fan *fa = arg;
    (void)result;
    for (int i = 0; i < 4; i++) ck_assert_weft(weft_pool_submit(fa->p, child, fa, NULL, 0), 0);
    ck_assert_weft(weft_event_set(&fa->queued), 0);
    return weft_event_wait(&fa->gate, WEFT_FOREVER);
}

static void fan_out(struct fan *fa)
{
    memset(fa, 0, sizeof *fa);
    fa->p = help_pool(0, 0);
    fa->waiter_thread = pthread_self();
    ck_assert_weft(weft_event_init(&fa->gate), 0);
    ck_assert_weft(weft_event_init(&fa->queued), 0);
    ck_assert_weft(weft_pool_submit(fa->p, parent, fa, NULL, 0), 0);
    ck_assert_weft(weft_event_wait(&fa->queued, WEFT_FOREVER), 0);
}

static void fan_in(struct fan *fa)
{
    ck_assert_weft(weft_event_set(&fa->gate), 0);
    ck_assert_weft(weft_pool_wait_idle(fa->p, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&fa->children), 4);
    weft_pool_free(fa->p);
}

/* weft_pool_wait_idle: the timeout is checked between two helped tasks. */
START_TEST(wait_idle_times_out_between_helped_tasks)
{
    struct fan fa;
    fan_out(&fa);
    ck_assert_weft(weft_pool_wait_idle(fa.p, 1000000), WEFT_ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&fa.on_waiter), 1); /* the deadline passed during the first */
    ck_assert_int_eq(atomic_load(&fa.children), 1);
    fan_in(&fa);
}
END_TEST

/* ... and so is the caller's cancellation; the helped task ran in p's scope, not the caller's. */
START_TEST(wait_idle_sees_its_cancellation_between_helped_tasks)
{
    struct fan fa;
    fan_out(&fa);
    weft_scope *s = NULL;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    fa.waiter = s;
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_pool_wait_idle(fa.p, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_int_eq(atomic_load(&fa.on_waiter), 1);
    ck_assert_weft(weft_scope_exit(), 0);
    fa.waiter = NULL; /* the other children run after the gate opens (fan_in) */
    weft_scope_free(s);
    fan_in(&fa);
}
END_TEST

struct spawner {
    weft_pool *p;
    atomic_int runs;
};

static int leaf(void *arg, void **result)
{
    struct spawner *s = arg;
    *result = NULL;
    atomic_fetch_add(&s->runs, 1);
    return 0;
}

/* Submits from a worker of the same pool, named and not, many more than the submit's pacing
 * interval: each runs once. */
static int spawn_many(void *arg, void **result)
{
    struct spawner *s = arg;
    *result = NULL;
    for (int i = 0; i < 600; i++) {
        int rc = weft_pool_submit(s->p, leaf, s, NULL, WEFT_FOREVER);
        if (rc != 0) return rc;
    }
    for (int i = 0; i < 600; i++) {
        int rc = weft_pool_submit_named(s->p, "leaf", leaf, s, NULL, WEFT_FOREVER);
        if (rc != 0) return rc;
    }
    return 0;
}

START_TEST(submits_from_a_worker_each_run_once)
{
    struct spawner s = {0};
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 2;
    o.task_scopes = 1;
    o.waiters_help = 1;
    ck_assert_weft(weft_pool_new(&s.p, &o), 0);
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit_named(s.p, "spawner", spawn_many, &s, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), 0);
    ck_assert_weft(weft_pool_wait_idle(s.p, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&s.runs), 1200);
    weft_future_unref(f);
    weft_pool_free(s.p);
}
END_TEST

struct fam {
    weft_group *g;
    atomic_int runs;
};

static int sibling(void *arg)
{
    atomic_fetch_add(&((struct fam *)arg)->runs, 1);
    return 0;
}

static int founder(void *arg)
{
    struct fam *fa = arg;
    atomic_fetch_add(&fa->runs, 1);
    for (int i = 0; i < 300; i++) {
        int rc = weft_group_spawn(fa->g, sibling, fa, i % 2 ? "sib" : NULL);
        if (rc != 0) return rc;
    }
    return 0;
}

/* weft/group.h: tasks may spawn siblings into their own group; on a pool whose waiters help
 * and on one that gives each task a scope of its own, every one runs once and the wait gives 0. */
START_TEST(group_tasks_spawn_siblings_on_helping_and_scoped_pools)
{
    for (int kind = 0; kind < 2; kind++) {
        weft_pool *p = NULL;
        weft_pool_opts po = WEFT_POOL_OPTS_INIT;
        po.max_workers = 2;
        po.waiters_help = kind == 0;
        po.task_scopes = kind == 1;
        ck_assert_weft(weft_pool_new(&p, &po), 0);
        weft_group_opts go = WEFT_GROUP_OPTS_INIT;
        go.pool = p;
        struct fam fa = {0};
        ck_assert_weft(weft_group_new(&fa.g, &go), 0);
        ck_assert_weft(weft_group_spawn(fa.g, founder, &fa, "founder"), 0);
        ck_assert_weft(weft_group_wait(fa.g, WEFT_FOREVER), 0);
        ck_assert_int_eq(atomic_load(&fa.runs), 301);
        ck_assert_weft(weft_group_free(fa.g), 0);
        weft_pool_free(p);
    }
}
END_TEST

#define PF_N 20000

struct cover {
    atomic_uchar hit[PF_N];
    weft_pool *p;
    int rc;
};

static void mark(int64_t lo, int64_t hi, void *arg)
{
    struct cover *c = arg;
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&c->hit[i], 1);
}

static void check_once(struct cover *c)
{
    for (int i = 0; i < PF_N; i++) ck_assert_int_eq(atomic_load(&c->hit[i]), 1);
    memset(c->hit, 0, sizeof c->hit);
}

static int pfor_task(void *arg, void **result)
{
    struct cover *c = arg;
    *result = NULL;
    c->rc = weft_parallel_for(c->p, 0, PF_N, 0, mark, c);
    return 0;
}

/* weft_parallel_for covers [begin, end) exactly once: on a pool of 12 workers, on the default
 * pool (NULL), and called from a task of the same pool and of another one ("nests"). */
START_TEST(parallel_for_covers_each_index_once_from_everywhere)
{
    static struct cover c;
    weft_pool *wide = NULL, *other = NULL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 12;
    ck_assert_weft(weft_pool_new(&wide, &o), 0);
    o.max_workers = 1;
    ck_assert_weft(weft_pool_new(&other, &o), 0);
    ck_assert_weft(weft_parallel_for(wide, 0, PF_N, 7, mark, &c), 0);
    check_once(&c);
    ck_assert_weft(weft_parallel_for(NULL, 0, PF_N, 0, mark, &c), 0);
    check_once(&c);
    weft_pool *callers[] = {wide, other};
    for (int i = 0; i < 2; i++) {
        c.p = wide;
        c.rc = -1;
        weft_future *f = NULL;
        ck_assert_weft(weft_pool_submit(callers[i], pfor_task, &c, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), 0);
        weft_future_unref(f);
        ck_assert_weft(c.rc, 0);
        check_once(&c);
    }
    weft_pool_free(other);
    weft_pool_free(wide);
}
END_TEST

static int fail_plain(void *arg, void **result)
{
    (void)arg, (void)result;
    return weft_error_set(WEFT_EFAILED, NULL); /* a code and no text */
}

static int fail_other(void *arg, void **result)
{
    (void)arg, (void)result;
    weft_error_set(WEFT_EBUSY, "not this one");
    return 7; /* a status that is no weft code, the slot holding another */
}

/* weft/future.h: a failed task's result gives its status, and the message it set with
 * weft_error_set for that status, else the code's text, else "task returned N": on a worker
 * and when the waiter runs the task itself (waiters_help, paused). */
START_TEST(failure_without_its_own_message_gives_the_code_text)
{
    for (int paused = 0; paused < 2; paused++) {
        weft_pool *p = help_pool(paused, 0);
        weft_future *f = NULL, *g = NULL;
        ck_assert_weft(weft_pool_submit(p, fail_plain, NULL, &f, 0), 0);
        ck_assert_weft(weft_pool_submit(p, fail_other, NULL, &g, 0), 0);
        ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EFAILED);
        ck_assert_str_eq(weft_error_message(), weft_strerror(WEFT_EFAILED));
        ck_assert_int_eq(weft_future_result(g, NULL, WEFT_FOREVER), 7);
        ck_assert_str_eq(weft_error_message(), "task returned 7");
        weft_future_unref(f);
        weft_future_unref(g);
        weft_pool_free(p);
    }
}
END_TEST

struct forkjoin {
    weft_pool *p;
    int kind; /* 0: waits for the older child; 1: a callback on the child first */
    atomic_int leaves, callbacks;
};

static int fj_leaf(void *arg, void **result)
{
    struct forkjoin *fj = arg;
    atomic_fetch_add(&fj->leaves, 1);
    *result = fj;
    return 0;
}

static void fj_cb(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add(&((struct forkjoin *)arg)->callbacks, 1);
}

/* A task that queues children and waits for one (the fork-join shortcut of weft_future_wait,
 * docs/design/pool.md): the awaited child not the last queued, a child with a callback, a
 * bounded pool; every child runs once and each wait gives its child's result. */
static int fj_parent(void *arg, void **result)
{
    struct forkjoin *fj = arg;
    *result = NULL;
    weft_future *a = NULL, *b = NULL;
    ck_assert_weft(weft_pool_submit(fj->p, fj_leaf, fj, &a, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(fj->p, fj_leaf, fj, &b, WEFT_FOREVER), 0);
    if (fj->kind == 1) ck_assert_weft(weft_future_add_done_callback(b, fj_cb, fj), 0);
    weft_future *first = fj->kind == 0 ? a : b;
    void *r = NULL;
    ck_assert_weft(weft_future_result(first, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, fj);
    ck_assert_weft(weft_future_result(first == a ? b : a, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, fj);
    weft_future_unref(a);
    weft_future_unref(b);
    return 0;
}

START_TEST(fork_join_waits_inside_a_task)
{
    for (int bounded = 0; bounded < 2; bounded++) {
        for (int kind = 0; kind < 2; kind++) {
            struct forkjoin fj = {.kind = kind};
            weft_pool_opts o = WEFT_POOL_OPTS_INIT;
            o.max_workers = 1;
            o.max_queued = bounded ? 8 : 0;
            ck_assert_weft(weft_pool_new(&fj.p, &o), 0);
            weft_future *f = NULL;
            for (int i = 0; i < 50; i++) {
                ck_assert_weft(weft_pool_submit(fj.p, fj_parent, &fj, &f, WEFT_FOREVER), 0);
                ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), 0);
                weft_future_unref(f);
            }
            ck_assert_int_eq(atomic_load(&fj.leaves), 100);
            ck_assert_int_eq(atomic_load(&fj.callbacks), kind == 1 ? 50 : 0);
            weft_pool_free(fj.p);
        }
    }
}
END_TEST

struct gate_task {
    weft_event go, started;
};

static int gated(void *arg, void **result)
{
    struct gate_task *g = arg;
    *result = NULL;
    ck_assert_weft(weft_event_set(&g->started), 0);
    return weft_event_wait(&g->go, WEFT_FOREVER);
}

/* weft/pool.h: after a shutdown that does not wait, a queued task still runs; a thread that is
 * no worker and waits for it with WEFT_FOREVER on a waiters_help pool, while the only worker is
 * busy, runs it itself. */
START_TEST(waiter_runs_its_task_on_a_shut_down_pool)
{
    weft_pool *p = help_pool(0, 0);
    struct gate_task g;
    ck_assert_weft(weft_event_init(&g.go), 0);
    ck_assert_weft(weft_event_init(&g.started), 0);
    ck_assert_weft(weft_pool_submit(p, gated, &g, NULL, 0), 0);
    ck_assert_weft(weft_event_wait(&g.started, WEFT_FOREVER), 0);
    struct where w = {0};
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit(p, note_thread, &w, &f, 0), 0);
    ck_assert_weft(weft_pool_shutdown(p, 0, 0, 0), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
    ck_assert(pthread_equal(w.thread, pthread_self()));
    ck_assert_int_eq(atomic_load(&w.runs), 1);
    ck_assert_weft(weft_event_set(&g.go), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

static int map_item(void *arg, void **result)
{
    intptr_t i = (intptr_t)arg;
    *result = arg;
    if (i == 5) return 7;                                        /* no weft code, no message */
    if (i == 9) return weft_error_set(WEFT_EFAILED, NULL);       /* a code, no message */
    if (i == 3) return weft_error_set(WEFT_EBUSY, "item %d", 3); /* a code and a message */
    return 0;
}

static int map_slow(void *arg, void **result)
{
    *result = arg;
    return weft_sleep(WEFT_MS(20));
}

/* weft/pool.h: weft_pool_map gives the status of the failing item with the lowest index and
 * its message (the code's text when it set none, "task returned N" for a status that is no
 * weft code); with a timeout that runs out it gives
 * WEFT_ETIMEDOUT, also at timeout 0. */
START_TEST(map_reports_the_lowest_failure_and_its_timeout)
{
    weft_pool *p = NULL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 2;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    void *args[12], *res[12];
    for (intptr_t i = 0; i < 12; i++) args[i] = (void *)i;
    ck_assert_weft(weft_pool_map(p, map_item, args + 4, res, 8, 1, WEFT_FOREVER), 7);
    ck_assert_str_eq(weft_error_message(), "task returned 7"); /* as a future's */
    ck_assert_weft(weft_pool_map(p, map_item, args + 6, res, 6, 1, WEFT_FOREVER), WEFT_EFAILED);
    ck_assert_str_eq(weft_error_message(), weft_strerror(WEFT_EFAILED));
    ck_assert_weft(weft_pool_map(p, map_item, args, res, 12, 1, WEFT_FOREVER), WEFT_EBUSY);
    ck_assert_str_eq(weft_error_message(), "item 3");
    ck_assert_weft(weft_pool_map(p, map_slow, args, res, 12, 1, WEFT_MS(1)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_pool_map(p, map_slow, args, res, 12, 1, 0), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_pool_map(p, map_item, args, res, 3, 0, WEFT_FOREVER), 0);
    for (int i = 0; i < 3; i++) ck_assert_ptr_eq(res[i], args[i]);
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE("sched_paths", 30, paused_pool_waiter_runs_its_own_task,
                task_run_by_its_waiter_waits_for_another,
                deeply_scoped_waiter_still_gets_its_results, paused_pool_wait_idle_runs_nothing,
                wait_idle_times_out_between_helped_tasks,
                wait_idle_sees_its_cancellation_between_helped_tasks,
                submits_from_a_worker_each_run_once,
                group_tasks_spawn_siblings_on_helping_and_scoped_pools,
                parallel_for_covers_each_index_once_from_everywhere,
                failure_without_its_own_message_gives_the_code_text, fork_join_waits_inside_a_task,
                waiter_runs_its_task_on_a_shut_down_pool,
                map_reports_the_lowest_failure_and_its_timeout)
