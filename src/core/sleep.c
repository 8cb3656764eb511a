/* src/core/sleep.c - weft_sleep: a park that nothing but its deadline or a canceller ends.
 * It stands above the parking lot (and time.c below it), so that the clock needs no parker. */
#include <weft/error.h>
#include <weft/time.h>

#include "core/internal.h"
#include "core/debugrec.h"
#include "core/park.h"
#include "os/os.h"

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
    weft__park_what(&p, WEFT__WAIT_SLEEP, NULL);
    uint32_t s = weft__park_wait(&p);
    return s == WEFT__PARK_CANCELED ? WEFT_ECANCELED : 0;
}
