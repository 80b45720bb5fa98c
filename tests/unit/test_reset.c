/* Stateless Reset (RFC 9000 §10.3): token derivation, sizing, format, recognition. */
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

static int failing_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return -1;
}

/* MIG-10.3.2-01 — §10.3.2: token = HMAC-SHA256(key, CID)[0..16]; the expected value was computed
 * independently (Python's hmac module). Same key and CID, same token (a restarted server can
 * reset); another CID or key, another token. */
static void test_reset_token_derivation_rfc9000_10_3_2(void)
{
    uint8_t key[32], t1[16], t2[16], want[16];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    rq_cid cid = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
    rq_test_hex("5ea9633fb4bd1788197520638af1f7a6", want, 16);
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, t1), RQ_OK);
    RQ_CHECK_MEM(t1, want, 16);
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, t2), RQ_OK);
    RQ_CHECK_MEM(t1, t2, 16);
    cid.data[7] ^= 1;
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, t2), RQ_OK);
    RQ_CHECK(memcmp(t1, t2, 16) != 0);
    cid.data[7] ^= 1;
    key[0] ^= 1;
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, t2), RQ_OK);
    RQ_CHECK(memcmp(t1, t2, 16) != 0);
    cid.len = 21;
    RQ_CHECK_ERR(rq_reset_token_derive(key, &cid, t2), RQ_ERR_INVALID_ARG);
}

/* MIG-10.3-05, MIG-10.3.3-01 — §10.3.3: a reset is always smaller than its trigger (no loops),
 * never below 21 bytes
 * (§10.3: 38 unpredictable bits + token), far below 3× the trigger (§10.3: amplification);
 * §10.3: one byte shorter for triggers up to 43 bytes, and at least 42 bytes beyond. */
static void test_reset_sizing_rfc9000_10_3_3(void)
{
    for (size_t trigger = 0; trigger <= RQ_RESET_MIN_LEN; trigger++)
        RQ_CHECK_EQ_INT(rq_reset_len_for(trigger, 0), 0);
    for (size_t trigger = RQ_RESET_MIN_LEN + 1; trigger <= 43; trigger++)
        for (unsigned r = 0; r < 256; r += 37)
            RQ_CHECK_EQ_INT(rq_reset_len_for(trigger, (uint8_t)r), trigger - 1);
    for (size_t trigger = 44; trigger <= 1500; trigger++)
        for (unsigned r = 0; r < 256; r++) {
            size_t len = rq_reset_len_for(trigger, (uint8_t)r);
            RQ_CHECK(len >= 42 && len < trigger && len <= RQ_RESET_MAX_LEN);
            RQ_CHECK(len < 3 * trigger);
        }
    /* The random byte spreads the sizes. */
    RQ_CHECK(rq_reset_len_for(1200, 0) != rq_reset_len_for(1200, 1));
}

/* §10.3: the reset looks like a short-header packet (0b01 first bits) and ends with the
 * token; §10.3.1: the receiver recognises it by the trailing 16 bytes. */
static void test_reset_write_and_match_rfc9000_10_3(void)
{
    uint8_t token[16], pkt[RQ_RESET_MAX_LEN], other[16];
    for (int i = 0; i < 16; i++) {
        token[i] = (uint8_t)(0xa0 + i);
        other[i] = token[i];
    }
    other[15] ^= 0x01;
    uint64_t s = 99;
    for (size_t len = RQ_RESET_MIN_LEN; len <= RQ_RESET_MAX_LEN; len++) {
        RQ_CHECK_ERR(rq_reset_write(pkt, sizeof pkt, len, token, counter_random, &s), RQ_OK);
        RQ_CHECK_EQ_INT(pkt[0] & 0xc0, 0x40);
        RQ_CHECK_MEM(pkt + len - 16, token, 16);
        RQ_CHECK(rq_reset_matches(pkt, len, token));
        RQ_CHECK(!rq_reset_matches(pkt, len, other));
        RQ_CHECK(!rq_reset_matches(pkt, len - 1, token));
    }
    /* Too short to be a reset, even if the tail matched. */
    RQ_CHECK(!rq_reset_matches(pkt + RQ_RESET_MAX_LEN - 20, 20, token));
}

/* Bad arguments and a failing random source are reported, not ignored. */
static void test_reset_write_errors(void)
{
    uint8_t token[16] = {0}, pkt[80];
    uint64_t s = 1;
    RQ_CHECK_ERR(rq_reset_write(pkt, sizeof pkt, 20, token, counter_random, &s),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_reset_write(pkt, sizeof pkt, RQ_RESET_MAX_LEN + 1, token, counter_random, &s),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_reset_write(pkt, 30, 40, token, counter_random, &s), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_reset_write(pkt, sizeof pkt, 40, token, failing_random, NULL), RQ_ERR_CRYPTO);
}

int main(void)
{
    RQ_RUN(test_reset_token_derivation_rfc9000_10_3_2);
    RQ_RUN(test_reset_sizing_rfc9000_10_3_3);
    RQ_RUN(test_reset_write_and_match_rfc9000_10_3);
    RQ_RUN(test_reset_write_errors);
    return rq_test_summary();
}
