/* tests/unit/debug_paths_test.c - the limits weft/debug.h promises for weft_debug_dump: at most
 * 64 pools and 256 queues are listed, then "N more not listed"; paused and shut-down pools and
 * closed and shut-down queues are marked; a failed write is WEFT_EFAILED naming errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

#include "fds.h"
#include "test.h"

START_TEST(dump_lists_64_pools_then_counts_the_rest)
{
    enum { NPOOLS = 70 };
    weft_pool *p[NPOOLS];
    for (int i = 0; i < NPOOLS; i++) ck_assert_weft(weft_pool_new(&p[i], NULL), 0);
    char *s = weft_test_dump_text();
    /* the default pool may also be live: 6 or 7 more */
    ck_assert_msg(strstr(s, "pools: 6 more not listed") || strstr(s, "pools: 7 more not listed"),
                  "%s", s);
    free(s);
    for (int i = 0; i < NPOOLS; i++) {
        ck_assert_weft(weft_pool_shutdown(p[i], 1, 0, WEFT_FOREVER), 0);
        weft_pool_free(p[i]);
    }
}
END_TEST

START_TEST(dump_lists_256_queues_then_counts_the_rest)
{
    enum { NQ = 300 };
    weft_queue **q = calloc(NQ, sizeof *q);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < NQ; i++) ck_assert_weft(weft_queue_new(&q[i], NULL), 0);
    char *s = weft_test_dump_text();
    ck_assert_msg(strstr(s, "queues: 44 more not listed") != NULL, "%s", strstr(s, "queues:"));
    free(s);
    for (int i = 0; i < NQ; i++) ck_assert_weft(weft_queue_free(q[i]), 0);
    free(q);
}
END_TEST

START_TEST(dump_marks_paused_and_shut_down_pools_and_queues)
{
    weft_pool *paused, *down;
    weft_queue *closed, *shut, *lifo;
    weft_queue_opts lo = WEFT_QUEUE_OPTS_INIT;
    lo.order = WEFT_QUEUE_LIFO;
    lo.capacity = 3;
    ck_assert_weft(weft_pool_new(&paused, NULL), 0);
    ck_assert_weft(weft_pool_new(&down, NULL), 0);
    ck_assert_weft(weft_debug_name(paused, "pp"), 0);
    ck_assert_weft(weft_debug_name(down, "dd"), 0);
    ck_assert_weft(weft_pool_pause(paused), 0);
    ck_assert_weft(weft_pool_shutdown(down, 1, 0, WEFT_FOREVER), 0);
    ck_assert_weft(weft_queue_new(&closed, NULL), 0);
    ck_assert_weft(weft_queue_new(&shut, NULL), 0);
    ck_assert_weft(weft_queue_new(&lifo, &lo), 0);
    ck_assert_weft(weft_debug_name(closed, "qc"), 0);
    ck_assert_weft(weft_debug_name(shut, "qs"), 0);
    ck_assert_weft(weft_debug_name(lifo, "ql"), 0);
    ck_assert_weft(weft_queue_put(lifo, &lo, 0), 0);
    ck_assert_weft(weft_queue_close(closed), 0);
    ck_assert_weft(weft_queue_shutdown(shut, NULL, NULL, NULL), 0);
    char *s = weft_test_dump_text();
    ck_assert_msg(strstr(s, "'pp': workers") && strstr(strstr(s, "'pp': workers"), ", paused\n"),
                  "%s", s);
    ck_assert_msg(strstr(s, "'dd': workers") && strstr(strstr(s, "'dd': workers"), ", shut down"),
                  "%s", s);
    ck_assert_msg(strstr(s, "'qc': items 0 (unbounded), getters 0, putters 0, closed\n"), "%s", s);
    ck_assert_msg(strstr(s, "'qs': items 0 (unbounded), getters 0, putters 0, shut down\n"), "%s",
                  s);
    ck_assert_msg(strstr(s, "'ql': items 1 of 3, getters 0, putters 0\n"), "%s", s);
    free(s);
    for (void *o[] = {paused, down, closed, shut, lifo}, **x = o; x < o + 5; x++)
        ck_assert_weft(weft_debug_name(*x, NULL), 0);
    ck_assert_weft(weft_pool_resume(paused), 0);
    ck_assert_weft(weft_pool_shutdown(paused, 1, 0, WEFT_FOREVER), 0);
    weft_pool_free(paused);
    weft_pool_free(down);
    ck_assert_weft(weft_queue_free(closed), 0);
    ck_assert_weft(weft_queue_free(shut), 0);
    ck_assert_weft(weft_queue_free(lifo), 0);
}
END_TEST

START_TEST(dump_to_a_read_only_descriptor_fails_naming_errno)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    weft_error_clear();
    ck_assert_weft(weft_debug_dump(fd), WEFT_EFAILED);
    ck_assert_msg(strstr(weft_error_message(), strerror(EBADF)) != NULL, "%s",
                  weft_error_message());
    close(fd);
    ck_assert_weft(weft_debug_dump(-1), WEFT_EINVAL);
}
END_TEST

WEFT_TEST_SUITE("debug_paths", 60, dump_lists_64_pools_then_counts_the_rest,
                dump_lists_256_queues_then_counts_the_rest,
                dump_marks_paused_and_shut_down_pools_and_queues,
                dump_to_a_read_only_descriptor_fails_naming_errno)
