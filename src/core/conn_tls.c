/* The TLS pump of a connection: secrets become packet keys, the peer's transport parameters
 * are checked and applied, completion and confirmation of the handshake, and key discard
 * (RFC 9001 §4, §5; RFC 9000 §7.3, §7.4). */
#include "core/conn.h"

#include "core/endpoint.h"

#include <string.h>

static rq_pn_space level_space(rq_crypto_level level)
{
    switch (level) {
    case RQ_CRYPTO_INITIAL:
        return RQ_PN_SPACE_INITIAL;
    case RQ_CRYPTO_HANDSHAKE:
        return RQ_PN_SPACE_HANDSHAKE;
    default:
        return RQ_PN_SPACE_APPLICATION;
    }
}

static int install_keys(rq_space *s, bool write, rq_aead_alg alg, const uint8_t *secret, size_t len)
{
    rq_packet_key *k = write ? &s->tx : &s->rx;
    rq_hp_key *hp = write ? &s->tx_hp : &s->rx_hp;
    rq_packet_key_deinit(k);
    rq_hp_key_deinit(hp);
    int rc = rq_packet_key_init(k, alg, secret, len);
    if (!rc)
        rc = rq_hp_key_init(hp, alg, secret, len);
    if (rc)
        return rc;
    if (write)
        s->has_tx = true;
    else
        s->has_rx = true;
    return 0;
}

int rq_conn_install_initial_keys(rq_conn *c)
{
    uint8_t cs[RQ_INITIAL_SECRET_LEN], ss[RQ_INITIAL_SECRET_LEN];
    /* RFC 9001 §5.2: both directions' Initial secrets come from the client's first DCID (or
     * the Retry's SCID after a Retry). */
    int rc = rq_initial_secrets(&c->initial_dcid, cs, ss);
    rq_space *s = &c->spaces[RQ_PN_SPACE_INITIAL];
    bool client = c->role == RQ_ROLE_CLIENT;
    if (!rc)
        rc = install_keys(s, true, RQ_AEAD_AES_128_GCM, client ? cs : ss, sizeof cs);
    if (!rc)
        rc = install_keys(s, false, RQ_AEAD_AES_128_GCM, client ? ss : cs, sizeof cs);
    memset(cs, 0, sizeof cs);
    memset(ss, 0, sizeof ss);
    return rc;
}

/* RFC 9000 §7.3: the CIDs the peer put in its transport parameters must be the ones seen in
 * its packets. */
static int check_peer_cids(rq_conn *c)
{
    if (c->role == RQ_ROLE_SERVER)
        return rq_tparams_check_cids(&c->peer_tp, RQ_ROLE_CLIENT, &c->dcid, NULL, NULL);
    return rq_tparams_check_cids(&c->peer_tp, RQ_ROLE_SERVER, &c->dcid, &c->odcid,
                                 c->retried ? &c->retry_scid : NULL);
}

static int apply_peer_tp(rq_conn *c, const uint8_t *data, size_t len)
{
    rq_role peer = c->role == RQ_ROLE_CLIENT ? RQ_ROLE_SERVER : RQ_ROLE_CLIENT;
    int rc = rq_tparams_decode(&c->peer_tp, peer, data, len);
    if (rc)
        return rc;
    c->have_peer_tp = true;
    rc = check_peer_cids(c);
    if (rc)
        return rc;
    const rq_tparams *tp = &c->peer_tp;
    c->peer_max_ack_delay = tp->max_ack_delay * RQ_MS;
    /* RFC 9000 §10.3: the server's handshake CID comes with its reset token here. */
    if (c->role == RQ_ROLE_CLIENT) {
        rq_cids_set_peer0(&c->cids, &c->dcid,
                          tp->has_stateless_reset_token ? tp->stateless_reset_token : NULL);
        c->paths[0].dcid = c->dcid;
        c->paths[0].has_dcid = true;
        c->paths[0].owns_cid = true;
        /* §5.1.1: the preferred address's CID is sequence 1. */
        uint32_t orphaned = 0;
        if (tp->has_preferred_address &&
            rq_cids_on_new(&c->cids, 1, 0, &tp->preferred_address.cid,
                           tp->preferred_address.stateless_reset_token, &orphaned) != 0)
            return RQ_ERR_TRANSPORT_PARAMETER;
    }
    rq_streams_peer_params pp = {
        .max_data = tp->initial_max_data,
        .max_stream_data_bidi_local = tp->initial_max_stream_data_bidi_local,
        .max_stream_data_bidi_remote = tp->initial_max_stream_data_bidi_remote,
        .max_stream_data_uni = tp->initial_max_stream_data_uni,
        .max_streams_bidi = tp->initial_max_streams_bidi,
        .max_streams_uni = tp->initial_max_streams_uni,
    };
    rq_streams_set_peer_params(&c->streams, &pp);
    return 0;
}

static void on_handshake_complete(rq_conn *c, rq_time now)
{
    c->handshake_complete = true;
    if (c->state == RQ_CONN_HANDSHAKE)
        c->state = RQ_CONN_ESTABLISHED;
    if (!c->connected_event_sent) {
        c->connected_event_sent = true;
        rq_conn_event(c, RQ_EV_CONNECTED, -1, 0);
    }
    /* RFC 9001 §4.1.2: the server's handshake is confirmed when it completes; it tells the
     * client with HANDSHAKE_DONE (RFC 9000 §19.20). */
    if (c->role == RQ_ROLE_SERVER) {
        c->handshake_done_pending = true;
        /* RFC 9000 §8.1.3: a token for the client's next connection, so that it can skip a
         * Retry. */
        c->new_token_pending = true;
        rq_conn_confirm_handshake(c, now);
    }
    rq_conn_touch_idle(c, now);
}

static int handle_event(rq_conn *c, const rq_tls_event *ev, rq_time now)
{
    rq_space *s = &c->spaces[level_space(ev->level)];
    switch (ev->type) {
    case RQ_TLS_EV_CRYPTO_OUT: {
        size_t accepted = 0;
        int rc = rq_txbuf_append(&s->crypto_tx, ev->data, ev->len, false, &accepted);
        if (!rc && accepted != ev->len)
            rc = RQ_ERR_LIMIT;
        return rc;
    }
    case RQ_TLS_EV_SECRET:
        /* No 0-RTT yet: early-data secrets are not used. */
        if (ev->level == RQ_CRYPTO_EARLY_DATA)
            return 0;
        if (s->discarded)
            return 0;
        return install_keys(s, ev->dir == RQ_TLS_WRITE, ev->alg, ev->data, ev->len);
    case RQ_TLS_EV_PEER_TRANSPORT_PARAMS:
        return apply_peer_tp(c, ev->data, ev->len);
    case RQ_TLS_EV_HANDSHAKE_COMPLETE:
        on_handshake_complete(c, now);
        return 0;
    }
    return 0;
}

int rq_conn_tls_pump(rq_conn *c, rq_time now)
{
    rq_tls_event ev;
    while (rq_tls_poll(c->tls, &ev)) {
        int rc = handle_event(c, &ev, now);
        if (rc)
            return rc;
    }
    return 0;
}

void rq_conn_discard_space(rq_conn *c, rq_pn_space space, rq_time now)
{
    rq_space *s = &c->spaces[space];
    if (s->discarded)
        return;
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    /* RFC 9002 §6.4: the space's packets leave bytes in flight and its timers stop. */
    (void)rq_recovery_discard_space(&c->rec, space, now, &env);
    rq_packet_key_deinit(&s->rx);
    rq_packet_key_deinit(&s->tx);
    rq_hp_key_deinit(&s->rx_hp);
    rq_hp_key_deinit(&s->tx_hp);
    rq_rxbuf_free(&s->crypto_rx);
    rq_txbuf_free(&s->crypto_tx);
    s->has_rx = s->has_tx = false;
    s->discarded = true;
    s->probes_due = 0;
}

void rq_conn_confirm_handshake(rq_conn *c, rq_time now)
{
    if (c->handshake_confirmed)
        return;
    c->handshake_confirmed = true;
    /* RFC 9001 §4.9.2: Handshake keys go when the handshake is confirmed (and Initial keys
     * with them, if they were still there). */
    rq_conn_discard_space(c, RQ_PN_SPACE_INITIAL, now);
    rq_conn_discard_space(c, RQ_PN_SPACE_HANDSHAKE, now);
    rq_recovery_env env;
    rq_conn_recovery_env(c, &env);
    rq_recovery_set_timer(&c->rec, now, &env);
    /* RFC 9000 §5.1.1: give the peer spare CIDs, so that it can change paths. */
    rq_conn_issue_cids(c);
    rq_conn_follow_preferred_address(c, now);
}
