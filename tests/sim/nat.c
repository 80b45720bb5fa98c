/* NAT: binding table, port allocation, translation both ways, rebinding and expiry. */
#include "nat.h"

#include "core/alloc.h"
#include "rng.h"
#include "sim_internal.h"
#include "trace.h"

typedef struct nat_forward {
    rq_addr outside, inside;
} nat_forward;

struct sim_nat {
    sim_elem elem; /* first: the element view */
    sim_nat_cfg cfg;
    unsigned cur4, cur6; /* index in cfg.outside of the IP new bindings use, per family */
    sim_nat_binding *b;  /* in creation order: the table is small, a scan is cheapest */
    size_t n, cap;
    nat_forward *fwd;
    size_t n_fwd;
    uint32_t next_off; /* sequential allocation: offset of the next port to try */
    sim_rng rng;
};

/* ---- the table ---- */

static bool expired(const sim_nat *n, const sim_nat_binding *b, rq_time now)
{
    return n->cfg.timeout && now - b->last >= n->cfg.timeout;
}

/* Removes expired bindings, keeping the others in order (order is part of determinism). */
static void purge(sim_nat *n, rq_time now)
{
    size_t w = 0;
    for (size_t r = 0; r < n->n; r++)
        if (!expired(n, &n->b[r], now))
            n->b[w++] = n->b[r];
    n->n = w;
}

static int push_binding(sim_nat *n, const sim_nat_binding *b)
{
    if (n->n == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 8;
        sim_nat_binding *x = rq_mem_realloc(n->b, ncap * sizeof(*x));
        if (!x)
            return RQ_ERR_NOMEM;
        n->b = x;
        n->cap = ncap;
    }
    n->b[n->n++] = *b;
    return 0;
}

static sim_nat_binding *find_out(sim_nat *n, const rq_addr *inside, const rq_addr *remote)
{
    for (size_t i = 0; i < n->n; i++)
        if (!n->b[i].stale && rq_addr_eq(&n->b[i].inside, inside) &&
            (!remote || rq_addr_eq(&n->b[i].remote, remote)))
            return &n->b[i];
    return NULL;
}

static sim_nat_binding *find_in(sim_nat *n, const rq_addr *outside, const rq_addr *remote,
                                bool stale)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->b[i].stale == stale && rq_addr_eq(&n->b[i].outside, outside) &&
            (!remote || rq_addr_eq(&n->b[i].remote, remote)))
            return &n->b[i];
    return NULL;
}

/* ---- outside addresses and ports ---- */

static const rq_addr *current_ip(const sim_nat *n, uint8_t family)
{
    unsigned i = family == RQ_AF_INET4 ? n->cur4 : n->cur6;
    return i < n->cfg.n_outside ? &n->cfg.outside[i] : NULL;
}

static unsigned first_of_family(const sim_nat_cfg *c, uint8_t family, unsigned after)
{
    for (unsigned k = 1; k <= c->n_outside; k++) {
        unsigned i = (after + k) % c->n_outside;
        if (c->outside[i].family == family)
            return i;
    }
    return SIM_NAT_MAX_OUTSIDE; /* none */
}

static bool port_in_use(const sim_nat *n, const rq_addr *ip, uint16_t port)
{
    rq_addr a = *ip;
    a.port = port;
    for (size_t i = 0; i < n->n; i++)
        if (rq_addr_eq(&n->b[i].outside, &a))
            return true;
    for (size_t i = 0; i < n->n_fwd; i++)
        if (rq_addr_eq(&n->fwd[i].outside, &a))
            return true;
    return false;
}

/* Picks a free outside addr:port on the current IP of inside's family. Errors: RQ_ERR_LIMIT
 * (no IP of that family, or every port taken). */
static int alloc_outside(sim_nat *n, const rq_addr *inside, rq_addr *out)
{
    const rq_addr *ip = current_ip(n, inside->family);
    if (!ip)
        return RQ_ERR_LIMIT;
    *out = *ip;
    uint32_t range = (uint32_t)n->cfg.port_max - n->cfg.port_min + 1;
    if (n->cfg.ports == SIM_NAT_PORTS_PRESERVE && inside->port != 0 &&
        !port_in_use(n, ip, inside->port)) {
        out->port = inside->port;
        return 0;
    }
    if (n->cfg.ports == SIM_NAT_PORTS_RANDOM) {
        for (uint32_t tries = 0; tries < 64; tries++) {
            uint16_t p = (uint16_t)(n->cfg.port_min + sim_rng_below(&n->rng, range));
            if (!port_in_use(n, ip, p)) {
                out->port = p;
                return 0;
            }
        }
    }
    for (uint32_t i = 0; i < range; i++) {
        uint32_t off = (n->next_off + i) % range;
        uint16_t p = (uint16_t)(n->cfg.port_min + off);
        if (!port_in_use(n, ip, p)) {
            n->next_off = (off + 1) % range;
            out->port = p;
            return 0;
        }
    }
    return RQ_ERR_LIMIT;
}

/* ---- translation ---- */

static int nat_drop(sim *s, sim_nat *n, sim_dgram *dg, sim_drop_reason why)
{
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_DROP, why, n->elem.where, dg, NULL, NULL);
    sim_dgram_free(s, dg);
    return 0;
}

static int translate(sim *s, sim_nat *n, sim_dgram *dg, const rq_addr *src, const rq_addr *dst,
                     unsigned port)
{
    sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_NAT, SIM_DROP_NONE, n->elem.where, dg, src,
                  dst);
    dg->src = *src;
    dg->dst = *dst;
    return sim_elem_send(s, &n->elem, port, dg);
}

static int outbound(sim *s, sim_nat *n, sim_dgram *dg)
{
    for (size_t i = 0; i < n->n_fwd; i++)
        if (rq_addr_eq(&n->fwd[i].inside, &dg->src))
            return translate(s, n, dg, &n->fwd[i].outside, &dg->dst, SIM_NAT_OUTSIDE);
    sim_nat_binding *b = find_out(n, &dg->src, &dg->dst);
    if (!b) {
        sim_nat_binding nb = {dg->src, dg->src, dg->dst, sim_now(s), false};
        const sim_nat_binding *same =
            n->cfg.mapping == SIM_NAT_MAP_ENDPOINT_INDEPENDENT ? find_out(n, &dg->src, NULL) : NULL;
        if (same)
            nb.outside = same->outside;
        else if (alloc_outside(n, &dg->src, &nb.outside) != 0)
            return nat_drop(s, n, dg, SIM_DROP_NAT_NO_PORT);
        if (push_binding(n, &nb) != 0) {
            sim_dgram_free(s, dg);
            return RQ_ERR_NOMEM;
        }
        b = &n->b[n->n - 1];
    }
    b->last = sim_now(s);
    rq_addr out = b->outside;
    return translate(s, n, dg, &out, &dg->dst, SIM_NAT_OUTSIDE);
}

static int inbound(sim *s, sim_nat *n, sim_dgram *dg)
{
    for (size_t i = 0; i < n->n_fwd; i++)
        if (rq_addr_eq(&n->fwd[i].outside, &dg->dst))
            return translate(s, n, dg, &dg->src, &n->fwd[i].inside, SIM_NAT_INSIDE);
    sim_nat_binding *b = find_in(n, &dg->dst, &dg->src, false);
    if (!b)
        return nat_drop(s, n, dg,
                        find_in(n, &dg->dst, NULL, true) ? SIM_DROP_NAT_STALE
                                                         : SIM_DROP_NAT_NO_BINDING);
    if (n->cfg.refresh_on_inbound)
        b->last = sim_now(s);
    rq_addr in = b->inside;
    return translate(s, n, dg, &dg->src, &in, SIM_NAT_INSIDE);
}

static int nat_receive(sim *s, sim_elem *e, unsigned port, sim_dgram *dg)
{
    sim_nat *n = (sim_nat *)e;
    purge(n, sim_now(s));
    return port == SIM_NAT_INSIDE ? outbound(s, n, dg) : inbound(s, n, dg);
}

/* ---- public operations ---- */

int sim_nat_rebind(sim *s, sim_nat *n, const rq_addr *inside, bool new_address, unsigned *changed)
{
    purge(n, sim_now(s));
    if (new_address) {
        unsigned *cur = inside->family == RQ_AF_INET4 ? &n->cur4 : &n->cur6;
        unsigned next = first_of_family(&n->cfg, inside->family, *cur);
        if (next == SIM_NAT_MAX_OUTSIDE || next == *cur)
            return RQ_ERR_INVALID_ARG;
        *cur = next;
    }
    size_t count = n->n, first_new = n->n;
    unsigned done = 0;
    for (size_t i = 0; i < count; i++) {
        sim_nat_binding old = n->b[i];
        bool match =
            inside->port ? rq_addr_eq(&old.inside, inside) : rq_addr_same_ip(&old.inside, inside);
        if (old.stale || !match)
            continue;
        sim_nat_binding nb = {old.inside, old.inside, old.remote, sim_now(s), false};
        const sim_nat_binding *same = NULL;
        for (size_t j = first_new; j < n->n && n->cfg.mapping == SIM_NAT_MAP_ENDPOINT_INDEPENDENT;
             j++)
            if (rq_addr_eq(&n->b[j].inside, &old.inside))
                same = &n->b[j];
        n->b[i].stale = true; /* before allocating, so its port is not handed out again */
        n->b[i].last = sim_now(s);
        if (same)
            nb.outside = same->outside;
        else if (alloc_outside(n, &old.inside, &nb.outside) != 0)
            return RQ_ERR_LIMIT;
        if (push_binding(n, &nb) != 0)
            return RQ_ERR_NOMEM;
        done++;
    }
    if (changed)
        *changed = done;
    return 0;
}

int sim_nat_add_forward(sim_nat *n, const rq_addr *outside, const rq_addr *inside)
{
    if (outside->family != inside->family || outside->family == RQ_AF_NONE)
        return RQ_ERR_INVALID_ARG;
    for (size_t i = 0; i < n->n_fwd; i++)
        if (rq_addr_eq(&n->fwd[i].outside, outside))
            return RQ_ERR_INVALID_ARG;
    nat_forward *f = rq_mem_realloc(n->fwd, (n->n_fwd + 1) * sizeof(*f));
    if (!f)
        return RQ_ERR_NOMEM;
    n->fwd = f;
    n->fwd[n->n_fwd].outside = *outside;
    n->fwd[n->n_fwd].inside = *inside;
    n->n_fwd++;
    return 0;
}

size_t sim_nat_binding_count(sim *s, sim_nat *n)
{
    purge(n, sim_now(s));
    size_t live = 0;
    for (size_t i = 0; i < n->n; i++)
        live += !n->b[i].stale;
    return live;
}

bool sim_nat_lookup(sim *s, sim_nat *n, const rq_addr *inside, const rq_addr *remote,
                    sim_nat_binding *out)
{
    purge(n, sim_now(s));
    const sim_nat_binding *b = find_out(n, inside, remote);
    if (b && out)
        *out = *b;
    return b != NULL;
}

static void nat_destroy(sim *s, sim_elem *e)
{
    (void)s;
    sim_nat *n = (sim_nat *)e;
    rq_mem_free(n->b);
    rq_mem_free(n->fwd);
}

static const sim_elem_vt nat_vt = {nat_receive, nat_destroy};

int sim_nat_new(sim *s, const char *name, const sim_nat_cfg *cfg, sim_nat **out)
{
    if (!s || !cfg || cfg->n_outside == 0 || cfg->n_outside > SIM_NAT_MAX_OUTSIDE ||
        cfg->port_min > cfg->port_max)
        return RQ_ERR_INVALID_ARG;
    sim_nat *n = rq_mem_calloc(1, sizeof(*n));
    if (!n)
        return RQ_ERR_NOMEM;
    n->cfg = *cfg;
    if (n->cfg.port_min == 0 && n->cfg.port_max == 0) {
        n->cfg.port_min = 40000;
        n->cfg.port_max = 59999;
    }
    for (unsigned i = 0; i < n->cfg.n_outside; i++)
        n->cfg.outside[i].port = 0;
    /* first_of_family searches after `after`; starting "after the last" finds the first. */
    n->cur4 = first_of_family(&n->cfg, RQ_AF_INET4, n->cfg.n_outside - 1);
    n->cur6 = first_of_family(&n->cfg, RQ_AF_INET6, n->cfg.n_outside - 1);
    int rc = sim_elem_register(s, &n->elem, &nat_vt, name, 2);
    if (rc != 0) {
        rq_mem_free(n);
        return rc;
    }
    sim_rng_init(&n->rng, sim_seed(s), n->elem.name, 1);
    if (out)
        *out = n;
    return 0;
}

sim_elem *sim_nat_elem(sim_nat *n)
{
    return &n->elem;
}
