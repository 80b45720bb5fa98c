/* Round-trip time estimation (RFC 9002 §5). */
#include "core/rtt.h"

/* RFC 9002 §7.6.1: kPersistentCongestionThreshold. */
#define RQ_K_PERSISTENT_CONGESTION_THRESHOLD 3

static rq_time sat_add(rq_time a, rq_time b)
{
    return a > RQ_TIME_NEVER - b ? RQ_TIME_NEVER : a + b;
}

void rq_rtt_init(rq_rtt *r)
{
    r->latest_rtt = 0;
    r->min_rtt = 0;
    r->first_sample_time = 0;
    r->has_sample = false;
    /* RFC 9002 §5.3: before any sample, smoothed_rtt = kInitialRtt and rttvar = kInitialRtt/2. */
    r->smoothed_rtt = RQ_K_INITIAL_RTT;
    r->rttvar = RQ_K_INITIAL_RTT / 2;
}

void rq_rtt_seed(rq_rtt *r, rq_time initial_rtt)
{
    /* RFC 9002 §6.2.2: the seed replaces kInitialRtt only; a real sample always wins. */
    if (r->has_sample || initial_rtt == 0)
        return;
    r->smoothed_rtt = initial_rtt;
    r->rttvar = initial_rtt / 2;
}

static void first_sample(rq_rtt *r, rq_time latest_rtt, rq_time now)
{
    /* RFC 9002 §5.3: the first sample sets min_rtt and smoothed_rtt to it, rttvar to half. */
    r->min_rtt = latest_rtt;
    r->smoothed_rtt = latest_rtt;
    r->rttvar = latest_rtt / 2;
    r->first_sample_time = now;
    r->has_sample = true;
}

void rq_rtt_update(rq_rtt *r, rq_time latest_rtt, rq_time ack_delay, rq_time max_ack_delay,
                   bool handshake_confirmed, rq_time now)
{
    r->latest_rtt = latest_rtt;
    if (!r->has_sample) {
        first_sample(r, latest_rtt, now);
        return;
    }
    /* RFC 9002 §5.2: min_rtt takes the raw sample, never one reduced by ack delay. */
    if (latest_rtt < r->min_rtt)
        r->min_rtt = latest_rtt;
    /* RFC 9002 §5.3: after handshake confirmation the peer's ack delay counts for at most its
     * max_ack_delay; before it, the reported delay is used as is. */
    if (handshake_confirmed && ack_delay > max_ack_delay)
        ack_delay = max_ack_delay;
    /* RFC 9002 §5.3: subtract the ack delay only if that leaves the sample at or above
     * min_rtt. */
    rq_time adjusted = latest_rtt;
    if (latest_rtt >= sat_add(r->min_rtt, ack_delay))
        adjusted = latest_rtt - ack_delay;
    /* RFC 9002 §5.3: rttvar uses the smoothed_rtt from before this sample. */
    rq_time dev =
        r->smoothed_rtt > adjusted ? r->smoothed_rtt - adjusted : adjusted - r->smoothed_rtt;
    r->rttvar = (3 * r->rttvar + dev) / 4;
    r->smoothed_rtt = (7 * r->smoothed_rtt + adjusted) / 8;
}

rq_time rq_rtt_pto_base(const rq_rtt *r)
{
    rq_time var = 4 * r->rttvar;
    if (var < RQ_K_GRANULARITY)
        var = RQ_K_GRANULARITY;
    return sat_add(r->smoothed_rtt, var);
}

rq_time rq_rtt_loss_delay(const rq_rtt *r)
{
    rq_time base = r->smoothed_rtt > r->latest_rtt ? r->smoothed_rtt : r->latest_rtt;
    /* RFC 9002 §6.1.2: kTimeThreshold = 9/8, and never below kGranularity. */
    rq_time d = base + base / 8;
    return d < RQ_K_GRANULARITY ? RQ_K_GRANULARITY : d;
}

rq_time rq_rtt_persistent_congestion_duration(const rq_rtt *r, rq_time max_ack_delay)
{
    rq_time d = sat_add(rq_rtt_pto_base(r), max_ack_delay);
    return d > RQ_TIME_NEVER / RQ_K_PERSISTENT_CONGESTION_THRESHOLD
               ? RQ_TIME_NEVER
               : d * RQ_K_PERSISTENT_CONGESTION_THRESHOLD;
}
