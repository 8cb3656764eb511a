/* src/core/cancel.c - cancel scopes: a tree of scopes, each with the threads currently inside it.
 *
 * Every thread that uses weft has a member record (thread-local) linking it into the member
 * list of its current scope. Cancelling a scope walks its subtree under tree_lock, marks each
 * scope cancelled and calls weft__parker_interrupt on every member: that sets the member's
 * sticky cancel flag and claims the park it sleeps in, if any (park.c: no lost wake-up, since
 * the parker publishes its park before checking the flag).
 *
 * Invariants (tree_lock):
 *   - a member's parker->cancel equals "its current scope is cancelled" (set on cancel, reset on
 *     enter/exit), and parker->scope_deadline is its current scope's effective deadline;
 *   - refs counts: the handle from weft_scope_new, each child, each thread whose current scope
 *     or saved (entered-from) scope it is, a thread record's own-scope ref (thread.c), and
 *     each attached hook (a process's terminate-on-cancel, process.c);
 *   - a child of a cancelled scope is cancelled; a scope's effective deadline is the minimum of
 *     its own and its ancestors' and never changes.
 * Lock order: docs/design/locks.md (table_lock, then tree_lock, then a parker's lock). Debug
 * builds check the invariants above at every tree change (check_locked).
 *
 * Deadlines are lazy: no timer thread. A thread blocked in its scope parks with the earlier of
 * its own deadline and the scope's; when the scope's passes first, it cancels the scope that
 * owns that deadline (waking the other members) and returns WEFT_ECANCELED.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/cancel.h>
#include <weft/error.h>

#include "core/cancel_internal.h"
#include "core/fork.h"
#include "core/internal.h"
#include "core/lock.h"
#include "os/os.h"
#include "core/park.h"
#include "core/opts.h"

struct member {
    struct member *next, *prev;
    weft__parker *parker;
};

struct weft_scope {
    weft_scope *parent, *children, *next_sibling, *prev_sibling;
    struct member *members;
    weft__scope_hook *hooks;
    int refs;
    bool cancelled;
    int code;
    char reason[WEFT_SCOPE_REASON_MAX];
    weft_ns own_deadline, deadline; /* deadline: effective, WEFT_FOREVER for none */
};

static weft__lock tree_lock;
static weft_scope root = {.refs = 1, .own_deadline = WEFT_FOREVER, .deadline = WEFT_FOREVER};

static _Thread_local struct {
    bool registered;
    weft_scope *scope;
    weft_scope *saved[WEFT_SCOPE_DEPTH];
    int depth;
    struct member m;
} ts;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* ---- tree maintenance (tree_lock held) ---- */

/* The tree's invariants at s (the header's list), checked in debug builds (core/assert.h). */
static void check_locked(const weft_scope *s)
{
    WEFT__ASSERT(weft__lock_held(&tree_lock));
    WEFT__ASSERT(s->refs > 0);
    WEFT__ASSERT(s->deadline <= s->own_deadline);
    WEFT__ASSERT(s->parent == NULL || s->deadline <= s->parent->deadline);
    WEFT__ASSERT(s->parent == NULL || !s->parent->cancelled || s->cancelled);
}

static void unref_locked(weft_scope *s)
{
    if (s) check_locked(s);
    while (s && s != &root && --s->refs == 0) {
        weft_scope *parent = s->parent;
        if (s->prev_sibling)
            s->prev_sibling->next_sibling = s->next_sibling;
        else
            parent->children = s->next_sibling;
        if (s->next_sibling) s->next_sibling->prev_sibling = s->prev_sibling;
        free(s);
        s = parent; /* the child's ref on its parent goes too */
    }
}

static void link_member(weft_scope *s)
{
    ts.m.prev = NULL;
    ts.m.next = s->members;
    if (s->members) s->members->prev = &ts.m;
    s->members = &ts.m;
}

static void unlink_member(weft_scope *s)
{
    if (ts.m.prev)
        ts.m.prev->next = ts.m.next;
    else
        s->members = ts.m.next;
    if (ts.m.next) ts.m.next->prev = ts.m.prev;
    ts.m.next = ts.m.prev = NULL;
}

/* Make s the calling thread's current scope and sync its parker with s's state. */
static void move_to(weft_scope *s)
{
    check_locked(s);
    if (ts.scope) unlink_member(ts.scope);
    ts.scope = s;
    link_member(s);
    weft__parker *k = ts.m.parker;
    /* seq_cst: pairs with publish() in park.c like weft__parker_interrupt's store. A thread
     * registering for the first time keeps a request made directly on its parker before. */
    if (s->cancelled)
        atomic_store(&k->cancel, 1u);
    else if (k->registered)
        atomic_store(&k->cancel, 0u);
    k->scope_deadline = s->deadline == WEFT_FOREVER ? 0 : s->deadline;
}

/* Cancel s's subtree with one reason; the scopes already cancelled keep theirs. The members'
 * futex wake-ups go into wl, issued once tree_lock is dropped. */
static void cancel_locked(weft_scope *s, int code, const char *reason, weft__wakelist *wl)
{
    if (s->cancelled) return;
    s->cancelled = true;
    s->code = code;
    if (reason != s->reason) snprintf(s->reason, sizeof s->reason, "%s", reason);
    for (struct member *m = s->members; m; m = m->next) weft__parker_interrupt_batch(m->parker, wl);
    for (weft__scope_hook *h = s->hooks; h; h = h->next) h->fn(h);
    for (weft_scope *c = s->children; c; c = c->next_sibling) cancel_locked(c, code, reason, wl);
    check_locked(s);
}

/* ---- per-thread registration ---- */

static void thread_exit(void *unused)
{
    (void)unused;
    weft__scope_leave_thread();
}

static void make_key(void)
{
    pthread_key_create(&exit_key, thread_exit);
}

/* Attach the calling thread to scope s (a ref is taken). */
static void attach(weft_scope *s)
{
    ts.registered = true;
    ts.depth = 0;
    ts.m.parker = weft__parker_self();
    s->refs++;
    move_to(s);
    ts.m.parker->registered = true;
}

/* fork() (fork.c's table): tree_lock is held across it, so that the child never inherits it
 * held by a thread that is not there. In the child every member record but the forking
 * thread's belongs to a thread that is gone (its record lived in that thread's TLS, whose
 * memory the child's next thread may reuse): they are unlinked, so that a cancel in the child
 * wakes no ghost. The scopes themselves, their state and their references stay. */
void weft__scope_fork_prepare(void)
{
    weft__lock_acquire(&tree_lock);
}

void weft__scope_fork_parent(void)
{
    weft__lock_release(&tree_lock);
}

static void drop_members(weft_scope *s)
{
    s->members = NULL;
    for (weft_scope *c = s->children; c; c = c->next_sibling) drop_members(c);
}

void weft__scope_fork_child(void)
{
    drop_members(&root);
    if (ts.registered) link_member(ts.scope);
    weft__scope_fork_parent();
}

void weft__scope_register_self(void)
{
    if (ts.registered) return;
    pthread_once(&key_once, make_key);
    weft__lock_acquire(&tree_lock);
    attach(&root);
    weft__lock_release(&tree_lock);
    /* Detach when the thread exits (never for main: exit() runs no key destructors, and main
     * stays in the root scope until the process ends). */
    pthread_setspecific(exit_key, &ts);
}

void weft__scope_enter_thread(weft_scope *s)
{
    weft__lock_acquire(&tree_lock);
    attach(s);
    weft__lock_release(&tree_lock);
}

void weft__scope_leave_thread(void)
{
    if (!ts.registered) return;
    weft__lock_acquire(&tree_lock);
    unlink_member(ts.scope);
    unref_locked(ts.scope);
    while (ts.depth > 0) unref_locked(ts.saved[--ts.depth]);
    ts.scope = NULL;
    ts.registered = false;
    ts.m.parker->registered = false;
    weft__lock_release(&tree_lock);
}

void weft__scope_hook_add(weft_scope *s, weft__scope_hook *h)
{
    weft__lock_acquire(&tree_lock);
    h->scope = s;
    s->refs++;
    h->prev = NULL;
    h->next = s->hooks;
    if (s->hooks) s->hooks->prev = h;
    s->hooks = h;
    if (s->cancelled) h->fn(h);
    weft__lock_release(&tree_lock);
}

void weft__scope_hook_remove(weft__scope_hook *h)
{
    weft__lock_acquire(&tree_lock);
    weft_scope *s = h->scope;
    if (h->prev)
        h->prev->next = h->next;
    else
        s->hooks = h->next;
    if (h->next) h->next->prev = h->prev;
    h->next = h->prev = NULL;
    h->scope = NULL;
    unref_locked(s);
    weft__lock_release(&tree_lock);
}

/* ---- deadlines ---- */

/* Cancel the scope that owns s's effective deadline (if it has passed). */
static void expire_locked(weft_scope *s, weft__wakelist *wl)
{
    weft_scope *owner = s;
    while (owner->own_deadline != s->deadline && owner->parent) owner = owner->parent;
    cancel_locked(owner, WEFT_ETIMEDOUT, "deadline passed", wl);
}

static int check_deadline_locked(weft_scope *s, weft__wakelist *wl)
{
    if (s->cancelled) return 1;
    if (s->deadline != WEFT_FOREVER && weft__os_now() >= s->deadline) {
        expire_locked(s, wl);
        return 1;
    }
    return 0;
}

/* Check s's deadline; returns 1 if s is cancelled. */
static int check_deadline(weft_scope *s)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&tree_lock);
    int c = check_deadline_locked(s, &wl);
    weft__lock_release(&tree_lock);
    weft__wakelist_flush(&wl);
    return c;
}

void weft__scope_deadline_passed(void)
{
    if (ts.scope) check_deadline(ts.scope);
}

void weft__park_scope_event(enum weft__park_event e)
{
    if (e == WEFT__PARK_ATTACH)
        weft__scope_register_self();
    else
        weft__scope_deadline_passed();
}

/* ---- public API ---- */

int weft_scope_new(weft_scope **out, weft_scope *parent, const weft_scope_opts *opts)
{
    if (WEFT__OPTS_CHECK(opts, "weft_scope_opts") != 0) return WEFT_EINVAL;
    if (out == NULL) return weft__fail(WEFT_EINVAL, "out is NULL");
    if (opts && opts->timeout < 0)
        return weft__fail(WEFT_EINVAL, "timeout is negative (%lld)", (long long)opts->timeout);
    weft_scope *s = weft__calloc(1, sizeof *s);
    if (s == NULL) return weft__fail(WEFT_ENOMEM, "no memory for a scope");
    /* timeout 0 is "none", so that a {0} weft_scope_opts is the default (weft/cancel.h) */
    s->own_deadline = opts && opts->timeout ? weft_deadline(opts->timeout) : WEFT_FOREVER;
    s->refs = 1;
    if (parent == NULL) {
        weft__scope_register_self();
        parent = ts.scope;
    }
    weft__lock_acquire(&tree_lock);
    s->parent = parent;
    parent->refs++;
    s->next_sibling = parent->children;
    if (parent->children) parent->children->prev_sibling = s;
    parent->children = s;
    s->deadline = s->own_deadline < parent->deadline ? s->own_deadline : parent->deadline;
    /* No member can be inside s yet: nothing to wake. */
    weft__wakelist none = WEFT__WAKELIST_INIT;
    if (parent->cancelled) cancel_locked(s, parent->code, parent->reason, &none);
    weft__lock_release(&tree_lock);
    weft__wakelist_flush(&none);
    *out = s;
    return 0;
}

void weft_scope_free(weft_scope *s)
{
    if (s == NULL || s == &root) return;
    weft__lock_acquire(&tree_lock);
    unref_locked(s);
    weft__lock_release(&tree_lock);
}

int weft__scope_depth(void)
{
    return ts.depth;
}

int weft_scope_enter(weft_scope *s)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    weft__scope_register_self();
    if (ts.depth == WEFT_SCOPE_DEPTH) return WEFT_ENOSPC;
    weft__lock_acquire(&tree_lock);
    ts.saved[ts.depth++] = ts.scope; /* keeps the scope's ref */
    s->refs++;
    move_to(s);
    weft__lock_release(&tree_lock);
    return 0;
}

int weft_scope_exit(void)
{
    if (!ts.registered || ts.depth == 0)
        return weft__fail(WEFT_ESTATE, "no weft_scope_enter to undo");
    weft__lock_acquire(&tree_lock);
    weft_scope *s = ts.scope;
    move_to(ts.saved[--ts.depth]); /* the saved scope's ref becomes the current one's */
    unref_locked(s);
    weft__lock_release(&tree_lock);
    return 0;
}

int weft_scope_cancel(weft_scope *s, int code, const char *fmt, ...)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    char reason[WEFT_SCOPE_REASON_MAX];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
    } else {
        snprintf(reason, sizeof reason, "%s", weft_strerror(code));
    }
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__lock_acquire(&tree_lock);
    cancel_locked(s, code, reason, &wl);
    weft__lock_release(&tree_lock);
    weft__wakelist_flush(&wl);
    return 0;
}

int weft_scope_cancelled(weft_scope *s)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    return check_deadline(s);
}

int weft_scope_reason(weft_scope *s, int *code, char *buf, size_t size)
{
    if (s == NULL) return weft__fail(WEFT_EINVAL, "s is NULL");
    int c = check_deadline(s);
    if (c) {
        weft__lock_acquire(&tree_lock);
        if (code) *code = s->code;
        if (buf && size) snprintf(buf, size, "%s", s->reason);
        weft__lock_release(&tree_lock);
    }
    return c;
}

weft_scope *weft_scope_root(void)
{
    return &root;
}

weft_scope *weft_scope_current(void)
{
    weft__scope_register_self();
    return ts.scope;
}

int weft_checkpoint(void)
{
    weft__parker *k = weft__parker_self();
    if (!k->registered) weft__scope_register_self();
    if (k->shield) return 0;
    if (weft__cancel_pending()) return WEFT_ECANCELED;
    if (k->scope_deadline != 0 && weft__os_now() >= k->scope_deadline) {
        weft__scope_deadline_passed();
        return WEFT_ECANCELED;
    }
    return 0;
}

int weft_cancelled(void)
{
    return weft_checkpoint() == WEFT_ECANCELED;
}

int weft_shield_begin(void)
{
    weft__parker_self()->shield++;
    return 0;
}

int weft_shield_end(void)
{
    weft__parker *k = weft__parker_self();
    if (k->shield == 0) return weft__fail(WEFT_ESTATE, "no shield is up");
    k->shield--;
    return 0;
}
