/* A client and Version Negotiation (RFC 9000 §6.2): it abandons the attempt on a VN packet
 * that answers its first flight and does not list version 1, and ignores one that lists
 * version 1 or arrives after it processed another packet from the server. */
#include "inject.h"
#include "link.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/packet.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct env {
    sim *s;
    sim_qnode *client;
    sim_host *server; /* a black hole: the server never answers by itself */
    sim_link *s2c;
} env;

static int setup(env *e)
{
    memset(e, 0, sizeof *e);
    int rc = sim_new(51, &e->s);
    if (!rc)
        rc = sim_qnode_new(e->s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &e->client);
    if (!rc)
        rc = sim_host_new(e->s, "server", 1, NULL, NULL, &e->server);
    if (!rc)
        rc = sim_host_add_addr(e->server, &SERVER_ADDR, 0);
    if (!rc)
        rc = sim_connect(e->s, sim_host_elem(e->client->host), 0, sim_host_elem(e->server), 0, NULL,
                         NULL, NULL, &e->s2c);
    if (!rc)
        rc = sim_qnode_connect(e->client, &SERVER_ADDR, "localhost", 0);
    if (!rc)
        rc = sim_run_until(e->s, 1 * RQ_MS);
    return rc;
}

/* Injects a VN packet for the client's attempt listing `version`. */
static int inject_vn(env *e, uint32_t version)
{
    rq_conn *c = e->client->conn;
    /* The VN answers a packet whose DCID was c->odcid and SCID c->scid (§17.2.1). */
    rq_pkt_hdr h = {0};
    h.dcid = c->odcid.data;
    h.dcid_len = c->odcid.len;
    h.scid = c->scid.data;
    h.scid_len = c->scid.len;
    uint8_t buf[128];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    const uint32_t versions[] = {version};
    int rc = rq_pkt_write_version_negotiation(&w, &h, 0x11, versions, 1);
    if (rc)
        return rc;
    return sim_inject(e->s, e->s2c, sim_now(e->s), &SERVER_ADDR, &CLIENT_ADDR, buf,
                      (size_t)(w.p - buf), NULL);
}

static void teardown(env *e)
{
    sim_free(e->s);
    sim_qnode_free(e->client);
}

/* §6.2: no common version: the client gives up at once (it does not wait for a timeout). */
static void test_vn_without_v1_abandons_rfc9000_6_2(void)
{
    env e;
    RQ_CHECK_ERR(setup(&e), RQ_OK);
    RQ_CHECK_ERR(inject_vn(&e, 0x0a1a2a3a), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(e.s, 5 * RQ_MS), RQ_OK);
    RQ_CHECK(e.client->closed);
    teardown(&e);
}

/* §6.2: a VN packet that lists the version the client chose is discarded. */
static void test_vn_listing_v1_ignored_rfc9000_6_2(void)
{
    env e;
    RQ_CHECK_ERR(setup(&e), RQ_OK);
    RQ_CHECK_ERR(inject_vn(&e, RQ_VERSION_1), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(e.s, 5 * RQ_MS), RQ_OK);
    RQ_CHECK(!e.client->closed);
    teardown(&e);
}

/* §6.2: once the client processed a packet from the server, VN packets are discarded. */
static void test_vn_after_server_packet_ignored_rfc9000_6_2(void)
{
    env e;
    RQ_CHECK_ERR(setup(&e), RQ_OK);
    e.client->conn->got_server_scid = true; /* as if the server's Initial had been processed */
    RQ_CHECK_ERR(inject_vn(&e, 0x0a1a2a3a), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(e.s, 5 * RQ_MS), RQ_OK);
    RQ_CHECK(!e.client->closed);
    teardown(&e);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_vn_without_v1_abandons_rfc9000_6_2);
    RQ_RUN(test_vn_listing_v1_ignored_rfc9000_6_2);
    RQ_RUN(test_vn_after_server_packet_ignored_rfc9000_6_2);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
