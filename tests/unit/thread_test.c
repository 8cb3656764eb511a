/* tests/unit/thread_test.c - weft threads: start, join, release, identity, bad use. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "test.h"

static int return_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static int fail_with_message(void *arg)
{
    return weft_error_set(WEFT_EBUSY, "port %d in use", (int)(intptr_t)arg);
}

/* Waits until *arg becomes non-zero (a handshake, not a sleep). */
static int wait_flag(void *arg)
{
    _Atomic int *flag = arg;
    while (!atomic_load(flag)) weft_sleep(WEFT_US(100));
    return 0;
}

START_TEST(start_and_join_returns_status)
{
    weft_thread t;
    int status = -1;
    ck_assert_weft(weft_thread_start(&t, return_arg, (void *)(intptr_t)7, NULL), 0);
    ck_assert_uint_ne(weft_thread_ident(t), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(10)), 0);
    ck_assert_int_eq(status, 7);
}
END_TEST

START_TEST(join_carries_error_message_to_joiner)
{
    weft_thread t;
    int status = 0;
    weft_error_clear();
    ck_assert_weft(weft_thread_start(&t, fail_with_message, (void *)(intptr_t)8080, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, WEFT_EBUSY);
    ck_assert_int_eq(weft_error_code(), WEFT_EBUSY);
    ck_assert_str_eq(weft_error_message(), "port 8080 in use");
}
END_TEST

START_TEST(join_without_message_uses_code_text)
{
    weft_thread t;
    int status = 0;
    ck_assert_weft(weft_thread_start(&t, return_arg, (void *)(intptr_t)WEFT_ETIMEDOUT, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    ck_assert_int_eq(status, WEFT_ETIMEDOUT);
    ck_assert_str_eq(weft_error_message(), "timed out");
    ck_assert_weft(weft_thread_start(&t, return_arg, (void *)(intptr_t)3, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_FOREVER), 0);
    ck_assert_str_eq(weft_error_message(), "thread function returned 3");
}
END_TEST

START_TEST(join_with_timeout_times_out_then_succeeds)
{
    _Atomic int flag = 0;
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, wait_flag, &flag, NULL), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_MS(30)), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(30));
    ck_assert_weft(weft_thread_join(t, NULL, 0), WEFT_EAGAIN);
    ck_assert_int_eq(weft_thread_is_alive(t), 1);
    atomic_store(&flag, 1);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(10)), 0);
}
END_TEST

START_TEST(join_zero_timeout_reaps_finished_thread)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), 0);
    int rc;
    while ((rc = weft_thread_join(t, NULL, 0)) == WEFT_EAGAIN) weft_sleep(WEFT_US(50));
    ck_assert_weft(rc, 0);
}
END_TEST

static int join_self(void *arg)
{
    (void)arg;
    return weft_thread_join(weft_thread_current(), NULL, WEFT_FOREVER);
}

START_TEST(join_self_is_deadlock_error)
{
    weft_thread t;
    int status = 0;
    ck_assert_weft(weft_thread_start(&t, join_self, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(10)), 0);
    ck_assert_int_eq(status, WEFT_EDEADLK);
}
END_TEST

START_TEST(bad_arguments_are_error_codes)
{
    weft_thread t = {0};
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    ck_assert_weft(weft_thread_start(NULL, return_arg, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_thread_start(&t, NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_uint_eq(t.id, 0);
    o.stack_size = 100;
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, &o), WEFT_EINVAL);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    o.stack_size = 0;
    o.name = longname;
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, &o), WEFT_EINVAL);
    ck_assert_weft(weft_thread_join((weft_thread){0}, NULL, 0), WEFT_ESRCH);
    ck_assert_weft(weft_thread_join((weft_thread){0xdeadbeef12345ull}, NULL, 0), WEFT_ESRCH);
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, -1), WEFT_EINVAL);
    ck_assert_weft(weft_thread_native_id(t, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_thread_name(t, NULL, 10), WEFT_EINVAL);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
}
END_TEST

START_TEST(join_or_release_after_release_is_stale_handle)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), WEFT_ESRCH);
    ck_assert_weft(weft_thread_detach(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_is_alive(t), WEFT_ESRCH);

    _Atomic int flag = 0;
    ck_assert_weft(weft_thread_start(&t, wait_flag, &flag, NULL), 0);
    ck_assert_weft(weft_thread_detach(t), 0);
    /* weft/thread.h: a released handle is stale for join and release (WEFT_ESRCH, as for a
     * joined one), while the thread still runs... */
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), WEFT_ESRCH);
    ck_assert_weft(weft_thread_join(t, NULL, 0), WEFT_ESRCH);
    ck_assert_weft(weft_thread_detach(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_detach(t), WEFT_ESRCH);
    /* ...and still names the running thread for the queries (as enumerate's handles do) */
    char name[WEFT_THREAD_NAME_MAX];
    ck_assert_weft(weft_thread_name(t, name, sizeof name), 0);
    ck_assert_int_eq(weft_thread_is_alive(t), 1);
    atomic_store(&flag, 1);
    while (weft_thread_is_alive(t) == 1) weft_sleep(WEFT_US(100));
    /* finished: every call on the handle is WEFT_ESRCH */
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), WEFT_ESRCH);
    ck_assert_weft(weft_thread_detach(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_stop(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_is_alive(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_is_daemon(t), WEFT_ESRCH);
    ck_assert_weft(weft_thread_name(t, name, sizeof name), WEFT_ESRCH);
    int32_t tid;
    ck_assert_weft(weft_thread_native_id(t, &tid), WEFT_ESRCH);
}
END_TEST

START_TEST(main_thread_is_not_joinable)
{
    weft_thread me = weft_thread_current();
    ck_assert_uint_ne(me.id, 0);
    ck_assert(weft_thread_equal(me, weft_thread_current()));
    char name[32];
    ck_assert_weft(weft_thread_name(me, name, sizeof name), 0);
    ck_assert_str_eq(name, "main");
    ck_assert_weft(weft_thread_join(me, NULL, 0), WEFT_EDEADLK);
    ck_assert_weft(weft_thread_detach(me), WEFT_EINVAL);
    int32_t tid = 0;
    ck_assert_weft(weft_thread_native_id(me, &tid), 0);
    ck_assert_int_eq(tid, getpid());
}
END_TEST

struct ident {
    weft_thread self;
    int32_t tid;
    char kernel_name[16];
};

static int report_identity(void *arg)
{
    struct ident *id = arg;
    id->self = weft_thread_current();
    id->tid = (int32_t)gettid();
    pthread_getname_np(pthread_self(), id->kernel_name, sizeof id->kernel_name);
    return 0;
}

START_TEST(name_daemon_native_id_and_current)
{
    struct ident id;
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = "radio-knob-control";
    o.daemon = 1;
    o.stack_size = 256 * 1024;
    ck_assert_weft(weft_thread_start(&t, report_identity, &id, &o), 0);
    char name[WEFT_THREAD_NAME_MAX];
    ck_assert_weft(weft_thread_name(t, name, sizeof name), 0);
    ck_assert_str_eq(name, "radio-knob-control");
    ck_assert_int_eq(weft_thread_is_daemon(t), 1);
    char small[6];
    ck_assert_weft(weft_thread_name(t, small, sizeof small), 0);
    ck_assert_str_eq(small, "radio");
    while (weft_thread_is_alive(t) == 1) weft_sleep(WEFT_US(100));
    int32_t tid;
    ck_assert_weft(weft_thread_native_id(t, &tid), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert(weft_thread_equal(id.self, t));
    ck_assert_int_eq(tid, id.tid);
    ck_assert_str_eq(id.kernel_name, "radio-knob-cont"); /* the kernel keeps 15 bytes */

    ck_assert_weft(weft_thread_start(&t, report_identity, &id, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_int_eq(strncmp(id.kernel_name, "thread-", 7), 0);
}
END_TEST

START_TEST(count_and_enumerate_see_live_threads)
{
    enum { N = 5 };
    _Atomic int flag = 0;
    weft_thread t[N];
    weft_thread_current(); /* register main */
    size_t before = weft_thread_count();
    for (int i = 0; i < N; i++) ck_assert_weft(weft_thread_start(&t[i], wait_flag, &flag, NULL), 0);
    ck_assert_uint_eq(weft_thread_count(), before + N);
    weft_thread all[64];
    size_t n = weft_thread_enumerate(all, 64);
    ck_assert_uint_eq(n, before + N);
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) found += weft_thread_equal(all[j], t[i]);
        ck_assert_int_eq(found, 1);
    }
    ck_assert_uint_eq(weft_thread_enumerate(all, 2), before + N); /* says how many in all */
    ck_assert_uint_eq(weft_thread_enumerate(NULL, 0), before + N);
    atomic_store(&flag, 1);
    for (int i = 0; i < N; i++) ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_FOREVER), 0);
    ck_assert_uint_eq(weft_thread_count(), before);
}
END_TEST

static void *plain_pthread(void *arg)
{
    weft_thread *out = arg;
    *out = weft_thread_current();
    return NULL;
}

START_TEST(foreign_pthread_gets_handle_that_goes_stale)
{
    pthread_t p;
    weft_thread t = {0};
    size_t before = weft_thread_count();
    ck_assert_int_eq(pthread_create(&p, NULL, plain_pthread, &t), 0);
    ck_assert_int_eq(pthread_join(p, NULL), 0);
    ck_assert_uint_ne(t.id, 0);
    ck_assert_weft(weft_thread_is_alive(t), WEFT_ESRCH); /* its exit unregistered it */
    ck_assert_uint_eq(weft_thread_count(), before);
}
END_TEST

START_TEST(thousand_threads_in_batches)
{
    enum { BATCH = 50 };
    long total = 1000;
    for (long done = 0; done < total; done += BATCH) {
        weft_thread t[BATCH];
        for (int i = 0; i < BATCH; i++)
            ck_assert_weft(weft_thread_start(&t[i], return_arg, (void *)(intptr_t)i, NULL), 0);
        for (int i = 0; i < BATCH; i++) {
            int st = -1;
            ck_assert_weft(weft_thread_join(t[i], &st, WEFT_SEC(30)), 0);
            ck_assert_int_eq(st, i);
        }
    }
}
END_TEST

START_TEST(released_threads_clean_up_after_themselves)
{
    size_t before = weft_thread_count();
    for (int i = 0; i < 200; i++) {
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), 0);
        ck_assert_weft(weft_thread_detach(t), 0);
    }
    while (weft_thread_count() > before) weft_sleep(WEFT_MS(1));
}
END_TEST

START_TEST(fault_injection_makes_start_fail_cleanly)
{
    weft_thread t = {0};
    size_t before = weft_thread_count();
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), WEFT_ENOMEM);
    weft__fault_arm(WEFT__FAULT_THREAD_CREATE, 1);
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), WEFT_EAGAIN);
    ck_assert_uint_eq(t.id, 0);
    ck_assert_uint_eq(weft_thread_count(), before);
    ck_assert_weft(weft_thread_start(&t, return_arg, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
}
END_TEST

struct joiners {
    weft_thread target;
    _Atomic int ok, stale;
};

static int join_target(void *arg)
{
    struct joiners *j = arg;
    int rc = weft_thread_join(j->target, NULL, WEFT_SEC(20));
    if (rc == 0) atomic_fetch_add(&j->ok, 1);
    if (rc == WEFT_ESRCH) atomic_fetch_add(&j->stale, 1);
    return 0;
}

START_TEST(concurrent_joins_reap_exactly_once)
{
    long rounds = weft_test_scale(300);
    for (long r = 0; r < rounds; r++) {
        struct joiners j = {.ok = 0, .stale = 0};
        weft_thread js[3];
        ck_assert_weft(weft_thread_start(&j.target, return_arg, NULL, NULL), 0);
        for (int i = 0; i < 3; i++)
            ck_assert_weft(weft_thread_start(&js[i], join_target, &j, NULL), 0);
        for (int i = 0; i < 3; i++) ck_assert_weft(weft_thread_join(js[i], NULL, WEFT_FOREVER), 0);
        ck_assert_int_eq(j.ok, 1);
        ck_assert_int_eq(j.stale, 2);
    }
}
END_TEST

static void exit_early_cleanup(void)
{
    pthread_exit(NULL);
}

static int calls_pthread_exit(void *arg)
{
    (void)arg;
    exit_early_cleanup();
    return 0;
}

START_TEST(pthread_exit_inside_thread_still_finishes)
{
    weft_thread t;
    int st = 0;
    ck_assert_weft(weft_thread_start(&t, calls_pthread_exit, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(10)), 0);
    ck_assert_int_eq(st, WEFT_EFAILED);
}
END_TEST

static int report_main(void *arg)
{
    weft_thread *out = arg;
    *out = weft_thread_main(); /* before main ever asked for its own handle */
    return 0;
}

/* threading.main_thread(): the same handle from any thread, the one main gets as current. */
START_TEST(main_thread_is_the_same_handle_from_every_thread)
{
    weft_thread seen = {0}, t;
    ck_assert_weft(weft_thread_start(&t, report_main, &seen, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_uint_ne(seen.id, 0);
    ck_assert(weft_thread_equal(seen, weft_thread_current()));
    ck_assert(weft_thread_equal(seen, weft_thread_main()));
    char name[16];
    ck_assert_weft(weft_thread_name(seen, name, sizeof name), 0);
    ck_assert_str_eq(name, "main");
    ck_assert_int_eq(weft_thread_is_alive(seen), 1);
    int32_t tid = 0;
    ck_assert_weft(weft_thread_native_id(seen, &tid), 0);
    ck_assert_int_eq(tid, getpid());
    ck_assert_weft(weft_thread_start(&t, report_main, &seen, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert(weft_thread_equal(seen, weft_thread_main()));
    ck_assert_weft(weft_thread_detach(seen), WEFT_EINVAL); /* not started by weft */
}
END_TEST

static int report_stack(void *arg)
{
    size_t *out = arg;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return 1;
    pthread_attr_getstacksize(&a, out);
    pthread_attr_destroy(&a);
    return 0;
}

/* threading.stack_size([size]): set, get, its rules. */
START_TEST(process_wide_stack_size_sets_and_gets)
{
    ck_assert_uint_eq(weft_thread_get_stack_size(), 0);
    ck_assert_weft(weft_thread_set_stack_size(100), WEFT_EINVAL);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "minimum"));
    ck_assert_weft(weft_thread_set_stack_size(SIZE_MAX), WEFT_EINVAL);
    ck_assert_uint_eq(weft_thread_get_stack_size(), 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    ck_assert_weft(weft_thread_set_stack_size(WEFT_THREAD_STACK_MIN + 1), 0);
    ck_assert_uint_eq(weft_thread_get_stack_size() % page, 0);
    ck_assert_uint_gt(weft_thread_get_stack_size(), WEFT_THREAD_STACK_MIN);

    size_t want = 3 * 1024 * 1024, got = 0;
    ck_assert_weft(weft_thread_set_stack_size(want), 0);
    ck_assert_uint_eq(weft_thread_get_stack_size(), want);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, report_stack, &got, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_uint_ge(got, want);
    ck_assert_uint_lt(got, 2 * want);
    /* a thread's own stack_size still wins */
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.stack_size = 8 * 1024 * 1024;
    ck_assert_weft(weft_thread_start(&t, report_stack, &got, &o), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
    ck_assert_uint_ge(got, o.stack_size);
    ck_assert_weft(weft_thread_set_stack_size(0), 0); /* back to the system's */
    ck_assert_uint_eq(weft_thread_get_stack_size(), 0);
}
END_TEST

/* Like a pool task: a released thread that ended with WEFT_ECANCELED because a scope it runs
 * in was cancelled (weft_thread_stop, an ancestor such as the root on Ctrl-C, a deadline) is
 * not reported as a failure; one that returns WEFT_ECANCELED with nothing cancelled is. */
static atomic_int nreports;

static void count_hook(weft_thread t, const char *name, int status, const char *message, void *arg)
{
    (void)t, (void)message, (void)arg;
    ck_assert_str_eq(name, "liar");
    ck_assert_int_eq(status, WEFT_ECANCELED);
    atomic_fetch_add(&nreports, 1);
}

static int sleep_until_cancelled(void *arg)
{
    weft_sem_release(arg, 1);
    return weft_sleep(WEFT_SEC(60));
}

static int ecanceled_for_no_reason(void *arg)
{
    (void)arg;
    return WEFT_ECANCELED;
}

/* Wait until t's function returned (a bounded poll: no call waits without reaping), then
 * release it: a failure nobody joined is reported in this call. */
static void release_when_done(weft_thread t)
{
    for (int i = 0; i < 10000 && weft_thread_is_alive(t) == 1; i++) weft_sleep(WEFT_MS(1));
    ck_assert_int_eq(weft_thread_is_alive(t), 0);
    ck_assert_weft(weft_thread_detach(t), 0);
}

START_TEST(threads_cancelled_through_any_scope_are_not_reported)
{
    ck_assert_weft(weft_thread_set_error_hook(count_hook, NULL), 0);
    weft_scope *top, *deadline;
    weft_scope_opts so = WEFT_SCOPE_OPTS_INIT;
    so.timeout = WEFT_MS(10);
    ck_assert_weft(weft_scope_new(&top, NULL, NULL), 0);
    ck_assert_weft(weft_scope_new(&deadline, NULL, &so), 0);
    weft_sem started = WEFT_SEM_INIT(0);
    weft_thread t[3];
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    ck_assert_weft(weft_thread_start(&t[0], sleep_until_cancelled, &started, &o), 0);
    o.scope = top;
    ck_assert_weft(weft_thread_start(&t[1], sleep_until_cancelled, &started, &o), 0);
    o.scope = deadline;
    ck_assert_weft(weft_thread_start(&t[2], sleep_until_cancelled, &started, &o), 0);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_sem_acquire(&started, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_thread_stop(t[0]), 0);
    ck_assert_weft(weft_scope_cancel(top, WEFT_ECANCELED, "Ctrl-C"), 0);
    for (int i = 0; i < 3; i++) release_when_done(t[i]);
    ck_assert_int_eq(atomic_load(&nreports), 0);
    weft_thread liar;
    ck_assert_weft(weft_thread_start(&liar, ecanceled_for_no_reason, NULL,
                                     &(weft_thread_opts){.name = "liar"}),
                   0);
    release_when_done(liar);
    ck_assert_int_eq(atomic_load(&nreports), 1);
    weft_scope_free(top);
    weft_scope_free(deadline);
    ck_assert_weft(weft_thread_set_error_hook(NULL, NULL), 0);
}
END_TEST

WEFT_TEST_SUITE("thread", 30, main_thread_is_the_same_handle_from_every_thread,
                process_wide_stack_size_sets_and_gets, start_and_join_returns_status,
                join_carries_error_message_to_joiner, join_without_message_uses_code_text,
                join_with_timeout_times_out_then_succeeds, join_zero_timeout_reaps_finished_thread,
                join_self_is_deadlock_error, bad_arguments_are_error_codes,
                join_or_release_after_release_is_stale_handle, main_thread_is_not_joinable,
                name_daemon_native_id_and_current, count_and_enumerate_see_live_threads,
                foreign_pthread_gets_handle_that_goes_stale, thousand_threads_in_batches,
                released_threads_clean_up_after_themselves,
                fault_injection_makes_start_fail_cleanly, concurrent_joins_reap_exactly_once,
                pthread_exit_inside_thread_still_finishes,
                threads_cancelled_through_any_scope_are_not_reported)
