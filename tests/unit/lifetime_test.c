/* tests/unit/lifetime_test.c - the woken thread may free the object at once.
 *
 * Every object a thread can wait on promises (in its header) that the thread whose wait ended
 * may free the object as soon as its call returns, even while the call that ended the wait
 * (a release, set, put, close, ...) is still returning in the waker. These tests hold each
 * kind to that, after glibc's tst-cond20 and tst-barrier4: a pair of threads per round, a
 * fresh heap object per round, the waiter frees it (after poisoning it) the moment its wait
 * returns, and the waker's call must never touch it again. AddressSanitizer reports a late
 * access as a heap-use-after-free, ThreadSanitizer as a race with the free.
 *
 * Each round the waker first spins a varying while, so that the waiter is sometimes not yet
 * waiting (fast paths), sometimes spinning in its park, sometimes asleep on the futex. Rounds
 * are paced with a pthread barrier, not with the weft object under test.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"
#include "test.h"

#define ROUNDS 10000

/* One waiter and one waker per round; see the top. */
struct pair {
    pthread_barrier_t start, end;
    void *obj;                    /* this round's object, made by make() */
    void (*wait_free)(void *obj); /* waits on obj, then frees it: runs in the waiter thread */
    void (*wake)(void *obj);      /* ends the wait: runs in the main thread */
    void *(*make)(long round);
    long rounds;
};

static void *waiter_main(void *arg)
{
    struct pair *p = arg;
    for (long r = 0; r < p->rounds; r++) {
        pthread_barrier_wait(&p->start);
        p->wait_free(p->obj);
        pthread_barrier_wait(&p->end);
    }
    return NULL;
}

static void run_pairs(void *(*make)(long), void (*wait_free)(void *), void (*wake)(void *))
{
    struct pair p = {.make = make, .wait_free = wait_free, .wake = wake};
    p.rounds = weft_test_scale(ROUNDS);
    pthread_barrier_init(&p.start, NULL, 2);
    pthread_barrier_init(&p.end, NULL, 2);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, waiter_main, &p), 0);
    for (long r = 0; r < p.rounds; r++) {
        p.obj = make(r);
        pthread_barrier_wait(&p.start);
        weft_test_stagger(r);
        wake(p.obj);
        pthread_barrier_wait(&p.end);
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&p.start);
    pthread_barrier_destroy(&p.end);
}

/* Poison then free: a late read sees garbage even where the allocator would not tell. */
static void poison_free(void *obj, size_t size)
{
    memset(obj, 0xa5, size);
    free(obj);
}

static void *zalloc(size_t size)
{
    void *p = calloc(1, size);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ---- semaphore: weft_sem_release racing the acquirer that frees ---- */

static void *sem_make(long r)
{
    (void)r;
    weft_sem *s = zalloc(sizeof *s);
    ck_assert_weft(weft_sem_init(s, 0), 0);
    return s;
}

static void sem_wait_free(void *obj)
{
    ck_assert_weft(weft_sem_acquire(obj, WEFT_FOREVER), 0);
    poison_free(obj, sizeof(weft_sem));
}

static void sem_wake(void *obj)
{
    ck_assert_weft(weft_sem_release(obj, 1), 0);
}

START_TEST(sem_acquirer_may_free_while_release_returns)
{
    run_pairs(sem_make, sem_wait_free, sem_wake);
}
END_TEST

/* ---- event ---- */

static void *event_make(long r)
{
    (void)r;
    weft_event *e = zalloc(sizeof *e);
    ck_assert_weft(weft_event_init(e), 0);
    return e;
}

static void event_wait_free(void *obj)
{
    ck_assert_weft(weft_event_wait(obj, WEFT_FOREVER), 0);
    poison_free(obj, sizeof(weft_event));
}

static void event_wake(void *obj)
{
    ck_assert_weft(weft_event_set(obj), 0);
}

START_TEST(event_waiter_may_free_while_set_returns)
{
    run_pairs(event_make, event_wait_free, event_wake);
}
END_TEST

/* ---- latch ---- */

static void *latch_make(long r)
{
    (void)r;
    weft_latch *l = zalloc(sizeof *l);
    ck_assert_weft(weft_latch_init(l, 1), 0);
    return l;
}

static void latch_wait_free(void *obj)
{
    ck_assert_weft(weft_latch_wait(obj, WEFT_FOREVER), 0);
    poison_free(obj, sizeof(weft_latch));
}

static void latch_wake(void *obj)
{
    ck_assert_weft(weft_latch_count_down(obj, 1), 0);
}

START_TEST(latch_waiter_may_free_while_count_down_returns)
{
    run_pairs(latch_make, latch_wait_free, latch_wake);
}
END_TEST

/* ---- once: the waiter arrives while the waker runs fn ---- */

struct once_obj {
    weft_once_flag flag;
    _Atomic int running;
};

static int once_fn(void *arg)
{
    struct once_obj *o = arg;
    atomic_store(&o->running, 1);
    weft_test_stagger(15); /* give the waiter time to arrive and wait */
    return 0;
}

static int never_fn(void *arg)
{
    (void)arg;
    ck_abort_msg("fn ran twice");
    return 0;
}

static void *once_make(long r)
{
    (void)r;
    return zalloc(sizeof(struct once_obj));
}

static void once_wait_free(void *obj)
{
    struct once_obj *o = obj;
    while (!atomic_load(&o->running)) continue; /* the waker is inside fn */
    ck_assert_weft(weft_once(&o->flag, never_fn, o), 0);
    poison_free(o, sizeof *o);
}

static void once_wake(void *obj)
{
    ck_assert_weft(weft_once(&((struct once_obj *)obj)->flag, once_fn, obj), 0);
}

START_TEST(once_waiter_may_free_while_runner_returns)
{
    run_pairs(once_make, once_wait_free, once_wake);
}
END_TEST

/* ---- condition (tst-cond20): the lock, condition and predicate in one block ---- */

struct cond_obj {
    weft_lock lock;
    weft_cond cond;
    int ready;
};

static void *cond_make(long r)
{
    (void)r;
    struct cond_obj *o = zalloc(sizeof *o);
    ck_assert_weft(weft_cond_init(&o->cond, &o->lock), 0);
    return o;
}

static void cond_wait_free(void *obj)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_lock_acquire(&o->lock, WEFT_FOREVER), 0);
    while (!o->ready) ck_assert_weft(weft_cond_wait(&o->cond, WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_release(&o->lock), 0);
    poison_free(o, sizeof *o);
}

static void cond_wake(void *obj)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_lock_acquire(&o->lock, WEFT_FOREVER), 0);
    o->ready = 1;
    ck_assert_weft(weft_cond_notify(&o->cond, 1), 0);
    ck_assert_weft(weft_lock_release(&o->lock), 0);
}

START_TEST(cond_waiter_may_free_while_notifier_unlocks)
{
    run_pairs(cond_make, cond_wait_free, cond_wake);
}
END_TEST

/* ---- barrier (tst-barrier4): whichever party leaves last frees it ---- */

struct barrier_obj {
    weft_barrier b;
    _Atomic int left;
};

static void *barrier_make(long r)
{
    (void)r;
    struct barrier_obj *o = zalloc(sizeof *o);
    ck_assert_weft(weft_barrier_init(&o->b, 2, NULL, NULL), 0);
    return o;
}

/* Both parties run this; the second out frees, while the first may still be returning. */
static void barrier_pass(void *obj)
{
    struct barrier_obj *o = obj;
    int rc = weft_barrier_wait(&o->b, WEFT_FOREVER);
    ck_assert_int_ge(rc, 0);
    if (atomic_fetch_add(&o->left, 1) == 1) poison_free(o, sizeof *o);
}

START_TEST(barrier_last_party_out_may_free)
{
    run_pairs(barrier_make, barrier_pass, barrier_pass);
}
END_TEST

/* ---- queues ---- */

/* Two items: any distinct non-NULL pointers. */
static char items[2];
#define ITEM  ((void *)&items[0])
#define OTHER ((void *)&items[1])

static int by_value(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (a > b) - (a < b);
}

/* Every kind in turn: FIFO unbounded and bounded (the lock-free fast queues), LIFO and
 * priority (the locked ones, with hand-off). */
static weft_queue *queue_of_kind(long r, size_t capacity)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.order = (int)(r / 2 % 3);
    if (o.order == WEFT_QUEUE_PRIORITY) o.compare = by_value;
    o.capacity = r % 2 ? capacity : 0;
    weft_queue *q = NULL;
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    return q;
}

static void queue_free(weft_queue *q)
{
    ck_assert_weft(weft_queue_free(q), 0);
}

/* put wakes the getter, which frees the queue */
static void *queue_empty_make(long r)
{
    return queue_of_kind(r, 1);
}

static void get_then_free(void *obj)
{
    void *item = NULL;
    ck_assert_weft(weft_queue_get(obj, &item, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(item, ITEM);
    queue_free(obj);
}

static void put_one(void *obj)
{
    ck_assert_weft(weft_queue_put(obj, ITEM, WEFT_FOREVER), 0);
}

START_TEST(queue_getter_may_free_while_put_returns)
{
    run_pairs(queue_empty_make, get_then_free, put_one);
}
END_TEST

/* get makes room for the putter, which frees the queue (bounded kinds only) */
static void *queue_full_make(long r)
{
    weft_queue *q = queue_of_kind(r | 1, 1);
    ck_assert_weft(weft_queue_put(q, ITEM, 0), 0);
    return q;
}

static void put_then_free(void *obj)
{
    ck_assert_weft(weft_queue_put(obj, OTHER, WEFT_FOREVER), 0);
    queue_free(obj); /* the item inside is not the queue's to free */
}

static void get_one(void *obj)
{
    void *item = NULL;
    ck_assert_weft(weft_queue_get(obj, &item, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(item, ITEM);
}

START_TEST(queue_putter_may_free_while_get_returns)
{
    run_pairs(queue_full_make, put_then_free, get_one);
}
END_TEST

/* close (or shutdown) wakes the getter with WEFT_ECLOSED, which frees the queue */
static void closed_then_free(void *obj)
{
    void *item = NULL;
    ck_assert_weft(weft_queue_get(obj, &item, WEFT_FOREVER), WEFT_ECLOSED);
    queue_free(obj);
}

static void close_it(void *obj)
{
    ck_assert_weft(weft_queue_close(obj), 0);
}

START_TEST(queue_getter_may_free_while_close_returns)
{
    run_pairs(queue_empty_make, closed_then_free, close_it);
}
END_TEST

static void shut_it(void *obj)
{
    size_t handed = 1;
    ck_assert_weft(weft_queue_shutdown(obj, NULL, NULL, &handed), 0);
    ck_assert_uint_eq(handed, 0);
}

START_TEST(queue_getter_may_free_while_shutdown_returns)
{
    run_pairs(queue_empty_make, closed_then_free, shut_it);
}
END_TEST

/* a putter blocked on a full queue is woken by close with WEFT_ECLOSED and frees it */
static void put_closed_then_free(void *obj)
{
    ck_assert_weft(weft_queue_put(obj, OTHER, WEFT_FOREVER), WEFT_ECLOSED);
    queue_free(obj);
}

START_TEST(queue_putter_may_free_while_close_returns)
{
    run_pairs(queue_full_make, put_closed_then_free, close_it);
}
END_TEST

/* task_done brings unfinished to zero and wakes the joiner, which frees the queue */
static void *queue_unfinished_make(long r)
{
    weft_queue *q = queue_of_kind(r, 4);
    void *item = NULL;
    ck_assert_weft(weft_queue_put(q, ITEM, 0), 0);
    ck_assert_weft(weft_queue_get(q, &item, 0), 0);
    return q;
}

static void join_then_free(void *obj)
{
    ck_assert_weft(weft_queue_join(obj, WEFT_FOREVER), 0);
    queue_free(obj);
}

static void task_done(void *obj)
{
    ck_assert_weft(weft_queue_task_done(obj), 0);
}

START_TEST(queue_joiner_may_free_while_task_done_returns)
{
    run_pairs(queue_unfinished_make, join_then_free, task_done);
}
END_TEST

/* ---- select: a put on one of two queues ends the select, which frees both ---- */

struct two_queues {
    weft_queue *q[2];
    long round;
};

static void *two_make(long r)
{
    struct two_queues *t = zalloc(sizeof *t);
    t->q[0] = queue_of_kind(r, 1);
    t->q[1] = queue_of_kind(r + 1, 1);
    t->round = r;
    return t;
}

static void select_then_free(void *obj)
{
    struct two_queues *t = obj;
    weft_queue_case c[2] = {{t->q[0], WEFT_QUEUE_GET, NULL}, {t->q[1], WEFT_QUEUE_GET, NULL}};
    size_t fired = 2;
    ck_assert_weft(weft_queue_select(c, 2, &fired, WEFT_FOREVER), 0);
    ck_assert_uint_eq(fired, (size_t)(t->round % 2));
    queue_free(t->q[0]);
    queue_free(t->q[1]);
    poison_free(t, sizeof *t);
}

static void put_on_one(void *obj)
{
    struct two_queues *t = obj;
    put_one(t->q[t->round % 2]);
}

START_TEST(select_may_free_its_queues_while_put_returns)
{
    run_pairs(two_make, select_then_free, put_on_one);
}
END_TEST

/* ---- future, group, timer: the finishing thread is weft's own ---- */

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int nothing_task(void *arg, void **result)
{
    (void)arg;
    *result = NULL;
    return 0;
}

START_TEST(future_waiter_may_release_while_task_finishes)
{
    weft_pool *p = weft_test_pool(2);
    for (long r = 0, n = weft_test_scale(ROUNDS); r < n; r++) {
        weft_future *f = NULL;
        ck_assert_weft(weft_pool_submit(p, nothing_task, NULL, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), 0);
        weft_future_unref(f);
    }
    weft_pool_free(p);
}
END_TEST

START_TEST(group_waiter_may_free_while_last_task_finishes)
{
    for (long r = 0, n = weft_test_scale(ROUNDS / 4); r < n; r++) {
        weft_group *g = NULL;
        ck_assert_weft(weft_group_new(&g, NULL), 0);
        ck_assert_weft(weft_group_spawn(g, nothing, NULL, "nothing"), 0);
        ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0);
        ck_assert_weft(weft_group_free(g), 0);
    }
}
END_TEST

static void tick(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

START_TEST(timer_waiter_may_release_while_timer_finishes)
{
    _Atomic long runs = 0;
    long n = weft_test_scale(ROUNDS);
    for (long r = 0; r < n; r++) {
        weft_timer *t = NULL;
        ck_assert_weft(weft_timer_start(&t, 0, tick, (void *)&runs, NULL), 0);
        ck_assert_weft(weft_timer_wait(t, WEFT_FOREVER), 0);
        weft_timer_free(t);
    }
    ck_assert_int_eq(atomic_load(&runs), n);
}
END_TEST

WEFT_TEST_SUITE(
    "lifetime", 120, sem_acquirer_may_free_while_release_returns,
    event_waiter_may_free_while_set_returns, latch_waiter_may_free_while_count_down_returns,
    once_waiter_may_free_while_runner_returns, cond_waiter_may_free_while_notifier_unlocks,
    barrier_last_party_out_may_free, queue_getter_may_free_while_put_returns,
    queue_putter_may_free_while_get_returns, queue_getter_may_free_while_close_returns,
    queue_getter_may_free_while_shutdown_returns, queue_putter_may_free_while_close_returns,
    queue_joiner_may_free_while_task_done_returns, select_may_free_its_queues_while_put_returns,
    future_waiter_may_release_while_task_finishes, group_waiter_may_free_while_last_task_finishes,
    timer_waiter_may_release_while_timer_finishes)
