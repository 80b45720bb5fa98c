/* The latency spin bit (RFC 9000 §17.4, src/core/spin.[ch]): the per-path state machine
 * (server mirrors, client inverts, the highest packet number wins), its restart on a new path
 * or connection ID, and the random disabling of at least 1 in 16 paths or CIDs — the latter
 * through the same glue the connection uses, with the endpoint's injected randomness. */
#include "core/conn.h"
#include "core/endpoint.h"
#include "core/packet.h"
#include "core/spin.h"
#include "rqtest.h"

static const rq_cid CID_A = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
static const rq_cid CID_B = {8, {9, 9, 9, 9, 9, 9, 9, 9}};

/* §17.4: a server's spin value is the spin bit of the highest-numbered packet it received. */
static void test_spin_server_mirrors_rfc9000_17_4(void)
{
    rq_spin s = {0};
    rq_spin_restart(&s, &CID_A, 0xff); /* 0xff: enabled */
    RQ_CHECK(!s.disabled);
    RQ_CHECK(!rq_spin_value(&s)); /* starts at 0 */
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 0, true);
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 1, true);
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 2, false);
    RQ_CHECK(!rq_spin_value(&s));
}

/* §17.4: a client's spin value is the inverse of the bit of the highest-numbered packet. */
static void test_spin_client_inverts_rfc9000_17_4(void)
{
    rq_spin s = {0};
    rq_spin_restart(&s, &CID_A, 0x80);
    RQ_CHECK(!s.disabled);
    RQ_CHECK(!rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_CLIENT, 5, false);
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_CLIENT, 6, true);
    RQ_CHECK(!rq_spin_value(&s));
}

/* §17.4: only a packet that raises the highest packet number seen on the path counts:
 * reordered older packets and duplicates of the highest change nothing. */
static void test_spin_highest_pn_wins_rfc9000_17_4(void)
{
    rq_spin s = {0};
    rq_spin_restart(&s, &CID_A, 0xff);
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 10, true);
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 7, false); /* reordered, older */
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 10, false); /* same number */
    RQ_CHECK(rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 11, false);
    RQ_CHECK(!rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 9, true);
    RQ_CHECK(!rq_spin_value(&s));
    RQ_CHECK_EQ_U64(s.largest_pn, 11);
    /* A restart (new CID) keeps the largest: older packets still change nothing after it. */
    rq_spin_restart(&s, &CID_B, 0xff);
    RQ_CHECK(!rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 8, true);
    RQ_CHECK(!rq_spin_value(&s));
    rq_spin_on_recv(&s, RQ_ROLE_SERVER, 12, true);
    RQ_CHECK(rq_spin_value(&s));
}

/* §17.4: with spinning disabled the value sent is a constant (random per path/CID) and
 * incoming values are ignored. */
static void test_spin_disabled_ignores_incoming_rfc9000_17_4(void)
{
    for (int v = 0; v < 2; v++) {
        rq_spin s = {0};
        rq_spin_restart(&s, &CID_A, (uint8_t)v); /* below RQ_SPIN_DISABLE_IN_256: disabled */
        RQ_CHECK(s.disabled);
        RQ_CHECK_EQ_INT(rq_spin_value(&s), v);
        for (uint64_t pn = 0; pn < 20; pn++) {
            rq_spin_on_recv(&s, pn & 1 ? RQ_ROLE_CLIENT : RQ_ROLE_SERVER, pn, (pn >> 1) & 1);
            RQ_CHECK_EQ_INT(rq_spin_value(&s), v);
        }
    }
}

/* ---- Through the connection's glue: a bare connection and endpoint with injected
 * randomness (only the fields the spin code reads are set). ---- */

static uint64_t rng_state;
static int rng_mode; /* 0: splitmix; 1: 0xff bytes (never disabled) */

static int test_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = rng_mode ? 0xff : (uint8_t)rq_test_rand(&rng_state);
    return 0;
}

static rq_endpoint ep;
static rq_conn conn;
static rq_config *ep_cfg; /* default transport settings: the spin bit allowed */

static rq_conn *bare_conn(rq_role role)
{
    memset(&ep, 0, sizeof ep);
    memset(&conn, 0, sizeof conn);
    ep.rnd = test_random;
    ep.cfg = ep_cfg;
    conn.ep = &ep;
    conn.role = role;
    return &conn;
}

static void new_path(rq_path *p, uint32_t id, const rq_cid *dcid)
{
    rq_path_addr a = {{RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0}, {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0}};
    a.local.port = (uint16_t)(50000 + id);
    rq_conn_path_init(p, id, &a, true);
    p->dcid = *dcid;
    p->has_dcid = true;
}

/* MIG-17.4-01: the spin value is per path; it starts at 0 on a new path, and goes back to 0
 * when the CID the path sends with changes (then follows the peer again). */
static void test_spin_per_path_restart_on_cid_mig_17_4_01(void)
{
    rng_mode = 1;
    rq_conn *c = bare_conn(RQ_ROLE_SERVER);
    rq_path *p = &c->paths[0], *q = &c->paths[1];
    new_path(p, 0, &CID_A);
    RQ_CHECK(!rq_conn_spin_tx(c, p));
    rq_conn_spin_on_recv(c, p, 3, RQ_HDR_FIXED_BIT | RQ_HDR_SPIN_BIT);
    RQ_CHECK(rq_conn_spin_tx(c, p));
    /* Another path of the same connection is independent and starts at 0. */
    new_path(q, 1, &CID_B);
    RQ_CHECK(!rq_conn_spin_tx(c, q));
    RQ_CHECK(rq_conn_spin_tx(c, p));
    rq_conn_spin_on_recv(c, q, 4, RQ_HDR_FIXED_BIT); /* bit 0 on q: q stays 0, p unchanged */
    RQ_CHECK(!rq_conn_spin_tx(c, q));
    RQ_CHECK(rq_conn_spin_tx(c, p));
    /* The CID on path p changes: back to 0 at once, then following the peer again. */
    p->dcid = CID_B;
    RQ_CHECK(!rq_conn_spin_tx(c, p));
    RQ_CHECK_EQ_U64(p->spin.restarts, 1);
    rq_conn_spin_on_recv(c, p, 2, RQ_HDR_SPIN_BIT); /* older than 3: ignored */
    RQ_CHECK(!rq_conn_spin_tx(c, p));
    rq_conn_spin_on_recv(c, p, 5, RQ_HDR_SPIN_BIT);
    RQ_CHECK(rq_conn_spin_tx(c, p));
    /* A client on a recycled path slot starts again at 0 too (rq_conn_path_init zeroes it). */
    c->role = RQ_ROLE_CLIENT;
    new_path(p, 0, &CID_A);
    RQ_CHECK(!p->spin.started);
    RQ_CHECK(!rq_conn_spin_tx(c, p));
    rq_conn_spin_on_recv(c, p, 9, 0);
    RQ_CHECK(rq_conn_spin_tx(c, p)); /* the client inverts */
}

/* MIG-17.4-02: spinning is disabled on a random selection of at least 1 in 16 paths or CIDs.
 * 1600 new paths and 1600 CID changes, drawn from the endpoint's randomness: each time at
 * least 100 (1/16) are disabled, but not all; disabled ones send a constant that takes both
 * values over the sample; enabled ones start at 0. */
static void test_spin_disabled_fraction_mig_17_4_02(void)
{
    rng_mode = 0;
    rng_state = rq_test_seed();
    rq_conn *c = bare_conn(RQ_ROLE_CLIENT);
    const unsigned n = 1600;
    /* New paths. */
    unsigned disabled = 0, ones = 0;
    for (unsigned i = 0; i < n; i++) {
        rq_path *p = &c->paths[i % RQ_MAX_PATHS];
        rq_cid cid = {8, {0}};
        memcpy(cid.data, &i, sizeof i);
        new_path(p, i % RQ_MAX_PATHS, &cid);
        bool v = rq_conn_spin_tx(c, p);
        if (p->spin.disabled) {
            disabled++;
            ones += v;
            /* A disabled path ignores what it receives: the value stays put. */
            rq_conn_spin_on_recv(c, p, 1, v ? 0 : RQ_HDR_SPIN_BIT);
            rq_conn_spin_on_recv(c, p, 2, v ? RQ_HDR_SPIN_BIT : 0);
            RQ_CHECK_EQ_INT(rq_conn_spin_tx(c, p), v);
        } else {
            RQ_CHECK(!v);
        }
    }
    printf("  new paths: spin disabled on %u of %u (%u with value 1)\n", disabled, n, ones);
    RQ_CHECK(disabled >= n / 16);
    RQ_CHECK(disabled < n / 4); /* a fraction, near 1/8 */
    RQ_CHECK(ones > 0 && ones < disabled);
    /* CID changes on one path. */
    rq_path *p = &c->paths[0];
    new_path(p, 0, &CID_A);
    (void)rq_conn_spin_tx(c, p);
    disabled = 0;
    for (unsigned i = 0; i < n; i++) {
        memcpy(p->dcid.data, &i, sizeof i);
        bool v = rq_conn_spin_tx(c, p);
        disabled += p->spin.disabled;
        if (!p->spin.disabled)
            RQ_CHECK(!v);
    }
    printf("  CID changes: spin disabled on %u of %u\n", disabled, n);
    RQ_CHECK_EQ_U64(p->spin.restarts, n);
    RQ_CHECK(disabled >= n / 16);
    RQ_CHECK(disabled < n / 4);
}

int main(void)
{
    ep_cfg = rq_config_new(RQ_ROLE_CLIENT);
    RQ_RUN(test_spin_server_mirrors_rfc9000_17_4);
    RQ_RUN(test_spin_client_inverts_rfc9000_17_4);
    RQ_RUN(test_spin_highest_pn_wins_rfc9000_17_4);
    RQ_RUN(test_spin_disabled_ignores_incoming_rfc9000_17_4);
    RQ_RUN(test_spin_per_path_restart_on_cid_mig_17_4_01);
    RQ_RUN(test_spin_disabled_fraction_mig_17_4_02);
    rq_config_free(ep_cfg);
    return rq_test_summary();
}
