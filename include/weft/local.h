/* weft/local.h - thread-local data with destructors (threading.local).
 *
 * A weft_local is a key: each thread sees its own value under it, NULL until it sets one.
 * When a thread that weft or pthreads started exits, the destructor runs on each non-NULL value
 * it left (not for the main thread, whose values live until the process ends, as in C).
 * The key is created on first use, so a static one needs no set-up call:
 *     static weft_local conn = WEFT_LOCAL_INIT(close_conn);
 *     struct conn *c = weft_local_get(&conn);
 *     if (c == NULL && weft_local_set(&conn, c = open_conn()) != 0) ...
 * A weft_local lives as long as the program uses it; weft_local_free ends it.
 */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include <stdint.h>
#include <weft/config.h>

WEFT_BEGIN_DECLS

typedef struct weft_local {
    void (*destructor)(void *value);
    uint32_t state; /* internal: 0 none, else key + 1; accessed atomically */
} weft_local;

/* Initializer for a key whose values are passed to destructor (may be NULL) at thread exit. */
/* clang-format off */
#define WEFT_LOCAL_INIT(destructor) {(destructor), 0}
/* clang-format on */

/* weft_local_init - set up *key at run time, as WEFT_LOCAL_INIT does statically.
 * key: caller-owned. destructor: may be NULL. Returns 0 or WEFT_EINVAL (NULL key). */
WEFT_API int weft_local_init(weft_local *key, void (*destructor)(void *value));

/* weft_local_get - the calling thread's value under key (NULL if none, or if key is NULL or
 * could not be created). Blocks: no. Cancellation point: no. Thread safety: safe. */
WEFT_API void *weft_local_get(weft_local *key);

/* weft_local_set - set the calling thread's value under key. value: the thread keeps it; the
 * destructor receives it at thread exit unless it was replaced or set back to NULL first
 * (replacing a value does not destroy the old one: the caller owns it again).
 * Returns 0, WEFT_EINVAL (NULL key), WEFT_ENOMEM / WEFT_EAGAIN (no key could be created: the
 * system's limit of keys is reached).
 * Blocks: no. Cancellation point: no. Thread safety: safe. */
WEFT_API int weft_local_set(weft_local *key, void *value);

/* weft_local_free - end key: values still set in other threads are NOT destroyed (their owners
 * must clear them first, as with pthread_key_delete); the key may be used again afterwards
 * (it is created anew). Returns 0 or WEFT_EINVAL (NULL key).
 * Thread safety: no other thread may use the key during or after the call. */
WEFT_API int weft_local_free(weft_local *key);

WEFT_END_DECLS

#endif
