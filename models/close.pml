/* models/close.pml - a queue's close and shutdown protocol (src/queue/queue.c, ring.c).
 *
 * A queue of capacity CAP = 1, two consumers that get until the queue says CLOSED, two
 * producers that put one item each (a put may block while the queue is full), and a closer
 * that closes or shuts the queue down at any moment, racing everything. Timeouts and
 * cancellation are left to park.pml; here every claim succeeds, so a wake-up is "set the
 * waiter's woken flag", and a parked waiter waits for that flag.
 *
 * Two implementations of the same protocol, as in weft:
 *   default (locked queues: LIFO, priority)  one lock guards the store, the waiter lists and
 *     the writes of the flags. put: closed -> fail; a parked getter -> hand the item over in
 *     its record; room -> store it; else park on putters. get: shut -> CLOSED; an item ->
 *     take it and move the first parked putter's item into the freed slot; empty and closed
 *     -> CLOSED; else park on getters. A woken waiter takes its result (item, done, CLOSED).
 *   -DFAST (FIFO queues) the items live in a lock-free ring whose close mark makes every
 *     later put fail. A put (get) claims its cell (inflight / outflight), then, if the other
 *     side's counter is not zero, wakes one waiter with RETRY under the lock (a seq_cst Dekker
 *     pair with the waiter's count), and only then publishes the cell; a thread that finds a
 *     claimed, unpublished cell waits for it (spins). A waiter links its record and bumps
 *     ngetters/nputters under the lock, then LOOKS (closed, an item or room, or a cell in
 *     flight: do not park, unlink and try the ring again without the lock), and only then
 *     parks; a woken waiter loops back to the ring.
 *   close (end_begin, end_finish): lock; ending = 1; closed = 1; [shut = 1]; wake every putter
 *     and getter (CLOSED, or RETRY for FIFO); unlock; [FIFO: mark the ring]; shutdown then
 *     takes the remaining items out one lock hold at a time and hands them back; lock;
 *     ending = 0; wake the enders; unlock - the closer's last access to the queue.
 *   A thread that has CLOSED to report first waits under the lock (as an "ender") while
 *     ending is set (weft__queue_closed_wait), so that it may free the queue at once.
 *
 * Properties:
 *   C1 after close no waiter stays blocked: every process ends (else invalid end state);
 *   C2 no lost wake-up before close either: when the system is quiescent (SPIN's timeout)
 *      before the close, no getter is parked beside an item and no putter beside free room;
 *   C3 every item whose put succeeded is got exactly once or handed back by shutdown, and a
 *      closed queue is left empty (close: the gets drained it; shutdown: handed back);
 *   C4 a put that starts after close returned fails, and the producer keeps its item; every
 *      put either succeeds or is kept;
 *   C5 a blocking get returns an item or CLOSED (never "empty": it has no deadline);
 *   C6 lifetime: a put or get reports CLOSED only after the closer's last access to the queue
 *      (the reporting thread may free the queue at once).
 *
 * Mutants (-DMUTANT_...; scripts/check-models requires each to be caught):
 *   WAKE_ONE            close wakes one parked getter where all must wake (C1)
 *   FLAG_OUTSIDE_LOCK   close wakes the waiters, then sets closed (and the ring's mark)
 *                       outside the lock (C1)
 *   CHECK_OUTSIDE_LOCK  a getter reads closed before taking the lock and does not re-check it (C1)
 *   NO_RECHECK          a getter links its record without re-checking under the lock
 *                       (locked: after dropping the lock; FIFO: no look after the link) (C2)
 *   NO_DRAIN            get reports CLOSED while items remain (C3)
 *   DRAIN_FIRST         shutdown hands the items back before closing (C3)
 *   PUT_IGNORES_CLOSE   a put does not check closed (C4; locked queues)
 *   IF_NOT_WHILE        with -DFAST: a getter woken with RETRY tries the ring once and
 *                       returns what it finds instead of looping (C5)
 *   NO_END_WAIT         CLOSED is reported without waiting for the close to end (C6)
 *   RECHECK_SPINS       with -DFAST: the re-check after the link waits for a cell in flight
 *                       while holding the lock the cell's owner needs to publish it (C1)
 */

#define NC  2   /* consumers */
#define NP  2   /* producers, one item each */
#define CAP 1

#define OK      0
#define CLOSED  1
#define AGAIN   2   /* empty / full */
#define RETRY   3

bit qlock;
byte count;          /* items in the store (locked) or the ring (FIFO) */
bit closed;          /* under qlock */
bit shut;            /* stored before the lock is taken, as in end() */
bit marked;          /* FIFO: the ring's close mark */
bit close_ret;       /* close (end()) has returned */
bit ending;          /* a close or shutdown runs (under qlock) */
bit closer_done;     /* the closer made its last access to the queue */
bit epark[NC + NP], ewoken[NC + NP]; /* enders: consumers 0 .. NC-1, producers NC .. */
byte inflight;       /* FIFO: cells claimed by puts, not yet published */
byte outflight;      /* FIFO: cells claimed by gets, not yet freed */
bit gpark[NC], ppark[NP];   /* record linked on getters / putters */
bit gwoken[NC], pwoken[NP]; /* claimed, not yet running */
byte gres[NC], pres[NP];    /* the waker's result */
bit gitem[NC];       /* locked: item handed over in a getter's record */
byte ngetters, nputters;    /* FIFO: records on the lists (changed under the lock) */
byte put_ok, kept, got, handed_back;
byte finished;

inline lock(l)   { atomic { l == 0 -> l = 1 } }
inline unlock(l) { l = 0 }

/* ---- wake-ups (qlock held) ---- */

inline wake_all(res) {
    byte k;
    for (k : 0 .. NP - 1) {
        if
        :: ppark[k] -> ppark[k] = 0; pres[k] = res; pwoken[k] = 1
        :: else
        fi
    }
    for (k : 0 .. NC - 1) {
        if
        :: gpark[k] ->
            gpark[k] = 0; gres[k] = res; gwoken[k] = 1
#ifdef MUTANT_WAKE_ONE
            ; break
#endif
        :: else
        fi
    }
#ifdef FAST
    ngetters = 0;
    nputters = 0
#endif
}

/* FIFO: wake one parked getter / putter with RETRY (weft__fast_notify) */
inline notify_getters() {
    if
    :: ngetters > 0 ->   /* the waker's side of the Dekker pair */
        lock(qlock);
        if
        :: gpark[0] -> gpark[0] = 0; ngetters--; gres[0] = RETRY; gwoken[0] = 1
        :: gpark[1] -> gpark[1] = 0; ngetters--; gres[1] = RETRY; gwoken[1] = 1
        :: else
        fi;
        unlock(qlock)
    :: else
    fi
}
inline notify_putters() {
    if
    :: nputters > 0 ->
        lock(qlock);
        if
        :: ppark[0] -> ppark[0] = 0; nputters--; pres[0] = RETRY; pwoken[0] = 1
        :: ppark[1] -> ppark[1] = 0; nputters--; pres[1] = RETRY; pwoken[1] = 1
        :: else
        fi;
        unlock(qlock)
    :: else
    fi
}

/* FIFO: one lock-free attempt on the ring (ring_op), up to the claim of a cell; a cell in
 * flight on the other side blocks it (the spin on an unpublished stamp). */
inline ring_send(rc) {
    atomic {
        if
        :: marked -> rc = CLOSED
        :: !marked && count + inflight + outflight < CAP -> inflight++; rc = OK
        :: !marked && count + inflight + outflight == CAP && outflight == 0 -> rc = AGAIN
        fi
    }
}
inline ring_recv(rc) {
    if
    :: shut -> rc = CLOSED
    :: else ->
        atomic {
            if
            :: count > 0 -> count--; outflight++; rc = OK
#ifdef MUTANT_NO_DRAIN
            :: count > 0 && marked -> rc = CLOSED
#endif
            :: count == 0 && inflight == 0 && marked -> rc = CLOSED
            :: count == 0 && inflight == 0 && !marked -> rc = AGAIN
            fi
        }
    fi
}

/* Report CLOSED: wait under the lock while a close runs (weft__queue_closed_wait). */
inline closed_wait(id) {
#ifndef MUTANT_NO_END_WAIT
    lock(qlock);
    do
    :: ending -> epark[id] = 1; unlock(qlock); ewoken[id] == 1; ewoken[id] = 0; lock(qlock)
    :: else -> break
    od;
    unlock(qlock);
#endif
    assert(closer_done)   /* C6 */
}

/* ---- get ---- */

#ifndef FAST
/* locked_until(GET) */
inline get(i, rc) {
    bit c;
#ifdef MUTANT_CHECK_OUTSIDE_LOCK
    c = closed;   /* read without the lock, and not read again under it */
#endif
    lock(qlock);
#ifndef MUTANT_CHECK_OUTSIDE_LOCK
    c = closed;
#endif
    if
    :: shut -> rc = CLOSED; unlock(qlock)
    :: else ->
        if
        :: count > 0 ->
            count--; rc = OK;
            /* refill: a slot was freed, move the first parked putter's item in */
            if
            :: ppark[0] -> ppark[0] = 0; count++; put_ok++; pres[0] = OK; pwoken[0] = 1
            :: ppark[1] -> ppark[1] = 0; count++; put_ok++; pres[1] = OK; pwoken[1] = 1
            :: else
            fi;
            unlock(qlock)
#ifdef MUTANT_NO_DRAIN
        :: count > 0 && c -> rc = CLOSED; unlock(qlock)
#endif
        :: count == 0 && c -> rc = CLOSED; unlock(qlock)
        :: count == 0 && !c ->
#ifdef MUTANT_NO_RECHECK
            unlock(qlock);   /* checked, then dropped the lock before linking */
            lock(qlock);
#endif
            gpark[i] = 1;
            unlock(qlock);
            gwoken[i] == 1;   /* parked until claimed */
            gwoken[i] = 0;
            rc = gres[i];
            if
            :: rc == OK -> assert(gitem[i]); gitem[i] = 0
            :: else
            fi
        fi
    fi
}
#else
/* wait_op(GET) */
inline get(i, rc) {
    bit ready;
    ring_recv(rc);
    do
    :: rc != AGAIN -> break
    :: else ->
        lock(qlock);
        gpark[i] = 1;
        ngetters++;
#ifdef MUTANT_RECHECK_SPINS
        atomic { count > 0 || inflight == 0 };   /* waits for a cell in flight, lock held */
#endif
        ready = closed || count > 0 || inflight > 0;   /* weft__fast_ready: look only */
#ifdef MUTANT_NO_RECHECK
        ready = 0;
#endif
        if
        :: ready -> gpark[i] = 0; ngetters--
        :: else
        fi;
        unlock(qlock);
        if
        :: ready -> ring_recv(rc)
        :: else ->
            gwoken[i] == 1;   /* parked until claimed */
            gwoken[i] = 0;
            assert(gres[i] == RETRY);
            ring_recv(rc)
#ifdef MUTANT_IF_NOT_WHILE
            ; break
#endif
        fi
    od;
    if
    :: rc == OK -> notify_putters(); outflight--   /* hand-off, then free the cell */
    :: else
    fi
}
#endif

/* ---- put ---- */

#ifndef FAST
/* locked_until(PUT); the item is counted in put_ok when the queue takes it */
inline put(i, rc) {
    lock(qlock);
    if
#ifndef MUTANT_PUT_IGNORES_CLOSE
    :: closed -> rc = CLOSED; unlock(qlock)
    :: else ->
#else
    :: true ->
#endif
        if
        :: gpark[0] -> gpark[0] = 0; gitem[0] = 1; put_ok++; gres[0] = OK; gwoken[0] = 1;
            rc = OK; unlock(qlock)
        :: gpark[1] -> gpark[1] = 0; gitem[1] = 1; put_ok++; gres[1] = OK; gwoken[1] = 1;
            rc = OK; unlock(qlock)
        :: !gpark[0] && !gpark[1] && count < CAP -> count++; put_ok++; rc = OK; unlock(qlock)
        :: !gpark[0] && !gpark[1] && count == CAP ->
            ppark[i] = 1;
            unlock(qlock);
            pwoken[i] == 1;   /* parked until claimed */
            pwoken[i] = 0;
            rc = pres[i]
        fi
    fi
}
#else
/* weft__fast_put: wait_op(PUT), the hand-off before the publish */
inline put(i, rc) {
    bit ready;
    ring_send(rc);
    do
    :: rc != AGAIN -> break
    :: else ->
        lock(qlock);
        ppark[i] = 1;
        nputters++;
        ready = closed || count + inflight + outflight < CAP || outflight > 0;
        if
        :: ready -> ppark[i] = 0; nputters--
        :: else
        fi;
        unlock(qlock);
        if
        :: ready -> ring_send(rc)
        :: else ->
            pwoken[i] == 1;
            pwoken[i] = 0;
            ring_send(rc)
        fi
    od;
    if
    :: rc == OK -> notify_getters(); atomic { inflight--; count++; put_ok++ }
    :: else
    fi
}
#endif

proctype consumer(byte i)
{
    byte rc;
    do
    :: get(i, rc);
        if
        :: rc == OK -> got++
        :: rc == CLOSED -> closed_wait(i); break
        :: else -> assert(rc == OK || rc == CLOSED)   /* C5: a blocking get, no deadline */
        fi
    od;
    finished++
}

proctype producer(byte i)
{
    byte rc;
    bit late;
    late = close_ret;
    put(i, rc);
    if
    :: rc == OK -> assert(!late)   /* C4: a put after close must fail */
    :: rc == CLOSED -> closed_wait(NC + i); kept++   /* the producer still owns its item */
    :: else -> assert(rc == OK || rc == CLOSED)   /* a blocking put, no deadline */
    fi;
    finished++
}

/* end_begin(): the flags and the wake-ups under the lock, then the ring's mark */
inline end_begin(sd) {
#ifndef MUTANT_FLAG_OUTSIDE_LOCK
    lock(qlock);
    ending = 1;
    closed = 1;
    if
    :: sd -> shut = 1
    :: else
    fi;
#ifdef FAST
    wake_all(RETRY);
#else
    wake_all(CLOSED);
#endif
    unlock(qlock);
#ifdef FAST
    marked = 1
#endif
#else
    lock(qlock);   /* wakes first, raises the flags afterwards, outside the lock */
    ending = 1;
#ifdef FAST
    wake_all(RETRY);
#else
    wake_all(CLOSED);
#endif
    unlock(qlock);
    marked = 1;
    closed = 1;
    if
    :: sd -> shut = 1
    :: else
    fi
#endif
}

/* end_finish(): release the enders; the unlock is the closer's last access */
inline end_finish() {
    byte e;
    lock(qlock);
    ending = 0;
    for (e : 0 .. NC + NP - 1) {
        if
        :: epark[e] -> epark[e] = 0; ewoken[e] = 1
        :: else
        fi
    }
    atomic { unlock(qlock); closer_done = 1 };
    close_ret = 1
}

inline drain() {   /* drain_chunk, one item at a time */
    do
#ifndef FAST
    :: lock(qlock);   /* locked queues: from the store, under the lock */
        if
        :: count > 0 -> count--; handed_back++; unlock(qlock)
        :: else -> unlock(qlock); break
        fi
#else
    :: atomic {       /* FIFO: straight from the ring, no lock (waits for a cell in flight) */
        if
        :: count > 0 -> count--; handed_back++
        :: count == 0 && inflight == 0 -> break
        fi
       }
#endif
    od
}

proctype closer()
{
    bit sd, quiet;
    /* close at once, racing everything, or only once the system is quiescent (SPIN's
     * timeout: no other statement can run - so the choice is made first) */
    if
    :: quiet = 0
    :: quiet = 1
    fi;
    if
    :: quiet ->
        timeout;   /* C2: nobody parked beside what it waits for */
        assert(!((gpark[0] || gpark[1]) && count > 0));
        assert(!((ppark[0] || ppark[1]) && count < CAP))
    :: else
    fi;
    if
    :: sd = 0
    :: sd = 1
    fi;
#ifdef MUTANT_DRAIN_FIRST
    if
    :: sd -> drain()
    :: else
    fi;
#endif
    end_begin(sd);
#ifndef MUTANT_DRAIN_FIRST
    if
    :: sd -> drain()
    :: else
    fi;
#endif
    end_finish();
    finished++
}

init {
    atomic {
        run consumer(0);
        run consumer(1);
        run producer(0);
        run producer(1);
        run closer()
    }
    finished == NC + NP + 1;
    assert(count == 0);                      /* C3: a closed queue is left empty */
    assert(got + handed_back == put_ok);     /* C3: nothing lost, nothing twice */
    assert(put_ok + kept == NP);             /* C4: every item is accounted for */
    assert(shut || handed_back == 0)
}
