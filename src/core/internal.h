/* src/core/internal.h - small helpers shared by the modules (not part of the API). */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "core/assert.h"

/* Put code and message into the calling thread's error slot (error.c). */
void weft__error_put(int code, const char *message);

/* The message of a failure status a user function returned, into buf (error.c): the one it set
 * with weft_error_set for that status, else the status's text, else "WHO returned N" for a
 * status that is no weft code. who: e.g. "task". */
void weft__failure_message(int status, const char *who, char *buf, size_t size);

/* The one way weft reports its own failures: put code and a printf-style message naming the
 * argument and the reason into the calling thread's error slot, and return code, so that each
 * return site is one line:
 *     if (name_len >= max) return weft__fail(WEFT_EINVAL, "name is %zu bytes; the limit is %d",
 *                                            name_len, max - 1);
 * Only error paths call it (cold: the compiler moves it out of the hot path; a successful call
 * pays nothing). It formats into the fixed per-thread slot with weft's own formatter, which
 * knows %s %d %u %zu %lld %llu %% only: no allocation, nothing to fail, async-signal-safe. */
int weft__fail(int code, const char *fmt, ...) __attribute__((cold, format(printf, 2, 3)));

/* Test-only fault points: weft__fault_arm(p, k) makes the k-th next pass through point p
 * fail (k = 1: the very next one). Unarmed, a point costs one relaxed load. */
enum weft__fault_point {
    WEFT__FAULT_ALLOC,         /* malloc/calloc of a weft object */
    WEFT__FAULT_THREAD_CREATE, /* pthread_create */
    WEFT__FAULT_MAGAZINE,      /* getting a record magazine (pool/records.c) */
    WEFT__FAULT_WORKER_START,  /* a process pool's worker start (procpool/manager.c) */
    WEFT__FAULT_PROCPOOL_RING, /* a process pool worker's answer ring (procpool/manager.c) */
    WEFT__FAULT_COUNT
};
extern _Atomic int weft__fault_armed[WEFT__FAULT_COUNT];
void weft__fault_arm(enum weft__fault_point p, int k);
static inline int weft__fault(enum weft__fault_point p)
{
    int k = atomic_load_explicit(&weft__fault_armed[p], memory_order_relaxed);
    /* relaxed: a test arms a point and then calls; no other data hangs on the counter. */
    while (k > 0 &&
           !atomic_compare_exchange_weak_explicit(&weft__fault_armed[p], &k, k - 1,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
    return k == 1;
}

/* For weft's small, hot thread-locals: the initial-exec TLS model, a %fs-relative access, where
 * the shared library's default (global/local-dynamic) calls __tls_get_addr on every access.
 * Keep what carries it small (dlopen gives such variables a few hundred bytes in all). */
#define WEFT__TLS_IE __attribute__((tls_model("initial-exec")))

/* A static function that is always inlined: for the few helpers on the path of every task
 * whose call (with the registers saved around it) costs more than their body. */
#define WEFT__HOT static inline __attribute__((always_inline))

/* malloc/calloc/realloc/strdup that honour the ALLOC fault point: every allocation weft makes
 * in the calling process goes through one of these, so that a test can fail each in turn
 * (tests/fuzz/fault_sweep.c). */
void *weft__malloc(size_t size);
void *weft__calloc(size_t n, size_t size);
void *weft__realloc(void *p, size_t size);
char *weft__strdup(const char *s);
/* Zeroed memory that starts on a cache line (64 bytes), for objects whose fields are laid out
 * on cache lines of their own: from calloc, 16-byte aligned, a queue's read-mostly fields
 * shared a line with its head in one placement of four, and 1P1C ran at a quarter of its
 * speed whenever the queue landed there. Honours the ALLOC fault point; release with free(). */
void *weft__calloc_lines(size_t size);

#endif
