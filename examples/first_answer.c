/* examples/first_answer.c - seed 004's "try a few servers, take the first to answer".
 *
 * The Python answer starts a daemon thread per URL, takes the first item from a Queue and
 * leaves the other threads running (they die with the process). Here three local TCP servers
 * answer after different delays; a query per server runs on a weft_pool, weft_wait with
 * WEFT_FIRST_COMPLETED returns as soon as one has answered, and the other queries are
 * cancelled: their futures are cancelled and their sockets shut down (a recv() is outside
 * weft's cancellation; shutting the socket down is what ends it).
 *
 *     first_answer [DELAY_MS...]     default: 300 40 150 (one server per delay, at most 8)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#define MAX_SERVERS 8

struct server {
    int id, delay_ms, lfd, port;
    weft_thread thread;
};

/* A server: for each connection, wait its delay, then send its answer. */
static int serve(void *arg)
{
    struct server *s = arg;
    int fd;
    while ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        if (weft_sleep(WEFT_MS(s->delay_ms)) == 0) {
            char msg[64];
            int n =
                snprintf(msg, sizeof msg, "answer from server %d after %d ms", s->id, s->delay_ms);
            if (send(fd, msg, (size_t)n, MSG_NOSIGNAL) < 0) { /* the client gave up */
            }
        }
        close(fd);
    }
    return 0; /* the listening socket was shut down */
}

static int start_server(struct server *s)
{
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 16) ||
        getsockname(s->lfd, (struct sockaddr *)&a, &len))
        return -1;
    s->port = ntohs(a.sin_port);
    return weft_thread_start(&s->thread, serve, s, NULL);
}

struct query {
    int port;
    _Atomic int fd; /* the connection, for the canceller to shut down; -1 before and after */
    char answer[64];
};

/* A pool task: connect, read the whole answer. */
static int ask(void *arg, void **result)
{
    struct query *q = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)q->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return weft_error_set(WEFT_EBROKEN, "cannot connect to port %d", q->port);
    }
    q->fd = fd;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof q->answer - 1 &&
           (n = recv(fd, q->answer + got, sizeof q->answer - 1 - got, 0)) > 0)
        got += (size_t)n;
    q->answer[got] = '\0';
    q->fd = -1;
    close(fd);
    if (weft_checkpoint() == WEFT_ECANCELED) return WEFT_ECANCELED; /* cut short */
    *result = q->answer;
    return got > 0 ? 0 : weft_error_set(WEFT_EBROKEN, "no answer from port %d", q->port);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? argc - 1 : 3;
    static const int defaults[] = {300, 40, 150};
    struct server srv[MAX_SERVERS];
    struct query q[MAX_SERVERS];
    weft_future *f[MAX_SERVERS];
    if (n > MAX_SERVERS) return 2;
    for (int i = 0; i < n; i++) {
        srv[i] =
            (struct server){.id = i + 1, .delay_ms = argc > 1 ? atoi(argv[i + 1]) : defaults[i]};
        if (srv[i].delay_ms < 0 || start_server(&srv[i]) != 0) return 1;
        q[i] = (struct query){.port = srv[i].port, .fd = -1};
    }
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = n;
    po.task_scopes = 1; /* cancelling a running query's future cancels its scope */
    weft_pool *pool;
    if (weft_pool_new(&pool, &po) != 0) return 1;

    weft_ns t0 = weft_now();
    for (int i = 0; i < n; i++)
        if (weft_pool_submit(pool, ask, &q[i], &f[i], WEFT_FOREVER) != 0) return 1;
    size_t first = 0;
    if (weft_wait(f, (size_t)n, WEFT_FIRST_COMPLETED, &first, WEFT_SEC(10)) != 0) return 1;
    void *answer = NULL;
    int rc = weft_future_result(f[first], &answer, 0);
    printf("first: %s (%.1f ms)\n", rc == 0 ? (char *)answer : weft_error_message(),
           (double)(weft_now() - t0) / 1e6);

    weft_ns t1 = weft_now();
    for (int i = 0; i < n; i++) {
        if ((size_t)i == first) continue;
        weft_future_cancel(f[i]);
        int fd = q[i].fd;
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
    }
    int cancelled = 0;
    for (int i = 0; i < n; i++) {
        if ((size_t)i != first && weft_future_result(f[i], NULL, WEFT_SEC(5)) == WEFT_ECANCELED)
            cancelled++;
        weft_future_release(f[i]);
    }
    printf("cancelled the other %d queries in %.1f ms\n", cancelled,
           (double)(weft_now() - t1) / 1e6);

    weft_pool_shutdown(pool, 1, 1, WEFT_SEC(5));
    weft_pool_free(pool);
    for (int i = 0; i < n; i++) {
        shutdown(srv[i].lfd, SHUT_RDWR); /* ends the server's accept() */
        weft_thread_stop(srv[i].thread); /* and its sleep, if it is answering a late query */
        weft_thread_join(srv[i].thread, NULL, WEFT_SEC(5));
        close(srv[i].lfd);
    }
    return rc == 0 && cancelled == n - 1 ? 0 : 1;
}
