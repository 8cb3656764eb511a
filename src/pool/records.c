/* src/pool/records.c - task/future records, recycled through per-thread caches.
 *
 * Each thread keeps its free records in an array (a stack of pointers, no atomics). When it is
 * full, its older half moves to the global depot as one magazine (an array of MAG pointers);
 * an empty cache refills with one magazine from the depot before falling back to malloc. A
 * thread that exits gives its cache back (a pthread key destructor). Records are never given
 * back to malloc: they are type-stable (see task.h), and the steady state allocates
 * nothing (the magazines themselves are kept in the depot once made).
 *
 * Why arrays and not lists threaded through the records: with one thread submitting and
 * workers running, every record a submitter takes was last touched by a worker, so writing it
 * is a cache miss. A list makes the submitter read the record to find the next one, one miss
 * after the other (half the submitter's time went there); an array gives the addresses ahead
 * of time, and alloc prefetches the record it will hand out AHEAD calls later.
 *
 * If no memory is left for a magazine, the records are linked (through ->next) on the depot's
 * loose list instead, which a refill walks: slow, but nothing is lost.
 *
 * Lock order: docs/design/locks.md (depot.lock is a leaf).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/fork.h"
#include "core/internal.h"
#include "pool/pool_internal.h"
#include "pool/records.h"

#define CACHE_MAX WEFT__RCACHE_MAX
#define MAG       (CACHE_MAX / 2)
#define AHEAD     WEFT__RCACHE_AHEAD
#define SLAB      32 /* records made at once (8 KiB) */

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

/* The calling thread's cache: malloc'ed on first use (records.h says why). */
_Thread_local struct weft__rcache *weft__tls_rcache WEFT__TLS_IE;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* Give the first k records of c (the coldest) to the depot; the rest move down. */
static void spill(struct weft__rcache *c, int k)
{
    if (k > c->n) k = c->n;
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
        memcpy(m->rec, c->rec, (size_t)m->n * sizeof m->rec[0]);
        k = m->n;
    } else { /* no memory: link them */
        for (int i = 0; i + 1 < k; i++) c->rec[i]->next = c->rec[i + 1];
    }
    weft__lock_acquire(&depot.lock);
    /* What this thread copied into m (or linked), for a user's TSan build, which does not see
     * weft's lock but does see the memcpy's (core/annotate.h); refill acquires. */
    weft__hb_release(&depot.full); /* not &depot: that is its lock, a lock to valgrind */
    if (m) {
        m->next = depot.full;
        depot.full = m;
    } else {
        c->rec[k - 1]->next = depot.loose;
        depot.loose = c->rec[0];
    }
    weft__lock_release(&depot.lock);
    c->n -= k;
    memmove(c->rec, c->rec + k, (size_t)c->n * sizeof c->rec[0]);
}

/* The thread ends: its records go to the depot and its cache back to malloc. A later use by
 * another exit handler makes a new one (and registers it again). */
static void thread_exit(void *arg)
{
    struct weft__rcache *c = arg;
    while (c->n > 0) spill(c, MAG);
    if (weft__tls_rcache == c) weft__tls_rcache = NULL;
    free(c);
}

/* fork() (fork.c's table): the depot's lock is held across it, so that the child never
 * inherits it held by a thread that is not there. The caches of the threads that did not come
 * along are lost to the child (a leak, not a fault); the forking thread keeps its own. */
void weft__records_fork_prepare(void)
{
    weft__lock_acquire(&depot.lock);
}

void weft__records_fork_parent(void)
{
    weft__lock_release(&depot.lock);
}

void weft__records_fork_child(void)
{
    weft__records_fork_parent();
}

static void make_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
    weft__fork_register();
    weft__hb_release(&key_once);
}

/* The calling thread's cache, made on first use; NULL if there is no memory for it. Plain
 * calloc: the ALLOC fault point counts weft objects a test makes, not this. */
static struct weft__rcache *my_cache(void)
{
    struct weft__rcache *c = weft__tls_rcache;
    if (c) return c;
    if ((c = calloc(1, sizeof *c)) == NULL) return NULL;
    pthread_once(&key_once, make_key);
    weft__hb_acquire(&key_once); /* make_key's writes, for helgrind (which misses the once) */
    if (pthread_setspecific(exit_key, c) != 0) {
        free(c);
        return NULL;
    }
    return weft__tls_rcache = c;
}

/* Fill the empty cache c from the depot: one magazine, else up to MAG loose records. */
static void refill(struct weft__rcache *c)
{
    weft__lock_acquire(&depot.lock);
    weft__hb_acquire(&depot.full); /* spill's writes (see there) */
    struct mag *m = depot.full;
    if (m) {
        depot.full = m->next;
        memcpy(c->rec, m->rec, (size_t)m->n * sizeof m->rec[0]);
        c->n = m->n;
        m->next = depot.empty;
        depot.empty = m;
    } else {
        while (depot.loose && c->n < MAG) {
            c->rec[c->n++] = depot.loose;
            depot.loose = depot.loose->next;
        }
    }
    weft__lock_release(&depot.lock);
    for (int i = 1; i <= AHEAD && i <= c->n; i++) __builtin_prefetch(c->rec[c->n - i], 1);
}

/* n new records in one block (never freed: records are type-stable), in their free state. */
static weft_future *fresh(int n)
{
    /* aligned: the hot line must be one cache line (task.h). */
    weft_future *f =
        weft__fault(WEFT__FAULT_ALLOC) ? NULL : aligned_alloc(64, (size_t)n * sizeof *f);
    if (f == NULL) return NULL;
    memset(f, 0, (size_t)n * sizeof *f);
    weft__vg_untracked(f, (size_t)n * sizeof *f); /* records: weft's, ordered by their state */
    for (int i = 0; i < n; i++) f[i].cbs_tail = &f[i].cbs;
    return f;
}

/* records.h's alloc found no cache or an empty one. A thread whose backlog outgrows the
 * records there are makes SLAB at a time: one malloc each (records only come back to this
 * thread through the depot, so a single submitter with a backlog of a million tasks would
 * otherwise call aligned_alloc a million times, at 1 us each here). */
weft_future *weft__rec_alloc_slow(void)
{
    struct weft__rcache *c = weft__tls_rcache;
    if (c == NULL && (c = my_cache()) == NULL) return fresh(1);
    if (c->n == 0) refill(c);
    if (c->n > 0) return weft__rec_alloc();
    weft_future *f = fresh(SLAB);
    if (f == NULL) return fresh(1); /* a smaller block may still be had */
    for (int i = SLAB - 1; i > 0; i--) c->rec[c->n++] = &f[i];
    return &f[0];
}

/* records.h's free found no cache or a full one. */
void weft__rec_free_slow(weft_future *f)
{
    struct weft__rcache *c = weft__tls_rcache;
    if (c == NULL && (c = my_cache()) == NULL) { /* no memory for a cache: loose */
        weft__lock_acquire(&depot.lock);
        f->next = depot.loose;
        depot.loose = f;
        weft__lock_release(&depot.lock);
        return;
    }
    if (c->n == CACHE_MAX) spill(c, MAG);
    c->rec[c->n++] = f;
}
