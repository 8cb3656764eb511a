/* musl_smoke - a little of every layer, for a libc other than glibc (CI builds it with
 * musl-gcc, statically, against a musl-built libweft.a; ctest runs it with glibc): threads and
 * their failures, a queue between threads, pool tasks and futures, child processes from the
 * fork server with exit codes, and a signal's name from weft's own table. Prints
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
    /* Not raise(): musl's raise() signals the thread id libc cached, and a child cloned by
     * the fork server still has the server's (a known limit under musl). */
    kill(getpid(), SIGKILL);
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
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT; /* abort() in a forked child (README, musl) */
    o.method = WEFT_PROCESS_FORK;
    if ((rc = weft_process_start(&p, child_aborts, NULL, 0, &o)) != 0)
        return fail("process_start fork", rc);
    if ((rc = weft_process_join(p, &status, WEFT_SEC(30))) != 0) return fail("process_join", rc);
    weft_process_free(p);
    if (status != -SIGABRT) return fail("an aborted child's status", WEFT_EFAILED);
    return 0;
}

int main(void)
{
    printf("musl-smoke: weft %s\n", weft_version_string());
    if (threads_and_queue() || pool_and_futures() || processes()) return 1;
    printf("musl-smoke: ok\n");
    return 0;
}
