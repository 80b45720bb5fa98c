/* QUIC packet protection through GnuTLS (RFC 9001 §5 and §6): sans-I/O, no allocation and no
 * key setup per packet.
 *
 * Objects (each holds GnuTLS handles: *_init creates them, *_deinit frees them and wipes the
 * key material; a deinit of a zeroed or already-deinitialised object is a no-op):
 *   rq_packet_key  one direction's AEAD key and IV for one key phase ("quic key", "quic iv"),
 *                  plus the traffic secret it came from (for the next key phase) and the
 *                  count of packets it has sealed (confidentiality limit, §6.6).
 *   rq_hp_key      one direction's header-protection key ("quic hp"); separate because it
 *                  survives key updates (§6.1).
 *   rq_retry_aead  the fixed Retry integrity AEAD (§5.8), one per endpoint.
 *
 * No object is safe to use from two threads at once (the header-protection cipher keeps IV
 * state); a connection owns its keys. Per-packet calls allocate nothing and set up no key.
 *
 * Packet layout used by protect/unprotect: pkt[0 .. pn_offset) is the header up to the packet
 * number, pkt[pn_offset .. pn_offset + pn_len) the packet number, then the payload; after
 * sealing the payload is followed by the 16-byte AEAD tag.
 *
 * Errors: 0 on success, RQ_ERR_INVALID_ARG for impossible arguments, RQ_ERR_BUFFER_TOO_SMALL,
 * RQ_ERR_CRYPTO when GnuTLS fails, RQ_ERR_MALFORMED_PACKET when a received packet is too
 * short to sample, RQ_ERR_DECRYPT when a received packet fails authentication,
 * RQ_ERR_AEAD_LIMIT_REACHED when a usage limit of §6.6 forbids the operation.
 */
#ifndef RQ_CRYPTO_CRYPTO_H
#define RQ_CRYPTO_CRYPTO_H

#include "core/cid.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- algorithms ------------------------------------------------------------------------ */

/* The AEADs of the TLS 1.3 cipher suites QUIC v1 packet protection supports. CCM is not
 * implemented: the TLS layer must not offer TLS_AES_128_CCM_SHA256. */
typedef enum rq_aead_alg {
    RQ_AEAD_AES_128_GCM = 0,       /* TLS_AES_128_GCM_SHA256 */
    RQ_AEAD_AES_256_GCM = 1,       /* TLS_AES_256_GCM_SHA384 */
    RQ_AEAD_CHACHA20_POLY1305 = 2, /* TLS_CHACHA20_POLY1305_SHA256 */
} rq_aead_alg;

#define RQ_AEAD_TAG_LEN       16 /* every supported AEAD has a 16-byte tag */
#define RQ_AEAD_IV_LEN        12 /* and a 12-byte nonce (RFC 9001 §5.3) */
#define RQ_AEAD_MAX_KEY_LEN   32
#define RQ_MAX_SECRET_LEN     48 /* SHA-384 */
#define RQ_HP_SAMPLE_LEN      16 /* RFC 9001 §5.4.2 */
#define RQ_HP_MASK_LEN        5
#define RQ_INITIAL_SECRET_LEN 32 /* SHA-256 (RFC 9001 §5.2) */
#define RQ_RETRY_TAG_LEN      16

/* Maps a negotiated GnuTLS cipher to an rq_aead_alg. Returns 0, or RQ_ERR_INVALID_ARG for a
 * cipher QUIC packet protection does not implement here (CCM, anything non-TLS-1.3). */
int rq_aead_alg_from_gnutls(gnutls_cipher_algorithm_t cipher, rq_aead_alg *alg);

/* The GnuTLS AEAD cipher of alg (GNUTLS_CIPHER_UNKNOWN for an invalid alg). */
gnutls_cipher_algorithm_t rq_aead_alg_to_gnutls(rq_aead_alg alg);

/* The TLS 1.3 suite hash of alg as an HMAC algorithm (SHA-384 for AES-256-GCM, SHA-256 for
 * the others), and its length: the length of every traffic secret of that suite. */
gnutls_mac_algorithm_t rq_aead_alg_hash(rq_aead_alg alg);
size_t rq_aead_alg_secret_len(rq_aead_alg alg);

/* The AEAD key length (16 or 32); also the header-protection key length (§5.4.3, §5.4.4). */
size_t rq_aead_alg_key_len(rq_aead_alg alg);

/* ---- HKDF (hkdf.c) ---------------------------------------------------------------------- */

/* HKDF-Extract (RFC 5869): prk = HMAC(salt, ikm), hash length bytes written to prk.
 * Returns 0 or RQ_ERR_CRYPTO. */
int rq_hkdf_extract(gnutls_mac_algorithm_t mac, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t *prk);

/* TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, as QUIC uses it: writes
 * out_len bytes to out. label is the bare label ("quic key"); the "tls13 " prefix is added
 * here. Returns 0, RQ_ERR_INVALID_ARG (label longer than 249 bytes, out_len above 255 hash
 * lengths) or RQ_ERR_CRYPTO. */
int rq_hkdf_expand_label(gnutls_mac_algorithm_t mac, const uint8_t *secret, size_t secret_len,
                         const char *label, uint8_t *out, size_t out_len);

/* ---- Initial secrets (initial.c) ------------------------------------------------------- */

/* QUIC v1 Initial secrets from the Destination Connection ID of the client's first Initial
 * (RFC 9001 §5.2). Both outputs are RQ_INITIAL_SECRET_LEN bytes; Initial packets always use
 * RQ_AEAD_AES_128_GCM. Returns 0, RQ_ERR_INVALID_ARG (dcid->len above 20) or RQ_ERR_CRYPTO. */
int rq_initial_secrets(const rq_cid *dcid, uint8_t client_secret[RQ_INITIAL_SECRET_LEN],
                       uint8_t server_secret[RQ_INITIAL_SECRET_LEN]);

/* ---- packet keys (aead.c) ---------------------------------------------------------------- */

typedef struct rq_packet_key {
    gnutls_aead_cipher_hd_t aead; /* NULL when not initialised */
    rq_aead_alg alg;
    uint8_t iv[RQ_AEAD_IV_LEN];
    uint8_t secret_len; /* 0 when made from a raw key (no key update possible) */
    uint8_t secret[RQ_MAX_SECRET_LEN];
    uint64_t sealed; /* packets sealed under this key (§6.6 confidentiality limit) */
} rq_packet_key;

/* Creates a packet key from a traffic secret of alg's hash length: key = "quic key", iv =
 * "quic iv" (RFC 9001 §5.1). The secret is kept (for rq_packet_key_next) and wiped by deinit.
 * Returns 0, RQ_ERR_INVALID_ARG (bad alg or secret length) or RQ_ERR_CRYPTO; on error *k is
 * left deinitialised. */
int rq_packet_key_init(rq_packet_key *k, rq_aead_alg alg, const uint8_t *secret, size_t secret_len);

/* Creates a packet key from a raw key (rq_aead_alg_key_len bytes) and a 12-byte IV (no
 * secret: it cannot be updated). Same errors as rq_packet_key_init. */
int rq_packet_key_init_raw(rq_packet_key *k, rq_aead_alg alg, const uint8_t *key,
                           const uint8_t iv[RQ_AEAD_IV_LEN]);

/* Re-keys an initialised key from a new traffic secret of the same algorithm; resets the
 * sealed count. It takes a new GnuTLS handle (GnuTLS 3.7.9's set_key leaves AES-GCM's GHASH
 * key stale); on error *k is unchanged. Returns 0, RQ_ERR_INVALID_ARG (not initialised, bad
 * secret length) or RQ_ERR_CRYPTO. */
int rq_packet_key_rekey(rq_packet_key *k, const uint8_t *secret, size_t secret_len);

/* Frees the GnuTLS handle and wipes the key material. Safe on a zeroed object. */
void rq_packet_key_deinit(rq_packet_key *k);

/* Seals payload[0 .. len) in place with nonce = IV xor pn and associated data ad (the
 * header), and appends the tag: payload needs room for len + RQ_AEAD_TAG_LEN bytes, and cap
 * says how much there is from payload on. Counts the packet toward the key's
 * confidentiality limit. Returns 0, RQ_ERR_BUFFER_TOO_SMALL, RQ_ERR_AEAD_LIMIT_REACHED
 * (the key has sealed its limit: it must not be used again, §6.6) or RQ_ERR_CRYPTO. */
int rq_aead_seal(rq_packet_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len, uint8_t *payload,
                 size_t len, size_t cap);

/* Opens payload[0 .. len) (ciphertext then tag) in place; *plain_len = len - tag. Returns 0,
 * RQ_ERR_DECRYPT (authentication failed or len below the tag length: the plaintext bytes are
 * then unspecified, the tag bytes untouched) or RQ_ERR_CRYPTO. */
int rq_aead_open(rq_packet_key *k, uint64_t pn, const uint8_t *ad, size_t ad_len, uint8_t *payload,
                 size_t len, size_t *plain_len);

/* ---- header protection (hp.c) ---------------------------------------------------------- */

typedef struct rq_hp_key {
    gnutls_cipher_hd_t cipher; /* NULL when not initialised */
    rq_aead_alg alg;
} rq_hp_key;

/* Creates a header-protection key from a traffic secret: "quic hp" (RFC 9001 §5.1). Returns
 * 0, RQ_ERR_INVALID_ARG or RQ_ERR_CRYPTO; on error *hp is left deinitialised. */
int rq_hp_key_init(rq_hp_key *hp, rq_aead_alg alg, const uint8_t *secret, size_t secret_len);

/* Creates a header-protection key from a raw key of rq_aead_alg_key_len bytes. */
int rq_hp_key_init_raw(rq_hp_key *hp, rq_aead_alg alg, const uint8_t *key);

void rq_hp_key_deinit(rq_hp_key *hp);

/* Computes the 5-byte mask from a 16-byte sample (RFC 9001 §5.4.3 AES, §5.4.4 ChaCha20).
 * Returns 0 or RQ_ERR_CRYPTO. */
int rq_hp_mask(rq_hp_key *hp, const uint8_t sample[RQ_HP_SAMPLE_LEN], uint8_t mask[RQ_HP_MASK_LEN]);

/* ---- whole packets (protect.c) --------------------------------------------------------- */

/* Protects a packet in place. pkt[0 .. pkt_len) holds the unprotected header, whose packet
 * number (pn_len bytes, pn_len taken from the low two bits of pkt[0]) sits at pn_offset, and
 * the plaintext payload. A long header's Length field must already count the tag. The
 * payload is sealed under k with the full packet number pn, the tag appended, then header
 * protection applied with hp. *out_len = pkt_len + RQ_AEAD_TAG_LEN. cap is the room in pkt.
 * Returns 0, RQ_ERR_INVALID_ARG (header shorter than pn_offset + pn_len, or pn_len + payload
 * below 4 bytes: the sample would not fit, pad the payload, §5.4.2), RQ_ERR_BUFFER_TOO_SMALL,
 * RQ_ERR_AEAD_LIMIT_REACHED or RQ_ERR_CRYPTO. On error pkt may be partly sealed. */
int rq_packet_protect(rq_packet_key *k, rq_hp_key *hp, uint64_t pn, uint8_t *pkt, size_t pkt_len,
                      size_t pn_offset, size_t cap, size_t *out_len);

/* What header protection removal found. */
typedef struct rq_hp_result {
    uint8_t first_byte;    /* pkt[0] unmasked (key phase bit, reserved bits, pn length) */
    uint8_t pn_len;        /* 1..4 */
    uint64_t truncated_pn; /* the pn_len-byte packet number as sent */
    size_t hdr_len;        /* pn_offset + pn_len: where the protected payload starts */
} rq_hp_result;

/* Removes header protection in place from a received packet of pkt_len bytes (for a long
 * header: up to the end of its Length; for a short header: the rest of the datagram), the
 * packet number starting at pn_offset. Lets the caller read the key phase bit before it
 * chooses a packet key. Returns 0, RQ_ERR_MALFORMED_PACKET (fewer than pn_offset + 4 + 16
 * bytes, or fewer than hdr_len + tag: the packet is dropped; pkt is then untouched) or
 * RQ_ERR_CRYPTO. */
int rq_header_unprotect(rq_hp_key *hp, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                        rq_hp_result *res);

/* Opens the payload of a packet whose header protection is removed: pkt[0 .. hdr_len) is
 * the associated data, pkt[hdr_len .. pkt_len) ciphertext and tag; the plaintext is left at
 * pkt + hdr_len, *payload_len bytes. Returns 0, RQ_ERR_DECRYPT or RQ_ERR_CRYPTO. */
int rq_payload_open(rq_packet_key *k, uint8_t *pkt, size_t pkt_len, size_t hdr_len, uint64_t pn,
                    size_t *payload_len);

/* rq_header_unprotect, then packet number recovery (RFC 9000 §A.3) against largest_pn (the
 * largest packet number processed in this space, RQ_PN_NONE if none), then rq_payload_open.
 * On success *pn is the full packet number, the plaintext payload starts at pkt + *hdr_len
 * and is *payload_len bytes. Returns 0, RQ_ERR_MALFORMED_PACKET, RQ_ERR_DECRYPT (the caller
 * counts it toward the integrity limit: rq_aead_integrity_count) or RQ_ERR_CRYPTO. */
int rq_packet_unprotect(rq_packet_key *k, rq_hp_key *hp, uint8_t *pkt, size_t pkt_len,
                        size_t pn_offset, uint64_t largest_pn, uint64_t *pn, size_t *hdr_len,
                        size_t *payload_len);

/* ---- Retry integrity (retry.c) --------------------------------------------------------- */

typedef struct rq_retry_aead {
    gnutls_aead_cipher_hd_t aead;
} rq_retry_aead;

/* Sets up the fixed QUIC v1 Retry AEAD (RFC 9001 §5.8). 0 or RQ_ERR_CRYPTO. */
int rq_retry_aead_init(rq_retry_aead *r);
void rq_retry_aead_deinit(rq_retry_aead *r);

/* Computes the Retry Integrity Tag over the pseudo-packet: odcid length, odcid, then the
 * Retry packet retry[0 .. retry_len) without its tag. 0, RQ_ERR_INVALID_ARG (odcid->len above
 * 20) or RQ_ERR_CRYPTO. */
int rq_retry_tag_compute(rq_retry_aead *r, const rq_cid *odcid, const uint8_t *retry,
                         size_t retry_len, uint8_t tag[RQ_RETRY_TAG_LEN]);

/* Verifies a received Retry packet retry[0 .. retry_len) whose last 16 bytes are the tag.
 * Returns 0, RQ_ERR_DECRYPT (wrong tag; the packet is discarded, RFC 9000 §17.2.5.2),
 * RQ_ERR_MALFORMED_PACKET (shorter than the tag) or RQ_ERR_CRYPTO. */
int rq_retry_tag_verify(rq_retry_aead *r, const rq_cid *odcid, const uint8_t *retry,
                        size_t retry_len);

/* ---- key update (keyupdate.c) ---------------------------------------------------------- */

/* The next key phase's secret: HKDF-Expand-Label(secret, "quic ku", "", Hash.length) (RFC
 * 9001 §6.1). secret_len must be alg's hash length; next gets as many bytes. Returns 0,
 * RQ_ERR_INVALID_ARG or RQ_ERR_CRYPTO. */
int rq_key_update_secret(rq_aead_alg alg, const uint8_t *secret, size_t secret_len, uint8_t *next);

/* Creates *next as the key of the phase after cur (new GnuTLS handle). The header-protection
 * key is not involved: it stays as it is (§6.1). Returns 0, RQ_ERR_INVALID_ARG (cur has no
 * secret) or RQ_ERR_CRYPTO. */
int rq_packet_key_init_next(rq_packet_key *next, const rq_packet_key *cur);

/* Re-keys the initialised key dst to the phase after src (dst may be src: an in-place
 * update), through rq_packet_key_rekey. Same algorithm required. Returns 0,
 * RQ_ERR_INVALID_ARG or RQ_ERR_CRYPTO (dst then unchanged). */
int rq_packet_key_rekey_next(rq_packet_key *dst, const rq_packet_key *src);

/* ---- AEAD usage limits (limits.c) ------------------------------------------------------ */

/* RFC 9001 §6.6, for packets up to 2^16 bytes. UINT64_MAX means "no limit". */
#define RQ_AEAD_CONFIDENTIALITY_LIMIT_AES_GCM ((uint64_t)1 << 23)
#define RQ_AEAD_INTEGRITY_LIMIT_AES_GCM       ((uint64_t)1 << 52)
#define RQ_AEAD_INTEGRITY_LIMIT_CHACHA20      ((uint64_t)1 << 36)

/* Packets one key may seal (UINT64_MAX for ChaCha20-Poly1305). */
uint64_t rq_aead_confidentiality_limit(rq_aead_alg alg);

/* Failed decryptions one connection may see (§6.6). */
uint64_t rq_aead_integrity_limit(rq_aead_alg alg);

/* The sealed count at which a key update should be initiated: 7/8 of the confidentiality
 * limit (see limits.c for the margin), UINT64_MAX when there is no limit. */
uint64_t rq_aead_key_update_threshold(rq_aead_alg alg);

/* True once k has sealed rq_aead_key_update_threshold packets: initiate a key update now. */
bool rq_packet_key_should_update(const rq_packet_key *k);

/* Per-connection count of packets that failed authentication, across all keys. */
typedef struct rq_aead_integrity {
    uint64_t failures;
} rq_aead_integrity;

/* Counts one failed decryption under an alg key. Returns 0, or RQ_ERR_AEAD_LIMIT_REACHED
 * once the count exceeds the integrity limit: close the connection with AEAD_LIMIT_REACHED
 * and process no more packets. */
int rq_aead_integrity_count(rq_aead_integrity *c, rq_aead_alg alg);

#endif
