/* roamquic — endpoints, connections, streams and events: the poll-style API.
 *
 * The application owns the sockets and the clock. It pushes each received datagram in with
 * rq_endpoint_recv, pulls datagrams to send with rq_endpoint_send (each says which path —
 * local and remote address — it is for), sleeps until rq_endpoint_next_timeout and then calls
 * rq_endpoint_on_timeout, and pulls events with rq_endpoint_poll_event. Nothing is called
 * back. Time is an rq_time in nanoseconds on a monotonic clock of the application's choosing;
 * it must never go backwards.
 *
 * Threading: an endpoint and its connections are used by one thread at a time (any thread,
 * as long as calls do not overlap). Different endpoints are independent.
 *
 * Lifetimes: connections belong to their endpoint. An rq_conn pointer stays valid until the
 * application has polled that connection's RQ_EV_CLOSED event and then makes any further call
 * on the endpoint; rq_endpoint_free frees everything.
 */
#ifndef ROAMQUIC_ENDPOINT_H
#define ROAMQUIC_ENDPOINT_H

#include <roamquic/config.h>
#include <roamquic/error.h>
#include <roamquic/types.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rq_endpoint rq_endpoint;
typedef struct rq_conn rq_conn;

/* A received datagram and the path it came on (remote = its source, local = the address it
 * was sent to). The bytes are only read during rq_endpoint_recv. */
typedef struct rq_datagram {
    rq_path_addr path;
    const uint8_t *data;
    size_t len;
} rq_datagram;

/* A datagram to send: the caller provides buf/cap (at least 1200 bytes; 1500 is plenty);
 * rq_endpoint_send fills len, path and flow_label. */
typedef struct rq_datagram_out {
    rq_path_addr path;
    uint8_t *buf;
    size_t cap;
    size_t len;
    /* IPv6 only: the 20-bit flow label to send the datagram with (RFC 9000 §9.7, RFC 6437),
     * e.g. through IPV6_FLOWINFO / sin6_flowinfo. A keyed hash of the path and the connection
     * ID in use: constant for one path and CID, unlinkable across them; stateless replies
     * (Version Negotiation, Retry, Stateless Reset) get a fresh random one. 0 for IPv4. */
    uint32_t flow_label;
} rq_datagram_out;

typedef enum rq_event_type {
    RQ_EV_NONE = 0,
    RQ_EV_CONNECTED = 1,         /* the handshake completed (conn) */
    RQ_EV_ACCEPTED = 2,          /* server: a new connection from a client (conn) */
    RQ_EV_STREAM_OPENED = 3,     /* the peer opened stream_id */
    RQ_EV_STREAM_READABLE = 4,   /* stream_id has data (or its FIN) to read */
    RQ_EV_STREAM_WRITABLE = 5,   /* stream_id can take more data */
    RQ_EV_STREAM_RESET = 6,      /* the peer reset stream_id with error_code */
    RQ_EV_STREAM_STOPPED = 7,    /* the peer asked us to stop sending on stream_id */
    RQ_EV_CLOSED = 8,            /* the connection is closed; error_code/app/reason say why */
    RQ_EV_STREAMS_AVAILABLE = 9, /* the peer raised its stream limit (uni says which kind) */
    RQ_EV_PATH_VALIDATED = 10,   /* path_id answered our PATH_CHALLENGE; rtt is the round trip */
    RQ_EV_PATH_FAILED = 11,      /* path_id did not validate in time (RFC 9000 §8.2.4) */
    RQ_EV_PATH_ACTIVE = 12, /* path_id now carries the connection (we moved, or the peer did) */
} rq_event_type;

typedef struct rq_event {
    rq_event_type type;
    rq_conn *conn;
    int64_t stream_id;
    uint64_t error_code; /* RQ_EV_STREAM_RESET/STOPPED: the app code; CLOSED: the close code */
    bool app_error;      /* CLOSED: error_code is an application code (else transport) */
    bool by_peer;        /* CLOSED: the peer closed (else we did, or the idle timer) */
    bool uni;            /* STREAMS_AVAILABLE: unidirectional (else bidirectional) streams */
    uint32_t path_id;    /* PATH_*: the path (0 is the handshake's) */
    rq_time rtt;         /* PATH_VALIDATED: the challenge's round trip */
} rq_event;

/* A new endpoint using cfg (borrowed: it must outlive the endpoint). rnd supplies every
 * random byte the protocol needs (CIDs, path challenges, tokens); NULL uses GnuTLS's
 * generator. *err (may be NULL) gets the reason when NULL is returned. */
RQ_API rq_endpoint *rq_endpoint_new(const rq_config *cfg, rq_random_fn rnd, void *rnd_ctx,
                                    int *err);

/* Frees the endpoint and all its connections, without sending anything (NULL is fine). */
RQ_API void rq_endpoint_free(rq_endpoint *ep);

/* Processes one received datagram. Malformed or unexpected datagrams are dropped (return 0);
 * a negative return means a local failure (RQ_ERR_NOMEM). */
RQ_API int rq_endpoint_recv(rq_endpoint *ep, rq_time now, const rq_datagram *dg);

/* Writes the next datagram to send into out->buf and sets out->len and out->path. Returns 1
 * when a datagram was written, 0 when there is nothing to send now, or a negative rq_err. */
RQ_API int rq_endpoint_send(rq_endpoint *ep, rq_time now, rq_datagram_out *out);

/* When rq_endpoint_on_timeout should next be called (RQ_TIME_NEVER if nothing is pending). */
RQ_API rq_time rq_endpoint_next_timeout(rq_endpoint *ep);

/* Runs the timers that are due at now (loss detection, ACK delay, idle, draining...). */
RQ_API void rq_endpoint_on_timeout(rq_endpoint *ep, rq_time now);

/* Takes the next event; false when there is none. */
RQ_API bool rq_endpoint_poll_event(rq_endpoint *ep, rq_event *ev);

/* Client: starts a connection on path (local may be unspecified: family RQ_AF_NONE) to a
 * server named sni (checked against its certificate). Returns 0 and *conn, or
 * RQ_ERR_INVALID_ARG (a server endpoint, no sni; or, with a zero-length local CID, another
 * connection of this endpoint on the same local address: only the address would tell them
 * apart, RFC 9000 §5.1), RQ_ERR_NOMEM, RQ_ERR_TLS. */
RQ_API int rq_connect(rq_endpoint *ep, rq_time now, const rq_path_addr *path, const char *sni,
                      rq_conn **conn);

/* Closes a connection with an application error code and reason (RFC 9000 §10.2): a
 * CONNECTION_CLOSE goes out, then the connection drains. */
RQ_API int rq_conn_close(rq_conn *conn, rq_time now, uint64_t app_error, const char *reason);

/* Client: starts validating a new path (RFC 9000 §8.2, §9.1): local and/or remote address
 * other than the current ones. Only probing frames go there (PATH_CHALLENGE, PATH_RESPONSE,
 * NEW_CONNECTION_ID, PADDING) until rq_conn_migrate; it uses a connection ID of the server's
 * that no other path uses (§9.5). Several paths may be probed at once. *path_id identifies it
 * in RQ_EV_PATH_VALIDATED / RQ_EV_PATH_FAILED. Returns 0, RQ_ERR_AGAIN (the handshake is not
 * confirmed yet, or the server has given no spare connection ID yet: retry later),
 * RQ_ERR_INVALID_ARG (a server, an existing path, the server sent disable_active_migration
 * (§18.2), or it uses zero-length connection IDs (§9.5)), RQ_ERR_LIMIT (too many paths). */
RQ_API int rq_conn_probe_path(rq_conn *conn, rq_time now, const rq_path_addr *path,
                              uint32_t *path_id);

/* Client: moves the connection to path_id (RFC 9000 §9.2): all later packets go there. Make
 * before break: probe first and move once RQ_EV_PATH_VALIDATED came; break before make
 * (moving to a path not validated yet, when the old one is dead) is allowed too. The new path
 * starts with a fresh congestion controller and RTT estimator (seeded with the probe's round
 * trip); packets in flight on the old path stop counting (§9.4); the old path's connection ID
 * is retired (§5.1.2). Returns 0 or RQ_ERR_INVALID_ARG (not a client, unknown path, the
 * handshake not confirmed, or migration disabled by the server). */
RQ_API int rq_conn_migrate(rq_conn *conn, rq_time now, uint32_t path_id);

/* Replaces every connection ID this endpoint has given the peer so far (RFC 9000 §5.1.2):
 * new ones go out with Retire Prior To above all the old ones, which the peer must retire.
 * The old ones stay usable until the peer has retired them (MIG-5.1.2-02); a second rotation
 * waits until it has (MIG-5.1.2-06). Returns 0, RQ_ERR_AGAIN (the handshake is not confirmed,
 * or the previous rotation is not finished) or RQ_ERR_INVALID_ARG (zero-length CIDs). */
RQ_API int rq_conn_rotate_cids(rq_conn *conn, rq_time now);

/* The current path's addresses and its smoothed RTT (for reports). */
RQ_API int rq_conn_path_info(const rq_conn *conn, uint32_t path_id, rq_path_addr *addr,
                             rq_time *smoothed_rtt, bool *validated);

/* One path's figures, for reports and tools. Path ids are slots: once a path is dropped its
 * id may be reused by a later path (compare the addresses). */
typedef struct rq_path_stats {
    rq_path_addr addr;
    rq_time smoothed_rtt;
    bool validated;
    bool active;             /* the path the connection sends on now */
    uint64_t bytes_sent;     /* UDP payload bytes sent on this path */
    uint64_t bytes_received; /* UDP payload bytes received on this path */
} rq_path_stats;

/* Fills *st for path_id. Returns 0 or RQ_ERR_INVALID_ARG (no such path now). */
RQ_API int rq_conn_path_stats(const rq_conn *conn, uint32_t path_id, rq_path_stats *st);

/* Sends a PING whenever the connection has been idle for interval (0 turns it off), to keep
 * NAT bindings alive (RFC 9308 §3.2: some expire after ~30 s). */
RQ_API void rq_conn_set_keepalive(rq_conn *conn, rq_time interval);

/* Starts a 1-RTT key update now (RFC 9001 §6). The library also updates keys by itself well
 * before the AEAD confidentiality limit (§6.6). Returns 0, RQ_ERR_AGAIN (not allowed yet: the
 * handshake is not confirmed, or the previous update is not acknowledged), or
 * RQ_ERR_INVALID_ARG (not an established connection). */
RQ_API int rq_conn_update_keys(rq_conn *conn, rq_time now);

/* The connection's negotiated ALPN (NULL/0 before the handshake or without ALPN). */
RQ_API const uint8_t *rq_conn_alpn(const rq_conn *conn, size_t *len);

/* Streams (RFC 9000 §2). Opens a local stream; RQ_ERR_STREAM_LIMIT while the peer's limit
 * is reached (RQ_EV_STREAMS_AVAILABLE tells when it rises), also before the handshake has told
 * us the peer's limits. */
RQ_API int rq_stream_open(rq_conn *conn, bool bidi, int64_t *stream_id);

/* Queues data (and FIN) on a stream. Returns the bytes accepted (possibly fewer than len
 * when the send buffer is full: wait for RQ_EV_STREAM_WRITABLE), or a negative rq_err
 * (RQ_ERR_STREAM_STATE: not a sending stream, already finished or reset). */
RQ_API ptrdiff_t rq_stream_write(rq_conn *conn, int64_t stream_id, const void *data, size_t len,
                                 bool fin);

/* Reads in-order data. Returns the bytes read (0 with *fin false: nothing now), and sets *fin
 * once the FIN has been read; or a negative rq_err. */
RQ_API ptrdiff_t rq_stream_read(rq_conn *conn, int64_t stream_id, void *buf, size_t cap, bool *fin);

/* Abandons sending (RESET_STREAM) or receiving (STOP_SENDING) with an application code. */
RQ_API int rq_stream_reset(rq_conn *conn, int64_t stream_id, uint64_t app_error);
RQ_API int rq_stream_stop_sending(rq_conn *conn, int64_t stream_id, uint64_t app_error);

#ifdef __cplusplus
}
#endif
#endif
