/* src/exit.c - the process's exit, as Python ends an interpreter: one atexit handler that ends
 * weft's services in a fixed order.
 *
 *   1. wait for the non-daemon weft threads (threading._shutdown);
 *   2. shut down, waiting, every pool that was not shut down and is not a daemon pool, the
 *      default pool included: what was queued runs, as concurrent.futures' exit hook does;
 *   2b. shut down, waiting, every process pool still open (src/procpool/): what was queued
 *      runs, as ProcessPoolExecutor's exit hook does; before step 4, which would kill its
 *      (daemon) workers under it;
 *   3. wait for the non-daemon threads again (those that tasks started in step 2);
 *   4. kill the daemon child processes and join the others (multiprocessing's exit hook);
 *   5. end the timer thread (unless a callback runs), the signal thread and the dump service
 *      thread (debug.c), and join them: a program run under valgrind ends with no weft thread
 *      left (the pools' workers ended in step 2);
 *   6. report failed threads nobody joined and detach the rest.
 * The signal thread ends only in step 5, so Ctrl-C during the waits still cancels the root
 * scope: running tasks and threads see WEFT_ECANCELED and end, and the waits end with them (a
 * second Ctrl-C exits at once, weft/signal.h).
 *
 * The handler is registered once, by the first service that starts (a thread, a pool, a timer,
 * weft_signals_catch); like every atexit handler it runs after the handlers registered later,
 * and before those registered earlier. A child made by fork() inherits it, with its services
 * made right for the child by fork.c.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/fork.h"

void weft__exit_run(void)
{
    weft__thread_wait_nondaemon();
    weft__pools_at_exit();
    weft__procpools_at_exit();
    weft__thread_wait_nondaemon();
    weft__process_exit_children();
    weft__timer_at_exit();
    weft__signals_at_exit();
    weft__debug_at_exit();
    weft__thread_at_exit();
}

static void register_once(void)
{
    atexit(weft__exit_run);
}

void weft__exit_register(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
}
