/* tests/programs/dlopen_check.c - the shared library loads with dlopen (as Python's ctypes and
 * plugin hosts load it) and runs a task. weft's hot thread-locals use the initial-exec TLS
 * model (src/core/internal.h), which dlopen serves from a small static-TLS reserve; this fails if
 * they ever outgrow it. Usage: dlopen_check PATH-TO-libweft.so */
#include <dlfcn.h>
#include <stdio.h>

#include <weft.h>

static int answer(void *arg, void **result)
{
    *result = arg;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    weft_pool *(*pool_default)(void) = (weft_pool * (*)(void)) dlsym(h, "weft_pool_default");
    int (*submit)(weft_pool *, weft_task_fn, void *, weft_future **, weft_ns) = (int (*)(
        weft_pool *, weft_task_fn, void *, weft_future **, weft_ns))dlsym(h, "weft_pool_submit");
    int (*result)(weft_future *, void **, weft_ns) =
        (int (*)(weft_future *, void **, weft_ns))dlsym(h, "weft_future_result");
    void (*release)(weft_future *) = (void (*)(weft_future *))dlsym(h, "weft_future_unref");
    if (!pool_default || !submit || !result || !release) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    static int x = 42;
    weft_future *f;
    void *r = NULL;
    if (submit(pool_default(), answer, &x, &f, WEFT_FOREVER) != 0) return 1;
    int rc = result(f, &r, WEFT_SEC(30));
    release(f);
    if (rc != 0 || r != &x) return 1;
    printf("dlopen_check: loaded and ran a task\n");
    printf("1 passed, 0 failed\n");
    return 0;
}
