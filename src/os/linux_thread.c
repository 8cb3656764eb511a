/* src/os/linux_thread.c - thread identity, naming and CPU count on Linux. */
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/os.h"

int32_t weft__os_gettid(void)
{
    return (int32_t)syscall(SYS_gettid);
}

void weft__os_set_thread_name(const char *name)
{
    char buf[16];
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    prctl(PR_SET_NAME, buf, 0, 0, 0);
}

int weft__os_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void weft__os_yield(void)
{
    sched_yield();
}
