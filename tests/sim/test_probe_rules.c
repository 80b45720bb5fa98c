/* Rules at the edges of path validation and CIDs, with packets forged from the client's live
 * keys: a small probe from a new address is answered there within the 3x budget and does not
 * move the connection; a datagram too small to be a packet changes nothing; an endpoint that
 * sends with zero-length CIDs refuses NEW_CONNECTION_ID. */
#include "inject.h"
#include "ledger.h"
#include "link.h"
#include "qinject.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr NEW_ADDR = {RQ_AF_INET4, 50007, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};
static const rq_addr OTHER_SERVER = {RQ_AF_INET4, 443, {10, 0, 0, 9}, 0};

typedef struct pr_run {
    sim *s;
    sim_qnode *client, *server;
    sim_link *c2s, *s2c;
    qtrace qt;
} pr_run;

static bool settled(sim *s, void *ctx)
{
    (void)s;
    pr_run *r = ctx;
    rq_conn *c = r->client->conn;
    return (c && c->handshake_confirmed && r->server->conn) || r->client->closed;
}

static int setup(pr_run *r, uint64_t seed, uint8_t client_cid_len)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS};
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    if (!cc || !sc)
        return RQ_ERR_NOMEM;
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = client_cid_len;
    int rc = rq_config_set_transport(cc, &t);
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, sc);
    if (!rc)
        rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_ADDR, &r->client);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", sc, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, &r->c2s, &r->s2c);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    if (!rc)
        rc = sim_qnode_connect(r->client, &SERVER_ADDR, "localhost", 0);
    if (!rc)
        rc = sim_run_until_pred(r->s, settled, r, 5 * RQ_SEC);
    if (!rc) /* let the handshake's last packets and CID frames settle */
        rc = sim_run_until(r->s, sim_now(r->s) + 200 * RQ_MS);
    return rc;
}

static void teardown(pr_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

/* MIG-8.2.1-06 (a datagram under 1200 bytes carrying PATH_CHALLENGE is not dropped),
 * MIG-8.2.2-02 (the response goes out without delay),
 * MIG-8.2.2-01 (the response echoes the data), MIG-8.2.2-03 (it goes back to the address the
 * challenge came from), MIG-8.2.2-06 (no padding past the 3x budget of that unvalidated
 * address), MIG-9.1-02 / RFC 9000 §9.3 (a probing-only packet does not move the connection). */
static void test_small_probe_answered_within_budget_mig_8_2_2_06(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb1, 8), RQ_OK);
    const uint8_t challenge[] = {0x1a, 1, 2, 3, 4, 5, 6, 7, 8};
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.c2s, r.client->conn, &NEW_ADDR, &SERVER_ADDR, challenge,
                                sizeof challenge, 0),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 100 * RQ_MS), RQ_OK);
    sim_ledger *l = sim_get_ledger(r.s);
    uint64_t in = sim_ledger_pair(l, &NEW_ADDR, &SERVER_ADDR).recv_bytes;
    uint64_t out = sim_ledger_pair(l, &SERVER_ADDR, &NEW_ADDR).sent_bytes;
    RQ_CHECK(in > 0 && in < 100);
    RQ_CHECK(out > 0);
    RQ_CHECK(out <= 3 * in);
    bool echoed = false;
    rq_time answered_at = 0;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir != QTRACE_S2C || p->t < t0 || !rq_addr_eq(&p->dst, &NEW_ADDR))
            continue;
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++)
            if (r.qt.frames[f].type == RQ_FT_PATH_RESPONSE &&
                memcmp(r.qt.frames[f].path.data, challenge + 1, 8) == 0 && !echoed) {
                echoed = true;
                answered_at = p->t;
            }
    }
    RQ_CHECK(echoed);
    /* MIG-8.2.2-02: the response leaves at the instant the challenge arrived (no ACK-delay
     * timer or batching holds it back). */
    rq_time arrived = QTRACE_NEVER;
    for (size_t i = 0; i < r.qt.count; i++)
        if (r.qt.pkts[i].injected && r.qt.pkts[i].dir == QTRACE_C2S)
            arrived = r.qt.pkts[i].delivered;
    RQ_CHECK(arrived != QTRACE_NEVER);
    RQ_CHECK_EQ_U64(answered_at, arrived);
    rq_conn *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &CLIENT_ADDR));
    RQ_CHECK(!r.server->closed && !r.client->closed);
    teardown(&r);
}

/* A datagram on s2c longer than the "path MTU" in ctx (a size_t) towards NEW_ADDR. */
static bool oversize_to_new(void *ctx, const sim_dgram *dg)
{
    return dg->len > *(const size_t *)ctx && rq_addr_eq(&dg->dst, &NEW_ADDR);
}

/* The client "moves" to NEW_ADDR with one tiny non-probing packet (a PING, about 30 bytes):
 * the server follows, and the 3x budget keeps its first PATH_CHALLENGE there small. Datagrams
 * to NEW_ADDR larger than `mtu` are lost. Returns what the server sent to NEW_ADDR as the
 * trace shows it: the first challenge's datagram size, whether a later challenge went in a
 * datagram of at least 1200 bytes and when. */
typedef struct small_move {
    size_t first_challenge_len;
    rq_time padded_challenge_at; /* RQ_TIME_NEVER if none */
    rq_time first_response_at;   /* the first PATH_RESPONSE the server received, or NEVER */
    bool nonprobing_after_fail;  /* non-probing packets to NEW_ADDR after the path failed */
} small_move;

static void move_with_tiny_packet(pr_run *r, size_t mtu, small_move *m)
{
    static size_t path_mtu;
    path_mtu = mtu;
    sim_injector *inj;
    RQ_CHECK_ERR(sim_injector_new(r->s, "mtu", r->s2c, &inj), RQ_OK);
    sim_inj_rule drop = {.action = SIM_INJ_DROP, .match = oversize_to_new, .match_ctx = &path_mtu};
    RQ_CHECK_ERR(sim_injector_add(inj, &drop, NULL), RQ_OK);
    const uint8_t ping[] = {0x01};
    rq_time t0 = sim_now(r->s);
    RQ_CHECK_ERR(sim_forge_1rtt(r->s, r->c2s, r->client->conn, &NEW_ADDR, &SERVER_ADDR, ping,
                                sizeof ping, 0),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r->s, t0 + 10 * RQ_SEC), RQ_OK);
    memset(m, 0, sizeof *m);
    m->padded_challenge_at = m->first_response_at = RQ_TIME_NEVER;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir == QTRACE_C2S && p->delivered != QTRACE_NEVER && p->delivered > t0 &&
            qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_RESPONSE) &&
            m->first_response_at == RQ_TIME_NEVER)
            m->first_response_at = p->delivered;
        if (p->dir != QTRACE_S2C || !rq_addr_eq(&p->dst, &NEW_ADDR) ||
            !qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_CHALLENGE))
            continue;
        if (!m->first_challenge_len)
            m->first_challenge_len = p->len;
        else if (p->len >= 1200 && m->padded_challenge_at == RQ_TIME_NEVER)
            m->padded_challenge_at = p->t;
    }
}

/* MIG-8.2.1-05: the first challenge to the tiny mover's address could not be padded; once
 * it was answered (the address is proven, the budget gone), a second PATH_CHALLENGE goes to
 * that address in a datagram of at least 1200 bytes, and its answer validates the path for
 * good. */
static void test_unpadded_validation_followed_by_padded_mig_8_2_1_05(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb5, 8), RQ_OK);
    small_move m;
    move_with_tiny_packet(&r, 65535, &m);
    RQ_CHECK(m.first_challenge_len > 0 && m.first_challenge_len < 1200);
    RQ_CHECK(m.first_response_at != RQ_TIME_NEVER);
    RQ_CHECK(m.padded_challenge_at != RQ_TIME_NEVER);
    RQ_CHECK(m.padded_challenge_at >= m.first_response_at);
    rq_conn *sc = r.server->conn;
    bool proven = false;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++) {
        const rq_path *p = &sc->paths[i];
        proven |= p->in_use && rq_addr_eq(&p->addr.remote, &NEW_ADDR) && p->validated &&
                  !p->mtu_unproven && !p->validating;
    }
    RQ_CHECK(proven);
    RQ_CHECK(!r.server->closed && !r.client->closed);
    teardown(&r);
}

/* MIG-14.2-02: the same move onto a path that loses every datagram over 1100 bytes. The small
 * challenge is answered, but no padded one ever is: the server gives the path up, sends
 * nothing more there, and goes on with the client at its real address. */
static void test_path_under_1200_bytes_given_up_mig_14_2_02(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb6, 8), RQ_OK);
    small_move m;
    move_with_tiny_packet(&r, 1100, &m);
    RQ_CHECK(m.first_challenge_len > 0 && m.first_challenge_len < 1200);
    RQ_CHECK(m.first_response_at != RQ_TIME_NEVER);
    RQ_CHECK(m.padded_challenge_at != RQ_TIME_NEVER); /* tried, lost */
    rq_conn *sc = r.server->conn;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        RQ_CHECK(!sc->paths[i].in_use || !rq_addr_eq(&sc->paths[i].addr.remote, &NEW_ADDR));
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &CLIENT_ADDR));
    RQ_CHECK(sc->paths[sc->active_path].validated);
    /* Nothing to NEW_ADDR in the last seconds: the path is gone. */
    rq_time last = 0;
    for (size_t i = 0; i < r.qt.count; i++)
        if (r.qt.pkts[i].dir == QTRACE_S2C && rq_addr_eq(&r.qt.pkts[i].dst, &NEW_ADDR))
            last = r.qt.pkts[i].t;
    RQ_CHECK(last < sim_now(r.s) - 3 * RQ_SEC);
    RQ_CHECK(!r.server->closed && !r.client->closed);
    teardown(&r);
}

/* MIG-10.3-06: a 20-byte datagram (a short header is never valid under 21 bytes) to a live
 * connection gets no reply and changes nothing. */
static void test_tiny_datagram_ignored_mig_10_3_06(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb2, 8), RQ_OK);
    rq_conn *sc = r.server->conn;
    uint8_t dg[20] = {0x41};
    memcpy(dg + 1, r.client->conn->dcid.data, r.client->conn->dcid.len);
    uint64_t sent_before =
        sim_ledger_pair(sim_get_ledger(r.s), &SERVER_ADDR, &CLIENT_ADDR).sent_dgrams;
    uint64_t recv_pn_before = rq_ackrecv_largest(&sc->spaces[RQ_PN_SPACE_APPLICATION].ack);
    RQ_CHECK_ERR(
        sim_inject(r.s, r.c2s, sim_now(r.s), &CLIENT_ADDR, &SERVER_ADDR, dg, sizeof dg, NULL),
        RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 50 * RQ_MS), RQ_OK);
    uint64_t sent_after =
        sim_ledger_pair(sim_get_ledger(r.s), &SERVER_ADDR, &CLIENT_ADDR).sent_dgrams;
    RQ_CHECK_EQ_U64(sent_after, sent_before);
    RQ_CHECK_EQ_U64(rq_ackrecv_largest(&sc->spaces[RQ_PN_SPACE_APPLICATION].ack), recv_pn_before);
    RQ_CHECK(!r.server->closed);
    teardown(&r);
}

/* MIG-19.15-03: the server sends to a client that chose a zero-length CID; a
 * NEW_CONNECTION_ID from that client is a PROTOCOL_VIOLATION. */
static void test_new_cid_to_zero_length_sender_mig_19_15_03(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb3, 0), RQ_OK);
    uint8_t f[1 + 1 + 1 + 1 + 8 + 16] = {0x18, 0x05, 0x00, 0x08};
    memset(f + 4, 0x77, 8);
    memset(f + 12, 0x55, 16);
    RQ_CHECK_ERR(
        sim_forge_1rtt(r.s, r.c2s, r.client->conn, &CLIENT_ADDR, &SERVER_ADDR, f, sizeof f, 0),
        RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 2 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->closed && !r.server->close_by_peer);
    RQ_CHECK_EQ_U64(r.server->close_code, 0x0a);
    teardown(&r);
}

/* MIG-8.2.2-04, RFC 9000 §8.2.3: a PATH_RESPONSE validates the path its challenge went out on,
 * whichever path it arrives on. A non-probing packet from a new client port moves the server
 * there and makes it challenge that port; the client, which never had that port, answers from
 * its real address, i.e. on the old path, and the new path is validated all the same. */
static void test_response_on_other_path_validates_mig_8_2_2_04(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb6, 8), RQ_OK);
    const uint8_t ping[] = {0x01};
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.c2s, r.client->conn, &NEW_ADDR, &SERVER_ADDR, ping,
                                sizeof ping, 1200),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 100 * RQ_MS), RQ_OK);
    rq_conn *sc = r.server->conn;
    const rq_path *np = NULL;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (sc->paths[i].in_use && rq_addr_eq(&sc->paths[i].addr.remote, &NEW_ADDR))
            np = &sc->paths[i];
    RQ_CHECK(np && np->validated);
    bool challenged = false, response_from_new = false, response_from_old = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->t < t0)
            continue;
        if (p->dir == QTRACE_S2C && rq_addr_eq(&p->dst, &NEW_ADDR) &&
            qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_CHALLENGE))
            challenged = true;
        if (p->dir == QTRACE_C2S && qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_RESPONSE)) {
            response_from_new |= rq_addr_eq(&p->src, &NEW_ADDR);
            response_from_old |= rq_addr_eq(&p->src, &CLIENT_ADDR);
        }
    }
    RQ_CHECK(challenged);
    RQ_CHECK(response_from_old && !response_from_new);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    teardown(&r);
}

/* MIG-9.3.3-02: a PATH_CHALLENGE arriving on the active path (a server checking, after an
 * apparent migration, whether the client is still at its old address) is answered with a
 * packet that also carries a non-probing frame, so that the genuine path can win back. */
static void test_challenge_on_active_path_answered_nonprobing_mig_9_3_3_02(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb7, 8), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 500 * RQ_MS), RQ_OK); /* all acked, quiet */
    const uint8_t challenge[] = {0x1a, 9, 8, 7, 6, 5, 4, 3, 2};
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.s2c, r.server->conn, &SERVER_ADDR, &CLIENT_ADDR, challenge,
                                sizeof challenge, 1200),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 100 * RQ_MS), RQ_OK);
    bool answered = false, with_nonprobing = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        const rq_frame *f = p->dir == QTRACE_C2S && p->t >= t0
                                ? qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_RESPONSE)
                                : NULL;
        if (!f || memcmp(f->path.data, challenge + 1, 8) != 0)
            continue;
        answered = true;
        for (size_t n = p->first_frame; n < p->first_frame + p->frame_count; n++)
            with_nonprobing |=
                !rq_frame_is_probing(r.qt.frames[n].type) && r.qt.frames[n].type != RQ_FT_ACK;
    }
    RQ_CHECK(answered);
    RQ_CHECK(with_nonprobing); /* an ack-eliciting non-probing frame, not just an ACK */
    RQ_CHECK(!r.client->closed && !r.server->closed);
    teardown(&r);
}

/* MIG-19.16-03: RETIRE_CONNECTION_ID sent to an endpoint that gave out a zero-length CID (the
 * client here) is a PROTOCOL_VIOLATION (RFC 9000 §19.16). */
static void test_retire_cid_to_zero_length_sender_mig_19_16_03(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb5, 0), RQ_OK);
    const uint8_t f[] = {0x19, 0x00};
    RQ_CHECK_ERR(
        sim_forge_1rtt(r.s, r.s2c, r.server->conn, &SERVER_ADDR, &CLIENT_ADDR, f, sizeof f, 0),
        RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 2 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.client->closed && !r.client->close_by_peer); /* the client's own verdict */
    RQ_CHECK_EQ_U64(r.client->close_code, 0x0a);
    teardown(&r);
}

/* MIG-9-05, MIG-9.6-01: a valid 1-RTT packet (the server's keys and the client's CID) from a
 * server address the client never sent to is discarded: not acknowledged, no new path, no
 * change of where the client sends (a server cannot migrate in QUIC v1, RFC 9000 §9). */
static void test_packet_from_unknown_server_address_ignored_mig_9_05(void)
{
    pr_run r;
    RQ_CHECK_ERR(setup(&r, 0xb4, 8), RQ_OK);
    rq_conn *c = r.client->conn;
    uint64_t largest = c->spaces[RQ_PN_SPACE_APPLICATION].ack.largest;
    const uint8_t ping[] = {0x01};
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.s2c, r.server->conn, &OTHER_SERVER, &CLIENT_ADDR, ping,
                                sizeof ping, 1200),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK_EQ_U64(c->spaces[RQ_PN_SPACE_APPLICATION].ack.largest, largest);
    unsigned paths = 0;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        paths += c->paths[i].in_use;
    RQ_CHECK_EQ_U64(paths, 1);
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->t >= t0 && p->dir == QTRACE_C2S)
            RQ_CHECK(rq_addr_eq(&p->dst, &SERVER_ADDR));
    }
    teardown(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_small_probe_answered_within_budget_mig_8_2_2_06);
    RQ_RUN(test_unpadded_validation_followed_by_padded_mig_8_2_1_05);
    RQ_RUN(test_path_under_1200_bytes_given_up_mig_14_2_02);
    RQ_RUN(test_tiny_datagram_ignored_mig_10_3_06);
    RQ_RUN(test_new_cid_to_zero_length_sender_mig_19_15_03);
    RQ_RUN(test_packet_from_unknown_server_address_ignored_mig_9_05);
    RQ_RUN(test_retire_cid_to_zero_length_sender_mig_19_16_03);
    RQ_RUN(test_response_on_other_path_validates_mig_8_2_2_04);
    RQ_RUN(test_challenge_on_active_path_answered_nonprobing_mig_9_3_3_02);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
