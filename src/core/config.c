/* Endpoint configuration: transport settings and the TLS configuration. */
#include "core/config.h"

#include "core/alloc.h"

#include <string.h>

void rq_transport_defaults(rq_transport_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_idle_timeout_ms = 30000;
    s->initial_max_data = 1u << 20;
    s->initial_max_stream_data = 256u << 10;
    s->max_stream_window = 8u << 20;
    s->max_connection_window = 16u << 20;
    s->initial_max_streams_bidi = 100;
    s->initial_max_streams_uni = 100;
    s->ack_delay_exponent = 3;
    s->max_ack_delay_ms = 25;
    s->active_connection_id_limit = 4;
    s->max_udp_payload_size = 1472;
    s->local_cid_len = 8;
    s->handshake_timeout_ms = 10000;
}

rq_config *rq_config_new(rq_role role)
{
    if (role != RQ_ROLE_CLIENT && role != RQ_ROLE_SERVER)
        return NULL;
    rq_config *cfg = rq_mem_calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->role = role;
    rq_transport_defaults(&cfg->transport);
    if (rq_tls_config_new(role, &cfg->tls) != 0) {
        rq_mem_free(cfg);
        return NULL;
    }
    return cfg;
}

void rq_config_free(rq_config *cfg)
{
    if (!cfg)
        return;
    rq_tls_config_free(cfg->tls);
    memset(cfg->reset_key, 0, sizeof cfg->reset_key);
    memset(cfg->token_key, 0, sizeof cfg->token_key);
    rq_mem_free(cfg);
}

int rq_config_set_transport(rq_config *cfg, const rq_transport_settings *s)
{
    /* RFC 9000 §18.2: the ranges each advertised parameter must respect. */
    if (s->ack_delay_exponent > 20 || s->max_ack_delay_ms >= (1u << 14) ||
        s->active_connection_id_limit < 2 || s->max_udp_payload_size < 1200 ||
        s->max_udp_payload_size > 65527 || s->local_cid_len > 20 ||
        s->initial_max_streams_bidi > ((uint64_t)1 << 60) ||
        s->initial_max_streams_uni > ((uint64_t)1 << 60) ||
        s->initial_max_data > s->max_connection_window ||
        s->initial_max_stream_data > s->max_stream_window)
        return RQ_ERR_INVALID_ARG;
    /* A server needs CIDs to route and to reset (RFC 9000 §5.1, §10.3.2). */
    if (cfg->role == RQ_ROLE_SERVER && s->local_cid_len == 0)
        return RQ_ERR_INVALID_ARG;
    cfg->transport = *s;
    return 0;
}

int rq_config_set_alpn(rq_config *cfg, const char *const *protos, size_t count)
{
    return rq_tls_config_set_alpn(cfg->tls, protos, count);
}

int rq_config_load_cert_files(rq_config *cfg, const char *cert_pem, const char *key_pem)
{
    return rq_tls_config_load_cert_files(cfg->tls, cert_pem, key_pem);
}

int rq_config_make_ephemeral_cert(rq_config *cfg, const char *host)
{
    return rq_tls_config_make_ephemeral_cert(cfg->tls, host);
}

int rq_config_trust_system(rq_config *cfg)
{
    return rq_tls_config_trust_system(cfg->tls);
}

int rq_config_trust_ca_file(rq_config *cfg, const char *ca_pem)
{
    return rq_tls_config_trust_ca_file(cfg->tls, ca_pem);
}

int rq_config_set_insecure(rq_config *cfg, bool insecure)
{
    return rq_tls_config_set_insecure(cfg->tls, insecure);
}

int rq_config_set_ciphers(rq_config *cfg, unsigned mask)
{
    unsigned m = 0;
    if (mask & ~(RQ_CIPHER_AES_128_GCM | RQ_CIPHER_AES_256_GCM | RQ_CIPHER_CHACHA20_POLY1305))
        return RQ_ERR_INVALID_ARG;
    if (mask & RQ_CIPHER_AES_128_GCM)
        m |= RQ_TLS_CIPHER(RQ_AEAD_AES_128_GCM);
    if (mask & RQ_CIPHER_AES_256_GCM)
        m |= RQ_TLS_CIPHER(RQ_AEAD_AES_256_GCM);
    if (mask & RQ_CIPHER_CHACHA20_POLY1305)
        m |= RQ_TLS_CIPHER(RQ_AEAD_CHACHA20_POLY1305);
    return rq_tls_config_set_ciphers(cfg->tls, m);
}

void rq_config_set_keylog(rq_config *cfg, rq_keylog_fn fn, void *ctx)
{
    rq_tls_config_set_keylog(cfg->tls, fn, ctx);
}

int rq_config_set_static_keys(rq_config *cfg, const uint8_t reset_key[32],
                              const uint8_t token_key[32])
{
    if (!reset_key || !token_key)
        return RQ_ERR_INVALID_ARG;
    memcpy(cfg->reset_key, reset_key, 32);
    memcpy(cfg->token_key, token_key, 32);
    cfg->have_static_keys = true;
    return 0;
}

void rq_config_set_qlog(rq_config *cfg, const rq_qlog_callbacks *cb)
{
    cfg->have_qlog = cb && cb->open && cb->write;
    if (cfg->have_qlog)
        cfg->qlog = *cb;
}

void rq_config_set_log(rq_config *cfg, rq_log_fn fn, void *ctx)
{
    cfg->log = fn;
    cfg->log_ctx = ctx;
}

int rq_config_set_preferred_address(rq_config *cfg, const rq_addr *v4, const rq_addr *v6)
{
    if (cfg->role != RQ_ROLE_SERVER || (!v4 && !v6) || (v4 && v4->family != RQ_AF_INET4) ||
        (v6 && v6->family != RQ_AF_INET6) || cfg->transport.local_cid_len == 0)
        return RQ_ERR_INVALID_ARG;
    cfg->have_pref_v4 = v4 != NULL;
    cfg->have_pref_v6 = v6 != NULL;
    if (v4)
        cfg->pref_v4 = *v4;
    if (v6)
        cfg->pref_v6 = *v6;
    return 0;
}

void rq_config_follow_preferred_address(rq_config *cfg, bool follow, rq_family prefer)
{
    cfg->ignore_preferred = !follow;
    cfg->prefer_family = prefer;
}

void rq_config_set_retry(rq_config *cfg, bool retry)
{
    cfg->retry = retry;
}
