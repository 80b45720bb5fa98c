/* Bounds-checked byte cursors and QUIC variable-length integers (RFC 9000 §16).
 *
 * A reader never moves past its end: every read either succeeds whole or fails and leaves the
 * cursor where it was. A writer likewise never writes past its end. Neither allocates; both are
 * inline because every codec sits on them.
 */
#ifndef RQ_CORE_WIRE_H
#define RQ_CORE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 9000 §16: the largest value a variable-length integer carries, 2^62 - 1. */
#define RQ_VARINT_MAX ((uint64_t)0x3fffffffffffffffULL)

typedef struct rq_rd {
    const uint8_t *p;
    const uint8_t *end;
} rq_rd;

typedef struct rq_wr {
    uint8_t *p;
    uint8_t *end;
} rq_wr;

static inline rq_rd rq_rd_init(const uint8_t *buf, size_t len)
{
    rq_rd r = {buf, buf + len};
    return r;
}

static inline rq_wr rq_wr_init(uint8_t *buf, size_t len)
{
    rq_wr w = {buf, buf + len};
    return w;
}

static inline size_t rq_rd_left(const rq_rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline size_t rq_wr_left(const rq_wr *w)
{
    return (size_t)(w->end - w->p);
}

static inline bool rq_rd_u8(rq_rd *r, uint8_t *v)
{
    if (r->p >= r->end)
        return false;
    *v = *r->p++;
    return true;
}

/* Reads an n-byte big-endian unsigned integer, 1 <= n <= 8. */
static inline bool rq_rd_uint(rq_rd *r, size_t n, uint64_t *v)
{
    if (rq_rd_left(r) < n)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return true;
}

static inline bool rq_rd_u16(rq_rd *r, uint16_t *v)
{
    uint64_t x;
    if (!rq_rd_uint(r, 2, &x))
        return false;
    *v = (uint16_t)x;
    return true;
}

static inline bool rq_rd_u32(rq_rd *r, uint32_t *v)
{
    uint64_t x;
    if (!rq_rd_uint(r, 4, &x))
        return false;
    *v = (uint32_t)x;
    return true;
}

/* Points *out at the next n bytes (no copy) and skips them. */
static inline bool rq_rd_bytes(rq_rd *r, size_t n, const uint8_t **out)
{
    if (rq_rd_left(r) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static inline bool rq_rd_copy(rq_rd *r, size_t n, uint8_t *out)
{
    if (rq_rd_left(r) < n)
        return false;
    if (n)
        memcpy(out, r->p, n);
    r->p += n;
    return true;
}

static inline bool rq_rd_skip(rq_rd *r, size_t n)
{
    if (rq_rd_left(r) < n)
        return false;
    r->p += n;
    return true;
}

/* The encoded length of a varint: 1, 2, 4 or 8, or 0 when v > RQ_VARINT_MAX. */
static inline size_t rq_varint_len(uint64_t v)
{
    if (v < 0x40)
        return 1;
    if (v < 0x4000)
        return 2;
    if (v < 0x40000000)
        return 4;
    if (v <= RQ_VARINT_MAX)
        return 8;
    return 0;
}

/* The length of the varint whose first byte is b (the two high bits, RFC 9000 §16). */
static inline size_t rq_varint_len_from_first(uint8_t b)
{
    return (size_t)1 << (b >> 6);
}

/* Reads a varint. Any of the four encodings is accepted for any value: RFC 9000 §16 allows
 * non-minimal encodings except where a section says otherwise (frame types, §12.4), which the
 * caller checks with the consumed length. */
static inline bool rq_rd_varint(rq_rd *r, uint64_t *v)
{
    if (r->p >= r->end)
        return false;
    size_t n = rq_varint_len_from_first(r->p[0]);
    if (rq_rd_left(r) < n)
        return false;
    uint64_t x = r->p[0] & 0x3f;
    for (size_t i = 1; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return true;
}

static inline bool rq_wr_u8(rq_wr *w, uint8_t v)
{
    if (w->p >= w->end)
        return false;
    *w->p++ = v;
    return true;
}

/* Writes v as an n-byte big-endian integer, 1 <= n <= 8 (high bits of v beyond n bytes are
 * dropped: the caller has checked the range). */
static inline bool rq_wr_uint(rq_wr *w, size_t n, uint64_t v)
{
    if (rq_wr_left(w) < n)
        return false;
    for (size_t i = n; i > 0; i--) {
        w->p[i - 1] = (uint8_t)v;
        v >>= 8;
    }
    w->p += n;
    return true;
}

static inline bool rq_wr_u16(rq_wr *w, uint16_t v)
{
    return rq_wr_uint(w, 2, v);
}

static inline bool rq_wr_u32(rq_wr *w, uint32_t v)
{
    return rq_wr_uint(w, 4, v);
}

static inline bool rq_wr_bytes(rq_wr *w, const void *src, size_t n)
{
    if (rq_wr_left(w) < n)
        return false;
    if (n)
        memcpy(w->p, src, n);
    w->p += n;
    return true;
}

static inline bool rq_wr_zeros(rq_wr *w, size_t n)
{
    if (rq_wr_left(w) < n)
        return false;
    memset(w->p, 0, n);
    w->p += n;
    return true;
}

/* Writes v in exactly n bytes (1, 2, 4 or 8) — for length fields reserved before their value
 * is known. Fails when v does not fit in n bytes or exceeds RQ_VARINT_MAX. */
static inline bool rq_wr_varint_n(rq_wr *w, uint64_t v, size_t n)
{
    static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
    if ((n != 1 && n != 2 && n != 4 && n != 8) || rq_varint_len(v) == 0 || rq_varint_len(v) > n)
        return false;
    uint8_t *start = w->p;
    if (!rq_wr_uint(w, n, v))
        return false;
    start[0] |= prefix[n];
    return true;
}

/* Writes v in its shortest encoding; fails when v > RQ_VARINT_MAX or there is no room. */
static inline bool rq_wr_varint(rq_wr *w, uint64_t v)
{
    size_t n = rq_varint_len(v);
    return n != 0 && rq_wr_varint_n(w, v, n);
}

#endif
