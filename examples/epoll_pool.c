/* examples/epoll_pool.c - a weft pool behind one epoll loop: the loop never blocks in weft.
 *
 * A server built around epoll (or libuv, or a GLib main loop) owns its thread: it may not sit
 * in weft_future_wait or weft_queue_get. Here the loop watches three kinds of descriptor:
 *   - sockets: the listener (accept) and each client (read requests);
 *   - the completion queue's fd (weft_queue_fd): every task submitted to the pool is routed
 *     there when it finishes (weft_future_route), and the fd is readable exactly while a
 *     finished future waits in it; the loop takes them with timeout 0 and writes the answers;
 *   - the signal queue's fd: SIGINT and SIGTERM arrive as items (weft_signals_notify), so
 *     Ctrl-C is one more event of the loop, not a cancellation it must unwind from.
 * The work is CPU-bound on purpose (a sum of squares computed the slow way), so the pool's
 * threads do what the loop's thread must not.
 *
 * Protocol: a client sends lines "N\n" (0 <= N <= 10^7); the server answers each with
 * "N S\n", S = 1^2 + ... + N^2 (mod 2^64), in completion order (N says which request it
 * answers). A line longer than 31 bytes or not a number is answered with "? error\n".
 *
 *     epoll_pool [PORT]   PORT 0-65535, 0 (default): a free port, printed. Listens on 127.0.0.1.
 * Exit status: 0 after SIGINT or SIGTERM; 1 if it could not start.
 * Simplifications: an answer is written with a blocking send (a client that never reads
 * stalls the loop; echo_server.c shows the buffered, back-pressured way).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#define MAX_N 10000000L

/* A client. Freed once it hung up and no task of it is pending (tasks point at it). */
struct conn {
    struct conn *prev, *next; /* every open client, for the shutdown */
    int fd;
    int pending; /* submitted, not yet answered */
    int gone;    /* the client hung up or failed: answers are dropped */
    size_t len;
    char line[32];
};

struct job {
    struct conn *c;
    long n;
    uint64_t sum;
};

static long served, errors;
static struct conn clients = {.prev = &clients, .next = &clients}; /* the list's head */

static int sum_of_squares(void *arg, void **result)
{
    struct job *j = arg;
    uint64_t s = 0;
    for (long i = 1; i <= j->n; i++) s += (uint64_t)i * (uint64_t)i;
    j->sum = s;
    *result = j;
    return 0;
}

static void conn_release(struct conn *c)
{
    if (c->gone && c->pending == 0) {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        close(c->fd);
        free(c);
    }
}

static void answer(struct conn *c, const char *text)
{
    if (!c->gone && send(c->fd, text, strlen(text), MSG_NOSIGNAL) < 0) c->gone = 1;
}

/* One complete line: submit its task, routed to the completion queue, or answer an error. */
static void request(struct conn *c, weft_pool *pool, weft_queue *done)
{
    char *end;
    c->line[c->len] = '\0';
    errno = 0;
    long n = strtol(c->line, &end, 10);
    struct job *j = NULL;
    weft_future *f = NULL;
    if (end == c->line || *end != '\0' || errno || n < 0 || n > MAX_N ||
        (j = malloc(sizeof *j)) == NULL) {
        errors++;
        answer(c, "? error\n");
        return;
    }
    *j = (struct job){c, n, 0};
    if (weft_pool_submit(pool, sum_of_squares, j, &f, WEFT_FOREVER) != 0 ||
        weft_future_route(f, done) != 0) {
        /* Not routed: wait here (rare: out of memory) so that j is never left behind. */
        if (f) weft_future_wait(f, WEFT_FOREVER);
        weft_future_unref(f);
        free(j);
        errors++;
        answer(c, "? error\n");
        return;
    }
    weft_future_unref(f); /* the completion queue's item holds its own reference */
    c->pending++;
}

/* The client is readable: read once, handle every complete line. */
static void client_readable(struct conn *c, weft_pool *pool, weft_queue *done)
{
    char buf[4096];
    ssize_t got = recv(c->fd, buf, sizeof buf, 0);
    if (got <= 0) {
        c->gone = 1;
        return;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] != '\n') {
            if (c->len < sizeof c->line - 1) c->line[c->len] = buf[i];
            c->len++;
            continue;
        }
        if (c->len >= sizeof c->line - 1) c->len = sizeof c->line - 1, c->line[0] = '?';
        request(c, pool, done);
        c->len = 0;
    }
}

/* The completion queue's fd is readable: take every finished future (timeout 0) and answer. */
static void completions(weft_queue *done)
{
    void *item;
    while (weft_queue_get(done, &item, 0) == 0) {
        weft_future *f = item;
        void *r = NULL;
        char text[64];
        if (weft_future_result(f, &r, 0) == 0) {
            struct job *j = r;
            snprintf(text, sizeof text, "%ld %llu\n", j->n, (unsigned long long)j->sum);
            answer(j->c, text);
            served++;
            j->c->pending--;
            conn_release(j->c);
            free(j);
        }
        weft_future_unref(f);
    }
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("listen");
        return -1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static int watch(int ep, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Tags for the loop's own descriptors (clients are tagged by their struct conn). */
static char tag_listener, tag_done, tag_signals;

/* The loop: until a signal item arrives. */
static void serve(int ep, int lfd, weft_pool *pool, weft_queue *done, weft_queue *sigq)
{
    for (;;) {
        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, -1);
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == &tag_signals) {
                void *item;
                if (weft_queue_get(sigq, &item, 0) != 0) continue;
                printf("SIG%s: stopping\n", WEFT_SIGNAL_SIGNO(item) == SIGINT ? "INT" : "TERM");
                return;
            }
            if (p == &tag_done) {
                completions(done);
            } else if (p == &tag_listener) {
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                struct conn *c = cfd < 0 ? NULL : calloc(1, sizeof *c);
                if (c) *c = (struct conn){&clients, clients.next, cfd, 0, 0, 0, ""};
                if (c == NULL || watch(ep, cfd, c) != 0) {
                    if (cfd >= 0) close(cfd);
                    free(c);
                    continue;
                }
                clients.next->prev = c;
                clients.next = c;
            } else {
                struct conn *c = p;
                client_readable(c, pool, done);
                if (c->gone) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    conn_release(c); /* or when its last task is answered */
                }
            }
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0, sigs[] = {SIGINT, SIGTERM};
    weft_queue *done, *sigq;
    weft_pool *pool;
    int dfd, sfd;
    /* The signals first, before any thread starts (they inherit the blocked mask). */
    if (weft_queue_new(&sigq, NULL) != 0 || weft_signals_notify(sigq, sigs, 2) != 0 ||
        weft_queue_new(&done, NULL) != 0 || weft_pool_new(&pool, NULL) != 0 ||
        weft_queue_fd(done, &dfd) != 0 || weft_queue_fd(sigq, &sfd) != 0)
        return 1;
    int lfd = listen_on(port), ep = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || ep < 0 || watch(ep, lfd, &tag_listener) != 0 || watch(ep, dfd, &tag_done) != 0 ||
        watch(ep, sfd, &tag_signals) != 0)
        return 1;
    serve(ep, lfd, pool, done, sigq);

    /* Wind down: no new work; finish the tasks in flight and answer them; close every client. */
    weft_pool_shutdown(pool, 1, 0, WEFT_FOREVER);
    completions(done);
    weft_pool_free(pool);
    int open = 0;
    while (clients.next != &clients) {
        clients.next->gone = 1;
        conn_release(clients.next);
        open++;
    }
    weft_signals_stop(sigq);
    close(ep);
    close(lfd);
    weft_queue_free(done);
    weft_queue_free(sigq);
    printf("epoll_pool stopped: %ld requests served, %ld errors, %d clients closed at shutdown\n",
           served, errors, open);
    return 0;
}
