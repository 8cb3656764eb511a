/* src/core/annotate.h - happens-before edges that weft's own atomics make, told to
 * ThreadSanitizer for a user's program built with -fsanitize=thread against the
 * uninstrumented library.
 *
 * TSan sees the memory accesses of instrumented code only: data a user's thread writes and
 * hands through a weft queue, lock or event to another looks unsynchronized to it, because
 * the atomics that order it are in libweft. So each hand-off says so: the giving side calls
 * weft__hb_release(obj) before the operation that publishes, the receiving side
 * weft__hb_acquire(obj) once it has received (TSan's __tsan_release / __tsan_acquire on the
 * object's address, a synchronization object of its own).
 *
 * The hooks are weak references: without the TSan runtime in the process they are NULL and
 * each annotation is a load and a predictable branch. With it (the user's program, or the
 * library's own TSan build, where they are redundant with its instrumented atomics) they add
 * the edge.
 */
#ifndef WEFT_INTERNAL_ANNOTATE_H
#define WEFT_INTERNAL_ANNOTATE_H

void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));

static inline void weft__hb_release(const void *obj)
{
    if (__builtin_expect(__tsan_release != 0, 0)) __tsan_release((void *)obj);
}

static inline void weft__hb_acquire(const void *obj)
{
    if (__builtin_expect(__tsan_acquire != 0, 0)) __tsan_acquire((void *)obj);
}

#endif
