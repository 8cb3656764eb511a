/* tests/support/tasks.h - what the pool, future, group, timer and fork tests share: a pool of
 * n workers, the task bodies they all submit, and waits until threads are parked (through the
 * library's test hooks, src/test_hooks.h, instead of a sleep or a look at struct fields).
 */
#ifndef WEFT_TEST_TASKS_H
#define WEFT_TEST_TASKS_H

#include <stdatomic.h>
#include <stddef.h>
#include <weft.h>

/* A new pool with max_workers = workers (the test fails if it cannot be made). */
weft_pool *weft_test_pool(int workers);
/* A new pool made with o, e.g. weft_test_pool_with((weft_pool_opts){.max_workers = 1,
 * .task_scopes = 1}): every field not named is zero, the default (the test fails if it cannot
 * be made). */
weft_pool *weft_test_pool_with(weft_pool_opts o);

/* Task bodies (weft_task_fn). */
/* *result = arg; 0. */
int weft_test_give(void *arg, void **result);
/* Wait for the weft_event at arg (at most 60 s): what holds a worker until the test lets go;
 * returns the wait's code (WEFT_ECANCELED if the task is cancelled). */
int weft_test_wait_event(void *arg, void **result);
/* Set the weft_event at arg, then sleep 60 s: a task that runs until it is cancelled; returns
 * the sleep's code. */
int weft_test_set_event_and_sleep(void *arg, void **result);
/* Add one to weft_test_runs (arg is ignored, so it serves map too); 0. */
int weft_test_count_run(void *arg, void **result);
extern atomic_int weft_test_runs;

/* Wait until at least n threads are parked idle on p (its workers, or threads helping it),
 * polling the test hook; the test fails after 30 s. */
void weft_test_await_pool_parked(weft_pool *p, size_t n);
/* Wait until the timer thread is parked (the test fails after 30 s). */
void weft_test_await_timer_parked(void);
/* Wait until at least n threads are parked on q's list `which` (WEFT__TEST_GETTERS, _PUTTERS,
 * _JOINERS of src/test_hooks.h); the test fails after 30 s. */
void weft_test_await_queue_parked(weft_queue *q, int which, size_t n);

#endif
