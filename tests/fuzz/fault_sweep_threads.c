/* tests/fuzz/fault_sweep_threads.c - the sweep's scenarios for the queue, the scope tree,
 * futures and the pool: each accounts for every item and task it hands over. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_sweep.h"

#define NITEMS 200

static int rev(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (int)((uintptr_t)b - (uintptr_t)a);
}

struct tally {
    unsigned char seen[NITEMS + 1];
};

static void handed(void *item, void *arg)
{
    ((struct tally *)arg)->seen[(uintptr_t)item]++;
}

/* One queue of each kind: every item ends up got once, handed back once by the shutdown, or
 * kept by its producer after a put that failed with WEFT_ENOMEM. */
static int one_queue(const weft_queue_opts *o, weft_queue *other)
{
    weft_queue *q;
    int rc = weft_queue_new(&q, o);
    SW_RC("weft_queue_new", rc, 0, WEFT_ENOMEM);
    if (rc) return 0;
    struct tally t = {{0}};
    void *got[8];
    size_t n;
    for (uintptr_t i = 1; i <= NITEMS; i++) {
        rc = weft_queue_put(q, (void *)i, 0);
        SW_RC("weft_queue_put", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        if (rc) t.seen[i]++; /* the producer keeps it */
        if (i % 3 == 0 && weft_queue_get_many(q, got, 8, &n, 0) == 0)
            for (size_t k = 0; k < n; k++) t.seen[(uintptr_t)got[k]]++;
        if (i % 7 == 0) {
            weft_queue_case cs[2] = {{q, WEFT_QUEUE_GET, NULL}, {other, WEFT_QUEUE_GET, NULL}};
            size_t fired;
            rc = weft_queue_select(cs, 2, &fired, 0);
            SW_RC("weft_queue_select", rc, 0, WEFT_EAGAIN);
            if (rc == 0) SW_EQ("the case select fired", fired, 0);
            if (rc == 0) t.seen[(uintptr_t)cs[0].item]++;
        }
    }
    SW_RC("weft_queue_shutdown", weft_queue_shutdown(q, handed, &t, NULL), 0);
    SW_RC("weft_queue_free", weft_queue_free(q), 0);
    for (int i = 1; i <= NITEMS; i++) SW_EQ("times an item was accounted for", t.seen[i], 1);
    return 0;
}

int sweep_queue(void)
{
    weft_queue *empty;
    if (weft_queue_new(&empty, NULL) != 0) return 0; /* the 1st point: nothing to check */
    const weft_queue_opts opts[] = {{0, WEFT_QUEUE_FIFO, NULL, NULL, {0}},
                                    {16, WEFT_QUEUE_LIFO, NULL, NULL, {0}},
                                    {0, WEFT_QUEUE_PRIORITY, rev, NULL, {0}},
                                    {0, WEFT_QUEUE_LIFO, NULL, NULL, {0}}};
    int bad = 0;
    for (size_t i = 0; i < sizeof opts / sizeof *opts && !bad; i++)
        bad = one_queue(&opts[i], empty);
    SW_RC("weft_queue_free", weft_queue_free(empty), 0);
    return bad;
}

/* A chain of scopes, entered, cancelled in the middle: every failure is a WEFT_ENOMEM from
 * weft_scope_new and leaves the tree as it was. */
int sweep_scope(void)
{
    weft_scope *s[6] = {NULL};
    int made = 0, rc;
    for (; made < 6; made++) {
        weft_scope_opts o = {.timeout = made % 2 ? WEFT_SEC(3600) : 0};
        rc = weft_scope_new(&s[made], made ? s[made - 1] : NULL, &o);
        SW_RC("weft_scope_new", rc, 0, WEFT_ENOMEM);
        if (rc) break;
        SW_RC("weft_scope_enter", weft_scope_enter(s[made]), 0);
    }
    if (made > 2) SW_RC("weft_scope_cancel", weft_scope_cancel(s[2], WEFT_ECANCELED, "stop"), 0);
    SW_RC("weft_checkpoint", weft_checkpoint(), made > 2 ? WEFT_ECANCELED : 0);
    for (int i = made; i-- > 0;) {
        SW_RC("weft_scope_exit", weft_scope_exit(), 0);
        weft_scope_free(s[i]);
    }
    return 0;
}

static void count_cb(weft_future *f, void *arg)
{
    (void)f;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Futures the program completes: each callback added runs once, or its add failed; a result
 * set is read back, a failed set leaves the future pending. */
int sweep_future(void)
{
    weft_future *f[4];
    int n = 0, rc, added = 0;
    atomic_int ran = 0;
    for (; n < 4; n++) {
        rc = weft_future_new(&f[n], &(weft_future_opts){.name = "swept"});
        SW_RC("weft_future_new", rc, 0, WEFT_ENOMEM);
        if (rc) break;
        rc = weft_future_add_done_callback(f[n], count_cb, &ran);
        SW_RC("weft_future_add_done_callback", rc, 0, WEFT_ENOMEM);
        added += rc == 0;
    }
    size_t idx;
    if (n > 0)
        SW_RC("weft_wait", weft_wait(f, (size_t)n, WEFT_FIRST_COMPLETED, &idx, 0), WEFT_EAGAIN,
              WEFT_ENOMEM);
    for (int i = 0; i < n; i++) {
        static const char data[] = "bytes";
        rc = i % 2 ? weft_future_set_bytes(f[i], data, sizeof data)
                   : weft_future_set_failure(f[i], WEFT_EFAILED, "swept failure");
        SW_RC("weft_future_set_bytes/failure", rc, 0, WEFT_ENOMEM);
        if (rc) SW_RC("weft_future_set_result", weft_future_set_result(f[i], NULL, NULL), 0);
    }
    SW_EQ("callbacks run", atomic_load(&ran), added);
    weft_as_completed *it;
    rc = n ? weft_as_completed_new(&it, f, (size_t)n) : WEFT_ENOMEM;
    SW_RC("weft_as_completed_new", rc, 0, WEFT_ENOMEM);
    if (rc == 0) {
        weft_future *done;
        int yielded = 0;
        while ((rc = weft_as_completed_next(it, &done, 0)) == 0) yielded++;
        SW_RC("weft_as_completed_next", rc, WEFT_ECLOSED);
        SW_EQ("futures as_completed yielded", yielded, n);
        weft_as_completed_free(it);
    }
    for (int i = 0; i < n; i++) {
        (void)weft_future_result(f[i], NULL, 0); /* a failure seen is not reported */
        weft_future_unref(f[i]);
    }
    return 0;
}

#define NTASKS 40
#define NMAP   16
static atomic_int task_runs[NTASKS], map_runs[NMAP];

static int task(void *arg, void **result)
{
    atomic_fetch_add(&task_runs[(intptr_t)arg], 1);
    *result = arg;
    return 0;
}

static int map_task(void *arg, void **result)
{
    atomic_fetch_add(&map_runs[(intptr_t)arg], 1);
    *result = arg;
    return 0;
}

static void body(int64_t lo, int64_t hi, void *arg)
{
    atomic_fetch_add((atomic_long *)arg, hi - lo);
}

/* map and imap: all items run once and come back, or the call failed as documented and no
 * item ran twice. */
static int pool_maps(weft_pool *p)
{
    void *args[NMAP], *res[NMAP];
    for (int i = 0; i < NMAP; i++) args[i] = (void *)(intptr_t)i, atomic_store(&map_runs[i], 0);
    int rc = weft_pool_map(p, map_task, args, res, NMAP, 2, WEFT_FOREVER);
    SW_RC("weft_pool_map", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
    for (int i = 0; i < NMAP; i++) {
        if (rc == 0) SW_EQ("runs of a map item", atomic_load(&map_runs[i]), 1);
        if (rc == 0) SW_EQ("a map result", (intptr_t)res[i], i);
        if (atomic_load(&map_runs[i]) > 1)
            SW_EQ("runs of a map item", atomic_load(&map_runs[i]), 1);
    }
    atomic_long sum = 0;
    rc = weft_parallel_for(p, 0, 1000, 10, body, &sum);
    SW_RC("weft_parallel_for", rc, 0, WEFT_ENOMEM);
    if (rc == 0) SW_EQ("the range parallel_for covered", atomic_load(&sum), 1000);
    weft_imap *it;
    weft_imap_opts o = {.buffersize = 2};
    rc = weft_pool_imap(&it, p, map_task, args, 8, &o, WEFT_FOREVER);
    SW_RC("weft_pool_imap", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
    if (rc) return 0;
    void *r;
    intptr_t next = 0;
    while ((rc = weft_imap_next(it, &r, WEFT_FOREVER)) == 0)
        SW_EQ("imap's order", (intptr_t)r, next++);
    SW_RC("weft_imap_next", rc, WEFT_ECLOSED, WEFT_ENOMEM, WEFT_EAGAIN);
    if (rc == WEFT_ECLOSED) SW_EQ("items imap yielded", next, 8);
    weft_imap_free(it);
    return 0;
}

/* Submitted tasks run exactly once, refused ones never. A task that could not get its own
 * scope (task_scopes) fails with WEFT_ENOMEM without running: its future says so, or for a
 * fire-and-forget task the pool error hook reports it. */
static int forgotten_unrun;

static int pool_work(weft_pool *p)
{
    weft_future *f[NTASKS];
    bool accepted[NTASKS];
    for (int i = 0; i < NTASKS; i++) {
        atomic_store(&task_runs[i], 0);
        int rc = weft_pool_submit(p, task, (void *)(intptr_t)i, i % 4 ? &f[i] : NULL, WEFT_FOREVER);
        SW_RC("weft_pool_submit", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        accepted[i] = rc == 0;
        if (rc || i % 4 == 0) f[i] = NULL;
    }
    if (pool_maps(p)) return 1;
    SW_RC("weft_pool_wait_idle", weft_pool_wait_idle(p, WEFT_FOREVER), 0);
    forgotten_unrun = 0;
    for (int i = 0; i < NTASKS; i++) {
        int rc = 0;
        if (f[i]) {
            rc = weft_future_result(f[i], NULL, WEFT_FOREVER);
            SW_RC("weft_future_result", rc, 0, WEFT_ENOMEM);
            weft_future_unref(f[i]);
        }
        if (accepted[i] && i % 4 == 0 && atomic_load(&task_runs[i]) == 0) {
            forgotten_unrun++; /* the hook's business: counted after the pool ends */
            continue;
        }
        SW_EQ("runs of a task", atomic_load(&task_runs[i]), accepted[i] && rc == 0);
    }
    return 0;
}

int sweep_pool(void)
{
    weft_pool *p;
    weft_pool_opts o = {.max_workers = 2, .task_scopes = 1, .name_prefix = "sweep"};
    int rc = weft_pool_new(&p, &o);
    SW_RC("weft_pool_new", rc, 0, WEFT_ENOMEM);
    if (rc) return 0;
    int reports = atomic_load(&sweep_enomem_reports);
    int bad = pool_work(p);
    SW_RC("weft_pool_shutdown", weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
    if (!bad)
        SW_EQ("unrun fire-and-forget tasks reported", atomic_load(&sweep_enomem_reports) - reports,
              forgotten_unrun);
    return bad;
}
