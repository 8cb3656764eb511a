/* tests/unit/exit_test.c - what exit does with weft's services (src/exit.c): pools that were
 * not shut down run what was queued and are waited for (concurrent.futures at interpreter
 * exit), daemon pools are not. Each test forks a child that exits with work queued. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

static int out_fd = -1;

static int write_one(void *arg, void **result)
{
    (void)result;
    weft_sleep((weft_ns)(intptr_t)arg);
    return write(out_fd, "x", 1) == 1 ? 0 : WEFT_EFAILED;
}

/* Fork a child that submits n tasks (the first sleeps first, so that the rest wait in the
 * queue) to the default pool or to a new pool (daemon or not), then exits; return how many
 * tasks wrote before the process ended. */
static int run_child(int n, int which, weft_ns first_sleep)
{
    int fd;
    pid_t pid = weft_test_fork_piped(&fd);
    if (pid == 0) {
        out_fd = fd;
        weft_pool *p = weft_pool_default();
        weft_pool_opts o = WEFT_POOL_OPTS_INIT;
        o.max_workers = 2;
        o.daemon = which == 2;
        if (which != 0 && weft_pool_new(&p, &o) != 0) _exit(3);
        for (int i = 0; i < n; i++)
            if (weft_pool_submit(p, write_one, (void *)(intptr_t)(i ? 0 : first_sleep), NULL,
                                 WEFT_FOREVER) != 0)
                _exit(4);
        exit(0); /* like returning from main, without shutting the pool down */
    }
    char buf[256];
    ssize_t r;
    int got = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0) got += (int)r;
    close(fd);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return got;
}

START_TEST(exit_runs_what_the_default_pool_has_queued)
{
    ck_assert_int_eq(run_child(200, 0, WEFT_MS(50)), 200);
}
END_TEST

START_TEST(exit_runs_what_a_pool_not_shut_down_has_queued)
{
    ck_assert_int_eq(run_child(200, 1, WEFT_MS(50)), 200);
}
END_TEST

/* The test's time limit is the check that exit did not wait a minute. */
START_TEST(exit_does_not_wait_for_a_daemon_pool)
{
    ck_assert_int_eq(run_child(1, 2, WEFT_SEC(60)), 0);
}
END_TEST

WEFT_TEST_SUITE("exit", 30, exit_runs_what_the_default_pool_has_queued,
                exit_runs_what_a_pool_not_shut_down_has_queued,
                exit_does_not_wait_for_a_daemon_pool)
