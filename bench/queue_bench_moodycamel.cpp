// bench/queue_bench_moodycamel.cpp - a C interface to moodycamel::BlockingConcurrentQueue
// (Debian's libconcurrentqueue-dev, header only) for queue_bench.c: new, free, blocking
// enqueue (it never blocks: the queue is unbounded) and blocking dequeue of void * items.
#include <concurrentqueue/blockingconcurrentqueue.h>

typedef moodycamel::BlockingConcurrentQueue<void *> mc_queue;

extern "C" {

void *mc_new(void)
{
    return new mc_queue();
}

void mc_free(void *q)
{
    delete static_cast<mc_queue *>(q);
}

int mc_put(void *q, void *item)
{
    return static_cast<mc_queue *>(q)->enqueue(item) ? 0 : -1;
}

void *mc_get(void *q)
{
    void *item = nullptr;
    static_cast<mc_queue *>(q)->wait_dequeue(item);
    return item;
}

} // extern "C"
