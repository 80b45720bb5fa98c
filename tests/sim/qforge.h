/* Forged QUIC packets for tests: what an on-path attacker (or a test's hand) can build from
 * public information alone — Initial keys derive from the client's DCID (RFC 9001 §5.2) and
 * the Retry integrity key is a published constant (§5.8). */
#ifndef RQ_SIM_QFORGE_H
#define RQ_SIM_QFORGE_H

#include "core/cid.h"

#include <stddef.h>
#include <stdint.h>

/* Rewrites a datagram holding exactly one client Initial packet (d, *len bytes, room for cap)
 * to be `target` bytes long: decrypts it, keeps its frames, pads with PADDING to the new size
 * and re-encrypts. Returns 0, or RQ_ERR_INVALID_ARG when the datagram is not such a packet or
 * its frames do not fit target. */
int qforge_initial_resize(uint8_t *d, size_t *len, size_t cap, size_t target);

/* Builds a Retry answering the client Initial `initial` (version 1) with source CID scid and
 * the given token, with a valid integrity tag. Returns 0 and *out_len, or an rq_err. */
int qforge_retry(const uint8_t *initial, size_t len, const rq_cid *scid, const uint8_t *token,
                 size_t token_len, uint8_t *out, size_t cap, size_t *out_len);

#endif
