// bench/pool_bench_tbb.cpp - the TBB side of pool_bench: task_group, parallel_reduce and
// parallel_for (auto_partitioner, the default; simple_partitioner at grain 1), each inside a
// task_arena of `threads`.
#include <atomic>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "pool_bench_peers.h"

extern "C" double tbb_flat(int n, int threads)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] {
        tbb::task_group tg;
        for (int i = 0; i < n; i++) tg.run([] { pool_bench_nop(); });
        tg.wait();
    });
    return (double)(pool_bench_now() - t0);
}

static void tree(tbb::task_group &tg, int d)
{
    if (d == 0) return;
    tg.run([&tg, d] { tree(tg, d - 1); });
    tg.run([&tg, d] { tree(tg, d - 1); });
}

extern "C" double tbb_tree(int depth, int threads)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] {
        tbb::task_group tg;
        tree(tg, depth);
        tg.wait();
    });
    return (double)(pool_bench_now() - t0);
}

static void fj(int d)
{
    if (d == 0) return;
    tbb::task_group tg;
    tg.run([d] { fj(d - 1); });
    fj(d - 1);
    tg.wait();
}

extern "C" double tbb_forkjoin(int depth, int threads)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] { fj(depth); });
    return (double)(pool_bench_now() - t0);
}

extern "C" double tbb_sum(int64_t n, int threads, int64_t *sum)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] {
        *sum = tbb::parallel_reduce(
            tbb::blocked_range<int64_t>(0, n), (int64_t)0,
            [](const tbb::blocked_range<int64_t> &r, int64_t s) {
                return s + pool_bench_sum(r.begin(), r.end());
            },
            [](int64_t a, int64_t b) { return a + b; });
    });
    return (double)(pool_bench_now() - t0);
}

extern "C" double tbb_for(double *a, int64_t n, int threads)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, n),
                          [a](const tbb::blocked_range<int64_t> &r) {
                              for (int64_t i = r.begin(); i < r.end(); i++)
                                  a[i] = pool_bench_elem(i);
                          });
    });
    return (double)(pool_bench_now() - t0);
}

extern "C" double tbb_for1(double *a, int64_t n, int threads)
{
    tbb::task_arena arena(threads);
    int64_t t0 = pool_bench_now();
    arena.execute([&] {
        tbb::parallel_for(
            tbb::blocked_range<int64_t>(0, n, 1),
            [a](const tbb::blocked_range<int64_t> &r) {
                for (int64_t i = r.begin(); i < r.end(); i++) a[i] = pool_bench_elem(i);
            },
            tbb::simple_partitioner());
    });
    return (double)(pool_bench_now() - t0);
}
