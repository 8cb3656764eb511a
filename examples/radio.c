/* examples/radio.c - several long-running named threads that all exit gracefully on Ctrl-C.
 *
 * Seed 000 (the Columbus Radio project) gives each thread a kill_received flag, loops in main
 * on join(timeout) to stay responsive to KeyboardInterrupt, and then sets every flag by hand.
 * Here one call routes SIGINT/SIGTERM to the root cancel scope: every thread's blocking call
 * returns WEFT_ECANCELED, each thread cleans up, main joins them and returns 0. A second
 * Ctrl-C during a slow cleanup ends the process at once (status 130).
 * A daemon also reloads its settings on SIGHUP without stopping: SIGHUP arrives as an item on
 * a queue (weft_signals_notify, Go's signal.Notify), which main reads until Ctrl-C cancels it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    /* SIGHUP as a stream, also before starting threads (they inherit the blocked mask). */
    weft_queue *hups;
    int hup = SIGHUP;
    if ((rc = weft_queue_new(&hups, NULL)) != 0 || (rc = weft_signals_notify(hups, &hup, 1)) != 0) {
        fprintf(stderr, "SIGHUP: %s\n", weft_strerror(rc));
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
    printf("radio running with %d threads (pid %d); kill -HUP reloads; press Ctrl-C to stop\n", N,
           (int)getpid());
    fflush(stdout);

    /* Main reloads on each SIGHUP until Ctrl-C cancels its wait. */
    void *item;
    int reloads = 0;
    while (weft_queue_get(hups, &item, WEFT_FOREVER) == 0) {
        reloads += (int)WEFT_SIGNAL_COUNT(item);
        printf("main: SIGHUP: station list reloaded (%d so far)\n", reloads);
        fflush(stdout);
    }
    weft_signals_stop(hups);
    weft_queue_free(hups);
    char why[64] = "";
    weft_scope_reason(weft_scope_root(), NULL, why, sizeof why);
    weft_shield_begin();
    for (int i = 0; i < N; i++) weft_thread_join(t[i], NULL, WEFT_SEC(5));
    weft_shield_end();
    printf("main: all threads stopped (%s)\n", why);
    return 0;
}
