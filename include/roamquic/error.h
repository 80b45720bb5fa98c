/* roamquic — error codes.
 *
 * Every fallible function returns 0 (RQ_OK) or a negative rq_err. The table below is the one
 * place an error is defined: its name, its message and, for errors that a peer's bytes can
 * cause, the QUIC transport error code (RFC 9000 §20.1) a connection closes with.
 * A QUIC code of -1 means "no wire error": the input is dropped, or the failure is local.
 */
#ifndef ROAMQUIC_ERROR_H
#define ROAMQUIC_ERROR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RQ_BUILDING_LIBRARY) && defined(__GNUC__)
#define RQ_API __attribute__((visibility("default")))
#else
#define RQ_API
#endif

/* X(name, value, quic_transport_code or -1, message) */
#define RQ_ERROR_TABLE(X)                                                             \
    X(RQ_OK, 0, 0x00, "success")                                                      \
    X(RQ_ERR_NOMEM, -1, 0x01, "out of memory")                                        \
    X(RQ_ERR_INVALID_ARG, -2, -1, "invalid argument")                                 \
    X(RQ_ERR_BUFFER_TOO_SMALL, -3, -1, "output buffer too small")                     \
    X(RQ_ERR_INTERNAL, -4, 0x01, "internal error")                                    \
    X(RQ_ERR_CRYPTO, -5, 0x01, "cryptographic library failure")                       \
    X(RQ_ERR_MALFORMED_PACKET, -6, -1, "malformed packet header (packet dropped)")    \
    X(RQ_ERR_DECRYPT, -7, -1, "packet failed authentication (packet dropped)")        \
    X(RQ_ERR_UNSUPPORTED_VERSION, -8, -1, "unsupported QUIC version")                 \
    X(RQ_ERR_IO, -9, -1, "file or operating-system operation failed")                 \
    X(RQ_ERR_CERTIFICATE, -10, -1, "certificate, key or trust store unusable")        \
    X(RQ_ERR_AGAIN, -11, -1, "nothing to do now (try again later)")                   \
    X(RQ_ERR_LIMIT, -12, -1, "a configured local limit was reached")                  \
    X(RQ_ERR_TLS, -13, 0x0100, "TLS handshake failed (CRYPTO_ERROR, 0x0100 + alert)") \
    X(RQ_ERR_CONNECTION_REFUSED, -20, 0x02, "CONNECTION_REFUSED")                     \
    X(RQ_ERR_FLOW_CONTROL, -21, 0x03, "FLOW_CONTROL_ERROR")                           \
    X(RQ_ERR_STREAM_LIMIT, -22, 0x04, "STREAM_LIMIT_ERROR")                           \
    X(RQ_ERR_STREAM_STATE, -23, 0x05, "STREAM_STATE_ERROR")                           \
    X(RQ_ERR_FINAL_SIZE, -24, 0x06, "FINAL_SIZE_ERROR")                               \
    X(RQ_ERR_FRAME_ENCODING, -25, 0x07, "FRAME_ENCODING_ERROR")                       \
    X(RQ_ERR_TRANSPORT_PARAMETER, -26, 0x08, "TRANSPORT_PARAMETER_ERROR")             \
    X(RQ_ERR_CONNECTION_ID_LIMIT, -27, 0x09, "CONNECTION_ID_LIMIT_ERROR")             \
    X(RQ_ERR_PROTOCOL_VIOLATION, -28, 0x0a, "PROTOCOL_VIOLATION")                     \
    X(RQ_ERR_INVALID_TOKEN, -29, 0x0b, "INVALID_TOKEN")                               \
    X(RQ_ERR_CRYPTO_BUFFER_EXCEEDED, -30, 0x0d, "CRYPTO_BUFFER_EXCEEDED")             \
    X(RQ_ERR_KEY_UPDATE, -31, 0x0e, "KEY_UPDATE_ERROR")                               \
    X(RQ_ERR_AEAD_LIMIT_REACHED, -32, 0x0f, "AEAD_LIMIT_REACHED")                     \
    X(RQ_ERR_NO_VIABLE_PATH, -33, 0x10, "NO_VIABLE_PATH")

typedef enum rq_err {
#define RQ_ERR_ENUM_(name, value, quic, msg) name = (value),
    RQ_ERROR_TABLE(RQ_ERR_ENUM_)
#undef RQ_ERR_ENUM_
} rq_err;

/* QUIC transport error codes (RFC 9000 §20.1) that have no rq_err of their own. */
#define RQ_QUIC_NO_ERROR          0x00
#define RQ_QUIC_INTERNAL_ERROR    0x01
#define RQ_QUIC_APPLICATION_ERROR 0x0c
#define RQ_QUIC_CRYPTO_ERROR_BASE 0x0100 /* + TLS alert, RFC 9001 §4.8 */

/* A short, static, human-readable message for any return code (unknown codes included). */
RQ_API const char *rq_strerror(int err);

/* The symbolic name ("RQ_ERR_FRAME_ENCODING"), or "RQ_ERR_UNKNOWN". */
RQ_API const char *rq_err_name(int err);

/* The QUIC transport error code a connection closes with when it meets `err`, or -1 when the
 * error does not close a connection (the packet is dropped, or the failure is local). */
RQ_API int64_t rq_err_transport_code(int err);

#ifdef __cplusplus
}
#endif
#endif
