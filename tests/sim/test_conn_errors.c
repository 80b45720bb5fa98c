/* A peer that breaks the rules: each stream, flow-control and frame error closes the
 * connection with its own transport error code (RFC 9000 §4, §19, §20.1), sent to the peer in
 * a CONNECTION_CLOSE. The forged packets are real 1-RTT packets, protected with the client's
 * live keys and delivered to the server through the simulated network. */
#include "inject.h"
#include "link.h"
#include "qinject.h"
#include "qnode.h"
#include "rqtest.h"
#include "trace.h"

#include "core/alloc.h"

#include "core/conn.h"
#include "core/packet.h"
#include "core/pn.h"
#include <stdlib.h>

static const rq_addr CLIENT_ADDR = {RQ_AF_INET4, 50000, {10, 0, 0, 1}, 0};
static const rq_addr SERVER_ADDR = {RQ_AF_INET4, 443, {10, 0, 0, 2}, 0};

typedef struct env {
    sim *s;
    sim_qnode *client, *server;
    sim_link *c2s;
} env;

static bool established(sim *s, void *ctx)
{
    (void)s;
    env *e = ctx;
    return (e->client->conn && e->client->conn->handshake_confirmed && e->server->connected) ||
           e->client->closed;
}

static bool both_closed(sim *s, void *ctx)
{
    (void)s;
    env *e = ctx;
    return e->client->closed && e->server->closed;
}

static int setup(env *e, uint64_t seed)
{
    memset(e, 0, sizeof *e);
    sim_link_cfg link = {.delay = 5 * RQ_MS};
    int rc = sim_new(seed, &e->s);
    if (!rc)
        rc = sim_qnode_new(e->s, "client", sim_qnode_client_config(), &CLIENT_ADDR, &e->client);
    if (!rc)
        rc = sim_qnode_new(e->s, "server", sim_qnode_server_config(), &SERVER_ADDR, &e->server);
    if (!rc)
        rc = sim_connect(e->s, sim_host_elem(e->client->host), 0, sim_host_elem(e->server->host), 0,
                         &link, &link, &e->c2s, NULL);
    if (!rc)
        rc = sim_qnode_connect(e->client, &SERVER_ADDR, "localhost", 0);
    if (!rc)
        rc = sim_run_until_pred(e->s, established, e, 5 * RQ_SEC);
    return rc;
}

static void teardown(env *e)
{
    sim_free(e->s);
    sim_qnode_free(e->client);
    sim_qnode_free(e->server);
}

/* Protects `payload` as the client's next 1-RTT packet and puts it on the client→server link,
 * as if the client had sent it. */
static int forge(env *e, const uint8_t *payload, size_t len)
{
    return sim_forge_1rtt(e->s, e->c2s, e->client->conn, &CLIENT_ADDR, &SERVER_ADDR, payload, len,
                          0);
}

/* Sends the frame bytes (hex) from the client and checks that the server closes with `code`
 * and that the client hears that code from it. */
static void expect_close(const char *name, const char *hex, uint64_t code)
{
    env e;
    uint8_t payload[256];
    size_t len = rq_test_hex(hex, payload, sizeof payload);
    RQ_CHECK_ERR(setup(&e, 31), RQ_OK);
    RQ_CHECK_ERR(forge(&e, payload, len), RQ_OK);
    int rc = sim_run_until_pred(e.s, both_closed, &e, sim_now(e.s) + 10 * RQ_SEC);
    if (rc || e.server->close_code != code || e.client->close_code != code)
        fprintf(stderr, "  %s: rc %d, server closed %d code 0x%llx, client closed %d code 0x%llx\n",
                name, rc, e.server->closed, (unsigned long long)e.server->close_code,
                e.client->closed, (unsigned long long)e.client->close_code);
    if (rc && getenv("RQ_DEBUG_TRACE"))
        sim_trace_dump_tail(sim_get_trace(e.s), stderr, 30);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK(!e.server->close_by_peer && !e.server->close_app);
    RQ_CHECK_EQ_U64(e.server->close_code, code);
    /* The client learned the code from the server's CONNECTION_CLOSE. */
    RQ_CHECK(e.client->close_by_peer);
    RQ_CHECK_EQ_U64(e.client->close_code, code);
    teardown(&e);
}

/* RFC 9000 §19.8, §3: STREAM on a server-initiated unidirectional stream (id 3), which only
 * the server sends on: STREAM_STATE_ERROR. MIG-10.3-01: like every case here, the error
 * reaches the peer in a CONNECTION_CLOSE (the client reports the server's code), never as a
 * Stateless Reset. */
static void test_stream_on_peer_send_only_stream_rfc9000_19_8(void)
{
    expect_close("stream_state", "0b 03 01 61", 0x05);
}

/* RFC 9000 §4.6: a client bidirectional stream beyond the server's limit (100 streams: id
 * 400 is the 101st): STREAM_LIMIT_ERROR. */
static void test_stream_beyond_limit_rfc9000_4_6(void)
{
    expect_close("stream_limit", "0b 41 90 01 61", 0x04);
}

/* RFC 9000 §4.1: data beyond the stream's flow-control limit (256 KiB): FLOW_CONTROL_ERROR. */
static void test_stream_flow_control_rfc9000_4_1(void)
{
    expect_close("flow_control", "0e 00 80 04 00 00 01 61", 0x03);
}

/* RFC 9000 §4.5: a final size changed by a later RESET_STREAM: FINAL_SIZE_ERROR. */
static void test_final_size_change_rfc9000_4_5(void)
{
    /* STREAM id 0, offset 0, len 1, FIN; then RESET_STREAM id 0 with final size 5. */
    expect_close("final_size", "0b 00 01 61 04 00 00 05", 0x06);
}

/* RFC 9000 §19.11: MAX_STREAMS above 2^60: FRAME_ENCODING_ERROR. */
static void test_max_streams_too_large_rfc9000_19_11(void)
{
    expect_close("max_streams", "12 d0 00 00 00 00 00 00 01", 0x07);
}

/* RFC 9000 §12.4: an unknown frame type (0x21, minimally encoded): FRAME_ENCODING_ERROR. */
static void test_unknown_frame_rfc9000_12_4(void)
{
    expect_close("unknown", "21", 0x07);
}

/* RFC 9000 §12.4: a frame type not in its shortest encoding: PROTOCOL_VIOLATION. */
static void test_non_minimal_frame_type_rfc9000_12_4(void)
{
    expect_close("non_minimal", "40 01", 0x0a);
}

/* RFC 9000 §19.7, §19.20: NEW_TOKEN and HANDSHAKE_DONE from a client: PROTOCOL_VIOLATION. */
static void test_client_only_server_frames_rfc9000_19_20(void)
{
    expect_close("new_token", "07 01 aa", 0x0a);
    expect_close("handshake_done", "1e", 0x0a);
}

/* RFC 9000 §13.1: an ACK for a packet number the server never sent: PROTOCOL_VIOLATION. */
static void test_ack_of_unsent_packet_rfc9000_13_1(void)
{
    expect_close("ack_unsent", "02 80 01 00 00 00 00 00", 0x0a);
}

/* RFC 9000 §7.5: CRYPTO data far beyond what the server buffers: CRYPTO_BUFFER_EXCEEDED. */
static void test_crypto_buffer_exceeded_rfc9000_7_5(void)
{
    expect_close("crypto_buffer", "06 80 10 00 00 01 61", 0x0d);
}

/* RFC 9000 §19.3: an ACK range that underflows below 0: FRAME_ENCODING_ERROR. */
static void test_ack_range_underflow_rfc9000_19_3(void)
{
    /* Largest 2, delay 0, 1 range, first range 0, gap 5: the next range would start below 0. */
    expect_close("ack_underflow", "02 02 00 01 00 05 00", 0x07);
}

/* MIG-19.16-01: RETIRE_CONNECTION_ID for a sequence number never issued: PROTOCOL_VIOLATION. */
static void test_retire_unissued_cid_mig_19_16_01(void)
{
    expect_close("retire_unissued", "19 32", 0x0a);
}

/* MIG-5.1.1-06: more active CIDs than the server's active_connection_id_limit (4) after the
 * frames are processed: CONNECTION_ID_LIMIT_ERROR. */
static void test_too_many_cids_mig_5_1_1_06(void)
{
    expect_close(
        "cid_limit",
        "18 0a 00 08 10 10 10 10 10 10 10 10 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 18 0b "
        "00 08 12 12 12 12 12 12 12 12 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 18 0c 00 08 "
        "14 14 14 14 14 14 14 14 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 18 0d 00 08 16 16 "
        "16 16 16 16 16 16 17 17 17 17 17 17 17 17 17 17 17 17 17 17 17 17 18 0e 00 08 18 18 18 18 "
        "18 18 18 18 19 19 19 19 19 19 19 19 19 19 19 19 19 19 19 19",
        0x09);
}

/* MIG-19.15-01: a NEW_CONNECTION_ID with a zero-length CID, and MIG-19.15-06: one whose Retire
 * Prior To exceeds its sequence number: FRAME_ENCODING_ERROR. */
static void test_bad_new_cid_frames_mig_19_15_01(void)
{
    expect_close("cid_len0", "18 05 00 00 aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa", 0x07);
    expect_close(
        "cid_rpt",
        "18 03 04 08 bb bb bb bb bb bb bb bb cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc",
        0x07);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_stream_on_peer_send_only_stream_rfc9000_19_8);
    RQ_RUN(test_stream_beyond_limit_rfc9000_4_6);
    RQ_RUN(test_stream_flow_control_rfc9000_4_1);
    RQ_RUN(test_final_size_change_rfc9000_4_5);
    RQ_RUN(test_max_streams_too_large_rfc9000_19_11);
    RQ_RUN(test_unknown_frame_rfc9000_12_4);
    RQ_RUN(test_non_minimal_frame_type_rfc9000_12_4);
    RQ_RUN(test_client_only_server_frames_rfc9000_19_20);
    RQ_RUN(test_ack_of_unsent_packet_rfc9000_13_1);
    RQ_RUN(test_crypto_buffer_exceeded_rfc9000_7_5);
    RQ_RUN(test_ack_range_underflow_rfc9000_19_3);
    RQ_RUN(test_retire_unissued_cid_mig_19_16_01);
    RQ_RUN(test_too_many_cids_mig_5_1_1_06);
    RQ_RUN(test_bad_new_cid_frames_mig_19_15_01);
    if (rq_mem_live() != live)
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
    return rq_test_summary();
}
