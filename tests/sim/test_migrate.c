/* A client's own migration (RFC 9000 §9.1, §9.2, §9.5), asserted on the decrypted wire: it
 * probes a second local address with a fresh connection ID, sends only probing frames there
 * until it moves, then moves (make before break); the server follows and validates; the old
 * path's connection ID is retired; the upload completes intact. And the refusals: no probing
 * before confirmation, none towards a server that disabled migration. */
#include "inject.h"
#include "link.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

static const rq_addr CLIENT_A = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct mg_run {
    sim *s;
    sim_qnode *client, *server;
    qtrace qt;
    uint32_t path_id;
    sim_link *s2c;
} mg_run;

static int mg_new(mg_run *r, uint64_t seed, rq_config *scfg)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    rq_config *cc = sim_qnode_client_config();
    if (!cc || !scfg)
        return RQ_ERR_NOMEM;
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, scfg);
    int rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_A, &r->client);
    if (!rc)
        rc = sim_host_add_addr(r->client->host, &CLIENT_B, 0);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", scfg, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, NULL, &r->s2c);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    return rc;
}

static void mg_free(mg_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

static bool probe_validated(sim *s, void *ctx)
{
    (void)s;
    mg_run *r = ctx;
    rq_conn *c = r->client->conn;
    return !c || r->client->closed || c->paths[r->path_id].validated;
}

static bool done(sim *s, void *ctx)
{
    (void)s;
    mg_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

/* MIG-9.5-01, MIG-9.5-02 (a fresh DCID for the new local address), MIG-9.1-01 (before the
 * move, packets from the new address carry only probing frames), MIG-8.2.2-03 (the server
 * answers on the probe's path), MIG-9.2-01 (the move: non-probing frames from the new address,
 * the server follows and validates), MIG-5.1.2-01 (the old path's DCID is retired once the
 * client left it); the upload finishes on the new path. MIG-21.5.6-02: every address here is
 * private (10.0.0.0/8), and nothing refuses them. */
static void test_client_probe_then_migrate_mig_9_5_01(void)
{
    mg_run r;
    RQ_CHECK_ERR(mg_new(&r, 0x91, sim_qnode_server_config()), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 2000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 200 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->handshake_confirmed);
    rq_cid old_dcid = c->dcid;
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    RQ_CHECK_ERR(rq_conn_probe_path(c, sim_now(r.s), &b, &r.path_id), RQ_OK);
    rq_time probe_at = sim_now(r.s);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, probe_validated, &r, sim_now(r.s) + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(c->paths[r.path_id].validated);
    RQ_CHECK(c->paths[r.path_id].probe_rtt > 0);
    rq_time moved_at = sim_now(r.s);
    RQ_CHECK_ERR(rq_conn_migrate(c, moved_at, r.path_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, sim_now(r.s) + 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 2 * RQ_SEC), RQ_OK); /* retirements */
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(r.server->fin_received);
    RQ_CHECK_EQ_U64(r.server->received, 2000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    RQ_CHECK_EQ_U64(r.qt.st.undecryptable, 0);

    bool nonprobing_b_before = false, server_answered_on_b = false, server_to_b_after = false;
    bool retired_old = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->type != RQ_PKT_1RTT)
            continue;
        if (p->dir == QTRACE_C2S) {
            if (rq_addr_eq(&p->src, &CLIENT_B) && p->t < moved_at &&
                !qtrace_pkt_only_probing(&r.qt, p))
                nonprobing_b_before = true;
            const rq_frame *rf = qtrace_pkt_frame(&r.qt, p, RQ_FT_RETIRE_CONNECTION_ID);
            if (rf && rf->retire_cid.seq == 0)
                retired_old = true; /* the handshake path used the server's sequence 0 */
        } else {
            if (rq_addr_eq(&p->dst, &CLIENT_B) && p->t < moved_at &&
                qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_RESPONSE))
                server_answered_on_b = true;
            if (rq_addr_eq(&p->dst, &CLIENT_B) && p->t > moved_at)
                server_to_b_after = true;
        }
    }
    /* MIG-9.5-01/02: the client's two paths used different DCIDs (the decoder records no DCID,
     * so the client's own record is checked: the new path took a fresh one). */
    RQ_CHECK(!rq_cid_eq(&c->dcid, &old_dcid));
    RQ_CHECK(rq_cid_eq(&c->paths[r.path_id].dcid, &c->dcid));
    RQ_CHECK(!nonprobing_b_before);
    RQ_CHECK(server_answered_on_b);
    RQ_CHECK(server_to_b_after);
    RQ_CHECK(retired_old);
    /* The server moved to the new address and validated it. */
    rq_conn *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &CLIENT_B));
    RQ_CHECK(sc->paths[sc->active_path].validated);
    printf("  probe sent at %.3f s, validated at %.3f s (rtt %.1f ms), upload done at %.3f s\n",
           (double)probe_at / 1e9, (double)moved_at / 1e9,
           (double)c->paths[r.path_id].probe_rtt / 1e6, (double)sim_now(r.s) / 1e9);
    mg_free(&r);
}

/* MIG-9-01: no probe before the handshake is confirmed; MIG-9-02: none at all towards a
 * server that sent disable_active_migration (RFC 9000 §9, §18.2). */
static void test_probe_refused_mig_9_02(void)
{
    mg_run r;
    rq_config *scfg = sim_qnode_server_config();
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.disable_active_migration = true;
    RQ_CHECK(scfg && rq_config_set_transport(scfg, &t) == 0);
    RQ_CHECK_ERR(mg_new(&r, 0x92, scfg), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 1000), RQ_OK);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    uint32_t id;
    /* Before anything happened: not established. */
    RQ_CHECK_ERR(rq_conn_probe_path(r.client->conn, 0, &b, &id), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(sim_run_until(r.s, 300 * RQ_MS), RQ_OK);
    RQ_CHECK(r.client->conn->handshake_confirmed);
    RQ_CHECK_ERR(rq_conn_probe_path(r.client->conn, sim_now(r.s), &b, &id), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_conn_migrate(r.client->conn, sim_now(r.s), 0), RQ_ERR_INVALID_ARG);
    mg_free(&r);
}

/* MIG-9-03: a client that migrates although the server sent disable_active_migration (an
 * instrumented client that ignores the flag) is followed, validated and kept: the server
 * neither resets nor closes, since it cannot tell such a move from a NAT rebinding. */
static void test_server_follows_despite_disable_active_migration_mig_9_03(void)
{
    mg_run r;
    rq_config *scfg = sim_qnode_server_config();
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.disable_active_migration = true;
    RQ_CHECK(scfg && rq_config_set_transport(scfg, &t) == 0);
    RQ_CHECK_ERR(mg_new(&r, 0x93, scfg), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 1000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 200 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->handshake_confirmed && c->peer_tp.disable_active_migration);
    c->peer_tp.disable_active_migration = false; /* the misbehaving client */
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    RQ_CHECK_ERR(rq_conn_probe_path(c, sim_now(r.s), &b, &r.path_id), RQ_OK);
    RQ_CHECK_ERR(rq_conn_migrate(c, sim_now(r.s), r.path_id), RQ_OK); /* break before make */
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, sim_now(r.s) + 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + RQ_SEC), RQ_OK);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK_EQ_U64(r.server->received, 1000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    rq_conn *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &CLIENT_B));
    RQ_CHECK(sc->paths[sc->active_path].validated);
    /* No Stateless Reset reached the client (it would have closed it). */
    RQ_CHECK_EQ_U64(r.qt.st.resets, 0);
    mg_free(&r);
}

/* MIG-8.2.2-07: the datagram carrying the server's PATH_RESPONSE to a probe is lost. The
 * server never sends that response again (PATH_RESPONSE is not retransmitted, RFC 9000
 * §13.3); the client's retransmitted challenge (new data) gets exactly one response of its
 * own, and the path validates. */
static void test_lost_path_response_not_resent_mig_8_2_2_07(void)
{
    mg_run r;
    RQ_CHECK_ERR(mg_new(&r, 0x8227, sim_qnode_server_config()), RQ_OK);
    sim_injector *inj;
    RQ_CHECK_ERR(sim_injector_new(r.s, "loss", r.s2c, &inj), RQ_OK);
    sim_inj_rule drop = {.action = SIM_INJ_DROP, .dst = CLIENT_B, .max_hits = 1};
    unsigned rule;
    RQ_CHECK_ERR(sim_injector_add(inj, &drop, &rule), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 300000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 200 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->handshake_confirmed);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    RQ_CHECK_ERR(rq_conn_probe_path(c, sim_now(r.s), &b, &r.path_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, probe_validated, &r, sim_now(r.s) + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(c->paths[r.path_id].validated);
    RQ_CHECK_EQ_U64(sim_injector_hits(inj, rule), 1);
    /* Every challenge the client sent from B, and every response the server sent to B. */
    uint8_t asked[16][8], answered[16][8];
    size_t nasked = 0, nanswered = 0;
    bool first_lost_had_response = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++) {
            const rq_frame *fr = &r.qt.frames[f];
            if (p->dir == QTRACE_C2S && fr->type == RQ_FT_PATH_CHALLENGE &&
                rq_addr_eq(&p->src, &CLIENT_B) && nasked < 16)
                memcpy(asked[nasked++], fr->path.data, 8);
            if (p->dir == QTRACE_S2C && fr->type == RQ_FT_PATH_RESPONSE &&
                rq_addr_eq(&p->dst, &CLIENT_B) && nanswered < 16) {
                memcpy(answered[nanswered++], fr->path.data, 8);
                if (nanswered == 1)
                    first_lost_had_response = p->delivered == QTRACE_NEVER;
            }
        }
    }
    RQ_CHECK(first_lost_had_response);
    RQ_CHECK(nasked >= 2);
    /* One response per challenge that arrived, never two with the same data. */
    for (size_t i = 0; i < nanswered; i++)
        for (size_t k = i + 1; k < nanswered; k++)
            RQ_CHECK(memcmp(answered[i], answered[k], 8) != 0);
    for (size_t i = 0; i < nanswered; i++) {
        bool matches = false;
        for (size_t k = 0; k < nasked; k++)
            matches |= memcmp(answered[i], asked[k], 8) == 0;
        RQ_CHECK(matches);
    }
    RQ_CHECK(nanswered >= 2); /* the lost one, and the one to the retransmitted challenge */
    mg_free(&r);
}

/* MIG-5.1.1-08: the server lets the client give it only one spare CID
 * (active_connection_id_limit 2). The client supplies it before it probes, so the server can
 * answer on the new path with a CID it never used on the old one. */
static void test_spare_cid_before_migrating_mig_5_1_1_08(void)
{
    mg_run r;
    rq_config *scfg = sim_qnode_server_config();
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.active_connection_id_limit = 2;
    RQ_CHECK(scfg && rq_config_set_transport(scfg, &t) == 0);
    RQ_CHECK_ERR(mg_new(&r, 0x5118, scfg), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 2000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 200 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->handshake_confirmed);
    rq_time probe_at = sim_now(r.s);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    RQ_CHECK_ERR(rq_conn_probe_path(c, probe_at, &b, &r.path_id), RQ_OK);
    RQ_CHECK_ERR(rq_conn_migrate(c, probe_at, r.path_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, sim_now(r.s) + 30 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_U64(r.server->received, 2000000);
    size_t ncid_before = 0;
    bool to_b = false, reused = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S && p->t < probe_at)
            for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++)
                ncid_before += r.qt.frames[f].type == RQ_FT_NEW_CONNECTION_ID;
        if (p->dir != QTRACE_S2C || p->type != RQ_PKT_1RTT || !rq_addr_eq(&p->dst, &CLIENT_B))
            continue;
        to_b = true;
        for (size_t k = 0; k < r.qt.count; k++) {
            const qtrace_pkt *q = &r.qt.pkts[k];
            reused |= q->dir == QTRACE_S2C && q->type == RQ_PKT_1RTT &&
                      rq_addr_eq(&q->dst, &CLIENT_A) && rq_cid_eq(&q->dcid, &p->dcid);
        }
    }
    RQ_CHECK_EQ_U64(ncid_before, 1); /* exactly the one spare the limit allows */
    RQ_CHECK(to_b);
    RQ_CHECK(!reused);
    mg_free(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_client_probe_then_migrate_mig_9_5_01);
    RQ_RUN(test_probe_refused_mig_9_02);
    RQ_RUN(test_server_follows_despite_disable_active_migration_mig_9_03);
    RQ_RUN(test_lost_path_response_not_resent_mig_8_2_2_07);
    RQ_RUN(test_spare_cid_before_migrating_mig_5_1_1_08);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
