/* bench/cancel_bench.c - cancellation latency: how long from the cancel call until all of N
 * threads blocked in a queue get have returned, weft against the seed-003 pattern written with
 * pthreads (each thread waits on its queue with a 50 ms timeout and polls a stop flag).
 * Median and p99 of repeated runs, for N = 1, 16, 256. A third column shows the kernel's own
 * floor: N threads asleep on futex words, woken one by one with FUTEX_WAKE and no other work.
 * On a VM, waking a thread asleep in the kernel and getting it onto a CPU costs ~10-15 us, and
 * N threads share 2 CPUs, so no wake-up scheme can end all N waits faster than that floor. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

#include "bench_util.h"

enum { MAXN = 256 };

/* ---- weft: threads blocked in weft_queue_get, woken by cancelling their scope ---- */

struct wctx {
    weft_queue *q;
    _Atomic int blocked;
    int64_t done_at[MAXN];
    _Atomic int next;
};

static int weft_getter(void *arg)
{
    struct wctx *c = arg;
    int me = atomic_fetch_add(&c->next, 1);
    void *item;
    atomic_fetch_add(&c->blocked, 1);
    int rc = weft_queue_get(c->q, &item, WEFT_FOREVER);
    c->done_at[me] = bench_now();
    return rc == WEFT_ECANCELED ? 0 : 1;
}

static double weft_run(int n)
{
    static struct wctx c;
    c = (struct wctx){0};
    weft_scope *s;
    weft_thread t[MAXN];
    if (weft_queue_new(&c.q, NULL) || weft_scope_new(&s, NULL, NULL)) return -1;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.scope = s;
    for (int i = 0; i < n; i++)
        if (weft_thread_start(&t[i], weft_getter, &c, &o)) return -1;
    while (atomic_load(&c.blocked) < n) weft_sleep(WEFT_MS(1));
    weft_sleep(WEFT_MS(20)); /* past any spinning: every thread sleeps in the kernel */
    int64_t t0 = bench_now();
    weft_scope_cancel(s, WEFT_ECANCELED, "bench");
    int64_t last = t0;
    for (int i = 0; i < n; i++) {
        int st;
        weft_thread_join(t[i], &st, WEFT_FOREVER);
        if (st != 0) return -1;
    }
    for (int i = 0; i < n; i++)
        if (c.done_at[i] > last) last = c.done_at[i];
    weft_scope_free(s);
    weft_queue_free(c.q);
    return (double)(last - t0) / 1e3;
}

/* ---- pthreads, seed 003: get with a 50 ms timeout, then look at a stop flag ---- */

struct pctx {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int items;
    _Atomic int stop, blocked;
    int64_t done_at[MAXN];
    _Atomic int next;
};

static void *poller(void *arg)
{
    struct pctx *c = arg;
    int me = atomic_fetch_add(&c->next, 1);
    atomic_fetch_add(&c->blocked, 1);
    while (!atomic_load(&c->stop)) {
        pthread_mutex_lock(&c->m);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (c->items == 0 && pthread_cond_timedwait(&c->cv, &c->m, &ts) == 0) {
        }
        pthread_mutex_unlock(&c->m);
    }
    c->done_at[me] = bench_now();
    return NULL;
}

static double poll_run(int n)
{
    static struct pctx c;
    c = (struct pctx){.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t t[MAXN];
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, poller, &c)) return -1;
    while (atomic_load(&c.blocked) < n) weft_sleep(WEFT_MS(1));
    weft_sleep(WEFT_MS(20));
    int64_t t0 = bench_now();
    atomic_store(&c.stop, 1);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    int64_t last = t0;
    for (int i = 0; i < n; i++)
        if (c.done_at[i] > last) last = c.done_at[i];
    return (double)(last - t0) / 1e3;
}

/* ---- the floor: raw futex waits, woken one by one ---- */

struct fctx {
    _Atomic uint32_t word[MAXN];
    _Atomic int blocked;
    int64_t done_at[MAXN];
    _Atomic int next;
};

static void *futex_waiter(void *arg)
{
    struct fctx *c = arg;
    int me = atomic_fetch_add(&c->next, 1);
    atomic_fetch_add(&c->blocked, 1);
    while (atomic_load(&c->word[me]) == 0)
        syscall(SYS_futex, &c->word[me], FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    c->done_at[me] = bench_now();
    return NULL;
}

static double floor_run(int n)
{
    static struct fctx c;
    c = (struct fctx){0};
    pthread_t t[MAXN];
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, futex_waiter, &c)) return -1;
    while (atomic_load(&c.blocked) < n) weft_sleep(WEFT_MS(1));
    weft_sleep(WEFT_MS(20));
    int64_t t0 = bench_now();
    for (int i = 0; i < n; i++) {
        atomic_store(&c.word[i], 1);
        syscall(SYS_futex, &c.word[i], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    int64_t last = t0;
    for (int i = 0; i < n; i++)
        if (c.done_at[i] > last) last = c.done_at[i];
    return (double)(last - t0) / 1e3;
}

static void measure(int n, int runs)
{
    double w[64], p[64], f[64];
    for (int r = 0; r < runs; r++) {
        w[r] = weft_run(n);
        p[r] = poll_run(n);
        f[r] = floor_run(n);
        if (w[r] < 0 || p[r] < 0 || f[r] < 0) {
            fprintf(stderr, "run failed\n");
            exit(1);
        }
    }
    double wm = bench_median(w, (size_t)runs), w99 = bench_percentile(w, (size_t)runs, 99);
    double pm = bench_median(p, (size_t)runs), p99 = bench_percentile(p, (size_t)runs, 99);
    double fm = bench_median(f, (size_t)runs);
    printf("| %4d threads | %10.1f us | %10.1f us | %10.1f us | %10.1f us | %8.0fx | %10.1f us |\n",
           n, wm, w99, pm, p99, pm / wm, fm);
    fflush(stdout);
}

int main(void)
{
    bench_header("cancel_bench");
    int runs = bench_runs(21);
    if (runs > 64) runs = 64;
    printf("cancellation latency: from the cancel call until all N threads blocked in a queue get\n"
           "have returned; median and p99 of %d runs\n\n",
           runs);
    printf("| N            | weft median   | weft p99      | 50 ms poll med | 50 ms poll p99 | "
           "speed-up | futex floor   |\n");
    printf("|--------------|---------------|---------------|----------------|----------------|"
           "----------|---------------|\n");
    measure(1, runs);
    measure(16, runs);
    measure(256, runs > 11 ? 11 : runs);
    return 0;
}
