/* tests/programs/pool_size.c - print the default pool's size, for a test that runs this program
 * under `taskset -c 0` (one CPU in the affinity mask: one worker) - the count an MPI rank bound
 * to one core, or a container limited to one CPU, must get. */
#include <stdio.h>
#include <weft.h>

int main(void)
{
    weft_pool *p = weft_pool_default();
    struct weft_pool_stats st;
    if (p == NULL || weft_pool_stats(p, &st) != 0) return 1;
    printf("default pool: %d workers\n", st.max_workers);
    return 0;
}
