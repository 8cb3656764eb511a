/* src/process/process.c - the process handle: start, join, reap, signals, the exit rule.
 *
 * A handle holds the child's pidfd (every wait and signal goes through it: no pid-reuse
 * race) and the parent's end of a SOCK_SEQPACKET result socket on which the child sends one
 * record when fn returns (status, error code and message, result bytes). The child is always
 * a child of this process (the fork server clones with CLONE_PARENT), so reaping is
 * waitid(P_PIDFD, WEXITED | WNOHANG | __WALL), under the handle's wait-queue lock, by whoever
 * gets there first: a join, exitcode/is_alive, the exit handler, or the watcher (watcher.c).
 * A join is an ordinary weft wait on the handle's wait queue (timeouts and cancellation come
 * from park.c); the watcher wakes it when it has reaped the child.
 *
 * A start, with the fork server: build the request (child.c's wire format), send it on the
 * server's socket and read the answer (the child's pid and pidfd), under srv_mutex; list the
 * handle and give the watcher its pidfd. The spawn and fork methods make their process on the
 * watcher thread (weft__watcher_call), for PR_SET_PDEATHSIG's sake (watcher.c).
 *
 * terminate_on_cancel: a hook in the starter's scope (cancel_internal.h) sends SIGTERM when
 * the scope is cancelled and sets the child's kill_at; the watcher sends SIGKILL at kill_at
 * (weft__process_kill_due) if the child has not been reaped by then, and detaches the hook
 * once it has reaped the child.
 *
 * References: one for the user's handle (dropped by free/release), one for the watcher while
 * the pidfd is in its epoll set (dropped after it reaped and removed it). The exit handler
 * takes its own while it waits. The last drop closes the descriptors.
 *
 * Lock order: srv_mutex (the fork server's socket: one request at a time) before watcher.c's
 * w_mutex (the watcher's start and its calls); a handle's waiters.lock before reg_lock (the
 * list of unreaped children); the scope tree's lock (on_cancel runs under it) before
 * reg_lock. None is held across a wait except srv_mutex across the server's answer and
 * w_mutex (released by the condition wait) across a watcher call. A child made by fork()
 * forgets all of it (weft__process_fork_child, an entry of fork.c's table;
 * weft__process_child_reset in a weft child).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/debugrec.h"
#include "core/cancel_internal.h"
#include "core/fork.h"
#include "core/annotate.h"
#include "core/internal.h"
#include "os/os.h"
#include "core/park.h"
#include "core/opts.h"
#include "process_internal.h"

static pthread_mutex_t srv_mutex = PTHREAD_MUTEX_INITIALIZER;
static int srv_sock = -1, srv_pidfd = -1;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static weft__lock reg_lock = WEFT__LOCK_INIT;
static struct weft_process *reg_head;
static size_t reg_count;
static _Atomic unsigned name_seq;

void weft__process_unref(struct weft_process *p)
{
    /* acq_rel: the last drop sees every earlier owner's writes; the annotations say so to
     * TSan and valgrind in a user's program (core/annotate.h). */
    weft__hb_release(&p->refs);
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    weft__hb_acquire(&p->refs);
    if (p->pidfd >= 0) close(p->pidfd);
    if (p->resfd >= 0) close(p->resfd);
    free(p->result);
    free(p);
}

/* The child's record, read once after it was reaped (it was sent before the exit). */
static void read_record(struct weft_process *p)
{
    size_t cap = sizeof(struct weft__prec) + WEFT_PROCESS_RESULT_MAX;
    char *buf = weft__malloc(cap);
    ssize_t n = buf ? recv(p->resfd, buf, cap, MSG_DONTWAIT) : -1;
    if (buf == NULL) p->result_lost = true; /* weft_process_result says so */
    if (n >= (ssize_t)sizeof p->rec) {
        memcpy(&p->rec, buf, sizeof p->rec);
        p->rec.message[sizeof p->rec.message - 1] = '\0';
        size_t len = (size_t)n - sizeof p->rec;
        if (p->rec.result_len != len) p->rec.result_len = 0;
        if (len && p->rec.result_len && (p->result = weft__malloc(len)) != NULL)
            memcpy(p->result, buf + sizeof p->rec, len);
        else if (len && p->rec.result_len)
            p->result_lost = true, p->rec.result_len = 0;
        else
            p->rec.result_len = 0;
        p->has_record = true;
    }
    free(buf);
    close(p->resfd);
    p->resfd = -1;
}

/* Take p off the unreaped list; reg_lock held. */
static void unlist_locked(struct weft_process *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else if (reg_head == p)
        reg_head = p->next;
    if (p->next) p->next->prev = p->prev;
    p->next = p->prev = NULL;
    p->listed = false;
    reg_count--;
}

/* Reap p if it has ended; true once it is reaped. p->waiters.lock held. The wait and the
 * unlisting happen under reg_lock, so a child on the list is never reaped: its pid is still
 * its own (send_signal's fallback relies on it). */
static bool reap_locked(struct weft_process *p)
{
    if (atomic_load_explicit(&p->ended, memory_order_relaxed)) return true;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    weft__lock_acquire(&reg_lock);
    int r = waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG | __WALL);
    if (r == 0 && si.si_pid == 0) {
        weft__lock_release(&reg_lock);
        return false;
    }
    if (p->listed) unlist_locked(p);
    weft__lock_release(&reg_lock);
    if (r == 0)
        p->exitcode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    else
        p->exitcode = 255; /* reaped by someone else (SIGCHLD ignored, waitpid(-1)) */
    read_record(p);
    if (r != 0 && p->has_record) p->exitcode = p->rec.status & 0xff;
    /* release: pairs with the acquire loads in exitcode/is_alive/result. */
    atomic_store_explicit(&p->ended, 1, memory_order_release);
    return true;
}

/* Send signo through p's pidfd; where pidfd_send_signal is missing (ENOSYS: valgrind), by
 * pid, which is safe while p is listed (see reap_locked). reg_lock held. */
static void send_signal_locked(struct weft_process *p, int signo)
{
    if (syscall(SYS_pidfd_send_signal, p->pidfd, signo, NULL, 0) != 0 && errno == ENOSYS &&
        p->listed)
        kill(p->pid, signo);
}

bool weft__process_try_reap(struct weft_process *p, bool wake)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&p->waiters.lock);
    bool done = reap_locked(p);
    if (done && wake) weft__waitq_wake_all(&p->waiters, &wl);
    weft__lock_release(&p->waiters.lock);
    weft__wakelist_flush(&wl);
    return done;
}

/* num_threads from /proc/self/stat (field 20); 0 if unknown. */
static long thread_count(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (s == NULL) return 0;
    long v = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice num_threads */
    if (sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld",
               &v) != 1)
        return 0;
    return v;
}

/* The exit rule and the fork handler are entries of weft's one exit sequence and fork table
 * (exit.c, fork.c): children are ended after the threads and pools, as Python's atexit ends
 * them after joining its threads. */
static void setup(void)
{
    weft__exit_register();
    weft__fork_register();
}

/* Drop a dead server (its socket failed) and reap it. srv_mutex held. */
static void server_drop(void)
{
    close(srv_sock);
    srv_sock = -1;
    if (srv_pidfd >= 0) {
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)srv_pidfd, &si, WEXITED | __WALL);
        close(srv_pidfd);
        srv_pidfd = -1;
    }
}

static int server_exec(void *arg)
{
    (void)arg;
    return weft__server_start(1, &srv_sock, &srv_pidfd);
}

void weft__server_forked(void)
{
    /* Under valgrind only: the server never takes it again, and ThreadSanitizer, which does
     * not see a raw clone as a fork, would call this an unlock by another thread. */
    if (WEFT__VG_ON()) pthread_mutex_unlock(&srv_mutex);
}

/* Make the server if there is none; srv_mutex held. The only thread forks it itself (then it
 * is the server's creating thread: see watcher.c); otherwise the watcher executes
 * the program. */
static int server_ensure(void)
{
    if (srv_sock >= 0) return 0;
    if (thread_count() == 1) return weft__server_start(0, &srv_sock, &srv_pidfd);
    return weft__watcher_call(server_exec, NULL);
}

/* One request: send, receive the answer (and the pidfd). -1 from the socket: the server died. */
static int server_ask(int sock, const struct msghdr *m, int *pid, int *pidfd, bool want_pidfd)
{
    if (sendmsg(sock, m, MSG_NOSIGNAL) < 0) return errno == EINTR ? WEFT_EINTR : -1;
    struct weft__prep rep;
    int nfds = 0;
    long n = weft__recv_fds(sock, &rep, sizeof rep, pidfd, 1, &nfds);
    if (n != (long)sizeof rep) {
        if (nfds) close(*pidfd);
        return -1;
    }
    if (nfds == 0) *pidfd = -1;
    rep.message[sizeof rep.message - 1] = '\0';
    if (rep.code != 0) {
        if (*pidfd >= 0) close(*pidfd);
        weft__error_put(rep.code, rep.message);
        return rep.code;
    }
    if (want_pidfd && *pidfd < 0) return weft_error_set(WEFT_EAGAIN, "fork server sent no pidfd");
    *pid = rep.pid;
    return 0;
}

static int via_server(const struct msghdr *m, int *pid, int *pidfd)
{
    pthread_mutex_lock(&srv_mutex);
    int rc = server_ensure();
    for (int tries = 0; rc == 0 && tries < 2; tries++) {
        rc = server_ask(srv_sock, m, pid, pidfd, true);
        if (rc != -1) break;
        server_drop(); /* it died: make a new one once */
        rc = server_ensure();
        if (rc == 0 && tries == 1) rc = -1;
    }
    if (rc == -1) rc = weft_error_set(WEFT_EAGAIN, "process: the fork server died");
    pthread_mutex_unlock(&srv_mutex);
    return rc;
}

struct spawn_call {
    int sock, pid, pidfd;
};

static int spawn_make(void *arg)
{
    struct spawn_call *c = arg;
    return weft__spawn_self(&c->sock, &c->pid, &c->pidfd);
}

static int via_spawn(const struct msghdr *m, int *pid, int *pidfd)
{
    struct spawn_call sc;
    int rc = weft__watcher_call(spawn_make, &sc);
    if (rc != 0) return rc;
    int sock = sc.sock;
    *pid = sc.pid;
    *pidfd = sc.pidfd;
    /* The same request and answer as with the server; the child sends no pidfd. */
    int none = -1;
    if (rc == 0) rc = server_ask(sock, m, &(int){0}, &none, false);
    if (none >= 0) close(none);
    close(sock);
    if (rc == -1)
        rc = weft_error_set(WEFT_EAGAIN, "process: the spawned program did not answer "
                                         "(is libweft linked into it?)");
    if (rc != 0) {
        siginfo_t si;
        if (*pidfd >= 0) syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
        if (*pidfd >= 0)
            waitid((idtype_t)P_PIDFD, (id_t)*pidfd, &si, WEXITED | __WALL);
        else
            waitpid(*pid, NULL, __WALL);
        if (*pidfd >= 0) close(*pidfd);
    }
    return rc;
}

struct fork_call {
    struct weft__preq_in *in;
    int pid;
};

/* On the watcher, whose signals are all blocked: no handler of the parent's runs in the child
 * before it resets them all. The child is a copy of the whole memory, on the watcher's stack. */
static int fork_make(void *arg)
{
    struct fork_call *c = arg;
    weft__fork_for_process = 1;
    c->pid = fork();
    if (c->pid == 0) weft__child_main(c->in, 1);
    weft__fork_for_process = 0;
    if (c->pid < 0) return weft_error_set(WEFT_EAGAIN, "process: fork: %s", strerror(errno));
    return 0;
}

/* fork() (from the watcher): the child runs the request as parsed here, in this memory. */
static int via_fork(const void *buf, size_t len, int *fds, int nfds, int *pid, int *pidfd)
{
    struct weft__preq_in in;
    char msg[WEFT_ERROR_MESSAGE_MAX];
    int rc = weft__preq_parse(buf, len, fds, nfds, &in, msg, sizeof msg);
    if (rc != 0) return weft_error_set(rc, "%s", msg);
    struct fork_call fc = {.in = &in};
    rc = weft__watcher_call(fork_make, &fc);
    if (rc != 0) return rc;
    *pid = fc.pid;
    *pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
    if (*pidfd < 0) {
        int e = errno;
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        return weft_error_set(WEFT_EAGAIN, "process: pidfd_open: %s", strerror(e));
    }
    return 0;
}

static int check_opts(const weft_process_opts *o, weft_process_fn fn, const void *arg, size_t size)
{
    if (fn == NULL) return weft_error_set(WEFT_EINVAL, "process: NULL function");
    if (arg == NULL && size > 0)
        return weft_error_set(WEFT_EINVAL, "process: NULL argument of %zu bytes", size);
    if (size > WEFT_PROCESS_ARG_MAX)
        return weft_error_set(WEFT_EINVAL, "process: argument of %zu bytes (at most %d)", size,
                              WEFT_PROCESS_ARG_MAX);
    if (o->method < WEFT_PROCESS_FORKSERVER || o->method > WEFT_PROCESS_FORK)
        return weft_error_set(WEFT_EINVAL, "process: unknown start method %d", o->method);
    if (o->name != NULL && strlen(o->name) >= WEFT_PROCESS_NAME_MAX)
        return weft_error_set(WEFT_EINVAL, "process: name longer than %d bytes",
                              WEFT_PROCESS_NAME_MAX - 1);
    if (o->kill_grace < 0) return weft_error_set(WEFT_EINVAL, "process: negative kill_grace");
    if (o->npass_fds > WEFT_PROCESS_FDS_MAX || (o->npass_fds > 0 && o->pass_fds == NULL))
        return weft_error_set(WEFT_EINVAL, "process: %zu pass_fds (at most %d)", o->npass_fds,
                              WEFT_PROCESS_FDS_MAX);
    for (size_t i = 0; i < o->npass_fds; i++)
        if (o->pass_fds[i] < 0 || fcntl(o->pass_fds[i], F_GETFD) < 0)
            return weft_error_set(WEFT_EINVAL, "process: pass_fds[%zu] = %d is not open", i,
                                  o->pass_fds[i]);
    return 0;
}

/* Build the request for p into a new buffer; fds receives what SCM_RIGHTS carries. */
static void *build_request(struct weft_process *p, const weft_process_opts *o, weft_process_fn fn,
                           const void *arg, size_t size, int resfd, int *fds, int *nfds,
                           size_t *len)
{
    char obj[WEFT__PROC_OBJ_MAX];
    uint64_t off;
    if (weft__image_locate(fn, obj, sizeof obj, &off) != 0) return NULL;
    size_t nl = strlen(obj), at = WEFT__PREQ_ARG_OFF(nl);
    char *buf = weft__calloc(1, at + size);
    if (buf == NULL) {
        weft_error_set(WEFT_ENOMEM, "process: no memory for the request");
        return NULL;
    }
    struct weft__preq *r = (struct weft__preq *)buf;
    r->magic = WEFT__PROC_MAGIC;
    r->version = WEFT__PROC_VERSION;
    r->parent_pid = (int32_t)getpid();
    r->fn_offset = off;
    r->name_len = (uint32_t)nl;
    r->arg_size = (uint32_t)size;
    r->nfds = (uint32_t)o->npass_fds;
    snprintf(r->pname, sizeof r->pname, "%s", p->name);
    memcpy(buf + sizeof *r, obj, nl);
    if (size) memcpy(buf + at, arg, size);
    int n = 0;
    fds[n++] = resfd;
    static const uint32_t bits[3] = {WEFT__PREQ_STDIN, WEFT__PREQ_STDOUT, WEFT__PREQ_STDERR};
    for (int s = 0; s < 3; s++)
        if (fcntl(s, F_GETFD) >= 0) {
            r->flags |= bits[s];
            fds[n++] = s;
        }
    for (size_t i = 0; i < o->npass_fds; i++) {
        r->target[i] = o->pass_fds[i];
        fds[n++] = o->pass_fds[i];
    }
    if (p->daemon) r->flags |= WEFT__PREQ_DAEMON;
    sigset_t cur;
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGINT) == 1)
        r->flags |= WEFT__PREQ_CATCH_SIGINT;
    *nfds = n;
    *len = at + size;
    return buf;
}

static int launch(struct weft_process *p, const weft_process_opts *o, weft_process_fn fn,
                  const void *arg, size_t size, int resfd)
{
    int fds[WEFT__PREQ_FDS_MAX], nfds;
    size_t len;
    void *buf = build_request(p, o, fn, arg, size, resfd, fds, &nfds, &len);
    if (buf == NULL) return weft_error_code();
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * WEFT__PREQ_FDS_MAX)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.space,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    int rc;
    if (o->method == WEFT_PROCESS_FORK)
        rc = via_fork(buf, len, fds, nfds, &p->pid, &p->pidfd);
    else if (o->method == WEFT_PROCESS_SPAWN)
        rc = via_spawn(&m, &p->pid, &p->pidfd);
    else
        rc = via_server(&m, &p->pid, &p->pidfd);
    free(buf);
    return rc;
}

weft_ns weft__process_kill_due(weft_ns now)
{
    weft_ns next = WEFT_FOREVER;
    weft__lock_acquire(&reg_lock);
    for (struct weft_process *p = reg_head; p != NULL; p = p->next) {
        /* acquire: pairs with the release store in on_cancel. */
        weft_ns at = atomic_load_explicit(&p->kill_at, memory_order_acquire);
        if (at == 0) continue;
        if (at <= now) {
            send_signal_locked(p, SIGKILL);
            atomic_store_explicit(&p->kill_at, 0, memory_order_relaxed);
        } else if (at < next) {
            next = at;
        }
    }
    weft__lock_release(&reg_lock);
    return next;
}

/* The starter's scope was cancelled (tree_lock held: no blocking, no lock of ours): SIGTERM
 * now, and SIGKILL after the grace, from the watcher, if the child still runs then. */
static void on_cancel(weft__scope_hook *h)
{
    struct weft_process *p =
        (struct weft_process *)((char *)h - offsetof(struct weft_process, hook));
    weft__lock_acquire(&reg_lock);
    send_signal_locked(p, SIGTERM);
    weft__lock_release(&reg_lock);
    if (p->kill_grace == WEFT_FOREVER) return;
    weft_ns at = weft__os_now();
    at = at > WEFT_FOREVER - p->kill_grace ? WEFT_FOREVER - 1 : at + p->kill_grace;
    /* release: pairs with the acquire loads in run_kills. */
    atomic_store_explicit(&p->kill_at, at > 0 ? at : 1, memory_order_release);
    weft__watcher_kills_due();
}

/* List p and hand it to the watcher (one reference each for the handle and the watcher). */
static int enlist(struct weft_process *p, bool terminate_on_cancel)
{
    int rc = weft__watcher_start();
    if (rc != 0) return rc;
    /* Before the watcher sees p: it detaches the hook when it has reaped p. */
    p->hook.fn = on_cancel;
    if (terminate_on_cancel) weft__scope_hook_add(weft_scope_current(), &p->hook);
    weft__lock_acquire(&reg_lock);
    p->next = reg_head;
    if (reg_head) reg_head->prev = p;
    reg_head = p;
    p->listed = true;
    reg_count++;
    weft__lock_release(&reg_lock);
    atomic_store_explicit(&p->refs, 2, memory_order_relaxed); /* before the watcher sees p */
    if ((rc = weft__watcher_add(p)) == 0) return 0;
    weft__lock_acquire(&reg_lock);
    unlist_locked(p);
    weft__lock_release(&reg_lock);
    if (p->hook.scope != NULL) weft__scope_hook_remove(&p->hook);
    return rc;
}

int weft_process_start(weft_process **out, weft_process_fn fn, const void *arg, size_t size,
                       const weft_process_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_process_opts") != 0) return WEFT_EINVAL;
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    if (opts != NULL) o = *opts;
    if (out == NULL) return weft_error_set(WEFT_EINVAL, "process: NULL out");
    int rc = check_opts(&o, fn, arg, size);
    if (rc != 0) return rc;
    pthread_once(&setup_once, setup);
    struct weft_process *p = weft__calloc(1, sizeof *p);
    if (p == NULL) return weft_error_set(WEFT_ENOMEM, "process: no memory for a handle");
    p->pidfd = p->resfd = -1;
    p->daemon = o.daemon != 0;
    p->kill_grace = o.kill_grace;
    /* relaxed: only makes names unique. */
    unsigned k = atomic_fetch_add_explicit(&name_seq, 1, memory_order_relaxed) + 1;
    if (o.name)
        snprintf(p->name, sizeof p->name, "%s", o.name);
    else
        snprintf(p->name, sizeof p->name, "process-%u", k);
    int rs[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs) != 0) {
        free(p);
        return weft_error_set(errno == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN,
                              "process: socketpair: %s", strerror(errno));
    }
    rc = launch(p, &o, fn, arg, size, rs[1]);
    close(rs[1]);
    p->resfd = rs[0];
    if (rc == 0) rc = enlist(p, o.terminate_on_cancel != 0);
    if (rc != 0) {
        if (p->pidfd >= 0) {
            syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
            siginfo_t si;
            waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | __WALL);
            close(p->pidfd);
        }
        close(rs[0]);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* What a join tells its caller about a child that did not exit with 0. */
static void report(const struct weft_process *p)
{
    char what[96];
    if (p->exitcode == 0) return;
    if (p->exitcode > 0 && p->has_record && p->rec.status != 0) {
        int code = p->rec.status < 0 ? p->rec.status : WEFT_EFAILED;
        if (p->rec.message[0] != '\0')
            weft__error_put(code, p->rec.message);
        else
            weft_error_set(code, "process '%s' (pid %d) returned %d", p->name, p->pid,
                           p->rec.status);
        return;
    }
    weft_process_status_text(p->exitcode, what, sizeof what);
    weft_error_set(p->exitcode < 0 ? WEFT_EDIED : WEFT_EFAILED, "process '%s' (pid %d) %s", p->name,
                   p->pid, what);
}

int weft_process_join(weft_process *p, int *status, weft_ns timeout)
{
    weft_ns deadline;
    if (p == NULL) return weft_error_set(WEFT_EINVAL, "process: NULL handle");
    if (weft__deadline_of(timeout, &deadline) != 0)
        return weft_error_set(WEFT_EINVAL, "process: negative timeout");
    weft__lock_acquire(&p->waiters.lock);
    while (!reap_locked(p)) {
        if (timeout == 0) {
            weft__lock_release(&p->waiters.lock);
            return WEFT_EAGAIN;
        }
        weft__park park;
        weft__waiter w;
        weft__park_init(&park, deadline);
        weft__park_what(&park, WEFT__WAIT_PROCESS, p);
        weft__waiter_init(&w, &park, 0);
        int rc = weft__waitq_wait_locked(&p->waiters, &w);
        if (rc != 0) return rc;
        weft__lock_acquire(&p->waiters.lock);
    }
    weft__lock_release(&p->waiters.lock);
    if (status) *status = p->exitcode;
    report(p);
    return 0;
}

static bool ended(const weft_process *p)
{
    /* acquire: pairs with the release store in reap_locked. */
    if (atomic_load_explicit(&p->ended, memory_order_acquire)) return true;
    return weft__process_try_reap((weft_process *)p, true);
}

static int null_handle(void)
{
    return weft_error_set(WEFT_EINVAL, "process: NULL handle");
}

int weft_process_exitcode(const weft_process *p)
{
    if (p == NULL) return null_handle();
    return ended(p) ? p->exitcode : WEFT_EAGAIN;
}

int weft_process_is_alive(const weft_process *p)
{
    if (p == NULL) return null_handle();
    return !ended(p);
}

int weft_process_signal(weft_process *p, int signo)
{
    if (p == NULL || signo < 1 || signo >= NSIG)
        return weft_error_set(WEFT_EINVAL, "process: NULL handle or bad signal %d", signo);
    if (atomic_load_explicit(&p->ended, memory_order_acquire)) return 0;
    /* A child that exited but is not yet reaped gives ESRCH: nothing to do. */
    weft__lock_acquire(&reg_lock);
    send_signal_locked(p, signo);
    weft__lock_release(&reg_lock);
    return 0;
}

int weft_process_terminate(weft_process *p)
{
    return weft_process_signal(p, SIGTERM);
}

int weft_process_kill(weft_process *p)
{
    return weft_process_signal(p, SIGKILL);
}

int weft_process_pid(const weft_process *p)
{
    return p ? p->pid : null_handle();
}

int weft_process_fd(const weft_process *p)
{
    return p ? p->pidfd : null_handle();
}

const char *weft_process_name(const weft_process *p)
{
    return p ? p->name : "";
}

int weft_process_is_daemon(const weft_process *p)
{
    return p ? p->daemon : null_handle();
}

int weft_process_result(const weft_process *p, void *buf, size_t size, size_t *len)
{
    if (p == NULL || (buf == NULL && size > 0))
        return weft_error_set(WEFT_EINVAL, "process: NULL handle or buffer");
    if (!ended(p)) return WEFT_EAGAIN;
    if (p->result_lost)
        return weft_error_set(WEFT_ENOMEM,
                              "process '%s': no memory for its result when it was "
                              "reaped; the result is lost",
                              p->name);
    size_t n = p->rec.result_len;
    if (len) *len = n;
    if (n > size) n = size;
    if (n) memcpy(buf, p->result, n);
    return 0;
}

int weft_process_free(weft_process *p)
{
    if (p == NULL) return weft_error_set(WEFT_EINVAL, "process: NULL handle");
    if (!ended(p))
        return weft_error_set(WEFT_ESTATE, "process '%s' still runs: join, kill or release it",
                              p->name);
    weft__process_unref(p);
    return 0;
}

int weft_process_detach(weft_process *p)
{
    if (p == NULL) return weft_error_set(WEFT_EINVAL, "process: NULL handle");
    weft__process_unref(p);
    return 0;
}

size_t weft_process_count(void)
{
    weft__lock_acquire(&reg_lock);
    size_t n = reg_count;
    weft__lock_release(&reg_lock);
    return n;
}

char *weft_process_status_text(int exitcode, char *buf, size_t size)
{
    if (buf == NULL || size == 0) return buf;
    if (exitcode == 0) {
        snprintf(buf, size, "exited normally");
    } else if (exitcode > 0) {
        snprintf(buf, size, "exited with status %d", exitcode);
    } else {
        const char *abbrev = weft__os_signal_abbrev(-exitcode);
        const char *descr = weft__os_signal_descr(-exitcode);
        if (abbrev != NULL)
            snprintf(buf, size, "killed by SIG%s (%s)", abbrev, descr ? descr : "?");
        else
            snprintf(buf, size, "killed by signal %d", -exitcode);
    }
    return buf;
}

/* The exit rule: kill the daemon children, wait for the others, reap all, end the watcher. */
void weft__process_exit_children(void)
{
    for (;;) {
        weft__lock_acquire(&reg_lock);
        struct weft_process *p = reg_head;
        if (p != NULL) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        for (struct weft_process *q = reg_head; q != NULL; q = q->next)
            if (q->daemon) send_signal_locked(q, SIGKILL);
        weft__lock_release(&reg_lock);
        if (p == NULL) break;
        struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
        while (poll(&pf, 1, -1) < 0 && errno == EINTR) {
        }
        weft__process_try_reap(p, true);
        weft__process_unref(p);
    }
    weft__watcher_stop();
}

/* Forget the parent's state; close_fds: its descriptors are still open here (a plain fork).
 * A weft child does not close them: they were the parent's numbers, its own descriptors were
 * rearranged, and arrange_fds (child.c) closed every other one. */
static void forget(bool close_fds)
{
    if (close_fds) {
        if (srv_sock >= 0) close(srv_sock);
        if (srv_pidfd >= 0) close(srv_pidfd);
        for (struct weft_process *p = reg_head; p != NULL; p = p->next) {
            if (p->pidfd >= 0) close(p->pidfd);
            if (p->resfd >= 0) close(p->resfd);
        }
    }
    srv_sock = srv_pidfd = -1;
    /* Made anew only if a thread that did not come along held it (DRD reports re-making a
     * mutex, and a free one needs nothing). */
    if (pthread_mutex_trylock(&srv_mutex) == 0)
        pthread_mutex_unlock(&srv_mutex);
    else
        pthread_mutex_init(&srv_mutex, NULL);
    weft__watcher_forget(close_fds);
    atomic_init(&reg_lock.word, 0);
    for (struct weft_process *p = reg_head; p != NULL; p = p->next) {
        p->pidfd = p->resfd = -1;
        atomic_store_explicit(&p->ended, 1, memory_order_relaxed);
        p->exitcode = 255;
    }
    reg_head = NULL;
    reg_count = 0;
}

/* In a child made by a plain fork() (fork.c's table): nothing of the parent's is ours. */
void weft__process_fork_child(void)
{
    forget(true);
}

void weft__process_child_reset(void)
{
    forget(false);
}
