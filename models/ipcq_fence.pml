/* models/ipcq_fence.pml - the ipcq fence modes on x86-TSO (src/ipcq/ipcq_internal.h: the
 * comment above IPCQ_FENCE_ASYM, weft__ipcq_light_fence; src/ipcq/segment.c:
 * weft__ipcq_heavy_fence, weft__ipcq_signal; src/ipcq/ipcq.c: wake, sleep_on):
 * no lost wake-up, whatever the mode does meanwhile.
 *
 * ipcq_event.pml checks the eventcount with every access sequentially consistent. Here the
 * putter's (the hot side's) accesses follow x86-TSO, the one reordering the fence modes are
 * about: a store waits in the putter's store buffer while its later loads read memory.
 *
 * - The putter publishes NM messages. Per message: store tail (into its buffer); the light
 *   fence: load the mode; ASYM: nothing (a compiler barrier); SYNCING: a full fence; SYM: a
 *   full fence, then it may move SYM -> ASYM by a CAS (its quiet count reached
 *   IPCQ_SYM_LEAVE: a free choice here, and it stands for any hot side of the segment, whose
 *   light fences all count); then weft__ipcq_signal: load sleepers, if 0 stop; load seq;
 *   while odd, CAS it up by one and wake everyone.
 * - Its store buffer holds its tail stores: memory has mem_tail, the putter's last store is
 *   buf_tail, and the stores mem_tail+1 .. buf_tail wait, in order. The putter's own loads of
 *   tail would read buf_tail (it does not load it here). The drainer process moves the oldest
 *   store to memory at any moment; a full fence waits until the buffer is empty, and a locked
 *   RMW (a CAS) drains it first. The ONE_PRODUCER busy flag and the lock's owner word are
 *   further stores in the same buffer that no sleeper reads; they are left out (their Dekker
 *   pairs, with finish_close and a lock waiter, are the same shape as this one).
 * - membarrier (MEMBARRIER_CMD_GLOBAL_EXPEDITED) interrupts every other CPU running a
 *   registered process, which runs a full barrier there: its store buffer drains at that
 *   moment, between two of its instructions. That is one atomic step of the caller here,
 *   "mem_tail = buf_tail", which SPIN may take between any two steps of the putter: exactly
 *   the points the kernel may interrupt it at.
 * - Sleeper i waits for tail > tgt[i] (the first or the second message, chosen at the start)
 *   as sleep_on does: sleepers++; often is chosen once (to_sym: a getter that takes turns);
 *   loop { mark seq odd as in ipcq_event.pml; the heavy fence: load the mode; SYM: done (a
 *   full fence); ASYM and often: CAS ASYM -> SYNCING (failed: take the mode seen); then
 *   membarrier; then, if the mode taken was SYNCING, CAS SYNCING -> SYM; re-check tail;
 *   futex_wait(seq, the marked value); a woken sleeper re-checks tail once, without the
 *   mark }; sleepers--. A sleeper's own accesses are SC: each is a locked RMW (sleepers, seq,
 *   the mode's CASes) or comes after the full fence that heads the heavy fence (the loads of
 *   the mode and of tail), so nothing of its own is pending in a buffer when it loads.
 * - Another process, the segment's other hot sides (getters, whose light fences move the same
 *   mode), may move SYM -> ASYM at any moment.
 * - The mode starts in any of the three (SYNCING: its sleeper died before its membarrier),
 *   seq even or odd; the futex is modelled as in ipcq_event.pml, without spurious wake-ups
 *   or slices (they would rescue a lost wake-up).
 *
 * Property: no lost wake-up. A sleeper left asleep when nothing else can move (every message
 * published, the buffer drained) is an invalid end state.
 *
 * The generation (IPCQ_FENCE_GEN) is there because without it the protocol fails, by an
 * ABA on SYNCING (MUTANT_NO_GEN, the protocol as first written): a sleeper
 * that took SYNCING and returned from its membarrier may CAS SYNCING -> SYM much later, in a
 * later SYNCING period, whose hot sides its membarrier never covered. SPIN's trail (both
 * sleepers wait for the second message, A moves the mode (to_sym), B not; start ASYM, seq
 * even):
 *   putter   store tail = 1 (buffered)
 *   B        sleepers++, seq 0 -> 1
 *   A        sleepers++, seq odd; load ASYM; CAS ASYM -> SYNCING
 *   B        load SYNCING; membarrier (tail = 1) ... (preempted before its CAS)
 *   A        membarrier; CAS SYNCING -> SYM
 *   putter   load SYM, full fence, CAS SYM -> ASYM (its quiet count is full); sleepers 2,
 *            seq 1 -> 2, wake all; store tail = 2 (buffered); load ASYM: no fence;
 *            sleepers 2, seq 2 even: no wake; done
 *   A        re-check: tail 1; futex_wait(seq, 1) returns (seq 2); loop: seq 2 -> 3;
 *            load ASYM; CAS ASYM -> SYNCING ... (preempted before its membarrier)
 *   B        CAS SYNCING -> SYM (stale: its membarrier came before the store of 2);
 *            re-check: tail 1; futex_wait(seq, 1) returns; loop: seq odd; load SYM: a full
 *            fence only; re-check: tail 1 (2 is still in the putter's buffer);
 *            futex_wait(seq, 3): asleep
 *   A        membarrier (tail = 2); re-check: ready, leaves. B sleeps with message 2
 *            published and nobody left to wake it.
 * With the generation in the mode word, bumped by every ASYM -> SYNCING and compared by
 * SYNCING -> SYM, that stale CAS fails. (Letting only the sleeper whose own CAS made SYNCING
 * make SYM also holds here, but a sleeper that dies in between leaves the mode SYNCING for
 * good.)
 *
 * Mutants (each must be caught):
 *   MUTANT_NO_GEN              no generation: the ABA above;
 *   MUTANT_NO_SYNCING          the sleeper moves ASYM straight to SYM, then calls membarrier:
 *                              a sleeper that loads SYM meanwhile fences alone, against a
 *                              putter that loaded ASYM and whose store still waits;
 *   MUTANT_EARLY_SYM           the sleeper moves SYNCING -> SYM before its membarrier;
 *   MUTANT_ASYM_NO_BARRIER     in ASYM a sleeper that does not move the mode skips
 *                              membarrier;
 *   MUTANT_MODE_BEFORE_STORE   the putter loads the mode before its store of tail, so a
 *                              membarrier that comes between them does not cover the store;
 *   MUTANT_SYM_SKIPS_FENCE     in SYNCING or SYM the putter makes no fence (its CAS
 *                              SYM -> ASYM, when it makes one, still drains: a locked RMW).
 */
#define NW 2 /* sleepers */
#define NM 2 /* messages */

#define ASYM    0
#define SYNCING 1
#define SYM     2

byte mode;
byte mem_tail; /* tail in memory */
byte buf_tail; /* the putter's last store of tail; mem_tail < buf_tail: stores in its buffer */
byte gen; /* bumped by every ASYM -> SYNCING (MUTANT_NO_GEN: always 0) */
byte seq;
byte sleepers;
byte tgt[NW];
bit asleep[NW];

#ifndef MUTANT_NO_GEN
#define GEN_BUMP gen++
#else
#define GEN_BUMP skip
#endif

/* A full fence of the putter: wait until its store buffer is empty. */
#define full_fence() (mem_tail == buf_tail)

/* The putter's store buffer drains, one store at a time, whenever the hardware likes. */
proctype drainer()
{
end:
    do
    :: atomic { mem_tail < buf_tail -> mem_tail++ }
    od
}

/* weft__ipcq_light_fence with the mode m the putter loaded. */
inline light_fence(m)
{
    if
    :: m == ASYM -> skip /* a compiler barrier */
    :: m == SYNCING ->
#ifndef MUTANT_SYM_SKIPS_FENCE
        full_fence()
#else
        skip
#endif
    :: m == SYM -> /* a full fence; any hot side may then leave SYM (wake in ipcq.c) */
#ifndef MUTANT_SYM_SKIPS_FENCE
        full_fence();
#endif
        if
        :: skip
        :: atomic { full_fence() -> if :: mode == SYM -> mode = ASYM :: else -> skip fi }
        fi
    fi
}

/* weft__ipcq_signal: if sleepers > 0 and seq is odd, CAS it up by one (a locked RMW: the
 * buffer drains first) and wake everyone. */
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
                full_fence() ->
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

/* The segment's other hot sides (the getters, whose light fences move the same mode): any
 * of them may find its quiet count at IPCQ_SYM_LEAVE and move SYM -> ASYM at any moment. */
proctype others()
{
end:
    do
    :: atomic { mode == SYM -> mode = ASYM }
    od
}

proctype putter()
{
    byte m, v;
    bit ok;
    do
    :: buf_tail < NM ->
#ifdef MUTANT_MODE_BEFORE_STORE
        m = mode;
        buf_tail++;
#else
        buf_tail++; /* the store of tail, into the buffer */
        m = mode;   /* from memory: a load may pass the buffered store */
#endif
        light_fence(m);
        signal(v, ok)
    :: else -> break
    od
}

/* The sleeper's CAS SYNCING -> SYM, going by the mode m (and generation g) it took. */
inline to_sym(m, g)
{
    if
    :: m == SYNCING ->
        atomic { if :: mode == SYNCING && gen == g -> mode = SYM :: else -> skip fi }
    :: else -> skip
    fi
}

/* weft__ipcq_heavy_fence(s, often), after the full fence that heads it. m and g: the mode
 * (and its generation) the sleeper goes by. */
inline heavy_fence(m, g, often)
{
    atomic { m = mode; g = gen }
    if
    :: m == SYM -> skip /* the full fence was all */
    :: else ->
        if
        :: m == ASYM && often ->
            atomic {
                if
#ifndef MUTANT_NO_SYNCING
                :: mode == ASYM -> mode = SYNCING; GEN_BUMP; m = SYNCING; g = gen
#else
                :: mode == ASYM -> mode = SYM; m = SYM
#endif
                :: else -> m = mode; g = gen
                fi
            }
        :: else -> skip
        fi;
#ifdef MUTANT_EARLY_SYM
        to_sym(m, g);
#endif
#ifdef MUTANT_ASYM_NO_BARRIER
        if
        :: m == ASYM -> skip
        :: else -> mem_tail = buf_tail /* membarrier */
        fi;
#else
        mem_tail = buf_tail; /* membarrier: the putter's buffer drains, between two of its steps */
#endif
#ifndef MUTANT_EARLY_SYM
        to_sym(m, g)
#else
        skip
#endif
    fi
}

proctype sleeper(byte i)
{
    byte s, m, g;
    bit ok, often;
    sleepers++;
    if
    :: often = 0
    :: often = 1
    fi;
    do
    :: s = seq;
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
        heavy_fence(m, g, often);
        if
        :: mem_tail > tgt[i] -> break
        :: else -> skip
        fi;
        atomic {
            if
            :: seq == s -> asleep[i] = 1
            :: else -> skip
            fi
        }
        (asleep[i] == 0);
        if
        :: mem_tail > tgt[i] -> break /* woken: a plain re-check, no mark */
        :: else -> skip
        fi;
next:   skip
    od;
    sleepers--
}

init {
    atomic {
        if
        :: mode = ASYM
        :: mode = SYNCING
        :: mode = SYM
        fi;
        if
        :: seq = 0
        :: seq = 1
        fi;
        if
        :: tgt[0] = 0
        :: tgt[0] = 1
        fi;
        tgt[1] = 1;
        run drainer();
        run sleeper(0);
        run sleeper(1);
        run others();
        run putter()
    }
}
