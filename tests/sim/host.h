/* A host: an element with one port per network interface, IP addresses bound to interfaces,
 * and a node — the thing that speaks UDP (a scripted test node today, an rq_endpoint or an
 * ngtcp2 connection later) — driven poll-style:
 *
 *   recv(now, path, datagram)   a datagram reached one of the host's addresses
 *   send(now) → datagram + path the node's next datagram, until it has none
 *   next_timeout()              when the node next wants on_timeout (RQ_TIME_NEVER: never)
 *   on_timeout(now)             that time has come
 *
 * After every recv, on_timeout and sim_host_wake the sim drains send() and re-arms the timer
 * from next_timeout(). A datagram leaves through the interface that holds its source IP; one
 * from an IP the host does not have is dropped (src_not_local), as an OS would refuse it. A
 * datagram delivered for an IP the host does not have is dropped (dst_not_local); the port is
 * the node's business.
 */
#ifndef RQ_SIM_HOST_H
#define RQ_SIM_HOST_H

#include "sim.h"

typedef struct sim_host sim_host;

/* The node interface. Every function returns 0 or a negative rq_err; an error stops the run
 * and is reported with the seed. ctx is the node's own (the sim never frees it). */
typedef struct sim_node_ops {
    /* path->local is the address it arrived at (its destination), path->remote its source.
     * data is valid during the call only. */
    int (*recv)(void *ctx, rq_time now, const rq_path_addr *path, uint8_t ecn, const uint8_t *data,
                size_t len);
    /* Writes the next datagram into buf (cap bytes) and its path (local = source); *len = 0
     * means nothing to send now. */
    int (*send)(void *ctx, rq_time now, rq_path_addr *path, uint8_t *ecn, uint8_t *buf, size_t cap,
                size_t *len);
    rq_time (*next_timeout)(void *ctx);
    int (*on_timeout)(void *ctx, rq_time now);
} sim_node_ops;

/* Creates a host with `n_ifaces` interfaces (ports 0..n_ifaces-1) and no address. ops may be
 * NULL: the host is then a black hole that accepts and discards everything (counted in the
 * ledger, traced as dropped "no_node"). The sim owns the host; *out may be NULL.
 * Errors: RQ_ERR_INVALID_ARG, RQ_ERR_NOMEM. */
int sim_host_new(sim *s, const char *name, unsigned n_ifaces, const sim_node_ops *ops, void *ctx,
                 sim_host **out);

/* The host as an element (for sim_connect). */
sim_elem *sim_host_elem(sim_host *h);

/* Gives the host an IP address (the port of `ip` is ignored) on interface `iface`.
 * Errors: RQ_ERR_INVALID_ARG (iface out of range, family unset, address already there),
 * RQ_ERR_NOMEM. */
int sim_host_add_addr(sim_host *h, const rq_addr *ip, unsigned iface);

/* Takes an IP address away (an expired temporary IPv6 address, a lost DHCP lease): later
 * datagrams from or to it are dropped. Errors: RQ_ERR_INVALID_ARG (not there). */
int sim_host_remove_addr(sim_host *h, const rq_addr *ip);

/* True when the host has this IP address (port ignored). */
bool sim_host_has_addr(const sim_host *h, const rq_addr *ip);

/* Asks the sim to poll the node's send() now (after the application gave it work: opened a
 * stream, asked it to migrate). Errors: RQ_ERR_NOMEM. */
int sim_host_wake(sim *s, sim_host *h);

/* Datagrams the node sent and received so far. */
uint64_t sim_host_sent(const sim_host *h);
uint64_t sim_host_received(const sim_host *h);

#endif
