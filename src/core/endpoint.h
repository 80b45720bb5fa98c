/* The endpoint behind include/roamquic/endpoint.h: its connections, the table that routes
 * datagrams to them by connection ID (RFC 9000 §5.2), the stateless replies it sends on its
 * own (Version Negotiation, Retry, Stateless Reset) and the event queue. */
#ifndef RQ_CORE_ENDPOINT_H
#define RQ_CORE_ENDPOINT_H

#include "core/cidmap.h"
#include "core/config.h"
#include "crypto/crypto.h"
#include "crypto/seal.h"

#include <roamquic/endpoint.h>

/* Stateless replies waiting to be sent; more are dropped (they are best effort). */
#define RQ_EP_STATELESS_MAX 16
/* Connections one endpoint holds at most (a bound on what unauthenticated clients cause). */
#define RQ_EP_MAX_CONNS 4096
/* Retry tokens live this long (RFC 9000 §8.1.2: short-lived). */
#define RQ_RETRY_TOKEN_LIFETIME_MS 10000

typedef struct rq_stateless {
    rq_path_addr path;
    size_t len;
    uint8_t data[1200];
} rq_stateless;

struct rq_endpoint {
    const rq_config *cfg;
    rq_random_fn rnd;
    void *rnd_ctx;
    rq_cidmap cids;
    rq_conn *conns;
    size_t nconns;
    rq_conn *send_cursor;

    rq_event *events; /* ring */
    size_t ev_head, ev_count, ev_cap;
    rq_conn *closed_polled; /* freed on the next call */

    rq_stateless stateless[RQ_EP_STATELESS_MAX];
    size_t nstateless;

    uint8_t reset_key[32];
    rq_seal_key token_key;
    rq_retry_aead retry_aead;
    uint8_t scratch[65536]; /* a datagram being decrypted in place */
};

/* Fills buf with random bytes from the endpoint's source. 0 or RQ_ERR_CRYPTO. */
int rq_ep_random(rq_endpoint *ep, void *buf, size_t len);

/* A fresh random connection ID of len bytes not in use by any connection of the endpoint. */
int rq_ep_new_cid(rq_endpoint *ep, size_t len, rq_cid *out);

/* Queues an event for the application. Returns 0 or RQ_ERR_NOMEM. */
int rq_ep_push_event(rq_endpoint *ep, const rq_event *ev);

#endif
