/* qlog (draft-ietf-quic-qlog-main-schema-13 + draft-ietf-quic-qlog-quic-events-12): every
 * record the sink receives is one RFC 7464 record holding strict JSON that matches the drafts'
 * definitions (tests/qlog_check.h), for every event and every frame type. */
#include "core/alloc.h"
#include "core/json.h"
#include "core/qlog.h"
#include "qlog_check.h"
#include "rqtest.h"

/* ---- a sink that keeps every record ---- */

typedef struct capture {
    uint8_t *rec[64];
    size_t len[64];
    int n;
    int fail_with; /* non-zero: the sink returns this */
} capture;

static int capture_sink(void *ctx, const uint8_t *record, size_t len)
{
    capture *c = ctx;
    if (c->fail_with)
        return c->fail_with;
    if (c->n == 64)
        return RQ_ERR_LIMIT;
    c->rec[c->n] = malloc(len);
    memcpy(c->rec[c->n], record, len);
    c->len[c->n++] = len;
    return 0;
}

static void capture_free(capture *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->rec[i]);
    c->n = 0;
}

/* Validates every record against the drafts; returns false and prints the first problem. */
static bool capture_valid(capture *c, qc_state *st)
{
    for (int i = 0; i < c->n; i++)
        if (!qc_record(st, c->rec[i], c->len[i])) {
            fprintf(stderr, "  record %d: %s\n  %.*s\n", i, st->err, (int)c->len[i] - 1,
                    (const char *)c->rec[i] + 1);
            return false;
        }
    return true;
}

/* Whether needle occurs in hay[0..n) (hay may hold NUL bytes, so no strstr). */
static bool contains(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* Parses record i (without RS) into d; the caller frees it. */
static bool parse_record(const capture *c, int i, qj_doc *d)
{
    return i < c->n && qj_parse(d, (const char *)c->rec[i] + 1, c->len[i] - 1) == 0;
}

static const rq_cid odcid = {8, {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}};
static const rq_time t0 = 5 * RQ_SEC; /* an arbitrary reference on the caller's clock */

/* ---- one frame of every kind frame.h can hold ---- */

static const uint8_t payload[3000];
static const uint8_t close_reason[] = "bye";
static const rq_ack_range ack_ranges[] = {{10, 12}, {5, 5}, {0, 2}};

static size_t all_frames(rq_frame *f)
{
    size_t n = 0;
    memset(f, 0, 32 * sizeof *f);
    f[n].type = RQ_FT_PADDING, f[n++].padding.count = 17;
    f[n++].type = RQ_FT_PING;
    f[n].type = RQ_FT_ACK, f[n].ack.ack_delay = 125, f[n].ack.ranges = ack_ranges;
    f[n++].ack.ranges_count = 3;
    f[n] = f[n - 1], f[n].type = RQ_FT_ACK_ECN, f[n].ack.ect0 = 4, f[n].ack.ect1 = 5;
    f[n++].ack.ecn_ce = 6;
    f[n].type = RQ_FT_RESET_STREAM, f[n].reset_stream.stream_id = 4;
    f[n].reset_stream.app_error = 0x10c, f[n++].reset_stream.final_size = 99;
    f[n].type = RQ_FT_STOP_SENDING, f[n].stop_sending.stream_id = 8;
    f[n++].stop_sending.app_error = 7;
    f[n].type = RQ_FT_CRYPTO, f[n].crypto.offset = 100, f[n].crypto.length = 300;
    f[n++].crypto.data = payload;
    f[n].type = RQ_FT_NEW_TOKEN, f[n].new_token.length = 40, f[n++].new_token.token = payload;
    f[n].type = RQ_FT_STREAM | RQ_FT_STREAM_BIT_FIN | RQ_FT_STREAM_BIT_LEN;
    f[n].stream.stream_id = 0, f[n].stream.offset = 1000, f[n].stream.length = 3000;
    f[n].stream.data = payload, f[n].stream.fin = true, f[n++].stream.has_len = true;
    f[n].type = RQ_FT_MAX_DATA, f[n++].max_data.max = 1 << 20;
    f[n].type = RQ_FT_MAX_STREAM_DATA, f[n].max_stream_data.stream_id = 4;
    f[n++].max_stream_data.max = 65536;
    f[n].type = RQ_FT_MAX_STREAMS_BIDI, f[n++].max_streams.max = 100;
    f[n].type = RQ_FT_MAX_STREAMS_UNI, f[n++].max_streams.max = 3;
    f[n].type = RQ_FT_DATA_BLOCKED, f[n++].data_blocked.limit = 1 << 20;
    f[n].type = RQ_FT_STREAM_DATA_BLOCKED, f[n].stream_data_blocked.stream_id = 4;
    f[n++].stream_data_blocked.limit = 65536;
    f[n].type = RQ_FT_STREAMS_BLOCKED_BIDI, f[n++].streams_blocked.limit = 100;
    f[n].type = RQ_FT_STREAMS_BLOCKED_UNI, f[n++].streams_blocked.limit = 3;
    f[n].type = RQ_FT_NEW_CONNECTION_ID, f[n].new_cid.seq = 2, f[n].new_cid.retire_prior_to = 1;
    rq_cid_set(&f[n].new_cid.cid, (const uint8_t *)"\x01\x02\x03\x04", 4);
    memset(f[n++].new_cid.reset_token, 0xab, RQ_RESET_TOKEN_LEN);
    f[n].type = RQ_FT_RETIRE_CONNECTION_ID, f[n++].retire_cid.seq = 1;
    f[n].type = RQ_FT_PATH_CHALLENGE,
    memcpy(f[n++].path.data, "\x00\x11\x22\x33\x44\x55\x66\x77", 8);
    f[n].type = RQ_FT_PATH_RESPONSE,
    memcpy(f[n++].path.data, "\x00\x11\x22\x33\x44\x55\x66\x77", 8);
    f[n].type = RQ_FT_CONNECTION_CLOSE, f[n].close.error_code = 0x07;
    f[n].close.frame_type = RQ_FT_STREAM, f[n].close.reason = close_reason;
    f[n++].close.reason_len = 3;
    f[n].type = RQ_FT_CONNECTION_CLOSE, f[n].close.error_code = 0x128; /* TLS alert 0x28 */
    f[n++].close.frame_type = 0x40;                                    /* not a v1 frame */
    f[n].type = RQ_FT_CONNECTION_CLOSE_APP, f[n++].close.error_code = 0x101;
    f[n++].type = RQ_FT_HANDSHAKE_DONE;
    f[n++].type = RQ_FT_DATAGRAM_LEN;
    f[n++].type = 0x40; /* unknown */
    return n;
}

/* Finds the first frame object of frame_type in the frames array node, or -1. */
static int find_frame(const qj_doc *d, int frames, const char *type, int skip)
{
    for (int f = d->n[frames].first; f >= 0; f = d->n[f].next)
        if (qj_str_is(d, qj_get(d, f, "frame_type"), type) && skip-- == 0)
            return f;
    return -1;
}

static uint64_t u64_at(const qj_doc *d, int obj, const char *key)
{
    int x = qj_get(d, obj, key);
    return x >= 0 && d->n[x].is_uint ? d->n[x].u : UINT64_MAX;
}

/* ---- tests ---- */

/* The header record: main-schema QlogFileSeq with TraceSeq, group_id = ODCID (quic-events
 * "Use of group IDs"), vantage point, event schema with the draft number. */
static void test_qlog_header_main_schema(void)
{
    int64_t live = rq_mem_live();
    capture c = {0};
    rq_qlog *q;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_SERVER, &odcid, t0), 0);
    RQ_CHECK_EQ_INT(c.n, 1);
    qc_state st = {.vantage = "server", .group_id = "8394c8f03e515708"};
    RQ_CHECK(capture_valid(&c, &st));
    /* the file schema is within the first 256 bytes, as the main schema asks */
    RQ_CHECK(contains((const char *)c.rec[0], c.len[0] < 256 ? c.len[0] : 256, "\"file_schema\""));
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* Every frame type of frame.h in one packet_received: the draft's frame_type names and fields,
 * checked field by field by the schema checker and by value here. */
static void test_qlog_every_frame_type(void)
{
    int64_t live = rq_mem_live();
    capture c = {0};
    rq_qlog *q;
    rq_frame f[32];
    size_t n = all_frames(f);
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_CLIENT, &odcid, t0), 0);
    RQ_CHECK_ERR(rq_qlog_set_ack_delay_exponents(q, 3, 2), 0);
    rq_cid dcid = {4, {9, 8, 7, 6}};
    rq_qlog_packet p = {.type = RQ_PKT_1RTT,
                        .pn = 42,
                        .dcid = &dcid,
                        .key_phase_bit = 1,
                        .length = 1200,
                        .frames = f,
                        .frame_count = n};
    RQ_CHECK_ERR(rq_qlog_packet_received(q, t0 + RQ_MS, 0, &p), 0);
    qc_state st = {.vantage = "client"};
    RQ_CHECK(capture_valid(&c, &st));
    /* every frame_type the checker knows appeared */
    RQ_CHECK_EQ_U64(st.frame_types_seen, (1u << QC_FRAME_SPEC_COUNT) - 1);

    qj_doc d;
    RQ_CHECK(parse_record(&c, 1, &d));
    int data = qj_get(&d, 0, "data"), fr = qj_get(&d, data, "frames");
    int hdr = qj_get(&d, data, "header");
    RQ_CHECK(qj_str_is(&d, qj_get(&d, 0, "name"), "quic:packet_received"));
    RQ_CHECK(qj_str_is(&d, qj_get(&d, hdr, "packet_type"), "1RTT"));
    RQ_CHECK_EQ_U64(u64_at(&d, hdr, "packet_number"), 42);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, hdr, "dcid"), "09080706"));
    RQ_CHECK_EQ_U64(u64_at(&d, qj_get(&d, data, "raw"), "length"), 1200);
    RQ_CHECK_EQ_INT(d.n[fr].count, (int)n);
    /* ACK: received, so the peer's exponent 2: 125 << 2 = 500 us = 0.5 ms; ranges low..high */
    int ack = find_frame(&d, fr, "ack", 0);
    RQ_CHECK(d.n[qj_get(&d, ack, "ack_delay")].num == 0.5);
    int ranges = qj_get(&d, ack, "acked_ranges");
    RQ_CHECK_EQ_INT(d.n[ranges].count, 3);
    RQ_CHECK_EQ_U64(d.n[qj_at(&d, qj_at(&d, ranges, 0), 1)].u, 12);
    RQ_CHECK_EQ_INT(d.n[qj_at(&d, ranges, 1)].count, 1); /* [5], not [5,5] */
    RQ_CHECK_EQ_U64(u64_at(&d, find_frame(&d, fr, "ack", 1), "ce"), 6);
    /* STREAM: its length in raw.length, never its bytes */
    int stream = find_frame(&d, fr, "stream", 0);
    RQ_CHECK_EQ_U64(u64_at(&d, qj_get(&d, stream, "raw"), "length"), 3000);
    RQ_CHECK_EQ_U64(u64_at(&d, stream, "offset"), 1000);
    RQ_CHECK(d.n[qj_get(&d, stream, "fin")].b);
    RQ_CHECK_EQ_U64(u64_at(&d, qj_get(&d, find_frame(&d, fr, "crypto", 0), "raw"), "length"), 300);
    RQ_CHECK_EQ_U64(
        u64_at(&d, qj_get(&d, find_frame(&d, fr, "padding", 0), "raw"), "payload_length"), 17);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, find_frame(&d, fr, "max_streams", 1), "stream_type"),
                       "unidirectional"));
    RQ_CHECK(qj_str_is(&d, qj_get(&d, find_frame(&d, fr, "path_challenge", 0), "data"),
                       "0011223344556677"));
    int ncid = find_frame(&d, fr, "new_connection_id", 0);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, ncid, "connection_id"), "01020304"));
    RQ_CHECK_EQ_U64(u64_at(&d, ncid, "connection_id_length"), 4);
    /* CONNECTION_CLOSE: names for known codes and frame types, "unknown" + number otherwise */
    int cc = find_frame(&d, fr, "connection_close", 0);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "error"), "frame_encoding_error"));
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "trigger_frame_type"), "stream"));
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "reason"), "bye"));
    cc = find_frame(&d, fr, "connection_close", 1);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "error"), "crypto_error_0x128"));
    RQ_CHECK_EQ_U64(u64_at(&d, cc, "trigger_frame_type"), 0x40);
    cc = find_frame(&d, fr, "connection_close", 2);
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "error_space"), "application"));
    RQ_CHECK(qj_str_is(&d, qj_get(&d, cc, "error"), "unknown"));
    RQ_CHECK_EQ_U64(u64_at(&d, cc, "error_code"), 0x101);
    RQ_CHECK_EQ_U64(u64_at(&d, find_frame(&d, fr, "unknown", 0), "frame_type_bytes"), 0x40);
    RQ_CHECK_EQ_U64(u64_at(&d, find_frame(&d, fr, "reset_stream", 0), "error_code"), 0x10c);
    qj_free(&d);
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* A connection's worth of events, each validated; packet type names exactly as the draft
 * spells them; times relative to the reference, in ms, never decreasing. */
static void test_qlog_event_sequence(void)
{
    int64_t live = rq_mem_live();
    capture c = {0};
    rq_qlog *q;
    rq_cid scid = {2, {0xaa, 0xbb}}, dcid = {4, {1, 2, 3, 4}};
    rq_path_addr pa = {rq_addr_v4(192, 0, 2, 1, 4433), rq_addr_v4(198, 51, 100, 7, 443)};
    rq_path_addr pb = pa;
    memset(pb.local.ip, 0, sizeof pb.local.ip);
    pb.local.family = RQ_AF_INET6, pb.local.ip[0] = 0x20, pb.local.ip[1] = 0x01;
    pb.local.ip[15] = 1;
    rq_frame fr[2] = {{.type = RQ_FT_CRYPTO}, {.type = RQ_FT_PADDING}};
    fr[0].crypto.length = 280, fr[0].crypto.data = payload, fr[1].padding.count = 900;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_CLIENT, &odcid, t0), 0);
    RQ_CHECK_ERR(rq_qlog_connection_started(q, t0, &pa, &scid, &odcid), 0);
    static const struct {
        rq_pkt_type t;
        const char *name;
    } types[] = {
        {RQ_PKT_INITIAL, "initial"},     {RQ_PKT_0RTT, "0RTT"},
        {RQ_PKT_HANDSHAKE, "handshake"}, {RQ_PKT_1RTT, "1RTT"},
        {RQ_PKT_RETRY, "retry"},         {RQ_PKT_VERSION_NEGOTIATION, "version_negotiation"}};
    static const uint32_t versions[] = {1, 0x6b3343cf};
    for (size_t i = 0; i < 6; i++) {
        rq_qlog_packet p = {.type = types[i].t,
                            .pn = i,
                            .version = 1,
                            .dcid = &dcid,
                            .scid = &scid,
                            .token_len = 16,
                            .key_phase_bit = -1,
                            .length = 1200,
                            .frames = fr,
                            .frame_count = 2,
                            .has_datagram_id = true,
                            .datagram_id = 7,
                            .supported_versions = versions,
                            .supported_version_count = 2};
        if (p.type == RQ_PKT_RETRY || p.type == RQ_PKT_VERSION_NEGOTIATION)
            p.frames = NULL, p.frame_count = 0;
        RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + i * 1500000, 0, &p), 0);
    }
    rq_qlog_packet lost = {.type = RQ_PKT_1RTT, .pn = 3, .key_phase_bit = -1};
    RQ_CHECK_ERR(rq_qlog_packet_lost(q, t0 + 20 * RQ_MS, 0, &lost, RQ_QLOG_LOSS_TIME_THRESHOLD), 0);
    rq_qlog_metrics m = {.present = RQ_QLOG_M_SMOOTHED_RTT | RQ_QLOG_M_CWND |
                                    RQ_QLOG_M_BYTES_IN_FLIGHT | RQ_QLOG_M_PTO_COUNT,
                         .smoothed_rtt = 33333333,
                         .congestion_window = 12000,
                         .bytes_in_flight = 2400,
                         .pto_count = 1};
    RQ_CHECK_ERR(rq_qlog_recovery_metrics(q, t0 + 20 * RQ_MS, 0, &m), 0);
    RQ_CHECK_ERR(rq_qlog_tuple_assigned(q, t0 + 21 * RQ_MS, 1, &pb, &scid, &dcid), 0);
    RQ_CHECK_ERR(rq_qlog_migration_state_updated(q, t0 + 21 * RQ_MS, 1, RQ_QLOG_MIGRATION_NONE,
                                                 RQ_QLOG_PROBING_STARTED),
                 0);
    rq_qlog_packet probe = {.type = RQ_PKT_1RTT,
                            .pn = 9,
                            .dcid = &dcid,
                            .key_phase_bit = 0,
                            .is_mtu_probe = true,
                            .trigger = RQ_QLOG_PKT_PTO_PROBE};
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 22 * RQ_MS, 1, &probe), 0);
    RQ_CHECK_ERR(rq_qlog_migration_state_updated(q, t0 + 30 * RQ_MS, 1, RQ_QLOG_PROBING_STARTED,
                                                 RQ_QLOG_MIGRATION_COMPLETE),
                 0);
    RQ_CHECK_ERR(rq_qlog_tuple_assigned(q, t0 + 31 * RQ_MS, 0, NULL, NULL, NULL), 0);
    rq_qlog_close cl = {.has_error = true, .error_code = 0x0a, .trigger = RQ_QLOG_CLOSE_ERROR};
    RQ_CHECK_ERR(rq_qlog_connection_closed(q, t0 + 40 * RQ_MS, &cl), 0);
    qc_state st = {.vantage = "client", .group_id = "8394c8f03e515708"};
    RQ_CHECK(capture_valid(&c, &st));
    RQ_CHECK_EQ_INT(c.n, 16);

    qj_doc d;
    for (int i = 0; i < 6; i++) { /* packet_sent records 2..7 */
        RQ_CHECK(parse_record(&c, 2 + i, &d));
        int data = qj_get(&d, 0, "data"), h = qj_get(&d, data, "header");
        bool has_pn = types[i].t != RQ_PKT_RETRY && types[i].t != RQ_PKT_VERSION_NEGOTIATION;
        bool ok = qj_str_is(&d, qj_get(&d, h, "packet_type"), types[i].name) &&
                  (qj_get(&d, h, "packet_number") >= 0) == has_pn &&
                  (qj_get(&d, h, "scid") >= 0) == (types[i].t != RQ_PKT_1RTT) &&
                  (qj_get(&d, h, "token") >= 0) ==
                      (types[i].t == RQ_PKT_INITIAL || types[i].t == RQ_PKT_RETRY) &&
                  (qj_get(&d, data, "supported_versions") >= 0) ==
                      (types[i].t == RQ_PKT_VERSION_NEGOTIATION) &&
                  d.n[qj_get(&d, 0, "time")].num == 1.5 * i && u64_at(&d, data, "datagram_id") == 7;
        qj_free(&d);
        RQ_CHECK(ok);
    }
    RQ_CHECK(parse_record(&c, 9, &d)); /* recovery_metrics_updated: only what was flagged */
    int data = qj_get(&d, 0, "data");
    bool ok = d.n[data].count == 4 && d.n[qj_get(&d, data, "smoothed_rtt")].num == 33.333 &&
              u64_at(&d, data, "congestion_window") == 12000 && qj_get(&d, 0, "tuple") < 0;
    qj_free(&d);
    RQ_CHECK(ok);
    RQ_CHECK(parse_record(&c, 12, &d)); /* the probe on path 1 carries "tuple": "1" */
    ok = qj_str_is(&d, qj_get(&d, 0, "tuple"), "1") &&
         qj_str_is(&d, qj_get(&d, qj_get(&d, 0, "data"), "trigger"), "pto_probe");
    qj_free(&d);
    RQ_CHECK(ok);
    RQ_CHECK(parse_record(&c, 10, &d)); /* tuple_assigned with both endpoint halves */
    data = qj_get(&d, 0, "data");
    ok = qj_str_is(&d, qj_get(&d, data, "tuple_id"), "1") &&
         qj_str_is(&d, qj_get(&d, qj_get(&d, data, "tuple_local"), "ip_v6"),
                   "2001:0000:0000:0000:0000:0000:0000:0001") &&
         qj_str_is(&d, qj_get(&d, qj_get(&d, data, "tuple_remote"), "ip_v4"), "198.51.100.7");
    qj_free(&d);
    RQ_CHECK(ok);
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* A peer's CONNECTION_CLOSE reason is arbitrary bytes: quotes, backslashes, every control
 * byte, DEL, invalid UTF-8 (stray continuation, overlong, surrogate, truncated, > U+10FFFF)
 * and valid multi-byte characters must all come out as valid JSON, the valid text intact. */
static void test_qlog_close_reason_escaping(void)
{
    int64_t live = rq_mem_live();
    uint8_t reason[128];
    size_t n = 0;
    const char *pre = "q\"b\\s/";
    memcpy(reason, pre, strlen(pre)), n += strlen(pre);
    for (int b = 0; b < 0x20; b++)
        reason[n++] = (uint8_t)b;
    static const uint8_t tail[] = {0x7f, 0x80, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4,
                                   0x90, 0x80, 0x80, 0xc3, 0xa9, 0xe2, 0x82, 0xac,
                                   0xf0, 0x9f, 0x98, 0x80, 0xff, 0xe2, 0x82};
    memcpy(reason + n, tail, sizeof tail), n += sizeof tail;
    capture c = {0};
    rq_qlog *q;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_SERVER, &odcid, t0), 0);
    rq_frame f = {.type = RQ_FT_CONNECTION_CLOSE_APP};
    f.close.reason = reason, f.close.reason_len = n, f.close.error_code = 3;
    rq_qlog_packet p = {
        .type = RQ_PKT_1RTT, .pn = 1, .key_phase_bit = -1, .frames = &f, .frame_count = 1};
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0, 0, &p), 0);
    rq_qlog_close cl = {.by_peer = true,
                        .has_error = true,
                        .application = true,
                        .error_code = 3,
                        .reason = reason,
                        .reason_len = n,
                        .trigger = RQ_QLOG_CLOSE_APPLICATION};
    RQ_CHECK_ERR(rq_qlog_connection_closed(q, t0, &cl), 0);
    qc_state st = {0};
    RQ_CHECK(capture_valid(&c, &st));
    for (int i = 1; i <= 2; i++) {
        qj_doc d;
        RQ_CHECK(parse_record(&c, i, &d));
        int data = qj_get(&d, 0, "data");
        int obj = i == 1 ? qj_at(&d, qj_get(&d, data, "frames"), 0) : data;
        const qj_node *r = &d.n[qj_get(&d, obj, "reason")];
        /* the decoded text: ASCII and controls as they were, each invalid byte U+FFFD */
        bool ok = r->str_len > 6 + 32 && memcmp(r->str, pre, 6) == 0 &&
                  memcmp(r->str + 6, reason + 6, 32) == 0 &&
                  contains(r->str, r->str_len, "\x7f\xef\xbf\xbd") &&
                  contains(r->str, r->str_len, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd");
        /* the bytes themselves, since the text was lossy */
        int rb = qj_get(&d, obj, "reason_bytes");
        ok = ok && rb >= 0 && d.n[rb].str_len == 2 * n && strncmp(d.n[rb].str, "7122", 4) == 0;
        ok = ok && (i == 1 || qj_str_is(&d, qj_get(&d, data, "initiator"), "remote"));
        qj_free(&d);
        RQ_CHECK(ok);
    }
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* A NULL logger is a no-op for every event function, so the connection can call them all
 * unconditionally. */
static void test_qlog_null_logger_noop(void)
{
    int64_t live = rq_mem_live();
    rq_qlog_packet p = {.type = RQ_PKT_1RTT};
    rq_qlog_metrics m = {.present = RQ_QLOG_M_CWND};
    rq_qlog_close cl = {0};
    rq_path_addr pa = {0};
    RQ_CHECK_ERR(rq_qlog_set_ack_delay_exponents(NULL, 3, 3), 0);
    RQ_CHECK_ERR(rq_qlog_packet_sent(NULL, 0, 0, &p), 0);
    RQ_CHECK_ERR(rq_qlog_packet_received(NULL, 0, 0, &p), 0);
    RQ_CHECK_ERR(rq_qlog_packet_lost(NULL, 0, 0, &p, RQ_QLOG_LOSS_PTO_EXPIRED), 0);
    RQ_CHECK_ERR(rq_qlog_recovery_metrics(NULL, 0, 0, &m), 0);
    RQ_CHECK_ERR(rq_qlog_connection_started(NULL, 0, &pa, NULL, NULL), 0);
    RQ_CHECK_ERR(rq_qlog_connection_closed(NULL, 0, &cl), 0);
    RQ_CHECK_ERR(rq_qlog_tuple_assigned(NULL, 0, 1, &pa, NULL, NULL), 0);
    RQ_CHECK_ERR(rq_qlog_migration_state_updated(NULL, 0, 1, 0, RQ_QLOG_PROBING_STARTED), 0);
    rq_qlog_free(NULL);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* Errors are return codes: bad arguments, times going backwards, a failing sink. Nothing is
 * emitted for a refused event, and a failed rq_qlog_new leaves nothing allocated. */
static void test_qlog_errors(void)
{
    int64_t live = rq_mem_live();
    capture c = {0};
    rq_qlog *q = (rq_qlog *)&c;
    RQ_CHECK_ERR(rq_qlog_new(&q, NULL, &c, RQ_ROLE_CLIENT, &odcid, t0), RQ_ERR_INVALID_ARG);
    RQ_CHECK(q == NULL);
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, (rq_role)7, &odcid, t0), RQ_ERR_INVALID_ARG);
    c.fail_with = RQ_ERR_IO;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_CLIENT, &odcid, t0), RQ_ERR_IO);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
    c.fail_with = 0;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_CLIENT, &odcid, t0), 0);
    rq_qlog_packet p = {.type = RQ_PKT_1RTT, .key_phase_bit = -1};
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 - 1, 0, &p), RQ_ERR_INVALID_ARG); /* before ref */
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 10, 0, &p), 0);
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 9, 0, &p), RQ_ERR_INVALID_ARG); /* backwards */
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 10, 0, &p), 0);                 /* equal is fine */
    p.trigger = RQ_QLOG_PKT_KEYS_AVAILABLE; /* a receive-side trigger on a sent packet */
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 10, 0, &p), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_qlog_packet_received(q, t0 + 10, 0, &p), 0);
    p.trigger = RQ_QLOG_PKT_TRIGGER_NONE, p.type = (rq_pkt_type)9;
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 10, 0, &p), RQ_ERR_INVALID_ARG);
    p.type = RQ_PKT_1RTT, p.frame_count = 1;
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 10, 0, &p), RQ_ERR_INVALID_ARG);
    rq_qlog_metrics m = {0};
    RQ_CHECK_ERR(rq_qlog_recovery_metrics(q, t0 + 10, 0, &m), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_qlog_set_ack_delay_exponents(q, 21, 3), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_qlog_migration_state_updated(q, t0 + 10, 1, 0, RQ_QLOG_MIGRATION_NONE),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_INT(c.n, 4); /* header + the three accepted events */
    c.fail_with = RQ_ERR_IO;
    p.frame_count = 0;
    RQ_CHECK_ERR(rq_qlog_packet_sent(q, t0 + 11, 0, &p), RQ_ERR_IO);
    qc_state st = {0};
    RQ_CHECK(capture_valid(&c, &st));
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* Bounded memory: a packet with more frames than a record holds logs the ones that fit and
 * counts the rest; the record stays valid JSON within RQ_QLOG_RECORD_MAX. */
static void test_qlog_record_bounded(void)
{
    int64_t live = rq_mem_live();
    enum { N = 5000 };
    rq_frame *f = calloc(N, sizeof *f);
    for (int i = 0; i < N; i++)
        f[i].type = RQ_FT_PING;
    capture c = {0};
    rq_qlog *q;
    RQ_CHECK_ERR(rq_qlog_new(&q, capture_sink, &c, RQ_ROLE_CLIENT, &odcid, t0), 0);
    rq_qlog_packet p = {.type = RQ_PKT_1RTT, .key_phase_bit = -1, .frames = f, .frame_count = N};
    int rc = rq_qlog_packet_received(q, t0, 0, &p);
    free(f);
    RQ_CHECK_ERR(rc, 0);
    RQ_CHECK(c.len[1] <= RQ_QLOG_RECORD_MAX);
    qc_state st = {0};
    RQ_CHECK(capture_valid(&c, &st));
    qj_doc d;
    RQ_CHECK(parse_record(&c, 1, &d));
    int data = qj_get(&d, 0, "data");
    uint64_t shown = (uint64_t)d.n[qj_get(&d, data, "frames")].count;
    uint64_t omitted = u64_at(&d, data, "frames_omitted");
    qj_free(&d);
    RQ_CHECK(shown > 100 && omitted > 0);
    RQ_CHECK_EQ_U64(shown + omitted, N);
    rq_qlog_free(q);
    capture_free(&c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* The JSON writer's number formats and overflow behaviour. */
static void test_json_writer(void)
{
    char buf[64];
    rq_json j;
    rq_json_init(&j, buf, sizeof buf);
    rq_json_arr_begin(&j);
    rq_json_ms(&j, 1500000, 3);  /* 1.5 */
    rq_json_ms(&j, 2000000, 6);  /* 2 */
    rq_json_ms(&j, 1234567, 6);  /* 1.234567 */
    rq_json_ms(&j, 999, 3);      /* 0 */
    rq_json_u64(&j, UINT64_MAX); /* all 20 digits */
    rq_json_arr_end(&j);
    RQ_CHECK(!j.overflow);
    const char *want = "[1.5,2,1.234567,0,18446744073709551615]";
    RQ_CHECK_EQ_INT(j.len, strlen(want));
    RQ_CHECK_MEM(buf, want, j.len);
    rq_json_init(&j, buf, 4);
    rq_json_cstr(&j, "toolong");
    RQ_CHECK(j.overflow);
}

/* The validator itself is strict: each of these must be refused. */
static void test_json_parser_strict(void)
{
    static const char *const bad[] = {
        "{} x",         "{\"a\":01}",  "[1,]",        "{\"a\":1,}",        "\"\\x\"", "\"a\x01\"",
        "\"\xc0\x80\"", "\"\\ud800\"", "\"\\udc00\"", "{\"a\":1,\"a\":2}", "[1 2]",   "-",
        "1.",           "1e",          "tru",         "\"\xed\xa0\x80\"",  "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qj_doc d;
        if (qj_parse(&d, bad[i], strlen(bad[i])) == 0) {
            qj_free(&d);
            RQ_FAIL_("accepted invalid JSON #%zu: %s", i, bad[i]);
            return;
        }
    }
    qj_doc d;
    const char *good = " {\"a\":[1,-2.5e3,true,null,\"\\u00e9\\ud83d\\ude00\"]} ";
    RQ_CHECK(qj_parse(&d, good, strlen(good)) == 0);
    RQ_CHECK(qj_str_is(&d, qj_at(&d, qj_get(&d, 0, "a"), 4), "\xc3\xa9\xf0\x9f\x98\x80"));
    qj_free(&d);
}

int main(void)
{
    RQ_RUN(test_json_writer);
    RQ_RUN(test_json_parser_strict);
    RQ_RUN(test_qlog_header_main_schema);
    RQ_RUN(test_qlog_every_frame_type);
    RQ_RUN(test_qlog_event_sequence);
    RQ_RUN(test_qlog_close_reason_escaping);
    RQ_RUN(test_qlog_null_logger_noop);
    RQ_RUN(test_qlog_errors);
    RQ_RUN(test_qlog_record_bounded);
    return rq_test_summary();
}
