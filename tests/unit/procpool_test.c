/* tests/unit/procpool_test.c - the process pool: only the task whose worker died fails (a
 * segfault, exit(3), abort, a hang past its timeout, running out of memory), with the right
 * code and a message naming worker, pid, signal or status and task; the pool serves on;
 * crashes among many good tasks; restart intensity breaks the pool; shutdown with a hung
 * worker; cancel of a running task; map; the root scope's cancel (Ctrl-C) stops the pool;
 * retirement (max_tasks_per_child, max_memory); retries; a worker that lies; bad input;
 * answers of the largest size through the answer ring, and a worker without a ring. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <weft/procpool.h>

#include "core/internal.h"
#include "procpool/ring.h"
#include "test.h"

enum { M_SEGV, M_EXIT3, M_ABORT, M_HANG, M_ENOMEM, M_SIGKILL, M_LIE, M_RING_TAIL, M_RING_LEN };

struct job {
    int i, bad, mode;
};

static int square(const void *arg, size_t size)
{
    int v;
    if (size != sizeof v) return weft_error_set(WEFT_EINVAL, "size %zu", size);
    memcpy(&v, arg, sizeof v);
    int r = v * v;
    return weft_process_set_result(&r, sizeof r);
}

/* Send a record that is not an answer on the worker's socket (found by its type). */
/* Send rec on the worker's socket (found among its descriptors). */
static void to_parent(const void *rec, size_t len)
{
    for (int fd = 3; fd < 256; fd++) {
        int type;
        socklen_t tl = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_SEQPACKET)
            (void)!send(fd, rec, len, MSG_NOSIGNAL);
    }
}

static void lie(void)
{
    char junk[40];
    memset(junk, 0x5a, sizeof junk);
    to_parent(junk, sizeof junk);
}

/* The worker's answer ring, found in its mappings (a task has no other way to it). */
static struct pp_ring *my_ring(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long start = 0;
    while (f && !start && fgets(line, sizeof line, f))
        if (strstr(line, "weft-procpool-ring")) sscanf(line, "%lx-", &start);
    if (f) fclose(f);
    return (struct pp_ring *)start;
}

/* Damage the ring as a wild write in a task could: a tail far out of range, or a record
 * whose length is beyond any limit. */
static void scribble(int mode)
{
    struct pp_ring *r = my_ring();
    if (r == NULL) return;
    uint32_t t = atomic_load(&r->tail);
    if (mode == M_RING_TAIL) {
        atomic_store(&r->tail, t + 0x40000000u);
        return;
    }
    uint32_t bad = 0xfffffff0u;
    memcpy(r->data + t % PP_RING_BYTES, &bad, sizeof bad);
    atomic_store(&r->tail, t + 16);
}

/* Damage the ring, then ring the doorbell as a worker does (else a sleeping manager would
 * see it only when the task's timeout came, and these tasks have none). */
static void scribble_and_ring(int mode)
{
    scribble(mode);
    struct pp_hdr bell = {PP_MAGIC, PP_DOORBELL, 0, PP_ALIGN(sizeof bell), 0};
    to_parent(&bell, sizeof bell);
}

static int misbehave(const void *arg, size_t size)
{
    struct job j;
    if (size != sizeof j) return weft_error_set(WEFT_EINVAL, "size %zu", size);
    memcpy(&j, arg, sizeof j);
    if (j.i == j.bad) {
        switch (j.mode) {
        case M_SEGV:
            raise(SIGSEGV);
            break;
        case M_EXIT3:
            exit(3);
        case M_ABORT:
            abort();
        case M_HANG:
            for (;;) pause();
        case M_ENOMEM:
            for (int k = 0; k < 4096; k++) {
                char *m = malloc((size_t)16 << 20);
                if (m == NULL) return weft_error_set(WEFT_ENOMEM, "block %d of 16 MiB failed", k);
                memset(m, 1, (size_t)16 << 20);
            }
            return 0;
        case M_SIGKILL: /* what the kernel's OOM killer does */
            raise(SIGKILL);
            break;
        case M_LIE:
            lie();
            for (;;) pause();
        case M_RING_TAIL:
        case M_RING_LEN:
            scribble_and_ring(j.mode);
            for (;;) pause();
        }
    }
    int r = j.i * 10;
    return weft_process_set_result(&r, sizeof r);
}

static weft_procpool *make(int workers, weft_procpool_opts *o)
{
    weft_procpool_opts d = WEFT_PROCPOOL_OPTS_INIT;
    if (o == NULL) o = &d;
    o->workers = workers;
    weft_procpool *p = NULL;
    ck_assert_weft(weft_procpool_new(&p, o), 0);
    return p;
}

static void check_serves(weft_procpool *p, int v)
{
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, square, &v, sizeof v, NULL), 0);
    const void *data;
    size_t len;
    ck_assert_weft(weft_future_bytes(f, &data, &len, WEFT_FOREVER), 0);
    ck_assert_uint_eq(len, sizeof(int));
    ck_assert_int_eq(*(const int *)data, v * v);
    weft_future_unref(f);
}

/* 2 workers, 10 tasks, task 4 (index 3) misbehaves: 9 succeed, it fails with want and a
 * message containing each of the words. */
static void ten(int mode, int want, const char *w1, const char *w2, weft_procpool_opts *o)
{
    weft_procpool *p = make(2, o);
    weft_future *f[10];
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    for (int i = 0; i < 10; i++) {
        struct job j = {i, 3, mode};
        to.timeout = mode == M_HANG ? WEFT_MS(200) : 0;
        ck_assert_weft(weft_procpool_submit(p, &f[i], misbehave, &j, sizeof j, &to), 0);
    }
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        const void *data;
        size_t len;
        int rc = weft_future_bytes(f[i], &data, &len, WEFT_FOREVER);
        if (i == 3) {
            ck_assert_weft(rc, want);
            const char *m = weft_error_message();
            ck_assert_msg(strstr(m, w1) && strstr(m, w2), "message: %s", m);
            if (want == WEFT_EDIED) {
                ck_assert_msg(strstr(m, "task 4") && strstr(m, "pid "), "message: %s", m);
            }
        } else {
            ck_assert_weft(rc, 0);
            ck_assert_int_eq(*(const int *)data, i * 10);
            ok++;
        }
        weft_future_unref(f[i]);
    }
    ck_assert_int_eq(ok, 9);
    check_serves(p, 7);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.completed, 10);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_int_eq(st.workers, 2);
    ck_assert_int_eq(st.broken, 0);
    ck_assert_weft(weft_procpool_free(p), 0);
}

START_TEST(procpool_segfault_fails_only_its_task)
{
    ten(M_SEGV, WEFT_EDIED, "killed by SIGSEGV (Segmentation fault)", "while running task 4", NULL);
}
END_TEST

START_TEST(procpool_exit3_fails_only_its_task)
{
    ten(M_EXIT3, WEFT_EDIED, "exited with status 3", "worker ", NULL);
}
END_TEST

START_TEST(procpool_abort_fails_only_its_task)
{
    ten(M_ABORT, WEFT_EDIED, "killed by SIGABRT", "while running task 4", NULL);
}
END_TEST

START_TEST(procpool_hang_past_timeout_fails_only_its_task)
{
    ten(M_HANG, WEFT_ETIMEDOUT, "task 4 timed out after 200 ms", "SIGTERM", NULL);
}
END_TEST

START_TEST(procpool_out_of_memory_fails_only_its_task)
{
    /* RLIMIT_AS cannot hold a sanitizer's shadow memory: there the OOM killer's SIGKILL. */
    if (weft_test_sanitized()) {
        ten(M_SIGKILL, WEFT_EDIED, "killed by SIGKILL", "out of memory?", NULL);
        return;
    }
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.memory_limit = (size_t)256 << 20;
    ten(M_ENOMEM, WEFT_ENOMEM, "block ", "of 16 MiB failed", &o);
    ten(M_SIGKILL, WEFT_EDIED, "killed by SIGKILL", "out of memory?", NULL);
}
END_TEST

START_TEST(procpool_lying_worker_fails_its_task_not_the_parent)
{
    ten(M_LIE, WEFT_EDIED, "malformed answer", "task 4", NULL);
    ten(M_RING_TAIL, WEFT_EDIED, "malformed answer", "answer ring", NULL);
    ten(M_RING_LEN, WEFT_EDIED, "malformed answer", "answer ring", NULL);
}
END_TEST

START_TEST(procpool_crashes_among_many_good_tasks)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.max_restarts = -1;
    weft_procpool *p = make(2, &o);
    long good = weft_test_scale(10000), bad = weft_test_scale(100);
    long n = good + bad, every = n / bad;
    weft_future **f = calloc((size_t)n, sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (long i = 0; i < n; i++) {
        struct job j = {(int)i, i % every == every - 1 ? (int)i : -1, M_SEGV};
        ck_assert_weft(weft_procpool_submit(p, &f[i], misbehave, &j, sizeof j, NULL), 0);
    }
    long ok = 0, died = 0;
    for (long i = 0; i < n; i++) {
        const void *data;
        size_t len;
        int rc = weft_future_bytes(f[i], &data, &len, WEFT_FOREVER);
        if (i % every == every - 1) {
            ck_assert_weft(rc, WEFT_EDIED);
            died++;
        } else {
            ck_assert_weft(rc, 0);
            ck_assert_int_eq(*(const int *)data, (int)i * 10);
            ok++;
        }
        weft_future_unref(f[i]);
    }
    ck_assert_int_eq(died, n / every);
    ck_assert_int_eq(ok, n - n / every);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.workers_died, (uint64_t)died);
    free(f);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_crash_loop_breaks_the_pool)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.restart_period = WEFT_SEC(600); /* the mechanism, not the clock */
    weft_procpool *p = make(2, &o);
    enum { N = 40 };
    weft_future *f[N];
    for (int i = 0; i < N; i++) {
        struct job j = {i, i, M_SEGV};
        ck_assert_weft(weft_procpool_submit(p, &f[i], misbehave, &j, sizeof j, NULL), 0);
    }
    int died = 0, broken = 0;
    for (int i = 0; i < N; i++) {
        int rc = weft_future_result(f[i], NULL, WEFT_FOREVER);
        if (rc == WEFT_EDIED) died++;
        if (rc == WEFT_EBROKEN) {
            broken++;
            ck_assert_msg(strstr(weft_error_message(), "11 workers died within"), "%s",
                          weft_error_message());
        }
        weft_future_unref(f[i]);
    }
    ck_assert_int_ge(died, 11);
    ck_assert_int_eq(died + broken, N);
    ck_assert_int_gt(broken, 0);
    int v = 1;
    ck_assert_weft(weft_procpool_submit(p, NULL, square, &v, sizeof v, NULL), WEFT_EBROKEN);
    ck_assert_msg(strstr(weft_error_message(), "broken"), "%s", weft_error_message());
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

static _Noreturn int hang(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    for (;;) pause();
}

/* Wait until f was handed to a worker (RUNNING). */
static void until_running(weft_future *f)
{
    while (weft_future_running(f) == 0 && weft_future_done(f) == 0) weft_sleep(WEFT_MS(1));
}

START_TEST(procpool_shutdown_with_a_hung_worker_is_bounded)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.kill_grace = WEFT_MS(50);
    weft_procpool *p = make(1, &o);
    weft_future *f, *g;
    ck_assert_weft(weft_procpool_submit(p, &f, hang, NULL, 0, NULL), 0);
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    to.timeout = WEFT_MS(1); /* never sent behind the hung one */
    ck_assert_weft(weft_procpool_submit(p, &g, hang, NULL, 0, &to), 0);
    until_running(f);
    ck_assert_weft(weft_procpool_shutdown(p, 1, 1, WEFT_MS(20)), 0);
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_ECANCELED);
    ck_assert_msg(strstr(weft_error_message(), "shut down"), "%s", weft_error_message());
    ck_assert_weft(weft_future_result(g, NULL, 0), WEFT_ECANCELED);
    ck_assert_int_eq(weft_future_cancelled(g), 1);
    ck_assert_weft(weft_procpool_submit(p, NULL, hang, NULL, 0, NULL), WEFT_ECLOSED);
    weft_future_unref(f);
    weft_future_unref(g);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_cancel_of_a_running_task_ends_its_worker)
{
    weft_procpool *p = make(1, NULL);
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, hang, NULL, 0, NULL), 0);
    until_running(f);
    ck_assert_weft(weft_future_cancel(f), WEFT_EBUSY);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_msg(strstr(weft_error_message(), "task 1 was cancelled"), "%s", weft_error_message());
    check_serves(p, 5);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.workers_killed, 1);
    ck_assert_uint_eq(st.workers_started, 2);
    weft_future_unref(f);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

/* A task that waits until the file go exists (at most 30 s), and one that makes ran. */
struct marks {
    char go[64], ran[64];
};

static int wait_for_go(const void *arg, size_t size)
{
    const struct marks *m = arg;
    (void)size;
    for (int i = 0; i < 30000 && access(m->go, F_OK) != 0; i++) usleep(1000);
    return 0;
}

static int make_ran(const void *arg, size_t size)
{
    const struct marks *m = arg;
    (void)size;
    int fd = open(m->ran, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    return 0;
}

START_TEST(procpool_cancel_of_a_task_sent_ahead_keeps_it_from_running)
{
    weft_procpool *p = make(1, NULL);
    long rounds = weft_test_scale(5);
    for (long r = 0; r < rounds; r++) {
        struct marks m;
        snprintf(m.go, sizeof m.go, "/tmp/weft-pp-go-%d-%ld", (int)getpid(), r);
        snprintf(m.ran, sizeof m.ran, "/tmp/weft-pp-ran-%d-%ld", (int)getpid(), r);
        unlink(m.go);
        unlink(m.ran);
        weft_future *a, *b, *c;
        ck_assert_weft(weft_procpool_submit(p, &a, wait_for_go, &m, sizeof m, NULL), 0);
        until_running(a);
        /* b and c are sent to the busy worker behind a (the window); b is cancelled. */
        ck_assert_weft(weft_procpool_submit(p, &b, make_ran, &m, sizeof m, NULL), 0);
        ck_assert_weft(weft_procpool_submit(p, &c, square, &(int){3}, sizeof(int), NULL), 0);
        until_running(b);
        ck_assert_weft(weft_future_cancel(b), WEFT_EBUSY);
        ck_assert_weft(weft_future_result(b, NULL, WEFT_FOREVER), WEFT_ECANCELED);
        ck_assert_msg(strstr(weft_error_message(), "before it started"), "%s",
                      weft_error_message());
        int fd = open(m.go, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        const void *v;
        size_t n;
        ck_assert_weft(weft_future_bytes(c, &v, &n, WEFT_FOREVER), 0);
        ck_assert_int_eq(*(const int *)v, 9);
        ck_assert_weft(weft_future_result(a, NULL, WEFT_FOREVER), 0);
        ck_assert_weft(weft_procpool_wait_idle(p, WEFT_FOREVER), 0);
        ck_assert_msg(access(m.ran, F_OK) != 0, "the cancelled task ran");
        unlink(m.go);
        weft_future_unref(a);
        weft_future_unref(b);
        weft_future_unref(c);
    }
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.workers_started, 1); /* no worker was killed for it */
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_failed_replacement_start_is_tried_again)
{
    weft_procpool *p = make(1, NULL);
    weft__fault_arm(WEFT__FAULT_WORKER_START, 1); /* the replacement's first start fails */
    struct job j = {0, 0, M_SEGV};
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, misbehave, &j, sizeof j, NULL), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EDIED);
    weft_future_unref(f);
    check_serves(p, 5); /* served by the replacement started on the second try */
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.start_failures, 1);
    ck_assert_uint_eq(st.workers_died, 1);
    ck_assert_uint_eq(st.workers_started, 2);
    ck_assert_int_eq(st.broken, 0);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_failed_starts_count_toward_restart_intensity)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.max_restarts = 1; /* a crash and a failed start within a second: broken */
    weft_procpool *p = make(1, &o);
    weft__fault_arm(WEFT__FAULT_WORKER_START, 1);
    struct job j = {0, 0, M_SEGV};
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, misbehave, &j, sizeof j, NULL), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EDIED);
    weft_future_unref(f);
    struct weft_procpool_stats st;
    do { /* the manager breaks the pool right after it settled the crashed task */
        ck_assert_weft(weft_procpool_stats(p, &st), 0);
        if (!st.broken) weft_sleep(WEFT_MS(1));
    } while (!st.broken);
    ck_assert_uint_eq(st.start_failures, 1);
    ck_assert_weft(weft_procpool_submit(p, &f, square, &(int){2}, sizeof(int), NULL), WEFT_EBROKEN);
    ck_assert_msg(strstr(weft_error_message(), "could not be started"), "%s", weft_error_message());
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_map_collects_in_order)
{
    weft_procpool *p = make(2, NULL);
    enum { N = 300 };
    int in[N], out[N];
    for (int i = 0; i < N; i++) in[i] = i - 100;
    ck_assert_weft(
        weft_procpool_map(p, square, in, sizeof in[0], N, out, sizeof out[0], NULL, WEFT_FOREVER),
        0);
    for (int i = 0; i < N; i++) ck_assert_int_eq(out[i], in[i] * in[i]);
    /* a failing item: its index and message */
    struct job jobs[6];
    for (int i = 0; i < 6; i++) jobs[i] = (struct job){i, 2, M_EXIT3};
    int res[6];
    ck_assert_weft(weft_procpool_map(p, misbehave, jobs, sizeof jobs[0], 6, res, sizeof res[0],
                                     NULL, WEFT_FOREVER),
                   WEFT_EDIED);
    ck_assert_msg(strstr(weft_error_message(), "item 2: worker"), "%s", weft_error_message());
    ck_assert_weft(weft_procpool_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_root_scope_cancel_stops_the_pool)
{
    weft_procpool *p = make(1, NULL);
    weft_future *f, *g;
    ck_assert_weft(weft_procpool_submit(p, &f, hang, NULL, 0, NULL), 0);
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    to.timeout = WEFT_SEC(100); /* kept in the queue behind the hung one */
    ck_assert_weft(weft_procpool_submit(p, &g, hang, NULL, 0, &to), 0);
    until_running(f);
    ck_assert_weft(weft_scope_cancel(weft_scope_root(), WEFT_ECANCELED, "Ctrl-C"), 0);
    weft_shield_begin();
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_msg(strstr(weft_error_message(), "Ctrl-C"), "%s", weft_error_message());
    ck_assert_weft(weft_future_result(g, NULL, WEFT_FOREVER), WEFT_ECANCELED);
    ck_assert_int_eq(weft_future_cancelled(g), 1);
    ck_assert_weft(weft_procpool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_shield_end();
    ck_assert_weft(weft_procpool_submit(p, NULL, hang, NULL, 0, NULL), WEFT_ECLOSED);
    weft_future_unref(f);
    weft_future_unref(g);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

static int pid_of_worker(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    int pid = getpid();
    return weft_process_set_result(&pid, sizeof pid);
}

START_TEST(procpool_max_tasks_per_child_retires_workers)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.max_tasks_per_child = 1;
    weft_procpool *p = make(2, &o);
    int pids[6];
    ck_assert_weft(
        weft_procpool_map(p, pid_of_worker, NULL, 0, 6, pids, sizeof pids[0], NULL, WEFT_FOREVER),
        0);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < i; k++) ck_assert_int_ne(pids[i], pids[k]);
    ck_assert_weft(weft_procpool_wait_idle(p, WEFT_FOREVER), 0);
    check_serves(p, 3);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_ge(st.workers_started, 7);
    ck_assert_uint_eq(st.workers_died, 0);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

char *volatile procpool_test_keep; /* read by nobody: the allocation must stay */

static int grow(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    char *m = malloc((size_t)48 << 20);
    if (m) memset(m, 1, (size_t)48 << 20);
    procpool_test_keep = m;
    int pid = getpid();
    return weft_process_set_result(&pid, sizeof pid);
}

START_TEST(procpool_max_memory_retires_a_grown_worker)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.max_memory = (size_t)32 << 20;
    o.window = 1;
    weft_procpool *p = make(1, &o);
    int a, b;
    ck_assert_weft(weft_procpool_map(p, grow, NULL, 0, 1, &a, sizeof a, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(
        weft_procpool_map(p, pid_of_worker, NULL, 0, 1, &b, sizeof b, NULL, WEFT_FOREVER), 0);
    ck_assert_int_ne(a, b);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.workers_retired, 1);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_retries_are_opt_in)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.max_restarts = -1;
    weft_procpool *p = make(1, &o);
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    to.retries = 2;
    struct job j = {0, 0, M_ABORT};
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, misbehave, &j, sizeof j, &to), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EDIED);
    struct weft_procpool_stats st;
    ck_assert_weft(weft_procpool_stats(p, &st), 0);
    ck_assert_uint_eq(st.retried, 2);
    ck_assert_uint_eq(st.workers_died, 3);
    weft_future_unref(f);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

static int tell(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return weft_error_set(WEFT_ERANGE, "value %d out of range", 42);
}

START_TEST(procpool_task_failure_carries_code_and_message)
{
    weft_procpool *p = make(1, NULL);
    weft_future *f;
    ck_assert_weft(weft_procpool_submit(p, &f, tell, NULL, 0, NULL), 0);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_ERANGE);
    ck_assert_str_eq(weft_error_message(), "value 42 out of range");
    weft_future_unref(f);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

START_TEST(procpool_bad_input_is_an_error)
{
    weft_procpool *p = NULL;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    ck_assert_weft(weft_procpool_new(NULL, NULL), WEFT_EINVAL);
    o.workers = -1;
    ck_assert_weft(weft_procpool_new(&p, &o), WEFT_EINVAL);
    ck_assert_msg(strstr(weft_error_message(), "workers"), "%s", weft_error_message());
    o.workers = 1;
    o.window = WEFT_PROCPOOL_WINDOW_MAX + 1;
    ck_assert_weft(weft_procpool_new(&p, &o), WEFT_EINVAL);
    o.window = 0;
    o.kill_grace = -1;
    ck_assert_weft(weft_procpool_new(&p, &o), WEFT_EINVAL);
    o.kill_grace = 0;
    o.name = "a-name-that-is-much-longer-than-thirty-one-bytes";
    ck_assert_weft(weft_procpool_new(&p, &o), WEFT_EINVAL);
    ck_assert_ptr_null(p);
    p = make(1, NULL);
    int v = 1;
    weft_future *f = NULL;
    ck_assert_weft(weft_procpool_submit(NULL, &f, square, &v, sizeof v, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_submit(p, &f, NULL, &v, sizeof v, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_submit(p, &f, square, NULL, 4, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_submit(p, &f, square, &v, WEFT_PROCESS_ARG_MAX + 1, NULL),
                   WEFT_EINVAL);
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    to.timeout = -1;
    ck_assert_weft(weft_procpool_submit(p, &f, square, &v, sizeof v, &to), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_submit(p, &f, (weft_process_fn)(uintptr_t)16, &v, 4, NULL),
                   WEFT_EINVAL);
    ck_assert_ptr_null(f);
    ck_assert_weft(weft_procpool_wait_idle(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_wait_idle(p, -1), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_shutdown(p, 0, 0, -1), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_stats(p, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_procpool_worker_pid(p, 0), WEFT_EINVAL);
    ck_assert_int_gt(weft_procpool_worker_pid(p, 1), 0);
    ck_assert_weft(weft_procpool_map(p, square, NULL, 4, 3, NULL, 0, NULL, WEFT_FOREVER),
                   WEFT_EINVAL);
    ck_assert_weft(weft_procpool_free(p), 0);
    ck_assert_weft(weft_procpool_free(NULL), 0);
}
END_TEST

/* Appends a line to the file named by arg, after 20 ms (still queued when main returns). */
static int append_line(const void *arg, size_t size)
{
    char path[128];
    if (size == 0 || size > sizeof path) return weft_error_set(WEFT_EINVAL, "bad path");
    memcpy(path, arg, size);
    weft_sleep(WEFT_MS(20));
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) return weft_error_set(WEFT_EFAILED, "open failed");
    (void)!write(fd, "x\n", 2);
    close(fd);
    return 0;
}

START_TEST(procpool_left_open_at_exit_runs_its_queue)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/weft-procpool-exit-%d", (int)getpid());
    unlink(path);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) { /* a program that returns from main with its pool open */
        weft_procpool *p;
        if (weft_procpool_new(&p, NULL) != 0) _exit(90);
        for (int i = 0; i < 6; i++)
            if (weft_procpool_submit(p, NULL, append_line, path, strlen(path) + 1, NULL) != 0)
                _exit(91);
        exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    ck_assert_int_eq((int)n, 12); /* all six tasks ran before the program ended */
}
END_TEST

START_TEST(procpool_shutdown_runs_the_queue_past_a_crash)
{
    weft_procpool *p = make(1, NULL);
    weft_future *f[6];
    for (int i = 0; i < 6; i++) {
        struct job j = {i, 1, M_SEGV};
        ck_assert_weft(weft_procpool_submit(p, &f[i], misbehave, &j, sizeof j, NULL), 0);
    }
    ck_assert_weft(weft_procpool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_weft(weft_future_result(f[i], NULL, 0), i == 1 ? WEFT_EDIED : 0);
        weft_future_unref(f[i]);
    }
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

/* Every start method the workers may use runs the same functions (the spawn method executes
 * the program again, with its own load addresses: functions travel as object and offset). */
START_TEST(procpool_workers_by_each_start_method)
{
    int methods[3] = {WEFT_PROCESS_FORKSERVER, WEFT_PROCESS_SPAWN, WEFT_PROCESS_FORK};
    /* ThreadSanitizer and fork() in a threaded parent: see process_test.c */
    int n = weft_test_tsan() ? 2 : 3;
    for (int m = 0; m < n; m++) {
        weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
        o.method = methods[m];
        weft_procpool *p = make(2, &o);
        int in[40], out[40];
        for (int i = 0; i < 40; i++) in[i] = i;
        ck_assert_weft(weft_procpool_map(p, square, in, sizeof in[0], 40, out, sizeof out[0], NULL,
                                         WEFT_FOREVER),
                       0);
        for (int i = 0; i < 40; i++) ck_assert_int_eq(out[i], i * i);
        struct job j = {0, 0, M_SEGV};
        weft_future *f;
        ck_assert_weft(weft_procpool_submit(p, &f, misbehave, &j, sizeof j, NULL), 0);
        ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), WEFT_EDIED);
        ck_assert_msg(strstr(weft_error_message(), "SIGSEGV"), "%s", weft_error_message());
        weft_future_unref(f);
        check_serves(p, 9);
        ck_assert_weft(weft_procpool_free(p), 0);
    }
}
END_TEST

/* How many answer rings the calling worker has mapped (/proc/self/maps names the memfd). */
static int rings_mapped(const void *arg, size_t size)
{
    (void)arg, (void)size;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) return weft_error_set(WEFT_EINVAL, "no /proc/self/maps");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "weft-procpool-ring")) n++;
    fclose(f);
    return weft_process_set_result(&n, sizeof n);
}

/* A worker forked from the parent (WEFT_PROCESS_FORK) maps its own answer ring and no other
 * worker's: a stray write in one task cannot touch another worker's answers. */
START_TEST(procpool_forked_workers_map_only_their_own_ring)
{
    if (weft_test_tsan()) return; /* fork() in a threaded parent: see process_test.c */
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.method = WEFT_PROCESS_FORK;
    weft_procpool *p = make(2, &o);
    int in[40], out[40];
    ck_assert_weft(weft_procpool_map(p, rings_mapped, in, sizeof in[0], 40, out, sizeof out[0],
                                     NULL, WEFT_FOREVER),
                   0);
    for (int i = 0; i < 40; i++) ck_assert_int_eq(out[i], 1);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

/* A result of WEFT_PROCESS_RESULT_MAX bytes, each byte from the argument and its place. */
static int big(const void *arg, size_t size)
{
    static unsigned char r[WEFT_PROCESS_RESULT_MAX];
    int v;
    if (size != sizeof v) return weft_error_set(WEFT_EINVAL, "size %zu", size);
    memcpy(&v, arg, sizeof v);
    for (size_t k = 0; k < sizeof r; k++) r[k] = (unsigned char)(v * 31 + (int)k);
    return weft_process_set_result(r, sizeof r);
}

/* Answers larger than a quarter of the ring (ring.h), many sent ahead: the ring wraps and
 * the worker waits for room; every answer arrives whole and in its place. */
START_TEST(procpool_largest_answers_through_the_ring)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.window = WEFT_PROCPOOL_WINDOW_MAX;
    weft_procpool *p = make(1, &o);
    enum { N = 300 };
    weft_future **f = calloc(N, sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < N; i++)
        ck_assert_weft(weft_procpool_submit(p, &f[i], big, &i, sizeof i, NULL), 0);
    for (int i = 0; i < N; i++) {
        const void *v;
        size_t n;
        ck_assert_weft(weft_future_bytes(f[i], &v, &n, WEFT_FOREVER), 0);
        ck_assert_uint_eq(n, WEFT_PROCESS_RESULT_MAX);
        const unsigned char *b = v;
        for (size_t k = 0; k < n; k += 997)
            ck_assert_uint_eq(b[k], (unsigned char)(i * 31 + (int)k));
        ck_assert_uint_eq(b[n - 1], (unsigned char)(i * 31 + (int)(n - 1)));
        weft_future_unref(f[i]);
    }
    free(f);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

/* A worker whose answer ring could not be made answers through its socket: the same
 * outcomes (the 10-task scenario with a crash, a lie), beside a worker that has one. */
START_TEST(procpool_worker_without_a_ring_answers_through_the_socket)
{
    weft__fault_arm(WEFT__FAULT_PROCPOOL_RING, 1); /* worker 1's ring */
    ten(M_SEGV, WEFT_EDIED, "killed by SIGSEGV", "task 4", NULL);
    weft__fault_arm(WEFT__FAULT_PROCPOOL_RING, 1);
    ten(M_LIE, WEFT_EDIED, "malformed answer", "task 4", NULL);
    weft__fault_arm(WEFT__FAULT_PROCPOOL_RING, 1);
    weft_procpool *p = make(1, NULL);
    int in[100], out[100];
    for (int i = 0; i < 100; i++) in[i] = i;
    ck_assert_weft(
        weft_procpool_map(p, square, in, sizeof in[0], 100, out, sizeof out[0], NULL, WEFT_FOREVER),
        0);
    for (int i = 0; i < 100; i++) ck_assert_int_eq(out[i], i * i);
    ck_assert_weft(weft_procpool_free(p), 0);
}
END_TEST

WEFT_TEST_SUITE(
    "procpool", 120, procpool_segfault_fails_only_its_task, procpool_exit3_fails_only_its_task,
    procpool_abort_fails_only_its_task, procpool_hang_past_timeout_fails_only_its_task,
    procpool_out_of_memory_fails_only_its_task, procpool_lying_worker_fails_its_task_not_the_parent,
    procpool_crashes_among_many_good_tasks, procpool_crash_loop_breaks_the_pool,
    procpool_shutdown_with_a_hung_worker_is_bounded,
    procpool_cancel_of_a_running_task_ends_its_worker,
    procpool_cancel_of_a_task_sent_ahead_keeps_it_from_running,
    procpool_failed_replacement_start_is_tried_again,
    procpool_failed_starts_count_toward_restart_intensity, procpool_map_collects_in_order,
    procpool_root_scope_cancel_stops_the_pool, procpool_max_tasks_per_child_retires_workers,
    procpool_max_memory_retires_a_grown_worker, procpool_retries_are_opt_in,
    procpool_task_failure_carries_code_and_message, procpool_bad_input_is_an_error,
    procpool_left_open_at_exit_runs_its_queue, procpool_shutdown_runs_the_queue_past_a_crash,
    procpool_workers_by_each_start_method, procpool_largest_answers_through_the_ring,
    procpool_forked_workers_map_only_their_own_ring,
    procpool_worker_without_a_ring_answers_through_the_socket)
