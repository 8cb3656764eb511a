/* src/os/linux_cpu.c - how many CPUs this process may use: the default size of a pool.
 *
 * Not the online CPUs (sysconf(_SC_NPROCESSORS_ONLN)): a program started under taskset, an MPI
 * rank that mpirun bound to a core, a container with a CPU quota all get fewer, and a pool of
 * one worker per online CPU would then run more threads than it has CPUs, each preempting the
 * others. The count is the smaller of
 *   - the CPUs in the calling thread's affinity mask (sched_getaffinity; a machine with more
 *     CPUs than cpu_set_t holds is read with a larger mask), and
 *   - the cgroup v2 CPU bandwidth limit: for the process's cgroup and every ancestor up to the
 *     root of the cgroup2 mount, cpu.max holds "QUOTA PERIOD" ("max PERIOD": no limit); each
 *     gives ceil(QUOTA / PERIOD) CPUs and the smallest applies. Rounded up: with 1.5 CPUs, two
 *     workers each throttled a quarter of the time finish sooner than one that leaves half a
 *     CPU unused.
 * cgroup v1's cpu.cfs_quota_us is not read. Nothing is cached: the count is computed when asked
 * (once per pool made with the default size), so it follows the mask at that moment.
 *
 * Also here: weft__os_move_to_cpu, the one place weft changes a thread's affinity mask, and
 * only for an instant (docs/design/ipcq.md, "following the waker").
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"

/* CPUs in the calling thread's affinity mask; 0 if it cannot be read. */
static int affinity_count(void)
{
    for (size_t ncpu = 1024; ncpu <= (size_t)1 << 22; ncpu *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (set == NULL) return 0;
        size_t size = CPU_ALLOC_SIZE(ncpu);
        int r = sched_getaffinity(0, size, set);
        int e = errno, n = r == 0 ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (r == 0 || e != EINVAL) return n; /* EINVAL: the kernel's mask is larger */
    }
    return 0;
}

int weft__os_parse_cpu_max(const char *text)
{
    unsigned long long quota, period;
    if (text == NULL || strncmp(text, "max", 3) == 0) return 0;
    if (sscanf(text, "%llu %llu", &quota, &period) != 2 || quota == 0 || period == 0) return 0;
    unsigned long long n = quota / period + (quota % period != 0);
    return n > 1u << 20 ? 1 << 20 : (int)n;
}

/* The first line of path (without its newline) into buf; 0 or -1. */
static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) return -1;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* The process's cgroup v2 path ("0::PATH" in /proc/self/cgroup) into buf; 0 or -1. */
static int cgroup_path(const char *cgroup_file, char *buf, size_t size)
{
    FILE *f = fopen(cgroup_file, "re");
    if (f == NULL) return -1;
    char line[4096];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "0::", 3) != 0) continue;
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line + 3) < size) {
            strcpy(buf, line + 3);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* The cgroup2 mount whose root holds path: its mount point into dir, the part of path below
 * its root appended (mountinfo: "ID PARENT DEV ROOT POINT OPTIONS... - FSTYPE SOURCE ...").
 * *mount_len: the mount point's length in dir. 0 or -1. */
static int cgroup_dir(const char *mountinfo_file, const char *path, char *dir, size_t size,
                      size_t *mount_len)
{
    FILE *f = fopen(mountinfo_file, "re");
    if (f == NULL) return -1;
    char line[4096], root[1024], point[1024];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
        const char *sep = strstr(line, " - ");
        if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0) continue;
        if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2) continue;
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        /* a path outside the mount's root (another cgroup namespace): only the root is seen */
        const char *below =
            strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0') ? path + rl : "";
        if (strcmp(below, "/") == 0) below = "";
        int n = snprintf(dir, size, "%s%s", point, below);
        if (n > 0 && (size_t)n < size) {
            *mount_len = strlen(point);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

int weft__os_cgroup_cpus(const char *cgroup_file, const char *mountinfo_file)
{
    char path[2048], dir[4096], file[4096 + 16], text[64];
    size_t mount_len;
    if (cgroup_path(cgroup_file, path, sizeof path) != 0 ||
        cgroup_dir(mountinfo_file, path, dir, sizeof dir, &mount_len) != 0)
        return 0;
    int best = 0;
    for (;;) { /* from the process's cgroup up to the mount's root */
        snprintf(file, sizeof file, "%s/cpu.max", dir);
        int n = read_line(file, text, sizeof text) == 0 ? weft__os_parse_cpu_max(text) : 0;
        if (n > 0 && (best == 0 || n < best)) best = n;
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= mount_len || slash == NULL || (size_t)(slash - dir) < mount_len) break;
        *slash = '\0';
    }
    return best;
}

int weft__os_cpu_count(void)
{
    int n = affinity_count();
    if (n <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    int limit = weft__os_cgroup_cpus("/proc/self/cgroup", "/proc/self/mountinfo");
    return limit > 0 && limit < n ? limit : n;
}

int weft__os_move_to_cpu(int cpu)
{
    cpu_set_t old, one, all;
    /* EINVAL: the kernel's mask is larger than cpu_set_t; such a machine is left alone. */
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof old, &old) != 0) return -1;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (!CPU_ISSET(cpu, &old) || online < 2 || CPU_COUNT(&old) != online) return -1;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return -1;
    /* Every CPU, which the kernel narrows to what the cpuset allows, as it did the mask the
     * thread had: the kernel keeps the mask asked for (Linux 6.2 and later), and one of every
     * CPU goes on following the cpuset where the mask read back would stay as it is now. */
    memset(&all, 0xff, sizeof all);
    (void)sched_setaffinity(0, sizeof all, &all);
    return 0;
}
