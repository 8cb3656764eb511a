/* src/procpool/ring.h - a worker's answer ring: the records a worker sends its parent (RESULT,
 * STARTED), through memory the two share, with the socket as the doorbell.
 *
 * Each worker slot has a segment (a memfd, kept for the slot's replacements): a few words,
 * each on its own cache line, and a ring of bytes. The worker appends a record (a 16-byte
 * slot holding its length, then the record, padded to 16 bytes; the ring wraps) and
 * publishes it by a store of tail; a record is visible whole or not at all, so a worker that
 * dies mid-write leaves nothing torn, and one that dies after the store leaves its answer
 * readable, as the socket kept what a dead process sent. The parent takes records from head
 * (its own copy; the shared one only tells the worker what is free) and trusts nothing in
 * the segment: tail, each length and each record are checked, and copied out before use.
 *
 * Sleep and wake: the parent stores 1 in sleeping before it waits in epoll and looks at the
 * ring once more; a worker that publishes and finds sleeping set takes it (exchange) and
 * sends a DOORBELL record on the socket. Both pairs are seq_cst (Dekker), so either the
 * parent sees the record before it sleeps or the worker rings. A worker whose record does not
 * fit sets want_room and waits for a record from the parent; the parent, having taken
 * records, sends ROOM when it finds want_room set. bell: the cancel bell (worker.c).
 * Memory: the parent writes bell, head, sleeping (1) and want_room (0); the worker writes
 * tail, sleeping (0) and want_room (1). Nothing the parent reads from the segment decides
 * more than whether a worker is killed for a malformed answer or a ROOM record is sent.
 */
#ifndef WEFT_PROCPOOL_RING_H
#define WEFT_PROCPOOL_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "procpool/wire.h"

#define PP_RING_BYTES (64 * 1024) /* holds at least three records of the largest answer */

struct pp_ring {
    _Alignas(64) _Atomic uint32_t bell;
    _Alignas(64) _Atomic uint32_t sleeping;
    _Alignas(64) _Atomic uint32_t want_room;
    _Alignas(64) _Atomic uint32_t head;
    _Alignas(64) _Atomic uint32_t tail;
    _Alignas(64) unsigned char data[PP_RING_BYTES];
};

/* Parent: a new segment, zeroed, mapped; its memfd in *fd. 0 or -1 (no memfd or mapping). */
int pp_ring_make(int *fd, struct pp_ring **r);
/* Parent: empty it for a new worker (the old one is dead). */
void pp_ring_reset(struct pp_ring *r);
void pp_ring_unmap(struct pp_ring *r);
/* Worker: map the segment of fd; NULL on failure. */
struct pp_ring *pp_ring_map(int fd);

/* Worker: append one record of len bytes and publish it; 1 if the parent sleeps and must be
 * rung; -1 if it does not fit now (nothing written). */
int pp_ring_put(struct pp_ring *r, const void *rec, size_t len);

/* Worker: ask for room (sets want_room); 1 if len bytes fit already (the parent freed room
 * meanwhile), else 0: wait for a record from the parent, then try again. */
int pp_ring_want_room(struct pp_ring *r, size_t len);

/* Parent: whether records wait after *head. */
int pp_ring_ready(struct pp_ring *r, uint32_t head);
/* Parent: copy the next record after *head into out (cap bytes, at least PP_RESULT_REC_MAX)
 * and advance *head; returns its length, 0 if none, -1 if the ring's words or the record's
 * length are out of range (*why says which). */
long pp_ring_take(struct pp_ring *r, uint32_t *head, void *out, size_t cap, const char **why);
/* Parent: publish head (the room taken); 1 if the worker waits for room. */
int pp_ring_release(struct pp_ring *r, uint32_t head);

#endif
