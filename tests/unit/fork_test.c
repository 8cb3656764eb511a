/* tests/unit/fork_test.c - fork(): what the child gets of each weft service (docs/design/fork.md).
 * Each test brings a service to a state (idle, busy, shutting down), forks, and checks in the
 * child that the service either works or fails with a clear code - never accepts work that
 * nothing will run.
 *
 * Two sanitizer limits shape the tests. ThreadSanitizer does not allow a child of a
 * multi-threaded process to start threads: under it the children check only what starts none.
 * gcc 12's AddressSanitizer has no fork handlers: a thread of the parent that holds one of its
 * allocator locks at the fork leaves it held in the child. So the parent forks only once its
 * threads are parked (wait_parked). */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tasks.h"
#include "test.h"

/* The parent's threads are parked: past their start, past any allocation (see above). Every
 * task has started (the pool's counters say so), and every worker not busy with one is parked
 * idle (the test hook says so). A busy worker parks in its task's event wait, which no hook
 * shows: a short pause lets it get there. */
static void wait_parked(weft_pool *p, uint64_t busy)
{
    struct weft_pool_stats st;
    for (int i = 0; i < 10000; i++) {
        ck_assert_weft(weft_pool_stats(p, &st), 0);
        if ((uint64_t)st.busy == busy && st.completed + busy == st.submitted) break;
        weft_sleep(WEFT_MS(1));
    }
    weft_test_await_pool_parked(p, (size_t)st.workers - busy);
    if (busy) weft_sleep(WEFT_MS(20));
}

/* Fork; the child returns child(arg) as its exit status (0: all held). */
static void in_child(int (*child)(void *), void *arg)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) _exit(child(arg));
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "the child did not exit (status %d)", st);
    ck_assert_msg(WEXITSTATUS(st) == 0, "the child failed check %d", WEXITSTATUS(st));
}

/* A pool that the parent left idle or busy works in the child: a task submitted there runs. */
static int submit_runs(void *arg)
{
    weft_pool *p = arg ? arg : weft_pool_default();
    if (weft_test_tsan()) return 0;
    weft_future *f;
    void *res = NULL;
    if (weft_pool_submit(p, weft_test_give, (void *)7, &f, WEFT_FOREVER) != 0) return 1;
    if (weft_future_result(f, &res, WEFT_SEC(10)) != 0 || res != (void *)7) return 2;
    weft_future_unref(f);
    if (weft_pool_wait_idle(p, WEFT_SEC(10)) != 0) return 3;
    return 0;
}

START_TEST(default_pool_works_in_a_child_forked_while_idle)
{
    weft_pool *p = weft_pool_default();
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_give, NULL, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    wait_parked(p, 0);
    in_child(submit_runs, NULL);
    in_child(submit_runs, NULL); /* and again: the parent's pool is unchanged */
}
END_TEST

START_TEST(default_pool_works_in_a_child_forked_while_busy)
{
    weft_pool *p = weft_pool_default();
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(p, &st), 0);
    weft_event go;
    weft_event_init(&go);
    weft_future *blocked[2];
    for (int i = 0; i < 2; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &go, &blocked[i], WEFT_FOREVER),
                       0);
    wait_parked(p, st.max_workers < 2 ? 1 : 2);
    weft_future *queued[4]; /* behind the blocked ones when there are two workers */
    for (int i = 0; i < 4; i++)
        ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &go, &queued[i], WEFT_FOREVER), 0);
    in_child(submit_runs, NULL);
    weft_event_set(&go);
    for (int i = 0; i < 2; i++) {
        ck_assert_weft(weft_future_result(blocked[i], NULL, WEFT_SEC(10)), 0);
        weft_future_unref(blocked[i]);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_weft(weft_future_result(queued[i], NULL, WEFT_SEC(10)), 0);
        weft_future_unref(queued[i]);
    }
}
END_TEST

/* A pool shut down (or shutting down) in the parent refuses tasks in the child. */
static int submit_refused(void *arg)
{
    weft_future *f;
    if (weft_pool_submit(arg, weft_test_give, NULL, &f, WEFT_FOREVER) != WEFT_ECLOSED) return 1;
    if (weft_pool_shutdown(arg, 1, 0, WEFT_SEC(10)) != 0) return 2; /* no worker to wait for */
    return 0;
}

START_TEST(pool_shutting_down_in_the_parent_refuses_tasks_in_the_child)
{
    weft_pool *p = weft_test_pool(1);
    weft_event go;
    weft_event_init(&go);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, weft_test_wait_event, &go, &f, WEFT_FOREVER), 0);
    wait_parked(p, 1);
    ck_assert_weft(weft_pool_shutdown(p, 0, 0, 0), 0); /* mid-shutdown: a task still runs */
    in_child(submit_refused, p);
    weft_event_set(&go);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_SEC(10)), 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

/* fork() inside a task: the child goes on with the task; its pool is closed there. */
static int fork_in_task(void *arg, void **result)
{
    weft_pool *p = arg;
    pid_t pid = fork();
    if (pid < 0) return WEFT_EAGAIN;
    if (pid == 0) {
        weft_future *f;
        _exit(weft_pool_submit(p, weft_test_give, NULL, &f, WEFT_FOREVER) == WEFT_ECLOSED ? 0 : 1);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return WEFT_EFAILED;
    *result = (void *)(intptr_t)(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
    return 0;
}

START_TEST(fork_inside_a_task_closes_its_pool_in_the_child)
{
    weft_pool *p = weft_test_pool(1);
    weft_future *f;
    void *res = (void *)-1;
    ck_assert_weft(weft_pool_submit(p, fork_in_task, p, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_result(f, &res, WEFT_SEC(10)), 0);
    ck_assert_int_eq((intptr_t)res, 0);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

/* Threads of the parent are finished and unjoinable in the child; the scope tree works there
 * (cancelling a scope the parent's thread was in wakes no ghost); new threads start. */
static weft_scope *shared_scope;

static int checkpoint(void *arg)
{
    (void)arg;
    return weft_checkpoint();
}

static int child_threads(void *arg)
{
    weft_thread parked = *(weft_thread *)arg;
    if (weft_thread_is_alive(parked) != 0) return 1;
    if (weft_thread_join(parked, NULL, 0) != WEFT_ESRCH) return 2;
    if (weft_scope_cancel(shared_scope, WEFT_ECANCELED, "child") != 0) return 3;
    if (weft_scope_cancel(weft_scope_root(), WEFT_ECANCELED, "child") != 0) return 4;
    if (weft_sleep(WEFT_SEC(10)) != WEFT_ECANCELED) return 5;
    if (weft_test_tsan()) return 0;
    weft_thread t;
    int status = -1;
    if (weft_thread_start(&t, checkpoint, NULL, NULL) != 0) return 6;
    weft_shield_begin(); /* the root is cancelled: the join itself would be */
    int rc = weft_thread_join(t, &status, WEFT_SEC(10));
    weft_shield_end();
    if (rc != 0 || status != WEFT_ECANCELED) return 7;
    return 0;
}

static int sleep_in_scope(void *arg)
{
    weft_sem_release(arg, 1);
    return weft_sleep(WEFT_SEC(60));
}

START_TEST(threads_and_scopes_in_a_child)
{
    ck_assert_weft(weft_scope_new(&shared_scope, NULL, NULL), 0);
    weft_sem started = WEFT_SEM_INIT(0);
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.scope = shared_scope;
    ck_assert_weft(weft_thread_start(&t, sleep_in_scope, &started, &o), 0);
    ck_assert_weft(weft_sem_acquire(&started, WEFT_SEC(10)), 0);
    weft_sleep(WEFT_MS(20)); /* parked (see the file comment) */
    in_child(child_threads, &t);
    ck_assert_weft(weft_thread_stop(t), 0);
    int status = 0;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(10)), 0);
    ck_assert_weft(status, WEFT_ECANCELED);
    weft_scope_free(shared_scope);
}
END_TEST

/* A process that catches signals forks: Ctrl-C still cancels the child's root scope. */
static int child_signal(void *arg)
{
    (void)arg;
    if (kill(getpid(), SIGINT) != 0) return 1;
    if (weft_sleep(WEFT_SEC(10)) != WEFT_ECANCELED) return 2;
    if (weft_signals_received() != SIGINT) return 3;
    return 0;
}

START_TEST(child_of_a_process_that_catches_signals_catches_them_too)
{
    if (weft_test_tsan()) return; /* the child starts its signal thread */
    ck_assert_weft(weft_signals_catch(NULL), 0);
    weft_sleep(WEFT_MS(20)); /* the signal thread is parked in sigwaitinfo */
    in_child(child_signal, NULL);
    ck_assert_int_eq(weft_signals_received(), 0); /* the parent got none */
}
END_TEST

/* Timers, locks and queues made in the child work after a fork from a busy parent; a lock the
 * parking lot was queueing waiters on in the parent does not hold the child up. */
static void tick(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int child_objects(void *arg)
{
    weft_lock *held = arg; /* by this thread, with a waiter of the parent's queued on it */
    if (weft_lock_release(held) != 0) return 1;
    if (weft_lock_acquire(held, 0) != 0) return 2;
    if (weft_lock_release(held) != 0) return 3;
    if (weft_test_tsan()) return 0;
    _Atomic int n = 0;
    weft_timer *t;
    if (weft_timer_start(&t, WEFT_MS(1), tick, &n, NULL) != 0) return 4;
    if (weft_timer_wait(t, WEFT_SEC(10)) != 0 || atomic_load(&n) != 1) return 5;
    weft_timer_free(t);
    return 0;
}

static int wait_lock(void *arg)
{
    int rc = weft_lock_acquire(arg, WEFT_SEC(60));
    return rc ? rc : weft_lock_release(arg);
}

START_TEST(objects_made_in_the_child_work)
{
    weft_lock held = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&held, 0), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, wait_lock, &held, NULL), 0);
    weft_sleep(WEFT_MS(20)); /* parked on the lock (see the file comment) */
    in_child(child_objects, &held);
    ck_assert_weft(weft_lock_release(&held), 0);
    int status = -1;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(10)), 0);
    ck_assert_weft(status, 0);
}
END_TEST

/* The timer thread forked while a callback runs: in the child that timer is cancelled (a wait
 * returns at once) and a new timer fires on a new timer thread. */
struct busy_timer {
    weft_sem in_callback;
    weft_event release;
    weft_timer *t;
};

static void block_callback(void *arg)
{
    struct busy_timer *b = arg;
    weft_sem_release(&b->in_callback, 1);
    weft_event_wait(&b->release, WEFT_SEC(60));
}

static int child_timer(void *arg)
{
    struct busy_timer *b = arg;
    if (weft_timer_wait(b->t, 0) != 0) return 1; /* cancelled in the child */
    if (weft_test_tsan()) return 0;
    _Atomic int n = 0;
    weft_timer *t;
    if (weft_timer_start(&t, WEFT_MS(1), tick, &n, NULL) != 0) return 2;
    if (weft_timer_wait(t, WEFT_SEC(10)) != 0 || atomic_load(&n) != 1) return 3;
    weft_timer_free(t);
    return 0;
}

START_TEST(timer_thread_busy_in_the_parent_works_in_the_child)
{
    struct busy_timer b = {.in_callback = WEFT_SEM_INIT(0)};
    weft_event_init(&b.release);
    ck_assert_weft(weft_timer_start(&b.t, WEFT_MS(1), block_callback, &b, NULL), 0);
    ck_assert_weft(weft_sem_acquire(&b.in_callback, WEFT_SEC(10)), 0);
    weft_sleep(WEFT_MS(20)); /* parked in the callback (see the file comment) */
    in_child(child_timer, &b);
    weft_event_set(&b.release);
    ck_assert_weft(weft_timer_wait(b.t, WEFT_SEC(10)), 0);
    ck_assert_int_eq(weft_timer_fired(b.t), 1);
    weft_timer_free(b.t);
}
END_TEST

WEFT_TEST_SUITE("fork", 30, default_pool_works_in_a_child_forked_while_idle,
                default_pool_works_in_a_child_forked_while_busy,
                pool_shutting_down_in_the_parent_refuses_tasks_in_the_child,
                fork_inside_a_task_closes_its_pool_in_the_child, threads_and_scopes_in_a_child,
                child_of_a_process_that_catches_signals_catches_them_too,
                objects_made_in_the_child_work, timer_thread_busy_in_the_parent_works_in_the_child)
