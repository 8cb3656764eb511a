/* src/ipcq/segment.c - the shared segment of an inter-process queue: making it (memfd), checking
 * and attaching it, the table of attached processes and their liveness, and the side locks.
 *
 * Invariants:
 *   - nothing of the header is trusted after attach: the geometry is checked against the
 *     descriptor's size once and copied into the handle; every later index is taken modulo the
 *     handle's nslots, every length compared with the handle's max_msg;
 *   - a side lock's word holds its holder's pid. The holder copies one message and stores one
 *     position; it never waits for anything while holding it. So a lock held across a waiter's
 *     slices is either still in use or held by a dead process: the waiter checks the holder's
 *     pid (its pidfd: a zombie counts as dead) and takes the lock over with a CAS from that
 *     pid, which at most one waiter wins. The position was stored last, so nothing needs
 *     repair: an unpublished slot is overwritten by the next put, an untaken message is taken
 *     by the next get. The takeover wakes every sleeper, in case the dead holder published and
 *     died before its wake-up;
 *   - peers[] entries are claimed with a CAS from 0 or a negative value to the pid, cleared
 *     (0) by their owner at free, and marked dead (-pid) by anyone who finds the pid ended. A pid is watched through a pidfd opened when
 *     first seen; a pid reused between a death and that opening would be taken for alive (the
 *     window is the gap between two pid allocations of that number).
 * Lock order: a handle's local mutex is innermost and never held while waiting.
 * Why not pthread robust mutexes: docs/design/ipcq.md ("The locks").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <weft/error.h>

#include "core/fork.h"
#include "core/internal.h"
#include "core/opts.h"
#include "ipcq/ipcq_internal.h"
#include "os/os.h"

#define LOCK_GRACE_NS WEFT_MS(20) /* a lock wait lasts at least this, whatever the timeout */
#define LOCK_SLICE_NS WEFT_MS(5)  /* the holder's liveness is checked this often */
#define LOCK_SPINS    256

_Atomic uint32_t weft__ipcq_fork_gen;
_Atomic int weft__ipcq_asym;

/* Register this process for membarrier's global expedited barrier: a sleeper's heavy fence
 * then reaches its threads wherever they run, and their light fences may be compiler-only. */
static void asym_register(void)
{
    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    int ok = q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
             syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
    /* relaxed: a process-wide setting, read before any shared access it guards (a false
     * "not registered" only costs a fence). */
    atomic_store_explicit(&weft__ipcq_asym, ok, memory_order_relaxed);
}

bool weft__ipcq_heavy_fence(struct ipcq_seg *s, bool to_sym)
{
    weft__ipcq_full_fence();
    /* seq_cst: the mode's load and changes are ordered with the caller's count before them
     * and its re-checks after (the arguments in ipcq_internal.h). */
    uint32_t w = atomic_load(&s->fence_mode);
    if ((w & IPCQ_FENCE_MASK) == IPCQ_FENCE_SYM) return true;
    if ((w & IPCQ_FENCE_MASK) == IPCQ_FENCE_ASYM && to_sym) {
        uint32_t next = ((w & ~IPCQ_FENCE_MASK) + IPCQ_FENCE_GEN) | IPCQ_FENCE_SYNCING;
        /* A failed exchange leaves the word seen in w: a SYNCING is as good as our own. */
        if (atomic_compare_exchange_strong(&s->fence_mode, &w, next)) w = next;
    }
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) return false;
    /* Any membarrier made after this SYNCING was seen completes the move, ours or one whose
     * mover died half-way; the generation keeps it from completing a later SYNCING's. */
    if ((w & IPCQ_FENCE_MASK) == IPCQ_FENCE_SYNCING)
        atomic_compare_exchange_strong(&s->fence_mode, &w, (w & ~IPCQ_FENCE_MASK) | IPCQ_FENCE_SYM);
    return true;
}

void weft__ipcq_fork_prepare(void)
{
    weft__ipcq_watch_lock();
}

void weft__ipcq_fork_parent(void)
{
    weft__ipcq_watch_unlock();
}

void weft__ipcq_fork_child(void)
{
    weft__ipcq_watch_fork_child();
    /* relaxed: only the forking thread exists; later threads start after this returns. */
    atomic_fetch_add_explicit(&weft__ipcq_fork_gen, 1, memory_order_relaxed);
    /* A child's registration is its own (async-signal-safe: one system call). */
    if (atomic_load_explicit(&weft__ipcq_asym, memory_order_relaxed)) asym_register();
}

static int pidfd_of(int32_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* 1 if pid runs (not a zombie), 0 if it has ended or never was. */
static int alive_fd(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, 0) == 0;
}

static int pid_alive(int32_t pid)
{
    if (pid <= 0) return 0;
    int fd = pidfd_of(pid);
    if (fd < 0) return errno != ESRCH; /* EPERM, EMFILE...: assume it runs */
    int a = alive_fd(fd);
    close(fd);
    return a;
}

int weft__ipcq_corrupt(weft_ipcq *q, const char *what, unsigned long long value)
{
    atomic_store_explicit(&q->broken, 1, memory_order_relaxed);
    return weft__fail(WEFT_EBROKEN, "ipcq: shared memory corrupt: %s (%llu)", what, value);
}

bool weft__ipcq_signal(struct ipcq_event *ev, bool from_call)
{
    /* seq_cst: the caller's store that made the condition true comes before these loads, and
     * a sleeper's increment of sleepers and its announcement (seq made odd) before its
     * re-check of the condition (Dekker): a sleeper this load misses sees the condition. */
    uint32_t sleepers = atomic_load(&ev->sleepers);
    if (sleepers == 0) return false;
    uint32_t v = atomic_load(&ev->seq);
    /* Even: nobody announced a sleep on this value since the last wake-up, so every sleeper
     * still to sleep re-checks the condition after our store: nothing to write. Odd: bump to
     * even and wake all. So while a woken sleeper is still on its way out, a run of puts or
     * gets only reads this line, and makes one wake-up in all. */
    if (v & 1) {
        /* relaxed: a hint, read after the wake-up; a stale value costs a move at worst. 0
         * unless one sleeper is woken by a put or get (ipcq.c, weft__ipcq_follow). */
        int cpu = from_call && sleepers == 1 ? sched_getcpu() : -1;
        atomic_store_explicit(&ev->waker_cpu, cpu >= 0 ? (uint32_t)cpu + 1 : 0,
                              memory_order_relaxed);
    }
    while (v & 1) {
        if (atomic_compare_exchange_weak(&ev->seq, &v, v + 1)) {
            weft__os_futex_wake_shared(&ev->seq, INT32_MAX);
            return true;
        }
    }
    return false;
}

/* ---- the side locks ---- */

static int try_take(struct ipcq_lock *l, uint32_t from, uint32_t pid)
{
    /* acquire: pairs with weft__ipcq_unlock's store (the previous holder's writes). */
    return atomic_compare_exchange_strong_explicit(&l->owner, &from, pid, memory_order_acquire,
                                                   memory_order_relaxed);
}

int weft__ipcq_lock(weft_ipcq *q, struct ipcq_lock *l, weft_ns deadline)
{
    uint32_t pid = weft__ipcq_pid(q);
    if (try_take(l, 0, pid)) return 0;
    for (int i = 0; i < LOCK_SPINS; i++) {
        weft__os_relax();
        if (atomic_load_explicit(&l->owner, memory_order_relaxed) == 0 && try_take(l, 0, pid))
            return 0;
    }
    weft_ns now = weft__os_now(), until = deadline;
    if (until - now < LOCK_GRACE_NS) until = now + LOCK_GRACE_NS;
    uint32_t last = 0;
    for (;;) {
        uint32_t o = atomic_load_explicit(&l->owner, memory_order_relaxed);
        if (o == 0) {
            if (try_take(l, 0, pid)) return 0;
            continue;
        }
        weft_ns slice = now + LOCK_SLICE_NS < until ? now + LOCK_SLICE_NS : until;
        atomic_fetch_add(&l->waiters, 1);
        /* The heavy half of weft__ipcq_unlock's Dekker pair (its light fence). Without
         * membarrier a missed wake-up costs one slice at most. */
        weft__ipcq_heavy_fence(q->seg, false);
        int r = weft__os_futex_wait_shared(&l->owner, o, slice);
        atomic_fetch_sub(&l->waiters, 1);
        now = weft__os_now();
        if (r == WEFT_ETIMEDOUT && o == last && o != pid && !pid_alive((int32_t)o)) {
            if (try_take(l, o, pid)) return 1;
        }
        last = o;
        if (now >= until) return WEFT_ETIMEDOUT;
    }
}

void weft__ipcq_unlock(struct ipcq_seg *s, struct ipcq_lock *l)
{
    /* release: the holder's writes to the next holder's acquire CAS. Then one light fence for
     * both Dekker pairs of the caller: this store against a lock waiter's increment of
     * waiters before its futex wait compares owner (either it sees 0, or we see it waiting),
     * and the holder's store of its position (release, before this one) against a sleeper's
     * increment of sleepers before its re-check (weft__ipcq_signal's loads come after it). */
    atomic_store_explicit(&l->owner, 0, memory_order_release);
    weft__ipcq_light_fence(s);
    if (atomic_load_explicit(&l->waiters, memory_order_relaxed) != 0)
        weft__os_futex_wake_shared(&l->owner, 1);
}

int weft__ipcq_take_role(weft_ipcq *q, struct ipcq_lock *l, int32_t tid)
{
    uint32_t pid = weft__ipcq_pid(q);
    int took = 0;
    for (;;) {
        /* acquire: pairs with the previous role holder's release stores (its positions). */
        uint32_t o = atomic_load_explicit(&l->owner, memory_order_acquire);
        if (o == pid) break;
        if (o != 0 && pid_alive((int32_t)o)) return -1;
        if (try_take(l, o, pid)) {
            took = o != 0;
            if (took) atomic_store(&l->tid, 0); /* the dead process's thread */
            break;
        }
    }
    /* The process holds the side; one of its threads holds the role: the first CAS. */
    int32_t t = 0;
    if (atomic_compare_exchange_strong(&l->tid, &t, tid) || t == tid) return took;
    return -2;
}

void weft__ipcq_drop_role(weft_ipcq *q, int side, struct ipcq_lock *l)
{
    if (!atomic_load_explicit(&q->role_held[side], memory_order_relaxed)) return;
    uint32_t pid = atomic_load_explicit(&q->pid, memory_order_relaxed);
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) != pid) return;
    atomic_store_explicit(&l->tid, 0, memory_order_relaxed);
    /* release: the next holder's acquire load sees this one's positions (and tid 0). */
    atomic_compare_exchange_strong_explicit(&l->owner, &pid, 0, memory_order_release,
                                            memory_order_relaxed);
}

bool weft__ipcq_role_alive(uint32_t pid)
{
    return pid_alive((int32_t)pid);
}

/* ---- the table of attached processes ---- */

static void join_table(weft_ipcq *q, uint32_t pid)
{
    q->slot = -1;
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) {
        /* A free entry: never used (0) or left by a process that died (-pid). */
        int32_t v = atomic_load(&q->seg->peers[i]);
        if (v <= 0 && atomic_compare_exchange_strong(&q->seg->peers[i], &v, (int32_t)pid)) {
            q->slot = i;
            /* A new peer: every sleeper's watcher rescans, so its death wakes them too. */
            atomic_fetch_add(&q->seg->peers_gen, 1);
            weft__ipcq_signal(&q->seg->not_empty, false);
            weft__ipcq_signal(&q->seg->not_full, false);
            weft__ipcq_signal(&q->seg->joined, false);
            return;
        }
    }
}

void weft__ipcq_rebind(weft_ipcq *q)
{
    pthread_mutex_lock(&q->local);
    uint32_t gen = atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed);
    if (atomic_load_explicit(&q->gen, memory_order_relaxed) != gen) {
        uint32_t pid = (uint32_t)getpid();
        atomic_store_explicit(&q->pid, pid, memory_order_relaxed);
        join_table(q, pid);
        /* The parent's threads held the roles, not this child's. */
        atomic_store_explicit(&q->role_held[0], 0, memory_order_relaxed);
        atomic_store_explicit(&q->role_held[1], 0, memory_order_relaxed);
        atomic_store_explicit(&q->gen, gen, memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->local);
}

/* Whether entry i's pid runs, through its pidfd, opened when first seen (-1: the pid was gone
 * then; -2: it could not be opened for another reason, taken as running). */
static int watch(weft_ipcq *q, int i, int32_t pid)
{
    if (q->pidfd_pid[i] != pid) {
        if (q->pidfd[i] >= 0) close(q->pidfd[i]);
        int fd = pidfd_of(pid);
        q->pidfd[i] = fd >= 0 ? fd : errno == ESRCH ? -1 : -2;
        q->pidfd_pid[i] = pid;
    }
    return q->pidfd[i] == -2 || (q->pidfd[i] >= 0 && alive_fd(q->pidfd[i]));
}

int weft__ipcq_peers_alive(weft_ipcq *q)
{
    int32_t me = (int32_t)weft__ipcq_pid(q);
    int alive = 0, dead = 0;
    pthread_mutex_lock(&q->local);
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) {
        int32_t pid = atomic_load_explicit(&q->seg->peers[i], memory_order_relaxed);
        if (pid == 0 || pid == me) continue;
        if (pid > 0 && watch(q, i, pid)) {
            alive++;
            continue;
        }
        dead++;
        /* Mark the entry dead (-pid: free for a new process, still counted as a death; a CAS,
         * as a new process may have taken it meanwhile). */
        if (pid > 0 && atomic_compare_exchange_strong(&q->seg->peers[i], &pid, -pid))
            atomic_fetch_add(&q->seg->peers_gen, 1);
    }
    pthread_mutex_unlock(&q->local);
    return alive ? 1 : dead ? 0 : -1;
}

bool weft__ipcq_peers_dead(weft_ipcq *q)
{
    /* seq_cst loads: after the sleeper's heavy fence, against the watcher's increment of
     * deaths and an attach's or a scan's increment of peers_gen. */
    uint32_t g = atomic_load(&q->seg->peers_gen), d = atomic_load(&q->deaths);
    pthread_mutex_lock(&q->local);
    bool fresh = q->dead_valid && g == q->dead_gen && d == q->dead_deaths;
    bool answer = q->dead_answer;
    pthread_mutex_unlock(&q->local);
    if (fresh) return answer;
    answer = weft__ipcq_peers_alive(q) == 0;
    pthread_mutex_lock(&q->local);
    q->dead_gen = g, q->dead_deaths = d, q->dead_answer = answer, q->dead_valid = true;
    pthread_mutex_unlock(&q->local);
    return answer;
}

void weft__ipcq_peer_fds(weft_ipcq *q, int fds[WEFT_IPCQ_PEERS_MAX])
{
    int32_t me = (int32_t)weft__ipcq_pid(q);
    pthread_mutex_lock(&q->local);
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) {
        int32_t pid = atomic_load_explicit(&q->seg->peers[i], memory_order_relaxed);
        fds[i] = -1;
        if (pid > 0 && pid != me && watch(q, i, pid) && q->pidfd[i] >= 0) fds[i] = q->pidfd[i];
    }
    pthread_mutex_unlock(&q->local);
}

/* ---- making, checking, attaching ---- */

static int map_segment(weft_ipcq *q, int fd, size_t size)
{
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return weft__fail(WEFT_ENOMEM, "ipcq: mmap of %zu bytes failed", size);
    q->seg = m;
    q->map_size = size;
    return 0;
}

static weft_ipcq *handle_new(void)
{
    weft__fork_register(); /* a fork child's inherited handles must learn its pid */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, asym_register);
    weft_ipcq *q = weft__calloc(1, sizeof *q);
    if (!q) return NULL;
    q->fd = -1;
    q->slot = -1;
    pthread_mutex_init(&q->local, NULL);
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) q->pidfd[i] = -1;
    return q;
}

/* A slot: the length and the bytes, rounded to 8, and at least a cache line. Smaller slots
 * share lines, and a consumer close behind its producer then pulls the line the producer is
 * writing the next message into: each line crossed the CPUs several times. */
static uint32_t slot_size_of(uint32_t max_msg)
{
    uint32_t n = (IPCQ_SLOT_HDR + max_msg + 7) & ~7u;
    return n < IPCQ_LINE ? IPCQ_LINE : n;
}

static void handle_take_geometry(weft_ipcq *q, const struct ipcq_hdr *h)
{
    q->capacity = h->capacity;
    q->nslots = h->nslots;
    q->max_msg = h->max_msg;
    q->slot_size = h->slot_size;
    q->flags = h->flags;
    q->slots = (unsigned char *)q->seg + h->hdr_size;
    uint32_t pid = (uint32_t)getpid();
    atomic_store_explicit(&q->pid, pid, memory_order_relaxed);
    atomic_store_explicit(&q->gen, atomic_load(&weft__ipcq_fork_gen), memory_order_relaxed);
    join_table(q, pid);
}

int weft_ipcq_new(weft_ipcq **out, const weft_ipcq_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_ipcq_opts") != 0) return WEFT_EINVAL;
    if (!out) return weft__fail(WEFT_EINVAL, "ipcq_new: out is NULL");
    weft_ipcq_opts o = opts ? *opts : (weft_ipcq_opts)WEFT_IPCQ_OPTS_INIT;
    if (o.capacity == 0) o.capacity = 1024;
    if (o.max_msg == 0) o.max_msg = 256;
    if (o.capacity > WEFT_IPCQ_CAPACITY_MAX)
        return weft__fail(WEFT_EINVAL, "ipcq_new: capacity %zu exceeds %u", o.capacity,
                          WEFT_IPCQ_CAPACITY_MAX);
    if (o.max_msg > WEFT_IPCQ_MSG_MAX)
        return weft__fail(WEFT_EINVAL, "ipcq_new: max_msg %zu exceeds %u", o.max_msg,
                          WEFT_IPCQ_MSG_MAX);
    if (o.flags & ~(unsigned)IPCQ_FLAGS)
        return weft__fail(WEFT_EINVAL, "ipcq_new: unknown flags %#x", o.flags);
    struct ipcq_hdr h = {.magic = IPCQ_MAGIC, .version = IPCQ_VERSION, .flags = o.flags};
    h.hdr_size = (uint32_t)((sizeof(struct ipcq_seg) + IPCQ_LINE - 1) & ~(size_t)(IPCQ_LINE - 1));
    h.capacity = (uint32_t)o.capacity;
    h.nslots = 1;
    while (h.nslots < h.capacity) h.nslots *= 2;
    h.max_msg = (uint32_t)o.max_msg;
    h.slot_size = slot_size_of((uint32_t)o.max_msg);
    h.size = h.hdr_size + (uint64_t)h.nslots * h.slot_size;
    if (h.size > WEFT_IPCQ_SIZE_MAX)
        return weft__fail(WEFT_EINVAL, "ipcq_new: %zu slots of %u bytes exceed %zu bytes",
                          (size_t)h.nslots, h.slot_size, WEFT_IPCQ_SIZE_MAX);
    weft_ipcq *q = handle_new();
    if (!q) return weft__fail(WEFT_ENOMEM, "ipcq_new: no memory for the handle");
    int fd = memfd_create("weft-ipcq", MFD_CLOEXEC);
    if (fd < 0) {
        weft_ipcq_free(q);
        return weft__fail(WEFT_ENOMEM, "ipcq_new: memfd_create failed (errno %d)", errno);
    }
    q->fd = fd;
    if (ftruncate(fd, (off_t)h.size) != 0) {
        int e = errno;
        weft_ipcq_free(q);
        return weft__fail(WEFT_ENOMEM, "ipcq_new: ftruncate to %zu bytes failed (errno %d)",
                          (size_t)h.size, e);
    }
    int rc = map_segment(q, fd, (size_t)h.size);
    if (rc) {
        weft_ipcq_free(q);
        return rc;
    }
    q->seg->hdr = h; /* the rest is zero (a new memfd): empty, open, unlocked */
    handle_take_geometry(q, &h);
    *out = q;
    return 0;
}

/* Check a header read from a peer's segment of fsize bytes; its fields are a private copy. */
static int check_header(const struct ipcq_hdr *h, uint64_t fsize)
{
    const char *bad = NULL;
    unsigned long long v = 0;
    uint64_t hs = (sizeof(struct ipcq_seg) + IPCQ_LINE - 1) & ~(uint64_t)(IPCQ_LINE - 1);
    if (h->magic != IPCQ_MAGIC)
        bad = "magic", v = h->magic;
    else if (h->version != IPCQ_VERSION)
        bad = "version", v = h->version;
    else if (h->hdr_size != hs)
        bad = "header size", v = h->hdr_size;
    else if (h->capacity == 0 || h->capacity > WEFT_IPCQ_CAPACITY_MAX)
        bad = "capacity", v = h->capacity;
    else if (h->nslots < h->capacity || (h->nslots & (h->nslots - 1)) ||
             h->nslots / 2 >= h->capacity)
        bad = "slot count", v = h->nslots;
    else if (h->max_msg > WEFT_IPCQ_MSG_MAX)
        bad = "max_msg", v = h->max_msg;
    else if (h->slot_size != slot_size_of(h->max_msg))
        bad = "slot size", v = h->slot_size;
    else if (h->size != h->hdr_size + (uint64_t)h->nslots * h->slot_size ||
             h->size > WEFT_IPCQ_SIZE_MAX)
        bad = "segment size", v = h->size;
    else if (h->flags & ~(uint32_t)IPCQ_FLAGS)
        bad = "flags", v = h->flags;
    else if (h->reserved != 0)
        bad = "reserved word", v = h->reserved;
    else if (h->size != fsize)
        bad = "segment size against the descriptor's", v = fsize;
    if (!bad) return 0;
    return weft__fail(WEFT_EBROKEN, "ipcq_attach: not a valid weft queue: bad %s (%llu)", bad, v);
}

int weft_ipcq_attach(weft_ipcq **out, int fd)
{
    if (!out) return weft__fail(WEFT_EINVAL, "ipcq_attach: out is NULL");
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return weft__fail(WEFT_EINVAL, "ipcq_attach: %d is not an open descriptor", fd);
    struct ipcq_hdr h;
    if ((uint64_t)st.st_size < sizeof h || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        return weft__fail(WEFT_EBROKEN, "ipcq_attach: descriptor %d is too small (%lld bytes)", fd,
                          (long long)st.st_size);
    int rc = check_header(&h, (uint64_t)st.st_size);
    if (rc) return rc;
    weft_ipcq *q = handle_new();
    if (!q) return weft__fail(WEFT_ENOMEM, "ipcq_attach: no memory for the handle");
    q->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (q->fd < 0) {
        weft_ipcq_free(q);
        return weft__fail(WEFT_ENOMEM, "ipcq_attach: dup of %d failed (errno %d)", fd, errno);
    }
    rc = map_segment(q, q->fd, (size_t)h.size);
    if (rc) {
        weft_ipcq_free(q);
        return rc;
    }
    handle_take_geometry(q, &h); /* the private copy, checked: not the live header */
    *out = q;
    return 0;
}

int weft_ipcq_free(weft_ipcq *q)
{
    if (!q) return 0;
    weft__ipcq_unwatch(q); /* before its pidfds close */
    if (q->seg) {
        /* Only this process's own entry: an inherited handle in a fork child leaves the
         * parent's. */
        int32_t me = (int32_t)getpid();
        if (q->slot >= 0 && (int32_t)atomic_load(&q->pid) == me) {
            atomic_compare_exchange_strong(&q->seg->peers[q->slot], &me, 0);
            /* A one-process side's role goes with its holder's handle. */
            if (q->flags & WEFT_IPCQ_ONE_PRODUCER) weft__ipcq_drop_role(q, 0, &q->seg->put.lock);
            if (q->flags & WEFT_IPCQ_ONE_CONSUMER) weft__ipcq_drop_role(q, 1, &q->seg->get.lock);
        }
        munmap(q->seg, q->map_size);
    }
    for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++)
        if (q->pidfd[i] >= 0) close(q->pidfd[i]);
    if (q->fd >= 0) close(q->fd);
    pthread_mutex_destroy(&q->local);
    free(q);
    return 0;
}

int weft_ipcq_fd(const weft_ipcq *q)
{
    if (!q) return weft__fail(WEFT_EINVAL, "ipcq_fd: q is NULL");
    return q->fd;
}

size_t weft_ipcq_capacity(const weft_ipcq *q)
{
    return q ? q->capacity : 0;
}

size_t weft_ipcq_max_msg(const weft_ipcq *q)
{
    return q ? q->max_msg : 0;
}
