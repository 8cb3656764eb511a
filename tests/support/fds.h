/* tests/support/fds.h - file descriptors as the tests see them: one watched with epoll, as an
 * event loop would (weft_queue_fd, weft_future_fd), a child process's pipe to the test, and
 * text read back from one (the dump, what a call wrote to stderr). Each helper fails the test if a system call fails.
 */
#ifndef WEFT_TEST_FDS_H
#define WEFT_TEST_FDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A new epoll set watching fd for EPOLLIN, level-triggered (caller closes it). */
int weft_test_watch(int fd);
/* Whether the set ep reports its descriptor readable within ms milliseconds / now. */
bool weft_test_readable_within(int ep, int ms);
bool weft_test_readable(int ep);

/* fork() with a pipe from the child to the parent: the child gets 0 and in *fd the pipe's
 * write end, the parent the child's pid and the read end; each side's other end is closed. */
pid_t weft_test_fork_piped(int *fd);

/* The whole of the file at fd (from offset 0, e.g. a memfd) as a NUL-terminated string
 * (caller frees); fd stays open. */
char *weft_test_fd_text(int fd);
/* weft_debug_dump written into a memfd: its text, never empty (caller frees). */
char *weft_test_dump_text(void);
/* Run fn with stderr going to a memfd: what it wrote (caller frees). */
char *weft_test_stderr_of(void (*fn)(void));
/* How many times what occurs in text (overlapping occurrences counted). */
size_t weft_test_count(const char *text, const char *what);

#endif
