/* The TLS 1.3 glue (src/crypto/tls.[ch]) when things go wrong: certificate verification,
 * PEM loading, the API contract, garbage and oversized input, TLS KeyUpdate — RFC 9001 §4.8,
 * §6 and RFC 9000 §7.5, with the pump of tls_pump.h. */
#include "tls_pump.h"

/* ---- certificates -------------------------------------------------------------------------- */

/* A certificate signed by a CA the client does not trust fails the handshake with a TLS
 * alert. GnuTLS 3.7.9 reports a failed chain as bad_certificate (42): CRYPTO_ERROR 0x012a. */
static void test_rfc9001_4_8_untrusted_ca_fails(void)
{
    pump p;
    handshake(&p, client_config(true), server_config("other-server.pem", "other-server-key.pem"),
              "localhost");
    RQ_CHECK_ERR(p.c.rc, RQ_ERR_TLS);
    RQ_CHECK_EQ_U64(p.c.quic_error, 0x012a);
    RQ_CHECK(!p.c.complete && !p.c.verified);
    RQ_CHECK_EQ_INT(p.c.complete_events, 0);
}

/* A certificate that does not name the server the client asked for fails: 0x012a too. */
static void test_rfc9001_4_8_wrong_host_name_fails(void)
{
    pump p;
    handshake(&p, client_config(true), server_config("server.pem", "server-key.pem"),
              "wrong.example");
    RQ_CHECK_ERR(p.c.rc, RQ_ERR_TLS);
    RQ_CHECK_EQ_U64(p.c.quic_error, 0x012a);
    RQ_CHECK(!p.c.complete);
}

/* A client with neither trust nor the insecure switch verifies against nothing: it fails
 * rather than accept any certificate. */
static void test_rfc9001_4_8_no_trust_fails(void)
{
    pump p;
    handshake(&p, client_config(false), server_config("server.pem", "server-key.pem"), "localhost");
    RQ_CHECK_ERR(p.c.rc, RQ_ERR_TLS);
    RQ_CHECK_EQ_U64(p.c.quic_error, 0x012a);
}

/* RFC 9001 §4.4 (the client authenticates the server), RFC 6066 §3: the server's IP
 * addresses are verified against its IP SANs (and not sent as SNI). */
static void test_ip_literal_verified_against_ip_san(void)
{
    const char *names[] = {"127.0.0.1", "::1", "roamquic.test"};
    for (size_t i = 0; i < 3; i++) {
        pump p;
        handshake(&p, client_config(true), server_config("server.pem", "server-key.pem"), names[i]);
        CHECK_COMPLETED(p);
        RQ_CHECK(p.c.verified);
    }
    pump p;
    handshake(&p, client_config(true), server_config("server.pem", "server-key.pem"), "127.0.0.2");
    RQ_CHECK_ERR(p.c.rc, RQ_ERR_TLS);
}

/* RFC 9001 §4.4 opt-out: the explicit insecure switch accepts a certificate from an
 * untrusted CA for a wrong name. */
static void test_insecure_accepts_untrusted(void)
{
    rq_tls_config *ccfg = client_config(true);
    RQ_CHECK(ccfg);
    RQ_CHECK_ERR(rq_tls_config_set_insecure(ccfg, true), RQ_OK);
    pump p;
    handshake(&p, ccfg, server_config("other-server.pem", "other-server-key.pem"), "wrong.example");
    CHECK_COMPLETED(p);
    RQ_CHECK(!p.c.verified);
}

/* RFC 9001 §4.4: the in-memory self-signed Ed25519 certificate works with an insecure
 * client, and is rejected by a verifying one. */
static void test_ephemeral_certificate(void)
{
    int64_t live = rq_mem_live();
    for (int secure = 0; secure < 2; secure++) {
        rq_tls_config *scfg = NULL, *ccfg = client_config(true);
        RQ_CHECK(ccfg);
        RQ_CHECK_ERR(rq_tls_config_new(RQ_ROLE_SERVER, &scfg), RQ_OK);
        RQ_CHECK_ERR(rq_tls_config_set_alpn(scfg, alpn_h3, 1), RQ_OK);
        RQ_CHECK_ERR(rq_tls_config_make_ephemeral_cert(scfg, "127.0.0.1"), RQ_OK);
        RQ_CHECK_ERR(rq_tls_config_make_ephemeral_cert(scfg, "again"), RQ_ERR_INVALID_ARG);
        RQ_CHECK_ERR(rq_tls_config_set_insecure(ccfg, !secure), RQ_OK);
        pump p;
        handshake(&p, ccfg, scfg, "127.0.0.1");
        if (secure) {
            RQ_CHECK_ERR(p.c.rc, RQ_ERR_TLS);
            RQ_CHECK_EQ_U64(p.c.quic_error, 0x012a);
        } else {
            CHECK_COMPLETED(p);
        }
    }
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* RFC 9001 §4.4 (the server's certificate): loading errors a CLI turns into one line: a missing
 * file is RQ_ERR_IO, a file that holds no usable certificate or key (or a key of another
 * certificate) is RQ_ERR_CERTIFICATE. A failed load leaves the config able to load again. */
static void test_pem_loading_errors(void)
{
    int64_t live = rq_mem_live();
    rq_tls_config *s = NULL, *c = NULL;
    RQ_CHECK_ERR(rq_tls_config_new(RQ_ROLE_SERVER, &s), RQ_OK);
    RQ_CHECK_ERR(rq_tls_config_new(RQ_ROLE_CLIENT, &c), RQ_OK);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("nope.pem"), cert("server-key.pem")),
                 RQ_ERR_IO);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("server.pem"), cert("nope.pem")), RQ_ERR_IO);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("garbage.pem"), cert("server-key.pem")),
                 RQ_ERR_CERTIFICATE);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("server.pem"), cert("garbage.pem")),
                 RQ_ERR_CERTIFICATE);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("server.pem"), cert("other-server-key.pem")),
                 RQ_ERR_CERTIFICATE);
    RQ_CHECK_ERR(rq_tls_config_trust_ca_file(c, cert("nope.pem")), RQ_ERR_IO);
    RQ_CHECK_ERR(rq_tls_config_trust_ca_file(c, cert("garbage.pem")), RQ_ERR_CERTIFICATE);
    /* role mismatches */
    RQ_CHECK_ERR(rq_tls_config_trust_ca_file(s, cert("ca.pem")), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(c, cert("server.pem"), cert("server-key.pem")),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_set_insecure(s, true), RQ_ERR_INVALID_ARG);
    /* a server without a certificate cannot make a session */
    rq_tls *t = NULL;
    RQ_CHECK_ERR(rq_tls_new(s, NULL, NULL, 0, &t), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_load_cert_files(s, cert("server.pem"), cert("server-key.pem")),
                 RQ_OK);
    RQ_CHECK_ERR(rq_tls_config_trust_ca_file(c, cert("ca.pem")), RQ_OK);
    rq_tls_config_free(s);
    rq_tls_config_free(c);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* ---- API contract, errors, robustness ------------------------------------------------------ */

/* RFC 9001 §4.8: a TLS failure is one CRYPTO_ERROR, sticky, with no event left behind to
 * send; misuse of the API is RQ_ERR_INVALID_ARG. */
static void test_api_contract_and_sticky_errors(void)
{
    int64_t live = rq_mem_live();
    rq_tls_config *ccfg = client_config(true),
                  *scfg = server_config("server.pem", "server-key.pem");
    RQ_CHECK(ccfg && scfg);
    rq_tls *c = NULL, *s = NULL;
    uint8_t big[1];
    RQ_CHECK_ERR(rq_tls_new(ccfg, NULL, NULL, 0, &c), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_new(ccfg, "", NULL, 0, &c), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_new(ccfg, "localhost", big, 65536, &c), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_set_ciphers(ccfg, 0), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_set_ciphers(ccfg, 8), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_config_set_alpn(ccfg, (const char *const[]){""}, 1), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_new(ccfg, "localhost", NULL, 0, &c), RQ_OK);
    RQ_CHECK_ERR(rq_tls_new(scfg, NULL, NULL, 0, &s), RQ_OK);
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    RQ_CHECK_ERR(rq_tls_recv_crypto(s, RQ_CRYPTO_INITIAL, junk, 4), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_start(s), RQ_OK);
    RQ_CHECK_ERR(rq_tls_start(s), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_recv_crypto(s, RQ_CRYPTO_EARLY_DATA, junk, 4), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_tls_recv_crypto(s, (rq_crypto_level)7, junk, 4), RQ_ERR_INVALID_ARG);
    rq_aead_alg alg;
    RQ_CHECK_ERR(rq_tls_negotiated_alg(s, &alg), RQ_ERR_AGAIN);
    const uint8_t *proto;
    size_t plen;
    RQ_CHECK_ERR(rq_tls_alpn(s, &proto, &plen), RQ_ERR_AGAIN);
    /* A started client queues its ClientHello; a whole message of an unknown type (0xee,
     * 60 bytes) where the ServerHello belongs is unexpected_message (10): 0x010a. */
    RQ_CHECK_ERR(rq_tls_start(c), RQ_OK);
    RQ_CHECK_EQ_U64(rq_tls_transport_error(c), 0);
    junk[1] = 0;
    junk[2] = 0;
    junk[3] = 60;
    RQ_CHECK_ERR(rq_tls_recv_crypto(c, RQ_CRYPTO_INITIAL, junk, sizeof junk), RQ_ERR_TLS);
    uint64_t code = rq_tls_transport_error(c);
    RQ_CHECK_EQ_U64(code, 0x010a);
    rq_tls_event ev;
    RQ_CHECK(!rq_tls_poll(c, &ev));
    RQ_CHECK_ERR(rq_tls_recv_crypto(c, RQ_CRYPTO_INITIAL, junk, sizeof junk), RQ_ERR_TLS);
    RQ_CHECK_EQ_U64(rq_tls_transport_error(c), code);
    rq_tls_free(c);
    rq_tls_free(s);
    rq_tls_free(NULL);
    rq_tls_config_free(ccfg);
    rq_tls_config_free(scfg);
    rq_tls_config_free(NULL);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* RFC 9001 §4.8: whatever bytes a peer sends, the session either waits for more or fails
 * with CRYPTO_ERROR 0x0100 + alert; it never crashes, leaks or queues without bound. Random
 * garbage, and a real ClientHello with random bytes flipped, fed to a server. */
static void test_rfc9001_4_8_garbage_is_crypto_error(void)
{
    uint64_t st = rq_test_seed();
    unsigned long n = rq_test_iterations(40);
    int64_t live = rq_mem_live();
    rq_tls_config *ccfg = client_config(true),
                  *scfg = server_config("server.pem", "server-key.pem");
    RQ_CHECK(ccfg && scfg);
    /* one real ClientHello to mutate */
    uint8_t hello[2048];
    size_t hello_len = 0;
    rq_tls *c = NULL;
    RQ_CHECK_ERR(rq_tls_new(ccfg, "localhost", client_tp, sizeof client_tp, &c), RQ_OK);
    RQ_CHECK_ERR(rq_tls_start(c), RQ_OK);
    rq_tls_event ev;
    RQ_CHECK(rq_tls_poll(c, &ev) && ev.type == RQ_TLS_EV_CRYPTO_OUT && ev.len <= sizeof hello);
    memcpy(hello, ev.data, ev.len);
    hello_len = ev.len;
    rq_tls_free(c);
    for (unsigned long it = 0; it < n; it++) {
        uint8_t in[2048];
        size_t len;
        if (it % 2) {
            len = hello_len;
            memcpy(in, hello, len);
            for (int k = 0; k < 3; k++)
                in[rq_test_rand(&st) % len] ^= (uint8_t)(1 + rq_test_rand(&st) % 255);
        } else {
            len = 1 + (size_t)(rq_test_rand(&st) % sizeof in);
            for (size_t i = 0; i < len; i++)
                in[i] = (uint8_t)rq_test_rand(&st);
        }
        rq_tls *s = NULL;
        RQ_CHECK_ERR(rq_tls_new(scfg, NULL, server_tp, sizeof server_tp, &s), RQ_OK);
        RQ_CHECK_ERR(rq_tls_start(s), RQ_OK);
        int rc = rq_tls_recv_crypto(s, RQ_CRYPTO_INITIAL, in, len);
        uint64_t code = rq_tls_transport_error(s);
        while (rq_tls_poll(s, &ev))
            ;
        rq_tls_free(s);
        if (rc == RQ_ERR_CRYPTO_BUFFER_EXCEEDED) {
            RQ_CHECK_EQ_U64(code, 0x0d);
        } else if (rc != RQ_OK) {
            RQ_CHECK_ERR(rc, RQ_ERR_TLS);
            RQ_CHECK(code > 0x0100 && code <= 0x01ff);
        } else {
            RQ_CHECK_EQ_U64(code, 0);
        }
    }
    rq_tls_config_free(ccfg);
    rq_tls_config_free(scfg);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* RFC 9000 §7.5: a handshake message claiming more than RQ_TLS_MAX_HANDSHAKE_MESSAGE bytes
 * is refused as soon as its header arrives (GnuTLS alone would buffer up to 16 MiB for it):
 * CRYPTO_BUFFER_EXCEEDED, 0x0d. One byte under the limit is still accepted and buffered. */
static void test_rfc9000_7_5_oversized_message_refused(void)
{
    int64_t live = rq_mem_live();
    rq_tls_config *ccfg = client_config(true);
    RQ_CHECK(ccfg);
    for (int over = 0; over < 2; over++) {
        uint32_t claim = RQ_TLS_MAX_HANDSHAKE_MESSAGE + (uint32_t)over;
        uint8_t hdr[4] = {2, (uint8_t)(claim >> 16), (uint8_t)(claim >> 8), (uint8_t)claim};
        rq_tls *c = NULL;
        RQ_CHECK_ERR(rq_tls_new(ccfg, "localhost", NULL, 0, &c), RQ_OK);
        RQ_CHECK_ERR(rq_tls_start(c), RQ_OK);
        /* the header split across two calls */
        int rc1 = rq_tls_recv_crypto(c, RQ_CRYPTO_INITIAL, hdr, 2);
        int rc2 = rq_tls_recv_crypto(c, RQ_CRYPTO_INITIAL, hdr + 2, 2);
        uint64_t code = rq_tls_transport_error(c);
        rq_tls_free(c);
        RQ_CHECK_ERR(rc1, RQ_OK);
        RQ_CHECK_ERR(rc2, over ? RQ_ERR_CRYPTO_BUFFER_EXCEEDED : RQ_OK);
        RQ_CHECK_EQ_U64(code, over ? 0x0d : 0);
    }
    rq_tls_config_free(ccfg);
    RQ_CHECK_EQ_INT(rq_mem_live(), live);
}

/* RFC 9001 §6: QUIC endpoints never use TLS KeyUpdate; one received after the handshake
 * closes the connection with 0x010a (unexpected_message). */
static void test_rfc9001_6_tls_key_update_is_0x010a(void)
{
    rq_tls_config *ccfg = client_config(true),
                  *scfg = server_config("server.pem", "server-key.pem");
    RQ_CHECK(ccfg && scfg);
    pump p;
    RQ_CHECK_ERR(pump_init(&p, ccfg, scfg, "localhost"), RQ_OK);
    run(&p);
    /* key_update(24), length 1, update_requested */
    static const uint8_t key_update[] = {24, 0, 0, 1, 1};
    int rc = rq_tls_recv_crypto(p.c.tls, RQ_CRYPTO_APPLICATION, key_update, sizeof key_update);
    pump_finish(&p);
    rq_tls_config_free(ccfg);
    rq_tls_config_free(scfg);
    RQ_CHECK(p.c.complete);
    RQ_CHECK_ERR(rc, RQ_ERR_TLS);
    RQ_CHECK_EQ_U64(p.c.quic_error, 0x010a);
}

int main(void)
{
    RQ_RUN(test_rfc9001_4_8_untrusted_ca_fails);
    RQ_RUN(test_rfc9001_4_8_wrong_host_name_fails);
    RQ_RUN(test_rfc9001_4_8_no_trust_fails);
    RQ_RUN(test_ip_literal_verified_against_ip_san);
    RQ_RUN(test_insecure_accepts_untrusted);
    RQ_RUN(test_ephemeral_certificate);
    RQ_RUN(test_pem_loading_errors);
    RQ_RUN(test_api_contract_and_sticky_errors);
    RQ_RUN(test_rfc9001_4_8_garbage_is_crypto_error);
    RQ_RUN(test_rfc9000_7_5_oversized_message_refused);
    RQ_RUN(test_rfc9001_6_tls_key_update_is_0x010a);
    return rq_test_summary();
}
