/* A roamquic client and server over real UDP sockets on 127.0.0.1 (src/io/udp.h), driven by
 * the I/O loop (src/io/loop.h): the client uploads 4 MB; a quarter of the way it opens a second
 * local port, probes it (RFC 9000 §9.1), moves there once it validated (§9.2) and closes the
 * old port at once, so the server must follow; every byte arrives intact. Issue 5, item 1: run
 * by the batching loop three ways: with the UDP offloads on (GSO/GRO where the kernel
 * has them), switched off (rq_io_set_gso: every datagram its own buffer), and with the kernel's
 * refusal of GSO forced (the fallback: sockets turn GSO off and resend one by one). Every run
 * must deliver the 4 MB intact and move; the loop's counters must show what each mode means.
 * Each prints its time and counters. */
#include "io/loop.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#include <errno.h>
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

typedef enum mode { OFFLOAD_ON, OFFLOAD_OFF, GSO_REFUSED } mode;

/* Whether this kernel takes UDP_SEGMENT and UDP_GRO on a loopback socket. */
static bool kernel_offloads(void)
{
    rq_udp_socket s;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0);
    if (rq_udp_open(&s, &lo) != RQ_OK)
        return false;
    bool ok = rq_udp_set_gso(&s, true) == RQ_OK && rq_udp_set_gro(&s, true) == RQ_OK;
    rq_udp_close(&s);
    return ok;
}

/* The upload with a migration a quarter of the way, in the given mode; *st receives the
 * loop's counters. */
static void upload(mode m, rq_io_stats *st, double *seconds)
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
    if (m == OFFLOAD_OFF)
        rq_io_set_gso(r.loop, false);
#ifdef RQ_TEST_HOOKS
    if (m == GSO_REFUSED)
        rq_udp_test_refuse_gso(EIO);
#endif
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
#ifdef RQ_TEST_HOOKS
    rq_udp_test_refuse_gso(0);
#endif
    *seconds = (double)(rq_io_now() - start) / 1e9;
    rq_io_get_stats(r.loop, st);
    RQ_CHECK(r.fin);
    RQ_CHECK(!r.closed);
    RQ_CHECK_EQ_U64(r.received, UPLOAD);
    RQ_CHECK_EQ_U64(r.bad, 0);
    RQ_CHECK(r.moved && r.old_closed);
    rq_path_addr now_on;
    RQ_CHECK_ERR(rq_conn_path_info(r.conn, r.probe_id, &now_on, NULL, NULL), RQ_OK);
    RQ_CHECK(rq_addr_eq(&now_on.local, &r.cli_addr[1]));
    printf("  4 MB in %.3f s (%.0f Mbit/s): %" PRIu64 " datagrams sent in %" PRIu64
           " calls (%" PRIu64 " GSO buffers, %" PRIu64 " refused), %" PRIu64 " received in %" PRIu64
           " calls (%" PRIu64 " GRO buffers), %" PRIu64 " times blocked, %" PRIu64 " dropped\n",
           *seconds, UPLOAD * 8 / *seconds / 1e6, st->datagrams_sent, st->send_syscalls,
           st->gso_batches, st->gso_refused, st->datagrams_received, st->recv_syscalls,
           st->gro_batches, st->send_blocked, st->send_errors + st->send_no_socket);
    rq_io_loop_free(r.loop);
    rq_endpoint_free(cep);
    rq_endpoint_free(sep);
    rq_config_free(sc);
    rq_config_free(cc);
}

/* What every mode shares: all received datagrams are Not-ECT (the loop sends nothing else),
 * none was truncated or refused for its own sake, and sendmmsg batches: fewer calls than
 * datagrams. */
static void check_common(const rq_io_stats *st)
{
    RQ_CHECK(st->datagrams_received > 0);
    RQ_CHECK_EQ_U64(st->ecn[RQ_ECN_NOT_ECT], st->datagrams_received);
    RQ_CHECK_EQ_U64(st->recv_truncated, 0);
    RQ_CHECK_EQ_U64(st->send_errors, 0);
    RQ_CHECK(st->send_syscalls < st->datagrams_sent);
}

/* Issue 5: batching and offloads on (the default): RFC 9000 §9.2 migration still completes;
 * GSO buffers were sent and GRO buffers received where the kernel has them, so both ways
 * take fewer system calls than datagrams. */
static void test_loopback_upload_with_port_migration_rfc9000_9_2(void)
{
    rq_io_stats st;
    double s;
    upload(OFFLOAD_ON, &st, &s);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    if (!kernel_offloads()) {
        printf("  (no UDP_SEGMENT/UDP_GRO: batching only)\n");
        return;
    }
    RQ_CHECK(st.gso_batches > 0);
    RQ_CHECK_EQ_U64(st.gso_refused, 0);
    RQ_CHECK(st.gro_batches > 0);
    RQ_CHECK(st.recv_syscalls < st.datagrams_received);
}

/* Issue 5: GSO switched off (--no-gso): the migration completes; no buffer held more than one
 * datagram either way. */
static void test_issue5_loopback_migration_gso_off(void)
{
    rq_io_stats st;
    double s;
    upload(OFFLOAD_OFF, &st, &s);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    RQ_CHECK_EQ_U64(st.gso_batches, 0);
    RQ_CHECK_EQ_U64(st.gro_batches, 0);
}

#ifdef RQ_TEST_HOOKS
/* Issue 5: GSO fallback in a live connection: every GSO buffer is refused (test hook, EIO), so
 * each socket turns GSO off at its first and resends one by one; the upload still arrives
 * whole. */
static void test_issue5_loopback_migration_gso_fallback(void)
{
    rq_io_stats st;
    double s;
    upload(GSO_REFUSED, &st, &s);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    RQ_CHECK_EQ_U64(st.gso_batches, 0);
    if (kernel_offloads())
        RQ_CHECK(st.gso_refused >= 1);
}
#endif

/* Many handshakes at once: a client opens CONNS connections to one server in the same turn.
 * Their Initials are all padded to one size on one path, so with GSO on they leave in GSO
 * buffers (fewer send calls than datagrams) and arrive through GRO; with it off, one datagram
 * per buffer. Every connection completes either way. */
#define CONNS 16

typedef struct many {
    int connected, accepted, closed;
} many;

static void many_events(void *ctx, rq_endpoint *ep, rq_time now)
{
    many *m = ctx;
    (void)now;
    rq_event ev;
    while (rq_endpoint_poll_event(ep, &ev)) {
        m->connected += ev.type == RQ_EV_CONNECTED;
        m->accepted += ev.type == RQ_EV_ACCEPTED;
        m->closed += ev.type == RQ_EV_CLOSED;
    }
}

static void handshakes(bool offload, int blocked, rq_io_stats *st)
{
    rq_config *sc = server_config(), *cc = client_config();
    RQ_CHECK(sc && cc);
    rq_endpoint *sep = rq_endpoint_new(sc, NULL, NULL, NULL);
    rq_endpoint *cep = rq_endpoint_new(cc, NULL, NULL, NULL);
    rq_io_loop *l = rq_io_loop_new();
    RQ_CHECK(sep && cep && l);
    rq_io_set_gso(l, offload);
    many sm = {0}, cm = {0};
    size_t si, ci;
    rq_addr lo = rq_addr_v4(127, 0, 0, 1, 0), sa, ca;
    RQ_CHECK_ERR(rq_io_add_endpoint(l, sep, many_events, &sm, &si), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_endpoint(l, cep, many_events, &cm, &ci), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(l, si, &lo, &sa), RQ_OK);
    RQ_CHECK_ERR(rq_io_add_socket(l, ci, &lo, &ca), RQ_OK);
    rq_time start = rq_io_now();
    rq_path_addr path = {ca, sa};
    for (int i = 0; i < CONNS; i++) {
        rq_conn *c;
        RQ_CHECK_ERR(rq_connect(cep, start, &path, "localhost", &c), RQ_OK);
    }
#ifdef RQ_TEST_HOOKS
    rq_udp_test_block_sends(blocked);
#else
    (void)blocked;
#endif
    while (cm.connected < CONNS && cm.closed == 0 && rq_io_now() - start < 10 * RQ_SEC)
        RQ_CHECK_ERR(rq_io_turn(l, 50 * RQ_MS), RQ_OK);
    rq_io_get_stats(l, st);
    RQ_CHECK_EQ_INT(cm.connected, CONNS);
    RQ_CHECK_EQ_INT(sm.accepted, CONNS);
    RQ_CHECK_EQ_INT(cm.closed + sm.closed, 0);
    printf("  %d handshakes, GSO %s: %" PRIu64 " datagrams sent in %" PRIu64 " calls (%" PRIu64
           " GSO buffers), %" PRIu64 " received in %" PRIu64 " calls (%" PRIu64 " GRO buffers)\n",
           CONNS, offload ? "on" : "off", st->datagrams_sent, st->send_syscalls, st->gso_batches,
           st->datagrams_received, st->recv_syscalls, st->gro_batches);
    rq_io_loop_free(l);
    rq_endpoint_free(cep);
    rq_endpoint_free(sep);
    rq_config_free(sc);
    rq_config_free(cc);
}

/* Issue 5: GSO on, sendmmsg and GSO coalesce the burst of Initials. */
static void test_issue5_many_handshakes_gso_on(void)
{
    rq_io_stats st;
    handshakes(true, 0, &st);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    if (!kernel_offloads())
        return;
    RQ_CHECK(st.gso_batches > 0);
    RQ_CHECK(st.gro_batches > 0);
    RQ_CHECK(st.send_syscalls * 4 < st.datagrams_sent);
    RQ_CHECK(st.recv_syscalls < st.datagrams_received);
}

/* Issue 5: GSO off, every datagram its own buffer; sendmmsg still batches. */
static void test_issue5_many_handshakes_gso_off(void)
{
    rq_io_stats st;
    handshakes(false, 0, &st);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    RQ_CHECK_EQ_U64(st.gso_batches, 0);
    RQ_CHECK_EQ_U64(st.gro_batches, 0);
}

#ifdef RQ_TEST_HOOKS
/* Issue 5: a full socket buffer (EAGAIN, forced through the test hook for the first three send
 * calls) loses nothing: the collected datagrams wait in order, the loop asks for EPOLLOUT and
 * sends them on a later turn; every handshake completes and no datagram was dropped. */
static void test_issue5_full_socket_buffer_waits(void)
{
    rq_io_stats st;
    handshakes(true, 3, &st);
    rq_udp_test_block_sends(0);
    if (rq_test_case_failed_)
        return;
    check_common(&st);
    RQ_CHECK_EQ_U64(st.send_blocked, 3);
    RQ_CHECK_EQ_U64(st.send_no_socket, 0);
}
#endif

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
    RQ_RUN(test_issue5_loopback_migration_gso_off);
#ifdef RQ_TEST_HOOKS
    RQ_RUN(test_issue5_loopback_migration_gso_fallback);
#endif
    RQ_RUN(test_issue5_many_handshakes_gso_on);
    RQ_RUN(test_issue5_many_handshakes_gso_off);
#ifdef RQ_TEST_HOOKS
    RQ_RUN(test_issue5_full_socket_buffer_waits);
    RQ_RUN(test_io_loop_misuse);
#endif
    return rq_test_summary();
}
