/* AEAD usage limits (RFC 9001 §6.6). */
#include "crypto/crypto.h"

#include <roamquic/error.h>

/* rq_aead_confidentiality_limit: RFC 9001 §6.6: AES-128-GCM and AES-256-GCM may seal 2^23
 * packets per key (for packets up to 2^16 bytes; we do not claim the higher 2^11-byte
 * limits); ChaCha20-Poly1305's limit exceeds the 2^62 possible packets, so none applies. */
uint64_t rq_aead_confidentiality_limit(rq_aead_alg alg)
{
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
    case RQ_AEAD_AES_256_GCM:
        return RQ_AEAD_CONFIDENTIALITY_LIMIT_AES_GCM;
    case RQ_AEAD_CHACHA20_POLY1305:
        return UINT64_MAX;
    }
    return 0;
}

/* rq_aead_integrity_limit: RFC 9001 §6.6: 2^52 failed decryptions for both AES-GCM variants
 * (the RFC applies AES-128's value to AES-256 too), 2^36 for ChaCha20-Poly1305. */
uint64_t rq_aead_integrity_limit(rq_aead_alg alg)
{
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
    case RQ_AEAD_AES_256_GCM:
        return RQ_AEAD_INTEGRITY_LIMIT_AES_GCM;
    case RQ_AEAD_CHACHA20_POLY1305:
        return RQ_AEAD_INTEGRITY_LIMIT_CHACHA20;
    }
    return 0;
}

/* rq_aead_key_update_threshold: RFC 9001 §6.6: a key update must be initiated before the
 * confidentiality limit is reached, and §6.1/§6.5 delay it (handshake confirmed, the current
 * phase acknowledged, about 3 PTO after the previous update). The margin chosen here is 1/8
 * of the limit: for AES-GCM the update is requested at 2^23 - 2^20 = 7,340,032 packets,
 * leaving 2^20 (about 1 s at 10 Gbit/s of 1,350-byte packets) for it to be permitted. If the
 * limit is still reached, rq_aead_seal refuses the key (RQ_ERR_AEAD_LIMIT_REACHED). */
uint64_t rq_aead_key_update_threshold(rq_aead_alg alg)
{
    uint64_t limit = rq_aead_confidentiality_limit(alg);
    if (limit == UINT64_MAX)
        return UINT64_MAX;
    return limit - limit / 8;
}

/* rq_packet_key_should_update: the sealed count against the threshold. */
bool rq_packet_key_should_update(const rq_packet_key *k)
{
    return k->sealed >= rq_aead_key_update_threshold(k->alg);
}

/* rq_aead_integrity_count: RFC 9001 §6.6: count every packet that fails authentication over
 * the connection's lifetime, across all keys; once the total exceeds the integrity limit of
 * the AEAD in use, close with AEAD_LIMIT_REACHED and process no more packets. The total is
 * compared with the limit of the key that just failed, so Initial-packet failures (AES-GCM)
 * also count toward a ChaCha20 connection's smaller limit — the conservative reading. */
int rq_aead_integrity_count(rq_aead_integrity *c, rq_aead_alg alg)
{
    if (c->failures < UINT64_MAX)
        c->failures++;
    return c->failures > rq_aead_integrity_limit(alg) ? RQ_ERR_AEAD_LIMIT_REACHED : RQ_OK;
}
