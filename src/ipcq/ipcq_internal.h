/* src/ipcq/ipcq_internal.h - the shared segment of an inter-process queue, the handle, and the
 * narrow internal face another module (the process pool) may use.
 *
 * The segment (docs/design/ipcq.md draws it):
 *   line 0        the header, written once by the creator, checked by every attach, and
 *                 copied into the handle: nothing of it is read from shared memory again;
 *   put, get      each side's lock word (the holder's pid) and position (tail: messages ever
 *                 published; head: messages ever taken), each on a cache line of its own;
 *   not_empty,    eventcounts: a sleeper marks seq odd, re-checks its condition, sleeps while
 *   not_full,     seq is unchanged; a waker that finds sleepers > 0 and seq odd bumps it and
 *                 wakes everyone;
 *   joined
 *   misc          closed, done (task_done calls ever), the fence mode;
 *   peers         the pids of the attached processes (0: free entry);
 *   slots         ring slots of slot_size bytes: a 32-bit length, then the bytes.
 * Positions are 64-bit and only grow; slot i holds the message at position p where
 * p % nslots == i (nslots is capacity rounded up to a power of two).
 */
#ifndef WEFT_IPCQ_INTERNAL_H
#define WEFT_IPCQ_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <weft/ipcq.h>

#define IPCQ_MAGIC    0x5143504954464557ull /* "WEFTIPCQ" */
#define IPCQ_VERSION  3u
#define IPCQ_LINE     64
#define IPCQ_SLOT_HDR 8u
#define IPCQ_FLAGS    (WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER | WEFT_IPCQ_STAY)

struct ipcq_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;  /* bytes before the first slot */
    uint32_t capacity;  /* messages at most */
    uint32_t nslots;    /* capacity rounded up to a power of two */
    uint32_t max_msg;   /* bytes per message at most */
    uint32_t slot_size; /* IPCQ_SLOT_HDR + max_msg, rounded up to 8 */
    uint64_t size;      /* the whole segment */
    uint32_t flags;     /* IPCQ_FLAGS */
    uint32_t reserved;  /* 0 */
};

/* closed: puts stop at CLOSING; gets end at CLOSED, set once no put is under way. */
#define IPCQ_CLOSING 1u
#define IPCQ_CLOSED  2u

/* A lock whose holder's death is found from its pid (segment.c). On a side with one process
 * (WEFT_IPCQ_ONE_PRODUCER, _ONE_CONSUMER) owner holds that process's pid for good (its role)
 * and busy is 1 while it copies a message (close waits for it). */
struct ipcq_lock {
    _Atomic uint32_t owner;   /* the holder's pid, 0 when free: the futex word */
    _Atomic uint32_t waiters; /* processes sleeping on owner */
    _Atomic uint32_t busy;    /* one-process side: a copy is under way */
    _Atomic int32_t tid;      /* one-process side: the holding thread (of process owner) */
};

/* The lock and the position on lines of their own: with one process per side the lock's line
 * never leaves its holder's cache, while the position's line is read by the other side. */
struct ipcq_side {
    alignas(IPCQ_LINE) struct ipcq_lock lock;
    alignas(IPCQ_LINE) _Atomic uint64_t pos; /* put: tail, get: head */
};

struct ipcq_event {
    _Atomic uint32_t seq;      /* the futex word */
    _Atomic uint32_t sleepers; /* threads (of any process) sleeping or about to */
    /* The CPU (+ 1) of the put or get that last woke a lone sleeper; 0 after any other
     * wake-up. A hint for the sleeper (ipcq.c, weft__ipcq_follow), range-checked there. */
    _Atomic uint32_t waker_cpu;
};

struct ipcq_seg {
    alignas(IPCQ_LINE) struct ipcq_hdr hdr;
    alignas(IPCQ_LINE) struct ipcq_side put;
    alignas(IPCQ_LINE) struct ipcq_side get;
    alignas(IPCQ_LINE) struct ipcq_event not_empty;
    alignas(IPCQ_LINE) struct ipcq_event not_full;
    alignas(IPCQ_LINE) struct ipcq_event joined;
    _Atomic uint32_t closed;
    _Atomic uint32_t peers_gen; /* bumped when peers[] changes: watchers rescan it */
    _Atomic uint64_t done;
    _Atomic uint32_t fence_mode; /* IPCQ_FENCE_* | generation: how Dekker pairs are fenced */
    alignas(IPCQ_LINE) _Atomic int32_t peers[WEFT_IPCQ_PEERS_MAX];
};

struct weft_ipcq {
    struct ipcq_seg *seg;
    unsigned char *slots;
    size_t map_size;
    uint32_t capacity, nslots, max_msg, slot_size, flags; /* copied from the checked header */
    int fd;
    _Atomic uint32_t pid; /* this process's pid, the lock owner value */
    _Atomic uint32_t gen; /* the fork generation pid was taken in */
    _Atomic int broken;   /* sticky: the segment was found corrupt */
    /* Last positions seen of the other side: tail - head_seen never underestimates the fill
     * (head only grows). Each is used under its side's lock. */
    uint64_t head_seen, tail_seen;
    _Atomic uint32_t turns; /* get sleeps in a row that woke to one message (fence_mode) */
    /* A thread took a one-process side's role through this handle (side 0: put, 1: get):
     * its free gives the role back. */
    _Atomic int role_held[2];
    pthread_mutex_t local; /* guards the fields below */
    int slot;              /* this process's entry in peers[], -1 if none */
    int pidfd[WEFT_IPCQ_PEERS_MAX];
    int32_t pidfd_pid[WEFT_IPCQ_PEERS_MAX];
    uint32_t dead_gen, dead_deaths; /* peers_gen and deaths at the last liveness scan */
    bool dead_answer, dead_valid;   /* its answer (every peer died), and whether there was one */
    /* The liveness watcher (watch.c): deaths it saw among this queue's peers; under its
     * w_mu: the registry index, the fork generation + 1 it was registered in (0: not),
     * the peers_gen of its last scan. */
    _Atomic uint32_t deaths;
    long w_idx;
    uint32_t w_gen, w_scan;
};

/* segment.c */
extern _Atomic uint32_t weft__ipcq_fork_gen;

/* Fences. Every Dekker pair of the queue has a hot side (a put or get that stored a position,
 * then loads a waiter count) and a cold side (a waiter that counted itself, then re-checks
 * before sleeping). One of the two must pay for a full barrier, and the segment's fence_mode
 * says which:
 *   ASYM     the hot side's light fence is a compiler barrier (when this process is
 *            registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED: weft__ipcq_asym), and the cold
 *            side's heavy fence is the membarrier call, which makes every registered thread
 *            on a CPU run a full barrier;
 *   SYNCING  light fences are full fences; heavy fences still call membarrier;
 *   SYM      light fences are full fences; heavy fences are full fences.
 * A membarrier waits for an interrupt on every other CPU that runs a registered process: tens
 * of µs on a virtual machine, more when those CPUs are busy. A full fence after a store to a
 * line the other side reads costs tens of ns per message. Where a consumer sleeps while a
 * producer goes on, the membarrier's time is only the consumer's, hidden by the messages
 * queued meanwhile; where the two sides take turns (a request, then its reply) it lies on the
 * path of every message. So ASYM suits streams, SYM turn-taking.
 *
 * A getter whose last IPCQ_SYM_TURNS sleeps through its handle each woke to a single message
 * moves ASYM -> SYNCING, calls membarrier, and only then SYNCING -> SYM: by then every hot side
 * that loaded ASYM has either finished its pair or passed the barrier membarrier forced on it.
 * Any sleeper whose membarrier came after it loaded SYNCING may make that last move (so a mover
 * that died half-way leaves no SYNCING for good), but only in the same SYNCING period: the
 * word's upper bits count the moves to SYNCING (IPCQ_FENCE_GEN), and the exchange compares the
 * whole word. Without them a sleeper held up after its membarrier could move a later period's
 * SYNCING to SYM, ahead of the membarrier that period needs (models/ipcq_fence.pml has the
 * trail).
 * In SYM a thread counts its puts and gets, less IPCQ_SYM_WOKE for each that woke a sleeper;
 * at IPCQ_SYM_LEAVE (it wakes a sleeper less than once in IPCQ_SYM_WOKE calls, where taking
 * turns wakes one at every other call) it moves SYM -> ASYM. A sleeper that loaded SYM did so
 * before that store, so a hot side that loads ASYM afterwards loads the sleeper's count after
 * it. The hot side loads the mode after its store and before its load of the waiter count
 * (weft__ipcq_light_fence), which both arguments need; models/ipcq_fence.pml checks them. A
 * value that is none of the three (a corrupt segment) fences both sides in full. */
#define IPCQ_FENCE_ASYM    0u
#define IPCQ_FENCE_SYNCING 1u
#define IPCQ_FENCE_SYM     2u
#define IPCQ_FENCE_MASK    3u /* the mode; the bits above it: the generation */
#define IPCQ_FENCE_GEN     4u
#define IPCQ_SYM_TURNS     8u
#define IPCQ_SYM_WOKE      2u
#define IPCQ_SYM_LEAVE     1024u
extern _Atomic int weft__ipcq_asym;
static inline void weft__ipcq_full_fence(void)
{
#if defined(__SANITIZE_THREAD__)
    /* TSan rejects fences; a seq_cst read-modify-write is one on the hardware. */
    static _Thread_local _Atomic int dummy;
    atomic_fetch_add(&dummy, 0);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}
static inline void weft__ipcq_light_fence(struct ipcq_seg *s)
{
    /* seq_cst: the mode's load comes after the caller's store, before its later loads. */
    if (atomic_load_explicit(&weft__ipcq_asym, memory_order_relaxed) &&
        (atomic_load(&s->fence_mode) & IPCQ_FENCE_MASK) == IPCQ_FENCE_ASYM)
        atomic_signal_fence(memory_order_seq_cst);
    else
        weft__ipcq_full_fence();
}
/* The cold side's fence; to_sym: the caller takes turns with its peer (move the mode to SYM).
 * False if membarrier was needed and failed: the caller then bounds its sleep, since a
 * registered peer's light fence did not order it. */
bool weft__ipcq_heavy_fence(struct ipcq_seg *s, bool to_sym);
void weft__ipcq_rebind(weft_ipcq *q);
static inline uint32_t weft__ipcq_pid(weft_ipcq *q)
{
    /* relaxed: the generation is bumped in the fork child before any other thread exists. */
    if (atomic_load_explicit(&q->gen, memory_order_relaxed) !=
        atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed))
        weft__ipcq_rebind(q);
    return atomic_load_explicit(&q->pid, memory_order_relaxed);
}
/* Take a side lock, waiting at most until deadline (but at least a grace of milliseconds):
 * 0, 1 (taken over from a dead holder), WEFT_ETIMEDOUT. */
int weft__ipcq_lock(weft_ipcq *q, struct ipcq_lock *l, weft_ns deadline);
void weft__ipcq_unlock(struct ipcq_seg *s, struct ipcq_lock *l);
/* A one-process side: make thread tid of this process the holder of l's role (owner: the
 * pid; tid: the thread, claimed with a CAS from 0). 0 (it was or is now), 1 (taken over from
 * a dead process), -1 (a live process holds it), -2 (another thread of this process does).
 * drop_role gives it back if it was taken through q; role_alive tells whether a pid runs. */
int weft__ipcq_take_role(weft_ipcq *q, struct ipcq_lock *l, int32_t tid);
void weft__ipcq_drop_role(weft_ipcq *q, int side, struct ipcq_lock *l);
bool weft__ipcq_role_alive(uint32_t pid);
/* 1 if some process other than this one is attached and alive, 0 if none is and one died,
 * -1 if none is attached (nobody to wait for yet: not a death). */
int weft__ipcq_peers_alive(weft_ipcq *q);
/* Whether every other attached process died (weft__ipcq_peers_alive == 0), scanning only
 * when peers_gen or deaths moved since the last scan. */
bool weft__ipcq_peers_dead(weft_ipcq *q);
/* The pidfds of the live peers, by peers slot (-1: none), opened as needed; the handle
 * owns them. */
void weft__ipcq_peer_fds(weft_ipcq *q, int fds[WEFT_IPCQ_PEERS_MAX]);
/* watch.c: have the watcher wake q's sleepers when a peer ends (0), or -1 if it cannot
 * (the caller then checks in slices); forget q (at free); the fork child's reset. */
int weft__ipcq_watch(weft_ipcq *q);
void weft__ipcq_unwatch(weft_ipcq *q);
void weft__ipcq_watch_lock(void);
void weft__ipcq_watch_unlock(void);
void weft__ipcq_watch_fork_child(void);
/* Record corruption: the handle is broken from now on. Returns WEFT_EBROKEN. */
int weft__ipcq_corrupt(weft_ipcq *q, const char *what, unsigned long long value);
/* Bump ev and wake its sleepers if it has any; true if it had. A put or get passes
 * from_call: if it wakes a single sleeper, it leaves its CPU in ev->waker_cpu for it. */
bool weft__ipcq_signal(struct ipcq_event *ev, bool from_call);

/* ipcq.c: the internal face for the process pool. try_put / try_get never wait for room or a
 * message (WEFT_EAGAIN); weft__ipcq_wait waits until a put (for_put) or a get might succeed,
 * the deadline passes, the caller is cancelled, or the peers died: 0, WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, WEFT_EDIED, WEFT_EBROKEN. Then try again. */
int weft__ipcq_try_put(weft_ipcq *q, const void *data, size_t len);
int weft__ipcq_try_get(weft_ipcq *q, void *buf, size_t size, size_t *len);
int weft__ipcq_wait(weft_ipcq *q, bool for_put, weft_ns deadline);
/* After a sleep on ev that a change of its seq ended with what the caller waited for (turn:
 * a get's, the two sides taking turns): count a wake-up from another CPU on a crowded
 * machine, and at the FOLLOW_MISSES-th in a row move the calling thread to the waker's CPU
 * if at most two processes share q. Anything else starts the count again. */
void weft__ipcq_follow(const weft_ipcq *q, const struct ipcq_event *ev, bool turn);

#endif
