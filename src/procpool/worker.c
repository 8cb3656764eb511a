/* src/procpool/worker.c - the worker process's loop: receive records of tasks, run each one,
 * answer each one before the next starts (wire.h says why) through its answer ring (ring.h;
 * the socket without one), exit at QUIT or when the parent's end closes.
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
#include <stdio_ext.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procpool/procpool_internal.h"
#include "procpool/ring.h"
#include "process/process_internal.h"

#define CANCELS_MAX (2 * WEFT_PROCPOOL_WINDOW_MAX)

struct rec {
    struct rec *next;
    long len;
    _Alignas(16) char data[];
};

struct wstate {
    const struct pp_worker_cfg *cfg;
    weft_process_fn *fns;
    char *out;
    char *res;
    int statm;
    /* Records received while looking for CANCEL records during another, in order (copies
     * of their exact size: together at most what the parent sent ahead); gone: the parent's
     * end closed, or a record could not be kept. scratch: the receiving buffer. */
    struct rec *first, *last;
    int gone;
    char *scratch;
    uint64_t cancelled[CANCELS_MAX]; /* ids not to start, a ring of the latest */
    unsigned ncancelled;
    /* The answer ring (ring.h), NULL without one: answers then go through the socket, and
     * every task sent behind another is preceded by a look for CANCEL records; with one, a
     * look only when its bell changed. seen: the bell's value at the last look (starts as
     * none, so the first task looks once). */
    struct pp_ring *ring;
    uint64_t seen;
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

static void note_cancels(struct wstate *s, const char *in, size_t len, unsigned count)
{
    size_t off = 0;
    struct pp_item it;
    for (unsigned i = 0; i < count && pp_items_next(in, len, PP_CANCEL, &off, &it) == 0; i++)
        s->cancelled[s->ncancelled++ % CANCELS_MAX] = it.id;
}

/* A record from the parent that came while the worker was not reading tasks: CANCEL noted
 * now, ROOM dropped, any other kept for later (in order). 0, or -1 when the parent's end closed
 * or the record could not be kept (the worker ends after the record it runs). */
static int keep(struct wstate *s, long n)
{
    int kind;
    unsigned count;
    if (n > 0 && pp_rec_parse(s->scratch, (size_t)n, &kind, &count) == 0) {
        if (kind == PP_CANCEL) note_cancels(s, s->scratch, (size_t)n, count);
        if (kind == PP_CANCEL || kind == PP_ROOM) return 0;
    }
    struct rec *r = n > 0 ? malloc(sizeof *r + (size_t)n) : NULL;
    if (r == NULL) {
        s->gone = 1;
        return -1;
    }
    memcpy(r->data, s->scratch, (size_t)n);
    r->len = n;
    r->next = NULL;
    if (s->last)
        s->last->next = r;
    else
        s->first = r;
    s->last = r;
    return 0;
}

/* Take what the parent sent since, without waiting. One system call when nothing came. */
static void look_ahead(struct wstate *s)
{
    while (!s->gone) {
        long n = pp_seqpacket.recv(s->cfg->fd, s->scratch, PP_REC_MAX, 0);
        if (n == WEFT_EAGAIN || keep(s, n) != 0) return;
    }
}

static void doorbell(struct wstate *s)
{
    char rec[32];
    (void)pp_seqpacket.send(s->cfg->fd, rec, pp_empty_encode(rec, PP_DOORBELL), 0);
}

/* Send a record to the parent: into the ring (ringing the parent if it sleeps), waiting for
 * room if it is full; or through the socket without a ring. -1 if the parent is gone. */
static int to_parent(struct wstate *s, const void *rec, size_t len)
{
    if (!s->ring) return pp_seqpacket.send(s->cfg->fd, rec, len, 1) == 0 ? 0 : -1;
    int rc;
    while ((rc = pp_ring_put(s->ring, rec, len)) < 0) {
        if (pp_ring_want_room(s->ring, len)) continue;
        if (atomic_exchange(&s->ring->sleeping, 0)) doorbell(s);
        if (keep(s, pp_seqpacket.recv(s->cfg->fd, s->scratch, PP_REC_MAX, 1)) != 0) return -1;
    }
    if (rc == 1) doorbell(s);
    return 0;
}

/* Before a task that may have waited: look for CANCEL records if the parent may have sent
 * some since the last look. With a bell that is a load; the parent rings it after each CANCEL
 * it sends, so a value unchanged since the last look means there is none to find. */
static void maybe_look(struct wstate *s)
{
    if (s->ring) {
        /* acquire: pairs with the ring's release (manager.c, send_cancels) */
        uint32_t v = atomic_load_explicit(&s->ring->bell, memory_order_acquire);
        if (v == s->seen) return;
        s->seen = v;
    }
    look_ahead(s);
}

/* Whether the task id was cancelled (and forget it: ids are never reused). */
static int take_cancel(struct wstate *s, uint64_t id)
{
    unsigned n = s->ncancelled < CANCELS_MAX ? s->ncancelled : CANCELS_MAX;
    for (unsigned i = 0; i < n; i++)
        if (s->cancelled[i] == id) {
            s->cancelled[i] = 0; /* task ids start at 1 */
            return 1;
        }
    return 0;
}

/* Run one task and send its answer; -1 if the parent is gone. */
static int run_one(struct wstate *s, const struct pp_item *it)
{
    if (take_cancel(s, it->id)) { /* cancelled while sent ahead: answered, never started */
        size_t n = pp_result_encode(s->out, it->id, WEFT_ECANCELED, WEFT_ECANCELED, NULL, 0,
                                    "cancelled before it started", 0);
        return to_parent(s, s->out, n);
    }
    uint32_t id = it->fn & ~PP_FN_ANNOUNCE;
    weft_process_fn fn = id < WEFT_PROCPOOL_FNS_MAX ? s->fns[id] : NULL;
    if (it->fn & PP_FN_ANNOUNCE) {
        size_t n = pp_started_encode(s->out, it->id);
        if (to_parent(s, s->out, n) != 0) return -1;
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
    if (__fpending(stdout)) fflush(stdout); /* an empty flush still takes the stream's lock */
    if (__fpending(stderr)) fflush(stderr);
    uint64_t rss = (s->cfg->flags & PP_CFG_RSS) ? rss_now(s) : 0;
    size_t n = pp_result_encode(s->out, it->id, status, code, s->res, (uint32_t)rlen, msg, rss);
    return to_parent(s, s->out, n);
}

static void define(struct wstate *s, const struct pp_item *it)
{
    weft_process_fn fn;
    if (it->fn >= WEFT_PROCPOOL_FNS_MAX) return;
    if (weft__image_resolve(it->data, it->offset, &fn) == 0) s->fns[it->fn] = fn;
}

/* One record; 1 at QUIT, -1 on a bad record or a gone parent, else 0. queued: it waited
 * behind the previous one (its first task was sent ahead too). */
static int handle(struct wstate *s, const char *in, size_t len, int queued)
{
    int kind;
    unsigned count;
    if (pp_rec_parse(in, len, &kind, &count) != 0) return -1;
    if (kind == PP_QUIT) return 1;
    if (kind == PP_ROOM) return 0;
    if (kind == PP_CANCEL) {
        note_cancels(s, in, len, count);
        return 0;
    }
    size_t off = 0;
    for (unsigned i = 0; i < count; i++) {
        struct pp_item it;
        if (pp_items_next(in, len, kind, &off, &it) != 0) return -1;
        if (kind == PP_DEFS) {
            define(s, &it);
            continue;
        }
        /* A task sent behind another may have been cancelled while that one ran. */
        if (i > 0 || queued) maybe_look(s);
        if (run_one(s, &it) != 0) return -1;
    }
    return 0;
}

/* Map the answer ring; without it (none, or the mapping failed) answers go through the
 * socket. */
static void ring_map(struct wstate *s, const struct pp_worker_cfg *cfg)
{
    s->seen = UINT64_MAX; /* no 32-bit value: the first check looks */
    if (cfg->ring_fd < 0) return;
    s->ring = pp_ring_map(cfg->ring_fd);
    close(cfg->ring_fd);
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
    struct wstate s = {0}; /* nothing ahead, nothing cancelled */
    s.cfg = &cfg;
    s.fns = calloc(WEFT_PROCPOOL_FNS_MAX, sizeof(weft_process_fn));
    s.out = malloc(PP_RESULT_REC_MAX);
    s.res = malloc(WEFT_PROCESS_RESULT_MAX);
    s.statm = -1;
    s.scratch = malloc(PP_REC_MAX);
    char *in = malloc(PP_REC_MAX);
    int rc = 0;
    if (!s.fns || !s.out || !s.res || !in || !s.scratch) {
        rc = weft_error_set(WEFT_ENOMEM, "procpool worker: no memory for its buffers");
        goto out;
    }
    if (cfg.flags & PP_CFG_RSS) s.statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ring_map(&s, &cfg);
    for (;;) {
        struct rec *r = s.first;
        if (r) { /* received during an earlier record: it waited behind it */
            s.first = r->next;
            if (!s.first) s.last = NULL;
            int h = handle(&s, r->data, (size_t)r->len, 1);
            free(r);
            if (h != 0) break;
            continue;
        }
        if (s.gone) break;
        /* A record that was there already waited behind the last one. With a bell, its first
         * task looks anyway (when rung), so one blocking receive is enough. */
        long n = WEFT_EAGAIN;
        if (!s.ring) n = pp_seqpacket.recv(cfg.fd, in, PP_REC_MAX, 0);
        int queued = s.ring || n != WEFT_EAGAIN;
        if (n == WEFT_EAGAIN) n = pp_seqpacket.recv(cfg.fd, in, PP_REC_MAX, 1);
        if (n <= 0 || handle(&s, in, (size_t)n, queued) != 0) break;
    }
out:
    while (s.first) {
        struct rec *r = s.first;
        s.first = r->next;
        free(r);
    }
    if (s.statm >= 0) close(s.statm);
    if (s.ring) pp_ring_unmap(s.ring);
    free(s.scratch);
    free(in);
    free(s.res);
    free(s.out);
    free(s.fns);
    close(cfg.fd);
    return rc;
}
