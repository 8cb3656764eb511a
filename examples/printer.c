/* examples/printer.c - one thread owns the terminal; the others send it lines through a queue.
 *
 * Seed 002's "advanced printer" turns the printer on as a daemon thread, feeds it through a
 * Queue, polls the queue with get_nowait in a loop, and ends it with a magic string
 * ('!@#EXIT#@!'). Here the printer blocks in weft_queue_get (no polling), wraps each line to
 * the terminal's width, and ends when the queue is closed and drained — no sentinel, nothing
 * lost. The queue is bounded (QUEUE_LINES): main waits when the printer falls behind, so
 * memory stays small however many lines there are.
 *
 * Ctrl-C (or SIGTERM) stops both threads at once: the printer starts no further line, main's
 * next put that would wait returns WEFT_ECANCELED, so nothing more is produced, and the lines
 * still queued are dropped. A second Ctrl-C ends the process at once (a printer blocked in a
 * write to a stalled terminal cannot be cancelled).
 *
 *     printer [--width COLS] [LINES]     default: the terminal's width (80 if none), 99 lines
 *
 * Exit status: 0 when every line was printed; 128 + the signal's number if Ctrl-C (130) or
 * SIGTERM (143) arrived before the end, as a shell reports a program that the signal ended;
 * 1 on any other error; 2 for a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <weft.h>

#define QUEUE_LINES 16

struct printer {
    weft_queue *lines;
    int cols;
    long printed, rows;
};

static int terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

/* Print line in rows of at most cols characters, breaking between words. */
static long print_wrapped(const char *line, int cols)
{
    long rows = 0;
    const char *p = line;
    while (*p) {
        size_t len = strlen(p), take = len;
        if (len > (size_t)cols) {
            take = (size_t)cols;
            while (take > 0 && p[take] != ' ') take--;
            if (take == 0) take = (size_t)cols; /* one word longer than the row */
        }
        printf("%.*s\n", (int)take, p);
        rows++;
        p += take;
        while (*p == ' ') p++;
    }
    return rows;
}

static int printer(void *arg)
{
    struct printer *pr = arg;
    void *item;
    int rc;
    /* The checkpoint stops at Ctrl-C even while lines are queued (get only notices it when
     * it would wait). */
    while ((rc = weft_checkpoint()) == 0 &&
           (rc = weft_queue_get(pr->lines, &item, WEFT_FOREVER)) == 0) {
        pr->rows += print_wrapped(item, pr->cols);
        pr->printed++;
        free(item); /* the item's ownership came with it */
    }
    return rc == WEFT_ECLOSED ? 0 : rc; /* closed and drained: done */
}

static void free_item(void *item, void *arg)
{
    (void)arg;
    free(item);
}

/* The seed's "stupid example of stuff to print": "1 2 ... i-1" for i = 1 .. n. */
static char *numbers_below(long i)
{
    size_t cap = 16 + (size_t)i * 8, len = 0;
    char *s = malloc(cap);
    if (s == NULL) return NULL;
    s[0] = '\0';
    for (long x = 1; x < i; x++)
        len += (size_t)snprintf(s + len, cap - len, x > 1 ? " %ld" : "%ld", x);
    return s;
}

int main(int argc, char **argv)
{
    int cols = terminal_width();
    long n = 99;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--width") == 0 && i + 1 < argc)
            cols = atoi(argv[++i]);
        else
            n = atol(argv[i]);
    }
    if (cols < 8 || n < 1) {
        fprintf(stderr, "usage: printer [--width COLS >= 8] [LINES >= 1]\n");
        return 2;
    }
    if (weft_signals_catch(NULL) != 0) return 1;
    struct printer pr = {.cols = cols};
    weft_queue_opts qo = WEFT_QUEUE_OPTS_INIT;
    qo.capacity = QUEUE_LINES;
    if (weft_queue_new(&pr.lines, &qo) != 0) return 1;
    weft_thread t;
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = "printer";
    if (weft_thread_start(&t, printer, &pr, &o) != 0) {
        weft_queue_free(pr.lines);
        return 1;
    }

    for (long i = 1; i <= n; i++) {
        char *line = numbers_below(i);
        /* Waits while QUEUE_LINES lines are queued; WEFT_ECANCELED after Ctrl-C. */
        if (line == NULL || weft_queue_put(pr.lines, line, WEFT_FOREVER) != 0) {
            free(line); /* not taken: still ours */
            break;
        }
    }
    weft_queue_close(pr.lines); /* "turn the printer off": it prints what is left, then ends */
    int st = -1;
    weft_shield_begin(); /* after Ctrl-C main's own scope is cancelled: join anyway */
    weft_thread_join(t, &st, WEFT_FOREVER);
    weft_shield_end();
    /* After a Ctrl-C the queue may still hold lines: hand them back and free them. */
    weft_queue_shutdown(pr.lines, free_item, NULL, NULL);
    weft_queue_free(pr.lines);
    fprintf(stderr, "printer: %ld lines in %ld rows of at most %d columns (%s)\n", pr.printed,
            pr.rows, cols, st == 0 ? "queue closed" : weft_strerror(st));
    int signo = weft_signals_received();
    return signo ? 128 + signo : st == 0 ? 0 : 1;
}
