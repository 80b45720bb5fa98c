/* Connection establishment and ending between two roamquic endpoints in the simulator, proved
 * on the wire (the trace, read by qwire.h): Retry, a forged Retry, Version Negotiation, the
 * Initial size rule, idle timeout, keep-alive, stateless reset after a restart, application
 * close. */
#include "inject.h"
#include "qforge.h"
#include "qpair.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "crypto/reset_token.h"

static const sim_link_cfg LINK_10MS = {.delay = 10 * RQ_MS, .rate_bps = 100000000};

static rq_config *client_cfg_idle(uint64_t idle_ms)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.max_idle_timeout_ms = idle_ms;
    return qpair_config(RQ_ROLE_CLIENT, &t, 0);
}

/* Connects and uploads `bytes` on one stream; true when it all arrived. */
static bool upload(qpair *p, uint64_t bytes)
{
    if (sim_qapp_connect(p->client, &QPAIR_SERVER_ADDR, "localhost", 1, bytes) != 0 ||
        sim_run_until_pred(p->s, qpair_upload_done, p, 20 * RQ_SEC) != 0)
        return false;
    return sim_qapp_upload_done(p->client, p->server) && p->server->received == bytes &&
           p->server->bad_bytes == 0 && !p->client->closed && !p->server->closed;
}

/* RFC 9000 §8.1.2, §17.2.5, §7.3: a server that validates addresses answers the first
 * Initial with a Retry (long header type 3, on the wire from server to client, its DCID the
 * client's SCID); the client's next Initial carries exactly that token and uses the Retry's
 * SCID as DCID; the server's retry_source_connection_id checks out (the client would close
 * otherwise) and 200 KB then arrive. */
static void test_retry_handshake_rfc9000_8_1_2(void)
{
    rq_config *scfg = qpair_config(RQ_ROLE_SERVER, NULL, 0);
    RQ_CHECK(scfg);
    rq_config_set_retry(scfg, true);
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x31, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, NULL, 0), scfg, true),
                 RQ_OK);
    RQ_CHECK(upload(&p, 200000));
    const qwire *w = &p.wire;
    long c0 = qwire_find(w, 0, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, QWIRE_INITIAL);
    long s0 = qwire_find(w, 0, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1);
    RQ_CHECK(c0 >= 0 && s0 > c0);
    RQ_CHECK_EQ_INT(w->pkts[c0].token_len, 0);
    const qwire_pkt *retry = &w->pkts[s0];
    RQ_CHECK_EQ_INT(retry->type, QWIRE_RETRY);
    RQ_CHECK_EQ_U64(retry->version, 1);
    RQ_CHECK(retry->token_len > 0);
    RQ_CHECK_EQ_INT(retry->dcid_len, w->pkts[c0].scid_len);
    RQ_CHECK_MEM(retry->dcid, w->pkts[c0].scid, retry->dcid_len);
    RQ_CHECK_EQ_INT(qwire_count(w, SIM_EV_SEND, &QPAIR_SERVER_ADDR, QWIRE_RETRY, 0), 1);
    long c1 = qwire_find(w, (size_t)s0, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, QWIRE_INITIAL);
    RQ_CHECK(c1 > s0);
    RQ_CHECK_EQ_INT(w->pkts[c1].token_len, retry->token_len);
    RQ_CHECK_MEM(w->pkts[c1].token, retry->token, retry->token_len);
    RQ_CHECK_EQ_INT(w->pkts[c1].dcid_len, retry->scid_len);
    RQ_CHECK_MEM(w->pkts[c1].dcid, retry->scid, retry->scid_len);
    qpair_free(&p);
}

typedef struct capture {
    uint8_t data[1500];
    size_t len;
} capture;

/* Keeps (and, as a DROP rule's match, drops) the client's first datagram. */
static bool capture_first(void *ctx, const sim_dgram *dg)
{
    capture *c = ctx;
    if (c->len || dg->len > sizeof c->data)
        return false;
    memcpy(c->data, dg->data, dg->len);
    c->len = dg->len;
    return true;
}

/* RFC 9000 §7.3, §17.2.5.1: anyone on the path can forge a Retry with a valid integrity tag
 * (the key is public). Here the server never sent one: the client's first Initial is taken
 * off the wire and a forged Retry comes back instead. The client follows it, but the server's
 * transport parameters then lack retry_source_connection_id (and name another
 * original_destination_connection_id), so the client closes with
 * TRANSPORT_PARAMETER_ERROR (0x08) instead of completing the handshake. */
static void test_forged_retry_fails_cid_authentication_rfc9000_7_3(void)
{
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x32, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    sim_injector *inj;
    static capture cap;
    memset(&cap, 0, sizeof cap);
    RQ_CHECK_ERR(sim_injector_new(p.s, "attacker", p.c2s, &inj), RQ_OK);
    sim_inj_rule r = {.match = capture_first, .match_ctx = &cap, .action = SIM_INJ_DROP};
    RQ_CHECK_ERR(sim_injector_add(inj, &r, NULL), RQ_OK);
    RQ_CHECK_ERR(sim_qapp_connect(p.client, &QPAIR_SERVER_ADDR, "localhost", 1, 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(p.s, 1 * RQ_MS), RQ_OK);
    RQ_CHECK(cap.len >= 1200);
    rq_cid scid = {8, {0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde}};
    static const uint8_t token[] = {0x00, 'f', 'o', 'r', 'g', 'e', 'd'};
    uint8_t retry[256];
    size_t retry_len;
    RQ_CHECK_ERR(qforge_retry(cap.data, cap.len, &scid, token, sizeof token, retry, sizeof retry,
                              &retry_len),
                 RQ_OK);
    RQ_CHECK_ERR(sim_inject(p.s, p.s2c, sim_now(p.s), &QPAIR_SERVER_ADDR, &QPAIR_CLIENT_ADDR, retry,
                            retry_len, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(p.s, qpair_connected, &p, 20 * RQ_SEC), RQ_OK);
    /* The client did take the Retry: its next Initial carries the forged token. */
    long c1 = qwire_find(&p.wire, 1, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, QWIRE_INITIAL);
    RQ_CHECK(c1 > 0);
    RQ_CHECK_EQ_INT(p.wire.pkts[c1].token_len, sizeof token);
    RQ_CHECK(p.client->closed);
    RQ_CHECK(!p.client->connected);
    RQ_CHECK_EQ_U64(p.client->close_code, 0x08);
    RQ_CHECK(!p.client->close_app);
    RQ_CHECK(!p.client->close_by_peer);
    qpair_free(&p);
}

/* RFC 9000 §6.1, §14.1, §17.2.1: a long-header datagram of an unknown version and at least
 * 1200 bytes gets a Version Negotiation packet that echoes its CIDs swapped and lists version
 * 1 (not the unknown one); one of 1199 bytes gets nothing. */
static void test_version_negotiation_rfc9000_6_1(void)
{
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x33, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    static const uint32_t unknown = 0x0badcafeu;
    uint8_t dg[1200] = {0xc3, 0x0b, 0xad, 0xca, 0xfe, 12};
    static const uint8_t dcid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint8_t scid[5] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5};
    memcpy(dg + 6, dcid, sizeof dcid);
    dg[18] = sizeof scid;
    memcpy(dg + 19, scid, sizeof scid);
    for (size_t i = 24; i < sizeof dg; i++)
        dg[i] = (uint8_t)i;
    /* 1199 bytes first: no answer. */
    RQ_CHECK_ERR(sim_inject(p.s, p.c2s, 0, &QPAIR_CLIENT_ADDR, &QPAIR_SERVER_ADDR, dg, 1199, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(p.s, 100 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_INT(qwire_count(&p.wire, SIM_EV_RECV, &QPAIR_CLIENT_ADDR, -1, 0), 1);
    RQ_CHECK_EQ_INT(qwire_count(&p.wire, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1, 0), 0);
    /* 1200 bytes: Version Negotiation. */
    RQ_CHECK_ERR(sim_inject(p.s, p.c2s, sim_now(p.s), &QPAIR_CLIENT_ADDR, &QPAIR_SERVER_ADDR, dg,
                            sizeof dg, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(sim_run_until(p.s, 200 * RQ_MS), RQ_OK);
    RQ_CHECK_EQ_INT(qwire_count(&p.wire, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1, 0), 1);
    long vi = qwire_find(&p.wire, 0, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1);
    const qwire_pkt *vn = &p.wire.pkts[vi];
    RQ_CHECK_EQ_INT(vn->type, QWIRE_VN);
    RQ_CHECK(vn->first & 0x80);
    RQ_CHECK(rq_addr_eq(&vn->dst, &QPAIR_CLIENT_ADDR));
    RQ_CHECK_EQ_INT(vn->dcid_len, sizeof scid);
    RQ_CHECK_MEM(vn->dcid, scid, sizeof scid);
    RQ_CHECK_EQ_INT(vn->scid_len, sizeof dcid);
    RQ_CHECK_MEM(vn->scid, dcid, sizeof dcid);
    bool has_v1 = false;
    for (unsigned i = 0; i < vn->vn_count && i < 8; i++) {
        has_v1 |= vn->vn_versions[i] == 1;
        RQ_CHECK(vn->vn_versions[i] != unknown);
    }
    RQ_CHECK(has_v1);
    RQ_CHECK_EQ_INT(p.server->accepted, 0);
    qpair_free(&p);
}

typedef struct resize_ctx {
    size_t target;
    int rc;
} resize_ctx;

static int resize_forge(void *ctx, sim *s, sim_dgram *dg)
{
    resize_ctx *r = ctx;
    (void)s;
    size_t len = dg->len;
    r->rc = qforge_initial_resize(dg->data, &len, dg->cap, r->target);
    if (!r->rc)
        dg->len = (uint32_t)len;
    return 0;
}

/* Runs a handshake whose first client datagram is re-sized (still a valid, authentic
 * Initial) to `target` bytes; tells whether the server answered before the client's second
 * datagram reached it, and whether the handshake completed. */
static void run_resized_initial(size_t target, bool *answered_first, bool *connected)
{
    qpair p;
    *answered_first = *connected = false;
    RQ_CHECK_ERR(qpair_new(&p, 0x34, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    sim_injector *inj;
    resize_ctx rc = {target, -1};
    RQ_CHECK_ERR(sim_injector_new(p.s, "resize", p.c2s, &inj), RQ_OK);
    sim_inj_rule r = {
        .first = 1, .last = 1, .action = SIM_INJ_REWRITE, .forge = resize_forge, .forge_ctx = &rc};
    RQ_CHECK_ERR(sim_injector_add(inj, &r, NULL), RQ_OK);
    RQ_CHECK(upload(&p, 10000));
    RQ_CHECK_ERR(rc.rc, RQ_OK);
    const qwire *w = &p.wire;
    long r0 = qwire_find(w, 0, SIM_EV_RECV, &QPAIR_CLIENT_ADDR, QWIRE_INITIAL);
    long r1 = qwire_find(w, (size_t)r0 + 1, SIM_EV_RECV, &QPAIR_CLIENT_ADDR, -1);
    long s0 = qwire_find(w, 0, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1);
    RQ_CHECK(r0 >= 0 && r1 > r0 && s0 > r0);
    RQ_CHECK_EQ_INT(w->pkts[r0].len, target);
    *answered_first = s0 < r1;
    *connected = p.client->connected && p.server->connected;
    qpair_free(&p);
}

/* RFC 9000 §14.1: a server drops an Initial in a datagram under 1200 bytes. The client's
 * first Initial is re-encrypted to 1199 bytes: the server answers nothing until the
 * client's PTO retransmission (full size) arrives. The control — the same rewriting to exactly
 * 1200 bytes — is answered at once, which shows the forged packet itself is valid. */
static void test_server_drops_small_initial_rfc9000_14_1(void)
{
    bool answered, connected;
    run_resized_initial(1200, &answered, &connected);
    RQ_CHECK(answered && connected);
    run_resized_initial(1199, &answered, &connected);
    RQ_CHECK(!answered);
    RQ_CHECK(connected);
}

/* RFC 9000 §10.1, §10.1.2: with max_idle_timeout 1 s on the client (the server offers 30 s),
 * a connection left idle (no keep-alive) is closed by both sides on their own — RQ_EV_CLOSED
 * not by the peer, transport code 0 — between the idle timeout and the idle timeout plus
 * 3 PTO after the last datagram, and nothing at all goes on the wire in the meantime (no
 * CONNECTION_CLOSE: the close is silent). */
static void test_idle_timeout_closes_silently_rfc9000_10_1(void)
{
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x35, &LINK_10MS, client_cfg_idle(1000),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    RQ_CHECK(upload(&p, 10000));
    RQ_CHECK_ERR(sim_run_until_pred(p.s, qpair_both_closed, &p, sim_now(p.s) + 10 * RQ_SEC), RQ_OK);
    rq_time last = qwire_last_time(&p.wire, SIM_EV_SEND, NULL);
    printf("  last datagram at %.3f s; client closed at %.3f s, server at %.3f s\n",
           (double)last / 1e9, (double)p.client->closed_at / 1e9,
           (double)p.server->closed_at / 1e9);
    const sim_qapp *side[2] = {p.client, p.server};
    for (int i = 0; i < 2; i++) {
        RQ_CHECK(side[i]->closed);
        RQ_CHECK(!side[i]->close_by_peer);
        RQ_CHECK(!side[i]->close_app);
        RQ_CHECK_EQ_U64(side[i]->close_code, 0);
        /* One one-way delay of slack below: a side's timer starts when it last received. */
        RQ_CHECK(side[i]->closed_at + 10 * RQ_MS >= last + 1000 * RQ_MS);
        RQ_CHECK(side[i]->closed_at <= last + 1000 * RQ_MS + 3 * 200 * RQ_MS);
    }
    /* Silence: the last datagram of the run was sent long before either side closed. */
    RQ_CHECK_EQ_INT(qwire_count(&p.wire, SIM_EV_SEND, NULL, -1, last + 1), 0);
    qpair_free(&p);
}

/* RFC 9308 §3.2, RFC 9000 §10.1.2: with keep-alive every 300 ms under a 1 s idle timeout the
 * connection stays open for 5 s (five idle periods) of no application data; PINGs go out. */
static void test_keepalive_outlives_idle_timeout_rfc9308_3_2(void)
{
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x36, &LINK_10MS, client_cfg_idle(1000),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    p.client->keepalive = 300 * RQ_MS;
    RQ_CHECK(upload(&p, 10000));
    rq_time from = sim_now(p.s);
    RQ_CHECK_ERR(sim_run_until(p.s, from + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(!p.client->closed);
    RQ_CHECK(!p.server->closed);
    size_t pings = qwire_count(&p.wire, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, QWIRE_SHORT, from);
    printf("  %zu client datagrams in 5 s of idle\n", pings);
    RQ_CHECK(pings >= 5);
    qpair_free(&p);
}

static const uint8_t RESET_KEY[32] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
static const uint8_t TOKEN_KEY[32] = {0x22};

typedef struct reset_outcome {
    bool reset_sent;    /* the new server sent a short-header datagram */
    bool token_matches; /* ending with the token the client learned for sequence 0 */
    bool shorter;       /* smaller than the datagram that triggered it */
    rq_time reset_rx;   /* when it reached the client */
    rq_time restart;
} reset_outcome;

static bool client_closed(sim *s, void *ctx)
{
    (void)s;
    return ((qpair *)ctx)->client->closed;
}

/* Handshake and a small upload, then the server "restarts" (a new endpoint, same config),
 * then the client sends more. Runs until the client closes (or 10 s). */
static void run_restart(uint8_t client_cid_len, bool static_keys, uint64_t client_idle_ms, qpair *p,
                        reset_outcome *o)
{
    memset(o, 0, sizeof *o);
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = client_cid_len;
    t.max_idle_timeout_ms = client_idle_ms;
    rq_config *scfg = qpair_config(RQ_ROLE_SERVER, NULL, 0);
    RQ_CHECK(scfg);
    if (static_keys)
        RQ_CHECK_ERR(rq_config_set_static_keys(scfg, RESET_KEY, TOKEN_KEY), RQ_OK);
    RQ_CHECK_ERR(qpair_new(p, 0x37, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, &t, 0), scfg, true),
                 RQ_OK);
    RQ_CHECK(upload(p, 10000));
    RQ_CHECK_ERR(sim_run_until(p->s, sim_now(p->s) + 200 * RQ_MS), RQ_OK);
    o->restart = sim_now(p->s);
    size_t mark = p->wire.count;
    RQ_CHECK_ERR(sim_qapp_restart(p->server), RQ_OK);
    RQ_CHECK_ERR(sim_qapp_upload_more(p->client, 1), RQ_OK);
    /* Only the client is expected to close (the new server has no connection). */
    int rc = sim_run_until_pred(p->s, client_closed, p, o->restart + 10 * RQ_SEC);
    RQ_CHECK(rc == RQ_OK || rc == RQ_ERR_AGAIN);
    /* The server's SCID (sequence 0), as its first Initial carried it. */
    long si = qwire_find(&p->wire, 0, SIM_EV_SEND, &QPAIR_SERVER_ADDR, QWIRE_INITIAL);
    RQ_CHECK(si >= 0);
    rq_cid scid = {p->wire.pkts[si].scid_len, {0}};
    memcpy(scid.data, p->wire.pkts[si].scid, scid.len);
    uint8_t token[16];
    RQ_CHECK_ERR(rq_reset_token_derive(RESET_KEY, &scid, token), RQ_OK);
    long trig = qwire_find(&p->wire, mark, SIM_EV_RECV, &QPAIR_CLIENT_ADDR, QWIRE_SHORT);
    long rs = qwire_find(&p->wire, mark, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1);
    long rr = qwire_find(&p->wire, mark, SIM_EV_RECV, &QPAIR_SERVER_ADDR, -1);
    RQ_CHECK(trig >= 0);
    if (rs < 0 || rr < 0)
        return;
    const qwire_pkt *reset = &p->wire.pkts[rs];
    o->reset_sent = reset->type == QWIRE_SHORT && (reset->first & 0xc0) == 0x40;
    o->token_matches = memcmp(reset->tail, token, 16) == 0;
    o->shorter = reset->len < p->wire.pkts[trig].len;
    o->reset_rx = p->wire.pkts[rr].t;
}

/* RFC 9000 §10.3, §10.3.1: a server restarted with the same static reset key answers the
 * client's next 1-RTT packet with a Stateless Reset (short-header form, smaller than the
 * trigger, ending with the token of the CID the client uses); the client recognises it and
 * closes at once (RQ_EV_CLOSED when the reset arrives). With the default 8-byte client CID
 * the reset's random leading bytes route it to no connection, so the endpoint must compare its
 * tail with every connection's token (RFC 9000 §10.3.1; regression: it once dropped it and the
 * client only closed at its idle timeout). The next case does the same with a zero-length
 * client CID (routing by address). */
static void test_stateless_reset_after_restart_rfc9000_10_3(void)
{
    qpair p;
    reset_outcome o;
    run_restart(8, true, 30000, &p, &o);
    if (rq_test_case_failed_)
        return;
    RQ_CHECK(o.reset_sent && o.token_matches && o.shorter);
    RQ_CHECK(p.client->closed);
    RQ_CHECK_EQ_U64(p.client->closed_at, o.reset_rx);
    RQ_CHECK(p.client->close_by_peer);
    qpair_free(&p);
}

/* RFC 9000 §10.3, §10.3.1, §5.2: as above with a zero-length client CID: the client's
 * endpoint finds the connection by address, sees the token, and closes when the reset
 * arrives. */
static void test_stateless_reset_zero_length_cid_rfc9000_10_3(void)
{
    qpair p;
    reset_outcome o;
    run_restart(0, true, 30000, &p, &o);
    if (rq_test_case_failed_)
        return;
    RQ_CHECK(o.reset_sent);
    RQ_CHECK(o.token_matches);
    RQ_CHECK(o.shorter);
    RQ_CHECK(p.client->closed);
    RQ_CHECK_EQ_U64(p.client->closed_at, o.reset_rx);
    RQ_CHECK(p.client->close_by_peer);
    qpair_free(&p);
}

/* RFC 9000 §10.3.2: without the same static key the restarted server's reset carries a token
 * the client never learned: the client does not recognise it and only closes when its 2 s
 * idle timeout expires (counted from its last successful receipt, before the restart), not
 * by the peer. */
static void test_reset_with_other_key_not_recognised_rfc9000_10_3_2(void)
{
    qpair p;
    reset_outcome o;
    run_restart(0, false, 2000, &p, &o);
    if (rq_test_case_failed_)
        return;
    RQ_CHECK(o.reset_sent);
    RQ_CHECK(!o.token_matches);
    RQ_CHECK(p.client->closed);
    RQ_CHECK(!p.client->close_by_peer);
    RQ_CHECK_EQ_U64(p.client->close_code, 0);
    RQ_CHECK(p.client->closed_at >= o.restart - 200 * RQ_MS + 2000 * RQ_MS);
    RQ_CHECK(p.client->closed_at > o.reset_rx + 1000 * RQ_MS);
    printf("  reset at %.3f s ignored; client idled out at %.3f s\n", (double)o.reset_rx / 1e9,
           (double)p.client->closed_at / 1e9);
    qpair_free(&p);
}

/* RFC 9000 §10.2, §10.2.1, §10.2.2, §19.19: rq_conn_close by the client sends a
 * CONNECTION_CLOSE (application variant) right away; the server, draining, sends nothing
 * after it arrives and reports RQ_EV_CLOSED by the peer with the application code (at the end
 * of its draining period); the client's closing state lasts three PTOs before its own
 * RQ_EV_CLOSED. */
static void test_application_close_rfc9000_10_2(void)
{
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x38, &LINK_10MS, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    RQ_CHECK(upload(&p, 10000));
    RQ_CHECK_ERR(sim_run_until(p.s, sim_now(p.s) + 100 * RQ_MS), RQ_OK);
    rq_time t_close = sim_now(p.s);
    rq_time pto = rq_conn_pto(p.client->conn);
    RQ_CHECK_ERR(sim_qapp_close(p.client, 0x1234, "bye"), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(p.s, qpair_both_closed, &p, t_close + 5 * RQ_SEC), RQ_OK);
    RQ_CHECK(p.server->close_by_peer && p.server->close_app);
    RQ_CHECK_EQ_U64(p.server->close_code, 0x1234);
    RQ_CHECK(!p.client->close_by_peer && p.client->close_app);
    RQ_CHECK_EQ_U64(p.client->close_code, 0x1234);
    /* On the wire: the close left at once; the server, draining, sent nothing after it. */
    long cs = qwire_find(&p.wire, 0, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, -1);
    while (cs >= 0 && p.wire.pkts[cs].t < t_close)
        cs = qwire_find(&p.wire, (size_t)cs + 1, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, -1);
    RQ_CHECK(cs >= 0);
    RQ_CHECK_EQ_U64(p.wire.pkts[cs].t, t_close);
    long rx = qwire_find(&p.wire, (size_t)cs, SIM_EV_RECV, &QPAIR_CLIENT_ADDR, -1);
    RQ_CHECK(rx >= 0);
    RQ_CHECK(p.server->closed_at >= p.wire.pkts[rx].t);
    RQ_CHECK_EQ_INT(qwire_count(&p.wire, SIM_EV_SEND, &QPAIR_SERVER_ADDR, -1, p.wire.pkts[rx].t),
                    0);
    /* §10.2: the closing state lasts at least three times the current PTO. */
    rq_time closing = p.client->closed_at - t_close;
    printf("  PTO %.1f ms, client closing state %.1f ms, server told %.1f ms after the close "
           "arrived\n",
           (double)pto / 1e6, (double)closing / 1e6,
           (double)(p.server->closed_at - p.wire.pkts[rx].t) / 1e6);
    RQ_CHECK(closing >= 3 * pto);
    RQ_CHECK(closing <= 6 * pto);
    qpair_free(&p);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_retry_handshake_rfc9000_8_1_2);
    RQ_RUN(test_forged_retry_fails_cid_authentication_rfc9000_7_3);
    RQ_RUN(test_version_negotiation_rfc9000_6_1);
    RQ_RUN(test_server_drops_small_initial_rfc9000_14_1);
    RQ_RUN(test_idle_timeout_closes_silently_rfc9000_10_1);
    RQ_RUN(test_keepalive_outlives_idle_timeout_rfc9308_3_2);
    RQ_RUN(test_stateless_reset_zero_length_cid_rfc9000_10_3);
    RQ_RUN(test_reset_with_other_key_not_recognised_rfc9000_10_3_2);
    RQ_RUN(test_application_close_rfc9000_10_2);
    /* Known library bug (see the case's comment): enable once fixed. */
    RQ_RUN(test_stateless_reset_after_restart_rfc9000_10_3);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
