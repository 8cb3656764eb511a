/* tests/programs/tsan_user.c - a user's program built with -fsanitize=thread against the
 * uninstrumented libweft: data handed through weft (a queue, a lock, an event, a join) must
 * not be reported as a race (weft annotates those happens-before edges for TSan), and a real
 * race in the program must still be.
 *   tsan_user clean   - producer/consumer over a queue, a counter under a weft_lock, data
 *                       published with an event and read after a join: exit 0, no report
 *   tsan_user race    - two threads write one plain variable with nothing between them:
 *                       TSan reports it (the test expects its exit code, 66)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

struct msg {
    long seq;
    char text[32];
};

static weft_queue *q;
static weft_lock lock = WEFT_LOCK_INIT;
static weft_event ready = WEFT_EVENT_INIT;
static long counter, published, after_join, racy;
#define N 2000

static int producer(void *unused)
{
    (void)unused;
    for (long i = 0; i < N; i++) {
        struct msg *m = malloc(sizeof *m);
        if (m == NULL) return 1;
        m->seq = i; /* plain writes, read by the consumer after the get */
        snprintf(m->text, sizeof m->text, "item %ld", i);
        if (weft_queue_put(q, m, WEFT_FOREVER) != 0) return 1;
        if (weft_lock_acquire(&lock, WEFT_FOREVER) != 0) return 1;
        counter++;
        weft_lock_release(&lock);
    }
    return weft_queue_put(q, NULL, WEFT_FOREVER);
}

static int consumer(void *unused)
{
    (void)unused;
    for (long want = 0;; want++) {
        void *item;
        if (weft_queue_get(q, &item, WEFT_FOREVER) != 0) return 1;
        struct msg *m = item;
        if (m == NULL) break;
        if (m->seq != want || strncmp(m->text, "item ", 5) != 0) return 1;
        free(m);
        if (weft_lock_acquire(&lock, WEFT_FOREVER) != 0) return 1;
        counter++;
        weft_lock_release(&lock);
    }
    if (weft_event_wait(&ready, WEFT_FOREVER) != 0) return 1;
    after_join = published + 1; /* published before the event was set */
    return 0;
}

static int racer(void *unused)
{
    (void)unused;
    racy++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "race") == 0) {
        weft_thread a, b;
        if (weft_thread_start(&a, racer, NULL, NULL) || weft_thread_start(&b, racer, NULL, NULL))
            return 1;
        racy++;
        weft_thread_join(a, NULL, WEFT_FOREVER);
        weft_thread_join(b, NULL, WEFT_FOREVER);
        return 0;
    }
    if (weft_queue_new(&q, NULL) != 0) return 1;
    weft_thread p, c;
    if (weft_thread_start(&p, producer, NULL, NULL) || weft_thread_start(&c, consumer, NULL, NULL))
        return 1;
    published = 41;
    weft_event_set(&ready);
    int sp = 1, sc = 1;
    weft_thread_join(p, &sp, WEFT_FOREVER);
    weft_thread_join(c, &sc, WEFT_FOREVER);
    if (sp || sc || counter != 2 * N || after_join != 42) return 1; /* plain reads after join */
    weft_queue_free(q);
    puts("tsan_user: clean run ok");
    return 0;
}
