/* tests/fuzz/fault_sweep.c - every allocation failure point, SQLite-style.
 *
 * For each module, a scenario uses the module's allocating API the way a program does and
 * accounts for every item, task, callback and timer it hands over. The sweep runs the scenario
 * with the 1st allocation failing (the ALLOC fault point of src/core/internal.h, honoured by
 * weft's malloc wrappers), then the 2nd, and so on, until a run completes with no failure
 * injected: the module's failure points have all been passed. Each run must end with the
 * documented WEFT_ENOMEM handled and everything accounted for: nothing lost or run twice, no
 * crash, no hang (an alarm bounds each run), and, in an ASan build, no leak (a leak check after
 * each module). The fault point is internal to the library (not exported, not settable from
 * the environment): this program links the static library's objects.
 *
 *     fault_sweep [--full] [module...]
 *
 * --full also sweeps the thread-start and record-magazine fault points, and repeats each
 * allocation sweep three times (the modules that start threads fail a different allocation
 * from run to run). It prints the failure points per module and ends with
 * "N passed, N failed" (N: runs).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "process/process_internal.h"
#include "fault_sweep.h"

/* A scenario found a broken promise: say where, and count the run as failed. */
int sweep_failed(const char *file, int line, const char *what, int rc)
{
    fprintf(stderr, "%s:%d: %s gave %s (%d): %s\n", file, line, what, weft_errname(rc), rc,
            weft_error_message());
    return 1;
}

static const struct module {
    const char *name;
    int (*run)(void);
} modules[] = {
    {"queue", sweep_queue},   {"scope", sweep_scope},     {"future", sweep_future},
    {"pool", sweep_pool},     {"group", sweep_group},     {"timer", sweep_timer},
    {"thread", sweep_thread}, {"process", sweep_process}, {"procpool", sweep_procpool},
    {"ipcq", sweep_ipcq},     {"debug", sweep_debug},     {"local", sweep_local},
};

static const char *current_module;
static int current_k;

static void on_alarm(int sig)
{
    (void)sig;
    char msg[160];
    int n = snprintf(msg, sizeof msg, "fault_sweep: %s hung with failure %d injected\n",
                     current_module, current_k);
    (void)!write(2, msg, (size_t)n);
    _exit(3);
}

/* LeakSanitizer's check, when the program was built with it. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static long runs, failed_runs;

/* Sweep point p over one module: the number of failure points passed (runs with a failure
 * injected), or -1 if a run broke a promise. cap bounds the sweep. */
static long sweep(const struct module *m, enum weft__fault_point p, long cap)
{
    for (long k = 1;; k++) {
        current_module = m->name;
        current_k = (int)k;
        alarm(60);
        weft__fault_arm(p, (int)k);
        int bad = m->run();
        int left = atomic_load(&weft__fault_armed[p]);
        weft__fault_arm(p, 0);
        alarm(0);
        runs++;
        if (bad) {
            failed_runs++;
            fprintf(stderr, "fault_sweep: %s broke a promise with failure %ld injected\n", m->name,
                    k);
            return -1;
        }
        if (left > 0) return k - 1; /* nothing failed: every point was passed */
        if (k == cap) return k;
    }
}

_Atomic int sweep_enomem_reports;

static void hook(const char *name, int status, const char *message, void *arg)
{
    (void)name, (void)message, (void)arg; /* the failures are the point: count, not print */
    if (status == WEFT_ENOMEM) atomic_fetch_add(&sweep_enomem_reports, 1);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

/* The process watcher holds a reference to each child's handle until it sees the child's
 * pidfd, which may be after the handle's weft_process_free: until then only the kernel's epoll
 * set points at the handle, and LeakSanitizer would call it lost. Every child is reaped by now
 * (its pidfd readable), so the watcher's next epoll_wait returns its event; the second call
 * returns only once the loop that handled the first (and any pidfd in its batch) is done. */
static void watcher_catch_up(void)
{
    for (int i = 0; i < 2; i++) (void)weft__watcher_call(nothing, NULL);
}

int main(int argc, char **argv)
{
    bool full = argc > 1 && strcmp(argv[1], "--full") == 0;
    signal(SIGALRM, on_alarm);
    weft_pool_set_error_hook(hook, NULL);
    long total = 0;
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++) {
        const struct module *m = &modules[i];
        bool chosen = argc == 1 + full;
        for (int a = 1 + full; a < argc; a++) chosen |= strcmp(argv[a], m->name) == 0;
        if (!chosen) continue;
        long points = 0, threads = 0, mags = 0;
        for (int round = 0; round < (full ? 3 : 1); round++) {
            long n = sweep(m, WEFT__FAULT_ALLOC, full ? 20000 : 2000);
            if (n > points) points = n;
        }
        if (full) {
            threads = sweep(m, WEFT__FAULT_THREAD_CREATE, 1000);
            mags = sweep(m, WEFT__FAULT_MAGAZINE, 1000);
        }
        watcher_catch_up();
        if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
            fprintf(stderr, "fault_sweep: %s leaked\n", m->name);
            failed_runs++;
        }
        total += points > 0 ? points : 0;
        if (full)
            printf("%-8s %5ld allocation failure points, %ld thread-start, %ld magazine\n", m->name,
                   points, threads, mags);
        else
            printf("%-8s %5ld allocation failure points\n", m->name, points);
        fflush(stdout);
    }
    printf("fault_sweep: %ld allocation failure points in all, %ld runs\n", total, runs);
    printf("%ld passed, %ld failed\n", runs - failed_runs, failed_runs);
    return failed_runs ? EXIT_FAILURE : EXIT_SUCCESS;
}
