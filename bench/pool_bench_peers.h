/* bench/pool_bench_peers.h - the peers of pool_bench.c that live in other files: TBB (C++,
 * pool_bench_tbb.cpp) and OpenMP (pool_bench_omp.c, built with -fopenmp). Each returns the
 * elapsed nanoseconds of one run, or -1 when the peer was not built. */
#ifndef WEFT_POOL_BENCH_PEERS_H
#define WEFT_POOL_BENCH_PEERS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* n empty tasks submitted from the calling thread, then wait for all. */
double tbb_flat(int n, int threads);
double omp_flat(int n, int threads);
/* A binary tree of depth d spawned from inside tasks, no waits but the final one. */
double tbb_tree(int depth, int threads);
double omp_tree(int depth, int threads);
/* Fork-join: a node spawns one child, runs the other inline, then waits for the spawned one. */
double tbb_forkjoin(int depth, int threads);
double omp_forkjoin(int depth, int threads);
/* Sum of i over [0, n) with the library's parallel reduce (result in *sum). */
double tbb_sum(int64_t n, int threads, int64_t *sum);
double omp_sum(int64_t n, int threads, int64_t *sum);
/* a[i] = body(i) over [0, n) with the library's parallel for (auto partitioning). */
double tbb_for(double *a, int64_t n, int threads);
double omp_for(double *a, int64_t n, int threads);
/* The same at one index per piece: TBB's simple_partitioner at grain 1, OpenMP's
 * schedule(dynamic,1). */
double tbb_for1(double *a, int64_t n, int threads);
double omp_for1(double *a, int64_t n, int threads);

/* The shared per-element work of the parallel-for benchmark. */
static inline double pool_bench_elem(int64_t i)
{
    double x = (double)i;
    return x * 0.5 + x * x * 1e-9 + (double)(i & 7);
}

int64_t pool_bench_now(void);
void pool_bench_nop(void); /* the body of an empty task (out of line) */
/* The sum of i over [lo, hi): the one loop every range-sum contender runs (out of line, so
 * that each library's compiled loop is the same code and only the splitting differs; a loop
 * inlined into the OpenMP region was unrolled where the others were not, which was worth up
 * to 1.8x on its own on the shared VM). */
int64_t pool_bench_sum(int64_t lo, int64_t hi);

#ifdef __cplusplus
}
#endif

#endif
