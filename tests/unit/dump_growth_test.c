/* tests/unit/dump_growth_test.c - weft_debug_dump with more to say than its first buffer
 * holds (many blocked threads), and the locks each thread holds when lock-order checking is
 * on. debug_test.c covers what each line says; this holds the dump to "every thread, every
 * held lock, and the end line", however long it gets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fds.h"
#include "test.h"

#define NTHREADS 48

static weft_event gate = WEFT_EVENT_INIT;
static weft_latch parked = WEFT_LATCH_INIT(NTHREADS);
static weft_lock held[NTHREADS];

/* Hold lock i (so that the dump has a "holding" line for it), then wait on the gate. */
static int hold_and_wait(void *arg)
{
    weft_lock *l = arg;
    int rc = weft_lock_acquire(l, WEFT_FOREVER);
    if (rc) return rc;
    weft_latch_count_down(&parked, 1);
    rc = weft_event_wait(&gate, WEFT_SEC(60));
    weft_lock_release(l);
    return rc;
}

START_TEST(a_long_dump_lists_every_thread_and_held_lock)
{
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_REPORT), WEFT_LOCK_ORDER_OFF);
    weft_thread t[NTHREADS];
    char name[64];
    for (int i = 0; i < NTHREADS; i++) {
        snprintf(name, sizeof name, "held-by-waiter-number-%02d", i);
        ck_assert_weft(weft_debug_name(&held[i], name), 0);
        snprintf(name, sizeof name, "waiter-%02d", i);
        weft_thread_opts o = {.name = name};
        ck_assert_weft(weft_thread_start(&t[i], hold_and_wait, &held[i], &o), 0);
    }
    ck_assert_weft(weft_latch_wait(&parked, WEFT_SEC(60)), 0);
    char *text = weft_test_dump_text();
    ck_assert_msg(strlen(text) > 4096, "a dump of %zu bytes does not test the growth",
                  strlen(text));
    for (int i = 0; i < NTHREADS; i++) {
        snprintf(name, sizeof name, "'waiter-%02d'", i);
        ck_assert_msg(strstr(text, name), "%s missing", name);
        snprintf(name, sizeof name, "holding: lock 'held-by-waiter-number-%02d'", i);
        ck_assert_msg(strstr(text, name), "%s missing", name);
    }
    ck_assert_uint_eq(weft_test_count(text, "holding: "), NTHREADS);
    ck_assert_msg(strstr(text, "end of weft dump\n"), "no end line");
    free(text);
    ck_assert_weft(weft_event_set(&gate), 0);
    for (int i = 0; i < NTHREADS; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(t[i], &st, WEFT_SEC(60)), 0);
        ck_assert_int_eq(st, 0);
    }
    ck_assert_int_eq(weft_debug_lock_order(WEFT_LOCK_ORDER_OFF), WEFT_LOCK_ORDER_REPORT);
}
END_TEST

WEFT_TEST_SUITE("dump_growth", 60, a_long_dump_lists_every_thread_and_held_lock)
