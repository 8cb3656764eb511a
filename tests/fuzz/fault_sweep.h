/* tests/fuzz/fault_sweep.h - the scenarios of the allocation failure sweep (fault_sweep.c).
 * Each returns 0 when every promise held (whether or not an allocation failed), 1 otherwise. */
#ifndef WEFT_FAULT_SWEEP_H
#define WEFT_FAULT_SWEEP_H

#include <stdbool.h>
#include <weft.h>

int sweep_failed(const char *file, int line, const char *what, int rc);
/* Failures with WEFT_ENOMEM that the pool error hook reported (tasks nobody waited for). */
extern _Atomic int sweep_enomem_reports;

/* rc must be one of the listed codes (the documented ones for this call). */
static inline bool sweep_rc_in(int rc, const int *ok, int n)
{
    for (int i = 0; i < n; i++)
        if (rc == ok[i]) return true;
    return false;
}
#define SW_RC(what, rc, ...)                                         \
    do {                                                             \
        int rc_ = (rc);                                              \
        const int ok_[] = {__VA_ARGS__};                             \
        if (!sweep_rc_in(rc_, ok_, (int)(sizeof ok_ / sizeof *ok_))) \
            return sweep_failed(__FILE__, __LINE__, what, rc_);      \
    } while (0)
/* A count that must match. */
#define SW_EQ(what, got, want)                                                                   \
    do {                                                                                         \
        long long g_ = (long long)(got), w_ = (long long)(want);                                 \
        if (g_ != w_) {                                                                          \
            fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, what, g_, w_); \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)

int sweep_queue(void);
int sweep_scope(void);
int sweep_future(void);
int sweep_pool(void);
int sweep_group(void);
int sweep_timer(void);
int sweep_thread(void);
int sweep_process(void);
int sweep_procpool(void);
int sweep_ipcq(void);
int sweep_debug(void);
int sweep_local(void);

#endif
