/* Receiving: a datagram's coalesced packets are unprotected, deduplicated and their frames
 * processed (RFC 9000 §12, §13, §17, §19; RFC 9001 §5). */
#include "core/conn.h"

#include "core/endpoint.h"
#include "core/packet.h"
#include "core/pn.h"
#include "core/reset.h"
#include "core/spin.h"
#include "core/stream_id.h"

#include <string.h>

/* The outcome of one packet's frames: fine, drop the packet without acknowledging it (a local
 * limit: the peer will send again), or a connection error already acted upon. */
enum { PKT_OK = 0, PKT_DROP = 1, PKT_CLOSED = 2 };

static rq_pn_space pkt_space(rq_pkt_type t)
{
    switch (t) {
    case RQ_PKT_INITIAL:
        return RQ_PN_SPACE_INITIAL;
    case RQ_PKT_HANDSHAKE:
        return RQ_PN_SPACE_HANDSHAKE;
    default:
        return RQ_PN_SPACE_APPLICATION;
    }
}

static rq_crypto_level space_level(rq_pn_space s)
{
    return s == RQ_PN_SPACE_INITIAL     ? RQ_CRYPTO_INITIAL
           : s == RQ_PN_SPACE_HANDSHAKE ? RQ_CRYPTO_HANDSHAKE
                                        : RQ_CRYPTO_APPLICATION;
}

static int on_crypto(rq_conn *c, rq_pn_space space, const rq_frame *f, rq_time now)
{
    rq_space *s = &c->spaces[space];
    int rc = rq_rxbuf_write(&s->crypto_rx, f->crypto.offset, f->crypto.data, f->crypto.length);
    if (rc)
        return rc;
    /* RFC 9000 §7.5: hand TLS the bytes in order as they become contiguous. */
    const uint8_t *p;
    size_t n;
    while ((n = rq_rxbuf_peek(&s->crypto_rx, &p)) > 0) {
        rc = rq_tls_recv_crypto(c->tls, space_level(space), p, n);
        if (rc)
            return rc;
        rq_rxbuf_consume(&s->crypto_rx, n);
    }
    return rq_conn_tls_pump(c, now);
}

static int on_ack(rq_conn *c, rq_pn_space space, const rq_frame *f, rq_time now)
{
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    /* The peer's exponent applies to its 1-RTT ACKs; Initial and Handshake ones use 3. */
    unsigned exp = space == RQ_PN_SPACE_APPLICATION && c->have_peer_tp
                       ? (unsigned)c->peer_tp.ack_delay_exponent
                       : 3;
    rq_time delay = rq_ack_delay_decode(f->ack.ack_delay, exp);
    int rc = rq_recovery_on_ack(&c->rec, space, &f->ack, delay, now, &env);
    if (rc)
        return rc;
    rq_conn_qlog_metrics(c, now);
    /* RFC 9002 A.6: a client knows the server validated its address once a Handshake packet
     * is acknowledged. */
    if (c->role == RQ_ROLE_CLIENT && space == RQ_PN_SPACE_HANDSHAKE && !c->peer_validated_us) {
        c->peer_validated_us = true;
        rq_conn_recovery_env(c, &env);
        rq_recovery_set_timer(&c->rec, now, &env);
    }
    return 0;
}

static void announce_new_streams(rq_conn *c)
{
    uint64_t id;
    while (rq_streams_accept(&c->streams, &id))
        rq_conn_event(c, RQ_EV_STREAM_OPENED, (int64_t)id, 0);
}

static int on_stream_frames(rq_conn *c, const rq_frame *f)
{
    int rc = 0;
    uint64_t t = f->type;
    if (rq_ft_is_stream(t)) {
        rc = rq_streams_on_stream(&c->streams, &f->stream);
        if (!rc) {
            announce_new_streams(c);
            rq_conn_event(c, RQ_EV_STREAM_READABLE, (int64_t)f->stream.stream_id, 0);
        }
        return rc;
    }
    switch (t) {
    case RQ_FT_RESET_STREAM:
        rc = rq_streams_on_reset(&c->streams, f->reset_stream.stream_id, f->reset_stream.app_error,
                                 f->reset_stream.final_size);
        if (!rc) {
            announce_new_streams(c);
            rq_conn_event(c, RQ_EV_STREAM_RESET, (int64_t)f->reset_stream.stream_id,
                          f->reset_stream.app_error);
        }
        return rc;
    case RQ_FT_STOP_SENDING:
        rc = rq_streams_on_stop_sending(&c->streams, f->stop_sending.stream_id,
                                        f->stop_sending.app_error);
        if (!rc) {
            announce_new_streams(c);
            rq_conn_event(c, RQ_EV_STREAM_STOPPED, (int64_t)f->stop_sending.stream_id,
                          f->stop_sending.app_error);
        }
        return rc;
    case RQ_FT_MAX_DATA:
        rq_streams_on_max_data(&c->streams, f->max_data.max);
        return 0;
    case RQ_FT_MAX_STREAM_DATA:
        rc = rq_streams_on_max_stream_data(&c->streams, f->max_stream_data.stream_id,
                                           f->max_stream_data.max);
        if (!rc)
            rq_conn_event(c, RQ_EV_STREAM_WRITABLE, (int64_t)f->max_stream_data.stream_id, 0);
        return rc;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI: {
        bool uni = t == RQ_FT_MAX_STREAMS_UNI;
        uint64_t before = c->streams.peer_max_streams[uni];
        rc = rq_streams_on_max_streams(&c->streams, uni, f->max_streams.max);
        if (!rc && c->streams.peer_max_streams[uni] > before) {
            rq_event ev = {.type = RQ_EV_STREAMS_AVAILABLE, .conn = c, .stream_id = -1, .uni = uni};
            (void)rq_ep_push_event(c->ep, &ev);
        }
        return rc;
    }
    case RQ_FT_DATA_BLOCKED:
        rq_streams_on_data_blocked(&c->streams, f->data_blocked.limit);
        return 0;
    case RQ_FT_STREAM_DATA_BLOCKED:
        return rq_streams_on_stream_data_blocked(&c->streams, f->stream_data_blocked.stream_id,
                                                 f->stream_data_blocked.limit);
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        return rq_streams_on_streams_blocked(&c->streams, t == RQ_FT_STREAMS_BLOCKED_UNI,
                                             f->streams_blocked.limit);
    }
    return RQ_ERR_INTERNAL;
}

static int on_new_cid(rq_conn *c, const rq_frame *f)
{
    /* RFC 9000 §19.15: an endpoint using zero-length CIDs cannot be given new ones. */
    if (c->dcid.len == 0)
        return RQ_ERR_PROTOCOL_VIOLATION;
    uint32_t orphaned = 0;
    int rc = rq_cids_on_new(&c->cids, f->new_cid.seq, f->new_cid.retire_prior_to, &f->new_cid.cid,
                            f->new_cid.reset_token, &orphaned);
    if (!rc && orphaned)
        rq_conn_paths_reassign_cids(c, orphaned); /* §5.1.2: stop using retired CIDs */
    return rc;
}

static int on_retire_cid(rq_conn *c, const rq_frame *f, rq_time now)
{
    /* RFC 9000 §19.16: an endpoint that gave out a zero-length CID has none to retire. */
    if (c->scid.len == 0)
        return RQ_ERR_PROTOCOL_VIOLATION;
    rq_cid retired;
    bool found = false;
    int rc = rq_cids_on_retire(&c->cids, f->retire_cid.seq, &c->rx_dcid, &retired, &found);
    if (rc || !found)
        return rc;
    rq_conn_linger_cid(c, &retired, now);
    /* RFC 9000 §5.1.1: a retired CID is replaced. */
    rq_conn_issue_cids(c);
    return 0;
}

static void on_peer_close(rq_conn *c, const rq_frame *f, rq_time now)
{
    c->close_code = f->close.error_code;
    c->close_app = f->type == RQ_FT_CONNECTION_CLOSE_APP;
    c->close_by_peer = true;
    /* RFC 9000 §10.2.2: on a CONNECTION_CLOSE, drain. */
    rq_conn_enter_draining(c, now);
}

static int on_frame(rq_conn *c, rq_pn_space space, const rq_frame *f, rq_time now)
{
    switch (f->type) {
    case RQ_FT_PADDING:
    case RQ_FT_PING:
        return 0;
    case RQ_FT_ACK:
    case RQ_FT_ACK_ECN:
        return on_ack(c, space, f, now);
    case RQ_FT_CRYPTO:
        return on_crypto(c, space, f, now);
    case RQ_FT_NEW_TOKEN:
        /* RFC 9000 §8.1.3: kept for a later connection (the token store comes with 0-RTT). */
        if (f->new_token.length <= sizeof c->new_token) {
            memcpy(c->new_token, f->new_token.token, f->new_token.length);
            c->new_token_len = f->new_token.length;
        }
        return 0;
    case RQ_FT_NEW_CONNECTION_ID:
        return on_new_cid(c, f);
    case RQ_FT_RETIRE_CONNECTION_ID:
        return on_retire_cid(c, f, now);
    case RQ_FT_PATH_CHALLENGE:
        rq_conn_path_on_challenge(c, &c->paths[c->rx_path], f->path.data);
        return 0;
    case RQ_FT_PATH_RESPONSE:
        rq_conn_path_on_response(c, f->path.data, now);
        return 0;
    case RQ_FT_CONNECTION_CLOSE:
    case RQ_FT_CONNECTION_CLOSE_APP:
        on_peer_close(c, f, now);
        return 0;
    case RQ_FT_HANDSHAKE_DONE:
        /* RFC 9001 §4.1.2: HANDSHAKE_DONE confirms the handshake for the client. */
        rq_conn_confirm_handshake(c, now);
        return 0;
    default:
        return on_stream_frames(c, f);
    }
}

/* Frames of one packet kept for its qlog packet_received event. */
#define QLOG_FRAMES 16
typedef struct frame_log {
    rq_frame f[QLOG_FRAMES];
    size_t n;
} frame_log;

/* Runs a decrypted payload's frames. Returns PKT_OK/PKT_DROP/PKT_CLOSED; *ack_eliciting, and
 * *non_probing when a frame other than the probing ones (RFC 9000 §9.1) was there. */
static int process_frames(rq_conn *c, rq_pn_space space, rq_pkt_type type, const uint8_t *p,
                          size_t len, rq_time now, bool *ack_eliciting, bool *non_probing,
                          frame_log *fl)
{
    int rc = rq_frame_check_payload(len);
    if (rc) {
        rq_conn_fail(c, now, rc, 0);
        return PKT_CLOSED;
    }
    rq_rd r = rq_rd_init(p, len);
    *ack_eliciting = false;
    while (rq_rd_left(&r) > 0) {
        /* A frame that fails to decode has no type to report (RFC 9000 §19.19: 0 then). */
        rq_frame f;
        f.type = 0;
        rc = rq_frame_decode(&r, &f);
        if (!rc)
            rc = rq_frame_allowed(f.type, type, c->role);
        if (!rc)
            rc = on_frame(c, space, &f, now);
        if (rc == RQ_ERR_LIMIT || rc == RQ_ERR_NOMEM)
            return PKT_DROP;
        if (rc) {
            rq_conn_fail(c, now, rc, f.type);
            return PKT_CLOSED;
        }
        if (rq_frame_is_ack_eliciting(f.type))
            *ack_eliciting = true;
        if (!rq_frame_is_probing(f.type))
            *non_probing = true;
        if (c->qlog && fl->n < QLOG_FRAMES)
            fl->f[fl->n++] = f;
        if (c->state >= RQ_CONN_DRAINING)
            return PKT_CLOSED;
    }
    return PKT_OK;
}

/* RFC 9000 §7.2: the client switches to the server's SCID from the first packet it gets, and
 * later long-header packets must carry that same SCID. */
static bool check_server_scid(rq_conn *c, const rq_pkt_hdr *h)
{
    if (c->role != RQ_ROLE_CLIENT || h->type == RQ_PKT_1RTT)
        return true;
    rq_cid scid;
    if (!rq_pkt_hdr_scid(h, &scid))
        return false;
    if (!c->got_server_scid) {
        c->dcid = scid;
        c->got_server_scid = true;
        return true;
    }
    return rq_cid_eq(&scid, &c->dcid);
}

/* RFC 9000 §17.2.5: a client accepts one Retry, before any other packet from the server,
 * only if its integrity tag checks out and it carries a token. */
static void on_retry(rq_conn *c, const uint8_t *pkt, const rq_pkt_hdr *h, rq_time now)
{
    rq_cid scid;
    if (c->role != RQ_ROLE_CLIENT || c->retried || c->got_server_scid || h->token_len == 0 ||
        h->token_len > sizeof c->retry_token || !rq_pkt_hdr_scid(h, &scid))
        return;
    if (rq_retry_tag_verify(&c->ep->retry_aead, &c->odcid, pkt, h->len) != 0)
        return;
    c->retried = true;
    c->retry_scid = scid;
    c->dcid = scid;
    c->initial_dcid = scid;
    memcpy(c->retry_token, h->token, h->token_len);
    c->retry_token_len = h->token_len;
    if (rq_conn_install_initial_keys(c) != 0) {
        rq_conn_fail(c, now, RQ_ERR_CRYPTO, 0);
        return;
    }
    /* The ClientHello goes again in the new Initial (RFC 9000 §17.2.5.2): whatever was sent
     * counts as lost for the CRYPTO stream. */
    rq_txbuf *tb = &c->spaces[RQ_PN_SPACE_INITIAL].crypto_tx;
    if (tb->sent_off > tb->acked_off)
        (void)rq_txbuf_on_lost(tb, tb->acked_off, (size_t)(tb->sent_off - tb->acked_off), false);
}

/* RFC 9000 §6.2: a client abandons the attempt on a Version Negotiation packet that arrives
 * before any other packet and does not list the version it chose. */
static void on_version_negotiation(rq_conn *c, const rq_pkt_hdr *h, rq_time now)
{
    if (c->role != RQ_ROLE_CLIENT || c->got_server_scid || c->retried)
        return;
    rq_cid d, s;
    /* The VN packet echoes our CIDs swapped (§17.2.1). */
    if (!rq_pkt_hdr_dcid(h, &d) || !rq_pkt_hdr_scid(h, &s) || !rq_cid_eq(&d, &c->scid) ||
        !rq_cid_eq(&s, &c->odcid))
        return;
    for (size_t i = 0; i < h->num_versions; i++)
        if (rq_pkt_vn_version(h, i) == RQ_VERSION_1)
            return;
    c->close_code = 0;
    c->close_app = false;
    rq_conn_become_closed(c, now, RQ_QLOG_CLOSE_VERSION_MISMATCH);
}

static bool is_stateless_reset(rq_conn *c, const uint8_t *dg, size_t len)
{
    /* RFC 9000 §10.3.1: the tokens of the peer's active CIDs (sequence 0's from a server's
     * transport parameters, the others from NEW_CONNECTION_ID); retired ones no longer count. */
    return rq_cids_reset_matches(&c->cids, dg, len);
}

bool rq_conn_check_stateless_reset(rq_conn *c, rq_time now, const uint8_t *dg, size_t len)
{
    if (c->state >= RQ_CONN_DRAINING || !is_stateless_reset(c, dg, len))
        return false;
    c->close_by_peer = true;
    c->close_code = 0;
    /* RFC 9000 §10.3.1: a recognised reset ends the connection without sending anything. */
    rq_conn_become_closed(c, now, RQ_QLOG_CLOSE_STATELESS_RESET);
    return true;
}

/* Removes packet protection: header protection, packet number recovery (RFC 9000 §17.1),
 * then the payload under the right key (RFC 9001 §5, §6 for 1-RTT key phases). */
static int open_packet(rq_conn *c, rq_space *s, uint8_t *pkt, const rq_pkt_hdr *h, rq_time now,
                       uint64_t *pn, size_t *hdr_len, size_t *payload_len)
{
    rq_hp_result hr;
    int rc = rq_header_unprotect(&s->rx_hp, pkt, h->len, h->pn_offset, &hr);
    if (rc)
        return rc;
    *pn = rq_pn_decode(rq_ackrecv_largest(&s->ack), hr.truncated_pn, 8u * hr.pn_len);
    *hdr_len = hr.hdr_len;
    if (h->type == RQ_PKT_1RTT)
        return rq_conn_open_1rtt(c, pkt, h->len, hr.hdr_len, hr.first_byte, *pn, payload_len, now);
    rc = rq_payload_open(&s->rx, pkt, h->len, hr.hdr_len, *pn, payload_len);
    if (rc == RQ_ERR_DECRYPT && rq_conn_count_auth_failure(c, s->rx.alg))
        return RQ_ERR_AEAD_LIMIT_REACHED;
    return rc;
}

/* The first authentic packet from a new 4-tuple: now it gets its path. */
static bool adopt_rx_path(rq_conn *c, rq_time now)
{
    rq_path *p = rq_conn_path_new(c, &c->rx_addr, now);
    if (!p)
        return false;
    c->rx_pending = false;
    c->rx_path = p->id;
    p->bytes_received += c->rx_len;
    p->last_recv = now;
    return true;
}

/* on_path: the datagram came on the 4-tuple of c->rx_path itself, not on one the path
 * stands in for (a client's packets from an address it left count for the active path). */
static int recv_packet(rq_conn *c, uint8_t *pkt, const rq_pkt_hdr *h, rq_time now, bool on_path)
{
    rq_pn_space sp = pkt_space(h->type);
    rq_space *s = &c->spaces[sp];
    /* RFC 9000 §12.2 / §17.2.3: no 0-RTT here yet; without keys the packet cannot be read
     * (a later copy will be). */
    if (h->type == RQ_PKT_0RTT || s->discarded || !s->has_rx)
        return PKT_DROP;
    if (!check_server_scid(c, h))
        return PKT_DROP;
    if (!rq_pkt_hdr_dcid(h, &c->rx_dcid))
        return PKT_DROP;
    uint64_t pn;
    size_t hdr_len, payload_len;
    int rc = open_packet(c, s, pkt, h, now, &pn, &hdr_len, &payload_len);
    if (rc == RQ_ERR_AEAD_LIMIT_REACHED) {
        /* RFC 9001 §6.6: past the integrity limit the connection must end. */
        rq_conn_fail(c, now, rc, 0);
        return PKT_CLOSED;
    }
    if (rc)
        return rc == RQ_ERR_DECRYPT ? -1 : PKT_DROP;
    rc = rq_pkt_check_reserved_bits(pkt[0], h->type);
    if (rc) {
        rq_conn_fail(c, now, rc, 0);
        return PKT_CLOSED;
    }
    if (rq_ackrecv_is_duplicate(&s->ack, pn))
        return PKT_DROP;
    const rq_addr *local = c->rx_pending ? &c->rx_addr.local : &c->paths[c->rx_path].addr.local;
    if (h->type == RQ_PKT_1RTT && rq_conn_path_left_behind(c, local, pn))
        return PKT_DROP;
    if (c->rx_pending && !adopt_rx_path(c, now))
        return PKT_DROP;
    /* RFC 9000 §17.4: an authentic, new 1-RTT packet may move its path's spin value (the bit
     * is not header-protected; spin.h). Only one that came on that very path: the old path's
     * spin must not leak into the new one's after a move. */
    if (h->type == RQ_PKT_1RTT && on_path)
        rq_conn_spin_on_recv(c, &c->paths[c->rx_path], pn, pkt[0]);
    bool ack_eliciting = false, non_probing = false;
    frame_log fl;
    fl.n = 0;
    rc = process_frames(c, sp, h->type, pkt + hdr_len, payload_len, now, &ack_eliciting,
                        &non_probing, &fl);
    if (rc != PKT_OK)
        return rc;
    if (h->type == RQ_PKT_1RTT && non_probing)
        rq_conn_path_on_nonprobing(c, &c->paths[c->rx_path], pn, now);
    rq_conn_qlog_packet(c, now, false, sp, pn, h->len, fl.f, fl.n);
    (void)rq_ackrecv_on_packet(&s->ack, pn, ack_eliciting, now);
    rq_conn_touch_idle(c, now);
    if (h->type == RQ_PKT_HANDSHAKE && c->role == RQ_ROLE_SERVER) {
        /* RFC 9000 §8.1: a Handshake packet proves the client's address; RFC 9001 §4.9.1: the
         * server's Initial keys go once it has processed one. */
        c->paths[c->rx_path].validated = true;
        rq_conn_discard_space(c, RQ_PN_SPACE_INITIAL, now);
        rq_recovery_env env;
        rq_conn_recovery_env(c, &env);
        rq_recovery_set_timer(&c->rec, now, &env);
    }
    return PKT_OK;
}

void rq_conn_recv_datagram(rq_conn *c, rq_time now, const rq_path_addr *path, uint8_t *dg,
                           size_t len)
{
    if (c->state == RQ_CONN_CLOSED || c->state == RQ_CONN_DRAINING)
        return;
    /* RFC 9000 §8, §9: the datagram's 4-tuple is a path of its own. */
    bool fresh;
    rq_path *p = rq_conn_path_find(c, path, &fresh);
    /* §10.2.1 (MIG-10.2.1-01): while closing, what comes from a new address is discarded. */
    if (!p && (!fresh || c->state == RQ_CONN_CLOSING))
        return;
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    bool was_blocked = env.amplification_blocked;
    c->rx_pending = !p;
    bool on_path = !p || (rq_addr_eq(&p->addr.remote, &path->remote) &&
                          (p->addr.local.family == RQ_AF_NONE || path->local.family == RQ_AF_NONE ||
                           rq_addr_eq(&p->addr.local, &path->local)));
    if (p) {
        c->rx_path = p->id;
        p->bytes_received += len;
        p->last_recv = now;
    } else {
        c->rx_path = c->active_path;
        c->rx_addr = *path;
        c->rx_len = len;
    }
    if (c->state == RQ_CONN_CLOSING) {
        /* RFC 9000 §10.2.1: answer what arrives in the closing state with another
         * CONNECTION_CLOSE (the send side limits how often). */
        c->close_send_pending = true;
        return;
    }
    size_t off = 0;
    bool processed = false;
    while (off < len && c->state < RQ_CONN_DRAINING) {
        rq_pkt_hdr h;
        if (rq_pkt_parse(dg + off, len - off, c->scid.len, &h) != 0)
            break;
        uint8_t *pkt = dg + off;
        bool last = off + h.len == len;
        off += h.len;
        if (h.type == RQ_PKT_RETRY) {
            on_retry(c, pkt, &h, now);
            continue;
        }
        if (h.type == RQ_PKT_VERSION_NEGOTIATION) {
            on_version_negotiation(c, &h, now);
            continue;
        }
        int rc = recv_packet(c, pkt, &h, now, on_path);
        if (rc == -1 && last && rq_conn_check_stateless_reset(c, now, dg, len))
            return;
        if (rc == PKT_CLOSED)
            return;
        processed |= rc == PKT_OK;
    }
    c->rx_pending = false;
    /* RFC 9000 §10.3, §10.3.1: nothing in it could be used: it may be a reset in any form. */
    if (!processed && rq_conn_check_stateless_reset(c, now, dg, len))
        return;
    /* RFC 9002 A.6: a datagram that lifts the anti-amplification limit re-arms the PTO that
     * the limit had disarmed, or the server would wait forever. */
    if (was_blocked && c->state < RQ_CONN_CLOSING) {
        rq_conn_recovery_env(c, &env);
        rq_recovery_set_timer(&c->rec, now, &env);
    }
}
