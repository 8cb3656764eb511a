/* tests/unit/timeout_test.c - a timed wait never returns WEFT_ETIMEDOUT before its deadline.
 *
 * weft/time.h promises that a wait that runs out returns "never earlier than asked", on the
 * monotonic clock weft_now reads. Every call that takes a timeout (tests/support/timed_calls.c
 * lists them: locks, condition, semaphore, event, barrier, latch, sleep, queue get / put / join
 * / select, future wait / result, weft_wait, as_completed, thread join, group wait, timer wait,
 * ipcq get / put / join, process join) is set up so that it can only run out, then called with
 * timeouts from 1 ns to a few ms; each must return WEFT_ETIMEDOUT, and weft_now() after it
 * returns must be at least weft_now() before it was called plus the timeout. How late it
 * returns is not asserted (bench/timeout_bench.c measures it).
 */
#include "test.h"
#include "timed_calls.h"

static const weft_ns timeouts[] = {1, 1000, 20000, 100000, 250000, 1000000, 3000000};
#define NTIMEOUTS (sizeof timeouts / sizeof timeouts[0])
#define ROUNDS    4 /* per timeout */

START_TEST(never_early)
{
    const struct timed_call *c = &timed_calls[_i];
    struct timed_state *s = NULL;
    ck_assert_weft(c->setup(&s), 0);
    for (int r = 0; r < ROUNDS; r++)
        for (size_t k = 0; k < NTIMEOUTS; k++) {
            weft_ns t = timeouts[k], start = weft_now();
            int rc = c->call(s, t);
            weft_ns took = weft_now() - start;
            ck_assert_msg(rc == WEFT_ETIMEDOUT, "%s(%lld ns) gave %s", c->name, (long long)t,
                          weft_errname(rc));
            ck_assert_msg(took >= t, "%s(%lld ns) returned after %lld ns: early", c->name,
                          (long long)t, (long long)took);
        }
    ck_assert_weft(c->teardown(s), 0);
}
END_TEST

/* A negative timeout is WEFT_EINVAL, for every call (weft/time.h). */
START_TEST(negative_timeout_is_einval)
{
    const struct timed_call *c = &timed_calls[_i];
    struct timed_state *s = NULL;
    ck_assert_weft(c->setup(&s), 0);
    int rc = c->call(s, -1);
    ck_assert_msg(rc == WEFT_EINVAL, "%s(-1) gave %s", c->name, weft_errname(rc));
    ck_assert_weft(c->teardown(s), 0);
}
END_TEST

int main(void)
{
    const TTest *const none[] = {NULL};
    weft_test_loop loops[] = {{never_early, 0, (int)timed_calls_count},
                              {negative_timeout_is_einval, 0, (int)timed_calls_count}};
    return weft_test_run_loops("timeout", 60, none, loops, 2);
}
