/* bench/bench_util.c - see bench_util.h. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double bench_settle(void)
{
    int64_t start = bench_now();
    struct timespec step = {0, 5000000}; /* 5 ms */
    for (int i = 0; i < 200; i++) {
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        nanosleep(&step, NULL);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        int64_t used = (c1.tv_sec - c0.tv_sec) * 1000000000 + (c1.tv_nsec - c0.tv_nsec);
        if (used < 250000) break; /* under 5% of one CPU: nobody spins */
    }
    return (double)(bench_now() - start) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_median(double *v, size_t n)
{
    return bench_percentile(v, n, 50);
}

int bench_runs(int def)
{
    const char *s = getenv("BENCH_RUNS");
    int n = s ? atoi(s) : 0;
    return n > 0 ? n : def;
}

void bench_table_begin(const char *title, const char *unit)
{
    printf("\n%s\n", title);
    printf("| %-34s | %14s | %12s |\n", "contender", unit, "ratio");
    printf("|%.36s|%.16s|%.14s|\n", "------------------------------------", "----------------",
           "--------------");
}

void bench_table_row(const char *name, double value, double baseline, int higher_is_better)
{
    double ratio = higher_is_better ? value / baseline : baseline / value;
    printf("| %-34s | %14.3f | %11.2fx |\n", name, value, ratio);
    fflush(stdout);
}

int bench_name_listed(const char *name, const char *list)
{
    while (*list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        for (const char *s = name; len > 0 && *s; s++)
            if (strncmp(s, list, len) == 0) return 1;
        if (end == NULL) break;
        list = end + 1;
    }
    return 0;
}

/* The "model name" line of /proc/cpuinfo (x86; "unknown" elsewhere), trimmed into buf. */
static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v == NULL) break;
            v += strspn(v + 1, " \t") + 1;
            snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
    fclose(f);
}

void bench_header(const char *program)
{
    char model[160], load[64] = "?";
    cpu_model(model, sizeof model);
    struct utsname u;
    if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(load, sizeof load, f) == NULL) snprintf(load, sizeof load, "?");
        fclose(f);
    }
    double l1 = 0, l5 = 0, l15 = 0;
    if (sscanf(load, "%lf %lf %lf", &l1, &l5, &l15) != 3) l1 = l5 = l15 = -1;
    printf("# %s on %s, %ld CPUs, Linux %s, load average %.2f %.2f %.2f\n", program, model,
           sysconf(_SC_NPROCESSORS_ONLN), u.release, l1, l5, l15);
    fflush(stdout);
}

long bench_rss_kib(void)
{
    long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    int ok = fscanf(f, "%ld %ld", &size, &resident) == 2;
    fclose(f);
    return ok ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}
