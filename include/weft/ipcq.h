/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/ipcq.h - a queue of byte messages between processes (multiprocessing.Queue and
 * JoinableQueue, in weft's conventions).
 *
 * The queue lives in shared memory made by memfd_create and mapped MAP_SHARED: nothing is
 * named in /dev/shm, and nothing is left behind when every process that used it ends (the
 * memory goes with its last descriptor and mapping; no resource tracker is needed). It is
 * bounded: at most capacity messages, each at most max_msg bytes, both fixed at creation. A
 * message is copied in by put and out by get; nothing is pickled.
 *
 * Handing the queue to a child: the queue is its descriptor (weft_ipcq_fd).
 *   - weft_process_start: list weft_ipcq_fd(q) in opts.pass_fds and send its number in arg;
 *     the child calls weft_ipcq_attach(&q, fd) and weft_ipcq_free(q) when done:
 *
 *         static int child(const void *arg, size_t size) {
 *             int fd; memcpy(&fd, arg, sizeof fd);
 *             weft_ipcq *q;
 *             if (weft_ipcq_attach(&q, fd) != 0) return 1;
 *             ... weft_ipcq_put(q, "hi", 2, WEFT_FOREVER) ...
 *             weft_ipcq_free(q);
 *             return 0;
 *         }
 *         int fd = weft_ipcq_fd(q);
 *         weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
 *         o.pass_fds = &fd; o.npass_fds = 1;
 *         weft_process_start(&p, child, &fd, sizeof fd, &o);
 *
 *     This works with every start method (fork server, spawn, fork) and with SCM_RIGHTS.
 *   - WEFT_PROCESS_FORK and plain fork(): the child may also use the handles it inherited as
 *     they are (each learns the child's pid on its next call); it frees them as usual.
 *
 * Ending: weft_ipcq_close stops puts (WEFT_ECLOSED); gets take what is left, then return
 * WEFT_ECLOSED to every consumer, blocked or not, in every process. Task accounting as
 * JoinableQueue's: every message put is one unfinished task; weft_ipcq_task_done finishes one;
 * weft_ipcq_join waits until none is left.
 *
 * When a process dies (docs/design/ipcq.md has every case):
 *   - a message is visible only once it is whole: a producer killed while writing leaves no
 *     torn message and no gap;
 *   - a consumer killed while copying a message out leaves it in the queue (the next get takes
 *     it again); one killed after taking it took it (as with any queue);
 *   - a side lock (producers share one, consumers another; each is held only while one message
 *     is copied) whose holder died is taken over by the next process that needs it, within
 *     milliseconds; no call hangs on a dead process;
 *   - a blocked call whose only possible peers all died returns WEFT_EDIED: every other
 *     process attached to the queue has ended (and at least one attached and died). A process
 *     that attaches later is a peer again. Calls that need no peer (a put with room, a get
 *     with a message) still work;
 *   - a consumer that died before task_done leaves its task unfinished: join then waits until
 *     its timeout (as Python's does).
 * The other processes are trusted for nothing: every length, index and counter read from the
 * shared memory is checked, so a buggy or hostile peer can make this side's calls fail with
 * WEFT_EBROKEN (and a message naming what was wrong; the handle stays broken), or wait until
 * their timeout, but never read or write outside the queue's memory.
 *
 * Every blocking call takes a relative timeout last (weft/time.h): WEFT_FOREVER blocks, 0 tries
 * once and returns WEFT_EAGAIN where it would wait, a negative timeout is WEFT_EINVAL. A blocked
 * put, get or join returns WEFT_ECANCELED when the calling thread's cancel scope is cancelled.
 */
#ifndef WEFT_IPCQ_H
#define WEFT_IPCQ_H

#include <stddef.h>
#include <weft/config.h>
#include <weft/time.h>

WEFT_BEGIN_DECLS

typedef struct weft_ipcq weft_ipcq;

/* Limits: capacity and max_msg, and the processes attached at once (more may attach; those
 * beyond the table are not watched for liveness). */
#define WEFT_IPCQ_CAPACITY_MAX (1u << 20)
#define WEFT_IPCQ_MSG_MAX      (1u << 24)
#define WEFT_IPCQ_SIZE_MAX     ((size_t)1 << 30) /* the whole segment */
#define WEFT_IPCQ_PEERS_MAX    64

/* Flags (weft_ipcq_opts.flags). Two say a side is used by one thread of one process at a time:
 *   WEFT_IPCQ_ONE_PRODUCER: the first thread that puts holds the producer's role until its
 *     handle is freed (or its process dies: the role is then taken over by the next process
 *     that puts); a put from any other thread or process returns WEFT_EBUSY. Puts then take
 *     no lock: no atomic read-modify-write per message.
 *   WEFT_IPCQ_ONE_CONSUMER: the same for gets.
 * Every other promise of this header holds with them (close, faults, checks).
 *   WEFT_IPCQ_STAY: a waiting thread is never moved to another CPU. Without it, a thread
 *     whose affinity mask holds every online CPU (nobody narrowed it) may be moved when two
 *     processes take turns on the queue on a crowded machine (more runnable threads than
 *     CPUs, read from /proc/loadavg): after four of its sleeps in a row in a get, each ended
 *     by a put on another CPU that found it asleep alone, with the gets waking to one message
 *     at a time and at most two processes attached, it moves to the putter's CPU. Its mask is
 *     set to that CPU alone, then to every CPU again: the mask afterwards is the one it had,
 *     and it goes on following its cpuset. A mask anyone sets for the thread in that instant
 *     is lost. The two processes then share one CPU instead of each preempting a busy thread
 *     at every hand-over (docs/design/ipcq.md). The flag is set at weft_ipcq_new and holds for
 *     every process attached; a weft from before the flag refuses to attach a queue with it. */
#define WEFT_IPCQ_ONE_PRODUCER 1u
#define WEFT_IPCQ_ONE_CONSUMER 2u
#define WEFT_IPCQ_STAY         4u

typedef struct weft_ipcq_opts {
    size_t capacity; /* messages the queue holds at most; 0: 1024 */
    size_t max_msg;  /* largest message, in bytes; 0: 256 */
    unsigned flags;  /* WEFT_IPCQ_ONE_PRODUCER | _ONE_CONSUMER | _STAY, or 0 */
    /* Zero (as _OPTS_INIT, {0} and calloc leave it): room for later fields, weft/config.h. */
    unsigned long long reserved[4];
} weft_ipcq_opts;

/* clang-format off */
#define WEFT_IPCQ_OPTS_INIT {1024, 256, 0, {0}}
/* clang-format on */

/* weft_ipcq_new - make a queue in a new shared memory segment and attach the calling process.
 * The segment holds capacity (rounded up to a power of two) slots of max(8 + max_msg rounded
 * up to 8, 64) bytes, plus a few cache lines of its own.
 * out:  caller-owned, receives the handle on success (untouched on failure).
 * opts: borrowed during the call, may be NULL (WEFT_IPCQ_OPTS_INIT).
 * Returns 0; WEFT_EINVAL (NULL out; capacity > WEFT_IPCQ_CAPACITY_MAX; max_msg >
 * WEFT_IPCQ_MSG_MAX; the segment would exceed WEFT_IPCQ_SIZE_MAX; unknown flags); WEFT_ENOMEM
 * (no memory, or memfd_create, ftruncate or mmap failed: the message says which).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_new(weft_ipcq **out, const weft_ipcq_opts *opts) WEFT_NODISCARD;

/* weft_ipcq_attach - attach the calling process to the queue whose descriptor is fd (from
 * weft_ipcq_fd in another process, passed by weft_process_start's pass_fds, inheritance or
 * SCM_RIGHTS). The segment is checked first: its magic, version and geometry, against the
 * descriptor's size.
 * out: caller-owned, receives the handle on success (untouched on failure).
 * fd:  borrowed: the handle keeps a duplicate, so the caller may close fd at once.
 * Returns 0; WEFT_EINVAL (NULL out; fd is not an open descriptor); WEFT_EBROKEN (fd is not a
 * weft queue, another version, or its header does not fit its size: the message says which
 * field); WEFT_ENOMEM.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_attach(weft_ipcq **out, int fd) WEFT_NODISCARD;

/* weft_ipcq_fd - the queue's descriptor (close-on-exec set), to hand to another process.
 * q: borrowed. Returns the descriptor, owned by q (valid until weft_ipcq_free), or WEFT_EINVAL
 * for NULL q.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_ipcq_fd(const weft_ipcq *q);

/* weft_ipcq_free - detach the calling process and free the handle: its mapping and its
 * descriptor. The queue itself lives on while another process has it; messages inside stay.
 * q: taken; NULL is allowed. No thread of this process may use q during or after the call.
 * Returns 0.
 * Blocks: no. Cancellation point: no. Thread safety: see above. Async-signal-safe: no. */
WEFT_API int weft_ipcq_free(weft_ipcq *q);

/* weft_ipcq_put - copy len bytes from data in as one message, waiting up to timeout while the
 * queue is full.
 * q: borrowed. data: borrowed, read during the call; may be NULL when len is 0.
 * Returns 0; WEFT_EAGAIN (timeout 0 and full); WEFT_ETIMEDOUT; WEFT_ECLOSED (closed, also
 * during the wait); WEFT_ECANCELED; WEFT_EDIED (full, and every other attached process
 * died); WEFT_EBUSY (WEFT_IPCQ_ONE_PRODUCER and another thread or live process is the
 * producer); WEFT_EBROKEN (the shared memory was found corrupt); WEFT_EINVAL (NULL q, NULL data
 * with len > 0, len > max_msg, negative timeout).
 * Blocks: yes, while full. Cancellation point: yes (only when it would block).
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_put(weft_ipcq *q, const void *data, size_t len, weft_ns timeout);

/* weft_ipcq_get - take the next message, copying it into buf, waiting up to timeout while the
 * queue is empty.
 * q: borrowed. buf: caller-owned, size bytes. len: caller-owned, receives the message's length
 * on success and on WEFT_ENOSPC.
 * Returns 0; WEFT_ENOSPC (the message is longer than size: it stays in the queue, *len says
 * how long it is); WEFT_EAGAIN (timeout 0 and empty); WEFT_ETIMEDOUT; WEFT_ECLOSED (closed
 * and empty); WEFT_ECANCELED; WEFT_EDIED (empty, and every other attached process died);
 * WEFT_EBUSY (WEFT_IPCQ_ONE_CONSUMER and another thread or live process is the consumer);
 * WEFT_EBROKEN (corrupt shared memory); WEFT_EINVAL (NULL q or len, NULL buf with size > 0,
 * negative timeout).
 * Blocks: yes, while empty. Cancellation point: yes (only when it would block).
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_get(weft_ipcq *q, void *buf, size_t size, size_t *len, weft_ns timeout);

/* weft_ipcq_close - no more puts, in every process: blocked and later puts return
 * WEFT_ECLOSED; gets take what is left, then return WEFT_ECLOSED. Closing twice is allowed.
 * q: borrowed. Returns 0; WEFT_EINVAL (NULL q); WEFT_EBROKEN (corrupt shared memory).
 * Blocks: only while another process copies a message in. Cancellation point: no.
 * Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_close(weft_ipcq *q);

/* weft_ipcq_is_closed - 1 if q was closed (by any process), else 0 (also for NULL).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API int weft_ipcq_is_closed(const weft_ipcq *q);

/* weft_ipcq_task_done - one message taken from the queue is processed (JoinableQueue.task_done).
 * q: borrowed. Returns 0; WEFT_EOVERFLOW (more calls than messages ever put: Python's
 * ValueError; nothing changes); WEFT_EINVAL (NULL q); WEFT_EBROKEN.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_task_done(weft_ipcq *q);

/* weft_ipcq_join - wait until every message ever put has had its task_done
 * (JoinableQueue.join). q: borrowed.
 * Returns 0; WEFT_EAGAIN (timeout 0 and tasks remain); WEFT_ETIMEDOUT; WEFT_ECANCELED;
 * WEFT_EDIED (tasks remain and every other attached process died); WEFT_EBROKEN; WEFT_EINVAL
 * (NULL q, negative timeout).
 * Blocks: yes. Cancellation point: yes. Thread safety: safe. Async-signal-safe: no. */
WEFT_API int weft_ipcq_join(weft_ipcq *q, weft_ns timeout);

/* weft_ipcq_size - messages in the queue now (qsize), a snapshot; 0 for NULL.
 * weft_ipcq_unfinished - messages put and not yet task_done, a snapshot; 0 for NULL.
 * weft_ipcq_capacity - the capacity in messages, as created; 0 for NULL.
 * weft_ipcq_max_msg - the largest message in bytes, as created; 0 for NULL.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API size_t weft_ipcq_size(const weft_ipcq *q);
WEFT_API size_t weft_ipcq_unfinished(const weft_ipcq *q);
WEFT_API size_t weft_ipcq_capacity(const weft_ipcq *q);
WEFT_API size_t weft_ipcq_max_msg(const weft_ipcq *q);

WEFT_END_DECLS

#endif
