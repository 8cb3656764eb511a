/* tests/unit/destroy_after_wake_test.c - the LAST of several woken threads ends the object.
 *
 * lifetime_test.c holds each object to its "free right after the wake" promise with one waiter.
 * Here several threads wait on the same object (glibc's tst-cond20 and tst-barrier4 use 10
 * broadcast waiters): one call wakes them all, and whichever woken thread leaves last ends the
 * object at once, while the waking call and the other waiters may still be returning. Two
 * ways to end it, alternating by round:
 *   - heap: poison the block and free it (AddressSanitizer reports any later access);
 *   - static storage: poison it, and initialize the same storage again for the next round, as
 *     a program reusing a global does (a late access from the waker reads poison or races
 *     with the poisoning, which ThreadSanitizer reports).
 * Futures, groups and timers are handles: the last woken thread releases the last reference or
 * frees the handle.
 *
 * Rounds are paced with pthread barriers (not with the object under test); the waker first
 * spins a varying while so that the waiters are sometimes not yet waiting, sometimes spinning
 * and sometimes asleep. Sized by weft_test_scale (WEFT_STRESS).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define ROUNDS  10000
#define WAITERS 3

/* One object kind under test, in a block that also counts the woken threads that are out. */
struct kind {
    size_t size;
    void (*init)(void *obj);        /* make a fresh object in zeroed memory (main thread) */
    void (*wait)(void *obj);        /* one waiter: wait, assert how it ended */
    void (*wake)(void *obj, int n); /* the main thread: wake all n waiters with one call */
    void (*retire)(void *obj);      /* free what the object owns (handles); may be NULL */
};

struct round_block {
    _Atomic int left;
    _Alignas(64) unsigned char obj[256];
};

struct run {
    const struct kind *k;
    pthread_barrier_t start, end;
    struct round_block *blk; /* this round's block */
    long rounds;
};

static struct round_block static_block; /* the static-storage rounds reuse this one */

static int static_round(long r)
{
    return r % 2 == 1;
}

/* The last woken thread: end the object, poison its memory, and free it (heap) or leave it
 * for the next static round to initialize again. */
static void retire(const struct kind *k, struct round_block *b, int st)
{
    if (k->retire) k->retire(b->obj);
    memset(b, 0xa5, sizeof *b);
    if (!st) free(b);
}

static void *waiter_main(void *arg)
{
    struct run *run = arg;
    for (long r = 0; r < run->rounds; r++) {
        pthread_barrier_wait(&run->start);
        struct round_block *b = run->blk;
        run->k->wait(b->obj);
        if (atomic_fetch_add(&b->left, 1) == WAITERS - 1) retire(run->k, b, static_round(r));
        pthread_barrier_wait(&run->end);
    }
    return NULL;
}

static void run_kind(const struct kind *k)
{
    ck_assert_uint_le(k->size, sizeof static_block.obj);
    struct run run = {.k = k, .rounds = weft_test_scale(ROUNDS)};
    pthread_barrier_init(&run.start, NULL, WAITERS + 1);
    pthread_barrier_init(&run.end, NULL, WAITERS + 1);
    pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, waiter_main, &run), 0);
    for (long r = 0; r < run.rounds; r++) {
        if (static_round(r)) {
            run.blk = &static_block;
            memset(run.blk, 0, sizeof *run.blk);
        } else {
            run.blk = calloc(1, sizeof *run.blk);
            ck_assert_ptr_nonnull(run.blk);
        }
        k->init(run.blk->obj);
        pthread_barrier_wait(&run.start);
        weft_test_stagger(r);
        k->wake(run.blk->obj, WAITERS);
        pthread_barrier_wait(&run.end);
    }
    for (int i = 0; i < WAITERS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&run.start);
    pthread_barrier_destroy(&run.end);
}

/* ---- condition: notify_all under the lock, the last waiter out ends lock + cond ---- */

struct cond_obj {
    weft_lock lock;
    weft_cond cond;
    int ready;
};

static void cond_init(void *obj)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_cond_init(&o->cond, &o->lock), 0);
}

static void cond_wait(void *obj)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_lock_acquire(&o->lock, WEFT_FOREVER), 0);
    while (!o->ready) ck_assert_weft(weft_cond_wait(&o->cond, WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_release(&o->lock), 0);
}

static void cond_wake(void *obj, int n)
{
    (void)n;
    struct cond_obj *o = obj;
    ck_assert_weft(weft_lock_acquire(&o->lock, WEFT_FOREVER), 0);
    o->ready = 1;
    ck_assert_weft(weft_cond_notify_all(&o->cond), 0);
    ck_assert_weft(weft_lock_release(&o->lock), 0);
}

START_TEST(cond_last_woken_destroys)
{
    static const struct kind k = {sizeof(struct cond_obj), cond_init, cond_wait, cond_wake, NULL};
    run_kind(&k);
}
END_TEST

/* The same with the condition's own RLock (WEFT_COND_INIT): the lock lives inside c. */
static void cond_own_init(void *obj)
{
    ck_assert_weft(weft_cond_init(&((struct cond_obj *)obj)->cond, NULL), 0);
}

static void cond_own_wait(void *obj)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_cond_acquire(&o->cond, WEFT_FOREVER), 0);
    while (!o->ready) ck_assert_weft(weft_cond_wait(&o->cond, WEFT_FOREVER), 0);
    ck_assert_weft(weft_cond_release(&o->cond), 0);
}

static void cond_own_wake(void *obj, int n)
{
    struct cond_obj *o = obj;
    ck_assert_weft(weft_cond_acquire(&o->cond, WEFT_FOREVER), 0);
    o->ready = 1;
    ck_assert_weft(weft_cond_notify(&o->cond, (uint32_t)n), 0);
    ck_assert_weft(weft_cond_release(&o->cond), 0);
}

START_TEST(cond_own_rlock_last_woken_destroys)
{
    static const struct kind k = {sizeof(struct cond_obj), cond_own_init, cond_own_wait,
                                  cond_own_wake, NULL};
    run_kind(&k);
}
END_TEST

/* ---- event: one set wakes every waiter ---- */

static void event_init(void *obj)
{
    ck_assert_weft(weft_event_init(obj), 0);
}

static void event_wait(void *obj)
{
    ck_assert_weft(weft_event_wait(obj, WEFT_FOREVER), 0);
}

static void event_wake(void *obj, int n)
{
    (void)n;
    ck_assert_weft(weft_event_set(obj), 0);
}

START_TEST(event_last_woken_destroys)
{
    static const struct kind k = {sizeof(weft_event), event_init, event_wait, event_wake, NULL};
    run_kind(&k);
}
END_TEST

/* ---- semaphore: one release of n permits ---- */

static void sem_init0(void *obj)
{
    ck_assert_weft(weft_sem_init(obj, 0), 0);
}

static void sem_wait(void *obj)
{
    ck_assert_weft(weft_sem_acquire(obj, WEFT_FOREVER), 0);
}

static void sem_wake(void *obj, int n)
{
    ck_assert_weft(weft_sem_release(obj, (uint32_t)n), 0);
}

START_TEST(sem_last_woken_destroys)
{
    static const struct kind k = {sizeof(weft_sem), sem_init0, sem_wait, sem_wake, NULL};
    run_kind(&k);
}
END_TEST

/* ---- barrier (tst-barrier4): the waiters are all the parties; the last to arrive wakes
 * the others, and the last out ends it (the main thread only staggers the round) ---- */

static void barrier_init_n(void *obj)
{
    ck_assert_weft(weft_barrier_init(obj, WAITERS, NULL, NULL), 0);
}

static void barrier_wait(void *obj)
{
    int rc = weft_barrier_wait(obj, WEFT_FOREVER);
    ck_assert_msg(rc >= 0 && rc < WAITERS, "barrier_wait gave %d", rc);
}

static void barrier_wake(void *obj, int n)
{
    (void)obj, (void)n;
}

START_TEST(barrier_last_woken_destroys)
{
    static const struct kind k = {sizeof(weft_barrier), barrier_init_n, barrier_wait, barrier_wake,
                                  NULL};
    run_kind(&k);
}
END_TEST

/* ---- latch: the count_down that opens it ---- */

static void latch_init1(void *obj)
{
    ck_assert_weft(weft_latch_init(obj, 1), 0);
}

static void latch_wait(void *obj)
{
    ck_assert_weft(weft_latch_wait(obj, WEFT_FOREVER), 0);
}

static void latch_wake(void *obj, int n)
{
    (void)n;
    ck_assert_weft(weft_latch_count_down(obj, 1), 0);
}

START_TEST(latch_last_woken_destroys)
{
    static const struct kind k = {sizeof(weft_latch), latch_init1, latch_wait, latch_wake, NULL};
    run_kind(&k);
}
END_TEST

/* ---- queue: a pointer to a heap queue; close wakes every getter with WEFT_ECLOSED, or n
 * puts hand one item to each getter (put_many, one call) ---- */

static weft_queue **qslot(void *obj)
{
    return obj;
}

static long queue_round; /* the kind of queue each round, set by init */

static void queue_init(void *obj)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    long r = queue_round++;
    o.order = (int)(r / 2 % 2); /* FIFO, LIFO */
    o.capacity = r % 4 < 2 ? 0 : WAITERS;
    ck_assert_weft(weft_queue_new(qslot(obj), &o), 0);
}

static void queue_retire(void *obj)
{
    ck_assert_weft(weft_queue_free(*qslot(obj)), 0);
}

static void queue_wait_closed(void *obj)
{
    void *item = NULL;
    ck_assert_weft(weft_queue_get(*qslot(obj), &item, WEFT_FOREVER), WEFT_ECLOSED);
}

static void queue_close(void *obj, int n)
{
    (void)n;
    ck_assert_weft(weft_queue_close(*qslot(obj)), 0);
}

START_TEST(queue_last_closed_getter_frees)
{
    static const struct kind k = {sizeof(weft_queue *), queue_init, queue_wait_closed, queue_close,
                                  queue_retire};
    run_kind(&k);
}
END_TEST

static char items[WAITERS];

static void queue_wait_item(void *obj)
{
    void *item = NULL;
    ck_assert_weft(weft_queue_get(*qslot(obj), &item, WEFT_FOREVER), 0);
    ck_assert(item >= (void *)&items[0] && item <= (void *)&items[WAITERS - 1]);
}

static void queue_put_all(void *obj, int n)
{
    void *batch[WAITERS];
    for (int i = 0; i < n; i++) batch[i] = &items[i];
    size_t done = 0;
    ck_assert_weft(weft_queue_put_many(*qslot(obj), batch, (size_t)n, &done, WEFT_FOREVER), 0);
    ck_assert_uint_eq(done, (size_t)n);
}

START_TEST(queue_last_getter_frees)
{
    static const struct kind k = {sizeof(weft_queue *), queue_init, queue_wait_item, queue_put_all,
                                  queue_retire};
    run_kind(&k);
}
END_TEST

/* ---- future: a future every waiter holds a reference to; the setter drops its own at once,
 * the last waiter out drops the last one ---- */

struct future_obj {
    weft_future *f;
};

static void future_init(void *obj)
{
    struct future_obj *o = obj;
    ck_assert_weft(weft_future_new(&o->f, NULL), 0);
    for (int i = 0; i < WAITERS; i++) ck_assert_weft(weft_future_ref(o->f), 0);
}

static void future_wait(void *obj)
{
    weft_future *f = ((struct future_obj *)obj)->f;
    void *result = NULL;
    ck_assert_weft(weft_future_result(f, &result, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(result, items);
    weft_future_unref(f);
}

static void future_wake(void *obj, int n)
{
    (void)n;
    weft_future *f = ((struct future_obj *)obj)->f;
    ck_assert_weft(weft_future_set_result(f, items, NULL), 0);
    weft_future_unref(f);
}

START_TEST(future_last_waiter_releases)
{
    static const struct kind k = {sizeof(struct future_obj), future_init, future_wait, future_wake,
                                  NULL};
    run_kind(&k);
}
END_TEST

/* ---- group: every waiter waits for the group; the last out frees it. The wake is the
 * main thread opening a gate the one task waits on. ---- */

struct group_obj {
    weft_group *g;
    weft_event gate;
};

static int group_task(void *arg)
{
    return weft_event_wait(arg, WEFT_SEC(60));
}

static void group_init(void *obj)
{
    struct group_obj *o = obj;
    weft_group_opts opts = WEFT_GROUP_OPTS_INIT;
    opts.threads = 1;
    ck_assert_weft(weft_event_init(&o->gate), 0);
    ck_assert_weft(weft_group_new(&o->g, &opts), 0);
    ck_assert_weft(weft_group_spawn(o->g, group_task, &o->gate, NULL), 0);
}

static void group_wait(void *obj)
{
    ck_assert_weft(weft_group_wait(((struct group_obj *)obj)->g, WEFT_FOREVER), 0);
}

static void group_wake(void *obj, int n)
{
    (void)n;
    ck_assert_weft(weft_event_set(&((struct group_obj *)obj)->gate), 0);
}

static void group_retire(void *obj)
{
    ck_assert_weft(weft_group_free(((struct group_obj *)obj)->g), 0);
}

START_TEST(group_last_waiter_frees)
{
    static const struct kind k = {sizeof(struct group_obj), group_init, group_wait, group_wake,
                                  group_retire};
    run_kind(&k);
}
END_TEST

/* ---- timer: a timer that never fires by itself; cancel finishes it, every waiter's wait
 * returns 0 and the last one out frees the handle ---- */

static void never(void *arg)
{
    (void)arg;
    ck_abort_msg("a cancelled timer ran");
}

static void timer_init(void *obj)
{
    ck_assert_weft(weft_timer_start(obj, WEFT_FOREVER, never, NULL, NULL), 0);
}

static void timer_wait(void *obj)
{
    weft_timer *t = *(weft_timer **)obj;
    ck_assert_weft(weft_timer_wait(t, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_timer_fired(t), 0);
}

static void timer_wake(void *obj, int n)
{
    (void)n;
    ck_assert_weft(weft_timer_cancel(*(weft_timer **)obj), 0);
}

static void timer_retire(void *obj)
{
    weft_timer_free(*(weft_timer **)obj);
}

START_TEST(timer_last_waiter_frees)
{
    static const struct kind k = {sizeof(weft_timer *), timer_init, timer_wait, timer_wake,
                                  timer_retire};
    run_kind(&k);
}
END_TEST

WEFT_TEST_SUITE("destroy_after_wake", 120, cond_last_woken_destroys,
                cond_own_rlock_last_woken_destroys, event_last_woken_destroys,
                sem_last_woken_destroys, barrier_last_woken_destroys, latch_last_woken_destroys,
                queue_last_closed_getter_frees, queue_last_getter_frees,
                future_last_waiter_releases, group_last_waiter_frees, timer_last_waiter_frees)
