/* examples/radio.c - several long-running named threads that all exit gracefully on Ctrl-C.
 *
 * Seed 000 (the Columbus Radio project) gives each thread a kill_received flag, loops in main
 * on join(timeout) to stay responsive to KeyboardInterrupt, and then sets every flag by hand.
 * Here one call routes SIGINT/SIGTERM to the root cancel scope: every thread's blocking call
 * returns WEFT_ECANCELED, each thread cleans up, main joins them and returns 0. A second
 * Ctrl-C during a slow cleanup ends the process at once (status 130).
 */
#include <stdio.h>
#include <string.h>

#include <weft.h>

struct station {
    const char *name;
    weft_ns period;
    long ticks;
};

static int run_station(void *arg)
{
    struct station *s = arg;
    for (;;) {
        int rc = weft_sleep(s->period); /* stands for polling a knob, a socket, a display */
        if (rc == WEFT_ECANCELED) break;
        s->ticks++;
    }
    /* Cleanup may block: shield it from the cancellation that got us here. */
    weft_shield_begin();
    weft_sleep(WEFT_MS(10)); /* e.g. turn the amplifier off, save the station list */
    weft_shield_end();
    printf("%s: stopped cleanly after %ld ticks\n", s->name, s->ticks);
    return 0;
}

int main(void)
{
    int rc = weft_signals_catch(NULL); /* before starting threads */
    if (rc) {
        fprintf(stderr, "signals: %s\n", weft_strerror(rc));
        return 1;
    }
    struct station st[] = {
        {"internet-check", WEFT_MS(500), 0},
        {"knob-control", WEFT_MS(20), 0},
        {"display", WEFT_MS(100), 0},
    };
    enum { N = sizeof st / sizeof st[0] };
    weft_thread t[N];
    for (int i = 0; i < N; i++) {
        weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
        o.name = st[i].name;
        rc = weft_thread_start(&t[i], run_station, &st[i], &o);
        if (rc) {
            fprintf(stderr, "start %s: %s\n", st[i].name, weft_strerror(rc));
            return 1;
        }
    }
    printf("radio running with %d threads; press Ctrl-C to stop\n", N);
    fflush(stdout);

    /* Main has nothing else to do: it waits, and Ctrl-C ends the wait. */
    for (int i = 0; i < N; i++) {
        rc = weft_thread_join(t[i], NULL, WEFT_FOREVER);
        if (rc == WEFT_ECANCELED) break;
    }
    char why[64] = "";
    weft_scope_reason(weft_scope_root(), NULL, why, sizeof why);
    weft_shield_begin();
    for (int i = 0; i < N; i++) weft_thread_join(t[i], NULL, WEFT_SEC(5));
    weft_shield_end();
    printf("main: all threads stopped (%s)\n", why);
    return 0;
}
