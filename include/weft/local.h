/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/local.h - thread-local data with destructors (threading.local).
 *
 * A weft_local is a key: each thread sees its own value under it, NULL until it sets one.
 * When a thread that weft or pthreads started exits, the destructor runs on each non-NULL value
 * it left (not for the main thread, whose values live until the process ends, as in C).
 * The key is created on first use, so a static one needs no set-up call:
 *     static weft_local conn = WEFT_LOCAL_INIT(close_conn);
 *     struct conn *c = weft_local_get(&conn);
 *     if (c == NULL && weft_local_set(&conn, c = open_conn()) != 0) ...
 * With WEFT_LOCAL_INIT_WITH(destructor, init, arg), each thread's first get makes its value
 * with init(arg) instead of finding NULL (a threading.local subclass with an __init__).
 * A weft_local lives as long as the program uses it; weft_local_free ends it.
 */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include <stdint.h>
#include <weft/config.h>

WEFT_BEGIN_DECLS

/* A per-thread initializer: makes the calling thread's first value under a key (the __init__
 * of a threading.local subclass). arg is the one given with it; NULL is "no value yet". */
typedef void *(*weft_local_init_fn)(void *arg);

typedef struct weft_local {
    void (*destructor)(void *value);
    uint32_t state;          /* internal: 0 none, else key + 1; accessed atomically */
    weft_local_init_fn init; /* internal: may be NULL */
    void *init_arg;          /* internal: passed to init */
} weft_local;

/* Initializer for a key whose values are passed to destructor (may be NULL) at thread exit. */
/* clang-format off */
#define WEFT_LOCAL_INIT(destructor) {(destructor), 0, NULL, NULL}
/* The same, with a per-thread default: init(arg) makes each thread's value on its first get. */
#define WEFT_LOCAL_INIT_WITH(destructor, init, arg) {(destructor), 0, (init), (arg)}
/* clang-format on */

/* weft_local_init - set up *key at run time, as WEFT_LOCAL_INIT does statically.
 * key: caller-owned. destructor: may be NULL. Returns 0 or WEFT_EINVAL (NULL key).
 * Blocks: no. Cancellation point: no. Thread safety: not on key. Async-signal-safe: no. */
WEFT_API int weft_local_init(weft_local *key, void (*destructor)(void *value));

/* weft_local_init_with - set up *key at run time with a per-thread default value, as
 * WEFT_LOCAL_INIT_WITH does statically (threading.local subclassed with an __init__).
 * key: caller-owned. destructor: may be NULL. init: may be NULL (then as weft_local_init);
 * arg: passed to init, never dereferenced by weft (the caller keeps it valid while the key
 * is used). When a thread's weft_local_get finds no value (never set, or set back to NULL),
 * it calls init(arg) in that thread and keeps what it returns as the thread's value, exactly
 * as if the thread had called weft_local_set: the destructor story is the same (the
 * destructor receives it at the thread's exit, not for main; a value replaced by
 * weft_local_set is the caller's again). init returning NULL means "no value": get returns
 * NULL and init runs again at the next get. If the value cannot be stored (no memory for the
 * key), it is passed to the destructor at once and get returns NULL. init must not use key.
 * Returns 0 or WEFT_EINVAL (NULL key).
 * Blocks: no. Cancellation point: no. Thread safety: not on key. Async-signal-safe: no. */
WEFT_API int weft_local_init_with(weft_local *key, void (*destructor)(void *value),
                                  weft_local_init_fn init, void *arg);

/* weft_local_get - the calling thread's value under key (NULL if none, or if key is NULL or
 * could not be created). With an initializer (WEFT_LOCAL_INIT_WITH), a thread without a value
 * gets init's, made on the spot (see weft_local_init_with).
 * Blocks: no (init may). Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API void *weft_local_get(weft_local *key);

/* weft_local_set - set the calling thread's value under key. value: the thread keeps it; the
 * destructor receives it at thread exit unless it was replaced or set back to NULL first
 * (replacing a value does not destroy the old one: the caller owns it again).
 * Returns 0, WEFT_EINVAL (NULL key), WEFT_ENOMEM / WEFT_EAGAIN (no key could be created: the
 * system's limit of keys is reached).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_local_set(weft_local *key, void *value);

/* weft_local_free - end key: values still set in other threads are NOT destroyed (their owners
 * must clear them first, as with pthread_key_delete); the key may be used again afterwards
 * (it is created anew). Returns 0 or WEFT_EINVAL (NULL key).
 * Blocks: no. Cancellation point: no. Thread safety: no other thread may use the key during
 * or after the call. Async-signal-safe: no. */
WEFT_API int weft_local_free(weft_local *key);

WEFT_END_DECLS

#endif
