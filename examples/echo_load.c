/* examples/echo_load.c - a load client for echo servers: many connections, every byte checked,
 * round trips per second and latency percentiles.
 *
 *     echo_load PORT [-c CONNS] [-i IDLE] [-d SECONDS] [-r ROUNDS] [-s MIN-MAX] [-w WRITES]
 *                    [-t THREADS]
 *
 *   -c CONNS    active connections (default 32): each sends a message, reads its whole echo back
 *               (one round trip), and sends the next
 *   -i IDLE     idle holders (default 0): connect, never send, and must still be connected at
 *               the end (a server that gives a thread to each client runs out of threads)
 *   -d SECONDS  how long to run (default 5); with -r, the time allowed to finish the rounds
 *               (default 60)
 *   -r ROUNDS   every active connection makes exactly ROUNDS round trips, then closes
 *   -s MIN-MAX  message sizes in bytes, drawn uniformly (default 1-65536)
 *   -w WRITES   each message is sent in 1 to WRITES separate writes, chosen at random (default 4)
 *   -t THREADS  client threads, each driving its share of the connections with epoll (default 1)
 *
 * All connections (active and idle) are made first, before the clock starts. Messages are
 * random slices of one random pattern, so making and checking one costs a memcpy's worth.
 * It prints round trips per second, the latency (first byte sent to last byte of the echo
 * received) at p50, p99 and the maximum, and how many connections made progress.
 *
 * Exit status: 0 if every echoed byte matched, every active connection made at least one round
 * trip (all of its ROUNDS with -r) and none was lost; 1 otherwise, with the reasons on stderr;
 * 2 for bad arguments. Whether the idle holders are still connected is printed, not judged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

enum { PATTERN = 1 << 20, MAX_MSG = 1 << 20, EVENTS = 64, SCRATCH = 64 * 1024 };

static struct {
    int port, conns, idle, writes, threads;
    long rounds; /* 0: run for the duration */
    size_t min, max;
    weft_ns duration;
} cfg = {0, 32, 0, 4, 1, 0, 1, 65536, 0};

static unsigned char *pattern; /* PATTERN + MAX_MSG random bytes */

struct conn {
    int fd, done;
    const unsigned char *msg;           /* the message: a slice of pattern */
    size_t size, piece, sent, cut, got; /* piece: bytes per write; cut: the current write's end */
    weft_ns t0;
    long rounds;
};

struct worker {
    struct conn *c;
    int n;
    uint64_t rng;
    weft_ns deadline;
    int64_t *lat; /* nanoseconds per round trip */
    size_t nlat, cap;
    long long bytes;
    int failures;
    char first_failure[160];
    unsigned char scratch[SCRATCH];
};

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13; /* xorshift64 */
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(next_random(s) % (hi - lo + 1));
}

static void start_message(struct worker *w, struct conn *c)
{
    c->size = pick(&w->rng, cfg.min, cfg.max);
    c->msg = pattern + pick(&w->rng, 0, PATTERN - 1);
    size_t writes = pick(&w->rng, 1, (size_t)cfg.writes);
    c->piece = (c->size + writes - 1) / writes;
    c->sent = c->got = c->cut = 0;
    c->t0 = weft_now();
}

static int fail(struct worker *w, struct conn *c, const char *what)
{
    if (w->failures++ == 0)
        snprintf(w->first_failure, sizeof w->first_failure,
                 "connection %d after %ld round trips: %s", (int)(c - w->c), c->rounds, what);
    return -1;
}

static int record(struct worker *w, struct conn *c)
{
    if (w->nlat == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4096;
        int64_t *p = realloc(w->lat, cap * sizeof *p);
        if (p == NULL) return fail(w, c, "out of memory");
        w->lat = p;
        w->cap = cap;
    }
    w->lat[w->nlat++] = weft_now() - c->t0;
    w->bytes += (long long)c->size;
    c->rounds++;
    return 0;
}

/* Send the rest of the message, one write per piece, until the socket is full. */
static int send_pieces(struct worker *w, struct conn *c)
{
    while (c->sent < c->size) {
        if (c->sent == c->cut)
            c->cut = c->size - c->sent <= c->piece ? c->size : c->sent + c->piece;
        ssize_t n = send(c->fd, c->msg + c->sent, c->cut - c->sent, MSG_NOSIGNAL);
        if (n > 0)
            c->sent += (size_t)n;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        else if (errno != EINTR)
            return fail(w, c, strerror(errno));
    }
    return 0;
}

/* Read what the echo has so far, checking every byte. */
static int receive(struct worker *w, struct conn *c)
{
    while (c->got < c->size) {
        ssize_t n = recv(c->fd, w->scratch, sizeof w->scratch, 0);
        if (n > 0 && (size_t)n > c->sent - c->got)
            return fail(w, c, "more bytes came back than sent");
        if (n > 0 && memcmp(w->scratch, c->msg + c->got, (size_t)n) != 0)
            return fail(w, c, "the echo differs from what was sent");
        if (n > 0)
            c->got += (size_t)n;
        else if (n == 0)
            return fail(w, c, "the server closed the connection");
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        else if (errno != EINTR)
            return fail(w, c, strerror(errno));
    }
    return 0;
}

/* Drive c as far as it goes without blocking (its socket is edge-triggered: stop only when it
 * would block). -1 when c failed; c->done when it finished its rounds. */
static int step(struct worker *w, struct conn *c)
{
    for (;;) {
        if (send_pieces(w, c) != 0 || receive(w, c) != 0) return -1;
        if (c->got < c->size) return 0;
        if (record(w, c) != 0) return -1;
        if (cfg.rounds != 0 && c->rounds == cfg.rounds) {
            c->done = 1;
            return 0;
        }
        start_message(w, c);
    }
}

static int run_worker(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[EVENTS];
    int ep = epoll_create1(EPOLL_CLOEXEC), active = w->n;
    if (ep < 0) return weft_error_set(WEFT_ENOMEM, "epoll_create1: %s", strerror(errno));
    for (int i = 0; i < w->n; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &w->c[i]};
        start_message(w, &w->c[i]);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w->c[i].fd, &e) != 0) {
            close(ep);
            return weft_error_set(WEFT_ENOMEM, "epoll_ctl: %s", strerror(errno));
        }
    }
    while (active > 0) {
        weft_ns left = w->deadline - weft_now();
        if (left <= 0) break;
        int n = epoll_wait(ep, ev, EVENTS, (int)(left / WEFT_MS(1)) + 1);
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->done) continue;
            if (step(w, c) != 0 || c->done) {
                c->done = 1;
                active--;
                close(c->fd); /* also leaves the epoll set */
                c->fd = -1;
            }
        }
    }
    close(ep);
    return 0;
}

static int connect_one(int active)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        (!active || (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
                     fcntl(fd, F_SETFL, O_NONBLOCK) == 0)))
        return fd;
    int e = errno;
    if (fd >= 0) close(fd);
    errno = e;
    return -1;
}

static int cmp_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && v >= lo && v <= hi) return v;
    fprintf(stderr, "echo_load: %s must be a number from %ld to %ld, not '%s'\n", what, lo, hi, s);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    double seconds = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:i:d:r:s:w:t:")) != -1) {
        char *end, *dash;
        switch (opt) {
        case 'c':
            cfg.conns = (int)number(optarg, 0, 100000, "-c CONNS");
            break;
        case 'i':
            cfg.idle = (int)number(optarg, 0, 100000, "-i IDLE");
            break;
        case 'r':
            cfg.rounds = number(optarg, 1, 1000000000, "-r ROUNDS");
            break;
        case 'w':
            cfg.writes = (int)number(optarg, 1, 1000, "-w WRITES");
            break;
        case 't':
            cfg.threads = (int)number(optarg, 1, 256, "-t THREADS");
            break;
        case 'd':
            seconds = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(seconds > 0 && seconds <= 86400)) {
                fprintf(stderr, "echo_load: -d SECONDS must be above 0, not '%s'\n", optarg);
                exit(2);
            }
            break;
        case 's':
            dash = strchr(optarg, '-');
            if (dash == NULL) {
                fprintf(stderr, "echo_load: -s takes MIN-MAX, not '%s'\n", optarg);
                exit(2);
            }
            *dash = '\0';
            cfg.min = (size_t)number(optarg, 1, MAX_MSG, "-s MIN");
            cfg.max = (size_t)number(dash + 1, (long)cfg.min, MAX_MSG, "-s MAX");
            break;
        default:
            fprintf(stderr, "usage: echo_load PORT [-c CONNS] [-i IDLE] [-d SECONDS] [-r ROUNDS] "
                            "[-s MIN-MAX] [-w WRITES] [-t THREADS]\n");
            exit(2);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "echo_load: give one PORT (echo_load PORT [options])\n");
        exit(2);
    }
    cfg.port = (int)number(argv[optind], 1, 65535, "PORT");
    if (seconds == 0) seconds = cfg.rounds ? 60 : 5;
    cfg.duration = (weft_ns)(seconds * 1e9);
    if (cfg.threads > cfg.conns && cfg.conns > 0) cfg.threads = cfg.conns;
}

/* Connect every connection, idle holders first (so that a server giving a thread to each
 * client has given them all away before the active clients come). 0, or -1 with a message. */
static int connect_all(struct conn *c, int *idle_fd)
{
    for (int i = 0; i < cfg.idle + cfg.conns; i++) {
        int fd = connect_one(i >= cfg.idle);
        if (fd < 0) {
            fprintf(stderr, "echo_load: connection %d of %d to 127.0.0.1:%d: %s%s\n", i + 1,
                    cfg.conns + cfg.idle, cfg.port, strerror(errno),
                    errno == EMFILE ? " (raise ulimit -n)" : "");
            return -1;
        }
        if (i < cfg.idle)
            idle_fd[i] = fd;
        else
            c[i - cfg.idle] = (struct conn){.fd = fd};
    }
    return 0;
}

/* Idle holders still connected: reading without blocking would block (nothing came, no EOF). */
static int idle_report(int *idle_fd)
{
    int alive = 0;
    char byte;
    for (int i = 0; i < cfg.idle; i++) {
        ssize_t n = recv(idle_fd[i], &byte, 1, MSG_DONTWAIT | MSG_PEEK);
        alive += n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        close(idle_fd[i]);
    }
    if (cfg.idle > 0)
        printf("echo_load: idle holders still connected: %d of %d\n", alive, cfg.idle);
    return alive;
}

static void report(struct worker *w, struct conn *c, weft_ns elapsed)
{
    size_t n = 0, k = 0;
    long long bytes = 0;
    long fewest = -1;
    int progressed = 0;
    for (int i = 0; i < cfg.threads; i++) n += w[i].nlat, bytes += w[i].bytes;
    int64_t *all = malloc((n ? n : 1) * sizeof *all);
    for (int i = 0; i < cfg.threads && all; i++)
        for (size_t j = 0; j < w[i].nlat; j++) all[k++] = w[i].lat[j];
    if (all) qsort(all, n, sizeof *all, cmp_ns);
    for (int i = 0; i < cfg.conns; i++) {
        progressed += cfg.rounds ? c[i].rounds == cfg.rounds : c[i].rounds > 0;
        if (fewest < 0 || c[i].rounds < fewest) fewest = c[i].rounds;
    }
    double secs = (double)elapsed / 1e9;
    printf("echo_load: %d connections (+%d idle), %zu-%zu B in 1-%d writes: %zu round trips in "
           "%.2f s = %.0f /s, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           cfg.conns, cfg.idle, cfg.min, cfg.max, cfg.writes, n, secs, (double)n / secs,
           n && all ? (double)all[n / 2] / 1e6 : 0, n && all ? (double)all[n * 99 / 100] / 1e6 : 0,
           n && all ? (double)all[n - 1] / 1e6 : 0);
    printf("echo_load: %d of %d connections progressed (fewest round trips: %ld), %.1f MB "
           "echoed\n",
           progressed, cfg.conns, fewest < 0 ? 0 : fewest, (double)bytes / 1e6);
    free(all);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct conn *c = calloc((size_t)cfg.conns + 1, sizeof *c);
    struct worker *w = calloc((size_t)cfg.threads, sizeof *w);
    weft_thread *t = calloc((size_t)cfg.threads, sizeof *t);
    int *idle_fd = calloc((size_t)cfg.idle + 1, sizeof *idle_fd);
    pattern = malloc(PATTERN + MAX_MSG);
    if (!c || !w || !t || !idle_fd || !pattern) {
        fprintf(stderr, "echo_load: out of memory\n");
        return 1;
    }
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < PATTERN + MAX_MSG; i++)
        pattern[i] = (unsigned char)(next_random(&s) >> 56);
    if (connect_all(c, idle_fd) != 0) return 1;
    printf("echo_load: connected %d active and %d idle\n", cfg.conns, cfg.idle);
    fflush(stdout);

    weft_ns t0 = weft_now();
    int failed = 0, started = 0;
    for (int i = 0; i < cfg.threads && cfg.conns > 0; i++, started++) {
        int lo = cfg.conns * i / cfg.threads, hi = cfg.conns * (i + 1) / cfg.threads;
        w[i] = (struct worker){.c = c + lo,
                               .n = hi - lo,
                               .rng = 0x1234567u + (uint64_t)i * 7919,
                               .deadline = t0 + cfg.duration};
        if (weft_thread_start(&t[i], run_worker, &w[i], NULL) != 0) break;
    }
    if (cfg.conns == 0) weft_sleep(cfg.duration); /* only idle holders: hold them that long */
    for (int i = 0; i < started; i++) {
        int st = 0;
        if (weft_thread_join(t[i], &st, WEFT_FOREVER) != 0 || st != 0) {
            fprintf(stderr, "echo_load: client thread %d: %s\n", i, weft_error_message());
            failed++;
        }
        if (w[i].failures > 0) {
            fprintf(stderr, "echo_load: %d connection(s) failed; the first: %s\n", w[i].failures,
                    w[i].first_failure);
            failed++;
        }
    }
    weft_ns elapsed = weft_now() - t0;
    if (cfg.conns > 0) report(w, c, elapsed);
    idle_report(idle_fd);
    for (int i = 0; i < cfg.conns; i++) {
        int ok = cfg.rounds ? c[i].rounds == cfg.rounds : c[i].rounds > 0;
        if (c[i].fd >= 0) close(c[i].fd);
        if (!ok && failed++ == 0)
            fprintf(stderr, "echo_load: connection %d made %ld round trips in %.1f s\n", i,
                    c[i].rounds, (double)elapsed / 1e9);
    }
    if (cfg.conns > 0) printf("echo_load: %s\n", failed ? "FAILED" : "every byte correct");
    for (int i = 0; i < cfg.threads; i++) free(w[i].lat);
    free(c);
    free(w);
    free(t);
    free(idle_fd);
    free(pattern);
    return failed ? 1 : 0;
}
