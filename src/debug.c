/* src/debug.c - weft_debug_dump, object names, and the dump on a signal.
 *
 * The dump reads the blocked-on records (core/debugrec.h) without locking: a snapshot of every
 * record in use, indexed by id, then the text, then the wait-for cycles. Each blocked thread
 * has at most one outgoing edge (the lock's holder, or the thread it joins), so following the
 * edges from each thread finds every cycle in O(threads). A cycle is printed only if a second
 * read finds each of its records unchanged (same sequence number): the threads were in those
 * waits throughout, not passing through them.
 *
 * Pools follow the threads: pool/registry.c copies each live pool's counts under a try of its
 * lock (weft__pools_view), and the dump says "busy" rather than wait if another thread holds
 * it. Queues the same way, through queue/registry.c (weft__queues_view).
 *
 * Names live in a small hash table under names.lock (a weft__lock held for a lookup or an
 * update, never across a wait, so a blocked thread never holds it).
 *
 * The signal: the handler writes 1 to an eventfd (async-signal-safe); a service pthread reads
 * it and writes the dump to stderr. It is started under dbg.lock, cancelled and joined at exit
 * (exit.c), and started again in a child made by fork() with an eventfd of its own.
 * Lock order: docs/design/locks.md: dbg.lock is outermost (sig.lock is taken under it to ask
 * whether signal.c receives the signal); names.lock is a leaf taken alone.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <dlfcn.h>

#include <weft/debug.h>
#include <weft/error.h>

#include "core/annotate.h"
#include "core/debugrec.h"
#include "core/fork.h"
#include "core/internal.h"
#include "core/lock.h"
#include "os/os.h"
#include "debug_internal.h"
#include "signal_internal.h"

/* ---- names ---- */

#define NAME_BUCKETS 256

struct name {
    struct name *next;
    const void *obj;
    char text[WEFT_DEBUG_NAME_MAX + 1];
};

static struct {
    weft__lock lock;
    struct name *bucket[NAME_BUCKETS];
} names;

static struct name **bucket_of(const void *obj)
{
    return &names.bucket[(uint64_t)(uintptr_t)obj * 0x9E3779B97F4A7C15ull >> 56];
}

static struct name **slot_of(const void *obj)
{
    struct name **p = bucket_of(obj);
    while (*p && (*p)->obj != obj) p = &(*p)->next;
    return p;
}

int weft_debug_name(const void *obj, const char *name)
{
    if (obj == NULL) return weft__fail(WEFT_EINVAL, "obj is NULL");
    if (name && strlen(name) > WEFT_DEBUG_NAME_MAX)
        return weft__fail(WEFT_EINVAL, "name is %zu bytes; the limit is %d", strlen(name),
                          WEFT_DEBUG_NAME_MAX);
    struct name *n = name ? weft__malloc(sizeof *n) : NULL;
    if (name && n == NULL) return weft__fail(WEFT_ENOMEM, "no memory for the name of an object");
    weft__lock_acquire(&names.lock);
    struct name **p = slot_of(obj), *old = *p;
    if (old) *p = old->next;
    if (n) {
        n->obj = obj;
        snprintf(n->text, sizeof n->text, "%s", name);
        n->next = *bucket_of(obj);
        *bucket_of(obj) = n;
    }
    weft__lock_release(&names.lock);
    free(old);
    return 0;
}

/* Copy obj's name into out ("" if none). */
static void name_of(const void *obj, char out[WEFT_DEBUG_NAME_MAX + 1])
{
    out[0] = '\0';
    if (obj == NULL) return;
    weft__lock_acquire(&names.lock);
    struct name *n = *slot_of(obj);
    if (n) memcpy(out, n->text, sizeof n->text);
    weft__lock_release(&names.lock);
}

/* ---- the text ---- */

struct out {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *b = weft__realloc(o->buf, cap);
        if (b == NULL) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static const char *const kind_names[WEFT__WAIT_KINDS] = {
    [WEFT__WAIT_OTHER] = "wait",
    [WEFT__WAIT_LOCK] = "lock",
    [WEFT__WAIT_COND] = "condition",
    [WEFT__WAIT_SEM] = "semaphore",
    [WEFT__WAIT_EVENT] = "event",
    [WEFT__WAIT_LATCH] = "latch",
    [WEFT__WAIT_ONCE] = "once",
    [WEFT__WAIT_BARRIER] = "barrier",
    [WEFT__WAIT_QUEUE_GET] = "queue get",
    [WEFT__WAIT_QUEUE_PUT] = "queue put",
    [WEFT__WAIT_QUEUE_JOIN] = "queue join",
    [WEFT__WAIT_SELECT] = "select",
    [WEFT__WAIT_FUTURE] = "future",
    [WEFT__WAIT_JOIN] = "join",
    [WEFT__WAIT_SLEEP] = "sleep",
    [WEFT__WAIT_PROCESS] = "process",
    [WEFT__WAIT_POOL] = "idle in pool",
    [WEFT__WAIT_SERVICE] = "service",
};

static const char *kind_name(uint32_t k)
{
    return k < WEFT__WAIT_KINDS && kind_names[k] ? kind_names[k] : "wait";
}

#define LD(t, f) atomic_load_explicit(&(t)->f, memory_order_relaxed)

/* A snapshot of one record, with its sequence number at the time. */
struct snap {
    const weft__dbg_thread *rec;
    weft__dbg_thread copy;
    uint32_t seq;
    bool ok; /* read whole */
    char name[WEFT__DBG_NAME_WORDS * 8];
    struct snap *waiters, *waiter_next; /* the threads blocked on locks this one holds */
};

static void take_snap(const weft__dbg_thread *t, struct snap *s)
{
    s->rec = t;
    s->ok = weft__dbg_read(t, &s->copy, &s->seq);
    if (!s->ok) {
        s->name[0] = '\0';
        return;
    }
    for (int i = 0; i < WEFT__DBG_NAME_WORDS; i++) {
        uint64_t w = LD(&s->copy, name[i]);
        memcpy(s->name + 8 * i, &w, 8);
    }
    s->name[sizeof s->name - 1] = '\0';
}

static void put_object(struct out *o, uint32_t kind, uintptr_t obj)
{
    char nm[WEFT_DEBUG_NAME_MAX + 1];
    put(o, "%s", kind_name(kind));
    if (obj == 0) return;
    name_of((const void *)obj, nm);
    if (nm[0])
        put(o, " '%s' (%p)", nm, (void *)obj);
    else
        put(o, " %p", (void *)obj);
}

static void put_seconds(struct out *o, weft_ns ns)
{
    put(o, "%lld.%03lld s", (long long)(ns / 1000000000), (long long)(ns % 1000000000 / 1000000));
}

/* The thread s waits for (a lock's holder, a joined thread), if it is in the snapshot. */
static struct snap *target(struct snap **by_id, uint32_t ids, const struct snap *s)
{
    if (!s->ok || LD(&s->copy, state) != WEFT__DBG_BLOCKED) return NULL;
    uint32_t k = LD(&s->copy, kind), h = LD(&s->copy, holder);
    if ((k != WEFT__WAIT_LOCK && k != WEFT__WAIT_JOIN) || h == 0 || h > ids) return NULL;
    struct snap *t = by_id[h];
    return t && t->ok && LD(&t->copy, state) != WEFT__DBG_FREE ? t : NULL;
}

static void put_thread(struct out *o, struct snap *s, struct snap **by_id, uint32_t ids,
                       weft_ns now)
{
    const weft__dbg_thread *c = &s->copy;
    put(o, "thread %u '%s' tid %d: ", c->id, s->name, (int)LD(c, tid));
    if (LD(c, state) != WEFT__DBG_BLOCKED) {
        put(o, "running\n");
    } else {
        uint32_t k = LD(c, kind);
        weft_ns since = LD(c, since), dl = LD(c, deadline);
        put(o, "blocked on ");
        put_object(o, k, LD(c, obj));
        put(o, " for ");
        put_seconds(o, now > since ? now - since : 0);
        if (dl == WEFT_FOREVER) {
            put(o, ", no deadline");
        } else {
            put(o, ", deadline in ");
            put_seconds(o, dl > now ? dl - now : 0);
        }
        struct snap *t = target(by_id, ids, s);
        if (t)
            put(o, ", %s thread %u '%s'", k == WEFT__WAIT_LOCK ? "held by" : "waiting for",
                t->copy.id, t->name);
        put(o, "\n");
    }
    uint32_t nheld = LD(c, nheld); /* lock-order checking on: the thread's own stack */
    for (uint32_t i = 0; i < nheld && i < WEFT__DBG_HELD; i++) {
        if (LD(c, held[i]) == 0) continue; /* a lock the checker's stack lost track of */
        put(o, "    holding: ");
        put_object(o, WEFT__WAIT_LOCK, LD(c, held[i]));
        put(o, "\n");
    }
    /* Else the locks that others wait on and s holds, each once. */
    for (struct snap *w = nheld ? NULL : s->waiters; w; w = w->waiter_next) {
        bool seen = false;
        for (struct snap *v = s->waiters; v != w && !seen; v = v->waiter_next)
            seen = LD(&v->copy, obj) == LD(&w->copy, obj);
        if (seen) continue;
        put(o, "    holding: ");
        put_object(o, WEFT__WAIT_LOCK, LD(&w->copy, obj));
        put(o, "\n");
    }
    if (LD(c, state) != WEFT__DBG_BLOCKED) return;
    for (uint32_t i = 0; i < LD(c, nframes); i++) {
        void *pc = (void *)LD(c, frames[i]);
        Dl_info info;
        if (dladdr(pc, &info) && info.dli_sname)
            put(o, "    at %p %s+%#lx\n", pc, info.dli_sname,
                (unsigned long)((char *)pc - (char *)info.dli_saddr));
        else
            put(o, "    at %p\n", pc);
    }
}

/* Print each wait-for cycle once. mark: 0 unvisited, else the walk (1-based start) that
 * reached the node. */
static void put_cycles(struct out *o, struct snap *all, size_t n, struct snap **by_id, uint32_t ids,
                       uint32_t *mark)
{
    for (size_t i = 0; i < n; i++) {
        struct snap *s = &all[i];
        uint32_t walk = (uint32_t)i + 1;
        while (s && mark[s->copy.id] == 0) {
            mark[s->copy.id] = walk;
            s = target(by_id, ids, s);
        }
        if (s == NULL || mark[s->copy.id] != walk) continue; /* no cycle, or an old one */
        bool stable = true; /* every member still in the wait we read */
        struct snap *c = s;
        do {
            stable = stable && atomic_load_explicit(&c->rec->seq, memory_order_acquire) == c->seq;
            c = target(by_id, ids, c);
        } while (c != s);
        if (!stable) continue;
        put(o, "deadlock: %s", s->name);
        c = s;
        do {
            struct snap *t = target(by_id, ids, c);
            uint32_t k = LD(&c->copy, kind);
            put(o, " -> ");
            put_object(o, k, LD(&c->copy, obj));
            put(o, " %s %s", k == WEFT__WAIT_LOCK ? "held by" : "of", t->name);
            c = t;
        } while (c != s);
        put(o, "\n");
    }
}

/* One kind of live object the dump lists after the threads, one line each. */
struct listing {
    const char *kind; /* "pool": "pools: ...", "the pool registry" */
    size_t size, max; /* of a view; how many are listed */
    long (*view)(void *out, size_t max);
    void (*line)(struct out *o, const void *view);
};

/* The views of l's registry, copied under a try of its lock, then a line each. */
static void put_listing(struct out *o, const struct listing *l)
{
    char *v = weft__malloc(l->max * l->size);
    if (v == NULL) {
        o->oom = true;
        return;
    }
    long n = l->view(v, l->max);
    if (n < 0) put(o, "%ss: not listed (the %s registry is busy)\n", l->kind, l->kind);
    for (long i = 0; i < n && (size_t)i < l->max; i++) l->line(o, v + (size_t)i * l->size);
    if (n > (long)l->max) put(o, "%ss: %ld more not listed\n", l->kind, n - (long)l->max);
    free(v);
}

/* "pool ADDR 'name': workers N of M, busy B, queued Q (threads 'prefix'), paused, shut down" */
static void put_pool(struct out *o, const void *view)
{
    const struct weft__pool_view *v = view;
    char name[WEFT_DEBUG_NAME_MAX + 1];
    name_of(v->pool, name);
    put(o, "pool %p '%s': workers %d of %d, busy %d, queued %llu (threads '%s')%s%s\n", v->pool,
        name[0] ? name : v->prefix, v->workers, v->max_workers, v->busy, v->queued, v->prefix,
        v->paused ? ", paused" : "", v->shutdown ? ", shut down" : "");
}

static long pools_view(void *out, size_t max)
{
    return weft__pools_view(out, max);
}

/* "queue ADDR ['name']: items N of CAP | (unbounded), getters G, putters P, closed | shut
 * down" */
static void put_queue(struct out *o, const void *view)
{
    const struct weft__queue_view *v = view;
    char name[WEFT_DEBUG_NAME_MAX + 1], items[64];
    name_of(v->queue, name);
    if (!v->counted)
        snprintf(items, sizeof items, "items unknown (its lock is busy)");
    else if (v->capacity)
        snprintf(items, sizeof items, "items %zu of %zu", v->items, v->capacity);
    else
        snprintf(items, sizeof items, "items %zu (unbounded)", v->items);
    put(o, "queue %p%s%s%s: %s, getters %zu, putters %zu%s\n", v->queue, name[0] ? " '" : "", name,
        name[0] ? "'" : "", items, v->getters, v->putters,
        v->shutdown ? ", shut down"
        : v->closed ? ", closed"
                    : "");
}

static long queues_view(void *out, size_t max)
{
    return weft__queues_view(out, max);
}

static const struct listing pools = {"pool", sizeof(struct weft__pool_view), 64, pools_view,
                                     put_pool};
static const struct listing queues = {"queue", sizeof(struct weft__queue_view), 256, queues_view,
                                      put_queue};

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return weft__fail(WEFT_EFAILED, "write to fd %d failed: %s", fd,
                              w < 0 ? strerror(errno) : "wrote nothing");
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int by_id_order(const void *a, const void *b)
{
    uint32_t x = ((const struct snap *)a)->rec->id, y = ((const struct snap *)b)->rec->id;
    return (x > y) - (x < y);
}

/* Snapshot every record in use into *all (by_id indexes them); the count, or -1 without
 * memory. */
static long snapshot(struct snap **all, struct snap ***by_id, uint32_t *ids)
{
    *ids = weft__dbg_ids();
    size_t cap = 0;
    for (weft__dbg_thread *t = weft__dbg_first(); t; t = t->next) cap++;
    *all = weft__calloc(cap ? cap : 1, sizeof **all);
    *by_id = weft__calloc((size_t)*ids + 1, sizeof **by_id);
    if (*all == NULL || *by_id == NULL) return -1;
    size_t n = 0;
    /* Records linked after cap was counted are at the head, before those counted. */
    for (weft__dbg_thread *t = weft__dbg_first(); t && n < cap; t = t->next) {
        if (t->id > *ids) continue;
        if (atomic_load_explicit(&t->state, memory_order_acquire) == WEFT__DBG_FREE) continue;
        struct snap *s = &(*all)[n];
        take_snap(t, s);
        if (s->ok && LD(&s->copy, state) == WEFT__DBG_FREE) continue;
        n++;
    }
    qsort(*all, n, sizeof **all, by_id_order); /* oldest record first: main is thread 1 */
    for (size_t i = 0; i < n; i++) (*by_id)[(*all)[i].rec->id] = &(*all)[i];
    return (long)n;
}

int weft_debug_dump(int fd)
{
    if (fd < 0) return weft__fail(WEFT_EINVAL, "fd is %d", fd);
    struct snap *all = NULL, **by_id = NULL;
    uint32_t ids, *mark = NULL;
    struct out o = {weft__malloc(4096), 0, 4096, false};
    long n = snapshot(&all, &by_id, &ids);
    if (n >= 0) mark = weft__calloc((size_t)ids + 1, sizeof *mark);
    int rc = 0;
    if (n < 0 || mark == NULL || o.buf == NULL) {
        rc = weft__fail(WEFT_ENOMEM, "no memory for the dump");
        goto out;
    }
    weft_ns now = weft__os_now();
    for (long i = n; i-- > 0;) { /* each lock waiter on its holder's list, in id order */
        struct snap *t = target(by_id, ids, &all[i]);
        if (t == NULL || LD(&all[i].copy, kind) != WEFT__WAIT_LOCK) continue;
        all[i].waiter_next = t->waiters;
        t->waiters = &all[i];
    }
    put(&o, "weft dump: pid %d, %ld threads\n", (int)getpid(), n);
    for (long i = 0; i < n; i++) {
        if (all[i].ok)
            put_thread(&o, &all[i], by_id, ids, now);
        else
            put(&o, "thread %u: changing too fast to read\n", all[i].rec->id);
    }
    put_listing(&o, &pools);
    put_listing(&o, &queues);
    put_cycles(&o, all, (size_t)n, by_id, ids, mark);
    put(&o, "end of weft dump\n");
    if (o.oom)
        rc = weft__fail(WEFT_ENOMEM, "no memory for the dump's text");
    else
        rc = write_all(fd, o.buf, o.len);
out:
    free(o.buf);
    free(all);
    free(by_id);
    free(mark);
    return rc;
}

/* ---- lock-order checking ---- */

_Atomic int weft__lock_hooks;
static _Atomic int order_mode; /* enum weft_lock_order_mode */

#define GRAPH_BUCKETS 4096
#define EDGE_FRAMES   16

struct edge {
    struct edge *hnext, *out_next;
    uintptr_t from, to;
    bool inverted; /* reported, kept out of the graph so that the graph stays acyclic */
    int nframes;
    void *frames[EDGE_FRAMES];
    uint32_t thread_id;
    char thread[WEFT__DBG_NAME_WORDS * 8];
};

struct node {
    struct node *hnext;
    uintptr_t lock;
    struct edge *out;
    uint32_t mark;     /* the DFS that last visited it */
    struct edge *via;  /* the edge that DFS reached it by */
    struct edge *next; /* the DFS's iterator over out */
};

/* graph.lock: a leaf, taken by the hooks while the caller holds only its own weft_locks. */
static struct {
    pthread_mutex_t lock;
    struct edge *edges[GRAPH_BUCKETS];
    struct node *nodes[GRAPH_BUCKETS];
    uint32_t epoch;
} graph = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t hash2(uintptr_t a, uintptr_t b)
{
    uint64_t h = ((uint64_t)a * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)b * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h >> 52) & (GRAPH_BUCKETS - 1);
}

static struct node *node_of(uintptr_t lock, bool make)
{
    struct node **p = &graph.nodes[hash2(lock, 0)];
    while (*p && (*p)->lock != lock) p = &(*p)->hnext;
    if (*p == NULL && make && (*p = weft__calloc(1, sizeof **p)) != NULL) (*p)->lock = lock;
    return *p;
}

static struct edge *edge_of(uintptr_t from, uintptr_t to)
{
    struct edge *e = graph.edges[hash2(from, to)];
    while (e && (e->from != from || e->to != to)) e = e->hnext;
    return e;
}

static void self_name(char *out, uint32_t *id)
{
    weft__dbg_thread *t = weft__dbg_self();
    *id = t ? t->id : 0;
    out[0] = '\0';
    if (t == NULL) return;
    for (int i = 0; i < WEFT__DBG_NAME_WORDS; i++) {
        uint64_t w = atomic_load_explicit(&t->name[i], memory_order_relaxed);
        memcpy(out + 8 * i, &w, 8);
    }
    out[WEFT__DBG_NAME_WORDS * 8 - 1] = '\0';
}

/* A path from -> ... -> to in the graph (graph.lock held): the node of `to` with its via
 * chain, or NULL. Iterative DFS, marking nodes with a new epoch. */
static struct node *path(uintptr_t from, uintptr_t to)
{
    struct node *start = node_of(from, false);
    if (start == NULL) return NULL;
    uint32_t epoch = ++graph.epoch;
    start->mark = epoch;
    start->via = NULL;
    start->next = start->out;
    struct node *cur = start;
    while (cur) {
        struct edge *e = cur->next;
        if (e == NULL) { /* done with cur: back to the node it was reached from */
            cur = cur->via ? node_of(cur->via->from, false) : NULL;
            continue;
        }
        cur->next = e->out_next;
        struct node *n = node_of(e->to, false);
        if (n == NULL || n->mark == epoch) continue;
        n->mark = epoch;
        n->via = e;
        n->next = n->out;
        if (n->lock == to) return n;
        cur = n;
    }
    return NULL;
}

static void put_frames(struct out *o, void *const *frames, int n)
{
    for (int i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) && info.dli_sname)
            put(o, "      #%d %p %s+%#lx\n", i, frames[i], info.dli_sname,
                (unsigned long)((char *)frames[i] - (char *)info.dli_saddr));
        else
            put(o, "      #%d %p\n", i, frames[i]);
    }
}

/* Report that taking `lock` while holding `held` closes the cycle lock -> ... -> held (the
 * chain ends at `end`); graph.lock held. */
static void report(uintptr_t held, uintptr_t lock, struct node *end, void *const *frames,
                   int nframes)
{
    struct out o = {weft__malloc(4096), 0, 4096, false};
    if (o.buf == NULL) return;
    char me[WEFT__DBG_NAME_WORDS * 8];
    uint32_t id;
    self_name(me, &id);
    put(&o, "weft: lock-order inversion (possible deadlock) in thread %u '%s'\n", id, me);
    put(&o, "  acquiring ");
    put_object(&o, WEFT__WAIT_LOCK, lock);
    put(&o, " while holding ");
    put_object(&o, WEFT__WAIT_LOCK, held);
    put(&o, ",\n  but the opposite order was seen before:\n");
    struct edge *chain[64];
    int n = 0;
    for (struct node *x = end; x && x->via && n < 64; x = node_of(x->via->from, false))
        chain[n++] = x->via;
    while (n-- > 0) {
        struct edge *e = chain[n];
        put(&o, "    ");
        put_object(&o, WEFT__WAIT_LOCK, e->from);
        put(&o, " then ");
        put_object(&o, WEFT__WAIT_LOCK, e->to);
        put(&o, ", first by thread %u '%s', at:\n", e->thread_id, e->thread);
        put_frames(&o, e->frames, e->nframes);
    }
    put(&o, "  this acquisition, at:\n");
    put_frames(&o, frames, nframes);
    put(&o, "end of weft lock-order report\n");
    if (!o.oom && write_all(2, o.buf, o.len) != 0) { /* stderr is gone: nothing to do */
    }
    free(o.buf);
}

/* Record the edge held -> lock (graph.lock held); true if it is an inversion. */
static bool add_edge(uintptr_t held, uintptr_t lock, void *const *frames, int nframes)
{
    if (edge_of(held, lock)) return false;
    struct edge *e = weft__calloc(1, sizeof *e);
    struct node *from = node_of(held, true);
    if (e == NULL || from == NULL || node_of(lock, true) == NULL) {
        free(e);
        return false;
    }
    e->from = held;
    e->to = lock;
    e->nframes = nframes;
    memcpy(e->frames, frames, (size_t)nframes * sizeof *frames);
    self_name(e->thread, &e->thread_id);
    struct node *end = path(lock, held);
    e->inverted = end != NULL;
    if (e->inverted) report(held, lock, end, frames, nframes);
    size_t h = hash2(held, lock);
    e->hnext = graph.edges[h];
    graph.edges[h] = e;
    if (!e->inverted) {
        e->out_next = from->out;
        from->out = e;
    }
    return e->inverted;
}

/* Whether t's thread has seen held -> lock in the graph already. */
static bool cached(weft__dbg_thread *t, uintptr_t held, uintptr_t lock, bool store)
{
    /* Two ways per set, the newer first: two pairs that hash alike (a loop over two lock
     * pairs) both stay, so a steady state takes no graph lock. */
    size_t i = (hash2(held, lock) & (WEFT__DBG_EDGE_CACHE / 2 - 1)) * 2;
    if (t->edge_cache[i].from == held && t->edge_cache[i].to == lock) return true;
    if (t->edge_cache[i + 1].from == held && t->edge_cache[i + 1].to == lock) return true;
    if (store) {
        t->edge_cache[i + 1] = t->edge_cache[i];
        t->edge_cache[i].from = held;
        t->edge_cache[i].to = lock;
    }
    return false;
}

static void check_edges(weft__dbg_thread *t, uint32_t n, uintptr_t lock)
{
    bool inverted = false, locked = false;
    void *frames[EDGE_FRAMES + 1];
    int nframes = 0;
    for (uint32_t i = 0; i < n && i < WEFT__DBG_HELD; i++) {
        uintptr_t held = atomic_load_explicit(&t->held[i], memory_order_relaxed);
        if (held == 0 || held == lock || cached(t, held, lock, false)) continue; /* 0: lost */
        if (!locked) {
            nframes = weft__os_backtrace(frames, EDGE_FRAMES + 1) - 1; /* without this function */
            pthread_mutex_lock(&graph.lock);
            locked = true;
        }
        inverted |= add_edge(held, lock, frames + 1, nframes > 0 ? nframes : 0);
        cached(t, held, lock, true);
    }
    t->last_from = atomic_load_explicit(&t->held[0], memory_order_relaxed);
    t->last_to = lock;
    if (locked) pthread_mutex_unlock(&graph.lock);
    if (inverted && atomic_load(&order_mode) == WEFT_LOCK_ORDER_ABORT) abort();
}

/* order_acquired past its fast path: a thread without a record yet, or an edge to check. */
__attribute__((noinline)) static void order_acquired_slow(const void *lock, bool tried)
{
    weft__dbg_thread *t = weft__dbg_self_fast();
    if (t == NULL) return;
    /* relaxed: only this thread writes its stack; the dump reads it as a hint. */
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    /* One lock held and the same pair as last time (a loop taking a, b, a, b...): known. */
    bool known = n == 1 && t->last_to == (uintptr_t)lock &&
                 t->last_from == atomic_load_explicit(&t->held[0], memory_order_relaxed);
    if (!tried && n > 0 && !known) check_edges(t, n, (uintptr_t)lock);
    if (n < WEFT__DBG_HELD)
        atomic_store_explicit(&t->held[n], (uintptr_t)lock, memory_order_relaxed);
    atomic_store_explicit(&t->nheld, n + 1, memory_order_relaxed);
}

/* The fast path calls nothing but a tail call, so that it saves no registers: this is what
 * an uncontended lock pays while checking is on. Nothing held (or a try): push, no edge. One
 * lock held and the same pair as the last checked (a loop nesting a, b): known, push. */
static inline void order_acquired(const void *lock, bool tried)
{
    weft__dbg_thread *t = weft__dbg_tls;
    /* relaxed: only this thread writes its stack; the dump reads it as a hint. */
    uint32_t n;
    if ((uintptr_t)t <= (uintptr_t)WEFT__DBG_GONE ||
        ((n = atomic_load_explicit(&t->nheld, memory_order_relaxed)) > 0 && !tried &&
         (n != 1 || t->last_to != (uintptr_t)lock ||
          t->last_from != atomic_load_explicit(&t->held[0], memory_order_relaxed))) ||
        n >= WEFT__DBG_HELD) {
        order_acquired_slow(lock, tried);
        return;
    }
    atomic_store_explicit(&t->held[n], (uintptr_t)lock, memory_order_relaxed);
    atomic_store_explicit(&t->nheld, n + 1, memory_order_relaxed);
}

/* Close the gap slot i leaves in the stack t->held[0 .. top): a release out of order. */
static void remove_held(weft__dbg_thread *t, uint32_t i, uint32_t top)
{
    for (uint32_t j = i; j + 1 < top; j++)
        atomic_store_explicit(&t->held[j],
                              atomic_load_explicit(&t->held[j + 1], memory_order_relaxed),
                              memory_order_relaxed);
}

/* order_released past its fast path: no record, or not the top of the stack. */
__attribute__((noinline)) static void order_released_slow(const void *lock)
{
    weft__dbg_thread *t = weft__dbg_self_fast();
    if (t == NULL) return;
    uint32_t n = atomic_load_explicit(&t->nheld, memory_order_relaxed);
    uint32_t top = n < WEFT__DBG_HELD ? n : WEFT__DBG_HELD;
    if (top > 0 && top == n &&
        atomic_load_explicit(&t->held[top - 1], memory_order_relaxed) == (uintptr_t)lock) {
        atomic_store_explicit(&t->nheld, n - 1, memory_order_relaxed); /* the usual: the top */
        return;
    }
    /* Past the stack (n > WEFT__DBG_HELD) the locks held are not all recorded, and a slot
     * holding 0 stands for one of them: a lock held whose identity the stack lost. */
    for (uint32_t i = top; i-- > 0;) {
        if (atomic_load_explicit(&t->held[i], memory_order_relaxed) != (uintptr_t)lock) continue;
        remove_held(t, i, top);
        /* The lock that moves down into the top slot is one that was never recorded. */
        if (n > WEFT__DBG_HELD) atomic_store_explicit(&t->held[top - 1], 0, memory_order_relaxed);
        atomic_store_explicit(&t->nheld, n - 1, memory_order_relaxed);
        return;
    }
    /* Not on the stack: a lock past it, or one whose slot was lost (0), or a lock taken
     * before checking was on (nothing to do). */
    if (n > WEFT__DBG_HELD) {
        atomic_store_explicit(&t->nheld, n - 1, memory_order_relaxed);
        return;
    }
    for (uint32_t i = top; i-- > 0;)
        if (atomic_load_explicit(&t->held[i], memory_order_relaxed) == 0) {
            remove_held(t, i, top);
            atomic_store_explicit(&t->nheld, n - 1, memory_order_relaxed);
            return;
        }
}

/* The usual release: the top of the stack (as order_acquired, no registers saved). */
static inline void order_released(const void *lock)
{
    weft__dbg_thread *t = weft__dbg_tls;
    uint32_t n;
    if ((uintptr_t)t > (uintptr_t)WEFT__DBG_GONE &&
        (n = atomic_load_explicit(&t->nheld, memory_order_relaxed)) > 0 && n <= WEFT__DBG_HELD &&
        atomic_load_explicit(&t->held[n - 1], memory_order_relaxed) == (uintptr_t)lock) {
        atomic_store_explicit(&t->nheld, n - 1, memory_order_relaxed);
        return;
    }
    order_released_slow(lock);
}

int weft_debug_lock_order(int mode)
{
    if (mode < WEFT_LOCK_ORDER_OFF || mode > WEFT_LOCK_ORDER_ABORT)
        return weft__fail(WEFT_EINVAL, "mode is %d: not a weft_lock_order_mode", mode);
    pthread_mutex_lock(&graph.lock); /* one switch at a time: mode and hook bit agree */
    int old = atomic_exchange(&order_mode, mode);
    if (mode)
        atomic_fetch_or(&weft__lock_hooks, WEFT__HOOK_ORDER);
    else
        atomic_fetch_and(&weft__lock_hooks, ~WEFT__HOOK_ORDER);
    pthread_mutex_unlock(&graph.lock);
    return old;
}

__attribute__((noinline, cold)) static void tsan_acquired(const void *lock, bool tried, int h)
{
    weft__hb_acquire(lock); /* the release's, core/annotate.h */
    if (h & WEFT__HOOK_ORDER) order_acquired(lock, tried);
}

__attribute__((noinline, cold)) static void tsan_released(const void *lock, int h)
{
    if (h & WEFT__HOOK_ORDER) order_released(lock);
    weft__hb_release(lock);
}

void weft__lock_hook_acquired(const void *lock, bool tried)
{
    int h = atomic_load_explicit(&weft__lock_hooks, memory_order_relaxed);
    if (h & WEFT__HOOK_TSAN)
        tsan_acquired(lock, tried, h);
    else if (h & WEFT__HOOK_ORDER)
        order_acquired(lock, tried);
}

void weft__lock_hook_released(const void *lock)
{
    int h = atomic_load_explicit(&weft__lock_hooks, memory_order_relaxed);
    if (h & WEFT__HOOK_TSAN)
        tsan_released(lock, h);
    else if (h & WEFT__HOOK_ORDER)
        order_released(lock);
}

/* Before main: the TSan runtime present (core/annotate.h's weak hooks resolved), or valgrind
 * running the process, turns the lock's happens-before annotations on; WEFT_LOCK_ORDER=report|
 * abort turns the checker on. */
__attribute__((constructor)) static void lock_hooks_at_start(void)
{
    if ((__tsan_acquire && __tsan_release) || weft__vg_detect())
        atomic_fetch_or(&weft__lock_hooks, WEFT__HOOK_TSAN);
    const char *e = getenv("WEFT_LOCK_ORDER");
    if (e && strcmp(e, "report") == 0) weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT);
    if (e && strcmp(e, "abort") == 0) weft_debug_lock_order(WEFT_LOCK_ORDER_ABORT);
}

#undef LD

/* ---- the dump on a signal ---- */

static struct {
    pthread_mutex_t lock;
    int signo;        /* the dump signal, 0 for none */
    bool running;     /* the service thread exists */
    pthread_t thread; /* while running */
} dbg = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The handler's eventfd: read by the handler, so an atomic (a plain int could tear nothing,
 * but the handler must see the child's new one after a fork). */
static _Atomic int efd = -1;

static void on_signal(int signo)
{
    (void)signo;
    int e = errno;
    uint64_t one = 1;
    /* relaxed: the eventfd was published before the handler was installed (sigaction). */
    int fd = atomic_load_explicit(&efd, memory_order_relaxed);
    if (fd >= 0 && write(fd, &one, sizeof one) < 0) { /* full: a dump is pending anyway */
    }
    errno = e;
}

static void *service(void *unused)
{
    (void)unused;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL); /* but in read */
    for (;;) {
        uint64_t v;
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        ssize_t r = read(atomic_load(&efd), &v, sizeof v);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (r == (ssize_t)sizeof v) (void)weft_debug_dump(2);
    }
    return NULL;
}

/* Start the service thread (dbg.lock held); 0 or an errno. It blocks every signal, so that
 * the dump signal interrupts the program's threads, not it. */
static int start_service(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&dbg.thread, NULL, service, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    dbg.running = e == 0;
    return e;
}

static int catchable(int s)
{
    return s > 0 && s < NSIG && s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS &&
           s != SIGILL && s != SIGFPE;
}

static int install(int signo)
{
    if (atomic_load(&efd) < 0) {
        int fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0) return weft__fail(WEFT_EAGAIN, "eventfd failed: %s", strerror(errno));
        atomic_store(&efd, fd);
    }
    if (!dbg.running) {
        int e = start_service();
        if (e) return weft__fail(WEFT_EAGAIN, "pthread_create failed: %s", strerror(e));
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0)
        return weft__fail(WEFT_EINVAL, "sigaction(%d) failed: %s", signo, strerror(errno));
    dbg.signo = signo;
    return 0;
}

int weft_debug_dump_on_signal(int signo)
{
    if (!catchable(signo))
        return weft__fail(WEFT_EINVAL, "signo is %d: not a signal weft can use", signo);
    weft__fork_register();
    weft__exit_register();
    pthread_mutex_lock(&dbg.lock);
    int rc = 0;
    if (dbg.signo == signo && dbg.running)
        rc = 0;
    else if (dbg.signo != 0 && dbg.signo != signo)
        rc = weft__fail(WEFT_EBUSY, "signal %d already triggers the dump", dbg.signo);
    else if (weft__signals_catching(signo))
        rc = weft__fail(WEFT_EBUSY, "signal %d is received by weft_signals_catch", signo);
    else
        rc = install(signo);
    pthread_mutex_unlock(&dbg.lock);
    return rc;
}

/* fork(): graph.lock is a leaf (nothing is taken under it), so taking it here, first, cannot
 * deadlock with its holders; it keeps the graph whole in the child. */
void weft__debug_fork_prepare(void)
{
    pthread_mutex_lock(&dbg.lock);
    pthread_mutex_lock(&graph.lock);
}

void weft__debug_fork_parent(void)
{
    pthread_mutex_unlock(&graph.lock);
    pthread_mutex_unlock(&dbg.lock);
}

/* The child has no service thread, and shares the parent's eventfd: it gets both anew, so
 * that a signal to the child dumps the child. A weft child process (one function, then
 * _exit) gets none. */
void weft__debug_fork_child(void)
{
    if (dbg.running) {
        dbg.running = false;
        int old = atomic_load(&efd);
        atomic_store(&efd, weft__fork_for_process ? -1 : eventfd(0, EFD_CLOEXEC));
        close(old);
        if (!weft__fork_for_process && atomic_load(&efd) >= 0) (void)start_service();
    }
    pthread_mutex_unlock(&graph.lock);
    pthread_mutex_unlock(&dbg.lock);
}

void weft__debug_at_exit(void)
{
    pthread_mutex_lock(&dbg.lock);
    if (dbg.running && !pthread_equal(dbg.thread, pthread_self())) {
        pthread_cancel(dbg.thread);
        pthread_join(dbg.thread, NULL);
        dbg.running = false;
    }
    pthread_mutex_unlock(&dbg.lock);
}
