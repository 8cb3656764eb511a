/* tests/unit/lock_order_depth_test.c - the lock-order checker (weft/debug.h) past its usual
 * case: locks released out of order, and more locks held at once than its per-thread stack
 * keeps (16). Neither may make it report an inversion that did not happen, nor lose one that
 * did. debug_test.c covers the report itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

#define NLOCKS 24 /* more than the checker's stack of held locks */

static weft_lock locks[NLOCKS];

static void take_all_in_order(void)
{
    for (int i = 0; i < NLOCKS; i++) ck_assert_weft(weft_lock_acquire(&locks[i], WEFT_FOREVER), 0);
}

/* Every order of release the program may use: odd ones first, then the evens from the top. */
static void release_scrambled(void)
{
    for (int i = 1; i < NLOCKS; i += 2) ck_assert_weft(weft_lock_release(&locks[i]), 0);
    for (int i = NLOCKS - 2; i >= 0; i -= 2) ck_assert_weft(weft_lock_release(&locks[i]), 0);
}

static void release_bottom_first(void)
{
    for (int i = 0; i < NLOCKS; i++) ck_assert_weft(weft_lock_release(&locks[i]), 0);
}

static void consistent_order(void)
{
    for (int round = 0; round < 3; round++) {
        take_all_in_order();
        if (round == 1)
            release_bottom_first();
        else
            release_scrambled();
    }
    /* A second, shallower pass in the same order: the stack must have been emptied. */
    for (int i = 0; i < 4; i++) ck_assert_weft(weft_lock_acquire(&locks[i], WEFT_FOREVER), 0);
    for (int i = 3; i >= 0; i--) ck_assert_weft(weft_lock_release(&locks[i]), 0);
}

static void one_inversion(void)
{
    ck_assert_weft(weft_lock_acquire(&locks[3], WEFT_FOREVER), 0);
    ck_assert_weft(weft_lock_acquire(&locks[2], WEFT_FOREVER), 0); /* 2 after 3: inverted */
    ck_assert_weft(weft_lock_release(&locks[3]), 0);
    ck_assert_weft(weft_lock_release(&locks[2]), 0);
}

START_TEST(deep_and_out_of_order_releases_report_nothing_false)
{
    char name[16];
    for (int i = 0; i < NLOCKS; i++) {
        snprintf(name, sizeof name, "L%d", i);
        ck_assert_weft(weft_debug_name(&locks[i], name), 0);
    }
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT), WEFT_LOCK_ORDER_OFF);
    char *text = weft_test_stderr_of(consistent_order);
    ck_assert_msg(strcmp(text, "") == 0, "a consistent order was reported:\n%.600s", text);
    free(text);
    text = weft_test_stderr_of(one_inversion);
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_OFF), WEFT_LOCK_ORDER_REPORT);
    ck_assert_msg(strstr(text, "lock-order inversion") != NULL, "not reported:\n%s", text);
    ck_assert_msg(strstr(text, "acquiring lock 'L2'") != NULL, "%s", text);
    free(text);
}
END_TEST

WEFT_TEST_SUITE("lock_order_depth", 60, deep_and_out_of_order_releases_report_nothing_false)
