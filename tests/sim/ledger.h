/* The byte ledger: UDP payload bytes that hosts sent and received, per (source, destination)
 * address pair, as each host saw them (a NAT between two hosts means the two ends book the
 * same datagram under different pairs). It answers anti-amplification questions such as
 * "did the server send B at most three times what it received from B?" (RFC 9000 §8).
 * Datagrams an injector creates are not "sent" by any host, but they are "received". */
#ifndef RQ_SIM_LEDGER_H
#define RQ_SIM_LEDGER_H

#include "sim.h"

typedef struct sim_ledger sim_ledger;

/* Totals for one pair or one address. */
typedef struct sim_ledger_sums {
    uint64_t sent_bytes, sent_dgrams; /* emitted by a host */
    uint64_t recv_bytes, recv_dgrams; /* delivered to a host's node */
} sim_ledger_sums;

/* The sim's ledger (owned by the sim). */
sim_ledger *sim_get_ledger(sim *s);

/* Totals for datagrams with exactly this source and destination (ports included). */
sim_ledger_sums sim_ledger_pair(const sim_ledger *l, const rq_addr *src, const rq_addr *dst);

/* Totals for datagrams from `a` (as source) and to `a` (as destination). A port of 0 in `a`
 * matches every port of that IP address. Either output may be NULL. */
void sim_ledger_addr(const sim_ledger *l, const rq_addr *a, sim_ledger_sums *from,
                     sim_ledger_sums *to);

/* Grand totals over all pairs. */
sim_ledger_sums sim_ledger_total(const sim_ledger *l);

/* Books a datagram a host sent (sent = true) or received. Errors: RQ_ERR_NOMEM. */
int sim_ledger_book(sim_ledger *l, const rq_addr *src, const rq_addr *dst, size_t len, bool sent);

/* Creation and release (by the sim). */
int sim_ledger_create(sim_ledger **out);
void sim_ledger_destroy(sim_ledger *l);

#endif
