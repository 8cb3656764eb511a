/* tests/unit/paths_test.c - the less-used paths of documented calls: a named submit to a full,
 * paused or shut-down pool, the state errors of processes, threads and timers, and each bad
 * argument of the process and thread calls (WEFT_EINVAL with a message naming it). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#include "test.h"

static int task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

START_TEST(named_submit_to_a_full_paused_pool)
{
    weft_pool *p;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.max_queued = 1;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    ck_assert_weft(weft_pool_pause(p), 0);
    weft_future *f = NULL, *g = NULL;
    ck_einval(weft_pool_submit_named(NULL, "x", task, NULL, &f, 0), "p is NULL");
    ck_einval(weft_pool_submit_named(p, "x", NULL, NULL, &f, 0), "fn is NULL");
    ck_einval(weft_pool_submit_named(p, "x", task, NULL, &f, -1), "timeout is negative");
    ck_assert_weft(
        weft_pool_submit_named(p, "a task name longer than thirty-one bytes", task, &o, &f, 0), 0);
    char name[64];
    ck_assert_weft(weft_future_name(f, name, sizeof name), 0);
    ck_assert_uint_eq(strlen(name), 31); /* copied, cut at 31 bytes */
    ck_assert_int_eq(strncmp(name, "a task name longer", 18), 0);
    /* full (one queued, paused): timeout 0 is WEFT_EAGAIN, a timeout WEFT_ETIMEDOUT */
    ck_assert_weft(weft_pool_submit_named(p, "second", task, NULL, &g, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_submit_named(p, "second", task, NULL, &g, WEFT_MS(1)), WEFT_ETIMEDOUT);
    ck_assert_ptr_null(g); /* untouched on failure */
    ck_assert_weft(weft_pool_resume(p), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, &o);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit_named(p, "late", task, NULL, &g, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_pool_submit(p, task, NULL, &g, 0), WEFT_ECLOSED);
    ck_assert_ptr_null(g);
    weft_pool_free(p);
}
END_TEST

START_TEST(named_submit_to_an_unbounded_pool)
{
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_future *f;
    ck_assert_weft(weft_pool_submit_named(p, NULL, task, p, &f, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, p);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_submit_named(p, "fire and forget", task, NULL, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit_named(p, "late", task, NULL, NULL, WEFT_FOREVER), WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

static int child(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

START_TEST(process_calls_name_each_bad_argument)
{
    weft_process *p = NULL;
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    char arg = 1;
    int fds[WEFT_PROCESS_FDS_MAX + 1] = {0};
    ck_einval(weft_process_start(NULL, child, NULL, 0, NULL), "NULL out");
    ck_einval(weft_process_start(&p, NULL, NULL, 0, NULL), "NULL function");
    ck_einval(weft_process_start(&p, child, NULL, 1, NULL), "NULL argument");
    ck_einval(weft_process_start(&p, child, &arg, (size_t)WEFT_PROCESS_ARG_MAX + 1, NULL),
              "at most");
    o.method = 99;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "unknown start method 99");
    o.method = -1;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "unknown start method -1");
    o = (weft_process_opts)WEFT_PROCESS_OPTS_INIT;
    char name[WEFT_PROCESS_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    o.name = name;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "name longer");
    o.name = NULL;
    o.kill_grace = -1;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "negative kill_grace");
    o.kill_grace = 0;
    o.pass_fds = fds;
    o.npass_fds = WEFT_PROCESS_FDS_MAX + 1;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "pass_fds");
    o.pass_fds = NULL;
    o.npass_fds = 1;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "pass_fds");
    fds[0] = -1;
    o.pass_fds = fds;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "pass_fds[0] = -1 is not open");
    fds[0] = 1000000;
    ck_einval(weft_process_start(&p, child, NULL, 0, &o), "is not open");
    ck_assert_ptr_null(p);
    size_t len;
    int status;
    ck_einval(weft_process_join(NULL, &status, 0), "NULL handle");
    ck_einval(weft_process_exitcode(NULL), "NULL handle");
    ck_einval(weft_process_is_alive(NULL), "NULL handle");
    ck_einval(weft_process_signal(NULL, SIGTERM), "NULL handle");
    ck_einval(weft_process_terminate(NULL), "NULL handle");
    ck_einval(weft_process_kill(NULL), "NULL handle");
    ck_einval(weft_process_pid(NULL), "NULL handle");
    ck_einval(weft_process_fd(NULL), "NULL handle");
    ck_einval(weft_process_is_daemon(NULL), "NULL handle");
    ck_einval(weft_process_result(NULL, &arg, 1, &len), "NULL handle");
    ck_einval(weft_process_free(NULL), "NULL handle");
    ck_assert_str_eq(weft_process_name(NULL), "");
    /* a live process: bad signal, negative timeout, NULL buffer */
    ck_assert_weft(weft_process_start(&p, child, NULL, 0, NULL), 0);
    ck_einval(weft_process_signal(p, 0), "bad signal 0");
    ck_einval(weft_process_signal(p, NSIG), "bad signal");
    ck_einval(weft_process_join(p, &status, -1), "negative timeout");
    ck_einval(weft_process_result(p, NULL, 1, &len), "NULL handle or buffer");
    ck_assert_weft(weft_process_join(p, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_weft(weft_process_signal(p, SIGTERM), 0); /* ended: nothing to do */
    ck_assert_weft(weft_process_result(p, NULL, 0, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_weft(weft_process_free(p), 0);
}
END_TEST

static int wait_go(void *arg)
{
    return weft_event_wait(arg, WEFT_FOREVER);
}

START_TEST(thread_calls_name_each_bad_argument)
{
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    weft_event go;
    ck_assert_weft(weft_event_init(&go), 0);
    ck_einval(weft_thread_start(NULL, wait_go, &go, NULL), "out is NULL");
    ck_einval(weft_thread_start(&t, NULL, &go, NULL), "fn is NULL");
    char name[WEFT_THREAD_NAME_MAX + 1];
    memset(name, 't', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    o.name = name;
    ck_einval(weft_thread_start(&t, wait_go, &go, &o), "name is");
    o.name = NULL;
    o.stack_size = WEFT_THREAD_STACK_MIN - 1;
    ck_einval(weft_thread_start(&t, wait_go, &go, &o), "stack_size");
    ck_einval(weft_thread_set_stack_size(WEFT_THREAD_STACK_MIN - 1), "the minimum is");
    ck_einval(weft_thread_set_stack_size(SIZE_MAX), "too large");
    ck_assert_uint_eq(weft_thread_get_stack_size(), 0); /* the refused calls left the default */
    ck_assert_weft(weft_thread_start(&t, wait_go, &go, NULL), 0);
    char buf[WEFT_THREAD_NAME_MAX];
    int32_t tid;
    ck_einval(weft_thread_native_id(t, NULL), "tid is NULL");
    ck_einval(weft_thread_name(t, NULL, sizeof buf), "buf is NULL");
    ck_einval(weft_thread_name(t, buf, 0), "size is 0");
    ck_einval(weft_thread_join(t, NULL, -1), "timeout is negative");
    ck_assert_weft(weft_thread_join(t, NULL, 0), WEFT_EAGAIN); /* still waiting for go */
    ck_assert_weft(weft_event_set(&go), 0);
    int status = -1;
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_weft(weft_thread_native_id(t, &tid), WEFT_ESRCH); /* joined: stale */
    /* a thread joining itself would wait forever */
    ck_assert_weft(weft_thread_join(weft_thread_current(), NULL, 0), WEFT_EDEADLK);
}
END_TEST

static void tick(void *arg)
{
    (void)arg;
}

START_TEST(timer_calls_name_each_bad_argument)
{
    weft_timer *t = NULL;
    weft_timer_opts o = WEFT_TIMER_OPTS_INIT;
    ck_einval(weft_timer_start(&t, 0, NULL, NULL, NULL), "fn is NULL");
    ck_einval(weft_timer_start(&t, -1, tick, NULL, NULL), "delay is negative");
    o.interval = -1;
    ck_einval(weft_timer_start(&t, 0, tick, NULL, &o), "interval is negative");
    o.interval = WEFT_MS(1);
    ck_einval(weft_timer_start(NULL, 0, tick, NULL, &o), "periodic timer needs out");
    ck_assert_ptr_null(t);
    ck_einval(weft_timer_cancel(NULL), "t is NULL");
    ck_einval(weft_timer_wait(NULL, 0), "t is NULL");
    ck_einval(weft_timer_fired(NULL), "t is NULL");
    weft_timer_free(NULL); /* does nothing */
}
END_TEST

static int group_task(void *arg)
{
    (void)arg;
    return 0;
}

START_TEST(group_spawn_refused_by_a_shut_down_pool)
{
    weft_pool *p;
    weft_group *g;
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    o.pool = p;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    ck_assert_weft(weft_group_spawn(g, group_task, NULL, "named"), 0);
    ck_assert_weft(weft_group_spawn(g, group_task, NULL, NULL), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_group_spawn(g, group_task, NULL, "late"), WEFT_ECLOSED);
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0); /* the two that ran succeeded */
    ck_assert_weft(weft_group_spawn(g, group_task, NULL, NULL), WEFT_ECLOSED);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

static int hand_back(const void *arg, size_t size)
{
    int rc = weft_process_set_result(arg, size);
    if (rc == 0) rc = weft_process_set_result(NULL, 1) == WEFT_EINVAL ? 0 : 9;
    if (rc == 0) rc = weft_process_set_result(arg, size); /* a later call replaces */
    return rc;
}

START_TEST(process_result_is_cut_to_the_buffer)
{
    weft_process *p;
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.name = "hander";
    o.kill_grace = WEFT_FOREVER;
    const char msg[] = "twenty-four bytes here!";
    ck_assert_weft(weft_process_start(&p, hand_back, msg, sizeof msg, &o), 0);
    ck_assert_str_eq(weft_process_name(p), "hander");
    ck_assert_int_eq(weft_process_is_daemon(p), 0);
    ck_assert_int_gt(weft_process_pid(p), 0);
    int status = -1;
    ck_assert_weft(weft_process_join(p, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, 0);
    char buf[8];
    size_t len = 0;
    memset(buf, 0, sizeof buf);
    ck_assert_weft(weft_process_result(p, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, sizeof msg);                      /* the full length, */
    ck_assert_int_eq(memcmp(buf, msg, sizeof buf), 0);       /* size bytes copied */
    ck_assert_weft(weft_process_result(p, buf, 4, NULL), 0); /* len may be NULL */
    ck_assert_weft(weft_process_free(p), 0);
    ck_assert_weft(weft_process_set_result("x", 1), WEFT_ESTATE); /* not a weft child */
}
END_TEST

START_TEST(status_text_describes_each_kind_of_end)
{
    char buf[64];
    ck_assert_str_eq(weft_process_status_text(0, buf, sizeof buf), "exited normally");
    ck_assert_str_eq(weft_process_status_text(3, buf, sizeof buf), "exited with status 3");
    ck_assert_ptr_nonnull(
        strstr(weft_process_status_text(-SIGSEGV, buf, sizeof buf), "killed by SIGSEGV ("));
    ck_assert_str_eq(weft_process_status_text(-200, buf, sizeof buf), "killed by signal 200");
    ck_assert_str_eq(weft_process_status_text(3, buf, 5), "exit"); /* cut, NUL-terminated */
    buf[0] = 'z';
    ck_assert_ptr_eq(weft_process_status_text(3, buf, 0), buf); /* size 0: untouched */
    ck_assert_int_eq(buf[0], 'z');
    ck_assert_ptr_null(weft_process_status_text(3, NULL, 10));
}
END_TEST

struct foreign {
    weft_thread self;
    weft_event registered, go;
};

static void *foreign_main(void *arg)
{
    struct foreign *f = arg;
    f->self = weft_thread_current(); /* registers this plain pthread */
    weft_event_set(&f->registered);
    weft_event_wait(&f->go, WEFT_FOREVER);
    return NULL;
}

START_TEST(a_foreign_thread_cannot_be_joined_detached_or_stopped)
{
    struct foreign f;
    ck_assert_weft(weft_event_init(&f.registered), 0);
    ck_assert_weft(weft_event_init(&f.go), 0);
    pthread_t pt;
    ck_assert_int_eq(pthread_create(&pt, NULL, foreign_main, &f), 0);
    ck_assert_weft(weft_event_wait(&f.registered, WEFT_SEC(60)), 0);
    ck_assert_int_eq(weft_thread_is_alive(f.self), 1);
    ck_assert_int_eq(weft_thread_is_daemon(f.self), 0);
    char name[WEFT_THREAD_NAME_MAX];
    ck_assert_weft(weft_thread_name(f.self, name, sizeof name), 0);
    ck_einval(weft_thread_join(f.self, NULL, 0), "weft did not start");
    ck_einval(weft_thread_detach(f.self), "weft did not start");
    ck_einval(weft_thread_stop(f.self), "weft did not start");
    ck_assert_weft(weft_event_set(&f.go), 0);
    ck_assert_int_eq(pthread_join(pt, NULL), 0);
}
END_TEST

START_TEST(standalone_future_completers_refuse_pool_futures)
{
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_future *pf, *f, *c;
    ck_assert_weft(weft_pool_submit(p, task, NULL, &pf, WEFT_FOREVER), 0);
    /* a pool's future is completed only by its task */
    ck_assert_weft(weft_future_set_running(pf), WEFT_EPERM);
    ck_assert_weft(weft_future_set_result(pf, NULL, NULL), WEFT_EPERM);
    ck_assert_weft(weft_future_set_bytes(pf, "x", 1), WEFT_EPERM);
    ck_assert_weft(weft_future_set_failure(pf, WEFT_ENOMEM, NULL), WEFT_EPERM);
    ck_einval(weft_future_set_running(NULL), "f is NULL");
    ck_assert_weft(weft_future_wait(pf, WEFT_FOREVER), 0);
    const void *data = &data;
    size_t len = 99;
    ck_assert_weft(weft_future_bytes(pf, &data, &len, WEFT_FOREVER), 0);
    ck_assert_ptr_null(data); /* the task's result pointer, length 0: not set by set_bytes */
    ck_assert_uint_eq(len, 0);
    weft_future_unref(pf);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);

    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_einval(weft_future_set_bytes(f, NULL, 3), "data is NULL");
    ck_einval(weft_future_set_failure(f, 0, "no"), "status is 0");
    ck_assert_weft(weft_future_set_running(f), 1);
    ck_assert_weft(weft_future_set_running(f), WEFT_ESTATE); /* already running */
    ck_assert_weft(weft_future_set_bytes(f, "abc", 3), 0);
    ck_assert_weft(weft_future_set_bytes(f, "abc", 3), WEFT_ESTATE); /* nothing copied */
    ck_assert_weft(weft_future_bytes(f, NULL, NULL, 0), 0);          /* both may be NULL */
    ck_assert_weft(weft_future_bytes(f, &data, &len, 0), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(memcmp(data, "abc", 3), 0);
    weft_future_unref(f);

    ck_assert_weft(weft_future_new(&c, NULL), 0);
    ck_assert_weft(weft_future_cancel(c), 0);
    ck_assert_weft(weft_future_set_running(c), 0); /* cancelled: do not compute it */
    len = 99;
    ck_assert_weft(weft_future_bytes(c, &data, &len, 0), WEFT_ECANCELED);
    ck_assert_uint_eq(len, 99); /* untouched */
    weft_future_unref(c);
}
END_TEST

/* Hands back the first half of its item. */
static int half(const void *arg, size_t size)
{
    return weft_process_set_result(arg, size / 2);
}

START_TEST(procpool_map_zero_fills_and_named_tasks)
{
    weft_procpool *p;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 1;
    ck_assert_weft(weft_procpool_new(&p, &o), 0);
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    to.name = "halver";
    to.timeout = WEFT_FOREVER; /* no time limit, as 0 */
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, half, "abcd", 4, &to), 0);
    char name[32];
    ck_assert_weft(weft_future_name(f, name, sizeof name), 0);
    ck_assert_str_eq(name, "halver");
    const void *data;
    size_t len;
    ck_assert_weft(weft_future_bytes(f, &data, &len, WEFT_FOREVER), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(memcmp(data, "ab", 2), 0);
    weft_future_unref(f);
    /* results 6 bytes each, the child hands back 2: cut nothing, zero-fill 4 */
    const char items[3][4] = {{'a', 'b', 'c', 'd'}, {'e', 'f', 'g', 'h'}, {'i', 'j', 'k', 'l'}};
    char res[3][6];
    memset(res, 0x55, sizeof res);
    ck_assert_weft(weft_procpool_map(p, half, items, 4, 3, res, 6, NULL, WEFT_FOREVER), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(memcmp(res[i], items[i], 2), 0);
        ck_assert_int_eq(memcmp(res[i] + 2, "\0\0\0\0", 4), 0);
    }
    /* result_size 1: cut */
    char one[3];
    ck_assert_weft(weft_procpool_map(p, half, items, 4, 3, one, 1, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(memcmp(one, "aei", 3), 0);
    /* no results wanted */
    ck_assert_weft(weft_procpool_map(p, half, items, 4, 3, NULL, 0, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_map(p, half, NULL, 0, 0, NULL, 0, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_submit(p, &f, half, "ab", 2, NULL), WEFT_ECLOSED);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

static int fail_plainly(void *arg)
{
    weft_error_clear(); /* no message of its own */
    return (int)(intptr_t)arg;
}

/* A group whose one task returns status without a message: wait gives status and want. */
static void check_group_failure(intptr_t status, const char *want)
{
    weft_group *g;
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.threads = 1;
    ck_assert_weft(weft_group_new(&g, &o), 0);
    ck_assert_weft(weft_group_spawn(g, fail_plainly, (void *)status, NULL), 0);
    weft_error_clear();
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), (int)status);
    ck_assert_str_eq(weft_error_message(), want);
    ck_assert_weft(weft_group_wait(g, 0), (int)status); /* further waits: the same at once */
    ck_assert_weft(weft_group_free(g), 0);
}

START_TEST(group_failure_without_a_message)
{
    check_group_failure(WEFT_ENOMEM, weft_strerror(WEFT_ENOMEM));
    check_group_failure(77, "task returned 77");
}
END_TEST

static int wait_for_cancel(void *arg)
{
    weft_event never;
    weft_event_init(&never);
    weft_event_set(arg);
    return weft_event_wait(&never, WEFT_FOREVER); /* only the group's cancel ends it */
}

START_TEST(cancelled_group_gives_the_reason)
{
    weft_group *g;
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    weft_event started;
    o.threads = 1;
    ck_assert_weft(weft_event_init(&started), 0);
    ck_assert_weft(weft_group_new(&g, &o), 0);
    ck_assert_weft(weft_group_spawn(g, wait_for_cancel, &started, NULL), 0);
    ck_assert_weft(weft_event_wait(&started, WEFT_SEC(60)), 0);
    ck_assert_weft(weft_group_cancel(g), 0);
    weft_error_clear();
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_str_ne(weft_error_message(), "");
    ck_assert_weft(weft_group_free(g), 0);
}
END_TEST

/* The child's failure: arg[0] 'm' sets a message, then returns the status in arg[1 ..]. */
static int child_fails(const void *arg, size_t size)
{
    (void)size;
    const char *a = arg;
    int st = atoi(a + 1);
    weft_error_clear();
    if (a[0] == 'm') weft_error_set(st, "the child's own words");
    return st;
}

/* Start child_fails(arg), join it: the code and message the join puts in the error slot. */
static void check_child_failure(const char *arg, int code, const char *want)
{
    weft_process *p;
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.name = "failer";
    ck_assert_weft(weft_process_start(&p, child_fails, arg, strlen(arg) + 1, &o), 0);
    int status = 0;
    weft_error_clear();
    ck_assert_weft(weft_process_join(p, &status, WEFT_FOREVER), 0);
    ck_assert_int_ne(status, 0);
    ck_assert_weft(weft_error_code(), code);
    ck_assert_msg(strstr(weft_error_message(), want) != NULL, "%s: \"%s\"", arg,
                  weft_error_message());
    ck_assert_weft(weft_process_free(p), 0);
}

START_TEST(process_join_reports_the_childs_failure)
{
    check_child_failure("-3", WEFT_EFAILED, "process 'failer'");  /* a bare status */
    check_child_failure("p-12", WEFT_ENOMEM, "process 'failer'"); /* a weft code, no words */
    check_child_failure("m-12", WEFT_ENOMEM, "the child's own words");
    check_child_failure("m5", WEFT_EFAILED, "the child's own words");
}
END_TEST

START_TEST(a_joined_thread_handle_is_stale_everywhere)
{
    weft_thread t;
    weft_event go;
    ck_assert_weft(weft_event_init(&go), 0);
    ck_assert_weft(weft_event_set(&go), 0);
    ck_assert_weft(weft_thread_start(&t, wait_go, &go, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    char buf[WEFT_THREAD_NAME_MAX];
    int32_t tid;
    ck_assert_weft(weft_thread_join(t, NULL, 0), WEFT_ESRCH);
    ck_assert_weft(weft_thread_detach(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_stop(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_is_alive(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_is_daemon(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_name(t, buf, sizeof buf), WEFT_ESRCH);
    ck_assert_weft(weft_thread_native_id(t, &tid), WEFT_ESRCH);
    ck_assert_uint_eq(weft_thread_enumerate(NULL, 0), 0);
}
END_TEST

static void count_tick(void *arg)
{
    weft_event_set(arg);
}

START_TEST(periodic_timer_with_an_interval_past_forever)
{
    weft_timer *t;
    weft_timer_opts o = WEFT_TIMER_OPTS_INIT;
    weft_event fired;
    ck_assert_weft(weft_event_init(&fired), 0);
    o.interval = WEFT_FOREVER - 1; /* the next run's time saturates: it never comes */
    ck_assert_weft(weft_timer_start(&t, 0, count_tick, &fired, &o), 0);
    ck_assert_weft(weft_event_wait(&fired, WEFT_SEC(60)), 0);
    ck_assert_weft(weft_timer_cancel(t), 0);
    ck_assert_weft(weft_timer_wait(t, WEFT_SEC(60)), 0);
    ck_assert_int_eq(weft_timer_fired(t), 1);
    weft_timer_free(t);
}
END_TEST

WEFT_TEST_SUITE("paths", 20, named_submit_to_a_full_paused_pool, named_submit_to_an_unbounded_pool,
                process_calls_name_each_bad_argument, thread_calls_name_each_bad_argument,
                timer_calls_name_each_bad_argument, group_spawn_refused_by_a_shut_down_pool,
                process_result_is_cut_to_the_buffer, status_text_describes_each_kind_of_end,
                a_foreign_thread_cannot_be_joined_detached_or_stopped,
                standalone_future_completers_refuse_pool_futures,
                procpool_map_zero_fills_and_named_tasks, group_failure_without_a_message,
                cancelled_group_gives_the_reason, process_join_reports_the_childs_failure,
                a_joined_thread_handle_is_stale_everywhere,
                periodic_timer_with_an_interval_past_forever)
