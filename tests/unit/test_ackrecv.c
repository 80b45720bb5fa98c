/* Received packet numbers and ACK generation (RFC 9000 §13.2, §12.3). */
#include "core/ackrecv.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

#define MAD (25 * RQ_MS)

static void recv_range(rq_ackrecv *a, uint64_t from, uint64_t to, rq_time t)
{
    for (uint64_t pn = from; pn <= to; pn++)
        rq_ackrecv_on_packet(a, pn, false, t);
}

/* RFC 9000 §12.3: a packet number seen before is a duplicate. */
static void test_rfc9000_12_3_duplicates(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 0));
    RQ_CHECK_EQ_U64(rq_ackrecv_largest(&a), RQ_PN_NONE);
    recv_range(&a, 0, 2, 0);
    RQ_CHECK(rq_ackrecv_is_duplicate(&a, 1));
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 3));
    /* Recording a duplicate again changes nothing. */
    RQ_CHECK_ERR(rq_ackrecv_on_packet(&a, 1, true, 5), RQ_OK);
    RQ_CHECK_EQ_U64(a.nranges, 1);
    RQ_CHECK_EQ_U64(a.deadline, RQ_TIME_NEVER);
    RQ_CHECK_ERR(rq_ackrecv_on_packet(&a, RQ_PN_MAX + 1, true, 5), RQ_ERR_INVALID_ARG);
}

/* RFC 9000 §19.3.1: ranges are built descending; filling a gap merges neighbours. */
static void test_rfc9000_19_3_1_ranges_and_gaps(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    recv_range(&a, 0, 2, 0);
    recv_range(&a, 5, 6, 0);
    recv_range(&a, 9, 9, RQ_MS);
    rq_ack_range out[8];
    rq_frame_ack f;
    RQ_CHECK_ERR(rq_ackrecv_build(&a, RQ_MS, 3, out, 8, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 3);
    RQ_CHECK_EQ_U64(out[0].smallest, 9);
    RQ_CHECK_EQ_U64(out[0].largest, 9);
    RQ_CHECK_EQ_U64(out[1].smallest, 5);
    RQ_CHECK_EQ_U64(out[1].largest, 6);
    RQ_CHECK_EQ_U64(out[2].smallest, 0);
    RQ_CHECK_EQ_U64(out[2].largest, 2);
    /* The frame encodes (the codec rejects non-descending or adjacent ranges). */
    uint8_t buf[64];
    rq_wr w = rq_wr_init(buf, sizeof buf);
    rq_frame fr = {.type = RQ_FT_ACK, .ack = f};
    RQ_CHECK_ERR(rq_frame_encode(&w, &fr), RQ_OK);
    recv_range(&a, 3, 4, 2 * RQ_MS);
    RQ_CHECK_EQ_U64(a.nranges, 2);
    RQ_CHECK_EQ_U64(a.ranges[1].smallest, 0);
    RQ_CHECK_EQ_U64(a.ranges[1].largest, 6);
    /* Only out_cap ranges, the newest: RFC 9000 §13.2.3. */
    RQ_CHECK_ERR(rq_ackrecv_build(&a, RQ_MS, 3, out, 1, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 1);
    RQ_CHECK_EQ_U64(out[0].largest, 9);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, RQ_MS, 3, out, 0, &f), RQ_ERR_INVALID_ARG);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, RQ_MS, 21, out, 8, &f), RQ_ERR_INVALID_ARG);
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, RQ_MS, 3, out, 8, &f), RQ_ERR_AGAIN);
}

/* RFC 9000 §13.2.1: Initial and Handshake ack-eliciting packets are acknowledged at once;
 * non-ack-eliciting ones set no deadline. */
static void test_rfc9000_13_2_1_initial_handshake_immediate(void)
{
    rq_ackrecv a;
    for (int sp = RQ_PN_SPACE_INITIAL; sp <= RQ_PN_SPACE_HANDSHAKE; sp++) {
        rq_ackrecv_init(&a, (rq_pn_space)sp, MAD);
        rq_ackrecv_on_packet(&a, 0, false, 10 * RQ_MS);
        RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), RQ_TIME_NEVER);
        RQ_CHECK(rq_ackrecv_wants_ack(&a));
        rq_ackrecv_on_packet(&a, 1, true, 20 * RQ_MS);
        RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 20 * RQ_MS);
    }
}

/* RFC 9000 §13.2.2: 1-RTT: the first ack-eliciting packet waits up to max_ack_delay, the
 * second is acknowledged at once; sending the ACK clears the schedule. */
static void test_rfc9000_13_2_2_every_second_packet_or_max_ack_delay(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    rq_ackrecv_on_packet(&a, 0, true, 100 * RQ_MS);
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 125 * RQ_MS);
    rq_ackrecv_on_packet(&a, 1, false, 105 * RQ_MS); /* not ack-eliciting: no change */
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 125 * RQ_MS);
    rq_ackrecv_on_packet(&a, 2, true, 110 * RQ_MS);
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 110 * RQ_MS);
    rq_ackrecv_on_ack_sent(&a);
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), RQ_TIME_NEVER);
    RQ_CHECK(!rq_ackrecv_wants_ack(&a));
    /* A lone packet after that: max_ack_delay again. */
    rq_ackrecv_on_packet(&a, 3, true, 200 * RQ_MS);
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 225 * RQ_MS);
}

/* RFC 9000 §13.2.1: an ack-eliciting packet after a gap, or below a larger ack-eliciting
 * one, is acknowledged at once; non-ack-eliciting packets filling the space are no gap. */
static void test_rfc9000_13_2_1_gap_and_reordering_immediate(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    rq_ackrecv_on_packet(&a, 0, true, 0);
    rq_ackrecv_on_ack_sent(&a);
    rq_ackrecv_on_packet(&a, 2, true, 10 * RQ_MS); /* 1 is missing */
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 10 * RQ_MS);
    rq_ackrecv_on_ack_sent(&a);
    rq_ackrecv_on_packet(&a, 1, true, 12 * RQ_MS); /* below 2 */
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 12 * RQ_MS);
    rq_ackrecv_on_ack_sent(&a);
    rq_ackrecv_on_packet(&a, 3, false, 13 * RQ_MS);
    rq_ackrecv_on_packet(&a, 4, true, 14 * RQ_MS); /* 3 arrived (not ack-eliciting) */
    RQ_CHECK_EQ_U64(rq_ackrecv_deadline(&a), 39 * RQ_MS);
}

/* RFC 9000 §13.2.5, §19.3: ACK Delay = (now − receipt of largest) in µs >> exponent:
 * 10 ms = 10000 µs, exponent 3 → 1250. Decoding is the inverse and saturates. */
static void test_rfc9000_13_2_5_ack_delay_scaling(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    rq_ackrecv_on_packet(&a, 7, true, 1 * RQ_MS);
    rq_ackrecv_on_packet(&a, 3, true, 5 * RQ_MS); /* not the largest: no effect on delay */
    rq_ack_range out[4];
    rq_frame_ack f;
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 11 * RQ_MS, 3, out, 4, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ack_delay, 1250);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 11 * RQ_MS, 0, out, 4, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ack_delay, 10000);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 4, &f), RQ_OK); /* clock before receipt */
    RQ_CHECK_EQ_U64(f.ack_delay, 0);
    RQ_CHECK_EQ_U64(rq_ack_delay_decode(1250, 3), 10 * RQ_MS);
    RQ_CHECK_EQ_U64(rq_ack_delay_encode(10 * RQ_MS, 3), 1250);
    RQ_CHECK_EQ_U64(rq_ack_delay_decode(RQ_VARINT_MAX, 20), RQ_TIME_NEVER);
}

/* RFC 9000 §13.2.3 / §12.3: at most RQ_ACKRECV_MAX_RANGES ranges; the oldest give way and the
 * floor rises above them. Even numbers 0..80 make 41 ranges: 32 kept (18..80), floor 17. */
static void test_rfc9000_13_2_3_range_cap(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    for (uint64_t pn = 0; pn <= 80; pn += 2)
        rq_ackrecv_on_packet(&a, pn, false, 0);
    RQ_CHECK_EQ_U64(a.nranges, RQ_ACKRECV_MAX_RANGES);
    RQ_CHECK_EQ_U64(a.floor, 17);
    RQ_CHECK(rq_ackrecv_is_duplicate(&a, 16));
    RQ_CHECK(rq_ackrecv_is_duplicate(&a, 3)); /* never received, but below the floor */
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 17));
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 79));
    rq_ack_range out[RQ_ACKRECV_MAX_RANGES];
    rq_frame_ack f;
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, RQ_ACKRECV_MAX_RANGES, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 32);
    RQ_CHECK_EQ_U64(out[0].largest, 80);
    RQ_CHECK_EQ_U64(out[31].smallest, 18);
    /* A new range in the middle pushes out the oldest (18): floor 19. */
    rq_ackrecv_on_packet(&a, 83, false, 0);
    RQ_CHECK_EQ_U64(a.nranges, 32);
    RQ_CHECK_EQ_U64(a.floor, 19);
    RQ_CHECK_EQ_U64(a.ranges[31].smallest, 20);
}

/* RFC 9000 §13.2.4: once the packet carrying our ACK with Largest Acknowledged L is
 * acknowledged, packets at or below L are no longer reported; those received are still
 * duplicates, a gap can still be filled by a late packet (one that took another path); the
 * largest received is kept (§17.1). */
static void test_rfc9000_13_2_4_prune_acked_ranges(void)
{
    rq_ackrecv a;
    rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
    recv_range(&a, 0, 9, 0);
    recv_range(&a, 12, 15, 0);
    rq_ack_range out[8];
    rq_frame_ack f;
    rq_ackrecv_on_ack_acked(&a, 9); /* an ACK that said "largest 9" */
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 8, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 1);
    RQ_CHECK_EQ_U64(out[0].smallest, 12);
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 10)); /* above L: still acceptable */
    rq_ackrecv_on_packet(&a, 10, false, 0);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 8, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 2);
    RQ_CHECK_EQ_U64(out[1].smallest, 10);
    RQ_CHECK_EQ_U64(out[1].largest, 10);
    rq_ackrecv_on_ack_acked(&a, 13); /* clips 12..15 to 14..15 */
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 8, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 1);
    RQ_CHECK_EQ_U64(out[0].smallest, 14);
    RQ_CHECK_EQ_U64(out[0].largest, 15);
    rq_ackrecv_on_ack_acked(&a, 15);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 8, &f), RQ_ERR_AGAIN);
    /* No longer reported is not "received": 11, a gap, may still come by a slower path; it is
     * then processed and reported, while 12 stays a duplicate. */
    RQ_CHECK(rq_ackrecv_is_duplicate(&a, 12));
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 11));
    rq_ackrecv_on_packet(&a, 11, true, 0);
    RQ_CHECK_ERR(rq_ackrecv_build(&a, 0, 3, out, 8, &f), RQ_OK);
    RQ_CHECK_EQ_U64(f.ranges_count, 1);
    RQ_CHECK_EQ_U64(out[0].smallest, 11);
    RQ_CHECK_EQ_U64(out[0].largest, 15);
    RQ_CHECK_EQ_U64(rq_ackrecv_largest(&a), 15);
    rq_ackrecv_on_ack_acked(&a, 99); /* beyond anything we acknowledged: capped */
    RQ_CHECK(!rq_ackrecv_is_duplicate(&a, 16));
}

/* RFC 9000 §13.2.3, §12.3: random arrivals, duplicates and pruning never break the shape:
 * descending non-adjacent ranges above the floor, at most the cap, agreement with a model of
 * what was received (above the floor), and a frame the codec encodes and decodes back. */
static void test_rfc9000_13_2_3_randomized_invariants(void)
{
    uint64_t seed = rq_test_seed();
    unsigned long iters = rq_test_iterations(200);
    for (unsigned long it = 0; it < iters; it++) {
        rq_ackrecv a;
        rq_ackrecv_init(&a, RQ_PN_SPACE_APPLICATION, MAD);
        static uint8_t seen[1024];
        memset(seen, 0, sizeof seen);
        for (int step = 0; step < 400; step++) {
            uint64_t r = rq_test_rand(&seed);
            uint64_t pn = r % 1024;
            if (r % 37 == 0 && rq_ackrecv_largest(&a) != RQ_PN_NONE) {
                rq_ackrecv_on_ack_acked(&a, (r >> 20) % (rq_ackrecv_largest(&a) + 1));
            } else {
                bool dup = rq_ackrecv_is_duplicate(&a, pn);
                RQ_CHECK(!seen[pn] || dup);
                RQ_CHECK_ERR(rq_ackrecv_on_packet(&a, pn, r & 1, (rq_time)step), RQ_OK);
                seen[pn] = 1;
            }
            RQ_CHECK(a.nranges <= RQ_ACKRECV_MAX_RANGES);
            for (size_t i = 0; i < a.nranges; i++) {
                RQ_CHECK(a.ranges[i].smallest <= a.ranges[i].largest);
                RQ_CHECK(a.ranges[i].smallest >= a.floor);
                if (i > 0)
                    RQ_CHECK(a.ranges[i].largest + 1 < a.ranges[i - 1].smallest);
            }
            for (uint64_t p = a.floor; p < 1024; p++) {
                size_t i = 0;
                while (i < a.nranges && a.ranges[i].smallest > p)
                    i++;
                bool in = i < a.nranges && p <= a.ranges[i].largest;
                RQ_CHECK_EQ_INT(in, seen[p]);
            }
            rq_ack_range out[RQ_ACKRECV_MAX_RANGES];
            rq_frame_ack f;
            int rc = rq_ackrecv_build(&a, (rq_time)step, 3, out, RQ_ACKRECV_MAX_RANGES, &f);
            if (rc == RQ_ERR_AGAIN)
                continue;
            RQ_CHECK_ERR(rc, RQ_OK);
            uint8_t buf[1024];
            rq_wr w = rq_wr_init(buf, sizeof buf);
            rq_frame fr = {.type = RQ_FT_ACK, .ack = f}, back;
            RQ_CHECK_ERR(rq_frame_encode(&w, &fr), RQ_OK);
            rq_rd rd = rq_rd_init(buf, (size_t)(w.p - buf));
            RQ_CHECK_ERR(rq_frame_decode(&rd, &back), RQ_OK);
            RQ_CHECK(rq_frame_equal(&fr, &back));
        }
    }
}

int main(void)
{
    RQ_RUN(test_rfc9000_12_3_duplicates);
    RQ_RUN(test_rfc9000_19_3_1_ranges_and_gaps);
    RQ_RUN(test_rfc9000_13_2_1_initial_handshake_immediate);
    RQ_RUN(test_rfc9000_13_2_2_every_second_packet_or_max_ack_delay);
    RQ_RUN(test_rfc9000_13_2_1_gap_and_reordering_immediate);
    RQ_RUN(test_rfc9000_13_2_5_ack_delay_scaling);
    RQ_RUN(test_rfc9000_13_2_3_range_cap);
    RQ_RUN(test_rfc9000_13_2_4_prune_acked_ranges);
    RQ_RUN(test_rfc9000_13_2_3_randomized_invariants);
    return rq_test_summary();
}
