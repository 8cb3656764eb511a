/* src/core/error.c - error names and texts (generated from WEFT_ERROR_TABLE) and the per-thread
 * error slot that carries a failure's message to whoever joins the thread. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <weft/error.h>

#include "core/internal.h"

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

void weft__failure_message(int status, const char *who, char *buf, size_t size)
{
    if (slot.code == status && slot.message[0] != '\0')
        snprintf(buf, size, "%s", slot.message);
    else if (strcmp(weft_errname(status), "WEFT_E?") != 0)
        snprintf(buf, size, "%s", weft_strerror(status));
    else
        snprintf(buf, size, "%s returned %d", who, status);
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

/* weft__fail's formatter: the conversions weft's own messages use (%s %d %u %zu %lld %llu
 * %%), written out by hand so that the error path of an async-signal-safe call (a double
 * weft_lock_release, a NULL weft_event_set) stays async-signal-safe and never allocates, which
 * vsnprintf does not promise. Cut at size - 1 bytes, always NUL-terminated. */
struct out {
    char *p;
    size_t left; /* bytes left, the NUL's included */
};

static void put_char(struct out *o, char c)
{
    if (o->left > 1) {
        *o->p++ = c;
        o->left--;
    }
}

static void put_str(struct out *o, const char *s)
{
    for (s = s ? s : "(null)"; *s; s++) put_char(o, *s);
}

static void put_u(struct out *o, unsigned long long v)
{
    char digits[20];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0) put_char(o, digits[--n]);
}

static void put_i(struct out *o, long long v)
{
    if (v < 0) put_char(o, '-');
    put_u(o, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
}

static void format(char *buf, size_t size, const char *f, va_list ap)
{
    struct out o = {buf, size};
    for (; *f; f++) {
        if (*f != '%') {
            put_char(&o, *f);
            continue;
        }
        f++;
        if (*f == 's') {
            put_str(&o, va_arg(ap, const char *));
        } else if (*f == 'd') {
            put_i(&o, va_arg(ap, int));
        } else if (*f == 'u') {
            put_u(&o, va_arg(ap, unsigned));
        } else if (f[0] == 'z' && f[1] == 'u') {
            f++;
            put_u(&o, va_arg(ap, size_t));
        } else if (f[0] == 'l' && f[1] == 'l' && (f[2] == 'd' || f[2] == 'u')) {
            f += 2;
            if (*f == 'd')
                put_i(&o, va_arg(ap, long long));
            else
                put_u(&o, va_arg(ap, unsigned long long));
        } else if (*f == '%') {
            put_char(&o, '%');
        } else { /* a conversion weft does not use: shown as written */
            put_char(&o, '%');
            if (*f == '\0') break;
            put_char(&o, *f);
        }
    }
    *o.p = '\0';
}

int weft__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    slot.code = code;
    format(slot.message, sizeof slot.message, fmt, ap);
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
