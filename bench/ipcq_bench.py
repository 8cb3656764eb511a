#!/usr/bin/env python3
"""ipcq_bench.py - Python's multiprocessing.Queue, the peer of bench/ipcq_bench.c.

Prints "rtt SIZE US" (mean round trip in microseconds, median of runs) and "thr SIZE MMSGS"
(1P1C million messages per second, median of runs) for 8- and 64-byte bytes objects.
    python3 bench/ipcq_bench.py [runs]
"""
import multiprocessing as mp
import statistics
import sys
import time


def echo(qa, qb, n):
    for _ in range(n):
        qb.put(qa.get())


def drain(q, n, out):
    for _ in range(n):
        q.get()
    out.put(time.monotonic())


def rtt(size, n=2000):
    qa, qb = mp.Queue(), mp.Queue()
    p = mp.Process(target=echo, args=(qa, qb, n))
    p.start()
    m = b"x" * size
    qa.put(m)
    qb.get()  # warm: the child and both feeder threads run
    t0 = time.monotonic()
    for _ in range(n - 1):
        qa.put(m)
        qb.get()
    t1 = time.monotonic()
    p.join()
    return (t1 - t0) / (n - 1) * 1e6


def thr(size, n=50000):
    q, out = mp.Queue(), mp.Queue()
    p = mp.Process(target=drain, args=(q, n, out))
    p.start()
    m = b"x" * size
    t0 = time.monotonic()
    for _ in range(n):
        q.put(m)
    end = out.get()
    p.join()
    return n / (end - t0) / 1e6


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for size in (8, 64):
        print("rtt", size, statistics.median(rtt(size) for _ in range(runs)), flush=True)
    for size in (8, 64):
        print("thr", size, statistics.median(thr(size) for _ in range(runs)), flush=True)
