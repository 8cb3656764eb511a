/* tests/unit/time_test.c - the timeout type, deadlines and sleep. */
#include "test.h"

START_TEST(unit_helpers_scale_to_nanoseconds)
{
    ck_assert_int_eq(WEFT_US(3), 3000);
    ck_assert_int_eq(WEFT_MS(3), 3000000);
    ck_assert_int_eq(WEFT_SEC(3), 3000000000LL);
    ck_assert_int_eq(WEFT_FOREVER, INT64_MAX);
}
END_TEST

START_TEST(clock_is_monotonic)
{
    weft_ns a = weft_now();
    for (int i = 0; i < 100000; i++) {
        weft_ns b = weft_now();
        ck_assert_int_ge(b, a);
        a = b;
    }
}
END_TEST

START_TEST(deadline_saturates_and_forever_stays_forever)
{
    ck_assert_int_eq(weft_deadline(WEFT_FOREVER), WEFT_FOREVER);
    ck_assert_int_eq(weft_deadline(WEFT_FOREVER - 1), WEFT_FOREVER);
    weft_ns now = weft_now();
    weft_ns d = weft_deadline(WEFT_SEC(1));
    ck_assert_int_ge(d, now + WEFT_SEC(1));
    ck_assert_int_eq(weft_remaining(WEFT_FOREVER), WEFT_FOREVER);
    ck_assert_int_eq(weft_remaining(now - 5), 0);
    ck_assert_int_le(weft_remaining(d), WEFT_SEC(1));
    ck_assert_int_gt(weft_remaining(d), 0);
}
END_TEST

START_TEST(sleep_waits_at_least_the_duration)
{
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_sleep(WEFT_MS(20)), 0);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(20));
    ck_assert_weft(weft_sleep(0), 0);
}
END_TEST

START_TEST(negative_sleep_is_invalid)
{
    ck_assert_weft(weft_sleep(-1), WEFT_EINVAL);
}
END_TEST

WEFT_TEST_SUITE("time", 10, unit_helpers_scale_to_nanoseconds, clock_is_monotonic,
                deadline_saturates_and_forever_stays_forever, sleep_waits_at_least_the_duration,
                negative_sleep_is_invalid)
