/* The in-memory pump the TLS suites share (test_tls.c, test_tls_errors.c): two rq_tls
 * sessions, each side's CRYPTO_OUT bytes handed to the other at the same level, and
 * everything the checks look at captured as plain data before the sessions are freed. */
#ifndef RQ_TESTS_UNIT_TLS_PUMP_H
#define RQ_TESTS_UNIT_TLS_PUMP_H

#include "core/alloc.h"
#include "crypto/tls.h"
#include "rqtest.h"

#include <roamquic/error.h>
#include <stdbool.h>

/* ---- certificates (tests/certs, found next to this file; RQ_TEST_CERTS overrides) ---------- */

static const char *cert(const char *name)
{
    static char bufs[4][512];
    static unsigned next;
    char *out = bufs[next++ % 4];
    const char *dir = getenv("RQ_TEST_CERTS");
    if (dir) {
        snprintf(out, 512, "%s/%s", dir, name);
        return out;
    }
    const char *file = __FILE__; /* .../tests/unit/test_tls.c */
    const char *slash = strrchr(file, '/');
    int n = slash ? (int)(slash - file) : 1;
    snprintf(out, 512, "%.*s/../certs/%s", n, slash ? file : ".", name);
    return out;
}

/* ---- one side of the pump --------------------------------------------------------------- */

#define MAX_LINES 16

typedef struct side {
    rq_tls *tls;
    int rc; /* first error from start or recv */
    uint8_t secret[RQ_CRYPTO_LEVEL_COUNT][2][RQ_MAX_SECRET_LEN];
    size_t secret_len[RQ_CRYPTO_LEVEL_COUNT][2];
    rq_aead_alg secret_alg[RQ_CRYPTO_LEVEL_COUNT][2];
    uint8_t peer_tp[2048];
    size_t peer_tp_len;
    int peer_tp_events;
    int complete_events;
    char alpn[256];
    size_t out_bytes[RQ_CRYPTO_LEVEL_COUNT];
    uint8_t first_initial[2048]; /* the first INITIAL CRYPTO_OUT (ClientHello/ServerHello) */
    size_t first_initial_len;
    bool malformed_out;         /* a CRYPTO_OUT that is not a whole number of messages */
    bool out_before_secret;     /* HANDSHAKE bytes queued before the HANDSHAKE write secret */
    char lines[MAX_LINES][256]; /* key-log lines */
    int line_count;
    size_t chunk; /* deliver CRYPTO bytes in pieces of this size (0: whole) */
    /* captured by pump_finish before the session is freed */
    uint64_t quic_error;
    bool complete, verified;
    int alg_rc;
    rq_aead_alg alg;
} side;

static inline void keylog_sink(void *ctx, const char *line)
{
    side *s = ctx;
    if (s->line_count < MAX_LINES)
        snprintf(s->lines[s->line_count++], sizeof s->lines[0], "%s", line);
}

/* True when data is a sequence of whole TLS handshake messages (type, 24-bit length, body):
 * no ChangeCipherSpec byte or other stray record content can hide in it. */
static inline bool whole_messages(const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < 4)
            return false;
        size_t body = (size_t)data[off + 1] << 16 | (size_t)data[off + 2] << 8 | data[off + 3];
        if (data[off] == 254 || body > len - off - 4) /* 254: GnuTLS's CCS pseudo-type */
            return false;
        off += 4 + body;
    }
    return true;
}

static inline void record_event(side *s, const rq_tls_event *ev)
{
    switch (ev->type) {
    case RQ_TLS_EV_CRYPTO_OUT:
        if (!whole_messages(ev->data, ev->len))
            s->malformed_out = true;
        if (ev->level == RQ_CRYPTO_HANDSHAKE && !s->secret_len[RQ_CRYPTO_HANDSHAKE][RQ_TLS_WRITE])
            s->out_before_secret = true;
        if (ev->level == RQ_CRYPTO_INITIAL && !s->first_initial_len &&
            ev->len <= sizeof s->first_initial) {
            memcpy(s->first_initial, ev->data, ev->len);
            s->first_initial_len = ev->len;
        }
        s->out_bytes[ev->level] += ev->len;
        break;
    case RQ_TLS_EV_SECRET:
        if (ev->len <= RQ_MAX_SECRET_LEN) {
            memcpy(s->secret[ev->level][ev->dir], ev->data, ev->len);
            s->secret_len[ev->level][ev->dir] = ev->len;
            s->secret_alg[ev->level][ev->dir] = ev->alg;
        }
        break;
    case RQ_TLS_EV_PEER_TRANSPORT_PARAMS:
        s->peer_tp_events++;
        if (ev->len <= sizeof s->peer_tp) {
            if (ev->len)
                memcpy(s->peer_tp, ev->data, ev->len);
            s->peer_tp_len = ev->len;
        }
        break;
    case RQ_TLS_EV_HANDSHAKE_COMPLETE:
        s->complete_events++;
        snprintf(s->alpn, sizeof s->alpn, "%.*s", (int)ev->len,
                 ev->data ? (const char *)ev->data : "");
        break;
    }
}

static inline void deliver(side *to, rq_crypto_level level, const uint8_t *data, size_t len)
{
    size_t step = to->chunk ? to->chunk : len;
    for (size_t off = 0; off < len && to->rc == 0; off += step) {
        size_t n = len - off < step ? len - off : step;
        to->rc = rq_tls_recv_crypto(to->tls, level, data + off, n);
    }
}

/* Takes every event from one side, handing its CRYPTO bytes to the other. Returns the
 * number of events. */
static inline int drain(side *from, side *to)
{
    rq_tls_event ev;
    int n = 0;
    while (rq_tls_poll(from->tls, &ev)) {
        n++;
        record_event(from, &ev);
        if (ev.type == RQ_TLS_EV_CRYPTO_OUT && to->rc == 0)
            deliver(to, ev.level, ev.data, ev.len);
    }
    return n;
}

typedef struct pump {
    side c, s;
} pump;

/* Starts both sides and pumps until neither has anything left. */
static inline void run(pump *p)
{
    p->c.rc = rq_tls_start(p->c.tls);
    if (p->s.rc == 0)
        p->s.rc = rq_tls_start(p->s.tls);
    for (int round = 0; round < 50; round++)
        if (drain(&p->c, &p->s) + drain(&p->s, &p->c) == 0)
            break;
}

/* ---- configurations ------------------------------------------------------------------------ */

static const char *const alpn_h3[] = {"h3"};
static const uint8_t client_tp[] = {0x01, 0x04, 0x80, 0x00, 0x75, 0x30, 0x0f, 0x02, 0xab, 0xcd};
static const uint8_t server_tp[] = {0x03, 0x02, 0x45, 0xc0, 0x0e, 0x01, 0x04};

static inline rq_tls_config *server_config(const char *certname, const char *keyname)
{
    rq_tls_config *cfg = NULL;
    if (rq_tls_config_new(RQ_ROLE_SERVER, &cfg) != RQ_OK)
        return NULL;
    if (rq_tls_config_set_alpn(cfg, alpn_h3, 1) != RQ_OK ||
        rq_tls_config_load_cert_files(cfg, cert(certname), cert(keyname)) != RQ_OK) {
        rq_tls_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static inline rq_tls_config *client_config(bool trust_ca)
{
    rq_tls_config *cfg = NULL;
    if (rq_tls_config_new(RQ_ROLE_CLIENT, &cfg) != RQ_OK)
        return NULL;
    if (rq_tls_config_set_alpn(cfg, alpn_h3, 1) != RQ_OK ||
        (trust_ca && rq_tls_config_trust_ca_file(cfg, cert("ca.pem")) != RQ_OK)) {
        rq_tls_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Creates both sessions with the test transport parameters. */
static inline int pump_init(pump *p, const rq_tls_config *ccfg, const rq_tls_config *scfg,
                            const char *sni)
{
    memset(p, 0, sizeof *p);
    int rc = rq_tls_new(ccfg, sni, client_tp, sizeof client_tp, &p->c.tls);
    if (rc == RQ_OK)
        rc = rq_tls_new(scfg, NULL, server_tp, sizeof server_tp, &p->s.tls);
    return rc;
}

static inline void side_finish(side *s)
{
    s->quic_error = rq_tls_transport_error(s->tls);
    s->complete = rq_tls_is_complete(s->tls);
    s->verified = rq_tls_peer_verified(s->tls);
    s->alg_rc = rq_tls_negotiated_alg(s->tls, &s->alg);
    rq_tls_free(s->tls);
    s->tls = NULL;
}

/* Captures what the checks need, then frees both sessions (checks run on plain data, so a
 * failing check leaks nothing). */
static inline void pump_finish(pump *p)
{
    side_finish(&p->c);
    side_finish(&p->s);
}

/* Runs a whole handshake between fresh sessions, then frees sessions and configs. A config
 * that could not be built shows as c.rc = RQ_ERR_INTERNAL. */
static inline void handshake(pump *p, rq_tls_config *ccfg, rq_tls_config *scfg, const char *sni)
{
    memset(p, 0, sizeof *p);
    if (ccfg && scfg && pump_init(p, ccfg, scfg, sni) == RQ_OK)
        run(p);
    else
        p->c.rc = RQ_ERR_INTERNAL;
    pump_finish(p);
    rq_tls_config_free(ccfg);
    rq_tls_config_free(scfg);
}

/* Both sides completed, each exactly once, with h3. */
#define CHECK_COMPLETED(p)                          \
    do {                                            \
        RQ_CHECK_ERR((p).c.rc, RQ_OK);              \
        RQ_CHECK_ERR((p).s.rc, RQ_OK);              \
        RQ_CHECK((p).c.complete && (p).s.complete); \
        RQ_CHECK_EQ_INT((p).c.complete_events, 1);  \
        RQ_CHECK_EQ_INT((p).s.complete_events, 1);  \
        RQ_CHECK_EQ_U64((p).c.quic_error, 0);       \
        RQ_CHECK_EQ_U64((p).s.quic_error, 0);       \
    } while (0)

#endif
