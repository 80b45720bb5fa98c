/* Stateless Reset: sizing, writing, recognising (RFC 9000 §10.3). */
#include "core/reset.h"

#include <roamquic/error.h>

size_t rq_reset_len_for(size_t trigger_len, uint8_t random_byte)
{
    /* RFC 9000 §10.3.3: strictly smaller than what triggered it. */
    if (trigger_len <= RQ_RESET_MIN_LEN)
        return 0;
    /* RFC 9000 §10.3: answering a datagram of 43 bytes or less, send one byte less. */
    if (trigger_len <= RQ_RESET_SMALL_TRIGGER)
        return trigger_len - 1;
    size_t ceiling = trigger_len - 1 < RQ_RESET_MAX_LEN ? trigger_len - 1 : RQ_RESET_MAX_LEN;
    size_t floor = RQ_RESET_SMALL_TRIGGER - 1;
    return floor + random_byte % (ceiling - floor + 1);
}

int rq_reset_write(uint8_t *out, size_t cap, size_t len, const uint8_t token[RQ_RESET_TOKEN_LEN],
                   rq_random_fn rnd, void *rnd_ctx)
{
    if (len < RQ_RESET_MIN_LEN || len > RQ_RESET_MAX_LEN || len > cap)
        return RQ_ERR_INVALID_ARG;
    size_t random_len = len - RQ_RESET_TOKEN_LEN;
    if (rnd(rnd_ctx, out, random_len) != 0)
        return RQ_ERR_CRYPTO;
    /* RFC 9000 §10.3: it must look like a short-header packet: form bit 0, fixed bit 1. */
    out[0] = (uint8_t)(0x40 | (out[0] & 0x3f));
    for (size_t i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        out[random_len + i] = token[i];
    return 0;
}

bool rq_reset_matches(const uint8_t *dgram, size_t len, const uint8_t token[RQ_RESET_TOKEN_LEN])
{
    if (len < RQ_RESET_MIN_LEN)
        return false;
    const uint8_t *tail = dgram + len - RQ_RESET_TOKEN_LEN;
    uint8_t diff = 0;
    /* Constant time: every byte is compared whatever the earlier ones were. */
    for (size_t i = 0; i < RQ_RESET_TOKEN_LEN; i++)
        diff |= (uint8_t)(tail[i] ^ token[i]);
    return diff == 0;
}
