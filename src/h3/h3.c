/* HTTP/3 (RFC 9114) through libnghttp3 0.8, as proto.h's app_h3 ("h3").
 *
 * nghttp3 does the framing, QPACK and message checks; this file moves bytes between it and
 * the roamquic streams. Everything a stream receives goes to nghttp3_conn_read_stream; what
 * nghttp3_conn_writev_stream produces goes to rq_stream_write, which copies it into the
 * library's send buffer (the library retransmits), so the bytes count as acknowledged for
 * nghttp3 as soon as they are accepted. A response body is read from its app_body a chunk at
 * a time into a buffer that nghttp3 holds until that acknowledgement.
 *
 * A stream is done with once both its sides are over (FIN or reset each way); then
 * nghttp3_conn_close_stream frees nghttp3's state and the table forgets it. Data that still
 * shows up for a forgotten stream is only a FIN seen again: a stream the table does not know
 * is new only when it brings bytes. */
#include "core/alloc.h"
#include "h3/h3_priv.h"

#include <stdio.h>
#include <string.h>

#define H3_READ_BUF 16384

/* A connection error (RFC 9114 §8): the first one is what error() reports. */
static void fail_code(app_proto *p, uint64_t code)
{
    if (!p->err)
        p->err = code;
}

static void fail(app_proto *p, int liberr)
{
    fail_code(p, nghttp3_err_infer_quic_app_error_code(liberr));
}

static bool peer_initiated(const app_proto *p, int64_t id)
{
    /* RFC 9000 §2.1: bit 0 is set on server-initiated streams. */
    return ((id & 1) != 0) == !p->server;
}

static bool is_bidi(int64_t id)
{
    return (id & 2) == 0;
}

/* ---- setup ---- */

/* RFC 9114 §6.2.1, RFC 9204 §4.2: each side opens one control stream and the QPACK encoder
 * and decoder streams. The peer must allow three unidirectional streams (RFC 9114 §6.2);
 * until it does, this is tried again on RQ_EV_STREAMS_AVAILABLE and in flush. */
static void setup_streams(app_proto *p)
{
    for (size_t i = 0; i < 3; i++) {
        if (p->uni[i] >= 0)
            continue;
        int64_t id;
        int rc = rq_stream_open(p->conn, false, &id);
        if (rc == RQ_ERR_STREAM_LIMIT)
            return;
        if (rc) {
            fail_code(p, NGHTTP3_H3_INTERNAL_ERROR);
            return;
        }
        if (!h3_add(p, id, H3_LOCAL_UNI)) {
            (void)rq_stream_reset(p->conn, id, NGHTTP3_H3_INTERNAL_ERROR);
            fail_code(p, NGHTTP3_H3_INTERNAL_ERROR);
            return;
        }
        p->uni[i] = id;
    }
    int rv = nghttp3_conn_bind_control_stream(p->h3, p->uni[0]);
    if (!rv)
        rv = nghttp3_conn_bind_qpack_streams(p->h3, p->uni[1], p->uni[2]);
    if (rv) {
        fail(p, rv);
        return;
    }
    p->ready = true;
}

static app_proto *h3_attach(rq_conn *conn, bool server, const app_hooks *hooks)
{
    app_proto *p = rq_mem_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conn = conn;
    p->server = server;
    p->hooks = *hooks;
    p->uni[0] = p->uni[1] = p->uni[2] = -1;
    h3_mem_init(&p->mem);
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    /* RFC 9204 §3.2.3, §2.1.2: the peer's encoder may use a dynamic table, but may not block
     * a stream on it: nghttp3 would buffer a blocked stream's data without bound while the
     * transport has already given the credit back (rq_stream_read), so a hostile peer could
     * grow our memory at will. A blocking reference is a decompression error instead. */
    settings.qpack_max_dtable_capacity = 4096;
    settings.qpack_blocked_streams = 0;
    int rv = server ? nghttp3_conn_server_new(&p->h3, &h3_callbacks, &settings, &p->mem, p)
                    : nghttp3_conn_client_new(&p->h3, &h3_callbacks, &settings, &p->mem, p);
    if (rv) {
        rq_mem_free(p);
        return NULL;
    }
    /* roamquic enforces the stream limit it advertises; nghttp3 needs a bound only to check
     * stream IDs in PRIORITY_UPDATE (RFC 9218 §7.1), so give it the largest. */
    if (server)
        nghttp3_conn_set_max_client_streams_bidi(p->h3, (1ull << 60) - 1);
    setup_streams(p);
    return p;
}

/* Forgets a stream; a client's request ends here (complete or not, exactly once). */
static void drop(app_proto *p, h3_stream *s)
{
    bool report = !p->server && s->kind == H3_REQUEST;
    uint64_t req = s->req;
    bool complete = s->complete;
    h3_free_stream(p, s);
    if (report && p->hooks.on_done)
        p->hooks.on_done(p->hooks.ctx, req, complete);
}

static void h3_detach(app_proto *p)
{
    if (!p)
        return;
    nghttp3_conn_del(p->h3); /* first: it holds pointers to the streams' chunks */
    p->h3 = NULL;
    while (p->n) {
        h3_stream *s = p->v[p->n - 1];
        if (s->kind == H3_REQUEST && !s->tx_done)
            (void)rq_stream_reset(p->conn, s->id, NGHTTP3_H3_REQUEST_CANCELLED);
        drop(p, s);
    }
    rq_mem_free(p->v);
    rq_mem_free(p);
}

/* ---- the client's requests ---- */

static int h3_request(app_proto *p, const char *authority, const char *path, uint64_t req)
{
    if (p->server || !authority || !*authority || !path || path[0] != '/' ||
        strlen(path) > APP_PATH_MAX)
        return RQ_ERR_INVALID_ARG;
    if (p->err)
        return RQ_ERR_STREAM_STATE;
    if (!p->ready)
        return RQ_ERR_STREAM_LIMIT; /* our control streams first (STREAMS_AVAILABLE) */
    if (p->goaway)
        return RQ_ERR_STREAM_STATE; /* RFC 9114 §5.2: no new requests after GOAWAY */
    int64_t id;
    int rc = rq_stream_open(p->conn, true, &id);
    if (rc)
        return rc;
    h3_stream *s = h3_add(p, id, H3_REQUEST);
    if (!s) {
        (void)rq_stream_reset(p->conn, id, NGHTTP3_H3_INTERNAL_ERROR);
        return RQ_ERR_NOMEM;
    }
    s->req = req;
    /* RFC 9114 §4.3.1: a GET carries :method, :scheme, :authority and :path; no content, so
     * HEADERS ends the stream. */
    const nghttp3_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
         NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"user-agent", (uint8_t *)"roamquic", 10, 8, NGHTTP3_NV_FLAG_NONE},
    };
    int rv = nghttp3_conn_submit_request(p->h3, id, nv, sizeof nv / sizeof nv[0], NULL, s);
    if (rv) {
        (void)rq_stream_reset(p->conn, id, NGHTTP3_H3_INTERNAL_ERROR);
        (void)nghttp3_conn_set_stream_user_data(p->h3, id, NULL);
        h3_free_stream(p, s); /* not reported: the caller learns it from the return */
        if (nghttp3_err_is_fatal(rv))
            fail(p, rv);
        return rv == NGHTTP3_ERR_NOMEM ? RQ_ERR_NOMEM : RQ_ERR_INTERNAL;
    }
    return 0;
}

/* ---- the server's responses ---- */

/* nghttp3 asks for response body bytes. The chunk it gets must stay put until acknowledged,
 * which is as soon as the QUIC stream took it; until then there is nothing more to give. */
static nghttp3_ssize read_body(nghttp3_conn *conn, int64_t id, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, void *user, void *stream_user)
{
    (void)conn;
    (void)veccnt;
    app_proto *p = user;
    h3_stream *s = stream_user ? stream_user : h3_find(p, id);
    if (!s || s->body_failed)
        return NGHTTP3_ERR_WOULDBLOCK;
    if (s->outstanding) {
        s->read_blocked = true;
        return NGHTTP3_ERR_WOULDBLOCK;
    }
    long r = app_body_read(&s->body, s->chunk, H3_CHUNK);
    if (r < 0) {
        /* RFC 9114 §4.1.1: a response that cannot be completed is aborted. */
        s->body_failed = true;
        (void)rq_stream_reset(p->conn, id, NGHTTP3_H3_INTERNAL_ERROR);
        s->tx_done = true;
        return NGHTTP3_ERR_WOULDBLOCK;
    }
    if (s->body.off == s->body.size)
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
    if (r == 0)
        return 0;
    s->outstanding = (size_t)r;
    vec[0].base = s->chunk;
    vec[0].len = (size_t)r;
    return 1;
}

static int path_to_status(const h3_stream *s)
{
    /* RFC 9110 §9.3.1: GET is what this server does; anything else is 405. */
    if (s->method_long || strcmp(s->method, "GET") != 0)
        return 405;
    if (s->path_long)
        return 414;
    if (!s->have_path || s->path[0] != '/')
        return 400;
    return 0;
}

static void respond(app_proto *p, h3_stream *s)
{
    s->responded = true;
    int status = path_to_status(s);
    if (status == 0)
        status = p->hooks.on_request(p->hooks.ctx, p->conn, s->path, &s->body);
    if (status == 200 && !(s->chunk = rq_mem_alloc(H3_CHUNK))) {
        app_body_close(&s->body);
        status = 500;
    }
    if (status < 100 || status > 999)
        status = 500;
    char status_str[4], length_str[24];
    snprintf(status_str, sizeof status_str, "%d", status);
    snprintf(length_str, sizeof length_str, "%llu",
             status == 200 ? (unsigned long long)s->body.size : 0ull);
    /* RFC 9114 §4.3.2: :status; content-length lets the client check that it got all
     * (RFC 9114 §4.1.2). RFC 9110 §15.5.6: a 405 says what is allowed. */
    nghttp3_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)status_str, 7, strlen(status_str), NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"server", (uint8_t *)"roamquic", 6, 8, NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)length_str, 14, strlen(length_str),
         NGHTTP3_NV_FLAG_NONE},
        {(uint8_t *)"allow", (uint8_t *)"GET", 5, 3, NGHTTP3_NV_FLAG_NONE},
    };
    size_t nvlen = status == 405 ? 4 : 3;
    nghttp3_data_reader dr = {read_body};
    (void)nghttp3_conn_set_stream_user_data(p->h3, s->id, s);
    int rv = nghttp3_conn_submit_response(p->h3, s->id, nv, nvlen, status == 200 ? &dr : NULL);
    if (rv) {
        if (nghttp3_err_is_fatal(rv))
            fail(p, rv);
        (void)rq_stream_reset(p->conn, s->id, NGHTTP3_H3_INTERNAL_ERROR);
        s->tx_done = true;
    }
}

/* ---- housekeeping after nghttp3 returned ---- */

static void close_stream(app_proto *p, h3_stream *s, uint64_t code)
{
    int rv = nghttp3_conn_close_stream(p->h3, s->id, code);
    /* RFC 9114 §6.2.1, RFC 9204 §4.2: a control or QPACK stream must never end. */
    if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
        fail(p, rv);
    drop(p, s);
}

/* Answers complete requests, resumes bodies whose chunk is free again, and forgets streams
 * that are over. */
static void settle(app_proto *p)
{
    for (size_t i = 0; i < p->n && !p->err;) {
        h3_stream *s = p->v[i];
        if (s->kind == H3_PEER_UNI && s->rx_done) {
            close_stream(p, s, NGHTTP3_H3_NO_ERROR);
            continue; /* the last stream moved into slot i */
        }
        if (s->kind != H3_REQUEST) {
            i++;
            continue;
        }
        /* RFC 9114 §4.1: the server answers once the request is complete. */
        if (p->server && s->req_complete && !s->responded && p->ready)
            respond(p, s);
        if (s->read_blocked && !s->outstanding && !s->body_failed) {
            s->read_blocked = false;
            int rv = nghttp3_conn_resume_stream(p->h3, s->id);
            if (rv)
                fail(p, rv);
        }
        /* RFC 9114 §5.2: requests from the GOAWAY's stream ID on were not and will not be
         * processed: they end, unfinished. */
        if (!p->server && p->goaway && s->id >= p->goaway_id && !(s->rx_done && s->tx_done)) {
            if (!s->tx_done)
                (void)rq_stream_reset(p->conn, s->id, NGHTTP3_H3_REQUEST_CANCELLED);
            if (!s->rx_done)
                (void)rq_stream_stop_sending(p->conn, s->id, NGHTTP3_H3_REQUEST_CANCELLED);
            s->complete = false;
            s->rx_done = s->tx_done = true;
        }
        if (s->rx_done && s->tx_done) {
            close_stream(p, s, NGHTTP3_H3_NO_ERROR);
            continue;
        }
        i++;
    }
}

/* ---- receiving ---- */

static void read_stream(app_proto *p, int64_t id)
{
    h3_stream *s = h3_find(p, id);
    if (s && (s->rx_done || s->kind == H3_LOCAL_UNI))
        return;
    if (!s && !peer_initiated(p, id))
        return; /* one of our request streams, already over */
    uint8_t buf[H3_READ_BUF];
    while (!p->err && !(s && s->rx_done)) {
        bool fin = false;
        ptrdiff_t n = rq_stream_read(p->conn, id, buf, sizeof buf, &fin);
        if (n < 0 || (n == 0 && !fin))
            return;
        if (!s) {
            if (n == 0)
                return; /* the FIN of a stream that is over, seen again */
            /* RFC 9114 §6.1: servers open no bidirectional streams (no extension here). */
            if (!p->server && is_bidi(id)) {
                fail_code(p, NGHTTP3_H3_STREAM_CREATION_ERROR);
                return;
            }
            s = h3_add(p, id, is_bidi(id) ? H3_REQUEST : H3_PEER_UNI);
            if (!s) {
                fail_code(p, NGHTTP3_H3_INTERNAL_ERROR);
                return;
            }
        }
        nghttp3_ssize rv = nghttp3_conn_read_stream(p->h3, id, buf, (size_t)n, fin);
        if (rv < 0) {
            fail(p, (int)rv);
            return;
        }
        if (fin)
            s->rx_done = true;
    }
}

/* The peer reset its sending side (RESET_STREAM). */
static void on_reset(app_proto *p, int64_t id)
{
    h3_stream *s = h3_find(p, id);
    if (!s || s->rx_done || s->kind == H3_LOCAL_UNI)
        return;
    int rv = nghttp3_conn_shutdown_stream_read(p->h3, id);
    if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
        fail(p, rv);
        return;
    }
    s->rx_done = true; /* a control or QPACK stream: close_stream in settle fails */
    if (s->kind != H3_REQUEST || s->tx_done)
        return;
    /* RFC 9114 §4.1.2: a request stream that ends without a complete request gets its
     * response aborted with H3_REQUEST_INCOMPLETE; a client whose response is reset gives up
     * the request (§4.1.1: H3_REQUEST_CANCELLED). */
    uint64_t code = p->server ? NGHTTP3_H3_REQUEST_INCOMPLETE : NGHTTP3_H3_REQUEST_CANCELLED;
    (void)rq_stream_reset(p->conn, id, code);
    nghttp3_conn_shutdown_stream_write(p->h3, id);
    s->tx_done = true;
}

/* The peer asked us to stop sending (STOP_SENDING). */
static void on_stopped(app_proto *p, int64_t id, uint64_t code)
{
    h3_stream *s = h3_find(p, id);
    if (!s)
        return;
    if (s->kind == H3_LOCAL_UNI) {
        /* RFC 9114 §6.2.1, RFC 9204 §4.2: our control and QPACK streams must stay open. */
        fail_code(p, NGHTTP3_H3_CLOSED_CRITICAL_STREAM);
        return;
    }
    if (s->tx_done)
        return;
    /* RFC 9000 §3.5: answer with RESET_STREAM. */
    (void)rq_stream_reset(p->conn, id, code);
    nghttp3_conn_shutdown_stream_write(p->h3, id);
    s->tx_done = true;
}

static void h3_on_event(app_proto *p, const rq_event *ev)
{
    if (p->err)
        return;
    switch (ev->type) {
    case RQ_EV_STREAM_OPENED:
    case RQ_EV_STREAM_READABLE:
        read_stream(p, ev->stream_id);
        break;
    case RQ_EV_STREAM_RESET:
        on_reset(p, ev->stream_id);
        break;
    case RQ_EV_STREAM_STOPPED:
        on_stopped(p, ev->stream_id, ev->error_code);
        break;
    case RQ_EV_STREAM_WRITABLE: {
        h3_stream *s = h3_find(p, ev->stream_id);
        if (s && s->blocked) {
            s->blocked = false;
            int rv = nghttp3_conn_unblock_stream(p->h3, s->id);
            if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
                fail(p, rv);
        }
        break;
    }
    case RQ_EV_STREAMS_AVAILABLE:
        if (!p->ready && ev->uni)
            setup_streams(p);
        break;
    default:
        break;
    }
    if (!p->err)
        settle(p);
}

/* ---- sending ---- */

/* Moves what nghttp3 has to send into the QUIC streams until they take no more. */
static void write_streams(app_proto *p)
{
    while (!p->err) {
        int64_t id = -1;
        int fin = 0;
        nghttp3_vec vec[16];
        nghttp3_ssize cnt = nghttp3_conn_writev_stream(p->h3, &id, &fin, vec, 16);
        if (cnt < 0) {
            fail(p, (int)cnt);
            return;
        }
        if (id < 0)
            return;
        h3_stream *s = h3_find(p, id);
        size_t total = (size_t)nghttp3_vec_len(vec, (size_t)cnt), taken = 0;
        bool broken = false;
        for (nghttp3_ssize i = 0; i < cnt; i++) {
            bool last = fin && i == cnt - 1;
            ptrdiff_t w = rq_stream_write(p->conn, id, vec[i].base, vec[i].len, last);
            if (w < 0) {
                broken = true;
                break;
            }
            taken += (size_t)w;
            if ((size_t)w < vec[i].len)
                break;
        }
        if (cnt == 0 && fin && rq_stream_write(p->conn, id, NULL, 0, true) < 0)
            broken = true;
        if (broken) {
            /* Reset meanwhile (by us, or for the peer's STOP_SENDING). */
            if (s && s->kind == H3_LOCAL_UNI) {
                fail_code(p, NGHTTP3_H3_CLOSED_CRITICAL_STREAM);
                return;
            }
            nghttp3_conn_shutdown_stream_write(p->h3, id);
            if (s)
                s->tx_done = true;
            continue;
        }
        int rv = nghttp3_conn_add_write_offset(p->h3, id, taken);
        if (!rv)
            rv = nghttp3_conn_add_ack_offset(p->h3, id, taken);
        if (rv) {
            fail(p, rv);
            return;
        }
        if (taken < total || (cnt == 0 && !fin)) {
            /* Flow control or a full send buffer: RQ_EV_STREAM_WRITABLE will say when. */
            nghttp3_conn_block_stream(p->h3, id);
            if (s)
                s->blocked = true;
            else
                return; /* nothing would unblock it: stop for this turn */
        } else if (fin && s) {
            s->tx_done = true;
        }
        if (s && s->read_blocked && !s->outstanding && !s->body_failed) {
            s->read_blocked = false;
            rv = nghttp3_conn_resume_stream(p->h3, id);
            if (rv) {
                fail(p, rv);
                return;
            }
        }
    }
}

static void h3_flush(app_proto *p)
{
    if (p->err)
        return;
    if (!p->ready)
        setup_streams(p);
    /* A WRITABLE event may have been coalesced or missed: each turn, try blocked ones again. */
    for (size_t i = 0; i < p->n && !p->err; i++) {
        h3_stream *s = p->v[i];
        if (s->blocked) {
            s->blocked = false;
            int rv = nghttp3_conn_unblock_stream(p->h3, s->id);
            if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
                fail(p, rv);
        }
    }
    settle(p);
    write_streams(p);
    if (!p->err)
        settle(p);
}

static uint64_t h3_error(const app_proto *p)
{
    return p->err;
}

/* RFC 9114 §5.2: the GOAWAY names the first request stream that will not be processed, so
 * everything the peer has sent so far still is. nghttp3_conn_shutdown sends it at once (a
 * notice a few round trips earlier only matters when a connection stays up afterwards). */
static void h3_goaway(app_proto *p)
{
    if (p->err || !p->ready)
        return;
    int rv = nghttp3_conn_shutdown(p->h3);
    if (rv)
        fail(p, rv);
}

const app_proto_ops app_h3 = {"h3",     h3_attach, h3_detach, h3_request, h3_on_event,
                              h3_flush, h3_error,  h3_goaway, 0x100};
