/* tests/unit/signame_test.c - weft's own signal-name table (src/os/signame.c), which replaced
 * glibc's sigabbrev_np / sigdescr_np so that weft builds with musl: on glibc it must say the
 * same as they do for every standard signal, and nothing for the rest. */
#include <signal.h>
#include <string.h>

#include "os/os.h"
#include "test.h"

START_TEST(every_standard_signal_is_named_as_glibc_names_it)
{
    int named = 0;
    for (int s = 1; s < SIGRTMIN; s++) {
        const char *a = weft__os_signal_abbrev(s), *d = weft__os_signal_descr(s);
        const char *ga = sigabbrev_np(s), *gd = sigdescr_np(s);
        if (ga == NULL) continue; /* glibc's internal signals (32, 33) */
        ck_assert_msg(a != NULL && strcmp(a, ga) == 0, "signal %d: %s, glibc %s", s, a, ga);
        ck_assert_msg(d != NULL && strcmp(d, gd) == 0, "signal %d: %s, glibc %s", s, d, gd);
        named++;
    }
    ck_assert_int_ge(named, 31);
}
END_TEST

START_TEST(other_numbers_have_no_name)
{
    static const int others[] = {0, -1, -9, 65, 1000, 1 << 30};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ck_assert_ptr_null(weft__os_signal_abbrev(others[i]));
        ck_assert_ptr_null(weft__os_signal_descr(others[i]));
    }
    ck_assert_ptr_null(weft__os_signal_abbrev(SIGRTMIN));
    ck_assert_str_eq(weft__os_signal_abbrev(SIGINT), "INT");
    ck_assert_str_eq(weft__os_signal_descr(SIGSEGV), "Segmentation fault");
}
END_TEST

WEFT_TEST_SUITE("signame", 10, every_standard_signal_is_named_as_glibc_names_it,
                other_numbers_have_no_name)
