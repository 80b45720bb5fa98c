/* A roamquic client and server over real UDP sockets on 127.0.0.1 (src/io/udp.h), driven by
 * a poll loop on the monotonic clock: the client uploads 4 MB; halfway through it opens a
 * second local port, probes it (RFC 9000 §9.1), moves there once it validated (§9.2) and
 * closes the old port soon after, so the server must follow; every byte arrives intact. The
 * whole run is bounded (10 s of real time). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "io/udp.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#include <poll.h>
#include <string.h>
#include <time.h>

#define UPLOAD   (4u * 1024 * 1024)
#define MOVE_AT  (UPLOAD / 2)
#define MAX_SOCK 2

typedef struct side {
    rq_endpoint *ep;
    rq_udp_socket sock[MAX_SOCK];
    int nsock;
} side;

typedef struct run {
    side cli, srv;
    rq_conn *conn;
    int64_t stream;
    uint64_t sent, received, bad;
    bool fin, moved, probing, closed;
    uint32_t probe_id;
    rq_time moved_at;
} run;

static rq_time mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rq_time)ts.tv_sec * 1000000000u + (rq_time)ts.tv_nsec;
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13);
}

static rq_udp_socket *sock_for(side *s, const rq_addr *local)
{
    for (int i = 0; i < s->nsock; i++)
        if (s->sock[i].local.port == local->port)
            return &s->sock[i];
    return &s->sock[0];
}

static void flush(side *s, rq_time now)
{
    uint8_t buf[1500];
    for (int i = 0; i < 256; i++) {
        rq_datagram_out out = {.buf = buf, .cap = sizeof buf};
        if (rq_endpoint_send(s->ep, now, &out) != 1)
            return;
        (void)rq_udp_send(sock_for(s, &out.path.local), buf, out.len, &out.path, out.flow_label);
    }
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

static void client_events(run *r, rq_time now)
{
    rq_event ev;
    while (rq_endpoint_poll_event(r->cli.ep, &ev)) {
        if (ev.type == RQ_EV_CONNECTED && r->stream < 0)
            (void)rq_stream_open(r->conn, true, &r->stream);
        else if (ev.type == RQ_EV_PATH_VALIDATED && r->probing && ev.path_id == r->probe_id &&
                 rq_conn_migrate(r->conn, now, r->probe_id) == 0) {
            r->moved = true;
            r->moved_at = now;
        } else if (ev.type == RQ_EV_CLOSED)
            r->closed = true;
    }
    write_more(r);
    /* 50 ms after the move the old port is closed: the rest of the upload, and everything the
     * server sends, can only use the new one. */
    if (r->moved && r->cli.sock[0].fd >= 0 && now - r->moved_at > 50 * RQ_MS)
        rq_udp_close(&r->cli.sock[0]);
    /* Halfway: a second local port, probed, then moved to when it answers. */
    if (!r->probing && r->received >= MOVE_AT && r->cli.nsock == 1) {
        rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
        if (rq_udp_open(&r->cli.sock[1], &lo) == 0) {
            r->cli.nsock = 2;
            rq_path_addr p = {r->cli.sock[1].local, r->srv.sock[0].local};
            r->probing = rq_conn_probe_path(r->conn, now, &p, &r->probe_id) == 0;
        }
    }
}

static void server_events(run *r)
{
    rq_event ev;
    uint8_t buf[16384];
    while (rq_endpoint_poll_event(r->srv.ep, &ev)) {
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

static void receive(side *s, rq_time now)
{
    uint8_t buf[1500];
    for (int i = 0; i < s->nsock; i++) {
        size_t len;
        rq_path_addr p;
        while (rq_udp_recv(&s->sock[i], buf, sizeof buf, &len, &p) == 0) {
            rq_datagram dg = {p, buf, len};
            (void)rq_endpoint_recv(s->ep, now, &dg);
        }
    }
}

static void wait_io(run *r, rq_time now)
{
    rq_time t = rq_endpoint_next_timeout(r->cli.ep), ts = rq_endpoint_next_timeout(r->srv.ep);
    if (ts < t)
        t = ts;
    int ms = t <= now ? 0 : (t - now) / 1000000 > 50 ? 50 : (int)((t - now) / 1000000);
    struct pollfd fds[MAX_SOCK + 1];
    int n = 0;
    for (int i = 0; i < r->cli.nsock; i++)
        fds[n++] = (struct pollfd){.fd = r->cli.sock[i].fd, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = r->srv.sock[0].fd, .events = POLLIN};
    (void)poll(fds, (nfds_t)n, ms);
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
    r.srv.ep = rq_endpoint_new(sc, NULL, NULL, NULL);
    r.cli.ep = rq_endpoint_new(cc, NULL, NULL, NULL);
    RQ_CHECK(r.srv.ep && r.cli.ep);
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    RQ_CHECK_ERR(rq_udp_open(&r.srv.sock[0], &lo), RQ_OK);
    RQ_CHECK_ERR(rq_udp_open(&r.cli.sock[0], &lo), RQ_OK);
    r.srv.nsock = r.cli.nsock = 1;
    rq_time start = mono_now();
    rq_path_addr path = {r.cli.sock[0].local, r.srv.sock[0].local};
    RQ_CHECK_ERR(rq_connect(r.cli.ep, start, &path, "localhost", &r.conn), RQ_OK);
    while (!r.fin && !r.closed && mono_now() - start < 10 * RQ_SEC) {
        rq_time now = mono_now();
        receive(&r.cli, now);
        receive(&r.srv, now);
        if (rq_endpoint_next_timeout(r.cli.ep) <= now)
            rq_endpoint_on_timeout(r.cli.ep, now);
        if (rq_endpoint_next_timeout(r.srv.ep) <= now)
            rq_endpoint_on_timeout(r.srv.ep, now);
        client_events(&r, now);
        server_events(&r);
        flush(&r.cli, now);
        flush(&r.srv, now);
        wait_io(&r, now);
    }
    RQ_CHECK(r.fin);
    RQ_CHECK(!r.closed);
    RQ_CHECK_EQ_U64(r.received, UPLOAD);
    RQ_CHECK_EQ_U64(r.bad, 0);
    RQ_CHECK(r.moved);
    rq_path_addr now_on;
    RQ_CHECK_ERR(rq_conn_path_info(r.conn, r.probe_id, &now_on, NULL, NULL), RQ_OK);
    RQ_CHECK_EQ_INT(now_on.local.port, r.cli.sock[1].local.port);
    printf("  4 MB over loopback in %.3f s, moved from port %u to %u\n",
           (double)(mono_now() - start) / 1e9, r.cli.sock[0].local.port, r.cli.sock[1].local.port);
    rq_endpoint_free(r.cli.ep);
    rq_endpoint_free(r.srv.ep);
    for (int i = 0; i < r.cli.nsock; i++)
        rq_udp_close(&r.cli.sock[i]);
    rq_udp_close(&r.srv.sock[0]);
    rq_config_free(sc);
    rq_config_free(cc);
}

int main(void)
{
    RQ_RUN(test_loopback_upload_with_port_migration_rfc9000_9_2);
    return rq_test_summary();
}
