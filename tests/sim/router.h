/* A router: forwards each datagram out of the port whose route has the longest prefix
 * matching the destination IP; with no matching route it drops it (no_route). A /0 route is
 * the default. It never changes a datagram. */
#ifndef RQ_SIM_ROUTER_H
#define RQ_SIM_ROUTER_H

#include "sim.h"

typedef struct sim_router sim_router;

/* Creates a router with `nports` ports. The sim owns it; *out may be NULL.
 * Errors: RQ_ERR_INVALID_ARG, RQ_ERR_NOMEM. */
int sim_router_new(sim *s, const char *name, unsigned nports, sim_router **out);

/* The router as an element (for sim_connect). */
sim_elem *sim_router_elem(sim_router *r);

/* Routes destinations within prefix/prefix_len (the port of `prefix` is ignored; its family
 * must match the destination's) out of `port`. Errors: RQ_ERR_INVALID_ARG (port out of range,
 * prefix_len beyond 32 or 128, family unset), RQ_ERR_NOMEM. */
int sim_router_add_route(sim_router *r, const rq_addr *prefix, unsigned prefix_len, unsigned port);

#endif
