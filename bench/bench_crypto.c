/* Packet protection throughput (RFC 9001 §5): for each AEAD, a 1,350-byte packet sealed and
 * opened, whole-packet protect + unprotect (header protection included), the header
 * protection mask alone, and the two GnuTLS in-place encryption calls side by side (which is
 * how rq_aead_seal's choice of gnutls_aead_cipher_encrypt was made). OpenSSL's
 * `openssl speed` figure for the same AEAD and size is printed next to ours as a ceiling.
 *
 * RQ_BENCH_SECONDS (default 1) sets the duration of each item; each item reports the best of
 * five rounds. No timing assertions.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, popen */

#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PKT_LEN     1350 /* bytes on the wire, header and tag included */
#define PN_OFFSET   9    /* short header: first byte + 8-byte DCID */
#define PN_LEN      2
#define HDR_LEN     (PN_OFFSET + PN_LEN)
#define PAYLOAD_LEN (PKT_LEN - HDR_LEN - RQ_AEAD_TAG_LEN)
#define BATCH       256

static double bench_seconds = 1.0;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef int (*bench_fn)(void *ctx, uint64_t i);

#define ROUNDS 5

/* Runs fn in batches for a fifth of the duration, five times, and returns the best round's ns
 * per call (the least disturbed by the other core's load), or -1 on error. */
static double run(bench_fn fn, void *ctx)
{
    double best = -1;
    uint64_t n = 0;
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t first = n;
        double start = now_ns(), end = start + bench_seconds * 1e9 / ROUNDS, t;
        do {
            for (int b = 0; b < BATCH; b++, n++)
                if (fn(ctx, n) != 0)
                    return -1;
            t = now_ns();
        } while (t < end);
        double ns = (t - start) / (double)(n - first);
        if (best < 0 || ns < best)
            best = ns;
    }
    return best;
}

static void report(const char *alg, const char *what, double ns, size_t bytes)
{
    if (ns < 0) {
        printf("  %-18s %-34s FAILED\n", alg, what);
        return;
    }
    if (bytes == 0) /* a per-packet operation with no payload to count */
        printf("  %-18s %-34s %9.1f ns  %11.0f pkt/s\n", alg, what, ns, 1e9 / ns);
    else
        printf("  %-18s %-34s %9.1f ns  %11.0f pkt/s  %7.2f Gbit/s\n", alg, what, ns, 1e9 / ns,
               (double)bytes * 8.0 / ns);
}

typedef struct ctx {
    rq_packet_key k;
    rq_hp_key hp;
    uint8_t pkt[PKT_LEN + 64];
    uint8_t sealed[PKT_LEN + 64];
    uint64_t sealed_pn;
} ctx;

static void write_header(uint8_t *p, uint64_t pn)
{
    p[0] = 0x40 | (PN_LEN - 1);
    memset(p + 1, 0xab, 8);
    p[PN_OFFSET] = (uint8_t)(pn >> 8);
    p[PN_OFFSET + 1] = (uint8_t)pn;
}

static int b_seal(void *v, uint64_t i)
{
    ctx *c = v;
    c->k.sealed = 0; /* the benchmark outruns the confidentiality limit on purpose */
    return rq_aead_seal(&c->k, i, c->pkt, HDR_LEN, c->pkt + HDR_LEN, PAYLOAD_LEN,
                        sizeof c->pkt - HDR_LEN);
}

static int b_open(void *v, uint64_t i)
{
    ctx *c = v;
    (void)i;
    size_t pl;
    memcpy(c->pkt, c->sealed, PKT_LEN); /* the same ciphertext each time (a copy: ~30 ns) */
    return rq_aead_open(&c->k, c->sealed_pn, c->pkt, HDR_LEN, c->pkt + HDR_LEN,
                        PAYLOAD_LEN + RQ_AEAD_TAG_LEN, &pl);
}

static int b_seal_open(void *v, uint64_t i)
{
    ctx *c = v;
    size_t pl;
    c->k.sealed = 0;
    int rc = rq_aead_seal(&c->k, i, c->pkt, HDR_LEN, c->pkt + HDR_LEN, PAYLOAD_LEN,
                          sizeof c->pkt - HDR_LEN);
    if (rc == 0)
        rc = rq_aead_open(&c->k, i, c->pkt, HDR_LEN, c->pkt + HDR_LEN,
                          PAYLOAD_LEN + RQ_AEAD_TAG_LEN, &pl);
    return rc;
}

static int b_protect_unprotect(void *v, uint64_t i)
{
    ctx *c = v;
    size_t out, hdr, pl;
    uint64_t pn = (i & 0x7fff) + 1, got;
    c->k.sealed = 0;
    write_header(c->pkt, pn);
    int rc = rq_packet_protect(&c->k, &c->hp, pn, c->pkt, PKT_LEN - RQ_AEAD_TAG_LEN, PN_OFFSET,
                               sizeof c->pkt, &out);
    if (rc == 0)
        rc = rq_packet_unprotect(&c->k, &c->hp, c->pkt, out, PN_OFFSET, pn - 1, &got, &hdr, &pl);
    return rc;
}

static int b_hp_mask(void *v, uint64_t i)
{
    ctx *c = v;
    uint8_t mask[RQ_HP_MASK_LEN];
    c->pkt[PN_OFFSET + 4] = (uint8_t)i; /* vary the sample */
    return rq_hp_mask(&c->hp, c->pkt + PN_OFFSET + 4, mask);
}

/* The two in-place GnuTLS paths compared (the faster one is what rq_aead_seal uses). */
static int b_gnutls_encrypt(void *v, uint64_t i)
{
    ctx *c = v;
    uint8_t nonce[12] = {0};
    memcpy(nonce + 4, &i, 8);
    size_t out = PAYLOAD_LEN + RQ_AEAD_TAG_LEN;
    return gnutls_aead_cipher_encrypt(c->k.aead, nonce, 12, c->pkt, HDR_LEN, RQ_AEAD_TAG_LEN,
                                      c->pkt + HDR_LEN, PAYLOAD_LEN, c->pkt + HDR_LEN, &out) < 0;
}

static int b_gnutls_encryptv2(void *v, uint64_t i)
{
    ctx *c = v;
    uint8_t nonce[12] = {0};
    memcpy(nonce + 4, &i, 8);
    giovec_t ad = {c->pkt, HDR_LEN};
    giovec_t pt = {c->pkt + HDR_LEN, PAYLOAD_LEN};
    size_t tag_len = RQ_AEAD_TAG_LEN;
    return gnutls_aead_cipher_encryptv2(c->k.aead, nonce, 12, &ad, 1, &pt, 1,
                                        c->pkt + HDR_LEN + PAYLOAD_LEN, &tag_len) < 0;
}

/* OpenSSL's figure for the same AEAD and packet size, as ns per packet (machine-readable
 * output: the "+F:<n>:<name>:<bytes per second>" line), or -1 when unavailable. */
static double openssl_ns(const char *evp, int aead_mode)
{
    char cmd[256];
    int secs = bench_seconds < 1 ? 1 : (int)(bench_seconds + 0.5);
    snprintf(cmd, sizeof cmd, "openssl speed -mr %s-evp %s -bytes %d -seconds %d 2>/dev/null",
             aead_mode ? "-aead " : "", evp, PKT_LEN, secs);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    char line[512];
    double bps = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "+F:", 3) != 0)
            continue;
        char *last = strrchr(line, ':');
        if (last != NULL)
            bps = strtod(last + 1, NULL);
    }
    pclose(f);
    return bps > 0 ? (double)PKT_LEN * 1e9 / bps : -1;
}

int main(void)
{
    const char *s = getenv("RQ_BENCH_SECONDS");
    if (s != NULL && strtod(s, NULL) > 0)
        bench_seconds = strtod(s, NULL);

    static const struct {
        rq_aead_alg alg;
        const char *name;
        const char *evp;
    } algs[] = {
        {RQ_AEAD_AES_128_GCM, "AES-128-GCM", "aes-128-gcm"},
        {RQ_AEAD_AES_256_GCM, "AES-256-GCM", "aes-256-gcm"},
        {RQ_AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305", "chacha20-poly1305"},
    };
    int have_openssl = system("command -v openssl >/dev/null 2>&1") == 0;

    printf("roamquic packet protection, %d-byte packets, %.2f s per item (GnuTLS %s)\n", PKT_LEN,
           bench_seconds, gnutls_check_version(NULL));
    if (!have_openssl)
        printf("openssl not found in PATH: no OpenSSL ceiling figures\n");

    static ctx c;
    for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
        uint8_t secret[RQ_MAX_SECRET_LEN];
        size_t sl = rq_aead_alg_secret_len(algs[a].alg);
        for (size_t i = 0; i < sl; i++)
            secret[i] = (uint8_t)(i * 13 + a);
        if (rq_packet_key_init(&c.k, algs[a].alg, secret, sl) != 0 ||
            rq_hp_key_init(&c.hp, algs[a].alg, secret, sl) != 0) {
            fprintf(stderr, "key setup failed for %s\n", algs[a].name);
            return 1;
        }
        memset(c.pkt, 0x5a, sizeof c.pkt);
        write_header(c.pkt, 7);
        c.sealed_pn = 7;
        if (rq_aead_seal(&c.k, 7, c.pkt, HDR_LEN, c.pkt + HDR_LEN, PAYLOAD_LEN,
                         sizeof c.pkt - HDR_LEN) != 0)
            return 1;
        memcpy(c.sealed, c.pkt, PKT_LEN);

        printf("%s\n", algs[a].name);
        double seal = run(b_seal, &c);
        report(algs[a].name, "seal (rq_aead_seal)", seal, PKT_LEN);
        report(algs[a].name, "open (rq_aead_open, incl. memcpy)", run(b_open, &c), PKT_LEN);
        report(algs[a].name, "seal+open", run(b_seal_open, &c), PKT_LEN);
        report(algs[a].name, "protect+unprotect (with HP)", run(b_protect_unprotect, &c), PKT_LEN);
        report(algs[a].name, "header protection mask", run(b_hp_mask, &c), 0);
        report(algs[a].name, "gnutls encrypt, in place", run(b_gnutls_encrypt, &c), PKT_LEN);
        report(algs[a].name, "gnutls encryptv2, in place", run(b_gnutls_encryptv2, &c), PKT_LEN);
        if (have_openssl) {
            /* -evp: bulk encryption calls (the ceiling); -aead: OpenSSL's TLS-like sequence
             * with a nonce, associated data and tag per record, closer to what we do. */
            double evp = openssl_ns(algs[a].evp, 0);
            double aead = openssl_ns(algs[a].evp, 1);
            if (evp > 0)
                report(algs[a].name, "openssl speed -evp (encrypt)", evp, PKT_LEN);
            if (aead > 0)
                report(algs[a].name, "openssl speed -aead -evp (encrypt)", aead, PKT_LEN);
            if (evp <= 0 && aead <= 0)
                printf("  openssl speed gave no figure for %s\n", algs[a].evp);
            else if (seal > 0 && aead > 0)
                printf("  %-18s %-34s %9.2fx  (>1: roamquic faster)\n", algs[a].name,
                       "ratio: openssl -aead / rq seal", aead / seal);
        }
        rq_packet_key_deinit(&c.k);
        rq_hp_key_deinit(&c.hp);
    }
    return 0;
}
