/* tests/unit/signal_stream_test.c - signals as items on a queue (weft_signals_notify): every
 * signal received is counted, none lost when they come faster than they are read, SIGHUP is
 * an item while SIGINT still cancels, select over the signal queue and another, stop, fork.
 * Each test runs in its own process (Check forks), so each has its own signal thread.
 * Handshakes, not sleeps: a sender waits for the item of its previous signal where the test
 * needs the kernel not to merge them, and a marker signal ends a burst. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "queue/queue_impl.h"
#include "test.h"

static weft_queue *unbounded(void)
{
    weft_queue *q;
    ck_assert_weft(weft_queue_new(&q, NULL), 0);
    return q;
}

/* The next signal item of q: its count, after checking its number. */
static unsigned next_item(weft_queue *q, int signo)
{
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, WEFT_SEC(20)), 0);
    ck_assert_int_eq(WEFT_SIGNAL_SIGNO(item), signo);
    ck_assert_uint_ge(WEFT_SIGNAL_COUNT(item), 1);
    return WEFT_SIGNAL_COUNT(item);
}

/* N signals, each sent once the previous one's item arrived: N items, one each. */
START_TEST(signal_stream_counts_every_signal)
{
    enum { N = 50 };
    weft_queue *q = unbounded();
    int sigs[] = {SIGHUP, SIGUSR1};
    ck_assert_weft(weft_signals_notify(q, sigs, 2), 0);
    for (int i = 0; i < N; i++) {
        int s = i % 2 ? SIGUSR1 : SIGHUP;
        ck_assert_int_eq(kill(getpid(), s), 0);
        ck_assert_uint_eq(next_item(q, s), 1);
    }
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, 0), WEFT_EAGAIN);
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* Real-time signals are queued by the kernel: a burst from another process, sent without
 * waiting, gives exactly N counted while nobody reads; a standard signal's burst may be merged
 * by the kernel, never invented: between 1 and N, and its marker (a higher standard signal,
 * which the kernel delivers after any pending lower one) says the burst was all received. */
struct burst {
    pid_t to;
    int rt, n;
};

/* n real-time signals and n SIGUSR1, interleaved, without waiting; then the SIGUSR2 marker. */
static int send_burst(const struct burst *b)
{
    for (int i = 0; i < b->n; i++) {
        if (sigqueue(b->to, b->rt, (union sigval){.sival_int = i}) != 0) return 1;
        if (kill(b->to, SIGUSR1) != 0) return 2;
    }
    return kill(b->to, SIGUSR2) == 0 ? 0 : 3;
}

static int send_burst_thread(void *arg)
{
    return send_burst(arg);
}

START_TEST(signal_stream_loses_nothing_in_a_burst)
{
    enum { N = 200 };
    int rt = SIGRTMIN + 1;
    weft_queue *q = unbounded();
    int sigs[] = {rt, SIGUSR1, SIGUSR2};
    ck_assert_weft(weft_signals_notify(q, sigs, 3), 0);
    struct burst b = {getpid(), rt, N};
    if (weft_test_tsan()) { /* TSan cannot start the child's signal thread: a thread sends */
        weft_thread t;
        ck_assert_weft(weft_thread_start(&t, send_burst_thread, &b, NULL), 0);
        ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(30)), 0);
    } else {
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) _exit(send_burst(&b));
        int status;
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    unsigned rts = 0, usr1 = 0;
    bool marker = false;
    while (!marker || rts < N) {
        void *item;
        ck_assert_weft(weft_queue_get(q, &item, WEFT_SEC(20)), 0);
        int s = WEFT_SIGNAL_SIGNO(item);
        if (s == rt) rts += WEFT_SIGNAL_COUNT(item);
        if (s == SIGUSR1) {
            ck_assert(!marker); /* every SIGUSR1 came before the marker */
            usr1 += WEFT_SIGNAL_COUNT(item);
        }
        if (s == SIGUSR2) marker = true;
    }
    ck_assert_uint_eq(rts, N);
    ck_assert_uint_ge(usr1, 1);
    ck_assert_uint_le(usr1, N);
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* The same burst, sent by threads of this process racing each other. */
struct sender {
    int signo, n;
};

static int send_rt(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < s->n; i++)
        if (sigqueue(getpid(), s->signo, (union sigval){.sival_int = i}) != 0) return 1;
    return 0;
}

START_TEST(signal_stream_counts_signals_from_racing_threads)
{
    enum { N = 100, THREADS = 3 };
    int rt = SIGRTMIN + 2;
    weft_queue *q = unbounded();
    ck_assert_weft(weft_signals_notify(q, &rt, 1), 0);
    struct sender s = {rt, N};
    weft_thread t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_weft(weft_thread_start(&t[i], send_rt, &s, NULL), 0);
    for (int i = 0; i < THREADS; i++) ck_assert_weft(weft_thread_join(t[i], NULL, WEFT_SEC(20)), 0);
    unsigned total = 0;
    while (total < N * THREADS) total += next_item(q, rt);
    ck_assert_uint_eq(total, N * THREADS);
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

static int get_other(void *arg)
{
    void *item;
    return weft_queue_get(arg, &item, WEFT_SEC(30));
}

/* SIGHUP is an item and cancels nothing; then SIGINT, caught, cancels the root scope: a
 * blocked get elsewhere returns WEFT_ECANCELED. */
START_TEST(signal_stream_sighup_is_an_item_while_sigint_cancels)
{
    weft_queue *q = unbounded(), *other = unbounded();
    int hup = SIGHUP;
    ck_assert_weft(weft_signals_catch(NULL), 0);
    ck_assert_weft(weft_signals_notify(q, &hup, 1), 0);
    ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
    ck_assert_uint_eq(next_item(q, SIGHUP), 1);
    ck_assert_int_eq(weft_scope_cancelled(weft_scope_root()), 0);
    ck_assert_int_eq(weft_signals_received(), 0);
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, get_other, other, NULL), 0);
    ck_assert_int_eq(kill(getpid(), SIGINT), 0);
    int status = 0;
    weft_shield_begin(); /* main is in the root scope too */
    ck_assert_weft(weft_thread_join(t, &status, WEFT_SEC(30)), 0);
    weft_shield_end();
    ck_assert_weft(status, WEFT_ECANCELED);
    ck_assert_int_eq(weft_signals_received(), SIGINT);
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, 0), WEFT_EAGAIN); /* SIGINT is not notified */
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(other), 0);
}
END_TEST

static int put_later(void *arg)
{
    return weft_queue_put(arg, (void *)(uintptr_t)7, WEFT_FOREVER);
}

START_TEST(signal_stream_is_usable_in_select)
{
    weft_queue *sq = unbounded(), *other = unbounded();
    int usr1 = SIGUSR1;
    ck_assert_weft(weft_signals_notify(sq, &usr1, 1), 0);
    weft_queue_case cs[2] = {{sq, WEFT_QUEUE_GET, NULL}, {other, WEFT_QUEUE_GET, NULL}};
    size_t fired = 9;
    weft_thread t;
    ck_assert_weft(weft_thread_start(&t, put_later, other, NULL), 0);
    ck_assert_weft(weft_queue_select(cs, 2, &fired, WEFT_SEC(20)), 0);
    ck_assert_uint_eq(fired, 1);
    ck_assert_uint_eq((uintptr_t)cs[1].item, 7);
    ck_assert_weft(weft_thread_join(t, NULL, WEFT_SEC(20)), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    ck_assert_weft(weft_queue_select(cs, 2, &fired, WEFT_SEC(20)), 0);
    ck_assert_uint_eq(fired, 0);
    ck_assert_int_eq(WEFT_SIGNAL_SIGNO(cs[0].item), SIGUSR1);
    ck_assert_weft(weft_signals_stop(sq), 0);
    ck_assert_weft(weft_queue_free(sq), 0);
    ck_assert_weft(weft_queue_free(other), 0);
}
END_TEST

/* After stop no item reaches the queue (the signal is received and dropped, the process lives
 * on); a second queue registered for the same signal still gets it, which is the handshake
 * that the signal was received. A closed queue's items are dropped. */
START_TEST(signal_stream_stop_and_close_end_the_delivery)
{
    weft_queue *a = unbounded(), *b = unbounded();
    int usr2 = SIGUSR2;
    ck_assert_weft(weft_signals_notify(a, &usr2, 1), 0);
    ck_assert_weft(weft_signals_notify(b, &usr2, 1), 0);
    ck_assert_weft(weft_signals_notify(b, &usr2, 1), 0); /* again: still one item per signal */
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    ck_assert_uint_eq(next_item(a, SIGUSR2), 1);
    ck_assert_uint_eq(next_item(b, SIGUSR2), 1);
    ck_assert_weft(weft_signals_stop(a), 0);
    ck_assert_weft(weft_queue_free(a), 0); /* stop returned: a may go */
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    ck_assert_uint_eq(next_item(b, SIGUSR2), 1);
    ck_assert_weft(weft_queue_close(b), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0); /* dropped: b is closed */
    weft_queue *c = unbounded();                  /* the handshake that it was received */
    ck_assert_weft(weft_signals_notify(c, &usr2, 1), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    ck_assert_uint_eq(next_item(c, SIGUSR2), 1);
    void *item;
    ck_assert_weft(weft_queue_get(b, &item, 0), WEFT_ECLOSED);
    ck_assert_weft(weft_signals_stop(b), 0);
    ck_assert_weft(weft_signals_stop(b), 0); /* twice: nothing to do */
    ck_assert_weft(weft_signals_stop(c), 0);
    ck_assert_weft(weft_queue_free(b), 0);
    ck_assert_weft(weft_queue_free(c), 0);
}
END_TEST

/* A child made by fork() gets a signal thread of its own (the fork table): its copy of the
 * queue receives the child's signals. */
START_TEST(signal_stream_works_in_a_forked_child)
{
    if (weft_test_tsan()) return; /* the child starts its signal thread: TSan cannot */
    weft_queue *q = unbounded();
    int hup = SIGHUP;
    ck_assert_weft(weft_signals_notify(q, &hup, 1), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        void *item;
        if (kill(getpid(), SIGHUP) != 0) _exit(1);
        if (weft_queue_get(q, &item, WEFT_SEC(20)) != 0) _exit(2);
        _exit(WEFT_SIGNAL_SIGNO(item) == SIGHUP ? 0 : 3);
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    void *item;
    ck_assert_weft(weft_queue_get(q, &item, 0), WEFT_EAGAIN); /* the child's, not ours */
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_queue_free(q), 0);
}
END_TEST

/* A put that cannot allocate owes the occurrence to the next item: counts add up to the
 * signals received. q's put after a block's WEFT__BLOCK_N items needs a new block (list.c);
 * b's does not, and b, registered last, is served first: its item is the handshake that the
 * signal was received. */
START_TEST(signal_stream_owes_what_it_could_not_put)
{
    weft_queue *q = unbounded(), *b = unbounded();
    int hup = SIGHUP;
    ck_assert_weft(weft_signals_notify(q, &hup, 1), 0);
    ck_assert_weft(weft_signals_notify(b, &hup, 1), 0);
    ck_assert_int_eq(kill(getpid(), SIGHUP), 0); /* the signal thread's first puts */
    ck_assert_uint_eq(next_item(q, SIGHUP), 1);
    ck_assert_uint_eq(next_item(b, SIGHUP), 1);
    void *item;
    for (int i = 0; i < WEFT__BLOCK_N - 2; i++) ck_assert_weft(weft_queue_put(q, NULL, 0), 0);
    for (int i = 0; i < WEFT__BLOCK_N - 2; i++) ck_assert_weft(weft_queue_get(q, &item, 0), 0);
    weft__fault_arm(WEFT__FAULT_ALLOC, 1); /* q's next put: no memory */
    ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
    ck_assert_uint_eq(next_item(b, SIGHUP), 1);
    ck_assert_weft(weft_queue_get(q, &item, 0), WEFT_EAGAIN); /* owed, not lost */
    ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
    ck_assert_uint_eq(next_item(b, SIGHUP), 1);
    ck_assert_uint_eq(next_item(q, SIGHUP), 2); /* this one and the one owed */
    ck_assert_weft(weft_signals_stop(q), 0);
    ck_assert_weft(weft_signals_stop(b), 0);
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(b), 0);
}
END_TEST

START_TEST(signal_stream_bad_input_is_an_error_code)
{
    weft_queue *q = unbounded(), *bounded;
    weft_queue_opts o = WEFT_QUEUE_OPTS_INIT;
    o.capacity = 8;
    ck_assert_weft(weft_queue_new(&bounded, &o), 0);
    int hup = SIGHUP, kill9 = SIGKILL, segv = SIGSEGV;
    ck_assert_weft(weft_signals_notify(NULL, &hup, 1), WEFT_EINVAL);
    ck_assert_weft(weft_signals_notify(q, NULL, 1), WEFT_EINVAL);
    ck_assert_weft(weft_signals_notify(q, &hup, 0), WEFT_EINVAL);
    ck_assert_weft(weft_signals_notify(bounded, &hup, 1), WEFT_EINVAL);
    ck_assert_weft(weft_signals_notify(q, &kill9, 1), WEFT_EINVAL);
    ck_assert_weft(weft_signals_notify(q, &segv, 1), WEFT_EINVAL);
    ck_assert_weft(weft_signals_stop(NULL), WEFT_EINVAL);
    ck_assert_weft(weft_queue_free(q), 0);
    ck_assert_weft(weft_queue_free(bounded), 0);
}
END_TEST

WEFT_TEST_SUITE("signal_stream", 60, signal_stream_counts_every_signal,
                signal_stream_loses_nothing_in_a_burst,
                signal_stream_counts_signals_from_racing_threads,
                signal_stream_sighup_is_an_item_while_sigint_cancels,
                signal_stream_is_usable_in_select, signal_stream_stop_and_close_end_the_delivery,
                signal_stream_works_in_a_forked_child, signal_stream_owes_what_it_could_not_put,
                signal_stream_bad_input_is_an_error_code)
