/* src/core/assert.h - WEFT__ASSERT, the invariant checks of debug builds.
 *
 * Built with -DWEFT_DEBUG=ON (CMake; ./dev test-asan does), WEFT__ASSERT(e) evaluates e and,
 * when it is false, writes the expression and its place to stderr and aborts: a broken
 * invariant is a bug in weft, and the sanitizer build shows the stack. Otherwise it compiles
 * to nothing: e is type-checked (sizeof) but never evaluated, so a release build pays nothing
 * and an assertion's expression must have no effect the code relies on.
 * docs/design/locks.md lists what the files check.
 */
#ifndef WEFT_CORE_ASSERT_H
#define WEFT_CORE_ASSERT_H

#ifdef WEFT_DEBUG
_Noreturn void weft__assert_fail(const char *expr, const char *file, int line)
    __attribute__((cold));
#define WEFT__ASSERT(e) ((e) ? (void)0 : weft__assert_fail(#e, __FILE__, __LINE__))
#else
#define WEFT__ASSERT(e) ((void)sizeof(!(e)))
#endif

#endif
