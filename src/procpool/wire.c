/* src/procpool/wire.c - encoding and checking the pool's records (wire.h has the format).
 *
 * Invariant of the readers: no byte outside [buf, buf + len) is read, whatever the record
 * says; a record that disagrees with itself is refused as a whole. */
#include <string.h>

#include "procpool/wire.h"

size_t pp_rec_begin(void *buf, int kind)
{
    struct pp_hdr h = {PP_MAGIC, (uint16_t)kind, 0, 0, 0};
    memcpy(buf, &h, sizeof h);
    return PP_ALIGN(sizeof h);
}

int pp_rec_add_task(void *buf, size_t *len, size_t cap, uint64_t id, uint32_t fn, const void *arg,
                    uint32_t arg_len)
{
    size_t need = PP_ALIGN(sizeof(struct pp_wtask)) + PP_ALIGN(arg_len);
    if (*len + need > cap) return -1;
    struct pp_wtask t = {id, fn, arg_len};
    char *at = (char *)buf + *len;
    memcpy(at, &t, sizeof t);
    if (arg_len) memcpy(at + PP_ALIGN(sizeof t), arg, arg_len);
    *len += need;
    return 0;
}

int pp_rec_add_def(void *buf, size_t *len, size_t cap, uint32_t fn, const char *name,
                   uint64_t offset)
{
    size_t n = strlen(name);
    size_t need = PP_ALIGN(sizeof(struct pp_def)) + PP_ALIGN(n + 1);
    if (n >= PP_NAME_MAX || *len + need > cap) return -1;
    struct pp_def d = {fn, (uint32_t)n, offset};
    char *at = (char *)buf + *len;
    memcpy(at, &d, sizeof d);
    memcpy(at + PP_ALIGN(sizeof d), name, n + 1);
    *len += need;
    return 0;
}

size_t pp_rec_end(void *buf, size_t len, unsigned count)
{
    struct pp_hdr h;
    memcpy(&h, buf, sizeof h);
    h.count = (uint16_t)count;
    h.len = (uint32_t)len;
    memcpy(buf, &h, sizeof h);
    return len;
}

size_t pp_result_encode(void *buf, uint64_t id, int status, int code, const void *data,
                        uint32_t len, const char *msg, uint64_t rss)
{
    size_t off = pp_rec_begin(buf, PP_RESULT);
    uint32_t ml = (uint32_t)strnlen(msg, WEFT_ERROR_MESSAGE_MAX - 1);
    struct pp_result r = {id, status, code, len, ml, rss};
    char *at = (char *)buf + off;
    memcpy(at, &r, sizeof r);
    at += PP_ALIGN(sizeof r);
    if (len) memcpy(at, data, len);
    memcpy(at + len, msg, ml);
    return pp_rec_end(buf, off + PP_ALIGN(sizeof r) + PP_ALIGN((size_t)len + ml), 1);
}

int pp_rec_parse(const void *buf, size_t len, int *kind, unsigned *count)
{
    struct pp_hdr h;
    if (len < PP_ALIGN(sizeof h)) return -1;
    memcpy(&h, buf, sizeof h);
    if (h.magic != PP_MAGIC || h.len != len) return -1;
    if (h.kind != PP_TASKS && h.kind != PP_DEFS && h.kind != PP_QUIT && h.kind != PP_CANCEL &&
        h.kind != PP_ROOM)
        return -1;
    *kind = h.kind;
    *count = h.count;
    return 0;
}

int pp_items_next(const void *buf, size_t len, int kind, size_t *off, struct pp_item *it)
{
    const char *b = buf;
    if (*off == 0) *off = PP_ALIGN(sizeof(struct pp_hdr));
    it->kind = kind;
    if (kind == PP_TASKS || kind == PP_CANCEL) {
        struct pp_wtask t;
        if (*off > len || len - *off < PP_ALIGN(sizeof t)) return -1;
        memcpy(&t, b + *off, sizeof t);
        size_t at = *off + PP_ALIGN(sizeof t);
        if (t.len > WEFT_PROCESS_ARG_MAX || len - at < PP_ALIGN(t.len)) return -1;
        it->id = t.id;
        it->fn = t.fn;
        it->len = t.len;
        it->data = t.len ? b + at : NULL;
        *off = at + PP_ALIGN(t.len);
        return 0;
    }
    if (kind == PP_DEFS) {
        struct pp_def d;
        if (*off > len || len - *off < PP_ALIGN(sizeof d)) return -1;
        memcpy(&d, b + *off, sizeof d);
        size_t at = *off + PP_ALIGN(sizeof d);
        if (d.name_len >= PP_NAME_MAX || len - at < PP_ALIGN((size_t)d.name_len + 1)) return -1;
        if (memchr(b + at, '\0', d.name_len) != NULL || b[at + d.name_len] != '\0') return -1;
        it->fn = d.fn;
        it->offset = d.offset;
        it->data = b + at;
        *off = at + PP_ALIGN((size_t)d.name_len + 1);
        return 0;
    }
    return -1;
}

int pp_result_parse(const void *buf, size_t len, struct pp_answer *a, char *msgbuf,
                    const char **why)
{
    struct pp_hdr h;
    struct pp_result r;
    size_t at = PP_ALIGN(sizeof h);
    if (len < at + PP_ALIGN(sizeof r)) return *why = "a record shorter than its header", -1;
    memcpy(&h, buf, sizeof h);
    if (h.magic != PP_MAGIC || h.kind != PP_RESULT || h.count != 1)
        return *why = "bad magic, kind or count", -1;
    if (h.len != len) return *why = "its length field disagrees with its size", -1;
    memcpy(&r, (const char *)buf + at, sizeof r);
    at += PP_ALIGN(sizeof r);
    if (r.len > WEFT_PROCESS_RESULT_MAX) return *why = "a result longer than the limit", -1;
    if (r.msg_len >= WEFT_ERROR_MESSAGE_MAX) return *why = "a message longer than the limit", -1;
    if (len - at != PP_ALIGN((size_t)r.len + r.msg_len))
        return *why = "its sizes disagree with the record's", -1;
    if (r.status == 0 && r.msg_len != 0) return *why = "a message with a success", -1;
    a->id = r.id;
    a->status = r.status;
    a->code = r.code;
    a->len = r.len;
    a->data = (const char *)buf + at;
    memcpy(msgbuf, (const char *)buf + at + r.len, r.msg_len);
    msgbuf[r.msg_len] = '\0';
    a->msg = msgbuf;
    a->rss = r.rss;
    return 0;
}

size_t pp_started_encode(void *buf, uint64_t id)
{
    size_t off = pp_rec_begin(buf, PP_STARTED);
    uint64_t item[2] = {id, 0};
    memcpy((char *)buf + off, item, sizeof item);
    return pp_rec_end(buf, off + sizeof item, 1);
}

int pp_started_parse(const void *buf, size_t len, uint64_t *id)
{
    struct pp_hdr h;
    uint64_t item[2];
    if (len != PP_ALIGN(sizeof h) + sizeof item) return -1;
    memcpy(&h, buf, sizeof h);
    if (h.magic != PP_MAGIC || h.kind != PP_STARTED || h.count != 1 || h.len != len) return -1;
    memcpy(item, (const char *)buf + PP_ALIGN(sizeof h), sizeof item);
    *id = item[0];
    return 0;
}

size_t pp_empty_encode(void *buf, int kind)
{
    return pp_rec_end(buf, pp_rec_begin(buf, kind), 0);
}

int pp_doorbell_parse(const void *buf, size_t len)
{
    struct pp_hdr h;
    if (len != PP_ALIGN(sizeof h)) return 0;
    memcpy(&h, buf, sizeof h);
    return h.magic == PP_MAGIC && h.kind == PP_DOORBELL && h.count == 0 && h.len == len;
}
