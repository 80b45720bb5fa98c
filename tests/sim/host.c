/* Hosts: address-to-interface binding and the poll-style node driver. */
#include "host.h"

#include "core/alloc.h"
#include "ledger.h"
#include "sim_internal.h"
#include "trace.h"

typedef struct host_addr {
    rq_addr ip;
    unsigned iface;
} host_addr;

struct sim_host {
    sim_elem elem; /* first: the element view */
    sim_node_ops ops;
    bool has_node;
    void *ctx;
    host_addr *addrs;
    size_t n_addrs;
    rq_time timer_at;   /* when the pending timer event fires, or RQ_TIME_NEVER */
    uint32_t timer_gen; /* events carrying an older generation are stale */
    uint64_t sent, received;
};

static const host_addr *find_addr(const sim_host *h, const rq_addr *ip)
{
    for (size_t i = 0; i < h->n_addrs; i++)
        if (rq_addr_same_ip(&h->addrs[i].ip, ip))
            return &h->addrs[i];
    return NULL;
}

bool sim_host_has_addr(const sim_host *h, const rq_addr *ip)
{
    return find_addr(h, ip) != NULL;
}

int sim_host_add_addr(sim_host *h, const rq_addr *ip, unsigned iface)
{
    if (iface >= h->elem.nports || (ip->family != RQ_AF_INET4 && ip->family != RQ_AF_INET6) ||
        find_addr(h, ip))
        return RQ_ERR_INVALID_ARG;
    host_addr *a = rq_mem_realloc(h->addrs, (h->n_addrs + 1) * sizeof(*a));
    if (!a)
        return RQ_ERR_NOMEM;
    h->addrs = a;
    h->addrs[h->n_addrs].ip = *ip;
    h->addrs[h->n_addrs].ip.port = 0;
    h->addrs[h->n_addrs].iface = iface;
    h->n_addrs++;
    return 0;
}

int sim_host_remove_addr(sim_host *h, const rq_addr *ip)
{
    const host_addr *a = find_addr(h, ip);
    if (!a)
        return RQ_ERR_INVALID_ARG;
    size_t i = (size_t)(a - h->addrs);
    for (; i + 1 < h->n_addrs; i++) /* keep the order: it is part of the scenario */
        h->addrs[i] = h->addrs[i + 1];
    h->n_addrs--;
    return 0;
}

/* Re-arms the host's single timer from the node's next_timeout. A superseded timer event is
 * not removed from the heap; its generation no longer matches and it is ignored. */
static int rearm(sim *s, sim_host *h)
{
    rq_time t = h->ops.next_timeout ? h->ops.next_timeout(h->ctx) : RQ_TIME_NEVER;
    if (t != RQ_TIME_NEVER && t < sim_now(s))
        t = sim_now(s);
    if (t == h->timer_at)
        return 0;
    h->timer_gen++;
    h->timer_at = t;
    if (t == RQ_TIME_NEVER)
        return 0;
    return sim_schedule(s, t, SIM_EVT_TIMER, h, NULL, h->timer_gen);
}

/* One datagram from the node into the network. */
static int emit(sim *s, sim_host *h, const rq_path_addr *path, uint8_t ecn, const uint8_t *buf,
                size_t len)
{
    sim_dgram *dg = sim_dgram_new(s, &path->local, &path->remote, buf, len);
    if (!dg)
        return RQ_ERR_NOMEM;
    dg->ecn = ecn & 3;
    h->sent++;
    sim_trace *t = sim_get_trace(s);
    const host_addr *a = find_addr(h, &path->local);
    if (!a) {
        sim_trace_add(t, sim_now(s), SIM_EV_DROP, SIM_DROP_SRC_NOT_LOCAL, h->elem.where, dg, NULL,
                      NULL);
        sim_dgram_free(s, dg);
        return 0;
    }
    sim_trace_add(t, sim_now(s), SIM_EV_SEND, SIM_DROP_NONE, h->elem.where, dg, NULL, NULL);
    int rc = sim_ledger_book(sim_get_ledger(s), &dg->src, &dg->dst, len, true);
    if (rc != 0) {
        sim_dgram_free(s, dg);
        return rc;
    }
    return sim_elem_send(s, &h->elem, a->iface, dg);
}

/* Drains the node's send queue, then re-arms its timer. Each send counts as a step, so a node
 * that never stops sending is caught by the step bound. */
static int pump(sim *s, sim_host *h)
{
    if (!h->has_node)
        return 0;
    uint8_t *buf = sim_scratch(s);
    for (;;) {
        rq_path_addr path;
        uint8_t ecn = 0;
        size_t len = 0;
        int rc = h->ops.send(h->ctx, sim_now(s), &path, &ecn, buf, SIM_DGRAM_MAX, &len);
        if (rc < 0)
            return sim_fail(s, rc, "node %s: send failed", h->elem.name);
        if (len == 0)
            break;
        if (len > SIM_DGRAM_MAX)
            return sim_fail(s, RQ_ERR_INVALID_ARG, "node %s: sent %zu bytes", h->elem.name, len);
        if ((rc = sim_count_step(s)) != 0)
            return rc;
        if ((rc = emit(s, h, &path, ecn, buf, len)) != 0)
            return rc;
    }
    return rearm(s, h);
}

static int host_receive(sim *s, sim_elem *e, unsigned port, sim_dgram *dg)
{
    (void)port;
    sim_host *h = (sim_host *)e;
    sim_trace *t = sim_get_trace(s);
    if (!find_addr(h, &dg->dst)) {
        sim_trace_add(t, sim_now(s), SIM_EV_DROP, SIM_DROP_DST_NOT_LOCAL, e->where, dg, NULL, NULL);
        sim_dgram_free(s, dg);
        return 0;
    }
    int rc = sim_ledger_book(sim_get_ledger(s), &dg->src, &dg->dst, dg->len, false);
    if (rc == 0 && !h->has_node)
        sim_trace_add(t, sim_now(s), SIM_EV_DROP, SIM_DROP_NO_NODE, e->where, dg, NULL, NULL);
    if (rc != 0 || !h->has_node) {
        sim_dgram_free(s, dg);
        return rc;
    }
    h->received++;
    sim_trace_add(t, sim_now(s), SIM_EV_RECV, SIM_DROP_NONE, e->where, dg, NULL, NULL);
    rq_path_addr path = {dg->dst, dg->src};
    rc = h->ops.recv(h->ctx, sim_now(s), &path, dg->ecn, dg->data, dg->len);
    sim_dgram_free(s, dg);
    if (rc < 0)
        return sim_fail(s, rc, "node %s: recv failed", e->name);
    return pump(s, h);
}

int sim_host_on_timer(sim *s, void *host, uint32_t gen)
{
    sim_host *h = host;
    if (gen != h->timer_gen)
        return 0; /* superseded */
    h->timer_at = RQ_TIME_NEVER;
    if (h->ops.on_timeout) {
        int rc = h->ops.on_timeout(h->ctx, sim_now(s));
        if (rc < 0)
            return sim_fail(s, rc, "node %s: on_timeout failed", h->elem.name);
    }
    return pump(s, h);
}

int sim_host_on_wake(sim *s, void *host)
{
    return pump(s, host);
}

int sim_host_wake(sim *s, sim_host *h)
{
    return sim_schedule(s, sim_now(s), SIM_EVT_WAKE, h, NULL, 0);
}

static void host_destroy(sim *s, sim_elem *e)
{
    (void)s;
    rq_mem_free(((sim_host *)e)->addrs);
}

static const sim_elem_vt host_vt = {host_receive, host_destroy};

int sim_host_new(sim *s, const char *name, unsigned n_ifaces, const sim_node_ops *ops, void *ctx,
                 sim_host **out)
{
    if (!s || (ops && (!ops->recv || !ops->send)))
        return RQ_ERR_INVALID_ARG;
    sim_host *h = rq_mem_calloc(1, sizeof(*h));
    if (!h)
        return RQ_ERR_NOMEM;
    if (ops) {
        h->ops = *ops;
        h->has_node = true;
    }
    h->ctx = ctx;
    h->timer_at = RQ_TIME_NEVER;
    int rc = sim_elem_register(s, &h->elem, &host_vt, name, n_ifaces);
    if (rc != 0) {
        rq_mem_free(h);
        return rc;
    }
    if (out)
        *out = h;
    return 0;
}

sim_elem *sim_host_elem(sim_host *h)
{
    return &h->elem;
}

uint64_t sim_host_sent(const sim_host *h)
{
    return h->sent;
}

uint64_t sim_host_received(const sim_host *h)
{
    return h->received;
}
