/* Forging a peer's packets with its live keys: a 1-RTT packet protected exactly as the given
 * connection would, put on a link as if it had sent it — from its address or from any other
 * (spoofing, probing from a new address). For tests that need a frame the library would never
 * send. The packet number is taken from the connection's own counter, so it never repeats, and
 * the packet is recorded as sent (nothing to retransmit), so that ACKs of it are legitimate. */
#ifndef RQ_SIM_QINJECT_H
#define RQ_SIM_QINJECT_H

#include "inject.h"
#include "sim.h"

#include "core/conn.h"

/* Protects payload (frames) as conn's next 1-RTT packet (padded with PADDING to pad_to bytes
 * on the wire when larger) and injects it on link l from src to dst. Returns 0 or an error. */
int sim_forge_1rtt(sim *s, sim_link *l, rq_conn *conn, const rq_addr *src, const rq_addr *dst,
                   const uint8_t *payload, size_t len, size_t pad_to);

#endif
