/* roamquic against ngtcp2 (an independent QUIC v1 implementation) in the simulator: both
 * handshake directions and a 1 MB upload each way, over a clean link and over a link with
 * loss and reordering. Interop is the proof that roamquic reads RFC 9000/9001/9002 the way
 * someone else does, not only the way its own tests expect.
 *
 * Seeds: RQ_SIM_SEED replays the network and both stacks' random choices (GnuTLS's own
 * randomness still varies, not packet sizes). RQ_NG_LOG=1 prints ngtcp2's log. */
#include "link.h"
#include "nat.h"
#include "ngnode.h"
#include "qnode.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

#include <time.h>

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

/* One roamquic node and one ngtcp2 node joined by a link pair. */
typedef struct mixed {
    sim *s;
    sim_qnode *rq;
    sim_ngnode *ng;
    bool rq_is_client;
    double real_start;
} mixed;

static double real_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rq_pref: a preferred address for a roamquic server to advertise and listen on, or NULL. */
static int mixed_new_pref(mixed *m, uint64_t seed, const sim_link_cfg *link, bool rq_is_client,
                          const rq_addr *rq_pref)
{
    memset(m, 0, sizeof *m);
    m->rq_is_client = rq_is_client;
    m->real_start = real_seconds();
    int rc = sim_new(sim_seed_from_env(seed), &m->s);
    if (rc)
        return rc;
    if (rq_is_client) {
        rc = sim_qnode_new(m->s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &m->rq);
        if (!rc)
            rc = sim_ngnode_new(m->s, "server", true, &SERVER_ADDR, &m->ng);
    } else {
        rq_config *scfg = sim_qnode_server_config();
        rc = sim_ngnode_new(m->s, "client", false, &CLIENT_ADDR, &m->ng);
        if (!rc && rq_pref)
            rc = scfg ? rq_config_set_preferred_address(scfg, rq_pref, NULL) : RQ_ERR_NOMEM;
        if (!rc)
            rc = sim_qnode_new(m->s, "server", scfg, &SERVER_ADDR, &m->rq);
        if (!rc && rq_pref)
            rc = sim_host_add_addr(m->rq->host, rq_pref, 0);
    }
    if (rc)
        return rc;
    sim_elem *rq = sim_host_elem(m->rq->host), *ng = sim_host_elem(sim_ngnode_host(m->ng));
    return rq_is_client ? sim_connect(m->s, rq, 0, ng, 0, link, link, NULL, NULL)
                        : sim_connect(m->s, ng, 0, rq, 0, link, link, NULL, NULL);
}

static int mixed_new(mixed *m, uint64_t seed, const sim_link_cfg *link, bool rq_is_client)
{
    return mixed_new_pref(m, seed, link, rq_is_client, NULL);
}

static void mixed_free(mixed *m)
{
    sim_free(m->s);
    sim_qnode_free(m->rq);
    sim_ngnode_free(m->ng);
}

static int mixed_connect(mixed *m, uint64_t bytes)
{
    return m->rq_is_client ? sim_qnode_connect(m->rq, &SERVER_ADDR, "localhost", bytes)
                           : sim_ngnode_connect(m->ng, &SERVER_ADDR, bytes);
}

static bool anyone_closed(const mixed *m)
{
    return m->rq->closed || sim_ngnode_get_state(m->ng)->closed;
}

static bool both_connected(sim *s, void *ctx)
{
    (void)s;
    mixed *m = ctx;
    return (m->rq->connected && sim_ngnode_get_state(m->ng)->connected) || anyone_closed(m);
}

/* Done when the server has the FIN (every byte before it was delivered in order). */
static bool upload_done(sim *s, void *ctx)
{
    (void)s;
    mixed *m = ctx;
    bool fin = m->rq_is_client ? sim_ngnode_get_state(m->ng)->fin_received : m->rq->fin_received;
    return fin || anyone_closed(m);
}

static void report_failure(const mixed *m, int rc)
{
    if (rc)
        fprintf(stderr, "  seed 0x%llx: %s\n", (unsigned long long)sim_seed(m->s),
                sim_failure(m->s));
}

/* The handshake outcome both sides must agree on: connected, QUIC v1, ALPN "rq-test", nobody
 * closed, exactly one connection at the server. */
static void check_handshake(const mixed *m)
{
    const sim_ngnode_state *ng = sim_ngnode_get_state(m->ng);
    RQ_CHECK(!m->rq->closed);
    RQ_CHECK(!ng->closed);
    RQ_CHECK(m->rq->connected);
    RQ_CHECK(ng->connected);
    RQ_CHECK_EQ_U64(ng->version, 1);
    RQ_CHECK(strcmp(ng->alpn, "rq-test") == 0);
    if (m->rq_is_client)
        RQ_CHECK_EQ_INT(ng->accepted, 1);
    else
        RQ_CHECK_EQ_INT(m->rq->accepted, 1);
}

static void run_handshake(uint64_t seed, bool rq_is_client)
{
    mixed m;
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(mixed_new(&m, seed, &link, rq_is_client), RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, 0), RQ_OK);
    int rc = sim_run_until_pred(m.s, both_connected, &m, 5 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_handshake(&m);
    printf("  handshake in %.1f ms of virtual time (%.1f ms real)\n", (double)sim_now(m.s) / 1e6,
           (real_seconds() - m.real_start) * 1e3);
    mixed_free(&m);
}

/* RFC 9001 §4, RFC 9000 §7: a roamquic client completes the handshake with an ngtcp2 server:
 * QUIC v1, ALPN agreed, transport parameters accepted by both. */
static void test_rq_client_ng_server_handshake_rfc9001_4(void)
{
    run_handshake(0x6e670001, true);
}

/* RFC 9001 §4, RFC 9000 §7: an ngtcp2 client completes the handshake with a roamquic server. */
static void test_ng_client_rq_server_handshake_rfc9001_4(void)
{
    run_handshake(0x6e670002, false);
}

/* The upload's outcome: the server has every byte, in order, equal to the pattern, and the
 * FIN; nobody closed. */
static void check_upload(const mixed *m, uint64_t bytes)
{
    const sim_ngnode_state *ng = sim_ngnode_get_state(m->ng);
    RQ_CHECK(!m->rq->closed);
    RQ_CHECK(!ng->closed);
    if (m->rq_is_client) {
        RQ_CHECK(m->rq->fin_written);
        RQ_CHECK(ng->fin_received);
        RQ_CHECK_EQ_INT(ng->streams_opened, 1);
        RQ_CHECK_EQ_U64(ng->received, bytes);
        RQ_CHECK_EQ_U64(ng->bad_bytes, 0);
        RQ_CHECK_EQ_U64(ng->gaps, 0);
    } else {
        RQ_CHECK(ng->fin_written);
        RQ_CHECK_EQ_U64(ng->sent, bytes);
        RQ_CHECK(m->rq->fin_received);
        RQ_CHECK_EQ_INT(m->rq->streams_opened, 1);
        RQ_CHECK_EQ_U64(m->rq->received, bytes);
        RQ_CHECK_EQ_U64(m->rq->bad_bytes, 0);
    }
}

static void run_upload(uint64_t seed, const sim_link_cfg *link, bool rq_is_client, uint64_t bytes)
{
    mixed m;
    RQ_CHECK_ERR(mixed_new(&m, seed, link, rq_is_client), RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, bytes), RQ_OK);
    int rc = sim_run_until_pred(m.s, upload_done, &m, 120 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_upload(&m, bytes);
    sim_host *ch = rq_is_client ? m.rq->host : sim_ngnode_host(m.ng);
    sim_host *sh = rq_is_client ? sim_ngnode_host(m.ng) : m.rq->host;
    printf("  %llu bytes %s: %.3f s virtual, %.3f s real, %llu datagrams up, %llu down\n",
           (unsigned long long)bytes, rq_is_client ? "roamquic->ngtcp2" : "ngtcp2->roamquic",
           (double)sim_now(m.s) / 1e9, real_seconds() - m.real_start,
           (unsigned long long)sim_host_sent(ch), (unsigned long long)sim_host_sent(sh));
    mixed_free(&m);
}

static const sim_link_cfg CLEAN = {.delay = 10 * RQ_MS, .rate_bps = 100000000};

/* 1% loss both ways, 1% of datagrams held back 3 ms (reordered behind later ones). */
static const sim_link_cfg LOSSY = {.delay = 10 * RQ_MS,
                                   .rate_bps = 50000000,
                                   .loss = 0.01,
                                   .reorder = 0.01,
                                   .reorder_delay = 3 * RQ_MS};

/* RFC 9000 §2.2, §4: 1 MB uploaded by a roamquic client arrives at an ngtcp2 server whole, in
 * order, byte for byte. */
static void test_upload_1mb_rq_to_ng_rfc9000_2(void)
{
    run_upload(0x6e670003, &CLEAN, true, 1000000);
}

/* RFC 9000 §2.2, §4: 1 MB uploaded by an ngtcp2 client arrives at a roamquic server intact. */
static void test_upload_1mb_ng_to_rq_rfc9000_2(void)
{
    run_upload(0x6e670004, &CLEAN, false, 1000000);
}

/* RFC 9002 §6, §7: the roamquic client's loss recovery and congestion control carry 1 MB to
 * ngtcp2 over 1% loss with reordering. */
static void test_upload_1mb_rq_to_ng_lossy_rfc9002_6(void)
{
    run_upload(0x6e670005, &LOSSY, true, 1000000);
}

/* RFC 9002 §6, RFC 9000 §13.2: roamquic's acknowledgements and reassembly serve an ngtcp2
 * client's 1 MB upload over 1% loss with reordering. */
static void test_upload_1mb_ng_to_rq_lossy_rfc9002_6(void)
{
    run_upload(0x6e670006, &LOSSY, false, 1000000);
}

static bool ng_validated(sim *s, void *ctx)
{
    (void)s;
    mixed *m = ctx;
    const sim_ngnode_state *ng = sim_ngnode_get_state(m->ng);
    return ng->paths_validated || ng->paths_failed || anyone_closed(m);
}

/* MIG-5.1.1-04, MIG-9.5-05, MIG-9.2-01 (RFC 9000 §5.1.1, §9.2, §9.5): an ngtcp2 client moves
 * its upload to a second local address in the middle of the transfer. For that it needs an
 * unused CID from the roamquic server (NEW_CONNECTION_ID after the handshake): ngtcp2 refuses
 * to migrate without one (NGTCP2_ERR_CONN_ID_BLOCKED) rather than reuse the CID of the old path.
 * The probe must validate, the rest of the upload go out from the new address, and every
 * byte arrive intact. */
static void test_ng_client_migrates_to_rq_server_mig_9_2(void)
{
    static const rq_addr CLIENT_ADDR2 = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
    const uint64_t bytes = 1000000;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 10000000};
    mixed m;
    RQ_CHECK_ERR(mixed_new(&m, 0x6e670007, &link, false), RQ_OK);
    RQ_CHECK_ERR(sim_host_add_addr(sim_ngnode_host(m.ng), &CLIENT_ADDR2, 0), RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, bytes), RQ_OK);
    /* 200 ms: handshake confirmed (HANDSHAKE_DONE by 40 ms), a quarter of the upload sent. */
    int rc = sim_run_until(m.s, 200 * RQ_MS);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(sim_ngnode_get_state(m.ng)->connected);
    RQ_CHECK(!m.rq->fin_received);
    RQ_CHECK_ERR(sim_ngnode_migrate(m.ng, &CLIENT_ADDR2), RQ_OK);
    rc = sim_run_until_pred(m.s, ng_validated, &m, 5 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK_EQ_INT(sim_ngnode_get_state(m.ng)->paths_validated, 1);
    RQ_CHECK_EQ_INT(sim_ngnode_get_state(m.ng)->paths_failed, 0);
    rc = sim_run_until_pred(m.s, upload_done, &m, 120 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_upload(&m, bytes);
    RQ_CHECK(rq_addr_eq(&sim_ngnode_get_state(m.ng)->last_local, &CLIENT_ADDR2));
    printf("  %llu bytes with a migration: %.3f s virtual, %.3f s real\n",
           (unsigned long long)bytes, (double)sim_now(m.s) / 1e9, real_seconds() - m.real_start);
    mixed_free(&m);
}

/* A NAT in front of the client (either implementation) rebinds its port in the middle of a
 * 1 MB upload; the server must follow and validate, the upload finish intact. */
static void nat_rebind_upload(bool rq_is_client, uint64_t seed)
{
    const uint64_t bytes = 1000000;
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 10000000};
    sim_nat_cfg nc = {.outside = {{RQ_AF_INET4, 0, {192, 0, 2, 1}, 0}}, .n_outside = 1};
    mixed m;
    memset(&m, 0, sizeof m);
    m.rq_is_client = rq_is_client;
    m.real_start = real_seconds();
    sim_nat *nat = NULL;
    RQ_CHECK_ERR(sim_new(sim_seed_from_env(seed), &m.s), RQ_OK);
    if (rq_is_client) {
        RQ_CHECK_ERR(sim_qnode_new(m.s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &m.rq),
                     RQ_OK);
        RQ_CHECK_ERR(sim_ngnode_new(m.s, "server", true, &SERVER_ADDR, &m.ng), RQ_OK);
    } else {
        RQ_CHECK_ERR(sim_ngnode_new(m.s, "client", false, &CLIENT_ADDR, &m.ng), RQ_OK);
        RQ_CHECK_ERR(sim_qnode_new(m.s, "server", sim_qnode_server_config(), &SERVER_ADDR, &m.rq),
                     RQ_OK);
    }
    sim_elem *rq = sim_host_elem(m.rq->host), *ng = sim_host_elem(sim_ngnode_host(m.ng));
    RQ_CHECK_ERR(sim_nat_new(m.s, "nat", &nc, &nat), RQ_OK);
    RQ_CHECK_ERR(sim_connect(m.s, rq_is_client ? rq : ng, 0, sim_nat_elem(nat), SIM_NAT_INSIDE,
                             &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_connect(m.s, sim_nat_elem(nat), SIM_NAT_OUTSIDE, rq_is_client ? ng : rq, 0,
                             &link, &link, NULL, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, bytes), RQ_OK);
    int rc = sim_run_until(m.s, 200 * RQ_MS);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(m.rq->connected && sim_ngnode_get_state(m.ng)->connected);
    RQ_CHECK(!upload_done(m.s, &m));
    unsigned changed = 0;
    RQ_CHECK_ERR(sim_nat_rebind(m.s, nat, &CLIENT_ADDR, false, &changed), RQ_OK);
    RQ_CHECK_EQ_INT(changed, 1);
    rc = sim_run_until_pred(m.s, upload_done, &m, 60 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_upload(&m, bytes);
    if (rq_is_client) {
        /* ngtcp2 gives a validation up to max(3 PTO, 6 × initial RTT) ≈ 2 s: wait for it. */
        rc = sim_run_until_pred(m.s, ng_validated, &m, sim_now(m.s) + 10 * RQ_SEC);
        report_failure(&m, rc);
        RQ_CHECK_ERR(rc, RQ_OK);
        RQ_CHECK_EQ_INT(sim_ngnode_get_state(m.ng)->paths_failed, 0);
        RQ_CHECK_EQ_INT(sim_ngnode_get_state(m.ng)->paths_validated, 1);
    } else {
        rq_conn *sc = m.rq->conn;
        RQ_CHECK(sc && sc->paths[sc->active_path].validated);
        RQ_CHECK(sc && sc->paths[sc->active_path].addr.remote.port != CLIENT_ADDR.port);
    }
    RQ_CHECK(!anyone_closed(&m));
    printf("  %llu bytes across a NAT rebinding: %.3f s virtual, %.3f s real\n",
           (unsigned long long)bytes, (double)sim_now(m.s) / 1e9, real_seconds() - m.real_start);
    mixed_free(&m);
}

/* MIG-9.3-01, MIG-9.3-02 (RFC 9000 §9.3, §8.2.2): a NAT in front of the roamquic client rebinds
 * its port in the middle of a 1 MB upload to an ngtcp2 server. The server sees non-probing
 * packets from a new address, validates it with PATH_CHALLENGE, and the client must echo the
 * data in PATH_RESPONSE (§8.2.2 MUST) for the path to validate. The upload must finish intact
 * with exactly one successful validation at the server and none failed. */
static void test_rq_client_nat_rebind_ng_server_mig_9_3(void)
{
    nat_rebind_upload(true, 0x6e670008);
}

/* MIG-9.3-01, MIG-9.3.3-01 from the other side: an ngtcp2 client behind a rebinding NAT; the
 * roamquic server follows, validates the new address and challenges the old one (§9.3.3), and
 * ngtcp2 must answer both without stalling its upload. */
static void test_ng_client_nat_rebind_rq_server_mig_9_3(void)
{
    nat_rebind_upload(false, 0x6e67000a);
}

/* MIG-9.6.1-01, MIG-9.6.1-02, MIG-9.6.2-02 against an independent client (RFC 9000 §9.6): a
 * roamquic server advertises a preferred address; ngtcp2 validates it after the handshake and
 * moves its upload there; the server follows once it validated the path itself, and every byte
 * arrives intact. */
static void test_ng_client_follows_rq_preferred_address_mig_9_6_1_02(void)
{
    static const rq_addr PREF = {RQ_AF_INET4, 4433, {10, 0, 0, 4}, 0};
    const uint64_t bytes = 1000000;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 10000000};
    mixed m;
    RQ_CHECK_ERR(mixed_new_pref(&m, 0x6e670009, &link, false, &PREF), RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, bytes), RQ_OK);
    int rc = sim_run_until_pred(m.s, upload_done, &m, 120 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_upload(&m, bytes);
    const sim_ngnode_state *ng = sim_ngnode_get_state(m.ng);
    RQ_CHECK(ng->preferred_offered);
    RQ_CHECK_EQ_INT(ng->paths_validated, 1);
    RQ_CHECK_EQ_INT(ng->paths_failed, 0);
    RQ_CHECK(rq_addr_eq(&ng->last_remote, &PREF));
    rq_conn *sc = m.rq->conn;
    RQ_CHECK(sc && rq_addr_eq(&sc->paths[sc->active_path].addr.local, &PREF));
    RQ_CHECK(sc && sc->paths[sc->active_path].validated);
    mixed_free(&m);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_rq_client_ng_server_handshake_rfc9001_4);
    RQ_RUN(test_ng_client_rq_server_handshake_rfc9001_4);
    RQ_RUN(test_upload_1mb_rq_to_ng_rfc9000_2);
    RQ_RUN(test_upload_1mb_ng_to_rq_rfc9000_2);
    RQ_RUN(test_upload_1mb_rq_to_ng_lossy_rfc9002_6);
    RQ_RUN(test_upload_1mb_ng_to_rq_lossy_rfc9002_6);
    RQ_RUN(test_rq_client_nat_rebind_ng_server_mig_9_3);
    RQ_RUN(test_ng_client_nat_rebind_rq_server_mig_9_3);
    RQ_RUN(test_ng_client_migrates_to_rq_server_mig_9_2);
    RQ_RUN(test_ng_client_follows_rq_preferred_address_mig_9_6_1_02);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
