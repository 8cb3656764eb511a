/* tests/support/test.h - what every weft test program shares.
 *
 * Each test program defines its suite with WEFT_TEST_SUITE and lists its tests; Check runs each
 * test in a forked process with a time limit (scaled by CK_TIMEOUT_MULTIPLIER in sanitizer
 * builds), so a deadlock fails one test instead of hanging the run.
 *
 *     START_TEST(lock_released_by_other_thread) { ... ck_assert_int_eq(...); } END_TEST
 *     WEFT_TEST_SUITE("sync", 10, lock_released_by_other_thread, ...)
 */
#ifndef WEFT_TEST_SUPPORT_H
#define WEFT_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <weft.h>

/* Loop counts of race tests are multiplied by WEFT_STRESS (environment, default 1). Sanitizer
 * builds divide them by 10 (floor 1) unless WEFT_STRESS is set, to fit CI's time. */
long weft_test_scale(long n);
/* 1 when built with ThreadSanitizer or AddressSanitizer. */
int weft_test_sanitized(void);
/* 1 when built with ThreadSanitizer. */
int weft_test_tsan(void);

/* The seed of every random choice a test makes: WEFT_SEED (environment) when set, else one
 * drawn from the clock and the pid. The runner prints it before the first test
 * ("seed: N (replay with WEFT_SEED=N)"), so a failure found at random can be replayed; each
 * forked test sees the same value. Tests derive their per-thread or per-round seeds from it
 * (weft_test_seed() + salt), never from the clock or an address. */
uint64_t weft_test_seed(void);
/* The next pseudo-random 32 bits of *state (splitmix64: any state, 0 included, is fine). */
uint32_t weft_test_rand(uint64_t *state);
/* A busy delay that varies with a race loop's round r: none, a little, or (one round in 16)
 * long enough that the thread on the other side went to sleep. */
void weft_test_stagger(long r);

/* Assert that an int-returning weft call gives the expected code, printing names on failure. */
#define ck_assert_weft(expr, expected)                                                          \
    do {                                                                                        \
        int got_ = (expr), want_ = (expected);                                                  \
        ck_assert_msg(got_ == want_, "%s gave %s (%d), expected %s", #expr, weft_errname(got_), \
                      got_, weft_errname(want_));                                               \
    } while (0)

/* Assert that expr gives WEFT_EINVAL with a message (weft_error_message) containing `what`. */
#define ck_einval(expr, what)                                                                  \
    do {                                                                                       \
        weft_error_clear();                                                                    \
        ck_assert_weft((expr), WEFT_EINVAL);                                                   \
        ck_assert_msg(strstr(weft_error_message(), (what)) != NULL,                            \
                      "%s: message \"%s\" lacks \"%s\"", #expr, weft_error_message(), (what)); \
    } while (0)

/* Run the tests (a NULL-terminated array) as suite `name`, every test with `timeout_s`.
 * WEFT_TEST_ONLY=name (environment) runs only the test of that name. After Check's summary it
 * prints the plain line "N passed, N failed" (a loop test counts once per row). */
int weft_test_run(const char *name, double timeout_s, const TTest *const *tests);

/* A table-driven test: Check runs `test` once per row start .. end - 1 of the program's table
 * (the row is _i in the test's body; a failure's line names the test and the row). */
typedef struct weft_test_loop {
    const TTest *test;
    int start, end;
} weft_test_loop;

/* weft_test_run, and the n tests of `loops` once per row each. WEFT_TEST_ONLY=name runs every
 * row of a loop test of that name. */
int weft_test_run_loops(const char *name, double timeout_s, const TTest *const *tests,
                        const weft_test_loop *loops, size_t n);

#define WEFT_TEST_SUITE(name, timeout_s, ...)              \
    int main(void)                                         \
    {                                                      \
        const TTest *const tests_[] = {__VA_ARGS__, NULL}; \
        return weft_test_run((name), (timeout_s), tests_); \
    }

#endif
