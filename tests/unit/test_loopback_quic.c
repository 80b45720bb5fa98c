/* A roamquic client and server over real UDP sockets on 127.0.0.1 (src/io/udp.h), driven by
 * the I/O loop (src/io/loop.h: epoll, the monotonic clock): the client uploads 4 MB; a quarter
 * of the way it opens a second local port, probes it (RFC 9000 §9.1), moves there once it
 * validated (§9.2) and closes the old port at once, so the server must follow; every byte
 * arrives intact. The whole run is bounded (10 s of real time). */
#include "io/loop.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#include <string.h>
#include <time.h>

#define UPLOAD  (4u * 1024 * 1024)
#define MOVE_AT (UPLOAD / 4)

typedef struct run {
    rq_io_loop *loop;
    size_t cli, srv;
    rq_addr cli_addr[2], srv_addr;
    rq_conn *conn;
    int64_t stream;
    uint64_t sent, received, bad;
    bool fin, moved, probing, closed, old_closed;
    uint32_t probe_id;
} run;

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13);
}

static void write_more(run *r)
{
    uint8_t chunk[16384];
    while (r->stream >= 0 && r->sent < UPLOAD) {
        size_t n = UPLOAD - r->sent < sizeof chunk ? (size_t)(UPLOAD - r->sent) : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(r->sent + i);
        ptrdiff_t w = rq_stream_write(r->conn, r->stream, chunk, n, r->sent + n == UPLOAD);
        if (w <= 0)
            return;
        r->sent += (uint64_t)w;
    }
}

static void client_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    run *r = ctx;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && r->stream < 0)
            (void)rq_stream_open(r->conn, true, &r->stream);
        else if (ev.type == RQ_EV_PATH_VALIDATED && r->probing && ev.path_id == r->probe_id &&
                 rq_conn_migrate(r->conn, now, r->probe_id) == 0) {
            r->moved = true;
        } else if (ev.type == RQ_EV_CLOSED)
            r->closed = true;
    }
    write_more(r);
    /* Once moved, the old port is closed: the rest of the upload, and everything the server
     * sends, can only use the new one (what was in flight to the old port is lost). */
    if (r->moved && !r->old_closed) {
        rq_io_remove_socket(r->loop, r->cli, &r->cli_addr[0]);
        r->old_closed = true;
    }
    /* A quarter of the way: a second local port, probed, then moved to when it answers. */
    if (!r->probing && r->received >= MOVE_AT) {
        rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
        if (rq_io_add_socket(r->loop, r->cli, &lo, &r->cli_addr[1]) == 0) {
            rq_path_addr p = {r->cli_addr[1], r->srv_addr};
            r->probing = rq_conn_probe_path(r->conn, now, &p, &r->probe_id) == 0;
        }
    }
}

static void server_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    run *r = ctx;
    (void)now;
    rq_event ev;
    uint8_t buf[16384];
    while (rq_endpoint_poll_event(ep, &ev)) {
        if (ev.type == RQ_EV_CLOSED)
            r->closed = true;
        if (ev.type != RQ_EV_STREAM_READABLE)
            continue;
        for (;;) {
            bool fin = false;
            ptrdiff_t n = rq_stream_read(ev.conn, ev.stream_id, buf, sizeof buf, &fin);
            for (ptrdiff_t i = 0; i < n; i++)
                r->bad += buf[i] != pattern(r->received + (uint64_t)i);
            if (n > 0)
                r->received += (uint64_t)n;
            r->fin |= fin;
            if (n <= 0 || fin)
                break;
        }
    }
}

static rq_config *server_config(void)
{
    static const char *const alpn[] = {"rq-test"};
    rq_config *cfg = rq_config_new(RQ_ROLE_SERVER);
    if (cfg &&
        (rq_config_set_alpn(cfg, alpn, 1) || rq_config_make_ephemeral_cert(cfg, "localhost"))) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static rq_config *client_config(void)
{
    static const char *const alpn[] = {"rq-test"};
    rq_config *cfg = rq_config_new(RQ_ROLE_CLIENT);
    if (cfg && (rq_config_set_alpn(cfg, alpn, 1) || rq_config_set_insecure(cfg, true))) {
        rq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* RFC 9000 §9.1, §9.2 on real sockets: probe a second local port, move, upload completes. */
static void test_loopback_upload_with_port_migration_rfc9000_9_2(void)
{
    run r;
    memset(&r, 0, sizeof r);
    r.stream = -1;
    rq_config *sc = server_config(), *cc = client_config();
    RQ_CHECK(sc && cc);
    rq_endpoint *sep = rq_endpoint_new(sc, NULL, NULL, NULL);
    rq_endpoint *cep = rq_endpoint_new(cc, NULL, NULL, NULL);
    r.loop = rq_io_loop_new();
    RQ_CHECK(sep && cep && r.loop);
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_io_add_endpoint(r.loop, sep, server_events, &r, &r.srv), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_endpoint(r.loop, cep, client_events, &r, &r.cli), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(r.loop, r.srv, &lo, &r.srv_addr), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(r.loop, r.cli, &lo, &r.cli_addr[0]), RQ_OK);
    rq_time start = rq_io_now();
    rq_path_addr path = {r.cli_addr[0], r.srv_addr};
    RQ_CHECK_ERR(rq_connect(cep, start, &path, "localhost", &r.conn), RQ_OK);
    while (!r.fin && !r.closed && rq_io_now() - start < 10 * RQ_SEC)
        RQ_CHECK_ERR(rq_io_turn(r.loop, 50 * RQ_MS), RQ_OK);
    RQ_CHECK(r.fin);
    RQ_CHECK(!r.closed);
    RQ_CHECK_EQ_U64(r.received, UPLOAD);
    RQ_CHECK_EQ_U64(r.bad, 0);
    RQ_CHECK(r.moved && r.old_closed);
    rq_path_addr now_on;
    RQ_CHECK_ERR(rq_conn_path_info(r.conn, r.probe_id, &now_on, NULL, NULL), RQ_OK);
    RQ_CHECK(rq_addr_eq(&now_on.local, &r.cli_addr[1]));
    printf("  4 MB over loopback in %.3f s, moved from port %u to %u\n",
           (double)(rq_io_now() - start) / 1e9, r.cli_addr[0].port, r.cli_addr[1].port);
    rq_io_loop_free(r.loop);
    rq_endpoint_free(cep);
    rq_endpoint_free(sep);
    rq_config_free(sc);
    rq_config_free(cc);
}

static void no_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    (void)ctx;
    (void)now;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev))
        ;
}

/* The loop's refusals: an unknown endpoint, an address this host does not have, too many
 * endpoints; removing a socket that is not there changes nothing. */
static void test_io_loop_misuse(void)
{
    rq_io_loop *l = rq_io_loop_new();
    RQ_CHECK(l);
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0), foreign = rq_addr_v4(192, 0, 2, 1, 0);
    RQ_CHECK_ERR(rq_io_add_socket(l, 0, &lo, NULL), RQ_ERR_INVALID_ARG);
    rq_config *cc = client_config();
    rq_endpoint *ep = rq_endpoint_new(cc, NULL, NULL, NULL);
    size_t idx = 99;
    RQ_CHECK_ERR(rq_io_add_endpoint(l, NULL, no_events, NULL, &idx), RQ_ERR_INVALID_ARG);
    for (size_t i = 0; i < RQ_IO_MAX_ENDPOINTS; i++)
        RQ_CHECK_ERR(rq_io_add_endpoint(l, ep, no_events, NULL, &idx), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_endpoint(l, ep, no_events, NULL, &idx), RQ_ERR_LIMIT);
    RQ_CHECK_ERR(rq_io_add_socket(l, 0, &foreign, NULL), RQ_ERR_IO);
    rq_io_remove_socket(l, 0, &lo);
    RQ_CHECK_ERR(rq_io_turn(l, 0), RQ_OK);
    rq_io_loop_free(l);
    rq_endpoint_free(ep);
    rq_config_free(cc);
}

int main(void)
{
    RQ_RUN(test_loopback_upload_with_port_migration_rfc9000_9_2);
    RQ_RUN(test_io_loop_misuse);
    return rq_test_summary();
}
