/* Longest-prefix-match forwarding. */
#include "router.h"

#include "core/alloc.h"
#include "sim_internal.h"
#include "trace.h"

typedef struct route {
    rq_addr prefix;
    unsigned len;
    unsigned port;
} route;

struct sim_router {
    sim_elem elem; /* first: the element view */
    route *routes;
    size_t n_routes;
};

static bool prefix_match(const route *r, const rq_addr *a)
{
    if (a->family != r->prefix.family)
        return false;
    unsigned full = r->len / 8, rest = r->len % 8;
    for (unsigned i = 0; i < full; i++)
        if (a->ip[i] != r->prefix.ip[i])
            return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->ip[full] & mask) == (r->prefix.ip[full] & mask);
}

static int router_receive(sim *s, sim_elem *e, unsigned port, sim_dgram *dg)
{
    (void)port;
    sim_router *r = (sim_router *)e;
    const route *best = NULL;
    for (size_t i = 0; i < r->n_routes; i++)
        if (prefix_match(&r->routes[i], &dg->dst) && (!best || r->routes[i].len > best->len))
            best = &r->routes[i];
    if (!best) {
        sim_trace_add(sim_get_trace(s), sim_now(s), SIM_EV_DROP, SIM_DROP_NO_ROUTE, e->where, dg,
                      NULL, NULL);
        sim_dgram_free(s, dg);
        return 0;
    }
    return sim_elem_send(s, e, best->port, dg);
}

static void router_destroy(sim *s, sim_elem *e)
{
    (void)s;
    rq_mem_free(((sim_router *)e)->routes);
}

static const sim_elem_vt router_vt = {router_receive, router_destroy};

int sim_router_new(sim *s, const char *name, unsigned nports, sim_router **out)
{
    if (!s)
        return RQ_ERR_INVALID_ARG;
    sim_router *r = rq_mem_calloc(1, sizeof(*r));
    if (!r)
        return RQ_ERR_NOMEM;
    int rc = sim_elem_register(s, &r->elem, &router_vt, name, nports);
    if (rc != 0) {
        rq_mem_free(r);
        return rc;
    }
    if (out)
        *out = r;
    return 0;
}

sim_elem *sim_router_elem(sim_router *r)
{
    return &r->elem;
}

int sim_router_add_route(sim_router *r, const rq_addr *prefix, unsigned prefix_len, unsigned port)
{
    unsigned max = prefix->family == RQ_AF_INET4 ? 32 : prefix->family == RQ_AF_INET6 ? 128 : 0;
    if (port >= r->elem.nports || max == 0 || prefix_len > max)
        return RQ_ERR_INVALID_ARG;
    route *n = rq_mem_realloc(r->routes, (r->n_routes + 1) * sizeof(*n));
    if (!n)
        return RQ_ERR_NOMEM;
    r->routes = n;
    r->routes[r->n_routes++] = (route){*prefix, prefix_len, port};
    return 0;
}
