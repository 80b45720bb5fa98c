/* Pacing (RFC 9002 §7.7): new data leaves at 1.25 x cwnd / smoothed_rtt instead of in bursts of
 * a whole window, so that a window (an initial one on a new path above all) is spread over the
 * round trip instead of its first few milliseconds. */
#ifndef RQ_CORE_PACER_H
#define RQ_CORE_PACER_H

#include <roamquic/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rq_pacer {
    rq_time next; /* the earliest time the next paced packet may leave */
    bool blocked; /* data waited for the pacer on the last send attempt */
} rq_pacer;

/* Whether a paced packet may leave now. */
static inline bool rq_pacer_ready(const rq_pacer *p, rq_time now)
{
    return p->next <= now;
}

/* A paced packet of `bytes` left at now; cwnd and srtt set the rate. A sender that woke late
 * may catch up on at most 1 ms of the rate (64 packets at most) back to back; a longer pause
 * is not banked. */
void rq_pacer_on_sent(rq_pacer *p, rq_time now, uint64_t cwnd, rq_time srtt, size_t bytes);

#endif
