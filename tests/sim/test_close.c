/* Immediate close before the handshake is confirmed (RFC 9000 §10.2.3): an application close
 * that can only travel in Initial or Handshake packets goes out as a transport
 * CONNECTION_CLOSE (0x1c) carrying APPLICATION_ERROR (0x0c), without the application's code or
 * reason; once 1-RTT keys are in use, the application's own code (0x1d) reaches the peer. */
#include "link.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct run {
    sim *s;
    sim_qnode *client, *server;
} run;

static int setup(run *r)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    int rc = sim_new(61, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &r->client);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", sim_qnode_server_config(), &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, NULL, NULL);
    return rc;
}

static void teardown(run *r)
{
    sim_free(r->s);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

static bool server_closed(sim *s, void *ctx)
{
    (void)s;
    run *r = ctx;
    return r->server->closed;
}

static bool connected(sim *s, void *ctx)
{
    (void)s;
    run *r = ctx;
    return r->client->connected && r->server->connected;
}

/* RFC 9000 §10.2.3: closed before any server packet arrived, the client has only Initial keys:
 * the server learns APPLICATION_ERROR as a transport error, not the application's code. */
static void test_app_close_in_initial_is_application_error_rfc9000_10_2_3(void)
{
    run r;
    RQ_CHECK_ERR(setup(&r), RQ_OK);
    rq_path_addr path = {CLIENT_ADDR, SERVER_ADDR};
    RQ_CHECK_ERR(rq_connect(r.client->ep, 0, &path, "localhost", &r.client->conn), RQ_OK);
    RQ_CHECK_ERR(rq_conn_close(r.client->conn, 0, 0x1234, "secret reason"), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, server_closed, &r, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->close_by_peer);
    RQ_CHECK(!r.server->close_app);
    RQ_CHECK_EQ_U64(r.server->close_code, RQ_QUIC_APPLICATION_ERROR);
    teardown(&r);
}

/* RFC 9000 §10.2.3: with 1-RTT keys in use, the application's code itself arrives (0x1d). */
static void test_app_close_in_1rtt_carries_app_code_rfc9000_10_2_3(void)
{
    run r;
    RQ_CHECK_ERR(setup(&r), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 0), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, connected, &r, 5 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 100 * RQ_MS), RQ_OK);
    RQ_CHECK(r.client->conn->handshake_confirmed);
    RQ_CHECK_ERR(rq_conn_close(r.client->conn, sim_now(r.s), 0x1234, "bye"), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(r.s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, server_closed, &r, sim_now(r.s) + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->close_by_peer);
    RQ_CHECK(r.server->close_app);
    RQ_CHECK_EQ_U64(r.server->close_code, 0x1234);
    teardown(&r);
}

/* An application code that cannot be encoded as a varint is refused, not sent. */
static void test_app_close_code_range(void)
{
    run r;
    RQ_CHECK_ERR(setup(&r), RQ_OK);
    rq_path_addr path = {CLIENT_ADDR, SERVER_ADDR};
    RQ_CHECK_ERR(rq_connect(r.client->ep, 0, &path, "localhost", &r.client->conn), RQ_OK);
    RQ_CHECK_ERR(rq_conn_close(r.client->conn, 0, (uint64_t)1 << 62, NULL), RQ_ERR_INVALID_ARG);
    teardown(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_app_close_in_initial_is_application_error_rfc9000_10_2_3);
    RQ_RUN(test_app_close_in_1rtt_carries_app_code_rfc9000_10_2_3);
    RQ_RUN(test_app_close_code_range);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
