/* src/core/registry.h - a list of the live objects of one kind, for the few moments weft must
 * reach all of them: the dump (debug.c), fork() (core/fork.c) and the exit (exit.c).
 *
 * Intrusive: an object embeds a weft__reg_link and is on the list from its making to its
 * freeing; linking and unlinking cost a global lock taken alone, and nothing on an object's
 * hot path touches the list. The dump reads it through weft__registry_view, which tries the
 * lock and gives up rather than wait (the thread holding it may be the stuck one); while the
 * lock is held no object on the list can be freed, so each one the view copies is alive.
 *
 * A module keeps one static weft__registry (all-zero: empty and unlocked) and may walk it
 * itself, head to ->next, under r->lock (the exit rule, a fork's child). The lock's place in
 * the hierarchy is the module's (docs/design/locks.md).
 */
#ifndef WEFT_INTERNAL_REGISTRY_H
#define WEFT_INTERNAL_REGISTRY_H

#include <stddef.h>

#include "core/lock.h"

typedef struct weft__reg_link {
    struct weft__reg_link *prev, *next; /* under the registry's lock */
} weft__reg_link;

typedef struct weft__registry {
    weft__lock lock;
    weft__reg_link *head; /* the newest first */
} weft__registry;

/* The object of type that embeds link l as member. */
#define WEFT__REG_OBJ(l, type, member) ((type *)(void *)((char *)(l)-offsetof(type, member)))

/* Put l on r / take it off (it must be on r); each takes r->lock alone. */
void weft__registry_add(weft__registry *r, weft__reg_link *l);
void weft__registry_remove(weft__registry *r, weft__reg_link *l);

/* Copy the first max links of r into out, an array of elements of size bytes, by copy(l, dst)
 * (called under r->lock: it must take no lock that ranks above it, and only try one below);
 * return how many links r has (more than max: the rest left out), or -1 if r->lock was held.
 * Never waits. */
long weft__registry_view(weft__registry *r, void *out, size_t size, size_t max,
                         void (*copy)(weft__reg_link *l, void *dst));

#endif
