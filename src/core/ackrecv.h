/* Received packet numbers and ACK generation for one packet number space (RFC 9000 §13.2,
 * §12.3).
 *
 * Per space the connection keeps one rq_ackrecv (a plain value, no allocation):
 *   after decrypting a packet       rq_ackrecv_is_duplicate  (drop it if true, §12.3)
 *   after processing its frames     rq_ackrecv_on_packet     (schedules the ACK, §13.2.1-2)
 *   when building a packet          rq_ackrecv_deadline / rq_ackrecv_wants_ack, then
 *                                   rq_ackrecv_build → rq_frame_encode, and once the packet
 *                                   is sent rq_ackrecv_on_ack_sent
 *   when that packet is acknowledged rq_ackrecv_on_ack_acked with the frame's largest (§13.2.4)
 *
 * State is bounded: at most RQ_ACKRECV_MAX_RANGES ranges. When a new range would exceed it,
 * the oldest (lowest) range is dropped and the duplicate floor rises above it: packets below
 * the floor are treated as duplicates (RFC 9000 §12.3 allows a minimum packet number below
 * which everything is dropped; §13.2.3 allows not acknowledging old ranges). The same floor
 * implements §13.2.4: once an ACK frame we sent is acknowledged, nothing at or below its
 * Largest Acknowledged is reported again, nor accepted again (§13.2.3 requires one or the
 * other: "retain an ACK Range unless it can ensure that it will not subsequently accept
 * packets with numbers in that range").
 */
#ifndef RQ_CORE_ACKRECV_H
#define RQ_CORE_ACKRECV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roamquic/error.h>
#include <roamquic/types.h>

#include "core/frame.h"
#include "core/pkt_type.h"
#include "core/pn.h"

/* The range cap (see above): 32 ranges is an ACK frame of at most ~ 32 × 2 × 8 bytes. */
#define RQ_ACKRECV_MAX_RANGES 32
/* RFC 9000 §13.2.2: acknowledge after at least this many ack-eliciting packets. */
#define RQ_ACKRECV_ACK_ELICITING_THRESHOLD 2
/* RFC 9000 §18.2: ack_delay_exponent values above 20 are invalid. */
#define RQ_ACK_DELAY_EXPONENT_MAX 20

typedef struct rq_ackrecv {
    rq_ack_range ranges[RQ_ACKRECV_MAX_RANGES]; /* descending; ranges[0] holds the largest */
    size_t nranges;
    uint64_t floor; /* packet numbers below are duplicates and never reported */
    /* RFC 9000 §13.2.4: below this the peer has seen our ACKs acknowledged, so the ranges are
     * no longer reported; they are still kept, since a packet that took a slower path may
     * still fill a gap there (and must then be processed and reported, not dropped). */
    uint64_t report_floor;
    uint64_t largest;               /* largest packet number received, RQ_PN_NONE if none */
    rq_time largest_time;           /* when `largest` was received */
    uint64_t largest_ack_eliciting; /* RQ_PN_NONE if none */
    unsigned ack_eliciting_unacked; /* ack-eliciting packets since the last ACK sent */
    bool unreported;                /* a packet arrived since the last ACK sent */
    rq_time deadline;               /* when an ACK is due, RQ_TIME_NEVER if none is owed */
    rq_time max_ack_delay;          /* ours (the value we advertise) */
    rq_pn_space space;
} rq_ackrecv;

/* Empties `a` for `space`. max_ack_delay is our own max_ack_delay transport parameter (only
 * the Application space delays ACKs; 25 ms by default, RFC 9000 §18.2). */
void rq_ackrecv_init(rq_ackrecv *a, rq_pn_space space, rq_time max_ack_delay);

/* Whether a packet with this number was already received, or is below the floor and so
 * treated as received (RFC 9000 §12.3). Call after removing packet protection. */
bool rq_ackrecv_is_duplicate(const rq_ackrecv *a, uint64_t pn);

/* Records packet `pn`, received at `now`, after its frames were processed, and schedules the
 * acknowledgment (RFC 9000 §13.2.1, §13.2.2): an ack-eliciting packet is acknowledged
 * immediately in the Initial and Handshake spaces, when it arrives out of order or after a
 * gap, and when it is the second unacknowledged one; otherwise within max_ack_delay.
 * Non-ack-eliciting packets are recorded but set no deadline. A duplicate changes nothing.
 * Returns 0, or RQ_ERR_INVALID_ARG for pn above 2^62-1. */
int rq_ackrecv_on_packet(rq_ackrecv *a, uint64_t pn, bool ack_eliciting, rq_time now);

/* When an ACK frame is due (RQ_TIME_NEVER if none is owed; a time at or before now means
 * "send one now"). The connection's timer includes it. */
rq_time rq_ackrecv_deadline(const rq_ackrecv *a);

/* Whether there is something new to acknowledge: an ACK may be bundled into any packet being
 * sent anyway (RFC 9000 §13.2.1 never sends an ACK-only packet for non-ack-eliciting
 * packets alone; use the deadline for that). */
bool rq_ackrecv_wants_ack(const rq_ackrecv *a);

/* Fills *f with an ACK frame (array form, ranges written to out[0..out_cap), descending) for
 * every range above the floor, at most out_cap of them — the largest first, older ones left
 * out (RFC 9000 §13.2.3). ack_delay is the time since the largest was received, in
 * microseconds scaled down by ack_delay_exponent (RFC 9000 §13.2.5, §19.3). ECN counts are
 * left 0. out must outlive the use of *f. Changes nothing in `a`.
 * Returns 0, or
 *   RQ_ERR_AGAIN        nothing to acknowledge;
 *   RQ_ERR_INVALID_ARG  out_cap is 0, or ack_delay_exponent above 20. */
int rq_ackrecv_build(const rq_ackrecv *a, rq_time now, unsigned ack_delay_exponent,
                     rq_ack_range *out, size_t out_cap, rq_frame_ack *f);

/* The ACK frame built last was sent: the pending count and the deadline restart. */
void rq_ackrecv_on_ack_sent(rq_ackrecv *a);

/* A packet that carried one of our ACK frames, whose Largest Acknowledged was `largest_acked`,
 * was acknowledged by the peer (RFC 9000 §13.2.4): stop reporting, and stop accepting,
 * packet numbers at or below it. */
void rq_ackrecv_on_ack_acked(rq_ackrecv *a, uint64_t largest_acked);

/* The largest packet number received (RQ_PN_NONE if none), for packet number decoding
 * (RFC 9000 §17.1; §13.2.3 requires keeping it even when ranges are dropped). */
uint64_t rq_ackrecv_largest(const rq_ackrecv *a);

/* Encodes a delay as the ACK Delay field: microseconds >> exponent (RFC 9000 §19.3). */
uint64_t rq_ack_delay_encode(rq_time delay, unsigned exponent);

/* Decodes a peer's ACK Delay field: field × 2^exponent microseconds, in rq_time, saturating
 * at RQ_TIME_NEVER (a peer's value is never trusted to fit). */
rq_time rq_ack_delay_decode(uint64_t field, unsigned exponent);

#endif
