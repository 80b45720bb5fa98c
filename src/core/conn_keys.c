/* 1-RTT key phases: updating keys, answering the peer's update, keeping the previous key for
 * reordered packets, and the AEAD usage limits (RFC 9001 §6, §6.6). */
#include "core/conn.h"

#include "core/packet.h"

#include <string.h>

static rq_space *app(rq_conn *c)
{
    return &c->spaces[RQ_PN_SPACE_APPLICATION];
}

static int ensure_rx_next(rq_conn *c)
{
    if (c->has_rx_next)
        return 0;
    /* RFC 9001 §6.3: the next read key is derived ahead, so that a packet of the new phase
     * can be opened without a timing difference an observer could see. */
    int rc = rq_packet_key_init_next(&c->rx_next, &app(c)->rx);
    if (rc)
        return rc;

    c->has_rx_next = true;
    return 0;
}

/* The peer's packet opened with the next key: the next phase is now current. */
static int rotate_rx(rq_conn *c, uint64_t pn, rq_time now)
{
    rq_space *s = app(c);
    rq_packet_key_deinit(&c->rx_prev);
    c->rx_prev = s->rx;
    c->has_rx_prev = true;
    s->rx = c->rx_next;
    memset(&c->rx_next, 0, sizeof c->rx_next); /* moved: the handle now belongs to s->rx */
    c->has_rx_next = false;
    c->rx_phase = !c->rx_phase;
    c->rx_phase_first_pn = pn;
    /* RFC 9001 §6.5: keep the old read key a while (three PTOs) for reordered packets. */
    c->rx_prev_discard = now + 3 * rq_conn_pto(c);
    c->key_updates++;
    /* RFC 9001 §6.2: an update the peer started is answered by updating our send key too. */
    if (c->tx_phase != c->rx_phase) {
        int rc = rq_packet_key_rekey_next(&s->tx, &s->tx);
        if (rc)
            return rc;
        c->tx_phase = c->rx_phase;
        c->tx_phase_first_pn = s->next_pn;
    }
    return ensure_rx_next(c);
}

bool rq_conn_count_auth_failure(rq_conn *c, rq_aead_alg alg)
{
    return rq_aead_integrity_count(&c->integrity, alg) != 0;
}

int rq_conn_open_1rtt(rq_conn *c, uint8_t *pkt, size_t len, size_t hdr_len, uint8_t first,
                      uint64_t pn, size_t *payload_len, rq_time now)
{
    rq_space *s = app(c);
    bool phase = (first & RQ_HDR_KEY_PHASE) != 0;
    rq_packet_key *k = &s->rx;
    bool next = false;
    if (phase != c->rx_phase) {
        /* RFC 9001 §6.3/§6.5: the other phase is the previous one for packets older than
         * the current phase's first, and the next one otherwise. */
        if (c->has_rx_prev && pn < c->rx_phase_first_pn) {
            k = &c->rx_prev;
        } else {
            int rc = ensure_rx_next(c);
            if (rc)
                return rc;
            k = &c->rx_next;
            next = true;
        }
    }
    int rc = rq_payload_open(k, pkt, len, hdr_len, pn, payload_len);
    if (rc == RQ_ERR_DECRYPT)
        return rq_conn_count_auth_failure(c, k->alg) ? RQ_ERR_AEAD_LIMIT_REACHED : RQ_ERR_DECRYPT;
    if (rc)
        return rc;
    if (next)
        return rotate_rx(c, pn, now);
    if (phase == c->rx_phase && pn < c->rx_phase_first_pn)
        c->rx_phase_first_pn = pn;
    return 0;
}

int rq_conn_initiate_key_update(rq_conn *c, rq_time now)
{
    rq_space *s = app(c);
    /* RFC 9001 §6.1: not before the handshake is confirmed, not while the last update is
     * unanswered, and not before a packet of the current phase was acknowledged. */
    uint64_t acked = rq_recovery_largest_acked(&c->rec, RQ_PN_SPACE_APPLICATION);
    if (!c->handshake_confirmed || !s->has_tx || c->tx_phase != c->rx_phase ||
        acked == RQ_PN_NONE || acked < c->tx_phase_first_pn)
        return RQ_ERR_AGAIN;
    int rc = ensure_rx_next(c);
    if (!rc)
        rc = rq_packet_key_rekey_next(&s->tx, &s->tx);
    if (rc)
        return rc;
    (void)now;
    c->tx_phase = !c->tx_phase;
    c->tx_phase_first_pn = s->next_pn;
    return 0;
}

void rq_conn_maybe_update_keys(rq_conn *c, rq_time now)
{
    rq_space *s = app(c);
    if (s->has_tx && rq_packet_key_should_update(&s->tx))
        (void)rq_conn_initiate_key_update(c, now);
}

void rq_conn_keys_on_timeout(rq_conn *c, rq_time now)
{
    if (c->has_rx_prev && now >= c->rx_prev_discard) {
        rq_packet_key_deinit(&c->rx_prev);
        c->has_rx_prev = false;
    }
}

void rq_conn_keys_free(rq_conn *c)
{
    rq_packet_key_deinit(&c->rx_next);
    rq_packet_key_deinit(&c->rx_prev);
    c->has_rx_next = c->has_rx_prev = false;
}

int rq_conn_update_keys(rq_conn *c, rq_time now)
{
    if (!c || c->state != RQ_CONN_ESTABLISHED)
        return RQ_ERR_INVALID_ARG;
    return rq_conn_initiate_key_update(c, now);
}
