/* The TLS 1.3 handshake for QUIC through GnuTLS's QUIC hooks (RFC 9001 §4, §8; RFC 9000 §7.3).
 *
 * Two objects:
 *   rq_tls_config  one per endpoint, shared by all its connections: role, ALPN list,
 *                  certificate and key (server), trust (client), cipher-suite restriction,
 *                  key-log sink. Built once (files are read here, never on the packet path),
 *                  then only read: it must outlive every rq_tls made from it. Not safe to
 *                  modify while connections use it.
 *   rq_tls         one per connection: the GnuTLS session. Poll-style: the connection feeds
 *                  in-order CRYPTO bytes with rq_tls_recv_crypto and pulls what TLS produced
 *                  with rq_tls_poll — handshake bytes to send, traffic secrets, the peer's
 *                  transport parameters, completion. No callback reaches the connection.
 *
 * What stays with the connection (RFC 9001 §4.1.2, §4.9): handshake confirmation,
 * HANDSHAKE_DONE, and discarding keys. This module reports completion and secrets only.
 *
 * Errors: 0 or a negative rq_err. Any failure of the handshake itself (a TLS alert, a missing
 * extension, no ALPN) is RQ_ERR_TLS and is fatal and sticky: every later call returns
 * RQ_ERR_TLS, no further event is produced, and rq_tls_transport_error gives the exact QUIC
 * code to close with (CRYPTO_ERROR 0x0100 + alert, RFC 9001 §4.8). Also fatal and sticky:
 * RQ_ERR_CRYPTO_BUFFER_EXCEEDED (a peer's handshake message longer than
 * RQ_TLS_MAX_HANDSHAKE_MESSAGE; transport error 0x0d), and RQ_ERR_NOMEM / RQ_ERR_LIMIT
 * (local failures; transport error INTERNAL_ERROR 0x01).
 *
 * Threads: an rq_tls is used by one thread at a time; a config may be shared read-only.
 */
#ifndef RQ_CRYPTO_TLS_H
#define RQ_CRYPTO_TLS_H

#include "crypto/crypto.h"

#include <roamquic/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TLS extension codepoint of quic_transport_parameters for QUIC v1 (RFC 9001 §8.2). */
#define RQ_TLS_EXT_QUIC_TRANSPORT_PARAMETERS 0x39

/* Bounds (every allocation a peer can cause is capped):
 *  - the peer's transport parameters are copied once: at most 65535 bytes, the largest TLS
 *    extension body;
 *  - output waiting to be polled (handshake bytes and secrets) is at most
 *    RQ_TLS_MAX_PENDING_BYTES in at most RQ_TLS_MAX_EVENTS events. A TLS 1.3 flight is a few
 *    KiB (our own certificate chain dominates), and GnuTLS produces output only in answer to
 *    the peer's handshake messages (at most a flight per flight: a HelloRetryRequest
 *    answer, a Finished); overflowing either cap is fatal (RQ_ERR_LIMIT), never growth;
 *  - input: see RQ_TLS_MAX_HANDSHAKE_MESSAGE. */
#define RQ_TLS_MAX_PENDING_BYTES (128u * 1024u)
/* The longest handshake message accepted from a peer (a certificate chain is the largest in
 * practice, a few KiB). GnuTLS would buffer whatever length a message header claims, up to
 * 16 MiB, before judging it; a longer claim fails at once with RQ_ERR_CRYPTO_BUFFER_EXCEEDED
 * (QUIC error CRYPTO_BUFFER_EXCEEDED, 0x0d). So a peer can make GnuTLS hold at most one
 * incomplete message of this size per level for a session. */
#define RQ_TLS_MAX_HANDSHAKE_MESSAGE (64u * 1024u)
#define RQ_TLS_MAX_EVENTS            32
#define RQ_TLS_MAX_ALPN_LEN          255 /* RFC 7301 §3.1: ProtocolName is 1..255 bytes */
#define RQ_TLS_MAX_ALPN_COUNT        16

/* Encryption levels (RFC 9001 §4.1.3 and §2.1's table), each with its own CRYPTO stream. */
typedef enum rq_crypto_level {
    RQ_CRYPTO_INITIAL = 0,
    RQ_CRYPTO_EARLY_DATA = 1, /* 0-RTT: only secrets, never CRYPTO frames */
    RQ_CRYPTO_HANDSHAKE = 2,
    RQ_CRYPTO_APPLICATION = 3, /* 1-RTT */
} rq_crypto_level;
#define RQ_CRYPTO_LEVEL_COUNT 4

/* Cipher-suite selection for rq_tls_config_set_ciphers: a bit per rq_aead_alg. */
#define RQ_TLS_CIPHER(alg) (1u << (unsigned)(alg))
#define RQ_TLS_CIPHERS_ALL                                                     \
    (RQ_TLS_CIPHER(RQ_AEAD_AES_128_GCM) | RQ_TLS_CIPHER(RQ_AEAD_AES_256_GCM) | \
     RQ_TLS_CIPHER(RQ_AEAD_CHACHA20_POLY1305))

/* Receives one NSS key-log line (SSLKEYLOGFILE format, "LABEL <client random hex> <secret
 * hex>"), NUL-terminated and without a newline: the sink adds one when it writes a file. The
 * line is only valid during the call. Called from inside rq_tls_start/rq_tls_recv_crypto. */
typedef void (*rq_tls_keylog_fn)(void *ctx, const char *line);

typedef struct rq_tls_config rq_tls_config;
typedef struct rq_tls rq_tls;

/* ---- configuration (tls_config.c) -------------------------------------------------------- */

/* Creates an empty configuration for role (no ALPN, no certificate, no trust, all three
 * cipher suites, no key log). *out is owned by the caller: free with rq_tls_config_free.
 * Returns 0, RQ_ERR_INVALID_ARG or RQ_ERR_NOMEM (RQ_ERR_CRYPTO if GnuTLS cannot allocate
 * its credentials). */
int rq_tls_config_new(rq_role role, rq_tls_config **out);

/* Frees a configuration (NULL is a no-op). Call only after every rq_tls made from it is
 * freed: sessions borrow its credentials. */
void rq_tls_config_free(rq_tls_config *cfg);

/* Sets the ALPN protocols (copied), in preference order. With a list, ALPN is mandatory on
 * both sides (RFC 9001 §8.1): a server that finds no common protocol, or a client whose
 * server selected none, fails with no_application_protocol (QUIC error 0x0178). Without a
 * list (the default) no ALPN is sent and none is required: the application agrees on its
 * protocol by other means. Replaces any earlier list. Returns 0, RQ_ERR_INVALID_ARG (more
 * than RQ_TLS_MAX_ALPN_COUNT names, an empty name or one over 255 bytes) or RQ_ERR_NOMEM. */
int rq_tls_config_set_alpn(rq_tls_config *cfg, const char *const *protos, size_t count);

/* Server: loads a PEM certificate chain (leaf first) and its PEM private key from files.
 * Returns 0, RQ_ERR_INVALID_ARG (not a server config, or a certificate is already set),
 * RQ_ERR_IO (a file cannot be read) or RQ_ERR_CERTIFICATE (not a usable certificate or key,
 * or the key does not match the certificate). */
int rq_tls_config_load_cert_files(rq_tls_config *cfg, const char *cert_pem_path,
                                  const char *key_pem_path);

/* Server: generates in memory a self-signed Ed25519 certificate for host (a DNS name, or an
 * IPv4/IPv6 literal that also goes in as an IP address SAN), valid from 2020 to
 * 99991231235959Z (no clock is read). For demos and tests: clients must run insecure or trust
 * it some other way. Returns 0, RQ_ERR_INVALID_ARG (not a server, empty host, certificate
 * already set) or RQ_ERR_CRYPTO. */
int rq_tls_config_make_ephemeral_cert(rq_tls_config *cfg, const char *host);

/* Client: trusts the system's CA store. Returns 0, RQ_ERR_INVALID_ARG (not a client) or
 * RQ_ERR_CERTIFICATE (no system store, or it holds no certificate). */
int rq_tls_config_trust_system(rq_tls_config *cfg);

/* Client: trusts the CA certificates in a PEM file (may be called again to add more).
 * Returns 0, RQ_ERR_INVALID_ARG, RQ_ERR_IO (unreadable) or RQ_ERR_CERTIFICATE (no
 * certificate in it). */
int rq_tls_config_trust_ca_file(rq_tls_config *cfg, const char *ca_pem_path);

/* Client: skip certificate verification entirely (insecure; for tests and demos). Without
 * this, a client with no trust configured fails every handshake: there is nothing to verify
 * the server against. Returns 0 or RQ_ERR_INVALID_ARG (not a client). */
int rq_tls_config_set_insecure(rq_tls_config *cfg, bool insecure);

/* Restricts the TLS 1.3 cipher suites to mask (RQ_TLS_CIPHER bits; preference stays
 * AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305). Returns 0 or RQ_ERR_INVALID_ARG (empty mask
 * or unknown bits). */
int rq_tls_config_set_ciphers(rq_tls_config *cfg, unsigned mask);

/* Installs a key-log sink (NULL fn removes it). ctx is borrowed and passed back to fn.
 * Without a sink no key is logged (GnuTLS's own SSLKEYLOGFILE handling is overridden, so
 * the library never writes files by itself). */
void rq_tls_config_set_keylog(rq_tls_config *cfg, rq_tls_keylog_fn fn, void *ctx);

/* ---- session (tls.c) ---------------------------------------------------------------------- */

typedef enum rq_tls_event_type {
    RQ_TLS_EV_CRYPTO_OUT = 1,            /* bytes to send in CRYPTO frames at level */
    RQ_TLS_EV_SECRET = 2,                /* a traffic secret for level and dir */
    RQ_TLS_EV_PEER_TRANSPORT_PARAMS = 3, /* the peer's encoded transport parameters */
    RQ_TLS_EV_HANDSHAKE_COMPLETE = 4,    /* TLS finished; alpn is the negotiated protocol */
} rq_tls_event_type;

typedef enum rq_tls_direction { RQ_TLS_READ = 0, RQ_TLS_WRITE = 1 } rq_tls_direction;

/* One event. data/len: the CRYPTO bytes, the secret, the transport parameters or the ALPN
 * (len 0 and data NULL when empty: no ALPN negotiated, empty parameters). level: for
 * CRYPTO_OUT and SECRET (informational for the others). dir and alg: for SECRET only — which
 * direction the secret protects, and the AEAD of its suite (the secret is
 * rq_aead_alg_secret_len(alg) bytes). Memory is owned by the rq_tls and stays valid until
 * the next rq_tls_poll, rq_tls_recv_crypto, rq_tls_start or rq_tls_free on that rq_tls;
 * secrets are wiped when their memory is released. */
typedef struct rq_tls_event {
    rq_tls_event_type type;
    rq_crypto_level level;
    rq_tls_direction dir;
    rq_aead_alg alg;
    const uint8_t *data;
    size_t len;
} rq_tls_event;

/* Creates the TLS session of one connection. cfg is borrowed (must outlive *out). sni: the
 * server name a client sends and verifies the certificate against (required for a client,
 * ignored for a server; an IP literal is verified against IP SANs and not sent as SNI, RFC
 * 6066 §3). tp/tp_len: our encoded transport parameters, copied, sent in the
 * quic_transport_parameters extension (RFC 9000 §7.3, RFC 9001 §8.2). Returns 0,
 * RQ_ERR_INVALID_ARG (client without sni, server without certificate, tp_len > 65535),
 * RQ_ERR_NOMEM or RQ_ERR_CRYPTO (GnuTLS refused the setup). */
int rq_tls_new(const rq_tls_config *cfg, const char *sni, const uint8_t *tp, size_t tp_len,
               rq_tls **out);

/* Frees the session, its pending events and wipes secrets (NULL is a no-op). */
void rq_tls_free(rq_tls *tls);

/* Starts the handshake: a client produces its ClientHello (a CRYPTO_OUT event at INITIAL);
 * a server does nothing and waits for one. Call once. Returns 0, RQ_ERR_INVALID_ARG (called
 * twice) or RQ_ERR_TLS / RQ_ERR_NOMEM / RQ_ERR_LIMIT (fatal, see above). */
int rq_tls_start(rq_tls *tls);

/* Feeds CRYPTO bytes the connection reassembled for level, in order and without gaps (RFC
 * 9000 §7.5), then lets TLS progress; new events wait in the queue. Never EARLY_DATA (no
 * CRYPTO frames in 0-RTT, RFC 9000 §12.4). After completion, APPLICATION bytes are
 * post-handshake messages (NewSessionTicket); a KeyUpdate there is fatal (RFC 9001 §6:
 * 0x010a). Returns 0 (including "need more bytes"), RQ_ERR_INVALID_ARG (bad level, before
 * rq_tls_start) or a fatal error: RQ_ERR_TLS (see rq_tls_transport_error),
 * RQ_ERR_CRYPTO_BUFFER_EXCEEDED, RQ_ERR_NOMEM, RQ_ERR_LIMIT. */
int rq_tls_recv_crypto(rq_tls *tls, rq_crypto_level level, const uint8_t *data, size_t len);

/* Takes the next event in the order TLS produced them (a SECRET for a level comes before the
 * CRYPTO_OUT that must be sent under it). Returns true and fills *ev, or false when the queue
 * is empty (the previous event's memory is then released). */
bool rq_tls_poll(rq_tls *tls, rq_tls_event *ev);

/* The QUIC transport error code the connection closes with after a fatal error: 0x0100 +
 * the TLS alert for handshake failures (RFC 9001 §4.8), 0x0d after
 * RQ_ERR_CRYPTO_BUFFER_EXCEEDED, 0x01 (INTERNAL_ERROR) after RQ_ERR_NOMEM/RQ_ERR_LIMIT; 0
 * while the session has not failed. */
uint64_t rq_tls_transport_error(const rq_tls *tls);

/* True once the TLS handshake is complete (RFC 9001 §4.1.1). */
bool rq_tls_is_complete(const rq_tls *tls);

/* The negotiated AEAD. Returns 0 or RQ_ERR_AGAIN (no suite negotiated yet). */
int rq_tls_negotiated_alg(const rq_tls *tls, rq_aead_alg *alg);

/* The negotiated ALPN protocol: points into the session (valid until rq_tls_free), *len
 * bytes, not NUL-terminated. Returns 0 or RQ_ERR_AGAIN (none negotiated, or not yet). */
int rq_tls_alpn(const rq_tls *tls, const uint8_t **proto, size_t *len);

/* Client: true when the server's certificate chain was verified against the configured
 * trust and the SNI name during a handshake that completed; false in insecure mode, for a
 * server, or before completion. */
bool rq_tls_peer_verified(const rq_tls *tls);

#ifdef RQ_TEST_HOOKS
/* TEST ONLY: makes tls omit the quic_transport_parameters extension, so that tests can prove
 * the peer's missing_extension handling (RFC 9001 §8.2). Call before rq_tls_start. A real
 * connection never calls this; only builds with RQ_TEST_HOOKS (tests, never the installed
 * library) have it. */
void rq_tls_test_omit_transport_params(rq_tls *tls);
#endif

#endif
