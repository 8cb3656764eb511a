/* tests/support/test.c - the runner behind WEFT_TEST_SUITE and the stress-scale knob. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif

int weft_test_tsan(void)
{
    return TSAN;
}

int weft_test_sanitized(void)
{
    return SANITIZED;
}

long weft_test_scale(long n)
{
    const char *s = getenv("WEFT_STRESS");
    if (s && *s) {
        long k = strtol(s, NULL, 10);
        return n * (k > 0 ? k : 1);
    }
    if (SANITIZED) return n / 10 > 0 ? n / 10 : 1;
    return n;
}

static uint64_t seed;
static int seeded;

uint64_t weft_test_seed(void)
{
    if (seeded) return seed;
    const char *s = getenv("WEFT_SEED");
    if (s && *s) {
        seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
    }
    seeded = 1;
    fprintf(stderr, "seed: %llu (replay with WEFT_SEED=%llu)\n", (unsigned long long)seed,
            (unsigned long long)seed);
    return seed;
}

uint32_t weft_test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

void weft_test_stagger(long r)
{
    volatile unsigned sink = 0; /* the loop stays; on the stack, so any thread may call it */
    unsigned n = (unsigned)(r * 2654435761u) >> 20; /* 0 .. 4095 */
    if (r % 16 == 15) n *= 64;
    for (unsigned i = 0; i < n; i++) sink += i;
}

int weft_test_run(const char *name, double timeout_s, const TTest *const *tests)
{
    return weft_test_run_loops(name, timeout_s, tests, NULL, 0);
}

int weft_test_run_loops(const char *name, double timeout_s, const TTest *const *tests,
                        const weft_test_loop *loops, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("all");
    tcase_set_timeout(tc, timeout_s);
    suite_add_tcase(s, tc);
    const char *only = getenv("WEFT_TEST_ONLY"); /* run one test, by name (for debugging) */
    if (only && *only == '\0') only = NULL;
    int added = 0;
    for (size_t i = 0; tests[i]; i++)
        if (only == NULL || strcmp(only, tests[i]->name) == 0) {
            tcase_add_test(tc, tests[i]);
            added++;
        }
    for (size_t i = 0; i < n; i++)
        if (only == NULL || strcmp(only, loops[i].test->name) == 0) {
            tcase_add_loop_test(tc, loops[i].test, loops[i].start, loops[i].end);
            added++;
        }
    if (added == 0) { /* a misspelt name must not pass as "every test passed" */
        fprintf(stderr, "%s: no test named %s\n", name, only);
        srunner_free(srunner_create(s)); /* frees the suite and its test case */
        return EXIT_FAILURE;
    }
    (void)weft_test_seed(); /* printed once, inherited by every forked test */
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr), ran = srunner_ntests_run(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
