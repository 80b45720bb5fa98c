/* Stateless reset token derivation (RFC 9000 §10.3.2). */
#include "crypto/reset_token.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <roamquic/error.h>

int rq_reset_token_derive(const uint8_t key[RQ_RESET_KEY_LEN], const rq_cid *cid,
                          uint8_t token[RQ_RESET_TOKEN_LEN])
{
    if (cid->len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    /* RFC 9000 §10.3.2: a keyed one-way function of the CID, so that the token reveals
     * nothing of the key and cannot be predicted for another CID. */
    uint8_t mac[32];
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, RQ_RESET_KEY_LEN, cid->data, cid->len, mac) < 0)
        return RQ_ERR_CRYPTO;
    for (size_t i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        token[i] = mac[i];
    gnutls_memset(mac, 0, sizeof mac);
    return 0;
}
