/* Frames (RFC 9000 §19): round trips of every type, every decode rejection rule with its exact
 * error, truncation at every byte, encoder atomicity and validation, the §12.4 / §12.5
 * packet-type table, the ACK range iterator, the STREAM fitting helper, and a randomized
 * round trip over whole packets of frames. */
#include "core/frame.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

/* ---- shared fixtures ---- */

static uint8_t pool[1 << 17]; /* data that frames point at */

static void fill_pool(void)
{
    for (size_t i = 0; i < sizeof pool; i++)
        pool[i] = (uint8_t)(i * 7 + 3);
}

static const rq_ack_range ranges3[] = {{90, 100}, {80, 83}, {78, 78}};
static const rq_ack_range ranges_zero[] = {{0, 0}};
static const rq_ack_range ranges_wide[] = {{RQ_VARINT_MAX - 5, RQ_VARINT_MAX}, {0, 1000}};

#define MAX_SAMPLES 64

/* One valid frame of every type (several variants of some), in encoder form. */
static size_t sample_frames(rq_frame *s)
{
    size_t n = 0;
    memset(s, 0, sizeof(rq_frame) * MAX_SAMPLES);
    fill_pool();

    s[n].type = RQ_FT_PADDING, s[n++].padding.count = 1;
    s[n].type = RQ_FT_PADDING, s[n++].padding.count = 7;
    s[n++].type = RQ_FT_PING;

    s[n].type = RQ_FT_ACK, s[n].ack.ack_delay = 1234, s[n].ack.ranges = ranges3;
    s[n++].ack.ranges_count = 3;
    s[n].type = RQ_FT_ACK, s[n].ack.ranges = ranges_zero, s[n++].ack.ranges_count = 1;
    s[n].type = RQ_FT_ACK_ECN, s[n].ack.ack_delay = RQ_VARINT_MAX;
    s[n].ack.ranges = ranges_wide, s[n].ack.ranges_count = 2;
    s[n].ack.ect0 = 1, s[n].ack.ect1 = 70000, s[n++].ack.ecn_ce = RQ_VARINT_MAX;

    s[n].type = RQ_FT_RESET_STREAM, s[n].reset_stream.stream_id = 4;
    s[n].reset_stream.app_error = 0x0101, s[n++].reset_stream.final_size = 1u << 20;
    s[n].type = RQ_FT_STOP_SENDING, s[n].stop_sending.stream_id = RQ_VARINT_MAX;
    s[n++].stop_sending.app_error = 0;

    s[n].type = RQ_FT_CRYPTO, s[n].crypto.offset = 1000, s[n].crypto.length = 100;
    s[n++].crypto.data = pool;
    s[n].type = RQ_FT_CRYPTO, s[n].crypto.offset = RQ_VARINT_MAX - 5, s[n].crypto.length = 5;
    s[n++].crypto.data = pool + 9;
    s[n].type = RQ_FT_CRYPTO, s[n].crypto.offset = 0, s[n++].crypto.length = 0;

    s[n].type = RQ_FT_NEW_TOKEN, s[n].new_token.length = 40, s[n++].new_token.token = pool + 3;

    for (unsigned bits = 0; bits < 8; bits++) {
        s[n].type = RQ_FT_STREAM | bits;
        s[n].stream.stream_id = bits * 4 + 1;
        s[n].stream.offset = (bits & RQ_FT_STREAM_BIT_OFF) ? 77777 : 0;
        s[n].stream.has_len = (bits & RQ_FT_STREAM_BIT_LEN) != 0;
        s[n].stream.fin = (bits & RQ_FT_STREAM_BIT_FIN) != 0;
        s[n].stream.length = bits == 1 ? 0 : 50 + bits;
        s[n++].stream.data = pool + bits;
    }
    s[n].type = RQ_FT_STREAM, s[n].stream.stream_id = 0, s[n].stream.has_len = true;
    s[n].stream.offset = RQ_VARINT_MAX - 3, s[n].stream.length = 3, s[n++].stream.data = pool;

    s[n].type = RQ_FT_MAX_DATA, s[n++].max_data.max = 1u << 30;
    s[n].type = RQ_FT_MAX_STREAM_DATA, s[n].max_stream_data.stream_id = 8;
    s[n++].max_stream_data.max = 16383;
    s[n].type = RQ_FT_MAX_STREAMS_BIDI, s[n++].max_streams.max = RQ_MAX_STREAMS_LIMIT;
    s[n].type = RQ_FT_MAX_STREAMS_UNI, s[n++].max_streams.max = 100;
    s[n].type = RQ_FT_DATA_BLOCKED, s[n++].data_blocked.limit = 64;
    s[n].type = RQ_FT_STREAM_DATA_BLOCKED, s[n].stream_data_blocked.stream_id = 2;
    s[n++].stream_data_blocked.limit = 63;
    s[n].type = RQ_FT_STREAMS_BLOCKED_BIDI, s[n++].streams_blocked.limit = RQ_MAX_STREAMS_LIMIT;
    s[n].type = RQ_FT_STREAMS_BLOCKED_UNI, s[n++].streams_blocked.limit = 0;

    s[n].type = RQ_FT_NEW_CONNECTION_ID, s[n].new_cid.seq = 5, s[n].new_cid.retire_prior_to = 5;
    rq_cid_set(&s[n].new_cid.cid, pool + 1, 1);
    memcpy(s[n++].new_cid.reset_token, pool + 100, RQ_RESET_TOKEN_LEN);
    s[n].type = RQ_FT_NEW_CONNECTION_ID, s[n].new_cid.seq = 1u << 20;
    s[n].new_cid.retire_prior_to = 0;
    rq_cid_set(&s[n].new_cid.cid, pool + 2, RQ_MAX_CID_LEN);
    memcpy(s[n++].new_cid.reset_token, pool + 200, RQ_RESET_TOKEN_LEN);
    s[n].type = RQ_FT_RETIRE_CONNECTION_ID, s[n++].retire_cid.seq = 3;

    s[n].type = RQ_FT_PATH_CHALLENGE, memcpy(s[n++].path.data, pool + 11, 8);
    s[n].type = RQ_FT_PATH_RESPONSE, memcpy(s[n++].path.data, pool + 12, 8);

    s[n].type = RQ_FT_CONNECTION_CLOSE, s[n].close.error_code = 0x07;
    s[n].close.frame_type = RQ_FT_ACK, s[n].close.reason_len = 12;
    s[n++].close.reason = (const uint8_t *)"bad ack gaps";
    s[n].type = RQ_FT_CONNECTION_CLOSE_APP, s[n].close.error_code = 0x100;
    s[n].close.reason_len = 3, s[n++].close.reason = (const uint8_t *)"bye";
    s[n].type = RQ_FT_CONNECTION_CLOSE_APP, s[n++].close.error_code = 0;

    s[n++].type = RQ_FT_HANDSHAKE_DONE;
    return n;
}

static int decode_hex(const char *hex, uint8_t *buf, size_t cap, rq_frame *f, size_t *left)
{
    size_t n = rq_test_hex(hex, buf, cap);
    rq_rd r = rq_rd_init(buf, n);
    int rc = rq_frame_decode(&r, f);
    if (left)
        *left = rq_rd_left(&r);
    return rc;
}

static int decode_hex_rc(const char *hex)
{
    uint8_t buf[256];
    rq_frame f;
    return decode_hex(hex, buf, sizeof buf, &f, NULL);
}

/* ---- round trips ---- */

/* RFC 9000 §19.1-§19.20: every frame type encodes to encoded_len bytes and decodes back to
 * equal fields, consuming exactly the frame. */
static void test_rfc9000_19_roundtrip_every_type(void)
{
    rq_frame s[MAX_SAMPLES];
    size_t n = sample_frames(s);
    bool seen[RQ_FT_MAX_KNOWN + 1] = {false};
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[512];
        rq_wr w = rq_wr_init(buf, sizeof buf);
        size_t len = rq_frame_encoded_len(&s[i]);
        RQ_CHECK(len > 0);
        RQ_CHECK_ERR(rq_frame_encode(&w, &s[i]), RQ_OK);
        RQ_CHECK_EQ_INT(w.p - buf, len);
        rq_rd r = rq_rd_init(buf, len);
        rq_frame d;
        RQ_CHECK_ERR(rq_frame_decode(&r, &d), RQ_OK);
        RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
        RQ_CHECK(rq_frame_equal(&s[i], &d));
        RQ_CHECK(rq_frame_equal(&d, &s[i]));
        if (rq_ft_is_stream(s[i].type)) {
            /* The encoder derives the flag bits from the fields. */
            uint64_t bits = (s[i].stream.offset ? RQ_FT_STREAM_BIT_OFF : 0) |
                            (s[i].stream.has_len ? RQ_FT_STREAM_BIT_LEN : 0) |
                            (s[i].stream.fin ? RQ_FT_STREAM_BIT_FIN : 0);
            RQ_CHECK_EQ_U64(d.type, RQ_FT_STREAM | bits);
        } else {
            RQ_CHECK_EQ_U64(d.type, s[i].type);
        }
        /* A decoded frame re-encodes to the same bytes (the raw ACK form included). */
        uint8_t again[512];
        rq_wr w2 = rq_wr_init(again, sizeof again);
        RQ_CHECK_EQ_INT(rq_frame_encoded_len(&d), len);
        RQ_CHECK_ERR(rq_frame_encode(&w2, &d), RQ_OK);
        RQ_CHECK_EQ_INT(w2.p - again, len);
        RQ_CHECK_MEM(again, buf, len);
        seen[d.type] = true;
    }
    for (uint64_t t = 0; t <= RQ_FT_MAX_KNOWN; t++)
        RQ_CHECK(seen[t]);
}

/* RFC 9000 §19.3.1: the iterator yields ranges in descending order; this example has a gap
 * of 6 packets (84..89) and of 1 packet (79). */
static void test_rfc9000_19_3_1_ack_iter_multi_range(void)
{
    uint8_t buf[64];
    rq_frame f;
    size_t left;
    RQ_CHECK_ERR(decode_hex("02 4064 00 02 0a 05 03 00 00", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 0);
    RQ_CHECK_EQ_U64(f.type, RQ_FT_ACK);
    RQ_CHECK_EQ_U64(f.ack.largest, 100);
    RQ_CHECK_EQ_U64(f.ack.range_count, 2);
    RQ_CHECK_EQ_U64(f.ack.first_range, 10);
    RQ_CHECK_EQ_INT(f.ack.range_bytes_len, 4);
    static const rq_ack_range want[] = {{90, 100}, {80, 83}, {78, 78}};
    rq_ack_iter it;
    rq_ack_range got;
    size_t k = 0;
    rq_ack_iter_init(&it, &f.ack);
    while (rq_ack_iter_next(&it, &got)) {
        RQ_CHECK(k < 3);
        RQ_CHECK_EQ_U64(got.smallest, want[k].smallest);
        RQ_CHECK_EQ_U64(got.largest, want[k].largest);
        k++;
    }
    RQ_CHECK_EQ_INT(k, 3);
    RQ_CHECK(!it.invalid);
    /* The array form walks the same way, and compares equal to the decoded form. */
    rq_frame e;
    memset(&e, 0, sizeof e);
    e.type = RQ_FT_ACK, e.ack.ranges = want, e.ack.ranges_count = 3;
    RQ_CHECK(rq_frame_equal(&e, &f));
    e.ack.ranges_count = 2;
    RQ_CHECK(!rq_frame_equal(&e, &f));
}

/* RFC 9000 §19.1: a run of PADDING bytes decodes as one frame with its count. */
static void test_rfc9000_19_1_padding_run(void)
{
    uint8_t buf[16];
    size_t n = rq_test_hex("00 00 00 00 00 01 00", buf, sizeof buf);
    rq_rd r = rq_rd_init(buf, n);
    rq_frame f;
    RQ_CHECK_ERR(rq_frame_decode(&r, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.type, RQ_FT_PADDING);
    RQ_CHECK_EQ_INT(f.padding.count, 5);
    RQ_CHECK_ERR(rq_frame_decode(&r, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.type, RQ_FT_PING);
    RQ_CHECK_ERR(rq_frame_decode(&r, &f), RQ_OK);
    RQ_CHECK_EQ_INT(f.padding.count, 1);
    RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
    /* Nothing left is not a frame. */
    RQ_CHECK_ERR(rq_frame_decode(&r, &f), RQ_ERR_FRAME_ENCODING);
    /* Runs of every length up to 40, ending in another frame or at the end of the input. */
    for (size_t len = 1; len <= 40; len++)
        for (int tail = 0; tail < 2; tail++) {
            uint8_t *p = calloc(len + 1, 1);
            RQ_CHECK(p != NULL);
            p[len] = RQ_FT_PING;
            rq_rd rr = rq_rd_init(p, len + (size_t)tail);
            int rc = rq_frame_decode(&rr, &f);
            size_t count = f.padding.count, left = rq_rd_left(&rr);
            free(p);
            RQ_CHECK_ERR(rc, RQ_OK);
            RQ_CHECK_EQ_U64(f.type, RQ_FT_PADDING);
            RQ_CHECK_EQ_INT(count, len);
            RQ_CHECK_EQ_INT(left, tail);
        }
}

/* ---- truncation ---- */

/* RFC 9000 §12.4 ("frames always fit within a single QUIC packet"): every proper prefix of a
 * frame is an error that leaves the reader in place — except a PADDING run (a shorter run) and
 * a STREAM frame without Length (less data), which legitimately end with the input. */
static void test_rfc9000_12_4_truncation_every_offset(void)
{
    rq_frame s[MAX_SAMPLES];
    size_t n = sample_frames(s);
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[512];
        rq_wr w = rq_wr_init(buf, sizeof buf);
        RQ_CHECK_ERR(rq_frame_encode(&w, &s[i]), RQ_OK);
        size_t len = (size_t)(w.p - buf);
        bool stream_nolen = rq_ft_is_stream(s[i].type) && !s[i].stream.has_len;
        size_t hdr = stream_nolen ? len - s[i].stream.length : 0;
        for (size_t cut = 0; cut < len; cut++) {
            /* Copy the prefix into an exactly sized heap block so ASan sees any overread. */
            uint8_t *p = malloc(cut ? cut : 1);
            RQ_CHECK(p != NULL);
            memcpy(p, buf, cut);
            rq_rd r = rq_rd_init(p, cut);
            rq_frame d;
            int rc = rq_frame_decode(&r, &d);
            if (s[i].type == RQ_FT_PADDING && cut > 0) {
                RQ_CHECK_ERR(rc, RQ_OK);
                RQ_CHECK_EQ_INT(d.padding.count, cut);
            } else if (stream_nolen && cut >= hdr) {
                RQ_CHECK_ERR(rc, RQ_OK);
                RQ_CHECK_EQ_INT(d.stream.length, cut - hdr);
                RQ_CHECK(d.stream.data == p + hdr);
                RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
            } else {
                if (rc != RQ_ERR_FRAME_ENCODING)
                    fprintf(stderr, "  sample %zu type 0x%02x cut %zu/%zu\n", i,
                            (unsigned)s[i].type, cut, len);
                RQ_CHECK_ERR(rc, RQ_ERR_FRAME_ENCODING);
                RQ_CHECK(r.p == p);
            }
            free(p);
        }
    }
}

/* ---- §12.4 frame type encoding ---- */

/* RFC 9000 §12.4: an unknown frame type is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_12_4_unknown_type(void)
{
    RQ_CHECK_ERR(decode_hex_rc("1f"), RQ_ERR_FRAME_ENCODING);
    /* RFC 9221 §3: DATAGRAM without having offered it is a PROTOCOL_VIOLATION. */
    RQ_CHECK_ERR(decode_hex_rc("30 00"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("31 01 00"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("3f"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("4100"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("80 00 af 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("41"), RQ_ERR_FRAME_ENCODING); /* truncated type */
    RQ_CHECK_ERR(decode_hex_rc(""), RQ_ERR_FRAME_ENCODING);
}

/* RFC 9000 §12.4: a frame type in a longer encoding than necessary may be (and is) treated
 * as a PROTOCOL_VIOLATION. */
static void test_rfc9000_12_4_non_minimal_type(void)
{
    RQ_CHECK_ERR(decode_hex_rc("4001"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("4000"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("401e"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("80000008 00"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("c000000000000006 00 01 aa"), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(decode_hex_rc("403f"), RQ_ERR_PROTOCOL_VIOLATION); /* even if unknown */
    RQ_CHECK_ERR(decode_hex_rc("80003fff"), RQ_ERR_PROTOCOL_VIOLATION);
}

/* ---- ACK (§19.3) ---- */

/* RFC 9000 §19.3: First ACK Range larger than Largest Acknowledged makes the smallest
 * packet number negative. */
static void test_rfc9000_19_3_first_range_exceeds_largest(void)
{
    RQ_CHECK_ERR(decode_hex_rc("02 05 00 00 06"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 05 00 00 05"), RQ_OK); /* down to packet 0 exactly */
}

/* RFC 9000 §19.3.1: largest = previous_smallest - gap - 2 must not be negative. */
static void test_rfc9000_19_3_1_gap_underflow(void)
{
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 08 01 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 08 00 00"), RQ_OK); /* next largest = 0 */
    /* smallest 0 leaves no room for any further range */
    RQ_CHECK_ERR(decode_hex_rc("02 05 00 01 05 00 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 08 bfffffff 00"), RQ_ERR_FRAME_ENCODING);
}

/* RFC 9000 §19.3.1: smallest = largest - ack_range must not be negative. */
static void test_rfc9000_19_3_1_range_underflow(void)
{
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 00 00 09"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 00 00 08"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 02 00 00 05 00 02"), RQ_ERR_FRAME_ENCODING);
}

/* RFC 9000 §19.3: the ACK Range Count is bounded by the bytes that follow (each range takes
 * two bytes at least): a huge count is rejected without walking it. */
static void test_rfc9000_19_3_range_count_bounded_by_input(void)
{
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 bfffffff 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 ffffffffffffffff 00 00 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 02 00 00 00 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("02 0a 00 01 00 00"), RQ_ERR_FRAME_ENCODING);
}

/* RFC 9000 §19.3.2: ACK_ECN carries three counts after the ranges; ACK carries none. */
static void test_rfc9000_19_3_2_ack_ecn_counts(void)
{
    uint8_t buf[64];
    rq_frame f;
    size_t left;
    RQ_CHECK_ERR(decode_hex("03 0a 00 00 00 01 4002 03 99", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 1);
    RQ_CHECK_EQ_U64(f.ack.ect0, 1);
    RQ_CHECK_EQ_U64(f.ack.ect1, 2);
    RQ_CHECK_EQ_U64(f.ack.ecn_ce, 3);
    RQ_CHECK_ERR(decode_hex_rc("03 0a 00 00 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("03 0a 00 00 00 01 02"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex("02 0a 00 00 00 01 02 03", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 3);
}

/* RFC 9000 §19.3.1: the encoder takes ranges that are descending, well formed and separated
 * by at least one missing packet; anything else is refused. */
static void test_rfc9000_19_3_1_encoder_rejects_bad_ranges(void)
{
    static const rq_ack_range overlapping[] = {{10, 20}, {15, 18}};
    static const rq_ack_range adjacent[] = {{10, 20}, {5, 9}};
    static const rq_ack_range ascending[] = {{1, 2}, {10, 20}};
    static const rq_ack_range inverted[] = {{5, 3}};
    static const rq_ack_range too_big[] = {{0, RQ_VARINT_MAX + 1}};
    static const rq_ack_range gap_one[] = {{10, 20}, {5, 8}}; /* packet 9 missing: fine */
    static const struct {
        const rq_ack_range *r;
        size_t n;
        int rc;
    } cases[] = {{overlapping, 2, RQ_ERR_INVALID_ARG},
                 {adjacent, 2, RQ_ERR_INVALID_ARG},
                 {ascending, 2, RQ_ERR_INVALID_ARG},
                 {inverted, 1, RQ_ERR_INVALID_ARG},
                 {too_big, 1, RQ_ERR_INVALID_ARG},
                 {gap_one, 0, RQ_ERR_INVALID_ARG},
                 {gap_one, 2, RQ_OK}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        rq_wr w = rq_wr_init(buf, sizeof buf);
        rq_frame f;
        memset(&f, 0, sizeof f);
        f.type = RQ_FT_ACK, f.ack.ranges = cases[i].r, f.ack.ranges_count = cases[i].n;
        RQ_CHECK_ERR(rq_frame_encode(&w, &f), cases[i].rc);
        RQ_CHECK_EQ_INT(rq_frame_encoded_len(&f) == 0, cases[i].rc != RQ_OK);
    }
    /* gap_one encodes a Gap of 0 (one missing packet). */
    uint8_t buf[64], want[16];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_ACK, f.ack.ranges = gap_one, f.ack.ranges_count = 2;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_OK);
    size_t n = rq_test_hex("02 14 00 01 0a 00 03", want, sizeof want);
    RQ_CHECK_EQ_INT(w.p - buf, n);
    RQ_CHECK_MEM(buf, want, n);
    /* A decoded-form ACK whose fields the caller broke is refused too. */
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_ACK, f.ack.largest = 3, f.ack.first_range = 4;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.ack.first_range = 0, f.ack.range_count = 1; /* a range promised, no bytes */
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

/* ---- CRYPTO, NEW_TOKEN, STREAM ---- */

/* RFC 9000 §19.6: offset + length of CRYPTO data may not exceed 2^62-1. */
static void test_rfc9000_19_6_crypto_offset_limit(void)
{
    RQ_CHECK_ERR(decode_hex_rc("06 ffffffffffffffff 01 aa"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("06 fffffffffffffffe 02 aa bb"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("06 ffffffffffffffff 00"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("06 fffffffffffffffe 01 aa"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("06 00 05 aa bb"), RQ_ERR_FRAME_ENCODING); /* short data */
    uint8_t buf[64];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_CRYPTO, f.crypto.offset = RQ_VARINT_MAX, f.crypto.length = 1;
    f.crypto.data = buf;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.crypto.length = 0;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_OK);
}

/* RFC 9000 §19.7: a NEW_TOKEN frame with an empty token is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_7_new_token_empty(void)
{
    RQ_CHECK_ERR(decode_hex_rc("07 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("07 4000"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("07 02 aa"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("07 01 aa"), RQ_OK);
    uint8_t buf[16];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_NEW_TOKEN, f.new_token.token = buf;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §19.8: offset + length of STREAM data may not exceed 2^62-1, with or without a
 * Length field. */
static void test_rfc9000_19_8_stream_offset_limit(void)
{
    RQ_CHECK_ERR(decode_hex_rc("0e 00 ffffffffffffffff 01 aa"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("0c 00 ffffffffffffffff aa"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("0d 00 ffffffffffffffff"), RQ_OK); /* FIN at the limit */
    RQ_CHECK_ERR(decode_hex_rc("0e 00 fffffffffffffffe 01 aa"), RQ_OK);
    uint8_t buf[64];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_STREAM, f.stream.offset = RQ_VARINT_MAX - 1, f.stream.length = 2;
    f.stream.data = buf;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.stream.offset = RQ_VARINT_MAX + 1, f.stream.length = 0;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.stream.offset = 0, f.stream.stream_id = RQ_VARINT_MAX + 1;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §19.8: without the LEN bit the data runs to the end of the packet; with it the
 * Length must fit in what remains. The OFF/FIN bits are reported. */
static void test_rfc9000_19_8_stream_bits_and_extent(void)
{
    uint8_t buf[64];
    rq_frame f;
    size_t left;
    RQ_CHECK_ERR(decode_hex("08 04 aa bb cc", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 0);
    RQ_CHECK_EQ_U64(f.stream.stream_id, 4);
    RQ_CHECK_EQ_U64(f.stream.offset, 0);
    RQ_CHECK_EQ_INT(f.stream.length, 3);
    RQ_CHECK(!f.stream.fin && !f.stream.has_len);
    RQ_CHECK(f.stream.data == buf + 2);
    RQ_CHECK_ERR(decode_hex("0f 04 4100 02 aa bb cc", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 1);
    RQ_CHECK_EQ_U64(f.stream.offset, 0x100);
    RQ_CHECK_EQ_INT(f.stream.length, 2);
    RQ_CHECK(f.stream.fin && f.stream.has_len);
    RQ_CHECK_ERR(decode_hex("09 00", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK(f.stream.fin && f.stream.length == 0);
    RQ_CHECK_ERR(decode_hex_rc("0a 00 05 aa"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("0a 00"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("0c 00"), RQ_ERR_FRAME_ENCODING); /* OFF promised, absent */
    RQ_CHECK_ERR(decode_hex_rc("08"), RQ_ERR_FRAME_ENCODING);    /* no stream ID */
}

/* ---- stream counts, connection IDs, path, close ---- */

/* RFC 9000 §19.11: MAX_STREAMS above 2^60 is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_11_max_streams_limit(void)
{
    RQ_CHECK_ERR(decode_hex_rc("12 d000000000000000"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("13 d000000000000000"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("12 d000000000000001"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("13 ffffffffffffffff"), RQ_ERR_FRAME_ENCODING);
    uint8_t buf[16];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_MAX_STREAMS_UNI, f.max_streams.max = RQ_MAX_STREAMS_LIMIT + 1;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §19.14: STREAMS_BLOCKED above 2^60 is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_14_streams_blocked_limit(void)
{
    RQ_CHECK_ERR(decode_hex_rc("16 d000000000000000"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("17 d000000000000000"), RQ_OK);
    RQ_CHECK_ERR(decode_hex_rc("16 d000000000000001"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("17 e000000000000000"), RQ_ERR_FRAME_ENCODING);
    uint8_t buf[16];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_STREAMS_BLOCKED_BIDI, f.streams_blocked.limit = RQ_VARINT_MAX;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

#define TOKEN16 "00112233445566778899aabbccddeeff"

/* RFC 9000 §19.15: a connection ID length outside 1..20 is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_15_new_cid_length(void)
{
    RQ_CHECK_ERR(decode_hex_rc("18 01 00 00 " TOKEN16), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("18 01 00 15 " TOKEN16 TOKEN16), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("18 01 00 ff " TOKEN16 TOKEN16), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("18 01 00 14 " TOKEN16 TOKEN16 "00000000"), RQ_OK);
    uint8_t buf[64];
    rq_frame f;
    RQ_CHECK_ERR(decode_hex("18 01 00 01 aa " TOKEN16, buf, sizeof buf, &f, NULL), RQ_OK);
    RQ_CHECK_EQ_INT(f.new_cid.cid.len, 1);
    RQ_CHECK_EQ_INT(f.new_cid.cid.data[0], 0xaa);
    RQ_CHECK_EQ_INT(f.new_cid.reset_token[15], 0xff);
    rq_wr w = rq_wr_init(buf, sizeof buf);
    f.new_cid.cid.len = 0;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.new_cid.cid.len = 21;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_INT(rq_frame_encoded_len(&f), 0);
    RQ_CHECK(w.p == buf);
}

/* RFC 9000 §19.15: Retire Prior To greater than Sequence Number is a FRAME_ENCODING_ERROR. */
static void test_rfc9000_19_15_retire_prior_to_above_sequence(void)
{
    RQ_CHECK_ERR(decode_hex_rc("18 01 02 04 aabbccdd " TOKEN16), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("18 02 02 04 aabbccdd " TOKEN16), RQ_OK);
    uint8_t buf[64];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame f;
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_NEW_CONNECTION_ID, f.new_cid.seq = 1, f.new_cid.retire_prior_to = 2;
    f.new_cid.cid.len = 4;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §19.17, §19.18: PATH_CHALLENGE and PATH_RESPONSE carry exactly 8 bytes. */
static void test_rfc9000_19_17_path_data_8_bytes(void)
{
    uint8_t buf[32];
    rq_frame f;
    size_t left;
    RQ_CHECK_ERR(decode_hex("1a 0102030405060708 09", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 1);
    RQ_CHECK_EQ_INT(f.path.data[7], 8);
    RQ_CHECK_ERR(decode_hex_rc("1a 01020304050607"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("1b 01020304050607"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("1b 0102030405060708"), RQ_OK);
}

/* RFC 9000 §19.19: 0x1c carries the offending frame type, 0x1d does not; the reason phrase
 * must fit in the frame. */
static void test_rfc9000_19_19_connection_close(void)
{
    uint8_t buf[32];
    rq_frame f;
    size_t left;
    RQ_CHECK_ERR(decode_hex("1c 0a 06 03 616263", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 0);
    RQ_CHECK_EQ_U64(f.close.error_code, 0x0a);
    RQ_CHECK_EQ_U64(f.close.frame_type, 6);
    RQ_CHECK_EQ_INT(f.close.reason_len, 3);
    RQ_CHECK_MEM(f.close.reason, "abc", 3);
    RQ_CHECK_ERR(decode_hex("1d 0a 03 616263", buf, sizeof buf, &f, &left), RQ_OK);
    RQ_CHECK_EQ_INT(left, 0);
    RQ_CHECK_EQ_U64(f.close.frame_type, 0);
    RQ_CHECK_MEM(f.close.reason, "abc", 3);
    RQ_CHECK_ERR(decode_hex_rc("1d 0a 04 616263"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("1c 0a 03 616263"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("1c 0a 06 bfffffff 61"), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(decode_hex_rc("1d 0a 00"), RQ_OK);
}

/* ---- encoder behaviour ---- */

/* The encoder is atomic: when a frame does not fit, nothing is written and the writer does
 * not move — for every sample and every buffer size short of the frame. */
static void test_encode_atomic_when_too_small(void)
{
    rq_frame s[MAX_SAMPLES];
    size_t n = sample_frames(s);
    for (size_t i = 0; i < n; i++) {
        size_t len = rq_frame_encoded_len(&s[i]);
        for (size_t cap = 0; cap < len; cap++) {
            uint8_t buf[512];
            memset(buf, 0xa5, sizeof buf);
            rq_wr w = rq_wr_init(buf, cap);
            RQ_CHECK_ERR(rq_frame_encode(&w, &s[i]), RQ_ERR_BUFFER_TOO_SMALL);
            RQ_CHECK(w.p == buf);
            for (size_t k = 0; k < sizeof buf; k++)
                RQ_CHECK_EQ_INT(buf[k], 0xa5);
        }
    }
}

/* RFC 9000 §16, §19: values that cannot appear on the wire are refused by the encoder, and
 * encoded_len reports them as 0. */
static void test_rfc9000_19_encoder_rejects_invalid_values(void)
{
    rq_frame f;
    uint8_t buf[64];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_MAX_DATA, f.max_data.max = RQ_VARINT_MAX + 1;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_INT(rq_frame_encoded_len(&f), 0);
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_PADDING; /* count 0 */
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.type = 0x1f; /* unknown */
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_CRYPTO, f.crypto.length = 4; /* NULL data */
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_CONNECTION_CLOSE_APP, f.close.reason_len = 1; /* NULL reason */
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    memset(&f, 0, sizeof f);
    f.type = RQ_FT_ACK, f.ack.ranges = ranges3, f.ack.ranges_count = 3;
    f.ack.ack_delay = RQ_VARINT_MAX + 1;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    f.type = RQ_FT_ACK_ECN, f.ack.ack_delay = 0, f.ack.ecn_ce = RQ_VARINT_MAX + 1;
    RQ_CHECK_ERR(rq_frame_encode(&w, &f), RQ_ERR_INVALID_ARG);
    RQ_CHECK(w.p == buf);
}

/* Known encodings: each frame in its shortest form. */
static void test_rfc9000_19_known_encodings(void)
{
    rq_frame s[MAX_SAMPLES];
    sample_frames(s);
    static const struct {
        size_t idx;
        const char *hex;
    } cases[] = {
        {2, "01"},                             /* PING */
        {3, "02 4064 44d2 02 0a 05 03 00 00"}, /* ACK, three ranges */
        {4, "02 00 00 00 00"},                 /* ACK of packet 0 */
        {6, "04 04 4101 80100000"},            /* RESET_STREAM */
        {10, "06 00 00"},                      /* empty CRYPTO */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t want[64], buf[64];
        size_t n = rq_test_hex(cases[i].hex, want, sizeof want);
        rq_wr w = rq_wr_init(buf, sizeof buf);
        RQ_CHECK_ERR(rq_frame_encode(&w, &s[cases[i].idx]), RQ_OK);
        RQ_CHECK_EQ_INT(w.p - buf, n);
        RQ_CHECK_MEM(buf, want, n);
    }
}

/* RFC 9000 §19.8: rq_stream_frame_fit gives the most data that fits, checked against the
 * encoder at every room size around the Length field's 1/2/4-byte boundaries. */
static void test_rfc9000_19_8_stream_fit(void)
{
    fill_pool();
    static const uint64_t ids[] = {0, 63, 64, 16384};
    static const uint64_t offsets[] = {0, 1, 16383, 1u << 30};
    /* Every room up to 200 bytes and around the 2/4-byte Length boundary (16383). */
    size_t rooms[300], nrooms = 0;
    for (size_t k = 0; k <= 200; k++)
        rooms[nrooms++] = k;
    for (size_t k = 16370; k <= 16400; k++)
        rooms[nrooms++] = k;
    rooms[nrooms++] = 70000;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t c = 0; c < nrooms; c++)
                for (int with_len = 0; with_len < 2; with_len++)
                    for (int small_want = 0; small_want < 2; small_want++) {
                        size_t want = small_want ? 40 : sizeof pool;
                        size_t fit = 12345;
                        int rc =
                            rq_stream_frame_fit(ids[a], offsets[b], want, rooms[c], with_len, &fit);
                        rq_frame f;
                        memset(&f, 0, sizeof f);
                        f.type = RQ_FT_STREAM, f.stream.stream_id = ids[a];
                        f.stream.offset = offsets[b], f.stream.has_len = with_len;
                        f.stream.data = pool;
                        if (rc == RQ_ERR_BUFFER_TOO_SMALL) {
                            RQ_CHECK(rq_frame_encoded_len(&f) > rooms[c]);
                            continue;
                        }
                        RQ_CHECK_ERR(rc, RQ_OK);
                        RQ_CHECK(fit <= want);
                        f.stream.length = fit;
                        RQ_CHECK(rq_frame_encoded_len(&f) <= rooms[c]);
                        if (fit < want) {
                            f.stream.length = fit + 1;
                            RQ_CHECK(rq_frame_encoded_len(&f) > rooms[c]);
                        }
                    }
    size_t fit;
    RQ_CHECK_ERR(rq_stream_frame_fit(RQ_VARINT_MAX + 1, 0, 1, 100, true, &fit), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_stream_frame_fit(0, RQ_VARINT_MAX + 1, 1, 100, true, &fit), RQ_ERR_INVALID_ARG);
    /* §19.8: never past offset 2^62-1. */
    RQ_CHECK_ERR(rq_stream_frame_fit(0, RQ_VARINT_MAX - 2, 100, 100, false, &fit), RQ_OK);
    RQ_CHECK_EQ_INT(fit, 2);
    /* No LEN: all of the room after the header. Type + 1-byte ID + 2-byte offset. */
    RQ_CHECK_ERR(rq_stream_frame_fit(4, 100, 1000, 50, false, &fit), RQ_OK);
    RQ_CHECK_EQ_INT(fit, 46);
}

/* ---- packet-type rules ---- */

/* RFC 9000 §12.4 Table 3 "Pkts" column (with §12.5 applied: RETIRE_CONNECTION_ID impossible
 * in 0-RTT; 0x1d only in 0-RTT/1-RTT), written out independently of the implementation and
 * checked for every frame type × packet type × receiving role. */
static void test_rfc9000_12_4_table3_every_type_and_packet(void)
{
    static const char *const pkts[RQ_FT_MAX_KNOWN + 1] = {
        "IH01", "IH01", "IH_1", "IH_1", "__01", "__01", "IH_1", "___1", /* 0x00-0x07 */
        "__01", "__01", "__01", "__01", "__01", "__01", "__01", "__01", /* STREAM */
        "__01", "__01", "__01", "__01", "__01", "__01", "__01", "__01", /* 0x10-0x17 */
        "__01", "___1", "__01", "___1", "IH01", "__01", "___1",         /* 0x18-0x1e */
    };
    static const rq_pkt_type all_pkts[] = {RQ_PKT_INITIAL, RQ_PKT_0RTT, RQ_PKT_HANDSHAKE,
                                           RQ_PKT_RETRY,   RQ_PKT_1RTT, RQ_PKT_VERSION_NEGOTIATION};
    for (uint64_t t = 0; t <= RQ_FT_MAX_KNOWN; t++)
        for (size_t p = 0; p < sizeof all_pkts / sizeof all_pkts[0]; p++)
            for (int role = 0; role < 2; role++) {
                rq_pkt_type pkt = all_pkts[p];
                char letter = pkt == RQ_PKT_INITIAL     ? 'I'
                              : pkt == RQ_PKT_HANDSHAKE ? 'H'
                              : pkt == RQ_PKT_0RTT      ? '0'
                              : pkt == RQ_PKT_1RTT      ? '1'
                                                        : 'x';
                int want = RQ_OK;
                if (!strchr(pkts[t], letter) || letter == 'x')
                    want = RQ_ERR_PROTOCOL_VIOLATION;
                if (pkt == RQ_PKT_0RTT && role == RQ_ROLE_CLIENT)
                    want = RQ_ERR_PROTOCOL_VIOLATION; /* clients drop 0-RTT */
                if (role == RQ_ROLE_SERVER && (t == RQ_FT_NEW_TOKEN || t == RQ_FT_HANDSHAKE_DONE))
                    want = RQ_ERR_PROTOCOL_VIOLATION;
                int got = rq_frame_allowed(t, pkt, (rq_role)role);
                if (got != want)
                    fprintf(stderr, "  type 0x%02x pkt %d role %d\n", (unsigned)t, (int)pkt, role);
                RQ_CHECK_ERR(got, want);
            }
    static const uint64_t unknown[] = {0x1f, 0x20, 0x30, 0x40, 0x4000, RQ_VARINT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        RQ_CHECK_ERR(rq_frame_allowed(unknown[i], RQ_PKT_1RTT, RQ_ROLE_CLIENT),
                     RQ_ERR_FRAME_ENCODING);
}

/* RFC 9000 §12.5 / §17.2.3: ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE and
 * RETIRE_CONNECTION_ID cannot be in 0-RTT; STREAM and friends can. */
static void test_rfc9000_12_5_zero_rtt_forbidden_frames(void)
{
    static const uint64_t bad[] = {RQ_FT_ACK,
                                   RQ_FT_ACK_ECN,
                                   RQ_FT_CRYPTO,
                                   RQ_FT_HANDSHAKE_DONE,
                                   RQ_FT_NEW_TOKEN,
                                   RQ_FT_PATH_RESPONSE,
                                   RQ_FT_RETIRE_CONNECTION_ID};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        RQ_CHECK_ERR(rq_frame_allowed(bad[i], RQ_PKT_0RTT, RQ_ROLE_SERVER),
                     RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_STREAM | 7, RQ_PKT_0RTT, RQ_ROLE_SERVER), RQ_OK);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_PATH_CHALLENGE, RQ_PKT_0RTT, RQ_ROLE_SERVER), RQ_OK);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_NEW_CONNECTION_ID, RQ_PKT_0RTT, RQ_ROLE_SERVER), RQ_OK);
}

/* RFC 9000 §12.5 / §19.19: CONNECTION_CLOSE 0x1c may appear in any space, 0x1d only in the
 * application data space (0-RTT, 1-RTT). */
static void test_rfc9000_12_5_connection_close_spaces(void)
{
    for (int role = 0; role < 2; role++) {
        RQ_CHECK_ERR(rq_frame_allowed(0x1c, RQ_PKT_INITIAL, (rq_role)role), RQ_OK);
        RQ_CHECK_ERR(rq_frame_allowed(0x1c, RQ_PKT_HANDSHAKE, (rq_role)role), RQ_OK);
        RQ_CHECK_ERR(rq_frame_allowed(0x1c, RQ_PKT_1RTT, (rq_role)role), RQ_OK);
        RQ_CHECK_ERR(rq_frame_allowed(0x1d, RQ_PKT_INITIAL, (rq_role)role),
                     RQ_ERR_PROTOCOL_VIOLATION);
        RQ_CHECK_ERR(rq_frame_allowed(0x1d, RQ_PKT_HANDSHAKE, (rq_role)role),
                     RQ_ERR_PROTOCOL_VIOLATION);
        RQ_CHECK_ERR(rq_frame_allowed(0x1d, RQ_PKT_1RTT, (rq_role)role), RQ_OK);
    }
    RQ_CHECK_ERR(rq_frame_allowed(0x1d, RQ_PKT_0RTT, RQ_ROLE_SERVER), RQ_OK);
}

/* RFC 9000 §19.7, §19.20: a server receiving NEW_TOKEN or HANDSHAKE_DONE closes with
 * PROTOCOL_VIOLATION; a client accepts them in 1-RTT. */
static void test_rfc9000_19_7_19_20_server_refuses_client_only_frames(void)
{
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_NEW_TOKEN, RQ_PKT_1RTT, RQ_ROLE_SERVER),
                 RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_HANDSHAKE_DONE, RQ_PKT_1RTT, RQ_ROLE_SERVER),
                 RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_NEW_TOKEN, RQ_PKT_1RTT, RQ_ROLE_CLIENT), RQ_OK);
    RQ_CHECK_ERR(rq_frame_allowed(RQ_FT_HANDSHAKE_DONE, RQ_PKT_1RTT, RQ_ROLE_CLIENT), RQ_OK);
}

/* RFC 9000 §13.2 and §9.1: ack-eliciting and probing classification of every type. */
static void test_rfc9000_13_2_and_9_1_classification(void)
{
    for (uint64_t t = 0; t <= RQ_FT_MAX_KNOWN; t++) {
        bool non_eliciting = t == 0x00 || t == 0x02 || t == 0x03 || t == 0x1c || t == 0x1d;
        bool probing = t == 0x00 || t == 0x18 || t == 0x1a || t == 0x1b;
        RQ_CHECK_EQ_INT(rq_frame_is_ack_eliciting(t), !non_eliciting);
        RQ_CHECK_EQ_INT(rq_frame_is_probing(t), probing);
    }
}

/* ---- randomized ---- */

static uint64_t rand_varint(uint64_t *st)
{
    static const uint64_t caps[] = {0x3f, 0x3fff, 0x3fffffff, RQ_VARINT_MAX};
    uint64_t r = rq_test_rand(st);
    return rq_test_rand(st) & caps[r & 3];
}

static size_t rand_below(uint64_t *st, size_t n)
{
    return (size_t)(rq_test_rand(st) % n);
}

/* Fills f with a random valid frame; ranges gets the ACK ranges. `last` allows STREAM
 * without LEN (the frame must end the packet). */
static void random_frame(uint64_t *st, rq_frame *f, rq_ack_range *ranges, size_t max_ranges,
                         bool last)
{
    memset(f, 0, sizeof *f);
    uint64_t t;
    do
        t = rand_below(st, RQ_FT_MAX_KNOWN + 1);
    while (rq_ft_is_stream(t) && t != RQ_FT_STREAM); /* one STREAM draw, bits below */
    f->type = t;
    switch (t) {
    case RQ_FT_PADDING:
        f->padding.count = 1 + rand_below(st, 40);
        break;
    case RQ_FT_ACK:
    case RQ_FT_ACK_ECN: {
        f->type = RQ_FT_ACK + (rq_test_rand(st) & 1);
        uint64_t largest = rand_varint(st);
        size_t n = 0;
        for (;;) {
            uint64_t len = rand_varint(st) % (largest + 1) % 1000;
            ranges[n].largest = largest;
            ranges[n].smallest = largest - len;
            n++;
            uint64_t gap = rand_varint(st) % 300;
            if (n == max_ranges || ranges[n - 1].smallest < gap + 2 || rand_below(st, 4) == 0)
                break;
            largest = ranges[n - 1].smallest - gap - 2;
        }
        f->ack.ranges = ranges, f->ack.ranges_count = n;
        f->ack.ack_delay = rand_varint(st);
        f->ack.ect0 = rand_varint(st), f->ack.ect1 = rand_varint(st);
        f->ack.ecn_ce = rand_varint(st);
        if (f->type == RQ_FT_ACK)
            f->ack.ect0 = f->ack.ect1 = f->ack.ecn_ce = 0;
        break;
    }
    case RQ_FT_RESET_STREAM:
        f->reset_stream.stream_id = rand_varint(st);
        f->reset_stream.app_error = rand_varint(st);
        f->reset_stream.final_size = rand_varint(st);
        break;
    case RQ_FT_STOP_SENDING:
        f->stop_sending.stream_id = rand_varint(st);
        f->stop_sending.app_error = rand_varint(st);
        break;
    case RQ_FT_CRYPTO:
        f->crypto.length = rand_below(st, 200);
        f->crypto.offset = rand_varint(st) % (RQ_VARINT_MAX - f->crypto.length + 1);
        f->crypto.data = pool + rand_below(st, 1000);
        break;
    case RQ_FT_NEW_TOKEN:
        f->new_token.length = 1 + rand_below(st, 100);
        f->new_token.token = pool + rand_below(st, 1000);
        break;
    case RQ_FT_STREAM:
        f->type = RQ_FT_STREAM | rand_below(st, 8);
        f->stream.stream_id = rand_varint(st);
        f->stream.length = rand_below(st, 300);
        f->stream.offset = (f->type & RQ_FT_STREAM_BIT_OFF)
                               ? rand_varint(st) % (RQ_VARINT_MAX - f->stream.length + 1)
                               : 0;
        f->stream.fin = (f->type & RQ_FT_STREAM_BIT_FIN) != 0;
        f->stream.has_len = !last || (f->type & RQ_FT_STREAM_BIT_LEN) != 0;
        f->stream.data = pool + rand_below(st, 1000);
        break;
    case RQ_FT_MAX_DATA:
        f->max_data.max = rand_varint(st);
        break;
    case RQ_FT_MAX_STREAM_DATA:
        f->max_stream_data.stream_id = rand_varint(st);
        f->max_stream_data.max = rand_varint(st);
        break;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        f->max_streams.max = rand_varint(st) % (RQ_MAX_STREAMS_LIMIT + 1);
        break;
    case RQ_FT_DATA_BLOCKED:
        f->data_blocked.limit = rand_varint(st);
        break;
    case RQ_FT_STREAM_DATA_BLOCKED:
        f->stream_data_blocked.stream_id = rand_varint(st);
        f->stream_data_blocked.limit = rand_varint(st);
        break;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        f->streams_blocked.limit = rand_varint(st) % (RQ_MAX_STREAMS_LIMIT + 1);
        break;
    case RQ_FT_NEW_CONNECTION_ID:
        f->new_cid.seq = rand_varint(st);
        f->new_cid.retire_prior_to = rand_varint(st) % (f->new_cid.seq + 1);
        rq_cid_set(&f->new_cid.cid, pool + rand_below(st, 1000), 1 + rand_below(st, 20));
        memcpy(f->new_cid.reset_token, pool + rand_below(st, 1000), RQ_RESET_TOKEN_LEN);
        break;
    case RQ_FT_RETIRE_CONNECTION_ID:
        f->retire_cid.seq = rand_varint(st);
        break;
    case RQ_FT_PATH_CHALLENGE:
    case RQ_FT_PATH_RESPONSE:
        memcpy(f->path.data, pool + rand_below(st, 1000), RQ_PATH_DATA_LEN);
        break;
    case RQ_FT_CONNECTION_CLOSE:
    case RQ_FT_CONNECTION_CLOSE_APP:
        f->close.error_code = rand_varint(st);
        f->close.frame_type = t == RQ_FT_CONNECTION_CLOSE ? rand_varint(st) : 0;
        f->close.reason_len = rand_below(st, 60);
        f->close.reason = pool + rand_below(st, 1000);
        break;
    default: /* PING, HANDSHAKE_DONE */
        break;
    }
}

/* RFC 9000 §12.4, §19: random packets of random valid frames decode back frame by frame to
 * equal fields; planned sizes add up to the bytes written. RQ_TEST_SEED replays a run. */
static void test_rfc9000_19_randomized_packets_roundtrip(void)
{
    fill_pool();
    uint64_t st = rq_test_seed();
    unsigned long iters = rq_test_iterations(20000);
    enum { MAXF = 12, MAXR = 16 };
    for (unsigned long it = 0; it < iters; it++) {
        rq_frame frames[MAXF];
        rq_ack_range ranges[MAXF][MAXR];
        uint8_t pkt[8192];
        rq_wr w = rq_wr_init(pkt, sizeof pkt);
        size_t nf = 1 + rand_below(&st, MAXF), planned = 0;
        for (size_t i = 0; i < nf; i++) {
            do
                random_frame(&st, &frames[i], ranges[i], MAXR, i == nf - 1);
            /* two PADDING frames in a row would decode as one run */
            while (i > 0 && frames[i].type == RQ_FT_PADDING && frames[i - 1].type == RQ_FT_PADDING);
            size_t len = rq_frame_encoded_len(&frames[i]);
            RQ_CHECK(len > 0);
            planned += len;
            RQ_CHECK_ERR(rq_frame_encode(&w, &frames[i]), RQ_OK);
        }
        RQ_CHECK_EQ_INT(w.p - pkt, planned);
        rq_rd r = rq_rd_init(pkt, planned);
        for (size_t i = 0; i < nf; i++) {
            rq_frame d;
            RQ_CHECK_ERR(rq_frame_decode(&r, &d), RQ_OK);
            if (!rq_frame_equal(&frames[i], &d))
                fprintf(stderr, "  iteration %lu frame %zu type 0x%02x\n", it, i,
                        (unsigned)frames[i].type);
            RQ_CHECK(rq_frame_equal(&frames[i], &d));
        }
        RQ_CHECK_EQ_INT(rq_rd_left(&r), 0);
    }
}

/* RFC 9000 §12.4: a packet with no frames is a PROTOCOL_VIOLATION; PADDING counts as one. */
static void test_rfc9000_12_4_empty_payload(void)
{
    RQ_CHECK_ERR(rq_frame_check_payload(0), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_frame_check_payload(1), RQ_OK);
}

int main(void)
{
    RQ_RUN(test_rfc9000_12_4_empty_payload);
    RQ_RUN(test_rfc9000_19_roundtrip_every_type);
    RQ_RUN(test_rfc9000_19_known_encodings);
    RQ_RUN(test_rfc9000_19_1_padding_run);
    RQ_RUN(test_rfc9000_12_4_truncation_every_offset);
    RQ_RUN(test_rfc9000_12_4_unknown_type);
    RQ_RUN(test_rfc9000_12_4_non_minimal_type);
    RQ_RUN(test_rfc9000_19_3_1_ack_iter_multi_range);
    RQ_RUN(test_rfc9000_19_3_first_range_exceeds_largest);
    RQ_RUN(test_rfc9000_19_3_1_gap_underflow);
    RQ_RUN(test_rfc9000_19_3_1_range_underflow);
    RQ_RUN(test_rfc9000_19_3_range_count_bounded_by_input);
    RQ_RUN(test_rfc9000_19_3_2_ack_ecn_counts);
    RQ_RUN(test_rfc9000_19_3_1_encoder_rejects_bad_ranges);
    RQ_RUN(test_rfc9000_19_6_crypto_offset_limit);
    RQ_RUN(test_rfc9000_19_7_new_token_empty);
    RQ_RUN(test_rfc9000_19_8_stream_offset_limit);
    RQ_RUN(test_rfc9000_19_8_stream_bits_and_extent);
    RQ_RUN(test_rfc9000_19_8_stream_fit);
    RQ_RUN(test_rfc9000_19_11_max_streams_limit);
    RQ_RUN(test_rfc9000_19_14_streams_blocked_limit);
    RQ_RUN(test_rfc9000_19_15_new_cid_length);
    RQ_RUN(test_rfc9000_19_15_retire_prior_to_above_sequence);
    RQ_RUN(test_rfc9000_19_17_path_data_8_bytes);
    RQ_RUN(test_rfc9000_19_19_connection_close);
    RQ_RUN(test_encode_atomic_when_too_small);
    RQ_RUN(test_rfc9000_19_encoder_rejects_invalid_values);
    RQ_RUN(test_rfc9000_12_4_table3_every_type_and_packet);
    RQ_RUN(test_rfc9000_12_5_zero_rtt_forbidden_frames);
    RQ_RUN(test_rfc9000_12_5_connection_close_spaces);
    RQ_RUN(test_rfc9000_19_7_19_20_server_refuses_client_only_frames);
    RQ_RUN(test_rfc9000_13_2_and_9_1_classification);
    RQ_RUN(test_rfc9000_19_randomized_packets_roundtrip);
    return rq_test_summary();
}
