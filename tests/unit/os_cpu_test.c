/* tests/unit/os_cpu_test.c - the CPU count that sizes default pools (src/os/linux_cpu.c): the
 * affinity mask and the cgroup v2 quota, not the online CPUs. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/os.h"
#include "test.h"

START_TEST(cpu_max_gives_quota_over_period_rounded_up)
{
    ck_assert_int_eq(weft__os_parse_cpu_max("max 100000"), 0);
    ck_assert_int_eq(weft__os_parse_cpu_max("100000 100000"), 1);
    ck_assert_int_eq(weft__os_parse_cpu_max("50000 100000"), 1);
    ck_assert_int_eq(weft__os_parse_cpu_max("150000 100000"), 2);
    ck_assert_int_eq(weft__os_parse_cpu_max("400000 100000\n"), 4);
    ck_assert_int_eq(weft__os_parse_cpu_max("0 100000"), 0);
    ck_assert_int_eq(weft__os_parse_cpu_max("100000 0"), 0);
    ck_assert_int_eq(weft__os_parse_cpu_max("junk"), 0);
    ck_assert_int_eq(weft__os_parse_cpu_max(""), 0);
    ck_assert_int_eq(weft__os_parse_cpu_max(NULL), 0);
}
END_TEST

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *top, const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", top, sub);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* A fake /proc/self/cgroup and mountinfo over a directory tree standing for /sys/fs/cgroup. */
START_TEST(cgroup_limit_is_the_smallest_from_the_cgroup_to_the_root)
{
    char top[] = "/tmp/weft_cgroupXXXXXX", cg[512], file[512], info[512], line[1024];
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(cg, sizeof cg, "%s/cg", top);
    mkdirs(top, "cg");
    mkdirs(top, "cg/a");
    mkdirs(top, "cg/a/b");
    snprintf(file, sizeof file, "%s/cgroup", top);
    snprintf(info, sizeof info, "%s/mountinfo", top);
    put(top, "cgroup", "4:memory:/x\n0::/a/b\n");
    snprintf(line, sizeof line,
             "25 30 0:22 / /proc rw - proc proc rw\n"
             "31 30 0:26 / %s rw,nosuid shared:9 - cgroup2 cgroup2 rw\n",
             cg);
    put(top, "mountinfo", line);

    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0); /* no cpu.max anywhere */
    put(cg, "a/b/cpu.max", "max 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0); /* "max": no limit */
    put(cg, "a/cpu.max", "250000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 3); /* a parent's limit applies */
    put(cg, "cpu.max", "150000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 2); /* the smallest on the way */
    put(cg, "a/b/cpu.max", "50000 100000\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 1);

    /* In a cgroup namespace the mount's root is the namespace's: /a/b is seen as cg/b. */
    mkdirs(top, "cg/b");
    put(cg, "cpu.max", "max 100000\n");
    put(cg, "b/cpu.max", "300000 100000\n");
    snprintf(line, sizeof line, "31 30 0:26 /a %s rw - cgroup2 cgroup2 rw\n", cg);
    put(top, "mountinfo", line);
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 3);

    /* No cgroup2 mount, no v2 line, no file: no limit. */
    put(top, "mountinfo", "25 30 0:22 / /proc rw - proc proc rw\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0);
    put(top, "cgroup", "4:memory:/x\n");
    ck_assert_int_eq(weft__os_cgroup_cpus(file, info), 0);
    ck_assert_int_eq(weft__os_cgroup_cpus("/nonexistent/cgroup", info), 0);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static int max_workers(weft_pool *p)
{
    struct weft_pool_stats st;
    ck_assert_weft(weft_pool_stats(p, &st), 0);
    return st.max_workers;
}

static int expected(int in_mask)
{
    int limit = weft__os_cgroup_cpus("/proc/self/cgroup", "/proc/self/mountinfo");
    return limit > 0 && limit < in_mask ? limit : in_mask;
}

/* Restrict the calling thread to the first `want` CPUs of its mask; how many it kept. */
static int restrict_to(int want)
{
    cpu_set_t cur, set;
    ck_assert_int_eq(sched_getaffinity(0, sizeof cur, &cur), 0);
    CPU_ZERO(&set);
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < want; c++)
        if (CPU_ISSET(c, &cur)) CPU_SET(c, &set), n++;
    ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0);
    return n;
}

/* The pools are made by a thread whose mask was narrowed first: a pool's default size and the
 * default pool's follow that thread's mask, not the machine's online CPUs. */
static void *narrowed_thread(void *unused)
{
    (void)unused;
    weft_pool *p;
    int two = restrict_to(2);
    ck_assert_int_eq(weft__os_cpu_count(), expected(two));
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    ck_assert_int_eq(max_workers(p), expected(two));
    weft_pool_free(p);

    ck_assert_int_eq(restrict_to(1), 1);
    ck_assert_int_eq(weft__os_cpu_count(), 1);
    ck_assert_weft(weft_pool_new(&p, NULL), 0);
    ck_assert_int_eq(max_workers(p), 1);
    weft_pool_free(p);
    weft_pool *d = weft_pool_default(); /* first use in this (forked) test process */
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(max_workers(d), 1);
    return NULL;
}

START_TEST(default_pool_size_follows_the_affinity_mask)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, narrowed_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    /* the process's main thread kept its whole mask */
    cpu_set_t cur;
    ck_assert_int_eq(sched_getaffinity(0, sizeof cur, &cur), 0);
    ck_assert_int_eq(weft__os_cpu_count(), expected(CPU_COUNT(&cur)));
}
END_TEST

WEFT_TEST_SUITE("os_cpu", 20, cpu_max_gives_quota_over_period_rounded_up,
                cgroup_limit_is_the_smallest_from_the_cgroup_to_the_root,
                default_pool_size_follows_the_affinity_mask)
