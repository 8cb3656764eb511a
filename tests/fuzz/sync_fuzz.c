/* tests/fuzz/sync_fuzz.c - API-sequence fuzzing of weft/sync.h against a sequential model.
 *
 * One lock, one RLock, a condition bound to either or to an RLock of its own, a semaphore
 * (bounded or not), an event, a barrier, a latch and a once flag, all used by one thread with
 * timeouts 0, 1 ns, negative, or WEFT_FOREVER where the model says nothing waits. The input
 * picks the calls, including the defined misuses (releasing what is not held, NULL objects,
 * overflowing counts); the model gives each call's return code and the observers' answers.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"

static struct {
    weft_lock l;
    weft_rlock r;
    weft_cond c;
    weft_sem s;
    weft_event e;
    weft_barrier b;
    weft_latch t;
    weft_once_flag o;
} w;

static struct {
    bool locked;
    uint32_t rcount;
    int ckind; /* 0 own RLock, 1 the lock, 2 the RLock */
    uint32_t ccount;
    uint64_t sval, slimit; /* slimit: the highest value (UINT32_MAX: unbounded) */
    bool eset;
    uint32_t parties;
    bool broken, bdefault;
    int action_rc, actions;
    uint32_t latch;
    bool once_done;
    int once_rc, once_calls;
} m;

static int action(void *arg)
{
    (void)arg;
    m.actions++;
    return m.action_rc;
}

static int once_fn(void *arg)
{
    (void)arg;
    m.once_calls++;
    return m.once_rc;
}

static int pred_true(void *arg)
{
    (void)arg;
    return 1;
}

static int pred_false(void *arg)
{
    (void)arg;
    return 0;
}

/* Whether the condition's lock is held by the calling thread (the only one). */
static bool cond_held(void)
{
    return m.ckind == 1 ? m.locked : m.ckind == 2 ? m.rcount > 0 : m.ccount > 0;
}

static void op_lock(struct fz *f)
{
    uint8_t b = fz_u8(f);
    weft_ns t;
    switch (b % 4) {
    case 0: {
        int kind = fz_timeout(f, !m.locked, &t);
        int rc = weft_lock_acquire(&w.l, t);
        FZ_RC("weft_lock_acquire", rc,
              kind == FZ_T_NEGATIVE ? WEFT_EINVAL
              : m.locked            ? fz_not_ready(kind)
                                    : 0);
        if (rc == 0) m.locked = true;
        break;
    }
    case 1:
        FZ_RC("weft_lock_release", weft_lock_release(&w.l), m.locked ? 0 : WEFT_ESTATE);
        m.locked = false;
        break;
    case 2:
        FZ_EQ("weft_lock_locked", weft_lock_locked(&w.l), m.locked);
        break;
    default:
        if (m.locked || m.ckind == 1) break; /* "not for a lock other threads use" */
        FZ_RC("weft_lock_init", weft_lock_init(&w.l), 0);
    }
}

static void op_rlock(struct fz *f)
{
    uint8_t b = fz_u8(f);
    weft_ns t;
    switch (b % 3) {
    case 0: {
        int kind = fz_timeout(f, true, &t);
        int rc = weft_rlock_acquire(&w.r, t);
        FZ_RC("weft_rlock_acquire", rc, kind == FZ_T_NEGATIVE ? WEFT_EINVAL : 0);
        if (rc == 0) m.rcount++;
        break;
    }
    case 1:
        FZ_RC("weft_rlock_release", weft_rlock_release(&w.r), m.rcount ? 0 : WEFT_EPERM);
        if (m.rcount) m.rcount--;
        break;
    default:
        FZ_EQ("weft_rlock_is_owned", weft_rlock_is_owned(&w.r), m.rcount > 0);
    }
}

static void op_cond_bind(struct fz *f)
{
    if (cond_held() && m.ckind == 0) return; /* keep the own RLock's level count simple */
    int kind = fz_u8(f) % 4;
    if (kind == 3) {
        w.c = (weft_cond)WEFT_COND_INIT;
        kind = 0;
    } else if (kind == 0) {
        FZ_RC("weft_cond_init(c, NULL)", weft_cond_init(&w.c, NULL), 0);
    } else if (kind == 1) {
        FZ_RC("weft_cond_init(c, lock)", weft_cond_init(&w.c, &w.l), 0);
    } else {
        FZ_RC("weft_cond_init_rlock", weft_cond_init_rlock(&w.c, &w.r), 0);
    }
    m.ckind = kind;
    m.ccount = 0;
}

/* Acquiring or releasing the condition's lock moves the model of the lock it is bound to. */
static void cond_took(void)
{
    if (m.ckind == 1)
        m.locked = true;
    else if (m.ckind == 2)
        m.rcount++;
    else
        m.ccount++;
}

static void op_cond(struct fz *f)
{
    uint8_t b = fz_u8(f);
    weft_ns t;
    bool held = cond_held();
    int want, rc, kind;
    switch (b % 6) {
    case 0: /* acquire: only a bound weft_lock held already would wait */
        kind = fz_timeout(f, !(m.ckind == 1 && m.locked), &t);
        rc = weft_cond_acquire(&w.c, t);
        want = kind == FZ_T_NEGATIVE      ? WEFT_EINVAL
               : m.ckind == 1 && m.locked ? fz_not_ready(kind)
                                          : 0;
        FZ_RC("weft_cond_acquire", rc, want);
        if (rc == 0) cond_took();
        break;
    case 1:
        rc = weft_cond_release(&w.c);
        want = held ? 0 : m.ckind == 1 ? WEFT_ESTATE : WEFT_EPERM;
        FZ_RC("weft_cond_release", rc, want);
        if (rc == 0) {
            if (m.ckind == 1)
                m.locked = false;
            else if (m.ckind == 2)
                m.rcount--;
            else
                m.ccount--;
        }
        break;
    case 2: /* wait: nobody notifies, so it can only time out */
        kind = fz_timeout(f, false, &t);
        rc = weft_cond_wait(&w.c, t);
        want = kind == FZ_T_NEGATIVE ? WEFT_EINVAL : !held ? WEFT_EPERM : fz_not_ready(kind);
        FZ_RC2("weft_cond_wait", rc, want, held ? want : WEFT_EPERM);
        FZ_EQ("the lock held after weft_cond_wait", cond_held(), held);
        if (m.ckind == 2)
            FZ_EQ("RLock owned after weft_cond_wait", weft_rlock_is_owned(&w.r), held);
        if (m.ckind == 1) FZ_EQ("lock locked after weft_cond_wait", weft_lock_locked(&w.l), held);
        break;
    case 3: {
        bool truth = b & 0x10, null_pred = (b & 0x60) == 0x60;
        kind = fz_timeout(f, truth, &t);
        rc = weft_cond_wait_for(&w.c, null_pred ? NULL : truth ? pred_true : pred_false, NULL, t);
        want = kind == FZ_T_NEGATIVE || null_pred ? WEFT_EINVAL
               : !held                            ? WEFT_EPERM
               : truth                            ? 0
                                                  : fz_not_ready(kind);
        FZ_RC2("weft_cond_wait_for", rc, want, held ? want : WEFT_EPERM);
        FZ_EQ("the lock held after weft_cond_wait_for", cond_held(), held);
        break;
    }
    case 4:
        FZ_RC("weft_cond_notify", weft_cond_notify(&w.c, fz_u32(f)), held ? 0 : WEFT_EPERM);
        break;
    default:
        FZ_RC("weft_cond_notify_all", weft_cond_notify_all(&w.c), held ? 0 : WEFT_EPERM);
    }
}

static void op_sem(struct fz *f)
{
    static const uint32_t values[] = {0, 1, 2, 7, UINT32_MAX - 1, UINT32_MAX};
    uint8_t b = fz_u8(f);
    weft_ns t;
    switch (b % 5) {
    case 0: {
        uint32_t v = values[(b >> 3) % 6];
        if (b & 4) {
            int rc = weft_sem_init_bounded(&w.s, v);
            FZ_RC("weft_sem_init_bounded", rc, v == UINT32_MAX ? WEFT_EINVAL : 0);
            if (rc == 0) m.sval = m.slimit = v;
        } else {
            FZ_RC("weft_sem_init", weft_sem_init(&w.s, v), 0);
            m.sval = v, m.slimit = UINT32_MAX;
        }
        break;
    }
    case 1:
    case 2: {
        int kind = fz_timeout(f, m.sval > 0, &t);
        int rc = weft_sem_acquire(&w.s, t);
        FZ_RC("weft_sem_acquire", rc,
              kind == FZ_T_NEGATIVE ? WEFT_EINVAL
              : m.sval              ? 0
                                    : fz_not_ready(kind));
        if (rc == 0) m.sval--;
        break;
    }
    case 3: {
        static const uint32_t ns[] = {0, 1, 2, 3, UINT32_MAX};
        uint32_t n = ns[(b >> 3) % 5];
        uint64_t max = m.slimit;
        int want = n == 0 ? WEFT_EINVAL : m.sval + n > max ? WEFT_EOVERFLOW : 0;
        FZ_RC("weft_sem_release", weft_sem_release(&w.s, n), want);
        if (want == 0) m.sval += n;
        break;
    }
    default:
        FZ_EQ("weft_sem_value", weft_sem_value(&w.s), m.sval);
    }
}

static void op_event(struct fz *f)
{
    uint8_t b = fz_u8(f);
    weft_ns t;
    switch (b % 5) {
    case 0:
        FZ_RC("weft_event_set", weft_event_set(&w.e), 0);
        m.eset = true;
        break;
    case 1:
        FZ_RC("weft_event_clear", weft_event_clear(&w.e), 0);
        m.eset = false;
        break;
    case 2:
        FZ_EQ("weft_event_is_set", weft_event_is_set(&w.e), m.eset);
        break;
    case 3:
        FZ_RC("weft_event_init", weft_event_init(&w.e), 0);
        m.eset = false;
        break;
    default: {
        int kind = fz_timeout(f, m.eset, &t);
        FZ_RC("weft_event_wait", weft_event_wait(&w.e, t),
              kind == FZ_T_NEGATIVE ? WEFT_EINVAL
              : m.eset              ? 0
                                    : fz_not_ready(kind));
    }
    }
}

static void op_barrier(struct fz *f)
{
    uint8_t b = fz_u8(f);
    weft_ns t;
    switch (b % 7) {
    case 0: {
        uint32_t parties = (b >> 3) % 4;
        int rc = weft_barrier_init(&w.b, parties, b & 0x80 ? action : NULL, NULL);
        FZ_RC("weft_barrier_init", rc, parties ? 0 : WEFT_EINVAL);
        if (rc == 0) m.parties = parties, m.broken = m.bdefault = false;
        m.action_rc = 0;
        break;
    }
    case 1: {
        static const weft_ns defaults[] = {1, 0, -1, WEFT_FOREVER};
        weft_ns d = defaults[(b >> 3) % 4];
        int rc = weft_barrier_set_timeout(&w.b, d);
        FZ_RC("weft_barrier_set_timeout", rc, d > 0 ? 0 : WEFT_EINVAL);
        if (rc == 0) m.bdefault = d != WEFT_FOREVER;
        break;
    }
    case 2: {
        /* FOREVER waits only where it cannot: broken, the last party, or a default timeout */
        bool last = m.parties == 1;
        int kind = fz_timeout(f, m.broken || last || m.bdefault || m.parties == 0, &t);
        m.action_rc = b & 0x40 ? 0 : WEFT_EFAILED;
        int before = m.actions;
        bool was_broken = m.broken, has_action = w.b.action != NULL;
        int rc = weft_barrier_wait(&w.b, t);
        int want;
        if (kind == FZ_T_NEGATIVE || m.parties == 0)
            want = WEFT_EINVAL;
        else if (m.broken)
            want = WEFT_EBROKEN;
        else if (last)
            want = has_action && m.action_rc ? WEFT_EBROKEN : 0;
        else if (kind == FZ_T_ZERO)
            want = WEFT_EAGAIN;
        else
            want = WEFT_ETIMEDOUT; /* 1 ns, or the default timeout */
        FZ_RC("weft_barrier_wait", rc, want);
        if (want == WEFT_ETIMEDOUT || want == WEFT_EBROKEN) m.broken = true;
        bool ran = want != WEFT_EINVAL && last && !was_broken && has_action;
        FZ_EQ("barrier actions run", m.actions, before + ran);
        break;
    }
    case 3:
        FZ_RC("weft_barrier_abort", weft_barrier_abort(&w.b), 0);
        m.broken = true;
        break;
    case 4:
        FZ_RC("weft_barrier_reset", weft_barrier_reset(&w.b), 0);
        m.broken = false;
        break;
    case 5:
        FZ_EQ("weft_barrier_broken", weft_barrier_broken(&w.b), m.broken);
        FZ_EQ("weft_barrier_n_waiting", weft_barrier_n_waiting(&w.b), 0);
        break;
    default:
        if (b & 0x80) {
            w.b = (weft_barrier)WEFT_BARRIER_INIT(0, NULL, NULL); /* 0 parties */
            m.parties = 0, m.broken = m.bdefault = false;
        } else {
            w.b = (weft_barrier)WEFT_BARRIER_INIT_TIMEOUT(1 + (b >> 3) % 3, action, NULL, 1);
            m.parties = 1 + (b >> 3) % 3, m.broken = false, m.bdefault = true;
        }
    }
}

static void op_latch(struct fz *f)
{
    static const uint32_t ns[] = {0, 1, 2, 5, UINT32_MAX};
    uint8_t b = fz_u8(f);
    weft_ns t;
    uint32_t n = ns[(b >> 3) % 5];
    switch (b % 4) {
    case 0:
        FZ_RC("weft_latch_init", weft_latch_init(&w.t, n), 0);
        m.latch = n;
        break;
    case 1:
        FZ_RC("weft_latch_count_down", weft_latch_count_down(&w.t, n),
              n > m.latch ? WEFT_EOVERFLOW : 0);
        if (n <= m.latch) m.latch -= n;
        break;
    case 2:
        FZ_EQ("weft_latch_count", weft_latch_count(&w.t), m.latch);
        break;
    default: {
        int kind = fz_timeout(f, m.latch == 0, &t);
        FZ_RC("weft_latch_wait", weft_latch_wait(&w.t, t),
              kind == FZ_T_NEGATIVE ? WEFT_EINVAL
              : m.latch == 0        ? 0
                                    : fz_not_ready(kind));
    }
    }
}

static void op_once(struct fz *f)
{
    uint8_t b = fz_u8(f);
    m.once_rc = b % 3 == 0 ? 7 : b % 3 == 1 ? WEFT_EFAILED : 0;
    int calls = m.once_calls;
    int rc = weft_once(&w.o, once_fn, NULL);
    FZ_RC("weft_once", rc, m.once_done ? 0 : m.once_rc);
    FZ_EQ("weft_once ran fn", m.once_calls - calls, !m.once_done);
    if (rc == 0) m.once_done = true;
}

/* Every NULL object the header defines. */
static void op_null(struct fz *f)
{
    switch (fz_u8(f) % 24) {
    case 0:
        FZ_RC("lock_init(NULL)", weft_lock_init(NULL), WEFT_EINVAL);
        break;
    case 1:
        FZ_RC("lock_acquire(NULL)", weft_lock_acquire(NULL, 0), WEFT_EINVAL);
        break;
    case 2:
        FZ_RC("lock_release(NULL)", weft_lock_release(NULL), WEFT_EINVAL);
        break;
    case 3:
        FZ_RC("lock_locked(NULL)", weft_lock_locked(NULL), WEFT_EINVAL);
        break;
    case 4:
        FZ_RC("rlock_init(NULL)", weft_rlock_init(NULL), WEFT_EINVAL);
        break;
    case 5:
        FZ_RC("rlock_acquire(NULL)", weft_rlock_acquire(NULL, 0), WEFT_EINVAL);
        break;
    case 6:
        FZ_RC("rlock_release(NULL)", weft_rlock_release(NULL), WEFT_EINVAL);
        break;
    case 7:
        FZ_RC("rlock_is_owned(NULL)", weft_rlock_is_owned(NULL), WEFT_EINVAL);
        break;
    case 8:
        FZ_RC("cond_init(NULL)", weft_cond_init(NULL, NULL), WEFT_EINVAL);
        break;
    case 9:
        FZ_RC("cond_init_rlock(NULL)", weft_cond_init_rlock(NULL, NULL), WEFT_EINVAL);
        break;
    case 10:
        FZ_RC("cond_acquire(NULL)", weft_cond_acquire(NULL, 0), WEFT_EINVAL);
        break;
    case 11:
        FZ_RC("cond_release(NULL)", weft_cond_release(NULL), WEFT_EINVAL);
        break;
    case 12:
        FZ_RC("cond_wait(NULL)", weft_cond_wait(NULL, 0), WEFT_EINVAL);
        break;
    case 13:
        FZ_RC("cond_wait_for(NULL)", weft_cond_wait_for(NULL, pred_true, NULL, 0), WEFT_EINVAL);
        break;
    case 14:
        FZ_RC("cond_notify(NULL)", weft_cond_notify(NULL, 1), WEFT_EINVAL);
        break;
    case 15:
        FZ_RC("cond_notify_all(NULL)", weft_cond_notify_all(NULL), WEFT_EINVAL);
        break;
    case 16:
        FZ_RC("sem_init(NULL)", weft_sem_init(NULL, 1), WEFT_EINVAL);
        FZ_RC("sem_init_bounded(NULL)", weft_sem_init_bounded(NULL, 1), WEFT_EINVAL);
        FZ_RC("sem_acquire(NULL)", weft_sem_acquire(NULL, 0), WEFT_EINVAL);
        FZ_RC("sem_release(NULL)", weft_sem_release(NULL, 1), WEFT_EINVAL);
        FZ_EQ("sem_value(NULL)", weft_sem_value(NULL), 0);
        break;
    case 17:
        FZ_RC("event_init(NULL)", weft_event_init(NULL), WEFT_EINVAL);
        FZ_RC("event_set(NULL)", weft_event_set(NULL), WEFT_EINVAL);
        FZ_RC("event_clear(NULL)", weft_event_clear(NULL), WEFT_EINVAL);
        FZ_RC("event_is_set(NULL)", weft_event_is_set(NULL), WEFT_EINVAL);
        FZ_RC("event_wait(NULL)", weft_event_wait(NULL, 0), WEFT_EINVAL);
        break;
    case 18:
        FZ_RC("barrier_init(NULL)", weft_barrier_init(NULL, 1, NULL, NULL), WEFT_EINVAL);
        FZ_RC("barrier_set_timeout(NULL)", weft_barrier_set_timeout(NULL, 1), WEFT_EINVAL);
        FZ_RC("barrier_wait(NULL)", weft_barrier_wait(NULL, 0), WEFT_EINVAL);
        FZ_RC("barrier_abort(NULL)", weft_barrier_abort(NULL), WEFT_EINVAL);
        FZ_RC("barrier_reset(NULL)", weft_barrier_reset(NULL), WEFT_EINVAL);
        FZ_RC("barrier_n_waiting(NULL)", weft_barrier_n_waiting(NULL), WEFT_EINVAL);
        FZ_RC("barrier_broken(NULL)", weft_barrier_broken(NULL), WEFT_EINVAL);
        break;
    case 19:
        FZ_RC("once(NULL)", weft_once(NULL, once_fn, NULL), WEFT_EINVAL);
        FZ_RC("once(flag, NULL)", weft_once(&w.o, NULL, NULL), WEFT_EINVAL);
        break;
    case 20:
        FZ_RC("latch_init(NULL)", weft_latch_init(NULL, 1), WEFT_EINVAL);
        FZ_RC("latch_count_down(NULL)", weft_latch_count_down(NULL, 1), WEFT_EINVAL);
        FZ_RC("latch_wait(NULL)", weft_latch_wait(NULL, 0), WEFT_EINVAL);
        FZ_EQ("latch_count(NULL)", weft_latch_count(NULL), 0);
        break;
    default:
        FZ_RC("cond_wait_for(NULL pred)", weft_cond_wait_for(&w.c, NULL, NULL, 0), WEFT_EINVAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size, 0};
    memset(&w, 0, sizeof w); /* all-zero is a valid object of every kind */
    memset(&m, 0, sizeof m);
    w.s = (weft_sem)WEFT_SEM_INIT(1), m.sval = 1, m.slimit = UINT32_MAX;
    for (int steps = 0; fz_more(&f) && steps < 2000; steps++) {
        switch (fz_u8(&f) % 11) {
        case 0:
            op_lock(&f);
            break;
        case 1:
            op_rlock(&f);
            break;
        case 2:
            op_cond_bind(&f);
            break;
        case 3:
        case 4:
            op_cond(&f);
            break;
        case 5:
            op_sem(&f);
            break;
        case 6:
            op_event(&f);
            break;
        case 7:
            op_barrier(&f);
            break;
        case 8:
            op_latch(&f);
            break;
        case 9:
            op_once(&f);
            break;
        default:
            op_null(&f);
        }
    }
    return 0;
}
