/* src/signal.c - signals received by one thread and turned into cancellation of the root scope.
 *
 * The chosen signals are blocked in the thread that calls weft_signals_catch (normally main,
 * before it starts threads) and, through weft__signals_block_self() in thread.c's trampoline,
 * in every thread weft starts; a dedicated pthread, not a weft thread (it must not hold up
 * exit nor appear in weft_thread_enumerate), waits for them with sigwaitinfo. So no weft code
 * runs in a signal handler, and whichever thread the kernel picks, the signal thread gets it.
 *
 * The thread ends at exit (exit.c, once the exit rule's waits are over, during which a signal
 * still cancels the root scope): it is cancelled (pthread_cancel) where it waits, the one
 * point where its cancellation is enabled, and joined, so that no thread is left over for
 * tools such as valgrind. A child made by fork() gets a signal thread of its own (fork.c's
 * table), so Ctrl-C reaches it as it reaches the parent.
 * Streams (weft_signals_notify, Go's signal.Notify). The same thread also waits for the
 * signals some queue was registered for, and puts one item per signal it receives into each
 * such queue (nt.regs) with timeout 0: the queues are unbounded, so the put never waits and
 * only a failed allocation can refuse an item - then the occurrence is owed and added to the
 * count of that queue's next item for the signal, so none is lost. The thread waits on the
 * union of the caught and ever-notified signals (sig.set); a notify that adds a signal stops
 * the thread (cancelled where it waits) and starts it again with the larger set, a signal
 * arriving meanwhile staying pending (blocked everywhere) for the new thread. A signal no
 * queue wants any more stays in the set and is received and dropped.
 * Lock order: docs/design/locks.md: sig.lock (a pthread mutex: weft_signals_catch and notify
 * start the thread under it) is the outermost; nt.lock (the registrations) inside it, and the
 * signal thread takes nt.lock alone, around its puts (a queue's lock inside it).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <stdint.h>
#include <stdlib.h>

#include <weft/cancel.h>
#include <weft/error.h>
#include <weft/queue.h>
#include <weft/signal.h>

#include "core/fork.h"
#include "core/internal.h"
#include "core/opts.h"
#include "os/os.h"
#include "signal_internal.h"

static struct {
    sigset_t set;       /* what the thread waits for: catch_set and every notified signal */
    sigset_t catch_set; /* weft_signals_catch's, while catching */
    bool catching;      /* weft_signals_catch is in force */
    weft_signals_opts opts;
    _Atomic int active;   /* 1 = the thread runs; release pairs with the acquire in block_self */
    _Atomic int received; /* the first caught signal's number */
    pthread_t thread;     /* while active */
    pthread_mutex_t lock; /* catch, notify, fork and exit; set and catch_set change under it
                             while the thread is stopped */
} sig = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One weft_signals_notify registration. owed[s]: occurrences of s that no item carries yet
 * (a put that could not allocate). */
struct reg {
    struct reg *next;
    weft_queue *q;
    sigset_t set;
    uint32_t owed[NSIG];
};

static struct {
    pthread_mutex_t lock; /* regs, and every put into a registered queue */
    struct reg *regs;
} nt = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int catchable(int s)
{
    return s > 0 && s < NSIG && s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS &&
           s != SIGILL && s != SIGFPE;
}

void weft__signals_block_self(void)
{
    if (!atomic_load_explicit(&sig.active, memory_order_acquire)) return;
    pthread_mutex_lock(&sig.lock); /* sig.set may be growing */
    pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
    pthread_mutex_unlock(&sig.lock);
}

/* One received signal to every queue registered for it (see the top). */
static void deliver(int signo)
{
    pthread_mutex_lock(&nt.lock);
    for (struct reg *r = nt.regs; r; r = r->next) {
        if (sigismember(&r->set, signo) != 1) continue;
        uint32_t n = r->owed[signo] + 1;
        int rc = weft_queue_put(r->q, WEFT_SIGNAL_ITEM(signo, n), 0);
        r->owed[signo] = rc == WEFT_ENOMEM ? n : 0; /* closed: dropped, as the reader left */
    }
    pthread_mutex_unlock(&nt.lock);
}

static void second_signal(int signo)
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "weft: second SIG%s while shutting down, exiting now\n",
                     weft__os_signal_abbrev(signo) ? weft__os_signal_abbrev(signo) : "?");
    if (n > 0 && write(2, msg, (size_t)n) < 0) { /* nothing more to do: we are exiting */
    }
    _exit(128 + signo);
}

static void *signal_thread(void *unused)
{
    (void)unused;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL); /* but in sigwaitinfo */
    for (;;) {
        siginfo_t info;
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int signo = sigwaitinfo(&sig.set, &info);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (signo <= 0) continue; /* EINTR */
        deliver(signo);
        if (sigismember(&sig.catch_set, signo) != 1) continue; /* a stream's only */
        int first = 0;
        if (!atomic_compare_exchange_strong(&sig.received, &first, signo)) {
            if (!sig.opts.ignore_second) second_signal(signo);
            continue;
        }
        if (sig.opts.on_signal) sig.opts.on_signal(signo, sig.opts.arg);
        const char *name = weft__os_signal_abbrev(signo);
        weft_scope_cancel(weft_scope_root(), WEFT_ECANCELED, "SIG%s received", name ? name : "?");
    }
    return NULL;
}

static int build_set(const weft_signals_opts *o, sigset_t *set)
{
    static const int defaults[] = {SIGINT, SIGTERM};
    const int *list = o->signals ? o->signals : defaults;
    size_t n = o->signals ? o->count : 2;
    if (n == 0) return weft__fail(WEFT_EINVAL, "count is 0 with a non-NULL signals array");
    sigemptyset(set);
    for (size_t i = 0; i < n; i++) {
        if (!catchable(list[i]))
            return weft__fail(WEFT_EINVAL, "signals[%zu] is %d: not a signal weft can catch", i,
                              list[i]);
        sigaddset(set, list[i]);
    }
    return 0;
}

/* Start the signal thread (sig.lock held, sig.set blocked in the caller); 0 or an errno. */
static int start_thread(void)
{
    /* The signal thread blocks every signal it does not wait for, and inherits the rest. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&sig.thread, NULL, signal_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

static bool same_set(const sigset_t *a, const sigset_t *b)
{
    for (int i = 1; i < NSIG; i++)
        if (sigismember(a, i) != sigismember(b, i)) return false;
    return true;
}

/* Make the signal thread wait for add too (sig.lock held): block add here, and stop and
 * restart the thread if the set grows, or always when catching (catch: the new catch_set,
 * which the thread reads, so it is written while the thread is stopped; else NULL).
 * 0, WEFT_EDEADLK (called on the signal thread, from on_signal), WEFT_EAGAIN (the thread
 * could not be started: add is unblocked again and the old thread, if any, restarted). */
static int grow(const sigset_t *add, const sigset_t *catch)
{
    sigset_t n, old = sig.set, old_catch = sig.catch_set;
    sigorset(&n, &sig.set, add);
    bool running = atomic_load_explicit(&sig.active, memory_order_relaxed);
    if (running && !catch && same_set(&n, &sig.set)) return 0;
    if (running && pthread_equal(sig.thread, pthread_self()))
        return weft__fail(WEFT_EDEADLK, "called from the signal thread (on_signal)");
    pthread_sigmask(SIG_BLOCK, add, NULL);
    if (running) { /* cancelled where it waits: a signal now stays pending for the next one */
        pthread_cancel(sig.thread);
        pthread_join(sig.thread, NULL);
        atomic_store_explicit(&sig.active, 0, memory_order_relaxed);
    }
    sig.set = n;
    if (catch) sig.catch_set = *catch;
    if (start_thread() == 0) {
        atomic_store_explicit(&sig.active, 1, memory_order_release);
        return 0;
    }
    sig.set = old;
    sig.catch_set = old_catch;
    pthread_sigmask(SIG_UNBLOCK, add, NULL);
    if (running && start_thread() == 0) atomic_store_explicit(&sig.active, 1, memory_order_release);
    return weft__fail(WEFT_EAGAIN, "the signal thread could not be started");
}

int weft_signals_catch(const weft_signals_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_signals_opts") != 0) return WEFT_EINVAL;
    static const weft_signals_opts defaults = WEFT_SIGNALS_OPTS_INIT;
    const weft_signals_opts *o = opts ? opts : &defaults;
    sigset_t set;
    int rc = build_set(o, &set);
    if (rc) return rc;
    weft__fork_register();
    weft__exit_register();
    pthread_mutex_lock(&sig.lock);
    if (sig.catching) {
        pthread_mutex_unlock(&sig.lock);
        return WEFT_EBUSY;
    }
    weft_signals_opts keep = sig.opts;
    sig.opts = *o;           /* read by the thread only for caught signals: none yet */
    sig.opts.signals = NULL; /* borrowed only during the call */
    rc = grow(&set, &set);
    if (rc == 0)
        sig.catching = true;
    else
        sig.opts = keep;
    pthread_mutex_unlock(&sig.lock);
    return rc;
}

int weft_signals_notify(weft_queue *q, const int *signals, size_t count)
{
    if (q == NULL || signals == NULL || count == 0)
        return weft__fail(WEFT_EINVAL, "%s",
                          q == NULL ? "q is NULL" : "signals is NULL or count is 0");
    if (weft_queue_capacity(q) != 0)
        return weft__fail(WEFT_EINVAL, "q is bounded: the signal thread must never wait");
    weft_signals_opts o = {.signals = signals, .count = count};
    sigset_t set;
    int rc = build_set(&o, &set);
    if (rc) return rc;
    /* Made before anything is blocked: out of memory must leave the signals as they were. */
    struct reg *fresh = weft__calloc(1, sizeof *fresh);
    if (fresh == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a signal registration");
    weft__fork_register();
    weft__exit_register();
    pthread_mutex_lock(&sig.lock);
    rc = grow(&set, NULL);
    if (rc == 0) {
        pthread_mutex_lock(&nt.lock);
        struct reg *r = nt.regs;
        while (r && r->q != q) r = r->next;
        if (r == NULL) {
            r = fresh;
            fresh = NULL;
            r->q = q;
            sigemptyset(&r->set);
            r->next = nt.regs;
            nt.regs = r;
        }
        sigorset(&r->set, &r->set, &set);
        pthread_mutex_unlock(&nt.lock);
    }
    pthread_mutex_unlock(&sig.lock);
    free(fresh); /* q was registered already, or grow failed */
    return rc;
}

int weft_signals_stop(weft_queue *q)
{
    if (q == NULL) return weft__fail(WEFT_EINVAL, "q is NULL");
    pthread_mutex_lock(&nt.lock);
    struct reg **pp = &nt.regs;
    while (*pp && (*pp)->q != q) pp = &(*pp)->next;
    struct reg *r = *pp;
    if (r) *pp = r->next;
    pthread_mutex_unlock(&nt.lock);
    free(r);
    return 0;
}

/* fork(): sig.lock is held across it. The child has no signal thread: it starts its own, so
 * that the signals the forking thread blocks still cancel the child's root scope. If it cannot,
 * the child unblocks them (their default action applies, as in a program without weft) and
 * weft_signals_catch may be called again there. */
void weft__signals_fork_prepare(void)
{
    pthread_mutex_lock(&sig.lock);
    pthread_mutex_lock(&nt.lock); /* the signal thread may be putting */
}

void weft__signals_fork_parent(void)
{
    pthread_mutex_unlock(&nt.lock);
    pthread_mutex_unlock(&sig.lock);
}

/* Drop every registration (a child that must not inherit them; single-threaded). */
static void forget_regs(void)
{
    while (nt.regs) {
        struct reg *r = nt.regs;
        nt.regs = r->next;
        free(r);
    }
}

void weft__signals_fork_child(void)
{
    pthread_mutex_unlock(&nt.lock);
    if (weft__fork_for_process) {
        atomic_store_explicit(&sig.active, 0, memory_order_relaxed); /* process/child.c resets */
    } else if (atomic_load_explicit(&sig.active, memory_order_relaxed) && start_thread() != 0) {
        pthread_sigmask(SIG_UNBLOCK, &sig.set, NULL);
        atomic_store_explicit(&sig.active, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&sig.lock);
}

/* Exit: end the signal thread (not from itself: an on_signal callback that calls exit). The
 * signals stay blocked: one that comes now is not acted on, as the process is ending. */
void weft__signals_at_exit(void)
{
    pthread_mutex_lock(&sig.lock);
    bool end = atomic_load(&sig.active) && !pthread_equal(sig.thread, pthread_self());
    if (end) {
        pthread_cancel(sig.thread);
        pthread_join(sig.thread, NULL);
        atomic_store(&sig.active, 0);
    }
    pthread_mutex_unlock(&sig.lock);
}

void weft__signals_forget(void)
{
    /* relaxed: the child has a single thread at this point (weft__fork_for_process kept the
     * fork handler above from starting a signal thread here). */
    atomic_store_explicit(&sig.active, 0, memory_order_relaxed);
    atomic_store_explicit(&sig.received, 0, memory_order_relaxed);
    sig.catching = false;
    sigemptyset(&sig.set);
    sigemptyset(&sig.catch_set);
    forget_regs();
}

int weft__signals_catching(int signo)
{
    pthread_mutex_lock(&sig.lock);
    int r = atomic_load(&sig.active) && sigismember(&sig.set, signo) == 1;
    pthread_mutex_unlock(&sig.lock);
    return r;
}

int weft_signals_received(void)
{
    return atomic_load(&sig.received);
}
