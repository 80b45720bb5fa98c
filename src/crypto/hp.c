/* Header-protection keys and masks (RFC 9001 §5.4.3, §5.4.4). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* rq_hp_key_init_raw: one GnuTLS cipher handle per key, created here and reused for every
 * packet. GnuTLS has no AES-ECB: RFC 9001 §5.4.3's single-block AES-ECB is AES-CBC over one
 * block with an all-zero IV, which is reset before every mask. ChaCha20 uses the 32-bit
 * counter variant whose 16-byte IV is counter || nonce, exactly RFC 9001 §5.4.4's layout.
 * Errors: RQ_ERR_INVALID_ARG, RQ_ERR_CRYPTO; *hp is zeroed on error. */
int rq_hp_key_init_raw(rq_hp_key *hp, rq_aead_alg alg, const uint8_t *key)
{
    memset(hp, 0, sizeof *hp);
    gnutls_cipher_algorithm_t c;
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
        c = GNUTLS_CIPHER_AES_128_CBC;
        break;
    case RQ_AEAD_AES_256_GCM:
        c = GNUTLS_CIPHER_AES_256_CBC;
        break;
    case RQ_AEAD_CHACHA20_POLY1305:
        c = GNUTLS_CIPHER_CHACHA20_32;
        break;
    default:
        return RQ_ERR_INVALID_ARG;
    }
    uint8_t zero_iv[16] = {0};
    gnutls_datum_t k = {(unsigned char *)(uintptr_t)key, (unsigned)rq_aead_alg_key_len(alg)};
    gnutls_datum_t iv = {zero_iv, sizeof zero_iv};
    if (gnutls_cipher_init(&hp->cipher, c, &k, &iv) < 0) {
        hp->cipher = NULL;
        return RQ_ERR_CRYPTO;
    }
    hp->alg = alg;
    return RQ_OK;
}

/* rq_hp_key_init: RFC 9001 §5.1: the header-protection key is Expand-Label(secret, "quic hp",
 * "", key length) — the AEAD's key length (§5.4.3: 16 or 32 bytes for AES, §5.4.4: 32 bytes
 * for ChaCha20). The secret is only read. */
int rq_hp_key_init(rq_hp_key *hp, rq_aead_alg alg, const uint8_t *secret, size_t secret_len)
{
    memset(hp, 0, sizeof *hp);
    if (rq_aead_alg_secret_len(alg) == 0 || secret_len != rq_aead_alg_secret_len(alg))
        return RQ_ERR_INVALID_ARG;
    uint8_t key[RQ_AEAD_MAX_KEY_LEN];
    int rc = rq_hkdf_expand_label(rq_aead_alg_hash(alg), secret, secret_len, "quic hp", key,
                                  rq_aead_alg_key_len(alg));
    if (rc == 0)
        rc = rq_hp_key_init_raw(hp, alg, key);
    gnutls_memset(key, 0, sizeof key);
    return rc;
}

/* rq_hp_key_deinit: frees the handle. Idempotent. */
void rq_hp_key_deinit(rq_hp_key *hp)
{
    if (hp->cipher != NULL)
        gnutls_cipher_deinit(hp->cipher);
    memset(hp, 0, sizeof *hp);
}

/* rq_hp_mask: the 5-byte header-protection mask for sample. Errors: RQ_ERR_CRYPTO. */
int rq_hp_mask(rq_hp_key *hp, const uint8_t sample[RQ_HP_SAMPLE_LEN], uint8_t mask[RQ_HP_MASK_LEN])
{
    if (hp->cipher == NULL)
        return RQ_ERR_INVALID_ARG;
    if (hp->alg == RQ_AEAD_CHACHA20_POLY1305) {
        /* RFC 9001 §5.4.4: counter = sample[0..3] (little-endian), nonce = sample[4..15];
         * mask = ChaCha20(hp_key, counter, nonce, {0,0,0,0,0}). GnuTLS's CHACHA20_32 IV is
         * those same 16 bytes. */
        uint8_t iv[RQ_HP_SAMPLE_LEN];
        static const uint8_t zeros[RQ_HP_MASK_LEN] = {0};
        memcpy(iv, sample, sizeof iv);
        gnutls_cipher_set_iv(hp->cipher, iv, sizeof iv);
        return gnutls_cipher_encrypt2(hp->cipher, zeros, sizeof zeros, mask, RQ_HP_MASK_LEN) < 0
                   ? RQ_ERR_CRYPTO
                   : RQ_OK;
    }
    /* RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample), first 5 bytes. CBC with a zero IV over
     * one block is ECB; the IV is reset because CBC chains the previous block into it. */
    uint8_t zero_iv[16] = {0};
    uint8_t block[16];
    gnutls_cipher_set_iv(hp->cipher, zero_iv, sizeof zero_iv);
    if (gnutls_cipher_encrypt2(hp->cipher, sample, RQ_HP_SAMPLE_LEN, block, sizeof block) < 0)
        return RQ_ERR_CRYPTO;
    memcpy(mask, block, RQ_HP_MASK_LEN);
    return RQ_OK;
}
