/* Stateless reset and packets no connection can use, between two roamquic endpoints in the
 * simulator (RFC 9000 §5.2, §5.2.2, §10.3, §10.3.1), asserted on the wire: the decrypting
 * trace (qtrace.h), a raw log of every datagram's bytes kept beside it, and the byte ledger
 * (ledger.h). The server has static keys, so the test knows every reset token it can derive
 * (token = HMAC-SHA256(key, CID)[0..16], RFC 9000 §10.3.2). */
#include "inject.h"
#include "ledger.h"
#include "qpair.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/endpoint.h"
#include "core/packet.h"
#include "core/reset.h"
#include "core/wire.h"
#include "crypto/crypto.h"
#include "crypto/reset_token.h"

#include <stdlib.h>

static const sim_link_cfg LINK_10MS = {.delay = 10 * RQ_MS, .rate_bps = 100000000};

static const uint8_t RESET_KEY[32] = {
    0x33, 0x10, 0x03, 0x77, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x99};
static const uint8_t TOKEN_KEY[32] = {0x44, 0x01};

/* Addresses that are neither side's: an off-path attacker's spoofed sources. */
static const rq_addr STRANGER = {RQ_AF_INET4, 6000, {10, 0, 0, 99}, 0};

/* One datagram as a host sent or received it, or as an injector created it. */
typedef struct rawdg {
    rq_time t;
    uint8_t kind; /* SIM_EV_SEND, SIM_EV_RECV, SIM_EV_INJECT */
    uint64_t id;  /* the datagram (its original for a copy) */
    rq_addr src, dst;
    uint32_t len;
    uint8_t head[32];
    uint8_t tail[16];
} rawdg;

typedef struct scene {
    qpair p;
    qtrace qt;
    rawdg *log;
    size_t n, cap;
} scene;

/* The scene of the running case until scene_free: a failed check returns from the case
 * early, and RUN frees what it left (so that a failure reads as a failure, not as leaks). */
static scene *open_scene;

/* The trace hook: the decrypting observer's work (as qtrace_attach's own hook does), plus the
 * raw log. */
static void hook(void *ctx, sim_trace *t, size_t index, const sim_trace_entry *e,
                 const uint8_t *data, size_t len)
{
    (void)t;
    scene *sc = ctx;
    if (e->kind == SIM_EV_SEND || e->kind == SIM_EV_INJECT)
        qtrace_datagram(&sc->qt, e, index, data, len);
    else if (e->kind == SIM_EV_RECV)
        qtrace_delivered(&sc->qt, e->parent ? e->parent : e->id, e->t);
    else
        return;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 1024;
        rawdg *n = realloc(sc->log, cap * sizeof *n);
        if (!n)
            return;
        sc->log = n;
        sc->cap = cap;
    }
    rawdg *r = &sc->log[sc->n++];
    memset(r, 0, sizeof *r);
    r->t = e->t;
    r->kind = e->kind;
    r->id = e->parent ? e->parent : e->id;
    r->src = e->src_out;
    r->dst = e->dst_out;
    r->len = (uint32_t)len;
    memcpy(r->head, data, len < sizeof r->head ? len : sizeof r->head);
    if (len >= 16)
        memcpy(r->tail, data + len - 16, 16);
}

/* Client and server (the server with static keys), the observer, a handshake and an upload of
 * `bytes` on one stream. With `wait_done` the run goes on until the upload is done and 300 ms
 * more (handshake confirmed, spare CIDs issued and acknowledged); without, only until both
 * sides are connected and 60 ms more (the transfer is under way). */
static int scene_new(scene *sc, uint64_t seed, const rq_transport_settings *ct, uint64_t bytes,
                     bool wait_done)
{
    memset(sc, 0, sizeof *sc);
    open_scene = sc;
    rq_config *c = qpair_config(RQ_ROLE_CLIENT, ct, 0);
    rq_config *s = qpair_config(RQ_ROLE_SERVER, NULL, 0);
    if (!c || !s || rq_config_set_static_keys(s, RESET_KEY, TOKEN_KEY) != 0) {
        rq_config_free(c);
        rq_config_free(s);
        return RQ_ERR_NOMEM;
    }
    qtrace_config(&sc->qt, c);
    qtrace_config(&sc->qt, s);
    int rc = qpair_new(&sc->p, seed, &LINK_10MS, c, s, false);
    if (!rc)
        rc = qtrace_attach(&sc->qt, sc->p.s);
    if (rc)
        return rc;
    sim_trace_set_hook(sim_get_trace(sc->p.s), hook, sc);
    rc = sim_qapp_connect(sc->p.client, &QPAIR_SERVER_ADDR, "localhost", 1, bytes);
    if (!rc && wait_done) {
        rc = sim_run_until_pred(sc->p.s, qpair_upload_done, &sc->p, 20 * RQ_SEC);
        if (!rc && !sim_qapp_upload_done(sc->p.client, sc->p.server))
            rc = RQ_ERR_INTERNAL;
    } else if (!rc) {
        rc = sim_run_until_pred(sc->p.s, qpair_connected, &sc->p, 20 * RQ_SEC);
    }
    if (!rc)
        rc = sim_run_until(sc->p.s, sim_now(sc->p.s) + (wait_done ? 300 : 60) * RQ_MS);
    if (!rc && (sc->p.client->closed || sc->p.server->closed || !sc->p.client->connected))
        rc = RQ_ERR_INTERNAL;
    return rc;
}

static void scene_free(scene *sc)
{
    qpair_free(&sc->p);
    qtrace_free(&sc->qt);
    free(sc->log);
    memset(sc, 0, sizeof *sc);
    if (open_scene == sc)
        open_scene = NULL;
}

#define RUN(fn)                     \
    do {                            \
        RQ_RUN(fn);                 \
        if (open_scene)             \
            scene_free(open_scene); \
    } while (0)

/* Datagrams of `kind` from src (family 0: any) to dst (family 0: any) at or after t. */
static size_t count_raw(const scene *sc, uint8_t kind, const rq_addr *src, const rq_addr *dst,
                        rq_time t)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const rawdg *r = &sc->log[i];
        n += r->kind == kind && r->t >= t && (!src->family || rq_addr_eq(&r->src, src)) &&
             (!dst->family || rq_addr_eq(&r->dst, dst));
    }
    return n;
}

/* The first entry of `kind` at or after log index `from` from src to dst (family 0: any). */
static long find_raw(const scene *sc, size_t from, uint8_t kind, const rq_addr *src,
                     const rq_addr *dst)
{
    for (size_t i = from; i < sc->n; i++) {
        const rawdg *r = &sc->log[i];
        if (r->kind == kind && (!src->family || rq_addr_eq(&r->src, src)) &&
            (!dst->family || rq_addr_eq(&r->dst, dst)))
            return (long)i;
    }
    return -1;
}

/* When datagram `id` reached a host (0: never). */
static rq_time delivered_at(const scene *sc, uint64_t id)
{
    for (size_t i = 0; i < sc->n; i++)
        if (sc->log[i].kind == SIM_EV_RECV && sc->log[i].id == id)
            return sc->log[i].t;
    return 0;
}

/* Whether the observer saw the server give the client this token (transport parameter or
 * NEW_CONNECTION_ID): the client learned it on the wire. */
static bool token_on_wire(const scene *sc, const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    for (size_t i = 0; i < sc->qt.token_count[QTRACE_S2C]; i++)
        if (memcmp(sc->qt.tokens[QTRACE_S2C][i], token, RQ_RESET_TOKEN_LEN) == 0)
            return true;
    return false;
}

/* Decrypted packets the client sent at or after t. */
static size_t client_pkts_since(const scene *sc, rq_time t)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->qt.count; i++)
        n += sc->qt.pkts[i].dir == QTRACE_C2S && sc->qt.pkts[i].t >= t;
    return n;
}

static void fill_random(uint64_t *rs, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rq_test_rand(rs);
}

static const rq_addr ANY = {0};

/* ---- MIG-10.3-07: a long header ending with a valid token ---------------------------- */

enum { LONG_ROUTED, LONG_INITIAL, LONG_OTHER_VERSION };

/* A datagram with a long header that ends with `token`: LONG_ROUTED a version-1 Handshake
 * header whose DCID is the client's own CID (it reaches the connection, which has no
 * Handshake keys any more), LONG_INITIAL a 1200-byte version-1 Initial header with a random
 * DCID (no connection), LONG_OTHER_VERSION a header of an unknown version. The rest is
 * random. */
static size_t long_header_dgram(int variant, const rq_cid *client_cid, const uint8_t *token,
                                uint64_t *rs, uint8_t *out)
{
    size_t len = variant == LONG_INITIAL ? 1200 : variant == LONG_ROUTED ? 80 : 60;
    fill_random(rs, out, len);
    uint32_t version = variant == LONG_OTHER_VERSION ? 0x1a2a3a4au : RQ_VERSION_1;
    uint8_t type = variant == LONG_INITIAL ? 0 : 2;
    out[0] = (uint8_t)(0xc0 | type << 4 | (out[0] & 0x0f));
    out[1] = (uint8_t)(version >> 24);
    out[2] = (uint8_t)(version >> 16);
    out[3] = (uint8_t)(version >> 8);
    out[4] = (uint8_t)version;
    out[5] = 8;
    if (variant == LONG_ROUTED)
        memcpy(out + 6, client_cid->data, 8);
    out[14] = 8;
    memcpy(out + len - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
    return len;
}

/* Delivers a long-header datagram with a wrong token (nothing happens: the client keeps
 * going), then the same with the token of the CID the client sends with: the client must
 * take it as a Stateless Reset — closed by the peer when it arrives, and silent from then
 * on. */
static void run_long_header_reset(int variant, uint64_t seed)
{
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, seed, NULL, 20000, true), RQ_OK);
    rq_conn *cc = sc.p.client->conn;
    RQ_CHECK(cc && cc->scid.len == 8);
    uint8_t token[RQ_RESET_TOKEN_LEN], wrong[RQ_RESET_TOKEN_LEN];
    RQ_CHECK_ERR(rq_reset_token_derive(RESET_KEY, &cc->dcid, token), RQ_OK);
    RQ_CHECK(token_on_wire(&sc, token));
    memcpy(wrong, token, sizeof wrong);
    wrong[15] ^= 1;
    uint64_t rs = seed;
    uint8_t dg[1200];
    size_t len = long_header_dgram(variant, &cc->scid, wrong, &rs, dg);
    RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.s2c, sim_now(sc.p.s), &QPAIR_SERVER_ADDR,
                            &QPAIR_CLIENT_ADDR, dg, len, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, sim_now(sc.p.s) + 100 * RQ_MS), RQ_OK);
    RQ_CHECK(!sc.p.client->closed);
    len = long_header_dgram(variant, &cc->scid, token, &rs, dg);
    uint64_t id;
    rq_time t0 = sim_now(sc.p.s);
    RQ_CHECK_ERR(
        sim_inject(sc.p.s, sc.p.s2c, t0, &QPAIR_SERVER_ADDR, &QPAIR_CLIENT_ADDR, dg, len, &id),
        RQ_OK);
    /* Keep the client busy so that a live connection would have to send. */
    RQ_CHECK_ERR(sim_qapp_upload_more(sc.p.client, 1), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t0 + 3 * RQ_SEC), RQ_OK);
    rq_time at = delivered_at(&sc, id);
    RQ_CHECK(at > 0);
    RQ_CHECK(sc.p.client->closed);
    RQ_CHECK_EQ_U64(sc.p.client->closed_at, at);
    RQ_CHECK(sc.p.client->close_by_peer);
    RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, &ANY, at), 0);
    scene_free(&sc);
}

/* MIG-10.3-07 — RFC 9000 §10.3: "endpoints MUST treat any packet ending in a valid stateless
 * reset token as a Stateless Reset, as other QUIC versions might allow the use of a long
 * header". Here a version-1 Handshake header whose DCID is the client's CID (so the datagram
 * reaches the connection, which can no longer read it) ends with the token of the CID the
 * client uses (learned from the server's transport parameters on the wire). Expected: the
 * client closes, by the peer, when it arrives, and sends nothing more; with one token bit
 * flipped, nothing happens. */
static void test_long_header_reset_to_connection_mig_10_3_07(void)
{
    run_long_header_reset(LONG_ROUTED, 0x10307a);
}

/* MIG-10.3-07 — as above with a 1200-byte version-1 Initial header whose DCID routes to no
 * connection (the endpoint must compare the tail with its connections' tokens). */
static void test_long_header_reset_initial_form_mig_10_3_07(void)
{
    run_long_header_reset(LONG_INITIAL, 0x10307b);
}

/* MIG-10.3-07 — as above with a long header of an unknown version (the "other QUIC versions"
 * the RFC has in mind); a client does not answer it with Version Negotiation. */
static void test_long_header_reset_other_version_mig_10_3_07(void)
{
    run_long_header_reset(LONG_OTHER_VERSION, 0x10307c);
}

/* ---- MIG-10.3.1-01: a restarted server's reset --------------------------------------- */

/* Handshake and upload, then the server crashes and restarts with the same static keys and
 * the client sends more. On the wire: every datagram the new server sends is a Stateless
 * Reset — short header (first bits 01, MIG-10.3-07's sending half), smaller than the
 * client's first datagram after the restart and at least 21 bytes, ending with
 * HMAC(key, DCID of that datagram), which is a token the client learned on the wire (the
 * observer recognises it as a reset). The client closes, by the peer, at the moment the first
 * reset arrives, and sends nothing from then on; the new server holds no connection. */
static void run_restart(uint8_t client_cid_len, uint64_t seed)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = client_cid_len;
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, seed, &t, 10000, true), RQ_OK);
    rq_time t0 = sim_now(sc.p.s);
    size_t mark = sc.n;
    uint64_t resets_before = sc.qt.st.resets;
    RQ_CHECK_ERR(sim_qapp_restart(sc.p.server), RQ_OK);
    RQ_CHECK_ERR(sim_qapp_upload_more(sc.p.client, 1), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t0 + 3 * RQ_SEC), RQ_OK);
    long trig = find_raw(&sc, mark, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, &ANY);
    long rs = find_raw(&sc, mark, SIM_EV_SEND, &QPAIR_SERVER_ADDR, &ANY);
    RQ_CHECK(trig >= 0 && rs > trig);
    const rawdg *tr = &sc.log[trig];
    RQ_CHECK_EQ_INT(tr->head[0] & 0x80, 0); /* the trigger: a 1-RTT packet */
    rq_cid dcid = {8, {0}};
    memcpy(dcid.data, tr->head + 1, 8);
    uint8_t token[RQ_RESET_TOKEN_LEN];
    RQ_CHECK_ERR(rq_reset_token_derive(RESET_KEY, &dcid, token), RQ_OK);
    RQ_CHECK(token_on_wire(&sc, token));
    size_t resets = 0;
    for (size_t i = mark; i < sc.n; i++) {
        const rawdg *r = &sc.log[i];
        if (r->kind != SIM_EV_SEND || !rq_addr_eq(&r->src, &QPAIR_SERVER_ADDR))
            continue;
        RQ_CHECK(rq_addr_eq(&r->dst, &QPAIR_CLIENT_ADDR));
        RQ_CHECK_EQ_INT(r->head[0] & 0xc0, 0x40);
        RQ_CHECK(r->len >= RQ_RESET_MIN_LEN && r->len < tr->len);
        RQ_CHECK_MEM(r->tail, token, RQ_RESET_TOKEN_LEN);
        resets++;
    }
    RQ_CHECK(resets >= 1);
    RQ_CHECK(sc.qt.st.resets > resets_before);
    rq_time at = delivered_at(&sc, sc.log[rs].id);
    RQ_CHECK(at > 0);
    RQ_CHECK(sc.p.client->closed);
    RQ_CHECK(sc.p.client->close_by_peer);
    RQ_CHECK_EQ_U64(sc.p.client->close_code, 0);
    RQ_CHECK_EQ_U64(sc.p.client->closed_at, at);
    RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, &ANY, at), 0);
    RQ_CHECK_EQ_INT(client_pkts_since(&sc, at), 0);
    RQ_CHECK_EQ_INT(sc.p.server->accepted, 0);
    RQ_CHECK_EQ_INT(sc.p.server->ep->nconns, 0);
    printf("  trigger %u bytes, %zu reset(s) of %u bytes first; client closed %.1f ms after the "
           "restart\n",
           tr->len, resets, sc.log[rs].len, (double)(at - t0) / 1e6);
    scene_free(&sc);
}

/* MIG-10.3.1-01 — RFC 9000 §10.3.1: a datagram whose first packet cannot be matched to a
 * connection is checked for a reset token. With the default 8-byte client CID, the reset's
 * random bytes after the first route to no connection: the client's endpoint must compare
 * its tail with its connections' tokens (run_restart says what is asserted). */
static void test_restart_reset_unroutable_mig_10_3_1_01(void)
{
    run_restart(8, 0x103101);
}

/* MIG-10.3.1-01 — the other half: a datagram whose first packet reaches the connection but
 * cannot be decrypted. With a zero-length client CID the reset is routed by address to the
 * connection, fails authentication, and must then be compared with the token. */
static void test_restart_reset_undecryptable_mig_10_3_1_01(void)
{
    run_restart(0, 0x103102);
}

/* ---- MIG-10.3.1-04: nothing more after a reset --------------------------------------- */

/* MIG-10.3.1-04 — RFC 9000 §10.3.1: on a token match the endpoint enters the draining period
 * and sends nothing further on the connection. Mid-upload (2 MB, packets in flight, ACKs and
 * PTO timers pending), a short-header reset (42 bytes, random bytes then the token of the CID
 * the client sends with) reaches the client; a copy with one token bit flipped before it
 * changes nothing (the client goes on sending). Then, over the next 5 s while the server,
 * which knows nothing, keeps sending to it: the client closed (RQ_EV_CLOSED by the peer) when
 * the reset arrived, and from that moment sent zero datagrams (raw log and ledger) and zero
 * packets (decrypted trace); its endpoint holds no connection and no timer. */
static void test_nothing_sent_after_reset_mig_10_3_1_04(void)
{
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, 0x103104, NULL, 2000000, false), RQ_OK);
    rq_conn *cc = sc.p.client->conn;
    RQ_CHECK(cc);
    uint8_t token[RQ_RESET_TOKEN_LEN];
    RQ_CHECK_ERR(rq_reset_token_derive(RESET_KEY, &cc->dcid, token), RQ_OK);
    RQ_CHECK(token_on_wire(&sc, token));
    uint64_t rs = 0x42;
    uint8_t reset[42];
    fill_random(&rs, reset, sizeof reset);
    reset[0] = (uint8_t)(0x40 | (reset[0] & 0x3f));
    memcpy(reset + sizeof reset - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
    reset[sizeof reset - 1] ^= 0x80;
    rq_time t1 = sim_now(sc.p.s);
    RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.s2c, t1, &QPAIR_SERVER_ADDR, &QPAIR_CLIENT_ADDR, reset,
                            sizeof reset, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t1 + 50 * RQ_MS), RQ_OK);
    RQ_CHECK(!sc.p.client->closed);
    RQ_CHECK(count_raw(&sc, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, &ANY, t1 + 20 * RQ_MS) > 0);
    RQ_CHECK(sc.p.server->received < 2000000); /* still uploading */
    reset[sizeof reset - 1] ^= 0x80;
    uint64_t id;
    RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.s2c, sim_now(sc.p.s), &QPAIR_SERVER_ADDR,
                            &QPAIR_CLIENT_ADDR, reset, sizeof reset, &id),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, sim_now(sc.p.s) + 30 * RQ_MS), RQ_OK);
    rq_time at = delivered_at(&sc, id);
    RQ_CHECK(at > 0);
    RQ_CHECK(sc.p.client->closed);
    RQ_CHECK(sc.p.client->close_by_peer);
    RQ_CHECK(!sc.p.client->close_app);
    RQ_CHECK_EQ_U64(sc.p.client->closed_at, at);
    sim_ledger_sums before;
    sim_ledger_addr(sim_get_ledger(sc.p.s), &QPAIR_CLIENT_ADDR, &before, NULL);
    size_t server_sends_before = count_raw(&sc, SIM_EV_SEND, &QPAIR_SERVER_ADDR, &ANY, 0);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, at + 5 * RQ_SEC), RQ_OK);
    sim_ledger_sums after;
    sim_ledger_addr(sim_get_ledger(sc.p.s), &QPAIR_CLIENT_ADDR, &after, NULL);
    RQ_CHECK_EQ_U64(after.sent_dgrams, before.sent_dgrams);
    RQ_CHECK_EQ_U64(after.sent_bytes, before.sent_bytes);
    RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, &ANY, at), 0);
    RQ_CHECK_EQ_INT(client_pkts_since(&sc, at), 0);
    /* The server did go on sending (retransmissions, probes): there was something to answer. */
    size_t server_sends_after = count_raw(&sc, SIM_EV_SEND, &QPAIR_SERVER_ADDR, &ANY, 0);
    RQ_CHECK(server_sends_after > server_sends_before);
    RQ_CHECK(count_raw(&sc, SIM_EV_RECV, &QPAIR_SERVER_ADDR, &QPAIR_CLIENT_ADDR, at + 1) > 0);
    RQ_CHECK_EQ_INT(sc.p.client->ep->nconns, 0);
    RQ_CHECK_EQ_U64(rq_endpoint_next_timeout(sc.p.client->ep), RQ_TIME_NEVER);
    printf("  reset at %.3f s; the server sent %zu more datagrams, the client none\n",
           (double)at / 1e9, server_sends_after - server_sends_before);
    scene_free(&sc);
}

/* ---- MIG-5.2.2-01: packets no connection claims -------------------------------------- */

/* The server's state that a stray packet must not touch. */
typedef struct server_state {
    size_t nconns;
    unsigned accepted;
    uint32_t active_path;
    rq_path_addr active_addr;
    unsigned paths_in_use;
    size_t npeer, nretiring, spare;
    int peer_path[RQ_CIDS_MAX_PEER];
    uint64_t received;
} server_state;

static void server_state_get(const scene *sc, server_state *st)
{
    memset(st, 0, sizeof *st);
    const sim_qapp *sv = sc->p.server;
    st->nconns = sv->ep->nconns;
    st->accepted = sv->accepted;
    st->received = sv->received;
    const rq_conn *c = sv->conn;
    if (!c)
        return;
    st->active_path = c->active_path;
    st->active_addr = c->paths[c->active_path].addr;
    for (int i = 0; i < RQ_MAX_PATHS; i++)
        st->paths_in_use += c->paths[i].in_use;
    st->npeer = c->cids.npeer;
    st->nretiring = c->cids.nretiring;
    for (size_t i = 0; i < c->cids.npeer; i++) {
        st->peer_path[i] = c->cids.peer[i].path;
        st->spare += c->cids.peer[i].path < 0;
    }
}

/* Fields compared one by one, so that a failure says which changed. */
#define CHECK_STATE_SAME(a, b)                                                  \
    do {                                                                        \
        RQ_CHECK_EQ_U64((a).nconns, (b).nconns);                                \
        RQ_CHECK_EQ_INT((a).accepted, (b).accepted);                            \
        RQ_CHECK_EQ_INT((a).active_path, (b).active_path);                      \
        RQ_CHECK(rq_addr_eq(&(a).active_addr.remote, &(b).active_addr.remote)); \
        RQ_CHECK_EQ_INT((a).paths_in_use, (b).paths_in_use);                    \
        RQ_CHECK_EQ_U64((a).npeer, (b).npeer);                                  \
        RQ_CHECK_EQ_U64((a).spare, (b).spare);                                  \
        RQ_CHECK_EQ_U64((a).nretiring, (b).nretiring);                          \
        for (size_t k_ = 0; k_ < (a).npeer; k_++)                               \
            RQ_CHECK_EQ_INT((a).peer_path[k_], (b).peer_path[k_]);              \
    } while (0)

/* MIG-5.2.2-01 — RFC 9000 §5.2.2: a packet that matches no connection, is no valid new
 * Initial and triggers no Version Negotiation is dropped; at most a Stateless Reset answers
 * it (MIG-10.3-05, MIG-10.3.3-01). With a connection up, an off-path stranger (a new
 * address) sends the server short-header packets with unknown 8-byte DCIDs of 21, 30, 43,
 * 44, 100 and 1200 bytes, then 1200-byte version-1 Handshake and 0-RTT packets and a 300-byte
 * Initial (under 1200: no valid new Initial) with unknown DCIDs. Asserted:
 *   - no state: the server endpoint holds the same one connection, no RQ_EV_ACCEPTED, and
 *     that connection's paths and peer CIDs are untouched;
 *   - the only datagrams to the stranger are resets, one per short-header trigger of 22
 *     bytes or more, sent when the trigger arrived: first bits 01, ending with
 *     HMAC(key, the trigger's DCID); 29 bytes for 30, 42 for 43, and for 44, 100 and 1200
 *     bytes at least 21 and smaller than the trigger (so far below 3x); none for the
 *     21-byte one and none for the long headers (ledger: 5 datagrams to the stranger);
 *   - the connection then still carries another upload to its end. */
static void test_unknown_packets_dropped_mig_5_2_2_01(void)
{
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, 0x52201, NULL, 20000, true), RQ_OK);
    server_state st0, st1;
    server_state_get(&sc, &st0);
    RQ_CHECK_EQ_U64(st0.nconns, 1);
    static const size_t sizes[] = {21, 30, 43, 44, 100, 1200};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    uint64_t ids[NS];
    rq_cid dcids[NS];
    uint64_t rs = 0x52201;
    uint8_t dg[1200];
    rq_time t = sim_now(sc.p.s);
    size_t mark = sc.n;
    for (size_t i = 0; i < NS; i++) {
        fill_random(&rs, dg, sizes[i]);
        dg[0] = (uint8_t)(0x40 | (dg[0] & 0x3f));
        dcids[i].len = 8;
        memcpy(dcids[i].data, dg + 1, 8);
        RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.c2s, t + i * 5 * RQ_MS, &STRANGER, &QPAIR_SERVER_ADDR,
                                dg, sizes[i], &ids[i]),
                     RQ_OK);
    }
    /* Long headers with unknown DCIDs: Handshake, 0-RTT (1200 bytes), a short Initial. */
    static const uint8_t types[] = {2, 1, 0};
    for (size_t i = 0; i < 3; i++) {
        size_t len = types[i] == 0 ? 300 : 1200;
        fill_random(&rs, dg, len);
        dg[0] = (uint8_t)(0xc0 | types[i] << 4 | (dg[0] & 0x0f));
        dg[1] = dg[2] = dg[3] = 0;
        dg[4] = 1;
        dg[5] = 8;
        dg[14] = 8;
        size_t off = 23;
        if (types[i] == 0)
            dg[off++] = 0; /* no token */
        /* Length: the rest of the datagram (2-byte varint). */
        size_t rest = len - off - 2;
        dg[off] = (uint8_t)(0x40 | rest >> 8);
        dg[off + 1] = (uint8_t)rest;
        RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.c2s, t + (NS + i) * 5 * RQ_MS, &STRANGER,
                                &QPAIR_SERVER_ADDR, dg, len, NULL),
                     RQ_OK);
    }
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t + 300 * RQ_MS), RQ_OK);
    server_state_get(&sc, &st1);
    CHECK_STATE_SAME(st0, st1);
    size_t replies = 0;
    for (size_t i = 0; i < NS; i++) {
        rq_time at = delivered_at(&sc, ids[i]);
        RQ_CHECK(at > 0);
        long r = -1;
        for (size_t k = mark; k < sc.n; k++)
            if (sc.log[k].kind == SIM_EV_SEND && rq_addr_eq(&sc.log[k].dst, &STRANGER) &&
                sc.log[k].t == at)
                r = (long)k;
        if (sizes[i] <= RQ_RESET_MIN_LEN) {
            RQ_CHECK_EQ_INT(r, -1);
            continue;
        }
        RQ_CHECK(r >= 0);
        replies++;
        const rawdg *rp = &sc.log[r];
        RQ_CHECK(rq_addr_eq(&rp->src, &QPAIR_SERVER_ADDR));
        RQ_CHECK_EQ_INT(rp->head[0] & 0xc0, 0x40);
        uint8_t token[RQ_RESET_TOKEN_LEN];
        RQ_CHECK_ERR(rq_reset_token_derive(RESET_KEY, &dcids[i], token), RQ_OK);
        RQ_CHECK_MEM(rp->tail, token, RQ_RESET_TOKEN_LEN);
        if (sizes[i] <= 43)
            RQ_CHECK_EQ_U64(rp->len, sizes[i] - 1);
        RQ_CHECK(rp->len >= RQ_RESET_MIN_LEN && rp->len < sizes[i] && rp->len < 3 * sizes[i]);
    }
    RQ_CHECK_EQ_INT(replies, NS - 1);
    RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &ANY, &STRANGER, t), replies);
    sim_ledger_sums to_stranger =
        sim_ledger_pair(sim_get_ledger(sc.p.s), &QPAIR_SERVER_ADDR, &STRANGER);
    RQ_CHECK_EQ_U64(to_stranger.sent_dgrams, replies);
    /* The connection is unharmed. */
    RQ_CHECK_ERR(sim_qapp_upload_more(sc.p.client, 1), RQ_OK);
    RQ_CHECK_ERR(
        sim_run_until_pred(sc.p.s, qpair_upload_done, &sc.p, sim_now(sc.p.s) + 10 * RQ_SEC), RQ_OK);
    RQ_CHECK(sim_qapp_upload_done(sc.p.client, sc.p.server));
    RQ_CHECK(!sc.p.client->closed && !sc.p.server->closed);
    scene_free(&sc);
}

/* MIG-5.2.2-01 — the "not a valid new Initial" part: a 1200-byte version-1 Initial from a
 * stranger with a fresh 8-byte DCID (so it would start a connection) whose payload is not
 * protected under that DCID's Initial keys (random bytes: it fails authentication) is no
 * valid new Initial. Expected: the server drops it: no connection, no RQ_EV_ACCEPTED, no
 * reply, its connection count unchanged then and later. */
static void test_unauthenticated_initial_creates_nothing_mig_5_2_2_01(void)
{
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, 0x52202, NULL, 20000, true), RQ_OK);
    server_state st0, st1;
    server_state_get(&sc, &st0);
    uint64_t rs = 0x52202;
    uint8_t dg[1200];
    fill_random(&rs, dg, sizeof dg);
    dg[0] = 0xc3; /* Initial, 4-byte packet number */
    dg[1] = dg[2] = dg[3] = 0;
    dg[4] = 1;
    dg[5] = 8;
    dg[14] = 8;
    dg[23] = 0; /* no token */
    size_t rest = sizeof dg - 26;
    dg[24] = (uint8_t)(0x40 | rest >> 8);
    dg[25] = (uint8_t)rest;
    rq_pkt_hdr h;
    RQ_CHECK_ERR(rq_pkt_parse(dg, sizeof dg, 8, &h), RQ_OK);
    RQ_CHECK_EQ_INT(h.type, RQ_PKT_INITIAL);
    RQ_CHECK_EQ_U64(h.len, sizeof dg);
    rq_time t = sim_now(sc.p.s);
    RQ_CHECK_ERR(
        sim_inject(sc.p.s, sc.p.c2s, t, &STRANGER, &QPAIR_SERVER_ADDR, dg, sizeof dg, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t + 200 * RQ_MS), RQ_OK);
    server_state_get(&sc, &st1);
    RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &ANY, &STRANGER, t), 0);
    CHECK_STATE_SAME(st0, st1);
    scene_free(&sc);
}

/* ---- MIG-5.2-03: a malformed Initial from a new address after the handshake ---------- */

/* A 1200-byte version-1 Initial to the server's current CID (so it reaches the live
 * connection) protected under the Initial keys an attacker derives from that CID: a PING,
 * then a CRYPTO frame whose length runs past the end of the packet (malformed part-way),
 * then PADDING. `garbage`: random bytes instead of a protected payload. */
static int malformed_initial(const rq_cid *dcid, bool garbage, uint64_t *rs, uint8_t *out,
                             size_t *out_len)
{
    uint8_t cs[RQ_INITIAL_SECRET_LEN], ss[RQ_INITIAL_SECRET_LEN];
    rq_cid scid = {8, {0}};
    fill_random(rs, scid.data, 8);
    rq_wr w = rq_wr_init(out, 1200 - RQ_AEAD_TAG_LEN);
    rq_pkt_wpos pos;
    int rc =
        rq_pkt_write_long(&w, RQ_PKT_INITIAL, RQ_VERSION_1, dcid, &scid, NULL, 0, 7, 4, 2, &pos);
    if (rc)
        return rc;
    size_t hdr = (size_t)(w.p - out);
    uint8_t *payload = w.p;
    size_t plen = 1200 - RQ_AEAD_TAG_LEN - hdr;
    memset(payload, 0, plen);
    payload[0] = 0x01; /* PING */
    payload[1] = 0x06; /* CRYPTO */
    payload[2] = 0x00; /* offset 0 */
    /* length 16384 (4-byte varint): past the end of the packet */
    payload[3] = 0x80;
    payload[4] = 0x00;
    payload[5] = 0x40;
    payload[6] = 0x00;
    rc = rq_pkt_finish_long(&pos, plen + RQ_AEAD_TAG_LEN + pos.pn_len);
    if (rc)
        return rc;
    if (garbage) {
        fill_random(rs, payload - pos.pn_len, plen + pos.pn_len + RQ_AEAD_TAG_LEN);
        *out_len = 1200;
        return 0;
    }
    rq_packet_key k = {0};
    rq_hp_key hp = {0};
    rc = rq_initial_secrets(dcid, cs, ss);
    if (!rc)
        rc = rq_packet_key_init(&k, RQ_AEAD_AES_128_GCM, cs, sizeof cs);
    if (!rc)
        rc = rq_hp_key_init(&hp, RQ_AEAD_AES_128_GCM, cs, sizeof cs);
    if (!rc)
        rc = rq_packet_protect(&k, &hp, 7, out, hdr + plen, pos.pn_offset, 1200, out_len);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
    return rc;
}

/* MIG-5.2-03 — RFC 9000 §5.2: an Initial (weakly protected) that turns out to be invalid
 * must raise a connection error or leave no trace. After the handshake (upload done,
 * confirmed, spare CIDs exchanged), Initials to the server's current CID arrive from three
 * new client addresses: one properly protected under the public Initial keys whose frames
 * break off part-way (a PING, then a CRYPTO frame running past the end), and random bytes.
 * Asserted on the server connection: no error (it stays up) and nothing changed — the
 * active path and its address (the path did not switch), the number of paths, the peer CIDs
 * and which path uses which, no CID retirement queued; on the wire: nothing was sent to the
 * new addresses, the decrypted trace shows no RETIRE_CONNECTION_ID or PATH_CHALLENGE from the
 * server afterwards; and a further upload completes on the original path. */
static void test_malformed_initial_changes_nothing_mig_5_2_03(void)
{
    static scene sc; /* static: freed by RUN if the case stops early */
    RQ_CHECK_ERR(scene_new(&sc, 0x5203, NULL, 20000, true), RQ_OK);
    rq_conn *sconn = sc.p.server->conn;
    RQ_CHECK(sconn && sconn->handshake_confirmed);
    server_state st0, st1;
    server_state_get(&sc, &st0);
    RQ_CHECK(st0.spare >= 1); /* the client gave the server spare CIDs */
    rq_cid server_cid = sc.p.client->conn->dcid;
    uint64_t rs = 0x5203;
    rq_time t = sim_now(sc.p.s);
    size_t qt_mark = sc.qt.count;
    rq_addr news[3];
    for (int i = 0; i < 3; i++) {
        news[i] = QPAIR_CLIENT_ADDR;
        news[i].port = (uint16_t)(41000 + i);
        news[i].ip[3] = (uint8_t)(50 + i);
        uint8_t dg[1200];
        size_t len = 0;
        RQ_CHECK_ERR(malformed_initial(&server_cid, i == 2, &rs, dg, &len), RQ_OK);
        RQ_CHECK_EQ_U64(len, 1200);
        RQ_CHECK_ERR(sim_inject(sc.p.s, sc.p.c2s, t + (rq_time)i * RQ_MS, &news[i],
                                &QPAIR_SERVER_ADDR, dg, len, NULL),
                     RQ_OK);
    }
    RQ_CHECK_ERR(sim_run_until(sc.p.s, t + 50 * RQ_MS), RQ_OK);
    RQ_CHECK(!sc.p.server->closed && !sc.p.client->closed);
    server_state_get(&sc, &st1);
    CHECK_STATE_SAME(st0, st1);
    /* A later upload: the connection still works, on the same path, and the server never
     * turned to the new addresses. */
    RQ_CHECK_ERR(sim_qapp_upload_more(sc.p.client, 1), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(sc.p.s, qpair_upload_done, &sc.p, t + 10 * RQ_SEC), RQ_OK);
    RQ_CHECK(sim_qapp_upload_done(sc.p.client, sc.p.server));
    RQ_CHECK_ERR(sim_run_until(sc.p.s, sim_now(sc.p.s) + 2 * RQ_SEC), RQ_OK);
    RQ_CHECK(!sc.p.server->closed && !sc.p.client->closed);
    server_state_get(&sc, &st1);
    RQ_CHECK_EQ_INT(st1.active_path, st0.active_path);
    RQ_CHECK(rq_addr_eq(&st1.active_addr.remote, &QPAIR_CLIENT_ADDR));
    for (int i = 0; i < 3; i++)
        RQ_CHECK_EQ_INT(count_raw(&sc, SIM_EV_SEND, &ANY, &news[i], t), 0);
    for (size_t i = qt_mark; i < sc.qt.count; i++) {
        const qtrace_pkt *p = &sc.qt.pkts[i];
        if (p->dir != QTRACE_S2C)
            continue;
        RQ_CHECK(!qtrace_pkt_frame(&sc.qt, p, RQ_FT_RETIRE_CONNECTION_ID));
        RQ_CHECK(!qtrace_pkt_frame(&sc.qt, p, RQ_FT_PATH_CHALLENGE));
    }
    scene_free(&sc);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RUN(test_restart_reset_unroutable_mig_10_3_1_01);
    RUN(test_restart_reset_undecryptable_mig_10_3_1_01);
    RUN(test_nothing_sent_after_reset_mig_10_3_1_04);
    RUN(test_unknown_packets_dropped_mig_5_2_2_01);
    RUN(test_unauthenticated_initial_creates_nothing_mig_5_2_2_01);
    RUN(test_malformed_initial_changes_nothing_mig_5_2_03);
    RUN(test_long_header_reset_to_connection_mig_10_3_07);
    RUN(test_long_header_reset_initial_form_mig_10_3_07);
    RUN(test_long_header_reset_other_version_mig_10_3_07);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
