/* examples/hello_processes.c - seed 004's multiprocessing example in C: ten processes at once.
 *
 * The Python answer: Process(target=f, args=('bob',)); p.start(); p.join(). Here f runs in
 * ten child processes started from the default fork server, each printing its greeting; the
 * parent joins them all and reports any that failed, with the reason in words.
 *
 *     hello_processes [N] [METHOD]      N default 10; METHOD forkserver (default), spawn, fork
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

/* The child's function: arg is the child's own copy of the name bytes. */
static int f(const void *arg, size_t size)
{
    printf("hello %.*s from process %d\n", (int)size, (const char *)arg, (int)getpid());
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    if (n < 1 || n > 1000) return 2;
    weft_process_opts opts = WEFT_PROCESS_OPTS_INIT;
    const char *method = argc > 2 ? argv[2] : "forkserver";
    if (strcmp(method, "spawn") == 0)
        opts.method = WEFT_PROCESS_SPAWN;
    else if (strcmp(method, "fork") == 0)
        opts.method = WEFT_PROCESS_FORK;
    else if (strcmp(method, "forkserver") != 0)
        return 2;
    weft_process **ps = calloc((size_t)n, sizeof *ps);
    if (ps == NULL) return 1;
    int started = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "bob-%d", i + 1);
        if (weft_process_start(&ps[i], f, name, strlen(name), &opts) != 0) {
            fprintf(stderr, "start: %s\n", weft_error_message());
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        int code;
        char why[96];
        if (weft_process_join(ps[i], &code, WEFT_FOREVER) != 0 || code != 0) {
            fprintf(stderr, "process %d %s\n", i + 1,
                    weft_process_status_text(code, why, sizeof why));
            failed++;
        }
        weft_process_free(ps[i]);
    }
    printf("%d processes joined, %d failed\n", started, failed);
    free(ps);
    return started == n && failed == 0 ? 0 : 1;
}
