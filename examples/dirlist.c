/* examples/dirlist.c - the recursive directory lister of seed 003, done right.
 *
 * The Python original: worker threads take directory names from dir_q with get(True, 0.05)
 * so that they can poll a stop flag every 50 ms, walk the whole subtree of each name alone
 * (one huge directory keeps one worker busy while the others idle), and main counts the
 * results it expects. Here:
 *   - the work is split per directory: a worker lists ONE directory, puts every subdirectory
 *     back on dir_q and sends the regular files it found to result_q as one list;
 *   - dir_q's task accounting tells when everything is done: a worker puts the subdirectories
 *     BEFORE it calls task_done for their parent, so join cannot return while work remains;
 *   - then dir_q is closed: each worker's blocking get returns WEFT_ECLOSED and the worker
 *     ends. No stop flag, no polling, no sentinels, no counting in main.
 *
 * Usage: dirlist WORKERS DIR...
 * Prints every regular file under the DIRs (what `find DIR... -type f` prints, in another
 * order) on stdout; the file count and the time on stderr, and, when stderr is a terminal, a
 * progress line while it runs. Symbolic links are not followed, as find does by default.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft.h>

#define MAX_WORKERS 256

/* What a worker sends back for one directory: the paths of its regular files. */
struct files {
    size_t n, cap;
    char **path;
};

struct shared {
    weft_queue *dir_q;    /* items: char * paths (malloc'd), owned by whoever holds them */
    weft_queue *result_q; /* items: struct files * */
};

static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + slash + b + 1);
    if (p == NULL) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

static int add_file(struct files *f, char *path)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        char **p = realloc(f->path, cap * sizeof *p);
        if (p == NULL) return -1;
        f->path = p;
        f->cap = cap;
    }
    f->path[f->n++] = path;
    return 0;
}

/* The type of an entry without following symbolic links (d_type, or lstat when unknown). */
static unsigned char entry_type(const char *path, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN) return e->d_type;
    if (lstat(path, &st) != 0) return DT_UNKNOWN;
    return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

/* One entry of dir: a subdirectory goes back on dir_q, a regular file into f. */
static void take_entry(struct shared *s, const char *dir, const struct dirent *e, struct files *f)
{
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) return;
    char *path = join_path(dir, e->d_name);
    if (path == NULL) return;
    unsigned char t = entry_type(path, e);
    if (t == DT_DIR && weft_queue_put(s->dir_q, path, WEFT_FOREVER) == 0) return;
    if (t == DT_REG && add_file(f, path) == 0) return;
    free(path);
}

static struct files *list_dir(struct shared *s, const char *dir)
{
    struct files *f = calloc(1, sizeof *f);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "dirlist: %s: cannot open\n", dir);
        return f;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (f) take_entry(s, dir, e, f);
    closedir(d);
    return f;
}

static int worker(void *arg)
{
    struct shared *s = arg;
    void *item;
    int rc;
    while ((rc = weft_queue_get(s->dir_q, &item, WEFT_FOREVER)) == 0) {
        struct files *f = list_dir(s, item);
        free(item);
        if (f && weft_queue_put(s->result_q, f, WEFT_FOREVER) != 0) free(f);
        /* After the subdirectories and the result were put: join sees them as pending. */
        weft_queue_task_done(s->dir_q);
    }
    return rc == WEFT_ECLOSED ? 0 : rc;
}

/* Wait until every directory was listed, then close both queues: the workers and main end. */
static int closer(void *arg)
{
    struct shared *s = arg;
    int rc = weft_queue_join(s->dir_q, WEFT_FOREVER);
    weft_queue_close(s->dir_q);
    weft_queue_close(s->result_q);
    return rc;
}

/* Print every file of every result until result_q is closed; returns the count. */
static size_t print_results(struct shared *s, weft_ns t0)
{
    int tty = isatty(STDERR_FILENO);
    size_t count = 0, dirs = 0;
    void *item;
    int rc;
    while ((rc = weft_queue_get(s->result_q, &item, tty ? WEFT_MS(100) : WEFT_FOREVER)) !=
           WEFT_ECLOSED) {
        if (rc == 0) {
            struct files *f = item;
            for (size_t i = 0; i < f->n; i++) {
                puts(f->path[i]);
                free(f->path[i]);
            }
            count += f->n;
            dirs++;
            free(f->path);
            free(f);
        }
        if (tty && (rc == WEFT_ETIMEDOUT || dirs % 256 == 0))
            fprintf(stderr, "\r%zu directories, %zu files, %.1f s ", dirs, count,
                    (double)(weft_now() - t0) / 1e9);
    }
    if (tty) fputs("\r\033[K", stderr);
    return count;
}

static int start_all(struct shared *s, int n, weft_thread *w, weft_thread *c)
{
    for (int i = 0; i < n; i++)
        if (weft_thread_start(&w[i], worker, s, NULL) != 0) return -1;
    return weft_thread_start(c, closer, s, NULL);
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[1]) : 0;
    if (n < 1 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: dirlist WORKERS(1..%d) DIR...\n", MAX_WORKERS);
        return 2;
    }
    struct shared s;
    if (weft_queue_new(&s.dir_q, NULL) != 0 || weft_queue_new(&s.result_q, NULL) != 0) return 1;
    weft_ns t0 = weft_now();
    for (int i = 2; i < argc; i++) {
        char *dir = strdup(argv[i]);
        if (dir == NULL || weft_queue_put(s.dir_q, dir, 0) != 0) return 1;
    }
    weft_thread w[MAX_WORKERS], c;
    if (start_all(&s, n, w, &c) != 0) {
        fprintf(stderr, "dirlist: cannot start threads\n");
        return 1;
    }
    size_t count = print_results(&s, t0);
    int failed = weft_thread_join(c, NULL, WEFT_FOREVER) != 0;
    for (int i = 0; i < n; i++) failed |= weft_thread_join(w[i], NULL, WEFT_FOREVER) != 0;
    fprintf(stderr, "%zu files in %.3f s with %d workers\n", count, (double)(weft_now() - t0) / 1e9,
            n);
    weft_queue_free(s.dir_q);
    weft_queue_free(s.result_q);
    return failed;
}
