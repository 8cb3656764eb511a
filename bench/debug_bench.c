/* bench/debug_bench.c - what seeing inside costs: the blocked-on record a sleeping thread
 * publishes, the paths it sits on (a sleeping hand-off, a contended lock, an uncontended
 * lock), lock-order checking off and on, and a dump of 1,000 blocked threads.
 *
 * Built against a library without the debug module (weft/debug.h absent: an older tree) it
 * measures the same paths without the records, for an A/B run: build both, run them in turn.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <weft.h>

#include "bench_util.h"

#ifdef WEFT_DEBUG_H
#include "core/debugrec.h"
#endif

#define MAX_RUNS 15

/* ---- uncontended and nested locks ---- */

static weft_lock la = WEFT_LOCK_INIT, lb = WEFT_LOCK_INIT;

static double uncontended(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        if (weft_lock_acquire(&la, WEFT_FOREVER) != 0) abort();
        weft_lock_release(&la);
    }
    return (double)(bench_now() - t0) / (double)n;
}

static double nested(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        if (weft_lock_acquire(&la, WEFT_FOREVER) != 0) abort();
        if (weft_lock_acquire(&lb, WEFT_FOREVER) != 0) abort();
        weft_lock_release(&lb);
        weft_lock_release(&la);
    }
    return (double)(bench_now() - t0) / (double)n;
}

/* ---- a hand-off where the waiter sleeps: ping-pong on two events, the partner slowed so
 * that the waiter's spin runs out and it parks ---- */

static weft_event ea = WEFT_EVENT_INIT, eb = WEFT_EVENT_INIT;
static long pp_rounds;

static void *partner(void *unused)
{
    (void)unused;
    for (long i = 0; i < pp_rounds; i++) {
        if (weft_event_wait(&ea, WEFT_FOREVER) != 0) abort();
        weft_event_clear(&ea);
        weft_event_set(&eb);
    }
    return NULL;
}

static double pingpong(long rounds)
{
    pp_rounds = rounds;
    pthread_t t;
    pthread_create(&t, NULL, partner, NULL);
    int64_t t0 = bench_now();
    for (long i = 0; i < rounds; i++) {
        weft_event_set(&ea);
        if (weft_event_wait(&eb, WEFT_FOREVER) != 0) abort();
        weft_event_clear(&eb);
    }
    double ns = (double)(bench_now() - t0) / (double)rounds;
    pthread_join(t, NULL);
    return ns;
}

/* ---- sleeps: weft_sleep(1 us) parks at once (no spin), so every call is a slow path ---- */

static double sleeps(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) weft_sleep(1000);
    return (double)(bench_now() - t0) / (double)n;
}

/* ---- contended lock: 2 threads ---- */

static long counter, per_thread;

static void *hammer(void *unused)
{
    (void)unused;
    for (long i = 0; i < per_thread; i++) {
        if (weft_lock_acquire(&la, WEFT_FOREVER) != 0) abort();
        counter++;
        weft_lock_release(&la);
    }
    return NULL;
}

static double contended(long total)
{
    pthread_t t[2];
    counter = 0;
    per_thread = total / 2;
    int64_t t0 = bench_now();
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return (double)(bench_now() - t0) / (double)total;
}

static void row(const char *name, const char *unit, double (*fn)(long), long n, int runs)
{
    double v[MAX_RUNS];
    for (int r = 0; r < runs; r++) v[r] = fn(n);
    printf("| %-44s | %10.1f | %-15s |\n", name, bench_median(v, (size_t)runs), unit);
}

static void ab_header(void)
{
    printf("| %-40s | %9s | %9s | %-15s | %7s | %9s |\n", "path", "with", "without", "unit",
           "ratio", "per round");
    printf("|------------------------------------------|-----------|-----------|-----------------|"
           "---------|-----------|\n");
}

/* A/B in one run: a and b alternate in short rounds (three per run, a third of n each, each
 * first in every other round), so that a loaded machine's drift hits both alike; prints both medians, their ratio and the
 * median of the per-round ratios. */
static void ab_row(const char *name, const char *unit, double (*a)(long), double (*b)(long), long n,
                   int runs)
{
    double va[3 * MAX_RUNS], vb[3 * MAX_RUNS], vr[3 * MAX_RUNS];
    runs *= 3;
    n /= 3;
    for (int r = 0; r < runs; r++) {
        if (r % 2) { /* each goes first every other round: no bias from going first */
            vb[r] = b(n);
            va[r] = a(n);
        } else {
            va[r] = a(n);
            vb[r] = b(n);
        }
        vr[r] = va[r] / vb[r];
    }
    double ma = bench_median(va, (size_t)runs), mb = bench_median(vb, (size_t)runs);
    printf("| %-40s | %9.1f | %9.1f | %-15s | %7.3f | %9.3f |\n", name, ma, mb, unit, ma / mb,
           bench_median(vr, (size_t)runs));
}

#ifdef WEFT_DEBUG_H
static double record(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        weft__dbg_block(WEFT__WAIT_LOCK, &la, 1, t0, WEFT_FOREVER);
        weft__dbg_unblock();
    }
    return (double)(bench_now() - t0) / (double)n;
}

/* The same paths with the records off (weft__dbg_publish, the bench's switch). */
static double without_records(double (*fn)(long), long n)
{
    atomic_store(&weft__dbg_publish, 0);
    double ns = fn(n);
    atomic_store(&weft__dbg_publish, 1);
    return ns;
}

static double pingpong_bare(long n)
{
    return without_records(pingpong, n);
}

static double contended_bare(long n)
{
    return without_records(contended, n);
}

static double sleeps_bare(long n)
{
    return without_records(sleeps, n);
}

static weft_lock lc = WEFT_LOCK_INIT;

/* Three deep (a, b, c): the third acquisition checks two held locks, through the edge cache. */
static double nested3(long n)
{
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        if (weft_lock_acquire(&la, WEFT_FOREVER) != 0) abort();
        if (weft_lock_acquire(&lb, WEFT_FOREVER) != 0) abort();
        if (weft_lock_acquire(&lc, WEFT_FOREVER) != 0) abort();
        weft_lock_release(&lc);
        weft_lock_release(&lb);
        weft_lock_release(&la);
    }
    return (double)(bench_now() - t0) / (double)n;
}

static double nested3_checked(long n)
{
    weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT);
    double ns = nested3(n);
    weft_debug_lock_order(WEFT_LOCK_ORDER_OFF);
    return ns;
}

static double nested_checked(long n)
{
    weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT);
    double ns = nested(n);
    weft_debug_lock_order(WEFT_LOCK_ORDER_OFF);
    return ns;
}

static double uncontended_checked(long n)
{
    weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT);
    double ns = uncontended(n);
    weft_debug_lock_order(WEFT_LOCK_ORDER_OFF);
    return ns;
}

static weft_event never = WEFT_EVENT_INIT;

static int blocked(void *unused)
{
    (void)unused;
    return weft_event_wait(&never, WEFT_FOREVER);
}

/* Dump with n threads asleep on an event, into /dev/null; ms per dump. */
static void dump_many(int n, int runs)
{
    weft_thread *t = calloc((size_t)n, sizeof *t);
    weft_thread_opts o = {.stack_size = WEFT_THREAD_STACK_MIN};
    int started = 0;
    while (started < n && weft_thread_start(&t[started], blocked, NULL, &o) == 0) started++;
    int fd = open("/dev/null", 1);
    weft_sleep(WEFT_MS(200)); /* their spins run out: each is a blocked record */
    double v[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        int64_t t0 = bench_now();
        if (weft_debug_dump(fd) != 0) abort();
        v[r] = (double)(bench_now() - t0) / 1e6;
    }
    printf("\nweft_debug_dump of %d blocked threads\n", started);
    printf("| %-44s | %10s |\n", "what", "ms");
    printf("|----------------------------------------------|------------|\n");
    printf("| %-44s | %10.2f |\n", "weft_debug_dump", bench_median(v, (size_t)runs));
    close(fd);
    weft_event_set(&never);
    for (int i = 0; i < started; i++) weft_thread_join(t[i], NULL, WEFT_FOREVER);
    free(t);
}
#endif

int main(void)
{
    bench_header("debug_bench");
    int runs = bench_runs(7);
    if (runs > MAX_RUNS) runs = MAX_RUNS;
#ifdef WEFT_DEBUG_H
    printf("weft debug benchmark (with blocked-on records): median of %d runs\n", runs);
#else
    printf("weft debug benchmark (library WITHOUT blocked-on records): median of %d runs\n", runs);
#endif
    printf("\npaths, median of %d runs\n", runs);
    printf("| %-44s | %10s | %-15s |\n", "path", "median", "unit");
    printf("|----------------------------------------------|------------|-----------------|\n");
    row("uncontended lock + unlock", "ns / pair", uncontended, 10000000, runs);
    row("nested pair (a, b, unlock b, a)", "ns / pair", nested, 5000000, runs);
    row("contended lock, 2 threads", "ns / op", contended, 2000000, runs);
    row("ping-pong on two events", "ns / round trip", pingpong, 20000, runs);
    row("weft_sleep(1 us): a park that sleeps at once", "ns / call", sleeps, 2000, runs);
#ifdef WEFT_DEBUG_H
    row("record publish + clear (the added slow path)", "ns / sleep", record, 10000000, runs);
    printf("\nA/B in one run, alternated: blocked-on records on / off (medians of %d)\n", runs);
    ab_header();
    ab_row("ping-pong on two events (sleeping)", "ns / round trip", pingpong, pingpong_bare, 20000,
           runs);
    ab_row("contended lock, 2 threads", "ns / op", contended, contended_bare, 2000000, runs);
    ab_row("weft_sleep(1 us): a park that sleeps", "ns / call", sleeps, sleeps_bare, 2000, runs);
    printf("\nA/B in one run, alternated: lock-order checking on / off (medians of %d)\n", runs);
    ab_header();
    ab_row("uncontended lock + unlock", "ns / pair", uncontended_checked, uncontended, 10000000,
           runs);
    ab_row("nested pair (a, b)", "ns / pair", nested_checked, nested, 5000000, runs);
    ab_row("nested three (a, b, c)", "ns / trio", nested3_checked, nested3, 3000000, runs);
    dump_many(1000, runs);
#endif
    return 0;
}
