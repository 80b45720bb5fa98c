/* Stateless Reset packets (RFC 9000 §10.3): building one in answer to a datagram that no
 * connection claims, and recognising one that arrives for a connection. The token itself
 * comes from crypto/reset_token.h. */
#ifndef RQ_CORE_RESET_H
#define RQ_CORE_RESET_H

#include "core/cid.h"

#include <roamquic/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9000 §10.3: a first byte, at least 38 unpredictable bits (so 5 bytes with the first),
 * then the 16-byte token. */
#define RQ_RESET_MIN_LEN 21
/* RFC 9000 §10.3: resets under 41 bytes may be recognisable as such; ours are at least this
 * long whenever the triggering datagram allows it. */
#define RQ_RESET_INCONSPICUOUS_LEN 41
/* RFC 9000 §10.3: up to this trigger size, a reset is exactly one byte shorter. */
#define RQ_RESET_SMALL_TRIGGER 43
/* Resets are never larger than this: enough to look like a short 1-RTT packet. */
#define RQ_RESET_MAX_LEN 64

/* The length of the Stateless Reset to send in answer to a datagram of trigger_len bytes, or 0
 * when none may be sent. RFC 9000 §10.3.3: always smaller than the trigger (so a loop of
 * resets shrinks to nothing) — which also keeps it far below the 3× amplification bound of
 * §10.3 — and at least RQ_RESET_MIN_LEN. Triggers up to 43 bytes get a reset one byte
 * shorter (§10.3); larger ones a reset of 42..min(trigger - 1, RQ_RESET_MAX_LEN) bytes, above
 * the 41 bytes under which a reset may be recognisable, the length picked by `random_byte` so
 * resets do not all have one size. */
size_t rq_reset_len_for(size_t trigger_len, uint8_t random_byte);

/* Writes a Stateless Reset of len bytes (from rq_reset_len_for) into out: a short-header
 * first byte (RFC 9000 §10.3: 0b01 then random bits), unpredictable bytes, then the token.
 * rnd supplies the random bytes. Returns 0, RQ_ERR_INVALID_ARG (len outside
 * RQ_RESET_MIN_LEN..RQ_RESET_MAX_LEN or above cap) or RQ_ERR_CRYPTO (rnd failed). */
int rq_reset_write(uint8_t *out, size_t cap, size_t len, const uint8_t token[RQ_RESET_TOKEN_LEN],
                   rq_random_fn rnd, void *rnd_ctx);

/* RFC 9000 §10.3.1: whether a datagram that could not be processed ends with token. Compares
 * in constant time (§10.3.1 requires it: the token must not leak through timing). A datagram
 * shorter than RQ_RESET_MIN_LEN never matches. */
bool rq_reset_matches(const uint8_t *dgram, size_t len, const uint8_t token[RQ_RESET_TOKEN_LEN]);

#endif
