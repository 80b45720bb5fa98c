/* Retry packet integrity (RFC 9001 §5.8). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* RFC 9001 §5.8: the version 1 Retry integrity key and nonce (fixed, derived by the RFC from
 * a published secret; they protect against off-path forgery, not against an observer). */
static const uint8_t retry_key_v1[16] = {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                         0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
static const uint8_t retry_nonce_v1[12] = {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                           0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};

/* rq_retry_aead_init: creates the AES-128-GCM handle once per endpoint (RFC 9001 §5.8: the
 * tag is AEAD_AES_128_GCM output). Errors: RQ_ERR_CRYPTO; *r zeroed on error. */
int rq_retry_aead_init(rq_retry_aead *r)
{
    gnutls_datum_t k = {(unsigned char *)(uintptr_t)retry_key_v1, sizeof retry_key_v1};
    if (gnutls_aead_cipher_init(&r->aead, GNUTLS_CIPHER_AES_128_GCM, &k) < 0) {
        r->aead = NULL;
        return RQ_ERR_CRYPTO;
    }
    return RQ_OK;
}

/* rq_retry_aead_deinit: frees the handle. Idempotent. */
void rq_retry_aead_deinit(rq_retry_aead *r)
{
    if (r->aead != NULL)
        gnutls_aead_cipher_deinit(r->aead);
    r->aead = NULL;
}

/* rq_retry_tag_compute: RFC 9001 §5.8: the plaintext is empty and the associated data is the
 * Retry pseudo-packet (ODCID Length, ODCID, then the Retry packet without its tag). The
 * pseudo-packet is never assembled: the two parts go to GnuTLS as an iovec. */
int rq_retry_tag_compute(rq_retry_aead *r, const rq_cid *odcid, const uint8_t *retry,
                         size_t retry_len, uint8_t tag[RQ_RETRY_TAG_LEN])
{
    /* A hand-built rq_cid could claim more than the 20 bytes it holds. */
    if (r->aead == NULL || odcid->len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    uint8_t prefix[1 + RQ_MAX_CID_LEN];
    prefix[0] = odcid->len;
    memcpy(prefix + 1, odcid->data, odcid->len);
    giovec_t ad[2] = {{prefix, (size_t)1 + odcid->len}, {(void *)(uintptr_t)retry, retry_len}};
    size_t tag_len = RQ_RETRY_TAG_LEN;
    if (gnutls_aead_cipher_encryptv2(r->aead, retry_nonce_v1, sizeof retry_nonce_v1, ad, 2, NULL, 0,
                                     tag, &tag_len) < 0 ||
        tag_len != RQ_RETRY_TAG_LEN)
        return RQ_ERR_CRYPTO;
    return RQ_OK;
}

/* rq_retry_tag_verify: recomputes the tag over the packet minus its last 16 bytes and
 * compares in constant time. RFC 9000 §17.2.5.2: a client discards a Retry whose tag does
 * not verify. */
int rq_retry_tag_verify(rq_retry_aead *r, const rq_cid *odcid, const uint8_t *retry,
                        size_t retry_len)
{
    if (retry_len < RQ_RETRY_TAG_LEN)
        return RQ_ERR_MALFORMED_PACKET;
    uint8_t tag[RQ_RETRY_TAG_LEN];
    size_t body = retry_len - RQ_RETRY_TAG_LEN;
    int rc = rq_retry_tag_compute(r, odcid, retry, body, tag);
    if (rc != 0)
        return rc;
    return gnutls_memcmp(tag, retry + body, RQ_RETRY_TAG_LEN) == 0 ? RQ_OK : RQ_ERR_DECRYPT;
}
