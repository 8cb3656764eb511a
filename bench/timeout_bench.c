/* bench/timeout_bench.c - how late a timed wait returns WEFT_ETIMEDOUT, idle and under load.
 *
 * Every call that takes a timeout (tests/support/timed_calls.c) waits `n` times for a timeout
 * of 1 ms that must run out; lateness = (time it returned) - (time it was called) - timeout, on
 * the monotonic clock. Printed per call: p50, p99 and max in microseconds, first on a quiet
 * process, then with 2 x CPUs threads spinning at the same priority (a loaded machine: the
 * woken thread must wait for a time slice). tests/unit/timeout_test.c asserts it is never
 * negative; this program only reports.
 *
 *     timeout_bench [waits per call]     (default 200; BENCH_ONLY=name,name filters calls)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_util.h"
#include "timed_calls.h"

#define TIMEOUT WEFT_MS(1)

static atomic_int spinning;

static int spin(void *arg)
{
    (void)arg;
    static volatile unsigned long sink;
    while (atomic_load_explicit(&spinning, memory_order_relaxed)) sink++;
    return 0;
}

/* Lateness in microseconds of n timed-out calls of c; -1 in *early if one came back early. */
static int measure(const struct timed_call *c, int n, double *late_us, int *early)
{
    struct timed_state *s = NULL;
    int rc = c->setup(&s);
    if (rc) return rc;
    for (int i = 0; i < n && rc == 0; i++) {
        weft_ns start = weft_now();
        int got = c->call(s, TIMEOUT);
        weft_ns took = weft_now() - start;
        if (got != WEFT_ETIMEDOUT) rc = got ? got : WEFT_EFAILED;
        if (took < TIMEOUT) (*early)++;
        late_us[i] = (double)(took - TIMEOUT) / 1e3;
    }
    int td = c->teardown(s);
    return rc ? rc : td;
}

static int phase(const char *title, int n, const char *only)
{
    double *late = malloc(sizeof *late * (size_t)n), all_max = 0;
    if (!late) return 1;
    int early = 0, failed = 0;
    printf("\n%s: lateness of a 1 ms timeout, %d waits per call\n", title, n);
    printf("| %-18s | %9s | %9s | %9s |\n", "call", "p50 us", "p99 us", "max us");
    printf("|--------------------|-----------|-----------|-----------|\n");
    for (size_t k = 0; k < timed_calls_count; k++) {
        const struct timed_call *c = &timed_calls[k];
        if (only && !bench_name_listed(c->name, only)) continue;
        int rc = measure(c, n, late, &early);
        if (rc) {
            printf("| %-18s | failed: %s | - | - |\n", c->name, weft_errname(rc));
            failed++;
            continue;
        }
        double p50 = bench_percentile(late, (size_t)n, 50),
               p99 = bench_percentile(late, (size_t)n, 99);
        double mx = bench_percentile(late, (size_t)n, 100);
        if (mx > all_max) all_max = mx;
        printf("| %-18s | %9.1f | %9.1f | %9.1f |\n", c->name, p50, p99, mx);
    }
    printf("early returns: %d; worst lateness: %.1f us\n", early, all_max);
    free(late);
    return failed || early;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 1) n = 1;
    const char *only = getenv("BENCH_ONLY");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int bad = phase("idle", n, only);
    int nspin = (int)(cpus > 0 ? 2 * cpus : 4);
    weft_thread *spinners = calloc((size_t)nspin, sizeof *spinners);
    if (!spinners) return 1;
    atomic_store(&spinning, 1);
    for (int i = 0; i < nspin; i++)
        if (weft_thread_start(&spinners[i], spin, NULL, NULL)) return 1;
    char title[64];
    snprintf(title, sizeof title, "loaded (%d spinning threads on %ld CPUs)", nspin, cpus);
    bad |= phase(title, n, only);
    atomic_store(&spinning, 0);
    for (int i = 0; i < nspin; i++) weft_thread_join(spinners[i], NULL, WEFT_FOREVER);
    free(spinners);
    return bad ? 1 : 0;
}
