/* src/pool/records.c - task/future records, recycled through per-thread caches.
 *
 * Each thread keeps its free records in an array (a stack of pointers, no atomics). When it is
 * full, its older half moves to the global depot as one magazine (an array of MAG pointers);
 * an empty cache refills with one magazine from the depot before falling back to malloc. A
 * thread that exits gives its cache back (a pthread key destructor). Records are never given
 * back to malloc: they are type-stable (see pool_internal.h), and the steady state allocates
 * nothing (the magazines themselves are kept in the depot once made).
 *
 * Why arrays and not lists threaded through the records: with one thread submitting and
 * workers running, every record a submitter takes was last written by a worker, so reading it
 * is a cache miss. A list makes the submitter read the record to find the next one, one miss
 * after the other (half the submitter's time went there); an array gives the addresses ahead
 * of time, and alloc prefetches the record it will hand out AHEAD calls later.
 *
 * If no memory is left for a magazine, the records are linked (through ->next) on the depot's
 * loose list instead, which a refill walks: slow, but nothing is lost.
 *
 * Lock order: depot.lock is a leaf.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pool/pool_internal.h"

#define CACHE_MAX 512
#define MAG       (CACHE_MAX / 2)
#define AHEAD     8

struct mag {
    struct mag *next;
    int n;
    weft_future *rec[MAG];
};

static struct {
    weft__lock lock;
    struct mag *full, *empty;
    weft_future *loose; /* ->next-linked, when no magazine could be made */
} depot;

static _Thread_local struct {
    weft_future *rec[CACHE_MAX];
    int n;
    bool keyed;
} cache;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* Give the first k records of the cache (the coldest) to the depot; the rest move down. */
static void spill(int k)
{
    if (k > cache.n) k = cache.n;
    if (k <= 0) return;
    struct mag *m = NULL;
    if (!weft__fault(WEFT__FAULT_MAGAZINE)) { /* a test's "no magazine to be had" */
        weft__lock_acquire(&depot.lock);
        if ((m = depot.empty) != NULL) depot.empty = m->next;
        weft__lock_release(&depot.lock);
        if (m == NULL) m = malloc(sizeof *m);
    }
    if (m) {
        m->n = k < MAG ? k : MAG;
        memcpy(m->rec, cache.rec, (size_t)m->n * sizeof m->rec[0]);
        k = m->n;
    } else { /* no memory: link them */
        for (int i = 0; i + 1 < k; i++) cache.rec[i]->next = cache.rec[i + 1];
    }
    weft__lock_acquire(&depot.lock);
    if (m) {
        m->next = depot.full;
        depot.full = m;
    } else {
        cache.rec[k - 1]->next = depot.loose;
        depot.loose = cache.rec[0];
    }
    weft__lock_release(&depot.lock);
    cache.n -= k;
    memmove(cache.rec, cache.rec + k, (size_t)cache.n * sizeof cache.rec[0]);
}

static void thread_exit(void *unused)
{
    (void)unused;
    while (cache.n > 0) spill(MAG);
}

static void make_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
}

static void register_exit(void)
{
    cache.keyed = true;
    pthread_once(&key_once, make_key);
    pthread_setspecific(exit_key, &cache);
}

/* Fill the empty cache from the depot: one magazine, else up to MAG loose records. */
static void refill(void)
{
    if (!cache.keyed) register_exit();
    weft__lock_acquire(&depot.lock);
    struct mag *m = depot.full;
    if (m) {
        depot.full = m->next;
        memcpy(cache.rec, m->rec, (size_t)m->n * sizeof m->rec[0]);
        cache.n = m->n;
        m->next = depot.empty;
        depot.empty = m;
    } else {
        while (depot.loose && cache.n < MAG) {
            cache.rec[cache.n++] = depot.loose;
            depot.loose = depot.loose->next;
        }
    }
    weft__lock_release(&depot.lock);
    for (int i = 1; i <= AHEAD && i <= cache.n; i++) __builtin_prefetch(cache.rec[cache.n - i], 1);
}

static weft_future *fresh(void)
{
    /* aligned: the hot line must be one cache line (pool_internal.h). */
    weft_future *f = weft__fault(WEFT__FAULT_ALLOC) ? NULL : aligned_alloc(64, sizeof *f);
    if (f == NULL) return NULL;
    memset(f, 0, sizeof *f);
    f->cbs_tail = &f->cbs;
    return f;
}

weft_future *weft__rec_alloc(void)
{
    if (cache.n == 0) refill();
    if (cache.n == 0) return fresh();
    weft_future *f = cache.rec[--cache.n];
    /* The record handed out AHEAD calls from now (the submit writes its hot line). */
    if (cache.n >= AHEAD) __builtin_prefetch(cache.rec[cache.n - AHEAD], 1);
    return f;
}

void weft__rec_free(weft_future *f)
{
    if (!cache.keyed) register_exit();
    if (cache.n == CACHE_MAX) spill(MAG);
    cache.rec[cache.n++] = f;
}
