/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/process.h - processes running a C function (multiprocessing.Process).
 *
 * weft_process_start(&p, fn, arg, size, &opts) runs fn(copy of arg, size) in a new process and
 * returns at once; weft_process_join waits for it (with a timeout, and cancellable like every
 * weft wait); weft_process_exitcode gives Python's exitcode (>= 0: the exit status; -N: killed
 * by signal N). The argument travels as bytes (C has no pickle): pass plain data, not pointers
 * into the parent's memory. fn itself must be a function of the program or of a library it
 * was linked with (not one loaded later with dlopen, except with WEFT_PROCESS_FORK).
 *
 * Start methods (opts.method), as Python names them:
 *   WEFT_PROCESS_FORKSERVER (default) - a single-threaded server process, made once per parent,
 *       forks each child on request. It is forked from the parent at the first start if the
 *       parent has no other thread yet; otherwise it is made by executing the program itself
 *       once (/proc/self/exe). Safe in a threaded parent (the child never inherits a lock held
 *       by another thread) and its cost does not grow with the parent's memory.
 *   WEFT_PROCESS_SPAWN - execute the program itself for each child (about a millisecond).
 *   WEFT_PROCESS_FORK - fork() the calling process. Fastest for a small single-threaded parent;
 *       UNSAFE when the parent runs threads (a lock another thread held stays held in the child:
 *       malloc's, stdio's, any library's), and its cost grows with the parent's memory. The
 *       child sees the parent's memory as it was, so fn may be any function.
 * The exec-based paths need libweft linked into the program (not dlopen'ed); a set-user-ID or
 * set-group-ID program (secure execution) cannot use them (WEFT_EPERM).
 *
 * What a child gets: stdin, stdout and stderr of the parent as they are at the start call,
 * the descriptors listed in opts.pass_fds (same numbers), and no other descriptor; every
 * signal at its default action and an empty signal mask (but see Ctrl-C below); the parent's
 * environment, working directory, resource limits, credentials, umask and process group as
 * they were when its server was made (fork server) or at the start call (spawn, fork); its
 * own cancel scope tree (new, except with WEFT_PROCESS_FORK: a copy of the parent's as it was,
 * so a scope cancelled in the parent is cancelled there too). A child may call
 * weft_signals_catch, whatever the method. docs/design/process.md has the details.
 *
 * Exit, as Python: when the parent exits normally (returns from main, calls exit()), it first
 * kills its daemon children (SIGKILL) and waits for its non-daemon children. Daemon children
 * are also killed when the parent dies any other way, SIGKILL included, and only then: not
 * when the thread that started them ends. A non-daemon child outlives a parent killed by a
 * signal. Every child is reaped: no zombie is left. A child, when fn returns, first waits for
 * its own non-daemon weft threads, then applies this rule to its own children, then exits.
 *
 * SIGCHLD: the children of a fork server made by forking (the parent had one thread at its
 * first start) end with no exit signal: they send the program no SIGCHLD, and neither
 * SIGCHLD set to SIG_IGN nor the program's own waitpid(-1)/wait() can take their status. Other
 * children (of a server made by executing the program, spawned, forked) end with SIGCHLD like
 * any child (an exec resets the exit signal); a program that reaps one of them itself takes
 * its status from weft (the exit code is then 255, or fn's status if it returned).
 *
 * Ctrl-C: the terminal sends SIGINT to every process of the foreground group, children
 * included. If the starting thread blocks SIGINT (weft_signals_catch does so in every weft
 * thread), the child catches it the same way (weft_signals_catch with SIGINT only): its root
 * scope is cancelled, and its function winds down through WEFT_ECANCELED as threads do.
 * Otherwise SIGINT kills the child (exit code -2).
 *
 * A failing child: fn returns 0 on success, or a failure status (a WEFT_E* code or a positive
 * int), after weft_error_set if it wants a message; the joiner finds the code and message in
 * its error slot, as with threads. fn may also hand back up to WEFT_PROCESS_RESULT_MAX bytes
 * with weft_process_set_result. The exit status of the child is fn's return value when it is
 * 0...255, and 1 otherwise (the full value travels to the joiner).
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include <stddef.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_process weft_process;

/* A child's function: arg points to the child's copy of the bytes given to weft_process_start
 * (aligned for any type; NULL when size is 0). Returns 0 or a failure status. */
typedef int (*weft_process_fn)(const void *arg, size_t size);

enum weft_process_method {
    WEFT_PROCESS_FORKSERVER = 0,
    WEFT_PROCESS_SPAWN = 1,
    WEFT_PROCESS_FORK = 2,
};

/* Largest argument, in bytes. */
#define WEFT_PROCESS_ARG_MAX 65536
/* Largest result a child can hand back, in bytes. */
#define WEFT_PROCESS_RESULT_MAX 16384
/* Most descriptors in pass_fds. */
#define WEFT_PROCESS_FDS_MAX 16
/* Longest process name kept, including the NUL (the kernel shows the first 15 bytes). */
#define WEFT_PROCESS_NAME_MAX 64

typedef struct weft_process_opts {
    const char *name;    /* borrowed during the call and copied; NULL: "process-N" */
    int daemon;          /* non-zero: killed when the parent exits, not waited for */
    int method;          /* enum weft_process_method */
    const int *pass_fds; /* borrowed during the call: descriptors the child keeps, same numbers */
    size_t npass_fds;    /* entries in pass_fds, at most WEFT_PROCESS_FDS_MAX */
    /* Non-zero: the cancel scope current in the starting thread owns the child's life. When
     * that scope is cancelled (weft_scope_cancel of it or of an ancestor, Ctrl-C through
     * weft_signals_catch, its deadline once a thread in it notices it), the child is sent
     * SIGTERM at once, whether anyone joins it or not, and SIGKILL kill_grace later if it
     * still runs. A scope already cancelled at the start: at once. */
    int terminate_on_cancel;
    /* The grace between that SIGTERM and SIGKILL: >= 0 (0: at once), WEFT_FOREVER: never.
     * WEFT_PROCESS_OPTS_INIT sets 5 s (as Trio's run_process); a zeroed struct has 0. */
    weft_ns kill_grace;
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_process_opts;

/* clang-format off */
#define WEFT_PROCESS_OPTS_INIT {NULL, 0, WEFT_PROCESS_FORKSERVER, NULL, 0, 0, WEFT_SEC(5), {0}}
/* clang-format on */

/* weft_process_start - run fn(copy of arg, size) in a new process (Process.start).
 * out:  caller-owned, receives the handle on success (untouched on failure).
 * fn:   the child's function (see the top of this file for which functions may be used).
 * arg:  borrowed during the call; size bytes are copied. May be NULL when size is 0.
 * opts: borrowed, may be NULL for the defaults.
 * Returns 0; WEFT_EINVAL (NULL out or fn, NULL arg with size > 0, size > WEFT_PROCESS_ARG_MAX,
 * unknown method, name too long, more than WEFT_PROCESS_FDS_MAX or invalid pass_fds, negative
 * kill_grace, fn not in the image the fork server or spawned program has: a dlopen'ed
 * library); WEFT_ESTATE (the program is exiting: the exit rule has run); WEFT_EPERM (an
 * exec-based method in a secure-execution program); WEFT_EAGAIN (the system refused a
 * process or a descriptor); WEFT_ENOMEM. The message (weft_error_message) says which.
 * The handle must be given to weft_process_free (once the child ended) or weft_process_detach.
 * Blocks: briefly (the fork server's answer; the first start also makes the server).
 * Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_process_start(weft_process **out, weft_process_fn fn, const void *arg,
                                size_t size, const weft_process_opts *opts) WEFT_NODISCARD;

/* weft_process_join - wait until the child has ended and reap it (Process.join). Joining an
 * ended child again returns at once with the same status.
 * p: borrowed. status: caller-owned, may be NULL; receives the exit code (weft_process_exitcode).
 * When the child did not exit with 0, the caller's error slot receives a code and a message:
 * the child's own (its failure status and weft_error_set message), WEFT_EDIED with "killed by
 * SIGSEGV (Segmentation fault)" for a signal, or WEFT_EFAILED for a bare exit status.
 * timeout: weft/time.h; 0 only checks.
 * Returns 0; WEFT_EAGAIN (timeout 0, still running); WEFT_ETIMEDOUT; WEFT_ECANCELED (the
 * caller's scope was cancelled; the child runs on, unless opts.terminate_on_cancel tied it to
 * that scope); WEFT_EINVAL (NULL p, negative timeout).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe (several may join at once).
 * Async-signal-safe: no. */
WEFT_API int weft_process_join(weft_process *p, int *status, weft_ns timeout);

/* weft_process_exitcode - the exit code (Process.exitcode): >= 0 the child's exit status,
 * -N when signal N killed it. Reaps the child if it has ended. p: borrowed.
 * Returns the code; WEFT_EAGAIN while the child runs (Python's None); WEFT_EINVAL (NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_process_exitcode(const weft_process *p);

/* weft_process_is_alive - 1 while the child runs, 0 once it has ended (then reaps it);
 * WEFT_EINVAL (NULL p). p: borrowed.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_process_is_alive(const weft_process *p);

/* weft_process_terminate - send SIGTERM through the child's pidfd (Process.terminate; never
 * to a recycled pid). Does nothing to an ended child. p: borrowed.
 * Returns 0; WEFT_EINVAL (NULL p). Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_process_terminate(weft_process *p);

/* weft_process_kill - send SIGKILL through the child's pidfd (Process.kill). Does nothing to
 * an ended child. p: borrowed.
 * Returns 0; WEFT_EINVAL (NULL p). Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API int weft_process_kill(weft_process *p);

/* weft_process_signal - send signal signo (1..64) through the pidfd. Does nothing to an ended
 * child. p: borrowed.
 * Returns 0; WEFT_EINVAL (NULL p, bad signo). Blocks: no. Cancellation point: no.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_process_signal(weft_process *p, int signo);

/* weft_process_pid - the child's process id (Process.pid). The pid names the child only until
 * it is reaped; use the handle to signal it.
 * p: borrowed. Returns the pid; WEFT_EINVAL (NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes (a valid p). */
WEFT_API int weft_process_pid(const weft_process *p);

/* weft_process_fd - a descriptor that becomes readable when the child ends (Process.sentinel):
 * its pidfd, for poll/epoll. Owned by the handle: valid until weft_process_free/detach; do
 * not close it.
 * p: borrowed. Returns the fd; WEFT_EINVAL (NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes (a valid p). */
WEFT_API int weft_process_fd(const weft_process *p);

/* weft_process_name - the child's name (Process.name): opts.name or "process-N".
 * p: borrowed. Returns the name, borrowed from the handle and valid until it is freed; never
 * NULL ("" for NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API const char *weft_process_name(const weft_process *p);

/* weft_process_is_daemon - whether the child was started with opts.daemon (Process.daemon).
 * p: borrowed. Returns 1 or 0; WEFT_EINVAL (NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes (a valid p). */
WEFT_API int weft_process_is_daemon(const weft_process *p);

/* weft_process_result - copy the bytes the child handed back with weft_process_set_result.
 * buf: caller-owned, size bytes (may be NULL when size is 0). len: caller-owned, may be NULL;
 * receives the full length of the result.
 * p: borrowed. Reaps the child if it has ended.
 * Returns 0 (at most size bytes copied; a child that handed back nothing has length 0);
 * WEFT_EAGAIN (the child still runs); WEFT_EINVAL (NULL p, NULL buf with size > 0);
 * WEFT_ENOMEM (there was no memory to keep the result when the child was reaped: it is lost,
 * and every later call says so).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_process_result(const weft_process *p, void *buf, size_t size, size_t *len);

/* weft_process_free - free the handle of an ended child (Process.close). Closes its pidfd.
 * p: taken on success (do not use it afterwards); still the caller's on WEFT_ESTATE.
 * Returns 0; WEFT_ESTATE (the child still runs: join, kill or detach it); WEFT_EINVAL (NULL p).
 * Blocks: no. Cancellation point: no. Thread safety: not with other calls on p.
 * Async-signal-safe: no. */
WEFT_API int weft_process_free(weft_process *p);

/* weft_process_detach - give up the handle: the child runs on and weft reaps it when it ends
 * (the exit rule still applies: a non-daemon child is waited for at exit). p: taken.
 * Returns 0, WEFT_EINVAL (NULL p). Blocks: no. Cancellation point: no. Thread safety: not with
 * other calls on p. Async-signal-safe: no. */
WEFT_API int weft_process_detach(weft_process *p);

/* weft_process_set_result - in a child, the bytes to hand back to the joiner when fn returns
 * (copied; a later call replaces them).
 * data: borrowed, size bytes (may be NULL when size is 0).
 * Returns 0; WEFT_EINVAL (size > WEFT_PROCESS_RESULT_MAX, NULL data with size > 0);
 * WEFT_ESTATE (the caller is not a weft child process).
 * Blocks: no. Cancellation point: no. Thread safety: safe (from any thread of the child).
 * Async-signal-safe: no. */
WEFT_API int weft_process_set_result(const void *data, size_t size);

/* weft_process_status_text - describe an exit code in words: "exited with status 3",
 * "killed by SIGSEGV (Segmentation fault)", "exited normally" (0).
 * buf: caller-owned, size bytes, always NUL-terminated (cut if needed) when size > 0.
 * Returns buf. Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API char *weft_process_status_text(int exitcode, char *buf, size_t size);

/* weft_process_count - how many children of this process weft has started that have not yet
 * been reaped (multiprocessing.active_children's length; an ended child counts until weft
 * reaps it: a join, exitcode, is_alive, or the watcher soon after its exit).
 * Returns the count. Blocks: no. Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no. */
WEFT_API size_t weft_process_count(void);

/* weft_process_release: the old name of weft_process_detach (docs/design/naming.md: `_release`
 * only gives back a synchronization primitive). Kept through 0.x; WEFT_WARN_DEPRECATED makes
 * a use warn. */
WEFT_DEPRECATED("renamed weft_process_detach")
static inline int weft_process_release(weft_process *p)
{
    return weft_process_detach(p);
}

WEFT_END_DECLS

#endif
