/* The migration issue's "Done when" scenarios, each over many seeds, with the transfer stall
 * measured as the issue defines it (stall.h): the longest gap between successive deliveries of
 * at least 1,000 new stream bytes to the receiving application, in virtual time, after the
 * event, divided by the data sender's smoothed RTT just before the event. Every seed must
 * complete a hash-verified transfer and pass the scenario's wire facts (from the decrypted wire,
 * qtrace.h, and the byte ledger); the stall bound, where the issue gives one, must hold at the
 * 95th percentile. One summary line per scenario gives seeds, p50/p95/max stall in RTTs, the
 * smoothed RTT and the virtual time.
 *
 * The network: 40 Mbit/s each way, 30 ms of propagation round trip, no loss unless stated, an
 * unlimited queue; the receiver's flow-control windows are fixed (320 KiB per stream, 640 KiB
 * per connection, about two bandwidth-delay products) so the transfer runs at the link rate
 * without loss and with a bounded queue. In the NAT scenes the 14 ms link is that bottleneck and
 * the 1 ms link beside the NAT runs at 1 Gbit/s: with the NAT next to the server the server's
 * queue is behind the NAT (already translated), next to the client it is in front of it (a
 * rebind loses it). Two-interface scenes: 1 ms access links, a 14 ms link to the server. Per seed,
 * the event falls at a different point of the transfer (250..400 ms, after slow start), and the
 * endpoints' and NAT's random choices differ.
 *
 * Directions: where the client's address changes under it (NAT rebinding, a spoofed copy) the
 * transfer is a download (server → client) — the server's data is what the stale binding, the
 * 3x limit and the spoofed path hold up, as in the interop runner's rebind tests; where the
 * client moves on purpose (its own migration, make or break) it is an upload (client → server),
 * read by the server, the side that did not move. Preferred-address scenarios download.
 *
 * Environment: RQ_TEST_SCALE scales the seed counts (100 x scale, at least 3; the 20 MB case
 * runs 4 x scale, at least 2); RQ_TEST_SEED picks the seed sequence; RQ_SCN_REPLAY=0x<sim seed>
 * runs one seed of every scenario (the summary of a failure prints it) and prints the event's
 * times and the deliveries around the longest gap (with RQ_SCN_WIRE=1 also the decrypted packets,
 * with RQ_SCN_TRACE=1 the sim trace, from RQ_SCN_WIRE_FROM to RQ_SCN_WIRE_TO seconds);
 * RQ_SCN_ONLY=<substring> runs the scenarios whose name contains it; RQ_SCN_SHOW=x lists the
 * seeds whose stall exceeds x RTT.
 *
 * Library issues this suite found, and what became of them:
 *   KNOWN-1  (fixed) A client that moved retired the old path's CID at once and the server
 *            stopped routing it, so packets still in flight on the old path drew Stateless
 *            Resets. Retired CIDs now stay routed for three PTOs (rq_conn_linger_cid).
 *   KNOWN-2  (fixed) Packet-threshold loss detection ran across paths and ACK-of-ACK pruning
 *            dropped late packets of the old path as duplicates; both are per path now.
 *   KNOWN-3  (fixed) A downloading client with nothing outstanding never sent after a rebind;
 *            it now PINGs when the server goes quiet while streams are open.
 *   KNOWN-4  (fixed) Make before break missed its 0.25 RTT bound (p95 0.62): the new path's
 *            fresh initial window left in one burst. Packets are paced now (RFC 9002 §7.7).
 * RQ_SCENARIO_STRICT=1 enforces the bounds marked as known misses.
 */
#include "inject.h"
#include "ledger.h"
#include "link.h"
#include "nat.h"
#include "qnode.h"
#include "qtrace.h"
#include "router.h"
#include "rqtest.h"
#include "stall.h"

#include "core/alloc.h"
#include "core/conn.h"

#include <stdarg.h>
#include <time.h>

/* ---- the network ---- */

#define RATE_BPS      40000000u
#define FAST_BPS      1000000000u
#define STREAM_WINDOW (320u * 1024u)
#define CONN_WINDOW   (640u * 1024u)
#define SCN_BYTES     2000000u /* per transfer, except the 20 MB case */

/* NAT scenes: client - NAT - server. */
static const rq_addr NAT_CLIENT = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr NAT_SERVER = {RQ_AF_INET4, 443, {198, 51, 100, 2}, 0};
/* Two-interface scenes: client (A on interface 0, B on 1) - router - server. */
static const rq_addr IF_A = {RQ_AF_INET4, 50000, {10, 0, 1, 1}, 0};
static const rq_addr IF_B = {RQ_AF_INET4, 50001, {10, 0, 2, 1}, 0};
static const rq_addr IF_SERVER = {RQ_AF_INET4, 443, {198, 51, 100, 2}, 0};
/* Direct scenes: client - server (preferred address, spoofing). */
static const rq_addr D_CLIENT = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr D_SERVER = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};
static const rq_addr D_PREF = {RQ_AF_INET4, 4433, {10, 0, 0, 4}, 0};
static const rq_addr D_CLIENT6 = {RQ_AF_INET6, 50000, {0xfd, 0, [15] = 1}, 0};
static const rq_addr D_SERVER6 = {RQ_AF_INET6, 443, {0xfd, 0, [15] = 2}, 0};
static const rq_addr D_PREF6 = {RQ_AF_INET6, 4433, {0xfd, 0, [15] = 4}, 0};
static const rq_addr HOLE = {RQ_AF_INET4, 4000, {203, 0, 113, 9}, 0};

typedef enum scn_topo { TOPO_NAT, TOPO_TWO_IF, TOPO_DIRECT } scn_topo;

typedef enum scn_event {
    EV_REBIND_PORT,
    EV_REBIND_ADDR,
    EV_MAKE_BEFORE_BREAK,
    EV_BREAK_BEFORE_MAKE,
    EV_PREFERRED,
    EV_SPOOF,
    EV_REPEATED_REBIND,
} scn_event;

typedef struct scn_desc {
    const char *name;
    scn_topo topo;
    scn_event event;
    bool download;        /* else upload */
    bool nat_near_server; /* TOPO_NAT: the long link is the client's */
    uint64_t bytes;
    double loss;                   /* each direction of the server's link */
    bool ipv6;                     /* TOPO_DIRECT: client and handshake address IPv6 */
    bool pref_v4, pref_v6;         /* preferred addresses the server offers */
    bool pref_blackholed;          /* the server does not have them */
    bool alternate_family;         /* odd seeds use IPv6 (both offered: family choice) */
    bool disable_active_migration; /* server, and the client (instrumented) moves anyway */
    double bound;                  /* p95 stall bound in RTTs; 0: none given */
    bool known_miss;               /* the bound is not met today: RQ_SCENARIO_STRICT enforces */
    unsigned base_seeds;           /* 100, or fewer for the 20 MB case */
} scn_desc;

/* One seed's run. */
typedef struct scn_run {
    const scn_desc *d;
    uint64_t seed;
    sim *s;
    scn_node *client, *server;
    scn_node *tx, *rx; /* data sender and receiving application */
    sim_nat *nat;
    sim_router *router;
    sim_link *c2s, *s2c;     /* the client's first link (direct: the only one) */
    sim_link *a_up, *a_down; /* two-interface: interface A's links */
    sim_injector *inj;
    unsigned inj_rule;
    qtrace qt;
    bool ipv6;
    const rq_addr *client_addr, *server_addr;

    /* The event. */
    rq_time ev_at;   /* when it happened (the stall counts from here) */
    rq_time srtt;    /* the data sender's smoothed RTT just before it */
    rq_time move_at; /* client moves: when rq_conn_migrate was called */
    uint32_t probe_id;
    rq_addr before, after; /* NAT: the client's outside address before and after */
    uint32_t ev_path;      /* server: the active path before the event */
    rq_cc cc_before; /* server: the active path's controller, kept up to date until the switch */
    rq_rtt rtt_before;
    bool switched;
    rq_cc cc_switch; /* server: the new active path's controller and RTT right at the switch */
    rq_rtt rtt_switch;
    rq_time switched_at;
    unsigned rebinds;      /* repeated rebinding: how many so far */
    rq_addr bindings[512]; /* repeated rebinding: each new outside address */
    uint64_t spoof_copies; /* spoofing: datagrams the attacker copies */
    bool dam_seen;         /* the client saw disable_active_migration */
    rq_time detect;        /* break before make: how long until the client moves */
    char why[512];         /* why the seed failed */
} scn_run;

static uint64_t mix(uint64_t seed, uint64_t tag)
{
    uint64_t st = seed ^ (tag * 0x9e3779b97f4a7c15ULL);
    return rq_test_rand(&st);
}

static double wall_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(scn_run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fail(scn_run *r, const char *fmt, ...)
{
    if (r->why[0])
        return; /* the first reason wins */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

/* ---- setting up a seed ---- */

static rq_config *make_config(const scn_desc *d, rq_role role)
{
    rq_config *cfg = role == RQ_ROLE_SERVER ? sim_qnode_server_config() : sim_qnode_client_config();
    if (!cfg)
        return NULL;
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.initial_max_stream_data = t.max_stream_window = STREAM_WINDOW;
    t.initial_max_data = t.max_connection_window = CONN_WINDOW;
    if (role == RQ_ROLE_SERVER)
        t.disable_active_migration = d->disable_active_migration;
    int rc = rq_config_set_transport(cfg, &t);
    if (!rc && role == RQ_ROLE_SERVER && (d->pref_v4 || d->pref_v6))
        rc = rq_config_set_preferred_address(cfg, d->pref_v4 ? &D_PREF : NULL,
                                             d->pref_v6 ? &D_PREF6 : NULL);
    if (!rc && role == RQ_ROLE_CLIENT)
        rq_config_follow_preferred_address(cfg, true, RQ_AF_INET4);
    if (rc) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int add_route(sim_router *rt, const uint8_t ip[4], unsigned len, unsigned port)
{
    rq_addr a = {RQ_AF_INET4, 0, {ip[0], ip[1], ip[2], ip[3]}, 0};
    return sim_router_add_route(rt, &a, len, port);
}

static int build_net(scn_run *r)
{
    const scn_desc *d = r->d;
    sim_link_cfg lng = {.delay = 14 * RQ_MS, .rate_bps = RATE_BPS};
    sim_link_cfg shrt = {.delay = 1 * RQ_MS, .rate_bps = RATE_BPS};
    sim_elem *ce = sim_host_elem(r->client->host), *se = sim_host_elem(r->server->host);
    int rc = 0;
    switch (d->topo) {
    case TOPO_NAT: {
        sim_nat_cfg nc = {
            .outside = {{RQ_AF_INET4, 0, {192, 0, 2, 1}, 0}, {RQ_AF_INET4, 0, {192, 0, 2, 7}, 0}},
            .n_outside = 2,
            .ports = SIM_NAT_PORTS_RANDOM};
        /* The long link is the bottleneck; the short one next to the NAT is fast. Near the
         * server, the server's data queues behind the NAT (already translated); near the
         * client it queues in front of it, so a rebind loses the whole window in flight. */
        sim_link_cfg fast = {.delay = 1 * RQ_MS, .rate_bps = FAST_BPS};
        sim_link_cfg client_side = d->nat_near_server ? lng : fast;
        sim_link_cfg server_side = d->nat_near_server ? fast : lng;
        server_side.loss = d->loss;
        rc = sim_nat_new(r->s, "nat", &nc, &r->nat);
        if (!rc)
            rc = sim_connect(r->s, ce, 0, sim_nat_elem(r->nat), SIM_NAT_INSIDE, &client_side,
                             &client_side, &r->c2s, &r->s2c);
        if (!rc)
            rc = sim_connect(r->s, sim_nat_elem(r->nat), SIM_NAT_OUTSIDE, se, 0, &server_side,
                             &server_side, NULL, NULL);
        break;
    }
    case TOPO_TWO_IF: {
        static const uint8_t net_a[4] = {10, 0, 1, 0}, net_b[4] = {10, 0, 2, 0},
                             net_s[4] = {198, 51, 100, 0};
        rc = sim_router_new(r->s, "router", 3, &r->router);
        sim_elem *re = r->router ? sim_router_elem(r->router) : NULL;
        if (!rc)
            rc = sim_host_add_addr(r->client->host, &IF_B, 1);
        if (!rc)
            rc = sim_connect(r->s, ce, 0, re, 0, &shrt, &shrt, &r->a_up, &r->a_down);
        if (!rc)
            rc = sim_connect(r->s, ce, 1, re, 1, &shrt, &shrt, NULL, NULL);
        if (!rc)
            rc = sim_connect(r->s, re, 2, se, 0, &lng, &lng, NULL, NULL);
        if (!rc)
            rc = add_route(r->router, net_a, 24, 0);
        if (!rc)
            rc = add_route(r->router, net_b, 24, 1);
        if (!rc)
            rc = add_route(r->router, net_s, 24, 2);
        r->c2s = r->a_up;
        r->s2c = r->a_down;
        break;
    }
    case TOPO_DIRECT: {
        /* The event (the move to a preferred address) comes at a fixed point of the handshake:
         * the seeds vary the path's delay instead, 12..18 ms each way. */
        rq_time delay = 12 * RQ_MS + mix(r->seed, 5) % (6 * RQ_MS);
        sim_link_cfg direct = {.delay = delay, .rate_bps = RATE_BPS, .loss = d->loss};
        if (!d->pref_blackholed && d->pref_v4)
            rc = sim_host_add_addr(r->server->host, &D_PREF, 0);
        if (!rc && !d->pref_blackholed && d->pref_v6)
            rc = sim_host_add_addr(r->server->host, &D_PREF6, 0);
        if (!rc)
            rc = sim_connect(r->s, ce, 0, se, 0, &direct, &direct, &r->c2s, &r->s2c);
        break;
    }
    }
    return rc;
}

static int scn_setup(scn_run *r, const scn_desc *d, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->seed = seed;
    r->ipv6 = d->ipv6 || (d->alternate_family && (mix(seed, 7) & 1));
    switch (d->topo) {
    case TOPO_NAT:
        r->client_addr = &NAT_CLIENT;
        r->server_addr = &NAT_SERVER;
        break;
    case TOPO_TWO_IF:
        r->client_addr = &IF_A;
        r->server_addr = &IF_SERVER;
        break;
    case TOPO_DIRECT:
        r->client_addr = r->ipv6 ? &D_CLIENT6 : &D_CLIENT;
        r->server_addr = r->ipv6 ? &D_SERVER6 : &D_SERVER;
        break;
    }
    rq_config *cc = make_config(d, RQ_ROLE_CLIENT), *sc = make_config(d, RQ_ROLE_SERVER);
    int rc = cc && sc ? sim_new(seed, &r->s) : RQ_ERR_NOMEM;
    if (rc) {
        rq_config_free(cc);
        rq_config_free(sc);
        return rc;
    }
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, sc);
    rc = scn_node_new(r->s, "client", cc, d->topo == TOPO_TWO_IF ? 2 : 1, r->client_addr,
                      &r->client);
    if (rc) {
        rq_config_free(sc);
        return rc;
    }
    rc = scn_node_new(r->s, "server", sc, 1, r->server_addr, &r->server);
    if (!rc)
        rc = build_net(r);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    if (rc)
        return rc;
    r->tx = d->download ? r->server : r->client;
    r->rx = d->download ? r->client : r->server;
    uint64_t salt = mix(seed, 1);
    scn_serve(r->server, d->download ? d->bytes : 0, salt);
    rc = scn_connect(r->client, r->server_addr, "localhost", d->download ? 0 : d->bytes, salt);
    /* Diagnosis only (KNOWN-3): a client keep-alive, RQ_SCN_KEEPALIVE_MS. */
    const char *ka = getenv("RQ_SCN_KEEPALIVE_MS");
    if (!rc && ka && *ka)
        rq_conn_set_keepalive(r->client->conn, (rq_time)strtoull(ka, NULL, 0) * RQ_MS);
    return rc;
}

static void scn_free(scn_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    scn_node_free(r->client);
    scn_node_free(r->server);
}

/* ---- driving the event ---- */

static bool done(sim *s, void *ctx)
{
    (void)s;
    scn_run *r = ctx;
    return scn_done(r->client, r->server);
}

static rq_time deadline(const scn_run *r)
{
    return sim_now(r->s) + (r->d->bytes > 10000000 ? 900 : 60) * RQ_SEC;
}

/* Runs to the end of the transfer, then `extra` more (validations and retirements finish). */
static int finish(scn_run *r, rq_time extra)
{
    int rc = sim_run_until_pred(r->s, done, r, deadline(r));
    if (rc == RQ_ERR_AGAIN)
        fail(r, "not done by the deadline (%.3f s)", (double)sim_now(r->s) / 1e9);
    if (!rc)
        rc = sim_run_until(r->s, sim_now(r->s) + extra);
    return rc;
}

static rq_time event_time(const scn_run *r)
{
    return 250 * RQ_MS + mix(r->seed, 2) % (150 * RQ_MS);
}

static bool outside_of(scn_run *r, rq_addr *out)
{
    sim_nat_binding b;
    if (!sim_nat_lookup(r->s, r->nat, &NAT_CLIENT, &NAT_SERVER, &b))
        return false;
    *out = b.outside;
    return true;
}

/* The server's active path before the event, kept up to date until it moves. */
static void note_server_path(scn_run *r)
{
    rq_conn *sc = r->server->conn;
    if (!sc)
        return;
    r->ev_path = sc->active_path;
    r->cc_before = sc->paths[sc->active_path].cc;
    r->rtt_before = sc->paths[sc->active_path].rtt;
}

/* The event itself: the sender's smoothed RTT and the server's path first. */
static void mark_event(scn_run *r)
{
    r->ev_at = sim_now(r->s);
    r->srtt = scn_srtt(r->tx);
    note_server_path(r);
}

static int ev_rebind(sim *s, void *ctx)
{
    scn_run *r = ctx;
    mark_event(r);
    if (!outside_of(r, &r->before))
        return sim_fail(s, RQ_ERR_INTERNAL, "no NAT binding at the rebind");
    unsigned changed = 0;
    int rc = sim_nat_rebind(s, r->nat, &NAT_CLIENT, r->d->event == EV_REBIND_ADDR, &changed);
    if (!rc && !outside_of(r, &r->after))
        rc = sim_fail(s, RQ_ERR_INTERNAL, "no NAT binding after the rebind");
    return rc;
}

/* Stops at the server's switch to another path, with that path's controller and RTT right
 * then; until then keeps the old path's state fresh. */
static bool server_switched(sim *s, void *ctx)
{
    scn_run *r = ctx;
    rq_conn *sc = r->server->conn;
    if (done(s, ctx))
        return true;
    if (!r->ev_at || !sc)
        return false;
    if (sc->active_path == r->ev_path) {
        note_server_path(r);
        return false;
    }
    r->switched = true;
    r->switched_at = sim_now(s);
    r->cc_switch = sc->paths[sc->active_path].cc;
    r->rtt_switch = sc->paths[sc->active_path].rtt;
    return true;
}

static int drive_rebind(scn_run *r)
{
    int rc = sim_at(r->s, event_time(r), ev_rebind, r);
    if (!rc)
        rc = sim_run_until_pred(r->s, server_switched, r, deadline(r));
    if (rc == RQ_ERR_AGAIN)
        fail(r, "the server never switched paths");
    if (!rc)
        rc = finish(r, 4 * RQ_SEC);
    return rc;
}

static int ev_repeat_rebind(sim *s, void *ctx)
{
    scn_run *r = ctx;
    if (scn_done(r->client, r->server))
        return 0;
    if (!r->rebinds)
        mark_event(r);
    unsigned changed = 0;
    int rc = sim_nat_rebind(s, r->nat, &NAT_CLIENT, false, &changed);
    if (rc)
        return rc;
    if (r->rebinds < sizeof r->bindings / sizeof r->bindings[0] &&
        !outside_of(r, &r->bindings[r->rebinds]))
        return sim_fail(s, RQ_ERR_INTERNAL, "no NAT binding after the rebind");
    r->rebinds++;
    return sim_at(s, sim_now(s) + 200 * RQ_MS, ev_repeat_rebind, r);
}

static int drive_repeated(scn_run *r)
{
    int rc = sim_at(r->s, event_time(r), ev_repeat_rebind, r);
    if (!rc)
        rc = finish(r, 4 * RQ_SEC);
    return rc;
}

static bool probe_settled(sim *s, void *ctx)
{
    scn_run *r = ctx;
    rq_conn *c = r->client->conn;
    return done(s, ctx) || !c || c->paths[r->probe_id].validated || !c->paths[r->probe_id].in_use;
}

/* The client probes interface B and moves there once it answered (make before break); with
 * disable_active_migration, an instrumented client that ignores it. */
static int drive_make_before_break(scn_run *r)
{
    int rc = sim_run_until(r->s, event_time(r));
    rq_conn *c = r->client->conn;
    if (!rc && (!c || !c->handshake_confirmed))
        return fail(r, "not established at the event"), 0;
    if (rc)
        return rc;
    mark_event(r);
    if (r->d->disable_active_migration) {
        r->dam_seen = c->peer_tp.disable_active_migration;
        rq_path_addr b = {IF_B, IF_SERVER};
        uint32_t id;
        if (rq_conn_probe_path(c, sim_now(r->s), &b, &id) != RQ_ERR_INVALID_ARG)
            return fail(r, "the client probed despite disable_active_migration"), 0;
        c->peer_tp.disable_active_migration = false; /* the misbehaving client */
    }
    rq_path_addr b = {IF_B, IF_SERVER};
    rc = rq_conn_probe_path(c, sim_now(r->s), &b, &r->probe_id);
    if (!rc)
        rc = sim_host_wake(r->s, r->client->host);
    if (!rc)
        rc = sim_run_until_pred(r->s, probe_settled, r, sim_now(r->s) + 10 * RQ_SEC);
    if (rc == RQ_ERR_AGAIN || (!rc && !c->paths[r->probe_id].validated))
        return fail(r, "the probe of interface B did not validate"), 0;
    if (rc)
        return rc;
    r->move_at = sim_now(r->s);
    rc = rq_conn_migrate(c, r->move_at, r->probe_id);
    if (!rc)
        rc = sim_host_wake(r->s, r->client->host);
    if (!rc)
        rc = finish(r, 4 * RQ_SEC);
    return rc;
}

/* Interface A dies; the application learns of it `detect` later and moves to B at once,
 * without waiting for a probe (break before make). */
static int ev_move_now(sim *s, void *ctx)
{
    scn_run *r = ctx;
    rq_conn *c = r->client->conn;
    if (!c)
        return sim_fail(s, RQ_ERR_INTERNAL, "no connection to move");
    rq_path_addr b = {IF_B, IF_SERVER};
    int rc = rq_conn_probe_path(c, sim_now(s), &b, &r->probe_id);
    r->move_at = sim_now(s);
    if (!rc)
        rc = rq_conn_migrate(c, r->move_at, r->probe_id);
    if (!rc)
        rc = sim_host_wake(s, r->client->host);
    return rc;
}

static int drive_break_before_make(scn_run *r)
{
    int rc = sim_run_until(r->s, event_time(r));
    if (rc)
        return rc;
    mark_event(r);
    sim_link_set_up(r->s, r->a_up, false);
    sim_link_set_up(r->s, r->a_down, false);
    r->detect = mix(r->seed, 3) % (200 * RQ_MS);
    rc = sim_at(r->s, sim_now(r->s) + r->detect, ev_move_now, r);
    if (!rc)
        rc = finish(r, 4 * RQ_SEC);
    return rc;
}

static bool preferred_probe_started(sim *s, void *ctx)
{
    scn_run *r = ctx;
    rq_conn *c = r->client->conn;
    if (done(s, ctx))
        return true;
    for (uint32_t i = 0; c && i < RQ_MAX_PATHS; i++)
        if (c->paths[i].in_use && c->paths[i].preferred)
            return true;
    return false;
}

static int drive_preferred(scn_run *r)
{
    int rc = sim_run_until_pred(r->s, preferred_probe_started, r, sim_now(r->s) + 10 * RQ_SEC);
    if (rc == RQ_ERR_AGAIN || (!rc && done(r->s, r)))
        return fail(r, "the client never probed the preferred address"), 0;
    if (rc)
        return rc;
    mark_event(r);
    return finish(r, 5 * RQ_SEC); /* a black-holed preferred address gives up after ~3 s */
}

static int ev_note(sim *s, void *ctx)
{
    (void)s;
    mark_event(ctx);
    return 0;
}

static int drive_spoof(scn_run *r)
{
    rq_time at = event_time(r);
    r->spoof_copies = 1 + mix(r->seed, 4) % 16;
    sim_inj_rule copy = {.action = SIM_INJ_COPY,
                         .from = at,
                         .set_src = true,
                         .new_src = HOLE,
                         .max_hits = r->spoof_copies};
    int rc = sim_injector_new(r->s, "attacker", r->c2s, &r->inj);
    if (!rc)
        rc = sim_injector_add(r->inj, &copy, &r->inj_rule);
    if (!rc)
        rc = sim_at(r->s, at, ev_note, r);
    if (!rc)
        rc = finish(r, 5 * RQ_SEC);
    return rc;
}

static int drive(scn_run *r)
{
    switch (r->d->event) {
    case EV_REBIND_PORT:
    case EV_REBIND_ADDR:
        return drive_rebind(r);
    case EV_MAKE_BEFORE_BREAK:
        return drive_make_before_break(r);
    case EV_BREAK_BEFORE_MAKE:
        return drive_break_before_make(r);
    case EV_PREFERRED:
        return drive_preferred(r);
    case EV_SPOOF:
        return drive_spoof(r);
    case EV_REPEATED_REBIND:
        return drive_repeated(r);
    }
    return RQ_ERR_INTERNAL;
}

/* ---- the wire facts ---- */

static bool has(const scn_run *r, const qtrace_pkt *p, uint64_t type)
{
    return qtrace_pkt_frame(&r->qt, p, type) != NULL;
}

/* A server packet sent at or after t to dst with a PATH_CHALLENGE. */
static bool server_challenged(const scn_run *r, const rq_addr *dst, rq_time t)
{
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir == QTRACE_S2C && p->t >= t && rq_addr_eq(&p->dst, dst) &&
            has(r, p, RQ_FT_PATH_CHALLENGE))
            return true;
    }
    return false;
}

static const rq_path *active(const rq_conn *c)
{
    return &c->paths[c->active_path];
}

static bool server_on(scn_run *r, const rq_addr *remote, const rq_addr *local)
{
    const rq_conn *sc = r->server->conn;
    if (!sc)
        return false;
    const rq_path *p = active(sc);
    return p->validated && (!remote || rq_addr_eq(&p->addr.remote, remote)) &&
           (!local || rq_addr_eq(&p->addr.local, local));
}

/* MIG-9.5-01: the client never sends one DCID from two local addresses (injected copies and
 * long-header packets aside). */
static bool dcids_one_source_each(const scn_run *r)
{
    struct {
        rq_cid dcid;
        rq_addr src;
    } seen[64];
    size_t n = 0;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_C2S || p->type != RQ_PKT_1RTT || p->injected)
            continue;
        size_t k = 0;
        while (k < n && !rq_cid_eq(&seen[k].dcid, &p->dcid))
            k++;
        if (k < n && !rq_addr_same_ip(&seen[k].src, &p->src))
            return false;
        if (k == n && n < sizeof seen / sizeof seen[0]) {
            seen[n].dcid = p->dcid;
            seen[n++].src = p->src;
        }
    }
    return true;
}

static void check_rebind(scn_run *r)
{
    bool addr = r->d->event == EV_REBIND_ADDR;
    if (!r->switched)
        return fail(r, "the server never switched paths");
    if (rq_addr_same_ip(&r->before, &r->after) == addr)
        return fail(r, "the NAT rebind changed the wrong thing");
    uint64_t iw = rq_cc_initial_window(RQ_CC_INITIAL_DATAGRAM_SIZE);
    if (addr) {
        /* MIG-9.4-02: an address change starts the new path's controller and RTT afresh. */
        if (r->rtt_switch.has_sample || r->cc_switch.cwnd != iw ||
            r->cc_switch.ssthresh != UINT64_MAX)
            return fail(r, "CC not reset: cwnd %llu (initial %llu), ssthresh %llu, rtt sample %d",
                        (unsigned long long)r->cc_switch.cwnd, (unsigned long long)iw,
                        (unsigned long long)r->cc_switch.ssthresh, r->rtt_switch.has_sample);
    } else {
        /* MIG-9.4-03: a port-only change keeps them: the same estimator (its first sample
         * long before the event) and a window that is the old one, not a fresh one. */
        if (!r->rtt_switch.has_sample ||
            r->rtt_switch.first_sample_time != r->rtt_before.first_sample_time ||
            r->cc_switch.cwnd <= iw || 2 * r->cc_switch.cwnd < r->cc_before.cwnd)
            return fail(r, "CC not kept: cwnd %llu before, %llu at the switch; rtt sample %d",
                        (unsigned long long)r->cc_before.cwnd,
                        (unsigned long long)r->cc_switch.cwnd, r->rtt_switch.has_sample);
    }
    /* MIG-9.3-02: the server's first packet to the new address carries a PATH_CHALLENGE. */
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_S2C || p->t < r->ev_at || !rq_addr_eq(&p->dst, &r->after))
            continue;
        if (!has(r, p, RQ_FT_PATH_CHALLENGE))
            return fail(r, "the first packet to the new address has no PATH_CHALLENGE");
        break;
    }
    /* MIG-9.3.3-01: both paths challenged: the new address and the old one. */
    if (!server_challenged(r, &r->after, r->ev_at))
        return fail(r, "the new address was not challenged");
    if (!server_challenged(r, &r->before, r->ev_at))
        return fail(r, "the old address was not challenged");
    /* MIG-9.3-01: the server ends on the new address, validated. */
    if (!server_on(r, &r->after, NULL))
        return fail(r, "the server is not on the new address");
}

static void check_repeated(scn_run *r)
{
    if (r->rebinds < 2)
        return fail(r, "only %u rebinds", r->rebinds);
    rq_addr now;
    if (!outside_of(r, &now) || !server_on(r, &now, NULL))
        return fail(r, "the server is not on the last binding");
    /* MIG-9-04: every new binding the client's traffic crossed was challenged (the last one
     * may have come after the last packet). */
    size_t n = r->rebinds < 512 ? r->rebinds : 512;
    for (size_t k = 0; k + 1 < n; k++)
        if (!server_challenged(r, &r->bindings[k], r->ev_at))
            return fail(r, "binding %zu of %u was never challenged", k + 1, r->rebinds);
}

/* MIG-9-03, MIG-5.1.2-01: a client's move must not make the server answer with Stateless
 * Resets (the client would close if it still knew the token), not even for the packets still
 * in flight on the old path once the client retired that path's CID (KNOWN-1, fixed). */
static void check_no_resets(scn_run *r)
{
    if (r->qt.st.resets)
        fail(r, "%llu Stateless Resets on the wire", (unsigned long long)r->qt.st.resets);
}

static void check_make_before_break(scn_run *r)
{
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_C2S || p->type != RQ_PKT_1RTT)
            continue;
        /* MIG-9.1-01: only probing frames from B until the move... */
        if (rq_addr_eq(&p->src, &IF_B) && p->t < r->move_at && !qtrace_pkt_only_probing(&r->qt, p))
            return fail(r, "non-probing packet from B before the move");
        /* MIG-9.2-01: ...and nothing non-probing from A after it. */
        if (rq_addr_eq(&p->src, &IF_A) && p->t > r->move_at && !qtrace_pkt_only_probing(&r->qt, p))
            return fail(r, "non-probing packet from A after the move");
    }
    /* MIG-9.5-01: a fresh DCID for B. */
    if (!dcids_one_source_each(r))
        return fail(r, "one DCID sent from two local addresses");
    /* The server followed and validated B. */
    if (!server_challenged(r, &IF_B, r->ev_at))
        return fail(r, "the server never challenged B");
    if (!server_on(r, &IF_B, NULL))
        return fail(r, "the server is not on B");
    /* MIG-9-03: the instrumented client did see disable_active_migration. */
    if (r->d->disable_active_migration && !r->dam_seen)
        return fail(r, "disable_active_migration not seen");
    check_no_resets(r);
}

static void check_break_before_make(scn_run *r)
{
    rq_conn *c = r->client->conn;
    if (!c || !rq_addr_eq(&active(c)->addr.local, &IF_B))
        return fail(r, "the client is not on B");
    if (!dcids_one_source_each(r))
        return fail(r, "one DCID sent from two local addresses");
    if (!server_on(r, &IF_B, NULL))
        return fail(r, "the server is not on B");
    check_no_resets(r);
}

static void check_preferred(scn_run *r)
{
    const rq_addr *pref = r->ipv6 ? &D_PREF6 : &D_PREF;
    const rq_addr *other = r->ipv6 ? &D_PREF : &D_PREF6;
    rq_time answered = RQ_TIME_NEVER;
    bool challenged = false, server_challenge_from_pref = false;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir == QTRACE_S2C && rq_addr_eq(&p->src, pref)) {
            if (has(r, p, RQ_FT_PATH_RESPONSE) && p->t < answered)
                answered = p->t;
            server_challenge_from_pref |= has(r, p, RQ_FT_PATH_CHALLENGE);
        }
    }
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_C2S)
            continue;
        /* MIG-9.6.1-01, MIG-9.6.3-05: exactly one preferred address, of the client's family. */
        if (rq_addr_eq(&p->dst, other))
            return fail(r, "the client sent to the other family's preferred address");
        if (!rq_addr_eq(&p->dst, pref))
            continue;
        challenged |= has(r, p, RQ_FT_PATH_CHALLENGE);
        /* MIG-9.6.2-01: only probing frames there until it answered. */
        if (p->t <= answered && !qtrace_pkt_only_probing(&r->qt, p))
            return fail(r, "non-probing packet to the preferred address before it answered");
    }
    if (!challenged)
        return fail(r, "the preferred address was never challenged");
    rq_conn *c = r->client->conn;
    if (!c)
        return fail(r, "no client connection");
    if (r->d->pref_blackholed) {
        /* MIG-9.6.1-03: validation fails and the client stays on the original address. */
        if (!rq_addr_eq(&active(c)->addr.remote, r->server_addr))
            return fail(r, "the client left the original address");
        if (!r->client->path_failed)
            return fail(r, "the preferred address never failed validation");
        for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
            if (c->paths[i].in_use && c->paths[i].preferred)
                return fail(r, "the preferred address's path is still in use");
        if (!server_on(r, NULL, r->server_addr))
            return fail(r, "the server left the original address");
        return;
    }
    /* MIG-9.6.1-02: everything goes to the preferred address once it answered; MIG-9.6.2-03:
     * the server challenged the client from there; both ends on it, validated. */
    if (answered == RQ_TIME_NEVER)
        return fail(r, "the preferred address never answered");
    if (!server_challenge_from_pref)
        return fail(r, "the server never challenged from the preferred address");
    if (!rq_addr_eq(&active(c)->addr.remote, pref) || !active(c)->validated)
        return fail(r, "the client is not on the preferred address");
    if (!server_on(r, NULL, pref))
        return fail(r, "the server is not on the preferred address");
}

static void check_spoof(scn_run *r)
{
    if (sim_injector_hits(r->inj, r->inj_rule) != r->spoof_copies)
        return fail(r, "the attacker made %llu copies, not %llu",
                    (unsigned long long)sim_injector_hits(r->inj, r->inj_rule),
                    (unsigned long long)r->spoof_copies);
    /* MIG-8-01, MIG-9.3.1-01: at most 3x what arrived from the spoofed address. */
    sim_ledger *l = sim_get_ledger(r->s);
    uint64_t to_hole = sim_ledger_pair(l, r->server_addr, &HOLE).sent_bytes;
    uint64_t from_hole = sim_ledger_pair(l, &HOLE, r->server_addr).recv_bytes;
    if (!from_hole || to_hole > 3 * from_hole)
        return fail(r, "%llu B to the spoofed address, %llu B from it", (unsigned long long)to_hole,
                    (unsigned long long)from_hole);
    /* MIG-9.3.3-01: if the server moved, it challenged both the spoofed and the genuine path;
     * MIG-9.3.2-01/02: it came back, and its last non-probing packets went to the client. */
    rq_time last_to_hole = 0, last_nonprobing_to_client = 0;
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->dir != QTRACE_S2C)
            continue;
        if (rq_addr_eq(&p->dst, &HOLE))
            last_to_hole = p->t;
        else if (!qtrace_pkt_only_probing(&r->qt, p))
            last_nonprobing_to_client = p->t;
    }
    if (to_hole && !server_challenged(r, &HOLE, r->ev_at))
        return fail(r, "the server moved but never challenged the spoofed address");
    if (to_hole && !server_challenged(r, r->client_addr, r->ev_at))
        return fail(r, "the server moved but never challenged the genuine address");
    if (last_nonprobing_to_client <= last_to_hole)
        return fail(r, "the server did not come back to the genuine address");
    if (!server_on(r, r->client_addr, NULL))
        return fail(r, "the server is not on the genuine address");
}

static void check(scn_run *r)
{
    if (r->qt.st.undecryptable || r->qt.oom)
        return fail(r, "%llu undecryptable packets on the wire%s",
                    (unsigned long long)r->qt.st.undecryptable, r->qt.oom ? " (qtrace OOM)" : "");
    switch (r->d->event) {
    case EV_REBIND_PORT:
    case EV_REBIND_ADDR:
        return check_rebind(r);
    case EV_REPEATED_REBIND:
        return check_repeated(r);
    case EV_MAKE_BEFORE_BREAK:
        return check_make_before_break(r);
    case EV_BREAK_BEFORE_MAKE:
        return check_break_before_make(r);
    case EV_PREFERRED:
        return check_preferred(r);
    case EV_SPOOF:
        return check_spoof(r);
    }
}

/* ---- the seed loop and the summary ---- */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
    return h;
}

static bool strict(void)
{
    const char *s = getenv("RQ_SCENARIO_STRICT");
    return s && *s && strcmp(s, "0") != 0;
}

/* With RQ_SCN_WIRE set: the decrypted packets sent from `from` to `to`, one line each. */
static void print_wire(const scn_run *r, rq_time from, rq_time to)
{
    for (size_t i = 0; i < r->qt.count; i++) {
        const qtrace_pkt *p = &r->qt.pkts[i];
        if (p->t < from || p->t > to)
            continue;
        char a[64], b[64], f[512] = "";
        size_t used = 0;
        for (size_t k = p->first_frame; k < p->first_frame + p->frame_count && used < 400; k++) {
            const rq_frame *fr = &r->qt.frames[k];
            int w = 0;
            if (fr->type >= 0x08 && fr->type <= 0x0f)
                w = snprintf(f + used, sizeof f - used, " STREAM[%llu+%zu]",
                             (unsigned long long)fr->stream.offset, fr->stream.length);
            else if (fr->type == RQ_FT_ACK || fr->type == RQ_FT_ACK_ECN)
                w = snprintf(f + used, sizeof f - used, " ACK[%llu..%llu +%llu]",
                             (unsigned long long)(fr->ack.largest - fr->ack.first_range),
                             (unsigned long long)fr->ack.largest,
                             (unsigned long long)fr->ack.range_count);
            else if (fr->type == RQ_FT_MAX_STREAM_DATA)
                w = snprintf(f + used, sizeof f - used, " MSD[%llu]",
                             (unsigned long long)fr->max_stream_data.max);
            else if (fr->type != 0)
                w = snprintf(f + used, sizeof f - used, " 0x%llx", (unsigned long long)fr->type);
            used += w > 0 ? (size_t)w : 0;
        }
        printf("      %.4f %s %s > %s pn %llu len %u%s (at %.4f)\n", (double)p->t / 1e9,
               p->dir == QTRACE_C2S ? "C" : "S", sim_addr_str(&p->src, a, sizeof a),
               sim_addr_str(&p->dst, b, sizeof b), (unsigned long long)p->pn, p->len, f,
               p->delivered == QTRACE_NEVER ? -1.0 : (double)p->delivered / 1e9);
    }
}

/* With RQ_SCN_REPLAY: the event's times and the deliveries around the longest gap. */
static void print_details(const scn_run *r)
{
    rq_time at = 0, gap = scn_stall(r->rx, r->ev_at, &at);
    printf("    event %.4f s, srtt %.2f ms, move %.4f s, server switch %.4f s; longest gap %.2f ms "
           "from %.4f s; %llu stateless resets on the wire\n",
           (double)r->ev_at / 1e9, (double)r->srtt / 1e6, (double)r->move_at / 1e9,
           (double)r->switched_at / 1e9, (double)gap / 1e6, (double)at / 1e9,
           (unsigned long long)r->qt.st.resets);
    size_t k = 0;
    while (k < r->rx->ndeliveries && r->rx->deliveries[k].t < at)
        k++;
    for (size_t i = k > 2 ? k - 2 : 0; i < r->rx->ndeliveries && i < k + 6; i++)
        printf("      delivery %.4f s: %llu B\n", (double)r->rx->deliveries[i].t / 1e9,
               (unsigned long long)r->rx->deliveries[i].bytes);
    const char *w = getenv("RQ_SCN_WIRE");
    const char *wf = getenv("RQ_SCN_WIRE_FROM"), *wt = getenv("RQ_SCN_WIRE_TO");
    const char *tr = getenv("RQ_SCN_TRACE");
    if (tr && *tr) {
        const sim_trace *t = sim_get_trace(r->s);
        rq_time from = wf ? (rq_time)(strtod(wf, NULL) * 1e9) : at - 5 * RQ_MS;
        rq_time to = wt ? (rq_time)(strtod(wt, NULL) * 1e9) : at + gap;
        char line[256];
        for (size_t i = 0; i < sim_trace_count(t); i++) {
            const sim_trace_entry *e = sim_trace_get(t, i);
            if (e->t >= from && e->t <= to)
                printf("    %s\n", sim_trace_format(t, e, line, sizeof line));
        }
    }
    if (w && *w)
        print_wire(r, wf ? (rq_time)(strtod(wf, NULL) * 1e9) : at - 5 * RQ_MS,
                   wt ? (rq_time)(strtod(wt, NULL) * 1e9) : at + gap);
}

typedef struct scn_result {
    uint64_t seed;
    double stall; /* in RTTs; -1 without an event */
} scn_result;

static void run_scenario(const scn_desc *d)
{
    const char *only = getenv("RQ_SCN_ONLY");
    if (only && *only && !strstr(d->name, only)) {
        printf("  %s: skipped (RQ_SCN_ONLY)\n", d->name);
        return;
    }
    const char *replay = getenv("RQ_SCN_REPLAY");
    unsigned long min = d->base_seeds >= 100 ? 3 : 2;
    unsigned long n = rq_test_iterations(d->base_seeds);
    if (n < min)
        n = min;
    uint64_t state = 0;
    if (replay && *replay)
        n = 1;
    else
        state = rq_test_seed() ^ name_hash(d->name);
    scn_result *res = calloc(n, sizeof *res);
    double *stall = calloc(n, sizeof *stall), *base = calloc(n, sizeof *base);
    double *srtt = calloc(n, sizeof *srtt);
    RQ_CHECK(res && stall && base && srtt);
    unsigned failed = 0;
    size_t measured = 0;
    double wall = wall_seconds(), virt = 0, virt_max = 0;
    uint64_t moved = 0, rebinds = 0;
    for (unsigned long i = 0; i < n; i++) {
        uint64_t seed = replay && *replay ? strtoull(replay, NULL, 0) : rq_test_rand(&state);
        scn_run *r = calloc(1, sizeof *r);
        RQ_CHECK(r);
        int rc = scn_setup(r, d, seed);
        if (!rc)
            rc = drive(r);
        char verify[512] = "";
        if (rc)
            fail(r, "run error %s", rq_err_name(rc));
        if (!r->why[0] && !scn_verified(r->client, r->server, d->download ? 0 : d->bytes,
                                        d->download ? d->bytes : 0, verify, sizeof verify)) {
            fail(r, "transfer not verified: %s", verify);
        }
        if (!r->why[0])
            check(r);
        res[i].seed = seed;
        res[i].stall = -1;
        if (r->srtt && r->ev_at) {
            res[i].stall = (double)scn_stall(r->rx, r->ev_at, NULL) / (double)r->srtt;
            stall[measured] = res[i].stall;
            base[measured] =
                (double)scn_gap_before(r->rx, r->ev_at - 100 * RQ_MS, r->ev_at) / (double)r->srtt;
            srtt[measured] = (double)r->srtt / 1e6;
            measured++;
        }
        if (replay && *replay)
            print_details(r);
        failed += r->why[0] != 0;
        if (r->why[0] && failed <= 3) {
            fprintf(stderr,
                    "  %s: seed 0x%llx FAILED at %.3f s: %s%s%s\n"
                    "    replay: RQ_SCN_ONLY=%s RQ_SCN_REPLAY=0x%llx ./sim_test_scenarios\n",
                    d->name, (unsigned long long)seed, (double)sim_now(r->s) / 1e9, r->why,
                    sim_failure(r->s)[0] ? "\n" : "", sim_failure(r->s), d->name,
                    (unsigned long long)seed);
        }
        if (d->event == EV_SPOOF && r->s)
            moved += sim_ledger_pair(sim_get_ledger(r->s), r->server_addr, &HOLE).sent_bytes > 0;
        rebinds += r->rebinds;
        double v = r->s ? (double)sim_now(r->s) / 1e9 : 0;
        virt += v;
        virt_max = v > virt_max ? v : virt_max;
        scn_free(r);
        free(r);
    }
    double p50 = scn_percentile(stall, measured, 0.5), p95 = scn_percentile(stall, measured, 0.95);
    double mx = scn_percentile(stall, measured, 1.0);
    double b95 = scn_percentile(base, measured, 0.95), rtt50 = scn_percentile(srtt, measured, 0.5);
    char bound[64] = "no bound";
    if (d->bound > 0)
        snprintf(bound, sizeof bound, "bound %.2f %s", d->bound,
                 p95 <= d->bound ? "met" : "MISSED");
    printf("  SUMMARY %s: %lu seeds, %u failed; stall p50 %.2f / p95 %.2f / max %.2f "
           "RTT (%s); "
           "srtt p50 %.1f ms; steady-state gap p95 %.2f RTT; virtual mean %.2f s, max %.2f s; "
           "real %.2f s",
           d->name, n, failed, p50, p95, mx, bound, rtt50, b95, virt / (double)n, virt_max,
           wall_seconds() - wall);
    if (d->event == EV_SPOOF)
        printf("; the server moved to the spoofed address in %llu seeds",
               (unsigned long long)moved);
    if (d->event == EV_REPEATED_REBIND)
        printf("; %.1f rebinds per seed", (double)rebinds / (double)n);
    printf("\n");
    /* RQ_SCN_SHOW=x lists seeds whose stall exceeds x RTT, bound or not. */
    const char *show = getenv("RQ_SCN_SHOW");
    double over = show ? atof(show) : d->bound;
    if ((d->bound > 0 && p95 > d->bound) || show) {
        unsigned shown = 0;
        for (unsigned long i = 0; i < n && shown < 5; i++)
            if (res[i].stall > over) {
                printf("    over the bound: seed 0x%llx, %.2f RTT (RQ_SCN_ONLY=%s "
                       "RQ_SCN_REPLAY=0x%llx)\n",
                       (unsigned long long)res[i].seed, res[i].stall, d->name,
                       (unsigned long long)res[i].seed);
                shown++;
            }
    }
    free(res);
    free(stall);
    free(base);
    free(srtt);
    RQ_CHECK_EQ_INT(failed, 0);
    if (d->bound > 0 && p95 > d->bound) {
        if (d->known_miss && !strict()) {
            printf("    known miss: not enforced (RQ_SCENARIO_STRICT=1 enforces it)\n");
            return;
        }
        RQ_CHECK(p95 <= d->bound);
    }
}

/* ---- the scenarios ---- */

#define SEEDS 100

static const scn_desc NAT_PORT_SERVER_SIDE = {
    .name = "nat-port-rebind-near-server",
    .topo = TOPO_NAT,
    .event = EV_REBIND_PORT,
    .download = true,
    .nat_near_server = true,
    .bytes = SCN_BYTES,
    .bound = 1.25,
    .base_seeds = SEEDS,
};

static const scn_desc NAT_PORT_CLIENT_SIDE = {
    .name = "nat-port-rebind-near-client",
    .topo = TOPO_NAT,
    .event = EV_REBIND_PORT,
    .download = true,
    .bytes = SCN_BYTES,
    .bound = 2.25,
    .base_seeds = SEEDS,
};

static const scn_desc NAT_ADDRESS = {
    .name = "nat-address-rebind",
    .topo = TOPO_NAT,
    .event = EV_REBIND_ADDR,
    .download = true,
    .nat_near_server = true,
    .bytes = SCN_BYTES,
    .base_seeds = SEEDS,
};

static const scn_desc MAKE_BEFORE_BREAK = {
    .name = "make-before-break",
    .topo = TOPO_TWO_IF,
    .event = EV_MAKE_BEFORE_BREAK,
    .bytes = SCN_BYTES,
    .bound = 0.25,

    .base_seeds = SEEDS,
};

static const scn_desc BREAK_BEFORE_MAKE = {
    .name = "break-before-make",
    .topo = TOPO_TWO_IF,
    .event = EV_BREAK_BEFORE_MAKE,
    .bytes = SCN_BYTES,
    .base_seeds = SEEDS,
};

static const scn_desc PREFERRED_V4 = {
    .name = "preferred-ipv4",
    .topo = TOPO_DIRECT,
    .event = EV_PREFERRED,
    .download = true,
    .bytes = SCN_BYTES,
    .pref_v4 = true,
    .base_seeds = SEEDS,
};

static const scn_desc PREFERRED_V6 = {
    .name = "preferred-ipv6",
    .topo = TOPO_DIRECT,
    .event = EV_PREFERRED,
    .download = true,
    .bytes = SCN_BYTES,
    .ipv6 = true,
    .pref_v6 = true,
    .base_seeds = SEEDS,
};

static const scn_desc PREFERRED_BOTH = {
    .name = "preferred-both-families",
    .topo = TOPO_DIRECT,
    .event = EV_PREFERRED,
    .download = true,
    .bytes = SCN_BYTES,
    .pref_v4 = true,
    .pref_v6 = true,
    .alternate_family = true,
    .base_seeds = SEEDS,
};

static const scn_desc PREFERRED_BLACKHOLED = {
    .name = "preferred-blackholed",
    .topo = TOPO_DIRECT,
    .event = EV_PREFERRED,
    .download = true,
    .bytes = SCN_BYTES,
    .pref_v4 = true,
    .pref_blackholed = true,
    .base_seeds = SEEDS,
};

static const scn_desc DISABLE_ACTIVE_MIGRATION = {
    .name = "migrate-despite-disable-active-migration",
    .topo = TOPO_TWO_IF,
    .event = EV_MAKE_BEFORE_BREAK,
    .bytes = SCN_BYTES,
    .disable_active_migration = true,
    .base_seeds = SEEDS,
};

static const scn_desc SPOOF = {
    .name = "spoofed-copies-arrive-first",
    .topo = TOPO_DIRECT,
    .event = EV_SPOOF,
    .download = true,
    .bytes = SCN_BYTES,
    .base_seeds = SEEDS,
};

static const scn_desc REPEATED = {
    .name = "repeated-rebind-200ms-2pct-loss-20MB",
    .topo = TOPO_NAT,
    .event = EV_REPEATED_REBIND,
    .download = true,
    .bytes = 20000000,
    .loss = 0.02,
    .base_seeds = 4,
};

/* MIG-9.3-01 (with MIG-9.3-02, MIG-9.3.3-01, MIG-9.4-03): NAT port rebinding mid-download with
 * the NAT next to the server; CC kept; stall <= 1.25 RTT (the 3x limit until the new path is
 * validated makes about 1 RTT the floor). */
static void test_scn_nat_port_rebind_near_server_mig_9_3_01(void)
{
    run_scenario(&NAT_PORT_SERVER_SIDE);
}

/* MIG-9.3-01: the same with the NAT next to the client: a window in flight is lost at the
 * stale binding; stall <= 2.25 RTT. */
static void test_scn_nat_port_rebind_near_client_mig_9_3_01(void)
{
    run_scenario(&NAT_PORT_CLIENT_SIDE);
}

/* MIG-9.4-02 (with MIG-9.3.3-01): NAT address rebinding mid-download: the new path's controller
 * and RTT start afresh, both the new and the old address are challenged. No bound given. */
static void test_scn_nat_address_rebind_cc_reset_mig_9_4_02(void)
{
    run_scenario(&NAT_ADDRESS);
}

/* MIG-9.5-01 (with MIG-9.1-01, MIG-9.2-01): the client uploads, probes a second interface with
 * the first still up, and moves once it answered: stall <= 0.25 RTT at the server. */
static void test_scn_make_before_break_mig_9_5_01(void)
{
    run_scenario(&MAKE_BEFORE_BREAK);
}

/* MIG-9.2-01: the client's first interface dies mid-upload; 0..200 ms later it moves to the
 * second without probing first; the transfer completes. No bound given. */
static void test_scn_break_before_make_mig_9_2_01(void)
{
    run_scenario(&BREAK_BEFORE_MAKE);
}

/* MIG-9.6.1-01 (with MIG-9.6.1-02, MIG-9.6.2-01, MIG-9.6.2-03): preferred address over IPv4. */
static void test_scn_preferred_ipv4_mig_9_6_1_01(void)
{
    run_scenario(&PREFERRED_V4);
}

/* MIG-9.6.1-02: preferred address over IPv6 (only an IPv6 one offered). */
static void test_scn_preferred_ipv6_mig_9_6_1_02(void)
{
    run_scenario(&PREFERRED_V6);
}

/* MIG-9.6.3-05: both families offered; the client (IPv4 or IPv6 by seed) takes its own. */
static void test_scn_preferred_both_families_mig_9_6_3_05(void)
{
    run_scenario(&PREFERRED_BOTH);
}

/* MIG-9.6.1-03: the preferred address is a black hole: the client stays on the original. */
static void test_scn_preferred_blackholed_mig_9_6_1_03(void)
{
    run_scenario(&PREFERRED_BLACKHOLED);
}

/* MIG-9-03: a client that migrates anyway (make before break) towards a server that sent
 * disable_active_migration is followed: no reset, no close. */
static void test_scn_migrate_despite_disable_active_migration_mig_9_03(void)
{
    run_scenario(&DISABLE_ACTIVE_MIGRATION);
}

/* MIG-9.3.2-01 (with MIG-9.3.2-02, MIG-9.3.3-01, MIG-8-01): an on-path attacker forwards
 * copies of 1..16 of the client's datagrams from a spoofed address, arriving first. */
static void test_scn_spoofed_copies_arrive_first_mig_9_3_2_01(void)
{
    run_scenario(&SPOOF);
}

/* MIG-9-04: a port rebind every 200 ms under 2% loss each way, through a 20 MB download. */
static void test_scn_repeated_rebind_lossy_20mb_mig_9_04(void)
{
    run_scenario(&REPEATED);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_scn_nat_port_rebind_near_server_mig_9_3_01);
    RQ_RUN(test_scn_nat_port_rebind_near_client_mig_9_3_01);
    RQ_RUN(test_scn_nat_address_rebind_cc_reset_mig_9_4_02);
    RQ_RUN(test_scn_make_before_break_mig_9_5_01);
    RQ_RUN(test_scn_break_before_make_mig_9_2_01);
    RQ_RUN(test_scn_preferred_ipv4_mig_9_6_1_01);
    RQ_RUN(test_scn_preferred_ipv6_mig_9_6_1_02);
    RQ_RUN(test_scn_preferred_both_families_mig_9_6_3_05);
    RQ_RUN(test_scn_preferred_blackholed_mig_9_6_1_03);
    RQ_RUN(test_scn_migrate_despite_disable_active_migration_mig_9_03);
    RQ_RUN(test_scn_spoofed_copies_arrive_first_mig_9_3_2_01);
    RQ_RUN(test_scn_repeated_rebind_lossy_20mb_mig_9_04);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
