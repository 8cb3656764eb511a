/* src/core/opts.c - the check of the options structs' reserved words (core/opts.h). */
#include <weft/error.h>
#include <weft/version.h>

#include "core/internal.h"
#include "core/opts.h"

int weft__opts_check(const unsigned long long *reserved, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (reserved[i] != 0)
            return weft__fail(WEFT_EINVAL,
                              "%s.reserved[%zu] is not zero: a field libweft %s does not know "
                              "(start the struct from its _OPTS_INIT or {0})",
                              type, i, WEFT_VERSION_STRING);
    return 0;
}
