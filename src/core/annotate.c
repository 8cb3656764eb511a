/* src/core/annotate.c - the valgrind client requests behind core/annotate.h, out of line:
 * outside valgrind they are never called (weft__vg is 0), inside they are a trap into the tool.
 *
 * helgrind and DRD share the request numbers of the happens-before and reader-writer-lock
 * annotations (drd.h defines its own with helgrind's values), so helgrind.h's macros speak to
 * both. Untracking memory differs: helgrind's DISABLE_CHECKING, DRD's START_SUPPRESSION (the
 * request of drd.h's ANNOTATE_BENIGN_RACE_SIZED); each tool ignores the other's request. The
 * two headers define some ANNOTATE_* macros differently, so DRD's request is named from its
 * enum here, without its macros' names colliding: drd.h is included last and only
 * VG_USERREQ__DRD_START_SUPPRESSION is used from it.
 */
#ifdef WEFT_HAVE_VALGRIND
#include <valgrind/helgrind.h>

#include "core/annotate.h"

/* The helgrind.h macros we use, taken before drd.h redefines some ANNOTATE_* names. */
static inline void hg_send(const void *obj)
{
    ANNOTATE_HAPPENS_BEFORE(obj);
}
static inline void hg_recv(const void *obj)
{
    ANNOTATE_HAPPENS_AFTER(obj);
}
static inline void hg_acquired(const void *lock)
{
    ANNOTATE_RWLOCK_ACQUIRED(lock, 1);
}
static inline void hg_released(const void *lock)
{
    ANNOTATE_RWLOCK_RELEASED(lock, 1);
}
static inline void hg_untrack(void *addr, size_t len)
{
    VALGRIND_HG_DISABLE_CHECKING(addr, len);
}

#include <valgrind/drd.h>

int weft__vg;

int weft__vg_detect(void)
{
    return weft__vg = RUNNING_ON_VALGRIND ? 1 : 0;
}

/* Before main, and before any weft thread exists: read-only afterwards. */
__attribute__((constructor)) static void vg_at_start(void)
{
    weft__vg_detect();
}

void weft__vg_hb_before(const void *obj)
{
    hg_send(obj);
}

void weft__vg_hb_after(const void *obj)
{
    hg_recv(obj);
}

void weft__vg_locked(const void *lock)
{
    hg_acquired(lock);
}

void weft__vg_unlocked(const void *lock)
{
    hg_released(lock);
}

void weft__vg_untracked_slow(void *addr, size_t len)
{
    hg_untrack(addr, len);
    VALGRIND_DO_CLIENT_REQUEST_STMT(VG_USERREQ__DRD_START_SUPPRESSION, addr, len, 0, 0, 0);
}
#else
/* Without valgrind's headers there is nothing to annotate (core/annotate.h's macros). */
typedef int weft__annotate_unused;
#endif
