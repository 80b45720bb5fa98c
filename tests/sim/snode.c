/* The scripted test node: a time-ordered send script, an echo mode and a receive log. */
#include "snode.h"

#include "core/alloc.h"
#include "rng.h"
#include "sim_internal.h"

#include <string.h>

typedef struct script_item {
    rq_time t;
    rq_path_addr path;
    uint32_t len;
    uint64_t seq;  /* generated payload when data is NULL */
    uint8_t *data; /* owned copy, or NULL */
} script_item;

struct sim_snode {
    sim_host *host;
    script_item *q; /* sorted by time, stable: [head, len) */
    size_t head, len, cap;
    uint64_t next_seq;
    uint64_t sent;
    bool keep_bytes;
    bool echo;
    rq_time echo_delay;
    uint64_t echo_limit, echoed;
    sim_snode_rx *rx;
    size_t n_rx, cap_rx;
};

static void fill_generated(uint8_t *buf, size_t len, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(seq >> (56 - 8 * i));
    memset(buf + 8, (int)(seq & 0xff), len - 8);
}

static uint64_t read_seq(const uint8_t *data, size_t len)
{
    uint64_t v = 0;
    if (len < 8)
        return 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | data[i];
    return v;
}

/* Inserts after every item with time <= it.t: equal times keep their scheduling order. */
static int enqueue(sim_snode *n, const script_item *it)
{
    if (n->head > 0 && n->head + n->len == n->cap) { /* compact before growing */
        memmove(n->q, n->q + n->head, n->len * sizeof(*n->q));
        n->head = 0;
    }
    if (n->head + n->len == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 64;
        script_item *q = rq_mem_realloc(n->q, ncap * sizeof(*q));
        if (!q)
            return RQ_ERR_NOMEM;
        n->q = q;
        n->cap = ncap;
    }
    size_t pos = n->head + n->len;
    while (pos > n->head && n->q[pos - 1].t > it->t)
        pos--;
    memmove(n->q + pos + 1, n->q + pos, (n->head + n->len - pos) * sizeof(*n->q));
    n->q[pos] = *it;
    n->len++;
    return 0;
}

static int log_rx(sim_snode *n, rq_time now, const rq_path_addr *path, uint8_t ecn,
                  const uint8_t *data, size_t len)
{
    if (n->n_rx == n->cap_rx) {
        size_t ncap = n->cap_rx ? n->cap_rx * 2 : 256;
        sim_snode_rx *r = rq_mem_realloc(n->rx, ncap * sizeof(*r));
        if (!r)
            return RQ_ERR_NOMEM;
        n->rx = r;
        n->cap_rx = ncap;
    }
    sim_snode_rx *r = &n->rx[n->n_rx];
    *r = (sim_snode_rx){
        now, *path, (uint32_t)len, ecn, read_seq(data, len), sim_hash_bytes(data, len, 0), NULL};
    if (n->keep_bytes && len > 0) {
        r->data = rq_mem_alloc(len);
        if (!r->data)
            return RQ_ERR_NOMEM;
        memcpy(r->data, data, len);
    }
    n->n_rx++;
    return 0;
}

static int node_recv(void *ctx, rq_time now, const rq_path_addr *path, uint8_t ecn,
                     const uint8_t *data, size_t len)
{
    sim_snode *n = ctx;
    int rc = log_rx(n, now, path, ecn, data, len);
    if (rc != 0 || !n->echo || (n->echo_limit && n->echoed >= n->echo_limit))
        return rc;
    n->echoed++;
    script_item it = {now + n->echo_delay, {path->local, path->remote}, (uint32_t)len, 0, NULL};
    if (len > 0) {
        it.data = rq_mem_alloc(len);
        if (!it.data)
            return RQ_ERR_NOMEM;
        memcpy(it.data, data, len);
    }
    rc = enqueue(n, &it);
    if (rc != 0)
        rq_mem_free(it.data);
    return rc;
}

static int node_send(void *ctx, rq_time now, rq_path_addr *path, uint8_t *ecn, uint8_t *buf,
                     size_t cap, size_t *len)
{
    sim_snode *n = ctx;
    *len = 0;
    if (n->len == 0 || n->q[n->head].t > now)
        return 0;
    script_item *it = &n->q[n->head];
    if (it->len > cap)
        return RQ_ERR_BUFFER_TOO_SMALL;
    if (it->data)
        memcpy(buf, it->data, it->len);
    else
        fill_generated(buf, it->len, it->seq);
    rq_mem_free(it->data);
    *path = it->path;
    *ecn = 0;
    *len = it->len;
    n->head++;
    n->len--;
    n->sent++;
    return 0;
}

static rq_time node_next_timeout(void *ctx)
{
    sim_snode *n = ctx;
    return n->len ? n->q[n->head].t : RQ_TIME_NEVER;
}

static int node_on_timeout(void *ctx, rq_time now)
{
    (void)ctx;
    (void)now;
    return 0; /* sending is polled right after */
}

static const sim_node_ops snode_ops = {node_recv, node_send, node_next_timeout, node_on_timeout};

static void snode_destroy(sim *s, void *obj)
{
    (void)s;
    sim_snode *n = obj;
    for (size_t i = 0; i < n->len; i++)
        rq_mem_free(n->q[n->head + i].data);
    for (size_t i = 0; i < n->n_rx; i++)
        rq_mem_free(n->rx[i].data);
    rq_mem_free(n->q);
    rq_mem_free(n->rx);
    rq_mem_free(n);
}

int sim_snode_new(sim *s, const char *name, unsigned n_ifaces, sim_snode **node, sim_host **host)
{
    if (!s)
        return RQ_ERR_INVALID_ARG;
    sim_snode *n = rq_mem_calloc(1, sizeof(*n));
    if (!n)
        return RQ_ERR_NOMEM;
    n->next_seq = 1;
    int rc = sim_own(s, n, snode_destroy);
    if (rc != 0) {
        rq_mem_free(n);
        return rc;
    }
    rc = sim_host_new(s, name, n_ifaces, &snode_ops, n, &n->host);
    if (rc != 0)
        return rc; /* n is owned by the sim already */
    if (node)
        *node = n;
    if (host)
        *host = n->host;
    return 0;
}

sim_host *sim_snode_host(const sim_snode *n)
{
    return n->host;
}

void sim_snode_keep_bytes(sim_snode *n, bool keep)
{
    n->keep_bytes = keep;
}

void sim_snode_echo(sim_snode *n, bool on, rq_time delay, uint64_t limit)
{
    n->echo = on;
    n->echo_delay = delay;
    n->echo_limit = limit;
}

int sim_snode_send_paced(sim *s, sim_snode *n, const rq_path_addr *path, rq_time start,
                         rq_time interval, uint64_t count, size_t len)
{
    if (len < 8 || len > SIM_DGRAM_MAX)
        return RQ_ERR_INVALID_ARG;
    for (uint64_t i = 0; i < count; i++) {
        script_item it = {start + i * interval, *path, (uint32_t)len, n->next_seq++, NULL};
        int rc = enqueue(n, &it);
        if (rc != 0)
            return rc;
    }
    return sim_host_wake(s, n->host);
}

int sim_snode_send_bytes(sim *s, sim_snode *n, const rq_path_addr *path, rq_time at,
                         const void *data, size_t len)
{
    if (len > SIM_DGRAM_MAX)
        return RQ_ERR_INVALID_ARG;
    script_item it = {at, *path, (uint32_t)len, 0, NULL};
    if (len > 0) {
        it.data = rq_mem_alloc(len);
        if (!it.data)
            return RQ_ERR_NOMEM;
        memcpy(it.data, data, len);
    }
    int rc = enqueue(n, &it);
    if (rc != 0) {
        rq_mem_free(it.data);
        return rc;
    }
    return sim_host_wake(s, n->host);
}

size_t sim_snode_rx_count(const sim_snode *n)
{
    return n->n_rx;
}

const sim_snode_rx *sim_snode_rx_get(const sim_snode *n, size_t i)
{
    return i < n->n_rx ? &n->rx[i] : NULL;
}

uint64_t sim_snode_sent(const sim_snode *n)
{
    return n->sent;
}

size_t sim_snode_queued(const sim_snode *n)
{
    return n->len;
}
