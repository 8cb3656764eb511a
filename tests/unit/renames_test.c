/* tests/unit/renames_test.c - the names renamed by the verb rule (docs/design/naming.md) still
 * build and do what the new ones do: a program written against 0.1 runs unchanged. */
#include <weft.h>

#include "test.h"

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int child_ok(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

static void tick(void *arg)
{
    (void)arg;
}

START_TEST(thread_release_detaches)
{
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, nothing, NULL, NULL), 0);
    ck_assert_weft(weft_thread_release(t), 0);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), WEFT_ESRCH); /* as after detach */
}
END_TEST

START_TEST(future_release_drops_a_reference)
{
    weft_future *f;
    ck_assert_weft(weft_future_new(&f, NULL), 0);
    ck_assert_weft(weft_future_ref(f), 0);
    weft_future_release(f); /* one of two: f stays usable */
    ck_assert_weft(weft_future_set_result(f, NULL, NULL), 0);
    ck_assert_weft(weft_future_done(f), 1);
    weft_future_release(f); /* the last: ASan sees a leak if it is not freed */
}
END_TEST

START_TEST(scope_and_timer_release_free_their_handles)
{
    weft_scope *s;
    ck_assert_weft(weft_scope_new(&s, NULL, NULL), 0);
    weft_scope_release(s);
    weft_timer *t;
    ck_assert_weft(weft_timer_start(&t, WEFT_SEC(3600), tick, NULL, NULL), 0);
    ck_assert_weft(weft_timer_cancel(t), 0);
    weft_timer_release(t);
}
END_TEST

START_TEST(process_release_detaches)
{
    weft_process *p;
    ck_assert_weft(weft_process_start(&p, child_ok, NULL, 0, NULL), 0);
    ck_assert_weft(weft_process_release(p), 0);
}
END_TEST

WEFT_TEST_SUITE("renames", 30, thread_release_detaches, future_release_drops_a_reference,
                scope_and_timer_release_free_their_handles, process_release_detaches)
