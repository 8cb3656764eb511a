/* examples/rangesum_processes.c - seed 004's range sum split over processes, beside threads.
 *
 * The seed's advice for CPU-bound Python is multiprocessing. In C, threads already run in
 * parallel; processes add isolation (a crash stays in its child) at the cost of a start.
 * Each child sums its slice and hands the 8-byte sum back with weft_process_set_result, so
 * nothing is shared but the bytes of the argument and of the result:
 *   serial     one loop;
 *   threads    one weft thread per CPU, each a slice (examples/rangesum.c has more ways);
 *   processes  one weft process per CPU, each a slice.
 *
 *     rangesum_processes [N]      default 400000000
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

/* Runs in a child: arg is its copy of the slice. */
static int summing_process(const void *arg, size_t size)
{
    if (size != sizeof(struct slice)) return WEFT_EINVAL;
    const struct slice *s = arg;
    uint64_t sum = sum_range(s->lo, s->hi);
    return weft_process_set_result(&sum, sizeof sum);
}

static void split(struct slice *s, int k, int64_t n)
{
    for (int i = 0; i < k; i++) {
        s[i].lo = n * i / k;
        s[i].hi = n * (i + 1) / k;
    }
}

static int by_threads(struct slice *s, int k, uint64_t *total)
{
    weft_thread t[64];
    for (int i = 0; i < k; i++)
        if (weft_thread_start(&t[i], summing_thread, &s[i], NULL) != 0) return 1;
    *total = 0;
    for (int i = 0; i < k; i++) {
        if (weft_thread_join(t[i], NULL, WEFT_FOREVER) != 0) return 1;
        *total += s[i].sum;
    }
    return 0;
}

static int by_processes(struct slice *s, int k, uint64_t *total)
{
    weft_process *p[64];
    for (int i = 0; i < k; i++)
        if (weft_process_start(&p[i], summing_process, &s[i], sizeof s[i], NULL) != 0) return 1;
    *total = 0;
    int bad = 0;
    for (int i = 0; i < k; i++) {
        int code;
        uint64_t sum = 0;
        size_t len = 0;
        if (weft_process_join(p[i], &code, WEFT_FOREVER) != 0 || code != 0 ||
            weft_process_result(p[i], &sum, sizeof sum, &len) != 0 || len != sizeof sum) {
            fprintf(stderr, "slice %d: %s\n", i, weft_error_message());
            bad = 1;
        }
        *total += sum;
        weft_process_free(p[i]);
    }
    return bad;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 400000000;
    int k = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || k < 1) return 2;
    if (k > 64) k = 64;
    struct slice s[64];
    split(s, k, n);

    weft_ns t0 = weft_now();
    uint64_t serial = sum_range(0, n);
    weft_ns t1 = weft_now();
    uint64_t threads, procs;
    if (by_threads(s, k, &threads) != 0) return 1;
    weft_ns t2 = weft_now();
    if (by_processes(s, k, &procs) != 0) return 1;
    weft_ns t3 = weft_now();

    double ts = (double)(t1 - t0) / 1e6, tt = (double)(t2 - t1) / 1e6, tp = (double)(t3 - t2) / 1e6;
    printf("sum of %" PRId64 " terms: %" PRIu64 "\n", n, serial);
    printf("serial      %8.1f ms\n", ts);
    printf("threads   %2d %8.1f ms  speed-up %.2fx\n", k, tt, ts / tt);
    printf("processes %2d %8.1f ms  speed-up %.2fx\n", k, tp, ts / tp);
    if (threads != serial || procs != serial) {
        printf("MISMATCH: threads %" PRIu64 " processes %" PRIu64 "\n", threads, procs);
        return 1;
    }
    printf("all three agree\n");
    return 0;
}
