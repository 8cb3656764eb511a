/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/error.h - error codes, their names and texts, and the per-thread error message.
 *
 * Every weft function that can fail returns an int: 0 on success, a negative WEFT_E* code on
 * failure. Codes with a standard meaning are negated errno numbers (WEFT_ETIMEDOUT ==
 * -ETIMEDOUT); weft's own codes live in the reserved range -1000 ... -1099.
 *
 * The per-thread error message is the C counterpart of a Python exception's text: a thread
 * (or, later, a task) calls weft_error_set() before it returns a failure status, and whoever
 * joins it finds the code and the message in its own thread's error slot.
 *
 * What the slot holds after a weft call:
 *   - the call failed with WEFT_EINVAL, WEFT_ESTATE or WEFT_ENOMEM: weft put that code and a
 *     message naming the argument and the reason ("name is 80 bytes; the limit is 63",
 *     "timeout is negative", "q is NULL") into the calling thread's slot, like the text of
 *     Python's ValueError. So do a few other failures that say so in their header (a join
 *     that carries the thread's failure, a refused thread or key, a stack size).
 *   - the call failed with a code that says it all (WEFT_EAGAIN, WEFT_ETIMEDOUT,
 *     WEFT_ECANCELED, WEFT_ECLOSED, WEFT_ESRCH, ...): the slot is left as it was;
 *   - the call succeeded: the slot is left as it was. weft never clears it, so that a
 *     successful call costs nothing: the slot may still hold an older failure's message.
 * So read weft_error_message() right after a call returned one of the codes above, before the
 * next weft call; check weft_error_code() == rc if in doubt. weft sets these messages with
 * its own formatter into the fixed per-thread buffer of WEFT_ERROR_MESSAGE_MAX bytes: it never
 * allocates, and a call documented as async-signal-safe stays so on its error paths.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <errno.h>
#include <stddef.h>
#include <weft/config.h>

WEFT_BEGIN_DECLS

/* X(name, value, text): the one table behind the enum, weft_errname() and weft_strerror(). */
#define WEFT_ERROR_TABLE(X)                                                                 \
    X(OK, 0, "success")                                                                     \
    X(EPERM, -EPERM, "operation not permitted: the calling thread does not own the object") \
    X(ESRCH, -ESRCH, "no such thread: the handle was already joined or released")           \
    X(EINTR, -EINTR, "interrupted by a signal")                                             \
    X(EAGAIN, -EAGAIN, "would block: the operation cannot complete without waiting")        \
    X(ENOMEM, -ENOMEM, "out of memory")                                                     \
    X(EBUSY, -EBUSY, "resource busy: the object is in use")                                 \
    X(EINVAL, -EINVAL, "invalid argument")                                                  \
    X(ENOSPC, -ENOSPC, "no space: a fixed-size table or buffer is full")                    \
    X(ERANGE, -ERANGE, "value out of range")                                                \
    X(EDEADLK, -EDEADLK, "deadlock: the call would wait for the calling thread itself")     \
    X(ENOSYS, -ENOSYS, "not supported on this system")                                      \
    X(EOVERFLOW, -EOVERFLOW, "count overflow: too many acquisitions or releases")           \
    X(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                   \
    X(ECANCELED, -ECANCELED, "canceled: the calling thread's cancel scope was cancelled")   \
    X(ECLOSED, -1000, "closed: the object accepts no more input")                           \
    X(EBROKEN, -1001, "broken: the object was aborted or a party failed")                   \
    X(EDIED, -1002, "died: a worker process ended abnormally")                              \
    X(ESTATE, -1003, "wrong state: the object cannot do that in its current state")         \
    X(EFAILED, -1004, "failed: the thread or task returned a failure without a weft code")

enum weft_error_code {
#define WEFT_ERROR_ENUM_(name, value, text) WEFT_##name = (value),
    WEFT_ERROR_TABLE(WEFT_ERROR_ENUM_)
#undef WEFT_ERROR_ENUM_
};

/* Longest message weft_error_set() keeps, including the terminating NUL; longer ones are cut. */
#define WEFT_ERROR_MESSAGE_MAX 256

/* weft_strerror - the text of an error code, e.g. "timed out".
 * code: any int. A code weft does not know gives "unknown error" (never NULL).
 * Returns a static string (never free it).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API const char *weft_strerror(int code);

/* weft_errname - the symbolic name of an error code, e.g. "WEFT_ETIMEDOUT".
 * Returns a static string; an unknown code gives "WEFT_E?" (never NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API const char *weft_errname(int code);

/* weft_error_set - record an error code and a printf-style message in the calling thread's
 * error slot, and return the code, so that a thread function can end with
 *     return weft_error_set(WEFT_EINVAL, "bad port %d", port);
 * fmt: borrowed, may be NULL (then the message is weft_strerror(code)). The formatted text is
 * copied (cut at WEFT_ERROR_MESSAGE_MAX - 1 bytes).
 * Returns code unchanged.
 * Blocks: no. Cancellation point: no. Thread safety: touches only the caller's slot.
 * Async-signal-safe: no. */
WEFT_API int weft_error_set(int code, const char *fmt, ...) WEFT_PRINTF(2, 3);

/* weft_error_code - the code last recorded in the calling thread's slot (0 if none).
 * Blocks: no. Cancellation point: no. Thread safety: reads only the caller's slot.
 * Async-signal-safe: yes. */
WEFT_API int weft_error_code(void);

/* weft_error_message - the message last recorded in the calling thread's slot ("" if none):
 * by weft_error_set, by a join that reported a failure, or by a weft call that failed with
 * WEFT_EINVAL, WEFT_ESTATE or WEFT_ENOMEM (see the top of this header; a successful call
 * leaves the slot alone). Returns a pointer into the calling thread's slot: valid in this
 * thread until the next weft_error_set/clear or the next weft call that fills the slot; copy
 * it to keep it.
 * Blocks: no. Cancellation point: no. Thread safety: reads only the caller's slot.
 * Async-signal-safe: yes (the text may be one a handler's interrupted call was writing). */
WEFT_API const char *weft_error_message(void);

/* weft_error_clear - empty the calling thread's error slot.
 * Blocks: no. Cancellation point: no. Thread safety: touches only the caller's slot.
 * Async-signal-safe: yes. */
WEFT_API void weft_error_clear(void);

WEFT_END_DECLS

#endif
