/* NewReno congestion control (RFC 9002 §7 and Appendix B) behind the rq_cc interface. */
#include <assert.h>

#include "core/cc.h"

static void remove_bytes(rq_cc *cc, uint64_t bytes)
{
    /* Settling more bytes than were sent is a bookkeeping bug in the caller, never peer input;
     * clamp so that a release build keeps a sane window. */
    assert(bytes <= cc->bytes_in_flight);
    cc->bytes_in_flight = bytes <= cc->bytes_in_flight ? cc->bytes_in_flight - bytes : 0;
}

/* RFC 9002 §7.3.2: a packet sent at or before the start of the current recovery period
 * belongs to it. */
static bool in_recovery_for(const rq_cc *cc, rq_time time_sent)
{
    return cc->in_recovery && time_sent <= cc->recovery_start;
}

static void nr_reset(rq_cc *cc, uint64_t max_datagram_size)
{
    cc->max_datagram_size = max_datagram_size;
    /* RFC 9002 §7.2: start from the initial window, in slow start (§7.3.1). */
    cc->cwnd = rq_cc_initial_window(max_datagram_size);
    cc->ssthresh = UINT64_MAX;
    cc->bytes_in_flight = 0;
    cc->recovery_start = 0;
    cc->in_recovery = false;
    cc->cwnd_limited = false;
    cc->algo.newreno.ca_acked = 0;
}

static void nr_on_sent(rq_cc *cc, uint64_t bytes, rq_time now)
{
    (void)now;
    cc->bytes_in_flight += bytes;
    /* RFC 9002 §7.8: the window counts as fully used once another full-sized datagram no
     * longer fits; only then may acknowledgments grow it. */
    if (rq_cc_bytes_available(cc) < cc->max_datagram_size)
        cc->cwnd_limited = true;
}

static void nr_on_acked(rq_cc *cc, uint64_t bytes, rq_time time_sent, const rq_rtt *rtt,
                        rq_time now)
{
    (void)rtt;
    (void)now;
    remove_bytes(cc, bytes);
    /* RFC 9002 §7.8: no growth while application- or flow-control-limited. */
    if (!cc->cwnd_limited)
        return;
    /* RFC 9002 §7.3.2: no growth for packets sent before the recovery period began. */
    if (in_recovery_for(cc, time_sent))
        return;
    if (cc->cwnd < cc->ssthresh) {
        /* RFC 9002 §7.3.1: slow start grows the window by the bytes acknowledged. */
        cc->cwnd += bytes;
        return;
    }
    /* RFC 9002 §7.3.3: congestion avoidance adds one maximum datagram per window of bytes
     * acknowledged. A byte counter keeps that exact where the per-ACK formula
     * mds × bytes / cwnd would lose its remainders to integer division. */
    cc->algo.newreno.ca_acked += bytes;
    if (cc->algo.newreno.ca_acked >= cc->cwnd) {
        cc->algo.newreno.ca_acked -= cc->cwnd;
        cc->cwnd += cc->max_datagram_size;
    }
}

static void nr_on_congestion_event(rq_cc *cc, rq_time time_sent, rq_time now)
{
    /* RFC 9002 §7.3.2: one reduction per recovery period; a signal about a packet sent before
     * the period began does not reduce again. */
    if (in_recovery_for(cc, time_sent))
        return;
    cc->in_recovery = true;
    cc->recovery_start = now;
    /* RFC 9002 §7.3.2 / §B.6: halve, but never below the minimum window (§7.2). */
    cc->ssthresh = cc->cwnd * RQ_CC_LOSS_REDUCTION_NUM / RQ_CC_LOSS_REDUCTION_DEN;
    uint64_t min = rq_cc_minimum_window(cc->max_datagram_size);
    cc->cwnd = cc->ssthresh > min ? cc->ssthresh : min;
    cc->algo.newreno.ca_acked = 0;
}

static void nr_on_lost(rq_cc *cc, uint64_t bytes, rq_time time_sent, rq_time now)
{
    remove_bytes(cc, bytes);
    /* RFC 9002 §7.1 / §B.8: the loss of an in-flight packet is a congestion signal. */
    nr_on_congestion_event(cc, time_sent, now);
}

static void nr_on_persistent_congestion(rq_cc *cc, rq_time now)
{
    (void)now;
    /* RFC 9002 §7.6.2 / §B.8: collapse to the minimum window and leave the recovery period,
     * so that slow start resumes up to ssthresh. */
    cc->cwnd = rq_cc_minimum_window(cc->max_datagram_size);
    cc->in_recovery = false;
    cc->recovery_start = 0;
    cc->algo.newreno.ca_acked = 0;
}

static void nr_on_discarded(rq_cc *cc, uint64_t bytes)
{
    remove_bytes(cc, bytes);
}

static void nr_on_app_limited(rq_cc *cc)
{
    if (rq_cc_bytes_available(cc) >= cc->max_datagram_size)
        cc->cwnd_limited = false;
}

static void nr_set_max_datagram_size(rq_cc *cc, uint64_t max_datagram_size)
{
    uint64_t old = cc->max_datagram_size;
    cc->max_datagram_size = max_datagram_size;
    /* RFC 9002 §7.2: while the window is still the initial one, recompute it for the new
     * size (this also lowers it when the size drops to complete the handshake). */
    if (!cc->in_recovery && cc->ssthresh == UINT64_MAX && cc->cwnd == rq_cc_initial_window(old))
        cc->cwnd = rq_cc_initial_window(max_datagram_size);
    uint64_t min = rq_cc_minimum_window(max_datagram_size);
    if (cc->cwnd < min)
        cc->cwnd = min;
}

const rq_cc_ops rq_cc_newreno_ops = {
    .name = "newreno",
    .reset = nr_reset,
    .on_sent = nr_on_sent,
    .on_acked = nr_on_acked,
    .on_lost = nr_on_lost,
    .on_congestion_event = nr_on_congestion_event,
    .on_persistent_congestion = nr_on_persistent_congestion,
    .on_discarded = nr_on_discarded,
    .on_app_limited = nr_on_app_limited,
    .set_max_datagram_size = nr_set_max_datagram_size,
};
