/* weft/time.h - the one timeout type of the API, the monotonic clock, and sleep.
 *
 * Every blocking weft call takes a relative timeout of type weft_ns as its last argument:
 *   WEFT_FOREVER   block until the call can complete (or is cancelled),
 *   0              try once without blocking (the call returns WEFT_EAGAIN where it would wait),
 *   n > 0          wait at most n nanoseconds, then return WEFT_ETIMEDOUT,
 *   n < 0          WEFT_EINVAL.
 * A call turns its timeout into a deadline on the monotonic clock once, on entry, with
 * saturating arithmetic, so spurious wake-ups and retries never stretch a wait.
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stdint.h>
#include <weft/config.h>

WEFT_BEGIN_DECLS

/* Signed 64-bit nanoseconds: a relative timeout, a duration, or a point on the monotonic clock. */
typedef int64_t weft_ns;

#define WEFT_FOREVER INT64_MAX
#define WEFT_NS(n)   ((weft_ns)(n))
#define WEFT_US(n)   ((weft_ns)(n)*1000)
#define WEFT_MS(n)   ((weft_ns)(n)*1000000)
#define WEFT_SEC(n)  ((weft_ns)(n)*1000000000)

/* weft_now - the monotonic clock (CLOCK_MONOTONIC) in nanoseconds.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API weft_ns weft_now(void);

/* weft_deadline - the point on the monotonic clock at which a timeout taken now runs out:
 * now + timeout, saturating at WEFT_FOREVER (so WEFT_FOREVER stays WEFT_FOREVER). A negative
 * timeout gives a deadline in the past; callers reject it as WEFT_EINVAL first.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API weft_ns weft_deadline(weft_ns timeout);

/* weft_remaining - the relative time left until deadline: 0 if it has passed, WEFT_FOREVER
 * if deadline is WEFT_FOREVER. Lets a caller split one timeout over several weft calls:
 *     weft_ns d = weft_deadline(timeout);
 *     rc = weft_thread_join(a, NULL, weft_remaining(d));
 *     if (rc == 0) rc = weft_thread_join(b, NULL, weft_remaining(d));
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API weft_ns weft_remaining(weft_ns deadline);

/* weft_sleep - sleep for duration nanoseconds (time.sleep).
 * Returns 0 after the full duration (0 yields the processor once), WEFT_EINVAL if duration is
 * negative, WEFT_ECANCELED as soon as the calling thread's cancel scope is cancelled
 * (weft/cancel.h).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_sleep(weft_ns duration);

WEFT_END_DECLS

#endif
