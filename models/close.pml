/* models/close.pml - a queue's close and shutdown protocol (src/queue/), two consumers.
 *
 * Two consumers get until the queue says CLOSED; a producer puts up to two items, then closes
 * or shuts the queue down, then may try one more put, which must fail (the producer keeps the
 * item). Checked: every consumer ends (no waiter left blocked after close: "invalid end
 * state"), close drains (no item left behind by a closed queue), shutdown hands every item
 * still inside back, and no item is lost or received twice (assertions at the end).
 * Each MUTANT_* plants one bug the check must catch (scripts/check-models). */

bit qlock;
byte items;          /* in the queue */
byte got;            /* received by consumers */
byte handed_back;    /* returned by shutdown */
byte put_ok;         /* puts that returned 0 */
byte kept;           /* puts that failed: the producer still owns the item */
bit closed, shut;
bit linked[2], woken[2], handed[2];
byte finished;

inline lock(l)   { atomic { l == 0 -> l = 1 } }
inline unlock(l) { l = 0 }

proctype consumer(byte i)
{
    bit c;
    do
    ::
#ifdef MUTANT_FLAG_OUTSIDE_LOCK
        c = closed;   /* looked at without the lock, not re-checked under it */
#endif
        lock(qlock);
#ifndef MUTANT_FLAG_OUTSIDE_LOCK
        c = closed;
#endif
        if
        :: shut -> unlock(qlock); break
#ifdef MUTANT_NO_DRAIN
        :: c -> unlock(qlock); break   /* CLOSED before the queue is empty */
#endif
        :: items > 0 -> items--; got++; unlock(qlock)
        :: items == 0 && c -> unlock(qlock); break
        :: items == 0 && !c ->
            linked[i] = 1;
            unlock(qlock);
            woken[i] == 1;       /* park until claimed (timeouts and cancel: park.pml) */
            woken[i] = 0;
            if
            :: handed[i] -> handed[i] = 0; got++
            :: else
            fi
        fi
    od;
    finished++
}

/* Hand an item to a parked consumer, or queue it. Called with the lock held. */
inline give() {
    if
    :: linked[0] -> linked[0] = 0; handed[0] = 1; woken[0] = 1
    :: !linked[0] && linked[1] -> linked[1] = 0; handed[1] = 1; woken[1] = 1
    :: !linked[0] && !linked[1] -> items++
    fi
}

inline put() {
    lock(qlock);
    if
    :: closed -> kept++
    :: else -> give(); put_ok++
    fi;
    unlock(qlock)
}

/* Wake every parked consumer (no item). Called with the lock held. */
inline wake_all() {
#ifdef MUTANT_WAKE_ONE
    if
    :: linked[0] -> linked[0] = 0; woken[0] = 1
    :: !linked[0] && linked[1] -> linked[1] = 0; woken[1] = 1
    :: else
    fi
#else
    if :: linked[0] -> linked[0] = 0; woken[0] = 1 :: else fi;
    if :: linked[1] -> linked[1] = 0; woken[1] = 1 :: else fi
#endif
}

proctype producer()
{
    byte n;
    if :: n = 0 :: n = 1 :: n = 2 fi;
    do
    :: n > 0 -> put(); n--
    :: n == 0 -> break
    od;
    lock(qlock);
    closed = 1;
    if
    :: true                                            /* close: the rest drains */
    :: shut = 1; handed_back = items; items = 0        /* shutdown: hand the rest back */
    fi;
    wake_all();
    unlock(qlock);
    if
    :: put()   /* a put after close must fail and leave the item with the producer */
    :: true
    fi;
    finished++
}

init {
    atomic { run consumer(0); run consumer(1); run producer() }
    finished == 3;
    assert(items == 0);                        /* close drained, shutdown handed back */
    assert(got + handed_back == put_ok);       /* nothing lost, nothing twice */
    assert(kept <= 1)
}
