/* tests/unit/debug_test.c - weft_debug_dump: blocked-on records, holders, deadlock cycles, the
 * dump under load and on a signal. Every dump is captured in a memfd or pipe and parsed. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

/* The line of thread `name` ("thread ID 'name' tid T: ..."), copied into line; its id. */
static unsigned thread_line(const char *text, const char *name, char *line, size_t size)
{
    char key[96];
    snprintf(key, sizeof key, " '%s' tid ", name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        unsigned id;
        if (strncmp(p, "thread ", 7) == 0 && memmem(p, n, key, strlen(key)) &&
            sscanf(p, "thread %u", &id) == 1) {
            /* With what follows it: the "holding:" lines. */
            const char *stop = end;
            while (stop && strncmp(stop + 1, "    ", 4) == 0) stop = strchr(stop + 1, '\n');
            n = stop ? (size_t)(stop - p) : strlen(p);
            if (n >= size) n = size - 1;
            memcpy(line, p, n);
            line[n] = '\0';
            return id;
        }
    }
    line[0] = '\0';
    return 0;
}

/* ---- the ABBA deadlock ---- */

static weft_lock cache = WEFT_LOCK_INIT, index_ = WEFT_LOCK_INIT;
static weft_barrier both_hold;

struct abba {
    weft_lock *first, *second;
};

static int abba_fn(void *p)
{
    struct abba *a = p;
    ck_assert_int_eq(weft_lock_acquire(a->first, WEFT_FOREVER), 0);
    int rc = weft_barrier_wait(&both_hold, WEFT_FOREVER);
    if (rc >= 0) rc = weft_lock_acquire(a->second, WEFT_FOREVER); /* deadlock: cancelled */
    if (rc == 0) weft_lock_release(a->second);
    weft_lock_release(a->first);
    return rc == 0 || rc == WEFT_ECANCELED ? 0 : 1; /* 0: the other one was stopped first */
}

START_TEST(abba_deadlock_dump_names_threads_locks_holders_and_cycle)
{
    ck_assert_weft(weft_debug_name(&cache, "cache"), 0);
    ck_assert_weft(weft_debug_name(&index_, "index"), 0);
    ck_assert_weft(weft_barrier_init(&both_hold, 2, NULL, NULL), 0);
    struct abba a1 = {&cache, &index_}, a2 = {&index_, &cache};
    weft_thread_opts o1 = {.name = "worker-1"}, o2 = {.name = "worker-2"};
    weft_thread t1, t2;
    ck_assert_weft(weft_thread_start(&t1, abba_fn, &a1, &o1), 0);
    ck_assert_weft(weft_thread_start(&t2, abba_fn, &a2, &o2), 0);
    /* Dump until the cycle shows (both asleep on their second lock); the test's time limit
     * bounds the loop. */
    char *text = NULL;
    for (;;) {
        text = weft_test_dump_text();
        if (strstr(text, "\ndeadlock: ")) break;
        free(text);
        ck_assert_weft(weft_sleep(1000000), 0);
    }
    char l1[1024], l2[1024], want[256];
    unsigned id1 = thread_line(text, "worker-1", l1, sizeof l1);
    unsigned id2 = thread_line(text, "worker-2", l2, sizeof l2);
    ck_assert_msg(id1 && id2 && id1 != id2, "threads missing in:\n%s", text);
    snprintf(want, sizeof want, "blocked on lock 'index' (%p) for ", (void *)&index_);
    ck_assert_msg(strstr(l1, want), "worker-1 line: %s", l1);
    snprintf(want, sizeof want, ", held by thread %u 'worker-2'", id2);
    ck_assert_msg(strstr(l1, want), "worker-1 line: %s", l1);
    snprintf(want, sizeof want, "    holding: lock 'cache' (%p)", (void *)&cache);
    ck_assert_msg(strstr(l1, want), "worker-1 line: %s", l1);
    snprintf(want, sizeof want, "blocked on lock 'cache' (%p) for ", (void *)&cache);
    ck_assert_msg(strstr(l2, want), "worker-2 line: %s", l2);
    snprintf(want, sizeof want, ", held by thread %u 'worker-1'", id1);
    ck_assert_msg(strstr(l2, want), "worker-2 line: %s", l2);
    ck_assert_msg(strstr(l2, "    holding: lock 'index'"), "worker-2 line: %s", l2);
    ck_assert_msg(strstr(l1, "no deadline"), "worker-1 line: %s", l1);
    /* The cycle, from whichever thread the dump starts at. */
    char c1[256], c2[256];
    snprintf(c1, sizeof c1,
             "deadlock: worker-1 -> lock 'index' (%p) held by worker-2 -> lock 'cache' (%p) "
             "held by worker-1\n",
             (void *)&index_, (void *)&cache);
    snprintf(c2, sizeof c2,
             "deadlock: worker-2 -> lock 'cache' (%p) held by worker-1 -> lock 'index' (%p) "
             "held by worker-2\n",
             (void *)&cache, (void *)&index_);
    ck_assert_msg(strstr(text, c1) || strstr(text, c2), "no cycle in:\n%s", text);
    const char *d = strstr(text, "\ndeadlock: ");
    ck_assert_ptr_null(strstr(d + 1, "\ndeadlock: ")); /* reported once */
    ck_assert_msg(strstr(text, "\nend of weft dump\n"), "no end in:\n%s", text);
    /* The same dump shows the main thread running. */
    char lm[512];
    ck_assert_uint_ne(thread_line(text, "main", lm, sizeof lm), 0);
    ck_assert_msg(strstr(lm, ": running"), "main line: %s", lm);
    free(text);
    int st1, st2;
    ck_assert_weft(weft_thread_stop(t1), 0);
    ck_assert_weft(weft_thread_stop(t2), 0);
    ck_assert_weft(weft_thread_join(t1, &st1, WEFT_FOREVER), 0);
    ck_assert_weft(weft_thread_join(t2, &st2, WEFT_FOREVER), 0);
    ck_assert_int_eq(st1, 0);
    ck_assert_int_eq(st2, 0);
    /* Nobody waits any more: no cycle, no lock line. */
    text = weft_test_dump_text();
    ck_assert_ptr_null(strstr(text, "deadlock:"));
    ck_assert_ptr_null(strstr(text, "blocked on lock"));
    free(text);
}
END_TEST

/* ---- other kinds of waits ---- */

static weft_event gate = WEFT_EVENT_INIT;

static weft_event ready = WEFT_EVENT_INIT;

static int ready_then_wait_gate(void *unused)
{
    (void)unused;
    weft_event_set(&ready);
    return weft_event_wait(&gate, WEFT_FOREVER);
}

static int join_fn(void *p)
{
    return weft_thread_join(*(weft_thread *)p, NULL, WEFT_FOREVER);
}

START_TEST(dump_shows_event_queue_and_join_waits)
{
    ck_assert_weft(weft_debug_name(&gate, "gate"), 0);
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    ck_assert_weft(weft_debug_name(q, "lines"), 0);
    weft_thread_opts og = {.name = "gated"}, oj = {.name = "joiner"};
    weft_thread tg, tj;
    ck_assert_weft(weft_thread_start(&tg, ready_then_wait_gate, NULL, &og), 0);
    ck_assert_weft(weft_event_wait(&ready, WEFT_FOREVER), 0); /* it runs: its record exists */
    ck_assert_weft(weft_thread_start(&tj, join_fn, &tg, &oj), 0);
    void *item = NULL;
    char *text;
    char lg[512], lj[512], lm[512], want[128];
    for (;;) { /* until both threads sleep */
        text = weft_test_dump_text();
        thread_line(text, "gated", lg, sizeof lg);
        thread_line(text, "joiner", lj, sizeof lj);
        if (strstr(lg, "blocked on") && strstr(lj, "blocked on")) break;
        free(text);
        ck_assert_weft(weft_sleep(1000000), 0);
    }
    unsigned idg = thread_line(text, "gated", lg, sizeof lg);
    ck_assert_msg(strstr(lg, "blocked on event 'gate'"), "gated: %s", lg);
    snprintf(want, sizeof want, "blocked on join %s", ""); /* the object is the thread record */
    ck_assert_msg(strstr(lj, want), "joiner: %s", lj);
    snprintf(want, sizeof want, "waiting for thread %u 'gated'", idg);
    ck_assert_msg(strstr(lj, want), "joiner: %s", lj);
    free(text);
    /* A queue get with a deadline, seen from the dump of the main thread's own wait: a
     * second thread dumps while main waits. */
    ck_assert_weft(weft_queue_get(q, &item, 1000), WEFT_ETIMEDOUT); /* a short one first */
    ck_assert_weft(weft_event_set(&gate), 0);
    ck_assert_weft(weft_thread_join(tj, NULL, WEFT_FOREVER), 0);
    text = weft_test_dump_text();
    ck_assert_uint_ne(thread_line(text, "main", lm, sizeof lm), 0);
    ck_assert_msg(strstr(lm, ": running"), "main: %s", lm);
    free(text);
    ck_assert_weft(weft_debug_name(q, NULL), 0);
    weft_queue_free(q);
}
END_TEST

struct getter {
    weft_queue *q;
    weft_event started;
};

static int get_fn(void *p)
{
    struct getter *g = p;
    void *item;
    weft_event_set(&g->started);
    return weft_queue_get(g->q, &item, WEFT_SEC(60));
}

START_TEST(dump_shows_a_queue_get_with_its_deadline)
{
    struct getter g = {NULL, WEFT_EVENT_INIT};
    ck_assert_weft(weft_queue_new(&g.q, NULL), 0);
    ck_assert_weft(weft_debug_name(g.q, "lines"), 0);
    weft_thread_opts o = {.name = "printer"};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, get_fn, &g, &o), 0);
    ck_assert_weft(weft_event_wait(&g.started, WEFT_FOREVER), 0);
    char *text, l[512];
    for (;;) {
        text = weft_test_dump_text();
        thread_line(text, "printer", l, sizeof l);
        if (strstr(l, "blocked on")) break;
        free(text);
        ck_assert_weft(weft_sleep(1000000), 0);
    }
    char want[128];
    snprintf(want, sizeof want, "blocked on queue get 'lines' (%p) for ", (void *)g.q);
    ck_assert_msg(strstr(l, want), "printer: %s", l);
    ck_assert_msg(strstr(l, ", deadline in "), "printer: %s", l);
    free(text);
    ck_assert_weft(weft_queue_put(g.q, (void *)1, WEFT_FOREVER), 0);
    int st;
    ck_assert_weft(weft_thread_join(t, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(st, 0);
    ck_assert_weft(weft_debug_name(g.q, NULL), 0);
    weft_queue_free(g.q);
}
END_TEST

START_TEST(dump_with_stacks_shows_the_blocking_call)
{
    /* Read once per process, at the first sleep: set before any thread sleeps. */
    ck_assert_int_eq(setenv("WEFT_DEBUG_STACKS", "1", 1), 0);
    weft_thread_opts og = {.name = "gated"};
    weft_thread tg;
    ck_assert_weft(weft_thread_start(&tg, ready_then_wait_gate, NULL, &og), 0);
    ck_assert_weft(weft_event_wait(&ready, WEFT_FOREVER), 0);
    char *text, l[4096];
    for (;;) {
        text = weft_test_dump_text();
        thread_line(text, "gated", l, sizeof l);
        if (strstr(l, "blocked on")) break;
        free(text);
        ck_assert_weft(weft_sleep(1000000), 0);
    }
    /* The stack of the blocking call (names need -rdynamic: addresses here). */
    ck_assert_msg(strstr(l, "\n    at 0x"), "gated: %s", l);
    free(text);
    ck_assert_weft(weft_event_set(&gate), 0);
    ck_assert_weft(weft_thread_join(tg, NULL, WEFT_FOREVER), 0);
}
END_TEST

/* ---- under load ---- */

static weft_lock busy = WEFT_LOCK_INIT;
static weft_event ping = WEFT_EVENT_INIT;
static atomic_int stop_load;

static int load_fn(void *p)
{
    long id = (long)(intptr_t)p;
    while (!atomic_load(&stop_load)) {
        if (weft_lock_acquire(&busy, WEFT_FOREVER) == 0) weft_lock_release(&busy);
        if (id % 2) {
            weft_event_set(&ping);
            weft_event_clear(&ping);
        } else {
            (void)weft_event_wait(&ping, 20000);
        }
        if (id == 3) (void)weft_sleep(1000);
    }
    return 0;
}

START_TEST(dump_under_load_never_crashes_or_hangs)
{
    enum { N = 4 };
    weft_thread t[N];
    atomic_store(&stop_load, 0);
    for (long i = 0; i < N; i++)
        ck_assert_weft(weft_thread_start(&t[i], load_fn, (void *)(intptr_t)i, NULL), 0);
    long rounds = weft_test_scale(300);
    for (long r = 0; r < rounds; r++) {
        char *text = weft_test_dump_text();
        ck_assert_msg(strncmp(text, "weft dump: pid ", 15) == 0, "%s", text);
        ck_assert_msg(strstr(text, "\nend of weft dump\n"), "%s", text);
        ck_assert_ptr_null(strstr(text, "deadlock:")); /* nobody is stuck */
        free(text);
    }
    atomic_store(&stop_load, 1);
    for (int i = 0; i < N; i++) ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_FOREVER), 0);
}
END_TEST

/* ---- on a signal ---- */

START_TEST(dump_on_sigquit_writes_to_stderr)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(dup2(p[1], 2), 2);
    weft_thread_opts og = {.name = "gated"};
    weft_thread tg;
    ck_assert_weft(weft_thread_start(&tg, ready_then_wait_gate, NULL, &og), 0);
    ck_assert_weft(weft_event_wait(&ready, WEFT_FOREVER), 0);
    ck_assert_weft(weft_debug_name(&gate, "gate"), 0);
    ck_assert_weft(weft_debug_dump_on_signal(SIGQUIT), 0);
    ck_assert_weft(weft_debug_dump_on_signal(SIGQUIT), 0); /* again: nothing */
    ck_assert_weft(weft_debug_dump_on_signal(SIGUSR2), WEFT_EBUSY);
    ck_assert_int_eq(raise(SIGQUIT), 0);
    static char buf[1 << 16];
    size_t len = 0;
    while (!strstr(buf, "end of weft dump\n")) { /* a blocking read: the test's limit bounds it */
        ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
        ck_assert_int_gt(n, 0);
        len += (size_t)n;
        buf[len] = '\0';
    }
    ck_assert_msg(strncmp(buf, "weft dump: pid ", 15) == 0, "%s", buf);
    char l[512];
    ck_assert_uint_ne(thread_line(buf, "gated", l, sizeof l), 0);
    ck_assert_uint_ne(thread_line(buf, "main", l, sizeof l), 0);
    ck_assert_weft(weft_event_set(&gate), 0);
    ck_assert_weft(weft_thread_join(tg, NULL, WEFT_FOREVER), 0);
}
END_TEST

START_TEST(bad_input_is_an_error_code)
{
    ck_assert_weft(weft_debug_dump(-1), WEFT_EINVAL);
    ck_assert_weft(weft_debug_name(NULL, "x"), WEFT_EINVAL);
    ck_assert_weft(weft_debug_name(&busy, "a name that is much longer than thirty-one bytes"),
                   WEFT_EINVAL);
    ck_assert_weft(weft_debug_name(&busy, NULL), 0); /* no name to remove: fine */
    ck_assert_weft(weft_debug_dump_on_signal(SIGKILL), WEFT_EINVAL);
    ck_assert_weft(weft_debug_dump_on_signal(0), WEFT_EINVAL);
    ck_assert_weft(weft_debug_dump_on_signal(NSIG), WEFT_EINVAL);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    ck_assert_weft(weft_debug_dump(fds[1]), WEFT_EFAILED);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "write to fd"));
    close(fds[1]);
}
END_TEST

/* ---- lock-order checking ---- */

static weft_lock alpha = WEFT_LOCK_INIT, beta = WEFT_LOCK_INIT;

static int alpha_then_beta(void *unused)
{
    (void)unused;
    ck_assert_int_eq(weft_lock_acquire(&alpha, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_lock_acquire(&beta, WEFT_FOREVER), 0);
    weft_lock_release(&beta);
    weft_lock_release(&alpha);
    return 0;
}

static void beta_then_alpha(void)
{
    ck_assert_int_eq(weft_lock_acquire(&beta, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_lock_acquire(&alpha, WEFT_FOREVER), 0);
    weft_lock_release(&alpha);
    weft_lock_release(&beta);
}

static void inversion_twice(void)
{
    beta_then_alpha();
    beta_then_alpha(); /* the same inversion again: not reported again */
}

START_TEST(lock_order_inversion_reported_at_first_occurrence_with_two_stacks)
{
    ck_assert_weft(weft_debug_name(&alpha, "alpha"), 0);
    ck_assert_weft(weft_debug_name(&beta, "beta"), 0);
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT), WEFT_LOCK_ORDER_OFF);
    weft_thread_opts o = {.name = "orderer"};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, alpha_then_beta, NULL, &o), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    /* No deadlock can happen now (the other thread is gone): the order alone is reported. */
    char *text = weft_test_stderr_of(inversion_twice);
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_OFF), WEFT_LOCK_ORDER_REPORT);
    ck_assert_uint_eq(
        weft_test_count(text, "weft: lock-order inversion (possible deadlock) in thread "), 1);
    char want[256];
    ck_assert_msg(strstr(text, "'main'\n"), "%s", text);
    snprintf(want, sizeof want, "  acquiring lock 'alpha' (%p) while holding lock 'beta' (%p),\n",
             (void *)&alpha, (void *)&beta);
    ck_assert_msg(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "    lock 'alpha' (%p) then lock 'beta' (%p), first by thread ",
             (void *)&alpha, (void *)&beta);
    const char *edge = strstr(text, want);
    ck_assert_msg(edge && strstr(edge, " 'orderer', at:\n      #0 0x"), "%s", text);
    const char *mine = strstr(text, "  this acquisition, at:\n      #0 0x");
    ck_assert_msg(mine && mine > edge, "%s", text);
    ck_assert_msg(weft_test_count(edge, "      #1 0x") >= 2, "two stacks of 2+ frames: %s",
                  text); /* both */
    ck_assert_msg(strstr(mine, "end of weft lock-order report\n"), "%s", text);
    free(text);
    /* Off: the same order records nothing. */
    text = weft_test_stderr_of(beta_then_alpha);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(lock_order_abort_mode_aborts_at_the_inversion)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        weft_debug_lock_order(WEFT_LOCK_ORDER_ABORT);
        weft_thread t;
        if (weft_thread_start(&t, alpha_then_beta, NULL, NULL) != 0) _exit(3);
        if (weft_thread_join(t, NULL, WEFT_FOREVER) != 0) _exit(4);
        beta_then_alpha();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
    ck_assert_weft(weft_debug_lock_order(7), WEFT_EINVAL);
}
END_TEST

/* ---- pools in the dump ---- */

static weft_sem started = WEFT_SEM_INIT(0);
static weft_event release_tasks = WEFT_EVENT_INIT;

static int block_fn(void *arg, void **result)
{
    (void)arg;
    *result = NULL;
    weft_sem_release(&started, 1);
    return weft_event_wait(&release_tasks, WEFT_FOREVER);
}

/* The "pool ADDR 'name': ..." line of the pool named name, parsed. */
static int pool_line(const char *text, const char *name, int *workers, int *max, int *nbusy,
                     unsigned long long *queued)
{
    char key[64];
    snprintf(key, sizeof key, " '%s': ", name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *k = strstr(p, key), *end = strchr(p, '\n');
        if (strncmp(p, "pool ", 5) != 0 || k == NULL || (end && k > end)) continue;
        if (sscanf(k + strlen(key), "workers %d of %d, busy %d, queued %llu", workers, max, nbusy,
                   queued) == 4)
            return 1;
    }
    return 0;
}

START_TEST(dump_shows_each_pool_with_workers_busy_and_queued)
{
    weft_pool *p;
    weft_pool_opts o = {.max_workers = 2, .name_prefix = "crunch"};
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    ck_assert_weft(weft_debug_name(p, "crunch"), 0);
    weft_future *fs[5];
    for (int i = 0; i < 2; i++)
        ck_assert_weft(weft_pool_submit(p, block_fn, NULL, &fs[i], WEFT_FOREVER), 0);
    for (int i = 0; i < 2; i++) ck_assert_weft(weft_sem_acquire(&started, WEFT_FOREVER), 0);
    for (int i = 2; i < 5; i++)
        ck_assert_weft(weft_pool_submit(p, block_fn, NULL, &fs[i], WEFT_FOREVER), 0);
    char *text = weft_test_dump_text();
    int workers = -1, max = -1, nbusy = -1;
    unsigned long long queued = 99;
    ck_assert_msg(pool_line(text, "crunch", &workers, &max, &nbusy, &queued),
                  "no pool line in:\n%s", text);
    ck_assert_int_eq(workers, 2);
    ck_assert_int_eq(max, 2);
    ck_assert_int_eq(nbusy, 2);
    ck_assert_int_eq(queued, 3);
    ck_assert_ptr_nonnull(strstr(text, "threads 'crunch"));
    free(text);
    weft_event_set(&release_tasks);
    for (int i = 0; i < 5; i++) {
        ck_assert_weft(weft_future_wait(fs[i], WEFT_FOREVER), 0);
        weft_future_unref(fs[i]);
    }
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    text = weft_test_dump_text(); /* still alive until freed, and says it is shut down */
    ck_assert_msg(pool_line(text, "crunch", &workers, &max, &nbusy, &queued), "%s", text);
    ck_assert_int_eq(nbusy, 0);
    ck_assert_int_eq(queued, 0);
    ck_assert_ptr_nonnull(strstr(text, "(threads 'crunch'), shut down\n"));
    free(text);
    weft_pool_free(p);
}
END_TEST

/* ---- queues in the dump ---- */

/* The "queue ADDR 'name': items N of C | N (unbounded), getters G, putters P[, closed]" line
 * of the queue named name, parsed (cap 0: unbounded); the rest of the line in tail. */
static int queue_line(const char *text, const char *name, const void *q, size_t *items, size_t *cap,
                      size_t *getters, size_t *putters, char *tail, size_t size)
{
    char key[96];
    snprintf(key, sizeof key, "queue %p '%s': ", q, name);
    const char *p = strstr(text, key);
    if (p == NULL) return 0;
    p += strlen(key);
    int used = 0;
    *cap = 0;
    if (sscanf(p, "items %zu of %zu, getters %zu, putters %zu%n", items, cap, getters, putters,
               &used) != 4 &&
        sscanf(p, "items %zu (unbounded), getters %zu, putters %zu%n", items, getters, putters,
               &used) != 3)
        return 0;
    const char *end = strchr(p + used, '\n');
    size_t n = end ? (size_t)(end - (p + used)) : strlen(p + used);
    if (n >= size) n = size - 1;
    memcpy(tail, p + used, n);
    tail[n] = '\0';
    return 1;
}

static int put_fn(void *q)
{
    return weft_queue_put(q, (void *)7, WEFT_FOREVER);
}

static int get_any_fn(void *q)
{
    void *item;
    int rc = weft_queue_get(q, &item, WEFT_FOREVER);
    return rc == 0 && item == (void *)9 ? 0 : 1;
}

/* Dump until the queue named name shows want_getters and want_putters parked (the threads
 * are on their way to park); the dump's text, parsed into the rest. */
static char *dump_until_parked(const char *name, const void *q, size_t want_getters,
                               size_t want_putters, size_t *items, size_t *cap, char *tail)
{
    for (;;) {
        char *text = weft_test_dump_text();
        size_t g = 0, p = 0;
        ck_assert_msg(queue_line(text, name, q, items, cap, &g, &p, tail, 128),
                      "no queue line for '%s' in:\n%s", name, text);
        if (g == want_getters && p == want_putters) return text;
        free(text);
        ck_assert_weft(weft_sleep(1000000), 0);
    }
}

START_TEST(dump_shows_each_queue_with_items_capacity_and_waiters)
{
    weft_queue *jobs, *stack;
    weft_queue_opts bounded = {.capacity = 4}, lifo = {.order = WEFT_QUEUE_LIFO};
    ck_assert_weft(weft_queue_new(&jobs, &bounded), 0);
    ck_assert_weft(weft_queue_new(&stack, &lifo), 0);
    ck_assert_weft(weft_debug_name(jobs, "jobs"), 0);
    ck_assert_weft(weft_debug_name(stack, "stack"), 0);
    for (int i = 0; i < 4; i++) ck_assert_weft(weft_queue_put(jobs, (void *)7, 0), 0);
    weft_thread putters[2], getters[3];
    for (int i = 0; i < 2; i++)
        ck_assert_weft(weft_thread_start(&putters[i], put_fn, jobs, NULL), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_weft(weft_thread_start(&getters[i], get_any_fn, stack, NULL), 0);
    size_t items, cap;
    char tail[128];
    /* A full bounded FIFO queue with two putters parked. */
    char *text = dump_until_parked("jobs", jobs, 0, 2, &items, &cap, tail);
    ck_assert_uint_eq(items, 4);
    ck_assert_uint_eq(cap, 4);
    ck_assert_str_eq(tail, "");
    free(text);
    /* An empty unbounded LIFO queue (a locked one) with three getters parked. */
    text = dump_until_parked("stack", stack, 3, 0, &items, &cap, tail);
    ck_assert_uint_eq(items, 0);
    ck_assert_uint_eq(cap, 0);
    ck_assert_msg(strstr(text, "items 0 (unbounded), getters 3, putters 0\n"), "%s", text);
    free(text);
    void *item;
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_put(stack, (void *)9, WEFT_FOREVER), 0);
    for (int i = 0; i < 2; i++) ck_assert_weft(weft_queue_get(jobs, &item, WEFT_FOREVER), 0);
    for (int i = 0; i < 2; i++) {
        int st = 1;
        ck_assert_weft(weft_thread_join(putters[i], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
    }
    for (int i = 0; i < 3; i++) {
        int st = 1;
        ck_assert_weft(weft_thread_join(getters[i], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
    }
    /* Counts after the waits: items left, closed; shut down. */
    ck_assert_weft(weft_queue_put(stack, (void *)9, 0), 0);
    ck_assert_weft(weft_queue_close(stack), 0);
    ck_assert_weft(weft_queue_shutdown(jobs, NULL, NULL, NULL), 0);
    text = dump_until_parked("stack", stack, 0, 0, &items, &cap, tail);
    ck_assert_uint_eq(items, 1);
    ck_assert_str_eq(tail, ", closed");
    free(text);
    text = dump_until_parked("jobs", jobs, 0, 0, &items, &cap, tail);
    ck_assert_uint_eq(cap, 4);
    ck_assert_str_eq(tail, ", shut down");
    free(text);
    /* A freed queue leaves the list. */
    ck_assert_weft(weft_debug_name(stack, NULL), 0);
    ck_assert_weft(weft_queue_free(stack), 0);
    text = weft_test_dump_text();
    char key[64];
    snprintf(key, sizeof key, "queue %p:", (void *)stack);
    ck_assert_msg(strstr(text, key) == NULL, "%s", text);
    free(text);
    ck_assert_weft(weft_debug_name(jobs, NULL), 0);
    ck_assert_weft(weft_queue_free(jobs), 0);
}
END_TEST

WEFT_TEST_SUITE("debug", 60, abba_deadlock_dump_names_threads_locks_holders_and_cycle,
                dump_shows_event_queue_and_join_waits, dump_shows_a_queue_get_with_its_deadline,
                dump_under_load_never_crashes_or_hangs, dump_with_stacks_shows_the_blocking_call,
                dump_on_sigquit_writes_to_stderr, bad_input_is_an_error_code,
                lock_order_inversion_reported_at_first_occurrence_with_two_stacks,
                lock_order_abort_mode_aborts_at_the_inversion,
                dump_shows_each_pool_with_workers_busy_and_queued,
                dump_shows_each_queue_with_items_capacity_and_waiters)
