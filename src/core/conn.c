/* Connection lifetime: creation, timers, events, closing and draining (RFC 9000 §10). */
#include "core/conn.h"

#include "core/alloc.h"
#include "core/endpoint.h"
#include "core/wire.h"
#include "crypto/reset_token.h"

#include <string.h>

/* Sent-frame records the log holds at most: several per packet for every packet the recovery
 * ledgers can track. */
#define SENTLOG_MAX_RECORDS ((size_t)1 << 18)
/* What the application may queue per stream before rq_stream_write accepts less. */
#define STREAM_SEND_BUFFER ((uint64_t)4 << 20)

rq_path *rq_conn_active_path(rq_conn *c)
{
    return &c->paths[c->active_path];
}

static rq_rtt *path_rtt(void *ctx, uint32_t path_id)
{
    rq_conn *c = ctx;
    if (path_id >= RQ_MAX_PATHS || !c->paths[path_id].in_use)
        return NULL;
    return &c->paths[path_id].rtt;
}

static void on_persistent_congestion(void *ctx, uint32_t path_id, rq_time now)
{
    rq_conn *c = ctx;
    if (path_id < RQ_MAX_PATHS && c->paths[path_id].in_use)
        rq_cc_on_persistent_congestion(&c->paths[path_id].cc, now);
}

bool rq_conn_amplification_blocked(const rq_conn *c, const rq_path *p)
{
    /* RFC 9000 §8.1: three times what the unvalidated peer sent; what is left must also hold
     * a packet, or nothing can go (RQ_MIN_PACKET_ROOM). */
    return c->role == RQ_ROLE_SERVER && !p->validated &&
           p->bytes_sent + RQ_MIN_PACKET_ROOM > 3 * p->bytes_received;
}

void rq_conn_recovery_env(rq_conn *c, rq_recovery_env *env)
{
    rq_path *p = rq_conn_active_path(c);
    memset(env, 0, sizeof *env);
    env->handshake_confirmed = c->handshake_confirmed;
    /* RFC 9002 §6.2.2.1: a server always counts as validated by its peer. */
    env->peer_address_validated =
        c->role == RQ_ROLE_SERVER || c->peer_validated_us || c->handshake_confirmed;
    env->has_handshake_keys = c->spaces[RQ_PN_SPACE_HANDSHAKE].has_tx;
    env->amplification_blocked = rq_conn_amplification_blocked(c, p);
    env->max_ack_delay = c->peer_max_ack_delay;
    env->active_path = c->active_path;
    env->ctx = c;
    env->path_rtt = path_rtt;
    env->on_acked = rq_conn_on_packet_acked;
    env->on_lost = rq_conn_on_packet_lost;
    env->on_discarded = rq_conn_on_packet_discarded;
    env->on_persistent_congestion = on_persistent_congestion;
}

void rq_conn_event(rq_conn *c, rq_event_type type, int64_t stream_id, uint64_t code)
{
    rq_event ev = {.type = type, .conn = c, .stream_id = stream_id, .error_code = code};
    if (type == RQ_EV_CLOSED) {
        ev.app_error = c->close_app;
        ev.by_peer = c->close_by_peer;
        ev.error_code = c->close_code;
    }
    (void)rq_ep_push_event(c->ep, &ev);
}

static void init_spaces(rq_conn *c, rq_time max_ack_delay)
{
    for (int i = 0; i < 3; i++) {
        rq_space *s = &c->spaces[i];
        rq_ackrecv_init(&s->ack, (rq_pn_space)i, max_ack_delay);
        rq_rxbuf_init(&s->crypto_rx, RQ_CRYPTO_RXBUF_BOUND, RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
        rq_txbuf_init(&s->crypto_tx, RQ_TLS_MAX_PENDING_BYTES * 2);
    }
}

static void init_streams(rq_conn *c, const rq_transport_settings *t)
{
    rq_streams_config sc = {
        .role = c->role,
        .max_streams_bidi = t->initial_max_streams_bidi,
        .max_streams_uni = t->initial_max_streams_uni,
        .stream_window_bidi_local = t->initial_max_stream_data,
        .stream_window_bidi_remote = t->initial_max_stream_data,
        .stream_window_uni = t->initial_max_stream_data,
        .stream_window_max = t->max_stream_window,
        .conn_window = t->initial_max_data,
        .conn_window_max = t->max_connection_window,
        .send_buffer = STREAM_SEND_BUFFER,
    };
    rq_streams_peer_params none = {0};
    rq_streams_init(&c->streams, &sc, &none);
}

static void put_ip(const rq_addr *a, uint8_t *ip, size_t len, uint16_t *port)
{
    memcpy(ip, a->ip, len);
    *port = a->port;
}

/* RFC 9000 §9.6, §5.1.1: the preferred address carries CID sequence 1 with its reset token;
 * the endpoint routes it like every other CID the connection issued. */
static int add_preferred_address(rq_conn *c, rq_tparams *tp)
{
    const rq_config *cfg = c->ep->cfg;
    if ((!cfg->have_pref_v4 && !cfg->have_pref_v6) || cfg->transport.local_cid_len == 0)
        return 0; /* §18.2: never with zero-length CIDs (transport settings may change later) */
    rq_preferred_address *pa = &tp->preferred_address;
    memset(pa, 0, sizeof *pa);
    if (cfg->have_pref_v4)
        put_ip(&cfg->pref_v4, pa->ipv4_addr, 4, &pa->ipv4_port);
    if (cfg->have_pref_v6)
        put_ip(&cfg->pref_v6, pa->ipv6_addr, 16, &pa->ipv6_port);
    int rc = rq_ep_new_cid(c->ep, cfg->transport.local_cid_len, &pa->cid);
    if (!rc)
        rc = rq_reset_token_derive(c->ep->reset_key, &pa->cid, pa->stateless_reset_token);
    if (!rc)
        rc = rq_cids_issue_in_tp(&c->cids, &pa->cid, pa->stateless_reset_token);
    tp->has_preferred_address = rc == 0;
    return rc;
}

/* Our transport parameters (RFC 9000 §18.2, §7.3). */
static int build_local_tp(rq_conn *c, const rq_transport_settings *t)
{
    rq_tparams *tp = &c->local_tp;
    rq_tparams_init_defaults(tp);
    tp->max_idle_timeout = t->max_idle_timeout_ms;
    tp->max_udp_payload_size = t->max_udp_payload_size;
    tp->initial_max_data = t->initial_max_data;
    tp->initial_max_stream_data_bidi_local = t->initial_max_stream_data;
    tp->initial_max_stream_data_bidi_remote = t->initial_max_stream_data;
    tp->initial_max_stream_data_uni = t->initial_max_stream_data;
    tp->initial_max_streams_bidi = t->initial_max_streams_bidi;
    tp->initial_max_streams_uni = t->initial_max_streams_uni;
    tp->ack_delay_exponent = t->ack_delay_exponent;
    tp->max_ack_delay = t->max_ack_delay_ms;
    tp->disable_active_migration = t->disable_active_migration;
    tp->active_connection_id_limit = t->active_connection_id_limit;
    tp->has_initial_scid = true;
    tp->initial_scid = c->scid;
    if (c->role == RQ_ROLE_SERVER) {
        tp->has_original_dcid = true;
        tp->original_dcid = c->odcid;
        if (c->retried) {
            tp->has_retry_scid = true;
            tp->retry_scid = c->retry_scid;
        }
        /* RFC 9000 §10.3: the token for sequence 0 travels in the transport parameters. */
        tp->has_stateless_reset_token = true;
        int rc = rq_reset_token_derive(c->ep->reset_key, &c->scid, tp->stateless_reset_token);
        if (rc)
            return rc;
        return add_preferred_address(c, tp);
    }
    return 0;
}

static int start_tls(rq_conn *c, const char *sni)
{
    uint8_t buf[RQ_TPARAMS_MAX_ENCODED_LEN];
    size_t len;
    uint64_t grease = 0;
    uint8_t r;
    /* RFC 9000 §18.1: a reserved parameter now and then keeps peers tolerant of unknown ones. */
    if (rq_ep_random(c->ep, &r, 1) == 0 && (r & 1))
        grease = 31 * (uint64_t)(r >> 1) + 27;
    int rc = rq_tparams_encode(&c->local_tp, c->role, buf, sizeof buf, &len, grease);
    if (rc)
        return rc;
    rc = rq_tls_new(c->ep->cfg->tls, sni, buf, len, &c->tls);
    if (rc)
        return rc;
    return rq_tls_start(c->tls);
}

int rq_conn_new(rq_endpoint *ep, rq_role role, rq_time now, const rq_path_addr *path,
                const rq_conn_params *params, rq_conn **out)
{
    const rq_transport_settings *t = &ep->cfg->transport;
    rq_conn *c = rq_mem_calloc(1, sizeof *c);
    if (!c)
        return RQ_ERR_NOMEM;
    c->ep = ep;
    c->role = role;
    c->state = RQ_CONN_HANDSHAKE;
    c->created = now;
    c->scid = params->scid;
    c->dcid = params->dcid;
    c->odcid = role == RQ_ROLE_CLIENT ? params->dcid : params->odcid;
    c->initial_dcid = role == RQ_ROLE_CLIENT ? params->dcid : params->initial_dcid;
    if (params->retry_scid) {
        c->retried = true;
        c->retry_scid = *params->retry_scid;
    }
    c->peer_max_ack_delay = 25 * RQ_MS;
    c->idle_deadline = RQ_TIME_NEVER;
    c->close_deadline = RQ_TIME_NEVER;
    c->handshake_deadline =
        t->handshake_timeout_ms ? now + t->handshake_timeout_ms * RQ_MS : RQ_TIME_NEVER;
    /* RFC 9000 §8: a client never limits what it sends to the server's address. */
    rq_conn_path_init(&c->paths[0], 0, path, role == RQ_ROLE_CLIENT || params->address_validated);
    c->handshake_remote = path->remote;
    c->paths[0].last_recv = now;
    init_spaces(c, t->max_ack_delay_ms * RQ_MS);
    rq_recovery_init(&c->rec, 0);
    rq_sentlog_init(&c->sentlog, SENTLOG_MAX_RECORDS);
    init_streams(c, t);
    rq_cids_init(&c->cids, t->active_connection_id_limit);
    if (role == RQ_ROLE_SERVER) {
        rq_cids_set_peer0(&c->cids, &c->dcid, NULL); /* the client's SCID, sequence 0 */
        c->paths[0].dcid = c->dcid;
        c->paths[0].has_dcid = true;
        c->paths[0].owns_cid = true;
    }
    uint8_t token0[RQ_RESET_TOKEN_LEN];
    int rc = rq_reset_token_derive(ep->reset_key, &c->scid, token0);
    if (!rc)
        rq_cids_set_local0(&c->cids, &c->scid, token0);
    if (!rc)
        rc = build_local_tp(c, t);
    if (!rc)
        rc = rq_conn_install_initial_keys(c);
    if (!rc)
        rc = start_tls(c, params->sni);
    if (!rc)
        rc = rq_conn_tls_pump(c, now);
    if (rc) {
        rq_conn_free(c);
        return rc;
    }
    rq_conn_touch_idle(c, now);
    rq_conn_qlog_open(c, now);
    *out = c;
    return 0;
}

static void free_space(rq_space *s)
{
    rq_packet_key_deinit(&s->rx);
    rq_packet_key_deinit(&s->tx);
    rq_hp_key_deinit(&s->rx_hp);
    rq_hp_key_deinit(&s->tx_hp);
    rq_rxbuf_free(&s->crypto_rx);
    rq_txbuf_free(&s->crypto_tx);
    s->has_rx = s->has_tx = false;
}

void rq_conn_free(rq_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < 3; i++)
        free_space(&c->spaces[i]);
    rq_conn_qlog_close(c);
    rq_conn_keys_free(c);
    rq_recovery_free(&c->rec);
    rq_sentlog_free(&c->sentlog);
    rq_streams_free(&c->streams);
    rq_tls_free(c->tls);
    rq_mem_free(c);
}

/* RFC 9002 §6.2.1: the PTO period of the active path, with the peer's max_ack_delay once the
 * handshake is confirmed. */
rq_time rq_conn_pto(const rq_conn *c)
{
    const rq_path *p = &c->paths[c->active_path];
    rq_time pto = rq_rtt_pto_base(&p->rtt);
    if (c->handshake_confirmed)
        pto += c->peer_max_ack_delay;
    return pto;
}

/* RFC 9000 §10.1: the idle timeout is the smaller of the two advertised (0 = none), and at
 * least three PTOs so that a few losses cannot end a live connection. */
static rq_time idle_period(const rq_conn *c)
{
    uint64_t ours = c->local_tp.max_idle_timeout;
    uint64_t theirs = c->have_peer_tp ? c->peer_tp.max_idle_timeout : 0;
    uint64_t ms = ours;
    if (theirs && (!ms || theirs < ms))
        ms = theirs;
    if (!ms)
        return RQ_TIME_NEVER;
    rq_time idle = ms * RQ_MS, floor = 3 * rq_conn_pto(c);
    return idle > floor ? idle : floor;
}

void rq_conn_touch_idle(rq_conn *c, rq_time now)
{
    rq_time idle = idle_period(c);
    c->idle_deadline = idle == RQ_TIME_NEVER ? RQ_TIME_NEVER : now + idle;
    uint64_t lae = c->spaces[RQ_PN_SPACE_APPLICATION].ack.largest_ack_eliciting;
    if (lae != c->quiet_lae) {
        c->quiet_lae = lae;
        c->quiet_pings = 0;
    }
}

/* A client with open streams whose server went quiet, with nothing of its own in flight to
 * provoke an answer: after a NAT rebinding the server's packets go to a binding that is
 * gone, and only a packet from the client tells the server where it is now (RFC 9000 §9.3;
 * RFC 9308 §3.2). A PING a PTO after the last packet heard, backing off, at most
 * RQ_QUIET_PINGS of them until the server sends again, so an idle connection still ends. */
#define RQ_QUIET_PINGS 4

static rq_time quiet_deadline(const rq_conn *c)
{
    if (c->role != RQ_ROLE_CLIENT || !c->handshake_confirmed || c->state != RQ_CONN_ESTABLISHED ||
        c->streams.count == 0 || c->quiet_pings >= RQ_QUIET_PINGS || c->ping_pending ||
        rq_recovery_ack_eliciting_in_flight(&c->rec))
        return RQ_TIME_NEVER;
    const rq_ackrecv *a = &c->spaces[RQ_PN_SPACE_APPLICATION].ack;
    if (a->largest == RQ_PN_NONE)
        return RQ_TIME_NEVER;
    return a->largest_time + (rq_conn_pto(c) << c->quiet_pings);
}

static rq_time min_time(rq_time a, rq_time b)
{
    return a < b ? a : b;
}

rq_time rq_conn_next_timeout(const rq_conn *c)
{
    if (c->state == RQ_CONN_CLOSED)
        return RQ_TIME_NEVER;
    if (c->state == RQ_CONN_CLOSING || c->state == RQ_CONN_DRAINING)
        return c->close_deadline;
    rq_time t = min_time(c->idle_deadline, rq_recovery_deadline(&c->rec));
    if (!c->handshake_complete)
        t = min_time(t, c->handshake_deadline);
    /* Timers that only lead to sending wait while the 3x limit forbids it: the next datagram
     * from the peer lifts it, and sending follows that anyway (else a due ACK would spin). */
    bool can_send = !rq_conn_amplification_blocked(c, &c->paths[c->active_path]);
    for (int i = 0; i < 3 && can_send; i++)
        if (c->spaces[i].has_tx && !c->spaces[i].discarded)
            t = min_time(t, rq_ackrecv_deadline(&c->spaces[i].ack));
    if (c->keepalive && c->handshake_complete && can_send)
        t = min_time(t, c->last_ack_eliciting_sent + c->keepalive);
    t = min_time(t, quiet_deadline(c));
    /* Data that waits for the pacer (RFC 9002 §7.7) leaves when it allows. */
    const rq_pacer *pacer = &c->paths[c->active_path].pacer;
    if (pacer->blocked && can_send)
        t = min_time(t, pacer->next);
    if (c->has_rx_prev)
        t = min_time(t, c->rx_prev_discard);
    t = min_time(t, rq_conn_paths_next_timeout(c));
    for (size_t i = 0; i < c->nlinger; i++)
        t = min_time(t, c->linger[i].until);
    return t;
}

/* The connection is over. A close that went through closing or draining was logged when it
 * began (trigger NONE here); the silent ends are logged now. */
void rq_conn_become_closed(rq_conn *c, rq_time now, rq_qlog_close_trigger trigger)
{
    if (c->state == RQ_CONN_CLOSED)
        return;
    if (trigger != RQ_QLOG_CLOSE_TRIGGER_NONE)
        rq_conn_qlog_closed(c, now, trigger);
    c->state = RQ_CONN_CLOSED;
    rq_conn_event(c, RQ_EV_CLOSED, -1, c->close_code);
}

void rq_conn_on_timeout(rq_conn *c, rq_time now)
{
    if (c->state == RQ_CONN_CLOSED)
        return;
    if (c->state == RQ_CONN_CLOSING || c->state == RQ_CONN_DRAINING) {
        if (now >= c->close_deadline)
            rq_conn_become_closed(c, now, RQ_QLOG_CLOSE_TRIGGER_NONE);
        return;
    }
    /* RFC 9000 §10.1: an idle connection is closed silently. */
    if (now >= c->idle_deadline || (!c->handshake_complete && now >= c->handshake_deadline)) {
        c->close_code = 0;
        c->close_app = false;
        rq_conn_become_closed(c, now,
                              now >= c->idle_deadline ? RQ_QLOG_CLOSE_IDLE_TIMEOUT
                                                      : RQ_QLOG_CLOSE_UNSPECIFIED);
        return;
    }
    if (c->keepalive && c->handshake_complete && now >= c->last_ack_eliciting_sent + c->keepalive)
        c->ping_pending = true;
    if (now >= quiet_deadline(c)) {
        c->ping_pending = true;
        c->quiet_pings++;
    }
    rq_conn_keys_on_timeout(c, now);
    rq_conn_linger_expire(c, now);
    rq_conn_paths_on_timeout(c, now);
    if (c->state >= RQ_CONN_CLOSING)
        return;
    if (now >= rq_recovery_deadline(&c->rec)) {
        rq_recovery_env env;
        rq_recovery_probe probe;
        rq_conn_recovery_env(c, &env);
        rq_recovery_on_timeout(&c->rec, now, &env, &probe);
        if (probe.count) {
            rq_space *s = &c->spaces[probe.space];
            s->probes_due = probe.count;
            /* RFC 9002 §6.2.4: a probe should carry data the peer has not acknowledged. In
             * the handshake spaces that is the CRYPTO stream: everything unacknowledged goes
             * again, so a twice-lost Finished cannot leave only bare PINGs going out. */
            rq_txbuf *tb = &s->crypto_tx;
            if (probe.space != RQ_PN_SPACE_APPLICATION && !s->discarded &&
                tb->sent_off > tb->acked_off)
                (void)rq_txbuf_on_lost(tb, tb->acked_off, (size_t)(tb->sent_off - tb->acked_off),
                                       false);
        }
    }
}

void rq_conn_close_with(rq_conn *c, rq_time now, uint64_t code, uint64_t frame_type, bool app,
                        const char *reason)
{
    if (c->state >= RQ_CONN_CLOSING)
        return;
    c->close_code = code;
    /* Both go out as varints: a value past 2^62-1 (never one of ours) would not encode. */
    c->close_frame_type = frame_type <= RQ_VARINT_MAX ? frame_type : 0;
    c->close_app = app;
    c->close_by_peer = false;
    size_t n = reason ? strlen(reason) : 0;
    if (n > RQ_CLOSE_REASON_MAX)
        n = RQ_CLOSE_REASON_MAX;
    memcpy(c->close_reason, reason ? reason : "", n);
    c->close_reason_len = n;
    c->state = RQ_CONN_CLOSING;
    c->close_send_pending = true;
    rq_conn_qlog_closed(c, now, app ? RQ_QLOG_CLOSE_APPLICATION : RQ_QLOG_CLOSE_ERROR);
    /* RFC 9000 §10.2: the closing state lasts at least three PTOs. */
    c->close_deadline = now + 3 * rq_conn_pto(c);
}

void rq_conn_fail(rq_conn *c, rq_time now, int err, uint64_t frame_type)
{
    int64_t code = rq_err_transport_code(err);
    if (err == RQ_ERR_TLS && c->tls)
        code = (int64_t)rq_tls_transport_error(c->tls);
    if (code < 0)
        code = RQ_QUIC_INTERNAL_ERROR;
    rq_conn_close_with(c, now, (uint64_t)code, frame_type, false, rq_strerror(err));
}

void rq_conn_enter_draining(rq_conn *c, rq_time now)
{
    if (c->state >= RQ_CONN_DRAINING)
        return;
    c->state = RQ_CONN_DRAINING;
    c->close_send_pending = false;
    rq_conn_qlog_closed(c, now, c->close_app ? RQ_QLOG_CLOSE_APPLICATION : RQ_QLOG_CLOSE_ERROR);
    /* RFC 9000 §10.2.2: drain for three PTOs, sending nothing. */
    c->close_deadline = now + 3 * rq_conn_pto(c);
}

void rq_conn_linger_cid(rq_conn *c, const rq_cid *cid, rq_time now)
{
    if (c->nlinger == RQ_CONN_LINGER_MAX) {
        rq_cidmap_remove(&c->ep->cids, &c->linger[0].cid);
        memmove(&c->linger[0], &c->linger[1], (RQ_CONN_LINGER_MAX - 1) * sizeof c->linger[0]);
        c->nlinger--;
    }
    c->linger[c->nlinger].cid = *cid;
    c->linger[c->nlinger].until = now + 3 * rq_conn_pto(c);
    c->nlinger++;
}

void rq_conn_linger_expire(rq_conn *c, rq_time now)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->nlinger; i++) {
        if (now == RQ_TIME_NEVER || now >= c->linger[i].until)
            rq_cidmap_remove(&c->ep->cids, &c->linger[i].cid);
        else
            c->linger[kept++] = c->linger[i];
    }
    c->nlinger = kept;
}

void rq_conn_issue_cids(rq_conn *c)
{
    rq_endpoint *ep = c->ep;
    size_t len = ep->cfg->transport.local_cid_len;
    /* RFC 9000 §19.15: an endpoint using zero-length CIDs sends no NEW_CONNECTION_ID. */
    if (len == 0 || !c->have_peer_tp || !c->handshake_confirmed)
        return;
    size_t room = rq_cids_room(&c->cids, c->peer_tp.active_connection_id_limit);
    for (size_t i = 0; i < room; i++) {
        rq_cid cid;
        uint8_t token[RQ_RESET_TOKEN_LEN];
        if (rq_ep_new_cid(ep, len, &cid) != 0 ||
            rq_reset_token_derive(ep->reset_key, &cid, token) != 0 ||
            rq_cidmap_insert(&ep->cids, &cid, c) != 0)
            return;
        if (rq_cids_issue(&c->cids, &cid, token) != 0) {
            rq_cidmap_remove(&ep->cids, &cid);
            return;
        }
    }
}

/* ---- the public per-connection API ---- */

int rq_conn_rotate_cids(rq_conn *c, rq_time now)
{
    (void)now;
    if (!c || c->ep->cfg->transport.local_cid_len == 0)
        return RQ_ERR_INVALID_ARG;
    if (!c->handshake_confirmed || c->state != RQ_CONN_ESTABLISHED)
        return RQ_ERR_AGAIN;
    /* MIG-5.1.2-06: not again before the peer retired what the last rotation covered. The old
     * CIDs stay routed until the peer retires them (MIG-5.1.2-02). */
    int rc = rq_cids_rotate(&c->cids);
    if (rc)
        return rc;
    rq_conn_issue_cids(c);
    return 0;
}

int rq_conn_close(rq_conn *c, rq_time now, uint64_t app_error, const char *reason)
{
    /* RFC 9000 §19.19: the code travels as a varint. */
    if (!c || app_error > RQ_VARINT_MAX)
        return RQ_ERR_INVALID_ARG;
    if (c->state >= RQ_CONN_CLOSING)
        return 0;
    rq_conn_close_with(c, now, app_error, 0, true, reason);
    return 0;
}

void rq_conn_set_keepalive(rq_conn *c, rq_time interval)
{
    c->keepalive = interval;
}

const uint8_t *rq_conn_alpn(const rq_conn *c, size_t *len)
{
    const uint8_t *p = NULL;
    *len = 0;
    if (!c->tls || rq_tls_alpn(c->tls, &p, len) != 0)
        return NULL;
    return p;
}
