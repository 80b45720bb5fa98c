/* A roamquic endpoint as a simulator node, with a small scripted application: a client that
 * connects and uploads `to_send` bytes of a known pattern on one stream, and a server that
 * reads every stream and checks the bytes against that pattern. Tests read the outcome from
 * the struct. */
#ifndef RQ_SIM_QNODE_H
#define RQ_SIM_QNODE_H

#include "epglue.h"
#include "host.h"
#include "rng.h"
#include "sim.h"

#include <roamquic/roamquic.h>

typedef struct sim_qnode {
    sim *s;
    sim_host *host;
    rq_endpoint *ep;
    rq_config *cfg;
    sim_rng rng;
    rq_addr addr; /* the node's address and port */
    rq_conn *conn;

    /* Client script: upload to_send bytes on one bidirectional stream, then FIN. */
    uint64_t to_send;
    uint64_t sent;
    int64_t stream;
    bool fin_written;

    /* Outcome. */
    bool connected;
    bool closed;
    uint64_t close_code;
    bool close_app;
    bool close_by_peer;
    uint64_t received;
    uint64_t bad_bytes; /* received bytes that differ from the pattern */
    bool fin_received;
    unsigned accepted; /* server: connections accepted */
    unsigned streams_opened;
    sim_epglue glue; /* the node operations (epglue.h) */
} sim_qnode;

/* The byte at offset `off` of every test stream. */
static inline uint8_t sim_qnode_pattern(uint64_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13);
}

/* Makes the node: an endpoint with cfg (borrowed; the node frees it in sim_qnode_free if
 * own_cfg), a host named `name` with address `addr` on one interface. */
int sim_qnode_new(sim *s, const char *name, rq_config *cfg, const rq_addr *addr, sim_qnode **out);
void sim_qnode_free(sim_qnode *n);

/* Client: connects to `server` (its address and port) and starts the script. */
int sim_qnode_connect(sim_qnode *n, const rq_addr *server, const char *sni, uint64_t to_send);

/* Configurations for tests: a server with the committed test certificate, a client that
 * trusts the test CA. ALPN "rq-test". */
rq_config *sim_qnode_server_config(void);
rq_config *sim_qnode_client_config(void);

#endif
