/* tests/stress/queue_stress.c - many tagged items through one queue, P producers and C
 * consumers, ended by a drain, a close or a shutdown at a random moment.
 *
 * Every item is a tag (producer, sequence number). A bitmap marks each tag when it is delivered
 * to a consumer or handed back by shutdown: a second mark is a duplicate. At the end every
 * item that a put accepted must be marked exactly once (count and checksum), and nothing else.
 * Producers mix put and put_many, consumers mix get, get_many and select (over the queue and
 * an idle one), so every path that moves an item runs under contention. Bounded queues have
 * capacity 64; each test runs once per store, over the table `rows`.
 *
 * Items per FIFO run: weft_test_scale(1600000) (a quarter of that for LIFO and priority runs);
 * WEFT_STRESS=7 gives the full run of more than 10^7 items per FIFO run. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "figures.h"
#include "test.h"

#define TAG(p, i) ((void *)(uintptr_t)(((uint64_t)(p) << 32) | ((uint64_t)(i) + 1)))

enum { END_DRAIN, END_CLOSE, END_SHUTDOWN };

struct run {
    weft_queue *q, *idle;
    int producers, consumers;
    long per_producer;
    _Atomic uint64_t *seen; /* bitmap over producer * per_producer + i */
    _Atomic uint64_t put_n, put_sum, got_n, got_sum, dup;
    _Atomic int producers_left;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

static void mark(struct run *r, void *item)
{
    uint64_t t = (uint64_t)(uintptr_t)item;
    uint64_t p = t >> 32, i = (t & 0xffffffffu) - 1;
    uint64_t bit = p * (uint64_t)r->per_producer + i;
    uint64_t old = atomic_fetch_or(&r->seen[bit / 64], 1ull << (bit % 64));
    if (old & (1ull << (bit % 64))) atomic_fetch_add(&r->dup, 1);
    atomic_fetch_add_explicit(&r->got_n, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->got_sum, mix(t), memory_order_relaxed);
}

struct prod {
    struct run *r;
    int id;
};

static void count_put(struct run *r, void *const *items, size_t n)
{
    uint64_t s = 0;
    for (size_t k = 0; k < n; k++) s += mix((uint64_t)(uintptr_t)items[k]);
    atomic_fetch_add_explicit(&r->put_n, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->put_sum, s, memory_order_relaxed);
}

static int producer(void *arg)
{
    struct prod *pr = arg;
    struct run *r = pr->r;
    void *batch[16];
    int rc = 0;
    for (long i = 0; i < r->per_producer && rc == 0;) {
        if (pr->id % 2 == 1 && r->per_producer - i >= 16) {
            for (int k = 0; k < 16; k++) batch[k] = TAG(pr->id, i + k);
            size_t done = 0;
            rc = weft_queue_put_many(r->q, batch, 16, &done, WEFT_FOREVER);
            count_put(r, batch, done);
            i += (long)done;
        } else {
            void *it = TAG(pr->id, i);
            if ((rc = weft_queue_put(r->q, it, WEFT_FOREVER)) == 0) count_put(r, &it, 1);
            i++;
        }
    }
    atomic_fetch_sub(&r->producers_left, 1);
    return rc == 0 || rc == WEFT_ECLOSED ? 0 : rc;
}

/* A consumer's item: record it, then task_done (which must never fail: every item taken was
 * counted when it was put). */
static int took(struct run *r, weft_queue *q, void *item)
{
    mark(r, item);
    return weft_queue_task_done(q) == 0 ? 0 : -2;
}

static int consume_one_way(struct run *r, int kind)
{
    void *items[16];
    size_t got;
    int rc;
    switch (kind) {
    case 0:
        if ((rc = weft_queue_get(r->q, &items[0], WEFT_FOREVER)) == 0) rc = took(r, r->q, items[0]);
        return rc;
    case 1:
        rc = weft_queue_get_many(r->q, items, 16, &got, WEFT_FOREVER);
        for (size_t k = 0; rc == 0 && k < got; k++) rc = took(r, r->q, items[k]);
        return rc;
    default: {
        weft_queue_case c[2] = {{r->idle, WEFT_QUEUE_GET, NULL}, {r->q, WEFT_QUEUE_GET, NULL}};
        size_t fired = 1;
        rc = weft_queue_select(c, 2, &fired, WEFT_FOREVER);
        if (rc == 0) rc = took(r, r->q, c[fired].item);
        return rc == 0 || fired == 1 ? rc : -1;
    }
    }
}

static int consume_plain(struct run *r, weft_queue *q)
{
    void *it;
    int rc;
    while ((rc = weft_queue_get(q, &it, WEFT_FOREVER)) == 0)
        if (took(r, q, it) != 0) return 2;
    return rc == WEFT_ECLOSED ? 0 : 1;
}

struct cons {
    struct run *r;
    int id;
};

static int consumer(void *arg)
{
    struct cons *c = arg;
    int rc;
    while ((rc = consume_one_way(c->r, c->id % 3)) == 0) continue;
    return rc == WEFT_ECLOSED ? 0 : 100 + rc;
}

static void handed_back(void *item, void *arg)
{
    mark(arg, item);
}

/* Wait until about `fraction` of the items went through, then end the run. */
static void end_run(struct run *r, int how, double fraction)
{
    uint64_t goal = (uint64_t)(fraction * (double)r->producers * (double)r->per_producer);
    while (atomic_load(&r->got_n) < goal && atomic_load(&r->producers_left) > 0)
        weft_sleep(WEFT_US(200));
    if (how == END_DRAIN) {
        while (atomic_load(&r->producers_left) > 0) weft_sleep(WEFT_US(200));
        ck_assert_weft(weft_queue_join(r->q, WEFT_SEC(60)), 0); /* every item got its task_done */
    }
    if (how == END_SHUTDOWN) {
        size_t handed = 0;
        ck_assert_weft(weft_queue_shutdown(r->q, handed_back, r, &handed), 0);
    } else {
        ck_assert_weft(weft_queue_close(r->q), 0);
    }
}

static int by_tag(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((uintptr_t)a > (uintptr_t)b) - ((uintptr_t)a < (uintptr_t)b);
}

static void one_run(int producers, int consumers, int order, size_t cap, int how, unsigned seed)
{
    struct run r = {.producers = producers, .consumers = consumers};
    r.per_producer = weft_test_scale(order == WEFT_QUEUE_FIFO ? 1600000 : 400000) / producers + 16;
    size_t bits = (size_t)producers * (size_t)r.per_producer;
    r.seen = calloc(bits / 64 + 1, sizeof *r.seen);
    ck_assert_ptr_nonnull(r.seen);
    atomic_store(&r.producers_left, producers);
    weft_queue_opts o = {cap, order, order == WEFT_QUEUE_PRIORITY ? by_tag : NULL, NULL, {0}};
    ck_assert_weft(weft_queue_new(&r.q, &o), 0);
    ck_assert_weft(weft_queue_new(&r.idle, NULL), 0);

    weft_thread tp[8], tc[8];
    struct prod pa[8];
    struct cons ca[8];
    for (int i = 0; i < producers; i++) {
        pa[i] = (struct prod){&r, i};
        ck_assert_weft(weft_thread_start(&tp[i], producer, &pa[i], NULL), 0);
    }
    for (int i = 0; i < consumers; i++) {
        ca[i] = (struct cons){&r, i};
        ck_assert_weft(weft_thread_start(&tc[i], consumer, &ca[i], NULL), 0);
    }
    end_run(&r, how, how == END_DRAIN ? 1.0 : (double)(seed % 90) / 100.0);
    for (int i = 0; i < producers; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(tp[i], &st, WEFT_SEC(120)), 0);
        ck_assert_int_eq(st, 0);
    }
    for (int i = 0; i < consumers; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(tc[i], &st, WEFT_SEC(120)), 0);
        ck_assert_int_eq(st, 0);
    }
    uint64_t dup = atomic_load(&r.dup), got_n = atomic_load(&r.got_n);
    uint64_t put_n = atomic_load(&r.put_n), got_sum = atomic_load(&r.got_sum);
    uint64_t put_sum = atomic_load(&r.put_sum);
    ck_assert_uint_eq(dup, 0);
    ck_assert_uint_eq(got_n, put_n);
    ck_assert_uint_eq(got_sum, put_sum);
    if (how == END_DRAIN) ck_assert_uint_eq(put_n, bits);
    weft_test_figure("queue_items_moved", got_n); /* each checked: once, none lost */
    ck_assert_int_eq(weft_queue_empty(r.q), 1);
    ck_assert_weft(weft_queue_free(r.q), 0);
    ck_assert_weft(weft_queue_free(r.idle), 0);
    free(r.seen);
}

/* The stores each stress test runs on, one row each (Check's loop tests: a failure names the
 * row): the lock-free ring (FIFO, 64) and list (FIFO, unbounded), the locked ring (LIFO, 64)
 * and heap (priority, unbounded). The locked ones get a quarter of the items (one_run): they
 * are not what the item count is meant to push. */
static const struct row {
    int order;
    size_t cap;
    unsigned salt; /* makes each row's random ending point differ */
} rows[] = {
    {WEFT_QUEUE_FIFO, 64, 7},
    {WEFT_QUEUE_FIFO, 0, 13},
    {WEFT_QUEUE_LIFO, 64, 17},
    {WEFT_QUEUE_PRIORITY, 0, 19},
};
enum { ROWS = sizeof rows / sizeof rows[0] };

/* Each ending on one row's store. */
static void stress(int producers, int consumers, const struct row *r)
{
    unsigned seed = (unsigned)weft_test_seed(); /* WEFT_SEED replays a run */
    for (int how = END_DRAIN; how <= END_SHUTDOWN; how++)
        one_run(producers, consumers, r->order, r->cap, how, seed * r->salt + (unsigned)how);
}

/* select over a lock-free ring, a locked LIFO and a lock-free list at once: producers put
 * into one queue each (one of them through select over two), consumers select over all three
 * (one plain get); everything is closed when the producers are done. */
struct mixed {
    struct run *r;
    weft_queue *qs[3];
    int id;
};

static int mixed_producer(void *arg)
{
    struct mixed *m = arg;
    for (long i = 0; i < m->r->per_producer; i++) {
        void *it = TAG(m->id, i);
        int rc;
        if (m->id == 3) {
            weft_queue_case c[2] = {{m->qs[0], WEFT_QUEUE_PUT, it}, {m->qs[1], WEFT_QUEUE_PUT, it}};
            rc = weft_queue_select(c, 2, NULL, WEFT_FOREVER);
        } else {
            rc = weft_queue_put(m->qs[m->id], it, WEFT_FOREVER);
        }
        if (rc != 0) return 1;
        count_put(m->r, &it, 1);
    }
    return 0;
}

static int mixed_consumer(void *arg)
{
    struct mixed *m = arg;
    weft_queue_case c[3];
    size_t n = 3, fired;
    for (int i = 0; i < 3; i++) c[i] = (weft_queue_case){m->qs[i], WEFT_QUEUE_GET, NULL};
    if (m->id == 3) return consume_plain(m->r, m->qs[0]);
    while (n > 0) {
        int rc = weft_queue_select(c, n, &fired, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) {
            c[fired] = c[--n]; /* that queue is drained: select over the others */
            continue;
        }
        if (rc != 0 || took(m->r, c[fired].queue, c[fired].item) != 0) return 1;
    }
    return 0;
}

START_TEST(queue_stress_select_over_mixed_queues)
{
    struct run r = {.producers = 4, .per_producer = weft_test_scale(400000) / 4 + 16};
    r.seen = calloc((size_t)r.producers * (size_t)r.per_producer / 64 + 1, sizeof *r.seen);
    ck_assert_ptr_nonnull(r.seen);
    weft_queue_opts o[3] = {{64, WEFT_QUEUE_FIFO, NULL, NULL, {0}},
                            {0, WEFT_QUEUE_LIFO, NULL, NULL, {0}},
                            {0, WEFT_QUEUE_FIFO, NULL, NULL, {0}}};
    struct mixed pm[4], cm[4];
    weft_thread tp[4], tc[4];
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_new(&pm[0].qs[i], &o[i]), 0);
    for (int i = 0; i < 4; i++) {
        pm[i] = (struct mixed){&r, {pm[0].qs[0], pm[0].qs[1], pm[0].qs[2]}, i};
        cm[i] = pm[i];
        ck_assert_weft(weft_thread_start(&tp[i], mixed_producer, &pm[i], NULL), 0);
        ck_assert_weft(weft_thread_start(&tc[i], mixed_consumer, &cm[i], NULL), 0);
    }
    int st;
    for (int i = 0; i < 4; i++) {
        ck_assert_weft(weft_thread_join(tp[i], &st, WEFT_SEC(120)), 0);
        ck_assert_int_eq(st, 0);
    }
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_close(pm[0].qs[i]), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_weft(weft_thread_join(tc[i], &st, WEFT_SEC(120)), 0);
        ck_assert_int_eq(st, 0);
    }
    uint64_t dup = atomic_load(&r.dup), got_n = atomic_load(&r.got_n);
    uint64_t put_n = atomic_load(&r.put_n);
    ck_assert_uint_eq(dup, 0);
    ck_assert_uint_eq(got_n, put_n);
    ck_assert_uint_eq(put_n, 4 * (uint64_t)r.per_producer);
    weft_test_figure("queue_items_moved", got_n);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_queue_free(pm[0].qs[i]), 0);
    free(r.seen);
}
END_TEST

START_TEST(queue_stress_1p_1c)
{
    stress(1, 1, &rows[_i]);
}
END_TEST

START_TEST(queue_stress_4p_4c)
{
    stress(4, 4, &rows[_i]);
}
END_TEST

START_TEST(queue_stress_8p_2c)
{
    stress(8, 2, &rows[_i]);
}
END_TEST

START_TEST(queue_stress_2p_8c)
{
    stress(2, 8, &rows[_i]);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {queue_stress_select_over_mixed_queues, NULL};
    const weft_test_loop loops[] = {{queue_stress_1p_1c, 0, ROWS},
                                    {queue_stress_4p_4c, 0, ROWS},
                                    {queue_stress_8p_2c, 0, ROWS},
                                    {queue_stress_2p_8c, 0, ROWS}};
    return weft_test_run_loops("queue_stress", 90, tests, loops, sizeof loops / sizeof loops[0]);
}
