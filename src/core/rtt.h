/* Round-trip time estimation for one network path (RFC 9002 §5).
 *
 * An rq_rtt is a plain value owned by the path it measures: a connection with several paths
 * has one per path, and a new path starts from rq_rtt_init (RFC 9000 §9.4). Samples come from
 * the recovery module (src/core/recovery.h), which routes each sample to the estimator of the
 * path the sampled packet was sent on. Nothing here allocates or fails.
 */
#ifndef RQ_CORE_RTT_H
#define RQ_CORE_RTT_H

#include <stdbool.h>
#include <stdint.h>

#include <roamquic/types.h>

/* RFC 9002 §6.1.2: timer granularity, 1 ms. */
#define RQ_K_GRANULARITY RQ_MS
/* RFC 9002 §6.2.2: the RTT assumed before the first sample, 333 ms. */
#define RQ_K_INITIAL_RTT (333 * RQ_MS)

typedef struct rq_rtt {
    rq_time latest_rtt;   /* the most recent sample, 0 before the first */
    rq_time smoothed_rtt; /* exponentially weighted moving average */
    rq_time rttvar;       /* mean deviation */
    rq_time min_rtt;      /* smallest sample seen, never adjusted for ack delay; 0 before any */
    rq_time first_sample_time; /* when the first sample was taken (RFC 9002 §7.6.2) */
    bool has_sample;
} rq_rtt;

/* Puts `r` in its initial state: smoothed_rtt = kInitialRtt, rttvar = kInitialRtt / 2, no
 * sample (RFC 9002 §5.3, §6.2.2). Call when a path is created, and to reset a path's estimator
 * when the peer's address changes beyond a port change (RFC 9000 §9.4). */
void rq_rtt_init(rq_rtt *r);

/* Seeds a path's estimator that has no sample yet with an initial RTT other than kInitialRtt,
 * e.g. the PATH_CHALLENGE → PATH_RESPONSE round trip of a new path (RFC 9002 §6.2.2 allows it:
 * smoothed_rtt = initial_rtt, rttvar = initial_rtt / 2). This is not an RTT sample: min_rtt,
 * latest_rtt and first_sample_time stay unset and has_sample false, so the first ACK-based
 * sample still replaces everything (§5.3) and no persistent congestion period can start before
 * it (§7.6.2). Does nothing once the estimator has a sample, or when initial_rtt is 0. */
void rq_rtt_seed(rq_rtt *r, rq_time initial_rtt);

/* Feeds one RTT sample (RFC 9002 §5.1, §5.3).
 *   latest_rtt   now − send time of the largest newly acknowledged packet;
 *   ack_delay    the peer's decoded ACK Delay (0 to ignore it, e.g. for Initial packets);
 *   max_ack_delay the peer's max_ack_delay transport parameter;
 *   handshake_confirmed  whether ack_delay is to be capped by max_ack_delay;
 *   now          the time of the sample (kept for persistent congestion, §7.6.2).
 * The caller decides whether a sample is taken at all (§5.1); recovery.c does. */
void rq_rtt_update(rq_rtt *r, rq_time latest_rtt, rq_time ack_delay, rq_time max_ack_delay,
                   bool handshake_confirmed, rq_time now);

/* smoothed_rtt + max(4 × rttvar, kGranularity): the PTO period before max_ack_delay and
 * backoff are added (RFC 9002 §6.2.1). */
rq_time rq_rtt_pto_base(const rq_rtt *r);

/* The time threshold of loss detection: 9/8 × max(smoothed_rtt, latest_rtt), at least
 * kGranularity (RFC 9002 §6.1.2). */
rq_time rq_rtt_loss_delay(const rq_rtt *r);

/* The persistent congestion duration (RFC 9002 §7.6.1):
 * (smoothed_rtt + max(4 × rttvar, kGranularity) + max_ack_delay) × 3. */
rq_time rq_rtt_persistent_congestion_duration(const rq_rtt *r, rq_time max_ack_delay);

#endif
