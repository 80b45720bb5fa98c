/* HTTP/3: what libnghttp3 calls back (h3_priv.h). The callbacks only record what happened,
 * pass body bytes and statuses on, and touch the QUIC streams; nghttp3 itself is called again
 * only once it has returned (h3.c), and on_done is reported from there too, so that a tool
 * starting its next request from on_done does not re-enter nghttp3. */
#include "core/alloc.h"
#include "h3/h3_priv.h"

#include <string.h>

static h3_stream *stream_of(app_proto *p, int64_t id, void *stream_user_data)
{
    return stream_user_data ? stream_user_data : h3_find(p, id);
}

static int on_acked(nghttp3_conn *conn, int64_t id, uint64_t datalen, void *user, void *stream_user)
{
    (void)conn;
    h3_stream *s = stream_of(user, id, stream_user);
    if (s)
        s->outstanding -= datalen < s->outstanding ? (size_t)datalen : s->outstanding;
    return 0;
}

static int on_recv_data(nghttp3_conn *conn, int64_t id, const uint8_t *data, size_t len, void *user,
                        void *stream_user)
{
    (void)conn;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    /* The server ignores request content (GET has none to speak of). */
    if (!p->server && s && len && p->hooks.on_data)
        p->hooks.on_data(p->hooks.ctx, s->req, data, len);
    return 0;
}

static void copy_field(char *dst, size_t cap, bool *too_long, nghttp3_rcbuf *value)
{
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    if (v.len >= cap || memchr(v.base, '\0', v.len)) {
        *too_long = true;
        return;
    }
    memcpy(dst, v.base, v.len);
    dst[v.len] = '\0';
}

static int on_recv_header(nghttp3_conn *conn, int64_t id, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *user, void *stream_user)
{
    (void)conn;
    (void)name;
    (void)flags;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    if (!s)
        return 0;
    if (p->server) {
        /* RFC 9114 §4.3.1: the request's pseudo-header fields (nghttp3 has checked that they
         * are present, once, and well formed). */
        if (token == NGHTTP3_QPACK_TOKEN__METHOD)
            copy_field(s->method, sizeof s->method, &s->method_long, value);
        else if (token == NGHTTP3_QPACK_TOKEN__PATH) {
            s->have_path = true;
            copy_field(s->path, sizeof s->path, &s->path_long, value);
        }
    } else if (token == NGHTTP3_QPACK_TOKEN__STATUS) {
        /* RFC 9114 §4.3.2: the three-digit :status (nghttp3 has checked its form). */
        nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
        int status = 0;
        for (size_t i = 0; i < v.len && i < 3; i++)
            status = status * 10 + (v.base[i] - '0');
        s->status = status;
    }
    return 0;
}

static int on_end_headers(nghttp3_conn *conn, int64_t id, int fin, void *user, void *stream_user)
{
    (void)conn;
    (void)fin;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    /* RFC 9114 §4.1: interim (1xx) responses may precede the final one; only the final status
     * is reported. */
    if (!p->server && s && s->status >= 200 && !s->status_told) {
        s->status_told = true;
        if (p->hooks.on_status)
            p->hooks.on_status(p->hooks.ctx, s->req, s->status);
    }
    return 0;
}

static int on_end_stream(nghttp3_conn *conn, int64_t id, void *user, void *stream_user)
{
    (void)conn;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    if (s) {
        if (p->server)
            s->req_complete = true;
        else
            s->complete = s->status_told;
    }
    return 0;
}

/* nghttp3 abandons reading a stream (e.g. a malformed message, RFC 9114 §4.1.2). */
static int on_stop_sending(nghttp3_conn *conn, int64_t id, uint64_t code, void *user,
                           void *stream_user)
{
    (void)conn;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    (void)rq_stream_stop_sending(p->conn, id, code);
    if (s)
        s->rx_done = true;
    return 0;
}

/* nghttp3 abandons sending on a stream. */
static int on_reset_stream(nghttp3_conn *conn, int64_t id, uint64_t code, void *user,
                           void *stream_user)
{
    (void)conn;
    app_proto *p = user;
    h3_stream *s = stream_of(p, id, stream_user);
    (void)rq_stream_reset(p->conn, id, code);
    if (s)
        s->tx_done = true;
    return 0;
}

/* RFC 9114 §5.2: GOAWAY. The client learns that requests on streams from id on will not be
 * processed; the server (told a push ID) has nothing to do. */
static int on_shutdown(nghttp3_conn *conn, int64_t id, void *user)
{
    (void)conn;
    app_proto *p = user;
    if (!p->server) {
        p->goaway = true;
        p->goaway_id = id;
    }
    return 0;
}

const nghttp3_callbacks h3_callbacks = {
    .acked_stream_data = on_acked,
    .recv_data = on_recv_data,
    .recv_header = on_recv_header,
    .end_headers = on_end_headers,
    .stop_sending = on_stop_sending,
    .end_stream = on_end_stream,
    .reset_stream = on_reset_stream,
    .shutdown = on_shutdown,
};

/* rq_mem_* returns NULL for zero bytes, which nghttp3 would take for out of memory. */
static void *mem_malloc(size_t size, void *user)
{
    (void)user;
    return rq_mem_alloc(size ? size : 1);
}

static void mem_free(void *ptr, void *user)
{
    (void)user;
    rq_mem_free(ptr);
}

static void *mem_calloc(size_t n, size_t size, void *user)
{
    (void)user;
    return n && size ? rq_mem_calloc(n, size) : rq_mem_calloc(1, 1);
}

static void *mem_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    return rq_mem_realloc(ptr, size ? size : 1);
}

void h3_mem_init(nghttp3_mem *mem)
{
    *mem = (nghttp3_mem){NULL, mem_malloc, mem_free, mem_calloc, mem_realloc};
}
