/* IPv6 flow labels (RFC 9000 §9.7, src/core/flowlabel.[ch]): a keyed hash of the path and the
 * DCID, 20 bits, stable for one path and CID, changing with either, and with no structure an
 * observer without the key could use to link a new label to an old one (MIG-9.7-02). */
#include "core/conn.h"
#include "core/endpoint.h"
#include "core/flowlabel.h"
#include "core/spin.h"
#include "rqtest.h"

static uint64_t rng;

static void rand_bytes(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rq_test_rand(&rng);
}

static rq_addr rand_v6(void)
{
    rq_addr a = {RQ_AF_INET6, 0, {0}, 0};
    rand_bytes(a.ip, 16);
    a.port = (uint16_t)rq_test_rand(&rng);
    return a;
}

static rq_path_addr rand_path(void)
{
    rq_path_addr p = {rand_v6(), rand_v6()};
    return p;
}

static rq_cid rand_cid(void)
{
    rq_cid c = {8, {0}};
    rand_bytes(c.data, 8);
    return c;
}

static unsigned popcount20(uint32_t x)
{
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* MIG-9.7-02: one path and one CID keep one label (a flow, RFC 6437); it has 20 bits and is
 * not 0 ("no label"); IPv4 has no flow label (0). */
static void test_flow_label_stable_20_bits_mig_9_7_02(void)
{
    rng = rq_test_seed();
    unsigned long n = rq_test_iterations(2000);
    for (unsigned long i = 0; i < n; i++) {
        uint8_t key[RQ_SIPHASH_KEY_LEN];
        rand_bytes(key, sizeof key);
        rq_path_addr p = rand_path();
        rq_cid cid = rand_cid();
        uint32_t l = rq_flow_label(key, &p, &cid);
        RQ_CHECK(l != 0);
        RQ_CHECK(l <= RQ_FLOW_LABEL_MASK);
        rq_path_addr copy = p;
        rq_cid cid_copy = cid;
        RQ_CHECK_EQ_U64(rq_flow_label(key, &copy, &cid_copy), l);
        rq_path_addr v4 = {{RQ_AF_INET4, 5000, {10, 0, 0, 1}, 0},
                           {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0}};
        RQ_CHECK_EQ_U64(rq_flow_label(key, &v4, &cid), 0);
    }
}

/* MIG-9.7-02: a new CID, a new local or remote address or port, or another key each give a
 * different label (bar a 2^-20 chance per pair: at most a couple over the whole run). */
static void test_flow_label_changes_with_path_and_cid_mig_9_7_02(void)
{
    rng = rq_test_seed() ^ 1;
    unsigned long n = rq_test_iterations(4000);
    unsigned same[5] = {0};
    for (unsigned long i = 0; i < n; i++) {
        uint8_t key[RQ_SIPHASH_KEY_LEN], key2[RQ_SIPHASH_KEY_LEN];
        rand_bytes(key, sizeof key);
        rand_bytes(key2, sizeof key2);
        rq_path_addr p = rand_path();
        rq_cid cid = rand_cid();
        uint32_t l = rq_flow_label(key, &p, &cid);
        rq_cid cid2 = rand_cid();
        same[0] += rq_flow_label(key, &p, &cid2) == l;
        rq_path_addr q = p;
        q.local.port ^= 1; /* a NAT rebinding's new port */
        same[1] += rq_flow_label(key, &q, &cid) == l;
        q = p;
        q.local = rand_v6(); /* the client's new address */
        same[2] += rq_flow_label(key, &q, &cid) == l;
        q = p;
        q.remote.ip[15] ^= 0x80; /* the server's preferred address next door */
        same[3] += rq_flow_label(key, &q, &cid) == l;
        same[4] += rq_flow_label(key2, &p, &cid) == l;
    }
    for (int k = 0; k < 5; k++)
        RQ_CHECK(same[k] <= 2);
}

/* MIG-9.7-02: no structure to exploit. Flipping any one bit of an address, port or the CID
 * flips each label bit with probability about 1/2 (avalanche: about 10 of 20 bits change), so
 * the difference between two labels says nothing about the difference between their paths;
 * labels are not XOR-linear in the addresses; and the XOR of a path's old and new labels is
 * not a function of the address change (it differs between paths with the same change). */
static void test_flow_label_unlinkable_without_key_mig_9_7_02(void)
{
    rng = rq_test_seed() ^ 2;
    unsigned long n = rq_test_iterations(4000);
    uint8_t key[RQ_SIPHASH_KEY_LEN];
    rand_bytes(key, sizeof key);
    uint64_t flipped_total = 0;
    unsigned long per_bit[20] = {0};
    unsigned linear = 0, same_delta = 0;
    for (unsigned long i = 0; i < n; i++) {
        rq_path_addr p = rand_path();
        rq_cid cid = rand_cid();
        uint32_t l = rq_flow_label(key, &p, &cid);
        /* One random bit of local ip, remote ip, either port or the CID. */
        rq_path_addr q = p;
        rq_cid cid2 = cid;
        unsigned which = (unsigned)(rq_test_rand(&rng) % 5), bit = (unsigned)rq_test_rand(&rng);
        if (which == 0)
            q.local.ip[(bit >> 3) % 16] ^= (uint8_t)(1u << (bit & 7));
        else if (which == 1)
            q.remote.ip[(bit >> 3) % 16] ^= (uint8_t)(1u << (bit & 7));
        else if (which == 2)
            q.local.port ^= (uint16_t)(1u << (bit % 16));
        else if (which == 3)
            q.remote.port ^= (uint16_t)(1u << (bit % 16));
        else
            cid2.data[(bit >> 3) % 8] ^= (uint8_t)(1u << (bit & 7));
        uint32_t d = l ^ rq_flow_label(key, &q, &cid2);
        flipped_total += popcount20(d);
        for (int b = 0; b < 20; b++)
            per_bit[b] += (d >> b) & 1;
        /* XOR-linearity: L(a) ^ L(b) ^ L(c) == L(a ^ b ^ c) over the remote address. */
        rq_path_addr a = p, b = rand_path(), c = rand_path(), x = p;
        b.local = c.local = a.local;
        b.remote.port = c.remote.port = a.remote.port;
        for (int k = 0; k < 16; k++)
            x.remote.ip[k] = (uint8_t)(a.remote.ip[k] ^ b.remote.ip[k] ^ c.remote.ip[k]);
        linear += (rq_flow_label(key, &a, &cid) ^ rq_flow_label(key, &b, &cid) ^
                   rq_flow_label(key, &c, &cid)) == rq_flow_label(key, &x, &cid);
        /* The same address change on another path: the label difference is not the same. */
        rq_path_addr p2 = rand_path(), q2 = p2;
        q.remote = p.remote;
        q.remote.ip[0] ^= 1;
        q.local = p.local;
        q2.remote.ip[0] ^= 1;
        same_delta += (l ^ rq_flow_label(key, &q, &cid)) ==
                      (rq_flow_label(key, &p2, &cid) ^ rq_flow_label(key, &q2, &cid));
    }
    double mean = (double)flipped_total / (double)n;
    printf("  one input bit flipped: %.2f of 20 label bits change on average\n", mean);
    RQ_CHECK(mean > 9.0 && mean < 11.0);
    for (int b = 0; b < 20; b++) {
        double f = (double)per_bit[b] / (double)n;
        if (n >= 1000)
            RQ_CHECK(f > 0.4 && f < 0.6);
    }
    RQ_CHECK(linear <= 2);
    RQ_CHECK(same_delta <= 2);
}

/* ---- Through the connection: rq_conn_flow_label uses the path's own random key. ---- */

static uint64_t conn_rng;

static int test_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rq_test_rand(&conn_rng);
    return 0;
}

static rq_endpoint ep;
static rq_conn conn;
static rq_config *ep_cfg; /* default transport settings: the spin bit allowed */

/* MIG-9.7-02 on a connection: the label a path's datagrams carry is constant while its path
 * and CID are; a CID change on the path changes it; a new path (even to the same addresses
 * with the same CID, as after the path was dropped and made again) draws a new key and a new
 * label; constant labels across paths would fail here. IPv4 paths carry 0. */
static void test_conn_flow_label_per_path_and_cid_mig_9_7_02(void)
{
    conn_rng = rq_test_seed() ^ 3;
    rng = conn_rng ^ 4;
    memset(&ep, 0, sizeof ep);
    memset(&conn, 0, sizeof conn);
    ep.rnd = test_random;
    ep.cfg = ep_cfg;
    conn.ep = &ep;
    conn.role = RQ_ROLE_CLIENT;
    rq_path_addr a = rand_path();
    rq_path *p = &conn.paths[0];
    rq_conn_path_init(p, 0, &a, true);
    p->dcid = rand_cid();
    p->has_dcid = true;
    uint32_t l0 = rq_conn_flow_label(&conn, p);
    RQ_CHECK(l0 != 0 && l0 <= RQ_FLOW_LABEL_MASK);
    for (int i = 0; i < 10; i++)
        RQ_CHECK_EQ_U64(rq_conn_flow_label(&conn, p), l0);
    rq_cid first = p->dcid;
    p->dcid = rand_cid();
    uint32_t l1 = rq_conn_flow_label(&conn, p);
    RQ_CHECK(l1 != l0);
    RQ_CHECK_EQ_U64(rq_conn_flow_label(&conn, p), l1);
    /* The path made again on the same 4-tuple with the first CID: a new key. */
    rq_conn_path_init(p, 0, &a, true);
    p->dcid = first;
    p->has_dcid = true;
    uint32_t l2 = rq_conn_flow_label(&conn, p);
    RQ_CHECK(l2 != l0 && l2 != l1);
    /* A second path of the connection to another client address. */
    rq_path_addr b = a;
    b.local = rand_v6();
    rq_path *q = &conn.paths[1];
    rq_conn_path_init(q, 1, &b, false);
    q->dcid = rand_cid();
    q->has_dcid = true;
    uint32_t l3 = rq_conn_flow_label(&conn, q);
    RQ_CHECK(l3 != l2 && l3 != 0);
    RQ_CHECK_EQ_U64(rq_conn_flow_label(&conn, p), l2);
    rq_path_addr v4 = {{RQ_AF_INET4, 5000, {10, 0, 0, 1}, 0}, {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0}};
    rq_conn_path_init(q, 1, &v4, false);
    RQ_CHECK_EQ_U64(rq_conn_flow_label(&conn, q), 0);
}

int main(void)
{
    ep_cfg = rq_config_new(RQ_ROLE_CLIENT);
    RQ_RUN(test_flow_label_stable_20_bits_mig_9_7_02);
    RQ_RUN(test_flow_label_changes_with_path_and_cid_mig_9_7_02);
    RQ_RUN(test_flow_label_unlinkable_without_key_mig_9_7_02);
    RQ_RUN(test_conn_flow_label_per_path_and_cid_mig_9_7_02);
    rq_config_free(ep_cfg);
    return rq_test_summary();
}
