/* Frames in packet types that may not carry them (RFC 9000 §12.4, Table 3): the migration
 * frames NEW_CONNECTION_ID, RETIRE_CONNECTION_ID and PATH_CHALLENGE belong in 0-RTT and 1-RTT
 * packets only, PATH_RESPONSE in 1-RTT only. One forged Initial or Handshake packet carrying
 * such a frame — protected with the live keys of its space, so that it opens and its frames
 * are read — must close the connection with PROTOCOL_VIOLATION (0x0a), and the close must be
 * what the peer sees on the (decrypted) wire, naming the offending frame type (§19.19). */
#include "inject.h"
#include "link.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/packet.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct env {
    sim *s;
    sim_qnode *client, *server;
    sim_link *c2s, *s2c;
    qtrace qt;
} env;

static int setup(env *e, uint64_t seed)
{
    memset(e, 0, sizeof *e);
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    rq_config *cc = sim_qnode_client_config();
    rq_config *sc = sim_qnode_server_config();
    if (!cc || !sc) {
        rq_config_free(cc);
        rq_config_free(sc);
        return RQ_ERR_NOMEM;
    }
    qtrace_config(&e->qt, cc);
    qtrace_config(&e->qt, sc);
    int rc = sim_new(seed, &e->s);
    if (!rc)
        rc = qtrace_attach(&e->qt, e->s);
    if (!rc)
        rc = sim_qnode_new(e->s, "client", cc, &CLIENT_ADDR, &e->client);
    else
        rq_config_free(cc);
    if (!rc)
        rc = sim_qnode_new(e->s, "server", sc, &SERVER_ADDR, &e->server);
    else
        rq_config_free(sc);
    if (!rc)
        rc = sim_connect(e->s, sim_host_elem(e->client->host), 0, sim_host_elem(e->server->host), 0,
                         &link, &link, &e->c2s, &e->s2c);
    return rc;
}

static void teardown(env *e)
{
    sim_free(e->s);
    sim_qnode_free(e->client);
    sim_qnode_free(e->server);
    qtrace_free(&e->qt);
}

/* Protects `payload` as a long-header packet of space sp (Initial or Handshake) with the given
 * keys, DCID and SCID, padded with PADDING to pad_to bytes, and puts it on link l. */
static int forge_long(env *e, sim_link *l, rq_pn_space sp, rq_packet_key *key, rq_hp_key *hp,
                      const rq_cid *dcid, const rq_cid *scid, uint64_t pn, const rq_addr *src,
                      const rq_addr *dst, const uint8_t *payload, size_t len, size_t pad_to)
{
    uint8_t pkt[1500];
    rq_wr w = rq_wr_init(pkt, sizeof pkt - RQ_AEAD_TAG_LEN);
    rq_pkt_wpos pos;
    int rc = rq_pkt_write_long(&w, sp == RQ_PN_SPACE_INITIAL ? RQ_PKT_INITIAL : RQ_PKT_HANDSHAKE,
                               RQ_VERSION_1, dcid, scid, NULL, 0, pn, 4, 2, &pos);
    if (rc)
        return rc;
    if (!rq_wr_bytes(&w, payload, len))
        return RQ_ERR_BUFFER_TOO_SMALL;
    while ((size_t)(w.p - pkt) - pos.pn_offset < 4 + 4 ||
           (size_t)(w.p - pkt) + RQ_AEAD_TAG_LEN < pad_to)
        if (!rq_wr_u8(&w, 0))
            return RQ_ERR_BUFFER_TOO_SMALL;
    rc = rq_pkt_finish_long(&pos, (size_t)(w.p - pkt) - pos.pn_offset + RQ_AEAD_TAG_LEN);
    if (rc)
        return rc;
    size_t out;
    rc = rq_packet_protect(key, hp, pn, pkt, (size_t)(w.p - pkt), pos.pn_offset, sizeof pkt, &out);
    if (rc)
        return rc;
    return sim_inject(e->s, l, sim_now(e->s), src, dst, pkt, out, NULL);
}

static bool server_has_handshake_keys(sim *s, void *ctx)
{
    (void)s;
    env *e = ctx;
    return e->server->conn && e->server->conn->spaces[RQ_PN_SPACE_HANDSHAKE].has_rx;
}

static bool client_has_handshake_keys(sim *s, void *ctx)
{
    (void)s;
    env *e = ctx;
    return e->client->conn && e->client->conn->spaces[RQ_PN_SPACE_HANDSHAKE].has_rx;
}

static bool both_closed(sim *s, void *ctx)
{
    (void)s;
    env *e = ctx;
    return e->client->closed && e->server->closed;
}

/* The frames under test, each in a minimal valid encoding (RFC 9000 §19.15, §19.16, §19.17,
 * §19.18). */
typedef struct bad_frame {
    const char *name;
    uint64_t type;
    const char *hex;
} bad_frame;

static const bad_frame BAD_FRAMES[] = {
    {"NEW_CONNECTION_ID", RQ_FT_NEW_CONNECTION_ID,
     "18 01 00 08 a1 a2 a3 a4 a5 a6 a7 a8 b0 b1 b2 b3 b4 b5 b6 b7 b8 b9 ba bb bc bd be bf"},
    {"RETIRE_CONNECTION_ID", RQ_FT_RETIRE_CONNECTION_ID, "19 00"},
    {"PATH_CHALLENGE", RQ_FT_PATH_CHALLENGE, "1a 01 02 03 04 05 06 07 08"},
    {"PATH_RESPONSE", RQ_FT_PATH_RESPONSE, "1b 01 02 03 04 05 06 07 08"},
};

/* What the wire must show after the forgery: the forged packet decoded as the claimed type with
 * the claimed frame (so the test forged what it says), and a CONNECTION_CLOSE (0x1c) with
 * PROTOCOL_VIOLATION sent by `closer` after it. Returns 0 or the line of the first failure. */
static int check_wire(const env *e, int forger_dir, uint8_t pkt_type, uint64_t frame_type)
{
    const qtrace *qt = &e->qt;
    size_t forged = SIZE_MAX;
    for (size_t i = 0; i < qt->count && forged == SIZE_MAX; i++)
        if (qt->pkts[i].injected && qt->pkts[i].dir == forger_dir && qt->pkts[i].type == pkt_type &&
            qtrace_pkt_frame(qt, &qt->pkts[i], frame_type))
            forged = i;
    if (forged == SIZE_MAX)
        return __LINE__;
    if (qt->pkts[forged].delivered == QTRACE_NEVER)
        return __LINE__;
    int closer = forger_dir == QTRACE_C2S ? QTRACE_S2C : QTRACE_C2S;
    for (size_t i = forged + 1; i < qt->count; i++) {
        const qtrace_pkt *p = &qt->pkts[i];
        if (p->dir != closer)
            continue;
        const rq_frame *f = qtrace_pkt_frame(qt, p, RQ_FT_CONNECTION_CLOSE);
        if (!f)
            continue;
        if (f->close.error_code != 0x0a)
            return __LINE__;
        /* §19.19: the transport close names the frame type that caused it. */
        if (f->close.frame_type != frame_type)
            return __LINE__;
        printf("  wire: CONNECTION_CLOSE 0x0a in a %s packet, frame type 0x%llx\n",
               p->type == RQ_PKT_INITIAL     ? "Initial"
               : p->type == RQ_PKT_HANDSHAKE ? "Handshake"
                                             : "1-RTT",
               (unsigned long long)f->close.frame_type);
        return 0;
    }
    return __LINE__;
}

/* Client → server: the frame in a client Initial (keys: the client's own Initial keys, right
 * after its first flight; padded to 1200 bytes as every client Initial datagram) or in a client
 * Handshake packet (keys: the server's Handshake read keys, which are the client's write keys,
 * forged as soon as the server has them and so before the client's Finished can confirm the
 * handshake and discard them). */
static void expect_server_closes(const bad_frame *bf, rq_pn_space sp)
{
    env e;
    uint8_t payload[128];
    size_t len = rq_test_hex(bf->hex, payload, sizeof payload);
    RQ_CHECK_ERR(setup(&e, 0x1240 + bf->type), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(e.client, &SERVER_ADDR, "localhost", 0), RQ_OK);
    if (sp == RQ_PN_SPACE_INITIAL) {
        RQ_CHECK_ERR(sim_run_until(e.s, 1 * RQ_MS), RQ_OK);
        rq_conn *c = e.client->conn;
        RQ_CHECK(c != NULL && c->spaces[RQ_PN_SPACE_INITIAL].has_tx);
        if (!c)
            goto out;
        rq_space *s = &c->spaces[RQ_PN_SPACE_INITIAL];
        uint64_t pn = s->next_pn++;
        RQ_CHECK_ERR(forge_long(&e, e.c2s, sp, &s->tx, &s->tx_hp, &c->dcid, &c->scid, pn,
                                &CLIENT_ADDR, &SERVER_ADDR, payload, len, 1200),
                     RQ_OK);
    } else {
        RQ_CHECK_ERR(sim_run_until_pred(e.s, server_has_handshake_keys, &e, 5 * RQ_SEC), RQ_OK);
        rq_conn *sc = e.server->conn;
        RQ_CHECK(sc && !sc->handshake_complete);
        if (!sc)
            goto out;
        rq_space *s = &sc->spaces[RQ_PN_SPACE_HANDSHAKE];
        RQ_CHECK_ERR(forge_long(&e, e.c2s, sp, &s->rx, &s->rx_hp, &sc->scid, &sc->dcid, 0x20,
                                &CLIENT_ADDR, &SERVER_ADDR, payload, len, 0),
                     RQ_OK);
    }
    int rc = sim_run_until_pred(e.s, both_closed, &e, sim_now(e.s) + 10 * RQ_SEC);
    if (rc || e.server->close_code != 0x0a)
        fprintf(stderr, "  %s in %s: rc %d, server closed %d code 0x%llx, client 0x%llx\n",
                bf->name, sp == RQ_PN_SPACE_INITIAL ? "Initial" : "Handshake", rc, e.server->closed,
                (unsigned long long)e.server->close_code, (unsigned long long)e.client->close_code);
    RQ_CHECK_ERR(rc, RQ_OK);
    /* The server detected it (not told by the peer), with PROTOCOL_VIOLATION ... */
    RQ_CHECK(e.server->closed && !e.server->close_by_peer && !e.server->close_app);
    RQ_CHECK_EQ_U64(e.server->close_code, 0x0a);
    /* ... and the client heard it from the server's CONNECTION_CLOSE. */
    RQ_CHECK(e.client->close_by_peer);
    RQ_CHECK_EQ_U64(e.client->close_code, 0x0a);
    int line = check_wire(&e, QTRACE_C2S,
                          sp == RQ_PN_SPACE_INITIAL ? RQ_PKT_INITIAL : RQ_PKT_HANDSHAKE, bf->type);
    RQ_CHECK_EQ_INT(line, 0);
out:
    teardown(&e);
}

/* Server → client: the frame in a server Handshake packet, forged with the client's Handshake
 * read keys as soon as it has them (before HANDSHAKE_DONE can confirm the handshake). */
static void expect_client_closes(const bad_frame *bf)
{
    env e;
    uint8_t payload[128];
    size_t len = rq_test_hex(bf->hex, payload, sizeof payload);
    RQ_CHECK_ERR(setup(&e, 0x1250 + bf->type), RQ_OK);
    RQ_CHECK_ERR(sim_qnode_connect(e.client, &SERVER_ADDR, "localhost", 0), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(e.s, client_has_handshake_keys, &e, 5 * RQ_SEC), RQ_OK);
    rq_conn *c = e.client->conn;
    RQ_CHECK(c && !c->handshake_confirmed);
    if (!c) {
        teardown(&e);
        return;
    }
    rq_space *s = &c->spaces[RQ_PN_SPACE_HANDSHAKE];
    RQ_CHECK_ERR(forge_long(&e, e.s2c, RQ_PN_SPACE_HANDSHAKE, &s->rx, &s->rx_hp, &c->scid, &c->dcid,
                            0x40, &SERVER_ADDR, &CLIENT_ADDR, payload, len, 0),
                 RQ_OK);
    int rc = sim_run_until_pred(e.s, both_closed, &e, sim_now(e.s) + 10 * RQ_SEC);
    if (rc || e.client->close_code != 0x0a)
        fprintf(stderr, "  %s in server Handshake: rc %d, client closed %d code 0x%llx\n", bf->name,
                rc, e.client->closed, (unsigned long long)e.client->close_code);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(e.client->closed && !e.client->close_by_peer && !e.client->close_app);
    RQ_CHECK_EQ_U64(e.client->close_code, 0x0a);
    RQ_CHECK(e.server->close_by_peer);
    RQ_CHECK_EQ_U64(e.server->close_code, 0x0a);
    RQ_CHECK_EQ_INT(check_wire(&e, QTRACE_S2C, RQ_PKT_HANDSHAKE, bf->type), 0);
    teardown(&e);
}

/* MIG-12.4-01: the checklist's two cases — PATH_CHALLENGE in a client Handshake packet and
 * NEW_CONNECTION_ID in a client Initial — each close the connection with PROTOCOL_VIOLATION
 * (0x0a): the server reports 0x0a of its own, the client receives 0x0a in the server's
 * CONNECTION_CLOSE, and the decrypted wire shows the forged packet followed by the server's
 * CONNECTION_CLOSE (0x1c) carrying 0x0a. */
static void test_migration_frames_in_long_headers_mig_12_4_01(void)
{
    expect_server_closes(&BAD_FRAMES[2], RQ_PN_SPACE_HANDSHAKE); /* PATH_CHALLENGE */
    expect_server_closes(&BAD_FRAMES[0], RQ_PN_SPACE_INITIAL);   /* NEW_CONNECTION_ID */
}

/* MIG-12.4-01: every migration frame (NEW_CONNECTION_ID, RETIRE_CONNECTION_ID, PATH_CHALLENGE,
 * PATH_RESPONSE) in both long-header packet types a client sends (Initial, Handshake) is a
 * PROTOCOL_VIOLATION at the server, and the same four in a server Handshake packet are one at
 * the client (the row binds either endpoint). */
static void test_all_migration_frames_both_roles_mig_12_4_01(void)
{
    for (size_t i = 0; i < sizeof BAD_FRAMES / sizeof BAD_FRAMES[0]; i++) {
        expect_server_closes(&BAD_FRAMES[i], RQ_PN_SPACE_INITIAL);
        expect_server_closes(&BAD_FRAMES[i], RQ_PN_SPACE_HANDSHAKE);
        expect_client_closes(&BAD_FRAMES[i]);
    }
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_migration_frames_in_long_headers_mig_12_4_01);
    RQ_RUN(test_all_migration_frames_both_roles_mig_12_4_01);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
