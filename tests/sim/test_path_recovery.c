/* Recovery and congestion control on a new or reset path (RFC 9002 §6.2.2, §6.2.2.1, §7.2,
 * §7.6.2 as RFC 9000 §9.4 applies them to migration), asserted on the endpoints' path state
 * (core/conn.h), the decrypted wire trace (qtrace.h) and the byte ledger (ledger.h):
 *  - a server that follows a NAT rebinding to a new address starts the new path from kInitialRtt
 *    and the initial window, and arms its PTO from them;
 *  - a client that migrates to a path it validated may seed the path's RTT with the challenge
 *    round trip, but that is no RTT sample: min_rtt stays unset until the first ACK sample, and
 *    losses before it start no persistent congestion period;
 *  - a server blocked by the 3x limit on an unvalidated new path arms no PTO and sends nothing
 *    there until the client sends more. */
#include "inject.h"
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
static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
static const rq_addr NEW_PORT = {RQ_AF_INET4, 50007, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

/* ---- the scene: a client (two local addresses) and a server on one pair of links ---- */

typedef struct pr_run {
    sim *s;
    sim_qnode *client, *server;
    sim_link *c2s, *s2c;
    sim_injector *c2s_tap, *s2c_tap;
    qtrace qt;
} pr_run;

static int pr_new(pr_run *r, uint64_t seed, uint64_t upload)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    if (!cc || !sc)
        return RQ_ERR_NOMEM;
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, sc);
    int rc = sim_new(sim_seed_from_env(seed), &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_A, &r->client);
    if (!rc)
        rc = sim_host_add_addr(r->client->host, &CLIENT_B, 0);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", sc, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, &r->c2s, &r->s2c);
    if (!rc)
        rc = sim_injector_new(r->s, "c2s_tap", r->c2s, &r->c2s_tap);
    if (!rc)
        rc = sim_injector_new(r->s, "s2c_tap", r->s2c, &r->s2c_tap);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    if (!rc)
        rc = sim_qnode_connect(r->client, &SERVER_ADDR, "localhost", upload);
    return rc;
}

static void pr_free(pr_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

static bool confirmed(sim *s, void *ctx)
{
    (void)s;
    pr_run *r = ctx;
    rq_conn *c = r->client->conn;
    return (c && c->handshake_confirmed && r->server->conn) || r->client->closed;
}

/* ---- watching one path's controller after every event ---- */

/* Persistent congestion in NewReno (cc_newreno.c, RFC 9002 §B.8) collapses the window and ends
 * the recovery period that the losses of the same batch started; a plain congestion event
 * leaves the controller in recovery (in_recovery stays true until a collapse or a reset). So
 * once a congestion event happened (ssthresh set), in_recovery false means a collapse, even if
 * acknowledgments of the same ACK frame grew the window again right after it. */
typedef struct pc_watch {
    rq_conn *conn;
    uint32_t path;
    rq_time until;
    bool collapsed;
    bool congested; /* a congestion event happened */
    rq_time collapsed_at;
    uint64_t min_cwnd;
} pc_watch;

static bool watch_cc(sim *s, void *ctx)
{
    pc_watch *w = ctx;
    const rq_path *p = &w->conn->paths[w->path];
    if (p->in_use) {
        if (p->cc.ssthresh != UINT64_MAX)
            w->congested = true;
        if (p->cc.cwnd < w->min_cwnd)
            w->min_cwnd = p->cc.cwnd;
        if (p->cc.ssthresh != UINT64_MAX && !p->cc.in_recovery && !w->collapsed) {
            w->collapsed = true;
            w->collapsed_at = sim_now(s);
        }
    }
    return sim_now(s) >= w->until;
}

static int watch_until(pr_run *r, pc_watch *w, rq_time until)
{
    w->until = until;
    int rc = sim_run_until_pred(r->s, watch_cc, w, until + 1);
    return rc == RQ_ERR_AGAIN ? 0 : rc;
}

/* ---- client migration to a validated path ---- */

typedef struct mig {
    pr_run *r;
    uint32_t b; /* the client's new path */
} mig;

static bool b_validated(sim *s, void *ctx)
{
    (void)s;
    mig *m = ctx;
    rq_conn *c = m->r->client->conn;
    return !c || m->r->client->closed || c->paths[m->b].validated;
}

static bool b_sampled(sim *s, void *ctx)
{
    (void)s;
    mig *m = ctx;
    rq_conn *c = m->r->client->conn;
    return !c || m->r->client->closed || c->paths[m->b].rtt.has_sample;
}

/* Connects, uploads, probes CLIENT_B and stops at the event that validated it. With deaf_a,
 * nothing the server sends to CLIENT_A arrives from the probe on (so the server's ACK of the
 * PATH_CHALLENGE packet, which goes there, never gives path B a sample). */
static int probe_b(pr_run *r, mig *m, uint64_t seed, bool deaf_a)
{
    int rc = pr_new(r, seed, 4000000);
    if (!rc)
        rc = sim_run_until_pred(r->s, confirmed, r, 5 * RQ_SEC);
    if (!rc)
        rc = sim_run_until(r->s, sim_now(r->s) + 100 * RQ_MS);
    if (rc)
        return rc;
    m->r = r;
    sim_inj_rule deaf = {.dst = CLIENT_A, .from = sim_now(r->s)};
    if (deaf_a && (rc = sim_injector_add(r->s2c_tap, &deaf, NULL)) != 0)
        return rc;
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    rc = rq_conn_probe_path(r->client->conn, sim_now(r->s), &b, &m->b);
    if (!rc)
        rc = sim_host_wake(r->s, r->client->host);
    if (!rc)
        rc = sim_run_until_pred(r->s, b_validated, m, sim_now(r->s) + 5 * RQ_SEC);
    return rc;
}

/* The send time of the client's packet numbered pn in the Application space, sent from src. */
static bool c2s_sent(const qtrace *qt, uint64_t pn, const rq_addr *src, rq_time *t)
{
    for (size_t i = 0; i < qt->count; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        if (p->dir == QTRACE_C2S && p->type == RQ_PKT_1RTT && p->pn == pn && !p->injected &&
            rq_addr_eq(&p->src, src)) {
            *t = p->t;
            return true;
        }
    }
    return false;
}

/* REC-6.2.2-02 (RFC 9002 §6.2.2): the client validates CLIENT_B with PATH_CHALLENGE and moves
 * there. The challenge round trip is measured (probe_rtt) and seeds the new path's RTT
 * (smoothed_rtt = probe_rtt, rttvar = probe_rtt / 2) but is not an RTT sample: after
 * validation and after the move, min_rtt and latest_rtt are unset and has_sample is false. The
 * first sample comes from an ACK: when it appears, a datagram delivered at that instant carried
 * an ACK whose largest acknowledged is a packet the client sent from CLIENT_B, and min_rtt is
 * that packet's round trip on the wire. */
static void test_client_migrate_challenge_rtt_not_sample_rec_6_2_2_02(void)
{
    pr_run r;
    mig m;
    RQ_CHECK_ERR(probe_b(&r, &m, 0xa1, false), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && !r.client->closed);
    const rq_path *pb = &c->paths[m.b];
    RQ_CHECK(pb->validated);
    rq_time probe_rtt = pb->probe_rtt;
    RQ_CHECK(probe_rtt >= 10 * RQ_MS && probe_rtt < 100 * RQ_MS); /* 2 × 5 ms + serialization */
    /* Validated: the challenge round trip was measured, no sample taken. */
    RQ_CHECK(!pb->rtt.has_sample);
    RQ_CHECK_EQ_U64(pb->rtt.min_rtt, 0);
    RQ_CHECK_EQ_U64(pb->rtt.smoothed_rtt, RQ_K_INITIAL_RTT);
    /* The move: the seed is used, still no sample. */
    rq_time moved_at = sim_now(r.s);
    RQ_CHECK_ERR(rq_conn_migrate(c, moved_at, m.b), RQ_OK);
    RQ_CHECK_EQ_U64(c->active_path, m.b);
    pb = &c->paths[m.b];
    RQ_CHECK_EQ_U64(pb->rtt.smoothed_rtt, probe_rtt);
    RQ_CHECK_EQ_U64(pb->rtt.rttvar, probe_rtt / 2);
    RQ_CHECK_EQ_U64(pb->rtt.min_rtt, 0);
    RQ_CHECK_EQ_U64(pb->rtt.latest_rtt, 0);
    RQ_CHECK(!pb->rtt.has_sample);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, b_sampled, &m, moved_at + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(!r.client->closed);
    pb = &c->paths[m.b];
    RQ_CHECK(pb->rtt.has_sample);
    RQ_CHECK_EQ_U64(pb->rtt.first_sample_time, sim_now(r.s));
    RQ_CHECK_EQ_U64(pb->rtt.min_rtt, pb->rtt.latest_rtt);
    /* The sample's source on the wire. */
    bool from_ack = false;
    for (size_t i = 0; i < r.qt.count && !from_ack; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        const rq_frame *f = p->dir == QTRACE_S2C && p->delivered == sim_now(r.s)
                                ? qtrace_pkt_frame(&r.qt, p, RQ_FT_ACK)
                                : NULL;
        rq_time sent;
        /* The acknowledged packet may be the PATH_CHALLENGE's own (sent from CLIENT_B before
         * the move): an ACK of it is an ordinary sample, unlike the PATH_RESPONSE's timing. */
        if (f && p->space == RQ_PN_SPACE_APPLICATION &&
            c2s_sent(&r.qt, f->ack.largest, &CLIENT_B, &sent))
            from_ack = sim_now(r.s) - sent == pb->rtt.min_rtt;
    }
    RQ_CHECK(from_ack);
    printf("  challenge rtt %.3f ms (seed), first ACK sample %.3f ms at +%.3f ms after the move\n",
           (double)probe_rtt / 1e6, (double)pb->rtt.min_rtt / 1e6,
           (double)(sim_now(r.s) - moved_at) / 1e6);
    pr_free(&r);
}

/* Both directions between the client's address `a` and the server stop for `len` from now. */
static int outage(pr_run *r, const rq_addr *a, rq_time len)
{
    rq_time t = sim_now(r->s);
    sim_inj_rule up = {.src = *a, .from = t, .until = t + len};
    sim_inj_rule down = {.dst = *a, .from = t, .until = t + len};
    int rc = sim_injector_add(r->c2s_tap, &up, NULL);
    return rc ? rc : sim_injector_add(r->s2c_tap, &down, NULL);
}

/* The time span of the client's packets sent from `a` at or after t0 that never arrived. */
static rq_time lost_span(const pr_run *r, const rq_addr *a, rq_time t0)
{
    rq_time first = RQ_TIME_NEVER, last = 0;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_C2S || !rq_addr_eq(&p->src, a) || p->t < t0 ||
            p->delivered != QTRACE_NEVER)
            continue;
        if (p->t < first)
            first = p->t;
        last = p->t;
    }
    return first == RQ_TIME_NEVER ? 0 : last - first;
}

/* REC-7.6.2-01 (RFC 9002 §7.6.2): no persistent congestion before a path's first RTT sample.
 * The client moves its upload to the freshly validated CLIENT_B (new controller, RTT seeded
 * with the challenge round trip, no sample) and the path goes dark both ways for 5 s at that
 * instant: the initial window and the PTO probes are lost, ack-eliciting packets spread over
 * more than the persistent congestion duration the seeded RTT gives, nothing acknowledged
 * between (the server's ACKs to the old address, among them the PATH_CHALLENGE packet's, are
 * lost since the probe, so B never had a sample). When the path comes
 * back, the losses are declared (a congestion event) by the ACK that brings the path's first
 * sample, which postdates them all: the window does not collapse to the minimum.
 * Control: the same outage on the old path, which has samples, collapses its window. */
static void test_no_persistent_congestion_on_new_path_rec_7_6_2_01(void)
{
    pr_run r;
    mig m;
    RQ_CHECK_ERR(probe_b(&r, &m, 0xa2, true), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->paths[m.b].validated);
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(rq_conn_migrate(c, t0, m.b), RQ_OK);
    RQ_CHECK_EQ_U64(c->paths[m.b].cc.cwnd, 12000);
    RQ_CHECK_ERR(outage(&r, &CLIENT_B, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    pc_watch w = {.conn = c, .path = m.b, .min_cwnd = UINT64_MAX};
    RQ_CHECK_ERR(watch_until(&r, &w, t0 + 12 * RQ_SEC), RQ_OK);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(w.congested); /* the losses were declared */
    RQ_CHECK(!w.collapsed);
    RQ_CHECK(c->paths[m.b].rtt.has_sample);
    rq_time first_sample = c->paths[m.b].rtt.first_sample_time;
    RQ_CHECK(first_sample >= t0 + 5 * RQ_SEC);
    rq_rtt seeded;
    rq_rtt_init(&seeded);
    rq_rtt_seed(&seeded, c->paths[m.b].probe_rtt);
    rq_time span = lost_span(&r, &CLIENT_B, t0);
    RQ_CHECK(span > rq_rtt_persistent_congestion_duration(&seeded, 25 * RQ_MS));
    RQ_CHECK(c->paths[m.b].cc.in_recovery);
    RQ_CHECK_EQ_U64(w.min_cwnd, 6000); /* one halving of the initial window, no collapse */
    printf("  new path: lost over %.1f ms, first sample at +%.1f ms, cwnd min %llu\n",
           (double)span / 1e6, (double)(first_sample - t0) / 1e6, (unsigned long long)w.min_cwnd);
    pr_free(&r);

    /* Control: the same outage on a path with samples. */
    RQ_CHECK_ERR(pr_new(&r, 0xa3, 4000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, confirmed, &r, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    c = r.client->conn;
    RQ_CHECK(c && c->paths[c->active_path].rtt.has_sample);
    t0 = sim_now(r.s);
    RQ_CHECK_ERR(outage(&r, &CLIENT_A, 5 * RQ_SEC), RQ_OK);
    pc_watch wa = {.conn = c, .path = c->active_path, .min_cwnd = UINT64_MAX};
    RQ_CHECK_ERR(watch_until(&r, &wa, t0 + 12 * RQ_SEC), RQ_OK);
    RQ_CHECK(!r.client->closed);
    RQ_CHECK(wa.collapsed);
    printf("  control (sampled path): lost over %.1f ms, window collapsed at +%.1f ms\n",
           (double)lost_span(&r, &CLIENT_A, t0) / 1e6, (double)(wa.collapsed_at - t0) / 1e6);
    pr_free(&r);
}

/* ---- the server on an unvalidated new path, at its 3x limit ---- */

typedef struct amp_watch {
    rq_conn *sc;
    const rq_addr *remote;
    rq_time until;
    bool blocked;       /* the server was seen at its limit on the active, unvalidated path */
    rq_time armed_at;   /* when the loss detection timer was first seen armed while blocked */
    rq_time armed_for;  /* ... and its deadline */
    unsigned pto_count; /* pto_count when first blocked */
    bool pto_fired;     /* a PTO fired while blocked */
} amp_watch;

/* After every event: is the server blocked on the path to `remote` (active, unvalidated,
 * 3 × received all sent)? If so, its loss detection timer must be disarmed and no PTO fire. */
static bool watch_amp(sim *s, void *ctx)
{
    amp_watch *w = ctx;
    const rq_path *p = &w->sc->paths[w->sc->active_path];
    if (rq_addr_eq(&p->addr.remote, w->remote) && !p->validated &&
        p->bytes_sent >= 3 * p->bytes_received) {
        if (!w->blocked) {
            w->blocked = true;
            w->pto_count = rq_recovery_pto_count(&w->sc->rec);
        }
        if (rq_recovery_deadline(&w->sc->rec) != RQ_TIME_NEVER && !w->armed_at) {
            w->armed_at = sim_now(s);
            w->armed_for = rq_recovery_deadline(&w->sc->rec);
        }
        if (rq_recovery_pto_count(&w->sc->rec) != w->pto_count)
            w->pto_fired = true;
    }
    return sim_now(s) >= w->until;
}

static uint32_t path_of(const rq_conn *c, const rq_addr *remote)
{
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && rq_addr_eq(&c->paths[i].addr.remote, remote))
            return i;
    return RQ_MAX_PATHS;
}

/* REC-6.2.2.1-01 (RFC 9002 §6.2.2.1, applied to a migrated path): the client's datagrams now
 * come from a new port (a 400-byte non-probing packet; its old address has gone quiet). The
 * server moves there and, the path being unvalidated, may send 3 × 400 = 1200 bytes: its
 * PATH_CHALLENGE datagram, padded to 1200, uses all of it. From then on it is blocked: its loss
 * detection timer stays disarmed (no PTO fires, the backoff does not grow) and nothing goes to
 * the new address for 1.5 s, although the challenge packet is unacknowledged (a PTO would have
 * fired after 1024 ms). When the client sends 400 bytes more, the server sends there again —
 * within 3 × what it received. */
static void test_blocked_server_arms_no_pto_on_new_path_rec_6_2_2_1_01(void)
{
    pr_run r;
    RQ_CHECK_ERR(pr_new(&r, 0xa4, 0), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, confirmed, &r, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 500 * RQ_MS), RQ_OK); /* quiet */
    rq_conn *sc = r.server->conn;
    RQ_CHECK(sc && sc->handshake_confirmed);
    /* The client's old address goes quiet; forged datagrams bypass the tap. */
    sim_inj_rule quiet = {.src = CLIENT_A, .from = sim_now(r.s)};
    RQ_CHECK_ERR(sim_injector_add(r.c2s_tap, &quiet, NULL), RQ_OK);
    const uint8_t ping[] = {0x01};
    rq_time t0 = sim_now(r.s);
    RQ_CHECK_ERR(
        sim_forge_1rtt(r.s, r.c2s, r.client->conn, &NEW_PORT, &SERVER_ADDR, ping, sizeof ping, 400),
        RQ_OK);
    /* Watched after every event for 1.5 s. */
    amp_watch w = {.sc = sc, .remote = &NEW_PORT, .until = t0 + 1500 * RQ_MS};
    RQ_CHECK_EQ_INT(sim_run_until_pred(r.s, watch_amp, &w, w.until + 1), RQ_ERR_AGAIN);
    RQ_CHECK(!r.server->closed);
    uint32_t np = path_of(sc, &NEW_PORT);
    RQ_CHECK(np < RQ_MAX_PATHS);
    RQ_CHECK_EQ_U64(sc->active_path, np);
    const rq_path *p = &sc->paths[np];
    RQ_CHECK(!p->validated);
    RQ_CHECK_EQ_U64(p->bytes_received, 400);
    RQ_CHECK_EQ_U64(p->bytes_sent, 1200); /* 3 × 400 */
    sim_ledger *l = sim_get_ledger(r.s);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &SERVER_ADDR, &NEW_PORT).sent_bytes, 1200);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &SERVER_ADDR, &NEW_PORT).sent_dgrams, 1);
    /* Something ack-eliciting is in flight on the new path, unacknowledged: the challenge. */
    RQ_CHECK(rq_recovery_ack_eliciting_in_flight(&sc->rec));
    RQ_CHECK(w.blocked);
    if (w.armed_at)
        fprintf(stderr, "  PTO armed while blocked: at +%.3f ms, for +%.3f ms\n",
                (double)(w.armed_at - t0) / 1e6, (double)(w.armed_for - t0) / 1e6);
    RQ_CHECK(!w.armed_at);
    RQ_CHECK(!w.pto_fired);
    /* The client sends more: the server may send again, and does. */
    rq_time t1 = sim_now(r.s);
    RQ_CHECK_ERR(
        sim_forge_1rtt(r.s, r.c2s, r.client->conn, &NEW_PORT, &SERVER_ADDR, ping, sizeof ping, 400),
        RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, t1 + 50 * RQ_MS), RQ_OK);
    uint64_t out = sim_ledger_pair(l, &SERVER_ADDR, &NEW_PORT).sent_bytes;
    uint64_t in = sim_ledger_pair(l, &NEW_PORT, &SERVER_ADDR).recv_bytes;
    RQ_CHECK_EQ_U64(in, 800);
    RQ_CHECK(out > 1200);
    RQ_CHECK(out <= 3 * in);
    bool eliciting_after = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *q = &r.qt.pkts[i];
        if (q->dir != QTRACE_S2C || !rq_addr_eq(&q->dst, &NEW_PORT))
            continue;
        RQ_CHECK(q->t <= t0 + 50 * RQ_MS || q->t >= t1); /* nothing while blocked */
        if (q->t >= t1)
            for (size_t f = q->first_frame; f < q->first_frame + q->frame_count; f++)
                eliciting_after |= rq_frame_is_ack_eliciting(r.qt.frames[f].type);
    }
    RQ_CHECK(eliciting_after);
    pr_free(&r);
}

/* ---- a server following a NAT rebinding to a new address ---- */

static const rq_addr INSIDE = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr FAR_SERVER = {RQ_AF_INET4, 443, {198, 51, 100, 2}, 0};

typedef struct nat_run {
    sim *s;
    sim_qnode *client, *server;
    sim_nat *nat;
    qtrace qt;
    rq_addr after;
    uint32_t np;
} nat_run;

static bool server_moved(sim *s, void *ctx)
{
    (void)s;
    nat_run *n = ctx;
    rq_conn *sc = n->server->conn;
    if (!sc || n->server->closed)
        return true;
    return rq_addr_eq(&sc->paths[sc->active_path].addr.remote, &n->after);
}

static bool np_sent(sim *s, void *ctx)
{
    (void)s;
    nat_run *n = ctx;
    return n->server->closed || n->server->conn->paths[n->np].bytes_sent > 0;
}

static bool np_validated(sim *s, void *ctx)
{
    (void)s;
    nat_run *n = ctx;
    return n->server->closed || n->server->conn->paths[n->np].validated;
}

/* REC-6.2.2-01, REC-7.2-01, REC-7.6.2-01 on a reset path (RFC 9000 §9.4: a new address starts
 * RTT and congestion state afresh): the client's NAT moves it to a new outside address during
 * an upload; at the moment the server follows, the new path has no sample (smoothed 333 ms,
 * rttvar 166.5 ms, min_rtt unset) while the old one measured ~10 ms, its window is the initial
 * 12000 bytes in slow start, and the PTO armed for its first ack-eliciting packet (the
 * PATH_CHALLENGE) is 333 + 4 × 166.5 + 25 = 1024 ms after it. The server does not seed the
 * path with the challenge round trip: when the path validates, its RTT is either still the
 * initial one or an ACK sample. No persistent congestion is declared on it until the upload
 * ends. */
static void test_rebind_new_address_fresh_path_rec_6_2_2_01(void)
{
    nat_run n;
    memset(&n, 0, sizeof n);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    sim_nat_cfg nc = {
        .outside = {{RQ_AF_INET4, 0, {192, 0, 2, 1}, 0}, {RQ_AF_INET4, 0, {192, 0, 2, 7}, 0}},
        .n_outside = 2};
    rq_config *cc = sim_qnode_client_config(), *scfg = sim_qnode_server_config();
    RQ_CHECK(cc && scfg);
    qtrace_config(&n.qt, cc);
    qtrace_config(&n.qt, scfg);
    RQ_CHECK_ERR(sim_new(sim_seed_from_env(0xa5), &n.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(n.s, "client", cc, &INSIDE, &n.client), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(n.s, "server", scfg, &FAR_SERVER, &n.server), RQ_OK);
    RQ_CHECK_ERR(sim_nat_new(n.s, "nat", &nc, &n.nat), RQ_OK);
    RQ_CHECK_ERR(sim_connect(n.s, sim_host_elem(n.client->host), 0, sim_nat_elem(n.nat),
                             SIM_NAT_INSIDE, &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(n.s, sim_nat_elem(n.nat), SIM_NAT_OUTSIDE,
                             sim_host_elem(n.server->host), 0, &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(qtrace_attach(&n.qt, n.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(n.client, &FAR_SERVER, "localhost", 2000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(n.s, 300 * RQ_MS), RQ_OK);
    rq_conn *sc = n.server->conn;
    RQ_CHECK(sc && sc->handshake_confirmed);
    const rq_path *old = &sc->paths[sc->active_path];
    RQ_CHECK(old->rtt.has_sample && old->rtt.smoothed_rtt < 50 * RQ_MS);
    unsigned changed = 0;
    RQ_CHECK_ERR(sim_nat_rebind(n.s, n.nat, &INSIDE, true, &changed), RQ_OK);
    sim_nat_binding b;
    RQ_CHECK(sim_nat_lookup(n.s, n.nat, &INSIDE, &FAR_SERVER, &b));
    n.after = b.outside;
    RQ_CHECK_ERR(sim_run_until_pred(n.s, server_moved, &n, sim_now(n.s) + RQ_SEC), RQ_OK);
    RQ_CHECK(!n.server->closed);
    n.np = sc->active_path;
    const rq_path *p = &sc->paths[n.np];
    RQ_CHECK(!rq_addr_same_ip(&p->addr.remote, &old->addr.remote));
    /* REC-6.2.2-01: no sample on the new path, kInitialRtt. */
    RQ_CHECK(!p->rtt.has_sample);
    RQ_CHECK_EQ_U64(p->rtt.smoothed_rtt, 333 * RQ_MS);
    RQ_CHECK_EQ_U64(p->rtt.rttvar, 166500000);
    RQ_CHECK_EQ_U64(p->rtt.min_rtt, 0);
    /* REC-7.2-01: the initial window of a 1200-byte path, slow start; in flight only what
     * the server sent there when it moved (the old path's packets no longer count). */
    RQ_CHECK_EQ_U64(p->max_datagram, 1200);
    RQ_CHECK_EQ_U64(p->cc.max_datagram_size, 1200);
    RQ_CHECK_EQ_U64(p->cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(p->cc.ssthresh, UINT64_MAX);
    RQ_CHECK(!p->cc.in_recovery);
    RQ_CHECK_EQ_U64(p->cc.bytes_in_flight, rq_recovery_path_bytes_in_flight(&sc->rec, n.np));
    RQ_CHECK(p->cc.bytes_in_flight <= p->bytes_sent);
    /* The PTO of the first ack-eliciting packet on the new path. */
    RQ_CHECK_ERR(sim_run_until_pred(n.s, np_sent, &n, sim_now(n.s) + RQ_SEC), RQ_OK);
    const rq_recovery_space *app = &sc->rec.space[RQ_PN_SPACE_APPLICATION];
    RQ_CHECK_EQ_U64(app->last_ack_eliciting_path, n.np);
    RQ_CHECK_EQ_U64(app->last_ack_eliciting_time, sim_now(n.s));
    RQ_CHECK_EQ_U64(rq_recovery_pto_count(&sc->rec), 0);
    bool loss_timer = false;
    for (int i = 0; i < 3; i++)
        loss_timer |= sc->rec.space[i].loss_time != RQ_TIME_NEVER;
    RQ_CHECK(!loss_timer);
    RQ_CHECK_EQ_U64(rq_recovery_deadline(&sc->rec), sim_now(n.s) + 1024 * RQ_MS);
    /* REC-6.2.2-02 on the server: validation does not turn the challenge into a sample. */
    RQ_CHECK_ERR(sim_run_until_pred(n.s, np_validated, &n, sim_now(n.s) + 3 * RQ_SEC), RQ_OK);
    RQ_CHECK(p->validated && p->probe_rtt > 0);
    if (!p->rtt.has_sample) {
        RQ_CHECK_EQ_U64(p->rtt.min_rtt, 0);
        RQ_CHECK_EQ_U64(p->rtt.smoothed_rtt, RQ_K_INITIAL_RTT);
    } else {
        /* The sample came with an ACK delivered at that instant, acknowledging a packet the
         * server sent to the new address. */
        bool from_ack = false;
        for (size_t i = 0; i < n.qt.count && !from_ack; i++) {
            const qtrace_pkt *q = &n.qt.pkts[i];
            const rq_frame *f = q->dir == QTRACE_C2S && q->delivered == p->rtt.first_sample_time
                                    ? qtrace_pkt_frame(&n.qt, q, RQ_FT_ACK)
                                    : NULL;
            for (size_t k = 0; f && k < n.qt.count; k++) {
                const qtrace_pkt *o = &n.qt.pkts[k];
                if (o->dir == QTRACE_S2C && o->type == RQ_PKT_1RTT && o->pn == f->ack.largest &&
                    rq_addr_eq(&o->dst, &n.after))
                    from_ack = true;
            }
        }
        RQ_CHECK(from_ack);
    }
    /* REC-7.6.2-01: nothing collapses the fresh path's window for the rest of the run. */
    pc_watch w = {.conn = sc, .path = n.np, .min_cwnd = UINT64_MAX};
    w.until = sim_now(n.s) + 2 * RQ_SEC;
    RQ_CHECK_EQ_INT(sim_run_until_pred(n.s, watch_cc, &w, w.until + 1), RQ_ERR_AGAIN);
    RQ_CHECK(!w.collapsed);
    RQ_CHECK(n.server->fin_received);
    RQ_CHECK_EQ_U64(n.server->bad_bytes, 0);
    printf("  server path %u: validated, challenge rtt %.3f ms, srtt %.3f ms, min_rtt %.3f ms\n",
           (unsigned)n.np, (double)p->probe_rtt / 1e6, (double)p->rtt.smoothed_rtt / 1e6,
           (double)p->rtt.min_rtt / 1e6);
    sim_free(n.s);
    qtrace_free(&n.qt);
    sim_qnode_free(n.client);
    sim_qnode_free(n.server);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_rebind_new_address_fresh_path_rec_6_2_2_01);
    RQ_RUN(test_client_migrate_challenge_rtt_not_sample_rec_6_2_2_02);
    RQ_RUN(test_blocked_server_arms_no_pto_on_new_path_rec_6_2_2_1_01);
    RQ_RUN(test_no_persistent_congestion_on_new_path_rec_7_6_2_01);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
