/* tests/unit/future_fd_test.c - weft_future_fd (readable exactly once the future is done) and
 * weft_future_route (a completion queue an event loop polls), watched with epoll. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

static int future_fd(weft_future *f)
{
    int fd = -1, again = -1;
    ck_assert_weft(weft_future_fd(f, &fd), 0);
    ck_assert_weft(weft_future_fd(f, &again), 0);
    ck_assert_int_eq(fd, again);
    return fd;
}

/* A task that waits for the test's go. */
static int gated(void *arg, void **result)
{
    ck_assert_weft(weft_event_wait(arg, WEFT_SEC(30)), 0);
    *result = arg;
    return 0;
}

START_TEST(future_fd_readable_exactly_once_done)
{
    weft_future *f;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    int ep = weft_test_watch(future_fd(f));
    ck_assert(!weft_test_readable(ep));
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert(weft_test_readable(ep));
    ck_assert(weft_test_readable(ep)); /* and stays so */
    close(ep);
    weft_future_unref(f);

    /* A pool's future, done while the fd is watched, and one asked for after it was done. */
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_event go = WEFT_EVENT_INIT;
    ck_assert_weft(weft_pool_submit(p, gated, &go, &f, WEFT_FOREVER), 0);
    ep = weft_test_watch(future_fd(f));
    ck_assert(!weft_test_readable(ep));
    ck_assert_weft(weft_event_set(&go), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(30)), 0);
    ck_assert(weft_test_readable(ep));
    close(ep);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_submit(p, gated, &go, &f, WEFT_FOREVER), 0);
    ck_assert_weft(weft_future_wait(f, WEFT_SEC(30)), 0);
    ep = weft_test_watch(future_fd(f));
    ck_assert(weft_test_readable(ep));
    close(ep);
    weft_future_unref(f);
    weft_pool_free(p);
}
END_TEST

START_TEST(future_fd_readable_when_cancelled)
{
    weft_future *f;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    int ep = weft_test_watch(future_fd(f));
    ck_assert_weft(weft_future_cancel(f), 0);
    ck_assert(weft_test_readable(ep));
    close(ep);
    weft_future_unref(f);
}
END_TEST

struct setter {
    weft_future *f;
    weft_event ready;
};

static int set_it(void *arg)
{
    struct setter *s = arg;
    weft_event_wait(&s->ready, WEFT_SEC(30));
    return weft_future_set_result(s->f, NULL, NULL);
}

/* The fd asked for while another thread completes the future: readable afterwards, every
 * time (either the completer sees the listener, or the asker sees the completion). Many
 * futures come and go, so that recycled records start with no descriptor. */
START_TEST(future_fd_made_racing_completion_is_raised)
{
    for (int i = 0; i < 500; i++) {
        struct setter s = {.ready = WEFT_EVENT_INIT};
        ck_assert_weft(weft_future_new(&s.f, NULL), 0);
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, set_it, &s, NULL), 0);
        weft_event_set(&s.ready);
        int ep = weft_test_watch(future_fd(s.f));
        ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(30)), 0);
        ck_assert(weft_test_readable(ep));
        close(ep);
        weft_future_unref(s.f);
        weft_future *plain; /* a record reused after one with an fd has none */
        ck_assert_weft(weft_future_new(&plain, NULL), 0);
        ep = weft_test_watch(future_fd(plain));
        ck_assert(!weft_test_readable(ep));
        close(ep);
        weft_future_unref(plain);
    }
}
END_TEST

static int square(void *arg, void **result)
{
    intptr_t x = (intptr_t)arg;
    *result = (void *)(x * x);
    return 0;
}

/* A pool's completions heard through one queue's fd, as an event loop would. */
START_TEST(future_route_delivers_every_completion_to_the_queue)
{
    enum { TASKS = 200 };
    weft_pool *p;
    weft_queue *q;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    int fd;
    ck_assert_weft(weft_queue_fd(q, &fd), 0);
    int ep = weft_test_watch(fd);
    ck_assert(!weft_test_readable(ep));
    for (intptr_t i = 0; i < TASKS; i++) {
        weft_future *f;
        ck_assert_weft(weft_pool_submit(p, square, (void *)i, &f, WEFT_FOREVER), 0);
        ck_assert_weft(weft_future_route(f, q), 0);
        weft_future_unref(f); /* the queue's item keeps its own reference */
    }
    int64_t sum = 0;
    int got = 0;
    while (got < TASKS) {
        ck_assert(weft_test_readable_within(ep, 30000));
        void *item;
        while (weft_queue_get(q, &item, 0) == 0) {
            void *r;
            ck_assert_weft(weft_future_result(item, &r, 0), 0);
            sum += (intptr_t)r;
            weft_future_unref(item);
            got++;
        }
    }
    ck_assert_int_eq(sum, (int64_t)(TASKS - 1) * TASKS * (2 * TASKS - 1) / 6);
    ck_assert(!weft_test_readable(ep));
    close(ep);
    weft_queue *bounded;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = 4;
    ck_assert_weft(weft_queue_new(&bounded, &o), 0);
    weft_future *f;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_future_route(f, bounded), WEFT_EINVAL);
    ck_assert_weft(weft_future_route(NULL, q), WEFT_EINVAL);
    ck_assert_weft(weft_future_fd(f, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_future_fd(NULL, &fd), WEFT_EINVAL);
    /* Routed after it is done: put at once. */
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert_weft(weft_future_route(f, q), 0);
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, 0), 0);
    ck_assert_ptr_eq(item, f);
    weft_future_unref(item);
    weft_future_unref(f);
    ck_assert_weft(weft_queue_free(bounded), 0);
    ck_assert_weft(weft_queue_free(q), 0);
    weft_pool_free(p);
}
END_TEST

WEFT_TEST_SUITE("future_fd", 60, future_fd_readable_exactly_once_done,
                future_fd_readable_when_cancelled, future_fd_made_racing_completion_is_raised,
                future_route_delivers_every_completion_to_the_queue)
