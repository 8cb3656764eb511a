/* examples/stoppable.c - the StoppableThread of seed 002, done right.
 *
 * The Python version keeps a threading.Event and checks it once per loop: stop() takes effect
 * only when the loop comes round, after whatever sleep or get() it is in. Here stop() cancels
 * the thread's scope: the sleep it is blocked in returns WEFT_ECANCELED at once.
 *
 *     stoppable [RUN_MS]     stop the worker after RUN_MS milliseconds (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static int worker(void *arg)
{
    (void)arg;
    int rounds = 0;
    for (;;) {
        printf("still running! (round %d)\n", ++rounds);
        fflush(stdout);
        /* A long sleep: stop() does not have to wait for it to end. */
        int rc = weft_sleep(WEFT_MS(300));
        if (rc == WEFT_ECANCELED) break;
    }
    printf("worker: stopped after %d rounds\n", rounds);
    return 0;
}

int main(int argc, char **argv)
{
    long run_ms = argc > 1 ? atol(argv[1]) : 1000;
    if (run_ms < 0) return 2;
    weft_thread t;
    int rc = weft_thread_start(&t, worker, NULL, NULL);
    if (rc) {
        fprintf(stderr, "start: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_sleep(WEFT_MS(run_ms));
    weft_ns t0 = weft_now();
    weft_thread_stop(t);
    rc = weft_thread_join(t, NULL, WEFT_SEC(5));
    printf("main: worker joined %.3f ms after stop(): %s\n", (double)(weft_now() - t0) / 1e6,
           weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
