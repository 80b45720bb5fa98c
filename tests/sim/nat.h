/* A NAT box with a real binding table (RFC 4787 vocabulary).
 *
 * Port SIM_NAT_INSIDE faces the private side, SIM_NAT_OUTSIDE the public side. A datagram from
 * inside creates or refreshes a binding (inside addr:port, remote addr:port) → outside
 * addr:port and leaves with its source rewritten; a datagram from outside is translated back
 * only if a live binding exists for exactly (outside addr:port, its source) — filtering is
 * address- and port-dependent, so unsolicited datagrams are dropped (nat_no_binding).
 * Mapping is endpoint-independent by default (one outside port per inside addr:port, reused
 * for every remote, like most home routers) or per remote (a "symmetric" NAT).
 *
 * Bindings expire after `timeout` of virtual time without outbound traffic (inbound traffic
 * refreshes them only if refresh_on_inbound); the next outbound datagram then gets a new
 * outside port — a NAT rebinding as real networks produce it. sim_nat_rebind forces one, as
 * the QUIC interop runner's rebind scenarios do: the inside host gets a new outside port (or
 * a new outside address) and traffic arriving for the stale binding is dropped (nat_stale).
 *
 * Static forwards (port forwarding) let a NAT stand next to a server: an outside addr:port is
 * mapped to an inside server for every remote, both ways.
 */
#ifndef RQ_SIM_NAT_H
#define RQ_SIM_NAT_H

#include "sim.h"

typedef struct sim_nat sim_nat;

#define SIM_NAT_INSIDE  0u
#define SIM_NAT_OUTSIDE 1u

#define SIM_NAT_MAX_OUTSIDE 4u

typedef enum sim_nat_mapping {
    SIM_NAT_MAP_ENDPOINT_INDEPENDENT = 0,
    SIM_NAT_MAP_PER_REMOTE = 1,
} sim_nat_mapping;

typedef enum sim_nat_ports {
    SIM_NAT_PORTS_SEQUENTIAL = 0, /* next free port after the last one handed out */
    SIM_NAT_PORTS_RANDOM = 1,     /* a random free port (the NAT's own random stream) */
    SIM_NAT_PORTS_PRESERVE = 2,   /* the inside port if free, else sequential */
} sim_nat_ports;

typedef struct sim_nat_cfg {
    rq_addr outside[SIM_NAT_MAX_OUTSIDE]; /* public IPs (ports ignored), at most one per family
                                              is in use at a time; rebinds rotate among them */
    unsigned n_outside;
    sim_nat_mapping mapping;
    sim_nat_ports ports;
    uint16_t port_min, port_max; /* allocation range; 0,0 = 40000..59999 */
    rq_time timeout;             /* idle timeout of a binding; 0 = never */
    bool refresh_on_inbound;
} sim_nat_cfg;

/* One binding as the table holds it. */
typedef struct sim_nat_binding {
    rq_addr inside, outside, remote;
    rq_time last; /* last refresh */
    bool stale;   /* replaced by a rebind: inbound traffic to it is dropped */
} sim_nat_binding;

/* Creates a NAT with two ports. The sim owns it; *out may be NULL.
 * Errors: RQ_ERR_INVALID_ARG (no outside address, bad port range), RQ_ERR_NOMEM. */
int sim_nat_new(sim *s, const char *name, const sim_nat_cfg *cfg, sim_nat **out);

/* The NAT as an element (for sim_connect). */
sim_elem *sim_nat_elem(sim_nat *n);

/* Forwards outside addr:port to inside addr:port, for every remote, both ways (replies from
 * the inside server leave with the outside address as their source). Never expires.
 * Errors: RQ_ERR_INVALID_ARG (families differ, outside already forwarded), RQ_ERR_NOMEM. */
int sim_nat_add_forward(sim_nat *n, const rq_addr *outside, const rq_addr *inside);

/* Rebinds the inside host `inside` (addr:port; port 0 = every port of that IP): each of its
 * live bindings becomes stale and is replaced by one with a new outside port, and with
 * new_address also the next outside IP of the same family. *changed (may be NULL) receives
 * the number of bindings replaced. Errors: RQ_ERR_INVALID_ARG (new_address with only one
 * outside IP of the family), RQ_ERR_LIMIT (no free port), RQ_ERR_NOMEM. */
int sim_nat_rebind(sim *s, sim_nat *n, const rq_addr *inside, bool new_address, unsigned *changed);

/* Number of live (not stale, not expired at the current time) bindings. */
size_t sim_nat_binding_count(sim *s, sim_nat *n);

/* The live binding for (inside, remote), copied to *out; false when there is none. */
bool sim_nat_lookup(sim *s, sim_nat *n, const rq_addr *inside, const rq_addr *remote,
                    sim_nat_binding *out);

#endif
