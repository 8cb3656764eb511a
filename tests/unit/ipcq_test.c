/* tests/unit/ipcq_test.c - the queue between processes (multiprocessing.Queue, JoinableQueue):
 * order, timeouts, close, task_done/join, cancellation of blocked calls, bad input; exactly
 * once under 4 producer and 4 consumer processes with close at random moments; a producer
 * SIGKILLed mid-stream (no torn or duplicated message), a consumer SIGKILLed while others wait
 * (nobody hangs), a peer that corrupts the segment (errors, never a crash); handing the queue
 * to a child started by the process module; the fence mode's changes, and no lost wake-up
 * while they happen; following the waker to its CPU on a crowded machine (never outside the
 * mask, which stays as it was).
 *
 * Children are made with fork() (they use the handle they inherited) or weft_process_start
 * (they attach from the descriptor). They report through a MAP_SHARED result area and their
 * exit status; a child never calls ck_assert. */
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcq/ipcq_internal.h"
#include "test.h"
#include "test_hooks.h"

static weft_ipcq *make_flags(size_t capacity, size_t max_msg, unsigned flags)
{
    weft_ipcq_opts o = {capacity, max_msg, flags, {0}};
    weft_ipcq *q = NULL;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    return q;
}

static weft_ipcq *make(size_t capacity, size_t max_msg)
{
    weft_ipcq_opts o = {capacity, max_msg, 0, {0}};
    weft_ipcq *q = NULL;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    return q;
}

static void *shared_area(size_t n)
{
    void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    return m;
}

/* Fork a child running fn(q, arg); its return value is its exit status. */
static pid_t child(int (*fn)(weft_ipcq *, void *), weft_ipcq *q, void *arg)
{
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) _exit(fn(q, arg));
    return p;
}

/* The child's exit status, or 128 + the signal that killed it. */
static int reap(pid_t p)
{
    int st;
    while (waitpid(p, &st, 0) < 0) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait until n threads sleep on ev (a handshake through the segment; no timing). */
static void await_sleepers(struct ipcq_event *ev, uint32_t n)
{
    while (atomic_load(&ev->sleepers) < n) weft_sleep(WEFT_US(200));
}

/* Wait until n processes are in q's table of attached processes. */
static void await_attached(weft_ipcq *q, int n)
{
    for (;;) {
        int k = 0;
        for (int i = 0; i < WEFT_IPCQ_PEERS_MAX; i++) k += atomic_load(&q->seg->peers[i]) > 0;
        if (k >= n) return;
        weft_sleep(WEFT_US(200));
    }
}

START_TEST(ipcq_put_get_keep_fifo_order_and_lengths)
{
    weft_ipcq *q = make(4, 16);
    ck_assert_uint_eq(weft_ipcq_capacity(q), 4);
    ck_assert_uint_eq(weft_ipcq_max_msg(q), 16);
    ck_assert_weft(weft_ipcq_put(q, "one", 3, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, NULL, 0, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, "sixteen bytes!!!", 16, 0), 0);
    ck_assert_uint_eq(weft_ipcq_size(q), 3);
    char buf[16];
    size_t n = 99;
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(buf, "one", 3), 0);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_weft(weft_ipcq_get(q, buf, 4, &n, 0), WEFT_ENOSPC); /* stays inside */
    ck_assert_uint_eq(n, 16);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0);
    ck_assert_int_eq(memcmp(buf, "sixteen bytes!!!", 16), 0);
    ck_assert_uint_eq(weft_ipcq_size(q), 0);
    /* Around the ring several times (capacity 4 in 4 slots). */
    for (int i = 0; i < 50; i++) {
        ck_assert_weft(weft_ipcq_put(q, &i, sizeof i, 0), 0);
        int v = -1;
        ck_assert_weft(weft_ipcq_get(q, &v, sizeof v, &n, 0), 0);
        ck_assert_int_eq(v, i);
    }
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

START_TEST(ipcq_timeouts_zero_and_limited)
{
    weft_ipcq *q = make(3, 8);
    char buf[8];
    size_t n;
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_MS(20)), WEFT_ETIMEDOUT);
    for (int i = 0; i < 3; i++) ck_assert_weft(weft_ipcq_put(q, "x", 1, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, "x", 1, 0), WEFT_EAGAIN); /* capacity 3, 4 slots */
    ck_assert_weft(weft_ipcq_put(q, "x", 1, WEFT_MS(20)), WEFT_ETIMEDOUT);
    ck_assert_uint_eq(weft_ipcq_size(q), 3);
    /* The internal face (for the process pool): try, then wait. */
    ck_assert_weft(weft__ipcq_try_put(q, "x", 1), WEFT_EAGAIN);
    ck_assert_weft(weft__ipcq_wait(q, true, weft_deadline(WEFT_MS(5))), WEFT_ETIMEDOUT);
    ck_assert_weft(weft__ipcq_wait(q, false, weft_deadline(0)), 0);
    ck_assert_weft(weft__ipcq_try_get(q, buf, sizeof buf, &n), 0);
    ck_assert_weft(weft__ipcq_wait(q, true, WEFT_FOREVER), 0);
    ck_assert_weft(weft__ipcq_try_put(q, "x", 1), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

static int get_one_report(weft_ipcq *q, void *arg)
{
    int *out = arg;
    char buf[8];
    size_t n;
    *out = weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER);
    return 0;
}

START_TEST(ipcq_close_drains_then_every_get_is_closed)
{
    weft_ipcq *q = make(4, 8);
    int *res = shared_area(4096);
    res[0] = 1;
    pid_t c = child(get_one_report, q, &res[0]); /* blocks: the queue is empty */
    await_sleepers(&q->seg->not_empty, 1);
    ck_assert_weft(weft_ipcq_put(q, "a", 1, 0), 0);
    ck_assert_int_eq(reap(c), 0);
    ck_assert_weft(res[0], 0);
    ck_assert_weft(weft_ipcq_put(q, "b", 1, 0), 0);
    ck_assert_weft(weft_ipcq_put(q, "c", 1, 0), 0);
    res[1] = 1;
    ck_assert_weft(weft_ipcq_close(q), 0);
    ck_assert_weft(weft_ipcq_close(q), 0);
    ck_assert_int_eq(weft_ipcq_is_closed(q), 1);
    ck_assert_weft(weft_ipcq_put(q, "d", 1, WEFT_FOREVER), WEFT_ECLOSED);
    char buf[8];
    size_t n;
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0);
    ck_assert_int_eq(buf[0], 'b');
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER), 0);
    ck_assert_int_eq(buf[0], 'c');
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER), WEFT_ECLOSED);
    ck_assert_weft(weft_ipcq_free(q), 0);

    /* A consumer blocked in another process is woken by the close. */
    q = make(4, 8);
    c = child(get_one_report, q, &res[1]);
    await_sleepers(&q->seg->not_empty, 1);
    ck_assert_weft(weft_ipcq_close(q), 0);
    ck_assert_int_eq(reap(c), 0);
    ck_assert_weft(res[1], WEFT_ECLOSED);
    ck_assert_weft(weft_ipcq_free(q), 0);
    munmap(res, 4096);
}
END_TEST

static int worker_task_done(weft_ipcq *q, void *arg)
{
    (void)arg;
    char buf[8];
    size_t n;
    int r;
    while ((r = weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER)) == 0)
        if (weft_ipcq_task_done(q) != 0) return 2;
    return r == WEFT_ECLOSED ? 0 : 1;
}

START_TEST(ipcq_join_waits_for_every_task_done)
{
    weft_ipcq *q = make(8, 8);
    ck_assert_weft(weft_ipcq_join(q, 0), 0); /* nothing was put */
    ck_assert_weft(weft_ipcq_task_done(q), WEFT_EOVERFLOW);
    for (int i = 0; i < 5; i++) ck_assert_weft(weft_ipcq_put(q, "t", 1, 0), 0);
    ck_assert_uint_eq(weft_ipcq_unfinished(q), 5);
    ck_assert_weft(weft_ipcq_join(q, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_ipcq_join(q, WEFT_MS(10)), WEFT_ETIMEDOUT);
    pid_t c = child(worker_task_done, q, NULL);
    for (int i = 0; i < 20; i++) ck_assert_weft(weft_ipcq_put(q, "t", 1, WEFT_FOREVER), 0);
    ck_assert_weft(weft_ipcq_join(q, WEFT_FOREVER), 0);
    ck_assert_uint_eq(weft_ipcq_unfinished(q), 0);
    ck_assert_weft(weft_ipcq_task_done(q), WEFT_EOVERFLOW);
    ck_assert_weft(weft_ipcq_close(q), 0);
    ck_assert_int_eq(reap(c), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

struct blocked {
    weft_ipcq *q;
    int op; /* 0 get, 1 put, 2 join */
    int rc;
};

static int blocked_call(void *arg)
{
    struct blocked *b = arg;
    char buf[8];
    size_t n;
    b->rc = b->op == 0   ? weft_ipcq_get(b->q, buf, sizeof buf, &n, WEFT_FOREVER)
            : b->op == 1 ? weft_ipcq_put(b->q, "p", 1, WEFT_FOREVER)
                         : weft_ipcq_join(b->q, WEFT_FOREVER);
    return 0;
}

START_TEST(ipcq_blocked_calls_are_cancellation_points)
{
    weft_ipcq *q = make(1, 8);
    struct ipcq_event *evs[3] = {&q->seg->not_empty, &q->seg->not_full, &q->seg->joined};
    for (int op = 0; op < 3; op++) {
        if (op == 1) ck_assert_weft(weft_ipcq_put(q, "f", 1, 0), 0); /* full, one task */
        struct blocked b = {q, op, 1};
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, blocked_call, &b, NULL), 0);
        await_sleepers(evs[op], 1);
        ck_assert_weft(weft_thread_stop(t), 0);
        ck_assert_weft(weft_thread_join(t, NULL, WEFT_FOREVER), 0);
        ck_assert_weft(b.rc, WEFT_ECANCELED);
        ck_assert_uint_eq(atomic_load(&evs[op]->sleepers), 0);
    }
    ck_assert_uint_eq(weft_ipcq_size(q), 1); /* the cancelled put left nothing behind */
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

START_TEST(ipcq_bad_input_is_an_error_with_a_message)
{
    weft_ipcq *q = make(2, 8);
    char buf[16];
    size_t n;
    ck_assert_weft(weft_ipcq_new(NULL, NULL), WEFT_EINVAL);
    weft_ipcq_opts big = {WEFT_IPCQ_CAPACITY_MAX + 1, 8, 0, {0}};
    weft_ipcq *x = NULL;
    ck_assert_weft(weft_ipcq_new(&x, &big), WEFT_EINVAL);
    big = (weft_ipcq_opts){8, WEFT_IPCQ_MSG_MAX + 1, 0, {0}};
    ck_assert_weft(weft_ipcq_new(&x, &big), WEFT_EINVAL);
    big = (weft_ipcq_opts){WEFT_IPCQ_CAPACITY_MAX, WEFT_IPCQ_MSG_MAX, 0, {0}};
    ck_assert_weft(weft_ipcq_new(&x, &big), WEFT_EINVAL);
    big = (weft_ipcq_opts){8, 8, 8, {0}};
    ck_assert_weft(weft_ipcq_new(&x, &big), WEFT_EINVAL); /* unknown flag */
    ck_assert_ptr_null(x);
    ck_assert_weft(weft_ipcq_put(q, "123456789", 9, 0), WEFT_EINVAL); /* too large */
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "max_msg"));
    ck_assert_weft(weft_ipcq_put(NULL, "x", 1, 0), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_put(q, NULL, 1, 0), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_put(q, "x", 1, -1), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, NULL, 0), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_get(q, NULL, 4, &n, 0), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, -5), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_join(q, -1), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_task_done(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_close(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_fd(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_attach(NULL, weft_ipcq_fd(q)), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_attach(&x, -1), WEFT_EINVAL);
    ck_assert_weft(weft_ipcq_free(NULL), 0);
    /* Descriptors that are not a queue. */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_weft(weft_ipcq_attach(&x, fds[0]), WEFT_EBROKEN);
    close(fds[0]);
    close(fds[1]);
    FILE *f = tmpfile();
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fflush(f);
    ck_assert_weft(weft_ipcq_attach(&x, fileno(f)), WEFT_EBROKEN);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "magic"));
    fclose(f);
    /* The right header on a descriptor of another size. */
    int fd = weft_ipcq_fd(q);
    off_t size = lseek(fd, 0, SEEK_END);
    ck_assert_int_eq(ftruncate(fd, size + 4096), 0);
    ck_assert_weft(weft_ipcq_attach(&x, fd), WEFT_EBROKEN);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "size"));
    ck_assert_int_eq(ftruncate(fd, size), 0);
    ck_assert_weft(weft_ipcq_attach(&x, fd), 0);
    ck_assert_weft(weft_ipcq_free(x), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

/* ---- exactly once: 4 producers, 4 consumers, close at a random moment ---- */

#define NPROD 4
#define NCONS 4

struct tally {
    _Atomic long put[NPROD];                      /* messages each producer put (returned 0) */
    _Atomic long got[NCONS][NPROD];               /* messages each consumer got, by producer */
    _Atomic unsigned long long sum[NCONS][NPROD]; /* sum of (seq + 1) * 2654435761 */
    _Atomic int bad;                              /* a child saw something wrong */
};

struct msg {
    uint32_t producer, seq;
    uint64_t check;
    unsigned char pad[24];
};

static uint64_t check_of(uint32_t p, uint32_t s)
{
    return ((uint64_t)p << 32 | s) * 0x9e3779b97f4a7c15ull;
}

struct role {
    struct tally *t;
    uint32_t id;
};

static int produce(weft_ipcq *q, void *arg)
{
    struct role *r = arg;
    for (uint32_t s = 0;; s++) {
        struct msg m = {r->id, s, check_of(r->id, s), {0}};
        memset(m.pad, (int)(s & 0xff), sizeof m.pad);
        int rc = weft_ipcq_put(q, &m, sizeof m, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0) return 1;
        atomic_store(&r->t->put[r->id], (long)s + 1);
    }
}

static int consume(weft_ipcq *q, void *arg)
{
    struct role *r = arg;
    int64_t last[NPROD] = {-1, -1, -1, -1};
    for (;;) {
        struct msg m;
        size_t n;
        int rc = weft_ipcq_get(q, &m, sizeof m, &n, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0 || n != sizeof m || m.producer >= NPROD ||
            m.check != check_of(m.producer, m.seq) || (int64_t)m.seq <= last[m.producer]) {
            atomic_store(&r->t->bad, 1);
            return 1;
        }
        last[m.producer] = m.seq;
        atomic_fetch_add(&r->t->got[r->id][m.producer], 1);
        atomic_fetch_add(&r->t->sum[r->id][m.producer], (m.seq + 1ull) * 2654435761ull);
    }
}

START_TEST(ipcq_every_message_once_under_4_producers_4_consumers_and_close)
{
    struct tally *t = shared_area(sizeof *t);
    struct role roles[NPROD + NCONS];
    long rounds = weft_test_scale(20);
    srand((unsigned)weft_test_seed()); /* WEFT_SEED replays the close points */
    for (long round = 0; round < rounds; round++) {
        memset(t, 0, sizeof *t);
        weft_ipcq *q = make(1 + (size_t)(rand() % 64), sizeof(struct msg));
        pid_t kids[NPROD + NCONS];
        for (int i = 0; i < NCONS; i++) {
            roles[i] = (struct role){t, (uint32_t)i};
            kids[i] = child(consume, q, &roles[i]);
        }
        for (int i = 0; i < NPROD; i++) {
            roles[NCONS + i] = (struct role){t, (uint32_t)i};
            kids[NCONS + i] = child(produce, q, &roles[NCONS + i]);
        }
        /* Close at a random moment: after a random number of messages went through. */
        long target = rand() % 3000;
        while (weft_ipcq_unfinished(q) < (size_t)target && atomic_load(&t->put[0]) < target)
            weft_sleep(WEFT_US(50));
        ck_assert_weft(weft_ipcq_close(q), 0);
        for (int i = 0; i < NPROD + NCONS; i++) ck_assert_int_eq(reap(kids[i]), 0);
        ck_assert_int_eq(atomic_load(&t->bad), 0);
        for (int p = 0; p < NPROD; p++) {
            long got = 0, put = atomic_load(&t->put[p]);
            unsigned long long sum = 0, want = 0;
            for (int c = 0; c < NCONS; c++) got += t->got[c][p], sum += t->sum[c][p];
            for (long s = 0; s < put; s++) want += (unsigned long long)(s + 1) * 2654435761ull;
            /* A put that returned 0 was taken exactly once; the producer's last put may have
             * been published while it was being closed only if it returned 0. */
            ck_assert_int_eq(got, put);
            ck_assert_uint_eq(sum, want);
        }
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
    munmap(t, sizeof *t);
}
END_TEST

/* ---- a producer killed mid-stream ---- */

#define BIG 4000

static void fill(unsigned char *b, uint32_t id, uint32_t seq)
{
    memcpy(b, &id, 4);
    memcpy(b + 4, &seq, 4);
    for (int i = 8; i < BIG; i++) b[i] = (unsigned char)(id * 31 + seq * 7 + (uint32_t)i);
}

static int torn(const unsigned char *b, size_t n, uint32_t *id, uint32_t *seq)
{
    if (n != BIG) return 1;
    memcpy(id, b, 4);
    memcpy(seq, b + 4, 4);
    for (int i = 8; i < BIG; i++)
        if (b[i] != (unsigned char)(*id * 31 + *seq * 7 + (uint32_t)i)) return 1;
    return 0;
}

struct prod_arg {
    uint32_t id, count; /* count 0: for ever */
    _Atomic uint32_t *progress;
};

static int big_producer(weft_ipcq *q, void *arg)
{
    struct prod_arg *a = arg;
    unsigned char b[BIG];
    for (uint32_t s = 0; a->count == 0 || s < a->count; s++) {
        fill(b, a->id, s);
        if (weft_ipcq_put(q, b, BIG, WEFT_FOREVER) != 0) return 1;
        atomic_store(a->progress, s + 1);
    }
    return 0;
}

START_TEST(ipcq_producer_killed_mid_stream_leaves_no_torn_message)
{
    _Atomic uint32_t *progress = shared_area(4096);
    long rounds = weft_test_scale(30);
    static unsigned char b[BIG];
    for (long round = 0; round < rounds; round++) {
        weft_ipcq *q = make(8, BIG);
        struct prod_arg killed = {0, 0, &progress[0]}, steady = {1, 2000, &progress[1]};
        atomic_store(&progress[0], 0);
        pid_t k = child(big_producer, q, &killed);
        pid_t s = child(big_producer, q, &steady);
        /* Both attached (their first put registers them) before the kill: a wait finds the
         * dead one's death only while another peer is known. */
        await_attached(q, 3);
        int64_t last[2] = {-1, -1};
        long steady_got = 0, kill_at = 5 + round % 50;
        bool dead = false;
        while (steady_got < (long)steady.count) {
            size_t n;
            ck_assert_weft(weft_ipcq_get(q, b, BIG, &n, WEFT_FOREVER), 0);
            uint32_t id, seq;
            ck_assert_msg(!torn(b, n, &id, &seq), "torn message (%zu bytes)", n);
            ck_assert_uint_lt(id, 2);
            ck_assert_msg((int64_t)seq == last[id] + 1, "producer %u: %u after %lld", id, seq,
                          (long long)last[id]);
            last[id] = seq;
            steady_got += id == 1;
            if (!dead && id == 0 && seq == (uint32_t)kill_at) {
                kill(k, SIGKILL); /* most likely while it copies its next message in */
                ck_assert_int_eq(reap(k), 128 + SIGKILL);
                dead = true;
            }
        }
        ck_assert_int_eq(reap(s), 0);
        if (!dead) {
            kill(k, SIGKILL);
            reap(k);
        }
        /* What is left comes from the dead producer, whole, in order, then nothing. */
        size_t n;
        int rc;
        while ((rc = weft_ipcq_get(q, b, BIG, &n, 0)) == 0) {
            uint32_t id, seq;
            ck_assert(!torn(b, n, &id, &seq));
            ck_assert_uint_eq(id, 0);
            ck_assert_int_eq((int64_t)seq, last[0] + 1);
            last[0] = seq;
        }
        ck_assert_weft(rc, WEFT_EAGAIN);
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
    munmap(progress, 4096);
}
END_TEST

/* ---- a consumer killed while others wait ---- */

static _Noreturn int hold_get_lock(weft_ipcq *q, void *arg)
{
    _Atomic int *flag = arg;
    /* Dies holding the consumers' lock, as a consumer killed in the middle of a get. */
    weft__ipcq_lock(q, &q->seg->get.lock, WEFT_FOREVER);
    atomic_store(flag, 1);
    for (;;) pause();
}

static int get_two(weft_ipcq *q, void *arg)
{
    _Atomic int *got = arg;
    char buf[8];
    size_t n;
    for (;;) {
        int rc = weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0) return 1;
        atomic_fetch_add(got, 1);
    }
}

START_TEST(ipcq_consumer_killed_while_others_wait_hangs_nobody)
{
    _Atomic int *area = shared_area(4096);
    long rounds = weft_test_scale(10);
    for (long round = 0; round < rounds; round++) {
        weft_ipcq *q = make(8, 8);
        atomic_store(&area[0], 0);
        atomic_store(&area[1], 0);
        pid_t holder = child(hold_get_lock, q, &area[0]);
        while (!atomic_load(&area[0])) weft_sleep(WEFT_US(100));
        pid_t c1 = child(get_two, q, &area[1]), c2 = child(get_two, q, &area[1]);
        for (int i = 0; i < 6; i++) ck_assert_weft(weft_ipcq_put(q, "m", 1, WEFT_FOREVER), 0);
        kill(holder, SIGKILL);
        ck_assert_int_eq(reap(holder), 128 + SIGKILL);
        while (atomic_load(&area[1]) < 6) weft_sleep(WEFT_US(200));
        ck_assert_weft(weft_ipcq_close(q), 0);
        ck_assert_int_eq(reap(c1), 0);
        ck_assert_int_eq(reap(c2), 0);
        ck_assert_int_eq(atomic_load(&area[1]), 6);
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
    munmap(area, 4096);
}
END_TEST

static int attach_get_then_die(weft_ipcq *q, void *arg)
{
    (void)arg;
    char buf[8];
    size_t n;
    weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER);
    raise(SIGKILL);
    return 0;
}

START_TEST(ipcq_wait_on_dead_peers_returns_died)
{
    weft_ipcq *q = make(1, 8);
    pid_t c = child(attach_get_then_die, q, NULL);
    ck_assert_weft(weft_ipcq_put(q, "1", 1, WEFT_FOREVER), 0);
    ck_assert_weft(weft_ipcq_put(q, "2", 1, WEFT_FOREVER), 0); /* once the child took "1" */
    ck_assert_int_eq(reap(c), 128 + SIGKILL);
    /* Full, and the only consumer is dead: no hang. */
    ck_assert_weft(weft_ipcq_put(q, "3", 1, WEFT_FOREVER), WEFT_EDIED);
    ck_assert_ptr_nonnull(strstr(weft_error_message(), "died"));
    ck_assert_weft(weft_ipcq_join(q, WEFT_FOREVER), WEFT_EDIED);
    char buf[8];
    size_t n;
    ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0); /* still usable */
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

/* ---- a peer that corrupts the segment ---- */

struct scribble {
    unsigned seed;
    int region; /* 0 header, 1 positions and locks, 2 slot lengths, 3 everything */
};

static int scribble(weft_ipcq *q, void *arg)
{
    struct scribble *s = arg;
    unsigned char *base = (unsigned char *)q->seg;
    size_t from = 0, to = q->map_size;
    if (s->region == 0) to = sizeof(struct ipcq_hdr);
    if (s->region == 1)
        from = offsetof(struct ipcq_seg, put), to = offsetof(struct ipcq_seg, peers);
    srand(s->seed);
    for (int i = 0; i < 64; i++) {
        size_t at = from + (size_t)rand() % (to - from);
        if (s->region == 2)
            at = (size_t)(q->slots - base) + (size_t)(rand() % (int)q->nslots) * q->slot_size;
        int len = 1 + rand() % 8;
        for (int j = 0; j < len && at + (size_t)j < q->map_size; j++)
            base[at + (size_t)j] = (unsigned char)rand();
    }
    return 0;
}

START_TEST(ipcq_corrupt_segment_gives_errors_never_a_crash)
{
    long rounds = weft_test_scale(200);
    for (long round = 0; round < rounds; round++) {
        /* Every other round with one producer and one consumer: role words to corrupt. */
        unsigned flags = round % 8 < 4 ? 0 : WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER;
        weft_ipcq *q = make_flags(8, 32, flags);
        char buf[32];
        size_t n;
        for (int i = 0; i < 5; i++) ck_assert_weft(weft_ipcq_put(q, buf, (size_t)i * 7, 0), 0);
        struct scribble s = {(unsigned)round * 7919u + 1, (int)(round % 4)};
        ck_assert_int_eq(reap(child(scribble, q, &s)), 0);
        for (int i = 0; i < 40; i++) {
            int rc = i % 3 ? weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_MS(1))
                           : weft_ipcq_put(q, buf, (size_t)i % 33, WEFT_MS(1));
            ck_assert_msg(rc == 0 || rc == WEFT_EAGAIN || rc == WEFT_ETIMEDOUT ||
                              rc == WEFT_ECLOSED || rc == WEFT_EBROKEN || rc == WEFT_ENOSPC ||
                              (flags && rc == WEFT_EBUSY),
                          "round %ld: %s", round, weft_errname(rc));
            if (rc == 0 && i % 3) ck_assert_uint_le(n, 32);
        }
        (void)weft_ipcq_size(q);
        (void)weft_ipcq_unfinished(q);
        (void)weft_ipcq_task_done(q);
        (void)weft_ipcq_join(q, 0);
        weft_ipcq *x = NULL;
        int rc = weft_ipcq_attach(&x, weft_ipcq_fd(q));
        ck_assert(rc == 0 || rc == WEFT_EBROKEN);
        if (s.region == 0) ck_assert_weft(rc, WEFT_EBROKEN); /* 64 scribbles: never all harmless */
        if (rc == 0) ck_assert_weft(weft_ipcq_free(x), 0);
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
}
END_TEST

static _Noreturn int put_then_hang(weft_ipcq *q, void *arg)
{
    (void)arg;
    weft_ipcq_put(q, "x", 1, WEFT_FOREVER); /* attaches this process as a peer */
    for (;;) pause();
}

struct killer {
    weft_ipcq *q;
    pid_t victim;
};

static int kill_when_asleep(void *arg)
{
    struct killer *k = arg;
    await_sleepers(&k->q->seg->not_empty, 1);
    return kill(k->victim, SIGKILL);
}

START_TEST(ipcq_sleeper_learns_of_its_peers_death_while_asleep)
{
    long rounds = weft_test_scale(10);
    for (long round = 0; round < rounds; round++) {
        weft_ipcq *q = make(4, 8);
        pid_t c = child(put_then_hang, q, NULL);
        char buf[8];
        size_t n;
        ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER), 0);
        /* Asleep on an empty queue, forever, when its only peer is killed: the liveness
         * watcher wakes it (a hang here fails the test by its time limit). */
        struct killer k = {q, c};
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, kill_when_asleep, &k, NULL), 0);
        ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER), WEFT_EDIED);
        int rc = -1;
        ck_assert_weft(weft_thread_join(t, &rc, WEFT_FOREVER), 0);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(reap(c), 128 + SIGKILL);
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
}
END_TEST

/* ---- one producer, one consumer ---- */

static int put_one(weft_ipcq *q, void *arg)
{
    (void)arg;
    return weft_ipcq_put(q, "c", 1, 0) == WEFT_EBUSY ? 0 : 1;
}

static int take_role_and_exit(weft_ipcq *q, void *arg)
{
    (void)arg;
    return weft_ipcq_put(q, "d", 1, 0) == 0 ? 0 : 1;
}

static int put_from_thread(void *arg)
{
    return weft_ipcq_put(arg, "t", 1, 0);
}

START_TEST(ipcq_one_producer_side_belongs_to_one_thread_until_it_dies)
{
    weft_ipcq *q = make_flags(8, 8, WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER);
    ck_assert_weft(weft_ipcq_put(q, "a", 1, 0), 0);     /* this thread is the producer now */
    ck_assert_int_eq(reap(child(put_one, q, NULL)), 0); /* another process: EBUSY */
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, put_from_thread, q, NULL), 0);
    int rc = 0;
    ck_assert_weft(weft_thread_join(t, &rc, WEFT_FOREVER), 0);
    ck_assert_weft(rc, WEFT_EBUSY); /* another thread of this process: EBUSY */
    weft_ipcq *q3; /* another handle of this process: the role is the thread's, not the handle's */
    ck_assert_weft(weft_ipcq_attach(&q3, weft_ipcq_fd(q)), 0);
    ck_assert_weft(weft_thread_start(&t, put_from_thread, q3, NULL), 0);
    ck_assert_weft(weft_thread_join(t, &rc, WEFT_FOREVER), 0);
    ck_assert_weft(rc, WEFT_EBUSY);
    ck_assert_weft(weft_ipcq_free(q3), 0); /* it took no role: the role stays */
    ck_assert_weft(weft_ipcq_put(q, "b", 1, 0), 0);
    /* Freeing the producer's handle gives the role back: a child may take it, and its
     * death lets this process take it over. */
    weft_ipcq *q2;
    ck_assert_weft(weft_ipcq_attach(&q2, weft_ipcq_fd(q)), 0);
    ck_assert_weft(weft_ipcq_free(q), 0);
    ck_assert_int_eq(reap(child(take_role_and_exit, q2, NULL)), 0);
    ck_assert_weft(weft_ipcq_put(q2, "e", 1, 0), 0); /* taken over from the dead child */
    char buf[8], want[] = "abde";
    size_t n;
    for (int i = 0; i < 4; i++) {
        ck_assert_weft(weft_ipcq_get(q2, buf, sizeof buf, &n, 0), 0);
        ck_assert_int_eq(buf[0], want[i]);
    }
    ck_assert_weft(weft_ipcq_get(q2, buf, sizeof buf, &n, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_ipcq_free(q2), 0);
}
END_TEST

struct sp_tally {
    _Atomic long put;  /* puts that returned 0 */
    _Atomic int start; /* the producer runs */
};

static int sp_produce(weft_ipcq *q, void *arg)
{
    struct sp_tally *t = arg;
    atomic_store(&t->start, 1);
    for (uint32_t s = 0;; s++) {
        int rc = weft_ipcq_put(q, &s, sizeof s, WEFT_FOREVER);
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0) return 1;
        atomic_store(&t->put, (long)s + 1);
    }
}

static int sp_close(weft_ipcq *q, void *arg)
{
    struct sp_tally *t = arg;
    while (!atomic_load(&t->start)) weft_sleep(WEFT_US(50));
    weft_sleep(WEFT_US(rand() % 2000));
    return weft_ipcq_close(q) == 0 ? 0 : 1;
}

START_TEST(ipcq_one_producer_close_loses_and_duplicates_nothing)
{
    struct sp_tally *t = shared_area(sizeof *t);
    long rounds = weft_test_scale(40);
    for (long round = 0; round < rounds; round++) {
        memset(t, 0, sizeof *t);
        weft_ipcq *q =
            make_flags(1 + (size_t)round % 16, 4, WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER);
        srand((unsigned)round);
        pid_t p = child(sp_produce, q, t), c = child(sp_close, q, t);
        uint32_t s, want = 0;
        size_t n;
        int rc;
        while ((rc = weft_ipcq_get(q, &s, sizeof s, &n, WEFT_FOREVER)) == 0) {
            ck_assert_uint_eq(s, want);
            want++;
        }
        ck_assert_weft(rc, WEFT_ECLOSED);
        ck_assert_int_eq(reap(p), 0);
        ck_assert_int_eq(reap(c), 0);
        /* Every put that returned 0 was taken, once, in order. */
        ck_assert_int_eq((long)want, atomic_load(&t->put));
        ck_assert_weft(weft_ipcq_free(q), 0);
    }
    munmap(t, sizeof *t);
}
END_TEST

/* ---- handed to a child by the process module ---- */

static int echo_child(const void *arg, size_t size)
{
    int fds[2];
    if (size != sizeof fds) return 90;
    memcpy(fds, arg, sizeof fds);
    weft_ipcq *in, *out;
    if (weft_ipcq_attach(&in, fds[0]) != 0 || weft_ipcq_attach(&out, fds[1]) != 0) return 91;
    char buf[64];
    size_t n;
    int rc;
    while ((rc = weft_ipcq_get(in, buf, sizeof buf, &n, WEFT_FOREVER)) == 0) {
        buf[0] = (char)(buf[0] + 1);
        if (weft_ipcq_put(out, buf, n, WEFT_FOREVER) != 0) return 92;
        if (weft_ipcq_task_done(in) != 0) return 93;
    }
    weft_ipcq_free(in);
    weft_ipcq_free(out);
    return rc == WEFT_ECLOSED ? 0 : 94;
}

START_TEST(ipcq_handed_to_a_child_through_pass_fds)
{
    static const int methods[3] = {WEFT_PROCESS_FORKSERVER, WEFT_PROCESS_SPAWN, WEFT_PROCESS_FORK};
    for (int m = 0; m < 3; m++) {
        weft_ipcq *req = make(1, 64), *rep = make(1, 64);
        int fds[2] = {weft_ipcq_fd(req), weft_ipcq_fd(rep)};
        weft_process_opts o = WEFT_PROCESS_OPTS_INIT;
        o.method = methods[m];
        o.pass_fds = fds;
        o.npass_fds = 2;
        weft_process *p;
        ck_assert_weft(weft_process_start(&p, echo_child, fds, sizeof fds, &o), 0);
        /* Ping-pong: the child answers each message with the next letter. */
        char buf[64] = "a";
        size_t n = 1;
        while (buf[0] < 'y') {
            ck_assert_weft(weft_ipcq_put(req, buf, n, WEFT_FOREVER), 0);
            char was = buf[0];
            ck_assert_weft(weft_ipcq_get(rep, buf, sizeof buf, &n, WEFT_FOREVER), 0);
            ck_assert_uint_eq(n, 1);
            ck_assert_int_eq(buf[0], was + 1);
            buf[0] = (char)(buf[0] + 1);
        }
        ck_assert_weft(weft_ipcq_join(req, WEFT_FOREVER), 0);
        ck_assert_weft(weft_ipcq_close(req), 0);
        int st = -1;
        ck_assert_weft(weft_process_join(p, &st, WEFT_FOREVER), 0);
        ck_assert_int_eq(st, 0);
        ck_assert_weft(weft_process_free(p), 0);
        ck_assert_weft(weft_ipcq_free(req), 0);
        ck_assert_weft(weft_ipcq_free(rep), 0);
    }
}
END_TEST

/* ---- the fence mode (ipcq_internal.h) ---- */

/* Put one message each time the parent sleeps for one, `arg` times. */
static int answer_sleeps(weft_ipcq *q, void *arg)
{
    for (long i = 0; i < (long)(intptr_t)arg; i++) {
        await_sleepers(&q->seg->not_empty, 1);
        if (weft_ipcq_put(q, "x", 1, WEFT_FOREVER) != 0) return 1;
        while (weft_ipcq_size(q) != 0) weft_sleep(WEFT_US(200)); /* taken */
    }
    return 0;
}

START_TEST(ipcq_fence_mode_goes_symmetric_for_turns_and_back_for_streams)
{
    weft_ipcq *q = make(4, 8);
    char buf[8] = {0};
    size_t n;
    /* Sleeps that each wake to a single message: the third moves the mode on. */
    pid_t kid = child(answer_sleeps, q, (void *)(intptr_t)(IPCQ_SYM_TURNS + 1));
    for (unsigned i = 0; i < IPCQ_SYM_TURNS + 1; i++)
        ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, WEFT_FOREVER), 0);
    ck_assert_int_eq(reap(kid), 0);
    /* Without membarrier the move stops at SYNCING: both sides fence in full. */
    uint32_t want = atomic_load(&weft__ipcq_asym) ? IPCQ_FENCE_SYM : IPCQ_FENCE_SYNCING;
    ck_assert_uint_eq(atomic_load(&q->seg->fence_mode) & IPCQ_FENCE_MASK, want);
    /* Traffic that finds no sleeper to wake moves it back (SYM only). */
    for (unsigned i = 0; i < 2 * IPCQ_SYM_LEAVE; i++) {
        ck_assert_weft(weft_ipcq_put(q, buf, sizeof buf, 0), 0);
        ck_assert_weft(weft_ipcq_get(q, buf, sizeof buf, &n, 0), 0);
    }
    if (want == IPCQ_FENCE_SYM)
        ck_assert_uint_eq(atomic_load(&q->seg->fence_mode) & IPCQ_FENCE_MASK, IPCQ_FENCE_ASYM);
    ck_assert_weft(weft_ipcq_free(q), 0);
}
END_TEST

/* Echo each request until the queue closes; a burst request (8 bytes, first byte 'b') is
 * followed by `count` messages to swallow. */
static int echo_bursts(weft_ipcq *req, void *arg)
{
    weft_ipcq *rep = arg;
    for (;;) {
        uint32_t m[2];
        size_t n;
        int rc = weft_ipcq_get(req, m, sizeof m, &n, WEFT_SEC(30));
        if (rc == WEFT_ECLOSED) return 0;
        if (rc != 0) return 2; /* a lost wake-up ends here */
        uint32_t burst = m[0] == 'b' ? m[1] : 0;
        for (uint32_t i = 0; i < burst; i++) {
            uint32_t x[2];
            if (weft_ipcq_get(req, x, sizeof x, &n, WEFT_SEC(30)) != 0 || x[0] != i) return 3;
        }
        if (weft_ipcq_put(rep, m, n, WEFT_SEC(30)) != 0) return 4;
    }
}

/* Round trips (sleeps that wake to one message: the mode goes SYM) alternate with bursts
 * (a consumer that wakes to many, and wakes that grow rare: back to ASYM), so that modes change while the other
 * process is in the middle of its pairs. A lost wake-up shows as a 30 s timeout. */
START_TEST(ipcq_fence_mode_changes_lose_no_wake_up)
{
    weft_ipcq *req = make(64, 8), *rep = make(64, 8);
    pid_t kid = child(echo_bursts, req, rep);
    long phases = weft_test_scale(20);
    for (long ph = 0; ph < phases; ph++) {
        for (uint32_t i = 0; i < 200; i++) {
            uint32_t m[2] = {'p', i}, r[2];
            size_t n;
            ck_assert_weft(weft_ipcq_put(req, m, sizeof m, WEFT_SEC(30)), 0);
            ck_assert_weft(weft_ipcq_get(rep, r, sizeof r, &n, WEFT_SEC(30)), 0);
            ck_assert_uint_eq(r[1], i);
        }
        uint32_t b[2] = {'b', 3 * IPCQ_SYM_LEAVE}, r[2];
        size_t n;
        ck_assert_weft(weft_ipcq_put(req, b, sizeof b, WEFT_SEC(30)), 0);
        for (uint32_t i = 0; i < b[1]; i++) {
            uint32_t m[2] = {i, 0};
            ck_assert_weft(weft_ipcq_put(req, m, sizeof m, WEFT_SEC(30)), 0);
        }
        ck_assert_weft(weft_ipcq_get(rep, r, sizeof r, &n, WEFT_SEC(30)), 0);
        ck_assert_uint_eq(r[0], 'b');
    }
    ck_assert_weft(weft_ipcq_close(req), 0);
    ck_assert_int_eq(reap(kid), 0);
    ck_assert_weft(weft_ipcq_free(req), 0);
    ck_assert_weft(weft_ipcq_free(rep), 0);
}
END_TEST

/* The calling thread's affinity mask into mask, and a CPU in it other than the one the thread
 * runs on (-1 if the mask holds one CPU). */
static int other_cpu(cpu_set_t *mask)
{
    ck_assert_int_eq(sched_getaffinity(0, sizeof *mask, mask), 0);
    int here = sched_getcpu();
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, mask) && c != here) return c;
    return -1;
}

static void assert_mask_is(const cpu_set_t *want)
{
    cpu_set_t now;
    ck_assert_int_eq(sched_getaffinity(0, sizeof now, &now), 0);
    ck_assert(CPU_EQUAL(&now, want));
}

/* Wake-ups by a put on the CPU in w (its CPU + 1; 0: no lone sleeper's), `times` of them,
 * each after a get's sleep (turn: the sides take turns); the moves they made. */
static size_t follow_times_as(weft_ipcq *q, uint32_t w, int times, bool turn)
{
    size_t before = weft__test_ipcq_moves();
    for (int i = 0; i < times; i++) {
        atomic_store(&q->seg->not_empty.waker_cpu, w);
        weft__ipcq_follow(q, &q->seg->not_empty, turn);
    }
    return weft__test_ipcq_moves() - before;
}

static size_t follow_times(weft_ipcq *q, uint32_t w, int times)
{
    return follow_times_as(q, w, times, true);
}

/* Moves are made only for a thread whose mask holds every online CPU, two at least. */
static bool may_move(cpu_set_t *mask)
{
    return other_cpu(mask) >= 0 && CPU_COUNT(mask) == sysconf(_SC_NPROCESSORS_ONLN);
}

START_TEST(ipcq_a_sleeper_follows_its_waker_within_its_mask)
{
    weft_ipcq *q = make(4, 8), *stay = make_flags(4, 8, WEFT_IPCQ_STAY);
    cpu_set_t mask;
    weft__test_ipcq_force_crowded(true);
    if (may_move(&mask)) {
        /* Four wake-ups in a row from another CPU make one move. The thread may change CPU
         * by itself in between, which starts the count again: a few tries. */
        size_t moved = 0;
        for (int tries = 0; tries < 100 && moved == 0; tries++)
            moved = follow_times(q, (uint32_t)other_cpu(&mask) + 1, 4);
        ck_assert_uint_eq(moved, 1);
        assert_mask_is(&mask);
        /* Values no waker wrote: none moves the thread or touches its mask. CPU_SETSIZE - 1
         * is a CPU this machine does not have. */
        static const uint32_t bad[] = {UINT32_MAX, CPU_SETSIZE + 1u, CPU_SETSIZE};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            ck_assert_uint_eq(follow_times(q, bad[i], 8), 0);
        assert_mask_is(&mask);
        /* WEFT_IPCQ_STAY: never. Nor wake-ups of a sleeper that had company, or where the
         * sides do not take turns, even once in four. */
        ck_assert_uint_eq(follow_times(stay, (uint32_t)other_cpu(&mask) + 1, 8), 0);
        ck_assert_uint_eq(follow_times_as(q, (uint32_t)other_cpu(&mask) + 1, 8, false), 0);
        for (int i = 0; i < 4; i++) {
            ck_assert_uint_eq(follow_times(q, (uint32_t)other_cpu(&mask) + 1, 3), 0);
            ck_assert_uint_eq(follow_times(q, 0, 1), 0);
            ck_assert_uint_eq(follow_times(q, (uint32_t)other_cpu(&mask) + 1, 3), 0);
            ck_assert_uint_eq(follow_times_as(q, (uint32_t)other_cpu(&mask) + 1, 1, false), 0);
        }
        /* Nor one of a queue three processes share (two entries made up for the test). */
        int free_slots[2], k = 0;
        for (int i = 0; i < WEFT_IPCQ_PEERS_MAX && k < 2; i++)
            if (atomic_load(&q->seg->peers[i]) == 0) free_slots[k++] = i;
        ck_assert_int_eq(k, 2);
        for (k = 0; k < 2; k++) atomic_store(&q->seg->peers[free_slots[k]], (int32_t)getppid());
        ck_assert_uint_eq(follow_times(q, (uint32_t)other_cpu(&mask) + 1, 8), 0);
        for (k = 0; k < 2; k++) atomic_store(&q->seg->peers[free_slots[k]], 0);
    }
    if (other_cpu(&mask) >= 0) {
        /* A thread whose mask someone narrowed (to one CPU here) stays where it is. */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
        int away = -1;
        for (int c = 0; c < CPU_SETSIZE && away < 0; c++)
            if (CPU_ISSET(c, &mask) && !CPU_ISSET(c, &one)) away = c;
        ck_assert_uint_eq(follow_times(q, (uint32_t)away + 1, 8), 0);
        assert_mask_is(&one);
        ck_assert_int_eq(sched_setaffinity(0, sizeof mask, &mask), 0);
    }
    weft__test_ipcq_force_crowded(false);
    ck_assert_weft(weft_ipcq_free(q), 0);
    ck_assert_weft(weft_ipcq_free(stay), 0);
}
END_TEST

/* Echo a.count requests, started on CPU a.away (-1: anywhere), then with the affinity mask
 * a.mask; 0 if the mask is the same at the end. */
struct echo_args {
    weft_ipcq *rep;
    long count;
    int away;
    cpu_set_t mask;
};

static int echo_count(weft_ipcq *req, void *arg)
{
    struct echo_args *a = arg;
    cpu_set_t now;
    if (a->away >= 0) {
        CPU_ZERO(&now);
        CPU_SET(a->away, &now);
        if (sched_setaffinity(0, sizeof now, &now) != 0) return 2;
    }
    if (sched_setaffinity(0, sizeof a->mask, &a->mask) != 0) return 2;
    for (long i = 0; i < a->count; i++) {
        uint32_t m;
        size_t n;
        if (weft_ipcq_get(req, &m, sizeof m, &n, WEFT_SEC(30)) != 0 || m != (uint32_t)i) return 3;
        if (weft_ipcq_put(a->rep, &m, n, WEFT_SEC(30)) != 0) return 4;
    }
    if (sched_getaffinity(0, sizeof now, &now) != 0 || !CPU_EQUAL(&now, &a->mask)) return 5;
    return 0;
}

/* Two processes that take turns while every wait finds the machine crowded: no spinning, a
 * sleep per message, and each sleeper may move to its waker's CPU (they start on two). Order
 * and masks hold. Whether a move happens is the scheduler's to decide (it may put the two on
 * one CPU first): the test above holds the rule itself. */
START_TEST(ipcq_turns_on_a_crowded_machine_keep_order_and_masks)
{
    weft__test_ipcq_force_crowded(true); /* before the fork: the child's waits too */
    weft_ipcq *req = make(8, 4), *rep = make(8, 4);
    struct echo_args args = {rep, weft_test_scale(2000), -1, {{0}}};
    args.away = other_cpu(&args.mask);
    cpu_set_t mask = args.mask;
    pid_t kid = child(echo_count, req, &args);
    for (long i = 0; i < args.count; i++) {
        uint32_t m = (uint32_t)i, r;
        size_t n;
        ck_assert_weft(weft_ipcq_put(req, &m, sizeof m, WEFT_SEC(30)), 0);
        ck_assert_weft(weft_ipcq_get(rep, &r, sizeof r, &n, WEFT_SEC(30)), 0);
        ck_assert_uint_eq(r, m);
    }
    ck_assert_int_eq(reap(kid), 0);
    assert_mask_is(&mask);
    weft__test_ipcq_force_crowded(false);
    ck_assert_weft(weft_ipcq_free(req), 0);
    ck_assert_weft(weft_ipcq_free(rep), 0);
}
END_TEST

WEFT_TEST_SUITE(
    "ipcq", 60, ipcq_put_get_keep_fifo_order_and_lengths, ipcq_timeouts_zero_and_limited,
    ipcq_close_drains_then_every_get_is_closed, ipcq_join_waits_for_every_task_done,
    ipcq_blocked_calls_are_cancellation_points, ipcq_bad_input_is_an_error_with_a_message,
    ipcq_every_message_once_under_4_producers_4_consumers_and_close,
    ipcq_producer_killed_mid_stream_leaves_no_torn_message,
    ipcq_consumer_killed_while_others_wait_hangs_nobody, ipcq_wait_on_dead_peers_returns_died,
    ipcq_corrupt_segment_gives_errors_never_a_crash,
    ipcq_sleeper_learns_of_its_peers_death_while_asleep,
    ipcq_one_producer_side_belongs_to_one_thread_until_it_dies,
    ipcq_one_producer_close_loses_and_duplicates_nothing, ipcq_handed_to_a_child_through_pass_fds,
    ipcq_fence_mode_goes_symmetric_for_turns_and_back_for_streams,
    ipcq_fence_mode_changes_lose_no_wake_up, ipcq_a_sleeper_follows_its_waker_within_its_mask,
    ipcq_turns_on_a_crowded_machine_keep_order_and_masks)
