/* hq-interop (src/apps/hq.c) against a client that writes its own streams, over real UDP
 * sockets on 127.0.0.1: a request whose FIN comes in a later frame than its line (a late event
 * on an answered request used to start a second one and reset the response with 400), and a
 * request reset before any of it left (the server used to leave its side open for good).
 * Bounded at 10 s each. */
#include "apps/proto.h"
#include "io/loop.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#include <string.h>

#define BODY 3000000u

typedef enum twist { FIN_LATER, RESET_AT_ONCE } twist;

typedef struct hq_run {
    twist how;
    rq_conn *cconn, *sconn;
    app_proto *sp;
    int64_t stream;
    int step;
    uint64_t got, bad;
    bool fin, reset_seen, closed;
} hq_run;

static int serve(void *ctx, rq_conn *conn, const char *path, app_body *body)
{
    (void)ctx;
    (void)conn;
    if (strcmp(path, "/body") != 0)
        return 404;
    app_body_generated(body, BODY);
    return 200;
}

static void server_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    hq_run *r = ctx;
    (void)now;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && !r->sp) {
            app_hooks hooks = {.on_request = serve, .ctx = r};
            r->sconn = ev.conn;
            r->sp = app_hq.attach(ev.conn, true, &hooks);
        } else if (ev.type == RQ_EV_CLOSED) {
            app_hq.detach(r->sp);
            r->sp = NULL;
        } else if (r->sp) {
            app_hq.on_event(r->sp, &ev);
        }
    }
    if (r->sp)
        app_hq.flush(r->sp);
}

static void read_body(hq_run *r)
{
    uint8_t buf[16384];
    for (;;) {
        bool fin = false;
        ptrdiff_t n = rq_stream_read(r->cconn, r->stream, buf, sizeof buf, &fin);
        for (ptrdiff_t i = 0; i < n; i++)
            r->bad += buf[i] != app_body_gen_byte(r->got + (uint64_t)i);
        if (n > 0)
            r->got += (uint64_t)n;
        r->fin |= fin;
        if (n <= 0 || fin)
            return;
    }
}

static void client_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    hq_run *r = ctx;
    (void)now;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && r->step == 0) {
            static const char line[] = "GET /body\r\n";
            if (rq_stream_open(r->cconn, true, &r->stream) == 0 &&
                rq_stream_write(r->cconn, r->stream, line, sizeof line - 1, r->how != FIN_LATER) ==
                    (ptrdiff_t)(sizeof line - 1))
                r->step = 1;
            if (r->how == RESET_AT_ONCE && r->step == 1) /* before any of it left */
                r->step = rq_stream_reset(r->cconn, r->stream, 0x10c) == 0 ? 2 : 1;
        } else if (ev.type == RQ_EV_STREAM_READABLE && ev.stream_id == r->stream) {
            read_body(r);
        } else if (ev.type == RQ_EV_STREAM_RESET) {
            r->reset_seen = true;
        } else if (ev.type == RQ_EV_CLOSED) {
            r->closed = true;
        }
    }
    /* Once part of the response is in: the FIN alone, in a frame of its own. */
    if (r->how == FIN_LATER && r->step == 1 && r->got > 0) {
        r->step = 2;
        (void)rq_stream_write(r->cconn, r->stream, NULL, 0, true);
    }
}

static rq_config *config(rq_role role)
{
    static const char *const alpn[] = {"hq-interop"};
    rq_config *cfg = rq_config_new(role);
    if (cfg && (rq_config_set_alpn(cfg, alpn, 1) ||
                (role == RQ_ROLE_SERVER ? rq_config_make_ephemeral_cert(cfg, "localhost")
                                        : rq_config_set_insecure(cfg, true)))) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void run(twist how)
{
    hq_run r;
    memset(&r, 0, sizeof r);
    r.how = how;
    r.stream = -1;
    rq_config *sc = config(RQ_ROLE_SERVER), *cc = config(RQ_ROLE_CLIENT);
    rq_endpoint *sep = rq_endpoint_new(sc, NULL, NULL, NULL);
    rq_endpoint *cep = rq_endpoint_new(cc, NULL, NULL, NULL);
    rq_io_loop *loop = rq_io_loop_new();
    RQ_CHECK(sc && cc && sep && cep && loop);
    size_t si, ci;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0), sa, ca;
    RQ_CHECK_ERR(rq_io_add_endpoint(loop, sep, server_events, &r, &si), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_endpoint(loop, cep, client_events, &r, &ci), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(loop, si, &lo, &sa), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(loop, ci, &lo, &ca), RQ_OK);
    rq_time start = rq_io_now();
    rq_path_addr path = {ca, sa};
    RQ_CHECK_ERR(rq_connect(cep, start, &path, "localhost", &r.cconn), RQ_OK);
    while (!r.fin && !r.reset_seen && !r.closed && rq_io_now() - start < 10 * RQ_SEC)
        RQ_CHECK_ERR(rq_io_turn(loop, 50 * RQ_MS), RQ_OK);
    printf("  %llu of %u bytes, %s\n", (unsigned long long)r.got, BODY,
           r.fin          ? "FIN"
           : r.reset_seen ? "RESET"
                          : "stalled");
    RQ_CHECK_EQ_INT(r.step, 2);
    if (how == FIN_LATER) {
        RQ_CHECK(!r.reset_seen);
        RQ_CHECK(r.fin);
        RQ_CHECK_EQ_U64(r.got, BODY);
    } else { /* the server closes its side of the abandoned request */
        RQ_CHECK(r.reset_seen);
        RQ_CHECK_EQ_U64(r.got, 0);
    }
    RQ_CHECK_EQ_U64(r.bad, 0);
    app_hq.detach(r.sp);
    rq_io_loop_free(loop);
    rq_endpoint_free(cep);
    rq_endpoint_free(sep);
    rq_config_free(sc);
    rq_config_free(cc);
}

/* RFC 9000 §3.2 (a stream's FIN may come in a frame of its own): the answered request stays
 * answered. */
static void test_hq_fin_in_a_later_frame(void)
{
    run(FIN_LATER);
}

/* RFC 9000 §3.2, §3.5: a request reset before any of it was sent reaches the server as a
 * RESET_STREAM alone; the server resets its own side, so the stream ends both ways. */
static void test_hq_request_reset_at_once(void)
{
    run(RESET_AT_ONCE);
}

int main(void)
{
    RQ_RUN(test_hq_fin_in_a_later_frame);
    RQ_RUN(test_hq_request_reset_at_once);
    return rq_test_summary();
}
