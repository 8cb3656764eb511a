/* tests/unit/error_test.c - error codes, names, texts and the per-thread error slot. */
#include <string.h>

#include "core/internal.h"
#include "test.h"

START_TEST(error_codes_reuse_errno_numbers)
{
    ck_assert_int_eq(WEFT_ETIMEDOUT, -ETIMEDOUT);
    ck_assert_int_eq(WEFT_ECANCELED, -ECANCELED);
    ck_assert_int_eq(WEFT_EINVAL, -EINVAL);
    ck_assert_int_eq(WEFT_EAGAIN, -EAGAIN);
    ck_assert_int_lt(WEFT_ECLOSED, -999);
    ck_assert_int_lt(WEFT_EBROKEN, -999);
    ck_assert_int_lt(WEFT_EDIED, -999);
}
END_TEST

START_TEST(every_code_has_a_name_and_a_text)
{
    static const int codes[] = {
#define CODE_(name, value, text) WEFT_##name,
        WEFT_ERROR_TABLE(CODE_)
#undef CODE_
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_str_ne(weft_strerror(codes[i]), "unknown error");
        ck_assert_str_ne(weft_errname(codes[i]), "WEFT_E?");
        ck_assert_int_eq(strncmp(weft_errname(codes[i]), "WEFT_", 5), 0);
        for (size_t j = 0; j < i; j++) ck_assert_int_ne(codes[i], codes[j]);
    }
    ck_assert_str_eq(weft_errname(WEFT_ETIMEDOUT), "WEFT_ETIMEDOUT");
    ck_assert_str_eq(weft_strerror(WEFT_ETIMEDOUT), "timed out");
    ck_assert_str_eq(weft_errname(0), "WEFT_OK");
}
END_TEST

START_TEST(unknown_code_is_named_not_crashed)
{
    ck_assert_str_eq(weft_strerror(12345), "unknown error");
    ck_assert_str_eq(weft_errname(-99999), "WEFT_E?");
}
END_TEST

START_TEST(error_set_returns_code_and_keeps_message)
{
    ck_assert_int_eq(weft_error_code(), 0);
    ck_assert_str_eq(weft_error_message(), "");
    ck_assert_int_eq(weft_error_set(WEFT_EINVAL, "bad port %d", 70000), WEFT_EINVAL);
    ck_assert_int_eq(weft_error_code(), WEFT_EINVAL);
    ck_assert_str_eq(weft_error_message(), "bad port 70000");
    weft_error_set(WEFT_ETIMEDOUT, NULL);
    ck_assert_str_eq(weft_error_message(), "timed out");
    weft_error_clear();
    ck_assert_int_eq(weft_error_code(), 0);
    ck_assert_str_eq(weft_error_message(), "");
}
END_TEST

START_TEST(long_message_is_cut_not_overflowed)
{
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weft_error_set(WEFT_EINVAL, "%s", big);
    ck_assert_uint_eq(strlen(weft_error_message()), WEFT_ERROR_MESSAGE_MAX - 1);
}
END_TEST

static int set_in_thread(void *arg)
{
    (void)arg;
    /* The slot is per thread: this thread starts empty whatever main set. */
    if (weft_error_code() != 0) return 1;
    weft_error_set(WEFT_EBUSY, "in thread");
    return 0;
}

START_TEST(error_slot_is_per_thread)
{
    weft_error_set(WEFT_EINVAL, "main's");
    weft_thread t;
    int status = -1;
    ck_assert_weft(weft_thread_start(&t, set_in_thread, NULL, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(10)), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(weft_error_message(), "main's");
}
END_TEST

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void nothing_cb(void *arg)
{
    (void)arg;
}

/* Expect rc == code and a message in the slot that contains want. */
#define ck_assert_failed_with(expr, code, want)                                                \
    do {                                                                                       \
        weft_error_clear();                                                                    \
        ck_assert_weft((expr), (code));                                                        \
        ck_assert_int_eq(weft_error_code(), (code));                                           \
        ck_assert_msg(strstr(weft_error_message(), (want)) != NULL, "%s: message '%s'", #expr, \
                      weft_error_message());                                                   \
    } while (0)

/* Three different mistakes in weft_thread_start read three different messages, each naming
 * the argument and the reason (Python's ValueError text). */
START_TEST(weft_failures_leave_a_message_naming_argument_and_reason)
{
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    char longname[81];
    memset(longname, 'n', 80);
    longname[80] = '\0';
    o.name = longname;
    ck_assert_failed_with(weft_thread_start(&t, nothing, NULL, &o), WEFT_EINVAL,
                          "name is 80 bytes; the limit is 63");
    o.name = NULL;
    o.stack_size = 100;
    ck_assert_failed_with(weft_thread_start(&t, nothing, NULL, &o), WEFT_EINVAL,
                          "stack_size is 100 bytes");
    ck_assert_failed_with(weft_thread_start(&t, NULL, NULL, NULL), WEFT_EINVAL, "fn is NULL");
    ck_assert_failed_with(weft_thread_start(NULL, nothing, NULL, NULL), WEFT_EINVAL, "out is NULL");

    /* across the modules: EINVAL, ESTATE, ENOMEM */
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_failed_with(weft_lock_acquire(&l, -5), WEFT_EINVAL, "timeout is negative");
    ck_assert_failed_with(weft_lock_release(&l), WEFT_ESTATE, "not locked");
    ck_assert_failed_with(weft_sleep(-1), WEFT_EINVAL, "duration is negative");
    ck_assert_failed_with(weft_shield_end(), WEFT_ESTATE, "no shield");
    ck_assert_failed_with(weft_scope_exit(), WEFT_ESTATE, "weft_scope_enter");
    weft_queue *q;
    weft_queue_opts qo = WEFT_QUEUE_OPTS_INIT;
    qo.order = 7;
    ck_assert_failed_with(weft_queue_new(&q, &qo), WEFT_EINVAL, "order is 7");
    qo.order = WEFT_QUEUE_PRIORITY;
    ck_assert_failed_with(weft_queue_new(&q, &qo), WEFT_EINVAL, "compare");
    ck_assert_failed_with(weft_queue_get(NULL, NULL, 0), WEFT_EINVAL, "q is NULL");
    weft_pool *p;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = 5000;
    ck_assert_failed_with(weft_pool_new(&p, &po), WEFT_EINVAL, "max_workers is 5000");
    weft_barrier b;
    ck_assert_failed_with(weft_barrier_init(&b, 0, NULL, NULL), WEFT_EINVAL, "parties is 0");
    ck_assert_failed_with(weft_timer_start(NULL, -1, nothing_cb, NULL, NULL), WEFT_EINVAL,
                          "delay is negative");
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_failed_with(weft_queue_new(&q, NULL), WEFT_ENOMEM, "no memory");
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    weft_scope *sc;
    ck_assert_failed_with(weft_scope_new(&sc, NULL, NULL), WEFT_ENOMEM, "no memory");
}
END_TEST

/* A successful call leaves the slot as it was (error.h): it costs nothing. */
START_TEST(success_leaves_the_error_slot_alone)
{
    weft_error_set(WEFT_EBUSY, "earlier");
    weft_lock l = WEFT_LOCK_INIT;
    ck_assert_weft(weft_lock_acquire(&l, 0), 0);
    ck_assert_weft(weft_lock_release(&l), 0);
    ck_assert_int_eq(weft_error_code(), WEFT_EBUSY);
    ck_assert_str_eq(weft_error_message(), "earlier");
}
END_TEST

/* weft__fail's own formatter (async-signal-safe, no allocation): each conversion it knows, the
 * extremes, cutting at the slot's size. */
START_TEST(internal_fail_formats_its_conversions_and_cuts)
{
    const char *volatile none = NULL; /* hidden from the compiler's format check */
    ck_assert_int_eq(weft__fail(WEFT_EINVAL, "%s|%d|%u|%zu|%lld|%llu|%%|%s", "x", -7, 4000000000u,
                                (size_t)123, (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
                                none),
                     WEFT_EINVAL);
    ck_assert_str_eq(weft_error_message(),
                     "x|-7|4000000000|123|-9223372036854775808|18446744073709551615|%|(null)");
    ck_assert_int_eq(weft_error_code(), WEFT_EINVAL);
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weft__fail(WEFT_ENOMEM, "%s%d", big, 5);
    ck_assert_uint_eq(strlen(weft_error_message()), WEFT_ERROR_MESSAGE_MAX - 1);
    weft__fail(WEFT_ESTATE, "0 is %d", 0);
    ck_assert_str_eq(weft_error_message(), "0 is 0");
}
END_TEST

WEFT_TEST_SUITE("error", 10, internal_fail_formats_its_conversions_and_cuts,
                weft_failures_leave_a_message_naming_argument_and_reason,
                success_leaves_the_error_slot_alone, error_codes_reuse_errno_numbers,
                every_code_has_a_name_and_a_text, unknown_code_is_named_not_crashed,
                error_set_returns_code_and_keeps_message, long_message_is_cut_not_overflowed,
                error_slot_is_per_thread)
