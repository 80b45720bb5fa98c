/* Frame rules shared by the decoder and encoder: the ACK range walk, the per-packet-type table
 * (RFC 9000 §12.4, §12.5), frame classification and equality. */
#include "core/frame.h"

#include <string.h>

/* ---- ACK ranges ---- */

void rq_ack_iter_init(rq_ack_iter *it, const rq_frame_ack *ack)
{
    memset(it, 0, sizeof *it);
    if (ack->ranges) {
        it->ranges = ack->ranges;
        it->count = ack->ranges_count;
        return;
    }
    /* Raw form. A NULL buffer only occurs with zero length; rq_rd_init would do NULL + 0. */
    if (ack->range_bytes)
        it->raw = rq_rd_init(ack->range_bytes, ack->range_bytes_len);
    it->remaining = ack->range_count;
    /* RFC 9000 §19.3: the first range runs First ACK Range packets below Largest Acknowledged;
     * a smallest below zero is a FRAME_ENCODING_ERROR. */
    if (ack->first_range > ack->largest) {
        it->invalid = true;
        return;
    }
    it->first.largest = ack->largest;
    it->first.smallest = ack->largest - ack->first_range;
}

bool rq_ack_iter_next(rq_ack_iter *it, rq_ack_range *out)
{
    rq_ack_range cur;
    if (it->invalid)
        return false;
    if (it->ranges) {
        if (it->idx >= it->count)
            return false;
        cur = it->ranges[it->idx];
    } else if (it->idx == 0) {
        cur = it->first;
    } else {
        uint64_t gap, len;
        if (it->remaining == 0)
            return false;
        if (!rq_rd_varint(&it->raw, &gap) || !rq_rd_varint(&it->raw, &len))
            goto invalid;
        /* RFC 9000 §19.3.1: next largest = previous smallest - gap - 2, and next smallest =
         * that largest - range length; either going below zero is a FRAME_ENCODING_ERROR. */
        if (it->last.smallest < 2 || gap > it->last.smallest - 2)
            goto invalid;
        cur.largest = it->last.smallest - 2 - gap;
        if (len > cur.largest)
            goto invalid;
        cur.smallest = cur.largest - len;
        it->remaining--;
    }
    /* The same shape rules for both forms (redundant for the raw one): a range is well ordered
     * and within the packet number space, and a later range lies strictly below the previous
     * one with at least one unacknowledged packet between them (otherwise they would be one
     * range, and the Gap field could not express it). */
    if (cur.smallest > cur.largest || cur.largest > RQ_VARINT_MAX)
        goto invalid;
    if (it->idx > 0 && (it->last.smallest < 2 || cur.largest > it->last.smallest - 2))
        goto invalid;
    it->last = cur;
    it->idx++;
    *out = cur;
    return true;
invalid:
    it->invalid = true;
    return false;
}

/* ---- which frames go where ---- */

enum { IN_I = 1, IN_H = 2, IN_0 = 4, IN_1 = 8, IN_ALL = IN_I | IN_H | IN_0 | IN_1 };

/* RFC 9000 §12.4 Table 3, "Pkts" column, with §12.5 applied on top: the table lets
 * RETIRE_CONNECTION_ID into 0-RTT, but §12.5 lists it (with ACK, CRYPTO, HANDSHAKE_DONE,
 * NEW_TOKEN and PATH_RESPONSE) as impossible in 0-RTT: it can only retire an ID the server
 * issued in 1-RTT, and a client stops sending 0-RTT once it processes 1-RTT packets. */
static const uint8_t allowed_in[RQ_FT_MAX_KNOWN + 1] = {
    [0x00] = IN_ALL,             /* PADDING */
    [0x01] = IN_ALL,             /* PING */
    [0x02] = IN_I | IN_H | IN_1, /* ACK: §17.2.3, a 0-RTT packet cannot acknowledge 1-RTT */
    [0x03] = IN_I | IN_H | IN_1, /* ACK_ECN */
    [0x04] = IN_0 | IN_1,        /* RESET_STREAM */
    [0x05] = IN_0 | IN_1,        /* STOP_SENDING */
    [0x06] = IN_I | IN_H | IN_1, /* CRYPTO: no TLS messages are carried with 0-RTT keys */
    [0x07] = IN_1,               /* NEW_TOKEN */
    [0x08] = IN_0 | IN_1,        /* STREAM 0x08..0x0f */
    [0x09] = IN_0 | IN_1,
    [0x0a] = IN_0 | IN_1,
    [0x0b] = IN_0 | IN_1,
    [0x0c] = IN_0 | IN_1,
    [0x0d] = IN_0 | IN_1,
    [0x0e] = IN_0 | IN_1,
    [0x0f] = IN_0 | IN_1,
    [0x10] = IN_0 | IN_1, /* MAX_DATA */
    [0x11] = IN_0 | IN_1, /* MAX_STREAM_DATA */
    [0x12] = IN_0 | IN_1, /* MAX_STREAMS bidi */
    [0x13] = IN_0 | IN_1, /* MAX_STREAMS uni */
    [0x14] = IN_0 | IN_1, /* DATA_BLOCKED */
    [0x15] = IN_0 | IN_1, /* STREAM_DATA_BLOCKED */
    [0x16] = IN_0 | IN_1, /* STREAMS_BLOCKED bidi */
    [0x17] = IN_0 | IN_1, /* STREAMS_BLOCKED uni */
    [0x18] = IN_0 | IN_1, /* NEW_CONNECTION_ID */
    [0x19] = IN_1,        /* RETIRE_CONNECTION_ID: see above */
    [0x1a] = IN_0 | IN_1, /* PATH_CHALLENGE */
    [0x1b] = IN_1,        /* PATH_RESPONSE */
    [0x1c] = IN_ALL,      /* CONNECTION_CLOSE (transport) */
    [0x1d] = IN_0 | IN_1, /* CONNECTION_CLOSE (application): §12.5, application space only */
    [0x1e] = IN_1,        /* HANDSHAKE_DONE */
};

int rq_frame_allowed(uint64_t frame_type, rq_pkt_type pkt, rq_role receiver)
{
    unsigned bit;
    /* RFC 9000 §12.4: a frame type this version does not define is a FRAME_ENCODING_ERROR. */
    if (frame_type > RQ_FT_MAX_KNOWN)
        return RQ_ERR_FRAME_ENCODING;
    switch (pkt) {
    case RQ_PKT_INITIAL:
        bit = IN_I;
        break;
    case RQ_PKT_HANDSHAKE:
        bit = IN_H;
        break;
    case RQ_PKT_0RTT:
        /* RFC 9001 §5.6: only a server processes 0-RTT packets; a client discards them. */
        if (receiver != RQ_ROLE_SERVER)
            return RQ_ERR_PROTOCOL_VIOLATION;
        bit = IN_0;
        break;
    case RQ_PKT_1RTT:
        bit = IN_1;
        break;
    default:
        /* RFC 9000 §12.4: Retry and Version Negotiation packets contain no frames. */
        return RQ_ERR_PROTOCOL_VIOLATION;
    }
    if (!(allowed_in[frame_type] & bit))
        return RQ_ERR_PROTOCOL_VIOLATION;
    /* RFC 9000 §19.7, §19.20: only servers send NEW_TOKEN and HANDSHAKE_DONE; a server that
     * receives either closes with PROTOCOL_VIOLATION. */
    if (receiver == RQ_ROLE_SERVER &&
        (frame_type == RQ_FT_NEW_TOKEN || frame_type == RQ_FT_HANDSHAKE_DONE))
        return RQ_ERR_PROTOCOL_VIOLATION;
    return 0;
}

bool rq_frame_is_ack_eliciting(uint64_t frame_type)
{
    /* RFC 9000 §13.2 (Table 3 "N"): ACK, PADDING and CONNECTION_CLOSE elicit no ACK. */
    return frame_type != RQ_FT_PADDING && frame_type != RQ_FT_ACK && frame_type != RQ_FT_ACK_ECN &&
           frame_type != RQ_FT_CONNECTION_CLOSE && frame_type != RQ_FT_CONNECTION_CLOSE_APP;
}

bool rq_frame_is_probing(uint64_t frame_type)
{
    /* RFC 9000 §9.1 (Table 3 "P"). */
    return frame_type == RQ_FT_PADDING || frame_type == RQ_FT_NEW_CONNECTION_ID ||
           frame_type == RQ_FT_PATH_CHALLENGE || frame_type == RQ_FT_PATH_RESPONSE;
}

/* ---- equality ---- */

static bool bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool ack_eq(uint64_t type, const rq_frame_ack *a, const rq_frame_ack *b)
{
    if (a->ack_delay != b->ack_delay)
        return false;
    if (type == RQ_FT_ACK_ECN &&
        (a->ect0 != b->ect0 || a->ect1 != b->ect1 || a->ecn_ce != b->ecn_ce))
        return false;
    rq_ack_iter ia, ib;
    rq_ack_iter_init(&ia, a);
    rq_ack_iter_init(&ib, b);
    for (;;) {
        rq_ack_range ra, rb;
        bool ha = rq_ack_iter_next(&ia, &ra), hb = rq_ack_iter_next(&ib, &rb);
        if (ha != hb)
            return false;
        if (!ha)
            return !ia.invalid && !ib.invalid && ia.idx > 0;
        if (ra.smallest != rb.smallest || ra.largest != rb.largest)
            return false;
    }
}

bool rq_frame_equal(const rq_frame *a, const rq_frame *b)
{
    if (rq_ft_is_stream(a->type) || rq_ft_is_stream(b->type)) {
        const rq_frame_stream *x = &a->stream, *y = &b->stream;
        return rq_ft_is_stream(a->type) && rq_ft_is_stream(b->type) &&
               x->stream_id == y->stream_id && x->offset == y->offset && x->fin == y->fin &&
               x->has_len == y->has_len && bytes_eq(x->data, x->length, y->data, y->length);
    }
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case RQ_FT_PADDING:
        return a->padding.count == b->padding.count;
    case RQ_FT_PING:
    case RQ_FT_HANDSHAKE_DONE:
        return true;
    case RQ_FT_ACK:
    case RQ_FT_ACK_ECN:
        return ack_eq(a->type, &a->ack, &b->ack);
    case RQ_FT_RESET_STREAM:
        return a->reset_stream.stream_id == b->reset_stream.stream_id &&
               a->reset_stream.app_error == b->reset_stream.app_error &&
               a->reset_stream.final_size == b->reset_stream.final_size;
    case RQ_FT_STOP_SENDING:
        return a->stop_sending.stream_id == b->stop_sending.stream_id &&
               a->stop_sending.app_error == b->stop_sending.app_error;
    case RQ_FT_CRYPTO:
        return a->crypto.offset == b->crypto.offset &&
               bytes_eq(a->crypto.data, a->crypto.length, b->crypto.data, b->crypto.length);
    case RQ_FT_NEW_TOKEN:
        return bytes_eq(a->new_token.token, a->new_token.length, b->new_token.token,
                        b->new_token.length);
    case RQ_FT_MAX_DATA:
        return a->max_data.max == b->max_data.max;
    case RQ_FT_MAX_STREAM_DATA:
        return a->max_stream_data.stream_id == b->max_stream_data.stream_id &&
               a->max_stream_data.max == b->max_stream_data.max;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        return a->max_streams.max == b->max_streams.max;
    case RQ_FT_DATA_BLOCKED:
        return a->data_blocked.limit == b->data_blocked.limit;
    case RQ_FT_STREAM_DATA_BLOCKED:
        return a->stream_data_blocked.stream_id == b->stream_data_blocked.stream_id &&
               a->stream_data_blocked.limit == b->stream_data_blocked.limit;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        return a->streams_blocked.limit == b->streams_blocked.limit;
    case RQ_FT_NEW_CONNECTION_ID:
        return a->new_cid.seq == b->new_cid.seq &&
               a->new_cid.retire_prior_to == b->new_cid.retire_prior_to &&
               a->new_cid.cid.len <= RQ_MAX_CID_LEN &&
               rq_cid_eq(&a->new_cid.cid, &b->new_cid.cid) &&
               memcmp(a->new_cid.reset_token, b->new_cid.reset_token, RQ_RESET_TOKEN_LEN) == 0;
    case RQ_FT_RETIRE_CONNECTION_ID:
        return a->retire_cid.seq == b->retire_cid.seq;
    case RQ_FT_PATH_CHALLENGE:
    case RQ_FT_PATH_RESPONSE:
        return memcmp(a->path.data, b->path.data, RQ_PATH_DATA_LEN) == 0;
    case RQ_FT_CONNECTION_CLOSE:
        if (a->close.frame_type != b->close.frame_type)
            return false;
        /* fall through */
    case RQ_FT_CONNECTION_CLOSE_APP:
        return a->close.error_code == b->close.error_code &&
               bytes_eq(a->close.reason, a->close.reason_len, b->close.reason, b->close.reason_len);
    default:
        return false;
    }
}
