/* examples/rangesum.c - seed 004's summing threads, three ways, with the speed-up printed.
 *
 * The Python answer splits range(0, 1000000) between two SummingThreads and notes that the GIL
 * makes it no faster. In C threads run in parallel; the question is only how to split:
 *   serial            one loop;
 *   hand-split        one weft thread per CPU, each summing a fixed slice (the seed's way);
 *   parallel_reduce   weft_parallel_reduce on the default pool: automatic grain, idle workers
 *                     steal halves of the remaining ranges, partial sums are combined.
 * The summand is a hash of i, so that the compiler cannot replace the loop by a formula.
 *
 *     rangesum [N]      default 400000000
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft.h>

static inline uint64_t term(int64_t i)
{
    return ((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 40;
}

static uint64_t sum_range(int64_t lo, int64_t hi)
{
    uint64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += term(i);
    return s;
}

struct slice {
    int64_t lo, hi;
    uint64_t sum;
};

static int summing_thread(void *arg)
{
    struct slice *s = arg;
    s->sum = sum_range(s->lo, s->hi);
    return 0;
}

static uint64_t hand_split(int64_t n, int nthreads)
{
    struct slice s[64];
    weft_thread t[64];
    for (int i = 0; i < nthreads; i++) {
        s[i] = (struct slice){n * i / nthreads, n * (i + 1) / nthreads, 0};
        if (weft_thread_start(&t[i], summing_thread, &s[i], NULL) != 0) exit(1);
    }
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        weft_thread_join(t[i], NULL, WEFT_FOREVER);
        total += s[i].sum;
    }
    return total;
}

static void body(int64_t lo, int64_t hi, void *acc, void *arg)
{
    (void)arg;
    *(uint64_t *)acc += sum_range(lo, hi);
}

static void combine(void *acc, const void *other, void *arg)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static double seconds_since(weft_ns t0)
{
    return (double)(weft_now() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 400000000;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    if (n < 0) return 2;

    weft_ns t0 = weft_now();
    uint64_t serial = sum_range(0, n);
    double ts = seconds_since(t0);

    t0 = weft_now();
    uint64_t split = hand_split(n, nthreads);
    double th = seconds_since(t0);

    uint64_t zero = 0, reduced = 0;
    t0 = weft_now();
    int rc = weft_parallel_reduce(NULL, 0, n, 0, body, combine, sizeof zero, &zero, &reduced, NULL);
    double tr = seconds_since(t0);
    if (rc) {
        fprintf(stderr, "parallel_reduce: %s\n", weft_strerror(rc));
        return 1;
    }

    printf("sum of %" PRId64 " terms on %d CPUs\n", n, nthreads);
    printf("  serial           %20" PRIu64 "  %.3f s\n", serial, ts);
    printf("  hand-split       %20" PRIu64 "  %.3f s  %.2fx\n", split, th, ts / th);
    printf("  parallel_reduce  %20" PRIu64 "  %.3f s  %.2fx\n", reduced, tr, ts / tr);
    int same = serial == split && serial == reduced;
    printf("%s\n", same ? "all three sums agree" : "SUMS DIFFER");
    return same ? 0 : 1;
}
