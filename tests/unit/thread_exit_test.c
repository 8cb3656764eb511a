/* tests/unit/thread_exit_test.c - Python's exit rule (wait for non-daemon threads) and the error
 * hook (threading.excepthook). Each test forks a child that exits while threads run. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

static int out_fd = -1;

static int write_late(void *arg)
{
    weft_sleep((weft_ns)(intptr_t)arg);
    if (write(out_fd, "done", 4) != 4) return 1;
    return 0;
}

/* Fork a child that starts write_late(delay) (daemon or not) and exits at once; return what
 * the child's thread wrote before the process ended, and the exit status. */
static void run_child(int daemon, weft_ns delay, char *buf, size_t size, int *status)
{
    int fd;
    pid_t pid = weft_test_fork_piped(&fd);
    if (pid == 0) {
        out_fd = fd;
        weft_thread t;
        weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
        o.daemon = daemon;
        if (weft_thread_start(&t, write_late, (void *)(intptr_t)delay, &o) != 0) _exit(3);
        exit(0); /* like returning from main */
    }
    ssize_t n, got = 0;
    while ((n = read(fd, buf + got, size - 1 - (size_t)got)) > 0) got += n;
    buf[got] = '\0';
    close(fd);
    ck_assert_int_eq(waitpid(pid, status, 0), pid);
}

START_TEST(exit_waits_for_non_daemon_threads)
{
    char buf[16];
    int status;
    run_child(0, WEFT_MS(50), buf, sizeof buf, &status);
    ck_assert_str_eq(buf, "done");
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(exit_does_not_wait_for_daemon_threads)
{
    char buf[16];
    int status;
    weft_ns t0 = weft_now();
    run_child(1, WEFT_SEC(60), buf, sizeof buf, &status);
    ck_assert_str_eq(buf, "");
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* did not wait out the 60 s */
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static int failing(void *arg)
{
    return weft_error_set(WEFT_EBROKEN, "sensor %s unplugged", (const char *)arg);
}

struct seen {
    _Atomic int calls;
    int status;
    char name[64], message[128];
};

static void record_hook(weft_thread t, const char *name, int status, const char *message, void *arg)
{
    (void)t;
    struct seen *s = arg;
    s->status = status;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->message, sizeof s->message, "%s", message);
    atomic_fetch_add(&s->calls, 1); /* last: publishes the fields above */
}

START_TEST(error_hook_reports_released_thread_failure)
{
    struct seen s = {.calls = 0};
    ck_assert_weft(weft_thread_set_error_hook(record_hook, &s), 0);
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = "sensor-reader";
    ck_assert_weft(weft_thread_start(&t, failing, "A", &o), 0);
    ck_assert_weft(weft_thread_detach(t), 0);
    while (atomic_load(&s.calls) == 0) weft_sleep(WEFT_MS(1));
    ck_assert_int_eq(s.status, WEFT_EBROKEN);
    ck_assert_str_eq(s.name, "sensor-reader");
    ck_assert_str_eq(s.message, "sensor A unplugged");
    /* A joined failure is the joiner's to handle: no report. */
    ck_assert_weft(weft_thread_start(&t, failing, "B", &o), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(atomic_load(&s.calls), 1);
    ck_assert_weft(weft_thread_set_error_hook(NULL, NULL), 0);
}
END_TEST

START_TEST(release_after_failure_reports_once)
{
    struct seen s = {.calls = 0};
    ck_assert_weft(weft_thread_set_error_hook(record_hook, &s), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, failing, "C", NULL), 0);
    while (weft_thread_is_alive(t) == 1) weft_sleep(WEFT_MS(1));
    ck_assert_weft(weft_thread_detach(t), 0);
    ck_assert_int_eq(atomic_load(&s.calls), 1);
    ck_assert_str_eq(s.message, "sensor C unplugged");
    ck_assert_weft(weft_thread_set_error_hook(NULL, NULL), 0);
}
END_TEST

START_TEST(unjoined_failure_is_reported_at_exit_on_stderr)
{
    int fd;
    pid_t pid = weft_test_fork_piped(&fd);
    if (pid == 0) {
        dup2(fd, 2);
        weft_thread t;
        weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
        o.name = "uploader";
        if (weft_thread_start(&t, failing, "D", &o) != 0) _exit(3);
        exit(0); /* never joined */
    }
    char buf[512];
    ssize_t n, got = 0;
    while ((n = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0) got += n;
    buf[got] = '\0';
    close(fd);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(strstr(buf, "weft: thread 'uploader' failed: WEFT_EBROKEN") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "sensor D unplugged") != NULL, "%s", buf);
}
END_TEST

static _Atomic int looping; /* a block_until_flag thread is past its start */

static int block_until_flag(void *arg)
{
    _Atomic int *flag = arg;
    while (!atomic_load(flag)) {
        weft_sleep(WEFT_MS(1));
        atomic_store(&looping, 1);
    }
    return 0;
}

/* A child forked while other weft threads run exits at once: the threads that did not come
 * along are not waited for, and their handles are finished and unjoinable in the child. */
START_TEST(fork_child_does_not_wait_for_threads_left_behind)
{
    _Atomic int flag = 0;
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, block_until_flag, &flag, NULL), 0);
    /* Fork only once t is past its start: gcc 12's ASan runtime has no fork handlers, and a
     * fork while t held one of its allocator locks would block the child's new thread (see
     * timer_test's fork test). */
    while (!atomic_load(&looping)) weft_sleep(WEFT_MS(1));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (weft_thread_is_alive(t) != 0) _exit(10);
        if (weft_thread_join(t, NULL, 0) != WEFT_ESRCH) _exit(11); /* not in the child */
        if (weft_thread_count() != 0) _exit(12);
        if (weft_test_tsan()) exit(0); /* TSan cannot start threads after such a fork */
        weft_thread u;
        if (weft_thread_start(&u, block_until_flag, &flag, NULL) != 0) _exit(13);
        atomic_store(&flag, 1);
        if (weft_thread_join(u, NULL, WEFT_SEC(10)) != 0) _exit(14);
        exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    atomic_store(&flag, 1);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(10)), 0);
}
END_TEST

WEFT_TEST_SUITE("thread_exit", 30, exit_waits_for_non_daemon_threads,
                exit_does_not_wait_for_daemon_threads, error_hook_reports_released_thread_failure,
                release_after_failure_reports_once, unjoined_failure_is_reported_at_exit_on_stderr,
                fork_child_does_not_wait_for_threads_left_behind)
