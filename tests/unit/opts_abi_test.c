/* tests/unit/opts_abi_test.c - the options structs' room to grow (weft/config.h, README "ABI
 * and versions"): each ends in zero reserved words (four, fewer once a later field took one:
 * weft_pool_opts.inline_depth) that its _OPTS_INIT leaves zero, its
 * layout is the one 0.1 shipped (a change is an ABI break), and every function that takes it
 * refuses non-zero reserved words (a field of a later weft) with WEFT_EINVAL and a message,
 * making nothing. All-zero as the defaults is zeroed_opts_test.c. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

/* Last member, 32 bytes (words: fewer once fields took some), no padding after it: later fields
 * take its place, size unchanged. */
#define RESERVED_LAST_OF(T, words)                \
    (sizeof(((T *)0)->reserved) == 8 * (words) && \
     offsetof(T, reserved) + sizeof(((T *)0)->reserved) == sizeof(T))
#define RESERVED_LAST(T) RESERVED_LAST_OF(T, 4)

/* _OPTS_INIT sets nothing in the reserved words. */
#define INIT_ZERO(T, init)                                                 \
    do {                                                                   \
        T v_ = init;                                                       \
        static const unsigned long long zero_[4];                          \
        ck_assert_msg(memcmp(v_.reserved, zero_, sizeof v_.reserved) == 0, \
                      #init " sets reserved");                             \
    } while (0)

START_TEST(every_options_struct_ends_in_zero_reserved_words)
{
    ck_assert(RESERVED_LAST(weft_thread_opts) && RESERVED_LAST(weft_queue_opts));
    ck_assert(RESERVED_LAST_OF(weft_pool_opts, 3) && RESERVED_LAST(weft_imap_opts));
    ck_assert(RESERVED_LAST(weft_group_opts) && RESERVED_LAST(weft_scope_opts));
    ck_assert(RESERVED_LAST(weft_timer_opts) && RESERVED_LAST(weft_future_opts));
    ck_assert(RESERVED_LAST(weft_signals_opts) && RESERVED_LAST(weft_process_opts));
    ck_assert(RESERVED_LAST(weft_ipcq_opts) && RESERVED_LAST(weft_procpool_opts));
    ck_assert(RESERVED_LAST(weft_procpool_task_opts));
    INIT_ZERO(weft_thread_opts, WEFT_THREAD_OPTS_INIT);
    INIT_ZERO(weft_queue_opts, WEFT_QUEUE_OPTS_INIT);
    INIT_ZERO(weft_pool_opts, WEFT_POOL_OPTS_INIT);
    INIT_ZERO(weft_imap_opts, WEFT_IMAP_OPTS_INIT);
    INIT_ZERO(weft_group_opts, WEFT_GROUP_OPTS_INIT);
    INIT_ZERO(weft_scope_opts, WEFT_SCOPE_OPTS_INIT);
    INIT_ZERO(weft_timer_opts, WEFT_TIMER_OPTS_INIT);
    INIT_ZERO(weft_future_opts, WEFT_FUTURE_OPTS_INIT);
    INIT_ZERO(weft_signals_opts, WEFT_SIGNALS_OPTS_INIT);
    INIT_ZERO(weft_process_opts, WEFT_PROCESS_OPTS_INIT);
    INIT_ZERO(weft_ipcq_opts, WEFT_IPCQ_OPTS_INIT);
    INIT_ZERO(weft_procpool_opts, WEFT_PROCPOOL_OPTS_INIT);
    INIT_ZERO(weft_procpool_task_opts, WEFT_PROCPOOL_TASK_OPTS_INIT);
}
END_TEST

/* The sizes of weft 0.1 on LP64 (x86_64, aarch64). Once 0.1.0 is released a failure here
 * means the ABI changed: a new field must take reserved words instead (reserved[4] becomes
 * reserved[3] after an 8-byte field), or it waits for a new minor (a new SONAME) and says so in
 * CHANGELOG.md. Until that release, a field added to a struct updates this table. */
START_TEST(options_sizes_are_those_of_0_1_on_lp64)
{
    if (sizeof(void *) != 8) return;
    static const struct {
        const char *name;
        size_t size, want;
    } sizes[] = {
        {"weft_thread_opts", sizeof(weft_thread_opts), 64},
        {"weft_queue_opts", sizeof(weft_queue_opts), 64},
        {"weft_pool_opts", sizeof(weft_pool_opts), 96},
        {"weft_imap_opts", sizeof(weft_imap_opts), 56},
        {"weft_group_opts", sizeof(weft_group_opts), 56},
        {"weft_scope_opts", sizeof(weft_scope_opts), 40},
        {"weft_timer_opts", sizeof(weft_timer_opts), 40},
        {"weft_future_opts", sizeof(weft_future_opts), 40},
        {"weft_signals_opts", sizeof(weft_signals_opts), 72},
        {"weft_process_opts", sizeof(weft_process_opts), 80},
        {"weft_ipcq_opts", sizeof(weft_ipcq_opts), 56},
        {"weft_procpool_opts", sizeof(weft_procpool_opts), 104},
        {"weft_procpool_task_opts", sizeof(weft_procpool_task_opts), 56},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        ck_assert_msg(sizes[i].size == sizes[i].want, "%s is %zu bytes, 0.1 had %zu", sizes[i].name,
                      sizes[i].size, sizes[i].want);
}
END_TEST

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int child(const void *arg, size_t size)
{
    (void)arg;
    (void)size;
    return 0;
}

static void tick(void *arg)
{
    (void)arg;
}

/* The call returned WEFT_EINVAL and named the struct's reserved word (the last: 3, or 2 for a
 * struct that gave one to a field). */
static void refused_word(int rc, const char *type, int word)
{
    char want[32];
    snprintf(want, sizeof want, ".reserved[%d] is not zero", word);
    ck_assert_weft(rc, WEFT_EINVAL);
    ck_assert_msg(strstr(weft_error_message(), type) != NULL &&
                      strstr(weft_error_message(), want) != NULL,
                  "message: %s", weft_error_message());
}

static void refused(int rc, const char *type)
{
    refused_word(rc, type, 3);
}

START_TEST(a_field_from_a_later_weft_is_refused_not_ignored)
{
    static char mark; /* out is left as it was */
    void *none = &mark;
    weft_thread t;
    weft_thread_opts to = WEFT_THREAD_OPTS_INIT;
    to.reserved[3] = 1;
    refused(weft_thread_start(&t, nothing, NULL, &to), "weft_thread_opts");
    weft_queue *q = none;
    weft_queue_opts qo = WEFT_QUEUE_OPTS_INIT;
    qo.reserved[3] = 1;
    refused(weft_queue_new(&q, &qo), "weft_queue_opts");
    ck_assert_ptr_eq(q, none);
    weft_pool *p = none;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.reserved[2] = 1;
    refused_word(weft_pool_new(&p, &po), "weft_pool_opts", 2);
    ck_assert_ptr_eq(p, none);
    weft_group *g = none;
    weft_group_opts go = WEFT_GROUP_OPTS_INIT;
    go.reserved[3] = 1;
    refused(weft_group_new(&g, &go), "weft_group_opts");
    ck_assert_ptr_eq(g, none);
    weft_scope *s = none;
    weft_scope_opts so = WEFT_SCOPE_OPTS_INIT;
    so.reserved[3] = 1;
    refused(weft_scope_new(&s, NULL, &so), "weft_scope_opts");
    ck_assert_ptr_eq(s, none);
    weft_timer *tm = none;
    weft_timer_opts tmo = WEFT_TIMER_OPTS_INIT;
    tmo.reserved[3] = 1;
    refused(weft_timer_start(&tm, WEFT_MS(1), tick, NULL, &tmo), "weft_timer_opts");
    ck_assert_ptr_eq(tm, none);
    weft_future *f = none;
    weft_future_opts fo = WEFT_FUTURE_OPTS_INIT;
    fo.reserved[3] = 1;
    refused(weft_future_new(&f, &fo), "weft_future_opts");
    ck_assert_ptr_eq(f, none);
    weft_ipcq *iq = none;
    weft_ipcq_opts io = WEFT_IPCQ_OPTS_INIT;
    io.reserved[3] = 1;
    refused(weft_ipcq_new(&iq, &io), "weft_ipcq_opts");
    ck_assert_ptr_eq(iq, none);
    weft_signals_opts sg = WEFT_SIGNALS_OPTS_INIT;
    sg.reserved[3] = 1;
    refused(weft_signals_catch(&sg), "weft_signals_opts");
}
END_TEST

START_TEST(pools_and_processes_refuse_a_later_field_too)
{
    static char mark; /* out is left as it was */
    void *none = &mark;
    weft_pool *p;
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    weft_imap *it = none;
    void *args[1] = {NULL};
    weft_imap_opts mo = WEFT_IMAP_OPTS_INIT;
    mo.reserved[3] = 1;
    refused(weft_pool_imap(&it, p, task, args, 1, &mo, WEFT_SEC(10)), "weft_imap_opts");
    ck_assert_ptr_eq(it, none);
    weft_pool_free(p);
    weft_process *pr = none;
    weft_process_opts pro = WEFT_PROCESS_OPTS_INIT;
    pro.reserved[3] = 1;
    refused(weft_process_start(&pr, child, NULL, 0, &pro), "weft_process_opts");
    ck_assert_ptr_eq(pr, none);
    weft_procpool *pp = none;
    weft_procpool_opts ppo = WEFT_PROCPOOL_OPTS_INIT;
    ppo.reserved[3] = 1;
    refused(weft_procpool_new(&pp, &ppo), "weft_procpool_opts");
    ck_assert_ptr_eq(pp, none);
    ppo.reserved[3] = 0;
    ppo.workers = 1;
    ck_assert_weft(weft_procpool_new(&pp, &ppo), 0);
    weft_future *f = none;
    weft_procpool_task_opts tko = WEFT_PROCPOOL_TASK_OPTS_INIT;
    tko.reserved[3] = 1;
    refused(weft_procpool_submit(pp, &f, child, NULL, 0, &tko), "weft_procpool_task_opts");
    ck_assert_ptr_eq(f, none);
    ck_assert_weft(weft_procpool_free(pp), 0);
}
END_TEST

WEFT_TEST_SUITE("opts_abi", 30, every_options_struct_ends_in_zero_reserved_words,
                options_sizes_are_those_of_0_1_on_lp64,
                a_field_from_a_later_weft_is_refused_not_ignored,
                pools_and_processes_refuse_a_later_field_too)
