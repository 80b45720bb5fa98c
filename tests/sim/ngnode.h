/* An ngtcp2 endpoint (Debian's libngtcp2 0.12 with its GnuTLS crypto helper) as a simulator
 * node: an independent QUIC implementation at the other end of simulated links, so that
 * roamquic is proved against someone else's reading of RFC 9000/9001/9002, not only its own.
 *
 * The scripted application is qnode's (qnode.h): a client that uploads `to_send` bytes of
 * sim_qnode_pattern() on one bidirectional stream and then FIN, and a server that reads every
 * stream and checks each byte against the pattern at its offset. One connection per node.
 *
 * Determinism: ngtcp2's randomness (CIDs, reset tokens, PATH_CHALLENGE data) comes from a
 * sim_rng stream named after the node, and its clock is the sim clock. GnuTLS keeps its own
 * randomness, so TLS bytes differ from run to run (packet sizes do not: Ed25519 certificates).
 *
 * Debugging: RQ_NG_LOG=1 in the environment prints ngtcp2's own log (every frame it sends
 * and receives, loss detection, congestion state) to stderr, prefixed with the node's name.
 * RQ_NG_CC=reno (or bbr) replaces ngtcp2's default CUBIC, to compare like with like.
 */
#ifndef RQ_SIM_NGNODE_H
#define RQ_SIM_NGNODE_H

#include "host.h"
#include "rng.h"
#include "sim.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_ngnode sim_ngnode;

/* What a test reads from the node. */
typedef struct sim_ngnode_state {
    /* Handshake: ngtcp2's handshake_completed callback ran (for a server that is also
     * handshake confirmation). */
    bool connected;
    char alpn[32];           /* the ALPN GnuTLS negotiated, "" until connected */
    uint32_t version;        /* the negotiated QUIC version, 0 until connected */
    unsigned accepted;       /* server: connections accepted */
    unsigned streams_opened; /* streams the peer opened */

    /* Close: set once the connection ended, by either side. */
    bool closed;
    bool close_by_peer; /* the peer's CONNECTION_CLOSE (draining), else a local error */
    bool close_app;     /* the code is an application error code */
    uint64_t close_code;
    int lib_error; /* the ngtcp2 error (NGTCP2_ERR_*) that closed it locally, else 0 */

    /* Paths (RFC 9000 §8.2, §9): validations ngtcp2 finished, and the addresses of the last
     * datagram it sent. */
    unsigned paths_validated;
    unsigned paths_failed;
    rq_addr last_local, last_remote;
    rq_addr path_local, path_remote; /* ngtcp2's current path (ngtcp2_conn_get_path) */
    bool preferred_offered;          /* client: the server sent a preferred_address (§9.6) */
    /* Server: the CID (sequence 1) it advertised with its preferred address, once accepted. */
    uint8_t preferred_cid[20];
    uint8_t preferred_cid_len;
    uint64_t recv_at_preferred; /* server: datagrams that arrived at a preferred address */
    /* Times ngtcp2's timer stayed in the past after it was handled and the node re-armed it
     * 1 ms later instead of spinning (ngtcp2 0.12 quirk, see ngnode.c node_next_timeout). */
    uint64_t stuck_timers;

    /* Client script. */
    uint64_t to_send;
    uint64_t sent; /* stream bytes handed to ngtcp2 (packed into packets) */
    bool fin_written;
    uint64_t acked; /* stream bytes the peer acknowledged without a gap */

    /* Server script. */
    uint64_t received;
    uint64_t bad_bytes; /* bytes that differ from the pattern */
    uint64_t gaps;      /* deliveries whose offset was not the next expected one */
    bool fin_received;
} sim_ngnode_state;

/* Makes an ngtcp2 node: a host named `name` with address `addr` (IP and UDP port) on one
 * interface. A server loads tests/certs/server.pem and server-key.pem; a client trusts
 * tests/certs/ca.pem and checks the name "localhost". ALPN "rq-test" on both (as
 * sim_qnode_server_config / sim_qnode_client_config). Errors: RQ_ERR_NOMEM,
 * RQ_ERR_CERTIFICATE, RQ_ERR_CRYPTO, RQ_ERR_INVALID_ARG. */
int sim_ngnode_new(sim *s, const char *name, bool server, const rq_addr *addr, sim_ngnode **out);

/* Server: advertises a preferred address (RFC 9000 §9.6.1) in the transport parameters of the
 * connection it accepts: v4 and/or v6 (either may be NULL, not both), with a fresh CID, which
 * ngtcp2 numbers sequence 1, and stateless reset token. With `own` the host also takes the
 * addresses, so that datagrams to them reach the same ngtcp2 connection (with the address they
 * arrived at as the path's local address, which is how ngtcp2 tells the paths apart); without
 * it they are advertised but black holes (datagrams to them are dropped as dst_not_local).
 * Call before the client's first Initial arrives. Errors: RQ_ERR_INVALID_ARG (a client, a
 * connection already accepted, neither address, a family that does not match), RQ_ERR_NOMEM. */
int sim_ngnode_set_preferred_address(sim_ngnode *n, const rq_addr *v4, const rq_addr *v6, bool own);

/* Gives every TLS secret of the node's connection to fn as an NSS key-log line ("LABEL
 * <client random> <secret>", hex), e.g. qtrace_keylog_line, so that a decrypting trace can
 * open this side's packets when they are sent. Call before the connection exists (before
 * sim_ngnode_connect, or before the client's first Initial reaches a server). */
/* Server: use a zero-length source CID (RFC 9000 §5.1); set before the client connects. */
void sim_ngnode_set_zero_length_cid(sim_ngnode *n, bool on);

void sim_ngnode_set_keylog(sim_ngnode *n, void (*fn)(void *ctx, const char *line), void *ctx);

/* Releases the node (after sim_free or before: the host stays in the sim, silent). NULL is
 * ignored. */
void sim_ngnode_free(sim_ngnode *n);

/* Client: connects to `server` with SNI "localhost" and uploads to_send bytes once the
 * handshake completes (0: handshake only). Errors: RQ_ERR_INVALID_ARG (a server node, or
 * already connected), RQ_ERR_NOMEM, RQ_ERR_CRYPTO. */
int sim_ngnode_connect(sim_ngnode *n, const rq_addr *server, uint64_t to_send);

/* Client: starts an active migration to local address `local` (the host must have it:
 * sim_host_add_addr): ngtcp2 probes the new path with PATH_CHALLENGE on a fresh destination CID
 * and moves once it is validated (RFC 9000 §9.2). Errors: RQ_ERR_INVALID_ARG (no connection,
 * a server), RQ_ERR_AGAIN (ngtcp2 refused: handshake not confirmed, or no unused CID from the
 * peer — NGTCP2_ERR_CONN_ID_BLOCKED; the reason is printed). */
int sim_ngnode_migrate(sim_ngnode *n, const rq_addr *local);

/* The outcome so far (owned by the node). */
const sim_ngnode_state *sim_ngnode_get_state(const sim_ngnode *n);

/* The node's host (for sim_connect and datagram counters). */
sim_host *sim_ngnode_host(sim_ngnode *n);

#endif
