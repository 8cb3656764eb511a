/* examples/stoppable.c - the StoppableThread of seed 002, done right.
 *
 * The Python version keeps a threading.Event and checks it once per loop: stop() takes effect
 * only when the loop comes round, after whatever sleep or get() it is in. Here stop() cancels
 * the thread's scope: the sleep it is blocked in returns WEFT_ECANCELED at once.
 *
 *     stoppable [RUN_MS [SLEEP_MS]]   stop the worker after RUN_MS milliseconds (default 1000);
 *                                     it sleeps SLEEP_MS (default 300) each round
 *
 * With a SLEEP_MS far longer than RUN_MS (the test runs `stoppable 400 60000`) the output is the
 * same on any machine, however slow: the worker is stopped in its first sleep, and the join
 * returns long before that sleep would have ended.
 */
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

static long sleep_ms = 300;

static int worker(void *arg)
{
    (void)arg;
    int rounds = 0;
    for (;;) {
        printf("still running! (round %d)\n", ++rounds);
        fflush(stdout);
        /* A long sleep: stop() does not have to wait for it to end. */
        int rc = weft_sleep(WEFT_MS(sleep_ms));
        if (rc == WEFT_ECANCELED) break;
    }
    printf("worker: stopped after %d round%s\n", rounds, rounds == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv)
{
    long run_ms = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 2) sleep_ms = atol(argv[2]);
    if (run_ms < 0 || sleep_ms < 0) return 2;
    weft_thread t;
    int rc = weft_thread_start(&t, worker, NULL, NULL);
    if (rc) {
        fprintf(stderr, "start: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_sleep(WEFT_MS(run_ms));
    weft_ns t0 = weft_now();
    weft_thread_stop(t);
    rc = weft_thread_join(t, NULL, WEFT_SEC(30)); /* a bound for a slow machine, not the sleep */
    printf("main: worker joined %.3f ms after stop(): %s\n", (double)(weft_now() - t0) / 1e6,
           weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
