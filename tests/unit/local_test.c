/* tests/unit/local_test.c - threading.local: per-thread values and destructors at exit. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/internal.h"
#include "test.h"

static _Atomic int destroyed;

static void count_destroy(void *v)
{
    atomic_fetch_add(&destroyed, *(int *)v);
    free(v);
}

static weft_local slot = WEFT_LOCAL_INIT(count_destroy);

static int use_local(void *arg)
{
    if (weft_local_get(&slot) != NULL) return 1; /* each thread starts with NULL */
    int *v = malloc(sizeof *v);
    *v = (int)(intptr_t)arg;
    if (weft_local_set(&slot, v) != 0) return 2;
    weft_sleep(WEFT_MS(1));
    return weft_local_get(&slot) == v ? 0 : 3;
}

START_TEST(each_thread_sees_its_own_value_and_destructor_runs)
{
    enum { N = 8 };
    weft_thread t[N];
    atomic_store(&destroyed, 0);
    for (int i = 0; i < N; i++)
        ck_assert_weft(weft_thread_start(&t[i], use_local, (void *)(intptr_t)(i + 1), NULL), 0);
    for (int i = 0; i < N; i++) {
        int st = -1;
        ck_assert_weft(weft_thread_join(t[i], &st, WEFT_SEC(10)), 0);
        ck_assert_int_eq(st, 0);
    }
    ck_assert_int_eq(atomic_load(&destroyed), N * (N + 1) / 2);
    ck_assert_ptr_null(weft_local_get(&slot)); /* main never set one */
}
END_TEST

START_TEST(runtime_init_set_replace_and_free)
{
    weft_local k;
    int a = 1, b = 2;
    ck_assert_weft(weft_local_init(&k, NULL), 0);
    ck_assert_ptr_null(weft_local_get(&k));
    ck_assert_weft(weft_local_set(&k, &a), 0);
    ck_assert_ptr_eq(weft_local_get(&k), &a);
    ck_assert_weft(weft_local_set(&k, &b), 0);
    ck_assert_ptr_eq(weft_local_get(&k), &b);
    ck_assert_weft(weft_local_free(&k), 0);
    ck_assert_ptr_null(weft_local_get(&k));
    ck_assert_weft(weft_local_set(&k, &a), 0); /* usable again: a fresh key */
    ck_assert_ptr_eq(weft_local_get(&k), &a);
    ck_assert_weft(weft_local_free(&k), 0);
}
END_TEST

START_TEST(null_key_is_invalid)
{
    ck_assert_weft(weft_local_init(NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_local_set(NULL, NULL), WEFT_EINVAL);
    ck_assert_weft(weft_local_free(NULL), WEFT_EINVAL);
    ck_assert_ptr_null(weft_local_get(NULL));
}
END_TEST

START_TEST(key_creation_failure_is_reported)
{
    weft_local k = WEFT_LOCAL_INIT(NULL);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    ck_assert_weft(weft_local_set(&k, &k), WEFT_ENOMEM);
    ck_assert_weft(weft_local_set(&k, &k), 0);
    ck_assert_weft(weft_local_free(&k), 0);
}
END_TEST

static weft_local racy = WEFT_LOCAL_INIT(NULL);

static int race_create(void *arg)
{
    (void)arg;
    int x;
    if (weft_local_set(&racy, &x) != 0) return 1;
    return weft_local_get(&racy) == &x ? 0 : 2;
}

START_TEST(racing_first_use_creates_one_key)
{
    long rounds = weft_test_scale(200);
    for (long r = 0; r < rounds; r++) {
        weft_thread t[4];
        for (int i = 0; i < 4; i++)
            ck_assert_weft(weft_thread_start(&t[i], race_create, NULL, NULL), 0);
        for (int i = 0; i < 4; i++) {
            int st = -1;
            ck_assert_weft(weft_thread_join(t[i], &st, WEFT_SEC(10)), 0);
            ck_assert_int_eq(st, 0);
        }
        ck_assert_weft(weft_local_free(&racy), 0);
    }
}
END_TEST

WEFT_TEST_SUITE("local", 30, each_thread_sees_its_own_value_and_destructor_runs,
                runtime_init_set_replace_and_free, null_key_is_invalid,
                key_creation_failure_is_reported, racing_first_use_creates_one_key)
