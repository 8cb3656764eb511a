/* src/core/debugrec.c - the list of per-thread blocked-on records (debugrec.h).
 *
 * Invariants: a record, once on the list, stays there and in memory until the process ends;
 * its id and next never change after it is published (the release CAS that links it); a
 * record is FREE exactly when no thread owns it. Only the owner writes a record that is not
 * FREE; taking a FREE one is a CAS FREE -> RUNNING. Each write is a sequence-lock section.
 * Lock order: no lock (the list is pushed by CAS and never shrinks).
 */
#include "core/debugrec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/annotate.h"
#include "os/os.h"

_Thread_local uint32_t weft__dbg_owner WEFT__TLS_IE;

/* The thread's record; GONE once its exit ran (a late park then publishes nothing). */
#define GONE WEFT__DBG_GONE
_Thread_local weft__dbg_thread *weft__dbg_tls WEFT__TLS_IE;

static weft__dbg_thread *_Atomic head; /* release CAS in link(), acquire in weft__dbg_first */
static _Atomic uint32_t last_id;       /* relaxed: ids only need to be unique */
static pthread_key_t exit_key;
static _Atomic int stacks; /* WEFT_DEBUG_STACKS: 0 unknown, 1 off, 2 on */

weft__dbg_thread *weft__dbg_first(void)
{
    return atomic_load_explicit(&head, memory_order_acquire);
}

uint32_t weft__dbg_ids(void)
{
    return atomic_load_explicit(&last_id, memory_order_relaxed);
}

/* Open a write section: seq odd. The section's stores are release stores (WR), so each is
 * ordered after the odd seq: a reader whose acquire load (weft__dbg_read) sees one of them
 * then sees seq odd or newer, and retries. No fence: GCC's TSan does not support
 * atomic_thread_fence, and on x86-64 release stores and acquire loads are plain moves. */
static uint32_t write_begin(weft__dbg_thread *t)
{
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
    return s + 2;
}

#define WR(field, v) atomic_store_explicit(&t->field, (v), memory_order_release)

static void write_end(weft__dbg_thread *t, uint32_t s)
{
    atomic_store_explicit(&t->seq, s, memory_order_release); /* pairs with the reader's acquire */
}

static void set_name(weft__dbg_thread *t, const char *name)
{
    uint64_t w[WEFT__DBG_NAME_WORDS] = {0};
    size_t n = strlen(name);
    if (n >= sizeof w) n = sizeof w - 1;
    memcpy(w, name, n);
    for (int i = 0; i < WEFT__DBG_NAME_WORDS; i++) WR(name[i], w[i]);
}

static void on_exit_key(void *p)
{
    weft__dbg_thread *t = p;
    uint32_t s = write_begin(t);
    WR(nheld, 0);
    write_end(t, s);
    /* release: the next owner's CAS (acquire) sees our last writes done. */
    atomic_store_explicit(&t->state, WEFT__DBG_FREE, memory_order_release);
    weft__dbg_tls = GONE;
    weft__dbg_owner = 0;
}

static void make_key(void)
{
    pthread_key_create(&exit_key, on_exit_key);
}

/* A FREE record taken over, or a new one linked; NULL without memory. */
static weft__dbg_thread *take_record(void)
{
    for (weft__dbg_thread *t = weft__dbg_first(); t; t = t->next) {
        uint32_t free_ = WEFT__DBG_FREE;
        /* acquire: pairs with the release store of the previous owner's exit. */
        if (atomic_load_explicit(&t->state, memory_order_relaxed) == WEFT__DBG_FREE &&
            atomic_compare_exchange_strong_explicit(&t->state, &free_, WEFT__DBG_RUNNING,
                                                    memory_order_acquire, memory_order_relaxed))
            return t;
    }
    uint32_t id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
    if (id > WEFT__DBG_ID_MAX) return NULL;
    weft__dbg_thread *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    weft__vg_untracked(t, sizeof *t); /* a sequence lock: read racily by design */
    t->id = id;
    atomic_init(&t->state, WEFT__DBG_RUNNING);
    weft__dbg_thread *h = atomic_load_explicit(&head, memory_order_relaxed);
    do t->next = h; /* release: publishes id and next with the record */
    while (!atomic_compare_exchange_weak_explicit(&head, &h, t, memory_order_release,
                                                  memory_order_relaxed));
    return t;
}

static weft__dbg_thread *registered(const char *name)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_key);
    weft__dbg_thread *t = take_record();
    if (t == NULL) return NULL;
    uint32_t s = write_begin(t);
    int32_t tid = weft__os_gettid();
    WR(tid, tid);
    set_name(t, name ? name : tid == (int32_t)getpid() ? "main" : "foreign");
    WR(kind, WEFT__WAIT_OTHER);
    WR(nheld, 0);
    write_end(t, s);
    pthread_setspecific(exit_key, t);
    weft__dbg_tls = t;
    weft__dbg_owner = t->id << 3;
    return t;
}

weft__dbg_thread *weft__dbg_self(void)
{
    weft__dbg_thread *t = weft__dbg_tls;
    if (t == GONE) return NULL;
    return t ? t : registered(NULL);
}

/* The thread that loads the library (main, for a program linked with it) is known from the
 * start, so that the locks it takes before it first waits show it as their holder. */
__attribute__((constructor)) static void register_loader(void)
{
    (void)weft__dbg_self();
}

void weft__dbg_thread_start(const char *name)
{
    weft__dbg_thread *t = weft__dbg_tls;
    if (t == NULL) {
        registered(name);
    } else if (t != GONE) {
        uint32_t s = write_begin(t);
        set_name(t, name);
        write_end(t, s);
    }
}

_Atomic int weft__dbg_publish = 1;

static bool stacks_on(void)
{
    int v = atomic_load_explicit(&stacks, memory_order_relaxed);
    if (v == 0) {
        const char *e = getenv("WEFT_DEBUG_STACKS");
        v = e && e[0] == '1' ? 2 : 1;
        weft__vg_untracked(&stacks, sizeof stacks); /* set once, racily: any thread may */
        atomic_store_explicit(&stacks, v, memory_order_relaxed);
    }
    return v == 2;
}

void weft__dbg_block(uint32_t kind, const void *obj, uint32_t holder, weft_ns since,
                     weft_ns deadline)
{
    weft__dbg_thread *t = weft__dbg_self();
    if (t == NULL) return;
    void *frames[WEFT__DBG_FRAMES + 2];
    int n = stacks_on() ? weft__os_backtrace(frames, WEFT__DBG_FRAMES + 2) - 2 : 0;
    uint32_t s = write_begin(t);
    WR(kind, kind);
    WR(obj, (uintptr_t)obj);
    WR(holder, holder);
    WR(since, since);
    WR(deadline, deadline);
    for (int i = 0; i < n; i++) /* skip this function and park_wait */
        WR(frames[i], (uintptr_t)frames[i + 2]);
    WR(nframes, n > 0 ? (uint32_t)n : 0);
    WR(state, WEFT__DBG_BLOCKED);
    write_end(t, s);
}

void weft__dbg_unblock(void)
{
    weft__dbg_thread *t = weft__dbg_tls;
    if (t == NULL || t == GONE) return;
    uint32_t s = write_begin(t);
    WR(state, WEFT__DBG_RUNNING);
    write_end(t, s);
}

static void copy(const weft__dbg_thread *t, weft__dbg_thread *o)
{
#define LD(f) atomic_load_explicit(&t->f, memory_order_acquire) /* see write_begin */
    atomic_init(&o->state, LD(state));
    o->id = t->id;
    atomic_init(&o->tid, LD(tid));
    for (int i = 0; i < WEFT__DBG_NAME_WORDS; i++) atomic_init(&o->name[i], LD(name[i]));
    atomic_init(&o->kind, LD(kind));
    atomic_init(&o->holder, LD(holder));
    atomic_init(&o->obj, LD(obj));
    atomic_init(&o->since, LD(since));
    atomic_init(&o->deadline, LD(deadline));
    uint32_t n = LD(nframes);
    if (n > WEFT__DBG_FRAMES) n = WEFT__DBG_FRAMES;
    atomic_init(&o->nframes, n);
    for (uint32_t i = 0; i < n; i++) atomic_init(&o->frames[i], LD(frames[i]));
    n = LD(nheld);
    if (n > WEFT__DBG_HELD) n = WEFT__DBG_HELD;
    atomic_init(&o->nheld, n);
    for (uint32_t i = 0; i < n; i++) atomic_init(&o->held[i], LD(held[i]));
    o->next = NULL;
#undef LD
}

bool weft__dbg_read(const weft__dbg_thread *t, weft__dbg_thread *out, uint32_t *seq)
{
    for (int tries = 0; tries < 64; tries++) {
        /* acquire: pairs with write_end's release. */
        uint32_t s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
        if (s1 & 1) {
            weft__os_relax();
            continue;
        }
        copy(t, out); /* acquire loads: the check below stays after them */
        if (atomic_load_explicit(&t->seq, memory_order_relaxed) == s1) {
            *seq = s1;
            return true;
        }
    }
    return false;
}

void weft__dbg_fork_child(void)
{
    weft__dbg_thread *self = weft__dbg_tls;
    for (weft__dbg_thread *t = weft__dbg_first(); t; t = t->next)
        if (t != self) atomic_store_explicit(&t->state, WEFT__DBG_FREE, memory_order_relaxed);
}
