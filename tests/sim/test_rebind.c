/* NAT rebinding seen by a roamquic server (RFC 9000 §9.3), asserted on the decrypted wire: a
 * NAT in front of the client gives it a new outside port (or address) in the middle of an
 * upload; the server moves to the new address, validates it, checks the old one, stays within
 * three times what the new address sent until it is validated, and the upload completes. */
#include "inject.h"
#include "link.h"
#include "nat.h"
#include "qnode.h"
#include "qtrace.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/endpoint.h"

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {198, 51, 100, 2}, 0};

typedef struct rb_run {
    sim *s;
    sim_qnode *client, *server;
    sim_nat *nat;
    qtrace qt;
    rq_addr before, after; /* the client's outside address before and after the rebind */
    rq_time rebind_at;
} rb_run;

static bool done(sim *s, void *ctx)
{
    (void)s;
    rb_run *r = ctx;
    return r->server->fin_received || r->client->closed || r->server->closed;
}

static int outside_of(rb_run *r, rq_addr *out)
{
    sim_nat_binding b;
    if (!sim_nat_lookup(r->s, r->nat, &CLIENT_ADDR, &SERVER_ADDR, &b))
        return RQ_ERR_INTERNAL;
    *out = b.outside;
    return 0;
}

/* Client - NAT - server; the client starts an upload of 2 MB and the run reaches 300 ms.
 * *s2c (may be NULL) receives the NAT-to-server link's reverse direction: server to NAT. */
static int start(rb_run *r, uint64_t seed, sim_link **s2c)
{
    memset(r, 0, sizeof *r);
    sim_link_cfg link = {.delay = 5 * RQ_MS, .rate_bps = 20000000};
    sim_nat_cfg nc = {
        .outside = {{RQ_AF_INET4, 0, {192, 0, 2, 1}, 0}, {RQ_AF_INET4, 0, {192, 0, 2, 7}, 0}},
        .n_outside = 2};
    rq_config *cc = sim_qnode_client_config(), *sc = sim_qnode_server_config();
    if (!cc || !sc)
        return RQ_ERR_NOMEM;
    qtrace_config(&r->qt, cc);
    qtrace_config(&r->qt, sc);
    int rc = sim_new(seed, &r->s);
    if (!rc)
        rc = sim_qnode_new(r->s, "client", cc, &CLIENT_ADDR, &r->client);
    if (!rc)
        rc = sim_qnode_new(r->s, "server", sc, &SERVER_ADDR, &r->server);
    if (!rc)
        rc = sim_nat_new(r->s, "nat", &nc, &r->nat);
    if (!rc)
        rc = sim_connect(r->s, sim_host_elem(r->client->host), 0, sim_nat_elem(r->nat),
                         SIM_NAT_INSIDE, &link, &link, NULL, NULL);
    if (!rc)
        rc = sim_connect(r->s, sim_nat_elem(r->nat), SIM_NAT_OUTSIDE,
                         sim_host_elem(r->server->host), 0, &link, &link, NULL, s2c);
    if (!rc)
        rc = qtrace_attach(&r->qt, r->s);
    if (!rc)
        rc = sim_qnode_connect(r->client, &SERVER_ADDR, "localhost", 2000000);
    if (!rc)
        rc = sim_run_until(r->s, 300 * RQ_MS);
    if (!rc)
        rc = outside_of(r, &r->before);
    return rc;
}

static int rebind(rb_run *r, bool new_address)
{
    unsigned changed = 0;
    r->rebind_at = sim_now(r->s);
    return sim_nat_rebind(r->s, r->nat, &CLIENT_ADDR, new_address, &changed);
}

static int run(rb_run *r, uint64_t seed, bool new_address)
{
    int rc = start(r, seed, NULL);
    if (!rc)
        rc = rebind(r, new_address);
    if (!rc)
        rc = sim_run_until_pred(r->s, done, r, 60 * RQ_SEC);
    if (!rc)
        rc = outside_of(r, &r->after);
    if (!rc) /* let the validations finish */
        rc = sim_run_until(r->s, sim_now(r->s) + 3 * RQ_SEC);
    return rc;
}

static void run_free(rb_run *r)
{
    sim_free(r->s);
    qtrace_free(&r->qt);
    sim_qnode_free(r->client);
    sim_qnode_free(r->server);
}

static void check_rebind(bool new_address)
{
    rb_run r;
    RQ_CHECK_ERR(run(&r, new_address ? 0x82 : 0x81, new_address), RQ_OK);
    RQ_CHECK(!r.client->closed && !r.server->closed);
    RQ_CHECK(r.server->fin_received);
    RQ_CHECK_EQ_U64(r.server->received, 2000000);
    RQ_CHECK_EQ_U64(r.server->bad_bytes, 0);
    RQ_CHECK(!rq_addr_eq(&r.before, &r.after));
    RQ_CHECK_EQ_INT(rq_addr_same_ip(&r.before, &r.after), !new_address);
    RQ_CHECK_EQ_U64(r.qt.st.undecryptable, 0);

    /* The server's packets after the rebind. */
    size_t first_new = SIZE_MAX;
    bool challenged_old = false, nonprobing_to_old_after = false, small_challenge = false;
    uint64_t to_new_before_valid = 0, from_new_before_valid = 0;
    rq_time validated_at = RQ_TIME_NEVER;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S && p->delivered != QTRACE_NEVER && p->delivered >= r.rebind_at &&
            qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_RESPONSE) && validated_at == RQ_TIME_NEVER)
            validated_at = p->delivered;
    }
    RQ_CHECK(validated_at != RQ_TIME_NEVER);
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir == QTRACE_C2S) {
            /* Everything that crossed the NAT after the rebind came from the new address,
             * whenever it was sent. */
            if (p->delivered != QTRACE_NEVER && p->delivered >= r.rebind_at &&
                p->delivered < validated_at)
                from_new_before_valid += p->len;
            continue;
        }
        if (p->t < r.rebind_at)
            continue;
        bool to_new = rq_addr_eq(&p->dst, &r.after), to_old = rq_addr_eq(&p->dst, &r.before);
        if (to_new && first_new == SIZE_MAX)
            first_new = i;
        if (to_new && p->t < validated_at)
            to_new_before_valid += p->len;
        if (to_old && qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_CHALLENGE))
            challenged_old = true;
        if (to_old && first_new != SIZE_MAX && !qtrace_pkt_only_probing(&r.qt, p))
            nonprobing_to_old_after = true;
        if (qtrace_pkt_frame(&r.qt, p, RQ_FT_PATH_CHALLENGE) && p->len < 1200)
            small_challenge = true;
    }
    RQ_CHECK(first_new != SIZE_MAX);
    /* MIG-9.3-02: the first packet to the new address carries a PATH_CHALLENGE. */
    RQ_CHECK(qtrace_pkt_frame(&r.qt, &r.qt.pkts[first_new], RQ_FT_PATH_CHALLENGE));
    /* MIG-9.3-01: after it, only probing packets still go to the old address. */
    RQ_CHECK(!nonprobing_to_old_after);
    /* MIG-9.3.3-01: the old address is challenged too. */
    RQ_CHECK(challenged_old);
    /* MIG-8.2.1-04: challenges travel in datagrams of at least 1200 bytes. */
    RQ_CHECK(!small_challenge);
    if (to_new_before_valid > 3 * from_new_before_valid)
        fprintf(stderr, "  to new %llu, from new %llu, rebind %.3f, validated %.3f\n",
                (unsigned long long)to_new_before_valid, (unsigned long long)from_new_before_valid,
                (double)r.rebind_at / 1e9, (double)validated_at / 1e9);
    /* MIG-9.3.1-01 (RFC 9000 §8): at most 3x what the new address sent, until validated. */
    RQ_CHECK(to_new_before_valid <= 3 * from_new_before_valid);
    /* Path frames across the whole run, both directions. */
    uint8_t sent_challenges[64][8];
    size_t nsent = 0;
    bool two_in_one = false, repeated = false, echo_ok = true, small_response = false;
    bool token_after = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        int challenges = 0;
        for (size_t f = p->first_frame; f < p->first_frame + p->frame_count; f++) {
            const rq_frame *fr = &r.qt.frames[f];
            if (fr->type == RQ_FT_PATH_CHALLENGE && p->dir == QTRACE_S2C) {
                challenges++;
                for (size_t k = 0; k < nsent; k++)
                    repeated |= memcmp(sent_challenges[k], fr->path.data, 8) == 0;
                if (nsent < 64)
                    memcpy(sent_challenges[nsent++], fr->path.data, 8);
            }
            if (fr->type == RQ_FT_PATH_RESPONSE && p->dir == QTRACE_C2S) {
                bool found = false;
                for (size_t k = 0; k < nsent; k++)
                    found |= memcmp(sent_challenges[k], fr->path.data, 8) == 0;
                echo_ok &= found;
                small_response |= p->len < 1200;
            }
            if (fr->type == RQ_FT_NEW_TOKEN && p->dir == QTRACE_S2C && p->t >= validated_at &&
                rq_addr_eq(&p->dst, &r.after))
                token_after = true;
        }
        two_in_one |= challenges > 1;
    }
    /* MIG-8.2.1-01: at most one PATH_CHALLENGE per packet. */
    RQ_CHECK(!two_in_one);
    /* MIG-8.2.1-03: every challenge carries new data, retransmissions included. */
    RQ_CHECK(nsent >= 2 && !repeated);
    /* MIG-8.2.2-01: each PATH_RESPONSE echoes data the server challenged with. */
    RQ_CHECK(echo_ok);
    /* MIG-8.2.2-05: PATH_RESPONSE travels in datagrams of at least 1200 bytes. */
    RQ_CHECK(!small_response);
    /* MIG-9.3-05: after validating the new address, a fresh NEW_TOKEN goes there. */
    RQ_CHECK(token_after);
    /* The server's state agrees: active on the new address, validated. */
    rq_conn *sc = r.server->conn;
    RQ_CHECK(sc != NULL);
    const rq_path *ap = &sc->paths[sc->active_path];
    RQ_CHECK(rq_addr_eq(&ap->addr.remote, &r.after));
    RQ_CHECK(ap->validated);
    printf("  %s rebind at %.3f s: %llu B to the new address before validation (%.3f s), "
           "%llu B from it; done at %.3f s\n",
           new_address ? "address" : "port", (double)r.rebind_at / 1e9,
           (unsigned long long)to_new_before_valid, (double)validated_at / 1e9,
           (unsigned long long)from_new_before_valid, (double)sim_now(r.s) / 1e9);
    run_free(&r);
}

/* MIG-9.3-01, MIG-9.3-02, MIG-9.3.3-01, MIG-8.2.1-04, MIG-9.3.1-01, MIG-8.2.1-01,
 * MIG-8.2.1-03, MIG-8.2.2-01, MIG-8.2.2-05, MIG-9.3-05: a port-only rebind (the interop
 * runner's rebind-port). MIG-9-04: even a port-only change of the peer's address is
 * validated (the first packet to the new address carries a PATH_CHALLENGE). */
static void test_nat_rebind_port_mig_9_3_01(void)
{
    check_rebind(false);
}

/* MIG-9.3-01, MIG-9.3-02, MIG-9.3.3-01, MIG-8.2.1-04, MIG-9.3.1-01, MIG-9.4-02: a rebind to a
 * new outside address (the interop runner's rebind-addr); RTT and congestion state start
 * afresh on the new path. */
static void test_nat_rebind_address_mig_9_3_02(void)
{
    check_rebind(true);
}

/* MIG-9.3.2-03: a server that has no validated peer address to return to (instrumented: it
 * forgets that the handshake address was validated) and whose validation of the client's new
 * address fails (everything it sends after the rebind is lost) closes silently: no
 * CONNECTION_CLOSE is ever sent, and the endpoint frees the connection. */
static void test_failed_validation_without_fallback_closes_silently_mig_9_3_2_03(void)
{
    rb_run r;
    sim_link *s2c;
    RQ_CHECK_ERR(start(&r, 0x9323, &s2c), RQ_OK);
    rq_conn *sc = r.server->conn;
    RQ_CHECK(sc && sc->paths[sc->active_path].validated);
    sc->paths[sc->active_path].validated = false; /* the lost record */
    sim_injector *inj;
    RQ_CHECK_ERR(sim_injector_new(r.s, "blackhole", s2c, &inj), RQ_OK);
    sim_inj_rule drop = {.action = SIM_INJ_DROP, .from = sim_now(r.s)};
    RQ_CHECK_ERR(sim_injector_add(inj, &drop, NULL), RQ_OK);
    RQ_CHECK_ERR(rebind(&r, false), RQ_OK);
    RQ_CHECK_ERR(sim_run_until(r.s, sim_now(r.s) + 20 * RQ_SEC), RQ_OK);
    RQ_CHECK(r.server->closed);
    RQ_CHECK(!r.client->fin_received);
    RQ_CHECK_EQ_U64(r.server->ep->nconns, 0);
    bool moved = false;
    for (size_t i = 0; i < r.qt.count; i++) {
        const qtrace_pkt *p = &r.qt.pkts[i];
        if (p->dir != QTRACE_S2C)
            continue;
        RQ_CHECK(!qtrace_pkt_frame(&r.qt, p, RQ_FT_CONNECTION_CLOSE));
        RQ_CHECK(!qtrace_pkt_frame(&r.qt, p, RQ_FT_CONNECTION_CLOSE_APP));
        moved |= p->t >= r.rebind_at && !rq_addr_eq(&p->dst, &r.before);
    }
    RQ_CHECK(moved); /* it did follow the rebind, and then gave up */
    run_free(&r);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_nat_rebind_port_mig_9_3_01);
    RQ_RUN(test_nat_rebind_address_mig_9_3_02);
    RQ_RUN(test_failed_validation_without_fallback_closes_silently_mig_9_3_2_03);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
