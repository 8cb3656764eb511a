/* src/process/process_internal.h - what the files of the process module share.
 *
 * Files: process.c (the handle: start, join, reap, signals, the exit rule), watcher.c (the
 * service thread: reaping, kill_at, making processes from a long-lived thread), server.c (the
 * fork server and the start-up hook of a re-executed program), child.c (what runs in a new
 * child before and after fn; the function-pointer translation).
 *
 * The wire format between a parent and its fork server (or a spawned child): one
 * SOCK_SEQPACKET message per request, a struct weft__preq, then name_len bytes of the object
 * name, padding to 16, then arg_size bytes of argument; SCM_RIGHTS carries the result socket,
 * the parent's stdio (those present, in order), then the pass_fds. The server answers with
 * one struct weft__prep, and SCM_RIGHTS with the child's pidfd when code is 0. The child sends
 * one struct weft__prec (then the result bytes) on its result socket when fn returns.
 */
#ifndef WEFT_PROCESS_INTERNAL_H
#define WEFT_PROCESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weft/error.h>
#include <weft/process.h>

#include "core/cancel_internal.h"
#include "core/park.h"

#define WEFT__PROC_MAGIC   0x74666577u /* "weft" */
#define WEFT__PROC_VERSION 1u
#define WEFT__PROC_OBJ_MAX 512 /* longest object path in a request */

enum {
    WEFT__PREQ_DAEMON = 1u << 0,
    WEFT__PREQ_CATCH_SIGINT = 1u << 1,
    WEFT__PREQ_STDIN = 1u << 2,
    WEFT__PREQ_STDOUT = 1u << 3,
    WEFT__PREQ_STDERR = 1u << 4,
};

struct weft__preq {
    uint32_t magic, version;
    uint32_t flags;
    int32_t parent_pid; /* the child checks getppid() against it after PR_SET_PDEATHSIG */
    uint64_t fn_offset; /* fn minus the load address of its object */
    uint32_t name_len;  /* object name bytes that follow ("" is the main program) */
    uint32_t arg_size;
    uint32_t nfds; /* pass_fds */
    int32_t target[WEFT_PROCESS_FDS_MAX];
    char pname[WEFT_PROCESS_NAME_MAX];
};

struct weft__prep {
    int32_t code; /* 0, or a WEFT_E* code: the request was refused */
    int32_t pid;
    char message[WEFT_ERROR_MESSAGE_MAX];
};

struct weft__prec {
    int32_t status; /* fn's return value */
    int32_t code;   /* the child's error slot code when status != 0 */
    uint32_t result_len;
    char message[WEFT_ERROR_MESSAGE_MAX];
};

#define WEFT__PREQ_FDS_MAX           (4 + WEFT_PROCESS_FDS_MAX)
#define WEFT__PREQ_ARG_OFF(name_len) (((sizeof(struct weft__preq) + (name_len)) + 15) & ~(size_t)15)
#define WEFT__PREQ_MAX               (WEFT__PREQ_ARG_OFF(WEFT__PROC_OBJ_MAX) + WEFT_PROCESS_ARG_MAX)

/* A request as received: the buffer holds the message; fds[] the descriptors in order. */
struct weft__preq_in {
    const struct weft__preq *req;
    const char *name;
    const void *arg;
    int fds[WEFT__PREQ_FDS_MAX];
    int nfds;
    weft_process_fn fn;
};

/* A child's handle (process.c has the rules for its fields and references). */
struct weft_process {
    weft__waitq waiters; /* its lock guards the fields down to result */
    _Atomic int ended;   /* 1 once reaped; release store, paired with the acquire loads */
    int exitcode;
    bool has_record;
    bool result_lost; /* no memory to keep the child's record or result when it was reaped */
    struct weft__prec rec;
    void *result;
    int pidfd, resfd, pid;
    bool daemon, listed;     /* listed: on the unreaped list (reg_lock) */
    weft_ns kill_grace;      /* terminate_on_cancel: SIGKILL this long after SIGTERM */
    weft__scope_hook hook;   /* terminate_on_cancel: attached to the starter's scope */
    _Atomic weft_ns kill_at; /* 0, or when the watcher sends SIGKILL (see on_cancel) */
    _Atomic int refs;
    struct weft_process *next, *prev; /* the unreaped list, under reg_lock */
    char name[WEFT_PROCESS_NAME_MAX];
};

/* process.c, for the watcher: reap p if it has ended (wake: its joiners), true once reaped; drop
 * a reference; SIGKILL the children whose kill_at passed, returning the next kill_at or
 * WEFT_FOREVER. */
bool weft__process_try_reap(struct weft_process *p, bool wake);
void weft__process_unref(struct weft_process *p);
weft_ns weft__process_kill_due(weft_ns now);

/* watcher.c: start the watcher thread (once; WEFT_ESTATE after weft__watcher_stop); watch p's
 * pidfd (the watcher owns one reference of p from then on); a kill_at was set (scan soon);
 * run fn(arg) on the watcher thread and wait for it (fn's code and message come back to the
 * caller's slot); stop and join the thread (at exit); forget the parent's watcher in a new
 * child (close_fds: its descriptors are still open here). */
int weft__watcher_start(void);
int weft__watcher_add(struct weft_process *p);
void weft__watcher_kills_due(void);
int weft__watcher_call(int (*fn)(void *), void *arg);
void weft__watcher_stop(void);
void weft__watcher_forget(bool close_fds);

/* child.c: where fn lies in the image (parent side), and back (server side). */
int weft__image_locate(weft_process_fn fn, char *name, size_t cap, uint64_t *offset);
int weft__image_resolve(const char *name, uint64_t offset, weft_process_fn *fn);

/* child.c: check a received request (sizes, magic, fds) and resolve its function. On failure
 * fills message and returns a WEFT_E* code. */
int weft__preq_parse(const void *buf, size_t len, const int *fds, int nfds,
                     struct weft__preq_in *in, char *message, size_t cap);

/* child.c: become the child and run the request; never returns. reset_all: set every signal
 * to its default action (the fork method, whose parent may have handlers). */
_Noreturn void weft__child_main(struct weft__preq_in *in, int reset_all);

/* server.c: receive one message of at most cap bytes on fd into buf, and up to maxfds (at most
 * WEFT__PREQ_FDS_MAX) descriptors passed with it into fds (*nfds of them; more are closed).
 * Returns the message length, 0 at EOF, or a negative WEFT_E* code (WEFT_ERANGE: cut short). */
long weft__recv_fds(int fd, void *buf, size_t cap, int *fds, int maxfds, int *nfds);

/* server.c: make the fork server. by_exec: execute the program (the parent has threads).
 * Returns 0 and the server's socket and pidfd, or a WEFT_E* code with the message set. */
int weft__server_start(int by_exec, int *sock, int *pidfd);
/* process.c: in the fork server forked by the only thread (not executed), which holds the
 * server mutex it made the server under: under valgrind, release it, as an atfork child
 * handler would, so that no process of the server's holds a lock to its exit (helgrind and DRD
 * report that). */
void weft__server_forked(void);
/* server.c: start a spawned child of the program itself; returns 0, its socket, pid and
 * pidfd. */
int weft__spawn_self(int *sock, int *pid, int *pidfd);
/* server.c: clone3 (or clone where clone3 is refused) with flags | CLONE_PIDFD and no exit
 * signal: no SIGCHLD at the end, and only a __WALL wait sees it. CLONE_PARENT children take
 * the caller's exit signal instead, which is why the fork server itself is made this way.
 * Returns the pid (0 in the child) or -1 with errno. */
long weft__clone_quiet(unsigned long flags, int *pidfd);

/* process.c: forget a parent's state in a new child (it is nobody's parent yet). */
void weft__process_child_reset(void);
/* process.c: wait for this process's own non-daemon children and kill its daemon ones. */
void weft__process_exit_children(void);
/* child.c: move the bytes set with weft_process_set_result into buf (WEFT_PROCESS_RESULT_MAX
 * bytes) and forget them; returns their length. A process pool's worker (src/procpool/) runs
 * many functions in one child and hands back each one's result this way. */
size_t weft__process_result_take(void *buf);
/* process.c: 1 in a weft child process (set before fn runs). */
extern int weft__process_in_child;

#endif
