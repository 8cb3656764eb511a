/* src/test_hooks.h - test-only observers: how many threads are parked on an object, for tests
 * that must wait until a thread sleeps before they act (fork a child, close a queue under a
 * parked getter). A test polls one until it reads the count it needs, instead of reading the
 * object's internals or sleeping for a guess.
 *
 * "Parked" means the thread's waiter record is linked on the object's wait queue: it is past
 * every allocation and lock of its call but the final sleep, and a wake-up now reaches it. The
 * functions take the lock that guards the queue for a moment; nothing else in the library calls
 * them, so they cost nothing when unused. Not part of the API (not exported from the shared
 * library; tests link the library's objects). One more that is no parked count:
 * weft__test_pool_of_caller, for a test that checks where a task ran.
 */
#ifndef WEFT_TEST_HOOKS_H
#define WEFT_TEST_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <weft/pool.h>
#include <weft/queue.h>

/* Workers of p (or threads helping it while they wait for a future) parked idle, waiting for
 * a task. (pool/control.c) */
size_t weft__test_pool_parked(weft_pool *p);

/* The pool whose worker the calling thread is, or NULL. (pool/control.c) */
weft_pool *weft__test_pool_of_caller(void);

/* The lists of a queue. */
enum { WEFT__TEST_GETTERS, WEFT__TEST_PUTTERS, WEFT__TEST_JOINERS };
/* Threads parked on q's list `which` (WEFT__TEST_GETTERS: waiting for an item, _PUTTERS: for
 * room, _JOINERS: in weft_queue_join); 0 for another `which`. (queue/testhook.c) */
size_t weft__test_queue_parked(weft_queue *q, int which);

/* Make every ipcq wait of this process find the machine crowded (yes) or look again (no),
 * and the moves to a waker's CPU its waits made so far. (ipcq/ipcq.c) */
void weft__test_ipcq_force_crowded(bool yes);
size_t weft__test_ipcq_moves(void);

/* 1 if the timer thread is parked (waiting for the earliest deadline or for a timer), else 0
 * (also when it runs a callback or was never started). (timer.c) */
size_t weft__test_timer_parked(void);

#endif
