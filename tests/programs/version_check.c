/* version_check - the header's version macros agree with each other and with the library's
 * weft_version() / weft_version_string(); prints the run-time version for version-agrees,
 * which compares it with pkg-config's. Exit status 1 names the first disagreement. */
#include <stdio.h>
#include <string.h>
#include <weft.h>

static int fail(const char *what)
{
    fprintf(stderr, "version_check: %s\n", what);
    return 1;
}

int main(void)
{
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
             WEFT_VERSION_PATCH);
    if (strcmp(parts, WEFT_VERSION_STRING) != 0)
        return fail("WEFT_VERSION_STRING is not MAJOR.MINOR.PATCH");
    unsigned hex = WEFT_VERSION_HEX;
    if ((hex >> 16) != WEFT_VERSION_MAJOR || ((hex >> 8) & 0xff) != WEFT_VERSION_MINOR ||
        (hex & 0xff) != WEFT_VERSION_PATCH)
        return fail("WEFT_VERSION_HEX does not hold MAJOR, MINOR, PATCH");
    if (weft_version() != hex) return fail("weft_version() differs from WEFT_VERSION_HEX");
    if (strcmp(weft_version_string(), WEFT_VERSION_STRING) != 0)
        return fail("weft_version_string() differs from WEFT_VERSION_STRING");
    printf("%s\n", weft_version_string());
    return 0;
}
