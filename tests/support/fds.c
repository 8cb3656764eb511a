/* tests/support/fds.c - epoll watches and text read back from descriptors (fds.h). */
#include "fds.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"

int weft_test_watch(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    ck_assert_int_ge(ep, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
    return ep;
}

bool weft_test_readable_within(int ep, int ms)
{
    struct epoll_event ev;
    return epoll_wait(ep, &ev, 1, ms) == 1;
}

bool weft_test_readable(int ep)
{
    return weft_test_readable_within(ep, 0);
}

pid_t weft_test_fork_piped(int *fd)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    close(fds[pid == 0 ? 0 : 1]);
    *fd = fds[pid == 0 ? 1 : 0];
    return pid;
}

char *weft_test_fd_text(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    ck_assert_int_ge(len, 0);
    char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fd, buf, (size_t)len, 0), len);
    buf[len] = '\0';
    return buf;
}

char *weft_test_dump_text(void)
{
    int fd = memfd_create("dump", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_weft(weft_debug_dump(fd), 0);
    char *text = weft_test_fd_text(fd);
    close(fd);
    ck_assert_int_gt(strlen(text), 0);
    return text;
}

char *weft_test_stderr_of(void (*fn)(void))
{
    int fd = memfd_create("stderr", MFD_CLOEXEC), saved = dup(2);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    fn();
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    char *text = weft_test_fd_text(fd);
    close(fd);
    return text;
}

size_t weft_test_count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++) n++;
    return n;
}
