/* examples/producer_consumer.c - producer/consumer with task_done and join (seed 002).
 *
 * The Python this answers:
 *     q = Queue()
 *     def consumer(q):
 *         while True:
 *             data = q.get(); process(data); q.task_done()
 *     ... start consumers as daemon threads, put the work, q.join()
 * There the consumers never end (they are daemons killed at exit). Here the queue is closed
 * once join says every item was processed, and each consumer's get returns WEFT_ECLOSED: the
 * threads end cleanly and are joined, with no sentinel values and no stop flag.
 *
 * Usage: producer_consumer [ITEMS [CONSUMERS]]   (defaults 100000 and 4)
 * Each item is a number n; processing adds n * n to the consumer's own total, and the totals
 * are checked against the closed formula at the end (exit status 1 on a mismatch).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

struct consumer {
    weft_queue *q;
    uint64_t total, count;
};

static int consume(void *arg)
{
    struct consumer *c = arg;
    void *item;
    int rc;
    while ((rc = weft_queue_get(c->q, &item, WEFT_FOREVER)) == 0) {
        uint64_t n = (uint64_t)(uintptr_t)item;
        c->total += n * n;
        c->count++;
        weft_queue_task_done(c->q);
    }
    return rc == WEFT_ECLOSED ? 0 : rc; /* closed: the normal end */
}

struct producer {
    weft_queue *q;
    uint64_t items;
};

static int produce(void *arg)
{
    struct producer *p = arg;
    for (uint64_t n = 1; n <= p->items; n++) {
        int rc = weft_queue_put(p->q, (void *)(uintptr_t)n, WEFT_FOREVER);
        if (rc != 0) return weft_error_set(rc, "put %" PRIu64 " failed", n);
    }
    return 0;
}

/* 1^2 + ... + n^2 = n(n+1)(2n+1)/6, modulo 2^64 like the running totals: divide the factors
 * by 2 and 3 first so that the products may wrap. */
static uint64_t sum_of_squares(uint64_t n)
{
    uint64_t f[3] = {n, n + 1, 2 * n + 1};
    for (int i = 0; i < 3; i++)
        if (f[i] % 2 == 0) {
            f[i] /= 2;
            break;
        }
    for (int i = 0; i < 3; i++)
        if (f[i] % 3 == 0) {
            f[i] /= 3;
            break;
        }
    return f[0] * f[1] * f[2];
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "producer_consumer: %s: %s\n", what, weft_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t items = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    int nc = argc > 2 ? atoi(argv[2]) : 4;
    if (nc < 1 || nc > 64) return fail("consumers must be 1..64", WEFT_EINVAL);

    weft_queue_opts opts = WEFT_QUEUE_OPTS_INIT;
    opts.capacity = 256; /* a bounded queue: a fast producer waits instead of using memory */
    weft_queue *q;
    int rc = weft_queue_new(&q, &opts);
    if (rc) return fail("queue", rc);

    struct consumer cs[64];
    weft_thread ct[64], pt;
    for (int i = 0; i < nc; i++) {
        cs[i] = (struct consumer){q, 0, 0};
        if ((rc = weft_thread_start(&ct[i], consume, &cs[i], NULL)) != 0) return fail("start", rc);
    }
    struct producer p = {q, items};
    if ((rc = weft_thread_start(&pt, produce, &p, NULL)) != 0) return fail("start", rc);

    weft_ns t0 = weft_now();
    int status = 0;
    if ((rc = weft_thread_join(pt, &status, WEFT_FOREVER)) != 0 || status != 0)
        return fail("producer", rc ? rc : status);
    /* Every item is in; wait until each was processed (q.join()), then let the consumers go. */
    if ((rc = weft_queue_join(q, WEFT_FOREVER)) != 0) return fail("join", rc);
    weft_ns elapsed = weft_now() - t0;
    weft_queue_close(q);

    uint64_t total = 0, count = 0;
    for (int i = 0; i < nc; i++) {
        if ((rc = weft_thread_join(ct[i], &status, WEFT_FOREVER)) != 0 || status != 0)
            return fail("consumer", rc ? rc : status);
        total += cs[i].total;
        count += cs[i].count;
    }
    weft_queue_free(q);

    uint64_t expect = sum_of_squares(items);
    printf("%" PRIu64 " items by %d consumers in %.3f s, sum of squares %" PRIu64 "\n", count, nc,
           (double)elapsed / 1e9, total);
    if (count != items || total != expect) {
        fprintf(stderr, "producer_consumer: wrong result\n");
        return 1;
    }
    return 0;
}
