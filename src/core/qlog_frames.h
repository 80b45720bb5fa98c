/* qlog serialization of QUIC frames and error codes (draft-ietf-quic-qlog-quic-events-12,
 * "QUIC Frames" and "TransportError"/"CryptoError"). Internal to the qlog module: qlog.c writes
 * events, this file writes the frame objects inside them. */
#ifndef RQ_CORE_QLOG_FRAMES_H
#define RQ_CORE_QLOG_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/frame.h"
#include "core/json.h"

/* Writes one frame object for f as the next value of j: {"frame_type": ..., fields...}. Every
 * frame type of frame.h maps to the draft's frame with its field names; DATAGRAM types become
 * "datagram" and any other type "unknown" with frame_type_bytes. Data-bearing frames log their
 * lengths (raw.length) and never their payload; a CONNECTION_CLOSE reason is logged as text up
 * to `reason_max` bytes. `ack_delay_exponent` (0..20) scales an ACK's ack_delay to time.
 * Output is bounded by the frame's fields and reason_max; errors surface as j->overflow. */
void rq_qlog_write_frame(rq_json *j, const rq_frame *f, unsigned ack_delay_exponent,
                         size_t reason_max);

/* Writes "frames": [...] as the next member of the open object in j with as many of the n
 * frames as fit while keeping `reserve` bytes of j free for the rest of the record. Frames that
 * do not fit are dropped from the end and their count is returned (0 when all fit). */
size_t rq_qlog_write_frames(rq_json *j, const rq_frame *frames, size_t n,
                            unsigned ack_delay_exponent, size_t reason_max, size_t reserve);

/* Writes the "error" string of a CONNECTION_CLOSE frame or connection_closed event, plus
 * "error_code" when the draft needs the number ("unknown" values). `key` is the member name
 * ("error", or "connection_error"/"application_error"). Transport codes of RFC 9000 §20.1 get
 * their draft names, 0x0100-0x01ff "crypto_error_0x1XX", others and all application codes
 * "unknown". */
void rq_qlog_write_error(rq_json *j, const char *key, bool application, uint64_t code);

/* Writes a CONNECTION_CLOSE-style reason: "reason" as text (escaped; invalid UTF-8 replaced)
 * truncated to reason_max bytes and, when the bytes were not valid UTF-8, also "reason_bytes"
 * as hex (of the same truncated prefix) so the original bytes are recoverable. */
void rq_qlog_write_reason(rq_json *j, const uint8_t *reason, size_t len, size_t reason_max);

#endif
