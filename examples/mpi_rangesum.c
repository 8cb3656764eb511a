/* examples/mpi_rangesum.c - seed 004's range sum across MPI ranks, with weft threads in each.
 *
 * One machine's threads scale up; MPI scales out, one rank per node (or socket), with threads
 * inside each rank. Two ways to split [0, N) over R ranks:
 *   reduce  each rank sums its R-th of the range with weft_parallel_reduce on a pool of its
 *           own (sized to the CPUs the rank was given: mpirun's binding, taskset, a cgroup
 *           quota), and MPI_Reduce adds the ranks' sums on rank 0. Only the main thread calls
 *           MPI (MPI_THREAD_FUNNELED would do).
 *   stream  a pipeline in which several weft threads per rank talk to other ranks at once
 *           (MPI_THREAD_MULTIPLE): the pool's tasks sum chunks of the rank's part and put each
 *           partial sum on a weft queue; SENDERS threads take them off the queue and MPI_Send
 *           them to rank 0, where RECEIVERS threads MPI_Recv them concurrently. Rank 0 checks
 *           that every chunk of every rank arrived exactly once, that the ranks sent no
 *           more than that, and that the partial sums add up.
 * Rank 0 also sums the range alone (one rank, one thread) and prints both times.
 *
 *     mpirun -np R mpi_rangesum [N [THREADS]]    N: 200000000; THREADS: 0 (the pool's default)
 *
 * Exit status 0 when both sums equal the serial sum and the stream delivered every chunk once.
 */
#include <inttypes.h>
#include <mpi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

enum { SENDERS = 2, RECEIVERS = 2, CHUNKS_PER_RANK = 64, TAG_PARTIAL = 1 };

static uint64_t sum_range(int64_t lo, int64_t hi)
{
    uint64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += ((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 40;
    return s;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "mpi_rangesum: %s: %s\n", what, rc < 0 ? weft_strerror(rc) : "MPI error");
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* ---- reduce: a pool per rank, MPI_Reduce across ranks ---- */

static void body(int64_t lo, int64_t hi, void *acc, void *arg)
{
    (void)arg;
    *(uint64_t *)acc += sum_range(lo, hi);
}

static void combine(void *acc, const void *other, void *arg)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static uint64_t reduce_mode(weft_pool *pool, int64_t lo, int64_t hi)
{
    uint64_t zero = 0, mine = 0, total = 0;
    int rc = weft_parallel_reduce(pool, lo, hi, 0, body, combine, sizeof zero, &zero, &mine, NULL);
    if (rc) die("weft_parallel_reduce", rc);
    if (MPI_Reduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        die("MPI_Reduce", 1);
    return total;
}

/* ---- stream: pool tasks -> weft queue -> sender threads -> MPI -> receiver threads ---- */

struct partial {
    uint64_t chunk, sum; /* sent as two MPI_UINT64_T */
};

struct stream {
    int64_t n;
    int64_t nchunks;     /* over all ranks */
    int64_t first;       /* this rank's first chunk */
    struct partial *out; /* this rank's chunks, put on q by pointer */
    weft_queue *q;
    _Atomic int64_t sent; /* partial sums this rank's senders sent */
    /* rank 0 only */
    _Atomic int64_t claimed;   /* receives claimed: each claim is exactly one MPI_Recv */
    _Atomic uint64_t total;    /* sum of the partial sums received */
    _Atomic unsigned *seen;    /* per chunk: how many times it arrived */
    _Atomic int64_t bad_chunk; /* chunk numbers out of range */
};

static void chunk_range(const struct stream *s, int64_t k, int64_t *lo, int64_t *hi)
{
    *lo = s->n * k / s->nchunks;
    *hi = s->n * (k + 1) / s->nchunks;
}

/* Pool task body over this rank's chunk indices: sum each chunk and stream it out. */
static void produce(int64_t lo, int64_t hi, void *arg)
{
    struct stream *s = arg;
    for (int64_t i = lo; i < hi; i++) {
        int64_t a, b, k = s->first + i;
        chunk_range(s, k, &a, &b);
        s->out[i] = (struct partial){(uint64_t)k, sum_range(a, b)};
        int rc = weft_queue_put(s->q, &s->out[i], WEFT_FOREVER);
        if (rc) die("weft_queue_put", rc);
    }
}

/* A sender thread: drains the queue until it is closed, one MPI_Send per partial sum. */
static int sender(void *arg)
{
    struct stream *s = arg;
    void *item;
    int rc;
    while ((rc = weft_queue_get(s->q, &item, WEFT_FOREVER)) == 0) {
        if (MPI_Send(item, 2, MPI_UINT64_T, 0, TAG_PARTIAL, MPI_COMM_WORLD) != MPI_SUCCESS)
            die("MPI_Send", 1);
        atomic_fetch_add(&s->sent, 1);
    }
    return rc == WEFT_ECLOSED ? 0 : rc;
}

/* A receiver thread on rank 0: claims one receive at a time until all nchunks are claimed, so
 * exactly nchunks receives are posted by all receivers together and none is left waiting. */
static int receiver(void *arg)
{
    struct stream *s = arg;
    while (atomic_fetch_add(&s->claimed, 1) < s->nchunks) {
        uint64_t m[2];
        if (MPI_Recv(m, 2, MPI_UINT64_T, MPI_ANY_SOURCE, TAG_PARTIAL, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE) != MPI_SUCCESS)
            die("MPI_Recv", 1);
        if (m[0] >= (uint64_t)s->nchunks) {
            atomic_fetch_add(&s->bad_chunk, 1);
            continue;
        }
        atomic_fetch_add(&s->seen[m[0]], 1);
        atomic_fetch_add(&s->total, m[1]);
    }
    return 0;
}

static void start(weft_thread *t, int (*fn)(void *), void *arg, const char *name)
{
    weft_thread_opts o = WEFT_THREAD_OPTS_INIT;
    o.name = name;
    int rc = weft_thread_start(t, fn, arg, &o);
    if (rc) die("weft_thread_start", rc);
}

static void join(weft_thread t)
{
    int status, rc = weft_thread_join(t, &status, WEFT_FOREVER);
    if (rc || status) die("a stream thread", rc ? rc : status);
}

/* Returns (on rank 0) the sum received; *once: every chunk arrived exactly once. */
static uint64_t stream_mode(weft_pool *pool, int64_t n, int rank, int ranks, int *once)
{
    struct stream s = {.n = n,
                       .nchunks = (int64_t)CHUNKS_PER_RANK * ranks,
                       .first = (int64_t)CHUNKS_PER_RANK * rank};
    s.out = calloc(CHUNKS_PER_RANK, sizeof *s.out);
    if (rank == 0) s.seen = calloc((size_t)s.nchunks, sizeof *s.seen);
    if (s.out == NULL || (rank == 0 && s.seen == NULL)) die("calloc", WEFT_ENOMEM);
    int rc = weft_queue_new(&s.q, NULL);
    if (rc) die("weft_queue_new", rc);

    weft_thread recv[RECEIVERS], send[SENDERS];
    for (int i = 0; rank == 0 && i < RECEIVERS; i++) start(&recv[i], receiver, &s, "mpi-recv");
    for (int i = 0; i < SENDERS; i++) start(&send[i], sender, &s, "mpi-send");
    rc = weft_parallel_for(pool, 0, CHUNKS_PER_RANK, 1, produce, &s);
    if (rc) die("weft_parallel_for", rc);
    weft_queue_close(s.q); /* the senders drain what is left, then end */
    for (int i = 0; i < SENDERS; i++) join(send[i]);
    for (int i = 0; rank == 0 && i < RECEIVERS; i++) join(recv[i]);

    /* Every rank says how many it sent: one more than nchunks (a duplicate that no receive
     * was left to take) fails the check as surely as a chunk seen twice or never. */
    int64_t sent = atomic_load(&s.sent), all_sent = 0;
    if (MPI_Reduce(&sent, &all_sent, 1, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        die("MPI_Reduce", 1);
    *once = rank != 0 || all_sent == s.nchunks;
    if (rank == 0 && all_sent != s.nchunks)
        fprintf(stderr, "%" PRId64 " partial sums sent for %" PRId64 " chunks\n", all_sent,
                s.nchunks);
    for (int64_t k = 0; rank == 0 && k < s.nchunks; k++)
        if (s.seen[k] != 1) {
            fprintf(stderr, "chunk %" PRId64 " arrived %u times\n", k, s.seen[k]);
            *once = 0;
        }
    if (atomic_load(&s.bad_chunk)) *once = 0;
    weft_queue_free(s.q);
    free(s.out);
    free(s.seen);
    return atomic_load(&s.total);
}

/* ---- main ---- */

static const char *level_name(int level)
{
    return level == MPI_THREAD_MULTIPLE     ? "MPI_THREAD_MULTIPLE"
           : level == MPI_THREAD_SERIALIZED ? "MPI_THREAD_SERIALIZED"
           : level == MPI_THREAD_FUNNELED   ? "MPI_THREAD_FUNNELED"
                                            : "MPI_THREAD_SINGLE";
}

int main(int argc, char **argv)
{
    int provided, rank, ranks;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 200000000;
    int threads = argc > 2 ? atoi(argv[2]) : 0;
    if (n < 0 || threads < 0) die("usage: mpi_rangesum [N [THREADS]]", WEFT_EINVAL);

    weft_pool *pool;
    weft_pool_opts po = WEFT_POOL_OPTS_INIT;
    po.max_workers = threads;
    int rc = weft_pool_new(&pool, &po);
    if (rc) die("weft_pool_new", rc);
    struct weft_pool_stats st;
    weft_pool_stats(pool, &st);
    int most = 0;
    MPI_Reduce(&st.max_workers, &most, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    uint64_t reduced = reduce_mode(pool, n * rank / ranks, n * (rank + 1) / ranks);
    double t_reduce = MPI_Wtime() - t0;

    uint64_t streamed = 0;
    int once = 0, multiple = provided >= MPI_THREAD_MULTIPLE;
    double t_stream = 0;
    if (multiple) {
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        streamed = stream_mode(pool, n, rank, ranks, &once);
        t_stream = MPI_Wtime() - t0;
    }
    weft_pool_free(pool);

    int ok = 1;
    if (rank == 0) {
        t0 = MPI_Wtime();
        uint64_t serial = sum_range(0, n);
        double t_serial = MPI_Wtime() - t0;
        printf("sum of %" PRId64 " terms: %d ranks x %d threads (%s)\n", n, ranks, most,
               level_name(provided));
        printf("  1 rank x 1 thread   %20" PRIu64 "  %.3f s\n", serial, t_serial);
        printf("  reduce              %20" PRIu64 "  %.3f s  %.2fx\n", reduced, t_reduce,
               t_serial / t_reduce);
        ok = reduced == serial;
        printf("reduce: %s\n", ok ? "the sum agrees" : "THE SUM DIFFERS");
        if (multiple) {
            printf("  stream              %20" PRIu64 "  %.3f s  %.2fx\n", streamed, t_stream,
                   t_serial / t_stream);
            printf("stream: %d partial sums from %d ranks, %s; %s\n", CHUNKS_PER_RANK * ranks,
                   ranks, once ? "each delivered exactly once" : "NOT EACH EXACTLY ONCE",
                   streamed == serial ? "the sum agrees" : "THE SUM DIFFERS");
            ok = ok && once && streamed == serial;
        } else {
            printf("stream: skipped, MPI_THREAD_MULTIPLE not provided\n");
        }
        fflush(stdout);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return ok ? 0 : 1;
}
