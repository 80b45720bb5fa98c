/* Frame objects for qlog packet events (draft-ietf-quic-qlog-quic-events-12, "QUIC Frames"). */
#include "core/qlog_frames.h"

#include <string.h>

/* ---- error codes ---- */

/* RFC 9000 §20.1 codes 0x00..0x10 by their $TransportError names. */
static const char *const transport_error_names[] = {
    "no_error",
    "internal_error",
    "connection_refused",
    "flow_control_error",
    "stream_limit_error",
    "stream_state_error",
    "final_size_error",
    "frame_encoding_error",
    "transport_parameter_error",
    "connection_id_limit_error",
    "protocol_violation",
    "invalid_token",
    "application_error",
    "crypto_buffer_exceeded",
    "key_update_error",
    "aead_limit_reached",
    "no_viable_path",
};

void rq_qlog_write_error(rq_json *j, const char *key, bool application, uint64_t code)
{
    size_t known = sizeof transport_error_names / sizeof transport_error_names[0];
    rq_json_key(j, key);
    if (!application && code < known) {
        rq_json_cstr(j, transport_error_names[code]);
        return;
    }
    if (!application && code >= 0x100 && code <= 0x1ff) {
        /* CryptoError: "crypto_error_0x1" followed by the alert in two lowercase hex digits */
        static const char hex[] = "0123456789abcdef";
        char name[] = "crypto_error_0x1__";
        name[16] = hex[(code >> 4) & 15];
        name[17] = hex[code & 15];
        rq_json_cstr(j, name);
        return;
    }
    /* The draft's application errors are defined by the application protocol; this layer
     * knows none, so every one is "unknown" with its number, like unassigned transport codes. */
    rq_json_cstr(j, "unknown");
    rq_json_key(j, "error_code");
    rq_json_u64(j, code);
}

void rq_qlog_write_reason(rq_json *j, const uint8_t *reason, size_t len, size_t reason_max)
{
    bool lossy = false;
    if (len > reason_max)
        len = reason_max;
    rq_json_key(j, "reason");
    rq_json_str(j, reason, len, &lossy);
    if (lossy) {
        rq_json_key(j, "reason_bytes");
        rq_json_hex(j, reason, len);
    }
}

/* ---- helpers for frame objects ---- */

static void begin_frame(rq_json *j, const char *frame_type)
{
    rq_json_obj_begin(j);
    rq_json_key(j, "frame_type");
    rq_json_cstr(j, frame_type);
}

static void field_u64(rq_json *j, const char *key, uint64_t v)
{
    rq_json_key(j, key);
    rq_json_u64(j, v);
}

/* raw: {"length": n} — the draft's place for a frame's on-the-wire Length field (STREAM,
 * CRYPTO) and for the byte count of payloads that are not logged. */
static void raw_length(rq_json *j, uint64_t n)
{
    rq_json_key(j, "raw");
    rq_json_obj_begin(j);
    field_u64(j, "length", n);
    rq_json_obj_end(j);
}

static void stream_type(rq_json *j, bool bidi)
{
    rq_json_key(j, "stream_type");
    rq_json_cstr(j, bidi ? "bidirectional" : "unidirectional");
}

/* The frame type names that CONNECTION_CLOSE's trigger_frame_type reports for known types. */
static const char *frame_type_name(uint64_t type)
{
    static const char *const names[] = {
        "padding",
        "ping",
        "ack",
        "ack",
        "reset_stream",
        "stop_sending",
        "crypto",
        "new_token",
        "stream",
        "stream",
        "stream",
        "stream",
        "stream",
        "stream",
        "stream",
        "stream",
        "max_data",
        "max_stream_data",
        "max_streams",
        "max_streams",
        "data_blocked",
        "stream_data_blocked",
        "streams_blocked",
        "streams_blocked",
        "new_connection_id",
        "retire_connection_id",
        "path_challenge",
        "path_response",
        "connection_close",
        "connection_close",
        "handshake_done",
    };
    if (type < sizeof names / sizeof names[0])
        return names[type];
    if (type == RQ_FT_DATAGRAM || type == RQ_FT_DATAGRAM_LEN)
        return "datagram";
    return NULL;
}

/* ---- one writer per frame kind ---- */

/* ack_delay on the wire is in units of 2^exponent microseconds (RFC 9000 §19.3); the draft logs
 * milliseconds. Saturates instead of overflowing for absurd peer values. */
static void ack_delay_ms(rq_json *j, uint64_t encoded, unsigned exponent)
{
    uint64_t us =
        encoded > (UINT64_MAX >> exponent) / 1000 ? UINT64_MAX / 1000 : encoded << exponent;
    rq_json_key(j, "ack_delay");
    rq_json_ms(j, us * 1000, 3);
}

static void write_ack(rq_json *j, const rq_frame *f, unsigned exponent)
{
    const rq_frame_ack *a = &f->ack;
    begin_frame(j, "ack");
    ack_delay_ms(j, a->ack_delay, exponent);
    rq_json_key(j, "acked_ranges");
    rq_json_arr_begin(j);
    rq_ack_iter it;
    rq_ack_range r;
    rq_ack_iter_init(&it, a);
    /* descending order, as on the wire; the draft allows any order. [n] for a single packet, as
     * the draft recommends over [n, n]. */
    while (!j->overflow && rq_ack_iter_next(&it, &r)) {
        rq_json_arr_begin(j);
        rq_json_u64(j, r.smallest);
        if (r.largest != r.smallest)
            rq_json_u64(j, r.largest);
        rq_json_arr_end(j);
    }
    rq_json_arr_end(j);
    if (f->type == RQ_FT_ACK_ECN) {
        field_u64(j, "ect1", a->ect1);
        field_u64(j, "ect0", a->ect0);
        field_u64(j, "ce", a->ecn_ce);
    }
}

static void write_close(rq_json *j, const rq_frame *f, size_t reason_max)
{
    bool app = f->type == RQ_FT_CONNECTION_CLOSE_APP;
    begin_frame(j, "connection_close");
    rq_json_key(j, "error_space");
    rq_json_cstr(j, app ? "application" : "transport");
    rq_qlog_write_error(j, "error", app, f->close.error_code);
    if (f->close.reason_len > 0)
        rq_qlog_write_reason(j, f->close.reason, f->close.reason_len, reason_max);
    /* RFC 9000 §19.19: frame type 0 means "unknown", so nothing is logged for it. */
    if (!app && f->close.frame_type != 0) {
        const char *name = frame_type_name(f->close.frame_type);
        rq_json_key(j, "trigger_frame_type");
        if (name)
            rq_json_cstr(j, name);
        else
            rq_json_u64(j, f->close.frame_type);
    }
}

static void write_new_cid(rq_json *j, const rq_frame *f)
{
    begin_frame(j, "new_connection_id");
    field_u64(j, "sequence_number", f->new_cid.seq);
    field_u64(j, "retire_prior_to", f->new_cid.retire_prior_to);
    field_u64(j, "connection_id_length", f->new_cid.cid.len);
    rq_json_key(j, "connection_id");
    rq_json_hex(j, f->new_cid.cid.data, f->new_cid.cid.len);
    rq_json_key(j, "stateless_reset_token");
    rq_json_hex(j, f->new_cid.reset_token, RQ_RESET_TOKEN_LEN);
}

static void write_stream(rq_json *j, const rq_frame *f)
{
    begin_frame(j, "stream");
    field_u64(j, "stream_id", f->stream.stream_id);
    field_u64(j, "offset", f->stream.offset);
    if (f->stream.fin) {
        rq_json_key(j, "fin");
        rq_json_bool(j, true);
    }
    raw_length(j, f->stream.length);
}

static void write_app_error_frame(rq_json *j, const char *name, uint64_t stream_id,
                                  uint64_t app_error)
{
    begin_frame(j, name);
    field_u64(j, "stream_id", stream_id);
    rq_qlog_write_error(j, "error", true, app_error);
}

/* Frames whose fields are one or two integers, and the ones without fields. */
static bool write_simple(rq_json *j, const rq_frame *f)
{
    switch (f->type) {
    case RQ_FT_PING:
        begin_frame(j, "ping");
        return true;
    case RQ_FT_HANDSHAKE_DONE:
        begin_frame(j, "handshake_done");
        return true;
    case RQ_FT_MAX_DATA:
        begin_frame(j, "max_data");
        field_u64(j, "maximum", f->max_data.max);
        return true;
    case RQ_FT_MAX_STREAM_DATA:
        begin_frame(j, "max_stream_data");
        field_u64(j, "stream_id", f->max_stream_data.stream_id);
        field_u64(j, "maximum", f->max_stream_data.max);
        return true;
    case RQ_FT_MAX_STREAMS_BIDI:
    case RQ_FT_MAX_STREAMS_UNI:
        begin_frame(j, "max_streams");
        stream_type(j, f->type == RQ_FT_MAX_STREAMS_BIDI);
        field_u64(j, "maximum", f->max_streams.max);
        return true;
    case RQ_FT_DATA_BLOCKED:
        begin_frame(j, "data_blocked");
        field_u64(j, "limit", f->data_blocked.limit);
        return true;
    case RQ_FT_STREAM_DATA_BLOCKED:
        begin_frame(j, "stream_data_blocked");
        field_u64(j, "stream_id", f->stream_data_blocked.stream_id);
        field_u64(j, "limit", f->stream_data_blocked.limit);
        return true;
    case RQ_FT_STREAMS_BLOCKED_BIDI:
    case RQ_FT_STREAMS_BLOCKED_UNI:
        begin_frame(j, "streams_blocked");
        stream_type(j, f->type == RQ_FT_STREAMS_BLOCKED_BIDI);
        field_u64(j, "limit", f->streams_blocked.limit);
        return true;
    case RQ_FT_RETIRE_CONNECTION_ID:
        begin_frame(j, "retire_connection_id");
        field_u64(j, "sequence_number", f->retire_cid.seq);
        return true;
    default:
        return false;
    }
}

/* Frames that carry bytes: lengths only, except the 8 bytes of PATH_CHALLENGE/RESPONSE, which
 * are what a reader matches challenges and responses by. */
static bool write_with_data(rq_json *j, const rq_frame *f)
{
    switch (f->type) {
    case RQ_FT_PADDING:
        /* one object for the whole run, its size in raw.payload_length as the draft asks
         * (and in raw.length: a PADDING run has no header) */
        begin_frame(j, "padding");
        rq_json_key(j, "raw");
        rq_json_obj_begin(j);
        field_u64(j, "length", f->padding.count);
        field_u64(j, "payload_length", f->padding.count);
        rq_json_obj_end(j);
        return true;
    case RQ_FT_CRYPTO:
        begin_frame(j, "crypto");
        field_u64(j, "offset", f->crypto.offset);
        raw_length(j, f->crypto.length);
        return true;
    case RQ_FT_NEW_TOKEN:
        begin_frame(j, "new_token");
        rq_json_key(j, "token");
        rq_json_obj_begin(j);
        rq_json_key(j, "type");
        rq_json_cstr(j, "resumption"); /* NEW_TOKEN tokens are for future connections */
        raw_length(j, f->new_token.length);
        rq_json_obj_end(j);
        return true;
    case RQ_FT_PATH_CHALLENGE:
    case RQ_FT_PATH_RESPONSE:
        begin_frame(j, f->type == RQ_FT_PATH_CHALLENGE ? "path_challenge" : "path_response");
        rq_json_key(j, "data");
        rq_json_hex(j, f->path.data, RQ_PATH_DATA_LEN);
        return true;
    default:
        return false;
    }
}

void rq_qlog_write_frame(rq_json *j, const rq_frame *f, unsigned ack_delay_exponent,
                         size_t reason_max)
{
    if (write_simple(j, f) || write_with_data(j, f)) {
        rq_json_obj_end(j);
        return;
    }
    if (rq_ft_is_stream(f->type))
        write_stream(j, f);
    else if (f->type == RQ_FT_ACK || f->type == RQ_FT_ACK_ECN)
        write_ack(j, f, ack_delay_exponent > 20 ? 20 : ack_delay_exponent);
    else if (f->type == RQ_FT_RESET_STREAM) {
        write_app_error_frame(j, "reset_stream", f->reset_stream.stream_id,
                              f->reset_stream.app_error);
        field_u64(j, "final_size", f->reset_stream.final_size);
    } else if (f->type == RQ_FT_STOP_SENDING)
        write_app_error_frame(j, "stop_sending", f->stop_sending.stream_id,
                              f->stop_sending.app_error);
    else if (f->type == RQ_FT_NEW_CONNECTION_ID)
        write_new_cid(j, f);
    else if (f->type == RQ_FT_CONNECTION_CLOSE || f->type == RQ_FT_CONNECTION_CLOSE_APP)
        write_close(j, f, reason_max);
    else if (f->type == RQ_FT_DATAGRAM || f->type == RQ_FT_DATAGRAM_LEN)
        begin_frame(j, "datagram"); /* RFC 9221 is not implemented: no fields decoded */
    else {
        begin_frame(j, "unknown");
        field_u64(j, "frame_type_bytes", f->type);
    }
    rq_json_obj_end(j);
}

size_t rq_qlog_write_frames(rq_json *j, const rq_frame *frames, size_t n,
                            unsigned ack_delay_exponent, size_t reason_max, size_t reserve)
{
    rq_json_key(j, "frames");
    rq_json_arr_begin(j);
    size_t i = 0;
    for (; i < n; i++) {
        /* A struct copy is a complete mark: rolling back to it forgets the frame entirely. */
        rq_json mark = *j;
        rq_qlog_write_frame(j, &frames[i], ack_delay_exponent, reason_max);
        if (j->overflow || j->cap - j->len < reserve) {
            *j = mark;
            break;
        }
    }
    rq_json_arr_end(j);
    return n - i;
}
