/* tests/support/tasks.c - the shared pools, task bodies and parked-waits of tasks.h. */
#include "tasks.h"

#include "test.h"
#include "test_hooks.h"

atomic_int weft_test_runs;

weft_pool *weft_test_pool(int workers)
{
    return weft_test_pool_with((weft_pool_opts){.max_workers = workers});
}

weft_pool *weft_test_pool_with(weft_pool_opts o)
{
    weft_pool *p = NULL;
    ck_assert_weft(weft_pool_new(&p, &o), 0);
    return p;
}

int weft_test_give(void *arg, void **result)
{
    *result = arg;
    return 0;
}

int weft_test_wait_event(void *arg, void **result)
{
    (void)result;
    return weft_event_wait(arg, WEFT_SEC(60));
}

int weft_test_set_event_and_sleep(void *arg, void **result)
{
    (void)result;
    weft_event_set(arg);
    return weft_sleep(WEFT_SEC(60));
}

int weft_test_count_run(void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&weft_test_runs, 1);
    return 0;
}

/* Poll a parked count until it reaches n; a bounded loop (the hook has no waiter of its own). */
static void await(size_t (*count)(void *), void *obj, size_t n, const char *what)
{
    weft_ns end = weft_deadline(WEFT_SEC(30));
    size_t got;
    while ((got = count(obj)) < n) {
        ck_assert_msg(weft_now() < end, "%s: %zu parked after 30 s, expected %zu", what, got, n);
        weft_sleep(WEFT_US(200));
    }
}

static size_t pool_parked(void *p)
{
    return weft__test_pool_parked(p);
}

static size_t timer_parked(void *unused)
{
    (void)unused;
    return weft__test_timer_parked();
}

void weft_test_await_pool_parked(weft_pool *p, size_t n)
{
    await(pool_parked, p, n, "pool workers");
}

void weft_test_await_timer_parked(void)
{
    await(timer_parked, NULL, 1, "the timer thread");
}

struct queue_list {
    weft_queue *q;
    int which;
};

static size_t queue_parked(void *arg)
{
    struct queue_list *l = arg;
    return weft__test_queue_parked(l->q, l->which);
}

void weft_test_await_queue_parked(weft_queue *q, int which, size_t n)
{
    struct queue_list l = {q, which};
    await(queue_parked, &l, n, "queue waiters");
}
