/* examples/workers.c - several named worker threads, joined with a timeout.
 *
 * The Python original (seeds 000, 001) starts threading.Thread objects, then loops on
 * join(timeout) so that the main thread stays responsive. Here each worker counts the primes in
 * its slice of a range; one slice is invalid on purpose, and its worker fails with a message
 * that travels to main through weft_thread_join, like an exception re-raised in the joiner.
 *
 *     workers [THREADS] [LIMIT]      defaults: one per CPU, 20000000
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft.h>

struct slice {
    long lo, hi;
    long primes;
};

static int is_prime(long n)
{
    if (n < 2) return 0;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

static int count_primes(void *arg)
{
    struct slice *s = arg;
    if (s->lo > s->hi) return weft_error_set(WEFT_EINVAL, "empty slice [%ld, %ld)", s->lo, s->hi);
    for (long n = s->lo; n < s->hi; n++) s->primes += is_prime(n);
    return 0;
}

int main(int argc, char **argv)
{
    long nthreads = argc > 1 ? atol(argv[1]) : sysconf(_SC_NPROCESSORS_ONLN);
    long limit = argc > 2 ? atol(argv[2]) : 20000000;
    if (nthreads < 1 || nthreads > 256 || limit < 1) {
        fprintf(stderr, "usage: workers [THREADS 1..256] [LIMIT >= 1]\n");
        return 2;
    }
    struct slice *s = calloc((size_t)nthreads + 1, sizeof *s);
    weft_thread *t = calloc((size_t)nthreads + 1, sizeof *t);
    if (!s || !t) return 1;

    weft_ns t0 = weft_now();
    /* nthreads real slices, plus one broken slice to show an error travelling to main. */
    for (long i = 0; i <= nthreads; i++) {
        s[i].lo = i < nthreads ? limit * i / nthreads : 10;
        s[i].hi = i < nthreads ? limit * (i + 1) / nthreads : 5;
        char name[32];
        snprintf(name, sizeof name, "primes-%ld", i);
        weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
        o.name = name;
        int rc = weft_thread_start(&t[i], count_primes, &s[i], &o);
        if (rc) {
            fprintf(stderr, "cannot start %s: %s\n", name, weft_strerror(rc));
            return 1;
        }
    }
    printf("started %ld workers (see them with: top -H -p %d)\n", nthreads + 1, (int)getpid());

    long total = 0;
    for (long i = 0; i <= nthreads; i++) {
        int status, rc;
        /* Join with a timeout, as the seeds do, but without polling a flag: the timeout only
         * lets main report progress while it waits. */
        while ((rc = weft_thread_join(t[i], &status, WEFT_SEC(1))) == WEFT_ETIMEDOUT)
            printf("  still waiting for primes-%ld ...\n", i);
        if (rc) {
            fprintf(stderr, "join primes-%ld: %s\n", i, weft_strerror(rc));
            return 1;
        }
        if (status != 0)
            printf("primes-%ld failed: %s: %s\n", i, weft_errname(status), weft_error_message());
        else
            total += s[i].primes;
    }
    printf("%ld primes below %ld, %ld threads, %.3f s\n", total, limit, nthreads,
           (double)(weft_now() - t0) / 1e9);
    free(s);
    free(t);
    return 0;
}
