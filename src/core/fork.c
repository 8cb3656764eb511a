/* src/core/fork.c - fork(): the one ordered table of what every weft module locks before fork()
 * and makes right in the child, registered with pthread_atfork once.
 *
 * Only the forking thread lives on in the child. A lock that another thread held at the fork
 * would stay held there for ever, and a list that it was changing would be torn; so before the
 * fork the prepare handler takes every lock of weft's own services (the locks that guard what
 * the child will use), in the table's order, which is the lock hierarchy (docs/design/locks.md):
 * a module's lock comes before every lock that may be taken while it is held. After the fork
 * the parent releases them in the reverse order; the child resets each module for a process
 * with one thread (threads, workers and waiters of the parent are gone: their records are
 * dropped, the services that had threads start new ones) and releases its locks, also in the
 * reverse order, so that a module's child entry finds the modules below it already usable.
 *
 * Locks of the user's objects (weft_lock, queues, events, ...) are not in the table: as with
 * pthread mutexes, what another thread held at the fork stays held in the child. The parking
 * lot's bucket locks, which every such object shares, are: the child's own objects must work.
 */
#include <pthread.h>
#include <stddef.h>

#include "core/fork.h"
#include "core/debugrec.h"
#include "core/park.h"

struct fork_entry {
    const char *what;
    void (*prepare)(void);
    void (*parent)(void);
    void (*child)(void);
};

/* The forking thread's own parker: a canceller of another thread (weft_future_cancel,
 * weft_thread_stop) holds its lock while it claims the park, and the child's first wait takes
 * it. The parkers of the other threads go with their threads. */
static void parker_prepare(void)
{
    weft__lock_acquire(&weft__parker_self()->lock);
}

static void parker_release(void)
{
    weft__lock_release(&weft__parker_self()->lock);
}

static void nothing(void) {}

#define ENTRY(what, mod)                                              \
    {                                                                 \
        what, mod##_fork_prepare, mod##_fork_parent, mod##_fork_child \
    }

/* The lock hierarchy (docs/design/locks.md), outermost first. */
static const struct fork_entry table[] = {
    /* No lock: a start hands its fork to the watcher thread and waits; the child forgets. */
    {"child processes (the process registry)", nothing, nothing, weft__process_fork_child},
    ENTRY("dump service thread (dbg.lock, a mutex)", weft__debug),

    /* The child's inherited ipcq handles learn its pid on their next call. */
    ENTRY("inter-process queues (their pid, the liveness watcher's w_mu)", weft__ipcq),
    ENTRY("signal thread (sig.lock, nt.lock)", weft__signals),
    ENTRY("timer heap (svc.q.lock)", weft__timer),
    ENTRY("pool list (reg.lock)", weft__pools),
    ENTRY("queue list (qreg.lock)", weft__queues),
    ENTRY("thread table (table_lock)", weft__thread),
    ENTRY("scope tree (tree_lock)", weft__scope),
    ENTRY("thread exit rule and error hook (exit_q.lock, hook.lock)", weft__thread_exitq),
    ENTRY("pool error hook (hook.lock)", weft__pool_hook),
    ENTRY("record depot (depot.lock)", weft__records),
    ENTRY("parking lot buckets", weft__lot),
    /* No lock: the list of blocked-on records is lock-free; the child frees the others'. */
    {"blocked-on records (no lock)", nothing, nothing, weft__dbg_fork_child},
    {"the forking thread's parker (its lock)", parker_prepare, parker_release, parker_release},
};

#define N (sizeof table / sizeof table[0])

_Thread_local int weft__fork_for_process;

static void prepare(void)
{
    for (size_t i = 0; i < N; i++) table[i].prepare();
}

static void parent(void)
{
    for (size_t i = N; i-- > 0;) table[i].parent();
}

static void child(void)
{
    for (size_t i = N; i-- > 0;) table[i].child();
}

static void register_once(void)
{
    pthread_atfork(prepare, parent, child);
}

void weft__fork_register(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
}
