/* bench/process_bench.c - start + run + join of an empty C function in a new process.
 *
 * weft's default method (fork server), its spawn and fork methods, raw fork()+waitpid(),
 * posix_spawn("/bin/true")+waitpid(), and Python's multiprocessing with fork, forkserver and
 * spawn (python3 -c, timed inside Python), all in one run; then again with the parent
 * holding 1 GiB of touched memory (the fork server was made while the parent was small).
 * Prints median and p99 in microseconds and the ratio to weft's default.
 *
 *     process_bench          BENCH_RUNS (default 2000 iterations; Python: 1/20th)
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include <weft.h>

extern char **environ;

static int empty(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

static double one_weft(int method)
{
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.method = method;
    weft_process *p;
    int64_t t0 = bench_now();
    if (weft_process_start(&p, empty, NULL, 0, &o) != 0) return -1;
    int code = -1;
    weft_process_join(p, &code, WEFT_FOREVER);
    int64_t t1 = bench_now();
    weft_process_free(p);
    return code == 0 ? (double)(t1 - t0) / 1e3 : -1;
}

static double one_fork(void)
{
    int64_t t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) _exit(empty(NULL, 0));
    waitpid(pid, NULL, 0);
    return (double)(bench_now() - t0) / 1e3;
}

static double one_spawn_true(void)
{
    char *argv[] = {"true", NULL};
    int64_t t0 = bench_now();
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) return -1;
    waitpid(pid, NULL, 0);
    return (double)(bench_now() - t0) / 1e3;
}

/* Returns the median (0 if every run failed); the first row of a round sets *base. */
static double row(const char *name, double (*fn)(int), int arg, int n, double *base)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    int k = 0;
    for (int i = 0; i < n; i++) {
        double t = fn(arg);
        if (t >= 0) v[k++] = t;
    }
    if (k == 0) {
        printf("| %-34s | failed | - | - |\n", name);
        free(v);
        return 0;
    }
    double med = bench_median(v, (size_t)k), p99 = bench_percentile(v, (size_t)k, 99);
    if (*base == 0) *base = med;
    printf("| %-34s | %9.1f | %9.1f | %7.1fx |\n", name, med, p99, med / *base);
    free(v);
    return med;
}

static double w(int m)
{
    return one_weft(m);
}
static double f(int m)
{
    (void)m;
    return one_fork();
}
static double s(int m)
{
    (void)m;
    return one_spawn_true();
}

/* Returns the median, or 0 when Python is unavailable. */
static double python(const char *method, int n, double base)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import multiprocessing as mp,time,statistics as st\n"
             "def f(): pass\n"
             "if __name__=='__main__':\n"
             " c=mp.get_context('%s'); v=[]\n"
             " for i in range(%d):\n"
             "  t=time.perf_counter(); p=c.Process(target=f); p.start(); p.join(); "
             "v.append((time.perf_counter()-t)*1e6)\n"
             " v.sort(); print(st.median(v), v[int(len(v)*0.99)-1 if len(v)>1 else 0])\" "
             "2>/dev/null",
             method, n);
    FILE *pp = popen(cmd, "r");
    double med = 0, p99 = 0;
    if (pp == NULL || fscanf(pp, "%lf %lf", &med, &p99) != 2) {
        printf("| python multiprocessing %-11s | unavailable | - | - |\n", method);
        if (pp) pclose(pp);
        return 0;
    }
    pclose(pp);
    printf("| python multiprocessing %-11s | %9.1f | %9.1f | %7.1fx |\n", method, med, p99,
           med / base);
    return med;
}

struct round_result {
    double weft, raw_fork, py_forkserver;
};

static struct round_result round_(const char *title, int n)
{
    double base = 0;
    struct round_result r;
    printf("\n%s (ratio: median / weft default's)\n", title);
    printf("| %-34s | %9s | %9s | %8s |\n", "method", "median us", "p99 us", "ratio");
    printf("|------------------------------------|-----------|-----------|----------|\n");
    r.weft = row("weft default (fork server)", w, WEFT_PROCESS_FORKSERVER, n, &base);
    row("weft spawn (exec self)", w, WEFT_PROCESS_SPAWN, n / 10 + 1, &base);
    row("weft fork", w, WEFT_PROCESS_FORK, n, &base);
    r.raw_fork = row("raw fork + waitpid", f, 0, n, &base);
    row("posix_spawn /bin/true + waitpid", s, 0, n / 10 + 1, &base);
    python("fork", n / 20 + 1, base);
    r.py_forkserver = python("forkserver", n / 20 + 1, base);
    python("spawn", n / 100 + 1, base);
    return r;
}

int main(void)
{
    bench_header("process_bench");
    int n = bench_runs(2000);
    printf("process_bench: start + run + join of an empty function (%d iterations)\n", n);
    /* The first start makes the fork server, while this process is small. */
    if (one_weft(WEFT_PROCESS_FORKSERVER) < 0) return 1;
    struct round_result small = round_("parent small", n);
    size_t big = (size_t)1 << 30;
    char *m = malloc(big);
    if (m == NULL) return 1;
    madvise(m, big, MADV_NOHUGEPAGE); /* 4 KiB pages: what fork copies the tables of */
    memset(m, 1, big);
    struct round_result big1 = round_("parent with 1 GiB touched", n / 4 + 1);
    free(m);
    /* The targets: >= 150x Python's forkserver, the 1 GiB parent within 1.5x. */
    if (small.weft > 0 && big1.weft > 0) {
        printf("targets: weft default vs python forkserver %.1fx (target >= 150x), "
               "1 GiB / small parent %.2fx (target <= 1.5x), raw fork / weft at 1 GiB %.1fx\n",
               small.py_forkserver / small.weft, big1.weft / small.weft, big1.raw_fork / big1.weft);
    }
    return 0;
}
