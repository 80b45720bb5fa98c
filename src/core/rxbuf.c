/* Receive reassembly over a power-of-two ring indexed by stream offset. */
#include "core/rxbuf.h"

#include <assert.h>
#include <string.h>

#include <roamquic/error.h>

#include "core/alloc.h"
#include "core/wire.h"

/* The smallest ring allocated: one full-sized packet's worth of payload and then some. */
#define RQ_RXBUF_MIN_CAP ((size_t)4096)
/* A drained ring larger than this is freed rather than kept for an idle stream. */
#define RQ_RXBUF_KEEP_CAP ((size_t)64 * 1024)

void rq_rxbuf_init(rq_rxbuf *rb, uint64_t bound, int bound_err)
{
    rb->buf = NULL;
    rb->cap = 0;
    rb->read_off = 0;
    rb->bound = bound;
    rb->bound_err = bound_err;
    rb->discard = false;
    rq_rangeset_init(&rb->ranges, RQ_RXBUF_MAX_RANGES);
}

void rq_rxbuf_free(rq_rxbuf *rb)
{
    rq_mem_free(rb->buf);
    rb->buf = NULL;
    rb->cap = 0;
    rq_rangeset_free(&rb->ranges);
}

void rq_rxbuf_discard(rq_rxbuf *rb)
{
    rb->read_off += rq_rxbuf_readable(rb);
    rq_mem_free(rb->buf);
    rb->buf = NULL;
    rb->cap = 0;
    rb->discard = true;
}

void rq_rxbuf_set_bound(rq_rxbuf *rb, uint64_t bound)
{
    rb->bound = bound;
}

/* Copies len bytes into the ring at stream offset off (wrapping at most once). */
static void ring_put(uint8_t *ring, size_t cap, uint64_t off, const uint8_t *src, size_t len)
{
    size_t at = (size_t)(off & (cap - 1));
    size_t first = cap - at < len ? cap - at : len;
    memcpy(ring + at, src, first);
    if (len > first)
        memcpy(ring, src + first, len - first);
}

static void ring_get(const uint8_t *ring, size_t cap, uint64_t off, uint8_t *dst, size_t len)
{
    size_t at = (size_t)(off & (cap - 1));
    size_t first = cap - at < len ? cap - at : len;
    memcpy(dst, ring + at, first);
    if (len > first)
        memcpy(dst + first, ring, len - first);
}

/* Grows the ring so that offsets [read_off, read_off + need) map to distinct bytes. need is
 * at most bound, so the ring never exceeds the next power of two >= bound. */
static int ring_reserve(rq_rxbuf *rb, uint64_t need)
{
    if (need <= rb->cap)
        return 0;
    size_t cap = rb->cap ? rb->cap : RQ_RXBUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return RQ_ERR_NOMEM;
        cap *= 2;
    }
    uint8_t *nb = rq_mem_alloc(cap);
    if (!nb)
        return RQ_ERR_NOMEM;
    if (rb->buf) {
        /* Re-place every byte the old ring could hold at its offset in the new one. */
        size_t at = (size_t)(rb->read_off & (rb->cap - 1));
        ring_put(nb, cap, rb->read_off, rb->buf + at, rb->cap - at);
        ring_put(nb, cap, rb->read_off + (rb->cap - at), rb->buf, at);
        rq_mem_free(rb->buf);
    }
    rb->buf = nb;
    rb->cap = cap;
    return 0;
}

/* Whether adding [start, end) needs a new disjoint range (it touches none held). */
static bool needs_new_range(const rq_rxbuf *rb, uint64_t start, uint64_t end)
{
    size_t i = rq_rangeset_find(&rb->ranges, start);
    return i == rb->ranges.n || rb->ranges.r[i].start > end;
}

/* Copies the parts of [start, end) not yet held (data[0] is at offset start). */
static void copy_gaps(rq_rxbuf *rb, uint64_t start, uint64_t end, const uint8_t *data)
{
    const rq_rangeset *s = &rb->ranges;
    uint64_t cur = start;
    for (size_t j = rq_rangeset_find(s, start); j < s->n && s->r[j].start < end; j++) {
        if (s->r[j].start > cur)
            ring_put(rb->buf, rb->cap, cur, data + (cur - start), (size_t)(s->r[j].start - cur));
        if (s->r[j].end > cur)
            cur = s->r[j].end;
    }
    if (cur < end)
        ring_put(rb->buf, rb->cap, cur, data + (cur - start), (size_t)(end - cur));
}

int rq_rxbuf_write(rq_rxbuf *rb, uint64_t off, const uint8_t *data, size_t len)
{
    /* RFC 9000 §19.8: the largest offset a stream can carry is 2^62 - 1. */
    if (off > RQ_VARINT_MAX || len > RQ_VARINT_MAX - off)
        return RQ_ERR_FRAME_ENCODING;
    uint64_t end = off + len;
    if (len == 0 || end <= rb->read_off)
        return 0; /* nothing new: empty, or all of it read already (a retransmission) */
    uint64_t start = off < rb->read_off ? rb->read_off : off;
    if (end - rb->read_off > rb->bound)
        return rb->bound_err;
    if (needs_new_range(rb, start, end) && rb->ranges.n >= rb->ranges.max)
        return RQ_ERR_LIMIT;
    if (!rb->discard) {
        int rc = ring_reserve(rb, end - rb->read_off);
        if (rc < 0)
            return rc;
        copy_gaps(rb, start, end, data + (start - off));
    }
    int rc = rq_rangeset_add(&rb->ranges, start, end);
    assert(rc != RQ_ERR_LIMIT); /* checked above */
    if (rb->discard)
        rb->read_off += rq_rxbuf_readable(rb); /* nobody reads: skip the contiguous prefix */
    return rc;
}

uint64_t rq_rxbuf_readable(const rq_rxbuf *rb)
{
    /* Only ranges[0] can reach back to the read offset; it may start below it. */
    if (rb->ranges.n == 0 || rb->ranges.r[0].start > rb->read_off)
        return 0;
    return rb->ranges.r[0].end - rb->read_off;
}

size_t rq_rxbuf_peek(const rq_rxbuf *rb, const uint8_t **p)
{
    uint64_t n = rq_rxbuf_readable(rb);
    if (n == 0) {
        *p = NULL;
        return 0;
    }
    size_t at = (size_t)(rb->read_off & (rb->cap - 1));
    *p = rb->buf + at;
    return n < rb->cap - at ? (size_t)n : rb->cap - at;
}

/* Frees a large ring once everything held has been read: an idle stream keeps no window. */
static void maybe_release(rq_rxbuf *rb)
{
    if (rb->cap <= RQ_RXBUF_KEEP_CAP)
        return;
    if (rb->ranges.n > 1 || (rb->ranges.n == 1 && rb->ranges.r[0].end > rb->read_off))
        return;
    rq_mem_free(rb->buf);
    rb->buf = NULL;
    rb->cap = 0;
}

void rq_rxbuf_consume(rq_rxbuf *rb, size_t n)
{
    assert(n <= rq_rxbuf_readable(rb));
    rb->read_off += n;
    if (n)
        maybe_release(rb);
}

size_t rq_rxbuf_read(rq_rxbuf *rb, uint8_t *out, size_t cap)
{
    uint64_t n = rq_rxbuf_readable(rb);
    if (n > cap)
        n = cap;
    if (n == 0)
        return 0;
    ring_get(rb->buf, rb->cap, rb->read_off, out, (size_t)n);
    rq_rxbuf_consume(rb, (size_t)n);
    return (size_t)n;
}

uint64_t rq_rxbuf_highest(const rq_rxbuf *rb)
{
    if (rb->ranges.n == 0 || rb->ranges.r[rb->ranges.n - 1].end < rb->read_off)
        return rb->read_off;
    return rb->ranges.r[rb->ranges.n - 1].end;
}
