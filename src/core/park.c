/* src/core/park.c - waiter records, wait queues, and the adaptive spin-then-sleep parker.
 *
 * The protocol is stated in park.h. Lock order: docs/design/locks.md: a parker's lock is
 * the innermost (a canceller claims under it alone; no queue lock is taken under it).
 *
 * Spinning. Waking a thread that sleeps in the kernel costs tens of microseconds on a VM; a
 * hand-off to a thread that is still spinning costs a cache-line transfer. So a parked thread
 * first spins for a per-thread budget of time, adapted to what it has seen (see adapt()). The
 * budget stays within [SPIN_MIN_NS, SPIN_MAX_NS], so an idle thread goes to sleep after at
 * most SPIN_MAX_NS of spinning, and soon after only SPIN_MIN_NS.
 */
#include "core/park.h"

#include <weft/error.h>

#include "core/debugrec.h"
#include "core/internal.h"
#include "os/os.h"

#define SPIN_MIN_NS  2000
#define SPIN_MAX_NS  50000
#define SPIN_INIT_NS 20000
#define SPIN_PAYS    64 /* k->hits at or above this: spinning ends a quarter of waits or more */
#define SPIN_PROBE   64

static _Thread_local weft__parker tls_parker WEFT__TLS_IE;

weft__parker *weft__parker_self(void)
{
    return &tls_parker;
}

int weft__deadline_of(weft_ns timeout, weft_ns *deadline)
{
    if (timeout < 0)
        return weft__fail(WEFT_EINVAL, "timeout is negative (%lld)", (long long)timeout);
    *deadline = weft_deadline(timeout);
    return 0;
}

void weft__park_init(weft__park *p, weft_ns deadline)
{
    weft__vg_untracked(p, sizeof *p); /* handed over by its state word (core/annotate.h) */
    atomic_init(&p->state, WEFT__PARK_WAITING);
    p->deadline = deadline;
    p->cancellable = true;
    p->spin = true;
    p->kind = WEFT__WAIT_OTHER;
    p->obj = NULL;

    p->scope_first = false;
    p->shared = NULL;
}

void weft__waiter_init(weft__waiter *w, weft__park *p, uint32_t index)
{
    weft__vg_untracked(w, sizeof *w); /* the waker writes it under the queue's lock */
    w->next = w->prev = NULL;
    w->queue = NULL;
    w->park = p;
    w->index = index;
    w->want = 0;
    w->item = NULL;
    w->result = 0;
}

void weft__waitq_push(weft__waitq *q, weft__waiter *w)
{
    w->queue = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

void weft__waitq_remove(weft__waitq *q, weft__waiter *w)
{
    if (w->queue != q) return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->queue = NULL;
}

weft__waiter *weft__waitq_pop(weft__waitq *q)
{
    weft__waiter *w = q->head;
    if (w) weft__waitq_remove(q, w);
    return w;
}

/* Move p from WAITING/SLEEPING to to (or, with hold, to HELD/HELD_SLEEPING). Returns 1 if
 * claimed and the owner was awake, 2 if claimed and the owner sleeps on the futex (needs a
 * wake-up), 0 if someone claimed it first. acq_rel: the release half publishes what the
 * claimer wrote into the record before (item, result) to the parked thread's acquire load in
 * park_wait; the acquire half pairs with nothing but keeps the claim ordered after the
 * claimer's own earlier reads. */
static int claim(weft__park *p, uint32_t to, bool hold)
{
    uint32_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
    uint32_t n;
    do {
        if (s > WEFT__PARK_SLEEPING) return 0;
        n = !hold                      ? to
            : s == WEFT__PARK_SLEEPING ? (uint32_t)WEFT__PARK_HELD_SLEEPING
                                       : (uint32_t)WEFT__PARK_HELD;
    } while (!atomic_compare_exchange_weak_explicit(&p->state, &s, n, memory_order_acq_rel,
                                                    memory_order_relaxed));
    return s == WEFT__PARK_SLEEPING ? 2 : 1;
}

/* Claim p for a waker or canceller: hold it and queue it on wl to get final at the flush. */
static bool claim_held(weft__park *p, uint32_t final, weft__wakelist *wl)
{
    if (!claim(p, 0, true)) return false;
    /* Plain writes: the owner reads neither before the flush's exchange, which orders them. */
    p->final = final;
    p->held_next = wl->head;
    wl->head = p;
    return true;
}

bool weft__waiter_claim(weft__waiter *w, weft__wakelist *wl)
{
    return claim_held(w->park, WEFT__PARK_WOKEN + w->index, wl);
}

weft__waiter *weft__waitq_wake_one(weft__waitq *q, weft__wakelist *wl)
{
    weft__waiter *w;
    while ((w = weft__waitq_pop(q)) != NULL)
        if (weft__waiter_claim(w, wl)) return w;
    return NULL;
}

size_t weft__waitq_wake_all(weft__waitq *q, weft__wakelist *wl)
{
    size_t n = 0;
    weft__waiter *w;
    while ((w = weft__waitq_pop(q)) != NULL) n += weft__waiter_claim(w, wl);
    return n;
}

/* Release each held park: read what we need of it first, then give it its final state in one
 * exchange (release: publishes everything the claimer wrote, to the owner's acquire load),
 * after which the owner may return and the park be gone. The futex wake that may follow
 * touches only the word, and a wake on memory since reused is a harmless spurious wake-up. */
void weft__wakelist_flush(weft__wakelist *wl)
{
    weft__park *p = wl->head;
    wl->head = NULL;
    while (p) {
        weft__park *next = p->held_next;
        _Atomic uint32_t *word = &p->state;
        if (p->shared) {
            /* seq_cst: pairs with the owner's load of the word before it checks p->state
             * (ipcq's wait loop): either it sees the claim or its futex wait sees the bump. */
            atomic_fetch_add(p->shared, 1);
            weft__os_futex_wake_shared(p->shared, INT32_MAX);
        }
        uint32_t old = atomic_exchange_explicit(word, p->final, memory_order_release);
        if (old == WEFT__PARK_HELD_SLEEPING) weft__os_futex_wake(word, 1);
        p = next;
    }
}

void weft__waiter_cancel(weft__waitq *q, weft__waiter *w)
{
    weft__lock_acquire(&q->lock);
    weft__waitq_remove(q, w);
    weft__lock_release(&q->lock);
}

int weft__cancel_pending(void)
{
    weft__parker *k = &tls_parker;
    /* seq_cst: pairs with the store in weft__parker_interrupt (see publish()). */
    return k->shield == 0 && atomic_load(&k->cancel) != 0;
}

void weft__parker_interrupt_batch(weft__parker *k, weft__wakelist *wl)
{
    atomic_store(&k->cancel, 1); /* seq_cst: pairs with publish(), see there */
    weft__lock_acquire(&k->lock);
    weft__park *p = atomic_load(&k->current);
    /* A shielded thread parks with cancellable false: it keeps sleeping and sees the request
     * when its shield ends. The claim holds the park, so it stays alive (its owner keeps
     * waiting) until wl is flushed after the parker lock is dropped. */
    if (p && p->cancellable) (void)claim_held(p, WEFT__PARK_CANCELED, wl);
    weft__lock_release(&k->lock);
}

void weft__parker_interrupt(weft__parker *k)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    weft__parker_interrupt_batch(k, &wl);
    weft__wakelist_flush(&wl);
}

void weft__parker_reset(weft__parker *k)
{
    atomic_store_explicit(&k->cancel, 0, memory_order_relaxed);
}

/* Spin until p is claimed or the budget runs out (starting at time start); returns the last
 * state seen and the time spent in *spent. The clock is read every 32 relax instructions. */
static uint32_t spin(weft__park *p, weft_ns start, weft_ns budget, weft_ns *spent)
{
    weft_ns now = start;
    uint32_t s;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            /* acquire: pairs with the acq_rel claim. */
            s = atomic_load_explicit(&p->state, memory_order_acquire);
            if (weft__park_final(s)) goto out;
            weft__os_relax();
        }
        now = weft__os_now();
        if (now - start >= budget || now >= p->deadline) break;
    }
out:
    *spent = now - start;
    return s;
}

/* Adapt the spin budget after a wait that a waker ended. spent: time spun; waited: the whole
 * wait. k->hits is a moving average (out of 256, weight 1/8) of how often spinning ended the
 * wait. A wait that ended while spinning says the budget was enough. A wait that had to sleep
 * but ended soon after (within twice the largest budget, wake-up latency included) says more
 * spinning might have saved the sleep - but only if spinning usually pays: when it rarely
 * does (the waker needs our CPU, or the machine is oversubscribed), a short wait after a
 * sleep is the sleep itself letting the waker run, and spinning longer would only delay it.
 * A long wait says nothing was coming. In both of those cases the budget halves. */
static void adapt(weft__parker *k, bool spun_ok, weft_ns spent, weft_ns waited)
{
    weft_ns b = k->spin_ns ? k->spin_ns : SPIN_INIT_NS;
    k->hits = k->hits - k->hits / 8 + (spun_ok ? 32 : 0);
    if (spun_ok) {
        if (b < 4 * spent) b = 4 * spent;
    } else if (waited <= 2 * SPIN_MAX_NS && k->hits >= SPIN_PAYS) {
        b *= 2;
    } else {
        b /= 2;
    }
    if (b < SPIN_MIN_NS) b = SPIN_MIN_NS;
    if (b > SPIN_MAX_NS) b = SPIN_MAX_NS;
    k->spin_ns = b;
}

bool weft__park_spin_pays(void)
{
    return tls_parker.hits >= SPIN_PAYS;
}

/* The budget for the next spin: the adapted one, except that one wait in SPIN_PROBE spins for
 * the largest budget, so that a thread whose budget shrank finds out when spinning pays
 * again. */
static weft_ns budget(weft__parker *k)
{
    if (++k->waits % SPIN_PROBE == 0) return SPIN_MAX_NS;
    return k->spin_ns ? k->spin_ns : SPIN_INIT_NS;
}

/* Sleep on the futex until p has its final state, claiming TIMEDOUT ourselves at the
 * deadline. A held park has no deadline any more: its claimer is about to release it. */
static uint32_t sleep_until_claimed(weft__park *p)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&p->state, memory_order_acquire);
        if (weft__park_final(s)) return s;
        if (s == WEFT__PARK_WAITING || s == WEFT__PARK_HELD) {
            uint32_t to = s == WEFT__PARK_WAITING ? WEFT__PARK_SLEEPING : WEFT__PARK_HELD_SLEEPING;
            if (!atomic_compare_exchange_strong_explicit(&p->state, &s, to, memory_order_acquire,
                                                         memory_order_acquire))
                continue; /* claimed or released meanwhile: look again */
            s = to;
        }
        if (s == WEFT__PARK_HELD_SLEEPING) {
            weft__os_futex_wait(&p->state, s, WEFT_FOREVER);
            continue;
        }
        if (weft__os_futex_wait(&p->state, s, p->deadline) == WEFT_ETIMEDOUT ||
            (p->deadline != WEFT_FOREVER && weft__os_now() >= p->deadline))
            claim(p, WEFT__PARK_TIMEDOUT, false);
    }
}

uint32_t weft__park_retract(weft__park *p)
{
    if (claim(p, WEFT__PARK_WOKEN, false)) return WEFT__PARK_WOKEN;
    return sleep_until_claimed(p); /* a waker holds it: its flush is its last touch of p */
}

/* Publish p as the park a canceller must claim, or withdraw it (p = NULL). Dekker-style on
 * two seq_cst pairs: we store current then load cancel; weft__parker_interrupt stores cancel
 * then loads current (under the parker lock). So either we see the request, or the canceller
 * sees p. On withdrawal, if a request is visible, a canceller may still be claiming the old
 * park under the lock: taking the lock once waits it out, so p's memory (our stack) stays
 * valid until no canceller can touch it. No lock is taken when nobody cancels. */
static void publish(weft__parker *k, weft__park *p)
{
    atomic_store(&k->current, p);
    if (p == NULL && atomic_load(&k->cancel)) {
        weft__lock_acquire(&k->lock);
        weft__lock_release(&k->lock);
    }
}

uint32_t weft__park_wait(weft__park *p)
{
    weft__parker *k = &tls_parker;
    if (!k->registered) weft__park_scope_event(WEFT__PARK_ATTACH); /* a canceller can find us */
    if (k->shield) p->cancellable = false;
    /* The scope's deadline ends the wait as a cancellation when it comes first. */
    bool scope_first = p->cancellable && k->scope_deadline != 0 && k->scope_deadline < p->deadline;
    if (scope_first) p->deadline = k->scope_deadline;
    publish(k, p);
    if (p->cancellable && weft__cancel_pending()) claim(p, WEFT__PARK_CANCELED, false);

    weft_ns spent = 0, start = 0;
    uint32_t s = WEFT__PARK_WAITING;
    if (p->spin) {
        start = weft__os_now();
        s = spin(p, start, budget(k), &spent);
    }
    bool spun_ok = weft__park_final(s);
    if (!spun_ok) {
        weft_ns now = p->spin ? start + spent : weft__os_now();
        if (p->deadline != WEFT_FOREVER && now >= p->deadline) claim(p, WEFT__PARK_TIMEDOUT, false);
        /* Only a thread that sleeps publishes what it waits on (core/debugrec.h). */
        bool rec = atomic_load_explicit(&weft__dbg_publish, memory_order_relaxed);
        if (rec) weft__dbg_block(p->kind, p->obj, k->holder, now, p->deadline);
        s = sleep_until_claimed(p);
        if (rec) weft__dbg_unblock();
    }
    k->holder = 0;
    /* Only waits that a waker ended say anything about hand-off latency. */
    if (s >= WEFT__PARK_WOKEN && p->spin)
        adapt(k, spun_ok, spent, spun_ok ? spent : weft__os_now() - start);
    publish(k, NULL);
    if (s == WEFT__PARK_TIMEDOUT && scope_first) {
        weft__park_scope_event(WEFT__PARK_SCOPE_DEADLINE);
        s = WEFT__PARK_CANCELED;
    }
    return s;
}

void weft__park_enter(weft__park *p)
{
    weft__parker *k = &tls_parker;
    if (!k->registered) weft__park_scope_event(WEFT__PARK_ATTACH);
    if (k->shield) p->cancellable = false;
    p->scope_first = p->cancellable && k->scope_deadline != 0 && k->scope_deadline < p->deadline;
    if (p->scope_first) p->deadline = k->scope_deadline;
    publish(k, p);
    if (p->cancellable && weft__cancel_pending()) claim(p, WEFT__PARK_CANCELED, false);
}

uint32_t weft__park_leave(weft__park *p, bool expired)
{
    uint32_t s;
    if (expired && claim(p, WEFT__PARK_TIMEDOUT, false))
        s = WEFT__PARK_TIMEDOUT;
    else
        s = weft__park_retract(p); /* ours (WOKEN), or wait for the canceller's flush */
    publish(&tls_parker, NULL);
    if (s == WEFT__PARK_TIMEDOUT && p->scope_first) {
        weft__park_scope_event(WEFT__PARK_SCOPE_DEADLINE);
        s = WEFT__PARK_CANCELED;
    }
    return s;
}

int weft__waitq_wait_locked(weft__waitq *q, weft__waiter *w)
{
    weft__park *p = w->park;
    weft__waitq_push(q, w);
    weft__lock_release(&q->lock);
    uint32_t s = weft__park_wait(p);
    if (s >= WEFT__PARK_WOKEN) return 0;
    weft__waiter_cancel(q, w);
    return s == WEFT__PARK_TIMEDOUT ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
}

void weft__waitq_sleep_locked(weft__waitq *q, weft_ns deadline)
{
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, deadline);
    p.cancellable = false;
    p.spin = false;
    weft__waiter_init(&w, &p, 0);
    weft__waitq_wait_locked(q, &w);
    weft__lock_acquire(&q->lock);
}
