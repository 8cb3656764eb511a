/* src/ipcq/watch.c - the liveness watcher: one thread per process that sleeps in epoll_wait on
 * the pidfds of the peers of every queue one of its threads has slept on, and wakes that
 * queue's sleepers when one of them ends. A sleeper then needs no timed slices to notice that
 * every peer died: it sleeps until its deadline and is woken by a put, a get, a close, an
 * attach (join_table signals every event) or this thread.
 *
 * Protocol:
 *   - weft__ipcq_watch(q), by a thread about to sleep: registers q (an index in w_reg) once,
 *     and whenever the segment's peers_gen moved since q's last scan, adds the pidfd of each
 *     live peer to the epoll set (EPOLLONESHOT: a pidfd fires once, when its process ends; an
 *     EEXIST means it is there already). data.u64 = registry index << 8 | peers slot;
 *   - the thread, on a readable pidfd: bumps that queue's deaths, then signals its three
 *     events (seq_cst: a sleeper either sees deaths moved in its re-check, or is woken);
 *   - weft__ipcq_unwatch(q), at free: clears q's registry entry under w_mu; the thread reads
 *     the registry only under w_mu, so an event that names a freed entry finds NULL (or a
 *     newer queue, which it wakes for nothing: its sleepers re-check and sleep again). The
 *     pidfds themselves are closed by free, which takes them out of the epoll set.
 * If the thread cannot be started, weft__ipcq_watch returns -1 and sleepers keep their slices.
 * Lock order: w_mu, then a handle's local mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/internal.h"
#include "ipcq/ipcq_internal.h"
#include "os/os.h"

static pthread_mutex_t w_mu = PTHREAD_MUTEX_INITIALIZER;
static int w_state; /* 0 not started, 1 running, -1 could not start */
static int w_epoll = -1;
static weft_ipcq **w_reg; /* registered queues; NULL: a free entry */
static size_t w_nreg;

static void on_death(uint64_t data)
{
    size_t idx = (size_t)(data >> 8);
    weft_ipcq *q = idx < w_nreg ? w_reg[idx] : NULL;
    if (!q) return;                  /* freed since epoll_wait returned */
    atomic_fetch_add(&q->deaths, 1); /* seq_cst: before the signals' loads of sleepers */
    weft__ipcq_signal(&q->seg->not_empty, false);
    weft__ipcq_signal(&q->seg->not_full, false);
    weft__ipcq_signal(&q->seg->joined, false);
}

static void *watcher(void *arg)
{
    (void)arg;
    weft__os_set_thread_name("weft-ipcq-watch");
    struct epoll_event ev[16];
    for (;;) {
        int n = epoll_wait(w_epoll, ev, 16, -1);
        if (n < 0 && errno != EINTR) return NULL;
        pthread_mutex_lock(&w_mu);
        for (int i = 0; i < n; i++) on_death(ev[i].data.u64);
        pthread_mutex_unlock(&w_mu);
    }
}

/* Under w_mu. */
static int start(void)
{
    if (w_state) return w_state;
    w_state = -1;
    w_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (w_epoll < 0) return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no process signal */
    pthread_t t;
    int r =
        weft__fault(WEFT__FAULT_THREAD_CREATE) ? EAGAIN : pthread_create(&t, NULL, watcher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        close(w_epoll);
        w_epoll = -1;
        return -1;
    }
    pthread_detach(t);
    w_state = 1;
    return 1;
}

/* Under w_mu: q's registry index, registering it if needed (-1: no memory). */
static long reg_index(weft_ipcq *q)
{
    uint32_t gen = atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed) + 1;
    if (q->w_gen == gen) return q->w_idx;
    size_t i = 0;
    while (i < w_nreg && w_reg[i]) i++;
    if (i == w_nreg) {
        size_t n = w_nreg ? 2 * w_nreg : 8;
        weft_ipcq **r = weft__fault(WEFT__FAULT_ALLOC) ? NULL : realloc(w_reg, n * sizeof *r);
        if (!r) return -1;
        for (size_t j = w_nreg; j < n; j++) r[j] = NULL;
        w_reg = r;
        w_nreg = n;
    }
    w_reg[i] = q;
    q->w_idx = (long)i;
    q->w_gen = gen;
    q->w_scan = atomic_load(&q->seg->peers_gen) - 1; /* scan now */
    return (long)i;
}

int weft__ipcq_watch(weft_ipcq *q)
{
    uint32_t pg = atomic_load(&q->seg->peers_gen);
    uint32_t gen = atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed) + 1;
    pthread_mutex_lock(&w_mu);
    long idx = start() > 0 ? reg_index(q) : -1;
    if (idx >= 0 && q->w_gen == gen && q->w_scan != pg) {
        q->w_scan = pg;
        int fds[WEFT_IPCQ_PEERS_MAX];
        weft__ipcq_peer_fds(q, fds);
        for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) {
            if (fds[i] < 0) continue;
            struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT};
            e.data.u64 = (uint64_t)idx << 8 | (uint64_t)i;
            epoll_ctl(w_epoll, EPOLL_CTL_ADD, fds[i], &e); /* EEXIST: watched already */
        }
    }
    pthread_mutex_unlock(&w_mu);
    return idx >= 0 ? 0 : -1;
}

void weft__ipcq_unwatch(weft_ipcq *q)
{
    uint32_t gen = atomic_load_explicit(&weft__ipcq_fork_gen, memory_order_relaxed) + 1;
    pthread_mutex_lock(&w_mu);
    if (q->w_gen == gen && (size_t)q->w_idx < w_nreg && w_reg[q->w_idx] == q)
        w_reg[q->w_idx] = NULL;
    q->w_gen = 0;
    pthread_mutex_unlock(&w_mu);
}

void weft__ipcq_watch_lock(void)
{
    pthread_mutex_lock(&w_mu);
}

void weft__ipcq_watch_unlock(void)
{
    pthread_mutex_unlock(&w_mu);
}

void weft__ipcq_watch_fork_child(void)
{
    /* Called with w_mu held (taken before the fork). The thread did not come along: start
     * afresh (the queues re-register by their fork generation). */
    pthread_mutex_unlock(&w_mu);
    if (w_epoll >= 0) close(w_epoll);
    w_epoll = -1;
#if defined(__SANITIZE_THREAD__)
    w_state = -1; /* TSan dies if a fork child of a threaded process starts a thread: slices */
#else
    w_state = 0;
#endif
    for (size_t i = 0; i < w_nreg; i++) w_reg[i] = NULL;
}
