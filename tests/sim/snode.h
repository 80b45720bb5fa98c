/* A scripted test node: the simplest thing that speaks through sim_node_ops. It sends what the
 * script tells it to, when it says, optionally echoes what it receives (a ping-pong peer), and
 * logs everything it receives. Scenarios use it to exercise the network before (and beside)
 * real QUIC endpoints.
 *
 * Generated payloads carry a sequence number in their first 8 bytes (big endian) and the
 * byte (seq & 0xff) after it, so tests can tell which datagram arrived and whether it changed.
 */
#ifndef RQ_SIM_SNODE_H
#define RQ_SIM_SNODE_H

#include "host.h"
#include "sim.h"

typedef struct sim_snode sim_snode;

/* One received datagram. `seq` is the first 8 bytes read big endian (0 when shorter); `data`
 * is a copy of the bytes when the node keeps bytes, else NULL. */
typedef struct sim_snode_rx {
    rq_time t;
    rq_path_addr path; /* local = where it arrived, remote = its source */
    uint32_t len;
    uint8_t ecn;
    uint64_t seq;
    uint64_t hash;
    uint8_t *data;
} sim_snode_rx;

/* Creates a scripted node and a host for it (`n_ifaces` interfaces, no address yet). Both are
 * owned by the sim. *node and *host (either may be NULL) receive them.
 * Errors: RQ_ERR_INVALID_ARG, RQ_ERR_NOMEM. */
int sim_snode_new(sim *s, const char *name, unsigned n_ifaces, sim_snode **node, sim_host **host);

/* The node's host. */
sim_host *sim_snode_host(const sim_snode *n);

/* Keep a copy of every received datagram's bytes (default off). */
void sim_snode_keep_bytes(sim_snode *n, bool keep);

/* Echo every received datagram back to its source from the address it arrived at, after
 * `delay`, at most `limit` times (0: without limit). Default off. */
void sim_snode_echo(sim_snode *n, bool on, rq_time delay, uint64_t limit);

/* Schedules `count` generated datagrams of `len` bytes (at least 8) on `path`, the first at
 * `start`, then one every `interval`; sequence numbers continue the node's counter (the first
 * is 1). The host is woken as needed. Errors: RQ_ERR_INVALID_ARG, RQ_ERR_NOMEM. */
int sim_snode_send_paced(sim *s, sim_snode *n, const rq_path_addr *path, rq_time start,
                         rq_time interval, uint64_t count, size_t len);

/* Schedules one datagram with the given bytes (copied) at time `at`.
 * Errors: RQ_ERR_INVALID_ARG (len > SIM_DGRAM_MAX), RQ_ERR_NOMEM. */
int sim_snode_send_bytes(sim *s, sim_snode *n, const rq_path_addr *path, rq_time at,
                         const void *data, size_t len);

/* Received datagrams: the count and entry i (NULL when out of range). */
size_t sim_snode_rx_count(const sim_snode *n);
const sim_snode_rx *sim_snode_rx_get(const sim_snode *n, size_t i);

/* Datagrams the node has handed to the network so far, and still waiting in its script. */
uint64_t sim_snode_sent(const sim_snode *n);
size_t sim_snode_queued(const sim_snode *n);

#endif
