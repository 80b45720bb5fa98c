/* The connection IDs of one connection (RFC 9000 §5.1, §19.15, §19.16): the ones we issue to
 * the peer (sequence numbers, stateless reset tokens, NEW_CONNECTION_ID to send, retirement
 * by the peer) and the ones the peer issued to us (which one we send to, Retire Prior To,
 * RETIRE_CONNECTION_ID to send, the tokens a Stateless Reset is recognised by).
 *
 * Bounded: at most RQ_CIDS_MAX_LOCAL issued and RQ_CIDS_MAX_PEER held from the peer at once,
 * and RQ_CIDS_MAX_RETIRING retirements awaiting acknowledgement (at least twice the limit,
 * RFC 9000 §5.1.2); a peer that would make us exceed those gets CONNECTION_ID_LIMIT_ERROR.
 * No allocation. The endpoint's routing table is the caller's business: functions that add or
 * retire one of our CIDs say which, so the caller can update it. */
#ifndef RQ_CORE_CIDS_H
#define RQ_CORE_CIDS_H

#include "core/cid.h"
#include "core/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RQ_CIDS_MAX_LOCAL    8
#define RQ_CIDS_MAX_PEER     8
#define RQ_CIDS_MAX_RETIRING (2 * RQ_CIDS_MAX_PEER)

typedef struct rq_local_cid {
    uint64_t seq;
    rq_cid cid;
    uint8_t token[RQ_RESET_TOKEN_LEN];
    bool send_pending; /* NEW_CONNECTION_ID to send (again) */
    bool acked;        /* the peer has it */
} rq_local_cid;

typedef struct rq_peer_cid {
    uint64_t seq;
    rq_cid cid;
    uint8_t token[RQ_RESET_TOKEN_LEN];
    bool has_token;
    int path; /* the path that sends with it, -1 while unused (RFC 9000 §9.5: one per path) */
} rq_peer_cid;

typedef struct rq_retiring {
    uint64_t seq;
    bool send_pending; /* RETIRE_CONNECTION_ID to send (again) */
} rq_retiring;

typedef struct rq_cids {
    rq_local_cid local[RQ_CIDS_MAX_LOCAL];
    size_t nlocal;
    uint64_t next_seq;  /* the next sequence number we issue */
    uint64_t local_rpt; /* the Retire Prior To we send: the peer retires all below it */
    rq_peer_cid peer[RQ_CIDS_MAX_PEER];
    size_t npeer;
    uint64_t peer_rpt;    /* the largest Retire Prior To received (RFC 9000 §19.15) */
    uint64_t local_limit; /* our active_connection_id_limit (<= RQ_CIDS_MAX_PEER) */
    rq_retiring retiring[RQ_CIDS_MAX_RETIRING];
    size_t nretiring;
} rq_cids;

/* Starts empty. local_limit: the active_connection_id_limit we advertise (clamped to
 * RQ_CIDS_MAX_PEER). */
void rq_cids_init(rq_cids *c, uint64_t local_limit);

/* Our handshake CID, sequence 0 (RFC 9000 §5.1.1): already known to the peer. */
void rq_cids_set_local0(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN]);

/* The peer's handshake CID, sequence 0, with its reset token if the peer is a server (it
 * comes in the transport parameters, §10.3); token may be NULL. Replaces any earlier one. */
void rq_cids_set_peer0(rq_cids *c, const rq_cid *cid, const uint8_t *token);

/* The DCID path path_id sends with; false when it has none. */
bool rq_cids_path_dcid(const rq_cids *c, int path_id, rq_cid *out);

/* Gives path_id an unused peer CID (the lowest sequence number), for a new path (RFC 9000
 * §9.5: never one another path uses). Returns 0, or RQ_ERR_AGAIN when the peer has given no
 * spare one (the path must wait for NEW_CONNECTION_ID, MIG-9.5-06). */
int rq_cids_take_unused(rq_cids *c, int path_id, rq_cid *out);

/* Retires the peer CIDs path_id used (RFC 9000 §5.1.2: once a path is no longer used),
 * queuing RETIRE_CONNECTION_ID. Returns 0 or RQ_ERR_CONNECTION_ID_LIMIT. */
int rq_cids_retire_path(rq_cids *c, int path_id);
/* Starts a rotation (RFC 9000 §5.1.2): every CID issued so far is to be retired by the peer
 * (Retire Prior To = the next sequence number); rq_cids_room then counts only the new ones.
 * RQ_ERR_AGAIN while CIDs of the previous rotation are still not retired (MIG-5.1.2-06). */
int rq_cids_rotate(rq_cids *c);
/* The peer CIDs path `from` used are now path `to`'s (a path that borrowed its CID outlives
 * the one it borrowed from). */
void rq_cids_hand_over(rq_cids *c, int from, int to);

/* How many peer CIDs are unused (spares for new paths). */
size_t rq_cids_spare(const rq_cids *c);

/* How many more CIDs we may issue now: the peer's limit (and ours) minus the ones active. */
size_t rq_cids_room(const rq_cids *c, uint64_t peer_limit);

/* Records a CID we issue (the caller made it unique and routes it): it gets the next
 * sequence number (§5.1.1: one more than the previous) and a NEW_CONNECTION_ID is queued.
 * Returns 0 or RQ_ERR_LIMIT. */
int rq_cids_issue(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN]);

/* Like rq_cids_issue, for the CID carried in the preferred_address transport parameter
 * (sequence 1, RFC 9000 §5.1.1): no NEW_CONNECTION_ID is queued for it. */
int rq_cids_issue_in_tp(rq_cids *c, const rq_cid *cid, const uint8_t token[RQ_RESET_TOKEN_LEN]);

/* RETIRE_CONNECTION_ID from the peer (§19.16), carried in a packet sent to pkt_dcid. On
 * success *retired holds the CID to stop routing (retired is 0 when it was already gone).
 * Errors: RQ_ERR_PROTOCOL_VIOLATION (a sequence number never issued, or the CID the packet
 * itself was sent to). */
int rq_cids_on_retire(rq_cids *c, uint64_t seq, const rq_cid *pkt_dcid, rq_cid *retired,
                      bool *found);

/* NEW_CONNECTION_ID from the peer (§19.15, §5.1.2), already checked by the frame decoder
 * (length 1..20, Retire Prior To <= sequence). Retires what Retire Prior To covers (queuing
 * RETIRE_CONNECTION_ID) before adding; *orphaned gets a bit per path whose CID was retired
 * (the caller gives each a new one with rq_cids_take_unused). Errors: RQ_ERR_PROTOCOL_VIOLATION (a
 * sequence number reused with other contents, or a CID value reused with another sequence number),
 * RQ_ERR_CONNECTION_ID_LIMIT (more active than our limit, or more retirements pending than we
 * track). */
int rq_cids_on_new(rq_cids *c, uint64_t seq, uint64_t rpt, const rq_cid *cid,
                   const uint8_t token[RQ_RESET_TOKEN_LEN], uint32_t *orphaned);

/* Whether a datagram ends with the reset token of one of the peer's active CIDs (§10.3.1;
 * retired CIDs' tokens no longer count). Constant time per token. */
bool rq_cids_reset_matches(const rq_cids *c, const uint8_t *dg, size_t len);

/* ---- frames to send ---- */

/* The next NEW_CONNECTION_ID due (encoder form, with our current Retire Prior To, 0); false if
 * none. */
bool rq_cids_next_new(const rq_cids *c, rq_frame *f);
/* The next RETIRE_CONNECTION_ID due; false if none. */
bool rq_cids_next_retire(const rq_cids *c, rq_frame *f);
/* A NEW_CONNECTION_ID / RETIRE_CONNECTION_ID for seq was sent, acknowledged or lost. */
void rq_cids_on_new_sent(rq_cids *c, uint64_t seq);
void rq_cids_on_new_acked(rq_cids *c, uint64_t seq);
void rq_cids_on_new_lost(rq_cids *c, uint64_t seq);
void rq_cids_on_retire_sent(rq_cids *c, uint64_t seq);
void rq_cids_on_retire_acked(rq_cids *c, uint64_t seq);
void rq_cids_on_retire_lost(rq_cids *c, uint64_t seq);

#endif
