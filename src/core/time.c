/* src/core/time.c - the monotonic clock, deadlines with saturating arithmetic (sleeping is
 * core/sleep.c, above the parking lot). */
#include <weft/time.h>

#include "os/os.h"

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
