/* Address-validation tokens (RFC 9000 §8.1.1–§8.1.4). */
#include "core/token.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static int test_random(void *ctx, uint8_t *buf, size_t len)
{
    uint64_t *s = ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rq_test_rand(s);
    return 0;
}

static uint64_t rnd_state = 42;
static const uint64_t RETRY_LIFE = 10000, NEW_LIFE = 12 * 3600 * 1000ULL;

static void key_init(rq_seal_key *k, uint8_t fill)
{
    uint8_t key[32];
    memset(key, fill, sizeof key);
    if (rq_seal_key_init(k, key) != 0)
        abort();
}

/* §8.1.2: a Retry token comes back valid from the same address and port, and yields the
 * original DCID (§7.3 needs it); another port or address makes it invalid. */
static void test_retry_token_rfc9000_8_1_2(void)
{
    rq_seal_key k;
    key_init(&k, 7);
    rq_addr client = rq_addr_v4(192, 0, 2, 1, 4433);
    rq_cid odcid = {8, {1, 2, 3, 4, 5, 6, 7, 8}}, got = {0};
    uint8_t tok[RQ_TOKEN_MAX_LEN];
    size_t len;
    rq_token_kind kind;
    RQ_CHECK_ERR(rq_token_issue_retry(&k, 1000, &client, &odcid, test_random, &rnd_state, tok,
                                      sizeof tok, &len),
                 RQ_OK);
    RQ_CHECK_EQ_INT(rq_token_kind_of(tok, len), RQ_TOKEN_RETRY);
    RQ_CHECK_ERR(rq_token_validate(&k, 1500, tok, len, &client, RETRY_LIFE, NEW_LIFE, &kind, &got),
                 RQ_OK);
    RQ_CHECK_EQ_INT(kind, RQ_TOKEN_RETRY);
    RQ_CHECK(rq_cid_eq(&got, &odcid));
    rq_addr other_port = rq_addr_v4(192, 0, 2, 1, 4434);
    RQ_CHECK_ERR(
        rq_token_validate(&k, 1500, tok, len, &other_port, RETRY_LIFE, NEW_LIFE, &kind, &got),
        RQ_ERR_INVALID_TOKEN);
    rq_addr other_ip = rq_addr_v4(192, 0, 2, 2, 4433);
    RQ_CHECK_ERR(
        rq_token_validate(&k, 1500, tok, len, &other_ip, RETRY_LIFE, NEW_LIFE, &kind, &got),
        RQ_ERR_INVALID_TOKEN);
    rq_seal_key_deinit(&k);
}

/* §8.1.3: a NEW_TOKEN token is bound to the address only (the next connection comes from
 * another port), and lives for hours rather than seconds. */
static void test_new_token_rfc9000_8_1_3(void)
{
    rq_seal_key k;
    key_init(&k, 9);
    rq_addr client = {RQ_AF_INET6, 5000, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, 0};
    uint8_t tok[RQ_TOKEN_MAX_LEN];
    size_t len;
    rq_token_kind kind;
    RQ_CHECK_ERR(
        rq_token_issue_new(&k, 1000, &client, test_random, &rnd_state, tok, sizeof tok, &len),
        RQ_OK);
    RQ_CHECK_EQ_INT(rq_token_kind_of(tok, len), RQ_TOKEN_NEW);
    rq_addr later = client;
    later.port = 6000;
    RQ_CHECK_ERR(rq_token_validate(&k, 1000 + 3600 * 1000, tok, len, &later, RETRY_LIFE, NEW_LIFE,
                                   &kind, NULL),
                 RQ_OK);
    RQ_CHECK_EQ_INT(kind, RQ_TOKEN_NEW);
    later.ip[15] = 2;
    RQ_CHECK_ERR(rq_token_validate(&k, 2000, tok, len, &later, RETRY_LIFE, NEW_LIFE, &kind, NULL),
                 RQ_ERR_INVALID_TOKEN);
    rq_seal_key_deinit(&k);
}

/* MIG-8.1.4-01, RFC 9000 §8.1.4: a NEW_TOKEN token lets the server tell whether the client's
 * IP address changed since the token was issued. From the issuing IP it validates at any port;
 * from any other IP — every single-bit change of the address, either family, the same bytes in
 * the other family — it is invalid, so the server keeps the 3x limit there (the sim test
 * test_new_token_from_changed_ip_keeps_limit_mig_8_1_4_01 shows the limit on the wire). */
static void test_new_token_detects_ip_change_mig_8_1_4_01(void)
{
    rq_seal_key k;
    key_init(&k, 11);
    rq_addr v4 = rq_addr_v4(198, 51, 100, 7, 40000);
    rq_addr v6 = {RQ_AF_INET6, 40000, {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, [15] = 9}, 0};
    const rq_addr *clients[] = {&v4, &v6};
    for (size_t c = 0; c < 2; c++) {
        const rq_addr *client = clients[c];
        uint8_t tok[RQ_TOKEN_MAX_LEN];
        size_t len;
        rq_token_kind kind;
        RQ_CHECK_ERR(
            rq_token_issue_new(&k, 1000, client, test_random, &rnd_state, tok, sizeof tok, &len),
            RQ_OK);
        static const uint16_t ports[] = {1, 443, 40000, 40001, 65535};
        for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
            rq_addr same = *client;
            same.port = ports[i];
            RQ_CHECK_ERR(
                rq_token_validate(&k, 2000, tok, len, &same, RETRY_LIFE, NEW_LIFE, &kind, NULL),
                RQ_OK);
            RQ_CHECK_EQ_INT(kind, RQ_TOKEN_NEW);
        }
        size_t ip_len = client->family == RQ_AF_INET4 ? 4 : 16;
        for (size_t byte = 0; byte < ip_len; byte++)
            for (int bit = 0; bit < 8; bit++) {
                rq_addr moved = *client;
                moved.ip[byte] ^= (uint8_t)(1u << bit);
                RQ_CHECK_ERR(rq_token_validate(&k, 2000, tok, len, &moved, RETRY_LIFE, NEW_LIFE,
                                               &kind, NULL),
                             RQ_ERR_INVALID_TOKEN);
            }
        rq_addr other_family = *client;
        other_family.family = client->family == RQ_AF_INET4 ? RQ_AF_INET6 : RQ_AF_INET4;
        RQ_CHECK_ERR(
            rq_token_validate(&k, 2000, tok, len, &other_family, RETRY_LIFE, NEW_LIFE, &kind, NULL),
            RQ_ERR_INVALID_TOKEN);
    }
    rq_seal_key_deinit(&k);
}

/* §8.1.2/§8.1.3: tokens expire by kind; one issued in the future beyond the allowed skew is
 * refused. */
static void test_token_lifetimes_rfc9000_8_1(void)
{
    rq_seal_key k;
    key_init(&k, 1);
    rq_addr client = rq_addr_v4(10, 1, 2, 3, 999);
    rq_cid odcid = {4, {9, 9, 9, 9}};
    uint8_t tok[RQ_TOKEN_MAX_LEN];
    size_t len;
    rq_token_kind kind;
    uint64_t t0 = 5000000;
    RQ_CHECK_ERR(rq_token_issue_retry(&k, t0, &client, &odcid, test_random, &rnd_state, tok,
                                      sizeof tok, &len),
                 RQ_OK);
    RQ_CHECK_ERR(rq_token_validate(&k, t0 + RETRY_LIFE, tok, len, &client, RETRY_LIFE, NEW_LIFE,
                                   &kind, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(rq_token_validate(&k, t0 + RETRY_LIFE + 1, tok, len, &client, RETRY_LIFE, NEW_LIFE,
                                   &kind, NULL),
                 RQ_ERR_INVALID_TOKEN);
    RQ_CHECK_ERR(rq_token_validate(&k, t0 - RQ_TOKEN_MAX_SKEW_MS, tok, len, &client, RETRY_LIFE,
                                   NEW_LIFE, &kind, NULL),
                 RQ_OK);
    RQ_CHECK_ERR(rq_token_validate(&k, t0 - RQ_TOKEN_MAX_SKEW_MS - 1, tok, len, &client, RETRY_LIFE,
                                   NEW_LIFE, &kind, NULL),
                 RQ_ERR_INVALID_TOKEN);
    rq_seal_key_deinit(&k);
}

/* §8.1.4: tokens cannot be forged or altered: any changed byte, a cut, or another server key
 * makes the token invalid; garbage is invalid without crashing. */
static void test_token_integrity_rfc9000_8_1_4(void)
{
    rq_seal_key k, other;
    key_init(&k, 3);
    key_init(&other, 4);
    rq_addr client = rq_addr_v4(127, 0, 0, 1, 1234);
    rq_cid odcid = {20, {0}};
    uint8_t tok[RQ_TOKEN_MAX_LEN], bad[RQ_TOKEN_MAX_LEN];
    size_t len;
    rq_token_kind kind;
    RQ_CHECK_ERR(rq_token_issue_retry(&k, 0, &client, &odcid, test_random, &rnd_state, tok,
                                      sizeof tok, &len),
                 RQ_OK);
    RQ_CHECK_EQ_INT(len, RQ_TOKEN_MAX_LEN);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, tok, len);
        bad[i] ^= 0x01;
        RQ_CHECK_ERR(rq_token_validate(&k, 0, bad, len, &client, RETRY_LIFE, NEW_LIFE, &kind, NULL),
                     RQ_ERR_INVALID_TOKEN);
    }
    for (size_t cut = 0; cut < len; cut++)
        RQ_CHECK_ERR(rq_token_validate(&k, 0, tok, cut, &client, RETRY_LIFE, NEW_LIFE, &kind, NULL),
                     RQ_ERR_INVALID_TOKEN);
    RQ_CHECK_ERR(rq_token_validate(&other, 0, tok, len, &client, RETRY_LIFE, NEW_LIFE, &kind, NULL),
                 RQ_ERR_INVALID_TOKEN);
    RQ_CHECK_EQ_INT(rq_token_kind_of((const uint8_t *)"x", 1), 0);
    rq_seal_key_deinit(&k);
    rq_seal_key_deinit(&other);
}

/* Tokens are unlinkable across issues (random nonce): the same inputs give different bytes. */
static void test_token_nonce_fresh(void)
{
    rq_seal_key k;
    key_init(&k, 5);
    rq_addr client = rq_addr_v4(127, 0, 0, 1, 1);
    uint8_t a[RQ_TOKEN_MAX_LEN], b[RQ_TOKEN_MAX_LEN];
    size_t la, lb;
    RQ_CHECK_ERR(rq_token_issue_new(&k, 7, &client, test_random, &rnd_state, a, sizeof a, &la),
                 RQ_OK);
    RQ_CHECK_ERR(rq_token_issue_new(&k, 7, &client, test_random, &rnd_state, b, sizeof b, &lb),
                 RQ_OK);
    RQ_CHECK_EQ_INT(la, lb);
    RQ_CHECK(memcmp(a, b, la) != 0);
    rq_seal_key_deinit(&k);
}

static void test_token_issue_errors(void)
{
    rq_seal_key k;
    key_init(&k, 6);
    rq_addr client = rq_addr_v4(127, 0, 0, 1, 1);
    rq_cid big = {21, {0}};
    uint8_t tok[RQ_TOKEN_MAX_LEN];
    size_t len;
    RQ_CHECK_ERR(rq_token_issue_new(&k, 0, &client, test_random, &rnd_state, tok, 40, &len),
                 RQ_ERR_BUFFER_TOO_SMALL);
    RQ_CHECK_ERR(
        rq_token_issue_retry(&k, 0, &client, &big, test_random, &rnd_state, tok, sizeof tok, &len),
        RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(
        rq_token_issue_retry(&k, 0, &client, NULL, test_random, &rnd_state, tok, sizeof tok, &len),
        RQ_ERR_INVALID_ARG);
    rq_seal_key_deinit(&k);
}

int main(void)
{
    RQ_RUN(test_retry_token_rfc9000_8_1_2);
    RQ_RUN(test_new_token_rfc9000_8_1_3);
    RQ_RUN(test_new_token_detects_ip_change_mig_8_1_4_01);
    RQ_RUN(test_token_lifetimes_rfc9000_8_1);
    RQ_RUN(test_token_integrity_rfc9000_8_1_4);
    RQ_RUN(test_token_nonce_fresh);
    RQ_RUN(test_token_issue_errors);
    return rq_test_summary();
}
