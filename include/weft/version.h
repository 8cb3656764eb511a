/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft/version.h - the version of weft: the headers' (macros) and the library's (functions).
 *
 * The macros say which weft a program was compiled against; weft_version() says which
 * libweft it runs with. With the shared library the two may differ: a 0.x minor release may
 * break the API and the ABI, so its SONAME carries the minor (libweft.so.0.1) and a program
 * only ever loads a library of its own minor; within a minor only the patch can differ.
 * (README.md, "ABI and versions".)
 *
 *     #if WEFT_VERSION_HEX >= 0x000200   // code for weft 0.2 and later
 *     printf("built with %s, running %s\n", WEFT_VERSION_STRING, weft_version_string());
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#include <weft/config.h>
#include <weft/version_numbers.h> /* WEFT_VERSION_MAJOR/_MINOR/_PATCH/_STRING, made by CMake */

/* One integer to compare: 0xMMmmpp (major, minor, patch; each below 256), as libuv's. */
#define WEFT_VERSION_HEX \
    ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

WEFT_BEGIN_DECLS

/* weft_version - the running library's version as WEFT_VERSION_HEX of its own headers:
 * 0xMMmmpp. Equal to the program's WEFT_VERSION_HEX except in the patch, for a program
 * linked to the shared library and run with a newer patch release.
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API unsigned weft_version(void);

/* weft_version_string - the running library's version as text, "MAJOR.MINOR.PATCH".
 * Returns a static string (never free it).
 * Blocks: no. Cancellation point: no. Thread safety: safe. Async-signal-safe: yes. */
WEFT_API const char *weft_version_string(void);

WEFT_END_DECLS

#endif
