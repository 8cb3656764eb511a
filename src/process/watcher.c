/* src/process/watcher.c - the watcher: weft's one service thread of the process module.
 *
 * What it does, all of it what no caller can do synchronously:
 *   - reaps a child soon after it ends, when nobody joins it (a released handle, a child that is
 *     never joined): it sleeps in epoll_wait on every live child's pidfd, and when one becomes
 *     readable it reaps that child (weft__process_try_reap) and wakes its joiners through the
 *     parking lot; it also detaches the terminate_on_cancel hook of a reaped child;
 *   - sends SIGKILL at a child's kill_at (terminate_on_cancel's grace), as its epoll timeout;
 *   - is the parent thread of the processes the parent makes itself: it executes the fork server
 *     (when the parent has threads), executes the spawn method's programs and forks the fork
 *     method's children, on a starter's request (weft__watcher_call: one call at a time, the
 *     starter waits). PR_SET_PDEATHSIG, which a daemon child sets, fires when the creating
 *     *thread* exits; the watcher lives until exit(), so a daemon child dies with the process,
 *     never with the thread that started it. The fork server's children are cloned with
 *     CLONE_PARENT, so their creating thread is the server's.
 *
 * Protocol. A call: the starter, under w_mutex, waits until no call is pending, publishes its
 * w_call, pokes the eventfd and waits on w_cond until the watcher marks it done. A child: the
 * starter adds its pidfd to the epoll set with data.ptr = the handle, after giving the handle
 * the watcher's reference (process.c); the watcher drops that reference once it reaped the child
 * and removed the pidfd. The eventfd's entry has data.ptr NULL. Stop: at exit, once every child
 * is reaped (process.c's exit rule), w_quit is set and the thread joined; later starts fail.
 *
 * Lock order: process.c's srv_mutex before w_mutex; w_mutex is never held while the watcher
 * reaps (a handle's waiters.lock, process.c's reg_lock). w_mutex is held across no wait but the
 * condition waits, which release it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/fork.h"
#include "core/internal.h"
#include "os/os.h"
#include "process_internal.h"

/* A call the watcher runs for a starter: one at a time, under w_mutex. */
struct w_call {
    int (*fn)(void *arg);
    void *arg;
    int rc;
    bool done;
    char msg[WEFT_ERROR_MESSAGE_MAX];
};

static pthread_mutex_t w_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static int w_started, w_quit, w_epoll = -1, w_event = -1;
static pthread_t w_thread;
static struct w_call *w_call;
/* 1 when some child may have a kill_at set: the watcher then scans the list. Release stores
 * (weft__watcher_kills_due, the scan) pair with the watcher's acquire exchange. */
static _Atomic int w_kills;

static void poke(void)
{
    uint64_t one = 1;
    if (write(w_event, &one, sizeof one) < 0) { /* EAGAIN: a wake-up is pending anyway */
    }
}

/* Run the pending call, if any (weft__watcher_call waits for it). The fork method's child
 * never comes back from fn (it runs its function). */
static void run_call(void)
{
    pthread_mutex_lock(&w_mutex);
    struct w_call *c = w_call;
    pthread_mutex_unlock(&w_mutex);
    if (c == NULL) return;
    int rc = c->fn(c->arg);
    pthread_mutex_lock(&w_mutex);
    c->rc = rc;
    if (rc != 0) snprintf(c->msg, sizeof c->msg, "%s", weft_error_message());
    c->done = true;
    w_call = NULL;
    pthread_cond_broadcast(&w_cond);
    pthread_mutex_unlock(&w_mutex);
}

/* SIGKILL the children whose kill_at passed; returns the epoll timeout until the next one
 * (ms, -1 for none). */
static int run_kills(void)
{
    /* acquire: pairs with the release stores of w_kills in weft__watcher_kills_due. */
    if (!atomic_exchange_explicit(&w_kills, 0, memory_order_acquire)) return -1;
    weft_ns now = weft__os_now(), next = weft__process_kill_due(now);
    if (next == WEFT_FOREVER) return -1;
    atomic_store_explicit(&w_kills, 1, memory_order_release); /* scan again at the timeout */
    weft_ns ms = (next - now + WEFT_MS(1) - 1) / WEFT_MS(1);
    return ms > 60000 ? 60000 : (int)ms;
}

/* Handle n epoll events; returns 1 when the watcher must end (weft__watcher_stop). */
static int handle(const struct epoll_event *ev, int n)
{
    int quit = 0;
    for (int i = 0; i < n; i++) {
        struct weft_process *p = ev[i].data.ptr;
        if (p == NULL) {
            uint64_t v;
            if (read(w_event, &v, sizeof v) == (ssize_t)sizeof v) run_call();
            pthread_mutex_lock(&w_mutex);
            quit = w_quit;
            pthread_mutex_unlock(&w_mutex);
        } else if (weft__process_try_reap(p, true)) {
            epoll_ctl(w_epoll, EPOLL_CTL_DEL, p->pidfd, NULL);
            if (p->hook.scope != NULL) weft__scope_hook_remove(&p->hook);
            weft__process_unref(p);
        }
    }
    return quit;
}

static void *watcher_main(void *arg)
{
    (void)arg;
    struct epoll_event ev[16];
    int timeout = -1, n;
    for (;;) {
        n = epoll_wait(w_epoll, ev, 16, timeout);
        if (handle(ev, n)) break;
        timeout = run_kills();
    }
    /* Exit: every child has been reaped; drop the references of those still in the set. */
    while ((n = epoll_wait(w_epoll, ev, 16, 0)) > 0) handle(ev, n);
    return NULL;
}

static int start_thread(void)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the watcher takes no signal */
    int rc = weft__fault(WEFT__FAULT_THREAD_CREATE)
                 ? EAGAIN
                 : pthread_create(&w_thread, &at, watcher_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    return rc;
}

/* Start the watcher once; w_mutex held. */
static int start_locked(void)
{
    if (w_quit) return weft_error_set(WEFT_ESTATE, "process: the program is exiting");
    if (w_started) return 0;
    w_epoll = epoll_create1(EPOLL_CLOEXEC);
    w_event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (w_epoll >= 0 && w_event >= 0 && epoll_ctl(w_epoll, EPOLL_CTL_ADD, w_event, &ev) == 0 &&
        start_thread() == 0) {
        w_started = 1;
        return 0;
    }
    if (w_epoll >= 0) close(w_epoll);
    if (w_event >= 0) close(w_event);
    w_epoll = w_event = -1;
    return weft_error_set(WEFT_EAGAIN, "process: cannot start the watcher thread");
}

int weft__watcher_start(void)
{
    pthread_mutex_lock(&w_mutex);
    int rc = start_locked();
    pthread_mutex_unlock(&w_mutex);
    return rc;
}

int weft__watcher_add(struct weft_process *p)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(w_epoll, EPOLL_CTL_ADD, p->pidfd, &ev) == 0) return 0;
    return weft_error_set(WEFT_ENOMEM, "process: epoll_ctl: %s", strerror(errno));
}

void weft__watcher_kills_due(void)
{
    atomic_store_explicit(&w_kills, 1, memory_order_release);
    poke();
}

int weft__watcher_call(int (*fn)(void *), void *arg)
{
    struct w_call c = {.fn = fn, .arg = arg};
    pthread_mutex_lock(&w_mutex);
    int rc = start_locked();
    if (rc == 0) {
        while (w_call != NULL) pthread_cond_wait(&w_cond, &w_mutex);
        w_call = &c;
        poke();
        while (!c.done) pthread_cond_wait(&w_cond, &w_mutex);
        rc = c.rc;
    }
    pthread_mutex_unlock(&w_mutex);
    if (rc != 0 && c.done) weft__error_put(rc, c.msg);
    return rc;
}

void weft__watcher_stop(void)
{
    pthread_mutex_lock(&w_mutex);
    int started = w_started;
    w_quit = 1;
    if (started) poke();
    pthread_mutex_unlock(&w_mutex);
    if (started) pthread_join(w_thread, NULL);
}

void weft__watcher_forget(bool close_fds)
{
    if (close_fds && w_epoll >= 0) close(w_epoll);
    if (close_fds && w_event >= 0) close(w_event);
    pthread_mutex_init(&w_mutex, NULL);
    pthread_cond_init(&w_cond, NULL);
    w_epoll = w_event = -1;
    w_started = w_quit = 0;
    w_call = NULL;
    atomic_store_explicit(&w_kills, 0, memory_order_relaxed);
}
