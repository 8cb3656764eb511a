/* src/core/time.c - the monotonic clock, deadlines with saturating arithmetic, and sleep. */
#include <weft/error.h>
#include <weft/time.h>

#include "core/internal.h"
#include "os/os.h"
#include "core/park.h"

weft_ns weft_now(void)
{
    return weft__os_now();
}

weft_ns weft_deadline(weft_ns timeout)
{
    if (timeout == WEFT_FOREVER) return WEFT_FOREVER;
    weft_ns now = weft__os_now();
    if (timeout > 0 && now > WEFT_FOREVER - timeout) return WEFT_FOREVER;
    return now + timeout;
}

weft_ns weft_remaining(weft_ns deadline)
{
    if (deadline == WEFT_FOREVER) return WEFT_FOREVER;
    weft_ns left = deadline - weft__os_now();
    return left > 0 ? left : 0;
}

int weft_sleep(weft_ns duration)
{
    if (duration < 0)
        return weft__fail(WEFT_EINVAL, "duration is negative (%lld)", (long long)duration);
    if (weft__cancel_pending()) return WEFT_ECANCELED;
    if (duration == 0) {
        weft__os_yield();
        return 0;
    }
    weft__park p;
    weft__park_init(&p, weft_deadline(duration));
    /* Nothing but the deadline or a canceller can claim this park: spinning would only burn
     * CPU. */
    p.spin = false;
    uint32_t s = weft__park_wait(&p);
    return s == WEFT__PARK_CANCELED ? WEFT_ECANCELED : 0;
}
