/* Transfer stalls: a roamquic endpoint as a simulator node running one bulk transfer in either
 * direction, hash-verified, with the receiving application's delivery timeline; and the stall
 * metric of the migration scenarios (test_scenarios.c) computed from it.
 *
 * The transfer: the client opens one bidirectional stream as soon as it is connected and
 * writes `upload` bytes then FIN; the server answers on the same stream with `download` bytes
 * then FIN. Byte `off` of either direction is scn_pattern(salt, off). Each side hashes what it
 * wrote and what it read (a 64-bit hash over the bytes in stream order), counts read bytes that
 * differ from the pattern, and the transfer is verified when both directions are complete
 * (FIN read, every byte read, no bad byte) and each receiver's hash equals its sender's.
 *
 * The delivery timeline: every time the receiving application has read at least
 * SCN_DELIVERY_BYTES new bytes since the last delivery, it records one (virtual time, bytes
 * read so far). The stall after an event at time t is the longest gap between successive
 * deliveries counted from the last delivery at or before t to the end of the transfer — in
 * virtual time, to be divided by the smoothed RTT before the event.
 */
#ifndef RQ_SIM_STALL_H
#define RQ_SIM_STALL_H

#include "epglue.h"
#include "host.h"
#include "rng.h"
#include "sim.h"

#include <roamquic/roamquic.h>

#define SCN_DELIVERY_BYTES 1000u

typedef struct scn_delivery {
    rq_time t;
    uint64_t bytes; /* read so far */
} scn_delivery;

/* A streaming 64-bit hash (stall.c); scn_hash_final gives its value. */
typedef struct scn_hash {
    uint64_t h;
    uint8_t buf[8]; /* a partial word */
    unsigned fill;
} scn_hash;

uint64_t scn_hash_final(const scn_hash *st);

typedef struct scn_node {
    sim *s;
    sim_host *host;
    rq_endpoint *ep;
    rq_config *cfg; /* owned */
    sim_rng rng;
    rq_addr addr; /* the handshake's local address */
    rq_conn *conn;
    bool is_client;
    uint64_t salt; /* of the byte pattern */

    /* The script: what this side sends on the stream (client: upload, server: download). */
    uint64_t to_send;
    int64_t stream; /* -1 until opened / seen */
    uint64_t sent;
    bool fin_written;
    scn_hash tx_hash;
    uint8_t gen[16384]; /* pattern bytes from stream offset gen_off, gen_len of them */
    uint64_t gen_off;
    size_t gen_len;

    /* What this side reads. */
    uint64_t received;
    uint64_t bad_bytes;
    bool fin_read;
    scn_hash rx_hash;
    scn_delivery *deliveries;
    size_t ndeliveries, cap_deliveries;
    uint64_t delivered; /* bytes counted in the last delivery */

    /* Outcome and events. */
    bool connected;
    rq_time connected_at;
    bool closed;
    rq_time closed_at;
    uint64_t close_code;
    bool close_app, close_by_peer;
    unsigned path_validated, path_failed, path_active; /* RQ_EV_PATH_* counts */
    rq_time last_path_active;
    int error;       /* the first unexpected API error (or RQ_ERR_NOMEM of the timeline) */
    sim_epglue glue; /* the node operations (epglue.h) */
} scn_node;

/* Byte `off` of a transfer with pattern `salt`. */
static inline uint8_t scn_pattern(uint64_t salt, uint64_t off)
{
    uint64_t x = (off + salt) * 0x9e3779b97f4a7c15ULL;
    return (uint8_t)(x >> 56);
}

/* Makes the node: an endpoint from cfg (owned from then on, freed in scn_node_free, also on
 * failure), a host named `name` with n_ifaces interfaces and `addr` on interface 0. The node's
 * randomness comes from the sim's seed and its name. */
int scn_node_new(sim *s, const char *name, rq_config *cfg, unsigned n_ifaces, const rq_addr *addr,
                 scn_node **out);
void scn_node_free(scn_node *n);

/* Server: answer the client's stream with `download` bytes. Client: connect from the node's
 * address to `server` and upload `upload` bytes. Both sides must use the same salt. */
void scn_serve(scn_node *server, uint64_t download, uint64_t salt);
int scn_connect(scn_node *client, const rq_addr *server, const char *sni, uint64_t upload,
                uint64_t salt);

/* Both directions complete (or either side closed or hit an error): the run predicate. */
bool scn_done(const scn_node *client, const scn_node *server);

/* Whether the transfer completed and verified: both directions whole, hashes equal, no bad
 * byte, no close, no error. When not, a one-line reason is written to why. */
bool scn_verified(const scn_node *client, const scn_node *server, uint64_t upload,
                  uint64_t download, char *why, size_t cap);

/* The longest gap between successive deliveries to `rx`, counted from its last delivery at or
 * before `from` (or its first delivery) to its last one; *at (may be NULL) receives the start of
 * that gap. 0 with fewer than two deliveries. */
rq_time scn_stall(const scn_node *rx, rq_time from, rq_time *at);

/* The same over deliveries strictly before `until` only (the steady state before an event). */
rq_time scn_gap_before(const scn_node *rx, rq_time from, rq_time until);

/* Percentiles of a sample (nearest rank: the smallest value with at least p of the sample at
 * or below it). Sorts v in place; 0 for an empty sample. */
double scn_percentile(double *v, size_t n, double p);

/* Smoothed RTT of the connection's active path (0 without a connection). */
rq_time scn_srtt(const scn_node *n);

#endif
