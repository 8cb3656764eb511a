/* bench/bench_util.h - timing, medians and the ratio table every weft benchmark prints.
 *
 * A benchmark measures each contender `runs` times and keeps the median; the table shows each
 * contender's median and its ratio to a named baseline, all from the same run of the program,
 * so the ratios compare like with like on a shared, noisy machine. */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Print one line naming the machine the figures come from: the program, the CPU model, the
 * number of online CPUs, the kernel release and the load average at the start (every bench
 * program prints it first, so that a figure is never read without its conditions). */
void bench_header(const char *program);
/* Resident set size of this process in KiB (from /proc/self/statm), or -1. */
long bench_rss_kib(void);
/* Monotonic time in nanoseconds. */
int64_t bench_now(void);
/* CPU time of the calling thread in nanoseconds. */
int64_t bench_thread_cpu(void);
/* Wait until no thread of this process uses the CPU (at most 1 s): the threads an earlier
 * contender left behind may still spin (libgomp's spin for about 6 ms after each parallel
 * region), and whoever runs next would share the CPUs with them. Returns the ms waited. */
double bench_settle(void);
/* Median of n doubles (sorts v). */
double bench_median(double *v, size_t n);
/* The p-th percentile (0..100) of n doubles (sorts v). */
double bench_percentile(double *v, size_t n, double p);
/* Number of repetitions: BENCH_RUNS from the environment, else def. */
int bench_runs(int def);
/* 1 if name contains one of the comma-separated parts of list (BENCH_ONLY). */
int bench_name_listed(const char *name, const char *list);

/* Print a table header, then one row per contender: "name  median unit  ratio", where ratio is
 * baseline / value when higher_is_better is 0 (times), value / baseline otherwise. */
void bench_table_begin(const char *title, const char *unit);
void bench_table_row(const char *name, double value, double baseline, int higher_is_better);

#endif
