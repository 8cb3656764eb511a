/* tests/unit/time_test.c - the timeout type, deadlines and sleep. */
#include <math.h>

#include "test.h"

START_TEST(unit_helpers_scale_to_nanoseconds)
{
    ck_assert_int_eq(WEFT_US(3), 3000);
    ck_assert_int_eq(WEFT_MS(3), 3000000);
    ck_assert_int_eq(WEFT_SEC(3), 3000000000LL);
    ck_assert_int_eq(WEFT_FOREVER, INT64_MAX);
}
END_TEST

/* Python's get(True, 0.05) is weft_queue_get(q, &x, WEFT_SEC(0.05)): a fraction of a second
 * must not truncate to 0 (a non-blocking try) nor lose nanoseconds. */
START_TEST(fractional_seconds_give_the_right_nanoseconds)
{
    volatile double t = 0.05; /* a run-time value, as a Python timeout would be */
    ck_assert_int_eq(WEFT_SEC(0.05), 50000000);
    ck_assert_int_eq(WEFT_SEC(t), 50000000);
    ck_assert_int_eq(WEFT_SEC(1.1), 1100000000);
    ck_assert_int_eq(WEFT_SEC(0.3), 300000000);
    ck_assert_int_eq(WEFT_MS(1.5), 1500000);
    ck_assert_int_eq(WEFT_MS(0.25f), 250000);
    ck_assert_int_eq(WEFT_US(2.5), 2500);
    ck_assert_int_eq(WEFT_NS(2.5), 3);
    ck_assert_int_eq(WEFT_SEC(-0.05), -50000000);
    long double ld = 0.125L;
    ck_assert_int_eq(WEFT_SEC(ld), 125000000);
    /* every millisecond count below 10 s, written as seconds, is exact */
    for (int ms = 0; ms < 10000; ms++) ck_assert_int_eq(WEFT_SEC(ms / 1000.0), WEFT_MS(ms));
    /* out of range saturates; NaN is an invalid (negative) timeout */
    ck_assert_int_eq(WEFT_SEC(1e300), WEFT_FOREVER);
    ck_assert_int_eq(WEFT_SEC(INFINITY), WEFT_FOREVER);
    ck_assert_int_eq(WEFT_SEC(-INFINITY), -WEFT_FOREVER);
    ck_assert_int_eq(WEFT_SEC(NAN), -1);
    ck_assert_weft(weft_sleep(WEFT_SEC(NAN)), WEFT_EINVAL);

    /* and a blocking call given 0.05 s really waits (it times out, it does not just try) */
    weft_queue *q;
    void *item;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    weft_ns t0 = weft_now();
    ck_assert_weft(weft_queue_get(q, &item, WEFT_SEC(t)), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(50));
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Integer arguments never go through double: exact up to the int64 range. */
START_TEST(integer_scales_stay_exact_near_int64_range)
{
    static const weft_ns constant[] = {WEFT_SEC(2), WEFT_MS(3)}; /* constant expressions */
    ck_assert_int_eq(constant[0] + constant[1], 2003000000);
    ck_assert_int_eq(WEFT_SEC(9223372036), 9223372036000000000LL);
    ck_assert_int_eq(WEFT_MS(9223372036853), 9223372036853000000LL);
    ck_assert_int_eq(WEFT_US(9223372036854775), 9223372036854775000LL);
    ck_assert_int_eq(WEFT_NS(INT64_MAX - 1), INT64_MAX - 1);
    int64_t big = 9007199254740993; /* 2^53 + 1: not a double */
    ck_assert_int_eq(WEFT_NS(big), 9007199254740993LL);
    ck_assert_int_eq(WEFT_US(big), 9007199254740993000LL);
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

WEFT_TEST_SUITE("time", 10, unit_helpers_scale_to_nanoseconds,
                fractional_seconds_give_the_right_nanoseconds,
                integer_scales_stay_exact_near_int64_range, clock_is_monotonic,
                deadline_saturates_and_forever_stays_forever, sleep_waits_at_least_the_duration,
                negative_sleep_is_invalid)
