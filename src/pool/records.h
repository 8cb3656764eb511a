/* src/pool/records.h - the task/future records' per-thread caches: the fast paths, inline.
 *
 * Every submit takes a record and every finished task gives one back, so these two are on the
 * path of every task; inline, they are a few instructions on a thread-local array. Everything
 * else (a thread's first use, refills from and spills to the depot, malloc) is in records.c,
 * which says how the caches work.
 */
#ifndef WEFT_POOL_RECORDS_H
#define WEFT_POOL_RECORDS_H

#include <weft/future.h>

#include "core/internal.h"

#define WEFT__RCACHE_MAX   512 /* records a thread's cache holds */
#define WEFT__RCACHE_AHEAD 8   /* alloc prefetches the record it will hand out this many later */

struct weft__rcache {
    weft_future *rec[WEFT__RCACHE_MAX];
    int n;
};

/* The calling thread's cache, or NULL before its first use. Malloc'ed and reached through one
 * initial-exec pointer: the default TLS model of the shared library goes through
 * __tls_get_addr on every access, and initial-exec thread-locals must stay small for dlopen. */
extern _Thread_local struct weft__rcache *weft__tls_rcache WEFT__TLS_IE;

weft_future *weft__rec_alloc_slow(void);  /* no cache yet, or an empty one */
void weft__rec_free_slow(weft_future *f); /* no cache yet, or a full one */

/* A record whose cold line is fresh (task.h, T6); NULL if there is no memory. */
static inline weft_future *weft__rec_alloc(void)
{
    struct weft__rcache *c = weft__tls_rcache;
    if (c == NULL || c->n == 0) return weft__rec_alloc_slow();
    weft_future *f = c->rec[--c->n];
    /* The record handed out AHEAD calls from now (the submit writes its hot line): with one
     * thread submitting, each was last touched by a worker and is a miss. */
    if (c->n >= WEFT__RCACHE_AHEAD) __builtin_prefetch(c->rec[c->n - WEFT__RCACHE_AHEAD], 1);
    return f;
}

/* Give back a record whose cold line is fresh again. */
static inline void weft__rec_free(weft_future *f)
{
    struct weft__rcache *c = weft__tls_rcache;
    if (c == NULL || c->n == WEFT__RCACHE_MAX) {
        weft__rec_free_slow(f);
        return;
    }
    c->rec[c->n++] = f;
}

#endif
