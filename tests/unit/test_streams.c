/* The streams of a connection (RFC 9000 §2.1, §3.2, §4.1, §4.6, §19.8–§19.14): stream IDs for
 * both roles and directions, local open limits and STREAMS_BLOCKED, implicit opening of the
 * peer's streams, STREAM_LIMIT_ERROR, MAX_STREAMS as peer streams finish, connection-level
 * flow control joined with the streams', and round-robin fairness. */
#include "core/alloc.h"
#include "core/stream_id.h"
#include "core/streams.h"
#include "rqtest.h"

#include <roamquic/error.h>

static uint8_t src[1 << 16];

static const rq_streams_config cfg_base = {.max_streams_bidi = 4,
                                           .max_streams_uni = 2,
                                           .stream_window_bidi_local = 1000,
                                           .stream_window_bidi_remote = 1000,
                                           .stream_window_uni = 1000,
                                           .stream_window_max = 4000,
                                           .conn_window = 1500,
                                           .conn_window_max = 6000,
                                           .send_buffer = 1 << 16};
static const rq_streams_peer_params peer_base = {.max_data = 100000,
                                                 .max_stream_data_bidi_local = 5000,
                                                 .max_stream_data_bidi_remote = 5000,
                                                 .max_stream_data_uni = 5000,
                                                 .max_streams_bidi = 2,
                                                 .max_streams_uni = 1};

static void mk(rq_streams *ss, rq_role role)
{
    rq_streams_config cfg = cfg_base;
    cfg.role = role;
    rq_streams_init(ss, &cfg, &peer_base);
}

static rq_frame_stream sf(uint64_t id, uint64_t off, size_t len, bool fin)
{
    rq_frame_stream f = {.stream_id = id,
                         .offset = off,
                         .length = len,
                         .data = src + off,
                         .fin = fin,
                         .has_len = true};
    return f;
}

/* RFC 9000 §2.1: the low bits of IDs a client and a server open: client bidi 0, 4, 8...,
 * server bidi 1, 5..., client uni 2, 6..., server uni 3, 7... */
static void test_rfc9000_2_1_stream_ids(void)
{
    RQ_CHECK_EQ_U64(rq_stream_id_make(RQ_ROLE_CLIENT, false, 2), 8);
    RQ_CHECK_EQ_U64(rq_stream_id_make(RQ_ROLE_SERVER, false, 1), 5);
    RQ_CHECK_EQ_U64(rq_stream_id_make(RQ_ROLE_CLIENT, true, 1), 6);
    RQ_CHECK_EQ_U64(rq_stream_id_make(RQ_ROLE_SERVER, true, 0), 3);
    RQ_CHECK_EQ_INT(rq_stream_id_initiator(7), RQ_ROLE_SERVER);
    RQ_CHECK(rq_stream_id_is_uni(7) && rq_stream_id_is_bidi(4));
    RQ_CHECK_EQ_U64(rq_stream_id_index(7), 1);
    RQ_CHECK(rq_stream_id_can_send(2, RQ_ROLE_CLIENT) && !rq_stream_id_can_recv(2, RQ_ROLE_CLIENT));
    RQ_CHECK(!rq_stream_id_can_send(2, RQ_ROLE_SERVER) && rq_stream_id_can_recv(2, RQ_ROLE_SERVER));
    for (int role = 0; role < 2; role++) {
        rq_streams ss;
        mk(&ss, (rq_role)role);
        rq_stream *s;
        RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
        RQ_CHECK_EQ_U64(s->id, (uint64_t)role);
        RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
        RQ_CHECK_EQ_U64(s->id, 4 + (uint64_t)role);
        RQ_CHECK_ERR(rq_streams_open(&ss, true, &s), 0);
        RQ_CHECK_EQ_U64(s->id, 2 + (uint64_t)role);
        RQ_CHECK_EQ_INT(s->recv, RQ_RECV_NONE);
        RQ_CHECK_EQ_INT(s->send, RQ_SEND_READY);
        RQ_CHECK(rq_streams_get(&ss, (uint64_t)role) != NULL);
        rq_streams_free(&ss);
    }
}

/* RFC 9000 §4.6, §19.14: we open only as many streams as the peer allows; at the limit a
 * STREAMS_BLOCKED with the limit is due once; MAX_STREAMS raises the limit (never lowers it)
 * and a count above 2^60 is FRAME_ENCODING_ERROR. */
static void test_rfc9000_4_6_local_open_limit_streams_blocked(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_CLIENT);
    rq_stream *s;
    rq_frame f;
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f));
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), RQ_ERR_AGAIN);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_STREAMS_BLOCKED_BIDI);
    RQ_CHECK_EQ_U64(f.streams_blocked.limit, 2);
    rq_streams_on_conn_ctrl_sent(&ss, &f, 0);
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), RQ_ERR_AGAIN);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f)); /* once per limit */
    rq_frame lost = {.type = RQ_FT_STREAMS_BLOCKED_BIDI};
    lost.streams_blocked.limit = 2;
    rq_streams_on_conn_ctrl_lost(&ss, &lost);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f)); /* resent: still blocked */
    RQ_CHECK_ERR(rq_streams_on_max_streams(&ss, false, RQ_MAX_STREAMS_LIMIT + 1),
                 RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(rq_streams_on_max_streams(&ss, false, 1), 0); /* lower: ignored */
    RQ_CHECK_ERR(rq_streams_on_max_streams(&ss, false, 3), 0);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f));
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
    RQ_CHECK_EQ_U64(s->id, 8);
    RQ_CHECK_ERR(rq_streams_open(&ss, true, &s), 0);
    RQ_CHECK_ERR(rq_streams_open(&ss, true, &s), RQ_ERR_AGAIN); /* uni limit is separate */
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_STREAMS_BLOCKED_UNI);
    RQ_CHECK_EQ_U64(f.streams_blocked.limit, 1);
    rq_streams_free(&ss);
}

/* RFC 9000 §3.2: a frame for a peer stream opens it and every lower-numbered stream of its
 * type; the application accepts them in order. §4.6: an ID at or above our limit is
 * STREAM_LIMIT_ERROR. */
static void test_rfc9000_3_2_implicit_open_and_4_6_stream_limit(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_SERVER);
    rq_frame_stream f = sf(8, 0, 10, false); /* client bidi index 2 */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    RQ_CHECK(rq_streams_get(&ss, 0) != NULL);
    RQ_CHECK(rq_streams_get(&ss, 4) != NULL);
    RQ_CHECK(rq_streams_get(&ss, 8) != NULL);
    RQ_CHECK(rq_streams_get(&ss, 12) == NULL);
    RQ_CHECK_EQ_INT(rq_streams_get(&ss, 4)->send, RQ_SEND_READY); /* bidi: both parts */
    uint64_t id;
    RQ_CHECK(rq_streams_accept(&ss, &id));
    RQ_CHECK_EQ_U64(id, 0);
    RQ_CHECK(rq_streams_accept(&ss, &id));
    RQ_CHECK_EQ_U64(id, 4);
    RQ_CHECK(rq_streams_accept(&ss, &id));
    RQ_CHECK_EQ_U64(id, 8);
    RQ_CHECK(!rq_streams_accept(&ss, &id));
    f = sf(12, 0, 1, false); /* index 3: the last allowed (max_streams_bidi 4) */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    f = sf(16, 0, 1, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), RQ_ERR_STREAM_LIMIT);
    RQ_CHECK_ERR(rq_streams_on_max_stream_data(&ss, 16, 10), RQ_ERR_STREAM_LIMIT);
    RQ_CHECK_ERR(rq_streams_on_stop_sending(&ss, 20, 0), RQ_ERR_STREAM_LIMIT);
    RQ_CHECK_ERR(rq_streams_on_reset(&ss, 6, 0, 0), 0); /* client uni index 1 < 2 */
    RQ_CHECK_ERR(rq_streams_on_reset(&ss, 10, 0, 0), RQ_ERR_STREAM_LIMIT);
    RQ_CHECK(rq_streams_accept(&ss, &id));
    RQ_CHECK_EQ_U64(id, 12);
    RQ_CHECK(rq_streams_accept(&ss, &id));
    RQ_CHECK_EQ_U64(id, 2);
    rq_streams_free(&ss);
}

/* RFC 9000 §19.8, §19.4, §19.5, §19.10, §19.13: frames for our streams not yet opened, and
 * frames for the wrong direction, are STREAM_STATE_ERROR. */
static void test_rfc9000_19_8_stream_state_errors(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_CLIENT);
    rq_frame_stream f = sf(0, 0, 1, false); /* our bidi 0, not opened */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_max_stream_data(&ss, 0, 10), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_stop_sending(&ss, 0, 0), RQ_ERR_STREAM_STATE);
    rq_stream *s;
    RQ_CHECK_ERR(rq_streams_open(&ss, true, &s), 0); /* our uni 2: send-only */
    f = sf(2, 0, 1, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_reset(&ss, 2, 0, 0), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_stream_data_blocked(&ss, 2, 0), RQ_ERR_STREAM_STATE);
    /* The peer's uni 3: receive-only for us. */
    RQ_CHECK_ERR(rq_streams_on_stop_sending(&ss, 3, 0), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_max_stream_data(&ss, 3, 10), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_streams_on_stream_data_blocked(&ss, 3, 0), 0);
    rq_streams_free(&ss);
}

/* RFC 9000 §4.1: bytes on all streams together may not exceed MAX_DATA (FLOW_CONTROL_ERROR);
 * a RESET_STREAM's final size counts (§4.5); reading returns credit and MAX_DATA becomes due
 * once half the window is consumed. */
static void test_rfc9000_4_1_connection_flow_control(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_SERVER);
    rq_frame_stream f = sf(0, 0, 800, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    f = sf(4, 0, 600, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    f = sf(0, 0, 800, false); /* a duplicate costs nothing */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    RQ_CHECK_EQ_U64(ss.rxfc.received, 1400);
    RQ_CHECK_ERR(rq_streams_on_reset(&ss, 8, 0, 101), RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_ERR(rq_streams_on_reset(&ss, 8, 0, 100), 0);
    f = sf(4, 600, 1, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_EQ_U64(ss.rxfc.received, 1500);
    rq_frame c;
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    uint8_t out[1000];
    size_t n;
    bool fin;
    RQ_CHECK_ERR(rq_streams_read(&ss, 0, out, sizeof out, &n, &fin), 0);
    RQ_CHECK_EQ_U64(n, 800);
    RQ_CHECK_MEM(out, src, 800);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.type, RQ_FT_MAX_DATA);
    RQ_CHECK_EQ_U64(c.max_data.max, 900 + 1500); /* 800 read + 100 reset, plus the window */
    rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
    f = sf(4, 600, 1, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    rq_streams_free(&ss);
}

/* RFC 9000 §4.6: as the peer's streams finish, MAX_STREAMS is issued once half the window of
 * streams is free again, keeping the peer's concurrency at our configured count; a lost
 * MAX_STREAMS is resent; frames for a finished stream are ignored. */
static void test_rfc9000_4_6_max_streams_issued(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_SERVER);
    int64_t live0 = rq_mem_live();
    rq_frame c;
    uint8_t out[64];
    size_t n;
    bool fin;
    /* The client's uni streams (window 2): 2 and 6. */
    for (uint64_t id = 2; id <= 6; id += 4) {
        rq_frame_stream f = sf(id, 0, 10, true);
        RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    }
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_ERR(rq_streams_read(&ss, 2, out, sizeof out, &n, &fin), 0);
    RQ_CHECK(fin && n == 10);
    RQ_CHECK(rq_streams_get(&ss, 2) == NULL); /* finished and freed */
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.type, RQ_FT_MAX_STREAMS_UNI);
    RQ_CHECK_EQ_U64(c.max_streams.max, 3);
    rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    rq_frame lost = {.type = RQ_FT_MAX_STREAMS_UNI};
    lost.max_streams.max = 3;
    rq_streams_on_conn_ctrl_lost(&ss, &lost);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.max_streams.max, 3);
    rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
    rq_frame_stream f = sf(2, 0, 10, true); /* retransmission for the freed stream */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    RQ_CHECK(rq_streams_get(&ss, 2) == NULL);
    f = sf(10, 0, 10, false); /* index 2 is now allowed, index 3 is not */
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    f = sf(14, 0, 10, false);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), RQ_ERR_STREAM_LIMIT);
    /* Window 2: one finished stream is half the window, so MAX_STREAMS is due again. */
    RQ_CHECK_ERR(rq_streams_read(&ss, 6, out, sizeof out, &n, &fin), 0);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.type, RQ_FT_MAX_STREAMS_UNI);
    RQ_CHECK_EQ_U64(c.max_streams.max, 4);
    rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
    /* Bidi window 4: one finished stream is below the half-window threshold... */
    f = sf(0, 0, 1, true);
    RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
    RQ_CHECK_ERR(rq_streams_read(&ss, 0, out, sizeof out, &n, &fin), 0);
    RQ_CHECK_ERR(rq_streams_reset(&ss, 0, 0), 0);
    rq_frame rs = {.type = RQ_FT_RESET_STREAM};
    RQ_CHECK_ERR(rq_streams_on_frame_acked(&ss, &rs), 0);
    RQ_CHECK(rq_streams_get(&ss, 0) == NULL);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    /* ...until the peer says it is blocked at our limit (§19.14): then answer at once. */
    RQ_CHECK_ERR(rq_streams_on_streams_blocked(&ss, false, RQ_MAX_STREAMS_LIMIT + 1),
                 RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(rq_streams_on_streams_blocked(&ss, false, 3), 0); /* stale: not at limit */
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_ERR(rq_streams_on_streams_blocked(&ss, false, 4), 0);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.type, RQ_FT_MAX_STREAMS_BIDI);
    RQ_CHECK_EQ_U64(c.max_streams.max, 5);
    rq_streams_free(&ss);
    RQ_CHECK(rq_mem_live() <= live0);
}

/* Drains one frame from the scheduler's pick; returns the stream ID that sent, or -1. */
static int64_t pump_one(rq_streams *ss, size_t room)
{
    rq_stream *s = rq_streams_next_sender(ss);
    if (!s)
        return -1;
    rq_frame c;
    if (rq_stream_next_ctrl(s, 0, RQ_MS, &c)) {
        rq_streams_on_stream_ctrl_sent(ss, s, &c, 0);
        return (int64_t)s->id;
    }
    rq_frame_stream f;
    int64_t id = (int64_t)s->id;
    if (rq_stream_prepare_frame(s, rq_streams_conn_credit(ss), room, true, &f) != 0)
        return -2;
    rq_streams_on_stream_frame_sent(ss, s, f.offset, f.length, f.fin);
    return id;
}

/* Scheduler fairness: two streams with data take alternating turns, one frame each. */
static void test_scheduler_round_robin(void)
{
    rq_streams ss;
    mk(&ss, RQ_ROLE_CLIENT);
    rq_stream *a, *b;
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &a), 0);
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &b), 0);
    size_t acc;
    RQ_CHECK_ERR(rq_streams_write(&ss, 0, src, 3000, false, &acc), 0);
    RQ_CHECK_ERR(rq_streams_write(&ss, 4, src, 3000, false, &acc), 0);
    int64_t expect[] = {0, 4, 0, 4, 0, 4, -1};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        RQ_CHECK_EQ_INT(pump_one(&ss, 1010), expect[i]);
    /* A stream with new data after the round: it joins at the back. */
    RQ_CHECK_ERR(rq_streams_write(&ss, 4, src, 100, false, &acc), 0);
    RQ_CHECK_ERR(rq_streams_write(&ss, 0, src, 100, false, &acc), 0);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1010), 4);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1010), 0);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1010), -1);
    rq_streams_free(&ss);
}

/* RFC 9000 §4.1, §19.12: with connection credit used up, streams wait and DATA_BLOCKED with
 * the limit is due once; MAX_DATA lets them go on. */
static void test_rfc9000_4_1_data_blocked(void)
{
    rq_streams ss;
    rq_streams_config cfg = cfg_base;
    rq_streams_peer_params peer = peer_base;
    cfg.role = RQ_ROLE_CLIENT;
    peer.max_data = 1500;
    rq_streams_init(&ss, &cfg, &peer);
    rq_stream *s;
    size_t acc;
    rq_frame c;
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
    RQ_CHECK_ERR(rq_streams_open(&ss, false, &s), 0);
    RQ_CHECK_ERR(rq_streams_write(&ss, 0, src, 1000, false, &acc), 0);
    RQ_CHECK_ERR(rq_streams_write(&ss, 4, src, 1000, false, &acc), 0);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1204), 0);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1204), 4);
    RQ_CHECK_EQ_U64(rq_streams_conn_credit(&ss), 0);
    RQ_CHECK_EQ_U64(rq_streams_get(&ss, 4)->tx.sent_off, 500);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1204), -1);
    RQ_CHECK(rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    RQ_CHECK_EQ_U64(c.type, RQ_FT_DATA_BLOCKED);
    RQ_CHECK_EQ_U64(c.data_blocked.limit, 1500);
    rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1204), -1);
    RQ_CHECK(!rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c));
    rq_streams_on_max_data(&ss, 2000);
    RQ_CHECK_EQ_INT(pump_one(&ss, 1204), 4);
    RQ_CHECK_EQ_U64(rq_streams_get(&ss, 4)->tx.sent_off, 1000);
    rq_streams_free(&ss);
}

/* RFC 9000 §3.1, §13.3 end to end: data acknowledged and lost through the frame-level entry
 * points; a lost STREAM frame is resent; all acknowledged with both parts closed frees the
 * stream and its memory. */
static void test_rfc9000_13_3_stream_frames_acked_and_lost(void)
{
    int64_t live0 = rq_mem_live();
    rq_streams ss;
    mk(&ss, RQ_ROLE_CLIENT);
    rq_stream *s;
    size_t acc;
    RQ_CHECK_ERR(rq_streams_open(&ss, true, &s), 0);
    RQ_CHECK_ERR(rq_streams_write(&ss, 2, src, 1500, true, &acc), 0);
    rq_frame sent[4];
    int k = 0;
    while ((s = rq_streams_next_sender(&ss)) != NULL) {
        sent[k].type = RQ_FT_STREAM;
        RQ_CHECK_ERR(
            rq_stream_prepare_frame(s, rq_streams_conn_credit(&ss), 1004, true, &sent[k].stream),
            0);
        rq_streams_on_stream_frame_sent(&ss, s, sent[k].stream.offset, sent[k].stream.length,
                                        sent[k].stream.fin);
        k++;
    }
    RQ_CHECK_EQ_INT(k, 2);
    RQ_CHECK(sent[1].stream.fin);
    RQ_CHECK_ERR(rq_streams_on_frame_lost(&ss, &sent[0]), 0);
    RQ_CHECK_ERR(rq_streams_on_frame_acked(&ss, &sent[1]), 0);
    s = rq_streams_next_sender(&ss);
    RQ_CHECK(s != NULL);
    rq_frame re = {.type = RQ_FT_STREAM};
    RQ_CHECK_ERR(rq_stream_prepare_frame(s, 0, 1200, true, &re.stream), 0);
    RQ_CHECK_EQ_U64(re.stream.offset, 0);
    RQ_CHECK_EQ_U64(re.stream.length, 1000);
    rq_streams_on_stream_frame_sent(&ss, s, 0, 1000, false);
    RQ_CHECK_ERR(rq_streams_on_frame_acked(&ss, &re), 0);
    RQ_CHECK(rq_streams_get(&ss, 2) == NULL);
    RQ_CHECK_ERR(rq_streams_on_frame_acked(&ss, &sent[0]), 0); /* late: ignored */
    rq_streams_free(&ss);
    RQ_CHECK_EQ_INT(rq_mem_live(), live0);
}

/* The ID map under churn: many peer streams opened and finished (MAX_STREAMS keeping up)
 * leave every live stream findable and no memory behind. */
static void test_streams_map_churn(void)
{
    int64_t live0 = rq_mem_live();
    rq_streams ss;
    rq_streams_config cfg = cfg_base;
    cfg.role = RQ_ROLE_SERVER;
    cfg.max_streams_bidi = 64;
    cfg.conn_window = cfg.conn_window_max = 1 << 30;
    rq_streams_init(&ss, &cfg, &peer_base);
    uint64_t seed = rq_test_seed();
    uint8_t out[16];
    size_t n;
    bool fin;
    uint64_t next = 0;
    for (unsigned long i = 0; i < rq_test_iterations(5000); i++) {
        rq_frame c;
        while (rq_streams_next_conn_ctrl(&ss, 0, RQ_MS, &c))
            rq_streams_on_conn_ctrl_sent(&ss, &c, 0);
        uint64_t r = rq_test_rand(&seed);
        if (r % 2 && next < ss.max_remote[0]) {
            rq_frame_stream f = sf(next * 4, 0, 1, true);
            RQ_CHECK_ERR(rq_streams_on_stream(&ss, &f), 0);
            next++;
        } else if (next) {
            uint64_t id = ((r >> 8) % next) * 4;
            rq_stream *s = rq_streams_get(&ss, id);
            if (!s)
                continue;
            RQ_CHECK_EQ_U64(s->id, id);
            RQ_CHECK_ERR(rq_streams_read(&ss, id, out, sizeof out, &n, &fin), 0);
            RQ_CHECK(fin);
            size_t acc;
            RQ_CHECK_ERR(rq_streams_reset(&ss, id, 0), 0);
            (void)acc;
            rq_frame rs = {.type = RQ_FT_RESET_STREAM};
            rs.reset_stream.stream_id = id;
            RQ_CHECK_ERR(rq_streams_on_frame_acked(&ss, &rs), 0);
            RQ_CHECK(rq_streams_get(&ss, id) == NULL);
        }
        RQ_CHECK(ss.count <= 64);
    }
    for (uint64_t i = 0; i < next; i++) {
        rq_stream *s = rq_streams_get(&ss, i * 4);
        if (s)
            RQ_CHECK_EQ_U64(s->id, i * 4);
    }
    rq_streams_free(&ss);
    RQ_CHECK_EQ_INT(rq_mem_live(), live0);
}

int main(void)
{
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 11 + 7);
    RQ_RUN(test_rfc9000_2_1_stream_ids);
    RQ_RUN(test_rfc9000_4_6_local_open_limit_streams_blocked);
    RQ_RUN(test_rfc9000_3_2_implicit_open_and_4_6_stream_limit);
    RQ_RUN(test_rfc9000_19_8_stream_state_errors);
    RQ_RUN(test_rfc9000_4_1_connection_flow_control);
    RQ_RUN(test_rfc9000_4_6_max_streams_issued);
    RQ_RUN(test_scheduler_round_robin);
    RQ_RUN(test_rfc9000_4_1_data_blocked);
    RQ_RUN(test_rfc9000_13_3_stream_frames_acked_and_lost);
    RQ_RUN(test_streams_map_churn);
    return rq_test_summary();
}
