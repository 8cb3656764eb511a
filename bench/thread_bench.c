/* bench/thread_bench.c - thread start+join and one-way hand-off latency, weft against raw
 * pthreads, a raw futex ping-pong and a pthread mutex+condvar ping-pong, in one run.
 *
 * Start+join runs twice: free to use every CPU, and with the process pinned to the CPU it is
 * on (the new threads inherit the mask), where the new thread and its joiner share one CPU.
 *
 * The hand-off channel is built on weft's parking lot exactly as the sync and queue modules
 * build theirs: an atomic fast path, and a waiter record parked (spin, then futex) otherwise.
 * Last, the CPU time a waiter burns when nothing comes shows that spinning is bounded. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft.h>

#include "bench_util.h"
#include "core/park.h"

/* ---- thread start + join ---- */

static void *pthread_noop(void *arg)
{
    return arg;
}

static int weft_noop(void *arg)
{
    (void)arg;
    return 0;
}

static double start_join_pthread(int n)
{
    int64_t t0 = bench_now();
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, pthread_noop, NULL) != 0) return -1;
        pthread_join(t, NULL);
    }
    return (double)(bench_now() - t0) / n;
}

static double start_join_weft(int n)
{
    int64_t t0 = bench_now();
    for (int i = 0; i < n; i++) {
        weft_thread t;
        if (weft_thread_start(&t, weft_noop, NULL, NULL) != 0) return -1;
        weft_thread_join(t, NULL, WEFT_FOREVER);
    }
    return (double)(bench_now() - t0) / n;
}

/* ---- one-slot channels: send never blocks, recv waits for the slot to fill ---- */

/* A counting channel: sends are never merged, even when the receiver falls behind. */
struct chan_weft {
    weft__waitq q;
    _Atomic int count; /* sends not yet received; only changed under q.lock when it goes up */
};

static void weft_send(struct chan_weft *c)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&c->q.lock);
    if (weft__waitq_wake_one(&c->q, &wl) == NULL) atomic_fetch_add(&c->count, 1);
    weft__lock_release(&c->q.lock);
    weft__wakelist_flush(&wl);
}

static int take_one(struct chan_weft *c)
{
    int n = atomic_load(&c->count);
    while (n > 0 && !atomic_compare_exchange_weak(&c->count, &n, n - 1)) {
    }
    return n > 0;
}

static void weft_recv(struct chan_weft *c)
{
    if (take_one(c)) return;
    weft__lock_acquire(&c->q.lock);
    if (take_one(c)) { /* a send came in between: it found no waiter and counted */
        weft__lock_release(&c->q.lock);
        return;
    }
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, WEFT_FOREVER);
    weft__waiter_init(&w, &p, 0);
    weft__waitq_wait_locked(&c->q, &w);
}

struct chan_futex {
    _Atomic uint32_t word;
};

static void futex_send(struct chan_futex *c)
{
    atomic_store(&c->word, 1);
    syscall(SYS_futex, &c->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void futex_recv(struct chan_futex *c)
{
    while (atomic_exchange(&c->word, 0) == 0)
        syscall(SYS_futex, &c->word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

struct chan_cond {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int full;
};

static void cond_send(struct chan_cond *c)
{
    pthread_mutex_lock(&c->m);
    c->full = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->m);
}

static void cond_recv(struct chan_cond *c)
{
    pthread_mutex_lock(&c->m);
    while (!c->full) pthread_cond_wait(&c->cv, &c->m);
    c->full = 0;
    pthread_mutex_unlock(&c->m);
}

/* ---- ping-pong driver ---- */

enum kind { WEFT, FUTEX, COND };

struct pingpong {
    enum kind kind;
    int rounds;
    struct chan_weft w[2];
    struct chan_futex f[2];
    struct chan_cond c[2];
};

static void send_to(struct pingpong *pp, int i)
{
    if (pp->kind == WEFT) weft_send(&pp->w[i]);
    if (pp->kind == FUTEX) futex_send(&pp->f[i]);
    if (pp->kind == COND) cond_send(&pp->c[i]);
}

static void recv_from(struct pingpong *pp, int i)
{
    if (pp->kind == WEFT) weft_recv(&pp->w[i]);
    if (pp->kind == FUTEX) futex_recv(&pp->f[i]);
    if (pp->kind == COND) cond_recv(&pp->c[i]);
}

static void *ponger(void *arg)
{
    struct pingpong *pp = arg;
    for (int i = 0; i < pp->rounds; i++) {
        recv_from(pp, 0);
        send_to(pp, 1);
    }
    return NULL;
}

/* One-way hand-off latency in ns: half a round trip. */
static double pingpong(enum kind kind, int rounds)
{
    static struct pingpong pp;
    pp = (struct pingpong){.kind = kind, .rounds = rounds};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&pp.c[i].m, NULL);
        pthread_cond_init(&pp.c[i].cv, NULL);
    }
    pthread_t t;
    pthread_create(&t, NULL, ponger, &pp);
    int64_t t0 = bench_now();
    for (int i = 0; i < rounds; i++) {
        send_to(&pp, 0);
        recv_from(&pp, 1);
    }
    double ns = (double)(bench_now() - t0) / (2.0 * rounds);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_destroy(&pp.c[i].m);
        pthread_cond_destroy(&pp.c[i].cv);
    }
    return ns;
}

/* ---- CPU use of a waiter ---- */

struct idle {
    struct chan_weft ch;
    int messages;
    int64_t cpu_ns;
};

static void *idle_waiter(void *arg)
{
    struct idle *s = arg;
    int64_t c0 = bench_thread_cpu();
    for (int i = 0; i < s->messages; i++) weft_recv(&s->ch);
    s->cpu_ns = bench_thread_cpu() - c0;
    return NULL;
}

/* The waiter's CPU time while `messages` messages arrive `gap_ns` apart. */
static void idle_cpu(int messages, int64_t gap_ns)
{
    static struct idle s;
    s = (struct idle){.messages = messages};
    pthread_t t;
    pthread_create(&t, NULL, idle_waiter, &s);
    int64_t t0 = bench_now();
    for (int i = 0; i < messages; i++) {
        weft_sleep(gap_ns);
        weft_send(&s.ch);
    }
    pthread_join(t, NULL);
    double wall = (double)(bench_now() - t0);
    printf("| waiter, %4d messages %6.1f ms apart | CPU %8.1f us | %6.2f%% of wall time |\n",
           messages, (double)gap_ns / 1e6, (double)s.cpu_ns / 1e3, 100.0 * (double)s.cpu_ns / wall);
}

static void start_join_table(const char *title, int runs, int starts)
{
    double a[64], b[64];
    for (int r = 0; r < runs; r++) { /* interleaved, so drift hits both alike */
        a[r] = start_join_pthread(starts);
        b[r] = start_join_weft(starts);
    }
    bench_table_begin(title, "ns / thread");
    double base = bench_median(a, (size_t)runs);
    bench_table_row("pthread_create + pthread_join", base, base, 0);
    bench_table_row("weft_thread_start + weft_thread_join", bench_median(b, (size_t)runs), base, 0);
}

int main(void)
{
    bench_header("thread_bench");
    int runs = bench_runs(7);
    enum { STARTS = 400, ROUNDS = 20000, SLOW_ROUNDS = 2000 };
    double a[64], b[64], c[64];
    if (runs > 64) runs = 64;

    printf("weft thread benchmark: median of %d runs; ratio = speed relative to the first row\n",
           runs);
    start_join_table("thread start + join (one at a time)", runs, STARTS);
    cpu_set_t all, one;
    int cpu = sched_getcpu();
    if (cpu >= 0 && sched_getaffinity(0, sizeof all, &all) == 0) {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) == 0) {
            start_join_table("thread start + join, pinned to one CPU", runs, STARTS);
            sched_setaffinity(0, sizeof all, &all);
        }
    }
    double base;

    for (int r = 0; r < runs; r++) {
        a[r] = pingpong(COND, SLOW_ROUNDS);
        b[r] = pingpong(FUTEX, SLOW_ROUNDS);
        c[r] = pingpong(WEFT, ROUNDS);
    }
    bench_table_begin("one-way hand-off, ping-pong between two threads", "ns / hand-off");
    base = bench_median(a, (size_t)runs);
    bench_table_row("pthread mutex + condvar", base, base, 0);
    bench_table_row("raw futex wait/wake", bench_median(b, (size_t)runs), base, 0);
    bench_table_row("weft park/unpark (spin, then futex)", bench_median(c, (size_t)runs), base, 0);

    printf("\nCPU time of a weft waiter with little to do (spinning is bounded):\n");
    idle_cpu(1, 500 * 1000000LL);
    idle_cpu(100, 5 * 1000000LL);
    idle_cpu(1000, 200 * 1000LL);
    return 0;
}
