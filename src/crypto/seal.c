/* AES-256-GCM sealing of small blobs with explicit nonces. */
#include "crypto/seal.h"

#include <roamquic/error.h>

int rq_seal_key_init(rq_seal_key *k, const uint8_t key[RQ_SEAL_KEY_LEN])
{
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)key, RQ_SEAL_KEY_LEN};
    k->aead = NULL;
    if (gnutls_aead_cipher_init(&k->aead, GNUTLS_CIPHER_AES_256_GCM, &d) < 0) {
        k->aead = NULL;
        return RQ_ERR_CRYPTO;
    }
    return 0;
}

void rq_seal_key_deinit(rq_seal_key *k)
{
    if (k->aead)
        gnutls_aead_cipher_deinit(k->aead);
    k->aead = NULL;
}

int rq_seal(rq_seal_key *k, const uint8_t nonce[RQ_SEAL_NONCE_LEN], const uint8_t *ad,
            size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    if (!k->aead)
        return RQ_ERR_INVALID_ARG;
    size_t out_len = len + RQ_SEAL_TAG_LEN;
    if (gnutls_aead_cipher_encrypt(k->aead, nonce, RQ_SEAL_NONCE_LEN, ad, ad_len, RQ_SEAL_TAG_LEN,
                                   in, len, out, &out_len) < 0 ||
        out_len != len + RQ_SEAL_TAG_LEN)
        return RQ_ERR_CRYPTO;
    return 0;
}

int rq_open(rq_seal_key *k, const uint8_t nonce[RQ_SEAL_NONCE_LEN], const uint8_t *ad,
            size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    if (!k->aead)
        return RQ_ERR_INVALID_ARG;
    if (len < RQ_SEAL_TAG_LEN)
        return RQ_ERR_DECRYPT;
    size_t out_len = len - RQ_SEAL_TAG_LEN;
    if (gnutls_aead_cipher_decrypt(k->aead, nonce, RQ_SEAL_NONCE_LEN, ad, ad_len, RQ_SEAL_TAG_LEN,
                                   in, len, out, &out_len) < 0)
        return RQ_ERR_DECRYPT;
    return 0;
}
