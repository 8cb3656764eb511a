/* tests/fuzz/future_fuzz.c - API-sequence fuzzing of futures and the pool (weft/future.h,
 * weft/pool.h) against a sequential model.
 *
 * The driver is single-threaded in effect: futures made with weft_future_new are completed by
 * the input itself, and the pool (one worker, bounded queue of 3) is kept paused, so that
 * every submitted task stays pending until the input says "run": then the pool is resumed,
 * waited idle and paused again, and each task has run exactly once, with the behaviour the
 * input chose for it (succeed with a result, fail with a message, return a program status).
 * Cancel, wait, result, bytes, callbacks, references, names, weft_wait, weft_wait_split and
 * as_completed are checked against the model's states; at the end the pool error hook must
 * have reported exactly the failures nobody looked at, and every owned result must have been
 * freed once.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "fuzz.h"

#define NF 8

enum { PENDING, RUNNING, FINISHED, CANCELLED };

struct task; /* what a pool task does */

struct mf {
    weft_future *h; /* NULL: slot empty */
    bool pooled;    /* made by the pool (else by weft_future_new) */
    int state, status;
    uintptr_t result;
    bool bytes, seen, owned; /* set_bytes; failure seen by result; result owned (freed) */
    int refs, cbs_added, cbs_run;
    char name[32];
    struct task *task;
};

struct task {
    int behaviour, runs;
    struct mf *m;   /* the future's model while someone holds the future */
    bool orphan;    /* nobody does (fire-and-forget, or released): the pool reports a failure */
    bool settled;   /* ran or was cancelled */
    bool cancelled; /* a task cancelled while queued frees its max_queued place at once */
};

static struct mf mf[NF];
#define NT 32 /* tasks per input */
static struct task tasks[NT];
static int ntasks;
static weft_pool *pool;
static bool pool_shut;
static atomic_int hook_reports, frees;
static int want_reports, want_frees;

static void hook(const char *name, int status, const char *message, void *arg)
{
    (void)name, (void)status, (void)message, (void)arg;
    atomic_fetch_add(&hook_reports, 1);
}

static void free_result(void *p)
{
    atomic_fetch_add(&frees, 1);
    free(p);
}

static void done_cb(weft_future *f, void *arg)
{
    struct mf *m = arg;
    if (f != m->h) FZ_FAIL("a done-callback got another future");
    m->cbs_run++;
}

static int run_task(void *arg, void **result)
{
    struct task *t = arg;
    t->runs++;
    switch (t->behaviour) {
    case 0:
        *result = (void *)(uintptr_t)0x5eed;
        return 0;
    case 1:
        return weft_error_set(WEFT_EFAILED, "task failed on purpose");
    case 2:
        *result = (void *)(uintptr_t)7;
        return 7;
    default:
        return 0;
    }
}

static bool failed(const struct mf *m)
{
    return m->state == FINISHED && m->status != 0;
}

/* The model's side of a future reaching FINISHED or CANCELLED: its pending callbacks run. */
static void finish(struct mf *m, int state, int status, uintptr_t result)
{
    m->state = state;
    m->status = status;
    m->result = result;
    if (m->cbs_run != m->cbs_added)
        FZ_EQ("done-callbacks run when the future finished", m->cbs_run, m->cbs_added);
}

static void unref(struct mf *m)
{
    if (--m->refs > 0) {
        weft_future_unref(m->h);
        return;
    }
    if (m->state == FINISHED && m->status != 0 && !m->seen) want_reports++;
    if (m->owned) want_frees++;
    if (m->task && !m->task->settled) { /* the pool still holds its own reference */
        m->task->m = NULL;
        m->task->orphan = true;
    }
    weft_future_unref(m->h);
    m->h = NULL;
}

static struct mf *pick(uint8_t b)
{
    for (int k = 0; k < NF; k++)
        if (mf[(b + k) % NF].h) return &mf[(b + k) % NF];
    return NULL;
}

static struct mf *empty_slot(void)
{
    for (int i = 0; i < NF; i++)
        if (mf[i].h == NULL) return &mf[i];
    return NULL;
}

static void op_new(struct fz *f)
{
    struct mf *m = empty_slot();
    uint8_t b = fz_u8(f);
    if (m == NULL) return;
    static const char *names[] = {NULL, "", "fetch", "a-name-that-is-longer-than-31-bytes-long"};
    weft_future_opts o = {.name = names[b % 4]};
    if (b % 32 == 5) {
        FZ_RC("weft_future_new(NULL)", weft_future_new(NULL, &o), WEFT_EINVAL);
        return;
    }
    weft_future *h = NULL;
    bool fault = b % 16 == 7;
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    int rc = weft_future_new(&h, b & 0x80 ? NULL : &o);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    if (fault && rc == WEFT_ENOMEM && h == NULL) return;
    FZ_RC("weft_future_new", rc, 0);
    *m = (struct mf){.h = h, .refs = 1};
    if (!(b & 0x80) && o.name) snprintf(m->name, sizeof m->name, "%s", o.name);
}

static void op_submit(struct fz *f)
{
    struct mf *m = empty_slot();
    uint8_t b = fz_u8(f);
    weft_ns t;
    if (pool == NULL || m == NULL || ntasks == NT) return;
    size_t queued = 0;
    for (int i = 0; i < ntasks; i++) queued += !tasks[i].settled;
    int kind = fz_timeout(f, queued < 3 || pool_shut, &t);
    struct task *task = &tasks[ntasks];
    *task = (struct task){.behaviour = b % 4};
    bool forget = (b & 0x30) == 0x30; /* fire-and-forget: no future */
    weft_future *h = NULL;
    bool fault = b % 16 == 9;
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1 + (b >> 4) % 2);
    int rc = b & 0x40
                 ? weft_pool_submit_named(pool, b & 0x80 ? "named" : NULL, run_task, task,
                                          forget ? NULL : &h, t)
                 : weft_pool_submit(pool, b & 0x80 ? NULL : run_task, task, forget ? NULL : &h, t);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    bool null_fn = !(b & 0x40) && (b & 0x80);
    int want = null_fn || kind == FZ_T_NEGATIVE ? WEFT_EINVAL
               : pool_shut                      ? WEFT_ECLOSED
               : queued >= 3                    ? fz_not_ready(kind)
                                                : 0;
    if (fault && want == 0 && rc == WEFT_ENOMEM) return;
    if (null_fn || pool_shut)
        FZ_RC2("weft_pool_submit", rc, want, WEFT_EINVAL);
    else
        FZ_RC("weft_pool_submit", rc, want);
    if (rc != 0) {
        if (h != NULL) FZ_FAIL("weft_pool_submit wrote *out on failure");
        return;
    }
    ntasks++;
    if (forget) {
        task->orphan = true;
        return;
    }
    *m = (struct mf){.h = h, .pooled = true, .refs = 1, .task = task};
    if ((b & 0xc0) == 0xc0) strcpy(m->name, "named");
    task->m = m;
}

/* The model's side of a pending task that ran (or, cancel, was cancelled). */
static void settle(struct task *t, bool cancel)
{
    static const int status[] = {0, WEFT_EFAILED, 7, 0};
    static const uintptr_t result[] = {0x5eed, 0, 7, 0};
    t->settled = true;
    t->cancelled = cancel;
    if (t->orphan) {
        want_reports += !cancel && status[t->behaviour] != 0;
        return;
    }
    if (cancel)
        finish(t->m, CANCELLED, WEFT_ECANCELED, 0);
    else
        finish(t->m, FINISHED, status[t->behaviour], result[t->behaviour]);
}

/* Let the pool run every pending task, then pause it again. */
static void op_run(void)
{
    if (pool == NULL || pool_shut) return;
    FZ_RC("weft_pool_resume", weft_pool_resume(pool), 0);
    FZ_RC("weft_pool_wait_idle", weft_pool_wait_idle(pool, WEFT_FOREVER), 0);
    FZ_RC("weft_pool_pause", weft_pool_pause(pool), 0);
    for (int i = 0; i < ntasks; i++) {
        struct task *t = &tasks[i];
        if (t->settled) continue;
        if (t->m) FZ_RC("weft_future_wait after the pool ran it", weft_future_wait(t->m->h, 0), 0);
        settle(t, false);
    }
}

static void op_shutdown(struct fz *f)
{
    uint8_t b = fz_u8(f);
    if (pool == NULL) return;
    if (b % 8 == 0) {
        FZ_RC("weft_pool_shutdown(negative timeout)", weft_pool_shutdown(pool, 1, 0, -1),
              WEFT_EINVAL);
        return;
    }
    bool cancel = b & 1;
    FZ_RC("weft_pool_shutdown", weft_pool_shutdown(pool, 1, cancel, WEFT_FOREVER), 0);
    for (int i = 0; i < ntasks; i++) {
        if (!tasks[i].settled) settle(&tasks[i], cancel);
    }
    pool_shut = true;
    if (b & 2) { /* its futures outlive it */
        weft_pool_free(pool);
        pool = NULL;
    }
}

static void op_set(struct fz *f, struct mf *m)
{
    uint8_t b = fz_u8(f);
    bool open = m->state == PENDING || m->state == RUNNING;
    int want = m->pooled ? WEFT_EPERM : open ? 0 : WEFT_ESTATE;
    int rc;
    bool fault = b % 16 == 3;
    switch (b % 5) {
    case 0:
        rc = weft_future_set_running(m->h);
        want = m->pooled               ? WEFT_EPERM
               : m->state == PENDING   ? 1
               : m->state == CANCELLED ? 0
                                       : WEFT_ESTATE;
        FZ_RC("weft_future_set_running", rc, want);
        if (rc == 1) m->state = RUNNING;
        return;
    case 1: {
        bool own = b & 0x80;
        void *r = own ? malloc(8) : (void *)(uintptr_t)0x1234;
        rc = weft_future_set_result(m->h, r, own ? free_result : NULL);
        FZ_RC2("weft_future_set_result", rc, want, m->pooled && !open ? WEFT_ESTATE : want);
        if (rc == 0) {
            finish(m, FINISHED, 0, (uintptr_t)r);
            m->owned = own;
        } else if (own) {
            free(r);
        }
        return;
    }
    case 2:
    case 3: {
        static const char data[] = "bytes from another process";
        size_t len = (b >> 3) % sizeof data;
        bool null_data = (b & 0xe0) == 0xe0 && len > 0;
        if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
        rc = weft_future_set_bytes(m->h, null_data ? NULL : data, len);
        weft__fault_arm(WEFT__FAULT_ALLOC, 0);
        if (null_data) want = WEFT_EINVAL;
        /* the copy is made before the state is looked at: ENOMEM may come first */
        if (fault && !null_data && rc == WEFT_ENOMEM) return;
        if (null_data)
            FZ_RC2("weft_future_set_bytes", rc, want, m->pooled ? WEFT_EPERM : want);
        else
            FZ_RC2("weft_future_set_bytes", rc, want, m->pooled && !open ? WEFT_ESTATE : want);
        if (rc == 0) {
            finish(m, FINISHED, 0, 0);
            m->bytes = true;
            const void *got;
            size_t n;
            FZ_RC("weft_future_bytes", weft_future_bytes(m->h, &got, &n, 0), 0);
            FZ_EQ("weft_future_bytes' length", n, len);
            if (len && memcmp(got, data, len) != 0) FZ_FAIL("weft_future_bytes gave other bytes");
        }
        return;
    }
    default: {
        int status = (b >> 3) % 3 == 0 ? 0 : (b >> 3) % 3 == 1 ? WEFT_EFAILED : 99;
        if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
        rc = weft_future_set_failure(m->h, status, b & 0x80 ? NULL : "set on purpose");
        weft__fault_arm(WEFT__FAULT_ALLOC, 0);
        if (status == 0) want = WEFT_EINVAL;
        if (fault && status != 0 && rc == WEFT_ENOMEM) return; /* the message's copy */
        FZ_RC2("weft_future_set_failure", rc, want,
               m->pooled              ? WEFT_EPERM
               : status == 0 && !open ? WEFT_ESTATE
                                      : want);
        if (rc == 0) finish(m, FINISHED, status, 0);
    }
    }
}

static void op_cancel(struct mf *m)
{
    int rc = weft_future_cancel(m->h);
    int want = m->state == PENDING || m->state == CANCELLED ? 0
               : m->state == RUNNING                        ? WEFT_EBUSY
                                                            : WEFT_ESTATE;
    FZ_RC("weft_future_cancel", rc, want);
    if (rc == 0 && m->state == PENDING) {
        if (m->task) m->task->settled = m->task->cancelled = true;
        finish(m, CANCELLED, WEFT_ECANCELED, 0);
    }
}

static void op_result(struct fz *f, struct mf *m)
{
    uint8_t b = fz_u8(f);
    bool done = m->state == FINISHED || m->state == CANCELLED;
    weft_ns t;
    int kind = fz_timeout(f, done, &t);
    void *r = (void *)(uintptr_t)0xbad;
    int rc = b & 1 ? weft_future_wait(m->h, t) : weft_future_result(m->h, b & 2 ? NULL : &r, t);
    if (kind == FZ_T_NEGATIVE || !done) {
        FZ_RC("weft_future_wait/result", rc,
              kind == FZ_T_NEGATIVE ? WEFT_EINVAL : fz_not_ready(kind));
        if (r != (void *)(uintptr_t)0xbad) FZ_FAIL("result written for a future not done");
        return;
    }
    if (b & 1) {
        FZ_RC("weft_future_wait", rc, 0);
        return;
    }
    FZ_RC("weft_future_result", rc, m->state == CANCELLED ? WEFT_ECANCELED : m->status);
    if (m->state == FINISHED && m->status != 0) {
        m->seen = true;
        FZ_EQ("the error slot after a failed result", weft_error_code(), m->status);
    }
    if (!(b & 2) && m->state == FINISHED && !m->bytes)
        FZ_EQ("weft_future_result's result", (uintptr_t)r, m->result);
}

static void op_observe(struct fz *f, struct mf *m)
{
    uint8_t b = fz_u8(f);
    FZ_EQ("weft_future_done", weft_future_done(m->h), m->state >= FINISHED);
    FZ_EQ("weft_future_cancelled", weft_future_cancelled(m->h), m->state == CANCELLED);
    FZ_EQ("weft_future_running", weft_future_running(m->h), m->state == RUNNING);
    FZ_EQ("done-callbacks run", m->cbs_run, m->state >= FINISHED ? m->cbs_added : 0);
    char buf[40];
    static const size_t sizes[] = {0, 1, 4, 40};
    size_t size = sizes[b % 4];
    int rc = weft_future_name(m->h, b & 4 ? NULL : buf, size);
    if ((b & 4) || size == 0) {
        FZ_RC("weft_future_name with no buffer", rc, WEFT_EINVAL);
        return;
    }
    FZ_RC("weft_future_name", rc, 0);
    if (strncmp(buf, m->name, size - 1) != 0 || strlen(buf) >= size)
        FZ_FAIL("weft_future_name gave \"%s\", the model wants \"%s\" cut at %zu", buf, m->name,
                size);
}

static void op_callback(struct fz *f, struct mf *m)
{
    uint8_t b = fz_u8(f);
    if (m->pooled) return; /* their callbacks run on the worker: not this model's business */
    if (b % 8 == 0) {
        FZ_RC("add_done_callback(NULL cb)", weft_future_add_done_callback(m->h, NULL, m),
              WEFT_EINVAL);
        return;
    }
    bool fault = b % 8 == 1, done = m->state >= FINISHED;
    if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
    int rc = weft_future_add_done_callback(m->h, done_cb, m);
    weft__fault_arm(WEFT__FAULT_ALLOC, 0);
    if (fault && rc == WEFT_ENOMEM && !done) return; /* cb will never run */
    FZ_RC("weft_future_add_done_callback", rc, 0);
    m->cbs_added++;
    if (done) FZ_EQ("a callback added to a done future runs at once", m->cbs_run, m->cbs_added);
}

static void op_refs(struct fz *f, struct mf *m)
{
    if (fz_u8(f) % 2) {
        FZ_RC("weft_future_ref", weft_future_ref(m->h), 0);
        m->refs++;
    } else {
        unref(m);
    }
}

/* weft_wait, weft_wait_split or as_completed over a few of the futures. */
static void op_many(struct fz *f)
{
    weft_future *fs[6];
    struct mf *ms[6];
    uint8_t b = fz_u8(f);
    size_t n = b % 7;
    for (size_t i = 0; i < n; i++) {
        ms[i] = pick(fz_u8(f));
        if (ms[i] == NULL) return;
        fs[i] = ms[i]->h;
    }
    int mode = 1 + (b >> 3) % 3;
    size_t first_done = n, first_failed = n, ndone = 0;
    for (size_t i = n; i-- > 0;) {
        if (ms[i]->state >= FINISHED) first_done = i, ndone++;
        if (failed(ms[i])) first_failed = i;
    }
    bool ready = mode == WEFT_FIRST_COMPLETED ? first_done < n
                 : mode == WEFT_ALL_COMPLETED ? ndone == n
                                              : first_failed < n || ndone == n;
    size_t idx = 99;
    int rc;
    switch (b >> 5) {
    case 0:
    case 1:
    case 2:
        rc = weft_wait(fs, n, mode, &idx, 0);
        if (n == 0) {
            FZ_RC("weft_wait(n = 0)", rc, WEFT_EINVAL);
            return;
        }
        FZ_RC("weft_wait", rc, ready ? 0 : WEFT_EAGAIN);
        if (rc == 0)
            FZ_EQ("weft_wait's index", idx,
                  mode == WEFT_FIRST_COMPLETED ? first_done
                  : mode == WEFT_ALL_COMPLETED ? n
                                               : first_failed);
        return;
    case 3:
    case 4:
        rc = weft_wait_split(fs, n, mode, &idx, 0);
        FZ_RC("weft_wait_split", rc, ready || n == 0 ? 0 : WEFT_EAGAIN);
        FZ_EQ("weft_wait_split's ndone", idx, ndone);
        for (size_t i = 0; i < n; i++)
            if ((weft_future_done(fs[i]) == 1) != (i < ndone)) FZ_FAIL("split at %zu wrong", i);
        return;
    case 5:
        FZ_RC("weft_wait(bad mode)", weft_wait(fs, n, 9, NULL, 0), WEFT_EINVAL);
        return;
    default: {
        weft_as_completed *it;
        bool fault = b & 4;
        if (fault) weft__fault_arm(WEFT__FAULT_ALLOC, 1);
        rc = weft_as_completed_new(&it, fs, n);
        weft__fault_arm(WEFT__FAULT_ALLOC, 0);
        if (fault && rc == WEFT_ENOMEM) return;
        FZ_RC("weft_as_completed_new", rc, 0);
        /* the done ones come first, in array order, each future once */
        size_t yielded = 0, distinct_done = 0, distinct = 0;
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (size_t j = 0; j < i; j++) dup |= fs[j] == fs[i];
            distinct += !dup;
            if (!dup && ms[i]->state >= FINISHED) distinct_done++;
        }
        weft_future *got;
        while ((rc = weft_as_completed_next(it, &got, 0)) == 0) {
            if (!weft_future_done(got)) FZ_FAIL("as_completed yielded a future not done");
            yielded++;
        }
        FZ_EQ("futures as_completed yielded", yielded, distinct_done);
        FZ_RC("weft_as_completed_next at the end", rc,
              distinct_done == distinct ? WEFT_ECLOSED : WEFT_EAGAIN);
        weft_as_completed_free(it);
    }
    }
}

static void op_null(struct fz *f)
{
    char buf[4];
    switch (fz_u8(f) % 8) {
    case 0:
        FZ_RC("future_wait(NULL)", weft_future_wait(NULL, 0), WEFT_EINVAL);
        break;
    case 1:
        FZ_RC("future_result(NULL)", weft_future_result(NULL, NULL, 0), WEFT_EINVAL);
        break;
    case 2:
        FZ_RC("future_cancel(NULL)", weft_future_cancel(NULL), WEFT_EINVAL);
        break;
    case 3:
        FZ_RC("future_done(NULL)", weft_future_done(NULL), WEFT_EINVAL);
        FZ_RC("future_cancelled(NULL)", weft_future_cancelled(NULL), WEFT_EINVAL);
        FZ_RC("future_running(NULL)", weft_future_running(NULL), WEFT_EINVAL);
        break;
    case 4:
        FZ_RC("future_ref(NULL)", weft_future_ref(NULL), WEFT_EINVAL);
        weft_future_unref(NULL);
        FZ_RC("future_name(NULL)", weft_future_name(NULL, buf, sizeof buf), WEFT_EINVAL);
        break;
    case 5:
        FZ_RC("set_running(NULL)", weft_future_set_running(NULL), WEFT_EINVAL);
        FZ_RC("set_result(NULL)", weft_future_set_result(NULL, NULL, NULL), WEFT_EINVAL);
        FZ_RC("set_bytes(NULL)", weft_future_set_bytes(NULL, buf, 1), WEFT_EINVAL);
        FZ_RC("set_failure(NULL)", weft_future_set_failure(NULL, 1, NULL), WEFT_EINVAL);
        break;
    case 6:
        FZ_RC("pool_submit(NULL)", weft_pool_submit(NULL, run_task, NULL, NULL, 0), WEFT_EINVAL);
        FZ_RC("pool_shutdown(NULL)", weft_pool_shutdown(NULL, 1, 0, 0), WEFT_EINVAL);
        FZ_RC("pool_pause(NULL)", weft_pool_pause(NULL), WEFT_EINVAL);
        weft_pool_free(NULL);
        break;
    default:
        FZ_RC("weft_wait(NULL)", weft_wait(NULL, 1, WEFT_ALL_COMPLETED, NULL, 0), WEFT_EINVAL);
        FZ_RC("as_completed_new(NULL)", weft_as_completed_new(NULL, NULL, 0), WEFT_EINVAL);
        weft_as_completed_free(NULL);
    }
}

static void start(struct fz *f)
{
    memset(mf, 0, sizeof mf);
    memset(tasks, 0, sizeof tasks);
    ntasks = 0;
    pool = NULL;
    pool_shut = false;
    want_reports = want_frees = 0;
    atomic_store(&hook_reports, 0);
    atomic_store(&frees, 0);
    weft_pool_set_error_hook(hook, NULL);
    if (fz_u8(f) % 4 == 0) return; /* futures alone */
    weft_pool_opts o = {.max_workers = 1, .max_queued = 3, .name_prefix = "fz"};
    FZ_RC("weft_pool_new", weft_pool_new(&pool, &o), 0);
    FZ_RC("weft_pool_pause", weft_pool_pause(pool), 0);
}

/* The threads of this process (/proc/self/task), -1 if it cannot be read. */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* weft_pool_free returns once the workers are done, not once their threads are gone; a thread
 * frees its record cache as it ends. Wait (up to 2 s) for the input's workers to be gone, so that
 * libFuzzer's leak check never meets one: once the process has used more thread ids than
 * pid_max, LeakSanitizer (clang 14) may not find a reused id in its registry and then scans
 * neither the stack nor the TLS of that thread, so the cache its TLS holds looks leaked
 * (tests/fuzz/README.md, "Leak checks and thread ids"). */
static void await_workers(int before)
{
    for (int i = 0; i < 20000 && before >= 0 && threads_now() > before; i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

static void finish_input(void)
{
    if (pool) {
        op_run();
        weft_pool_free(pool); /* runs what is queued, joins the worker */
        for (int i = 0; i < ntasks; i++)
            if (!tasks[i].settled) settle(&tasks[i], false);
    }
    for (int i = 0; i < NF; i++)
        while (mf[i].h) unref(&mf[i]);
    for (int i = 0; i < ntasks; i++) {
        if (tasks[i].runs != !tasks[i].cancelled) FZ_FAIL("task %d ran %d times", i, tasks[i].runs);
    }
    FZ_EQ("unseen failures reported by the error hook", atomic_load(&hook_reports), want_reports);
    FZ_EQ("owned results freed", atomic_load(&frees), want_frees);
    weft_pool_set_error_hook(NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int trace = -1;
    if (trace < 0) trace = getenv("FZ_TRACE") != NULL;
    struct fz f = {data, size, 0};
    int threads_before = threads_now();
    start(&f);
    for (int steps = 0; fz_more(&f) && steps < 500; steps++) {
        uint8_t op = fz_u8(&f);
        struct mf *m = pick(op >> 4);
        if (trace) /* FZ_TRACE=1 in the environment: each step on stderr */
            fprintf(stderr, "op %d on slot %d (state %d refs %d cbs %d/%d)\n", op % 14,
                    m ? (int)(m - mf) : -1, m ? m->state : -1, m ? m->refs : 0, m ? m->cbs_run : 0,
                    m ? m->cbs_added : 0);
        switch (op % 14) {
        case 0:
            op_new(&f);
            break;
        case 1:
        case 2:
            op_submit(&f);
            break;
        case 3:
            op_run();
            break;
        case 4:
            op_shutdown(&f);
            break;
        case 5:
            op_many(&f);
            break;
        case 6:
            op_null(&f);
            break;
        default:
            if (m == NULL) {
                op_new(&f);
                break;
            }
            switch (op % 14) {
            case 7:
            case 8:
                op_set(&f, m);
                break;
            case 9:
                op_cancel(m);
                break;
            case 10:
                op_result(&f, m);
                break;
            case 11:
                op_observe(&f, m);
                break;
            case 12:
                op_callback(&f, m);
                break;
            default:
                op_refs(&f, m);
            }
        }
    }
    finish_input();
    await_workers(threads_before);
    return 0;
}
