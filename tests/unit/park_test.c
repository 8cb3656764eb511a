/* tests/unit/park_test.c - the parking lot's protocol: hand-off, claim races, select, cancel. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "core/park.h"
#include "test.h"

/* A one-slot mailbox built directly on the parking lot, as a primitive would be. */
struct box {
    weft__waitq q;
    weft__parker *_Atomic parker; /* the waiting thread's, for the interrupt tests */
};

/* Wait for one item handed over by give(); returns 0, WEFT_ETIMEDOUT or WEFT_ECANCELED. */
static int take(struct box *b, weft_ns timeout, void **item)
{
    weft__park p;
    weft__waiter w;
    weft__park_init(&p, weft_deadline(timeout));
    weft__waiter_init(&w, &p, 0);
    atomic_store(&b->parker, weft__parker_self());
    weft__lock_acquire(&b->q.lock);
    int rc = weft__waitq_wait_locked(&b->q, &w);
    if (rc == 0) *item = w.item;
    return rc;
}

/* Hand item to a waiter if one is there; returns 1 if a waiter took it. */
static int give(struct box *b, void *item)
{
    weft__wakelist wl = WEFT__WAKELIST_INIT;
    int taken = 0;
    weft__lock_acquire(&b->q.lock);
    weft__waiter *w;
    while (!taken && (w = weft__waitq_pop(&b->q)) != NULL) {
        w->item = item;
        taken = weft__waiter_claim(w, &wl);
    }
    weft__lock_release(&b->q.lock);
    weft__wakelist_flush(&wl);
    return taken;
}

struct race {
    struct box box;
    long rounds;
    _Atomic long received, kept, timeouts;
    _Atomic int stop;
};

static int giver(void *arg)
{
    struct race *r = arg;
    long sent = 0;
    while (sent < r->rounds) {
        if (give(&r->box, (void *)(intptr_t)(sent + 1)))
            sent++;
        else if (atomic_load(&r->stop))
            break;
        else
            sched_yield(); /* no waiter yet: do not starve it of the queue lock */
    }
    return 0;
}

/* Hand-offs racing short timeouts: every item is received exactly once, none vanish. A hand-off
 * needs the giver to run while the taker waits, which on a loaded machine can take a time
 * slice each: sized to stay far below the time limit there. */
START_TEST(handoff_racing_timeout_never_loses_an_item)
{
    struct race r = {.rounds = weft_test_scale(5000)};
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, giver, &r, NULL), 0);
    long expect = 1, got = 0;
    while (got < r.rounds) {
        void *item = NULL;
        int rc = take(&r.box, (got & 7) == 0 ? 0 : WEFT_US(got & 31), &item);
        if (rc == WEFT_ETIMEDOUT) {
            atomic_fetch_add(&r.timeouts, 1);
            continue;
        }
        ck_assert_weft(rc, 0);
        ck_assert_int_eq((intptr_t)item, expect); /* in order, none skipped or doubled */
        expect++;
        got++;
    }
    atomic_store(&r.stop, 1);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(30)), 0);
    ck_assert_int_eq(got, r.rounds);
}
END_TEST

START_TEST(timeout_is_not_early)
{
    struct box b = {0};
    void *item;
    weft_ns t0 = weft_now();
    ck_assert_weft(take(&b, WEFT_MS(15), &item), WEFT_ETIMEDOUT);
    ck_assert_int_ge(weft_now() - t0, WEFT_MS(15));
    ck_assert(weft__waitq_empty(&b.q));
    ck_assert_weft(take(&b, 0, &item), WEFT_ETIMEDOUT);
}
END_TEST

struct sel {
    struct box box[3];
    _Atomic int ready, winners, won_index;
};

static int selector(void *arg)
{
    struct sel *s = arg;
    weft__park p;
    weft__waiter w[3];
    weft__park_init(&p, WEFT_FOREVER);
    for (int i = 0; i < 3; i++) {
        weft__waiter_init(&w[i], &p, (uint32_t)i);
        weft__lock_acquire(&s->box[i].q.lock);
        weft__waitq_push(&s->box[i].q, &w[i]);
        weft__lock_release(&s->box[i].q.lock);
    }
    atomic_store(&s->ready, 1);
    uint32_t st = weft__park_wait(&p);
    for (int i = 0; i < 3; i++) weft__waiter_cancel(&s->box[i].q, &w[i]);
    if (st < WEFT__PARK_WOKEN) return 1;
    int k = (int)(st - WEFT__PARK_WOKEN);
    atomic_store(&s->won_index, k);
    return w[k].item == &s->box[k] ? 0 : 2;
}

struct select_giver {
    struct sel *s;
    int i;
};

static int select_giver(void *arg)
{
    struct select_giver *g = arg;
    while (!atomic_load(&g->s->ready)) sched_yield();
    if (give(&g->s->box[g->i], &g->s->box[g->i])) atomic_fetch_add(&g->s->winners, 1);
    return 0;
}

/* One thread waiting on three queues at once is woken by exactly one of three racing wakers. */
START_TEST(select_wakes_exactly_once)
{
    long rounds = weft_test_scale(300);
    for (long r = 0; r < rounds; r++) {
        struct sel s = {0};
        struct select_giver g[3];
        weft_thread ts, tg[3];
        ck_assert_weft(weft_thread_start(&ts, selector, &s, NULL), 0);
        for (int i = 0; i < 3; i++) {
            g[i] = (struct select_giver){&s, i};
            ck_assert_weft(weft_thread_start(&tg[i], select_giver, &g[i], NULL), 0);
        }
        for (int i = 0; i < 3; i++) ck_assert_weft(weft_thread_join(tg[i], NULL, WEFT_SEC(30)), 0);
        int st = -1;
        ck_assert_weft(weft_thread_join(ts, &st, WEFT_SEC(30)), 0);
        ck_assert_int_eq(st, 0);
        ck_assert_int_eq(atomic_load(&s.winners), 1);
        for (int i = 0; i < 3; i++) ck_assert(weft__waitq_empty(&s.box[i].q));
    }
}
END_TEST

struct blocked {
    struct box box;
    _Atomic int result;
    _Atomic int started;
};

static int block_in_take(void *arg)
{
    struct blocked *b = arg;
    void *item;
    atomic_store(&b->started, 1);
    atomic_store(&b->result, take(&b->box, WEFT_FOREVER, &item));
    return 0;
}

/* The cancellation hook wakes a thread parked with no timeout, and leaves no record behind. */
START_TEST(interrupt_wakes_parked_thread_with_canceled)
{
    long rounds = weft_test_scale(200);
    for (long r = 0; r < rounds; r++) {
        struct blocked b = {0};
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, block_in_take, &b, NULL), 0);
        weft__parker *k;
        while ((k = atomic_load(&b.box.parker)) == NULL) sched_yield();
        if (r & 1) weft_sleep(WEFT_US(200)); /* sometimes asleep, sometimes still spinning */
        weft__parker_interrupt(k);
        ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(30)), 0);
        ck_assert_weft(atomic_load(&b.result), WEFT_ECANCELED);
        ck_assert(weft__waitq_empty(&b.box.q));
    }
}
END_TEST

START_TEST(interrupt_before_wait_is_sticky_until_reset)
{
    struct box b = {0};
    void *item;
    weft__parker *me = weft__parker_self();
    weft__parker_interrupt(me);
    ck_assert_int_eq(weft__cancel_pending(), 1);
    ck_assert_weft(take(&b, WEFT_FOREVER, &item), WEFT_ECANCELED);
    ck_assert_weft(take(&b, WEFT_FOREVER, &item), WEFT_ECANCELED);
    ck_assert_weft(weft_sleep(WEFT_SEC(100)), WEFT_ECANCELED);
    me->shield++;
    ck_assert_int_eq(weft__cancel_pending(), 0);
    ck_assert_weft(take(&b, WEFT_MS(1), &item), WEFT_ETIMEDOUT); /* shielded: waits normally */
    me->shield--;
    weft__parker_reset(me);
    ck_assert_int_eq(weft__cancel_pending(), 0);
    ck_assert_weft(take(&b, WEFT_MS(1), &item), WEFT_ETIMEDOUT);
}
END_TEST

START_TEST(uncancellable_park_ignores_interrupt)
{
    weft__park p;
    weft__park_init(&p, weft_deadline(WEFT_MS(5)));
    p.cancellable = false;
    weft__parker_interrupt(weft__parker_self());
    ck_assert_uint_eq(weft__park_wait(&p), WEFT__PARK_TIMEDOUT);
    weft__parker_reset(weft__parker_self());
}
END_TEST

/* The lock-held assertion of debug builds (core/lock.h) names the holder: the holder sees the
 * lock held, another thread does not, and nobody does once it is released. (Release builds
 * know only that someone holds it.) */
static void *other_sees_held(void *l)
{
    return weft__lock_held(l) ? l : NULL;
}

START_TEST(lock_held_names_the_holder)
{
    weft__lock l = WEFT__LOCK_INIT;
    ck_assert(!weft__lock_held(&l));
    weft__lock_acquire(&l);
    ck_assert(weft__lock_held(&l));
#ifdef WEFT_DEBUG
    pthread_t t;
    void *seen = &l;
    ck_assert_int_eq(pthread_create(&t, NULL, other_sees_held, &l), 0);
    ck_assert_int_eq(pthread_join(t, &seen), 0);
    ck_assert_ptr_null(seen);
#else
    (void)other_sees_held;
#endif
    weft__lock_release(&l);
    ck_assert(!weft__lock_held(&l));
    ck_assert(weft__lock_try(&l));
    ck_assert(weft__lock_held(&l));
    weft__lock_release(&l);
    ck_assert(!weft__lock_held(&l));
}
END_TEST

WEFT_TEST_SUITE("park", 60, handoff_racing_timeout_never_loses_an_item, timeout_is_not_early,
                select_wakes_exactly_once, interrupt_wakes_parked_thread_with_canceled,
                interrupt_before_wait_is_sticky_until_reset, uncancellable_park_ignores_interrupt,
                lock_held_names_the_holder)
