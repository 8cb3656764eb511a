/* examples/crash_demo.c - a process pool whose worker crashes (issue 16's scenario, beside
 * Python's ProcessPoolExecutor in docs/design/procpool.md).
 *
 * 2 workers, 10 tasks; task 4 misbehaves as the argument says, and every task's outcome is
 * printed: only task 4 fails, with what happened to its worker, and the pool goes on serving.
 *
 *     crash_demo segv|exit|abort|hang|oom
 *
 *   segv   the task writes to an address in page zero (SIGSEGV);
 *   exit   it calls exit(3);
 *   abort  it calls abort() (SIGABRT);
 *   hang   it never returns: its 200 ms timeout ends the worker;
 *   oom    it allocates 16 MiB blocks until the pool's per-worker memory limit (256 MiB,
 *          RLIMIT_AS) refuses one, and fails with WEFT_ENOMEM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

enum mode { SEGV, EXIT, ABORT, HANG, OOM };

struct job {
    int task; /* 1 ... 10 */
    int mode;
};

static int work(const void *arg, size_t size)
{
    struct job j;
    if (size != sizeof j) return weft_error_set(WEFT_EINVAL, "bad argument");
    memcpy(&j, arg, sizeof j);
    if (j.task == 4) {
        switch (j.mode) {
        case SEGV: {
            volatile uintptr_t page_zero = 16; /* unmapped: no page is mapped at 0 */
            *(volatile int *)page_zero = 1;
            break;
        }
        case EXIT:
            exit(3);
        case ABORT:
            abort();
        case HANG:
            for (;;) pause();
        case OOM:
            for (int k = 0;; k++) {
                char *m = malloc((size_t)16 << 20);
                if (m == NULL)
                    return weft_error_set(WEFT_ENOMEM, "out of memory after %d MiB", 16 * k);
                memset(m, 1, (size_t)16 << 20);
            }
        }
    }
    int r = j.task * j.task;
    return weft_process_set_result(&r, sizeof r);
}

int main(int argc, char **argv)
{
    static const char *names[] = {"segv", "exit", "abort", "hang", "oom"};
    int mode = -1;
    for (int m = 0; argc == 2 && m < 5; m++)
        if (strcmp(argv[1], names[m]) == 0) mode = m;
    if (mode < 0) {
        fprintf(stderr, "usage: crash_demo segv|exit|abort|hang|oom\n");
        return 2;
    }
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 2;
    if (mode == OOM) o.memory_limit = (size_t)256 << 20;
    weft_procpool *pool;
    if (weft_procpool_new(&pool, &o) != 0) {
        fprintf(stderr, "procpool: %s\n", weft_error_message());
        return 1;
    }
    weft_procpool_task_opts to = WEFT_PROCPOOL_TASK_OPTS_INIT;
    if (mode == HANG) to.timeout = WEFT_MS(200);
    weft_future *f[10];
    for (int i = 0; i < 10; i++) {
        struct job j = {i + 1, mode};
        if (weft_procpool_submit(pool, &f[i], work, &j, sizeof j, &to) != 0) return 1;
    }
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        const void *data;
        size_t len;
        int rc = weft_future_bytes(f[i], &data, &len, WEFT_FOREVER);
        if (rc == 0 && len == sizeof(int)) {
            printf("task %2d: %d\n", i + 1, *(const int *)data);
            ok++;
        } else {
            printf("task %2d: %s: %s\n", i + 1, weft_errname(rc), weft_error_message());
        }
        weft_future_unref(f[i]);
    }
    /* the pool still serves */
    struct job again = {11, mode};
    weft_future *g;
    const void *data;
    size_t len;
    int rc = weft_procpool_submit(pool, &g, work, &again, sizeof again, NULL);
    if (rc == 0) rc = weft_future_bytes(g, &data, &len, WEFT_FOREVER);
    printf("afterwards: %s\n", rc == 0 ? "the pool still serves" : weft_error_message());
    if (rc == 0) weft_future_unref(g);
    struct weft_procpool_stats st;
    weft_procpool_stats(pool, &st);
    printf("%d of 10 succeeded; workers started %llu, died %llu, killed %llu\n", ok,
           (unsigned long long)st.workers_started, (unsigned long long)st.workers_died,
           (unsigned long long)st.workers_killed);
    weft_procpool_free(pool);
    return ok == 9 && rc == 0 ? 0 : 1;
}
