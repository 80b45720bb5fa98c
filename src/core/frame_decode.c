/* Frame decoding (RFC 9000 §12.4, §19). Hot path: no allocation, one pass over the bytes, work
 * linear in the input. Every read goes through the bounds-checked rq_rd cursor. */
#include "core/frame.h"

#include <string.h>

#define FE RQ_ERR_FRAME_ENCODING

/* Reads a varint-encoded byte count and checks that that many bytes follow, so the caller can
 * take them without another check. */
static bool rd_len(rq_rd *r, size_t *len)
{
    uint64_t v;
    if (!rq_rd_varint(r, &v) || v > rq_rd_left(r))
        return false;
    *len = (size_t)v;
    return true;
}

static bool rd_varint2(rq_rd *r, uint64_t *a, uint64_t *b)
{
    return rq_rd_varint(r, a) && rq_rd_varint(r, b);
}

static int decode_ack(rq_rd *r, uint64_t type, rq_frame_ack *a)
{
    if (!rd_varint2(r, &a->largest, &a->ack_delay) ||
        !rd_varint2(r, &a->range_count, &a->first_range))
        return FE;
    /* RFC 9000 §19.3: the first range may not reach below packet number 0. */
    if (a->first_range > a->largest)
        return FE;
    /* Each further range takes at least two bytes (Gap and ACK Range Length), so a count larger
     * than half the bytes left cannot be honest; refusing it up front keeps the walk below
     * bounded by the input even before the reads fail. */
    if (a->range_count > rq_rd_left(r) / 2)
        return FE;
    a->ranges = NULL;
    a->ranges_count = 0;
    a->range_bytes = r->p;
    a->range_bytes_len = rq_rd_left(r);
    /* Validate every range once, here, so that rq_ack_iter over a decoded frame only stops at
     * the end. The iterator applies RFC 9000 §19.3.1: every computed packet number >= 0. */
    rq_ack_iter it;
    rq_ack_range range;
    rq_ack_iter_init(&it, a);
    while (rq_ack_iter_next(&it, &range))
        ;
    if (it.invalid || it.idx != a->range_count + 1)
        return FE;
    a->range_bytes_len = (size_t)(it.raw.p - a->range_bytes);
    r->p = it.raw.p;
    if (type == RQ_FT_ACK_ECN) {
        /* RFC 9000 §19.3.2: ECT(0), ECT(1) and ECN-CE counts follow the ranges. */
        if (!rd_varint2(r, &a->ect0, &a->ect1) || !rq_rd_varint(r, &a->ecn_ce))
            return FE;
    } else {
        a->ect0 = a->ect1 = a->ecn_ce = 0;
    }
    return 0;
}

static int decode_stream(rq_rd *r, uint64_t type, rq_frame_stream *s)
{
    s->fin = (type & RQ_FT_STREAM_BIT_FIN) != 0;
    s->has_len = (type & RQ_FT_STREAM_BIT_LEN) != 0;
    s->offset = 0;
    if (!rq_rd_varint(r, &s->stream_id))
        return FE;
    if ((type & RQ_FT_STREAM_BIT_OFF) && !rq_rd_varint(r, &s->offset))
        return FE;
    if (s->has_len) {
        if (!rd_len(r, &s->length))
            return FE;
    } else {
        /* RFC 9000 §19.8: without a Length field the data extends to the end of the packet. */
        s->length = rq_rd_left(r);
    }
    /* RFC 9000 §19.8: offset + length may not exceed 2^62-1, since no flow control credit can
     * ever cover data beyond it (FRAME_ENCODING_ERROR or FLOW_CONTROL_ERROR; we use the
     * former). */
    if ((uint64_t)s->length > RQ_VARINT_MAX - s->offset)
        return FE;
    if (!rq_rd_bytes(r, s->length, &s->data))
        return FE;
    return 0;
}

static int decode_new_cid(rq_rd *r, rq_frame *f)
{
    uint8_t len;
    if (!rd_varint2(r, &f->new_cid.seq, &f->new_cid.retire_prior_to) || !rq_rd_u8(r, &len))
        return FE;
    /* RFC 9000 §19.15: a Length below 1 or above 20 is a FRAME_ENCODING_ERROR. */
    if (len < 1 || len > RQ_MAX_CID_LEN)
        return FE;
    /* RFC 9000 §19.15: Retire Prior To above Sequence Number is a FRAME_ENCODING_ERROR. */
    if (f->new_cid.retire_prior_to > f->new_cid.seq)
        return FE;
    f->new_cid.cid.len = len;
    if (!rq_rd_copy(r, len, f->new_cid.cid.data) ||
        !rq_rd_copy(r, RQ_RESET_TOKEN_LEN, f->new_cid.reset_token))
        return FE;
    return 0;
}

static int decode_body(rq_rd *r, uint64_t type, rq_frame *f)
{
    switch (type) {
    case RQ_FT_PING:
    case RQ_FT_HANDSHAKE_DONE:
        return 0;
    case RQ_FT_ACK:
    case RQ_FT_ACK_ECN:
        return decode_ack(r, type, &f->ack);
    case RQ_FT_RESET_STREAM:
        if (!rd_varint2(r, &f->reset_stream.stream_id, &f->reset_stream.app_error) ||
            !rq_rd_varint(r, &f->reset_stream.final_size))
            return FE;
        return 0;
    case RQ_FT_STOP_SENDING:
        return rd_varint2(r, &f->stop_sending.stream_id, &f->stop_sending.app_error) ? 0 : FE;
    case RQ_FT_CRYPTO:
        if (!rq_rd_varint(r, &f->crypto.offset) || !rd_len(r, &f->crypto.length))
            return FE;
        /* RFC 9000 §19.6: offset + length may not exceed 2^62-1 (CRYPTO_BUFFER_EXCEEDED or
         * FRAME_ENCODING_ERROR; we use the latter). */
        if ((uint64_t)f->crypto.length > RQ_VARINT_MAX - f->crypto.offset)
            return FE;
        return rq_rd_bytes(r, f->crypto.length, &f->crypto.data) ? 0 : FE;
    case RQ_FT_NEW_TOKEN:
        if (!rd_len(r, &f->new_token.length))
            return FE;
        /* RFC 9000 §19.7: an empty token is a FRAME_ENCODING_ERROR. */
        if (f->new_token.length == 0)
            return FE;
        return rq_rd_bytes(r, f->new_token.length, &f->new_token.token) ? 0 : FE;
    case RQ_FT_MAX_DATA:
        return rq_rd_varint(r, &f->max_data.max) ? 0 : FE;
    case RQ_FT_MAX_STREAM_DATA:
        return rd_varint2(r, &f->max_stream_data.stream_id, &f->max_stream_data.max) ? 0 : FE;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        if (!rq_rd_varint(r, &f->max_streams.max))
            return FE;
        /* RFC 9000 §19.11: more than 2^60 streams cannot be addressed by a 62-bit stream ID;
         * such a frame is a FRAME_ENCODING_ERROR. */
        return f->max_streams.max <= RQ_MAX_STREAMS_LIMIT ? 0 : FE;
    case RQ_FT_DATA_BLOCKED:
        return rq_rd_varint(r, &f->data_blocked.limit) ? 0 : FE;
    case RQ_FT_STREAM_DATA_BLOCKED:
        return rd_varint2(r, &f->stream_data_blocked.stream_id, &f->stream_data_blocked.limit) ? 0
                                                                                               : FE;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        if (!rq_rd_varint(r, &f->streams_blocked.limit))
            return FE;
        /* RFC 9000 §19.14: likewise a limit above 2^60 (STREAM_LIMIT_ERROR or
         * FRAME_ENCODING_ERROR; we use the latter). */
        return f->streams_blocked.limit <= RQ_MAX_STREAMS_LIMIT ? 0 : FE;
    case RQ_FT_NEW_CONNECTION_ID:
        return decode_new_cid(r, f);
    case RQ_FT_RETIRE_CONNECTION_ID:
        return rq_rd_varint(r, &f->retire_cid.seq) ? 0 : FE;
    case RQ_FT_PATH_CHALLENGE:
    case RQ_FT_PATH_RESPONSE:
        /* RFC 9000 §19.17, §19.18: exactly 8 bytes of data. */
        return rq_rd_copy(r, RQ_PATH_DATA_LEN, f->path.data) ? 0 : FE;
    case RQ_FT_CONNECTION_CLOSE:
    case RQ_FT_CONNECTION_CLOSE_APP:
        if (!rq_rd_varint(r, &f->close.error_code))
            return FE;
        /* RFC 9000 §19.19: only the transport variant (0x1c) names the offending frame. */
        f->close.frame_type = 0;
        if (type == RQ_FT_CONNECTION_CLOSE && !rq_rd_varint(r, &f->close.frame_type))
            return FE;
        if (!rd_len(r, &f->close.reason_len))
            return FE;
        return rq_rd_bytes(r, f->close.reason_len, &f->close.reason) ? 0 : FE;
    default:
        if (rq_ft_is_stream(type))
            return decode_stream(r, type, &f->stream);
        /* RFC 9221 §3: DATAGRAM frames from a peer we never offered them to (we do not, until
         * they are implemented) are a PROTOCOL_VIOLATION, not an unknown type. */
        if (type == RQ_FT_DATAGRAM || type == RQ_FT_DATAGRAM_LEN)
            return RQ_ERR_PROTOCOL_VIOLATION;
        /* RFC 9000 §12.4: an unknown frame type is a FRAME_ENCODING_ERROR. */
        return FE;
    }
}

int rq_frame_decode(rq_rd *r, rq_frame *f)
{
    rq_rd c = *r; /* work on a copy: *r only moves on success */
    if (c.p >= c.end)
        return FE;
    uint8_t b0 = c.p[0];
    if (b0 == 0x00) {
        /* RFC 9000 §19.1: PADDING is a lone type byte; a run of them (often most of an Initial
         * packet) is reported as one frame so the caller loops once, not per byte. */
        const uint8_t *p = c.p + 1;
        while (c.end - p >= 8) { /* eight bytes per step through long runs */
            uint64_t word;
            memcpy(&word, p, sizeof word);
            if (word != 0)
                break;
            p += 8;
        }
        while (p < c.end && *p == 0)
            p++;
        f->type = RQ_FT_PADDING;
        f->padding.count = (size_t)(p - c.p);
        r->p = p;
        return 0;
    }
    uint64_t type;
    if (b0 < 0x40) {
        /* Every frame type this version defines is below 0x40: one byte. */
        type = b0;
        c.p++;
    } else {
        const uint8_t *start = c.p;
        if (!rq_rd_varint(&c, &type))
            return FE;
        /* RFC 9000 §12.4: a frame type must use its shortest encoding; an endpoint may treat a
         * longer one as a PROTOCOL_VIOLATION, which we do. */
        if ((size_t)(c.p - start) != rq_varint_len(type))
            return RQ_ERR_PROTOCOL_VIOLATION;
        /* A minimal multi-byte type is >= 0x40: not defined by this version. */
        return FE;
    }
    f->type = type;
    int rc = decode_body(&c, type, f);
    if (rc == 0)
        *r = c;
    return rc;
}
