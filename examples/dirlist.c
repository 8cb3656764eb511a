/* examples/dirlist.c - the recursive directory lister of seed 003, done right.
 *
 * The Python original: worker threads take directory names from dir_q with get(True, 0.05)
 * so that they can poll a stop flag every 50 ms, walk the whole subtree of each name alone
 * (one huge directory keeps one worker busy while the others idle), and main counts the
 * results it expects. Here:
 *   - the work is split per directory: a worker lists ONE directory, puts every subdirectory
 *     back on dir_q and sends the regular files it found to result_q as one block of text;
 *   - dir_q's task accounting tells when everything is done: a worker puts the subdirectories
 *     BEFORE it calls task_done for their parent, so join cannot return while work remains;
 *   - then dir_q is closed: each worker's blocking get returns WEFT_ECLOSED and the worker
 *     ends. No stop flag, no polling, no sentinels, no counting in main.
 *
 * Usage: dirlist WORKERS PATH...
 * Prints what `find PATH... -type f` prints, in another order: every regular file under the
 * directories, and every PATH that is itself a regular file. As find does by default (-P),
 * symbolic links are never followed, those named on the command line included (but "link/"
 * names the directory the link points to, as for find). The file count and the time go to
 * stderr, and, when stderr is a terminal, a progress line while it runs.
 * Errors (a missing PATH, a directory that cannot be opened or read, an entry that vanished)
 * are reported on stderr with their reason, the walk goes on, and the exit status is 1, as
 * find's; 0 when there was none; 2 for a usage error.
 *
 * Paths and descriptors: every queued directory carries its path as printed, and is opened by
 * it. A path longer than the kernel takes in one call (PATH_MAX) is opened relative to the
 * last such directory that this worker opened, kept open as its anchor, or else walked from
 * the start in pieces shorter than PATH_MAX, each opened relative to the previous one. So the
 * depth is unbounded and a worker never holds more than three descriptors at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft.h>

#define MAX_WORKERS 256
#define DIR_FLAGS   (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* What a worker sends back for one directory: its regular files, one path per line (NULL for
 * a directory without any). */
struct batch {
    size_t count, len, cap;
    char text[];
};

struct shared {
    weft_queue *dir_q;    /* items: char * paths (malloc'd), owned by whoever holds them */
    weft_queue *result_q; /* items: struct batch * */
};

struct worker {
    struct shared *s;
    int anchor_fd; /* -1, or the last directory past PATH_MAX this worker opened */
    char *anchor;  /* its path (malloc'd) */
    size_t anchor_len;
};

/* Set by any thread that reports an error; main reads it after joining them all (the joins
 * order the stores before the read), so relaxed is enough. */
static atomic_int failed;

static void report(const char *path, int err)
{
    fprintf(stderr, "dirlist: '%s': %s\n", path, strerror(err));
    atomic_store_explicit(&failed, 1, memory_order_relaxed);
}

/* Open a directory whose path is PATH_MAX or longer: in pieces shorter than PATH_MAX, cut at
 * slashes, each opened relative to the one before. The last piece is not followed if it is
 * a symbolic link; the others are, as the kernel would for the whole path. */
static int walk(const char *path, size_t len)
{
    char piece[PATH_MAX] = ".";
    int fd = AT_FDCWD;
    const char *p = path, *end = path + len;
    for (;;) {
        size_t n = (size_t)(end - p);
        int last = n < PATH_MAX, next = -1, err = ENAMETOOLONG;
        if (!last) /* cut at the last slash that fits */
            for (n = PATH_MAX - 1; n > 0 && p[n] != '/'; n--) continue;
        if (n > 0 || last) { /* n == 0: a name longer than any allowed, or only slashes left */
            if (n > 0) memcpy(piece, p, n);
            piece[n > 0 ? n : 1] = '\0';
            next = openat(fd, piece, last ? DIR_FLAGS : O_PATH | O_DIRECTORY | O_CLOEXEC);
            err = errno;
        }
        if (fd != AT_FDCWD) close(fd);
        errno = err;
        if (next < 0 || last) return next;
        fd = next;
        for (p += n; p < end && *p == '/'; p++) continue;
    }
}

/* Keep fd's directory as the worker's anchor: its subdirectories open relative to it. */
static void remember(struct worker *w, int fd, const char *path, size_t len)
{
    char *copy = realloc(w->anchor, len + 1);
    if (copy == NULL) return; /* only a shortcut: without it, the next one walks */
    w->anchor = copy;
    memcpy(copy, path, len + 1);
    w->anchor_len = len;
    if (w->anchor_fd >= 0) close(w->anchor_fd);
    w->anchor_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static int open_dir(struct worker *w, const char *path, size_t len)
{
    if (len < PATH_MAX) return open(path, DIR_FLAGS);
    size_t a = w->anchor_len;
    int fd;
    if (w->anchor_fd >= 0 && len > a + 1 && len - a - 1 < PATH_MAX && path[a] == '/' &&
        memcmp(path, w->anchor, a) == 0)
        fd = openat(w->anchor_fd, path + a + 1, DIR_FLAGS);
    else
        fd = walk(path, len);
    if (fd >= 0) remember(w, fd, path, len);
    return fd;
}

/* dir + "/" + name, without doubling a slash that dir ends with (find prints "d//x" for "d//"). */
static char *join_path(const char *dir, size_t a, const char *name, size_t b, char *p)
{
    int slash = a > 0 && dir[a - 1] != '/';
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b);
    return p + a + slash + b;
}

/* Append dir/name and a newline to *bp (made or grown as needed); -1 if out of memory. */
static int add_file(struct batch **bp, const char *dir, size_t a, const char *name)
{
    struct batch *b = *bp;
    size_t need = a + strlen(name) + 2, len = b ? b->len : 0;
    if (b == NULL || b->cap - b->len < need) {
        size_t cap = b ? 2 * b->cap : 4096;
        while (cap - len < need) cap *= 2;
        b = realloc(b, sizeof *b + cap);
        if (b == NULL) return -1;
        if (*bp == NULL) b->count = b->len = 0;
        b->cap = cap;
        *bp = b;
    }
    char *end = join_path(dir, a, name, need - a - 2, b->text + b->len);
    *end++ = '\n';
    b->len = (size_t)(end - b->text);
    b->count++;
    return 0;
}

/* Queue dir/name for a worker; non-zero if out of memory. */
static int push_dir(struct shared *s, const char *dir, size_t a, const char *name)
{
    size_t b = strlen(name);
    char *path = malloc(a + b + 2);
    if (path == NULL) return -1;
    *join_path(dir, a, name, b, path) = '\0';
    int rc = weft_queue_put(s->dir_q, path, WEFT_FOREVER);
    if (rc != 0) free(path);
    return rc == WEFT_ECLOSED ? 0 : rc; /* closed: the start failed, the run is over */
}

/* The type of an entry without following symbolic links (d_type, or fstatat when unknown). */
static unsigned char entry_type(DIR *d, const char *dir, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN) return e->d_type;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    int err = errno;
    size_t a = strlen(dir), b = strlen(e->d_name);
    char *path = malloc(a + b + 2);
    if (path) *join_path(dir, a, e->d_name, b, path) = '\0';
    report(path ? path : e->d_name, err);
    free(path);
    return DT_UNKNOWN;
}

/* List one directory: its subdirectories go on dir_q, its files into *bp. */
static void list_dir(struct worker *w, const char *dir, struct batch **bp)
{
    size_t a = strlen(dir);
    int fd = open_dir(w, dir, a);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        report(dir, errno);
        if (fd >= 0) close(fd);
        return;
    }
    struct dirent *e;
    for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
        const char *n = e->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
        unsigned char t = entry_type(d, dir, e);
        if ((t == DT_DIR && push_dir(w->s, dir, a, n) != 0) ||
            (t == DT_REG && add_file(bp, dir, a, n) != 0))
            report(dir, ENOMEM);
    }
    if (errno != 0) report(dir, errno);
    closedir(d);
}

static int worker(void *arg)
{
    struct worker *w = arg;
    void *item;
    int rc;
    while ((rc = weft_queue_get(w->s->dir_q, &item, WEFT_FOREVER)) == 0) {
        struct batch *b = NULL;
        list_dir(w, item, &b);
        free(item);
        if (weft_queue_put(w->s->result_q, b, WEFT_FOREVER) != 0) free(b);
        /* After the subdirectories and the result were put: join sees them as pending. */
        weft_queue_task_done(w->s->dir_q);
    }
    if (w->anchor_fd >= 0) close(w->anchor_fd);
    free(w->anchor);
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

/* Print every batch until result_q is closed; returns the number of files. */
static size_t print_results(struct shared *s, weft_ns t0)
{
    int tty = isatty(STDERR_FILENO);
    size_t count = 0, dirs = 0;
    void *item;
    int rc;
    while ((rc = weft_queue_get(s->result_q, &item, tty ? WEFT_MS(100) : WEFT_FOREVER)) !=
           WEFT_ECLOSED) {
        struct batch *b = rc == 0 ? item : NULL;
        dirs += rc == 0;
        if (b != NULL) {
            fwrite(b->text, 1, b->len, stdout);
            count += b->count;
            free(b);
        }
        if (tty && (rc == WEFT_ETIMEDOUT || dirs % 256 == 0))
            fprintf(stderr, "\r%zu directories, %zu files, %.1f s ", dirs, count,
                    (double)(weft_now() - t0) / 1e9);
    }
    if (tty) fputs("\r\033[K", stderr);
    return count;
}

/* Each PATH as find -P sees it: a file is printed, a directory queued, an error reported.
 * Returns the number of files printed, or -1 if out of memory. */
static long take_arguments(struct shared *s, int argc, char **argv)
{
    long files = 0;
    for (int i = 2; i < argc; i++) {
        struct stat st;
        if (lstat(argv[i], &st) != 0) {
            report(argv[i], errno);
        } else if (S_ISREG(st.st_mode)) {
            puts(argv[i]);
            files++;
        } else if (S_ISDIR(st.st_mode)) {
            char *dir = strdup(argv[i]);
            if (dir == NULL || weft_queue_put(s->dir_q, dir, 0) != 0) {
                free(dir);
                return -1;
            }
        }
    }
    return files;
}

static void free_item(void *item, void *arg)
{
    (void)arg;
    free(item);
}

/* Start n workers and the closer; on failure, end the workers already started. */
static int start_all(struct shared *s, int n, struct worker *ws, weft_thread *w, weft_thread *c)
{
    int started, rc = 0;
    for (started = 0; started < n; started++) {
        ws[started] = (struct worker){.s = s, .anchor_fd = -1};
        rc = weft_thread_start(&w[started], worker, &ws[started], NULL);
        if (rc != 0) break;
    }
    if (rc == 0) rc = weft_thread_start(c, closer, s, NULL);
    if (rc == 0) return 0;
    fprintf(stderr, "dirlist: cannot start threads: %s\n", weft_strerror(rc));
    weft_queue_shutdown(s->dir_q, free_item, NULL, NULL); /* their gets fail at once */
    for (int i = 0; i < started; i++) weft_thread_join(w[i], NULL, WEFT_FOREVER);
    return rc;
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[1]) : 0;
    if (n < 1 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: dirlist WORKERS(1..%d) PATH...\n", MAX_WORKERS);
        return 2;
    }
    struct shared s = {NULL, NULL};
    if (weft_queue_new(&s.dir_q, NULL) != 0 || weft_queue_new(&s.result_q, NULL) != 0) {
        weft_queue_free(s.dir_q);
        return 1;
    }
    weft_ns t0 = weft_now();
    static struct worker ws[MAX_WORKERS];
    weft_thread w[MAX_WORKERS], c;
    long files = take_arguments(&s, argc, argv);
    int ok = files >= 0 && start_all(&s, n, ws, w, &c) == 0;
    if (files < 0) fprintf(stderr, "dirlist: out of memory\n");
    if (ok) {
        files += (long)print_results(&s, t0);
        ok = weft_thread_join(c, NULL, WEFT_FOREVER) == 0;
        for (int i = 0; i < n; i++) ok &= weft_thread_join(w[i], NULL, WEFT_FOREVER) == 0;
        fprintf(stderr, "%ld files in %.3f s with %d workers\n", files,
                (double)(weft_now() - t0) / 1e9, n);
    }
    /* Only after a failure is anything left: hand it back and free it. */
    weft_queue_shutdown(s.dir_q, free_item, NULL, NULL);
    weft_queue_shutdown(s.result_q, free_item, NULL, NULL);
    weft_queue_free(s.dir_q);
    weft_queue_free(s.result_q);
    if (fflush(stdout) != 0 || ferror(stdout)) report("standard output", errno ? errno : EIO);
    return ok && !atomic_load_explicit(&failed, memory_order_relaxed) ? 0 : 1;
}
