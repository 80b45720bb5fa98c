/* Pacing (RFC 9002 §7.7): the interval between paced packets, and at most a millisecond's
 * (64 packets') catch-up after a late timer, no credit banked by a longer pause. */
#include "core/pacer.h"
#include "rqtest.h"

#define US ((rq_time)1000) /* a microsecond */

/* RFC 9002 §7.7: interval = smoothed_rtt * packet_size / (N * congestion_window), N = 1.25:
 * a 12,000-byte initial window over a 30 ms round trip goes out 2.4 ms per 1,200-byte packet,
 * ten packets over 0.8 of the round trip instead of all at once. */
static void test_interval_rfc9002_7_7(void)
{
    rq_pacer p = {0};
    rq_time now = 1000 * RQ_MS, srtt = 30 * RQ_MS;
    RQ_CHECK(rq_pacer_ready(&p, now));
    rq_pacer_on_sent(&p, now, 12000, srtt, 1200);
    RQ_CHECK_EQ_U64(p.next, now + 2400 * US);
    RQ_CHECK(!rq_pacer_ready(&p, now + 2399 * US));
    RQ_CHECK(rq_pacer_ready(&p, now + 2400 * US));
    for (int i = 1; i < 10; i++)
        rq_pacer_on_sent(&p, p.next, 12000, srtt, 1200);
    RQ_CHECK_EQ_U64(p.next, now + 24 * RQ_MS); /* ten packets: 0.8 x srtt */
    /* A bigger window, a faster rate: 240 us apart once the first millisecond's catch-up
     * allowance is used (see below). */
    rq_pacer q = {0};
    rq_time t = now;
    for (int i = 0; i < 20; i++) {
        while (!rq_pacer_ready(&q, t))
            t = q.next;
        rq_pacer_on_sent(&q, t, 120000, srtt, 1200);
    }
    RQ_CHECK_EQ_U64(q.next - t, 240 * US);
}

/* How many packets leave back to back at `now` after a long pause. */
static int burst_after_pause(uint64_t cwnd, rq_time srtt)
{
    rq_pacer p = {0};
    rq_time now = 10 * RQ_SEC;
    int n = 0;
    while (rq_pacer_ready(&p, now) && n < 1000) {
        rq_pacer_on_sent(&p, now, cwnd, srtt, 1200);
        n++;
    }
    return n;
}

/* A sender whose timer fires late (epoll rounds to the millisecond) may catch up on at most
 * one millisecond's worth, and never more than 64 packets at once; when a packet's interval
 * exceeds that millisecond, there is no burst at all. */
static void test_catch_up_bounded_rfc9002_7_7(void)
{
    RQ_CHECK_EQ_INT(burst_after_pause(12000, 30 * RQ_MS), 1);     /* 2.4 ms apart */
    RQ_CHECK_EQ_INT(burst_after_pause(1200000, 100 * RQ_MS), 12); /* 80 us apart: 1 ms */
    RQ_CHECK_EQ_INT(burst_after_pause(100000000, RQ_MS), 64);     /* 9.6 ns apart: the cap */
}

/* After a pause the next packet leaves at once, but the pause is not banked into a burst
 * (a 2.4 ms interval is longer than the catch-up allowance). */
static void test_no_banked_burst_rfc9002_7_7(void)
{
    rq_pacer p = {0};
    rq_time srtt = 30 * RQ_MS;
    rq_pacer_on_sent(&p, 0, 12000, srtt, 1200);
    rq_time later = 5 * RQ_SEC;
    RQ_CHECK(rq_pacer_ready(&p, later));
    rq_pacer_on_sent(&p, later, 12000, srtt, 1200);
    RQ_CHECK(!rq_pacer_ready(&p, later)); /* the second packet after the pause waits */
    RQ_CHECK_EQ_U64(p.next, later + 2400 * US);
}

int main(void)
{
    RQ_RUN(test_interval_rfc9002_7_7);
    RQ_RUN(test_no_banked_burst_rfc9002_7_7);
    RQ_RUN(test_catch_up_bounded_rfc9002_7_7);
    return rq_test_summary();
}
