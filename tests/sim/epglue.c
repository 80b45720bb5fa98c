/* The endpoint side of a simulator node (epglue.h). */
#include "epglue.h"

static int glue_recv(void *ctx, rq_time now, const rq_path_addr *path, uint8_t ecn,
                     const uint8_t *data, size_t len)
{
    sim_epglue *g = ctx;
    (void)ecn;
    rq_datagram dg = {*path, data, len};
    int rc = rq_endpoint_recv(*g->ep, now, &dg);
    g->on_events(g->owner);
    return rc;
}

static int glue_send(void *ctx, rq_time now, rq_path_addr *path, uint8_t *ecn, uint8_t *buf,
                     size_t cap, size_t *len)
{
    sim_epglue *g = ctx;
    rq_datagram_out out = {.buf = buf, .cap = cap};
    *ecn = 0;
    *len = 0;
    int rc = rq_endpoint_send(*g->ep, now, &out);
    g->on_events(g->owner);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *path = out.path;
        if (path->local.family == RQ_AF_NONE)
            path->local = *g->addr;
        *len = out.len;
    }
    return 0;
}

static rq_time glue_next_timeout(void *ctx)
{
    sim_epglue *g = ctx;
    return rq_endpoint_next_timeout(*g->ep);
}

static int glue_on_timeout(void *ctx, rq_time now)
{
    sim_epglue *g = ctx;
    rq_endpoint_on_timeout(*g->ep, now);
    g->on_events(g->owner);
    return 0;
}

const sim_node_ops sim_epglue_ops = {glue_recv, glue_send, glue_next_timeout, glue_on_timeout};
