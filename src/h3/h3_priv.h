/* HTTP/3 over roamquic (src/h3): the state shared by its files. h3.c drives one connection
 * (proto.h's app_h3); h3_streams.c keeps the table of streams; h3_callbacks.c holds what
 * libnghttp3 calls back. */
#ifndef RQ_H3_PRIV_H
#define RQ_H3_PRIV_H

#include "apps/proto.h"

#include <nghttp3/nghttp3.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Response body bytes handed to nghttp3 at a time (one DATA frame each). */
#define H3_CHUNK      32768
#define H3_METHOD_MAX 16

typedef enum h3_kind {
    H3_LOCAL_UNI, /* our control / QPACK encoder / QPACK decoder stream (never closed) */
    H3_PEER_UNI,  /* the peer's unidirectional streams: fed to nghttp3 until they end */
    H3_REQUEST,   /* a request stream (client-initiated bidirectional) */
} h3_kind;

typedef struct h3_stream {
    int64_t id;
    h3_kind kind;
    bool rx_done; /* receiving side over: FIN passed to nghttp3, reset, or STOP_SENDING sent */
    bool tx_done; /* sending side over: FIN taken by the QUIC stream, or reset */
    bool blocked; /* the QUIC stream took less than offered: nghttp3_conn_block_stream'd */
    /* client */
    uint64_t req;
    int status;       /* :status of the header block being read */
    bool status_told; /* on_status was called */
    bool complete;    /* nghttp3 saw the whole response (end_stream) */
    /* server */
    bool req_complete, responded;
    char method[H3_METHOD_MAX + 1];
    char path[APP_PATH_MAX + 1];
    bool method_long, path_long, have_path;
    app_body body;      /* the response body (fd -1 when none) */
    uint8_t *chunk;     /* body bytes nghttp3 holds until they are acknowledged */
    size_t outstanding; /* bytes of chunk not yet acknowledged */
    bool read_blocked;  /* read_data returned WOULDBLOCK: resume once chunk is free */
    bool body_failed;   /* the body could not be read: the stream was reset */
} h3_stream;

struct app_proto {
    rq_conn *conn;
    bool server;
    app_hooks hooks;
    nghttp3_conn *h3;
    nghttp3_mem mem;
    int64_t uni[3]; /* control, QPACK encoder, QPACK decoder: -1 until opened */
    bool ready;     /* all three are open and bound */
    uint64_t err;   /* the application error code to close the connection with, or 0 */
    bool goaway;    /* client: the server sent GOAWAY with goaway_id */
    int64_t goaway_id;
    h3_stream **v;
    size_t n, cap;
};

/* h3_streams.c: the table of streams (linear: a connection has a few hundred at most). */
h3_stream *h3_find(const app_proto *p, int64_t id);
h3_stream *h3_add(app_proto *p, int64_t id, h3_kind kind);
/* Removes s from the table and frees it (closing its body); the caller reports on_done. */
void h3_free_stream(app_proto *p, h3_stream *s);

/* h3_callbacks.c */
extern const nghttp3_callbacks h3_callbacks;
/* nghttp3's allocations through rq_mem_* (so that tests see leaks in rq_mem_live). */
void h3_mem_init(nghttp3_mem *mem);

#endif
