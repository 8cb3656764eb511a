/* examples/rangesum_procpool.c - seed 004's range sum over a process pool.
 *
 * The seed's CPU-bound sum, Python's way (ProcessPoolExecutor.map over chunks), in C: a pool
 * of one worker per CPU maps a summing function over chunks of the range; each chunk's
 * 8-byte sum comes back as the task's result. Printed: the serial time, the pool's time with
 * and without starting it, the speed-ups, and whether the sums agree.
 *
 *     rangesum_procpool [N [CHUNKS]]      defaults 400000000 and 64
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft.h>

struct range {
    int64_t lo, hi;
};

static uint64_t sum_range(int64_t lo, int64_t hi)
{
    uint64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += ((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 40;
    return s;
}

/* Runs in a worker: arg is its copy of the range. */
static int sum_chunk(const void *arg, size_t size)
{
    if (size != sizeof(struct range)) return weft_error_set(WEFT_EINVAL, "bad range");
    const struct range *r = arg;
    uint64_t s = sum_range(r->lo, r->hi);
    return weft_process_set_result(&s, sizeof s);
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 400000000;
    int chunks = argc > 2 ? atoi(argv[2]) : 64;
    if (n < 1 || chunks < 1 || chunks > 100000) return 2;
    struct range *r = malloc(sizeof *r * (size_t)chunks);
    uint64_t *sums = malloc(sizeof *sums * (size_t)chunks);
    if (!r || !sums) return 1;
    for (int i = 0; i < chunks; i++) r[i] = (struct range){n * i / chunks, n * (i + 1) / chunks};

    weft_ns t0 = weft_now();
    uint64_t serial = sum_range(0, n);
    weft_ns t1 = weft_now();
    weft_procpool *pool;
    if (weft_procpool_new(&pool, NULL) != 0) {
        fprintf(stderr, "procpool: %s\n", weft_error_message());
        return 1;
    }
    weft_ns t2 = weft_now();
    if (weft_procpool_map(pool, sum_chunk, r, sizeof *r, (size_t)chunks, sums, sizeof *sums, NULL,
                          WEFT_FOREVER) != 0) {
        fprintf(stderr, "map: %s\n", weft_error_message());
        return 1;
    }
    weft_ns t3 = weft_now();
    struct weft_procpool_stats st;
    weft_procpool_stats(pool, &st);
    weft_procpool_free(pool);
    uint64_t total = 0;
    for (int i = 0; i < chunks; i++) total += sums[i];

    double ts = (double)(t1 - t0) / 1e6, tm = (double)(t3 - t2) / 1e6, tw = (double)(t3 - t1) / 1e6;
    printf("sum of %" PRId64 " terms in %d chunks: %" PRIu64 "\n", n, chunks, serial);
    printf("serial                %8.1f ms\n", ts);
    printf("process pool (%2d)     %8.1f ms  speed-up %.2fx\n", st.workers, tm, ts / tm);
    printf("  with its start      %8.1f ms  speed-up %.2fx\n", tw, ts / tw);
    free(r);
    free(sums);
    if (total != serial) {
        printf("MISMATCH: pool %" PRIu64 "\n", total);
        return 1;
    }
    printf("the sums agree\n");
    return 0;
}
