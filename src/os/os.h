/* src/os/os.h - the OS contract that the rest of weft is written against.
 *
 * Every system call weft makes goes through one of these functions, so that the modules never
 * name a Linux interface directly and a POSIX fallback can be added here alone. The Linux
 * implementation lives in src/os/linux_*.c. All of them are thread-safe; none of them touch
 * errno on success; failures are returned as negative WEFT_E* codes.
 */
#ifndef WEFT_OS_H
#define WEFT_OS_H

#include <stdint.h>
#include <stddef.h>
#include <weft/time.h>

/* futex_wait - sleep while *word == expected, until woken, or until the monotonic clock reaches
 * deadline (WEFT_FOREVER: no limit). Returns 0 when woken (or spuriously, or because *word
 * differed), WEFT_ETIMEDOUT when the deadline passed. Process-private futexes only. */
int weft__os_futex_wait(_Atomic uint32_t *word, uint32_t expected, weft_ns deadline);

/* futex_wake - wake up to n threads sleeping on word (INT32_MAX: all). Harmless if the word's
 * memory was reused: a stranger sleeping there sees a spurious wake-up, which every wait loop
 * in weft tolerates. */
void weft__os_futex_wake(_Atomic uint32_t *word, int n);

/* futex_wait_shared / futex_wake_shared - the same on a word that other processes map too
 * (MAP_SHARED memory: no FUTEX_PRIVATE_FLAG, so the kernel keys the wait by the page, not by
 * this address space). The wait also returns 0 on EFAULT (the word was unmapped). */
int weft__os_futex_wait_shared(_Atomic uint32_t *word, uint32_t expected, weft_ns deadline);
void weft__os_futex_wake_shared(_Atomic uint32_t *word, int n);

/* The monotonic clock in nanoseconds. */
weft_ns weft__os_now(void);

/* The kernel's id of the calling thread (gettid). */
int32_t weft__os_gettid(void);

/* Name the calling thread for top -H, ps and gdb (the kernel keeps 15 bytes; longer is cut). */
void weft__os_set_thread_name(const char *name);

/* Number of CPUs the calling thread may use (at least 1): its affinity mask, capped by the
 * cgroup v2 CPU quota (linux_cpu.c). Computed at each call. */
int weft__os_cpu_count(void);

/* The cgroup v2 CPU limit read from these files (/proc/self/cgroup and /proc/self/mountinfo,
 * or a test's copies): the smallest ceil(quota / period) on the way from the process's cgroup
 * to the mount's root; 0 when there is none or it cannot be read. */
int weft__os_cgroup_cpus(const char *cgroup_file, const char *mountinfo_file);

/* A cpu.max file's text ("QUOTA PERIOD" or "max PERIOD") as CPUs rounded up; 0: no limit. */
int weft__os_parse_cpu_max(const char *text);

/* Move the calling thread to cpu now, if its affinity mask holds every online CPU (as it does
 * unless someone narrowed it): set the mask to cpu alone (the kernel migrates the caller
 * before the call returns), then to every CPU again. 0; -1 (and nothing changed) when the
 * mask is narrower, cpu is not in it, or it cannot be read whole. A mask that anyone sets for
 * the thread between the two calls is overridden: the caller accepts that. */
int weft__os_move_to_cpu(int cpu);

/* Give the processor to another runnable thread. */
void weft__os_yield(void);

/* A hint to the CPU inside a spin-wait loop. */
static inline void weft__os_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* signal_abbrev - a signal's name without "SIG" ("INT" for SIGINT); signal_descr - its short
 * description ("interrupt"). NULL for a number that is not a standard signal (real-time ones
 * included). weft's own table (src/os/signame.c): glibc's sigabbrev_np / sigdescr_np are not in
 * musl. Static strings; async-signal-safe. */
const char *weft__os_signal_abbrev(int signo);
const char *weft__os_signal_descr(int signo);

/* backtrace - up to n return addresses of the calling thread into frames; the count. Where libc
 * has no execinfo.h (musl) it is 0: the debug dump then shows no stacks. */
#if defined(__has_include)
#if __has_include(<execinfo.h>)
#include <execinfo.h>
#define WEFT__OS_HAVE_BACKTRACE 1
#endif
#endif
static inline int weft__os_backtrace(void **frames, int n)
{
#ifdef WEFT__OS_HAVE_BACKTRACE
    return backtrace(frames, n);
#else
    for (int i = 0; i < n; i++) frames[i] = NULL; /* nothing reads them; the compiler cannot tell */
    return 0;
#endif
}

/* A pollable flag for event loops (weft_queue_fd, weft_future_fd): an eventfd, non-blocking and
 * close-on-exec, readable exactly while it is raised. eventfd_new: the descriptor, or
 * WEFT_EAGAIN (out of descriptors: EMFILE, ENFILE) or WEFT_ENOMEM. raise/lower keep no state:
 * the caller tracks it (raise adds 1, lower reads the counter back to 0). */
int weft__os_eventfd_new(void);
void weft__os_eventfd_raise(int fd);
void weft__os_eventfd_lower(int fd);
void weft__os_close(int fd);

#endif
