/* Flow control (RFC 9000 §4.1, §4.2, §13.3): credit and limits, BLOCKED signalled once per
 * limit value, FLOW_CONTROL_ERROR, when updates are due, and window auto-tuning. */
#include "core/flowctl.h"
#include "core/wire.h"
#include "rqtest.h"

#include <roamquic/error.h>

/* RFC 9000 §4.1: the sender may send up to the peer's limit; a MAX_* frame that does not raise
 * the limit is ignored. */
static void test_rfc9000_4_1_send_credit(void)
{
    rq_flow_tx fc;
    rq_flow_tx_init(&fc, 1000);
    RQ_CHECK_EQ_U64(rq_flow_tx_credit(&fc), 1000);
    rq_flow_tx_consume(&fc, 600);
    RQ_CHECK_EQ_U64(rq_flow_tx_credit(&fc), 400);
    RQ_CHECK(!rq_flow_tx_on_max(&fc, 900));
    RQ_CHECK(!rq_flow_tx_on_max(&fc, 1000));
    RQ_CHECK_EQ_U64(fc.limit, 1000);
    RQ_CHECK(rq_flow_tx_on_max(&fc, 1500));
    RQ_CHECK_EQ_U64(rq_flow_tx_credit(&fc), 900);
}

/* RFC 9000 §4.1, §19.12, §19.13: a blocked sender says so once per limit value; a new limit
 * re-arms it; a lost BLOCKED is resent only while still blocked at that limit. */
static void test_rfc9000_4_1_blocked_once_per_limit(void)
{
    rq_flow_tx fc;
    uint64_t lim;
    rq_flow_tx_init(&fc, 100);
    rq_flow_tx_note_blocked(&fc); /* not blocked: credit left */
    RQ_CHECK(!rq_flow_tx_blocked_due(&fc, &lim));
    rq_flow_tx_consume(&fc, 100);
    rq_flow_tx_note_blocked(&fc);
    RQ_CHECK(rq_flow_tx_blocked_due(&fc, &lim));
    RQ_CHECK_EQ_U64(lim, 100);
    rq_flow_tx_on_blocked_sent(&fc, 100);
    RQ_CHECK(!rq_flow_tx_blocked_due(&fc, &lim));
    rq_flow_tx_note_blocked(&fc); /* same limit: not again */
    RQ_CHECK(!rq_flow_tx_blocked_due(&fc, &lim));
    rq_flow_tx_on_blocked_lost(&fc, 100);
    RQ_CHECK(rq_flow_tx_blocked_due(&fc, &lim));
    rq_flow_tx_on_blocked_sent(&fc, 100);
    RQ_CHECK(rq_flow_tx_on_max(&fc, 200));
    rq_flow_tx_on_blocked_lost(&fc, 100); /* stale: the limit moved */
    RQ_CHECK(!rq_flow_tx_blocked_due(&fc, &lim));
    rq_flow_tx_consume(&fc, 100);
    rq_flow_tx_note_blocked(&fc);
    RQ_CHECK(rq_flow_tx_blocked_due(&fc, &lim));
    RQ_CHECK_EQ_U64(lim, 200);
}

/* RFC 9000 §4.1: data beyond the advertised limit is a FLOW_CONTROL_ERROR; up to it is fine,
 * and retransmissions below the highest offset change nothing. */
static void test_rfc9000_4_1_flow_control_error(void)
{
    rq_flow_rx fc;
    rq_flow_rx_init(&fc, 1000, 8000);
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, 1000), 0);
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, 500), 0);
    RQ_CHECK_EQ_U64(fc.received, 1000);
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, 1001), RQ_ERR_FLOW_CONTROL);
    RQ_CHECK_EQ_U64(fc.received, 1000);
}

/* RFC 9000 §4.2: an update is due once half the window is consumed; it sets the limit to
 * consumed + window; a lost update is resent only while it is the latest. */
static void test_rfc9000_4_2_update_at_half_window(void)
{
    rq_flow_rx fc;
    rq_flow_rx_init(&fc, 1000, 1000); /* no room to grow */
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, 1000), 0);
    rq_flow_rx_consume(&fc, 499);
    RQ_CHECK(!rq_flow_rx_update_due(&fc));
    rq_flow_rx_consume(&fc, 1);
    RQ_CHECK(rq_flow_rx_update_due(&fc));
    uint64_t v = rq_flow_rx_next_limit(&fc, 10 * RQ_MS, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(v, 1500);
    rq_flow_rx_on_update_sent(&fc, v, 10 * RQ_MS);
    RQ_CHECK_EQ_U64(fc.limit, 1500);
    RQ_CHECK(!rq_flow_rx_update_due(&fc));
    rq_flow_rx_on_update_lost(&fc, 1500);
    RQ_CHECK(rq_flow_rx_update_due(&fc));
    RQ_CHECK_EQ_U64(rq_flow_rx_next_limit(&fc, 11 * RQ_MS, 100 * RQ_MS), 1500);
    rq_flow_rx_on_update_sent(&fc, 1500, 11 * RQ_MS);
    RQ_CHECK(!rq_flow_rx_update_due(&fc));
    rq_flow_rx_on_update_lost(&fc, 1200); /* older value: ignore */
    RQ_CHECK(!rq_flow_rx_update_due(&fc));
}

/* RFC 9000 §4.2 (tuning left to the receiver): updates less than 2 RTTs apart double the
 * window, up to the maximum; slower consumption leaves the window alone. */
static void test_rfc9000_4_2_window_autotuning(void)
{
    rq_flow_rx fc;
    rq_time rtt = 50 * RQ_MS, now = 0;
    rq_flow_rx_init(&fc, 1000, 5000);
    uint64_t expect_window[] = {1000, 2000, 4000, 5000, 5000};
    for (int i = 0; i < 5; i++) {
        RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, fc.limit), 0);
        rq_flow_rx_consume(&fc, fc.received - fc.consumed);
        RQ_CHECK(rq_flow_rx_update_due(&fc));
        now += rtt; /* one update per RTT: the reader keeps up with the window */
        uint64_t v = rq_flow_rx_next_limit(&fc, now, rtt);
        rq_flow_rx_on_update_sent(&fc, v, now);
        RQ_CHECK_EQ_U64(fc.window, expect_window[i]);
        RQ_CHECK_EQ_U64(fc.limit, fc.consumed + expect_window[i]);
    }
    /* A slow reader: updates 3 RTTs apart keep the window as is. */
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, fc.limit), 0);
    rq_flow_rx_consume(&fc, fc.received - fc.consumed);
    rq_flow_rx_init(&fc, 1000, 5000);
    now = 0;
    for (int i = 0; i < 3; i++) {
        RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, fc.limit), 0);
        rq_flow_rx_consume(&fc, fc.received - fc.consumed);
        now += 3 * rtt;
        rq_flow_rx_on_update_sent(&fc, rq_flow_rx_next_limit(&fc, now, rtt), now);
        RQ_CHECK_EQ_U64(fc.window, 1000);
    }
}

/* RFC 9000 §4.1 / §19.9: limits never exceed 2^62 - 1 and never shrink. */
static void test_rfc9000_19_9_limit_saturates(void)
{
    rq_flow_rx fc;
    rq_flow_rx_init(&fc, RQ_VARINT_MAX - 10, RQ_VARINT_MAX);
    RQ_CHECK_ERR(rq_flow_rx_on_data(&fc, RQ_VARINT_MAX - 10), 0);
    rq_flow_rx_consume(&fc, RQ_VARINT_MAX - 10);
    RQ_CHECK(rq_flow_rx_update_due(&fc));
    uint64_t v = rq_flow_rx_next_limit(&fc, 0, RQ_MS);
    RQ_CHECK_EQ_U64(v, RQ_VARINT_MAX);
    rq_flow_rx_on_update_sent(&fc, v, 0);
    RQ_CHECK(!rq_flow_rx_update_due(&fc));
}

int main(void)
{
    RQ_RUN(test_rfc9000_4_1_send_credit);
    RQ_RUN(test_rfc9000_4_1_blocked_once_per_limit);
    RQ_RUN(test_rfc9000_4_1_flow_control_error);
    RQ_RUN(test_rfc9000_4_2_update_at_half_window);
    RQ_RUN(test_rfc9000_4_2_window_autotuning);
    RQ_RUN(test_rfc9000_19_9_limit_saturates);
    return rq_test_summary();
}
