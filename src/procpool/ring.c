/* src/procpool/ring.c - a worker's answer ring (ring.h has the protocol). */
#include "procpool/ring.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT 16u /* the length's slot before each record */

int pp_ring_make(int *fd, struct pp_ring **r)
{
    int f = memfd_create("weft-procpool-ring", MFD_CLOEXEC);
    if (f < 0) return -1;
    void *m = MAP_FAILED;
    if (ftruncate(f, sizeof(struct pp_ring)) == 0)
        m = mmap(NULL, sizeof(struct pp_ring), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) {
        close(f);
        return -1;
    }
    /* Not into a forked child (WEFT_PROCESS_FORK workers, the user's fork()): a worker maps
     * its own ring from the fd, and must not be able to write into the others'. */
    (void)madvise(m, sizeof(struct pp_ring), MADV_DONTFORK);
    *fd = f;
    *r = m;
    return 0;
}

void pp_ring_reset(struct pp_ring *r)
{
    atomic_store(&r->sleeping, 0);
    atomic_store(&r->want_room, 0);
    atomic_store(&r->head, 0);
    atomic_store(&r->tail, 0);
}

void pp_ring_unmap(struct pp_ring *r)
{
    munmap(r, sizeof *r);
}

struct pp_ring *pp_ring_map(int fd)
{
    void *m = mmap(NULL, sizeof(struct pp_ring), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return m == MAP_FAILED ? NULL : m;
}

/* Copy n bytes in or out at ring position pos, wrapping. */
static void copy_in(struct pp_ring *r, uint32_t pos, const void *src, size_t n)
{
    size_t at = pos % PP_RING_BYTES, first = PP_RING_BYTES - at < n ? PP_RING_BYTES - at : n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, (const char *)src + first, n - first);
}

static void copy_out(const struct pp_ring *r, uint32_t pos, void *dst, size_t n)
{
    size_t at = pos % PP_RING_BYTES, first = PP_RING_BYTES - at < n ? PP_RING_BYTES - at : n;
    memcpy(dst, r->data + at, first);
    memcpy((char *)dst + first, r->data, n - first);
}

int pp_ring_put(struct pp_ring *r, const void *rec, size_t len)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed); /* ours */
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire); /* the parent's */
    size_t need = SLOT + PP_ALIGN(len);
    if (need > PP_RING_BYTES - (uint32_t)(tail - head)) return -1;
    uint32_t n = (uint32_t)len;
    copy_in(r, tail, &n, sizeof n);
    copy_in(r, tail + SLOT, rec, len);
    /* seq_cst: publishes the record (release) and orders against the load of sleeping */
    atomic_store(&r->tail, tail + (uint32_t)need);
    return atomic_load(&r->sleeping) && atomic_exchange(&r->sleeping, 0) ? 1 : 0;
}

int pp_ring_want_room(struct pp_ring *r, size_t len)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store(&r->want_room, 1); /* seq_cst: before the load of head (Dekker) */
    return SLOT + PP_ALIGN(len) <= PP_RING_BYTES - (uint32_t)(tail - atomic_load(&r->head));
}

int pp_ring_ready(struct pp_ring *r, uint32_t head)
{
    return atomic_load(&r->tail) != head; /* seq_cst: after the store of sleeping */
}

long pp_ring_take(struct pp_ring *r, uint32_t *head, void *out, size_t cap, const char **why)
{
    uint32_t h = *head, tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint32_t avail = tail - h;
    if (avail == 0) return 0;
    /* No more than the ring can be waiting: past a tail out of range, read on until a record
     * is bad (the answers published before the damage are still taken, in order). */
    if (avail > PP_RING_BYTES) avail = PP_RING_BYTES;
    if (avail < SLOT) {
        *why = "its answer ring's tail is out of range";
        return -1;
    }
    uint32_t n;
    copy_out(r, h, &n, sizeof n);
    if (n < PP_ALIGN(sizeof(struct pp_hdr)) || n > cap || SLOT + PP_ALIGN(n) > avail) {
        *why = "a record in its answer ring has a length out of range";
        return -1;
    }
    copy_out(r, h + SLOT, out, n);
    *head = h + SLOT + (uint32_t)PP_ALIGN(n);
    return (long)n;
}

int pp_ring_release(struct pp_ring *r, uint32_t head)
{
    atomic_store(&r->head, head); /* seq_cst: before the load of want_room (Dekker) */
    return atomic_load(&r->want_room) && atomic_exchange(&r->want_room, 0);
}
