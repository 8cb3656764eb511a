/* models/ipcq_event.pml - the ipcq eventcount (src/ipcq/ipcq.c sleep_on, src/ipcq/segment.c
 * weft__ipcq_signal): no lost wake-up.
 *
 * A putter publishes NW messages one at a time (tail++), then signals: if sleepers > 0 and
 * seq is odd, CAS seq to seq + 1 and wake every sleeper; an even seq is left alone. Waiter i
 * waits for tail > i: sleepers++; loop { s = seq; if s is even, CAS it to s | 1 (a failed
 * CAS starts over); re-check tail; futex_wait(seq, s | 1); check tail once more (a woken
 * waiter leaves without marking again) }; sleepers--. seq may start odd
 * and sleepers at 1: a waiter that died asleep left its mark and its count.
 *
 * Every step is one atomic action in SPIN's interleaving: the seq_cst accesses of the C code.
 * futex_wait compares and sleeps atomically (asleep[i] = 1) and returns when a wake clears
 * asleep[i]; no spurious wake-ups and no slices, which would hide a lost wake-up. A waiter
 * left asleep with its message published is an invalid end state.
 *
 * Mutant (-DMUTANT_MARK_AFTER_CHECK: must be caught): the waiter marks seq after its re-check
 * (the order of the waker that bumped an even seq by 2).
 *
 * -DDEATH: the putter dies after its first message, and the liveness watcher (src/ipcq/
 * watch.c) counts the death (deaths++) and signals as a putter does; a waiter's re-check is
 * "tail > i, or deaths moved" (weft__ipcq_peers_dead), and it then returns WEFT_EDIED. No
 * slices: waiter 1 must be woken by the watcher. Mutant -DMUTANT_DEATH_UNCHECKED (must be
 * caught): the re-check ignores deaths.
 */
#define NW 2

byte seq;
byte sleepers;
byte tail;
bit deaths;
bit asleep[NW];

/* weft__ipcq_signal: if sleepers > 0 and seq is odd, CAS it to even and wake all. */
inline signal(v, ok)
{
    if
    :: sleepers == 0 -> skip
    :: else ->
        v = seq;
        ok = 0;
        do
        :: (v & 1) == 0 -> break
        :: else ->
            atomic {
                if
                :: seq == v -> seq = v + 1; ok = 1
                :: else -> v = seq
                fi
            }
            if
            :: ok -> atomic { asleep[0] = 0; asleep[1] = 0 }; break
            :: else -> skip
            fi
        od
    fi
}

proctype putter()
{
    byte v;
    bit ok;
    do
#ifdef DEATH
    :: tail < 1 ->
#else
    :: tail < NW ->
#endif
        tail++;
        signal(v, ok)
    :: else -> break
    od
}

#ifdef DEATH
proctype watcher()
{
    byte v;
    bit ok;
    tail >= 1; /* the putter died after its message (its pidfd became readable) */
    deaths = 1;
    signal(v, ok)
}
#endif

proctype waiter(byte i)
{
    byte s;
    bit ok;
    sleepers++;
    do
    :: s = seq;
#ifndef MUTANT_MARK_AFTER_CHECK
        if
        :: (s & 1) == 0 ->
            atomic {
                if
                :: seq == s -> seq = s | 1; ok = 1
                :: else -> ok = 0
                fi
            }
        :: else -> ok = 1
        fi;
        if
        :: !ok -> goto next
        :: else -> skip
        fi;
        s = s | 1;
#endif
        if
        :: tail > i -> break
#if defined(DEATH) && !defined(MUTANT_DEATH_UNCHECKED)
        :: deaths -> break /* WEFT_EDIED */
#endif
        :: else -> skip
        fi;
#ifdef MUTANT_MARK_AFTER_CHECK
        if
        :: (s & 1) == 0 ->
            atomic {
                if
                :: seq == s -> seq = s | 1; ok = 1
                :: else -> ok = 0
                fi
            }
        :: else -> ok = 1
        fi;
        if
        :: !ok -> goto next
        :: else -> skip
        fi;
        s = s | 1;
#endif
        atomic {
            if
            :: seq == s -> asleep[i] = 1
            :: else -> skip
            fi
        }
        (asleep[i] == 0);
        if
        :: tail > i -> break /* woken: a plain re-check, no mark */
        :: else -> skip
        fi;
next:   skip
    od;
    sleepers--
}

init {
    atomic {
        if
        :: seq = 0
        :: seq = 1
        fi;
        if
        :: sleepers = 0
        :: sleepers = 1
        fi;
        run waiter(0);
        run waiter(1);
#ifdef DEATH
        run watcher();
#endif
        run putter()
    }
}
