/* rq_tls_config: what every connection of an endpoint shares — ALPN list, credentials, trust,
 * cipher suites and key-log sink (RFC 9001 §4, §8.1). Files are read here, once, when the
 * configuration is built; nothing here runs on the packet path. */
#define _POSIX_C_SOURCE 200809L /* inet_pton */

#include "crypto/tls_config.h"

#include "core/alloc.h"

#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <roamquic/error.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* RFC 9001 §8.4: the middlebox compatibility mode must not be used, so it is disabled here.
 * TLS 1.3 only (RFC 9001 §4.2: QUIC needs TLS 1.3 or later). AES-128-GCM is listed first
 * (fastest here); CCM suites are left out because packet protection does not implement
 * them. */
static const char priority_prefix[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL";
static const char priority_suffix[] = ":%DISABLE_TLS13_COMPAT_MODE";

/* Fills cfg->priority for the suites in mask, in the fixed preference order. */
static void build_priority(rq_tls_config *cfg, unsigned mask)
{
    static const struct {
        rq_aead_alg alg;
        const char *name;
    } suites[] = {
        {RQ_AEAD_AES_128_GCM, ":+AES-128-GCM"},
        {RQ_AEAD_AES_256_GCM, ":+AES-256-GCM"},
        {RQ_AEAD_CHACHA20_POLY1305, ":+CHACHA20-POLY1305"},
    };
    size_t n = 0;
    n += (size_t)snprintf(cfg->priority + n, sizeof cfg->priority - n, "%s", priority_prefix);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (mask & RQ_TLS_CIPHER(suites[i].alg))
            n +=
                (size_t)snprintf(cfg->priority + n, sizeof cfg->priority - n, "%s", suites[i].name);
    snprintf(cfg->priority + n, sizeof cfg->priority - n, "%s", priority_suffix);
}

int rq_tls_config_new(rq_role role, rq_tls_config **out)
{
    if (!out || (role != RQ_ROLE_CLIENT && role != RQ_ROLE_SERVER))
        return RQ_ERR_INVALID_ARG;
    *out = NULL;
    rq_tls_config *cfg = rq_mem_calloc(1, sizeof *cfg);
    if (!cfg)
        return RQ_ERR_NOMEM;
    cfg->role = role;
    if (gnutls_certificate_allocate_credentials(&cfg->cred) < 0) {
        rq_mem_free(cfg);
        return RQ_ERR_CRYPTO;
    }
    build_priority(cfg, RQ_TLS_CIPHERS_ALL);
    *out = cfg;
    return RQ_OK;
}

static void free_alpn(rq_tls_config *cfg)
{
    for (unsigned i = 0; i < cfg->alpn_count; i++)
        rq_mem_free(cfg->alpn[i].data);
    cfg->alpn_count = 0;
}

void rq_tls_config_free(rq_tls_config *cfg)
{
    if (!cfg)
        return;
    free_alpn(cfg);
    gnutls_certificate_free_credentials(cfg->cred);
    rq_mem_free(cfg);
}

int rq_tls_config_set_alpn(rq_tls_config *cfg, const char *const *protos, size_t count)
{
    if (!cfg || count > RQ_TLS_MAX_ALPN_COUNT || (count && !protos))
        return RQ_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++) {
        size_t len = protos[i] ? strlen(protos[i]) : 0;
        /* RFC 7301 §3.1: a protocol name is 1 to 255 bytes. */
        if (len == 0 || len > RQ_TLS_MAX_ALPN_LEN)
            return RQ_ERR_INVALID_ARG;
    }
    free_alpn(cfg);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(protos[i]);
        uint8_t *copy = rq_mem_alloc(len);
        if (!copy) {
            free_alpn(cfg);
            return RQ_ERR_NOMEM;
        }
        memcpy(copy, protos[i], len);
        cfg->alpn[i].data = copy;
        cfg->alpn[i].size = (unsigned)len;
        cfg->alpn_count = (unsigned)i + 1;
    }
    return RQ_OK;
}

/* Reads a whole file through GnuTLS (the caller frees data with gnutls_free). */
static int load_file(const char *path, gnutls_datum_t *data)
{
    if (!path)
        return RQ_ERR_INVALID_ARG;
    return gnutls_load_file(path, data) < 0 ? RQ_ERR_IO : RQ_OK;
}

/* GnuTLS 3.7.9 accepts a key that belongs to another certificate (every handshake would
 * then fail at the peer); compare the public-key ids of the leaf and the key instead, so a
 * wrong pair is an error when the configuration is built. */
static int check_key_matches(const gnutls_datum_t *cert_pem, const gnutls_datum_t *key_pem)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_x509_privkey_t key = NULL;
    uint8_t crt_id[64], key_id[64];
    size_t crt_len = sizeof crt_id, key_len = sizeof key_id;
    int rc = RQ_ERR_CERTIFICATE;
    if (gnutls_x509_crt_init(&crt) < 0)
        return RQ_ERR_CRYPTO;
    if (gnutls_x509_privkey_init(&key) < 0)
        goto out;
    /* gnutls_x509_crt_import reads the first certificate of a PEM chain: the leaf. */
    if (gnutls_x509_crt_import(crt, cert_pem, GNUTLS_X509_FMT_PEM) < 0 ||
        gnutls_x509_privkey_import2(key, key_pem, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
        gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_len) < 0 ||
        gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, key_id, &key_len) < 0)
        goto out;
    if (crt_len == key_len && memcmp(crt_id, key_id, crt_len) == 0)
        rc = RQ_OK;
out:
    if (key)
        gnutls_x509_privkey_deinit(key);
    gnutls_x509_crt_deinit(crt);
    return rc;
}

int rq_tls_config_load_cert_files(rq_tls_config *cfg, const char *cert_pem_path,
                                  const char *key_pem_path)
{
    if (!cfg || cfg->role != RQ_ROLE_SERVER || cfg->has_cert)
        return RQ_ERR_INVALID_ARG;
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    int rc = load_file(cert_pem_path, &cert);
    if (rc == RQ_OK)
        rc = load_file(key_pem_path, &key);
    if (rc == RQ_OK)
        rc = check_key_matches(&cert, &key);
    if (rc == RQ_OK) {
        int g = gnutls_certificate_set_x509_key_mem2(cfg->cred, &cert, &key, GNUTLS_X509_FMT_PEM,
                                                     NULL, 0);
        rc = g < 0 ? RQ_ERR_CERTIFICATE : RQ_OK;
    }
    if (key.data) {
        gnutls_memset(key.data, 0, key.size);
        gnutls_free(key.data);
    }
    gnutls_free(cert.data);
    if (rc == RQ_OK)
        cfg->has_cert = true;
    return rc;
}

/* Puts host in the certificate: CN and a DNS SAN, plus an IP SAN when it is an IP literal
 * (clients verifying against an address look for an IP SAN, RFC 6125 §1.7.2). */
static int ephemeral_names(gnutls_x509_crt_t crt, const char *host)
{
    uint8_t ip[16];
    size_t hlen = strlen(host);
    if (gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host, (unsigned)hlen) <
        0)
        return RQ_ERR_CRYPTO;
    if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host, (unsigned)hlen,
                                             GNUTLS_FSAN_APPEND) < 0)
        return RQ_ERR_CRYPTO;
    unsigned iplen = inet_pton(AF_INET, host, ip) == 1    ? 4
                     : inet_pton(AF_INET6, host, ip) == 1 ? 16
                                                          : 0;
    if (iplen && gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, iplen,
                                                      GNUTLS_FSAN_APPEND) < 0)
        return RQ_ERR_CRYPTO;
    return RQ_OK;
}

/* Fills in and self-signs crt with key. */
static int ephemeral_sign(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *host)
{
    uint8_t serial[16];
    /* A fixed start (2020-01-01) and the "no expiry" date 99991231235959Z: no clock read. */
    const time_t not_before = (time_t)1577836800;
    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) < 0)
        return RQ_ERR_CRYPTO;
    serial[0] &= 0x7f; /* a positive INTEGER */
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof serial) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, not_before) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, (time_t)-1) < 0 ||
        gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
        return RQ_ERR_CRYPTO;
    int rc = ephemeral_names(crt, host);
    if (rc != RQ_OK)
        return rc;
    return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA512, 0) < 0 ? RQ_ERR_CRYPTO : RQ_OK;
}

int rq_tls_config_make_ephemeral_cert(rq_tls_config *cfg, const char *host)
{
    if (!cfg || cfg->role != RQ_ROLE_SERVER || cfg->has_cert || !host || !*host)
        return RQ_ERR_INVALID_ARG;
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    int rc = RQ_ERR_CRYPTO;
    if (gnutls_x509_privkey_init(&key) < 0)
        return RQ_ERR_CRYPTO;
    if (gnutls_x509_crt_init(&crt) < 0)
        goto out;
    /* Ed25519: fixed-size signatures keep handshake sizes identical from run to run. */
    if (gnutls_x509_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 256, 0) < 0)
        goto out;
    rc = ephemeral_sign(crt, key, host);
    if (rc != RQ_OK)
        goto out;
    /* The credentials copy both: ours are freed below. */
    rc = gnutls_certificate_set_x509_key(cfg->cred, &crt, 1, key) < 0 ? RQ_ERR_CRYPTO : RQ_OK;
    if (rc == RQ_OK)
        cfg->has_cert = true;
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

int rq_tls_config_trust_system(rq_tls_config *cfg)
{
    if (!cfg || cfg->role != RQ_ROLE_CLIENT)
        return RQ_ERR_INVALID_ARG;
    /* Returns the number of CAs added: none is as unusable as an error. */
    if (gnutls_certificate_set_x509_system_trust(cfg->cred) <= 0)
        return RQ_ERR_CERTIFICATE;
    cfg->has_trust = true;
    return RQ_OK;
}

int rq_tls_config_trust_ca_file(rq_tls_config *cfg, const char *ca_pem_path)
{
    if (!cfg || cfg->role != RQ_ROLE_CLIENT)
        return RQ_ERR_INVALID_ARG;
    gnutls_datum_t ca = {NULL, 0};
    int rc = load_file(ca_pem_path, &ca);
    if (rc != RQ_OK)
        return rc;
    int n = gnutls_certificate_set_x509_trust_mem(cfg->cred, &ca, GNUTLS_X509_FMT_PEM);
    gnutls_free(ca.data);
    if (n <= 0)
        return RQ_ERR_CERTIFICATE;
    cfg->has_trust = true;
    return RQ_OK;
}

int rq_tls_config_set_insecure(rq_tls_config *cfg, bool insecure)
{
    if (!cfg || cfg->role != RQ_ROLE_CLIENT)
        return RQ_ERR_INVALID_ARG;
    cfg->insecure = insecure;
    return RQ_OK;
}

int rq_tls_config_set_ciphers(rq_tls_config *cfg, unsigned mask)
{
    if (!cfg || mask == 0 || (mask & ~(unsigned)RQ_TLS_CIPHERS_ALL))
        return RQ_ERR_INVALID_ARG;
    build_priority(cfg, mask);
    return RQ_OK;
}

void rq_tls_config_set_keylog(rq_tls_config *cfg, rq_tls_keylog_fn fn, void *ctx)
{
    if (!cfg)
        return;
    cfg->keylog = fn;
    cfg->keylog_ctx = fn ? ctx : NULL;
}
