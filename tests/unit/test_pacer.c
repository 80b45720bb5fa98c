/* Pacing (RFC 9002 §7.7): the interval between paced packets, and no credit banked by a
 * pause. */
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
    /* A bigger window, a faster rate. */
    rq_pacer q = {0};
    rq_pacer_on_sent(&q, now, 120000, srtt, 1200);
    RQ_CHECK_EQ_U64(q.next, now + 240 * US);
}

/* After a pause the next packet leaves at once, but the pause is not banked into a burst. */
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
    return rq_test_summary();
}
