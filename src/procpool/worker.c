/* src/procpool/worker.c - the worker process's loop: receive records of tasks, run each one,
 * answer each one before the next starts (wire.h says why), exit at QUIT or when the parent's
 * end closes.
 *
 * The worker is an ordinary weft child process (weft_process_start runs weft__procpool_worker
 * in it), so a task function is exactly a weft_process_fn: its result comes from
 * weft_process_set_result (taken back after each task, process/child.c) and its message from
 * weft_error_set, as when it runs in a process of its own. Functions arrive as (object name,
 * offset) definitions, resolved once with the process module's translation. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procpool/procpool_internal.h"
#include "process/process_internal.h"

struct wstate {
    const struct pp_worker_cfg *cfg;
    weft_process_fn *fns;
    char *out;
    char *res;
    int statm;
};

static uint64_t rss_now(struct wstate *s)
{
    char buf[64];
    if (s->statm < 0) return 0;
    ssize_t n = pread(s->statm, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long size, resident;
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Run one task and send its answer; -1 if the parent is gone. */
static int run_one(struct wstate *s, const struct pp_item *it)
{
    uint32_t id = it->fn & ~PP_FN_ANNOUNCE;
    weft_process_fn fn = id < WEFT_PROCPOOL_FNS_MAX ? s->fns[id] : NULL;
    if (it->fn & PP_FN_ANNOUNCE) {
        size_t n = pp_started_encode(s->out, it->id);
        if (pp_seqpacket.send(s->cfg->fd, s->out, n, 1) != 0) return -1;
    }
    int status, code = 0;
    const char *msg = "";
    size_t rlen = 0;
    if (fn == NULL) {
        status = code = WEFT_EINVAL;
        msg = "the worker does not know the task's function";
    } else {
        weft_error_clear();
        (void)weft__process_result_take(s->res); /* a stale one from a failed task */
        status = fn(it->data, it->len);
        code = weft_error_code();
        if (status != 0 && code == status) msg = weft_error_message();
        rlen = weft__process_result_take(s->res);
        if (status != 0) rlen = 0;
    }
    fflush(stdout);
    fflush(stderr);
    uint64_t rss = (s->cfg->flags & PP_CFG_RSS) ? rss_now(s) : 0;
    size_t n = pp_result_encode(s->out, it->id, status, code, s->res, (uint32_t)rlen, msg, rss);
    return pp_seqpacket.send(s->cfg->fd, s->out, n, 1) == 0 ? 0 : -1;
}

static void define(struct wstate *s, const struct pp_item *it)
{
    weft_process_fn fn;
    if (it->fn >= WEFT_PROCPOOL_FNS_MAX) return;
    if (weft__image_resolve(it->data, it->offset, &fn) == 0) s->fns[it->fn] = fn;
}

/* One record; 1 at QUIT, -1 on a bad record or a gone parent, else 0. */
static int handle(struct wstate *s, const char *in, size_t len)
{
    int kind;
    unsigned count;
    if (pp_rec_parse(in, len, &kind, &count) != 0) return -1;
    if (kind == PP_QUIT) return 1;
    size_t off = 0;
    for (unsigned i = 0; i < count; i++) {
        struct pp_item it;
        if (pp_items_next(in, len, kind, &off, &it) != 0) return -1;
        if (kind == PP_DEFS)
            define(s, &it);
        else if (run_one(s, &it) != 0)
            return -1;
    }
    return 0;
}

int weft__procpool_worker(const void *arg, size_t size)
{
    struct pp_worker_cfg cfg;
    if (size != sizeof cfg) return weft_error_set(WEFT_EINVAL, "procpool worker: bad start");
    memcpy(&cfg, arg, sizeof cfg);
    if (cfg.magic != PP_MAGIC) return weft_error_set(WEFT_EINVAL, "procpool worker: bad start");
    if (cfg.memory_limit) {
        struct rlimit rl = {(rlim_t)cfg.memory_limit, (rlim_t)cfg.memory_limit};
        (void)setrlimit(RLIMIT_AS, &rl);
    }
    struct wstate s = {&cfg, calloc(WEFT_PROCPOOL_FNS_MAX, sizeof(weft_process_fn)),
                       malloc(PP_RESULT_REC_MAX), malloc(WEFT_PROCESS_RESULT_MAX), -1};
    char *in = malloc(PP_REC_MAX);
    int rc = 0;
    if (!s.fns || !s.out || !s.res || !in) {
        rc = weft_error_set(WEFT_ENOMEM, "procpool worker: no memory for its buffers");
        goto out;
    }
    if (cfg.flags & PP_CFG_RSS) s.statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    for (;;) {
        long n = pp_seqpacket.recv(cfg.fd, in, PP_REC_MAX, 1);
        if (n <= 0 || handle(&s, in, (size_t)n) != 0) break;
    }
out:
    if (s.statm >= 0) close(s.statm);
    free(in);
    free(s.res);
    free(s.out);
    free(s.fns);
    close(cfg.fd);
    return rc;
}
