/* tests/fuzz/fault_sweep_more.c - the sweep's scenarios for groups, timers, threads,
 * processes, the inter-process queue, the debug registry and thread-locals. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault_sweep.h"

#define NG 8
static atomic_int group_runs[NG];

static int group_task(void *arg)
{
    atomic_fetch_add(&group_runs[(intptr_t)arg], 1);
    return 0;
}

/* Spawned tasks run once, refused ones never; the group's result is success. */
static int one_group(const weft_group_opts *o)
{
    weft_group *g;
    int rc = weft_group_new(&g, o);
    SW_RC("weft_group_new", rc, 0, WEFT_ENOMEM);
    if (rc) return 0;
    bool accepted[NG];
    for (int i = 0; i < NG; i++) {
        atomic_store(&group_runs[i], 0);
        rc = weft_group_spawn(g, group_task, (void *)(intptr_t)i, i % 2 ? "swept" : NULL);
        SW_RC("weft_group_spawn", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        accepted[i] = rc == 0;
    }
    SW_RC("weft_group_wait", weft_group_wait(g, WEFT_FOREVER), 0);
    SW_RC("weft_group_free", weft_group_free(g), 0);
    for (int i = 0; i < NG; i++)
        SW_EQ("runs of a group task", atomic_load(&group_runs[i]), accepted[i]);
    return 0;
}

int sweep_group(void)
{
    weft_group_opts threads = {.threads = 1};
    return one_group(NULL) || one_group(&threads);
}

static atomic_int timer_runs[4];

static void tick(void *arg)
{
    atomic_fetch_add(&timer_runs[(intptr_t)arg], 1);
}

/* A started one-shot timer fires once (or is cancelled), a refused one never. */
int sweep_timer(void)
{
    weft_timer *t[4] = {NULL};
    for (intptr_t i = 0; i < 4; i++) {
        atomic_store(&timer_runs[i], 0);
        int rc =
            weft_timer_start(&t[i], i == 3 ? WEFT_SEC(3600) : WEFT_MS(i), tick, (void *)i, NULL);
        SW_RC("weft_timer_start", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        if (rc) t[i] = NULL;
    }
    for (int i = 0; i < 4; i++) {
        if (t[i] == NULL) {
            SW_EQ("runs of a timer refused", atomic_load(&timer_runs[i]), 0);
            continue;
        }
        if (i == 3) SW_RC("weft_timer_cancel", weft_timer_cancel(t[i]), 0);
        SW_RC("weft_timer_wait", weft_timer_wait(t[i], WEFT_FOREVER), 0);
        SW_EQ("runs of a timer", atomic_load(&timer_runs[i]), weft_timer_fired(t[i]));
        SW_EQ("a timer that was not cancelled fired", weft_timer_fired(t[i]), i != 3);
        weft_timer_free(t[i]);
    }
    return 0;
}

static atomic_int thread_runs[4];

static int thread_fn(void *arg)
{
    atomic_fetch_add(&thread_runs[(intptr_t)arg], 1);
    return (int)(intptr_t)arg;
}

/* A started thread runs once and its status comes back; a refused one never runs. */
int sweep_thread(void)
{
    weft_thread t[4];
    bool started[4];
    for (intptr_t i = 0; i < 4; i++) {
        atomic_store(&thread_runs[i], 0);
        weft_thread_opts o = {.name = i % 2 ? "swept" : NULL};
        int rc = weft_thread_start(&t[i], thread_fn, (void *)i, &o);
        SW_RC("weft_thread_start", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        started[i] = rc == 0;
    }
    for (int i = 0; i < 4; i++) {
        if (started[i]) {
            int status = -1;
            SW_RC("weft_thread_join", weft_thread_join(t[i], &status, WEFT_FOREVER), 0);
            SW_EQ("a thread's status", status, i);
        }
        SW_EQ("runs of a thread", atomic_load(&thread_runs[i]), started[i]);
    }
    return 0;
}

static int child(const void *arg, size_t size)
{
    (void)weft_process_set_result(arg, size);
    return 7;
}

/* A started child runs, exits 7 and hands its result back; a refused one does not exist. */
int sweep_process(void)
{
    weft_process *p;
    weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
    o.name = "swept";
    int rc = weft_process_start(&p, child, "hello", 6, &o);
    SW_RC("weft_process_start", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
    if (rc) return 0;
    int status = -1;
    SW_RC("weft_process_join", weft_process_join(p, &status, WEFT_FOREVER), 0);
    SW_EQ("the child's exit status", status, 7);
    char buf[16];
    size_t len = 0;
    rc = weft_process_result(p, buf, sizeof buf, &len);
    SW_RC("weft_process_result", rc, 0, WEFT_ENOMEM);
    if (rc == 0 && (len != 6 || memcmp(buf, "hello", 6) != 0))
        return sweep_failed(__FILE__, __LINE__, "the child's result", rc);
    SW_RC("weft_process_free", weft_process_free(p), 0);
    return 0;
}

static int square(const void *arg, size_t size)
{
    int x;
    if (size != sizeof x) return 1;
    memcpy(&x, arg, sizeof x);
    x *= x;
    return weft_process_set_result(&x, sizeof x);
}

/* Tasks on a pool of two worker processes: each accepted one gives its square back (or fails
 * as documented); a refused one has no future. */
int sweep_procpool(void)
{
    weft_procpool *p;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 2;
    o.name = "swept";
    int rc = weft_procpool_new(&p, &o);
    SW_RC("weft_procpool_new", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
    if (rc) return 0;
    weft_future *f[6] = {NULL};
    for (int i = 0; i < 6; i++) {
        rc = weft_procpool_submit(p, &f[i], square, &i, sizeof i, NULL);
        SW_RC("weft_procpool_submit", rc, 0, WEFT_ENOMEM);
        if (rc) f[i] = NULL;
    }
    for (int i = 0; i < 6; i++) {
        if (f[i] == NULL) continue;
        const void *data;
        size_t len;
        rc = weft_future_bytes(f[i], &data, &len, WEFT_FOREVER);
        SW_RC("a procpool task's result", rc, 0, WEFT_ENOMEM);
        if (rc == 0) SW_EQ("a square", len == sizeof(int) ? *(const int *)data : -1, i * i);
        weft_future_unref(f[i]);
    }
    SW_RC("weft_procpool_free", weft_procpool_free(p), 0);
    return 0;
}

/* Messages through an inter-process queue in this process: each put one comes out once. */
int sweep_ipcq(void)
{
    weft_ipcq *q;
    weft_ipcq_opts o = {.capacity = 8, .max_msg = 64};
    int rc = weft_ipcq_new(&q, &o);
    SW_RC("weft_ipcq_new", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
    if (rc) return 0;
    for (int i = 0; i < 20; i++) {
        SW_RC("weft_ipcq_put", weft_ipcq_put(q, &i, sizeof i, 0), 0);
        int got = -1;
        size_t len;
        SW_RC("weft_ipcq_get", weft_ipcq_get(q, &got, sizeof got, &len, 0), 0);
        SW_EQ("the message got", got, i);
    }
    SW_RC("weft_ipcq_close", weft_ipcq_close(q), 0);
    SW_RC("weft_ipcq_free", weft_ipcq_free(q), 0);
    return 0;
}

/* Names in the debug registry, and a dump of every thread's waits. */
int sweep_debug(void)
{
    static int objs[4];
    for (int i = 0; i < 4; i++)
        SW_RC("weft_debug_name", weft_debug_name(&objs[i], "swept object"), 0, WEFT_ENOMEM);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return sweep_failed(__FILE__, __LINE__, "open /dev/null", -1);
    int rc = weft_debug_dump(fd);
    close(fd);
    SW_RC("weft_debug_dump", rc, 0, WEFT_ENOMEM);
    for (int i = 0; i < 4; i++)
        SW_RC("weft_debug_name(NULL name)", weft_debug_name(&objs[i], NULL), 0, WEFT_ENOMEM);
    return 0;
}

static atomic_int destroyed;

static void destroy(void *value)
{
    (void)value;
    atomic_fetch_add(&destroyed, 1);
}

static weft_local key = WEFT_LOCAL_INIT(destroy);

static int local_thread(void *arg)
{
    int rc = weft_local_set(&key, arg);
    if (rc == 0 && weft_local_get(&key) != arg) return 99;
    return rc == 0 ? 1 : rc == WEFT_ENOMEM ? 2 : rc;
}

/* A value set in a thread is destroyed once when the thread ends; a refused set stores
 * nothing. */
int sweep_local(void)
{
    atomic_store(&destroyed, 0);
    int kept = 0;
    for (int i = 0; i < 3; i++) {
        weft_thread t;
        int rc = weft_thread_start(&t, local_thread, &destroyed, NULL);
        SW_RC("weft_thread_start", rc, 0, WEFT_ENOMEM, WEFT_EAGAIN);
        if (rc) continue;
        int status = 0;
        SW_RC("weft_thread_join", weft_thread_join(t, &status, WEFT_FOREVER), 0);
        SW_RC("weft_local_set in a thread", status, 1, 2);
        kept += status == 1;
    }
    SW_EQ("values destroyed at thread exit", atomic_load(&destroyed), kept);
    SW_RC("weft_local_free", weft_local_free(&key), 0);
    return 0;
}
