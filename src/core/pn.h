/* Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2 and A.3). */
#ifndef RQ_CORE_PN_H
#define RQ_CORE_PN_H

#include <stddef.h>
#include <stdint.h>

/* RFC 9000 §12.3: packet numbers run from 0 to 2^62 - 1. */
#define RQ_PN_MAX ((uint64_t)0x3fffffffffffffffULL)
/* "No packet acknowledged yet" for rq_pn_encode_len. */
#define RQ_PN_NONE UINT64_MAX

/* How many bytes (1..4) to send packet number `full_pn` in, given the largest packet number
 * the peer has acknowledged in this space (RQ_PN_NONE if none): enough bits to represent more
 * than twice the number of packets in flight (Appendix A.2). Returns 0 if even 4 bytes do not
 * suffice (more than 2^31 packets unacknowledged: the caller must not send). */
size_t rq_pn_encode_len(uint64_t full_pn, uint64_t largest_acked);

/* Recovers a full packet number from its `pn_nbits`-bit truncation (8, 16, 24 or 32) given the
 * largest packet number successfully processed in this space (RQ_PN_NONE if none)
 * (Appendix A.3). */
uint64_t rq_pn_decode(uint64_t largest_pn, uint64_t truncated_pn, unsigned pn_nbits);

#endif
