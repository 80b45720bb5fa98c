/* QUIC transport parameters (RFC 9000 §7.3, §7.4, §18; RFC 9221 §3): a fixed-size struct, an
 * encoder, a validating decoder and the §7.3 connection ID authentication.
 *
 * Nothing here allocates. The struct is plain data (CIDs are rq_cid values), copyable by
 * assignment. The decoder validates everything a single extension can be checked for on its
 * own — syntax, value ranges, duplicates, which side may send what, and the §7.3 presence
 * rules for initial_source_connection_id and original_destination_connection_id — so a
 * successfully decoded rq_tparams is always a complete, valid set. What needs connection
 * state (the connection IDs actually seen in Initial and Retry packets) is checked
 * separately by rq_tparams_check_cids().
 */
#ifndef RQ_CORE_TPARAMS_H
#define RQ_CORE_TPARAMS_H

#include "core/cid.h"
#include "core/pkt_type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Transport parameter identifiers: RFC 9000 §18.2 (Table 6) and RFC 9221 §3. */
enum {
    RQ_TP_ORIGINAL_DESTINATION_CONNECTION_ID = 0x00,
    RQ_TP_MAX_IDLE_TIMEOUT = 0x01,
    RQ_TP_STATELESS_RESET_TOKEN = 0x02,
    RQ_TP_MAX_UDP_PAYLOAD_SIZE = 0x03,
    RQ_TP_INITIAL_MAX_DATA = 0x04,
    RQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
    RQ_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
    RQ_TP_INITIAL_MAX_STREAM_DATA_UNI = 0x07,
    RQ_TP_INITIAL_MAX_STREAMS_BIDI = 0x08,
    RQ_TP_INITIAL_MAX_STREAMS_UNI = 0x09,
    RQ_TP_ACK_DELAY_EXPONENT = 0x0a,
    RQ_TP_MAX_ACK_DELAY = 0x0b,
    RQ_TP_DISABLE_ACTIVE_MIGRATION = 0x0c,
    RQ_TP_PREFERRED_ADDRESS = 0x0d,
    RQ_TP_ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
    RQ_TP_INITIAL_SOURCE_CONNECTION_ID = 0x0f,
    RQ_TP_RETRY_SOURCE_CONNECTION_ID = 0x10,
    RQ_TP_MAX_DATAGRAM_FRAME_SIZE = 0x20
};

/* RFC 9000 §18.2 defaults for the parameters whose default is not zero. */
#define RQ_TP_DEFAULT_MAX_UDP_PAYLOAD_SIZE       65527
#define RQ_TP_DEFAULT_ACK_DELAY_EXPONENT         3
#define RQ_TP_DEFAULT_MAX_ACK_DELAY              25 /* milliseconds */
#define RQ_TP_DEFAULT_ACTIVE_CONNECTION_ID_LIMIT 2

/* RFC 9000 §18.2 limits on received values. */
#define RQ_TP_MIN_MAX_UDP_PAYLOAD_SIZE       1200
#define RQ_TP_MAX_ACK_DELAY_EXPONENT         20
#define RQ_TP_MAX_MAX_ACK_DELAY              ((uint64_t)1 << 14) /* exclusive */
#define RQ_TP_MAX_STREAMS                    ((uint64_t)1 << 60) /* inclusive */
#define RQ_TP_MIN_ACTIVE_CONNECTION_ID_LIMIT 2

/* RFC 9000 §18.2: the fixed part of preferred_address (4+2 IPv4, 16+2 IPv6, 1 CID length,
 * 16 reset token); the CID (1..20 bytes) comes on top. */
#define RQ_TP_PREFERRED_ADDRESS_FIXED_LEN 41

/* How many distinct parameter ids >= 64 the decoder remembers to detect duplicates (ids below
 * 64, which include every known one, are tracked exhaustively in a bitmask). An extension
 * carrying more distinct ids >= 64 than this is still accepted, but duplicates among the ids
 * beyond the bound go undetected: RFC 9000 §7.4 makes the duplicate check a SHOULD, and
 * refusing a peer merely for sending many extensions would be worse. */
#define RQ_TP_MAX_TRACKED_UNKNOWN 32

/* An upper bound on rq_tparams_encode()'s output for any valid rq_tparams and GREASE id:
 *   12 integer parameters, each id (1) + length (1) + value (<= 8)      = 120
 *   3 connection IDs, each id (1) + length (1) + CID (<= 20)            =  66
 *   stateless_reset_token: 1 + 1 + 16                                   =  18
 *   disable_active_migration: 1 + 1                                     =   2
 *   preferred_address: 1 + 1 + 41 + 20                                  =  63
 *   a GREASE parameter: id (<= 8) + length (1) + value (<= 8)           =  17 */
#define RQ_TPARAMS_MAX_ENCODED_LEN 286

/* RFC 9000 §18.2 preferred_address. A server leaves one address family out by sending an
 * all-zero address and port for it; the struct keeps both as they are on the wire. */
typedef struct rq_preferred_address {
    uint8_t ipv4_addr[4]; /* network byte order */
    uint16_t ipv4_port;
    uint8_t ipv6_addr[16]; /* network byte order */
    uint16_t ipv6_port;
    rq_cid cid; /* 1..20 bytes: a zero-length CID is forbidden here */
    uint8_t stateless_reset_token[RQ_RESET_TOKEN_LEN];
} rq_preferred_address;

/* Every RFC 9000 §18.2 transport parameter plus RFC 9221's max_datagram_frame_size.
 * Integer parameters always hold a value (the default when absent); the has_* flags mark the
 * parameters whose absence means something different from any value. Durations are in
 * milliseconds (max_idle_timeout, max_ack_delay). */
typedef struct rq_tparams {
    /* original_destination_connection_id (0x00), server only */
    bool has_original_dcid;
    rq_cid original_dcid;
    uint64_t max_idle_timeout; /* 0x01; 0 = no idle timeout */
    /* stateless_reset_token (0x02), server only */
    bool has_stateless_reset_token;
    uint8_t stateless_reset_token[RQ_RESET_TOKEN_LEN];
    uint64_t max_udp_payload_size;                /* 0x03 */
    uint64_t initial_max_data;                    /* 0x04 */
    uint64_t initial_max_stream_data_bidi_local;  /* 0x05 */
    uint64_t initial_max_stream_data_bidi_remote; /* 0x06 */
    uint64_t initial_max_stream_data_uni;         /* 0x07 */
    uint64_t initial_max_streams_bidi;            /* 0x08 */
    uint64_t initial_max_streams_uni;             /* 0x09 */
    uint64_t ack_delay_exponent;                  /* 0x0a */
    uint64_t max_ack_delay;                       /* 0x0b */
    bool disable_active_migration;                /* 0x0c, a zero-length flag */
    /* preferred_address (0x0d), server only */
    bool has_preferred_address;
    rq_preferred_address preferred_address;
    uint64_t active_connection_id_limit; /* 0x0e */
    /* initial_source_connection_id (0x0f), required from both sides */
    bool has_initial_scid;
    rq_cid initial_scid;
    /* retry_source_connection_id (0x10), server only, present iff the server sent a Retry */
    bool has_retry_scid;
    rq_cid retry_scid;
    /* 0x20 (RFC 9221); 0 = DATAGRAM not supported. Keep it 0 in what we send until DATAGRAM
     * frames are implemented: the frame decoder refuses them (PROTOCOL_VIOLATION). */
    uint64_t max_datagram_frame_size;
} rq_tparams;

/* True when `id` is one of the reserved ids 31 * N + 27 (RFC 9000 §18.1) that exist to
 * exercise a peer's handling of unknown parameters. */
bool rq_tparams_is_reserved_id(uint64_t id);

/* Sets *tp to the RFC 9000 §18.2 defaults: max_udp_payload_size 65527, ack_delay_exponent 3,
 * max_ack_delay 25, active_connection_id_limit 2, every other value 0, every optional
 * parameter absent and disable_active_migration off. The whole struct is zeroed first, so it
 * can be compared field by field afterwards. Cannot fail; `tp` must not be NULL. */
void rq_tparams_init_defaults(rq_tparams *tp);

/* Encodes `tp` as the body of the quic_transport_parameters TLS extension (RFC 9000 §18),
 * as sent by `sender`, into buf[0..cap). On success stores the byte count in *len and
 * returns 0; on failure *len is untouched and buf holds unspecified bytes.
 *
 * Parameters equal to their default are omitted (RFC 9000 §18.2 lets a receiver assume
 * the default). A client never writes the server-only parameters (original_dcid,
 * stateless_reset_token, preferred_address, retry_scid): their has_* flags are ignored
 * when sender is RQ_ROLE_CLIENT. Parameters are written in id order; when
 * `grease_id_or_0` is a reserved id (31 * N + 27, §18.1) one such parameter carrying a few
 * bytes derived from the id is appended. The caller chooses the id (preferably at random)
 * and passes 0 for none.
 *
 * The encoder refuses what the decoder would reject, so its output always decodes:
 *   RQ_ERR_INVALID_ARG       NULL pointer, bad role, a value above 2^62 - 1 or outside its
 *                            §18.2 range, a CID longer than 20 bytes, a preferred_address
 *                            with a zero-length CID or sent with a zero-length
 *                            initial_scid, initial_scid absent, a server's original_dcid
 *                            absent, or a non-zero grease id that is not reserved;
 *   RQ_ERR_BUFFER_TOO_SMALL  cap is too small (RQ_TPARAMS_MAX_ENCODED_LEN always suffices). */
int rq_tparams_encode(const rq_tparams *tp, rq_role sender, uint8_t *buf, size_t cap, size_t *len,
                      uint64_t grease_id_or_0);

/* Decodes and validates the transport parameters `sender` sent (the body of its
 * quic_transport_parameters extension, buf[0..len)) into *tp. Parameters absent from the
 * input get their defaults; unknown and reserved parameters are skipped (RFC 9000 §7.4.2,
 * §18.1). *tp is written only on success. Nothing in buf is referenced afterwards.
 *
 * Besides the syntax and value checks of §18.2 and the duplicate check of §7.4, this
 * enforces §7.3's presence rules: initial_source_connection_id must be present, and so must
 * original_destination_connection_id when the sender is the server. A successful decode is
 * therefore a complete set; rq_tparams_check_cids() then compares the CIDs with the packets.
 *
 * Returns 0, RQ_ERR_INVALID_ARG (NULL tp, NULL buf with len > 0, bad role) or
 * RQ_ERR_TRANSPORT_PARAMETER for any problem with the bytes. */
int rq_tparams_decode(rq_tparams *tp, rq_role sender, const uint8_t *buf, size_t len);

/* RFC 9000 §7.3: authenticates the connection IDs of the handshake against the peer's
 * (decoded) transport parameters. All pointers are borrowed for the call only.
 *
 *   peer                   the peer's parameters, from rq_tparams_decode();
 *   peer_role              which side the peer is;
 *   expected_initial_scid  the Source Connection ID of the Initial packets the peer sent
 *                          (required);
 *   expected_odcid         server peer: the Destination Connection ID of the client's very
 *                          first Initial packet, before any Retry (required); client peer:
 *                          ignored, may be NULL;
 *   expected_retry_scid    server peer: the Source Connection ID of the Retry packet the
 *                          client accepted, NULL when no Retry happened; client peer:
 *                          ignored, may be NULL.
 *
 * Returns 0 when everything matches; RQ_ERR_INVALID_ARG for a missing required argument or
 * a bad role; RQ_ERR_TRANSPORT_PARAMETER for a missing or mismatching CID parameter,
 * retry_source_connection_id absent after a Retry or present without one, or a client's
 * parameters carrying server-only ones. §7.3 allows TRANSPORT_PARAMETER_ERROR or
 * PROTOCOL_VIOLATION for the Retry and mismatch cases; this library always uses
 * TRANSPORT_PARAMETER_ERROR, the code every other transport parameter failure uses. */
int rq_tparams_check_cids(const rq_tparams *peer, rq_role peer_role,
                          const rq_cid *expected_initial_scid, const rq_cid *expected_odcid,
                          const rq_cid *expected_retry_scid);

/* True when `a` and `b` describe the same parameters: every value equal, every has_* flag
 * equal, and the contents of present optional parameters equal (the contents of absent
 * ones are not compared). For tests, fuzzing, and comparing remembered 0-RTT parameters. */
bool rq_tparams_eq(const rq_tparams *a, const rq_tparams *b);

#endif
