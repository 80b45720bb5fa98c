/* The TLS side of the decrypting wire trace (qtrace.h): the prefix of each cleartext CRYPTO
 * stream is reassembled, and from it the observer reads what a passive decoder needs — the
 * ClientHello's random (to pick this connection's key-log lines) and transport parameters,
 * the ServerHello's cipher suite (which AEAD and hash the key-log secrets belong to), and the
 * server's transport parameters in EncryptedExtensions (RFC 9001 §8.2). Only the first
 * message of each stream is parsed: RFC 8446 §4 puts exactly these first. */
#include "qtrace.h"

#include "core/alloc.h"

#include <string.h>

#define TLS_CLIENT_HELLO         1
#define TLS_SERVER_HELLO         2
#define TLS_ENCRYPTED_EXTENSIONS 8
#define TLS_EXT_QUIC_TP          0x39 /* RFC 9001 §8.2 */

static void take_tp(qtrace *qt, int dir, const uint8_t *body, size_t len)
{
    rq_tparams tp;
    if (rq_tparams_decode(&tp, dir == QTRACE_C2S ? RQ_ROLE_CLIENT : RQ_ROLE_SERVER, body, len) !=
        0) {
        qt->st.malformed++;
        return;
    }
    qt->tp[dir] = tp;
    qt->have_tp[dir] = true;
    if (dir == QTRACE_S2C && tp.has_stateless_reset_token &&
        qt->token_count[QTRACE_S2C] < QTRACE_TOKENS_MAX)
        memcpy(qt->tokens[QTRACE_S2C][qt->token_count[QTRACE_S2C]++], tp.stateless_reset_token,
               RQ_RESET_TOKEN_LEN);
}

/* Walks an extensions block (RFC 8446 §4.2) for the QUIC transport parameters. */
static void walk_extensions(qtrace *qt, int dir, rq_rd *r)
{
    uint16_t total;
    const uint8_t *exts;
    if (!rq_rd_u16(r, &total) || !rq_rd_bytes(r, total, &exts))
        return;
    rq_rd e = rq_rd_init(exts, total);
    while (rq_rd_left(&e) >= 4) {
        uint16_t type, len;
        const uint8_t *body;
        if (!rq_rd_u16(&e, &type) || !rq_rd_u16(&e, &len) || !rq_rd_bytes(&e, len, &body))
            return;
        if (type == TLS_EXT_QUIC_TP)
            take_tp(qt, dir, body, len);
    }
}

/* Skips a vector with an n-byte length prefix. */
static bool skip_vec(rq_rd *r, size_t n)
{
    uint64_t len;
    return rq_rd_uint(r, n, &len) && rq_rd_skip(r, (size_t)len);
}

static void parse_client_hello(qtrace *qt, rq_rd *r)
{
    const uint8_t *random;
    if (!rq_rd_skip(r, 2) || !rq_rd_bytes(r, 32, &random))
        return;
    memcpy(qt->client_random, random, 32);
    qt->have_random = true;
    /* session id, cipher suites, compression methods, then extensions */
    if (skip_vec(r, 1) && skip_vec(r, 2) && skip_vec(r, 1))
        walk_extensions(qt, QTRACE_C2S, r);
}

static void parse_server_hello(qtrace *qt, rq_rd *r)
{
    uint16_t suite;
    if (!rq_rd_skip(r, 2 + 32) || !skip_vec(r, 1) || !rq_rd_u16(r, &suite))
        return;
    /* RFC 8446 §B.4 */
    static const struct {
        uint16_t id;
        rq_aead_alg alg;
    } SUITES[] = {{0x1301, RQ_AEAD_AES_128_GCM},
                  {0x1302, RQ_AEAD_AES_256_GCM},
                  {0x1303, RQ_AEAD_CHACHA20_POLY1305}};
    for (size_t i = 0; i < sizeof SUITES / sizeof SUITES[0]; i++)
        if (SUITES[i].id == suite) {
            qt->alg = SUITES[i].alg;
            qt->have_alg = true;
        }
}

/* Parses the first handshake message of (dir, space) once all of it has arrived. */
static void parse_first_message(qtrace *qt, int dir, int space, qtrace_crypto *c)
{
    if (c->parsed || c->contiguous < 4)
        return;
    size_t body_len = (size_t)c->buf[1] << 16 | (size_t)c->buf[2] << 8 | c->buf[3];
    if (body_len + 4 > QTRACE_CRYPTO_KEEP) {
        c->parsed = true; /* larger than we keep: give up on it (counted as malformed) */
        qt->st.malformed++;
        return;
    }
    if (c->contiguous < body_len + 4)
        return;
    c->parsed = true;
    rq_rd r = rq_rd_init(c->buf + 4, body_len);
    uint8_t type = c->buf[0];
    if (space == RQ_PN_SPACE_INITIAL && dir == QTRACE_C2S && type == TLS_CLIENT_HELLO)
        parse_client_hello(qt, &r);
    else if (space == RQ_PN_SPACE_INITIAL && dir == QTRACE_S2C && type == TLS_SERVER_HELLO)
        parse_server_hello(qt, &r);
    else if (space == RQ_PN_SPACE_HANDSHAKE && dir == QTRACE_S2C &&
             type == TLS_ENCRYPTED_EXTENSIONS)
        walk_extensions(qt, QTRACE_S2C, &r);
}

void qtrace_crypto_data(qtrace *qt, int dir, int space, uint64_t offset, const uint8_t *data,
                        size_t len)
{
    if (space > RQ_PN_SPACE_HANDSHAKE || offset >= QTRACE_CRYPTO_KEEP)
        return;
    qtrace_crypto *c = qt->crypto[dir][space];
    if (!c) {
        c = qt->crypto[dir][space] = rq_mem_calloc(1, sizeof *c);
        if (!c) {
            qt->oom = true;
            return;
        }
    }
    if (c->parsed)
        return;
    size_t end = offset + len > QTRACE_CRYPTO_KEEP ? QTRACE_CRYPTO_KEEP : (size_t)offset + len;
    for (size_t i = (size_t)offset; i < end; i++) {
        c->buf[i] = data[i - offset];
        c->have[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    while (c->contiguous < QTRACE_CRYPTO_KEEP &&
           (c->have[c->contiguous / 8] >> (c->contiguous % 8) & 1))
        c->contiguous++;
    parse_first_message(qt, dir, space, c);
}
