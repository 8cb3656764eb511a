/* src/os/linux_thread.c - thread identity and naming on Linux (the CPU count: linux_cpu.c). */
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

void weft__os_yield(void)
{
    sched_yield();
}
