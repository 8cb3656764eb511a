/* examples/echo_server.c - seed 002's echo server with a worker pool, stopped by Ctrl-C.
 *
 * The Python versions hand each accepted client to a Queue of 128 daemon threads, or to a
 * ThreadPoolExecutor(128), and have no way to stop: Ctrl-C lands in accept() of the main thread
 * while the workers sit in recv(). Here:
 *   - clients are served by a weft_pool (a worker per client connection while it lasts);
 *   - weft_signals_catch turns Ctrl-C into cancellation, and its callback wakes the accept loop
 *     through a pipe (poll on the socket and the pipe: no timeout, no polling of a flag);
 *   - sockets are outside weft, so a blocked recv() is not cancelled: on the way out the server
 *     shuts every open client socket down, which ends those recv()s, then shuts the pool down.
 *
 *     echo_server [PORT] [WORKERS]     PORT 0 (default): any free port; WORKERS default 16
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#define MAX_CLIENTS 1024

static struct {
    weft_lock lock; /* guards fds */
    int fds[MAX_CLIENTS];
    int wake[2]; /* the signal callback writes, the accept loop polls */
} srv = {.lock = WEFT_LOCK_INIT};

static _Atomic long served, echoed;

/* The registry's critical sections are short and must run even after Ctrl-C: shielded and
 * untimed, the acquire cannot fail. */
static void lock_registry(void)
{
    weft_shield_begin();
    int rc = weft_lock_acquire(&srv.lock, WEFT_FOREVER);
    weft_shield_end();
    (void)rc;
}

static int track(int fd)
{
    int slot = -1;
    lock_registry();
    for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
        if (srv.fds[i] < 0) srv.fds[slot = i] = fd;
    weft_lock_release(&srv.lock);
    return slot;
}

static void untrack(int slot)
{
    lock_registry();
    srv.fds[slot] = -1;
    weft_lock_release(&srv.lock);
}

struct client {
    int fd, slot;
};

/* A pool task: echo until the client closes (or the server shuts the socket down). */
static int serve_client(void *arg, void **result)
{
    struct client *c = arg;
    char buf[4096];
    ssize_t n;
    (void)result;
    while ((n = recv(c->fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(c->fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0) goto out;
            off += w;
        }
        echoed += n;
    }
out:
    untrack(c->slot);
    close(c->fd);
    free(c);
    served++;
    return 0;
}

static void on_signal(int signo, void *arg)
{
    (void)signo;
    (void)arg;
    if (write(srv.wake[1], "x", 1) < 0) { /* the loop also sees the cancellation */
    }
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128)) return -1;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    printf("echo server listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

/* Accept clients until Ctrl-C; hand each to the pool. */
static void accept_loop(int lfd, weft_pool *pool)
{
    struct pollfd pf[2] = {{lfd, POLLIN, 0}, {srv.wake[0], POLLIN, 0}};
    while (weft_checkpoint() == 0) {
        if (poll(pf, 2, -1) < 0 || pf[1].revents) break;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        struct client *c = malloc(sizeof *c);
        if (c == NULL || (c->slot = track(fd)) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        if (weft_pool_submit(pool, serve_client, c, NULL, WEFT_FOREVER) != 0) {
            untrack(c->slot);
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0, workers = argc > 2 ? atoi(argv[2]) : 16;
    for (int i = 0; i < MAX_CLIENTS; i++) srv.fds[i] = -1;
    if (pipe(srv.wake) != 0) return 1;
    weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
    so.on_signal = on_signal;
    if (weft_signals_catch(&so) != 0) return 1;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = workers;
    po.name_prefix = "echo";
    weft_pool *pool;
    int lfd = listen_on(port);
    if (lfd < 0 || weft_pool_new(&pool, &po) != 0) {
        perror("echo_server");
        return 1;
    }
    accept_loop(lfd, pool);
    close(lfd);
    /* Wake the workers blocked in recv(): sockets are outside weft's cancellation. */
    lock_registry();
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (srv.fds[i] >= 0) shutdown(srv.fds[i], SHUT_RDWR);
    weft_lock_release(&srv.lock);
    weft_shield_begin();
    int rc = weft_pool_shutdown(pool, 1, 1, WEFT_SEC(5));
    weft_shield_end();
    weft_pool_free(pool);
    printf("echo server stopped: %ld clients served, %ld bytes echoed, shutdown %s\n", (long)served,
           (long)echoed, weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
