/* src/debug_internal.h - the hooks on a weft_lock's paths (sync/lock.c), for the lock-order
 * checker and for ThreadSanitizer (debug.c).
 *
 * weft__lock_hooks says which are wanted: WEFT__HOOK_TSAN when the process has the TSan
 * runtime or runs under valgrind (set before main: the happens-before annotations of
 * core/annotate.h), WEFT__HOOK_ORDER while lock-order checking is on. When it is 0,
 * the common case, each acquire and release pays one relaxed load and one predictable branch.
 */
#ifndef WEFT_DEBUG_INTERNAL_H
#define WEFT_DEBUG_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

enum { WEFT__HOOK_TSAN = 1, WEFT__HOOK_ORDER = 2 };
extern _Atomic int weft__lock_hooks;

static inline bool weft__lock_hooked(void)
{
    /* relaxed: a switch, read on every lock operation; no data hangs on it. */
    return __builtin_expect(atomic_load_explicit(&weft__lock_hooks, memory_order_relaxed), 0);
}

/* The calling thread took lock (tried: with timeout 0, which cannot deadlock: recorded as held,
 * not checked) / is about to release it. */
void weft__lock_hook_acquired(const void *lock, bool tried);
void weft__lock_hook_released(const void *lock);

/* One live pool as the dump shows it (pool/registry.c). */
struct weft__pool_view {
    const void *pool;
    char prefix[48]; /* its threads' name prefix */
    int workers, max_workers, busy;
    unsigned long long queued;
    bool paused, shutdown;
};

/* Copy up to max live pools into out and return how many are live (more than max: the rest
 * left out), or -1 if the registry's lock was held (a pool being made or freed, a fork, the
 * exit rule): the dump never waits for it, since the thread holding it may be the one stuck.
 * The counts are weft_pool_stats' atomic loads; the registry's lock keeps each pool alive. */
long weft__pools_view(struct weft__pool_view *out, size_t max);

/* One live queue as the dump shows it (queue/registry.c). */
struct weft__queue_view {
    const void *queue;
    size_t items;            /* valid if counted */
    size_t capacity;         /* 0: unbounded */
    size_t getters, putters; /* threads parked in get / put (select included) */
    bool counted;            /* false: a locked queue whose own lock stayed busy; items unknown */
    bool closed, shutdown;
};

/* As weft__pools_view, for queues (the queue registry's lock tried, never waited for). A
 * queue's counts are atomic loads, but for the items of a LIFO or priority queue, read under
 * a try of the queue's own lock (a few attempts; it is held only for a few instructions). */
long weft__queues_view(struct weft__queue_view *out, size_t max);

#endif
