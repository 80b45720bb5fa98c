/* Checks qlog JSON-SEQ records against the pinned drafts' definitions
 * (draft-ietf-quic-qlog-main-schema-13, draft-ietf-quic-qlog-quic-events-12): framing, the file
 * header, the event envelope, each event's data fields with their JSON types, enum values, and
 * every frame object. Unknown fields are errors here (the drafts let tools ignore them, but a
 * field this checker does not know is most likely a misspelling in our writer); the custom
 * fields roamquic adds on purpose are listed explicitly. Header-only, for tests.
 *
 *   qc_state st = {0};
 *   if (!qc_record(&st, rec, len, is_first)) fail(st.err);
 */
#ifndef RQ_TESTS_QLOG_CHECK_H
#define RQ_TESTS_QLOG_CHECK_H

#include "qlog_json.h"

typedef struct qc_field {
    const char *key;
    char type; /* u uint, n number >= 0, s string, h hexstring, b bool, o object, a array,
                  x uint or string */
    bool required;
} qc_field;

typedef struct qc_state {
    char err[512];
    double last_time;
    int records;
    const char *vantage;       /* expected vantage_point.type, or NULL */
    const char *group_id;      /* expected group_id, or NULL */
    unsigned frame_types_seen; /* bit i: qc_frame_specs[i].name seen */
} qc_state;

#define QC_END         \
    {                  \
        NULL, 0, false \
    }

/* Records a failure: what went wrong, then up to two details (where, which field). */
static inline bool qc_fail(qc_state *st, const char *what, const char *a, const char *b)
{
    snprintf(st->err, sizeof st->err, "%s [%s] [%s]", what, a ? a : "", b ? b : "");
    return false;
}

static inline bool qc_is_hex(const qj_node *x)
{
    if (x->type != QJ_STR || x->str_len % 2)
        return false;
    for (size_t i = 0; i < x->str_len; i++)
        if (!((x->str[i] >= '0' && x->str[i] <= '9') || (x->str[i] >= 'a' && x->str[i] <= 'f')))
            return false;
    return true;
}

static inline bool qc_type_ok(const qj_node *x, char t)
{
    switch (t) {
    case 'u':
        return x->type == QJ_NUM && x->is_uint;
    case 'n':
        return x->type == QJ_NUM && x->num >= 0;
    case 's':
        return x->type == QJ_STR;
    case 'h':
        return qc_is_hex(x);
    case 'b':
        return x->type == QJ_BOOL;
    case 'o':
        return x->type == QJ_OBJ;
    case 'a':
        return x->type == QJ_ARR;
    case 'x':
        return x->type == QJ_STR || (x->type == QJ_NUM && x->is_uint);
    }
    return false;
}

/* Every member of obj is in spec with the right type, and every required one is present. */
static inline bool qc_fields(qc_state *st, const qj_doc *d, int obj, const qc_field *spec,
                             const char *where)
{
    if (obj < 0 || d->n[obj].type != QJ_OBJ)
        return qc_fail(st, "not an object", where, NULL);
    for (int c = d->n[obj].first; c >= 0; c = d->n[c].next) {
        const qc_field *f = spec;
        while (f->key && strcmp(f->key, d->n[c].key) != 0)
            f++;
        if (!f->key)
            return qc_fail(st, "unexpected field", where, d->n[c].key);
        if (!qc_type_ok(&d->n[c], f->type))
            return qc_fail(st, "field has the wrong JSON type", where, f->key);
    }
    for (const qc_field *f = spec; f->key; f++)
        if (f->required && qj_get(d, obj, f->key) < 0)
            return qc_fail(st, "required field missing", where, f->key);
    return true;
}

/* A string member, if present, is one of the NULL-terminated values. */
static inline bool qc_enum(qc_state *st, const qj_doc *d, int obj, const char *key,
                           const char *const *values)
{
    int x = qj_get(d, obj, key);
    if (x < 0)
        return true;
    for (const char *const *v = values; *v; v++)
        if (qj_str_is(d, x, *v))
            return true;
    return qc_fail(st, "value the draft does not define for field", key, d->n[x].str);
}

static const qc_field qc_raw_spec[] = {
    {"length", 'u', false}, {"payload_length", 'u', false}, {"data", 'h', false}, QC_END};

static inline bool qc_raw(qc_state *st, const qj_doc *d, int obj, const char *where)
{
    int raw = qj_get(d, obj, "raw");
    return raw < 0 || qc_fields(st, d, raw, qc_raw_spec, where);
}

/* $TransportError, CryptoError ("crypto_error_0x1XX") or "unknown" with error_code. */
static inline bool qc_error(qc_state *st, const qj_doc *d, int obj, const char *key, bool app)
{
    static const char *const transport[] = {"no_error",
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
                                            NULL};
    int x = qj_get(d, obj, key);
    if (x < 0)
        return true;
    const qj_node *e = &d->n[x];
    if (qj_str_is(d, x, "unknown")) {
        if (qj_get(d, obj, "error_code") < 0)
            return qc_fail(st, "\"unknown\" error without error_code", key, NULL);
        return true;
    }
    if (app)
        return qc_fail(st, "application errors must be \"unknown\" here", key, e->str);
    if (e->str_len == 18 && strncmp(e->str, "crypto_error_0x1", 16) == 0 &&
        qc_is_hex(&(qj_node){.type = QJ_STR, .str = e->str + 16, .str_len = 2}))
        return true;
    return qc_enum(st, d, obj, key, transport);
}

/* ---- frames (quic-events "QUIC Frames") ---- */

typedef struct qc_frame_spec {
    const char *name;
    qc_field f[9];
} qc_frame_spec;

static const qc_frame_spec qc_frame_specs[] = {
    {"padding", {{"frame_type", 's', true}, {"raw", 'o', false}, QC_END}},
    {"ping", {{"frame_type", 's', true}, {"raw", 'o', false}, QC_END}},
    {"ack",
     {{"frame_type", 's', true},
      {"ack_delay", 'n', false},
      {"acked_ranges", 'a', false},
      {"ect1", 'u', false},
      {"ect0", 'u', false},
      {"ce", 'u', false},
      {"raw", 'o', false},
      QC_END}},
    {"reset_stream",
     {{"frame_type", 's', true},
      {"stream_id", 'u', true},
      {"error", 's', true},
      {"error_code", 'u', false},
      {"final_size", 'u', true},
      {"raw", 'o', false},
      QC_END}},
    {"stop_sending",
     {{"frame_type", 's', true},
      {"stream_id", 'u', true},
      {"error", 's', true},
      {"error_code", 'u', false},
      {"raw", 'o', false},
      QC_END}},
    {"crypto", {{"frame_type", 's', true}, {"offset", 'u', true}, {"raw", 'o', true}, QC_END}},
    {"new_token", {{"frame_type", 's', true}, {"token", 'o', true}, {"raw", 'o', false}, QC_END}},
    {"stream",
     {{"frame_type", 's', true},
      {"stream_id", 'u', true},
      {"offset", 'u', false},
      {"fin", 'b', false},
      {"raw", 'o', false},
      QC_END}},
    {"max_data", {{"frame_type", 's', true}, {"maximum", 'u', true}, {"raw", 'o', false}, QC_END}},
    {"max_stream_data",
     {{"frame_type", 's', true},
      {"stream_id", 'u', true},
      {"maximum", 'u', true},
      {"raw", 'o', false},
      QC_END}},
    {"max_streams",
     {{"frame_type", 's', true},
      {"stream_type", 's', true},
      {"maximum", 'u', true},
      {"raw", 'o', false},
      QC_END}},
    {"data_blocked",
     {{"frame_type", 's', true}, {"limit", 'u', true}, {"raw", 'o', false}, QC_END}},
    {"stream_data_blocked",
     {{"frame_type", 's', true},
      {"stream_id", 'u', true},
      {"limit", 'u', true},
      {"raw", 'o', false},
      QC_END}},
    {"streams_blocked",
     {{"frame_type", 's', true},
      {"stream_type", 's', true},
      {"limit", 'u', true},
      {"raw", 'o', false},
      QC_END}},
    {"new_connection_id",
     {{"frame_type", 's', true},
      {"sequence_number", 'u', true},
      {"retire_prior_to", 'u', true},
      {"connection_id_length", 'u', false},
      {"connection_id", 'h', true},
      {"stateless_reset_token", 'h', false},
      {"raw", 'o', false},
      QC_END}},
    {"retire_connection_id",
     {{"frame_type", 's', true}, {"sequence_number", 'u', true}, {"raw", 'o', false}, QC_END}},
    {"path_challenge",
     {{"frame_type", 's', true}, {"data", 'h', false}, {"raw", 'o', false}, QC_END}},
    {"path_response",
     {{"frame_type", 's', true}, {"data", 'h', false}, {"raw", 'o', false}, QC_END}},
    {"connection_close",
     {{"frame_type", 's', true},
      {"error_space", 's', false},
      {"error", 's', false},
      {"error_code", 'u', false},
      {"reason", 's', false},
      {"reason_bytes", 'h', false},
      {"trigger_frame_type", 'x', false},
      {"raw", 'o', false},
      QC_END}},
    {"handshake_done", {{"frame_type", 's', true}, {"raw", 'o', false}, QC_END}},
    {"unknown",
     {{"frame_type", 's', true}, {"frame_type_bytes", 'u', true}, {"raw", 'o', false}, QC_END}},
    {"datagram", {{"frame_type", 's', true}, {"raw", 'o', false}, QC_END}},
};
#define QC_FRAME_SPEC_COUNT ((int)(sizeof qc_frame_specs / sizeof qc_frame_specs[0]))

static inline bool qc_ack_ranges(qc_state *st, const qj_doc *d, int fr)
{
    int ranges = qj_get(d, fr, "acked_ranges");
    for (int r = ranges < 0 ? -1 : d->n[ranges].first; r >= 0; r = d->n[r].next) {
        const qj_node *x = &d->n[r];
        int a = qj_at(d, r, 0), b = qj_at(d, r, 1);
        if (x->type != QJ_ARR || x->count < 1 || x->count > 2 || !d->n[a].is_uint ||
            (b >= 0 && (!d->n[b].is_uint || d->n[b].u < d->n[a].u)))
            return qc_fail(st, "ack: malformed AckRange", NULL, NULL);
    }
    return true;
}

static inline bool qc_frame(qc_state *st, const qj_doc *d, int fr)
{
    static const char *const stream_types[] = {"unidirectional", "bidirectional", NULL};
    static const char *const spaces[] = {"transport", "application", NULL};
    static const qc_field token_spec[] = {
        {"type", 's', false}, {"details", 'o', false}, {"raw", 'o', false}, QC_END};
    static const char *const token_types[] = {"retry", "resumption", NULL};
    int ft = qj_get(d, fr, "frame_type");
    int i = 0;
    while (i < QC_FRAME_SPEC_COUNT && !qj_str_is(d, ft, qc_frame_specs[i].name))
        i++;
    if (i == QC_FRAME_SPEC_COUNT)
        return qc_fail(st, "frame with an unknown or missing frame_type", NULL, NULL);
    const char *name = qc_frame_specs[i].name;
    st->frame_types_seen |= 1u << i;
    if (!qc_fields(st, d, fr, qc_frame_specs[i].f, name) || !qc_raw(st, d, fr, name) ||
        !qc_enum(st, d, fr, "stream_type", stream_types) ||
        !qc_enum(st, d, fr, "error_space", spaces))
        return false;
    if (!strcmp(name, "ack"))
        return qc_ack_ranges(st, d, fr);
    if (!strcmp(name, "reset_stream") || !strcmp(name, "stop_sending"))
        return qc_error(st, d, fr, "error", true);
    if (!strcmp(name, "connection_close"))
        return qc_error(st, d, fr, "error",
                        qj_str_is(d, qj_get(d, fr, "error_space"), "application"));
    if (!strcmp(name, "new_token")) {
        int tok = qj_get(d, fr, "token");
        return qc_fields(st, d, tok, token_spec, "token") && qc_raw(st, d, tok, "token") &&
               qc_enum(st, d, tok, "type", token_types);
    }
    if (!strcmp(name, "path_challenge") || !strcmp(name, "path_response")) {
        int data = qj_get(d, fr, "data");
        if (data >= 0 && d->n[data].str_len != 16)
            return qc_fail(st, "data is not 64 bits", name, NULL);
    }
    return true;
}

#include "qlog_check_events.h"

#endif
