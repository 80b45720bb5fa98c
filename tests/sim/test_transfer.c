/* Transfers between two roamquic endpoints in the simulator: each TLS 1.3 cipher suite,
 * zero-length client connection IDs, a loss / reordering / duplication matrix over many
 * seeds, a 50 MB bulk transfer, and many streams under a small stream limit. Every byte is
 * checked against the pattern it was written with. */
#include "inject.h"
#include "ledger.h"
#include "qpair.h"
#include "rqtest.h"

#include "core/alloc.h"
#include "core/conn.h"

#include <time.h>

/* Real time, only to print how fast the simulation runs (never asserted). */
static double wall_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs an upload of `streams` x `bytes` to completion and checks it arrived whole. Returns 0
 * when everything held, else 1 (after printing why and the seed). */
static int upload_ok(qpair *p, uint64_t seed, unsigned streams, uint64_t bytes, rq_time deadline)
{
    int rc = sim_qapp_connect(p->client, &QPAIR_SERVER_ADDR, "localhost", streams, bytes);
    if (!rc)
        rc = sim_run_until_pred(p->s, qpair_upload_done, p, deadline);
    bool ok = rc == 0 && !p->client->closed && !p->server->closed &&
              sim_qapp_upload_done(p->client, p->server) &&
              p->server->received == (uint64_t)streams * bytes && p->server->bad_bytes == 0 &&
              !p->client->error && !p->server->error;
    if (!ok) {
        fprintf(
            stderr,
            "  seed 0x%llx (RQ_TEST_SEED): rc %s, closed c=%d s=%d (code 0x%llx), "
            "received %llu of %llu, bad %llu, fins %u, errors %d/%d, t=%.3f s %s\n",
            (unsigned long long)seed, rq_err_name(rc), p->client->closed, p->server->closed,
            (unsigned long long)(p->client->closed ? p->client->close_code : p->server->close_code),
            (unsigned long long)p->server->received,
            (unsigned long long)((uint64_t)streams * bytes),
            (unsigned long long)p->server->bad_bytes, p->server->fins_read, p->client->error,
            p->server->error, (double)sim_now(p->s) / 1e9, sim_failure(p->s));
        return 1;
    }
    /* On the wire: the server's host took delivery of at least every payload byte. */
    sim_ledger_sums to_server;
    sim_ledger_addr(sim_get_ledger(p->s), &QPAIR_SERVER_ADDR, NULL, &to_server);
    if (to_server.recv_bytes < (uint64_t)streams * bytes) {
        fprintf(stderr, "  seed 0x%llx: ledger shows %llu bytes to the server\n",
                (unsigned long long)seed, (unsigned long long)to_server.recv_bytes);
        return 1;
    }
    return 0;
}

static rq_aead_alg app_alg(rq_conn *c)
{
    return c->spaces[RQ_PN_SPACE_APPLICATION].tx.alg;
}

/* RFC 9001 §5.3 (and RFC 8446 §B.4): a handshake and a 300 KB transfer with each TLS 1.3
 * cipher suite QUIC v1 allows, offered alone by both sides; the 1-RTT keys of both ends use
 * that suite's AEAD. */
static void test_each_cipher_suite_rfc9001_5_3(void)
{
    static const struct {
        unsigned mask;
        rq_aead_alg alg;
        const char *name;
    } suites[] = {
        {RQ_CIPHER_AES_128_GCM, RQ_AEAD_AES_128_GCM, "TLS_AES_128_GCM_SHA256"},
        {RQ_CIPHER_AES_256_GCM, RQ_AEAD_AES_256_GCM, "TLS_AES_256_GCM_SHA384"},
        {RQ_CIPHER_CHACHA20_POLY1305, RQ_AEAD_CHACHA20_POLY1305, "TLS_CHACHA20_POLY1305_SHA256"},
    };
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 100000000};
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        qpair p;
        RQ_CHECK_ERR(qpair_new(&p, 0x5u + i, &link,
                               qpair_config(RQ_ROLE_CLIENT, NULL, suites[i].mask),
                               qpair_config(RQ_ROLE_SERVER, NULL, suites[i].mask), false),
                     RQ_OK);
        RQ_CHECK_EQ_INT(upload_ok(&p, 0x5u + i, 1, 300000, 20 * RQ_SEC), 0);
        RQ_CHECK(p.client->conn && p.server->conn);
        RQ_CHECK_EQ_INT(app_alg(p.client->conn), suites[i].alg);
        RQ_CHECK_EQ_INT(app_alg(p.server->conn), suites[i].alg);
        printf("  %s: 300000 bytes in %.3f s virtual\n", suites[i].name,
               (double)sim_now(p.s) / 1e9);
        qpair_free(&p);
    }
}

/* RFC 8446 §4.1.1, RFC 9001 §4.8: with no cipher suite in common the handshake fails; both
 * sides close (the client with the TLS alert as a CRYPTO_ERROR, 0x100 + alert). */
static void test_no_common_cipher_suite_fails_rfc9001_4_8(void)
{
    qpair p;
    sim_link_cfg link = {.delay = 10 * RQ_MS};
    RQ_CHECK_ERR(qpair_new(&p, 0x9, &link,
                           qpair_config(RQ_ROLE_CLIENT, NULL, RQ_CIPHER_AES_128_GCM),
                           qpair_config(RQ_ROLE_SERVER, NULL, RQ_CIPHER_CHACHA20_POLY1305), false),
                 RQ_OK);
    RQ_CHECK_ERR(sim_qapp_connect(p.client, &QPAIR_SERVER_ADDR, "localhost", 1, 1000), RQ_OK);
    RQ_CHECK_ERR(sim_run_until_pred(p.s, qpair_both_closed, &p, 30 * RQ_SEC), RQ_OK);
    RQ_CHECK(!p.client->connected && !p.server->connected);
    printf("  client closed with 0x%llx (by peer %d), server with 0x%llx\n",
           (unsigned long long)p.client->close_code, p.client->close_by_peer,
           (unsigned long long)p.server->close_code);
    /* 0x128: handshake_failure (40) as a QUIC CRYPTO_ERROR (RFC 9001 §4.8). */
    RQ_CHECK_EQ_U64(p.client->close_code, 0x128);
    RQ_CHECK(!p.client->close_app);
    qpair_free(&p);
}

/* RFC 9000 §5.1, §5.2, §7.2: a client that uses a zero-length connection ID — its Initials
 * carry an empty SCID on the wire and the server addresses it with an empty DCID — connects
 * and uploads 1 MB. */
static void test_zero_length_client_cid_rfc9000_5_1(void)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.local_cid_len = 0;
    qpair p;
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 100000000};
    RQ_CHECK_ERR(qpair_new(&p, 0xa, &link, qpair_config(RQ_ROLE_CLIENT, &t, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    RQ_CHECK_EQ_INT(upload_ok(&p, 0xa, 1, 1000000, 20 * RQ_SEC), 0);
    long ci = qwire_find(&p.wire, 0, SIM_EV_SEND, &QPAIR_CLIENT_ADDR, QWIRE_INITIAL);
    long si = qwire_find(&p.wire, 0, SIM_EV_SEND, &QPAIR_SERVER_ADDR, QWIRE_INITIAL);
    RQ_CHECK(ci >= 0 && si >= 0);
    RQ_CHECK_EQ_INT(p.wire.pkts[ci].scid_len, 0);
    RQ_CHECK_EQ_INT(p.wire.pkts[si].dcid_len, 0);
    RQ_CHECK_EQ_INT(p.wire.pkts[si].scid_len, 8);
    qpair_free(&p);
}

/* 1 MB over `n` seeds at one loss rate in both directions, with 2% reordering and 1%
 * duplication, on a 50 Mbit/s link with 20 ms RTT. The deadline, 25 s of virtual time, is
 * below the 30 s idle timeout: a stall until the idle timeout fails. Returns the failures. */
static unsigned loss_matrix_row(uint64_t *state, double loss, unsigned long n)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS,
                         .rate_bps = 50000000,
                         .loss = loss,
                         .reorder = 0.02,
                         .reorder_delay = 3 * RQ_MS,
                         .duplicate = 0.01};
    double wall = wall_seconds(), virt = 0, worst = 0;
    unsigned failed = 0;
    for (unsigned long i = 0; i < n; i++) {
        uint64_t seed = rq_test_rand(state);
        qpair p;
        int rc = qpair_new(&p, seed, &link, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), false);
        if (rc || upload_ok(&p, seed, 1, 1000000, 25 * RQ_SEC)) {
            fprintf(stderr, "  loss %.0f%%, iteration %lu failed (sim seed 0x%llx)\n", loss * 100,
                    i, (unsigned long long)seed);
            failed++;
        }
        double v = (double)sim_now(p.s) / 1e9;
        virt += v;
        worst = v > worst ? v : worst;
        qpair_free(&p);
    }
    printf("  loss %.0f%%: %lu x 1 MB, virtual mean %.3f s, worst %.3f s, real %.2f s\n",
           loss * 100, n, virt / (double)n, worst, wall_seconds() - wall);
    return failed;
}

/* RFC 9002 §6, §7 and RFC 9000 §13.3: 1 MB arrives whole with 0% and 1% loss (plus reordering
 * and duplication) over many seeds, without a stall. */
static void test_transfer_1mb_loss_0_1pct_rfc9002_6(void)
{
    uint64_t state = rq_test_seed();
    unsigned long n = rq_test_iterations(100);
    RQ_CHECK_EQ_INT(loss_matrix_row(&state, 0.0, n), 0);
    RQ_CHECK_EQ_INT(loss_matrix_row(&state, 0.01, n), 0);
}

/* The same at 5% loss (regression: iteration 35 of the default seed, sim seed
 * 0xb56bd860a65ab548, stalled until the server's 10 s handshake timeout before PTO probes
 * carried the lost Finished; see test_lost_client_finished_is_resent_rfc9002_6_2_4). */
static void test_transfer_1mb_loss_5pct_rfc9002_6(void)
{
    uint64_t state = rq_test_seed() ^ 0x5;
    RQ_CHECK_EQ_INT(loss_matrix_row(&state, 0.05, rq_test_iterations(100)), 0);
}

/* Matches a datagram whose first packet is a Handshake packet: after the first flight (whose
 * first packet is an Initial), that is the client's resent Finished. */
static bool big_handshake(void *ctx, const sim_dgram *dg)
{
    (void)ctx;
    qwire_pkt w = {0};
    qwire_parse(dg->data, dg->len, &w);
    return w.type == QWIRE_HANDSHAKE;
}

/* RFC 9002 §6.2.4, §7.3.2 and RFC 9001 §4.1.2: the client's Finished is lost twice — its
 * first datagram (Initial ACK + Handshake CRYPTO) and the one packet it sends on entering
 * recovery. The client must keep sending it (PTO probes SHOULD carry the unacknowledged
 * CRYPTO data) and the handshake must complete. (Regression: the client's PTO probes were
 * bare PINGs while the Finished waited for a congestion window full of 1-RTT packets the
 * server could not acknowledge; the server gave up at its 10 s handshake timeout. The 5% row
 * above is what caught it, ~1 seed in 100; this case pins the twice-lost scenario itself.) */
static void test_lost_client_finished_is_resent_rfc9002_6_2_4(void)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 50000000};
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0xf1, &link, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), true),
                 RQ_OK);
    RQ_CHECK_ERR(sim_link_drop_range(p.c2s, 2, 2), RQ_OK);
    sim_injector *inj;
    RQ_CHECK_ERR(sim_injector_new(p.s, "tap", p.c2s, &inj), RQ_OK);
    unsigned rule;
    sim_inj_rule r = {.match = big_handshake, .max_hits = 1, .action = SIM_INJ_DROP};
    RQ_CHECK_ERR(sim_injector_add(inj, &r, &rule), RQ_OK);
    RQ_CHECK_EQ_INT(upload_ok(&p, 0xf1, 1, 100000, 5 * RQ_SEC), 0);
    RQ_CHECK_EQ_U64(sim_injector_hits(inj, rule), 1);
    printf("  connected at %.3f s, upload done at %.3f s\n", (double)p.server->connected_at / 1e9,
           (double)sim_now(p.s) / 1e9);
    qpair_free(&p);
}

/* RFC 9000 §2.2, §13.3: a stream longer than the 4 MiB send buffer flows on as data is
 * acknowledged (regression: before eae1d33 a coalesced packet's sent-frame token covered the
 * records of the packets after it, the first STREAM frame's acknowledgement was lost with the
 * discarded Handshake packet, and the upload stopped at exactly 4194304 bytes). */
static void test_transfer_5mb_beyond_send_buffer_rfc9000_2_2(void)
{
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 100000000};
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x5b, &link, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                           qpair_config(RQ_ROLE_SERVER, NULL, 0), false),
                 RQ_OK);
    RQ_CHECK_EQ_INT(upload_ok(&p, 0x5b, 1, 5000000, 20 * RQ_SEC), 0);
    qpair_free(&p);
}

/* RFC 9002 §7 (congestion control), RFC 9000 §4 (flow control windows growing): 50 MB over a
 * 100 Mbit/s link with 20 ms RTT and 1% loss. Prints simulated and real time. */
static void test_transfer_50mb_100mbit_1pct_rfc9002_7(void)
{
    uint64_t state = rq_test_seed() ^ 0x50;
    unsigned long n = rq_test_iterations(3);
    sim_link_cfg link = {.delay = 10 * RQ_MS, .rate_bps = 100000000, .loss = 0.01};
    for (unsigned long i = 0; i < n; i++) {
        uint64_t seed = rq_test_rand(&state);
        qpair p;
        RQ_CHECK_ERR(qpair_new(&p, seed, &link, qpair_config(RQ_ROLE_CLIENT, NULL, 0),
                               qpair_config(RQ_ROLE_SERVER, NULL, 0), false),
                     RQ_OK);
        double wall = wall_seconds();
        RQ_CHECK_EQ_INT(upload_ok(&p, seed, 1, 50000000, 120 * RQ_SEC), 0);
        double real = wall_seconds() - wall, virt = (double)sim_now(p.s) / 1e9;
        printf("  50 MB, seed 0x%llx: %.3f s simulated (%.1f Mbit/s goodput), %.2f s real, "
               "%llu datagrams client->server, %llu back\n",
               (unsigned long long)seed, virt, 50e6 * 8 / virt / 1e6, real,
               (unsigned long long)sim_host_sent(p.client->host),
               (unsigned long long)sim_host_sent(p.server->host));
        qpair_free(&p);
    }
}

/* RFC 9000 §4.6, §19.11: 20 bidirectional streams of 50 KB each while both sides allow only
 * 4 concurrent ones: the client's fifth open is refused with exactly 4 open, the rest wait
 * for MAX_STREAMS, and all 1 MB arrives, each stream's bytes in order. */
static void test_many_streams_small_limit_rfc9000_4_6(void)
{
    rq_transport_settings t;
    rq_transport_defaults(&t);
    t.initial_max_streams_bidi = 4;
    sim_link_cfg link = {.delay = 10 * RQ_MS,
                         .rate_bps = 50000000,
                         .loss = 0.01,
                         .reorder = 0.01,
                         .reorder_delay = 3 * RQ_MS};
    qpair p;
    RQ_CHECK_ERR(qpair_new(&p, 0x4646, &link, qpair_config(RQ_ROLE_CLIENT, &t, 0),
                           qpair_config(RQ_ROLE_SERVER, &t, 0), false),
                 RQ_OK);
    RQ_CHECK_EQ_INT(upload_ok(&p, 0x4646, 20, 50000, 30 * RQ_SEC), 0);
    RQ_CHECK_EQ_INT(p.client->opened, 20);
    RQ_CHECK(p.client->refused > 0);
    RQ_CHECK_EQ_INT(p.client->opened_at_first_refusal, 4);
    RQ_CHECK_EQ_INT(p.server->peer_streams, 20);
    for (unsigned k = 0; k < 20; k++) {
        RQ_CHECK_EQ_U64(p.server->in[k].received, 50000);
        RQ_CHECK_EQ_U64(p.server->in[k].bad, 0);
    }
    printf("  20 x 50 KB in %.3f s virtual; %u refused open attempts\n", (double)sim_now(p.s) / 1e9,
           p.client->refused);
    qpair_free(&p);
}

int main(void)
{
    int64_t live = rq_mem_live();
    RQ_RUN(test_each_cipher_suite_rfc9001_5_3);
    RQ_RUN(test_no_common_cipher_suite_fails_rfc9001_4_8);
    RQ_RUN(test_zero_length_client_cid_rfc9000_5_1);
    RQ_RUN(test_many_streams_small_limit_rfc9000_4_6);
    RQ_RUN(test_transfer_5mb_beyond_send_buffer_rfc9000_2_2);
    RQ_RUN(test_transfer_1mb_loss_0_1pct_rfc9002_6);
    RQ_RUN(test_transfer_50mb_100mbit_1pct_rfc9002_7);
    /* Known library bugs (see each case's comment): enable once fixed. */
    (void)test_transfer_1mb_loss_5pct_rfc9002_6;
    (void)test_lost_client_finished_is_resent_rfc9002_6_2_4;
    RQ_RUN(test_transfer_1mb_loss_5pct_rfc9002_6);
    RQ_RUN(test_lost_client_finished_is_resent_rfc9002_6_2_4);
    if (rq_mem_live() != live) {
        fprintf(stderr, "leak: %lld allocations\n", (long long)(rq_mem_live() - live));
        return 1;
    }
    return rq_test_summary();
}
