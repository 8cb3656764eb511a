/* bench/pool_bench_llvmomp.c - pool_bench's OpenMP peers against LLVM's libomp: this file and
 * pool_bench_omp.c built by clang with -fopenmp=libomp, as a program of its own (libomp also
 * exports libgomp's GOMP_ entry points, so the two runtimes cannot share pool_bench's process).
 * pool_bench runs it after the table it belongs to and prints its row beside libgomp's.
 *
 * Usage: pool_bench_llvmomp flat|for1 N THREADS RUNS - prints the median ns per task (flat: N
 * empty tasks from one thread) or per index (for1: schedule(dynamic,1) over N doubles). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool_bench_peers.h"

int64_t pool_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((noinline)) void pool_bench_nop(void)
{
    __asm__ __volatile__("" ::: "memory");
}

__attribute__((noinline)) int64_t pool_bench_sum(int64_t lo, int64_t hi)
{
    int64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += i;
    return s;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pool_bench_llvmomp flat|for1 N THREADS RUNS\n");
        return 2;
    }
    int n = atoi(argv[2]), threads = atoi(argv[3]), runs = atoi(argv[4]);
    if (n < 1 || threads < 1 || runs < 1 || runs > 64) return 2;
    double v[64];
    double *a = malloc((size_t)n * sizeof *a);
    if (a == NULL) return 1;
    for (int r = 0; r < runs; r++)
        v[r] = strcmp(argv[1], "flat") == 0 ? omp_flat(n, threads) : omp_for1(a, n, threads);
    qsort(v, (size_t)runs, sizeof v[0], cmp);
    printf("%.3f\n", v[runs / 2] / n);
    free(a);
    return 0;
}
