/* tests/fuzz/scope_fuzz.c - API-sequence fuzzing of the cancel-scope tree (weft/cancel.h)
 * against a model of the tree.
 *
 * Up to 12 scopes per input, each made under another (or under the current scope, or the
 * root), some with a deadline of 1 ns (so they count as cancelled at once), some with one too
 * far to pass. The input cancels, frees, enters and exits scopes, raises and lowers shields,
 * and asks every observer; a blocking call (an event wait) checks that the current scope's
 * state reaches it. The root is never cancelled: it is the whole process's.
 */
#include <stdbool.h>
#include <string.h>

#include "core/internal.h"
#include "fuzz.h"

#define NS 12

struct ms {
    bool used;      /* the slot holds a scope (freed or not) */
    bool live;      /* the handle may still be used */
    weft_scope *h;  /* the handle (only while live, or while entered) */
    int parent;     /* slot, or -1 for the root */
    bool expires;   /* its deadline (or an ancestor's) is 1 ns after its making */
    bool cancelled; /* cancelled by a call (or made under a cancelled parent) */
    int code;       /* the reason's code when cancelled */
    char reason[WEFT_SCOPE_REASON_MAX];
};

static struct ms ms[NS];
/* Longer than WEFT_SCOPE_REASON_MAX: the kept text is cut. */
#define LONG_REASON                                                                            \
    "because of a very long reason that goes on and on past the one hundred and twenty-eight " \
    "bytes that weft keeps of it, and further"
static int stack[WEFT_SCOPE_DEPTH + 1], depth, shields;

static void cancel_tree(int i, int code, const char *reason)
{
    if (!ms[i].cancelled) {
        ms[i].cancelled = true;
        ms[i].code = code;
        snprintf(ms[i].reason, sizeof ms[i].reason, "%s", reason);
    }
    for (int c = 0; c < NS; c++)
        if (ms[c].used && ms[c].parent == i) cancel_tree(c, code, reason);
}

/* A live slot chosen by b, or -1. */
static int pick_live(uint8_t b)
{
    for (int k = 0; k < NS; k++) {
        int i = (b + k) % NS;
        if (ms[i].live) return i;
    }
    return -1;
}

static int current(void)
{
    return depth ? stack[depth - 1] : -1;
}

static weft_scope *handle(int i)
{
    return i < 0 ? weft_scope_root() : ms[i].h;
}

static void check_scope(int i)
{
    struct ms *s = &ms[i];
    weft_scope *h = s->h;
    bool cancelled = s->cancelled || s->expires;
    FZ_EQ("weft_scope_cancelled", weft_scope_cancelled(h), cancelled);
    int code = 12345;
    char buf[WEFT_SCOPE_REASON_MAX + 8];
    static const size_t sizes[] = {0, 1, 5, sizeof buf};
    size_t size = sizes[i % 4];
    memset(buf, 'x', sizeof buf);
    int rc = weft_scope_reason(h, &code, size ? buf : NULL, size);
    FZ_EQ("weft_scope_reason", rc, cancelled);
    if (!cancelled) {
        FZ_EQ("the code of a scope not cancelled", code, 12345);
        return;
    }
    if (s->expires && code == WEFT_ETIMEDOUT) return; /* its deadline came first */
    if (!s->cancelled) FZ_FAIL("an expired scope's reason code is %d", code);
    FZ_EQ("the reason's code", code, s->code);
    if (size > 0 && strncmp(buf, s->reason, size - 1) != 0)
        FZ_FAIL("reason text \"%.*s\", the model wants \"%s\"", (int)size, buf, s->reason);
    if (size > 0 && strlen(buf) >= size) FZ_FAIL("reason text not cut at %zu bytes", size);
}

static void op_new(struct fz *f)
{
    int i = -1;
    for (int k = 0; k < NS && i < 0; k++)
        if (!ms[k].used) i = k;
    uint8_t b = fz_u8(f), c = fz_u8(f);
    int parent = b % 4 == 0 ? -2 : b % 4 == 1 ? -1 : pick_live(c); /* -2: NULL, the current */
    static const weft_ns timeouts[] = {0, WEFT_FOREVER, (weft_ns)1 << 60, 1, -1, INT64_MIN};
    weft_scope_opts o = {.timeout = timeouts[(b >> 2) % 6]};
    bool null_opts = (b >> 5) == 0, fault = (b >> 5) == 1;
    if (null_opts) o.timeout = 0;
    if (i < 0) return;
    weft_scope *out = NULL;
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    int rc = weft_scope_new(&out, parent == -2 ? NULL : handle(parent), null_opts ? NULL : &o);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    if (o.timeout < 0) {
        FZ_RC("weft_scope_new with a negative timeout", rc, WEFT_EINVAL);
        return;
    }
    if (fault && rc == WEFT_ENOMEM && out == NULL) return;
    FZ_RC("weft_scope_new", rc, 0);
    if (parent == -2) parent = current();
    ms[i] = (struct ms){true, true, out, parent, o.timeout == 1, false, 0, ""};
    if (parent >= 0) {
        ms[i].expires |= ms[parent].expires;
        if (ms[parent].cancelled) {
            ms[i].cancelled = true;
            ms[i].code = ms[parent].code;
            memcpy(ms[i].reason, ms[parent].reason, sizeof ms[i].reason);
        }
    }
    check_scope(i);
}

static void op_cancel(struct fz *f)
{
    static const int codes[] = {WEFT_ECANCELED, WEFT_ETIMEDOUT, WEFT_EFAILED, 42, -1234};
    uint8_t b = fz_u8(f);
    int i = b % 8 == 0 && depth ? current() : pick_live(fz_u8(f));
    if (i < 0) return;
    int code = codes[(b >> 3) % 5];
    weft_scope *h = i == current() ? weft_scope_current() : handle(i);
    char reason[WEFT_SCOPE_REASON_MAX];
    int rc;
    if (b & 0x80) {
        rc = weft_scope_cancel(h, code, NULL);
        snprintf(reason, sizeof reason, "%s", weft_strerror(code));
    } else {
        /* a long text, cut at WEFT_SCOPE_REASON_MAX - 1 */
        const char *more = b & 0x40 ? "" : LONG_REASON;
        rc = weft_scope_cancel(h, code, "stop %d %s", b, more);
        char full[512]; /* the whole text, then what weft keeps of it */
        snprintf(full, sizeof full, "stop %d %s", b, more);
        snprintf(reason, sizeof reason, "%.*s", (int)sizeof reason - 1, full);
    }
    FZ_RC("weft_scope_cancel", rc, 0);
    cancel_tree(i, code, reason);
}

static void op_free(struct fz *f)
{
    int i = pick_live(fz_u8(f));
    if (i < 0) return;
    weft_scope_free(ms[i].h);
    ms[i].live = false; /* still in the tree while entered or while it has children */
}

static void op_enter(struct fz *f)
{
    uint8_t b = fz_u8(f);
    int i = b % 8 == 0 && depth ? current() : pick_live(fz_u8(f));
    if (b % 16 == 1) {
        FZ_RC("weft_scope_enter(NULL)", weft_scope_enter(NULL), WEFT_EINVAL);
        return;
    }
    if (i < 0) return;
    int rc = weft_scope_enter(i == current() ? weft_scope_current() : handle(i));
    FZ_RC("weft_scope_enter", rc, depth == WEFT_SCOPE_DEPTH ? WEFT_ENOSPC : 0);
    if (rc == 0) stack[depth++] = i;
}

static void op_exit(void)
{
    FZ_RC("weft_scope_exit", weft_scope_exit(), depth ? 0 : WEFT_ESTATE);
    if (depth) depth--;
}

static bool current_cancelled(void)
{
    int i = current();
    return i >= 0 && (ms[i].cancelled || ms[i].expires);
}

static void op_observe(struct fz *f)
{
    uint8_t b = fz_u8(f);
    switch (b % 6) {
    case 0: {
        int i = pick_live(fz_u8(f));
        if (i >= 0) check_scope(i);
        break;
    }
    case 1: /* a freed scope still entered cannot be compared: its handle was given up */
        if (!depth && weft_scope_current() != weft_scope_root())
            FZ_FAIL("weft_scope_current is not the root outside every scope");
        if (depth && ms[current()].live && weft_scope_current() != ms[current()].h)
            FZ_FAIL("weft_scope_current is not the scope entered last");
        break;
    case 2:
        FZ_RC("weft_checkpoint", weft_checkpoint(),
              current_cancelled() && shields == 0 ? WEFT_ECANCELED : 0);
        FZ_EQ("weft_cancelled", weft_cancelled(), current_cancelled() && shields == 0);
        break;
    case 3: { /* a cancellation point: a wait that cannot be satisfied, or one that can */
        weft_event e = WEFT_EVENT_INIT;
        bool set = b & 0x40, stop = current_cancelled() && shields == 0;
        if (set) weft_event_set(&e);
        weft_ns t = b & 0x80 ? 0 : 1;
        int rc = weft_event_wait(&e, t);
        if (set)
            FZ_RC("weft_event_wait on a set event", rc, 0);
        else if (stop && t == 0)
            FZ_RC2("weft_event_wait(0) in a cancelled scope", rc, WEFT_ECANCELED, WEFT_EAGAIN);
        else
            FZ_RC("weft_event_wait", rc,
                  stop     ? WEFT_ECANCELED
                  : t == 0 ? WEFT_EAGAIN
                           : WEFT_ETIMEDOUT);
        break;
    }
    case 4:
        FZ_RC("weft_shield_begin", weft_shield_begin(), 0);
        shields++;
        break;
    default:
        FZ_RC("weft_shield_end", weft_shield_end(), shields ? 0 : WEFT_ESTATE);
        if (shields) shields--;
    }
}

static void op_null(struct fz *f)
{
    switch (fz_u8(f) % 6) {
    case 0:
        FZ_RC("scope_new(NULL)", weft_scope_new(NULL, NULL, NULL), WEFT_EINVAL);
        break;
    case 1:
        FZ_RC("scope_cancel(NULL)", weft_scope_cancel(NULL, WEFT_ECANCELED, NULL), WEFT_EINVAL);
        break;
    case 2:
        FZ_RC("scope_cancelled(NULL)", weft_scope_cancelled(NULL), WEFT_EINVAL);
        break;
    case 3:
        FZ_RC("scope_reason(NULL)", weft_scope_reason(NULL, NULL, NULL, 0), WEFT_EINVAL);
        break;
    case 4:
        weft_scope_free(NULL);
        break;
    default:
        weft_scope_free(weft_scope_root()); /* does nothing */
        FZ_EQ("the root cancelled", weft_scope_cancelled(weft_scope_root()), 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size, 0};
    memset(ms, 0, sizeof ms);
    depth = shields = 0;
    for (int steps = 0; fz_more(&f) && steps < 1000; steps++) {
        switch (fz_u8(&f) % 9) {
        case 0:
        case 1:
            op_new(&f);
            break;
        case 2:
            op_cancel(&f);
            break;
        case 3:
            op_free(&f);
            break;
        case 4:
            op_enter(&f);
            break;
        case 5:
            op_exit();
            break;
        case 6:
        case 7:
            op_observe(&f);
            break;
        default:
            op_null(&f);
        }
    }
    while (depth) op_exit();
    for (; shields > 0; shields--) FZ_RC("weft_shield_end", weft_shield_end(), 0);
    for (int i = 0; i < NS; i++)
        if (ms[i].live) weft_scope_free(ms[i].h);
    return 0;
}
