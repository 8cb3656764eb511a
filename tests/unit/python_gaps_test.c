/* tests/unit/python_gaps_test.c - Python API pieces weft added: Queue.maxsize and
 * unfinished_tasks, a threading.local subclass with __init__, Barrier(..., timeout).
 * (main_thread and stack_size are in thread_test.c.) */
#include <stdatomic.h>
#include <stdlib.h>

#include "test.h"

static int cmp_int(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (int)((intptr_t)a - (intptr_t)b);
}

START_TEST(queue_maxsize_and_unfinished_tasks_are_readable)
{
    weft_queue *q[3];
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    ck_assert_weft(weft_queue_new(&q[0], NULL), 0); /* unbounded FIFO: maxsize 0 */
    o.capacity = 5;
    ck_assert_weft(weft_queue_new(&q[1], &o), 0); /* bounded FIFO */
    o.capacity = 7;
    o.order = WEFT_QUEUE_PRIORITY;
    o.compare = cmp_int;
    ck_assert_weft(weft_queue_new(&q[2], &o), 0);
    ck_assert_uint_eq(weft_queue_capacity(q[0]), 0);
    ck_assert_uint_eq(weft_queue_capacity(q[1]), 5);
    ck_assert_uint_eq(weft_queue_capacity(q[2]), 7);
    ck_assert_uint_eq(weft_queue_capacity(NULL), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(weft_queue_unfinished(q[i]), 0);
        for (intptr_t k = 1; k <= 3; k++) ck_assert_weft(weft_queue_put(q[i], (void *)k, 0), 0);
        ck_assert_uint_eq(weft_queue_unfinished(q[i]), 3);
        void *x;
        ck_assert_weft(weft_queue_get(q[i], &x, 0), 0);
        ck_assert_uint_eq(weft_queue_unfinished(q[i]), 3); /* taken, not yet done */
        ck_assert_weft(weft_queue_task_done(q[i]), 0);
        ck_assert_uint_eq(weft_queue_unfinished(q[i]), 2);
        for (int k = 0; k < 2; k++) {
            ck_assert_weft(weft_queue_get(q[i], &x, 0), 0);
            ck_assert_weft(weft_queue_task_done(q[i]), 0);
        }
        ck_assert_uint_eq(weft_queue_unfinished(q[i]), 0);
        ck_assert_weft(weft_queue_join(q[i], 0), 0);
        ck_assert_weft(weft_queue_free(q[i]), 0);
    }
    ck_assert_uint_eq(weft_queue_unfinished(NULL), 0);
}
END_TEST

static _Atomic int made, destroyed;

static void *make_counter(void *arg)
{
    int *v = malloc(sizeof *v);
    *v = *(int *)arg;
    atomic_fetch_add(&made, 1);
    return v;
}

static void free_counter(void *v)
{
    atomic_fetch_add(&destroyed, 1);
    free(v);
}

static int start_value = 42;
static weft_local counter = WEFT_LOCAL_INIT_WITH(free_counter, make_counter, &start_value);

static int use_counter(void *arg)
{
    int **seen = arg;
    int *v = weft_local_get(&counter);
    if (v == NULL || *v != 42 || weft_local_get(&counter) != v) return 1;
    *v += 1; /* this thread's own */
    *seen = v;
    return 0;
}

/* class Counter(threading.local): def __init__(self): self.v = 42 */
START_TEST(local_initializer_runs_once_per_thread_on_first_get)
{
    enum { N = 4 };
    int *mine = weft_local_get(&counter);
    ck_assert_ptr_nonnull(mine);
    ck_assert_int_eq(*mine, 42);
    ck_assert_int_eq(atomic_load(&made), 1);
    ck_assert_ptr_eq(weft_local_get(&counter), mine); /* once per thread */
    weft_thread t[N];
    int *seen[N];
    for (int i = 0; i < N; i++)
        ck_assert_weft(weft_thread_start(&t[i], use_counter, &seen[i], NULL), 0);
    for (int i = 0; i < N; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(t[i], &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
    }
    /* every thread made its own value, and its exit destroyed it */
    ck_assert_int_eq(atomic_load(&made), 1 + N);
    ck_assert_int_eq(atomic_load(&destroyed), N);
    ck_assert_int_eq(*mine, 42); /* untouched by the others */
    /* set back to NULL: the caller owns the old value; the next get makes a new one */
    ck_assert_weft(weft_local_set(&counter, NULL), 0);
    free(mine);
    int *again = weft_local_get(&counter);
    ck_assert_ptr_nonnull(again);
    ck_assert_int_eq(atomic_load(&made), 2 + N);
    /* a run-time key, and NULL from init meaning "no value yet" */
    weft_local k;
    ck_assert_weft(weft_local_init_with(&k, NULL, NULL, NULL), 0);
    ck_assert_ptr_null(weft_local_get(&k));
    ck_assert_weft(weft_local_init_with(NULL, NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_local_free(&k), 0);
}
END_TEST

struct arrive {
    weft_barrier *b;
    int rc;
};

static int arrive(void *arg)
{
    struct arrive *a = arg;
    a->rc = weft_barrier_wait(a->b, WEFT_FOREVER);
    return 0;
}

/* threading.Barrier(2, timeout=...): wait() without a timeout uses the barrier's, and running
 * out breaks the barrier, as in Python. */
START_TEST(barrier_default_timeout_applies_to_forever_waits)
{
    weft_barrier b;
    ck_assert_weft(weft_barrier_init(&b, 2, NULL, NULL), 0);
    ck_assert_weft(weft_barrier_set_timeout(&b, 0), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_set_timeout(&b, -1), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_set_timeout(NULL, WEFT_MS(1)), WEFT_EINVAL);
    ck_assert_weft(weft_barrier_set_timeout(&b, WEFT_MS(20)), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_barrier_wait(&b, WEFT_FOREVER), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(20));
    ck_assert_int_eq(weft_barrier_broken(&b), 1);
    ck_assert_weft(weft_barrier_wait(&b, WEFT_FOREVER), WEFT_EBROKEN);
    ck_assert_weft(weft_barrier_reset(&b), 0);

    /* all parties arrive in time: no timeout, and it is reusable */
    static weft_barrier s = WEFT_BARRIER_INIT_TIMEOUT(2, NULL, NULL, WEFT_SEC(60));
    for (int round = 0; round < 3; round++) {
        struct arrive a = {&s, -100};
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, arrive, &a, NULL), 0);
        int mine = weft_barrier_wait(&s, WEFT_FOREVER);
        ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
        ck_assert_int_ge(mine, 0);
        ck_assert_int_ge(a.rc, 0);
        ck_assert_int_eq(mine + a.rc, 1);
    }
    /* WEFT_FOREVER removes the default */
    ck_assert_weft(weft_barrier_set_timeout(&b, WEFT_FOREVER), 0);
    ck_assert_weft(weft_barrier_wait(&b, 0), WEFT_EAGAIN);
}
END_TEST

WEFT_TEST_SUITE("python_gaps", 30, queue_maxsize_and_unfinished_tasks_are_readable,
                local_initializer_runs_once_per_thread_on_first_get,
                barrier_default_timeout_applies_to_forever_waits)
