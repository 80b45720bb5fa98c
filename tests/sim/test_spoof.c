/* A spoofed migration (RFC 9000 §9.3.1, §9.3.2): an on-path attacker copies one of the
 * client's datagrams, rewrites its source to an address nobody answers from, and gets the copy
 * to the server first. The server may move there, but it sends no more than three times what
 * arrived from that address, and returns to the real address when the client's next packets
 * (with higher numbers) arrive from it; the upload completes. */
#include "inject.h"
#include "ledger.h"
#include "link.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};
static const rq_addr HOLE = {RQ_AF_INET4, 4000, {203, 0, 113, 9}, 0};

typedef struct sp_run {
    sim *s;
    sim_qnode *client, *server;
    qtrace qt;
} sp_run;

static bool done(sim *s, void *ctx)
{
    (void)s;
    sp_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

/* Runs an upload of `bytes` with an attacker copying up to max_hits client datagrams from
 * 300 ms on, their source rewritten to `fake`, copies racing ahead of the originals. */
static int sp_run_upload(sp_run *r, uint64_t seed, const rq_addr *fake, unsigned max_hits,
                         uint64_t bytes, uint64_t *hits)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    if (!cc || !sc)
        return RQ_ERR_NOMEM;
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, sc);
    sim_link *c2s;
    sim_injector *inj = NULL;
    int rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_ADDR, &r->client);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", sc, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_host_elem(r->server->host), 0,
                         &link, &link, &c2s, NULL);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    if (!rc)
        rc = sim_injector_new(r->s, "attacker", c2s, &inj);
    sim_inj_rule copy = {.action = SIM_INJ_COPY,
                         .from = 300 * RQ_MS,
                         .set_src = true,
                         .new_src = *fake,
                         .max_hits = max_hits};
    unsigned rule = 0;
    if (!rc)
        rc = sim_injector_add(inj, &copy, &rule);
    if (!rc)
        rc = sim_qnode_connect(r->client, &SERVER_ADDR, "localhost", bytes);
    if (!rc)
        rc = sim_run_until_pred(r->s, done, r, 60 * RQ_SEC);
    if (!rc)
        rc = sim_run_until(r->s, sim_now(r->s) + 3 * RQ_SEC); /* validations end */
    if (!rc)
        *hits = sim_injector_hits(inj, rule);
    return rc;
}

static void sp_free(sp_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

/* MIG-9.3.2-01, MIG-9.3.2-02, MIG-9.3.1-01, MIG-8-01: the spoofed copy arrives first; the
 * server goes back to the real address, stays under 3x towards the spoofed one, and its
 * validation of the spoofed address gets no answer. MIG-8.2.4-02: that failed validation only
 * costs the spoofed path; the connection goes on. */
static void test_spoofed_migration_falls_back_mig_9_3_2_01(void)
{
    sp_run r;
    uint64_t hits = 0;
    RQ_CHECK_ERR(sp_run_upload(&r, 0xa1, &HOLE, 1, 1500000, &hits), RQ_OK);
    RQ_CHECK_EQ_U64(hits, 1);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(r.server->fin_received);
    RQ_CHECK_EQ_U64(r.server->received, 1500000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);

    /* The server ends on the real address. */
    rq_conn *c = r.server->conn;
    RQ_CHECK(rq_addr_eq(&c->paths[c->active_path].addr.remote, &CLIENT_ADDR));
    /* MIG-9.3.1-01: towards the spoofed address, at most 3x what came from it. */
    sim_ledger *l = sim_get_ledger(r.s);
    uint64_t to_hole = sim_ledger_pair(l, &SERVER_ADDR, &HOLE).sent_bytes;
    uint64_t from_hole = sim_ledger_pair(l, &HOLE, &SERVER_ADDR).recv_bytes;
    RQ_CHECK(from_hole > 0);
    RQ_CHECK(to_hole <= 3 * from_hole);
    /* The server did try to validate the spoofed address (it moved, §9.3), and it sent
     * non-probing packets to the real address again afterwards (§9.3.2). */
    bool challenged_hole = false;
    rq_time last_to_hole = 0, last_nonprobing_to_client = 0;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir != QTRACE_S2C)
            continue;
        bool nonprobing = false, challenge = false;
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++) {
            nonprobing |= !rq_frame_is_probing(r.qt.frames[f].type);
            challenge |= r.qt.frames[f].type == RQ_FT_PATH_CHALLENGE;
        }
        if (rq_addr_eq(&p->dst, &HOLE)) {
            challenged_hole |= challenge;
            last_to_hole = p->t;
        } else if (nonprobing) {
            last_nonprobing_to_client = p->t;
        }
    }
    RQ_CHECK(challenged_hole);
    RQ_CHECK(last_nonprobing_to_client > last_to_hole);
    printf("  to the spoofed address: %llu B (received %llu B from it); back on the real one\n",
           (unsigned long long)to_hole, (unsigned long long)from_hole);
    sp_free(&r);
}

/* MIG-21.5.6-01: copies of the client's packets from a forged loopback source (127.0.0.1)
 * do not move a connection that came over the network: the server makes no path for that
 * address and sends nothing to it; the upload completes on the real address. */
static void test_no_migration_to_loopback_mig_21_5_6_01(void)
{
    static const rq_addr LOOPBACK = {RQ_AF_INET4, 4000, {127, 0, 0, 1}, 0};
    sp_run r;
    uint64_t hits = 0;
    RQ_CHECK_ERR(sp_run_upload(&r, 0xa2, &LOOPBACK, 5, 1500000, &hits), RQ_OK);
    RQ_CHECK_EQ_U64(hits, 5);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK_EQ_U64(r.server->received, 1500000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    sim_ledger *l = sim_get_ledger(r.s);
    RQ_CHECK(sim_ledger_pair(l, &LOOPBACK, &SERVER_ADDR).recv_bytes > 0);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &SERVER_ADDR, &LOOPBACK).sent_bytes, 0);
    rq_conn *c = r.server->conn;
    for (uint32_t i = 0; i < RQ_MAX_PATHS; i++)
        RQ_CHECK(!c->paths[i].in_use || !rq_addr_eq(&c->paths[i].addr.remote, &LOOPBACK));
    sp_free(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_spoofed_migration_falls_back_mig_9_3_2_01);
    RQ_RUN(test_no_migration_to_loopback_mig_21_5_6_01);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
