/* src/core/registry.c - lists of live objects (registry.h): a doubly linked list under one
 * weft__lock per list, taken alone here; the dump only tries it.
 */
#include "core/registry.h"

void weft__registry_add(weft__registry *r, weft__reg_link *l)
{
    weft__lock_acquire(&r->lock);
    l->prev = NULL;
    l->next = r->head;
    if (r->head) r->head->prev = l;
    r->head = l;
    weft__lock_release(&r->lock);
}

void weft__registry_remove(weft__registry *r, weft__reg_link *l)
{
    weft__lock_acquire(&r->lock);
    if (l->prev)
        l->prev->next = l->next;
    else
        r->head = l->next;
    if (l->next) l->next->prev = l->prev;
    weft__lock_release(&r->lock);
}

long weft__registry_view(weft__registry *r, void *out, size_t size, size_t max,
                         void (*copy)(weft__reg_link *l, void *dst))
{
    if (!weft__lock_try(&r->lock)) return -1;
    long n = 0;
    for (weft__reg_link *l = r->head; l; l = l->next, n++)
        if ((size_t)n < max) copy(l, (char *)out + (size_t)n * size);
    weft__lock_release(&r->lock);
    return n;
}
