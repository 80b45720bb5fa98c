/* The connection's qlog events: what it sent, received and lost, its recovery metrics, and
 * its start and end. Every function is a no-op when the connection has no log. */
#include "core/conn.h"

#include "core/config.h"
#include "core/endpoint.h"
#include "core/packet.h"

static rq_pkt_type space_pkt_type(rq_pn_space s)
{
    return s == RQ_PN_SPACE_INITIAL     ? RQ_PKT_INITIAL
           : s == RQ_PN_SPACE_HANDSHAKE ? RQ_PKT_HANDSHAKE
                                        : RQ_PKT_1RTT;
}

/* A failing sink stops this connection's log rather than the connection. */
static void check(rq_conn *c, int rc)
{
    if (rc) {
        rq_conn_qlog_close(c);
    }
}

void rq_conn_qlog_open(rq_conn *c, rq_time now)
{
    const rq_config *cfg = c->ep->cfg;
    if (!cfg->have_qlog)
        return;
    c->qlog_ctx = cfg->qlog.open(cfg->qlog.ctx, c->role, c->odcid.data, c->odcid.len);
    if (!c->qlog_ctx)
        return;
    if (rq_qlog_new(&c->qlog, cfg->qlog.write, c->qlog_ctx, c->role, &c->odcid, now) != 0) {
        c->qlog = NULL;
        rq_conn_qlog_close(c);
        return;
    }
    check(c, rq_qlog_set_ack_delay_exponents(c->qlog, (uint8_t)c->local_tp.ack_delay_exponent, 3));
    check(c, rq_qlog_connection_started(c->qlog, now, &c->paths[0].addr, &c->scid, &c->dcid));
}

void rq_conn_qlog_close(rq_conn *c)
{
    const rq_config *cfg = c->ep->cfg;
    rq_qlog_free(c->qlog);
    c->qlog = NULL;
    if (c->qlog_ctx && cfg->qlog.close)
        cfg->qlog.close(c->qlog_ctx);
    c->qlog_ctx = NULL;
}

void rq_conn_qlog_packet(rq_conn *c, rq_time now, bool sent, rq_pn_space space, uint64_t pn,
                         size_t length, const rq_frame *frames, size_t nframes)
{
    if (!c->qlog)
        return;
    bool app = space == RQ_PN_SPACE_APPLICATION;
    /* The path the packet went out on or came in on, and the DCID it carried there. */
    uint32_t path = sent ? c->tx_path : c->rx_path;
    const rq_cid *dcid = sent ? rq_conn_path_dcid(c, &c->paths[path]) : &c->rx_dcid;
    rq_qlog_packet p = {
        .type = space_pkt_type(space),
        .pn = pn,
        .version = app ? 0 : RQ_VERSION_1,
        .dcid = app ? dcid : (sent ? &c->dcid : &c->scid),
        .scid = app ? NULL : (sent ? &c->scid : &c->dcid),
        .key_phase_bit = app ? (sent ? c->tx_phase : c->rx_phase) : -1,
        .length = length,
        .frames = frames,
        .frame_count = nframes,
    };
    int rc = sent ? rq_qlog_packet_sent(c->qlog, now, path, &p)
                  : rq_qlog_packet_received(c->qlog, now, path, &p);
    check(c, rc);
}

void rq_conn_qlog_lost(rq_conn *c, rq_time now, rq_pn_space space, uint64_t pn)
{
    if (!c->qlog)
        return;
    rq_qlog_packet p = {.type = space_pkt_type(space), .pn = pn, .key_phase_bit = -1};
    check(c, rq_qlog_packet_lost(c->qlog, now, c->active_path, &p, RQ_QLOG_LOSS_TRIGGER_NONE));
}

void rq_conn_qlog_metrics(rq_conn *c, rq_time now)
{
    if (!c->qlog)
        return;
    const rq_path *p = rq_conn_active_path(c);
    rq_qlog_metrics m = {
        .present = RQ_QLOG_M_MIN_RTT | RQ_QLOG_M_SMOOTHED_RTT | RQ_QLOG_M_LATEST_RTT |
                   RQ_QLOG_M_RTT_VARIANCE | RQ_QLOG_M_CWND | RQ_QLOG_M_BYTES_IN_FLIGHT |
                   RQ_QLOG_M_PTO_COUNT,
        .min_rtt = p->rtt.min_rtt,
        .smoothed_rtt = p->rtt.smoothed_rtt,
        .latest_rtt = p->rtt.latest_rtt,
        .rtt_variance = p->rtt.rttvar,
        .congestion_window = p->cc.cwnd,
        .bytes_in_flight = p->cc.bytes_in_flight,
        .pto_count = rq_recovery_pto_count(&c->rec),
    };
    check(c, rq_qlog_recovery_metrics(c->qlog, now, c->active_path, &m));
}

void rq_conn_qlog_closed(rq_conn *c, rq_time now, rq_qlog_close_trigger trigger)
{
    if (!c->qlog)
        return;
    rq_qlog_close cl = {
        .by_peer = c->close_by_peer,
        .has_error =
            trigger != RQ_QLOG_CLOSE_IDLE_TIMEOUT && trigger != RQ_QLOG_CLOSE_STATELESS_RESET,
        .application = c->close_app,
        .error_code = c->close_code,
        .reason = c->close_reason_len ? (const uint8_t *)c->close_reason : NULL,
        .reason_len = c->close_reason_len,
        .trigger = trigger,
    };
    check(c, rq_qlog_connection_closed(c->qlog, now, &cl));
}
