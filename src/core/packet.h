/* QUIC packet headers (RFC 9000 §17, RFC 8999): parsing up to the packet number, writing
 * long, short, Retry and Version Negotiation headers, and walking the packets coalesced in one
 * datagram (§12.2). Header protection and payload encryption are crypto/'s job: a parsed
 * header gives the offset where the protected packet number starts. No allocation; parsed
 * fields point into the caller's buffer.
 */
#ifndef RQ_CORE_PACKET_H
#define RQ_CORE_PACKET_H

#include "core/cid.h"
#include "core/pkt_type.h"
#include "core/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RQ_VERSION_1 0x00000001u
/* RFC 9000 §14.1: a datagram carrying an Initial packet is at least this large. */
#define RQ_MIN_INITIAL_DATAGRAM 1200
/* RFC 8999 §5.1: long-header connection IDs of unknown versions may be up to 255 bytes. */
#define RQ_MAX_INVARIANT_CID_LEN 255
/* RFC 9001 §5.8: the Retry integrity tag. */
#define RQ_RETRY_TAG_LEN 16

/* First-byte bits (RFC 9000 §17.2, §17.3.1). */
#define RQ_HDR_FORM_LONG      0x80
#define RQ_HDR_FIXED_BIT      0x40
#define RQ_HDR_SPIN_BIT       0x20
#define RQ_HDR_KEY_PHASE      0x04
#define RQ_HDR_LONG_RESERVED  0x0c
#define RQ_HDR_SHORT_RESERVED 0x18
#define RQ_HDR_PN_LEN_MASK    0x03

typedef struct rq_pkt_hdr {
    rq_pkt_type type;
    uint8_t first;    /* first byte as received (still header-protected) */
    uint32_t version; /* long header only; 0 for Version Negotiation */
    /* Connection IDs as bytes in the packet: long headers of unknown versions may carry up
     * to 255 bytes (RFC 8999), which a Version Negotiation reply must echo. */
    const uint8_t *dcid;
    size_t dcid_len;
    const uint8_t *scid; /* long header only */
    size_t scid_len;
    const uint8_t *token; /* Initial: address validation token; Retry: retry token */
    size_t token_len;
    const uint8_t *retry_tag; /* Retry only: the 16-byte integrity tag */
    const uint8_t *versions;  /* Version Negotiation only: 4 bytes each */
    size_t num_versions;      /* Version Negotiation only */
    size_t pn_offset;         /* Initial, 0-RTT, Handshake, 1-RTT: where the PN starts */
    size_t len;               /* bytes of this packet, header included */
} rq_pkt_hdr;

/* Parses the header of the packet at the start of buf (len bytes left in the datagram) as far
 * as it can be read before header protection is removed. A short header's DCID has no length
 * on the wire: the receiver passes the length of the CIDs it issues as short_dcid_len.
 * On success h->len says where the next coalesced packet starts (a short-header packet runs to
 * the end of the datagram).
 * Errors: RQ_ERR_MALFORMED_PACKET (truncated; a v1 long header with CID > 20 bytes; fixed bit
 * clear in v1; Length beyond the datagram; a Retry with an empty token, §17.2.5.2) — the
 * packet, and the rest of the datagram, is
 * dropped. RQ_ERR_UNSUPPORTED_VERSION: a long header of another version; h->version, dcid,
 * scid are filled (RFC 8999 invariants) so that the caller can answer with Version
 * Negotiation (RFC 9000 §6.1); h->len is the rest of the datagram. */
int rq_pkt_parse(const uint8_t *buf, size_t len, size_t short_dcid_len, rq_pkt_hdr *h);

/* Copies a parsed CID into an rq_cid; false when it is longer than RQ_MAX_CID_LEN. */
bool rq_pkt_hdr_dcid(const rq_pkt_hdr *h, rq_cid *out);
bool rq_pkt_hdr_scid(const rq_pkt_hdr *h, rq_cid *out);

/* After header protection is removed: the packet number length from the first byte. */
static inline size_t rq_pkt_pn_len(uint8_t unprotected_first)
{
    return (size_t)(unprotected_first & RQ_HDR_PN_LEN_MASK) + 1;
}

/* After header protection is removed: the reserved bits must be zero (RFC 9000 §17.2,
 * §17.3.1). Returns 0 or RQ_ERR_PROTOCOL_VIOLATION. Only for packets that decrypted: a packet
 * failing authentication is dropped instead. */
int rq_pkt_check_reserved_bits(uint8_t unprotected_first, rq_pkt_type type);

/* Where a written header's variable parts sit, so the packet can be finished and protected. */
typedef struct rq_pkt_wpos {
    uint8_t *start;        /* the packet's first byte */
    uint8_t *length_field; /* long header: the reserved Length field; else NULL */
    size_t length_len;     /* long header: bytes reserved for Length (2 or 4) */
    size_t pn_offset;      /* offset of the packet number from start */
    size_t pn_len;
} rq_pkt_wpos;

/* Writes an Initial, 0-RTT or Handshake header through the packet number (RFC 9000 §17.2),
 * reserving `length_len` bytes (2 or 4) for the Length field. The token is written for Initial
 * only (token may be NULL with token_len 0). pn is truncated to pn_len bytes (1..4), which the
 * caller chose with rq_pn_encode_len. Errors: RQ_ERR_INVALID_ARG, RQ_ERR_BUFFER_TOO_SMALL (the
 * writer is unchanged). */
int rq_pkt_write_long(rq_wr *w, rq_pkt_type type, uint32_t version, const rq_cid *dcid,
                      const rq_cid *scid, const uint8_t *token, size_t token_len, uint64_t pn,
                      size_t pn_len, size_t length_len, rq_pkt_wpos *pos);

/* Fills the Length field reserved by rq_pkt_write_long: the bytes after the Length field up
 * to the end of the protected payload (packet number + payload + AEAD tag). Errors:
 * RQ_ERR_INVALID_ARG when the value does not fit the reserved width. */
int rq_pkt_finish_long(const rq_pkt_wpos *pos, size_t pn_payload_tag_len);

/* Writes a 1-RTT short header (RFC 9000 §17.3.1) through the packet number. */
int rq_pkt_write_short(rq_wr *w, const rq_cid *dcid, bool spin, bool key_phase, uint64_t pn,
                       size_t pn_len, rq_pkt_wpos *pos);

/* Writes a Retry packet without its integrity tag (RFC 9000 §17.2.5); crypto/ computes the
 * tag over it and appends it. `unused` fills the four low bits of the first byte. */
int rq_pkt_write_retry(rq_wr *w, uint32_t version, const rq_cid *dcid, const rq_cid *scid,
                       const uint8_t *token, size_t token_len, uint8_t unused);

/* Writes a Version Negotiation packet (RFC 9000 §17.2.1) answering a packet whose header h
 * was parsed: its SCID becomes our DCID and its DCID our SCID. `unused` supplies the seven
 * arbitrary low bits of the first byte (RFC 8999 §6 wants them unpredictable); 0x40 is always
 * set (RFC 9000 §17.2.1), so six of them are used. */
int rq_pkt_write_version_negotiation(rq_wr *w, const rq_pkt_hdr *h, uint8_t unused,
                                     const uint32_t *versions, size_t num_versions);

/* The i-th version of a parsed Version Negotiation packet. */
uint32_t rq_pkt_vn_version(const rq_pkt_hdr *h, size_t i);

#endif
