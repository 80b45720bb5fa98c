/* HKDF-Extract and TLS 1.3 HKDF-Expand-Label over GnuTLS (RFC 5869, RFC 8446 §7.1). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* RFC 8446 §7.1: the HkdfLabel label is "tls13 " + label, at most 255 bytes in all. */
#define TLS13_PREFIX     "tls13 "
#define TLS13_PREFIX_LEN 6
#define MAX_LABEL_LEN    (255 - TLS13_PREFIX_LEN)

/* rq_hkdf_extract: HKDF-Extract(salt, ikm) into prk (hash length bytes). The inputs are only
 * read; prk is caller-owned. Errors: RQ_ERR_CRYPTO when GnuTLS refuses. */
int rq_hkdf_extract(gnutls_mac_algorithm_t mac, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
    /* GnuTLS takes non-const datums but only reads them. */
    gnutls_datum_t key = {(unsigned char *)(uintptr_t)ikm, (unsigned)ikm_len};
    gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, (unsigned)salt_len};
    return gnutls_hkdf_extract(mac, &key, &s, prk) < 0 ? RQ_ERR_CRYPTO : RQ_OK;
}

/* rq_hkdf_expand_label: HKDF-Expand(secret, HkdfLabel, out_len) where HkdfLabel is built by
 * hand (GnuTLS 3.7 has no public Expand-Label):
 *   uint16 length = out_len; opaque label<7..255> = "tls13 " + label; opaque context<0..255>
 * with an empty context, as RFC 9001 §5.1 uses it. Errors: RQ_ERR_INVALID_ARG for a label
 * over 249 bytes or an output longer than HKDF allows (255 hash lengths), RQ_ERR_CRYPTO. */
int rq_hkdf_expand_label(gnutls_mac_algorithm_t mac, const uint8_t *secret, size_t secret_len,
                         const char *label, uint8_t *out, size_t out_len)
{
    size_t label_len = strlen(label);
    size_t hash_len = gnutls_hmac_get_len(mac);
    if (label_len > MAX_LABEL_LEN || hash_len == 0 || out_len == 0 || out_len > 255 * hash_len)
        return RQ_ERR_INVALID_ARG;

    uint8_t info[2 + 1 + 255 + 1];
    size_t n = 0;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(TLS13_PREFIX_LEN + label_len);
    memcpy(info + n, TLS13_PREFIX, TLS13_PREFIX_LEN);
    n += TLS13_PREFIX_LEN;
    memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = 0; /* empty context */

    gnutls_datum_t key = {(unsigned char *)(uintptr_t)secret, (unsigned)secret_len};
    gnutls_datum_t inf = {info, (unsigned)n};
    return gnutls_hkdf_expand(mac, &key, &inf, out, out_len) < 0 ? RQ_ERR_CRYPTO : RQ_OK;
}
