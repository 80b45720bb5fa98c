/* Packet headers: parse (RFC 9000 §17, RFC 8999 invariants) and write. */
#include "core/packet.h"

#include <roamquic/error.h>
#include <string.h>

static int parse_short(rq_rd *r, const uint8_t *buf, size_t len, size_t short_dcid_len,
                       rq_pkt_hdr *h)
{
    /* RFC 9000 §17.3.1: a short header with the fixed bit clear is not a v1 packet: discard. */
    if (!(h->first & RQ_HDR_FIXED_BIT))
        return RQ_ERR_MALFORMED_PACKET;
    if (short_dcid_len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    if (!rq_rd_bytes(r, short_dcid_len, &h->dcid))
        return RQ_ERR_MALFORMED_PACKET;
    h->dcid_len = short_dcid_len;
    h->type = RQ_PKT_1RTT;
    h->pn_offset = (size_t)(r->p - buf);
    /* A short header has no Length: the packet runs to the end of the datagram (§12.2). */
    if (h->pn_offset >= len)
        return RQ_ERR_MALFORMED_PACKET;
    h->len = len;
    return 0;
}

/* The fields every version shares (RFC 8999 §5.1): version and two length-prefixed CIDs. */
static int parse_invariants(rq_rd *r, rq_pkt_hdr *h)
{
    uint8_t dlen, slen;
    if (!rq_rd_u32(r, &h->version) || !rq_rd_u8(r, &dlen) || !rq_rd_bytes(r, dlen, &h->dcid) ||
        !rq_rd_u8(r, &slen) || !rq_rd_bytes(r, slen, &h->scid))
        return RQ_ERR_MALFORMED_PACKET;
    h->dcid_len = dlen;
    h->scid_len = slen;
    return 0;
}

static int parse_version_negotiation(rq_rd *r, rq_pkt_hdr *h, size_t len)
{
    /* RFC 9000 §17.2.1: the rest is a list of 32-bit versions; an empty or ragged list cannot
     * be a valid Version Negotiation packet. */
    size_t left = rq_rd_left(r);
    if (left == 0 || left % 4 != 0)
        return RQ_ERR_MALFORMED_PACKET;
    h->type = RQ_PKT_VERSION_NEGOTIATION;
    h->versions = r->p;
    h->num_versions = left / 4;
    h->len = len;
    return 0;
}

static int parse_retry(rq_rd *r, rq_pkt_hdr *h, size_t len)
{
    /* RFC 9000 §17.2.5: token, then the 16-byte integrity tag; no Length field, so a Retry
     * runs to the end of the datagram. §17.2.5.2: a client discards a Retry whose token is
     * empty, so one is never valid. */
    size_t left = rq_rd_left(r);
    if (left <= RQ_RETRY_TAG_LEN)
        return RQ_ERR_MALFORMED_PACKET;
    h->token = r->p;
    h->token_len = left - RQ_RETRY_TAG_LEN;
    h->retry_tag = r->p + h->token_len;
    h->len = len;
    return 0;
}

static int parse_long(rq_rd *r, const uint8_t *buf, size_t len, rq_pkt_hdr *h)
{
    int rc = parse_invariants(r, h);
    if (rc)
        return rc;
    if (h->version == 0)
        return parse_version_negotiation(r, h, len);
    if (h->version != RQ_VERSION_1) {
        h->len = len;
        return RQ_ERR_UNSUPPORTED_VERSION;
    }
    /* RFC 9000 §17.2: a v1 long header with a CID over 20 bytes is dropped. */
    if (h->dcid_len > RQ_MAX_CID_LEN || h->scid_len > RQ_MAX_CID_LEN)
        return RQ_ERR_MALFORMED_PACKET;
    /* RFC 9000 §17.2: fixed bit 0 means "not a v1 packet": discard. */
    if (!(h->first & RQ_HDR_FIXED_BIT))
        return RQ_ERR_MALFORMED_PACKET;
    h->type = (rq_pkt_type)((h->first >> 4) & 0x03);
    if (h->type == RQ_PKT_RETRY)
        return parse_retry(r, h, len);
    if (h->type == RQ_PKT_INITIAL) {
        uint64_t token_len;
        if (!rq_rd_varint(r, &token_len) || token_len > rq_rd_left(r) ||
            !rq_rd_bytes(r, (size_t)token_len, &h->token))
            return RQ_ERR_MALFORMED_PACKET;
        h->token_len = (size_t)token_len;
    }
    uint64_t length;
    if (!rq_rd_varint(r, &length))
        return RQ_ERR_MALFORMED_PACKET;
    /* RFC 9000 §17.2: Length covers packet number and payload; it cannot run past the
     * datagram, and a packet without even a packet number byte is not a packet. */
    if (length == 0 || length > rq_rd_left(r))
        return RQ_ERR_MALFORMED_PACKET;
    h->pn_offset = (size_t)(r->p - buf);
    h->len = h->pn_offset + (size_t)length;
    return 0;
}

int rq_pkt_parse(const uint8_t *buf, size_t len, size_t short_dcid_len, rq_pkt_hdr *h)
{
    memset(h, 0, sizeof *h);
    rq_rd r = rq_rd_init(buf, len);
    if (!rq_rd_u8(&r, &h->first))
        return RQ_ERR_MALFORMED_PACKET;
    if (h->first & RQ_HDR_FORM_LONG)
        return parse_long(&r, buf, len, h);
    return parse_short(&r, buf, len, short_dcid_len, h);
}

bool rq_pkt_hdr_dcid(const rq_pkt_hdr *h, rq_cid *out)
{
    return rq_cid_set(out, h->dcid, h->dcid_len);
}

bool rq_pkt_hdr_scid(const rq_pkt_hdr *h, rq_cid *out)
{
    return rq_cid_set(out, h->scid, h->scid_len);
}

int rq_pkt_check_reserved_bits(uint8_t unprotected_first, rq_pkt_type type)
{
    uint8_t reserved = type == RQ_PKT_1RTT ? RQ_HDR_SHORT_RESERVED : RQ_HDR_LONG_RESERVED;
    /* RFC 9000 §17.2 / §17.3.1: non-zero reserved bits after removing header protection are a
     * PROTOCOL_VIOLATION. */
    return (unprotected_first & reserved) ? RQ_ERR_PROTOCOL_VIOLATION : 0;
}

static bool write_cid(rq_wr *w, const rq_cid *cid)
{
    return rq_wr_u8(w, cid->len) && rq_wr_bytes(w, cid->data, cid->len);
}

static bool pn_len_valid(size_t pn_len)
{
    return pn_len >= 1 && pn_len <= 4;
}

int rq_pkt_write_long(rq_wr *w, rq_pkt_type type, uint32_t version, const rq_cid *dcid,
                      const rq_cid *scid, const uint8_t *token, size_t token_len, uint64_t pn,
                      size_t pn_len, size_t length_len, rq_pkt_wpos *pos)
{
    if ((type != RQ_PKT_INITIAL && type != RQ_PKT_0RTT && type != RQ_PKT_HANDSHAKE) ||
        !pn_len_valid(pn_len) || (length_len != 2 && length_len != 4) ||
        dcid->len > RQ_MAX_CID_LEN || scid->len > RQ_MAX_CID_LEN ||
        (type != RQ_PKT_INITIAL && token_len != 0) || (token_len && !token))
        return RQ_ERR_INVALID_ARG;
    rq_wr save = *w;
    uint8_t first =
        (uint8_t)(RQ_HDR_FORM_LONG | RQ_HDR_FIXED_BIT | (unsigned)type << 4 | (pn_len - 1));
    pos->start = w->p;
    bool ok =
        rq_wr_u8(w, first) && rq_wr_u32(w, version) && write_cid(w, dcid) && write_cid(w, scid);
    if (ok && type == RQ_PKT_INITIAL)
        ok = rq_wr_varint(w, token_len) && rq_wr_bytes(w, token, token_len);
    pos->length_field = w->p;
    ok = ok && rq_wr_zeros(w, length_len);
    pos->pn_offset = (size_t)(w->p - pos->start);
    ok = ok && rq_wr_uint(w, pn_len, pn);
    if (!ok) {
        *w = save;
        return RQ_ERR_BUFFER_TOO_SMALL;
    }
    pos->length_len = length_len;
    pos->pn_len = pn_len;
    return 0;
}

int rq_pkt_finish_long(const rq_pkt_wpos *pos, size_t pn_payload_tag_len)
{
    if (!pos->length_field || pn_payload_tag_len < pos->pn_len)
        return RQ_ERR_INVALID_ARG;
    rq_wr w = rq_wr_init(pos->length_field, pos->length_len);
    return rq_wr_varint_n(&w, pn_payload_tag_len, pos->length_len) ? 0 : RQ_ERR_INVALID_ARG;
}

int rq_pkt_write_short(rq_wr *w, const rq_cid *dcid, bool spin, bool key_phase, uint64_t pn,
                       size_t pn_len, rq_pkt_wpos *pos)
{
    if (!pn_len_valid(pn_len) || dcid->len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    rq_wr save = *w;
    uint8_t first = (uint8_t)(RQ_HDR_FIXED_BIT | (spin ? RQ_HDR_SPIN_BIT : 0) |
                              (key_phase ? RQ_HDR_KEY_PHASE : 0) | (pn_len - 1));
    pos->start = w->p;
    pos->length_field = NULL;
    pos->length_len = 0;
    bool ok = rq_wr_u8(w, first) && rq_wr_bytes(w, dcid->data, dcid->len);
    pos->pn_offset = (size_t)(w->p - pos->start);
    if (!ok || !rq_wr_uint(w, pn_len, pn)) {
        *w = save;
        return RQ_ERR_BUFFER_TOO_SMALL;
    }
    pos->pn_len = pn_len;
    return 0;
}

int rq_pkt_write_retry(rq_wr *w, uint32_t version, const rq_cid *dcid, const rq_cid *scid,
                       const uint8_t *token, size_t token_len, uint8_t unused)
{
    /* RFC 9000 §17.2.5: a Retry always carries a token (a client discards one without). */
    if (!token || token_len == 0 || dcid->len > RQ_MAX_CID_LEN || scid->len > RQ_MAX_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    rq_wr save = *w;
    uint8_t first =
        (uint8_t)(RQ_HDR_FORM_LONG | RQ_HDR_FIXED_BIT | RQ_PKT_RETRY << 4 | (unused & 0x0f));
    if (!rq_wr_u8(w, first) || !rq_wr_u32(w, version) || !write_cid(w, dcid) ||
        !write_cid(w, scid) || !rq_wr_bytes(w, token, token_len)) {
        *w = save;
        return RQ_ERR_BUFFER_TOO_SMALL;
    }
    return 0;
}

int rq_pkt_write_version_negotiation(rq_wr *w, const rq_pkt_hdr *h, uint8_t unused,
                                     const uint32_t *versions, size_t num_versions)
{
    if (num_versions == 0 || !versions || h->dcid_len > RQ_MAX_INVARIANT_CID_LEN ||
        h->scid_len > RQ_MAX_INVARIANT_CID_LEN)
        return RQ_ERR_INVALID_ARG;
    rq_wr save = *w;
    /* RFC 9000 §17.2.1: the reply's DCID is the client's SCID and vice versa, so the client
     * can match it to its attempt. */
    /* §17.2.1: the 0x40 bit should be set so that VN looks like it has a fixed bit. */
    uint8_t first = (uint8_t)(RQ_HDR_FORM_LONG | RQ_HDR_FIXED_BIT | (unused & 0x3f));
    bool ok = rq_wr_u8(w, first) && rq_wr_u32(w, 0) && rq_wr_u8(w, (uint8_t)h->scid_len) &&
              rq_wr_bytes(w, h->scid, h->scid_len) && rq_wr_u8(w, (uint8_t)h->dcid_len) &&
              rq_wr_bytes(w, h->dcid, h->dcid_len);
    for (size_t i = 0; ok && i < num_versions; i++)
        ok = rq_wr_u32(w, versions[i]);
    if (!ok) {
        *w = save;
        return RQ_ERR_BUFFER_TOO_SMALL;
    }
    return 0;
}

uint32_t rq_pkt_vn_version(const rq_pkt_hdr *h, size_t i)
{
    const uint8_t *p = h->versions + 4 * i;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
