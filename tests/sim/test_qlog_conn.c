/* qlog from live connections: every record both endpoints emit during a lossy transfer with a
 * key update is valid JSON-SEQ matching draft-ietf-quic-qlog-main-schema-13 and
 * quic-events-12 (tests/qlog_check.h), and the events that must be there are there. */
#include "link.h"
#include "qlog_check.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/conn.h"

#include "core/alloc.h"

typedef struct qlog_capture {
    qc_state st;
    bool valid;
    unsigned records;
    unsigned sent, received, lost, metrics, started, closed;
    unsigned tuples, abandoned, migration, cid_updated, on_new_tuple;
    char first_error[600];
} qlog_capture;

static void *cap_open(void *ctx, rq_role role, const uint8_t *odcid, size_t len)
{
    (void)odcid;
    (void)len;
    qlog_capture *caps = ctx;
    qlog_capture *c = &caps[role == RQ_ROLE_SERVER];
    memset(&c->st, 0, sizeof c->st);
    c->st.vantage = role == RQ_ROLE_SERVER ? "server" : "client";
    c->valid = true;
    return c;
}

static bool has(const uint8_t *rec, size_t len, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= len; i++)
        if (memcmp(rec + i, needle, m) == 0)
            return true;
    return false;
}

static int cap_write(void *ctx, const uint8_t *rec, size_t len)
{
    qlog_capture *c = ctx;
    c->records++;
    if (c->valid && !qc_record(&c->st, rec, len)) {
        c->valid = false;
        snprintf(c->first_error, sizeof c->first_error, "%s: %.*s", c->st.err,
                 (int)(len > 400 ? 400 : len - 1), (const char *)rec + 1);
    }
    c->sent += has(rec, len, "\"quic:packet_sent\"");
    c->received += has(rec, len, "\"quic:packet_received\"");
    c->lost += has(rec, len, "\"quic:packet_lost\"");
    c->metrics += has(rec, len, "\"quic:recovery_metrics_updated\"");
    c->started += has(rec, len, "\"quic:connection_started\"");
    c->closed += has(rec, len, "\"quic:connection_closed\"");
    bool tuple = has(rec, len, "\"quic:tuple_assigned\"");
    c->tuples += tuple;
    c->abandoned += tuple && !has(rec, len, "\"tuple_remote\"");
    c->migration += has(rec, len, "\"quic:migration_state_updated\"");
    c->cid_updated += has(rec, len, "\"quic:connection_id_updated\"");
    c->on_new_tuple += has(rec, len, "\"quic:packet_sent\"") && has(rec, len, "\"tuple\":\"");
    return 0;
}

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct run {
    sim_qnode *client, *server;
} run;

static bool finished(sim *s, void *ctx)
{
    (void)s;
    run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

static bool closed_both(sim *s, void *ctx)
{
    (void)s;
    run *r = ctx;
    return r->client->closed && r->server->closed;
}

static int update_keys(sim *s, void *ctx)
{
    run *r = ctx;
    (void)rq_conn_update_keys(r->client->conn, sim_now(s));
    return sim_host_wake(s, r->client->host);
}

/* qlog main-schema-13 §5 / quic-events-12 §5–§7: valid records for packet_sent,
 * packet_received, packet_lost, recovery_metrics_updated, connection_started and
 * connection_closed from both vantage points of a real connection. */
static void test_qlog_records_valid_for_live_connection(void)
{
    qlog_capture caps[2];
    memset(caps, 0, sizeof caps);
    rq_qlog_callbacks cb = {cap_open, cap_write, NULL, caps};
    rq_config *ccfg = sim_qnode_client_config(), *scfg = sim_qnode_server_config();
    RQ_CHECK(ccfg && scfg);
    rq_config_set_qlog(ccfg, &cb);
    rq_config_set_qlog(scfg, &cb);
    sim *s;
    run r;
    sim_link_cfg link = {.delay = 15 * RQ_MS, .rate_bps = 20000000, .loss = 0.03};
    RQ_CHECK_ERR(sim_new(21, &s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "client", ccfg, &CLIENT_ADDR, &r.client), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "server", scfg, &SERVER_ADDR, &r.server), RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host), 0,
                             &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 300000), RQ_OK);
    RQ_CHECK_ERR(sim_at(s, 150 * RQ_MS, update_keys, &r), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(s, finished, &r, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->fin_received);
    RQ_CHECK_ERR(rq_conn_close(r.client->conn, sim_now(s), 7, "done"), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(s, closed_both, &r, sim_now(s) + 30 * RQ_SEC), RQ_OK);
    for (int i = 0; i < 2; i++) {
        qlog_capture *c = &caps[i];
        if (!c->valid)
            fprintf(stderr, "  %s: %s\n", i ? "server" : "client", c->first_error);
        RQ_CHECK(c->valid);
        RQ_CHECK_EQ_INT(c->started, 1);
        RQ_CHECK(c->sent > 50);
        RQ_CHECK(c->received > 50);
        RQ_CHECK(c->metrics > 10);
        RQ_CHECK_EQ_INT(c->closed, 1);
    }
    /* 3% loss over a few hundred packets: the uploading client lost some. */
    RQ_CHECK(caps[0].lost > 0);
    printf("  client: %u records (%u sent, %u received, %u lost); server: %u records\n",
           caps[0].records, caps[0].sent, caps[0].received, caps[0].lost, caps[1].records);
    sim_free(s);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

static bool probe_validated(sim *s, void *ctx)
{
    (void)s;
    const run *r = ctx;
    const rq_conn *c = r->client->conn;
    return !c || r->client->closed || c->paths[1].validated;
}

/* quic-events-12 "tuple_assigned", "migration_state_updated", "connection_id_updated": a
 * client probes a second address and moves there; both vantage points log the new tuple with
 * its addresses and CIDs, the probing and migration states, the DCID each now sends with, the
 * packets of the new tuple tagged with it, and the abandoned tuple; every record stays valid. */
static void test_qlog_path_events_for_migration(void)
{
    static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
    qlog_capture caps[2];
    memset(caps, 0, sizeof caps);
    rq_qlog_callbacks cb = {cap_open, cap_write, NULL, caps};
    rq_config *ccfg = sim_qnode_client_config(), *scfg = sim_qnode_server_config();
    RQ_CHECK(ccfg && scfg);
    rq_config_set_qlog(ccfg, &cb);
    rq_config_set_qlog(scfg, &cb);
    sim *s;
    run r;
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    RQ_CHECK_ERR(sim_new(22, &s), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "client", ccfg, &CLIENT_ADDR, &r.client), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(r.client->host, &CLIENT_B, 0), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_new(s, "server", scfg, &SERVER_ADDR, &r.server), RQ_OK);
    RQ_CHECK_ERR(sim_connect(s, sim_host_elem(r.client->host), 0, sim_host_elem(r.server->host), 0,
                             &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(r.client, &SERVER_ADDR, "localhost", 3000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(s, 200 * RQ_MS), RQ_OK);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    uint32_t id = 0;
    RQ_CHECK_ERR(rq_conn_probe_path(r.client->conn, sim_now(s), &b, &id), RQ_OK);
    RQ_CHECK_EQ_INT(id, 1);
    RQ_CHECK_ERR(sim_host_wake(s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(s, probe_validated, &r, sim_now(s) + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK_ERR(rq_conn_migrate(r.client->conn, sim_now(s), id), RQ_OK);
    RQ_CHECK_ERR(sim_host_wake(s, r.client->host), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(s, finished, &r, sim_now(s) + 30 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->fin_received);
    for (int i = 0; i < 2; i++) {
        qlog_capture *c = &caps[i];
        if (!c->valid)
            fprintf(stderr, "  %s: %s\n", i ? "server" : "client", c->first_error);
        RQ_CHECK(c->valid);
        RQ_CHECK(c->tuples >= 1);
        RQ_CHECK(c->cid_updated >= 1);
        RQ_CHECK(c->on_new_tuple > 0);
    }
    RQ_CHECK(caps[0].migration >= 2); /* probing started, migration complete */
    RQ_CHECK(caps[0].abandoned >= 1); /* the old tuple, once left */
    printf("  client: %u tuple, %u migration, %u CID events; server: %u tuple, %u CID events\n",
           caps[0].tuples, caps[0].migration, caps[0].cid_updated, caps[1].tuples,
           caps[1].cid_updated);
    sim_free(s);
    sim_qnode_free(r.client);
    sim_qnode_free(r.server);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_qlog_records_valid_for_live_connection);
    RQ_RUN(test_qlog_path_events_for_migration);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
