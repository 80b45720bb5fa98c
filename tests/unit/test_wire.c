/* Variable-length integers (RFC 9000 §16, Appendix A.1) and the byte cursors under every
 * codec. */
#include "core/wire.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static uint64_t decode_hex_varint(const char *hex, size_t *used)
{
    uint8_t buf[16];
    size_t n = rq_test_hex(hex, buf, sizeof buf);
    rq_rd r = rq_rd_init(buf, n);
    uint64_t v = ~0ULL;
    if (!rq_rd_varint(&r, &v))
        return ~0ULL;
    *used = n - rq_rd_left(&r);
    return v;
}

/* RFC 9000 §16 / Appendix A.1: the four sample encodings decode to their values. */
static void test_varint_rfc9000_a1_examples(void)
{
    size_t used = 0;
    RQ_CHECK_EQ_U64(decode_hex_varint("c2197c5eff14e88c", &used), 151288809941952652ULL);
    RQ_CHECK_EQ_INT(used, 8);
    RQ_CHECK_EQ_U64(decode_hex_varint("9d7f3e7d", &used), 494878333);
    RQ_CHECK_EQ_INT(used, 4);
    RQ_CHECK_EQ_U64(decode_hex_varint("7bbd", &used), 15293);
    RQ_CHECK_EQ_INT(used, 2);
    RQ_CHECK_EQ_U64(decode_hex_varint("25", &used), 37);
    RQ_CHECK_EQ_INT(used, 1);
    /* §16: "the two-byte sequence 0x40 0x25 also decodes to 37" (non-minimal is allowed). */
    RQ_CHECK_EQ_U64(decode_hex_varint("4025", &used), 37);
    RQ_CHECK_EQ_INT(used, 2);
}

/* §16: each boundary encodes in the shortest form and round-trips. */
static void test_varint_boundaries_roundtrip(void)
{
    static const struct {
        uint64_t v;
        size_t len;
    } cases[] = {{0, 1},     {63, 1},         {64, 2},         {16383, 2},
                 {16384, 4}, {1073741823, 4}, {1073741824, 8}, {RQ_VARINT_MAX, 8}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[8];
        rq_wr w = rq_wr_init(buf, sizeof buf);
        RQ_CHECK(rq_wr_varint(&w, cases[i].v));
        RQ_CHECK_EQ_INT(w.p - buf, cases[i].len);
        RQ_CHECK_EQ_INT(rq_varint_len(cases[i].v), cases[i].len);
        rq_rd r = rq_rd_init(buf, cases[i].len);
        uint64_t back = 0;
        RQ_CHECK(rq_rd_varint(&r, &back));
        RQ_CHECK_EQ_U64(back, cases[i].v);
        RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
    }
}

/* §16: values above 2^62-1 cannot be encoded; the writer refuses instead of truncating. */
static void test_varint_out_of_range_refused(void)
{
    uint8_t buf[8];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    RQ_CHECK(!rq_wr_varint(&w, RQ_VARINT_MAX + 1));
    RQ_CHECK(!rq_wr_varint(&w, UINT64_MAX));
    RQ_CHECK_EQ_INT(rq_varint_len(RQ_VARINT_MAX + 1), 0);
    RQ_CHECK(w.p == buf);
    /* A fixed width that cannot hold the value is refused too. */
    RQ_CHECK(!rq_wr_varint_n(&w, 64, 1));
    RQ_CHECK(!rq_wr_varint_n(&w, 1, 3));
    RQ_CHECK(rq_wr_varint_n(&w, 1, 4));
    RQ_CHECK_MEM(buf, "\x80\x00\x00\x01", 4);
}

/* A truncated varint fails and leaves the cursor untouched. */
static void test_varint_truncated(void)
{
    const uint8_t buf[] = {0xc0, 0, 0, 0, 0, 0, 0};
    for (size_t n = 0; n < sizeof buf; n++) {
        rq_rd r = rq_rd_init(buf, n);
        uint64_t v;
        RQ_CHECK(!rq_rd_varint(&r, &v));
        RQ_CHECK(r.p == buf);
    }
}

/* Writers stop at their end without writing past it. */
static void test_writer_bounds(void)
{
    uint8_t buf[4] = {0xaa, 0xaa, 0xaa, 0xaa};
    rq_wr w = rq_wr_init(buf, 3);
    RQ_CHECK(!rq_wr_varint(&w, 16384)); /* needs 4 */
    RQ_CHECK(rq_wr_u16(&w, 0x0102));
    RQ_CHECK(!rq_wr_u16(&w, 0x0304));
    RQ_CHECK(rq_wr_u8(&w, 3));
    RQ_CHECK(!rq_wr_u8(&w, 4));
    RQ_CHECK(!rq_wr_bytes(&w, "x", 1));
    RQ_CHECK(!rq_wr_zeros(&w, 1));
    RQ_CHECK_MEM(buf, "\x01\x02\x03\xaa", 4);
}

/* Readers: fixed-width integers, byte views, copies and skips all respect the end. */
static void test_reader_bounds(void)
{
    const uint8_t buf[] = {1, 2, 3, 4, 5};
    rq_rd r = rq_rd_init(buf, sizeof buf);
    uint32_t v32;
    uint16_t v16;
    const uint8_t *view;
    uint8_t out[8];
    RQ_CHECK(rq_rd_u32(&r, &v32));
    RQ_CHECK_EQ_U64(v32, 0x01020304);
    RQ_CHECK(!rq_rd_u16(&r, &v16));
    RQ_CHECK(!rq_rd_bytes(&r, 2, &view));
    RQ_CHECK(!rq_rd_copy(&r, 2, out));
    RQ_CHECK(!rq_rd_skip(&r, 2));
    RQ_CHECK(rq_rd_bytes(&r, 1, &view));
    RQ_CHECK_EQ_INT(*view, 5);
    RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
}

/* The error table maps codec errors to the transport codes of RFC 9000 §20.1. */
static void test_error_table_transport_codes(void)
{
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_FRAME_ENCODING), 0x07);
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_TRANSPORT_PARAMETER), 0x08);
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_PROTOCOL_VIOLATION), 0x0a);
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_AEAD_LIMIT_REACHED), 0x0f);
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_MALFORMED_PACKET), -1);
    RQ_CHECK(strcmp(rq_err_name(RQ_ERR_FLOW_CONTROL), "RQ_ERR_FLOW_CONTROL") == 0);
    RQ_CHECK(strcmp(rq_strerror(12345), "unknown error") == 0);
}

/* Random values round-trip through every width that can hold them. */
static void test_varint_random_roundtrip(void)
{
    uint64_t s = rq_test_seed();
    unsigned long n = rq_test_iterations(100000);
    for (unsigned long i = 0; i < n; i++) {
        uint64_t v = rq_test_rand(&s) >> (2 + rq_test_rand(&s) % 62);
        static const size_t widths[] = {1, 2, 4, 8};
        for (size_t k = 0; k < 4; k++) {
            uint8_t buf[8];
            rq_wr w = rq_wr_init(buf, sizeof buf);
            bool fits = rq_varint_len(v) <= widths[k];
            RQ_CHECK(rq_wr_varint_n(&w, v, widths[k]) == fits);
            if (!fits)
                continue;
            rq_rd r = rq_rd_init(buf, widths[k]);
            uint64_t back;
            RQ_CHECK(rq_rd_varint(&r, &back));
            RQ_CHECK_EQ_U64(back, v);
        }
    }
}

int main(void)
{
    RQ_RUN(test_varint_rfc9000_a1_examples);
    RQ_RUN(test_varint_boundaries_roundtrip);
    RQ_RUN(test_varint_out_of_range_refused);
    RQ_RUN(test_varint_truncated);
    RQ_RUN(test_writer_bounds);
    RQ_RUN(test_reader_bounds);
    RQ_RUN(test_error_table_transport_codes);
    RQ_RUN(test_varint_random_roundtrip);
    return rq_test_summary();
}
