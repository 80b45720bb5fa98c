/* QUIC transport parameters (RFC 9000 §7.3, §7.4, §18; RFC 9221 §3): encoding, decoding,
 * every validation rule, and the §7.3 connection ID authentication. */
#include "core/tparams.h"
#include "core/wire.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

/* ---- helpers ---- */

static rq_cid cid_of(const char *hex)
{
    rq_cid c;
    uint8_t b[64];
    size_t n = rq_test_hex(hex, b, sizeof b);
    if (!rq_cid_set(&c, b, n))
        abort();
    return c;
}

/* A full client set: every parameter a client may send, none at its default. */
static void make_client(rq_tparams *tp)
{
    rq_tparams_init_defaults(tp);
    tp->max_idle_timeout = 30000;
    tp->max_udp_payload_size = 1472;
    tp->initial_max_data = 1 << 20;
    tp->initial_max_stream_data_bidi_local = 262144;
    tp->initial_max_stream_data_bidi_remote = 131072;
    tp->initial_max_stream_data_uni = 65536;
    tp->initial_max_streams_bidi = 100;
    tp->initial_max_streams_uni = 3;
    tp->ack_delay_exponent = 10;
    tp->max_ack_delay = 40;
    tp->disable_active_migration = true;
    tp->active_connection_id_limit = 8;
    tp->has_initial_scid = true;
    tp->initial_scid = cid_of("c1c2c3c4c5c6c7c8");
    tp->max_datagram_frame_size = 65535;
}

/* A full server set: every parameter, preferred_address with both address families. */
static void make_server(rq_tparams *tp)
{
    make_client(tp);
    tp->initial_scid = cid_of("5a5b5c5d");
    tp->has_original_dcid = true;
    tp->original_dcid = cid_of("8394c8f03e515708");
    tp->has_stateless_reset_token = true;
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        tp->stateless_reset_token[i] = (uint8_t)(0xa0 + i);
    tp->has_preferred_address = true;
    rq_preferred_address *pa = &tp->preferred_address;
    rq_test_hex("c0000201", pa->ipv4_addr, sizeof pa->ipv4_addr);
    pa->ipv4_port = 443;
    rq_test_hex("20010db8000000000000000000000001", pa->ipv6_addr, sizeof pa->ipv6_addr);
    pa->ipv6_port = 8443;
    pa->cid = cid_of("aabbccddeeff00112233445566778899aabbccdd"); /* 20 bytes */
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        pa->stateless_reset_token[i] = (uint8_t)i;
    tp->has_retry_scid = true;
    tp->retry_scid = cid_of("f0f1f2f3f4f5f6f7f8f9");
}

/* A hand-built parameter list, for inputs the encoder refuses to produce. */
typedef struct raw {
    uint8_t buf[1024];
    rq_wr w;
} raw;

static void raw_init(raw *r)
{
    r->w = rq_wr_init(r->buf, sizeof r->buf);
}

static size_t raw_len(const raw *r)
{
    return (size_t)(r->w.p - r->buf);
}

static void raw_param(raw *r, uint64_t id, const void *val, size_t n)
{
    if (!rq_wr_varint(&r->w, id) || !rq_wr_varint(&r->w, n) || !rq_wr_bytes(&r->w, val, n))
        abort();
}

static void raw_hex(raw *r, uint64_t id, const char *hex)
{
    uint8_t v[256];
    size_t n = rq_test_hex(hex, v, sizeof v);
    raw_param(r, id, v, n);
}

static void raw_int(raw *r, uint64_t id, uint64_t v)
{
    uint8_t b[8];
    rq_wr w = rq_wr_init(b, sizeof b);
    if (!rq_wr_varint(&w, v))
        abort();
    raw_param(r, id, b, (size_t)(w.p - b));
}

/* The parameters §7.3 requires from `sender`, so that a case fails only for its own rule. */
static void raw_base(raw *r, rq_role sender)
{
    raw_init(r);
    if (sender == RQ_ROLE_SERVER)
        raw_hex(r, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, "0001020304050607");
    raw_hex(r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, "a1a2a3a4");
}

/* A preferred_address value: CID of cid_len bytes, then `extra` bytes more (negative: fewer)
 * than the layout needs. Returns the value's length. */
static size_t pa_value(uint8_t *out, uint8_t cid_len, int extra)
{
    size_t n = 0;
    rq_test_hex("c0000201 01bb 20010db8000000000000000000000001 01bb", out, 24);
    n = 24;
    out[n++] = cid_len;
    for (uint8_t i = 0; i < cid_len; i++)
        out[n++] = (uint8_t)(0x40 + i);
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        out[n++] = (uint8_t)(0xe0 + i);
    if (extra > 0)
        for (int i = 0; i < extra; i++)
            out[n++] = 0xee;
    else
        n -= (size_t)-extra;
    return n;
}

/* A valid value for a known parameter id, for the duplicate cases. */
static size_t valid_value(uint64_t id, uint8_t *out)
{
    switch (id) {
    case RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID:
    case RQ_TP_INITIAL_SOURCE_CONNECTION_ID:
    case RQ_TP_RETRY_SOURCE_CONNECTION_ID:
        return rq_test_hex("b1b2b3b4", out, 4);
    case RQ_TP_STATELESS_RESET_TOKEN:
        memset(out, 0x77, RQ_RESET_TOKEN_LEN);
        return RQ_RESET_TOKEN_LEN;
    case RQ_TP_DISABLE_ACTIVE_MIGRATION:
        return 0;
    case RQ_TP_PREFERRED_ADDRESS:
        return pa_value(out, 4, 0);
    case RQ_TP_MAX_UDP_PAYLOAD_SIZE:
        return rq_test_hex("44b0", out, 2); /* 1200 */
    case RQ_TP_ACTIVE_CONNECTION_ID_LIMIT:
        return rq_test_hex("02", out, 1);
    default:
        return rq_test_hex("05", out, 1);
    }
}

static const uint64_t known_ids[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                     0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x20};
static const uint64_t int_ids[] = {0x01, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0e, 0x20};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int decode_raw(const raw *r, rq_role sender)
{
    rq_tparams tp;
    return rq_tparams_decode(&tp, sender, r->buf, raw_len(r));
}

/* Decodes base(sender) + one parameter. */
static int decode_one_extra(rq_role sender, uint64_t id, const void *val, size_t n)
{
    raw r;
    raw_base(&r, sender);
    raw_param(&r, id, val, n);
    return decode_raw(&r, sender);
}

static int decode_one_int(rq_role sender, uint64_t id, uint64_t v)
{
    raw r;
    raw_base(&r, sender);
    raw_int(&r, id, v);
    return decode_raw(&r, sender);
}

/* Encodes, decodes, compares, and re-encodes to the identical bytes. Returns 0 or a line. */
static int roundtrip(const rq_tparams *tp, rq_role sender, uint64_t grease)
{
    uint8_t a[RQ_TPARAMS_MAX_ENCODED_LEN], b[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t alen = 0, blen = 0;
    rq_tparams got;
    if (rq_tparams_encode(tp, sender, a, sizeof a, &alen, grease) != 0)
        return __LINE__;
    if (rq_tparams_decode(&got, sender, a, alen) != 0)
        return __LINE__;
    if (!rq_tparams_eq(tp, &got))
        return __LINE__;
    if (rq_tparams_encode(&got, sender, b, sizeof b, &blen, grease) != 0)
        return __LINE__;
    if (alen != blen || memcmp(a, b, alen) != 0)
        return __LINE__;
    return 0;
}

/* ---- §18.2 defaults, full sets, known answers ---- */

/* RFC 9000 §18.2: the defaults. */
static void test_s18_2_init_defaults(void)
{
    rq_tparams tp;
    memset(&tp, 0xff, sizeof tp);
    rq_tparams_init_defaults(&tp);
    RQ_CHECK_EQ_U64(tp.max_udp_payload_size, 65527);
    RQ_CHECK_EQ_U64(tp.ack_delay_exponent, 3);
    RQ_CHECK_EQ_U64(tp.max_ack_delay, 25);
    RQ_CHECK_EQ_U64(tp.active_connection_id_limit, 2);
    RQ_CHECK_EQ_U64(tp.max_idle_timeout, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_data, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_stream_data_bidi_local, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_stream_data_bidi_remote, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_stream_data_uni, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_streams_bidi, 0);
    RQ_CHECK_EQ_U64(tp.initial_max_streams_uni, 0);
    RQ_CHECK_EQ_U64(tp.max_datagram_frame_size, 0);
    RQ_CHECK(!tp.disable_active_migration);
    RQ_CHECK(!tp.has_original_dcid && !tp.has_stateless_reset_token);
    RQ_CHECK(!tp.has_preferred_address && !tp.has_initial_scid && !tp.has_retry_scid);
}

/* RFC 9000 §18.2: absent parameters take their defaults. */
static void test_s18_2_defaults_apply_when_absent(void)
{
    raw r;
    raw_base(&r, RQ_ROLE_CLIENT);
    rq_tparams got, want;
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, r.buf, raw_len(&r)), RQ_OK);
    rq_tparams_init_defaults(&want);
    want.has_initial_scid = true;
    want.initial_scid = cid_of("a1a2a3a4");
    RQ_CHECK(rq_tparams_eq(&got, &want));
    RQ_CHECK_EQ_U64(got.max_udp_payload_size, 65527);
    RQ_CHECK_EQ_U64(got.ack_delay_exponent, 3);
    RQ_CHECK_EQ_U64(got.max_ack_delay, 25);
    RQ_CHECK_EQ_U64(got.active_connection_id_limit, 2);
    RQ_CHECK_EQ_U64(got.initial_max_data, 0);

    /* ... and the encoder leaves defaults out: only initial_source_connection_id remains. */
    uint8_t buf[64];
    size_t len = 0;
    RQ_CHECK_ERR(rq_tparams_encode(&want, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 0), RQ_OK);
    RQ_CHECK_EQ_INT(len, raw_len(&r));
    RQ_CHECK_MEM(buf, r.buf, len);
}

/* RFC 9000 §18.2: a full client set round-trips exactly. */
static void test_s18_2_client_full_roundtrip(void)
{
    rq_tparams tp;
    make_client(&tp);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_CLIENT, 0), 0);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_CLIENT, 27), 0);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_CLIENT, 27 + 31 * 1000), 0);
    /* The same set sent by a server (plus the odcid a server must send) also round-trips. */
    tp.has_original_dcid = true;
    tp.original_dcid = cid_of("0011223344556677");
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_SERVER, 0), 0);
}

/* RFC 9000 §18.2: a full server set (every parameter, both preferred_address families)
 * round-trips exactly. */
static void test_s18_2_server_full_roundtrip(void)
{
    rq_tparams tp;
    make_server(&tp);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_SERVER, 0), 0);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_SERVER, 58), 0);

    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 0;
    rq_tparams got;
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, buf, sizeof buf, &len, 0), RQ_OK);
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_SERVER, buf, len), RQ_OK);
    RQ_CHECK_EQ_U64(got.preferred_address.ipv4_port, 443);
    RQ_CHECK_EQ_U64(got.preferred_address.ipv6_port, 8443);
    RQ_CHECK_EQ_U64(got.preferred_address.ipv4_addr[0], 0xc0);
    RQ_CHECK_EQ_U64(got.preferred_address.ipv6_addr[15], 0x01);
    RQ_CHECK_EQ_U64(got.preferred_address.cid.len, 20);
    RQ_CHECK_EQ_U64(got.preferred_address.stateless_reset_token[15], 15);
    RQ_CHECK_EQ_U64(got.stateless_reset_token[0], 0xa0);
    RQ_CHECK_EQ_U64(got.retry_scid.len, 10);
    RQ_CHECK_EQ_U64(got.max_datagram_frame_size, 65535);

    /* Only one family: the other is all zeros (§18.2), which is just data. */
    memset(tp.preferred_address.ipv6_addr, 0, 16);
    tp.preferred_address.ipv6_port = 0;
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_SERVER, 0), 0);
}

/* RFC 9000 §18: known-answer encodings, written by hand from the §18 and §18.2 layouts. */
static void test_s18_known_answer_encodings(void)
{
    rq_tparams tp;
    uint8_t want[128], buf[128];
    size_t wlen, len = 0;

    rq_tparams_init_defaults(&tp);
    tp.max_idle_timeout = 30000;
    tp.initial_max_data = 1048576;
    tp.disable_active_migration = true;
    tp.has_initial_scid = true;
    tp.initial_scid = cid_of("0102030405060708");
    wlen = rq_test_hex("01 04 80007530"
                       "04 04 80100000"
                       "0c 00"
                       "0f 08 0102030405060708",
                       want, sizeof want);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 0), RQ_OK);
    RQ_CHECK_EQ_INT(len, wlen);
    RQ_CHECK_MEM(buf, want, len);

    rq_tparams_init_defaults(&tp);
    tp.has_original_dcid = true;
    tp.original_dcid = cid_of("8394c8f03e515708");
    tp.has_preferred_address = true;
    rq_test_hex("c0000201", tp.preferred_address.ipv4_addr, 4);
    tp.preferred_address.ipv4_port = 443;
    rq_test_hex("20010db8000000000000000000000001", tp.preferred_address.ipv6_addr, 16);
    tp.preferred_address.ipv6_port = 443;
    tp.preferred_address.cid = cid_of("aabbccdd");
    rq_test_hex("000102030405060708090a0b0c0d0e0f", tp.preferred_address.stateless_reset_token, 16);
    tp.has_initial_scid = true;
    tp.initial_scid = cid_of("11223344");
    tp.max_udp_payload_size = 1500;
    wlen = rq_test_hex("00 08 8394c8f03e515708"
                       "03 02 45dc"
                       "0d 2d c0000201 01bb 20010db8000000000000000000000001 01bb"
                       "   04 aabbccdd 000102030405060708090a0b0c0d0e0f"
                       "0f 04 11223344",
                       want, sizeof want);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, buf, sizeof buf, &len, 0), RQ_OK);
    RQ_CHECK_EQ_INT(len, wlen);
    RQ_CHECK_MEM(buf, want, len);
    rq_tparams got;
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_SERVER, want, wlen), RQ_OK);
    RQ_CHECK(rq_tparams_eq(&got, &tp));
}

/* RFC 9221 §3: max_datagram_frame_size (0x20) is parsed and kept. */
static void test_rfc9221_s3_max_datagram_frame_size(void)
{
    raw r;
    raw_base(&r, RQ_ROLE_CLIENT);
    raw_int(&r, RQ_TP_MAX_DATAGRAM_FRAME_SIZE, 1200);
    rq_tparams got;
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, r.buf, raw_len(&r)), RQ_OK);
    RQ_CHECK_EQ_U64(got.max_datagram_frame_size, 1200);
    RQ_CHECK_EQ_INT(roundtrip(&got, RQ_ROLE_CLIENT, 0), 0);
}

/* ---- §18.1 reserved parameters, §7.4.2 unknown parameters ---- */

/* RFC 9000 §18.1: reserved ids are 31 * N + 27. */
static void test_s18_1_reserved_ids(void)
{
    RQ_CHECK(rq_tparams_is_reserved_id(27));
    RQ_CHECK(rq_tparams_is_reserved_id(58));
    RQ_CHECK(rq_tparams_is_reserved_id(27 + 31ULL * 123456789));
    RQ_CHECK(!rq_tparams_is_reserved_id(0));
    RQ_CHECK(!rq_tparams_is_reserved_id(26));
    RQ_CHECK(!rq_tparams_is_reserved_id(28));
    RQ_CHECK(!rq_tparams_is_reserved_id(31));
    RQ_CHECK(!rq_tparams_is_reserved_id(0x20));
}

/* RFC 9000 §18.1: the encoder adds one reserved parameter with a few bytes of value when
 * asked, refuses a non-reserved GREASE id, and the decoder skips it. */
static void test_s18_1_grease_written_and_skipped(void)
{
    rq_tparams tp, got;
    make_client(&tp);
    uint64_t ids[] = {27, 58, 27 + 31 * 7, 27 + 31ULL * 1000000007ULL,
                      27 + 31 * ((RQ_VARINT_MAX - 27) / 31)};
    for (size_t i = 0; i < COUNT(ids); i++) {
        uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
        size_t len = 0, plain = 0;
        RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &plain, 0), RQ_OK);
        RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len, ids[i]), RQ_OK);
        RQ_CHECK(len > plain);
        /* Find the reserved parameter: it is the last one, with 1..8 bytes of value. */
        rq_rd r = rq_rd_init(buf, len);
        uint64_t id = 0, n = 0;
        int found = 0;
        while (rq_rd_left(&r) > 0) {
            RQ_CHECK(rq_rd_varint(&r, &id) && rq_rd_varint(&r, &n) && rq_rd_skip(&r, n));
            if (id == ids[i]) {
                found++;
                RQ_CHECK(n >= 1 && n <= 8);
            }
        }
        RQ_CHECK_EQ_INT(found, 1);
        RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, buf, len), RQ_OK);
        RQ_CHECK(rq_tparams_eq(&got, &tp));
    }
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 0;
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 28),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 0x20),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len,
                                   27 + 31 * ((RQ_VARINT_MAX - 27) / 31 + 1)),
                 RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §7.4.2 and §18.1: unknown and reserved parameters of any id and length are
 * ignored, wherever they appear. */
static void test_s7_4_2_unknown_parameters_skipped(void)
{
    raw r;
    raw_init(&r);
    raw_hex(&r, 0x11, "00000001 00000001"); /* unknown to this decoder (id < 64) */
    raw_hex(&r, 0x1f, "");                  /* unassigned */
    raw_hex(&r, 27, "deadbeef");            /* reserved, GREASE */
    raw_hex(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, "a1a2a3a4");
    raw_hex(&r, 0x2ab2, ""); /* an extension's id (2-byte varint) */
    raw_hex(&r, 27 + 31 * 5000, "0102030405060708090a0b0c0d0e0f10111213141516171819");
    raw_hex(&r, RQ_VARINT_MAX, "ff");      /* the largest id (8-byte varint) */
    raw_hex(&r, 0x3f, "44b0");             /* unknown id right below the bitmask edge */
    raw_hex(&r, 0x40, "c000000000000000"); /* first id in the bounded list */
    rq_tparams got, want;
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, r.buf, raw_len(&r)), RQ_OK);
    raw base;
    raw_base(&base, RQ_ROLE_CLIENT);
    RQ_CHECK_ERR(rq_tparams_decode(&want, RQ_ROLE_CLIENT, base.buf, raw_len(&base)), RQ_OK);
    RQ_CHECK(rq_tparams_eq(&got, &want));
}

/* ---- §7.4 duplicates ---- */

/* RFC 9000 §7.4: a known parameter sent twice is a TRANSPORT_PARAMETER_ERROR. */
static void test_s7_4_duplicate_known_rejected(void)
{
    for (size_t i = 0; i < COUNT(known_ids); i++) {
        uint8_t v[128];
        size_t n = valid_value(known_ids[i], v);
        raw r;
        raw_base(&r, RQ_ROLE_SERVER);
        if (known_ids[i] != RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID &&
            known_ids[i] != RQ_TP_INITIAL_SOURCE_CONNECTION_ID)
            raw_param(&r, known_ids[i], v, n);
        /* Once is fine ... */
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_OK);
        /* ... twice is not, even with an unrelated parameter in between. */
        raw_int(&r,
                RQ_TP_INITIAL_MAX_DATA == known_ids[i] ? RQ_TP_MAX_IDLE_TIMEOUT
                                                       : RQ_TP_INITIAL_MAX_DATA,
                7);
        raw_param(&r, known_ids[i], v, n);
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_ERR_TRANSPORT_PARAMETER);
    }
}

/* RFC 9000 §7.4: an unknown or reserved parameter sent twice is rejected too. */
static void test_s7_4_duplicate_unknown_rejected(void)
{
    static const uint64_t ids[] = {0x11,   0x1f,           27,           58, 0x3f, 0x40,
                                   0x2ab2, 27 + 31 * 5000, RQ_VARINT_MAX};
    for (size_t i = 0; i < COUNT(ids); i++) {
        raw r;
        raw_base(&r, RQ_ROLE_CLIENT);
        raw_hex(&r, ids[i], "01");
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
        raw_int(&r, RQ_TP_INITIAL_MAX_DATA, 9);
        raw_hex(&r, ids[i], ""); /* a different value does not make it a different one */
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    }
}

static void raw_copy(raw *dst, const raw *src)
{
    raw_init(dst);
    memcpy(dst->buf, src->buf, raw_len(src));
    dst->w.p = dst->buf + raw_len(src);
}

/* RFC 9000 §7.4: duplicate detection among ids >= 64 is bounded to
 * RQ_TP_MAX_TRACKED_UNKNOWN distinct ids (documented in tparams.h): within the bound every
 * duplicate is caught; past it, more parameters are still accepted. */
static void test_s7_4_unknown_duplicate_tracking_bound(void)
{
    raw r, dup;
    raw_base(&r, RQ_ROLE_CLIENT);
    for (uint64_t i = 0; i < RQ_TP_MAX_TRACKED_UNKNOWN; i++)
        raw_hex(&r, 1000 + i, "");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
    /* The first and the last tracked ids, repeated. */
    raw_copy(&dup, &r);
    raw_hex(&dup, 1000, "");
    RQ_CHECK_ERR(decode_raw(&dup, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    raw_copy(&dup, &r);
    raw_hex(&dup, 1000 + RQ_TP_MAX_TRACKED_UNKNOWN - 1, "");
    RQ_CHECK_ERR(decode_raw(&dup, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    /* Past the bound many more distinct ids are accepted ... */
    for (uint64_t i = 0; i < 100; i++)
        raw_hex(&r, 5000 + i, "");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
    /* ... the tracked ids and the known ones (a bitmask, unbounded) are still checked ... */
    raw_copy(&dup, &r);
    raw_hex(&dup, 1005, "");
    RQ_CHECK_ERR(decode_raw(&dup, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    raw_copy(&dup, &r);
    raw_hex(&dup, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, "");
    RQ_CHECK_ERR(decode_raw(&dup, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    raw_copy(&dup, &r);
    raw_hex(&dup, 0x30, "");
    raw_hex(&dup, 0x30, "");
    RQ_CHECK_ERR(decode_raw(&dup, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    /* ... but a repeat of an id beyond the bound goes undetected (the documented limit). */
    raw_hex(&r, 5000, "");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
}

/* The §18.2 rules for the four parameters of MIG-7.4-01, written independently of the
 * decoder: whether `sender` may send value v (n bytes) of parameter id. The base set
 * (raw_base) gives the server a non-empty initial_source_connection_id. */
static bool mig_7_4_oracle(uint64_t id, rq_role sender, const uint8_t *v, size_t n,
                           uint64_t *int_value)
{
    switch (id) {
    case RQ_TP_DISABLE_ACTIVE_MIGRATION: /* zero-length value */
        return n == 0;
    case RQ_TP_STATELESS_RESET_TOKEN: /* server only, 16 bytes */
        return sender == RQ_ROLE_SERVER && n == RQ_RESET_TOKEN_LEN;
    case RQ_TP_ACTIVE_CONNECTION_ID_LIMIT: { /* one varint filling the value, at least 2 */
        if (n == 0)
            return false;
        size_t len = (size_t)1 << (v[0] >> 6);
        if (len != n)
            return false;
        uint64_t x = v[0] & 0x3f;
        for (size_t i = 1; i < n; i++)
            x = x << 8 | v[i];
        *int_value = x;
        return x >= 2;
    }
    case RQ_TP_PREFERRED_ADDRESS: /* server only; Figure 22 exactly; CID of 1..20 bytes */
        return sender == RQ_ROLE_SERVER && n >= RQ_TP_PREFERRED_ADDRESS_FIXED_LEN && v[24] >= 1 &&
               v[24] <= 20 && n == RQ_TP_PREFERRED_ADDRESS_FIXED_LEN + (size_t)v[24];
    default:
        abort();
    }
}

/* A random value for parameter id, biased towards the edges of its rules. */
static size_t mig_7_4_value(uint64_t *st, uint64_t id, uint8_t *v)
{
    size_t n;
    uint64_t r = rq_test_rand(st);
    switch (id) {
    case RQ_TP_ACTIVE_CONNECTION_ID_LIMIT:
        if (r % 4 != 0) {
            /* a varint of 1, 2, 4 or 8 bytes (non-minimal encodings included), small values
             * around the limit of 2 or anything, sometimes with a byte more or less */
            size_t len = (size_t)1 << (rq_test_rand(st) % 4);
            uint64_t x = rq_test_rand(st) % 2 ? rq_test_rand(st) % 5 : rq_test_rand(st);
            x &= len == 8 ? RQ_VARINT_MAX : ((uint64_t)1 << (8 * len - 2)) - 1;
            for (size_t i = 0; i < len; i++)
                v[len - 1 - i] = (uint8_t)(x >> (8 * i));
            v[0] |= (uint8_t)((len == 1 ? 0 : len == 2 ? 1 : len == 4 ? 2 : 3) << 6);
            n = len;
            if (r % 8 == 1)
                v[n++] = (uint8_t)rq_test_rand(st);
            else if (r % 8 == 3 && n > 0)
                n--;
            return n;
        }
        break;
    case RQ_TP_PREFERRED_ADDRESS:
        if (r % 4 != 0) {
            uint8_t cid_len = (uint8_t)(rq_test_rand(st) % 23);
            n = RQ_TP_PREFERRED_ADDRESS_FIXED_LEN + cid_len;
            int delta = (int)(rq_test_rand(st) % 5) - 2;
            if (r % 3 == 0)
                delta = 0;
            n = (size_t)((int)n + delta);
            for (size_t i = 0; i < n; i++)
                v[i] = (uint8_t)rq_test_rand(st);
            if (n > 24)
                v[24] = cid_len;
            return n;
        }
        break;
    case RQ_TP_STATELESS_RESET_TOKEN:
        if (r % 4 != 0) {
            n = RQ_RESET_TOKEN_LEN - 2 + rq_test_rand(st) % 5;
            for (size_t i = 0; i < n; i++)
                v[i] = (uint8_t)rq_test_rand(st);
            return n;
        }
        break;
    case RQ_TP_DISABLE_ACTIVE_MIGRATION:
        if (r % 2)
            return rq_test_rand(st) % 3;
        break;
    }
    n = rq_test_rand(st) % 64;
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)rq_test_rand(st);
    return n;
}

/* MIG-7.4-01, RFC 9000 §7.4, §18.2: fuzzing the decoder on disable_active_migration (0x0c),
 * preferred_address (0x0d), active_connection_id_limit (0x0e) and stateless_reset_token
 * (0x02), from both roles: every value is accepted exactly when the §18.2 rules (an oracle
 * written here) allow it — and then decoded to what was sent — and every invalid one (a
 * non-empty 0x0c, a limit below 2 or not one varint, a malformed preferred_address, a token
 * not 16 bytes, the server-only ones from a client) is a TRANSPORT_PARAMETER_ERROR (0x08).
 * Each valid value sent twice, same or different, is one as well. */
static void test_invalid_values_and_duplicates_mig_7_4_01(void)
{
    static const uint64_t ids[] = {RQ_TP_DISABLE_ACTIVE_MIGRATION, RQ_TP_PREFERRED_ADDRESS,
                                   RQ_TP_ACTIVE_CONNECTION_ID_LIMIT, RQ_TP_STATELESS_RESET_TOKEN};
    static const rq_role roles[] = {RQ_ROLE_CLIENT, RQ_ROLE_SERVER};
    uint64_t st = rq_test_seed();
    unsigned valid[4][2] = {{0}}, invalid[4][2] = {{0}};
    for (int iter = 0; iter < 1000; iter++) {
        for (size_t k = 0; k < COUNT(ids); k++) {
            for (size_t ri = 0; ri < COUNT(roles); ri++) {
                uint8_t v[128];
                size_t n = mig_7_4_value(&st, ids[k], v);
                uint64_t x = 0;
                bool ok = mig_7_4_oracle(ids[k], roles[ri], v, n, &x);
                raw r;
                raw_base(&r, roles[ri]);
                raw_param(&r, ids[k], v, n);
                rq_tparams tp;
                int rc = rq_tparams_decode(&tp, roles[ri], r.buf, raw_len(&r));
                if (!ok) {
                    invalid[k][ri]++;
                    RQ_CHECK_ERR(rc, RQ_ERR_TRANSPORT_PARAMETER);
                    RQ_CHECK_EQ_INT(rq_err_transport_code(rc), 0x08);
                    continue;
                }
                valid[k][ri]++;
                RQ_CHECK_ERR(rc, RQ_OK);
                switch (ids[k]) {
                case RQ_TP_DISABLE_ACTIVE_MIGRATION:
                    RQ_CHECK(tp.disable_active_migration);
                    break;
                case RQ_TP_ACTIVE_CONNECTION_ID_LIMIT:
                    RQ_CHECK_EQ_U64(tp.active_connection_id_limit, x);
                    break;
                case RQ_TP_STATELESS_RESET_TOKEN:
                    RQ_CHECK(tp.has_stateless_reset_token);
                    RQ_CHECK_MEM(tp.stateless_reset_token, v, RQ_RESET_TOKEN_LEN);
                    break;
                default:
                    RQ_CHECK(tp.has_preferred_address);
                    RQ_CHECK_EQ_INT(tp.preferred_address.cid.len, v[24]);
                    RQ_CHECK_MEM(tp.preferred_address.cid.data, v + 25, v[24]);
                    RQ_CHECK_MEM(tp.preferred_address.stateless_reset_token, v + 25 + v[24],
                                 RQ_RESET_TOKEN_LEN);
                    break;
                }
                /* Valid once; twice (this value again, or another valid one, with another
                 * parameter in between or not) is forbidden. */
                uint8_t w[128];
                size_t wn;
                uint64_t y;
                do
                    wn = mig_7_4_value(&st, ids[k], w);
                while (!mig_7_4_oracle(ids[k], roles[ri], w, wn, &y));
                raw d;
                raw_copy(&d, &r);
                if (iter % 2)
                    raw_int(&d, RQ_TP_INITIAL_MAX_DATA, 1000);
                if (iter % 3)
                    raw_param(&d, ids[k], w, wn);
                else
                    raw_param(&d, ids[k], v, n);
                RQ_CHECK_ERR(decode_raw(&d, roles[ri]), RQ_ERR_TRANSPORT_PARAMETER);
            }
        }
    }
    /* Both outcomes were exercised for every parameter and role where both exist. */
    for (size_t k = 0; k < COUNT(ids); k++) {
        RQ_CHECK(invalid[k][0] > 50 && invalid[k][1] > 50);
        RQ_CHECK(valid[k][1] > 50);
        if (ids[k] == RQ_TP_DISABLE_ACTIVE_MIGRATION || ids[k] == RQ_TP_ACTIVE_CONNECTION_ID_LIMIT)
            RQ_CHECK(valid[k][0] > 50);
        else
            RQ_CHECK_EQ_INT(valid[k][0], 0); /* server-only */
    }
}

/* ---- §18 syntax ---- */

/* RFC 9000 §18: a truncated id, length or value is rejected. */
static void test_s18_truncated_id_length_value(void)
{
    raw r;
    raw_base(&r, RQ_ROLE_CLIENT);
    size_t base = raw_len(&r);
    /* Truncated id: the first byte of a 2-byte varint id, nothing after. */
    r.buf[base] = 0x40;
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, r.buf, base + 1),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* Missing length. */
    r.buf[base] = 0x01;
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, r.buf, base + 1),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* Truncated length: a 4-byte varint length with 2 bytes present. */
    r.buf[base + 1] = 0x80;
    r.buf[base + 2] = 0x00;
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, r.buf, base + 3),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* Truncated value: length 2, one byte present. */
    r.buf[base + 1] = 0x02;
    r.buf[base + 2] = 0x05;
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, r.buf, base + 3),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* A length far beyond the input (and beyond size_t on 32-bit hosts). */
    r.buf[base] = 0x2a; /* unknown id */
    rq_test_hex("ffffffffffffffff", r.buf + base + 1, 8);
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, r.buf, base + 9),
                 RQ_ERR_TRANSPORT_PARAMETER);
}

/* RFC 9000 §18: an integer parameter's value is exactly one varint; a value whose length
 * differs from its varint's is rejected, a non-minimal varint of the right length is not. */
static void test_s18_integer_length_mismatch(void)
{
    for (size_t i = 0; i < COUNT(int_ids); i++) {
        uint64_t id = int_ids[i];
        uint8_t v[16];
        /* Empty value. */
        RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, id, v, 0), RQ_ERR_TRANSPORT_PARAMETER);
        /* A valid value followed by a stray byte, and cut one byte short. */
        size_t vn = valid_value(id, v);
        v[vn] = 0x00;
        RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, id, v, vn + 1), RQ_ERR_TRANSPORT_PARAMETER);
        if (vn > 1)
            RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, id, v, vn - 1),
                         RQ_ERR_TRANSPORT_PARAMETER);
        /* A 2-byte varint's first byte only. */
        v[0] = 0x44;
        RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, id, v, 1), RQ_ERR_TRANSPORT_PARAMETER);
        /* An 8-byte varint in 4 bytes. */
        rq_test_hex("c0000000", v, 4);
        RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, id, v, 4), RQ_ERR_TRANSPORT_PARAMETER);
        /* A valid value in a non-minimal 8-byte encoding is accepted. */
        uint8_t ok[16];
        size_t n = valid_value(id, ok);
        rq_rd rd = rq_rd_init(ok, n);
        uint64_t val = 0;
        RQ_CHECK(rq_rd_varint(&rd, &val));
        rq_wr w = rq_wr_init(v, sizeof v);
        RQ_CHECK(rq_wr_varint_n(&w, val, 8));
        raw r;
        raw_base(&r, RQ_ROLE_CLIENT);
        raw_param(&r, id, v, 8);
        rq_tparams got;
        RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, r.buf, raw_len(&r)), RQ_OK);
    }
}

/* ---- §18.2 value ranges ---- */

/* RFC 9000 §18.2: max_udp_payload_size below 1200 is invalid. */
static void test_s18_2_max_udp_payload_size_below_1200(void)
{
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_UDP_PAYLOAD_SIZE, 1199),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_UDP_PAYLOAD_SIZE, 0),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_UDP_PAYLOAD_SIZE, 1200), RQ_OK);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_UDP_PAYLOAD_SIZE, 100000), RQ_OK);
}

/* RFC 9000 §18.2: ack_delay_exponent above 20 is invalid. */
static void test_s18_2_ack_delay_exponent_above_20(void)
{
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, RQ_TP_ACK_DELAY_EXPONENT, 21),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, RQ_TP_ACK_DELAY_EXPONENT, RQ_VARINT_MAX),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, RQ_TP_ACK_DELAY_EXPONENT, 20), RQ_OK);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, RQ_TP_ACK_DELAY_EXPONENT, 0), RQ_OK);
}

/* RFC 9000 §18.2: max_ack_delay of 2^14 or more is invalid. */
static void test_s18_2_max_ack_delay_2_14(void)
{
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_ACK_DELAY, 16384),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_ACK_DELAY, 1ULL << 40),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_MAX_ACK_DELAY, 16383), RQ_OK);
}

/* RFC 9000 §18.2 (§4.6): initial_max_streams_bidi/uni above 2^60 are invalid. */
static void test_s18_2_initial_max_streams_above_2_60(void)
{
    uint64_t ids[] = {RQ_TP_INITIAL_MAX_STREAMS_BIDI, RQ_TP_INITIAL_MAX_STREAMS_UNI};
    for (size_t i = 0; i < 2; i++) {
        RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, ids[i], (1ULL << 60) + 1),
                     RQ_ERR_TRANSPORT_PARAMETER);
        RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, ids[i], RQ_VARINT_MAX),
                     RQ_ERR_TRANSPORT_PARAMETER);
        RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, ids[i], 1ULL << 60), RQ_OK);
    }
}

/* MIG-18.2-05, RFC 9000 §18.2: active_connection_id_limit below 2 is a
 * TRANSPORT_PARAMETER_ERROR (the default of 2 when absent: test_s18_2_defaults_apply_when_absent;
 * a parameter error closes the connection with 0x08, see sim test_conn's forged Retry). */
static void test_s18_2_active_connection_id_limit_below_2(void)
{
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_ACTIVE_CONNECTION_ID_LIMIT, 0),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_SERVER, RQ_TP_ACTIVE_CONNECTION_ID_LIMIT, 1),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_int(RQ_ROLE_CLIENT, RQ_TP_ACTIVE_CONNECTION_ID_LIMIT, 2), RQ_OK);
}

/* RFC 9000 §18.2 and §17.2: a connection ID parameter longer than 20 bytes is invalid. */
static void test_s18_2_cid_longer_than_20(void)
{
    uint8_t v[21];
    memset(v, 0x33, sizeof v);
    /* initial_source_connection_id: raw_base already has one, so build without it. */
    raw r;
    raw_init(&r);
    raw_param(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, v, 21);
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    raw_init(&r);
    raw_param(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, v, 20);
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
    raw_init(&r);
    raw_param(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, v, 0); /* zero-length CIDs exist */
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
    /* original_destination_connection_id */
    raw_init(&r);
    raw_param(&r, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, v, 21);
    raw_param(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, v, 4);
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_ERR_TRANSPORT_PARAMETER);
    /* retry_source_connection_id */
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_RETRY_SOURCE_CONNECTION_ID, v, 21),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_RETRY_SOURCE_CONNECTION_ID, v, 20), RQ_OK);
}

/* RFC 9000 §18.2: stateless_reset_token is exactly 16 bytes. */
static void test_s18_2_stateless_reset_token_not_16(void)
{
    uint8_t v[17] = {0};
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_STATELESS_RESET_TOKEN, v, 15),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_STATELESS_RESET_TOKEN, v, 17),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_STATELESS_RESET_TOKEN, v, 0),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_STATELESS_RESET_TOKEN, v, 16), RQ_OK);
}

/* MIG-18.2-01, RFC 9000 §18.2: disable_active_migration has an empty value; a non-empty one is
 * a TRANSPORT_PARAMETER_ERROR. */
static void test_s18_2_disable_active_migration_non_empty(void)
{
    uint8_t v[2] = {0, 0};
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_CLIENT, RQ_TP_DISABLE_ACTIVE_MIGRATION, v, 1),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_DISABLE_ACTIVE_MIGRATION, v, 2),
                 RQ_ERR_TRANSPORT_PARAMETER);
    rq_tparams got;
    raw r;
    raw_base(&r, RQ_ROLE_CLIENT);
    raw_param(&r, RQ_TP_DISABLE_ACTIVE_MIGRATION, v, 0);
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, r.buf, raw_len(&r)), RQ_OK);
    RQ_CHECK(got.disable_active_migration);
}

/* RFC 9000 §18.2: preferred_address must have exactly the Figure 22 layout. */
static void test_s18_2_preferred_address_wrong_length(void)
{
    uint8_t v[128];
    size_t n;
    n = pa_value(v, 8, 0);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n), RQ_OK);
    n = pa_value(v, 8, 1); /* a trailing byte */
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n),
                 RQ_ERR_TRANSPORT_PARAMETER);
    n = pa_value(v, 8, -1); /* the token one byte short */
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n),
                 RQ_ERR_TRANSPORT_PARAMETER);
    n = pa_value(v, 8, -24); /* cut inside the CID */
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n),
                 RQ_ERR_TRANSPORT_PARAMETER);
    n = pa_value(v, 21, 0); /* a 21-byte CID */
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* Every length shorter than the fixed part, including the empty value. */
    n = pa_value(v, 1, 0);
    for (size_t cut = 0; cut < n; cut++)
        RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, cut),
                     RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n), RQ_OK);
}

/* MIG-18.2-04, RFC 9000 §18.2: a zero-length CID in preferred_address is a
 * TRANSPORT_PARAMETER_ERROR for the client. */
static void test_s18_2_preferred_address_zero_length_cid(void)
{
    uint8_t v[128];
    size_t n = pa_value(v, 0, 0);
    RQ_CHECK_EQ_INT(n, RQ_TP_PREFERRED_ADDRESS_FIXED_LEN);
    RQ_CHECK_ERR(decode_one_extra(RQ_ROLE_SERVER, RQ_TP_PREFERRED_ADDRESS, v, n),
                 RQ_ERR_TRANSPORT_PARAMETER);
}

/* MIG-18.2-04, RFC 9000 §18.2: a server using a zero-length connection ID (its
 * initial_source_connection_id) must not send preferred_address at all. */
static void test_s18_2_preferred_address_with_zero_length_server_cid(void)
{
    uint8_t v[128];
    size_t n = pa_value(v, 4, 0);
    raw r;
    raw_init(&r);
    raw_hex(&r, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, "0001020304050607");
    raw_param(&r, RQ_TP_PREFERRED_ADDRESS, v, n);
    raw_hex(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, "");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_ERR_TRANSPORT_PARAMETER);
}

/* MIG-18.2-02, RFC 9000 §18.2: a server treats receipt of any of the four server-only
 * parameters from a client as a TRANSPORT_PARAMETER_ERROR; the same bytes from a server are
 * fine. */
static void test_s18_2_server_only_from_client_rejected(void)
{
    static const uint64_t ids[] = {RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID,
                                   RQ_TP_PREFERRED_ADDRESS, RQ_TP_RETRY_SOURCE_CONNECTION_ID,
                                   RQ_TP_STATELESS_RESET_TOKEN};
    for (size_t i = 0; i < COUNT(ids); i++) {
        uint8_t v[128];
        size_t n = valid_value(ids[i], v);
        raw r;
        raw_base(&r, RQ_ROLE_CLIENT);
        raw_param(&r, ids[i], v, n);
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
        if (ids[i] != RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID)
            raw_hex(&r, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, "0102030405060708");
        RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_OK);
    }
}

/* RFC 9000 §18.2: a client's encoder never writes the server-only parameters. */
static void test_s18_2_client_encoder_omits_server_only(void)
{
    rq_tparams client, server_like, got;
    make_client(&client);
    make_server(&server_like);
    server_like.initial_scid = client.initial_scid;
    uint8_t a[RQ_TPARAMS_MAX_ENCODED_LEN], b[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t alen = 0, blen = 0;
    RQ_CHECK_ERR(rq_tparams_encode(&client, RQ_ROLE_CLIENT, a, sizeof a, &alen, 0), RQ_OK);
    RQ_CHECK_ERR(rq_tparams_encode(&server_like, RQ_ROLE_CLIENT, b, sizeof b, &blen, 0), RQ_OK);
    RQ_CHECK_EQ_INT(alen, blen);
    RQ_CHECK_MEM(a, b, alen);
    RQ_CHECK_ERR(rq_tparams_decode(&got, RQ_ROLE_CLIENT, b, blen), RQ_OK);
    RQ_CHECK(rq_tparams_eq(&got, &client));
}

/* ---- §7.3 presence and authentication of connection IDs ---- */

/* RFC 9000 §7.3: initial_source_connection_id is required from both sides and
 * original_destination_connection_id from the server; the decoder enforces both. */
static void test_s7_3_required_cids_missing(void)
{
    raw r;
    raw_init(&r);
    raw_int(&r, RQ_TP_INITIAL_MAX_DATA, 1000);
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_ERR_TRANSPORT_PARAMETER);
    raw_hex(&r, RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID, "0102030405060708");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_ERR_TRANSPORT_PARAMETER);
    /* The empty extension. */
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_CLIENT, NULL, 0),
                 RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(rq_tparams_decode(&(rq_tparams){0}, RQ_ROLE_SERVER, r.buf, 0),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* A server without original_destination_connection_id. */
    raw_init(&r);
    raw_hex(&r, RQ_TP_INITIAL_SOURCE_CONNECTION_ID, "01");
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_SERVER), RQ_ERR_TRANSPORT_PARAMETER);
    RQ_CHECK_ERR(decode_raw(&r, RQ_ROLE_CLIENT), RQ_OK);
    /* The encoder refuses to produce either. */
    rq_tparams tp;
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 0;
    make_server(&tp);
    tp.has_original_dcid = false;
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, buf, sizeof buf, &len, 0),
                 RQ_ERR_INVALID_ARG);
    make_client(&tp);
    tp.has_initial_scid = false;
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 0),
                 RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §7.3: matching CIDs pass — server without Retry, server after Retry, client. */
static void test_s7_3_check_cids_match(void)
{
    rq_tparams s;
    make_server(&s);
    rq_cid iscid = s.initial_scid, odcid = s.original_dcid, rscid = s.retry_scid;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &rscid), RQ_OK);
    s.has_retry_scid = false;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, NULL), RQ_OK);

    rq_tparams c;
    make_client(&c);
    rq_cid ciscid = c.initial_scid;
    RQ_CHECK_ERR(rq_tparams_check_cids(&c, RQ_ROLE_CLIENT, &ciscid, NULL, NULL), RQ_OK);
    /* A client peer's odcid/retry arguments are ignored. */
    RQ_CHECK_ERR(rq_tparams_check_cids(&c, RQ_ROLE_CLIENT, &ciscid, &odcid, &rscid), RQ_OK);

    /* Zero-length initial_source_connection_id matches a zero-length Source CID. */
    rq_cid empty = {0};
    c.initial_scid = empty;
    RQ_CHECK_ERR(rq_tparams_check_cids(&c, RQ_ROLE_CLIENT, &empty, NULL, NULL), RQ_OK);
}

/* RFC 9000 §7.3: any mismatch with the CIDs seen in Initial/Retry packets is an error (we
 * use TRANSPORT_PARAMETER_ERROR; PROTOCOL_VIOLATION would also be allowed). */
static void test_s7_3_check_cids_mismatch(void)
{
    rq_tparams s;
    make_server(&s);
    rq_cid iscid = s.initial_scid, odcid = s.original_dcid, rscid = s.retry_scid;
    rq_cid bad = iscid;
    bad.data[0] ^= 1;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &bad, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
    bad = iscid;
    bad.len--; /* a prefix is not a match */
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &bad, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
    bad = odcid;
    bad.data[7] ^= 0x80;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &bad, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
    bad = rscid;
    bad.data[9] ^= 0x01;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &bad),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* The odcid must not be confused with the Retry's SCID (the client's new DCID). */
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &rscid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);

    rq_tparams c;
    make_client(&c);
    rq_cid empty = {0};
    RQ_CHECK_ERR(rq_tparams_check_cids(&c, RQ_ROLE_CLIENT, &empty, NULL, NULL),
                 RQ_ERR_TRANSPORT_PARAMETER);
}

/* RFC 9000 §7.3: retry_source_connection_id absent after a Retry, or present without one. */
static void test_s7_3_check_cids_retry_presence(void)
{
    rq_tparams s;
    make_server(&s);
    rq_cid iscid = s.initial_scid, odcid = s.original_dcid, rscid = s.retry_scid;
    /* Present, but no Retry happened. */
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, NULL),
                 RQ_ERR_TRANSPORT_PARAMETER);
    /* A Retry happened, but the parameter is absent. */
    s.has_retry_scid = false;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
}

/* RFC 9000 §7.3 and §18.2: check_cids also refuses hand-built sets that lack the required
 * CIDs or where a client carries server-only parameters; bad arguments are INVALID_ARG. */
static void test_s7_3_check_cids_incomplete_and_args(void)
{
    rq_tparams s;
    make_server(&s);
    rq_cid iscid = s.initial_scid, odcid = s.original_dcid, rscid = s.retry_scid;
    s.has_original_dcid = false;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
    make_server(&s);
    s.has_initial_scid = false;
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);
    make_server(&s);
    s.initial_scid.len = 200; /* corrupt: must not over-read */
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, &odcid, &rscid),
                 RQ_ERR_TRANSPORT_PARAMETER);

    make_server(&s);
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_CLIENT, &iscid, NULL, NULL),
                 RQ_ERR_TRANSPORT_PARAMETER);
    rq_tparams c;
    make_client(&c);
    rq_cid ciscid = c.initial_scid;
    c.has_stateless_reset_token = true;
    RQ_CHECK_ERR(rq_tparams_check_cids(&c, RQ_ROLE_CLIENT, &ciscid, NULL, NULL),
                 RQ_ERR_TRANSPORT_PARAMETER);

    make_server(&s);
    RQ_CHECK_ERR(rq_tparams_check_cids(NULL, RQ_ROLE_SERVER, &iscid, &odcid, &rscid),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, NULL, &odcid, &rscid),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, RQ_ROLE_SERVER, &iscid, NULL, &rscid),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_check_cids(&s, (rq_role)7, &iscid, &odcid, &rscid), RQ_ERR_INVALID_ARG);
}

/* ---- encoder contract ---- */

/* RFC 9000 §18.2: the encoder refuses values the decoder would reject (INVALID_ARG). */
static void test_s18_2_encode_rejects_out_of_range(void)
{
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 12345;
    rq_tparams tp;
#define EXPECT_INVALID(role, mutation)                                                            \
    do {                                                                                          \
        if ((role) == RQ_ROLE_SERVER)                                                             \
            make_server(&tp);                                                                     \
        else                                                                                      \
            make_client(&tp);                                                                     \
        mutation;                                                                                 \
        RQ_CHECK_ERR(rq_tparams_encode(&tp, role, buf, sizeof buf, &len, 0), RQ_ERR_INVALID_ARG); \
    } while (0)
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.max_udp_payload_size = 1199);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.ack_delay_exponent = 21);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.max_ack_delay = 16384);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.initial_max_streams_bidi = (1ULL << 60) + 1);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.initial_max_streams_uni = (1ULL << 60) + 1);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.active_connection_id_limit = 1);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.initial_max_data = RQ_VARINT_MAX + 1);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.max_idle_timeout = UINT64_MAX);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.max_datagram_frame_size = RQ_VARINT_MAX + 1);
    EXPECT_INVALID(RQ_ROLE_CLIENT, tp.initial_scid.len = 21);
    EXPECT_INVALID(RQ_ROLE_SERVER, tp.original_dcid.len = 21);
    EXPECT_INVALID(RQ_ROLE_SERVER, tp.retry_scid.len = 21);
    EXPECT_INVALID(RQ_ROLE_SERVER, tp.preferred_address.cid.len = 0);
    EXPECT_INVALID(RQ_ROLE_SERVER, tp.preferred_address.cid.len = 21);
    EXPECT_INVALID(RQ_ROLE_SERVER, tp.initial_scid.len = 0);
#undef EXPECT_INVALID
    RQ_CHECK_EQ_U64(len, 12345); /* untouched on failure */
    /* Bad arguments. */
    make_client(&tp);
    RQ_CHECK_ERR(rq_tparams_encode(NULL, RQ_ROLE_CLIENT, buf, sizeof buf, &len, 0),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, buf, sizeof buf, NULL, 0),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_CLIENT, NULL, 10, &len, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_encode(&tp, (rq_role)2, buf, sizeof buf, &len, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_decode(NULL, RQ_ROLE_CLIENT, buf, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_decode(&tp, RQ_ROLE_CLIENT, NULL, 5), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tparams_decode(&tp, (rq_role)-1, buf, 0), RQ_ERR_INVALID_ARG);
    /* Range edges the encoder accepts. */
    tp.max_udp_payload_size = 1200;
    tp.ack_delay_exponent = 20;
    tp.max_ack_delay = 16383;
    tp.initial_max_streams_bidi = 1ULL << 60;
    tp.active_connection_id_limit = 2;
    tp.initial_max_data = RQ_VARINT_MAX;
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_CLIENT, 0), 0);
}

/* RFC 9000 §18: any capacity below the encoded length gives BUFFER_TOO_SMALL, and a maximal
 * set fits RQ_TPARAMS_MAX_ENCODED_LEN. */
static void test_s18_encode_buffer_too_small_and_max_len(void)
{
    rq_tparams tp;
    make_server(&tp);
    /* Make every integer as long as its range allows. */
    tp.max_idle_timeout = RQ_VARINT_MAX;
    tp.max_udp_payload_size = RQ_VARINT_MAX;
    tp.initial_max_data = RQ_VARINT_MAX;
    tp.initial_max_stream_data_bidi_local = RQ_VARINT_MAX;
    tp.initial_max_stream_data_bidi_remote = RQ_VARINT_MAX;
    tp.initial_max_stream_data_uni = RQ_VARINT_MAX;
    tp.initial_max_streams_bidi = 1ULL << 60;
    tp.initial_max_streams_uni = 1ULL << 60;
    tp.ack_delay_exponent = 20;
    tp.max_ack_delay = 16383;
    tp.active_connection_id_limit = RQ_VARINT_MAX;
    tp.max_datagram_frame_size = RQ_VARINT_MAX;
    tp.initial_scid = cid_of("000102030405060708090a0b0c0d0e0f10111213");
    tp.original_dcid = tp.initial_scid;
    tp.retry_scid = tp.initial_scid;
    /* The largest GREASE id whose value is 8 bytes long: (id / 31) % 8 == 7. */
    uint64_t n = (RQ_VARINT_MAX - 27) / 31;
    while (n % 8 != 7)
        n--;
    uint64_t grease = 27 + 31 * n;
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len = 0;
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, buf, sizeof buf, &len, grease), RQ_OK);
    RQ_CHECK(len <= RQ_TPARAMS_MAX_ENCODED_LEN);
    RQ_CHECK_EQ_INT(roundtrip(&tp, RQ_ROLE_SERVER, grease), 0);
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t small[RQ_TPARAMS_MAX_ENCODED_LEN];
        size_t got = 777;
        RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, small, cap, &got, grease),
                     RQ_ERR_BUFFER_TOO_SMALL);
        RQ_CHECK_EQ_U64(got, 777);
    }
    RQ_CHECK_ERR(rq_tparams_encode(&tp, RQ_ROLE_SERVER, NULL, 0, &len, 0), RQ_ERR_BUFFER_TOO_SMALL);
}

/* ---- robustness ---- */

/* RFC 9000 §18: truncating a valid encoding at every byte offset never crashes, fails with
 * TRANSPORT_PARAMETER_ERROR, or — only at a parameter boundary — yields exactly the
 * parameters before the cut (re-encoding gives back the prefix). */
static void test_s18_truncation_at_every_offset(void)
{
    for (int role = 0; role < 2; role++) {
        rq_tparams tp;
        if (role == RQ_ROLE_SERVER)
            make_server(&tp);
        else
            make_client(&tp);
        for (int g = 0; g < 2; g++) {
            uint8_t full[RQ_TPARAMS_MAX_ENCODED_LEN];
            size_t len = 0;
            uint64_t grease = g ? 27 + 31 * 3 : 0;
            RQ_CHECK_ERR(rq_tparams_encode(&tp, (rq_role)role, full, sizeof full, &len, grease),
                         RQ_OK);
            int successes = 0;
            for (size_t cut = 0; cut < len; cut++) {
                /* A copy of exactly `cut` bytes, so ASan sees any over-read. */
                uint8_t *copy = malloc(cut ? cut : 1);
                RQ_CHECK(copy != NULL);
                memcpy(copy, full, cut);
                rq_tparams got;
                int rc = rq_tparams_decode(&got, (rq_role)role, copy, cut);
                free(copy);
                if (rc != 0) {
                    RQ_CHECK_ERR(rc, RQ_ERR_TRANSPORT_PARAMETER);
                    continue;
                }
                successes++;
                uint8_t re[RQ_TPARAMS_MAX_ENCODED_LEN];
                size_t relen = 0;
                RQ_CHECK_ERR(rq_tparams_encode(&got, (rq_role)role, re, sizeof re, &relen, 0),
                             RQ_OK);
                /* GREASE comes last, so it is never inside a successful prefix. */
                RQ_CHECK_EQ_INT(relen, cut);
                RQ_CHECK_MEM(re, full, cut);
            }
            /* The cut before the last parameter(s) after initial_scid succeeds. */
            RQ_CHECK(successes >= 1);
        }
    }
}

static uint64_t rand_upto(uint64_t *st, uint64_t max)
{
    /* A value of random magnitude, so that every varint length shows up. */
    uint64_t v = rq_test_rand(st) >> (rq_test_rand(st) % 64);
    return v > max ? v % (max + 1) : v;
}

static void rand_cid(uint64_t *st, rq_cid *c, uint8_t min_len)
{
    c->len = (uint8_t)(min_len + rq_test_rand(st) % (RQ_MAX_CID_LEN + 1 - min_len));
    for (int i = 0; i < RQ_MAX_CID_LEN; i++)
        c->data[i] = (uint8_t)rq_test_rand(st);
}

static void rand_tparams(uint64_t *st, rq_tparams *tp, rq_role role)
{
    rq_tparams_init_defaults(tp);
#define MAYBE(stmt)                    \
    do {                               \
        if (rq_test_rand(st) % 4 != 0) \
            stmt;                      \
    } while (0)
    MAYBE(tp->max_idle_timeout = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->max_udp_payload_size = 1200 + rand_upto(st, RQ_VARINT_MAX - 1200));
    MAYBE(tp->initial_max_data = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->initial_max_stream_data_bidi_local = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->initial_max_stream_data_bidi_remote = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->initial_max_stream_data_uni = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->initial_max_streams_bidi = rand_upto(st, 1ULL << 60));
    MAYBE(tp->initial_max_streams_uni = rand_upto(st, 1ULL << 60));
    MAYBE(tp->ack_delay_exponent = rand_upto(st, 20));
    MAYBE(tp->max_ack_delay = rand_upto(st, 16383));
    MAYBE(tp->active_connection_id_limit = 2 + rand_upto(st, RQ_VARINT_MAX - 2));
    MAYBE(tp->max_datagram_frame_size = rand_upto(st, RQ_VARINT_MAX));
    MAYBE(tp->disable_active_migration = true);
#undef MAYBE
    tp->has_initial_scid = true;
    rand_cid(st, &tp->initial_scid, 0);
    /* The server-only ones are filled for a client too: its encoder must drop them. */
    tp->has_original_dcid = role == RQ_ROLE_SERVER || rq_test_rand(st) % 2;
    rand_cid(st, &tp->original_dcid, 0);
    tp->has_retry_scid = rq_test_rand(st) % 2;
    rand_cid(st, &tp->retry_scid, 0);
    tp->has_stateless_reset_token = rq_test_rand(st) % 2;
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        tp->stateless_reset_token[i] = (uint8_t)rq_test_rand(st);
    tp->has_preferred_address = tp->initial_scid.len > 0 && rq_test_rand(st) % 2;
    rq_preferred_address *pa = &tp->preferred_address;
    for (int i = 0; i < 4; i++)
        pa->ipv4_addr[i] = (uint8_t)rq_test_rand(st);
    for (int i = 0; i < 16; i++)
        pa->ipv6_addr[i] = (uint8_t)rq_test_rand(st);
    pa->ipv4_port = (uint16_t)rq_test_rand(st);
    pa->ipv6_port = (uint16_t)rq_test_rand(st);
    rand_cid(st, &pa->cid, 1);
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        pa->stateless_reset_token[i] = (uint8_t)rq_test_rand(st);
}

/* RFC 9000 §18: randomized sets of both roles, with and without GREASE, round-trip. */
static void test_s18_random_roundtrip(void)
{
    uint64_t st = rq_test_seed();
    unsigned long iters = rq_test_iterations(20000);
    for (unsigned long it = 0; it < iters; it++) {
        rq_role role = (rq_role)(rq_test_rand(&st) % 2);
        rq_tparams tp, got;
        rand_tparams(&st, &tp, role);
        uint64_t grease = 0;
        if (rq_test_rand(&st) % 2)
            grease = 27 + 31 * rand_upto(&st, (RQ_VARINT_MAX - 27) / 31);
        uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
        size_t len = 0;
        RQ_CHECK_ERR(rq_tparams_encode(&tp, role, buf, sizeof buf, &len, grease), RQ_OK);
        RQ_CHECK_ERR(rq_tparams_decode(&got, role, buf, len), RQ_OK);
        if (role == RQ_ROLE_CLIENT) {
            tp.has_original_dcid = tp.has_retry_scid = false;
            tp.has_stateless_reset_token = tp.has_preferred_address = false;
        }
        if (!rq_tparams_eq(&tp, &got)) {
            RQ_FAIL_("iteration %lu: decoded set differs", it);
            return;
        }
        RQ_CHECK_EQ_INT(roundtrip(&got, role, grease), 0);
    }
}

/* RFC 9000 §7.4: random and mutated inputs never crash; they either fail with
 * TRANSPORT_PARAMETER_ERROR or decode to a set that itself round-trips. */
static void test_s7_4_random_and_mutated_inputs(void)
{
    uint64_t st = rq_test_seed() ^ 0x1234;
    unsigned long iters = rq_test_iterations(20000);
    for (unsigned long it = 0; it < iters; it++) {
        rq_role role = (rq_role)(rq_test_rand(&st) % 2);
        uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
        size_t len = 0;
        if (it % 2) {
            len = rq_test_rand(&st) % 64;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rq_test_rand(&st);
        } else {
            rq_tparams tp;
            rand_tparams(&st, &tp, role);
            RQ_CHECK_ERR(rq_tparams_encode(&tp, role, buf, sizeof buf, &len, 27), RQ_OK);
            unsigned flips = 1 + (unsigned)(rq_test_rand(&st) % 3);
            for (unsigned f = 0; f < flips && len; f++)
                buf[rq_test_rand(&st) % len] ^= (uint8_t)(1u << (rq_test_rand(&st) % 8));
        }
        rq_tparams got;
        int rc = rq_tparams_decode(&got, role, buf, len);
        if (rc != 0) {
            RQ_CHECK_ERR(rc, RQ_ERR_TRANSPORT_PARAMETER);
            continue;
        }
        RQ_CHECK_EQ_INT(roundtrip(&got, role, 0), 0);
    }
}

int main(void)
{
    RQ_RUN(test_s18_2_init_defaults);
    RQ_RUN(test_s18_2_defaults_apply_when_absent);
    RQ_RUN(test_s18_2_client_full_roundtrip);
    RQ_RUN(test_s18_2_server_full_roundtrip);
    RQ_RUN(test_s18_known_answer_encodings);
    RQ_RUN(test_rfc9221_s3_max_datagram_frame_size);
    RQ_RUN(test_s18_1_reserved_ids);
    RQ_RUN(test_s18_1_grease_written_and_skipped);
    RQ_RUN(test_s7_4_2_unknown_parameters_skipped);
    RQ_RUN(test_s7_4_duplicate_known_rejected);
    RQ_RUN(test_s7_4_duplicate_unknown_rejected);
    RQ_RUN(test_s7_4_unknown_duplicate_tracking_bound);
    RQ_RUN(test_invalid_values_and_duplicates_mig_7_4_01);
    RQ_RUN(test_s18_truncated_id_length_value);
    RQ_RUN(test_s18_integer_length_mismatch);
    RQ_RUN(test_s18_2_max_udp_payload_size_below_1200);
    RQ_RUN(test_s18_2_ack_delay_exponent_above_20);
    RQ_RUN(test_s18_2_max_ack_delay_2_14);
    RQ_RUN(test_s18_2_initial_max_streams_above_2_60);
    RQ_RUN(test_s18_2_active_connection_id_limit_below_2);
    RQ_RUN(test_s18_2_cid_longer_than_20);
    RQ_RUN(test_s18_2_stateless_reset_token_not_16);
    RQ_RUN(test_s18_2_disable_active_migration_non_empty);
    RQ_RUN(test_s18_2_preferred_address_wrong_length);
    RQ_RUN(test_s18_2_preferred_address_zero_length_cid);
    RQ_RUN(test_s18_2_preferred_address_with_zero_length_server_cid);
    RQ_RUN(test_s18_2_server_only_from_client_rejected);
    RQ_RUN(test_s18_2_client_encoder_omits_server_only);
    RQ_RUN(test_s7_3_required_cids_missing);
    RQ_RUN(test_s7_3_check_cids_match);
    RQ_RUN(test_s7_3_check_cids_mismatch);
    RQ_RUN(test_s7_3_check_cids_retry_presence);
    RQ_RUN(test_s7_3_check_cids_incomplete_and_args);
    RQ_RUN(test_s18_2_encode_rejects_out_of_range);
    RQ_RUN(test_s18_encode_buffer_too_small_and_max_len);
    RQ_RUN(test_s18_truncation_at_every_offset);
    RQ_RUN(test_s18_random_roundtrip);
    RQ_RUN(test_s7_4_random_and_mutated_inputs);
    return rq_test_summary();
}
