/* src/procpool/seqpacket.c - the carrier of today: one AF_UNIX SOCK_SEQPACKET socket pair per
 * worker. The kernel keeps record boundaries, delivers in order, and reports the peer's
 * death as end of file; the parent asks with MSG_DONTWAIT, so the manager thread never waits
 * on one worker (epoll says when to read), and the worker blocks in recv between tasks. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procpool/wire.h"

static int sp_pair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        return weft_error_set(WEFT_EAGAIN, "procpool: socketpair failed (errno %d)", errno);
    int size = 4 * (int)PP_REC_MAX; /* the kernel caps it at wmem_max (and doubles it) */
    (void)setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    (void)setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return 0;
}

static int sp_send(int fd, const void *rec, size_t len, int wait)
{
    for (;;) {
        if (send(fd, rec, len, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT)) == (ssize_t)len) return 0;
        if (errno == EINTR) continue;
        return errno == EAGAIN ? WEFT_EAGAIN : WEFT_ECLOSED;
    }
}

static long sp_recv(int fd, void *buf, size_t cap, int wait)
{
    for (;;) {
        ssize_t n = recv(fd, buf, cap, MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT));
        if (n >= 0) return (size_t)n > cap ? WEFT_ERANGE : (long)n;
        if (errno == EINTR) continue;
        return errno == EAGAIN ? WEFT_EAGAIN : WEFT_ECLOSED;
    }
}

/* recvmmsg: one system call for every answer a worker has queued. The kernel counts an end of
 * file as a record of length 0 (and repeats it to the end of the vector): reported as such. */
static long sp_recv_many(int fd, void *bufs, size_t cap, size_t *lens, unsigned n)
{
    struct mmsghdr mm[PP_RECV_BATCH];
    struct iovec iov[PP_RECV_BATCH];
    if (n > PP_RECV_BATCH) n = PP_RECV_BATCH;
    memset(mm, 0, sizeof mm[0] * n);
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = (char *)bufs + i * cap;
        iov[i].iov_len = cap;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int got = recvmmsg(fd, mm, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return errno == EAGAIN ? 0 : WEFT_ECLOSED;
        for (int i = 0; i < got; i++) {
            lens[i] = mm[i].msg_len;
            if (mm[i].msg_hdr.msg_flags & MSG_TRUNC && lens[i] <= cap) lens[i] = cap + 1;
            if (lens[i] == 0) return i + 1;
        }
        return got;
    }
}

const struct pp_carrier pp_seqpacket = {"seqpacket", sp_pair, sp_send, sp_recv, sp_recv_many};
