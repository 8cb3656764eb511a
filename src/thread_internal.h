/* src/thread_internal.h - what other modules need from thread.c. */
#ifndef WEFT_THREAD_INTERNAL_H
#define WEFT_THREAD_INTERNAL_H

/* The exit rule, as at exit(): wait until no non-daemon weft thread runs (besides the caller),
 * then report the failed threads nobody joined. A weft child process calls it when its
 * function returns, since it ends with _exit (process/child.c). */
void weft__thread_exit_rule(void);

#endif
