/* The configuration object behind include/roamquic/config.h. */
#ifndef RQ_CORE_CONFIG_H
#define RQ_CORE_CONFIG_H

#include "crypto/tls.h"

#include <roamquic/config.h>

struct rq_config {
    rq_role role;
    rq_transport_settings transport;
    rq_tls_config *tls;
    bool retry;
    bool have_pref_v4, have_pref_v6;
    rq_addr pref_v4, pref_v6;
    bool ignore_preferred;   /* client: do not follow a preferred address */
    rq_family prefer_family; /* client: the family to try first */
    rq_log_fn log;
    void *log_ctx;
    bool have_qlog;
    rq_qlog_callbacks qlog;
    bool have_static_keys;
    uint8_t reset_key[32];
    uint8_t token_key[32];
};

#endif
