/* bench/procpool_bench.c - the process pool: empty-task throughput beside Python's
 * ProcessPoolExecutor and multiprocessing.Pool (bench/procpool_python.py, run here), and the
 * time from a worker's crash to a replacement serving.
 *
 * Throughput: 2 workers, N empty tasks submitted one by one (each its own future, as
 * Executor.submit) then all waited for; and weft_procpool_map over N items. Pool start is
 * excluded (as in the Python script). Median of RUNS runs, tasks per second.
 * Crash to replacement: 1 worker; a task that raises SIGSEGV is submitted and its future
 * waited for (it fails when the manager sees the death and has started the replacement);
 * then an empty task is submitted and waited for. Its round trip, minus that of an empty task
 * on a warm worker, is what the crash cost beyond a normal task. Median and p90 of REPS.
 *
 *     procpool_bench          BENCH_RUNS (default 5), N = 20000
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include <weft.h>

static int empty(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

static int crash(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    raise(SIGSEGV);
    return 0;
}

static double submit_rate(weft_procpool *p, int n)
{
    weft_future **f = malloc(sizeof *f * (size_t)n);
    if (f == NULL) return -1;
    int64_t t0 = bench_now();
    for (int i = 0; i < n; i++)
        if (weft_procpool_submit(p, &f[i], empty, &i, sizeof i, NULL) != 0) return -1;
    for (int i = 0; i < n; i++) {
        (void)weft_future_result(f[i], NULL, WEFT_FOREVER);
        weft_future_unref(f[i]);
    }
    int64_t t1 = bench_now();
    free(f);
    return n / ((double)(t1 - t0) / 1e9);
}

static double map_rate(weft_procpool *p, int n)
{
    int *items = calloc((size_t)n, sizeof *items);
    if (items == NULL) return -1;
    int64_t t0 = bench_now();
    int rc =
        weft_procpool_map(p, empty, items, sizeof *items, (size_t)n, NULL, 0, NULL, WEFT_FOREVER);
    int64_t t1 = bench_now();
    free(items);
    return rc == 0 ? n / ((double)(t1 - t0) / 1e9) : -1;
}

static double round_trip_us(weft_procpool *p)
{
    weft_future *f;
    int64_t t0 = bench_now();
    if (weft_procpool_submit(p, &f, empty, NULL, 0, NULL) != 0) return -1;
    (void)weft_future_result(f, NULL, WEFT_FOREVER);
    weft_future_unref(f);
    return (double)(bench_now() - t0) / 1e3;
}

static void crash_to_replacement(int reps)
{
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 1;
    o.max_restarts = -1;
    weft_procpool *p;
    if (weft_procpool_new(&p, &o) != 0) return;
    double *warm = calloc((size_t)reps, sizeof *warm), *after = calloc((size_t)reps, sizeof *after);
    for (int i = 0; i < reps && warm && after; i++) {
        warm[i] = round_trip_us(p);
        weft_future *f;
        if (weft_procpool_submit(p, &f, crash, NULL, 0, NULL) != 0) break;
        (void)weft_future_result(f, NULL, WEFT_FOREVER);
        weft_future_unref(f);
        after[i] = round_trip_us(p);
    }
    if (warm && after) {
        double w = bench_median(warm, (size_t)reps), a = bench_median(after, (size_t)reps);
        double a90 = bench_percentile(after, (size_t)reps, 90);
        printf("\ncrash to replacement (1 worker, %d crashes)\n", reps);
        printf("| %-40s | %9s | %9s |\n", "what", "median us", "p90 us");
        printf("|------------------------------------------|-----------|-----------|\n");
        printf("| %-40s | %9.1f | %9s |\n", "empty task round trip, warm worker", w, "-");
        printf("| %-40s | %9.1f | %9.1f |\n", "first task after a crash (replacement)", a, a90);
        printf("| %-40s | %9.1f | %9s |\n", "cost of the crash beyond a normal task", a - w, "-");
    }
    free(warm);
    free(after);
    weft_procpool_free(p);
}

static void python(int n, int runs, double weft_submit)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s/procpool_python.py %d %d 2>/dev/null", WEFT_BENCH_DIR, n,
             runs);
    FILE *f = popen(cmd, "r");
    char line[256];
    int any = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *sp = strrchr(line, ' ');
        if (sp == NULL) continue;
        *sp = '\0';
        double rate = atof(sp + 1);
        bench_table_row(line, rate, weft_submit, 1);
        any = 1;
    }
    if (f) pclose(f);
    if (!any) printf("  python3 unavailable\n");
}

int main(void)
{
    bench_header("procpool_bench");
    int runs = bench_runs(5), n = 20000;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 2;
    weft_procpool *p;
    if (weft_procpool_new(&p, &o) != 0) {
        fprintf(stderr, "procpool: %s\n", weft_error_message());
        return 1;
    }
    submit_rate(p, 1000); /* warm: the functions are defined to the workers */
    double *s = calloc((size_t)runs, sizeof *s), *m = calloc((size_t)runs, sizeof *m);
    if (!s || !m) return 1;
    for (int i = 0; i < runs; i++) {
        s[i] = submit_rate(p, n);
        m[i] = map_rate(p, n);
    }
    double sm = bench_median(s, (size_t)runs), mm = bench_median(m, (size_t)runs);
    weft_procpool_free(p);
    char title[128];
    snprintf(title, sizeof title,
             "empty tasks, 2 workers, %d tasks, median of %d (ratio: "
             "to weft submit)",
             n, runs);
    bench_table_begin(title, "tasks/s");
    bench_table_row("weft_procpool_submit", sm, sm, 1);
    bench_table_row("weft_procpool_map", mm, sm, 1);
    python(n / 4, runs < 3 ? runs : 3, sm);
    crash_to_replacement(200);
    free(s);
    free(m);
    return 0;
}
