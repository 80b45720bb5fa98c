/* NEW_TOKEN (RFC 9000 §8.1.3): after the handshake the server gives the client a token bound
 * to the client's address, which validates for a later connection from that address (any
 * port) and not from another. */
#include "link.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/endpoint.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct run {
    sim_qnode *client, *server;
} run;

static bool token_arrived(sim *s, void *ctx)
{
    (void)s;
    run *r = ctx;
    return (r->client->conn && r->client->conn->new_token_len > 0) || r->client->closed;
}

static void test_new_token_issued_and_bound_rfc9000_8_1_3(void)
{
    sim *s;
    run r;
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(sim_new(41, &s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &r.client),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "server", sim_qnode_server_config(), &SERVER_ADDR, &r.server),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host), 0,
                             &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(s, token_arrived, &r, 5 * RQ_SEC), RQ_OK);
    rq_conn *c = r.client->conn;
    RQ_CHECK(c->new_token_len > 0);
    rq_token_kind kind;
    uint64_t now_ms = sim_now(s) / RQ_MS;
    rq_addr later = CLIENT_ADDR;
    later.port = 60000; /* a new connection comes from another port */
    RQ_CHECK_ERR(rq_token_validate(&r.server->ep->token_key, now_ms, c->new_token, c->new_token_len,
                                   &later, 10000, 3600000, &kind, NULL),
                 RQ_OK);
    RQ_CHECK_EQ_INT(kind, RQ_TOKEN_NEW);
    rq_addr other = CLIENT_ADDR;
    other.ip[3] = 9;
    RQ_CHECK_ERR(rq_token_validate(&r.server->ep->token_key, now_ms, c->new_token, c->new_token_len,
                                   &other, 10000, 3600000, &kind, NULL),
                 RQ_ERR_INVALID_TOKEN);
    sim_free(s);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_new_token_issued_and_bound_rfc9000_8_1_3);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
