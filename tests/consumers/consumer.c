/* consumer.c - a program that uses weft the way an adopter's does, built by the consumer
 * projects here (add_subdirectory, find_package) and with pkg-config (scripts/check-packaging):
 * the header's version equals the library's, and a pool task runs. Prints
 * "consumer: weft VERSION ok". */
#include <stdio.h>
#include <string.h>
#include <weft.h>

static int twice(void *arg, void **result)
{
    *result = (char *)arg + 1; /* arg + 1 byte: a value the caller can check */
    return 0;
}

int main(void)
{
    if (strcmp(weft_version_string(), WEFT_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: headers %s, library %s\n", WEFT_VERSION_STRING,
                weft_version_string());
        return 1;
    }
    static char base[2];
    weft_future *f;
    void *r = NULL;
    int rc = weft_pool_submit(weft_pool_default(), twice, base, &f, WEFT_SEC(10));
    if (rc == 0) rc = weft_future_result(f, &r, WEFT_SEC(10));
    if (rc != 0 || r != base + 1) {
        fprintf(stderr, "consumer: a pool task: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_future_unref(f);
    printf("consumer: weft %s ok\n", weft_version_string());
    return 0;
}
