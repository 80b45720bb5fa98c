/* Part of qlog_check.h: the file header, the event envelope and each event's data. */
#ifndef RQ_TESTS_QLOG_CHECK_EVENTS_H
#define RQ_TESTS_QLOG_CHECK_EVENTS_H

#include "qlog_check.h"

static const char *const qc_packet_types[] = {
    "initial",         "handshake", "0RTT", "1RTT", "retry", "version_negotiation",
    "stateless_reset", "unknown",   NULL};

static inline bool qc_packet_header(qc_state *st, const qj_doc *d, int h)
{
    static const qc_field spec[] = {{"packet_type", 's', true},
                                    {"packet_type_bytes", 'u', false},
                                    {"spin_bit", 'b', false},
                                    {"key_phase", 'u', false},
                                    {"key_phase_bit", 'b', false},
                                    {"packet_number_length", 'u', false},
                                    {"packet_number", 'u', false},
                                    {"token", 'o', false},
                                    {"length", 'u', false},
                                    {"version", 'h', false},
                                    {"scil", 'u', false},
                                    {"dcil", 'u', false},
                                    {"scid", 'h', false},
                                    {"dcid", 'h', false},
                                    QC_END};
    if (!qc_fields(st, d, h, spec, "header") || !qc_enum(st, d, h, "packet_type", qc_packet_types))
        return false;
    int v = qj_get(d, h, "version");
    if (v >= 0 && d->n[v].str_len != 8)
        return qc_fail(st, "header: version is not 32 bits", NULL, NULL);
    return true;
}

static inline bool qc_frames(qc_state *st, const qj_doc *d, int data)
{
    int frames = qj_get(d, data, "frames");
    for (int f = frames < 0 ? -1 : d->n[frames].first; f >= 0; f = d->n[f].next)
        if (!qc_frame(st, d, f))
            return false;
    return true;
}

static inline bool qc_endpoint(qc_state *st, const qj_doc *d, int e, const char *where)
{
    static const qc_field spec[] = {{"ip_v4", 's', false},          {"port_v4", 'u', false},
                                    {"ip_v6", 's', false},          {"port_v6", 'u', false},
                                    {"connection_ids", 'a', false}, QC_END};
    if (e < 0)
        return true;
    if (!qc_fields(st, d, e, spec, where))
        return false;
    int ids = qj_get(d, e, "connection_ids");
    for (int c = ids < 0 ? -1 : d->n[ids].first; c >= 0; c = d->n[c].next)
        if (!qc_is_hex(&d->n[c]))
            return qc_fail(st, "connection_ids entry is not hex", where, NULL);
    return true;
}

static inline bool qc_packet_event(qc_state *st, const qj_doc *d, int data, const char *type)
{
    static const qc_field sent[] = {{"header", 'o', true},
                                    {"frames", 'a', false},
                                    {"stateless_reset_token", 'h', false},
                                    {"supported_versions", 'a', false},
                                    {"raw", 'o', false},
                                    {"datagram_id", 'u', false},
                                    {"is_mtu_probe_packet", 'b', false},
                                    {"trigger", 's', false},
                                    {"frames_omitted", 'u', false}, /* roamquic custom field */
                                    {"supported_versions_omitted", 'u', false},
                                    QC_END};
    static const qc_field received[] = {{"header", 'o', true},
                                        {"frames", 'a', false},
                                        {"stateless_reset_token", 'h', false},
                                        {"supported_versions", 'a', false},
                                        {"raw", 'o', false},
                                        {"datagram_id", 'u', false},
                                        {"trigger", 's', false},
                                        {"frames_omitted", 'u', false},
                                        {"supported_versions_omitted", 'u', false},
                                        QC_END};
    static const qc_field lost[] = {{"header", 'o', false},
                                    {"frames", 'a', false},
                                    {"is_mtu_probe_packet", 'b', false},
                                    {"trigger", 's', false},
                                    {"frames_omitted", 'u', false},
                                    QC_END};
    static const char *const sent_triggers[] = {
        "retransmit_reordered", "retransmit_timeout", "pto_probe",
        "retransmit_crypto",    "cc_bandwidth_probe", NULL};
    static const char *const received_triggers[] = {"keys_available", NULL};
    static const char *const lost_triggers[] = {"reordering_threshold", "time_threshold",
                                                "pto_expired", NULL};
    bool is_sent = !strcmp(type, "packet_sent"), is_lost = !strcmp(type, "packet_lost");
    const qc_field *spec = is_sent ? sent : is_lost ? lost : received;
    const char *const *triggers = is_sent   ? sent_triggers
                                  : is_lost ? lost_triggers
                                            : received_triggers;
    int h = qj_get(d, data, "header");
    return qc_fields(st, d, data, spec, type) && (h < 0 || qc_packet_header(st, d, h)) &&
           qc_frames(st, d, data) && qc_raw(st, d, data, type) &&
           qc_enum(st, d, data, "trigger", triggers);
}

static inline bool qc_event_data(qc_state *st, const qj_doc *d, int data, const char *type)
{
    static const qc_field metrics[] = {{"min_rtt", 'n', false},
                                       {"smoothed_rtt", 'n', false},
                                       {"latest_rtt", 'n', false},
                                       {"rtt_variance", 'n', false},
                                       {"pto_count", 'u', false},
                                       {"congestion_window", 'u', false},
                                       {"bytes_in_flight", 'u', false},
                                       {"ssthresh", 'u', false},
                                       {"packets_in_flight", 'u', false},
                                       {"pacing_rate", 'u', false},
                                       QC_END};
    static const qc_field started[] = {{"local", 'o', true}, {"remote", 'o', true}, QC_END};
    static const qc_field closed[] = {{"initiator", 's', false},
                                      {"connection_error", 's', false},
                                      {"application_error", 's', false},
                                      {"error_code", 'u', false},
                                      {"internal_code", 'u', false},
                                      {"reason", 's', false},
                                      {"reason_bytes", 'h', false},
                                      {"trigger", 's', false},
                                      QC_END};
    static const qc_field tuple[] = {
        {"tuple_id", 's', true}, {"tuple_remote", 'o', false}, {"tuple_local", 'o', false}, QC_END};
    static const qc_field migration[] = {{"old", 's', false},         {"new", 's', true},
                                         {"tuple_id", 's', false},    {"tuple_remote", 'o', false},
                                         {"tuple_local", 'o', false}, QC_END};
    static const char *const initiators[] = {"local", "remote", NULL};
    static const char *const close_triggers[] = {
        "idle_timeout",    "application", "error",       "version_mismatch",
        "stateless_reset", "aborted",     "unspecified", NULL};
    static const char *const mig_states[] = {"probing_started",
                                             "probing_abandoned",
                                             "probing_successful",
                                             "migration_started",
                                             "migration_abandoned",
                                             "migration_complete",
                                             NULL};
    if (!strncmp(type, "packet_", 7))
        return qc_packet_event(st, d, data, type);
    if (!strcmp(type, "recovery_metrics_updated")) {
        if (d->n[data].count == 0)
            return qc_fail(st, "recovery_metrics_updated without any metric", NULL, NULL);
        return qc_fields(st, d, data, metrics, type);
    }
    if (!strcmp(type, "connection_started"))
        return qc_fields(st, d, data, started, type) &&
               qc_endpoint(st, d, qj_get(d, data, "local"), "local") &&
               qc_endpoint(st, d, qj_get(d, data, "remote"), "remote");
    if (!strcmp(type, "connection_closed"))
        return qc_fields(st, d, data, closed, type) &&
               qc_enum(st, d, data, "initiator", initiators) &&
               qc_enum(st, d, data, "trigger", close_triggers) &&
               qc_error(st, d, data, "connection_error", false) &&
               qc_error(st, d, data, "application_error", true);
    if (!strcmp(type, "connection_id_updated")) {
        static const qc_field cid[] = {
            {"owner", 's', true}, {"old", 's', false}, {"new", 's', false}, QC_END};
        static const char *const owners[] = {"local", "remote", NULL};
        return qc_fields(st, d, data, cid, type) && qc_enum(st, d, data, "owner", owners);
    }
    if (!strcmp(type, "tuple_assigned") || !strcmp(type, "migration_state_updated")) {
        bool is_tuple = type[0] == 't';
        return qc_fields(st, d, data, is_tuple ? tuple : migration, type) &&
               qc_endpoint(st, d, qj_get(d, data, "tuple_remote"), "tuple_remote") &&
               qc_endpoint(st, d, qj_get(d, data, "tuple_local"), "tuple_local") &&
               qc_enum(st, d, data, "old", mig_states) && qc_enum(st, d, data, "new", mig_states);
    }
    return qc_fail(st, "event type not emitted by roamquic", type, NULL);
}

/* The QlogFileSeq header record (main-schema "QlogFileSeq schema", "TraceSeq"). */
static inline bool qc_header(qc_state *st, const qj_doc *d)
{
    static const qc_field file[] = {{"file_schema", 's', true}, {"serialization_format", 's', true},
                                    {"title", 's', false},      {"description", 's', false},
                                    {"trace", 'o', true},       QC_END};
    static const qc_field trace[] = {{"title", 's', false},         {"description", 's', false},
                                     {"common_fields", 'o', false}, {"vantage_point", 'o', false},
                                     {"event_schemas", 'a', true},  QC_END};
    static const qc_field vp[] = {
        {"name", 's', false}, {"type", 's', true}, {"flow", 's', false}, QC_END};
    static const qc_field common[] = {{"tuple", 's', false},
                                      {"time_format", 's', false},
                                      {"reference_time", 'o', false},
                                      {"group_id", 's', false},
                                      QC_END};
    static const qc_field ref[] = {
        {"clock_type", 's', true}, {"epoch", 's', true}, {"wall_clock_time", 's', false}, QC_END};
    int t = qj_get(d, 0, "trace"), cf = qj_get(d, t, "common_fields");
    int v = qj_get(d, t, "vantage_point"), r = qj_get(d, cf, "reference_time");
    /* vantage_point, common_fields and reference_time are optional in the draft */
    if (!qc_fields(st, d, 0, file, "file") || !qc_fields(st, d, t, trace, "trace") ||
        (v >= 0 && !qc_fields(st, d, v, vp, "vantage_point")) ||
        (cf >= 0 && !qc_fields(st, d, cf, common, "common")) ||
        (r >= 0 && !qc_fields(st, d, r, ref, "reference_time")))
        return false;
    if (!qj_str_is(d, qj_get(d, 0, "file_schema"), "urn:ietf:params:qlog:file:sequential") ||
        !qj_str_is(d, qj_get(d, 0, "serialization_format"), "application/qlog+json-seq"))
        return qc_fail(st, "header: wrong file_schema or serialization_format", NULL, NULL);
    if (!qj_str_is(d, qj_at(d, qj_get(d, t, "event_schemas"), 0),
                   "urn:ietf:params:qlog:events:quic-12"))
        return qc_fail(st, "header: event_schemas does not name quic-12", NULL, NULL);
    if (st->vantage && !qj_str_is(d, qj_get(d, v, "type"), st->vantage))
        return qc_fail(st, "header: vantage_point.type is not", st->vantage, NULL);
    if (st->group_id && !qj_str_is(d, qj_get(d, cf, "group_id"), st->group_id))
        return qc_fail(st, "header: group_id is not", st->group_id, NULL);
    if (!qj_str_is(d, qj_get(d, cf, "time_format"), "relative_to_epoch") ||
        !qj_str_is(d, qj_get(d, r, "clock_type"), "monotonic") ||
        !qj_str_is(d, qj_get(d, r, "epoch"), "unknown"))
        return qc_fail(st, "header: unexpected time format or reference", NULL, NULL);
    return true;
}

/* An event record: time (ms, never decreasing), name "quic:<type>", data, optional tuple. */
static inline bool qc_event(qc_state *st, const qj_doc *d)
{
    static const qc_field ev[] = {{"time", 'n', true},
                                  {"name", 's', true},
                                  {"data", 'o', true},
                                  {"tuple", 's', false},
                                  QC_END};
    if (!qc_fields(st, d, 0, ev, "event"))
        return false;
    const qj_node *time = &d->n[qj_get(d, 0, "time")];
    const qj_node *name = &d->n[qj_get(d, 0, "name")];
    if (time->num < st->last_time)
        return qc_fail(st, "event time goes backwards", NULL, NULL);
    st->last_time = time->num;
    if (strncmp(name->str, "quic:", 5) != 0)
        return qc_fail(st, "event name not in the quic namespace", name->str, NULL);
    return qc_event_data(st, d, qj_get(d, 0, "data"), name->str + 5);
}

/* One sink call: framed as RFC 7464 (RS first, LF last, no other RS), one JSON text, and the
 * header (first record) or an event (the others). */
static inline bool qc_record(qc_state *st, const uint8_t *rec, size_t len)
{
    if (len < 3 || rec[0] != 0x1e || rec[len - 1] != '\n')
        return qc_fail(st, "record is not framed as RS ... LF", NULL, NULL);
    if (memchr(rec + 1, 0x1e, len - 1))
        return qc_fail(st, "more than one record in one sink call", NULL, NULL);
    qj_doc d;
    if (qj_parse(&d, (const char *)rec + 1, len - 1) != 0)
        return qc_fail(st, "record is not JSON:", d.err, NULL);
    bool ok = d.n[0].type == QJ_OBJ && (st->records == 0 ? qc_header(st, &d) : qc_event(st, &d));
    if (d.n[0].type != QJ_OBJ)
        qc_fail(st, "record is not a JSON object", NULL, NULL);
    st->records++;
    qj_free(&d);
    return ok;
}

#endif
