/* An ngtcp2 connection plugged into the simulator as a node (host.h's sim_node_ops).
 *
 * ngtcp2 is sans-I/O like roamquic: datagrams go in through ngtcp2_conn_read_pkt, come out of
 * ngtcp2_conn_writev_stream / ngtcp2_conn_write_pkt, and time advances through
 * ngtcp2_conn_get_expiry / ngtcp2_conn_handle_expiry. This file only adapts: rq_addr to and
 * from struct sockaddr, the sim clock to ngtcp2 timestamps, a sim_rng to ngtcp2's rand
 * callback, and the scripted upload/verify application of qnode.h. */
#define _POSIX_C_SOURCE 200809L /* getenv-driven logging uses vfprintf; sockaddr types */

#include "ngnode.h"

#include "core/alloc.h"
#include "qnode.h" /* sim_qnode_pattern */

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ngtcp2 timestamps are the sim clock plus this offset. The sim starts at 0, and a timestamp
 * of exactly 0 is a value a library may reasonably treat as "unset"; the offset keeps the
 * adapter from ever depending on that. Expiry times are translated back. */
#define NG_TS_BASE ((ngtcp2_tstamp)1000000000)

#define NG_CID_LEN 18 /* server and client source CIDs: long enough to be unlinkable */

struct sim_ngnode {
    sim *s;
    sim_host *host;
    sim_rng rng;
    char name[SIM_NAME_MAX];
    rq_addr addr;
    bool server;
    bool log;

    /* Server: the preferred address to advertise (RFC 9000 §9.6), family RQ_AF_NONE if not. */
    rq_addr pref4, pref6;
    bool zero_cid; /* server: a zero-length source CID (clients then cannot migrate, §9.5) */

    /* Key log sink (NSS format lines), e.g. a decrypting trace's; NULL for none. */
    void (*keylog)(void *ctx, const char *line);
    void *keylog_ctx;

    /* The sim time of the last on_timeout and ngtcp2's expiry right after it (see
     * node_next_timeout). */
    rq_time handled_at, expiry_after;

    ngtcp2_conn *conn;
    ngtcp2_crypto_conn_ref conn_ref;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;

    /* A fatal local error waits to be sent as CONNECTION_CLOSE, once. */
    bool close_pending;
    ngtcp2_connection_close_error ccerr;

    /* ngtcp2 does not copy stream data: it keeps pointers into the application's buffer
     * until the bytes are acknowledged, so the whole upload stays here for the node's life. */
    uint8_t *payload;
    int64_t stream;

    sim_ngnode_state st;
};

/* ---- adapters: addresses, time, randomness, logging ---- */

static void to_sockaddr(const rq_addr *a, ngtcp2_sockaddr_union *u, ngtcp2_socklen *len)
{
    memset(u, 0, sizeof *u);
    if (a->family == RQ_AF_INET6) {
        u->in6.sin6_family = AF_INET6;
        u->in6.sin6_port = htons(a->port);
        memcpy(&u->in6.sin6_addr, a->ip, 16);
        u->in6.sin6_scope_id = a->scope;
        *len = sizeof u->in6;
    } else {
        u->in.sin_family = AF_INET;
        u->in.sin_port = htons(a->port);
        memcpy(&u->in.sin_addr, a->ip, 4);
        *len = sizeof u->in;
    }
}

static rq_addr from_sockaddr(const ngtcp2_addr *na)
{
    rq_addr a;
    memset(&a, 0, sizeof a);
    if (!na->addr || na->addrlen == 0)
        return a;
    if (na->addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)na->addr;
        a.family = RQ_AF_INET6;
        a.port = ntohs(in6->sin6_port);
        memcpy(a.ip, &in6->sin6_addr, 16);
        a.scope = in6->sin6_scope_id;
    } else if (na->addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)na->addr;
        a.family = RQ_AF_INET4;
        a.port = ntohs(in->sin_port);
        memcpy(a.ip, &in->sin_addr, 4);
    }
    return a;
}

/* A path in ngtcp2's terms; the storage must outlive the ngtcp2 call it is passed to. */
static void make_path(ngtcp2_path_storage *ps, const rq_addr *local, const rq_addr *remote)
{
    ngtcp2_sockaddr_union l, r;
    ngtcp2_socklen llen, rlen;
    to_sockaddr(local, &l, &llen);
    to_sockaddr(remote, &r, &rlen);
    ngtcp2_path_storage_init(ps, &l.sa, llen, &r.sa, rlen, NULL);
}

static ngtcp2_tstamp ng_ts(rq_time now)
{
    return (ngtcp2_tstamp)now + NG_TS_BASE;
}

static void ng_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    sim_rng_fill(ctx->native_handle, dest, len);
}

static void fill_random(sim_ngnode *n, uint8_t *buf, size_t len)
{
    sim_rng_fill(&n->rng, buf, len);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
ng_log(void *user_data, const char *fmt, ...)
{
    sim_ngnode *n = user_data;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%.3f ms %s] ", (double)sim_now(n->s) / 1e6, n->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    sim_ngnode *n = ref->user_data;
    return n->conn;
}

static int cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                      void *user_data)
{
    (void)conn;
    sim_ngnode *n = user_data;
    uint8_t buf[NGTCP2_MAX_CIDLEN];
    if (cidlen > sizeof buf)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    fill_random(n, buf, cidlen);
    ngtcp2_cid_init(cid, buf, cidlen);
    fill_random(n, token, NGTCP2_STATELESS_RESET_TOKENLEN);
    return 0;
}

/* PATH_CHALLENGE data from the seeded stream, so that path validation replays too. */
static int cb_path_challenge(ngtcp2_conn *conn, uint8_t *data, void *user_data)
{
    (void)conn;
    fill_random(user_data, data, NGTCP2_PATH_CHALLENGE_DATALEN);
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
    sim_ngnode *n = user_data;
    n->st.connected = true;
    n->st.version = ngtcp2_conn_get_negotiated_version(conn);
    gnutls_datum_t alpn;
    if (gnutls_alpn_get_selected_protocol(n->tls, &alpn) == 0) {
        size_t len = alpn.size < sizeof n->st.alpn - 1 ? alpn.size : sizeof n->st.alpn - 1;
        memcpy(n->st.alpn, alpn.data, len);
        n->st.alpn[len] = 0;
    }
    return 0;
}

static int cb_stream_open(ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
    (void)conn;
    (void)stream_id;
    sim_ngnode *n = user_data;
    n->st.streams_opened++;
    return 0;
}

/* The server's half of the script: every byte checked against the pattern at its offset, and
 * the flow-control credit it used given back at once (the application reads as fast as the
 * network delivers, so the receive window never limits the transfer). */
static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id,
                               uint64_t offset, const uint8_t *data, size_t len, void *user_data,
                               void *stream_user_data)
{
    (void)stream_user_data;
    sim_ngnode *n = user_data;
    if (offset != n->st.received)
        n->st.gaps++;
    for (size_t i = 0; i < len; i++)
        if (data[i] != sim_qnode_pattern(offset + i))
            n->st.bad_bytes++;
    n->st.received += len;
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
        n->st.fin_received = true;
    int rv = ngtcp2_conn_extend_max_stream_offset(conn, stream_id, len);
    if (rv == 0)
        ngtcp2_conn_extend_max_offset(conn, len);
    return rv == 0 || rv == NGTCP2_ERR_STREAM_NOT_FOUND ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static int cb_acked_stream_data(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t len,
                                void *user_data, void *stream_user_data)
{
    (void)conn;
    (void)stream_user_data;
    sim_ngnode *n = user_data;
    if (stream_id == n->stream && offset + len > n->st.acked)
        n->st.acked = offset + len;
    return 0;
}

static int cb_path_validation(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *user_data)
{
    (void)conn;
    (void)flags;
    (void)path;
    sim_ngnode *n = user_data;
    if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS)
        n->st.paths_validated++;
    else
        n->st.paths_failed++;
    return 0;
}

/* A client follows a server's preferred IPv4 address from its current local address (RFC 9000
 * §9.6.1); ngtcp2 validates it and moves there itself. */
static int cb_select_preferred_addr(ngtcp2_conn *conn, ngtcp2_path *dest,
                                    const ngtcp2_preferred_addr *paddr, void *user_data)
{
    (void)conn;
    sim_ngnode *n = user_data;
    n->st.preferred_offered = true;
    if (!paddr->ipv4_present)
        return 0;
    memcpy(dest->remote.addr, &paddr->ipv4, sizeof paddr->ipv4);
    dest->remote.addrlen = sizeof paddr->ipv4;
    return 0;
}

static void set_callbacks(ngtcp2_callbacks *cb, bool server)
{
    memset(cb, 0, sizeof *cb);
    if (server) {
        cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
        cb->client_initial = ngtcp2_crypto_client_initial_cb;
        cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
        cb->select_preferred_addr = cb_select_preferred_addr;
    }
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb->rand = ng_rand;
    cb->get_new_connection_id = cb_new_cid;
    cb->get_path_challenge_data = cb_path_challenge;
    cb->handshake_completed = cb_handshake_completed;
    cb->stream_open = cb_stream_open;
    cb->recv_stream_data = cb_recv_stream_data;
    cb->acked_stream_data_offset = cb_acked_stream_data;
    cb->path_validation = cb_path_validation;
}

/* Windows large enough for a 1 MB upload not to wait on flow control in the common case, small
 * enough that MAX_DATA / MAX_STREAM_DATA updates still happen during a transfer. */
static void set_params(ngtcp2_transport_params *p)
{
    ngtcp2_transport_params_default(p);
    p->initial_max_stream_data_bidi_local = 1u << 20;
    p->initial_max_stream_data_bidi_remote = 1u << 20;
    p->initial_max_stream_data_uni = 1u << 20;
    p->initial_max_data = 4u << 20;
    p->initial_max_streams_bidi = 16;
    p->initial_max_streams_uni = 16;
    p->max_idle_timeout = 30 * NGTCP2_SECONDS;
    p->active_connection_id_limit = 4;
}

static void set_settings(sim_ngnode *n, ngtcp2_settings *st, rq_time now)
{
    ngtcp2_settings_default(st);
    st->initial_ts = ng_ts(now);
    st->rand_ctx.native_handle = &n->rng;
    if (n->log)
        st->log_printf = ng_log;
    /* ngtcp2 defaults to CUBIC; RQ_NG_CC=reno compares like with like against roamquic's
     * NewReno, bbr to see what a model-based sender makes of the same link. */
    const char *cc = getenv("RQ_NG_CC");
    if (cc && strcmp(cc, "reno") == 0)
        st->cc_algo = NGTCP2_CC_ALGO_RENO;
    else if (cc && strcmp(cc, "bbr") == 0)
        st->cc_algo = NGTCP2_CC_ALGO_BBR;
}

/* ---- TLS ---- */

static void cert_path(char *out, size_t cap, const char *name)
{
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(out, cap, "%.*s/../certs/%s", dir, slash ? file : ".", name);
}

static int load_credentials(sim_ngnode *n)
{
    char a[512], b[512];
    if (gnutls_certificate_allocate_credentials(&n->cred) != GNUTLS_E_SUCCESS)
        return RQ_ERR_NOMEM;
    int rv;
    if (n->server) {
        cert_path(a, sizeof a, "server.pem");
        cert_path(b, sizeof b, "server-key.pem");
        rv = gnutls_certificate_set_x509_key_file(n->cred, a, b, GNUTLS_X509_FMT_PEM);
    } else {
        cert_path(a, sizeof a, "ca.pem");
        rv = gnutls_certificate_set_x509_trust_file(n->cred, a, GNUTLS_X509_FMT_PEM);
        rv = rv == 1 ? 0 : -1; /* the number of certificates loaded: exactly the test CA */
    }
    return rv == 0 ? 0 : RQ_ERR_CERTIFICATE;
}

/* GnuTLS's key-log hook: one NSS key-log line per secret (the format SSLKEYLOGFILE uses and
 * qtrace reads), so that an observer can decrypt this side's packets as soon as it sends them
 * rather than only once the peer has the same secrets. */
static int on_keylog(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
    sim_ngnode *n = ref ? ref->user_data : NULL;
    if (!n || !n->keylog || secret->size > 64)
        return 0;
    gnutls_datum_t crandom, srandom;
    gnutls_session_get_random(session, &crandom, &srandom);
    if (crandom.size != 32)
        return 0;
    static const char hex[] = "0123456789abcdef";
    char line[64 + 1 + 64 + 1 + 128 + 1];
    size_t at = (size_t)snprintf(line, sizeof line, "%.63s ", label);
    for (unsigned i = 0; i < 32; i++) {
        line[at++] = hex[crandom.data[i] >> 4];
        line[at++] = hex[crandom.data[i] & 15];
    }
    line[at++] = ' ';
    for (unsigned i = 0; i < secret->size; i++) {
        line[at++] = hex[secret->data[i] >> 4];
        line[at++] = hex[secret->data[i] & 15];
    }
    line[at] = 0;
    n->keylog(n->keylog_ctx, line);
    return 0;
}

/* A GnuTLS session set up for QUIC (TLS 1.3 only, no EndOfEarlyData, transport parameters
 * through ngtcp2's extension handler), bound to the connection through conn_ref. */
static int make_session(sim_ngnode *n)
{
    unsigned flags = (n->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_ENABLE_EARLY_DATA |
                     GNUTLS_NO_END_OF_EARLY_DATA;
    if (gnutls_init(&n->tls, flags) != GNUTLS_E_SUCCESS)
        return RQ_ERR_NOMEM;
    int ok = n->server ? ngtcp2_crypto_gnutls_configure_server_session(n->tls)
                       : ngtcp2_crypto_gnutls_configure_client_session(n->tls);
    if (ok != 0)
        return RQ_ERR_CRYPTO;
    if (gnutls_priority_set_direct(n->tls, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL) !=
            GNUTLS_E_SUCCESS ||
        gnutls_credentials_set(n->tls, GNUTLS_CRD_CERTIFICATE, n->cred) != GNUTLS_E_SUCCESS)
        return RQ_ERR_CRYPTO;
    static const char alpn_name[] = "rq-test";
    gnutls_datum_t alpn = {(unsigned char *)(uintptr_t)alpn_name, sizeof alpn_name - 1};
    if (gnutls_alpn_set_protocols(n->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != GNUTLS_E_SUCCESS)
        return RQ_ERR_CRYPTO;
    if (!n->server) {
        if (gnutls_server_name_set(n->tls, GNUTLS_NAME_DNS, "localhost", 9) != GNUTLS_E_SUCCESS)
            return RQ_ERR_CRYPTO;
        gnutls_session_set_verify_cert(n->tls, "localhost", 0);
    }
    n->conn_ref.get_conn = get_conn;
    n->conn_ref.user_data = n;
    gnutls_session_set_ptr(n->tls, &n->conn_ref);
    if (n->keylog)
        gnutls_session_set_keylog_function(n->tls, on_keylog);
    return 0;
}

/* ---- connection lifecycle ---- */

/* Records the end of the connection from ngtcp2's error. */
static void on_fatal(sim_ngnode *n, int rv, const char *where)
{
    if (n->st.closed)
        return;
    n->st.closed = true;
    if (rv == NGTCP2_ERR_DRAINING) {
        /* The peer sent CONNECTION_CLOSE: its code is what it said. */
        ngtcp2_connection_close_error e;
        ngtcp2_conn_get_connection_close_error(n->conn, &e);
        n->st.close_by_peer = true;
        n->st.close_app = e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
        n->st.close_code = e.error_code;
        fprintf(stderr, "  ngnode %s: peer closed: %s code 0x%llx frame 0x%llx \"%.*s\"\n", n->name,
                n->st.close_app ? "application" : "transport", (unsigned long long)e.error_code,
                (unsigned long long)e.frame_type, (int)e.reasonlen,
                e.reason ? (const char *)e.reason : "");
        return;
    }
    n->st.lib_error = rv;
    if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_DROP_CONN)
        return; /* silently */
    if (rv == NGTCP2_ERR_CRYPTO)
        ngtcp2_connection_close_error_set_transport_error_tls_alert(
            &n->ccerr, ngtcp2_conn_get_tls_alert(n->conn), NULL, 0);
    else
        ngtcp2_connection_close_error_set_transport_error_liberr(&n->ccerr, rv, NULL, 0);
    n->st.close_code = n->ccerr.error_code;
    n->close_pending = true;
    fprintf(stderr, "  ngnode %s: %s failed: %s (%d), closing with 0x%llx\n", n->name, where,
            ngtcp2_strerror(rv), rv, (unsigned long long)n->ccerr.error_code);
}

/* Server: the preferred address in the transport parameters (RFC 9000 §18.2). Its CID and
 * reset token come from the node's stream; ngtcp2_conn_server_new registers the CID as
 * sequence 1 (§5.1.1), so packets carrying it are this connection's on any path. */
static void set_preferred_address(sim_ngnode *n, ngtcp2_transport_params *p)
{
    if (n->pref4.family == RQ_AF_NONE && n->pref6.family == RQ_AF_NONE)
        return;
    ngtcp2_preferred_addr *pa = &p->preferred_address;
    memset(pa, 0, sizeof *pa);
    p->preferred_address_present = 1;
    ngtcp2_sockaddr_union u;
    ngtcp2_socklen len;
    if (n->pref4.family == RQ_AF_INET4) {
        to_sockaddr(&n->pref4, &u, &len);
        memcpy(&pa->ipv4, &u.in, sizeof pa->ipv4);
        pa->ipv4_present = 1;
    }
    if (n->pref6.family == RQ_AF_INET6) {
        to_sockaddr(&n->pref6, &u, &len);
        memcpy(&pa->ipv6, &u.in6, sizeof pa->ipv6);
        pa->ipv6_present = 1;
    }
    uint8_t cid[NG_CID_LEN];
    fill_random(n, cid, sizeof cid);
    ngtcp2_cid_init(&pa->cid, cid, sizeof cid);
    fill_random(n, pa->stateless_reset_token, sizeof pa->stateless_reset_token);
    memcpy(n->st.preferred_cid, cid, sizeof cid);
    n->st.preferred_cid_len = sizeof cid;
}

/* Server: the first Initial makes the connection (RFC 9000 §7.2: the client's SCID becomes our
 * DCID, its DCID is the original_destination_connection_id we echo). */
static int accept_conn(sim_ngnode *n, rq_time now, const ngtcp2_path *path, const uint8_t *data,
                       size_t len)
{
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, data, len) != 0)
        return 0; /* not an acceptable first packet: dropped, as a server would */
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params p;
    set_callbacks(&cb, true);
    set_settings(n, &st, now);
    set_params(&p);
    p.original_dcid = hd.dcid;
    p.stateless_reset_token_present = 1;
    fill_random(n, p.stateless_reset_token, sizeof p.stateless_reset_token);
    set_preferred_address(n, &p);
    uint8_t scid_buf[NG_CID_LEN];
    ngtcp2_cid scid;
    fill_random(n, scid_buf, sizeof scid_buf);
    ngtcp2_cid_init(&scid, scid_buf, n->zero_cid ? 0 : sizeof scid_buf);
    int rc = make_session(n);
    if (rc)
        return rc;
    if (ngtcp2_conn_server_new(&n->conn, &hd.scid, &scid, path, hd.version, &cb, &st, &p, NULL,
                               n) != 0)
        return RQ_ERR_NOMEM;
    ngtcp2_conn_set_tls_native_handle(n->conn, n->tls);
    n->st.accepted++;
    return 0;
}

/* ngtcp2's current path, for the test to read. */
static void note_path(sim_ngnode *n)
{
    const ngtcp2_path *p = ngtcp2_conn_get_path(n->conn);
    n->st.path_local = from_sockaddr(&p->local);
    n->st.path_remote = from_sockaddr(&p->remote);
}

static int node_recv(void *ctx, rq_time now, const rq_path_addr *path, uint8_t ecn,
                     const uint8_t *data, size_t len)
{
    sim_ngnode *n = ctx;
    if (n->st.closed)
        return 0;
    ngtcp2_path_storage ps;
    make_path(&ps, &path->local, &path->remote);
    if (!n->conn) {
        if (!n->server)
            return 0;
        int rc = accept_conn(n, now, &ps.path, data, len);
        if (rc || !n->conn)
            return rc;
    }
    if (n->server && ((n->pref4.family && rq_addr_eq(&path->local, &n->pref4)) ||
                      (n->pref6.family && rq_addr_eq(&path->local, &n->pref6))))
        n->st.recv_at_preferred++;
    ngtcp2_pkt_info pi = {.ecn = ecn};
    int rv = ngtcp2_conn_read_pkt(n->conn, &ps.path, &pi, data, len, ng_ts(now));
    if (rv != 0)
        on_fatal(n, rv, "read_pkt");
    note_path(n);
    return 0;
}

/* The client's half of the script: the stream opens once ngtcp2 allows it (after the
 * handshake, when the server's stream limit is known). */
static void open_stream(sim_ngnode *n)
{
    if (n->server || n->stream >= 0 || !n->st.to_send || !n->st.connected)
        return;
    int64_t id;
    if (ngtcp2_conn_open_bidi_stream(n->conn, &id, NULL) == 0)
        n->stream = id;
}

static int node_send(void *ctx, rq_time now, rq_path_addr *path, uint8_t *ecn, uint8_t *buf,
                     size_t cap, size_t *len)
{
    sim_ngnode *n = ctx;
    *len = 0;
    *ecn = 0;
    if (!n->conn)
        return 0;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi;
    memset(&pi, 0, sizeof pi);
    size_t max = ngtcp2_conn_get_max_tx_udp_payload_size(n->conn);
    if (max > cap)
        max = cap;
    ngtcp2_ssize w;
    if (n->st.closed) {
        if (!n->close_pending)
            return 0;
        n->close_pending = false;
        w = ngtcp2_conn_write_connection_close(n->conn, &ps.path, &pi, buf, max, &n->ccerr,
                                               ng_ts(now));
        if (w <= 0)
            return 0;
    } else {
        open_stream(n);
        w = 0;
        bool wrote_stream = false;
        if (n->stream >= 0 && !n->st.fin_written) {
            ngtcp2_vec v = {n->payload + n->st.sent, (size_t)(n->st.to_send - n->st.sent)};
            ngtcp2_ssize consumed = -1;
            w = ngtcp2_conn_writev_stream(n->conn, &ps.path, &pi, buf, max, &consumed,
                                          NGTCP2_WRITE_STREAM_FLAG_FIN, n->stream, &v, 1,
                                          ng_ts(now));
            if (w >= 0) {
                wrote_stream = true;
                if (consumed >= 0) {
                    n->st.sent += (uint64_t)consumed;
                    /* All the remaining bytes fit, so the FIN flag went with them. */
                    if (n->st.sent == n->st.to_send)
                        n->st.fin_written = true;
                }
            } else if (w != NGTCP2_ERR_STREAM_DATA_BLOCKED && w != NGTCP2_ERR_STREAM_SHUT_WR &&
                       w != NGTCP2_ERR_STREAM_NOT_FOUND) {
                on_fatal(n, (int)w, "writev_stream");
                return 0;
            }
        }
        if (!wrote_stream)
            w = ngtcp2_conn_write_pkt(n->conn, &ps.path, &pi, buf, max, ng_ts(now));
        if (w < 0) {
            on_fatal(n, (int)w, "write_pkt");
            return 0;
        }
        ngtcp2_conn_update_pkt_tx_time(n->conn, ng_ts(now));
        if (w == 0)
            return 0; /* nothing, or congestion / pacing limited: the timer brings us back */
    }
    path->local = from_sockaddr(&ps.path.local);
    path->remote = from_sockaddr(&ps.path.remote);
    if (path->local.family == RQ_AF_NONE)
        path->local = n->addr;
    n->st.last_local = path->local;
    n->st.last_remote = path->remote;
    note_path(n);
    *ecn = (uint8_t)(pi.ecn & 3);
    *len = (size_t)w;
    return 0;
}

static rq_time node_next_timeout(void *ctx)
{
    sim_ngnode *n = ctx;
    if (!n->conn || n->st.closed)
        return RQ_TIME_NEVER;
    ngtcp2_tstamp t = ngtcp2_conn_get_expiry(n->conn);
    if (t == UINT64_MAX)
        return RQ_TIME_NEVER;
    rq_time at = t <= NG_TS_BASE ? 0 : (rq_time)(t - NG_TS_BASE);
    /* ngtcp2 0.12 can report an expiry that handling does not move: with a path validation
     * pending on a path whose anti-amplification budget is spent (a server challenging the
     * client's old path after the client moved to its preferred address, where nothing
     * arrives any more), ngtcp2_conn_handle_expiry and write_pkt both do nothing and
     * ngtcp2_conn_get_expiry returns the same past time. A real event loop spins on it while
     * its clock moves on; virtual time would not move at all. So a timer that handling left
     * where it was fires again one timer granule (1 ms, RFC 9002 kGranularity) later, as an
     * OS timer would, until ngtcp2's validation timeout ends it. */
    if (n->handled_at != RQ_TIME_NEVER && at <= n->handled_at && at == n->expiry_after) {
        n->st.stuck_timers++;
        return n->handled_at + RQ_MS;
    }
    return at;
}

static int node_on_timeout(void *ctx, rq_time now)
{
    sim_ngnode *n = ctx;
    if (!n->conn || n->st.closed)
        return 0;
    int rv = ngtcp2_conn_handle_expiry(n->conn, ng_ts(now));
    if (rv != 0)
        on_fatal(n, rv, "handle_expiry");
    n->handled_at = now;
    ngtcp2_tstamp t = ngtcp2_conn_get_expiry(n->conn);
    n->expiry_after = t == UINT64_MAX   ? RQ_TIME_NEVER
                      : t <= NG_TS_BASE ? 0
                                        : (rq_time)(t - NG_TS_BASE);
    return 0;
}

static const sim_node_ops ngnode_ops = {node_recv, node_send, node_next_timeout, node_on_timeout};

int sim_ngnode_new(sim *s, const char *name, bool server, const rq_addr *addr, sim_ngnode **out)
{
    if (!s || !name || !addr || !out)
        return RQ_ERR_INVALID_ARG;
    sim_ngnode *n = rq_mem_calloc(1, sizeof *n);
    if (!n)
        return RQ_ERR_NOMEM;
    n->s = s;
    n->server = server;
    n->addr = *addr;
    n->stream = -1;
    n->handled_at = RQ_TIME_NEVER;
    snprintf(n->name, sizeof n->name, "%s", name);
    const char *log = getenv("RQ_NG_LOG");
    n->log = log && *log && strcmp(log, "0") != 0;
    sim_rng_init(&n->rng, sim_seed(s), name, 0x4e47);
    int rc = load_credentials(n);
    if (!rc)
        rc = sim_host_new(s, name, 1, &ngnode_ops, n, &n->host);
    if (!rc)
        rc = sim_host_add_addr(n->host, addr, 0);
    if (rc) {
        sim_ngnode_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int sim_ngnode_set_preferred_address(sim_ngnode *n, const rq_addr *v4, const rq_addr *v6, bool own)
{
    if (!n || !n->server || n->conn || (!v4 && !v6) || (v4 && v4->family != RQ_AF_INET4) ||
        (v6 && v6->family != RQ_AF_INET6))
        return RQ_ERR_INVALID_ARG;
    int rc = 0;
    if (own && v4 && !sim_host_has_addr(n->host, v4))
        rc = sim_host_add_addr(n->host, v4, 0);
    if (!rc && own && v6 && !sim_host_has_addr(n->host, v6))
        rc = sim_host_add_addr(n->host, v6, 0);
    if (rc)
        return rc;
    memset(&n->pref4, 0, sizeof n->pref4);
    memset(&n->pref6, 0, sizeof n->pref6);
    if (v4)
        n->pref4 = *v4;
    if (v6)
        n->pref6 = *v6;
    return 0;
}

void sim_ngnode_set_zero_length_cid(sim_ngnode *n, bool on)
{
    n->zero_cid = on;
}

void sim_ngnode_set_keylog(sim_ngnode *n, void (*fn)(void *ctx, const char *line), void *ctx)
{
    n->keylog = fn;
    n->keylog_ctx = ctx;
}

void sim_ngnode_free(sim_ngnode *n)
{
    if (!n)
        return;
    if (n->conn)
        ngtcp2_conn_del(n->conn);
    if (n->tls)
        gnutls_deinit(n->tls);
    if (n->cred)
        gnutls_certificate_free_credentials(n->cred);
    rq_mem_free(n->payload);
    rq_mem_free(n);
}

int sim_ngnode_connect(sim_ngnode *n, const rq_addr *server, uint64_t to_send)
{
    if (!n || !server || n->server || n->conn || to_send > SIZE_MAX)
        return RQ_ERR_INVALID_ARG;
    if (to_send) {
        n->payload = rq_mem_alloc((size_t)to_send);
        if (!n->payload)
            return RQ_ERR_NOMEM;
        for (uint64_t i = 0; i < to_send; i++)
            n->payload[i] = sim_qnode_pattern(i);
    }
    n->st.to_send = to_send;
    rq_time now = sim_now(n->s);
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params p;
    set_callbacks(&cb, false);
    set_settings(n, &st, now);
    set_params(&p);
    /* RFC 9000 §7.2: the first Destination Connection ID is unpredictable, at least 8 bytes. */
    uint8_t dbuf[NG_CID_LEN], sbuf[NG_CID_LEN];
    fill_random(n, dbuf, sizeof dbuf);
    fill_random(n, sbuf, sizeof sbuf);
    ngtcp2_cid dcid, scid;
    ngtcp2_cid_init(&dcid, dbuf, sizeof dbuf);
    ngtcp2_cid_init(&scid, sbuf, sizeof sbuf);
    ngtcp2_path_storage ps;
    make_path(&ps, &n->addr, server);
    int rc = make_session(n);
    if (rc)
        return rc;
    if (ngtcp2_conn_client_new(&n->conn, &dcid, &scid, &ps.path, NGTCP2_PROTO_VER_V1, &cb, &st, &p,
                               NULL, n) != 0)
        return RQ_ERR_NOMEM;
    ngtcp2_conn_set_tls_native_handle(n->conn, n->tls);
    return sim_host_wake(n->s, n->host);
}

int sim_ngnode_migrate(sim_ngnode *n, const rq_addr *local)
{
    if (!n || !local || n->server || !n->conn || n->st.closed)
        return RQ_ERR_INVALID_ARG;
    ngtcp2_path_storage ps;
    const ngtcp2_path *cur = ngtcp2_conn_get_path(n->conn);
    rq_addr remote = from_sockaddr(&cur->remote);
    make_path(&ps, local, &remote);
    int rv = ngtcp2_conn_initiate_migration(n->conn, &ps.path, ng_ts(sim_now(n->s)));
    if (rv != 0) {
        fprintf(stderr, "  ngnode %s: initiate_migration: %s (%d)\n", n->name, ngtcp2_strerror(rv),
                rv);
        return rv == NGTCP2_ERR_NOMEM ? RQ_ERR_NOMEM : RQ_ERR_AGAIN;
    }
    return sim_host_wake(n->s, n->host);
}

const sim_ngnode_state *sim_ngnode_get_state(const sim_ngnode *n)
{
    return &n->st;
}

sim_host *sim_ngnode_host(sim_ngnode *n)
{
    return n->host;
}
