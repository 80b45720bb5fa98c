/* Packet number truncation and recovery (RFC 9000 Appendix A.2, A.3). */
#include "core/pn.h"

size_t rq_pn_encode_len(uint64_t full_pn, uint64_t largest_acked)
{
    /* Appendix A.2: the window must be at least twice the packets the receiver may not have
     * seen, so that the truncated value decodes unambiguously. */
    uint64_t unacked = largest_acked == RQ_PN_NONE ? full_pn + 1 : full_pn - largest_acked;
    uint64_t range = 2 * unacked; /* cannot overflow: pn < 2^62 */
    for (size_t len = 1; len <= 4; len++)
        if (range <= (uint64_t)1 << (8 * len))
            return len;
    return 0;
}

uint64_t rq_pn_decode(uint64_t largest_pn, uint64_t truncated_pn, unsigned pn_nbits)
{
    uint64_t expected = largest_pn == RQ_PN_NONE ? 0 : largest_pn + 1;
    uint64_t win = (uint64_t)1 << pn_nbits;
    uint64_t hwin = win / 2;
    uint64_t mask = win - 1;
    uint64_t candidate = (expected & ~mask) | truncated_pn;
    /* The comparisons are written so that nothing wraps below zero or above 2^62. */
    if (candidate + hwin <= expected && candidate < ((uint64_t)1 << 62) - win)
        return candidate + win;
    if (candidate > expected + hwin && candidate >= win)
        return candidate - win;
    return candidate;
}
