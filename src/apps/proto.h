/* Application protocols on a roamquic connection: hq-interop (HTTP/0.9 over QUIC, src/apps/hq.c)
 * and HTTP/3 (src/h3/, libnghttp3). The server and client tools drive either through this one
 * interface, chosen by the ALPN the handshake negotiated.
 *
 * The tool owns the connection and its event loop. It hands every stream event of a
 * connection to the protocol (on_event), calls flush once per loop turn so that bodies keep
 * flowing as flow control opens, and checks error() after each call: a non-zero value is the
 * application error code to close the connection with. */
#ifndef RQ_APPS_PROTO_H
#define RQ_APPS_PROTO_H

#include "apps/body.h"

#include <roamquic/roamquic.h>

#include <stdbool.h>
#include <stdint.h>

/* What the protocol asks of the tool. Server side: on_request; client side: the others. */
typedef struct app_hooks {
    /* Server: a GET for `path` (begins with '/', at most APP_PATH_MAX bytes). Returns 200 and
     * fills *body (the protocol streams it out and closes it), or an HTTP status (404, 400...)
     * and leaves *body alone. */
    int (*on_request)(void *ctx, rq_conn *conn, const char *path, app_body *body);
    /* Client: the response status of request `req` (hq-interop has none: 200 when data or
     * the end arrives). */
    void (*on_status)(void *ctx, uint64_t req, int status);
    /* Client: body bytes of request `req`, in order. */
    void (*on_data)(void *ctx, uint64_t req, const uint8_t *data, size_t len);
    /* Client: request `req` ended: complete (the whole body, FIN seen) or not (the stream was
     * reset, or the connection failed). Called exactly once per request. */
    void (*on_done)(void *ctx, uint64_t req, bool complete);
    void *ctx;
} app_hooks;

#define APP_PATH_MAX 1024

typedef struct app_proto app_proto; /* one connection's protocol state */

typedef struct app_proto_ops {
    const char *alpn; /* "hq-interop" or "h3" */
    /* After RQ_EV_CONNECTED. hooks is copied. NULL when out of memory. */
    app_proto *(*attach)(rq_conn *conn, bool server, const app_hooks *hooks);
    /* Frees the state, closing open bodies; reports on_done(false) for unfinished requests. */
    void (*detach)(app_proto *p);
    /* Client: GET path from authority (host[:port]) as request `req`. Returns 0, or
     * RQ_ERR_STREAM_LIMIT (retry after RQ_EV_STREAMS_AVAILABLE), or another rq_err. */
    int (*request)(app_proto *p, const char *authority, const char *path, uint64_t req);
    /* A stream event of this connection (READABLE, WRITABLE, OPENED, RESET, STOPPED,
     * STREAMS_AVAILABLE); others are ignored. */
    void (*on_event)(app_proto *p, const rq_event *ev);
    /* Writes what can be written now (response bodies, queued frames). */
    void (*flush)(app_proto *p);
    /* 0, or the application error code the connection must be closed with. */
    uint64_t (*error)(const app_proto *p);
    /* Announces that the connection is about to close (HTTP/3: GOAWAY, RFC 9114 §5.2): no
     * new requests are taken, those in progress go on. Goes out with the next flush. NULL
     * for protocols without such a message (hq-interop). */
    void (*goaway)(app_proto *p);
    /* The application error code of a clean close (HTTP/3: H3_NO_ERROR, RFC 9114 §8.1). */
    uint64_t no_error;
} app_proto_ops;

extern const app_proto_ops app_hq; /* src/apps/hq.c */
extern const app_proto_ops app_h3; /* src/h3/h3.c */

/* The protocol for a negotiated ALPN, or NULL. */
const app_proto_ops *app_proto_for_alpn(const uint8_t *alpn, size_t len);

#endif
