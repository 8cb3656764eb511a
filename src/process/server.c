/* src/process/server.c - the fork server, and the start-up hook of a re-executed program.
 *
 * The fork server is a single-threaded process that loops on one SOCK_SEQPACKET socket shared
 * with its parent: receive a request (process_internal.h), check it, clone a child, answer
 * with the child's pid and pidfd. It never runs user code itself, and it exits at EOF, which
 * comes when the parent's end is closed - that is, when the parent process is gone, however it
 * died (the parent's end is close-on-exec, and a forked copy of the parent closes it in an
 * atfork handler).
 *
 * The child is cloned with CLONE_PARENT | CLONE_PIDFD: it becomes a child of the weft parent,
 * not of the server, so the parent reaps it itself with waitid(P_PIDFD) and reads the exact
 * exit status - no relay, and the pid cannot be recycled before the parent reaps it. The
 * server keeps no state per child. (A raw clone3 does not refresh the thread id glibc caches
 * in the thread's descriptor; the child only ever uses it for robust or error-checking mutex
 * ownership, where the stale value is consistent within the child. musl's raise() and abort()
 * signal the id musl caches, so without glibc weft__clone_quiet renews it in the child.)
 *
 * Exit signal: CLONE_PARENT gives the child the server's own exit signal (the kernel ignores
 * the one asked for), so a server made with none has children that send the program no
 * SIGCHLD, are not reaped by the kernel when the program ignores SIGCHLD, and are invisible to
 * the program's waitpid(-1): their status stays weft's. An exec resets a process's exit signal
 * to SIGCHLD, so an executed server's children (and spawned children) have SIGCHLD.
 *
 * Two ways to make the server (weft__server_start):
 *   - clone the parent with no exit signal (a raw clone3, as _Fork: no atfork handler), when
 *     the parent has no other thread: nothing can be held by a thread that will not exist in
 *     the copy; the server has the parent's exact layout;
 *   - execute the program itself (/proc/self/exe; where that link is not the program - under
 *     valgrind - the file readlink names) with the server's socket as descriptor 3
 *     and WEFT_FORKSERVER=3 in its environment. libweft's constructor (boot, below) sees the
 *     variable before main, removes it, and becomes the server only if the process is not
 *     under secure execution (AT_SECURE) and descriptor 3 is an AF_UNIX SOCK_SEQPACKET socket
 *     whose peer was created by its parent process (SO_PEERCRED pid == getppid(), same uid).
 *     Otherwise the program runs normally. The spawn method (WEFT_SPAWN=3) works the same way
 *     but runs the one request it receives itself instead of forking.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "process_internal.h"

extern char **environ;

long weft__recv_fds(int fd, void *buf, size_t cap, int *fds, int maxfds, int *nfds)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * WEFT__PREQ_FDS_MAX)];
    } ctl;
    struct iovec iov = {buf, cap};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.space,
                       .msg_controllen = sizeof ctl.space};
    ssize_t n;
    do n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof f);
            if (*nfds < maxfds)
                fds[(*nfds)++] = f;
            else
                close(f);
        }
    }
    if (n < 0) return errno == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
    if (n > 0 && (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) return WEFT_ERANGE;
    return n;
}

static void reply(int sock, const struct weft__prep *rep, int pidfd)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {(void *)rep, sizeof *rep};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pidfd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.space;
        m.msg_controllen = sizeof ctl.space;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pidfd, sizeof pidfd);
    }
    while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

#if !defined(__GLIBC__)
/* Where the C library keeps the calling thread's cached thread id: the one int among the first
 * words of its thread descriptor (pthread_self()) that equals gettid(), or NULL when there is
 * not exactly one. musl's raise(), abort() and pthread_kill(pthread_self()) signal this
 * value, and only its fork() renews it; a raw clone copies the caller's. In musl's layouts
 * (1.1, 1.2) the descriptor's first words hold pointers, then this id (byte 48 in 1.2 on
 * x86_64), and the descriptor is larger than the words searched. */
static int *libc_tid_slot(void)
{
    enum { WORDS = 24 };
    int *d = (int *)(void *)pthread_self(), *slot = NULL;
    int tid = (int)syscall(SYS_gettid);
    for (int i = 0; i < WORDS; i++) {
        if (d[i] != tid) continue;
        if (slot != NULL) return NULL;
        slot = &d[i];
    }
    return slot;
}
#endif

long weft__clone_quiet(unsigned long flags, int *pidfd)
{
#if !defined(__GLIBC__)
    int *tid_slot = libc_tid_slot();
#endif
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = flags | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0 && errno == ENOSYS)
        pid = syscall(SYS_clone, flags | CLONE_PIDFD, NULL, pidfd, NULL, NULL);
#if !defined(__GLIBC__)
    /* The child's copy of the slot still names the caller: make it the child's own, as
     * musl's fork() does, before any code of the child can raise a signal. */
    if (pid == 0 && tid_slot != NULL) *tid_slot = (int)syscall(SYS_gettid);
#endif
    return pid;
}

/* Clone the child as a sibling of the server (a child of the weft parent). */
static int clone_child(struct weft__preq_in *in, int sock, struct weft__prep *rep, int *pidfd)
{
    long pid = weft__clone_quiet(CLONE_PARENT, pidfd);
    if (pid == 0) {
        close(sock);
        weft__child_main(in, 0);
    }
    if (pid < 0) {
        snprintf(rep->message, sizeof rep->message, "fork server: clone3 failed: %s",
                 strerror(errno));
        return errno == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
    }
    rep->pid = (int32_t)pid;
    return 0;
}

static _Noreturn void serve(int sock)
{
    static char buf[WEFT__PREQ_MAX] __attribute__((aligned(16)));
    prctl(PR_SET_NAME, "weft-forkserver", 0, 0, 0);
    for (;;) {
        int fds[WEFT__PREQ_FDS_MAX], nfds = 0, pidfd = -1;
        long n = weft__recv_fds(sock, buf, WEFT__PREQ_MAX, fds, WEFT__PREQ_FDS_MAX, &nfds);
        if (n == 0) _exit(0); /* the parent is gone */
        struct weft__prep rep;
        memset(&rep, 0, sizeof rep);
        struct weft__preq_in in;
        if (n < 0) {
            rep.code = n == WEFT_ERANGE ? WEFT_EINVAL : (int32_t)n;
            snprintf(rep.message, sizeof rep.message, "fork server refused a request: %s",
                     n == WEFT_ERANGE ? "too large" : weft_strerror((int)n));
        } else {
            rep.code =
                weft__preq_parse(buf, (size_t)n, fds, nfds, &in, rep.message, sizeof rep.message);
            if (rep.code == 0) rep.code = clone_child(&in, sock, &rep, &pidfd);
        }
        reply(sock, &rep, rep.code == 0 ? pidfd : -1);
        for (int i = 0; i < nfds; i++) close(fds[i]);
        if (pidfd >= 0) close(pidfd);
    }
}

/* The server's start: only its socket and stdio stay open; signals at their defaults, SIGINT
 * ignored (Ctrl-C goes to the whole foreground group; the server ends with its parent). */
static _Noreturn void server_main(int sock)
{
    if (sock > 3) syscall(SYS_close_range, 3u, (unsigned)sock - 1, 0u);
    syscall(SYS_close_range, (unsigned)sock + 1, ~0u, 0u);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    serve(sock);
}

static int os_error(const char *what)
{
    int e = errno;
    return weft_error_set(e == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN, "process: %s: %s", what,
                          strerror(e));
}

struct exec_args {
    const char *path;
    int sock;
    char **argv, **env;
    int err; /* written by the new process (shared memory) when execve fails */
};

/* The new process of exec_self, which shares the caller's memory until execve (CLONE_VM |
 * CLONE_VFORK) and starts with every signal blocked: raw system calls only, so that no
 * sanitizer interceptor, lock or signal handler of the parent's runs here. Every action is
 * set to the default before the mask is cleared. */
__attribute__((no_sanitize("address", "thread", "undefined"))) static int exec_child(void *arg)
{
    struct exec_args *a = arg;
    struct { /* the kernel's struct sigaction; SIG_DFL is 0 */
        uintptr_t handler;
        unsigned long flags;
        uintptr_t restorer;
        uint64_t mask;
    } dfl = {0, 0, 0, 0};
    uint64_t none = 0;
    if (a->sock == 3)
        syscall(SYS_fcntl, 3, F_SETFD, 0);
    else
        syscall(SYS_dup2, a->sock, 3);
    syscall(SYS_close_range, 4, ~0u, 0);
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof none);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
    syscall(SYS_execve, a->path, a->argv, a->env);
    a->err = errno;
    syscall(SYS_exit, 127);
    return 127;
}

/* Whether the file at st is the one the main program was loaded from: the mapping that holds
 * the program's headers (AT_PHDR), in /proc/self/maps. */
static bool is_main_program(const struct stat *st)
{
    uintptr_t phdr = (uintptr_t)getauxval(AT_PHDR);
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL) return false;
    char line[512];
    bool yes = false;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi, ino;
        unsigned maj, mnr;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &mnr, &ino) != 5) continue;
        if (phdr < lo || phdr >= hi) continue;
        yes = ino == st->st_ino && makedev(maj, mnr) == st->st_dev;
        break;
    }
    fclose(f);
    return yes;
}

/* The program to execute: /proc/self/exe, unless that link names another file than the
 * program (valgrind runs the program inside its own executable) and the file readlink names
 * is the very file the program was loaded from. */
static const char *self_exe(char *buf, size_t cap)
{
    struct stat a, b;
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1) return "/proc/self/exe";
    buf[n] = '\0';
    if (stat("/proc/self/exe", &a) != 0 || stat(buf, &b) != 0) return "/proc/self/exe";
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) return "/proc/self/exe";
    return is_main_program(&b) ? buf : "/proc/self/exe";
}

/* posix_spawn the program with sock as descriptor 3; its pidfd from pidfd_open. */
static int spawn_plain(struct exec_args *a, int *pid, int *pidfd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, a->sock, 3);
#if defined(__GLIBC__)
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
#endif /* musl has no closefrom action: the started program closes them itself at once
          (server_main, weft__child_main) */
    posix_spawnattr_init(&at);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(pid, a->path, &fa, &at, a->argv, a->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return rc;
    *pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
    return 0;
}

/* The same by a vfork-style clone whose pidfd comes from CLONE_PIDFD: for a kernel (or valgrind
 * 3.19) without pidfd_open. Not the usual way: ThreadSanitizer's clone interceptor takes any
 * clone for a fork and loses track of the caller's memory. */
static int spawn_by_clone(struct exec_args *a, int *pid, int *pidfd)
{
    size_t size = 65536;
    void *stack =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int p = clone(exec_child, (char *)stack + size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, a, pidfd);
    int e = p < 0 ? errno : a->err;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, size);
    if (p > 0 && e != 0) { /* it could not execute: reap it */
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)*pidfd, &si, WEXITED | __WALL);
        close(*pidfd);
    }
    *pid = p;
    return e;
}

/* Execute the program (self_exe) with sock as descriptor 3 and var=3 in the environment. */
static int exec_self(int sock, const char *var, int *pid, int *pidfd)
{
    if (getauxval(AT_SECURE))
        return weft_error_set(WEFT_EPERM, "process: a set-user-ID or set-group-ID program "
                                          "cannot re-execute itself");
    size_t n = 0;
    while (environ[n] != NULL) n++;
    char **env = weft__malloc(sizeof(char *) * (n + 2));
    if (env == NULL) return weft_error_set(WEFT_ENOMEM, "process: no memory for the environment");
    char entry[64];
    snprintf(entry, sizeof entry, "%s=3", var);
    size_t k = 0, len = strlen(var);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], var, len) != 0 || environ[i][len] != '=') env[k++] = environ[i];
    env[k++] = entry;
    env[k] = NULL;
    char *argv[] = {
        (char *)(strcmp(var, "WEFT_FORKSERVER") == 0 ? "weft-forkserver" : "weft-spawn"), NULL};
    char exe[PATH_MAX];
    struct exec_args a = {
        .path = self_exe(exe, sizeof exe), .sock = sock, .argv = argv, .env = env};
    int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
    bool no_pidfd_open = probe < 0 && errno == ENOSYS;
    if (probe >= 0) close(probe);
    int e = no_pidfd_open ? spawn_by_clone(&a, pid, pidfd) : spawn_plain(&a, pid, pidfd);
    free(env);
    if (e != 0) {
        errno = e;
        return os_error("cannot execute /proc/self/exe");
    }
    if (*pidfd >= 0) return 0;
    e = errno;
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    errno = e;
    return os_error("pidfd_open");
}

int weft__server_start(int by_exec, int *sock, int *pidfd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return os_error("socketpair for the fork server");
    int pid, rc = 0;
    if (by_exec) {
        rc = exec_self(sv[1], "WEFT_FORKSERVER", &pid, pidfd);
    } else {
        /* A raw clone (as _Fork: the caller is the only thread, and no atfork handler must
         * run) with no exit signal, which the server's CLONE_PARENT children inherit. */
        long r = weft__clone_quiet(0, pidfd);
        if (r == 0) {
            close(sv[0]);
            weft__server_forked();
            server_main(sv[1]);
        }
        pid = (int)r;
        if (r < 0) rc = os_error("fork of the fork server");
    }
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return rc;
    }
    (void)pid;
    *sock = sv[0];
    return 0;
}

int weft__spawn_self(int *sock, int *pid, int *pidfd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return os_error("socketpair for a spawned child");
    int rc = exec_self(sv[1], "WEFT_SPAWN", pid, pidfd);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return rc;
    }
    *sock = sv[0];
    return 0;
}

/* A spawned child: receive the one request, answer, run it. */
static _Noreturn void spawn_main(int sock)
{
    static char buf[WEFT__PREQ_MAX] __attribute__((aligned(16)));
    int fds[WEFT__PREQ_FDS_MAX], nfds = 0;
    struct weft__prep rep;
    memset(&rep, 0, sizeof rep);
    struct weft__preq_in in;
    long n = weft__recv_fds(sock, buf, WEFT__PREQ_MAX, fds, WEFT__PREQ_FDS_MAX, &nfds);
    if (n <= 0) _exit(127);
    rep.code = weft__preq_parse(buf, (size_t)n, fds, nfds, &in, rep.message, sizeof rep.message);
    rep.pid = (int32_t)getpid();
    reply(sock, &rep, -1);
    if (rep.code != 0) _exit(127);
    close(sock);
    /* All of them: the new program's start-up (a sanitizer runtime) may have set handlers. */
    weft__child_main(&in, 1);
}

/* Descriptor 3 must be the socket our parent made for us. */
static int checked(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_SEQPACKET) return 0;
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || v != AF_UNIX) return 0;
    struct ucred cr;
    len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) return 0;
    return cr.pid == getppid() && cr.uid == getuid();
}

/* Runs before main in every program linked with libweft's process module. */
__attribute__((constructor(101))) static void boot(void)
{
    const char *srv = getenv("WEFT_FORKSERVER"), *sp = getenv("WEFT_SPAWN");
    if (srv == NULL && sp == NULL) return;
    int server = srv != NULL && strcmp(srv, "3") == 0;
    int spawn = sp != NULL && strcmp(sp, "3") == 0;
    unsetenv("WEFT_FORKSERVER");
    unsetenv("WEFT_SPAWN");
    if (getauxval(AT_SECURE) || server == spawn || !checked(3)) return;
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if (server) server_main(3);
    spawn_main(3);
}
