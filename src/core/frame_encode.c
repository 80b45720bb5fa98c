/* Frame encoding (RFC 9000 §19). One routine describes every frame's layout and runs twice:
 * once counting (validating, sizing) and once writing, so the size the packet builder plans
 * with and the bytes written can never disagree, and a frame is written whole or not at all. */
#include "core/frame.h"

#include <string.h>

typedef struct emitter {
    rq_wr *w; /* NULL: count only */
    size_t n; /* bytes so far */
    bool bad; /* a value the RFC forbids, or (writing) a write that failed */
} emitter;

static void require(emitter *e, bool ok)
{
    if (!ok)
        e->bad = true;
}

static void put_varint(emitter *e, uint64_t v)
{
    size_t l = rq_varint_len(v);
    if (l == 0) { /* above 2^62-1: not encodable (RFC 9000 §16) */
        e->bad = true;
        return;
    }
    e->n += l;
    if (e->w && !rq_wr_varint_n(e->w, v, l))
        e->bad = true;
}

static void put_u8(emitter *e, uint8_t v)
{
    e->n += 1;
    if (e->w && !rq_wr_u8(e->w, v))
        e->bad = true;
}

static void put_bytes(emitter *e, const void *p, size_t len)
{
    if ((len && !p) || len > SIZE_MAX - e->n) {
        e->bad = true;
        return;
    }
    e->n += len;
    if (e->w && !rq_wr_bytes(e->w, p, len))
        e->bad = true;
}

static void put_zeros(emitter *e, size_t len)
{
    if (len > SIZE_MAX - e->n) {
        e->bad = true;
        return;
    }
    e->n += len;
    if (e->w && !rq_wr_zeros(e->w, len))
        e->bad = true;
}

/* RFC 9000 §19.6, §19.8: the end of the data, offset + length, stays within 2^62-1. */
static bool data_end_ok(uint64_t offset, size_t length)
{
    return offset <= RQ_VARINT_MAX && (uint64_t)length <= RQ_VARINT_MAX - offset;
}

static void emit_ack(emitter *e, uint64_t type, const rq_frame_ack *a)
{
    /* The ranges come from the caller's array (checked by the iterator: descending, each
     * well-formed, at least one unacknowledged packet between neighbours) or from a decoded
     * frame's raw bytes. */
    uint64_t extra;
    if (a->ranges) {
        require(e, a->ranges_count > 0);
        extra = a->ranges_count > 0 ? a->ranges_count - 1 : 0;
    } else {
        extra = a->range_count;
    }
    rq_ack_iter it;
    rq_ack_range cur, prev;
    rq_ack_iter_init(&it, a);
    if (!rq_ack_iter_next(&it, &cur)) {
        e->bad = true;
        return;
    }
    put_varint(e, type);
    put_varint(e, cur.largest);
    put_varint(e, a->ack_delay);
    put_varint(e, extra);
    put_varint(e, cur.largest - cur.smallest);
    prev = cur;
    while (rq_ack_iter_next(&it, &cur)) {
        /* RFC 9000 §19.3.1: the inverse of largest = previous_smallest - gap - 2. */
        put_varint(e, prev.smallest - cur.largest - 2);
        put_varint(e, cur.largest - cur.smallest);
        prev = cur;
    }
    require(e, !it.invalid && it.idx == extra + 1);
    if (type == RQ_FT_ACK_ECN) {
        put_varint(e, a->ect0);
        put_varint(e, a->ect1);
        put_varint(e, a->ecn_ce);
    }
}

static void emit_stream(emitter *e, const rq_frame_stream *s)
{
    uint8_t type = (uint8_t)RQ_FT_STREAM;
    if (s->offset)
        type |= RQ_FT_STREAM_BIT_OFF;
    if (s->has_len)
        type |= RQ_FT_STREAM_BIT_LEN;
    if (s->fin)
        type |= RQ_FT_STREAM_BIT_FIN;
    require(e, data_end_ok(s->offset, s->length));
    put_u8(e, type);
    put_varint(e, s->stream_id);
    if (s->offset)
        put_varint(e, s->offset);
    if (s->has_len)
        put_varint(e, s->length);
    put_bytes(e, s->data, s->length);
}

static void emit_frame(emitter *e, const rq_frame *f)
{
    uint64_t t = f->type;
    if (rq_ft_is_stream(t)) {
        emit_stream(e, &f->stream);
        return;
    }
    switch (t) {
    case RQ_FT_PADDING:
        /* Each PADDING frame is one 0x00 byte; count of them in a row. */
        require(e, f->padding.count > 0);
        put_zeros(e, f->padding.count);
        return;
    case RQ_FT_PING:
    case RQ_FT_HANDSHAKE_DONE:
        put_varint(e, t);
        return;
    case RQ_FT_ACK:
    case RQ_FT_ACK_ECN:
        emit_ack(e, t, &f->ack);
        return;
    case RQ_FT_RESET_STREAM:
        put_varint(e, t);
        put_varint(e, f->reset_stream.stream_id);
        put_varint(e, f->reset_stream.app_error);
        put_varint(e, f->reset_stream.final_size);
        return;
    case RQ_FT_STOP_SENDING:
        put_varint(e, t);
        put_varint(e, f->stop_sending.stream_id);
        put_varint(e, f->stop_sending.app_error);
        return;
    case RQ_FT_CRYPTO:
        require(e, data_end_ok(f->crypto.offset, f->crypto.length));
        put_varint(e, t);
        put_varint(e, f->crypto.offset);
        put_varint(e, f->crypto.length);
        put_bytes(e, f->crypto.data, f->crypto.length);
        return;
    case RQ_FT_NEW_TOKEN:
        /* RFC 9000 §19.7: a token is never empty. */
        require(e, f->new_token.length > 0);
        put_varint(e, t);
        put_varint(e, f->new_token.length);
        put_bytes(e, f->new_token.token, f->new_token.length);
        return;
    case RQ_FT_MAX_DATA:
        put_varint(e, t);
        put_varint(e, f->max_data.max);
        return;
    case RQ_FT_MAX_STREAM_DATA:
        put_varint(e, t);
        put_varint(e, f->max_stream_data.stream_id);
        put_varint(e, f->max_stream_data.max);
        return;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        /* RFC 9000 §19.11: at most 2^60 streams. */
        require(e, f->max_streams.max <= RQ_MAX_STREAMS_LIMIT);
        put_varint(e, t);
        put_varint(e, f->max_streams.max);
        return;
    case RQ_FT_DATA_BLOCKED:
        put_varint(e, t);
        put_varint(e, f->data_blocked.limit);
        return;
    case RQ_FT_STREAM_DATA_BLOCKED:
        put_varint(e, t);
        put_varint(e, f->stream_data_blocked.stream_id);
        put_varint(e, f->stream_data_blocked.limit);
        return;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        /* RFC 9000 §19.14: at most 2^60 streams. */
        require(e, f->streams_blocked.limit <= RQ_MAX_STREAMS_LIMIT);
        put_varint(e, t);
        put_varint(e, f->streams_blocked.limit);
        return;
    case RQ_FT_NEW_CONNECTION_ID:
        /* RFC 9000 §19.15: 1..20 bytes of connection ID; Retire Prior To <= Sequence. */
        require(e, f->new_cid.cid.len >= 1 && f->new_cid.cid.len <= RQ_MAX_CID_LEN);
        require(e, f->new_cid.retire_prior_to <= f->new_cid.seq);
        if (e->bad)
            return; /* cid.len is not safe to copy with */
        put_varint(e, t);
        put_varint(e, f->new_cid.seq);
        put_varint(e, f->new_cid.retire_prior_to);
        put_u8(e, f->new_cid.cid.len);
        put_bytes(e, f->new_cid.cid.data, f->new_cid.cid.len);
        put_bytes(e, f->new_cid.reset_token, RQ_RESET_TOKEN_LEN);
        return;
    case RQ_FT_RETIRE_CONNECTION_ID:
        put_varint(e, t);
        put_varint(e, f->retire_cid.seq);
        return;
    case RQ_FT_PATH_CHALLENGE:
    case RQ_FT_PATH_RESPONSE:
        put_varint(e, t);
        put_bytes(e, f->path.data, RQ_PATH_DATA_LEN);
        return;
    case RQ_FT_CONNECTION_CLOSE:
    case RQ_FT_CONNECTION_CLOSE_APP:
        put_varint(e, t);
        put_varint(e, f->close.error_code);
        /* RFC 9000 §19.19: only the transport variant carries the offending frame type. */
        if (t == RQ_FT_CONNECTION_CLOSE)
            put_varint(e, f->close.frame_type);
        put_varint(e, f->close.reason_len);
        put_bytes(e, f->close.reason, f->close.reason_len);
        return;
    default:
        e->bad = true; /* not a frame type of this version */
        return;
    }
}

size_t rq_frame_encoded_len(const rq_frame *f)
{
    emitter e = {NULL, 0, false};
    emit_frame(&e, f);
    return e.bad ? 0 : e.n;
}

int rq_frame_encode(rq_wr *w, const rq_frame *f)
{
    emitter count = {NULL, 0, false};
    emit_frame(&count, f);
    if (count.bad)
        return RQ_ERR_INVALID_ARG;
    /* Checked before the first byte is written: a frame that does not fit leaves no trace. */
    if (count.n > rq_wr_left(w))
        return RQ_ERR_BUFFER_TOO_SMALL;
    rq_wr c = *w;
    emitter write = {&c, 0, false};
    emit_frame(&write, f);
    /* Cannot fail after the counting pass; if it ever did, *w is still untouched. */
    if (write.bad || write.n != count.n || (size_t)(c.p - w->p) != count.n)
        return RQ_ERR_INTERNAL;
    *w = c;
    return 0;
}

int rq_stream_frame_fit(uint64_t stream_id, uint64_t offset, size_t want, size_t room,
                        bool with_len, size_t *fit)
{
    size_t id_len = rq_varint_len(stream_id);
    size_t off_len = offset ? rq_varint_len(offset) : 0;
    if (id_len == 0 || (offset && off_len == 0))
        return RQ_ERR_INVALID_ARG;
    size_t hdr = 1 + id_len + off_len; /* type byte, Stream ID, Offset when non-zero */
    size_t need = hdr + (with_len ? 1 : 0);
    if (room < need)
        return RQ_ERR_BUFFER_TOO_SMALL;
    size_t avail = room - hdr;
    size_t n = want < avail ? want : avail;
    /* RFC 9000 §19.8: never offer data past offset 2^62-1. */
    if ((uint64_t)n > RQ_VARINT_MAX - offset)
        n = (size_t)(RQ_VARINT_MAX - offset);
    if (with_len) {
        /* The Length field grows with n. For each field size, the most data it can describe
         * that still fits beside it; the best of the four is the answer. */
        static const struct {
            size_t len;
            uint64_t max;
        } field[] = {{1, 0x3f}, {2, 0x3fff}, {4, 0x3fffffff}, {8, RQ_VARINT_MAX}};
        size_t best = 0;
        for (size_t k = 0; k < sizeof field / sizeof field[0]; k++) {
            if (avail < field[k].len)
                continue;
            size_t m = n;
            if ((uint64_t)m > field[k].max)
                m = (size_t)field[k].max;
            if (m > avail - field[k].len)
                m = avail - field[k].len;
            if (m > best)
                best = m;
        }
        n = best;
    }
    *fit = n;
    return 0;
}
