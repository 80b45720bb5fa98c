/* Stateless reset tokens derived from a static key (RFC 9000 §10.3.2): token = the first 16
 * bytes of HMAC-SHA256(static_key, CID). A server that restarts with the same key can reset
 * connections it lost, because the token comes from the CID in the packet alone. */
#ifndef RQ_CRYPTO_RESET_TOKEN_H
#define RQ_CRYPTO_RESET_TOKEN_H

#include "core/cid.h"

#include <stddef.h>
#include <stdint.h>

#define RQ_RESET_KEY_LEN 32

/* Derives the token for cid. key is the endpoint's static reset key (secret, 32 bytes; one
 * generated at random means resets do not survive a restart). Returns 0, RQ_ERR_INVALID_ARG
 * (cid->len above 20) or RQ_ERR_CRYPTO. */
int rq_reset_token_derive(const uint8_t key[RQ_RESET_KEY_LEN], const rq_cid *cid,
                          uint8_t token[RQ_RESET_TOKEN_LEN]);

#endif
