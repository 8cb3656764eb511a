/* bench/queue_bench.c - queue throughput and hand-off latency: weft against the peers, in one
 * run, as medians and ratios.
 *
 * Contenders (each moves void * items, blocking when it must wait):
 *   naive ring     pthread mutex + 2 condvars over a 1024-slot ring, what a C programmer writes
 *   GAsyncQueue    GLib's (unbounded: mutex + condvar over a linked list)
 *   moodycamel     BlockingConcurrentQueue (unbounded, lock-free + semaphore), via a C++ adapter
 *   ck_ring        Concurrency Kit's MPMC ring (1024 slots), waiting by spinning then yielding
 *   wfcqueue       liburcu's wait-free concurrent queue (unbounded, a malloc'd node per item,
 *                  enqueue one exchange, dequeue under its head mutex), waiting as ck_ring does
 *   weft           weft_queue, capacity 1024 and unbounded
 * Throughput: P producers put ITEMS items in all, C consumers get them, for 1P1C, 2P2C, 4P4C;
 * Mitems/s from the moment all threads are released to the last get. Latency: one-way hand-off
 * time through a ping-pong over two queues (round trip / 2).
 * BENCH_RUNS (default 5) rounds, medians; ratios are against the naive ring. Each round runs
 * every contender once, in turn, so that the machine's drift (this is a shared VM) hits all
 * contenders alike instead of whichever happened to run during a slow stretch.
 * BENCH_ONLY=a,b runs only the contenders whose name contains a or b (the baseline always runs);
 * BENCH_SHAPES=a,b only the tables whose title contains a or b ("2P2C,4P4C", "latency").
 * ck_ring is left out where threads outnumber CPUs: its multi-producer enqueue spins, without
 * yielding, until a preempted producer ahead of it publishes, and with 4 threads on 2 CPUs a
 * run took minutes instead of a second (8 on 2, always). */
#include <ck_ring.h>
#ifdef WEFT_BENCH_URCU
#define _LGPL_SOURCE /* liburcu's inline (static) wfcqueue functions */
#include <urcu/wfcqueue.h>
#endif
#include <glib.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "bench_util.h"

#define ITEMS    2000000L
#define PINGS    50000L
#define RING_CAP 1024

void *mc_new(void);
void mc_free(void *q);
int mc_put(void *q, void *item);
void *mc_get(void *q);

struct impl {
    const char *name;
    void *(*make)(size_t cap);
    void (*destroy)(void *q);
    void (*put)(void *q, void *item);
    void *(*get)(void *q);
    size_t cap; /* passed to make */
};

/* ---- naive ring ---- */

struct naive {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    size_t head, count, cap;
    void **slot;
};

static void *naive_make(size_t cap)
{
    struct naive *n = calloc(1, sizeof *n);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->not_empty, NULL);
    pthread_cond_init(&n->not_full, NULL);
    n->cap = cap;
    n->slot = calloc(cap, sizeof *n->slot);
    return n;
}

static void naive_destroy(void *q)
{
    struct naive *n = q;
    free(n->slot);
    free(n);
}

static void naive_put(void *q, void *item)
{
    struct naive *n = q;
    pthread_mutex_lock(&n->mu);
    while (n->count == n->cap) pthread_cond_wait(&n->not_full, &n->mu);
    n->slot[(n->head + n->count++) % n->cap] = item;
    pthread_cond_signal(&n->not_empty);
    pthread_mutex_unlock(&n->mu);
}

static void *naive_get(void *q)
{
    struct naive *n = q;
    pthread_mutex_lock(&n->mu);
    while (n->count == 0) pthread_cond_wait(&n->not_empty, &n->mu);
    void *item = n->slot[n->head];
    n->head = (n->head + 1) % n->cap;
    n->count--;
    pthread_cond_signal(&n->not_full);
    pthread_mutex_unlock(&n->mu);
    return item;
}

/* ---- GAsyncQueue ---- */

static void *gq_make(size_t cap)
{
    (void)cap;
    return g_async_queue_new();
}

static void gq_destroy(void *q)
{
    g_async_queue_unref(q);
}

static void gq_put(void *q, void *item)
{
    g_async_queue_push(q, item);
}

static void *gq_get(void *q)
{
    return g_async_queue_pop(q);
}

/* ---- moodycamel ---- */

static void *mc_make(size_t cap)
{
    (void)cap;
    return mc_new();
}

static void mc_put_v(void *q, void *item)
{
    (void)mc_put(q, item);
}

/* ---- ck_ring (MPMC), spin then yield ---- */

struct ckq {
    ck_ring_t ring;
    ck_ring_buffer_t buf[RING_CAP];
};

static void *ck_make(size_t cap)
{
    (void)cap;
    struct ckq *c = aligned_alloc(64, (sizeof(struct ckq) + 63) / 64 * 64);
    ck_ring_init(&c->ring, RING_CAP);
    return c;
}

static void ck_destroy(void *q)
{
    free(q);
}

static void backoff(int *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else
        sched_yield();
}

static void ck_put(void *q, void *item)
{
    struct ckq *c = q;
    int spins = 0;
    while (!ck_ring_enqueue_mpmc(&c->ring, c->buf, item)) backoff(&spins);
}

static void *ck_get(void *q)
{
    struct ckq *c = q;
    void *item;
    int spins = 0;
    while (!ck_ring_dequeue_mpmc(&c->ring, c->buf, &item)) backoff(&spins);
    return item;
}

/* ---- liburcu wfcqueue, spin then yield ---- */

#ifdef WEFT_BENCH_URCU
struct wfq {
    struct cds_wfcq_head head;
    char pad[64];
    struct cds_wfcq_tail tail;
};

struct wfnode {
    struct cds_wfcq_node node;
    void *item;
};

static void *wf_make(size_t cap)
{
    (void)cap;
    struct wfq *w = aligned_alloc(64, (sizeof(struct wfq) + 63) / 64 * 64);
    cds_wfcq_init(&w->head, &w->tail);
    return w;
}

static void wf_destroy(void *q)
{
    struct wfq *w = q;
    cds_wfcq_destroy(&w->head, &w->tail);
    free(w);
}

static void wf_put(void *q, void *item)
{
    struct wfq *w = q;
    struct wfnode *n = malloc(sizeof *n);
    if (n == NULL) abort();
    cds_wfcq_node_init(&n->node);
    n->item = item;
    cds_wfcq_enqueue(&w->head, &w->tail, &n->node);
}

static void *wf_get(void *q)
{
    struct wfq *w = q;
    struct cds_wfcq_node *node;
    int spins = 0;
    while ((node = cds_wfcq_dequeue_blocking(&w->head, &w->tail)) == NULL) backoff(&spins);
    struct wfnode *n = caa_container_of(node, struct wfnode, node);
    void *item = n->item;
    free(n);
    return item;
}
#endif

/* ---- weft ---- */

static void *weft_make(size_t cap)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = cap;
    weft_queue *q = NULL;
    if (weft_queue_new(&q, &o) != 0) abort();
    return q;
}

static void weft_destroy(void *q)
{
    weft_queue_free(q);
}

static void weft_put(void *q, void *item)
{
    if (weft_queue_put(q, item, WEFT_FOREVER) != 0) abort();
}

static void *weft_get(void *q)
{
    void *item;
    if (weft_queue_get(q, &item, WEFT_FOREVER) != 0) abort();
    return item;
}

static const struct impl impls[] = {
    {"naive ring (mutex+2 condvars, 1024)", naive_make, naive_destroy, naive_put, naive_get,
     RING_CAP},
    {"GAsyncQueue", gq_make, gq_destroy, gq_put, gq_get, 0},
    {"moodycamel BlockingConcurrentQueue", mc_make, mc_free, mc_put_v, mc_get, 0},
    {"ck_ring mpmc (1024, spin/yield)", ck_make, ck_destroy, ck_put, ck_get, RING_CAP},
#ifdef WEFT_BENCH_URCU
    {"liburcu wfcqueue (spin/yield)", wf_make, wf_destroy, wf_put, wf_get, 0},
#endif
    {"weft_queue (capacity 1024)", weft_make, weft_destroy, weft_put, weft_get, RING_CAP},
    {"weft_queue (unbounded)", weft_make, weft_destroy, weft_put, weft_get, 0},
};
#define NIMPL (sizeof impls / sizeof impls[0])

static int selected(size_t i, int threads)
{
    const char *only = getenv("BENCH_ONLY");
    if (i == 0) return 1;
    if (only && *only && !bench_name_listed(impls[i].name, only)) return 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return !(impls[i].make == ck_make && threads > (cpus > 0 ? cpus : 1));
}

/* ---- throughput ---- */

struct tp {
    const struct impl *im;
    void *q;
    long n;
    pthread_barrier_t *go;
};

static void *producer(void *arg)
{
    struct tp *t = arg;
    pthread_barrier_wait(t->go);
    for (long i = 1; i <= t->n; i++) t->im->put(t->q, (void *)(uintptr_t)i);
    return NULL;
}

static void *consumer(void *arg)
{
    struct tp *t = arg;
    uintptr_t sum = 0;
    pthread_barrier_wait(t->go);
    for (long i = 0; i < t->n; i++) sum += (uintptr_t)t->im->get(t->q);
    return (void *)sum;
}

/* One run: Mitems/s. */
static double throughput(const struct impl *im, int np, int nc)
{
    void *q = im->make(im->cap);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)(np + nc + 1));
    pthread_t th[16];
    struct tp p = {im, q, ITEMS / np, &go}, c = {im, q, ITEMS / nc, &go};
    for (int i = 0; i < np; i++) pthread_create(&th[i], NULL, producer, &p);
    for (int i = 0; i < nc; i++) pthread_create(&th[np + i], NULL, consumer, &c);
    pthread_barrier_wait(&go);
    int64_t t0 = bench_now();
    for (int i = np; i < np + nc; i++) pthread_join(th[i], NULL);
    int64_t t1 = bench_now();
    for (int i = 0; i < np; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    im->destroy(q);
    return (double)ITEMS / ((double)(t1 - t0) / 1e3);
}

/* ---- latency: ping-pong ---- */

struct pp {
    const struct impl *im;
    void *ping, *pong;
};

static void *ponger(void *arg)
{
    struct pp *p = arg;
    for (long i = 0; i < PINGS; i++) p->im->put(p->pong, p->im->get(p->ping));
    return NULL;
}

/* One run: one-way hand-off in ns. */
static double latency(const struct impl *im)
{
    struct pp p = {im, im->make(im->cap), im->make(im->cap)};
    pthread_t t;
    pthread_create(&t, NULL, ponger, &p);
    int64_t t0 = bench_now();
    for (long i = 1; i <= PINGS; i++) {
        im->put(p.ping, (void *)(uintptr_t)i);
        (void)im->get(p.pong);
    }
    int64_t t1 = bench_now();
    pthread_join(t, NULL);
    im->destroy(p.ping);
    im->destroy(p.pong);
    return (double)(t1 - t0) / PINGS / 2;
}

#define MAX_RUNS 31

/* One table: `runs` rounds of every selected contender in turn (np = 0: latency), medians. */
static void table(const char *title, const char *unit, int runs, int np, int nc)
{
    static double v[NIMPL][MAX_RUNS];
    double med[NIMPL];
    const char *shapes = getenv("BENCH_SHAPES");
    if (shapes && *shapes && !bench_name_listed(title, shapes)) return;
    for (int r = 0; r < runs; r++)
        for (size_t i = 0; i < NIMPL; i++)
            if (selected(i, np ? np + nc : 2))
                v[i][r] = np ? throughput(&impls[i], np, nc) : latency(&impls[i]);
    bench_table_begin(title, unit);
    for (size_t i = 0; i < NIMPL; i++) {
        if (!selected(i, np ? np + nc : 2)) continue;
        med[i] = bench_median(v[i], (size_t)runs);
        bench_table_row(impls[i].name, med[i], med[0], np != 0);
    }
}

int main(void)
{
    bench_header("queue_bench");
    int runs = bench_runs(5);
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    static const int cfg[][2] = {{1, 1}, {2, 2}, {4, 4}};
    printf("queue_bench: %ld items per run, %d rounds of every contender in turn, medians\n", ITEMS,
           runs);
    for (size_t k = 0; k < 3; k++) {
        char title[64];
        snprintf(title, sizeof title, "throughput %dP%dC", cfg[k][0], cfg[k][1]);
        table(title, "Mitems/s", runs, cfg[k][0], cfg[k][1]);
    }
    table("one-way hand-off latency (ping-pong)", "ns", runs, 0, 0);
    return 0;
}
