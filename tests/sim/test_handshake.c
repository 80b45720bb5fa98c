/* Two roamquic endpoints in the simulator: handshake and stream transfer (RFC 9000 §7,
 * RFC 9001 §4), the first end-to-end proof of the connection core. */
#include "link.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"

typedef struct pair {
    sim *s;
    sim_qnode *client, *server;
} pair;

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

static int pair_new(pair *p, uint64_t seed, const sim_link_cfg *link, rq_config *ccfg,
                    rq_config *scfg)
{
    memset(p, 0, sizeof *p);
    int rc = sim_new(seed, &p->s);
    if (!rc)
        rc = sim_qnode_new(p->s, "client", ccfg, &CLIENT_ADDR, &p->client);
    if (!rc)
        rc = sim_qnode_new(p->s, "server", scfg, &SERVER_ADDR, &p->server);
    if (!rc)
        rc = sim_connect(p->s, sim_host_elem(p->client->host), 0, sim_host_elem(p->server->host), 0,
                         link, link, NULL, NULL);
    return rc;
}

static void pair_free(pair *p)
{
    sim_free(p->s);
    sim_qnode_free(p->client);
    sim_qnode_free(p->server);
}

static bool transfer_done(sim *s, void *ctx)
{
    (void)s;
    pair *p = ctx;
    return (p->server->fin_received && p->client->fin_written) || p->client->closed ||
           p->server->closed;
}

static bool both_connected(sim *s, void *ctx)
{
    (void)s;
    pair *p = ctx;
    return (p->client->connected && p->server->connected) || p->client->closed;
}

/* RFC 9001 §4: a client and a server complete the handshake over a clean 10 ms link. */
static void test_handshake_completes_rfc9001_4(void)
{
    pair p;
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(pair_new(&p, 1, &link, sim_qnode_client_config(), sim_qnode_server_config()),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(p.client, &SERVER_ADDR, "localhost", 0), RQ_OK);
    int rc = sim_run_until_pred(p.s, both_connected, &p, 5 * RQ_SEC);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(p.client->connected);
    RQ_CHECK(p.server->connected);
    RQ_CHECK(!p.client->closed);
    RQ_CHECK_EQ_INT(p.server->accepted, 1);
    pair_free(&p);
}

static void run_transfer(uint64_t seed, const sim_link_cfg *link, uint64_t bytes)
{
    pair p;
    RQ_CHECK_ERR(pair_new(&p, seed, link, sim_qnode_client_config(), sim_qnode_server_config()),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(p.client, &SERVER_ADDR, "localhost", bytes), RQ_OK);
    int rc = sim_run_until_pred(p.s, transfer_done, &p, 120 * RQ_SEC);
    if (rc)
        fprintf(stderr, "  seed 0x%llx: %s\n", (unsigned long long)seed, sim_failure(p.s));
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(!p.client->closed && !p.server->closed);
    RQ_CHECK(p.server->fin_received);
    RQ_CHECK_EQ_U64(p.server->received, bytes);
    RQ_CHECK_EQ_U64(p.server->bad_bytes, 0);
    printf("  %llu bytes in %.3f s of virtual time, %llu datagrams client->server, %llu back\n",
           (unsigned long long)bytes, (double)sim_now(p.s) / 1e9,
           (unsigned long long)sim_host_sent(p.client->host),
           (unsigned long long)sim_host_sent(p.server->host));
    pair_free(&p);
}

/* RFC 9000 §2, §4: 1 MB on one stream arrives whole and in order over a clean link. */
static void test_transfer_1mb_clean(void)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 100000000};
    run_transfer(2, &link, 1000000);
}

/* RFC 9002 §6: with 1% loss, reordering and duplication the same megabyte arrives intact. */
static void test_transfer_1mb_lossy_rfc9002_6(void)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS,
                         .rate_bps = 50000000,
                         .loss = 0.01,
                         .reorder = 0.01,
                         .reorder_delay = 3 * RQ_MS,
                         .duplicate = 0.005};
    run_transfer(3, &link, 1000000);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_handshake_completes_rfc9001_4);
    RQ_RUN(test_transfer_1mb_clean);
    RQ_RUN(test_transfer_1mb_lossy_rfc9002_6);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
