/* QUIC v1 frames (RFC 9000 §19): one decoder, one encoder, and the per-packet-type rules of
 * §12.4/§12.5. Sans-I/O and allocation-free: a decoded frame's variable-length data points into
 * the caller's input buffer (zero copy), and the encoder writes into a caller's rq_wr.
 *
 *   int rc = rq_frame_check_payload(len);   // RFC 9000 §12.4: no frames at all is an error
 *   rq_rd r = rq_rd_init(payload, len);
 *   while (rc == 0 && rq_rd_left(&r) > 0) {
 *       rq_frame f;
 *       int rc = rq_frame_decode(&r, &f);
 *       if (rc == 0)
 *           rc = rq_frame_allowed(f.type, pkt_type, role);
 *       if (rc < 0)
 *           return rc;  // closes the connection with rq_err_transport_code(rc)
 *       ...
 *   }
 */
#ifndef RQ_CORE_FRAME_H
#define RQ_CORE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/error.h>

#include "core/cid.h"
#include "core/pkt_type.h"
#include "core/wire.h"

/* ---- frame types (RFC 9000 §12.4, Table 3) ---- */
#define RQ_FT_PADDING              ((uint64_t)0x00)
#define RQ_FT_PING                 ((uint64_t)0x01)
#define RQ_FT_ACK                  ((uint64_t)0x02)
#define RQ_FT_ACK_ECN              ((uint64_t)0x03)
#define RQ_FT_RESET_STREAM         ((uint64_t)0x04)
#define RQ_FT_STOP_SENDING         ((uint64_t)0x05)
#define RQ_FT_CRYPTO               ((uint64_t)0x06)
#define RQ_FT_NEW_TOKEN            ((uint64_t)0x07)
#define RQ_FT_STREAM               ((uint64_t)0x08) /* 0x08..0x0f: OR in the bits below */
#define RQ_FT_STREAM_LAST          ((uint64_t)0x0f)
#define RQ_FT_MAX_DATA             ((uint64_t)0x10)
#define RQ_FT_MAX_STREAM_DATA      ((uint64_t)0x11)
#define RQ_FT_MAX_STREAMS_BIDI     ((uint64_t)0x12)
#define RQ_FT_MAX_STREAMS_UNI      ((uint64_t)0x13)
#define RQ_FT_DATA_BLOCKED         ((uint64_t)0x14)
#define RQ_FT_STREAM_DATA_BLOCKED  ((uint64_t)0x15)
#define RQ_FT_STREAMS_BLOCKED_BIDI ((uint64_t)0x16)
#define RQ_FT_STREAMS_BLOCKED_UNI  ((uint64_t)0x17)
#define RQ_FT_NEW_CONNECTION_ID    ((uint64_t)0x18)
#define RQ_FT_RETIRE_CONNECTION_ID ((uint64_t)0x19)
#define RQ_FT_PATH_CHALLENGE       ((uint64_t)0x1a)
#define RQ_FT_PATH_RESPONSE        ((uint64_t)0x1b)
#define RQ_FT_CONNECTION_CLOSE     ((uint64_t)0x1c) /* transport error, carries a frame type */
#define RQ_FT_CONNECTION_CLOSE_APP ((uint64_t)0x1d) /* application error, no frame type */
#define RQ_FT_HANDSHAKE_DONE       ((uint64_t)0x1e)
/* RFC 9221 (not implemented yet): recognised so that they get the right error. */
#define RQ_FT_DATAGRAM     ((uint64_t)0x30)
#define RQ_FT_DATAGRAM_LEN ((uint64_t)0x31)
/* The largest frame type this version defines. */
#define RQ_FT_MAX_KNOWN RQ_FT_HANDSHAKE_DONE

/* RFC 9000 §19.8: the low three bits of a STREAM frame type. */
#define RQ_FT_STREAM_BIT_FIN 0x01
#define RQ_FT_STREAM_BIT_LEN 0x02
#define RQ_FT_STREAM_BIT_OFF 0x04

/* RFC 9000 §19.11 / §19.14: stream counts above 2^60 cannot be expressed as stream IDs. */
#define RQ_MAX_STREAMS_LIMIT ((uint64_t)1 << 60)
/* RFC 9000 §19.17 / §19.18: PATH_CHALLENGE and PATH_RESPONSE carry exactly 8 bytes. */
#define RQ_PATH_DATA_LEN 8

/* Whether a frame type is one of the eight STREAM types (RFC 9000 §19.8). */
static inline bool rq_ft_is_stream(uint64_t type)
{
    return type >= RQ_FT_STREAM && type <= RQ_FT_STREAM_LAST;
}

/* ---- the frame value ---- */

/* One ACK range, both ends inclusive: packets smallest..largest were received. */
typedef struct rq_ack_range {
    uint64_t smallest;
    uint64_t largest;
} rq_ack_range;

/* An ACK or ACK_ECN frame (RFC 9000 §19.3) in one of two forms:
 *  - decoded: rq_frame_decode fills largest, first_range, range_count and range_bytes (the raw
 *    Gap/ACK Range Length pairs, pointing into the input buffer, already validated) and sets
 *    ranges = NULL. Walk the ranges with rq_ack_iter.
 *  - to encode: the caller sets ranges/ranges_count (descending, non-overlapping,
 *    non-adjacent; ranges[0] holds the largest acknowledged) and leaves largest, first_range,
 *    range_count and range_bytes unused. The array is only read during the call.
 * A decoded ACK can also be passed back to the encoder as is (ranges == NULL).
 * ack_delay is the encoded field (already scaled by the ack_delay_exponent, §18.2). */
typedef struct rq_frame_ack {
    uint64_t largest;
    uint64_t ack_delay;
    uint64_t range_count; /* ACK Range Count: ranges after the first */
    uint64_t first_range;
    const uint8_t *range_bytes;
    size_t range_bytes_len;
    const rq_ack_range *ranges;
    size_t ranges_count;
    /* RFC 9000 §19.3.2: present only when the frame type is RQ_FT_ACK_ECN. */
    uint64_t ect0, ect1, ecn_ce;
} rq_frame_ack;

/* A STREAM frame (RFC 9000 §19.8). On decode, has_len/fin mirror the type bits and `data`
 * points into the input; without a Length field the data runs to the end of the input. On
 * encode, the OFF bit is set when offset > 0 and the LEN bit when has_len. */
typedef struct rq_frame_stream {
    uint64_t stream_id;
    uint64_t offset;
    size_t length;
    const uint8_t *data;
    bool fin;
    bool has_len;
} rq_frame_stream;

/* Any frame: `type` is the frame type (for STREAM including its flag bits; for PADDING 0x00)
 * and selects the union member. Pointers never own: they point into the decoder's input, or,
 * for the encoder, into caller memory read only during rq_frame_encode. */
typedef struct rq_frame {
    uint64_t type;
    union {
        struct {
            size_t count; /* consecutive 0x00 bytes, >= 1 */
        } padding;
        rq_frame_ack ack; /* ACK, ACK_ECN */
        struct {
            uint64_t stream_id, app_error, final_size;
        } reset_stream;
        struct {
            uint64_t stream_id, app_error;
        } stop_sending;
        struct {
            uint64_t offset;
            size_t length;
            const uint8_t *data;
        } crypto;
        struct {
            size_t length; /* >= 1 */
            const uint8_t *token;
        } new_token;
        rq_frame_stream stream; /* STREAM 0x08..0x0f */
        struct {
            uint64_t max;
        } max_data;
        struct {
            uint64_t stream_id, max;
        } max_stream_data;
        struct {
            uint64_t max; /* <= RQ_MAX_STREAMS_LIMIT */
        } max_streams;    /* MAX_STREAMS bidi and uni */
        struct {
            uint64_t limit;
        } data_blocked;
        struct {
            uint64_t stream_id, limit;
        } stream_data_blocked;
        struct {
            uint64_t limit; /* <= RQ_MAX_STREAMS_LIMIT */
        } streams_blocked;  /* STREAMS_BLOCKED bidi and uni */
        struct {
            uint64_t seq, retire_prior_to;
            rq_cid cid; /* 1..20 bytes */
            uint8_t reset_token[RQ_RESET_TOKEN_LEN];
        } new_cid;
        struct {
            uint64_t seq;
        } retire_cid;
        struct {
            uint8_t data[RQ_PATH_DATA_LEN];
        } path; /* PATH_CHALLENGE and PATH_RESPONSE */
        struct {
            uint64_t error_code;
            uint64_t frame_type; /* only for RQ_FT_CONNECTION_CLOSE (0x1c) */
            size_t reason_len;
            const uint8_t *reason;
        } close; /* CONNECTION_CLOSE 0x1c and 0x1d */
    };
} rq_frame;

/* RFC 9000 §12.4: a packet whose payload holds no frame at all is a PROTOCOL_VIOLATION (a
 * payload of PADDING is fine: PADDING is a frame). Call it on each decrypted payload before
 * decoding its frames. Returns 0 or RQ_ERR_PROTOCOL_VIOLATION. */
static inline int rq_frame_check_payload(size_t payload_len)
{
    return payload_len == 0 ? RQ_ERR_PROTOCOL_VIOLATION : 0;
}

/* ---- decoding ---- */

/* Decodes one frame from *r into *f and advances r past it. A run of PADDING bytes decodes as
 * one PADDING frame with its count; a STREAM frame without a Length field consumes the rest of
 * the input. Pointers in *f alias r's buffer, which must outlive their use.
 * Every §19 field rule a codec can check is checked here (ACK ranges, offset limits, connection
 * ID lengths, ...); stream-state and flow-control rules belong to the connection.
 * Returns 0, or on error leaves *r unchanged (*f unspecified) and returns:
 *   RQ_ERR_FRAME_ENCODING     truncated frame, empty input, bad field, unknown frame type;
 *   RQ_ERR_PROTOCOL_VIOLATION frame type not in its shortest varint encoding (§12.4). */
int rq_frame_decode(rq_rd *r, rq_frame *f);

/* Walks an ACK frame's ranges in descending packet number order, for either form of
 * rq_frame_ack. The frame (and the buffers it points into) must outlive the iterator. */
typedef struct rq_ack_iter {
    const rq_ack_range *ranges; /* array form, or NULL for the raw form */
    size_t count;               /* array form: entries in ranges */
    rq_rd raw;                  /* raw form: the Gap/ACK Range Length pairs not yet read */
    uint64_t remaining;         /* raw form: pairs not yet read */
    rq_ack_range first;         /* raw form: the range given by Largest and First ACK Range */
    size_t idx;                 /* ranges yielded so far */
    rq_ack_range last;          /* the range yielded last */
    bool invalid;               /* iteration stopped on a malformed range */
} rq_ack_iter;

/* Starts an iteration. Never fails; a malformed frame shows up as `invalid` after a next()
 * returns false. */
void rq_ack_iter_init(rq_ack_iter *it, const rq_frame_ack *ack);

/* Stores the next range in *out and returns true, or returns false at the end (or when the
 * next range would be malformed: then it->invalid is set). Ranges of a decoded frame were
 * validated by rq_frame_decode, so for them only the end stops iteration. */
bool rq_ack_iter_next(rq_ack_iter *it, rq_ack_range *out);

/* ---- per-packet-type and role rules ---- */

/* Whether a frame of `frame_type` may appear in a packet of type `pkt` received by an endpoint
 * of role `receiver`: RFC 9000 §12.4 Table 3, §12.5 (frames impossible in 0-RTT), §19.7 and
 * §19.20 (NEW_TOKEN and HANDSHAKE_DONE only go server to client). Clients never process 0-RTT
 * packets (RFC 9001 §5.6), and Retry / Version Negotiation packets carry no frames: both are
 * refused here too, as a safety net.
 * Returns 0, RQ_ERR_PROTOCOL_VIOLATION, or RQ_ERR_FRAME_ENCODING for a frame type this version
 * does not define (§12.4; rq_frame_decode never yields one). */
int rq_frame_allowed(uint64_t frame_type, rq_pkt_type pkt, rq_role receiver);

/* RFC 9000 §13.2: every frame except ACK, PADDING and CONNECTION_CLOSE elicits an ACK. */
bool rq_frame_is_ack_eliciting(uint64_t frame_type);

/* RFC 9000 §9.1: PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING are probing
 * frames; a packet with any other frame is non-probing and can trigger migration. */
bool rq_frame_is_probing(uint64_t frame_type);

/* ---- encoding ---- */

/* Appends f to w in its shortest encoding. Atomic: on any error nothing is written and *w is
 * unchanged. The frame's pointers are only read during the call.
 * Returns 0, or
 *   RQ_ERR_INVALID_ARG       a value the RFC forbids (unknown type, a varint above 2^62-1,
 *                            offset+length above 2^62-1, empty NEW_TOKEN, connection ID
 *                            length outside 1..20, retire_prior_to > seq, stream counts above
 *                            2^60, ACK ranges not descending / overlapping / adjacent,
 *                            PADDING count 0, NULL data with a non-zero length);
 *   RQ_ERR_BUFFER_TOO_SMALL  f does not fit in w. */
int rq_frame_encode(rq_wr *w, const rq_frame *f);

/* The number of bytes rq_frame_encode writes for f, or 0 when f is invalid (a valid frame is
 * never empty). Linear in the ACK range count, constant otherwise. */
size_t rq_frame_encoded_len(const rq_frame *f);

/* For the packet builder: how many of `want` data bytes of a STREAM frame for stream_id at
 * offset fit in `room` bytes, with a Length field (with_len) or without one (the frame then
 * has to end the packet). Stores the count in *fit (possibly 0: an empty frame, e.g. for a
 * bare FIN, still fits) and returns 0; returns RQ_ERR_BUFFER_TOO_SMALL when not even the
 * header fits, RQ_ERR_INVALID_ARG when stream_id or offset exceed 2^62-1.
 * The count also respects §19.8: offset + count never exceeds 2^62-1. */
int rq_stream_frame_fit(uint64_t stream_id, uint64_t offset, size_t want, size_t room,
                        bool with_len, size_t *fit);

/* Field-by-field equality of two frames, comparing pointed-to data by content and ACK frames
 * by their ranges (so either ACK form compares with the other). STREAM frames compare
 * fin/has_len/offset rather than the raw type bits (an OFF bit with offset 0 is equal to no
 * OFF bit). PADDING compares counts. For tests, fuzzing and debugging. */
bool rq_frame_equal(const rq_frame *a, const rq_frame *b);

#endif
