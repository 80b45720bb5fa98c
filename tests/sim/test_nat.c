/* NAT boxes (bindings, translation, filtering, rebinding, expiry, port forwarding), routers
 * and host addresses. */
#include "core/alloc.h"
#include "host.h"
#include "inject.h"
#include "ledger.h"
#include "link.h"
#include "nat.h"
#include "router.h"
#include "rqtest.h"
#include "sim.h"
#include "snode.h"
#include "trace.h"

static const rq_path_addr c2s = {{RQ_AF_INET4, 5000, {10, 0, 0, 2}, 0},
                                 {RQ_AF_INET4, 443, {192, 0, 2, 1}, 0}};

/* client 10.0.0.2 —10 ms— NAT (198.51.100.7[, .8]) —10 ms— server 192.0.2.1 (+ .2), echoing */
typedef struct natnet {
    sim *s;
    sim_snode *c, *sv;
    sim_host *ch, *sh;
    sim_nat *nat;
    sim_link *s2n; /* server → NAT: where an off-path sender's datagrams are injected */
} natnet;

static int natnet_new(natnet *n, const sim_nat_cfg *cfg)
{
    sim_link_cfg d = {.delay = 10 * RQ_MS};
    rq_addr s2 = rq_addr_v4(192, 0, 2, 2, 0);
    int rc = sim_new(1, &n->s);
    if (!rc)
        rc = sim_snode_new(n->s, "client", 1, &n->c, &n->ch);
    if (!rc)
        rc = sim_snode_new(n->s, "server", 1, &n->sv, &n->sh);
    if (!rc)
        rc = sim_nat_new(n->s, "nat", cfg, &n->nat);
    if (!rc)
        rc = sim_host_add_addr(n->ch, &c2s.local, 0);
    if (!rc)
        rc = sim_host_add_addr(n->sh, &c2s.remote, 0);
    if (!rc)
        rc = sim_host_add_addr(n->sh, &s2, 0);
    if (!rc)
        rc = sim_connect(n->s, sim_host_elem(n->ch), 0, sim_nat_elem(n->nat), SIM_NAT_INSIDE, &d,
                         &d, NULL, NULL);
    if (!rc)
        rc = sim_connect(n->s, sim_nat_elem(n->nat), SIM_NAT_OUTSIDE, sim_host_elem(n->sh), 0, &d,
                         &d, NULL, &n->s2n);
    sim_snode_echo(n->sv, true, 0, 0);
    return rc;
}

static sim_nat_cfg home_nat(void)
{
    sim_nat_cfg c = {.outside = {rq_addr_v4(198, 51, 100, 7, 0), rq_addr_v4(198, 51, 100, 8, 0)},
                     .n_outside = 2};
    return c;
}

/* Outbound traffic creates a binding and leaves with the outside address as its source; the
 * reply is translated back to the inside host. */
static void test_nat_outbound_binds_and_reply_translates_back(void)
{
    natnet n;
    sim_nat_cfg cfg = home_nat();
    RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 0, 1, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    rq_addr outside = rq_addr_v4(198, 51, 100, 7, 40000);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 1);
    const sim_snode_rx *at_server = sim_snode_rx_get(n.sv, 0);
    RQ_CHECK(rq_addr_eq(&at_server->path.remote, &outside));
    RQ_CHECK(rq_addr_eq(&at_server->path.local, &c2s.remote));
    RQ_CHECK_EQ_U64(at_server->t, 20 * RQ_MS);
    sim_nat_binding b;
    RQ_CHECK(sim_nat_lookup(n.s, n.nat, &c2s.local, &c2s.remote, &b));
    RQ_CHECK(rq_addr_eq(&b.outside, &outside));
    RQ_CHECK_EQ_INT(sim_nat_binding_count(n.s, n.nat), 1);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 1);
    const sim_snode_rx *at_client = sim_snode_rx_get(n.c, 0);
    RQ_CHECK(rq_addr_eq(&at_client->path.remote, &c2s.remote));
    RQ_CHECK(rq_addr_eq(&at_client->path.local, &c2s.local));
    RQ_CHECK_EQ_U64(at_client->t, 40 * RQ_MS);
    RQ_CHECK_EQ_U64(sim_trace_kind_count(sim_get_trace(n.s), SIM_EV_NAT), 2);
    sim_free(n.s);
}

/* Inbound datagrams without a binding — from a stranger, or from the server to another port —
 * are dropped (address- and port-dependent filtering). */
static void test_nat_drops_unsolicited_inbound(void)
{
    natnet n;
    sim_nat_cfg cfg = home_nat();
    RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 0, 1, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    rq_addr stranger = rq_addr_v4(203, 0, 113, 5, 999), bound = rq_addr_v4(198, 51, 100, 7, 40000);
    rq_addr other_port = rq_addr_v4(198, 51, 100, 7, 40001);
    rq_addr server_other = c2s.remote;
    server_other.port = 444;
    RQ_CHECK_ERR(sim_inject(n.s, n.s2n, sim_now(n.s), &stranger, &bound, "x", 1, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_inject(n.s, n.s2n, sim_now(n.s), &c2s.remote, &other_port, "x", 1, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_inject(n.s, n.s2n, sim_now(n.s), &server_other, &bound, "x", 1, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 1); /* only the echo */
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_NAT_NO_BINDING), 3);
    sim_free(n.s);
}

static int do_rebind(sim *s, void *ctx)
{
    natnet *n = ctx;
    unsigned changed = 0;
    int rc = sim_nat_rebind(s, n->nat, &c2s.local, false, &changed);
    return rc ? rc : (changed == 1 ? 0 : RQ_ERR_INTERNAL);
}

static int do_rebind_addr(sim *s, void *ctx)
{
    natnet *n = ctx;
    return sim_nat_rebind(s, n->nat, &c2s.local, true, NULL);
}

/* A rebind gives the client a new outside port: the echo already on its way to the old
 * binding is dropped (nat_stale), and the client's next datagram reaches the server from the
 * new port — the interop runner's rebind-port scenario. */
static void test_nat_rebind_changes_port_and_drops_stale(void)
{
    natnet n;
    sim_nat_cfg cfg = home_nat();
    RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 40 * RQ_MS, 2, 100), RQ_OK);
    RQ_CHECK_ERR(sim_at(n.s, 25 * RQ_MS, do_rebind, &n), RQ_OK); /* echo 1 reaches the NAT at 30 */
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 2);
    rq_addr old_out = rq_addr_v4(198, 51, 100, 7, 40000),
            new_out = rq_addr_v4(198, 51, 100, 7, 40001);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(n.sv, 0)->path.remote, &old_out));
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(n.sv, 1)->path.remote, &new_out));
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 1);
    RQ_CHECK_EQ_U64(sim_snode_rx_get(n.c, 0)->seq, 2);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_NAT_STALE), 1);
    RQ_CHECK_EQ_INT(sim_nat_binding_count(n.s, n.nat), 1);
    sim_free(n.s);
}

/* A rebind with a new address moves the client to the NAT's next outside IP (rebind-addr). */
static void test_nat_rebind_changes_address(void)
{
    natnet n;
    sim_nat_cfg cfg = home_nat();
    RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 40 * RQ_MS, 2, 100), RQ_OK);
    RQ_CHECK_ERR(sim_at(n.s, 25 * RQ_MS, do_rebind_addr, &n), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    rq_addr moved = rq_addr_v4(198, 51, 100, 8, 40001);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(n.sv, 1)->path.remote, &moved));
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_NAT_STALE), 1);
    sim_nat_cfg one = {.outside = {rq_addr_v4(198, 51, 100, 7, 0)}, .n_outside = 1};
    sim_nat *lone;
    RQ_CHECK_ERR(sim_nat_new(n.s, "lone", &one, &lone), RQ_OK);
    RQ_CHECK_ERR(sim_nat_rebind(n.s, lone, &c2s.local, true, NULL), RQ_ERR_INVALID_ARG);
    sim_free(n.s);
}

/* A binding idle for its timeout disappears: the late reply is dropped, and the client's next
 * datagram gets a new outside port (a rebinding the client did not ask for). */
static void test_nat_binding_times_out(void)
{
    natnet n;
    sim_nat_cfg cfg = home_nat();
    cfg.timeout = 30 * RQ_SEC;
    RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
    sim_snode_echo(n.sv, true, 31 * RQ_SEC, 0); /* the server answers after 31 s */
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 0, 1, 100), RQ_OK);
    /* the binding was made when the datagram reached the NAT, at 10 ms */
    RQ_CHECK_ERR(sim_run_until(n.s, 30 * RQ_SEC + 10 * RQ_MS - 1), RQ_OK);
    RQ_CHECK_EQ_INT(sim_nat_binding_count(n.s, n.nat), 1);
    RQ_CHECK_ERR(sim_run_until(n.s, 30 * RQ_SEC + 10 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_INT(sim_nat_binding_count(n.s, n.nat), 0);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 0);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(n.s), SIM_DROP_NAT_NO_BINDING), 1);
    sim_snode_echo(n.sv, true, 0, 0);
    RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, sim_now(n.s), 0, 1, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
    rq_addr new_out = rq_addr_v4(198, 51, 100, 7, 40001);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(n.sv, 1)->path.remote, &new_out));
    RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 1);
    sim_free(n.s);
}

/* Endpoint-independent mapping reuses the outside port for a second remote; per-remote
 * mapping gives each remote its own port. */
static void test_nat_mapping_endpoint_independent_vs_per_remote(void)
{
    for (int per_remote = 0; per_remote < 2; per_remote++) {
        natnet n;
        sim_nat_cfg cfg = home_nat();
        cfg.mapping = per_remote ? SIM_NAT_MAP_PER_REMOTE : SIM_NAT_MAP_ENDPOINT_INDEPENDENT;
        RQ_CHECK_ERR(natnet_new(&n, &cfg), RQ_OK);
        rq_path_addr second = c2s;
        second.remote = rq_addr_v4(192, 0, 2, 2, 443);
        RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &c2s, 0, 0, 1, 100), RQ_OK);
        RQ_CHECK_ERR(sim_snode_send_paced(n.s, n.c, &second, RQ_MS, 0, 1, 100), RQ_OK);
        RQ_CHECK_ERR(sim_run_until_idle(n.s), RQ_OK);
        RQ_CHECK_EQ_INT(sim_snode_rx_count(n.sv), 2);
        RQ_CHECK_EQ_INT(sim_snode_rx_get(n.sv, 0)->path.remote.port, 40000);
        RQ_CHECK_EQ_INT(sim_snode_rx_get(n.sv, 1)->path.remote.port, per_remote ? 40001 : 40000);
        RQ_CHECK_EQ_INT(sim_snode_rx_count(n.c), 2);
        RQ_CHECK_EQ_INT(sim_nat_binding_count(n.s, n.nat), 2);
        sim_free(n.s);
    }
}

/* A NAT next to the server: the public address is forwarded to the private server, unsolicited
 * traffic is allowed in, and replies leave with the public address as their source. Behind a
 * client NAT too (double NAT), both translations apply. */
static void test_nat_next_to_server_forwards(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
    sim_snode *c, *sv;
    sim_host *ch, *sh;
    sim_nat *cnat, *snat;
    rq_addr pub = rq_addr_v4(203, 0, 113, 1, 443), priv = rq_addr_v4(10, 1, 0, 2, 443);
    sim_nat_cfg ccfg = home_nat();
    sim_nat_cfg scfg = {.outside = {pub}, .n_outside = 1};
    RQ_CHECK_ERR(sim_snode_new(s, "client", 1, &c, &ch), RQ_OK);
    RQ_CHECK_ERR(sim_snode_new(s, "server", 1, &sv, &sh), RQ_OK);
    RQ_CHECK_ERR(sim_nat_new(s, "cnat", &ccfg, &cnat), RQ_OK);
    RQ_CHECK_ERR(sim_nat_new(s, "snat", &scfg, &snat), RQ_OK);
    RQ_CHECK_ERR(sim_nat_add_forward(snat, &pub, &priv), RQ_OK);
    RQ_CHECK_ERR(sim_nat_add_forward(snat, &pub, &priv), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(sim_host_add_addr(ch, &c2s.local, 0), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(sh, &priv, 0), RQ_OK);
    sim_link_cfg d = {.delay = 5 * RQ_MS};
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(ch), 0, sim_nat_elem(cnat), SIM_NAT_INSIDE, &d, &d,
                             NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_nat_elem(cnat), SIM_NAT_OUTSIDE, sim_nat_elem(snat),
                             SIM_NAT_OUTSIDE, &d, &d, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_nat_elem(snat), SIM_NAT_INSIDE, sim_host_elem(sh), 0, &d, &d,
                             NULL, NULL),
                 RQ_OK);
    sim_snode_echo(sv, true, 0, 0);
    rq_path_addr to_pub = {c2s.local, pub};
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &to_pub, 0, 0, 1, 100), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(sv), 1);
    rq_addr client_pub = rq_addr_v4(198, 51, 100, 7, 40000);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(sv, 0)->path.local, &priv));
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(sv, 0)->path.remote, &client_pub));
    RQ_CHECK_EQ_INT(sim_snode_rx_count(c), 1);
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(c, 0)->path.remote, &pub));
    RQ_CHECK(rq_addr_eq(&sim_snode_rx_get(c, 0)->path.local, &c2s.local));
    RQ_CHECK_EQ_U64(sim_snode_rx_get(c, 0)->t, 30 * RQ_MS);
    sim_free(s);
}

/* A router forwards by longest prefix (IPv4 and IPv6) and drops what no route covers. */
static void test_router_longest_prefix_match(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
    sim_router *r;
    sim_snode *src, *dst[3];
    sim_host *hsrc, *hdst[3];
    RQ_CHECK_ERR(sim_router_new(s, "r", 4, &r), RQ_OK);
    RQ_CHECK_ERR(sim_snode_new(s, "src", 1, &src, &hsrc), RQ_OK);
    rq_addr src_ip = rq_addr_v4(10, 9, 9, 9, 0);
    RQ_CHECK_ERR(sim_host_add_addr(hsrc, &src_ip, 0), RQ_OK);
    RQ_CHECK_ERR(
        sim_connect(s, sim_host_elem(hsrc), 0, sim_router_elem(r), 3, NULL, NULL, NULL, NULL),
        RQ_OK);
    static const uint16_t v6[8] = {0x2001, 0xdb8, 0, 0, 0, 0, 0, 1};
    rq_addr ips[3] = {rq_addr_v4(198, 51, 100, 1, 0), rq_addr_v4(192, 0, 2, 1, 0),
                      rq_addr_v4(192, 0, 2, 200, 0)};
    for (int i = 0; i < 3; i++) {
        char name[8] = {'d', (char)('0' + i), 0};
        RQ_CHECK_ERR(sim_snode_new(s, name, 1, &dst[i], &hdst[i]), RQ_OK);
        RQ_CHECK_ERR(sim_host_add_addr(hdst[i], &ips[i], 0), RQ_OK);
        RQ_CHECK_ERR(sim_connect(s, sim_router_elem(r), (unsigned)i, sim_host_elem(hdst[i]), 0,
                                 NULL, NULL, NULL, NULL),
                     RQ_OK);
    }
    rq_addr v6a = sim_addr_v6(v6, 0);
    RQ_CHECK_ERR(sim_host_add_addr(hdst[2], &v6a, 0), RQ_OK);
    rq_addr any = rq_addr_v4(0, 0, 0, 0, 0), net = rq_addr_v4(192, 0, 2, 0, 0),
            upper = rq_addr_v4(192, 0, 2, 128, 0);
    RQ_CHECK_ERR(sim_router_add_route(r, &any, 0, 0), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &net, 24, 1), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &upper, 25, 2), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &v6a, 64, 2), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &any, 33, 0), RQ_ERR_INVALID_ARG);
    const rq_addr targets[5] = {ips[0], ips[1], ips[2], sim_addr_v6(v6, 0),
                                sim_addr_v6((const uint16_t[8]){0x2001, 0xdb9}, 0)};
    for (int i = 0; i < 5; i++) {
        rq_path_addr p = {src_ip, targets[i]};
        p.local.port = 1;
        p.remote.port = 2;
        RQ_CHECK_ERR(sim_snode_send_paced(s, src, &p, 0, 0, 1, 16), RQ_OK);
    }
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(dst[0]), 1);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(dst[1]), 1);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(dst[2]), 2);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(s), SIM_DROP_NO_ROUTE), 1);
    sim_free(s);
}

/* A host with two interfaces sends each datagram out of the interface holding its source
 * address; once an address is removed, nothing leaves from it or is delivered to it. */
static void test_host_interfaces_and_address_removal(void)
{
    sim *s = NULL;
    RQ_CHECK_ERR(sim_new(1, &s), RQ_OK);
    sim_snode *c, *sv;
    sim_host *ch, *sh;
    sim_router *r;
    rq_addr wifi = rq_addr_v4(10, 0, 0, 2, 0), cell = rq_addr_v4(100, 64, 0, 2, 0);
    RQ_CHECK_ERR(sim_snode_new(s, "client", 2, &c, &ch), RQ_OK);
    RQ_CHECK_ERR(sim_snode_new(s, "server", 1, &sv, &sh), RQ_OK);
    RQ_CHECK_ERR(sim_router_new(s, "r", 3, &r), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ch, &wifi, 0), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ch, &cell, 1), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(ch, &cell, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(sim_host_add_addr(sh, &c2s.remote, 0), RQ_OK);
    sim_link *up_wifi, *up_cell;
    RQ_CHECK_ERR(
        sim_connect(s, sim_host_elem(ch), 0, sim_router_elem(r), 0, NULL, NULL, &up_wifi, NULL),
        RQ_OK);
    RQ_CHECK_ERR(
        sim_connect(s, sim_host_elem(ch), 1, sim_router_elem(r), 1, NULL, NULL, &up_cell, NULL),
        RQ_OK);
    RQ_CHECK_ERR(
        sim_connect(s, sim_router_elem(r), 2, sim_host_elem(sh), 0, NULL, NULL, NULL, NULL), RQ_OK);
    rq_addr n10 = rq_addr_v4(10, 0, 0, 0, 0), n100 = rq_addr_v4(100, 64, 0, 0, 0);
    RQ_CHECK_ERR(sim_router_add_route(r, &n10, 8, 0), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &n100, 10, 1), RQ_OK);
    RQ_CHECK_ERR(sim_router_add_route(r, &c2s.remote, 32, 2), RQ_OK);
    sim_snode_echo(sv, true, 0, 0);
    rq_path_addr from_wifi = {wifi, c2s.remote}, from_cell = {cell, c2s.remote};
    from_wifi.local.port = from_cell.local.port = 5000;
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &from_wifi, 0, 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &from_cell, 0, 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    RQ_CHECK_EQ_U64(sim_link_get_stats(up_wifi)->delivered, 1);
    RQ_CHECK_EQ_U64(sim_link_get_stats(up_cell)->delivered, 1);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(c), 2);
    /* the temporary address expires while a reply is on its way */
    sim_snode_echo(sv, true, 10 * RQ_MS, 0);
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &from_wifi, sim_now(s), 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(s, sim_now(s) + RQ_MS), RQ_OK);
    RQ_CHECK_ERR(sim_host_remove_addr(ch, &wifi), RQ_OK);
    RQ_CHECK(!sim_host_has_addr(ch, &wifi));
    RQ_CHECK_ERR(sim_snode_send_paced(s, c, &from_wifi, sim_now(s), 0, 1, 64), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_idle(s), RQ_OK);
    RQ_CHECK_EQ_INT(sim_snode_rx_count(c), 2);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(s), SIM_DROP_SRC_NOT_LOCAL), 1);
    RQ_CHECK_EQ_U64(sim_trace_drop_count(sim_get_trace(s), SIM_DROP_DST_NOT_LOCAL), 1);
    RQ_CHECK_ERR(sim_host_remove_addr(ch, &wifi), RQ_ERR_INVALID_ARG);
    sim_free(s);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_nat_outbound_binds_and_reply_translates_back);
    RQ_RUN(test_nat_drops_unsolicited_inbound);
    RQ_RUN(test_nat_rebind_changes_port_and_drops_stale);
    RQ_RUN(test_nat_rebind_changes_address);
    RQ_RUN(test_nat_binding_times_out);
    RQ_RUN(test_nat_mapping_endpoint_independent_vs_per_remote);
    RQ_RUN(test_nat_next_to_server_forwards);
    RQ_RUN(test_router_longest_prefix_match);
    RQ_RUN(test_host_interfaces_and_address_removal);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations left\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
