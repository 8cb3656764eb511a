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
 * Lock order: docs/design/locks.md: sig.lock (a pthread mutex: weft_signals_catch starts the
 * thread under it) is the outermost.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/cancel.h>
#include <weft/error.h>
#include <weft/signal.h>

#include "core/fork.h"
#include "core/internal.h"
#include "core/opts.h"
#include "os/os.h"
#include "signal_internal.h"

static struct {
    sigset_t set;
    weft_signals_opts opts;
    _Atomic int active;   /* 0, 1 = catching; release pairs with the acquire in block_self */
    _Atomic int received; /* the first signal's number */
    pthread_t thread;     /* while active */
    pthread_mutex_t lock; /* catch, fork and exit */
} sig = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int catchable(int s)
{
    return s > 0 && s < NSIG && s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS &&
           s != SIGILL && s != SIGFPE;
}

void weft__signals_block_self(void)
{
    if (atomic_load_explicit(&sig.active, memory_order_acquire))
        pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
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
    if (atomic_load(&sig.active)) {
        pthread_mutex_unlock(&sig.lock);
        return WEFT_EBUSY;
    }
    sig.set = set;
    sig.opts = *o;
    sig.opts.signals = NULL; /* borrowed only during the call */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int e = start_thread();
    if (e == 0)
        atomic_store_explicit(&sig.active, 1, memory_order_release);
    else
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_mutex_unlock(&sig.lock);
    return e == 0 ? 0 : WEFT_EAGAIN;
}

/* fork(): sig.lock is held across it. The child has no signal thread: it starts its own, so
 * that the signals the forking thread blocks still cancel the child's root scope. If it cannot,
 * the child unblocks them (their default action applies, as in a program without weft) and
 * weft_signals_catch may be called again there. */
void weft__signals_fork_prepare(void)
{
    pthread_mutex_lock(&sig.lock);
}

void weft__signals_fork_parent(void)
{
    pthread_mutex_unlock(&sig.lock);
}

void weft__signals_fork_child(void)
{
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
