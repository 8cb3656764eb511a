/* tests/unit/signal_test.c - a real SIGINT cancels every blocked thread; a second one exits 130.
 *
 * Each test forks a child that catches signals, blocks threads in different weft calls and
 * reports on a pipe; the parent sends real signals with kill(). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "park.h"
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

static int in_park(void *arg)
{
    (void)arg;
    weft__waitq q = {0};
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, WEFT_FOREVER);
    weft__waiter_init(&w, &p, 0);
    weft__lock_acquire(&q.lock);
    return weft__waitq_wait_locked(&q, &w);
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

/* The child: threads blocked in several weft calls; returns its exit status. */
static int child_main(void)
{
    weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
    so.on_signal = on_signal;
    if (weft_signals_catch(&so) != 0) return 10;
    if (weft_signals_catch(NULL) != WEFT_EBUSY) return 11;
    weft_thread blocker, t[4];
    weft_thread_opts daemon = WEFT_THREAD_OPTS_INIT;
    daemon.daemon = 1;
    if (weft_thread_start(&blocker, shielded_forever, NULL, &daemon) != 0) return 12;
    weft_thread_fn fns[4] = {in_sleep, in_join, in_park, in_cpu_loop};
    for (int i = 0; i < 4; i++)
        if (weft_thread_start(&t[i], fns[i], &blocker, NULL) != 0) return 13;
    say("ready\n");
    if (weft_sleep(WEFT_SEC(60)) != WEFT_ECANCELED) return 14;
    weft_shield_begin(); /* cleanup: join the workers even though we are cancelled */
    int cancelled = 0;
    for (int i = 0; i < 4; i++) {
        int st = 0;
        if (weft_thread_join(t[i], &st, WEFT_SEC(20)) != 0) return 15;
        cancelled += st == WEFT_ECANCELED;
    }
    weft_shield_end();
    char why[64] = "";
    weft_scope_reason(weft_scope_root(), NULL, why, sizeof why);
    if (strcmp(why, "SIGINT received") != 0) return 16;
    if (weft_signals_received() != SIGINT) return 17;
    say(cancelled == 4 ? "all cancelled\n" : "some missed\n");
    return cancelled == 4 ? 0 : 18;
}

static pid_t spawn(int (*fn)(void), int *rd)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        out_fd = fds[1];
        exit(fn());
    }
    close(fds[1]);
    *rd = fds[0];
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
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(10));
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
                second_sigint_during_cleanup_exits_130, sigterm_is_caught_too,
                uncatchable_signals_are_rejected)
