/* Whole-packet protection and its removal (RFC 9001 §5.3, §5.4). */
#include "core/pn.h"
#include "crypto/crypto.h"

#include <roamquic/error.h>

/* RFC 9001 §5.4.1: header protection covers the low 4 bits of a long header's first byte
 * (reserved bits and packet number length) and the low 5 of a short header's (also the key
 * phase bit). Bit 0x80 is the header form (RFC 9000 §17.2). */
static inline uint8_t first_byte_mask_bits(uint8_t first)
{
    return (first & 0x80) ? 0x0f : 0x1f;
}

/* rq_packet_protect: seal the payload in place, then mask the header. The buffer is the
 * caller's; nothing is allocated. Errors: see crypto.h. */
int rq_packet_protect(rq_packet_key *k, rq_hp_key *hp, uint64_t pn, uint8_t *pkt, size_t pkt_len,
                      size_t pn_offset, size_t cap, size_t *out_len)
{
    if (pkt_len == 0 || pn_offset == 0)
        return RQ_ERR_INVALID_ARG;
    /* RFC 9000 §17.2/§17.3: the low two bits of the unprotected first byte are the packet
     * number length minus one. */
    size_t pn_len = (size_t)(pkt[0] & 0x03) + 1;
    size_t hdr_len = pn_offset + pn_len;
    if (hdr_len > pkt_len)
        return RQ_ERR_INVALID_ARG;
    /* RFC 9001 §5.4.2: the sample starts 4 bytes after the start of the packet number and is
     * 16 bytes long, so packet number plus payload must be at least 4 bytes (the tag supplies
     * the other 16); the sender pads, the receiver drops packets that are shorter. */
    if (pkt_len - pn_offset < 4)
        return RQ_ERR_INVALID_ARG;
    if (cap < pkt_len || cap - pkt_len < RQ_AEAD_TAG_LEN)
        return RQ_ERR_BUFFER_TOO_SMALL;
    /* The encoded packet number must be the low bytes of pn (else the nonce would disagree
     * with what the receiver recovers). */
    uint64_t truncated = 0;
    for (size_t i = 0; i < pn_len; i++)
        truncated = truncated << 8 | pkt[pn_offset + i];
    if (truncated != (pn & ((((uint64_t)1) << (8 * pn_len)) - 1)))
        return RQ_ERR_INVALID_ARG;

    /* RFC 9001 §5.3: the associated data is the header up to and including the unprotected
     * packet number; the payload is sealed with nonce = IV xor pn. */
    int rc = rq_aead_seal(k, pn, pkt, hdr_len, pkt + hdr_len, pkt_len - hdr_len, cap - hdr_len);
    if (rc != 0)
        return rc;

    /* RFC 9001 §5.4.1: header protection is applied after packet protection, with a mask
     * computed from a sample of the ciphertext. */
    uint8_t mask[RQ_HP_MASK_LEN];
    rc = rq_hp_mask(hp, pkt + pn_offset + 4, mask);
    if (rc != 0)
        return rc;
    pkt[0] ^= mask[0] & first_byte_mask_bits(pkt[0]);
    for (size_t i = 0; i < pn_len; i++)
        pkt[pn_offset + i] ^= mask[1 + i];
    *out_len = pkt_len + RQ_AEAD_TAG_LEN;
    return RQ_OK;
}

/* rq_header_unprotect: unmask the first byte and the packet number in place. The mask is
 * computed before any byte is changed, so on error pkt is untouched. */
int rq_header_unprotect(rq_hp_key *hp, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                        rq_hp_result *res)
{
    if (pn_offset == 0)
        return RQ_ERR_INVALID_ARG;
    /* RFC 9001 §5.4.2: the sample is taken as if the packet number were 4 bytes long; a
     * packet without 16 bytes there cannot be unprotected and is dropped. Since the
     * packet number is at most 4 bytes, this also guarantees room for the 16-byte tag. */
    if (pkt_len < pn_offset || pkt_len - pn_offset < 4 + RQ_HP_SAMPLE_LEN)
        return RQ_ERR_MALFORMED_PACKET;
    uint8_t mask[RQ_HP_MASK_LEN];
    int rc = rq_hp_mask(hp, pkt + pn_offset + 4, mask);
    if (rc != 0)
        return rc;
    /* RFC 9001 §5.4.1: unmask the first byte first; only then is the packet number length
     * known, which says how many packet number bytes to unmask. */
    uint8_t first = pkt[0] ^ (mask[0] & first_byte_mask_bits(pkt[0]));
    size_t pn_len = (size_t)(first & 0x03) + 1;
    uint64_t truncated = 0;
    pkt[0] = first;
    for (size_t i = 0; i < pn_len; i++) {
        pkt[pn_offset + i] ^= mask[1 + i];
        truncated = truncated << 8 | pkt[pn_offset + i];
    }
    res->first_byte = first;
    res->pn_len = (uint8_t)pn_len;
    res->truncated_pn = truncated;
    res->hdr_len = pn_offset + pn_len;
    return RQ_OK;
}

/* rq_payload_open: the header (unprotected) is the associated data (RFC 9001 §5.3). */
int rq_payload_open(rq_packet_key *k, uint8_t *pkt, size_t pkt_len, size_t hdr_len, uint64_t pn,
                    size_t *payload_len)
{
    if (hdr_len > pkt_len)
        return RQ_ERR_INVALID_ARG;
    return rq_aead_open(k, pn, pkt, hdr_len, pkt + hdr_len, pkt_len - hdr_len, payload_len);
}

/* rq_packet_unprotect: header protection removal, packet number recovery, payload opening.
 * On RQ_ERR_DECRYPT the header stays unmasked and the payload bytes are unspecified. */
int rq_packet_unprotect(rq_packet_key *k, rq_hp_key *hp, uint8_t *pkt, size_t pkt_len,
                        size_t pn_offset, uint64_t largest_pn, uint64_t *pn, size_t *hdr_len,
                        size_t *payload_len)
{
    rq_hp_result hr;
    int rc = rq_header_unprotect(hp, pkt, pkt_len, pn_offset, &hr);
    if (rc != 0)
        return rc;
    /* RFC 9001 §5.3 / RFC 9000 §17.1: the nonce uses the full packet number, recovered from
     * its truncation and the largest packet number processed in this space. */
    uint64_t full = rq_pn_decode(largest_pn, hr.truncated_pn, 8u * hr.pn_len);
    rc = rq_payload_open(k, pkt, pkt_len, hr.hdr_len, full, payload_len);
    if (rc != 0)
        return rc;
    *pn = full;
    *hdr_len = hr.hdr_len;
    return RQ_OK;
}
