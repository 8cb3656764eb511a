/* tests/unit/queue_test.c - the queue module, modelled on CPython's test_queue: order, try and
 * timeout variants, blocking calls that really block and are released by the other side,
 * task_done/join, close and shutdown waking every blocked thread, batches, select,
 * cancellation, bad input and allocation failures.
 *
 * The conformance tests run one body over the table of configurations below (Check's loop
 * tests: one forked run per row, and a failure names the row as the number after the test's
 * name). Adding a configuration is one row. "Thread B is blocked" is a handshake on the
 * queue's waiter lists through its test hook (weft__test_queue_parked), not a sleep. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "core/park.h"
#include "queue/queue_impl.h"
#include "test.h"
#include "test_hooks.h"

#define T(x) ((void *)(uintptr_t)(x))
#define N(p) ((uintptr_t)(p))

enum { GETTERS = WEFT__TEST_GETTERS, PUTTERS = WEFT__TEST_PUTTERS, JOINERS = WEFT__TEST_JOINERS };

/* The configurations: an order, bounded or not, and the store that makes (its name is for the
 * reader). Bounded rows come first, so that a test which needs a queue that can be full runs
 * over rows 0 .. BOUNDED - 1. A bounded row's capacity is the one each test asks for. */
static const struct cfg {
    int order;
    bool bounded;
    const char *store;
} cfgs[] = {
    {WEFT_QUEUE_FIFO, true, "lock-free ring (ring.c)"},
    {WEFT_QUEUE_LIFO, true, "locked ring (store.c)"},
    {WEFT_QUEUE_PRIORITY, true, "heap, fixed (store.c)"},
    {WEFT_QUEUE_FIFO, false, "lock-free linked blocks (list.c)"},
    {WEFT_QUEUE_LIFO, false, "locked segments (store.c)"},
    {WEFT_QUEUE_PRIORITY, false, "heap, growing (store.c)"},
};
enum { ROWS = sizeof cfgs / sizeof cfgs[0], BOUNDED = 3 };

static size_t count_list(weft_queue *q, int which)
{
    return weft__test_queue_parked(q, which);
}

/* Wait until n threads are parked on q's list `which`. */
static void await_waiters(weft_queue *q, int which, size_t n)
{
    while (count_list(q, which) < n) weft_sleep(WEFT_US(200));
}

/* Priority queues in the tests order items by value, smallest first. */
static int by_value(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((uintptr_t)a > (uintptr_t)b) - ((uintptr_t)a < (uintptr_t)b);
}

static weft_queue *make(size_t cap, int order)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = cap;
    o.order = order;
    o.compare = order == WEFT_QUEUE_PRIORITY ? by_value : NULL;
    weft_queue *q = NULL;
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    return q;
}

/* A queue of row c: capacity cap if the row is bounded, else unbounded. */
static weft_queue *make_row(const struct cfg *c, size_t cap)
{
    return make(c->bounded ? cap : 0, c->order);
}

/* A thread doing one blocking call. */
struct job {
    weft_queue *q;
    enum { J_GET, J_PUT, J_JOIN, J_SELECT } op;
    void *item;
    weft_ns timeout;
    weft_queue_case cases[2];
    size_t fired;
    int rc;
    _Atomic(weft__parker *) parker;
};

static int run_job(void *arg)
{
    struct job *j = arg;
    atomic_store(&j->parker, weft__parker_self());
    switch (j->op) {
    case J_GET:
        j->rc = weft_queue_get(j->q, &j->item, j->timeout);
        break;
    case J_PUT:
        j->rc = weft_queue_put(j->q, j->item, j->timeout);
        break;
    case J_JOIN:
        j->rc = weft_queue_join(j->q, j->timeout);
        break;
    case J_SELECT:
        j->rc = weft_queue_select(j->cases, 2, &j->fired, j->timeout);
        break;
    }
    weft__parker_reset(weft__parker_self());
    return 0;
}

static weft_thread start_job(struct job *j)
{
    weft_thread t;
    atomic_store(&j->parker, NULL);
    ck_assert_weft(weft_thread_start(&t, run_job, j, NULL), 0);
    return t;
}

static void join_job(weft_thread t)
{
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(20)), 0);
}

/* The order items leave in: FIFO as put, LIFO reversed, priority smallest first. */
START_TEST(queue_order_is_kept)
{
    const struct cfg *c = &cfgs[_i];
    static const int in[] = {111, 333, 222}, lifo[] = {222, 333, 111}, sorted[] = {111, 222, 333};
    const int *out = c->order == WEFT_QUEUE_FIFO ? in : c->order == WEFT_QUEUE_LIFO ? lifo : sorted;
    weft_queue *q = make_row(c, 3);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_put(q, T(in[i]), 0), 0);
    ck_assert_uint_eq(weft_queue_size(q), 3);
    for (int i = 0; i < 3; i++) {
        void *it;
        ck_assert_weft(weft_queue_get(q, &it, 0), 0);
        ck_assert_int_eq((int)N(it), out[i]);
    }
    ck_assert_int_eq(weft_queue_empty(q), 1);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Items are (key, tag) pairs; the comparator looks at the key only. */
struct pitem {
    int key, tag;
};

static int by_key(const void *a, const void *b, void *arg)
{
    (void)arg;
    const struct pitem *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static void priority_check(size_t cap)
{
    enum { M = 1000 };
    static struct pitem items[M];
    weft_queue_opts o = {cap, WEFT_QUEUE_PRIORITY, by_key, NULL, {0}};
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    for (int i = 0; i < M; i++) {
        items[i].key = (i * 7919) % 10; /* many equal keys */
        items[i].tag = i;
        ck_assert_weft(weft_queue_put(q, &items[i], 0), 0);
    }
    struct pitem *prev = NULL, *it;
    for (int i = 0; i < M; i++) {
        ck_assert_weft(weft_queue_get(q, (void **)&it, 0), 0);
        if (prev) {
            ck_assert_int_le(prev->key, it->key);
            if (prev->key == it->key) ck_assert_int_lt(prev->tag, it->tag); /* stable */
        }
        prev = it;
    }
    ck_assert_weft(weft_queue_free(q), 0);
}

START_TEST(queue_priority_order_is_stable)
{
    priority_check(0);
    priority_check(1000);
}
END_TEST

/* Unbounded rows: both ends cross segment (block, heap growth) boundaries. Items go in in
 * increasing order, so a priority queue gives them back in put order, like FIFO. */
START_TEST(queue_unbounded_crosses_segments)
{
    enum { M = 3 * WEFT__SEG_N + 17 };
    const struct cfg *c = &cfgs[_i];
    bool lifo = c->order == WEFT_QUEUE_LIFO;
    weft_queue *q = make_row(c, 0);
    /* Interleave puts and gets so that both ends cross segment boundaries. */
    uintptr_t next_in = 1, fifo_out = 1;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < M; i++) ck_assert_weft(weft_queue_put(q, T(next_in++), 0), 0);
        for (int i = 0; i < M / 2; i++) {
            void *it;
            ck_assert_weft(weft_queue_get(q, &it, 0), 0);
            ck_assert_uint_eq(N(it), lifo ? next_in - 1 - (uintptr_t)i : fifo_out++);
        }
    }
    size_t left = weft_queue_size(q);
    void *it, *prev = NULL;
    for (size_t i = 0; i < left; i++) {
        ck_assert_weft(weft_queue_get(q, &it, 0), 0);
        if (!lifo && prev) ck_assert_uint_eq(N(it), N(prev) + 1);
        prev = it;
    }
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Bounded rows. */
START_TEST(queue_try_variants_and_sizes)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 2);
    void *it = T(99);
    ck_assert_int_eq(weft_queue_empty(q), 1);
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_EAGAIN);
    ck_assert_uint_eq(N(it), 99); /* untouched on failure */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert_weft(weft_queue_put(q, NULL, 0), 0); /* NULL is a valid item */
    ck_assert_int_eq(weft_queue_full(q), 1);
    ck_assert_uint_eq(weft_queue_size(q), 2);
    ck_assert_weft(weft_queue_put(q, T(3), 0), WEFT_EAGAIN);
    bool fifo = c->order == WEFT_QUEUE_FIFO; /* LIFO and priority (NULL is smallest): NULL first */
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), fifo ? 1 : 0);
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), fifo ? 0 : 1);
    ck_assert_int_eq(weft_queue_full(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_timeouts_expire)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1);
    void *it;
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_queue_get(q, &it, WEFT_MS(30)), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(30));
    ck_assert_weft(weft_queue_put(q, T(1), WEFT_MS(30)), 0);
    if (c->bounded) { /* full now */
        t0 = weft_now();
        ck_assert_weft(weft_queue_put(q, T(2), WEFT_MS(30)), WEFT_ETIMEDOUT);
        ck_assert_int_ge(weft_now() - t0, WEFT_MS(30));
    }
    ck_assert_weft(weft_queue_join(q, WEFT_MS(10)), WEFT_ETIMEDOUT);
    ck_assert_uint_eq(count_list(q, PUTTERS) + count_list(q, GETTERS), 0); /* unlinked */
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_blocking_get_is_released_by_put)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1);
    struct job j = {.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
    weft_thread t = start_job(&j);
    await_waiters(q, GETTERS, 1);
    ck_assert_weft(weft_queue_put(q, T(42), 0), 0);
    join_job(t);
    ck_assert_weft(j.rc, 0);
    ck_assert_uint_eq(N(j.item), 42);
    ck_assert_int_eq(weft_queue_empty(q), 1);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_blocking_put_is_released_by_get)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1); /* bounded rows */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    struct job j = {.q = q, .op = J_PUT, .item = T(2), .timeout = WEFT_FOREVER};
    weft_thread t = start_job(&j);
    await_waiters(q, PUTTERS, 1);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 1);
    join_job(t);
    ck_assert_weft(j.rc, 0);
    ck_assert_int_eq(weft_queue_full(q), 1); /* the putter's item moved in */
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 2);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

static int worker_task_done(void *arg)
{
    weft_queue *q = arg;
    void *it;
    int rc;
    while ((rc = weft_queue_get(q, &it, WEFT_FOREVER)) == 0)
        if (weft_queue_task_done(q) != 0) return 1;
    return rc == WEFT_ECLOSED ? 0 : 2;
}

START_TEST(queue_join_waits_for_every_task_done)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 8);
    ck_assert_weft(weft_queue_join(q, 0), 0); /* nothing put: nothing to wait for */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert_weft(weft_queue_join(q, 0), WEFT_EAGAIN);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_weft(weft_queue_join(q, 0), WEFT_EAGAIN); /* got, but not done */
    ck_assert_weft(weft_queue_task_done(q), 0);
    ck_assert_weft(weft_queue_join(q, 0), 0);
    ck_assert_weft(weft_queue_task_done(q), WEFT_EOVERFLOW);

    weft_thread w[3];
    for (int i = 0; i < 3; i++)
        ck_assert_weft(weft_thread_start(&w[i], worker_task_done, q, NULL), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) ck_assert_weft(weft_queue_put(q, T(i), WEFT_FOREVER), 0);
        ck_assert_weft(weft_queue_join(q, WEFT_SEC(20)), 0);
        ck_assert_int_eq(weft_queue_empty(q), 1);
    }
    ck_assert_weft(weft_queue_close(q), 0);
    for (int i = 0; i < 3; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(w[i], &st, WEFT_SEC(20)), 0);
        ck_assert_int_eq(st, 0);
    }
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_blocked_join_is_released_by_task_done)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1);
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    struct job j = {.q = q, .op = J_JOIN, .timeout = WEFT_FOREVER};
    weft_thread t = start_job(&j);
    await_waiters(q, JOINERS, 1);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_weft(weft_queue_task_done(q), 0);
    join_job(t);
    ck_assert_weft(j.rc, 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Workers parked in get are handed items directly; each must find its item counted when it
 * calls task_done (a task_done that overtook the put's count would fail and stall join). */
START_TEST(queue_task_done_never_overtakes_its_put)
{
    const struct cfg *c = &cfgs[_i];
    /* Fresh threads each time: a new thread's parker spins, so it wakes within nanoseconds of
     * the hand-off, which is what opens the window. */
    for (long iter = 0; iter < weft_test_scale(100); iter++) {
        weft_queue *q = make_row(c, 8);
        weft_thread w[3];
        for (int i = 0; i < 3; i++)
            ck_assert_weft(weft_thread_start(&w[i], worker_task_done, q, NULL), 0);
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 100; i++) ck_assert_weft(weft_queue_put(q, T(i), WEFT_FOREVER), 0);
            ck_assert_weft(weft_queue_join(q, WEFT_SEC(5)), 0);
        }
        ck_assert_weft(weft_queue_close(q), 0);
        for (int i = 0; i < 3; i++) {
            int st = -1;
            ck_assert_weft(weft_thread_join(w[i], &st, WEFT_SEC(20)), 0);
            ck_assert_int_eq(st, 0);
        }
        ck_assert_weft(weft_queue_free(q), 0);
    }
}
END_TEST

/* Task accounting over many ring laps and list blocks (FIFO queues count their puts by the
 * tail position): failed puts do not count, task_done may run ahead of get as in Python, and
 * items that shutdown hands back after task_done already covered them do not push the count
 * below zero. */
START_TEST(queue_task_accounting_counts_every_put)
{
    const struct cfg *c = &cfgs[_i];
    size_t cap = c->bounded ? 3 : 0;
    weft_queue *q = make_row(c, cap);
    void *it;
    for (int i = 0; i < 200; i++) {
        ck_assert_weft(weft_queue_put(q, T(i), 0), 0);
        if (i % 2) continue;
        while (weft_queue_get(q, &it, 0) == 0) ck_assert_weft(weft_queue_task_done(q), 0);
        ck_assert_weft(weft_queue_join(q, 0), 0);
    }
    while (weft_queue_get(q, &it, 0) == 0) ck_assert_weft(weft_queue_task_done(q), 0);
    ck_assert_weft(weft_queue_join(q, 0), 0);
    ck_assert_weft(weft_queue_task_done(q), WEFT_EOVERFLOW);
    if (cap) { /* a put refused by a full queue is no task */
        for (size_t i = 0; i < cap; i++) ck_assert_weft(weft_queue_put(q, T(i), 0), 0);
        ck_assert_weft(weft_queue_put(q, T(9), 0), WEFT_EAGAIN);
        ck_assert_weft(weft_queue_put(q, T(9), WEFT_MS(1)), WEFT_ETIMEDOUT);
        for (size_t i = 0; i < cap; i++) ck_assert_weft(weft_queue_task_done(q), 0);
        ck_assert_weft(weft_queue_task_done(q), WEFT_EOVERFLOW);
        ck_assert_weft(weft_queue_join(q, 0), 0);
        size_t handed = 0;
        ck_assert_weft(weft_queue_shutdown(q, NULL, NULL, &handed), 0);
        ck_assert_uint_eq(handed, cap);
        ck_assert_weft(weft_queue_join(q, 0), 0);
        ck_assert_weft(weft_queue_task_done(q), WEFT_EOVERFLOW);
    }
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_close_drains_then_fails_every_consumer)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 2);
    struct job j[4];
    weft_thread t[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (struct job){.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
        t[i] = start_job(&j[i]);
    }
    await_waiters(q, GETTERS, 4);
    ck_assert_weft(weft_queue_close(q), 0);
    for (int i = 0; i < 4; i++) {
        join_job(t[i]);
        ck_assert_weft(j[i].rc, WEFT_ECLOSED);
    }
    ck_assert_weft(weft_queue_free(q), 0);

    q = make_row(c, 2);
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert_weft(weft_queue_put(q, T(2), 0), 0);
    ck_assert_weft(weft_queue_close(q), 0);
    ck_assert_weft(weft_queue_close(q), 0); /* twice is fine */
    ck_assert_int_eq(weft_queue_is_closed(q), 1);
    ck_assert_weft(weft_queue_put(q, T(3), WEFT_FOREVER), WEFT_ECLOSED);
    void *it;
    uintptr_t first = c->order == WEFT_QUEUE_LIFO ? 2 : 1;
    ck_assert_weft(weft_queue_get(q, &it, WEFT_FOREVER), 0);
    ck_assert_uint_eq(N(it), first);
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 3 - first);
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_get(q, &it, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_close_wakes_blocked_putters_who_keep_their_items)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1); /* bounded rows */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    struct job j[3];
    weft_thread t[3];
    for (int i = 0; i < 3; i++) {
        j[i] = (struct job){.q = q, .op = J_PUT, .item = T(10 + i), .timeout = WEFT_FOREVER};
        t[i] = start_job(&j[i]);
    }
    await_waiters(q, PUTTERS, 3);
    ck_assert_weft(weft_queue_close(q), 0);
    for (int i = 0; i < 3; i++) {
        join_job(t[i]);
        ck_assert_weft(j[i].rc, WEFT_ECLOSED);
    }
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 1);
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

static void collect(void *item, void *arg)
{
    uintptr_t *sum = arg;
    sum[0] += N(item);
    sum[1] = sum[1] * 10 + N(item); /* records the order */
}

START_TEST(queue_shutdown_hands_back_items_and_wakes_everyone)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 3);
    for (int i = 1; i <= 3; i++) ck_assert_weft(weft_queue_put(q, T(i), 0), 0);
    struct job p = {.q = q, .op = J_PUT, .item = T(9), .timeout = WEFT_FOREVER};
    struct job jn = {.q = q, .op = J_JOIN, .timeout = WEFT_FOREVER};
    weft_thread tp = {0}, tj = start_job(&jn);
    if (c->bounded) tp = start_job(&p); /* full: the putter blocks */
    if (c->bounded) await_waiters(q, PUTTERS, 1);
    await_waiters(q, JOINERS, 1);
    uintptr_t sum[2] = {0, 0};
    size_t handed = 0;
    ck_assert_weft(weft_queue_shutdown(q, collect, sum, &handed), 0);
    ck_assert_uint_eq(handed, 3);
    ck_assert_uint_eq(sum[0], 6);
    ck_assert_uint_eq(sum[1], c->order == WEFT_QUEUE_LIFO ? 321 : 123); /* get order */
    if (c->bounded) join_job(tp);
    join_job(tj);
    if (c->bounded) ck_assert_weft(p.rc, WEFT_ECLOSED);
    ck_assert_weft(jn.rc, 0); /* handed-back items count as done */
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_put(q, T(1), 0), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_shutdown(q, collect, sum, &handed), 0);
    ck_assert_uint_eq(handed, 0);
    ck_assert_weft(weft_queue_free(q), 0);

    q = make_row(c, 3);
    struct job g = {.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
    weft_thread tg = start_job(&g);
    await_waiters(q, GETTERS, 1);
    ck_assert_weft(weft_queue_shutdown(q, NULL, NULL, NULL), 0);
    join_job(tg);
    ck_assert_weft(g.rc, WEFT_ECLOSED);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

static void cancel_check(weft_queue *q, struct job *j, int list)
{
    weft_thread t = start_job(j);
    await_waiters(q, list, 1);
    weft__parker *k;
    while ((k = atomic_load(&j->parker)) == NULL) weft_sleep(WEFT_US(100));
    weft__parker_interrupt(k);
    join_job(t);
    ck_assert_weft(j->rc, WEFT_ECANCELED);
    ck_assert_uint_eq(count_list(q, list), 0);
}

START_TEST(queue_blocked_calls_are_cancellation_points)
{
    const struct cfg *c = &cfgs[_i];
    weft_queue *q = make_row(c, 1), *q2 = make_row(c, 1);
    struct job g = {.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
    cancel_check(q, &g, GETTERS);
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0); /* bounded rows: q is full now */
    struct job p = {.q = q, .op = J_PUT, .item = T(2), .timeout = WEFT_SEC(30)};
    if (c->bounded) cancel_check(q, &p, PUTTERS);
    struct job jn = {.q = q, .op = J_JOIN, .timeout = WEFT_FOREVER};
    cancel_check(q, &jn, JOINERS);
    struct job s = {.op = J_SELECT, .timeout = WEFT_FOREVER};
    s.cases[0] = c->bounded ? (weft_queue_case){q, WEFT_QUEUE_PUT, T(3)} /* q full: waits */
                            : (weft_queue_case){q2, WEFT_QUEUE_GET, NULL};
    s.cases[1] = (weft_queue_case){q2, WEFT_QUEUE_GET, NULL};
    cancel_check(q2, &s, GETTERS);
    ck_assert_uint_eq(count_list(q, PUTTERS), 0);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0); /* only the first item is there */
    ck_assert_uint_eq(N(it), 1);
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(q2), 0);
}
END_TEST

START_TEST(queue_batches_move_several_items)
{
    weft_queue *q = make(4, WEFT_QUEUE_FIFO);
    void *in[6] = {T(1), T(2), T(3), T(4), T(5), T(6)}, *out[8];
    size_t done = 99, got = 99;
    ck_assert_weft(weft_queue_put_many(q, in, 6, &done, 0), WEFT_EAGAIN);
    ck_assert_uint_eq(done, 4);
    ck_assert_weft(weft_queue_get_many(q, out, 8, &got, 0), 0);
    ck_assert_uint_eq(got, 4);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(N(out[i]), i + 1);
    ck_assert_weft(weft_queue_get_many(q, out, 8, &got, 0), WEFT_EAGAIN);
    ck_assert_uint_eq(got, 0);
    ck_assert_weft(weft_queue_get_many(q, out, 8, &got, WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_queue_put_many(q, in, 0, &done, 0), 0);
    ck_assert_uint_eq(done, 0);

    /* A blocked get is served by the first item of a put_many, the rest is stored. */
    struct job g = {.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
    weft_thread t = start_job(&g);
    await_waiters(q, GETTERS, 1);
    ck_assert_weft(weft_queue_put_many(q, in, 5, &done, WEFT_SEC(20)), 0);
    ck_assert_uint_eq(done, 5);
    join_job(t);
    ck_assert_uint_eq(N(g.item), 1);
    ck_assert_weft(weft_queue_get_many(q, out, 8, &got, WEFT_FOREVER), 0);
    ck_assert_uint_eq(got, 4);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(N(out[i]), i + 2);
    ck_assert_weft(weft_queue_close(q), 0);
    ck_assert_weft(weft_queue_put_many(q, in, 2, &done, 0), WEFT_ECLOSED);
    ck_assert_uint_eq(done, 0);
    ck_assert_weft(weft_queue_get_many(q, out, 8, &got, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_select_picks_a_ready_queue)
{
    const struct cfg *row = &cfgs[_i];
    weft_queue *a = make_row(row, 1), *b = make_row(row, 1);
    weft_queue_case c[2] = {{a, WEFT_QUEUE_GET, NULL}, {b, WEFT_QUEUE_GET, NULL}};
    size_t fired = 99;
    ck_assert_weft(weft_queue_select(c, 2, &fired, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_queue_select(c, 2, &fired, WEFT_MS(10)), WEFT_ETIMEDOUT);
    ck_assert_weft(weft_queue_put(b, T(7), 0), 0);
    ck_assert_weft(weft_queue_select(c, 2, &fired, 0), 0);
    ck_assert_uint_eq(fired, 1);
    ck_assert_uint_eq(N(c[1].item), 7);
    ck_assert_ptr_null(c[0].item);

    /* Both ready: the choice rotates, each fires. */
    int seen[2] = {0, 0};
    for (int i = 0; i < 4; i++) {
        ck_assert_weft(weft_queue_put(a, T(1), 0), 0);
        ck_assert_weft(weft_queue_put(b, T(2), 0), 0);
        ck_assert_weft(weft_queue_select(c, 2, &fired, 0), 0);
        seen[fired]++;
        void *it;
        ck_assert_weft(weft_queue_get(fired ? a : b, &it, 0), 0);
    }
    ck_assert_int_gt(seen[0], 0);
    ck_assert_int_gt(seen[1], 0);

    /* A put case (bounded rows): a full, b has room. */
    void *it;
    if (row->bounded) {
        ck_assert_weft(weft_queue_put(a, T(1), 0), 0);
        weft_queue_case p[2] = {{a, WEFT_QUEUE_PUT, T(5)}, {b, WEFT_QUEUE_PUT, T(6)}};
        ck_assert_weft(weft_queue_select(p, 2, &fired, 0), 0);
        ck_assert_uint_eq(fired, 1);
        ck_assert_weft(weft_queue_select(p, 2, &fired, 0), WEFT_EAGAIN);
        ck_assert_weft(weft_queue_get(b, &it, 0), 0);
        ck_assert_weft(weft_queue_get(a, &it, 0), 0);
    }

    /* A closed queue fires with WEFT_ECLOSED. */
    ck_assert_weft(weft_queue_close(b), 0);
    ck_assert_weft(weft_queue_select(c, 2, &fired, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_uint_eq(fired, 1);
    ck_assert_weft(weft_queue_free(a), 0);
    ck_assert_weft(weft_queue_free(b), 0);
}
END_TEST

START_TEST(queue_blocked_select_is_released_by_either_side)
{
    const struct cfg *c = &cfgs[_i]; /* bounded rows */
    weft_queue *a = make_row(c, 1), *b = make_row(c, 1);
    ck_assert_weft(weft_queue_put(a, T(1), 0), 0); /* a full: a put case must wait */
    struct job s = {.op = J_SELECT, .timeout = WEFT_FOREVER};
    s.cases[0] = (weft_queue_case){a, WEFT_QUEUE_PUT, T(2)};
    s.cases[1] = (weft_queue_case){b, WEFT_QUEUE_GET, NULL};
    weft_thread t = start_job(&s);
    await_waiters(b, GETTERS, 1);
    ck_assert_weft(weft_queue_put(b, T(3), 0), 0);
    join_job(t);
    ck_assert_weft(s.rc, 0);
    ck_assert_uint_eq(s.fired, 1);
    ck_assert_uint_eq(N(s.cases[1].item), 3);
    ck_assert_uint_eq(count_list(a, PUTTERS), 0); /* the other record was unlinked */

    s.cases[1].item = NULL;
    t = start_job(&s);
    await_waiters(a, PUTTERS, 1);
    void *it;
    ck_assert_weft(weft_queue_get(a, &it, 0), 0);
    ck_assert_uint_eq(N(it), 1);
    join_job(t);
    ck_assert_weft(s.rc, 0);
    ck_assert_uint_eq(s.fired, 0);
    ck_assert_weft(weft_queue_get(a, &it, 0), 0);
    ck_assert_uint_eq(N(it), 2); /* the select's put went in */
    ck_assert_uint_eq(count_list(b, GETTERS), 0);

    ck_assert_weft(weft_queue_put(a, T(1), 0), 0);
    t = start_job(&s);
    await_waiters(b, GETTERS, 1);
    ck_assert_weft(weft_queue_close(b), 0);
    join_job(t);
    ck_assert_weft(s.rc, WEFT_ECLOSED);
    ck_assert_uint_eq(s.fired, 1);
    ck_assert_weft(weft_queue_free(a), 0);
    ck_assert_weft(weft_queue_free(b), 0);
}
END_TEST

static int rev(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (N(b) > N(a)) - (N(b) < N(a));
}

START_TEST(queue_bad_input_is_an_error_code)
{
    weft_queue *q = NULL;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    ck_assert_weft(weft_queue_new(NULL, NULL), WEFT_EINVAL);
    o.order = 7;
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_EINVAL);
    o.order = WEFT_QUEUE_PRIORITY;
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_EINVAL); /* no comparator */
    o.order = WEFT_QUEUE_FIFO;
    o.compare = rev;
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_EINVAL); /* comparator without priority */
    o.compare = NULL;
    o.capacity = WEFT_QUEUE_CAPACITY_MAX + 1;
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_weft(weft_queue_new(&q, NULL), 0);

    void *it, *arr[2] = {0, 0};
    size_t n;
    ck_assert_weft(weft_queue_put(NULL, T(1), 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_put(q, T(1), -1), WEFT_EINVAL);
    ck_assert_weft(weft_queue_get(NULL, &it, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_get(q, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_get(q, &it, -5), WEFT_EINVAL);
    ck_assert_weft(weft_queue_put_many(q, NULL, 2, &n, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_put_many(q, arr, 2, &n, -1), WEFT_EINVAL);
    ck_assert_uint_eq(n, 0);
    ck_assert_weft(weft_queue_get_many(q, arr, 0, &n, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_get_many(q, arr, 2, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_get_many(q, NULL, 2, &n, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_task_done(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_queue_join(NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_join(q, -1), WEFT_EINVAL);
    ck_assert_weft(weft_queue_close(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_queue_shutdown(NULL, NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_uint_eq(weft_queue_size(NULL), 0);
    ck_assert_int_eq(weft_queue_full(NULL), 0);
    weft_queue_case c[2] = {{q, WEFT_QUEUE_GET, NULL}, {NULL, WEFT_QUEUE_GET, NULL}};
    ck_assert_weft(weft_queue_select(NULL, 1, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_select(c, 0, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_select(c, WEFT_QUEUE_SELECT_MAX + 1, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_queue_select(c, 2, NULL, 0), WEFT_EINVAL);
    c[0].op = 5;
    ck_assert_weft(weft_queue_select(c, 1, NULL, 0), WEFT_EINVAL);
    c[0].op = WEFT_QUEUE_GET;
    ck_assert_weft(weft_queue_select(c, 1, NULL, -1), WEFT_EINVAL);
    ck_assert_weft(weft_queue_free(NULL), 0);

    /* Free while a thread is blocked is refused, not a use-after-free. */
    struct job g = {.q = q, .op = J_GET, .timeout = WEFT_FOREVER};
    weft_thread t = start_job(&g);
    await_waiters(q, GETTERS, 1);
    ck_assert_weft(weft_queue_free(q), WEFT_EBUSY);
    ck_assert_weft(weft_queue_close(q), 0);
    join_job(t);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_allocation_failures_are_reported)
{
    weft_queue *q = NULL;
    weft_queue_opts o = {16, WEFT_QUEUE_FIFO, NULL, NULL, {0}};
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_ENOMEM);
    weft__fault_arm(WEFT__FAULT_ALLOC, 2); /* the ring */
    ck_assert_weft(weft_queue_new(&q, &o), WEFT_ENOMEM);
    ck_assert_ptr_null(q);

    /* An unbounded queue that cannot grow: put fails, the caller keeps the item. */
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_queue_put(q, T(1), 0), WEFT_ENOMEM);
    ck_assert_weft(weft_queue_join(q, 0), 0); /* not counted */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert_weft(weft_queue_free(q), 0);

    o = (weft_queue_opts){0, WEFT_QUEUE_PRIORITY, rev, NULL, {0}};
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    for (int i = 0; i < 16; i++) ck_assert_weft(weft_queue_put(q, T(i), 0), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_queue_put(q, T(99), 0), WEFT_ENOMEM);
    ck_assert_weft(weft_queue_put(q, T(99), 0), 0);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 99); /* rev: largest first */
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Getters with tiny timeouts race producers: a hand-off must never be lost to a timeout. */
struct race {
    weft_queue *q;
    _Atomic uint64_t got, sum;
};

static int racing_getter(void *arg)
{
    struct race *r = arg;
    void *it;
    int rc;
    while ((rc = weft_queue_get(r->q, &it, WEFT_US(20))) != WEFT_ECLOSED) {
        if (rc != 0) continue;
        atomic_fetch_add(&r->got, 1);
        atomic_fetch_add(&r->sum, N(it));
    }
    return 0;
}

START_TEST(queue_handoff_is_never_lost_to_a_timeout)
{
    const struct cfg *c = &cfgs[_i];
    long m = weft_test_scale(20000);
    struct race r = {.q = make_row(c, 4)};
    weft_thread t[3];
    for (int i = 0; i < 3; i++)
        ck_assert_weft(weft_thread_start(&t[i], racing_getter, &r, NULL), 0);
    uint64_t sum = 0;
    for (long i = 1; i <= m; i++) {
        ck_assert_weft(weft_queue_put(r.q, T(i), WEFT_FOREVER), 0);
        sum += (uint64_t)i;
    }
    ck_assert_weft(weft_queue_close(r.q), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_SEC(30)), 0);
    ck_assert_uint_eq(atomic_load(&r.got), (uint64_t)m);
    ck_assert_uint_eq(atomic_load(&r.sum), sum);
    ck_assert_weft(weft_queue_free(r.q), 0);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {queue_priority_order_is_stable, queue_batches_move_several_items,
                                  queue_bad_input_is_an_error_code,
                                  queue_allocation_failures_are_reported, NULL};
    /* Each conformance test over all rows, the bounded rows or the unbounded ones. */
    const weft_test_loop loops[] = {
        {queue_order_is_kept, 0, ROWS},
        {queue_unbounded_crosses_segments, BOUNDED, ROWS},
        {queue_try_variants_and_sizes, 0, BOUNDED},
        {queue_timeouts_expire, 0, ROWS},
        {queue_blocking_get_is_released_by_put, 0, ROWS},
        {queue_blocking_put_is_released_by_get, 0, BOUNDED},
        {queue_join_waits_for_every_task_done, 0, ROWS},
        {queue_task_done_never_overtakes_its_put, 0, ROWS},
        {queue_task_accounting_counts_every_put, 0, ROWS},
        {queue_blocked_join_is_released_by_task_done, 0, ROWS},
        {queue_close_drains_then_fails_every_consumer, 0, ROWS},
        {queue_close_wakes_blocked_putters_who_keep_their_items, 0, BOUNDED},
        {queue_shutdown_hands_back_items_and_wakes_everyone, 0, ROWS},
        {queue_blocked_calls_are_cancellation_points, 0, ROWS},
        {queue_select_picks_a_ready_queue, 0, ROWS},
        {queue_blocked_select_is_released_by_either_side, 0, BOUNDED},
        {queue_handoff_is_never_lost_to_a_timeout, 0, ROWS},
    };
    return weft_test_run_loops("queue", 30, tests, loops, sizeof loops / sizeof loops[0]);
}
