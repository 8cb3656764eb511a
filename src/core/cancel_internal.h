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
/* The calling thread's scope deadline passed: cancel the scope that owns it. */
void weft__scope_deadline_passed(void);

#endif
