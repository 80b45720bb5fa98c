/* One stream (RFC 9000 §3, §4, §19.4–§19.13): every transition of the sending (§3.1) and
 * receiving (§3.2) state machines, every stream-frame error with its exact code, and the
 * control frames a stream asks the packet builder to send. */
#include "core/stream.h"
#include "core/stream_id.h"
#include "rqtest.h"

#include <roamquic/error.h>

static uint8_t src[1 << 16];

static const rq_stream_limits lim = {
    .send_limit = 1000, .recv_window = 1000, .recv_window_max = 4000, .send_buffer = 1 << 16};

/* Client-side views: 0 our bidi, 1 peer's bidi, 2 our uni (send-only), 3 peer's uni. */
static void mk(rq_stream *s, uint64_t id)
{
    rq_stream_init(s, id, RQ_ROLE_CLIENT, &lim);
}

/* Puts the next STREAM frame (up to room bytes) in a "packet"; returns it. */
static rq_frame_stream send_frame(rq_stream *s, size_t room)
{
    rq_frame_stream f;
    memset(&f, 0, sizeof f);
    if (rq_stream_prepare_frame(s, UINT64_MAX, room, true, &f) == 0)
        (void)rq_stream_on_frame_sent(s, f.offset, f.length, f.fin);
    return f;
}

/* RFC 9000 §3.1: Ready -> Send (first STREAM frame) -> Data Sent (FIN sent) -> Data Recvd
 * (all acknowledged). */
static void test_rfc9000_3_1_ready_send_data_sent_data_recvd(void)
{
    rq_stream s;
    mk(&s, 0);
    size_t acc;
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_READY);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_RECV);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 300, false, &acc), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_READY); /* buffering alone sends nothing */
    rq_frame_stream f = send_frame(&s, 1200);
    RQ_CHECK_EQ_U64(f.length, 300);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_SEND);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src + 300, 100, true, &acc), 0);
    f = send_frame(&s, 1200);
    RQ_CHECK(f.fin);
    RQ_CHECK_EQ_U64(f.offset, 300);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_SENT);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 1, false, &acc), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_stream_on_frame_acked(&s, 300, 100, true), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_SENT);
    RQ_CHECK_ERR(rq_stream_on_frame_acked(&s, 0, 300, false), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_RECVD);
    RQ_CHECK(!rq_stream_is_done(&s)); /* the receiving part is still open */
    rq_stream_free(&s);
}

/* RFC 9000 §3.1, §19.4: the application resets from Ready, Send or Data Sent -> Reset Sent; the
 * RESET_STREAM carries the bytes sent as final size (§4.5) and is resent until acknowledged
 * (§13.3) -> Reset Recvd; the reset stream's data is not retransmitted. */
static void test_rfc9000_3_1_reset_sent_reset_recvd(void)
{
    for (int from = 0; from < 3; from++) {
        rq_stream s;
        mk(&s, 2);
        size_t acc;
        RQ_CHECK_ERR(rq_stream_app_write(&s, src, 500, from == 2, &acc), 0);
        if (from >= 1)
            send_frame(&s, 1200);
        RQ_CHECK_EQ_INT(s.send,
                        from == 0 ? RQ_SEND_READY : (from == 1 ? RQ_SEND_SEND : RQ_SEND_DATA_SENT));
        RQ_CHECK_ERR(rq_stream_app_reset(&s, 0x42), 0);
        RQ_CHECK_EQ_INT(s.send, RQ_SEND_RESET_SENT);
        rq_frame f;
        RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
        RQ_CHECK_EQ_U64(f.type, RQ_FT_RESET_STREAM);
        RQ_CHECK_EQ_U64(f.reset_stream.stream_id, 2);
        RQ_CHECK_EQ_U64(f.reset_stream.app_error, 0x42);
        RQ_CHECK_EQ_U64(f.reset_stream.final_size, from == 0 ? 0 : 500);
        rq_stream_on_ctrl_sent(&s, &f, 0);
        RQ_CHECK(!rq_stream_wants_send(&s, UINT64_MAX));
        RQ_CHECK_ERR(rq_stream_on_frame_lost(&s, 0, from == 0 ? 0 : 500, false), 0);
        RQ_CHECK(!rq_stream_wants_send(&s, UINT64_MAX)); /* lost data is not resent */
        rq_stream_on_ctrl_lost(&s, &f);
        RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
        RQ_CHECK_EQ_U64(f.type, RQ_FT_RESET_STREAM);
        rq_stream_on_ctrl_sent(&s, &f, 0);
        rq_stream_on_ctrl_acked(&s, &f);
        RQ_CHECK_EQ_INT(s.send, RQ_SEND_RESET_RECVD);
        RQ_CHECK(rq_stream_is_done(&s)); /* uni: no receiving part */
        RQ_CHECK_ERR(rq_stream_app_write(&s, src, 1, false, &acc), RQ_ERR_STREAM_STATE);
        rq_stream_free(&s);
    }
}

/* RFC 9000 §3.5, §19.5: STOP_SENDING in Send or Data Sent is answered by RESET_STREAM carrying
 * the peer's error code; in Data Recvd it changes nothing. */
static void test_rfc9000_3_5_stop_sending_answered_with_reset(void)
{
    rq_stream s;
    size_t acc;
    mk(&s, 0);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 100, false, &acc), 0);
    send_frame(&s, 1200);
    RQ_CHECK_ERR(rq_stream_on_stop_sending(&s, 77), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_RESET_SENT);
    RQ_CHECK(s.peer_stopped);
    rq_frame f;
    RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_RESET_STREAM);
    RQ_CHECK_EQ_U64(f.reset_stream.app_error, 77);
    RQ_CHECK_EQ_U64(f.reset_stream.final_size, 100);
    rq_stream_free(&s);

    mk(&s, 0);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 100, true, &acc), 0);
    send_frame(&s, 1200);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_SENT);
    RQ_CHECK_ERR(rq_stream_on_stop_sending(&s, 5), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_RESET_SENT);
    rq_stream_free(&s);

    mk(&s, 0);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 100, true, &acc), 0);
    send_frame(&s, 1200);
    RQ_CHECK_ERR(rq_stream_on_frame_acked(&s, 0, 100, true), 0);
    RQ_CHECK_ERR(rq_stream_on_stop_sending(&s, 5), 0);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_RECVD);
    RQ_CHECK(!rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    rq_stream_free(&s);
}

/* RFC 9000 §3.2: Recv -> Size Known (FIN, out of order) -> Data Recvd (gap filled) -> Data
 * Read (application read the FIN). */
static void test_rfc9000_3_2_recv_size_known_data_recvd_data_read(void)
{
    rq_stream s;
    mk(&s, 1);
    uint8_t out[1000];
    size_t n;
    bool fin;
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src + 100, 50, true), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_SIZE_KNOWN);
    RQ_CHECK_EQ_U64(s.final_size, 150);
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, sizeof out, &n, &fin), 0);
    RQ_CHECK_EQ_U64(n, 0);
    RQ_CHECK(!fin);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 100, false), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_RECVD);
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, 120, &n, &fin), 0);
    RQ_CHECK_EQ_U64(n, 120);
    RQ_CHECK(!fin);
    RQ_CHECK_ERR(rq_stream_app_read(&s, out + 120, sizeof out - 120, &n, &fin), 0);
    RQ_CHECK_EQ_U64(n, 30);
    RQ_CHECK(fin);
    RQ_CHECK_MEM(out, src, 150);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_READ);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 150, true), 0); /* late duplicate: ignored */
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, sizeof out, &n, &fin), 0);
    RQ_CHECK(fin && n == 0);
    rq_stream_free(&s);
}

/* RFC 9000 §3.2, §19.4: RESET_STREAM in Recv or Size Known -> Reset Recvd, then Reset Read
 * when the application is told; in Data Recvd the data is kept; in Data Read it is ignored. */
static void test_rfc9000_3_2_reset_recvd_reset_read(void)
{
    for (int size_known = 0; size_known < 2; size_known++) {
        rq_stream s;
        mk(&s, 3);
        RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 40, false), 0);
        if (size_known)
            RQ_CHECK_ERR(rq_stream_on_stream(&s, 80, src, 20, true), 0);
        RQ_CHECK_ERR(rq_stream_on_reset(&s, 9, 100), 0);
        RQ_CHECK_EQ_INT(s.recv, RQ_RECV_RESET_RECVD);
        RQ_CHECK_EQ_U64(s.rxfc.consumed, 100); /* discarded bytes return their credit */
        uint8_t out[10];
        size_t n;
        bool fin;
        RQ_CHECK_ERR(rq_stream_app_read(&s, out, sizeof out, &n, &fin), 0);
        RQ_CHECK(n == 0 && !fin);
        uint64_t err = 0;
        RQ_CHECK(rq_stream_take_reset(&s, &err));
        RQ_CHECK_EQ_U64(err, 9);
        RQ_CHECK_EQ_INT(s.recv, RQ_RECV_RESET_READ);
        RQ_CHECK(!rq_stream_take_reset(&s, &err));
        RQ_CHECK(rq_stream_is_done(&s));
        rq_stream_free(&s);
    }
    rq_stream s;
    mk(&s, 3);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 40, true), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_RECVD);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 9, 40), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_RECVD);
    uint8_t out[64];
    size_t n;
    bool fin;
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, sizeof out, &n, &fin), 0);
    RQ_CHECK(n == 40 && fin);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 9, 40), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_READ);
    rq_stream_free(&s);
}

/* RFC 9000 §19.8, §19.4, §19.13: STREAM, RESET_STREAM and STREAM_DATA_BLOCKED for a send-only
 * stream are STREAM_STATE_ERROR. */
static void test_rfc9000_19_4_19_8_19_13_send_only_stream(void)
{
    rq_stream s;
    mk(&s, 2);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_NONE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 1, false), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 0), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_stream_on_stream_data_blocked(&s, 0), RQ_ERR_STREAM_STATE);
    size_t n;
    bool fin;
    uint8_t b[1];
    RQ_CHECK_ERR(rq_stream_app_read(&s, b, 1, &n, &fin), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_stream_app_stop_sending(&s, 0), RQ_ERR_INVALID_ARG);
    rq_stream_free(&s);
}

/* RFC 9000 §19.5, §19.10: STOP_SENDING and MAX_STREAM_DATA for a receive-only stream are
 * STREAM_STATE_ERROR. */
static void test_rfc9000_19_5_19_10_receive_only_stream(void)
{
    rq_stream s;
    mk(&s, 3);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_NONE);
    RQ_CHECK_ERR(rq_stream_on_stop_sending(&s, 0), RQ_ERR_STREAM_STATE);
    RQ_CHECK_ERR(rq_stream_on_max_stream_data(&s, 5000), RQ_ERR_STREAM_STATE);
    size_t acc;
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 1, false, &acc), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_stream_app_reset(&s, 0), RQ_ERR_INVALID_ARG);
    rq_stream_free(&s);
}

/* RFC 9000 §4.5: the final size cannot change, data cannot pass it, and a FIN cannot fall
 * below data already received; RESET_STREAM obeys the same rules. Each is FINAL_SIZE_ERROR. */
static void test_rfc9000_4_5_final_size_errors(void)
{
    rq_stream s;
    mk(&s, 1);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 100, true), 0);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 50, src, 50, true), 0); /* same final size: fine */
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src, 100, true), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 50, true), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src, 1, false), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src, 0, false), 0); /* empty, at the end */
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 99), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 101), RQ_ERR_FINAL_SIZE);
    rq_stream_free(&s);

    mk(&s, 1);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src, 100, false), 0);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 150, true), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 199), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 200), 0);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 201), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 200, src, 1, false), RQ_ERR_FINAL_SIZE);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 200, true), 0);
    rq_stream_free(&s);
}

/* RFC 9000 §4.1, §4.5, §19.8: data or a final size beyond MAX_STREAM_DATA is
 * FLOW_CONTROL_ERROR; an offset + length past 2^62 - 1 is FRAME_ENCODING_ERROR. */
static void test_rfc9000_4_1_stream_flow_control_error(void)
{
    rq_stream s;
    mk(&s, 1);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 1000, false), 0);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 1000, src, 1, false), RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 1001), RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, RQ_VARINT_MAX, src, 1, false), RQ_ERR_FRAME_ENCODING);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 0, 1000), 0);
    rq_stream_free(&s);
}

/* RFC 9000 §4.2, §19.10: reading half the window makes MAX_STREAM_DATA due; once the final
 * size is known (§3.2 Size Known) none is sent. */
static void test_rfc9000_4_2_max_stream_data_due(void)
{
    rq_stream s;
    mk(&s, 1);
    uint8_t out[1000];
    size_t n;
    bool fin;
    rq_frame f;
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 1000, false), 0);
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, 499, &n, &fin), 0);
    RQ_CHECK(!rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, 1, &n, &fin), 0);
    RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_MAX_STREAM_DATA);
    RQ_CHECK_EQ_U64(f.max_stream_data.stream_id, 1);
    RQ_CHECK_EQ_U64(f.max_stream_data.max, 1500);
    rq_stream_on_ctrl_sent(&s, &f, 0);
    RQ_CHECK_EQ_U64(s.rxfc.limit, 1500);
    RQ_CHECK(!rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 1000, src, 500, true), 0);
    RQ_CHECK_ERR(rq_stream_app_read(&s, out, 1000, &n, &fin), 0);
    RQ_CHECK(!rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    rq_stream_free(&s);
}

/* RFC 9000 §4.1, §19.13: a stream at its peer's limit sends STREAM_DATA_BLOCKED once for that
 * limit; MAX_STREAM_DATA releases more data. */
static void test_rfc9000_19_13_stream_data_blocked_once(void)
{
    rq_stream s;
    mk(&s, 0);
    size_t acc;
    rq_frame f;
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 1500, false, &acc), 0);
    rq_frame_stream sf = send_frame(&s, 1200);
    sf = send_frame(&s, 1200);
    RQ_CHECK_EQ_U64(s.tx.sent_off, 1000);
    sf = send_frame(&s, 1200);
    RQ_CHECK_EQ_U64(sf.length, 0); /* nothing: blocked */
    RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_STREAM_DATA_BLOCKED);
    RQ_CHECK_EQ_U64(f.stream_data_blocked.limit, 1000);
    rq_stream_on_ctrl_sent(&s, &f, 0);
    send_frame(&s, 1200);
    RQ_CHECK(!rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK(!rq_stream_wants_send(&s, UINT64_MAX));
    RQ_CHECK_ERR(rq_stream_on_max_stream_data(&s, 900), 0); /* stale: ignored */
    RQ_CHECK(!rq_stream_wants_send(&s, UINT64_MAX));
    RQ_CHECK_ERR(rq_stream_on_max_stream_data(&s, 2000), 0);
    RQ_CHECK(rq_stream_wants_send(&s, UINT64_MAX));
    RQ_CHECK(!rq_stream_wants_send(&s, 0)); /* but not without connection credit */
    sf = send_frame(&s, 1200);
    RQ_CHECK_EQ_U64(sf.offset, 1000);
    RQ_CHECK_EQ_U64(sf.length, 500);
    rq_stream_free(&s);
}

/* RFC 9000 §3.5, §19.5: the application stops reading: STOP_SENDING is due, buffered and
 * later data are discarded with their credit returned, and the peer's RESET_STREAM ends the
 * receiving part without the application having to read it. */
static void test_rfc9000_3_5_application_stop_sending(void)
{
    rq_stream s;
    mk(&s, 3);
    rq_frame f;
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 300, false), 0);
    RQ_CHECK_ERR(rq_stream_app_stop_sending(&s, 0x10), 0);
    RQ_CHECK_EQ_U64(s.rxfc.consumed, 300);
    RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    RQ_CHECK_EQ_U64(f.type, RQ_FT_STOP_SENDING);
    RQ_CHECK_EQ_U64(f.stop_sending.app_error, 0x10);
    rq_stream_on_ctrl_sent(&s, &f, 0);
    rq_stream_on_ctrl_lost(&s, &f);
    RQ_CHECK(rq_stream_next_ctrl(&s, 0, RQ_MS, &f));
    rq_stream_on_ctrl_sent(&s, &f, 0);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 300, src, 200, false), 0);
    RQ_CHECK_EQ_U64(s.rxfc.consumed, 500);
    RQ_CHECK(s.rx.buf == NULL);
    RQ_CHECK_ERR(rq_stream_on_reset(&s, 1, 600), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_RESET_READ);
    RQ_CHECK_EQ_U64(s.rxfc.consumed, 600);
    RQ_CHECK(rq_stream_is_done(&s));
    rq_stream_free(&s);

    /* The peer finishes instead of resetting: Data Recvd is reached, and skipped to Read. */
    mk(&s, 3);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 0, src, 100, false), 0);
    RQ_CHECK_ERR(rq_stream_app_stop_sending(&s, 0x10), 0);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 200, src, 50, true), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_SIZE_KNOWN);
    RQ_CHECK_ERR(rq_stream_on_stream(&s, 100, src, 100, false), 0);
    RQ_CHECK_EQ_INT(s.recv, RQ_RECV_DATA_READ);
    RQ_CHECK(rq_stream_is_done(&s));
    rq_stream_free(&s);
}

/* RFC 9000 §19.8: a STREAM frame is sized to the room left (rq_stream_frame_fit); the FIN
 * goes only with the last byte; a FIN alone is an empty frame. */
static void test_rfc9000_19_8_frame_sizing(void)
{
    rq_stream s;
    mk(&s, 0);
    size_t acc;
    rq_frame_stream f;
    RQ_CHECK_ERR(rq_stream_prepare_frame(&s, UINT64_MAX, 1200, true, &f), RQ_ERR_AGAIN);
    RQ_CHECK_ERR(rq_stream_app_write(&s, src, 200, true, &acc), 0);
    RQ_CHECK_ERR(rq_stream_prepare_frame(&s, UINT64_MAX, 3, true, &f), RQ_ERR_BUFFER_TOO_SMALL);
    RQ_CHECK_ERR(rq_stream_prepare_frame(&s, UINT64_MAX, 104, true, &f), 0);
    /* type(1) + id(1) + length(2) = 4 header bytes */
    RQ_CHECK_EQ_U64(f.length, 100);
    RQ_CHECK(!f.fin);
    RQ_CHECK_MEM(f.data, src, 100);
    RQ_CHECK_EQ_U64(rq_stream_on_frame_sent(&s, f.offset, f.length, f.fin), 100);
    RQ_CHECK_ERR(rq_stream_prepare_frame(&s, UINT64_MAX, 1200, false, &f), 0);
    RQ_CHECK_EQ_U64(f.offset, 100);
    RQ_CHECK_EQ_U64(f.length, 100);
    RQ_CHECK(f.fin && !f.has_len);
    rq_stream_free(&s);

    mk(&s, 0);
    RQ_CHECK_ERR(rq_stream_app_write(&s, NULL, 0, true, &acc), 0);
    RQ_CHECK_ERR(rq_stream_prepare_frame(&s, 0, 1200, true, &f), 0);
    RQ_CHECK(f.fin);
    RQ_CHECK_EQ_U64(f.length, 0);
    rq_stream_on_frame_sent(&s, f.offset, 0, true);
    RQ_CHECK_EQ_INT(s.send, RQ_SEND_DATA_SENT);
    rq_stream_free(&s);
}

int main(void)
{
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 5 + 1);
    RQ_RUN(test_rfc9000_3_1_ready_send_data_sent_data_recvd);
    RQ_RUN(test_rfc9000_3_1_reset_sent_reset_recvd);
    RQ_RUN(test_rfc9000_3_5_stop_sending_answered_with_reset);
    RQ_RUN(test_rfc9000_3_2_recv_size_known_data_recvd_data_read);
    RQ_RUN(test_rfc9000_3_2_reset_recvd_reset_read);
    RQ_RUN(test_rfc9000_19_4_19_8_19_13_send_only_stream);
    RQ_RUN(test_rfc9000_19_5_19_10_receive_only_stream);
    RQ_RUN(test_rfc9000_4_5_final_size_errors);
    RQ_RUN(test_rfc9000_4_1_stream_flow_control_error);
    RQ_RUN(test_rfc9000_4_2_max_stream_data_due);
    RQ_RUN(test_rfc9000_19_13_stream_data_blocked_once);
    RQ_RUN(test_rfc9000_3_5_application_stop_sending);
    RQ_RUN(test_rfc9000_19_8_frame_sizing);
    return rq_test_summary();
}
