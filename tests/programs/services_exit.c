/* tests/programs/services_exit.c - a program that uses every weft service with a thread of its
 * own (the signal thread, the default pool's workers, the timer thread) and returns from main
 * with work still queued and a timer still pending. Run under valgrind (tests/programs.cmake):
 * exit must run the queued tasks (as Python's executors do) and end every service thread, so
 * that valgrind finds nothing "possibly lost" and no error. Prints "ran N of N tasks" from an
 * atexit handler that runs after weft's. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

#define TASKS 100

static atomic_int ran;

static int task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static int first(void *arg, void **result)
{
    weft_sleep(WEFT_MS(50)); /* the rest wait in the queue when main returns */
    return task(arg, result);
}

static void tick(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void report(void)
{
    int n = atomic_load(&ran);
    printf("ran %d of %d tasks\n", n, TASKS);
    printf("%d passed, %d failed\n", n == TASKS, n != TASKS); /* the one check: all ran */
}

int main(void)
{
    atexit(report); /* before weft registers its own: runs after it */
    if (weft_signals_catch(NULL) != 0) return 1;
    static atomic_int ticks;
    weft_timer *t;
    if (weft_timer_start(&t, WEFT_MS(1), tick, &ticks, NULL) != 0) return 2;
    if (weft_timer_wait(t, WEFT_SEC(10)) != 0) return 3;
    weft_timer_free(t);
    if (weft_timer_start(NULL, WEFT_SEC(3600), tick, &ticks, NULL) != 0) return 4;
    weft_pool *p = weft_pool_default();
    if (weft_pool_submit(p, first, NULL, NULL, WEFT_FOREVER) != 0) return 5;
    for (int i = 1; i < TASKS; i++)
        if (weft_pool_submit(p, task, NULL, NULL, WEFT_FOREVER) != 0) return 6;
    return 0;
}
