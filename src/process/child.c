/* src/process/child.c - the child's side: the request check, the function-pointer
 * translation, and what a new child does around fn.
 *
 * Function pointers across an exec (ASLR). A fork server forked from the parent has the
 * parent's layout, but one made by executing the program again (and a spawned child) has its
 * own random load addresses, so a raw pointer from the parent means nothing there. The parent
 * therefore sends (object name, offset from the object's load address), found with
 * dl_iterate_phdr, and the receiver adds its own load address of the object of that name.
 * The offset must fall inside an executable PT_LOAD segment of that object, so a request can
 * only ever name code the program already has; a library the parent loaded with dlopen after
 * the server was made is not found there and the start fails with WEFT_EINVAL. The same path
 * is used when the layouts agree (the translation is then the identity): one code path, one
 * check.
 *
 * The child, before fn: its name (PR_SET_NAME); PR_SET_PDEATHSIG(SIGKILL) for a daemon, then
 * the getppid() check against the parent's pid (the parent may have died before the prctl);
 * default signal actions and an empty mask, and weft's signal state forgotten (a forked copy
 * of a parent that caught signals has no signal thread); the parent's stdio and the passed
 * descriptors at their numbers and nothing else; the module's parent state forgotten. After
 * fn: its non-daemon weft threads waited for (thread.c's exit rule, as at exit()), its own
 * children handled by the process exit rule, stdio flushed, the record sent, _exit (the
 * parent's atexit handlers are not the child's to run, as in Python's multiprocessing).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <weft/signal.h>

#include "core/internal.h"
#include "signal_internal.h"
#include "core/fork.h"
#include "process_internal.h"

int weft__process_in_child;

struct image_query {
    uintptr_t addr;   /* in: the address (locate) / out: the address (resolve) */
    const char *name; /* in (resolve) / out (locate) */
    uint64_t offset;  /* out (locate) / in (resolve) */
    int found;
};

static int in_exec_segment(struct dl_phdr_info *info, uintptr_t addr)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (addr >= lo && addr - lo < ph->p_memsz) return 1;
    }
    return 0;
}

static int locate_one(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct image_query *q = data;
    if (!in_exec_segment(info, q->addr)) return 0;
    q->name = info->dlpi_name ? info->dlpi_name : "";
    q->offset = (uint64_t)(q->addr - info->dlpi_addr);
    q->found = 1;
    return 1;
}

static int resolve_one(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct image_query *q = data;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (strcmp(name, q->name) != 0) return 0;
    uintptr_t addr = info->dlpi_addr + (uintptr_t)q->offset;
    if (addr < info->dlpi_addr || !in_exec_segment(info, addr)) return 0;
    q->addr = addr;
    q->found = 1;
    return 1;
}

int weft__image_locate(weft_process_fn fn, char *name, size_t cap, uint64_t *offset)
{
    struct image_query q = {.addr = (uintptr_t)fn};
    dl_iterate_phdr(locate_one, &q);
    if (!q.found)
        return weft_error_set(WEFT_EINVAL, "process function %p is not code of this program",
                              (void *)(uintptr_t)fn);
    size_t n = strlen(q.name);
    if (n >= cap || n >= WEFT__PROC_OBJ_MAX)
        return weft_error_set(WEFT_EINVAL, "process function's library path is too long");
    memcpy(name, q.name, n + 1);
    *offset = q.offset;
    return 0;
}

int weft__image_resolve(const char *name, uint64_t offset, weft_process_fn *fn)
{
    struct image_query q = {.name = name, .offset = offset};
    dl_iterate_phdr(resolve_one, &q);
    if (!q.found) return WEFT_EINVAL;
    *fn = (weft_process_fn)q.addr;
    return 0;
}

static int refuse(char *message, size_t cap, const char *why)
{
    snprintf(message, cap, "fork server refused a request: %s", why);
    return WEFT_EINVAL;
}

int weft__preq_parse(const void *buf, size_t len, const int *fds, int nfds,
                     struct weft__preq_in *in, char *message, size_t cap)
{
    const struct weft__preq *r = buf;
    if (len < sizeof *r) return refuse(message, cap, "shorter than a header");
    if (r->magic != WEFT__PROC_MAGIC || r->version != WEFT__PROC_VERSION)
        return refuse(message, cap, "bad magic or version");
    if (r->name_len >= WEFT__PROC_OBJ_MAX || r->arg_size > WEFT_PROCESS_ARG_MAX ||
        r->nfds > WEFT_PROCESS_FDS_MAX)
        return refuse(message, cap, "a size is out of range");
    size_t off = WEFT__PREQ_ARG_OFF(r->name_len);
    if (len != off + r->arg_size) return refuse(message, cap, "length does not match");
    const char *name = (const char *)buf + sizeof *r;
    if (memchr(name, '\0', r->name_len) != NULL || name[r->name_len] != '\0')
        return refuse(message, cap, "bad object name");
    if (memchr(r->pname, '\0', sizeof r->pname) == NULL)
        return refuse(message, cap, "bad process name");
    int want = 1 + !!(r->flags & WEFT__PREQ_STDIN) + !!(r->flags & WEFT__PREQ_STDOUT) +
               !!(r->flags & WEFT__PREQ_STDERR) + (int)r->nfds;
    if (nfds != want) return refuse(message, cap, "wrong number of descriptors");
    for (uint32_t i = 0; i < r->nfds; i++)
        if (r->target[i] < 0) return refuse(message, cap, "bad descriptor number");
    if (weft__image_resolve(name, r->fn_offset, &in->fn) != 0)
        return refuse(message, cap,
                      "the function is not code of the server's program "
                      "(a library loaded with dlopen?)");
    in->req = r;
    in->name = name;
    in->arg = r->arg_size ? (const char *)buf + off : NULL;
    memcpy(in->fds, fds, sizeof(int) * (size_t)nfds);
    in->nfds = nfds;
    return 0;
}

/* The result the child hands back; one per child process. The child's threads may set it:
 * out_lock guards it until the exit rule has waited for them. */
static struct {
    struct weft__prec rec;
    char data[WEFT_PROCESS_RESULT_MAX];
} out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

int weft_process_set_result(const void *data, size_t size)
{
    if (!weft__process_in_child)
        return weft_error_set(WEFT_ESTATE, "weft_process_set_result outside a weft child");
    if (size > WEFT_PROCESS_RESULT_MAX || (data == NULL && size > 0))
        return weft_error_set(WEFT_EINVAL, "result of %zu bytes (at most %d)", size,
                              WEFT_PROCESS_RESULT_MAX);
    pthread_mutex_lock(&out_lock);
    if (size) memcpy(out.data, data, size);
    out.rec.result_len = (uint32_t)size;
    pthread_mutex_unlock(&out_lock);
    return 0;
}

/* Move fd to a number above floor (close-on-exec); returns the new number or -1. */
static int lift(int fd, int floor)
{
    if (fd > floor) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, floor + 1);
    close(fd);
    return n;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Put stdio and the passed fds at their numbers, close every other descriptor; returns the
 * result socket's number. */
static int arrange_fds(struct weft__preq_in *in)
{
    const struct weft__preq *r = in->req;
    int top = 2;
    for (uint32_t i = 0; i < r->nfds; i++)
        if (r->target[i] > top) top = r->target[i];
    for (int i = 0; i < in->nfds; i++) in->fds[i] = lift(in->fds[i], top);
    int k = 1;
    static const uint32_t bits[3] = {WEFT__PREQ_STDIN, WEFT__PREQ_STDOUT, WEFT__PREQ_STDERR};
    for (int s = 0; s < 3; s++)
        if (r->flags & bits[s]) dup2(in->fds[k++], s);
    int keep[WEFT_PROCESS_FDS_MAX + 4], nkeep = 0;
    for (uint32_t i = 0; i < r->nfds; i++) {
        dup2(in->fds[k + (int)i], r->target[i]);
        keep[nkeep++] = r->target[i];
    }
    keep[nkeep++] = in->fds[0];
    qsort(keep, (size_t)nkeep, sizeof keep[0], cmp_int);
    unsigned lo = 3;
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] < 3) continue;
        if ((unsigned)keep[i] > lo) syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0u);
        lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0u, 0u);
    return in->fds[0];
}

static void set_signals(const struct weft__preq *r, int reset_all)
{
    sigset_t none;
    sigemptyset(&none);
    if (r->flags & WEFT__PREQ_CATCH_SIGINT) { /* no default-action window before the catch */
        sigaddset(&none, SIGINT);
        sigprocmask(SIG_BLOCK, &none, NULL);
        sigemptyset(&none);
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    if (reset_all) {
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
    } else {
        sigaction(SIGINT, &dfl, NULL); /* the server ignores it */
    }
    weft__signals_forget(); /* fork: the parent's signal thread did not come along */
    if (r->flags & WEFT__PREQ_CATCH_SIGINT) {
        static const int sigint[1] = {SIGINT};
        weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
        so.signals = sigint;
        so.count = 1;
        if (weft_signals_catch(&so) == 0) sigaddset(&none, SIGINT);
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int exit_code_of(int status)
{
    return status >= 0 && status <= 255 ? status : 1;
}

_Noreturn void weft__child_main(struct weft__preq_in *in, int reset_all)
{
    const struct weft__preq *r = in->req;
    /* Output the parent had buffered is the parent's to write, not a second copy's. */
    __fpurge(stdout);
    __fpurge(stderr);
    prctl(PR_SET_NAME, r->pname, 0, 0, 0);
    if (r->flags & WEFT__PREQ_DAEMON) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != r->parent_pid) _exit(128 + SIGKILL); /* the parent already died */
    }
    int res = arrange_fds(in);
    weft__process_child_reset();
    weft__process_in_child = 1;
    set_signals(r, reset_all);
    int status = in->fn(in->arg, r->arg_size);
    int code = weft_error_code();
    char msg[WEFT_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", code == status ? weft_error_message() : "");
    /* As Python's children end (threading._shutdown, then the exit hooks): weft's whole exit
     * sequence - non-daemon threads, open pools, its own children, the service threads. */
    weft__exit_run();
    fflush(NULL);
    pthread_mutex_lock(&out_lock); /* a daemon thread may still be setting it */
    out.rec.status = status;
    if (status != 0) {
        out.rec.code = code;
        memcpy(out.rec.message, msg, sizeof msg);
    }
    send(res, &out, sizeof out.rec + out.rec.result_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    pthread_mutex_unlock(&out_lock);
    _exit(exit_code_of(status));
}

size_t weft__process_result_take(void *buf)
{
    pthread_mutex_lock(&out_lock);
    size_t n = out.rec.result_len;
    if (n) memcpy(buf, out.data, n);
    out.rec.result_len = 0;
    pthread_mutex_unlock(&out_lock);
    return n;
}
