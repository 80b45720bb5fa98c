/* 1-RTT key updates in the middle of a transfer (RFC 9001 §6): initiated by either side,
 * answered by the other, with no stream data lost; and refused before it is allowed (§6.1). */
#include "link.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

typedef struct ku_run {
    sim *s;
    sim_qnode *client, *server;
    int client_rc, server_rc, early_rc;
} ku_run;

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

static int client_updates(sim *s, void *ctx)
{
    ku_run *r = ctx;
    r->client_rc = r->client->conn ? rq_conn_update_keys(r->client->conn, sim_now(s)) : -1;
    return sim_host_wake(s, r->client->host);
}

static int server_updates(sim *s, void *ctx)
{
    ku_run *r = ctx;
    r->server_rc = r->server->conn ? rq_conn_update_keys(r->server->conn, sim_now(s)) : -1;
    return sim_host_wake(s, r->server->host);
}

static bool done(sim *s, void *ctx)
{
    (void)s;
    ku_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

/* RFC 9001 §6.1, §6.2: the client updates at 60 ms, the server at 250 ms (after the first
 * update was acknowledged); each side answers the other's update; 3 MB arrive intact over a
 * lossy link (so packets of the old phase arrive late and need the previous key, §6.5). */
static void test_key_update_both_directions_rfc9001_6(void)
{
    ku_run r = {0};
    sim_link_cfg link = {.delay = 10 * RQ_MS,
                         .rate_bps = 50000000,
                         .loss = 0.01,
                         .reorder = 0.02,
                         .reorder_delay = 5 * RQ_MS};
    RQ_CHECK_ERR(sim_new(11, &r.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &r.client),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "server", sim_qnode_server_config(), &SERVER_ADDR, &r.server),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(r.s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host),
                             0, &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 3000000), RQ_OK);
    r.client_rc = r.server_rc = 1;
    RQ_CHECK_ERR(sim_at(r.s, 60 * RQ_MS, client_updates, &r), RQ_OK);
    RQ_CHECK_ERR(sim_at(r.s, 250 * RQ_MS, server_updates, &r), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, 60 * RQ_SEC), RQ_OK);
    if (!r.server->fin_received)
        fprintf(stderr,
                "  t=%.3f client closed %d code 0x%llx peer %d; server closed %d code 0x%llx; "
                "received %llu\n",
                (double)sim_now(r.s) / 1e9, r.client->closed,
                (unsigned long long)r.client->close_code, r.client->close_by_peer, r.server->closed,
                (unsigned long long)r.server->close_code, (unsigned long long)r.server->received);
    RQ_CHECK_ERR(r.client_rc, RQ_OK);
    RQ_CHECK_ERR(r.server_rc, RQ_OK);
    RQ_CHECK(r.server->fin_received);
    RQ_CHECK_EQ_U64(r.server->received, 3000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    /* Each side saw two phase changes: its own update answered, and the peer's. */
    RQ_CHECK_EQ_U64(r.client->conn->key_updates, 2);
    RQ_CHECK_EQ_U64(r.server->conn->key_updates, 2);
    RQ_CHECK_EQ_INT(r.client->conn->tx_phase, r.server->conn->rx_phase);
    sim_free(r.s);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

static bool connected(sim *s, void *ctx)
{
    (void)s;
    ku_run *r = ctx;
    return r->client->connected;
}

/* RFC 9001 §6.1: no update before the handshake is confirmed, and no second update before
 * the first is acknowledged. */
static void test_key_update_refused_too_early_rfc9001_6_1(void)
{
    ku_run r = {0};
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(sim_new(12, &r.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &r.client),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "server", sim_qnode_server_config(), &SERVER_ADDR, &r.server),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(r.s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host),
                             0, &link, &link, NULL, NULL),
                 RQ_OK);
    /* A little data, so that 1-RTT packets get acknowledged. */
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, connected, &r, 5 * RQ_SEC), RQ_OK);
    /* Connected (TLS complete) but HANDSHAKE_DONE not yet received: not confirmed. */
    RQ_CHECK(!r.client->conn->handshake_confirmed);
    RQ_CHECK_ERR(rq_conn_update_keys(r.client->conn, sim_now(r.s)), RQ_ERR_AGAIN);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 200 * RQ_MS), RQ_OK);
    RQ_CHECK(r.client->conn->handshake_confirmed);
    RQ_CHECK_ERR(rq_conn_update_keys(r.client->conn, sim_now(r.s)), RQ_OK);
    /* The update is not acknowledged yet: a second one must wait. */
    RQ_CHECK_ERR(rq_conn_update_keys(r.client->conn, sim_now(r.s)), RQ_ERR_AGAIN);
    sim_free(r.s);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_key_update_both_directions_rfc9001_6);
    RQ_RUN(test_key_update_refused_too_early_rfc9001_6_1);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
