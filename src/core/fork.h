/* src/core/fork.h - the process's life as weft sees it: fork() and exit.
 *
 * fork.c holds weft's one pthread_atfork registration and the ordered table of what every
 * module locks before fork() and resets in the child; exit.c holds the one atexit handler and
 * the order in which weft's services end at exit. Each module implements its entries below and
 * calls the register functions when it first starts something (both are idempotent).
 */
#ifndef WEFT_FORK_H
#define WEFT_FORK_H

/* Register the fork handlers / the exit handler, once per process (pthread_once). */
void weft__fork_register(void);
void weft__exit_register(void);
/* Set by the thread that forks a weft child process (process.c's fork method) around fork():
 * that child resets its signals and runs one function, so the table's child entries start no
 * service thread there (a signal thread would take the SIGTERM meant to end the child). */
extern _Thread_local int weft__fork_for_process;
/* The exit sequence itself: the atexit handler, and a weft child process that ends with _exit
 * (process/child.c). */
void weft__exit_run(void);

/* fork() entries, in the order of fork.c's table (the lock hierarchy). prepare takes the
 * module's locks; parent releases them; child makes the module right for a process where only
 * the forking thread exists, then releases them. */
void weft__signals_fork_prepare(void);
void weft__signals_fork_parent(void);
void weft__signals_fork_child(void);
void weft__debug_fork_prepare(void);
void weft__debug_fork_parent(void);
void weft__debug_fork_child(void);
void weft__timer_fork_prepare(void);
void weft__timer_fork_parent(void);
void weft__timer_fork_child(void);
void weft__pools_fork_prepare(void);
void weft__pools_fork_parent(void);
void weft__pools_fork_child(void);
void weft__queues_fork_prepare(void);
void weft__queues_fork_parent(void);
void weft__queues_fork_child(void);
void weft__thread_fork_prepare(void);
void weft__thread_fork_parent(void);
void weft__thread_fork_child(void);
void weft__scope_fork_prepare(void);
void weft__scope_fork_parent(void);
void weft__scope_fork_child(void);
void weft__thread_exitq_fork_prepare(void);
void weft__thread_exitq_fork_parent(void);
void weft__thread_exitq_fork_child(void);
void weft__pool_hook_fork_prepare(void);
void weft__pool_hook_fork_parent(void);
void weft__pool_hook_fork_child(void);
void weft__records_fork_prepare(void);
void weft__records_fork_parent(void);
void weft__records_fork_child(void);
void weft__lot_fork_prepare(void);
void weft__lot_fork_parent(void);
void weft__lot_fork_child(void);
void weft__process_fork_child(void);
void weft__ipcq_fork_prepare(void);
void weft__ipcq_fork_parent(void);
void weft__ipcq_fork_child(void);

/* Exit steps, in the order exit.c runs them. */
void weft__thread_wait_nondaemon(void); /* wait for the non-daemon threads */
void weft__pools_at_exit(void);         /* shut down, waiting, every non-daemon pool */
void weft__procpools_at_exit(void);     /* shut down, waiting, every open process pool */
void weft__thread_at_exit(void);        /* report unjoined failures, detach the rest */
void weft__timer_at_exit(void);         /* end the timer thread, if idle */
void weft__signals_at_exit(void);       /* end the signal thread */
void weft__debug_at_exit(void);         /* end the dump service thread */
void weft__process_exit_children(void); /* kill daemon children, join the rest */

#endif
