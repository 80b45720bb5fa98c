/* Sending: one datagram at a time, coalescing an Initial, a Handshake and a 1-RTT packet
 * (RFC 9000 §12.2), within the anti-amplification limit (§8.1) and the congestion window
 * (RFC 9002 §7), padding datagrams that carry Initial packets (§14.1). Frames are written in
 * the order ACK, control, CRYPTO, stream control, STREAM, and each one that must be repeated
 * if lost is recorded in the sent-frame log (§13.3). Packets are sealed once the datagram is
 * complete, so that the last one can take the padding. */
#include "core/conn.h"

#include "core/endpoint.h"
#include "core/packet.h"
#include "core/pn.h"
#include "core/spin.h"

#include <string.h>

/* Smallest room worth starting a packet in. */
/* Below this much window, no ack-eliciting packet is started (RFC 9002 §7: the sender does
 * not exceed the window by more than one packet). */
#define MIN_WINDOW_ROOM 64
/* Stream scheduling turns per packet (each turn sends one frame). */
#define MAX_STREAM_TURNS 32

typedef struct pkt_build {
    rq_pn_space space;
    uint8_t *start;
    rq_pkt_wpos pos;
    rq_wr w; /* payload writer; its end leaves room for the AEAD tag */
    uint64_t pn;
    uint64_t log_first, log_end; /* this packet's records in the sent-frame log */
    bool ack_eliciting;
    bool path_response; /* RFC 9000 §8.2.2: its datagram is padded to 1200 bytes */
    bool challenge;     /* carries a PATH_CHALLENGE */
    bool padded;
    bool closing;
    rq_frame frames[16]; /* for qlog; further frames are not logged */
    size_t nframes;
    rq_ack_range ack_ranges[RQ_ACKRECV_MAX_RANGES]; /* the ACK frame's (frames[] points here) */
} pkt_build;

static int log_frame(rq_conn *c, uint64_t type, uint64_t a, uint64_t b, uint64_t cc, bool fin)
{
    rq_sent_frame r = {type, a, b, cc, fin, false};
    return rq_sentlog_append(&c->sentlog, &r);
}

/* Encodes f into the packet; false if it does not fit (nothing written). */
static bool put_frame(pkt_build *pb, const rq_frame *f)
{
    if (rq_frame_encode(&pb->w, f) != 0)
        return false;
    if (rq_frame_is_ack_eliciting(f->type))
        pb->ack_eliciting = true;
    if (pb->nframes < sizeof pb->frames / sizeof pb->frames[0]) {
        rq_frame *copy = &pb->frames[pb->nframes++];
        *copy = *f;
        if (f->type == RQ_FT_NEW_TOKEN)
            copy->new_token.token = NULL; /* the bytes are gone by sealing; qlog needs the length */
    }
    return true;
}

static unsigned ack_exponent(const rq_conn *c, rq_pn_space sp)
{
    /* The exponent we advertise applies to 1-RTT ACKs; Initial and Handshake use 3. */
    return sp == RQ_PN_SPACE_APPLICATION ? (unsigned)c->local_tp.ack_delay_exponent : 3;
}

static void add_ack(rq_conn *c, pkt_build *pb, rq_time now)
{
    rq_space *s = &c->spaces[pb->space];
    /* The ranges live in the packet being built: its qlog record reads them at sealing. */
    rq_ack_range *ranges = pb->ack_ranges;
    rq_frame f = {.type = RQ_FT_ACK};
    if (rq_ackrecv_build(&s->ack, now, ack_exponent(c, pb->space), ranges, RQ_ACKRECV_MAX_RANGES,
                         &f.ack) != 0)
        return;
    if (!put_frame(pb, &f))
        return;
    if (log_frame(c, RQ_FT_ACK, ranges[0].largest, pb->space, 0, false) == 0)
        rq_ackrecv_on_ack_sent(&s->ack);
}

static void add_crypto(rq_conn *c, pkt_build *pb)
{
    rq_txbuf *tb = &c->spaces[pb->space].crypto_tx;
    rq_txchunk ch;
    while (rq_txbuf_next(tb, UINT64_MAX, &ch) && ch.len > 0) {
        size_t left = rq_wr_left(&pb->w);
        size_t hdr = 1 + rq_varint_len(ch.offset) + rq_varint_len(ch.len);
        if (left <= hdr + 1)
            return;
        size_t n = ch.len < left - hdr ? ch.len : left - hdr;
        rq_frame f = {.type = RQ_FT_CRYPTO};
        f.crypto.offset = ch.offset;
        f.crypto.length = n;
        f.crypto.data = ch.data;
        if (!put_frame(pb, &f))
            return;
        if (log_frame(c, RQ_FT_CRYPTO, pb->space, ch.offset, n, false) != 0)
            return;
        rq_txbuf_on_sent(tb, ch.offset, n, false);
    }
}

/* The record that lets a stream-family frame be reported acked or lost later. */
static int log_stream_family(rq_conn *c, const rq_frame *f)
{
    switch (f->type) {
    case RQ_FT_RESET_STREAM:
        return log_frame(c, f->type, f->reset_stream.stream_id, f->reset_stream.app_error,
                         f->reset_stream.final_size, false);
    case RQ_FT_STOP_SENDING:
        return log_frame(c, f->type, f->stop_sending.stream_id, f->stop_sending.app_error, 0,
                         false);
    case RQ_FT_MAX_DATA:
        return log_frame(c, f->type, f->max_data.max, 0, 0, false);
    case RQ_FT_DATA_BLOCKED:
        return log_frame(c, f->type, f->data_blocked.limit, 0, 0, false);
    case RQ_FT_MAX_STREAM_DATA:
        return log_frame(c, f->type, f->max_stream_data.stream_id, f->max_stream_data.max, 0,
                         false);
    case RQ_FT_STREAM_DATA_BLOCKED:
        return log_frame(c, f->type, f->stream_data_blocked.stream_id, f->stream_data_blocked.limit,
                         0, false);
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        return log_frame(c, f->type, f->max_streams.max, 0, 0, false);
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        return log_frame(c, f->type, f->streams_blocked.limit, 0, 0, false);
    }
    return RQ_ERR_INTERNAL;
}

static rq_time active_rtt(rq_conn *c)
{
    return rq_conn_active_path(c)->rtt.smoothed_rtt;
}

static void add_conn_ctrl(rq_conn *c, pkt_build *pb, rq_time now)
{
    rq_frame f;
    for (int i = 0; i < 8 && rq_streams_next_conn_ctrl(&c->streams, now, active_rtt(c), &f); i++) {
        if (!put_frame(pb, &f) || log_stream_family(c, &f) != 0)
            return;
        rq_streams_on_conn_ctrl_sent(&c->streams, &f, now);
    }
}

/* One scheduling turn: the stream's control frames, then one STREAM frame. Returns false
 * when nothing more can go in this packet. */
static bool stream_turn(rq_conn *c, pkt_build *pb, rq_time now)
{
    rq_stream *s = rq_streams_next_sender(&c->streams);
    if (!s)
        return false;
    rq_frame f;
    bool progress = false;
    uint64_t id = s->id;
    while (rq_stream_next_ctrl(s, now, active_rtt(c), &f)) {
        if (!put_frame(pb, &f) || log_stream_family(c, &f) != 0)
            return false;
        rq_streams_on_stream_ctrl_sent(&c->streams, s, &f, now);
        progress = true;
        s = rq_streams_get(&c->streams, id);
        if (!s)
            return true; /* the stream finished and was freed */
    }
    rq_frame_stream fs;
    int rc = rq_stream_prepare_frame(s, rq_streams_conn_credit(&c->streams), rq_wr_left(&pb->w),
                                     true, &fs);
    if (rc == RQ_ERR_AGAIN)
        return progress;
    if (rc)
        return false;
    rq_frame sf = {.type = RQ_FT_STREAM | RQ_FT_STREAM_BIT_LEN |
                           (fs.offset ? RQ_FT_STREAM_BIT_OFF : 0) |
                           (fs.fin ? RQ_FT_STREAM_BIT_FIN : 0)};
    sf.stream = fs;
    if (!put_frame(pb, &sf) ||
        log_frame(c, RQ_FT_STREAM, fs.stream_id, fs.offset, fs.length, fs.fin) != 0)
        return false;
    rq_streams_on_stream_frame_sent(&c->streams, s, fs.offset, fs.length, fs.fin);
    return true;
}

static void add_streams(rq_conn *c, pkt_build *pb, rq_time now)
{
    for (int turn = 0; turn < MAX_STREAM_TURNS && rq_wr_left(&pb->w) > 8; turn++)
        if (!stream_turn(c, pb, now))
            return;
}

/* RFC 9000 §8.1.3: a NEW_TOKEN bound to the client's address; a lost one is replaced by a
 * fresh token rather than repeated (§13.3 lets either happen). */
static void add_new_token(rq_conn *c, pkt_build *pb, rq_time now)
{
    uint8_t token[RQ_TOKEN_MAX_LEN];
    size_t len;
    rq_endpoint *ep = c->ep;
    if (rq_token_issue_new(&ep->token_key, now / RQ_MS, &rq_conn_active_path(c)->addr.remote,
                           ep->rnd, ep->rnd_ctx, token, sizeof token, &len) != 0)
        return;
    rq_frame f = {.type = RQ_FT_NEW_TOKEN};
    f.new_token.token = token;
    f.new_token.length = len;
    if (put_frame(pb, &f) && log_frame(c, RQ_FT_NEW_TOKEN, 0, 0, 0, false) == 0)
        c->new_token_pending = false;
}

static void add_ping(rq_conn *c, pkt_build *pb);

/* PATH_CHALLENGE and PATH_RESPONSE due on the path this datagram goes out on (RFC 9000 §8.2):
 * at most one challenge per packet (§8.2.1), the response on the path the challenge came
 * on (§8.2.2). Neither is repeated when lost (§13.3): a new challenge carries new data. */
static void add_path_frames(rq_conn *c, pkt_build *pb, rq_path *p, rq_time now)
{
    if (p->response_due) {
        rq_frame f = {.type = RQ_FT_PATH_RESPONSE};
        memcpy(f.path.data, p->response, sizeof f.path.data);
        if (put_frame(pb, &f)) {
            p->response_due = false;
            pb->path_response = true;
            /* §9.3.3: a challenge on the active path may come from a peer checking whether we
             * are really here after an apparent migration: a non-probing frame with the
             * answer lets the genuine path win back at once. */
            if (p->id == c->active_path && c->handshake_confirmed)
                add_ping(c, pb);
        }
    }
    if (p->challenge_due) {
        rq_frame f = {.type = RQ_FT_PATH_CHALLENGE};
        if (rq_wr_left(&pb->w) >= 9 && rq_conn_path_new_challenge(c, p, f.path.data, now) == 0 &&
            put_frame(pb, &f))
            pb->path_response = pb->challenge = true; /* padded the same way (§8.2.1) */
    }
}

/* NEW_CONNECTION_ID and RETIRE_CONNECTION_ID due (RFC 9000 §5.1, §19.15, §19.16). */
static void add_cid_frames(rq_conn *c, pkt_build *pb)
{
    rq_frame f;
    for (int i = 0; i < RQ_CIDS_MAX_LOCAL && rq_cids_next_new(&c->cids, &f); i++) {
        if (!put_frame(pb, &f) ||
            log_frame(c, RQ_FT_NEW_CONNECTION_ID, f.new_cid.seq, 0, 0, false) != 0)
            return;
        rq_cids_on_new_sent(&c->cids, f.new_cid.seq);
    }
    for (int i = 0; i < RQ_CIDS_MAX_RETIRING && rq_cids_next_retire(&c->cids, &f); i++) {
        if (!put_frame(pb, &f) ||
            log_frame(c, RQ_FT_RETIRE_CONNECTION_ID, f.retire_cid.seq, 0, 0, false) != 0)
            return;
        rq_cids_on_retire_sent(&c->cids, f.retire_cid.seq);
    }
}

static void add_ping(rq_conn *c, pkt_build *pb)
{
    rq_frame f = {.type = RQ_FT_PING};
    if (put_frame(pb, &f))
        (void)log_frame(c, RQ_FT_PING, 0, 0, 0, false);
}

/* 1-RTT data may flow once the handshake is complete (a server may also send before, as
 * "0.5-RTT" data, but this implementation waits). */
static bool app_ready(const rq_conn *c)
{
    return c->handshake_complete;
}

static bool space_has_eliciting(rq_conn *c, rq_pn_space sp, rq_time now)
{
    rq_space *s = &c->spaces[sp];
    rq_txchunk ch;
    if (s->probes_due || rq_txbuf_next(&s->crypto_tx, UINT64_MAX, &ch))
        return true;
    if (sp != RQ_PN_SPACE_APPLICATION || !app_ready(c))
        return false;
    rq_frame f;
    if (rq_cids_next_new(&c->cids, &f) || rq_cids_next_retire(&c->cids, &f))
        return true;
    const rq_path *ap = &c->paths[c->active_path];
    if (ap->challenge_due || ap->response_due)
        return true;
    if (c->handshake_done_pending || c->ping_pending ||
        (c->new_token_pending && c->handshake_confirmed) ||
        rq_streams_next_conn_ctrl(&c->streams, now, active_rtt(c), &f))
        return true;
    return rq_streams_next_sender(&c->streams) != NULL;
}

static bool ack_due(rq_conn *c, rq_pn_space sp, rq_time now)
{
    return rq_ackrecv_deadline(&c->spaces[sp].ack) <= now;
}

static int open_packet(rq_conn *c, pkt_build *pb, rq_pn_space sp, uint8_t *buf, size_t room)
{
    rq_space *s = &c->spaces[sp];
    memset(pb, 0, sizeof *pb);
    pb->space = sp;
    pb->start = buf;
    pb->pn = s->next_pn;
    size_t pn_len = rq_pn_encode_len(pb->pn, rq_recovery_largest_acked(&c->rec, sp));
    if (pn_len == 0)
        return RQ_ERR_LIMIT;
    rq_wr w = rq_wr_init(buf, room - RQ_AEAD_TAG_LEN);
    int rc;
    if (sp == RQ_PN_SPACE_APPLICATION) {
        /* RFC 9000 §17.4: the path's spin value (spin.h). */
        rq_path *p = &c->paths[c->tx_path];
        rc = rq_pkt_write_short(&w, rq_conn_path_dcid(c, p), rq_conn_spin_tx(c, p), c->tx_phase,
                                pb->pn, pn_len, &pb->pos);
    } else {
        bool initial = sp == RQ_PN_SPACE_INITIAL;
        const uint8_t *token = initial && c->retry_token_len ? c->retry_token : NULL;
        size_t token_len = initial ? c->retry_token_len : 0;
        rc = rq_pkt_write_long(&w, initial ? RQ_PKT_INITIAL : RQ_PKT_HANDSHAKE, RQ_VERSION_1,
                               &c->dcid, &c->scid, token, token_len, pb->pn, pn_len, 2, &pb->pos);
    }
    if (rc)
        return rc;
    pb->w = w;
    pb->log_first = rq_sentlog_mark(&c->sentlog);
    return 0;
}

/* RFC 9001 §5.4.2: the header-protection sample needs 4 bytes of packet number + payload;
 * PADDING frames make up the difference. */
static void pad_for_sample(pkt_build *pb)
{
    size_t body = (size_t)(pb->w.p - pb->start) - pb->pos.pn_offset;
    if (body < 4 && rq_wr_zeros(&pb->w, 4 - body))
        pb->padded = true;
}

/* Records the PADDING written since `before` for qlog. */
static void note_padding(pkt_build *pb, const uint8_t *before)
{
    if (pb->w.p > before && pb->nframes < sizeof pb->frames / sizeof pb->frames[0]) {
        rq_frame *f = &pb->frames[pb->nframes++];
        f->type = RQ_FT_PADDING;
        f->padding.count = (size_t)(pb->w.p - before);
    }
}

/* Builds one packet of space sp into buf (room bytes, tag included). Returns the bytes the
 * packet will take once sealed, or 0 when it has nothing to carry. */
static size_t build_packet(rq_conn *c, rq_pn_space sp, uint8_t *buf, size_t room, size_t window,
                           rq_time now, pkt_build *pb)
{
    rq_space *s = &c->spaces[sp];
    bool eliciting =
        space_has_eliciting(c, sp, now) && (window >= MIN_WINDOW_ROOM || s->probes_due);
    bool ack = rq_ackrecv_wants_ack(&s->ack) && (ack_due(c, sp, now) || eliciting);
    if ((!eliciting && !ack) || room < RQ_MIN_PACKET_ROOM)
        return 0;
    if (open_packet(c, pb, sp, buf, room) != 0)
        return 0;
    if (ack)
        add_ack(c, pb, now);
    if (eliciting) {
        if (!s->probes_due && window < rq_wr_left(&pb->w))
            pb->w.end = pb->w.p + window; /* stay within the congestion window */
        if (sp == RQ_PN_SPACE_APPLICATION && c->handshake_done_pending) {
            rq_frame f = {.type = RQ_FT_HANDSHAKE_DONE};
            if (put_frame(pb, &f) && log_frame(c, RQ_FT_HANDSHAKE_DONE, 0, 0, 0, false) == 0)
                c->handshake_done_pending = false;
        }
        if (sp == RQ_PN_SPACE_APPLICATION)
            add_path_frames(c, pb, &c->paths[c->tx_path], now);
        if (sp == RQ_PN_SPACE_APPLICATION && c->new_token_pending && c->handshake_confirmed)
            add_new_token(c, pb, now);
        if (sp == RQ_PN_SPACE_APPLICATION) {
            add_cid_frames(c, pb);
            add_conn_ctrl(c, pb, now);
        }
        add_crypto(c, pb);
        if (sp == RQ_PN_SPACE_APPLICATION && app_ready(c) && !c->paths[c->tx_path].pacer.blocked)
            add_streams(c, pb, now);
        if (!pb->ack_eliciting &&
            (s->probes_due || (sp == RQ_PN_SPACE_APPLICATION && c->ping_pending)))
            add_ping(c, pb);
        if (pb->ack_eliciting) {
            if (s->probes_due)
                s->probes_due--;
            if (sp == RQ_PN_SPACE_APPLICATION)
                c->ping_pending = false;
        }
    }
    if (pb->w.p == pb->start + pb->pos.pn_offset + pb->pos.pn_len)
        return 0; /* nothing went in after all */
    /* Now, not when sealing: the next packet of the datagram is laid out right behind. */
    uint8_t *before = pb->w.p;
    pad_for_sample(pb);
    note_padding(pb, before);
    pb->w.end = buf + room - RQ_AEAD_TAG_LEN;
    /* The packets of one datagram are sealed together, after all were built: each must end
     * its own run of records now. */
    pb->log_end = rq_sentlog_mark(&c->sentlog);
    s->next_pn++;
    return (size_t)(pb->w.p - buf) + RQ_AEAD_TAG_LEN;
}

/* Pads to `target` total packet bytes (and at least to the sample, above). */
static void pad_packet(pkt_build *pb, size_t target)
{
    uint8_t *before = pb->w.p;
    pad_for_sample(pb);
    size_t now_len = (size_t)(pb->w.p - pb->start) + RQ_AEAD_TAG_LEN;
    if (target > now_len && rq_wr_left(&pb->w) >= target - now_len) {
        (void)rq_wr_zeros(&pb->w, target - now_len);
        pb->padded = true;
    }
    note_padding(pb, before);
}

static int seal_packet(rq_conn *c, pkt_build *pb, rq_time now, size_t *len)
{
    rq_space *s = &c->spaces[pb->space];
    size_t plain = (size_t)(pb->w.p - pb->start);
    if (pb->pos.length_field) {
        int rc = rq_pkt_finish_long(&pb->pos, plain - pb->pos.pn_offset + RQ_AEAD_TAG_LEN);
        if (rc)
            return rc;
    }
    int rc = rq_packet_protect(&s->tx, &s->tx_hp, pb->pn, pb->start, plain, pb->pos.pn_offset,
                               plain + RQ_AEAD_TAG_LEN, len);
    if (rc)
        return rc;
    rq_sent_packet sp = {
        .pn = pb->pn,
        .time_sent = now,
        .token = rq_sentlog_token(pb->log_first, pb->log_end),
        .path_id = c->tx_path,
        .size = (uint32_t)*len,
        .ack_eliciting = pb->ack_eliciting,
        /* RFC 9002 §2: ack-eliciting or padded packets count in flight. */
        .in_flight = pb->ack_eliciting || pb->padded,
    };
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    rc = rq_recovery_on_sent(&c->rec, pb->space, &sp, now, &env);
    if (rc)
        return rc;
    if (sp.in_flight) {
        rq_path *path = &c->paths[c->tx_path];
        rq_cc_on_sent(&path->cc, sp.size, now);
        if (pb->ack_eliciting && pb->space == RQ_PN_SPACE_APPLICATION)
            rq_pacer_on_sent(&path->pacer, now, path->cc.cwnd, path->rtt.smoothed_rtt, sp.size);
    }
    if (pb->ack_eliciting)
        c->last_ack_eliciting_sent = now;
    rq_conn_qlog_packet(c, now, true, pb->space, pb->pn, *len, pb->frames, pb->nframes);
    return 0;
}

static size_t datagram_limit(rq_conn *c, const rq_path *p, const rq_datagram_out *out)
{
    size_t limit = out->cap < p->max_datagram ? out->cap : p->max_datagram;
    if (c->have_peer_tp && c->peer_tp.max_udp_payload_size < limit)
        limit = (size_t)c->peer_tp.max_udp_payload_size;
    /* RFC 9000 §8.1: three times what the unvalidated peer sent us, no more. */
    if (c->role == RQ_ROLE_SERVER && !p->validated) {
        uint64_t budget = 3 * p->bytes_received;
        uint64_t left = budget > p->bytes_sent ? budget - p->bytes_sent : 0;
        if (left < limit)
            limit = (size_t)left;
    }
    return limit;
}

/* Seals the packets of a datagram, padding the last one when the datagram must reach
 * 1200 bytes (RFC 9000 §14.1). */
static int finish_datagram(rq_conn *c, pkt_build *pkts, size_t n, bool pad, size_t limit,
                           rq_time now, rq_datagram_out *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)(pkts[i].w.p - pkts[i].start) + RQ_AEAD_TAG_LEN;
    size_t last_len = (size_t)(pkts[n - 1].w.p - pkts[n - 1].start) + RQ_AEAD_TAG_LEN;
    size_t target = pad && total < RQ_MIN_INITIAL_DATAGRAM && limit >= RQ_MIN_INITIAL_DATAGRAM
                        ? last_len + RQ_MIN_INITIAL_DATAGRAM - total
                        : 0;
    /* RFC 9000 §10.3 (MIG-10.3-04): no packet shorter than a Stateless Reset could be, 22
     * bytes more than the CID we asked the peer to use, so resets look like packets. Long
     * headers carry that CID themselves; the short one is always last. */
    size_t floor = c->ep->cfg->transport.local_cid_len + 22u;
    if (target < floor)
        target = floor;
    for (size_t i = 0; i < n; i++)
        pad_packet(&pkts[i], i == n - 1 ? target : 0);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        int rc = seal_packet(c, &pkts[i], now, &len);
        if (rc)
            return rc;
        off += len;
    }
    rq_path *p = &c->paths[c->tx_path];
    p->bytes_sent += off;
    /* RFC 9002 §6.2.2.1: a datagram that used up the 3x budget leaves no PTO armed. */
    if (c->role == RQ_ROLE_SERVER && !p->validated) {
        rq_recovery_env env;
        rq_conn_recovery_env(c, &env);
        if (env.amplification_blocked)
            rq_recovery_set_timer(&c->rec, now, &env);
    }
    /* RFC 9000 §8.2.1: a challenge the amplification limit kept small proves the address but
     * not that the path carries 1200 bytes. */
    for (size_t i = 0; i < n && off < RQ_MIN_INITIAL_DATAGRAM; i++)
        if (pkts[i].challenge)
            p->challenge_small |= 1;
    out->len = off;
    out->path = p->addr;
    /* RFC 9000 §9.7: the flow label of this path and DCID (0 for IPv4). */
    out->flow_label = rq_conn_flow_label(c, p);
    return 1;
}

static int send_close(rq_conn *c, rq_time now, rq_datagram_out *out, size_t limit)
{
    pkt_build pkts[3];
    size_t n = 0, used = 0;
    bool has_initial = false;
    for (int sp = 0; sp < 3; sp++) {
        rq_space *s = &c->spaces[sp];
        if (!s->has_tx || s->discarded || limit - used < RQ_MIN_PACKET_ROOM)
            continue;
        if (sp == RQ_PN_SPACE_APPLICATION && c->role == RQ_ROLE_CLIENT && !c->handshake_complete)
            continue; /* the server may not have 1-RTT keys yet */
        pkt_build *pb = &pkts[n];
        if (open_packet(c, pb, (rq_pn_space)sp, out->buf + used, limit - used) != 0)
            continue;
        rq_frame f = {.type = RQ_FT_CONNECTION_CLOSE};
        /* RFC 9000 §10.2.3: an application close in Initial or Handshake packets goes out as
         * a transport close with APPLICATION_ERROR, without the application's reason. */
        if (c->close_app && sp == RQ_PN_SPACE_APPLICATION) {
            f.type = RQ_FT_CONNECTION_CLOSE_APP;
            f.close.error_code = c->close_code;
        } else if (c->close_app) {
            f.close.error_code = RQ_QUIC_APPLICATION_ERROR;
        } else {
            f.close.error_code = c->close_code;
            f.close.frame_type = c->close_frame_type;
        }
        bool with_reason = !c->close_app || sp == RQ_PN_SPACE_APPLICATION;
        f.close.reason = (const uint8_t *)c->close_reason;
        f.close.reason_len = with_reason ? c->close_reason_len : 0;
        if (!put_frame(pb, &f))
            continue;
        pb->log_end = rq_sentlog_mark(&c->sentlog);
        c->spaces[sp].next_pn++;
        used += (size_t)(pb->w.p - pb->start) + RQ_AEAD_TAG_LEN;
        has_initial |= sp == RQ_PN_SPACE_INITIAL;
        n++;
    }
    c->close_send_pending = false;
    if (n == 0)
        return 0;
    bool pad = has_initial && c->role == RQ_ROLE_CLIENT;
    return finish_datagram(c, pkts, n, pad, limit, now, out);
}

/* A datagram on a path other than the active one, carrying only probing frames (RFC 9000
 * §9.1): a PATH_CHALLENGE of its validation, or the PATH_RESPONSE to a challenge that came on
 * it; padded to 1200 bytes within that path's anti-amplification budget (§8.2.1, §8.2.2). */
static int send_probe(rq_conn *c, rq_path *p, rq_time now, rq_datagram_out *out)
{
    rq_space *s = &c->spaces[RQ_PN_SPACE_APPLICATION];
    if (!s->has_tx || !c->handshake_complete)
        return 0;
    c->tx_path = p->id;
    size_t limit = datagram_limit(c, p, out);
    if (limit < RQ_MIN_PACKET_ROOM)
        return 0;
    pkt_build pb;
    if (open_packet(c, &pb, RQ_PN_SPACE_APPLICATION, out->buf, limit) != 0)
        return 0;
    /* §9.1: NEW_CONNECTION_ID is a probing frame. Ahead of the challenge it gives the peer a
     * CID to answer on this path with (§9.5, MIG-5.1.1-08): a peer that has none waits for
     * the next challenge, a PTO later. */
    add_cid_frames(c, &pb);
    add_path_frames(c, &pb, p, now);
    if (pb.nframes == 0)
        return 0;
    pb.log_end = rq_sentlog_mark(&c->sentlog);
    s->next_pn++;
    int rc = finish_datagram(c, &pb, 1, true, limit, now, out);
    c->tx_path = c->active_path;
    return rc;
}

int rq_conn_send(rq_conn *c, rq_time now, rq_datagram_out *out)
{
    if (c->state == RQ_CONN_CLOSED || c->state == RQ_CONN_DRAINING)
        return 0;
    c->tx_path = c->active_path;
    size_t limit = datagram_limit(c, &c->paths[c->active_path], out);
    if (c->state == RQ_CONN_CLOSING)
        return c->close_send_pending ? send_close(c, now, out, limit) : 0;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        rq_path *q = &c->paths[i];
        if (i == c->active_path || !q->in_use || !(q->challenge_due || q->response_due))
            continue;
        int rc = send_probe(c, q, now, out);
        /* The probe set tx_path to its own path: everything else goes on the active one. */
        c->tx_path = c->active_path;
        if (rc)
            return rc;
    }
    rq_path *p = rq_conn_active_path(c);
    uint64_t window = rq_cc_bytes_available(&p->cc);
    bool send_one = c->send_one;
    if (send_one)
        window = UINT64_MAX;
    /* RFC 9002 §7.7: stream data waits for the pacer; ACKs, control and path frames, probes
     * do not. */
    p->pacer.blocked = !send_one && !rq_pacer_ready(&p->pacer, now) && window > 0 &&
                       rq_streams_next_sender(&c->streams);
    rq_conn_maybe_update_keys(c, now);
    pkt_build pkts[3];
    size_t n = 0, used = 0;
    bool has_initial = false, initial_eliciting = false, sent_handshake = false;
    bool path_response = false;
    for (int sp = 0; sp < 3; sp++) {
        rq_space *s = &c->spaces[sp];
        if (!s->has_tx || s->discarded || limit <= used)
            continue;
        /* RFC 9000 §14.1: an Initial must travel in a 1200-byte datagram; without that much
         * room (the amplification limit) it waits. */
        if (sp == RQ_PN_SPACE_INITIAL && limit < RQ_MIN_INITIAL_DATAGRAM)
            continue;
        size_t w = window > used ? (size_t)(window - used) : 0;
        size_t len =
            build_packet(c, (rq_pn_space)sp, out->buf + used, limit - used, w, now, &pkts[n]);
        if (!len)
            continue;
        used += len;
        if (sp == RQ_PN_SPACE_INITIAL) {
            has_initial = true;
            initial_eliciting = pkts[n].ack_eliciting;
        }
        sent_handshake |= sp == RQ_PN_SPACE_HANDSHAKE;
        path_response |= pkts[n].path_response;
        n++;
    }
    if (n == 0)
        return 0;
    if (send_one)
        c->send_one = false;
    /* RFC 9000 §14.1 (Initial) and §8.2.2 (PATH_RESPONSE): datagrams of at least 1200 bytes. */
    bool pad = (c->role == RQ_ROLE_CLIENT && has_initial) || initial_eliciting || path_response;
    int rc = finish_datagram(c, pkts, n, pad, limit, now, out);
    if (rc < 0) {
        rq_conn_fail(c, now, rc, 0);
        return 0;
    }
    /* RFC 9001 §4.9.1: a client drops its Initial keys once it sends a Handshake packet. */
    if (sent_handshake && c->role == RQ_ROLE_CLIENT)
        rq_conn_discard_space(c, RQ_PN_SPACE_INITIAL, now);
    return rc;
}
