/* The transfer node and the stall metric of stall.h. */
#include "stall.h"

#include "core/alloc.h"
#include "core/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SEED  0xcbf29ce484222325ULL
#define HASH_PRIME 0x100000001b3ULL

/* A streaming hash over a byte sequence, independent of how it is cut into pieces: bytes go
 * into 64-bit words, each word is folded in as h = rotl(h ^ w, 29) * prime. */
static void hash_word(scn_hash *st, uint64_t w)
{
    uint64_t x = st->h ^ w;
    st->h = ((x << 29) | (x >> 35)) * HASH_PRIME;
}

static void hash_bytes(scn_hash *st, const uint8_t *p, size_t n)
{
    uint64_t w; /* host byte order: both ends hash on the same host */
    while (n && st->fill) {
        st->buf[st->fill++] = *p++;
        n--;
        if (st->fill == 8) {
            memcpy(&w, st->buf, 8);
            hash_word(st, w);
            st->fill = 0;
        }
    }
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        hash_word(st, w);
    }
    for (; n; n--)
        st->buf[st->fill++] = *p++;
}

uint64_t scn_hash_final(const scn_hash *st)
{
    scn_hash t = *st;
    uint64_t w = 0;
    memcpy(&w, t.buf, t.fill);
    hash_word(&t, w);
    hash_word(&t, t.fill);
    return t.h;
}

static void note_error(scn_node *n, int err)
{
    if (!n->error)
        n->error = err;
}

static void pump_writes(scn_node *n)
{
    while (n->conn && n->stream >= 0 && !n->fin_written) {
        /* The pattern is generated once per buffer, not on every attempt to write. */
        if (n->sent >= n->gen_off + n->gen_len) {
            uint64_t left = n->to_send - n->sent;
            n->gen_off = n->sent;
            n->gen_len = left < sizeof n->gen ? (size_t)left : sizeof n->gen;
            for (size_t i = 0; i < n->gen_len; i++)
                n->gen[i] = scn_pattern(n->salt, n->gen_off + i);
        }
        size_t at = (size_t)(n->sent - n->gen_off), len = n->gen_len - at;
        bool fin = n->sent + len == n->to_send;
        ptrdiff_t w = rq_stream_write(n->conn, n->stream, n->gen + at, len, fin);
        if (w < 0) {
            note_error(n, (int)w);
            return;
        }
        hash_bytes(&n->tx_hash, n->gen + at, (size_t)w);
        n->sent += (uint64_t)w;
        if ((size_t)w < len)
            return; /* the send buffer is full: RQ_EV_STREAM_WRITABLE */
        n->fin_written = fin;
    }
}

static void deliver(scn_node *n, rq_time now)
{
    if (n->received - n->delivered < SCN_DELIVERY_BYTES)
        return;
    if (n->ndeliveries == n->cap_deliveries) {
        size_t cap = n->cap_deliveries ? 2 * n->cap_deliveries : 4096;
        scn_delivery *d = realloc(n->deliveries, cap * sizeof *d);
        if (!d)
            return note_error(n, RQ_ERR_NOMEM);
        n->deliveries = d;
        n->cap_deliveries = cap;
    }
    n->deliveries[n->ndeliveries++] = (scn_delivery){now, n->received};
    n->delivered = n->received;
}

static void drain(scn_node *n, rq_conn *c, int64_t id)
{
    uint8_t buf[16384];
    if (id != n->stream)
        return note_error(n, RQ_ERR_STREAM_STATE); /* one stream only */
    rq_time now = sim_now(n->s);
    while (!n->fin_read) {
        bool fin = false;
        ptrdiff_t r = rq_stream_read(c, id, buf, sizeof buf, &fin);
        if (r < 0)
            return;
        for (ptrdiff_t i = 0; i < r; i++)
            if (buf[i] != scn_pattern(n->salt, n->received + (uint64_t)i))
                n->bad_bytes++;
        hash_bytes(&n->rx_hash, buf, (size_t)r);
        n->received += (uint64_t)r;
        n->fin_read = fin;
        if (r == 0)
            break;
    }
    deliver(n, now);
}

static void handle_events(scn_node *n)
{
    rq_event ev;
    rq_time now = sim_now(n->s);
    while (rq_endpoint_poll_event(n->ep, &ev)) {
        switch (ev.type) {
        case RQ_EV_CONNECTED:
            n->connected = true;
            n->connected_at = now;
            if (n->is_client && n->stream < 0) {
                int rc = rq_stream_open(ev.conn, true, &n->stream);
                if (rc) {
                    n->stream = -1;
                    note_error(n, rc);
                }
            }
            break;
        case RQ_EV_ACCEPTED:
            if (n->conn)
                note_error(n, RQ_ERR_INTERNAL); /* one connection per scenario */
            n->conn = ev.conn;
            break;
        case RQ_EV_STREAM_OPENED:
            if (!n->is_client && n->stream < 0)
                n->stream = ev.stream_id;
            break;
        case RQ_EV_STREAM_READABLE:
            if (!n->is_client && n->stream < 0)
                n->stream = ev.stream_id;
            drain(n, ev.conn, ev.stream_id);
            break;
        case RQ_EV_PATH_VALIDATED:
            n->path_validated++;
            break;
        case RQ_EV_PATH_FAILED:
            n->path_failed++;
            break;
        case RQ_EV_PATH_ACTIVE:
            n->path_active++;
            n->last_path_active = now;
            break;
        case RQ_EV_CLOSED:
            if (!n->closed) {
                n->closed = true;
                n->closed_at = now;
                n->close_code = ev.error_code;
                n->close_app = ev.app_error;
                n->close_by_peer = ev.by_peer;
            }
            if (ev.conn == n->conn)
                n->conn = NULL;
            break;
        default:
            break;
        }
    }
    pump_writes(n);
}

static void on_events(void *owner)
{
    handle_events(owner);
}

int scn_node_new(sim *s, const char *name, rq_config *cfg, unsigned n_ifaces, const rq_addr *addr,
                 scn_node **out)
{
    scn_node *n = cfg ? rq_mem_calloc(1, sizeof *n) : NULL;
    if (!n) {
        rq_config_free(cfg);
        return cfg ? RQ_ERR_NOMEM : RQ_ERR_INVALID_ARG;
    }
    n->s = s;
    n->cfg = cfg;
    n->addr = *addr;
    n->glue = (sim_epglue){&n->ep, &n->addr, on_events, n};
    n->stream = -1;
    n->tx_hash.h = n->rx_hash.h = HASH_SEED;
    sim_rng_init(&n->rng, sim_seed(s), name, 0x51);
    int err = 0;
    n->ep = rq_endpoint_new(cfg, sim_rng_fill, &n->rng, &err);
    int rc = n->ep ? 0 : (err ? err : RQ_ERR_NOMEM);
    if (!rc)
        rc = sim_host_new(s, name, n_ifaces, &sim_epglue_ops, &n->glue, &n->host);
    if (!rc)
        rc = sim_host_add_addr(n->host, addr, 0);
    if (rc) {
        scn_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void scn_node_free(scn_node *n)
{
    if (!n)
        return;
    rq_endpoint_free(n->ep);
    rq_config_free(n->cfg);
    free(n->deliveries);
    rq_mem_free(n);
}

void scn_serve(scn_node *server, uint64_t download, uint64_t salt)
{
    server->is_client = false;
    server->to_send = download;
    server->salt = salt;
}

int scn_connect(scn_node *client, const rq_addr *server, const char *sni, uint64_t upload,
                uint64_t salt)
{
    rq_path_addr path = {client->addr, *server};
    client->is_client = true;
    client->to_send = upload;
    client->salt = salt;
    int rc = rq_connect(client->ep, sim_now(client->s), &path, sni, &client->conn);
    if (rc)
        return rc;
    return sim_host_wake(client->s, client->host);
}

bool scn_done(const scn_node *client, const scn_node *server)
{
    return (client->fin_read && server->fin_read) || client->closed || server->closed ||
           client->error || server->error;
}

bool scn_verified(const scn_node *client, const scn_node *server, uint64_t upload,
                  uint64_t download, char *why, size_t cap)
{
    const char *r = NULL;
    if (client->closed || server->closed)
        r = "closed";
    else if (client->error || server->error)
        r = "API error";
    else if (!client->fin_read || !server->fin_read)
        r = "incomplete";
    else if (server->received != upload || client->received != download)
        r = "wrong length";
    else if (client->bad_bytes || server->bad_bytes)
        r = "bad bytes";
    else if (scn_hash_final(&server->rx_hash) != scn_hash_final(&client->tx_hash) ||
             scn_hash_final(&client->rx_hash) != scn_hash_final(&server->tx_hash))
        r = "hash mismatch";
    if (r && why)
        snprintf(why, cap,
                 "%s: closed c=%d s=%d (code 0x%llx), errors %s/%s, up %llu/%llu, down %llu/%llu,"
                 " bad %llu/%llu",
                 r, client->closed, server->closed,
                 (unsigned long long)(client->closed ? client->close_code : server->close_code),
                 rq_err_name(client->error), rq_err_name(server->error),
                 (unsigned long long)server->received, (unsigned long long)upload,
                 (unsigned long long)client->received, (unsigned long long)download,
                 (unsigned long long)server->bad_bytes, (unsigned long long)client->bad_bytes);
    return r == NULL;
}

rq_time scn_stall(const scn_node *rx, rq_time from, rq_time *at)
{
    size_t first = 0;
    for (size_t i = 0; i < rx->ndeliveries && rx->deliveries[i].t <= from; i++)
        first = i;
    rq_time worst = 0, where = from;
    for (size_t i = first + 1; i < rx->ndeliveries; i++) {
        rq_time gap = rx->deliveries[i].t - rx->deliveries[i - 1].t;
        if (gap > worst) {
            worst = gap;
            where = rx->deliveries[i - 1].t;
        }
    }
    if (at)
        *at = where;
    return worst;
}

rq_time scn_gap_before(const scn_node *rx, rq_time from, rq_time until)
{
    rq_time worst = 0;
    for (size_t i = 1; i < rx->ndeliveries && rx->deliveries[i].t < until; i++)
        if (rx->deliveries[i - 1].t >= from &&
            rx->deliveries[i].t - rx->deliveries[i - 1].t > worst)
            worst = rx->deliveries[i].t - rx->deliveries[i - 1].t;
    return worst;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double scn_percentile(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

rq_time scn_srtt(const scn_node *n)
{
    if (!n->conn)
        return 0;
    return n->conn->paths[n->conn->active_path].rtt.smoothed_rtt;
}
