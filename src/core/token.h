/* Address-validation tokens (RFC 9000 §8.1.1–§8.1.4): what a server puts in Retry packets
 * and NEW_TOKEN frames, and checks when a client returns it in an Initial.
 *
 * Layout (opaque to clients): kind (1 byte, in the clear: §8.1.1 wants Retry and NEW_TOKEN
 * tokens told apart) | nonce (12) | sealed { issued_at (8), family (1), ip (16), port (2),
 * odcid length (1), odcid (0..20) } | tag (16). Sealed with AES-256-GCM under a key the server
 * is configured with (servers sharing the key accept each other's tokens), the kind byte as
 * associated data.
 *
 * Time: tokens carry `issued_at` in milliseconds of a "token clock" the caller supplies. For
 * NEW_TOKEN tokens that should outlive a server restart it must be a wall clock shared by the
 * servers; rq_time (monotonic, per process) only suits Retry tokens.
 */
#ifndef RQ_CORE_TOKEN_H
#define RQ_CORE_TOKEN_H

#include "core/cid.h"
#include "crypto/seal.h"

#include <roamquic/types.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rq_token_kind { RQ_TOKEN_RETRY = 0x52, RQ_TOKEN_NEW = 0x4e } rq_token_kind;

/* The longest token issued: kind + nonce + 8 + 1 + 16 + 2 + 1 + 20 + tag. */
#define RQ_TOKEN_MAX_LEN (1 + RQ_SEAL_NONCE_LEN + 48 + RQ_SEAL_TAG_LEN)
/* Tokens issued this far in the future of the validator's clock are refused (clock skew
 * between servers that share the key). */
#define RQ_TOKEN_MAX_SKEW_MS 10000

/* Issues a Retry token (§8.1.2) bound to the client's address and port and carrying the
 * original DCID (the server needs it for original_destination_connection_id, §7.3). Returns
 * 0, RQ_ERR_BUFFER_TOO_SMALL, RQ_ERR_INVALID_ARG or RQ_ERR_CRYPTO (rnd or sealing failed). */
int rq_token_issue_retry(rq_seal_key *key, uint64_t now_ms, const rq_addr *client,
                         const rq_cid *odcid, rq_random_fn rnd, void *rnd_ctx, uint8_t *out,
                         size_t cap, size_t *len);

/* Issues a NEW_TOKEN token (§8.1.3) bound to the client's address only (a future connection
 * will come from another port). Same errors as rq_token_issue_retry. */
int rq_token_issue_new(rq_seal_key *key, uint64_t now_ms, const rq_addr *client, rq_random_fn rnd,
                       void *rnd_ctx, uint8_t *out, size_t cap, size_t *len);

/* The kind a token claims to be (its clear first byte), or 0 for none we issue. Lets a server
 * treat an invalid Retry token (close with INVALID_TOKEN, §8.1.2) differently from an invalid
 * NEW_TOKEN token (ignore it, §8.1.3) before validating. */
rq_token_kind rq_token_kind_of(const uint8_t *token, size_t len);

/* Validates a token from a client at `client`: authentic, of a kind we issue, not older than
 * the lifetime for its kind, not issued in the future (beyond RQ_TOKEN_MAX_SKEW_MS), and bound
 * to this client (address and port for Retry tokens, address for NEW_TOKEN tokens, §8.1.4).
 * On success *kind is set and, for a Retry token, *odcid. Returns 0 or RQ_ERR_INVALID_TOKEN. */
int rq_token_validate(rq_seal_key *key, uint64_t now_ms, const uint8_t *token, size_t len,
                      const rq_addr *client, uint64_t retry_lifetime_ms, uint64_t new_lifetime_ms,
                      rq_token_kind *kind, rq_cid *odcid);

#endif
