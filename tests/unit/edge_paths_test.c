/* tests/unit/edge_paths_test.c - edges of the ipcq calls (weft/ipcq.h: closed and empty,
 * a full queue, task_done past the puts, NULL snapshots) and of the cgroup cpu.max reader
 * (src/os/linux_cpu.c: a clamp, an empty file, lines it must skip). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <weft.h>

#include "os/os.h"
#include "test.h"

START_TEST(ipcq_edges_give_the_documented_codes)
{
    ck_assert_int_eq(weft_ipcq_is_closed(NULL), 0);
    ck_assert_uint_eq(weft_ipcq_size(NULL), 0);
    ck_assert_uint_eq(weft_ipcq_unfinished(NULL), 0);
    weft_ipcq *q = NULL;
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    o.capacity = 2;
    o.max_msg = 8;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    char buf[8];
    size_t len = 99;
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, 0), WEFT_EAGAIN); /* empty */
    ck_assert_weft(weft_ipcq_task_done(q), WEFT_EOVERFLOW);                  /* nothing put */
    ck_assert_weft(weft_ipcq_join(q, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, "a", 1, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, NULL, 0, 0), 0);          /* an empty message */
    ck_assert_weft(weft_ipcq_put(q, "c", 1, 0), WEFT_EAGAIN); /* full */
    ck_assert_uint_eq(weft_ipcq_size(q), 2);
    ck_assert_weft(weft_ipcq_join(q, 0), WEFT_EAGAIN); /* tasks remain */
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, 0), 0);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(buf[0], 'a');
    ck_assert_weft(weft_ipcq_close(q), 0);
    ck_assert_int_eq(weft_ipcq_is_closed(q), 1);
    ck_assert_weft(weft_ipcq_put(q, "d", 1, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_ipcq_get(q, NULL, 0, &len, 0), 0); /* what was put still comes out */
    ck_assert_uint_eq(len, 0);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, 1000000), WEFT_ECLOSED);
    ck_assert_uint_eq(weft_ipcq_unfinished(q), 2);
    ck_assert_weft(weft_ipcq_task_done(q), 0);
    ck_assert_weft(weft_ipcq_task_done(q), 0);
    ck_assert_weft(weft_ipcq_task_done(q), WEFT_EOVERFLOW);
    ck_assert_weft(weft_ipcq_join(q, 1000000), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

START_TEST(cpu_max_clamps_a_huge_quota)
{
    ck_assert_int_eq(weft__os_parse_cpu_max("99999999999 1"), 1 << 20);
    ck_assert_int_eq(weft__os_parse_cpu_max("7"), 0); /* no period */
}
END_TEST

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Lines the reader must skip and files it cannot use: no limit comes of them. */
START_TEST(cgroup_reader_skips_what_it_cannot_use)
{
    char top[] = "/tmp/weft_edgecgXXXXXX", file[512], info[512], path[512], line[6000];
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(file, sizeof file, "%s/cgroup", top);
    snprintf(info, sizeof info, "%s/mountinfo", top);
    snprintf(path, sizeof path, "%s/cpu.max", top);
    put(file, "0::/\n");
    snprintf(line, sizeof line,
             "garbage without separator\n"
             "25 30 0:22 / /proc rw - proc proc rw\n"
             "31 30 0:26 / %s rw - cgroup2 cgroup2 rw\n",
             top);
    put(info, line);
    put(path, "");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0); /* an empty cpu.max */
    put(path, "200000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 2);
    /* A cgroup outside the mount's root: only the root's limit is seen. */
    snprintf(line, sizeof line, "31 30 0:26 /elsewhere %s rw - cgroup2 cgroup2 rw\n", top);
    put(info, line);
    put(file, "0::/other\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 2);
    put(file, "0::/elsewhereX\n"); /* a prefix of the root is not below it */
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 2);
    /* A cgroup path longer than the reader holds: no limit. */
    memset(line, 'x', 3000);
    memcpy(line, "0::/", 4);
    strcpy(line + 3000, "\n");
    put(file, line);
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static int task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* weft_pool_submit_named: the same checks and results as weft_pool_submit (weft/pool.h). */
START_TEST(submit_named_checks_and_runs_like_submit)
{
    weft_pool *p = NULL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.max_queued = 4;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit_named(NULL, "t", task, NULL, &f, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_submit_named(p, "t", NULL, NULL, &f, 0), WEFT_EINVAL);
    ck_assert_weft(weft_pool_submit_named(p, "t", task, NULL, &f, -1), WEFT_EINVAL);
    ck_assert_ptr_null(f);
    int x = 5;
    ck_assert_weft(weft_pool_submit_named(p, "named", task, &x, &f, WEFT_FOREVER), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, &x);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_submit_named(p, NULL, task, &x, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit(p, task, &x, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    f = NULL;
    ck_assert_weft(weft_pool_submit_named(p, "late", task, &x, &f, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_pool_submit(p, task, &x, &f, 0), WEFT_ECLOSED);
    ck_assert_ptr_null(f);
    weft_pool_free(p);
}
END_TEST

/* A full bounded pool (paused, so nothing leaves the queue): EAGAIN at timeout 0, ETIMEDOUT
 * after a timeout, from both submit calls (weft/pool.h). */
START_TEST(full_bounded_pool_refuses_by_timeout)
{
    weft_pool *p = NULL;
    weft_pool_opts o = WEFT_POOL_OPTS_INIT;
    o.max_workers = 1;
    o.max_queued = 1;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    ck_assert_weft(weft_pool_pause(p), 0);
    int x = 1;
    weft_future *f = NULL, *g = NULL;
    ck_assert_weft(weft_pool_submit(p, task, &x, &f, 0), 0);
    ck_assert_weft(weft_pool_submit(p, task, &x, &g, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_submit_named(p, "n", task, &x, &g, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_pool_submit(p, task, &x, &g, 1000000), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_pool_submit_named(p, "n", task, &x, &g, 1000000), WEFT_ETIMEDOUT);
    ck_assert_ptr_null(g);
    ck_assert_weft(weft_pool_resume(p), 0);
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, &x);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_submit_named(p, "n", task, &x, &g, 0), WEFT_ECLOSED);
    weft_pool_free(p);
}
END_TEST

static int count(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

/* A group's spawn on a bounded pool runs its tasks, and on a shut pool gives WEFT_ECLOSED
 * without calling fn (weft/group.h). */
START_TEST(group_spawn_on_a_bounded_then_shut_pool)
{
    weft_pool *p = NULL;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = 2;
    po.max_queued = 2;
    ck_assert_weft(weft_pool_new(&p, &po), 0);
    weft_group_opts go = WEFT_GROUP_OPTS_INIT;
    go.pool = p;
    weft_group *g = NULL;
    ck_assert_weft(weft_group_new(&g, &go), 0);
    atomic_int n = 0;
    for (int i = 0; i < 8; i++)
        ck_assert_weft(weft_group_spawn(g, count, &n, i % 2 ? "odd" : NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&n), 8);
    ck_assert_weft(weft_group_free(g), 0);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_group_new(&g, &go), 0);
    ck_assert_weft(weft_group_spawn(g, count, &n, "late"), WEFT_ECLOSED);
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&n), 8);
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool_free(p);
}
END_TEST

struct handles {
    weft_thread main, self;
    int main_alive, self_alive, join_main;
};

static void note_handles(struct handles *h)
{
    h->main = weft_thread_main(); /* the first weft_thread call of the process */
    h->self = weft_thread_current();
    h->main_alive = weft_thread_is_alive(h->main);
    h->self_alive = weft_thread_is_alive(h->self);
    h->join_main = weft_thread_join(h->main, NULL, 0); /* not started by weft */
}

static void *plain_thread(void *arg)
{
    note_handles(arg);
    return NULL;
}

/* weft/thread.h: weft_thread_main from another thread, before main ever asked, gives the handle
 * main's weft_thread_current() gives later; a thread weft did not start gets a handle of its own,
 * alive while it runs and stale once it has ended; main's is not joinable. (Each Check test runs
 * in a fresh process, so no record of main exists yet.) */
START_TEST(main_handle_made_first_by_a_plain_thread)
{
    struct handles h = {0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, plain_thread, &h), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_ne(h.main.id, 0);
    ck_assert_uint_ne(h.self.id, h.main.id);
    ck_assert_int_eq(h.main_alive, 1);
    ck_assert_int_eq(h.self_alive, 1);
    ck_assert_uint_eq(weft_thread_current().id, h.main.id);
    ck_assert_uint_eq(weft_thread_main().id, h.main.id);
    ck_assert_int_eq(weft_thread_is_alive(h.main), 1);
    ck_assert_weft(weft_thread_is_alive(h.self), WEFT_ESRCH);
    ck_assert_weft(weft_thread_join(h.main, NULL, 0), WEFT_EDEADLK); /* main itself */
    ck_assert_weft(weft_thread_detach(h.main), WEFT_EINVAL);
}
END_TEST

static int weft_started(void *arg)
{
    note_handles(arg);
    return 0;
}

/* The same from a thread weft started: its own handle is the one weft_thread_start gave. */
START_TEST(main_handle_made_first_by_a_weft_thread)
{
    struct handles h = {0};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, weft_started, &h, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_uint_eq(h.self.id, t.id);
    ck_assert_uint_ne(h.main.id, t.id);
    ck_assert_int_eq(h.main_alive, 1);
    ck_assert_int_eq(h.self_alive, 1);
    ck_assert_weft(h.join_main, WEFT_EINVAL);
    ck_assert_uint_eq(weft_thread_current().id, h.main.id);
    char name[WEFT_THREAD_NAME_MAX];
    ck_assert_weft(weft_thread_name(h.main, name, sizeof name), 0);
    ck_assert_str_eq(name, "main");
}
END_TEST

/* Defaults and NULL answers the headers give: an ipcq made with capacity and max_msg 0 has
 * 1024 and 256 (weft/ipcq.h), the getters give 0 for NULL, a closed descriptor is no queue;
 * a scope's reason with both outputs NULL or of size 0 (weft/cancel.h); put_many of 0 items
 * with no array (weft/queue.h). */
START_TEST(defaults_and_null_outputs)
{
    weft_ipcq *q = NULL;
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    o.capacity = 0;
    o.max_msg = 0;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    ck_assert_uint_eq(weft_ipcq_capacity(q), 1024);
    ck_assert_uint_eq(weft_ipcq_max_msg(q), 256);
    ck_assert_uint_eq(weft_ipcq_capacity(NULL), 0);
    ck_assert_uint_eq(weft_ipcq_max_msg(NULL), 0);
    int fd = dup(weft_ipcq_fd(q));
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(close(fd), 0);
    weft_ipcq *x = NULL;
    ck_assert_weft(weft_ipcq_attach(&x, fd), WEFT_EINVAL); /* closed just now */
    ck_assert_ptr_null(x);
    ck_assert_weft(weft_ipcq_free(q), 0);

    weft_scope *s = NULL;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_int_eq(weft_scope_reason(s, NULL, NULL, 0), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ETIMEDOUT, "late by %d", 2), 0);
    ck_assert_int_eq(weft_scope_reason(s, NULL, NULL, 0), 1);
    int code = 0;
    char buf[4] = "abc";
    ck_assert_int_eq(weft_scope_reason(s, &code, buf, 0), 1);
    ck_assert_int_eq(code, WEFT_ETIMEDOUT);
    ck_assert_str_eq(buf, "abc"); /* size 0: nothing written */
    ck_assert_int_eq(weft_scope_reason(s, NULL, buf, sizeof buf), 1);
    ck_assert_str_eq(buf, "lat"); /* cut */
    weft_scope_free(s);

    weft_queue *wq = NULL;
    ck_assert_weft(weft_queue_new(&wq, NULL), 0);
    size_t done = 99;
    ck_assert_weft(weft_queue_put_many(wq, NULL, 0, &done, 0), 0);
    ck_assert_uint_eq(done, 0);
    ck_assert_weft(weft_queue_put_many(wq, NULL, 1, &done, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_free(wq), 0);
}
END_TEST

static sem_t usr1_seen;
static int notify_new_rc = -1, notify_same_rc = -1;

static void on_usr1(int signo, void *arg)
{
    (void)signo;
    int usr1 = SIGUSR1, usr2 = SIGUSR2;
    notify_new_rc = weft_signals_notify(arg, &usr2, 1);  /* would restart this very thread */
    notify_same_rc = weft_signals_notify(arg, &usr1, 1); /* already received by weft */
    sem_post(&usr1_seen);
}

/* weft/signal.h: from an on_signal callback, notify with a signal weft does not receive yet is
 * WEFT_EDEADLK, with one it does is 0; with ignore_second a second signal is received and
 * dropped (the process goes on), after its item is put on the queue notified of it. */
START_TEST(on_signal_callback_notify_and_a_second_signal)
{
    ck_assert_int_eq(sem_init(&usr1_seen, 0, 0), 0);
    weft_queue *q = NULL;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    int usr1 = SIGUSR1;
    weft_signals_opts o = WEFT_SIGNALS_OPTS_INIT;
    o.signals = &usr1;
    o.count = 1;
    o.on_signal = on_usr1;
    o.arg = q;
    o.ignore_second = 1;
    ck_assert_weft(weft_signals_catch(&o), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    while (sem_wait(&usr1_seen) != 0) ck_assert_int_eq(errno, EINTR);
    ck_assert_weft(notify_new_rc, WEFT_EDEADLK);
    ck_assert_weft(notify_same_rc, 0);
    ck_assert_int_eq(weft_signals_received(), SIGUSR1);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    weft_shield_begin(); /* the root scope is cancelled by the first signal */
    void *item = NULL;
    ck_assert_weft(weft_queue_get(q, &item, WEFT_SEC(30)), 0);
    weft_shield_end();
    ck_assert_int_eq(WEFT_SIGNAL_SIGNO(item), SIGUSR1);
    ck_assert_int_eq(weft_signals_received(), SIGUSR1);
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* weft/ipcq.h's waits are cancellation points (weft/cancel.h): a scope whose deadline passes
 * first ends them with WEFT_ECANCELED and is cancelled with WEFT_ETIMEDOUT; in a shield they run
 * to their own timeout; a scope cancelled before the call ends it at once. */
START_TEST(ipcq_waits_see_scope_deadline_shield_and_cancel)
{
    weft_ipcq *q = NULL;
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    o.capacity = 1;
    o.max_msg = 8;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    char buf[8];
    size_t len = 0;
    weft_scope *s = NULL;
    weft_scope_opts so = WEFT_SCOPE_OPTS_INIT;
    so.timeout = WEFT_MS(5);
    ck_assert_weft(weft_scope_new(&s, NULL, &so), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, WEFT_SEC(30)), WEFT_ECANCELED);
    int code = 0;
    ck_assert_int_eq(weft_scope_reason(s, &code, NULL, 0), 1);
    ck_assert_int_eq(code, WEFT_ETIMEDOUT);
    weft_shield_begin();
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &len, WEFT_MS(2)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_ipcq_put(q, "a", 1, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, "b", 1, WEFT_MS(2)), WEFT_ETIMEDOUT); /* full */
    weft_shield_end();
    ck_assert_weft(weft_ipcq_put(q, "b", 1, WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_weft(weft_ipcq_join(q, WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

/* Two weft threads joining each other. */
struct joiners {
    weft_thread a, b;
    weft_event b_known, a_runs, b_runs;
    int a_rc, b_rc;
};

static int join_b(void *arg)
{
    struct joiners *j = arg;
    ck_assert_weft(weft_event_set(&j->a_runs), 0);
    ck_assert_weft(weft_event_wait(&j->b_known, WEFT_FOREVER), 0);
    /* Each joins only a thread that has run: a join of a thread that has not run yet names
     * no holder (weft/debug.h), and the dump then sees no cycle. */
    ck_assert_weft(weft_event_wait(&j->b_runs, WEFT_FOREVER), 0);
    j->a_rc = weft_thread_join(j->b, NULL, WEFT_FOREVER); /* ends by weft_thread_stop */
    return 0;
}

static int join_a(void *arg)
{
    struct joiners *j = arg;
    ck_assert_weft(weft_event_wait(&j->a_runs, WEFT_FOREVER), 0);
    ck_assert_weft(weft_event_set(&j->b_runs), 0);
    j->b_rc = weft_thread_join(j->a, NULL, WEFT_FOREVER); /* a returns once stopped */
    return 0;
}

static char *dump_text(void)
{
    static char text[16384];
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_weft(weft_debug_dump(fileno(f)), 0);
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* weft/debug.h: a thread blocked joining another is "waiting for" it, and two threads joining
 * each other are a wait-for cycle, reported as a deadlock line naming both. */
START_TEST(join_cycle_is_a_deadlock_in_the_dump)
{
    struct joiners j;
    memset(&j, 0, sizeof j);
    ck_assert_weft(weft_event_init(&j.b_known), 0);
    ck_assert_weft(weft_event_init(&j.a_runs), 0);
    ck_assert_weft(weft_event_init(&j.b_runs), 0);
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = "joiner-a";
    ck_assert_weft(weft_thread_start(&j.a, join_b, &j, &o), 0);
    o.name = "joiner-b";
    ck_assert_weft(weft_thread_start(&j.b, join_a, &j, &o), 0);
    ck_assert_weft(weft_event_set(&j.b_known), 0);
    const char *text = NULL;
    for (int i = 0; i < 1000; i++) { /* until both are blocked (bounded: 10 s) */
        text = dump_text();
        if (strstr(text, "\ndeadlock: ")) break;
        weft_sleep(WEFT_MS(10));
    }
    ck_assert_msg(strstr(text, "\ndeadlock: joiner-") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "waiting for thread") != NULL, "%s", text);
    ck_assert_msg(strstr(text, " of joiner-a") && strstr(text, " of joiner-b"), "%s", text);
    ck_assert_weft(weft_thread_stop(j.a), 0);
    ck_assert_weft(weft_thread_join(j.b, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(j.a_rc, WEFT_ECANCELED);
    ck_assert_weft(j.b_rc, 0); /* it reaped a */
}
END_TEST

struct tick {
    sem_t started, go;
};

static void slow_tick(void *arg)
{
    struct tick *t = arg;
    sem_post(&t->started);
    while (sem_wait(&t->go) != 0) continue;
}

/* weft/timer.h: cancelling a periodic timer while its fn runs returns 0; the run finishes and
 * weft_timer_wait waits for it; no run starts after it. */
START_TEST(periodic_timer_cancelled_while_running)
{
    struct tick tk;
    ck_assert_int_eq(sem_init(&tk.started, 0, 0), 0);
    ck_assert_int_eq(sem_init(&tk.go, 0, 0), 0);
    weft_timer *t = NULL;
    weft_timer_opts o = WEFT_TIMER_OPTS_INIT;
    o.interval = WEFT_MS(1);
    ck_assert_weft(weft_timer_start(&t, 0, slow_tick, &tk, &o), 0);
    while (sem_wait(&tk.started) != 0) continue;
    ck_assert_weft(weft_timer_cancel(t), 0);
    ck_assert_weft(weft_timer_wait(t, 0), WEFT_EAGAIN); /* the run goes on */
    ck_assert_int_eq(weft_timer_fired(t), 0);
    ck_assert_int_eq(sem_post(&tk.go), 0);
    ck_assert_weft(weft_timer_wait(t, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_timer_fired(t), 1);
    ck_assert_weft(weft_timer_cancel(t), 0); /* again: 0 */
    weft_timer_free(t);
}
END_TEST

static int child_status(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) ck_assert_int_eq(errno, EINTR);
    ck_assert_msg(WIFEXITED(st), "child ended by a signal");
    return WEXITSTATUS(st);
}

static void *watch_main(void *arg)
{
    weft_thread m = *(weft_thread *)arg;
    for (int i = 0; i < 20000 && weft_thread_is_alive(m) != 0; i++) usleep(500);
    int ok = weft_thread_is_alive(m) == 0 && weft_thread_main().id == m.id;
    _exit(ok ? 0 : 3);
}

/* weft/thread.h: main's handle never goes stale; once main ends with pthread_exit,
 * weft_thread_is_alive gives 0 for it (in a child process, whose main then ends so). */
START_TEST(main_ending_with_pthread_exit_is_not_alive)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static weft_thread m;
        m = weft_thread_current();
        pthread_t t;
        if (m.id == 0 || weft_thread_main().id != m.id) _exit(2);
        if (pthread_create(&t, NULL, watch_main, &m) != 0) _exit(2);
        pthread_exit(NULL);
    }
    ck_assert_int_eq(child_status(pid), 0);
}
END_TEST

static int fork_from_weft_thread(void *arg)
{
    (void)arg;
    weft_thread self = weft_thread_current();
    pid_t pid = fork();
    if (pid < 0) return WEFT_EFAILED;
    if (pid == 0) {
        /* the forking thread is the child's main; its weft handle stays its own */
        weft_thread m = weft_thread_main(), me = weft_thread_current();
        _exit(m.id != 0 && me.id == self.id && m.id != me.id && weft_thread_is_alive(me) == 1 &&
                      weft_thread_is_alive(m) == 1
                  ? 0
                  : 4);
    }
    return child_status(pid);
}

/* weft/thread.h: in a child made by fork() from a thread weft started (daemon or not), that
 * thread is main, and its own weft_thread_current() handle is a different one, alive. */
START_TEST(fork_from_a_weft_thread_makes_it_main)
{
    /* Under TSan a child forked from a thread of a multithreaded process hung now and then in
     * the full suite (as fork_test, this leaves the child's checks to the other builds). */
    if (weft_test_tsan()) return;
    for (int daemon = 0; daemon < 2; daemon++) {
        weft_thread t;
        weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
        o.daemon = daemon;
        ck_assert_weft(weft_thread_start(&t, fork_from_weft_thread, NULL, &o), 0);
        int st = -1;
        ck_assert_weft(weft_thread_join(t, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
    }
}
END_TEST

/* src/os/linux_cpu.c: the limit is the smallest cpu.max from the process's cgroup up to the
 * mount's root ("max" is none); a cgroup that is the mount's root itself; a cgroup2 line
 * with too few fields is skipped; no mountinfo file, no limit. */
START_TEST(cgroup_reader_walks_up_to_the_smallest_limit)
{
    char top[] = "/tmp/weft_edgecgXXXXXX", file[600], info[600], path[600], line[1600];
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(path, sizeof path, "%s/a", top);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/a/b", top);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(file, sizeof file, "%s/cgroup", top);
    snprintf(info, sizeof info, "%s/mountinfo", top);
    put(file, "0::/a/b\n");
    snprintf(line, sizeof line,
             "40 - cgroup2 x\n"
             "31 30 0:26 / %s rw - cgroup2 cgroup2 rw\n",
             top);
    put(info, line);
    snprintf(path, sizeof path, "%s/a/b/cpu.max", top);
    put(path, "max 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0);
    snprintf(path, sizeof path, "%s/cpu.max", top);
    put(path, "500000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 5);
    snprintf(path, sizeof path, "%s/a/cpu.max", top);
    put(path, "300000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 3);
    /* the process's cgroup is the mount's root */
    snprintf(line, sizeof line, "31 30 0:26 /a/b %s rw - cgroup2 cgroup2 rw\n", top);
    put(info, line);
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 5);
    snprintf(path, sizeof path, "%s/none", top);
    ck_assert_int_eq(weft__os_cgroup_cpus(file, path), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* weft/future.h: a future routed to a queue that is closed before the future completes puts
 * nothing (its reference is dropped: no leak under ASan); one routed to an open queue arrives,
 * once, holding a reference of its own. */
START_TEST(route_to_a_closed_queue_puts_nothing)
{
    weft_queue *open_q = NULL, *closed_q = NULL;
    ck_assert_weft(weft_queue_new(&open_q, NULL), 0);
    ck_assert_weft(weft_queue_new(&closed_q, NULL), 0);
    weft_future *f = NULL;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_future_route(f, closed_q), 0);
    ck_assert_weft(weft_future_route(f, open_q), 0);
    ck_assert_weft(weft_queue_close(closed_q), 0);
    int x = 1;
    ck_assert_weft(weft_future_set_result(f, &x, NULL), 0);
    void *item = NULL;
    ck_assert_weft(weft_queue_get(closed_q, &item, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_get(open_q, &item, 0), 0);
    ck_assert_ptr_eq(item, f);
    ck_assert_weft(weft_queue_get(open_q, &item, 0), WEFT_EAGAIN);
    weft_future_unref(item); /* the routed reference */
    void *r = NULL;
    ck_assert_weft(weft_future_result(f, &r, 0), 0);
    ck_assert_ptr_eq(r, &x);
    weft_future_unref(f);
    ck_assert_weft(weft_queue_free(open_q), 0);
    ck_assert_weft(weft_queue_free(closed_q), 0);
}
END_TEST

static weft_lock chain[20], first_lock, second_lock;

/* Locks taken while the checker is on: a try while holding another, then the other order
 * blocking; 20 nested in order, twice, released in reverse and out of order; then a real
 * inversion (the control that the report reaches the captured stderr). */
static void lock_workload(void)
{
    ck_assert_weft(weft_lock_acquire(&first_lock, WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_acquire(&second_lock, 0), 0); /* a try: no edge */
    ck_assert_weft(weft_lock_release(&second_lock), 0);
    ck_assert_weft(weft_lock_release(&first_lock), 0);
    ck_assert_weft(weft_lock_acquire(&second_lock, WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_acquire(&first_lock, WEFT_FOREVER), 0); /* no inversion */
    ck_assert_weft(weft_lock_release(&first_lock), 0);
    ck_assert_weft(weft_lock_release(&second_lock), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20; i++) ck_assert_weft(weft_lock_acquire(&chain[i], WEFT_FOREVER), 0);
        ck_assert_weft(weft_lock_release(&chain[3]), 0); /* out of order */
        ck_assert_weft(weft_lock_release(&chain[18]), 0);
        for (int i = 19; i >= 0; i--)
            if (i != 3 && i != 18) ck_assert_weft(weft_lock_release(&chain[i]), 0);
    }
    ck_assert_weft(weft_lock_acquire(&chain[5], WEFT_FOREVER), 0); /* 5 -> 2 after 2 -> 5 */
    ck_assert_weft(weft_lock_acquire(&chain[2], WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_release(&chain[2]), 0);
    ck_assert_weft(weft_lock_release(&chain[5]), 0);
}

/* weft/debug.h: "A try (timeout 0) is recorded as held but adds no edge: it cannot wait", and
 * the first inversion is reported once; locks nested 20 deep in a fixed order are none. */
START_TEST(lock_order_checker_ignores_tries_and_consistent_nesting)
{
    ck_assert_weft(weft_lock_init(&first_lock), 0);
    ck_assert_weft(weft_lock_init(&second_lock), 0);
    for (int i = 0; i < 20; i++) ck_assert_weft(weft_lock_init(&chain[i]), 0);
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT), WEFT_LOCK_ORDER_OFF);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fileno(f), 2), 2);
    lock_workload();
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_OFF), WEFT_LOCK_ORDER_REPORT);
    static char text[65536];
    rewind(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    const char *head = "weft: lock-order inversion";
    const char *at = strstr(text, head);
    ck_assert_msg(at != NULL, "%s", text);                   /* the control */
    ck_assert_msg(strstr(at + 1, head) == NULL, "%s", text); /* and only that one */
}
END_TEST

/* The checker's mode is the one WEFT_LOCK_ORDER set at start-up (off without it). */
START_TEST(lock_order_mode_follows_the_environment)
{
    const char *e = getenv("WEFT_LOCK_ORDER");
    int want = e == NULL                  ? WEFT_LOCK_ORDER_OFF
               : strcmp(e, "report") == 0 ? WEFT_LOCK_ORDER_REPORT
               : strcmp(e, "abort") == 0  ? WEFT_LOCK_ORDER_ABORT
                                          : WEFT_LOCK_ORDER_OFF;
    ck_assert_int_eq(weft_debug_lock_order(want), want);
}
END_TEST

/* weft/debug.h: WEFT_LOCK_ORDER=report or =abort turns the checker on at start-up (this
 * program run again with it, its mode test only). */
START_TEST(lock_order_environment_turns_the_checker_on)
{
    const char *modes[] = {"report", "abort", "neither"};
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            setenv("WEFT_LOCK_ORDER", modes[i], 1);
            setenv("WEFT_TEST_ONLY", "lock_order_mode_follows_the_environment", 1);
            execl("/proc/self/exe", "edge_paths_test", (char *)NULL);
            _exit(127);
        }
        ck_assert_msg(child_status(pid) == 0, "WEFT_LOCK_ORDER=%s", modes[i]);
    }
}
END_TEST

static int false_then_true(void *arg)
{
    return ++*(int *)arg >= 2; /* false at the first look, true at the last */
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

/* weft/sync.h: weft_cond_wait_for gives 0 when pred is true at the deadline ("still false at
 * the deadline" is the only timeout), and WEFT_ECANCELED in a cancelled scope, the lock held
 * again on both returns. */
START_TEST(cond_wait_for_last_look_and_cancellation)
{
    weft_lock l;
    weft_cond c;
    ck_assert_weft(weft_lock_init(&l), 0);
    ck_assert_weft(weft_cond_init(&c, &l), 0);
    ck_assert_weft(weft_lock_acquire(&l, WEFT_FOREVER), 0);
    int looks = 0;
    ck_assert_weft(weft_cond_wait_for(&c, false_then_true, &looks, WEFT_MS(2)), 0);
    ck_assert_int_eq(looks, 2);
    ck_assert_int_eq(weft_lock_locked(&l), 1);
    weft_scope *s = NULL;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_cond_wait_for(&c, never, NULL, WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_int_eq(weft_lock_locked(&l), 1);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
    ck_assert_weft(weft_lock_release(&l), 0);
}
END_TEST

WEFT_TEST_SUITE("edge_paths", 20, ipcq_edges_give_the_documented_codes, cpu_max_clamps_a_huge_quota,
                cgroup_reader_skips_what_it_cannot_use, submit_named_checks_and_runs_like_submit,
                full_bounded_pool_refuses_by_timeout, group_spawn_on_a_bounded_then_shut_pool,
                main_handle_made_first_by_a_plain_thread, main_handle_made_first_by_a_weft_thread,
                defaults_and_null_outputs, on_signal_callback_notify_and_a_second_signal,
                ipcq_waits_see_scope_deadline_shield_and_cancel,
                join_cycle_is_a_deadlock_in_the_dump, periodic_timer_cancelled_while_running,
                main_ending_with_pthread_exit_is_not_alive, fork_from_a_weft_thread_makes_it_main,
                cgroup_reader_walks_up_to_the_smallest_limit, route_to_a_closed_queue_puts_nothing,
                lock_order_checker_ignores_tries_and_consistent_nesting,
                lock_order_mode_follows_the_environment,
                lock_order_environment_turns_the_checker_on,
                cond_wait_for_last_look_and_cancellation)
