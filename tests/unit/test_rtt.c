/* RTT estimation (RFC 9002 §5), worked by hand in nanoseconds. */
#include "core/rtt.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

/* RFC 9002 §5.3, §6.2.2: before any sample smoothed_rtt = 333 ms, rttvar = 166.5 ms, so the
 * PTO base is 333 + 4 × 166.5 = 999 ms. */
static void test_rfc9002_5_3_initial_values(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    RQ_CHECK(!r.has_sample);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 333 * RQ_MS);
    RQ_CHECK_EQ_U64(r.rttvar, 166500000);
    RQ_CHECK_EQ_U64(rq_rtt_pto_base(&r), 999 * RQ_MS);
}

/* RFC 9002 §5.3: the first sample sets min_rtt = smoothed_rtt = sample, rttvar = sample / 2,
 * whatever the ack delay. */
static void test_rfc9002_5_3_first_sample(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 30 * RQ_MS, 25 * RQ_MS, true, 7 * RQ_SEC);
    RQ_CHECK(r.has_sample);
    RQ_CHECK_EQ_U64(r.latest_rtt, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(r.min_rtt, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(r.rttvar, 50 * RQ_MS);
    RQ_CHECK_EQ_U64(r.first_sample_time, 7 * RQ_SEC);
    /* PTO base 100 + 4 × 50 = 300 ms. */
    RQ_CHECK_EQ_U64(rq_rtt_pto_base(&r), 300 * RQ_MS);
}

/* RFC 9002 §5.3: second sample 120 ms with 10 ms ack delay (120 >= 100 + 10, so adjusted
 * 110 ms): rttvar = 3/4 × 50 + 1/4 × |100 − 110| = 40 ms; smoothed = 7/8 × 100 + 1/8 × 110 =
 * 101.25 ms. */
static void test_rfc9002_5_3_update(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 0, 25 * RQ_MS, false, 0);
    rq_rtt_update(&r, 120 * RQ_MS, 10 * RQ_MS, 25 * RQ_MS, false, RQ_SEC);
    RQ_CHECK_EQ_U64(r.rttvar, 40 * RQ_MS);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 101250000);
    RQ_CHECK_EQ_U64(r.min_rtt, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(r.latest_rtt, 120 * RQ_MS);
    RQ_CHECK_EQ_U64(r.first_sample_time, 0); /* only the first sample sets it */
}

/* RFC 9002 §5.3: after handshake confirmation the ack delay is capped by max_ack_delay.
 * Sample 200 ms, ack delay 80 ms, max_ack_delay 25 ms, from srtt 100 / rttvar 50 / min 100:
 *   confirmed:     adjusted 175: rttvar (3×50 + 75)/4 = 56.25 ms, srtt (700 + 175)/8 = 109.375
 *   not confirmed: adjusted 120: rttvar (150 + 20)/4 = 42.5 ms,  srtt (700 + 120)/8 = 102.5 */
static void test_rfc9002_5_3_ack_delay_capped_after_confirmation(void)
{
    rq_rtt a, b;
    rq_rtt_init(&a);
    rq_rtt_update(&a, 100 * RQ_MS, 0, 25 * RQ_MS, false, 0);
    b = a;
    rq_rtt_update(&a, 200 * RQ_MS, 80 * RQ_MS, 25 * RQ_MS, true, RQ_SEC);
    RQ_CHECK_EQ_U64(a.rttvar, 56250000);
    RQ_CHECK_EQ_U64(a.smoothed_rtt, 109375000);
    rq_rtt_update(&b, 200 * RQ_MS, 80 * RQ_MS, 25 * RQ_MS, false, RQ_SEC);
    RQ_CHECK_EQ_U64(b.rttvar, 42500000);
    RQ_CHECK_EQ_U64(b.smoothed_rtt, 102500000);
}

/* RFC 9002 §5.3: the ack delay is not subtracted when that would take the sample below
 * min_rtt: 105 ms with 10 ms delay and min 100 stays 105: rttvar (150 + 5)/4 = 38.75 ms,
 * srtt (700 + 105)/8 = 100.625 ms. */
static void test_rfc9002_5_3_adjusted_rtt_not_below_min(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 0, 25 * RQ_MS, false, 0);
    rq_rtt_update(&r, 105 * RQ_MS, 10 * RQ_MS, 25 * RQ_MS, true, RQ_SEC);
    RQ_CHECK_EQ_U64(r.rttvar, 38750000);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 100625000);
}

/* RFC 9002 §5.2: min_rtt takes the raw sample (90 ms), never sample − ack delay (40 ms). */
static void test_rfc9002_5_2_min_rtt_ignores_ack_delay(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 0, 25 * RQ_MS, false, 0);
    rq_rtt_update(&r, 90 * RQ_MS, 50 * RQ_MS, 100 * RQ_MS, false, RQ_SEC);
    RQ_CHECK_EQ_U64(r.min_rtt, 90 * RQ_MS);
    /* 90 < 90 + 50: not adjusted; srtt (700 + 90)/8 = 98.75 ms. */
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 98750000);
}

/* RFC 9002 §6.1.2: loss delay 9/8 × max(smoothed, latest), at least kGranularity. */
static void test_rfc9002_6_1_2_loss_delay(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 0, 0, false, 0);
    rq_rtt_update(&r, 120 * RQ_MS, 0, 0, false, 0); /* srtt 102.5, latest 120 */
    RQ_CHECK_EQ_U64(rq_rtt_loss_delay(&r), 135 * RQ_MS);
    rq_rtt_init(&r);
    rq_rtt_update(&r, RQ_MS / 2, 0, 0, false, 0); /* 0.5625 ms → 1 ms */
    RQ_CHECK_EQ_U64(rq_rtt_loss_delay(&r), RQ_K_GRANULARITY);
}

/* RFC 9002 §7.6.1: (srtt + max(4 × rttvar, 1 ms) + max_ack_delay) × 3. */
static void test_rfc9002_7_6_1_persistent_congestion_duration(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 100 * RQ_MS, 0, 0, false, 0); /* srtt 100, rttvar 50 */
    RQ_CHECK_EQ_U64(rq_rtt_persistent_congestion_duration(&r, 25 * RQ_MS), 975 * RQ_MS);
    r.rttvar = RQ_MS / 10; /* 4 × 0.1 ms < 1 ms: kGranularity instead */
    RQ_CHECK_EQ_U64(rq_rtt_persistent_congestion_duration(&r, 25 * RQ_MS), 378 * RQ_MS);
}

/* RFC 9000 §9.4: a new path starts from a fresh estimator. */
static void test_rfc9000_9_4_reset_for_new_path(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 10 * RQ_MS, 0, 0, false, 5);
    rq_rtt_init(&r);
    RQ_CHECK(!r.has_sample);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, RQ_K_INITIAL_RTT);
    RQ_CHECK_EQ_U64(r.min_rtt, 0);
    RQ_CHECK_EQ_U64(r.latest_rtt, 0);
}

/* REC-6.2.2-01 (RFC 9002 §6.2.2): a path with no RTT sample of its own (a new path, or one
 * reset after an address change) uses kInitialRtt = 333 ms, whatever an earlier estimate said:
 * PTO = 333 + 4 × 166.5 + max_ack_delay (25 ms) = 1024 ms. */
static void test_new_path_initial_rtt_rec_6_2_2_01(void)
{
    RQ_CHECK_EQ_U64(RQ_K_INITIAL_RTT, 333 * RQ_MS);
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_update(&r, 12 * RQ_MS, 0, 0, false, RQ_SEC);
    rq_rtt_update(&r, 14 * RQ_MS, 0, 0, false, 2 * RQ_SEC);
    RQ_CHECK(rq_rtt_pto_base(&r) < 100 * RQ_MS);
    rq_rtt_init(&r); /* the path is reset */
    RQ_CHECK(!r.has_sample);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 333 * RQ_MS);
    RQ_CHECK_EQ_U64(r.rttvar, 166500000);
    RQ_CHECK_EQ_U64(r.min_rtt, 0);
    RQ_CHECK_EQ_U64(r.first_sample_time, 0);
    RQ_CHECK_EQ_U64(rq_rtt_pto_base(&r), 999 * RQ_MS);
    RQ_CHECK_EQ_U64(rq_rtt_pto_base(&r) + 25 * RQ_MS, 1024 * RQ_MS);
}

/* REC-6.2.2-02 (RFC 9002 §6.2.2): the PATH_CHALLENGE → PATH_RESPONSE delay may seed a new
 * path's initial RTT (smoothed = challenge RTT, rttvar = half) but is no RTT sample: min_rtt,
 * latest_rtt and the first-sample time stay unset, and the first ACK-based sample replaces the
 * seed entirely (§5.3 first-sample rule). A seed never overrides a real sample. */
static void test_challenge_rtt_seed_not_a_sample_rec_6_2_2_02(void)
{
    rq_rtt r;
    rq_rtt_init(&r);
    rq_rtt_seed(&r, 0); /* no challenge RTT: nothing changes */
    RQ_CHECK_EQ_U64(r.smoothed_rtt, RQ_K_INITIAL_RTT);
    rq_rtt_seed(&r, 42 * RQ_MS);
    RQ_CHECK(!r.has_sample);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 42 * RQ_MS);
    RQ_CHECK_EQ_U64(r.rttvar, 21 * RQ_MS);
    RQ_CHECK_EQ_U64(r.min_rtt, 0);
    RQ_CHECK_EQ_U64(r.latest_rtt, 0);
    RQ_CHECK_EQ_U64(r.first_sample_time, 0);
    RQ_CHECK_EQ_U64(rq_rtt_pto_base(&r), 126 * RQ_MS); /* the seed is used for the PTO */
    /* The first ACK sample (80 ms, with an ack delay that is not subtracted) is a first
     * sample: no smoothing with the seed. */
    rq_rtt_update(&r, 80 * RQ_MS, 5 * RQ_MS, 25 * RQ_MS, true, 3 * RQ_SEC);
    RQ_CHECK(r.has_sample);
    RQ_CHECK_EQ_U64(r.min_rtt, 80 * RQ_MS);
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 80 * RQ_MS);
    RQ_CHECK_EQ_U64(r.rttvar, 40 * RQ_MS);
    RQ_CHECK_EQ_U64(r.first_sample_time, 3 * RQ_SEC);
    rq_rtt_seed(&r, 5 * RQ_MS); /* too late: ignored */
    RQ_CHECK_EQ_U64(r.smoothed_rtt, 80 * RQ_MS);
    RQ_CHECK_EQ_U64(r.min_rtt, 80 * RQ_MS);
}

int main(void)
{
    RQ_RUN(test_rfc9002_5_3_initial_values);
    RQ_RUN(test_rfc9002_5_3_first_sample);
    RQ_RUN(test_rfc9002_5_3_update);
    RQ_RUN(test_rfc9002_5_3_ack_delay_capped_after_confirmation);
    RQ_RUN(test_rfc9002_5_3_adjusted_rtt_not_below_min);
    RQ_RUN(test_rfc9002_5_2_min_rtt_ignores_ack_delay);
    RQ_RUN(test_rfc9002_6_1_2_loss_delay);
    RQ_RUN(test_rfc9002_7_6_1_persistent_congestion_duration);
    RQ_RUN(test_rfc9000_9_4_reset_for_new_path);
    RQ_RUN(test_new_path_initial_rtt_rec_6_2_2_01);
    RQ_RUN(test_challenge_rtt_seed_not_a_sample_rec_6_2_2_02);
    return rq_test_summary();
}
