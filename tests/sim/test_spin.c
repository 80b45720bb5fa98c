/* The latency spin bit on a live connection (RFC 9000 §17.4), seen as an on-path observer
 * sees it: the bit is not header-protected, so the trace hook below reads it from the first
 * byte of each short-header packet without any keys. During an upload the bit spins — one
 * edge per round trip in each direction — and after the client migrates to a new address the
 * new path starts again at 0 and spins on its own. */
#include "host.h"
#include "link.h"
#include "qnode.h"
#include "rqtest.h"
#include "trace.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/packet.h"

#include <stdlib.h>

static const rq_addr CLIENT_A = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

/* One short-header packet as the observer saw it leave a host. */
typedef struct obs_pkt {
    rq_time t;
    bool recv; /* a server packet's delivery to the client (else a packet sent) */
    bool c2s;
    bool spin;
    rq_addr client; /* the client's end of the path */
    rq_cid dcid;
} obs_pkt;

typedef struct spin_run {
    sim *s;
    sim_qnode *client, *server;
    uint32_t path_id;
    obs_pkt *pkts;
    size_t count, cap;
    bool oom;
} spin_run;

static void observe(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                    const uint8_t *data, size_t len)
{
    (void)t;
    (void)index;
    spin_run *r = ctx;
    bool delivered = e->kind == SIM_EV_RECV && !rq_addr_eq(&e->dst, &SERVER_ADDR);
    if (e->kind != SIM_EV_SEND && !delivered)
        return;
    size_t off = 0;
    while (off < len && (data[off] & RQ_HDR_FORM_LONG)) { /* coalesced long headers first */
        rq_pkt_hdr h;
        if (rq_pkt_parse(data + off, len - off, 8, &h) != 0)
            return;
        off += h.len;
    }
    if (off >= len)
        return;
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 4096;
        obs_pkt *p = realloc(r->pkts, cap * sizeof *p);
        if (!p) {
            r->oom = true;
            return;
        }
        r->pkts = p;
        r->cap = cap;
    }
    obs_pkt *o = &r->pkts[r->count++];
    o->t = e->t;
    o->recv = delivered;
    o->c2s = !rq_addr_eq(&e->src, &SERVER_ADDR);
    o->spin = (data[off] & RQ_HDR_SPIN_BIT) != 0;
    o->client = o->c2s ? e->src : e->dst;
    o->dcid.len = 0;
    if (len - off >= 9) /* both sides use 8-byte CIDs (the default) */
        (void)rq_cid_set(&o->dcid, data + off + 1, 8);
}

/* no_spin: both endpoints configured with disable_spin_bit. */
static int run_new_cfg(spin_run *r, uint64_t seed, bool no_spin)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000, .queue_bytes = 40000};
    rq_config *cc = sim_qnode_client_config(), *scfg = sim_qnode_server_config();
    if (!cc || !scfg)
        return RQ_ERR_NOMEM;
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.disable_spin_bit = no_spin;
    int rc = rq_config_set_transport(cc, &t);
    if (!rc)
        rc = rq_config_set_transport(scfg, &t);
    if (!rc)
        rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_A, &r->client);
    if (!rc)
        rc = sim_host_add_addr(r->client->host, &CLIENT_B, 0);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", scfg, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, NULL, NULL);
    if (!rc)
        sim_trace_set_hook(sim_get_trace(r->s), observe, r);
    return rc;
}

/* Used by the cases that need -DRQ_TEST_HOOKS=ON: unused (not an error) without them. */
__attribute__((unused)) static int run_new(spin_run *r, uint64_t seed)
{
    return run_new_cfg(r, seed, false);
}

static void run_free(spin_run *r)
{
    sim_free(r->s);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
    free(r->pkts);
}

__attribute__((unused)) static bool probe_validated(sim *s, void *ctx)
{
    (void)s;
    spin_run *r = ctx;
    rq_conn *c = r->client->conn;
    return !c || r->client->closed || c->paths[r->path_id].validated;
}

static bool done(sim *s, void *ctx)
{
    (void)s;
    spin_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

/* What one direction of one path showed between two times: packets, edges (value changes)
 * and the median time between consecutive edges. */
typedef struct spin_stats {
    size_t packets, edges;
    bool first_spin;
    rq_time first_t;
    rq_time median_gap, min_gap;
} spin_stats;

static int cmp_time(const void *a, const void *b)
{
    rq_time x = *(const rq_time *)a, y = *(const rq_time *)b;
    return x < y ? -1 : x > y;
}

static spin_stats stats_of(const spin_run *r, bool c2s, const rq_addr *client, rq_time from,
                           rq_time to)
{
    spin_stats st = {0};
    static rq_time gaps[65536];
    size_t ngaps = 0;
    bool last = false;
    rq_time last_edge = 0;
    for (size_t i = 0; i < r->count; i++) {
        const obs_pkt *p = &r->pkts[i];
        if (p->recv || p->c2s != c2s || !rq_addr_eq(&p->client, client) || p->t < from ||
            p->t >= to)
            continue;
        if (st.packets++ == 0) {
            st.first_spin = p->spin;
            st.first_t = p->t;
        } else if (p->spin != last) {
            if (st.edges++ > 0 && ngaps < sizeof gaps / sizeof gaps[0])
                gaps[ngaps++] = p->t - last_edge;
            last_edge = p->t;
        }
        last = p->spin;
    }
    if (ngaps) {
        qsort(gaps, ngaps, sizeof gaps[0], cmp_time);
        st.median_gap = gaps[ngaps / 2];
        st.min_gap = gaps[0];
    }
    return st;
}

static void print_stats(const char *what, const spin_stats *st)
{
    printf("  %-22s %6zu packets, first spin %d, %4zu edges, %.1f ms median, %.1f ms least "
           "between edges\n",
           what, st->packets, st->first_spin, st->edges, (double)st->median_gap / 1e6,
           (double)st->min_gap / 1e6);
}

/* MIG-17.4-01: on a live connection the spin bit (read off the wire without keys) spins, one
 * edge per round trip in each direction, on the first path; the client then migrates to a
 * new address (a new path with a new CID), and the first 1-RTT packets there carry spin 0 in
 * both directions, after which that path spins once per round trip too. */
static void test_spin_live_then_new_path_mig_17_4_01(void)
{
#ifndef RQ_TEST_HOOKS
    printf("skip test_spin_live_then_new_path_mig_17_4_01: needs -DRQ_TEST_HOOKS=ON (spinning is "
           "randomly disabled on 1 in 8 paths otherwise)\n");
#else
    rq_spin_test_force(1); /* whatever the seed: both ends spin on every path */
    spin_run r;
    RQ_CHECK_ERR(run_new(&r, sim_seed_from_env(0x174)), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 12000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 800 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c && c->handshake_confirmed && !r.server->fin_received);
    rq_time rtt_a = 0;
    RQ_CHECK_ERR(rq_conn_path_info(c, c->active_path, NULL, &rtt_a, NULL), RQ_OK);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    rq_time probe_at = sim_now(r.s);
    RQ_CHECK_ERR(rq_conn_probe_path(c, probe_at, &b, &r.path_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, probe_validated, &r, sim_now(r.s) + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(c->paths[r.path_id].validated);
    RQ_CHECK_ERR(rq_conn_migrate(c, sim_now(r.s), r.path_id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    rq_time moved_at = sim_now(r.s);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, sim_now(r.s) + 60 * RQ_SEC), RQ_OK);
    rq_time done_at = sim_now(r.s);
    rq_time rtt_b = 0;
    RQ_CHECK_ERR(rq_conn_path_info(c, c->active_path, NULL, &rtt_b, NULL), RQ_OK);
    RQ_CHECK(!r.oom);
    RQ_CHECK(r.server->fin_received && !r.client->closed && !r.server->closed);
    RQ_CHECK_EQ_U64(r.server->received, 12000000);

    /* Path A from its first 1-RTT packet, and while the upload ran there (from 100 ms: the
     * handshake is over); path B from its first packet (the probe), and after the move. */
    spin_stats a0c = stats_of(&r, true, &CLIENT_A, 0, probe_at);
    spin_stats a0s = stats_of(&r, false, &CLIENT_A, 0, probe_at);
    spin_stats ac = stats_of(&r, true, &CLIENT_A, 100 * RQ_MS, probe_at);
    spin_stats as = stats_of(&r, false, &CLIENT_A, 100 * RQ_MS, probe_at);
    spin_stats bc = stats_of(&r, true, &CLIENT_B, 0, done_at);
    spin_stats bs = stats_of(&r, false, &CLIENT_B, 0, done_at);
    spin_stats mc = stats_of(&r, true, &CLIENT_B, moved_at, done_at);
    spin_stats ms = stats_of(&r, false, &CLIENT_B, moved_at, done_at);
    printf("  smoothed RTT: path A %.1f ms, path B %.1f ms (propagation 20 ms); moved at %.3f s, "
           "done at %.3f s\n",
           (double)rtt_a / 1e6, (double)rtt_b / 1e6, (double)moved_at / 1e9, (double)done_at / 1e9);
    print_stats("path A client->server", &ac);
    print_stats("path A server->client", &as);
    print_stats("path B client->server", &bc);
    print_stats("path B server->client", &bs);
    print_stats("B after the move c->s", &mc);
    print_stats("B after the move s->c", &ms);

    /* Each path starts at 0 in both directions (a new connection's path, then the new one). */
    RQ_CHECK(a0c.packets > 0 && a0s.packets > 0 && bc.packets > 0 && bs.packets > 0);
    RQ_CHECK(!a0c.first_spin && !a0s.first_spin);
    RQ_CHECK(!bc.first_spin && !bs.first_spin);
    /* Both paths spin in both directions: an edge each round trip — never sooner than the
     * propagation round trip (20 ms; 18 allows for timing granularity), and typically within
     * the smoothed RTT (which includes queueing) and a half. */
    const spin_stats *all[6] = {&ac, &as, &mc, &ms, &bc, &bs};
    const rq_time srtt[4] = {rtt_a, rtt_a, rtt_b, rtt_b};
    const rq_time dur[4] = {probe_at - 100 * RQ_MS, probe_at - 100 * RQ_MS, done_at - moved_at,
                            done_at - moved_at};
    for (int i = 0; i < 6; i++)
        RQ_CHECK(all[i]->min_gap >= 18 * RQ_MS); /* also across the move on path B */
    for (int i = 0; i < 4; i++) {
        RQ_CHECK(all[i]->edges >= 10);
        RQ_CHECK(all[i]->edges >= dur[i] / (2 * srtt[i]));
        RQ_CHECK(all[i]->median_gap <= srtt[i] * 3 / 2);
    }
    /* The connections agree: both ends kept separate spin state for the two paths. */
    rq_conn *sc = r.server->conn;
    RQ_CHECK(c->paths[r.path_id].spin.started && !c->paths[r.path_id].spin.disabled);
    RQ_CHECK(sc->paths[sc->active_path].spin.started);
    RQ_CHECK(sc->active_path != 0);
    run_free(&r);
    rq_spin_test_force(0);
#endif
}

/* RFC 9000 §17.4: spinning can be turned off by configuration (disable_spin_bit); such paths
 * send a constant value whatever arrives — no edges in either direction over a whole upload. */
static void test_spin_disabled_is_constant_rfc9000_17_4(void)
{
    spin_run r;
    RQ_CHECK_ERR(run_new_cfg(&r, sim_seed_from_env(0x1742), true), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 2000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->fin_received && !r.oom);
    spin_stats c2s = stats_of(&r, true, &CLIENT_A, 0, sim_now(r.s));
    spin_stats s2c = stats_of(&r, false, &CLIENT_A, 0, sim_now(r.s));
    print_stats("disabled c->s", &c2s);
    print_stats("disabled s->c", &s2c);
    RQ_CHECK(c2s.packets > 100 && s2c.packets > 100);
    RQ_CHECK_EQ_U64(c2s.edges, 0);
    RQ_CHECK_EQ_U64(s2c.edges, 0);
    RQ_CHECK(r.client->conn->paths[0].spin.disabled);
    run_free(&r);
}

/* MIG-17.4-01: the server rotates its CIDs mid-upload (rq_conn_rotate_cids: Retire Prior To
 * above the old ones). On the unchanged path the client's first packet with the new DCID
 * carries spin 0 (its spin value restarted with the CID), and the bit keeps spinning once per
 * round trip afterwards. */
static void test_spin_restarts_on_cid_rotation_mig_17_4_01(void)
{
#ifndef RQ_TEST_HOOKS
    printf("skip test_spin_restarts_on_cid_rotation_mig_17_4_01: needs -DRQ_TEST_HOOKS=ON\n");
#else
    rq_spin_test_force(1);
    spin_run r;
    RQ_CHECK_ERR(run_new(&r, sim_seed_from_env(0x1743)), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 8000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, 600 * RQ_MS), RQ_OK);
    rq_conn *c = r.client->conn, *sc = r.server->conn;
    RQ_CHECK(c && sc && sc->handshake_confirmed && !r.server->fin_received);
    /* Rotate while the server sends spin 0: the client, taking the new CIDs from that packet,
     * would otherwise send its inverse, 1 — so spin 0 below shows the restart. */
    for (int i = 0; i < 100 && sc->paths[sc->active_path].spin.value; i++)
        RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + RQ_MS), RQ_OK);
    RQ_CHECK(!sc->paths[sc->active_path].spin.value);
    rq_cid before = c->dcid;
    uint64_t restarts = c->paths[c->active_path].spin.restarts;
    rq_time rotated_at = sim_now(r.s);
    RQ_CHECK_ERR(rq_conn_rotate_cids(sc, rotated_at), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.server->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, sim_now(r.s) + 60 * RQ_SEC), RQ_OK);
    rq_time done_at = sim_now(r.s);
    RQ_CHECK(r.server->fin_received && !r.oom);
    RQ_CHECK(!rq_cid_eq(&c->dcid, &before));
    RQ_CHECK_EQ_INT(c->active_path, 0);
    RQ_CHECK(c->paths[0].spin.restarts > restarts);
    /* The client's first packet with a DCID other than the one it used before the rotation. */
    size_t first_new = r.count;
    for (size_t i = 0; i < r.count && first_new == r.count; i++)
        if (!r.pkts[i].recv && r.pkts[i].c2s && r.pkts[i].t >= rotated_at &&
            !rq_cid_eq(&r.pkts[i].dcid, &before))
            first_new = i;
    RQ_CHECK(first_new < r.count);
    rq_time switched_at = r.pkts[first_new].t;
    /* The reset shows on the wire when no server packet reached the client between the
     * rotation's first packet and this one: spin 0. Otherwise the client has already set the
     * bit from that packet (the inverse of its bit, as after any reset). */
    size_t arrivals = 0;
    bool first_arrival_seen = false, last_bit = false;
    for (size_t i = 0; i < first_new; i++) {
        const obs_pkt *p = &r.pkts[i];
        if (!p->recv || p->t < rotated_at + 10 * RQ_MS) /* sent before the rotation */
            continue;
        if (first_arrival_seen) {
            arrivals++;
            last_bit = p->spin;
        }
        first_arrival_seen = true;
    }
    printf("  rotation at %.3f s; the client switched DCID at %.3f s with spin %d (%zu server "
           "packets arrived in between)\n",
           (double)rotated_at / 1e9, (double)switched_at / 1e9, r.pkts[first_new].spin, arrivals);
    RQ_CHECK(arrivals ? r.pkts[first_new].spin == !last_bit || !r.pkts[first_new].spin
                      : !r.pkts[first_new].spin);
    /* Before it, the last packet with the old DCID: the reset may have been visible as an edge
     * (1 -> 0) or not (0 -> 0); either way spinning goes on at the RTT afterwards. */
    rq_time rtt = 0;
    RQ_CHECK_ERR(rq_conn_path_info(c, 0, NULL, &rtt, NULL), RQ_OK);
    /* The restart falls at any phase of the round trip, so the first period after it may be
     * short; from one round trip on, the bit spins once per round trip again. */
    spin_stats after = stats_of(&r, true, &CLIENT_A, switched_at + rtt, done_at);
    print_stats("after the rotation c->s", &after);
    RQ_CHECK(after.edges >= 10);
    RQ_CHECK(after.min_gap >= 18 * RQ_MS);
    RQ_CHECK(after.median_gap <= rtt * 3 / 2);
    run_free(&r);
    rq_spin_test_force(0);
#endif
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_spin_live_then_new_path_mig_17_4_01);
    RQ_RUN(test_spin_restarts_on_cid_rotation_mig_17_4_01);
    RQ_RUN(test_spin_disabled_is_constant_rfc9000_17_4);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
