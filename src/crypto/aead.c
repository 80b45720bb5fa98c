/* Per-direction, per-key-phase AEAD packet keys (RFC 9001 §5.1, §5.3). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* rq_aead_alg_from_gnutls: the TLS layer's negotiated cipher to an rq_aead_alg. Errors:
 * RQ_ERR_INVALID_ARG for ciphers not implemented (RFC 9001 §5.3 also allows AES-128-CCM). */
int rq_aead_alg_from_gnutls(gnutls_cipher_algorithm_t cipher, rq_aead_alg *alg)
{
    switch (cipher) {
    case GNUTLS_CIPHER_AES_128_GCM:
        *alg = RQ_AEAD_AES_128_GCM;
        return RQ_OK;
    case GNUTLS_CIPHER_AES_256_GCM:
        *alg = RQ_AEAD_AES_256_GCM;
        return RQ_OK;
    case GNUTLS_CIPHER_CHACHA20_POLY1305:
        *alg = RQ_AEAD_CHACHA20_POLY1305;
        return RQ_OK;
    default:
        return RQ_ERR_INVALID_ARG;
    }
}

/* rq_aead_alg_to_gnutls: the reverse mapping; GNUTLS_CIPHER_UNKNOWN for an invalid alg. */
gnutls_cipher_algorithm_t rq_aead_alg_to_gnutls(rq_aead_alg alg)
{
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
        return GNUTLS_CIPHER_AES_128_GCM;
    case RQ_AEAD_AES_256_GCM:
        return GNUTLS_CIPHER_AES_256_GCM;
    case RQ_AEAD_CHACHA20_POLY1305:
        return GNUTLS_CIPHER_CHACHA20_POLY1305;
    }
    return GNUTLS_CIPHER_UNKNOWN;
}

/* rq_aead_alg_hash: the cipher suite's hash, which RFC 9001 §5.1 uses for every
 * HKDF-Expand-Label of its secrets. */
gnutls_mac_algorithm_t rq_aead_alg_hash(rq_aead_alg alg)
{
    return alg == RQ_AEAD_AES_256_GCM ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256;
}

/* rq_aead_alg_secret_len: the traffic secret length (the hash length); 0 for an invalid alg. */
size_t rq_aead_alg_secret_len(rq_aead_alg alg)
{
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
    case RQ_AEAD_CHACHA20_POLY1305:
        return 32;
    case RQ_AEAD_AES_256_GCM:
        return 48;
    }
    return 0;
}

/* rq_aead_alg_key_len: the AEAD (and header-protection) key length; 0 for an invalid alg. */
size_t rq_aead_alg_key_len(rq_aead_alg alg)
{
    switch (alg) {
    case RQ_AEAD_AES_128_GCM:
        return 16;
    case RQ_AEAD_AES_256_GCM:
    case RQ_AEAD_CHACHA20_POLY1305:
        return 32;
    }
    return 0;
}

/* Derives key and IV from secret (RFC 9001 §5.1: "quic key" of the AEAD's key length,
 * "quic iv" of 12 bytes, RFC 9001 §5.3: the nonce is as long as the IV). */
static int derive_key_iv(rq_aead_alg alg, const uint8_t *secret, size_t secret_len,
                         uint8_t key[RQ_AEAD_MAX_KEY_LEN], uint8_t iv[RQ_AEAD_IV_LEN])
{
    gnutls_mac_algorithm_t mac = rq_aead_alg_hash(alg);
    int rc =
        rq_hkdf_expand_label(mac, secret, secret_len, "quic key", key, rq_aead_alg_key_len(alg));
    if (rc == 0)
        rc = rq_hkdf_expand_label(mac, secret, secret_len, "quic iv", iv, RQ_AEAD_IV_LEN);
    return rc;
}

/* rq_packet_key_init_raw: creates the GnuTLS AEAD handle once for this key (every packet
 * reuses it). The key bytes are copied into GnuTLS; the caller keeps its own copy. Errors:
 * RQ_ERR_INVALID_ARG, RQ_ERR_CRYPTO; *k is zeroed on error. */
int rq_packet_key_init_raw(rq_packet_key *k, rq_aead_alg alg, const uint8_t *key,
                           const uint8_t iv[RQ_AEAD_IV_LEN])
{
    memset(k, 0, sizeof *k);
    gnutls_cipher_algorithm_t c = rq_aead_alg_to_gnutls(alg);
    if (c == GNUTLS_CIPHER_UNKNOWN)
        return RQ_ERR_INVALID_ARG;
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)key, (unsigned)rq_aead_alg_key_len(alg)};
    if (gnutls_aead_cipher_init(&k->aead, c, &d) < 0) {
        k->aead = NULL;
        return RQ_ERR_CRYPTO;
    }
    k->alg = alg;
    memcpy(k->iv, iv, RQ_AEAD_IV_LEN);
    return RQ_OK;
}

/* rq_packet_key_init: derives key and IV from a traffic secret and creates the handle. The
 * secret is copied into *k (for the next key phase) and wiped by deinit. */
int rq_packet_key_init(rq_packet_key *k, rq_aead_alg alg, const uint8_t *secret, size_t secret_len)
{
    memset(k, 0, sizeof *k);
    if (rq_aead_alg_secret_len(alg) == 0 || secret_len != rq_aead_alg_secret_len(alg))
        return RQ_ERR_INVALID_ARG;
    uint8_t key[RQ_AEAD_MAX_KEY_LEN], iv[RQ_AEAD_IV_LEN];
    int rc = derive_key_iv(alg, secret, secret_len, key, iv);
    if (rc == 0)
        rc = rq_packet_key_init_raw(k, alg, key, iv);
    gnutls_memset(key, 0, sizeof key);
    gnutls_memset(iv, 0, sizeof iv);
    if (rc == 0) {
        memcpy(k->secret, secret, secret_len);
        k->secret_len = (uint8_t)secret_len;
    }
    return rc;
}

/* rq_packet_key_rekey: new key material for the key, in a new GnuTLS handle. Not
 * gnutls_aead_cipher_set_key: in GnuTLS 3.7.9 it changes the AES-GCM cipher key but not the
 * GHASH key, so tags come out wrong (measured here; tests/unit/test_crypto_protect.c holds the
 * regression). A key update is rare (at most once per ~7 million packets, RFC 9001 §6.6), so
 * the allocation costs nothing that matters. Resets the sealed count: §6.6 counts per key. */
int rq_packet_key_rekey(rq_packet_key *k, const uint8_t *secret, size_t secret_len)
{
    if (k->aead == NULL || secret_len != rq_aead_alg_secret_len(k->alg))
        return RQ_ERR_INVALID_ARG;
    uint8_t copy[RQ_MAX_SECRET_LEN];
    memcpy(copy, secret, secret_len); /* secret may point into k->secret */
    rq_packet_key fresh;
    int rc = rq_packet_key_init(&fresh, k->alg, copy, secret_len);
    gnutls_memset(copy, 0, sizeof copy);
    if (rc)
        return rc;
    rq_packet_key_deinit(k);
    *k = fresh;
    return 0;
}

/* rq_packet_key_deinit: frees the handle, wipes the IV and secret. Idempotent. */
void rq_packet_key_deinit(rq_packet_key *k)
{
    if (k->aead != NULL)
        gnutls_aead_cipher_deinit(k->aead);
    gnutls_memset(k, 0, sizeof *k);
}

/* RFC 9001 §5.3: the nonce is the IV xor the packet number, left-padded with zeros to the
 * IV length (network byte order). */
static inline void make_nonce(const rq_packet_key *k, uint64_t pn, uint8_t nonce[RQ_AEAD_IV_LEN])
{
    memcpy(nonce, k->iv, RQ_AEAD_IV_LEN);
    for (size_t i = 0; i < 8; i++)
        nonce[RQ_AEAD_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* rq_aead_seal: in-place AEAD encryption with gnutls_aead_cipher_encrypt, ctext == ptext.
 * GnuTLS 3.7's GCM and ChaCha20-Poly1305 paths encrypt block by block into the output and
 * write the tag after it, so in place is safe and copies nothing. Measured on this machine
 * (1,323-byte payload, interleaved runs, best of 8): AES-128-GCM encrypt 417-510 ns against
 * 481-585 ns for gnutls_aead_cipher_encryptv2 with a one-element iovec (which walks the
 * iovec in blocks); decrypt 446 ns against 508 ns for decryptv2. bench/bench_crypto.c keeps
 * both rows. Ownership: payload is the caller's; only the handle in *k is used. */
int rq_aead_seal(rq_packet_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len, uint8_t *payload,
                 size_t len, size_t cap)
{
    if (k->aead == NULL)
        return RQ_ERR_INVALID_ARG;
    if (cap < len || cap - len < RQ_AEAD_TAG_LEN)
        return RQ_ERR_BUFFER_TOO_SMALL;
    /* RFC 9001 §6.6: a key that has protected its confidentiality limit is not used again. */
    if (k->sealed >= rq_aead_confidentiality_limit(k->alg))
        return RQ_ERR_AEAD_LIMIT_REACHED;
    uint8_t nonce[RQ_AEAD_IV_LEN];
    make_nonce(k, pn, nonce);
    size_t out_len = len + RQ_AEAD_TAG_LEN;
    if (gnutls_aead_cipher_encrypt(k->aead, nonce, sizeof nonce, ad, ad_len, RQ_AEAD_TAG_LEN,
                                   payload, len, payload, &out_len) < 0)
        return RQ_ERR_CRYPTO;
    k->sealed++;
    return RQ_OK;
}

/* rq_aead_open: in-place AEAD decryption with gnutls_aead_cipher_decrypt (ptext == ctext):
 * GnuTLS decrypts, then compares the tag in constant time, so on failure the plaintext area
 * holds garbage while the tag bytes are untouched. RFC 9001 §5.3: the same nonce
 * construction as sealing. A failure is RQ_ERR_DECRYPT; counting it toward the integrity
 * limit (§6.6) is the caller's, with rq_aead_integrity_count. */
int rq_aead_open(rq_packet_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len, uint8_t *payload,
                 size_t len, size_t *plain_len)
{
    if (k->aead == NULL)
        return RQ_ERR_INVALID_ARG;
    if (len < RQ_AEAD_TAG_LEN)
        return RQ_ERR_DECRYPT;
    uint8_t nonce[RQ_AEAD_IV_LEN];
    make_nonce(k, pn, nonce);
    size_t out_len = len - RQ_AEAD_TAG_LEN;
    int rc = gnutls_aead_cipher_decrypt(k->aead, nonce, sizeof nonce, ad, ad_len, RQ_AEAD_TAG_LEN,
                                        payload, len, payload, &out_len);
    if (rc == GNUTLS_E_DECRYPTION_FAILED)
        return RQ_ERR_DECRYPT;
    if (rc < 0)
        return RQ_ERR_CRYPTO;
    *plain_len = out_len;
    return RQ_OK;
}
