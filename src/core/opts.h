/* src/core/opts.h - the reserved words at the end of every public options struct (the ABI
 * rule in weft/config.h): a function taking a weft_*_opts refuses one whose reserved words are
 * not zero, since they hold a field of a later weft that this library would silently ignore. */
#ifndef WEFT_CORE_OPTS_H
#define WEFT_CORE_OPTS_H

#include <stddef.h>

/* WEFT__OPTS_CHECK(opts, "weft_x_opts") - 0 when opts is NULL or its reserved words are all
 * zero; else WEFT_EINVAL, with a message naming the struct and the word. */
#define WEFT__OPTS_CHECK(opts, type)          \
    ((opts) == NULL                           \
         ? 0                                  \
         : weft__opts_check((opts)->reserved, \
                            sizeof((opts)->reserved) / sizeof((opts)->reserved[0]), type))

int weft__opts_check(const unsigned long long *reserved, size_t n, const char *type);

#endif
