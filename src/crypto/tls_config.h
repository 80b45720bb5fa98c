/* Internal: the layout of rq_tls_config, shared by tls_config.c (which builds it) and tls.c
 * (whose sessions read it). Nothing outside src/crypto/tls*.c includes this. */
#ifndef RQ_CRYPTO_TLS_CONFIG_H
#define RQ_CRYPTO_TLS_CONFIG_H

#include "crypto/tls.h"

#include <gnutls/gnutls.h>

/* Longest priority string tls_config.c builds (a fixed prefix plus three cipher names). */
#define RQ_TLS_PRIORITY_MAX 192

struct rq_tls_config {
    rq_role role;
    gnutls_certificate_credentials_t cred; /* certificate (server) or trust (client) */
    bool has_cert;                         /* server: a certificate and key are loaded */
    bool has_trust;                        /* client: at least one CA is trusted */
    bool insecure;                         /* client: no verification at all */
    char priority[RQ_TLS_PRIORITY_MAX];
    gnutls_datum_t alpn[RQ_TLS_MAX_ALPN_COUNT]; /* data owned (rq_mem_alloc) */
    unsigned alpn_count;
    rq_tls_keylog_fn keylog;
    void *keylog_ctx;
};

#endif
