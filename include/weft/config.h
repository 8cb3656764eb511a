/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/config.h - export and attribute macros shared by every weft header.
 *
 * Nothing here is called; the other headers include it. The version is in weft/version.h. */
#ifndef WEFT_CONFIG_H
#define WEFT_CONFIG_H

/* Every public function carries WEFT_API; everything else in libweft is hidden. */
#if defined(WEFT_BUILDING)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* On functions whose result must be looked at (ignoring it is a bug: a lost error or a leak). */
#define WEFT_NODISCARD    __attribute__((warn_unused_result))
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* On an old name kept for a while after a rename (CHANGELOG.md). Silent unless the program
 * defines WEFT_WARN_DEPRECATED, so that a build with -Werror does not break on a rename in 0.x;
 * define it to find the old names in a program. */
#if defined(WEFT_WARN_DEPRECATED)
#define WEFT_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define WEFT_DEPRECATED(msg)
#endif

/* Options structs (weft_*_opts) end in `unsigned long long reserved[4]`, so that a later
 * release can add fields in that space without changing the struct's size or the place of the
 * fields before it (an 8-byte field takes a word: weft_pool_opts.inline_depth left reserved[3]): a program built against older headers keeps working with a newer library
 * of the same SONAME (README.md, "ABI and versions"). Start every options struct from its
 * WEFT_*_OPTS_INIT, {0} or calloc: all-zero is the defaults, and a new field's zero is its
 * default. A function given an options struct whose reserved words are not zero returns
 * WEFT_EINVAL (a program set a field this library is too old to know) instead of ignoring it. */

#ifdef __cplusplus
#define WEFT_BEGIN_DECLS extern "C" {
#define WEFT_END_DECLS   }
#else
#define WEFT_BEGIN_DECLS
#define WEFT_END_DECLS
#endif

#endif
