/* tests/support/timed_calls.c - see timed_calls.h. */
#include "timed_calls.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

struct timed_state {
    weft_lock lock;
    weft_rlock rlock;
    weft_cond cond;
    weft_sem sem;
    weft_event gate, held;
    weft_barrier barrier;
    weft_latch latch;
    weft_queue *q[2];
    weft_future *f;
    weft_as_completed *it;
    weft_thread thread;
    weft_group *group;
    weft_timer *timer;
    weft_ipcq *ipcq;
    weft_process *proc;
};

static int new_state(struct timed_state **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : WEFT_ENOMEM;
}

static int plain_teardown(struct timed_state *s)
{
    free(s);
    return 0;
}

/* ---- locks and the sync primitives ---- */

static int lock_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_lock_acquire(&(*out)->lock, 0); /* held: a Lock has no owner */
}

static int lock_call(struct timed_state *s, weft_ns t)
{
    return weft_lock_acquire(&s->lock, t);
}

/* An RLock owned by another thread until teardown opens the gate. */
static int rlock_holder(void *arg)
{
    struct timed_state *s = arg;
    int rc = weft_rlock_acquire(&s->rlock, WEFT_FOREVER);
    if (rc) return rc;
    weft_event_set(&s->held);
    rc = weft_event_wait(&s->gate, WEFT_FOREVER);
    weft_rlock_release(&s->rlock);
    return rc;
}

static int rlock_setup(struct timed_state **out)
{
    int rc = new_state(out);
    if (rc == 0) rc = weft_thread_start(&(*out)->thread, rlock_holder, *out, NULL);
    return rc ? rc : weft_event_wait(&(*out)->held, WEFT_FOREVER);
}

static int rlock_call(struct timed_state *s, weft_ns t)
{
    return weft_rlock_acquire(&s->rlock, t);
}

static int thread_teardown(struct timed_state *s)
{
    weft_event_set(&s->gate);
    int rc = weft_thread_join(s->thread, NULL, WEFT_FOREVER);
    free(s);
    return rc;
}

static int cond_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_cond_init(&(*out)->cond, &(*out)->lock);
}

static int cond_call(struct timed_state *s, weft_ns t)
{
    int rc = weft_lock_acquire(&s->lock, WEFT_FOREVER);
    if (rc) return rc;
    rc = weft_cond_wait(&s->cond, t);
    int rel = weft_lock_release(&s->lock);
    return rel ? rel : rc;
}

static int never_true(void *arg)
{
    (void)arg;
    return 0;
}

static int cond_for_call(struct timed_state *s, weft_ns t)
{
    int rc = weft_lock_acquire(&s->lock, WEFT_FOREVER);
    if (rc) return rc;
    rc = weft_cond_wait_for(&s->cond, never_true, NULL, t);
    int rel = weft_lock_release(&s->lock);
    return rel ? rel : rc;
}

static int sem_call(struct timed_state *s, weft_ns t)
{
    return weft_sem_acquire(&s->sem, t);
}

static int event_call(struct timed_state *s, weft_ns t)
{
    return weft_event_wait(&s->gate, t);
}

static int barrier_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_barrier_init(&(*out)->barrier, 2, NULL, NULL);
}

/* Running out breaks the barrier (as in Python): reset it for the next call. */
static int barrier_call(struct timed_state *s, weft_ns t)
{
    int rc = weft_barrier_wait(&s->barrier, t);
    int rs = weft_barrier_reset(&s->barrier);
    return rs ? rs : rc;
}

static int latch_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_latch_init(&(*out)->latch, 1);
}

static int latch_call(struct timed_state *s, weft_ns t)
{
    return weft_latch_wait(&s->latch, t);
}

static int sleep_call(struct timed_state *s, weft_ns t)
{
    (void)s;
    int rc = weft_sleep(t);
    return rc == 0 ? WEFT_ETIMEDOUT : rc;
}

/* ---- queues ---- */

static int queues_setup(struct timed_state **out)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = 1;
    int rc = new_state(out);
    if (rc == 0) rc = weft_queue_new(&(*out)->q[0], &o);
    if (rc == 0) rc = weft_queue_new(&(*out)->q[1], &o);
    return rc;
}

static int full_queue_setup(struct timed_state **out)
{
    int rc = queues_setup(out);
    return rc ? rc : weft_queue_put((*out)->q[0], out, 0);
}

static int unfinished_queue_setup(struct timed_state **out)
{
    int rc = full_queue_setup(out);
    void *item;
    return rc ? rc : weft_queue_get((*out)->q[0], &item, 0); /* unfinished stays 1 */
}

static int queues_teardown(struct timed_state *s)
{
    int rc = 0;
    for (int i = 0; i < 2; i++)
        if (s->q[i]) {
            int r = weft_queue_free(s->q[i]);
            if (rc == 0) rc = r;
        }
    free(s);
    return rc;
}

static int queue_get_call(struct timed_state *s, weft_ns t)
{
    void *item;
    return weft_queue_get(s->q[0], &item, t);
}

static int queue_put_call(struct timed_state *s, weft_ns t)
{
    return weft_queue_put(s->q[0], s, t);
}

static int queue_join_call(struct timed_state *s, weft_ns t)
{
    return weft_queue_join(s->q[0], t);
}

static int select_call(struct timed_state *s, weft_ns t)
{
    weft_queue_case c[2] = {{s->q[0], WEFT_QUEUE_GET, NULL}, {s->q[1], WEFT_QUEUE_GET, NULL}};
    return weft_queue_select(c, 2, NULL, t);
}

/* ---- futures ---- */

static int future_setup(struct timed_state **out)
{
    int rc = new_state(out);
    if (rc == 0) rc = weft_future_new(&(*out)->f, NULL);
    if (rc == 0) rc = weft_as_completed_new(&(*out)->it, &(*out)->f, 1);
    return rc;
}

static int future_teardown(struct timed_state *s)
{
    weft_as_completed_free(s->it);
    weft_future_unref(s->f);
    free(s);
    return 0;
}

static int future_wait_call(struct timed_state *s, weft_ns t)
{
    return weft_future_wait(s->f, t);
}

static int future_result_call(struct timed_state *s, weft_ns t)
{
    void *result;
    return weft_future_result(s->f, &result, t);
}

static int wait_any_call(struct timed_state *s, weft_ns t)
{
    return weft_wait(&s->f, 1, WEFT_FIRST_COMPLETED, NULL, t);
}

static int as_completed_call(struct timed_state *s, weft_ns t)
{
    weft_future *f;
    return weft_as_completed_next(s->it, &f, t);
}

/* ---- threads, groups, timers ---- */

static int wait_gate(void *arg)
{
    return weft_event_wait(arg, WEFT_FOREVER);
}

static int thread_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_thread_start(&(*out)->thread, wait_gate, &(*out)->gate, NULL);
}

static int join_call(struct timed_state *s, weft_ns t)
{
    return weft_thread_join(s->thread, NULL, t);
}

static int group_setup(struct timed_state **out)
{
    weft_group_opts o = WEFT_GROUP_OPTS_INIT;
    o.threads = 1;
    int rc = new_state(out);
    if (rc == 0) rc = weft_group_new(&(*out)->group, &o);
    return rc ? rc : weft_group_spawn((*out)->group, wait_gate, &(*out)->gate, NULL);
}

static int group_call(struct timed_state *s, weft_ns t)
{
    return weft_group_wait(s->group, t);
}

static int group_teardown(struct timed_state *s)
{
    weft_event_set(&s->gate);
    int rc = weft_group_wait(s->group, WEFT_FOREVER);
    int fr = weft_group_free(s->group);
    free(s);
    return rc ? rc : fr;
}

static void never_runs(void *arg)
{
    (void)arg;
    abort();
}

static int timer_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_timer_start(&(*out)->timer, WEFT_FOREVER, never_runs, NULL, NULL);
}

static int timer_call(struct timed_state *s, weft_ns t)
{
    return weft_timer_wait(s->timer, t);
}

static int timer_teardown(struct timed_state *s)
{
    int rc = weft_timer_cancel(s->timer);
    weft_timer_free(s->timer);
    free(s);
    return rc;
}

/* ---- processes and the inter-process queue ---- */

static int ipcq_setup_n(struct timed_state **out, int puts)
{
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    o.capacity = 1;
    o.max_msg = 8;
    int rc = new_state(out);
    if (rc == 0) rc = weft_ipcq_new(&(*out)->ipcq, &o);
    for (int i = 0; rc == 0 && i < puts; i++) rc = weft_ipcq_put((*out)->ipcq, "x", 1, 0);
    return rc;
}

static int ipcq_empty_setup(struct timed_state **out)
{
    return ipcq_setup_n(out, 0);
}

static int ipcq_full_setup(struct timed_state **out)
{
    return ipcq_setup_n(out, 1);
}

static int ipcq_teardown(struct timed_state *s)
{
    int rc = weft_ipcq_free(s->ipcq);
    free(s);
    return rc;
}

static int ipcq_get_call(struct timed_state *s, weft_ns t)
{
    char buf[8];
    size_t len;
    return weft_ipcq_get(s->ipcq, buf, sizeof buf, &len, t);
}

static int ipcq_put_call(struct timed_state *s, weft_ns t)
{
    return weft_ipcq_put(s->ipcq, "y", 1, t);
}

static int ipcq_join_call(struct timed_state *s, weft_ns t)
{
    return weft_ipcq_join(s->ipcq, t); /* the message put in setup is unfinished */
}

static _Noreturn int block_forever(const void *arg, size_t size)
{
    (void)arg, (void)size;
    for (;;) pause();
}

static int process_setup(struct timed_state **out)
{
    int rc = new_state(out);
    return rc ? rc : weft_process_start(&(*out)->proc, block_forever, NULL, 0, NULL);
}

static int process_call(struct timed_state *s, weft_ns t)
{
    return weft_process_join(s->proc, NULL, t);
}

static int process_teardown(struct timed_state *s)
{
    int rc = weft_process_kill(s->proc);
    if (rc == 0) rc = weft_process_join(s->proc, NULL, WEFT_FOREVER);
    int fr = weft_process_free(s->proc);
    free(s);
    return rc ? rc : fr;
}

static int lock_teardown(struct timed_state *s)
{
    int rc = weft_lock_release(&s->lock);
    free(s);
    return rc;
}

const struct timed_call timed_calls[] = {
    {"lock_acquire", lock_setup, lock_call, lock_teardown},
    {"rlock_acquire", rlock_setup, rlock_call, thread_teardown},
    {"cond_wait", cond_setup, cond_call, plain_teardown},
    {"cond_wait_for", cond_setup, cond_for_call, plain_teardown},
    {"sem_acquire", new_state, sem_call, plain_teardown},
    {"event_wait", new_state, event_call, plain_teardown},
    {"barrier_wait", barrier_setup, barrier_call, plain_teardown},
    {"latch_wait", latch_setup, latch_call, plain_teardown},
    {"sleep", new_state, sleep_call, plain_teardown},
    {"queue_get", queues_setup, queue_get_call, queues_teardown},
    {"queue_put", full_queue_setup, queue_put_call, queues_teardown},
    {"queue_join", unfinished_queue_setup, queue_join_call, queues_teardown},
    {"queue_select", queues_setup, select_call, queues_teardown},
    {"future_wait", future_setup, future_wait_call, future_teardown},
    {"future_result", future_setup, future_result_call, future_teardown},
    {"wait_any", future_setup, wait_any_call, future_teardown},
    {"as_completed_next", future_setup, as_completed_call, future_teardown},
    {"thread_join", thread_setup, join_call, thread_teardown},
    {"group_wait", group_setup, group_call, group_teardown},
    {"timer_wait", timer_setup, timer_call, timer_teardown},
    {"ipcq_get", ipcq_empty_setup, ipcq_get_call, ipcq_teardown},
    {"ipcq_put", ipcq_full_setup, ipcq_put_call, ipcq_teardown},
    {"ipcq_join", ipcq_full_setup, ipcq_join_call, ipcq_teardown},
    {"process_join", process_setup, process_call, process_teardown},
};

const size_t timed_calls_count = sizeof timed_calls / sizeof timed_calls[0];
