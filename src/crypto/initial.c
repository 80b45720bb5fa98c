/* QUIC v1 Initial secrets (RFC 9001 §5.2). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* RFC 9001 §5.2: the version 1 initial_salt. */
static const uint8_t initial_salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                            0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};

/* rq_initial_secrets: the client and server Initial secrets for dcid (the Destination
 * Connection ID of the client's first Initial, or of the Initial after a Retry). The outputs
 * are caller-owned; the intermediate secret is wiped. Errors: RQ_ERR_INVALID_ARG (dcid->len
 * above 20), RQ_ERR_CRYPTO. */
int rq_initial_secrets(const rq_cid *dcid, uint8_t client_secret[RQ_INITIAL_SECRET_LEN],
                       uint8_t server_secret[RQ_INITIAL_SECRET_LEN])
{
    /* RFC 9001 §5.2: initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id)
     * with SHA-256, the hash of the AEAD Initial packets use (AES-128-GCM). */
    if (dcid->len > RQ_MAX_CID_LEN) /* a hand-built rq_cid claiming more than it holds */
        return RQ_ERR_INVALID_ARG;
    uint8_t initial_secret[RQ_INITIAL_SECRET_LEN];
    int rc = rq_hkdf_extract(GNUTLS_MAC_SHA256, initial_salt_v1, sizeof initial_salt_v1, dcid->data,
                             dcid->len, initial_secret);
    /* RFC 9001 §5.2: each side's secret is Expand-Label(initial_secret, "client in" / "server
     * in", "", Hash.length). */
    if (rc == 0)
        rc = rq_hkdf_expand_label(GNUTLS_MAC_SHA256, initial_secret, sizeof initial_secret,
                                  "client in", client_secret, RQ_INITIAL_SECRET_LEN);
    if (rc == 0)
        rc = rq_hkdf_expand_label(GNUTLS_MAC_SHA256, initial_secret, sizeof initial_secret,
                                  "server in", server_secret, RQ_INITIAL_SECRET_LEN);
    gnutls_memset(initial_secret, 0, sizeof initial_secret);
    return rc;
}
