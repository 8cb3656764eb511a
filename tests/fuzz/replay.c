/* tests/fuzz/replay.c - the main of a harness in builds without libFuzzer: feeds every file
 * named on the command line (a directory: every file in it) to LLVMFuzzerTestOneInput, so that
 * the kept corpus and every crash found so far are replayed by each build's test suite (plain,
 * TSan, ASan). A wrong answer aborts inside the harness; a clean run prints the count. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *b = realloc(buf, cap);
            if (b == NULL) abort();
            buf = b;
        }
        got = fread(buf + len, 1, cap - len, fp);
        len += got;
    } while (got > 0);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int replay(const char *path, long *done, long *failed)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0; /* an empty regressions dir is not in git */
    if (!S_ISDIR(st.st_mode)) {
        if (replay_file(path) == 0)
            ++*done;
        else
            ++*failed;
        return 0;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort); /* sorted: a failure reproduces in order */
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
            replay(sub, done, failed);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

int main(int argc, char **argv)
{
    long done = 0, failed = 0;
    for (int i = 1; i < argc; i++) replay(argv[i], &done, &failed);
    printf("%s: replayed %ld inputs\n", argv[0], done);
    printf("%ld passed, %ld failed\n", done, failed);
    return failed || done == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
