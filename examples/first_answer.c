/* examples/first_answer.c - seed 004's "fetch several URLs, keep the first to answer".
 *
 * The Python answer starts a daemon thread per URL, takes the first item off a Queue and
 * leaves the other threads fetching until the process dies; a URL that fails puts nothing on
 * the queue, so if all fail, q.get() waits for ever. Here each URL is one task on a weft pool
 * (libcurl does the HTTP), weft_wait(WEFT_FIRST_COMPLETED) returns as soon as one finishes, a
 * failed fetch is reported and the wait goes on for the others, and when one has answered the
 * rest are cancelled at once:
 *   - weft_future_cancel cancels a fetch's task; the task drives its transfer with its own
 *     curl multi handle and waits in curl_multi_poll, which knows nothing of weft, so the
 *     canceller also calls curl_multi_wakeup on it. The task then sees weft_cancelled(), stops
 *     the transfer (closing its connection) and returns WEFT_ECANCELED. The wake-up is sticky
 *     (a poll that starts after it returns at once), so no cancellation is lost;
 *   - a fetch that completed before its cancel arrived (a tie) is a success, not an error;
 *   - one deadline for the whole run (-t): when it passes with no answer, everything is
 *     cancelled the same way and the status is 3;
 *   - Ctrl-C (weft_signals_catch) wakes every transfer and cancels everything: status 130.
 *
 *     first_answer [-t MS] URL...            fetch every URL at once (http://, https://, and the
 *                                            other schemes libcurl knows); at most 64
 *     first_answer [-t MS] --local [DELAY_MS...]
 *                                            self-contained: start one HTTP server per delay in
 *                                            this process, each answering after its delay
 *                                            (default 300 40 150; at most 8), and fetch from them;
 *                                            also what it does when given no URL
 *
 *   -t MS   the deadline for the whole run, 1 to 86400000 ms (default 10000)
 *
 * The first answer's body goes to stdout; what happened (who answered, after how long, what was
 * cancelled, every failure) to stderr. An answer is a completed transfer that is not an HTTP
 * error (status below 400 after redirects).
 * Exit status: 0 a URL answered; 1 every URL failed before the deadline (each reason printed);
 * 2 bad arguments (with a message); 3 nothing answered before the deadline; 130 Ctrl-C.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <weft.h>

enum { MAX_URLS = 64, MAX_SERVERS = 8, MAX_BODY = 16 << 20 };
enum { EXIT_ANSWER = 0, EXIT_ALL_FAILED = 1, EXIT_USAGE = 2, EXIT_DEADLINE = 3, EXIT_INTR = 130 };

struct fetch {
    const char *url;
    weft_lock lock; /* guards multi */
    CURLM *multi;   /* set while the transfer runs, so that a canceller can wake it */
    char *body;
    size_t len;
    long http;
};

static struct fetch fetches[MAX_URLS];
static _Atomic int nfetches; /* fetches[0, nfetches) are set: stored by main after filling an
                                entry (seq_cst), loaded by the Ctrl-C callback */

/* Wake f's transfer if it is waiting in curl_multi_poll; it then checks its cancellation. */
static void wake(struct fetch *f)
{
    weft_shield_begin(); /* also called after Ctrl-C cancelled every scope */
    int rc = weft_lock_acquire(&f->lock, WEFT_FOREVER);
    weft_shield_end();
    if (f->multi != NULL) curl_multi_wakeup(f->multi);
    if (rc == 0) weft_lock_release(&f->lock);
}

static void set_multi(struct fetch *f, CURLM *m)
{
    weft_shield_begin();
    int rc = weft_lock_acquire(&f->lock, WEFT_FOREVER);
    weft_shield_end();
    f->multi = m;
    if (rc == 0) weft_lock_release(&f->lock);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;
    char *p = f->len + len <= MAX_BODY ? realloc(f->body, f->len + len + 1) : NULL;
    if (p == NULL) return 0; /* too big or no memory: curl ends the transfer with an error */
    memcpy(p + f->len, data, len);
    f->body = p;
    f->len += len;
    p[f->len] = '\0';
    return len;
}

/* Run the transfer until it completes, fails, or the task is cancelled. */
static CURLcode transfer(struct fetch *f, CURLM *m, CURL *e, int *stopped)
{
    int running = 1, left;
    CURLMcode mc = curl_multi_add_handle(m, e);
    set_multi(f, m);
    while (mc == CURLM_OK && running && !(*stopped = weft_cancelled())) {
        mc = curl_multi_perform(m, &running);
        if (mc == CURLM_OK && running) mc = curl_multi_poll(m, NULL, 0, 60000, NULL);
    }
    set_multi(f, NULL);
    CURLMsg *msg = curl_multi_info_read(m, &left);
    CURLcode code = msg != NULL && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_FAILED_INIT;
    if (mc != CURLM_OK) code = CURLE_OUT_OF_MEMORY;
    curl_multi_remove_handle(m, e);
    return code;
}

/* A pool task: fetch one URL. Succeeds (result: the fetch) with a complete, non-error answer. */
static int fetch_url(void *arg, void **result)
{
    struct fetch *f = arg;
    char err[CURL_ERROR_SIZE] = "";
    CURL *e = curl_easy_init();
    CURLM *m = curl_multi_init();
    int stopped = 0, rc;
    if (e == NULL || m == NULL) {
        rc = weft_error_set(WEFT_ENOMEM, "%s: cannot make a curl handle", f->url);
    } else {
        curl_easy_setopt(e, CURLOPT_URL, f->url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        CURLcode code = transfer(f, m, e, &stopped);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &f->http);
        if (stopped)
            rc = WEFT_ECANCELED; /* cut short: the cancelled task's own status */
        else if (code != CURLE_OK)
            rc = weft_error_set(WEFT_EBROKEN, "%s: %s", f->url,
                                err[0] ? err : curl_easy_strerror(code));
        else if (f->http >= 400)
            rc = weft_error_set(WEFT_EBROKEN, "%s: HTTP %ld", f->url, f->http);
        else
            rc = 0, *result = f;
    }
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    return rc;
}

static void on_signal(int signo, void *arg)
{
    (void)signo;
    (void)arg;
    for (int i = 0; i < nfetches; i++) wake(&fetches[i]);
}

/* ---- the self-contained mode: HTTP servers that answer after a delay ---- */

struct server {
    int id, delay_ms, lfd, port;
    weft_thread thread;
};

/* For each connection: read the request, wait the delay (a cancellable weft_sleep), answer. */
static int serve(void *arg)
{
    struct server *s = arg;
    char req[2048], body[64], resp[256];
    int fd;
    struct timeval patience = {5, 0}; /* a connection that never sends a request ends */
    while ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
        if (recv(fd, req, sizeof req, 0) > 0 && weft_sleep(WEFT_MS(s->delay_ms)) == 0) {
            int nb = snprintf(body, sizeof body, "answer from server %d after %d ms\n", s->id,
                              s->delay_ms);
            int n = snprintf(resp, sizeof resp,
                             "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                             nb, body);
            if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) < 0) { /* the client gave up */
            }
        }
        close(fd);
    }
    return 0; /* the listening socket was shut down */
}

static int start_server(struct server *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 64) ||
        getsockname(s->lfd, (struct sockaddr *)&a, &len)) {
        fprintf(stderr, "first_answer: cannot start a local server: %s\n", strerror(errno));
        if (s->lfd >= 0) close(s->lfd);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    int rc = weft_thread_start(&s->thread, serve, s, NULL);
    if (rc != 0) {
        fprintf(stderr, "first_answer: cannot start a server thread: %s\n", weft_strerror(rc));
        close(s->lfd);
    }
    return rc;
}

static void stop_server(struct server *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* ends its accept(), now or when it gets there */
    weft_thread_stop(s->thread); /* and its sleep, if it is answering a late fetch */
    weft_shield_begin();
    weft_thread_join(s->thread, NULL, WEFT_FOREVER);
    weft_shield_end();
    close(s->lfd);
}

/* ---- main: arguments, the race, the report ---- */

static long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0' && v >= lo && v <= hi) return v;
    fprintf(stderr, "first_answer: %s must be a whole number from %ld to %ld, not '%s'\n", what, lo,
            hi, s);
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: first_answer [-t MS] URL...\n"
                    "       first_answer [-t MS] --local [DELAY_MS...]\n");
    return EXIT_USAGE;
}

/* A URL libcurl can parse, with a scheme: 0, else -1 with a message. */
static int check_url(const char *s)
{
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, s, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc == CURLUE_OK) return 0;
    fprintf(stderr, "first_answer: '%s' is not a URL: %s\n", s, curl_url_strerror(uc));
    return -1;
}

/* Wait for the first fetch to answer: its index, or -1 with *status set (3, 1 or 130). Failed
 * fetches are reported as they come; the wait goes on for the others. */
static int race(weft_future **f, int n, weft_ns deadline, int *status)
{
    weft_future *pending[MAX_URLS];
    int idx[MAX_URLS], np = n;
    for (int i = 0; i < n; i++) pending[i] = f[i], idx[i] = i;
    while (np > 0) {
        size_t k = 0;
        weft_ns left = deadline - weft_now();
        int rc = weft_wait(pending, (size_t)np, WEFT_FIRST_COMPLETED, &k, left > 0 ? left : 0);
        if (rc == WEFT_ETIMEDOUT || rc == WEFT_EAGAIN) {
            *status = EXIT_DEADLINE;
            return -1;
        }
        if (rc != 0) {
            *status = rc == WEFT_ECANCELED ? EXIT_INTR : EXIT_ALL_FAILED;
            return -1;
        }
        int i = idx[k];
        if (weft_future_result(f[i], NULL, 0) == 0) return i;
        fprintf(stderr, "first_answer: failed: %s\n", weft_error_message());
        pending[k] = pending[--np];
        idx[k] = idx[np];
    }
    *status = EXIT_ALL_FAILED;
    return -1;
}

/* Cancel every fetch but the winner and wait for them; report how it went. */
static void cancel_rest(weft_future **f, int n, int winner)
{
    int cancelled = 0, answered = 0, failed = 0;
    weft_ns t0 = weft_now();
    for (int i = 0; i < n; i++)
        if (i != winner && weft_future_cancel(f[i]) == WEFT_EBUSY) wake(&fetches[i]);
    weft_shield_begin(); /* after Ctrl-C too: no task may outlive its fetch record */
    for (int i = 0; i < n; i++) {
        if (i == winner) continue;
        int rc = weft_future_result(f[i], NULL, WEFT_FOREVER);
        if (rc == 0)
            answered++;
        else if (rc == WEFT_ECANCELED)
            cancelled++;
        else
            failed++;
    }
    weft_shield_end();
    if (n > (winner >= 0))
        fprintf(stderr,
                "first_answer: cancelled %d %sfetch(es) in %.1f ms (%d had answered too, %d had "
                "failed)\n",
                cancelled, winner >= 0 ? "other " : "", (double)(weft_now() - t0) / 1e6, answered,
                failed);
}

/* Fetch every URL of fetches[0, nfetches) at once; report and return the exit status. */
static int first_of(weft_ns timeout)
{
    weft_future *f[MAX_URLS];
    weft_pool *pool;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = nfetches; /* every fetch at once: they wait, they do not compute */
    po.name_prefix = "fetch";
    int rc = weft_pool_new(&pool, &po), n = 0, status = EXIT_ANSWER;
    weft_ns t0 = weft_now();
    for (; rc == 0 && n < nfetches; n++)
        rc = weft_pool_submit(pool, fetch_url, &fetches[n], &f[n], WEFT_FOREVER);
    if (rc != 0) {
        fprintf(stderr, "first_answer: cannot start the fetches: %s\n", weft_strerror(rc));
        if (n-- == 0) return EXIT_ALL_FAILED;
        status = EXIT_ALL_FAILED;
    }
    int winner = status == 0 ? race(f, n, t0 + timeout, &status) : -1;
    if (winner >= 0) {
        struct fetch *w = &fetches[winner];
        fprintf(stderr, "first_answer: %s answered first (HTTP %ld, %zu bytes) in %.1f ms\n",
                w->url, w->http, w->len, (double)(weft_now() - t0) / 1e6);
        fwrite(w->body ? w->body : "", 1, w->len, stdout);
        fflush(stdout);
    } else if (status == EXIT_DEADLINE) {
        fprintf(stderr, "first_answer: no answer within %lld ms\n",
                (long long)(timeout / WEFT_MS(1)));
    } else if (status == EXIT_INTR) {
        fprintf(stderr, "first_answer: interrupted\n");
    } else {
        fprintf(stderr, "first_answer: every URL failed\n");
    }
    cancel_rest(f, n, winner);
    for (int i = 0; i < n; i++) weft_future_unref(f[i]);
    weft_pool_free(pool);
    return status;
}

int main(int argc, char **argv)
{
    long timeout_ms = 10000, delay[MAX_SERVERS] = {300, 40, 150};
    int a = 1, local, nservers = 3, status;
    if (a < argc && strcmp(argv[a], "-t") == 0) {
        if (a + 1 >= argc || (timeout_ms = number(argv[a + 1], 1, 86400000, "-t MS")) < 0)
            return usage();
        a += 2;
    }
    local = a == argc; /* no URL: the self-contained mode with its default delays */
    if (a < argc && strcmp(argv[a], "--local") == 0) {
        local = 1;
        if (++a < argc) nservers = 0;
        for (; a < argc; a++) {
            if (nservers == MAX_SERVERS) {
                fprintf(stderr, "first_answer: at most %d local servers\n", MAX_SERVERS);
                return usage();
            }
            if ((delay[nservers++] = number(argv[a], 0, 3600000, "a DELAY_MS")) < 0) return usage();
        }
    } else if (!local) {
        if (argc - a > MAX_URLS) {
            fprintf(stderr, "first_answer: give 1 to %d URLs\n", MAX_URLS);
            return usage();
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "first_answer: libcurl would not start\n");
        return EXIT_ALL_FAILED;
    }
    for (; !local && a < argc; a++) {
        if (check_url(argv[a]) != 0) {
            curl_global_cleanup();
            return usage();
        }
        fetches[nfetches].url = argv[a];
        nfetches++;
    }
    weft_signals_opts so = WEFT_SIGNALS_OPTS_INIT;
    so.on_signal = on_signal;
    if (weft_signals_catch(&so) != 0) fprintf(stderr, "first_answer: Ctrl-C will not be caught\n");

    struct server srv[MAX_SERVERS];
    static char urls[MAX_SERVERS][64];
    int started = 0;
    for (; local && started < nservers; started++) {
        srv[started] = (struct server){.id = started + 1, .delay_ms = (int)delay[started]};
        if (start_server(&srv[started]) != 0) break;
        snprintf(urls[started], sizeof urls[started], "http://127.0.0.1:%d/", srv[started].port);
        fetches[nfetches].url = urls[started];
        nfetches++;
    }
    status = local && started < nservers ? EXIT_ALL_FAILED : first_of(WEFT_MS(timeout_ms));
    for (int i = 0; i < started; i++) stop_server(&srv[i]);
    for (int i = 0; i < nfetches; i++) free(fetches[i].body);
    curl_global_cleanup();
    return status;
}
