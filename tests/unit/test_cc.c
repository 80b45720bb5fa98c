/* NewReno congestion control (RFC 9002 §7, Appendix B), with window arithmetic by hand. */
#include "core/cc.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#define MDS 1200

/* Sends n full-sized packets at time t. */
static void send_n(rq_cc *cc, int n, rq_time t)
{
    for (int i = 0; i < n; i++)
        rq_cc_on_sent(cc, MDS, t);
}

/* Acknowledges n full-sized packets sent at time_sent. */
static void ack_n(rq_cc *cc, int n, rq_time time_sent, rq_time now)
{
    rq_rtt rtt;
    rq_rtt_init(&rtt);
    for (int i = 0; i < n; i++)
        rq_cc_on_acked(cc, MDS, time_sent, &rtt, now);
}

/* RFC 9002 §7.2: initial window min(10 × mds, max(2 × mds, 14720)); minimum 2 × mds. */
static void test_rfc9002_7_2_initial_and_minimum_window(void)
{
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1200), 12000);
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1500), 14720);
    RQ_CHECK_EQ_U64(rq_cc_initial_window(9000), 18000);
    RQ_CHECK_EQ_U64(rq_cc_minimum_window(1200), 2400);
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, RQ_CC_INITIAL_DATAGRAM_SIZE);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 0);
    RQ_CHECK_EQ_U64(rq_cc_bytes_available(&cc), 12000);
    RQ_CHECK(rq_cc_can_send(&cc, 12000));
    RQ_CHECK(!rq_cc_can_send(&cc, 12001));
}

/* RFC 9002 §7.3.1: slow start grows the window by the bytes acknowledged: 10 packets acked →
 * 12000 + 12000 = 24000. */
static void test_rfc9002_7_3_1_slow_start(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 10, 0);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 12000);
    RQ_CHECK_EQ_U64(rq_cc_bytes_available(&cc), 0);
    ack_n(&cc, 10, 0, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 24000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 0);
}

/* RFC 9002 §7.3.2: a loss halves the window once per recovery period; losses and acks of
 * packets sent before the period began change nothing; a loss of a packet sent after it
 * reduces again. */
static void test_rfc9002_7_3_2_recovery_one_reduction_per_round(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 10, 0);
    ack_n(&cc, 10, 0, 100 * RQ_MS); /* cwnd 24000 */
    send_n(&cc, 20, 200 * RQ_MS);   /* 24000 in flight */
    rq_cc_on_lost(&cc, MDS, 200 * RQ_MS, 300 * RQ_MS);
    RQ_CHECK(cc.in_recovery);
    RQ_CHECK_EQ_U64(cc.recovery_start, 300 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.ssthresh, 12000);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 22800);
    /* Another loss from the same round: no second reduction. */
    rq_cc_on_lost(&cc, MDS, 200 * RQ_MS, 310 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    /* Acks of packets sent before recovery began: no growth. */
    ack_n(&cc, 5, 200 * RQ_MS, 320 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 15600);
    /* A packet sent after recovery began is lost: a new period, 12000 → 6000. */
    rq_cc_on_sent(&cc, MDS, 400 * RQ_MS);
    rq_cc_on_lost(&cc, MDS, 400 * RQ_MS, 500 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 6000);
    RQ_CHECK_EQ_U64(cc.ssthresh, 6000);
    RQ_CHECK_EQ_U64(cc.recovery_start, 500 * RQ_MS);
}

/* RFC 9002 §7.3.3: congestion avoidance adds one datagram per window acknowledged: at
 * cwnd 12000, ten 1200-byte acks (one window, ~one RTT) add exactly 1200; then 11 more. */
static void test_rfc9002_7_3_3_congestion_avoidance(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 10, 0);
    ack_n(&cc, 10, 0, 10 * RQ_MS);                 /* 24000 */
    rq_cc_on_congestion_event(&cc, 0, 20 * RQ_MS); /* e.g. ECN-CE: 24000 → 12000 */
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 0); /* a congestion event moves no bytes */
    send_n(&cc, 10, 30 * RQ_MS);
    ack_n(&cc, 9, 30 * RQ_MS, 60 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    ack_n(&cc, 1, 30 * RQ_MS, 60 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 13200);
    send_n(&cc, 11, 70 * RQ_MS);
    ack_n(&cc, 10, 70 * RQ_MS, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 13200);
    ack_n(&cc, 1, 70 * RQ_MS, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 14400);
}

/* RFC 9002 §7.2 / §B.6: a reduction never goes below 2 × mds. */
static void test_rfc9002_7_2_minimum_window_floor(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    rq_cc_on_congestion_event(&cc, 0, 1); /* 12000 → 6000 */
    rq_cc_on_congestion_event(&cc, 2, 3); /* → 3000 */
    rq_cc_on_congestion_event(&cc, 4, 5); /* 1500 → floor 2400 */
    RQ_CHECK_EQ_U64(cc.ssthresh, 1500);
    RQ_CHECK_EQ_U64(cc.cwnd, 2400);
}

/* RFC 9002 §7.6.2 / §B.8: persistent congestion collapses to the minimum window and ends the
 * recovery period, so slow start resumes. */
static void test_rfc9002_7_6_2_persistent_congestion_window(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 10, 0);
    rq_cc_on_lost(&cc, MDS, 0, 100 * RQ_MS); /* 12000 → 6000, ssthresh 6000 */
    rq_cc_on_persistent_congestion(&cc, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 2400);
    RQ_CHECK(!cc.in_recovery);
    RQ_CHECK_EQ_U64(cc.ssthresh, 6000);
    /* 9 packets still in flight (10800 > 2400): acks of them, sent "before" a now-cleared
     * recovery, grow the window in slow start: 2400 + 1200. */
    ack_n(&cc, 1, 0, 200 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 3600);
}

/* RFC 9002 §7.8: no growth while the window is not fully used. */
static void test_rfc9002_7_8_app_limited_no_growth(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 2, 0); /* 2400 of 12000 */
    RQ_CHECK(!cc.cwnd_limited);
    ack_n(&cc, 2, 0, 50 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    /* Fill the window: growth resumes; then the sender runs dry and says so. */
    send_n(&cc, 10, 60 * RQ_MS);
    RQ_CHECK(cc.cwnd_limited);
    ack_n(&cc, 5, 60 * RQ_MS, 100 * RQ_MS); /* 12000 + 6000 */
    RQ_CHECK_EQ_U64(cc.cwnd, 18000);
    rq_cc_on_app_limited(&cc); /* 6000 in flight, 12000 available */
    RQ_CHECK(!cc.cwnd_limited);
    ack_n(&cc, 5, 60 * RQ_MS, 110 * RQ_MS);
    RQ_CHECK_EQ_U64(cc.cwnd, 18000);
}

/* RFC 9002 §7.2: the initial window follows the datagram size while still initial; the
 * minimum window always does. */
static void test_rfc9002_7_2_max_datagram_size_change(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, 1200);
    rq_cc_set_max_datagram_size(&cc, 1500);
    RQ_CHECK_EQ_U64(cc.cwnd, 14720);
    RQ_CHECK_EQ_U64(cc.max_datagram_size, 1500);
    rq_cc_set_max_datagram_size(&cc, 1200);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    /* After a reduction the window is no longer the initial one: only the floor applies. */
    rq_cc_on_congestion_event(&cc, 0, 1); /* 6000 */
    rq_cc_on_congestion_event(&cc, 2, 3); /* 3000 */
    rq_cc_set_max_datagram_size(&cc, 1500);
    RQ_CHECK_EQ_U64(cc.cwnd, 3000);
    rq_cc_set_max_datagram_size(&cc, 9000);
    RQ_CHECK_EQ_U64(cc.cwnd, 18000); /* minimum window 2 × 9000 */
}

/* RFC 9002 §6.4 / RFC 9000 §9.4: discarded bytes leave flight without a congestion signal;
 * a reset returns the controller to a new path's state. */
static void test_rfc9002_6_4_discard_and_reset(void)
{
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, MDS);
    send_n(&cc, 4, 0);
    rq_cc_on_discarded(&cc, 2 * MDS);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 2400);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK(!cc.in_recovery);
    rq_cc_on_lost(&cc, MDS, 0, 5);
    rq_cc_reset(&cc, 1300);
    RQ_CHECK_EQ_U64(cc.cwnd, 13000);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 0);
    RQ_CHECK_EQ_U64(cc.ssthresh, UINT64_MAX);
    RQ_CHECK(!cc.in_recovery);
    RQ_CHECK(cc.ops == &rq_cc_newreno_ops);
}

/* REC-7.2-01 (RFC 9002 §7.2): the initial window is 10 × max_datagram_size capped at
 * max(14720, 2 × max_datagram_size), recomputed for the size a path starts with: a controller
 * that ran on a 1500-byte path, grew and saw losses, reset for a new path of 1200-byte
 * datagrams, starts again at 12000 bytes in slow start. */
static void test_initial_window_after_reset_rec_7_2_01(void)
{
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1200), 12000);
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1000), 10000); /* 10 × mds below the cap */
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1472), 14720); /* exactly the cap */
    RQ_CHECK_EQ_U64(rq_cc_initial_window(1500), 14720); /* capped at 14720 */
    RQ_CHECK_EQ_U64(rq_cc_initial_window(9000), 18000); /* capped at 2 × mds > 14720 */
    RQ_CHECK_EQ_U64(rq_cc_initial_window(65527), 131054);
    rq_cc cc;
    rq_cc_init(&cc, &rq_cc_newreno_ops, 1500);
    RQ_CHECK_EQ_U64(cc.cwnd, 14720);
    for (int i = 0; i < 9; i++)
        rq_cc_on_sent(&cc, 1500, 0);
    for (int i = 0; i < 8; i++)
        rq_cc_on_acked(&cc, 1500, 0, NULL, 50 * RQ_MS);
    RQ_CHECK(cc.cwnd > 14720);
    rq_cc_on_lost(&cc, 1500, 10 * RQ_MS, 60 * RQ_MS);
    RQ_CHECK(cc.in_recovery);
    RQ_CHECK(cc.ssthresh != UINT64_MAX);
    rq_cc_reset(&cc, 1200);
    RQ_CHECK_EQ_U64(cc.max_datagram_size, 1200);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
    RQ_CHECK_EQ_U64(cc.ssthresh, UINT64_MAX);
    RQ_CHECK_EQ_U64(cc.bytes_in_flight, 0);
    RQ_CHECK(!cc.in_recovery);
    RQ_CHECK(rq_cc_can_send(&cc, 12000));
    RQ_CHECK(!rq_cc_can_send(&cc, 12001));
    /* A fresh path's size shrinking while the window is still initial recomputes it. */
    rq_cc_init(&cc, &rq_cc_newreno_ops, 1500);
    rq_cc_set_max_datagram_size(&cc, 1200);
    RQ_CHECK_EQ_U64(cc.cwnd, 12000);
}

int main(void)
{
    RQ_RUN(test_rfc9002_7_2_initial_and_minimum_window);
    RQ_RUN(test_rfc9002_7_3_1_slow_start);
    RQ_RUN(test_rfc9002_7_3_2_recovery_one_reduction_per_round);
    RQ_RUN(test_rfc9002_7_3_3_congestion_avoidance);
    RQ_RUN(test_rfc9002_7_2_minimum_window_floor);
    RQ_RUN(test_rfc9002_7_6_2_persistent_congestion_window);
    RQ_RUN(test_rfc9002_7_8_app_limited_no_growth);
    RQ_RUN(test_rfc9002_7_2_max_datagram_size_change);
    RQ_RUN(test_rfc9002_6_4_discard_and_reset);
    RQ_RUN(test_initial_window_after_reset_rec_7_2_01);
    return rq_test_summary();
}
