/* Forged 1-RTT packets protected with a live connection's keys. */
#include "qinject.h"

#include "core/packet.h"

int sim_forge_1rtt(sim *s, sim_link *l, rq_conn *conn, const rq_addr *src, const rq_addr *dst,
                   const uint8_t *payload, size_t len, size_t pad_to)
{
    rq_space *sp = &conn->spaces[RQ_PN_SPACE_APPLICATION];
    uint8_t pkt[1500];
    rq_wr w = rq_wr_init(pkt, sizeof pkt - RQ_AEAD_TAG_LEN);
    rq_pkt_wpos pos;
    uint64_t pn = sp->next_pn++;
    int rc = rq_pkt_write_short(&w, &conn->dcid, false, conn->tx_phase, pn, 4, &pos);
    if (rc)
        return rc;
    if (!rq_wr_bytes(&w, payload, len))
        return RQ_ERR_BUFFER_TOO_SMALL;
    /* Header protection needs 4 bytes after the packet number (RFC 9001 §5.4.2). */
    while ((size_t)(w.p - pkt) - pos.pn_offset < 4 + 4 ||
           (size_t)(w.p - pkt) + RQ_AEAD_TAG_LEN < pad_to)
        if (!rq_wr_u8(&w, 0))
            return RQ_ERR_BUFFER_TOO_SMALL;
    size_t out;
    rc = rq_packet_protect(&sp->tx, &sp->tx_hp, pn, pkt, (size_t)(w.p - pkt), pos.pn_offset,
                           sizeof pkt, &out);
    if (rc)
        return rc;
    /* Recorded as sent (no frames to retransmit, not in flight), so that the peer's ACK of it
     * is an ACK of a packet that exists rather than a protocol violation. */
    uint64_t mark = rq_sentlog_mark(&conn->sentlog);
    rq_sent_packet sent = {
        .pn = pn,
        .time_sent = sim_now(s),
        .token = rq_sentlog_token(mark, mark),
        .path_id = conn->active_path,
        .size = (uint32_t)out,
    };
    rq_recovery_env env;
    rq_conn_recovery_env(conn, &env);
    rc = rq_recovery_on_sent(&conn->rec, RQ_PN_SPACE_APPLICATION, &sent, sim_now(s), &env);
    if (rc)
        return rc;
    return sim_inject(s, l, sim_now(s), src, dst, pkt, out, NULL);
}
