"""bench/procpool_python.py - Python's process pools on empty tasks, for procpool_bench.

Prints one line per contender: "NAME TASKS_PER_SECOND", the median of RUNS runs of N empty
tasks with 2 workers (pool start excluded; each run waits for every result).

    python3 procpool_python.py N RUNS
"""
import concurrent.futures as cf
import multiprocessing as mp
import statistics
import sys
import time


def empty(x):
    return None


def ppe(pool, n):
    t0 = time.perf_counter()
    fs = [pool.submit(empty, i) for i in range(n)]
    for f in fs:
        f.result()
    return n / (time.perf_counter() - t0)


def ppe_map(pool, n):
    t0 = time.perf_counter()
    list(pool.map(empty, range(n), chunksize=64))
    return n / (time.perf_counter() - t0)


def mp_map(pool, n, chunk):
    t0 = time.perf_counter()
    pool.map(empty, range(n), chunksize=chunk)
    return n / (time.perf_counter() - t0)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ctx = mp.get_context("fork")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        ppe(pool, 100)
        print("ProcessPoolExecutor.submit", statistics.median(ppe(pool, n) for _ in range(runs)))
        print("ProcessPoolExecutor.map(chunksize=64)",
              statistics.median(ppe_map(pool, n) for _ in range(runs)))
    with ctx.Pool(2) as pool:
        mp_map(pool, 100, 1)
        print("multiprocessing.Pool.map(chunksize=1)",
              statistics.median(mp_map(pool, n, 1) for _ in range(runs)))
        print("multiprocessing.Pool.map(default)",
              statistics.median(mp_map(pool, n, None) for _ in range(runs)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
