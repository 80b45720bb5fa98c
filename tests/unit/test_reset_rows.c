/* Stateless reset rows of the migration checklist proved at unit level (RFC 9000 §10.3,
 * §10.3.1, §10.3.2): what the bytes of the resets an endpoint sends look like (MIG-10.3-03),
 * the token comparison (MIG-10.3.1-03) and the connection ID generator behind the static-key
 * tokens (MIG-10.3.2-03). */
#include "core/cidmap.h"
#include "core/cids.h"
#include "core/config.h"
#include "core/endpoint.h"
#include "core/reset.h"
#include "crypto/reset_token.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static const uint8_t KEY[32] = {0x5e, 0x70, 0x11, 0xfe, 1,  2,  3,  4,  5,  6,  7,
                                8,    9,    10,   11,   12, 13, 14, 15, 16, 17, 18,
                                19,   20,   21,   22,   23, 24, 25, 26, 27, 28};

static const rq_path_addr PATH = {{RQ_AF_INET4, 443, {10, 0, 0, 2}, 0},
                                  {RQ_AF_INET4, 5000, {10, 0, 0, 1}, 0}};

/* A server endpoint with the static reset key KEY and the library's default random source
 * (GnuTLS's CSPRNG), as deployed. */
static rq_endpoint *server_ep(rq_config **cfg)
{
    *cfg = rq_config_new(RQ_ROLE_SERVER);
    if (!*cfg || rq_config_set_static_keys(*cfg, KEY, KEY) != 0)
        return NULL;
    return rq_endpoint_new(*cfg, NULL, NULL, NULL);
}

/* MIG-10.3-03 — RFC 9000 §10.3: apart from its first two bits (01, a short header) and the
 * 16-byte token, a Stateless Reset must look random. 1000 short-header packets of 100 bytes
 * for unknown CIDs (identical apart from the DCID) reach a server endpoint; each is answered
 * by one reset that
 *   - starts with the bits 01 and ends with HMAC(static key, DCID)[0..16] (so the test knows
 *     exactly where the unpredictable part is: everything in between);
 *   - does not echo the trigger: bytes 1..8 are never the trigger's DCID, the rest never the
 *     trigger's fixed bytes;
 * and over the 1000 resets the unpredictable part shows no fixed pattern: the six low bits of
 * the first byte take all 64 values, every one of the first 26 bytes after it (every reset has
 * at least 26 bytes before its token: it is 42 bytes or more) takes at least 200 of the 256
 * values (a uniform source gives ~251), every bit of them is set in 40–60 % of the resets, and
 * two resets answering the very same trigger differ. The lengths vary too (42..64). */
static void test_reset_bytes_unpredictable_mig_10_3_03(void)
{
    rq_config *cfg;
    rq_endpoint *ep = server_ep(&cfg);
    RQ_CHECK(ep);
    enum { N = 1000, POS = 26, TRIG = 100 };
    static bool seen0[64];
    static bool seen[POS][256];
    static unsigned ones[POS][8];
    static bool len_seen[RQ_RESET_MAX_LEN + 1];
    memset(seen0, 0, sizeof seen0);
    memset(seen, 0, sizeof seen);
    memset(ones, 0, sizeof ones);
    memset(len_seen, 0, sizeof len_seen);
    unsigned ones0[6] = {0};
    uint64_t rs = 0x103103;
    uint8_t trig[TRIG], out[1500], prev_random[RQ_RESET_MAX_LEN];
    size_t prev_len = 0;
    for (size_t i = 0; i < sizeof trig; i++)
        trig[i] = (uint8_t)(0xa5 ^ i);
    trig[0] = 0x41; /* short header, fixed bit, 2-byte packet number */
    for (int n = 0; n <= N; n++) {
        /* The last trigger repeats the one before, DCID included. */
        if (n < N) {
            uint64_t r = rq_test_rand(&rs);
            memcpy(trig + 1, &r, 8);
        }
        rq_datagram dg = {PATH, trig, sizeof trig};
        RQ_CHECK_ERR(rq_endpoint_recv(ep, 0, &dg), RQ_OK);
        rq_datagram_out o = {.buf = out, .cap = sizeof out};
        RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &o), 1);
        RQ_CHECK_EQ_INT(rq_endpoint_send(ep, 0, &(rq_datagram_out){.buf = out + 200, .cap = 1200}),
                        0);
        RQ_CHECK(o.len >= 42 && o.len <= RQ_RESET_MAX_LEN && o.len < TRIG);
        RQ_CHECK(rq_addr_eq(&o.path.remote, &PATH.remote));
        len_seen[o.len] = true;
        /* The two fixed bits and the token. */
        RQ_CHECK_EQ_INT(out[0] & 0xc0, 0x40);
        rq_cid dcid = {8, {0}};
        memcpy(dcid.data, trig + 1, 8);
        uint8_t token[RQ_RESET_TOKEN_LEN];
        RQ_CHECK_ERR(rq_reset_token_derive(KEY, &dcid, token), RQ_OK);
        RQ_CHECK_MEM(out + o.len - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
        size_t random_len = o.len - RQ_RESET_TOKEN_LEN;
        /* Nothing of the trigger is echoed. */
        RQ_CHECK(memcmp(out + 1, trig + 1, 8) != 0);
        RQ_CHECK(memcmp(out + 9, trig + 9, random_len - 9) != 0);
        if (n == N) {
            /* The same trigger again: another reset, not a replay of the first. */
            RQ_CHECK(random_len != prev_len || memcmp(out, prev_random, random_len) != 0);
            break;
        }
        memcpy(prev_random, out, random_len);
        prev_len = random_len;
        seen0[out[0] & 0x3f] = true;
        for (int b = 0; b < 6; b++)
            ones0[b] += (out[0] >> b) & 1;
        for (int p = 0; p < POS; p++) {
            uint8_t v = out[1 + p];
            seen[p][v] = true;
            for (int b = 0; b < 8; b++)
                ones[p][b] += (v >> b) & 1;
        }
    }
    for (int v = 0; v < 64; v++)
        RQ_CHECK(seen0[v]);
    for (int b = 0; b < 6; b++)
        RQ_CHECK(ones0[b] > N * 40 / 100 && ones0[b] < N * 60 / 100);
    for (int p = 0; p < POS; p++) {
        unsigned distinct = 0;
        for (int v = 0; v < 256; v++)
            distinct += seen[p][v];
        if (distinct < 200)
            fprintf(stderr, "  byte %d after the first: only %u values\n", p + 1, distinct);
        RQ_CHECK(distinct >= 200);
        for (int b = 0; b < 8; b++)
            RQ_CHECK(ones[p][b] > N * 40 / 100 && ones[p][b] < N * 60 / 100);
    }
    unsigned lengths = 0;
    for (size_t l = 0; l <= RQ_RESET_MAX_LEN; l++)
        lengths += len_seen[l];
    RQ_CHECK(lengths >= 10);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

/* MIG-10.3.1-03 — RFC 9000 §10.3.1: tokens are compared in constant time. Code review (done
 * for this row): the comparison is rq_reset_matches (src/core/reset.c), which ORs the XOR of
 * all 16 token bytes into one accumulator and decides only after the loop — no memcmp, no
 * early exit, no branch on token bytes; rq_cids_reset_matches (src/core/cids.c) calls it for
 * every active peer token without stopping at a match. (The only data-dependent exit is the
 * datagram length below 21 bytes, which is public.) This case checks that the function is the
 * exact equality it must be: every one of the 128 single-bit differences in the last 16
 * bytes is a mismatch, wherever it is; bytes before the token do not matter; a datagram under
 * 21 bytes never matches; and through rq_cids_reset_matches a token matches whichever slot it
 * is in (first, middle, last), while a peer CID without a token matches nothing. */
static void test_reset_token_compare_mig_10_3_1_03(void)
{
    uint64_t rs = 0x10311003;
    uint8_t token[RQ_RESET_TOKEN_LEN], dg[64];
    for (int i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        token[i] = (uint8_t)rq_test_rand(&rs);
    for (size_t len = RQ_RESET_MIN_LEN; len <= sizeof dg; len++) {
        for (size_t i = 0; i < len - RQ_RESET_TOKEN_LEN; i++)
            dg[i] = (uint8_t)rq_test_rand(&rs);
        memcpy(dg + len - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
        RQ_CHECK(rq_reset_matches(dg, len, token));
        for (int bit = 0; bit < 8 * RQ_RESET_TOKEN_LEN; bit++) {
            dg[len - RQ_RESET_TOKEN_LEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
            RQ_CHECK(!rq_reset_matches(dg, len, token));
            dg[len - RQ_RESET_TOKEN_LEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* The bytes before the token are not part of the comparison. */
        for (size_t i = 0; i < len - RQ_RESET_TOKEN_LEN; i++)
            dg[i] ^= 0xff;
        RQ_CHECK(rq_reset_matches(dg, len, token));
    }
    /* The token alone plus up to four bytes: too short to be a reset. */
    for (size_t len = RQ_RESET_TOKEN_LEN; len < RQ_RESET_MIN_LEN; len++) {
        memcpy(dg + len - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
        RQ_CHECK(!rq_reset_matches(dg, len, token));
    }
    /* Through the peer-CID table: a match in any slot counts. */
    rq_cids c;
    rq_cids_init(&c, 4);
    c.npeer = 4;
    for (size_t i = 0; i < 4; i++) {
        c.peer[i].seq = i;
        c.peer[i].cid.len = 8;
        c.peer[i].cid.data[0] = (uint8_t)i;
        for (int b = 0; b < RQ_RESET_TOKEN_LEN; b++)
            c.peer[i].token[b] = (uint8_t)rq_test_rand(&rs);
        c.peer[i].has_token = i != 3; /* the client's handshake CID has none */
        c.peer[i].path = -1;
    }
    for (size_t i = 0; i < 4; i++) {
        memcpy(dg + 40 - RQ_RESET_TOKEN_LEN, c.peer[i].token, RQ_RESET_TOKEN_LEN);
        RQ_CHECK_EQ_INT(rq_cids_reset_matches(&c, dg, 40), i != 3);
    }
    memcpy(dg + 40 - RQ_RESET_TOKEN_LEN, token, RQ_RESET_TOKEN_LEN);
    RQ_CHECK(!rq_cids_reset_matches(&c, dg, 40));
}

/* A random source that replays a script of 8-byte values, then repeats the last one. */
typedef struct script_rng {
    const uint8_t (*vals)[8];
    size_t n, next;
    uint64_t calls;
} script_rng;

static int script_random(void *ctx, uint8_t *buf, size_t len)
{
    script_rng *s = ctx;
    const uint8_t *v = s->vals[s->next < s->n ? s->next : s->n - 1];
    s->next++;
    s->calls++;
    for (size_t i = 0; i < len; i++)
        buf[i] = v[i % 8];
    return 0;
}

static int cmp_cid8(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

/* MIG-10.3.2-03 — RFC 9000 §10.3.2: a CID must not serve two connections under one static
 * key (its token may have been revealed by a reset). roamquic keeps no store of reset CIDs;
 * it relies on CIDs of at least 64 random bits and on a generator that never hands out a CID
 * in use:
 *   - the default CID length is 8 bytes for both roles (a server may not use 0, whose tokens
 *     could not be told apart);
 *   - every byte of a new CID comes from the random source (with a scripted source, the CID
 *     is exactly the source's bytes: no counter, no fixed prefix);
 *   - a random value that collides with a CID routed to a live connection is drawn again,
 *     and if the source keeps colliding the generator fails rather than reissue it;
 *   - 100,000 CIDs from the default generator (GnuTLS's CSPRNG) are all distinct.
 * Not covered: the configuration accepts local_cid_len 1..7, and a server so configured has
 * fewer than 64 random bits per CID and nothing that stops a repeat across connections. */
static void test_cid_generator_never_reissues_mig_10_3_2_03(void)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    RQ_CHECK(t.local_cid_len >= 8);
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    RQ_CHECK(cfg);
    RQ_CHECK(cfg->transport.local_cid_len >= 8);
    t.local_cid_len = 0;
    RQ_CHECK_ERR(rq_config_set_transport(cfg, &t), RQ_ERR_INVALID_ARG);
    rq_config *ccfg = rq_config_new(RQ_ROLE_CLIENT);
    RQ_CHECK(ccfg && ccfg->transport.local_cid_len >= 8);
    rq_config_free(ccfg);

    static const uint8_t vals[3][8] = {{1, 2, 3, 4, 5, 6, 7, 8},
                                       {1, 2, 3, 4, 5, 6, 7, 8},
                                       {0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88}};
    script_rng sr = {vals, 3, 0, 0};
    rq_endpoint *ep = rq_endpoint_new(cfg, script_random, &sr, NULL);
    RQ_CHECK(ep);
    /* Exactly the source's bytes. */
    sr.next = 2;
    rq_cid cid;
    RQ_CHECK_ERR(rq_ep_new_cid(ep, 8, &cid), RQ_OK);
    RQ_CHECK_EQ_INT(cid.len, 8);
    RQ_CHECK_MEM(cid.data, vals[2], 8);
    /* A CID in use is never handed out again: the colliding draws are redrawn. */
    rq_cid live = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
    static int fake_conn;
    RQ_CHECK_ERR(rq_cidmap_insert(&ep->cids, &live, &fake_conn), RQ_OK);
    sr.next = 0;
    sr.calls = 0;
    RQ_CHECK_ERR(rq_ep_new_cid(ep, 8, &cid), RQ_OK);
    RQ_CHECK_MEM(cid.data, vals[2], 8);
    RQ_CHECK_EQ_U64(sr.calls, 3);
    /* A source stuck on the live value: an error, not a reissue. */
    static const uint8_t stuck[1][8] = {{1, 2, 3, 4, 5, 6, 7, 8}};
    script_rng st = {stuck, 1, 0, 0};
    ep->rnd = script_random;
    ep->rnd_ctx = &st;
    RQ_CHECK(rq_ep_new_cid(ep, 8, &cid) != RQ_OK);
    RQ_CHECK(st.calls > 1);
    rq_cidmap_remove(&ep->cids, &live);
    rq_endpoint_free(ep);
    rq_config_free(cfg);

    /* The default generator: no repeats in 100,000 draws. */
    cfg = rq_config_new(RQ_ROLE_SERVER);
    ep = rq_endpoint_new(cfg, NULL, NULL, NULL);
    RQ_CHECK(ep);
    enum { N = 100000 };
    uint8_t(*all)[8] = malloc(sizeof(uint8_t[8]) * N);
    RQ_CHECK(all);
    for (int i = 0; i < N; i++) {
        RQ_CHECK_ERR(rq_ep_new_cid(ep, cfg->transport.local_cid_len, &cid), RQ_OK);
        memcpy(all[i], cid.data, 8);
    }
    qsort(all, N, 8, cmp_cid8);
    size_t dups = 0;
    for (int i = 1; i < N; i++)
        dups += memcmp(all[i - 1], all[i], 8) == 0;
    free(all);
    RQ_CHECK_EQ_U64(dups, 0);
    rq_endpoint_free(ep);
    rq_config_free(cfg);
}

int main(void)
{
    RQ_RUN(test_reset_bytes_unpredictable_mig_10_3_03);
    RQ_RUN(test_reset_token_compare_mig_10_3_1_03);
    RQ_RUN(test_cid_generator_never_reissues_mig_10_3_2_03);
    return rq_test_summary();
}
