/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/debug.h - seeing inside a running program: which thread waits on what, since when, who
 * holds it, and the deadlocks among them.
 *
 * Every wait in weft goes through one parking lot, and a thread about to sleep there writes
 * what it waits on into a record of its own: the kind of wait (lock, condition, semaphore,
 * event, latch, once, barrier, queue get / put / join, select, future, join, sleep, process,
 * pool), the object's address, since when (monotonic), the deadline and, for a lock or a join,
 * the thread it waits for. weft_debug_dump() prints these records for every thread weft knows
 * (the threads it started and every thread that ever waited in weft), and spells out each
 * wait-for cycle it finds:
 *
 *     weft dump: pid 4711, 3 threads
 *     thread 2 'worker-1' tid 4713: blocked on lock 'cache' (0x55d0c0a0) for 2.310 s,
 *         no deadline, held by thread 3 'worker-2'
 *         holding: lock 'index' (0x55d0c0f0)
 *     ...
 *     deadlock: worker-1 -> lock 'cache' held by worker-2 -> lock 'index' held by worker-1
 *     end of weft dump
 *
 * (one line per thread; wrapped here). docs/guide/debugging-hangs.md shows how to read it.
 *
 * Cost: only a thread that goes to sleep writes its record (a dozen stores, no lock, no system
 * call); uncontended locks, and waits that end while the thread still spins, write nothing. A
 * weft_lock keeps its holder in its word, set by the same atomic operation that takes it.
 * What a thread holds is known for the locks that other threads wait on.
 *
 * Names: any object (a lock, a queue, an event, a pool...) may be given a name with
 * weft_debug_name; the dump shows it with the address. Threads show their weft names (the
 * main thread "main", other threads weft did not start "foreign").
 *
 * Stacks: with the environment variable WEFT_DEBUG_STACKS=1, each sleeping thread also
 * records the stack of its blocking call (backtrace(3), about a microsecond per sleep), and
 * the dump prints it under the thread.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include <weft/config.h>

WEFT_BEGIN_DECLS

/* The longest name weft_debug_name keeps, in bytes, without the terminating NUL. */
#define WEFT_DEBUG_NAME_MAX 31

/* weft_debug_dump - write what every thread weft knows is doing to fd, as text.
 * One line per thread: "thread ID 'NAME' tid TID: running", or "...: blocked on KIND [OBJECT]
 * for SECONDS s, DEADLINE[, held by thread ID 'NAME' | , waiting for thread ID 'NAME']",
 * followed by "    holding: KIND OBJECT" lines (locks other threads wait on) and, with
 * WEFT_DEBUG_STACKS=1, "    at ADDRESS SYMBOL" lines; then one line per live pool, "pool
 * 0xADDRESS 'NAME': workers N of MAX, busy B, queued Q (threads 'PREFIX')[, paused][, shut
 * down]" (NAME: its weft_debug_name, else PREFIX; at most 64 pools, then "pools: N more not
 * listed"), or "pools: not listed (the pool registry is busy)" if another thread was making,
 * freeing or forking pools at that instant; then one line per live queue, "queue 0xADDRESS
 * ['NAME']: items N of CAPACITY | items N (unbounded), getters G, putters P[, closed | , shut
 * down]" (G and P: threads parked in a get or put of it, select included; at most 256 queues,
 * then "queues: N more not listed"; "items unknown (its lock is busy)" for a LIFO or priority
 * queue whose own lock stayed busy while the dump tried it), or "queues: not listed (the
 * queue registry is busy)" if another thread was making or freeing a queue at that instant;
 * then one "deadlock: A -> KIND OBJECT held by B -> ... held by A" line per wait-for cycle
 * ("of B" instead of "held by B" where the wait is a join of thread B), and "end of weft
 * dump". An OBJECT is 'name' (0xADDRESS) when it was named, else 0xADDRESS.
 * The dump takes no lock that a waiting thread may hold, and never waits for a thread: it
 * reads each record without locking, and skips (saying so) one that keeps changing. A cycle
 * is reported only if its threads stayed blocked in the same waits while the dump looked; a
 * join that began before the joined thread first ran names no thread, and closes no cycle.
 * fd: borrowed; written with write(2), in one or more calls.
 * Returns 0, WEFT_EINVAL (fd negative), WEFT_ENOMEM (no memory for the text), WEFT_EFAILED
 * (a write failed; the message names errno).
 * Blocks: only in write(2). Cancellation point: no. Thread safety: safe.
 * Async-signal-safe: no (it allocates; see weft_debug_dump_on_signal). */
WEFT_API int weft_debug_dump(int fd);

/* weft_debug_name - name obj for weft_debug_dump (a lock, queue, event, pool, any address).
 * obj: borrowed, only its address is kept. name: borrowed during the call and copied; NULL
 * removes obj's name. Naming obj again replaces its name. Remove the name before obj's
 * memory is reused for something else, or the new object shows the old name.
 * Returns 0, WEFT_EINVAL (NULL obj, name longer than WEFT_DEBUG_NAME_MAX bytes),
 * WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_debug_name(const void *obj, const char *name);

/* weft_debug_dump_on_signal - from now on, print weft_debug_dump to stderr (fd 2) whenever
 * signo arrives (SIGQUIT is the convention of Go and the JVM; its default action, a core
 * dump, is replaced). The handler only writes to an eventfd; a service thread of weft's (a
 * plain pthread, not a weft thread: it holds up no exit and is not in any enumeration) reads
 * it and writes the dump. It ends at exit, and a child made by fork() gets its own.
 * A signal that weft_signals_catch (weft/signal.h) receives cannot also be a dump signal: the
 * signal thread takes it first. Calling again with the same signo does nothing.
 * Returns 0, WEFT_EINVAL (signo not a signal weft can use: SIGKILL, SIGSTOP, SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, out of range), WEFT_EBUSY (another signal is already the dump
 * signal, or weft_signals_catch receives signo), WEFT_EAGAIN (no eventfd or thread could be
 * made; the message names errno).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_debug_dump_on_signal(int signo);

/* Lock-order checking (the modes of Abseil's Mutex deadlock detection). */
enum weft_lock_order_mode {
    WEFT_LOCK_ORDER_OFF = 0,    /* the default: nothing recorded, nothing checked */
    WEFT_LOCK_ORDER_REPORT = 1, /* print a report to stderr at each new inversion, go on */
    WEFT_LOCK_ORDER_ABORT = 2   /* print the report, then abort() */
};

/* weft_debug_lock_order - check the order in which threads take weft_locks (and the locks
 * inside RLocks, conditions and barriers), and report the first time two locks are taken in
 * both orders, whether or not the program deadlocks.
 * While it is on, each thread keeps the stack of weft_locks it took, and a graph of lock
 * instances (by address) gets an edge A -> B, with the stack of the acquisition (backtrace(3)),
 * the first time a thread takes B while it holds A. An acquisition that would close a cycle
 * is an inversion: it is reported once, to stderr, with the cycle's edges and the stack
 * stored for each, then this acquisition's stack ("weft: lock-order inversion ..." up to
 * "end of weft lock-order report"; docs/guide/debugging-hangs.md reads one). The acquisition
 * itself goes on as usual. A try (timeout 0) is recorded as held but adds no edge: it cannot
 * wait. The environment variable WEFT_LOCK_ORDER=report or =abort turns it on at start-up.
 * Limits: a lock released by a thread other than the one that took it stays on the taker's
 * stack (a weft_lock allows that hand-over; the checker is meant for locks used as mutexes);
 * the graph keeps the addresses of freed locks, so a new lock at the same address inherits
 * their edges; at most 16 held locks per thread are checked.
 * Cost: off, one load and one predictable branch per acquire and release; on, up to about
 * twice an uncontended acquire-release pair (a per-thread cache of checked pairs: a pair seen
 * before takes no lock), more for the first sighting of each new pair.
 * mode: an enum weft_lock_order_mode.
 * Returns the previous mode, or WEFT_EINVAL (mode not one of the three).
 * Blocks: no. Cancellation point: no. Thread safety: safe (locks held while it changes are
 * not all tracked). Async-signal-safe: no. */
WEFT_API int weft_debug_lock_order(int mode);

WEFT_END_DECLS

#endif
