/* models/park.pml - the parking lot's claim protocol (src/core/park.c, src/core/cancel.c).
 *
 * Two waiters each want one item from one wait queue (the getter side of a locked queue,
 * src/queue/queue.c). A waker produces 0, 1 or 2 items; a canceller cancels none, one or
 * both waiters; with -DDEADLINE each waiter's deadline may pass at any moment. Processes:
 *
 *   waiter(i)   lock q; if an item is buffered take it and return; else link a record;
 *               unlock; park: publish the park, look at the cancel flag, then
 *               loop { final? -> stop; WAITING: CAS WAITING->SLEEPING;
 *                      HELD: CAS HELD->HELD_SLEEPING;
 *                      SLEEPING / HELD_SLEEPING: futex_wait(state, that value) };
 *               withdraw the park (wait out a canceller under the parker lock);
 *               WOKEN: take the item from the record; TIMEDOUT/CANCELED: lock q, unlink.
 *   waker       per item: lock q; pop records one by one, fill the record, claim it HELD
 *               (to become WOKEN); a failed claim keeps the item for the next record; nobody
 *               won: buffer it; unlock; then release the held park (exchange to WOKEN) and
 *               futex_wake if it was HELD_SLEEPING - the flush of the wakelist.
 *   canceller   per target: set the sticky flag; lock the parker; if a park is published,
 *               claim it HELD (to become CANCELED); unlock; release it as the waker does.
 * A waiter's own deadline claims TIMEDOUT directly (WAITING/SLEEPING -> TIMEDOUT); a held park
 * has no deadline left: its claimer is about to release it.
 *
 * The futex is modelled faithfully: futex_wait(word, v) atomically compares and goes to sleep
 * (asleep[i] = 1) only if the word still holds v; it returns only when a futex_wake clears
 * asleep[i] (or, with -DSPURIOUS / -DDEADLINE, whenever it likes).
 *
 * Properties:
 *   P1 no lost wake-up: when the system is quiescent (SPIN's timeout: nothing can move) every
 *      waiter still parked sleeps on an unclaimed park, is not cancelled, and no item is
 *      buffered; any other stuck process is an invalid end state. Checked without
 *      SPURIOUS/DEADLINE (both rescue a lost wake-up and would hide it).
 *   P2 conservation: items received + items buffered == items produced (none lost, none twice).
 *   P3 a waiter that returns WOKEN finds an item in its record; one returning CANCELED was
 *      cancelled; TIMEDOUT only with a deadline; at most one item per waiter.
 *   P4 lifetime: nobody writes a record or claims a park after its waiter returned (records
 *      and parks live on the waiter's stack).
 *   P5 object lifetime: within the put that served a waiter, the waker does not touch the
 *      queue (its lock) once that waiter returned: the woken thread may free the queue.
 *
 * Mutants (-DMUTANT_...; scripts/check-models requires each to be caught):
 *   NO_RECHECK            link the record after dropping and retaking the lock (P1)
 *   SLEEP_WITHOUT_MARK    futex-sleep on WAITING without the CAS to SLEEPING (P1)
 *   CANCEL_BEFORE_PUBLISH read the cancel flag before publishing the park (P1)
 *   KEEP_NOT_SERVE        after a failed claim the waker buffers the item instead of serving
 *                         the next parked waiter (P1)
 *   IGNORE_CLAIM          the waker assumes its hand-off succeeded (P2)
 *   WITHDRAW_NO_LOCK      withdraw the park without waiting out the canceller (P4)
 *   UNLINK_UNLOCKED       unlink after TIMEDOUT/CANCELED without the queue lock (P4)
 *   IF_NOT_WHILE          with -DSPURIOUS: take a futex return for a claim (P3)
 *   RELEASE_UNDER_LOCK    the waker releases the held park before it drops the queue lock
 *                         (the protocol before held claims) (P5)
 */

#define NW       2
#define WAITING  0
#define SLEEPING 1
#define TIMEDOUT 2
#define CANCELED 3
#define HELD     4   /* claimed by a waker or canceller, not yet released */
#define HELD_SLEEPING 5
#define WOKEN    6

#define FINAL(s) ((s) == TIMEDOUT || (s) == CANCELED || (s) == WOKEN)

byte ps[NW];        /* each park's state word (the futex word) */
byte fin[NW];       /* a held park's final state, given by its release */
bit back[NW];       /* the waiter returned WOKEN (and may have freed the queue) */
bit asleep[NW];     /* the waiter sleeps inside futex_wait */
bit linked[NW];     /* its record is on the wait queue */
bit rec[NW];        /* an item handed over through the record */
bit alive[NW];      /* the waiter has not returned: its park and record exist */
bit current[NW];    /* the park published to cancellers (parker->current) */
bit cflag[NW];      /* the sticky cancellation request */
bit klock[NW];      /* the parker's lock */
bit qlock;          /* the wait queue's lock */
byte items;         /* items buffered in the queue */
byte produced;      /* items the waker produced */
byte got[NW];       /* items each waiter received */
byte nput;          /* how many items the waker produces */
bit target[NW];     /* whom the canceller cancels */

inline lock(l)   { atomic { l == 0 -> l = 1 } }
inline unlock(l) { l = 0 }

/* The waiter's own claim (its deadline): CAS of ps[i] from WAITING/SLEEPING to final. */
inline claim(i, final, ok, nw) {
    atomic {
        assert(alive[i]);   /* P4 */
        if
        :: ps[i] == WAITING  -> ps[i] = final; ok = 1; nw = 0
        :: ps[i] == SLEEPING -> ps[i] = final; ok = 1; nw = 1
        :: else -> ok = 0; nw = 0
        fi
    }
}

/* A waker's or canceller's claim: hold the park (its owner keeps waiting) with final kept
 * for the release. */
inline claim_hold(i, final, ok) {
    atomic {
        assert(alive[i]);   /* P4 */
        if
        :: ps[i] == WAITING  -> ps[i] = HELD; fin[i] = final; ok = 1
        :: ps[i] == SLEEPING -> ps[i] = HELD_SLEEPING; fin[i] = final; ok = 1
        :: else -> ok = 0
        fi
    }
}

/* weft__wakelist_flush for one park: exchange to its final state; wake it if it slept. */
inline release(i) {
    atomic {
        assert(alive[i]);   /* P4 */
        if
        :: ps[i] == HELD_SLEEPING -> asleep[i] = 0
        :: else
        fi;
        ps[i] = fin[i]
    }
}

inline futex_wake(i) { asleep[i] = 0 }

/* The waker touches the queue's lock: within the put that served waiter j, j must still be
 * inside its call (P5). */
inline touch_q(served) {
    assert(served == NW || !back[served])
}

proctype waiter(byte i)
{
    bit ok, nw;
    byte s;
    lock(qlock);
    if
    :: items > 0 -> items--; got[i]++; unlock(qlock); goto out
    :: else
    fi;
#ifdef MUTANT_NO_RECHECK
    unlock(qlock);   /* checked, then the lock is dropped before the record is linked */
    lock(qlock);
#endif
    linked[i] = 1;
    unlock(qlock);

    /* weft__park_wait: publish the park, then look at the flag (a seq_cst Dekker pair with
     * the canceller's store of the flag and load of current) */
#ifdef MUTANT_CANCEL_BEFORE_PUBLISH
    if
    :: cflag[i] -> claim(i, CANCELED, ok, nw)
    :: else
    fi;
    current[i] = 1;
#else
    current[i] = 1;
    if
    :: cflag[i] -> claim(i, CANCELED, ok, nw)
    :: else
    fi;
#endif
    /* spin, then sleep_until_claimed */
    do
    :: FINAL(ps[i]) -> break
    :: ps[i] == WAITING ->
#ifdef MUTANT_SLEEP_WITHOUT_MARK
        atomic { if :: ps[i] == WAITING -> asleep[i] = 1 :: else fi };  /* futex_wait(WAITING) */
end_sleep0:
        asleep[i] == 0
#else
        atomic { if :: ps[i] == WAITING -> ps[i] = SLEEPING :: else fi }
#endif
    :: ps[i] == HELD ->
        atomic { if :: ps[i] == HELD -> ps[i] = HELD_SLEEPING :: else fi }
    :: ps[i] == SLEEPING || ps[i] == HELD_SLEEPING ->
        atomic {   /* futex_wait(state, the value just seen) */
            if
            :: ps[i] == SLEEPING || ps[i] == HELD_SLEEPING -> asleep[i] = 1
            :: else
            fi
        };
end_sleep:
        if
        :: asleep[i] == 0
#if defined(SPURIOUS) || defined(DEADLINE)
        :: asleep[i] = 0   /* a spurious return, or the futex wait's own deadline */
#endif
        fi;
#ifdef MUTANT_IF_NOT_WHILE
        break   /* a futex return taken for a claim */
#else
        skip
#endif
#ifdef DEADLINE
    :: claim(i, TIMEDOUT, ok, nw)   /* the deadline may pass at any time (not once held) */
#endif
    od;
    s = ps[i];

    /* publish(NULL): a canceller that saw the park may still be claiming it under the lock */
    current[i] = 0;
#ifndef MUTANT_WITHDRAW_NO_LOCK
    if
    :: cflag[i] -> lock(klock[i]); unlock(klock[i])
    :: else
    fi;
#endif
    if
    :: s == WOKEN -> assert(rec[i] == 1); rec[i] = 0; got[i]++; back[i] = 1   /* P3 */
    :: else ->
#ifdef MUTANT_UNLINK_UNLOCKED
        linked[i] = 0;
#else
        lock(qlock); linked[i] = 0; unlock(qlock);
#endif
        if
        :: s == TIMEDOUT ->
#ifndef DEADLINE
            assert(false)   /* P3: no deadline, no TIMEDOUT */
#else
            skip
#endif
        :: else -> assert(cflag[i])   /* P3: reported CANCELED, so it was cancelled */
        fi
    fi;
out:
    assert(got[i] <= 1);
    alive[i] = 0
}

proctype waker()
{
    bit ok;
    byte j, n, served;
    do
    :: n < nput ->
        lock(qlock);
        ok = 0;
        served = NW;
        do  /* weft__queue_try_put: serve parked waiters in turn until a claim wins */
        :: linked[0] || linked[1] ->
            if
            :: linked[0] -> j = 0
            :: linked[1] -> j = 1
            fi;
            linked[j] = 0;
            assert(alive[j]);   /* P4 */
            rec[j] = 1;
            claim_hold(j, WOKEN, ok);
#ifdef MUTANT_IGNORE_CLAIM
            ok = 1;
#endif
            if
            :: ok -> served = j; break
            :: else -> rec[j] = 0   /* the wait ended otherwise: the item is still ours */
#ifdef MUTANT_KEEP_NOT_SERVE
                ; break
#endif
            fi
        :: else -> break
        od;
        if
        :: !ok -> items++
        :: else
        fi;
        produced++;
#ifdef MUTANT_RELEASE_UNDER_LOCK
        if
        :: served < NW -> release(served)
        :: else
        fi;
        touch_q(served);   /* P5 */
        unlock(qlock);
#else
        touch_q(served);   /* P5 */
        unlock(qlock);
        if   /* the wakelist, flushed after the lock is dropped */
        :: served < NW && ps[served] == HELD || served < NW && ps[served] == HELD_SLEEPING ->
            release(served)
        :: else
        fi;
#endif
        n++
    :: else -> break
    od
}

proctype canceller()
{
    bit ok;
    byte i;
    do
    :: i < NW ->
        if
        :: target[i] ->
            cflag[i] = 1;
            lock(klock[i]);
            ok = 0;
            if
            :: current[i] -> claim_hold(i, CANCELED, ok)
            :: else
            fi;
            unlock(klock[i]);
            if
            :: ok -> release(i)
            :: else
            fi
        :: else
        fi;
        i++
    :: else -> break
    od
}

init {
    atomic {
        if
        :: nput = 0
        :: nput = 1
        :: nput = 2
        fi;
        if
        :: skip
        :: target[0] = 1
        :: target[1] = 1
        :: target[0] = 1; target[1] = 1
        fi;
        alive[0] = 1;
        alive[1] = 1;
        run waiter(0);
        run waiter(1);
        run waker();
        run canceller()
    }
    timeout;   /* quiescent: every process finished or is blocked for good */
    byte i;
    for (i : 0 .. NW - 1) {
        if
        :: alive[i] ->   /* P1: a waiter still parked must have nothing to wake it for */
            assert(ps[i] <= SLEEPING);   /* no claimed or held park left asleep */
            assert(cflag[i] == 0);       /* no cancelled waiter left asleep */
            assert(items == 0)           /* no waiter asleep beside an available item */
        :: else
        fi
    }
    assert(got[0] + got[1] + items == produced)   /* P2 */
}
