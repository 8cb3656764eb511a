/* bench/sync_bench.c - weft's Lock, Event and Semaphore against pthread_mutex,
 * pthread_spinlock, sem_t and a pthread mutex+condvar, in one run; medians of repeated runs,
 * printed with ratios to the pthread baseline of each table.
 *
 *   uncontended lock+unlock      one thread, ns per pair (lower is better)
 *   contended lock, 2/4 threads  a shared counter, million lock+increment+unlock per second
 *   ping-pong                    two threads hand a turn back and forth, ns per round trip
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>

#include <weft.h>

#include "bench_util.h"

/* ---- the locks, behind one interface ---- */

enum kind { K_WEFT, K_MUTEX, K_SPIN, K_COUNT };
static const char *kind_name[K_COUNT] = {"weft_lock", "pthread_mutex", "pthread_spinlock"};

struct anylock {
    enum kind kind;
    weft_lock w;
    pthread_mutex_t m;
    pthread_spinlock_t s;
};

static void any_init(struct anylock *l, enum kind k)
{
    l->kind = k;
    l->w = (weft_lock)WEFT_LOCK_INIT;
    pthread_mutex_init(&l->m, NULL);
    pthread_spin_init(&l->s, PTHREAD_PROCESS_PRIVATE);
}

static inline void any_lock(struct anylock *l)
{
    switch (l->kind) {
    case K_WEFT:
        (void)!weft_lock_acquire(&l->w, WEFT_FOREVER);
        break;
    case K_MUTEX:
        pthread_mutex_lock(&l->m);
        break;
    default:
        pthread_spin_lock(&l->s);
        break;
    }
}

static inline void any_unlock(struct anylock *l)
{
    switch (l->kind) {
    case K_WEFT:
        weft_lock_release(&l->w);
        break;
    case K_MUTEX:
        pthread_mutex_unlock(&l->m);
        break;
    default:
        pthread_spin_unlock(&l->s);
        break;
    }
}

/* ---- uncontended ---- */

static double uncontended(enum kind k, long n)
{
    static struct anylock l;
    any_init(&l, k);
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) {
        any_lock(&l);
        any_unlock(&l);
    }
    return (double)(bench_now() - t0) / (double)n;
}

/* ---- contended: threads share one counter ---- */

struct contended {
    struct anylock lock;
    long counter, per_thread;
};

static void *hammer(void *arg)
{
    struct contended *c = arg;
    for (long i = 0; i < c->per_thread; i++) {
        any_lock(&c->lock);
        c->counter++;
        any_unlock(&c->lock);
    }
    return NULL;
}

static double contended(enum kind k, int nthreads, long total)
{
    static struct contended c;
    any_init(&c.lock, k);
    c.counter = 0;
    c.per_thread = total / nthreads;
    pthread_t t[8];
    int64_t t0 = bench_now();
    for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, hammer, &c);
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    double secs = (double)(bench_now() - t0) / 1e9;
    if (c.counter != c.per_thread * nthreads) fprintf(stderr, "lost increments!\n");
    return (double)c.counter / secs / 1e6;
}

/* ---- ping-pong: main signals a, the partner waits a and signals b ---- */

enum pp { PP_CONDVAR, PP_SEM_T, PP_WEFT_EVENT, PP_WEFT_SEM, PP_COUNT };
static const char *pp_name[PP_COUNT] = {"pthread mutex + condvar", "sem_t (futex)", "weft_event",
                                        "weft_sem"};

struct pingpong {
    enum pp kind;
    long rounds;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int turn; /* condvar: 0 main's, 1 partner's */
    sem_t sa, sb;
    weft_event ea, eb;
    weft_sem wa, wb;
};

static void pp_signal(struct pingpong *p, int to_partner)
{
    switch (p->kind) {
    case PP_CONDVAR:
        pthread_mutex_lock(&p->m);
        p->turn = to_partner;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->m);
        break;
    case PP_SEM_T:
        sem_post(to_partner ? &p->sa : &p->sb);
        break;
    case PP_WEFT_EVENT:
        weft_event_set(to_partner ? &p->ea : &p->eb);
        break;
    default:
        weft_sem_release(to_partner ? &p->wa : &p->wb, 1);
        break;
    }
}

static void pp_wait(struct pingpong *p, int partner)
{
    weft_event *e = partner ? &p->ea : &p->eb;
    switch (p->kind) {
    case PP_CONDVAR:
        pthread_mutex_lock(&p->m);
        while (p->turn != partner) pthread_cond_wait(&p->cv, &p->m);
        pthread_mutex_unlock(&p->m);
        break;
    case PP_SEM_T:
        while (sem_wait(partner ? &p->sa : &p->sb) != 0) {
        }
        break;
    case PP_WEFT_EVENT:
        (void)!weft_event_wait(e, WEFT_FOREVER);
        weft_event_clear(e);
        break;
    default:
        (void)!weft_sem_acquire(partner ? &p->wa : &p->wb, WEFT_FOREVER);
        break;
    }
}

static void *partner(void *arg)
{
    struct pingpong *p = arg;
    for (long i = 0; i < p->rounds; i++) {
        pp_wait(p, 1);
        pp_signal(p, 0);
    }
    return NULL;
}

static double pingpong(enum pp kind, long rounds)
{
    static struct pingpong p;
    p.kind = kind;
    p.rounds = rounds;
    p.turn = 0;
    pthread_mutex_init(&p.m, NULL);
    pthread_cond_init(&p.cv, NULL);
    sem_init(&p.sa, 0, 0);
    sem_init(&p.sb, 0, 0);
    p.ea = p.eb = (weft_event)WEFT_EVENT_INIT;
    p.wa = p.wb = (weft_sem)WEFT_SEM_INIT(0);
    pthread_t t;
    pthread_create(&t, NULL, partner, &p);
    int64_t t0 = bench_now();
    for (long i = 0; i < rounds; i++) {
        pp_signal(&p, 1);
        pp_wait(&p, 0);
    }
    double ns = (double)(bench_now() - t0) / (double)rounds;
    pthread_join(t, NULL);
    return ns;
}

/* ---- tables ---- */

#define MAX_RUNS 64

static void lock_table(const char *title, const char *unit, int runs, int higher,
                       double (*measure)(enum kind, int, long), int nthreads, long n)
{
    double v[K_COUNT][MAX_RUNS];
    for (int r = 0; r < runs; r++) /* interleaved, so drift hits all alike */
        for (int k = 0; k < K_COUNT; k++) v[k][r] = measure((enum kind)k, nthreads, n);
    bench_table_begin(title, unit);
    double base = bench_median(v[K_MUTEX], (size_t)runs);
    bench_table_row(kind_name[K_MUTEX], base, base, higher);
    bench_table_row(kind_name[K_SPIN], bench_median(v[K_SPIN], (size_t)runs), base, higher);
    bench_table_row(kind_name[K_WEFT], bench_median(v[K_WEFT], (size_t)runs), base, higher);
}

static double uncontended_m(enum kind k, int nthreads, long n)
{
    (void)nthreads;
    return uncontended(k, n);
}

static void *nothing(void *arg)
{
    return arg;
}

int main(void)
{
    bench_header("sync_bench");
    /* glibc drops the atomics from pthread_mutex_lock while a process has only one thread;
     * a lock matters once there are threads, so measure in that state. */
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    int runs = bench_runs(5);
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    printf("weft sync benchmark: median of %d runs; ratio = speed relative to the first row\n",
           runs);
    lock_table("uncontended lock + unlock", "ns / pair", runs, 0, uncontended_m, 1, 10000000);
    lock_table("contended lock, 2 threads", "M ops / s", runs, 1, contended, 2, 2000000);
    lock_table("contended lock, 4 threads", "M ops / s", runs, 1, contended, 4, 2000000);

    double v[PP_COUNT][MAX_RUNS];
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < PP_COUNT; k++)
            v[k][r] = pingpong((enum pp)k, k == PP_CONDVAR ? 5000 : 20000);
    bench_table_begin("ping-pong between two threads", "ns / round trip");
    double base = bench_median(v[PP_CONDVAR], (size_t)runs);
    for (int k = 0; k < PP_COUNT; k++)
        bench_table_row(pp_name[k], bench_median(v[k], (size_t)runs), base, 0);
    return 0;
}
