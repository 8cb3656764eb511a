/* src/error.c - error names and texts (generated from WEFT_ERROR_TABLE) and the per-thread
 * error slot that carries a failure's message to whoever joins the thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <weft/error.h>

#include "internal.h"

static _Thread_local struct {
    int code;
    char message[WEFT_ERROR_MESSAGE_MAX];
} slot;

const char *weft_strerror(int code)
{
    switch (code) {
#define WEFT_TEXT_(name, value, text) \
    case (value):                     \
        return text;
        WEFT_ERROR_TABLE(WEFT_TEXT_)
#undef WEFT_TEXT_
    }
    return "unknown error";
}

const char *weft_errname(int code)
{
    switch (code) {
#define WEFT_NAME_(name, value, text) \
    case (value):                     \
        return "WEFT_" #name;
        WEFT_ERROR_TABLE(WEFT_NAME_)
#undef WEFT_NAME_
    }
    return "WEFT_E?";
}

int weft_error_set(int code, const char *fmt, ...)
{
    slot.code = code;
    if (fmt == NULL) {
        snprintf(slot.message, sizeof slot.message, "%s", weft_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot.message, sizeof slot.message, fmt, ap);
    va_end(ap);
    return code;
}

int weft__fail(int code, const char *fmt, ...)
{
    /* vsnprintf with the plain conversions weft uses (%s %d %zu %lld) writes into the slot
     * without allocating. */
    va_list ap;
    va_start(ap, fmt);
    slot.code = code;
    vsnprintf(slot.message, sizeof slot.message, fmt, ap);
    va_end(ap);
    return code;
}

void weft__error_put(int code, const char *message)
{
    slot.code = code;
    snprintf(slot.message, sizeof slot.message, "%s", message);
}

int weft_error_code(void)
{
    return slot.code;
}

const char *weft_error_message(void)
{
    return slot.message;
}

void weft_error_clear(void)
{
    slot.code = 0;
    slot.message[0] = '\0';
}

/* Fault points live here because every module already links this file. */
_Atomic int weft__fault_armed[WEFT__FAULT_COUNT];

void weft__fault_arm(enum weft__fault_point p, int k)
{
    atomic_store_explicit(&weft__fault_armed[p], k, memory_order_relaxed);
}

void *weft__malloc(size_t size)
{
    return weft__fault(WEFT__FAULT_ALLOC) ? NULL : malloc(size);
}

void *weft__calloc(size_t n, size_t size)
{
    return weft__fault(WEFT__FAULT_ALLOC) ? NULL : calloc(n, size);
}

void *weft__calloc_lines(size_t size)
{
    if (size == 0 || size > SIZE_MAX - 63) return NULL;
    size = (size + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    void *p = weft__fault(WEFT__FAULT_ALLOC) ? NULL : aligned_alloc(64, size);
    if (p) memset(p, 0, size);
    return p;
}
