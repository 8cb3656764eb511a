/* tests/fuzz/queue_fuzz.c - API-sequence fuzzing of weft/queue.h against a sequential model.
 *
 * Three queue slots, each FIFO, LIFO or priority, bounded or not (or invalid options, which
 * must give WEFT_EINVAL). The input drives put, get, put_many, get_many, task_done, join,
 * close, shutdown, select, free and new, the observers, and an injected allocation failure
 * before a call that may allocate. Every call runs on one thread with timeouts 0, 1 ns,
 * negative or (only when the model says it will not wait) WEFT_FOREVER; the model says what
 * each must return, and which item must come out.
 */
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"
#include "fuzz.h"

#define NQ    3
#define MAXIT 512 /* the model's most items per queue: puts past it are not made */

struct mq {
    weft_queue *q; /* NULL: slot empty */
    int order;
    size_t cap; /* 0: unbounded */
    bool closed, shut;
    size_t unfinished;
    size_t n;
    uintptr_t items[MAXIT]; /* in put order */
};

static struct mq mq[NQ];
static uintptr_t serial;

/* Priority key of an item: its top byte; equal keys come out in put order. */
static int key(uintptr_t item)
{
    return (int)(item >> 24);
}

static int compare(const void *a, const void *b, void *arg)
{
    (void)arg;
    return key((uintptr_t)a) - key((uintptr_t)b);
}

static size_t room(const struct mq *m)
{
    size_t cap = m->cap ? m->cap : MAXIT;
    return m->n < cap ? cap - m->n : 0;
}

/* Index of the item get must take next (m->n > 0). */
static size_t next_index(const struct mq *m)
{
    if (m->order == WEFT_QUEUE_FIFO) return 0;
    if (m->order == WEFT_QUEUE_LIFO) return m->n - 1;
    size_t best = 0;
    for (size_t i = 1; i < m->n; i++)
        if (key(m->items[i]) < key(m->items[best])) best = i;
    return best;
}

static uintptr_t take(struct mq *m)
{
    size_t i = next_index(m);
    uintptr_t v = m->items[i];
    memmove(&m->items[i], &m->items[i + 1], (m->n - i - 1) * sizeof v);
    m->n--;
    return v;
}

static uintptr_t new_item(struct fz *f)
{
    return (uintptr_t)(fz_u8(f) % 4) << 24 | (++serial & 0xffffff);
}

/* Handed back by shutdown: they must come in get order. */
struct handback {
    struct mq *m;
    size_t count;
};

static void hand_back(void *item, void *arg)
{
    struct handback *h = arg;
    if (h->m->n == 0) FZ_FAIL("shutdown handed back more items than the queue held");
    FZ_EQ("shutdown's handed-back item", (uintptr_t)item, take(h->m));
    h->count++;
}

static void op_new(struct fz *f, struct mq *m)
{
    static const size_t caps[] = {0, 1, 2, 3, 5, 64, WEFT_QUEUE_CAPACITY_MAX + 1, SIZE_MAX};
    uint8_t b = fz_u8(f), c = fz_u8(f);
    weft_queue_opts o = {.capacity = caps[b % 8], .order = (b >> 3) % 4};
    /* the comparator: given for PRIORITY, sometimes missing or given with another order */
    if ((o.order == WEFT_QUEUE_PRIORITY) != (c % 8 == 0)) o.compare = compare;
    bool valid = o.capacity <= WEFT_QUEUE_CAPACITY_MAX && o.order <= WEFT_QUEUE_PRIORITY &&
                 (o.order == WEFT_QUEUE_PRIORITY) == (o.compare != NULL);
    bool null_opts = c % 16 == 1, fault = c % 16 == 2;
    if (null_opts) {
        o = (weft_queue_opts)WEFT_QUEUE_OPTS_INIT;
        valid = true;
    }
    if (c % 32 == 3) {
        FZ_RC("weft_queue_new(NULL, ...)", weft_queue_new(NULL, &o), WEFT_EINVAL);
        return;
    }
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1 + (c >> 5) % 3);
    weft_queue *q = NULL;
    int rc = weft_queue_new(&q, null_opts ? NULL : &o);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    if (!valid) {
        FZ_RC("weft_queue_new with bad options", rc, WEFT_EINVAL);
        if (q != NULL) FZ_FAIL("weft_queue_new wrote *out on failure");
        return;
    }
    if (fault && rc == WEFT_ENOMEM) {
        if (q != NULL) FZ_FAIL("weft_queue_new wrote *out on failure");
        return;
    }
    FZ_RC("weft_queue_new", rc, 0);
    memset(m, 0, sizeof *m);
    m->q = q;
    m->order = o.order;
    m->cap = o.capacity;
    FZ_EQ("weft_queue_capacity", weft_queue_capacity(q), o.capacity);
}

static void op_free(struct mq *m)
{
    FZ_RC("weft_queue_free", weft_queue_free(m->q), 0);
    m->q = NULL;
}

static void op_put(struct fz *f, struct mq *m)
{
    uint8_t b = fz_u8(f);
    uintptr_t item = new_item(f);
    bool fault = b % 16 == 0 && m->cap == 0;
    weft_ns t;
    int kind = fz_timeout(f, m->closed || room(m) > 0, &t);
    if (m->n == MAXIT) return; /* the model's limit, not weft's */
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    int rc = weft_queue_put(m->q, (void *)item, t);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    int want = kind == FZ_T_NEGATIVE ? WEFT_EINVAL
               : m->closed           ? WEFT_ECLOSED
               : room(m) == 0        ? fz_not_ready(kind)
                                     : 0;
    if (fault && want == 0 && rc == WEFT_ENOMEM) return; /* the queue could not grow */
    FZ_RC("weft_queue_put", rc, want);
    if (rc == 0) {
        m->items[m->n++] = item;
        m->unfinished++;
    }
}

static void op_get(struct fz *f, struct mq *m)
{
    bool null_item = fz_u8(f) % 16 == 0;
    weft_ns t;
    int kind = fz_timeout(f, m->closed || m->n > 0, &t);
    void *got = (void *)(uintptr_t)0xdead;
    int rc = weft_queue_get(m->q, null_item ? NULL : &got, t);
    int want = kind == FZ_T_NEGATIVE || null_item ? WEFT_EINVAL
               : m->n > 0                         ? 0
               : m->closed                        ? WEFT_ECLOSED
                                                  : fz_not_ready(kind);
    FZ_RC("weft_queue_get", rc, want);
    if (rc == 0)
        FZ_EQ("the item weft_queue_get gave", (uintptr_t)got, take(m));
    else if (got != (void *)(uintptr_t)0xdead)
        FZ_FAIL("weft_queue_get wrote *item on failure");
}

static void op_put_many(struct fz *f, struct mq *m)
{
    uint8_t b = fz_u8(f);
    size_t n = b % 9, done = 12345;
    void *items[8];
    uintptr_t vals[8];
    for (size_t i = 0; i < n; i++) items[i] = (void *)(vals[i] = new_item(f));
    bool null_items = b >> 4 == 0 && n > 0, null_done = b >> 4 == 1;
    weft_ns t;
    int kind = fz_timeout(f, m->closed || room(m) >= n, &t);
    if (m->n + n > MAXIT) return;
    int rc = weft_queue_put_many(m->q, null_items ? NULL : items, n, null_done ? NULL : &done, t);
    if (kind == FZ_T_NEGATIVE || null_items) {
        FZ_RC("weft_queue_put_many with bad arguments", rc, WEFT_EINVAL);
        if (!null_done && done != 0) FZ_FAIL("put_many put %zu items on EINVAL", done);
        return;
    }
    if (n == 0 && m->closed && rc == WEFT_ECLOSED) return; /* either is as documented */
    size_t fit = m->closed ? 0 : room(m) < n ? room(m) : n;
    int want = n == 0 ? 0 : m->closed ? WEFT_ECLOSED : fit < n ? fz_not_ready(kind) : 0;
    FZ_RC("weft_queue_put_many", rc, want);
    if (!null_done) FZ_EQ("put_many's done", done, fit);
    for (size_t i = 0; i < fit; i++) m->items[m->n++] = vals[i];
    m->unfinished += fit;
}

static void op_get_many(struct fz *f, struct mq *m)
{
    uint8_t b = fz_u8(f);
    size_t max = b % 10, got = 777;
    void *items[9];
    bool null_items = b >> 4 == 0, null_got = b >> 4 == 1;
    weft_ns t;
    int kind = fz_timeout(f, m->closed || m->n > 0, &t);
    int rc = weft_queue_get_many(m->q, null_items ? NULL : items, max, null_got ? NULL : &got, t);
    if (kind == FZ_T_NEGATIVE || null_items || null_got || max == 0) {
        FZ_RC("weft_queue_get_many with bad arguments", rc, WEFT_EINVAL);
        return;
    }
    int want = m->n > 0 ? 0 : m->closed ? WEFT_ECLOSED : fz_not_ready(kind);
    FZ_RC("weft_queue_get_many", rc, want);
    size_t expect = rc == 0 ? (m->n < max ? m->n : max) : 0;
    FZ_EQ("get_many's got", got, expect);
    for (size_t i = 0; i < expect; i++)
        FZ_EQ("an item weft_queue_get_many gave", (uintptr_t)items[i], take(m));
}

static void op_task_done(struct mq *m)
{
    int rc = weft_queue_task_done(m->q);
    FZ_RC("weft_queue_task_done", rc, m->unfinished > 0 ? 0 : WEFT_EOVERFLOW);
    if (rc == 0) m->unfinished--;
}

static void op_join(struct fz *f, struct mq *m)
{
    weft_ns t;
    int kind = fz_timeout(f, m->unfinished == 0, &t);
    int want = kind == FZ_T_NEGATIVE ? WEFT_EINVAL : m->unfinished == 0 ? 0 : fz_not_ready(kind);
    FZ_RC("weft_queue_join", weft_queue_join(m->q, t), want);
}

static void op_close(struct fz *f, struct mq *m)
{
    uint8_t b = fz_u8(f);
    if (b % 2 == 0) {
        FZ_RC("weft_queue_close", weft_queue_close(m->q), 0);
        m->closed = true;
        return;
    }
    struct handback h = {m, 0};
    size_t handed = 999, had = m->n;
    bool with_fn = b % 4 == 1;
    int rc = weft_queue_shutdown(m->q, with_fn ? hand_back : NULL, &h, b % 8 < 4 ? &handed : NULL);
    FZ_RC("weft_queue_shutdown", rc, 0);
    if (b % 8 < 4) FZ_EQ("shutdown's handed", handed, had);
    if (with_fn) FZ_EQ("items passed to the shutdown callback", h.count, had);
    m->n = 0;
    m->unfinished -= had < m->unfinished ? had : m->unfinished;
    m->closed = m->shut = true;
}

static void op_observe(struct mq *m)
{
    FZ_EQ("weft_queue_size", weft_queue_size(m->q), m->n);
    FZ_EQ("weft_queue_empty", weft_queue_empty(m->q), m->n == 0);
    FZ_EQ("weft_queue_full", weft_queue_full(m->q), m->cap && m->n == m->cap);
    FZ_EQ("weft_queue_capacity", weft_queue_capacity(m->q), m->cap);
    FZ_EQ("weft_queue_unfinished", weft_queue_unfinished(m->q), m->unfinished);
    FZ_EQ("weft_queue_is_closed", weft_queue_is_closed(m->q), m->closed);
}

/* The NULL-handle cases the header defines. */
static void op_null(struct fz *f)
{
    void *item;
    size_t got;
    weft_queue_case c = {NULL, WEFT_QUEUE_GET, NULL};
    switch (fz_u8(f) % 12) {
    case 0:
        FZ_RC("put(NULL)", weft_queue_put(NULL, NULL, 0), WEFT_EINVAL);
        break;
    case 1:
        FZ_RC("get(NULL)", weft_queue_get(NULL, &item, 0), WEFT_EINVAL);
        break;
    case 2:
        FZ_RC("get_many(NULL)", weft_queue_get_many(NULL, &item, 1, &got, 0), WEFT_EINVAL);
        break;
    case 3:
        FZ_RC("task_done(NULL)", weft_queue_task_done(NULL), WEFT_EINVAL);
        break;
    case 4:
        FZ_RC("join(NULL)", weft_queue_join(NULL, 0), WEFT_EINVAL);
        break;
    case 5:
        FZ_RC("close(NULL)", weft_queue_close(NULL), WEFT_EINVAL);
        break;
    case 6:
        FZ_RC("shutdown(NULL)", weft_queue_shutdown(NULL, NULL, NULL, NULL), WEFT_EINVAL);
        break;
    case 7:
        FZ_RC("free(NULL)", weft_queue_free(NULL), 0);
        break;
    case 8:
        FZ_EQ("size(NULL)", weft_queue_size(NULL), 0);
        FZ_EQ("empty(NULL)", weft_queue_empty(NULL), 1);
        FZ_EQ("full(NULL)", weft_queue_full(NULL), 0);
        FZ_EQ("capacity(NULL)", weft_queue_capacity(NULL), 0);
        FZ_EQ("unfinished(NULL)", weft_queue_unfinished(NULL), 0);
        FZ_EQ("is_closed(NULL)", weft_queue_is_closed(NULL), 0);
        break;
    case 9:
        FZ_RC("select(NULL cases)", weft_queue_select(NULL, 1, NULL, 0), WEFT_EINVAL);
        break;
    case 10:
        FZ_RC("select(NULL queue)", weft_queue_select(&c, 1, NULL, 0), WEFT_EINVAL);
        break;
    default:
        FZ_RC("put_many(NULL)", weft_queue_put_many(NULL, NULL, 0, NULL, 0), WEFT_EINVAL);
    }
}

/* Whether a case can fire now, and with what. */
static bool case_ready(const struct mq *m, int op, int *rc)
{
    if (op == WEFT_QUEUE_GET) {
        *rc = m->n > 0 ? 0 : WEFT_ECLOSED;
        return m->n > 0 || m->closed;
    }
    *rc = m->closed ? WEFT_ECLOSED : 0;
    return m->closed || room(m) > 0;
}

static void op_select(struct fz *f)
{
    weft_queue_case cs[8];
    int slot[8];
    uint8_t b = fz_u8(f);
    size_t n = b % 9;
    bool bad = false, any_ready = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = fz_u8(f);
        slot[i] = c % NQ;
        cs[i].queue = mq[slot[i]].q;
        cs[i].op = (c >> 2) % 2;
        cs[i].item = (void *)new_item(f);
        if (c >> 3 == 31) cs[i].op = 7; /* an unknown op */
        if (cs[i].queue == NULL || cs[i].op > 1) bad = true;
        int rc;
        if (!bad && case_ready(&mq[slot[i]], cs[i].op, &rc)) any_ready = true;
    }
    if (n == 0) bad = true;
    weft_ns t;
    int kind = fz_timeout(f, any_ready, &t);
    size_t fired = 99;
    for (size_t i = 0; i < n && !bad; i++)
        if (cs[i].op == WEFT_QUEUE_PUT && mq[slot[i]].n == MAXIT) return;
    bool no_fired = n == 1 && (b & 0x80); /* fired may be NULL: then case 0 is the one */
    bool fault = any_ready && (b & 0x40) && !bad;
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    int rc = weft_queue_select(cs, n, no_fired ? NULL : &fired, t);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    if (no_fired) fired = 0;
    if (bad || kind == FZ_T_NEGATIVE) {
        FZ_RC("weft_queue_select with bad arguments", rc, WEFT_EINVAL);
        return;
    }
    if (!any_ready) {
        FZ_RC("weft_queue_select (nothing ready)", rc, fz_not_ready(kind));
        return;
    }
    if (fired >= n) FZ_FAIL("select fired case %zu of %zu", fired, n);
    struct mq *m = &mq[slot[fired]];
    int want;
    if (!case_ready(m, cs[fired].op, &want)) FZ_FAIL("select fired case %zu, not ready", fired);
    /* an unbounded queue that could not grow: documented, nothing moved */
    if (fault && rc == WEFT_ENOMEM && want == 0 && cs[fired].op == WEFT_QUEUE_PUT && m->cap == 0)
        return;
    FZ_RC("weft_queue_select's fired case", rc, want);
    if (rc != 0) return;
    if (cs[fired].op == WEFT_QUEUE_GET) {
        FZ_EQ("the item select got", (uintptr_t)cs[fired].item, take(m));
    } else {
        m->items[m->n++] = (uintptr_t)cs[fired].item;
        m->unfinished++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size, 0};
    memset(mq, 0, sizeof mq);
    for (int steps = 0; fz_more(&f) && steps < 2000; steps++) {
        uint8_t op = fz_u8(&f);
        struct mq *m = &mq[(op >> 4) % NQ];
        if (m->q == NULL && op % 16 != 12) {
            op_new(&f, m);
            continue;
        }
        switch (op % 16) {
        case 0:
        case 1:
        case 2:
            op_put(&f, m);
            break;
        case 3:
        case 4:
            op_get(&f, m);
            break;
        case 5:
            op_put_many(&f, m);
            break;
        case 6:
            op_get_many(&f, m);
            break;
        case 7:
            op_task_done(m);
            break;
        case 8:
            op_join(&f, m);
            break;
        case 9:
            op_close(&f, m);
            break;
        case 10:
            op_observe(m);
            break;
        case 11:
            op_select(&f);
            break;
        case 12:
            op_null(&f);
            break;
        case 13:
            op_free(m);
            break;
        default:
            op_observe(m);
        }
    }
    for (int i = 0; i < NQ; i++)
        if (mq[i].q) op_free(&mq[i]);
    return 0;
}
