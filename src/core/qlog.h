/* qlog: structured event logs of one connection, serialized as JSON Text Sequences.
 *
 * Pinned drafts (docs/QLOG.md says why):
 *   draft-ietf-quic-qlog-main-schema-13   file schema urn:ietf:params:qlog:file:sequential,
 *                                         serialization application/qlog+json-seq (RFC 7464)
 *   draft-ietf-quic-qlog-quic-events-12   event schema urn:ietf:params:qlog:events:quic-12,
 *                                         event names "quic:<type>"
 *
 * One rq_qlog is one trace (one connection, one vantage point). Sans-I/O: the module formats
 * each record (0x1E, one JSON object, 0x0A) in a fixed per-log buffer and hands the whole record
 * to an injected sink in a single call, so a sink can write() it atomically; the application
 * (io/ or the CLI) owns the file. The first record is the file header, written by rq_qlog_new.
 *
 * Times: every event takes `now` (rq_time, the connection's monotonic clock) and is logged as
 * milliseconds since the reference_time given at creation ("time_format": "relative_to_epoch"
 * with a "monotonic" clock whose epoch is "unknown": main-schema, "Timestamps"). Times never go
 * backwards: an event older than the previous one is refused with RQ_ERR_INVALID_ARG.
 *
 * Paths: events that happen on a network path take a path_id. Path 0 (the path the handshake
 * ran on) is the draft's default tuple "" and is not written; any other path adds
 * "tuple": "<path_id>" to the event (main-schema, "Tuple"), and rq_qlog_tuple_assigned ties that
 * id to its addresses and connection IDs (quic-events, "tuple_assigned").
 *
 * NULL logger: every event function accepts q == NULL and returns 0 without doing anything,
 * so the connection calls them unconditionally. Memory: one allocation per log of
 * RQ_QLOG_RECORD_MAX bytes plus a small header; nothing per event.
 */
#ifndef RQ_CORE_QLOG_H
#define RQ_CORE_QLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/error.h>
#include <roamquic/types.h>

#include "core/cid.h"
#include "core/frame.h"
#include "core/pkt_type.h"

#define RQ_QLOG_EVENT_SCHEMA  "urn:ietf:params:qlog:events:quic-12"
#define RQ_QLOG_FILE_SCHEMA   "urn:ietf:params:qlog:file:sequential"
#define RQ_QLOG_SERIALIZATION "application/qlog+json-seq"

/* The largest record, separator and newline included. A packet whose frames do not all fit
 * logs the frames that do and says how many were left out ("frames_omitted"). */
#define RQ_QLOG_RECORD_MAX (32 * 1024)
/* CONNECTION_CLOSE reasons longer than this are logged truncated (their length is logged). */
#define RQ_QLOG_REASON_MAX 512

/* Receives one complete record: record[0] is 0x1E, record[len - 1] is '\n'. The bytes are only
 * valid during the call. Returns 0, or a negative rq_err that the event function returns. */
typedef int (*rq_qlog_sink_fn)(void *ctx, const uint8_t *record, size_t len);

typedef struct rq_qlog rq_qlog;

/* Why a packet was sent or received (the draft's "trigger" of packet_sent/packet_received). */
typedef enum rq_qlog_pkt_trigger {
    RQ_QLOG_PKT_TRIGGER_NONE = 0,
    RQ_QLOG_PKT_RETRANSMIT_REORDERED, /* sent, RFC 9002 §6.1.1 */
    RQ_QLOG_PKT_RETRANSMIT_TIMEOUT,   /* sent, RFC 9002 §6.1.2 */
    RQ_QLOG_PKT_PTO_PROBE,            /* sent, RFC 9002 §6.2.4 */
    RQ_QLOG_PKT_RETRANSMIT_CRYPTO,    /* sent, RFC 9002 §6.2.3 */
    RQ_QLOG_PKT_CC_BANDWIDTH_PROBE,   /* sent */
    RQ_QLOG_PKT_KEYS_AVAILABLE        /* received: was buffered until keys arrived */
} rq_qlog_pkt_trigger;

/* Why a packet was declared lost (packet_lost "trigger"). */
typedef enum rq_qlog_loss_trigger {
    RQ_QLOG_LOSS_TRIGGER_NONE = 0,
    RQ_QLOG_LOSS_REORDERING_THRESHOLD, /* RFC 9002 §6.1.1 */
    RQ_QLOG_LOSS_TIME_THRESHOLD,       /* RFC 9002 §6.1.2 */
    RQ_QLOG_LOSS_PTO_EXPIRED           /* RFC 9002 §6.2.4 */
} rq_qlog_loss_trigger;

/* One packet as the packet events see it. Plain values: nothing here belongs to a connection.
 * Pointers are borrowed for the duration of the call. Fields a packet type does not have are
 * ignored (packet_number for Retry and Version Negotiation, scid/version for 1-RTT, ...). */
typedef struct rq_qlog_packet {
    rq_pkt_type type;
    uint64_t pn;            /* full packet number */
    uint32_t version;       /* long headers */
    const rq_cid *dcid;     /* NULL: not logged */
    const rq_cid *scid;     /* NULL: not logged; long headers only */
    size_t token_len;       /* Initial and Retry: logged as the token's length, not bytes */
    int key_phase_bit;      /* 1-RTT: 0 or 1; -1: not logged */
    size_t length;          /* the whole packet on the wire incl. AEAD tag; 0: not logged */
    const rq_frame *frames; /* NULL with frame_count 0: no "frames" array */
    size_t frame_count;
    const uint32_t *supported_versions; /* Version Negotiation only */
    size_t supported_version_count;
    bool has_datagram_id; /* packets coalesced in one datagram share an id */
    uint32_t datagram_id;
    bool is_mtu_probe; /* sent and lost only */
    rq_qlog_pkt_trigger trigger;
} rq_qlog_packet;

/* Recovery metrics for recovery_metrics_updated: set a bit in `present` per field to log. */
enum {
    RQ_QLOG_M_MIN_RTT = 1u << 0,
    RQ_QLOG_M_SMOOTHED_RTT = 1u << 1,
    RQ_QLOG_M_LATEST_RTT = 1u << 2,
    RQ_QLOG_M_RTT_VARIANCE = 1u << 3,
    RQ_QLOG_M_PTO_COUNT = 1u << 4,
    RQ_QLOG_M_CWND = 1u << 5,
    RQ_QLOG_M_BYTES_IN_FLIGHT = 1u << 6,
    RQ_QLOG_M_SSTHRESH = 1u << 7,
    RQ_QLOG_M_PACKETS_IN_FLIGHT = 1u << 8,
    RQ_QLOG_M_PACING_RATE = 1u << 9,
    RQ_QLOG_M_ALL_ = (1u << 10) - 1
};

typedef struct rq_qlog_metrics {
    uint32_t present;
    rq_time min_rtt, smoothed_rtt, latest_rtt, rtt_variance; /* nanoseconds; logged as ms */
    uint64_t pto_count;
    uint64_t congestion_window, bytes_in_flight, ssthresh; /* bytes */
    uint64_t packets_in_flight;
    uint64_t pacing_rate; /* bits per second */
} rq_qlog_metrics;

/* connection_closed "trigger". */
typedef enum rq_qlog_close_trigger {
    RQ_QLOG_CLOSE_TRIGGER_NONE = 0,
    RQ_QLOG_CLOSE_IDLE_TIMEOUT,
    RQ_QLOG_CLOSE_APPLICATION,
    RQ_QLOG_CLOSE_ERROR,
    RQ_QLOG_CLOSE_VERSION_MISMATCH,
    RQ_QLOG_CLOSE_STATELESS_RESET,
    RQ_QLOG_CLOSE_ABORTED,
    RQ_QLOG_CLOSE_UNSPECIFIED
} rq_qlog_close_trigger;

typedef struct rq_qlog_close {
    bool by_peer;          /* initiator "remote" (else "local") */
    bool has_error;        /* an error code is known (not for idle timeout / stateless reset) */
    bool application;      /* the code is an application error, else a transport error */
    uint64_t error_code;   /* the QUIC code, RFC 9000 §20 or the application's */
    const uint8_t *reason; /* any bytes, NULL when reason_len is 0 */
    size_t reason_len;
    rq_qlog_close_trigger trigger;
} rq_qlog_close;

/* The draft's MigrationState values (quic-events, "migration_state_updated"). */
typedef enum rq_qlog_migration_state {
    RQ_QLOG_MIGRATION_NONE = 0, /* only as `old`: not logged */
    RQ_QLOG_PROBING_STARTED,
    RQ_QLOG_PROBING_ABANDONED,
    RQ_QLOG_PROBING_SUCCESSFUL,
    RQ_QLOG_MIGRATION_STARTED,
    RQ_QLOG_MIGRATION_ABANDONED,
    RQ_QLOG_MIGRATION_COMPLETE
} rq_qlog_migration_state;

/* Creates a log and writes its file header record through the sink: file_schema,
 * serialization_format, and the trace with vantage_point (client/server), event_schemas and
 * common_fields (group_id = odcid in hex, the time format and reference). `odcid` is copied;
 * `sink_ctx` is borrowed until rq_qlog_free. Event times are measured from reference_time.
 * Returns 0 and sets *out, or RQ_ERR_INVALID_ARG (NULL out/sink/odcid, bad role),
 * RQ_ERR_NOMEM, or the sink's error (then nothing is allocated and *out is NULL). */
int rq_qlog_new(rq_qlog **out, rq_qlog_sink_fn sink, void *sink_ctx, rq_role vantage,
                const rq_cid *odcid, rq_time reference_time);

/* Frees the log (NULL is fine). Writes nothing: JSON-SEQ needs no closing record. */
void rq_qlog_free(rq_qlog *q);

/* The ack_delay_exponent transport parameters (RFC 9000 §18.2), used to log ACK frames'
 * ack_delay in milliseconds: `local` for ACKs this endpoint sends, `peer` for ACKs it receives.
 * Both default to 3. Values above 20 are refused with RQ_ERR_INVALID_ARG. NULL q: returns 0. */
int rq_qlog_set_ack_delay_exponents(rq_qlog *q, uint8_t local, uint8_t peer);

/* quic:packet_sent / quic:packet_received: header, raw length, frames (every frame.h type, with
 * the draft's frame_type names and fields; data-carrying frames log lengths, not bytes).
 * Returns 0 (also for q == NULL), RQ_ERR_INVALID_ARG (NULL p, unknown packet type, a trigger
 * that does not belong to the direction, frames == NULL with frame_count > 0, time before the
 * previous event), RQ_ERR_BUFFER_TOO_SMALL (a record that cannot be made to fit, which the
 * frame truncation prevents in practice), or the sink's error. */
int rq_qlog_packet_sent(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p);
int rq_qlog_packet_received(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p);

/* quic:packet_lost with the header (type and number) and, if the caller still has them, the
 * frames; p->is_mtu_probe as for sent packets. The loss trigger is `trigger` (NONE: omitted);
 * p->trigger must be NONE and p->length / p->datagram_id are not logged for lost packets.
 * Errors as for rq_qlog_packet_sent. */
int rq_qlog_packet_lost(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_packet *p,
                        rq_qlog_loss_trigger trigger);

/* quic:recovery_metrics_updated with only the fields flagged in m->present (the path's
 * estimator and controller; one event per batch of changes, as the draft asks). Returns 0,
 * RQ_ERR_INVALID_ARG (NULL m, present == 0 or unknown bits, time going backwards), or the sink's
 * error. */
int rq_qlog_recovery_metrics(rq_qlog *q, rq_time now, uint32_t path_id, const rq_qlog_metrics *m);

/* quic:connection_started: the first path's local and remote address with the connection IDs
 * each side is reached by (`local_cid`: this endpoint's SCID; `remote_cid`: the DCID it sends
 * to; either may be NULL). Returns 0, RQ_ERR_INVALID_ARG (NULL addr, time), or the sink's. */
int rq_qlog_connection_started(rq_qlog *q, rq_time now, const rq_path_addr *addr,
                               const rq_cid *local_cid, const rq_cid *remote_cid);

/* quic:connection_closed: who closed, the error (a transport code by its draft name, a TLS
 * alert as "crypto_error_0x1XX", anything else as "unknown" with error_code), the reason
 * (escaped, invalid UTF-8 replaced, truncated at RQ_QLOG_REASON_MAX) and the trigger.
 * Returns 0, RQ_ERR_INVALID_ARG (NULL c, reason NULL with a length, time), or the sink's. */
int rq_qlog_connection_closed(rq_qlog *q, rq_time now, const rq_qlog_close *c);

/* quic:tuple_assigned: ties path_id's TupleID to its addresses and the CIDs used on it
 * (`local_cid`: the CID the peer sends to us on this path; `remote_cid`: the DCID we send to).
 * addr == NULL logs the abandonment of the tuple (both endpoint fields omitted, as the draft
 * defines). Returns 0, RQ_ERR_INVALID_ARG (time), or the sink's error. */
int rq_qlog_tuple_assigned(rq_qlog *q, rq_time now, uint32_t path_id, const rq_path_addr *addr,
                           const rq_cid *local_cid, const rq_cid *remote_cid);

/* quic:connection_id_updated on path_id: the CID one side sends with there changed (owner
 * "local": the CID we gave; "remote": the one we send to). old or updated may be NULL. */
int rq_qlog_connection_id_updated(rq_qlog *q, rq_time now, uint32_t path_id, bool local,
                                  const rq_cid *old, const rq_cid *updated);

/* quic:migration_state_updated for path_id (its "tuple_id"), from `old` (NONE: not logged) to
 * `state`. Returns 0, RQ_ERR_INVALID_ARG (state NONE or out of range, time), or the sink's. */
int rq_qlog_migration_state_updated(rq_qlog *q, rq_time now, uint32_t path_id,
                                    rq_qlog_migration_state old, rq_qlog_migration_state state);

#endif
