/* models/park.pml - the parking lot's claim protocol (src/park.c), one item, one waiter.
 *
 * A waiter wants one item from a queue. A waker may put one item; a canceller may cancel the
 * waiter's scope; the waiter's own deadline may pass. Whatever happens, the waiter must end
 * (no lost wake-up: checked as "invalid end state" - run without SPURIOUS) and the item, if
 * put, is received exactly once or still in the queue (an assertion at the end).
 *
 * Build switches: DEADLINE gives the waiter a deadline (its own TIMEDOUT claim, and futex
 * waits that time out); SPURIOUS lets futex waits return without a wake-up. Both hide lost
 * wake-ups, so the deadlock check runs without them, and the safety checks with them. Each
 * MUTANT_* plants one bug that the check must catch; scripts/check-models runs them all. */

#define WAITING  0
#define SLEEPING 1
#define TIMEDOUT 2
#define CANCELED 3
#define WOKEN    4

byte ps = WAITING;   /* the park's state word */
bit asleep;          /* the waiter sleeps in futex_wait */
bit qlock;           /* the wait queue's lock */
bit klock;           /* the parker's lock (canceller vs withdraw) */
bit linked;          /* the waiter's record is on the queue */
bit current;         /* the park is published to cancellers */
bit cflag;           /* the cancellation request */
bit rec_item;        /* the item handed through the record */
byte items;          /* items in the queue */
byte got;            /* items the waiter received */
bit put_done;        /* the waker put its item */
bit waiter_done, waker_done, canceller_done;

inline lock(l)   { atomic { l == 0 -> l = 1 } }
inline unlock(l) { l = 0 }

/* claim: WAITING/SLEEPING -> final; old tells whether the owner sleeps. */
inline claim(final, ok, needwake) {
    atomic {
        if
        :: ps == WAITING  -> ps = final; ok = 1; needwake = 0
        :: ps == SLEEPING -> ps = final; ok = 1; needwake = 1
        :: else -> ok = 0; needwake = 0
        fi
    }
}

inline futex_wake() { asleep = 0 }

proctype waiter()
{
    bit ok, nw;
    lock(qlock);
    if
    :: items > 0 -> items--; got++; unlock(qlock); goto done
    :: else
    fi;
#ifdef MUTANT_NO_RECHECK
    unlock(qlock);   /* the condition was checked, then the lock dropped before linking */
    lock(qlock);
#endif
    linked = 1;
    unlock(qlock);

    /* park_wait: publish, then look at the cancel flag (seq_cst pair with the canceller) */
#ifdef MUTANT_CANCEL_BEFORE_PUBLISH
    if
    :: cflag -> claim(CANCELED, ok, nw)
    :: else
    fi;
    current = 1;
#else
    current = 1;
    if
    :: cflag -> claim(CANCELED, ok, nw)
    :: else
    fi;
#endif
    do
    :: ps >= TIMEDOUT -> break
    :: ps == WAITING ->
#ifdef MUTANT_SLEEP_WITHOUT_MARK
        atomic { ps == WAITING -> asleep = 1 };   /* sleeps without telling wakers */
        asleep == 0
#else
        atomic { if :: ps == WAITING -> ps = SLEEPING :: else fi }
#endif
    :: ps == SLEEPING ->
        atomic { if :: ps == SLEEPING -> asleep = 1 :: else fi };  /* futex_wait(ps, SLEEPING) */
        if
        :: asleep == 0
#if defined(SPURIOUS) || defined(DEADLINE)
        :: asleep = 0   /* a spurious wake-up, or the futex wait's deadline */
#endif
        fi;
#ifdef MUTANT_IF_NOT_WHILE
        break   /* assumes the wake-up means it was claimed */
#endif
#ifdef DEADLINE
    :: ps <= SLEEPING -> claim(TIMEDOUT, ok, nw)   /* the deadline may pass at any time */
#endif
    od;
    /* withdraw: a canceller still claiming waits on the parker lock */
    current = 0;
    if
    :: cflag -> lock(klock); unlock(klock)
    :: else
    fi;
    if
    :: ps >= WOKEN -> assert(rec_item == 1); got++; rec_item = 0
    :: else -> lock(qlock); linked = 0; unlock(qlock)
    fi;
done:
    waiter_done = 1
}

proctype waker(bit puts)
{
    bit ok, nw;
    if
    :: puts ->
        lock(qlock);
        if
        :: linked ->
            linked = 0;
            rec_item = 1;
            claim(WOKEN, ok, nw);
#ifdef MUTANT_IGNORE_CLAIM
            ok = 1;
#endif
            if
            :: !ok -> rec_item = 0; items++   /* the wait ended otherwise: keep the item */
            :: else
            fi
        :: else -> items++
        fi;
        put_done = 1;
        unlock(qlock);
        if
        :: nw -> futex_wake()
        :: else
        fi
    :: else   /* puts nothing */
    fi;
    waker_done = 1
}

proctype canceller(bit cancels)
{
    bit ok, nw;
    if
    :: cancels ->
        cflag = 1;
        lock(klock);
        if
        :: current -> claim(CANCELED, ok, nw);
            if
            :: nw -> futex_wake()
            :: else
            fi
        :: else
        fi;
        unlock(klock)
    :: else
    fi;
    canceller_done = 1
}

init {
    /* Something always ends the wait: an item, a cancellation, or both (and with DEADLINE,
     * the waiter's own timeout as well). */
    atomic {
        run waiter();
        if
        :: run waker(1); run canceller(0)
        :: run waker(0); run canceller(1)
        :: run waker(1); run canceller(1)
        fi
    }
    (waiter_done && waker_done && canceller_done);
    /* conservation: the item, if put, was received once or is still queued */
    assert(got + items == put_done);
    assert(got <= 1)
}
