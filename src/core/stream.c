/* One stream: the send and receive state machines of RFC 9000 §3 and the stream frames'
 * rules of §19. */
#include "core/stream.h"

#include <string.h>

#include <roamquic/error.h>

#include "core/stream_id.h"

void rq_stream_init(rq_stream *s, uint64_t id, rq_role role, const rq_stream_limits *lim)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    /* RFC 9000 §3.1, §3.2: a part starts in Ready / Recv; uni streams have one part only. */
    s->send = rq_stream_id_can_send(id, role) ? RQ_SEND_READY : RQ_SEND_NONE;
    s->recv = rq_stream_id_can_recv(id, role) ? RQ_RECV_RECV : RQ_RECV_NONE;
    rq_txbuf_init(&s->tx, lim->send_buffer);
    rq_flow_tx_init(&s->txfc, lim->send_limit);
    /* Bound: flow control keeps the peer's data below consumed + window <= read offset +
     * recv_window_max, so reassembly holds at most recv_window_max bytes of a stream. */
    rq_rxbuf_init(&s->rx, lim->recv_window_max, RQ_ERR_FLOW_CONTROL);
    rq_flow_rx_init(&s->rxfc, lim->recv_window, lim->recv_window_max);
}

void rq_stream_free(rq_stream *s)
{
    rq_txbuf_free(&s->tx);
    rq_rxbuf_free(&s->rx);
}

/* ---- receiving part ---- */

/* Discards everything received and not yet read, returning its flow-control credit. With
 * keep_tracking the buffer still records which offsets arrive (to see the stream complete);
 * otherwise its memory goes entirely. */
static void discard_received(rq_stream *s, bool keep_tracking)
{
    if (keep_tracking)
        rq_rxbuf_discard(&s->rx);
    else
        rq_rxbuf_free(&s->rx);
    rq_flow_rx_consume(&s->rxfc, s->rxfc.received - s->rxfc.consumed);
}

/* RFC 9000 §3.2: Size Known -> Data Recvd once every byte up to the final size is here. */
static void check_all_received(rq_stream *s)
{
    if (s->recv != RQ_RECV_SIZE_KNOWN)
        return;
    if (rq_rxbuf_read_offset(&s->rx) + rq_rxbuf_readable(&s->rx) != s->final_size)
        return;
    s->recv = RQ_RECV_DATA_RECVD;
    if (s->stopped) { /* nobody will read it */
        discard_received(s, false);
        s->recv = RQ_RECV_DATA_READ;
    }
}

/* RFC 9000 §4.5: the final size rules for a STREAM frame ending at `end`. */
static int check_final_size(const rq_stream *s, uint64_t end, bool fin)
{
    if (s->final_known) {
        if (end > s->final_size || (fin && end != s->final_size))
            return RQ_ERR_FINAL_SIZE;
    } else if (fin && end < s->rxfc.received) {
        return RQ_ERR_FINAL_SIZE; /* a FIN below bytes already received */
    }
    return 0;
}

/* Whether received data still goes to the reassembly buffer (which, once the application
 * stopped reading, only records offsets). */
static bool keeps_data(const rq_stream *s)
{
    return s->recv == RQ_RECV_RECV || s->recv == RQ_RECV_SIZE_KNOWN;
}

int rq_stream_on_stream(rq_stream *s, uint64_t off, const uint8_t *data, size_t len, bool fin)
{
    /* RFC 9000 §19.8: STREAM for a send-only stream is a STREAM_STATE_ERROR. */
    if (s->recv == RQ_RECV_NONE)
        return RQ_ERR_STREAM_STATE;
    /* RFC 9000 §19.8: offset + length cannot exceed 2^62 - 1. */
    if (off > RQ_VARINT_MAX || len > RQ_VARINT_MAX - off)
        return RQ_ERR_FRAME_ENCODING;
    uint64_t end = off + len;
    int rc = check_final_size(s, end, fin);
    if (rc < 0)
        return rc;
    /* RFC 9000 §4.1: data beyond our limit is a FLOW_CONTROL_ERROR. */
    if (end > s->rxfc.limit)
        return RQ_ERR_FLOW_CONTROL;
    if (keeps_data(s)) {
        rc = rq_rxbuf_write(&s->rx, off, data, len);
        if (rc < 0)
            return rc;
    }
    uint64_t before = s->rxfc.received;
    (void)rq_flow_rx_on_data(&s->rxfc, end); /* cannot fail: checked above */
    if (!keeps_data(s) || s->stopped)
        rq_flow_rx_consume(&s->rxfc, s->rxfc.received - before); /* discarded on arrival */
    if (fin && !s->final_known) {
        s->final_known = true;
        s->final_size = end;
        if (s->recv == RQ_RECV_RECV)
            s->recv = RQ_RECV_SIZE_KNOWN; /* RFC 9000 §3.2: Recv -> Size Known on FIN */
    }
    check_all_received(s);
    return 0;
}

int rq_stream_on_reset(rq_stream *s, uint64_t app_error, uint64_t final_size)
{
    /* RFC 9000 §19.4: RESET_STREAM for a send-only stream is a STREAM_STATE_ERROR. */
    if (s->recv == RQ_RECV_NONE)
        return RQ_ERR_STREAM_STATE;
    /* RFC 9000 §4.5: the final size may not change, nor fall below bytes received. */
    if ((s->final_known && final_size != s->final_size) || final_size < s->rxfc.received)
        return RQ_ERR_FINAL_SIZE;
    /* RFC 9000 §4.5: the final size counts against flow control like data would. */
    int rc = rq_flow_rx_on_data(&s->rxfc, final_size);
    if (rc < 0)
        return rc;
    s->final_known = true;
    s->final_size = final_size;
    /* RFC 9000 §3.2: Recv / Size Known -> Reset Recvd. In Data Recvd every byte is already
     * here; the RFC lets us deliver it, which we do. Later states ignore the frame. */
    if (s->recv != RQ_RECV_RECV && s->recv != RQ_RECV_SIZE_KNOWN)
        return 0;
    s->peer_reset_error = app_error;
    discard_received(s, false);
    s->recv = s->stopped ? RQ_RECV_RESET_READ : RQ_RECV_RESET_RECVD;
    return 0;
}

int rq_stream_on_stream_data_blocked(rq_stream *s, uint64_t limit)
{
    (void)limit;
    /* RFC 9000 §19.13: STREAM_DATA_BLOCKED for a send-only stream is a STREAM_STATE_ERROR. */
    if (s->recv == RQ_RECV_NONE)
        return RQ_ERR_STREAM_STATE;
    return 0;
}

int rq_stream_app_read(rq_stream *s, uint8_t *buf, size_t cap, size_t *nread, bool *fin)
{
    *nread = 0;
    *fin = false;
    if (s->recv == RQ_RECV_NONE)
        return RQ_ERR_INVALID_ARG;
    if (s->recv == RQ_RECV_DATA_READ) {
        *fin = true;
        return 0;
    }
    if (s->stopped || (!keeps_data(s) && s->recv != RQ_RECV_DATA_RECVD))
        return 0;
    size_t n = rq_rxbuf_read(&s->rx, buf, cap);
    rq_flow_rx_consume(&s->rxfc, n);
    *nread = n;
    if (s->recv == RQ_RECV_DATA_RECVD && rq_rxbuf_read_offset(&s->rx) == s->final_size) {
        s->recv = RQ_RECV_DATA_READ; /* RFC 9000 §3.2: all data read */
        rq_rxbuf_free(&s->rx);
        *fin = true;
    }
    return 0;
}

bool rq_stream_take_reset(rq_stream *s, uint64_t *app_error)
{
    if (s->recv != RQ_RECV_RESET_RECVD)
        return false;
    *app_error = s->peer_reset_error;
    s->recv = RQ_RECV_RESET_READ; /* RFC 9000 §3.2: the application learned of the reset */
    return true;
}

int rq_stream_app_stop_sending(rq_stream *s, uint64_t app_error)
{
    if (s->recv == RQ_RECV_NONE)
        return RQ_ERR_INVALID_ARG;
    if (s->stopped)
        return 0;
    s->stopped = true;
    s->stop_error = app_error;
    switch (s->recv) {
    case RQ_RECV_RECV:
    case RQ_RECV_SIZE_KNOWN:
        /* RFC 9000 §3.5: ask the peer to stop; data arriving meanwhile is dropped. */
        s->stop_due = true;
        discard_received(s, true);
        break;
    case RQ_RECV_DATA_RECVD:
        discard_received(s, false);
        s->recv = RQ_RECV_DATA_READ;
        break;
    case RQ_RECV_RESET_RECVD:
        s->recv = RQ_RECV_RESET_READ;
        break;
    default:
        break;
    }
    return 0;
}

/* ---- sending part ---- */

static bool send_open(const rq_stream *s)
{
    return s->send == RQ_SEND_READY || s->send == RQ_SEND_SEND || s->send == RQ_SEND_DATA_SENT;
}

/* RFC 9000 §3.1: Ready / Send / Data Sent -> Reset Sent. Unsent data is dropped; the final
 * size is what was sent (§4.5: the flow-control credit consumed). */
static void enter_reset_sent(rq_stream *s, uint64_t app_error)
{
    s->send = RQ_SEND_RESET_SENT;
    s->reset_error = app_error;
    s->reset_due = true;
    rq_txbuf_free(&s->tx);
}

int rq_stream_on_stop_sending(rq_stream *s, uint64_t app_error)
{
    /* RFC 9000 §19.5: STOP_SENDING for a receive-only stream is a STREAM_STATE_ERROR. */
    if (s->send == RQ_SEND_NONE)
        return RQ_ERR_STREAM_STATE;
    s->peer_stopped = true;
    s->peer_stop_error = app_error;
    /* RFC 9000 §3.5: answer with RESET_STREAM, carrying the peer's error code. */
    if (send_open(s))
        enter_reset_sent(s, app_error);
    return 0;
}

int rq_stream_on_max_stream_data(rq_stream *s, uint64_t max)
{
    /* RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream is a STREAM_STATE_ERROR. */
    if (s->send == RQ_SEND_NONE)
        return RQ_ERR_STREAM_STATE;
    (void)rq_flow_tx_on_max(&s->txfc, max);
    return 0;
}

int rq_stream_app_write(rq_stream *s, const uint8_t *data, size_t len, bool fin, size_t *accepted)
{
    *accepted = 0;
    if (s->send == RQ_SEND_NONE)
        return RQ_ERR_INVALID_ARG;
    if (!send_open(s))
        return RQ_ERR_STREAM_STATE;
    return rq_txbuf_append(&s->tx, data, len, fin, accepted);
}

int rq_stream_app_reset(rq_stream *s, uint64_t app_error)
{
    if (s->send == RQ_SEND_NONE)
        return RQ_ERR_INVALID_ARG;
    if (send_open(s))
        enter_reset_sent(s, app_error);
    return 0;
}

/* ---- the packet builder ---- */

static bool max_stream_data_due(const rq_stream *s)
{
    /* RFC 9000 §3.2: once the final size is known no more credit is needed. */
    return s->recv == RQ_RECV_RECV && !s->stopped && rq_flow_rx_update_due(&s->rxfc);
}

bool rq_stream_next_ctrl(const rq_stream *s, rq_time now, rq_time rtt, rq_frame *f)
{
    memset(f, 0, sizeof *f);
    uint64_t limit;
    if (s->reset_due && s->send == RQ_SEND_RESET_SENT) {
        f->type = RQ_FT_RESET_STREAM;
        f->reset_stream.stream_id = s->id;
        f->reset_stream.app_error = s->reset_error;
        f->reset_stream.final_size = s->tx.sent_off;
    } else if (s->stop_due && (s->recv == RQ_RECV_RECV || s->recv == RQ_RECV_SIZE_KNOWN)) {
        f->type = RQ_FT_STOP_SENDING;
        f->stop_sending.stream_id = s->id;
        f->stop_sending.app_error = s->stop_error;
    } else if (max_stream_data_due(s)) {
        f->type = RQ_FT_MAX_STREAM_DATA;
        f->max_stream_data.stream_id = s->id;
        f->max_stream_data.max = rq_flow_rx_next_limit(&s->rxfc, now, rtt);
    } else if ((s->send == RQ_SEND_READY || s->send == RQ_SEND_SEND) &&
               rq_flow_tx_blocked_due(&s->txfc, &limit)) {
        f->type = RQ_FT_STREAM_DATA_BLOCKED;
        f->stream_data_blocked.stream_id = s->id;
        f->stream_data_blocked.limit = limit;
    } else {
        return false;
    }
    return true;
}

void rq_stream_on_ctrl_sent(rq_stream *s, const rq_frame *f, rq_time now)
{
    switch (f->type) {
    case RQ_FT_RESET_STREAM:
        s->reset_due = false;
        break;
    case RQ_FT_STOP_SENDING:
        s->stop_due = false;
        break;
    case RQ_FT_MAX_STREAM_DATA:
        rq_flow_rx_on_update_sent(&s->rxfc, f->max_stream_data.max, now);
        break;
    case RQ_FT_STREAM_DATA_BLOCKED:
        rq_flow_tx_on_blocked_sent(&s->txfc, f->stream_data_blocked.limit);
        break;
    default:
        break;
    }
}

void rq_stream_on_ctrl_acked(rq_stream *s, const rq_frame *f)
{
    /* RFC 9000 §3.1: Reset Sent -> Reset Recvd when the RESET_STREAM is acknowledged. */
    if (f->type == RQ_FT_RESET_STREAM && s->send == RQ_SEND_RESET_SENT)
        s->send = RQ_SEND_RESET_RECVD;
}

void rq_stream_on_ctrl_lost(rq_stream *s, const rq_frame *f)
{
    /* RFC 9000 §13.3: each frame is resent only while it still means something. */
    switch (f->type) {
    case RQ_FT_RESET_STREAM:
        if (s->send == RQ_SEND_RESET_SENT)
            s->reset_due = true;
        break;
    case RQ_FT_STOP_SENDING:
        if (s->recv == RQ_RECV_RECV || s->recv == RQ_RECV_SIZE_KNOWN)
            s->stop_due = true;
        break;
    case RQ_FT_MAX_STREAM_DATA:
        if (s->recv == RQ_RECV_RECV)
            rq_flow_rx_on_update_lost(&s->rxfc, f->max_stream_data.max);
        break;
    case RQ_FT_STREAM_DATA_BLOCKED:
        rq_flow_tx_on_blocked_lost(&s->txfc, f->stream_data_blocked.limit);
        break;
    default:
        break;
    }
}

bool rq_stream_has_new_data(const rq_stream *s)
{
    return send_open(s) && s->tx.sent_off < s->tx.end;
}

bool rq_stream_next_chunk(rq_stream *s, uint64_t conn_credit, rq_txchunk *c)
{
    if (!send_open(s))
        return false;
    uint64_t credit = rq_flow_tx_credit(&s->txfc);
    if (credit == 0 && rq_stream_has_new_data(s))
        rq_flow_tx_note_blocked(&s->txfc); /* RFC 9000 §4.1: STREAM_DATA_BLOCKED */
    if (conn_credit < credit)
        credit = conn_credit;
    return rq_txbuf_next(&s->tx, s->tx.sent_off + credit, c);
}

int rq_stream_prepare_frame(rq_stream *s, uint64_t conn_credit, size_t room, bool with_len,
                            rq_frame_stream *f)
{
    rq_txchunk c;
    if (!rq_stream_next_chunk(s, conn_credit, &c))
        return RQ_ERR_AGAIN;
    size_t fit;
    int rc = rq_stream_frame_fit(s->id, c.offset, c.len, room, with_len, &fit);
    if (rc < 0)
        return rc;
    bool fin = c.fin && fit == c.len;
    if (fit == 0 && !fin)
        return RQ_ERR_BUFFER_TOO_SMALL;
    f->stream_id = s->id;
    f->offset = c.offset;
    f->length = fit;
    f->data = c.data;
    f->fin = fin;
    f->has_len = with_len;
    return 0;
}

uint64_t rq_stream_on_frame_sent(rq_stream *s, uint64_t off, size_t len, bool fin)
{
    if (!send_open(s))
        return 0;
    uint64_t fresh = rq_txbuf_on_sent(&s->tx, off, len, fin);
    rq_flow_tx_consume(&s->txfc, fresh);
    /* RFC 9000 §3.1: Ready -> Send on the first STREAM frame; Send -> Data Sent with FIN. */
    if (s->send == RQ_SEND_READY)
        s->send = RQ_SEND_SEND;
    if (s->send == RQ_SEND_SEND && rq_txbuf_all_sent(&s->tx))
        s->send = RQ_SEND_DATA_SENT;
    return fresh;
}

int rq_stream_on_frame_acked(rq_stream *s, uint64_t off, size_t len, bool fin)
{
    if (s->send != RQ_SEND_SEND && s->send != RQ_SEND_DATA_SENT)
        return 0; /* reset (data no longer tracked) or already complete */
    int rc = rq_txbuf_on_acked(&s->tx, off, len, fin);
    if (rc < 0)
        return rc;
    /* RFC 9000 §3.1: Data Sent -> Data Recvd once everything is acknowledged. */
    if (s->send == RQ_SEND_DATA_SENT && rq_txbuf_all_acked(&s->tx)) {
        s->send = RQ_SEND_DATA_RECVD;
        rq_txbuf_free(&s->tx);
    }
    return 0;
}

int rq_stream_on_frame_lost(rq_stream *s, uint64_t off, size_t len, bool fin)
{
    /* RFC 9000 §13.3: data of a reset stream is not retransmitted. */
    if (s->send != RQ_SEND_SEND && s->send != RQ_SEND_DATA_SENT)
        return 0;
    return rq_txbuf_on_lost(&s->tx, off, len, fin);
}

bool rq_stream_wants_send(const rq_stream *s, uint64_t conn_credit)
{
    rq_frame f;
    if (rq_stream_next_ctrl(s, 0, 0, &f))
        return true;
    if (!send_open(s))
        return false;
    uint64_t credit = rq_flow_tx_credit(&s->txfc);
    if (conn_credit < credit)
        credit = conn_credit;
    rq_txchunk c;
    return rq_txbuf_next(&s->tx, s->tx.sent_off + credit, &c);
}

bool rq_stream_is_done(const rq_stream *s)
{
    bool send_done =
        s->send == RQ_SEND_NONE || s->send == RQ_SEND_DATA_RECVD || s->send == RQ_SEND_RESET_RECVD;
    bool recv_done =
        s->recv == RQ_RECV_NONE || s->recv == RQ_RECV_DATA_READ || s->recv == RQ_RECV_RESET_READ;
    return send_done && recv_done;
}
