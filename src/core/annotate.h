/* src/core/annotate.h - happens-before edges that weft's own atomics make, told to the race
 * detectors that cannot see them: ThreadSanitizer, for a user's program built with
 * -fsanitize=thread against the uninstrumented library, and valgrind's helgrind and DRD, for
 * any program run under them.
 *
 * Those tools see plain memory accesses and the pthread calls they intercept: data a user's
 * thread writes and hands through a weft queue, lock or event to another looks unsynchronized
 * to them, because the atomics and futexes that order it are in libweft. So each hand-off says
 * so: the giving side calls weft__hb_release(obj) before the operation that publishes, the
 * receiving side weft__hb_acquire(obj) once it has received (TSan's __tsan_release /
 * __tsan_acquire, helgrind's and DRD's ANNOTATE_HAPPENS_BEFORE / _AFTER, on the object's
 * address, a synchronization object of its own).
 *
 * TSan: the hooks are weak references. Without the TSan runtime in the process they are NULL
 * and each annotation is a load and a predictable branch. With it (the user's program, or the
 * library's own TSan build, where they are redundant with its instrumented atomics) they add
 * the edge.
 *
 * valgrind (built when <valgrind/helgrind.h> was found: WEFT_HAVE_VALGRIND): weft__vg is set
 * before main when the process runs under valgrind (RUNNING_ON_VALGRIND); each annotation is
 * then a load and a predictable branch outside valgrind, a client request (core/annotate.c)
 * inside. weft's own insides are told too, so that a correct program gets no report:
 * - the internal mutex (core/lock.h) is announced as a lock (weft__vg_locked / _unlocked), so
 *   the state it guards is checked as lock-protected, and its word is not reported;
 * - memory that weft orders by atomics alone (parking records, rings, counters, the debug
 *   records...) is made untracked where it is allocated (weft__vg_untracked): weft's own
 *   memory, never the user's, so a race on the user's data is still found.
 */
#ifndef WEFT_INTERNAL_ANNOTATE_H
#define WEFT_INTERNAL_ANNOTATE_H

#include <stddef.h>

void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));

#ifdef WEFT_HAVE_VALGRIND
/* Nonzero when running under valgrind (set before main, read-only after). */
extern int weft__vg;
void weft__vg_hb_before(const void *obj);
void weft__vg_hb_after(const void *obj);
void weft__vg_locked(const void *lock);
void weft__vg_unlocked(const void *lock);
void weft__vg_untracked_slow(void *addr, size_t len);
/* Set weft__vg and return it (for another constructor, which may run before annotate.c's). */
int weft__vg_detect(void);
#define WEFT__VG_ON() __builtin_expect(weft__vg, 0)
#else
#define WEFT__VG_ON()                 0
#define weft__vg_hb_before(obj)       ((void)(obj))
#define weft__vg_hb_after(obj)        ((void)(obj))
#define weft__vg_locked(lock)         ((void)(lock))
#define weft__vg_unlocked(lock)       ((void)(lock))
#define weft__vg_untracked_slow(a, n) ((void)(a), (void)(n))
#define weft__vg_detect()             0
#endif

static inline void weft__hb_release(const void *obj)
{
    if (__builtin_expect(__tsan_release != 0, 0)) __tsan_release((void *)obj);
    if (WEFT__VG_ON()) weft__vg_hb_before(obj);
}

static inline void weft__hb_acquire(const void *obj)
{
    if (__builtin_expect(__tsan_acquire != 0, 0)) __tsan_acquire((void *)obj);
    if (WEFT__VG_ON()) weft__vg_hb_after(obj);
}

/* [addr, addr + len), weft's own memory ordered by its atomics: not checked by helgrind or DRD
 * (until it is freed and allocated again). Call it where the memory is allocated. */
static inline void weft__vg_untracked(void *addr, size_t len)
{
    if (WEFT__VG_ON()) weft__vg_untracked_slow(addr, len);
}

#endif
