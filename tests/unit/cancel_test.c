/* tests/unit/cancel_test.c - cancel scopes: nesting, reasons, deadlines, shields, stop. */
#include <stdatomic.h>
#include <string.h>

#include "test.h"

static int sleep_long(void *arg)
{
    (void)arg;
    return weft_sleep(WEFT_SEC(60));
}

START_TEST(stop_wakes_thread_blocked_in_sleep)
{
    weft_thread t;
    int st = 0;
    ck_assert_weft(weft_thread_start(&t, sleep_long, NULL, NULL), 0);
    weft_sleep(WEFT_MS(5)); /* let it block (either way it must end with ECANCELED) */
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_thread_stop(t), 0);
    ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(20)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(30)); /* cut short, not slept out */
    ck_assert_weft(weft_thread_stop(t), WEFT_ESRCH);
}
END_TEST

static int join_other(void *arg)
{
    weft_thread *other = arg;
    return weft_thread_join(*other, NULL, WEFT_FOREVER);
}

START_TEST(stop_wakes_thread_blocked_in_join)
{
    weft_thread sleeper, joiner;
    int st = 0;
    ck_assert_weft(weft_thread_start(&sleeper, sleep_long, NULL, NULL), 0);
    ck_assert_weft(weft_thread_start(&joiner, join_other, &sleeper, NULL), 0);
    ck_assert_weft(weft_thread_stop(joiner), 0);
    ck_assert_weft(weft_thread_join(joiner, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
    ck_assert_int_eq(weft_thread_is_alive(sleeper), 1); /* the sibling was not touched */
    ck_assert_weft(weft_thread_stop(sleeper), 0);
    ck_assert_weft(weft_thread_join(sleeper, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
}
END_TEST

START_TEST(nested_scopes_cancel_downwards_only)
{
    weft_scope *parent, *child, *sibling, *grandchild;
    ck_assert_weft(weft_scope_new(&parent, NULL, NULL), 0);
    ck_assert_weft(weft_scope_new(&child, parent, NULL), 0);
    ck_assert_weft(weft_scope_new(&sibling, parent, NULL), 0);
    ck_assert_weft(weft_scope_new(&grandchild, child, NULL), 0);
    ck_assert_weft(weft_scope_cancel(child, WEFT_ECANCELED, "child %d", 1), 0);
    ck_assert_int_eq(weft_scope_cancelled(child), 1);
    ck_assert_int_eq(weft_scope_cancelled(grandchild), 1);
    ck_assert_int_eq(weft_scope_cancelled(parent), 0);
    ck_assert_int_eq(weft_scope_cancelled(sibling), 0);
    ck_assert_int_eq(weft_scope_cancelled(weft_scope_root()), 0);
    ck_assert_weft(weft_scope_cancel(parent, WEFT_EBROKEN, "parent"), 0);
    ck_assert_int_eq(weft_scope_cancelled(sibling), 1);
    int code = 0;
    char why[64];
    ck_assert_int_eq(weft_scope_reason(grandchild, &code, why, sizeof why), 1);
    ck_assert_weft(code, WEFT_ECANCELED); /* the first reason sticks */
    ck_assert_str_eq(why, "child 1");
    ck_assert_int_eq(weft_scope_reason(sibling, &code, why, sizeof why), 1);
    ck_assert_weft(code, WEFT_EBROKEN);
    ck_assert_str_eq(why, "parent");
    weft_scope *late;
    ck_assert_weft(weft_scope_new(&late, parent, NULL), 0);
    ck_assert_int_eq(weft_scope_cancelled(late), 1); /* born into a cancelled parent */
    weft_scope_free(late);
    weft_scope_free(grandchild);
    weft_scope_free(child);
    weft_scope_free(sibling);
    weft_scope_free(parent);
}
END_TEST

START_TEST(enter_and_exit_switch_the_current_scope)
{
    weft_scope *s;
    weft_scope *outer = weft_scope_current();
    ck_assert_ptr_eq(outer, weft_scope_root());
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, NULL), 0);
    ck_assert_weft(weft_checkpoint(), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_ptr_eq(weft_scope_current(), s);
    weft_scope_free(s); /* still alive: we are inside */
    ck_assert_weft(weft_checkpoint(), WEFT_ECANCELED);
    ck_assert_int_eq(weft_cancelled(), 1);
    ck_assert_weft(weft_sleep(WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_weft(weft_scope_exit(), 0);
    ck_assert_ptr_eq(weft_scope_current(), outer);
    ck_assert_weft(weft_checkpoint(), 0);
    ck_assert_weft(weft_sleep(WEFT_US(10)), 0);
    ck_assert_weft(weft_scope_exit(), WEFT_ESTATE);
}
END_TEST

START_TEST(deadline_scope_cancels_when_it_passes)
{
    weft_scope *s;
    weft_scope_opts o = WEFT_SCOPE_OPTS_INIT;
    o.timeout = WEFT_MS(20);
    /* The deadline counts from weft_scope_new: read the clock before it, or a preemption
     * between the two would make the sleep look short. */
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_scope_new(&s, NULL, &o), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_sleep(WEFT_SEC(30)), WEFT_ECANCELED);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(20));
    ck_assert_int_lt(weft_now() - t0, WEFT_SEC(10));
    int code;
    char why[64];
    ck_assert_int_eq(weft_scope_reason(s, &code, why, sizeof why), 1);
    ck_assert_weft(code, WEFT_ETIMEDOUT);
    ck_assert_str_eq(why, "deadline passed");
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
}
END_TEST

START_TEST(deadline_is_seen_by_checkpoint_and_children)
{
    weft_scope *s, *child;
    weft_scope_opts o = WEFT_SCOPE_OPTS_INIT;
    o.timeout = WEFT_MS(5);
    weft_ns t0 = weft_now(); /* before the deadline starts counting */
    ck_assert_weft(weft_scope_new(&s, NULL, &o), 0);
    ck_assert_weft(weft_scope_new(&child, s, NULL), 0); /* inherits the deadline */
    ck_assert_weft(weft_scope_enter(child), 0);
    /* Not cancelled before the deadline (a slow machine may get here after it). */
    int first = weft_checkpoint();
    weft_ns checked = weft_now();
    ck_assert_msg(first == 0 || (first == WEFT_ECANCELED && checked - t0 >= WEFT_MS(5)),
                  "checkpoint gave %s %lld ns into a 5 ms deadline", weft_errname(first),
                  (long long)(checked - t0));
    while (weft_checkpoint() == 0) { /* a CPU-bound loop */
    }
    ck_assert_int_eq(weft_scope_cancelled(s), 1);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(child);
    weft_scope_free(s);
}
END_TEST

START_TEST(own_timeout_shorter_than_scope_deadline_is_a_timeout)
{
    weft_scope *s;
    weft_scope_opts o = WEFT_SCOPE_OPTS_INIT;
    o.timeout = WEFT_SEC(30);
    ck_assert_weft(weft_scope_new(&s, NULL, &o), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, sleep_long, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_MS(5)), WEFT_ETIMEDOUT);
    ck_assert_int_eq(weft_scope_cancelled(s), 0);
    ck_assert_weft(weft_thread_stop(t), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(10)), 0);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
}
END_TEST

START_TEST(shield_lets_cleanup_block)
{
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "shutting down"), 0);
    ck_assert_weft(weft_sleep(WEFT_MS(1)), WEFT_ECANCELED);
    ck_assert_weft(weft_shield_begin(), 0);
    ck_assert_weft(weft_shield_begin(), 0);
    ck_assert_weft(weft_checkpoint(), 0);
    ck_assert_weft(weft_sleep(WEFT_MS(2)), 0);
    ck_assert_weft(weft_shield_end(), 0);
    ck_assert_weft(weft_sleep(WEFT_MS(1)), 0); /* still shielded once */
    ck_assert_weft(weft_shield_end(), 0);
    ck_assert_weft(weft_sleep(WEFT_MS(1)), WEFT_ECANCELED);
    ck_assert_weft(weft_shield_end(), WEFT_ESTATE);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_scope_free(s);
}
END_TEST

START_TEST(threads_start_in_a_child_of_the_creators_scope)
{
    weft_scope *s;
    weft_thread a, b;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_enter(s), 0);
    ck_assert_weft(weft_thread_start(&a, sleep_long, NULL, NULL), 0);
    ck_assert_weft(weft_scope_exit(), 0);
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.scope = s;
    ck_assert_weft(weft_thread_start(&b, sleep_long, NULL, &o), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, "group done"), 0);
    int st;
    ck_assert_weft(weft_thread_join(a, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
    ck_assert_weft(weft_thread_join(b, &st, WEFT_SEC(10)), 0);
    ck_assert_weft(st, WEFT_ECANCELED);
    ck_assert_weft(weft_checkpoint(), 0); /* the creator itself is outside s */
    weft_scope_free(s);
}
END_TEST

START_TEST(cancel_with_nobody_waiting_is_harmless)
{
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_ECANCELED, NULL), 0);
    ck_assert_weft(weft_scope_cancel(s, WEFT_EBROKEN, "again"), 0);
    int code;
    char why[64];
    ck_assert_int_eq(weft_scope_reason(s, &code, why, sizeof why), 1);
    ck_assert_weft(code, WEFT_ECANCELED);
    ck_assert_str_eq(why, weft_strerror(WEFT_ECANCELED));
    weft_scope_free(s);
}
END_TEST

START_TEST(bad_arguments_are_error_codes)
{
    weft_scope *s = NULL;
    weft_scope_opts o = WEFT_SCOPE_OPTS_INIT;
    o.timeout = -1;
    ck_assert_weft(weft_scope_new(NULL, NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_scope_new(&s, NULL, &o), WEFT_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_weft(weft_scope_enter(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_scope_cancel(NULL, WEFT_ECANCELED, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_scope_cancelled(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_scope_reason(NULL, NULL, NULL, 0), WEFT_EINVAL);
    weft_scope_free(NULL);
    weft_scope_free(weft_scope_root()); /* harmless */
    ck_assert_weft(weft_thread_stop(weft_thread_current()), WEFT_EINVAL);
    ck_assert_weft(weft_thread_stop((weft_thread){0}), WEFT_ESRCH);
    for (int i = 0; i < WEFT_SCOPE_DEPTH; i++)
        ck_assert_weft(weft_scope_enter(weft_scope_root()), 0);
    ck_assert_weft(weft_scope_enter(weft_scope_root()), WEFT_ENOSPC);
    for (int i = 0; i < WEFT_SCOPE_DEPTH; i++) ck_assert_weft(weft_scope_exit(), 0);
}
END_TEST

static int sleep_short(void *arg)
{
    (void)arg;
    return weft_sleep(WEFT_US(50));
}

/* stop racing the thread's own end: always joinable, status 0 or ECANCELED, never a hang. */
START_TEST(stop_racing_thread_end)
{
    long rounds = weft_test_scale(2000);
    for (long r = 0; r < rounds; r++) {
        weft_thread t;
        int st = -1;
        ck_assert_weft(weft_thread_start(&t, sleep_short, NULL, NULL), 0);
        ck_assert_weft(weft_thread_stop(t), 0);
        ck_assert_weft(weft_thread_join(t, &st, WEFT_SEC(10)), 0);
        ck_assert(st == 0 || st == WEFT_ECANCELED);
    }
}
END_TEST

static int cancel_root_soon(void *arg)
{
    (void)arg;
    weft_shield_begin(); /* our own scope is a child of root */
    weft_sleep(WEFT_MS(5));
    weft_shield_end();
    return weft_scope_cancel(weft_scope_root(), WEFT_ECANCELED, "stop everything");
}

START_TEST(cancelling_root_wakes_main)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, cancel_root_soon, NULL, NULL), 0);
    ck_assert_weft(weft_sleep(WEFT_SEC(30)), WEFT_ECANCELED);
    weft_shield_begin();
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(10)), 0);
    weft_shield_end();
    char why[64];
    ck_assert_int_eq(weft_scope_reason(weft_scope_root(), NULL, why, sizeof why), 1);
    ck_assert_str_eq(why, "stop everything");
}
END_TEST

WEFT_TEST_SUITE("cancel", 30, stop_wakes_thread_blocked_in_sleep, stop_wakes_thread_blocked_in_join,
                nested_scopes_cancel_downwards_only, enter_and_exit_switch_the_current_scope,
                deadline_scope_cancels_when_it_passes, deadline_is_seen_by_checkpoint_and_children,
                own_timeout_shorter_than_scope_deadline_is_a_timeout, shield_lets_cleanup_block,
                threads_start_in_a_child_of_the_creators_scope,
                cancel_with_nobody_waiting_is_harmless, bad_arguments_are_error_codes,
                stop_racing_thread_end, cancelling_root_wakes_main)
