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

/* MIG-9.3.2-01, MIG-9.3.2-02, MIG-9.3.1-01, MIG-8-01: the spoofed copy arrives first; the
 * server goes back to the real address, stays under 3x towards the spoofed one, and its
 * validation of the spoofed address gets no answer. MIG-8.2.4-02: that failed validation only
 * costs the spoofed path; the connection goes on. */
static void test_spoofed_migration_falls_back_mig_9_3_2_01(void)
{
    sp_run r;
    memset(&r, 0, sizeof r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    RQ_CHECK(cc && sc);
    qtrace_config(&r.qt, cc);
    qtrace_config(&r.qt, sc);
    sim_link *c2s;
    sim_injector *inj;
    RQ_CHECK_ERR(sim_new(0xa1, &r.s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "client", cc, &CLIENT_ADDR, &r.client), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(r.s, "server", sc, &SERVER_ADDR, &r.server), RQ_OK);
    RQ_CHECK_ERR(sim_connect(r.s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host),
                             0, &link, &link, &c2s, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(qtrace_attach(&r.qt, r.s), RQ_OK);
    RQ_CHECK_ERR(sim_injector_new(r.s, "attacker", c2s, &inj), RQ_OK);
    sim_inj_rule copy = {.action = SIM_INJ_COPY,
                         .from = 300 * RQ_MS,
                         .set_src = true,
                         .new_src = HOLE,
                         .max_hits = 1};
    unsigned rule;
    RQ_CHECK_ERR(sim_injector_add(inj, &copy, &rule), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 1500000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(r.s, done, &r, 60 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 3 * RQ_SEC), RQ_OK); /* validations end */
    RQ_CHECK_EQ_U64(sim_injector_hits(inj, rule), 1);
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
    sim_free(r.s);
    qtrace_free(&r.qt);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_spoofed_migration_falls_back_mig_9_3_2_01);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
