/* A roamquic endpoint as the simulator's node (host.h's sim_node_ops): datagrams in and out,
 * timers, and the owner's event handler after each of them. A node embeds a sim_epglue and
 * gives sim_host_new sim_epglue_ops with the glue as ctx. */
#ifndef RQ_SIM_EPGLUE_H
#define RQ_SIM_EPGLUE_H

#include "host.h"

#include <roamquic/roamquic.h>

typedef struct sim_epglue {
    rq_endpoint *const *ep; /* the owner's endpoint field (the owner may replace the endpoint) */
    const rq_addr *addr;    /* fills an unspecified local address of outgoing datagrams */
    void (*on_events)(void *owner);
    void *owner;
} sim_epglue;

extern const sim_node_ops sim_epglue_ops;

#endif
