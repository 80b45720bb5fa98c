/* Connection ID bookkeeping (RFC 9000 §5.1, §19.15, §19.16), with the migration checklist's
 * rows as they apply to one connection's tables. */
#include "core/cids.h"
#include "core/reset.h"
#include "rqtest.h"

#include <roamquic/roamquic.h>

static rq_cid mk(uint8_t tag)
{
    rq_cid c = {8, {tag, tag, tag, tag, tag, tag, tag, (uint8_t)(tag ^ 0x5a)}};
    return c;
}

static void tok(uint8_t tag, uint8_t out[16])
{
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(tag * 7 + i);
}

static void setup(rq_cids *c, uint64_t limit)
{
    uint8_t t[16];
    rq_cids_init(c, limit);
    tok(100, t);
    rq_cid l0 = mk(100), p0 = mk(200);
    rq_cids_set_local0(c, &l0, t);
    tok(200, t);
    rq_cids_set_peer0(c, &p0, t);
}

static int add_peer(rq_cids *c, uint64_t seq, uint64_t rpt, uint8_t tag, uint32_t *changed)
{
    uint8_t t[16];
    tok(tag, t);
    rq_cid cid = mk(tag);
    return rq_cids_on_new(c, seq, rpt, &cid, t, changed);
}

/* MIG-5.1.1-01, MIG-5.1.1-02: the handshake CID is sequence 0; issued CIDs number 1, 2, 3...
 * in order, and each is announced in a NEW_CONNECTION_ID. MIG-5.1.1-05: never more active
 * than the peer's limit. */
static void test_issue_sequence_and_limit_mig_5_1_1_02(void)
{
    rq_cids c;
    setup(&c, 4);
    RQ_CHECK_EQ_INT(rq_cids_room(&c, 3), 2);
    uint8_t t[16];
    for (uint8_t i = 1; i <= 2; i++) {
        rq_cid cid = mk(i);
        tok(i, t);
        RQ_CHECK_ERR(rq_cids_issue(&c, &cid, t), RQ_OK);
    }
    RQ_CHECK_EQ_INT(rq_cids_room(&c, 3), 0);
    rq_frame f;
    for (uint64_t want = 1; want <= 2; want++) {
        RQ_CHECK(rq_cids_next_new(&c, &f));
        RQ_CHECK_EQ_U64(f.new_cid.seq, want);
        RQ_CHECK_EQ_U64(f.new_cid.retire_prior_to, 0);
        rq_cids_on_new_sent(&c, f.new_cid.seq);
    }
    RQ_CHECK(!rq_cids_next_new(&c, &f));
    /* RFC 9000 §13.3: a lost NEW_CONNECTION_ID goes again; an acknowledged one does not. */
    rq_cids_on_new_acked(&c, 1);
    rq_cids_on_new_lost(&c, 1);
    rq_cids_on_new_lost(&c, 2);
    RQ_CHECK(rq_cids_next_new(&c, &f));
    RQ_CHECK_EQ_U64(f.new_cid.seq, 2);
}

/* MIG-19.16-01: retiring a sequence number never issued is a PROTOCOL_VIOLATION;
 * MIG-19.16-02: so is retiring the CID the packet was sent to; MIG-19.16-04: retiring the
 * handshake CID (seq 0) is allowed and frees room for a replacement (MIG-5.1.1-07). */
static void test_retire_rules_mig_19_16_01(void)
{
    rq_cids c;
    setup(&c, 4);
    uint8_t t[16];
    rq_cid one = mk(1), zero = mk(100), got;
    tok(1, t);
    RQ_CHECK_ERR(rq_cids_issue(&c, &one, t), RQ_OK);
    bool found;
    RQ_CHECK_ERR(rq_cids_on_retire(&c, 2, &one, &got, &found), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_cids_on_retire(&c, 1, &one, &got, &found), RQ_ERR_PROTOCOL_VIOLATION);
    RQ_CHECK_ERR(rq_cids_on_retire(&c, 0, &one, &got, &found), RQ_OK);
    RQ_CHECK(found);
    RQ_CHECK(rq_cid_eq(&got, &zero));
    RQ_CHECK_EQ_INT(rq_cids_room(&c, 2), 1);
    /* A repeat of the retirement is harmless. */
    RQ_CHECK_ERR(rq_cids_on_retire(&c, 0, &one, &got, &found), RQ_OK);
    RQ_CHECK(!found);
}

/* MIG-19.15-04: the same NEW_CONNECTION_ID twice is not an error and changes nothing;
 * MIG-19.15-05: the same sequence number with another CID, or one CID under two sequence
 * numbers, is a PROTOCOL_VIOLATION (never adopted silently). */
static void test_new_cid_repeats_and_conflicts_mig_19_15_04(void)
{
    rq_cids c;
    setup(&c, 4);
    uint32_t changed;
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_EQ_INT(c.npeer, 2);
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 2, &changed), RQ_ERR_PROTOCOL_VIOLATION);
    uint8_t t[16];
    tok(9, t);
    rq_cid dup = mk(1);
    RQ_CHECK_ERR(rq_cids_on_new(&c, 2, 0, &dup, t, &changed), RQ_ERR_PROTOCOL_VIOLATION);
}

/* MIG-5.1.1-06: more active CIDs than our limit after processing the frame is a
 * CONNECTION_ID_LIMIT_ERROR; retirements by the same frame's Retire Prior To count first. */
static void test_limit_after_processing_mig_5_1_1_06(void)
{
    rq_cids c;
    setup(&c, 3);
    uint32_t changed;
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 2, 0, 2, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 3, 0, 3, &changed), RQ_ERR_CONNECTION_ID_LIMIT);
    rq_cids d;
    setup(&d, 3);
    RQ_CHECK_ERR(add_peer(&d, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&d, 2, 0, 2, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&d, 3, 1, 3, &changed), RQ_OK); /* retires seq 0 first */
    RQ_CHECK_EQ_INT(d.npeer, 3);
}

/* MIG-5.1.2-03, MIG-19.15-09: a higher Retire Prior To retires the covered CIDs (the
 * handshake CID included) with RETIRE_CONNECTION_ID, and the DCID in use moves off them;
 * MIG-19.15-07: a lower one later changes nothing; MIG-19.15-08: a CID that arrives already
 * covered is retired at once, once, and never used. */
static void test_retire_prior_to_mig_5_1_2_03(void)
{
    rq_cids c;
    setup(&c, 4);
    uint32_t changed;
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 3, 2, 3, &changed), RQ_OK);
    RQ_CHECK_EQ_INT(changed, 1u << 0); /* path 0 lost the handshake CID */
    rq_cid three = mk(3), now_used;
    RQ_CHECK_ERR(rq_cids_take_unused(&c, 0, &now_used), RQ_OK);
    RQ_CHECK(rq_cid_eq(&now_used, &three));
    RQ_CHECK(rq_cids_path_dcid(&c, 0, &now_used) && rq_cid_eq(&now_used, &three));
    rq_frame f;
    uint64_t retired[4];
    int n = 0;
    while (rq_cids_next_retire(&c, &f) && n < 4) {
        retired[n++] = f.retire_cid.seq;
        rq_cids_on_retire_sent(&c, f.retire_cid.seq);
    }
    RQ_CHECK_EQ_INT(n, 2);
    RQ_CHECK(retired[0] + retired[1] == 1 && retired[0] != retired[1]);
    RQ_CHECK_ERR(add_peer(&c, 4, 1, 4, &changed), RQ_OK); /* lower RPT: nothing re-retired */
    RQ_CHECK_EQ_INT(changed, 0);
    RQ_CHECK(!rq_cids_next_retire(&c, &f));
    RQ_CHECK_ERR(add_peer(&c, 2, 0, 2, &changed), RQ_OK); /* seq 2 < RPT 2? no: 2 >= 2 */
    RQ_CHECK_EQ_INT(c.npeer, 3);
    rq_cids d;
    setup(&d, 4);
    RQ_CHECK_ERR(add_peer(&d, 5, 5, 5, &changed), RQ_OK);
    RQ_CHECK_ERR(add_peer(&d, 3, 0, 3, &changed), RQ_OK); /* reordered, already covered */
    int count3 = 0;
    for (size_t i = 0; i < d.nretiring; i++)
        count3 += d.retiring[i].seq == 3;
    RQ_CHECK_EQ_INT(count3, 1);
    for (size_t i = 0; i < d.npeer; i++)
        RQ_CHECK(d.peer[i].seq != 3);
    RQ_CHECK_ERR(add_peer(&d, 3, 0, 3, &changed), RQ_OK); /* and only once */
    RQ_CHECK_EQ_INT(d.nretiring, 2);
}

/* MIG-5.1.2-04: at least twice our limit of retirements can await acknowledgement;
 * MIG-5.1.2-05: beyond what we track, CONNECTION_ID_LIMIT_ERROR instead of forgetting one. */
static void test_retiring_bound_mig_5_1_2_04(void)
{
    rq_cids c;
    setup(&c, 2);
    uint32_t changed;
    int rc = 0;
    uint64_t seq = 1;
    /* Each frame retires everything before it: one retirement queued per frame, none acked. */
    for (; seq < 100 && rc == 0; seq++)
        rc = add_peer(&c, seq, seq, (uint8_t)seq, &changed);
    RQ_CHECK_ERR(rc, RQ_ERR_CONNECTION_ID_LIMIT);
    RQ_CHECK(seq - 2 >= 2 * 2);
    RQ_CHECK_EQ_INT(c.nretiring, RQ_CIDS_MAX_RETIRING);
    /* Acknowledged retirements free their slots. */
    rq_cids_on_retire_acked(&c, 0);
    RQ_CHECK_EQ_INT(c.nretiring, RQ_CIDS_MAX_RETIRING - 1);
}

/* MIG-10.3-02, MIG-10.3.1-02: a reset is recognised by the tokens of the peer's active CIDs
 * only; a retired CID's token no longer matches. */
static void test_reset_tokens_follow_cids_mig_10_3_1_02(void)
{
    rq_cids c;
    setup(&c, 4);
    uint32_t changed;
    uint8_t dg[40] = {0x40};
    uint8_t t1[16];
    tok(1, t1);
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &changed), RQ_OK);
    memcpy(dg + 24, t1, 16);
    RQ_CHECK(rq_cids_reset_matches(&c, dg, sizeof dg));
    RQ_CHECK_ERR(add_peer(&c, 2, 2, 2, &changed), RQ_OK); /* retires 0 and 1 */
    RQ_CHECK(!rq_cids_reset_matches(&c, dg, sizeof dg));
}

/* MIG-9.5-01/02, MIG-9.5-06: each path gets its own peer CID; with no spare one a new path
 * must wait; retiring a path's CID (MIG-5.1.2-01) queues RETIRE_CONNECTION_ID. */
static void test_cid_per_path_mig_9_5_06(void)
{
    rq_cids c;
    setup(&c, 4);
    rq_cid got;
    uint32_t orphaned;
    RQ_CHECK_EQ_INT(rq_cids_spare(&c), 0);
    RQ_CHECK_ERR(rq_cids_take_unused(&c, 1, &got), RQ_ERR_AGAIN);
    RQ_CHECK_ERR(add_peer(&c, 1, 0, 1, &orphaned), RQ_OK);
    RQ_CHECK_ERR(add_peer(&c, 2, 0, 2, &orphaned), RQ_OK);
    RQ_CHECK_EQ_INT(rq_cids_spare(&c), 2);
    rq_cid one = mk(1), zero = mk(200);
    RQ_CHECK_ERR(rq_cids_take_unused(&c, 1, &got), RQ_OK);
    RQ_CHECK(rq_cid_eq(&got, &one));
    RQ_CHECK(rq_cids_path_dcid(&c, 0, &got) && rq_cid_eq(&got, &zero));
    RQ_CHECK_ERR(rq_cids_retire_path(&c, 0), RQ_OK);
    RQ_CHECK(!rq_cids_path_dcid(&c, 0, &got));
    rq_frame f;
    RQ_CHECK(rq_cids_next_retire(&c, &f));
    RQ_CHECK_EQ_U64(f.retire_cid.seq, 0);
}

int main(void)
{
    RQ_RUN(test_cid_per_path_mig_9_5_06);
    RQ_RUN(test_issue_sequence_and_limit_mig_5_1_1_02);
    RQ_RUN(test_retire_rules_mig_19_16_01);
    RQ_RUN(test_new_cid_repeats_and_conflicts_mig_19_15_04);
    RQ_RUN(test_limit_after_processing_mig_5_1_1_06);
    RQ_RUN(test_retire_prior_to_mig_5_1_2_03);
    RQ_RUN(test_retiring_bound_mig_5_1_2_04);
    RQ_RUN(test_reset_tokens_follow_cids_mig_10_3_1_02);
    return rq_test_summary();
}
