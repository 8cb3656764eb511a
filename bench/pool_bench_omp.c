/* bench/pool_bench_omp.c - the OpenMP side of pool_bench (libgomp, built with -fopenmp):
 * tasks from one thread, a task tree, task + taskwait fork-join, parallel for reduction, and a
 * parallel for at one index per piece (schedule(dynamic,1)). */
#include <omp.h>

#include "pool_bench_peers.h"

double omp_flat(int n, int threads)
{
    int64_t t0 = pool_bench_now();
#pragma omp parallel num_threads(threads)
#pragma omp single
    for (int i = 0; i < n; i++) {
#pragma omp task
        pool_bench_nop();
    }
    return (double)(pool_bench_now() - t0);
}

static void tree(int d)
{
    if (d == 0) return;
#pragma omp task
    tree(d - 1);
#pragma omp task
    tree(d - 1);
}

double omp_tree(int depth, int threads)
{
    int64_t t0 = pool_bench_now();
#pragma omp parallel num_threads(threads)
#pragma omp single
    tree(depth);
    return (double)(pool_bench_now() - t0);
}

static void fj(int d)
{
    if (d == 0) return;
#pragma omp task
    fj(d - 1);
    fj(d - 1);
#pragma omp taskwait
}

double omp_forkjoin(int depth, int threads)
{
    int64_t t0 = pool_bench_now();
#pragma omp parallel num_threads(threads)
#pragma omp single
    fj(depth);
    return (double)(pool_bench_now() - t0);
}

double omp_sum(int64_t n, int threads, int64_t *sum)
{
    int64_t t0 = pool_bench_now(), s = 0;
    /* What "parallel for schedule(static) reduction(+)" does, written out so that each thread
     * runs the shared loop over its share. */
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
        int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
        s += pool_bench_sum(n / k * t + (t < n % k ? t : n % k),
                            n / k * (t + 1) + (t + 1 < n % k ? t + 1 : n % k));
    }
    *sum = s;
    return (double)(pool_bench_now() - t0);
}

double omp_for(double *a, int64_t n, int threads)
{
    int64_t t0 = pool_bench_now();
#pragma omp parallel for num_threads(threads)
    for (int64_t i = 0; i < n; i++) a[i] = pool_bench_elem(i);
    return (double)(pool_bench_now() - t0);
}

double omp_for1(double *a, int64_t n, int threads)
{
    int64_t t0 = pool_bench_now();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t i = 0; i < n; i++) a[i] = pool_bench_elem(i);
    return (double)(pool_bench_now() - t0);
}
