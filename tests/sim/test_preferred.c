/* The server's preferred address (RFC 9000 §9.6), asserted on the decrypted wire: a client
 * validates the advertised address once the handshake is confirmed, sends it only probing
 * frames until it answers, then moves there for good; the preferred address's CID is sequence
 * 1, so the server's NEW_CONNECTION_ID frames start at 2; when the address does not answer the
 * client stays where it was; a client told not to follow never probes it; and
 * disable_active_migration does not stop it (§18.2). */
#include "ledger.h"
#include "link.h"
#include "nat.h"
#include "qinject.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

static const rq_addr CLIENT_A = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};
static const rq_addr SERVER_PREF = {RQ_AF_INET4, 4433, {10, 0, 0, 4}, 0};
static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
static const rq_addr CLIENT_6 = {RQ_AF_INET6, 50000, {0xfd, 0, [15] = 1}, 0};
static const rq_addr SERVER_6 = {RQ_AF_INET6, 443, {0xfd, 0, [15] = 2}, 0};
static const rq_addr SERVER_PREF_6 = {RQ_AF_INET6, 4433, {0xfd, 0, [15] = 4}, 0};

typedef struct pa_run {
    sim *s;
    sim_qnode *client, *server;
    qtrace qt;
    sim_link *c2s;
    const rq_addr *server_addr; /* where the client connects */
} pa_run;

typedef struct pa_opts {
    bool server_has_pref; /* false: the preferred address is a black hole */
    bool client_follows;
    bool disable_active_migration;
    bool ipv6; /* the client and the server's handshake address are IPv6; both families offered */
    const rq_addr *pref4; /* the IPv4 preferred address when not SERVER_PREF */
} pa_opts;

static int pa_new(pa_run *r, uint64_t seed, const pa_opts *o)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    rq_config *cc = sim_qnode_client_config();
    rq_config *scfg = sim_qnode_server_config();
    if (!cc || !scfg)
        return RQ_ERR_NOMEM;
    rq_config_follow_preferred_address(cc, o->client_follows, RQ_AF_INET4);
    const rq_addr *pref4 = o->pref4 ? o->pref4 : &SERVER_PREF;
    int rc = rq_config_set_preferred_address(scfg, pref4, o->ipv6 ? &SERVER_PREF_6 : NULL);
    r->server_addr = o->ipv6 ? &SERVER_6 : &SERVER_ADDR;
    if (!rc && o->disable_active_migration) {
        rq_transport_settings t;
        rq_transport_defaults(&t);
        t.disable_active_migration = true;
        rc = rq_config_set_transport(scfg, &t);
    }
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, scfg);
    if (!rc)
        rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, o->ipv6 ? &CLIENT_6 : &CLIENT_A, &r->client);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", scfg, r->server_addr, &r->server);
    if (!rc && o->server_has_pref)
        rc = sim_host_add_addr(r->server->host, pref4, 0);
    if (!rc && o->server_has_pref && o->ipv6)
        rc = sim_host_add_addr(r->server->host, &SERVER_PREF_6, 0);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, &r->c2s, NULL);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    return rc;
}

static void pa_free(pa_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

static bool done(sim *s, void *ctx)
{
    (void)s;
    pa_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

/* Uploads `bytes` and checks that every byte arrived intact. */
static void run_upload(pa_run *r, uint64_t bytes)
{
    RQ_CHECK_ERR(sim_qnode_connect(r->client, r->server_addr, "localhost", bytes), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r->s, done, r, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r->s, sim_now(r->s) + 2 * RQ_SEC), RQ_OK);
    RQ_CHECK(!r->client->closed && !r->server->closed);
    RQ_CHECK(r->server->fin_received);
    RQ_CHECK_EQ_U64(r->server->received, bytes);
    RQ_CHECK_EQ_U64(r->server->bad_bytes, 0);
    RQ_CHECK_EQ_U64(r->qt.st.undecryptable, 0);
}

typedef struct pa_wire {
    rq_time first_challenge_to_pref;  /* RQ_TIME_NEVER if none */
    rq_time first_response_from_pref; /* RQ_TIME_NEVER if none */
    bool nonprobing_to_pref_early;    /* before the PATH_RESPONSE came back */
    bool nonprobing_to_orig_late;     /* after the client moved */
    bool server_challenge_from_pref;
    rq_time client_nonprobing_to_pref;   /* first, RQ_TIME_NEVER if none */
    rq_time client_response_to_pref;     /* first answer to the server's challenge */
    rq_time server_nonprobing_from_pref; /* first */
    uint64_t lowest_ncid_seq;            /* the server's NEW_CONNECTION_ID frames */
    size_t to_pref;
} pa_wire;

static void scan(const pa_run *r, rq_time moved_at, pa_wire *w)
{
    memset(w, 0, sizeof *w);
    w->first_challenge_to_pref = w->first_response_from_pref = RQ_TIME_NEVER;
    w->client_nonprobing_to_pref = w->client_response_to_pref = RQ_TIME_NEVER;
    w->server_nonprobing_from_pref = RQ_TIME_NEVER;
    w->lowest_ncid_seq = UINT64_MAX;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->type != RQ_PKT_1RTT)
            continue;
        if (p->dir == QTRACE_C2S) {
            bool pref = rq_addr_eq(&p->dst, &SERVER_PREF);
            w->to_pref += pref;
            if (pref && qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_CHALLENGE) &&
                p->t < w->first_challenge_to_pref)
                w->first_challenge_to_pref = p->t;
            if (pref && p->t <= w->first_response_from_pref && !qtrace_pkt_only_probing(&r->qt, p))
                w->nonprobing_to_pref_early = true;
            if (pref && !qtrace_pkt_only_probing(&r->qt, p) && p->t < w->client_nonprobing_to_pref)
                w->client_nonprobing_to_pref = p->t;
            if (pref && qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_RESPONSE) &&
                p->t < w->client_response_to_pref)
                w->client_response_to_pref = p->t;
            /* One RTT of grace: packets already queued when the move happened. */
            if (!pref && moved_at != RQ_TIME_NEVER && p->t > moved_at &&
                !qtrace_pkt_only_probing(&r->qt, p))
                w->nonprobing_to_orig_late = true;
        } else {
            bool pref = rq_addr_eq(&p->src, &SERVER_PREF);
            if (pref && qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_RESPONSE) &&
                p->t < w->first_response_from_pref)
                w->first_response_from_pref = p->t;
            if (pref && qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_CHALLENGE))
                w->server_challenge_from_pref = true;
            if (pref && !qtrace_pkt_only_probing(&r->qt, p) &&
                p->t < w->server_nonprobing_from_pref)
                w->server_nonprobing_from_pref = p->t;
            for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++)
                if (r->qt.frames[f].type == RQ_FT_NEW_CONNECTION_ID &&
                    r->qt.frames[f].new_cid.seq < w->lowest_ncid_seq)
                    w->lowest_ncid_seq = r->qt.frames[f].new_cid.seq;
        }
    }
}

/* MIG-7.2-01: after the handshake each side sends 1-RTT packets only with CIDs the other gave
 * it: its handshake SCID, the preferred address's CID, or one from NEW_CONNECTION_ID. */
static bool dcids_all_issued(const pa_run *r)
{
    const rq_conn *cc = r->client->conn, *sc = r->server->conn;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->type != RQ_PKT_1RTT || p->injected)
            continue;
        int to = p->dir == QTRACE_C2S ? QTRACE_S2C : QTRACE_C2S;
        const rq_cid *hs = to == QTRACE_S2C ? &sc->scid : &cc->scid;
        bool ok =
            rq_cid_eq(&p->dcid, hs) || (to == QTRACE_S2C && cc->peer_tp.has_preferred_address &&
                                        rq_cid_eq(&p->dcid, &cc->peer_tp.preferred_address.cid));
        for (size_t k = 0; k < r->qt.count && !ok; k++) {
            const qtrace_pkt *q = &r->qt.pkts[k];
            const rq_frame *f = q->dir == to && q->t <= p->t
                                    ? qtrace_pkt_frame(&r->qt, q, RQ_FT_NEW_CONNECTION_ID)
                                    : NULL;
            for (size_t n = q->first_frame; f && n < q->first_frame + q->frame_count; n++)
                ok |= r->qt.frames[n].type == RQ_FT_NEW_CONNECTION_ID &&
                      rq_cid_eq(&r->qt.frames[n].new_cid.cid, &p->dcid);
        }
        if (!ok)
            return false;
    }
    return true;
}

/* MIG-9.6.1-01 (after confirmation the client probes the preferred address with an unused
 * DCID), MIG-9.6.2-01 / MIG-21.5.3-01 (only probing frames there until it answered),
 * MIG-9.6.1-02 (then everything goes there), MIG-9.6.2-03 (the server challenges the client
 * from its preferred address), MIG-9.6.2-02 (and follows only once that path is validated),
 * MIG-7.2-01 (every DCID used was issued);
 * §5.1.1: the preferred address's CID is sequence 1. */
static void test_client_moves_to_preferred_address_mig_9_6_1_01(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true};
    RQ_CHECK_ERR(pa_new(&r, 0x961, &o), RQ_OK);
    run_upload(&r, 2000000);
    rq_conn *c = r.client->conn, *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_PREF));
    RQ_CHECK(c->paths[c->active_path].validated);
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.local, &SERVER_PREF));
    RQ_CHECK(sc->paths[sc->active_path].validated);
    /* The client now sends with a CID other than the handshake's (sequence 0). */
    RQ_CHECK(!rq_cid_eq(&c->dcid, &sc->scid));

    pa_wire w;
    scan(&r, RQ_TIME_NEVER, &w);
    RQ_CHECK(w.first_challenge_to_pref != RQ_TIME_NEVER);
    RQ_CHECK(w.first_response_from_pref != RQ_TIME_NEVER);
    RQ_CHECK(!w.nonprobing_to_pref_early);
    RQ_CHECK(w.server_challenge_from_pref);
    /* MIG-9.6.2-02: the server sends non-probing packets from its preferred address only after
     * the client's first non-probing packet there and the client's answer to its challenge
     * (send times on the client side; arrival is later still). */
    RQ_CHECK(w.client_nonprobing_to_pref != RQ_TIME_NEVER);
    RQ_CHECK(w.client_response_to_pref != RQ_TIME_NEVER);
    RQ_CHECK(w.server_nonprobing_from_pref != RQ_TIME_NEVER);
    RQ_CHECK(w.server_nonprobing_from_pref > w.client_nonprobing_to_pref);
    RQ_CHECK(w.server_nonprobing_from_pref > w.client_response_to_pref);
    RQ_CHECK_EQ_U64(w.lowest_ncid_seq, 2);
    RQ_CHECK(dcids_all_issued(&r));
    /* MIG-9.6.1-02: after the client moved (one round trip after the answer, to let packets
     * already in flight land), nothing non-probing goes to the original address. */
    pa_wire late;
    scan(&r, w.first_response_from_pref + 20 * RQ_MS, &late);
    RQ_CHECK(!late.nonprobing_to_orig_late);
    printf("  challenge to the preferred address at %.3f s, answered at %.3f s, %zu packets "
           "sent there\n",
           (double)w.first_challenge_to_pref / 1e9, (double)w.first_response_from_pref / 1e9,
           w.to_pref);
    pa_free(&r);
}

/* MIG-9.6.2-04: once the server switched to its preferred address, a newer packet of the
 * connection arriving at the original address (a copy sent there, or an attacker replaying the
 * old path) is dropped: not acknowledged, nothing in it acted on. */
static void test_newer_packets_at_old_address_dropped_mig_9_6_2_04(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true};
    RQ_CHECK_ERR(pa_new(&r, 0x966, &o), RQ_OK);
    run_upload(&r, 200000);
    rq_conn *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.local, &SERVER_PREF));
    uint64_t largest = sc->spaces[RQ_PN_SPACE_APPLICATION].ack.largest;
    const uint8_t ping[] = {0x01};
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.c2s, r.client->conn, &CLIENT_A, &SERVER_ADDR, ping,
                                sizeof ping, 1200),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_U64(sc->spaces[RQ_PN_SPACE_APPLICATION].ack.largest, largest);
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.local, &SERVER_PREF));
    /* The same kind of packet at the preferred address is processed (the forging is sound). */
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.c2s, r.client->conn, &CLIENT_A, &SERVER_PREF, ping,
                                sizeof ping, 1200),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    RQ_CHECK(sc->spaces[RQ_PN_SPACE_APPLICATION].ack.largest > largest);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    pa_free(&r);
}

/* MIG-9.6.3-06, MIG-5.1.1-03 (its preferred-address part): the preferred address's CID is an
 * ordinary CID of the connection, accepted on the original path too (RFC 9000 §9.6.3, §5.1.1).
 * The client (not following) sends one packet there with it. */
static void test_preferred_cid_accepted_on_original_path_mig_9_6_3_06(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = false};
    RQ_CHECK_ERR(pa_new(&r, 0x967, &o), RQ_OK);
    run_upload(&r, 100000);
    rq_conn *c = r.client->conn, *sc = r.server->conn;
    RQ_CHECK(c->peer_tp.has_preferred_address);
    uint64_t largest = sc->spaces[RQ_PN_SPACE_APPLICATION].ack.largest;
    rq_cid saved = c->dcid;
    c->dcid = c->peer_tp.preferred_address.cid;
    const uint8_t ping[] = {0x01};
    RQ_CHECK_ERR(sim_forge_1rtt(r.s, r.c2s, c, &CLIENT_A, &SERVER_ADDR, ping, sizeof ping, 1200),
                 RQ_OK);
    c->dcid = saved;
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    RQ_CHECK(sc->spaces[RQ_PN_SPACE_APPLICATION].ack.largest > largest);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK_EQ_U64(r.qt.st.resets, 0);
    pa_free(&r);
}

/* MIG-9.6.1-03: the preferred address is a black hole: validation fails, the client keeps
 * sending to the original address and the transfer completes there. MIG-8.2.4-01: when it
 * gives up. MIG-8.2.1-02, MIG-9.4-04: how often it tries. */
static void test_unreachable_preferred_address_mig_9_6_1_03(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = false, .client_follows = true};
    RQ_CHECK_ERR(pa_new(&r, 0x962, &o), RQ_OK);
    run_upload(&r, 1000000);
    rq_conn *c = r.client->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    pa_wire w;
    scan(&r, RQ_TIME_NEVER, &w);
    RQ_CHECK(w.first_challenge_to_pref != RQ_TIME_NEVER); /* it did try */
    RQ_CHECK(!w.nonprobing_to_pref_early);                /* and sent only probes there */
    /* MIG-8.2.4-01: validation gives up after 3 x max(current PTO, a fresh path's PTO from
     * kInitialRtt), about 3.1 s here: not much sooner (still trying at 2.9 s), and not forever
     * (gone by 6 s). */
    rq_time first = w.first_challenge_to_pref;
    RQ_CHECK(sim_now(r.s) < first + 2900 * RQ_MS);
    RQ_CHECK_ERR(sim_run_until(r.s, first + 2900 * RQ_MS), RQ_OK);
    bool trying = false;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        trying |= c->paths[i].in_use && c->paths[i].preferred && c->paths[i].validating;
    RQ_CHECK(trying);
    RQ_CHECK_ERR(sim_run_until(r.s, first + 6 * RQ_SEC), RQ_OK);
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        RQ_CHECK(!c->paths[i].in_use || !c->paths[i].preferred); /* the probe path is gone */
    /* MIG-8.2.1-02, MIG-9.4-04: challenges into the black hole go no more often than Initials
     * would: at least a PTO of a fresh path (kInitialRtt: 333 + 4 x 166.5 ms) apart, doubling. */
    rq_time sent[8];
    size_t n = 0;
    for (size_t i = 0; i < r.qt.count && n < 8; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S && rq_addr_eq(&p->dst, &SERVER_PREF) &&
            qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_CHALLENGE))
            sent[n++] = p->t;
    }
    RQ_CHECK(n >= 2);
    for (size_t i = 1; i < n; i++)
        RQ_CHECK(sent[i] - sent[i - 1] >= 999 * RQ_MS);
    /* Within 3 PTOs only two fit, so the doubling is checked on the schedule itself: each
     * retransmission waits twice as long as the one before. */
    rq_path probe = c->paths[c->active_path];
    probe.challenges_sent = 0;
    uint8_t data[8];
    rq_time t = sim_now(r.s), prev_gap = 0;
    for (int k = 0; k < 4; k++) {
        RQ_CHECK_ERR(rq_conn_path_new_challenge(c, &probe, data, t), RQ_OK);
        rq_time gap = probe.next_challenge - t;
        RQ_CHECK(gap >= rq_rtt_pto_base(&probe.rtt));
        if (k > 0)
            RQ_CHECK_EQ_U64(gap, 2 * prev_gap);
        prev_gap = gap;
        t += gap;
    }
    printf("  %zu challenges into the black hole, %.3f s .. %.3f s\n", n, (double)sent[0] / 1e9,
           (double)sent[n - 1] / 1e9);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    pa_free(&r);
}

/* A client configured not to follow never sends to the preferred address (RFC 9000 §9.6.1:
 * "MAY"; the application decides). */
static void test_client_may_ignore_preferred_address(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = false};
    RQ_CHECK_ERR(pa_new(&r, 0x963, &o), RQ_OK);
    run_upload(&r, 500000);
    pa_wire w;
    scan(&r, RQ_TIME_NEVER, &w);
    RQ_CHECK_EQ_U64(w.to_pref, 0);
    rq_conn *c = r.client->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    pa_free(&r);
}

/* RFC 9000 §18.2: disable_active_migration does not forbid moving to the preferred address. */
static void test_preferred_address_despite_disable_active_migration(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true, .disable_active_migration = true};
    RQ_CHECK_ERR(pa_new(&r, 0x964, &o), RQ_OK);
    run_upload(&r, 500000);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c->peer_tp.disable_active_migration);
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_PREF));
    pa_free(&r);
}

/* MIG-9.6.3-05, MIG-9.6.1-01 ("exactly one" address): the server offers IPv4 and IPv6; a client
 * on IPv6 validates and moves to the IPv6 one and never sends to the IPv4 one (RFC 9000 §9.6.1,
 * §9.6.3: the family the client uses decides). */
static void test_client_picks_preferred_address_of_its_family_mig_9_6_3_05(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true, .ipv6 = true};
    RQ_CHECK_ERR(pa_new(&r, 0x965, &o), RQ_OK);
    run_upload(&r, 500000);
    rq_conn *c = r.client->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_PREF_6));
    RQ_CHECK(c->paths[c->active_path].validated);
    bool to_v6_pref = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        RQ_CHECK(!rq_addr_eq(&p->dst, &SERVER_PREF)); /* the IPv4 one: never */
        to_v6_pref |= p->dir == QTRACE_C2S && rq_addr_eq(&p->dst, &SERVER_PREF_6);
    }
    RQ_CHECK(to_v6_pref);
    pa_free(&r);
}

static bool confirmed(sim *s, void *ctx)
{
    (void)s;
    pa_run *r = ctx;
    return r->client->closed || (r->client->conn && r->client->conn->handshake_confirmed);
}

/* Connects with an upload of `bytes`; once the handshake is confirmed (the client has just
 * started validating the preferred address from CLIENT_A) the client probes the original
 * server address from CLIENT_B, as a client leaving its first interface would. */
static void move_during_preferred_validation(pa_run *r, uint64_t bytes, uint32_t *probe_id,
                                             rq_time *probe_at)
{
    RQ_CHECK_ERR(sim_host_add_addr(r->client->host, &CLIENT_B, 0), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r->client, r->server_addr, "localhost", bytes), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r->s, confirmed, r, 5 * RQ_SEC), RQ_OK);
    rq_conn *c = r->client->conn;
    RQ_CHECK(c && c->handshake_confirmed);
    bool pref_pending = false;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        pref_pending |= c->paths[i].in_use && c->paths[i].preferred && i != c->active_path;
    RQ_CHECK(pref_pending);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    *probe_at = sim_now(r->s);
    RQ_CHECK_ERR(rq_conn_probe_path(c, *probe_at, &b, probe_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r->s, r->client->host), RQ_OK);
}

/* Challenges the client sent from `local` to `remote` after `after`. */
static size_t challenges(const pa_run *r, const rq_addr *local, const rq_addr *remote,
                         rq_time after)
{
    size_t n = 0;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        n += p->dir == QTRACE_C2S && p->t > after && rq_addr_eq(&p->src, local) &&
             rq_addr_eq(&p->dst, remote) && qtrace_pkt_frame(&r->qt, p, RQ_FT_PATH_CHALLENGE);
    }
    return n;
}

/* MIG-9.6.3-01: a client that leaves its local address before reaching the preferred address
 * validates both server addresses from the new one (and stops probing the preferred address
 * from the old one); MIG-9.6.3-02: the preferred address answers, so the client moves there
 * and abandons the original address's validation. */
static void test_move_during_preferred_validation_mig_9_6_3_01(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true};
    RQ_CHECK_ERR(pa_new(&r, 0x9631, &o), RQ_OK);
    uint32_t probe_id;
    rq_time probe_at;
    move_during_preferred_validation(&r, 1000000, &probe_id, &probe_at);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 2 * RQ_SEC), RQ_OK);
    RQ_CHECK_EQ_U64(r.server->received, 1000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(challenges(&r, &CLIENT_B, &SERVER_ADDR, probe_at - 1) >= 1);
    RQ_CHECK(challenges(&r, &CLIENT_B, &SERVER_PREF, probe_at - 1) >= 1);
    RQ_CHECK_EQ_U64(challenges(&r, &CLIENT_A, &SERVER_PREF, probe_at), 0);
    rq_conn *c = r.client->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.local, &CLIENT_B));
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_PREF));
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        RQ_CHECK(!c->paths[i].in_use || !rq_addr_eq(&c->paths[i].addr.remote, &SERVER_ADDR));
    rq_conn *sc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &CLIENT_B));
    RQ_CHECK(rq_addr_eq(&sc->paths[sc->active_path].addr.local, &SERVER_PREF));
    pa_free(&r);
}

static bool probe_done(sim *s, void *ctx)
{
    (void)s;
    pa_run *r = ctx;
    const rq_conn *c = r->client->conn;
    for (uint32_t i = 0; c && i < RQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && c->paths[i].validated &&
            rq_addr_eq(&c->paths[i].addr.local, &CLIENT_B))
            return true;
    return r->client->closed;
}

/* MIG-9.6.3-02, the other half: the preferred address is a black hole; only the original
 * address validates from the new local address, and the client stays on it from there. */
static void test_move_during_preferred_validation_black_hole_mig_9_6_3_02(void)
{
    pa_run r;
    pa_opts o = {.server_has_pref = false, .client_follows = true};
    RQ_CHECK_ERR(pa_new(&r, 0x9632, &o), RQ_OK);
    uint32_t probe_id;
    rq_time probe_at;
    move_during_preferred_validation(&r, 1000000, &probe_id, &probe_at);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, probe_done, &r, 5 * RQ_SEC), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c->paths[probe_id].validated);
    RQ_CHECK_ERR(rq_conn_migrate(c, sim_now(r.s), probe_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 6 * RQ_SEC), RQ_OK); /* validation ends */
    RQ_CHECK_EQ_U64(r.server->received, 1000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(challenges(&r, &CLIENT_B, &SERVER_PREF, probe_at - 1) >= 1);
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.local, &CLIENT_B));
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    pa_wire w;
    scan(&r, RQ_TIME_NEVER, &w);
    RQ_CHECK(!w.nonprobing_to_pref_early);
    RQ_CHECK(w.client_nonprobing_to_pref == RQ_TIME_NEVER);
    pa_free(&r);
}

/* MIG-21.5.6-01: a server reached over the network that advertises a loopback preferred
 * address is not followed there: the client never sends to it and stays where it was. */
static void test_loopback_preferred_address_ignored_mig_21_5_6_01(void)
{
    static const rq_addr LOOPBACK = {RQ_AF_INET4, 4433, {127, 0, 0, 1}, 0};
    pa_run r;
    pa_opts o = {.server_has_pref = true, .client_follows = true, .pref4 = &LOOPBACK};
    RQ_CHECK_ERR(pa_new(&r, 0x2156, &o), RQ_OK);
    run_upload(&r, 500000);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c->peer_tp.has_preferred_address);
    RQ_CHECK(memcmp(c->peer_tp.preferred_address.ipv4_addr, LOOPBACK.ip, 4) == 0);
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    sim_ledger *l = sim_get_ledger(r.s);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &CLIENT_A, &LOOPBACK).sent_bytes, 0);
    pa_free(&r);
}

/* MIG-9.6.3-03, MIG-9.6.3-04: a NAT with per-remote mapping gives the client's flow to the
 * preferred address another outside port than its handshake flow. The server sees the probe
 * come from a client address it has not validated: it challenges that address from the
 * preferred address (-04), sends it no non-probing packet before the address answered, and
 * stays within 3x of what arrived from it until then (-03); the upload completes there. */
static void test_preferred_flow_through_symmetric_nat_mig_9_6_3_03(void)
{
    static const rq_addr S_ADDR = {RQ_AF_INET4, 443, {198, 51, 100, 2}, 0};
    static const rq_addr S_PREF = {RQ_AF_INET4, 4433, {198, 51, 100, 4}, 0};
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    sim_nat_cfg nc = {.outside = {{RQ_AF_INET4, 0, {192, 0, 2, 1}, 0}},
                      .n_outside = 1,
                      .mapping = SIM_NAT_MAP_PER_REMOTE};
    pa_run r;
    memset(&r, 0, sizeof r);
    sim_nat *nat;
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    RQ_CHECK(cc && sc);
    rq_config_follow_preferred_address(cc, true, RQ_AF_INET4);
    RQ_CHECK_ERR(rq_config_set_preferred_address(sc, &S_PREF, NULL), RQ_OK);
    qtrace_config(&r.qt, cc);
    qtrace_config(&r.qt, sc);
    RQ_CHECK_ERR(sim_new(0x9633, &r.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "client", cc, &CLIENT_A, &r.client), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "server", sc, &S_ADDR, &r.server), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(r.server->host, &S_PREF, 0), RQ_OK);
    RQ_CHECK_ERR(sim_nat_new(r.s, "nat", &nc, &nat), RQ_OK);
    RQ_CHECK_ERR(sim_connect(r.s, sim_host_elem(r.client->host), 0, sim_nat_elem(nat),
                             SIM_NAT_INSIDE, &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(r.s, sim_nat_elem(nat), SIM_NAT_OUTSIDE, sim_host_elem(r.server->host),
                             0, &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(qtrace_attach(&r.qt, r.s), RQ_OK);
    r.server_addr = &S_ADDR;
    run_upload(&r, 1000000);
    sim_nat_binding orig, pref;
    RQ_CHECK(sim_nat_lookup(r.s, nat, &CLIENT_A, &S_ADDR, &orig));
    RQ_CHECK(sim_nat_lookup(r.s, nat, &CLIENT_A, &S_PREF, &pref));
    RQ_CHECK(!rq_addr_eq(&orig.outside, &pref.outside));
    rq_addr a2 = pref.outside; /* the client address the preferred address sees */
    /* When the server learnt that a2 answers: the first PATH_RESPONSE from a2 it received. */
    rq_time validated_at = RQ_TIME_NEVER;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S && rq_addr_eq(&p->dst, &S_PREF) && p->delivered != QTRACE_NEVER &&
            p->delivered < validated_at && qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_RESPONSE))
            validated_at = p->delivered;
    }
    RQ_CHECK(validated_at != RQ_TIME_NEVER);
    bool challenged = false, early_nonprobing = false;
    uint64_t to_a2 = 0, from_a2 = 0;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S && rq_addr_eq(&p->dst, &S_PREF) && p->delivered != QTRACE_NEVER &&
            p->delivered < validated_at)
            from_a2 += p->len;
        if (p->dir != QTRACE_S2C || !rq_addr_eq(&p->dst, &a2))
            continue;
        RQ_CHECK(rq_addr_eq(&p->src, &S_PREF));
        challenged |= qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_CHALLENGE) != NULL;
        if (p->t < validated_at) {
            to_a2 += p->len;
            early_nonprobing |= !qtrace_pkt_only_probing(&r.qt, p);
        }
    }
    RQ_CHECK(challenged);
    RQ_CHECK(!early_nonprobing);
    RQ_CHECK(from_a2 > 0 && to_a2 <= 3 * from_a2);
    rq_conn *svc = r.server->conn;
    RQ_CHECK(rq_addr_eq(&svc->paths[svc->active_path].addr.remote, &a2));
    RQ_CHECK(rq_addr_eq(&svc->paths[svc->active_path].addr.local, &S_PREF));
    RQ_CHECK(svc->paths[svc->active_path].validated);
    pa_free(&r);
}

/* Configuration errors: a client cannot advertise one; the families must match. */
static void test_preferred_address_config_errors(void)
{
    rq_config *cc = rq_config_new(RQ_ROLE_CLIENT), *sc = rq_config_new(RQ_ROLE_SERVER);
    RQ_CHECK(cc && sc);
    RQ_CHECK_ERR(rq_config_set_preferred_address(cc, &SERVER_PREF, NULL), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_config_set_preferred_address(sc, NULL, NULL), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_config_set_preferred_address(sc, NULL, &SERVER_PREF), RQ_ERR_INVALID_ARG);
    rq_config_free(cc);
    rq_config_free(sc);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_client_moves_to_preferred_address_mig_9_6_1_01);
    RQ_RUN(test_newer_packets_at_old_address_dropped_mig_9_6_2_04);
    RQ_RUN(test_unreachable_preferred_address_mig_9_6_1_03);
    RQ_RUN(test_preferred_cid_accepted_on_original_path_mig_9_6_3_06);
    RQ_RUN(test_client_may_ignore_preferred_address);
    RQ_RUN(test_preferred_address_despite_disable_active_migration);
    RQ_RUN(test_client_picks_preferred_address_of_its_family_mig_9_6_3_05);
    RQ_RUN(test_move_during_preferred_validation_mig_9_6_3_01);
    RQ_RUN(test_move_during_preferred_validation_black_hole_mig_9_6_3_02);
    RQ_RUN(test_loopback_preferred_address_ignored_mig_21_5_6_01);
    RQ_RUN(test_preferred_flow_through_symmetric_nat_mig_9_6_3_03);
    RQ_RUN(test_preferred_address_config_errors);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
