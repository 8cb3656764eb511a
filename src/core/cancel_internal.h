/* src/core/cancel_internal.h - what threads and the pool need from cancel scopes (the parking
 * lot asks the scope layer through weft__park_scope_event alone, core/park.h). */
#ifndef WEFT_CANCEL_INTERNAL_H
#define WEFT_CANCEL_INTERNAL_H

#include <weft/cancel.h>

/* Attach the calling thread to the root scope if it is not attached to any yet. */
void weft__scope_register_self(void);
/* A weft thread starts inside s (it takes a ref of its own until it leaves). */
void weft__scope_enter_thread(weft_scope *s);
/* The calling thread leaves its scopes (at thread exit). */
void weft__scope_leave_thread(void);
/* How many weft_scope_enter calls of the calling thread are not yet exited. */
int weft__scope_depth(void);
/* The calling thread's scope deadline passed: cancel the scope that owns it. */
void weft__scope_deadline_passed(void);

/* A hook: fn(h) is called once when its scope is cancelled (by a cancel of it or of an
 * ancestor, or a passed deadline noticed by a member), with the tree's lock held: fn must not
 * block nor call into the cancel module. process.c uses it to terminate a child whose
 * starter's scope is cancelled, with no thread inside the scope. */
typedef struct weft__scope_hook {
    struct weft__scope_hook *next, *prev;
    void (*fn)(struct weft__scope_hook *h);
    weft_scope *scope;
} weft__scope_hook;
/* Attach h (fn set) to s, taking a ref on s; calls fn at once if s is already cancelled. */
void weft__scope_hook_add(weft_scope *s, weft__scope_hook *h);
/* Detach h (no call of fn starts after it returns) and drop its ref on the scope. */
void weft__scope_hook_remove(weft__scope_hook *h);

#endif
