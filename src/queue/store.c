/* src/queue/store.c - where a locked (LIFO or priority) queue keeps its items.
 *
 * No locking and no waiting here: the queue's lock guards the store. The shapes:
 *   - bounded: a ring of cap slots allocated once, so a put never mallocs;
 *   - unbounded: a doubly linked list of 254-slot segments, so memory follows the number of
 *     items (8 bytes each, plus at most two partly used segments and one spare);
 *   - priority: a binary min-heap of (item, seq) entries; seq, the put order, breaks ties so
 *     that equal keys come out in put order. Bounded: cap entries allocated once; unbounded:
 *     the array doubles when full and halves when a quarter full.
 * The ring and the segments also know FIFO order (pop at the head), so the store stays a
 * complete locked fallback; queue.c sends FIFO queues to the lock-free ring.c/list.c instead.
 * Invariants are stated next to the fields in queue_impl.h.
 */
#include <stdlib.h>
#include <string.h>

#include <weft/error.h>

#include "../core/internal.h"
#include "queue_impl.h"

#define HEAP_MIN 16

int weft__store_init(weft__store *s, const weft_queue_opts *o)
{
    memset(s, 0, sizeof *s);
    s->order = o->order;
    s->cap = o->capacity;
    s->cmp = o->compare;
    s->cmp_arg = o->compare_arg;
    if (s->order == WEFT_QUEUE_PRIORITY) {
        s->heap_cap = s->cap ? s->cap : HEAP_MIN;
        s->heap = weft__malloc(s->heap_cap * sizeof *s->heap);
        return s->heap ? 0 : weft__fail(WEFT_ENOMEM, "no memory for a heap of %zu", s->heap_cap);
    }
    if (s->cap) {
        s->ring = weft__malloc(s->cap * sizeof *s->ring);
        return s->ring ? 0 : weft__fail(WEFT_ENOMEM, "no memory for %zu slots", s->cap);
    }
    return 0;
}

void weft__store_fini(weft__store *s)
{
    free(s->ring);
    free(s->heap);
    for (struct weft__seg *g = s->hseg, *next; g; g = next) {
        next = g->next;
        free(g);
    }
    free(s->spare);
    memset(s, 0, sizeof *s);
}

/* --- ring --------------------------------------------------------------------------------- */

static size_t wrap(const weft__store *s, size_t i)
{
    return i >= s->cap ? i - s->cap : i;
}

static void ring_push(weft__store *s, void *item)
{
    s->ring[wrap(s, s->head + s->count)] = item;
    s->count++;
}

static void *ring_pop(weft__store *s)
{
    s->count--;
    if (s->order == WEFT_QUEUE_LIFO) return s->ring[wrap(s, s->head + s->count)];
    void *item = s->ring[s->head];
    s->head = wrap(s, s->head + 1);
    return item;
}

/* --- segments ----------------------------------------------------------------------------- */

static struct weft__seg *seg_new(weft__store *s)
{
    struct weft__seg *g = s->spare;
    if (g)
        s->spare = NULL;
    else if ((g = weft__malloc(sizeof *g)) == NULL)
        return NULL;
    g->prev = g->next = NULL;
    return g;
}

static void seg_drop(weft__store *s, struct weft__seg *g)
{
    if (s->spare == NULL)
        s->spare = g;
    else
        free(g);
}

static int seg_push(weft__store *s, void *item)
{
    if (s->tseg == NULL || s->tidx == WEFT__SEG_N) {
        struct weft__seg *g = seg_new(s);
        if (g == NULL) return weft__fail(WEFT_ENOMEM, "no memory to grow the queue");
        if (s->tseg == NULL) {
            s->hseg = g;
            s->hidx = 0;
        } else {
            s->tseg->next = g;
            g->prev = s->tseg;
        }
        s->tseg = g;
        s->tidx = 0;
    }
    s->tseg->slot[s->tidx++] = item;
    s->count++;
    return 0;
}

/* After a pop: an empty store rewinds its one segment instead of freeing it. */
static void seg_rewind_if_empty(weft__store *s)
{
    if (s->count == 0) s->hidx = s->tidx = 0;
}

static void *seg_pop_front(weft__store *s)
{
    void *item = s->hseg->slot[s->hidx++];
    s->count--;
    if (s->hidx == WEFT__SEG_N && s->hseg != s->tseg) {
        struct weft__seg *old = s->hseg;
        s->hseg = old->next;
        s->hseg->prev = NULL;
        s->hidx = 0;
        seg_drop(s, old);
    }
    seg_rewind_if_empty(s);
    return item;
}

static void *seg_pop_back(weft__store *s)
{
    void *item = s->tseg->slot[--s->tidx];
    s->count--;
    if (s->tidx == 0 && s->tseg != s->hseg) {
        struct weft__seg *old = s->tseg;
        s->tseg = old->prev;
        s->tseg->next = NULL;
        s->tidx = WEFT__SEG_N;
        seg_drop(s, old);
    }
    seg_rewind_if_empty(s);
    return item;
}

/* --- heap --------------------------------------------------------------------------------- */

static bool before(const weft__store *s, const struct weft__hent *a, const struct weft__hent *b)
{
    int c = s->cmp(a->item, b->item, s->cmp_arg);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static int heap_resize(weft__store *s, size_t n)
{
    struct weft__hent *h = weft__fault(WEFT__FAULT_ALLOC) ? NULL : realloc(s->heap, n * sizeof *h);
    if (h == NULL) return weft__fail(WEFT_ENOMEM, "no memory to grow the queue");
    s->heap = h;
    s->heap_cap = n;
    return 0;
}

static int heap_push(weft__store *s, void *item)
{
    if (s->count == s->heap_cap) {
        int rc = heap_resize(s, 2 * s->heap_cap);
        if (rc) return rc;
    }
    struct weft__hent e = {item, s->seq++};
    size_t i = s->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(s, &e, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = e;
    return 0;
}

static void *heap_pop(weft__store *s)
{
    void *item = s->heap[0].item;
    struct weft__hent last = s->heap[--s->count];
    size_t i = 0, n = s->count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(s, &s->heap[c + 1], &s->heap[c])) c++;
        if (!before(s, &s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = last;
    /* Give memory back when an unbounded heap has drained; a failed shrink is harmless. */
    if (s->cap == 0 && s->heap_cap > HEAP_MIN && s->count < s->heap_cap / 4) {
        struct weft__hent *h = realloc(s->heap, s->heap_cap / 2 * sizeof *h);
        if (h) {
            s->heap = h;
            s->heap_cap /= 2;
        }
    }
    return item;
}

/* --- dispatch ----------------------------------------------------------------------------- */

int weft__store_push(weft__store *s, void *item)
{
    if (s->order == WEFT_QUEUE_PRIORITY) return heap_push(s, item);
    if (s->cap) {
        ring_push(s, item);
        return 0;
    }
    return seg_push(s, item);
}

void *weft__store_pop(weft__store *s)
{
    if (s->order == WEFT_QUEUE_PRIORITY) return heap_pop(s);
    if (s->cap) return ring_pop(s);
    return s->order == WEFT_QUEUE_LIFO ? seg_pop_back(s) : seg_pop_front(s);
}
