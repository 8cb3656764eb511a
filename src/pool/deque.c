/* src/pool/deque.c - the deque's buffers, batch push, steal and size (deque.h has the
 * protocol, and the owner's push and take, which are inline).
 * No locks (docs/design/locks.md).
 */
#include <stdlib.h>

#include <weft/error.h>

#include "core/internal.h"
#include "pool/pool_internal.h"

static struct weft__dqbuf *buf_new(int64_t cap)
{
    struct weft__dqbuf *b = weft__malloc(sizeof *b + (size_t)cap * sizeof b->slot[0]);
    if (b == NULL) return NULL;
    b->mask = cap - 1;
    b->prev = NULL;
    for (int64_t i = 0; i < cap; i++) atomic_init(&b->slot[i], NULL);
    return b;
}

int weft__deque_init(struct weft__deque *d, int64_t cap)
{
    struct weft__dqbuf *b = buf_new(cap);
    if (b == NULL) return weft__fail(WEFT_ENOMEM, "no memory to grow a work deque");
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->buf, b);
    return 0;
}

void weft__deque_destroy(struct weft__deque *d)
{
    struct weft__dqbuf *b = atomic_load_explicit(&d->buf, memory_order_relaxed);
    while (b) {
        struct weft__dqbuf *prev = b->prev;
        free(b);
        b = prev;
    }
    atomic_store_explicit(&d->buf, NULL, memory_order_relaxed);
}

struct weft__dqbuf *weft__deque_grow(struct weft__deque *d, struct weft__dqbuf *a, int64_t t,
                                     int64_t b)
{
    struct weft__dqbuf *n = buf_new(2 * (a->mask + 1));
    if (n == NULL) return NULL;
    for (int64_t i = t; i < b; i++)
        atomic_store_explicit(&n->slot[i & n->mask],
                              atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed),
                              memory_order_relaxed);
    n->prev = a;
    /* release: pairs with the acquire load of buf in steal (the copied slots are visible). */
    atomic_store_explicit(&d->buf, n, memory_order_release);
    return n;
}

uint64_t weft__deque_push_list(struct weft__deque *d, weft_future *list, int64_t share,
                               weft_future **rest, weft_future **rest_tail)
{
    int64_t b0 = atomic_load_explicit(&d->bottom, memory_order_relaxed);         /* owner's own */
    int64_t tp = atomic_load_explicit(&d->top, memory_order_acquire);            /* pairs: steal */
    struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_relaxed); /* own */
    int64_t b = b0;
    weft_future *head = NULL, *tail = NULL; /* the records set aside */
    int64_t seen = 0;
    weft_future *t = list;
    while (t) {
        weft_future *next = t->next;
        void *hint = __atomic_load_n(&t->result, __ATOMIC_RELAXED); /* a claimer may finish t */
        if (t->fn && hint) __builtin_prefetch(hint);                /* sched.c: walk_hint */
        bool aside = share > 0 && seen >= share && (seen - share) % 2 == 0;
        seen++;
        if (aside) {
            if (tail)
                tail->next = t;
            else
                head = t;
            tail = t;
        } else {
            if (b - tp > a->mask) {
                struct weft__dqbuf *g = weft__deque_grow(d, a, tp, b);
                if (g == NULL) break; /* t and the rest of the list are not pushed */
                a = g;
            }
            atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_relaxed);
            b++;
        }
        t = next;
    }
    if (tail) tail->next = t; /* the records set aside, then any not reached */
    *rest = head ? head : t;
    *rest_tail = t ? NULL : tail;
    if (b > b0) atomic_store(&d->bottom, b); /* seq_cst: as in weft__deque_push */
    return (uint64_t)(b - b0);
}

weft_future *weft__deque_steal(struct weft__deque *d)
{
    for (;;) {
        int64_t t = atomic_load(&d->top);    /* seq_cst: see the file comment */
        int64_t b = atomic_load(&d->bottom); /* seq_cst; acquire half pairs with push */
        if (t >= b) return NULL;
        /* acquire: pairs with the release store in grow. */
        struct weft__dqbuf *a = atomic_load_explicit(&d->buf, memory_order_acquire);
        weft_future *x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
        if (atomic_compare_exchange_strong(&d->top, &t, t + 1)) return x;
        /* lost to another thief or the owner: look again */
    }
}

int64_t weft__deque_size(struct weft__deque *d)
{
    int64_t b = atomic_load(&d->bottom); /* seq_cst: the idle-check protocol in sched.c */
    int64_t t = atomic_load(&d->top);
    return b > t ? b - t : 0;
}
