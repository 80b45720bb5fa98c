/* What the acknowledgement or loss of a packet means for the frames it carried (RFC 9000
 * §13.3), and for the congestion controller of the path it was sent on (RFC 9002 §7). */
#include "core/conn.h"

#include <string.h>

static rq_path *packet_path(rq_conn *c, const rq_sent_packet *p)
{
    if (p->path_id >= RQ_MAX_PATHS || !c->paths[p->path_id].in_use)
        return NULL;
    return &c->paths[p->path_id];
}

/* Rebuilds the encoder form of a stream or flow-control frame from its record, for the
 * streams module's acked/lost bookkeeping. */
static void record_to_frame(const rq_sent_frame *r, rq_frame *f)
{
    memset(f, 0, sizeof *f);
    f->type = r->type;
    switch (r->type) {
    case RQ_FT_STREAM:
        f->stream.stream_id = r->a;
        f->stream.offset = r->b;
        f->stream.length = (size_t)r->c;
        f->stream.fin = r->fin;
        f->stream.has_len = true;
        f->type = RQ_FT_STREAM | RQ_FT_STREAM_BIT_LEN | (r->b ? RQ_FT_STREAM_BIT_OFF : 0) |
                  (r->fin ? RQ_FT_STREAM_BIT_FIN : 0);
        break;
    case RQ_FT_RESET_STREAM:
        f->reset_stream.stream_id = r->a;
        f->reset_stream.app_error = r->b;
        f->reset_stream.final_size = r->c;
        break;
    case RQ_FT_STOP_SENDING:
        f->stop_sending.stream_id = r->a;
        f->stop_sending.app_error = r->b;
        break;
    case RQ_FT_MAX_DATA:
        f->max_data.max = r->a;
        break;
    case RQ_FT_DATA_BLOCKED:
        f->data_blocked.limit = r->a;
        break;
    case RQ_FT_MAX_STREAM_DATA:
        f->max_stream_data.stream_id = r->a;
        f->max_stream_data.max = r->b;
        break;
    case RQ_FT_STREAM_DATA_BLOCKED:
        f->stream_data_blocked.stream_id = r->a;
        f->stream_data_blocked.limit = r->b;
        break;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        f->max_streams.max = r->a;
        break;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        f->streams_blocked.limit = r->a;
        break;
    }
}

static bool is_stream_family(uint64_t type)
{
    switch (type) {
    case RQ_FT_STREAM:
    case RQ_FT_RESET_STREAM:
    case RQ_FT_STOP_SENDING:
    case RQ_FT_MAX_DATA:
    case RQ_FT_DATA_BLOCKED:
    case RQ_FT_MAX_STREAM_DATA:
    case RQ_FT_STREAM_DATA_BLOCKED:
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        return true;
    }
    return false;
}

static void frame_acked(rq_conn *c, const rq_sent_frame *r)
{
    if (r->type == RQ_FT_ACK) {
        /* RFC 9000 §13.2.4: the peer has seen this ACK; stop repeating what it covered. */
        rq_space *s = &c->spaces[r->b];
        if (!s->discarded)
            rq_ackrecv_on_ack_acked(&s->ack, r->a);
    } else if (r->type == RQ_FT_CRYPTO) {
        rq_space *s = &c->spaces[r->a];
        if (!s->discarded)
            (void)rq_txbuf_on_acked(&s->crypto_tx, r->b, (size_t)r->c, false);
    } else if (r->type == RQ_FT_NEW_CONNECTION_ID) {
        rq_cids_on_new_acked(&c->cids, r->a);
    } else if (r->type == RQ_FT_RETIRE_CONNECTION_ID) {
        rq_cids_on_retire_acked(&c->cids, r->a);
    } else if (is_stream_family(r->type)) {
        rq_frame f;
        record_to_frame(r, &f);
        (void)rq_streams_on_frame_acked(&c->streams, &f);
        if (r->type == RQ_FT_STREAM || r->type == RQ_FT_MAX_STREAM_DATA)
            rq_conn_event(c, RQ_EV_STREAM_WRITABLE, (int64_t)r->a, 0);
    }
}

static void frame_lost(rq_conn *c, const rq_sent_frame *r)
{
    if (r->type == RQ_FT_CRYPTO) {
        rq_space *s = &c->spaces[r->a];
        if (!s->discarded)
            (void)rq_txbuf_on_lost(&s->crypto_tx, r->b, (size_t)r->c, false);
    } else if (r->type == RQ_FT_HANDSHAKE_DONE) {
        c->handshake_done_pending = true; /* RFC 9000 §13.3: sent again until acknowledged */
    } else if (r->type == RQ_FT_NEW_TOKEN) {
        c->new_token_pending = true;
    } else if (r->type == RQ_FT_NEW_CONNECTION_ID) {
        rq_cids_on_new_lost(&c->cids, r->a);
    } else if (r->type == RQ_FT_RETIRE_CONNECTION_ID) {
        rq_cids_on_retire_lost(&c->cids, r->a);
    } else if (is_stream_family(r->type)) {
        rq_frame f;
        record_to_frame(r, &f);
        (void)rq_streams_on_frame_lost(&c->streams, &f);
    }
    /* ACK, PING, PADDING, CONNECTION_CLOSE: never retransmitted as such (§13.3). */
}

static void for_each_record(rq_conn *c, uint64_t token,
                            void (*fn)(rq_conn *, const rq_sent_frame *))
{
    uint64_t first = token >> 16, end = first + (token & 0xffff);
    for (uint64_t seq = first; seq < end; seq++) {
        rq_sent_frame *r = rq_sentlog_at(&c->sentlog, seq);
        if (r && !r->released)
            fn(c, r);
    }
    rq_sentlog_release(&c->sentlog, token);
}

void rq_conn_on_packet_acked(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now)
{
    rq_conn *c = ctx;
    (void)space;
    rq_path *path = packet_path(c, p);
    if (path && p->in_flight)
        rq_cc_on_acked(&path->cc, p->size, p->time_sent, &path->rtt, now);
    for_each_record(c, p->token, frame_acked);
}

void rq_conn_on_packet_lost(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now)
{
    rq_conn *c = ctx;
    rq_path *path = packet_path(c, p);
    if (path && p->in_flight) {
        bool was_recovering = path->cc.in_recovery && path->cc.recovery_start == now;
        rq_cc_on_lost(&path->cc, p->size, p->time_sent, now);
        /* RFC 9002 B.6 (MaybeSendOnePacket): entering recovery may send one packet at once,
         * even with the window full — this is what resends a lost handshake message when the
         * window is full of 1-RTT packets the peer cannot read yet. */
        if (!was_recovering && path->cc.in_recovery && path->cc.recovery_start == now)
            c->send_one = true;
    }
    rq_conn_qlog_lost(c, now, space, p->pn);
    for_each_record(c, p->token, frame_lost);
}

static void frame_forgotten(rq_conn *c, const rq_sent_frame *r)
{
    (void)c;
    (void)r;
}

void rq_conn_on_packet_discarded(void *ctx, rq_pn_space space, const rq_sent_packet *p)
{
    rq_conn *c = ctx;
    (void)space;
    rq_path *path = packet_path(c, p);
    if (path && p->in_flight)
        rq_cc_on_discarded(&path->cc, p->size);
    /* A forgotten ACK-only packet, or one whose keys are gone: nothing to resend. A
     * discarded space's CRYPTO data is no longer needed (RFC 9001 §4.9). */
    for_each_record(c, p->token, frame_forgotten);
}
