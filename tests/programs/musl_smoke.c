/* musl_smoke - a little of every layer, for a libc other than glibc (CI builds it with
 * musl-gcc, statically, against a musl-built libweft.a; ctest runs it with glibc): threads and
 * their failures, a queue between threads, pool tasks and futures, child processes from the
 * fork server with exit codes, children that raise() and abort() (the signal must end the
 * child, not this program), and a signal's name from weft's own table. Prints
 * "musl-smoke: ok" and exits 0, or names the first thing that went wrong and exits 1. */
#define _POSIX_C_SOURCE 200809L /* kill */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

#define ITEMS 1000

static int fail(const char *what, int rc)
{
    fprintf(stderr, "musl-smoke: %s: %s (%s)\n", what, weft_strerror(rc), weft_error_message());
    return 1;
}

static int producer(void *arg)
{
    weft_queue *q = arg;
    for (intptr_t i = 1; i <= ITEMS; i++) {
        int rc = weft_queue_put(q, (void *)i, WEFT_SEC(10));
        if (rc != 0) return rc;
    }
    return weft_queue_close(q);
}

static int refuses(void *arg)
{
    (void)arg;
    return weft_error_set(WEFT_EINVAL, "refused on purpose");
}

static int square(void *arg, void **result)
{
    intptr_t x = (intptr_t)arg;
    *result = (void *)(x * x);
    return 0;
}

static int child_exits(const void *arg, size_t size)
{
    (void)size;
    return *(const int *)arg;
}

static int child_killed(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    kill(getpid(), SIGKILL);
    return 0;
}

/* raise() and abort() signal the thread id libc cached: in a child cloned by the fork server,
 * musl's must be the child's own, or the signal hits the server or this program. */
static int child_raises(const void *arg, size_t size)
{
    (void)size;
    raise(*(const int *)arg);
    return 0;
}

static int child_aborts(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    abort();
}

static int threads_and_queue(void)
{
    weft_queue *q;
    int rc = weft_queue_new(&q, NULL);
    if (rc != 0) return fail("queue_new", rc);
    weft_thread t, bad;
    if ((rc = weft_thread_start(&t, producer, q, NULL)) != 0) return fail("thread_start", rc);
    intptr_t sum = 0;
    void *item;
    while ((rc = weft_queue_get(q, &item, WEFT_SEC(10))) == 0) sum += (intptr_t)item;
    if (rc != WEFT_ECLOSED) return fail("queue_get", rc);
    int status;
    if ((rc = weft_thread_join(t, &status, WEFT_SEC(10))) != 0 || status != 0)
        return fail("join producer", rc ? rc : status);
    weft_queue_free(q);
    if (sum != (intptr_t)ITEMS * (ITEMS + 1) / 2) return fail("queue sum", WEFT_EFAILED);
    if ((rc = weft_thread_start(&bad, refuses, NULL, NULL)) != 0) return fail("thread_start", rc);
    if ((rc = weft_thread_join(bad, &status, WEFT_SEC(10))) != 0) return fail("join", rc);
    if (status != WEFT_EINVAL || strcmp(weft_error_message(), "refused on purpose") != 0)
        return fail("a thread's failure did not reach join", WEFT_EFAILED);
    return 0;
}

static int pool_and_futures(void)
{
    weft_pool *p;
    int rc = weft_pool_new(&p, NULL);
    if (rc != 0) return fail("pool_new", rc);
    weft_future *fs[100];
    for (intptr_t i = 0; i < 100; i++)
        if ((rc = weft_pool_submit(p, square, (void *)i, &fs[i], WEFT_SEC(10))) != 0)
            return fail("submit", rc);
    intptr_t sum = 0;
    for (int i = 0; i < 100; i++) {
        void *r;
        if ((rc = weft_future_result(fs[i], &r, WEFT_SEC(10))) != 0) return fail("result", rc);
        sum += (intptr_t)r;
        weft_future_unref(fs[i]);
    }
    weft_pool_free(p);
    return sum == 328350 ? 0 : fail("sum of squares", WEFT_EFAILED);
}

static int processes(void)
{
    weft_process *p;
    int code = 7, status;
    char text[96];
    int rc = weft_process_start(&p, child_exits, &code, sizeof code, NULL);
    if (rc != 0) return fail("process_start", rc);
    if ((rc = weft_process_join(p, &status, WEFT_SEC(30))) != 0) return fail("process_join", rc);
    weft_process_free(p);
    if (status != 7) return fail("exit code 7 not seen", WEFT_EFAILED);
    if ((rc = weft_process_start(&p, child_killed, NULL, 0, NULL)) != 0)
        return fail("process_start", rc);
    if ((rc = weft_process_join(p, &status, WEFT_SEC(30))) != 0) return fail("process_join", rc);
    weft_process_free(p);
    weft_process_status_text(status, text, sizeof text);
    if (status != -SIGKILL || strstr(text, "SIGKILL") == NULL)
        return fail("a killed child's status", WEFT_EFAILED);
    printf("musl-smoke: a killed child: %s\n", text);
    return 0;
}

/* Run fn(arg) in a child by method and check that signo ended it (and not this program). */
static int ends_by(int method, weft_process_fn fn, int arg, int signo)
{
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.method = method;
    weft_process *p;
    int status, rc = weft_process_start(&p, fn, &arg, sizeof arg, &o);
    if (rc != 0) return fail("process_start", rc);
    if ((rc = weft_process_join(p, &status, WEFT_SEC(30))) != 0) return fail("process_join", rc);
    weft_process_free(p);
    if (status == -signo) return 0;
    fprintf(stderr, "musl-smoke: method %d: a child ended by %d, not %d\n", method, status, -signo);
    return 1;
}

static int server_children_signal_themselves(void)
{
    /* Twice each from the server: the next start must find it alive. */
    for (int i = 0; i < 2; i++)
        if (ends_by(WEFT_PROCESS_FORKSERVER, child_aborts, 0, SIGABRT) ||
            ends_by(WEFT_PROCESS_FORKSERVER, child_raises, SIGSEGV, SIGSEGV) ||
            ends_by(WEFT_PROCESS_FORKSERVER, child_raises, SIGTERM, SIGTERM))
            return 1;
    return 0;
}

static int waits_for_close(void *arg)
{
    void *item;
    return weft_queue_get(arg, &item, WEFT_SEC(60)) == WEFT_ECLOSED ? 0 : WEFT_EFAILED;
}

/* In a child, with a second thread: its own server is executed, not cloned. */
static int child_with_thread(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    weft_queue *q;
    weft_thread t;
    int status;
    if (weft_queue_new(&q, NULL) != 0 || weft_thread_start(&t, waits_for_close, q, NULL) != 0)
        return 2;
    int bad = server_children_signal_themselves();
    weft_queue_close(q);
    if (weft_thread_join(t, &status, WEFT_SEC(30)) != 0 || status != 0) return 3;
    weft_queue_free(q);
    return bad;
}

/* First in main: the server is cloned from this program's only thread. */
static int processes_signal_themselves(void)
{
    if (server_children_signal_themselves()) return 1;
    weft_process *p;
    int status, rc = weft_process_start(&p, child_with_thread, NULL, 0, NULL);
    if (rc != 0) return fail("process_start", rc);
    if ((rc = weft_process_join(p, &status, WEFT_SEC(60))) != 0) return fail("process_join", rc);
    weft_process_free(p);
    if (status != 0) return fail("signals in a child's children (executed server)", WEFT_EFAILED);
    if (ends_by(WEFT_PROCESS_FORK, child_aborts, 0, SIGABRT) ||
        ends_by(WEFT_PROCESS_SPAWN, child_raises, SIGSEGV, SIGSEGV))
        return 1;
    printf("musl-smoke: children ended by abort() and raise()\n");
    return 0;
}

int main(void)
{
    printf("musl-smoke: weft %s\n", weft_version_string());
    if (processes_signal_themselves() || threads_and_queue() || pool_and_futures() || processes())
        return 1;
    printf("musl-smoke: ok\n");
    return 0;
}
