/* hq-interop: HTTP/0.9 over QUIC, the interop runner's plain protocol. The client opens one
 * bidirectional stream per file and sends "GET /path\r\n" with FIN; the server answers with
 * the file's bytes and FIN. There are no headers and no status: a server that cannot serve a
 * request resets the stream with the HTTP status as the application error code. */
#include "apps/proto.h"
#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

#define HQ_CHUNK 16384

typedef struct hq_stream {
    int64_t id;
    uint64_t req;      /* client: the request number */
    bool have_body;    /* server: answering with body */
    bool request_done; /* server: the request line was read */
    bool status_told;  /* client: on_status was called */
    size_t req_len;    /* server: request bytes read so far */
    char line[APP_PATH_MAX + 16];
    app_body body;
    uint8_t *chunk; /* server: bytes read from the body that the stream has not taken yet */
    size_t chunk_off, chunk_len;
} hq_stream;

struct app_proto {
    rq_conn *conn;
    bool server;
    app_hooks hooks;
    hq_stream **streams;
    size_t n, cap;
    /* Server: request streams already answered or refused (the client's bidirectional IDs 0,
     * 4, 8...): all below done_low, and those listed above it. A late event for one (a
     * retransmitted or reordered frame) must not start a second request on it. */
    int64_t done_low;
    int64_t *done;
    size_t ndone, done_cap;
};

static bool done_has(const app_proto *p, int64_t id)
{
    if (id < p->done_low)
        return true;
    for (size_t i = 0; i < p->ndone; i++)
        if (p->done[i] == id)
            return true;
    return false;
}

/* Remembers a finished request stream (best effort: without memory, only this protection
 * is lost), folding the contiguous ones into done_low. */
static void done_add(app_proto *p, int64_t id)
{
    if (done_has(p, id))
        return;
    if (p->ndone == p->done_cap) {
        size_t cap = p->done_cap ? 2 * p->done_cap : 16;
        int64_t *d = rq_mem_realloc(p->done, cap * sizeof *d);
        if (!d)
            return;
        p->done = d;
        p->done_cap = cap;
    }
    p->done[p->ndone++] = id;
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < p->ndone; i++)
            if (p->done[i] == p->done_low) {
                p->done[i] = p->done[--p->ndone];
                p->done_low += 4;
                moved = true;
                break;
            }
    }
}

static hq_stream *find(app_proto *p, int64_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->streams[i]->id == id)
            return p->streams[i];
    return NULL;
}

static hq_stream *add(app_proto *p, int64_t id)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        hq_stream **s = rq_mem_realloc(p->streams, cap * sizeof *s);
        if (!s)
            return NULL;
        p->streams = s;
        p->cap = cap;
    }
    hq_stream *s = rq_mem_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = id;
    s->body.fd = -1;
    p->streams[p->n++] = s;
    return s;
}

/* Forgets a stream; a client's unfinished request is reported as failed. */
static void drop(app_proto *p, hq_stream *s, bool complete)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->streams[i] == s) {
            p->streams[i] = p->streams[--p->n];
            break;
        }
    if (p->server)
        done_add(p, s->id);
    else if (p->hooks.on_done)
        p->hooks.on_done(p->hooks.ctx, s->req, complete);
    app_body_close(&s->body);
    rq_mem_free(s->chunk);
    rq_mem_free(s);
}

static app_proto *hq_attach(rq_conn *conn, bool server, const app_hooks *hooks)
{
    app_proto *p = rq_mem_calloc(1, sizeof *p);
    if (p)
        *p = (app_proto){conn, server, *hooks, NULL, 0, 0, 0, NULL, 0, 0};
    return p;
}

static void hq_detach(app_proto *p)
{
    if (!p)
        return;
    while (p->n)
        drop(p, p->streams[p->n - 1], false);
    rq_mem_free(p->streams);
    rq_mem_free(p->done);
    rq_mem_free(p);
}

static int hq_request(app_proto *p, const char *authority, const char *path, uint64_t req)
{
    (void)authority;
    char line[APP_PATH_MAX + 16];
    int n = snprintf(line, sizeof line, "GET %s\r\n", path);
    if (p->server || path[0] != '/' || n < 0 || (size_t)n >= sizeof line)
        return RQ_ERR_INVALID_ARG;
    int64_t id;
    int rc = rq_stream_open(p->conn, true, &id);
    if (rc)
        return rc;
    hq_stream *s = add(p, id);
    if (!s) {
        (void)rq_stream_reset(p->conn, id, 0);
        return RQ_ERR_NOMEM;
    }
    s->req = req;
    /* A fresh stream's send buffer always takes a short request line whole. */
    ptrdiff_t w = rq_stream_write(p->conn, id, line, (size_t)n, true);
    if (w != n) {
        drop(p, s, false);
        return w < 0 ? (int)w : RQ_ERR_INTERNAL;
    }
    return 0;
}

/* Server: "GET /path" ends at the first line break (or at FIN without one). */
static int parse_request(hq_stream *s, char *path)
{
    s->line[s->req_len] = '\0';
    char *end = strpbrk(s->line, "\r\n");
    if (end)
        *end = '\0';
    if (strncmp(s->line, "GET ", 4) != 0 || s->line[4] != '/' ||
        strlen(s->line + 4) >= APP_PATH_MAX)
        return 400;
    strcpy(path, s->line + 4);
    return 0;
}

static void answer(app_proto *p, hq_stream *s)
{
    char path[APP_PATH_MAX];
    int status = parse_request(s, path);
    if (status == 0)
        status = p->hooks.on_request(p->hooks.ctx, p->conn, path, &s->body);
    /* The request side is done either way: stop reading it. */
    s->request_done = true;
    if (status != 200) {
        (void)rq_stream_reset(p->conn, s->id, (uint64_t)status);
        drop(p, s, false);
        return;
    }
    s->have_body = true;
    s->chunk = rq_mem_alloc(HQ_CHUNK);
    if (!s->chunk) {
        (void)rq_stream_reset(p->conn, s->id, 500);
        drop(p, s, false);
    }
}

static void read_request(app_proto *p, hq_stream *s)
{
    for (;;) {
        if (s->request_done) { /* anything after the request line is ignored */
            uint8_t sink[256];
            bool fin;
            if (rq_stream_read(p->conn, s->id, sink, sizeof sink, &fin) <= 0)
                return;
            continue;
        }
        bool fin = false;
        size_t room = sizeof s->line - 1 - s->req_len;
        ptrdiff_t n = rq_stream_read(p->conn, s->id, s->line + s->req_len, room, &fin);
        if (n < 0) {
            if (s->req_len == 0) /* the stream is gone already: nothing to answer */
                drop(p, s, false);
            return;
        }
        s->req_len += (size_t)n;
        bool line_end = memchr(s->line, '\n', s->req_len) != NULL;
        if (line_end || fin || s->req_len == sizeof s->line - 1) {
            answer(p, s);
            return;
        }
        if (n == 0)
            return;
    }
}

static void read_response(app_proto *p, hq_stream *s)
{
    uint8_t buf[HQ_CHUNK];
    for (;;) {
        bool fin = false;
        ptrdiff_t n = rq_stream_read(p->conn, s->id, buf, sizeof buf, &fin);
        if (n < 0)
            return;
        if ((n > 0 || fin) && !s->status_told) {
            s->status_told = true;
            if (p->hooks.on_status)
                p->hooks.on_status(p->hooks.ctx, s->req, 200);
        }
        if (n > 0 && p->hooks.on_data)
            p->hooks.on_data(p->hooks.ctx, s->req, buf, (size_t)n);
        if (fin) {
            drop(p, s, true);
            return;
        }
        if (n == 0)
            return;
    }
}

/* Server: moves body bytes into the stream until it takes no more; false once finished. */
static bool send_body(app_proto *p, hq_stream *s)
{
    for (;;) {
        if (s->chunk_off == s->chunk_len) {
            long r = app_body_read(&s->body, s->chunk, HQ_CHUNK);
            if (r < 0) {
                (void)rq_stream_reset(p->conn, s->id, 500);
                return false;
            }
            s->chunk_off = 0;
            s->chunk_len = (size_t)r;
        }
        bool last = s->body.off == s->body.size;
        size_t want = s->chunk_len - s->chunk_off;
        ptrdiff_t w = rq_stream_write(p->conn, s->id, s->chunk + s->chunk_off, want, last);
        if (w < 0)
            return false; /* reset or stopped meanwhile */
        s->chunk_off += (size_t)w;
        if ((size_t)w < want)
            return true;
        if (last)
            return false;
    }
}

static void hq_flush(app_proto *p)
{
    for (size_t i = 0; i < p->n;) {
        hq_stream *s = p->streams[i];
        if (p->server && s->have_body && !send_body(p, s)) {
            drop(p, s, true);
            continue; /* the last stream moved into slot i */
        }
        i++;
    }
}

/* A stream event for a stream without a record. Server: a new request, unless that stream
 * was answered already; client: its own finished requests stay quiet, anything else is a
 * stream hq-interop does not use. Returns the new record, or NULL. */
static hq_stream *unknown_stream(app_proto *p, int64_t id)
{
    bool client_bidi = (id & 3) == 0;
    if (p->server && client_bidi)
        return done_has(p, id) ? NULL : add(p, id);
    if (!p->server && client_bidi)
        return NULL;
    (void)rq_stream_stop_sending(p->conn, id, 0);
    return NULL;
}

static void hq_on_event(app_proto *p, const rq_event *ev)
{
    hq_stream *s = find(p, ev->stream_id);
    switch (ev->type) {
    case RQ_EV_STREAM_OPENED:
    case RQ_EV_STREAM_READABLE:
        if (!s && !(s = unknown_stream(p, ev->stream_id)))
            return;
        if (p->server)
            read_request(p, s);
        else
            read_response(p, s);
        break;
    case RQ_EV_STREAM_RESET:
        if (!s) {
            /* Server: a request abandoned before any of it arrived; close our side too, or
             * the stream would hold its slot for the rest of the connection. */
            if (p->server && (ev->stream_id & 3) == 0 && !done_has(p, ev->stream_id)) {
                (void)rq_stream_reset(p->conn, ev->stream_id, ev->error_code);
                done_add(p, ev->stream_id);
            }
            break;
        }
        /* A server already answering has the whole request: the client resetting its
         * (finished) sending side changes nothing, the response goes on. Before that, the
         * request is abandoned and so is our side of the stream. */
        if (p->server && s->have_body)
            break;
        if (p->server)
            (void)rq_stream_reset(p->conn, s->id, ev->error_code);
        drop(p, s, false); /* client: the response was cut off */
        break;
    case RQ_EV_STREAM_STOPPED:
        /* A server no longer wanted to send the response: stop it. A client's request is
         * complete already, and servers may stop reading once they have it (quiche's does):
         * the response still comes. */
        if (s && p->server) {
            (void)rq_stream_reset(p->conn, s->id, ev->error_code);
            drop(p, s, false);
        }
        break;
    default:
        break;
    }
}

static uint64_t hq_error(const app_proto *p)
{
    (void)p;
    return 0;
}

const app_proto_ops app_hq = {"hq-interop", hq_attach, hq_detach, hq_request, hq_on_event,
                              hq_flush,     hq_error,  NULL,      0};
