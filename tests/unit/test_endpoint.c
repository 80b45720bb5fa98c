/* The endpoint's stateless behaviour and its API contract: Version Negotiation (RFC 9000 §6),
 * Stateless Reset (§10.3), the 1200-byte Initial rule (§14.1), configuration checks (§18.2),
 * and the log line about missing static keys. */
#include "core/config.h"
#include "core/endpoint.h"
#include "core/packet.h"
#include "core/reset.h"
#include "crypto/reset_token.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static int counter_random(void *ctx, uint8_t *buf, size_t len)
{
    uint64_t *s = ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rq_test_rand(s);
    return 0;
}

static char last_log[512];
static void capture_log(void *ctx, const char *line)
{
    (void)ctx;
    snprintf(last_log, sizeof last_log, "%s", line);
}

static const rq_path_addr PATH = {{RQ_AF_INET4, 443, {10, 0, 0, 2}, 0},
                                  {RQ_AF_INET4, 5000, {10, 0, 0, 1}, 0}};

static rq_endpoint *server_ep(rq_config **cfg, uint64_t *rs, bool keys)
{
    *cfg = rq_config_new(RQ_ROLE_SERVER);
    rq_config_set_log(*cfg, capture_log, NULL);
    if (keys) {
        uint8_t k[32] = {1};
        rq_config_set_static_keys(*cfg, k, k);
    }
    return rq_endpoint_new(*cfg, counter_random, rs, NULL);
}

static int recv_bytes(rq_endpoint *ep, const uint8_t *data, size_t len)
{
    rq_datagram dg = {PATH, data, len};
    return rq_endpoint_recv(ep, 0, &dg);
}

/* RFC 9000 §10.3.2: without configured keys, the operator is told resets will not survive a
 * restart; with them, nothing is said. */
static void test_log_without_static_keys_rfc9000_10_3_2(void)
{
    uint64_t rs = 1;
    rq_config *cfg;
    last_log[0] = 0;
    rq_endpoint *ep = server_ep(&cfg, &rs, false);
    RQ_CHECK(ep);
    RQ_CHECK(strstr(last_log, "will not survive a restart") != NULL);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
    last_log[0] = 0;
    ep = server_ep(&cfg, &rs, true);
    RQ_CHECK(ep);
    RQ_CHECK_EQ_INT(last_log[0], 0);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* RFC 9000 §6.1: an unknown version in a datagram of 1200 bytes or more gets a Version
 * Negotiation packet echoing the CIDs and listing version 1; a smaller one gets nothing. */
static void test_version_negotiation_rfc9000_6_1(void)
{
    uint64_t rs = 2;
    rq_config *cfg;
    rq_endpoint *ep = server_ep(&cfg, &rs, true);
    uint8_t dg[1200] = {0xc0, 0x5a, 0x5a, 0x5a, 0x5a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 4, 9, 9, 9, 9};
    uint8_t out[1500];
    rq_datagram_out o = {.buf = out, .cap = sizeof out};
    RQ_CHECK_ERR(recv_bytes(ep, dg, 1199), RQ_OK);
    RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 0);
    RQ_CHECK_ERR(recv_bytes(ep, dg, sizeof dg), RQ_OK);
    RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 1);
    rq_pkt_hdr h;
    RQ_CHECK_ERR(rq_pkt_parse(out, o.len, 0, &h), RQ_OK);
    RQ_CHECK_EQ_INT(h.type, RQ_PKT_VERSION_NEGOTIATION);
    RQ_CHECK_EQ_INT(h.dcid_len, 4);
    RQ_CHECK_MEM(h.dcid, "\x09\x09\x09\x09", 4);
    RQ_CHECK_EQ_INT(h.scid_len, 8);
    bool has_v1 = false;
    for (size_t i = 0; i < h.num_versions; i++)
        has_v1 |= rq_pkt_vn_version(&h, i) == RQ_VERSION_1;
    RQ_CHECK(has_v1);
    RQ_CHECK(rq_addr_eq(&o.path.remote, &PATH.remote));
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* RFC 9000 §10.3: a short-header packet for an unknown connection gets a Stateless Reset that
 * is smaller than it and ends with the token derived from its DCID (§10.3.2); one too small to
 * answer gets nothing (§10.3.3). */
static void test_stateless_reset_for_unknown_cid_rfc9000_10_3(void)
{
    uint64_t rs = 3;
    rq_config *cfg;
    rq_endpoint *ep = server_ep(&cfg, &rs, true);
    uint8_t dg[100] = {0x41, 1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t out[1500];
    rq_datagram_out o = {.buf = out, .cap = sizeof out};
    RQ_CHECK_ERR(recv_bytes(ep, dg, 21), RQ_OK);
    RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 0);
    RQ_CHECK_ERR(recv_bytes(ep, dg, sizeof dg), RQ_OK);
    RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 1);
    RQ_CHECK(o.len < sizeof dg && o.len >= RQ_RESET_MIN_LEN);
    RQ_CHECK_EQ_INT(out[0] & 0xc0, 0x40);
    uint8_t token[16], key[32] = {1};
    rq_cid cid = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, token), RQ_OK);
    RQ_CHECK(rq_reset_matches(out, o.len, token));
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* RFC 9000 §14.1: a server drops an Initial in a datagram under 1200 bytes (no connection, no
 * reply). */
static void test_small_initial_dropped_rfc9000_14_1(void)
{
    uint64_t rs = 4;
    rq_config *cfg;
    rq_endpoint *ep = server_ep(&cfg, &rs, true);
    uint8_t dg[1199] = {0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0xa0};
    uint8_t out[1500];
    rq_datagram_out o = {.buf = out, .cap = sizeof out};
    RQ_CHECK_ERR(recv_bytes(ep, dg, sizeof dg), RQ_OK);
    RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 0);
    rq_event ev;
    RQ_CHECK(!rq_endpoint_poll_event(ep, &ev));
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* RFC 9000 §18.2: transport settings outside the allowed ranges are refused; a server may
 * not use zero-length CIDs (§5.1; MIG-10.3.2-02: its resets come from a static key, which
 * needs CIDs of one fixed, non-zero length — every CID it issues has local_cid_len bytes). */
static void test_transport_settings_checked_rfc9000_18_2(void)
{
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    rq_transport_settings t;
    rq_transport_defaults(&t);
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_OK);
    t.ack_delay_exponent = 21;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_transport_defaults(&t);
    t.max_ack_delay_ms = 1u << 14;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_transport_defaults(&t);
    t.active_connection_id_limit = 1;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_transport_defaults(&t);
    t.max_udp_payload_size = 1199;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_transport_defaults(&t);
    t.local_cid_len = 0;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_config_free(cfg);
}

/* The API refuses misuse with a code rather than crashing. */
static void test_api_misuse(void)
{
    uint64_t rs = 5;
    rq_config *cfg;
    rq_endpoint *ep = server_ep(&cfg, &rs, true);
    rq_conn *c;
    uint8_t small[100];
    rq_datagram_out o = {.buf = small, .cap = sizeof small};
    RQ_CHECK_ERR(rq_connect(ep, 0, &PATH, "x", &c), RQ_ERR_INVALID_ARG); /* a server */
    RQ_CHECK_ERR(rq_endpoint_send(ep, 0, &o), RQ_ERR_INVALID_ARG);       /* under 1200 */
    RQ_CHECK_ERR(rq_endpoint_recv(ep, 0, NULL), RQ_ERR_INVALID_ARG);
    RQ_CHECK(rq_endpoint_new(NULL, NULL, NULL, NULL) == NULL);
    RQ_CHECK(rq_config_new((rq_role)7) == NULL);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* MIG-5.1-01: the CIDs an endpoint issues (its default generator: GnuTLS's CSPRNG) carry
 * nothing that links them: over 10,000 of them every bit position is set about half of the
 * time (within 8 standard deviations) and no byte position is constant. */
static void test_cids_unlinkable_mig_5_1_01(void)
{
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    rq_endpoint *ep = rq_endpoint_new(cfg, NULL, NULL, NULL);
    RQ_CHECK(ep);
    enum { N = 10000, LEN = 8 };
    static unsigned ones[LEN * 8];
    static uint8_t first[LEN];
    static bool varies[LEN];
    memset(ones, 0, sizeof ones);
    memset(varies, 0, sizeof varies);
    for (int i = 0; i < N; i++) {
        rq_cid cid;
        RQ_CHECK_ERR(rq_ep_new_cid(ep, LEN, &cid), RQ_OK);
        for (int b = 0; b < LEN; b++) {
            if (i == 0)
                first[b] = cid.data[b];
            else if (cid.data[b] != first[b])
                varies[b] = true;
            for (int bit = 0; bit < 8; bit++)
                ones[b * 8 + bit] += (cid.data[b] >> bit) & 1;
        }
    }
    for (int k = 0; k < LEN * 8; k++)
        RQ_CHECK(ones[k] > N * 46 / 100 && ones[k] < N * 54 / 100);
    for (int b = 0; b < LEN; b++)
        RQ_CHECK(varies[b]);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* MIG-5.1-03: a client endpoint with zero-length local CIDs refuses a second connection on a
 * local address one of its connections uses (an unspecified local address matches any), and
 * allows one on another local address. */
static void test_zero_length_cid_owns_local_address_mig_5_1_03(void)
{
    rq_config *cfg = rq_config_new(RQ_ROLE_CLIENT);
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = 0;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_OK);
    RQ_CHECK_ERR(rq_config_set_insecure(cfg, true), RQ_OK);
    uint64_t rs = 9;
    rq_endpoint *ep = rq_endpoint_new(cfg, counter_random, &rs, NULL);
    RQ_CHECK(ep);
    rq_path_addr a = {{RQ_AF_INET4, 40000, {10, 0, 0, 1}, 0}, {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0}};
    rq_path_addr other_remote = a, other_port = a, any = a;
    other_remote.remote.port = 8443;
    other_port.local.port = 40001;
    any.local.family = RQ_AF_NONE;
    rq_conn *c1 = NULL, *c2 = NULL;
    RQ_CHECK_ERR(rq_connect(ep, 0, &a, "x", &c1), RQ_OK);
    RQ_CHECK_ERR(rq_connect(ep, 0, &other_remote, "x", &c2), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_connect(ep, 0, &any, "x", &c2), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_connect(ep, 0, &other_port, "x", &c2), RQ_OK);
    RQ_CHECK(c2 && c2 != c1);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

int main(void)
{
    RQ_RUN(test_cids_unlinkable_mig_5_1_01);
    RQ_RUN(test_zero_length_cid_owns_local_address_mig_5_1_03);
    RQ_RUN(test_log_without_static_keys_rfc9000_10_3_2);
    RQ_RUN(test_version_negotiation_rfc9000_6_1);
    RQ_RUN(test_stateless_reset_for_unknown_cid_rfc9000_10_3);
    RQ_RUN(test_small_initial_dropped_rfc9000_14_1);
    RQ_RUN(test_transport_settings_checked_rfc9000_18_2);
    RQ_RUN(test_api_misuse);
    return rq_test_summary();
}
