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

/* Number of CPUs this process may run on (at least 1). */
int weft__os_cpu_count(void);

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

/* A pollable flag for event loops (weft_queue_fd, weft_future_fd): an eventfd, non-blocking and
 * close-on-exec, readable exactly while it is raised. eventfd_new: the descriptor, or
 * WEFT_EAGAIN (out of descriptors: EMFILE, ENFILE) or WEFT_ENOMEM. raise/lower keep no state:
 * the caller tracks it (raise adds 1, lower reads the counter back to 0). */
int weft__os_eventfd_new(void);
void weft__os_eventfd_raise(int fd);
void weft__os_eventfd_lower(int fd);
void weft__os_close(int fd);

#endif
