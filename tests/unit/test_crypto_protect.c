/* Packet protection beyond the RFC samples: round trips for every AEAD, tampering, short
 * packets, capacity, key update and the AEAD usage limits (RFC 9001 §5, §6). */
#include "core/pn.h"
#include "crypto/crypto.h"
#include "rqtest.h"

#include <roamquic/error.h>

static const rq_aead_alg ALGS[] = {RQ_AEAD_AES_128_GCM, RQ_AEAD_AES_256_GCM,
                                   RQ_AEAD_CHACHA20_POLY1305};

/* A traffic secret of alg's hash length, filled with a pattern. */
static size_t fake_secret(rq_aead_alg alg, uint8_t seed, uint8_t *s)
{
    size_t n = rq_aead_alg_secret_len(alg);
    for (size_t i = 0; i < n; i++)
        s[i] = (uint8_t)(seed + 7 * i);
    return n;
}

static int keys(rq_aead_alg alg, uint8_t seed, rq_packet_key *k, rq_hp_key *hp)
{
    uint8_t s[RQ_MAX_SECRET_LEN];
    size_t n = fake_secret(alg, seed, s);
    int rc = rq_packet_key_init(k, alg, s, n);
    if (rc == 0)
        rc = rq_hp_key_init(hp, alg, s, n);
    return rc;
}

/* Writes a header with packet number pn in pn_len bytes, then payload_len payload bytes:
 * a long (Handshake) header when is_long, else a short header with an 8-byte DCID. Returns
 * the packet length; *pn_offset is set. */
static size_t build(uint8_t *pkt, int is_long, uint64_t pn, size_t pn_len, size_t payload_len,
                    uint8_t fill, size_t *pn_offset)
{
    size_t n = 0;
    if (is_long) {
        pkt[n++] = (uint8_t)(0xe0 | (pn_len - 1)); /* Handshake */
        pkt[n++] = 0;
        pkt[n++] = 0;
        pkt[n++] = 0;
        pkt[n++] = 1;
        pkt[n++] = 8;
        for (int i = 0; i < 8; i++)
            pkt[n++] = (uint8_t)(0xa0 + i);
        pkt[n++] = 0; /* SCID length */
        size_t len = pn_len + payload_len + RQ_AEAD_TAG_LEN;
        pkt[n++] = (uint8_t)(0x40 | (len >> 8));
        pkt[n++] = (uint8_t)len;
    } else {
        pkt[n++] = (uint8_t)(0x40 | (pn_len - 1));
        for (int i = 0; i < 8; i++)
            pkt[n++] = (uint8_t)(0xb0 + i);
    }
    *pn_offset = n;
    for (size_t i = pn_len; i > 0; i--)
        pkt[n++] = (uint8_t)(pn >> (8 * (i - 1)));
    for (size_t i = 0; i < payload_len; i++)
        pkt[n++] = (uint8_t)(fill + i);
    return n;
}

/* RFC 9001 §5.3, §5.4: every AEAD (AES-256-GCM included, with its 48-byte SHA-384 secret)
 * round-trips long and short headers with every packet number length. */
static void test_roundtrip_all_algs(void)
{
    for (size_t a = 0; a < 3; a++) {
        rq_packet_key k;
        rq_hp_key hp;
        RQ_CHECK_ERR(keys(ALGS[a], 3, &k, &hp), RQ_OK);
        for (int is_long = 0; is_long < 2; is_long++) {
            for (size_t pn_len = 1; pn_len <= 4; pn_len++) {
                uint8_t pkt[1400], orig[1400];
                size_t off, hdr = 0, plen = 0;
                uint64_t pn = 0x12345678 + pn_len, got = 0;
                size_t n = build(pkt, is_long, pn, pn_len, 1300, 9, &off);
                memcpy(orig, pkt, n);
                size_t out = 0;
                RQ_CHECK_ERR(rq_packet_protect(&k, &hp, pn, pkt, n, off, sizeof pkt, &out), RQ_OK);
                RQ_CHECK_EQ_INT(out, n + 16);
                RQ_CHECK(memcmp(pkt + off + pn_len, orig + off + pn_len, 16) != 0);
                RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out, off, pn - 1, &got, &hdr, &plen),
                             RQ_OK);
                RQ_CHECK_EQ_U64(got, pn);
                RQ_CHECK_EQ_INT(hdr, off + pn_len);
                RQ_CHECK_EQ_INT(plen, 1300);
                RQ_CHECK_MEM(pkt, orig, n);
            }
        }
        RQ_CHECK_EQ_U64(k.sealed, 8);
        rq_packet_key_deinit(&k);
        rq_hp_key_deinit(&hp);
    }
}

/* RFC 9001 §5.3: AES-256-GCM key derivation uses SHA-384 and a 32-byte key; a 32-byte secret
 * is refused for it, a 48-byte one for the SHA-256 suites. */
static void test_aes256_secret_lengths(void)
{
    uint8_t s[48] = {0};
    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(rq_packet_key_init(&k, RQ_AEAD_AES_256_GCM, s, 32), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_packet_key_init(&k, RQ_AEAD_AES_128_GCM, s, 48), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_hp_key_init(&hp, RQ_AEAD_CHACHA20_POLY1305, s, 48), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_packet_key_init(&k, (rq_aead_alg)7, s, 32), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_packet_key_init(&k, RQ_AEAD_AES_256_GCM, s, 48), RQ_OK);
    RQ_CHECK_EQ_INT(rq_aead_alg_key_len(RQ_AEAD_AES_256_GCM), 32);
    RQ_CHECK_EQ_INT(rq_aead_alg_hash(RQ_AEAD_AES_256_GCM), GNUTLS_MAC_SHA384);
    /* Key update keeps the 48-byte length. */
    rq_packet_key next;
    RQ_CHECK_ERR(rq_packet_key_init_next(&next, &k), RQ_OK);
    RQ_CHECK_EQ_INT(next.secret_len, 48);
    rq_packet_key_deinit(&next);
    rq_packet_key_deinit(&k);
    rq_packet_key_deinit(&k); /* twice is harmless */
}

/* RFC 9001 §5.3, §5.4: flipping any single byte of a protected packet (header, packet
 * number, ciphertext or tag) makes it fail authentication. */
static void test_tamper_any_byte(void)
{
    for (size_t a = 0; a < 3; a++) {
        rq_packet_key k;
        rq_hp_key hp;
        RQ_CHECK_ERR(keys(ALGS[a], 11, &k, &hp), RQ_OK);
        for (int is_long = 0; is_long < 2; is_long++) {
            uint8_t pkt[128], prot[128];
            size_t off, out = 0;
            size_t n = build(pkt, is_long, 77, 2, 40, 1, &off);
            RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 77, pkt, n, off, sizeof pkt, &out), RQ_OK);
            memcpy(prot, pkt, out);
            for (size_t i = 0; i < out; i++) {
                for (int bit = 0; bit < 8; bit += 7) {
                    uint64_t pn;
                    size_t hdr, plen;
                    memcpy(pkt, prot, out);
                    pkt[i] ^= (uint8_t)(1u << bit);
                    int rc = rq_packet_unprotect(&k, &hp, pkt, out, off, 76, &pn, &hdr, &plen);
                    if (rc != RQ_ERR_DECRYPT)
                        fprintf(stderr, "  alg %zu long %d byte %zu bit %d\n", a, is_long, i, bit);
                    RQ_CHECK_ERR(rc, RQ_ERR_DECRYPT);
                }
            }
            /* Untampered still opens. */
            uint64_t pn;
            size_t hdr, plen;
            RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, prot, out, off, 76, &pn, &hdr, &plen), RQ_OK);
        }
        rq_packet_key_deinit(&k);
        rq_hp_key_deinit(&hp);
    }
}

/* RFC 9001 §5.4.2: a received packet with fewer than pn_offset + 4 + 16 bytes cannot be
 * sampled: RQ_ERR_MALFORMED_PACKET, packet untouched. Exactly that many is fine, and the
 * sender side refuses to build a packet whose pn + payload is below 4 bytes. */
static void test_too_short(void)
{
    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 5, &k, &hp), RQ_OK);
    uint8_t pkt[64], copy[64];
    size_t off, out = 0;
    /* pn_len 1 + payload 3 = 4: the smallest protectable packet (pn_offset + 20 bytes). */
    size_t n = build(pkt, 0, 3, 1, 3, 0, &off);
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 3, pkt, n, off, sizeof pkt, &out), RQ_OK);
    RQ_CHECK_EQ_INT(out, off + 20);
    memcpy(copy, pkt, out);
    uint64_t pn;
    size_t hdr, plen;
    rq_hp_result hr;
    RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out - 1, off, 2, &pn, &hdr, &plen),
                 RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_MEM(pkt, copy, out);
    RQ_CHECK_ERR(rq_header_unprotect(&hp, pkt, off + 3, off, &hr), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_header_unprotect(&hp, pkt, 0, off, &hr), RQ_ERR_MALFORMED_PACKET);
    RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out, off, 2, &pn, &hdr, &plen), RQ_OK);
    RQ_CHECK_EQ_U64(pn, 3);
    RQ_CHECK_EQ_INT(plen, 3);

    n = build(pkt, 0, 3, 1, 2, 0, &off); /* pn + payload = 3 */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 3, pkt, n, off, sizeof pkt, &out), RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_U64(k.sealed, 1);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
}

/* Capacity and argument checks of rq_packet_protect / rq_aead_seal. */
static void test_protect_arguments(void)
{
    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 6, &k, &hp), RQ_OK);
    uint8_t pkt[128];
    size_t off, out = 0;
    size_t n = build(pkt, 1, 1000, 2, 30, 0, &off);
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 1000, pkt, n, off, n + 15, &out),
                 RQ_ERR_BUFFER_TOO_SMALL);
    /* The encoded packet number must match pn's low bytes. */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 1000 + 65536 + 1, pkt, n, off, sizeof pkt, &out),
                 RQ_ERR_INVALID_ARG);
    /* Header shorter than pn_offset + pn_len. */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 1000, pkt, off + 1, off, sizeof pkt, &out),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_EQ_U64(k.sealed, 0);
    /* A higher packet number with the same low bytes is fine. */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 1000 + 65536, pkt, n, off, n + 16, &out), RQ_OK);
    RQ_CHECK_EQ_INT(out, n + 16);
    /* rq_aead_open refuses input shorter than a tag. */
    size_t pl;
    RQ_CHECK_ERR(rq_aead_open(&k, 1, NULL, 0, pkt, 15, &pl), RQ_ERR_DECRYPT);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
    /* Deinitialised objects are refused, not crashed on. */
    RQ_CHECK_ERR(rq_aead_seal(&k, 1, NULL, 0, pkt, 10, sizeof pkt), RQ_ERR_INVALID_ARG);
    uint8_t mask[5];
    RQ_CHECK_ERR(rq_hp_mask(&hp, pkt, mask), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §17.1 / A.3 through rq_packet_unprotect: random packet numbers, truncated to the
 * length a sender would choose, are recovered from a nearby largest received pn. */
static void test_pn_recovery_random(void)
{
    uint64_t seed = rq_test_seed();
    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 8, &k, &hp), RQ_OK);
    unsigned long iters = rq_test_iterations(2000);
    for (unsigned long it = 0; it < iters; it++) {
        uint64_t pn = rq_test_rand(&seed) & ((1ULL << 40) - 1);
        uint64_t back = rq_test_rand(&seed) % 1000;
        uint64_t largest = pn > back ? pn - back - 1 : RQ_PN_NONE;
        size_t pn_len = rq_pn_encode_len(pn, largest == RQ_PN_NONE ? RQ_PN_NONE : largest);
        RQ_CHECK(pn_len >= 1 && pn_len <= 4);
        size_t plen_in = 4 + (size_t)(rq_test_rand(&seed) % 200);
        int is_long = (int)(rq_test_rand(&seed) & 1);
        uint8_t pkt[300], orig[300];
        size_t off, out = 0, hdr = 0, plen = 0;
        size_t n = build(pkt, is_long, pn, pn_len, plen_in, (uint8_t)it, &off);
        memcpy(orig, pkt, n);
        RQ_CHECK_ERR(rq_packet_protect(&k, &hp, pn, pkt, n, off, sizeof pkt, &out), RQ_OK);
        uint64_t got = 0;
        RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out, off, largest, &got, &hdr, &plen),
                     RQ_OK);
        RQ_CHECK_EQ_U64(got, pn);
        RQ_CHECK_MEM(pkt, orig, n);
    }
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
}

/* RFC 9001 §6.1, §6.3: after a key update the header protection key is unchanged: a packet
 * sealed with the next phase's key unmasks with the old hp key (so the key phase bit can be
 * read), opens with the next key, and fails with the current key. rekey_next reuses a slot. */
static void test_key_update_phases(void)
{
    for (size_t a = 0; a < 3; a++) {
        rq_packet_key cur, next, spare;
        rq_hp_key hp;
        RQ_CHECK_ERR(keys(ALGS[a], 21, &cur, &hp), RQ_OK);
        RQ_CHECK_ERR(rq_packet_key_init_next(&next, &cur), RQ_OK);
        uint8_t pkt[200];
        size_t off, out = 0;
        size_t n = build(pkt, 0, 500, 2, 60, 0, &off);
        pkt[0] |= 0x04; /* key phase 1 */
        RQ_CHECK_ERR(rq_packet_protect(&next, &hp, 500, pkt, n, off, sizeof pkt, &out), RQ_OK);
        rq_hp_result hr;
        RQ_CHECK_ERR(rq_header_unprotect(&hp, pkt, out, off, &hr), RQ_OK);
        RQ_CHECK_EQ_INT(hr.first_byte & 0x04, 0x04);
        uint8_t copy[200];
        memcpy(copy, pkt, out);
        size_t plen;
        RQ_CHECK_ERR(rq_payload_open(&cur, copy, out, hr.hdr_len, 500, &plen), RQ_ERR_DECRYPT);
        RQ_CHECK_ERR(rq_payload_open(&next, pkt, out, hr.hdr_len, 500, &plen), RQ_OK);
        RQ_CHECK_EQ_INT(plen, 60);

        /* Three-slot rotation: the spare (an old key) becomes phase 2. It must seal exactly
         * like a key made fresh for phase 2 — tag included (GnuTLS 3.7.9's
         * gnutls_aead_cipher_set_key leaves AES-GCM's GHASH key stale: this caught it). */
        rq_hp_key tmp_hp;
        RQ_CHECK_ERR(keys(ALGS[a], 99, &spare, &tmp_hp), RQ_OK);
        rq_hp_key_deinit(&tmp_hp);
        RQ_CHECK_ERR(rq_packet_key_rekey_next(&spare, &next), RQ_OK);
        rq_packet_key two;
        RQ_CHECK_ERR(rq_packet_key_init_next(&two, &next), RQ_OK);
        RQ_CHECK_MEM(spare.secret, two.secret, two.secret_len);
        RQ_CHECK_MEM(spare.iv, two.iv, 12);
        uint8_t s1[64] = {0}, s2[64] = {0};
        RQ_CHECK_ERR(rq_aead_seal(&spare, 9, (const uint8_t *)"ad", 2, s1, 20, sizeof s1), RQ_OK);
        RQ_CHECK_ERR(rq_aead_seal(&two, 9, (const uint8_t *)"ad", 2, s2, 20, sizeof s2), RQ_OK);
        RQ_CHECK_MEM(s1, s2, 20 + RQ_AEAD_TAG_LEN);
        /* Mismatched algorithms are refused. */
        rq_packet_key other;
        RQ_CHECK_ERR(keys(ALGS[(a + 1) % 3], 1, &other, &tmp_hp), RQ_OK);
        rq_hp_key_deinit(&tmp_hp);
        RQ_CHECK_ERR(rq_packet_key_rekey_next(&other, &next), RQ_ERR_INVALID_ARG);
        rq_packet_key_deinit(&other);
        rq_packet_key_deinit(&two);
        rq_packet_key_deinit(&spare);
        rq_packet_key_deinit(&next);
        rq_packet_key_deinit(&cur);
        rq_hp_key_deinit(&hp);
    }
}

/* RFC 9001 §6.6: confidentiality limit 2^23 for AES-GCM (none for ChaCha20), key update
 * requested at 7/8 of it, the key refused once the limit is sealed; integrity limits 2^52
 * and 2^36 counted across keys. */
static void test_usage_limits(void)
{
    RQ_CHECK_EQ_U64(rq_aead_confidentiality_limit(RQ_AEAD_AES_128_GCM), 1ULL << 23);
    RQ_CHECK_EQ_U64(rq_aead_confidentiality_limit(RQ_AEAD_AES_256_GCM), 1ULL << 23);
    RQ_CHECK_EQ_U64(rq_aead_confidentiality_limit(RQ_AEAD_CHACHA20_POLY1305), UINT64_MAX);
    RQ_CHECK_EQ_U64(rq_aead_integrity_limit(RQ_AEAD_AES_128_GCM), 1ULL << 52);
    RQ_CHECK_EQ_U64(rq_aead_integrity_limit(RQ_AEAD_AES_256_GCM), 1ULL << 52);
    RQ_CHECK_EQ_U64(rq_aead_integrity_limit(RQ_AEAD_CHACHA20_POLY1305), 1ULL << 36);
    RQ_CHECK_EQ_U64(rq_aead_key_update_threshold(RQ_AEAD_AES_128_GCM), (1ULL << 23) - (1ULL << 20));
    RQ_CHECK_EQ_U64(rq_aead_key_update_threshold(RQ_AEAD_CHACHA20_POLY1305), UINT64_MAX);

    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 2, &k, &hp), RQ_OK);
    uint8_t buf[64] = {0};
    RQ_CHECK(!rq_packet_key_should_update(&k));
    RQ_CHECK_ERR(rq_aead_seal(&k, 1, NULL, 0, buf, 8, sizeof buf), RQ_OK);
    RQ_CHECK_EQ_U64(k.sealed, 1);
    k.sealed = rq_aead_key_update_threshold(k.alg) - 1;
    RQ_CHECK(!rq_packet_key_should_update(&k));
    RQ_CHECK_ERR(rq_aead_seal(&k, 2, NULL, 0, buf, 8, sizeof buf), RQ_OK);
    RQ_CHECK(rq_packet_key_should_update(&k));
    k.sealed = (1ULL << 23) - 1;
    RQ_CHECK_ERR(rq_aead_seal(&k, 3, NULL, 0, buf, 8, sizeof buf), RQ_OK); /* the 2^23rd */
    RQ_CHECK_ERR(rq_aead_seal(&k, 4, NULL, 0, buf, 8, sizeof buf), RQ_ERR_AEAD_LIMIT_REACHED);
    size_t out;
    size_t off;
    uint8_t pkt[64];
    size_t n = build(pkt, 0, 5, 1, 10, 0, &off);
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 5, pkt, n, off, sizeof pkt, &out),
                 RQ_ERR_AEAD_LIMIT_REACHED);
    /* A key update gives a fresh count. */
    RQ_CHECK_ERR(rq_packet_key_rekey_next(&k, &k), RQ_OK);
    RQ_CHECK_EQ_U64(k.sealed, 0);
    RQ_CHECK_ERR(rq_aead_seal(&k, 4, NULL, 0, buf, 8, sizeof buf), RQ_OK);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);

    /* ChaCha20: never asks for an update. */
    RQ_CHECK_ERR(keys(RQ_AEAD_CHACHA20_POLY1305, 2, &k, &hp), RQ_OK);
    k.sealed = 1ULL << 40;
    RQ_CHECK(!rq_packet_key_should_update(&k));
    RQ_CHECK_ERR(rq_aead_seal(&k, 1, NULL, 0, buf, 8, sizeof buf), RQ_OK);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);

    /* Integrity: exceeding (not reaching) the limit closes the connection; the error maps to
     * the AEAD_LIMIT_REACHED transport code 0x0f. */
    rq_aead_integrity c = {0};
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, RQ_AEAD_AES_128_GCM), RQ_OK);
    RQ_CHECK_EQ_U64(c.failures, 1);
    c.failures = (1ULL << 36) - 1;
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, RQ_AEAD_CHACHA20_POLY1305), RQ_OK);
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, RQ_AEAD_AES_128_GCM), RQ_OK);
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, RQ_AEAD_CHACHA20_POLY1305), RQ_ERR_AEAD_LIMIT_REACHED);
    c.failures = 1ULL << 52;
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, RQ_AEAD_AES_256_GCM), RQ_ERR_AEAD_LIMIT_REACHED);
    RQ_CHECK_EQ_INT(rq_err_transport_code(RQ_ERR_AEAD_LIMIT_REACHED), 0x0f);
}

/* A failed decryption is countable toward the integrity limit (RFC 9001 §6.6), and leaves
 * the tag bytes (the last 16 of the packet, where a stateless reset token would be) intact. */
static void test_decrypt_failure_counted(void)
{
    rq_packet_key k, wrong;
    rq_hp_key hp, hp2;
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 30, &k, &hp), RQ_OK);
    RQ_CHECK_ERR(keys(RQ_AEAD_AES_128_GCM, 31, &wrong, &hp2), RQ_OK);
    uint8_t pkt[128], tag[16];
    size_t off, out = 0;
    size_t n = build(pkt, 0, 9, 1, 40, 0, &off);
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 9, pkt, n, off, sizeof pkt, &out), RQ_OK);
    memcpy(tag, pkt + out - 16, 16);
    rq_aead_integrity c = {0};
    uint64_t pn;
    size_t hdr, plen;
    int rc = rq_packet_unprotect(&wrong, &hp, pkt, out, off, 8, &pn, &hdr, &plen);
    RQ_CHECK_ERR(rc, RQ_ERR_DECRYPT);
    RQ_CHECK_ERR(rq_aead_integrity_count(&c, wrong.alg), RQ_OK);
    RQ_CHECK_EQ_U64(c.failures, 1);
    RQ_CHECK_MEM(pkt + out - 16, tag, 16);
    rq_packet_key_deinit(&k);
    rq_packet_key_deinit(&wrong);
    rq_hp_key_deinit(&hp);
    rq_hp_key_deinit(&hp2);
}

/* The TLS layer's cipher mapping (GNUTLS-QUIC.md: CCM is not implemented). */
static void test_alg_mapping(void)
{
    rq_aead_alg alg;
    RQ_CHECK_ERR(rq_aead_alg_from_gnutls(GNUTLS_CIPHER_AES_128_GCM, &alg), RQ_OK);
    RQ_CHECK_EQ_INT(alg, RQ_AEAD_AES_128_GCM);
    RQ_CHECK_ERR(rq_aead_alg_from_gnutls(GNUTLS_CIPHER_AES_256_GCM, &alg), RQ_OK);
    RQ_CHECK_EQ_INT(alg, RQ_AEAD_AES_256_GCM);
    RQ_CHECK_ERR(rq_aead_alg_from_gnutls(GNUTLS_CIPHER_CHACHA20_POLY1305, &alg), RQ_OK);
    RQ_CHECK_EQ_INT(alg, RQ_AEAD_CHACHA20_POLY1305);
    RQ_CHECK_ERR(rq_aead_alg_from_gnutls(GNUTLS_CIPHER_AES_128_CCM, &alg), RQ_ERR_INVALID_ARG);
    for (size_t a = 0; a < 3; a++) {
        RQ_CHECK_ERR(rq_aead_alg_from_gnutls(rq_aead_alg_to_gnutls(ALGS[a]), &alg), RQ_OK);
        RQ_CHECK_EQ_INT(alg, ALGS[a]);
        RQ_CHECK_EQ_INT(gnutls_cipher_get_tag_size(rq_aead_alg_to_gnutls(ALGS[a])),
                        RQ_AEAD_TAG_LEN);
        RQ_CHECK_EQ_INT(gnutls_cipher_get_iv_size(rq_aead_alg_to_gnutls(ALGS[a])), RQ_AEAD_IV_LEN);
    }
}

/* RFC 8446 §7.1 limits on HKDF-Expand-Label: label at most 249 bytes after "tls13 ". */
static void test_hkdf_label_limits(void)
{
    char label[300];
    uint8_t s[32] = {0}, out[32];
    memset(label, 'a', sizeof label);
    label[249] = 0;
    RQ_CHECK_ERR(rq_hkdf_expand_label(GNUTLS_MAC_SHA256, s, 32, label, out, 32), RQ_OK);
    label[249] = 'a';
    label[250] = 0;
    RQ_CHECK_ERR(rq_hkdf_expand_label(GNUTLS_MAC_SHA256, s, 32, label, out, 32),
                 RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_hkdf_expand_label(GNUTLS_MAC_SHA256, s, 32, "x", out, 0), RQ_ERR_INVALID_ARG);
    /* Initial secrets from an empty and a 20-byte DCID. */
    rq_cid cid = {0};
    uint8_t cs[32], ss[32];
    RQ_CHECK_ERR(rq_initial_secrets(&cid, cs, ss), RQ_OK);
    cid.len = 20;
    RQ_CHECK_ERR(rq_initial_secrets(&cid, cs, ss), RQ_OK);
    RQ_CHECK(memcmp(cs, ss, 32) != 0);
}

int main(void)
{
    RQ_RUN(test_roundtrip_all_algs);
    RQ_RUN(test_aes256_secret_lengths);
    RQ_RUN(test_tamper_any_byte);
    RQ_RUN(test_too_short);
    RQ_RUN(test_protect_arguments);
    RQ_RUN(test_pn_recovery_random);
    RQ_RUN(test_key_update_phases);
    RQ_RUN(test_usage_limits);
    RQ_RUN(test_decrypt_failure_counted);
    RQ_RUN(test_alg_mapping);
    RQ_RUN(test_hkdf_label_limits);
    return rq_test_summary();
}
