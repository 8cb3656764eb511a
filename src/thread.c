/* src/thread.c - weft threads: start, join with timeout, release, identity, the exit rule.
 *
 * Records. Every thread weft knows has a record (struct rec): the threads it started, and
 * foreign threads (main, plain pthreads) that asked for weft_thread_current(). Handles name
 * records through a table of slots with generation numbers, so a stale handle is detected
 * (WEFT_ESRCH) instead of dereferenced.
 *
 * Invariants (all under table_lock unless said otherwise):
 *   - a slot maps to a record from start until the record is reaped (joined) or, for a released
 *     or foreign thread, until it finishes; unmapping bumps the slot's generation;
 *   - refs counts the record's owners: the mapping, the running thread, each waiting joiner;
 *     the last one to drop its ref frees the record;
 *   - done, status and message are written once by the finishing thread under done_q.lock and
 *     read by joiners after they see done under the same lock.
 * Lock order: docs/design/locks.md. Here: finish takes table_lock and a record's done_q.lock
 * one after the other, never nested.
 *
 * The exit rule (Python's threading._shutdown): exit.c's atexit handler, registered when the
 * first thread starts, waits until no non-daemon weft thread runs (not counting the thread
 * that called exit: weft__thread_wait_nondaemon), then, once the pools are done, reports
 * finished threads whose failure nobody joined (weft__thread_at_exit).
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/thread.h>

#include "core/annotate.h"
#include "core/cancel_internal.h"
#include "core/debugrec.h"
#include "core/fork.h"
#include "core/internal.h"
#include "core/lock.h"
#include "os/os.h"
#include "core/park.h"
#include "core/opts.h"
#include "signal_internal.h"

#define MIN_STACK WEFT_THREAD_STACK_MIN

struct rec {
    uint64_t id;
    weft_thread_fn fn;
    void *arg;
    pthread_t pth;
    _Atomic int32_t tid;     /* 0 until the thread runs */
    _Atomic uint32_t dbg_id; /* its blocked-on record (core/debugrec.h), 0 until it runs */
    char name[WEFT_THREAD_NAME_MAX];
    bool daemon, foreign;
    weft_scope *scope; /* the thread's own cancel scope (a handle ref); NULL if foreign */
    /* under table_lock */
    bool released, reported;
    int refs;
    /* done_q.lock guards the rest */
    weft__waitq done_q;
    bool done;
    bool stopped; /* status is WEFT_ECANCELED and the thread's scope was cancelled: no report */
    int status;
    char message[WEFT_ERROR_MESSAGE_MAX];
};

struct slot {
    uint32_t gen;       /* odd... any value; bumped on unmap */
    uint32_t next_free; /* index + 1 of the next free slot, 0 for none */
    struct rec *rec;    /* NULL when free */
};

static weft__lock table_lock;
static struct slot *slots;
static uint32_t nslots, free_head;
static size_t live; /* records whose thread has not finished */
static _Atomic uint64_t name_seq;

static _Thread_local struct rec *tls_self WEFT__TLS_IE;
static struct rec *main_rec; /* under table_lock: the main thread's record, once known */
/* threading.stack_size(): the stack of threads started without their own; 0: the system's.
 * relaxed: a plain setting, read once per start; no other data hangs on it. */
static _Atomic size_t default_stack;

/* Non-daemon weft threads still running, and the exit handler waiting for them. */
static weft__waitq exit_q; /* its lock guards nondaemon */
static size_t nondaemon;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static pthread_key_t foreign_key;

static struct {
    weft__lock lock;
    weft_thread_error_hook fn;
    void *arg;
} hook;

/* ---- handle table (table_lock held) ---- */

static int map(struct rec *r)
{
    if (free_head == 0) {
        uint32_t n = nslots ? nslots * 2 : 64;
        struct slot *s = realloc(slots, n * sizeof *s);
        if (s == NULL || weft__fault(WEFT__FAULT_ALLOC)) {
            if (s) slots = s;
            return weft__fail(WEFT_ENOMEM, "no memory to grow the thread table to %u slots", n);
        }
        for (uint32_t i = nslots; i < n; i++)
            s[i] = (struct slot){.gen = 1, .next_free = i + 1 < n ? i + 2 : 0, .rec = NULL};
        slots = s;
        free_head = nslots + 1;
        nslots = n;
    }
    uint32_t i = free_head - 1;
    free_head = slots[i].next_free;
    slots[i].rec = r;
    r->id = (uint64_t)slots[i].gen << 32 | (i + 1);
    r->refs++;
    return 0;
}

static struct rec *lookup(weft_thread t)
{
    uint32_t i = (uint32_t)t.id - 1, gen = (uint32_t)(t.id >> 32);
    if (t.id == 0 || i >= nslots || slots[i].gen != gen) return NULL;
    return slots[i].rec;
}

/* Unmap r; returns true if r's refs dropped to zero (the caller frees it after unlocking). */
static bool unmap(struct rec *r)
{
    uint32_t i = (uint32_t)r->id - 1;
    slots[i].rec = NULL;
    if (++slots[i].gen == 0) slots[i].gen = 1;
    slots[i].next_free = free_head;
    free_head = i + 1;
    return --r->refs == 0;
}

static struct rec *lookup_locked_or(weft_thread t, int *rc)
{
    weft__lock_acquire(&table_lock);
    struct rec *r = lookup(t);
    if (r == NULL) {
        weft__lock_release(&table_lock);
        *rc = WEFT_ESRCH;
    }
    return r;
}

/* ---- the error hook ---- */

static void default_hook(weft_thread t, const char *name, int status, const char *message,
                         void *arg)
{
    (void)t;
    (void)arg;
    fprintf(stderr, "weft: thread '%s' failed: %s (status %d): %s\n", name, weft_errname(status),
            status, message);
}

/* A failure to report if nobody joins r (done, read under or after done_q.lock): not the
 * cancellation the thread was asked for (future.h's rule for tasks). */
static bool is_failure(const struct rec *r)
{
    return r->status != 0 && !r->stopped;
}

static void report(struct rec *r)
{
    weft__lock_acquire(&hook.lock);
    weft_thread_error_hook fn = hook.fn ? hook.fn : default_hook;
    void *arg = hook.arg;
    weft__lock_release(&hook.lock);
    fn((weft_thread){r->id}, r->name, r->status, r->message, arg);
}

int weft_thread_set_error_hook(weft_thread_error_hook fn, void *arg)
{
    weft__lock_acquire(&hook.lock);
    hook.fn = fn;
    hook.arg = fn ? arg : NULL;
    weft__lock_release(&hook.lock);
    return 0;
}

/* ---- finishing ---- */

static void free_rec(struct rec *r)
{
    weft_scope_free(r->scope);
    free(r);
}

/* Drop one ref of r; free it if that was the last. */
static void unref(struct rec *r)
{
    weft__lock_acquire(&table_lock);
    bool gone = --r->refs == 0;
    weft__lock_release(&table_lock);
    if (gone) free_rec(r);
}

static void foreign_exit(void *p);

/* fork() (fork.c's table: table_lock, then the scope tree, then exit_q.lock and hook.lock):
 * only the forking thread lives on in the child. The locks are held across the fork so that
 * no other thread holds them mid-update; in the child the records of the threads that did not
 * come along become finished and unjoinable (their pthreads do not exist there: a join would
 * wait forever), and the exit rule stops waiting for them. */
void weft__thread_fork_prepare(void)
{
    weft__lock_acquire(&table_lock);
}

void weft__thread_fork_parent(void)
{
    weft__lock_release(&table_lock);
}

void weft__thread_fork_child(void)
{
    struct rec *self = tls_self;
    live = 0;
    nondaemon = 0; /* exit_q's guard: the child has one thread */
    for (uint32_t i = 0; i < nslots; i++) {
        struct rec *r = slots[i].rec;
        if (r == NULL) continue;
        if (r == self) {
            live++;
            nondaemon += !r->foreign && !r->daemon;
            continue;
        }
        atomic_init(&r->done_q.lock.word, 0); /* its holder, if any, is gone */
        r->done_q.head = r->done_q.tail = NULL;
        if (!r->done) r->status = WEFT_EFAILED;
        r->done = r->released = r->reported = true;
    }
    /* The forking thread is the child's main thread (Python's main_thread() after fork). A
     * record of a thread weft started is unmapped when it finishes: only a foreign one, never
     * unmapped, may be main_rec; otherwise main gets a record of its own on demand. */
    main_rec = self && self->foreign ? self : NULL;
    if (self) atomic_store_explicit(&self->tid, weft__os_gettid(), memory_order_relaxed);
    weft__thread_fork_parent();
}

void weft__thread_exitq_fork_prepare(void)
{
    weft__lock_acquire(&exit_q.lock);
    weft__lock_acquire(&hook.lock);
}

void weft__thread_exitq_fork_parent(void)
{
    weft__lock_release(&hook.lock);
    weft__lock_release(&exit_q.lock);
}

/* Runs before weft__thread_fork_child (fork.c releases in reverse order). */
void weft__thread_exitq_fork_child(void)
{
    exit_q.head = exit_q.tail = NULL;
    weft__thread_exitq_fork_parent();
}

static void setup(void)
{
    weft__fork_register();
    weft__exit_register();
    pthread_key_create(&foreign_key, foreign_exit);
}

static void capture_failure(struct rec *r, int status)
{
    if (status == 0) return;
    weft__failure_message(status, "thread function", r->message, sizeof r->message);
}

/* Mark r finished, wake its joiners, report an unjoinable failure, drop the thread's ref. */
static void finish(struct rec *r, int status)
{
    weft__hb_release(r); /* everything the thread did, for a joiner under TSan */
    capture_failure(r, status);
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&r->done_q.lock);
    r->status = status;
    r->done = true;
    weft__waitq_wake_all(&r->done_q, &wl);
    weft__lock_release(&r->done_q.lock);
    weft__wakelist_flush(&wl);

    weft__lock_acquire(&table_lock);
    live--;
    /* A released thread has no joiner: it unmaps itself and reports its own failure, unless
     * weft_thread_detach saw it done and did both already. */
    bool report_it = r->released && is_failure(r) && !r->reported;
    if (r->released) r->reported = true;
    if (r->released && lookup((weft_thread){r->id}) == r) unmap(r); /* our ref keeps r */
    weft__lock_release(&table_lock);
    if (report_it) report(r);

    if (!r->daemon) {
        weft__lock_acquire(&exit_q.lock);
        nondaemon--;
        weft__waitq_wake_all(&exit_q, &wl);
        weft__lock_release(&exit_q.lock);
        weft__wakelist_flush(&wl);
    }
    unref(r);
}

static void finish_on_exit(void *p)
{
    /* pthread_exit or pthread_cancel inside a weft thread: still finish, as a failure. */
    weft__scope_leave_thread();
    finish(p, WEFT_EFAILED);
}

static void *trampoline(void *p)
{
    struct rec *r = p;
    tls_self = r;
    atomic_store_explicit(&r->tid, weft__os_gettid(), memory_order_release);
    weft__os_set_thread_name(r->name);
    weft__dbg_thread_start(r->name);
    /* relaxed: only shown by the dump, as whom a joiner waits for. */
    atomic_store_explicit(&r->dbg_id, weft__dbg_owner >> 3, memory_order_relaxed);
    weft__signals_block_self();
    weft__scope_enter_thread(r->scope);
    int status;
    pthread_cleanup_push(finish_on_exit, r);
    status = r->fn(r->arg);
    pthread_cleanup_pop(0);
    /* Still inside its scope: whichever scope was cancelled (weft_thread_stop, an ancestor such
     * as the root on Ctrl-C, a deadline), this one says so. Published with done. */
    r->stopped = status == WEFT_ECANCELED && weft_scope_cancelled(r->scope) == 1;
    weft__scope_leave_thread();
    finish(r, status);
    tls_self = NULL;
    return NULL;
}

/* ---- start ---- */

static int check_opts(const weft_thread_opts *o)
{
    if (o->name && strlen(o->name) >= WEFT_THREAD_NAME_MAX)
        return weft__fail(WEFT_EINVAL, "name is %zu bytes; the limit is %d", strlen(o->name),
                          WEFT_THREAD_NAME_MAX - 1);
    if (o->stack_size != 0 && o->stack_size < MIN_STACK)
        return weft__fail(WEFT_EINVAL, "stack_size is %zu bytes; the minimum is %d (or 0)",
                          o->stack_size, MIN_STACK);
    return 0;
}

static struct rec *new_rec(const weft_thread_opts *o)
{
    struct rec *r = weft__calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    if (o->name)
        snprintf(r->name, sizeof r->name, "%s", o->name);
    else
        snprintf(r->name, sizeof r->name, "thread-%llu",
                 (unsigned long long)atomic_fetch_add(&name_seq, 1) + 1);
    r->daemon = o->daemon != 0;
    return r;
}

static int create(struct rec *r, size_t stack_size)
{
    pthread_attr_t attr;
    if (stack_size == 0) stack_size = atomic_load_explicit(&default_stack, memory_order_relaxed);
    if (pthread_attr_init(&attr) != 0)
        return weft__fail(WEFT_ENOMEM, "no memory for thread attributes");
    int e = stack_size ? pthread_attr_setstacksize(&attr, stack_size) : 0;
    if (e == 0) e = weft__fault(WEFT__FAULT_THREAD_CREATE) ? EAGAIN : 0;
    if (e == 0) e = pthread_create(&r->pth, &attr, trampoline, r);
    pthread_attr_destroy(&attr);
    if (e == 0) return 0;
    if (e == EAGAIN) return weft__fail(WEFT_EAGAIN, "the system refused another thread");
    if (e == ENOMEM) return weft__fail(WEFT_ENOMEM, "no memory for a thread's stack");
    return weft__fail(WEFT_EINVAL, "the system refused a stack of %zu bytes", stack_size);
}

int weft_thread_start(weft_thread *out, weft_thread_fn fn, void *arg, const weft_thread_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_thread_opts") != 0) return WEFT_EINVAL;
    static const weft_thread_opts defaults = WEFT_THREAD_OPTS_INIT;
    const weft_thread_opts *o = opts ? opts : &defaults;
    if (out == NULL || fn == NULL)
        return weft__fail(WEFT_EINVAL, "%s", out == NULL ? "out is NULL" : "fn is NULL");
    int rc = check_opts(o);
    if (rc) return rc;
    pthread_once(&setup_once, setup);
    struct rec *r = new_rec(o);
    if (r == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a thread record");
    if (weft_scope_new(&r->scope, o->scope, NULL) != 0) {
        free(r);
        return weft__fail(WEFT_ENOMEM, "no memory for the thread's cancel scope");
    }
    r->fn = fn;
    r->arg = arg;
    r->refs = 1; /* the running thread's */

    weft__lock_acquire(&table_lock);
    rc = map(r);
    if (rc == 0) {
        live++;
        if (!r->daemon) {
            weft__lock_acquire(&exit_q.lock);
            nondaemon++;
            weft__lock_release(&exit_q.lock);
        }
        /* Created under table_lock: the new thread's finish() takes table_lock, so it cannot
         * run ahead of the bookkeeping above, and a failed create is undone atomically. */
        rc = create(r, o->stack_size);
        if (rc == 0) {
            *out = (weft_thread){r->id};
        } else {
            live--;
            unmap(r);
            if (!r->daemon) {
                weft__lock_acquire(&exit_q.lock);
                nondaemon--;
                weft__lock_release(&exit_q.lock);
            }
        }
    }
    weft__lock_release(&table_lock);
    if (rc) free_rec(r);
    return rc;
}

/* ---- join ---- */

/* Wait until r is done (r is kept alive by the caller's ref). */
static int wait_done(struct rec *r, weft_ns timeout)
{
    weft_ns deadline;
    int rc = weft__deadline_of(timeout, &deadline);
    if (rc) return rc;
    bool yielded = false;
again:
    weft__lock_acquire(&r->done_q.lock);
    if (r->done) {
        weft__lock_release(&r->done_q.lock);
        return 0;
    }
    if (timeout == 0) {
        weft__lock_release(&r->done_q.lock);
        return WEFT_EAGAIN;
    }
    if (!yielded) {
        /* Give the CPU away once before parking: where the thread waits for this very CPU
         * (both pinned to one, or an oversubscribed machine) it often finishes in that time,
         * and the join then needs no futex wait and wake on done_q ahead of pthread_join's. */
        weft__lock_release(&r->done_q.lock);
        weft__os_yield();
        yielded = true;
        goto again;
    }
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    /* No spinning: a thread's end is not a hand-off that arrives within microseconds, and a
     * spinning joiner would take a CPU from the very thread it waits for. */
    p.spin = false;
    weft__park_what(&p, WEFT__WAIT_JOIN, r);
    weft__parker_self()->holder = atomic_load_explicit(&r->dbg_id, memory_order_relaxed);
    weft__waiter_init(&w, &p, 0);
    return weft__waitq_wait_locked(&r->done_q, &w);
}

/* After r is done: reap it if nobody else did. The caller's ref keeps r alive throughout.
 * Returns 0 or WEFT_ESRCH. */
static int reap(struct rec *r, int *status)
{
    weft__lock_acquire(&table_lock);
    /* released: the exit rule detached it after this join began (it may not be joined). */
    bool mine = lookup((weft_thread){r->id}) == r && !r->released;
    if (mine) {
        r->reported = true;
        unmap(r); /* cannot free: the caller holds a ref */
    }
    weft__lock_release(&table_lock);
    if (mine) {
        /* The thread has signalled done; pthread_join waits out the last instructions of its
         * exit (after which its finish() has dropped its ref) and frees its stack. */
        pthread_join(r->pth, NULL);
        if (status) *status = r->status;
        if (r->status != 0) weft__error_put(r->status, r->message);
    }
    unref(r);
    return mine ? 0 : WEFT_ESRCH;
}

int weft_thread_join(weft_thread t, int *status, weft_ns timeout)
{
    int rc;
    if (timeout < 0) return weft__fail(WEFT_EINVAL, "timeout is negative");
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    rc = 0;
    if (r->released) /* a released handle no longer owns the thread: stale for join */
        rc = WEFT_ESRCH;
    else if (r == tls_self)
        rc = WEFT_EDEADLK;
    else if (r->foreign)
        rc = weft__fail(WEFT_EINVAL, "t is a thread weft did not start: it cannot be joined");
    if (rc) {
        weft__lock_release(&table_lock);
        return rc;
    }
    r->refs++;
    weft__lock_release(&table_lock);

    rc = wait_done(r, timeout);
    if (rc == 0) {
        weft__hb_acquire(r); /* finish's release (core/annotate.h) */
        return reap(r, status);
    }
    unref(r);
    return rc;
}

int weft_thread_detach(weft_thread t)
{
    int rc;
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    if (r->foreign || r->released) {
        rc = r->released ? WEFT_ESRCH /* released: the handle is stale */
                         : weft__fail(WEFT_EINVAL, "t is a thread weft did not start");
        weft__lock_release(&table_lock);
        return rc;
    }
    r->released = true;
    pthread_detach(r->pth);
    /* If it already finished, nobody else will unmap it or report its failure. */
    weft__lock_acquire(&r->done_q.lock);
    bool done = r->done;
    weft__lock_release(&r->done_q.lock);
    bool failed = false;
    if (done) {
        failed = !r->reported && is_failure(r);
        r->reported = true;
        r->refs++; /* keep it alive for the report: unmap cannot free it */
        unmap(r);
    }
    weft__lock_release(&table_lock);
    if (done) {
        if (failed) report(r);
        unref(r);
    }
    return 0;
}

/* ---- identity and enumeration ---- */

int weft_thread_stop(weft_thread t)
{
    int rc;
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    rc = r->foreign ? weft__fail(WEFT_EINVAL, "t is a thread weft did not start: it has no scope")
                    : weft_scope_cancel(r->scope, WEFT_ECANCELED, "thread stopped");
    weft__lock_release(&table_lock);
    return rc;
}

int weft_thread_is_alive(weft_thread t)
{
    int rc;
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    weft__lock_acquire(&r->done_q.lock);
    int alive = !r->done;
    weft__lock_release(&r->done_q.lock);
    weft__lock_release(&table_lock);
    return alive;
}

/* A foreign thread that registered is finished when it exits (pthread key destructor). */
static void foreign_exit(void *p)
{
    struct rec *r = p;
    weft__lock_acquire(&r->done_q.lock);
    r->done = true;
    weft__lock_release(&r->done_q.lock);
    weft__lock_acquire(&table_lock);
    live--;
    /* main (after pthread_exit) keeps its handle: weft_thread_main() then says it is done */
    bool gone = r != main_rec && unmap(r);
    weft__lock_release(&table_lock);
    if (gone) free_rec(r);
    tls_self = NULL;
}

/* A record for a thread weft did not start: the caller, or (self false) the main thread seen
 * from another one. The main thread has one record: whoever comes first makes it. */
static struct rec *register_foreign(bool self)
{
    pthread_once(&setup_once, setup);
    int32_t tid = self ? weft__os_gettid() : (int32_t)getpid();
    bool is_main = tid == (int32_t)getpid();
    weft__lock_acquire(&table_lock);
    struct rec *r = is_main ? main_rec : NULL;
    weft__lock_release(&table_lock);
    if (r) { /* a record never unmapped (see foreign_exit), maybe made by another thread */
        if (self) pthread_setspecific(foreign_key, r); /* so a pthread_exit marks it done */
        return r;
    }
    r = weft__calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->foreign = true;
    if (self) r->pth = pthread_self();
    atomic_init(&r->tid, tid);
    if (is_main)
        snprintf(r->name, sizeof r->name, "main");
    else
        snprintf(r->name, sizeof r->name, "dummy-%llu",
                 (unsigned long long)atomic_fetch_add(&name_seq, 1) + 1);
    weft__lock_acquire(&table_lock);
    struct rec *won = is_main ? main_rec : NULL; /* another thread made main's meanwhile */
    int rc = won ? 0 : map(r);
    if (rc == 0 && !won) live++;
    if (rc == 0 && is_main && !won) main_rec = r;
    weft__lock_release(&table_lock);
    if (rc || won) {
        free(r);
        return won;
    }
    if (!self) return r;
    /* The main thread's destructors never run (exit() does not call them): its record lives
     * as long as the process, which is what "main" should do. */
    pthread_setspecific(foreign_key, r);
    return r;
}

weft_thread weft_thread_current(void)
{
    struct rec *r = tls_self;
    if (r == NULL) r = tls_self = register_foreign(true);
    return (weft_thread){r ? r->id : 0};
}

weft_thread weft_thread_main(void)
{
    pthread_once(&setup_once, setup);
    weft__lock_acquire(&table_lock);
    struct rec *r = main_rec;
    weft__lock_release(&table_lock);
    /* main asking itself: its current() record is main's (unless it is a weft thread's, in a
     * child forked from one: then main gets a foreign record of its own, never unmapped) */
    if (r == NULL && tls_self == NULL && weft__os_gettid() == (int32_t)getpid())
        return weft_thread_current();
    if (r == NULL) r = register_foreign(false);
    return (weft_thread){r ? r->id : 0};
}

size_t weft_thread_get_stack_size(void)
{
    return atomic_load_explicit(&default_stack, memory_order_relaxed);
}

int weft_thread_set_stack_size(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size != 0 && size < MIN_STACK)
        return weft__fail(WEFT_EINVAL, "stack size is %zu bytes; the minimum is %d (or 0)", size,
                          MIN_STACK);
    if (size > SIZE_MAX / 2)
        return weft__fail(WEFT_EINVAL, "stack size is %zu bytes: too large", size);
    size = (size + page - 1) / page * page;
    atomic_store_explicit(&default_stack, size, memory_order_relaxed);
    return 0;
}

int weft_thread_native_id(weft_thread t, int32_t *tid)
{
    int rc;
    if (tid == NULL) return weft__fail(WEFT_EINVAL, "tid is NULL");
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    int32_t v = atomic_load_explicit(&r->tid, memory_order_acquire);
    weft__lock_release(&table_lock);
    if (v == 0) return weft__fail(WEFT_ESTATE, "the thread has not started running yet");
    *tid = v;
    return 0;
}

int weft_thread_name(weft_thread t, char *buf, size_t size)
{
    int rc;
    if (buf == NULL || size == 0)
        return weft__fail(WEFT_EINVAL, "%s", buf == NULL ? "buf is NULL" : "size is 0");
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    snprintf(buf, size, "%s", r->name);
    weft__lock_release(&table_lock);
    return 0;
}

int weft_thread_is_daemon(weft_thread t)
{
    int rc;
    struct rec *r = lookup_locked_or(t, &rc);
    if (r == NULL) return rc;
    int d = r->daemon;
    weft__lock_release(&table_lock);
    return d;
}

size_t weft_thread_count(void)
{
    weft__lock_acquire(&table_lock);
    size_t n = live;
    weft__lock_release(&table_lock);
    return n;
}

size_t weft_thread_enumerate(weft_thread *out, size_t cap)
{
    size_t n = 0;
    weft__lock_acquire(&table_lock);
    for (uint32_t i = 0; i < nslots; i++) {
        struct rec *r = slots[i].rec;
        if (r == NULL) continue;
        weft__lock_acquire(&r->done_q.lock);
        bool done = r->done;
        weft__lock_release(&r->done_q.lock);
        if (done) continue;
        if (out && n < cap) out[n] = (weft_thread){r->id};
        n++;
    }
    weft__lock_release(&table_lock);
    return n;
}

/* ---- the exit rule ---- */

void weft__thread_wait_nondaemon(void)
{
    struct rec *self = tls_self;
    size_t mine = self && !self->foreign && !self->daemon ? 1 : 0;
    weft__lock_acquire(&exit_q.lock);
    while (nondaemon > mine) weft__waitq_sleep_locked(&exit_q, WEFT_FOREVER);
    weft__lock_release(&exit_q.lock);
}

void weft__thread_at_exit(void)
{
    /* Report finished threads that failed and were never joined. Every thread nobody joined
     * is detached: the process is ending, and a joinable thread left over is a leak to tools
     * such as ThreadSanitizer. A late join from a daemon thread then gets WEFT_ESRCH. */
    weft__lock_acquire(&table_lock);
    for (uint32_t i = 0; i < nslots; i++) {
        struct rec *r = slots[i].rec;
        if (r == NULL || r->foreign) continue;
        if (!r->released) {
            r->released = true;
            pthread_detach(r->pth);
        }
        if (r->reported) continue;
        weft__lock_acquire(&r->done_q.lock);
        bool failed = r->done && is_failure(r);
        weft__lock_release(&r->done_q.lock);
        if (!failed) continue;
        r->reported = true;
        r->refs++; /* a daemon thread may join it meanwhile */
        weft__lock_release(&table_lock);
        report(r);
        weft__lock_acquire(&table_lock);
        if (--r->refs == 0) free_rec(r); /* joined meanwhile: its slot is gone, the scan goes on */
    }
    weft__lock_release(&table_lock);
}
