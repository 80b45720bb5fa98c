/* A tiny test harness: one executable per suite, one function per case, typed checks that
 * print both sides, and a summary line. A failed check ends its case (return) and the suite
 * exits non-zero. Header-only so every suite, fuzz replayer and bench can use it.
 *
 *   static void test_varint_rfc9000_a1(void) { RQ_CHECK_EQ_U64(x, 37); }
 *   int main(void) { RQ_RUN(test_varint_rfc9000_a1); return rq_test_summary(); }
 */
#ifndef RQ_TESTS_RQTEST_H
#define RQ_TESTS_RQTEST_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rq_test_failed_cases_;
static int rq_test_run_cases_;
static int rq_test_case_failed_;

#define RQ_FAIL_(...)                                     \
    do {                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                     \
        fputc('\n', stderr);                              \
        rq_test_case_failed_ = 1;                         \
    } while (0)

#define RQ_CHECK(cond)                           \
    do {                                         \
        if (!(cond)) {                           \
            RQ_FAIL_("check failed: %s", #cond); \
            return;                              \
        }                                        \
    } while (0)

#define RQ_CHECK_EQ_INT(a, b)                                     \
    do {                                                          \
        long long va_ = (long long)(a), vb_ = (long long)(b);     \
        if (va_ != vb_) {                                         \
            RQ_FAIL_("%s == %s: %lld != %lld", #a, #b, va_, vb_); \
            return;                                               \
        }                                                         \
    } while (0)

#define RQ_CHECK_EQ_U64(a, b)                                                    \
    do {                                                                         \
        uint64_t va_ = (uint64_t)(a), vb_ = (uint64_t)(b);                       \
        if (va_ != vb_) {                                                        \
            RQ_FAIL_("%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, va_, vb_); \
            return;                                                              \
        }                                                                        \
    } while (0)

/* Compares return codes and prints their names: RQ_CHECK_ERR(rc, RQ_ERR_FRAME_ENCODING). */
#define RQ_CHECK_ERR(a, b)                                                          \
    do {                                                                            \
        int va_ = (int)(a), vb_ = (int)(b);                                         \
        if (va_ != vb_) {                                                           \
            RQ_FAIL_("%s == %s: %s (%d) != %s (%d)", #a, #b, rq_err_name(va_), va_, \
                     rq_err_name(vb_), vb_);                                        \
            return;                                                                 \
        }                                                                           \
    } while (0)

#define RQ_CHECK_MEM(a, b, n)                                                                    \
    do {                                                                                         \
        const uint8_t *pa_ = (const uint8_t *)(a), *pb_ = (const uint8_t *)(b);                  \
        size_t n_ = (size_t)(n);                                                                 \
        if (memcmp(pa_, pb_, n_) != 0) {                                                         \
            size_t i_ = 0;                                                                       \
            while (pa_[i_] == pb_[i_])                                                           \
                i_++;                                                                            \
            RQ_FAIL_("%s == %s (%zu bytes): first difference at byte %zu: %02x != %02x", #a, #b, \
                     n_, i_, pa_[i_], pb_[i_]);                                                  \
            return;                                                                              \
        }                                                                                        \
    } while (0)

#define RQ_RUN(fn)                             \
    do {                                       \
        rq_test_case_failed_ = 0;              \
        rq_test_run_cases_++;                  \
        fn();                                  \
        if (rq_test_case_failed_) {            \
            rq_test_failed_cases_++;           \
            fprintf(stderr, "FAIL %s\n", #fn); \
        } else {                               \
            printf("ok   %s\n", #fn);          \
        }                                      \
    } while (0)

static inline int rq_test_summary(void)
{
    printf("%d cases, %d failed\n", rq_test_run_cases_, rq_test_failed_cases_);
    return rq_test_failed_cases_ ? 1 : 0;
}

/* Decodes hex (whitespace ignored) into out; returns the byte count, or aborts on bad input —
 * test vectors are constants, so a bad one is a bug in the test. */
static inline size_t rq_test_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *s = hex; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap) {
            fprintf(stderr, "rq_test_hex: vector longer than %zu bytes\n", cap);
            abort();
        }
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0) {
        fprintf(stderr, "rq_test_hex: odd number of hex digits\n");
        abort();
    }
    return n;
}

/* How many iterations a randomized case runs: base × RQ_TEST_SCALE (a float, default 1), at
 * least 1. The sanitizer build sets a smaller scale; `make soak` a larger one. */
static inline unsigned long rq_test_iterations(unsigned long base)
{
    const char *s = getenv("RQ_TEST_SCALE");
    double scale = s ? strtod(s, NULL) : 1.0;
    double n = (double)base * (scale > 0 ? scale : 1.0);
    return n < 1 ? 1 : (unsigned long)n;
}

/* A small deterministic PRNG (splitmix64) for randomized cases; seed from RQ_TEST_SEED when
 * set so that a failing run can be replayed. */
static inline uint64_t rq_test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rq_test_seed(void)
{
    const char *s = getenv("RQ_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 0x726f616d71756963ULL;
    printf("seed 0x%" PRIx64 " (set RQ_TEST_SEED to replay)\n", seed);
    return seed;
}

#endif
