/* tests/programs/tsan_user.c - a user's program built with -fsanitize=thread against the
 * uninstrumented libweft: data handed through weft (a queue, a lock, an event, a join) must
 * not be reported as a race (weft annotates those happens-before edges for TSan), and a real
 * race in the program must still be.
 *   tsan_user clean   - producer/consumer over a queue, a counter under a weft_lock, data
 *                       published with an event and read after a join: exit 0, no report
 *   tsan_user future  - tasks submitted to a pool write a buffer the submitter filled and
 *                       fill their own; the caller reads them after weft_future_result,
 *                       weft_future_wait or in a done-callback (submit->run, complete->result)
 *   tsan_user select  - messages handed through weft_queue_select (a GET over two queues fed
 *                       by weft_queue_put, a PUT read by weft_queue_get), and data made once
 *                       by weft_once read by every caller
 *   tsan_user sync    - data handed through a condition, a semaphore, a latch, a barrier and
 *                       an RLock, each read after the hand-off with plain loads
 *   tsan_user race    - two threads write one plain variable with nothing between them:
 *                       TSan reports it (the test expects its exit code, 66)
 *   tsan_user future-race - a pool task and its submitter write one plain variable, the
 *                       submitter after submit and before result: still reported (the
 *                       annotations add only the edges the pool makes)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

struct msg {
    long seq;
    char text[32];
};

static weft_queue *q;
static weft_lock lock = WEFT_LOCK_INIT;
static weft_event ready = WEFT_EVENT_INIT;
static weft_event racers_go = WEFT_EVENT_INIT;
static long counter, published, after_join, racy;
#define N 2000

static int producer(void *unused)
{
    (void)unused;
    for (long i = 0; i < N; i++) {
        struct msg *m = malloc(sizeof *m);
        if (m == NULL) return 1;
        m->seq = i; /* plain writes, read by the consumer after the get */
        snprintf(m->text, sizeof m->text, "item %ld", i);
        if (weft_queue_put(q, m, WEFT_FOREVER) != 0) return 1;
        if (weft_lock_acquire(&lock, WEFT_FOREVER) != 0) return 1;
        counter++;
        weft_lock_release(&lock);
    }
    return weft_queue_put(q, NULL, WEFT_FOREVER);
}

static int consumer(void *unused)
{
    (void)unused;
    for (long want = 0;; want++) {
        void *item;
        if (weft_queue_get(q, &item, WEFT_FOREVER) != 0) return 1;
        struct msg *m = item;
        if (m == NULL) break;
        if (m->seq != want || strncmp(m->text, "item ", 5) != 0) return 1;
        free(m);
        if (weft_lock_acquire(&lock, WEFT_FOREVER) != 0) return 1;
        counter++;
        weft_lock_release(&lock);
    }
    if (weft_event_wait(&ready, WEFT_FOREVER) != 0) return 1;
    after_join = published + 1; /* published before the event was set */
    return 0;
}

/* The racer stays until main has made its own write: ending at once, its exit's locks (weft's
 * thread table) could order its write before main's next weft_thread_start, and a tool that
 * runs one thread at a time (valgrind) would then see no race. */
static int racer(void *unused)
{
    (void)unused;
    racy++;
    return weft_event_wait(&racers_go, WEFT_FOREVER);
}

/* ---- future: a pool's submit->run and complete->result/wait/callback edges ---- */

struct job {
    char in[64];  /* written by the submitter before submit, read by the task */
    char out[64]; /* written by the task, read by the caller after the future is done */
    long seen;    /* written by the done-callback, read after a join-like wait below */
};

static int job_fn(void *arg, void **result)
{
    struct job *j = arg;
    if (strncmp(j->in, "in ", 3) != 0) return 1;
    snprintf(j->out, sizeof j->out, "out %s", j->in + 3);
    *result = j;
    return 0;
}

static void job_done(weft_future *f, void *arg)
{
    (void)f;
    struct job *j = arg;
    j->seen = strncmp(j->out, "out ", 4) == 0 ? 1 : -1;
}

static int race_fn(void *arg, void **result)
{
    (void)arg;
    racy++;
    *result = NULL;
    return 0;
}

/* The submitter's write after submit is not ordered with the task's. */
static int run_future_race(void)
{
    weft_pool *p;
    weft_future *f;
    if (weft_pool_new(&p, NULL) != 0) return 1;
    if (weft_pool_submit(p, race_fn, NULL, &f, WEFT_FOREVER) != 0) return 1;
    racy++;
    if (weft_future_wait(f, WEFT_FOREVER) != 0) return 1;
    weft_future_unref(f);
    if (weft_pool_shutdown(p, 1, 0, WEFT_FOREVER) != 0) return 1;
    weft_pool_free(p);
    return 0;
}

static int run_future(void)
{
    enum { JOBS = 64 };
    weft_pool *p;
    static struct job jobs[JOBS];
    weft_future *fs[JOBS];
    if (weft_pool_new(&p, NULL) != 0) return 1;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < JOBS; i++) {
            snprintf(jobs[i].in, sizeof jobs[i].in, "in %d.%d", round, i);
            if (weft_pool_submit(p, job_fn, &jobs[i], &fs[i], WEFT_FOREVER) != 0) return 1;
        }
        for (int i = 0; i < JOBS; i++) {
            void *res = NULL;
            int rc = i % 2 ? weft_future_result(fs[i], &res, WEFT_FOREVER)
                           : weft_future_wait(fs[i], WEFT_FOREVER);
            if (rc != 0 || (i % 2 && res != &jobs[i])) return 1;
            if (strncmp(jobs[i].out, "out ", 4) != 0) return 1; /* the task's plain writes */
            /* Done already: the callback runs here, reading what the task wrote. */
            if (weft_future_add_done_callback(fs[i], job_done, &jobs[i]) != 0) return 1;
            if (jobs[i].seen != 1) return 1;
            weft_future_unref(fs[i]);
        }
    }
    if (weft_pool_shutdown(p, 1, 0, WEFT_FOREVER) != 0) return 1;
    weft_pool_free(p);
    return 0;
}

/* ---- select and once ---- */

static weft_queue *qa, *qb, *qback;
static weft_once_flag made = WEFT_ONCE_INIT;
static char table[256]; /* filled once by make_table, read by every weft_once caller */

static int make_table(void *unused)
{
    (void)unused;
    for (int i = 0; i < 256; i++) table[i] = (char)(i ^ 0x5a);
    return 0;
}

static int check_table(void)
{
    if (weft_once(&made, make_table, NULL) != 0) return 1;
    for (int i = 0; i < 256; i++)
        if (table[i] != (char)(i ^ 0x5a)) return 1;
    return 0;
}

static int feeder(void *arg)
{
    weft_queue *to = arg;
    if (check_table() != 0) return 1;
    for (long i = 0; i < N; i++) {
        struct msg *m = malloc(sizeof *m);
        if (m == NULL) return 1;
        m->seq = i;
        snprintf(m->text, sizeof m->text, "item %ld", i);
        if (weft_queue_put(to, m, WEFT_FOREVER) != 0) return 1;
    }
    return 0;
}

/* Reads back what the main thread put through select's PUT case. */
static int echo(void *unused)
{
    (void)unused;
    if (check_table() != 0) return 1;
    for (long i = 0; i < N; i++) {
        void *item;
        if (weft_queue_get(qback, &item, WEFT_FOREVER) != 0) return 1;
        struct msg *m = item;
        if (strncmp(m->text, "back ", 5) != 0) return 1;
        free(m);
    }
    return 0;
}

static int run_select(void)
{
    weft_queue_opts small = {.capacity = 4};
    if (weft_queue_new(&qa, &small) != 0 || weft_queue_new(&qb, &small) != 0 ||
        weft_queue_new(&qback, &small) != 0)
        return 1;
    weft_thread ta, tb, te;
    if (weft_thread_start(&ta, feeder, qa, NULL) || weft_thread_start(&tb, feeder, qb, NULL) ||
        weft_thread_start(&te, echo, NULL, NULL))
        return 1;
    if (check_table() != 0) return 1;
    long got = 0, sent = 0;
    struct msg *out = NULL;
    while (got < 2 * N || sent < N) {
        if (out == NULL && sent < N) {
            out = malloc(sizeof *out);
            if (out == NULL) return 1;
            snprintf(out->text, sizeof out->text, "back %ld", sent);
        }
        weft_queue_case cs[3] = {
            {qa, WEFT_QUEUE_GET, NULL}, {qb, WEFT_QUEUE_GET, NULL}, {qback, WEFT_QUEUE_PUT, out}};
        size_t fired;
        size_t n = out ? 3 : 2;
        if (got == 2 * N) { /* only the PUT left */
            cs[0] = cs[2];
            n = 1;
        }
        if (weft_queue_select(cs, n, &fired, WEFT_FOREVER) != 0) return 1;
        if (cs[fired].op == WEFT_QUEUE_PUT) {
            out = NULL;
            sent++;
            continue;
        }
        struct msg *m = cs[fired].item;
        if (strncmp(m->text, "item ", 5) != 0) return 1;
        free(m);
        got++;
    }
    int sa = 1, sb = 1, se = 1;
    weft_thread_join(ta, &sa, WEFT_FOREVER);
    weft_thread_join(tb, &sb, WEFT_FOREVER);
    weft_thread_join(te, &se, WEFT_FOREVER);
    weft_queue_free(qa);
    weft_queue_free(qb);
    weft_queue_free(qback);
    return sa || sb || se;
}

/* ---- sync: condition, semaphore, latch, barrier, RLock ---- */

static weft_lock cond_lock = WEFT_LOCK_INIT;
static weft_cond cond = WEFT_COND_INIT_LOCK(&cond_lock);
static weft_sem sem = WEFT_SEM_INIT(0);
static weft_latch latch = WEFT_LATCH_INIT(2);
static weft_barrier barrier;
static weft_rlock rlock = WEFT_RLOCK_INIT;
static long cond_value, sem_value, latch_slots[2], barrier_slots[2], rlock_count;
static int cond_ready;

static int sync_side(void *arg)
{
    int me = (int)(long)arg;
    if (me == 0) { /* condition: a value set under the lock, read by the waiter */
        if (weft_cond_acquire(&cond, WEFT_FOREVER) != 0) return 1;
        cond_value = 42;
        cond_ready = 1;
        weft_cond_notify_all(&cond);
        weft_cond_release(&cond);
        sem_value = 7; /* semaphore: written before the release */
        weft_sem_release(&sem, 1);
    }
    latch_slots[me] = me + 1; /* latch: each writes its slot, then counts down */
    weft_latch_count_down(&latch, 1);
    barrier_slots[me] = 10 * (me + 1); /* barrier: each reads the other's after it */
    if (weft_barrier_wait(&barrier, WEFT_FOREVER) < 0) return 1;
    if (barrier_slots[1 - me] != 10 * (2 - me)) return 1;
    for (int i = 0; i < 100; i++) { /* RLock, taken twice over */
        if (weft_rlock_acquire(&rlock, WEFT_FOREVER) != 0 ||
            weft_rlock_acquire(&rlock, WEFT_FOREVER) != 0)
            return 1;
        rlock_count++;
        weft_rlock_release(&rlock);
        weft_rlock_release(&rlock);
    }
    return 0;
}

static int run_sync(void)
{
    if (weft_barrier_init(&barrier, 2, NULL, NULL) != 0) return 1;
    weft_thread t[2];
    for (long i = 0; i < 2; i++)
        if (weft_thread_start(&t[i], sync_side, (void *)i, NULL) != 0) return 1;
    if (weft_cond_acquire(&cond, WEFT_FOREVER) != 0) return 1;
    while (!cond_ready)
        if (weft_cond_wait(&cond, WEFT_FOREVER) != 0) return 1;
    long v = cond_value;
    weft_cond_release(&cond);
    if (v != 42) return 1;
    if (weft_sem_acquire(&sem, WEFT_FOREVER) != 0 || sem_value != 7) return 1;
    if (weft_latch_wait(&latch, WEFT_FOREVER) != 0) return 1;
    if (latch_slots[0] != 1 || latch_slots[1] != 2) return 1;
    if (weft_rlock_acquire(&rlock, WEFT_FOREVER) != 0) return 1;
    rlock_count++;
    weft_rlock_release(&rlock);
    int s0 = 1, s1 = 1;
    weft_thread_join(t[0], &s0, WEFT_FOREVER);
    weft_thread_join(t[1], &s1, WEFT_FOREVER);
    return s0 || s1 || rlock_count != 201;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "future") == 0) {
        if (run_future() != 0) return 1;
        puts("tsan_user: future run ok");
        puts("1 passed, 0 failed");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "future-race") == 0) return run_future_race();
    if (argc > 1 && strcmp(argv[1], "sync") == 0) {
        if (run_sync() != 0) return 1;
        puts("tsan_user: sync run ok");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "select") == 0) {
        if (run_select() != 0) return 1;
        puts("tsan_user: select run ok");
        puts("1 passed, 0 failed");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "race") == 0) {
        weft_thread a, b;
        if (weft_thread_start(&a, racer, NULL, NULL) || weft_thread_start(&b, racer, NULL, NULL))
            return 1;
        racy++;
        weft_event_set(&racers_go);
        weft_thread_join(a, NULL, WEFT_FOREVER);
        weft_thread_join(b, NULL, WEFT_FOREVER);
        return 0;
    }
    if (weft_queue_new(&q, NULL) != 0) return 1;
    weft_thread p, c;
    if (weft_thread_start(&p, producer, NULL, NULL) || weft_thread_start(&c, consumer, NULL, NULL))
        return 1;
    published = 41;
    weft_event_set(&ready);
    int sp = 1, sc = 1;
    weft_thread_join(p, &sp, WEFT_FOREVER);
    weft_thread_join(c, &sc, WEFT_FOREVER);
    if (sp || sc || counter != 2 * N || after_join != 42) return 1; /* plain reads after join */
    weft_queue_free(q);
    puts("tsan_user: clean run ok");
    puts("1 passed, 0 failed");
    return 0;
}
