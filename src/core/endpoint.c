/* The endpoint: routing datagrams to connections by connection ID (RFC 9000 §5.2), creating
 * server connections from Initial packets (§7, §14.1), stateless replies — Version
 * Negotiation (§6), Retry (§8.1.2, §17.2.5), Stateless Reset (§10.3) — and the event queue. */
#include "core/endpoint.h"

#include "core/alloc.h"
#include "core/conn.h"
#include "core/packet.h"
#include "core/reset.h"
#include "core/token.h"
#include "crypto/reset_token.h"

#include <gnutls/crypto.h>
#include <string.h>

/* The DCID a client picks for its first Initial (RFC 9000 §7.2: at least 8 bytes). */
#define CLIENT_FIRST_DCID_LEN 16
#define EVENTS_MAX            ((size_t)1 << 20)

static int default_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    return gnutls_rnd(GNUTLS_RND_RANDOM, buf, len) < 0 ? -1 : 0;
}

int rq_ep_random(rq_endpoint *ep, void *buf, size_t len)
{
    return ep->rnd(ep->rnd_ctx, buf, len) == 0 ? 0 : RQ_ERR_CRYPTO;
}

int rq_ep_new_cid(rq_endpoint *ep, size_t len, rq_cid *out)
{
    out->len = (uint8_t)len;
    for (int tries = 0; tries < 16; tries++) {
        if (rq_ep_random(ep, out->data, len) != 0)
            return RQ_ERR_CRYPTO;
        if (len == 0 || !rq_cidmap_find(&ep->cids, out->data, len))
            return 0;
    }
    return RQ_ERR_INTERNAL;
}

static bool same_pending(const rq_endpoint *ep, const rq_event *ev)
{
    if (ev->type != RQ_EV_STREAM_READABLE && ev->type != RQ_EV_STREAM_WRITABLE)
        return false;
    for (size_t i = 0; i < ep->ev_count; i++) {
        const rq_event *e = &ep->events[(ep->ev_head + i) % ep->ev_cap];
        if (e->type == ev->type && e->conn == ev->conn && e->stream_id == ev->stream_id)
            return true;
    }
    return false;
}

int rq_ep_push_event(rq_endpoint *ep, const rq_event *ev)
{
    /* A readable/writable notice already waiting says the same thing. */
    if (same_pending(ep, ev))
        return 0;
    if (ep->ev_count == ep->ev_cap) {
        size_t cap = ep->ev_cap ? ep->ev_cap * 2 : 64;
        if (cap > EVENTS_MAX)
            return RQ_ERR_LIMIT;
        rq_event *ring = rq_mem_alloc(cap * sizeof *ring);
        if (!ring)
            return RQ_ERR_NOMEM;
        for (size_t i = 0; i < ep->ev_count; i++)
            ring[i] = ep->events[(ep->ev_head + i) % ep->ev_cap];
        rq_mem_free(ep->events);
        ep->events = ring;
        ep->ev_cap = cap;
        ep->ev_head = 0;
    }
    ep->events[(ep->ev_head + ep->ev_count) % ep->ev_cap] = *ev;
    ep->ev_count++;
    return 0;
}

rq_endpoint *rq_endpoint_new(const rq_config *cfg, rq_random_fn rnd, void *rnd_ctx, int *err)
{
    int rc = RQ_ERR_NOMEM;
    rq_endpoint *ep = cfg ? rq_mem_calloc(1, sizeof *ep) : NULL;
    if (!ep) {
        if (err)
            *err = cfg ? RQ_ERR_NOMEM : RQ_ERR_INVALID_ARG;
        return NULL;
    }
    ep->cfg = cfg;
    ep->rnd = rnd ? rnd : default_random;
    ep->rnd_ctx = rnd_ctx;
    uint8_t sipkey[RQ_SIPHASH_KEY_LEN], token_key[32];
    rc = rq_ep_random(ep, sipkey, sizeof sipkey);
    if (!rc && cfg->have_static_keys) {
        memcpy(ep->reset_key, cfg->reset_key, 32);
        memcpy(token_key, cfg->token_key, 32);
    } else if (!rc) {
        /* Without configured keys, resets and tokens do not survive this endpoint. */
        rc = rq_ep_random(ep, ep->reset_key, 32);
        if (!rc)
            rc = rq_ep_random(ep, token_key, 32);
        if (!rc && cfg->role == RQ_ROLE_SERVER && cfg->log)
            cfg->log(cfg->log_ctx, "roamquic: no static keys configured: generated random ones; "
                                   "stateless resets and address tokens will not survive a "
                                   "restart (rq_config_set_static_keys)");
    }
    if (!rc)
        rc = rq_seal_key_init(&ep->token_key, token_key);
    if (!rc)
        rc = rq_retry_aead_init(&ep->retry_aead);
    memset(token_key, 0, sizeof token_key);
    if (rc) {
        rq_endpoint_free(ep);
        if (err)
            *err = rc;
        return NULL;
    }
    /* Each connection maps its own CID and, briefly, the client's first DCID. */
    rq_cidmap_init(&ep->cids, sipkey, 2 * RQ_EP_MAX_CONNS);
    if (err)
        *err = 0;
    return ep;
}

static void unlink_conn(rq_endpoint *ep, rq_conn *c)
{
    for (rq_conn **pp = &ep->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (ep->send_cursor == c)
        ep->send_cursor = c->next;
    /* Every CID the connection issued is routed to it (RFC 9000 §5.1.1); the handshake SCID
     * is local[0] until the peer retires it, and its route goes then. */
    for (size_t i = 0; i < c->cids.nlocal; i++)
        if (c->cids.local[i].cid.len)
            rq_cidmap_remove(&ep->cids, &c->cids.local[i].cid);
    if (c->odcid_routed)
        rq_cidmap_remove(&ep->cids, &c->routed_odcid);
    rq_conn_linger_expire(c, RQ_TIME_NEVER);
    ep->nconns--;
}

void rq_endpoint_free(rq_endpoint *ep)
{
    if (!ep)
        return;
    while (ep->conns) {
        rq_conn *c = ep->conns;
        unlink_conn(ep, c);
        rq_conn_free(c);
    }
    rq_cidmap_free(&ep->cids);
    rq_seal_key_deinit(&ep->token_key);
    rq_retry_aead_deinit(&ep->retry_aead);
    memset(ep->reset_key, 0, sizeof ep->reset_key);
    rq_mem_free(ep->events);
    rq_mem_free(ep);
}

/* Frees the connections whose RQ_EV_CLOSED the application has seen. */
static void reclaim(rq_endpoint *ep)
{
    for (rq_conn *c = ep->conns, *next; c; c = next) {
        next = c->next;
        if (c->reclaim) {
            unlink_conn(ep, c);
            rq_conn_free(c);
        }
    }
}

static int add_conn(rq_endpoint *ep, rq_conn *c)
{
    /* The handshake CID and the preferred address's (RFC 9000 §9.6). */
    for (size_t i = 0; i < c->cids.nlocal; i++) {
        const rq_cid *cid = &c->cids.local[i].cid;
        int rc = cid->len ? rq_cidmap_insert(&ep->cids, cid, c) : 0;
        if (rc) {
            while (i-- > 0)
                rq_cidmap_remove(&ep->cids, &c->cids.local[i].cid);
            return rc;
        }
    }
    c->next = ep->conns;
    ep->conns = c;
    ep->nconns++;
    return 0;
}

/* The connection with zero-length CIDs that datagrams to `local` belong to (RFC 9000 §5.2: the
 * local address decides); an unspecified address on either side matches. */
static rq_conn *zero_cid_conn_at(rq_endpoint *ep, const rq_addr *local)
{
    for (rq_conn *c = ep->conns; c; c = c->next) {
        const rq_addr *mine = &c->paths[c->active_path].addr.local;
        if (c->scid.len == 0 &&
            (local->family == RQ_AF_NONE || mine->family == RQ_AF_NONE || rq_addr_eq(mine, local)))
            return c;
    }
    return NULL;
}

int rq_connect(rq_endpoint *ep, rq_time now, const rq_path_addr *path, const char *sni,
               rq_conn **conn)
{
    if (!ep || !path || !sni || !conn || ep->cfg->role != RQ_ROLE_CLIENT)
        return RQ_ERR_INVALID_ARG;
    reclaim(ep);
    if (ep->nconns >= RQ_EP_MAX_CONNS)
        return RQ_ERR_LIMIT;
    /* RFC 9000 §5.1 (MIG-5.1-03): with zero-length CIDs only the local address tells the
     * connections apart, so two of them may not share one. */
    if (ep->cfg->transport.local_cid_len == 0 && zero_cid_conn_at(ep, &path->local))
        return RQ_ERR_INVALID_ARG;
    rq_conn_params p = {.sni = sni};
    int rc = rq_ep_new_cid(ep, ep->cfg->transport.local_cid_len, &p.scid);
    if (!rc)
        rc = rq_ep_new_cid(ep, CLIENT_FIRST_DCID_LEN, &p.dcid);
    rq_conn *c = NULL;
    if (!rc)
        rc = rq_conn_new(ep, RQ_ROLE_CLIENT, now, path, &p, &c);
    if (!rc) {
        rc = add_conn(ep, c);
        if (rc)
            rq_conn_free(c);
    }
    if (!rc)
        *conn = c;
    return rc;
}

static rq_stateless *queue_stateless(rq_endpoint *ep, const rq_path_addr *in_path)
{
    if (ep->nstateless >= RQ_EP_STATELESS_MAX)
        return NULL; /* best effort: a flood of triggers gets no more replies */
    rq_stateless *s = &ep->stateless[ep->nstateless];
    s->path.local = in_path->local;
    s->path.remote = in_path->remote;
    return s;
}

/* RFC 9000 §6.1: an Initial-sized datagram of an unknown version gets Version Negotiation. */
static void send_version_negotiation(rq_endpoint *ep, const rq_datagram *dg, const rq_pkt_hdr *h)
{
    rq_stateless *s;
    uint8_t unused;
    if (ep->cfg->role != RQ_ROLE_SERVER || dg->len < RQ_MIN_INITIAL_DATAGRAM ||
        !(s = queue_stateless(ep, &dg->path)) || rq_ep_random(ep, &unused, 1) != 0)
        return;
    /* §6.3: a reserved version (0x?a?a?a?a) in the list exercises the client's handling. */
    const uint32_t versions[] = {RQ_VERSION_1, 0x1a2a3a4au};
    rq_wr w = rq_wr_init(s->data, sizeof s->data);
    if (rq_pkt_write_version_negotiation(&w, h, unused, versions, 2) != 0)
        return;
    s->len = (size_t)(w.p - s->data);
    ep->nstateless++;
}

/* RFC 9000 §10.3: a short-header packet for a connection we do not have gets a Stateless
 * Reset, derived from its DCID so the peer can recognise it. */
static void send_stateless_reset(rq_endpoint *ep, const rq_datagram *dg, const rq_pkt_hdr *h)
{
    uint8_t r;
    rq_cid cid;
    uint8_t token[RQ_RESET_TOKEN_LEN];
    if (h->type != RQ_PKT_1RTT || !rq_pkt_hdr_dcid(h, &cid) || cid.len == 0 ||
        rq_ep_random(ep, &r, 1) != 0)
        return;
    size_t len = rq_reset_len_for(dg->len, r);
    rq_stateless *s;
    if (!len || !(s = queue_stateless(ep, &dg->path)) ||
        rq_reset_token_derive(ep->reset_key, &cid, token) != 0 ||
        rq_reset_write(s->data, sizeof s->data, len, token, ep->rnd, ep->rnd_ctx) != 0)
        return;
    s->len = len;
    ep->nstateless++;
}

static uint64_t token_clock_ms(rq_time now)
{
    return now / RQ_MS;
}

/* RFC 9000 §8.1.2: answer an unvalidated client with a Retry carrying a token. */
static void send_retry(rq_endpoint *ep, const rq_datagram *dg, const rq_pkt_hdr *h, rq_time now)
{
    rq_cid odcid, client_scid, new_scid;
    rq_stateless *s;
    uint8_t token[RQ_TOKEN_MAX_LEN];
    size_t token_len;
    if (!rq_pkt_hdr_dcid(h, &odcid) || !rq_pkt_hdr_scid(h, &client_scid) ||
        rq_ep_new_cid(ep, ep->cfg->transport.local_cid_len, &new_scid) != 0 ||
        rq_token_issue_retry(&ep->token_key, token_clock_ms(now), &dg->path.remote, &odcid, ep->rnd,
                             ep->rnd_ctx, token, sizeof token, &token_len) != 0 ||
        !(s = queue_stateless(ep, &dg->path)))
        return;
    uint8_t unused;
    if (rq_ep_random(ep, &unused, 1) != 0)
        return;
    rq_wr w = rq_wr_init(s->data, sizeof s->data - RQ_RETRY_TAG_LEN);
    if (rq_pkt_write_retry(&w, RQ_VERSION_1, &client_scid, &new_scid, token, token_len, unused) !=
        0)
        return;
    size_t len = (size_t)(w.p - s->data);
    if (rq_retry_tag_compute(&ep->retry_aead, &odcid, s->data, len, s->data + len) != 0)
        return;
    s->len = len + RQ_RETRY_TAG_LEN;
    ep->nstateless++;
}

/* RFC 9000 §5.2.2: only an Initial that authenticates under the keys its DCID gives starts a
 * connection. Unprotects the first packet in the scratch buffer, then restores it. */
static bool initial_authenticates(rq_endpoint *ep, const rq_datagram *dg, const rq_pkt_hdr *h)
{
    rq_cid dcid;
    uint8_t cs[RQ_INITIAL_SECRET_LEN], ss[RQ_INITIAL_SECRET_LEN];
    rq_packet_key k = {0};
    rq_hp_key hp = {0};
    uint64_t pn;
    size_t hdr_len, payload_len;
    bool ok = rq_pkt_hdr_dcid(h, &dcid) && rq_initial_secrets(&dcid, cs, ss) == 0 &&
              rq_packet_key_init(&k, RQ_AEAD_AES_128_GCM, cs, sizeof cs) == 0 &&
              rq_hp_key_init(&hp, RQ_AEAD_AES_128_GCM, cs, sizeof cs) == 0 &&
              rq_packet_unprotect(&k, &hp, ep->scratch, h->len, h->pn_offset, RQ_PN_NONE, &pn,
                                  &hdr_len, &payload_len) == 0;
    rq_packet_key_deinit(&k);
    rq_hp_key_deinit(&hp);
    memset(cs, 0, sizeof cs);
    memset(ss, 0, sizeof ss);
    memcpy(ep->scratch, dg->data, dg->len);
    return ok;
}

/* A server's new connection from a client Initial (RFC 9000 §7, §8.1, §14.1). */
static void accept_initial(rq_endpoint *ep, rq_time now, const rq_datagram *dg, const rq_pkt_hdr *h)
{
    rq_conn_params p = {0};
    /* §14.1: Initials travel in datagrams of at least 1200 bytes; §7.2: the client's first
     * DCID has at least 8 bytes. */
    if (dg->len < RQ_MIN_INITIAL_DATAGRAM || h->dcid_len < 8 || ep->nconns >= RQ_EP_MAX_CONNS ||
        !rq_pkt_hdr_dcid(h, &p.initial_dcid) || !rq_pkt_hdr_scid(h, &p.dcid) ||
        !initial_authenticates(ep, dg, h))
        return;
    p.odcid = p.initial_dcid;
    rq_token_kind kind = rq_token_kind_of(h->token, h->token_len);
    if (kind) {
        rq_cid from_token;
        int rc = rq_token_validate(&ep->token_key, token_clock_ms(now), h->token, h->token_len,
                                   &dg->path.remote, RQ_RETRY_TOKEN_LIFETIME_MS,
                                   12 * 3600 * 1000ULL, &kind, &from_token);
        if (rc == 0 && kind == RQ_TOKEN_RETRY) {
            p.odcid = from_token;
            p.retry_scid = &p.initial_dcid;
            p.address_validated = true;
        } else if (rc == 0) {
            p.address_validated = true;
        } else if (kind == RQ_TOKEN_RETRY) {
            return; /* §8.1.2: an invalid Retry token gets no connection */
        }
    }
    if (ep->cfg->retry && !p.address_validated) {
        send_retry(ep, dg, h, now);
        return;
    }
    rq_conn *c = NULL;
    if (rq_ep_new_cid(ep, ep->cfg->transport.local_cid_len, &p.scid) != 0 ||
        rq_conn_new(ep, RQ_ROLE_SERVER, now, &dg->path, &p, &c) != 0)
        return;
    if (add_conn(ep, c) != 0) {
        rq_conn_free(c);
        return;
    }
    /* Until the client switches to our CID, its packets carry the DCID it chose (§7.2). */
    if (rq_cidmap_insert(&ep->cids, &p.initial_dcid, c) == 0) {
        c->routed_odcid = p.initial_dcid;
        c->odcid_routed = true;
    }
    rq_conn_event(c, RQ_EV_ACCEPTED, -1, 0);
    rq_conn_recv_datagram(c, now, &dg->path, ep->scratch, dg->len);
}

static rq_conn *find_conn(rq_endpoint *ep, const rq_datagram *dg, const rq_pkt_hdr *h)
{
    rq_conn *c = rq_cidmap_find(&ep->cids, h->dcid, h->dcid_len);
    if (c || h->dcid_len != 0)
        return c;
    return zero_cid_conn_at(ep, &dg->path.local);
}

int rq_endpoint_recv(rq_endpoint *ep, rq_time now, const rq_datagram *dg)
{
    if (!ep || !dg || (!dg->data && dg->len))
        return RQ_ERR_INVALID_ARG;
    reclaim(ep);
    if (dg->len == 0 || dg->len > sizeof ep->scratch)
        return 0;
    memcpy(ep->scratch, dg->data, dg->len);
    rq_pkt_hdr h;
    int rc = rq_pkt_parse(ep->scratch, dg->len, ep->cfg->transport.local_cid_len, &h);
    /* RFC 9000 §10.3, §10.3.1: a datagram no connection claims may be a Stateless Reset,
     * whatever its first byte looks like (long header, unknown version, unparseable). */
    if (rc) {
        for (rq_conn *c = ep->conns; c; c = c->next)
            if (rq_conn_check_stateless_reset(c, now, dg->data, dg->len))
                return 0;
        if (rc == RQ_ERR_UNSUPPORTED_VERSION)
            send_version_negotiation(ep, dg, &h);
        return 0;
    }
    rq_conn *c = find_conn(ep, dg, &h);
    if (c) {
        rq_conn_recv_datagram(c, now, &dg->path, ep->scratch, dg->len);
        return 0;
    }
    for (c = ep->conns; c; c = c->next)
        if (rq_conn_check_stateless_reset(c, now, dg->data, dg->len))
            return 0;
    if (ep->cfg->role == RQ_ROLE_SERVER && h.type == RQ_PKT_INITIAL)
        accept_initial(ep, now, dg, &h);
    else if (ep->cfg->role == RQ_ROLE_SERVER)
        send_stateless_reset(ep, dg, &h);
    return 0;
}

int rq_endpoint_send(rq_endpoint *ep, rq_time now, rq_datagram_out *out)
{
    if (!ep || !out || !out->buf || out->cap < RQ_MIN_INITIAL_DATAGRAM)
        return RQ_ERR_INVALID_ARG;
    reclaim(ep);
    if (ep->nstateless) {
        rq_stateless *s = &ep->stateless[0];
        if (s->len > out->cap)
            return RQ_ERR_BUFFER_TOO_SMALL;
        memcpy(out->buf, s->data, s->len);
        out->len = s->len;
        out->path = s->path;
        /* RFC 9000 §9.7: a label of its own, so no stateless reply is linked to a connection
         * (nor stands out by a zero label). */
        out->flow_label = 0;
        uint32_t r = 0;
        if (s->path.remote.family == RQ_AF_INET6 && rq_ep_random(ep, (uint8_t *)&r, sizeof r) == 0)
            out->flow_label = (r & 0xfffffu) ? (r & 0xfffffu) : 1;
        memmove(&ep->stateless[0], &ep->stateless[1], (ep->nstateless - 1) * sizeof *s);
        ep->nstateless--;
        return 1;
    }
    /* Round robin: start after the connection that sent last. */
    rq_conn *start = ep->send_cursor ? ep->send_cursor : ep->conns;
    for (size_t i = 0; i < ep->nconns && start; i++) {
        rq_conn *c = start;
        start = c->next ? c->next : ep->conns;
        int rc = rq_conn_send(c, now, out);
        if (rc) {
            ep->send_cursor = start;
            return rc;
        }
    }
    return 0;
}

rq_time rq_endpoint_next_timeout(rq_endpoint *ep)
{
    rq_time t = RQ_TIME_NEVER;
    for (rq_conn *c = ep->conns; c; c = c->next) {
        rq_time ct = rq_conn_next_timeout(c);
        if (ct < t)
            t = ct;
    }
    return t;
}

void rq_endpoint_on_timeout(rq_endpoint *ep, rq_time now)
{
    reclaim(ep);
    for (rq_conn *c = ep->conns; c; c = c->next)
        if (rq_conn_next_timeout(c) <= now)
            rq_conn_on_timeout(c, now);
}

bool rq_endpoint_poll_event(rq_endpoint *ep, rq_event *ev)
{
    if (!ep->ev_count)
        return false;
    *ev = ep->events[ep->ev_head];
    ep->ev_head = (ep->ev_head + 1) % ep->ev_cap;
    ep->ev_count--;
    if (ev->type == RQ_EV_CLOSED && ev->conn)
        ev->conn->reclaim = true;
    return true;
}
