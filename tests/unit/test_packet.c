/* Packet headers (RFC 9000 §17, RFC 8999), coalescing (§12.2) and packet numbers (§17.1,
 * Appendix A.2, A.3). */
#include "core/packet.h"
#include "core/pn.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static rq_cid cid_from_hex(const char *hex)
{
    rq_cid c;
    c.len = (uint8_t)rq_test_hex(hex, c.data, sizeof c.data);
    return c;
}

/* RFC 9000 Appendix A.2: the two sample truncations (16 and 24 bits). */
static void test_pn_encode_rfc9000_a2(void)
{
    RQ_CHECK_EQ_INT(rq_pn_encode_len(0xac5c02, 0xabe8b3), 2);
    RQ_CHECK_EQ_INT(rq_pn_encode_len(0xace8fe, 0xabe8b3), 3);
    /* Nothing acknowledged yet: the whole number counts as in flight. */
    RQ_CHECK_EQ_INT(rq_pn_encode_len(0, RQ_PN_NONE), 1);
    RQ_CHECK_EQ_INT(rq_pn_encode_len(127, RQ_PN_NONE), 1);
    RQ_CHECK_EQ_INT(rq_pn_encode_len(128, RQ_PN_NONE), 2);
    /* 128 outstanding fit one byte (window 256); 129 do not. */
    RQ_CHECK_EQ_INT(rq_pn_encode_len(1128, 1000), 1);
    RQ_CHECK_EQ_INT(rq_pn_encode_len(1129, 1000), 2);
    /* More than 2^31 unacknowledged packets cannot be encoded at all. */
    RQ_CHECK_EQ_INT(rq_pn_encode_len((uint64_t)1 << 32, 0), 0);
}

/* RFC 9000 Appendix A.3: 0x9b32 after 0xa82f30ea decodes as 0xa82f9b32. */
static void test_pn_decode_rfc9000_a3(void)
{
    RQ_CHECK_EQ_U64(rq_pn_decode(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
}

/* Appendix A.3 at the edges: no wrap below zero, none past 2^62. */
static void test_pn_decode_edges_rfc9000_a3(void)
{
    RQ_CHECK_EQ_U64(rq_pn_decode(RQ_PN_NONE, 0, 8), 0);
    RQ_CHECK_EQ_U64(rq_pn_decode(RQ_PN_NONE, 0xff, 8), 0xff);
    RQ_CHECK_EQ_U64(rq_pn_decode(0, 0xff, 8), 0xff);
    RQ_CHECK_EQ_U64(rq_pn_decode(0x17f, 0x00, 8), 0x200);
    RQ_CHECK_EQ_U64(rq_pn_decode(0x180, 0x7f, 8), 0x17f);
    uint64_t top = RQ_PN_MAX - 1;
    RQ_CHECK_EQ_U64(rq_pn_decode(top, 0xff, 8), RQ_PN_MAX);
    RQ_CHECK(rq_pn_decode(top, 0x00, 8) <= RQ_PN_MAX);
}

/* §17.1: a packet number truncated with rq_pn_encode_len decodes back to itself for any
 * receiver that has seen at least what the sender knows is acknowledged. */
static void test_pn_roundtrip_random_rfc9000_17_1(void)
{
    uint64_t s = rq_test_seed();
    unsigned long n = rq_test_iterations(200000);
    for (unsigned long i = 0; i < n; i++) {
        uint64_t acked = rq_test_rand(&s) >> (2 + rq_test_rand(&s) % 60);
        uint64_t gap = 1 + rq_test_rand(&s) % ((uint64_t)1 << (rq_test_rand(&s) % 31));
        uint64_t full = acked + gap;
        if (full > RQ_PN_MAX)
            continue;
        size_t len = rq_pn_encode_len(full, acked);
        RQ_CHECK(len >= 1 && len <= 4);
        uint64_t mask = ((uint64_t)1 << (8 * len)) - 1;
        uint64_t seen = acked + rq_test_rand(&s) % gap; /* in [acked, full - 1] */
        RQ_CHECK_EQ_U64(rq_pn_decode(seen, full & mask, (unsigned)(8 * len)), full);
    }
}

/* RFC 9001 Appendix A.2: the client Initial's unprotected header, byte for byte. */
static void test_write_initial_header_rfc9001_a2(void)
{
    uint8_t buf[64], want[64];
    size_t want_len = rq_test_hex("c300000001088394c8f03e5157080000449e00000002", want, 64);
    rq_cid dcid = cid_from_hex("8394c8f03e515708"), scid = {0};
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_pkt_wpos pos;
    RQ_CHECK_ERR(
        rq_pkt_write_long(&w, RQ_PKT_INITIAL, RQ_VERSION_1, &dcid, &scid, NULL, 0, 2, 4, 2, &pos),
        RQ_OK);
    RQ_CHECK_ERR(rq_pkt_finish_long(&pos, 1182), RQ_OK);
    RQ_CHECK_EQ_INT(w.p - buf, want_len);
    RQ_CHECK_MEM(buf, want, want_len);
    RQ_CHECK_EQ_INT(pos.pn_offset, 18);
}

/* RFC 9001 Appendix A.3: the server Initial's unprotected header, byte for byte. */
static void test_write_server_initial_header_rfc9001_a3(void)
{
    uint8_t buf[64], want[64];
    size_t want_len = rq_test_hex("c1000000010008f067a5502a4262b50040750001", want, 64);
    rq_cid dcid = {0}, scid = cid_from_hex("f067a5502a4262b5");
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_pkt_wpos pos;
    RQ_CHECK_ERR(
        rq_pkt_write_long(&w, RQ_PKT_INITIAL, RQ_VERSION_1, &dcid, &scid, NULL, 0, 1, 2, 2, &pos),
        RQ_OK);
    RQ_CHECK_ERR(rq_pkt_finish_long(&pos, 117), RQ_OK);
    RQ_CHECK_EQ_INT(w.p - buf, want_len);
    RQ_CHECK_MEM(buf, want, want_len);
}

/* Writes a long-header packet with `payload` bytes after the packet number. */
static size_t build_long(uint8_t *buf, size_t cap, rq_pkt_type type, const rq_cid *dcid,
                         const rq_cid *scid, const uint8_t *token, size_t token_len, size_t payload)
{
    rq_wr w = rq_wr_init(buf, cap);
    rq_pkt_wpos pos;
    if (rq_pkt_write_long(&w, type, RQ_VERSION_1, dcid, scid, token, token_len, 0x1234, 2, 2,
                          &pos) != 0 ||
        !rq_wr_zeros(&w, payload) || rq_pkt_finish_long(&pos, 2 + payload) != 0)
        return 0;
    return (size_t)(w.p - buf);
}

/* §17.2.2–§17.2.4: Initial (with token), 0-RTT and Handshake headers parse back. */
static void test_long_header_roundtrip_rfc9000_17_2(void)
{
    static const rq_pkt_type types[] = {RQ_PKT_INITIAL, RQ_PKT_0RTT, RQ_PKT_HANDSHAKE};
    rq_cid dcid = cid_from_hex("0102030405060708090a0b0c0d0e0f1011121314");
    rq_cid scid = cid_from_hex("aabbccdd");
    const uint8_t token[] = {9, 8, 7, 6, 5};
    for (size_t i = 0; i < 3; i++) {
        uint8_t buf[256];
        size_t tl = types[i] == RQ_PKT_INITIAL ? sizeof token : 0;
        size_t n = build_long(buf, sizeof buf, types[i], &dcid, &scid, token, tl, 40);
        RQ_CHECK(n > 0);
        rq_pkt_hdr h;
        RQ_CHECK_ERR(rq_pkt_parse(buf, n, 0, &h), RQ_OK);
        RQ_CHECK_EQ_INT(h.type, types[i]);
        RQ_CHECK_EQ_U64(h.version, RQ_VERSION_1);
        RQ_CHECK_EQ_INT(h.dcid_len, 20);
        RQ_CHECK_MEM(h.dcid, dcid.data, 20);
        RQ_CHECK_EQ_INT(h.scid_len, 4);
        RQ_CHECK_MEM(h.scid, scid.data, 4);
        RQ_CHECK_EQ_INT(h.token_len, tl);
        if (tl)
            RQ_CHECK_MEM(h.token, token, tl);
        RQ_CHECK_EQ_INT(h.len, n);
        RQ_CHECK_EQ_INT(h.pn_offset, n - 42);
        RQ_CHECK_EQ_INT(rq_pkt_pn_len(h.first), 2);
        rq_cid back;
        RQ_CHECK(rq_pkt_hdr_dcid(&h, &back) && rq_cid_eq(&back, &dcid));
        RQ_CHECK(rq_pkt_hdr_scid(&h, &back) && rq_cid_eq(&back, &scid));
    }
}

/* §17.3.1: a short header carries spin and key-phase bits and a DCID of known length. */
static void test_short_header_roundtrip_rfc9000_17_3_1(void)
{
    rq_cid dcid = cid_from_hex("0011223344556677");
    for (int bits = 0; bits < 4; bits++) {
        uint8_t buf[64];
        rq_wr w = rq_wr_init(buf, sizeof buf);
        rq_pkt_wpos pos;
        RQ_CHECK_ERR(rq_pkt_write_short(&w, &dcid, bits & 1, bits & 2, 0xabcdef, 3, &pos), RQ_OK);
        RQ_CHECK(rq_wr_zeros(&w, 20));
        size_t n = (size_t)(w.p - buf);
        rq_pkt_hdr h;
        RQ_CHECK_ERR(rq_pkt_parse(buf, n, 8, &h), RQ_OK);
        RQ_CHECK_EQ_INT(h.type, RQ_PKT_1RTT);
        RQ_CHECK_EQ_INT(!!(h.first & RQ_HDR_SPIN_BIT), bits & 1);
        RQ_CHECK_EQ_INT(!!(h.first & RQ_HDR_KEY_PHASE), !!(bits & 2));
        RQ_CHECK_EQ_INT(h.pn_offset, 9);
        RQ_CHECK_EQ_INT(h.len, n);
        RQ_CHECK_MEM(buf + 9, "\xab\xcd\xef", 3);
    }
}

/* §17.2.5: Retry carries a token and a 16-byte tag and runs to the end of the datagram. */
static void test_retry_roundtrip_rfc9000_17_2_5(void)
{
    uint8_t buf[128];
    rq_cid dcid = cid_from_hex("01020304"), scid = cid_from_hex("0506070809");
    const uint8_t token[] = "token-bytes";
    rq_wr w = rq_wr_init(buf, sizeof buf);
    RQ_CHECK_ERR(rq_pkt_write_retry(&w, RQ_VERSION_1, &dcid, &scid, token, 11, 0xa), RQ_OK);
    RQ_CHECK(rq_wr_bytes(&w, "0123456789abcdef", 16));
    size_t n = (size_t)(w.p - buf);
    rq_pkt_hdr h;
    RQ_CHECK_ERR(rq_pkt_parse(buf, n, 0, &h), RQ_OK);
    RQ_CHECK_EQ_INT(h.type, RQ_PKT_RETRY);
    RQ_CHECK_EQ_INT(h.token_len, 11);
    RQ_CHECK_MEM(h.token, token, 11);
    RQ_CHECK_MEM(h.retry_tag, "0123456789abcdef", 16);
    RQ_CHECK_EQ_INT(h.len, n);
    RQ_CHECK_EQ_INT(h.first & 0x0f, 0xa);
    /* A Retry without a token is never sent. */
    RQ_CHECK_ERR(rq_pkt_write_retry(&w, RQ_VERSION_1, &dcid, &scid, token, 0, 0),
                 RQ_ERR_INVALID_ARG);
    /* Shorter than its tag: malformed. */
    RQ_CHECK_ERR(rq_pkt_parse(buf, n - 11 - 16 + 15, 0, &h), RQ_ERR_MALFORMED_PACKET);
    /* §17.2.5.2: a Retry with an empty token (only the tag after the CIDs) is discarded. */
    RQ_CHECK_ERR(rq_pkt_parse(buf, n - 11, 0, &h), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_pkt_parse(buf, n - 10, 0, &h), RQ_OK); /* a 1-byte token */
    RQ_CHECK_EQ_INT(h.token_len, 1);
}

/* RFC 9000 §6.1, §17.2.1, RFC 8999: an unknown version's CIDs (even 255 bytes long) are
 * available to the Version Negotiation reply, which echoes them swapped. */
static void test_version_negotiation_rfc9000_17_2_1(void)
{
    uint8_t pkt[1200] = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a};
    size_t off = 5;
    pkt[off++] = 255;
    for (int i = 0; i < 255; i++)
        pkt[off++] = (uint8_t)i;
    pkt[off++] = 3;
    pkt[off++] = 0xee;
    pkt[off++] = 0xdd;
    pkt[off++] = 0xcc;
    rq_pkt_hdr h;
    RQ_CHECK_ERR(rq_pkt_parse(pkt, sizeof pkt, 0, &h), RQ_ERR_UNSUPPORTED_VERSION);
    RQ_CHECK_EQ_U64(h.version, 0x1a2a3a4a);
    RQ_CHECK_EQ_INT(h.dcid_len, 255);
    RQ_CHECK_EQ_INT(h.scid_len, 3);
    RQ_CHECK_EQ_INT(h.len, sizeof pkt);

    uint8_t out[600];
    const uint32_t versions[] = {RQ_VERSION_1, 0x0a0a0a0a};
    rq_wr w = rq_wr_init(out, sizeof out);
    RQ_CHECK_ERR(rq_pkt_write_version_negotiation(&w, &h, 0x55, versions, 2), RQ_OK);
    size_t n = (size_t)(w.p - out);
    RQ_CHECK_EQ_INT(n, 1 + 4 + 1 + 3 + 1 + 255 + 8);
    rq_pkt_hdr vn;
    RQ_CHECK_ERR(rq_pkt_parse(out, n, 0, &vn), RQ_OK);
    RQ_CHECK_EQ_INT(vn.type, RQ_PKT_VERSION_NEGOTIATION);
    RQ_CHECK_EQ_INT(vn.first, 0x80 | 0x40 | 0x15); /* §17.2.1: 0x40 set */
    /* Whatever the random bits, 0x40 is set. */
    for (unsigned u = 0; u < 256; u++) {
        rq_wr w2 = rq_wr_init(out, sizeof out);
        RQ_CHECK_ERR(rq_pkt_write_version_negotiation(&w2, &h, (uint8_t)u, versions, 2), RQ_OK);
        RQ_CHECK_EQ_INT(out[0] & 0xc0, 0xc0);
    }
    w = rq_wr_init(out, sizeof out);
    RQ_CHECK_ERR(rq_pkt_write_version_negotiation(&w, &h, 0x55, versions, 2), RQ_OK);
    RQ_CHECK_EQ_INT(vn.dcid_len, 3);
    RQ_CHECK_MEM(vn.dcid, "\xee\xdd\xcc", 3);
    RQ_CHECK_EQ_INT(vn.scid_len, 255);
    RQ_CHECK_MEM(vn.scid, pkt + 6, 255);
    RQ_CHECK_EQ_INT(vn.num_versions, 2);
    RQ_CHECK_EQ_U64(rq_pkt_vn_version(&vn, 0), RQ_VERSION_1);
    RQ_CHECK_EQ_U64(rq_pkt_vn_version(&vn, 1), 0x0a0a0a0a);
    /* A version list that is empty or not a multiple of 4 bytes is malformed. */
    RQ_CHECK_ERR(rq_pkt_parse(out, n - 8, 0, &vn), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_pkt_parse(out, n - 1, 0, &vn), RQ_ERR_MALFORMED_PACKET);
    /* The reply buffer too small leaves the writer unchanged. */
    rq_wr small = rq_wr_init(out, 100);
    RQ_CHECK_ERR(rq_pkt_write_version_negotiation(&small, &h, 0, versions, 2),
                 RQ_ERR_BUFFER_TOO_SMALL);
    RQ_CHECK(small.p == out);
}

/* §12.2: Initial, Handshake and 1-RTT coalesced in one datagram are walked one by one. */
static void test_coalesced_walk_rfc9000_12_2(void)
{
    uint8_t dg[512];
    rq_cid dcid = cid_from_hex("1122334455667788"), scid = cid_from_hex("99");
    size_t a = build_long(dg, sizeof dg, RQ_PKT_INITIAL, &dcid, &scid, NULL, 0, 100);
    size_t b = build_long(dg + a, sizeof dg - a, RQ_PKT_HANDSHAKE, &dcid, &scid, NULL, 0, 50);
    rq_wr w = rq_wr_init(dg + a + b, sizeof dg - a - b);
    rq_pkt_wpos pos;
    RQ_CHECK(a && b);
    RQ_CHECK_ERR(rq_pkt_write_short(&w, &dcid, false, false, 7, 1, &pos), RQ_OK);
    RQ_CHECK(rq_wr_zeros(&w, 30));
    size_t total = (size_t)(w.p - dg);
    static const rq_pkt_type want[] = {RQ_PKT_INITIAL, RQ_PKT_HANDSHAKE, RQ_PKT_1RTT};
    size_t off = 0, count = 0;
    while (off < total) {
        rq_pkt_hdr h;
        RQ_CHECK_ERR(rq_pkt_parse(dg + off, total - off, 8, &h), RQ_OK);
        RQ_CHECK(count < 3);
        RQ_CHECK_EQ_INT(h.type, want[count]);
        off += h.len;
        count++;
    }
    RQ_CHECK_EQ_INT(count, 3);
    RQ_CHECK_EQ_INT(off, total);
}

/* Every truncation of a valid long-header packet before its end is rejected as malformed,
 * never read past (§17.2: Length must fit the datagram). */
static void test_truncation_rejected_rfc9000_17_2(void)
{
    uint8_t buf[128];
    rq_cid dcid = cid_from_hex("0102030405060708"), scid = cid_from_hex("0a0b");
    const uint8_t token[] = {1, 2, 3};
    size_t n = build_long(buf, sizeof buf, RQ_PKT_INITIAL, &dcid, &scid, token, 3, 30);
    RQ_CHECK(n > 0);
    for (size_t cut = 0; cut < n; cut++) {
        rq_pkt_hdr h;
        int rc = rq_pkt_parse(buf, cut, 0, &h);
        if (rc != RQ_ERR_MALFORMED_PACKET) {
            RQ_FAIL_("cut at %zu of %zu gave %s", cut, n, rq_err_name(rc));
            return;
        }
    }
    /* The short header: the DCID and at least one byte must be there. */
    uint8_t s[] = {0x40, 1, 2, 3, 4};
    rq_pkt_hdr h;
    RQ_CHECK_ERR(rq_pkt_parse(s, 4, 3, &h), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_pkt_parse(s, 5, 3, &h), RQ_OK);
    RQ_CHECK_ERR(rq_pkt_parse(s, 5, 4, &h), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_pkt_parse(s, 0, 3, &h), RQ_ERR_MALFORMED_PACKET);
}

/* §17.2: v1 long headers with a CID over 20 bytes, a clear fixed bit, or a Length of zero or
 * past the datagram are dropped; so is a short header with a clear fixed bit (§17.3.1). */
static void test_invalid_headers_dropped_rfc9000_17_2(void)
{
    uint8_t buf[128];
    rq_cid dcid = cid_from_hex("0102030405060708"), scid = cid_from_hex("0a0b");
    size_t n = build_long(buf, sizeof buf, RQ_PKT_HANDSHAKE, &dcid, &scid, NULL, 0, 30);
    rq_pkt_hdr h;
    uint8_t bad[128];

    memcpy(bad, buf, n);
    bad[0] &= (uint8_t)~RQ_HDR_FIXED_BIT;
    RQ_CHECK_ERR(rq_pkt_parse(bad, n, 0, &h), RQ_ERR_MALFORMED_PACKET);

    /* DCID length 21 in a v1 header. */
    uint8_t big[80] = {0xe0, 0, 0, 0, 1, 21};
    big[5 + 1 + 21] = 0;        /* SCID length */
    big[5 + 1 + 21 + 1] = 0x01; /* Length */
    RQ_CHECK_ERR(rq_pkt_parse(big, sizeof big, 0, &h), RQ_ERR_MALFORMED_PACKET);

    /* Length past the end of the datagram, and Length zero. Handshake Length sits at 1+4+1+8+1+2.
     */
    size_t length_at = 1 + 4 + 1 + 8 + 1 + 2;
    memcpy(bad, buf, n);
    bad[length_at] = 0x40;
    bad[length_at + 1] = (uint8_t)(n - length_at - 2 + 1); /* one byte too many */
    RQ_CHECK_ERR(rq_pkt_parse(bad, n, 0, &h), RQ_ERR_MALFORMED_PACKET);
    bad[length_at + 1] = 0;
    RQ_CHECK_ERR(rq_pkt_parse(bad, n, 0, &h), RQ_ERR_MALFORMED_PACKET);

    uint8_t shorthdr[] = {0x00, 1, 2, 3, 4, 5};
    RQ_CHECK_ERR(rq_pkt_parse(shorthdr, sizeof shorthdr, 4, &h), RQ_ERR_MALFORMED_PACKET);
    /* A short-header CID length over 20 is a caller bug. */
    shorthdr[0] = 0x40;
    RQ_CHECK_ERR(rq_pkt_parse(shorthdr, sizeof shorthdr, 21, &h), RQ_ERR_INVALID_ARG);
}

/* §17.2, §17.3.1: reserved bits set after unprotection are a PROTOCOL_VIOLATION. */
static void test_reserved_bits_rfc9000_17_2(void)
{
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0xc3, RQ_PKT_INITIAL), RQ_OK);
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0xc7, RQ_PKT_INITIAL), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0xcb, RQ_PKT_HANDSHAKE), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0x67, RQ_PKT_1RTT), RQ_OK); /* spin + key phase */
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0x48, RQ_PKT_1RTT), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_pkt_check_reserved_bits(0x50, RQ_PKT_1RTT), RQ_ERR_PROTOCOL_VIOLATION);
}

/* Writers refuse arguments the RFC cannot express and never write past their buffer. */
static void test_writer_arguments(void)
{
    uint8_t buf[64];
    rq_cid dcid = cid_from_hex("01"), scid = {0};
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_pkt_wpos pos;
    const uint8_t t[] = {1};
    RQ_CHECK_ERR(rq_pkt_write_long(&w, RQ_PKT_1RTT, 1, &dcid, &scid, NULL, 0, 0, 1, 2, &pos),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_pkt_write_long(&w, RQ_PKT_HANDSHAKE, 1, &dcid, &scid, t, 1, 0, 1, 2, &pos),
                 RQ_ERR_INVALID_ARG); /* only Initial carries a token */
    RQ_CHECK_ERR(rq_pkt_write_long(&w, RQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 0, 5, 2, &pos),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_pkt_write_long(&w, RQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 0, 1, 3, &pos),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_pkt_write_short(&w, &dcid, 0, 0, 0, 0, &pos), RQ_ERR_INVALID_ARG);
    RQ_CHECK(w.p == buf);
    for (size_t cap = 0; cap < 12; cap++) {
        rq_wr s = rq_wr_init(buf, cap);
        RQ_CHECK_ERR(rq_pkt_write_long(&s, RQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 0, 2, 2, &pos),
                     RQ_ERR_BUFFER_TOO_SMALL);
        RQ_CHECK(s.p == buf);
    }
    /* The Length field holds at most what its reserved width can. */
    RQ_CHECK_ERR(rq_pkt_write_long(&w, RQ_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 0, 2, 2, &pos),
                 RQ_OK);
    RQ_CHECK_ERR(rq_pkt_finish_long(&pos, 16384), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_pkt_finish_long(&pos, 1), RQ_ERR_INVALID_ARG); /* shorter than the PN */
    RQ_CHECK_ERR(rq_pkt_finish_long(&pos, 16383), RQ_OK);
}

int main(void)
{
    RQ_RUN(test_pn_encode_rfc9000_a2);
    RQ_RUN(test_pn_decode_rfc9000_a3);
    RQ_RUN(test_pn_decode_edges_rfc9000_a3);
    RQ_RUN(test_pn_roundtrip_random_rfc9000_17_1);
    RQ_RUN(test_write_initial_header_rfc9001_a2);
    RQ_RUN(test_write_server_initial_header_rfc9001_a3);
    RQ_RUN(test_long_header_roundtrip_rfc9000_17_2);
    RQ_RUN(test_short_header_roundtrip_rfc9000_17_3_1);
    RQ_RUN(test_retry_roundtrip_rfc9000_17_2_5);
    RQ_RUN(test_version_negotiation_rfc9000_17_2_1);
    RQ_RUN(test_coalesced_walk_rfc9000_12_2);
    RQ_RUN(test_truncation_rejected_rfc9000_17_2);
    RQ_RUN(test_invalid_headers_dropped_rfc9000_17_2);
    RQ_RUN(test_reserved_bits_rfc9000_17_2);
    RQ_RUN(test_writer_arguments);
    return rq_test_summary();
}
