/* tests/support/gcov_exit.c - coverage builds only (./dev coverage): write the coverage counts
 * of a process that ends with _exit.
 *
 * gcc's --coverage writes its counts from an atexit-like hook, which _exit skips; weft's
 * children (the fork server, process children, process-pool workers) end with _exit, so
 * without this their lines would all read as never run. ./dev coverage links every program
 * with -Wl,--wrap=_exit and this object, so that weft's _exit calls come here first. */
void __gcov_dump(void);
void __real__exit(int status) __attribute__((noreturn));
void __wrap__exit(int status) __attribute__((noreturn));

void __wrap__exit(int status)
{
    __gcov_dump();
    __real__exit(status);
}
