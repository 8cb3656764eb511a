/* tests/support/timed_calls.h - every weft call that takes a timeout, set up so that it must
 * run out: tests/unit/timeout_test.c checks that none returns before its deadline, and
 * bench/timeout_bench.c measures how late they return.
 *
 * Each entry has a setup that builds a state in which the call can only wait (an empty queue,
 * a held lock, a thread that never ends until teardown, ...), the call itself, and a teardown.
 * No Check calls: the bench links this too. Setup and teardown return 0 or a weft error code;
 * call returns what the weft call returned (WEFT_ETIMEDOUT is expected; weft_sleep's 0 is
 * mapped to WEFT_ETIMEDOUT, as "the full duration passed").
 */
#ifndef WEFT_TEST_TIMED_CALLS_H
#define WEFT_TEST_TIMED_CALLS_H

#include <stddef.h>
#include <weft.h>

struct timed_state; /* one per entry, opaque */

struct timed_call {
    const char *name;
    int (*setup)(struct timed_state **out);
    int (*call)(struct timed_state *s, weft_ns timeout);
    int (*teardown)(struct timed_state *s);
};

extern const struct timed_call timed_calls[];
extern const size_t timed_calls_count;

#endif
