/* roamquic — configuration of an endpoint.
 *
 * A configuration is built once and then shared read-only by the endpoints made from it: it
 * must outlive them. Loading certificates and trust stores happens here, never on the packet
 * path. Every setter returns 0 or a negative rq_err (rq_strerror() gives a one-line message).
 */
#ifndef ROAMQUIC_CONFIG_H
#define ROAMQUIC_CONFIG_H

#include <roamquic/error.h>
#include <roamquic/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rq_config rq_config;

/* Transport settings: what we advertise in our transport parameters (RFC 9000 §18.2) and how
 * the connection behaves. rq_transport_defaults fills the defaults given in each comment. */
typedef struct rq_transport_settings {
    uint64_t max_idle_timeout_ms;        /* 30000; 0 disables the idle timeout */
    uint64_t initial_max_data;           /* 1 MiB connection receive window to start */
    uint64_t initial_max_stream_data;    /* 256 KiB per stream, each kind */
    uint64_t max_stream_window;          /* 8 MiB: auto-tuning grows windows up to this */
    uint64_t max_connection_window;      /* 16 MiB */
    uint64_t initial_max_streams_bidi;   /* 100 */
    uint64_t initial_max_streams_uni;    /* 100 */
    uint64_t ack_delay_exponent;         /* 3 */
    uint64_t max_ack_delay_ms;           /* 25 */
    uint64_t active_connection_id_limit; /* 4: how many CIDs the peer may give us */
    uint64_t max_udp_payload_size;       /* 1472: the largest datagram we accept */
    uint8_t local_cid_len;               /* 8; a server's may not be 0 (RFC 9000 §5.1) */
    bool disable_active_migration;       /* false */
    bool disable_spin_bit; /* false: the latency spin bit spins (RFC 9000 §17.4), except on a
                              random 1 in 8 paths or CIDs; true: never */
    uint64_t handshake_timeout_ms; /* 10000: give up a handshake after this */
} rq_transport_settings;

/* Fills *s with the defaults above. */
RQ_API void rq_transport_defaults(rq_transport_settings *s);

/* A new configuration for a client or a server, with default transport settings, no ALPN, no
 * certificate, no trust. NULL when out of memory. */
RQ_API rq_config *rq_config_new(rq_role role);

/* Frees a configuration (NULL is fine). Only after every endpoint made from it is freed. */
RQ_API void rq_config_free(rq_config *cfg);

/* Replaces the transport settings. Returns 0 or RQ_ERR_INVALID_ARG for values the RFC
 * forbids (ack_delay_exponent > 20, max_ack_delay >= 2^14 ms, active_connection_id_limit < 2,
 * max_udp_payload_size < 1200, local_cid_len > 20, a server with local_cid_len 0). */
RQ_API int rq_config_set_transport(rq_config *cfg, const rq_transport_settings *s);

/* The ALPN protocols, in preference order (RFC 9001 §8.1: both sides then require a match;
 * a mismatch closes with 0x0178). */
RQ_API int rq_config_set_alpn(rq_config *cfg, const char *const *protos, size_t count);

/* Server: certificate chain and key from PEM files (RQ_ERR_IO: unreadable;
 * RQ_ERR_CERTIFICATE: unusable), or a self-signed certificate made in memory for host. */
RQ_API int rq_config_load_cert_files(rq_config *cfg, const char *cert_pem, const char *key_pem);
RQ_API int rq_config_make_ephemeral_cert(rq_config *cfg, const char *host);

/* Client: how the server's certificate is verified — the system store, a CA file, or not at
 * all (insecure: for tests and demos only). Without one of them every handshake fails. */
RQ_API int rq_config_trust_system(rq_config *cfg);
RQ_API int rq_config_trust_ca_file(rq_config *cfg, const char *ca_pem);
RQ_API int rq_config_set_insecure(rq_config *cfg, bool insecure);

/* Restricts the TLS 1.3 cipher suites: a mask of RQ_CIPHER_* bits (default: all three). */
#define RQ_CIPHER_AES_128_GCM       0x1u
#define RQ_CIPHER_AES_256_GCM       0x2u
#define RQ_CIPHER_CHACHA20_POLY1305 0x4u
RQ_API int rq_config_set_ciphers(rq_config *cfg, unsigned mask);

/* Receives NSS key-log lines (for SSLKEYLOGFILE) without a trailing newline. */
typedef void (*rq_keylog_fn)(void *ctx, const char *line);
RQ_API void rq_config_set_keylog(rq_config *cfg, rq_keylog_fn fn, void *ctx);

/* Server: the static keys that make stateless resets survive a restart (RFC 9000 §10.3.2)
 * and let sibling servers accept each other's address-validation tokens (§8.1). Without
 * them, an endpoint generates random ones: resets and tokens then die with it. */
RQ_API int rq_config_set_static_keys(rq_config *cfg, const uint8_t reset_key[32],
                                     const uint8_t token_key[32]);

/* qlog (draft-ietf-quic-qlog-main-schema-13 / quic-events-12, JSON-SEQ; docs/QLOG.md): per
 * connection, `open` is called with its role and original DCID and returns the context its
 * records go to (NULL: no log for this connection); `write` receives one whole record at a
 * time (return non-zero to stop logging it); `close` when the connection is freed. */
typedef struct rq_qlog_callbacks {
    void *(*open)(void *ctx, rq_role role, const uint8_t *odcid, size_t odcid_len);
    int (*write)(void *conn_ctx, const uint8_t *record, size_t len);
    void (*close)(void *conn_ctx);
    void *ctx;
} rq_qlog_callbacks;

/* Installs qlog callbacks (copied; NULL removes them). */
RQ_API void rq_config_set_qlog(rq_config *cfg, const rq_qlog_callbacks *cb);

/* Server: advertise a preferred address (RFC 9000 §9.6): an IPv4 and/or an IPv6 address
 * (either may be NULL) that clients move to once the handshake is confirmed; the endpoint must
 * receive datagrams sent to it. Typical use: leave an address shared by many servers for one
 * unique to this server. Returns 0 or RQ_ERR_INVALID_ARG (both NULL, wrong families, or
 * zero-length CIDs configured: §18.2 forbids a preferred address then). */
RQ_API int rq_config_set_preferred_address(rq_config *cfg, const rq_addr *v4, const rq_addr *v6);

/* Client: whether to move to a server's preferred address (default yes), and which family to
 * try when the server offers both (RQ_AF_INET4 by default; the client's own address family
 * decides when it has only one). */
RQ_API void rq_config_follow_preferred_address(rq_config *cfg, bool follow, rq_family prefer);

/* A readable log: one line at a time (no trailing newline), for conditions an operator should
 * know about, e.g. that stateless resets will not survive a restart. */
typedef void (*rq_log_fn)(void *ctx, const char *line);
RQ_API void rq_config_set_log(rq_config *cfg, rq_log_fn fn, void *ctx);

/* Server: validate every new client's address with a Retry first (RFC 9000 §8.1.2). */
RQ_API void rq_config_set_retry(rq_config *cfg, bool retry);

#ifdef __cplusplus
}
#endif
#endif
