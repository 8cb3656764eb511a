/* src/core/alloc.c - allocation for weft's objects, and the test-only fault points that let a
 * test make the k-th next allocation (or thread start, or magazine) fail, so that every error
 * path can be forced (core/internal.h declares both). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/annotate.h"
#include "core/internal.h"

_Atomic int weft__fault_armed[WEFT__FAULT_COUNT];

void weft__fault_arm(enum weft__fault_point p, int k)
{
    atomic_store_explicit(&weft__fault_armed[p], k, memory_order_relaxed);
}

/* Every weft object is weft's own memory, ordered by its atomics and locks: helgrind and DRD
 * do not check it (core/annotate.h). The user's data, which weft only points to, is checked. */
void *weft__malloc(size_t size)
{
    void *p = weft__fault(WEFT__FAULT_ALLOC) ? NULL : malloc(size);
    if (p) weft__vg_untracked(p, size);
    return p;
}

void *weft__calloc(size_t n, size_t size)
{
    void *p = weft__fault(WEFT__FAULT_ALLOC) ? NULL : calloc(n, size);
    if (p) weft__vg_untracked(p, n * size);
    return p;
}

void *weft__realloc(void *p, size_t size)
{
    return weft__fault(WEFT__FAULT_ALLOC) ? NULL : realloc(p, size);
}

char *weft__strdup(const char *s)
{
    return weft__fault(WEFT__FAULT_ALLOC) ? NULL : strdup(s);
}

void *weft__calloc_lines(size_t size)
{
    if (size == 0 || size > SIZE_MAX - 63) return NULL;
    size = (size + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    void *p = weft__fault(WEFT__FAULT_ALLOC) ? NULL : aligned_alloc(64, size);
    if (p) memset(p, 0, size);
    if (p) weft__vg_untracked(p, size);
    return p;
}
