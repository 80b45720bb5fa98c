/* A unidirectional link: a transmitter with a FIFO queue, then a wire.
 *
 * A datagram offered at time t first passes the link's tap (an injector, inject.h), then:
 *   down                          → dropped (link_down)
 *   len > mtu                     → dropped (mtu)
 *   queue backlog + len > limit   → dropped (queue, tail drop)
 * otherwise it is serialized after the datagrams before it, at rate_bps, and then travels for
 * `delay`. On the wire it may be lost (by a drop rule, then at random), held back by the reorder
 * delay, corrupted (one byte flipped), duplicated (the copy arrives right after it) and have its
 * ECN bits bleached. A lost datagram still used its serialization time. A datagram in flight
 * when the link goes down is lost, even if the link is up again when it would have arrived.
 *
 * Arithmetic is exact in integers: serialization of len bytes takes len*8/rate seconds with
 * the remainder carried to the next back-to-back datagram, so 1250-byte datagrams at 10 Mbit/s
 * leave exactly 1 ms apart. Every random impairment draws from its own stream, named after the
 * link: changing one impairment's rate leaves the others' choices unchanged.
 */
#ifndef RQ_SIM_LINK_H
#define RQ_SIM_LINK_H

#include "sim.h"

/* All-zero is an ideal link: no delay, infinite rate, no queue limit, no MTU, no impairment. */
typedef struct sim_link_cfg {
    rq_time delay;         /* one-way propagation delay */
    uint64_t rate_bps;     /* bits per second; 0 = infinite */
    uint32_t queue_bytes;  /* backlog limit in bytes, including the datagram being sent; 0 = none */
    uint32_t mtu;          /* largest UDP payload carried; 0 = no limit */
    double loss;           /* probability that a datagram is lost */
    double reorder;        /* probability that a datagram is held back by reorder_delay */
    rq_time reorder_delay; /* extra delay of a reordered datagram */
    double duplicate;      /* probability that a datagram arrives twice */
    double corrupt;        /* probability that one byte of a datagram is changed */
    bool ecn_bleach;       /* clear the ECN codepoint of every datagram */
} sim_link_cfg;

/* Counters of one link. `offered` numbers datagrams for drop rules: the first is 1. */
typedef struct sim_link_stats {
    uint64_t offered, delivered, delivered_bytes;
    uint64_t drop_down, drop_mtu, drop_queue, drop_loss, drop_mask;
    uint64_t reordered, duplicated, corrupted;
} sim_link_stats;

/* A tap sees each datagram offered to the link before the link does (inject.h installs one).
 * It returns SIM_TAP_PASS to let the link carry dg (possibly rewritten in place),
 * SIM_TAP_TAKEN when it took ownership of dg (dropped it, or will offer it again later), or a
 * negative rq_err that stops the run (dg is then freed by the link). */
#define SIM_TAP_PASS  0
#define SIM_TAP_TAKEN 1
typedef int (*sim_link_tap_fn)(void *ctx, sim *s, sim_link *l, sim_dgram *dg);

/* Replaces the configuration; takes effect for datagrams offered from now on (the queue and
 * the datagrams in flight are kept). Errors: RQ_ERR_INVALID_ARG (a probability outside [0,1]). */
int sim_link_set_cfg(sim_link *l, const sim_link_cfg *cfg);
const sim_link_cfg *sim_link_get_cfg(const sim_link *l);

/* Takes the link down (everything queued or in flight is lost, later offers are dropped) or
 * brings it back up. Setting the current state again changes nothing. */
void sim_link_set_up(sim *s, sim_link *l, bool up);
bool sim_link_is_up(const sim_link *l);

/* Drops offered datagrams number first..last (1-based, counted by stats.offered, inclusive):
 * "drop the 3rd and 7th" is two calls (3,3) and (7,7). Rules accumulate.
 * Errors: RQ_ERR_INVALID_ARG (first 0 or first > last), RQ_ERR_NOMEM. */
int sim_link_drop_range(sim_link *l, uint64_t first, uint64_t last);

/* Offers a datagram to the link at the current time (ownership passes). Returns 0 (whatever
 * its fate) or an error that stops the run. */
int sim_link_offer(sim *s, sim_link *l, sim_dgram *dg);

/* Installs (fn NULL: removes) the link's tap. One tap per link. */
void sim_link_set_tap(sim_link *l, sim_link_tap_fn fn, void *ctx);

/* The link's counters, name, and its ends. */
const sim_link_stats *sim_link_get_stats(const sim_link *l);
const char *sim_link_name(const sim_link *l);
sim_elem *sim_link_from(const sim_link *l);
sim_elem *sim_link_to(const sim_link *l);

/* Bytes waiting for or in serialization at the current time. */
uint64_t sim_link_backlog(sim *s, sim_link *l);

#endif
