/* src/core/debugrec.h - each thread's blocked-on record, which the parking lot publishes and
 * the dump (src/debug.c) reads.
 *
 * Every thread that parks, or that weft starts, has one record, allocated on first use and
 * kept on one list for the life of the process (a record whose thread ended is free, and the
 * next new thread takes it over with its id). Just before a thread sleeps in
 * weft__park_wait, it writes what it waits on into its record: the kind of wait, the object,
 * since when, the deadline and, for a lock, the holder; it marks itself running again when the
 * wait ends. Only the sleeping path pays (a dozen stores, no lock, no system call); a wait
 * that ends while spinning writes nothing.
 *
 * Readers take no lock: each record is a sequence lock. The owner bumps seq to odd, writes
 * (relaxed atomics), bumps it to even (release); a reader retries while seq is odd or changed
 * under it. So the dump never waits on a thread, and a blocked thread never waits on a dump.
 *
 * Lock holders. A weft_lock keeps its holder's record id in the word's high bits (sync/lock.c
 * writes weft__dbg_owner, id << 3, in the same CAS that takes the lock), so a thread about to
 * sleep on a lock can say who holds it, at no cost to the uncontended path.
 */
#ifndef WEFT_INTERNAL_DEBUGREC_H
#define WEFT_INTERNAL_DEBUGREC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <weft/time.h>

#include "core/internal.h"

/* What a thread waits on; park.h's weft__park.kind. */
enum weft__wait_kind {
    WEFT__WAIT_OTHER = 0,
    WEFT__WAIT_LOCK,
    WEFT__WAIT_COND,
    WEFT__WAIT_SEM,
    WEFT__WAIT_EVENT,
    WEFT__WAIT_LATCH,
    WEFT__WAIT_ONCE,
    WEFT__WAIT_BARRIER,
    WEFT__WAIT_QUEUE_GET,
    WEFT__WAIT_QUEUE_PUT,
    WEFT__WAIT_QUEUE_JOIN,
    WEFT__WAIT_SELECT,
    WEFT__WAIT_FUTURE,
    WEFT__WAIT_JOIN,
    WEFT__WAIT_SLEEP,
    WEFT__WAIT_PROCESS,
    WEFT__WAIT_POOL,
    WEFT__WAIT_SERVICE,
    WEFT__WAIT_KINDS
};

enum { WEFT__DBG_FREE = 0, WEFT__DBG_RUNNING = 1, WEFT__DBG_BLOCKED = 2 };

#define WEFT__DBG_NAME_WORDS 8 /* 64 bytes: WEFT_THREAD_NAME_MAX */
#define WEFT__DBG_FRAMES     12
#define WEFT__DBG_EDGE_CACHE 64               /* 32 sets of 2 ways */
#define WEFT__DBG_HELD       16               /* the lock-order checker's stack of held locks */
#define WEFT__DBG_ID_MAX     ((1u << 29) - 1) /* ids live in a lock word's top 29 bits */

typedef struct weft__dbg_thread {
    _Atomic uint32_t seq;   /* odd while the owner writes */
    _Atomic uint32_t state; /* FREE, RUNNING, BLOCKED */
    uint32_t id;            /* fixed for the record's life; 1.. */
    _Atomic int32_t tid;
    _Atomic uint64_t name[WEFT__DBG_NAME_WORDS]; /* NUL-terminated, in words for atomic copies */
    _Atomic uint32_t kind;                       /* enum weft__wait_kind */
    _Atomic uint32_t holder;                     /* a lock's holder's id, 0 if unknown */
    _Atomic uintptr_t obj;                       /* the object waited on */
    _Atomic weft_ns since, deadline;             /* monotonic */
    _Atomic uint32_t nframes;                    /* WEFT_DEBUG_STACKS: the blocking call's stack */
    _Atomic uintptr_t frames[WEFT__DBG_FRAMES];
    _Atomic uint32_t nheld; /* lock-order checking: locks held, innermost last */
    _Atomic uintptr_t held[WEFT__DBG_HELD];
    struct weft__dbg_thread *next; /* the list; fixed once the record is published */
    /* The lock-order checker's cache of edges known to be in its graph (owner only; an entry
     * left by the record's previous thread is still true: the graph never loses an edge).
     * Here rather than thread-local: the library's TLS must fit dlopen's static reserve. */
    struct {
        uintptr_t from, to;
    } edge_cache[WEFT__DBG_EDGE_CACHE];
    uintptr_t last_from, last_to; /* the last edge checked (owner only), the same kind of hint */
} weft__dbg_thread;

/* The calling thread's id << 3 for a lock word, 0 until the thread has a record. */
extern _Thread_local uint32_t weft__dbg_owner WEFT__TLS_IE;

/* The calling thread's record, registering it on first use; NULL if none can be had (no
 * memory, or the thread is past its exit). */
weft__dbg_thread *weft__dbg_self(void);
/* The same, inline for the lock-order checker's hot path: the thread-local pointer when it
 * holds a record (not NULL, not WEFT__DBG_GONE, the mark of a thread past its exit). */
extern _Thread_local weft__dbg_thread *weft__dbg_tls WEFT__TLS_IE;
#define WEFT__DBG_GONE ((weft__dbg_thread *)1)
static inline weft__dbg_thread *weft__dbg_self_fast(void)
{
    weft__dbg_thread *t = weft__dbg_tls;
    return (uintptr_t)t > (uintptr_t)WEFT__DBG_GONE ? t : weft__dbg_self();
}
/* Register the calling thread under name (thread.c, at a weft thread's start). */
void weft__dbg_thread_start(const char *name);
/* The first record of the list (acquire); walk it through ->next. */
weft__dbg_thread *weft__dbg_first(void);
/* How many ids were handed out: every record's id is at most this. */
uint32_t weft__dbg_ids(void);

/* Whether sleeping threads publish their records: 1, always, but for bench/debug_bench.c,
 * which turns them off to measure the sleep path without them in the same run (relaxed: read
 * once per sleep by park.c; a switch, no data hangs on it). */
extern _Atomic int weft__dbg_publish;

/* The parking lot, before a sleep and after it (park.c). */
void weft__dbg_block(uint32_t kind, const void *obj, uint32_t holder, weft_ns since,
                     weft_ns deadline);
void weft__dbg_unblock(void);

/* Read record t into out (a plain copy) without locking, and the sequence number it had;
 * false if it kept changing. */
bool weft__dbg_read(const weft__dbg_thread *t, weft__dbg_thread *out, uint32_t *seq);

/* fork(): in the child only the forking thread lives; free the others' records. */
void weft__dbg_fork_child(void);

#endif
