/* qlog records (see qlog.h): the file header and the event envelope here, the QUIC-specific
 * event data below them, frames in qlog_frames.c. */
#include "core/qlog.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/qlog_frames.h"

#define RS 0x1e /* RFC 7464 record separator */

/* Room kept free while frames are written, for the event fields after them and the closing
 * braces; generous because it only decides when to start dropping frames. */
#define FRAMES_RESERVE 512
/* Version Negotiation packets list at most this many versions in a record. */
#define MAX_LOGGED_VERSIONS 64

struct rq_qlog {
    rq_qlog_sink_fn sink;
    void *sink_ctx;
    rq_time reference;
    rq_time last; /* time of the last event emitted, for the monotonicity check */
    uint8_t ack_exp_local, ack_exp_peer;
    char buf[RQ_QLOG_RECORD_MAX];
};

/* ---- records ---- */

/* Starts a record: the separator goes in buf[0], JSON after it, and one byte stays free for
 * the closing newline. */
static void record_begin(rq_qlog *q, rq_json *j)
{
    q->buf[0] = RS;
    rq_json_init(j, q->buf + 1, sizeof q->buf - 2);
}

/* Closes the record, hands it to the sink and returns the sink's result. */
static int record_emit(rq_qlog *q, rq_json *j)
{
    if (j->overflow || j->depth != 0)
        return RQ_ERR_BUFFER_TOO_SMALL;
    size_t len = 1 + j->len;
    q->buf[len++] = '\n';
    return q->sink(q->sink_ctx, (const uint8_t *)q->buf, len);
}

static void write_header(rq_json *j, rq_role vantage, const rq_cid *odcid)
{
    rq_json_obj_begin(j);
    /* file_schema and serialization_format first: the draft wants them in the first 256 bytes */
    rq_json_key(j, "file_schema");
    rq_json_cstr(j, RQ_QLOG_FILE_SCHEMA);
    rq_json_key(j, "serialization_format");
    rq_json_cstr(j, RQ_QLOG_SERIALIZATION);
    rq_json_key(j, "title");
    rq_json_cstr(j, "roamquic");
    rq_json_key(j, "trace");
    rq_json_obj_begin(j);
    rq_json_key(j, "vantage_point");
    rq_json_obj_begin(j);
    rq_json_key(j, "name");
    rq_json_cstr(j, "roamquic");
    rq_json_key(j, "type");
    rq_json_cstr(j, vantage == RQ_ROLE_SERVER ? "server" : "client");
    rq_json_obj_end(j);
    rq_json_key(j, "event_schemas");
    rq_json_arr_begin(j);
    rq_json_cstr(j, RQ_QLOG_EVENT_SCHEMA);
    rq_json_arr_end(j);
    rq_json_key(j, "common_fields");
    rq_json_obj_begin(j);
    /* quic-events "Use of group IDs": the ODCID is the one ID stable for the whole connection */
    rq_json_key(j, "group_id");
    rq_json_hex(j, odcid->data, odcid->len);
    rq_json_key(j, "time_format");
    rq_json_cstr(j, "relative_to_epoch");
    /* rq_time comes from a monotonic clock of the application's choosing; its epoch is the
     * reference_time given at creation, which has no calendar meaning: "unknown". */
    rq_json_key(j, "reference_time");
    rq_json_obj_begin(j);
    rq_json_key(j, "clock_type");
    rq_json_cstr(j, "monotonic");
    rq_json_key(j, "epoch");
    rq_json_cstr(j, "unknown");
    rq_json_obj_end(j);
    rq_json_obj_end(j); /* common_fields */
    rq_json_obj_end(j); /* trace */
    rq_json_obj_end(j);
}

int rq_qlog_new(rq_qlog **out, rq_qlog_sink_fn sink, void *sink_ctx, rq_role vantage,
                const rq_cid *odcid, rq_time reference_time)
{
    if (!out)
        return RQ_ERR_INVALID_ARG;
    *out = NULL;
    if (!sink || !odcid || odcid->len > RQ_MAX_CID_LEN ||
        (vantage != RQ_ROLE_CLIENT && vantage != RQ_ROLE_SERVER))
        return RQ_ERR_INVALID_ARG;
    rq_qlog *q = rq_mem_alloc(sizeof *q);
    if (!q)
        return RQ_ERR_NOMEM;
    q->sink = sink;
    q->sink_ctx = sink_ctx;
    q->reference = reference_time;
    q->last = reference_time;
    q->ack_exp_local = q->ack_exp_peer = 3; /* RFC 9000 §18.2 default */
    rq_json j;
    record_begin(q, &j);
    write_header(&j, vantage, odcid);
    int rc = record_emit(q, &j);
    if (rc < 0) {
        rq_mem_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void rq_qlog_free(rq_qlog *q)
{
    rq_mem_free(q);
}

int rq_qlog_set_ack_delay_exponents(rq_qlog *q, uint8_t local, uint8_t peer)
{
    if (!q)
        return 0;
    if (local > 20 || peer > 20)
        return RQ_ERR_INVALID_ARG;
    q->ack_exp_local = local;
    q->ack_exp_peer = peer;
    return 0;
}

/* The TupleID of a path: "" (the draft's default, the handshake path) for path 0. */
static void write_tuple_id(rq_json *j, uint32_t path_id)
{
    char s[11];
    int n = path_id == 0 ? 0 : snprintf(s, sizeof s, "%lu", (unsigned long)path_id);
    rq_json_str(j, (const uint8_t *)s, (size_t)n, NULL);
}

/* Opens an event record up to the start of its data object, after checking its time.
 * `type` is the event type without the "quic:" namespace. */
static int event_begin(rq_qlog *q, rq_json *j, rq_time now, uint32_t path_id, const char *type)
{
    if (now < q->last)
        return RQ_ERR_INVALID_ARG; /* events are logged in time order (main-schema) */
    char name[48];
    snprintf(name, sizeof name, "quic:%s", type);
    record_begin(q, j);
    rq_json_obj_begin(j);
    rq_json_key(j, "time");
    rq_json_ms(j, now - q->reference, 6);
    rq_json_key(j, "name");
    rq_json_cstr(j, name);
    if (path_id != 0) {
        rq_json_key(j, "tuple");
        write_tuple_id(j, path_id);
    }
    rq_json_key(j, "data");
    rq_json_obj_begin(j);
    return 0;
}

/* Closes the data object and the event, emits it, and advances the log's clock. */
static int event_end(rq_qlog *q, rq_json *j, rq_time now)
{
    rq_json_obj_end(j);
    rq_json_obj_end(j);
    int rc = record_emit(q, j);
    if (rc == 0)
        q->last = now;
    return rc;
}

/* ---- packets ---- */

static const char *pkt_type_name(rq_pkt_type t)
{
    switch (t) {
    case RQ_PKT_INITIAL:
        return "initial";
    case RQ_PKT_0RTT:
        return "0RTT";
    case RQ_PKT_HANDSHAKE:
        return "handshake";
    case RQ_PKT_RETRY:
        return "retry";
    case RQ_PKT_1RTT:
        return "1RTT";
    case RQ_PKT_VERSION_NEGOTIATION:
        return "version_negotiation";
    }
    return NULL;
}

static void write_version(rq_json *j, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    rq_json_hex(j, b, sizeof b);
}

static void write_cid(rq_json *j, const char *key, const rq_cid *cid)
{
    rq_json_key(j, key);
    rq_json_hex(j, cid->data, cid->len > RQ_MAX_CID_LEN ? RQ_MAX_CID_LEN : cid->len);
}

/* PacketHeader: only the fields the packet type has. */
static void write_pkt_header(rq_json *j, const rq_qlog_packet *p)
{
    bool has_pn = p->type == RQ_PKT_INITIAL || p->type == RQ_PKT_0RTT ||
                  p->type == RQ_PKT_HANDSHAKE || p->type == RQ_PKT_1RTT;
    bool is_long = p->type != RQ_PKT_1RTT;
    rq_json_key(j, "header");
    rq_json_obj_begin(j);
    rq_json_key(j, "packet_type");
    rq_json_cstr(j, pkt_type_name(p->type));
    if (has_pn) {
        rq_json_key(j, "packet_number");
        rq_json_u64(j, p->pn);
    }
    if (p->type == RQ_PKT_1RTT && p->key_phase_bit >= 0) {
        rq_json_key(j, "key_phase_bit");
        rq_json_bool(j, p->key_phase_bit != 0);
    }
    if ((p->type == RQ_PKT_INITIAL || p->type == RQ_PKT_RETRY) && p->token_len > 0) {
        rq_json_key(j, "token");
        rq_json_obj_begin(j);
        if (p->type == RQ_PKT_RETRY) {
            rq_json_key(j, "type");
            rq_json_cstr(j, "retry");
        }
        rq_json_key(j, "raw");
        rq_json_obj_begin(j);
        rq_json_key(j, "length");
        rq_json_u64(j, p->token_len);
        rq_json_obj_end(j);
        rq_json_obj_end(j);
    }
    if (is_long) {
        rq_json_key(j, "version");
        write_version(j, p->version);
        if (p->scid)
            write_cid(j, "scid", p->scid);
    }
    if (p->dcid)
        write_cid(j, "dcid", p->dcid);
    rq_json_obj_end(j);
}

static const char *pkt_trigger_name(rq_qlog_pkt_trigger t)
{
    switch (t) {
    case RQ_QLOG_PKT_RETRANSMIT_REORDERED:
        return "retransmit_reordered";
    case RQ_QLOG_PKT_RETRANSMIT_TIMEOUT:
        return "retransmit_timeout";
    case RQ_QLOG_PKT_PTO_PROBE:
        return "pto_probe";
    case RQ_QLOG_PKT_RETRANSMIT_CRYPTO:
        return "retransmit_crypto";
    case RQ_QLOG_PKT_CC_BANDWIDTH_PROBE:
        return "cc_bandwidth_probe";
    case RQ_QLOG_PKT_KEYS_AVAILABLE:
        return "keys_available";
    case RQ_QLOG_PKT_TRIGGER_NONE:
        break;
    }
    return NULL;
}

static const char *loss_trigger_name(rq_qlog_loss_trigger t)
{
    switch (t) {
    case RQ_QLOG_LOSS_REORDERING_THRESHOLD:
        return "reordering_threshold";
    case RQ_QLOG_LOSS_TIME_THRESHOLD:
        return "time_threshold";
    case RQ_QLOG_LOSS_PTO_EXPIRED:
        return "pto_expired";
    case RQ_QLOG_LOSS_TRIGGER_NONE:
        break;
    }
    return NULL;
}

enum pkt_event { PKT_SENT, PKT_RECEIVED, PKT_LOST };

/* Refuses what cannot be logged faithfully, before anything is written. */
static int check_packet(const rq_qlog_packet *p, enum pkt_event ev)
{
    if (!p || !pkt_type_name(p->type) || (!p->frames && p->frame_count > 0) ||
        (!p->supported_versions && p->supported_version_count > 0))
        return RQ_ERR_INVALID_ARG;
    if (ev == PKT_LOST)
        return p->trigger == RQ_QLOG_PKT_TRIGGER_NONE ? 0 : RQ_ERR_INVALID_ARG;
    if (p->trigger != RQ_QLOG_PKT_TRIGGER_NONE && !pkt_trigger_name(p->trigger))
        return RQ_ERR_INVALID_ARG;
    /* keys_available is the one received trigger; all others describe sending */
    if ((ev == PKT_RECEIVED) != (p->trigger == RQ_QLOG_PKT_KEYS_AVAILABLE) &&
        p->trigger != RQ_QLOG_PKT_TRIGGER_NONE)
        return RQ_ERR_INVALID_ARG;
    return 0;
}

static void write_supported_versions(rq_json *j, const rq_qlog_packet *p)
{
    size_t n = p->supported_version_count;
    size_t shown = n > MAX_LOGGED_VERSIONS ? MAX_LOGGED_VERSIONS : n;
    rq_json_key(j, "supported_versions");
    rq_json_arr_begin(j);
    for (size_t i = 0; i < shown; i++)
        write_version(j, p->supported_versions[i]);
    rq_json_arr_end(j);
    if (shown < n) {
        rq_json_key(j, "supported_versions_omitted");
        rq_json_u64(j, n - shown);
    }
}

static int packet_event(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p,
                        enum pkt_event ev, const char *trigger)
{
    static const char *const names[] = {"packet_sent", "packet_received", "packet_lost"};
    rq_json j;
    int rc = event_begin(q, &j, now, path_id, names[ev]);
    if (rc < 0)
        return rc;
    write_pkt_header(&j, p);
    if (p->frame_count > 0) {
        unsigned exp = ev == PKT_RECEIVED ? q->ack_exp_peer : q->ack_exp_local;
        size_t omitted = rq_qlog_write_frames(&j, p->frames, p->frame_count, exp,
                                              RQ_QLOG_REASON_MAX, FRAMES_RESERVE);
        if (omitted > 0) { /* a custom field (main-schema allows them) so nothing is silent */
            rq_json_key(&j, "frames_omitted");
            rq_json_u64(&j, omitted);
        }
    }
    if (p->type == RQ_PKT_VERSION_NEGOTIATION && p->supported_version_count > 0)
        write_supported_versions(&j, p);
    if (p->length > 0 && ev != PKT_LOST) {
        rq_json_key(&j, "raw");
        rq_json_obj_begin(&j);
        rq_json_key(&j, "length");
        rq_json_u64(&j, p->length);
        rq_json_obj_end(&j);
    }
    if (p->has_datagram_id && ev != PKT_LOST) {
        rq_json_key(&j, "datagram_id");
        rq_json_u64(&j, p->datagram_id);
    }
    if (p->is_mtu_probe && ev != PKT_RECEIVED) {
        rq_json_key(&j, "is_mtu_probe_packet");
        rq_json_bool(&j, true);
    }
    if (trigger) {
        rq_json_key(&j, "trigger");
        rq_json_cstr(&j, trigger);
    }
    return event_end(q, &j, now);
}

int rq_qlog_packet_sent(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p)
{
    if (!q)
        return 0;
    int rc = check_packet(p, PKT_SENT);
    if (rc < 0)
        return rc;
    return packet_event(q, now, path_id, p, PKT_SENT, pkt_trigger_name(p->trigger));
}

int rq_qlog_packet_received(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p)
{
    if (!q)
        return 0;
    int rc = check_packet(p, PKT_RECEIVED);
    if (rc < 0)
        return rc;
    return packet_event(q, now, path_id, p, PKT_RECEIVED, pkt_trigger_name(p->trigger));
}

int rq_qlog_packet_lost(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p,
                        rq_qlog_loss_trigger trigger)
{
    if (!q)
        return 0;
    int rc = check_packet(p, PKT_LOST);
    if (rc < 0)
        return rc;
    if (trigger != RQ_QLOG_LOSS_TRIGGER_NONE && !loss_trigger_name(trigger))
        return RQ_ERR_INVALID_ARG;
    return packet_event(q, now, path_id, p, PKT_LOST, loss_trigger_name(trigger));
}

/* ---- recovery ---- */

int rq_qlog_recovery_metrics(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_metrics *m)
{
    if (!q)
        return 0;
    if (!m || m->present == 0 || (m->present & ~(uint32_t)RQ_QLOG_M_ALL_))
        return RQ_ERR_INVALID_ARG;
    rq_json j;
    int rc = event_begin(q, &j, now, path_id, "recovery_metrics_updated");
    if (rc < 0)
        return rc;
    const struct {
        uint32_t bit;
        const char *key;
        uint64_t value;
        bool is_time;
    } fields[] = {
        {RQ_QLOG_M_MIN_RTT, "min_rtt", m->min_rtt, true},
        {RQ_QLOG_M_SMOOTHED_RTT, "smoothed_rtt", m->smoothed_rtt, true},
        {RQ_QLOG_M_LATEST_RTT, "latest_rtt", m->latest_rtt, true},
        {RQ_QLOG_M_RTT_VARIANCE, "rtt_variance", m->rtt_variance, true},
        {RQ_QLOG_M_PTO_COUNT, "pto_count", m->pto_count, false},
        {RQ_QLOG_M_CWND, "congestion_window", m->congestion_window, false},
        {RQ_QLOG_M_BYTES_IN_FLIGHT, "bytes_in_flight", m->bytes_in_flight, false},
        {RQ_QLOG_M_SSTHRESH, "ssthresh", m->ssthresh, false},
        {RQ_QLOG_M_PACKETS_IN_FLIGHT, "packets_in_flight", m->packets_in_flight, false},
        {RQ_QLOG_M_PACING_RATE, "pacing_rate", m->pacing_rate, false},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!(m->present & fields[i].bit))
            continue;
        rq_json_key(&j, fields[i].key);
        if (fields[i].is_time)
            rq_json_ms(&j, fields[i].value, 3); /* ms with microsecond resolution */
        else
            rq_json_u64(&j, fields[i].value);
    }
    return event_end(q, &j, now);
}

/* ---- connectivity ---- */

/* An IPAddress in its human-readable text form: dotted IPv4, or IPv6 as eight groups of four
 * hex digits (uncompressed, so the text is unambiguous without parsing rules). */
static void write_ip(rq_json *j, const rq_addr *a)
{
    char s[40];
    int n;
    if (a->family == RQ_AF_INET4)
        n = snprintf(s, sizeof s, "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
    else
        n = snprintf(
            s, sizeof s, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
            a->ip[0], a->ip[1], a->ip[2], a->ip[3], a->ip[4], a->ip[5], a->ip[6], a->ip[7],
            a->ip[8], a->ip[9], a->ip[10], a->ip[11], a->ip[12], a->ip[13], a->ip[14], a->ip[15]);
    rq_json_str(j, (const uint8_t *)s, n > 0 ? (size_t)n : 0, NULL);
}

/* TupleEndpointInfo: the address (if it has a family) and the CID used towards it. */
static void write_endpoint(rq_json *j, const char *key, const rq_addr *a, const rq_cid *cid)
{
    rq_json_key(j, key);
    rq_json_obj_begin(j);
    if (a->family == RQ_AF_INET4 || a->family == RQ_AF_INET6) {
        bool v4 = a->family == RQ_AF_INET4;
        rq_json_key(j, v4 ? "ip_v4" : "ip_v6");
        write_ip(j, a);
        rq_json_key(j, v4 ? "port_v4" : "port_v6");
        rq_json_u64(j, a->port);
    }
    if (cid) {
        rq_json_key(j, "connection_ids");
        rq_json_arr_begin(j);
        rq_json_hex(j, cid->data, cid->len > RQ_MAX_CID_LEN ? RQ_MAX_CID_LEN : cid->len);
        rq_json_arr_end(j);
    }
    rq_json_obj_end(j);
}

int rq_qlog_connection_started(rq_qlog *q, rq_time now, const rq_path_addr *addr,
                               const rq_cid *local_cid, const rq_cid *remote_cid)
{
    if (!q)
        return 0;
    if (!addr)
        return RQ_ERR_INVALID_ARG;
    rq_json j;
    int rc = event_begin(q, &j, now, 0, "connection_started");
    if (rc < 0)
        return rc;
    write_endpoint(&j, "local", &addr->local, local_cid);
    write_endpoint(&j, "remote", &addr->remote, remote_cid);
    return event_end(q, &j, now);
}

static const char *close_trigger_name(rq_qlog_close_trigger t)
{
    static const char *const names[] = {
        NULL,      "idle_timeout", "application", "error", "version_mismatch", "stateless_reset",
        "aborted", "unspecified",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

int rq_qlog_connection_closed(rq_qlog *q, rq_time now, const rq_qlog_close *c)
{
    if (!q)
        return 0;
    if (!c || (!c->reason && c->reason_len > 0) ||
        (c->trigger != RQ_QLOG_CLOSE_TRIGGER_NONE && !close_trigger_name(c->trigger)))
        return RQ_ERR_INVALID_ARG;
    rq_json j;
    int rc = event_begin(q, &j, now, 0, "connection_closed");
    if (rc < 0)
        return rc;
    rq_json_key(&j, "initiator");
    rq_json_cstr(&j, c->by_peer ? "remote" : "local");
    if (c->has_error)
        rq_qlog_write_error(&j, c->application ? "application_error" : "connection_error",
                            c->application, c->error_code);
    if (c->reason_len > 0)
        rq_qlog_write_reason(&j, c->reason, c->reason_len, RQ_QLOG_REASON_MAX);
    if (c->trigger != RQ_QLOG_CLOSE_TRIGGER_NONE) {
        rq_json_key(&j, "trigger");
        rq_json_cstr(&j, close_trigger_name(c->trigger));
    }
    return event_end(q, &j, now);
}

/* ---- paths and migration ---- */

int rq_qlog_tuple_assigned(rq_qlog *q, rq_time now, uint32_t path_id, const rq_path_addr *addr,
                           const rq_cid *local_cid, const rq_cid *remote_cid)
{
    if (!q)
        return 0;
    rq_json j;
    int rc = event_begin(q, &j, now, 0, "tuple_assigned");
    if (rc < 0)
        return rc;
    rq_json_key(&j, "tuple_id");
    write_tuple_id(&j, path_id);
    if (addr) {
        write_endpoint(&j, "tuple_remote", &addr->remote, remote_cid);
        write_endpoint(&j, "tuple_local", &addr->local, local_cid);
    }
    return event_end(q, &j, now);
}

int rq_qlog_connection_id_updated(rq_qlog *q, rq_time now, uint32_t path_id, bool local,
                                  const rq_cid *old, const rq_cid *updated)
{
    if (!q)
        return 0;
    rq_json j;
    int rc = event_begin(q, &j, now, path_id, "connection_id_updated");
    if (rc < 0)
        return rc;
    rq_json_key(&j, "owner");
    rq_json_cstr(&j, local ? "local" : "remote");
    if (old)
        write_cid(&j, "old", old);
    if (updated)
        write_cid(&j, "new", updated);
    return event_end(q, &j, now);
}

static const char *migration_state_name(rq_qlog_migration_state s)
{
    static const char *const names[] = {
        NULL,
        "probing_started",
        "probing_abandoned",
        "probing_successful",
        "migration_started",
        "migration_abandoned",
        "migration_complete",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : NULL;
}

int rq_qlog_migration_state_updated(rq_qlog *q, rq_time now, uint32_t path_id,
                                    rq_qlog_migration_state old, rq_qlog_migration_state state)
{
    if (!q)
        return 0;
    if (!migration_state_name(state) ||
        (old != RQ_QLOG_MIGRATION_NONE && !migration_state_name(old)))
        return RQ_ERR_INVALID_ARG;
    rq_json j;
    int rc = event_begin(q, &j, now, 0, "migration_state_updated");
    if (rc < 0)
        return rc;
    if (old != RQ_QLOG_MIGRATION_NONE) {
        rq_json_key(&j, "old");
        rq_json_cstr(&j, migration_state_name(old));
    }
    rq_json_key(&j, "new");
    rq_json_cstr(&j, migration_state_name(state));
    rq_json_key(&j, "tuple_id");
    write_tuple_id(&j, path_id);
    return event_end(q, &j, now);
}
