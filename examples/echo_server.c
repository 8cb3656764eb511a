/* examples/echo_server.c - seed 002's echo server: any number of clients on a bounded weft pool.
 *
 * The Python versions give each client a thread of a 128-thread pool for as long as it stays
 * connected, so 128 idle clients deny service to everyone else, and nothing stops them on
 * Ctrl-C. Here a connection holds no thread while it has nothing to say:
 *   - the pool runs WORKERS tasks for the server's whole life, one per worker thread. Each owns
 *     an epoll set and serves the connections in it: it waits until one of them is readable,
 *     echoes what is there without ever blocking, and waits again. A connection belongs to one
 *     worker from accept to close, so nothing is handed between threads per message, no lock
 *     is taken and no socket is re-armed: one wake-up per burst of events, however many
 *     clients are connected;
 *   - main only accepts: it waits on the listening socket and gives each new client to the
 *     next worker in turn (round robin), by adding it to that worker's epoll set;
 *   - an echo the client is slow to read is kept and sent when the socket is writable; reading
 *     from that client stops meanwhile (back-pressure, not unbounded buffering);
 *   - TCP_NODELAY on every client: an echo sent in pieces is not held back until the client's
 *     delayed ACK (40 ms on Linux) for the previous piece arrives;
 *   - out of descriptors (EMFILE, ENFILE), accept() fails but the client stays in the backlog
 *     and epoll reports the listener ready again at once: a busy loop. A reserve descriptor is
 *     closed instead, the client accepted and closed at once (it sees its connection end), and
 *     the reserve reopened (libuv's trick); when that fails too, accepting pauses for 100 ms;
 *   - the listen backlog is the system's maximum (somaxconn), so a burst of connections waits
 *     in the kernel instead of having its SYNs dropped and retried a second later;
 *   - Ctrl-C or SIGTERM (weft_signals_catch) runs a callback that writes to a wake descriptor
 *     (an eventfd) that is in every epoll set: main and every worker return, main shuts the
 *     pool down, closes every client socket still open and exits 0.
 *
 *     echo_server [PORT [WORKERS]]   PORT 0-65535, 0 (default): a free port, printed;
 *                                    WORKERS 1-1024, default one per CPU. Listens on 127.0.0.1.
 * Exit status: 0 after Ctrl-C or SIGTERM; 1 if it could not start or stop cleanly; 2 for bad
 * arguments (with a message).
 *
 * Ownership: main makes a struct conn and gives it to a worker by adding it to the worker's
 * epoll set (an EPOLL_CTL_ADD, which orders main's writes before the worker sees the event);
 * from then on only that worker touches it, and ends it (drop). Every conn is also on the
 * registry list (reg.lock, a leaf lock, taken only to connect and disconnect), so that main
 * can close whatever is left once the pool has ended.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

enum { READS_PER_TURN = 16, BUF_SIZE = 64 * 1024, EVENTS = 256 };

struct conn {
    int fd;
    char *pend; /* an echo not yet sent (malloc'd), or NULL */
    size_t plen, poff;
    struct conn *prev, *next; /* the registry */
};

/* One pool task: the connections in its epoll set are its own. */
struct worker {
    int ep;
    long echoed; /* bytes; read by main after the pool has ended */
    char buf[BUF_SIZE];
};

static struct {
    int ep, lfd, wake, reserve; /* ep: main's set, the listener and the wake descriptor */
    struct worker *w;           /* nw of them */
    int nw, next;               /* next: the worker that gets the next client */
    long accepted, refused;     /* main's own counters */
    weft_lock lock;             /* guards head */
    struct conn head;
} srv = {.ep = -1, .lfd = -1, .wake = -1, .reserve = -1, .lock = WEFT_LOCK_INIT};

static char listener_tag, wake_tag; /* epoll data for the two non-client descriptors */

/* The registry's critical sections are short and must run even after Ctrl-C has cancelled
 * every scope: shielded and untimed, the acquire cannot fail. */
static void reg_lock(void)
{
    weft_shield_begin();
    int rc = weft_lock_acquire(&srv.lock, WEFT_FOREVER);
    weft_shield_end();
    (void)rc;
}

static void reg_add(struct conn *c)
{
    reg_lock();
    c->next = srv.head.next;
    c->prev = &srv.head;
    srv.head.next->prev = c;
    srv.head.next = c;
    weft_lock_release(&srv.lock);
}

/* End a connection: off the registry, socket closed (which also takes it out of epoll). */
static void drop(struct conn *c)
{
    reg_lock();
    c->prev->next = c->next;
    c->next->prev = c->prev;
    weft_lock_release(&srv.lock);
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Send data[0, n) to c without blocking. 0: all sent; 1: the rest is kept in c->pend for when
 * the socket is writable; -1: the connection is gone (or memory is). */
static int send_some(struct conn *c, const char *data, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, data + off, n - off, MSG_NOSIGNAL);
        if (w >= 0) {
            off += (size_t)w;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->pend = malloc(n - off);
            if (c->pend == NULL) return -1;
            memcpy(c->pend, data + off, n - off);
            c->plen = n - off;
            c->poff = 0;
            return 1;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Send what c kept; the same results as send_some. */
static int flush(struct conn *c)
{
    char *p = c->pend;
    size_t n = c->plen - c->poff, off = c->poff;
    c->pend = NULL;
    c->plen = c->poff = 0;
    int st = send_some(c, p + off, n);
    free(p);
    return st;
}

/* Echo what c has to say now, without blocking: 0, 1 (an echo waits in c->pend) or -1 (the
 * connection is over), as send_some. The socket is level-triggered: whatever is left unread
 * is reported again by the next epoll_wait, so a read that did not fill the buffer ends the
 * turn (the socket is most likely drained: asking again would cost a system call to hear
 * EAGAIN), and so do READS_PER_TURN full ones (one busy client cannot starve the others of
 * its worker). */
static int echo(struct worker *w, struct conn *c)
{
    int st = c->pend != NULL ? flush(c) : 0;
    for (int turn = 0; st == 0 && turn < READS_PER_TURN; turn++) {
        ssize_t n = recv(c->fd, w->buf, sizeof w->buf, 0);
        if (n > 0) {
            w->echoed += n;
            st = send_some(c, w->buf, (size_t)n);
            if ((size_t)n < sizeof w->buf) break;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break; /* nothing after all */
        } else if (n == 0 || errno != EINTR) {
            st = -1; /* the client closed, or the connection failed */
        }
    }
    return st;
}

/* Serve one ready connection. While an echo waits, watch for writable instead of readable
 * (back-pressure: nothing more is read from a client that does not read its echoes). */
static void serve(struct worker *w, struct conn *c)
{
    int waiting = c->pend != NULL;
    int st = echo(w, c);
    if (st >= 0 && st != waiting) {
        struct epoll_event ev = {.events = st ? EPOLLOUT : EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) st = -1;
    }
    if (st < 0) drop(c);
}

/* Wake main and every worker: the wake descriptor stays readable (nobody reads it), and it is
 * in every epoll set. Called by the signal thread, and by main when it stops for another
 * reason. */
static void stop(void)
{
    uint64_t one = 1;
    if (write(srv.wake, &one, sizeof one) < 0) { /* only if the counter is full: awake anyway */
    }
}

/* A pool task, for the server's whole life: serve the connections main puts in w's epoll set
 * until the wake descriptor says stop. */
static int worker_loop(void *arg, void **result)
{
    struct worker *w = arg;
    struct epoll_event ev[EVENTS];
    (void)result;
    for (;;) {
        int n = epoll_wait(w->ep, ev, EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("echo_server: epoll_wait");
            stop(); /* its clients would go unserved: stop the server, loudly */
            return 0;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &wake_tag) return 0;
            serve(w, ev[i].data.ptr);
        }
    }
}

/* Out of descriptors: accept the waiting client on the reserve descriptor's number and close
 * it, so that it leaves the backlog. 1 if a client was refused so, 0 if none was waiting
 * (accept4 reports EMFILE before it looks at the backlog), -1 if there is no reserve. */
static int refuse_one(void)
{
    static weft_ns last_report;
    if (srv.reserve < 0) return -1;
    close(srv.reserve);
    int fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC), e = errno;
    if (fd >= 0) close(fd);
    srv.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return e == EAGAIN || e == EWOULDBLOCK ? 0 : -1;
    long n = ++srv.refused;
    if (n == 1 || weft_now() - last_report >= WEFT_SEC(1)) {
        last_report = weft_now();
        fprintf(stderr, "echo_server: out of file descriptors: closed a new client (%ld so far)\n",
                n);
    }
    return 1;
}

/* Give a new client to the next worker: from the EPOLL_CTL_ADD on, it is that worker's. */
static void add_client(int fd)
{
    int one = 1;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        free(c);
        close(fd);
        return;
    }
    c->fd = fd;
    reg_add(c);
    srv.accepted++;
    struct worker *w = &srv.w[srv.next];
    srv.next = (srv.next + 1) % srv.nw;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) drop(c); /* no worker ever saw it */
}

/* Accept every waiting client. 0 when the backlog is empty; -1 when accepting must pause (out
 * of descriptors without a reserve, or out of kernel memory): retrying at once would spin. */
static int accept_all(void)
{
    for (;;) {
        int fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_client(fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else if (errno == EMFILE || errno == ENFILE) {
            int r = refuse_one();
            if (r <= 0) return r;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            return -1; /* ENOBUFS, ENOMEM: the kernel is short; try again later */
        }
    }
}

/* Pause or resume the listener's readiness reports. */
static void listen_events(uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = &listener_tag};
    epoll_ctl(srv.ep, EPOLL_CTL_MOD, srv.lfd, &ev);
}

/* Until Ctrl-C: accept clients. 0 when told to stop, 1 on failure. */
static int accept_loop(void)
{
    struct epoll_event ev[2];
    weft_ns resume_at = 0; /* accepting paused until then; 0: not paused */
    while (!weft_cancelled()) {
        int ms = -1;
        if (resume_at != 0) {
            weft_ns left = resume_at - weft_now();
            ms = left <= 0 ? 0 : (int)(left / WEFT_MS(1)) + 1;
        }
        int n = epoll_wait(srv.ep, ev, 2, ms);
        if (n < 0 && errno != EINTR) {
            perror("echo_server: epoll_wait");
            return 1;
        }
        if (resume_at != 0 && weft_now() >= resume_at) {
            resume_at = 0;
            listen_events(EPOLLIN);
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &wake_tag) return 0;
            if (accept_all() != 0) {
                resume_at = weft_now() + WEFT_MS(100);
                listen_events(0);
            }
        }
    }
    return 0;
}

static void on_signal(int signo, void *arg)
{
    (void)signo;
    (void)arg;
    stop();
}

static int add_fd(int ep, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The listening socket, registered with epoll; prints the port. -1 with a message on failure. */
static int start_listening(int port)
{
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv.lfd < 0 || setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv.lfd, INT_MAX) != 0 ||
        getsockname(srv.lfd, (struct sockaddr *)&a, &len) != 0 ||
        add_fd(srv.ep, srv.lfd, &listener_tag) != 0) {
        fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return -1;
    }
    printf("echo server listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return 0;
}

/* Make the pool's workers: an epoll set each (with the wake descriptor in it), and a task on
 * the pool that serves it. -1 with a message on failure. */
static int start_workers(weft_pool *pool)
{
    struct weft_pool_stats st;
    int rc = weft_pool_stats(pool, &st); /* max_workers: the count asked for, or one per CPU */
    srv.nw = rc == 0 ? st.max_workers : 0;
    srv.w = calloc((size_t)srv.nw, sizeof *srv.w);
    if (srv.w == NULL) rc = WEFT_ENOMEM;
    for (int i = 0; rc == 0 && i < srv.nw; i++) srv.w[i].ep = -1; /* for close_all */
    for (int i = 0; rc == 0 && i < srv.nw; i++) {
        srv.w[i].ep = epoll_create1(EPOLL_CLOEXEC);
        if (srv.w[i].ep < 0 || add_fd(srv.w[i].ep, srv.wake, &wake_tag) != 0) {
            perror("echo_server: epoll");
            return -1;
        }
        rc = weft_pool_submit(pool, worker_loop, &srv.w[i], NULL, WEFT_FOREVER);
    }
    if (rc != 0) fprintf(stderr, "echo_server: cannot start the workers: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : -1;
}

/* Close every client still connected (the pool has ended: no task touches them), and the
 * workers' epoll sets. The number of clients closed so. */
static long close_all(long *echoed)
{
    long n = 0;
    while (srv.head.next != &srv.head) {
        drop(srv.head.next);
        n++;
    }
    for (int i = 0; srv.w != NULL && i < srv.nw; i++) {
        *echoed += srv.w[i].echoed;
        if (srv.w[i].ep >= 0) close(srv.w[i].ep);
    }
    free(srv.w);
    return n;
}

/* A whole decimal number in [lo, hi] from s, else -1 with a message naming what. */
static long parse(const char *s, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && v >= lo && v <= hi) return v;
    fprintf(stderr, "echo_server: %s must be a number from %ld to %ld, not '%s'\n", what, lo, hi,
            s);
    return -1;
}

/* Serve until Ctrl-C, then stop everything: 0, or 1 if something failed. */
static int run(int port, weft_pool *pool)
{
    int status = start_listening(port) != 0 || start_workers(pool) != 0 ? 1 : accept_loop();
    stop();              /* the workers too, whatever ended main's loop */
    weft_shield_begin(); /* Ctrl-C cancelled every scope; the shutdown must still wait */
    int rc = weft_pool_shutdown(pool, 1, 1, WEFT_SEC(10));
    weft_shield_end();
    weft_pool_free(pool);
    long echoed = 0, left = close_all(&echoed);
    close(srv.lfd);
    close(srv.ep);
    close(srv.reserve);
    /* The wake descriptor stays open, for exit to close: the signal thread may still write to
     * it (a first signal after a stop for another reason). */
    printf("echo server stopped: %ld clients served, %ld bytes echoed, %ld clients refused, %ld "
           "closed at shutdown, pool shutdown %s\n",
           srv.accepted, echoed, srv.refused, left, weft_strerror(rc));
    return status != 0 || rc != 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    long port = argc > 1 ? parse(argv[1], "PORT", 0, 65535) : 0;
    long workers = argc > 2 ? parse(argv[2], "WORKERS", 1, 1024) : 0;
    if (argc > 3) fprintf(stderr, "echo_server: too many arguments\n");
    if (port < 0 || workers < 0 || argc > 3) {
        fprintf(stderr, "usage: echo_server [PORT [WORKERS]]\n");
        return 2;
    }
    srv.head.next = srv.head.prev = &srv.head;
    weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
    so.on_signal = on_signal;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = (int)workers;
    po.name_prefix = "echo";
    weft_pool *pool = NULL;
    srv.ep = epoll_create1(EPOLL_CLOEXEC);
    srv.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    srv.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (srv.ep < 0 || srv.wake < 0 || srv.reserve < 0 || add_fd(srv.ep, srv.wake, &wake_tag) != 0) {
        perror("echo_server");
        return 1;
    }
    int rc = weft_signals_catch(&so);
    if (rc == 0) rc = weft_pool_new(&pool, &po);
    if (rc != 0) {
        fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
        return 1;
    }
    return run((int)port, pool);
}
