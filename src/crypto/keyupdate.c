/* Key update: the next key phase's secret and packet key (RFC 9001 §6). */
#include "crypto/crypto.h"

#include <roamquic/error.h>
#include <string.h>

/* rq_key_update_secret: RFC 9001 §6.1: secret_<n+1> = HKDF-Expand-Label(secret_<n>,
 * "quic ku", "", Hash.length), with the cipher suite's hash. next is caller-owned. */
int rq_key_update_secret(rq_aead_alg alg, const uint8_t *secret, size_t secret_len, uint8_t *next)
{
    size_t n = rq_aead_alg_secret_len(alg);
    if (n == 0 || secret_len != n)
        return RQ_ERR_INVALID_ARG;
    return rq_hkdf_expand_label(rq_aead_alg_hash(alg), secret, secret_len, "quic ku", next, n);
}

/* rq_packet_key_init_next: a fresh key object for the phase after cur. RFC 9001 §6.1: only
 * the packet protection key and IV change; the header protection key is not updated, so no
 * rq_hp_key is touched here. */
int rq_packet_key_init_next(rq_packet_key *next, const rq_packet_key *cur)
{
    if (cur->secret_len == 0) {
        memset(next, 0, sizeof *next);
        return RQ_ERR_INVALID_ARG;
    }
    uint8_t s[RQ_MAX_SECRET_LEN];
    int rc = rq_key_update_secret(cur->alg, cur->secret, cur->secret_len, s);
    if (rc == 0)
        rc = rq_packet_key_init(next, cur->alg, s, cur->secret_len);
    else
        memset(next, 0, sizeof *next);
    gnutls_memset(s, 0, sizeof s);
    return rc;
}

/* rq_packet_key_rekey_next: re-keys dst's existing GnuTLS handle to the phase after src
 * (dst == src allowed). No allocation: the connection can rotate three key slots (previous,
 * current, next; RFC 9001 §6.3, §6.5) and recycle the discarded one as the new next. */
int rq_packet_key_rekey_next(rq_packet_key *dst, const rq_packet_key *src)
{
    if (src->secret_len == 0 || dst->aead == NULL || dst->alg != src->alg)
        return RQ_ERR_INVALID_ARG;
    uint8_t s[RQ_MAX_SECRET_LEN];
    size_t n = src->secret_len;
    int rc = rq_key_update_secret(src->alg, src->secret, n, s);
    if (rc == 0)
        rc = rq_packet_key_rekey(dst, s, n);
    gnutls_memset(s, 0, sizeof s);
    return rc;
}
