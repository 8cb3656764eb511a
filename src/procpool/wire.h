/* src/procpool/wire.h - the process pool's wire protocol and the carrier interface.
 *
 * The protocol knows nothing of the carrier: a record is a byte string the carrier delivers
 * whole, in order, or not at all (SOCK_SEQPACKET does; a stream or a remote carrier would
 * frame it with its length). Every field is little-endian host order (both ends run the same
 * program) and every item starts on a 16-byte boundary, so an argument lands aligned for any
 * type in the worker's buffer.
 *
 *   record  = header, count items                 header: magic, kind, count, length
 *   TASKS   item = id (u64), fn (u32), len (u32), len bytes of argument
 *   DEFS    item = fn (u32), name_len (u32), offset (u64), name, NUL: function fn is the code
 *           at offset in the loaded object of that name ("" is the program), as the process
 *           module sends a function (process/child.c: ASLR makes raw pointers meaningless in
 *           a re-executed fork server)
 *   QUIT    no item: the worker exits after the tasks before it
 *   CANCEL  items as TASKS' with fn 0 and no argument: do not start these tasks (sent
 *           ahead, cancelled since); the worker answers each with a RESULT of
 *           WEFT_ECANCELED instead of running it. A worker looks for CANCEL records (without
 *           waiting) before each task that was sent behind another, when its cancel bell
 *           (ring.h) rang since the last look (always, without a ring)
 *   RESULT  one item = id (u64), status (i32), code (i32), len (u32), msg_len (u32), rss
 *           (u64), len bytes of result, msg_len bytes of message
 *   STARTED one item = id (u64), 8 bytes of zero: sent before a task whose fn has
 *           PP_FN_ANNOUNCE (a task with a timeout, which runs from that moment)
 *   ROOM    no item: the worker's answer ring has room again (ring.h)
 *   DOORBELL no item: records wait in the answer ring (ring.h), sent only to a parent that
 *           said it sleeps
 * With an answer ring (ring.h) RESULT and STARTED travel through it and the socket carries
 * DOORBELL only; without one, through the socket.
 * Parent to worker: TASKS, DEFS, QUIT, CANCEL, ROOM. Worker to parent: one RESULT per task,
 * sent before the next task starts, so that on a death the first task without an answer is
 * the one that was running (docs/design/procpool.md).
 * Receivers trust nothing: every count, length and offset is checked against the record's
 * size and the protocol's limits before use (pp_result_parse, pp_items_next).
 */
#ifndef WEFT_PROCPOOL_WIRE_H
#define WEFT_PROCPOOL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <weft/error.h>
#include <weft/process.h>

#define PP_MAGIC 0x70707466u /* "ftpp" */
enum {
    PP_TASKS = 1,
    PP_DEFS = 2,
    PP_QUIT = 3,
    PP_RESULT = 4,
    PP_STARTED = 5,
    PP_CANCEL = 6,
    PP_ROOM = 7,
    PP_DOORBELL = 8
};
/* In a TASKS item's fn: announce the start (the task has a timeout, counted from then). */
#define PP_FN_ANNOUNCE 0x80000000u

struct pp_hdr {
    uint32_t magic;
    uint16_t kind;
    uint16_t count;
    uint32_t len; /* the whole record, header included */
    uint32_t pad;
};

struct pp_wtask {
    uint64_t id;
    uint32_t fn;
    uint32_t len;
};

struct pp_def {
    uint32_t fn;
    uint32_t name_len;
    uint64_t offset;
};

struct pp_result {
    uint64_t id;
    int32_t status;
    int32_t code;
    uint32_t len;
    uint32_t msg_len;
    uint64_t rss;
};

#define PP_ALIGN(n) (((size_t)(n) + 15) & ~(size_t)15)
#define PP_NAME_MAX 512 /* longest object name (the process module's limit) */
/* Largest record: one task with the largest argument fits, with room to spare. */
#define PP_REC_MAX \
    (PP_ALIGN(sizeof(struct pp_hdr) + sizeof(struct pp_wtask)) + WEFT_PROCESS_ARG_MAX + 4096)
#define PP_RESULT_REC_MAX                                                                  \
    (PP_ALIGN(sizeof(struct pp_hdr) + sizeof(struct pp_result) + WEFT_PROCESS_RESULT_MAX + \
              WEFT_ERROR_MESSAGE_MAX))

/* Writing: begin a record in buf (cap bytes, cap >= header); add items while they fit
 * (0, or -1 when the item does not fit: the record is unchanged); end it (sets the count and
 * length; returns the length). */
size_t pp_rec_begin(void *buf, int kind);
int pp_rec_add_task(void *buf, size_t *len, size_t cap, uint64_t id, uint32_t fn, const void *arg,
                    uint32_t arg_len);
int pp_rec_add_def(void *buf, size_t *len, size_t cap, uint32_t fn, const char *name,
                   uint64_t offset);
size_t pp_rec_end(void *buf, size_t len, unsigned count);
size_t pp_result_encode(void *buf, uint64_t id, int status, int code, const void *data,
                        uint32_t len, const char *msg, uint64_t rss);

/* Reading a parent's record (worker side): check the header; then take items one by one. */
struct pp_item {
    int kind;
    uint64_t id;      /* TASKS */
    uint32_t fn;      /* TASKS, DEFS */
    const void *data; /* TASKS: the argument; DEFS: the object name (NUL-terminated) */
    uint32_t len;     /* TASKS: argument bytes */
    uint64_t offset;  /* DEFS */
};
int pp_rec_parse(const void *buf, size_t len, int *kind, unsigned *count);
int pp_items_next(const void *buf, size_t len, int kind, size_t *off, struct pp_item *it);

/* Reading a worker's answer (parent side): 0 and the fields, or -1 and why in *why. */
struct pp_answer {
    uint64_t id;
    int status, code;
    const void *data;
    uint32_t len;
    const char *msg; /* NUL-terminated copy in msgbuf */
    uint64_t rss;
};
int pp_result_parse(const void *buf, size_t len, struct pp_answer *a, char *msgbuf,
                    const char **why);
/* A STARTED record: its length, and 0 with the id; -1 if buf is not a STARTED record. */
size_t pp_started_encode(void *buf, uint64_t id);
/* A record without items (QUIT, ROOM, DOORBELL): its length. Whether buf is a DOORBELL. */
size_t pp_empty_encode(void *buf, int kind);
int pp_doorbell_parse(const void *buf, size_t len);
int pp_started_parse(const void *buf, size_t len, uint64_t *id);

/* The carrier: how records travel. One implementation today (seqpacket.c). */
struct pp_carrier {
    const char *name;
    /* A connected pair: fds[0] the parent's end, fds[1] the worker's (both close-on-exec).
     * Returns 0 or a WEFT_E* code with the message set. */
    int (*pair)(int fds[2]);
    /* Send one record; wait: block until there is room. Returns 0; WEFT_EAGAIN (no room now,
     * wait 0); WEFT_ECLOSED (the peer is gone). */
    int (*send)(int fd, const void *rec, size_t len, int wait);
    /* Receive one record into buf (cap bytes); wait: block until one comes. Returns its
     * length; 0 (the peer closed); WEFT_EAGAIN (nothing now, wait 0); WEFT_ERANGE (longer than
     * cap: dropped); WEFT_ECLOSED (an error: the peer is gone). */
    long (*recv)(int fd, void *buf, size_t cap, int wait);
    /* Receive up to n records without waiting, record i into bufs + i * cap, its length in
     * lens[i] (0: the peer closed, and no record follows; more than cap: too long, dropped).
     * Returns how many entries were filled (fewer than n: nothing more was there), 0 (nothing
     * now), or WEFT_ECLOSED (an error: the peer is gone). */
    long (*recv_many)(int fd, void *bufs, size_t cap, size_t *lens, unsigned n);
};
/* Records the manager takes from one worker per recv_many. */
#define PP_RECV_BATCH 16
extern const struct pp_carrier pp_seqpacket;

#endif
