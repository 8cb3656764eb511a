/* tests/unit/error_test.c - error codes, names, texts and the per-thread error slot. */
#include <string.h>

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

WEFT_TEST_SUITE("error", 10, error_codes_reuse_errno_numbers, every_code_has_a_name_and_a_text,
                unknown_code_is_named_not_crashed, error_set_returns_code_and_keeps_message,
                long_message_is_cut_not_overflowed, error_slot_is_per_thread)
