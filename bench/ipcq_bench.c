/* bench/ipcq_bench.c - the queue between processes against a pipe, a unix SOCK_SEQPACKET socket
 * pair and Python's multiprocessing.Queue (bench/ipcq_bench.py, through python3), in one run.
 *
 *   round trip   parent sends a message, a child sends it back; mean µs per round trip over
 *                a run, the median over runs (8 and 64 bytes);
 *   throughput   one producer (parent), one consumer (child), one operation per message;
 *                million messages per second, the median over runs (8 and 64 bytes);
 *   oversubscribed  the round trip again with one CPU hog per CPU running beside the pair,
 *                the contenders in turn within each round.
 * weft_ipcq runs twice: as made by default (any number of producers and consumers) and with
 * WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER (no lock per message). The round trips also
 * run over a control that never spins: a one-message mailbox per direction in shared memory
 * and a shared futex, slept on at once (the research's "blocking" transport), so that the
 * oversubscribed table shows what spinning costs there apart from what any futex costs, and
 * over weft_ipcq made with WEFT_IPCQ_STAY, which shows what following the waker buys there.
 *
 *     ipcq_bench          BENCH_RUNS (default 7 runs), BENCH_ONLY=rtt,thr,over,python
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include <weft.h>

#ifndef IPCQ_BENCH_PY
#define IPCQ_BENCH_PY "bench/ipcq_bench.py"
#endif

/* K_IPCQ_STAY runs only beside the hogs: it shows what following the waker buys there. */
enum kind { K_IPCQ, K_IPCQ_ONE, K_PIPE, K_SEQPACKET, K_FUTEX, K_IPCQ_STAY, K_COUNT };
static const char *const names[K_COUNT] = {"weft_ipcq",
                                           "weft_ipcq ONE_PRODUCER|CONSUMER",
                                           "pipe",
                                           "unix SOCK_SEQPACKET",
                                           "shm + futex, no spin",
                                           "weft_ipcq STAY (never moves)"};

/* K_FUTEX's mailbox: seq counts the messages sent; one in flight at a time (round trips). */
struct box {
    _Atomic uint32_t seq;
    uint32_t seen; /* the receiver's own count */
    char data[64];
};

/* A two-way channel: a (parent -> child) and b (child -> parent). */
struct chan {
    enum kind k;
    weft_ipcq *qa, *qb;
    int a[2], b[2];  /* [0] read end, [1] write end (socketpair: both ends) */
    struct box *box; /* K_FUTEX: [0] a, [1] b, in a shared mapping */
};

static int chan_open(struct chan *c, enum kind k, size_t size)
{
    c->k = k;
    if (k == K_IPCQ || k == K_IPCQ_ONE || k == K_IPCQ_STAY) {
        weft_ipcq_opts o = {4096, size, 0, {0}};
        if (k == K_IPCQ_ONE) o.flags = WEFT_IPCQ_ONE_PRODUCER | WEFT_IPCQ_ONE_CONSUMER;
        if (k == K_IPCQ_STAY) o.flags = WEFT_IPCQ_STAY;
        c->k = K_IPCQ;
        return weft_ipcq_new(&c->qa, &o) || weft_ipcq_new(&c->qb, &o);
    }
    if (k == K_PIPE) return pipe(c->a) || pipe(c->b);
    if (k == K_FUTEX) {
        c->box = mmap(NULL, 2 * sizeof *c->box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);
        return c->box == MAP_FAILED;
    }
    return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->a) ||
           socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->b);
}

static void chan_close(struct chan *c)
{
    if (c->k == K_IPCQ) {
        weft_ipcq_free(c->qa);
        weft_ipcq_free(c->qb);
        return;
    }
    if (c->k == K_FUTEX) {
        munmap(c->box, 2 * sizeof *c->box);
        return;
    }
    for (int i = 0; i < 2; i++) close(c->a[i]), close(c->b[i]);
}

/* Send on a (to_child) or b; receive on the other. Exactly one message each. */
static int send_msg(struct chan *c, int to_child, const void *m, size_t n)
{
    if (c->k == K_IPCQ) return weft_ipcq_put(to_child ? c->qa : c->qb, m, n, WEFT_FOREVER);
    if (c->k == K_FUTEX) {
        struct box *b = &c->box[to_child ? 0 : 1];
        memcpy(b->data, m, n);
        atomic_fetch_add(&b->seq, 1);
        return (int)syscall(SYS_futex, &b->seq, FUTEX_WAKE, 1, NULL, NULL, 0) < 0;
    }
    int fd = to_child ? c->a[1] : c->b[1];
    return write(fd, m, n) == (ssize_t)n ? 0 : -1;
}

static int recv_msg(struct chan *c, int at_child, void *m, size_t n)
{
    size_t got;
    if (c->k == K_IPCQ) return weft_ipcq_get(at_child ? c->qa : c->qb, m, n, &got, WEFT_FOREVER);
    if (c->k == K_FUTEX) {
        struct box *b = &c->box[at_child ? 0 : 1];
        uint32_t s;
        while ((s = atomic_load(&b->seq)) == b->seen)
            syscall(SYS_futex, &b->seq, FUTEX_WAIT, s, NULL, NULL, 0);
        b->seen = s;
        memcpy(m, b->data, n);
        return 0;
    }
    int fd = at_child ? c->a[0] : c->b[0];
    size_t off = 0;
    while (off < n) { /* a pipe may split; a seqpacket never does */
        ssize_t r = read(fd, (char *)m + off, n - off);
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return 0;
}

/* Round trip: mean ns over iters, child echoing. */
static double rtt(enum kind k, size_t size, long iters)
{
    struct chan c;
    if (chan_open(&c, k, size)) return -1;
    char m[64] = {0};
    pid_t p = fork();
    if (p == 0) {
        for (long i = 0; i < iters; i++)
            if (recv_msg(&c, 1, m, size) || send_msg(&c, 0, m, size)) _exit(1);
        _exit(0);
    }
    int64_t t0 = bench_now();
    for (long i = 0; i < iters; i++) {
        send_msg(&c, 1, m, size);
        recv_msg(&c, 0, m, size);
    }
    int64_t t1 = bench_now();
    waitpid(p, NULL, 0);
    chan_close(&c);
    return (double)(t1 - t0) / (double)iters;
}

/* Throughput: million messages per second, parent producing, child consuming. */
static double thr(enum kind k, size_t size, long n, _Atomic int64_t *end)
{
    struct chan c;
    if (chan_open(&c, k, size)) return -1;
    char m[64] = {0};
    pid_t p = fork();
    if (p == 0) {
        for (long i = 0; i < n; i++)
            if (recv_msg(&c, 1, m, size)) _exit(1);
        atomic_store(end, bench_now());
        _exit(0);
    }
    int64_t t0 = bench_now();
    for (long i = 0; i < n; i++) send_msg(&c, 1, m, size);
    waitpid(p, NULL, 0);
    chan_close(&c);
    return (double)n / (double)(atomic_load(end) - t0) * 1e3;
}

static pid_t hogs[64];
static int nhogs;

static void hogs_start(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (nhogs = 0; nhogs < n && nhogs < 64; nhogs++) {
        hogs[nhogs] = fork();
        if (hogs[nhogs] == 0)
            for (volatile unsigned long x = 0;; x++) {
            }
    }
}

static void hogs_stop(void)
{
    for (int i = 0; i < nhogs; i++) kill(hogs[i], SIGKILL), waitpid(hogs[i], NULL, 0);
    nhogs = 0;
}

/* Python's multiprocessing.Queue: "rtt SIZE us" and "thr SIZE mps" lines. */
static void python_figures(double py_rtt[2], double py_thr[2])
{
    py_rtt[0] = py_rtt[1] = py_thr[0] = py_thr[1] = -1;
    FILE *f = popen("python3 " IPCQ_BENCH_PY " 2>/dev/null", "r");
    if (!f) return;
    char what[8];
    int size;
    double v;
    while (fscanf(f, "%7s %d %lf", what, &size, &v) == 3) {
        int i = size == 8 ? 0 : 1;
        if (!strcmp(what, "rtt")) py_rtt[i] = v * 1e3;
        if (!strcmp(what, "thr")) py_thr[i] = v;
    }
    pclose(f);
}

int main(void)
{
    bench_header("ipcq_bench");
    int runs = bench_runs(7);
    if (runs > 64) runs = 64; /* the arrays below */
    const char *only = getenv("BENCH_ONLY");
    static const size_t sizes[2] = {8, 64};
    _Atomic int64_t *end =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double py_rtt[2] = {-1, -1}, py_thr[2] = {-1, -1};
    if (!only || bench_name_listed("python", only)) python_figures(py_rtt, py_thr);
    double v[64], rtt8 = 0;
    for (int s = 0; s < 2; s++) {
        if (only && !bench_name_listed("rtt", only)) break;
        char title[96];
        snprintf(title, sizeof title, "round trip, %zu-byte messages (mean per run, median)",
                 sizes[s]);
        bench_table_begin(title, "us");
        double base = 0;
        for (int k = 0; k < K_IPCQ_STAY; k++) {
            for (int r = 0; r < runs; r++) v[r] = rtt((enum kind)k, sizes[s], 20000) / 1e3;
            double med = bench_median(v, (size_t)runs);
            if (k == 0) base = med;
            if (k == 0 && s == 0) rtt8 = med;
            bench_table_row(names[k], med, base, 0);
        }
        if (py_rtt[s] > 0)
            bench_table_row("Python multiprocessing.Queue", py_rtt[s] / 1e3, base, 0);
    }
    for (int s = 0; s < 2; s++) {
        if (only && !bench_name_listed("thr", only)) break;
        char title[96];
        snprintf(title, sizeof title, "1P1C throughput, %zu-byte messages (median)", sizes[s]);
        bench_table_begin(title, "Mmsg/s");
        double base = 0;
        for (int k = 0; k < K_FUTEX; k++) { /* the mailbox holds one message: no streams */
            long n = k <= K_IPCQ_ONE ? 4000000 : 400000;
            for (int r = 0; r < runs; r++) v[r] = thr((enum kind)k, sizes[s], n, end);
            double med = bench_median(v, (size_t)runs);
            if (k == 0) base = med;
            bench_table_row(names[k], med, base, 1);
        }
        if (py_thr[s] > 0) bench_table_row("Python multiprocessing.Queue", py_thr[s], base, 1);
    }
    if (!only || bench_name_listed("over", only)) {
        hogs_start();
        bench_table_begin("round trip, 8 bytes, one CPU hog per CPU beside the pair (median)",
                          "us");
        /* Round by round, every contender in turn: where the scheduler puts the pair beside
         * the hogs changes from run to run, and each contender should meet the same spread. */
        double w[K_COUNT][64], med[K_COUNT];
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < K_COUNT; k++) w[k][r] = rtt((enum kind)k, 8, 5000) / 1e3;
        for (int k = 0; k < K_COUNT; k++) {
            med[k] = bench_median(w[k], (size_t)runs);
            bench_table_row(names[k], med[k], med[0], 0);
        }
        hogs_stop();
        if (rtt8 > 0)
            printf("oversubscribed / blocking round trip (weft_ipcq): %.2fx\n", med[0] / rtt8);
        printf("oversubscribed: weft_ipcq / the no-spin futex control: %.2fx\n",
               med[0] / med[K_FUTEX]);
        printf("oversubscribed: weft_ipcq / weft_ipcq STAY: %.2fx\n", med[0] / med[K_IPCQ_STAY]);
    }
    return 0;
}
