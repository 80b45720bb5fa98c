/* HTTP/3 (src/h3, app_h3 of src/apps/proto.h, through libnghttp3) between a roamquic server
 * and client over real UDP sockets on 127.0.0.1, driven by the I/O loop: ALPN "h3" on both
 * sides (RFC 9114 §3.1), control and QPACK streams (§6.2.1, RFC 9204 §4.2), GET requests on
 * bidirectional streams (§4.1) answered with :status and content (§4.3.2), concurrent and
 * verified byte by byte. Every run is bounded (20 s of real time) and leaves no allocation
 * behind (rq_mem_live). */
#include "apps/proto.h"
#include "core/alloc.h"
#include "h3/h3_priv.h" /* the client's GOAWAY state */
#include "io/loop.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#include <stdlib.h>
#include <string.h>

#define MAX_REQ   8
#define RUN_LIMIT (20 * RQ_SEC)

typedef struct result {
    int status;
    int status_calls, done_calls;
    bool complete;
    uint64_t got, bad;
} result;

typedef struct run {
    rq_io_loop *loop;
    size_t cli, srv;
    rq_addr srv_addr;
    rq_conn *cconn, *sconn;
    app_proto *cp, *sp;
    int reject_status; /* server: answer everything with this status (0: serve /gen/N) */
    const char *paths[MAX_REQ];
    int nreq, sent;
    result res[MAX_REQ];
    uint64_t detach_after; /* client: detach once this many bytes of request 0 arrived */
    bool detached, srv_closed, cli_closed, alpn_ok;
    int64_t kill_stream; /* client: once all requests are done, reset (or stop) this stream */
    bool kill_by_stop, killed;
    uint64_t cerr, serr;
    uint64_t goaway_after; /* server: send GOAWAY once request 0 has this many bytes through */
    bool goaway_sent, late_tried;
    int late_rc; /* client: what a request made after the GOAWAY arrived returned */
} run;

/* ---- server hooks ---- */

static int serve(void *ctx, rq_conn *conn, const char *path, app_body *body)
{
    run *r = ctx;
    (void)conn;
    if (r->reject_status)
        return r->reject_status;
    if (strncmp(path, "/gen/", 5) == 0) {
        char *end;
        unsigned long long n = strtoull(path + 5, &end, 10);
        if (*end == '\0' && end != path + 5) {
            app_body_generated(body, n);
            return 200;
        }
    }
    return 404;
}

/* ---- client hooks ---- */

static void got_status(void *ctx, uint64_t req, int status)
{
    run *r = ctx;
    r->res[req].status = status;
    r->res[req].status_calls++;
}

static void got_data(void *ctx, uint64_t req, const uint8_t *data, size_t len)
{
    result *res = &((run *)ctx)->res[req];
    for (size_t i = 0; i < len; i++)
        res->bad += data[i] != app_body_gen_byte(res->got + i);
    res->got += len;
}

static void got_done(void *ctx, uint64_t req, bool complete)
{
    run *r = ctx;
    r->res[req].done_calls++;
    r->res[req].complete = complete;
}

static bool all_done(const run *r)
{
    for (int i = 0; i < r->nreq; i++)
        if (r->res[i].done_calls == 0)
            return false;
    return true;
}

static bool requests_done(const run *r)
{
    return r->sent == r->nreq && all_done(r);
}

/* ---- the endpoints' turns ---- */

static void check_error(rq_conn *conn, app_proto *p, rq_time now, uint64_t *err)
{
    uint64_t e = app_h3.error(p);
    if (e && !*err) {
        *err = e;
        (void)rq_conn_close(conn, now, e, "h3 error");
    }
}

static void server_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    run *r = ctx;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && !r->sp) {
            app_hooks hooks = {.on_request = serve, .ctx = r};
            r->sconn = ev.conn;
            r->sp = app_h3.attach(ev.conn, true, &hooks);
        } else if (ev.type == RQ_EV_CLOSED) {
            app_h3.detach(r->sp);
            r->sp = NULL;
            r->srv_closed = true;
        } else if (r->sp && ev.conn == r->sconn) {
            app_h3.on_event(r->sp, &ev);
        }
    }
    if (r->sp && r->goaway_after && !r->goaway_sent && r->res[0].got >= r->goaway_after) {
        app_h3.goaway(r->sp);
        r->goaway_sent = true;
    }
    if (r->sp) {
        app_h3.flush(r->sp);
        check_error(r->sconn, r->sp, now, &r->serr);
    }
}

static void client_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    run *r = ctx;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && !r->cp && !r->detached) {
            size_t len;
            const uint8_t *alpn = rq_conn_alpn(ev.conn, &len);
            /* RFC 9114 §3.1: "h3" is what both sides negotiated; the tools pick by it. */
            r->alpn_ok = app_proto_for_alpn(alpn, len) == &app_h3;
            app_hooks hooks = {
                .on_status = got_status, .on_data = got_data, .on_done = got_done, .ctx = r};
            r->cp = app_h3.attach(ev.conn, false, &hooks);
        } else if (ev.type == RQ_EV_CLOSED) {
            app_h3.detach(r->cp);
            r->cp = NULL;
            r->cli_closed = true;
        } else if (r->cp) {
            app_h3.on_event(r->cp, &ev);
        }
    }
    if (!r->cp)
        return;
    /* All requests at once (concurrent streams, RFC 9114 §4.1); a stream limit just delays. */
    while (r->sent < r->nreq) {
        int rc = app_h3.request(r->cp, "localhost", r->paths[r->sent], (uint64_t)r->sent);
        if (rc == RQ_ERR_STREAM_LIMIT)
            break;
        if (rc) {
            r->cerr = 1;
            break;
        }
        r->sent++;
    }
    if (r->goaway_sent && !r->late_tried && r->cp->goaway) {
        r->late_tried = true;
        r->late_rc = app_h3.request(r->cp, "localhost", "/gen/10", 1);
    }
    app_h3.flush(r->cp);
    check_error(r->cconn, r->cp, now, &r->cerr);
    if (r->kill_stream >= 0 && !r->killed && requests_done(r)) {
        r->killed = true;
        if (r->kill_by_stop)
            (void)rq_stream_stop_sending(r->cconn, r->kill_stream, 0x100 /* H3_NO_ERROR */);
        else
            (void)rq_stream_reset(r->cconn, r->kill_stream, 0x100);
    }
    if (r->detach_after && r->res[0].got >= r->detach_after) {
        /* proto.h: detach ends unfinished requests with on_done(false). */
        app_h3.detach(r->cp);
        r->cp = NULL;
        r->detached = true;
        (void)rq_conn_close(r->cconn, now, 0x100 /* H3_NO_ERROR */, "done");
    }
}

static rq_config *config(rq_role role)
{
    static const char *const alpn[] = {"h3"};
    rq_config *cfg = rq_config_new(role);
    if (!cfg)
        return NULL;
    int rc = rq_config_set_alpn(cfg, alpn, 1);
    if (!rc)
        rc = role == RQ_ROLE_SERVER ? rq_config_make_ephemeral_cert(cfg, "localhost")
                                    : rq_config_set_insecure(cfg, true);
    if (rc) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Runs the client's requests against the server until stop() holds or the time is up. */
static bool run_h3(run *r, bool (*stop)(const run *))
{
    int64_t live0 = rq_mem_live();
    rq_config *sc = config(RQ_ROLE_SERVER), *cc = config(RQ_ROLE_CLIENT);
    rq_endpoint *sep = sc ? rq_endpoint_new(sc, NULL, NULL, NULL) : NULL;
    rq_endpoint *cep = cc ? rq_endpoint_new(cc, NULL, NULL, NULL) : NULL;
    r->loop = rq_io_loop_new();
    bool ok = sep && cep && r->loop;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0), cli_addr = lo;
    ok = ok && rq_io_add_endpoint(r->loop, sep, server_events, r, &r->srv) == RQ_OK;
    ok = ok && rq_io_add_endpoint(r->loop, cep, client_events, r, &r->cli) == RQ_OK;
    ok = ok && rq_io_add_socket(r->loop, r->srv, &lo, &r->srv_addr) == RQ_OK;
    ok = ok && rq_io_add_socket(r->loop, r->cli, &lo, &cli_addr) == RQ_OK;
    rq_time start = rq_io_now();
    rq_path_addr path = {cli_addr, r->srv_addr};
    ok = ok && rq_connect(cep, start, &path, "localhost", &r->cconn) == RQ_OK;
    while (ok && !stop(r) && !r->cerr && !r->serr && rq_io_now() - start < RUN_LIMIT)
        ok = rq_io_turn(r->loop, 50 * RQ_MS) == RQ_OK;
    if (rq_io_now() - start >= RUN_LIMIT)
        fprintf(stderr, "  timed out\n");
    printf("  %d request(s) in %.3f s\n", r->nreq, (double)(rq_io_now() - start) / 1e9);
    app_h3.detach(r->cp);
    app_h3.detach(r->sp);
    r->cp = r->sp = NULL;
    rq_io_loop_free(r->loop);
    rq_endpoint_free(cep);
    rq_endpoint_free(sep);
    rq_config_free(sc);
    rq_config_free(cc);
    if (rq_mem_live() != live0) {
        fprintf(stderr, "  %lld allocation(s) left behind\n", (long long)(rq_mem_live() - live0));
        ok = false;
    }
    return ok;
}

static void check_body(const result *res, uint64_t size)
{
    RQ_CHECK_EQ_INT(res->status_calls, 1);
    RQ_CHECK_EQ_INT(res->status, 200);
    RQ_CHECK_EQ_INT(res->done_calls, 1);
    RQ_CHECK(res->complete);
    RQ_CHECK_EQ_U64(res->got, size);
    RQ_CHECK_EQ_U64(res->bad, 0);
}

/* RFC 9114 §4.1: several GETs at once, each on its own request stream; each response is
 * :status 200 and the whole generated body (§4.1.2, content-length), byte for byte, whatever
 * its size (empty, one byte, a chunk multiple, 8 MB); an unknown path gets 404 with no content
 * (§4.3.2), its request still reported done, exactly once. */
static void test_h3_concurrent_gets_rfc9114_4_1(void)
{
    static const uint64_t sizes[] = {8u << 20, 0, 1, 65536, 300001};
    run r;
    memset(&r, 0, sizeof r);
    r.kill_stream = -1;
    r.paths[0] = "/gen/8388608";
    r.paths[1] = "/gen/0";
    r.paths[2] = "/gen/1";
    r.paths[3] = "/gen/65536";
    r.paths[4] = "/gen/300001";
    r.paths[5] = "/missing";
    r.nreq = 6;
    RQ_CHECK(run_h3(&r, requests_done));
    RQ_CHECK_EQ_U64(r.cerr, 0);
    RQ_CHECK_EQ_U64(r.serr, 0);
    RQ_CHECK(r.alpn_ok);
    for (int i = 0; i < 5; i++) {
        check_body(&r.res[i], sizes[i]);
        if (rq_test_case_failed_) {
            fprintf(stderr, "  request %d (%s)\n", i, r.paths[i]);
            return;
        }
    }
    RQ_CHECK_EQ_INT(r.res[5].status, 404);
    RQ_CHECK_EQ_INT(r.res[5].status_calls, 1);
    RQ_CHECK_EQ_INT(r.res[5].done_calls, 1);
    RQ_CHECK(r.res[5].complete);
    RQ_CHECK_EQ_U64(r.res[5].got, 0);
}

/* RFC 9114 §4.3.2: a server whose application refuses (on_request returns 403) answers with
 * that :status and no content; the client sees the status and the end of the response. */
static void test_h3_rejected_request_status_rfc9114_4_3_2(void)
{
    run r;
    memset(&r, 0, sizeof r);
    r.kill_stream = -1;
    r.reject_status = 403;
    r.paths[0] = "/gen/1000";
    r.paths[1] = "/index.html";
    r.nreq = 2;
    RQ_CHECK(run_h3(&r, requests_done));
    RQ_CHECK_EQ_U64(r.cerr, 0);
    RQ_CHECK_EQ_U64(r.serr, 0);
    for (int i = 0; i < 2; i++) {
        RQ_CHECK_EQ_INT(r.res[i].status, 403);
        RQ_CHECK_EQ_INT(r.res[i].status_calls, 1);
        RQ_CHECK_EQ_INT(r.res[i].done_calls, 1);
        RQ_CHECK(r.res[i].complete);
        RQ_CHECK_EQ_U64(r.res[i].got, 0);
    }
}

static bool server_closed(const run *r)
{
    return r->srv_closed;
}

/* proto.h, RFC 9114 §4.1.1: a client giving up midway (detach, then CONNECTION_CLOSE with
 * H3_NO_ERROR) reports its unfinished request once, as incomplete; the server, in the middle
 * of a 64 MB body, lets go of it when the connection closes. */
static void test_h3_detach_ends_unfinished_request_rfc9114_4_1_1(void)
{
    run r;
    memset(&r, 0, sizeof r);
    r.kill_stream = -1;
    r.paths[0] = "/gen/67108864";
    r.nreq = 1;
    r.detach_after = 100000;
    RQ_CHECK(run_h3(&r, server_closed));
    RQ_CHECK(r.detached);
    RQ_CHECK_EQ_U64(r.cerr, 0);
    RQ_CHECK_EQ_U64(r.serr, 0);
    RQ_CHECK_EQ_INT(r.res[0].status, 200);
    RQ_CHECK_EQ_INT(r.res[0].done_calls, 1);
    RQ_CHECK(!r.res[0].complete);
    RQ_CHECK(r.res[0].got >= 100000 && r.res[0].got < (64u << 20));
    RQ_CHECK_EQ_U64(r.res[0].bad, 0);
}

/* RFC 9114 §5.2: a server going away sends GOAWAY; the request in progress (below its stream
 * ID) still completes, and the client opens no new request afterwards. */
static void test_h3_goaway_lets_requests_finish_rfc9114_5_2(void)
{
    run r;
    memset(&r, 0, sizeof r);
    r.kill_stream = -1;
    r.paths[0] = "/gen/8388608";
    r.nreq = 1;
    r.goaway_after = 1000000;
    RQ_CHECK(run_h3(&r, all_done));
    RQ_CHECK(r.goaway_sent);
    RQ_CHECK(r.late_tried);                       /* the client saw the GOAWAY ... */
    RQ_CHECK_ERR(r.late_rc, RQ_ERR_STREAM_STATE); /* ... and takes no new request */
    RQ_CHECK_EQ_U64(r.cerr, 0);
    RQ_CHECK_EQ_U64(r.serr, 0);
    check_body(&r.res[0], 8388608);
}

static bool never(const run *r)
{
    (void)r;
    return false;
}

/* RFC 9114 §6.2.1: closing a control stream is a connection error of type
 * H3_CLOSED_CRITICAL_STREAM (0x104). The client resets its own control stream (the first
 * unidirectional stream it opened: 2), then, in a second connection, asks the server to stop
 * sending on the server's control stream (3); either way the server closes the connection
 * with 0x104. */
static void test_h3_closed_control_stream_is_error_rfc9114_6_2_1(void)
{
    for (int stop = 0; stop < 2; stop++) {
        run r;
        memset(&r, 0, sizeof r);
        r.paths[0] = "/gen/10";
        r.nreq = 1;
        r.kill_stream = stop ? 3 : 2;
        r.kill_by_stop = stop;
        RQ_CHECK(run_h3(&r, never));
        RQ_CHECK(r.killed);
        RQ_CHECK_EQ_U64(r.serr, 0x104);
        check_body(&r.res[0], 10);
    }
}

int main(void)
{
    RQ_RUN(test_h3_concurrent_gets_rfc9114_4_1);
    RQ_RUN(test_h3_rejected_request_status_rfc9114_4_3_2);
    RQ_RUN(test_h3_detach_ends_unfinished_request_rfc9114_4_1_1);
    RQ_RUN(test_h3_closed_control_stream_is_error_rfc9114_6_2_1);
    RQ_RUN(test_h3_goaway_lets_requests_finish_rfc9114_5_2);
    return rq_test_summary();
}
