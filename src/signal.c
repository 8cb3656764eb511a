/* src/signal.c - signals received by one thread and turned into cancellation of the root scope.
 *
 * The chosen signals are blocked in the thread that calls weft_signals_catch (normally main,
 * before it starts threads) and, through weft__signals_block_self() in thread.c's trampoline,
 * in every thread weft starts; a dedicated pthread, not a weft thread (it must not hold up
 * exit nor appear in weft_thread_enumerate), waits for them with sigwaitinfo. So no weft code
 * runs in a signal handler, and whichever thread the kernel picks, the signal thread gets it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/cancel.h>
#include <weft/error.h>
#include <weft/signal.h>

#include "signal_internal.h"

static struct {
    sigset_t set;
    weft_signals_opts opts;
    _Atomic int active;   /* 0, 1 = catching; release pairs with the acquire in block_self */
    _Atomic int received; /* the first signal's number */
} sig;

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
                     sigabbrev_np(signo) ? sigabbrev_np(signo) : "?");
    if (n > 0 && write(2, msg, (size_t)n) < 0) { /* nothing more to do: we are exiting */
    }
    _exit(128 + signo);
}

static void *signal_thread(void *unused)
{
    (void)unused;
    for (;;) {
        siginfo_t info;
        int signo = sigwaitinfo(&sig.set, &info);
        if (signo <= 0) continue; /* EINTR */
        int first = 0;
        if (!atomic_compare_exchange_strong(&sig.received, &first, signo)) {
            if (sig.opts.second_exits) second_signal(signo);
            continue;
        }
        if (sig.opts.on_signal) sig.opts.on_signal(signo, sig.opts.arg);
        const char *name = sigabbrev_np(signo);
        weft_scope_cancel(weft_scope_root(), WEFT_ECANCELED, "SIG%s received", name ? name : "?");
    }
    return NULL;
}

static int build_set(const weft_signals_opts *o, sigset_t *set)
{
    static const int defaults[] = {SIGINT, SIGTERM};
    const int *list = o->signals ? o->signals : defaults;
    size_t n = o->signals ? o->count : 2;
    if (n == 0) return WEFT_EINVAL;
    sigemptyset(set);
    for (size_t i = 0; i < n; i++) {
        if (!catchable(list[i])) return WEFT_EINVAL;
        sigaddset(set, list[i]);
    }
    return 0;
}

int weft_signals_catch(const weft_signals_opts *opts)
{
    static const weft_signals_opts defaults = WEFT_SIGNALS_OPTS_INIT;
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    const weft_signals_opts *o = opts ? opts : &defaults;
    sigset_t set;
    int rc = build_set(o, &set);
    if (rc) return rc;
    pthread_mutex_lock(&once);
    if (atomic_load(&sig.active)) {
        pthread_mutex_unlock(&once);
        return WEFT_EBUSY;
    }
    sig.set = set;
    sig.opts = *o;
    sig.opts.signals = NULL; /* borrowed only during the call */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* The signal thread blocks every signal it does not wait for, and inherits the rest. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    int e = pthread_create(&t, NULL, signal_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e == 0) {
        pthread_detach(t);
        atomic_store_explicit(&sig.active, 1, memory_order_release);
    } else {
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    pthread_mutex_unlock(&once);
    return e == 0 ? 0 : WEFT_EAGAIN;
}

void weft__signals_forget(void)
{
    /* relaxed: the child has a single thread at this point. */
    atomic_store_explicit(&sig.active, 0, memory_order_relaxed);
    atomic_store_explicit(&sig.received, 0, memory_order_relaxed);
}

int weft_signals_received(void)
{
    return atomic_load(&sig.received);
}
