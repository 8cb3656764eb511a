/* tests/unit/enomem_test.c - every allocation of a constructor or allocating call, failed in
 * turn (the 1st, 2nd, ... until the call succeeds, through the ALLOC fault point of
 * src/core/internal.h): each failure must be the documented WEFT_ENOMEM, leave *out untouched
 * and leak nothing (ASan), and the call must then work. ./dev fault-sweep does this for whole
 * programs; this test holds it for the calls one at a time, in every build. */
#include <signal.h>
#include <string.h>
#include <weft.h>

#include "core/internal.h"
#include "test.h"

/* Fail the k-th allocation of `call` for k = 1, 2, ... until it succeeds (rc == ok): each
 * earlier result must be WEFT_ENOMEM. Runs `undo` after the success; the number of failure
 * points it went through goes to *points. */
#define SWEEP(points, ok, call, undo)                                                            \
    do {                                                                                         \
        int k_;                                                                                  \
        for (k_ = 1; k_ < 100; k_++) {                                                           \
            weft__fault_arm(WEFT__FAULT_ALLOC, k_);                                              \
            int rc_ = (call);                                                                    \
            weft__fault_arm(WEFT__FAULT_ALLOC, 0);                                               \
            if (rc_ == (ok)) break;                                                              \
            ck_assert_msg(rc_ == WEFT_ENOMEM, "%s with allocation %d failed gave %s", #call, k_, \
                          weft_errname(rc_));                                                    \
        }                                                                                        \
        ck_assert_int_lt(k_, 100);                                                               \
        *(points) = k_ - 1;                                                                      \
        undo;                                                                                    \
    } while (0)

static int prio(const void *a, const void *b, void *arg)
{
    (void)arg;
    return (a > b) - (a < b);
}

START_TEST(queue_constructors)
{
    int n;
    weft_queue *q = NULL;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    SWEEP(&n, 0, weft_queue_new(&q, NULL), ck_assert_weft(weft_queue_free(q), 0));
    ck_assert_int_ge(n, 1);
    o.capacity = 5;
    SWEEP(&n, 0, weft_queue_new(&q, &o), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_queue_put(q, &o, 0), 0); /* it works */
    ck_assert_weft(weft_queue_free(q), 0);
    o.order = WEFT_QUEUE_LIFO;
    SWEEP(&n, 0, weft_queue_new(&q, &o), ck_assert_weft(weft_queue_free(q), 0));
    o.order = WEFT_QUEUE_PRIORITY;
    o.compare = prio;
    SWEEP(&n, 0, weft_queue_new(&q, &o), ck_assert_weft(weft_queue_free(q), 0));
    ck_assert_int_ge(n, 1);
}
END_TEST

static void cb(weft_future *f, void *arg)
{
    (void)f;
    ++*(int *)arg;
}

START_TEST(future_calls)
{
    int n, calls = 0;
    weft_future *f = NULL, *g, *fs[3];
    SWEEP(&n, 0, weft_future_new(&f, NULL), (void)0); /* records come from magazines */
    SWEEP(&n, 0, weft_future_add_done_callback(f, cb, &calls), (void)0);
    SWEEP(&n, 0, weft_future_add_done_callback(f, cb, &calls), (void)0);
    ck_assert_int_ge(n, 1);
    SWEEP(&n, 0, weft_future_set_failure(f, WEFT_EFAILED, "words"), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(calls, 2); /* both callbacks, once each, none lost to a failed add */
    ck_assert_weft(weft_future_result(f, NULL, 0), WEFT_EFAILED);
    ck_assert_str_eq(weft_error_message(), "words");
    ck_assert_weft(weft_future_new(&g, NULL), 0);
    SWEEP(&n, 0, weft_future_set_bytes(g, "abc", 3), (void)0);
    ck_assert_int_ge(n, 1);
    const void *d;
    size_t len;
    ck_assert_weft(weft_future_bytes(g, &d, &len, 0), 0);
    ck_assert_uint_eq(len, 3);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_future_new(&fs[i], NULL), 0);
    weft_as_completed *it = NULL;
    SWEEP(&n, 0, weft_as_completed_new(&it, fs, 3), (void)0);
    ck_assert_int_ge(n, 1);
    size_t idx;
    SWEEP(&n, WEFT_ETIMEDOUT, weft_wait(fs, 3, WEFT_FIRST_COMPLETED, &idx, 1), (void)0);
    ck_assert_weft(weft_future_set_result(fs[1], NULL, NULL), 0);
    weft_future *next;
    ck_assert_weft(weft_as_completed_next(it, &next, 0), 0);
    ck_assert_ptr_eq(next, fs[1]);
    weft_as_completed_free(it);
    for (int i = 0; i < 3; i++) weft_future_unref(fs[i]);
    weft_future_unref(f);
    weft_future_unref(g);
}
END_TEST

static int task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int job(void *arg)
{
    (void)arg;
    return 0;
}

START_TEST(pool_group_and_scope_constructors)
{
    int n;
    weft_pool *p = NULL;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = 1;
    SWEEP(&n, 0, weft_pool_new(&p, &po), (void)0);
    ck_assert_int_ge(n, 1);
    weft_future *f;
    ck_assert_weft(weft_pool_submit(p, task, p, &f, WEFT_FOREVER), 0);
    void *r;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, p);
    weft_future_unref(f);
    weft_imap *it = NULL;
    void *args[2] = {p, p};
    SWEEP(&n, 0, weft_pool_imap(&it, p, task, args, 2, NULL, WEFT_FOREVER), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_imap_next(it, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, p);
    weft_imap_free(it);
    weft_group *g = NULL;
    weft_group_opts go = WEFT_GROUP_OPTS_INIT;
    go.pool = p;
    SWEEP(&n, 0, weft_group_new(&g, &go), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_group_spawn(g, job, NULL, NULL), 0);
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0);
    ck_assert_weft(weft_group_free(g), 0);
    weft_scope *s = NULL;
    SWEEP(&n, 0, weft_scope_new(&s, NULL, NULL), weft_scope_free(s));
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

START_TEST(ipcq_and_debug_name)
{
    int n;
    weft_ipcq *q = NULL;
    SWEEP(&n, 0, weft_ipcq_new(&q, NULL), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_ipcq_put(q, "x", 1, 0), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
    int obj;
    SWEEP(&n, 0, weft_debug_name(&obj, "obj"), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_debug_name(&obj, NULL), 0);
}
END_TEST

static int thread_main(void *arg)
{
    return *(int *)arg;
}

static void tick(void *arg)
{
    weft_event_set(arg);
}

START_TEST(thread_and_timer_starts)
{
    int n, seven = 7, status = 0;
    weft_thread t;
    SWEEP(&n, 0, weft_thread_start(&t, thread_main, &seven, NULL), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, 7);
    /* the system refusing a thread is WEFT_EAGAIN, and nothing is left behind */
    weft__fault_arm(WEFT__FAULT_THREAD_CREATE, 1);
    weft_error_clear();
    ck_assert_weft(weft_thread_start(&t, thread_main, &seven, NULL), WEFT_EAGAIN);
    weft__fault_arm(WEFT__FAULT_THREAD_CREATE, 0);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "refused"));
    ck_assert_weft(weft_thread_start(&t, thread_main, &seven, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    weft_event fired;
    ck_assert_weft(weft_event_init(&fired), 0);
    weft_timer *tm = NULL;
    SWEEP(&n, 0, weft_timer_start(&tm, 0, tick, &fired, NULL), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_event_wait(&fired, WEFT_SEC(60)), 0); /* a failed start never ran fn */
    ck_assert_weft(weft_timer_wait(tm, WEFT_FOREVER), 0);
    weft_timer_free(tm);
}
END_TEST

START_TEST(pool_submit_without_a_record)
{
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_future *f = NULL;
    int n;
    /* a record comes from a magazine: none to be had is WEFT_ENOMEM, *out untouched */
    for (n = 1; n < 4; n++) {
        weft__fault_arm(WEFT__FAULT_MAGAZINE, n);
        int rc = weft_pool_submit(p, task, p, &f, WEFT_FOREVER);
        weft__fault_arm(WEFT__FAULT_MAGAZINE, 0);
        if (rc == 0) break;
        ck_assert_weft(rc, WEFT_ENOMEM);
        ck_assert_ptr_null(f);
    }
    ck_assert_ptr_nonnull(f);
    void *r;
    ck_assert_weft(weft_future_result(f, &r, WEFT_FOREVER), 0);
    ck_assert_ptr_eq(r, p);
    weft_future_unref(f);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

static int child(const void *arg, size_t size)
{
    (void)arg;
    return (int)size;
}

START_TEST(process_and_procpool_starts)
{
    int n, status = -1;
    weft_process *pr = NULL;
    SWEEP(&n, 0, weft_process_start(&pr, child, "ab", 2, NULL), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_process_join(pr, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, 2);
    ck_assert_weft(weft_process_free(pr), 0);
    weft_procpool *pp = NULL;
    weft_procpool_opts o = WEFT_PROCPOOL_OPTS_INIT;
    o.workers = 1;
    SWEEP(&n, 0, weft_procpool_new(&pp, &o), (void)0);
    ck_assert_int_ge(n, 1);
    weft_future *f = NULL;
    SWEEP(&n, 0, weft_procpool_submit(pp, &f, child, "abc", 3, NULL), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_future_result(f, NULL, WEFT_FOREVER), 3); /* it ran: child's status */
    weft_future_unref(f);
    ck_assert_weft(weft_procpool_shutdown(pp, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_procpool_free(pp), 0);
}
END_TEST

START_TEST(group_spawn_and_map)
{
    int n;
    weft_group *g;
    weft_group_opts go = WEFT_GROUP_OPTS_INIT;
    go.threads = 1;
    ck_assert_weft(weft_group_new(&g, &go), 0);
    SWEEP(&n, 0, weft_group_spawn(g, job, NULL, "j"), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_group_wait(g, WEFT_FOREVER), 0); /* a failed spawn did not cancel it */
    ck_assert_weft(weft_group_free(g), 0);
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    void *args[8], *res[8];
    for (int i = 0; i < 8; i++) args[i] = &args[i];
    SWEEP(&n, 0, weft_pool_map(p, task, args, res, 8, 2, WEFT_FOREVER), (void)0);
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < 8; i++) ck_assert_ptr_eq(res[i], &args[i]);
    ck_assert_weft(weft_pool_shutdown(p, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(p);
}
END_TEST

START_TEST(route_attach_and_signals)
{
    int n;
    weft_future *f;
    weft_queue *q;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    SWEEP(&n, 0, weft_future_route(f, q), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    void *item = NULL;
    ck_assert_weft(weft_queue_get(q, &item, 0), 0); /* routed exactly once */
    ck_assert_ptr_eq(item, f);
    ck_assert_weft(weft_queue_get(q, &item, 0), WEFT_EAGAIN);
    weft_future_unref(item); /* the item's reference */
    weft_future_unref(f);
    weft_ipcq *iq, *at = NULL;
    ck_assert_weft(weft_ipcq_new(&iq, NULL), 0);
    SWEEP(&n, 0, weft_ipcq_attach(&at, weft_ipcq_fd(iq)), (void)0);
    ck_assert_int_ge(n, 1);
    ck_assert_weft(weft_ipcq_put(at, "x", 1, 0), 0);
    ck_assert_uint_eq(weft_ipcq_size(iq), 1);
    ck_assert_weft(weft_ipcq_free(at), 0);
    ck_assert_weft(weft_ipcq_free(iq), 0);
    int usr2 = SIGUSR2;
    SWEEP(&n, 0, weft_signals_notify(q, &usr2, 1), (void)0);
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

WEFT_TEST_SUITE("enomem", 60, queue_constructors, future_calls, pool_group_and_scope_constructors,
                ipcq_and_debug_name, thread_and_timer_starts, pool_submit_without_a_record,
                process_and_procpool_starts, group_spawn_and_map, route_attach_and_signals)
