/* src/pool/records.c - task/future records, recycled through free lists.
 *
 * Each thread keeps a private list of free records (no atomics); when it grows past CACHE_MAX
 * half of it moves to a global list under a lock, and an empty private list refills from the
 * global one (up to BATCH records) before falling back to malloc. A thread that exits gives its
 * list back (a pthread key destructor). Records are never given back to malloc: they are
 * type-stable (see pool_internal.h), and the steady state allocates nothing.
 *
 * Lock order: global.lock is a leaf.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pool/pool_internal.h"

#define CACHE_MAX 512
#define BATCH     128

/* The global list is a list of chains: each chain is a ->next-linked run of records whose
 * head carries the chain's length in `lo` and the next chain in `hi` (as an integer), so
 * moving a chain never walks it. */
static struct {
    weft__lock lock;
    weft_future *chains;
} global;

static _Thread_local struct {
    weft_future *head;
    int n;
    bool keyed;
} cache;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* Cut the first k records off the private list and give them to the global list as a chain. */
static void spill(int k)
{
    if (cache.head == NULL || k <= 0) return;
    weft_future *first = cache.head, *last = first;
    int moved = 1;
    while (moved < k && last->next) {
        last = last->next;
        moved++;
    }
    cache.head = last->next;
    cache.n -= moved;
    last->next = NULL;
    first->lo = moved;
    weft__lock_acquire(&global.lock);
    first->hi = (int64_t)(intptr_t)global.chains;
    global.chains = first;
    weft__lock_release(&global.lock);
}

static void thread_exit(void *unused)
{
    (void)unused;
    spill(cache.n);
}

static void make_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
}

static void refill(void)
{
    if (!cache.keyed) {
        cache.keyed = true;
        pthread_once(&key_once, make_key);
        pthread_setspecific(exit_key, &cache);
    }
    weft__lock_acquire(&global.lock);
    weft_future *c = global.chains;
    if (c) global.chains = (weft_future *)(intptr_t)c->hi;
    weft__lock_release(&global.lock);
    if (c == NULL) return;
    weft_future *tail = c;
    /* The private list is empty when we refill from alloc; from free it may not be. */
    int n = (int)c->lo;
    c->lo = c->hi = 0;
    if (cache.head) {
        while (tail->next) tail = tail->next;
        tail->next = cache.head;
    }
    cache.head = c;
    cache.n += n;
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
    if (cache.head == NULL) refill();
    weft_future *f = cache.head;
    if (f == NULL) return fresh();
    cache.head = f->next;
    cache.n--;
    if (cache.head) __builtin_prefetch(cache.head, 1); /* the next submit's record */
    return f;
}

void weft__rec_free(weft_future *f)
{
    if (!cache.keyed) {
        cache.keyed = true;
        pthread_once(&key_once, make_key);
        pthread_setspecific(exit_key, &cache);
    }
    f->next = cache.head;
    cache.head = f;
    if (++cache.n > CACHE_MAX) spill(CACHE_MAX / 2);
}
