/* examples/echo_server.c - seed 002's echo server: any number of clients on a bounded weft pool.
 *
 * The Python versions give each client a thread of a 128-thread pool for as long as it stays
 * connected, so 128 idle clients deny service to everyone else, and nothing stops them on
 * Ctrl-C. Here a connection holds no thread while it has nothing to say:
 *   - main waits on one epoll set holding the listening socket, every client socket and a wake
 *     descriptor. Client sockets are non-blocking and armed EPOLLONESHOT: a ready socket is
 *     reported once, and main hands it to the pool as one task;
 *   - the task echoes what is there without ever blocking, then re-arms the socket and returns:
 *     one task per connection at most, a worker busy only while there is something to echo,
 *     and the pool stays WORKERS threads however many clients are connected;
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
 *   - Ctrl-C or SIGTERM (weft_signals_catch) runs a callback that writes to the wake
 *     descriptor; main stops accepting, shuts the pool down (tasks never block, so that is
 *     quick), closes every client socket still open and exits 0.
 *
 *     echo_server [PORT [WORKERS]]   PORT 0-65535, 0 (default): a free port, printed;
 *                                    WORKERS 1-1024, default one per CPU. Listens on 127.0.0.1.
 * Exit status: 0 after Ctrl-C or SIGTERM; 1 if it could not start or stop cleanly; 2 for bad
 * arguments (with a message).
 *
 * Ownership: a struct conn armed in epoll belongs to main, which only hands it to a task; while
 * its task runs, to that task, which gives it back by re-arming it (and touches it no more) or
 * ends it (drop). Every conn is also on the registry list (reg.lock, a leaf lock), so that main
 * can close whatever is left once the pool has ended.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

enum { READS_PER_TASK = 16, BUF_SIZE = 64 * 1024, EVENTS = 256 };

struct conn {
    int fd;
    char *pend; /* an echo not yet sent (malloc'd), or NULL */
    size_t plen, poff;
    struct conn *prev, *next; /* the registry */
};

static struct {
    int ep, lfd, wake, reserve;
    weft_lock lock; /* guards head */
    struct conn head;
} srv = {.ep = -1, .lfd = -1, .wake = -1, .reserve = -1, .lock = WEFT_LOCK_INIT};

static _Atomic long accepted, refused, echoed; /* relaxed counters, read after the pool ended */
static char listener_tag, wake_tag;            /* epoll data for the two non-client descriptors */
static _Thread_local char task_buf[BUF_SIZE];

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

/* Hand c back to epoll, reporting events once; after this the caller must not touch c (the
 * next task for it may already run). A task re-arms with DEL then ADD rather than one MOD:
 * the kernel orders either before the event that main turns into the next task, but
 * ThreadSanitizer (GCC 12) takes only an ADD as a release on the epoll set, and would report
 * the next task's close() or free() as racing with this re-arm. A second system call buys a
 * handoff that the race detector can check. */
static int arm(struct conn *c, uint32_t events)
{
    int fd = c->fd;
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(srv.ep, EPOLL_CTL_DEL, fd, NULL) != 0) return -1;
    return epoll_ctl(srv.ep, EPOLL_CTL_ADD, fd, &ev);
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

/* A pool task: echo what c has to say now, without blocking, then give c back to epoll
 * (readable again, or writable when an echo waits) or end it. */
static int serve(void *arg, void **result)
{
    struct conn *c = arg;
    int st = c->pend != NULL ? flush(c) : 0;
    (void)result;
    for (int turn = 0; st == 0 && turn < READS_PER_TASK; turn++) {
        ssize_t n = recv(c->fd, task_buf, sizeof task_buf, 0);
        if (n > 0) {
            atomic_fetch_add_explicit(&echoed, n, memory_order_relaxed);
            st = send_some(c, task_buf, (size_t)n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break; /* drained: wait for more */
        } else if (n == 0 || errno != EINTR) {
            st = -1; /* the client closed, or the connection failed */
        }
    }
    /* After READS_PER_TASK reads the socket may still hold data: re-armed, it is reported again
     * at once and queued behind the other connections' tasks (fairness). */
    if (st < 0 || arm(c, st > 0 ? EPOLLOUT : EPOLLIN) != 0) drop(c);
    return 0;
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
    long n = atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed) + 1;
    if (n == 1 || weft_now() - last_report >= WEFT_SEC(1)) {
        last_report = weft_now();
        fprintf(stderr, "echo_server: out of file descriptors: closed a new client (%ld so far)\n",
                n);
    }
    return 1;
}

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
    atomic_fetch_add_explicit(&accepted, 1, memory_order_relaxed);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(srv.ep, EPOLL_CTL_ADD, fd, &ev) != 0) drop(c);
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

/* Until Ctrl-C: accept clients, and hand every ready client to the pool. */
static int event_loop(weft_pool *pool)
{
    struct epoll_event ev[EVENTS];
    weft_ns resume_at = 0; /* accepting paused until then; 0: not paused */
    while (!weft_cancelled()) {
        int ms = -1;
        if (resume_at != 0) {
            weft_ns left = resume_at - weft_now();
            ms = left <= 0 ? 0 : (int)(left / WEFT_MS(1)) + 1;
        }
        int n = epoll_wait(srv.ep, ev, EVENTS, ms);
        if (n < 0 && errno != EINTR) {
            perror("echo_server: epoll_wait");
            return 1;
        }
        if (resume_at != 0 && weft_now() >= resume_at) {
            resume_at = 0;
            listen_events(EPOLLIN);
        }
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == &wake_tag) return 0;
            if (p == &listener_tag) {
                if (accept_all() != 0) {
                    resume_at = weft_now() + WEFT_MS(100);
                    listen_events(0);
                }
            } else if (weft_pool_submit(pool, serve, p, NULL, WEFT_FOREVER) != 0) {
                drop(p); /* out of memory: this client goes, the server stays */
            }
        }
    }
    return 0;
}

static void on_signal(int signo, void *arg)
{
    uint64_t one = 1;
    (void)signo;
    (void)arg;
    if (write(srv.wake, &one, sizeof one) < 0) { /* the loop also sees the cancellation */
    }
}

static int add_fd(int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(srv.ep, EPOLL_CTL_ADD, fd, &ev);
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
        add_fd(srv.lfd, &listener_tag) != 0) {
        fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return -1;
    }
    printf("echo server listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return 0;
}

/* Close every client still connected (the pool has ended: no task touches them). */
static long close_all(void)
{
    long n = 0;
    while (srv.head.next != &srv.head) {
        drop(srv.head.next);
        n++;
    }
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
    if (srv.ep < 0 || srv.wake < 0 || srv.reserve < 0 || add_fd(srv.wake, &wake_tag) != 0) {
        perror("echo_server");
        return 1;
    }
    int rc = weft_signals_catch(&so);
    if (rc == 0) rc = weft_pool_new(&pool, &po);
    if (rc != 0) {
        fprintf(stderr, "echo_server: %s\n", weft_strerror(rc));
        return 1;
    }
    int status = start_listening((int)port) != 0 ? 1 : event_loop(pool);
    weft_shield_begin(); /* Ctrl-C cancelled every scope; the shutdown must still wait */
    rc = weft_pool_shutdown(pool, 1, 1, WEFT_SEC(10));
    weft_shield_end();
    weft_pool_free(pool);
    long left = close_all();
    close(srv.lfd);
    close(srv.ep);
    close(srv.reserve);
    /* The wake descriptor stays open, for exit to close: the signal thread may still write to
     * it (a first signal after a stop for another reason). */
    printf("echo server stopped: %ld clients served, %ld bytes echoed, %ld clients refused, %ld "
           "closed at shutdown, pool shutdown %s\n",
           (long)accepted, (long)echoed, (long)refused, left, weft_strerror(rc));
    return status != 0 || rc != 0 ? 1 : 0;
}
