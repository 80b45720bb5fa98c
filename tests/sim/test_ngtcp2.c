/* roamquic against ngtcp2 (an independent QUIC v1 implementation) in the simulator: both
 * handshake directions and a 1 MB upload each way, over a clean link and over a link with
 * loss and reordering; migrations and NAT rebinding both ways; and each side following the
 * other's preferred address (RFC 9000 §9.6), the roamquic client's moves asserted on the
 * decrypted wire (qtrace, fed by both endpoints' key logs). Interop is the proof that roamquic
 * reads RFC 9000/9001/9002 the way someone else does, not only the way its own tests expect.
 *
 * Seeds: RQ_SIM_SEED replays the network and both stacks' random choices (GnuTLS's own
 * randomness still varies, not packet sizes). RQ_NG_LOG=1 prints ngtcp2's log; RQ_NGPA_DUMP=1 the
 * preferred-address tests' path packets (printed anyway when one fails). */
#include "ledger.h"
#include "link.h"
#include "nat.h"
#include "ngnode.h"
#include "qnode.h"
#include "qtrace.h"
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

/* ---- a roamquic client following an ngtcp2 server's preferred address (RFC 9000 §9.6) ---- */

static const rq_addr NG_PREF4 = {RQ_AF_INET4, 4433, {10, 0, 0, 4}, 0};
static const rq_addr CLIENT_6 = {RQ_AF_INET6, 50000, {0xfd, 0, [15] = 1}, 0};
static const rq_addr SERVER_6 = {RQ_AF_INET6, 443, {0xfd, 0, [15] = 2}, 0};
static const rq_addr NG_PREF6 = {RQ_AF_INET6, 4433, {0xfd, 0, [15] = 4}, 0};

/* A roamquic client, an ngtcp2 server offering a preferred address, and a decrypting trace
 * fed by the client's key log (it logs the secrets of both directions). */
typedef struct ngpa {
    mixed m;
    qtrace qt;
    const rq_addr *server_addr; /* where the client connects */
    const rq_addr *pref;        /* the preferred address the client should pick */
} ngpa;

typedef struct ngpa_opts {
    bool ipv6;       /* client and handshake address IPv6 (else IPv4) */
    bool offer4;     /* the server advertises NG_PREF4 */
    bool offer6;     /* the server advertises NG_PREF6 */
    bool black_hole; /* the server does not own its preferred addresses */
} ngpa_opts;

static int ngpa_new(ngpa *r, uint64_t seed, const ngpa_opts *o)
{
    memset(r, 0, sizeof *r);
    mixed *m = &r->m;
    m->rq_is_client = true;
    m->real_start = real_seconds();
    r->server_addr = o->ipv6 ? &SERVER_6 : &SERVER_ADDR;
    r->pref = o->ipv6 ? &NG_PREF6 : &NG_PREF4;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 10000000};
    rq_config *cc = sim_qnode_client_config();
    if (!cc)
        return RQ_ERR_NOMEM;
    rq_config_follow_preferred_address(cc, true, o->ipv6 ? RQ_AF_INET6 : RQ_AF_INET4);
    qtrace_config(&r->qt, cc);
    int rc = sim_new(sim_seed_from_env(seed), &m->s);
    if (!rc)
        rc = sim_qnode_new(m->s, "client", cc, o->ipv6 ? &CLIENT_6 : &CLIENT_ADDR, &m->rq);
    if (!rc)
        rc = sim_ngnode_new(m->s, "server", true, r->server_addr, &m->ng);
    if (!rc)
        sim_ngnode_set_keylog(m->ng, qtrace_keylog_line, &r->qt);
    if (!rc)
        rc = sim_ngnode_set_preferred_address(m->ng, o->offer4 ? &NG_PREF4 : NULL,
                                              o->offer6 ? &NG_PREF6 : NULL, !o->black_hole);
    if (!rc)
        rc = sim_connect(m->s, sim_host_elem(m->rq->host), 0, sim_host_elem(sim_ngnode_host(m->ng)),
                         0, &link, &link, NULL, NULL);
    if (!rc)
        rc = qtrace_attach(&r->qt, m->s);
    return rc;
}

static void ngpa_free(ngpa *r)
{
    mixed_free(&r->m);
    qtrace_free(&r->qt);
}

/* Uploads `bytes` to the ngtcp2 server (which checks every byte against the pattern), runs 2 s
 * more so that validations still pending end, and checks the upload. */
static void ngpa_upload(ngpa *r, uint64_t bytes)
{
    RQ_CHECK_ERR(sim_qnode_connect(r->m.rq, r->server_addr, "localhost", bytes), RQ_OK);
    int rc = sim_run_until_pred(r->m.s, upload_done, &r->m, 120 * RQ_SEC);
    report_failure(&r->m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    rc = sim_run_until(r->m.s, sim_now(r->m.s) + 2 * RQ_SEC);
    report_failure(&r->m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_upload(&r->m, bytes);
    RQ_CHECK_EQ_U64(r->qt.st.undecryptable, 0);
    RQ_CHECK_EQ_U64(r->qt.st.malformed, 0);
}

/* What the decrypted trace says about the client and the preferred address. */
typedef struct ngpa_wire {
    rq_cid cid0;                     /* the DCID of the client's first 1-RTT packet (sequence 0) */
    rq_time handshake_done_at;       /* HANDSHAKE_DONE delivered to the client */
    const qtrace_pkt *first_to_pref; /* the client's first 1-RTT packet there */
    size_t first_to_pref_dgram_len;
    const qtrace_pkt *challenge; /* the client's first PATH_CHALLENGE there */
    const qtrace_pkt *response;  /* the server's first matching PATH_RESPONSE from there */
    size_t to_pref, nonprobing_to_pref, challenges_to_pref;
    size_t early_nonprobing_to_pref; /* before the response reached the client */
    size_t late_nonprobing_to_orig;  /* sent after the response reached the client */
    size_t late_nonprobing_to_pref;
    size_t cid0_to_pref;             /* packets to the preferred address with sequence 0's CID */
    size_t stream_to_pref;           /* packets carrying STREAM frames there */
    size_t challenges_before_answer; /* challenges sent there before the answer arrived */
    bool first_answered;             /* the answer echoes the first challenge's data */
    size_t orig_challenges_late; /* server challenges from the original address, after the move */
    size_t orig_responses_late;  /* client responses to the original address, after the move */
    size_t to_other;             /* to a server address that is neither */
    size_t from_pref_to_client;  /* the server's packets from the preferred address */
} ngpa_wire;

static bool path_data_eq(const rq_frame *a, const rq_frame *b)
{
    return memcmp(a->path.data, b->path.data, sizeof a->path.data) == 0;
}

static void ngpa_scan(const ngpa *r, ngpa_wire *w)
{
    const qtrace *qt = &r->qt;
    memset(w, 0, sizeof *w);
    w->handshake_done_at = RQ_TIME_NEVER;
    for (size_t i = 0; i < qt->count; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        if (p->type != RQ_PKT_1RTT)
            continue;
        if (p->dir == QTRACE_C2S && w->cid0.len == 0)
            w->cid0 = p->dcid;
        if (p->dir == QTRACE_S2C && qtrace_pkt_frame(qt, p, RQ_FT_HANDSHAKE_DONE) &&
            p->delivered < w->handshake_done_at)
            w->handshake_done_at = p->delivered;
        if (p->dir == QTRACE_C2S && rq_addr_eq(&p->dst, r->pref)) {
            const rq_frame *ch = qtrace_pkt_frame(qt, p, RQ_FT_PATH_CHALLENGE);
            if (!w->first_to_pref) {
                w->first_to_pref = p;
                w->first_to_pref_dgram_len =
                    sim_trace_get(sim_get_trace(r->m.s), p->trace_index)->len;
            }
            if (ch && !w->challenge)
                w->challenge = p;
        }
    }
    /* The first PATH_RESPONSE from the preferred address echoing one of the client's
     * challenges there. */
    for (size_t i = 0; i < qt->count && w->challenge; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        const rq_frame *resp =
            p->type == RQ_PKT_1RTT && p->dir == QTRACE_S2C && rq_addr_eq(&p->src, r->pref)
                ? qtrace_pkt_frame(qt, p, RQ_FT_PATH_RESPONSE)
                : NULL;
        bool matches = false;
        for (size_t k = 0; resp && k < qt->count && !matches; k++) {
            const qtrace_pkt *q = &qt->pkts[k];
            const rq_frame *ch =
                q->dir == QTRACE_C2S && rq_addr_eq(&q->dst, r->pref) && q->t <= p->t
                    ? qtrace_pkt_frame(qt, q, RQ_FT_PATH_CHALLENGE)
                    : NULL;
            matches = ch && path_data_eq(ch, resp);
        }
        if (matches) {
            w->response = p;
            w->first_answered =
                path_data_eq(qtrace_pkt_frame(qt, w->challenge, RQ_FT_PATH_CHALLENGE), resp);
            break;
        }
    }
    /* The client moved when the answer reached it: compared in trace order, not by time, so
     * that what it sent at that same instant before and after reading it is told apart. */
    size_t moved = SIZE_MAX;
    const sim_trace *tr = sim_get_trace(r->m.s);
    for (size_t i = w->response ? w->response->trace_index : SIZE_MAX; i < sim_trace_count(tr);
         i++) {
        const sim_trace_entry *e = sim_trace_get(tr, i);
        if (e->kind == SIM_EV_RECV && e->id == w->response->dgram_id) {
            moved = i;
            break;
        }
    }
    for (size_t i = 0; i < qt->count; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        if (p->type != RQ_PKT_1RTT)
            continue;
        if (p->dir == QTRACE_S2C) {
            w->from_pref_to_client += rq_addr_eq(&p->src, r->pref);
            w->orig_challenges_late += rq_addr_eq(&p->src, r->server_addr) &&
                                       p->trace_index > moved &&
                                       qtrace_pkt_frame(qt, p, RQ_FT_PATH_CHALLENGE);
            continue;
        }
        bool pref = rq_addr_eq(&p->dst, r->pref);
        bool probing = qtrace_pkt_only_probing(qt, p);
        if (!pref && !rq_addr_eq(&p->dst, r->server_addr))
            w->to_other++;
        if (!pref) {
            w->orig_responses_late +=
                p->trace_index > moved && qtrace_pkt_frame(qt, p, RQ_FT_PATH_RESPONSE);
            if (!probing && p->trace_index > moved)
                w->late_nonprobing_to_orig++;
            continue;
        }
        w->to_pref++;
        const rq_frame *ch = qtrace_pkt_frame(qt, p, RQ_FT_PATH_CHALLENGE);
        w->challenges_to_pref += ch != NULL;
        w->challenges_before_answer += ch && p->trace_index < moved;
        for (size_t k = p->first_frame; k < p->first_frame + p->frame_count; k++)
            if (qt->frames[k].type >= RQ_FT_STREAM && qt->frames[k].type <= RQ_FT_STREAM_LAST) {
                w->stream_to_pref++;
                break;
            }
        w->cid0_to_pref += rq_cid_eq(&p->dcid, &w->cid0);
        if (!probing) {
            w->nonprobing_to_pref++;
            if (p->trace_index < moved)
                w->early_nonprobing_to_pref++;
            else
                w->late_nonprobing_to_pref++;
        }
    }
}

/* The 1-RTT packets to, from or probing anything but the handshake path, one a line: what a
 * failing run prints so that the move can be read off the wire. */
static void ngpa_dump(const ngpa *r, FILE *f)
{
    const qtrace *qt = &r->qt;
    for (size_t i = 0; i < qt->count; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        bool pref = rq_addr_eq(&p->dst, r->pref) || rq_addr_eq(&p->src, r->pref);
        bool probe = qtrace_pkt_frame(qt, p, RQ_FT_PATH_CHALLENGE) ||
                     qtrace_pkt_frame(qt, p, RQ_FT_PATH_RESPONSE) ||
                     qtrace_pkt_frame(qt, p, RQ_FT_NEW_CONNECTION_ID) ||
                     qtrace_pkt_frame(qt, p, RQ_FT_RETIRE_CONNECTION_ID);
        if (p->type != RQ_PKT_1RTT || (!pref && !probe))
            continue;
        const rq_addr *a = p->dir == QTRACE_C2S ? &p->dst : &p->src;
        fprintf(f, "    %9.3f ms %s %s port %u pn %llu dcid %02x%02x%02x%02x len %u frames",
                (double)p->t / 1e6, p->dir == QTRACE_C2S ? "C->S" : "S->C",
                p->dir == QTRACE_C2S ? "to" : "from", a->port, (unsigned long long)p->pn,
                p->dcid.data[0], p->dcid.data[1], p->dcid.data[2], p->dcid.data[3], p->len);
        for (size_t k = p->first_frame; k < p->first_frame + p->frame_count; k++)
            fprintf(f, " %02llx", (unsigned long long)qt->frames[k].type);
        if (p->delivered != QTRACE_NEVER)
            fprintf(f, " (delivered %.3f ms)", (double)p->delivered / 1e6);
        fputc('\n', f);
    }
}

/* The preferred address the server put on the wire (its EncryptedExtensions), as the client
 * read it, agrees with what the ngtcp2 node was told to offer. */
static void check_offer(const ngpa *r, const ngpa_opts *o)
{
    RQ_CHECK(r->qt.have_tp[QTRACE_S2C]);
    const rq_tparams *tp = &r->qt.tp[QTRACE_S2C];
    RQ_CHECK(tp->has_preferred_address);
    const rq_preferred_address *pa = &tp->preferred_address;
    const sim_ngnode_state *ng = sim_ngnode_get_state(r->m.ng);
    RQ_CHECK_EQ_U64(pa->cid.len, ng->preferred_cid_len);
    RQ_CHECK(memcmp(pa->cid.data, ng->preferred_cid, pa->cid.len) == 0);
    if (o->offer4) {
        RQ_CHECK(memcmp(pa->ipv4_addr, NG_PREF4.ip, 4) == 0);
        RQ_CHECK_EQ_U64(pa->ipv4_port, NG_PREF4.port);
    }
    if (o->offer6) {
        RQ_CHECK(memcmp(pa->ipv6_addr, NG_PREF6.ip, 16) == 0);
        RQ_CHECK_EQ_U64(pa->ipv6_port, NG_PREF6.port);
    }
    const rq_conn *c = r->m.rq->conn;
    RQ_CHECK(c && c->peer_tp.has_preferred_address);
}

/* The client found the preferred address, validated it and moved there for good. */
static void check_follow(ngpa *r, const ngpa_opts *o, ngpa_wire *wp)
{
    ngpa_upload(r, 1000000);
    check_offer(r, o);
    ngpa_scan(r, wp);
    const ngpa_wire w = *wp;
    const rq_cid *pcid = &r->qt.tp[QTRACE_S2C].preferred_address.cid;

    /* MIG-9.6.1-01: after the handshake is confirmed (HANDSHAKE_DONE arrived), the client's
     * first packet to the preferred address is a PATH_CHALLENGE in a datagram padded to at
     * least 1200 bytes (§8.2.1), sent with the preferred address's CID (sequence 1), never
     * with the handshake's. */
    RQ_CHECK(w.first_to_pref != NULL);
    RQ_CHECK(w.challenge != NULL);
    RQ_CHECK(w.first_to_pref == w.challenge);
    if (w.challenge) {
        RQ_CHECK(w.handshake_done_at != RQ_TIME_NEVER);
        RQ_CHECK(w.challenge->t >= w.handshake_done_at);
        RQ_CHECK(rq_cid_eq(&w.challenge->dcid, pcid));
        RQ_CHECK(qtrace_pkt_only_probing(&r->qt, w.challenge));
        RQ_CHECK(w.first_to_pref_dgram_len >= 1200);
    }
    RQ_CHECK_EQ_U64(w.cid0_to_pref, 0);
    /* ngtcp2 answered from the preferred address with the challenge's data, and the answer
     * reached the client. */
    RQ_CHECK(w.response != NULL);
    RQ_CHECK(w.response && w.response->delivered != QTRACE_NEVER);
    /* MIG-9.6.2-01: nothing but probing frames there before the answer arrived. */
    RQ_CHECK_EQ_U64(w.early_nonprobing_to_pref, 0);
    /* MIG-9.6.1-02: afterwards every non-probing packet goes to the preferred address, none
     * to the original one, and the transfer ran there (check_upload: every byte intact). */
    RQ_CHECK_EQ_U64(w.late_nonprobing_to_orig, 0);
    RQ_CHECK(w.late_nonprobing_to_pref > 0);
    /* The probe is answered at once: the first challenge's answer arrives before the client
     * has to repeat it (a fresh path's PTO, about 1 s), so that the move happens while the
     * upload is running and STREAM data goes to the preferred address. ngtcp2 answers on a
     * new path only with a CID of the client's that no other path uses (RFC 9000 §9.5), so
     * this needs the client's NEW_CONNECTION_ID frames to reach the server no later than its
     * first PATH_CHALLENGE (§5.1.1: the peer SHOULD have spare CIDs). */
    RQ_CHECK_EQ_U64(w.challenges_before_answer, 1);
    RQ_CHECK(w.first_answered);
    RQ_CHECK(w.stream_to_pref > 0);
    /* Exactly one preferred address (§9.6.1): no datagram to any other server address. */
    RQ_CHECK_EQ_U64(w.to_other, 0);
    /* The server moved too: its last datagrams leave from the preferred address. */
    const sim_ngnode_state *ng = sim_ngnode_get_state(r->m.ng);
    RQ_CHECK(ng->recv_at_preferred > 0);
    RQ_CHECK(rq_addr_eq(&ng->path_local, r->pref));
    RQ_CHECK_EQ_INT(ng->paths_failed, 0);
    const rq_conn *c = r->m.rq->conn;
    RQ_CHECK(c && rq_addr_eq(&c->paths[c->active_path].addr.remote, r->pref));
    RQ_CHECK(c && c->paths[c->active_path].validated);
}

static void run_follow(uint64_t seed, const ngpa_opts *o)
{
    ngpa r;
    RQ_CHECK_ERR(ngpa_new(&r, seed, o), RQ_OK);
    ngpa_wire w;
    memset(&w, 0, sizeof w);
    check_follow(&r, o, &w);
    if (rq_test_case_failed_ || getenv("RQ_NGPA_DUMP"))
        ngpa_dump(&r, stderr);
    const sim_ngnode_state *ng = sim_ngnode_get_state(r.m.ng);
    /* Not asserted: after the move ngtcp2 also
     * challenges the client from its original address, and roamquic, which no longer has a
     * path to that address, drops those datagrams unanswered. */
    printf("  after the move: %zu challenges from the original server address, %zu answered\n",
           w.orig_challenges_late, w.orig_responses_late);
    printf("  challenge at %.3f s (HANDSHAKE_DONE at %.3f s), answered at %.3f s; %zu packets to "
           "the preferred address (%zu non-probing), %zu challenges; ngtcp2 validated %u path(s); "
           "%.3f s virtual, %.3f s real\n",
           w.challenge ? (double)w.challenge->t / 1e9 : -1.0, (double)w.handshake_done_at / 1e9,
           w.response ? (double)w.response->delivered / 1e9 : -1.0, w.to_pref, w.nonprobing_to_pref,
           w.challenges_to_pref, ng->paths_validated, (double)sim_now(r.m.s) / 1e9,
           real_seconds() - r.m.real_start);
    ngpa_free(&r);
}

/* MIG-9.6.1-01, MIG-9.6.1-02, MIG-9.6.2-01 against an independent server (RFC 9000 §9.6): an
 * ngtcp2 server advertises an IPv4 preferred address; the roamquic client probes it with
 * PATH_CHALLENGE under the preferred address's CID (sequence 1) once the handshake is
 * confirmed, sends it nothing else until ngtcp2's PATH_RESPONSE arrives, then moves its 1 MB
 * upload there for good; every byte arrives intact. */
static void test_ngtcp2_server_preferred_address_mig_9_6_1_01(void)
{
    ngpa_opts o = {.offer4 = true};
    run_follow(0x6e670961, &o);
}

/* MIG-9.6.1-01, MIG-9.6.1-02, MIG-9.6.3-05 over IPv6: the ngtcp2 server offers both an IPv4
 * and an IPv6 preferred address; the client, on IPv6, validates and moves to the IPv6 one and
 * never sends to the IPv4 one (the family in use decides, §9.6.1, §9.6.3). */
static void test_ngtcp2_server_preferred_address_ipv6_mig_9_6_1_02(void)
{
    ngpa_opts o = {.ipv6 = true, .offer4 = true, .offer6 = true};
    run_follow(0x6e670962, &o);
}

/* MIG-9.6.1-01 ("exactly one"): both families offered, the IPv4 client picks the IPv4 one. */
static void test_ngtcp2_server_preferred_address_both_families_v4_mig_9_6_1_01(void)
{
    ngpa_opts o = {.offer4 = true, .offer6 = true};
    run_follow(0x6e670964, &o);
}

/* MIG-9.6.1-03 against ngtcp2: the advertised IPv4 preferred address is a black hole (the
 * server does not own it). The client probes it — only probing frames, with the preferred
 * address's CID — gets no answer, keeps every non-probing packet on the original address,
 * gives the probe up, and the 1 MB upload completes intact there. */
static void test_ngtcp2_server_preferred_address_black_hole_mig_9_6_1_03(void)
{
    const uint64_t bytes = 1000000;
    ngpa_opts o = {.offer4 = true, .black_hole = true};
    ngpa r;
    RQ_CHECK_ERR(ngpa_new(&r, 0x6e670963, &o), RQ_OK);
    ngpa_upload(&r, bytes);
    /* Long enough for the validation to give up (3 PTOs of a fresh path, about 3 s). */
    int rc = sim_run_until(r.m.s, sim_now(r.m.s) + 6 * RQ_SEC);
    report_failure(&r.m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    check_offer(&r, &o);
    ngpa_wire w;
    ngpa_scan(&r, &w);
    RQ_CHECK(w.challenge != NULL); /* it did try */
    RQ_CHECK(w.challenge &&
             rq_cid_eq(&w.challenge->dcid, &r.qt.tp[QTRACE_S2C].preferred_address.cid));
    RQ_CHECK(w.response == NULL);
    RQ_CHECK_EQ_U64(w.nonprobing_to_pref, 0);
    RQ_CHECK_EQ_U64(w.to_other, 0);
    RQ_CHECK_EQ_U64(w.from_pref_to_client, 0);
    const sim_ngnode_state *ng = sim_ngnode_get_state(r.m.ng);
    RQ_CHECK_EQ_U64(ng->recv_at_preferred, 0);
    RQ_CHECK(rq_addr_eq(&ng->last_local, &SERVER_ADDR));
    const rq_conn *c = r.m.rq->conn;
    RQ_CHECK(c && rq_addr_eq(&c->paths[c->active_path].addr.remote, &SERVER_ADDR));
    for (uint32_t i = 0; c && i < RQ_MAX_PATHS; i++)
        RQ_CHECK(!c->paths[i].in_use || !rq_addr_eq(&c->paths[i].addr.remote, &NG_PREF4));
    RQ_CHECK(!anyone_closed(&r.m));
    if (rq_test_case_failed_ || getenv("RQ_NGPA_DUMP"))
        ngpa_dump(&r, stderr);
    printf("  %zu challenges into the black hole, first at %.3f s; upload done at %.3f s "
           "virtual, %.3f s real\n",
           w.challenges_to_pref, w.challenge ? (double)w.challenge->t / 1e9 : -1.0,
           (double)sim_now(r.m.s) / 1e9, real_seconds() - r.m.real_start);
    ngpa_free(&r);
}

/* MIG-9.5-03: an ngtcp2 server that uses zero-length CIDs. The roamquic client neither
 * probes a new path nor migrates (the paths would be trivially linked): the API declines, no
 * packet leaves from the second address, and the upload completes on the first. */
static void test_no_migration_towards_zero_length_cids_mig_9_5_03(void)
{
    static const rq_addr CLIENT_B = {RQ_AF_INET4, 50001, {10, 0, 0, 3}, 0};
    mixed m;
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    RQ_CHECK_ERR(mixed_new(&m, 0x9503, &link, true), RQ_OK);
    sim_ngnode_set_zero_length_cid(m.ng, true);
    RQ_CHECK_ERR(sim_host_add_addr(m.rq->host, &CLIENT_B, 0), RQ_OK);
    RQ_CHECK_ERR(mixed_connect(&m, 1000000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(m.s, 200 * RQ_MS), RQ_OK);
    rq_conn *c = m.rq->conn;
    RQ_CHECK(c && c->handshake_confirmed);
    RQ_CHECK_EQ_U64(c->dcid.len, 0);
    rq_path_addr b = {CLIENT_B, SERVER_ADDR};
    uint32_t id = 0;
    RQ_CHECK_ERR(rq_conn_probe_path(c, sim_now(m.s), &b, &id), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_conn_migrate(c, sim_now(m.s), 1), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(sim_host_wake(m.s, m.rq->host), RQ_OK);
    int rc = sim_run_until_pred(m.s, upload_done, &m, 30 * RQ_SEC);
    report_failure(&m, rc);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(sim_ngnode_get_state(m.ng)->fin_received);
    RQ_CHECK(!anyone_closed(&m));
    sim_ledger *l = sim_get_ledger(m.s);
    RQ_CHECK_EQ_U64(sim_ledger_pair(l, &CLIENT_B, &SERVER_ADDR).sent_bytes, 0);
    RQ_CHECK(sim_ledger_pair(l, &CLIENT_ADDR, &SERVER_ADDR).sent_bytes > 1000000);
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
    RQ_RUN(test_ngtcp2_server_preferred_address_mig_9_6_1_01);
    RQ_RUN(test_ngtcp2_server_preferred_address_ipv6_mig_9_6_1_02);
    RQ_RUN(test_ngtcp2_server_preferred_address_both_families_v4_mig_9_6_1_01);
    RQ_RUN(test_ngtcp2_server_preferred_address_black_hole_mig_9_6_1_03);
    RQ_RUN(test_no_migration_towards_zero_length_cids_mig_9_5_03);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
