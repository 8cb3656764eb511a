/* tests/unit/queue_fd_test.c - weft_queue_fd: the descriptor an event loop polls is readable
 * exactly while a get with timeout 0 would find an item (or the queue is closed), watched with
 * epoll as a server would. One body runs over every store (the rows of queue_test.c): the
 * lock-free ring and list, whose operations reach the descriptor through the phantom waiter
 * (src/queue/fd.c), and the locked stores, which sync under their lock.
 * Handshakes, not sleeps: "the getter is blocked" is read from the queue's waiter list. */
#include <stdatomic.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"
#include "test_hooks.h"

#define T(x) ((void *)(uintptr_t)(x))
#define N(p) ((uintptr_t)(p))

static const struct cfg {
    int order;
    bool bounded;
} cfgs[] = {
    {WEFT_QUEUE_FIFO, true},  {WEFT_QUEUE_LIFO, true},  {WEFT_QUEUE_PRIORITY, true},
    {WEFT_QUEUE_FIFO, false}, {WEFT_QUEUE_LIFO, false}, {WEFT_QUEUE_PRIORITY, false},
};
enum { ROWS = sizeof cfgs / sizeof cfgs[0] };

static int by_value(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((uintptr_t)a > (uintptr_t)b) - ((uintptr_t)a < (uintptr_t)b);
}

static weft_queue *make_row(const struct cfg *c, size_t cap)
{
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = c->bounded ? cap : 0;
    o.order = c->order;
    o.compare = c->order == WEFT_QUEUE_PRIORITY ? by_value : NULL;
    weft_queue *q = NULL;
    ck_assert_weft(weft_queue_new(&q, &o), 0);
    return q;
}

static int fd_of(weft_queue *q)
{
    int fd = -1;
    ck_assert_weft(weft_queue_fd(q, &fd), 0);
    ck_assert_int_ge(fd, 0);
    return fd;
}

START_TEST(queue_fd_readable_exactly_while_items_remain)
{
    weft_queue *q = make_row(&cfgs[_i], 4);
    int fd = fd_of(q), ep = weft_test_watch(fd), again = -1;
    ck_assert_weft(weft_queue_fd(q, &again), 0);
    ck_assert_int_eq(again, fd);        /* one descriptor per queue */
    ck_assert(!weft_test_readable(ep)); /* empty: not before */
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert(weft_test_readable(ep)); /* exactly when the item is put */
    ck_assert_weft(weft_queue_put(q, T(2), 0), 0);
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert(weft_test_readable(ep)); /* stays readable while items remain */
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert(!weft_test_readable(ep)); /* not after the last get */
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_EAGAIN);
    /* Batches and select keep it right too. */
    void *in[3] = {T(3), T(4), T(5)}, *out[4];
    size_t n;
    ck_assert_weft(weft_queue_put_many(q, in, 3, &n, 0), 0);
    ck_assert(weft_test_readable(ep));
    ck_assert_weft(weft_queue_get_many(q, out, 4, &n, 0), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(!weft_test_readable(ep));
    weft_queue_case cs[1] = {{q, WEFT_QUEUE_PUT, T(6)}};
    ck_assert_weft(weft_queue_select(cs, 1, NULL, 0), 0);
    ck_assert(weft_test_readable(ep));
    cs[0] = (weft_queue_case){q, WEFT_QUEUE_GET, NULL};
    ck_assert_weft(weft_queue_select(cs, 1, NULL, 0), 0);
    ck_assert(!weft_test_readable(ep));
    close(ep);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Asked for while items are already inside: readable at once. */
START_TEST(queue_fd_made_late_sees_the_items)
{
    weft_queue *q = make_row(&cfgs[_i], 4);
    ck_assert_weft(weft_queue_put(q, T(7), 0), 0);
    int ep = weft_test_watch(fd_of(q));
    ck_assert(weft_test_readable(ep));
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert(!weft_test_readable(ep));
    close(ep);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

START_TEST(queue_fd_readable_on_close_and_shutdown)
{
    weft_queue *q = make_row(&cfgs[_i], 4);
    int ep = weft_test_watch(fd_of(q));
    ck_assert_weft(weft_queue_put(q, T(1), 0), 0);
    ck_assert_weft(weft_queue_close(q), 0);
    void *it;
    ck_assert(weft_test_readable(ep));
    ck_assert_weft(weft_queue_get(q, &it, 0), 0); /* close drains */
    ck_assert(weft_test_readable(ep));            /* closed and empty: the end is news too */
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_ECLOSED);
    ck_assert(weft_test_readable(ep));
    close(ep);
    ck_assert_weft(weft_queue_free(q), 0);

    q = make_row(&cfgs[_i], 4);
    ep = weft_test_watch(fd_of(q));
    ck_assert(!weft_test_readable(ep));
    ck_assert_weft(weft_queue_shutdown(q, NULL, NULL, NULL), 0);
    ck_assert(weft_test_readable(ep));
    ck_assert_weft(weft_queue_get(q, &it, 0), WEFT_ECLOSED);
    close(ep);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

struct getter {
    weft_queue *q;
    void *item;
    int rc;
};

static int get_forever(void *arg)
{
    struct getter *g = arg;
    g->rc = weft_queue_get(g->q, &g->item, WEFT_FOREVER);
    return 0;
}

static void await_getter(weft_queue *q)
{
    while (weft__test_queue_parked(q, WEFT__TEST_GETTERS) < 1) weft_sleep(WEFT_US(200));
}

/* Cancellation leaves the queue, and so the descriptor, as it was; the cancelled getter's
 * record takes nothing, and the next item makes the fd readable for the loop. A getter
 * served while blocked takes the item before the loop could: the fd does not stay raised. */
START_TEST(queue_fd_with_blocked_and_cancelled_getters)
{
    weft_queue *q = make_row(&cfgs[_i], 4);
    int ep = weft_test_watch(fd_of(q));
    struct getter g = {.q = q};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, get_forever, &g, NULL), 0);
    await_getter(q);
    ck_assert_weft(weft_thread_stop(t), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(20)), 0);
    ck_assert_weft(g.rc, WEFT_ECANCELED);
    ck_assert(!weft_test_readable(ep));
    ck_assert_weft(weft_queue_put(q, T(5), 0), 0);
    ck_assert(weft_test_readable(ep));
    void *it;
    ck_assert_weft(weft_queue_get(q, &it, 0), 0);
    ck_assert_uint_eq(N(it), 5);
    ck_assert(!weft_test_readable(ep));

    g = (struct getter){.q = q};
    ck_assert_weft(weft_thread_start(&t, get_forever, &g, NULL), 0);
    await_getter(q);
    ck_assert_weft(weft_queue_put(q, T(6), WEFT_FOREVER), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(20)), 0);
    ck_assert_weft(g.rc, 0);
    ck_assert_uint_eq(N(g.item), 6);
    ck_assert(!weft_test_readable(ep));
    close(ep);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Races: producers and consumers hammer the queue while a poller thread waits on the fd and
 * gets with timeout 0 (WEFT_EAGAIN is allowed while others run); in some rounds the fd is
 * asked for in the middle of the traffic. At quiescence the fd must say exactly whether an
 * item is left, and a loop that drains it by readiness must get every item. */
enum { PRODUCERS = 2, CONSUMERS = 2, PER = 400, ROUNDS = 40 };

struct race {
    weft_queue *q;
    int ep;
    _Atomic int fd_made, stop;
    _Atomic long got;
};

static int producer(void *arg)
{
    struct race *r = arg;
    for (long i = 1; i <= PER; i++) ck_assert_weft(weft_queue_put(r->q, T(i), WEFT_FOREVER), 0);
    return 0;
}

static int consumer(void *arg)
{
    struct race *r = arg;
    void *it;
    /* Take until three quarters are gone (with the poller's), so that some are left over. */
    while (atomic_load(&r->got) < PRODUCERS * PER * 3 / 4) {
        if (weft_queue_get(r->q, &it, 0) == 0)
            atomic_fetch_add(&r->got, 1);
        else
            sched_yield();
    }
    return 0;
}

static int poller(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        if (!atomic_load(&r->fd_made) || !weft_test_readable_within(r->ep, 1)) continue;
        void *it;
        int rc = weft_queue_get(r->q, &it, 0);
        ck_assert(rc == 0 || rc == WEFT_EAGAIN);
        if (rc == 0) atomic_fetch_add(&r->got, 1);
    }
    return 0;
}

START_TEST(queue_fd_is_right_after_racing_puts_and_gets)
{
    for (int round = 0; round < ROUNDS; round++) {
        struct race r = {.q = make_row(&cfgs[_i], 64), .ep = epoll_create1(EPOLL_CLOEXEC)};
        bool late = round % 2;
        int fd = -1;
        if (!late) {
            fd = fd_of(r.q);
            struct epoll_event ev = {.events = EPOLLIN};
            ck_assert_int_eq(epoll_ctl(r.ep, EPOLL_CTL_ADD, fd, &ev), 0);
            atomic_store(&r.fd_made, 1);
        }
        weft_thread t[PRODUCERS + CONSUMERS + 1];
        int n = 0;
        for (int i = 0; i < PRODUCERS; i++)
            ck_assert_weft(weft_thread_start(&t[n++], producer, &r, NULL), 0);
        for (int i = 0; i < CONSUMERS; i++)
            ck_assert_weft(weft_thread_start(&t[n++], consumer, &r, NULL), 0);
        ck_assert_weft(weft_thread_start(&t[n++], poller, &r, NULL), 0);
        if (late) { /* ask while the traffic runs */
            fd = fd_of(r.q);
            struct epoll_event ev = {.events = EPOLLIN};
            ck_assert_int_eq(epoll_ctl(r.ep, EPOLL_CTL_ADD, fd, &ev), 0);
            atomic_store(&r.fd_made, 1);
        }
        for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
            ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_SEC(60)), 0);
        atomic_store(&r.stop, 1);
        ck_assert_weft(weft_thread_join(t[n - 1], NULL, WEFT_SEC(60)), 0);
        /* Quiescence: readable exactly when something is left; drain by readiness. */
        long left = PRODUCERS * PER - atomic_load(&r.got);
        ck_assert_uint_eq(weft_queue_size(r.q), (size_t)left);
        ck_assert(weft_test_readable(r.ep) == (left > 0));
        void *it;
        while (weft_test_readable(r.ep)) {
            ck_assert_weft(weft_queue_get(r.q, &it, 0), 0); /* never readable with nothing */
            left--;
        }
        ck_assert_int_eq(left, 0); /* never an item left behind an unreadable fd */
        ck_assert_weft(weft_queue_get(r.q, &it, 0), WEFT_EAGAIN);
        close(r.ep);
        ck_assert_weft(weft_queue_free(r.q), 0);
    }
}
END_TEST

START_TEST(queue_fd_bad_input_is_an_error_code)
{
    weft_queue *q = make_row(&cfgs[0], 1);
    int fd;
    ck_assert_weft(weft_queue_fd(NULL, &fd), WEFT_EINVAL);
    ck_assert_weft(weft_queue_fd(q, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {queue_fd_bad_input_is_an_error_code, NULL};
    const weft_test_loop loops[] = {
        {queue_fd_readable_exactly_while_items_remain, 0, ROWS},
        {queue_fd_made_late_sees_the_items, 0, ROWS},
        {queue_fd_readable_on_close_and_shutdown, 0, ROWS},
        {queue_fd_with_blocked_and_cancelled_getters, 0, ROWS},
        {queue_fd_is_right_after_racing_puts_and_gets, 0, ROWS},
    };
    return weft_test_run_loops("queue_fd", 60, tests, loops, sizeof loops / sizeof loops[0]);
}
