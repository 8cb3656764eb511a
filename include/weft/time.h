/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
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

/* WEFT_NS(n), WEFT_US(n), WEFT_MS(n), WEFT_SEC(n) - n nanoseconds, microseconds, milliseconds
 * or seconds as a weft_ns. n may be an integer or a floating-point number, as Python's
 * timeout=0.05 is:
 *   - an integer is scaled in integer arithmetic, so it stays exact up to the int64 range
 *     (WEFT_SEC(9223372036) is 9223372036000000000); the result is a constant expression, fit
 *     for static initializers; beyond the range the multiplication overflows (undefined, as
 *     for any int64 arithmetic);
 *   - a float, double or long double is scaled in double and rounded to the nearest
 *     nanosecond: WEFT_SEC(0.05) is 50000000, WEFT_MS(1.5) is 1500000. It saturates: beyond
 *     the int64 range it gives WEFT_FOREVER (or -WEFT_FOREVER), so WEFT_SEC(INFINITY) waits
 *     forever, as timeout=None does; a NaN gives -1, which every blocking call rejects with
 *     WEFT_EINVAL. In C it is not a constant expression (an inline function does the
 *     rounding): write static initializers with integers, WEFT_MS(50), not WEFT_SEC(0.05).
 * n is evaluated once. In C11 and later the choice is made by _Generic; in C99 by the GCC
 * and Clang builtins; in C++ by overloading (constexpr, so fractional values are constant
 * expressions there too). */
#define WEFT_NS(n)  WEFT__TIME_SCALE_(n, 1)
#define WEFT_US(n)  WEFT__TIME_SCALE_(n, 1000)
#define WEFT_MS(n)  WEFT__TIME_SCALE_(n, 1000000)
#define WEFT_SEC(n) WEFT__TIME_SCALE_(n, 1000000000)

/* Internal: a scaled floating-point value, rounded to the nearest nanosecond and saturated. */
#ifdef __cplusplus
#define WEFT__TIME_INLINE_ constexpr
#else
#define WEFT__TIME_INLINE_ static inline
#endif
WEFT__TIME_INLINE_ weft_ns weft__time_round_(double x)
{
    /* 9223372036854775807.0 rounds up to 2^63: any x at or above it does not fit. A NaN fails
     * both sign tests (ordered comparisons only, so -Wfloat-equal stays quiet). */
    return x >= 0  ? (x >= 9223372036854775807.0 ? (weft_ns)INT64_MAX : (weft_ns)(x + 0.5))
           : x < 0 ? (x <= -9223372036854775807.0 ? (weft_ns)-INT64_MAX : -(weft_ns)(-x + 0.5))
                   : (weft_ns)-1;
}

/* clang-format off */
#if defined(__cplusplus)
#define WEFT__TIME_SCALE_(n, unit) (::weft__time_scale_((n), (weft_ns)(unit)))
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define WEFT__TIME_SCALE_(n, unit)                                    \
    _Generic((n),                                                     \
        float: weft__time_round_((double)(n) * (double)(unit)),       \
        double: weft__time_round_((double)(n) * (double)(unit)),      \
        long double: weft__time_round_((double)(n) * (double)(unit)), \
        default: (weft_ns)(n) * (weft_ns)(unit))
#else
#define WEFT__TIME_FLOATING_(n)                             \
    (__builtin_types_compatible_p(__typeof__(n), float) ||  \
     __builtin_types_compatible_p(__typeof__(n), double) || \
     __builtin_types_compatible_p(__typeof__(n), long double))
#define WEFT__TIME_SCALE_(n, unit)                                          \
    __builtin_choose_expr(WEFT__TIME_FLOATING_(n),                          \
                          weft__time_round_((double)(n) * (double)(unit)),  \
                          (weft_ns)(n) * (weft_ns)(unit))
#endif
/* clang-format on */

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

#ifdef __cplusplus
/* Internal: the C++ counterparts of the _Generic choice above (outside extern "C": templates
 * need C++ linkage). Exact overloads take the floating types; the template every integer. */
extern "C++" {
constexpr weft_ns weft__time_scale_(double n, weft_ns unit)
{
    return weft__time_round_(n * (double)unit);
}
constexpr weft_ns weft__time_scale_(float n, weft_ns unit)
{
    return weft__time_round_((double)n * (double)unit);
}
constexpr weft_ns weft__time_scale_(long double n, weft_ns unit)
{
    return weft__time_round_((double)n * (double)unit);
}
template <typename T> constexpr weft_ns weft__time_scale_(T n, weft_ns unit)
{
    return (weft_ns)n * unit;
}
}
#endif

#endif
