/* tests/unit/signal_test.c - a real SIGINT cancels every blocked thread; a second one exits 130.
 *
 * Each test forks a child that catches signals, blocks threads in different weft calls (sleep,
 * join, queue get and put, lock, event, condition, a CPU loop with checkpoints) and reports on
 * a pipe; the parent sends real signals with kill(). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

static int out_fd;

static void say(const char *s)
{
    if (write(out_fd, s, strlen(s)) < 0) _exit(20);
}

static int in_sleep(void *arg)
{
    (void)arg;
    return weft_sleep(WEFT_SEC(60));
}

static int shielded_forever(void *arg)
{
    (void)arg;
    weft_shield_begin();
    weft_sleep(WEFT_SEC(60));
    return 0;
}

static int in_join(void *arg)
{
    return weft_thread_join(*(weft_thread *)arg, NULL, WEFT_FOREVER);
}

/* What the blocked threads wait on; the items are counted at the end. */
static struct {
    weft_queue *empty, *full;
    weft_lock lock;
    weft_event event;
    weft_lock cond_lock;
    weft_cond cond;
} objs;

static int in_get(void *arg)
{
    (void)arg;
    void *item;
    return weft_queue_get(objs.empty, &item, WEFT_FOREVER);
}

static int in_put(void *arg)
{
    static int second;
    (void)arg;
    int rc = weft_queue_put(objs.full, &second, WEFT_FOREVER);
    return rc == WEFT_ECANCELED ? rc : 99; /* the item stays ours: nothing to free */
}

static int in_lock(void *arg)
{
    (void)arg;
    return weft_lock_acquire(&objs.lock, WEFT_FOREVER);
}

static int in_event(void *arg)
{
    (void)arg;
    return weft_event_wait(&objs.event, WEFT_FOREVER);
}

static int in_cond(void *arg)
{
    (void)arg;
    if (weft_cond_acquire(&objs.cond, WEFT_FOREVER) != 0) return 1;
    int rc = weft_cond_wait(&objs.cond, WEFT_FOREVER);
    weft_cond_release(&objs.cond);
    return rc;
}

static int in_cpu_loop(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (weft_checkpoint() == 0) x++;
    return WEFT_ECANCELED;
}

static void on_signal(int signo, void *arg)
{
    (void)arg;
    if (signo == SIGINT) say("callback\n");
}

static int setup_objects(void)
{
    static int first;
    weft_queue_opts one = WEFT_QUEUE_OPTS_INIT;
    one.capacity = 1;
    if (weft_queue_new(&objs.empty, NULL) || weft_queue_new(&objs.full, &one)) return 1;
    if (weft_queue_put(objs.full, &first, 0) != 0) return 1;
    if (weft_lock_acquire(&objs.lock, 0) != 0) return 1; /* held by main throughout */
    if (weft_event_init(&objs.event) || weft_cond_init(&objs.cond, &objs.cond_lock)) return 1;
    return 0;
}

/* The child: eight threads blocked in eight different weft calls; returns its exit status. */
static int child_main(void)
{
    enum { N = 8 };
    weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
    so.on_signal = on_signal;
    if (weft_signals_catch(&so) != 0) return 10;
    if (weft_signals_catch(NULL) != WEFT_EBUSY) return 11;
    if (setup_objects() != 0) return 12;
    weft_thread blocker, t[N];
    weft_thread_opts daemon = WEFT_THREAD_OPTS_INIT;
    daemon.daemon = 1;
    if (weft_thread_start(&blocker, shielded_forever, NULL, &daemon) != 0) return 12;
    weft_thread_fn fns[N] = {in_sleep, in_join,  in_get,  in_put,
                             in_lock,  in_event, in_cond, in_cpu_loop};
    for (int i = 0; i < N; i++)
        if (weft_thread_start(&t[i], fns[i], &blocker, NULL) != 0) return 13;
    say("ready\n");
    if (weft_sleep(WEFT_SEC(60)) != WEFT_ECANCELED) return 14;
    weft_shield_begin(); /* cleanup: join the workers even though we are cancelled */
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        int st = 0;
        if (weft_thread_join(t[i], &st, WEFT_SEC(20)) != 0) return 15;
        cancelled += st == WEFT_ECANCELED;
    }
    weft_shield_end();
    /* No item lost: the full queue still holds its one item, the empty one none. */
    if (weft_queue_size(objs.full) != 1 || weft_queue_size(objs.empty) != 0) return 19;
    char why[64] = "";
    weft_scope_reason(weft_scope_root(), NULL, why, sizeof why);
    if (strcmp(why, "SIGINT received") != 0) return 16;
    if (weft_signals_received() != SIGINT) return 17;
    say(cancelled == N ? "all cancelled\n" : "some missed\n");
    return cancelled == N ? 0 : 18;
}

static pid_t spawn(int (*fn)(void), int *rd)
{
    pid_t pid = weft_test_fork_piped(rd);
    if (pid == 0) {
        out_fd = *rd;
        exit(fn());
    }
    return pid;
}

/* Read from fd until the text so far contains want (or EOF). */
static int read_until(int fd, char *buf, size_t size, const char *want)
{
    size_t got = 0;
    buf[0] = '\0';
    while (strstr(buf, want) == NULL && got < size - 1) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n <= 0) return 0;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return strstr(buf, want) != NULL;
}

START_TEST(sigint_cancels_every_blocked_thread_and_main_returns)
{
    int rd;
    char buf[256];
    pid_t pid = spawn(child_main, &rd);
    ck_assert(read_until(rd, buf, sizeof buf, "ready\n"));
    weft_ns t0 = weft_now();
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    read_until(rd, buf, sizeof buf, "cancelled\n");
    close(rd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x, output %s", status,
                  buf);
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* main's 60 s sleep was cut short */
}
END_TEST

static int slow_cleanup_main(void)
{
    if (weft_signals_catch(NULL) != 0) return 10;
    say("ready\n");
    if (weft_sleep(WEFT_SEC(60)) != WEFT_ECANCELED) return 11;
    weft_shield_begin();
    say("cleaning\n");
    weft_sleep(WEFT_SEC(60)); /* deliberately slow cleanup */
    return 12;
}

START_TEST(second_sigint_during_cleanup_exits_130)
{
    int rd;
    char buf[256];
    pid_t pid = spawn(slow_cleanup_main, &rd);
    ck_assert(read_until(rd, buf, sizeof buf, "ready\n"));
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    ck_assert(read_until(rd, buf, sizeof buf, "cleaning\n"));
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(rd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status %#x", status);
}
END_TEST

/* As slow_cleanup_main, with a zeroed weft_signals_opts: it must be the defaults (SIGINT and
 * SIGTERM, a second signal exits), as WEFT_SIGNALS_OPTS_INIT and NULL are. */
static int zeroed_opts_main(void)
{
    weft_signals_opts z;
    memset(&z, 0, sizeof z);
    if (weft_signals_catch(&z) != 0) return 10;
    say("ready\n");
    if (weft_sleep(WEFT_SEC(60)) != WEFT_ECANCELED) return 11;
    weft_shield_begin();
    say("cleaning\n");
    weft_sleep(WEFT_SEC(60));
    return 12;
}

START_TEST(zeroed_signals_opts_are_the_defaults)
{
    int rd;
    char buf[256];
    pid_t pid = spawn(zeroed_opts_main, &rd);
    ck_assert(read_until(rd, buf, sizeof buf, "ready\n"));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert(read_until(rd, buf, sizeof buf, "cleaning\n"));
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(rd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT, "status %#x", status);
}
END_TEST

START_TEST(sigterm_is_caught_too)
{
    int rd;
    char buf[256];
    pid_t pid = spawn(slow_cleanup_main, &rd);
    ck_assert(read_until(rd, buf, sizeof buf, "ready\n"));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert(read_until(rd, buf, sizeof buf, "cleaning\n"));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(rd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM, "status %#x", status);
}
END_TEST

START_TEST(uncatchable_signals_are_rejected)
{
    int bad[] = {SIGINT, SIGKILL};
    weft_signals_opts o = WEFT_SIGNALS_OPTS_INIT;
    o.signals = bad;
    o.count = 2;
    ck_assert_weft(weft_signals_catch(&o), WEFT_EINVAL);
    int segv[] = {SIGSEGV};
    o.signals = segv;
    o.count = 1;
    ck_assert_weft(weft_signals_catch(&o), WEFT_EINVAL);
    int range[] = {0};
    o.signals = range;
    ck_assert_weft(weft_signals_catch(&o), WEFT_EINVAL);
    o.count = 0;
    ck_assert_weft(weft_signals_catch(&o), WEFT_EINVAL);
    ck_assert_int_eq(weft_signals_received(), 0);
}
END_TEST

WEFT_TEST_SUITE("signal", 30, sigint_cancels_every_blocked_thread_and_main_returns,
                second_sigint_during_cleanup_exits_130, zeroed_signals_opts_are_the_defaults,
                sigterm_is_caught_too, uncatchable_signals_are_rejected)
