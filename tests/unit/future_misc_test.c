/* tests/unit/future_misc_test.c - promises of weft/future.h and weft/pool.h no other test
 * reached (found by the coverage report): a callback added to a finished future runs at once
 * in the caller, weft_future_name, and the default error hook's line on stderr for a failure
 * nobody looked at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

static void count_cb(weft_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
}

START_TEST(callback_on_a_finished_future_runs_now_once)
{
    weft_future *f = NULL;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    int runs = 0;
    for (int i = 1; i <= 3; i++) {
        ck_assert_weft(weft_future_add_done_callback(f, count_cb, &runs), 0);
        ck_assert_int_eq(runs, i); /* already done: ran in the call, exactly once */
    }
    weft_future_unref(f);
}
END_TEST

static int named_task(void *arg, void **result)
{
    (void)arg;
    *result = NULL;
    return 0;
}

START_TEST(future_name_gives_the_task_name_cut_to_the_buffer)
{
    weft_pool *p = NULL;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_future *f = NULL;
    ck_assert_weft(weft_pool_submit_named(p, "resize-images", named_task, NULL, &f, WEFT_FOREVER),
                   0);
    ck_assert_weft(weft_future_wait(f, WEFT_FOREVER), 0);
    char buf[32];
    ck_assert_weft(weft_future_name(f, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "resize-images");
    ck_assert_weft(weft_future_name(f, buf, 7), 0);
    ck_assert_str_eq(buf, "resize"); /* cut, NUL-terminated */
    ck_assert_weft(weft_future_name(f, NULL, 8), WEFT_EINVAL);
    ck_assert_weft(weft_future_name(f, buf, 0), WEFT_EINVAL);
    ck_assert_weft(weft_future_name(NULL, buf, sizeof buf), WEFT_EINVAL);
    weft_future_unref(f);
    weft_future *g = NULL; /* a future no pool made has no name */
    ck_assert_weft(weft_future_new(&g, NULL), 0);
    ck_assert_weft(weft_future_name(g, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    weft_future_unref(g);
    weft_pool_free(p);
}
END_TEST

static void fail_and_drop(void)
{
    weft_future_opts o = WEFT_FUTURE_OPTS_INIT;
    o.name = "fetch";
    weft_future *f = NULL;
    ck_assert_weft(weft_future_new(&f, &o), 0);
    ck_assert_weft(weft_future_set_failure(f, WEFT_EFAILED, "host unreachable"), 0);
    weft_future_unref(f); /* nobody looked at the failure */
}

START_TEST(unseen_failure_is_printed_by_the_default_hook)
{
    ck_assert_weft(weft_pool_set_error_hook(NULL, NULL), 0);
    char *text = weft_test_stderr_of(fail_and_drop);
    ck_assert_msg(strstr(text, "weft: task 'fetch' failed: WEFT_EFAILED (status -") &&
                      strstr(text, "): host unreachable\n"),
                  "stderr: %s", text);
    free(text);
}
END_TEST

WEFT_TEST_SUITE("future_misc", 30, callback_on_a_finished_future_runs_now_once,
                future_name_gives_the_task_name_cut_to_the_buffer,
                unseen_failure_is_printed_by_the_default_hook)
