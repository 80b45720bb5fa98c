/* Receive reassembly (RFC 9000 §2.2, §7.5, §19.6, §19.8): in-order, out-of-order, overlapping,
 * duplicate and adversarial segments, the byte and range bounds, and a randomized comparison
 * with a byte-array model. */
#include "core/alloc.h"
#include "core/rxbuf.h"
#include "core/wire.h"
#include "rqtest.h"

#include <roamquic/error.h>

static uint8_t src[1 << 17];

static void fill_src(void)
{
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 31 + (i >> 8));
}

/* RFC 9000 §2.2: in-order segments are delivered in order, byte for byte. */
static void test_rfc9000_2_2_in_order(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 1 << 20, RQ_ERR_FLOW_CONTROL);
    uint8_t out[3000];
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, src, 1000), 0);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 1000, src + 1000, 1000), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_readable(&rb), 2000);
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, 1500), 1500);
    RQ_CHECK_MEM(out, src, 1500);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 2000, src + 2000, 1000), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, sizeof out), 1500);
    RQ_CHECK_MEM(out, src + 1500, 1500);
    RQ_CHECK_EQ_U64(rq_rxbuf_read_offset(&rb), 3000);
    RQ_CHECK_EQ_U64(rb.ranges.n, 1); /* in-order data never needed a second range */
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §2.2: out-of-order segments are held until the gap before them fills. */
static void test_rfc9000_2_2_out_of_order(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 1 << 20, RQ_ERR_FLOW_CONTROL);
    uint8_t out[5000];
    for (int i = 4; i >= 1; i--)
        RQ_CHECK_ERR(rq_rxbuf_write(&rb, (uint64_t)i * 1000, src + i * 1000, 1000), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_readable(&rb), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_highest(&rb), 5000);
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, sizeof out), 0);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, src, 1000), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_readable(&rb), 5000);
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, sizeof out), 5000);
    RQ_CHECK_MEM(out, src, 5000);
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §2.2: data already received can be discarded — overlapping and duplicate segments
 * keep the first copy, and data below the read offset is ignored. */
static void test_rfc9000_2_2_overlap_and_duplicates(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 1 << 20, RQ_ERR_FLOW_CONTROL);
    uint8_t other[4000], out[4000];
    memset(other, 0xee, sizeof other);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 100, src + 100, 100), 0);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 300, src + 300, 100), 0);
    /* Covers both and the gaps: only the gaps are taken from this copy. */
    uint8_t mixed[500];
    memcpy(mixed, src, sizeof mixed);
    memset(mixed + 100, 0xee, 100);
    memset(mixed + 300, 0xee, 100);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, mixed, 500), 0);
    RQ_CHECK_EQ_U64(rb.ranges.n, 1);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, other, 500), 0); /* exact duplicate, other bytes */
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, 250), 250);
    RQ_CHECK_MEM(out, src, 250);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, other, 250), 0);       /* wholly below the read offset */
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 200, src + 200, 400), 0); /* straddles it */
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, sizeof out), 350);
    RQ_CHECK_MEM(out, src + 250, 350);
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §7.5: CRYPTO data beyond the buffer bound is CRYPTO_BUFFER_EXCEEDED; the bound
 * moves with the read offset. */
static void test_rfc9000_7_5_crypto_bound(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, RQ_CRYPTO_RXBUF_BOUND, RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
    uint64_t b = RQ_CRYPTO_RXBUF_BOUND;
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, b - 10, src, 10), 0);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, b - 10, src, 11), RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, b * 4, src, 1), RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, src, 100), 0);
    uint8_t out[100];
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, 100), 100);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, b, src, 100), 0); /* now within read offset + bound */
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, b + 100, src, 1), RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
    RQ_CHECK(rb.cap <= RQ_CRYPTO_RXBUF_BOUND); /* the ring never outgrows the bound */
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §19.8: an offset plus length beyond 2^62 - 1 is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_8_offset_overflow(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, UINT64_MAX, RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, RQ_VARINT_MAX, src, 1), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, RQ_VARINT_MAX + 1, src, 0), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, RQ_VARINT_MAX, src, 0), 0);
    rq_rxbuf_free(&rb);
}

/* Adversarial pattern (every other byte): the range bookkeeping is capped; a segment needing
 * one range too many is refused with RQ_ERR_LIMIT and stores nothing, while segments that
 * merge are still accepted; filling the holes delivers everything. */
static void test_rxbuf_adversarial_range_limit(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 1 << 20, RQ_ERR_FLOW_CONTROL);
    for (uint64_t i = 0; i < RQ_RXBUF_MAX_RANGES; i++)
        RQ_CHECK_ERR(rq_rxbuf_write(&rb, 2 * i + 1, src + 2 * i + 1, 1), 0);
    RQ_CHECK_EQ_U64(rb.ranges.n, RQ_RXBUF_MAX_RANGES);
    uint64_t past = 2 * RQ_RXBUF_MAX_RANGES + 5;
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, past, src + past, 1), RQ_ERR_LIMIT);
    RQ_CHECK_EQ_U64(rq_rxbuf_highest(&rb), 2 * RQ_RXBUF_MAX_RANGES);
    /* Touching the last range grows it: no new range needed. */
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 2 * RQ_RXBUF_MAX_RANGES, src + 2 * RQ_RXBUF_MAX_RANGES, 1), 0);
    for (uint64_t i = 0; i < RQ_RXBUF_MAX_RANGES; i++)
        RQ_CHECK_ERR(rq_rxbuf_write(&rb, 2 * i, src + 2 * i, 1), 0);
    RQ_CHECK_EQ_U64(rb.ranges.n, 1);
    uint8_t out[4096];
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, sizeof out), 2 * RQ_RXBUF_MAX_RANGES + 1);
    RQ_CHECK_MEM(out, src, 2 * RQ_RXBUF_MAX_RANGES + 1);
    rq_rxbuf_free(&rb);
}

/* Reading in place across the ring's wrap point yields two contiguous spans. */
static void test_rxbuf_peek_across_wrap(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 4096, RQ_ERR_FLOW_CONTROL);
    uint8_t out[4096];
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, src, 3000), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_read(&rb, out, 3000), 3000);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 3000, src + 3000, 3000), 0);
    RQ_CHECK_EQ_U64(rb.cap, 4096);
    const uint8_t *p;
    size_t n = rq_rxbuf_peek(&rb, &p);
    RQ_CHECK_EQ_U64(n, 4096 - 3000);
    RQ_CHECK_MEM(p, src + 3000, n);
    rq_rxbuf_consume(&rb, n);
    n = rq_rxbuf_peek(&rb, &p);
    RQ_CHECK_EQ_U64(n, 3000 - (4096 - 3000));
    RQ_CHECK_MEM(p, src + 4096, n);
    rq_rxbuf_consume(&rb, n);
    RQ_CHECK_EQ_U64(rq_rxbuf_peek(&rb, &p), 0);
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §3.5: after the reader left, offsets are tracked without storing data. */
static void test_rxbuf_discard_tracks_offsets(void)
{
    rq_rxbuf rb;
    rq_rxbuf_init(&rb, 1 << 20, RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 0, src, 100), 0);
    rq_rxbuf_discard(&rb);
    RQ_CHECK_EQ_U64(rq_rxbuf_read_offset(&rb), 100);
    RQ_CHECK(rb.buf == NULL);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 200, src, 100), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_read_offset(&rb), 100);
    RQ_CHECK_ERR(rq_rxbuf_write(&rb, 100, src, 100), 0);
    RQ_CHECK_EQ_U64(rq_rxbuf_read_offset(&rb), 300);
    RQ_CHECK(rb.buf == NULL);
    rq_rxbuf_free(&rb);
}

/* RFC 9000 §2.2, randomized: segments of random offsets and sizes (overlapping, duplicated,
 * reordered, some below the read offset), random reads; the bytes read equal the source and
 * each read returns exactly what a byte-array model says is contiguous. */
static void test_rxbuf_random_model(void)
{
    uint64_t seed = rq_test_seed();
    unsigned long iters = rq_test_iterations(300);
    int64_t live0 = rq_mem_live();
    enum { LEN = 20000 };
    static uint8_t have[LEN], out[LEN];
    for (unsigned long it = 0; it < iters; it++) {
        rq_rxbuf rb;
        rq_rxbuf_init(&rb, LEN, RQ_ERR_FLOW_CONTROL);
        memset(have, 0, sizeof have);
        size_t got = 0;
        while (got < LEN) {
            uint64_t r = rq_test_rand(&seed);
            size_t off = (size_t)(r % LEN), len = (size_t)((r >> 20) % 1500);
            if (r >> 60 == 0)
                off = got; /* sometimes exactly in order */
            if (off + len > LEN)
                len = LEN - off;
            RQ_CHECK_ERR(rq_rxbuf_write(&rb, off, src + off, len), 0);
            for (size_t i = off; i < off + len; i++)
                have[i] = 1;
            size_t model = got;
            while (model < LEN && have[model])
                model++;
            RQ_CHECK_EQ_U64(rq_rxbuf_readable(&rb), model - got);
            if ((r >> 40) % 3 == 0) {
                size_t want = (size_t)((r >> 42) % 4000);
                size_t n = rq_rxbuf_read(&rb, out + got, want);
                RQ_CHECK_EQ_U64(n, model - got < want ? model - got : want);
                got += n;
            }
        }
        RQ_CHECK_MEM(out, src, LEN);
        rq_rxbuf_free(&rb);
    }
    RQ_CHECK_EQ_INT(rq_mem_live(), live0);
}

int main(void)
{
    fill_src();
    RQ_RUN(test_rfc9000_2_2_in_order);
    RQ_RUN(test_rfc9000_2_2_out_of_order);
    RQ_RUN(test_rfc9000_2_2_overlap_and_duplicates);
    RQ_RUN(test_rfc9000_7_5_crypto_bound);
    RQ_RUN(test_rfc9000_19_8_offset_overflow);
    RQ_RUN(test_rxbuf_adversarial_range_limit);
    RQ_RUN(test_rxbuf_peek_across_wrap);
    RQ_RUN(test_rxbuf_discard_tracks_offsets);
    RQ_RUN(test_rxbuf_random_model);
    return rq_test_summary();
}
