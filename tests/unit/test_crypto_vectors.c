/* RFC 9001 Appendix A: sample packet protection, reproduced byte for byte. */
#include "core/pn.h"
#include "crypto/crypto.h"
#include "rqtest.h"

#include <roamquic/error.h>

/* RFC 9001 Appendix A: the client-chosen Destination Connection ID of every sample. */
static const char *const DCID = "8394c8f03e515708";

/* A.2: the CRYPTO frame of the client Initial (padded to 1162 bytes with PADDING). */
static const char *const A2_CRYPTO =
    "060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a 00080006001d00170018001000070005"
    "04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408 050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806 048000ffff";
static const char *const A2_HEADER = "c300000001088394c8f03e5157080000449e00000002";
static const char *const A2_PACKET =
    "c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

/* A.3: the server Initial. */
static const char *const A3_PAYLOAD =
    "02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00"
    "020304";
static const char *const A3_HEADER = "c1000000010008f067a5502a4262b50040750001";
static const char *const A3_PACKET =
    "cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a"
    "5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3"
    "dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84"
    "022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4"
    "2158407dd074ee";

/* A.4: the Retry packet (tag included). */
static const char *const A4_RETRY =
    "ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f"
    "0f2496ba";

/* A.5: the ChaCha20-Poly1305 short header packet. */
static const char *const A5_SECRET =
    "9ac312a7f877468ebe69422748ad00a1 5443f18203a07d6060f688f30f21632b";
static const char *const A5_KEY =
    "c6d98ff3441c3fe1b2182094f69caa2e d4b716b65488960a7a984979fb23e1c8";
static const char *const A5_IV = "e0459b3474bdd0e44a41c144";
static const char *const A5_HP =
    "25a282b9e82f06f21f488917a4fc8f1b 73573685608597d0efcb076b0ab7a7a4";
static const char *const A5_KU =
    "1223504755036d556342ee9361d25342 1a826c9ecdf3c7148684b36b714881f9";
static const char *const A5_PACKET = "4cfe4189655e5cd55c41f69080575d7999c25a5bfb";

static rq_cid dcid_a(void)
{
    uint8_t b[RQ_MAX_CID_LEN];
    size_t n = rq_test_hex(DCID, b, sizeof b);
    rq_cid c;
    rq_cid_set(&c, b, n);
    return c;
}

/* RFC 9001 A.1: the HKDF-Expand-Label info strings listed in the appendix ("client in",
 * "quic key", ...) are what rq_hkdf_expand_label feeds HKDF-Expand: checked indirectly by
 * every derived value below; here the intermediate initial_secret. */
static void test_a1_initial_secret_extract(void)
{
    uint8_t salt[20], prk[32], want[32], ikm[8];
    rq_test_hex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a", salt, sizeof salt);
    rq_test_hex(DCID, ikm, sizeof ikm);
    RQ_CHECK_ERR(rq_hkdf_extract(GNUTLS_MAC_SHA256, salt, 20, ikm, 8, prk), RQ_OK);
    rq_test_hex("7db5df06e7a69e432496adedb0085192 3595221596ae2ae9fb8115c1e9ed0a44", want,
                sizeof want);
    RQ_CHECK_MEM(prk, want, 32);
}

/* RFC 9001 A.1: client and server initial secrets and their key, iv and hp. */
static void test_a1_keys(void)
{
    rq_cid dcid = dcid_a();
    uint8_t cs[32], ss[32], want[32], out[32];
    RQ_CHECK_ERR(rq_initial_secrets(&dcid, cs, ss), RQ_OK);
    rq_test_hex("c00cf151ca5be075ed0ebfb5c80323c4 2d6b7db67881289af4008f1f6c357aea", want, 32);
    RQ_CHECK_MEM(cs, want, 32);
    rq_test_hex("3c199828fd139efd216c155ad844cc81 fb82fa8d7446fa7d78be803acdda951b", want, 32);
    RQ_CHECK_MEM(ss, want, 32);

    static const struct {
        int server;
        const char *label;
        size_t len;
        const char *hex;
    } v[] = {
        {0, "quic key", 16, "1f369613dd76d5467730efcbe3b1a22d"},
        {0, "quic iv", 12, "fa044b2f42a3fd3b46fb255c"},
        {0, "quic hp", 16, "9f50449e04a0e810283a1e9933adedd2"},
        {1, "quic key", 16, "cf3a5331653c364c88f0f379b6067e37"},
        {1, "quic iv", 12, "0ac1493ca1905853b0bba03e"},
        {1, "quic hp", 16, "c206b8d9b9f0f37644430b490eeaa314"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        RQ_CHECK_ERR(rq_hkdf_expand_label(GNUTLS_MAC_SHA256, v[i].server ? ss : cs, 32, v[i].label,
                                          out, v[i].len),
                     RQ_OK);
        RQ_CHECK_EQ_INT(rq_test_hex(v[i].hex, want, sizeof want), v[i].len);
        RQ_CHECK_MEM(out, want, v[i].len);
    }

    /* The packet key object derives the same IV. */
    rq_packet_key k;
    RQ_CHECK_ERR(rq_packet_key_init(&k, RQ_AEAD_AES_128_GCM, cs, 32), RQ_OK);
    rq_test_hex("fa044b2f42a3fd3b46fb255c", want, 12);
    RQ_CHECK_MEM(k.iv, want, 12);
    rq_packet_key_deinit(&k);
}

/* RFC 9001 A.1: the header protection mask of A.2 from the client hp key:
 * AES-ECB(hp, d1b1c98dd7689fb8ec11d242b123dc9b)[0..4] = 437b9aec36. */
static void test_a2_hp_mask(void)
{
    uint8_t key[16], sample[16], mask[5], want[5];
    rq_test_hex("9f50449e04a0e810283a1e9933adedd2", key, 16);
    rq_test_hex("d1b1c98dd7689fb8ec11d242b123dc9b", sample, 16);
    rq_test_hex("437b9aec36", want, 5);
    rq_hp_key hp;
    RQ_CHECK_ERR(rq_hp_key_init_raw(&hp, RQ_AEAD_AES_128_GCM, key), RQ_OK);
    /* Twice: the CBC chaining must not leak into the second mask. */
    for (int i = 0; i < 2; i++) {
        RQ_CHECK_ERR(rq_hp_mask(&hp, sample, mask), RQ_OK);
        RQ_CHECK_MEM(mask, want, 5);
    }
    rq_hp_key_deinit(&hp);
}

/* Sets up one direction's Initial keys (client when server == 0). */
static int initial_keys(int server, rq_packet_key *k, rq_hp_key *hp)
{
    rq_cid dcid = dcid_a();
    uint8_t cs[32], ss[32];
    int rc = rq_initial_secrets(&dcid, cs, ss);
    if (rc == 0)
        rc = rq_packet_key_init(k, RQ_AEAD_AES_128_GCM, server ? ss : cs, 32);
    if (rc == 0)
        rc = rq_hp_key_init(hp, RQ_AEAD_AES_128_GCM, server ? ss : cs, 32);
    return rc;
}

/* RFC 9001 A.2: client Initial: header + CRYPTO frame padded to a 1162-byte payload,
 * protected with packet number 2, is the RFC's 1200-byte packet; unprotecting it gives back
 * packet number 2 and the payload. */
static void test_a2_client_initial(void)
{
    static uint8_t pkt[1300], want[1300], plain[1162];
    memset(plain, 0, sizeof plain); /* PADDING frames are 0x00 */
    size_t fl = rq_test_hex(A2_CRYPTO, plain, sizeof plain);
    RQ_CHECK_EQ_INT(fl, 245);
    size_t hl = rq_test_hex(A2_HEADER, pkt, sizeof pkt);
    RQ_CHECK_EQ_INT(hl, 22);
    memcpy(pkt + hl, plain, sizeof plain);
    size_t wl = rq_test_hex(A2_PACKET, want, sizeof want);
    RQ_CHECK_EQ_INT(wl, 1200);

    rq_packet_key k, rk;
    rq_hp_key hp, rhp;
    RQ_CHECK_ERR(initial_keys(0, &k, &hp), RQ_OK);
    RQ_CHECK_ERR(initial_keys(0, &rk, &rhp), RQ_OK);
    size_t out = 0;
    /* pn_offset 18: first byte, version 4, DCID length + 8, SCID length, token length,
     * 2-byte Length (0x449e = 1182). */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 2, pkt, hl + sizeof plain, 18, sizeof pkt, &out),
                 RQ_OK);
    RQ_CHECK_EQ_INT(out, 1200);
    RQ_CHECK_MEM(pkt, want, 1200);
    RQ_CHECK_EQ_U64(k.sealed, 1);

    uint64_t pn = 0;
    size_t hdr = 0, plen = 0;
    RQ_CHECK_ERR(rq_packet_unprotect(&rk, &rhp, pkt, out, 18, RQ_PN_NONE, &pn, &hdr, &plen), RQ_OK);
    RQ_CHECK_EQ_U64(pn, 2);
    RQ_CHECK_EQ_INT(hdr, 22);
    RQ_CHECK_EQ_INT(plen, 1162);
    uint8_t hdr_want[22];
    rq_test_hex(A2_HEADER, hdr_want, sizeof hdr_want);
    RQ_CHECK_MEM(pkt, hdr_want, 22);
    RQ_CHECK_MEM(pkt + hdr, plain, 1162);
    rq_packet_key_deinit(&k);
    rq_packet_key_deinit(&rk);
    rq_hp_key_deinit(&hp);
    rq_hp_key_deinit(&rhp);
}

/* RFC 9001 A.3: server Initial with a 2-byte packet number 1 (sample from the third
 * protected payload byte: mask 2ec0d8356a). */
static void test_a3_server_initial(void)
{
    uint8_t pkt[256], want[256], plain[128], hdr_want[32];
    size_t pl = rq_test_hex(A3_PAYLOAD, plain, sizeof plain);
    RQ_CHECK_EQ_INT(pl, 99);
    size_t hl = rq_test_hex(A3_HEADER, pkt, sizeof pkt);
    RQ_CHECK_EQ_INT(hl, 20);
    rq_test_hex(A3_HEADER, hdr_want, sizeof hdr_want);
    memcpy(pkt + hl, plain, pl);
    size_t wl = rq_test_hex(A3_PACKET, want, sizeof want);
    RQ_CHECK_EQ_INT(wl, 135);

    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(initial_keys(1, &k, &hp), RQ_OK);
    size_t out = 0;
    /* pn_offset 18: 1 + 4 + 1 (empty DCID) + 1 + 8 (SCID) + 1 (token length) + 2 (Length). */
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 1, pkt, hl + pl, 18, sizeof pkt, &out), RQ_OK);
    RQ_CHECK_EQ_INT(out, 135);
    RQ_CHECK_MEM(pkt, want, 135);

    /* Receive side, largest received pn 0: pn recovered as 1. */
    uint64_t pn = 0;
    size_t hdr = 0, plen = 0;
    RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out, 18, 0, &pn, &hdr, &plen), RQ_OK);
    RQ_CHECK_EQ_U64(pn, 1);
    RQ_CHECK_EQ_INT(hdr, 20);
    RQ_CHECK_EQ_INT(plen, 99);
    RQ_CHECK_MEM(pkt, hdr_want, 20);
    RQ_CHECK_MEM(pkt + hdr, plain, pl);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
}

/* RFC 9001 A.4 / §5.8: the Retry integrity tag over the pseudo-packet with ODCID
 * 8394c8f03e515708 is 04a265ba2eff4d829058fb3f0f2496ba; every flipped bit fails. */
static void test_a4_retry_tag(void)
{
    uint8_t retry[64], tag[16];
    size_t n = rq_test_hex(A4_RETRY, retry, sizeof retry);
    RQ_CHECK_EQ_INT(n, 36);
    rq_cid odcid = dcid_a();
    rq_retry_aead r;
    RQ_CHECK_ERR(rq_retry_aead_init(&r), RQ_OK);
    RQ_CHECK_ERR(rq_retry_tag_compute(&r, &odcid, retry, n - 16, tag), RQ_OK);
    RQ_CHECK_MEM(tag, retry + n - 16, 16);
    RQ_CHECK_ERR(rq_retry_tag_verify(&r, &odcid, retry, n), RQ_OK);
    for (size_t i = 0; i < n * 8; i++) {
        retry[i / 8] ^= (uint8_t)(1u << (i % 8));
        int rc = rq_retry_tag_verify(&r, &odcid, retry, n);
        retry[i / 8] ^= (uint8_t)(1u << (i % 8));
        RQ_CHECK_ERR(rc, RQ_ERR_DECRYPT);
    }
    /* A different original DCID fails too (the pseudo-packet binds it). */
    rq_cid other = odcid;
    other.data[0] ^= 1;
    RQ_CHECK_ERR(rq_retry_tag_verify(&r, &other, retry, n), RQ_ERR_DECRYPT);
    other.len = 7;
    RQ_CHECK_ERR(rq_retry_tag_verify(&r, &other, retry, n), RQ_ERR_DECRYPT);
    RQ_CHECK_ERR(rq_retry_tag_verify(&r, &odcid, retry, 15), RQ_ERR_MALFORMED_PACKET);
    rq_retry_aead_deinit(&r);
}

/* RFC 9001 A.5: key, iv, hp and ku from the ChaCha20-Poly1305 application secret. */
static void test_a5_chacha20_derivation(void)
{
    uint8_t secret[32], out[32], want[32];
    rq_test_hex(A5_SECRET, secret, 32);
    gnutls_mac_algorithm_t mac = rq_aead_alg_hash(RQ_AEAD_CHACHA20_POLY1305);
    RQ_CHECK_ERR(rq_hkdf_expand_label(mac, secret, 32, "quic key", out, 32), RQ_OK);
    rq_test_hex(A5_KEY, want, 32);
    RQ_CHECK_MEM(out, want, 32);
    RQ_CHECK_ERR(rq_hkdf_expand_label(mac, secret, 32, "quic iv", out, 12), RQ_OK);
    rq_test_hex(A5_IV, want, 12);
    RQ_CHECK_MEM(out, want, 12);
    RQ_CHECK_ERR(rq_hkdf_expand_label(mac, secret, 32, "quic hp", out, 32), RQ_OK);
    rq_test_hex(A5_HP, want, 32);
    RQ_CHECK_MEM(out, want, 32);
    /* RFC 9001 §6.1 / A.5: ku = the next key phase's secret. */
    RQ_CHECK_ERR(rq_key_update_secret(RQ_AEAD_CHACHA20_POLY1305, secret, 32, out), RQ_OK);
    rq_test_hex(A5_KU, want, 32);
    RQ_CHECK_MEM(out, want, 32);
}

/* RFC 9001 A.5: the next-phase packet key made by rq_packet_key_init_next carries the "quic
 * ku" secret; rekey_next in place lands on the same key (checked by sealing the same
 * packet with both). */
static void test_a5_key_update_objects(void)
{
    uint8_t secret[32], want[32];
    rq_test_hex(A5_SECRET, secret, 32);
    rq_test_hex(A5_KU, want, 32);
    rq_packet_key cur, next, inplace;
    RQ_CHECK_ERR(rq_packet_key_init(&cur, RQ_AEAD_CHACHA20_POLY1305, secret, 32), RQ_OK);
    RQ_CHECK_ERR(rq_packet_key_init(&inplace, RQ_AEAD_CHACHA20_POLY1305, secret, 32), RQ_OK);
    RQ_CHECK_ERR(rq_packet_key_init_next(&next, &cur), RQ_OK);
    RQ_CHECK_EQ_INT(next.secret_len, 32);
    RQ_CHECK_MEM(next.secret, want, 32);
    inplace.sealed = 5;
    RQ_CHECK_ERR(rq_packet_key_rekey_next(&inplace, &inplace), RQ_OK);
    RQ_CHECK_MEM(inplace.secret, want, 32);
    RQ_CHECK_MEM(inplace.iv, next.iv, 12);
    RQ_CHECK_EQ_U64(inplace.sealed, 0);
    uint8_t a[40] = {1, 2, 3}, b[40] = {1, 2, 3};
    RQ_CHECK_ERR(rq_aead_seal(&next, 7, NULL, 0, a, 24, sizeof a), RQ_OK);
    RQ_CHECK_ERR(rq_aead_seal(&inplace, 7, NULL, 0, b, 24, sizeof b), RQ_OK);
    RQ_CHECK_MEM(a, b, 40);
    /* ... and differs from the current phase. */
    uint8_t c[40] = {1, 2, 3};
    RQ_CHECK_ERR(rq_aead_seal(&cur, 7, NULL, 0, c, 24, sizeof c), RQ_OK);
    RQ_CHECK(memcmp(a, c, 40) != 0);
    rq_packet_key_deinit(&cur);
    rq_packet_key_deinit(&next);
    rq_packet_key_deinit(&inplace);
}

/* RFC 9001 A.5: pn 654360564 in 3 bytes (0xbff4 … encoded 49140), payload 01: the 21-byte
 * packet 4cfe4189655e5cd55c41f69080575d7999c25a5bfb; and back. */
static void test_a5_chacha20_short_header(void)
{
    uint8_t secret[32], pkt[64], want[32], key[32], hpk[32];
    rq_test_hex(A5_SECRET, secret, 32);
    rq_packet_key k;
    rq_hp_key hp;
    RQ_CHECK_ERR(rq_packet_key_init(&k, RQ_AEAD_CHACHA20_POLY1305, secret, 32), RQ_OK);
    RQ_CHECK_ERR(rq_hp_key_init(&hp, RQ_AEAD_CHACHA20_POLY1305, secret, 32), RQ_OK);

    /* The mask alone: sample 5e5cd55c41f69080575d7999c25a5bfb -> aefefe7d03. */
    uint8_t sample[16], mask[5], mask_want[5];
    rq_test_hex("5e5cd55c41f69080575d7999c25a5bfb", sample, 16);
    rq_test_hex("aefefe7d03", mask_want, 5);
    RQ_CHECK_ERR(rq_hp_mask(&hp, sample, mask), RQ_OK);
    RQ_CHECK_MEM(mask, mask_want, 5);

    size_t hl = rq_test_hex("4200bff4", pkt, sizeof pkt);
    pkt[hl] = 0x01; /* PING */
    size_t out = 0;
    RQ_CHECK_ERR(rq_packet_protect(&k, &hp, 654360564, pkt, hl + 1, 1, sizeof pkt, &out), RQ_OK);
    RQ_CHECK_EQ_INT(out, 21);
    RQ_CHECK_EQ_INT(rq_test_hex(A5_PACKET, want, sizeof want), 21);
    RQ_CHECK_MEM(pkt, want, 21);

    /* Receive: the key phase bit is visible after header protection alone. */
    rq_hp_result hr;
    uint8_t copy[64];
    memcpy(copy, pkt, out);
    RQ_CHECK_ERR(rq_header_unprotect(&hp, copy, out, 1, &hr), RQ_OK);
    RQ_CHECK_EQ_INT(hr.first_byte, 0x42);
    RQ_CHECK_EQ_INT(hr.first_byte & 0x04, 0); /* key phase 0 */
    RQ_CHECK_EQ_INT(hr.pn_len, 3);
    RQ_CHECK_EQ_U64(hr.truncated_pn, 0x00bff4);

    uint64_t pn = 0;
    size_t hdr = 0, plen = 0;
    RQ_CHECK_ERR(rq_packet_unprotect(&k, &hp, pkt, out, 1, 654360563, &pn, &hdr, &plen), RQ_OK);
    RQ_CHECK_EQ_U64(pn, 654360564);
    RQ_CHECK_EQ_INT(hdr, 4);
    RQ_CHECK_EQ_INT(plen, 1);
    RQ_CHECK_EQ_INT(pkt[4], 0x01);

    /* The raw key/iv/hp of A.5 give the same object behaviour. */
    uint8_t iv[12];
    rq_test_hex(A5_KEY, key, 32);
    rq_test_hex(A5_IV, iv, 12);
    rq_test_hex(A5_HP, hpk, 32);
    rq_packet_key rk;
    rq_hp_key rhp;
    RQ_CHECK_ERR(rq_packet_key_init_raw(&rk, RQ_AEAD_CHACHA20_POLY1305, key, iv), RQ_OK);
    RQ_CHECK_ERR(rq_hp_key_init_raw(&rhp, RQ_AEAD_CHACHA20_POLY1305, hpk), RQ_OK);
    hl = rq_test_hex("4200bff4", pkt, sizeof pkt);
    pkt[hl] = 0x01;
    RQ_CHECK_ERR(rq_packet_protect(&rk, &rhp, 654360564, pkt, hl + 1, 1, sizeof pkt, &out), RQ_OK);
    RQ_CHECK_MEM(pkt, want, 21);
    /* A raw key has no secret: it cannot be updated. */
    rq_packet_key nk;
    RQ_CHECK_ERR(rq_packet_key_init_next(&nk, &rk), RQ_ERR_INVALID_ARG);
    rq_packet_key_deinit(&nk);
    rq_packet_key_deinit(&rk);
    rq_hp_key_deinit(&rhp);
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
}

/* RFC 9001 §5.4.4: the ChaCha20 header-protection mask when the sample's counter bytes are
 * ff ff ff ff (a counter at its maximum must not fail or wrap into an error, since header
 * protection is removed before authentication: a peer could pick that sample). The expected
 * mask was computed independently with `openssl enc -chacha20` over 5 zero bytes, IV = sample. */
static void test_chacha20_hp_counter_max_rfc9001_5_4_4(void)
{
    uint8_t key[32], sample[16], mask[RQ_HP_MASK_LEN], want[5];
    rq_test_hex(A5_HP, key, 32);
    rq_test_hex("ffffffff000102030405060708090a0b", sample, 16);
    rq_test_hex("ac0beb51dd", want, 5);
    rq_hp_key hp = {0};
    RQ_CHECK_ERR(rq_hp_key_init_raw(&hp, RQ_AEAD_CHACHA20_POLY1305, key), RQ_OK);
    int rc = rq_hp_mask(&hp, sample, mask);
    rq_hp_key_deinit(&hp);
    RQ_CHECK_ERR(rc, RQ_OK);
    RQ_CHECK_MEM(mask, want, 5);
}

/* A hand-built rq_cid claiming more than 20 bytes is refused, not read past its storage. */
static void test_oversized_cid_refused(void)
{
    rq_cid bad = {0};
    bad.len = 21;
    uint8_t cs[32], ss[32], tag[16];
    RQ_CHECK_ERR(rq_initial_secrets(&bad, cs, ss), RQ_ERR_INVALID_ARG);
    rq_retry_aead r = {0};
    RQ_CHECK_ERR(rq_retry_aead_init(&r), RQ_OK);
    int rc = rq_retry_tag_compute(&r, &bad, (const uint8_t *)"x", 1, tag);
    rq_retry_aead_deinit(&r);
    RQ_CHECK_ERR(rc, RQ_ERR_INVALID_ARG);
}

int main(void)
{
    RQ_RUN(test_a1_initial_secret_extract);
    RQ_RUN(test_a1_keys);
    RQ_RUN(test_a2_hp_mask);
    RQ_RUN(test_a2_client_initial);
    RQ_RUN(test_a3_server_initial);
    RQ_RUN(test_a4_retry_tag);
    RQ_RUN(test_a5_chacha20_derivation);
    RQ_RUN(test_a5_key_update_objects);
    RQ_RUN(test_a5_chacha20_short_header);
    RQ_RUN(test_chacha20_hp_counter_max_rfc9001_5_4_4);
    RQ_RUN(test_oversized_cid_refused);
    return rq_test_summary();
}
