/* The connection: private state shared by conn*.c and endpoint.c.
 *
 * Split by concern:
 *   conn.c        creation, lifetime, timers, events, close and drain (RFC 9000 §10)
 *   conn_tls.c    the TLS pump: secrets to packet keys, transport parameters (§7, §18),
 *                 handshake completion and confirmation, key discard (RFC 9001 §4.9)
 *   conn_recv.c   a datagram's packets: unprotect, dedupe, frames (§12, §13, §19)
 *   conn_send.c   building datagrams: ACK, control, CRYPTO, STREAM frames, padding,
 *                 coalescing, the anti-amplification limit and the congestion window
 *   conn_loss.c   what acknowledgement and loss of a packet mean for its frames (§13.3)
 * A connection has paths (path.h) — one today, several once migration lands — each with its
 * own RTT estimator, congestion controller and anti-amplification counters.
 */
#ifndef RQ_CORE_CONN_H
#define RQ_CORE_CONN_H

#include "core/ackrecv.h"
#include "core/cc.h"
#include "core/cid.h"
#include "core/cids.h"
#include "core/pacer.h"
#include "core/qlog.h"
#include "core/recovery.h"
#include "core/rtt.h"
#include "core/rxbuf.h"
#include "core/sentlog.h"
#include "core/spin.h"
#include "core/streams.h"
#include "core/token.h"
#include "core/tparams.h"
#include "core/txbuf.h"
#include "crypto/crypto.h"
#include "crypto/tls.h"

#include <roamquic/endpoint.h>

#define RQ_MIN_PACKET_ROOM  64 /* no packet is begun in less room than this */
#define RQ_CONN_LINGER_MAX  4  /* retired CIDs of ours still routed (rq_conn.linger) */
#define RQ_MAX_PATHS        4
#define RQ_CLOSE_REASON_MAX 128

typedef struct rq_path {
    bool in_use;
    uint32_t id;
    rq_path_addr addr;
    rq_rtt rtt;
    rq_cc cc;
    /* RFC 9000 §8: before the peer's address is validated, a server sends at most three
     * times what it received on the path. */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    bool validated;
    size_t max_datagram; /* RFC 9000 §14: 1200 until path MTU discovery raises it */

    /* Path validation (RFC 9000 §8.2). Challenges outstanding, newest first; a response to
     * any of them validates the path (§8.2.3), each retransmission carries fresh data. */
    bool validating;
    bool challenge_due; /* a PATH_CHALLENGE should go out on this path now */
    uint8_t challenges[3][8];
    rq_time challenge_times[3];
    uint8_t challenge_small; /* bit k: challenges[k] left in a datagram under 1200 bytes */
    unsigned nchallenges;
    unsigned challenges_sent;    /* in this validation: the backoff exponent */
    rq_time next_challenge;      /* when to challenge again (a PTO later, doubling) */
    rq_time validation_deadline; /* §8.2.4: give up then */
    /* §8.2.2: the answer to the last PATH_CHALLENGE that arrived on this path. */
    bool response_due;
    uint8_t response[8];
    rq_time last_recv; /* the last time a datagram arrived on this path */
    /* The DCID this path sends with (RFC 9000 §9.5); without one, the connection's. */
    rq_cid dcid;
    bool has_dcid;
    bool owns_cid;               /* dcid was taken for this path alone: retire it with the path */
    rq_time challenge_sent;      /* when the first challenge of this validation left */
    rq_time probe_rtt;           /* the PATH_CHALLENGE/PATH_RESPONSE round trip, 0 if none */
    bool preferred;              /* client: towards the server's preferred address (§9.6) */
    bool migrate_when_validated; /* server: the client moved here; follow once validated */
    /* §8.2.1: validated by a challenge the 3x limit kept small; a padded one must still come
     * back, else the path cannot carry 1200-byte datagrams and is given up (§14.2). */
    bool mtu_unproven;
    rq_spin spin; /* spin bit and flow-label key (RFC 9000 §17.4, §9.7; spin.h), lazily started */
    rq_pacer pacer; /* RFC 9002 §7.7 */
} rq_path;

/* One packet number space (RFC 9000 §12.3) with its keys and CRYPTO stream. */
typedef struct rq_space {
    rq_packet_key rx, tx;
    rq_hp_key rx_hp, tx_hp;
    bool has_rx, has_tx;
    bool discarded;
    uint64_t next_pn;
    rq_ackrecv ack;
    rq_rxbuf crypto_rx;
    rq_txbuf crypto_tx;
    unsigned probes_due; /* PTO probes still to send in this space */
} rq_space;

typedef enum rq_conn_state {
    RQ_CONN_HANDSHAKE = 0,
    RQ_CONN_ESTABLISHED = 1,
    RQ_CONN_CLOSING = 2,  /* we sent CONNECTION_CLOSE (RFC 9000 §10.2.1) */
    RQ_CONN_DRAINING = 3, /* the peer closed (§10.2.2) */
    RQ_CONN_CLOSED = 4,   /* gone: waiting for the application to see RQ_EV_CLOSED */
} rq_conn_state;

struct rq_conn {
    rq_endpoint *ep;
    rq_role role;
    rq_conn_state state;
    rq_tls *tls;
    rq_space spaces[3];
    rq_recovery rec;
    rq_sentlog sentlog;
    rq_streams streams;
    rq_path paths[RQ_MAX_PATHS];
    uint32_t active_path;
    uint32_t fallback_path;   /* RFC 9000 §9.3.2: the last validated path, if validation of
                                 a new one fails (== active_path when there is none) */
    uint32_t tx_path;         /* the path of the datagram being built */
    uint32_t rx_path;         /* the path of the datagram being processed */
    rq_addr handshake_remote; /* client: the server address the handshake went to */
    /* Client: PINGs sent since the server last sent an ack-eliciting packet, while streams
     * are open and nothing of ours is in flight (rq_conn_next_timeout, "quiet server"). */
    unsigned quiet_pings;
    uint64_t quiet_lae; /* the largest ack-eliciting packet number seen when last checked */
    /* A datagram from a 4-tuple with no path yet: the path is made only once one of its
     * packets authenticates (RFC 9000 §5.2, MIG-5.2-03: forged datagrams change nothing). */
    bool rx_pending;
    rq_path_addr rx_addr;
    size_t rx_len;
    uint64_t largest_nonprobing; /* §9.3: only the highest-numbered non-probing packet moves us */
    bool has_nonprobing;
    /* Server, after a client followed it to another of its addresses (RFC 9000 §9.6.2): the
     * address left and the largest packet number at the switch. */
    bool has_left_local;
    rq_addr left_local;
    uint64_t left_local_pn;

    /* Connection IDs (RFC 9000 §5.1, §7.2). */
    rq_cids cids; /* issued by us and by the peer, with sequence numbers and tokens */
    /* CIDs of ours the peer retired, still routed here for a while: packets it sent with them
     * before it moved are still in flight, and a Stateless Reset would kill the connection
     * (RFC 9000 §5.1.2, §10.3). */
    struct {
        rq_cid cid;
        rq_time until;
    } linger[RQ_CONN_LINGER_MAX];
    size_t nlinger;
    rq_cid rx_dcid;      /* the DCID of the packet being processed (§19.16) */
    rq_cid scid;         /* ours, sequence 0 */
    rq_cid dcid;         /* the peer's, in use (rq_cids_dcid once the peer's SCID is known) */
    rq_cid odcid;        /* the DCID of the client's first Initial */
    rq_cid initial_dcid; /* what Initial keys derive from (changes after a Retry) */
    rq_cid retry_scid;   /* client: the SCID of the Retry it accepted */
    bool retried;
    bool got_server_scid; /* client: DCID switched to the server's SCID (§7.2) */
    uint8_t retry_token[256];
    size_t retry_token_len;

    rq_tparams local_tp;
    rq_tparams peer_tp;
    bool have_peer_tp;
    rq_time peer_max_ack_delay;

    /* 1-RTT key phases (RFC 9001 §6). spaces[APPLICATION].rx/tx hold the current keys. */
    rq_packet_key rx_next; /* the next phase's read key, derived when first needed */
    rq_packet_key rx_prev; /* the previous phase's, kept for reordered packets */
    bool has_rx_next, has_rx_prev;
    bool rx_phase, tx_phase;
    uint64_t rx_phase_first_pn; /* lowest packet number received in the current phase */
    uint64_t tx_phase_first_pn; /* first packet number sent in the current phase */
    rq_time rx_prev_discard;    /* when rx_prev goes (3 PTO after the update) */
    uint64_t key_updates;       /* completed key updates, for tests and logs */
    rq_aead_integrity integrity;

    bool handshake_complete;
    bool handshake_confirmed;
    bool handshake_done_pending; /* server: HANDSHAKE_DONE to (re)send */
    bool peer_validated_us;      /* client: the server has our address (RFC 9002 A.6) */
    bool ping_pending;
    bool new_token_pending; /* server: a NEW_TOKEN to send (RFC 9000 §8.1.3) */
    /* client: the last NEW_TOKEN received, for a future connection's Initial (the token
     * store that uses it comes with 0-RTT and resumption). */
    uint8_t new_token[RQ_TOKEN_MAX_LEN];
    size_t new_token_len;

    bool send_one; /* RFC 9002 B.6: one packet may leave on entering recovery, window or not */
    bool connected_event_sent;

    /* Timers (RFC 9000 §10.1 idle, §10.2 closing/draining). */
    rq_time created;
    rq_time idle_deadline;
    rq_time close_deadline;
    rq_time keepalive;
    rq_time last_ack_eliciting_sent;
    rq_time handshake_deadline;

    /* Closing (RFC 9000 §10.2). */
    uint64_t close_code;
    uint64_t close_frame_type;
    bool close_app;
    bool close_by_peer;
    bool close_send_pending;
    char close_reason[RQ_CLOSE_REASON_MAX];
    size_t close_reason_len;

    /* The server also routes the client's first DCID here until the handshake is done. */
    rq_cid routed_odcid;
    bool odcid_routed;
    bool reclaim;  /* RQ_EV_CLOSED was polled: free on the next endpoint call */
    rq_qlog *qlog; /* NULL: not logging */
    void *qlog_ctx;
    struct rq_conn *next; /* endpoint's list */
};

/* ---- conn.c ---- */
/* What a new connection starts from. A client sets scid, dcid (its random first DCID) and sni;
 * a server sets scid (its own), dcid (the client's SCID), odcid (the client's first DCID,
 * from the packet or from a Retry token), initial_dcid (the DCID of the client's Initial now:
 * odcid, or the Retry's SCID) and retry_scid when it validated the client with a Retry. */
typedef struct rq_conn_params {
    rq_cid scid, dcid, odcid, initial_dcid;
    const rq_cid *retry_scid;
    const char *sni;
    bool address_validated; /* server: a valid token proved the client's address */
} rq_conn_params;

int rq_conn_new(rq_endpoint *ep, rq_role role, rq_time now, const rq_path_addr *path,
                const rq_conn_params *params, rq_conn **out);
void rq_conn_free(rq_conn *c);
rq_time rq_conn_next_timeout(const rq_conn *c);
void rq_conn_on_timeout(rq_conn *c, rq_time now);
/* Closes with a transport (app=false) or application error: CONNECTION_CLOSE is sent, then
 * the connection drains (RFC 9000 §10.2). */
void rq_conn_close_with(rq_conn *c, rq_time now, uint64_t code, uint64_t frame_type, bool app,
                        const char *reason);
/* Closes after a local or peer-caused error code from any module. */
void rq_conn_fail(rq_conn *c, rq_time now, int err, uint64_t frame_type);
void rq_conn_enter_draining(rq_conn *c, rq_time now);
/* Ends the connection now (RQ_EV_CLOSED); trigger: why, for qlog, when it ends silently. */
void rq_conn_become_closed(rq_conn *c, rq_time now, rq_qlog_close_trigger trigger);
void rq_conn_touch_idle(rq_conn *c, rq_time now);
rq_time rq_conn_pto(const rq_conn *c);
rq_path *rq_conn_active_path(rq_conn *c);
void rq_conn_event(rq_conn *c, rq_event_type type, int64_t stream_id, uint64_t code);
void rq_conn_recovery_env(rq_conn *c, rq_recovery_env *env);
/* A server that may send nothing more on path p until its peer sends (RFC 9000 §8.1). */
bool rq_conn_amplification_blocked(const rq_conn *c, const rq_path *p);

/* ---- conn_qlog.c: the connection's qlog events (all no-ops without a log) ---- */
void rq_conn_qlog_open(rq_conn *c, rq_time now);
void rq_conn_qlog_close(rq_conn *c);
void rq_conn_qlog_packet(rq_conn *c, rq_time now, bool sent, rq_pn_space space, uint64_t pn,
                         size_t length, const rq_frame *frames, size_t nframes);
void rq_conn_qlog_lost(rq_conn *c, rq_time now, rq_pn_space space, uint64_t pn);
void rq_conn_qlog_metrics(rq_conn *c, rq_time now);
void rq_conn_qlog_closed(rq_conn *c, rq_time now, rq_qlog_close_trigger trigger);

/* ---- conn_tls.c ---- */
int rq_conn_tls_pump(rq_conn *c, rq_time now);
int rq_conn_install_initial_keys(rq_conn *c);
void rq_conn_discard_space(rq_conn *c, rq_pn_space space, rq_time now);
void rq_conn_confirm_handshake(rq_conn *c, rq_time now);

/* Issues new CIDs up to the peer's active_connection_id_limit (RFC 9000 §5.1.1), routing
 * each to this connection. */
void rq_conn_issue_cids(rq_conn *c);
/* Keeps a CID the peer retired routed to c for three PTOs (the oldest goes at once when more
 * than RQ_CONN_LINGER_MAX linger). */
void rq_conn_linger_cid(rq_conn *c, const rq_cid *cid, rq_time now);
/* Stops routing the lingering CIDs whose time is up (all of them with now = RQ_TIME_NEVER). */
void rq_conn_linger_expire(rq_conn *c, rq_time now);

/* ---- conn_path.c: paths, path validation, the peer's address changes (RFC 9000 §8, §9) ---- */
/* The path a datagram arrived on; NULL when there is none, with *fresh set when a path may be
 * made for it (rq_conn_path_new, once a packet from it authenticates). */
rq_path *rq_conn_path_find(rq_conn *c, const rq_path_addr *addr, bool *fresh);
/* Makes the path for a new 4-tuple (up to RQ_MAX_PATHS: the least recently used unvalidated
 * non-active one is recycled); NULL when none can be had. */
rq_path *rq_conn_path_new(rq_conn *c, const rq_path_addr *addr, rq_time now);
/* A PATH_CHALLENGE arrived on path p: answer it there (§8.2.2). */
void rq_conn_path_on_challenge(rq_conn *c, rq_path *p, const uint8_t data[8]);
/* A PATH_RESPONSE arrived (on any path, §8.2.2): validates the path whose challenge it echoes. */
void rq_conn_path_on_response(rq_conn *c, const uint8_t data[8], rq_time now);
/* A non-probing packet numbered pn arrived on path p (§9.3): the peer may have moved. */
void rq_conn_path_on_nonprobing(rq_conn *c, rq_path *p, uint64_t pn, rq_time now);
/* Fills a challenge for path p into data (fresh random bytes, §8.2.1). */
int rq_conn_path_new_challenge(rq_conn *c, rq_path *p, uint8_t data[8], rq_time now);
/* The DCID to send with on path p. */
const rq_cid *rq_conn_path_dcid(const rq_conn *c, const rq_path *p);
/* Gives a path its own peer CID when one is spare (0), else RQ_ERR_AGAIN. */
int rq_conn_path_take_cid(rq_conn *c, rq_path *p);
/* After NEW_CONNECTION_ID retired the CIDs of the paths in `orphaned`: new ones for them. */
void rq_conn_paths_reassign_cids(rq_conn *c, uint32_t orphaned);
/* Validation timers: retransmit challenges, give up (§8.2.4, §9.3.2). */
void rq_conn_paths_on_timeout(rq_conn *c, rq_time now);
rq_time rq_conn_paths_next_timeout(const rq_conn *c);

/* Server (RFC 9000 §9.6.2): whether a packet numbered pn that arrived on path p is a newer one
 * at the local address the connection left for its preferred address, to be dropped. */
bool rq_conn_path_left_behind(const rq_conn *c, const rq_addr *local, uint64_t pn);

/* Client, once the handshake is confirmed: starts validating the server's preferred address
 * (RFC 9000 §9.6.1) when it offered one and the configuration follows it; the connection moves
 * there when the address answers. */
void rq_conn_follow_preferred_address(rq_conn *c, rq_time now);
void rq_conn_path_init(rq_path *p, uint32_t id, const rq_path_addr *addr, bool validated);

/* ---- conn_keys.c ---- */
/* Opens a 1-RTT packet whose header protection is removed, choosing the key by its key-phase
 * bit and packet number, and rotates keys when the peer moved to the next phase. Returns 0,
 * RQ_ERR_DECRYPT, or RQ_ERR_AEAD_LIMIT_REACHED (integrity limit: close). */
int rq_conn_open_1rtt(rq_conn *c, uint8_t *pkt, size_t len, size_t hdr_len, uint8_t first,
                      uint64_t pn, size_t *payload_len, rq_time now);
/* Starts a key update if one is allowed (RFC 9001 §6.1). Returns 0, RQ_ERR_AGAIN (not allowed
 * yet) or RQ_ERR_CRYPTO. */
int rq_conn_initiate_key_update(rq_conn *c, rq_time now);
/* Called before sealing 1-RTT packets: starts a key update when the confidentiality limit
 * nears (RFC 9001 §6.6). */
void rq_conn_maybe_update_keys(rq_conn *c, rq_time now);
/* Frees the previous phase's key when its time is up. */
void rq_conn_keys_on_timeout(rq_conn *c, rq_time now);
void rq_conn_keys_free(rq_conn *c);
/* Counts a failed authentication (RFC 9001 §6.6); true when the integrity limit is exceeded. */
bool rq_conn_count_auth_failure(rq_conn *c, rq_aead_alg alg);

/* ---- conn_recv.c ---- */
/* Processes the datagram's packets from `off` on. */
void rq_conn_recv_datagram(rq_conn *c, rq_time now, const rq_path_addr *path, uint8_t *dg,
                           size_t len);

/* Whether dg is a Stateless Reset for this connection (RFC 9000 §10.3.1); if so the connection
 * ends at once. */
bool rq_conn_check_stateless_reset(rq_conn *c, rq_time now, const uint8_t *dg, size_t len);

/* ---- conn_send.c ---- */
/* Writes the connection's next datagram into out; 1 if one was written, 0 if nothing to send. */
int rq_conn_send(rq_conn *c, rq_time now, rq_datagram_out *out);

/* ---- conn_loss.c ---- */
void rq_conn_on_packet_acked(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now);
void rq_conn_on_packet_lost(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now);
void rq_conn_on_packet_discarded(void *ctx, rq_pn_space space, const rq_sent_packet *p);

#endif
