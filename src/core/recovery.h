/* Loss detection and PTO (RFC 9002 §6, Appendix A) over a ledger of sent packets per packet
 * number space (RFC 9000 §12.3).
 *
 * One rq_recovery per connection holds three ledgers (Initial, Handshake, Application) and the
 * connection-wide PTO backoff. It owns no RTT estimator and no congestion controller: those
 * live in the paths. Each sent packet records the path it went out on, and the connection
 * answers "which estimator is path N's?" through rq_recovery_env.path_rtt. RTT samples go to
 * the sampled packet's path, and loss thresholds and PTO periods use each packet's path.
 *
 * The caller learns what happened through the callbacks in rq_recovery_env (the "sink"):
 *   on_lost        a packet was declared lost (requeue its frames; if in_flight, rq_cc_on_lost
 *                  on its path's controller);
 *   on_acked       a packet was newly acknowledged (if in_flight, rq_cc_on_acked; if it
 *                  carried an ACK frame, rq_ackrecv_on_ack_acked);
 *   on_discarded   the ledger forgot a packet without an outcome (keys discarded, or an
 *                  ACK-only record evicted at the cap): free what its token refers to and, if
 *                  in_flight, rq_cc_on_discarded;
 *   on_persistent_congestion, on_ecn_ce   congestion signals for one path.
 * Within one rq_recovery_on_ack the order is RFC 9002 Appendix A.7's: all on_lost (ascending
 * packet numbers), then on_persistent_congestion, then all on_acked (ascending). Callbacks may
 * be NULL, must not call back into the same rq_recovery, and the record they get is valid only
 * during the call.
 *
 * Memory: each space's ledger is an array grown by doubling up to `max_tracked` records
 * (rq_recovery_init; RQ_RECOVERY_DEFAULT_MAX_TRACKED by default). The peer influences how long
 * records stay (by not acknowledging), never how many exist: the count is bounded by what we
 * send, and rq_recovery_on_sent refuses (RQ_ERR_LIMIT) rather than grow past the cap.
 */
#ifndef RQ_CORE_RECOVERY_H
#define RQ_CORE_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/error.h>
#include <roamquic/types.h>

#include "core/frame.h"
#include "core/pkt_type.h"
#include "core/pn.h"
#include "core/rtt.h"

/* RFC 9002 §6.1.1: kPacketThreshold. */
#define RQ_K_PACKET_THRESHOLD 3
/* Default ledger cap per space: 16384 records of 40 bytes (640 KiB) — 19 MB of 1200-byte
 * packets in flight, above any window this library grows to today. */
#define RQ_RECOVERY_DEFAULT_MAX_TRACKED 16384
/* Persistent congestion is evaluated for at most this many distinct paths per detection; the
 * losses of further paths in the same batch still count as losses (RFC 9002 §7.6.2 allows a
 * sender to be conservative here). */
#define RQ_RECOVERY_PC_PATHS 4

/* One sent packet as the caller describes it to rq_recovery_on_sent and as callbacks report
 * it. */
typedef struct rq_sent_packet {
    uint64_t pn;        /* packet number; strictly increasing per space */
    rq_time time_sent;  /* when it was sent */
    uint64_t token;     /* opaque to recovery: e.g. an index into the connection's frame log */
    uint32_t path_id;   /* the path it was sent on (the caller's numbering) */
    uint32_t size;      /* bytes on the wire, counted in flight when in_flight */
    bool ack_eliciting; /* carries a frame other than ACK, PADDING, CONNECTION_CLOSE */
    bool in_flight;     /* counts toward bytes in flight (ack-eliciting or PADDING) */
} rq_sent_packet;

/* Everything recovery needs from the connection: facts it does not own, and the sink. Passed
 * to every call that may detect, report or arm a timer; read only during the call. */
typedef struct rq_recovery_env {
    /* RFC 9001 §4.1.2: the handshake is confirmed (gates the Application-space PTO and the
     * max_ack_delay cap on ack delay). */
    bool handshake_confirmed;
    /* RFC 9002 §6.2.2.1 / A.6 PeerCompletedAddressValidation(): always true for a server; for a
     * client, true once a Handshake packet was acknowledged or the handshake is confirmed. */
    bool peer_address_validated;
    /* Whether Handshake keys are available (chooses the anti-deadlock probe's space). */
    bool has_handshake_keys;
    /* A server that may send nothing until it receives more (RFC 9000 §8.1): no PTO is armed. */
    bool amplification_blocked;
    /* The peer's max_ack_delay transport parameter (RFC 9000 §18.2), 25 ms by default. */
    rq_time max_ack_delay;
    /* The path a probe would be sent on (the anti-deadlock PTO uses its RTT). */
    uint32_t active_path;

    void *ctx; /* passed to every callback */
    /* The RTT estimator of `path_id`, or NULL when that path is gone: its packets then use a
     * fresh estimator's values (kInitialRtt) and give no RTT sample. NULL callback: the same
     * for every path. */
    rq_rtt *(*path_rtt)(void *ctx, uint32_t path_id);
    void (*on_acked)(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now);
    void (*on_lost)(void *ctx, rq_pn_space space, const rq_sent_packet *p, rq_time now);
    void (*on_discarded)(void *ctx, rq_pn_space space, const rq_sent_packet *p);
    /* RFC 9002 §7.6.2: persistent congestion on this path; call rq_cc_on_persistent_congestion
     * after the on_lost calls have been applied. */
    void (*on_persistent_congestion)(void *ctx, uint32_t path_id, rq_time now);
    /* RFC 9002 §B.7: the ECN-CE count went up; time_sent is the largest acknowledged packet's.
     */
    void (*on_ecn_ce)(void *ctx, uint32_t path_id, rq_time time_sent, rq_time now);
} rq_recovery_env;

/* One packet number space's ledger. Fields are internal; use the functions. */
typedef struct rq_recovery_entry rq_recovery_entry;
typedef struct rq_recovery_space {
    rq_recovery_entry *e; /* e[head..tail) in ascending packet number order */
    size_t head, tail, cap;
    uint64_t next_pn;       /* every packet number sent so far is below this */
    uint64_t largest_acked; /* RQ_PN_NONE (pn.h) until the first ACK */
    /* The same per path (path ids below RQ_RECOVERY_PC_PATHS): the packet threshold compares
     * packets of one path only, since another path's queue may deliver them much later. */
    uint64_t path_largest_acked[RQ_RECOVERY_PC_PATHS];
    rq_time loss_time;               /* RFC 9002 A.3 loss_time; RQ_TIME_NEVER when unset */
    rq_time last_ack_eliciting_time; /* of the last ack-eliciting in-flight packet */
    uint32_t last_ack_eliciting_path;
    uint64_t bytes_in_flight;         /* sum of sizes of in-flight records not yet settled */
    uint64_t ack_eliciting_in_flight; /* count of ack-eliciting in-flight records */
    uint64_t ecn_ce;                  /* largest ECN-CE count the peer reported */
    bool discarded;                   /* keys discarded: refuses new packets */
} rq_recovery_space;

/* What the caller must do after rq_recovery_on_timeout (RFC 9002 §6.2.4, A.9). */
typedef struct rq_recovery_probe {
    unsigned count;     /* 0: nothing to send; else send at least 1, at most `count`,
                           ack-eliciting packets (RFC 9002 §6.2.4) */
    rq_pn_space space;  /* ... in this space (new data, else retransmitted data, else PING) */
    bool anti_deadlock; /* a client's probe with nothing in flight (§6.2.2.1): pad an Initial
                           to 1200 bytes, or send a Handshake packet */
} rq_recovery_probe;

typedef struct rq_recovery {
    rq_recovery_space space[3];
    size_t max_tracked;
    unsigned pto_count; /* RFC 9002 A.3: consecutive PTOs without an acknowledgment */
    rq_time timer;      /* loss detection timer, RQ_TIME_NEVER when not armed */
} rq_recovery;

/* Sets up an empty recovery state, allocating nothing yet. max_tracked bounds each space's
 * ledger (0 selects RQ_RECOVERY_DEFAULT_MAX_TRACKED). Pair with rq_recovery_free. */
void rq_recovery_init(rq_recovery *r, size_t max_tracked);

/* Frees the ledgers without reporting anything (the connection is going away). */
void rq_recovery_free(rq_recovery *r);

/* Records a packet just sent in `space` (RFC 9002 A.5) and re-arms the timer when it is
 * ack-eliciting. *p is copied. The caller also calls rq_cc_on_sent on p->path_id's controller
 * when p->in_flight. When the ledger is at its cap, the oldest record that is neither in
 * flight nor ack-eliciting is forgotten (reported through env->on_discarded) to make room.
 * Returns 0, or
 *   RQ_ERR_INVALID_ARG  p->pn not above every earlier packet number of the space, above
 *                       2^62-1, or the space was discarded;
 *   RQ_ERR_LIMIT        the ledger is full of records that cannot be forgotten: do not send;
 *   RQ_ERR_NOMEM        growing the ledger failed.
 * Nothing changes on error. */
int rq_recovery_on_sent(rq_recovery *r, rq_pn_space space, const rq_sent_packet *p, rq_time now,
                        const rq_recovery_env *env);

/* Processes an ACK or ACK_ECN frame received in `space` (RFC 9002 A.7): marks newly
 * acknowledged packets, takes an RTT sample (§5.1: only if the largest acknowledged is newly
 * acknowledged and some newly acknowledged packet is ack-eliciting), processes the ECN-CE
 * count, detects losses (§6.1), persistent congestion (§7.6), resets the PTO backoff when the
 * peer has validated our address, and re-arms the timer. `ack` may be decoded (raw ranges) or
 * built (array form). ack_delay is the decoded ACK Delay (rq_ack_delay_decode); it is ignored
 * in the Initial space (§5.3 allows it; the exponent is not known yet).
 * Returns 0, or, with nothing changed:
 *   RQ_ERR_PROTOCOL_VIOLATION  the ACK acknowledges a packet number never sent in this space
 *                              (RFC 9000 §13.1: close the connection with this error);
 *   RQ_ERR_FRAME_ENCODING      the ranges are malformed (array form not descending, ...);
 *   RQ_ERR_INVALID_ARG         the space was discarded. */
int rq_recovery_on_ack(rq_recovery *r, rq_pn_space space, const rq_frame_ack *ack,
                       rq_time ack_delay, rq_time now, const rq_recovery_env *env);

/* When the loss detection timer fires (RQ_TIME_NEVER when not armed). Call on_timeout at or
 * after this time. */
rq_time rq_recovery_deadline(const rq_recovery *r);

/* Recomputes the timer (RFC 9002 A.8 SetLossDetectionTimer). The other calls do this
 * themselves; call it when an env fact changes: handshake confirmed, peer address validated,
 * anti-amplification limit lifted (A.6 OnDatagramReceived), Handshake keys installed. */
void rq_recovery_set_timer(rq_recovery *r, rq_time now, const rq_recovery_env *env);

/* Handles the loss detection timer (RFC 9002 A.9). Before the deadline it does nothing
 * (probe->count = 0). Otherwise either declares time-threshold losses (through the sink) or
 * asks for a probe: probe->count ack-eliciting packets in probe->space, which may exceed the
 * congestion window (§6.2.4); the backoff doubles. Always returns 0. */
int rq_recovery_on_timeout(rq_recovery *r, rq_time now, const rq_recovery_env *env,
                           rq_recovery_probe *probe);

/* Discards a space whose keys were discarded (RFC 9002 §6.4, A.11): every record is reported
 * through env->on_discarded (the caller removes in-flight ones from its controller), the
 * space's loss and PTO state is cleared, the backoff reset, the timer re-armed. Further
 * packets in the space are refused. Application data is never discarded this way: returns
 * RQ_ERR_INVALID_ARG for it, else 0. */
int rq_recovery_discard_space(rq_recovery *r, rq_pn_space space, rq_time now,
                              const rq_recovery_env *env);

/* After a migration, stops counting the in-flight packets of `path_id` (RFC 9000 §9.4: packets
 * sent on the old path do not count toward the new path's congestion control or RTT). The
 * records stay, so that acknowledgments and losses of their frames are still reported, but
 * they are no longer in flight (their on_acked/on_lost report in_flight = false), give no RTT
 * sample and arm no PTO. Stores the bytes removed in *bytes (may be NULL): pass them to
 * rq_cc_on_discarded on that path's controller, or reset it. Re-arms the timer. */
void rq_recovery_detach_path(rq_recovery *r, uint32_t path_id, rq_time now,
                             const rq_recovery_env *env, uint64_t *bytes);

/* In-flight bytes of `space` not yet acknowledged, lost or discarded. */
/* The packets of path `from` become path `to`'s (a NAT rebinding that changed only the port:
 * the same network path, RFC 9000 §9.4); *bytes receives those in flight. */
void rq_recovery_move_path(rq_recovery *r, uint32_t from, uint32_t to, uint64_t *bytes);

/* Declares every packet still in flight on `path_id` lost at once: the path was left without
 * ever being validated (a spoofed address, a probe that failed), so nothing sent there is
 * expected to arrive, and waiting for the loss timers would stall the connection. */
void rq_recovery_lose_path(rq_recovery *r, uint32_t path_id, rq_time now,
                           const rq_recovery_env *env);

uint64_t rq_recovery_bytes_in_flight(const rq_recovery *r, rq_pn_space space);

/* In-flight bytes of one path across all spaces (linear in the ledger size). */
uint64_t rq_recovery_path_bytes_in_flight(const rq_recovery *r, uint32_t path_id);

/* Whether any ack-eliciting packet is in flight in any space. */
bool rq_recovery_ack_eliciting_in_flight(const rq_recovery *r);

/* The largest packet number the peer acknowledged in `space`, or RQ_PN_NONE (for packet
 * number encoding, RFC 9000 §17.1). */
uint64_t rq_recovery_largest_acked(const rq_recovery *r, rq_pn_space space);

/* The PTO backoff exponent (RFC 9002 §6.2.1 pto_count). */
unsigned rq_recovery_pto_count(const rq_recovery *r);

/* Copies the unsettled record for packet number pn of `space` into *out; false if none. */
bool rq_recovery_find(const rq_recovery *r, rq_pn_space space, uint64_t pn, rq_sent_packet *out);

/* Verifies internal invariants: ascending packet numbers, and bytes_in_flight and the
 * ack-eliciting count equal to the sums over unsettled records. Returns 0 or RQ_ERR_INTERNAL.
 * For tests and fuzzers (linear time). */
int rq_recovery_check(const rq_recovery *r);

#endif
