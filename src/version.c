/* src/version.c - the library's own version, compiled from the generated weft/version_numbers.h
 * so that it is the one project(VERSION) in CMakeLists.txt. */
#include <weft/version.h>

unsigned weft_version(void)
{
    return WEFT_VERSION_HEX;
}

const char *weft_version_string(void)
{
    return WEFT_VERSION_STRING;
}
