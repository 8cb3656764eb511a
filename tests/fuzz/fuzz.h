/* tests/fuzz/fuzz.h - what the API-sequence fuzz harnesses share.
 *
 * Each harness is one LLVMFuzzerTestOneInput that reads its input as a program: every byte
 * picks the next call (and the following bytes its arguments), the harness makes the call on
 * weft and on a small sequential model of the same objects, and compares the return code (and
 * what came out) with what the header promises. A difference prints the step and aborts, which
 * libFuzzer records as a crash and a replay build (replay.c) reports as a failed test.
 *
 * A harness feeds weft only what its headers define: NULL where a header says "NULL is
 * WEFT_EINVAL", negative and huge timeouts, out-of-range sizes, a second close, a release of
 * a lock nobody holds; never a freed handle (that is the caller's bug, not weft's).
 */
#ifndef WEFT_FUZZ_H
#define WEFT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

/* The input, read from the front; past its end every read gives 0. */
struct fz {
    const uint8_t *p;
    size_t n, at;
};

static inline int fz_more(const struct fz *f)
{
    return f->at < f->n;
}

static inline uint8_t fz_u8(struct fz *f)
{
    return f->at < f->n ? f->p[f->at++] : 0;
}

static inline uint32_t fz_u32(struct fz *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | fz_u8(f);
    return v;
}

/* A timeout for a call: 0 (try once), 1 ns (a real, short wait), negative (WEFT_EINVAL) or
 * WEFT_FOREVER, but WEFT_FOREVER only when `ready` says the call will not wait (a single
 * thread blocked for ever would hang the fuzzer, and that would be the harness's fault). */
enum { FZ_T_ZERO, FZ_T_SHORT, FZ_T_NEGATIVE, FZ_T_FOREVER };
static inline int fz_timeout(struct fz *f, int ready, weft_ns *t)
{
    static const weft_ns negative[] = {-1, INT64_MIN, -1000000000};
    uint8_t b = fz_u8(f);
    switch (b % 8) {
    case 0:
    case 1:
    case 2:
        *t = 0;
        return FZ_T_ZERO;
    case 3:
    case 4:
        *t = 1;
        return FZ_T_SHORT;
    case 5:
        *t = negative[(b >> 3) % 3];
        return FZ_T_NEGATIVE;
    default:
        if (!ready) {
            *t = 0;
            return FZ_T_ZERO;
        }
        *t = WEFT_FOREVER;
        return FZ_T_FOREVER;
    }
}

/* What a call that is not ready gives for each kind of timeout. */
static inline int fz_not_ready(int kind)
{
    return kind == FZ_T_NEGATIVE ? WEFT_EINVAL : kind == FZ_T_ZERO ? WEFT_EAGAIN : WEFT_ETIMEDOUT;
}

/* Fail the input: name the step and what differed. */
#define FZ_FAIL(...)                                                         \
    do {                                                                     \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                        \
        fprintf(stderr, " (last weft message: %s)\n", weft_error_message()); \
        abort();                                                             \
    } while (0)

/* The call gave `got`; the model wanted `want`. */
#define FZ_RC(what, got, want)                                                                \
    do {                                                                                      \
        int g_ = (got), w_ = (want);                                                          \
        if (g_ != w_)                                                                         \
            FZ_FAIL("%s gave %s (%d), the model wants %s (%d)", (what), weft_errname(g_), g_, \
                    weft_errname(w_), w_);                                                    \
    } while (0)

/* Where two errors apply at once and the header does not rank them, either is right. */
#define FZ_RC2(what, got, want, alt)            \
    do {                                        \
        int g2_ = (got), a2_ = (alt);           \
        if (g2_ != a2_) FZ_RC(what, g2_, want); \
    } while (0)

#define FZ_EQ(what, got, want)                                                     \
    do {                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                   \
        if (g_ != w_) FZ_FAIL("%s is %lld, the model wants %lld", (what), g_, w_); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
