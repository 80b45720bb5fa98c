/* Sealing small opaque blobs that only this endpoint (or its siblings sharing the key) will
 * read back: address-validation tokens (RFC 9000 §8.1). AES-256-GCM with an explicit random
 * 96-bit nonce per blob, unlike packet protection's IV xor packet number. */
#ifndef RQ_CRYPTO_SEAL_H
#define RQ_CRYPTO_SEAL_H

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>

#define RQ_SEAL_KEY_LEN   32
#define RQ_SEAL_NONCE_LEN 12
#define RQ_SEAL_TAG_LEN   16

typedef struct rq_seal_key {
    gnutls_aead_cipher_hd_t aead; /* NULL when not initialised */
} rq_seal_key;

/* Creates the key. Returns 0 or RQ_ERR_CRYPTO (then *k is deinitialised). */
int rq_seal_key_init(rq_seal_key *k, const uint8_t key[RQ_SEAL_KEY_LEN]);

/* Frees the key; safe on a zeroed or already freed one. */
void rq_seal_key_deinit(rq_seal_key *k);

/* Seals in[0 .. len) into out (len + RQ_SEAL_TAG_LEN bytes: ciphertext then tag) under nonce,
 * authenticating ad too. in and out may be the same buffer. Returns 0, RQ_ERR_INVALID_ARG
 * (key not initialised) or RQ_ERR_CRYPTO. */
int rq_seal(rq_seal_key *k, const uint8_t nonce[RQ_SEAL_NONCE_LEN], const uint8_t *ad,
            size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

/* Opens in[0 .. len) (ciphertext then tag) into out (len - RQ_SEAL_TAG_LEN bytes). Returns 0,
 * RQ_ERR_DECRYPT (forged, altered, or shorter than a tag) or RQ_ERR_INVALID_ARG. */
int rq_open(rq_seal_key *k, const uint8_t nonce[RQ_SEAL_NONCE_LEN], const uint8_t *ad,
            size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

#endif
