/* src/procpool/procpool_internal.h - the process pool's records, shared by its files.
 *
 * Files: pool.c (the API: make, submit, map, wait, shutdown, free, stats; the registry for
 * exit), manager.c (the manager thread: the event loop over every worker's socket and pidfd
 * and the pool's eventfd; dispatch, answers, deaths, timeouts, cancels, replacements),
 * worker.c (the worker process), wire.c and seqpacket.c (the protocol and the carrier),
 * ring.c (each worker's answer ring, in memory shared with it).
 *
 * Ownership: the queue (qhead/qtail), next_id, the function table and the closing flags are
 * guarded by lock (a leaf: nothing else is taken under it, no future is completed under it).
 * Everything else about workers and tasks in flight belongs to the manager thread alone;
 * counters that others read are atomics (relaxed: statistics, no ordering with the tasks).
 * A cancel reaches the manager through a hook on a scope (core/cancel_internal.h), which runs
 * under the scope tree's lock and so only sets an atomic and writes the eventfd.
 */
#ifndef WEFT_PROCPOOL_INTERNAL_H
#define WEFT_PROCPOOL_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <weft/future.h>
#include <weft/procpool.h>
#include <weft/sync.h>
#include <weft/thread.h>

#include "core/cancel_internal.h"
#include "core/lock.h"
#include "core/registry.h"
#include "procpool/ring.h"
#include "procpool/wire.h"

/* The worker's start argument. ring_fd: its slot's answer ring (ring.h), or -1. */
enum { PP_CFG_RSS = 1 };
struct pp_worker_cfg {
    uint32_t magic;
    int32_t fd;
    uint32_t flags;
    int32_t ring_fd;
    uint64_t memory_limit;
};
int weft__procpool_worker(const void *arg, size_t size);

struct weft_procpool;

/* A cancel scope a dispatched task's future carries (pool/hooks.h): kept while the scope is
 * not cancelled, reused for the next task. */
struct pp_holder {
    weft__scope_hook hook; /* first: the hook's fn finds the holder from it */
    weft_scope *scope;
    struct weft_procpool *pool;
    _Atomic int fired; /* set by the hook (scope cancelled); read by the manager */
    struct pp_holder *next;
};

struct pp_task {
    struct pp_task *next, *prev;
    uint64_t id;
    weft_future *f; /* the pool's reference */
    uint32_t fn;
    uint32_t len;
    weft_ns timeout; /* 0: none */
    int retries;
    int started;   /* set_running done (it keeps its holder if queued again) */
    int announced; /* its worker said it started it (tasks with a timeout) */
    struct pp_holder *holder;
    _Alignas(16) unsigned char arg[];
};

enum { W_EMPTY, W_LIVE, W_RETIRING, W_KILLING };
enum { K_NONE, K_TIMEOUT, K_CANCEL, K_SHUTDOWN, K_BAD };

struct pp_worker {
    int index; /* 1-based, as in messages */
    int state;
    weft_process *proc;
    int pid, fd, pidfd;
    struct pp_task *inflight[WEFT_PROCPOOL_WINDOW_MAX]; /* a ring, head first */
    int head, count;
    size_t inflight_bytes;
    int full;           /* the carrier said EAGAIN: nothing sent until an answer */
    uint32_t known_fns; /* functions defined to it */
    uint64_t assigned;  /* tasks sent to this process */
    weft_ns head_start; /* when the head task started (its STARTED notice came: timed tasks) */
    int kill_reason;
    uint64_t kill_task;
    weft_ns kill_at;      /* SIGKILL then, if KILLING */
    weft_ns restart_at;   /* W_EMPTY after a failed start: try again then (0: not pending) */
    weft_ns backoff;      /* the last wait before a start was tried again */
    uint32_t bell;        /* the last value stored in its ring's bell */
    struct pp_ring *ring; /* the slot's answer ring, kept for replacements; NULL: none */
    int ring_fd;
    uint32_t rhead; /* the ring's head: what the manager took (the shared copy is the worker's) */
    int ring_bad;   /* a record could not be read: nothing more is taken from this ring */
    char bad[96];
};

struct pp_fndef {
    weft_process_fn fn;
    uint64_t offset;
    char *name;
};

struct weft_procpool {
    weft__lock lock;
    struct pp_task *qhead, *qtail;
    _Atomic uint64_t next_id;
    struct pp_fndef *fns;
    _Atomic uint32_t nfns; /* written under lock; the manager reads entries below it */
    uint32_t last_fn;
    int closed;         /* shutdown called (or stopped): no submit */
    int cancel_pending; /* shutdown asked to cancel the queue */
    weft_ns kill_deadline;
    int broken;
    char reason[WEFT_ERROR_MESSAGE_MAX];

    _Atomic int sleeping;    /* the manager is (about to be) in epoll_wait */
    _Atomic int cancel_seen; /* a holder's hook fired */
    _Atomic int stop_seen;   /* the pool's scope was cancelled */
    _Atomic int finished;    /* the manager has ended every worker and returned */
    _Atomic int waiters;
    int efd, epfd;

    _Atomic uint64_t queued, running;
    _Atomic uint64_t st_submitted, st_completed, st_failed, st_cancelled, st_timed_out, st_retried,
        st_started, st_died, st_killed, st_retired, st_start_failed;
    _Atomic int live;
    _Atomic int pids[WEFT_PROCPOOL_WORKERS_MAX];

    weft_lock wlock; /* with wcond: user threads wait for idle / finished */
    weft_cond wcond;

    int nworkers, window, method;
    char name[32];
    uint32_t max_tasks;
    size_t max_memory, memory_limit;
    int max_restarts;
    weft_ns restart_period, kill_grace;
    weft_ns *deaths; /* ring of the last max_restarts + 1 unexpected deaths */
    int ndeaths, death_at;
    struct pp_worker *workers;
    struct pp_holder *free_holders;
    char *buf;   /* the manager's: 2 * PP_REC_MAX (records out) */
    char *inbuf; /* the manager's: PP_RECV_BATCH answers of PP_RESULT_REC_MAX bytes */

    weft_scope *scope;
    weft__scope_hook scope_hook;
    weft_thread manager;
    int owner;          /* pid of the process that made it */
    int exit_seen;      /* the exit sequence has shut it down (registry.lock) */
    weft__reg_link reg; /* pool.c's list of open pools (core/registry.h) */
};

/* manager.c. weft__pp_self: the pool whose manager is the calling thread (for WEFT_EDEADLK). */
extern _Thread_local struct weft_procpool *weft__pp_self;
int weft__pp_manager(void *arg);
int weft__pp_start_worker(struct weft_procpool *p, struct pp_worker *w);
void weft__pp_wake(struct weft_procpool *p);
void weft__pp_notify(struct weft_procpool *p);
void weft__pp_holders_free(struct weft_procpool *p);

#endif
