/* tests/unit/process_test.c - processes (multiprocessing.Process): exit codes, signals by name,
 * terminate/kill, join with timeout and cancellation, messages and results from a child, the
 * exit rule (daemon children killed, also when the parent is SIGKILLed; others waited for),
 * no zombie and no leaked descriptor, starts from a busy threaded parent, bad input. */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "process/process_internal.h"
#include "test.h"

static const int methods[3] = {WEFT_PROCESS_FORKSERVER, WEFT_PROCESS_SPAWN, WEFT_PROCESS_FORK};

/* How many of methods[] may run a child that starts threads: ThreadSanitizer kills a child of
 * fork() in a threaded parent that starts one ("starting new threads after multi-threaded fork
 * is not supported"), so there the fork method (last) is left out. */
static int methods_for_threads(void)
{
    return weft_test_tsan() ? 2 : 3;
}

static int ret_arg(const void *arg, size_t size)
{
    int v;
    if (size != sizeof v) return 99; /* no ck_assert in a child: it reports to nobody */
    memcpy(&v, arg, sizeof v);
    return v;
}

static int die_by(const void *arg, size_t size)
{
    (void)size;
    int sig = *(const int *)arg;
    if (sig == SIGABRT) abort();
    raise(sig);
    return 0;
}

static _Noreturn int block_forever(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    for (;;) pause();
}

static weft_process *start(weft_process_fn fn, const void *arg, size_t size, int method)
{
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.method = method;
    weft_process *p = NULL;
    ck_assert_weft(weft_process_start(&p, fn, arg, size, &o), 0);
    return p;
}

static int run(weft_process_fn fn, const void *arg, size_t size, int method)
{
    weft_process *p = start(fn, arg, size, method);
    int st = 1234;
    ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_process_exitcode(p), st);
    ck_assert_int_eq(weft_process_is_alive(p), 0);
    ck_assert_weft(weft_process_free(p), 0);
    return st;
}

START_TEST(process_exitcode_is_the_functions_status)
{
    for (int m = 0; m < 3; m++) {
        int v = 0;
        ck_assert_int_eq(run(ret_arg, &v, sizeof v, methods[m]), 0);
        v = 3;
        ck_assert_int_eq(run(ret_arg, &v, sizeof v, methods[m]), 3);
        ck_assert_int_eq(weft_error_code(), WEFT_EFAILED);
        v = WEFT_EINVAL; /* a weft code: exit status 1, the code in the joiner's slot */
        ck_assert_int_eq(run(ret_arg, &v, sizeof v, methods[m]), 1);
        ck_assert_int_eq(weft_error_code(), WEFT_EINVAL);
    }
}
END_TEST

START_TEST(process_killed_by_signal_is_reported_by_name)
{
    char buf[96];
    for (int m = 0; m < 3; m++) {
        int sig = SIGSEGV;
        ck_assert_int_eq(run(die_by, &sig, sizeof sig, methods[m]), -SIGSEGV);
        ck_assert_int_eq(weft_error_code(), WEFT_EDIED);
        ck_assert_ptr_nonnull(
            strstr(weft_error_message(), "killed by SIGSEGV (Segmentation fault)"));
        sig = SIGABRT;
        ck_assert_int_eq(run(die_by, &sig, sizeof sig, methods[m]), -SIGABRT);
        ck_assert_ptr_nonnull(strstr(weft_error_message(), "SIGABRT"));
    }
    ck_assert_str_eq(weft_process_status_text(-SIGSEGV, buf, sizeof buf),
                     "killed by SIGSEGV (Segmentation fault)");
    ck_assert_str_eq(weft_process_status_text(3, buf, sizeof buf), "exited with status 3");
    ck_assert_str_eq(weft_process_status_text(0, buf, sizeof buf), "exited normally");
}
END_TEST

START_TEST(process_terminate_and_kill)
{
    for (int m = 0; m < 3; m++) {
        weft_process *p = start(block_forever, NULL, 0, methods[m]);
        ck_assert_int_eq(weft_process_is_alive(p), 1);
        ck_assert_int_eq(weft_process_exitcode(p), WEFT_EAGAIN);
        ck_assert_weft(weft_process_terminate(p), 0);
        int st;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, -SIGTERM);
        ck_assert_weft(weft_process_terminate(p), 0); /* ended: nothing to do */
        ck_assert_weft(weft_process_free(p), 0);
        p = start(block_forever, NULL, 0, methods[m]);
        ck_assert_weft(weft_process_kill(p), 0);
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, -SIGKILL);
        ck_assert_weft(weft_process_free(p), 0);
    }
}
END_TEST

START_TEST(process_join_times_out_and_the_fd_is_a_sentinel)
{
    weft_process *p = start(block_forever, NULL, 0, WEFT_PROCESS_FORKSERVER);
    ck_assert_weft(weft_process_join(p, NULL, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_process_join(p, NULL, WEFT_MS(10)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_process_free(p), WEFT_ESTATE);
    struct pollfd pf = {.fd = weft_process_fd(p), .events = POLLIN};
    ck_assert_int_eq(poll(&pf, 1, 0), 0);
    ck_assert_weft(weft_process_kill(p), 0);
    ck_assert_int_eq(poll(&pf, 1, -1), 1);
    ck_assert_weft(weft_process_join(p, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_process_join(p, NULL, 0), 0); /* again: same answer */
    ck_assert_weft(weft_process_free(p), 0);
}
END_TEST

struct joiner {
    weft_process *p;
    weft_event started;
};

static int join_it(void *arg)
{
    struct joiner *j = arg;
    weft_event_set(&j->started);
    return weft_process_join(j->p, NULL, WEFT_FOREVER);
}

START_TEST(process_join_is_cancellable)
{
    /* terminate_on_cancel ties the child to the starter's scope, not to a joiner's. */
    for (int term = 0; term < 2; term++) {
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.terminate_on_cancel = term;
        struct joiner j = {NULL, WEFT_EVENT_INIT};
        ck_assert_weft(weft_process_start(&j.p, block_forever, NULL, 0, &o), 0);
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, join_it, &j, NULL), 0);
        ck_assert_weft(weft_event_wait(&j.started, WEFT_FOREVER), 0);
        ck_assert_weft(weft_thread_stop(t), 0);
        int st;
        ck_assert_weft(weft_thread_join(t, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, WEFT_ECANCELED);
        ck_assert_int_eq(weft_process_is_alive(j.p), 1);
        weft_process_kill(j.p);
        ck_assert_weft(weft_process_join(j.p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, -SIGKILL);
        ck_assert_weft(weft_process_free(j.p), 0);
    }
}
END_TEST

static int join_status(void *arg)
{
    struct joiner *j = arg;
    int st = 0;
    weft_event_set(&j->started);
    int rc = weft_process_join(j->p, &st, WEFT_FOREVER);
    return rc != 0 ? 1000 : st;
}

START_TEST(process_several_joiners_see_the_same_end)
{
    struct joiner j[3];
    weft_thread t[3];
    weft_process *p = start(block_forever, NULL, 0, WEFT_PROCESS_FORKSERVER);
    for (int i = 0; i < 3; i++) {
        j[i] = (struct joiner){p, WEFT_EVENT_INIT};
        ck_assert_weft(weft_thread_start(&t[i], join_status, &j[i], NULL), 0);
        ck_assert_weft(weft_event_wait(&j[i].started, WEFT_FOREVER), 0);
    }
    ck_assert_weft(weft_process_kill(p), 0);
    for (int i = 0; i < 3; i++) {
        int st;
        ck_assert_weft(weft_thread_join(t[i], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, -SIGKILL);
    }
    ck_assert_weft(weft_process_free(p), 0);
}
END_TEST

/* Wait (bounded by the test's limit) until p's pidfd says it ended, without a join. */
static void wait_ended(weft_process *p)
{
    struct pollfd pf = {.fd = weft_process_fd(p), .events = POLLIN};
    ck_assert_int_eq(poll(&pf, 1, 20000), 1);
}

static _Noreturn int ignore_term(const void *arg, size_t size)
{
    (void)size;
    signal(SIGTERM, SIG_IGN);
    if (write(*(const int *)arg, "r", 1) != 1) _exit(1);
    for (;;) pause();
}

START_TEST(process_terminate_on_cancel_follows_the_starters_scope)
{
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.terminate_on_cancel = 1;
    weft_process *owned, *free_one, *stubborn;
    ck_assert_weft(weft_process_start(&owned, block_forever, NULL, 0, &o), 0);
    ck_assert_weft(weft_process_start(&free_one, block_forever, NULL, 0, NULL), 0);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    o.kill_grace = WEFT_MS(10);
    o.pass_fds = &ready[1];
    o.npass_fds = 1;
    o.method = WEFT_PROCESS_FORK;
    ck_assert_weft(weft_process_start(&stubborn, ignore_term, &ready[1], sizeof ready[1], &o), 0);
    ck_assert_weft(weft_scope_exit(), 0);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1); /* it ignores SIGTERM by now */
    /* Nobody joins: the cancel alone ends the owned children. */
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "stop"), 0);
    wait_ended(owned);
    wait_ended(stubborn);
    int st;
    ck_assert_weft(weft_process_join(owned, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(st, -SIGTERM);
    ck_assert_weft(weft_process_join(stubborn, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(st, -SIGKILL); /* after the grace */
    ck_assert_int_eq(weft_process_is_alive(free_one), 1);
    weft_process_kill(free_one);
    ck_assert_weft(weft_process_join(free_one, &st, WEFT_FOREVER), 0);
    weft_process_free(owned);
    weft_process_free(stubborn);
    weft_process_free(free_one);
    /* A child started inside an already cancelled scope is terminated at once. */
    ck_assert_weft(weft_scope_enter(s), 0);
    o = (weft_process_opts)WEFT_PROCESS_OPTS_INIT;
    o.terminate_on_cancel = 1;
    ck_assert_weft(weft_process_start(&owned, block_forever, NULL, 0, &o), 0);
    ck_assert_weft(weft_scope_exit(), 0);
    wait_ended(owned);
    ck_assert_weft(weft_process_join(owned, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(st, -SIGTERM);
    weft_process_free(owned);
    weft_scope_free(s);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

START_TEST(process_terminate_on_cancel_on_ctrl_c)
{
    ck_assert_weft(weft_signals_catch(NULL), 0);
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.terminate_on_cancel = 1;
    weft_process *p[3];
    int n = methods_for_threads(); /* SIGINT is blocked here: the child catches it (a thread) */
    for (int m = 0; m < n; m++) {
        o.method = methods[m];
        ck_assert_weft(weft_process_start(&p[m], block_forever, NULL, 0, &o), 0);
    }
    ck_assert_int_eq(kill(getpid(), SIGINT), 0); /* Ctrl-C at the parent alone */
    for (int m = 0; m < n; m++) {
        int st;
        wait_ended(p[m]);
        ck_assert_weft(weft_process_join(p[m], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, -SIGTERM);
        weft_process_free(p[m]);
    }
    ck_assert_int_eq(weft_signals_received(), SIGINT);
}
END_TEST

static int fail_with_result(const void *arg, size_t size)
{
    char msg[64];
    snprintf(msg, sizeof msg, "partial %.*s", (int)size, (const char *)arg);
    if (weft_process_set_result(msg, strlen(msg) + 1) != 0) return 99;
    return weft_error_set(WEFT_ERANGE, "child could not parse '%.*s'", (int)size,
                          (const char *)arg);
}

START_TEST(process_failing_child_message_reaches_the_joiner)
{
    for (int m = 0; m < 3; m++) {
        weft_process *p = start(fail_with_result, "bob", 3, methods[m]);
        int st;
        weft_error_clear();
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 1);
        ck_assert_int_eq(weft_error_code(), WEFT_ERANGE);
        ck_assert_str_eq(weft_error_message(), "child could not parse 'bob'");
        char buf[64];
        size_t len = 0;
        ck_assert_weft(weft_process_result(p, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, strlen("partial bob") + 1);
        ck_assert_str_eq(buf, "partial bob");
        ck_assert_weft(weft_process_free(p), 0);
    }
}
END_TEST

/* The child waits for the parent's go (fd in arg) before it hands its result back and ends. */
static int result_after_go(const void *arg, size_t size)
{
    (void)size;
    char c;
    if (read(*(const int *)arg, &c, 1) != 1) return 2;
    if (weft_process_set_result("partial", 8) != 0) return 99;
    return 1;
}

/* Found by tests/fuzz/fault_sweep.c: with no memory to keep the child's record (k = 1) or
 * its result (k = 2) at the reap, weft_process_result gave 0 and length 0, as if the child had
 * handed back nothing. It says WEFT_ENOMEM: the result is lost, not empty. */
START_TEST(process_result_lost_to_no_memory_is_an_error)
{
    for (int k = 1; k <= 2; k++) {
        int sp[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[0];
        o.pass_fds = &sp[1];
        o.npass_fds = 1;
        weft_process *p;
        ck_assert_weft(weft_process_start(&p, result_after_go, &sp[1], sizeof sp[1], &o), 0);
        close(sp[1]);
        weft__fault_arm(WEFT__FAULT_ALLOC, k); /* the child has not ended: the reap is ahead */
        ck_assert_int_eq(write(sp[0], "g", 1), 1);
        int st;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(atomic_load(&weft__fault_armed[WEFT__FAULT_ALLOC]), 0);
        ck_assert_int_eq(st, 1); /* the exit status comes from the kernel, not the record */
        char buf[64];
        size_t len = 12345;
        ck_assert_weft(weft_process_result(p, buf, sizeof buf, &len), WEFT_ENOMEM);
        ck_assert_uint_eq(len, 12345);
        ck_assert_weft(weft_process_free(p), 0);
        close(sp[0]);
    }
}
END_TEST

static _Noreturn int report_pid_and_wait(const void *arg, size_t size)
{
    (void)size;
    int fd = *(const int *)arg;
    pid_t me = getpid();
    if (write(fd, &me, sizeof me) != sizeof me) _exit(1);
    for (;;) pause();
}

static int idle_thread(void *arg)
{
    (void)arg;
    return 0;
}

/* A parent (forked here) starts a daemon child, then is SIGKILLed: the child must go too. */
static void daemon_dies_with_parent(int threaded)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t parent = fork();
    ck_assert_int_ge(parent, 0);
    if (parent == 0) {
        if (threaded) { /* the server is then made by executing the program */
            weft_thread t;
            if (weft_thread_start(&t, idle_thread, NULL, NULL) != 0) _exit(3);
            if (weft_thread_join(t, NULL, WEFT_FOREVER) != 0) _exit(3);
            weft_thread t2;
            if (weft_thread_start(&t2, idle_thread, NULL, NULL) != 0) _exit(3);
        }
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.daemon = 1;
        o.pass_fds = &fds[1];
        o.npass_fds = 1;
        weft_process *p;
        if (weft_process_start(&p, report_pid_and_wait, &fds[1], sizeof fds[1], &o) != 0) _exit(4);
        for (;;) pause();
    }
    close(fds[1]);
    pid_t child;
    ck_assert_int_eq(read(fds[0], &child, sizeof child), (ssize_t)sizeof child);
    int cfd = (int)syscall(SYS_pidfd_open, child, 0);
    ck_assert_int_ge(cfd, 0);
    ck_assert_int_eq(kill(parent, SIGKILL), 0);
    ck_assert_int_eq(waitpid(parent, NULL, 0), parent);
    struct pollfd pf = {.fd = cfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pf, 1, 20000), 1); /* gone (within the test's time limit) */
    close(cfd);
    close(fds[0]);
}

START_TEST(process_daemon_child_dies_with_a_sigkilled_parent)
{
    daemon_dies_with_parent(0);
    daemon_dies_with_parent(1);
}
END_TEST

/* A daemon child that writes its pid, then echoes every byte on its socket. */
static _Noreturn int echo(const void *arg, size_t size)
{
    (void)size;
    int fd = *(const int *)arg;
    pid_t me = getpid();
    if (write(fd, &me, sizeof me) != sizeof me) _exit(1);
    char c;
    while (read(fd, &c, 1) == 1)
        if (write(fd, &c, 1) != 1) _exit(1);
    _exit(0);
}

struct short_lived {
    int method, fd;
    pid_t tid;
};

static int start_daemon_and_leave(void *arg)
{
    struct short_lived *a = arg;
    a->tid = gettid();
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.daemon = 1;
    o.method = a->method;
    o.pass_fds = &a->fd;
    o.npass_fds = 1;
    weft_process *p;
    if (weft_process_start(&p, echo, &a->fd, sizeof a->fd, &o) != 0) return 1;
    return weft_process_detach(p);
}

/* The parent (forked here) starts a daemon child from a thread that then ends; the child lives
 * on (PR_SET_PDEATHSIG fires at its creating thread's exit) until the parent is SIGKILLed. */
static void daemon_outlives_its_thread(int method)
{
    int sp[2], told[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    ck_assert_int_eq(pipe(told), 0);
    pid_t parent = fork();
    ck_assert_int_ge(parent, 0);
    if (parent == 0) {
        struct short_lived a = {method, sp[1], 0};
        weft_thread t;
        int st = 1;
        if (weft_thread_start(&t, start_daemon_and_leave, &a, NULL) != 0) _exit(3);
        if (weft_thread_join(t, &st, WEFT_FOREVER) != 0 || st != 0) _exit(4);
        close(sp[1]); /* the child's copy is the only one left */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d", (int)a.tid);
        while (access(path, F_OK) == 0) usleep(1000); /* gone for good: its exit is complete */
        if (write(told[1], "j", 1) != 1) _exit(5);
        for (;;) pause();
    }
    close(sp[1]);
    close(told[1]);
    pid_t child;
    char c;
    ck_assert_int_eq(read(sp[0], &child, sizeof child), (ssize_t)sizeof child);
    ck_assert_int_eq(read(told[0], &c, 1), 1);
    ck_assert_int_eq(write(sp[0], "x", 1), 1);
    struct pollfd pf = {.fd = sp[0], .events = POLLIN};
    ck_assert_int_eq(poll(&pf, 1, 20000), 1);
    ck_assert_int_eq(read(sp[0], &c, 1), 1); /* it answers: alive after its thread's exit */
    ck_assert_int_eq(c, 'x');
    int cfd = (int)syscall(SYS_pidfd_open, child, 0);
    ck_assert_int_ge(cfd, 0);
    ck_assert_int_eq(kill(parent, SIGKILL), 0);
    ck_assert_int_eq(waitpid(parent, NULL, 0), parent);
    pf.fd = cfd;
    ck_assert_int_eq(poll(&pf, 1, 20000), 1); /* gone with its parent */
    close(cfd);
    close(sp[0]);
    close(told[0]);
}

START_TEST(process_daemon_child_outlives_its_starting_thread)
{
    for (int m = 0; m < 3; m++) daemon_outlives_its_thread(methods[m]);
}
END_TEST

static int read_go_then_set_result(void *arg)
{
    char c;
    if (read(*(int *)arg, &c, 1) != 1) return 1;
    return weft_process_set_result("T", 1);
}

static int wait_forever_thread(void *arg)
{
    (void)arg;
    weft_event never = WEFT_EVENT_INIT;
    weft_event_wait(&never, WEFT_FOREVER);
    return 0;
}

/* Starts a non-daemon thread that waits for the parent's go and a daemon one, then returns. */
static int leave_threads_behind(const void *arg, size_t size)
{
    (void)size;
    static int fd;
    fd = *(const int *)arg;
    weft_thread t, d;
    weft_thread_opts dopt = WEFT_THREAD_OPTS_INIT;
    dopt.daemon = 1;
    if (weft_thread_start(&t, read_go_then_set_result, &fd, NULL) != 0) return 2;
    if (weft_thread_start(&d, wait_forever_thread, NULL, &dopt) != 0) return 3;
    weft_thread_detach(t);
    weft_thread_detach(d);
    return write(fd, "r", 1) == 1 ? 0 : 4;
}

START_TEST(process_child_waits_for_its_non_daemon_threads)
{
    for (int m = 0; m < methods_for_threads(); m++) {
        int sp[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[m];
        o.pass_fds = &sp[1];
        o.npass_fds = 1;
        weft_process *p;
        ck_assert_weft(weft_process_start(&p, leave_threads_behind, &sp[1], sizeof sp[1], &o), 0);
        close(sp[1]);
        char c;
        ck_assert_int_eq(read(sp[0], &c, 1), 1); /* fn has returned */
        ck_assert_weft(weft_process_join(p, NULL, WEFT_MS(200)), WEFT_ETIMEDOUT);
        ck_assert_int_eq(write(sp[0], "g", 1), 1);
        int st;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
        char buf[4];
        size_t len = 0;
        ck_assert_weft(weft_process_result(p, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 1); /* set by the thread, after fn returned */
        ck_assert_int_eq(buf[0], 'T');
        weft_process_free(p);
        close(sp[0]);
    }
}
END_TEST

static int wait_for_go(const void *arg, size_t size)
{
    (void)size;
    int fd = *(const int *)arg;
    char c;
    return read(fd, &c, 1) == 1 ? 0 : 1;
}

START_TEST(process_exit_waits_for_non_daemon_children)
{
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t parent = fork();
    ck_assert_int_ge(parent, 0);
    if (parent == 0) {
        close(go[1]);
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.pass_fds = &go[0];
        o.npass_fds = 1;
        weft_process *p;
        if (weft_process_start(&p, wait_for_go, &go[0], sizeof go[0], &o) != 0) _exit(4);
        weft_process_detach(p);
        exit(0); /* like returning from main */
    }
    close(go[0]);
    int pfd = (int)syscall(SYS_pidfd_open, parent, 0);
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pf, 1, 200), 0); /* still waiting for its child */
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    int st;
    ck_assert_int_eq(waitpid(parent, &st, 0), parent);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(pfd);
    close(go[1]);
}
END_TEST

/* Zombies among this process's children, from /proc. */
static int zombie_children(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        char *s = strrchr(buf, ')'), state;
        int ppid;
        if (s && sscanf(s + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() && state == 'Z')
            n++;
    }
    closedir(d);
    return n;
}

START_TEST(process_no_zombie_is_left)
{
    int v = 0;
    for (int m = 0; m < 3; m++) {
        for (int i = 0; i < 5; i++) run(ret_arg, &v, sizeof v, methods[m]);
        weft_process *p = start(ret_arg, &v, sizeof v, methods[m]);
        ck_assert_weft(weft_process_detach(p), 0); /* the watcher reaps it */
    }
    while (weft_process_count() > 0) usleep(1000);
    ck_assert_int_eq(zombie_children(), 0);
}
END_TEST

/* The child's count of open descriptors above 2, each checked against pass. */
static int count_fds(const void *arg, size_t size)
{
    int want = size ? *(const int *)arg : -1, n = 0, seen = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d)) continue;
        n++;
        seen |= fd == want;
    }
    closedir(d);
    return n * 10 + seen;
}

START_TEST(process_child_gets_no_leaked_descriptor)
{
    int leak[2];
    ck_assert_int_eq(pipe(leak), 0); /* not close-on-exec: a plain fork would leak it */
    for (int m = 0; m < 3; m++) {
        ck_assert_int_eq(run(count_fds, NULL, 0, methods[m]), 10); /* the result socket */
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[m];
        o.pass_fds = &leak[1];
        o.npass_fds = 1;
        weft_process *p;
        ck_assert_weft(weft_process_start(&p, count_fds, &leak[1], sizeof leak[1], &o), 0);
        int st;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 21);
        weft_process_free(p);
    }
    close(leak[0]);
    close(leak[1]);
}
END_TEST

static int wait_cancelled(const void *arg, size_t size)
{
    (void)size;
    if (write(*(const int *)arg, "r", 1) != 1) return 1; /* SIGINT is caught by now */
    weft_event never = WEFT_EVENT_INIT;
    return weft_event_wait(&never, WEFT_FOREVER) == WEFT_ECANCELED ? 7 : 1;
}

START_TEST(process_ctrl_c_cancels_the_childs_root_scope)
{
    ck_assert_weft(weft_signals_catch(NULL), 0); /* blocks SIGINT here: children catch it */
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    for (int m = 0; m < methods_for_threads(); m++) { /* the child catches SIGINT: a thread */
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[m];
        o.pass_fds = &ready[1];
        o.npass_fds = 1;
        weft_process *p;
        ck_assert_weft(weft_process_start(&p, wait_cancelled, &ready[1], sizeof ready[1], &o), 0);
        char c;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        ck_assert_weft(weft_process_signal(p, SIGINT), 0);
        int st;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 7);
        weft_process_free(p);
    }
}
END_TEST

/* 0 when every signal is at its default action and none is blocked, and the child can then
 * catch SIGINT itself; another value says what was wrong. */
static int check_clean_signals(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    sigset_t cur;
    if (sigprocmask(SIG_BLOCK, NULL, &cur) != 0) return 10;
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &sa) != 0) continue;
        if (sa.sa_handler != SIG_DFL) return 100 + s;
        if (sigismember(&cur, s) == 1) return 200 + s > 255 ? 11 : 200 + s;
    }
    if (weft_signals_catch(NULL) != 0) return 12;
    if (kill(getpid(), SIGINT) != 0) return 13;
    weft_event never = WEFT_EVENT_INIT;
    return weft_event_wait(&never, WEFT_FOREVER) == WEFT_ECANCELED ? 0 : 14;
}

static void on_usr1(int s)
{
    (void)s;
}

START_TEST(process_child_starts_with_default_signals)
{
    ck_assert_weft(weft_signals_catch(NULL), 0); /* the parent's own catch, copied by fork */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    sa.sa_handler = SIG_IGN;
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);
    ck_assert_int_eq(sigaction(SIGHUP, &sa, NULL), 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT); /* a starter that does not block SIGINT: no catch is set up */
    sigaddset(&set, SIGTERM);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    for (int m = 0; m < methods_for_threads(); m++)
        ck_assert_int_eq(run(check_clean_signals, NULL, 0, methods[m]), 0);
}
END_TEST

/* 8 threads take locks, malloc and run a pool while the main thread starts processes. */
static _Atomic int stop_busy;
static weft_lock busy_lock = WEFT_LOCK_INIT;

static int pool_task(void *arg, void **result)
{
    (void)arg;
    *result = malloc(64);
    free(*result);
    *result = NULL;
    return 0;
}

static int busy(void *arg)
{
    weft_pool *pool = arg;
    while (!atomic_load(&stop_busy)) {
        if (weft_lock_acquire(&busy_lock, WEFT_FOREVER) != 0) return 1;
        void *m = malloc(100 + (size_t)(rand() % 4000));
        weft_lock_release(&busy_lock);
        free(m);
        if (weft_pool_submit(pool, pool_task, NULL, NULL, WEFT_FOREVER) != 0) return 1;
        printf("%s", ""); /* stdio's lock too */
    }
    return 0;
}

static int empty(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    void *m = malloc(1000);
    free(m);
    return 0;
}

START_TEST(process_starts_from_a_busy_threaded_parent_never_hang)
{
    weft_pool *pool;
    ck_assert_weft(weft_pool_new(&pool, NULL), 0);
    weft_thread t[8];
    for (int i = 0; i < 8; i++) ck_assert_weft(weft_thread_start(&t[i], busy, pool, NULL), 0);
    long n = weft_test_scale(2000);
    for (long i = 0; i < n; i++) ck_assert_int_eq(run(empty, NULL, 0, WEFT_PROCESS_FORKSERVER), 0);
    atomic_store(&stop_busy, 1);
    for (int i = 0; i < 8; i++) ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_pool_shutdown(pool, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(pool);
}
END_TEST

/* Several threads start and join children at once, by every method. */
static int start_many(void *arg)
{
    int m = *(int *)arg, v = 5;
    for (long i = 0; i < weft_test_scale(20); i++) {
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[(m + i) % 3];
        weft_process *p;
        int st = -1;
        if (weft_process_start(&p, ret_arg, &v, sizeof v, &o) != 0) return 1;
        if (weft_process_join(p, &st, WEFT_FOREVER) != 0 || st != 5) return 2;
        if (weft_process_free(p) != 0) return 3;
    }
    return 0;
}

START_TEST(process_starts_from_several_threads_at_once)
{
    weft_thread t[4];
    int m[4] = {0, 1, 2, 0};
    for (int i = 0; i < 4; i++)
        ck_assert_weft(weft_thread_start(&t[i], start_many, &m[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        int st;
        ck_assert_weft(weft_thread_join(t[i], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
    }
    ck_assert_uint_eq(weft_process_count(), 0);
}
END_TEST

START_TEST(process_bad_input_is_an_error)
{
    weft_process *p = NULL;
    int v = 0, bad = 1000, many[WEFT_PROCESS_FDS_MAX + 1] = {0};
    char name[WEFT_PROCESS_NAME_MAX + 1];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    ck_assert_weft(weft_process_start(NULL, ret_arg, &v, sizeof v, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_start(&p, NULL, &v, sizeof v, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_start(&p, ret_arg, NULL, 4, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, WEFT_PROCESS_ARG_MAX + 1, NULL),
                   WEFT_EINVAL);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "argument"));
    o.method = 7;
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, sizeof v, &o), WEFT_EINVAL);
    o.method = 0;
    o.name = name;
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, sizeof v, &o), WEFT_EINVAL);
    o.name = NULL;
    o.pass_fds = &bad;
    o.npass_fds = 1;
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, sizeof v, &o), WEFT_EINVAL);
    o.pass_fds = many;
    o.npass_fds = WEFT_PROCESS_FDS_MAX + 1;
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, sizeof v, &o), WEFT_EINVAL);
    ck_assert_weft(weft_process_start(&p, (weft_process_fn)(uintptr_t)&v, NULL, 0, NULL),
                   WEFT_EINVAL); /* not code */
    ck_assert_ptr_null(p);
    ck_assert_weft(weft_process_join(NULL, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_process_exitcode(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_free(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_kill(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_is_alive(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_pid(NULL), WEFT_EINVAL);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "NULL handle"));
    ck_assert_weft(weft_process_fd(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_is_daemon(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_detach(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_process_result(NULL, NULL, 0, NULL), WEFT_EINVAL);
    ck_assert_str_eq(weft_process_name(NULL), "");
    o = (weft_process_opts)WEFT_PROCESS_OPTS_INIT;
    o.kill_grace = -1;
    ck_assert_weft(weft_process_start(&p, ret_arg, &v, sizeof v, &o), WEFT_EINVAL);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "kill_grace"));
    ck_assert_weft(weft_process_set_result("x", 1), WEFT_ESTATE);
    p = start(ret_arg, &v, sizeof v, WEFT_PROCESS_FORKSERVER);
    ck_assert_weft(weft_process_join(p, NULL, -1), WEFT_EINVAL);
    ck_assert_weft(weft_process_signal(p, 0), WEFT_EINVAL);
    ck_assert_weft(weft_process_join(p, NULL, WEFT_FOREVER), 0);
    weft_process_free(p);
}
END_TEST

static atomic_int sigchld_seen;

/* This process's threads (entries of /proc/self/task). */
static int task_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void on_sigchld(int s)
{
    (void)s;
    atomic_fetch_add_explicit(&sigchld_seen, 1, memory_order_relaxed);
}

/* The children of a fork server forked from the parent (the first start here, while this
 * process has one thread; a sanitizer runtime's own thread makes the server an executed one,
 * whose children end with SIGCHLD: then there is nothing to check) end with no exit signal:
 * a SIGCHLD handler of the program is not run for them (no thread of the parent is
 * interrupted by another child's exit), and neither SIGCHLD set to SIG_IGN (which makes the
 * kernel reap children itself) nor the program's own waitpid(-1) can take their status from
 * weft. */
START_TEST(process_children_send_no_sigchld_and_keep_their_status)
{
    if (task_count() != 1) return; /* a sanitizer's thread: the server is executed (see above) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART;
    ck_assert_int_eq(sigaction(SIGCHLD, &sa, NULL), 0);
    int v = 5, sig = SIGKILL, st = 0;
    for (int i = 0; i < 5; i++) ck_assert_int_eq(run(ret_arg, &v, sizeof v, 0), 5);
    weft_process *p = start(die_by, &sig, sizeof sig, WEFT_PROCESS_FORKSERVER);
    wait_ended(p);
    ck_assert_int_ne(waitpid(-1, &st, WNOHANG), weft_process_pid(p));
    ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
    ck_assert_int_eq(st, -SIGKILL);
    weft_process_free(p);
    ck_assert_int_eq(atomic_load(&sigchld_seen), 0);
    signal(SIGCHLD, SIG_IGN);
    ck_assert_int_eq(run(die_by, &sig, sizeof sig, WEFT_PROCESS_FORKSERVER), -SIGKILL);
    signal(SIGCHLD, SIG_DFL);
}
END_TEST

/* Send raw bytes to a fresh fork server; return the code of its answer. */
static int server_answer(int sock, const void *buf, size_t len)
{
    ck_assert_int_eq(send(sock, buf, len, 0), (ssize_t)len);
    struct weft__prep rep;
    ck_assert_int_eq(recv(sock, &rep, sizeof rep, 0), (ssize_t)sizeof rep);
    return rep.code;
}

START_TEST(process_fork_server_refuses_malformed_requests)
{
    for (int by_exec = 0; by_exec < 2; by_exec++) {
        int sock, pidfd;
        ck_assert_weft(weft__server_start(by_exec, &sock, &pidfd), 0);
        static char big[WEFT__PREQ_MAX + 100];
        struct weft__preq r;
        memset(&r, 0, sizeof r);
        ck_assert_int_eq(server_answer(sock, "hi", 2), WEFT_EINVAL);
        ck_assert_int_eq(server_answer(sock, &r, sizeof r), WEFT_EINVAL); /* bad magic */
        r.magic = WEFT__PROC_MAGIC;
        r.version = WEFT__PROC_VERSION;
        r.arg_size = WEFT_PROCESS_ARG_MAX + 1;
        ck_assert_int_eq(server_answer(sock, &r, sizeof r), WEFT_EINVAL); /* too big */
        r.arg_size = 0;
        r.fn_offset = ~0ull; /* not code: also no descriptors sent */
        memcpy(big, &r, sizeof r);
        ck_assert_int_eq(server_answer(sock, big, WEFT__PREQ_ARG_OFF(0)), WEFT_EINVAL);
        ck_assert_int_eq(server_answer(sock, big, sizeof big), WEFT_EINVAL); /* oversized */
        close(sock);
        siginfo_t si;
        ck_assert_int_eq(waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL), 0);
        ck_assert_int_eq(si.si_status, 0); /* it left at EOF */
        close(pidfd);
    }
}
END_TEST

WEFT_TEST_SUITE(
    "process", 60, process_exitcode_is_the_functions_status,
    process_killed_by_signal_is_reported_by_name, process_terminate_and_kill,
    process_join_times_out_and_the_fd_is_a_sentinel, process_join_is_cancellable,
    process_several_joiners_see_the_same_end, process_failing_child_message_reaches_the_joiner,
    process_daemon_child_dies_with_a_sigkilled_parent,
    process_daemon_child_outlives_its_starting_thread,
    process_child_waits_for_its_non_daemon_threads, process_child_starts_with_default_signals,
    process_terminate_on_cancel_follows_the_starters_scope, process_terminate_on_cancel_on_ctrl_c,
    process_exit_waits_for_non_daemon_children, process_no_zombie_is_left,
    process_child_gets_no_leaked_descriptor, process_ctrl_c_cancels_the_childs_root_scope,
    process_starts_from_a_busy_threaded_parent_never_hang,
    process_starts_from_several_threads_at_once, process_bad_input_is_an_error,
    process_children_send_no_sigchld_and_keep_their_status,
    process_fork_server_refuses_malformed_requests, process_result_lost_to_no_memory_is_an_error)
