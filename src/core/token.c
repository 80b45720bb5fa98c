/* Address-validation tokens: issue and validate (RFC 9000 §8.1). */
#include "core/token.h"

#include "core/wire.h"

#include <roamquic/error.h>

#define PLAIN_MAX (8 + 1 + 16 + 2 + 1 + RQ_MAX_CID_LEN)

static int issue(rq_seal_key *key, rq_token_kind kind, uint64_t now_ms, const rq_addr *client,
                 const rq_cid *odcid, rq_random_fn rnd, void *rnd_ctx, uint8_t *out, size_t cap,
                 size_t *len)
{
    if (!client || (odcid && odcid->len > RQ_MAX_CID_LEN))
        return RQ_ERR_INVALID_ARG;
    uint8_t plain[PLAIN_MAX];
    rq_wr w = rq_wr_init(plain, sizeof plain);
    uint16_t port = kind == RQ_TOKEN_RETRY ? client->port : 0;
    bool ok = rq_wr_uint(&w, 8, now_ms) && rq_wr_u8(&w, client->family) &&
              rq_wr_bytes(&w, client->ip, 16) && rq_wr_u16(&w, port) &&
              rq_wr_u8(&w, odcid ? odcid->len : 0) &&
              (!odcid || rq_wr_bytes(&w, odcid->data, odcid->len));
    if (!ok)
        return RQ_ERR_INTERNAL;
    size_t plain_len = (size_t)(w.p - plain);
    size_t total = 1 + RQ_SEAL_NONCE_LEN + plain_len + RQ_SEAL_TAG_LEN;
    if (cap < total)
        return RQ_ERR_BUFFER_TOO_SMALL;
    out[0] = (uint8_t)kind;
    uint8_t *nonce = out + 1;
    /* A random 96-bit nonce per token: the key is long-lived and shared, so no counter. */
    if (rnd(rnd_ctx, nonce, RQ_SEAL_NONCE_LEN) != 0)
        return RQ_ERR_CRYPTO;
    int rc = rq_seal(key, nonce, out, 1, plain, plain_len, out + 1 + RQ_SEAL_NONCE_LEN);
    if (rc)
        return rc;
    *len = total;
    return 0;
}

int rq_token_issue_retry(rq_seal_key *key, uint64_t now_ms, const rq_addr *client,
                         const rq_cid *odcid, rq_random_fn rnd, void *rnd_ctx, uint8_t *out,
                         size_t cap, size_t *len)
{
    if (!odcid)
        return RQ_ERR_INVALID_ARG;
    return issue(key, RQ_TOKEN_RETRY, now_ms, client, odcid, rnd, rnd_ctx, out, cap, len);
}

int rq_token_issue_new(rq_seal_key *key, uint64_t now_ms, const rq_addr *client, rq_random_fn rnd,
                       void *rnd_ctx, uint8_t *out, size_t cap, size_t *len)
{
    return issue(key, RQ_TOKEN_NEW, now_ms, client, NULL, rnd, rnd_ctx, out, cap, len);
}

rq_token_kind rq_token_kind_of(const uint8_t *token, size_t len)
{
    if (len == 0 || (token[0] != RQ_TOKEN_RETRY && token[0] != RQ_TOKEN_NEW))
        return (rq_token_kind)0;
    return (rq_token_kind)token[0];
}

static bool fresh(uint64_t issued, uint64_t now_ms, uint64_t lifetime_ms)
{
    if (issued > now_ms)
        return issued - now_ms <= RQ_TOKEN_MAX_SKEW_MS;
    return now_ms - issued <= lifetime_ms;
}

int rq_token_validate(rq_seal_key *key, uint64_t now_ms, const uint8_t *token, size_t len,
                      const rq_addr *client, uint64_t retry_lifetime_ms, uint64_t new_lifetime_ms,
                      rq_token_kind *kind, rq_cid *odcid)
{
    rq_token_kind k = rq_token_kind_of(token, len);
    size_t overhead = 1 + RQ_SEAL_NONCE_LEN + RQ_SEAL_TAG_LEN;
    if (!k || len < overhead || len - overhead > PLAIN_MAX)
        return RQ_ERR_INVALID_TOKEN;
    uint8_t plain[PLAIN_MAX];
    size_t plain_len = len - overhead;
    if (rq_open(key, token + 1, token, 1, token + 1 + RQ_SEAL_NONCE_LEN,
                len - 1 - RQ_SEAL_NONCE_LEN, plain) != 0)
        return RQ_ERR_INVALID_TOKEN;
    rq_rd r = rq_rd_init(plain, plain_len);
    uint64_t issued;
    uint8_t family, cid_len;
    uint16_t port;
    const uint8_t *ip, *cid;
    if (!rq_rd_uint(&r, 8, &issued) || !rq_rd_u8(&r, &family) || !rq_rd_bytes(&r, 16, &ip) ||
        !rq_rd_u16(&r, &port) || !rq_rd_u8(&r, &cid_len) || cid_len > RQ_MAX_CID_LEN ||
        !rq_rd_bytes(&r, cid_len, &cid) || rq_rd_left(&r) != 0)
        return RQ_ERR_INVALID_TOKEN;
    uint64_t lifetime = k == RQ_TOKEN_RETRY ? retry_lifetime_ms : new_lifetime_ms;
    if (!fresh(issued, now_ms, lifetime))
        return RQ_ERR_INVALID_TOKEN;
    /* RFC 9000 §8.1.4: a token only proves the address it was issued to. */
    rq_addr bound = {family, port, {0}, client->scope};
    memcpy(bound.ip, ip, 16);
    rq_addr seen = *client;
    if (k == RQ_TOKEN_NEW)
        seen.port = 0;
    if (!rq_addr_eq(&bound, &seen))
        return RQ_ERR_INVALID_TOKEN;
    *kind = k;
    if (odcid && k == RQ_TOKEN_RETRY)
        rq_cid_set(odcid, cid, cid_len);
    return 0;
}
