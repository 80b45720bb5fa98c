/* rq_tls: one connection's TLS 1.3 handshake through GnuTLS's QUIC hooks (RFC 9001 §4, §8).
 *
 * GnuTLS talks to us through five callbacks (handshake bytes out, secrets, alerts, the
 * transport-parameters extension, key log); each turns what it gets into a queued event, so
 * the connection sees none of them: it feeds bytes in and polls events out. */
#define _POSIX_C_SOURCE 200809L

#include "crypto/tls.h"

#include "core/alloc.h"
#include "crypto/tls_config.h"

#include <arpa/inet.h>
#include <roamquic/error.h>
#include <stdio.h>
#include <string.h>

#define TLS_MSG_KEY_UPDATE 24 /* RFC 8446 §4: HandshakeType key_update */

/* A queued event; its bytes live in the arena at [off, off + len). */
typedef struct tls_ev {
    rq_tls_event_type type;
    rq_crypto_level level;
    rq_tls_direction dir;
    rq_aead_alg alg;
    size_t off, len;
} tls_ev;

/* Where the peer's handshake-message framing stands in one level's CRYPTO stream. */
typedef struct tls_framing {
    uint8_t hdr[4]; /* msg_type, 24-bit length */
    uint8_t hdr_have;
    uint32_t body_left;
} tls_framing;

struct rq_tls {
    const rq_tls_config *cfg;
    gnutls_session_t session;
    uint8_t *tp; /* our transport parameters (owned), sent in extension 0x39 */
    size_t tp_len;
    uint8_t *peer_tp; /* the peer's, copied on receipt (owned, at most 65535 bytes) */
    size_t peer_tp_len;
    bool peer_tp_seen;
    uint8_t *buf; /* the event arena (owned), at most RQ_TLS_MAX_PENDING_BYTES */
    size_t buf_len, buf_cap;
    tls_ev ev[RQ_TLS_MAX_EVENTS];
    unsigned ev_count, ev_next; /* queued; the next to hand out */
    tls_framing framing[RQ_CRYPTO_LEVEL_COUNT];
    int cb_error; /* error raised inside a GnuTLS callback, reported after it returns */
    int alert;    /* the first fatal TLS alert, or -1 */
    int fatal;    /* 0, or the sticky error every call returns */
    uint64_t quic_error;
    bool started, complete, peer_checked, verified, omit_tp;
};

/* ---- levels ------------------------------------------------------------------------------- */

static gnutls_record_encryption_level_t level_to_gnutls(rq_crypto_level level)
{
    switch (level) {
    case RQ_CRYPTO_INITIAL:
        return GNUTLS_ENCRYPTION_LEVEL_INITIAL;
    case RQ_CRYPTO_EARLY_DATA:
        return GNUTLS_ENCRYPTION_LEVEL_EARLY;
    case RQ_CRYPTO_HANDSHAKE:
        return GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE;
    case RQ_CRYPTO_APPLICATION:
        break;
    }
    return GNUTLS_ENCRYPTION_LEVEL_APPLICATION;
}

static rq_crypto_level level_from_gnutls(gnutls_record_encryption_level_t level)
{
    switch (level) {
    case GNUTLS_ENCRYPTION_LEVEL_INITIAL:
        return RQ_CRYPTO_INITIAL;
    case GNUTLS_ENCRYPTION_LEVEL_EARLY:
        return RQ_CRYPTO_EARLY_DATA;
    case GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE:
        return RQ_CRYPTO_HANDSHAKE;
    case GNUTLS_ENCRYPTION_LEVEL_APPLICATION:
        break;
    }
    return RQ_CRYPTO_APPLICATION;
}

/* ---- the event queue ----------------------------------------------------------------------- */

/* Releases every event and wipes the arena (it held secrets). Keeps the allocation. */
static void queue_clear(rq_tls *tls)
{
    if (tls->buf_len)
        gnutls_memset(tls->buf, 0, tls->buf_len);
    tls->buf_len = 0;
    tls->ev_count = tls->ev_next = 0;
}

/* Once the connection has taken every event, their memory may be reused. */
static void queue_reset_if_drained(rq_tls *tls)
{
    if (tls->ev_next == tls->ev_count)
        queue_clear(tls);
}

/* Appends len bytes to the arena, growing it by doubling up to the documented cap. */
static int arena_append(rq_tls *tls, const void *data, size_t len)
{
    if (len > RQ_TLS_MAX_PENDING_BYTES - tls->buf_len)
        return RQ_ERR_LIMIT;
    if (tls->buf_len + len > tls->buf_cap) {
        size_t cap = tls->buf_cap ? tls->buf_cap : 2048;
        while (cap < tls->buf_len + len)
            cap *= 2;
        if (cap > RQ_TLS_MAX_PENDING_BYTES)
            cap = RQ_TLS_MAX_PENDING_BYTES;
        uint8_t *nb = rq_mem_alloc(cap);
        if (!nb)
            return RQ_ERR_NOMEM;
        /* A fresh block rather than realloc so that old secrets are wiped, not left behind. */
        if (tls->buf_len)
            memcpy(nb, tls->buf, tls->buf_len);
        if (tls->buf) {
            gnutls_memset(tls->buf, 0, tls->buf_cap);
            rq_mem_free(tls->buf);
        }
        tls->buf = nb;
        tls->buf_cap = cap;
    }
    if (len)
        memcpy(tls->buf + tls->buf_len, data, len);
    tls->buf_len += len;
    return RQ_OK;
}

/* Queues an event carrying a copy of data. Consecutive CRYPTO_OUT bytes for one level, not
 * yet handed out, are merged into one event (one flight, one event per level). */
static int queue_push(rq_tls *tls, rq_tls_event_type type, rq_crypto_level level,
                      rq_tls_direction dir, rq_aead_alg alg, const void *data, size_t len)
{
    tls_ev *last = tls->ev_count > tls->ev_next ? &tls->ev[tls->ev_count - 1] : NULL;
    bool merge = type == RQ_TLS_EV_CRYPTO_OUT && last && last->type == type &&
                 last->level == level && last->off + last->len == tls->buf_len;
    if (!merge && tls->ev_count == RQ_TLS_MAX_EVENTS)
        return RQ_ERR_LIMIT;
    size_t off = tls->buf_len;
    int rc = arena_append(tls, data, len);
    if (rc != RQ_OK)
        return rc;
    if (merge) {
        last->len += len;
        return RQ_OK;
    }
    tls->ev[tls->ev_count++] = (tls_ev){type, level, dir, alg, off, len};
    return RQ_OK;
}

/* ---- failure ------------------------------------------------------------------------------- */

/* Makes err sticky and drops whatever was queued: after a fatal error the connection sends
 * only CONNECTION_CLOSE, never more handshake bytes. RQ_ERR_TLS carries the alert (RFC 9001
 * §4.8: CRYPTO_ERROR is 0x0100 + alert); other errors are local (INTERNAL_ERROR). */
static int fail(rq_tls *tls, int err)
{
    if (tls->fatal)
        return tls->fatal;
    tls->fatal = err;
    if (err == RQ_ERR_TLS) {
        if (tls->alert < 0)
            tls->alert = GNUTLS_A_INTERNAL_ERROR;
        tls->quic_error = RQ_QUIC_CRYPTO_ERROR_BASE + (uint64_t)tls->alert;
    } else if (err == RQ_ERR_CRYPTO_BUFFER_EXCEEDED) {
        tls->quic_error = (uint64_t)rq_err_transport_code(err);
    } else {
        tls->quic_error = RQ_QUIC_INTERNAL_ERROR;
    }
    queue_clear(tls);
    return err;
}

/* A failure noticed inside a GnuTLS callback: remembered (first one wins) and reported once
 * GnuTLS returns; the non-zero return makes GnuTLS abort the handshake. */
static int cb_fail(rq_tls *tls, int err, int alert)
{
    if (!tls->cb_error) {
        tls->cb_error = err;
        if (err == RQ_ERR_TLS && tls->alert < 0)
            tls->alert = alert;
    }
    return -1;
}

/* GnuTLS returned a fatal error: take the alert it sends for it (through alert_cb, unless one
 * was caught already) and fail. */
static int fail_gnutls(rq_tls *tls, int gerr)
{
    if (tls->cb_error)
        return fail(tls, tls->cb_error);
    if (tls->alert < 0)
        gnutls_alert_send_appropriate(tls->session, gerr);
    return fail(tls, RQ_ERR_TLS);
}

/* ---- peer checks ---------------------------------------------------------------------------- */

/* Run once the peer's hello is fully processed (server: its ClientHello, client: the
 * EncryptedExtensions). Returns 0 or a cb_fail result. */
static int check_peer(rq_tls *tls)
{
    if (tls->peer_checked)
        return 0;
    tls->peer_checked = true;
    /* RFC 9001 §8.2: an endpoint whose peer sent no quic_transport_parameters extension
     * closes with missing_extension (alert 109). */
    if (!tls->peer_tp_seen)
        return cb_fail(tls, RQ_ERR_TLS, GNUTLS_A_MISSING_EXTENSION);
    /* RFC 9001 §8.1: with ALPN in use, no agreed protocol is no_application_protocol (alert
     * 120). GnuTLS enforces it on a server for a client that offered ALPN; this catches a
     * client that offered none, and a server that answered with none. */
    gnutls_datum_t proto;
    if (tls->cfg->alpn_count && gnutls_alpn_get_selected_protocol(tls->session, &proto) < 0)
        return cb_fail(tls, RQ_ERR_TLS, GNUTLS_A_NO_APPLICATION_PROTOCOL);
    if (tls->cfg->role == RQ_ROLE_SERVER) {
        int rc = queue_push(tls, RQ_TLS_EV_PEER_TRANSPORT_PARAMS, RQ_CRYPTO_INITIAL, RQ_TLS_READ,
                            RQ_AEAD_AES_128_GCM, tls->peer_tp, tls->peer_tp_len);
        if (rc != RQ_OK)
            return cb_fail(tls, rc, 0);
    }
    return 0;
}

/* ---- incoming framing ----------------------------------------------------------------------- */

/* Follows the peer's handshake-message headers in one level's stream before GnuTLS sees the
 * bytes: GnuTLS buffers a whole message before judging it, whatever length it claims (up to
 * 16 MiB), so the bound on what a peer can make us hold is enforced here. */
static int framing_check(rq_tls *tls, rq_crypto_level level, const uint8_t *d, size_t len)
{
    tls_framing *f = &tls->framing[level];
    size_t i = 0;
    while (i < len) {
        if (f->body_left) {
            size_t n = len - i < f->body_left ? len - i : f->body_left;
            f->body_left -= (uint32_t)n;
            i += n;
            continue;
        }
        f->hdr[f->hdr_have++] = d[i++];
        if (f->hdr_have < 4)
            continue;
        f->hdr_have = 0;
        f->body_left = (uint32_t)f->hdr[1] << 16 | (uint32_t)f->hdr[2] << 8 | f->hdr[3];
        /* RFC 9000 §7.5: data an endpoint will not buffer is CRYPTO_BUFFER_EXCEEDED. */
        if (f->body_left > RQ_TLS_MAX_HANDSHAKE_MESSAGE)
            return fail(tls, RQ_ERR_CRYPTO_BUFFER_EXCEEDED);
        /* RFC 9001 §6: QUIC replaces TLS KeyUpdate; receiving one is 0x010a, the
         * unexpected_message alert. */
        if (f->hdr[0] == TLS_MSG_KEY_UPDATE) {
            tls->alert = GNUTLS_A_UNEXPECTED_MESSAGE;
            return fail(tls, RQ_ERR_TLS);
        }
    }
    return RQ_OK;
}

/* ---- GnuTLS callbacks ----------------------------------------------------------------------- */

/* Handshake messages GnuTLS wants to send: they go into CRYPTO frames at their level. */
static int hs_out_cb(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
                     gnutls_handshake_description_t htype, const void *data, size_t len)
{
    rq_tls *tls = gnutls_session_get_ptr(session);
    /* RFC 9001 §8.4: QUIC carries no ChangeCipherSpec (compat mode is off; skip any anyway). */
    if (htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC)
        return 0;
    rq_crypto_level level = level_from_gnutls(glevel);
    /* RFC 9001 §8.3: no EndOfEarlyData (suppressed by GNUTLS_NO_END_OF_EARLY_DATA), so
     * nothing is ever sent at the 0-RTT level. */
    if (level == RQ_CRYPTO_EARLY_DATA)
        return cb_fail(tls, RQ_ERR_TLS, GNUTLS_A_INTERNAL_ERROR);
    int rc =
        queue_push(tls, RQ_TLS_EV_CRYPTO_OUT, level, RQ_TLS_WRITE, RQ_AEAD_AES_128_GCM, data, len);
    return rc == RQ_OK ? 0 : cb_fail(tls, rc, 0);
}

/* The AEAD of the suite a level's secrets belong to (0-RTT uses the resumed session's). */
static int level_alg(rq_tls *tls, rq_crypto_level level, rq_aead_alg *alg)
{
    gnutls_cipher_algorithm_t c = level == RQ_CRYPTO_EARLY_DATA
                                      ? gnutls_early_cipher_get(tls->session)
                                      : gnutls_cipher_get(tls->session);
    return rq_aead_alg_from_gnutls(c, alg);
}

static int push_secret(rq_tls *tls, rq_crypto_level level, rq_tls_direction dir, rq_aead_alg alg,
                       const void *secret, size_t len)
{
    if (!secret)
        return RQ_OK;
    return queue_push(tls, RQ_TLS_EV_SECRET, level, dir, alg, secret, len);
}

/* New traffic secrets for a level (RFC 9001 §4.1.4: keys become available as TLS derives
 * them). Either direction may be absent (a server gets its 1-RTT read secret later). */
static int secret_cb(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
                     const void *rsecret, const void *wsecret, size_t len)
{
    rq_tls *tls = gnutls_session_get_ptr(session);
    rq_crypto_level level = level_from_gnutls(glevel);
    rq_aead_alg alg;
    if (level_alg(tls, level, &alg) != RQ_OK || len != rq_aead_alg_secret_len(alg))
        return cb_fail(tls, RQ_ERR_TLS, GNUTLS_A_INTERNAL_ERROR);
    bool server = tls->cfg->role == RQ_ROLE_SERVER;
    if ((server && level == RQ_CRYPTO_HANDSHAKE) || (!server && level == RQ_CRYPTO_APPLICATION)) {
        if (check_peer(tls) != 0)
            return -1;
    }
    int rc = push_secret(tls, level, RQ_TLS_READ, alg, rsecret, len);
    if (rc == RQ_OK)
        rc = push_secret(tls, level, RQ_TLS_WRITE, alg, wsecret, len);
    return rc == RQ_OK ? 0 : cb_fail(tls, rc, 0);
}

/* Alerts GnuTLS would send: QUIC sends none (RFC 9001 §4.8), it closes the connection with
 * CRYPTO_ERROR 0x0100 + alert instead. The first fatal alert is the one reported. */
static int alert_cb(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
                    gnutls_alert_level_t alevel, gnutls_alert_description_t desc)
{
    (void)glevel;
    rq_tls *tls = gnutls_session_get_ptr(session);
    if (alevel == GNUTLS_AL_FATAL && tls->alert < 0)
        tls->alert = (int)desc;
    return 0;
}

/* Our quic_transport_parameters extension body (RFC 9001 §8.2, RFC 9000 §7.3). */
static int tp_send_cb(gnutls_session_t session, gnutls_buffer_t out)
{
    rq_tls *tls = gnutls_session_get_ptr(session);
    if (tls->omit_tp)
        return 0; /* test only: 0 bytes appended means "do not send the extension" */
    if (tls->tp_len == 0)
        return GNUTLS_E_INT_RET_0; /* send it, empty */
    int rc = gnutls_buffer_append_data(out, tls->tp, tls->tp_len);
    return rc < 0 ? rc : (int)tls->tp_len;
}

/* The peer's extension body: copied (GnuTLS caps an extension at 65535 bytes). A client
 * hands it up at once; a server waits until its ClientHello is final (after a
 * HelloRetryRequest the second one replaces the first). */
static int tp_recv_cb(gnutls_session_t session, const unsigned char *data, size_t len)
{
    rq_tls *tls = gnutls_session_get_ptr(session);
    uint8_t *copy = NULL;
    if (len) {
        copy = rq_mem_alloc(len);
        if (!copy)
            return cb_fail(tls, RQ_ERR_NOMEM, 0);
        memcpy(copy, data, len);
    }
    rq_mem_free(tls->peer_tp);
    tls->peer_tp = copy;
    tls->peer_tp_len = len;
    tls->peer_tp_seen = true;
    if (tls->cfg->role == RQ_ROLE_CLIENT) {
        int rc = queue_push(tls, RQ_TLS_EV_PEER_TRANSPORT_PARAMS, RQ_CRYPTO_HANDSHAKE, RQ_TLS_READ,
                            RQ_AEAD_AES_128_GCM, copy, len);
        if (rc != RQ_OK)
            return cb_fail(tls, rc, 0);
    }
    return 0;
}

static void hex(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* NSS key-log line: "LABEL <client random> <secret>", both in lower-case hex. */
static int keylog_cb(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
    rq_tls *tls = gnutls_session_get_ptr(session);
    const rq_tls_config *cfg = tls->cfg;
    if (!cfg->keylog)
        return 0;
    char line[64 + 1 + 64 + 1 + 2 * 64 + 1];
    char crand_hex[2 * 32 + 1], secret_hex[2 * 64 + 1];
    gnutls_datum_t crand, srand;
    gnutls_session_get_random(session, &crand, &srand);
    if (crand.size != 32 || secret->size > 64 || strlen(label) > 64)
        return 0; /* cannot happen in TLS 1.3; logging is best effort, never fatal */
    hex(crand_hex, crand.data, crand.size);
    hex(secret_hex, secret->data, secret->size);
    snprintf(line, sizeof line, "%s %s %s", label, crand_hex, secret_hex);
    cfg->keylog(cfg->keylog_ctx, line);
    gnutls_memset(line, 0, sizeof line);
    gnutls_memset(secret_hex, 0, sizeof secret_hex);
    return 0;
}

/* ---- session set-up ------------------------------------------------------------------------- */

/* True when name is an IPv4 or IPv6 literal: such a name is verified against IP SANs but
 * never sent as server_name (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not
 * permitted"). */
static bool is_ip_literal(const char *name)
{
    uint8_t ip[16];
    return inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
}

static int setup_client(rq_tls *tls, const char *sni)
{
    const rq_tls_config *cfg = tls->cfg;
    if (!is_ip_literal(sni) &&
        gnutls_server_name_set(tls->session, GNUTLS_NAME_DNS, sni, strlen(sni)) < 0)
        return RQ_ERR_CRYPTO;
    /* Verify unless explicitly insecure: a client with no trust then fails every handshake
     * rather than silently accepting any certificate. */
    if (!cfg->insecure)
        gnutls_session_set_verify_cert(tls->session, sni, 0);
    return RQ_OK;
}

/* The GnuTLS session: flags, priorities, credentials, ALPN, and the five hooks. */
static int setup_session(rq_tls *tls, const char *sni)
{
    const rq_tls_config *cfg = tls->cfg;
    bool server = cfg->role == RQ_ROLE_SERVER;
    /* RFC 9001 §8.3: QUIC has no EndOfEarlyData message. The server sends tickets itself
     * once the handshake is done (the connection decides when). */
    unsigned flags = GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA;
    flags |= server ? GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_CLIENT;
    if (gnutls_init(&tls->session, flags) < 0) {
        tls->session = NULL;
        return RQ_ERR_CRYPTO;
    }
    gnutls_session_set_ptr(tls->session, tls);
    if (gnutls_priority_set_direct(tls->session, cfg->priority, NULL) < 0 ||
        gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE, cfg->cred) < 0)
        return RQ_ERR_CRYPTO;
    if (cfg->alpn_count && gnutls_alpn_set_protocols(tls->session, cfg->alpn, cfg->alpn_count,
                                                     server ? GNUTLS_ALPN_MANDATORY : 0) < 0)
        return RQ_ERR_CRYPTO;
    gnutls_handshake_set_read_function(tls->session, hs_out_cb);
    gnutls_handshake_set_secret_function(tls->session, secret_cb);
    gnutls_alert_set_read_function(tls->session, alert_cb);
    /* Always ours, so GnuTLS never writes SSLKEYLOGFILE on its own. */
    gnutls_session_set_keylog_function(tls->session, keylog_cb);
    /* RFC 9001 §8.2: in the ClientHello and the EncryptedExtensions only. */
    if (gnutls_session_ext_register(
            tls->session, "quic_transport_parameters", RQ_TLS_EXT_QUIC_TRANSPORT_PARAMETERS,
            GNUTLS_EXT_TLS, tp_recv_cb, tp_send_cb, NULL, NULL, NULL,
            GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO | GNUTLS_EXT_FLAG_EE) < 0)
        return RQ_ERR_CRYPTO;
    return server ? RQ_OK : setup_client(tls, sni);
}

int rq_tls_new(const rq_tls_config *cfg, const char *sni, const uint8_t *tp, size_t tp_len,
               rq_tls **out)
{
    if (!out)
        return RQ_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg || (tp_len && !tp) || tp_len > 65535)
        return RQ_ERR_INVALID_ARG;
    if (cfg->role == RQ_ROLE_CLIENT ? (!sni || !*sni) : !cfg->has_cert)
        return RQ_ERR_INVALID_ARG;
    rq_tls *tls = rq_mem_calloc(1, sizeof *tls);
    if (!tls)
        return RQ_ERR_NOMEM;
    tls->cfg = cfg;
    tls->alert = -1;
    if (tp_len) {
        tls->tp = rq_mem_alloc(tp_len);
        if (!tls->tp) {
            rq_tls_free(tls);
            return RQ_ERR_NOMEM;
        }
        memcpy(tls->tp, tp, tp_len);
        tls->tp_len = tp_len;
    }
    int rc = setup_session(tls, sni);
    if (rc != RQ_OK) {
        rq_tls_free(tls);
        return rc;
    }
    *out = tls;
    return RQ_OK;
}

void rq_tls_free(rq_tls *tls)
{
    if (!tls)
        return;
    if (tls->session)
        gnutls_deinit(tls->session);
    if (tls->buf) {
        gnutls_memset(tls->buf, 0, tls->buf_cap);
        rq_mem_free(tls->buf);
    }
    rq_mem_free(tls->tp);
    rq_mem_free(tls->peer_tp);
    rq_mem_free(tls);
}

#ifdef RQ_TEST_HOOKS
void rq_tls_test_omit_transport_params(rq_tls *tls)
{
    if (tls)
        tls->omit_tp = true;
}
#endif

/* ---- driving -------------------------------------------------------------------------------- */

/* TLS is done (RFC 9001 §4.1.1): report it with the negotiated ALPN. */
static int on_complete(rq_tls *tls)
{
    /* Idempotent: normally run from secret_cb already; a handshake that reached completion
     * without passing there must still be checked. */
    if (check_peer(tls) != 0)
        return fail(tls, tls->cb_error);
    tls->complete = true;
    /* gnutls_session_set_verify_cert made the handshake fail unless the chain verified. */
    tls->verified = tls->cfg->role == RQ_ROLE_CLIENT && !tls->cfg->insecure;
    gnutls_datum_t proto = {NULL, 0};
    if (gnutls_alpn_get_selected_protocol(tls->session, &proto) < 0)
        proto.size = 0;
    int rc = queue_push(tls, RQ_TLS_EV_HANDSHAKE_COMPLETE, RQ_CRYPTO_APPLICATION, RQ_TLS_READ,
                        RQ_AEAD_AES_128_GCM, proto.data, proto.size);
    return rc == RQ_OK ? RQ_OK : fail(tls, rc);
}

/* Lets GnuTLS progress as far as the bytes it has allow. */
static int handshake_step(rq_tls *tls)
{
    int g = gnutls_handshake(tls->session);
    if (g == 0)
        return on_complete(tls);
    if (tls->cb_error)
        return fail(tls, tls->cb_error);
    /* GNUTLS_E_AGAIN / _INTERRUPTED and other non-fatal codes: it needs more bytes. */
    if (!gnutls_error_is_fatal(g))
        return RQ_OK;
    return fail_gnutls(tls, g);
}

int rq_tls_start(rq_tls *tls)
{
    if (!tls)
        return RQ_ERR_INVALID_ARG;
    if (tls->fatal)
        return tls->fatal;
    if (tls->started)
        return RQ_ERR_INVALID_ARG;
    tls->started = true;
    queue_reset_if_drained(tls);
    /* A server speaks only once it has a ClientHello. */
    return tls->cfg->role == RQ_ROLE_CLIENT ? handshake_step(tls) : RQ_OK;
}

int rq_tls_recv_crypto(rq_tls *tls, rq_crypto_level level, const uint8_t *data, size_t len)
{
    if (!tls || (len && !data))
        return RQ_ERR_INVALID_ARG;
    if (tls->fatal)
        return tls->fatal;
    /* RFC 9000 §12.4: 0-RTT packets carry no CRYPTO frames. */
    if (!tls->started || (level != RQ_CRYPTO_INITIAL && level != RQ_CRYPTO_HANDSHAKE &&
                          level != RQ_CRYPTO_APPLICATION))
        return RQ_ERR_INVALID_ARG;
    queue_reset_if_drained(tls);
    int rc = framing_check(tls, level, data, len);
    if (rc != RQ_OK)
        return rc;
    if (len) {
        int g = gnutls_handshake_write(tls->session, level_to_gnutls(level), data, len);
        if (g < 0 && (tls->cb_error || gnutls_error_is_fatal(g)))
            return fail_gnutls(tls, g);
    }
    /* After completion GnuTLS processes post-handshake messages inside
     * gnutls_handshake_write itself. */
    return tls->complete ? RQ_OK : handshake_step(tls);
}

bool rq_tls_poll(rq_tls *tls, rq_tls_event *ev)
{
    if (!tls || !ev)
        return false;
    if (tls->ev_next == tls->ev_count) {
        queue_clear(tls);
        return false;
    }
    const tls_ev *e = &tls->ev[tls->ev_next++];
    *ev = (rq_tls_event){e->type, e->level, e->dir, e->alg, e->len ? tls->buf + e->off : NULL,
                         e->len};
    return true;
}

/* ---- queries -------------------------------------------------------------------------------- */

uint64_t rq_tls_transport_error(const rq_tls *tls)
{
    return tls ? tls->quic_error : 0;
}

bool rq_tls_is_complete(const rq_tls *tls)
{
    return tls && tls->complete;
}

int rq_tls_negotiated_alg(const rq_tls *tls, rq_aead_alg *alg)
{
    if (!tls || !alg)
        return RQ_ERR_INVALID_ARG;
    return rq_aead_alg_from_gnutls(gnutls_cipher_get(tls->session), alg) == RQ_OK ? RQ_OK
                                                                                  : RQ_ERR_AGAIN;
}

int rq_tls_alpn(const rq_tls *tls, const uint8_t **proto, size_t *len)
{
    if (!tls || !proto || !len)
        return RQ_ERR_INVALID_ARG;
    gnutls_datum_t d;
    if (!tls->complete || gnutls_alpn_get_selected_protocol(tls->session, &d) < 0 || !d.size)
        return RQ_ERR_AGAIN;
    *proto = d.data;
    *len = d.size;
    return RQ_OK;
}

bool rq_tls_peer_verified(const rq_tls *tls)
{
    return tls && tls->verified;
}
